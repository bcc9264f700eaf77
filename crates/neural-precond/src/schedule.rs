//! Learned relaxation schedules and coarse operators for MGPCG: the `learned` solver.
//!
//! MGPCG's V-cycle is the floor a learned preconditioner has to beat, in iterations and in
//! bytes per iteration (docs/neural.md). This module learns only what the V-cycle leaves to
//! choice ([`Schedule`], `SCHEDULE_LEVELS · SCHEDULE_PER_LEVEL` scalars and a sweep count per
//! level):
//! - per level, how many sweeps each smoothing phase makes: a coarse level's sweep costs an
//!   eighth of the finer level's, so extra sweeps there are cheap — the one learned choice
//!   that changes the cost of an iteration, which the search therefore scores by time
//!   ([`ScheduleTraining::sweep_counts`], [`GridMultigrid::modelled_passes`]);
//! - per level, the SOR weight `ω` of each sweep (a sequence of weights damps more of the
//!   spectrum than one) and of the sweeps over the cells next to a wall or the air;
//! - the scale `α` of each level's coarse-grid correction;
//! - the exponent `p` of each coarse level's operator (a face conducts `g^p`, `g` the open
//!   fraction of the finest faces inside it): the geometry-conditioned part, which decides
//!   how much a partly blocked coarse face conducts — what the coarse grid gets wrong in
//!   narrow channels and thin walls.
//!
//! Kernels and setup stay MGPCG's; the learned scalars depend on the level only, so
//! one schedule learned on the training scenes serves every geometry, right-hand side and
//! frame with no setup of its own.
//!
//! [`learn_schedule`] minimizes the unrolled-iteration loss of MGPCG itself ([`rate`]): the
//! mean over training systems of `log₁₀(‖r_K‖ / ‖r_0‖) / K`, `K` the iterations PCG needs to
//! reach the tolerance — decades of residual per iteration, the quantity that sets the
//! iteration count. The loss of a few dozen scalars through a whole PCG solve is piecewise
//! smooth and cheap to evaluate (a solve at 64³ takes tens of milliseconds), so a
//! derivative-free pattern search fits it (as CMA-ES fits the dual-channel multigrid of the
//! brief): compass search — coordinate steps `±h` on every entry the cycle uses, each
//! improving step taken at once, `h` halved after a pass without one, every entry kept inside
//! its range, where the cycle stays symmetric positive definite. The sweep counts are
//! integers, chosen first: one count shared by the coarse levels, the best of
//! `1..=SCHEDULE_SWEEPS` with the starting weights; the weights are then searched for it.
//!
//! Cost of learning: `SCHEDULE_SWEEPS − 1` solves of every training system for the count,
//! then `2 · weights` per round of the search.

use crate::error::NeuralError;
use ritz_krylov::{SolveParams, pcg_fused};
use ritz_pde::rhs::RhsKind;
use ritz_pde::{
    CoarseOperator, GridMultigrid, MultigridParams, PoissonProblem, SCHEDULE_LEVELS,
    SCHEDULE_PER_LEVEL, SCHEDULE_SWEEPS, Scene, Schedule,
};
use serde::{Deserialize, Serialize};

