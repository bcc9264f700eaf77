//! Device-resident Krylov iterations: PCG and the flexible conjugate-direction iteration of
//! DCDM with every vector on one burn device, so that a GPU solve moves no vector across the
//! bus per iteration.
//!
//! The Poisson operator is the masked 7-point (5-point in 2D) stencil of [`ops::laplacian`];
//! the preconditioner is any [`DevicePreconditioner`] — a network ([`BurnPreconditioner`]),
//! MGPCG's V-cycle ([`DeviceMultigrid`], also with the learned schedule) or Jacobi
//! ([`DeviceJacobi`]); dot products, axpys and the A-orthogonalization against the
//! kept directions are tensor operations. The step lengths α, β and the orthogonalization
//! coefficients stay on the device as one-element tensors; the squared residual norms are
//! gathered there and read every [`DeviceParams::check_every`] iterations in one transfer
//! (each read is a synchronization).
//!
//! Device arithmetic is `f32` (burn-cuda has no `f64` tensors). Rounding the accumulated
//! correction to `f32` leaves the true residual near `f32` rounding times the condition number
//! while the recursive one keeps falling, so the host keeps `x` and `b` in `f64` and replaces
//! the device's residual by the true one (residual replacement, van der Vorst & Ye 2000) each
//! time it has dropped by [`DeviceParams::replacement_drop`] — early enough that the
//! replacement is a small perturbation and the search directions stay valid. The stop test is
//! always met by the `f64` true residual. Per replacement one vector goes down and one comes up
//! (three per solve to 1e-6 at the default drop).
//!
//! Generic over the backend: the same code runs on burn-flex in CI and on burn-cuda on a GPU.

use crate::error::NeuralError;
use crate::geometry::GridShape;
use crate::ops;
use crate::precond::BurnPreconditioner;
use burn::tensor::{Tensor, TensorData, backend::Backend};
use ritz_krylov::{Monitor, SolveInfo, SolveParams, StopReason};
use ritz_linalg::LinearOperator;
use ritz_pde::PoissonProblem;
use std::collections::VecDeque;

mod multigrid;
pub use multigrid::DeviceMultigrid;

/// A preconditioner that maps a residual on the device to a direction on the device.
pub trait DevicePreconditioner<B: Backend> {
    /// `z = M r` for `r` of shape `[1, 1, D, H, W]`; zero outside the fluid.
    fn apply_device(&self, r: Tensor<B, 5>) -> Tensor<B, 5>;
    /// True for a symmetric positive definite linear map, the only kind PCG accepts.
    fn is_spd(&self) -> bool;
    /// Name for reports.
    fn name(&self) -> String;
}

impl<B: Backend> DevicePreconditioner<B> for BurnPreconditioner<B> {
    fn apply_device(&self, r: Tensor<B, 5>) -> Tensor<B, 5> {
        self.forward_device(r)
    }
    fn is_spd(&self) -> bool {
        self.is_spd()
    }
    fn name(&self) -> String {
        ritz_linalg::Preconditioner::name(self)
    }
}

/// The iteration of a device solve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceMethod {
    /// Preconditioned CG: only for an SPD preconditioner ([`DevicePreconditioner::is_spd`]).
    Pcg,
    /// Flexible conjugate directions with `k ≥ 1` kept directions (DCDM: any preconditioner).
    Fcd {
        /// Directions each new one is A-orthogonalized against.
        k: usize,
    },
}

/// Parameters of [`device_solve`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DeviceParams {
    /// Stop test (on the true `f64` residual) and iteration limit.
    pub solve: SolveParams,
    /// The iteration.
    pub method: DeviceMethod,
    /// Read the residual norms from the device every this many iterations (1: every one). A
    /// solve may make up to `check_every − 1` iterations past the one that met the test; the
    /// history still records every iteration.
    pub check_every: usize,
    /// Replace the device's recursive residual by the host's `f64` true residual each time it
    /// has dropped by this factor since the last replacement (and when it meets the stop
    /// test). Replacing late (near `f32` rounding) perturbs the iteration by more than the
    /// residual left and stalls it: on a 32³ maze, MGPCG's 22 iterations to 1e-6 become 25
    /// with replacements every 1e-3 and stay 22 with 1e-2 (three replacements).
    pub replacement_drop: f64,
    /// Replacements that miss the stop test before giving up with [`StopReason::Stalled`].
    pub max_replacements: usize,
}

