//! The pressure-Poisson operator over the fluid cells of a [`MacGrid`].
//!
//! Row of fluid cell `c`: `diag(c) p_c − Σ_{fluid neighbours n} p_n`, where `diag(c)` counts the
//! faces of `c` that are not solid (fluid or air neighbours, air domain walls). Solid faces are
//! Neumann (they contribute nothing), air faces Dirichlet `p = 0` (only the diagonal sees them).
//! Unit grid spacing: this is `h²` times the discrete negative Laplacian.

use crate::error::PdeError;
use crate::grid::{CellFlag, MacGrid, WallKind};
use rayon::prelude::*;
use ritz_linalg::{CsrMatrix, LinearOperator, NullSpace, RegionNullSpace};

/// A Poisson problem on a MAC grid: the matrix-free operator on grid-layout vectors (length =
/// number of cells, zero at non-fluid cells), its assembled form on the compact fluid numbering,
/// and the null space of floating fluid regions.
#[derive(Debug, Clone)]
pub struct PoissonProblem {
    grid: MacGrid,
    /// 1 for fluid cells, 0 otherwise (grid layout).
    fluid: Vec<u8>,
    /// Number of non-solid faces of each fluid cell (0 elsewhere).
    diag: Vec<u8>,
    /// Compact index of each cell (`u32::MAX` for non-fluid cells).
    dof: Vec<u32>,
    /// Grid index of each compact unknown (ascending).
    cells: Vec<u32>,
    /// Connected fluid region of each cell (`u32::MAX` for non-fluid cells).
    region: Vec<u32>,
    /// For each region: does it touch a Dirichlet (air) face?
    region_has_air: Vec<bool>,
    /// Projector for floating regions in grid layout, if any.
    null_grid: Option<RegionNullSpace>,
    /// The same in the compact numbering.
    null_compact: Option<RegionNullSpace>,
    /// An x-line of zeros: the stand-in for neighbour lines beyond the domain.
    zero_line_f64: Vec<f64>,
    zero_line_u8: Vec<u8>,
    /// A number no other problem built in this process has (clones share it, as they share
    /// the cells): lets a solver built on a problem recognize it without comparing its cells.
    id: u64,
}

impl PoissonProblem {
    /// Builds the problem: per-cell stencil data, compact numbering, connected regions.
    /// Cost: O(cells) time and ~14 bytes per cell.
    ///
    /// Errors: [`PdeError::NoFluid`] if no cell is fluid; `OutOfMemory` (as
    /// [`PdeError::Linalg`]) when its arrays would not fit.
    pub fn new(grid: MacGrid) -> Result<Self, PdeError> {
        crate::grid::check_cell_memory("a Poisson problem", &grid.shape(), 14)?;
        let n = grid.len();
        let [nx, ny, nz] = grid.dims();
        let dim = grid.dim();
        let flags = grid.flags();
        let fluid: Vec<u8> = flags
            .iter()
            .map(|&f| (f == CellFlag::Fluid) as u8)
            .collect();
        let mut dof = vec![u32::MAX; n];
        let mut cells = Vec::new();
        for c in 0..n {
            if fluid[c] == 1 {
                dof[c] = cells.len() as u32;
                cells.push(c as u32);
            }
        }
        if cells.is_empty() {
            return Err(PdeError::NoFluid);
        }
        let strides = grid.strides();
        let ext = [nx, ny, nz];
        let (diag, air_face) = stencil_counts(&grid);
        // Connected fluid regions (face neighbours), by depth-first search.
        let mut region = vec![u32::MAX; n];
        let mut region_has_air = Vec::new();
        let mut stack = Vec::new();
        for &start in &cells {
            let start = start as usize;
            if region[start] != u32::MAX {
                continue;
            }
            let r = region_has_air.len() as u32;
            let mut has_air = false;
            region[start] = r;
            stack.push(start);
            while let Some(c) = stack.pop() {
                has_air |= air_face[c];
                let co = grid.coords(c);
                for a in 0..dim {
                    if co[a] > 0 {
                        let nb = c - strides[a];
                        if fluid[nb] == 1 && region[nb] == u32::MAX {
                            region[nb] = r;
                            stack.push(nb);
                        }
                    }
                    if co[a] + 1 < ext[a] {
                        let nb = c + strides[a];
                        if fluid[nb] == 1 && region[nb] == u32::MAX {
                            region[nb] = r;
                            stack.push(nb);
                        }
                    }
                }
            }
            region_has_air.push(has_air);
        }
        // Floating regions get consecutive labels for the null-space projector.
        let mut float_id = vec![u32::MAX; region_has_air.len()];
        let mut nfloat = 0u32;
        for (r, &air) in region_has_air.iter().enumerate() {
            if !air {
                float_id[r] = nfloat;
                nfloat += 1;
            }
        }
        let (null_grid, null_compact) = if nfloat > 0 {
            let lab_grid: Vec<u32> = region
                .iter()
                .map(|&r| {
                    if r == u32::MAX {
                        u32::MAX
                    } else {
                        float_id[r as usize]
                    }
                })
                .collect();
            let lab_compact: Vec<u32> = cells.iter().map(|&c| lab_grid[c as usize]).collect();
            (
                Some(RegionNullSpace::new(lab_grid, nfloat as usize)),
                Some(RegionNullSpace::new(lab_compact, nfloat as usize)),
            )
        } else {
            (None, None)
        };
        Ok(Self {
            grid,
            fluid,
            diag,
            dof,
            cells,
            region,
            region_has_air,
            null_grid,
            null_compact,
            zero_line_f64: vec![0.0; nx],
            zero_line_u8: vec![0; nx],
            id: {
                static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
                NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            },
        })
    }

