//! The solver catalogue: every solver ritz offers, by name, with its options.
//!
//! A [`SolverSpec`] is parsed from `name[-csr][:option=value]…`, e.g. `"mgpcg"`, `"mic0-csr"`,
//! `"dcdm:k=16"`, `"deflated:vectors=8:steps=40"`. The `-csr` suffix runs a solver on the
//! assembled sparse matrix of a grid problem instead of matrix-free on the grid. [`CATALOGUE`]
//! lists the names with a one-line description each; [`crate::Solver::build`] turns a spec
//! into a solver set up on a problem.
//!
//! Options (each checked when parsed):
//! - `k` — directions kept by the flexible conjugate-direction iteration (`fcd-ic0`, `dcdm`,
//!   `stencil`); default [`SolverSpec::default_k`].
//! - `vectors`, `steps` — Ritz vectors deflated and Lanczos steps of `deflated` (16 and 80,
//!   the DCDM paper's deflated-PCG baseline).
//! - `coarse` — the coarse-level operator of `mgpcg` and `mgpcg-f64`: `area` (area-weighted,
//!   the default) or `unit` (rediscretized); `sweeps` — their smoothing sweeps before and
//!   after the coarse correction (default 2: V(2,2)); `coarse-sweeps` — those of every level
//!   below the finest, 1 to `ritz_pde::SCHEDULE_SWEEPS` (default: `sweeps`; a coarse sweep
//!   costs an eighth of a finest one, and 3 cut the held-out maze's iterations by a fifth,
//!   docs/neural.md); `boundary` — their boundary sweeps
//!   (default 2; `0` turns them off; also of `learned`); `blocking` — temporal blocking of the smoothing: `auto`
//!   (the default: a wavefront on levels larger than the last-level cache), `wave` (on every
//!   level) or `off` (the half-sweeps one by one); the same result each way; `omega` — the
//!   smoother's relaxation weight in (0, 2) (red–black SOR; 1 is Gauss–Seidel; default
//!   `ritz_pde::RELAXATION`). See `ritz_pde::CoarseOperator`, `ritz_pde::MultigridParams`.

use crate::error::RitzError;
use std::fmt;
use std::str::FromStr;

/// The options of `mgpcg` and `mgpcg-f64`.
const MGPCG_OPTIONS: &[&str] = &[
    "coarse",
    "sweeps",
    "coarse-sweeps",
    "boundary",
    "blocking",
    "omega",
];

/// A solver family of the catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// Conjugate gradients, no preconditioner.
    Cg,
    /// PCG with the diagonal (Jacobi) preconditioner.
    Jacobi,
    /// PCG with incomplete Cholesky IC(0).
    Ic0,
    /// PCG with modified incomplete Cholesky MIC(0).
    Mic0,
    /// PCG with a geometric multigrid V-cycle in f32 (MGPCG).
    Mgpcg,
    /// MGPCG with the V-cycle in f64.
    MgpcgF64,
    /// Flexible conjugate directions with IC(0).
    FcdIc0,
    /// Deflated PCG (Jacobi) with Ritz vectors from Lanczos.
    Deflated,
    /// Sparse Cholesky (faer): the exact direct solve.
    Cholesky,
    /// DCDM: flexible conjugate directions with the DCDM CNN (learned).
    Dcdm,
    /// Flexible conjugate directions with the stencil V-net (learned).
    Stencil,
    /// PCG with the SPD stencil V-net (learned).
    StencilSpd,
    /// MGPCG with a relaxation schedule learned on the training scenes (learned).
    Learned,
}

/// One catalogue entry.
#[derive(Debug, Clone, Copy)]
pub struct Entry {
    /// The name specs use.
    pub name: &'static str,
    /// The family.
    pub method: Method,
    /// One line for listings.
    pub description: &'static str,
    /// Runs matrix-free on MAC-grid Poisson problems.
    pub grid: bool,
    /// Runs on an assembled sparse matrix (matrix problems; `-csr` on grid problems).
    pub matrix: bool,
    /// Needs trained weights (and the `learned` feature).
    pub learned: bool,
    /// The options it accepts.
    pub options: &'static [&'static str],
}

