"""Optimal transport against POT on the same inputs (POT's defaults: 1000 iterations)."""

import warnings

import numpy as np
import ot as pot
import pytest

import ritz
import ritz.ot


def problem(n, m, seed):
    rng = np.random.default_rng(seed)
    x, y = rng.standard_normal((n, 2)), rng.standard_normal((m, 2)) + 0.5
    a, b = rng.uniform(0.5, 1.5, n), rng.uniform(0.5, 1.5, m)
    a /= a.sum()
    b /= b.sum()
    M = ((x[:, None, :] - y[None, :, :]) ** 2).sum(-1)
    return a, b, M / M.max()


@pytest.mark.parametrize("seed", range(4))
def test_emd_cost_equals_pots(seed):
    a, b, M = problem(60, 45, seed)
    cost = ritz.emd2(a, b, M)
    assert abs(cost - pot.emd2(a, b, M)) <= 1e-9
    G, log = ritz.emd(a, b, M, log=True)
    assert abs(log["cost"] - cost) <= 1e-12 and log["warning"] is None
    np.testing.assert_allclose(G.sum(1), a, atol=1e-12)
    np.testing.assert_allclose(G.sum(0), b, atol=1e-12)
    # Dual feasibility and complementary slackness of the potentials.
    slack = M - log["u"][:, None] - log["v"][None, :]
    assert slack.min() >= -1e-9 and np.abs(slack[G > 1e-14]).max() <= 1e-9


@pytest.mark.parametrize("method", ["sinkhorn_log", "sinkhorn", "sinkhorn_stabilized"])
def test_sinkhorn_plans_match_pots(method):
    a, b, M = problem(50, 40, 7)
    reg, thr = 0.05, 1e-12
    P = ritz.sinkhorn(a, b, M, reg, method=method, stopThr=thr)
    Q = pot.sinkhorn(a, b, M, reg, method=method, stopThr=thr)
    assert np.abs(P - Q).max() <= 1e-8
    assert abs(ritz.sinkhorn2(a, b, M, reg, method=method, stopThr=thr) - float(np.sum(Q * M))) <= 1e-8


def test_sns_reaches_the_same_plan_in_few_newton_steps():
    a, b, M = problem(80, 80, 3)
    reg = 0.01
    Q = pot.sinkhorn(a, b, M, reg, method="sinkhorn_log", stopThr=1e-13, numItermax=100_000)
    P, log = ritz.sinkhorn(a, b, M, reg, method="sns", stopThr=1e-12, log=True)
    assert np.abs(P - Q).max() <= 1e-8
    assert log["newton_iterations"] <= 50 and log["stop"] == "converged"
    np.testing.assert_allclose(P, np.exp(log["log_u"][:, None] - M / reg + log["log_v"][None, :]), atol=1e-12)


def test_pot_conventions_uniform_marginals_and_warnings():
    _, _, M = problem(10, 12, 1)
    G = ritz.emd([], [], M)
    np.testing.assert_allclose(G.sum(1), np.full(10, 0.1), atol=1e-12)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        ritz.sinkhorn([], [], M, 1e-3, numItermax=3)
    assert any("did not converge" in str(x.message) for x in w)
    _, log = ritz.sinkhorn([], [], M, 0.1, log=True)
    assert {"niter", "err", "u", "v"} <= set(log)


def test_bad_ot_inputs():
    a, b, M = problem(5, 4, 0)
    with pytest.raises(ValueError, match="negative"):
        ritz.emd(-a, b, M)
    with pytest.raises(ValueError, match="mass"):
        ritz.emd(a, 2 * b, M)
    with pytest.raises(ValueError, match="shape"):
        ritz.emd(a, b, M[:, :3])
    with pytest.raises(ValueError, match="unknown method"):
        ritz.sinkhorn(a, b, M, 0.1, method="greenkhorn")
    bad = M.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError):
        ritz.sinkhorn(a, b, bad, 0.1)
