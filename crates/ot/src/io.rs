//! Transport problems from files, and weighted point clouds.
//!
//! A problem folder holds either
//! * a **cost-matrix input**: `C.npy` (`n × m`), `a.npy` (`n`), `b.npy` (`m`); or
//! * a **point-cloud input**: `X.npy` (`n × d`), `Y.npy` (`m × d`), optional weights
//!   `a.npy`, `b.npy` (uniform when absent), and a [`GroundCost`] chosen by the caller.
//!
//! All arrays are float64 or float32 npy (C order). Weights are normalized to mass 1 when
//! they come from files of clouds; a cost-matrix input keeps its masses (they must agree, as
//! in [`OtProblem::new`]). [`CostScale::Max`] divides the costs by their maximum (the usual
//! `C / C.max()` of POT scripts). Every malformed file is a typed error naming it.

use crate::error::OtError;
use crate::problem::{GroundCost, OtProblem};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use ritz_linalg::io::npy::{read_npy, write_npy_f64};
use std::fmt;
use std::path::Path;
use std::str::FromStr;

/// How costs are scaled after they are read or computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CostScale {
    /// As given.
    #[default]
    None,
    /// Divided by the largest cost (a zero cost matrix stays zero).
    Max,
}

impl FromStr for CostScale {
    type Err = OtError;
    fn from_str(s: &str) -> Result<Self, OtError> {
        match s {
            "none" => Ok(Self::None),
            "max" => Ok(Self::Max),
            other => Err(OtError::InvalidParameter(format!(
                "cost scale {other:?} (none, max)"
            ))),
        }
    }
}

impl fmt::Display for CostScale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::None => "none",
            Self::Max => "max",
        })
    }
}

impl FromStr for GroundCost {
    type Err = OtError;
    /// `sqeuclidean`, `euclidean`, `cityblock` (or `l1`), `euclidean^P`, `minkowski:P`
    /// (SciPy's / POT's metric names).
    fn from_str(s: &str) -> Result<Self, OtError> {
        let number = |t: &str| {
            t.parse::<f64>()
                .map_err(|_| OtError::InvalidParameter(format!("ground cost {s:?}: bad number")))
        };
        let g = match s {
            "sqeuclidean" => GroundCost::SquaredEuclidean,
            "euclidean" => GroundCost::EuclideanPower { power: 1.0 },
            "cityblock" | "l1" => GroundCost::L1,
            _ => {
                if let Some(p) = s.strip_prefix("euclidean^") {
                    GroundCost::EuclideanPower { power: number(p)? }
                } else if let Some(p) = s.strip_prefix("minkowski:") {
                    GroundCost::Minkowski { p: number(p)? }
                } else {
                    return Err(OtError::InvalidParameter(format!(
                        "ground cost {s:?} (sqeuclidean, euclidean, cityblock, euclidean^P, minkowski:P)"
                    )));
                }
            }
        };
        g.validate()?;
        Ok(g)
    }
}

impl fmt::Display for GroundCost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            GroundCost::SquaredEuclidean => f.write_str("sqeuclidean"),
            GroundCost::L1 => f.write_str("cityblock"),
            GroundCost::EuclideanPower { power: 1.0 } => f.write_str("euclidean"),
            GroundCost::EuclideanPower { power } => write!(f, "euclidean^{power}"),
            GroundCost::Minkowski { p } => write!(f, "minkowski:{p}"),
        }
    }
}

/// Two weighted point clouds in `R^dim`: `x` (`n × dim`, row-major) with weights `a`, `y`
/// (`m × dim`) with weights `b`.
#[derive(Debug, Clone, PartialEq)]
pub struct PointClouds {
    /// Dimension of the points.
    pub dim: usize,
    /// Source points, row-major `n × dim`.
    pub x: Vec<f64>,
    /// Target points, row-major `m × dim`.
    pub y: Vec<f64>,
    /// Source weights (length `n`).
    pub a: Vec<f64>,
    /// Target weights (length `m`).
    pub b: Vec<f64>,
}

