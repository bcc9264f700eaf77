"""Shared fixtures: grids of kinds the learned solvers never saw in training (a pipe bend,
a maze), SPD test matrices. Seeds fixed; small sizes (the suite runs in CI on 2 cores)."""

import numpy as np
import pytest


def maze(n: int, seed: int = 0) -> np.ndarray:
    """A 2D maze of solid walls with gaps (0 fluid, 1 solid), open to air at the top."""
    rng = np.random.default_rng(seed)
    f = np.zeros((n, n), np.int8)
    for y in range(4, n - 2, 6):
        f[y, :] = 1
        for gap in rng.integers(1, n - 3, size=2):
            f[y, gap : gap + 3] = 0
    return f


def pipe(n: int) -> np.ndarray:
    """A 3D bent pipe: fluid inside an L-shaped tube of square section, solid elsewhere."""
    f = np.ones((n, n, n), np.int8)
    a, b = n // 4, n // 2
    f[a:b, a:b, 1 : n - a] = 0  # along x
    f[1 : n - 1, a:b, n - b : n - a] = 0  # up along z
    return f


def laplacian_2d(m: int):
    import scipy.sparse as sp

    t = sp.diags([-np.ones(m - 1), 2 * np.ones(m), -np.ones(m - 1)], [-1, 0, 1])
    i = sp.identity(m)
    return (sp.kron(i, t) + sp.kron(t, i)).tocsr()


@pytest.fixture
def rng():
    return np.random.default_rng(0)
