//! Probing for a usable CUDA device before burn-cuda touches it (feature `cuda`).
//!
//! burn-cuda on a machine without a GPU panics inside cubecl's device channel; [`probe`]
//! instead checks, in order, that the driver's `libcuda` loads, that `cuInit` succeeds and
//! finds a device, and that NVRTC (which compiles burn's kernels at run time) loads — and says
//! which of them is missing in a typed error. On success it reports what was found: the device,
//! its memory, the driver and NVRTC versions and the files they were loaded from (burn exposes
//! none of these).

use crate::error::NeuralError;
use cudarc::driver::{result, sys};
use serde::Serialize;

/// What [`probe`] found.
#[derive(Debug, Clone, Serialize)]
pub struct CudaInfo {
    /// CUDA devices the driver reports.
    pub devices: usize,
    /// Name of device 0.
    pub name: String,
    /// Memory of device 0 in bytes.
    pub memory_bytes: usize,
    /// The driver's CUDA version (`cuDriverGetVersion`), e.g. `[13, 0]`.
    pub driver_cuda: [i32; 2],
    /// NVRTC's version, e.g. `[13, 0]`.
    pub nvrtc: [i32; 2],
    /// The `libcuda` file loaded (from `/proc/self/maps`; `None` where that is unreadable).
    pub libcuda_path: Option<String>,
    /// The NVRTC file loaded.
    pub nvrtc_path: Option<String>,
}

/// The file names cudarc tries for `lib`, each once.
fn candidates(lib: &str) -> String {
    let mut names = cudarc::get_lib_name_candidates(lib);
    let mut seen = std::collections::HashSet::new();
    names.retain(|n| seen.insert(n.clone()));
    names.join(", ")
}

fn device_err(what: impl std::fmt::Display) -> NeuralError {
    NeuralError::Device(what.to_string())
}

/// The first mapped file of this process whose name contains `needle`.
fn loaded_from(needle: &str) -> Option<String> {
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    maps.lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .find(|p| p.rsplit('/').next().is_some_and(|f| f.contains(needle)))
        .map(str::to_owned)
}

/// Checks for a usable CUDA device and NVRTC (see the module docs). Cost: loads the two
/// libraries and initializes the driver (tens of milliseconds on a GPU machine).
///
/// Errors ([`NeuralError::Device`]): `libcuda` not found (no NVIDIA driver), `cuInit` failing,
/// no device, NVRTC not on the loader path (with the folders to add to `LD_LIBRARY_PATH`).
///
/// ```
/// // On a machine without a GPU this is an error, never a panic.
/// match ritz_neural_precond::cuda::probe() {
///     Ok(info) => println!("{} ({} bytes)", info.name, info.memory_bytes),
///     Err(e) => println!("no GPU: {e}"),
/// }
/// ```
pub fn probe() -> Result<CudaInfo, NeuralError> {
    // SAFETY: loading a shared library by name runs its initializers; the driver and NVRTC
    // libraries are meant to be loaded this way (cudarc's dynamic loading does the same).
    if !unsafe { sys::is_culib_present() } {
        return Err(device_err(format!(
            "the NVIDIA driver library was not found (tried {}): no NVIDIA driver on this machine",
            candidates("cuda")
        )));
    }
    result::init().map_err(|e| device_err(format!("cuInit failed: {e:?} (no usable GPU)")))?;
    let devices = result::device::get_count()
        .map_err(|e| device_err(format!("cuDeviceGetCount failed: {e:?}")))?;
    if devices < 1 {
        return Err(device_err("the NVIDIA driver reports no CUDA device"));
    }
    let dev = result::device::get(0).map_err(|e| device_err(format!("cuDeviceGet: {e:?}")))?;
    let name = result::device::get_name(dev).map_err(|e| device_err(format!("{e:?}")))?;
    // SAFETY: `dev` is a valid device handle from cuDeviceGet after cuInit.
    let memory_bytes =
        unsafe { result::device::total_mem(dev) }.map_err(|e| device_err(format!("{e:?}")))?;
    let mut v = 0;
    // SAFETY: cuDriverGetVersion writes one int; the driver is initialized.
    unsafe { sys::cuDriverGetVersion(&mut v) }
        .result()
        .map_err(|e| device_err(format!("cuDriverGetVersion: {e:?}")))?;
    let driver_cuda = [v / 1000, (v % 1000) / 10];
    // SAFETY: as for libcuda above.
    if !unsafe { cudarc::nvrtc::sys::is_culib_present() } {
        return Err(device_err(format!(
            "NVRTC, which compiles the GPU kernels at run time, was not found on the loader path \
             (tried {}); add the CUDA toolkit's lib64 (e.g. /usr/local/cuda/lib64) or pip's \
             nvidia/cu13/lib or nvidia/cuda_nvrtc/lib under site-packages to LD_LIBRARY_PATH",
            candidates("nvrtc")
        )));
    }
    let (mut major, mut minor) = (0, 0);
    // SAFETY: nvrtcVersion writes two ints.
    unsafe { cudarc::nvrtc::sys::nvrtcVersion(&mut major, &mut minor) }
        .result()
        .map_err(|e| device_err(format!("nvrtcVersion: {e:?}")))?;
    Ok(CudaInfo {
        devices: devices as usize,
        name,
        memory_bytes,
        driver_cuda,
        nvrtc: [major, minor],
        libcuda_path: loaded_from("libcuda.so"),
        nvrtc_path: loaded_from("libnvrtc"),
    })
}
