//! A catalogue solver set up once on a problem and reused for any number of right-hand
//! sides: [`Solver::build`] does the setup (preconditioner, factorization, Lanczos, weights and
//! per-geometry stencils) and times it; [`Solver::solve`] runs the iteration and times it. It is
//! also the smoke simulator's [`PressureSolver`].
//!
//! Vectors are in the layout of the system the solver was built on: grid layout (every cell,
//! zero outside fluid) for [`System::Grid`], the matrix's rows for [`System::Matrix`]. A `-csr`
//! spec or the direct solve on a grid problem assembles the matrix during setup and converts
//! the vectors at each solve (an O(n) copy each way, counted in the solve time).

use crate::catalogue::{Method, SolverSpec};
use crate::error::{RitzError, failed};
use ritz_krylov::deflation::{Deflation, deflated_pcg};
use ritz_krylov::direct::SparseCholesky;
use ritz_krylov::lanczos::{LanczosParams, lanczos};
use ritz_krylov::precond::{IcOptions, IncompleteCholesky, Jacobi};
use ritz_krylov::{
    FcdParams, Monitor, SolveInfo, SolveParams, StopReason, cg, fcd, pcg, pcg_fused,
};
use ritz_linalg::{CsrMatrix, LinearOperator, Preconditioner, SpdPreconditioner, vector};
use ritz_pde::multigrid::Kernel;
use ritz_pde::poisson::AssembledPoisson;
use ritz_pde::smoke::{PressureSolver, PressureStats};
use ritz_pde::{GridIc0, GridMultigrid, IcVariant, MultigridParams, PoissonProblem, Precision};
use serde::Serialize;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// The system a solver is built on and solves.
#[derive(Clone, Copy)]
pub enum System<'a> {
    /// A MAC-grid Poisson problem, matrix-free on grid-layout vectors.
    Grid(&'a PoissonProblem),
    /// A sparse symmetric positive (semi-)definite matrix.
    Matrix(&'a CsrMatrix),
}

impl<'a> From<&'a PoissonProblem> for System<'a> {
    fn from(p: &'a PoissonProblem) -> Self {
        System::Grid(p)
    }
}

impl<'a> From<&'a CsrMatrix> for System<'a> {
    fn from(a: &'a CsrMatrix) -> Self {
        System::Matrix(a)
    }
}

impl<'a> System<'a> {
    /// The operator on this system's vectors.
    pub fn operator(&self) -> &'a dyn LinearOperator {
        match *self {
            System::Grid(p) => p,
            System::Matrix(a) => a,
        }
    }
    /// Length of its vectors.
    pub fn len(&self) -> usize {
        self.operator().nrows()
    }
    /// True for a system with no unknowns.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// What identifies it for [`RitzError::SystemMismatch`]: kind, length and fluid cells or
    /// stored entries.
    fn signature(&self) -> (bool, usize, usize) {
        match *self {
            System::Grid(p) => (true, p.num_cells(), p.num_fluid()),
            System::Matrix(a) => (false, a.nrows(), a.nnz()),
        }
    }
    fn describe(sig: (bool, usize, usize)) -> String {
        match sig {
            (true, n, f) => format!("a grid problem of {n} cells ({f} fluid)"),
            (false, n, nnz) => format!("a {n}-row matrix with {nnz} entries"),
        }
    }
}

/// The burn backend of the learned solvers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Backend {
    /// burn-flex on the CPU (the stencil nets run in the plain-Rust f32 engine).
    #[default]
    Cpu,
    /// burn-cuda on an NVIDIA GPU (needs the `cuda` feature): the learned networks' whole
    /// solve runs on the GPU (`ritz_neural_precond::device`): operator, iteration and
    /// network, with only scalars and a few `f64` residual replacements crossing to the
    /// host. Without a usable GPU the build fails with a typed error naming what is missing.
    Cuda,
}

/// Options of [`Solver::build_with`] beyond the spec.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// A folder with `<model>-<dim>d.{json,bin}` weights to use instead of the shipped ones
    /// embedded in the library.
    pub weights: Option<PathBuf>,
    /// Backend of the learned solvers.
    pub backend: Backend,
    /// Stop test and iteration limit of every solve (changeable later with
    /// [`Solver::set_params`]).
    pub params: SolveParams,
}

