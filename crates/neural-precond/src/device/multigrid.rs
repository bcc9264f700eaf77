//! MGPCG's V-cycle on a burn device ([`DeviceMultigrid`]): the cycle of
//! [`ritz_pde::GridMultigrid`] — its levels, area-weighted coarse operators, red–black SOR
//! weights, boundary sweeps, trilinear transfers with reflection at solid walls, coarse
//! correction scales and dense coarsest solve, taken from [`GridMultigrid::cycle_data`] —
//! written as masked tensor operations, so that it runs on every burn backend (burn-flex in
//! CI, burn-cuda on a GPU) and matches the host cycle up to `f32` rounding. With
//! [`super::DeviceMethod::Pcg`] it is MGPCG resident on the device (the GPU classical
//! baseline), and with a learned schedule ([`ritz_pde::MultigridParams::schedule`]) the
//! `learned` solver.
//!
//! A half-sweep of colour `c` is `x ← x + ω M_c ⊙ ((b + N x) / diag − x)`, with `N x` the
//! neighbour sum (six shifted products) and `M_c` the cells of colour `(i + j + k) % 2 = c`
//! (for a boundary sweep, only the boundary cells among them). Each is a handful of tensor
//! kernels: without burn's fusion (CPU backends) a half-sweep makes about 20 passes over the
//! level, so this version is for correctness and for GPUs, where fusion merges them.

use super::DevicePreconditioner;
use crate::error::NeuralError;
use burn::tensor::{Tensor, TensorData, backend::Backend};
use ritz_pde::{CycleData, GridMultigrid, LevelData, LevelWeights};

/// One level on the device.
struct DeviceLevel<B: Backend> {
    /// `[1, 1, D, H, W]`.
    shape: [usize; 5],
    dim: usize,
    fluid: Tensor<B, 5>,
    diag: Tensor<B, 5>,
    inv_diag: Tensor<B, 5>,
    /// Per axis `a < dim`: the conductance of each cell's `+e_a` face, zero unless both cells
    /// are fluid.
    faces: Vec<Tensor<B, 5>>,
    /// Fluid cells of colour 0 and 1; boundary cells of colour 0 and 1.
    colour: [Tensor<B, 5>; 2],
    boundary: [Tensor<B, 5>; 2],
    solid_wall: [[bool; 2]; 3],
    weights: LevelWeights,
    sweeps: usize,
}

/// The tensor axis of grid axis `a` (x is the last axis of `[1, 1, D, H, W]`).
fn axis(a: usize) -> usize {
    4 - a
}

fn grid<B: Backend>(v: Vec<f32>, shape: [usize; 5], device: &B::Device) -> Tensor<B, 5> {
    Tensor::from_data(TensorData::new(v, shape), device)
}

/// `y[i] = x[i + 1]` (`up`) or `y[i] = x[i − 1]` along tensor axis `t`, zero beyond the ends.
fn shift<B: Backend>(x: Tensor<B, 5>, t: usize, up: bool) -> Tensor<B, 5> {
    let n = x.dims()[t];
    let mut zd = x.dims();
    zd[t] = 1;
    if n == 1 {
        return x.zeros_like();
    }
    let z = Tensor::zeros(zd, &x.device());
    if up {
        Tensor::cat(vec![x.narrow(t, 1, n - 1), z], t)
    } else {
        Tensor::cat(vec![z, x.narrow(t, 0, n - 1)], t)
    }
}

