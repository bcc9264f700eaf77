//! `cargo xtask gpu-check`: everything the project wants to know from a GPU machine, in one
//! run that needs only the built binary and the repo's files — the device and where its
//! libraries came from, the shipped networks' device forward against the CPU's, forward and
//! forward+backward time (GMAC/s) of the networks, solves on the host against the same
//! solves resident on the device, and one training epoch on the device against the CPU.
//!
//! `--backend cpu` runs the same steps with burn-flex as the "device" (how CI tests this
//! command). Results go to `gpu-check.json` after every step (a run cut short keeps what it
//! measured) and the printed lines to `gpu-check.log`; steps that would start after
//! `--budget-s` are skipped and listed, and a watchdog ends the process 30 s past it.

use crate::backend::BackendKind;
use ritz::neural::burn::backend::{Autodiff, Flex};
use ritz::neural::burn::tensor::backend::{AutodiffBackend, Backend};
use ritz::neural::burn::tensor::{Tensor, TensorData};
use ritz::neural::device::{
    DeviceIdentity, DeviceMethod, DeviceMultigrid, DeviceParams, DevicePreconditioner,
    DeviceSystem, device_solve,
};
use ritz::neural::{AnyModel, BurnPreconditioner, Geometry, shipped};
use ritz::pde::heldout::HeldOut;
use ritz::pde::rhs::RhsKind;
use ritz::pde::{GridMultigrid, MultigridParams, PoissonProblem, Scene};
use serde::Serialize;
use serde_json::{Value, json};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Arguments of `cargo xtask gpu-check`.
#[derive(clap::Args, Debug)]
pub struct GpuCheckArgs {
    /// Output folder (gpu-check.json, gpu-check.log).
    #[arg(long, default_value = "gpu-check-out")]
    pub out: PathBuf,
    /// `cuda` (needs the cuda feature and a GPU), or `cpu`: the same steps on burn-flex.
    #[arg(long, value_enum, default_value_t = BackendKind::Cuda)]
    pub backend: BackendKind,
    /// Cells per axis of the 3D solves (a held-out porous medium, white-noise right-hand side).
    #[arg(long, value_delimiter = ',', default_value = "64,128,256")]
    pub sizes: Vec<usize>,
    /// Cells per axis of the forward timings.
    #[arg(long, value_delimiter = ',', default_value = "64,128")]
    pub forward_sizes: Vec<usize>,
    /// Cells per axis of the training epochs.
    #[arg(long, default_value_t = 32)]
    pub train_n: usize,
    /// Host CG only up to this size (it takes minutes beyond).
    #[arg(long, default_value_t = 128)]
    pub host_cg_max: usize,
    /// Seconds after which no further step starts.
    #[arg(long, default_value_t = 420.0)]
    pub budget_s: f64,
}

/// The report, written after every step.
struct Report {
    out: PathBuf,
    log: std::fs::File,
    json: serde_json::Map<String, Value>,
    start: Instant,
    budget_s: f64,
}

