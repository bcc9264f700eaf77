//! Optimal transport between histograms with a cost matrix: the exact network simplex and the
//! entropic solvers (Sinkhorn scaling, stabilized, log-domain, Sinkhorn–Newton-Sparse). The
//! Python layer (`ritz/ot.py`) gives them POT's signatures and conventions (`reg = 1/η`).

use crate::arrays::{self, slice};
use crate::errors::OrRaise;
use crate::solve::stop_name;
use numpy::{PyArrayMethods, PyUntypedArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use ritz::ot::{
    NetworkSimplexParams, OtProblem, OtSolution, SinkhornParams, SnsParams, emd_with, sinkhorn,
    sinkhorn_log, sinkhorn_newton_sparse, sinkhorn_stabilized,
};

/// One OT solve: `method` is `emd`, `sinkhorn`, `sinkhorn_stabilized`, `sinkhorn_log` or
/// `sns`; `reg` is POT's (ignored by `emd`); `max_iter` caps pivots (emd), iterations
/// (Sinkhorn) or Newton steps (SNS); `tol` is the stop test on `‖P1 − a‖₁ + ‖Pᵀ1 − b‖₁`.
/// Returns a dict with the dense plan, potentials, costs, iterations, stop reason and history.
#[pyfunction]
#[pyo3(signature = (a, b, cost, method, reg, max_iter, tol))]
pub fn ot_solve<'py>(
    py: Python<'py>,
    a: &Bound<'py, PyAny>,
    b: &Bound<'py, PyAny>,
    cost: &Bound<'py, PyAny>,
    method: &str,
    reg: f64,
    max_iter: usize,
    tol: f64,
) -> PyResult<Bound<'py, PyDict>> {
    let a = arrays::f64_array(a)?.readonly();
    let b = arrays::f64_array(b)?.readonly();
    let cost = arrays::f64_array(cost)?.readonly();
    let (n, m) = (a.len(), b.len());
    if cost.shape() != [n, m] {
        return Err(PyValueError::new_err(format!(
            "M has shape {:?}; a and b need ({n}, {m})",
            cost.shape()
        )));
    }
    let (av, bv, cv) = (
        slice(&a, "a")?.to_vec(),
        slice(&b, "b")?.to_vec(),
        slice(&cost, "M")?.to_vec(),
    );
    let eta = 1.0 / reg;
    let method = method.to_ascii_lowercase();
    let solution: Result<OtSolution, _> = py.detach(|| {
        let problem = OtProblem::new(av, bv, cv)?;
        let sk = SinkhornParams {
            eta,
            tol,
            max_iters: max_iter,
            time_limit_s: None,
        };
        match method.as_str() {
            "emd" => emd_with(
                &problem,
                &NetworkSimplexParams {
                    max_pivots: max_iter,
                    ..Default::default()
                },
            ),
            "sinkhorn" | "sinkhorn_knopp" => sinkhorn(&problem, &sk, &mut ()),
            "sinkhorn_stabilized" => sinkhorn_stabilized(&problem, &sk, &mut ()),
            "sinkhorn_log" => sinkhorn_log(&problem, &sk, &mut ()),
            "sns" | "sinkhorn_newton_sparse" => sinkhorn_newton_sparse(
                &problem,
                &SnsParams {
                    eta,
                    tol,
                    max_newton_iters: max_iter,
                    ..Default::default()
                },
                &mut (),
            ),
            other => Err(ritz::ot::OtError::InvalidParameter(format!(
                "unknown method '{other}' (known: emd, sinkhorn, sinkhorn_stabilized, \
                 sinkhorn_log, sns)"
            ))),
        }
    });
    let s = solution.or_raise()?;
    let plan = s.plan.to_dense().or_raise()?;
    let d = PyDict::new(py);
    d.set_item("plan", arrays::shaped(py, plan, &[n, m])?)?;
    d.set_item("f", arrays::vec1(py, s.f.clone()))?;
    d.set_item("g", arrays::vec1(py, s.g.clone()))?;
    d.set_item("cost", s.transport_cost)?;
    d.set_item("entropic_cost", s.entropic_cost)?;
    d.set_item("dual_value", s.dual_value)?;
    d.set_item("marginal_error", s.marginal_error())?;
    d.set_item("iterations", s.iterations)?;
    d.set_item("stop", stop_name(s.stop))?;
    d.set_item("converged", s.stop == ritz::krylov::StopReason::Converged)?;
    d.set_item("seconds", s.elapsed_s)?;
    let (err, t): (Vec<f64>, Vec<f64>) = s
        .history
        .iter()
        .map(|h| (h.marginal_error, h.elapsed_s))
        .unzip();
    d.set_item("history", arrays::vec1(py, err))?;
    d.set_item("elapsed", arrays::vec1(py, t))?;
    if let Some(sns) = &s.sns {
        d.set_item("sinkhorn_iterations", sns.sinkhorn_iterations)?;
        d.set_item("newton_iterations", sns.newton_iterations)?;
        d.set_item("cg_iterations", sns.cg_iterations)?;
    }
    Ok(d)
}
