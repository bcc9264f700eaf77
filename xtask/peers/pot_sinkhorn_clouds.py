"""POT's log-domain Sinkhorn on a point-cloud folder (peer for `cargo xtask bench --suite ot --ot-on-the-fly --peers`).

Usage: pot_sinkhorn_clouds.py DIR METRIC SCALE REG STOP_THR MAX_ITERS  -> one JSON object on stdout.

Reads DIR/X.npy, DIR/Y.npy and the optional weights DIR/a.npy, DIR/b.npy (uniform when
absent; normalized to mass 1 like ritz does), builds the dense cost ot.dist(X, Y, metric)
(divided by its maximum when SCALE is "max") and runs
    ot.sinkhorn(a, b, C, REG, method="sinkhorn_log", numItermax=MAX_ITERS, stopThr=STOP_THR, log=True)
timing the cost construction and the solve apart (time.perf_counter). POT keeps the n x m cost
and its temporaries in memory: the peak resident set (ru_maxrss) is reported with the rest.
Iterations = log["niter"] + 1 (see pot_sinkhorn.py).
"""
import json
import os
import resource
import sys
import time
import warnings

import numpy as np
import ot


def weights(path, count):
    if not os.path.exists(path):
        return np.full(count, 1.0 / count)
    w = np.ascontiguousarray(np.load(path), dtype=np.float64).reshape(-1)
    total = w.sum()
    return w / total if abs(total - 1.0) > 1e-12 else w


def main():
    if len(sys.argv) != 7:
        raise SystemExit("usage: pot_sinkhorn_clouds.py DIR METRIC SCALE REG STOP_THR MAX_ITERS")
    d, metric, scale = sys.argv[1], sys.argv[2], sys.argv[3]
    reg, stop_thr, max_iters = float(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6])
    x = np.ascontiguousarray(np.load(os.path.join(d, "X.npy")), dtype=np.float64)
    y = np.ascontiguousarray(np.load(os.path.join(d, "Y.npy")), dtype=np.float64)
    a = weights(os.path.join(d, "a.npy"), x.shape[0])
    b = weights(os.path.join(d, "b.npy"), y.shape[0])
    b = b * (a.sum() / b.sum())
    t0 = time.perf_counter()
    cost = ot.dist(x, y, metric=metric)
    if scale == "max":
        cost /= cost.max()
    cost_seconds = time.perf_counter() - t0
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sinkhorn did not converge")
        t0 = time.perf_counter()
        plan, log = ot.sinkhorn(a, b, cost, reg, method="sinkhorn_log",
                                numItermax=max_iters, stopThr=stop_thr, log=True)
        seconds = time.perf_counter() - t0
    iterations = int(log["niter"]) + 1
    marginal_error = float(np.abs(plan.sum(axis=1) - a).sum() + np.abs(plan.sum(axis=0) - b).sum())
    print(json.dumps({
        "solver": "pot-sinkhorn_log",
        "version": ot.__version__,
        "n": int(x.shape[0]),
        "m": int(y.shape[0]),
        "iterations": iterations,
        "cost_seconds": cost_seconds,
        "seconds": seconds,
        "seconds_per_iteration": seconds / iterations,
        "marginal_error_l1": marginal_error,
        "transport_cost": float(np.sum(plan * cost)),
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }))


if __name__ == "__main__":
    main()