impl Default for DeviceParams {
    fn default() -> Self {
        Self {
            solve: SolveParams::default(),
            method: DeviceMethod::Fcd { k: 2 },
            check_every: 4,
            replacement_drop: 1e-2,
            max_replacements: 8,
        }
    }
}

impl DeviceParams {
    fn validate(&self) -> Result<(), NeuralError> {
        self.solve.validate()?;
        if self.check_every == 0 {
            return Err(NeuralError::Config("check_every must be at least 1".into()));
        }
        if let DeviceMethod::Fcd { k: 0 } = self.method {
            return Err(NeuralError::Config(
                "flexible conjugate directions need k ≥ 1 kept directions".into(),
            ));
        }
        if !(self.replacement_drop > 0.0 && self.replacement_drop < 1.0) {
            return Err(NeuralError::Config(format!(
                "replacement_drop must lie in (0, 1), got {}",
                self.replacement_drop
            )));
        }
        Ok(())
    }
}

/// A Poisson problem's operator on a device: its fluid mask and diagonal as `f32` tensors,
/// and the identity of the host problem ([`PoissonProblem::id`]) that solves must pass with
/// it (for the `f64` true residual and the null space). Cost: two grids of `f32` on the
/// device.
pub struct DeviceSystem<B: Backend> {
    mask: Tensor<B, 5>,
    diag: Tensor<B, 5>,
    shape: GridShape,
    device: B::Device,
    problem_id: u64,
}

impl<B: Backend> DeviceSystem<B> {
    /// Uploads the operator of `problem` to `device`.
    ///
    /// ```
    /// use ritz_neural_precond::burn::backend::Flex;
    /// use ritz_neural_precond::device::{DeviceJacobi, DeviceMethod, DeviceParams, DeviceSystem, device_solve};
    /// use ritz_pde::{PoissonProblem, Scene, rhs::RhsKind};
    /// let p = PoissonProblem::new(Scene::Pillars.generate(2, 32, 0)?)?;
    /// let sys = DeviceSystem::<Flex>::new(&p, &Default::default());
    /// let m = DeviceJacobi::new(&p, &Default::default());
    /// let b = RhsKind::Buoyancy.generate(&p, 0);
    /// let mut x = vec![0.0; b.len()];
    /// let params = DeviceParams { method: DeviceMethod::Pcg, ..Default::default() };
    /// let info = device_solve(&p, &sys, &m, &b, &mut x, &params, &mut ())?;
    /// assert!(info.converged());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(problem: &PoissonProblem, device: &B::Device) -> Self {
        let shape = GridShape::of(problem.grid());
        let grid = |v: Vec<f32>| upload_f32::<B>(v, shape, device);
        Self {
            mask: grid(problem.fluid_mask().iter().map(|&m| m as f32).collect()),
            diag: grid(problem.diag_counts().iter().map(|&d| d as f32).collect()),
            shape,
            device: device.clone(),
            problem_id: problem.id(),
        }
    }
    /// `A x` on the device (`[1, 1, D, H, W]`).
    pub fn apply(&self, x: Tensor<B, 5>) -> Tensor<B, 5> {
        ops::laplacian(x, self.mask.clone(), self.diag.clone(), self.shape)
    }
    /// Grid shape.
    pub fn shape(&self) -> GridShape {
        self.shape
    }
    fn upload(&self, v: &[f64], scale: f64) -> Tensor<B, 5> {
        upload_f32(
            v.iter().map(|&a| (a * scale) as f32).collect(),
            self.shape,
            &self.device,
        )
    }
}

fn upload_f32<B: Backend>(v: Vec<f32>, s: GridShape, device: &B::Device) -> Tensor<B, 5> {
    let [d, h, w] = s.dhw;
    Tensor::from_data(TensorData::new(v, [1, 1, d, h, w]), device)
}

fn download<B: Backend, const D: usize>(t: Tensor<B, D>) -> Result<Vec<f32>, NeuralError> {
    t.into_data()
        .to_vec::<f32>()
        .map_err(|e| NeuralError::Config(format!("device tensor is not f32: {e:?}")))
}

