"""ritz from Python: a pressure-Poisson solve on a grid of your own, next to SciPy, and
optimal transport next to POT.

    pip install ./crates/python scipy POT matplotlib
    python crates/python/examples/quickstart.py [--n 128] [--out convergence.png]

Builds a 2D "city block" (solid buildings in an open-top box, a geometry the learned solver
never saw in training), solves it with MGPCG, MIC(0), the learned stencil V-net and plain CG,
and with SciPy's CG (with and without ritz's V-cycle as its M=), plots the residual histories,
then compares ritz.emd / ritz.sinkhorn with POT on one problem.
"""

import argparse
import time

import numpy as np
import scipy.sparse.linalg as spla

import ritz


def city_block(n: int, seed: int = 0) -> np.ndarray:
    """Buildings of random footprint and height on the floor of an n x n box (axis 0 is up)."""
    rng = np.random.default_rng(seed)
    flags = np.zeros((n, n), np.int8)
    x = 2
    while x < n - 4:
        w = int(rng.integers(n // 32 + 2, n // 12 + 3))
        h = int(rng.integers(n // 8, n // 2))
        flags[:h, x : x + w] = 1
        x += w + int(rng.integers(2, n // 16 + 3))
    return flags


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=256)
    ap.add_argument("--tol", type=float, default=1e-8)
    ap.add_argument("--out", default="convergence.png")
    args = ap.parse_args()

    problem = ritz.Poisson(city_block(args.n), walls="open-top")
    b = problem.rhs("smooth", seed=0)
    print(f"{problem}: {problem.num_fluid} unknowns")
    histories = {}
    print(f"{'solver':<22}{'iters':>7}{'setup s':>10}{'solve s':>10}  stop")
    for name in ["mgpcg", "mic0", "learned", "cg"]:
        solver = ritz.Solver(name, problem, tol=args.tol)
        x, info = solver.solve(b)
        histories[f"ritz {name}"] = info["residuals"]
        print(f"{'ritz ' + name:<22}{info['iterations']:>7}{info['setup_seconds']:>10.4f}"
              f"{info['solve_seconds']:>10.4f}  {info['stop']}")

    A, bc = problem.matrix(), problem.to_compact(b)
    bnorm = np.linalg.norm(bc)
    for label, M in [("scipy cg", None), ("scipy cg + ritz M", ritz.Solver("mgpcg-f64", problem).preconditioner())]:
        res = [1.0]
        t = time.perf_counter()
        x, code = spla.cg(A, bc, M=M, rtol=args.tol, maxiter=20000,
                          callback=lambda xk: res.append(np.linalg.norm(bc - A @ xk) / bnorm))
        seconds = time.perf_counter() - t
        histories[label] = np.array(res)
        print(f"{label:<22}{len(res) - 1:>7}{'':>10}{seconds:>10.4f}  {'converged' if code == 0 else code}")

    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7, 4.5))
        for label, h in histories.items():
            ax.semilogy(h, "--" if label.startswith("scipy") else "-", label=label)
        ax.set_xlabel("iteration")
        ax.set_ylabel("||r|| / ||b||")
        ax.set_title(f"city block {args.n}x{args.n}, open top")
        ax.legend()
        fig.tight_layout()
        fig.savefig(args.out, dpi=120)
        print(f"wrote {args.out}")
    except ImportError:
        print("matplotlib not installed: no plot")

    rng = np.random.default_rng(1)
    xs, ys = rng.standard_normal((400, 2)), rng.standard_normal((300, 2)) + 1.0
    a, bb = np.full(400, 1 / 400), np.full(300, 1 / 300)
    M = ((xs[:, None] - ys[None]) ** 2).sum(-1)
    M /= M.max()
    t = time.perf_counter()
    ours = ritz.emd2(a, bb, M)
    t_ours = time.perf_counter() - t
    try:
        import ot

        t = time.perf_counter()
        theirs = ot.emd2(a, bb, M)
        t_pot = time.perf_counter() - t
        print(f"emd2: ritz {ours:.12f} in {t_ours:.3f} s, POT {theirs:.12f} in {t_pot:.3f} s")
        P = ritz.sinkhorn(a, bb, M, 0.01, method="sinkhorn_log", stopThr=1e-10)
        Q = ot.sinkhorn(a, bb, M, 0.01, method="sinkhorn_log", stopThr=1e-10)
        print(f"sinkhorn_log plans: max |ritz - POT| = {np.abs(P - Q).max():.2e}")
    except ImportError:
        print(f"emd2: ritz {ours:.12f} in {t_ours:.3f} s (POT not installed)")


if __name__ == "__main__":
    main()
