//! The model zoo behind one interface, and weight files.
//!
//! [`ModelConfig`] names a model and its configuration; [`LearnedModel`] is what the trainer
//! and the preconditioner adapters need from a network: the level plan for a grid and a masked
//! prediction. Weights are stored as a burn record (`<stem>.bin`, full precision) next to a
//! JSON manifest (`<stem>.json`) holding the model configuration, the parameter count, an
//! FNV-1a checksum of the record and free-form training metadata; a file that does not match
//! its checksum is refused with [`NeuralError::Load`].

use crate::dcdm::{DcdmNet, DcdmNetConfig};
use crate::error::NeuralError;
use crate::geometry::GridShape;
use crate::stencil::{GeometryBatch, StencilNet, StencilNetConfig};
use burn::module::{Module, ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::record::{BinBytesRecorder, BinFileRecorder, FullPrecisionSettings, Recorder};
use burn::tensor::{Tensor, backend::Backend};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// A model and its configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum ModelConfig {
    /// The DCDM CNN.
    Dcdm(DcdmNetConfig),
    /// A stencil V-net (`symmetric = true`: the SPD variant).
    Stencil(StencilNetConfig),
}

impl ModelConfig {
    /// "dcdm", "stencil" or "stencil-spd".
    pub fn name(&self) -> &'static str {
        match self {
            ModelConfig::Dcdm(_) => "dcdm",
            ModelConfig::Stencil(c) if c.symmetric => "stencil-spd",
            ModelConfig::Stencil(_) => "stencil",
        }
    }
    /// Spatial dimension.
    pub fn dim(&self) -> usize {
        match self {
            ModelConfig::Dcdm(c) => c.dim,
            ModelConfig::Stencil(c) => c.dim,
        }
    }
    /// The default configuration of a named model ("dcdm", "dcdm-large", "stencil",
    /// "stencil-spd"). Errors: an unknown name or dimension.
    pub fn named(name: &str, dim: usize) -> Result<Self, NeuralError> {
        let cfg = match name {
            "dcdm" => ModelConfig::Dcdm(DcdmNetConfig::new(dim)),
            "dcdm-large" => {
                ModelConfig::Dcdm(DcdmNetConfig::new(dim).with_layout(crate::DcdmLayout::Large))
            }
            "stencil" => ModelConfig::Stencil(StencilNetConfig::new(dim)),
            "stencil-spd" => ModelConfig::Stencil(StencilNetConfig::new(dim).with_symmetric(true)),
            other => {
                return Err(NeuralError::Config(format!(
                    "unknown model {other:?} (dcdm, dcdm-large, stencil, stencil-spd)"
                )));
            }
        };
        match &cfg {
            ModelConfig::Dcdm(c) => c.validate()?,
            ModelConfig::Stencil(c) => c.validate()?,
        }
        Ok(cfg)
    }
}

/// What the trainer and the adapters need from a network.
pub trait LearnedModel<B: Backend>: Module<B> + Clone + core::fmt::Debug {
    /// Level shapes the model needs for a grid (empty for models without a geometry input).
    /// Errors: wrong dimension or grid size.
    fn plan(&self, s: GridShape) -> Result<Vec<GridShape>, NeuralError>;
    /// `[B, 1, D, H, W]` residuals → directions, zero outside fluid.
    fn predict(&self, geo: &GeometryBatch<B>, r: Tensor<B, 5>) -> Tensor<B, 5>;
}

impl<B: Backend> LearnedModel<B> for DcdmNet<B> {
    fn plan(&self, s: GridShape) -> Result<Vec<GridShape>, NeuralError> {
        self.check_shape(s).map(|_| Vec::new())
    }
    fn predict(&self, geo: &GeometryBatch<B>, r: Tensor<B, 5>) -> Tensor<B, 5> {
        let mut r = r * geo.mask.clone();
        if self.has_rms_input() {
            // Each sample × √(fluid cells) / ‖r‖: root-mean-square 1 over the fluid cells.
            let [b, ..] = r.dims();
            let cells = geo.mask.clone().sum().reshape([1, 1, 1, 1, 1]);
            let norm = r.clone().powi_scalar(2).sum_dim(2).sum_dim(3).sum_dim(4);
            let scale = (cells.repeat_dim(0, b) / norm.clamp_min(1e-30)).sqrt();
            r = r * scale;
        }
        let y = self.forward(r.clone());
        let y = if self.has_jacobi_skip() {
            y + r / geo.diag.clone().clamp_min(1.0)
        } else {
            y
        };
        y * geo.mask.clone()
    }
}

