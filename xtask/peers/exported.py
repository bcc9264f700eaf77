"""Shared loading of an exported ritz problem (A.mtx, b.npy) for the Python peers."""
import sys
import time

import numpy as np
import scipy.io


def load_from_argv():
    """Parses `A.mtx b.npy RTOL MAXITER`; returns (A as CSR, b, rtol, maxiter, load seconds)."""
    mtx, rhs, rtol, maxiter = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
    t0 = time.perf_counter()
    a = scipy.io.mmread(mtx).tocsr()
    b = np.load(rhs).astype(np.float64).ravel()
    return a, b, rtol, maxiter, time.perf_counter() - t0
