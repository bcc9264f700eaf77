//! The trainer: a hand-written Adam loop over a [`Dataset`] with one of the losses of
//! [`crate::loss`] (the paper's scale-invariant loss, the one-step energy loss, or the energy
//! loss unrolled over `unroll` steps of the iteration) and a constant or cosine step size.
//! A run starts from the model the caller passes: fresh, or loaded from weights named in
//! `init` for fine-tuning.
//!
//! - The split is disjoint: with two or more geometries the last `val_fraction` of them are
//!   held out whole (validation measures unseen geometries); with one geometry, the last
//!   `val_fraction` of its samples.
//! - Each batch holds samples of one geometry (its stencils are computed once per step and
//!   broadcast); each epoch shuffles the samples within geometries and the batches with a
//!   generator seeded by `(seed, epoch)`, so an epoch is the same whether or not training was
//!   resumed.
//! - After every epoch the model, the optimizer state and the log are checkpointed in
//!   `<out>/checkpoint/` (record files first, then `state.json` by atomic rename); `resume`
//!   continues after the last completed epoch, so a kill loses at most the epoch in progress.
//! - At the end the weights are saved as `<out>/weights.{bin,json}` (the manifest carries the
//!   training configuration and the log), with `<out>/log.json`.
//!
//! Progress is reported through a callback; drawing (progress bars, curves) is the caller's.

use crate::data::{Dataset, DatasetSpec};
use crate::error::NeuralError;
use crate::loss::{energy_loss, scale_invariant_loss, unrolled_energy_loss};
use crate::model::{LearnedModel, ModelConfig, fnv1a64, load_record_bytes, save_weights};
use crate::stencil::{GeometryBatch, grid_tensor};
use burn::module::AutodiffModule;
use burn::optim::{AdamConfig, GradientsParams, Optimizer};
use burn::record::{BinFileRecorder, FullPrecisionSettings, Recorder};
use burn::tensor::backend::AutodiffBackend;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Everything a training run needs; saved with the weights.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainConfig {
    /// The model.
    pub model: ModelConfig,
    /// The data.
    pub data: DatasetSpec,
    /// Adam's moments and ε.
    pub optimizer: AdamConfig,
    /// Step size.
    pub learning_rate: f64,
    /// Samples per step.
    pub batch_size: usize,
    /// Passes over the training samples.
    pub epochs: usize,
    /// Seed of the initialization and the shuffles.
    pub seed: u64,
    /// Fraction held out for validation.
    pub val_fraction: f64,
    /// The training loss.
    #[serde(default)]
    pub loss: LossKind,
    /// How the step size evolves over the run.
    #[serde(default)]
    pub schedule: LrSchedule,
    /// Steps of the conjugate-direction iteration the energy loss follows
    /// ([`crate::loss::unrolled_energy_loss`]); 1 is the one-step loss. Cost per batch grows
    /// linearly with it.
    #[serde(default = "one")]
    pub unroll: usize,
    /// Weights the run started from (`<stem>` of a `.bin`/`.json` pair), recorded for the
    /// log; the caller loads them. `None`: a fresh initialization.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init: Option<String>,
}

fn one() -> usize {
    1
}

/// Which loss to train on (see [`crate::loss`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LossKind {
    /// The DCDM paper's `‖b − αAq‖²`.
    #[default]
    Residual,
    /// The A-norm error after the step, `1 − (qᵀb)²/(qᵀAq · bᵀA⁻¹b)`.
    Energy,
}

/// Step-size schedule over the run's optimizer steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LrSchedule {
    /// `learning_rate` throughout.
    #[default]
    Constant,
    /// Cosine decay from `learning_rate` to 1 % of it at the last step of the last epoch.
    /// Extending a finished run with more epochs stretches the decay from that point on.
    Cosine,
}

impl LrSchedule {
    /// Step size at optimizer step `t` of `total` (0-based).
    pub fn rate(self, lr: f64, t: usize, total: usize) -> f64 {
        match self {
            LrSchedule::Constant => lr,
            LrSchedule::Cosine => {
                let x = t as f64 / (total.max(2) - 1) as f64;
                let floor = 0.01 * lr;
                floor + 0.5 * (lr - floor) * (1.0 + (std::f64::consts::PI * x.min(1.0)).cos())
            }
        }
    }
}

