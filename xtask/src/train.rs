//! `cargo xtask train`: flags over the library's training recipe ([`ritz::neural::recipe`]),
//! the run with its progress bar, checkpoints and curve, and `--install` into the shipped
//! weights.

use crate::backend::BackendKind;
#[cfg(feature = "cuda")]
use crate::backend::Gpu;
#[cfg(not(feature = "cuda"))]
use crate::backend::no_cuda;
use crate::plot;
use indicatif::{ProgressBar, ProgressStyle};
use ritz::neural::burn::backend::{Autodiff, Flex};
use ritz::neural::burn::module::AutodiffModule;
use ritz::neural::burn::tensor::backend::AutodiffBackend;
use ritz::neural::model::WeightsManifest;
use ritz::neural::train::{LossKind, LrSchedule};
use ritz::neural::{AnyModel, LearnedModel, ModelConfig, TrainConfig, TrainEvent, load_weights};
use ritz::pde::Scene;
use ritz::pde::rhs::RhsKind;
use std::path::{Path, PathBuf};

/// The weights committed in the repo (where `--install` writes).
pub fn shipped_weights() -> PathBuf {
    crate::peers::root().join("crates/neural-precond/weights")
}

/// Arguments of `cargo xtask train`.
#[derive(clap::Args, Debug)]
pub struct TrainArgs {
    /// Model: dcdm, dcdm-large, stencil, stencil-spd, or learned (MGPCG's relaxation
    /// schedule, learned by pattern search on the scenes at n/2 and n, --geometries seeds
    /// each, the first --levels levels' weights; --evaluations bounds the search).
    #[arg(long, default_value = "stencil")]
    pub model: String,
    /// 2 or 3.
    #[arg(long, default_value_t = 3)]
    pub dim: usize,
    /// Training grid side.
    #[arg(long)]
    pub n: Option<usize>,
    /// A JSON TrainConfig (the flags below override its fields).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Epochs.
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Adam step size.
    #[arg(long)]
    pub lr: Option<f64>,
    /// Samples per step.
    #[arg(long)]
    pub batch: Option<usize>,
    /// Seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Training geometries.
    #[arg(long)]
    pub geometries: Option<usize>,
    /// Comma-separated scenes of the training geometries.
    #[arg(long, value_delimiter = ',')]
    pub scenes: Option<Vec<String>>,
    /// Lanczos steps per geometry.
    #[arg(long)]
    pub lanczos_steps: Option<usize>,
    /// Ritz-vector samples per geometry.
    #[arg(long)]
    pub ritz_samples: Option<usize>,
    /// Scene right-hand sides per geometry.
    #[arg(long)]
    pub rhs_samples: Option<usize>,
    /// Distinct parameter levels of a stencil net (deeper levels share the last).
    #[arg(long)]
    pub levels: Option<usize>,
    /// Samples `b = A w` (white solution) per geometry.
    #[arg(long)]
    pub noise_samples: Option<usize>,
    /// Weight of the low Ritz modes in the samples (the DCDM paper: 9).
    #[arg(long)]
    pub low_weight: Option<f64>,
    /// Output folder (checkpoints, weights, log, curve).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Continue from the output folder's checkpoint.
    #[arg(long)]
    pub resume: bool,
    /// Burn backend.
    #[arg(long, value_enum, default_value_t = BackendKind::Cpu)]
    pub backend: BackendKind,
    /// Copy the final weights, log and curve to crates/neural-precond/weights as
    /// `<model>-<dim>d.*` (what the bench loads).
    #[arg(long)]
    pub install: bool,
    /// Loss: residual (the DCDM paper's) or energy (A-norm error; default for stencil nets).
    #[arg(long, value_enum)]
    pub loss: Option<LossArg>,
    /// Print no progress bar (for logs and tests).
    #[arg(long)]
    pub quiet: bool,
    /// Extra training data: the right-hand sides of a `cargo xtask simulate --dump` folder
    /// (one more geometry, the simulation's).
    #[arg(long)]
    pub frames: Option<PathBuf>,
    /// With --frames: take every k-th frame.
    #[arg(long, default_value_t = 5)]
    pub frame_every: usize,
    /// DCDM: the paper's recipe exactly (plain network on unit-norm inputs, Ritz-vector data,
    /// residual loss) instead of ritz's default (Jacobi path, RMS-normalized inputs, mixed
    /// data, energy loss; see docs/neural.md).
    #[arg(long)]
    pub paper: bool,
    /// Energy loss over this many steps of the conjugate-direction iteration (the network
    /// also sees the residuals it produces itself; cost per batch × steps).
    #[arg(long)]
    pub unroll: Option<usize>,
    /// Start from these weights (a `<stem>` of `.bin`/`.json`, e.g.
    /// crates/neural-precond/weights/dcdm-3d) instead of a fresh initialization; the model
    /// configuration must match.
    #[arg(long)]
    pub init: Option<PathBuf>,
    /// Step-size schedule: constant, or cosine decay to 1 % over the run.
    #[arg(long, value_enum)]
    pub schedule: Option<ScheduleArg>,
    /// --model learned: evaluations of the loss (each a solve of every training system).
    #[arg(long, default_value_t = 800)]
    pub evaluations: usize,
    /// --model learned: the right-hand side of every training system — `noise` (white
    /// noise, the default), `smooth` (the divergence of a smooth random velocity, like a
    /// simulator's) or `buoyancy` (a rising smoke blob's).
    #[arg(long)]
    pub rhs: Option<RhsKind>,
}