/// Every solver, in the order listings show them.
pub const CATALOGUE: &[Entry] = &[
    Entry {
        name: "cg",
        method: Method::Cg,
        description: "conjugate gradients, no preconditioner",
        grid: true,
        matrix: true,
        learned: false,
        options: &[],
    },
    Entry {
        name: "jacobi",
        method: Method::Jacobi,
        description: "PCG with the diagonal (Jacobi) preconditioner",
        grid: true,
        matrix: true,
        learned: false,
        options: &[],
    },
    Entry {
        name: "ic0",
        method: Method::Ic0,
        description: "PCG with incomplete Cholesky IC(0)",
        grid: true,
        matrix: true,
        learned: false,
        options: &[],
    },
    Entry {
        name: "mic0",
        method: Method::Mic0,
        description: "PCG with modified incomplete Cholesky MIC(0) (Bridson's fluid solver)",
        grid: true,
        matrix: true,
        learned: false,
        options: &[],
    },
    Entry {
        name: "mgpcg",
        method: Method::Mgpcg,
        description: "PCG with a geometric multigrid V-cycle in f32 (McAdams et al. 2010)",
        grid: true,
        matrix: false,
        learned: false,
        options: MGPCG_OPTIONS,
    },
    Entry {
        name: "mgpcg-f64",
        method: Method::MgpcgF64,
        description: "MGPCG with the V-cycle in f64",
        grid: true,
        matrix: false,
        learned: false,
        options: MGPCG_OPTIONS,
    },
    Entry {
        name: "fcd-ic0",
        method: Method::FcdIc0,
        description: "flexible conjugate directions with IC(0)",
        grid: true,
        matrix: true,
        learned: false,
        options: &["k"],
    },
    Entry {
        name: "deflated",
        method: Method::Deflated,
        description: "deflated PCG (Jacobi) with the lowest Ritz vectors of a Lanczos run",
        grid: true,
        matrix: true,
        learned: false,
        options: &["vectors", "steps"],
    },
    Entry {
        name: "cholesky",
        method: Method::Cholesky,
        description: "sparse Cholesky (faer), the exact direct solve on the assembled matrix",
        grid: false,
        matrix: true,
        learned: false,
        options: &[],
    },
    Entry {
        name: "dcdm",
        method: Method::Dcdm,
        description: "DCDM: flexible conjugate directions with the DCDM CNN (shipped weights)",
        grid: true,
        matrix: false,
        learned: true,
        options: &["k"],
    },
    Entry {
        name: "stencil",
        method: Method::Stencil,
        description: "flexible conjugate directions with the geometry-aware stencil V-net",
        grid: true,
        matrix: false,
        learned: true,
        options: &["k"],
    },
    Entry {
        name: "stencil-spd",
        method: Method::StencilSpd,
        description: "PCG with the SPD stencil V-net (a linear SPD preconditioner)",
        grid: true,
        matrix: false,
        learned: true,
        options: &[],
    },
    Entry {
        name: "learned",
        method: Method::Learned,
        description: "MGPCG with a learned relaxation schedule (per-level SOR weights, boundary \
                      weights, coarse-correction scales, coarse sweep count, coarse-operator \
                      exponent; shipped, or learned-<dim>d.json)",
        grid: true,
        matrix: false,
        learned: true,
        options: &["boundary", "blocking"],
    },
];

impl Method {
    /// Its catalogue entry.
    pub fn entry(self) -> &'static Entry {
        CATALOGUE
            .iter()
            .find(|e| e.method == self)
            .expect("every method is in the catalogue")
    }
    /// Its catalogue name.
    pub fn name(self) -> &'static str {
        self.entry().name
    }
    /// True for the learned solvers (they need the `learned` feature and weights).
    pub fn is_learned(self) -> bool {
        self.entry().learned
    }
    /// True for the iterations that accept a nonlinear preconditioner (flexible conjugate
    /// directions); they keep `k` directions.
    pub fn is_flexible(self) -> bool {
        matches!(self, Method::FcdIc0 | Method::Dcdm | Method::Stencil)
    }
}