impl<B: Backend> DeviceLevel<B> {
    fn new(l: &LevelData, device: &B::Device) -> Self {
        let [nx, ny, nz] = l.dims;
        let shape = [1, 1, nz, ny, nx];
        let n = nx * ny * nz;
        let up = |a: usize| [1, nx, nx * ny][a];
        let inv: Vec<f32> = l
            .diag
            .iter()
            .zip(&l.fluid)
            .map(|(&d, &f)| if f > 0.0 && d > 0.0 { 1.0 / d } else { 0.0 })
            .collect();
        let faces = (0..l.dim)
            .map(|a| {
                let g: Vec<f32> = (0..n)
                    .map(|c| {
                        let i = (c / up(a)) % l.dims[a];
                        let open =
                            i + 1 < l.dims[a] && l.fluid[c] > 0.0 && l.fluid[c + up(a)] > 0.0;
                        if open { l.faces[a][c] } else { 0.0 }
                    })
                    .collect();
                grid(g, shape, device)
            })
            .collect();
        let colour_of = |c: usize| (c % nx + (c / nx) % ny + c / (nx * ny)) % 2;
        let masked = |colour: usize, by: &[f32]| {
            let v: Vec<f32> = (0..n)
                .map(|c| if colour_of(c) == colour { by[c] } else { 0.0 })
                .collect();
            grid(v, shape, device)
        };
        Self {
            shape,
            dim: l.dim,
            fluid: grid(l.fluid.clone(), shape, device),
            diag: grid(l.diag.clone(), shape, device),
            inv_diag: grid(inv, shape, device),
            faces,
            colour: [masked(0, &l.fluid), masked(1, &l.fluid)],
            boundary: [masked(0, &l.boundary), masked(1, &l.boundary)],
            solid_wall: l.solid_wall,
            weights: l.weights,
            sweeps: l.sweeps,
        }
    }

    /// `Σ_faces g x(neighbour)`.
    fn neighbours(&self, x: &Tensor<B, 5>) -> Tensor<B, 5> {
        let mut sum: Option<Tensor<B, 5>> = None;
        for (a, g) in self.faces.iter().enumerate() {
            let t = axis(a);
            let term =
                g.clone() * shift(x.clone(), t, true) + shift(g.clone() * x.clone(), t, false);
            sum = Some(match sum {
                None => term,
                Some(s) => s + term,
            });
        }
        sum.unwrap_or_else(|| x.zeros_like())
    }

    /// One SOR half-sweep over the cells of `mask` (one colour: independent updates).
    fn half_sweep(
        &self,
        x: Tensor<B, 5>,
        b: &Tensor<B, 5>,
        mask: &Tensor<B, 5>,
        omega: f32,
    ) -> Tensor<B, 5> {
        let gs = (b.clone() + self.neighbours(&x)) * self.inv_diag.clone();
        x.clone() + (gs - x) * mask.clone() * omega
    }

    /// Pre-smoothing (red → black, then the boundary sweeps) or post-smoothing (the adjoint:
    /// boundary sweeps first, black → red, weights reversed).
    fn smooth(
        &self,
        mut x: Tensor<B, 5>,
        b: &Tensor<B, 5>,
        boundary_sweeps: usize,
        pre: bool,
    ) -> Tensor<B, 5> {
        let order = if pre { [0, 1] } else { [1, 0] };
        let w = self.weights;
        let full = |mut x: Tensor<B, 5>| {
            for k in 0..self.sweeps {
                let omega = w.sweeps[if pre { k } else { self.sweeps - 1 - k }];
                for c in order {
                    x = self.half_sweep(x, b, &self.colour[c], omega);
                }
            }
            x
        };
        let edge = |mut x: Tensor<B, 5>| {
            for _ in 0..boundary_sweeps {
                for c in order {
                    x = self.half_sweep(x, b, &self.boundary[c], w.boundary);
                }
            }
            x
        };
        if pre {
            x = full(x);
            edge(x)
        } else {
            x = edge(x);
            full(x)
        }
    }

    /// `(b − A x)` on the fluid.
    fn residual(&self, x: &Tensor<B, 5>, b: &Tensor<B, 5>) -> Tensor<B, 5> {
        (b.clone() - self.diag.clone() * x.clone() + self.neighbours(x)) * self.fluid.clone()
    }
}