/// The iteration a built solver runs.
pub(crate) enum Engine {
    Cg,
    Pcg(Box<dyn SpdPreconditioner + Send>),
    /// PCG with the multigrid V-cycle, kept by type for its kernel profile.
    Mgpcg(Box<GridMultigrid>),
    /// Flexible conjugate directions keeping `k` directions.
    Fcd(Box<dyn Preconditioner + Send>, usize),
    Deflated(Jacobi, Deflation),
    Cholesky(SparseCholesky),
    /// A learned network's whole solve on a GPU.
    #[cfg(feature = "learned")]
    Device(Box<dyn crate::learned::DeviceEngine>),
}

/// One solve's result: the iteration's record and its wall time.
#[derive(Debug, Clone, PartialEq)]
pub struct SolveReport {
    /// Iterations, residual history, stop reason.
    pub info: SolveInfo,
    /// Seconds of the solve (setup excluded).
    pub solve_s: f64,
}

/// Where one solve's time went ([`Solver::solve_profiled`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SolveProfile {
    /// Seconds in operator applications (mat-vecs with their fused dot products).
    pub operator_s: f64,
    /// Operator applications.
    pub operator_calls: u64,
    /// Seconds in preconditioner applications.
    pub preconditioner_s: f64,
    /// Preconditioner applications.
    pub preconditioner_calls: u64,
    /// The rest of the solve: the Krylov method's own vector work (updates, dot products,
    /// projections) and, for `-csr` specs on grid problems, the layout conversions; for MGPCG
    /// what lies outside its profiled kernels (validation, the initial residual, the stop test).
    pub vector_s: f64,
    /// MGPCG: its kernels over this solve — the fused PCG kernels and the V-cycle's.
    pub kernels: Option<ritz_pde::multigrid::MgpcgProfile>,
}

/// A catalogue solver set up on one system.
///
/// ```
/// use ritz::{Solver, pde::{PoissonProblem, Scene, rhs::RhsKind}};
/// let problem = PoissonProblem::new(Scene::Spheres.generate(3, 24, 0)?)?;
/// let mut solver = Solver::build(&"mic0".parse()?, &problem)?;
/// for seed in 0..2 {
///     let b = RhsKind::SmoothDivergence.generate(&problem, seed);
///     let mut x = vec![0.0; b.len()];
///     let report = solver.solve(&problem, &b, &mut x)?;
///     assert!(report.info.converged());
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Solver {
    spec: SolverSpec,
    engine: Engine,
    params: SolveParams,
    setup_s: f64,
    signature: (bool, usize, usize),
    /// The assembled matrix of a grid problem (`-csr` specs, the direct solve).
    assembled: Option<AssembledPoisson>,
}

impl std::fmt::Debug for Solver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Solver")
            .field("spec", &self.spec.to_string())
            .field("setup_s", &self.setup_s)
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

