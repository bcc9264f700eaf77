#!/usr/bin/env python3
"""Regenerate the classification datasets in this directory.

Writes, next to this script:
  breast_cancer.csv  569 rows; header = 30 snake_case feature names, then
                     `label` (0 = malignant, 1 = benign, as in scikit-learn).
                     Features are written with Python's shortest exact float
                     repr, which reproduces the short decimals of the source.
  digits.csv         1797 rows; header = p0..p63, then `label` (0..9).
                     Pixels are integers 0..16 (8x8 image, row-major).

No index column, comma separated, '\n' line endings. Output is deterministic
(no randomness, no shuffling; rows are in scikit-learn's order).

Both datasets are bundled inside the scikit-learn wheel, so no network access
is needed. Produced with scikit-learn 1.9.1 (numpy 2.4.6, Python 3.11). To
rerun, from any directory:

    python3 -m venv /tmp/skvenv
    /tmp/skvenv/bin/pip install scikit-learn
    /tmp/skvenv/bin/python path/to/make_data.py

Provenance, licences, class counts and checksums: see README.md here.
"""

import math
import re
from pathlib import Path

from sklearn.datasets import load_breast_cancer, load_digits

OUT = Path(__file__).resolve().parent


def snake(name: str) -> str:
    s = re.sub(r"[^0-9a-zA-Z]+", "_", str(name).strip().lower()).strip("_")
    assert s and s.isascii(), name
    return s


def write_csv(path: Path, header, rows) -> None:
    with open(path, "w", encoding="ascii", newline="\n") as f:
        f.write(",".join(header) + "\n")
        for row in rows:
            f.write(",".join(row) + "\n")


def breast_cancer() -> None:
    ds = load_breast_cancer()
    X, y = ds.data, ds.target
    assert X.shape == (569, 30) and y.shape == (569,)
    assert list(ds.target_names) == ["malignant", "benign"]
    header = [snake(n) for n in ds.feature_names] + ["label"]
    assert len(set(header)) == len(header)
    rows = []
    for xi, yi in zip(X, y):
        vals = [float(v) for v in xi]
        assert all(math.isfinite(v) for v in vals)
        assert int(yi) in (0, 1)
        rows.append([repr(v) for v in vals] + [str(int(yi))])
    write_csv(OUT / "breast_cancer.csv", header, rows)


def digits() -> None:
    ds = load_digits()
    X, y = ds.data, ds.target
    assert X.shape == (1797, 64) and y.shape == (1797,)
    header = [f"p{j}" for j in range(64)] + ["label"]
    rows = []
    for xi, yi in zip(X, y):
        ints = [int(v) for v in xi]
        assert all(float(a) == float(v) and 0 <= a <= 16 for a, v in zip(ints, xi))
        assert 0 <= int(yi) <= 9
        rows.append([str(a) for a in ints] + [str(int(yi))])
    write_csv(OUT / "digits.csv", header, rows)


if __name__ == "__main__":
    breast_cancer()
    digits()