impl PointClouds {
    /// Clustered clouds in the unit box: the sources in 5 blobs, the targets in 7 other
    /// blobs (each a sum of three uniforms, width ≈ 0.1), weights uniform on `[0.1, 1.1)`
    /// normalized to mass 1. Reproducible by `seed`. Errors: `n`, `m` or `dim` zero.
    pub fn clustered(n: usize, m: usize, dim: usize, seed: u64) -> Result<Self, OtError> {
        let mut rng = Self::generator(n, m, dim, seed)?;
        let mut cloud = |count: usize, blobs: usize| {
            let centres: Vec<f64> = (0..blobs * dim).map(|_| rng.random::<f64>()).collect();
            let mut p = Vec::with_capacity(count * dim);
            for i in 0..count {
                let c = &centres[(i % blobs) * dim..][..dim];
                for &ck in c {
                    let bump: f64 = (0..3).map(|_| rng.random::<f64>()).sum::<f64>() - 1.5;
                    p.push(ck + 0.1 * bump);
                }
            }
            let w: Vec<f64> = (0..count).map(|_| 0.1 + rng.random::<f64>()).collect();
            let total: f64 = w.iter().sum();
            (p, w.iter().map(|v| v / total).collect::<Vec<f64>>())
        };
        let (x, a) = cloud(n, 5);
        let (y, b) = cloud(m, 7);
        Ok(Self { dim, x, y, a, b })
    }

    /// Points uniform in the unit box `[0, 1)^dim`, weights uniform on `[0.1, 1.1)`
    /// normalized to mass 1. Reproducible by `seed`. Errors: `n`, `m` or `dim` zero.
    pub fn uniform(n: usize, m: usize, dim: usize, seed: u64) -> Result<Self, OtError> {
        let mut rng = Self::generator(n, m, dim, seed)?;
        let mut cloud = |count: usize| {
            let p: Vec<f64> = (0..count * dim).map(|_| rng.random::<f64>()).collect();
            let w: Vec<f64> = (0..count).map(|_| 0.1 + rng.random::<f64>()).collect();
            let total: f64 = w.iter().sum();
            (p, w.iter().map(|v| v / total).collect::<Vec<f64>>())
        };
        let (x, a) = cloud(n);
        let (y, b) = cloud(m);
        Ok(Self { dim, x, y, a, b })
    }

    /// The generator of [`PointClouds::clustered`] / [`PointClouds::uniform`] after their
    /// checks: sizes at least 1, the clouds within memory.
    fn generator(n: usize, m: usize, dim: usize, seed: u64) -> Result<Xoshiro256PlusPlus, OtError> {
        if n == 0 || m == 0 || dim == 0 {
            return Err(OtError::InvalidParameter(format!(
                "point clouds need n, m, dim ≥ 1 (got {n}, {m}, {dim})"
            )));
        }
        ritz_linalg::mem::check(
            || format!("point clouds ({n} + {m}) × {dim}"),
            ritz_linalg::mem::product(&[n + m, dim + 1, 8]),
        )?;
        Ok(Xoshiro256PlusPlus::seed_from_u64(seed))
    }

    /// Number of source points.
    pub fn n(&self) -> usize {
        self.a.len()
    }

    /// Number of target points.
    pub fn m(&self) -> usize {
        self.b.len()
    }

    /// The dense problem `C_ij = ground(x_i, y_j)`, scaled. Errors as
    /// [`OtProblem::from_points`]. Cost: O(n·m·dim) time, two `n × m` arrays.
    pub fn problem(&self, ground: GroundCost, scale: CostScale) -> Result<OtProblem, OtError> {
        let p = OtProblem::from_points(
            &self.x,
            &self.y,
            self.dim,
            self.a.clone(),
            self.b.clone(),
            ground,
        )?;
        scaled(p, scale)
    }

    /// Writes `X.npy`, `Y.npy`, `a.npy`, `b.npy` into `dir` (created if missing).
    pub fn write(&self, dir: &Path) -> Result<(), OtError> {
        std::fs::create_dir_all(dir).map_err(|e| io_error(dir, e))?;
        let w = |name: &str, shape: &[usize], data: &[f64]| {
            write_npy_f64(dir.join(name), shape, data).map_err(|e| OtError::Io {
                path: dir.join(name).display().to_string(),
                reason: e.to_string(),
            })
        };
        w("X.npy", &[self.n(), self.dim], &self.x)?;
        w("Y.npy", &[self.m(), self.dim], &self.y)?;
        w("a.npy", &[self.n()], &self.a)?;
        w("b.npy", &[self.m()], &self.b)
    }
}

fn io_error(path: &Path, e: impl fmt::Display) -> OtError {
    OtError::Io {
        path: path.display().to_string(),
        reason: e.to_string(),
    }
}

fn scaled(p: OtProblem, scale: CostScale) -> Result<OtProblem, OtError> {
    match scale {
        CostScale::None => Ok(p),
        CostScale::Max => {
            let max = p.cost().iter().fold(0.0f64, |s, c| s.max(c.abs()));
            if max == 0.0 || max == 1.0 {
                return Ok(p);
            }
            let cost = p.cost().iter().map(|c| c / max).collect();
            OtProblem::new(p.source().to_vec(), p.target().to_vec(), cost)
        }
    }
}

