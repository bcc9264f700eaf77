//! Parallel execution of block-triangular dependency graphs ("sync-free" level scheduling).
//!
//! Triangular solves (the sweeps of IC(0) / MIC(0) preconditioners, Gauss–Seidel) are
//! sequential within a row chain but expose parallelism across *blocks* of rows: a block may run
//! once the blocks it reads from are done. [`BlockSchedule`] orders blocks by dependency level,
//! lets the threads of the rayon pool claim them in that order, and makes each thread wait (spin,
//! then yield) only for the specific blocks it depends on — no barrier per level. For a 3D grid
//! with x-lines as blocks this is the classic wavefront over `(j, k)`, with contiguous memory
//! inside each block.
//!
//! Cost per run: one atomic flag per block plus the work; progress is guaranteed because every
//! block only waits for blocks earlier in the level order.

use rayon::prelude::*;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// A dependency graph over blocks `0..n` where every dependency points to an *earlier* block
/// (forward sweep) or, after [`BlockSchedule::reversed`], to a *later* block (backward sweep).
#[derive(Debug, Clone)]
pub struct BlockSchedule {
    dep_ptr: Vec<usize>,
    dep_idx: Vec<u32>,
    /// Blocks sorted by level (a valid sequential order).
    order: Vec<u32>,
    levels: usize,
}

impl BlockSchedule {
    /// Builds a forward schedule: `deps(b, out)` pushes the blocks `b` depends on, each `< b`
    /// (entries `>= b` are ignored, so a caller may push its own index harmlessly).
    pub fn forward(n: usize, mut deps: impl FnMut(usize, &mut Vec<usize>)) -> Self {
        let mut dep_ptr = vec![0usize];
        let mut dep_idx = Vec::new();
        let mut level = vec![0u32; n];
        let mut tmp = Vec::new();
        for b in 0..n {
            tmp.clear();
            deps(b, &mut tmp);
            tmp.retain(|&d| d < b);
            tmp.sort_unstable();
            tmp.dedup();
            let mut lv = 0;
            for &d in &tmp {
                lv = lv.max(level[d] + 1);
                dep_idx.push(d as u32);
            }
            level[b] = lv;
            dep_ptr.push(dep_idx.len());
        }
        Self::finish(dep_ptr, dep_idx, &level)
    }

    fn finish(dep_ptr: Vec<usize>, dep_idx: Vec<u32>, level: &[u32]) -> Self {
        let mut order: Vec<u32> = (0..level.len() as u32).collect();
        order.sort_by_key(|&b| (level[b as usize], b));
        let levels = level.iter().max().map_or(0, |&l| l as usize + 1);
        Self {
            dep_ptr,
            dep_idx,
            order,
            levels,
        }
    }

    /// The schedule of the transposed sweep: block `b` waits for every block that waited for
    /// `b` in `self`.
    pub fn reversed(&self) -> Self {
        let n = self.order.len();
        let mut cnt = vec![0usize; n + 1];
        for &d in &self.dep_idx {
            cnt[d as usize + 1] += 1;
        }
        for i in 0..n {
            cnt[i + 1] += cnt[i];
        }
        let mut next = cnt.clone();
        let mut idx = vec![0u32; self.dep_idx.len()];
        for b in 0..n {
            for &d in &self.dep_idx[self.dep_ptr[b]..self.dep_ptr[b + 1]] {
                idx[next[d as usize]] = b as u32;
                next[d as usize] += 1;
            }
        }
        let mut level = vec![0u32; n];
        for b in (0..n).rev() {
            let mut lv = 0;
            for &d in &idx[cnt[b]..cnt[b + 1]] {
                lv = lv.max(level[d as usize] + 1);
            }
            level[b] = lv;
        }
        Self::finish(cnt, idx, &level)
    }

    /// Number of blocks.
    pub fn len(&self) -> usize {
        self.order.len()
    }
    /// True when there are no blocks.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
    /// Length of the longest dependency chain (number of levels).
    pub fn levels(&self) -> usize {
        self.levels
    }

    /// Runs `work(b)` for every block, each after all its dependencies, in parallel on the
    /// rayon pool (serially in level order when the pool has one thread or there is no
    /// parallelism to exploit). `work` must only read data written by the blocks it depends on.
    pub fn run(&self, work: impl Fn(usize) + Sync) {
        let nt = rayon::current_num_threads();
        if nt <= 1 || self.levels * 2 >= self.order.len() {
            for &b in &self.order {
                work(b as usize);
            }
            return;
        }
        let done: Vec<AtomicBool> = (0..self.order.len())
            .map(|_| AtomicBool::new(false))
            .collect();
        // Blocks are claimed dynamically in level order. Every claimed block's dependencies
        // were claimed earlier, so the earliest unfinished block can always proceed: there is
        // no deadlock even when the pool runs fewer workers than requested (e.g. when other
        // work occupies it).
        let next = AtomicUsize::new(0);
        (0..nt).into_par_iter().for_each(|_| {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(&b) = self.order.get(i) else { break };
                let b = b as usize;
                for &d in &self.dep_idx[self.dep_ptr[b]..self.dep_ptr[b + 1]] {
                    let mut spins = 0u32;
                    while !done[d as usize].load(Ordering::Acquire) {
                        spins += 1;
                        if spins < 1 << 10 {
                            std::hint::spin_loop();
                        } else {
                            std::thread::yield_now();
                        }
                    }
                }
                work(b);
                done[b].store(true, Ordering::Release);
            }
        });
    }
}

