"""R's regression splines, as ``splines::bs`` and ``splines::ns`` compute them: the B-spline basis
(de Boor's recursion, R's ``splineDesign``), the interior knots at R's type-7 quantiles of the data,
the natural-spline constraints (second derivatives zero at the boundary knots) removed with the
Householder QR of R's ``qr()``, and R's extrapolation beyond the boundary knots (the boundary
pieces' polynomials for ``bs``, straight lines for ``ns``).

The knots are learned from the rows a model is fitted to (`spline_knots`), as R learns them, and
replayed on new data (R's ``makepredictcall``); streamed data learns them from the distinct values
and their counts over all chunks (the same order statistics, so the same knots).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["bs_basis", "interior_count", "ns_basis", "spline_knots", "spline_design"]

FloatArray = NDArray[np.float64]


def spline_design(knots: ArrayLike, x: ArrayLike, order: int = 4, deriv: int = 0) -> FloatArray:
    """R's ``splineDesign(knots, x, ord = order, derivs = deriv, outer.ok = TRUE)`` for points
    inside the boundary knots: the B-spline basis (or its ``deriv``-th derivative) at each x, one
    column per basis function (``len(knots) - order`` of them). A point outside the boundary knots
    gets the polynomial of the nearest interval, which is how ``bs`` extrapolates.

    Examples
    --------
    >>> spline_design([0, 0, 0, 1, 2, 2, 2], [0.0, 1.0, 2.0], order=3).round(3).tolist()
    [[1.0, 0.0, 0.0, 0.0], [0.0, 0.5, 0.5, 0.0], [0.0, 0.0, 0.0, 1.0]]
    """
    t = np.asarray(knots, dtype=np.float64)
    xs = np.asarray(x, dtype=np.float64).reshape(-1)
    nbasis = t.shape[0] - order
    if nbasis < 1:
        raise ValueError("too few knots for the order of the spline")
    if not 0 <= deriv < order:
        return np.zeros((xs.shape[0], nbasis))
    # the interval t[mu] <= x < t[mu + 1] (the last one closed), clamped to the boundary intervals
    mu = np.searchsorted(t, xs, side="right") - 1
    mu = np.clip(mu, order - 1, nbasis - 1)
    b = np.zeros((xs.shape[0], t.shape[0] - 1))
    b[np.arange(xs.shape[0]), mu] = 1.0
    low = order - deriv  # values up to this order, then the derivative recursion
    for k in range(2, low + 1):
        b = _raise_order(b, t, xs, k)
    for k in range(low + 1, order + 1):
        b = _differentiate(b, t, k)
    out = b[:, :nbasis]
    out[np.isnan(xs)] = np.nan
    return out


def _ratio(num: FloatArray, den: FloatArray) -> FloatArray:
    """num / den, 0 where den is 0 (de Boor's convention for repeated knots)."""
    safe = np.where(den == 0.0, 1.0, den)
    return np.where(den == 0.0, 0.0, num / safe)


def _raise_order(b: FloatArray, t: FloatArray, x: FloatArray, k: int) -> FloatArray:
    """The B-splines of order k from those of order k - 1 (Cox and de Boor)."""
    m = t.shape[0] - k
    left = _ratio(x[:, None] - t[None, :m], (t[k - 1 : k - 1 + m] - t[:m])[None, :])
    right = _ratio(t[None, k : k + m] - x[:, None], (t[k : k + m] - t[1 : 1 + m])[None, :])
    return left * b[:, :m] + right * b[:, 1 : 1 + m]


def _differentiate(b: FloatArray, t: FloatArray, k: int) -> FloatArray:
    """The derivative of the B-splines of order k from (the derivatives of) those of order k - 1."""
    m = t.shape[0] - k
    left = _ratio(np.full(m, k - 1.0), t[k - 1 : k - 1 + m] - t[:m])
    right = _ratio(np.full(m, k - 1.0), t[k : k + m] - t[1 : 1 + m])
    return left[None, :] * b[:, :m] - right[None, :] * b[:, 1 : 1 + m]


def _quantiles(values: FloatArray, counts: FloatArray, probs: FloatArray) -> FloatArray:
    """R's ``quantile(x, probs, type = 7)`` of the data whose sorted distinct values are ``values``
    with multiplicities ``counts``: the same order statistics and arithmetic as R's."""
    n = int(round(float(counts.sum())))
    cum = np.cumsum(counts)  # value k covers the order statistics cum[k-1] + 1 .. cum[k] (1-based)

    def order_statistic(i: NDArray[np.int64]) -> FloatArray:
        return values[np.searchsorted(cum, i, side="left")]

    index = 1 + (n - 1) * probs
    lo = np.floor(index).astype(np.int64)
    hi = np.ceil(index).astype(np.int64)
    qs = order_statistic(lo)
    xhi = order_statistic(hi)
    h = index - lo
    return np.where((index > lo) & (xhi != qs), (1 - h) * qs + h * xhi, qs)


def interior_count(kind: str, df: float | None, degree: int = 3, intercept: bool = False) -> int:
    """The number of interior knots ``bs`` (``kind = "bs"``) or ``ns`` places for ``df`` (R's
    rule: ``df - degree - 1 + (1 - intercept)`` for bs, ``df - 1 - intercept`` for ns; never
    fewer than none, which R warns about).

    Examples
    --------
    >>> interior_count("bs", 5), interior_count("ns", 3), interior_count("ns", None)
    (2, 2, 0)
    """
    if df is None:
        return 0
    if kind == "bs":
        return max(int(df) - (degree + 1) + (1 - int(intercept)), 0)
    return max(int(df) - 1 - int(intercept), 0)


def spline_knots(
    x: ArrayLike, n_interior: int, counts: ArrayLike | None = None
) -> tuple[list[float], tuple[float, float]]:
    """The interior knots (R's type-7 quantiles at ``1/(n_interior + 1), ...``) and the boundary
    knots (the range) of the finite values x, or of the distinct sorted values x with multiplicities
    ``counts`` (streamed data: the same knots).

    Examples
    --------
    >>> spline_knots([4.0, 1.0, 2.0, 3.0, 10.0], 2)
    ([2.333333333333333, 3.6666666666666665], (1.0, 10.0))
    >>> spline_knots([1.0, 2.0, 3.0, 4.0, 10.0], 2, counts=[1, 1, 1, 1, 1])
    ([2.333333333333333, 3.6666666666666665], (1.0, 10.0))
    """
    values = np.asarray(x, dtype=np.float64)
    if counts is None:
        values = values[np.isfinite(values)]
        values, cnt = np.unique(values, return_counts=True)
        weights = cnt.astype(np.float64)
    else:
        weights = np.asarray(counts, dtype=np.float64)
    if values.shape[0] == 0:
        raise ValueError("no finite values to place the knots of a spline")
    boundary = (float(values[0]), float(values[-1]))
    if n_interior <= 0:
        return [], boundary
    step = 1.0 / (n_interior + 1)  # R's seq.int(0, 1, length.out = n + 2), less its ends
    probs = np.arange(1, n_interior + 1, dtype=np.float64) * step
    return [float(q) for q in _quantiles(values, weights, probs)], boundary


def _all_knots(knots: Sequence[float], boundary: tuple[float, float], order: int) -> FloatArray:
    return np.sort(np.concatenate([np.repeat(np.asarray(boundary, dtype=np.float64), order), np.asarray(knots)]))


def bs_basis(
    x: ArrayLike,
    knots: Sequence[float],
    boundary: tuple[float, float],
    degree: int = 3,
    intercept: bool = False,
) -> FloatArray:
    """R's ``bs(x, knots = knots, degree = degree, intercept = intercept, Boundary.knots =
    boundary)``: the B-spline basis, without its first column unless ``intercept``.

    Examples
    --------
    >>> bs_basis([0.0, 0.5, 1.0], [], (0.0, 1.0), degree=2).tolist()
    [[0.0, 0.0], [0.5, 0.25], [0.0, 1.0]]
    """
    order = int(degree) + 1
    basis = spline_design(_all_knots(knots, boundary, order), x, order)
    return basis if intercept else basis[:, 1:]


def ns_basis(
    x: ArrayLike, knots: Sequence[float], boundary: tuple[float, float], intercept: bool = False
) -> FloatArray:
    """R's ``ns(x, knots = knots, intercept = intercept, Boundary.knots = boundary)``: the cubic
    B-splines projected onto those with zero second derivative at both boundary knots (R's
    Householder QR of the constraints), straight lines beyond the boundary knots.

    Examples
    --------
    >>> ns_basis([0.0, 0.5, 1.0], [], (0.0, 1.0)).round(6).tolist()  # R: ns(c(0, 0.5, 1))
    [[0.0], [0.400892], [0.801784]]
    """
    xs = np.asarray(x, dtype=np.float64).reshape(-1)
    t = _all_knots(knots, boundary, 4)
    lo, hi = boundary
    basis = spline_design(t, xs, 4)
    for edge, outside in ((lo, xs < lo), (hi, xs > hi)):
        if outside.any():
            value, slope = spline_design(t, [edge], 4), spline_design(t, [edge], 4, deriv=1)
            basis[outside] = value + (xs[outside] - edge)[:, None] * slope
    const = spline_design(t, [lo, hi], 4, deriv=2)
    if not intercept:
        const, basis = const[:, 1:], basis[:, 1:]
    q, _ = np.linalg.qr(const.T, mode="complete")  # LINPACK's and LAPACK's reflections are the same
    return np.asarray(basis @ q[:, 2:], dtype=np.float64)