/// What [`learn_schedule`] trains on and how long it searches.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleTraining {
    /// The training scenes (never the held-out kinds the solver is measured on).
    pub scenes: Vec<Scene>,
    /// Grid dimension (2 or 3).
    pub dim: usize,
    /// Cells per axis of the training grids: every scene at every size. Two sizes a factor 2
    /// apart make each schedule entry serve hierarchies of different depth, as it will on
    /// larger grids (one size overfits its own level count). Default 64³ and 128³: weights
    /// learned at 32³ and 64³ served 128³–256³ worse (docs/neural.md).
    pub sizes: Vec<usize>,
    /// Geometries per scene (seeds `0..seeds`).
    pub seeds: u64,
    /// The right-hand side of every training system.
    pub rhs: RhsKind,
    /// Relative tolerance of the training solves.
    pub tolerance: f64,
    /// Iteration cap of a training solve (a schedule that needs more scores as this many).
    pub max_iters: usize,
    /// The V-cycle whose weights are learned (sweeps, boundary sweeps, precision); its own
    /// `schedule` is the search's starting point (`None`: uniform `relaxation`).
    pub base: MultigridParams,
    /// First step of the pattern search.
    pub step: f32,
    /// The search stops once its step falls below this.
    pub min_step: f32,
    /// … or after this many evaluations of the loss.
    pub max_evaluations: usize,
    /// How the training systems' rates combine into the loss.
    pub objective: Objective,
    /// Which conductance exponents of the coarse operators the search varies.
    pub exponents: Exponents,
    /// The levels whose weights the search varies, from the finest (at most
    /// [`SCHEDULE_LEVELS`]); deeper levels keep the starting weights. The training grids
    /// are small: their deepest smoothed level sits just above the coarsest solve, which on
    /// a larger grid is several levels further down — weights learned there do not carry
    /// over (docs/neural.md).
    pub learned_levels: usize,
    /// Whether the search also chooses the sweeps per smoothing phase of the coarse levels
    /// ([`ritz_pde::LevelWeights::sweep_count`], one count in `1..=SCHEDULE_SWEEPS` shared
    /// by them) and then scores time instead of iterations: each system's rate is scaled by
    /// the modelled cost of an iteration of the starting cycle over the trial's
    /// ([`GridMultigrid::modelled_passes`]) — decades per the starting cycle's iteration
    /// time, so that a sweep must pay for itself.
    pub sweep_counts: bool,
}

/// The conductance exponents ([`ritz_pde::LevelWeights::conductance_exponent`]) a search
/// varies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Exponents {
    /// None: the area-weighted coarse operators as they are.
    Fixed,
    /// One exponent shared by every coarse level.
    Tied,
    /// One per coarse level.
    PerLevel,
}

/// How [`learn_schedule`] combines the training systems' rates ([`rates`]) into its loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Objective {
    /// The mean rate ([`rate`], decades per iteration; lower is better). The default: on
    /// held-out geometry it gained more than `Worst` (docs/neural.md).
    Mean,
    /// Minus the smallest speed-up over the starting point, `−min_s r_s / r⁰_s`: every
    /// training system must gain (one kind of scene cannot pay for another's loss).
    Worst,
    /// Minus the mean log speed-up over the starting point, `−mean_s ln(r_s / r⁰_s)`: every
    /// system counts the same, however fast it converges.
    LogRatio,
}

impl Objective {
    fn loss(self, rates: &[f64], start: &[f64]) -> f64 {
        match self {
            Objective::Mean => rates.iter().sum::<f64>() / rates.len() as f64,
            Objective::Worst => -rates
                .iter()
                .zip(start)
                .map(|(r, r0)| r / r0)
                .fold(f64::INFINITY, f64::min),
            Objective::LogRatio => {
                -rates
                    .iter()
                    .zip(start)
                    .map(|(r, r0)| (r / r0).ln())
                    .sum::<f64>()
                    / rates.len() as f64
            }
        }
    }
}

impl Default for ScheduleTraining {
    fn default() -> Self {
        Self {
            scenes: Scene::ALL.to_vec(),
            dim: 3,
            sizes: vec![64, 128],
            seeds: 1,
            rhs: RhsKind::WhiteNoise,
            tolerance: 1e-6,
            max_iters: 100,
            base: MultigridParams::default(),
            step: 0.2,
            min_step: 0.02,
            max_evaluations: 600,
            objective: Objective::Mean,
            exponents: Exponents::Tied,
            learned_levels: 3,
            sweep_counts: true,
        }
    }
}

/// One training system: a problem, its hierarchy (reweighed, never rebuilt, by the search)
/// and a right-hand side.
#[derive(Debug)]
pub struct TrainingSystem {
    /// The problem.
    pub problem: PoissonProblem,
    /// MGPCG's hierarchy on it.
    pub multigrid: GridMultigrid,
    /// The right-hand side.
    pub b: Vec<f64>,
}

/// The result of [`learn_schedule`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LearnedSchedule {
    /// The learned weights.
    pub schedule: Schedule,
    /// Its loss ([`ScheduleTraining::objective`]) on the training systems: of the rates per
    /// the starting cycle's modelled iteration time when [`ScheduleTraining::sweep_counts`].
    pub loss: f64,
    /// The loss of the starting point.
    pub start_loss: f64,
    /// Its mean rate on the training systems ([`rate`], decades per iteration).
    pub rate: f64,
    /// The mean rate of the starting point.
    pub start_rate: f64,
    /// Evaluations of the loss the search made.
    pub evaluations: usize,
    /// `(evaluations so far, loss)` at each accepted move.
    pub history: Vec<(usize, f64)>,
}