impl Solver {
    /// Builds `spec` on `system` with the default [`BuildOptions`] (shipped weights, CPU,
    /// `SolveParams::default()`).
    ///
    /// Cost: the setup of the solver — nothing for CG, a factorization pass for IC(0), the
    /// hierarchy for MGPCG (about one V-cycle's memory traffic times a few), `steps` operator
    /// products and a dense eigensolve for `deflated`, the sparse factorization for Cholesky,
    /// the network's stencils (once per geometry) for the learned solvers.
    ///
    /// Errors: the spec cannot run on this kind of system ([`RitzError::Unsupported`]); a
    /// learned solver without the `learned` feature; the setup's own failures (a non-SPD
    /// matrix, a singular factor, missing or corrupt weights) as [`RitzError::Failed`].
    pub fn build<'a>(spec: &SolverSpec, system: impl Into<System<'a>>) -> Result<Self, RitzError> {
        Self::build_with(spec, system, &BuildOptions::default())
    }

    /// [`Solver::build`] with options: a weights folder, the backend, the solve parameters.
    pub fn build_with<'a>(
        spec: &SolverSpec,
        system: impl Into<System<'a>>,
        options: &BuildOptions,
    ) -> Result<Self, RitzError> {
        let system = system.into();
        let name = spec.to_string();
        let unsupported = |system, needs| RitzError::Unsupported {
            solver: name.clone(),
            system,
            needs,
        };
        // Every spec runs on a grid problem (the matrix solvers on its assembled matrix); the
        // grid-only ones cannot take a bare matrix.
        if matches!(system, System::Matrix(_)) && !spec.runs_on_matrix() {
            return Err(unsupported(
                "a matrix problem",
                "a MAC-grid Poisson problem",
            ));
        }
        options
            .params
            .validate()
            .map_err(failed::<ritz_krylov::KrylovError>(&name))?;
        let t = Instant::now();
        let assembled = match system {
            System::Grid(p) if spec.needs_assembly() => Some(AssembledPoisson::new(p)),
            _ => None,
        };
        let engine = build_engine(spec, system, assembled.as_ref(), options)?;
        Ok(Self {
            spec: *spec,
            engine,
            params: options.params,
            setup_s: t.elapsed().as_secs_f64(),
            signature: system.signature(),
            assembled,
        })
    }

    /// The spec it was built from.
    pub fn spec(&self) -> &SolverSpec {
        &self.spec
    }

    /// Seconds the setup took.
    pub fn setup_s(&self) -> f64 {
        self.setup_s
    }

    /// The parameters of every solve.
    pub fn params(&self) -> &SolveParams {
        &self.params
    }

    /// Replaces the parameters of later solves. Errors: invalid parameters (nothing changes).
    pub fn set_params(&mut self, params: SolveParams) -> Result<(), RitzError> {
        params
            .validate()
            .map_err(failed::<ritz_krylov::KrylovError>(&self.spec))?;
        self.params = params;
        Ok(())
    }

    /// Length of the vectors the iteration runs on: the system's, or the number of unknowns
    /// of the assembled matrix for `-csr` specs and the direct solve on a grid problem.
    pub fn vector_len(&self) -> usize {
        match &self.assembled {
            Some(a) => a.matrix.nrows(),
            None => self.signature.1,
        }
    }

    /// True for the direct solve (one "iteration", no residual history to speak of).
    pub fn is_direct(&self) -> bool {
        matches!(self.engine, Engine::Cholesky(_))
    }

    /// Solves `A x = b` on `system` (the one it was built on), starting from `x`.
    ///
    /// Cost: the iterations (operator products and preconditioner applications); no
    /// allocation beyond the Krylov scratch of one solve.
    ///
    /// Errors: another system ([`RitzError::SystemMismatch`]); shapes or NaN/Inf in `b` or
    /// `x`; breakdown (an indefinite operator or preconditioner) — `x` then holds the last
    /// iterate. Not converging within `max_iters` is a stop reason, not an error.
    pub fn solve<'a>(
        &mut self,
        system: impl Into<System<'a>>,
        b: &[f64],
        x: &mut [f64],
    ) -> Result<SolveReport, RitzError> {
        self.solve_monitored(system, b, x, &mut ())
    }

    /// [`Solver::solve`] with a monitor called after every iteration with
    /// `(iteration, ‖r‖/‖b‖)`.
    pub fn solve_monitored<'a>(
        &mut self,
        system: impl Into<System<'a>>,
        b: &[f64],
        x: &mut [f64],
        monitor: &mut dyn Monitor,
    ) -> Result<SolveReport, RitzError> {
        self.solve_inner(system.into(), b, x, monitor, None)
    }

    /// [`Solver::solve_monitored`] that also measures where the time went: operator and
    /// preconditioner applications, the rest (the Krylov vector work), and MGPCG's V-cycle
    /// kernels. Cost: two clock reads per operator, preconditioner and V-cycle kernel call.
    pub fn solve_profiled<'a>(
        &mut self,
        system: impl Into<System<'a>>,
        b: &[f64],
        x: &mut [f64],
        monitor: &mut dyn Monitor,
    ) -> Result<(SolveReport, SolveProfile), RitzError> {
        let timers: [Timer; 2] = Default::default();
        if let Some(m) = self.multigrid() {
            m.set_profiling(true);
        }
        let report = self.solve_inner(system.into(), b, x, monitor, Some(&timers));
        let kernels = self.multigrid().and_then(|m| {
            let p = m.profile();
            m.set_profiling(false);
            p
        });
        let report = report?;
        let (operator_s, preconditioner_s) = (timers[0].seconds(), timers[1].seconds());
        let (kernels_s, fused) = kernels.as_ref().map_or((0.0, false), |k| {
            (
                k.kernels.iter().map(|(_, st)| st.seconds).sum(),
                k.kernels
                    .iter()
                    .any(|(k, st)| *k == Kernel::Operator && st.calls > 0),
            )
        });
        // A V-cycle used as a plain preconditioner is timed by both; fused MGPCG by its kernels.
        let counted = if fused { kernels_s } else { preconditioner_s };
        let profile = SolveProfile {
            operator_s,
            operator_calls: timers[0].calls.load(Ordering::Relaxed),
            preconditioner_s,
            preconditioner_calls: timers[1].calls.load(Ordering::Relaxed),
            vector_s: (report.solve_s - operator_s - counted).max(0.0),
            kernels,
        };
        Ok((report, profile))
    }

    /// The preconditioner the iteration applies, on vectors of length [`Solver::vector_len`]
    /// (grid layout, or the assembled matrix's unknowns for `-csr` specs and the direct solve),
    /// with `true` when it is a fixed SPD map that plain PCG (SciPy's `cg` as `M`) may use;
    /// `None` for CG, deflated PCG and the direct solve.
    ///
    /// Cost of one application: that of one iteration's preconditioner (a V-cycle, two
    /// triangular sweeps, a network pass). Failure modes: `apply` panics on vectors of another
    /// length, so check [`Preconditioner::dim`] first.
    ///
    /// ```
    /// use ritz::{Solver, pde::{PoissonProblem, Scene}};
    /// let problem = PoissonProblem::new(Scene::Spheres.generate(2, 32, 0)?)?;
    /// let solver = Solver::build(&"mgpcg".parse()?, &problem)?;
    /// let (m, spd) = solver.preconditioner().expect("MGPCG has one");
    /// assert!(spd && m.dim() == solver.vector_len());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn preconditioner(&self) -> Option<(&dyn Preconditioner, bool)> {
        match &self.engine {
            Engine::Pcg(m) => Some((m.as_ref() as &dyn Preconditioner, true)),
            Engine::Mgpcg(m) => Some((m.as_ref() as &dyn Preconditioner, true)),
            Engine::Fcd(m, _) => Some((m.as_ref() as &dyn Preconditioner, false)),
            Engine::Cg | Engine::Deflated(..) | Engine::Cholesky(_) => None,
            #[cfg(feature = "learned")]
            Engine::Device(_) => None,
        }
    }

    /// The V-cycle of an MGPCG solver.
    fn multigrid(&self) -> Option<&GridMultigrid> {
        match &self.engine {
            Engine::Mgpcg(m) => Some(m),
            _ => None,
        }
    }

    fn solve_inner(
        &mut self,
        system: System<'_>,
        b: &[f64],
        x: &mut [f64],
        monitor: &mut dyn Monitor,
        timers: Option<&[Timer; 2]>,
    ) -> Result<SolveReport, RitzError> {
        if system.signature() != self.signature {
            return Err(RitzError::SystemMismatch {
                solver: self.spec.to_string(),
                expected: System::describe(self.signature),
                found: System::describe(system.signature()),
            });
        }
        let e = failed::<ritz_linalg::LinalgError>(&self.spec);
        ritz_linalg::error::check_len("right-hand side", system.len(), b.len()).map_err(e)?;
        let e = failed::<ritz_linalg::LinalgError>(&self.spec);
        ritz_linalg::error::check_len("initial guess", system.len(), x.len()).map_err(e)?;
        let t = Instant::now();
        let info = match (&self.assembled, system) {
            (Some(asm), System::Grid(p)) => {
                let e = || failed::<ritz_pde::PdeError>(&self.spec);
                let bc = p.to_compact(b).map_err(e())?;
                let mut xc = p.to_compact(x).map_err(e())?;
                let info = run(
                    &self.engine,
                    asm,
                    None,
                    &bc,
                    &mut xc,
                    &self.params,
                    monitor,
                    timers,
                );
                x.copy_from_slice(&p.to_grid(&xc).map_err(e())?);
                info
            }
            _ => run(
                &self.engine,
                system.operator(),
                match system {
                    System::Grid(p) => Some(p),
                    System::Matrix(_) => None,
                },
                b,
                x,
                &self.params,
                monitor,
                timers,
            ),
        }
        .map_err(|e| RitzError::Failed {
            solver: self.spec.to_string(),
            source: e,
        })?;
        Ok(SolveReport {
            info,
            solve_s: t.elapsed().as_secs_f64(),
        })
    }
}

