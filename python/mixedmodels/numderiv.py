"""Finite-difference derivatives with Richardson extrapolation (as R's numDeriv, which lmerTest uses)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["hessian", "jacobian"]


FloatArray = NDArray[np.float64]


def _steps(x: FloatArray, d: float, eps: float) -> FloatArray:
    return np.where(np.abs(x) < 1.78e-5, eps, d * np.abs(x))  # numDeriv: zero.tol = sqrt(eps / 7e-7)


def _pair(f: Callable[[FloatArray], Any], x: FloatArray, i: int, h: float) -> tuple[FloatArray, FloatArray]:
    """f(x + h e_i), f(x - h e_i)."""
    up, dn = x.copy(), x.copy()
    up[i] += h
    dn[i] -= h
    return np.asarray(f(up), dtype=float), np.asarray(f(dn), dtype=float)


def _richardson(values: list[Any], r: int) -> Any:
    """values[k] computed with step h / 2^k, error O(h^2): extrapolate to h -> 0."""
    a = list(values)
    for m in range(1, r):
        f = 4.0**m
        a = [(f * a[k + 1] - a[k]) / (f - 1.0) for k in range(len(a) - 1)]
    return a[0]


def jacobian(
    f: Callable[[FloatArray], FloatArray], x: FloatArray, d: float = 0.1, eps: float = 1e-4, r: int = 4
) -> FloatArray:
    """Jacobian of a vector function: central differences at steps h, h/2, ... with Richardson.

    Returns an array of shape f(x).shape + (len(x),).

    Examples
    --------
    >>> jacobian(lambda v: np.array([v[0] ** 2, v[0] * v[1]]), np.array([3.0, 2.0])).round(8).tolist()
    [[6.0, 0.0], [2.0, 3.0]]
    """
    x = np.asarray(x, dtype=float)
    h0 = _steps(x, d, eps)
    cols = []
    for i in range(x.shape[0]):
        vals = []
        for k in range(r):
            h = h0[i] / 2**k
            fu, fd = _pair(f, x, i, h)
            vals.append((fu - fd) / (2 * h))
        cols.append(_richardson(vals, r))
    return np.stack(cols, axis=-1)


def hessian(
    f: Callable[[FloatArray], float], x: FloatArray, d: float = 0.1, eps: float = 1e-4, r: int = 4
) -> FloatArray:
    """Hessian of a scalar function by central second differences with Richardson extrapolation.

    Examples
    --------
    >>> hessian(lambda v: v[0] ** 2 * v[1] + np.exp(v[1]), np.array([1.0, 0.5])).round(5).tolist()
    [[1.0, 2.0], [2.0, 1.64872]]
    """
    x = np.asarray(x, dtype=float)
    m = x.shape[0]
    h0 = _steps(x, d, eps)
    f0 = f(x)
    out = np.zeros((m, m))
    for i in range(m):
        vals = []
        for k in range(r):
            h = h0[i] / 2**k
            fu, fd = _pair(f, x, i, h)
            vals.append(float(fu - 2 * f0 + fd) / (h * h))
        out[i, i] = _richardson(vals, r)
        for j in range(i):
            vals = []
            for k in range(r):
                hi, hj = h0[i] / 2**k, h0[j] / 2**k
                pts = []
                for si, sj in ((1, 1), (1, -1), (-1, 1), (-1, -1)):
                    z = x.copy()
                    z[i] += si * hi
                    z[j] += sj * hj
                    pts.append(f(z))
                vals.append((pts[0] - pts[1] - pts[2] + pts[3]) / (4 * hi * hj))
            out[i, j] = out[j, i] = _richardson(vals, r)
    return out