impl Report {
    fn new(args: &GpuCheckArgs) -> Result<Self, String> {
        std::fs::create_dir_all(&args.out).map_err(|e| format!("{}: {e}", args.out.display()))?;
        let path = args.out.join("gpu-check.log");
        let log = std::fs::File::create(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut json = serde_json::Map::new();
        json.insert("schema".into(), json!("ritz-gpu-check/1"));
        json.insert(
            "backend".into(),
            json!(format!("{:?}", args.backend).to_lowercase()),
        );
        for k in [
            "parity", "forward", "solves", "training", "skipped", "errors",
        ] {
            json.insert(k.into(), json!([]));
        }
        Ok(Self {
            out: args.out.clone(),
            log,
            json,
            start: Instant::now(),
            budget_s: args.budget_s,
        })
    }
    fn line(&mut self, s: impl AsRef<str>) {
        println!("{}", s.as_ref());
        let _ = writeln!(self.log, "{}", s.as_ref());
    }
    fn push(&mut self, section: &str, v: Value) -> Result<(), String> {
        if let Some(Value::Array(a)) = self.json.get_mut(section) {
            a.push(v);
        }
        self.save()
    }
    fn save(&mut self) -> Result<(), String> {
        self.json.insert(
            "elapsed_s".into(),
            json!(self.start.elapsed().as_secs_f64()),
        );
        let path = self.out.join("gpu-check.json");
        std::fs::write(
            &path,
            serde_json::to_string_pretty(&self.json).unwrap_or_default(),
        )
        .map_err(|e| format!("{}: {e}", path.display()))
    }
    /// Runs `step`; a failure is logged and recorded under `errors`, and the run goes on (a
    /// GPU run is one shot: the other steps' figures still count).
    fn attempt(
        &mut self,
        step: &str,
        f: impl FnOnce(&mut Report) -> Result<(), String>,
    ) -> Result<(), String> {
        if let Err(e) = f(self) {
            self.line(format!("FAILED {step}: {e}"));
            self.push("errors", json!({"step": step, "error": e}))?;
        }
        Ok(())
    }
    /// False (and the step listed as skipped) once the budget is spent.
    fn may_start(&mut self, step: &str) -> Result<bool, String> {
        if self.start.elapsed().as_secs_f64() < self.budget_s {
            return Ok(true);
        }
        self.line(format!("skipped (budget spent): {step}"));
        self.push("skipped", json!(step))?;
        Ok(false)
    }
}

/// Runs the check (see the module docs).
pub fn run(args: &GpuCheckArgs) -> Result<(), String> {
    let mut report = Report::new(args)?;
    let budget = args.budget_s;
    std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_secs_f64(budget + 30.0));
        eprintln!(
            "gpu-check: past the budget by 30 s; stopping (gpu-check.json has the steps done)"
        );
        std::process::exit(3);
    });
    match args.backend {
        BackendKind::Cpu => {
            report.line("device: burn-flex on the CPU (a dry run of the GPU check)");
            report
                .json
                .insert("device".into(), json!({"name": "burn-flex (CPU)"}));
            report.save()?;
            steps::<Flex>(args, &mut report, &Default::default())
        }
        #[cfg(feature = "cuda")]
        BackendKind::Cuda => {
            let info = match ritz::neural::cuda::probe() {
                Ok(info) => info,
                Err(e) => {
                    // The report says why nothing ran.
                    report.line(format!("device: {e}"));
                    report
                        .json
                        .insert("device_error".into(), json!(e.to_string()));
                    report.save()?;
                    return Err(e.to_string());
                }
            };
            report.line(format!(
                "device: {} ({:.1} GiB), driver CUDA {}.{}, NVRTC {}.{}; libcuda {}, NVRTC {}",
                info.name,
                info.memory_bytes as f64 / (1u64 << 30) as f64,
                info.driver_cuda[0],
                info.driver_cuda[1],
                info.nvrtc[0],
                info.nvrtc[1],
                info.libcuda_path.as_deref().unwrap_or("?"),
                info.nvrtc_path.as_deref().unwrap_or("?"),
            ));
            report.json.insert("device".into(), json!(info));
            report.save()?;
            steps::<crate::backend::Gpu>(args, &mut report, &Default::default())
        }
        #[cfg(not(feature = "cuda"))]
        BackendKind::Cuda => Err(crate::backend::no_cuda()),
    }
}