    /// This problem's identity: a number no other problem built in this process has (clones
    /// share it, as they share the cells), so equal ids mean equal cells. Lets a solver built
    /// on a problem recognize it without comparing cells.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The grid.
    pub fn grid(&self) -> &MacGrid {
        &self.grid
    }
    /// Number of cells (length of grid-layout vectors).
    pub fn num_cells(&self) -> usize {
        self.fluid.len()
    }
    /// Number of unknowns (fluid cells; length of compact vectors).
    pub fn num_fluid(&self) -> usize {
        self.cells.len()
    }
    /// Per-cell 0/1 fluid indicator, grid layout.
    pub fn fluid_mask(&self) -> &[u8] {
        &self.fluid
    }
    /// Per-cell diagonal (number of non-solid faces of fluid cells; 0 elsewhere).
    pub fn diag_counts(&self) -> &[u8] {
        &self.diag
    }
    /// Grid index of each compact unknown.
    pub fn fluid_cells(&self) -> &[u32] {
        &self.cells
    }
    /// Compact index of each cell (`u32::MAX` for non-fluid).
    pub fn dof_map(&self) -> &[u32] {
        &self.dof
    }
    /// Connected fluid region of each cell (`u32::MAX` for non-fluid).
    pub fn regions(&self) -> &[u32] {
        &self.region
    }
    /// Whether each connected fluid region has an air face (a face to an air cell or an air
    /// wall); the others float.
    pub fn region_has_air(&self) -> &[bool] {
        &self.region_has_air
    }
    /// Number of connected fluid regions, and how many of them are floating (no air face,
    /// hence singular with a constant null space).
    pub fn region_counts(&self) -> (usize, usize) {
        let floating = self.region_has_air.iter().filter(|&&a| !a).count();
        (self.region_has_air.len(), floating)
    }
    /// Null-space projector in the compact numbering (for the assembled matrix).
    pub fn null_space_compact(&self) -> Option<&RegionNullSpace> {
        self.null_compact.as_ref()
    }
    /// Null-space projector in grid layout.
    pub fn null_space_grid(&self) -> Option<&RegionNullSpace> {
        self.null_grid.as_ref()
    }

    /// Grid-layout vector → compact vector. Errors on a wrong length.
    pub fn to_compact(&self, grid_vec: &[f64]) -> Result<Vec<f64>, PdeError> {
        self.check_grid_len("grid vector", grid_vec.len())?;
        Ok(self.cells.iter().map(|&c| grid_vec[c as usize]).collect())
    }
    /// Compact vector → grid-layout vector (zeros at non-fluid cells). Errors on a wrong length.
    pub fn to_grid(&self, compact: &[f64]) -> Result<Vec<f64>, PdeError> {
        if compact.len() != self.cells.len() {
            return Err(PdeError::Shape {
                what: "compact vector",
                expected: self.cells.len(),
                found: compact.len(),
            });
        }
        let mut out = vec![0.0; self.num_cells()];
        for (&c, &v) in self.cells.iter().zip(compact) {
            out[c as usize] = v;
        }
        Ok(out)
    }