/// `--model learned`: MGPCG's relaxation schedule learned on the training scenes by pattern
/// search ([`ritz::neural::schedule`]), written to `<out>/learned-<dim>d.json` (and with
/// `--install` to the shipped weights).
fn train_schedule(a: &TrainArgs) -> Result<(), String> {
    use ritz::neural::schedule::{ScheduleFile, ScheduleTraining, learn_schedule};
    let defaults = ScheduleTraining::default();
    let scenes = match &a.scenes {
        Some(list) => parse_scenes(list)?,
        None => defaults.scenes.clone(),
    };
    let train = ScheduleTraining {
        scenes,
        dim: a.dim,
        sizes: match a.n {
            Some(n) => vec![n / 2, n],
            None if a.dim == 3 => defaults.sizes.clone(),
            None => vec![256, 512],
        },
        seeds: a.geometries.map_or(defaults.seeds, |g| g as u64),
        learned_levels: a.levels.unwrap_or(defaults.learned_levels),
        max_evaluations: a.evaluations,
        rhs: a.rhs.unwrap_or(defaults.rhs),
        ..defaults
    };
    let out = a
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("train-out/learned-{}d", a.dim)));
    std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    let t0 = std::time::Instant::now();
    let quiet = a.quiet;
    let learned = learn_schedule(&train, &mut |evaluations, loss| {
        if !quiet {
            println!(
                "evaluation {evaluations:5}: {loss:.4} ({:.1} s)",
                t0.elapsed().as_secs_f64()
            );
        }
    })
    .map_err(|e| e.to_string())?;
    println!(
        "learned in {:.1} s, {} evaluations: {:.4} → {:.4} decades per iteration on the \
         training systems (about {:.1} → {:.1} iterations to 1e-6)",
        t0.elapsed().as_secs_f64(),
        learned.evaluations,
        learned.start_rate,
        learned.rate,
        -6.0 / learned.start_rate,
        -6.0 / learned.rate
    );
    let file = ScheduleFile::new(&train, learned);
    let name = format!("learned-{}d.json", a.dim);
    let path = out.join(&name);
    file.save(&path).map_err(|e| e.to_string())?;
    println!("wrote {}", path.display());
    if a.install {
        let to = shipped_weights().join(&name);
        file.save(&to).map_err(|e| e.to_string())?;
        println!("installed {}", to.display());
    }
    Ok(())
}

/// The scenes named by `--scenes`.
fn parse_scenes(names: &[String]) -> Result<Vec<Scene>, String> {
    names
        .iter()
        .map(|s| s.parse::<Scene>().map_err(|e| e.to_string()))
        .collect()
}

/// `--schedule` values.
#[derive(clap::ValueEnum, Debug, Clone, Copy)]
pub enum ScheduleArg {
    /// The same step size throughout.
    Constant,
    /// Cosine decay to 1 % of `--lr` at the end of the last epoch.
    Cosine,
}

/// `--loss` values.
#[derive(clap::ValueEnum, Debug, Clone, Copy)]
pub enum LossArg {
    /// `‖b − αAq‖²`.
    Residual,
    /// `1 − (qᵀb)²/(qᵀAq · bᵀA⁻¹b)`.
    Energy,
}