impl<B: Backend> LearnedModel<B> for StencilNet<B> {
    fn plan(&self, s: GridShape) -> Result<Vec<GridShape>, NeuralError> {
        StencilNet::plan(self, s)
    }
    fn predict(&self, geo: &GeometryBatch<B>, r: Tensor<B, 5>) -> Tensor<B, 5> {
        self.forward(geo, r)
    }
}

/// A loaded network of either kind.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)] // one per solve or training run; boxing buys nothing
pub enum AnyModel<B: Backend> {
    /// The DCDM CNN.
    Dcdm(DcdmNet<B>),
    /// A stencil net.
    Stencil(StencilNet<B>),
}

impl<B: Backend> AnyModel<B> {
    /// Builds a freshly initialized model. Errors: an invalid configuration.
    pub fn init(cfg: &ModelConfig, device: &B::Device) -> Result<Self, NeuralError> {
        Ok(match cfg {
            ModelConfig::Dcdm(c) => AnyModel::Dcdm(c.init(device)?),
            ModelConfig::Stencil(c) => AnyModel::Stencil(c.init(device)?),
        })
    }
    /// Number of trainable scalars.
    pub fn num_params(&self) -> usize {
        match self {
            AnyModel::Dcdm(m) => m.num_params(),
            AnyModel::Stencil(m) => m.num_params(),
        }
    }
    /// "dcdm" or "stencil".
    pub fn kind(&self) -> &'static str {
        match self {
            AnyModel::Dcdm(_) => "dcdm",
            AnyModel::Stencil(_) => "stencil",
        }
    }
}

/// The manifest stored next to a weights record.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WeightsManifest {
    /// Always "ritz-weights/1".
    pub format: String,
    /// The model.
    pub model: ModelConfig,
    /// Trainable scalars.
    pub params: usize,
    /// FNV-1a 64 of the `.bin` record, hex.
    pub checksum: String,
    /// Training metadata (configuration, final losses), free-form.
    #[serde(default)]
    pub training: serde_json::Value,
}

const FORMAT: &str = "ritz-weights/1";

/// Where a network came from, read from its manifest's training record (fields the record
/// lacks are empty).
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Provenance {
    /// Scenes of the training geometries.
    pub scenes: Vec<String>,
    /// Side of the training grids.
    pub grid_n: Option<usize>,
    /// Epochs trained (this run).
    pub epochs: usize,
    /// Last epoch's training loss.
    pub train_loss: Option<f64>,
    /// Last epoch's validation loss.
    pub val_loss: Option<f64>,
    /// The weights the run started from (`--init`): their stem and checksum.
    pub init: Option<(String, String)>,
}

impl WeightsManifest {
    /// The training provenance recorded in the manifest.
    pub fn provenance(&self) -> Provenance {
        let t = &self.training;
        let data = &t["config"]["data"];
        let last = t["log"].as_array().and_then(|l| l.last());
        Provenance {
            scenes: data["scenes"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|s| s.as_str().map(str::to_lowercase))
                        .collect()
                })
                .unwrap_or_default(),
            grid_n: data["n"].as_u64().map(|n| n as usize),
            epochs: t["log"].as_array().map_or(0, |l| l.len()),
            train_loss: last.and_then(|l| l["train_loss"].as_f64()),
            val_loss: last.and_then(|l| l["val_loss"].as_f64()),
            init: t["init"]["weights"].as_str().map(|w| {
                let sum = t["init"]["checksum"].as_str().unwrap_or_default();
                (w.to_string(), sum.to_string())
            }),
        }
    }

    /// Records the weights a training run started from — their stem, checksum and own
    /// training record — so that the chain of fine-tunings stays readable after the starting
    /// file is overwritten.
    pub fn record_init(&mut self, weights: &str, from: &WeightsManifest) {
        if !self.training.is_object() {
            self.training = serde_json::json!({});
        }
        self.training["init"] = serde_json::json!({
            "weights": weights,
            "checksum": from.checksum,
            "training": from.training,
        });
    }
}

