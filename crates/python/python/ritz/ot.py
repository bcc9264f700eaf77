"""Optimal transport with POT's signatures and conventions.

``emd``, ``emd2``, ``sinkhorn`` and ``sinkhorn2`` take the arguments of ``ot.emd`` & co. (POT
0.9) and return the same things, so that ``import ritz.ot as ot`` works in POT code:

- ``reg`` is POT's entropic regularization: the objective is ``<P, M> + reg * sum P (log P - 1)``
  (ritz's ``eta = 1 / reg``);
- ``a`` or ``b`` empty means uniform;
- ``numItermax`` caps network-simplex pivots (``emd``), Sinkhorn iterations, or Newton steps
  (``method="sns"``); ``stopThr`` is ritz's stop test, the L1 marginal violation
  ``||P 1 - a||_1 + ||P^T 1 - b||_1`` checked every iteration (POT checks ``||P^T 1 - b||_2``
  every 10 iterations, a looser test), so both stop converged on the same inputs;
- ``log=True`` returns ``(result, log)`` with POT's keys (``cost``, ``u``, ``v`` for ``emd``;
  ``niter``, ``err``, ``u``/``v`` or ``log_u``/``log_v`` for Sinkhorn) plus ritz's
  (``stop``, ``seconds``, ``marginal_error``, ``f``, ``g``).

Methods of ``sinkhorn``: ``"sinkhorn"`` (scaling), ``"sinkhorn_stabilized"`` (absorption),
``"sinkhorn_log"`` (log domain), and ``"sns"`` (Sinkhorn-Newton-Sparse: a Sinkhorn warm-up then
Newton steps on the dual with a sparsified Hessian; tens of iterations where Sinkhorn needs
thousands).

>>> import numpy as np, ritz.ot
>>> M = np.array([[0.0, 1.0], [1.0, 0.0]])
>>> float(ritz.ot.emd2([0.5, 0.5], [0.5, 0.5], M))
0.0
>>> ritz.ot.sinkhorn([0.5, 0.5], [0.5, 0.5], M, 0.1, method="sns").round(4)
array([[0.5, 0. ],
       [0. , 0.5]])
"""

from __future__ import annotations

import warnings

import numpy as np

from . import _ritz

__all__ = ["emd", "emd2", "sinkhorn", "sinkhorn2"]

_METHODS = {
    "sinkhorn": "sinkhorn",
    "sinkhorn_knopp": "sinkhorn",
    "sinkhorn_stabilized": "sinkhorn_stabilized",
    "sinkhorn_log": "sinkhorn_log",
    "sns": "sns",
    "sinkhorn_newton_sparse": "sns",
}


def _histograms(a, b, M):
    M = np.ascontiguousarray(M, dtype=np.float64)
    if M.ndim != 2:
        raise ValueError(f"M must be a 2-D cost matrix, got shape {M.shape}")
    n, m = M.shape
    a = np.asarray(a, dtype=np.float64).reshape(-1)
    b = np.asarray(b, dtype=np.float64).reshape(-1)
    if a.size == 0:
        a = np.full(n, 1.0 / n)
    if b.size == 0:
        b = np.full(m, 1.0 / m)
    return a, b, M


def _solve(a, b, M, method, reg, num_iter_max, stop_thr):
    a, b, M = _histograms(a, b, M)
    if method != "emd" and not reg > 0:
        raise ValueError(f"reg must be positive, got {reg}")
    return _ritz.ot_solve(a, b, M, method, float(reg) if reg else 1.0, int(num_iter_max), float(stop_thr))


def emd(a, b, M, numItermax=100000, log=False, **kwargs):
    """Exact optimal transport plan by the network simplex (POT's ``ot.emd``).

    Returns the ``(n, m)`` plan, or ``(plan, log)`` with ``log["cost"]``, dual potentials
    ``log["u"]``, ``log["v"]`` (``u_i + v_j <= M_ij``, equality on the plan's support) and
    ``log["warning"]`` (``None``, or the reason when ``numItermax`` pivots were not enough).
    Extra POT keywords (``numThreads``, ``center_dual``, ``check_marginals``) are accepted
    and ignored. Raises ValueError for negative or non-finite inputs and unequal masses.
    """
    r = _solve(a, b, M, "emd", None, numItermax, 0.0)
    if not r["converged"]:
        warnings.warn("numItermax reached before optimality. Try to increase numItermax.", UserWarning)
    if log:
        return r["plan"], _emd_log(r)
    return r["plan"]


