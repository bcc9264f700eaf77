//! The learned solvers' glue (feature `learned`): which weights, which adapter and which
//! iteration go with which model.
//!
//! - weights: the shipped ones embedded in the library
//!   ([`ritz_neural_precond::shipped`]), or `<model>-<dim>d.{json,bin}` from a folder
//!   ([`BuildOptions::weights`]);
//! - `stencil` on the CPU: the plain-Rust f32 V-cycle with the geometry's stencils computed
//!   once ([`StencilPreconditioner`]), for flexible conjugate directions;
//! - `stencil-spd`: the symmetric variant, for PCG;
//! - `learned`: MGPCG with a learned relaxation schedule ([`load_schedule`]);
//! - `dcdm` on the CPU: the burn network behind [`BurnPreconditioner`], for flexible
//!   conjugate directions;
//! - every network on CUDA ([`Backend::Cuda`]): the whole solve resident on the GPU
//!   ([`ritz_neural_precond::device`]: the operator, the iteration and the network as tensor
//!   operations, only scalars and a few `f64` residual replacements crossing to the host);
//!   `stencil-spd` with PCG, the others with flexible conjugate directions.

use crate::catalogue::{Method, SolverSpec};
use crate::error::{RitzError, failed};
use crate::solver::{Backend, BuildOptions};
use ritz_krylov::{Monitor, SolveInfo, SolveParams};
use ritz_linalg::{Preconditioner, SpdPreconditioner};
use ritz_neural_precond::burn::backend::Flex;
use ritz_neural_precond::burn::tensor::backend::Backend as BurnBackend;
use ritz_neural_precond::device::{DeviceMethod, DeviceParams, DeviceSystem, device_solve};
use ritz_neural_precond::model::WeightsManifest;
use ritz_neural_precond::{
    AnyModel, BurnPreconditioner, Geometry, NeuralError, SpdStencilPreconditioner,
    StencilPreconditioner, load_weights,
};
use ritz_pde::PoissonProblem;
use std::path::Path;

/// Loads network `name` ("dcdm", "stencil", "stencil-spd", or any model trained with
/// `cargo xtask train`) of dimension `dim`: from `folder` if given (`<name>-<dim>d.json` and
/// `.bin`), else the shipped weights embedded in the library.
///
/// Errors: no such weights; a malformed manifest, a checksum or layout mismatch
/// ([`NeuralError`]).
///
/// ```
/// use ritz::neural::{AnyModel, burn::backend::Flex};
/// let (manifest, model) = ritz::load_model::<Flex>("stencil-spd", 3, None, &Default::default())?;
/// assert!(matches!(model, AnyModel::Stencil(_)));
/// println!("trained: {:?}", manifest.provenance());
/// # Ok::<(), ritz::neural::NeuralError>(())
/// ```
pub fn load_model<B: BurnBackend>(
    name: &str,
    dim: usize,
    folder: Option<&Path>,
    device: &B::Device,
) -> Result<(WeightsManifest, AnyModel<B>), NeuralError> {
    match folder {
        Some(dir) => load_weights::<B>(&dir.join(format!("{name}-{dim}d")), device),
        None => ritz_neural_precond::shipped::load_shipped::<B>(name, dim, device),
    }
}

/// The relaxation schedule of the `learned` solver for dimension `dim`: `learned-<dim>d.json`
/// from `folder` when it holds one (`cargo xtask train --model learned --out folder`), else
/// the shipped one embedded in the library.
///
/// Errors: a malformed or out-of-range schedule file ([`NeuralError::Load`]); no shipped
/// schedule for `dim`.
///
/// ```
/// let file = ritz::learned::load_schedule(3, None)?;
/// assert_eq!(file.dim, 3);
/// println!("learned on {}", file.trained_on);
/// # Ok::<(), ritz::neural::NeuralError>(())
/// ```
pub fn load_schedule(
    dim: usize,
    folder: Option<&Path>,
) -> Result<ritz_neural_precond::schedule::ScheduleFile, NeuralError> {
    let file = folder.map(|d| d.join(format!("learned-{dim}d.json")));
    match file {
        Some(path) if path.exists() => {
            let f = ritz_neural_precond::schedule::ScheduleFile::load(&path)?;
            if f.dim != dim {
                return Err(NeuralError::Dimension {
                    model: f.dim,
                    grid: dim,
                });
            }
            Ok(f)
        }
        _ => ritz_neural_precond::shipped::load_shipped_schedule(dim),
    }
}