    fn check_grid_len(&self, what: &'static str, len: usize) -> Result<(), PdeError> {
        if len != self.num_cells() {
            return Err(PdeError::Shape {
                what,
                expected: self.num_cells(),
                found: len,
            });
        }
        Ok(())
    }

    /// Makes a grid-layout right-hand side admissible: checks length and finiteness, zeroes
    /// non-fluid cells and projects out the null space of floating regions (so the singular
    /// system is consistent). Returns the norm removed by the projection relative to the
    /// input norm (0 for non-singular problems).
    pub fn prepare_rhs(&self, b: &mut [f64]) -> Result<f64, PdeError> {
        self.check_grid_len("right-hand side", b.len())?;
        if let Some(index) = b.iter().position(|v| !v.is_finite()) {
            return Err(PdeError::NonFinite {
                what: "right-hand side",
                index,
            });
        }
        for (v, &f) in b.iter_mut().zip(&self.fluid) {
            if f == 0 {
                *v = 0.0;
            }
        }
        let before = ritz_linalg::vector::norm2(b);
        if let Some(ns) = &self.null_grid {
            let orig = b.to_vec();
            ns.project(b);
            let mut d = orig;
            ritz_linalg::vector::axpy(-1.0, b, &mut d);
            if before > 0.0 {
                return Ok(ritz_linalg::vector::norm2(&d) / before);
            }
        }
        Ok(0.0)
    }

    /// Writes the system with grid-layout right-hand side `b` to `dir`: `A.mtx` (MatrixMarket,
    /// symmetric, compact fluid numbering), `b.npy` (compact), `flags.npy` (int8, npy shape
    /// `(nz, ny, nx)` or `(ny, nx)`) and `b_grid.npy` (same shape). Cost: assembly plus
    /// writing ~30 bytes per unknown.
    ///
    /// Errors: wrong length of `b`, file-system errors.
    pub fn export(&self, b: &[f64], dir: &std::path::Path) -> Result<ExportedPaths, PdeError> {
        use ritz_linalg::io::{mtx, npy};
        let bc = self.to_compact(b)?;
        std::fs::create_dir_all(dir).map_err(|e| {
            PdeError::Io(ritz_linalg::io::IoError::Io {
                path: dir.display().to_string(),
                source: e,
            })
        })?;
        let paths = ExportedPaths {
            matrix: dir.join("A.mtx"),
            rhs: dir.join("b.npy"),
            flags: dir.join("flags.npy"),
            rhs_grid: dir.join("b_grid.npy"),
        };
        mtx::write_matrix_market(&paths.matrix, &self.assemble(), mtx::MtxSymmetry::Symmetric)?;
        npy::write_npy_f64(&paths.rhs, &[bc.len()], &bc)?;
        let shape = self.grid.npy_shape();
        npy::write_npy_i8(&paths.flags, &shape, &self.grid.codes())?;
        npy::write_npy_f64(&paths.rhs_grid, &shape, b)?;
        Ok(paths)
    }

    /// Assembles the matrix over the compact fluid numbering (rows sorted, symmetric, an
    /// M-matrix; singular exactly when some region is floating). Cost: O(unknowns).
    pub fn assemble(&self) -> CsrMatrix {
        let strides = self.grid.strides();
        let dim = self.grid.dim();
        let ext = self.grid.dims();
        let m = self.cells.len();
        let mut row_ptr = Vec::with_capacity(m + 1);
        let mut col_idx = Vec::with_capacity(m * (2 * dim + 1));
        let mut values = Vec::with_capacity(m * (2 * dim + 1));
        row_ptr.push(0);
        for &c in &self.cells {
            let c = c as usize;
            let co = self.grid.coords(c);
            // Lower neighbours in descending stride order give ascending compact indices.
            for a in (0..dim).rev() {
                if co[a] > 0 && self.fluid[c - strides[a]] == 1 {
                    col_idx.push(self.dof[c - strides[a]]);
                    values.push(-1.0);
                }
            }
            col_idx.push(self.dof[c]);
            values.push(self.diag[c] as f64);
            for a in 0..dim {
                if co[a] + 1 < ext[a] && self.fluid[c + strides[a]] == 1 {
                    col_idx.push(self.dof[c + strides[a]]);
                    values.push(-1.0);
                }
            }
            row_ptr.push(col_idx.len());
        }
        CsrMatrix::from_csr(m, m, row_ptr, col_idx, values)
            .expect("assembled Poisson matrix is structurally valid")
    }

