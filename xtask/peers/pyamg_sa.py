"""PyAMG smoothed-aggregation AMG with CG acceleration on an exported ritz problem (peer for
`cargo xtask bench --peers`).

Usage: pyamg_sa.py A.mtx b.npy RTOL MAXITER  -> prints one JSON object on stdout.
PyAMG's stop test is ||r_k|| <= tol * ||r_0||; with x0 = 0 that is ritz's ||r|| <= tol * ||b||.
"""
import json
import time

import numpy as np
import pyamg

from exported import load_from_argv


def main():
    a, b, rtol, maxiter, load_s = load_from_argv()
    t0 = time.perf_counter()
    ml = pyamg.smoothed_aggregation_solver(a, symmetry="symmetric")
    setup_s = time.perf_counter() - t0
    residuals = []
    t0 = time.perf_counter()
    x = ml.solve(b, x0=np.zeros_like(b), tol=rtol, maxiter=maxiter, accel="cg", residuals=residuals)
    solve_s = time.perf_counter() - t0
    rel = float(np.linalg.norm(b - a @ x) / np.linalg.norm(b))
    print(json.dumps({
        "solver": "pyamg-sa",
        "version": pyamg.__version__,
        "iterations": len(residuals) - 1,
        "load_s": load_s,
        "setup_s": setup_s,
        "solve_s": solve_s,
        "true_relative_residual": rel,
    }))


if __name__ == "__main__":
    main()
