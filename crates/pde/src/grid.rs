//! MAC grids with per-cell flags.

use crate::error::PdeError;
use serde::{Deserialize, Serialize};

/// The state of a cell: pressure unknowns live in fluid cells only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[repr(u8)]
pub enum CellFlag {
    /// An unknown of the Poisson problem (code 0).
    Fluid = 0,
    /// A solid obstacle: faces to it are Neumann, contributing nothing (code 1).
    Solid = 1,
    /// Free surface / open air: faces to it are Dirichlet `p = 0`, adding 1 to the diagonal
    /// (code 2).
    Air = 2,
}

impl CellFlag {
    /// Decodes the npy convention (0 fluid, 1 solid, 2 air).
    pub fn from_code(code: i64) -> Option<Self> {
        match code {
            0 => Some(Self::Fluid),
            1 => Some(Self::Solid),
            2 => Some(Self::Air),
            _ => None,
        }
    }
}

/// What lies beyond a face of the domain box.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum WallKind {
    /// A closed wall (Neumann).
    Solid,
    /// Open to air (Dirichlet `p = 0`).
    Air,
}

/// The six domain walls, as `[lo, hi]` per axis x, y, z (z ignored in 2D).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Walls(pub [[WallKind; 2]; 3]);

impl Walls {
    /// Every wall closed (the all-Neumann box unless there are air cells).
    pub fn closed() -> Self {
        Walls([[WallKind::Solid; 2]; 3])
    }
    /// Closed but open to air at the top (the high end of the last axis: y in 2D, z in 3D).
    pub fn open_top(dim: usize) -> Self {
        let mut w = Self::closed();
        w.0[dim.clamp(1, 3) - 1][1] = WallKind::Air;
        w
    }

    /// The walls named `closed` or `open-top` (also `open_top`) for a grid of dimension
    /// `dim`: [`WallPreset`]'s parse, then [`WallPreset::walls`].
    ///
    /// Errors: another name ([`PdeError::Unsupported`]).
    ///
    /// ```
    /// use ritz_pde::{Walls, WallKind};
    /// let w = Walls::named("open-top", 2).unwrap();
    /// assert_eq!(w.0[1][1], WallKind::Air);
    /// assert_eq!(w.name(2), Some("open-top"));
    /// assert!(Walls::named("sideways", 3).is_err());
    /// ```
    pub fn named(name: &str, dim: usize) -> Result<Self, PdeError> {
        Ok(name.parse::<WallPreset>()?.walls(dim))
    }

    /// The name of these walls for a grid of dimension `dim`, if they are one of the named
    /// kinds of [`Walls::named`].
    pub fn name(&self, dim: usize) -> Option<&'static str> {
        if *self == Self::closed() {
            Some("closed")
        } else if *self == Self::open_top(dim) {
            Some("open-top")
        } else {
            None
        }
    }
}

/// The named wall configurations of the command line, configuration files and frame dumps.
/// `open-top` is open to air at the high end of the last axis, so the same name means y in 2D
/// and z in 3D; [`WallPreset::walls`] resolves it for a dimension.
///
/// ```
/// use ritz_pde::{WallKind, WallPreset};
/// let p: WallPreset = "open-top".parse()?;
/// assert_eq!(p.walls(3).0[2][1], WallKind::Air);
/// assert_eq!(p.to_string(), "open-top");
/// assert!("sideways".parse::<WallPreset>().is_err());
/// # Ok::<(), ritz_pde::PdeError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WallPreset {
    /// Every wall solid.
    #[default]
    Closed,
    /// Solid, but open to air at the top.
    OpenTop,
}

impl WallPreset {
    /// The walls of this preset for a grid of dimension `dim`.
    pub fn walls(self, dim: usize) -> Walls {
        match self {
            WallPreset::Closed => Walls::closed(),
            WallPreset::OpenTop => Walls::open_top(dim),
        }
    }
    /// `closed` or `open-top`.
    pub fn name(self) -> &'static str {
        match self {
            WallPreset::Closed => "closed",
            WallPreset::OpenTop => "open-top",
        }
    }
}