    /// Applies the stencil to a block of whole x-lines `lines` (line `l = j + ny k`), writing
    /// `y` (the block's cells) and returning `Σ x_c y_c` over the block; `xl(l)` is the
    /// iterate on line `l`.
    fn stencil_lines<'x>(
        &self,
        lines: std::ops::Range<usize>,
        xl: impl Fn(usize) -> &'x [f64],
        y: &mut [f64],
    ) -> f64 {
        let [nx, ny, nz] = self.grid.dims();
        let mut acc = 0.0;
        let zeros_f = &self.zero_line_f64[..];
        let zeros_m = &self.zero_line_u8[..];
        let line = |l: usize| l * nx..(l + 1) * nx;
        for (bi, l) in lines.clone().enumerate() {
            let (j, k) = (l % ny, l / ny);
            let yl = &mut y[bi * nx..(bi + 1) * nx];
            let r = line(l);
            let (xc, fc, dc) = (xl(l), &self.fluid[r.clone()], &self.diag[r]);
            // Transverse neighbour lines (absent beyond the domain: zero contribution).
            let nb = |cond: bool, l2: usize| -> (&[f64], &[u8]) {
                if cond {
                    (xl(l2), &self.fluid[line(l2)])
                } else {
                    (zeros_f, zeros_m)
                }
            };
            let (xym, fym) = nb(j > 0, l.wrapping_sub(1));
            let (xyp, fyp) = nb(j + 1 < ny, l + 1);
            let (xzm, fzm) = nb(k > 0, l.wrapping_sub(ny));
            let (xzp, fzp) = nb(k + 1 < nz, l + ny);
            acc += stencil_line(
                nx,
                xc,
                fc,
                dc,
                [xym, xyp, xzm, xzp],
                [fym, fyp, fzm, fzp],
                yl,
            );
        }
        acc
    }

    /// `y = A x` on the owned planes of a slab of a larger grid whose ghost planes this
    /// problem includes (`ritz-dist`): the problem's grid is the slab with one plane of the
    /// slab axis (z in 3D, y in 2D) below and / or above it from the neighbouring slabs;
    /// `x` and `y` hold the owned planes' cells, `below` and `above` the ghost planes' iterate
    /// (empty where the slab has no ghost plane on that side). Returns `Σ x_c y_c` over the
    /// owned cells. Cost: one parallel pass over the owned cells, no copies.
    ///
    /// Panics on lengths that do not fit the grid (a bug in the caller).
    ///
    /// ```
    /// use ritz_linalg::LinearOperator;
    /// use ritz_pde::{PoissonProblem, Scene};
    /// let p = PoissonProblem::new(Scene::Spheres.generate(2, 8, 0)?)?;
    /// let x: Vec<f64> = (0..64).map(|i| (i % 5) as f64).collect();
    /// let mut want = vec![0.0; 64];
    /// p.apply(&x, &mut want);
    /// // Lines 1..7 owned, lines 0 and 7 as ghosts.
    /// let mut y = vec![0.0; 48];
    /// p.apply_slab(&x[..8], &x[8..56], &x[56..], &mut y);
    /// assert_eq!(&y[..], &want[8..56]);
    /// # Ok::<(), ritz_pde::PdeError>(())
    /// ```
    pub fn apply_slab(&self, below: &[f64], x: &[f64], above: &[f64], y: &mut [f64]) -> f64 {
        let [nx, ny, _] = self.grid.dims();
        let per_plane = if self.grid.dim() == 3 { ny } else { 1 };
        let plane = per_plane * nx;
        let lines_total = self.num_cells() / nx;
        assert!(
            below.len() == plane || below.is_empty(),
            "slab apply: below"
        );
        assert!(
            above.len() == plane || above.is_empty(),
            "slab apply: above"
        );
        let first = below.len() / nx;
        let end = lines_total - above.len() / nx;
        assert_eq!(x.len(), (end - first) * nx, "slab apply: x length");
        assert_eq!(y.len(), x.len(), "slab apply: y length");
        let xl = |l: usize| -> &[f64] {
            if l < first {
                &below[l * nx..][..nx]
            } else if l >= end {
                &above[(l - end) * nx..][..nx]
            } else {
                &x[(l - first) * nx..][..nx]
            }
        };
        let per = (32768 / nx).max(1);
        if end - first <= per {
            return self.stencil_lines(first..end, xl, y);
        }
        let parts: Vec<f64> = y
            .par_chunks_mut(per * nx)
            .enumerate()
            .map(|(b, yb)| {
                let l0 = first + b * per;
                self.stencil_lines(l0..l0 + yb.len() / nx, xl, yb)
            })
            .collect();
        parts.iter().sum()
    }

    fn apply_impl(&self, x: &[f64], y: &mut [f64]) -> f64 {
        assert_eq!(x.len(), self.num_cells(), "Poisson apply: x length");
        assert_eq!(y.len(), self.num_cells(), "Poisson apply: y length");
        let [nx, ny, nz] = self.grid.dims();
        let nlines = ny * nz;
        let per = (32768 / nx).max(1);
        let xl = |l: usize| &x[l * nx..][..nx];
        if nlines <= per {
            return self.stencil_lines(0..nlines, xl, y);
        }
        let parts: Vec<f64> = y
            .par_chunks_mut(per * nx)
            .enumerate()
            .map(|(b, yb)| {
                let l0 = b * per;
                self.stencil_lines(l0..l0 + yb.len() / nx, xl, yb)
            })
            .collect();
        parts.iter().sum()
    }
}