/// The training systems of `train`: every scene at every seed, its hierarchy and right-hand
/// side. Cost: one grid, problem and hierarchy per system.
///
/// Errors: the scene's or the hierarchy's ([`NeuralError::Pde`]), e.g. `n` too small.
pub fn training_systems(train: &ScheduleTraining) -> Result<Vec<TrainingSystem>, NeuralError> {
    let mut out = Vec::new();
    for (&scene, &n) in train
        .scenes
        .iter()
        .flat_map(|s| train.sizes.iter().map(move |n| (s, n)))
    {
        for seed in 0..train.seeds {
            let problem = PoissonProblem::new(scene.generate(train.dim, n, seed)?)?;
            let multigrid = GridMultigrid::new(&problem, train.base)?;
            let b = train.rhs.generate(&problem, seed);
            out.push(TrainingSystem {
                problem,
                multigrid,
                b,
            });
        }
    }
    if out.is_empty() {
        return Err(NeuralError::Config("no training scenes or sizes".into()));
    }
    Ok(out)
}

/// The loss of `schedule` on `systems`: the mean over the systems of
/// `log₁₀(‖r_K‖ / ‖r_0‖) / K` of MGPCG run to `tolerance` (at most `max_iters` iterations),
/// in decades per iteration — negative, lower is better; `−6 / loss` is about the iterations
/// to a tolerance of 1e-6. The hierarchies are reweighed in place (the last schedule stays).
///
/// Errors: a weight outside `(0, 2)` ([`NeuralError::Pde`]); a solve that fails (a breakdown
/// of a schedule that is not positive definite: [`NeuralError::Krylov`]).
pub fn rate(
    systems: &mut [TrainingSystem],
    schedule: &Schedule,
    tolerance: f64,
    max_iters: usize,
) -> Result<f64, NeuralError> {
    let rates = rates(systems, schedule, tolerance, max_iters)?;
    Ok(rates.iter().sum::<f64>() / rates.len() as f64)
}

/// The terms of [`rate`], one per system: `log₁₀(‖r_K‖ / ‖r_0‖) / K`.
///
/// Errors: as [`rate`].
pub fn rates(
    systems: &mut [TrainingSystem],
    schedule: &Schedule,
    tolerance: f64,
    max_iters: usize,
) -> Result<Vec<f64>, NeuralError> {
    let params = SolveParams {
        rtol: tolerance,
        atol: 0.0,
        max_iters,
        ..Default::default()
    };
    let mut out = Vec::with_capacity(systems.len());
    for s in systems.iter_mut() {
        // New weights only: reweigh; new conductance exponents: rebuild.
        if s.multigrid.set_schedule(Some(*schedule)).is_err() {
            let params = MultigridParams {
                schedule: Some(*schedule),
                ..s.multigrid.params()
            };
            s.multigrid = GridMultigrid::new(&s.problem, params)?;
        }
        let mut x = vec![0.0; s.b.len()];
        let mut kernels = s.multigrid.fused(&s.problem)?;
        let info = pcg_fused(&s.problem, &mut kernels, &s.b, &mut x, &params, &mut ())?;
        let h = &info.residual_history;
        let (first, last) = (h[0], *h.last().unwrap_or(&h[0]));
        let k = info.iterations.max(1) as f64;
        let decades = if first > 0.0 && last > 0.0 {
            (last / first).log10()
        } else {
            // Solved exactly (or a zero right-hand side): the best possible.
            -16.0
        };
        let r = decades / k;
        if !r.is_finite() {
            return Err(NeuralError::NonFinite("schedule loss".into()));
        }
        out.push(r);
    }
    Ok(out)
}

/// Each system's [`GridMultigrid::modelled_passes`] with its current schedule.
fn modelled_passes(systems: &[TrainingSystem]) -> Vec<f64> {
    systems
        .iter()
        .map(|s| s.multigrid.modelled_passes())
        .collect()
}