/// The simulator's pressure solve: the matrix of a smoke simulation with static obstacles
/// never changes, so the solver is built once on it and called every frame.
impl PressureSolver for Solver {
    fn name(&self) -> String {
        self.spec.to_string()
    }
    fn solve(
        &mut self,
        problem: &PoissonProblem,
        b: &[f64],
        p: &mut [f64],
    ) -> Result<PressureStats, String> {
        let r = Solver::solve(self, problem, b, p).map_err(|e| e.to_string())?;
        Ok(PressureStats {
            iterations: r.info.iterations,
            relative_residual: r.info.final_relative_residual(),
            seconds: r.solve_s,
        })
    }
}

/// A start vector for Lanczos that does not depend on any right-hand side (so that the
/// deflation basis is part of the setup): fixed pseudo-random values, restricted to the range
/// of the operator (zero outside fluid, orthogonal to the null space).
fn lanczos_start(system: System<'_>, op: &dyn LinearOperator) -> Vec<f64> {
    let mut v = vector::pseudo_random(op.nrows());
    if let (System::Grid(p), true) = (system, op.nrows() == system.len()) {
        for (vi, &f) in v.iter_mut().zip(p.fluid_mask()) {
            if f == 0 {
                *vi = 0.0;
            }
        }
    }
    if let Some(ns) = op.null_space() {
        ns.project(&mut v);
    }
    v
}