/// Per cell, the diagonal count of the 5/7-point stencil (non-solid face neighbours, air
/// walls included; 0 off the fluid) and whether a face touches air (cell or wall). Cost: one
/// parallel pass over the cells.
pub(crate) fn stencil_counts(grid: &MacGrid) -> (Vec<u8>, Vec<bool>) {
    let n = grid.len();
    let [nx, ny, nz] = grid.dims();
    let (dim, flags, walls, strides) = (grid.dim(), grid.flags(), grid.walls(), grid.strides());
    let ext = [nx, ny, nz];
    let mut diag = vec![0u8; n];
    let mut air_face = vec![false; n];
    diag.par_iter_mut()
        .zip(air_face.par_iter_mut())
        .enumerate()
        .for_each(|(c, (d, af))| {
            if flags[c] != CellFlag::Fluid {
                return;
            }
            let co = grid.coords(c);
            let mut count = 0u8;
            for a in 0..dim {
                for side in 0..2 {
                    let inside = if side == 0 {
                        co[a] > 0
                    } else {
                        co[a] + 1 < ext[a]
                    };
                    let kind = if inside {
                        let nb = if side == 0 {
                            c - strides[a]
                        } else {
                            c + strides[a]
                        };
                        match flags[nb] {
                            CellFlag::Solid => None,
                            CellFlag::Air => Some(true),
                            CellFlag::Fluid => Some(false),
                        }
                    } else {
                        match walls.0[a][side] {
                            WallKind::Solid => None,
                            WallKind::Air => Some(true),
                        }
                    };
                    if let Some(is_air) = kind {
                        count += 1;
                        *af |= is_air;
                    }
                }
            }
            *d = count;
        });
    (diag, air_face)
}

/// `v` where the 0/1 flag `f` is 1, `+0.0` where it is 0 (bit masking: exact, branch-free,
/// and immune to NaN/Inf garbage outside the fluid).
#[inline(always)]
fn masked(f: u8, v: f64) -> f64 {
    f64::from_bits(v.to_bits() & 0u64.wrapping_sub(f as u64))
}