/// An array's shape and its values as `f64`.
type Array = (Vec<usize>, Vec<f64>);

/// An array read from `dir/name`, or `None` when the file does not exist.
fn read_array(dir: &Path, name: &str) -> Result<Option<Array>, OtError> {
    let path = dir.join(name);
    if !path.exists() {
        return Ok(None);
    }
    let arr = read_npy(&path).map_err(|e| io_error(&path, e))?;
    Ok(Some((arr.shape.clone(), arr.to_f64())))
}

fn expect_shape(name: &str, shape: &[usize], rank: usize, dir: &Path) -> Result<(), OtError> {
    if shape.len() != rank {
        return Err(io_error(
            &dir.join(name),
            format!("expected a {rank}-d array, found shape {shape:?}"),
        ));
    }
    Ok(())
}

/// What a problem folder held.
#[derive(Debug, Clone)]
pub enum OtInput {
    /// `C.npy`, `a.npy`, `b.npy`.
    CostMatrix(OtProblem),
    /// `X.npy`, `Y.npy` (and weights): the clouds and the dense problem built from them.
    PointClouds(PointClouds, OtProblem),
}

impl OtInput {
    /// The (dense) problem.
    pub fn problem(&self) -> &OtProblem {
        match self {
            OtInput::CostMatrix(p) | OtInput::PointClouds(_, p) => p,
        }
    }

    /// `cost-matrix` or `point-clouds`.
    pub fn kind(&self) -> &'static str {
        match self {
            OtInput::CostMatrix(_) => "cost-matrix",
            OtInput::PointClouds(..) => "point-clouds",
        }
    }
}

/// Reads a problem folder (see the [module](self) documentation). `ground` applies to
/// point clouds, `scale` to both kinds.
///
/// Errors: [`OtError::Io`] for a missing or malformed file (naming it) or a folder holding
/// neither input; shapes that disagree (`LinalgError::Shape`); then every error of
/// [`OtProblem::new`] / [`OtProblem::from_points`]. Cost: the files' size, plus O(n·m·d)
/// for clouds.
///
/// ```
/// use ritz_ot::io::{CostScale, OtInput, PointClouds, read_problem};
/// let dir = std::env::temp_dir().join("ritz-ot-doc-clouds");
/// PointClouds::clustered(30, 40, 2, 0)?.write(&dir)?;
/// let input = read_problem(&dir, "sqeuclidean".parse()?, CostScale::Max)?;
/// assert!(matches!(input, OtInput::PointClouds(..)));
/// assert_eq!((input.problem().n(), input.problem().m()), (30, 40));
/// # Ok::<(), ritz_ot::OtError>(())
/// ```
pub fn read_problem(dir: &Path, ground: GroundCost, scale: CostScale) -> Result<OtInput, OtError> {
    if !dir.is_dir() {
        return Err(io_error(dir, "not a folder"));
    }
    let a = read_array(dir, "a.npy")?;
    let b = read_array(dir, "b.npy")?;
    if let Some((cshape, cost)) = read_array(dir, "C.npy")? {
        expect_shape("C.npy", &cshape, 2, dir)?;
        let (Some((ashape, a)), Some((bshape, b))) = (a, b) else {
            return Err(io_error(dir, "C.npy needs a.npy and b.npy beside it"));
        };
        expect_shape("a.npy", &ashape, 1, dir)?;
        expect_shape("b.npy", &bshape, 1, dir)?;
        if cshape != [a.len(), b.len()] {
            return Err(io_error(
                &dir.join("C.npy"),
                format!(
                    "shape {cshape:?} does not match a.npy ({}) × b.npy ({})",
                    a.len(),
                    b.len()
                ),
            ));
        }
        let p = OtProblem::new(a, b, cost)?;
        return Ok(OtInput::CostMatrix(scaled(p, scale)?));
    }
    let clouds = read_clouds_with(dir, a, b)?;
    let p = clouds.problem(ground, scale)?;
    Ok(OtInput::PointClouds(clouds, p))
}

/// Reads a point-cloud folder (`X.npy`, `Y.npy`, optional `a.npy`, `b.npy`) without building
/// any cost matrix: the input of [`crate::CloudCosts`] for problems too large for `n × m`
/// arrays. Errors as [`read_problem`] (a folder without `X.npy` + `Y.npy` included).
pub fn read_clouds(dir: &Path) -> Result<PointClouds, OtError> {
    if !dir.is_dir() {
        return Err(io_error(dir, "not a folder"));
    }
    let a = read_array(dir, "a.npy")?;
    let b = read_array(dir, "b.npy")?;
    read_clouds_with(dir, a, b)
}