impl std::str::FromStr for WallPreset {
    type Err = PdeError;
    /// Parses `closed`, `open-top` or `open_top`. Errors: another name
    /// ([`PdeError::Unsupported`]).
    fn from_str(s: &str) -> Result<Self, PdeError> {
        match s {
            "closed" => Ok(WallPreset::Closed),
            "open-top" | "open_top" => Ok(WallPreset::OpenTop),
            other => Err(PdeError::Unsupported(format!(
                "unknown walls '{other}' (closed, open-top)"
            ))),
        }
    }
}

impl std::fmt::Display for WallPreset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl Default for Walls {
    fn default() -> Self {
        Self::closed()
    }
}

/// Errors with [`LinalgError::OutOfMemory`](ritz_linalg::LinalgError::OutOfMemory) (as
/// [`PdeError::Linalg`]) unless `bytes_per_cell` bytes for each cell of `shape` fit in the
/// memory available now ([`ritz_linalg::mem`]). Every constructor that allocates per-cell
/// arrays of a size that comes from input calls it first; a caller that will build several
/// (a simulator, a bench) can check its whole budget up front.
pub fn check_cell_memory(
    what: &str,
    shape: &[usize],
    bytes_per_cell: usize,
) -> Result<(), PdeError> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let mut factors = shape.to_vec();
    factors.push(bytes_per_cell);
    ritz_linalg::mem::check(
        || {
            format!(
                "{what} on a {} grid ({bytes_per_cell} bytes per cell)",
                dims.join("×")
            )
        },
        ritz_linalg::mem::product(&factors),
    )?;
    Ok(())
}

/// A 2D or 3D cell-centred grid with unit spacing and a flag per cell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MacGrid {
    dim: usize,
    dims: [usize; 3],
    flags: Vec<CellFlag>,
    walls: Walls,
}

impl MacGrid {
    /// A grid of the given shape (`[nx, ny]` or `[nx, ny, nz]`), every cell fluid.
    pub fn new(shape: &[usize], walls: Walls) -> Result<Self, PdeError> {
        let dims = Self::check_shape(shape)?;
        let n = dims.iter().product();
        Ok(Self {
            dim: shape.len(),
            dims,
            flags: vec![CellFlag::Fluid; n],
            walls,
        })
    }

    fn check_shape(shape: &[usize]) -> Result<[usize; 3], PdeError> {
        if !(2..=3).contains(&shape.len()) {
            return Err(PdeError::InvalidGrid {
                shape: shape.to_vec(),
                reason: "a grid has 2 or 3 axes".into(),
            });
        }
        if shape.contains(&0) {
            return Err(PdeError::InvalidGrid {
                shape: shape.to_vec(),
                reason: "every axis needs at least one cell".into(),
            });
        }
        let n = shape.iter().try_fold(1usize, |a, &b| a.checked_mul(b));
        if n.is_none_or(|n| n >= u32::MAX as usize) {
            return Err(PdeError::InvalidGrid {
                shape: shape.to_vec(),
                reason: "more than 2^32 - 1 cells".into(),
            });
        }
        check_cell_memory("cell flags", shape, std::mem::size_of::<CellFlag>())?;
        let mut d = [1usize; 3];
        d[..shape.len()].copy_from_slice(shape);
        Ok(d)
    }