/// The coordinates of a search: groups of schedule entries (indices into
/// [`Schedule::to_vec`]) that move together. A V-cycle of `levels` levels with `base`'s
/// sweeps uses the sweep weights of its `pre_smooth` sweeps, the boundary weight when it runs
/// boundary sweeps and the correction scale on every smoothed level (all but the coarsest,
/// which is solved exactly), one coordinate each, and the conductance exponent of every
/// area-weighted coarse level, grouped as `exponents` says; the last schedule entry stands
/// for the levels below it. Only the first `learned_levels` levels' weights are coordinates.
pub fn active_weights(
    base: &MultigridParams,
    levels: usize,
    learned_levels: usize,
    exponents: Exponents,
) -> Vec<Vec<usize>> {
    let per = SCHEDULE_PER_LEVEL;
    let smoothed = levels
        .saturating_sub(1)
        .min(SCHEDULE_LEVELS)
        .min(learned_levels);
    let mut out = Vec::new();
    for l in 0..smoothed {
        out.extend((0..base.pre_smooth.min(SCHEDULE_SWEEPS)).map(|k| vec![l * per + k]));
        if base.boundary_sweeps > 0 {
            out.push(vec![l * per + SCHEDULE_SWEEPS]);
        }
        out.push(vec![l * per + SCHEDULE_SWEEPS + 1]);
    }
    if base.coarse_operator == CoarseOperator::AreaWeighted && levels > 1 {
        let coarse = levels.saturating_sub(1).min(SCHEDULE_LEVELS - 1);
        let entries = (1..=coarse).map(|l| l * per + SCHEDULE_SWEEPS + 2);
        match exponents {
            Exponents::Fixed => {}
            // Every entry from level 1 on, so that the shared value holds on every level.
            Exponents::Tied => out.push(
                (1..SCHEDULE_LEVELS)
                    .map(|l| l * per + SCHEDULE_SWEEPS + 2)
                    .collect(),
            ),
            Exponents::PerLevel => out.extend(entries.map(|i| vec![i])),
        }
    }
    out
}