/// Cell-centred linear prolongation along tensor axis `t` from `nc` to `nf` cells (weights ¾,
/// ¼; beyond a solid wall the ¼ goes to the edge cell, beyond an air wall it is dropped).
fn prolong_axis<B: Backend>(
    c: Tensor<B, 5>,
    t: usize,
    nf: usize,
    solid: [bool; 2],
) -> Tensor<B, 5> {
    let nc = c.dims()[t];
    let ghost = |keep: bool, at: usize| {
        let e = c.clone().narrow(t, at, 1);
        if keep { e } else { e.zeros_like() }
    };
    let cp = Tensor::cat(
        vec![ghost(solid[0], 0), c.clone(), ghost(solid[1], nc - 1)],
        t,
    );
    let mid = cp.clone().narrow(t, 1, nc) * 0.75;
    let even = mid.clone() + cp.clone().narrow(t, 0, nc) * 0.25;
    let odd = mid + cp.narrow(t, 2, nc) * 0.25;
    let mut dims = even.dims();
    dims[t] = 2 * nc;
    let fine: Tensor<B, 5> = Tensor::stack::<6>(vec![even, odd], t + 1).reshape(dims);
    if nf < 2 * nc {
        fine.narrow(t, 0, nf)
    } else {
        fine
    }
}

/// The transpose of [`prolong_axis`]: `nf` fine cells along `t` onto `nc` coarse ones.
fn restrict_axis<B: Backend>(
    f: Tensor<B, 5>,
    t: usize,
    nc: usize,
    solid: [bool; 2],
) -> Tensor<B, 5> {
    let nf = f.dims()[t];
    let f = if nf < 2 * nc {
        let mut zd = f.dims();
        zd[t] = 2 * nc - nf;
        let z = Tensor::zeros(zd, &f.device());
        Tensor::cat(vec![f, z], t)
    } else {
        f
    };
    let mut split = [0usize; 6];
    let d5 = f.dims();
    split[..=t].copy_from_slice(&d5[..=t]);
    split[t] = nc;
    split[t + 1] = 2;
    split[t + 2..].copy_from_slice(&d5[t + 1..]);
    let pairs: Tensor<B, 6> = f.reshape(split);
    let mut half = d5;
    half[t] = nc;
    let e: Tensor<B, 5> = pairs.clone().narrow(t + 1, 0, 1).reshape(half);
    let o: Tensor<B, 5> = pairs.narrow(t + 1, 1, 1).reshape(half);
    // Fine cell 2p takes ¼ from coarse p − 1, fine 2p + 1 from p + 1.
    let mut c = (e.clone() + o.clone()) * 0.75
        + shift(e.clone(), t, true) * 0.25
        + shift(o.clone(), t, false) * 0.25;
    let edge = |v: &Tensor<B, 5>, at: usize| {
        let one = v.clone().narrow(t, at, 1);
        if nc == 1 {
            return one;
        }
        let mut zd = v.dims();
        zd[t] = nc - 1;
        let z = Tensor::zeros(zd, &v.device());
        if at == 0 {
            Tensor::cat(vec![one, z], t)
        } else {
            Tensor::cat(vec![z, one], t)
        }
    };
    if solid[0] {
        c = c + edge(&e, 0) * 0.25;
    }
    if solid[1] {
        c = c + edge(&o, nc - 1) * 0.25;
    }
    c
}

/// MGPCG's V-cycle on a device (see the module docs). An SPD linear map: PCG accepts it.
pub struct DeviceMultigrid<B: Backend> {
    levels: Vec<DeviceLevel<B>>,
    /// `[n, n]` over the coarsest level's cells.
    coarsest: Tensor<B, 2>,
    boundary_sweeps: usize,
    name: String,
}

