"""The cost of calling ritz from Python: one MGPCG solve of a 128^3 scene, timed around the
Python call and inside Rust (``info["solve_seconds"]``, the same clock ``cargo xtask bench``
reports), and whether the right-hand side and solution are copied.

    python crates/python/examples/overhead.py [--n 128] [--repeat 7] [--out overhead.json]

Build the package with ``--release`` first (``pip install ./crates/python`` does).
"""

import argparse
import json
import statistics
import time

import numpy as np

import ritz


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=128)
    ap.add_argument("--scene", default="spheres")
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()

    problem = ritz.Poisson.scene(args.scene, args.n, dim=3, seed=0)
    b = problem.rhs("smooth", seed=0)
    solver = ritz.Solver("mgpcg", problem, tol=1e-6)
    solver.solve(b)  # warm-up: first touches of the scratch
    wall, inner, iters = [], [], []
    for _ in range(args.repeat):
        t = time.perf_counter()
        x, info = solver.solve(b)
        wall.append(time.perf_counter() - t)
        inner.append(info["solve_seconds"])
        iters.append(info["iterations"])
    # Zero copies: b is read in place (a C-contiguous float64 array is passed through as is)
    # and x is the array the solver wrote (fresh, owning its data, nothing else refers to it).
    same_b = ritz._convert.np.ascontiguousarray(b, dtype=np.float64) is b
    report = {
        "scene": args.scene,
        "n": args.n,
        "unknowns": problem.num_fluid,
        "iterations": iters[0],
        "python_wall_s_median": statistics.median(wall),
        "rust_solve_s_median": statistics.median(inner),
        "overhead_ratio": statistics.median(w / i for w, i in zip(wall, inner)),
        "rhs_passed_without_copy": same_b,
        "solution_owns_its_data": bool(x.flags.owndata and x.flags.c_contiguous),
        "setup_s": solver.setup_seconds,
    }
    print(json.dumps(report, indent=2))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(report, f, indent=2)


if __name__ == "__main__":
    main()