/// Reads the manifest of `stem` (checked against its record), lets `edit` change its
/// training record, and writes it back (the record and its checksum are untouched).
///
/// Errors: the checks of [`read_manifest`]; an unwritable file.
pub fn update_manifest(
    stem: &Path,
    edit: impl FnOnce(&mut WeightsManifest),
) -> Result<(), NeuralError> {
    let mut m = read_manifest(stem)?;
    let (format, model, params, checksum) = (
        m.format.clone(),
        m.model.clone(),
        m.params,
        m.checksum.clone(),
    );
    edit(&mut m);
    (m.format, m.model, m.params, m.checksum) = (format, model, params, checksum);
    let json = paths(stem).1;
    let text = serde_json::to_string_pretty(&m).map_err(|e| save_err(&json, e))?;
    std::fs::write(&json, text).map_err(|e| save_err(&json, e))
}

/// FNV-1a, 64 bit. Cost: one pass over `bytes`.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

fn paths(stem: &Path) -> (PathBuf, PathBuf) {
    (stem.with_extension("bin"), stem.with_extension("json"))
}

fn save_err(path: &Path, e: impl std::fmt::Display) -> NeuralError {
    NeuralError::Save {
        path: path.display().to_string(),
        reason: e.to_string(),
    }
}

fn load_err(what: &'static str, path: &Path, e: impl std::fmt::Display) -> NeuralError {
    NeuralError::Load {
        what,
        path: path.display().to_string(),
        reason: e.to_string(),
    }
}

/// Saves `model` as `<stem>.bin` + `<stem>.json`. Errors: [`NeuralError::Save`].
pub fn save_weights<B: Backend, M: Module<B>>(
    model: &M,
    config: &ModelConfig,
    training: serde_json::Value,
    stem: &Path,
) -> Result<(), NeuralError> {
    let (bin, json) = paths(stem);
    // Also materializes lazily initialized parameters, so the saved record is this model.
    if !params_finite(model) {
        return Err(NeuralError::NonFinite("weights to save".into()));
    }
    if let Some(dir) = stem.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| save_err(dir, e))?;
    }
    let recorder = BinFileRecorder::<FullPrecisionSettings>::new();
    model
        .clone()
        .save_file(bin.clone(), &recorder)
        .map_err(|e| save_err(&bin, e))?;
    let bytes = std::fs::read(&bin).map_err(|e| save_err(&bin, e))?;
    let manifest = WeightsManifest {
        format: FORMAT.into(),
        model: config.clone(),
        params: model.num_params(),
        checksum: format!("{:016x}", fnv1a64(&bytes)),
        training,
    };
    let text = serde_json::to_string_pretty(&manifest).map_err(|e| save_err(&json, e))?;
    std::fs::write(&json, text).map_err(|e| save_err(&json, e))
}

/// Reads and checks a manifest and its record's checksum.
pub fn read_manifest(stem: &Path) -> Result<WeightsManifest, NeuralError> {
    read_checked(stem).map(|(m, _)| m)
}

/// The manifest and the record's bytes, checked against the manifest's format and checksum.
fn read_checked(stem: &Path) -> Result<(WeightsManifest, Vec<u8>), NeuralError> {
    let (m, bytes) = read_parts(stem)?;
    check_checksum(&m, &bytes, &paths(stem).0)?;
    Ok((m, bytes))
}

/// The parsed manifest and the record's bytes (their size checked against the memory
/// available first).
fn read_parts(stem: &Path) -> Result<(WeightsManifest, Vec<u8>), NeuralError> {
    let (bin, json) = paths(stem);
    let text =
        std::fs::read_to_string(&json).map_err(|e| load_err("weights manifest", &json, e))?;
    let m = parse_manifest(&text, &json)?;
    let len = std::fs::metadata(&bin)
        .map_err(|e| load_err("weights", &bin, e))?
        .len();
    ritz_linalg::mem::check(|| format!("weights {}", bin.display()), Some(len))
        .map_err(|e| load_err("weights", &bin, e))?;
    let bytes = std::fs::read(&bin).map_err(|e| load_err("weights", &bin, e))?;
    Ok((m, bytes))
}

/// Parses a weights manifest (`path` names it in errors). Errors: malformed JSON, an unknown
/// format, a model configuration out of range.
pub fn parse_manifest(text: &str, path: &Path) -> Result<WeightsManifest, NeuralError> {
    let m: WeightsManifest =
        serde_json::from_str(text).map_err(|e| load_err("weights manifest", path, e))?;
    if m.format != FORMAT {
        return Err(load_err(
            "weights manifest",
            path,
            format!("format {:?}, expected {FORMAT:?}", m.format),
        ));
    }
    match &m.model {
        ModelConfig::Dcdm(c) => c.validate(),
        ModelConfig::Stencil(c) => c.validate(),
    }
    .map_err(|e| load_err("weights manifest", path, e))?;
    Ok(m)
}

