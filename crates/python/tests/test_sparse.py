"""SciPy sparse SPD systems: ritz's CG/PCG against SciPy, and ritz preconditioners as the
``M=`` of ``scipy.sparse.linalg.cg``."""

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla

import ritz
from conftest import laplacian_2d, maze


@pytest.mark.parametrize("M", [None, "jacobi", "ic0", "mic0"])
def test_pcg_matches_a_direct_solve(M, rng):
    A = laplacian_2d(30) + sp.diags(rng.uniform(0, 1, 900))
    b = rng.standard_normal(900)
    x, info = ritz.cg(A, b, M=M, tol=1e-10)
    assert info["converged"]
    ref = spla.spsolve(A.tocsc(), b)
    assert np.linalg.norm(x - ref) <= 1e-8 * np.linalg.norm(ref)


def test_every_sparse_format_and_a_dense_array(rng):
    A = laplacian_2d(8)
    b = rng.standard_normal(64)
    ref = spla.spsolve(A.tocsc(), b)
    for fmt in (A.tocoo(), A.tocsc(), sp.csr_array(A), A.toarray()):
        x, _ = ritz.cg(fmt, b, M="ic0", tol=1e-12)
        np.testing.assert_allclose(x, ref, rtol=1e-9, atol=1e-12)


def test_preconditioners_as_scipy_M(rng):
    A = laplacian_2d(40)
    b = rng.standard_normal(1600)
    counts = {}
    for M in (None, "ic0"):
        it = [0]

        def count(_):
            it[0] += 1

        op = ritz.Solver(M, A).preconditioner() if M else None
        x, code = spla.cg(A, b, M=op, rtol=1e-8, callback=count)
        assert code == 0
        counts[M] = it[0]
    assert counts["ic0"] < counts[None] / 2


def test_mgpcg_preconditions_scipy_cg_on_a_grid_problem():
    problem = ritz.Poisson(maze(48), walls="open-top")
    A = problem.matrix()
    bc = problem.to_compact(problem.rhs("smooth"))
    solver = ritz.Solver("mgpcg-f64", problem, tol=1e-8)
    M = solver.preconditioner()
    assert M.shape == A.shape
    counts = []
    for m in (None, M):
        it = [0]
        x, code = spla.cg(A, bc, M=m, rtol=1e-8, callback=lambda _: it.__setitem__(0, it[0] + 1))
        assert code == 0
        assert np.linalg.norm(A @ x - bc) <= 1e-7 * np.linalg.norm(bc)
        counts.append(it[0])
    # SciPy's PCG with the V-cycle makes ritz's MGPCG iterations (same method, same test).
    _, info = solver.solve(problem.rhs("smooth"))
    assert abs(counts[1] - info["iterations"]) <= 2 and counts[1] < counts[0] / 10


def test_nonlinear_preconditioners_are_refused_for_scipy_cg():
    problem = ritz.Poisson(maze(32))
    with pytest.raises(ValueError, match="not a fixed SPD map"):
        ritz.Solver("stencil", problem).preconditioner()
    with pytest.raises(ValueError, match="no preconditioner"):
        ritz.Solver("cg", problem).preconditioner()


def test_bad_matrices():
    with pytest.raises(ValueError, match="not symmetric positive definite|positive"):
        ritz.cg(-laplacian_2d(6), np.ones(36), M="ic0")
    A = laplacian_2d(4).astype(np.float64)
    A.data[0] = np.inf
    with pytest.raises(ValueError, match="non-finite"):
        ritz.cg(A, np.ones(16))
    with pytest.raises(TypeError):
        ritz.Solver("cg", "a string")
    with pytest.raises(ValueError, match="does not run on a matrix"):
        ritz.Solver("mgpcg", laplacian_2d(4))
