"""An independent dense evaluation of the profiled criterion of a stress design, from its data
frame (numpy only: Z, Lambda and X formed explicitly, one dense QR factorisation), to confirm that a
better point the brute-force search found is better by the textbook formula as well as by the
engine's ``model.objective``."""

from __future__ import annotations

import contextlib
import ctypes
import functools
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from .designs import Design, level_codes


@functools.cache
def _openblas() -> tuple[ctypes.CDLL, str] | None:
    """The OpenBLAS that numpy's wheel bundles and the suffix of its thread-count functions (None
    when there is none)."""
    for path in sorted((Path(np.__file__).parent.parent / "numpy.libs").glob("libscipy_openblas*.so")):
        lib = ctypes.CDLL(str(path))
        for suffix in ("64_", ""):
            if hasattr(lib, f"scipy_openblas_set_num_threads{suffix}"):
                return lib, suffix
    return None


@contextlib.contextmanager
def single_threaded_blas() -> Iterator[None]:
    """numpy's BLAS on one thread for the block (restored after): the small factorisations here run
    ~70x slower on a busy machine when OpenBLAS spreads them over threads."""
    found = _openblas()
    if found is None:
        yield
        return
    lib, suffix = found
    before = int(getattr(lib, f"scipy_openblas_get_num_threads{suffix}")())
    getattr(lib, f"scipy_openblas_set_num_threads{suffix}")(1)
    try:
        yield
    finally:
        getattr(lib, f"scipy_openblas_set_num_threads{suffix}")(before)


def dense_objective(design: Design, names: Sequence[str], theta: np.ndarray) -> float:
    """The REML criterion (REML designs) or -2 log-likelihood of the design at theta, whose entries
    are named as ``model.structure.theta.names`` (``group.column`` on a diagonal,
    ``group.row.column`` below it)."""
    df = design.data
    y = df["y"].to_numpy(dtype=float)
    n = y.size
    x = np.column_stack([np.ones(n) if c == "1" else df[c].to_numpy(dtype=float) for c in design.fixed])
    blocks: dict[str, dict[tuple[str, str], float]] = {}
    for name, value in zip(names, np.asarray(theta, dtype=float).tolist(), strict=True):
        group, *cols = name.split(".")
        row, col = (cols[0], cols[0]) if len(cols) == 1 else (cols[0], cols[1])
        blocks.setdefault(group, {})[(row, col)] = value
    zl_parts = []
    for group, entries in blocks.items():
        columns = sorted({c for rc in entries for c in rc}, key=lambda c: (c != "(Intercept)", c))
        k = len(columns)
        t = np.zeros((k, k))
        for (r, c), v in entries.items():
            t[columns.index(r), columns.index(c)] = v
        codes = level_codes(df, group)
        nlev = int(codes.max()) + 1
        zcols = np.column_stack([np.ones(n) if c == "(Intercept)" else df[c].to_numpy(dtype=float) for c in columns])
        zt = zcols @ t  # row i of Z Lambda for its level: z_i' T
        part = np.zeros((n, nlev * k))
        for m in range(k):
            part[np.arange(n), codes * k + m] = zt[:, m]
        zl_parts.append(part)
    zl = np.hstack(zl_parts)
    q, p = zl.shape[1], x.shape[1]
    # [Z Lambda, X, y] over [I, 0, 0]: its R factor is the Cholesky factor of the penalised
    # cross-products (up to signs), without forming them (so extreme scales cost no precision)
    w = np.vstack([np.hstack([zl, x, y[:, None]]), np.hstack([np.eye(q), np.zeros((q, p + 1))])])
    with single_threaded_blas():
        d = np.abs(np.diag(np.linalg.qr(w, mode="r")))
    ldl2 = 2 * np.log(d[:q]).sum()
    ldrx2 = 2 * np.log(d[q : q + p]).sum()
    pwrss = d[-1] ** 2
    if design.reml:
        return float(ldl2 + ldrx2 + (n - p) * (1 + np.log(2 * np.pi * pwrss / (n - p))))
    return float(ldl2 + n * (1 + np.log(2 * np.pi * pwrss / n)))
