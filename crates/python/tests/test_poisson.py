"""Poisson problems from flag arrays and the catalogue's solvers, checked against SciPy's
direct solve of the same assembled matrix."""

import numpy as np
import pytest
import scipy.sparse.linalg as spla

import ritz
from conftest import maze, pipe


def reference(problem, b):
    """SciPy's sparse LU on the fluid unknowns, scattered back to the grid."""
    A = problem.matrix()
    xc = spla.spsolve(A.tocsc(), problem.to_compact(b))
    return problem.to_grid(xc)


@pytest.mark.parametrize("name", ["mgpcg", "mgpcg-f64", "mic0", "ic0", "cg", "learned", "cholesky"])
def test_solvers_match_scipy_on_a_maze(name):
    flags = maze(48)
    problem = ritz.Poisson(flags, walls="open-top")
    b = problem.rhs("smooth", seed=1)
    solver = ritz.Solver(name, problem, tol=1e-10)
    x, info = solver.solve(b)
    assert info["converged"], info
    assert x.shape == flags.shape and x.dtype == np.float64 and x.flags.c_contiguous
    ref = reference(problem, b)
    assert np.linalg.norm(x - ref) <= 1e-7 * np.linalg.norm(ref)
    assert info["residuals"].shape == (info["iterations"] + 1,)
    assert info["setup_seconds"] >= 0 and info["solve_seconds"] > 0


def test_mgpcg_on_an_unseen_3d_pipe_and_reuse():
    problem = ritz.Poisson(pipe(24), walls="closed")
    assert problem.ndim == 3 and problem.regions == (1, 1)  # one floating region
    solver = ritz.Solver("mgpcg", problem)
    for seed in range(2):
        b = problem.rhs("noise", seed=seed)
        x, info = solver.solve(b, tol=1e-8)
        assert info["converged"] and info["iterations"] < 30
        r = b - problem.apply(x)
        r -= problem.to_grid(np.full(problem.num_fluid, problem.to_compact(r).mean()))
        assert np.linalg.norm(r) <= 1e-6 * np.linalg.norm(b)


def test_rhs_is_not_modified_and_x0_is_used():
    problem = ritz.Poisson(maze(32), walls="open-top")
    b = problem.rhs("smooth")
    b_copy = b.copy()
    solver = ritz.Solver("mic0", problem, tol=1e-9)
    x, info = solver.solve(b)
    np.testing.assert_array_equal(b, b_copy)
    x2, info2 = solver.solve(b, x0=x)
    assert info2["iterations"] <= 1 and np.allclose(x2, x)


def test_flags_of_other_integer_dtypes_and_lists():
    f = maze(16).astype(np.int64)
    assert ritz.Poisson(f).num_fluid == ritz.Poisson(f.astype(np.int8)).num_fluid
    assert ritz.Poisson([[0, 0], [0, 2]]).num_fluid == 3


@pytest.mark.parametrize(
    "flags, walls, message",
    [
        (np.full((4, 4), 3), "closed", "invalid cell flag 3"),
        (np.full((4, 4), -1), "closed", "invalid cell flag -1"),
        (np.zeros((4, 4), np.float32), "closed", "must be integers"),
        (np.ones((4, 4), np.int8), "closed", "no fluid"),
        (np.zeros(4, np.int8), "closed", "2 or 3 axes"),
        (np.zeros((4, 4), np.int8), "sideways", "sideways"),
    ],
)
def test_bad_grids_are_value_errors(flags, walls, message):
    with pytest.raises(ValueError, match=message):
        ritz.Poisson(flags, walls=walls)


def test_bad_right_hand_sides_and_names():
    problem = ritz.Poisson(maze(16))
    solver = ritz.Solver("mgpcg", problem)
    b = problem.rhs("smooth")
    with pytest.raises(ValueError, match="shape"):
        solver.solve(b[:-1])
    bad = b.copy()
    bad[3, 3] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        solver.solve(bad)
    with pytest.raises(ValueError, match="unknown solver"):
        ritz.Solver("multigridd", problem)
    with pytest.raises(ValueError, match="tolerance"):
        solver.solve(b, tol=-1.0)


def test_non_convergence_is_a_stop_reason_or_an_exception_on_request():
    problem = ritz.Poisson(maze(32), walls="open-top")
    solver = ritz.Solver("cg", problem)
    b = problem.rhs("smooth")
    x, info = solver.solve(b, maxiter=2)
    assert info["stop"] == "max-iterations" and not info["converged"]
    with pytest.raises(ritz.ConvergenceError) as e:
        solver.solve(b, maxiter=2, raise_on_failure=True)
    assert isinstance(e.value, RuntimeError)
    assert e.value.info["iterations"] == 2 and e.value.x.shape == b.shape
    # The solver's own parameters are unchanged by per-call overrides.
    assert solver.maxiter == 10000 and solver.tol == 1e-6


def test_sizes_beyond_the_index_range_are_value_errors():
    with pytest.raises(ValueError, match="2\\^32"):
        ritz.Poisson.scene("spheres", 100_000, dim=3)


def test_scenes_and_npy_files(tmp_path):
    problem = ritz.Poisson.scene("pillars", 24, dim=2, seed=1)
    path = tmp_path / "flags.npy"
    np.save(path, problem.flags())
    again = ritz.Poisson.load(str(path), walls=problem.walls)
    assert again.num_fluid == problem.num_fluid and again.shape == problem.shape
    (tmp_path / "bad.npy").write_bytes(b"not an npy file")
    with pytest.raises(OSError):
        ritz.Poisson.load(str(tmp_path / "bad.npy"))


def test_flat_vectors_and_shapes():
    problem = ritz.Poisson(maze(16))
    solver = ritz.Solver("mic0", problem)
    b = problem.rhs("smooth")
    x_flat, _ = solver.solve(b.ravel())
    x, _ = solver.solve(b)
    assert x_flat.shape == (256,) and x.shape == (16, 16)
    np.testing.assert_array_equal(x_flat, x.ravel())
    with pytest.raises(ValueError, match="shape"):
        solver.solve(b.T.copy().reshape(8, 32))
    with pytest.raises(ValueError, match="shape"):
        problem.apply(np.zeros((8, 32)))