/// Learns a schedule on `train`'s systems by pattern search (see the module docs); calls
/// `progress(evaluations, loss)` at each accepted move. The result is never worse than the
/// starting point on the training systems.
///
/// Cost: `train.max_evaluations` PCG solves of every training system at most.
///
/// Errors: those of [`training_systems`]; a starting schedule outside `(0, 2)`; a failed
/// solve of the starting point (a trial point whose solve fails scores as no improvement).
///
/// ```
/// use ritz_neural_precond::schedule::{ScheduleTraining, learn_schedule};
/// use ritz_pde::Scene;
/// let train = ScheduleTraining {
///     scenes: vec![Scene::Spheres],
///     sizes: vec![16],
///     max_evaluations: 12,
///     ..Default::default()
/// };
/// let learned = learn_schedule(&train, &mut |_, _| {})?;
/// assert!(learned.loss <= learned.start_loss && learned.evaluations <= 12);
/// # Ok::<(), ritz_neural_precond::NeuralError>(())
/// ```
pub fn learn_schedule(
    train: &ScheduleTraining,
    progress: &mut dyn FnMut(usize, f64),
) -> Result<LearnedSchedule, NeuralError> {
    let mut systems = training_systems(train)?;
    let levels = systems
        .iter()
        .map(|s| s.multigrid.num_levels())
        .max()
        .unwrap_or(1);
    // Every sweep weight is a coordinate; those beyond their level's current sweep count
    // are skipped.
    let widest = MultigridParams {
        pre_smooth: SCHEDULE_SWEEPS,
        ..train.base
    };
    let active = active_weights(&widest, levels, train.learned_levels, train.exponents);
    let start = train
        .base
        .schedule
        .unwrap_or(Schedule::uniform(train.base.relaxation));
    start.validate()?;
    let (tol, cap) = (train.tolerance, train.max_iters);
    let mut best = start.to_vec();
    let mut counts = start.levels.map(|w| w.sweep_count);
    let count = |counts: &[Option<u8>; SCHEDULE_LEVELS], l: usize| {
        counts[l].map_or(train.base.pre_smooth, usize::from)
    };
    let assemble = |v: &[f32], counts: &[Option<u8>; SCHEDULE_LEVELS]| {
        let mut s = Schedule::from_slice(v).expect("a schedule's length");
        for (w, &c) in s.levels.iter_mut().zip(counts) {
            w.sweep_count = c;
        }
        s
    };
    let start_rates = rates(&mut systems, &start, tol, cap)?;
    let start_costs = modelled_passes(&systems);
    // Per iteration, or per the starting cycle's iteration time.
    let timed = |r: Vec<f64>, systems: &[TrainingSystem]| -> Vec<f64> {
        if !train.sweep_counts {
            return r;
        }
        r.iter()
            .zip(modelled_passes(systems))
            .zip(&start_costs)
            .map(|((r, c), c0)| r * c0 / c)
            .collect()
    };
    let objective = |r: &[f64]| train.objective.loss(r, &start_rates);
    let start_loss = objective(&start_rates);
    let (mut loss, mut evaluations) = (start_loss, 1);
    let mut history = vec![(evaluations, loss)];
    // The integer structure first: one sweep count shared by every coarse level, each value
    // tried with the starting weights; the weights are then searched for that count. (Per
    // level counts moved by ±1 during the search overfit the shallow training hierarchies:
    // they lost on held-out grids two to four times larger, docs/neural.md.)
    if train.sweep_counts && levels > 2 {
        for c in 1..=SCHEDULE_SWEEPS as u8 {
            let mut trial_counts = counts;
            trial_counts[1..].fill(Some(c));
            if trial_counts == counts || evaluations >= train.max_evaluations {
                continue;
            }
            evaluations += 1;
            let Ok(r) = rates(&mut systems, &assemble(&best, &trial_counts), tol, cap) else {
                continue;
            };
            let l = objective(&timed(r, &systems));
            if l < loss {
                (loss, counts) = (l, trial_counts);
                history.push((evaluations, loss));
                progress(evaluations, loss);
            }
        }
    }
    let mut step = train.step;
    // Entries stay inside their ranges with a margin: the cycle's positive definiteness
    // degrades towards the ends.
    let bounds = |i: usize| {
        let (lo, hi) = Schedule::range(i);
        (lo + 0.05, hi - 0.05)
    };
    'search: while step >= train.min_step && !active.is_empty() {
        let mut moved = false;
        for group in &active {
            // A sweep weight beyond its level's sweep count is unused.
            let unused = |i: usize| {
                let (l, k) = (i / SCHEDULE_PER_LEVEL, i % SCHEDULE_PER_LEVEL);
                k < SCHEDULE_SWEEPS && k >= count(&counts, l)
            };
            if group.iter().all(|&i| unused(i)) {
                continue;
            }
            for sign in [1.0f32, -1.0] {
                if evaluations >= train.max_evaluations {
                    break 'search;
                }
                let mut trial = best.clone();
                for &i in group {
                    let (lo, hi) = bounds(i);
                    trial[i] = (trial[i] + sign * step).clamp(lo, hi);
                }
                if group.iter().all(|&i| trial[i] == best[i]) {
                    continue;
                }
                let schedule = assemble(&trial, &counts);
                evaluations += 1;
                // A trial whose solve breaks down is no improvement.
                let Ok(r) = rates(&mut systems, &schedule, tol, cap) else {
                    continue;
                };
                let l = objective(&timed(r, &systems));
                if l < loss {
                    // Opportunistic: the move is taken at once, the other sign not tried.
                    (loss, best, moved) = (l, trial, true);
                    history.push((evaluations, loss));
                    progress(evaluations, loss);
                    break;
                }
            }
        }
        if !moved {
            step /= 2.0;
        }
    }
    let schedule = assemble(&best, &counts);
    let mean = |r: &[f64]| r.iter().sum::<f64>() / r.len() as f64;
    Ok(LearnedSchedule {
        schedule,
        loss,
        start_loss,
        rate: rate(&mut systems, &schedule, tol, cap)?,
        start_rate: mean(&start_rates),
        evaluations,
        history,
    })
}

/// The format tag of a schedule file.
pub const SCHEDULE_FORMAT: &str = "ritz-schedule/1";

/// A learned schedule as stored: `learned-<dim>d.json` (shipped in `weights/`, or written by
/// `cargo xtask train --model learned`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScheduleFile {
    /// [`SCHEDULE_FORMAT`].
    pub format: String,
    /// The grid dimension it was learned in.
    pub dim: usize,
    /// What it was learned on (scenes, size, seeds, objective), for provenance.
    pub trained_on: String,
    /// The schedule and its training figures.
    pub learned: LearnedSchedule,
}