/// A solver and its options, as parsed from `name[-csr][:option=value]…`.
///
/// ```
/// use ritz::{Method, SolverSpec};
/// let s: SolverSpec = "dcdm:k=8".parse()?;
/// assert_eq!((s.method, s.k()), (Method::Dcdm, 8));
/// assert_eq!(s.to_string(), "dcdm:k=8");
/// assert!("mgpcg:k=2".parse::<SolverSpec>().is_err()); // MGPCG keeps no directions
/// # Ok::<(), ritz::RitzError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SolverSpec {
    /// The family.
    pub method: Method,
    /// Runs on the assembled sparse matrix of a grid problem (the `-csr` suffix).
    pub assembled: bool,
    /// Directions kept by a flexible iteration (`None`: [`SolverSpec::default_k`]).
    pub fcd_k: Option<usize>,
    /// Ritz vectors of `deflated` (`None`: 16).
    pub vectors: Option<usize>,
    /// Lanczos steps of `deflated` (`None`: 80).
    pub lanczos_steps: Option<usize>,
    /// Coarse-level operator of MGPCG (`None`: area-weighted).
    pub coarse: Option<ritz_pde::CoarseOperator>,
    /// Smoothing sweeps of MGPCG before and after the coarse correction (`None`: the default
    /// of `ritz_pde::MultigridParams`).
    pub sweeps: Option<usize>,
    /// Smoothing sweeps of MGPCG's coarse levels (`None`: `sweeps`), at most
    /// `ritz_pde::SCHEDULE_SWEEPS`.
    pub coarse_sweeps: Option<usize>,
    /// Boundary sweeps of MGPCG (`None`: the default of `ritz_pde::MultigridParams`).
    pub boundary_sweeps: Option<usize>,
    /// Temporal blocking of MGPCG's smoothing (`None`: on, the default of
    /// `ritz_pde::MultigridParams`).
    pub temporal_blocking: Option<ritz_pde::Blocking>,
    /// Relaxation weight of MGPCG's smoother (`None`: `ritz_pde::RELAXATION`).
    pub relaxation: Option<Relaxation>,
}

/// A relaxation weight `ω` in (0, 2), held as its `f32` bits so that specs compare exactly.
///
/// ```
/// use ritz::Relaxation;
/// assert_eq!(Relaxation::new(1.25).unwrap().get(), 1.25);
/// assert!(Relaxation::new(2.0).is_none() && Relaxation::new(f32::NAN).is_none());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Relaxation(u32);

impl Relaxation {
    /// `Some` for `0 < w < 2` (the weights that keep the V-cycle positive definite).
    pub fn new(w: f32) -> Option<Self> {
        (w > 0.0 && w < 2.0).then(|| Self(w.to_bits()))
    }
    /// The weight.
    pub fn get(self) -> f32 {
        f32::from_bits(self.0)
    }
}

/// Largest accepted `k`, `vectors` and `steps` (beyond it the directions alone would need
/// more memory than any grid the solvers handle).
pub const MAX_OPTION: usize = 1 << 20;

impl SolverSpec {
    /// The spec of `method` with default options.
    pub fn new(method: Method) -> Self {
        Self {
            method,
            assembled: false,
            fcd_k: None,
            vectors: None,
            lanczos_steps: None,
            coarse: None,
            sweeps: None,
            coarse_sweeps: None,
            boundary_sweeps: None,
            temporal_blocking: None,
            relaxation: None,
        }
    }

    /// Directions a flexible solver keeps by default: 16 for `dcdm`, 2 (the DCDM paper's
    /// choice) for the others. The DCDM network is nonlinear, so truncating the
    /// A-orthogonalization to 2 directions loses conjugacy; the extra dot products of 16 cost
    /// under 1 % of a network forward (figures in `docs/neural.md`).
    pub fn default_k(method: Method) -> usize {
        if method == Method::Dcdm { 16 } else { 2 }
    }

    /// The directions this spec keeps (flexible solvers).
    pub fn k(&self) -> usize {
        self.fcd_k.unwrap_or(Self::default_k(self.method))
    }