/// No preconditioner (`z = r`): PCG with it is plain CG. SPD.
pub struct DeviceIdentity;

impl<B: Backend> DevicePreconditioner<B> for DeviceIdentity {
    fn apply_device(&self, r: Tensor<B, 5>) -> Tensor<B, 5> {
        r
    }
    fn is_spd(&self) -> bool {
        true
    }
    fn name(&self) -> String {
        "cg (device)".into()
    }
}

/// Jacobi on the device: `z = r / diag` on fluid cells. SPD.
pub struct DeviceJacobi<B: Backend> {
    inv_diag: Tensor<B, 5>,
}

impl<B: Backend> DeviceJacobi<B> {
    /// The inverse diagonal of `problem` (zero outside the fluid) on `device`.
    pub fn new(problem: &PoissonProblem, device: &B::Device) -> Self {
        let inv: Vec<f32> = problem
            .diag_counts()
            .iter()
            .zip(problem.fluid_mask())
            .map(|(&d, &m)| if m != 0 && d > 0 { 1.0 / d as f32 } else { 0.0 })
            .collect();
        Self {
            inv_diag: upload_f32(inv, GridShape::of(problem.grid()), device),
        }
    }
}

impl<B: Backend> DevicePreconditioner<B> for DeviceJacobi<B> {
    fn apply_device(&self, r: Tensor<B, 5>) -> Tensor<B, 5> {
        r * self.inv_diag.clone()
    }
    fn is_spd(&self) -> bool {
        true
    }
    fn name(&self) -> String {
        "jacobi (device)".into()
    }
}

/// `aᵀb` as a one-element tensor (no synchronization).
fn dot<B: Backend>(a: Tensor<B, 5>, b: Tensor<B, 5>) -> Tensor<B, 1> {
    (a * b).sum()
}

/// A one-element tensor as a factor that broadcasts over a grid.
fn bcast<B: Backend>(s: Tensor<B, 1>) -> Tensor<B, 5> {
    s.reshape([1, 1, 1, 1, 1])
}

/// The search directions of the iteration, kept across residual replacements.
enum Directions<B: Backend> {
    /// PCG: the previous direction and its `rᵀz`.
    Pcg(Option<(Tensor<B, 5>, Tensor<B, 1>)>),
    /// FCD: the kept `(p, A p, pᵀA p)`, oldest first, at most `k`.
    Fcd(VecDeque<(Tensor<B, 5>, Tensor<B, 5>, Tensor<B, 1>)>, usize),
}

impl<B: Backend> Directions<B> {
    /// After a residual replacement: the step along each kept direction that makes the new
    /// residual orthogonal to it again (`d += c p`, `r −= c A p`, `c = pᵀr / pᵀAp`). The
    /// replaced residual differs from the recursive one by the drift, whose components along
    /// the kept directions the later, A-orthogonal directions could never remove: without
    /// this, FCD keeping 16 directions stalls just above 1e-6 (DCDM on a 2D sphere scene, 22
    /// iterations against the host's 15). PCG keeps no `A p` and needs none.
    fn project(&self, mut r: Tensor<B, 5>, mut d: Tensor<B, 5>) -> (Tensor<B, 5>, Tensor<B, 5>) {
        if let Directions::Fcd(kept, _) = self {
            for (p, ap, pap) in kept {
                let c = bcast(dot(p.clone(), r.clone()) / pap.clone());
                d = d + p.clone() * c.clone();
                r = r - ap.clone() * c;
            }
        }
        (r, d)
    }

