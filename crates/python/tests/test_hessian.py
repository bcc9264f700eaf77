"""Spectra over a Python HVP and M-FAC, against dense numpy linear algebra."""

import numpy as np
import pytest

import ritz
import ritz.hessian as H


def spd(n, seed=0):
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    lam = np.geomspace(1e-3, 10.0, n)
    return (q * lam) @ q.T, lam


def test_top_eigenvalues_match_eigvalsh():
    A, lam = spd(120)
    values, residuals = H.top_eigenvalues(lambda v: A @ v, 120, k=4, steps=60)
    np.testing.assert_allclose(values, lam[::-1][:4], rtol=1e-8)
    assert residuals.max() < 1e-6


def test_trace_and_density():
    A, lam = spd(90, seed=1)
    est, err, used = H.trace(lambda v: A @ v, 90, matvecs=90)
    assert abs(est - lam.sum()) < 0.05 * lam.sum() and used <= 90
    est_h, _, _ = H.trace(lambda v: A @ v, 90, matvecs=90, method="hutchinson")
    assert np.isfinite(est_h)
    nodes, weights = H.density(lambda v: A @ v, 90, steps=30, probes=4)
    assert abs(weights.sum() - 1) < 1e-9 and nodes.min() > -1e-9 and nodes.max() < 10 + 1e-6
    grid = np.linspace(-1, 11, 200)
    d = H.density(lambda v: A @ v, 90, steps=30, probes=4, grid=grid)
    assert abs(np.trapezoid(d, grid) - 1) < 0.05


def test_an_exception_in_the_hvp_is_raised():
    def hvp(v):
        raise ZeroDivisionError("boom")

    with pytest.raises(ZeroDivisionError, match="boom"):
        H.top_eigenvalues(hvp, 10, k=1, steps=5)
    with pytest.raises(ValueError, match="returned 3 values"):
        H.trace(lambda v: v[:3], 10, matvecs=6)
    with pytest.raises(ValueError):
        H.top_eigenvalues(lambda v: v, 10, k=5, steps=3)


def test_dynamic_mfac_inverts_the_damped_empirical_fisher():
    rng = np.random.default_rng(0)
    d, m, lam = 50, 8, 1e-2
    mfac = ritz.DynamicMfac(d, m, damping=lam)
    grads = rng.standard_normal((12, d))
    for g in grads:
        mfac.update(g)
    assert len(mfac) == m and mfac.dim == d
    G = grads[-m:]
    F = lam * np.eye(d) + G.T @ G / m
    x = rng.standard_normal(d)
    np.testing.assert_allclose(mfac.ihvp(x), np.linalg.solve(F, x), rtol=1e-8, atol=1e-10)
    with pytest.raises(ValueError):
        mfac.update(np.ones(d + 1))
    with pytest.raises(ValueError):
        ritz.DynamicMfac(d, m, damping=-1.0)


def test_a_window_beyond_memory_is_a_memory_error():
    with pytest.raises(MemoryError):
        ritz.DynamicMfac(10**9, 10**5)