/// A learned preconditioner ready for its iteration.
pub(crate) enum Learned {
    /// For flexible conjugate directions.
    Flexible(Box<dyn Preconditioner + Send>),
    /// SPD: for PCG.
    Spd(Box<dyn SpdPreconditioner + Send>),
    /// The whole solve on a device (built for `Backend::Cuda`).
    #[cfg_attr(not(feature = "cuda"), allow(dead_code))]
    Device(Box<dyn DeviceEngine>),
}

/// A solve resident on a burn device (see [`ritz_neural_precond::device`]).
pub(crate) trait DeviceEngine: Send + Sync {
    /// Solves on `problem` (the one the engine was built on) with the solver's stop test.
    fn solve(
        &self,
        problem: &PoissonProblem,
        b: &[f64],
        x: &mut [f64],
        params: &SolveParams,
        monitor: &mut dyn Monitor,
    ) -> Result<SolveInfo, NeuralError>;
}

/// A network and the operator on device `B`, with the iteration that suits the network.
#[cfg_attr(not(feature = "cuda"), allow(dead_code))]
pub(crate) struct DeviceNet<B: BurnBackend> {
    sys: DeviceSystem<B>,
    net: BurnPreconditioner<B>,
    method: DeviceMethod,
}

impl<B: BurnBackend> DeviceEngine for DeviceNet<B> {
    fn solve(
        &self,
        problem: &PoissonProblem,
        b: &[f64],
        x: &mut [f64],
        params: &SolveParams,
        monitor: &mut dyn Monitor,
    ) -> Result<SolveInfo, NeuralError> {
        // A network forward is long next to a synchronization: test every iteration.
        let dp = DeviceParams {
            solve: *params,
            method: self.method,
            check_every: 1,
            ..Default::default()
        };
        device_solve(problem, &self.sys, &self.net, b, x, &dp, monitor)
    }
}

/// Uploads `spec`'s network and the problem's operator to `device`: PCG for the SPD stencil
/// net, flexible conjugate directions keeping `spec.k()` directions otherwise.
#[cfg_attr(not(feature = "cuda"), allow(dead_code))]
pub(crate) fn device_net<B: BurnBackend>(
    spec: &SolverSpec,
    problem: &PoissonProblem,
    options: &BuildOptions,
    device: &B::Device,
) -> Result<DeviceNet<B>, NeuralError> {
    let dim = problem.grid().dim();
    let (_, model) = load_model::<B>(spec.method.name(), dim, options.weights.as_deref(), device)?;
    let net = BurnPreconditioner::new(model, &Geometry::of(problem), device)?;
    let method = if net.is_spd() {
        DeviceMethod::Pcg
    } else {
        DeviceMethod::Fcd { k: spec.k() }
    };
    Ok(DeviceNet {
        sys: DeviceSystem::new(problem, device),
        net,
        method,
    })
}

#[cfg(feature = "cuda")]
type Gpu = ritz_neural_precond::burn::backend::Cuda;

fn burn_preconditioner<B: BurnBackend>(
    name: &str,
    problem: &PoissonProblem,
    options: &BuildOptions,
    geo: &Geometry,
) -> Result<Box<dyn Preconditioner + Send>, NeuralError> {
    let device = B::Device::default();
    let dim = problem.grid().dim();
    let (_, model) = load_model::<B>(name, dim, options.weights.as_deref(), &device)?;
    Ok(Box::new(BurnPreconditioner::new(model, geo, &device)?))
}

