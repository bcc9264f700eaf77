"""ritz: learned and classical iterative solvers from numpy.

- ``Poisson(flags, walls)``: a MAC-grid pressure-Poisson problem from an int8 array
  (0 fluid, 1 solid, 2 air) of shape ``(ny, nx)`` or ``(nz, ny, nx)``;
- ``Solver(name, system)``: a catalogue solver (``"mgpcg"``, ``"mic0"``, ``"ic0"``,
  ``"jacobi"``, ``"cg"``, ``"stencil"``, ``"dcdm"``, ``"cholesky"``, … — see ``catalogue()``;
  ``"learned"`` is the shipped stencil V-net) set up once on a ``Poisson`` or a SciPy sparse SPD
  matrix; ``solve(b, tol=…, x0=…)`` returns ``(x, info)``; ``preconditioner()`` is SciPy's
  ``M=``;
- ``cg(A, b, M="ic0")``: one-call (P)CG on a SciPy sparse SPD matrix;
- ``ritz.ot``: ``emd``, ``emd2``, ``sinkhorn`` (``method="sns"`` too), ``sinkhorn2`` with POT's
  signatures;
- ``ritz.hessian``: ``top_eigenvalues``, ``trace``, ``density`` over a Python HVP, and
  ``DynamicMfac``;
- ``Smoke``: the smoke simulator, stepped with a ``Solver``.

Errors: ``ValueError`` for bad shapes, values (NaN/Inf, non-SPD) and names, ``MemoryError``
for sizes that would exhaust memory, ``OSError`` for unreadable files, and
``ConvergenceError`` (a ``RuntimeError``) for non-convergence only when asked
(``raise_on_failure=True``).

>>> import numpy as np, ritz
>>> flags = np.zeros((32, 32), np.int8); flags[12:20, 12:20] = 1   # a solid block
>>> problem = ritz.Poisson(flags, walls="open-top")
>>> solver = ritz.Solver("mgpcg", problem)
>>> x, info = solver.solve(problem.rhs("smooth"), tol=1e-8)
>>> info["converged"], info["iterations"] < 20
(True, True)
"""

from __future__ import annotations

from . import _ritz
from ._convert import as_sparse
from ._ritz import DynamicMfac, Poisson, Smoke, SparseMatrix, __version__
from . import hessian, ot
from .ot import emd, emd2, sinkhorn, sinkhorn2

__all__ = [
    "Poisson",
    "Solver",
    "SparseMatrix",
    "Smoke",
    "DynamicMfac",
    "ConvergenceError",
    "as_sparse",
    "catalogue",
    "cg",
    "emd",
    "emd2",
    "sinkhorn",
    "sinkhorn2",
    "hessian",
    "ot",
    "__version__",
]

#: Names that stand for a catalogue solver.
ALIASES = {"learned": "stencil"}


class ConvergenceError(RuntimeError):
    """A solve stopped before its tolerance (raised only with ``raise_on_failure=True``).

    ``x`` holds the last iterate and ``info`` the solve's info dict.
    """

    def __init__(self, message, x=None, info=None):
        super().__init__(message)
        self.x = x
        self.info = info


class Solver(_ritz.Solver):
    """A catalogue solver set up once on a ``Poisson`` problem or a sparse SPD matrix.

    ``Solver(name, system, *, tol=1e-6, atol=0.0, maxiter=10000, weights=None, backend="cpu")``
    builds it (the setup: hierarchy, factorization, network stencils); ``solve(b, x0=None, *,
    tol=None, atol=None, maxiter=None, raise_on_failure=False)`` returns ``(x, info)``, ``x``
    shaped like ``b``, ``info`` a dict with ``iterations``, ``residuals`` (``||r_k||/||b||``),
    ``elapsed``, ``stop`` (``converged``, ``max-iterations``, ``zero-rhs``, ``diverged``,
    ``time-limit``, ``stalled``), ``converged``, ``setup_seconds``, ``solve_seconds``.
    The GIL is released during setup and solves.
    """

    def __new__(cls, name, system, **kwargs):
        return super().__new__(cls, ALIASES.get(name, name), system, **kwargs)


def catalogue():
    """``[(name, description)]`` of every solver ``Solver`` builds."""
    return _ritz.catalogue()


def cg(A, b, x0=None, *, M=None, tol=1e-6, atol=0.0, maxiter=10000, raise_on_failure=False):
    """(Preconditioned) conjugate gradients on a sparse SPD matrix or a ``Poisson`` problem.

    ``M`` is ``None`` (plain CG) or a preconditioner name: ``"jacobi"``, ``"ic0"``,
    ``"mic0"`` (and ``"mgpcg"`` on a ``Poisson`` problem). Returns ``(x, info)`` like
    ``Solver.solve``; the setup time is in ``info["setup_seconds"]``.
    """
    solver = Solver(M or "cg", A, tol=tol, atol=atol, maxiter=maxiter)
    return solver.solve(b, x0, raise_on_failure=raise_on_failure)