fn build_engine(
    spec: &SolverSpec,
    system: System<'_>,
    assembled: Option<&AssembledPoisson>,
    options: &BuildOptions,
) -> Result<Engine, RitzError> {
    let linalg = || failed::<ritz_linalg::LinalgError>(spec);
    let pde = || failed::<ritz_pde::PdeError>(spec);
    let krylov = || failed::<ritz_krylov::KrylovError>(spec);
    // The operator and matrix the iteration runs on; `grid` is set when it is matrix-free.
    let (op, matrix, null_space, grid): (&dyn LinearOperator, Option<&CsrMatrix>, _, _) =
        match (assembled, system) {
            (Some(a), _) => (a, Some(&a.matrix), a.null_space.as_ref(), None),
            (None, System::Matrix(a)) => (a, Some(a), None, None),
            (None, System::Grid(p)) => (p, None, None, Some(p)),
        };
    let k = spec.k();
    let ic = |mic: bool| -> Result<Box<dyn SpdPreconditioner + Send>, RitzError> {
        Ok(match (grid, matrix) {
            (Some(p), _) => {
                let v = if mic {
                    IcVariant::mic0()
                } else {
                    IcVariant::Ic0
                };
                Box::new(GridIc0::new(p, v).map_err(pde())?)
            }
            (None, Some(a)) => {
                let o = if mic {
                    IcOptions::mic0()
                } else {
                    IcOptions::ic0()
                };
                Box::new(IncompleteCholesky::new(a, o).map_err(linalg())?)
            }
            (None, None) => unreachable!("a system is a grid or a matrix"),
        })
    };
    Ok(match spec.method {
        Method::Cg => Engine::Cg,
        Method::Jacobi => Engine::Pcg(Box::new(Jacobi::new(op).map_err(linalg())?)),
        Method::Ic0 => Engine::Pcg(ic(false)?),
        Method::Mic0 => Engine::Pcg(ic(true)?),
        Method::FcdIc0 => Engine::Fcd(ic(false)?, k),
        Method::Mgpcg | Method::MgpcgF64 | Method::Learned => {
            let p = grid.expect("MGPCG runs on grid problems only (checked by build_with)");
            let precision = if spec.method == Method::MgpcgF64 {
                Precision::F64
            } else {
                Precision::F32
            };
            let defaults = MultigridParams::default();
            let relaxation = spec.relaxation.map_or(defaults.relaxation, |w| w.get());
            let schedule = match (spec.method, spec.coarse_sweeps) {
                (Method::Learned, _) => Some(learned_schedule(spec, p, options)?),
                // Uniform weights (the cycle without a schedule) with the coarse levels' count.
                (_, Some(c)) => {
                    let mut s = ritz_pde::Schedule::uniform(relaxation);
                    for w in &mut s.levels[1..] {
                        w.sweep_count = Some(c as u8);
                    }
                    Some(s)
                }
                (_, None) => None,
            };
            let mp = MultigridParams {
                precision,
                coarse_operator: spec.coarse.unwrap_or(defaults.coarse_operator),
                pre_smooth: spec.sweeps.unwrap_or(defaults.pre_smooth),
                post_smooth: spec.sweeps.unwrap_or(defaults.post_smooth),
                boundary_sweeps: spec.boundary_sweeps.unwrap_or(defaults.boundary_sweeps),
                temporal_blocking: spec.temporal_blocking.unwrap_or(defaults.temporal_blocking),
                relaxation,
                schedule,
                ..defaults
            };
            Engine::Mgpcg(Box::new(GridMultigrid::new(p, mp).map_err(pde())?))
        }
        Method::Deflated => {
            let start = lanczos_start(system, op);
            let lp = LanczosParams {
                steps: spec.lanczos_steps().min(op.nrows()),
                ..Default::default()
            };
            let lz = lanczos(op, &start, &lp, &mut ()).map_err(krylov())?;
            let kept = spec.vectors().min(lz.steps());
            let ritz = lz.ritz_pairs(0..kept).map_err(krylov())?;
            let defl = Deflation::new(op, ritz.vectors).map_err(krylov())?;
            Engine::Deflated(Jacobi::new(op).map_err(linalg())?, defl)
        }
        Method::Cholesky => {
            let a = matrix.expect("the direct solve runs on an assembled matrix");
            Engine::Cholesky(SparseCholesky::new(a, null_space).map_err(linalg())?)
        }
        Method::Dcdm | Method::Stencil | Method::StencilSpd => {
            let p = grid.expect("learned solvers run on grid problems only");
            learned_engine(spec, p, options)?
        }
    })
}

