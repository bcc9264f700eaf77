"""The smoke simulator stepped from Python."""

import numpy as np
import pytest

import ritz


def test_frames_project_the_velocity():
    sim = ritz.Smoke.sphere(32, dim=2)
    solver = ritz.Solver("mgpcg", sim.problem)
    for k in range(3):
        r = sim.step(solver)
        assert r["frame"] == k + 1
        assert r["divergence_after"] <= 1e-5 * max(r["divergence_before"], 1e-300)
    assert sim.density.shape == (32, 32) and sim.density.sum() > 0
    assert sim.velocity(0).shape == (33, 32) and sim.velocity(1).shape == (32, 33)
    assert sim.pressure.shape == (32, 32)


def test_a_custom_domain_and_a_mismatched_solver():
    flags = np.zeros((24, 16, 16), np.int8)
    flags[10:14, 4:12, 4:12] = 1  # a solid slab
    sim = ritz.Smoke(flags, walls="open-top", source=[0.1, 0.5, 0.5])
    solver = ritz.Solver("mic0", sim.problem)
    assert sim.step(solver)["iterations"] > 0
    other = ritz.Solver("mic0", ritz.Poisson(np.zeros((24, 16, 16), np.int8)))
    with pytest.raises(ValueError, match="not built on this simulation"):
        sim.step(other)
    with pytest.raises(ValueError, match="air"):
        ritz.Smoke(np.full((8, 8), 2, np.int8))