impl TrainConfig {
    /// Checks ranges. Errors: [`NeuralError::Config`].
    pub fn validate(&self) -> Result<(), NeuralError> {
        self.data.validate()?;
        if self.model.dim() != self.data.dim {
            return Err(NeuralError::Dimension {
                model: self.model.dim(),
                grid: self.data.dim,
            });
        }
        if !(self.learning_rate > 0.0 && self.learning_rate.is_finite()) {
            return Err(NeuralError::Config("learning_rate must be positive".into()));
        }
        if self.batch_size == 0 || self.epochs == 0 {
            return Err(NeuralError::Config(
                "batch_size and epochs must be positive".into(),
            ));
        }
        if self.unroll == 0 || (self.unroll > 1 && self.loss != LossKind::Energy) {
            return Err(NeuralError::Config(
                "unroll must be positive, and above 1 only with the energy loss".into(),
            ));
        }
        if !(0.0..1.0).contains(&self.val_fraction) {
            return Err(NeuralError::Config("val_fraction must be in [0, 1)".into()));
        }
        Ok(())
    }
}

/// One line of the training log.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EpochLog {
    /// 1-based epoch.
    pub epoch: usize,
    /// Mean training loss over the epoch's batches.
    pub train_loss: f64,
    /// Mean validation loss after the epoch (`None`, JSON `null`, without validation data).
    pub val_loss: Option<f64>,
    /// Wall seconds of the epoch.
    pub seconds: f64,
}

/// The checkpointed state.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainState {
    /// The run's configuration.
    pub config: TrainConfig,
    /// Completed epochs.
    pub epochs_done: usize,
    /// One entry per completed epoch.
    pub log: Vec<EpochLog>,
    /// FNV-1a 64 checksums (hex) of the last checkpoint's model and optimizer records, checked
    /// before a resume loads them.
    #[serde(default)]
    pub checkpoint: Option<CheckpointSums>,
}

/// Checksums of one checkpoint's records.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CheckpointSums {
    /// Of `model-<epoch>.bin`.
    pub model: String,
    /// Of `optim-<epoch>.bin`.
    pub optim: String,
}

/// Reads a checkpoint record and checks it against its checksum.
fn read_checkpoint(path: &Path, what: &'static str, sum: &str) -> Result<Vec<u8>, NeuralError> {
    let load = |reason: String| NeuralError::Load {
        what,
        path: path.display().to_string(),
        reason,
    };
    let bytes = std::fs::read(path).map_err(|e| load(e.to_string()))?;
    let got = format!("{:016x}", fnv1a64(&bytes));
    if got != sum {
        return Err(load(format!(
            "checksum {got} does not match the training state's {sum} (corrupted checkpoint)"
        )));
    }
    Ok(bytes)
}

/// FNV-1a checksum (hex) of a file just written.
fn file_sum(path: &Path) -> Result<String, NeuralError> {
    let bytes = std::fs::read(path).map_err(|e| io_err(path, e))?;
    Ok(format!("{:016x}", fnv1a64(&bytes)))
}

/// Progress reported to the caller.
#[derive(Debug, Clone)]
pub enum TrainEvent {
    /// Training starts (or resumes) at `epoch` (1-based) with so many batches per epoch.
    Start {
        /// First epoch to run.
        epoch: usize,
        /// Batches per epoch.
        batches: usize,
        /// Training / validation samples.
        samples: (usize, usize),
    },
    /// A batch finished.
    Batch {
        /// Epoch (1-based).
        epoch: usize,
        /// Batch within the epoch (1-based).
        batch: usize,
        /// Its loss.
        loss: f64,
    },
    /// An epoch finished and was checkpointed.
    Epoch(EpochLog),
}

fn ckpt_dir(out: &Path) -> PathBuf {
    out.join("checkpoint")
}

fn io_err(path: &Path, e: impl std::fmt::Display) -> NeuralError {
    NeuralError::Save {
        path: path.display().to_string(),
        reason: e.to_string(),
    }
}