/// A mutable slice shared between the blocks of a [`BlockSchedule::run`], each block writing a
/// disjoint part and reading parts written by its dependencies.
#[derive(Clone, Copy)]
pub struct SharedSlice<'a, T> {
    ptr: *mut T,
    len: usize,
    _life: std::marker::PhantomData<&'a mut [T]>,
}

// SAFETY: access discipline is delegated to the (unsafe) accessors below.
unsafe impl<T: Send> Send for SharedSlice<'_, T> {}
unsafe impl<T: Send> Sync for SharedSlice<'_, T> {}

impl<'a, T> SharedSlice<'a, T> {
    /// Wraps an exclusive slice.
    pub fn new(s: &'a mut [T]) -> Self {
        Self {
            ptr: s.as_mut_ptr(),
            len: s.len(),
            _life: std::marker::PhantomData,
        }
    }
    /// Length.
    pub fn len(&self) -> usize {
        self.len
    }
    /// True if empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// Reads element `i`.
    ///
    /// # Safety
    /// No thread may write element `i` concurrently.
    #[inline(always)]
    pub unsafe fn get(&self, i: usize) -> T
    where
        T: Copy,
    {
        debug_assert!(i < self.len);
        // SAFETY: in bounds (checked in debug builds; callers iterate over valid cells);
        // absence of concurrent writers is the caller's contract.
        unsafe { self.ptr.add(i).read() }
    }
    /// Writes element `i`.
    ///
    /// # Safety
    /// No other thread may access element `i` concurrently.
    #[inline(always)]
    pub unsafe fn set(&self, i: usize, v: T) {
        debug_assert!(i < self.len);
        // SAFETY: as for `get`, with exclusivity of element `i`.
        unsafe { self.ptr.add(i).write(v) }
    }
    /// A mutable view of `range`.
    ///
    /// # Safety
    /// No other thread may access `range` while the view lives.
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn slice_mut(&self, range: std::ops::Range<usize>) -> &mut [T] {
        assert!(range.start <= range.end && range.end <= self.len);
        // SAFETY: in bounds; exclusivity is the caller's contract.
        unsafe {
            std::slice::from_raw_parts_mut(self.ptr.add(range.start), range.end - range.start)
        }
    }
    /// A shared view of `range`.
    ///
    /// # Safety
    /// No thread may write `range` while the view lives (it was completed by a dependency).
    pub unsafe fn slice(&self, range: std::ops::Range<usize>) -> &[T] {
        assert!(range.start <= range.end && range.end <= self.len);
        // SAFETY: in bounds; absence of writers is the caller's contract.
        unsafe { std::slice::from_raw_parts(self.ptr.add(range.start), range.end - range.start) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_sum_chain_runs_in_order() {
        // Block b = cell (i, j) of a 64×64 grid; depends on left and lower neighbours.
        let n = 64;
        let s = BlockSchedule::forward(n * n, |b, d| {
            if b % n > 0 {
                d.push(b - 1);
            }
            if b >= n {
                d.push(b - n);
            }
        });
        assert_eq!(s.levels(), 2 * n - 1);
        let mut v = vec![0u64; n * n];
        let sv = SharedSlice::new(&mut v);
        s.run(|b| unsafe {
            let left = if b % n > 0 { sv.slice(b - 1..b)[0] } else { 0 };
            let down = if b >= n {
                sv.slice(b - n..b - n + 1)[0]
            } else {
                0
            };
            sv.slice_mut(b..b + 1)[0] = left.wrapping_add(down).wrapping_add(1);
        });
        // Number of monotone lattice paths: v[i,j] = C(i+j+2, i+1) - 1.
        assert_eq!(v[n + 1], 5);
        let r = s.reversed();
        assert_eq!(r.levels(), 2 * n - 1);
        let mut w = vec![0u64; n * n];
        let sw = SharedSlice::new(&mut w);
        r.run(|b| unsafe {
            let right = if b % n + 1 < n {
                sw.slice(b + 1..b + 2)[0]
            } else {
                0
            };
            let up = if b + n < n * n {
                sw.slice(b + n..b + n + 1)[0]
            } else {
                0
            };
            sw.slice_mut(b..b + 1)[0] = right.wrapping_add(up).wrapping_add(1);
        });
        assert_eq!(w[n * n - n - 2], 5);
        assert_eq!(w[0], v[n * n - 1]);
    }
}
