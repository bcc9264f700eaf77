//! Null spaces of singular symmetric positive semi-definite operators.
//!
//! The Poisson operator of a fluid region that touches no Dirichlet (air) boundary has the
//! constant vector *on that region* in its null space. [`RegionNullSpace`] represents a set of
//! such disjoint regions and projects vectors onto the orthogonal complement (subtracting each
//! region's mean), which keeps Krylov iterations consistent in floating point.

use rayon::prelude::*;

/// Orthogonal projector onto the complement of an operator's null space.
pub trait NullSpace: Sync {
    /// Dimension of the null space.
    fn dim(&self) -> usize;
    /// `v ← (I − Z Zᵀ) v` for an orthonormal basis `Z` of the null space.
    fn project(&self, v: &mut [f64]);
}

/// Null space spanned by the indicator vectors of disjoint index sets ("floating regions").
#[derive(Debug, Clone)]
pub struct RegionNullSpace {
    /// Region of each entry, or `u32::MAX` for entries outside every floating region.
    labels: Vec<u32>,
    /// Number of entries in each region.
    counts: Vec<usize>,
}

impl RegionNullSpace {
    /// Builds the projector from per-entry region labels (`None` = in no floating region).
    /// Regions are numbered `0..nregions`; empty regions are allowed and ignored.
    pub fn new(labels: Vec<u32>, nregions: usize) -> Self {
        let mut counts = vec![0usize; nregions];
        for &l in &labels {
            if (l as usize) < nregions {
                counts[l as usize] += 1;
            }
        }
        Self { labels, counts }
    }

    /// Length of the vectors this projector acts on.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True if it acts on empty vectors.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Per-entry labels (`u32::MAX` = not in a floating region).
    pub fn labels(&self) -> &[u32] {
        &self.labels
    }
}

impl NullSpace for RegionNullSpace {
    fn dim(&self) -> usize {
        self.counts.iter().filter(|&&c| c > 0).count()
    }

    /// Cost: 2 reads of `v` and of the labels, 1 write. Serial accumulation per chunk, in
    /// chunk order (deterministic).
    fn project(&self, v: &mut [f64]) {
        assert_eq!(
            v.len(),
            self.labels.len(),
            "null-space projection: length mismatch"
        );
        let k = self.counts.len();
        if k == 0 {
            return;
        }
        const CH: usize = 1 << 16;
        let partial: Vec<Vec<f64>> = v
            .par_chunks(CH)
            .zip(self.labels.par_chunks(CH))
            .map(|(vc, lc)| {
                let mut s = vec![0.0; k];
                for (x, &l) in vc.iter().zip(lc) {
                    if (l as usize) < k {
                        s[l as usize] += x;
                    }
                }
                s
            })
            .collect();
        let mut mean = vec![0.0; k];
        for p in &partial {
            for (m, s) in mean.iter_mut().zip(p) {
                *m += s;
            }
        }
        for (m, &c) in mean.iter_mut().zip(&self.counts) {
            if c > 0 {
                *m /= c as f64;
            }
        }
        v.par_chunks_mut(CH)
            .zip(self.labels.par_chunks(CH))
            .for_each(|(vc, lc)| {
                for (x, &l) in vc.iter_mut().zip(lc) {
                    if (l as usize) < k {
                        *x -= mean[l as usize];
                    }
                }
            });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn projects_out_region_means() {
        let ns = RegionNullSpace::new(vec![0, 0, u32::MAX, 1, 1, 1], 2);
        let mut v = vec![1.0, 3.0, 5.0, 1.0, 2.0, 6.0];
        ns.project(&mut v);
        assert_eq!(v, vec![-1.0, 1.0, 5.0, -2.0, -1.0, 3.0]);
        assert_eq!(ns.dim(), 2);
    }
}