#[cfg(feature = "learned")]
fn learned_engine(
    spec: &SolverSpec,
    problem: &PoissonProblem,
    options: &BuildOptions,
) -> Result<Engine, RitzError> {
    use crate::learned::{Learned, prepare};
    Ok(match prepare(spec, problem, options)? {
        Learned::Flexible(m) => Engine::Fcd(m, spec.k()),
        Learned::Spd(m) => Engine::Pcg(m),
        Learned::Device(d) => Engine::Device(d),
    })
}

/// The relaxation schedule of `learned` for the problem's dimension.
#[cfg(feature = "learned")]
fn learned_schedule(
    spec: &SolverSpec,
    problem: &PoissonProblem,
    options: &BuildOptions,
) -> Result<ritz_pde::Schedule, RitzError> {
    let dim = problem.grid().dim();
    let file =
        crate::learned::load_schedule(dim, options.weights.as_deref())
            .map_err(failed::<ritz_neural_precond::NeuralError>(spec))?;
    Ok(file.learned.schedule)
}

#[cfg(not(feature = "learned"))]
fn learned_schedule(
    spec: &SolverSpec,
    _: &PoissonProblem,
    _: &BuildOptions,
) -> Result<ritz_pde::Schedule, RitzError> {
    Err(RitzError::FeatureDisabled {
        solver: spec.to_string(),
        feature: "learned",
    })
}

#[cfg(not(feature = "learned"))]
fn learned_engine(
    spec: &SolverSpec,
    _: &PoissonProblem,
    _: &BuildOptions,
) -> Result<Engine, RitzError> {
    Err(RitzError::FeatureDisabled {
        solver: spec.to_string(),
        feature: "learned",
    })
}

/// Accumulated time and calls of one wrapped operator or preconditioner.
#[derive(Debug, Default)]
struct Timer {
    nanos: AtomicU64,
    calls: AtomicU64,
}

impl Timer {
    fn time<R>(timer: Option<&Timer>, f: impl FnOnce() -> R) -> R {
        let Some(t) = timer else { return f() };
        let start = Instant::now();
        let r = f();
        t.nanos
            .fetch_add(start.elapsed().as_nanos() as u64, Ordering::Relaxed);
        t.calls.fetch_add(1, Ordering::Relaxed);
        r
    }
    fn seconds(&self) -> f64 {
        self.nanos.load(Ordering::Relaxed) as f64 * 1e-9
    }
}

/// An operator whose applications are timed when a timer is given.
struct TimedOp<'a> {
    inner: &'a dyn LinearOperator,
    timer: Option<&'a Timer>,
}

