"""SciPy conjugate gradients on an exported ritz problem (peer / oracle for `cargo xtask bench`).

Usage: scipy_cg.py A.mtx b.npy RTOL MAXITER  -> prints one JSON object on stdout.
The stop test is SciPy's: ||r|| <= max(rtol * ||b||, atol) with atol = 0, as ritz's CG.
"""
import json
import time

import numpy as np
import scipy
import scipy.sparse.linalg as sla

from exported import load_from_argv


def main():
    a, b, rtol, maxiter, load_s = load_from_argv()
    iters = [0]

    def count(_xk):
        iters[0] += 1

    t0 = time.perf_counter()
    x, info = sla.cg(a, b, rtol=rtol, atol=0.0, maxiter=maxiter, callback=count)
    solve_s = time.perf_counter() - t0
    rel = float(np.linalg.norm(b - a @ x) / np.linalg.norm(b))
    if info < 0:
        raise SystemExit(f"scipy cg failed: info = {info}")
    print(json.dumps({
        "solver": "scipy-cg",
        "version": scipy.__version__,
        "iterations": iters[0],
        "load_s": load_s,
        "setup_s": 0.0,
        "solve_s": solve_s,
        "true_relative_residual": rel,
    }))


if __name__ == "__main__":
    main()
