//! The trained weights shipped with ritz, embedded in the library: each
//! `weights/<model>-<dim>d.{json,bin}` pair is compiled in with `include_bytes!`, so that a
//! program depending on this crate finds them wherever it runs, outside this checkout too.
//! They are checked and decoded like files ([`decode_weights`]): the manifest, the checksum,
//! the record's layout against the model's own, the parameter count and finiteness.
//!
//! Cost: about 0.6 MB of binary size; loading one costs its model's initialization and two
//! encodings of it (milliseconds).

use crate::error::NeuralError;
use crate::model::{AnyModel, WeightsManifest, decode_weights, parse_manifest};
use burn::tensor::backend::Backend;
use std::path::Path;

/// One shipped network: its model name, dimension, manifest and record.
struct Shipped {
    name: &'static str,
    dim: usize,
    manifest: &'static str,
    record: &'static [u8],
}

macro_rules! shipped {
    ($name:literal, $dim:literal) => {
        Shipped {
            name: $name,
            dim: $dim,
            manifest: include_str!(concat!("../weights/", $name, "-", $dim, "d.json")),
            record: include_bytes!(concat!("../weights/", $name, "-", $dim, "d.bin")),
        }
    };
}

const SHIPPED: [Shipped; 6] = [
    shipped!("dcdm", 2),
    shipped!("dcdm", 3),
    shipped!("stencil", 2),
    shipped!("stencil", 3),
    shipped!("stencil-spd", 2),
    shipped!("stencil-spd", 3),
];

/// The shipped relaxation schedules of the `learned` solver, `weights/learned-<dim>d.json`.
const SHIPPED_SCHEDULES: [(usize, &str); 2] = [
    (2, include_str!("../weights/learned-2d.json")),
    (3, include_str!("../weights/learned-3d.json")),
];

/// The shipped relaxation schedule of the `learned` solver (MGPCG with learned weights,
/// [`crate::schedule`]) for dimension `dim`.
///
/// Errors: no shipped schedule for `dim` ([`NeuralError::Config`]); the checks of
/// [`ScheduleFile::parse`](crate::schedule::ScheduleFile::parse) (they hold for the shipped
/// files).
///
/// ```
/// let file = ritz_neural_precond::shipped::load_shipped_schedule(3)?;
/// assert_eq!(file.dim, 3);
/// file.learned.schedule.validate()?;
/// assert!(ritz_neural_precond::shipped::load_shipped_schedule(4).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn load_shipped_schedule(dim: usize) -> Result<crate::schedule::ScheduleFile, NeuralError> {
    let Some((_, text)) = SHIPPED_SCHEDULES.iter().find(|(d, _)| *d == dim) else {
        return Err(NeuralError::Config(format!(
            "no shipped relaxation schedule in {dim}D (shipped: 2D, 3D)"
        )));
    };
    crate::schedule::ScheduleFile::parse(text, &format!("<shipped>/learned-{dim}d.json"))
}

/// The shipped networks as `(model name, dimension)`: dcdm, stencil and stencil-spd in 2D and
/// 3D.
pub fn shipped() -> impl Iterator<Item = (&'static str, usize)> {
    SHIPPED.iter().map(|s| (s.name, s.dim))
}

/// Loads the shipped network `name` ("dcdm", "stencil", "stencil-spd") of dimension `dim`.
///
/// Errors: no such shipped network ([`NeuralError::Config`]); the checks of
/// [`decode_weights`] (they hold for the shipped files).
///
/// ```
/// use ritz_neural_precond::burn::backend::Flex;
/// use ritz_neural_precond::{AnyModel, shipped::load_shipped};
/// let (manifest, model) = load_shipped::<Flex>("stencil", 2, &Default::default()).unwrap();
/// assert!(matches!(model, AnyModel::Stencil(_)));
/// assert_eq!(manifest.model.name(), "stencil");
/// assert!(load_shipped::<Flex>("stencil", 4, &Default::default()).is_err());
/// ```
pub fn load_shipped<B: Backend>(
    name: &str,
    dim: usize,
    device: &B::Device,
) -> Result<(WeightsManifest, AnyModel<B>), NeuralError> {
    let Some(s) = SHIPPED.iter().find(|s| s.name == name && s.dim == dim) else {
        let have: Vec<String> = shipped().map(|(n, d)| format!("{n}-{d}d")).collect();
        return Err(NeuralError::Config(format!(
            "no shipped weights for {name} in {dim}D (shipped: {})",
            have.join(", ")
        )));
    };
    let stem = format!("<shipped>/{name}-{dim}d");
    let manifest = parse_manifest(s.manifest, Path::new(&format!("{stem}.json")))?;
    decode_weights(
        manifest,
        s.record.to_vec(),
        Path::new(&format!("{stem}.bin")),
        device,
    )
}
