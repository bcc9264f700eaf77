//! Datasets: a dense design matrix with targets, a CSV reader, standardization, the two real
//! datasets shipped in `data/` (UCI breast cancer, UCI handwritten digits; provenance and
//! licence in `data/README.md`), and seeded synthetic classification sets.

use crate::error::{SecondOrderError, check_finite};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use rand_distr::StandardNormal;

/// `n` samples of `features` values (row-major) with one target each (a label or a value).
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// Number of samples.
    pub n: usize,
    /// Values per sample.
    pub features: usize,
    /// `n × features`, row-major.
    pub x: Vec<f64>,
    /// Targets (class labels as `0.0, 1.0, …` or regression values).
    pub y: Vec<f64>,
}

impl Dataset {
    /// Validates shapes and finiteness. Errors: `x.len() ≠ n·features`, `y.len() ≠ n`,
    /// NaN/∞, an empty set.
    pub fn new(features: usize, x: Vec<f64>, y: Vec<f64>) -> Result<Self, SecondOrderError> {
        let n = y.len();
        if n == 0 || features == 0 {
            return Err(SecondOrderError::InvalidParameter(
                "a dataset needs ≥ 1 sample and ≥ 1 feature".into(),
            ));
        }
        crate::error::check_len("design matrix (n·features)", n * features, x.len())?;
        check_finite("design matrix", &x)?;
        check_finite("targets", &y)?;
        Ok(Self { n, features, x, y })
    }

    /// Sample `i`'s features.
    pub fn row(&self, i: usize) -> &[f64] {
        &self.x[i * self.features..(i + 1) * self.features]
    }

    /// Parses a CSV with a header line, numeric fields, and the target in the last column.
    /// Errors name the line: a wrong field count, a non-number, NaN/∞.
    pub fn from_csv(name: &str, text: &str) -> Result<Self, SecondOrderError> {
        let err = |line: usize, reason: String| SecondOrderError::Parse {
            file: name.into(),
            line,
            reason,
        };
        let mut lines = text.lines().enumerate();
        let (_, header) = lines.next().ok_or_else(|| err(1, "empty file".into()))?;
        let cols = header.split(',').count();
        if cols < 2 {
            return Err(err(
                1,
                "need at least one feature and a target column".into(),
            ));
        }
        let (mut x, mut y) = (Vec::new(), Vec::new());
        for (k, line) in lines {
            if line.trim().is_empty() {
                continue;
            }
            let fields: Vec<&str> = line.split(',').collect();
            if fields.len() != cols {
                return Err(err(
                    k + 1,
                    format!("{} fields, header has {cols}", fields.len()),
                ));
            }
            for (c, f) in fields.iter().enumerate() {
                let v: f64 = f
                    .trim()
                    .parse()
                    .map_err(|_| err(k + 1, format!("field {} is not a number: {f:?}", c + 1)))?;
                if !v.is_finite() {
                    return Err(err(k + 1, format!("field {} is not finite", c + 1)));
                }
                if c + 1 == cols {
                    y.push(v);
                } else {
                    x.push(v);
                }
            }
        }
        Self::new(cols - 1, x, y)
    }

    /// Z-scores every feature (zero mean, unit variance; constant features become 0) and, with
    /// `intercept`, appends a constant-1 feature. Returns the new set.
    pub fn standardized(&self, intercept: bool) -> Dataset {
        let (n, f) = (self.n, self.features);
        let mut mean = vec![0.0; f];
        let mut var = vec![0.0; f];
        for i in 0..n {
            for (m, v) in mean.iter_mut().zip(self.row(i)) {
                *m += v / n as f64;
            }
        }
        for i in 0..n {
            for ((s, m), v) in var.iter_mut().zip(&mean).zip(self.row(i)) {
                *s += (v - m) * (v - m) / n as f64;
            }
        }
        let fo = f + usize::from(intercept);
        let mut x = Vec::with_capacity(n * fo);
        for i in 0..n {
            for ((v, m), s) in self.row(i).iter().zip(&mean).zip(&var) {
                x.push(if *s > 0.0 { (v - m) / s.sqrt() } else { 0.0 });
            }
            if intercept {
                x.push(1.0);
            }
        }
        Dataset {
            n,
            features: fo,
            x,
            y: self.y.clone(),
        }
    }
}

/// The UCI breast-cancer (Wisconsin diagnostic) set: 569 samples, 30 features, labels
/// 0 = malignant, 1 = benign (see `data/README.md`).
pub fn breast_cancer() -> Dataset {
    Dataset::from_csv(
        "breast_cancer.csv",
        include_str!("../data/breast_cancer.csv"),
    )
    .expect("the shipped breast_cancer.csv is valid")
}

/// The UCI handwritten-digits set (8 × 8, scikit-learn's copy): 1,797 samples, 64 pixel
/// features in 0..16, labels 0..9.
pub fn digits() -> Dataset {
    Dataset::from_csv("digits.csv", include_str!("../data/digits.csv"))
        .expect("the shipped digits.csv is valid")
}

/// A seeded binary classification set: features `N(0, I)`, labels from a random hyperplane
/// through the origin. `separable = true` gives labels exactly by the hyperplane; otherwise each
/// label is flipped with probability 0.1.
pub fn synthetic_binary(n: usize, features: usize, separable: bool, seed: u64) -> Dataset {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let w: Vec<f64> = (0..features).map(|_| rng.sample(StandardNormal)).collect();
    let x: Vec<f64> = (0..n * features)
        .map(|_| rng.sample(StandardNormal))
        .collect();
    let y = (0..n)
        .map(|i| {
            let s: f64 = x[i * features..(i + 1) * features]
                .iter()
                .zip(&w)
                .map(|(a, b)| a * b)
                .sum();
            let mut label = s > 0.0;
            if !separable && rng.random::<f64>() < 0.1 {
                label = !label;
            }
            f64::from(u8::from(label))
        })
        .collect();
    Dataset { n, features, x, y }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_sets_and_csv_errors() {
        let bc = breast_cancer();
        assert_eq!((bc.n, bc.features), (569, 30));
        assert_eq!(bc.y.iter().filter(|&&y| y == 0.0).count(), 212);
        let dg = digits();
        assert_eq!((dg.n, dg.features), (1797, 64));
        let s = bc.standardized(true);
        assert_eq!(s.features, 31);
        let col_mean: f64 = (0..s.n).map(|i| s.row(i)[3]).sum::<f64>() / s.n as f64;
        assert!(col_mean.abs() < 1e-12);
        let e = Dataset::from_csv("t.csv", "a,b,y\n1,2,0\n1,x,1\n").unwrap_err();
        assert!(matches!(e, SecondOrderError::Parse { line: 3, .. }), "{e}");
        let e = Dataset::from_csv("t.csv", "a,b,y\n1,2\n").unwrap_err();
        assert!(matches!(e, SecondOrderError::Parse { line: 2, .. }), "{e}");
        assert!(Dataset::new(2, vec![1.0, f64::NAN], vec![0.0]).is_err());
    }
}