fn config_from_args(a: &TrainArgs) -> Result<TrainConfig, String> {
    let mut c = match &a.config {
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", p.display()))?
        }
        None => ritz::neural::recipe::recipe(&a.model, a.dim, a.n, a.paper)
            .map_err(|e| e.to_string())?,
    };
    if let Some(n) = a.n {
        c.data.n = n;
    }
    if let Some(v) = a.epochs {
        c.epochs = v;
    }
    if let Some(v) = a.lr {
        c.learning_rate = v;
    }
    if let Some(v) = a.batch {
        c.batch_size = v;
    }
    if let Some(v) = a.seed {
        c.seed = v;
    }
    if let Some(v) = a.geometries {
        c.data.geometries = v;
    }
    if let Some(v) = &a.scenes {
        c.data.scenes = parse_scenes(v)?;
    }
    if let Some(v) = a.lanczos_steps {
        c.data.lanczos_steps = v;
    }
    if let Some(v) = a.ritz_samples {
        c.data.ritz_samples = v;
    }
    if let Some(v) = a.loss {
        c.loss = match v {
            LossArg::Residual => LossKind::Residual,
            LossArg::Energy => LossKind::Energy,
        };
    }
    if let Some(v) = a.levels {
        match &mut c.model {
            ModelConfig::Stencil(m) => m.levels = v,
            ModelConfig::Dcdm(_) => return Err("--levels applies to stencil nets".into()),
        }
    }
    if let Some(v) = a.noise_samples {
        c.data.noise_samples = v;
    }
    if let Some(v) = a.low_weight {
        c.data.low_weight = v;
    }
    if let Some(v) = a.rhs_samples {
        c.data.rhs_samples = v;
    }
    if let Some(v) = a.schedule {
        c.schedule = match v {
            ScheduleArg::Constant => LrSchedule::Constant,
            ScheduleArg::Cosine => LrSchedule::Cosine,
        };
    }
    if let Some(v) = a.unroll {
        c.unroll = v;
    }
    if let Some(p) = &a.init {
        c.init = Some(p.display().to_string());
    }
    c.validate().map_err(|e| e.to_string())?;
    Ok(c)
}

/// The weights a run starts from (`--init`): their stem and manifest. Kept as
/// `<out>/init.json`; with `resume`, the one saved for the same stem is reused (the file may
/// have been overwritten since, e.g. by `--install`). Errors: unreadable weights, weights of
/// another model.
fn init_record(
    stem: &Path,
    model: &ModelConfig,
    out: &Path,
    resume: bool,
) -> Result<(String, WeightsManifest), String> {
    let path = out.join("init.json");
    let name = stem.display().to_string();
    if resume
        && let Some((n, m)) = std::fs::read_to_string(&path)
            .ok()
            .and_then(|t| serde_json::from_str::<(String, WeightsManifest)>(&t).ok())
            .filter(|(n, _)| *n == name)
    {
        return Ok((n, m));
    }
    let m = ritz::neural::model::read_manifest(stem).map_err(|e| e.to_string())?;
    if serde_json::to_value(&m.model).ok() != serde_json::to_value(model).ok() {
        return Err(format!(
            "--init {name}: its model configuration differs from the run's"
        ));
    }
    let rec = (name, m);
    let text = serde_json::to_string(&rec).map_err(|e| e.to_string())?;
    std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(rec)
}