impl ScheduleFile {
    /// The file of `learned`, learned by `train`.
    pub fn new(train: &ScheduleTraining, learned: LearnedSchedule) -> Self {
        let scenes: Vec<&str> = train.scenes.iter().map(|s| s.name()).collect();
        Self {
            format: SCHEDULE_FORMAT.into(),
            dim: train.dim,
            trained_on: format!(
                "{} at {:?} cells per axis in {}D, {} seed(s), {} right-hand sides, {:?} objective{}, tol {:e}, {} \
                 evaluations",
                scenes.join(", "),
                train.sizes,
                train.dim,
                train.seeds,
                train.rhs.name(),
                train.objective,
                if train.sweep_counts {
                    " per modelled time, coarse sweep count searched"
                } else {
                    " per iteration"
                },
                train.tolerance,
                learned.evaluations
            ),
            learned,
        }
    }

    /// Parses and checks a schedule file's text (`path` names it in errors).
    ///
    /// Errors ([`NeuralError::Load`]): not JSON of this shape, another format tag, a
    /// dimension other than 2 or 3, a weight outside `(0, 2)`.
    pub fn parse(text: &str, path: &str) -> Result<Self, NeuralError> {
        let bad = |reason: String| NeuralError::Load {
            what: "relaxation schedule",
            path: path.into(),
            reason,
        };
        let file: Self = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
        if file.format != SCHEDULE_FORMAT {
            return Err(bad(format!(
                "format {:?}, expected {SCHEDULE_FORMAT:?}",
                file.format
            )));
        }
        if !(2..=3).contains(&file.dim) {
            return Err(bad(format!("dimension {}", file.dim)));
        }
        file.learned
            .schedule
            .validate()
            .map_err(|e| bad(e.to_string()))?;
        Ok(file)
    }

