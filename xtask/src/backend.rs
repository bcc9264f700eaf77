//! The burn backend of xtask's commands, chosen once: `--backend cpu` is burn-flex (default),
//! `--backend cuda` is burn-cuda when xtask is built with `--features cuda` (a clear error
//! otherwise).

/// The burn backend.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BackendKind {
    /// burn-flex on the CPU.
    #[default]
    Cpu,
    /// burn-cuda (needs `--features cuda`).
    Cuda,
}

/// burn-cuda.
#[cfg(feature = "cuda")]
pub type Gpu = ritz::neural::burn::backend::Cuda;

/// The error for `--backend cuda` in a build without the `cuda` feature.
pub fn no_cuda() -> String {
    "--backend cuda needs xtask built with the cuda feature: cargo xtask … is `cargo run --release \
     -p xtask`; run `cargo run --release -p xtask --features cuda -- …`"
        .into()
}

impl From<BackendKind> for ritz::Backend {
    fn from(b: BackendKind) -> Self {
        match b {
            BackendKind::Cpu => ritz::Backend::Cpu,
            BackendKind::Cuda => ritz::Backend::Cuda,
        }
    }
}