fn check_checksum(m: &WeightsManifest, bytes: &[u8], bin: &Path) -> Result<(), NeuralError> {
    let sum = format!("{:016x}", fnv1a64(bytes));
    if sum != m.checksum {
        return Err(load_err(
            "weights",
            bin,
            format!(
                "checksum {sum} does not match the manifest's {} (corrupted or replaced file)",
                m.checksum
            ),
        ));
    }
    Ok(())
}

/// Sets every float parameter to one value, keeping the ids.
struct Fill(f32);

impl<B: Backend> ModuleMapper<B> for Fill {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
        let (id, t, mapper) = param.consume();
        Param::from_mapped_value(id, t.zeros_like().add_scalar(self.0), mapper)
    }
}

/// Collects the ids of every parameter.
struct Ids(Vec<ParamId>);

impl<B: Backend> ModuleVisitor<B> for Ids {
    fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<B, D>>) {
        self.0.push(p.id);
    }
    fn visit_int<const D: usize>(&mut self, p: &Param<Tensor<B, D, burn::tensor::Int>>) {
        self.0.push(p.id);
    }
    fn visit_bool<const D: usize>(&mut self, p: &Param<Tensor<B, D, burn::tensor::Bool>>) {
        self.0.push(p.id);
    }
}

/// Checks record bytes against the layout of `model`'s own record *before* burn decodes them
/// (burn's decoder and `load_record` panic on a record of another architecture, and accept
/// an edited tensor shape). The record of a given architecture is byte-for-byte fixed except
/// for the parameter values and ids: the layout is found by encoding `model` twice with every
/// parameter set to two values whose bytes all differ, and locating its ids. The record must
/// have the same length, the same bytes everywhere else, and well-formed ids. Cost: two
/// encodings of the model (its parameter count in bytes, twice).
fn check_record_layout<B: Backend, M: Module<B>>(
    model: &M,
    bytes: &[u8],
    bin: &Path,
) -> Result<(), NeuralError> {
    // Encoded exactly as `save_weights` writes (the recorder's name is part of the record's
    // metadata), through a temporary file.
    static SEQ: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let tmp = std::env::temp_dir().join(format!(
        "ritz-layout-{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    let encode = |value: f32| -> Result<Vec<u8>, NeuralError> {
        let recorder = BinFileRecorder::<FullPrecisionSettings>::new();
        let m = model.clone().map(&mut Fill(value));
        let file = tmp.with_extension("bin");
        let res = m
            .save_file(tmp.clone(), &recorder)
            .map_err(|e| format!("{e:?}"))
            .and_then(|()| std::fs::read(&file).map_err(|e| e.to_string()));
        std::fs::remove_file(&file).ok();
        res.map_err(|e| load_err("weights", bin, format!("encoding the model's layout: {e}")))
    };
    let zeros = encode(0.0)?;
    let ones = encode(f32::from_bits(0x0101_0101))?;
    let bad = |reason: String| {
        Err(load_err(
            "weights",
            bin,
            format!("{reason}: not a record of the manifest's model (edited manifest or record?)"),
        ))
    };
    if bytes.len() != zeros.len() || ones.len() != zeros.len() {
        return bad(format!(
            "{} bytes where the model's record has {}",
            bytes.len(),
            zeros.len()
        ));
    }
    // Id positions: each id is a bincode string, a length byte then its characters.
    let mut ids = Ids(Vec::new());
    model.visit(&mut ids);
    let mut is_id = vec![false; zeros.len()];
    let mut id_spans = Vec::new();
    let mut from = 0;
    for id in ids.0 {
        let text = id.serialize();
        let mut pat = vec![text.len() as u8];
        pat.extend_from_slice(text.as_bytes());
        let Some(at) = zeros[from..]
            .windows(pat.len())
            .position(|w| w == pat.as_slice())
            .map(|p| p + from)
        else {
            return bad(format!(
                "parameter id {text} not found in the model's own record"
            ));
        };
        is_id[at + 1..at + pat.len()].fill(true);
        id_spans.push(at + 1..at + pat.len());
        from = at + pat.len();
    }
    if let Some(i) =
        (0..zeros.len()).find(|&i| zeros[i] == ones[i] && !is_id[i] && bytes[i] != zeros[i])
    {
        return bad(format!("byte {i} differs from the model's record layout"));
    }
    for span in id_spans {
        let ok = std::str::from_utf8(&bytes[span.clone()])
            .ok()
            .and_then(ParamId::try_deserialize)
            .is_some();
        if !ok {
            return bad(format!("malformed parameter id at bytes {span:?}"));
        }
    }
    Ok(())
}

/// Decodes `bytes` (a record of `model`'s architecture, read by the caller) into `model`,
/// checking the bytes against the model's record layout first, so that no input makes burn
/// panic. Errors: [`NeuralError::Load`] naming `path`.
pub fn load_record_bytes<B: Backend, M: Module<B>>(
    model: M,
    bytes: Vec<u8>,
    bin: &Path,
    device: &B::Device,
) -> Result<M, NeuralError> {
    check_record_layout(&model, &bytes, bin)?;
    let recorder = BinBytesRecorder::<FullPrecisionSettings>::default();
    let record = Recorder::<B>::load(&recorder, bytes, device)
        .map_err(|e| load_err("weights", bin, format!("{e:?}")))?;
    Ok(model.load_record(record))
}

/// Loads `<stem>.bin` + `<stem>.json`: checks the manifest and checksum, builds the model,
/// loads the record and rejects non-finite parameters.
///
/// Errors: [`NeuralError::Load`] for a missing, corrupted or mismatched file,
/// [`NeuralError::NonFinite`] for NaN/Inf weights.
pub fn load_weights<B: Backend>(
    stem: &Path,
    device: &B::Device,
) -> Result<(WeightsManifest, AnyModel<B>), NeuralError> {
    let (manifest, bytes) = read_parts(stem)?;
    decode_weights(manifest, bytes, &paths(stem).0, device)
}

/// Builds the model of a parsed manifest and loads `bytes` (its record; `bin` names it in
/// errors) into it: the checksum, the record's layout against the model's own, the parameter
/// count and the finiteness of every parameter are checked, in that order, so that no input
/// reaches burn's decoder unchecked. Cost: the model's initialization and two encodings of it.
///
/// Errors: [`NeuralError::Load`], [`NeuralError::NonFinite`], an invalid configuration.
pub fn decode_weights<B: Backend>(
    manifest: WeightsManifest,
    bytes: Vec<u8>,
    bin: &Path,
    device: &B::Device,
) -> Result<(WeightsManifest, AnyModel<B>), NeuralError> {
    check_checksum(&manifest, &bytes, bin)?;
    let bin = bin.to_path_buf();
    let model = match AnyModel::<B>::init(&manifest.model, device)? {
        AnyModel::Dcdm(m) => AnyModel::Dcdm(load_record_bytes(m, bytes, &bin, device)?),
        AnyModel::Stencil(m) => AnyModel::Stencil(load_record_bytes(m, bytes, &bin, device)?),
    };
    if model.num_params() != manifest.params {
        return Err(load_err(
            "weights",
            &bin,
            format!(
                "{} parameters, manifest says {}",
                model.num_params(),
                manifest.params
            ),
        ));
    }
    let finite = match &model {
        AnyModel::Dcdm(m) => params_finite(m),
        AnyModel::Stencil(m) => params_finite(m),
    };
    if !finite {
        return Err(NeuralError::NonFinite(format!("weights {}", bin.display())));
    }
    Ok((manifest, model))
}

/// True if every parameter of `m` is finite. Reading the parameters materializes lazily
/// initialized ones (burn initializes on first use; a clone of an unmaterialized parameter
/// would draw its own random values).
pub fn params_finite<B: Backend, M: Module<B>>(m: &M) -> bool {
    struct Check(bool);
    impl<B: Backend> burn::module::ModuleVisitor<B> for Check {
        fn visit_float<const D: usize>(&mut self, param: &burn::module::Param<Tensor<B, D>>) {
            if let Ok(v) = param.val().into_data().to_vec::<f32>() {
                self.0 &= v.iter().all(|x| x.is_finite());
            } else {
                self.0 = false;
            }
        }
    }
    let mut c = Check(true);
    m.visit(&mut c);
    c.0
}