    /// Sets `k` where the spec leaves it open and the solver is flexible (a command line's
    /// `--fcd-k` for every flexible solver of a list).
    pub fn with_default_k(mut self, k: Option<usize>) -> Self {
        if self.method.is_flexible() && self.fcd_k.is_none() {
            self.fcd_k = k;
        }
        self
    }

    /// Ritz vectors deflated by `deflated`.
    pub fn vectors(&self) -> usize {
        self.vectors.unwrap_or(16)
    }

    /// Lanczos steps of `deflated`.
    pub fn lanczos_steps(&self) -> usize {
        self.lanczos_steps.unwrap_or(80)
    }

    /// True if the solve runs on an assembled sparse matrix when given a grid problem
    /// (`-csr` specs and the direct solve).
    pub fn needs_assembly(&self) -> bool {
        self.assembled || self.method == Method::Cholesky
    }

    /// True if the spec runs on a matrix problem.
    pub fn runs_on_matrix(&self) -> bool {
        self.method.entry().matrix
    }

    /// Every name accepted on grid problems (options left out): the catalogue names and the
    /// `-csr` variants.
    pub fn grid_names() -> Vec<String> {
        let mut out: Vec<String> = CATALOGUE.iter().map(|e| e.name.to_string()).collect();
        out.extend(
            CATALOGUE
                .iter()
                .filter(|e| e.grid && e.matrix)
                .map(|e| format!("{}-csr", e.name)),
        );
        out
    }

    /// Every name accepted on matrix problems.
    pub fn matrix_names() -> Vec<String> {
        CATALOGUE
            .iter()
            .filter(|e| e.matrix)
            .map(|e| e.name.to_string())
            .collect()
    }
}

impl FromStr for SolverSpec {
    type Err = RitzError;

    /// Parses `name[-csr][:option=value]…`. Errors: an unknown name
    /// ([`RitzError::UnknownSolver`]); an option the solver does not take, a value that is
    /// not a positive integer up to [`MAX_OPTION`], a repeated option, or `steps < vectors`
    /// ([`RitzError::BadSpec`]).
    fn from_str(s: &str) -> Result<Self, RitzError> {
        let mut parts = s.trim().split(':');
        let head = parts.next().unwrap_or_default();
        let (base, assembled) = match head.strip_suffix("-csr") {
            Some(b) => (b, true),
            None => (head, false),
        };
        let unknown = || RitzError::UnknownSolver {
            name: head.to_string(),
            known: SolverSpec::grid_names().join(", "),
        };
        let entry = CATALOGUE
            .iter()
            .find(|e| e.name == base)
            .ok_or_else(unknown)?;
        if assembled && !(entry.grid && entry.matrix) {
            return Err(unknown());
        }
        let bad = |reason: String| RitzError::BadSpec {
            spec: s.to_string(),
            reason,
        };
        let mut spec = SolverSpec {
            assembled,
            ..SolverSpec::new(entry.method)
        };
        for opt in parts {
            let (key, value) = opt
                .split_once('=')
                .ok_or_else(|| bad(format!("option '{opt}' is not key=value")))?;
            if !entry.options.contains(&key) {
                return Err(bad(if entry.options.is_empty() {
                    format!("{} takes no options", entry.name)
                } else {
                    format!(
                        "{} has no option '{key}' (options: {})",
                        entry.name,
                        entry.options.join(", ")
                    )
                }));
            }
            if key == "coarse" {
                use ritz_pde::CoarseOperator::{AreaWeighted, Rediscretized};
                let op = match value {
                    "area" => AreaWeighted,
                    "unit" => Rediscretized,
                    _ => return Err(bad(format!("coarse = '{value}' is not 'area' or 'unit'"))),
                };
                if spec.coarse.replace(op).is_some() {
                    return Err(bad(format!("option '{key}' given twice")));
                }
                continue;
            }
            if key == "blocking" {
                use ritz_pde::Blocking;
                let on = match value {
                    "auto" => Blocking::Auto,
                    "wave" => Blocking::Always,
                    "off" => Blocking::Off,
                    _ => {
                        return Err(bad(format!(
                            "blocking = '{value}' is not 'auto', 'wave' or 'off'"
                        )));
                    }
                };
                if spec.temporal_blocking.replace(on).is_some() {
                    return Err(bad(format!("option '{key}' given twice")));
                }
                continue;
            }
            if key == "omega" {
                let w = value
                    .parse::<f32>()
                    .ok()
                    .and_then(Relaxation::new)
                    .ok_or_else(|| bad(format!("omega = '{value}' is not a number in (0, 2)")))?;
                if spec.relaxation.replace(w).is_some() {
                    return Err(bad(format!("option '{key}' given twice")));
                }
                continue;
            }
            // Boundary sweeps may be 0 (none); every other count is positive.
            let least = usize::from(key != "boundary");
            let v: usize = value
                .parse()
                .ok()
                .filter(|v| (least..=MAX_OPTION).contains(v))
                .ok_or_else(|| {
                    bad(format!(
                        "{key} = '{value}' is not an integer in {least}..={MAX_OPTION}"
                    ))
                })?;
            let slot = match key {
                "k" => &mut spec.fcd_k,
                "vectors" => &mut spec.vectors,
                "boundary" => &mut spec.boundary_sweeps,
                "sweeps" => &mut spec.sweeps,
                "coarse-sweeps" if v > ritz_pde::SCHEDULE_SWEEPS => {
                    return Err(bad(format!(
                        "coarse-sweeps = {v}: at most {} are weighed",
                        ritz_pde::SCHEDULE_SWEEPS
                    )));
                }
                "coarse-sweeps" => &mut spec.coarse_sweeps,
                _ => &mut spec.lanczos_steps,
            };
            if slot.replace(v).is_some() {
                return Err(bad(format!("option '{key}' given twice")));
            }
        }
        if spec.lanczos_steps() < spec.vectors() {
            return Err(bad(format!(
                "steps ({}) must be at least vectors ({})",
                spec.lanczos_steps(),
                spec.vectors()
            )));
        }
        Ok(spec)
    }
}