/// `cargo xtask train`.
pub fn run_train(a: TrainArgs) -> Result<(), String> {
    if a.model == "learned" {
        return train_schedule(&a);
    }
    let cfg = config_from_args(&a)?;
    let name = cfg.model.name();
    let dim = cfg.model.dim();
    let out = a
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("train-out/{name}-{dim}d")));
    if a.resume {
        // Refuse an incompatible resume before anything in `out` is touched.
        ritz::neural::train::resumable_state(&out, &cfg).map_err(|e| e.to_string())?;
    }
    std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    let cfg_path = out.join("config.json");
    std::fs::write(
        &cfg_path,
        serde_json::to_string_pretty(&cfg).map_err(|e| e.to_string())?,
    )
    .map_err(|e| format!("{}: {e}", cfg_path.display()))?;
    // The starting weights' own training record, kept in the new manifest (provenance survives
    // `--install` overwriting the file the run started from). Saved in the output folder when
    // the run starts, so a resumed run records the weights it really started from.
    let init_record = match &cfg.init {
        None => None,
        Some(stem) => Some(init_record(Path::new(stem), &cfg.model, &out, a.resume)?),
    };
    let t0 = std::time::Instant::now();
    let mut data =
        ritz::neural::train::dataset_for(&cfg, &out.join("data")).map_err(|e| e.to_string())?;
    if let Some(dir) = &a.frames {
        let g = frame_samples(dir, a.frame_every.max(1))?;
        println!(
            "frames: {} right-hand sides from {} (every {}th frame)",
            g.rhs.len(),
            dir.display(),
            a.frame_every.max(1)
        );
        data.geometries.push(g);
    }
    println!(
        "data: {} samples on {} geometries at {}{} ({:.1} s, cached in {})",
        data.len(),
        data.geometries.len(),
        cfg.data.n,
        if dim == 3 { "³" } else { "²" },
        t0.elapsed().as_secs_f64(),
        out.join("data").display()
    );
    match a.backend {
        BackendKind::Cpu => train_on::<Autodiff<Flex>>(&cfg, &data, &out, &a)?,
        #[cfg(feature = "cuda")]
        BackendKind::Cuda => {
            ritz::neural::cuda::probe().map_err(|e| e.to_string())?;
            train_on::<Autodiff<Gpu>>(&cfg, &data, &out, &a)?
        }
        #[cfg(not(feature = "cuda"))]
        BackendKind::Cuda => return Err(no_cuda()),
    }
    if let Some((stem, from)) = init_record {
        ritz::neural::model::update_manifest(&out.join("weights"), |m| m.record_init(&stem, &from))
            .map_err(|e| e.to_string())?;
    }
    let log: Vec<ritz::neural::train::EpochLog> = ritz::neural::train::read_state(&out)
        .map_err(|e| e.to_string())?
        .map(|s| s.log)
        .unwrap_or_default();
    let train_l: Vec<f64> = std::iter::once(f64::NAN)
        .chain(log.iter().map(|l| l.train_loss))
        .collect();
    let val_l: Vec<f64> = std::iter::once(f64::NAN)
        .chain(log.iter().map(|l| l.val_loss.unwrap_or(f64::NAN)))
        .collect();
    let curve = out.join("curve.png");
    plot::log_plot(
        &curve,
        &format!("{name} {dim}D training (n = {})", cfg.data.n),
        "epoch",
        match (cfg.loss, cfg.unroll) {
            (LossKind::Residual, _) => "loss ‖b − αAf(b)‖²",
            (LossKind::Energy, 1) => "loss 1 − (fᵀb)²/(fᵀAf · bᵀA⁻¹b)",
            (LossKind::Energy, _) => "loss (E_K / E_0)^(1/K), K unrolled steps",
        },
        &[
            plot::Series {
                label: "train".into(),
                values: &train_l,
            },
            plot::Series {
                label: "validation".into(),
                values: &val_l,
            },
        ],
    )?;
    println!(
        "weights: {}  log: {}  curve: {}",
        out.join("weights.bin").display(),
        out.join("log.json").display(),
        curve.display()
    );
    if a.install {
        let dst = shipped_weights();
        std::fs::create_dir_all(&dst).map_err(|e| format!("{}: {e}", dst.display()))?;
        for (src, ext) in [
            ("weights.bin", "bin"),
            ("weights.json", "json"),
            ("log.json", "log.json"),
            ("curve.png", "curve.png"),
            ("config.json", "train.json"),
        ] {
            let to = dst.join(format!("{name}-{dim}d.{ext}"));
            std::fs::copy(out.join(src), &to).map_err(|e| format!("{}: {e}", to.display()))?;
        }
        println!("installed as {}/{name}-{dim}d.*", dst.display());
    }
    Ok(())
}

