"""POT log-domain Sinkhorn on an exported ritz OT problem (peer for `cargo xtask bench`).

Usage: pot_sinkhorn.py COST.npy A.npy B.npy REG STOP_THR MAX_ITERS  -> prints one JSON object on stdout.

COST is a float64 n x m matrix, A (n) and B (m) float64 histograms. Runs
    ot.sinkhorn(a, b, cost, reg, method="sinkhorn_log", numItermax=MAX_ITERS,
                stopThr=STOP_THR, log=True)
and times only that call (time.perf_counter).

POT's sinkhorn_log (POT 0.9.x) per iteration does v = log b - LSE_i(-C/reg + u),
then u = log a - LSE_j(-C/reg + v), so the row marginal is exact after every
iteration. At iteration index ii = 0, 10, 20, ... it appends to log["err"] the
stop criterion ||P^T 1 - b||_2 (L2 norm of the column-marginal violation) and
stops when it is < STOP_THR. log["niter"] is the 0-based index of the last
iteration run, so the number of iterations performed is log["niter"] + 1; that
is what "iterations" reports ("pot_niter" is the raw value). error_history[k]
is the criterion after 10 k + 1 iterations.
"""
import json
import sys
import time
import warnings

import numpy as np
import ot


def main():
    if len(sys.argv) != 7:
        raise SystemExit("usage: pot_sinkhorn.py COST.npy A.npy B.npy REG STOP_THR MAX_ITERS")
    cost = np.ascontiguousarray(np.load(sys.argv[1]), dtype=np.float64)
    a = np.ascontiguousarray(np.load(sys.argv[2]), dtype=np.float64).reshape(-1)
    b = np.ascontiguousarray(np.load(sys.argv[3]), dtype=np.float64).reshape(-1)
    reg = float(sys.argv[4])
    stop_thr = float(sys.argv[5])
    max_iters = int(sys.argv[6])
    if cost.shape != (a.size, b.size):
        raise SystemExit(f"shape mismatch: cost {cost.shape}, a {a.shape}, b {b.shape}")
    if max_iters < 1:
        raise SystemExit("MAX_ITERS must be >= 1")

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sinkhorn did not converge")
        t0 = time.perf_counter()
        plan, log = ot.sinkhorn(a, b, cost, reg, method="sinkhorn_log",
                                numItermax=max_iters, stopThr=stop_thr, log=True)
        seconds = time.perf_counter() - t0

    plan = np.asarray(plan, dtype=np.float64)
    iterations = int(log["niter"]) + 1
    marginal_error = float(np.abs(plan.sum(axis=1) - a).sum() + np.abs(plan.sum(axis=0) - b).sum())
    print(json.dumps({
        "solver": "pot-sinkhorn_log",
        "version": ot.__version__,
        "iterations": iterations,
        "pot_niter": int(log["niter"]),
        "seconds": seconds,
        "seconds_per_iteration": seconds / iterations,
        "marginal_error_l1": marginal_error,
        "transport_cost": float(np.sum(plan * cost)),
        "error_history": [float(e) for e in log["err"]],
        "error_every": 10,
    }))


if __name__ == "__main__":
    main()