/// Loads the weights of `spec`'s model for the problem's dimension and prepares it for the
/// problem (stencils computed once per geometry).
pub(crate) fn prepare(
    spec: &SolverSpec,
    problem: &PoissonProblem,
    options: &BuildOptions,
) -> Result<Learned, RitzError> {
    let name = spec.method.name();
    let neural = || failed::<NeuralError>(spec);
    let geo = Geometry::of(problem);
    let dim = problem.grid().dim();
    match (spec.method, options.backend) {
        (Method::Stencil | Method::StencilSpd, Backend::Cpu) => {
            let folder = options.weights.as_deref();
            let (_, model) =
                load_model::<Flex>(name, dim, folder, &Default::default()).map_err(neural())?;
            let AnyModel::Stencil(net) = model else {
                return Err(neural()(NeuralError::Config(format!(
                    "{name}-{dim}d holds a {} model, not a stencil net",
                    model.kind()
                ))));
            };
            Ok(if spec.method == Method::StencilSpd {
                Learned::Spd(Box::new(
                    SpdStencilPreconditioner::new(&net, &geo).map_err(neural())?,
                ))
            } else {
                Learned::Flexible(Box::new(
                    StencilPreconditioner::new(&net, &geo).map_err(neural())?,
                ))
            })
        }
        (_, Backend::Cpu) => Ok(Learned::Flexible(
            burn_preconditioner::<Flex>(name, problem, options, &geo).map_err(neural())?,
        )),
        #[cfg(feature = "cuda")]
        (_, Backend::Cuda) => {
            // A typed error naming what is missing, where burn-cuda would panic.
            ritz_neural_precond::cuda::probe().map_err(neural())?;
            let engine = device_net::<Gpu>(spec, problem, options, &Default::default());
            Ok(Learned::Device(Box::new(engine.map_err(neural())?)))
        }
        #[cfg(not(feature = "cuda"))]
        (_, Backend::Cuda) => Err(RitzError::FeatureDisabled {
            solver: spec.to_string(),
            feature: "cuda",
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ritz_krylov::{FcdParams, fcd, pcg};
    use ritz_pde::Scene;
    use ritz_pde::rhs::RhsKind;

    /// The engine `Backend::Cuda` builds, here on burn-flex: the host iteration's count (±1)
    /// and the tolerance met by the true residual; another problem is refused.
    #[test]
    fn device_engines_take_the_host_iterations() {
        for (name, dim, n) in [("dcdm", 2, 32), ("stencil", 3, 16), ("stencil-spd", 3, 16)] {
            let p = PoissonProblem::new(Scene::Spheres.generate(dim, n, 5).unwrap()).unwrap();
            let b = RhsKind::WhiteNoise.generate(&p, 1);
            let spec: SolverSpec = name.parse().unwrap();
            let options = BuildOptions::default();
            let engine = device_net::<Flex>(&spec, &p, &options, &Default::default()).unwrap();
            let params = SolveParams::default();
            let mut x = vec![0.0; b.len()];
            let dev = engine.solve(&p, &b, &mut x, &params, &mut ()).unwrap();
            let (_, model) = load_model::<Flex>(name, dim, None, &Default::default()).unwrap();
            let host_m =
                BurnPreconditioner::new(model, &Geometry::of(&p), &Default::default()).unwrap();
            let mut xh = vec![0.0; b.len()];
            let host = if name == "stencil-spd" {
                assert_eq!(engine.method, DeviceMethod::Pcg);
                pcg(&p, &Spd(&host_m), &b, &mut xh, &params, &mut ()).unwrap()
            } else {
                let fp = FcdParams {
                    solve: params,
                    k: spec.k(),
                    ..Default::default()
                };
                fcd(&p, &host_m, &b, &mut xh, &fp, &mut ()).unwrap()
            };
            assert!(dev.converged(), "{name}");
            assert!(
                dev.iterations.abs_diff(host.iterations) <= 1,
                "{name}: device {} vs host {}",
                dev.iterations,
                host.iterations
            );
            let other = PoissonProblem::new(Scene::Spheres.generate(dim, n, 5).unwrap()).unwrap();
            assert!(engine.solve(&other, &b, &mut x, &params, &mut ()).is_err());
        }
    }

    /// The burn adapter of the SPD net as an SPD preconditioner, for the host PCG oracle.
    struct Spd<'a>(&'a BurnPreconditioner<Flex>);
    impl Preconditioner for Spd<'_> {
        fn dim(&self) -> usize {
            self.0.dim()
        }
        fn apply(&self, r: &[f64], z: &mut [f64]) {
            self.0.apply(r, z)
        }
    }
    impl SpdPreconditioner for Spd<'_> {}
}