fn read_clouds_with(
    dir: &Path,
    a: Option<Array>,
    b: Option<Array>,
) -> Result<PointClouds, OtError> {
    let (Some((xs, x)), Some((ys, y))) = (read_array(dir, "X.npy")?, read_array(dir, "Y.npy")?)
    else {
        return Err(io_error(
            dir,
            "holds neither C.npy + a.npy + b.npy nor X.npy + Y.npy",
        ));
    };
    expect_shape("X.npy", &xs, 2, dir)?;
    expect_shape("Y.npy", &ys, 2, dir)?;
    if xs[1] != ys[1] {
        return Err(io_error(
            &dir.join("Y.npy"),
            format!("points of dimension {} against X.npy's {}", ys[1], xs[1]),
        ));
    }
    let weights = |w: Option<Array>, name: &str, count: usize| {
        match w {
            None => Ok(vec![1.0 / count as f64; count]),
            Some((shape, w)) => {
                expect_shape(name, &shape, 1, dir)?;
                if w.len() != count {
                    return Err(io_error(
                        &dir.join(name),
                        format!("{} weights for {count} points", w.len()),
                    ));
                }
                let total: f64 = w.iter().sum();
                // (Weights summing to 1 up to rounding are kept bit for bit.)
                Ok(
                    if total > 0.0 && total.is_finite() && (total - 1.0).abs() > 1e-12 {
                        w.iter().map(|v| v / total).collect()
                    } else {
                        w // rejected with a precise error by the problem's validation
                    },
                )
            }
        }
    };
    let clouds = PointClouds {
        dim: xs[1],
        a: weights(a, "a.npy", xs[0])?,
        b: weights(b, "b.npy", ys[0])?,
        x,
        y,
    };
    Ok(clouds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for s in [
            "sqeuclidean",
            "euclidean",
            "cityblock",
            "euclidean^3",
            "minkowski:1.5",
        ] {
            assert_eq!(s.parse::<GroundCost>().unwrap().to_string(), s);
        }
        assert!("manhattan".parse::<GroundCost>().is_err());
        assert!("minkowski:0.5".parse::<GroundCost>().is_err());
        assert!("euclidean^x".parse::<GroundCost>().is_err());
        assert_eq!("max".parse::<CostScale>().unwrap(), CostScale::Max);
        assert!("min".parse::<CostScale>().is_err());
    }

    #[test]
    fn folders_round_trip_and_bad_files_are_typed_errors() {
        let dir = std::env::temp_dir().join(format!("ritz-ot-io-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let clouds = PointClouds::clustered(7, 5, 3, 1).unwrap();
        clouds.write(&dir).unwrap();
        let input = read_problem(&dir, GroundCost::SquaredEuclidean, CostScale::Max).unwrap();
        let OtInput::PointClouds(back, p) = &input else {
            panic!("clouds expected")
        };
        assert_eq!(back, &clouds);
        assert_eq!(p.cost().iter().cloned().fold(0.0, f64::max), 1.0);
        // The same problem as a cost-matrix input.
        write_npy_f64(dir.join("C.npy"), &[7, 5], p.cost()).unwrap();
        let q = read_problem(&dir, GroundCost::L1, CostScale::None).unwrap();
        assert_eq!(q.kind(), "cost-matrix");
        assert_eq!(q.problem().cost(), p.cost());
        // Wrong shapes and missing files.
        write_npy_f64(dir.join("C.npy"), &[5, 7], p.cost()).unwrap();
        assert!(matches!(
            read_problem(&dir, GroundCost::L1, CostScale::None),
            Err(OtError::Io { .. })
        ));
        std::fs::remove_file(dir.join("C.npy")).unwrap();
        std::fs::write(dir.join("Y.npy"), b"not an npy file").unwrap();
        assert!(matches!(
            read_problem(&dir, GroundCost::L1, CostScale::None),
            Err(OtError::Io { .. })
        ));
        std::fs::remove_file(dir.join("Y.npy")).unwrap();
        assert!(matches!(
            read_problem(&dir, GroundCost::L1, CostScale::None),
            Err(OtError::Io { .. })
        ));
        assert!(matches!(
            read_problem(&dir.join("missing"), GroundCost::L1, CostScale::None),
            Err(OtError::Io { .. })
        ));
        let _ = std::fs::remove_dir_all(&dir);
        assert!(PointClouds::clustered(0, 5, 2, 0).is_err());
    }
}