/// Reads `<out>/checkpoint/state.json` if present.
pub fn read_state(out: &Path) -> Result<Option<TrainState>, NeuralError> {
    let p = ckpt_dir(out).join("state.json");
    if !p.exists() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&p).map_err(|e| NeuralError::Load {
        what: "training state",
        path: p.display().to_string(),
        reason: e.to_string(),
    })?;
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| NeuralError::Load {
            what: "training state",
            path: p.display().to_string(),
            reason: e.to_string(),
        })
}

/// The checkpointed state of `out` that a run with `cfg` may resume, if any: everything but
/// the epoch count must match (resuming with more epochs extends a finished run). Call it
/// before writing anything into `out`, so that a refused resume leaves the run as it was.
///
/// Errors: an unreadable state, or a state made with another configuration.
pub fn resumable_state(out: &Path, cfg: &TrainConfig) -> Result<Option<TrainState>, NeuralError> {
    let Some(prev) = read_state(out)? else {
        return Ok(None);
    };
    let same = TrainConfig {
        epochs: cfg.epochs,
        ..prev.config.clone()
    };
    if serde_json::to_value(&same).ok() != serde_json::to_value(cfg).ok() {
        return Err(NeuralError::Config(format!(
            "cannot resume {}: the checkpoint was made with a different configuration",
            out.display()
        )));
    }
    Ok(Some(prev))
}

/// Sample references: (geometry, sample).
type Split = (Vec<(usize, usize)>, Vec<(usize, usize)>);

fn split(data: &Dataset, val_fraction: f64) -> Split {
    let g = data.geometries.len();
    let mut train = Vec::new();
    let mut val = Vec::new();
    if g >= 2 {
        let nval = ((g as f64 * val_fraction).round() as usize).min(g - 1);
        for (gi, gs) in data.geometries.iter().enumerate() {
            let dst = if gi >= g - nval { &mut val } else { &mut train };
            dst.extend((0..gs.rhs.len()).map(|s| (gi, s)));
        }
    } else {
        let n = data.geometries[0].rhs.len();
        let nval = ((n as f64 * val_fraction).round() as usize).min(n.saturating_sub(1));
        train.extend((0..n - nval).map(|s| (0, s)));
        val.extend((n - nval..n).map(|s| (0, s)));
    }
    (train, val)
}

