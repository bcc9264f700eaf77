"""POT's exact solver (network simplex) on an exported ritz OT problem (peer for `cargo xtask bench --suite ot`).

Usage: pot_emd.py COST.npy A.npy B.npy NUM_ITER_MAX REPEAT  -> prints one JSON object on stdout.

Runs `ot.emd(a, b, cost, numItermax=NUM_ITER_MAX, log=True)` REPEAT times (numThreads at its
default, 1: one thread) and times only that call (time.perf_counter); reports the median and
every time. POT's default iteration limit (100000) returns a non-optimal plan with only a
warning, so the caller passes a large limit and this script reports log["result_code"]
(1 = optimal) and any warning text: the run counts as optimal only with result code 1.
"""
import json
import sys
import time
import warnings

import numpy as np
import ot


def main():
    if len(sys.argv) != 6:
        raise SystemExit("usage: pot_emd.py COST.npy A.npy B.npy NUM_ITER_MAX REPEAT")
    cost = np.ascontiguousarray(np.load(sys.argv[1]), dtype=np.float64)
    a = np.ascontiguousarray(np.load(sys.argv[2]), dtype=np.float64).reshape(-1)
    b = np.ascontiguousarray(np.load(sys.argv[3]), dtype=np.float64).reshape(-1)
    max_iters = int(float(sys.argv[4]))
    repeat = int(sys.argv[5])
    if cost.shape != (a.size, b.size):
        raise SystemExit(f"shape mismatch: cost {cost.shape}, a {a.shape}, b {b.shape}")
    if repeat < 1:
        raise SystemExit("REPEAT must be >= 1")
    times = []
    caught = []
    for _ in range(repeat):
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            t0 = time.perf_counter()
            plan, log = ot.emd(a, b, cost, numItermax=max_iters, log=True)
            times.append(time.perf_counter() - t0)
            caught = [str(x.message) for x in w]
    plan = np.asarray(plan, dtype=np.float64)
    marginal_error = float(np.abs(plan.sum(axis=1) - a).sum() + np.abs(plan.sum(axis=0) - b).sum())
    print(json.dumps({
        "solver": "pot-emd",
        "version": ot.__version__,
        "threads": 1,
        "num_iter_max": max_iters,
        "seconds": float(np.median(times)),
        "all_seconds": times,
        "transport_cost": float(log["cost"]),
        "result_code": int(log["result_code"]),
        "warning": log.get("warning") or "; ".join(caught) or None,
        "nnz": int(np.count_nonzero(plan)),
        "marginal_error_l1": marginal_error,
    }))


if __name__ == "__main__":
    main()
