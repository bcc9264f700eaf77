//! Probing for a usable CUDA device before burn-cuda touches it (feature `cuda`).
//!
//! burn-cuda on a machine without a GPU panics inside cubecl's device channel; [`probe`]
//! instead checks, in order, that the driver's `libcuda` loads, that `cuInit` succeeds and
//! finds a device, and that NVRTC (which compiles burn's kernels at run time) loads — and says
//! which of them is missing in a typed error. NVRTC that is not on the loader path is looked
//! for where the CUDA toolkit and pip's CUDA wheels put it, and loaded from there. On success it reports what was found: the device,
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

/// Folders where NVRTC lives when it is not on the loader path: `$CUDA_HOME`/`$CUDA_PATH`,
/// the toolkit's `/usr/local/cuda*/lib64`, and pip's `nvidia/cu<major>/lib` and
/// `nvidia/cuda_nvrtc/lib` under the Python site-packages folders.
fn nvrtc_folders(major: i32) -> Vec<std::path::PathBuf> {
    use std::path::PathBuf;
    let mut dirs: Vec<PathBuf> = ["CUDA_HOME", "CUDA_PATH", "CUDA_ROOT"]
        .iter()
        .filter_map(std::env::var_os)
        .map(|d| PathBuf::from(d).join("lib64"))
        .collect();
    let listed = |root: &str, prefix: &str| -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(root)
            .map(|rd| {
                rd.filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| {
                        p.file_name()
                            .and_then(|n| n.to_str())
                            .is_some_and(|n| n.starts_with(prefix))
                    })
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v.reverse(); // newest version first
        v
    };
    dirs.extend(
        listed("/usr/local", "cuda")
            .into_iter()
            .map(|d| d.join("lib64")),
    );
    // Python site-packages: the standard prefixes, then what python3 itself reports.
    let mut sites: Vec<PathBuf> = Vec::new();
    for root in ["/usr/lib", "/usr/local/lib", "/opt/conda/lib"] {
        for py in listed(root, "python3") {
            sites.push(py.join("site-packages"));
            sites.push(py.join("dist-packages"));
        }
    }
    if let Ok(out) = std::process::Command::new("python3")
        .args([
            "-c",
            "import site; print('\\n'.join(site.getsitepackages() + [site.getusersitepackages()]))",
        ])
        .output()
    {
        sites.extend(
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .map(PathBuf::from),
        );
    }
    for s in sites {
        dirs.push(s.join(format!("nvidia/cu{major}/lib")));
        dirs.push(s.join("nvidia/cuda_nvrtc/lib"));
    }
    dirs
}

/// Loads `libnvrtc.so.<major>` by full path from [`nvrtc_folders`] and keeps it loaded, so
/// that cudarc's load by bare name finds it (the dynamic loader matches the soname of a loaded
/// library).
fn preload_nvrtc(major: i32) {
    for dir in nvrtc_folders(major) {
        let file = dir.join(format!("libnvrtc.so.{major}"));
        if !file.exists() {
            continue;
        }
        // SAFETY: loading NVRTC runs its initializers, as cudarc's own loading would.
        if let Ok(lib) = unsafe { libloading::Library::new(&file) } {
            std::mem::forget(lib); // stays loaded for the process
            return;
        }
    }
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
        preload_nvrtc(driver_cuda[0]);
    }
    // SAFETY: as above.
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