/// The batches of one epoch: each geometry's samples shuffled and cut into batches of at most
/// `batch` (a batch holds one geometry, so its stencils are computed once and broadcast over
/// the samples), then the batches shuffled. Seeded by `(seed, epoch)`.
fn epoch_batches(
    items: &[(usize, usize)],
    batch: usize,
    seed: u64,
    epoch: usize,
) -> Vec<Vec<(usize, usize)>> {
    let mut rng = StdRng::seed_from_u64(seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let mut by_geo: std::collections::BTreeMap<usize, Vec<(usize, usize)>> = Default::default();
    for &it in items {
        by_geo.entry(it.0).or_default().push(it);
    }
    let mut out = Vec::new();
    for (_, mut v) in by_geo {
        if epoch > 0 {
            v.shuffle(&mut rng);
        }
        out.extend(v.chunks(batch).map(|c| c.to_vec()));
    }
    if epoch > 0 {
        out.shuffle(&mut rng);
    }
    out
}

fn batch_loss<B: AutodiffBackend, M: LearnedModel<B>>(
    model: &M,
    data: &Dataset,
    geos: &[GeometryBatch<B>],
    items: &[(usize, usize)],
    cfg: &TrainConfig,
    device: &B::Device,
) -> Result<burn::tensor::Tensor<B, 1>, NeuralError> {
    // Every batch holds one geometry (see `epoch_batches`).
    let geo = &geos[items[0].0];
    let shape = geo.shape;
    let rhs: Vec<&[f32]> = items
        .iter()
        .map(|&(g, s)| data.geometries[g].rhs[s].as_slice())
        .collect();
    let b = grid_tensor::<B>(&rhs, shape.dhw, device);
    Ok(match cfg.loss {
        LossKind::Residual => scale_invariant_loss(model.predict(geo, b.clone()), b, geo),
        LossKind::Energy => {
            let e: Vec<f32> = items
                .iter()
                .map(|&(g, s)| data.geometries[g].energy[s] as f32)
                .collect();
            let n = e.len();
            let e = burn::tensor::Tensor::<B, 1>::from_data(
                burn::tensor::TensorData::new(e, [n]),
                device,
            );
            if cfg.unroll > 1 {
                unrolled_energy_loss(|r| model.predict(geo, r), b, e, geo, cfg.unroll)
            } else {
                energy_loss(model.predict(geo, b.clone()), b, e, geo)
            }
        }
    })
}

fn scalar<B: AutodiffBackend>(t: burn::tensor::Tensor<B, 1>) -> f64 {
    t.into_data()
        .to_vec::<f32>()
        .map_or(f64::NAN, |v| v[0] as f64)
}

/// Trains `model` (freshly initialized by the caller) on `data`, writing checkpoints and the
/// final weights under `out`. With `resume`, continues from `<out>/checkpoint` if it exists
/// (the configuration must match, except the epoch count: a larger one extends the run).
///
/// Errors: invalid configuration or data, a non-finite loss (the run stops, the last
/// checkpoint stays), file errors.
pub fn train<B, M>(
    mut model: M,
    cfg: &TrainConfig,
    data: &Dataset,
    out: &Path,
    resume: bool,
    device: &B::Device,
    observer: &mut dyn FnMut(TrainEvent),
) -> Result<TrainState, NeuralError>
where
    B: AutodiffBackend,
    M: LearnedModel<B> + AutodiffModule<B>,
{
    cfg.validate()?;
    if data.is_empty() {
        return Err(NeuralError::Config("empty dataset".into()));
    }
    let ck = ckpt_dir(out);
    std::fs::create_dir_all(&ck).map_err(|e| io_err(&ck, e))?;
    let recorder = BinFileRecorder::<FullPrecisionSettings>::new();
    let mut optim = cfg.optimizer.init::<B, M>();
    let mut state = TrainState {
        config: cfg.clone(),
        epochs_done: 0,
        log: Vec::new(),
        checkpoint: None,
    };
    if resume && let Some(prev) = resumable_state(out, cfg)? {
        let e = prev.epochs_done;
        let sums = prev.checkpoint.clone().ok_or_else(|| NeuralError::Load {
            what: "training state",
            path: ck.join("state.json").display().to_string(),
            reason: "no checkpoint checksums (a checkpoint of an older version): start anew".into(),
        })?;
        // Both records are checked against their checksums, and the model record against the
        // model's layout, before burn decodes them.
        let mpath = ck.join(format!("model-{e}.bin"));
        let mbytes = read_checkpoint(&mpath, "checkpoint model", &sums.model)?;
        model = load_record_bytes(model, mbytes, &mpath, device)?;
        let opath = ck.join(format!("optim-{e}.bin"));
        read_checkpoint(&opath, "checkpoint optimizer", &sums.optim)?;
        let orec = recorder
            .load(opath.clone(), device)
            .map_err(|err| NeuralError::Load {
                what: "checkpoint optimizer",
                path: opath.display().to_string(),
                reason: format!("{err:?}"),
            })?;
        optim = optim.load_record(orec);
        state = prev;
        state.config.epochs = cfg.epochs;
    }
    // Geometry tensors (level hierarchy, coarsest inverse) are fixed: build them once.
    let geos = data
        .geometries
        .iter()
        .map(|g| GeometryBatch::<B>::new(&g.geometry, model.plan(g.geometry.shape)?, device))
        .collect::<Result<Vec<_>, NeuralError>>()?;
    let (train_items, val_items) = split(data, cfg.val_fraction);
    let batches = epoch_batches(&train_items, cfg.batch_size, cfg.seed, 1).len();
    observer(TrainEvent::Start {
        epoch: state.epochs_done + 1,
        batches,
        samples: (train_items.len(), val_items.len()),
    });
    for epoch in state.epochs_done + 1..=cfg.epochs {
        let t0 = Instant::now();
        let order = epoch_batches(&train_items, cfg.batch_size, cfg.seed, epoch);
        let mut total = 0.0;
        for (bi, chunk) in order.iter().enumerate() {
            let loss = batch_loss::<B, M>(&model, data, &geos, chunk, cfg, device)?;
            let grads = loss.backward();
            let value = scalar(loss);
            if !value.is_finite() {
                return Err(NeuralError::NonFinite(format!(
                    "training loss at epoch {epoch}"
                )));
            }
            let grads = GradientsParams::from_grads(grads, &model);
            let step = (epoch - 1) * order.len() + bi;
            let lr = cfg
                .schedule
                .rate(cfg.learning_rate, step, cfg.epochs * order.len());
            model = optim.step(lr, model, grads);
            total += value;
            observer(TrainEvent::Batch {
                epoch,
                batch: bi + 1,
                loss: value,
            });
        }
        let mut val = 0.0;
        for chunk in &epoch_batches(&val_items, cfg.batch_size, cfg.seed, 0) {
            val += scalar(batch_loss::<B, M>(&model, data, &geos, chunk, cfg, device)?)
                * chunk.len() as f64;
        }
        let entry = EpochLog {
            epoch,
            train_loss: total / order.len() as f64,
            val_loss: (!val_items.is_empty()).then(|| val / val_items.len() as f64),
            seconds: t0.elapsed().as_secs_f64(),
        };
        // Checkpoint: records first, then the state by atomic rename, then old records.
        let mpath = ck.join(format!("model-{epoch}"));
        model
            .clone()
            .save_file(mpath.clone(), &recorder)
            .map_err(|e| io_err(&mpath, format!("{e:?}")))?;
        let opath = ck.join(format!("optim-{epoch}"));
        recorder
            .record(optim.to_record(), opath.clone())
            .map_err(|e| io_err(&opath, format!("{e:?}")))?;
        state.epochs_done = epoch;
        state.log.push(entry.clone());
        state.checkpoint = Some(CheckpointSums {
            model: file_sum(&mpath.with_extension("bin"))?,
            optim: file_sum(&opath.with_extension("bin"))?,
        });
        let tmp = ck.join("state.json.tmp");
        let text = serde_json::to_string_pretty(&state).map_err(|e| io_err(&tmp, e))?;
        std::fs::write(&tmp, text).map_err(|e| io_err(&tmp, e))?;
        std::fs::rename(&tmp, ck.join("state.json")).map_err(|e| io_err(&tmp, e))?;
        if epoch > 1 {
            std::fs::remove_file(ck.join(format!("model-{}.bin", epoch - 1))).ok();
            std::fs::remove_file(ck.join(format!("optim-{}.bin", epoch - 1))).ok();
        }
        observer(TrainEvent::Epoch(entry));
    }
    let training = serde_json::json!({
        "config": cfg,
        "log": state.log,
    });
    save_weights::<B, M>(&model, &cfg.model, training, &out.join("weights"))?;
    let lpath = out.join("log.json");
    let text = serde_json::to_string_pretty(&state.log).map_err(|e| io_err(&lpath, e))?;
    std::fs::write(&lpath, text).map_err(|e| io_err(&lpath, e))?;
    Ok(state)
}

/// Loads or generates the dataset of `cfg` in `dir`.
pub fn dataset_for(cfg: &TrainConfig, dir: &Path) -> Result<Dataset, NeuralError> {
    Dataset::load_or_generate(&cfg.data, dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_schedule_decays_from_the_rate_to_one_percent() {
        let s = LrSchedule::Cosine;
        assert_eq!(s.rate(2e-3, 0, 100), 2e-3);
        assert!((s.rate(2e-3, 99, 100) - 2e-5).abs() < 1e-15);
        assert!((s.rate(2e-3, 50, 101) - 0.5 * (2e-3 + 2e-5)).abs() < 1e-15);
        let r: Vec<f64> = (0..100).map(|t| s.rate(2e-3, t, 100)).collect();
        assert!(r.windows(2).all(|w| w[1] < w[0]));
        assert_eq!(LrSchedule::Constant.rate(2e-3, 77, 100), 2e-3);
    }
}