impl<B: Backend> DeviceMultigrid<B> {
    /// Uploads the cycle of `mg` to `device`. Cost: about 12 `f32` grids per level on the
    /// device (masks, diagonals, conductances) and the coarsest matrix.
    ///
    /// Errors: as [`GridMultigrid::cycle_data`] (a coarsest level too large for a dense
    /// matrix).
    ///
    /// ```
    /// use ritz_neural_precond::burn::backend::Flex;
    /// use ritz_neural_precond::device::{DeviceMethod, DeviceMultigrid, DeviceParams, DeviceSystem, device_solve};
    /// use ritz_pde::{GridMultigrid, MultigridParams, PoissonProblem, Scene, rhs::RhsKind};
    /// let p = PoissonProblem::new(Scene::Spheres.generate(3, 16, 0)?)?;
    /// let mg = GridMultigrid::new(&p, MultigridParams::default())?;
    /// let m = DeviceMultigrid::<Flex>::new(&mg, &Default::default())?;
    /// let sys = DeviceSystem::<Flex>::new(&p, &Default::default());
    /// let b = RhsKind::WhiteNoise.generate(&p, 0);
    /// let mut x = vec![0.0; b.len()];
    /// let params = DeviceParams { method: DeviceMethod::Pcg, ..Default::default() };
    /// assert!(device_solve(&p, &sys, &m, &b, &mut x, &params, &mut ())?.converged());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(mg: &GridMultigrid, device: &B::Device) -> Result<Self, NeuralError> {
        Ok(Self::from_cycle(&mg.cycle_data()?, device))
    }

    /// Uploads a cycle description.
    pub fn from_cycle(cycle: &CycleData, device: &B::Device) -> Self {
        let levels: Vec<DeviceLevel<B>> = cycle
            .levels
            .iter()
            .map(|l| DeviceLevel::new(l, device))
            .collect();
        let n = cycle.levels.last().map_or(0, |l| l.fluid.len());
        Self {
            levels,
            coarsest: Tensor::from_data(TensorData::new(cycle.coarsest.clone(), [n, n]), device),
            boundary_sweeps: cycle.boundary_sweeps,
            name: "mgpcg (device)".into(),
        }
    }

    /// Renames it for reports (e.g. "learned (device)").
    pub fn named(mut self, name: &str) -> Self {
        self.name = name.into();
        self
    }

    /// Number of levels.
    pub fn num_levels(&self) -> usize {
        self.levels.len()
    }

    fn restrict(&self, l: usize, r: Tensor<B, 5>) -> Tensor<B, 5> {
        let (fine, coarse) = (&self.levels[l], &self.levels[l + 1]);
        let mut v = r;
        for a in 0..fine.dim {
            v = restrict_axis(v, axis(a), coarse.shape[axis(a)], fine.solid_wall[a]);
        }
        let scale = 4.0 / (1 << fine.dim) as f32;
        v * coarse.fluid.clone() * scale
    }

    fn prolong(&self, l: usize, xc: Tensor<B, 5>) -> Tensor<B, 5> {
        let fine = &self.levels[l];
        let mut v = xc;
        for a in 0..fine.dim {
            v = prolong_axis(v, axis(a), fine.shape[axis(a)], fine.solid_wall[a]);
        }
        v * fine.fluid.clone()
    }

    fn vcycle(&self, l: usize, b: Tensor<B, 5>) -> Tensor<B, 5> {
        let lev = &self.levels[l];
        if l + 1 == self.levels.len() {
            let n = self.coarsest.dims()[0];
            let x = self.coarsest.clone().matmul(b.reshape([n, 1]));
            return x.reshape(lev.shape);
        }
        let x = lev.smooth(b.zeros_like(), &b, self.boundary_sweeps, true);
        let bc = self.restrict(l, lev.residual(&x, &b));
        let xc = self.vcycle(l + 1, bc);
        let x = x + self.prolong(l, xc) * lev.weights.correction;
        lev.smooth(x, &b, self.boundary_sweeps, false)
    }
}

impl<B: Backend> DevicePreconditioner<B> for DeviceMultigrid<B> {
    fn apply_device(&self, r: Tensor<B, 5>) -> Tensor<B, 5> {
        let r = r * self.levels[0].fluid.clone();
        self.vcycle(0, r)
    }
    fn is_spd(&self) -> bool {
        true
    }
    fn name(&self) -> String {
        self.name.clone()
    }
}