    /// A grid from flag codes in grid layout (x fastest; npy arrays of shape `(nz, ny, nx)` or
    /// `(ny, nx)` in C order have exactly this layout). `shape` is `[nx, ny(, nz)]`.
    ///
    /// Errors: bad shape, wrong number of codes, a code outside {0, 1, 2}.
    pub fn from_codes(shape: &[usize], codes: &[i8], walls: Walls) -> Result<Self, PdeError> {
        let mut g = Self::new(shape, walls)?;
        if codes.len() != g.flags.len() {
            return Err(PdeError::Shape {
                what: "flag array",
                expected: g.flags.len(),
                found: codes.len(),
            });
        }
        for (k, (f, &c)) in g.flags.iter_mut().zip(codes).enumerate() {
            *f = CellFlag::from_code(c as i64).ok_or(PdeError::BadFlag {
                index: k,
                value: c as i64,
            })?;
        }
        Ok(g)
    }

    /// A grid from an npy file of int8 flag codes (0 fluid, 1 solid, 2 air) of shape
    /// `(ny, nx)` or `(nz, ny, nx)` in C order, as `cargo xtask export` writes them, with the
    /// walls of `walls` for the file's dimension.
    ///
    /// Errors: an unreadable or malformed file, another dtype, a shape that is not 2D or 3D, a
    /// code outside {0, 1, 2} — each naming the file.
    pub fn read_flags_npy(path: &std::path::Path, walls: WallPreset) -> Result<Self, PdeError> {
        let ctx = |e: PdeError| PdeError::InFile {
            path: path.display().to_string(),
            source: Box::new(e),
        };
        let arr = ritz_linalg::io::npy::read_npy(path).map_err(|e| ctx(e.into()))?;
        let dim = arr.shape.len();
        if !(2..=3).contains(&dim) {
            return Err(ctx(PdeError::InvalidGrid {
                shape: arr.shape.clone(),
                reason: "a flag grid has 2 or 3 axes".into(),
            }));
        }
        let codes = arr.to_i8().map_err(|e| ctx(e.into()))?;
        let shape: Vec<usize> = arr.shape.iter().rev().copied().collect();
        Self::from_codes(&shape, &codes, walls.walls(dim)).map_err(ctx)
    }

    /// The planes `planes` of the slowest axis (z in 3D, y in 2D) as a grid of their own: the
    /// domain's walls where the range reaches the domain's ends, solid walls where it cuts
    /// the grid (the slab of a distributed solve, whose cut ends neighbouring slabs fill).
    /// Cost: a copy of the planes' flags.
    ///
    /// Errors: an empty range or one beyond the grid ([`PdeError::InvalidGrid`]).
    ///
    /// ```
    /// use ritz_pde::{MacGrid, Walls, WallKind};
    /// let g = MacGrid::new(&[4, 6], Walls::open_top(2))?;
    /// let s = g.slab(2..6)?;
    /// assert_eq!(s.dims(), [4, 4, 1]);
    /// assert_eq!(s.walls().0[1], [WallKind::Solid, WallKind::Air]);
    /// # Ok::<(), ritz_pde::PdeError>(())
    /// ```
    pub fn slab(&self, planes: std::ops::Range<usize>) -> Result<MacGrid, PdeError> {
        let axis = self.dim - 1;
        let n = self.dims[axis];
        if planes.is_empty() || planes.end > n {
            return Err(PdeError::InvalidGrid {
                shape: self.shape(),
                reason: format!("slab {planes:?} of {n} planes"),
            });
        }
        let plane: usize = self.dims[..axis].iter().product();
        let mut shape = self.shape();
        shape[axis] = planes.len();
        let mut walls = self.walls;
        if planes.start > 0 {
            walls.0[axis][0] = WallKind::Solid;
        }
        if planes.end < n {
            walls.0[axis][1] = WallKind::Solid;
        }
        let mut g = Self::new(&shape, walls)?;
        g.flags
            .copy_from_slice(&self.flags[planes.start * plane..planes.end * plane]);
        Ok(g)
    }

    /// Flag codes (0 fluid, 1 solid, 2 air) in grid layout, for npy export.
    pub fn codes(&self) -> Vec<i8> {
        self.flags.iter().map(|&f| f as i8).collect()
    }