impl LinearOperator for TimedOp<'_> {
    fn nrows(&self) -> usize {
        self.inner.nrows()
    }
    fn ncols(&self) -> usize {
        self.inner.ncols()
    }
    fn apply(&self, x: &[f64], y: &mut [f64]) {
        Timer::time(self.timer, || self.inner.apply(x, y))
    }
    fn apply_dot(&self, x: &[f64], y: &mut [f64]) -> f64 {
        Timer::time(self.timer, || self.inner.apply_dot(x, y))
    }
    fn null_space(&self) -> Option<&dyn ritz_linalg::NullSpace> {
        self.inner.null_space()
    }
    fn diagonal(&self) -> Option<Vec<f64>> {
        self.inner.diagonal()
    }
}

/// A preconditioner whose applications are timed when a timer is given; SPD when the inner
/// one is.
struct TimedPc<'a, P: ?Sized> {
    inner: &'a P,
    timer: Option<&'a Timer>,
}

impl<P: Preconditioner + ?Sized> Preconditioner for TimedPc<'_, P> {
    fn dim(&self) -> usize {
        self.inner.dim()
    }
    fn apply(&self, r: &[f64], z: &mut [f64]) {
        Timer::time(self.timer, || self.inner.apply(r, z))
    }
    fn name(&self) -> String {
        self.inner.name()
    }
}

impl<P: SpdPreconditioner + ?Sized> SpdPreconditioner for TimedPc<'_, P> {}

/// Runs a built engine on `op x = b` (`grid`: the problem when `op` is matrix-free), timing
/// operator and preconditioner applications into `timers` when given (fused MGPCG profiles
/// its kernels itself).
fn run(
    engine: &Engine,
    op: &dyn LinearOperator,
    grid: Option<&PoissonProblem>,
    b: &[f64],
    x: &mut [f64],
    params: &SolveParams,
    monitor: &mut dyn Monitor,
    timers: Option<&[Timer; 2]>,
) -> Result<SolveInfo, crate::error::Failure> {
    let op = &TimedOp {
        inner: op,
        timer: timers.map(|t| &t[0]),
    };
    let pc = timers.map(|t| &t[1]);
    Ok(match engine {
        Engine::Cg => cg(op, b, x, params, monitor)?,
        Engine::Pcg(m) => {
            let m = TimedPc {
                inner: &**m,
                timer: pc,
            };
            pcg(op, &m, b, x, params, monitor)?
        }
        Engine::Mgpcg(m) => match grid {
            // The fused kernels: same iteration, fewer passes (ritz_pde::multigrid::pcg).
            Some(p) => pcg_fused(op, &mut m.fused(p)?, b, x, params, monitor)?,
            None => {
                let m = TimedPc {
                    inner: &**m,
                    timer: pc,
                };
                pcg(op, &m, b, x, params, monitor)?
            }
        },
        Engine::Fcd(m, k) => {
            let fp = FcdParams {
                solve: *params,
                k: *k,
                ..Default::default()
            };
            let m = TimedPc {
                inner: &**m,
                timer: pc,
            };
            fcd(op, &m, b, x, &fp, monitor)?
        }
        Engine::Deflated(m, d) => {
            let m = TimedPc {
                inner: m,
                timer: pc,
            };
            deflated_pcg(op, &m, d, b, x, params, monitor)?
        }
        #[cfg(feature = "learned")]
        Engine::Device(d) => {
            let p = grid.ok_or_else(|| {
                ritz_pde::PdeError::Unsupported("a device solve needs the grid problem".into())
            })?;
            d.solve(p, b, x, params, monitor)?
        }
        Engine::Cholesky(f) => {
            let t = Instant::now();
            x.copy_from_slice(&f.solve(b)?);
            // The true residual, on the range for singular problems.
            let mut r = vec![0.0; b.len()];
            ritz_linalg::operator::residual(op, b, x, &mut r);
            let mut bp = b.to_vec();
            if let Some(ns) = op.null_space() {
                ns.project(&mut r);
                ns.project(&mut bp);
            }
            let rhs_norm = vector::norm2(&bp);
            let rel = vector::norm2(&r) / rhs_norm.max(f64::MIN_POSITIVE);
            monitor.observe(1, rel);
            SolveInfo {
                iterations: 1,
                residual_history: vec![1.0, rel],
                stop: StopReason::Converged,
                rhs_norm,
                elapsed_s: vec![0.0, t.elapsed().as_secs_f64()],
            }
        }
    })
}

/// A built solver can move to another thread (a Python binding releases the GIL around it).
const _: () = {
    const fn assert_send<T: Send>() {}
    assert_send::<Solver>();
};
