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
    /// `‖Z Zᵀ v‖²` over the entries held here: the squared norm of `v`'s component in the
    /// null space (a process holding part of the vector returns its part's share, for the
    /// caller to sum). Lets a solver skip copying and projecting a right-hand side that is
    /// already consistent.
    ///
    /// Cost of the default: a copy of `v` and a [`NullSpace::project`] (collective where that
    /// is); [`RegionNullSpace`] reads the floating entries only.
    fn component_sq(&self, v: &[f64]) -> f64 {
        let mut p = v.to_vec();
        self.project(&mut p);
        v.iter().zip(&p).map(|(a, b)| (a - b) * (a - b)).sum()
    }
}

/// Null space spanned by the indicator vectors of disjoint index sets ("floating regions").
#[derive(Debug, Clone)]
pub struct RegionNullSpace {
    /// Region of each entry, or `u32::MAX` for entries outside every floating region.
    labels: Vec<u32>,
    /// Number of entries in each region.
    counts: Vec<usize>,
    /// The entries of each region, grouped by region (`members[starts[r]..starts[r + 1]]`),
    /// so that a projection touches the floating entries only.
    members: Vec<u32>,
    starts: Vec<usize>,
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
        let mut starts = vec![0usize; nregions + 1];
        for r in 0..nregions {
            starts[r + 1] = starts[r] + counts[r];
        }
        let mut next = starts.clone();
        let mut members = vec![0u32; starts[nregions]];
        for (i, &l) in labels.iter().enumerate() {
            if (l as usize) < nregions {
                members[next[l as usize]] = i as u32;
                next[l as usize] += 1;
            }
        }
        Self {
            labels,
            counts,
            members,
            starts,
        }
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

    /// The entries of each non-empty floating region (ascending within a region).
    pub fn regions(&self) -> impl Iterator<Item = &[u32]> {
        self.starts
            .windows(2)
            .map(|w| &self.members[w[0]..w[1]])
            .filter(|m| !m.is_empty())
    }
}

/// Members per parallel work item of a region's sum (fixed: sums are reproducible).
const MEAN_CHUNK: usize = 1 << 15;

impl RegionNullSpace {
    /// The mean of `v` over region `r`'s members (chunk sums added in chunk order).
    fn mean(&self, r: usize, v: &[f64]) -> f64 {
        let m = &self.members[self.starts[r]..self.starts[r + 1]];
        let sum: f64 = if m.len() > MEAN_CHUNK {
            let partial: Vec<f64> = m
                .par_chunks(MEAN_CHUNK)
                .map(|ch| ch.iter().map(|&i| v[i as usize]).sum::<f64>())
                .collect();
            partial.iter().sum()
        } else {
            m.iter().map(|&i| v[i as usize]).sum()
        };
        sum / self.counts[r].max(1) as f64
    }
}

impl NullSpace for RegionNullSpace {
    fn dim(&self) -> usize {
        self.counts.iter().filter(|&&c| c > 0).count()
    }

    /// Cost: per floating region, a gather and a scatter over its entries only (entries
    /// outside every floating region are not touched). Sums per chunk, added in chunk order
    /// (deterministic).
    fn project(&self, v: &mut [f64]) {
        assert_eq!(
            v.len(),
            self.labels.len(),
            "null-space projection: length mismatch"
        );
        // Per region: the mean over its members, then subtracted from them — traffic in
        // proportion to the floating entries only (often a few pockets of a large grid).
        for (r, &c) in self.counts.iter().enumerate() {
            if c == 0 {
                continue;
            }
            let m = &self.members[self.starts[r]..self.starts[r + 1]];
            let mean = self.mean(r, v);
            if m.len() > MEAN_CHUNK {
                let vs = crate::schedule::SharedSlice::new(v);
                m.par_chunks(MEAN_CHUNK).for_each(|ch| {
                    for &i in ch {
                        // SAFETY: members are distinct indices, each chunk owned by one
                        // thread.
                        unsafe { vs.set(i as usize, vs.get(i as usize) - mean) };
                    }
                });
            } else {
                for &i in m {
                    v[i as usize] -= mean;
                }
            }
        }
    }

    /// Cost: a gather over the floating entries (each region's mean `μ`; the component is
    /// `μ` on each of its `c` members, `c μ²` of the squared norm).
    fn component_sq(&self, v: &[f64]) -> f64 {
        assert_eq!(
            v.len(),
            self.labels.len(),
            "null-space component: length mismatch"
        );
        (0..self.counts.len())
            .filter(|&r| self.counts[r] > 0)
            .map(|r| {
                let mu = self.mean(r, v);
                self.counts[r] as f64 * mu * mu
            })
            .sum()
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

    #[test]
    fn component_is_what_the_projection_removes() {
        let ns = RegionNullSpace::new(vec![0, 0, u32::MAX, 1, 1, 1], 2);
        let v = vec![1.0, 3.0, 5.0, 1.0, 2.0, 6.0];
        // Means 2 (two members) and 3 (three): 2·4 + 3·9.
        assert_eq!(ns.component_sq(&v), 35.0);
        // The default (copy and project) agrees.
        struct Plain<'a>(&'a RegionNullSpace);
        impl NullSpace for Plain<'_> {
            fn dim(&self) -> usize {
                self.0.dim()
            }
            fn project(&self, v: &mut [f64]) {
                self.0.project(v)
            }
        }
        assert_eq!(Plain(&ns).component_sq(&v), 35.0);
        let mut p = v.clone();
        ns.project(&mut p);
        assert_eq!(ns.component_sq(&p), 0.0);
    }
}