    /// Number of axes (2 or 3).
    pub fn dim(&self) -> usize {
        self.dim
    }
    /// `[nx, ny, nz]` (`nz = 1` in 2D).
    pub fn dims(&self) -> [usize; 3] {
        self.dims
    }
    /// The shape as given: `[nx, ny]` or `[nx, ny, nz]`.
    pub fn shape(&self) -> Vec<usize> {
        self.dims[..self.dim].to_vec()
    }
    /// The npy (C-order) shape: `(nz, ny, nx)` or `(ny, nx)`.
    pub fn npy_shape(&self) -> Vec<usize> {
        self.shape().into_iter().rev().collect()
    }
    /// Number of cells.
    pub fn len(&self) -> usize {
        self.flags.len()
    }
    /// Always false (grids have at least one cell).
    pub fn is_empty(&self) -> bool {
        self.flags.is_empty()
    }
    /// Domain walls.
    pub fn walls(&self) -> Walls {
        self.walls
    }
    /// Sets the domain walls.
    pub fn set_walls(&mut self, walls: Walls) {
        self.walls = walls;
    }
    /// All flags in grid layout.
    pub fn flags(&self) -> &[CellFlag] {
        &self.flags
    }
    /// Flat index of cell `(i, j, k)`.
    #[inline]
    pub fn index(&self, i: usize, j: usize, k: usize) -> usize {
        i + self.dims[0] * (j + self.dims[1] * k)
    }
    /// `(i, j, k)` of a flat index.
    #[inline]
    pub fn coords(&self, c: usize) -> [usize; 3] {
        let [nx, ny, _] = self.dims;
        [c % nx, (c / nx) % ny, c / (nx * ny)]
    }
    /// Flag of cell `(i, j, k)`.
    #[inline]
    pub fn flag(&self, i: usize, j: usize, k: usize) -> CellFlag {
        self.flags[self.index(i, j, k)]
    }
    /// Sets the flag of cell `(i, j, k)`.
    #[inline]
    pub fn set(&mut self, i: usize, j: usize, k: usize, f: CellFlag) {
        let c = self.index(i, j, k);
        self.flags[c] = f;
    }
    /// Sets every cell whose centre `(x, y, z)` (in cell units, centres at `i + 0.5`) satisfies
    /// `inside` to `f`.
    pub fn paint(&mut self, f: CellFlag, inside: impl Fn([f64; 3]) -> bool) {
        let [nx, ny, nz] = self.dims;
        for k in 0..nz {
            for j in 0..ny {
                for i in 0..nx {
                    if inside([i as f64 + 0.5, j as f64 + 0.5, k as f64 + 0.5]) {
                        self.set(i, j, k, f);
                    }
                }
            }
        }
    }
    /// Number of fluid cells.
    pub fn fluid_count(&self) -> usize {
        self.flags.iter().filter(|&&f| f == CellFlag::Fluid).count()
    }
    /// Strides of the neighbours along each axis in grid layout.
    pub fn strides(&self) -> [usize; 3] {
        [1, self.dims[0], self.dims[0] * self.dims[1]]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_and_codes_are_validated() {
        assert!(MacGrid::new(&[4], Walls::closed()).is_err());
        assert!(MacGrid::new(&[4, 0], Walls::closed()).is_err());
        assert!(matches!(
            MacGrid::from_codes(&[2, 2], &[0, 1, 2], Walls::closed()),
            Err(PdeError::Shape { .. })
        ));
        assert!(matches!(
            MacGrid::from_codes(&[2, 2], &[0, 1, 2, 3], Walls::closed()),
            Err(PdeError::BadFlag { index: 3, .. })
        ));
        let g = MacGrid::from_codes(&[2, 2], &[0, 1, 2, 0], Walls::closed()).unwrap();
        assert_eq!(g.codes(), vec![0, 1, 2, 0]);
        assert_eq!(g.coords(g.index(1, 1, 0)), [1, 1, 0]);
    }
}