    /// The next direction `p`, `A p` and step `α` for the residual `r` and the
    /// preconditioned `z`, all on the device.
    fn step(
        &mut self,
        sys: &DeviceSystem<B>,
        r: &Tensor<B, 5>,
        z: Tensor<B, 5>,
    ) -> (Tensor<B, 5>, Tensor<B, 5>, Tensor<B, 1>) {
        match self {
            Directions::Pcg(prev) => {
                let rz = dot(r.clone(), z.clone());
                let p = match prev.take() {
                    None => z,
                    Some((p, rz_old)) => z + p * bcast(rz.clone() / rz_old),
                };
                let ap = sys.apply(p.clone());
                let alpha = rz.clone() / dot(p.clone(), ap.clone());
                *prev = Some((p.clone(), rz));
                (p, ap, alpha)
            }
            Directions::Fcd(kept, k) => {
                let mut q = z;
                for (pj, apj, papj) in kept.iter() {
                    let c = dot(q.clone(), apj.clone()) / papj.clone();
                    q = q - pj.clone() * bcast(c);
                }
                let aq = sys.apply(q.clone());
                let qaq = dot(q.clone(), aq.clone());
                let alpha = dot(q.clone(), r.clone()) / qaq.clone();
                if kept.len() == *k {
                    kept.pop_front();
                }
                kept.push_back((q.clone(), aq.clone(), qaq));
                (q, aq, alpha)
            }
        }
    }
}

