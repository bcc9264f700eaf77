"""Conversions between numpy / SciPy objects and ritz's native types (internal)."""

from __future__ import annotations

import numpy as np

from . import _ritz


def flags_int8(flags) -> np.ndarray:
    """Flag codes (0 fluid, 1 solid, 2 air) as a C-contiguous int8 array.

    Integer and boolean arrays are checked before the cast, so that no value wraps around.
    Raises ValueError for other dtypes and for values outside {0, 1, 2}.
    """
    a = np.asarray(flags)
    if a.dtype == np.int8:
        return np.ascontiguousarray(a)
    if a.dtype.kind not in "iub":
        raise ValueError(f"flags must be integers (0 fluid, 1 solid, 2 air), got dtype {a.dtype}")
    if a.size:
        bad = np.flatnonzero((a < 0) | (a > 2))
        if bad.size:
            i = int(bad[0])
            raise ValueError(
                f"invalid cell flag {a.flat[i]} at cell {i} (expected 0 fluid, 1 solid, 2 air)"
            )
    return np.ascontiguousarray(a, dtype=np.int8)


def as_sparse(A) -> _ritz.SparseMatrix:
    """A SciPy sparse matrix (any format) or a dense 2-D array as a validated CSR matrix.

    Copies the index arrays (ritz stores 32-bit column indices) and the values once.
    Raises TypeError for other objects, ValueError for malformed or non-finite matrices.
    """
    if isinstance(A, _ritz.SparseMatrix):
        return A
    import scipy.sparse as sp

    if sp.issparse(A):
        A = A.tocsr()
        if not A.has_canonical_format:
            A = A.copy()
            A.sum_duplicates()
    elif isinstance(A, np.ndarray) and A.ndim == 2:
        A = sp.csr_matrix(A)
    else:
        raise TypeError(
            "expected a ritz.Poisson, a scipy.sparse matrix or a 2-D numpy array, "
            f"got {type(A).__name__}"
        )
    return _ritz.SparseMatrix(
        tuple(int(s) for s in A.shape),
        np.asarray(A.indptr, dtype=np.int64),
        np.asarray(A.indices, dtype=np.int64),
        np.ascontiguousarray(A.data, dtype=np.float64),
    )


def preconditioner_operator(solver):
    """``solver``'s preconditioner as a ``scipy.sparse.linalg.LinearOperator`` for ``M=``.

    On a grid problem it acts on the fluid unknowns in ``Poisson.matrix()``'s order (scattered
    to the grid layout and gathered back: two O(n) copies per application). Raises ValueError
    for solvers without one and for nonlinear (flexible-only) preconditioners, which plain CG
    cannot use.
    """
    from scipy.sparse.linalg import LinearOperator

    spd = solver.preconditioner_is_spd
    if spd is None:
        raise ValueError(f"{solver.name} has no preconditioner")
    if not spd:
        raise ValueError(
            f"{solver.name}'s preconditioner is not a fixed SPD map: plain CG (scipy's cg) "
            "cannot use it; ritz.Solver(...).solve runs it inside flexible conjugate directions"
        )
    n = solver.vector_length
    problem = solver.problem
    if problem is not None and n == problem.num_cells and problem.num_fluid != n:
        cells = problem.fluid_cells().astype(np.intp)

        def matvec(r):
            g = np.zeros(n)
            g[cells] = np.ravel(r)
            return solver.apply_preconditioner(g)[cells]

        m = cells.size
    else:

        def matvec(r):
            return solver.apply_preconditioner(np.ravel(r))

        m = n
    return LinearOperator((m, m), matvec=matvec, rmatvec=matvec, dtype=np.float64)