fn steps<B: Backend>(
    args: &GpuCheckArgs,
    report: &mut Report,
    device: &B::Device,
) -> Result<(), String> {
    if report.may_start("parity")? {
        report.attempt("parity", |r| parity::<B>(r, device))?;
    }
    for &n in &args.forward_sizes {
        let step = format!("forward {n}");
        if report.may_start(&step)? {
            report.attempt(&step, |r| forward::<B>(r, device, n))?;
        }
    }
    for &n in &args.sizes {
        report.attempt(&format!("solves {n}"), |r| solves::<B>(args, r, device, n))?;
    }
    if report.may_start("training")? {
        report.attempt("training", |r| training::<B>(r, device, args.train_n))?;
    }
    report.line(format!(
        "done in {:.1} s; wrote {}",
        report.start.elapsed().as_secs_f64(),
        report.out.join("gpu-check.json").display()
    ));
    report.save()?;
    match report
        .json
        .get("errors")
        .and_then(Value::as_array)
        .map_or(0, Vec::len)
    {
        0 => Ok(()),
        k => Err(format!(
            "{k} step(s) failed (listed under errors in gpu-check.json)"
        )),
    }
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

fn sync<B: Backend>(device: &B::Device) {
    let _ = B::sync(device);
}

fn grid_tensor<B: Backend>(v: &[f64], p: &PoissonProblem, device: &B::Device) -> Tensor<B, 5> {
    let [nx, ny, nz] = p.grid().dims();
    let data: Vec<f32> = v.iter().map(|&a| a as f32).collect();
    Tensor::from_data(TensorData::new(data, [1, 1, nz, ny, nx]), device)
}

fn to_host<B: Backend>(t: Tensor<B, 5>) -> Result<Vec<f32>, String> {
    t.into_data().to_vec::<f32>().map_err(|e| format!("{e:?}"))
}

/// Each shipped network's forward on the device against burn-flex, same input.
fn parity<B: Backend>(report: &mut Report, device: &B::Device) -> Result<(), String> {
    for (name, dim) in shipped::shipped() {
        let n = if dim == 3 { 32 } else { 64 };
        let p =
            PoissonProblem::new(Scene::Spheres.generate(dim, n, 1).map_err(err)?).map_err(err)?;
        let r = RhsKind::WhiteNoise.generate(&p, 1);
        let geo = Geometry::of(&p);
        let (_, cpu_model) =
            shipped::load_shipped::<Flex>(name, dim, &Default::default()).map_err(err)?;
        let cpu = BurnPreconditioner::new(cpu_model, &geo, &Default::default()).map_err(err)?;
        let (_, dev_model) = shipped::load_shipped::<B>(name, dim, device).map_err(err)?;
        let dev = BurnPreconditioner::new(dev_model, &geo, device).map_err(err)?;
        let yc = to_host(cpu.forward_device(grid_tensor::<Flex>(&r, &p, &Default::default())))?;
        let t = Instant::now();
        let yd = to_host(dev.forward_device(grid_tensor::<B>(&r, &p, device)))?;
        let first_s = t.elapsed().as_secs_f64();
        let (mut num, mut den) = (0.0f64, 0.0f64);
        for (a, b) in yc.iter().zip(&yd) {
            num += f64::from(a - b).powi(2);
            den += f64::from(*a).powi(2);
        }
        let rel = (num / den.max(f64::MIN_POSITIVE)).sqrt();
        report.line(format!(
            "parity {name}-{dim}d at {n}^{dim}: relative error {rel:.2e} (first device forward {first_s:.2} s)"
        ));
        report.push(
            "parity",
            json!({"model": name, "dim": dim, "n": n, "relative_error": rel, "first_forward_s": first_s}),
        )?;
    }
    Ok(())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Forward and forward+backward time of the 3D DCDM net and stencil net at `n³`.
fn forward<B: Backend>(report: &mut Report, device: &B::Device, n: usize) -> Result<(), String> {
    let p = PoissonProblem::new(HeldOut::Porous.generate(3, n, 0).map_err(err)?).map_err(err)?;
    let geo = Geometry::of(&p);
    let r = RhsKind::WhiteNoise.generate(&p, 2);
    for name in ["dcdm", "stencil"] {
        let (_, model) = shipped::load_shipped::<B>(name, 3, device).map_err(err)?;
        let macs = match &model {
            AnyModel::Dcdm(d) => d.macs_per_cell() * p.num_cells() as f64,
            AnyModel::Stencil(s) => s.macs(&s.plan(geo.shape).map_err(err)?),
        };
        let t = Instant::now();
        let m = BurnPreconditioner::new(model, &geo, device).map_err(err)?;
        sync::<B>(device);
        let setup_s = t.elapsed().as_secs_f64();
        let x = grid_tensor::<B>(&r, &p, device);
        let time = |f: &dyn Fn()| {
            let t = Instant::now();
            f();
            sync::<B>(device);
            t.elapsed().as_secs_f64()
        };
        let first_s = time(&|| drop(m.forward_device(x.clone())));
        let fwd = median(
            (0..5)
                .map(|_| time(&|| drop(m.forward_device(x.clone()))))
                .collect(),
        );
        let fb = forward_backward::<Autodiff<B>>(name, &p, &r, device)?;
        let gmac = macs / 1e9;
        report.line(format!(
            "forward {name} {n}^3: setup {setup_s:.3} s, first {first_s:.3} s, forward {:.2} ms ({gmac:.3} GMAC, {:.1} GMAC/s), forward+backward {:.2} ms",
            fwd * 1e3,
            gmac / fwd,
            fb * 1e3
        ));
        report.push(
            "forward",
            json!({"model": name, "n": n, "setup_s": setup_s, "first_s": first_s,
                   "forward_s": fwd, "forward_backward_s": fb, "gmac": gmac,
                   "gmac_per_s": gmac / fwd}),
        )?;
    }
    Ok(())
}

/// Median of 3 forward+backward passes (after one warm-up) of the shipped 3D `name`.
fn forward_backward<A: AutodiffBackend>(
    name: &str,
    p: &PoissonProblem,
    r: &[f64],
    device: &A::Device,
) -> Result<f64, String> {
    let (_, model) = shipped::load_shipped::<A>(name, 3, device).map_err(err)?;
    let m = BurnPreconditioner::new(model, &Geometry::of(p), device).map_err(err)?;
    let x = grid_tensor::<A>(r, p, device).require_grad();
    let step = || {
        let t = Instant::now();
        let y = m.forward_device(x.clone());
        let loss = (y.clone() * y).sum();
        drop(loss.backward());
        let _ = A::sync(device);
        t.elapsed().as_secs_f64()
    };
    step();
    Ok(median((0..3).map(|_| step()).collect()))
}

#[derive(Serialize)]
struct SolveRow {
    n: usize,
    solver: String,
    place: &'static str,
    iterations: usize,
    converged: bool,
    relative_residual: f64,
    setup_s: f64,
    solve_s: f64,
    total_s: f64,
    cells_per_s: f64,
}

impl SolveRow {
    /// Logs the row and adds it to the report.
    fn report(self, report: &mut Report) -> Result<(), String> {
        report.line(format!(
            "solve {}^3 {:>8} on the {:<6}: {:>5} iterations, setup {:.3} s, solve {:.3} s, {:.1} M cells/s{}",
            self.n,
            self.solver,
            self.place,
            self.iterations,
            self.setup_s,
            self.solve_s,
            self.cells_per_s / 1e6,
            if self.converged { "" } else { " (NOT converged)" }
        ));
        report.push("solves", serde_json::to_value(&self).unwrap_or_default())
    }
}

/// A row from a solve's record and times.
fn solve_row(
    p: &PoissonProblem,
    solver: &str,
    place: &'static str,
    info: &ritz::krylov::SolveInfo,
    setup_s: f64,
    solve_s: f64,
) -> SolveRow {
    let [n, ..] = p.grid().dims();
    SolveRow {
        n,
        solver: solver.into(),
        place,
        iterations: info.iterations,
        converged: info.converged(),
        relative_residual: info.final_relative_residual(),
        setup_s,
        solve_s,
        total_s: setup_s + solve_s,
        cells_per_s: p.num_cells() as f64 / (setup_s + solve_s),
    }
}

/// The solves at `n³`: cg, mgpcg, learned and stencil on the host (catalogue) and on the
/// device, and dcdm on the device; each solver a step of its own.
fn solves<B: Backend>(
    args: &GpuCheckArgs,
    report: &mut Report,
    device: &B::Device,
    n: usize,
) -> Result<(), String> {
    let p = PoissonProblem::new(HeldOut::Porous.generate(3, n, 0).map_err(err)?).map_err(err)?;
    let b = RhsKind::WhiteNoise.generate(&p, 0);
    for spec in ["cg", "mgpcg", "learned", "stencil"] {
        let step = format!("host {spec} {n}");
        if (spec == "cg" && n > args.host_cg_max) || !report.may_start(&step)? {
            continue;
        }
        report.attempt(&step, |report| {
            let t = Instant::now();
            let mut s = ritz::Solver::build(&spec.parse().map_err(err)?, &p).map_err(err)?;
            let setup_s = t.elapsed().as_secs_f64();
            let mut x = vec![0.0; b.len()];
            let rep = s.solve(&p, &b, &mut x).map_err(err)?;
            solve_row(&p, spec, "host", &rep.info, setup_s, rep.solve_s).report(report)
        })?;
    }
    for spec in ["cg", "mgpcg", "learned", "stencil", "dcdm"] {
        let step = format!("device {spec} {n}");
        if report.may_start(&step)? {
            report.attempt(&step, |report| {
                device_solve_row::<B>(&p, &b, spec, device)?.report(report)
            })?;
        }
    }
    Ok(())
}

/// `spec` solved on the device: setup (upload, and the host hierarchy for the V-cycles) and
/// solve timed apart.
fn device_solve_row<B: Backend>(
    p: &PoissonProblem,
    b: &[f64],
    spec: &str,
    device: &B::Device,
) -> Result<SolveRow, String> {
    let dim = p.grid().dim();
    let t = Instant::now();
    let sys = DeviceSystem::<B>::new(p, device);
    let (m, method): (Box<dyn DevicePreconditioner<B>>, DeviceMethod) = match spec {
        "cg" => (Box::new(DeviceIdentity), DeviceMethod::Pcg),
        "mgpcg" | "learned" => {
            let schedule = match spec {
                "learned" => Some(
                    shipped::load_shipped_schedule(dim)
                        .map_err(err)?
                        .learned
                        .schedule,
                ),
                _ => None,
            };
            let params = MultigridParams {
                schedule,
                ..Default::default()
            };
            let mg = GridMultigrid::new(p, params).map_err(err)?;
            let dm = DeviceMultigrid::<B>::new(&mg, device).map_err(err)?;
            (Box::new(dm), DeviceMethod::Pcg)
        }
        _ => {
            let (_, model) = shipped::load_shipped::<B>(spec, dim, device).map_err(err)?;
            let method = spec.parse::<ritz::SolverSpec>().map_err(err)?.method;
            let k = ritz::SolverSpec::default_k(method);
            let net = BurnPreconditioner::new(model, &Geometry::of(p), device).map_err(err)?;
            (Box::new(net), DeviceMethod::Fcd { k })
        }
    };
    sync::<B>(device);
    let setup_s = t.elapsed().as_secs_f64();
    // A read of the residual norms costs a synchronization: every iteration for the
    // preconditioned solvers (few, long iterations), every 8th for plain CG.
    let params = DeviceParams {
        method,
        check_every: if spec == "cg" { 8 } else { 1 },
        solve: ritz::krylov::SolveParams {
            max_iters: if spec == "cg" { 20_000 } else { 2000 },
            ..Default::default()
        },
        ..Default::default()
    };
    let mut x = vec![0.0; b.len()];
    let t = Instant::now();
    let info = device_solve(p, &sys, m.as_ref(), b, &mut x, &params, &mut ()).map_err(err)?;
    Ok(solve_row(
        p,
        spec,
        "device",
        &info,
        setup_s,
        t.elapsed().as_secs_f64(),
    ))
}

/// One training epoch of the 3D stencil net and DCDM at `n³` on the device and on the CPU.
fn training<B: Backend>(report: &mut Report, device: &B::Device, n: usize) -> Result<(), String> {
    use ritz::neural::{DatasetSpec, ModelConfig, TrainConfig};
    let data_spec = DatasetSpec {
        dim: 3,
        n,
        scenes: vec![Scene::Spheres, Scene::Organic],
        geometries: 2,
        seed: 1,
        lanczos_steps: 40,
        ritz_samples: 4,
        rhs_samples: 2,
        low_fraction: 0.55,
        low_weight: 9.0,
        noise_samples: 2,
    };
    let t = Instant::now();
    let data = ritz::neural::Dataset::generate(&data_spec).map_err(err)?;
    report.line(format!(
        "training data: {} samples at {n}^3 ({:.1} s)",
        data.len(),
        t.elapsed().as_secs_f64()
    ));
    let tmp = std::env::temp_dir().join(format!("ritz-gpu-check-{}", std::process::id()));
    for name in ["stencil", "dcdm"] {
        let cfg = TrainConfig {
            model: ModelConfig::named(name, 3).map_err(err)?,
            data: data_spec.clone(),
            optimizer: ritz::neural::burn::optim::AdamConfig::new(),
            learning_rate: 1e-3,
            batch_size: 4,
            epochs: 1,
            seed: 1,
            val_fraction: 0.0,
            loss: ritz::neural::train::LossKind::Energy,
            schedule: ritz::neural::train::LrSchedule::Constant,
            unroll: 1,
            init: None,
        };
        for place in ["device", "cpu"] {
            let t = Instant::now();
            if place == "device" {
                epoch::<Autodiff<B>>(&cfg, &data, &tmp.join(place), device)?;
            } else {
                epoch::<Autodiff<Flex>>(&cfg, &data, &tmp.join(place), &Default::default())?;
            }
            let s = t.elapsed().as_secs_f64();
            report.line(format!(
                "training {name} {n}^3, one epoch on the {place}: {s:.2} s"
            ));
            report.push(
                "training",
                json!({"model": name, "n": n, "place": place, "epoch_s": s, "samples": data.len()}),
            )?;
        }
    }
    let _ = std::fs::remove_dir_all(&tmp);
    Ok(())
}

fn epoch<A: AutodiffBackend>(
    cfg: &ritz::neural::TrainConfig,
    data: &ritz::neural::Dataset,
    out: &Path,
    device: &A::Device,
) -> Result<(), String> {
    let model = AnyModel::<A>::init(&cfg.model, device).map_err(err)?;
    crate::train::train_model(model, cfg, data, out, false, device, &mut |_| {})
}