/// One x-line of the stencil; returns `Σ x_i y_i`. The interior loop is branch-free with equal
/// length slices (no bounds checks) so that it vectorizes; the dot product is a second pass over
/// the line, still in L1, with independent accumulators.
#[inline(always)]
fn stencil_line(
    nx: usize,
    x: &[f64],
    f: &[u8],
    d: &[u8],
    xn: [&[f64]; 4],
    fnb: [&[u8]; 4],
    y: &mut [f64],
) -> f64 {
    let (x, f, d, y) = (&x[..nx], &f[..nx], &d[..nx], &mut y[..nx]);
    let (x0, x1, x2, x3) = (&xn[0][..nx], &xn[1][..nx], &xn[2][..nx], &xn[3][..nx]);
    let (f0, f1, f2, f3) = (&fnb[0][..nx], &fnb[1][..nx], &fnb[2][..nx], &fnb[3][..nx]);
    // Value at cell i from everything but the x-neighbours.
    let core = |i: usize| -> f64 {
        let s = masked(f0[i], x0[i])
            + masked(f1[i], x1[i])
            + masked(f2[i], x2[i])
            + masked(f3[i], x3[i]);
        d[i] as f64 * masked(f[i], x[i]) - s
    };
    if nx == 1 {
        y[0] = masked(f[0], core(0));
    } else {
        y[0] = masked(f[0], core(0) - masked(f[1], x[1]));
        let l = nx - 1;
        y[l] = masked(f[l], core(l) - masked(f[l - 1], x[l - 1]));
        if nx > 2 {
            let m = nx - 2;
            let (xl, xc, xr) = (&x[..m], &x[1..m + 1], &x[2..]);
            let (fl, fc, fr) = (&f[..m], &f[1..m + 1], &f[2..]);
            let (dc, yc) = (&d[1..m + 1], &mut y[1..m + 1]);
            let (x0, x1, x2, x3) = (&x0[1..m + 1], &x1[1..m + 1], &x2[1..m + 1], &x3[1..m + 1]);
            let (f0, f1, f2, f3) = (&f0[1..m + 1], &f1[1..m + 1], &f2[1..m + 1], &f3[1..m + 1]);
            for i in 0..m {
                let s = masked(fl[i], xl[i])
                    + masked(fr[i], xr[i])
                    + masked(f0[i], x0[i])
                    + masked(f1[i], x1[i])
                    + masked(f2[i], x2[i])
                    + masked(f3[i], x3[i]);
                yc[i] = masked(fc[i], dc[i] as f64 * masked(fc[i], xc[i]) - s);
            }
        }
    }
    // Σ x_i y_i (y is 0 outside the fluid, x is masked).
    let mut acc = [0.0f64; 4];
    let mut k = 0;
    while k + 4 <= nx {
        for q in 0..4 {
            acc[q] += masked(f[k + q], x[k + q]) * y[k + q];
        }
        k += 4;
    }
    let mut tail = 0.0;
    for i in k..nx {
        tail += masked(f[i], x[i]) * y[i];
    }
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
}

impl LinearOperator for PoissonProblem {
    fn nrows(&self) -> usize {
        self.num_cells()
    }
    fn ncols(&self) -> usize {
        self.num_cells()
    }
    /// Matrix-free, rayon-parallel over blocks of x-lines. Traffic: `x` read, `y` written,
    /// 2 bytes of stencil data per cell (≈ 2.25 vector passes).
    fn apply(&self, x: &[f64], y: &mut [f64]) {
        self.apply_impl(x, y);
    }
    /// The mat-vec with `xᵀ A x` fused in (no extra pass).
    fn apply_dot(&self, x: &[f64], y: &mut [f64]) -> f64 {
        self.apply_impl(x, y)
    }
    fn null_space(&self) -> Option<&dyn NullSpace> {
        self.null_grid.as_ref().map(|n| n as &dyn NullSpace)
    }
    fn diagonal(&self) -> Option<Vec<f64>> {
        Some(self.diag.iter().map(|&d| d as f64).collect())
    }
}

/// Files written by [`PoissonProblem::export`].
#[derive(Debug, Clone)]
pub struct ExportedPaths {
    /// `A.mtx`.
    pub matrix: std::path::PathBuf,
    /// `b.npy` (compact).
    pub rhs: std::path::PathBuf,
    /// `flags.npy`.
    pub flags: std::path::PathBuf,
    /// `b_grid.npy`.
    pub rhs_grid: std::path::PathBuf,
}

/// The assembled matrix paired with its null space: a [`LinearOperator`] on compact vectors.
#[derive(Debug, Clone)]
pub struct AssembledPoisson {
    /// The CSR matrix over fluid cells.
    pub matrix: CsrMatrix,
    /// Projector for floating regions (compact numbering).
    pub null_space: Option<RegionNullSpace>,
}

impl AssembledPoisson {
    /// Assembles `problem`.
    pub fn new(problem: &PoissonProblem) -> Self {
        Self {
            matrix: problem.assemble(),
            null_space: problem.null_space_compact().cloned(),
        }
    }
}

impl LinearOperator for AssembledPoisson {
    fn nrows(&self) -> usize {
        self.matrix.nrows()
    }
    fn ncols(&self) -> usize {
        self.matrix.ncols()
    }
    fn apply(&self, x: &[f64], y: &mut [f64]) {
        self.matrix.apply(x, y)
    }
    fn null_space(&self) -> Option<&dyn NullSpace> {
        self.null_space.as_ref().map(|n| n as &dyn NullSpace)
    }
    fn diagonal(&self) -> Option<Vec<f64>> {
        Some(self.matrix.diag())
    }
}