    /// Reads and checks `path` ([`ScheduleFile::parse`]).
    ///
    /// Errors: the file cannot be read, or [`ScheduleFile::parse`]'s.
    pub fn load(path: &std::path::Path) -> Result<Self, NeuralError> {
        let text = std::fs::read_to_string(path).map_err(|e| NeuralError::Load {
            what: "relaxation schedule",
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Writes it as pretty JSON.
    ///
    /// Errors: [`NeuralError::Save`].
    pub fn save(&self, path: &std::path::Path) -> Result<(), NeuralError> {
        let save = |reason: String| NeuralError::Save {
            path: path.display().to_string(),
            reason,
        };
        let text = serde_json::to_string_pretty(self).map_err(|e| save(e.to_string()))?;
        std::fs::write(path, text + "\n").map_err(|e| save(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn active_weights_follow_the_cycle() {
        let base = MultigridParams::default();
        // V(2,2) with boundary sweeps on 5 levels: 4 smoothed levels × (2 sweeps, boundary,
        // correction), and the exponents of coarse levels 1, 2, 3 (the last entry).
        let a = active_weights(&base, 5, 4, Exponents::PerLevel);
        assert_eq!(a.len(), 19);
        assert_eq!(a[..4], [vec![0], vec![1], vec![4], vec![5]]);
        assert_eq!(a[16..], [vec![13], vec![20], vec![27]]);
        let tied = active_weights(&base, 5, 4, Exponents::Tied);
        assert_eq!(tied.len(), 17);
        assert_eq!(tied[16], vec![13, 20, 27]);
        assert_eq!(active_weights(&base, 5, 4, Exponents::Fixed).len(), 16);
        // Two learned levels: their 8 weights and the tied exponent.
        assert_eq!(active_weights(&base, 5, 2, Exponents::Tied).len(), 9);
        let no_boundary = MultigridParams {
            boundary_sweeps: 0,
            pre_smooth: 1,
            post_smooth: 1,
            ..base
        };
        let on = |p: &MultigridParams, levels| active_weights(p, levels, 4, Exponents::PerLevel);
        assert_eq!(on(&no_boundary, 2), [vec![0], vec![5], vec![13]]);
        let unit = MultigridParams {
            coarse_operator: CoarseOperator::Rediscretized,
            ..no_boundary
        };
        assert_eq!(on(&unit, 2), [vec![0], vec![5]]);
        assert!(on(&base, 1).is_empty());
    }

    #[test]
    fn schedule_files_round_trip_and_reject_bad_ones() {
        let train = ScheduleTraining {
            scenes: vec![Scene::Closed],
            sizes: vec![16],
            max_evaluations: 3,
            ..Default::default()
        };
        let file = ScheduleFile::new(&train, learn_schedule(&train, &mut |_, _| {}).unwrap());
        let path = std::env::temp_dir().join(format!("ritz-schedule-{}.json", std::process::id()));
        file.save(&path).unwrap();
        // JSON keeps the f32 weights exactly, the f64 figures to the last bit or so.
        let back = ScheduleFile::load(&path).unwrap();
        assert_eq!(back.learned.schedule, file.learned.schedule);
        assert_eq!((&back.format, back.dim), (&file.format, file.dim));
        assert_eq!(back.trained_on, file.trained_on);
        assert!((back.learned.rate - file.learned.rate).abs() < 1e-12);
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        for bad in [
            text.replace(SCHEDULE_FORMAT, "ritz-schedule/0"),
            text.replace("\"dim\": 3", "\"dim\": 4"),
            text.replace("\"correction\": 1.0", "\"correction\": 2.5"),
            text.replace(
                "\"conductance_exponent\": 1.0",
                "\"conductance_exponent\": 4.5",
            ),
            text[..text.len() / 2].to_string(),
        ] {
            assert_ne!(bad, text);
            assert!(ScheduleFile::parse(&bad, "bad.json").is_err());
        }
    }

    #[test]
    fn the_search_never_ends_worse_than_it_started() {
        let train = ScheduleTraining {
            scenes: vec![Scene::Spheres, Scene::Closed],
            sizes: vec![16],
            max_evaluations: 40,
            ..Default::default()
        };
        let learned = learn_schedule(&train, &mut |_, _| {}).unwrap();
        assert!(learned.loss <= learned.start_loss);
        assert!(learned.evaluations <= 40);
        learned.schedule.validate().unwrap();
        // The reported rate is the schedule's; under the worst-case objective no training
        // system got slower.
        let train = ScheduleTraining {
            objective: Objective::Worst,
            ..train
        };
        let learned = learn_schedule(&train, &mut |_, _| {}).unwrap();
        let mut systems = training_systems(&train).unwrap();
        let start = rates(
            &mut systems,
            &Schedule::uniform(ritz_pde::RELAXATION),
            1e-6,
            100,
        )
        .unwrap();
        let start_costs = modelled_passes(&systems);
        let ours = rates(&mut systems, &learned.schedule, 1e-6, 100).unwrap();
        let costs = modelled_passes(&systems);
        let mean = ours.iter().sum::<f64>() / ours.len() as f64;
        assert!(
            (mean - learned.rate).abs() < 1e-9,
            "{mean} vs {}",
            learned.rate
        );
        // Per the starting cycle's iteration time (the sweep counts are searched).
        for (((r, r0), c), c0) in ours.iter().zip(&start).zip(&costs).zip(&start_costs) {
            assert!(r * c0 / c <= r0 + 1e-12, "{r} vs {r0} (passes {c} vs {c0})");
        }
    }

    /// With sweep counts searched, the loss is the rate per modelled time: recomputed from
    /// the learned schedule's solves and costs, it is the reported loss; with them fixed, it
    /// is the rate per iteration and no count is set.
    #[test]
    fn sweep_counts_are_scored_by_modelled_time() {
        let train = ScheduleTraining {
            scenes: vec![Scene::Pillars],
            sizes: vec![24, 32],
            max_evaluations: 10,
            ..Default::default()
        };
        let learned = learn_schedule(&train, &mut |_, _| {}).unwrap();
        let mut systems = training_systems(&train).unwrap();
        let start = Schedule::uniform(ritz_pde::RELAXATION);
        rates(&mut systems, &start, 1e-6, 100).unwrap();
        let start_costs = modelled_passes(&systems);
        let ours = rates(&mut systems, &learned.schedule, 1e-6, 100).unwrap();
        let timed: f64 = ours
            .iter()
            .zip(modelled_passes(&systems))
            .zip(&start_costs)
            .map(|((r, c), c0)| r * c0 / c)
            .sum::<f64>()
            / ours.len() as f64;
        assert!(
            (timed - learned.loss).abs() < 1e-9,
            "{timed} vs {}",
            learned.loss
        );
        let fixed = learn_schedule(
            &ScheduleTraining {
                sweep_counts: false,
                ..train
            },
            &mut |_, _| {},
        )
        .unwrap();
        assert!((fixed.loss - fixed.rate).abs() < 1e-12);
        assert!(
            fixed
                .schedule
                .levels
                .iter()
                .all(|w| w.sweep_count.is_none())
        );
    }
}