/// Solves `A x = b` on the device of `sys` (see the module docs), starting from `x`.
///
/// The device iterates on `A d = s r` with `s = 1 / ‖b − A x₀‖`. When the recursive residual
/// meets the stop threshold, or has dropped by [`DeviceParams::replacement_drop`] since the last
/// replacement, the host adds `d / s` to `x` in `f64`, recomputes `b − A x` and uploads it in
/// place of the recursive residual (residual replacement, van der Vorst & Ye 2000); the search
/// directions are kept, so the iteration goes on where it was.
///
/// Cost per iteration: one preconditioner application, one operator application, and 3 (PCG)
/// or `2k + 3` (FCD) dot products and axpys on the device; one synchronization every
/// `check_every` iterations; per replacement one upload, one download and an `f64` operator
/// application on the host. Device memory: `2k + 4` grids of `f32` (FCD), 5 (PCG).
///
/// Errors: lengths that differ from the grid, NaN/Inf in `b` or `x`, bad parameters
/// ([`NeuralError::Config`], also for PCG with a preconditioner that is not SPD, and for a
/// `problem` other than the one `sys` was uploaded from), and a
/// non-finite device iterate (a preconditioner that returns NaN, or a direction with
/// `qᵀAq ≤ 0`) as [`NeuralError::NonFinite`].
pub fn device_solve<B: Backend>(
    problem: &PoissonProblem,
    sys: &DeviceSystem<B>,
    m: &dyn DevicePreconditioner<B>,
    b: &[f64],
    x: &mut [f64],
    params: &DeviceParams,
    monitor: &mut dyn Monitor,
) -> Result<SolveInfo, NeuralError> {
    params.validate()?;
    if params.method == DeviceMethod::Pcg && !m.is_spd() {
        return Err(NeuralError::Config(format!(
            "PCG needs an SPD preconditioner; {} is not (use flexible conjugate directions)",
            m.name()
        )));
    }
    if problem.id() != sys.problem_id {
        return Err(NeuralError::Config(
            "the device system was uploaded from another problem".into(),
        ));
    }
    let a = problem;
    let n = a.nrows();
    for (what, v) in [("right-hand side", b), ("initial guess", &*x)] {
        if v.len() != n {
            return Err(NeuralError::Shape {
                what,
                expected: n,
                found: v.len(),
            });
        }
        if let Some(i) = v.iter().position(|a| !a.is_finite()) {
            return Err(NeuralError::NonFinite(format!("the {what} at index {i}")));
        }
    }
    let start = std::time::Instant::now();
    let null = a.null_space();
    let mut b = b.to_vec();
    if let Some(ns) = null {
        ns.project(&mut b);
    }
    let bnorm = norm(&b);
    let mut history = Vec::new();
    let mut elapsed = Vec::new();
    let mut record = |rel: f64, it: usize, history: &mut Vec<f64>| {
        history.push(rel);
        elapsed.push(start.elapsed().as_secs_f64());
        monitor.observe(it, rel);
    };
    if bnorm == 0.0 {
        x.fill(0.0);
        record(0.0, 0, &mut history);
        return Ok(SolveInfo {
            iterations: 0,
            residual_history: history,
            stop: StopReason::ZeroRhs,
            rhs_norm: 0.0,
            elapsed_s: elapsed,
        });
    }
    let threshold = params.solve.threshold(bnorm);
    let r_host = true_residual(a, &b, x);
    let r0 = norm(&r_host);
    record(r0 / bnorm, 0, &mut history);
    let finish = |x: &mut [f64], iterations, stop, history, elapsed| {
        if let Some(ns) = null {
            ns.project(x);
        }
        Ok(SolveInfo {
            iterations,
            residual_history: history,
            stop,
            rhs_norm: bnorm,
            elapsed_s: elapsed,
        })
    };
    if r0 <= threshold {
        return finish(x, 0, StopReason::Converged, history, elapsed);
    }
    if params.solve.max_iters == 0 {
        return finish(x, 0, StopReason::MaxIterations, history, elapsed);
    }
    // Device units: residuals scaled by s = 1 / r0.
    let s = 1.0 / r0;
    let mut r = sys.upload(&r_host, s);
    let mut d = r.zeros_like();
    let mut dirs = match params.method {
        DeviceMethod::Pcg => Directions::Pcg(None),
        DeviceMethod::Fcd { k } => Directions::Fcd(VecDeque::with_capacity(k), k),
    };
    let mut pending: Vec<Tensor<B, 1>> = Vec::new();
    let (mut it, mut replacements) = (0, 0);
    // The recursive residual (device units) at which the next replacement happens.
    let mut replace_at = (threshold * s).max(params.replacement_drop);
    let stop = loop {
        it += 1;
        let z = m.apply_device(r.clone());
        let (p, ap, alpha) = dirs.step(sys, &r, z);
        d = d + p * bcast(alpha.clone());
        r = r - ap * bcast(alpha);
        pending.push(dot(r.clone(), r.clone()));
        let limit = it == params.solve.max_iters;
        if it % params.check_every != 0 && !limit {
            continue;
        }
        // One synchronization: the squared norms of the iterations since the last check.
        let first = it + 1 - pending.len();
        let rr = download(Tensor::cat(std::mem::take(&mut pending), 0))?;
        let mut event = None;
        for (j, &v) in rr.iter().enumerate() {
            let rel = (v as f64).sqrt();
            if !rel.is_finite() {
                return Err(NeuralError::NonFinite(format!(
                    "the device iterate at iteration {} ({} returned NaN, or a direction has qᵀAq ≤ 0)",
                    first + j,
                    m.name()
                )));
            }
            record(rel / s / bnorm, first + j, &mut history);
            if event.is_none() && rel / s > params.solve.dtol * bnorm {
                event = Some(StopReason::Diverged);
            } else if event.is_none() && rel <= replace_at {
                event = Some(StopReason::Converged);
            }
        }
        if event == Some(StopReason::Diverged) {
            break StopReason::Diverged;
        }
        if event.is_none() && !limit {
            continue;
        }
        // Residual replacement: x += d / s in f64, then the true residual on the host.
        for (xi, di) in x.iter_mut().zip(download(d.clone())?) {
            *xi += di as f64 / s;
        }
        let r_host = true_residual(a, &b, x);
        let rn = norm(&r_host);
        if let Some(last) = history.last_mut() {
            *last = rn / bnorm;
        }
        if rn <= threshold {
            break StopReason::Converged;
        }
        if limit {
            break StopReason::MaxIterations;
        }
        if replacements == params.max_replacements {
            break StopReason::Stalled;
        }
        replacements += 1;
        (r, d) = dirs.project(sys.upload(&r_host, s), d.zeros_like());
        replace_at = (threshold * s).max(rn * s * params.replacement_drop);
    };
    finish(x, it, stop, history, elapsed)
}

fn norm(v: &[f64]) -> f64 {
    v.iter().map(|a| a * a).sum::<f64>().sqrt()
}

/// `b − A x` in `f64` on the host.
fn true_residual(a: &PoissonProblem, b: &[f64], x: &[f64]) -> Vec<f64> {
    if x.iter().all(|&v| v == 0.0) {
        return b.to_vec();
    }
    let mut r = vec![0.0; b.len()];
    a.apply(x, &mut r);
    for (ri, bi) in r.iter_mut().zip(b) {
        *ri = bi - *ri;
    }
    r
}
