"""Curvature: Hessian spectra from Hessian-vector products, and M-FAC.

``hvp`` is any Python callable ``v -> H v`` on float64 vectors of length ``n`` (a PyTorch
double-backward product wrapped to numpy, ``scipy.sparse.linalg.LinearOperator.matvec``, a
matrix's ``__matmul__``). An exception raised inside it is re-raised after the algorithm
stops.

>>> import numpy as np, ritz.hessian as H
>>> A = np.diag(np.arange(1.0, 101.0))
>>> values, residuals = H.top_eigenvalues(lambda v: A @ v, 100, k=2, steps=60)
>>> np.round(values, 6)
array([100.,  99.])
>>> round(H.trace(lambda v: A @ v, 100, matvecs=300)[0])
5050
"""

from __future__ import annotations

import numpy as np

from . import _ritz
from ._ritz import DynamicMfac

__all__ = ["top_eigenvalues", "trace", "density", "DynamicMfac"]


def top_eigenvalues(hvp, n, k=1, steps=None, seed=0):
    """The ``k`` largest eigenvalues (descending) of a symmetric operator and their residual
    norms ``||H y - theta y||``, from ``steps`` Lanczos steps (default ``min(n, max(2k, 20) + k)``)
    with full reorthogonalization.

    Cost: ``steps`` products and ``O(n steps^2)``. Raises ValueError unless
    ``1 <= k <= steps <= n``.
    """
    if steps is None:
        steps = min(n, max(2 * k, 20) + k)
    return _ritz.top_eigenvalues(hvp, int(n), int(k), int(steps), int(seed))


def trace(hvp, n, matvecs=99, method="hutch++", seed=0):
    """``(estimate, std_error, matvecs_used)`` of ``tr(H)`` by Hutch++ (default; error
    ``O(1/matvecs)`` for decaying spectra) or Hutchinson (``method="hutchinson"``) with
    Rademacher probes."""
    return _ritz.trace(hvp, int(n), int(matvecs), method, int(seed))


def density(hvp, n, steps=30, probes=8, seed=0, grid=None, sigma=None):
    """The spectral density by stochastic Lanczos quadrature.

    Returns ``(nodes, weights)`` (weights sum to one) or, with ``grid`` given, the density on
    that grid broadened by Gaussians of width ``sigma`` (default: 1 % of the spectral range).
    Cost: ``probes * steps`` products.
    """
    nodes, weights = _ritz.slq(hvp, int(n), int(steps), int(probes), int(seed))
    if grid is None:
        return nodes, weights
    grid = np.asarray(grid, dtype=np.float64)
    if sigma is None:
        sigma = 0.01 * max(float(nodes.max() - nodes.min()), 1e-12)
    z = (grid[:, None] - nodes[None, :]) / sigma
    return (np.exp(-0.5 * z * z) * weights[None, :]).sum(axis=1) / (sigma * np.sqrt(2 * np.pi))