fn train_on<B: AutodiffBackend>(
    cfg: &TrainConfig,
    data: &ritz::neural::Dataset,
    out: &Path,
    a: &TrainArgs,
) -> Result<(), String>
where
    ritz::neural::DcdmNet<B>: AutodiffModule<B>,
    ritz::neural::StencilNet<B>: AutodiffModule<B>,
{
    let device = B::Device::default();
    B::seed(&device, cfg.seed);
    // A resumed run loads its checkpoint instead; the starting weights matter only at the start.
    let resuming = a.resume
        && ritz::neural::train::read_state(out)
            .map_err(|e| e.to_string())?
            .is_some();
    let model = match cfg.init.as_deref().filter(|_| !resuming) {
        None => AnyModel::<B>::init(&cfg.model, &device).map_err(|e| e.to_string())?,
        Some(stem) => {
            println!("starting from {stem}");
            load_weights::<B>(Path::new(stem), &device)
                .map_err(|e| e.to_string())?
                .1
        }
    };
    println!(
        "model: {} {}D, {} parameters",
        cfg.model.name(),
        cfg.model.dim(),
        model.num_params()
    );
    let pb = if a.quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(0)
    };
    pb.set_style(
        ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg} ({elapsed})")
            .map_err(|e| e.to_string())?
            .progress_chars("=> "),
    );
    let mut running = 0.0;
    let mut count = 0usize;
    let mut observer = |ev: TrainEvent| match ev {
        TrainEvent::Start {
            epoch,
            batches,
            samples,
        } => {
            pb.set_length(batches as u64);
            println!(
                "training from epoch {epoch}: {} train / {} validation samples, {batches} batches per epoch",
                samples.0, samples.1
            );
        }
        TrainEvent::Batch { epoch, batch, loss } => {
            if batch == 1 {
                running = 0.0;
                count = 0;
            }
            running += loss;
            count += 1;
            pb.set_prefix(format!("epoch {epoch}"));
            pb.set_position(batch as u64);
            pb.set_message(format!("loss {:.4e}", running / count as f64));
        }
        TrainEvent::Epoch(l) => {
            let line = format!(
                "epoch {:3}  train {:.4e}  validation {}  {:.1} s",
                l.epoch,
                l.train_loss,
                l.val_loss.map_or("-".into(), |v| format!("{v:.4e}")),
                l.seconds
            );
            if pb.is_hidden() {
                println!("{line}");
            } else {
                pb.println(line);
            }
        }
    };
    let res = train_model(model, cfg, data, out, a.resume, &device, &mut observer);
    pb.finish_and_clear();
    res
}

/// [`ritz::neural::train`] on whichever network `model` holds (also `gpu-check`'s epochs).
pub(crate) fn train_model<B: AutodiffBackend>(
    model: AnyModel<B>,
    cfg: &TrainConfig,
    data: &ritz::neural::Dataset,
    out: &Path,
    resume: bool,
    device: &B::Device,
    observer: &mut dyn FnMut(TrainEvent),
) -> Result<(), String> {
    fn run<B: AutodiffBackend, M: LearnedModel<B> + AutodiffModule<B>>(
        m: M,
        cfg: &TrainConfig,
        data: &ritz::neural::Dataset,
        out: &Path,
        resume: bool,
        device: &B::Device,
        observer: &mut dyn FnMut(TrainEvent),
    ) -> Result<(), String> {
        ritz::neural::train(m, cfg, data, out, resume, device, observer)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
    match model {
        AnyModel::Dcdm(m) => run(m, cfg, data, out, resume, device, observer),
        AnyModel::Stencil(m) => run(m, cfg, data, out, resume, device, observer),
    }
}

/// The right-hand sides of a `simulate --dump` folder as one training geometry (unit norm,
/// energies from MGPCG solves).
fn frame_samples(dir: &Path, every: usize) -> Result<ritz::neural::data::GeometrySamples, String> {
    use ritz::linalg::io::npy;
    let err = |e: &dyn std::fmt::Display| format!("{}: {e}", dir.display());
    let dump = crate::simulate::FrameDump::open(dir, every)?;
    let grid = ritz::pde::MacGrid::read_flags_npy(&dump.flags, dump.walls).map_err(|e| err(&e))?;
    let problem = ritz::pde::PoissonProblem::new(grid).map_err(|e| err(&e))?;
    let mut rhs = Vec::new();
    for path in &dump.frames {
        let mut b = npy::read_npy(path).map_err(|e| err(&e))?.to_f64();
        problem.prepare_rhs(&mut b).map_err(|e| err(&e))?;
        let norm = b.iter().map(|v| v * v).sum::<f64>().sqrt();
        if norm > 0.0 {
            rhs.push(b.iter().map(|v| (v / norm) as f32).collect());
        }
    }
    if rhs.is_empty() {
        return Err(format!("{}: no usable rhs_*.npy frames", dir.display()));
    }
    let energy = ritz::neural::data::energies(&problem, &rhs).map_err(|e| err(&e))?;
    Ok(ritz::neural::data::GeometrySamples::new(
        problem, rhs, energy,
    ))
}