def _emd_log(r):
    return {
        "cost": r["cost"],
        "u": r["f"],
        "v": r["g"],
        "warning": None if r["converged"] else "numItermax reached before optimality",
        "result_code": 1 if r["converged"] else 3,
        "f": r["f"],
        "g": r["g"],
        "stop": r["stop"],
        "seconds": r["seconds"],
        "marginal_error": r["marginal_error"],
    }


def emd2(a, b, M, numItermax=100000, log=False, return_matrix=False, **kwargs):
    """Exact optimal transport cost ``<P*, M>`` (POT's ``ot.emd2``); with ``log=True``,
    ``(cost, log)`` and ``log["G"]`` the plan when ``return_matrix=True``."""
    r = _solve(a, b, M, "emd", None, numItermax, 0.0)
    if not r["converged"]:
        warnings.warn("numItermax reached before optimality. Try to increase numItermax.", UserWarning)
    if log:
        lg = _emd_log(r)
        if return_matrix:
            lg["G"] = r["plan"]
        return r["cost"], lg
    return r["cost"]


def _sinkhorn(a, b, M, reg, method, numItermax, stopThr, warn):
    key = _METHODS.get(str(method).lower())
    if key is None:
        raise ValueError(f"unknown method '{method}' (known: {', '.join(sorted(_METHODS))})")
    r = _solve(a, b, M, key, reg, numItermax, stopThr)
    if warn and not r["converged"]:
        warnings.warn(
            "Sinkhorn did not converge. You might want to increase the number of iterations "
            "`numItermax` or the regularization parameter `reg`.",
            UserWarning,
        )
    return key, r


def _sinkhorn_log(key, r, reg):
    lg = {
        "niter": r["iterations"],
        "err": list(r["history"]),
        "f": r["f"],
        "g": r["g"],
        "stop": r["stop"],
        "seconds": r["seconds"],
        "marginal_error": r["marginal_error"],
        "cost": r["cost"],
        "entropic_cost": r["entropic_cost"],
    }
    log_u, log_v = r["f"] / reg, r["g"] / reg
    if key in ("sinkhorn_log", "sns"):
        lg["log_u"], lg["log_v"] = log_u, log_v
    else:
        lg["u"], lg["v"] = np.exp(log_u), np.exp(log_v)
    if key == "sns":
        for k in ("sinkhorn_iterations", "newton_iterations", "cg_iterations"):
            lg[k] = r[k]
    return lg


def sinkhorn(a, b, M, reg, method="sinkhorn", numItermax=1000, stopThr=1e-9, verbose=False,
             log=False, warn=True, **kwargs):
    """Entropic optimal transport plan (POT's ``ot.sinkhorn``), ``method`` one of
    ``sinkhorn``, ``sinkhorn_stabilized``, ``sinkhorn_log``, ``sns``.

    Returns the dense ``(n, m)`` plan, or ``(plan, log)``. Warns (UserWarning, as POT) when the
    stop test is not met within ``numItermax``; raises ValueError for bad inputs and unknown
    methods.
    """
    key, r = _sinkhorn(a, b, M, reg, method, numItermax, stopThr, warn)
    if log:
        return r["plan"], _sinkhorn_log(key, r, reg)
    return r["plan"]


def sinkhorn2(a, b, M, reg, method="sinkhorn", numItermax=1000, stopThr=1e-9, verbose=False,
              log=False, warn=True, **kwargs):
    """The linear cost ``<P, M>`` of the entropic plan (POT's ``ot.sinkhorn2``); ``(cost, log)``
    with ``log=True``."""
    key, r = _sinkhorn(a, b, M, reg, method, numItermax, stopThr, warn)
    if log:
        return r["cost"], _sinkhorn_log(key, r, reg)
    return r["cost"]