/// The exact solve `x = A⁺ b` of a Poisson problem by sparse Cholesky over its fluid cells
/// (floating regions pinned, `b` and `x` projected, see
/// [`SparseCholesky`](ritz_linalg::direct::SparseCholesky)): the coarsest-level solve of the
/// multigrid hierarchies (MGPCG, the stencil nets) when that level is too large for a dense
/// pseudo-inverse — grids of extreme aspect ratio, whose short side stops the coarsening early.
/// Cost: setup near-linear in the cells for such thin grids; a solve is two sparse triangular
/// solves.
pub struct GridCholesky {
    cells: Vec<u32>,
    chol: ritz_linalg::direct::SparseCholesky,
}

impl GridCholesky {
    /// Factorizes the problem's assembled operator. Errors: a factorization failure.
    pub fn new(problem: &PoissonProblem) -> Result<Self, PdeError> {
        let asm = AssembledPoisson::new(problem);
        let chol = ritz_linalg::direct::SparseCholesky::new(&asm.matrix, asm.null_space.as_ref())?;
        Ok(Self {
            cells: problem.fluid_cells().to_vec(),
            chol,
        })
    }
    /// Grid index of each unknown (the compact numbering).
    pub fn fluid_cells(&self) -> &[u32] {
        &self.cells
    }
    /// `A⁺ b` for `b` over the fluid cells (compact numbering). Errors: a wrong length or
    /// NaN/Inf in `b`.
    pub fn solve(&self, b: &[f64]) -> Result<Vec<f64>, PdeError> {
        Ok(self.chol.solve(b)?)
    }
}

impl std::fmt::Debug for GridCholesky {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "GridCholesky({} unknowns)", self.cells.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grid::Walls;

    fn mixed_grid(dim: usize) -> MacGrid {
        let shape: Vec<usize> = if dim == 2 { vec![7, 5] } else { vec![6, 5, 4] };
        let mut g = MacGrid::new(&shape, Walls::open_top(dim)).unwrap();
        g.paint(CellFlag::Solid, |p| {
            (p[0] - 3.0).powi(2) + (p[1] - 2.5).powi(2) < 2.0
        });
        g.set(0, 0, 0, CellFlag::Air);
        g
    }

    #[test]
    fn matrix_free_equals_assembled() {
        for dim in [2, 3] {
            let p = PoissonProblem::new(mixed_grid(dim)).unwrap();
            let a = p.assemble();
            a.check_symmetric(0.0).unwrap();
            let xc: Vec<f64> = (0..p.num_fluid())
                .map(|i| (i as f64 * 0.37).sin())
                .collect();
            let mut yc = vec![0.0; xc.len()];
            a.apply(&xc, &mut yc);
            // Garbage outside the fluid must be ignored by the matrix-free operator.
            let mut xg = p.to_grid(&xc).unwrap();
            for (v, &f) in xg.iter_mut().zip(p.fluid_mask()) {
                if f == 0 {
                    *v = 1e300;
                }
            }
            let mut yg = vec![0.0; xg.len()];
            let xax = p.apply_dot(&xg, &mut yg);
            let got = p.to_compact(&yg).unwrap();
            for (g, w) in got.iter().zip(&yc) {
                assert!((g - w).abs() <= 1e-14 * (1.0 + w.abs()), "{g} vs {w}");
            }
            let want: f64 = xc.iter().zip(&yc).map(|(a, b)| a * b).sum();
            assert!((xax - want).abs() < 1e-12 * want.abs().max(1.0));
        }
    }

    #[test]
    fn closed_box_is_singular_with_one_floating_region() {
        let g = MacGrid::new(&[4, 4, 4], Walls::closed()).unwrap();
        let p = PoissonProblem::new(g).unwrap();
        assert_eq!(p.region_counts(), (1, 1));
        let ones = vec![1.0; 64];
        let mut y = vec![0.0; 64];
        p.apply(&ones, &mut y);
        assert!(y.iter().all(|&v| v == 0.0));
        let g = MacGrid::new(&[4, 4, 4], Walls::open_top(3)).unwrap();
        assert_eq!(PoissonProblem::new(g).unwrap().region_counts(), (1, 0));
    }
}