impl fmt::Display for SolverSpec {
    /// The canonical form: the name, `-csr` if assembled, then the options given.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.method.name())?;
        if self.assembled {
            f.write_str("-csr")?;
        }
        for (key, v) in [
            ("k", self.fcd_k),
            ("vectors", self.vectors),
            ("steps", self.lanczos_steps),
        ] {
            if let Some(v) = v {
                write!(f, ":{key}={v}")?;
            }
        }
        match self.coarse {
            Some(ritz_pde::CoarseOperator::AreaWeighted) => f.write_str(":coarse=area")?,
            Some(ritz_pde::CoarseOperator::Rediscretized) => f.write_str(":coarse=unit")?,
            None => {}
        }
        if let Some(v) = self.sweeps {
            write!(f, ":sweeps={v}")?;
        }
        if let Some(v) = self.coarse_sweeps {
            write!(f, ":coarse-sweeps={v}")?;
        }
        if let Some(v) = self.boundary_sweeps {
            write!(f, ":boundary={v}")?;
        }
        match self.temporal_blocking {
            Some(ritz_pde::Blocking::Auto) => f.write_str(":blocking=auto")?,
            Some(ritz_pde::Blocking::Always) => f.write_str(":blocking=wave")?,
            Some(ritz_pde::Blocking::Off) => f.write_str(":blocking=off")?,
            None => {}
        }
        if let Some(w) = self.relaxation {
            write!(f, ":omega={}", w.get())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_parses_and_prints_back() {
        for name in SolverSpec::grid_names() {
            let s: SolverSpec = name.parse().unwrap();
            assert_eq!(s.to_string(), name);
        }
        let s: SolverSpec = "mgpcg:boundary=4:coarse=unit".parse().unwrap();
        assert_eq!(s.to_string(), "mgpcg:coarse=unit:boundary=4");
        assert_eq!(s.boundary_sweeps, Some(4));
        assert!("mgpcg:boundary=0".parse::<SolverSpec>().is_ok());
        let s: SolverSpec = "mgpcg:boundary=1:sweeps=3".parse().unwrap();
        assert_eq!(
            (s.sweeps, s.to_string()),
            (Some(3), "mgpcg:sweeps=3:boundary=1".into())
        );
        assert!("mgpcg:sweeps=0".parse::<SolverSpec>().is_err());
        let s: SolverSpec = "mgpcg:coarse-sweeps=3:sweeps=1".parse().unwrap();
        assert_eq!(s.coarse_sweeps, Some(3));
        assert_eq!(s.to_string(), "mgpcg:sweeps=1:coarse-sweeps=3");
        for bad in ["0", "5", "x"] {
            let spec = format!("mgpcg:coarse-sweeps={bad}");
            assert!(spec.parse::<SolverSpec>().is_err(), "{spec}");
        }
        assert!("learned:coarse-sweeps=3".parse::<SolverSpec>().is_err());
        assert!("learned:omega=1.2".parse::<SolverSpec>().is_err());
        use ritz_pde::Blocking;
        for (text, b) in [
            ("off", Blocking::Off),
            ("auto", Blocking::Auto),
            ("wave", Blocking::Always),
        ] {
            let s: SolverSpec = format!("mgpcg:blocking={text}").parse().unwrap();
            assert_eq!(s.temporal_blocking, Some(b));
            assert_eq!(s.to_string(), format!("mgpcg:blocking={text}"));
        }
        assert!("mgpcg:blocking=on".parse::<SolverSpec>().is_err());
        let s: SolverSpec = "mgpcg:omega=1.3".parse().unwrap();
        assert_eq!(s.relaxation.map(Relaxation::get), Some(1.3));
        assert_eq!(s.to_string(), "mgpcg:omega=1.3");
        for bad in ["0", "2", "-1", "nan", "x", "1e9"] {
            assert!(
                format!("mgpcg:omega={bad}").parse::<SolverSpec>().is_err(),
                "{bad}"
            );
        }
        assert!("cg:omega=1.2".parse::<SolverSpec>().is_err());
        assert!("cg:blocking=off".parse::<SolverSpec>().is_err());
        assert!("mgpcg:coarse=fine".parse::<SolverSpec>().is_err());
        assert!(
            "mgpcg:coarse=unit:coarse=area"
                .parse::<SolverSpec>()
                .is_err()
        );
        assert!("dcdm:coarse=unit".parse::<SolverSpec>().is_err());
        assert!("dcdm:k=0".parse::<SolverSpec>().is_err());
        let s: SolverSpec = "deflated-csr:steps=40:vectors=8".parse().unwrap();
        assert_eq!(s.to_string(), "deflated-csr:vectors=8:steps=40");
        assert_eq!((s.vectors(), s.lanczos_steps()), (8, 40));
    }

    #[test]
    fn bad_specs_are_typed_errors() {
        for (s, unknown) in [
            ("mgcg", true),
            ("mgpcg-csr", true),
            ("stencil-csr", true),
            ("", true),
            ("cholesky-csr", true),
            ("dcdm:k", false),
            ("dcdm:k=0", false),
            ("dcdm:k=-3", false),
            ("dcdm:k=2:k=3", false),
            ("dcdm:vectors=3", false),
            ("cg:k=2", false),
            ("deflated:vectors=20:steps=10", false),
            ("fcd-ic0:k=99999999999999999999999", false),
        ] {
            let e = s.parse::<SolverSpec>().unwrap_err();
            assert_eq!(
                matches!(e, RitzError::UnknownSolver { .. }),
                unknown,
                "{s}: {e}"
            );
        }
    }

    #[test]
    fn default_k_is_16_for_dcdm_and_2_otherwise() {
        let d: SolverSpec = "dcdm".parse().unwrap();
        assert_eq!(d.k(), 16);
        assert_eq!(d.with_default_k(Some(4)).k(), 4);
        let s: SolverSpec = "stencil:k=3".parse().unwrap();
        assert_eq!(s.with_default_k(Some(4)).k(), 3);
        let m: SolverSpec = "mgpcg".parse().unwrap();
        assert_eq!(m.with_default_k(Some(4)).fcd_k, None);
        assert_eq!(SolverSpec::new(Method::FcdIc0).k(), 2);
    }
}
