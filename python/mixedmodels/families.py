"""GLM families and link functions for generalized linear mixed models, as R's ``stats`` family objects.

A `Family` (`Binomial`, `Poisson`, `Gamma`, `InverseGaussian`, `Gaussian`, and MASS's
`NegativeBinomial` with its theta) carries a `Link` and the
pieces of R's family object that `glmer` (lme4) uses: ``variance``, ``dev_resids``, ``aic``,
``valid_mu``, the starting values ``mustart`` (R's ``initialize``) and the response checks R makes
there (`Family.check_response`); `Link` has ``linkfun``, ``linkinv``, ``mu_eta`` and ``valid_eta``
with R's clamps (``.Machine$double.eps`` floors and the thresholds of ``make.link``). Every formula
is R 4.2's, written again in numpy; the densities behind ``aic`` (``dbinom``, ``dpois``,
``dgamma``) follow R's saddle-point evaluation (Loader 2000: ``stirlerr`` and ``bd0``), so that
large counts lose no digits to cancellation. `family` reads R's spellings
(``"binomial(link = 'probit')"``), and `binomial_response` / `binomial_counts` code a binomial
response as R's ``binomial()$initialize`` does (a factor: first level failure; ``cbind(s, f)``:
proportion and totals).

Like R, the functions are silent about IEEE arithmetic: a zero fitted probability under a success
gives an infinite deviance residual, not a warning.
"""

from __future__ import annotations

import abc
import math
import re
from collections.abc import Callable, Iterable, Sized
from dataclasses import dataclass
from typing import ClassVar, NamedTuple

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import special

from .exceptions import ArgumentError, DataError

__all__ = [
    "Binomial",
    "Family",
    "Gamma",
    "Gaussian",
    "InverseGaussian",
    "Link",
    "NegativeBinomial",
    "Poisson",
    "binomial_counts",
    "binomial_response",
    "family",
]

FloatArray = npt.NDArray[np.float64]

# R's constants (Rmath.h, .Machine), as R spells them
_EPS = 2.220446049250313e-16  # .Machine$double.eps
_DBL_MIN = 2.2250738585072014e-308  # DBL_MIN
_M_PI = 3.141592653589793238462643383280
_M_2PI = 6.283185307179586476925286766559
_M_LN_2PI = 1.837877066409345483560659472811
_M_LN_SQRT_2PI = 0.918938533204672741780329736406
_M_1_SQRT_2PI = 0.398942280401432677939946059934
_PROBIT_THRESH = 8.125890664701906  # -qnorm(.Machine$double.eps) as R 4.2 computes it (ndtri is one ulp off)
_CAUCHIT_THRESH = 1433540284805664.8  # -qcauchy(.Machine$double.eps) = 1 / tan(pi * eps)
_LOGIT_THRESH = 30.0  # R's THRESH / MTHRESH in family.c
_LOGIT_INVEPS = 1.0 / _EPS
_X_LARGE = 2.86111748575702815380240589208115399625e307  # 2 * pi * x overflows above this
_DNORM_ZERO = math.sqrt(-2 * math.log(2) * (-1021 + 1 - 53))  # R's dnorm is 0 beyond (DBL_MIN_EXP, DBL_MANT_DIG)
_NONINT_TOL = 1e-8  # relative tolerance of "is an integer" in check_response and binomial_counts
_BINCOUNT_MAX = 1 << 20  # whole counts up to this (or four per row) are binned by value, not hashed

# stirlerr(n) = log(n!) - log(sqrt(2 pi n) (n / e)^n) at n = 0, 0.5, ..., 15 (index 2n; 0 is a placeholder),
# each the double nearest the exact value (computed at 60 digits from factorials and Gamma(k + 1/2)).
_SFERR_HALVES = np.array(
    [
        0.0,
        0.15342640972002736,
        0.08106146679532726,
        0.05481412105191765,
        0.0413406959554093,
        0.03316287351993629,
        0.02767792568499834,
        0.023746163656297496,
        0.020790672103765093,
        0.018488450532673187,
        0.016644691189821193,
        0.015134973221917378,
        0.013876128823070748,
        0.012810465242920227,
        0.01189670994589177,
        0.011104559758206917,
        0.010411265261972096,
        0.009799416126158804,
        0.009255462182712733,
        0.008768700134139386,
        0.00833056343336287,
        0.00793411456431402,
        0.007573675487951841,
        0.007244554301320383,
        0.00694284010720953,
        0.006665247032707682,
        0.006408994188004207,
        0.006171712263039458,
        0.0059513701127588475,
        0.0057462165130101155,
        0.005554733551962801,
    ]
)
# Stirling's series: 1/12, 1/360, 1/1260, 1/1680, 1/1188
_S0 = 0.083333333333333333333
_S1 = 0.00277777777777777777778
_S2 = 0.00079365079365079365079365
_S3 = 0.000595238095238095238095238
_S4 = 0.0008417508417508417508417508


# ---------------------------------------------------------------------------------------------- inputs


def _floats(x: npt.ArrayLike, what: str) -> FloatArray:
    """``x`` as a float64 array (not copied when it is one: nothing here writes to its input)."""
    try:
        return np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise ArgumentError(f"{what} must be numeric, got {type(x).__name__}: {e}") from None


def _vector(x: npt.ArrayLike, what: str) -> FloatArray:
    arr = _floats(x, what)
    if arr.ndim != 1:
        raise ArgumentError(f"{what} must be one-dimensional, got shape {arr.shape}")
    return arr


def _weights(wt: npt.ArrayLike | None, n: int) -> FloatArray:
    if wt is None:
        return np.ones(n)
    w = _floats(wt, "wt")
    if w.ndim == 0:
        return np.full(n, float(w))
    if w.shape != (n,):
        raise ArgumentError(f"wt must have one value per row ({n}), got shape {w.shape}")
    return w


def _labels(rows: Iterable[object] | None, n: int) -> list[object] | None:
    """The row labels as a list (built only for a message), or None for 0-based positions."""
    if rows is None:
        return None
    labels = list(rows)
    if len(labels) != n:
        raise ArgumentError(f"rows must have one label per row ({n}), got {len(labels)}")
    return labels


def _check_labels(rows: Iterable[object] | None, n: int) -> Iterable[object] | None:
    """``rows`` (a list if it was a one-pass iterable), checked for length now, not only when a message
    needs the labels."""
    if rows is None or not isinstance(rows, Sized):
        return _labels(rows, n)
    if len(rows) != n:
        raise ArgumentError(f"rows must have one label per row ({n}), got {len(rows)}")
    return rows


def _rows_text(mask: npt.NDArray[np.bool_], labels: list[object] | None, limit: int = 5) -> str:
    """``"rows 3, 7 and 2 more"``: the first offending rows by label, else by 0-based position."""
    pos = np.flatnonzero(mask)
    shown = pos[:limit].tolist()
    if labels is None:
        items = [str(p) for p in shown]
    else:
        items = [repr(labels[p]) if isinstance(labels[p], str) else str(labels[p]) for p in shown]
    more = f" and {len(pos) - limit} more" if len(pos) > limit else ""
    word = "row" if len(pos) == 1 else "rows"
    where = "" if labels is not None else (" (0-based position)" if len(pos) == 1 else " (0-based positions)")
    return f"{word} {', '.join(items)}{more}{where}"


def _nonint(x: FloatArray, tol: float) -> npt.NDArray[np.bool_]:
    with np.errstate(all="ignore"):
        return np.abs(x - np.rint(x)) > tol * np.maximum(1.0, np.abs(x))


# ---------------------------------------------------------------------------------------------- links


def _logit_linkfun(mu: FloatArray) -> FloatArray:
    bad = (mu < 0) | (mu > 1)
    if np.any(bad):  # R's C_logit_link stops here
        raise ArgumentError(f"logit link: value {float(mu[bad].flat[0]):g} out of range (0, 1)")
    return np.asarray(np.log(mu / (1 - mu)))


def _logit_linkinv(eta: FloatArray) -> FloatArray:
    tmp = np.where(eta < -_LOGIT_THRESH, _EPS, np.where(eta > _LOGIT_THRESH, _LOGIT_INVEPS, np.exp(eta)))
    return np.asarray(tmp / (1 + tmp))


def _logit_mu_eta(eta: FloatArray) -> FloatArray:
    ex = np.exp(eta)
    opexp = 1 + ex
    return np.where((eta > _LOGIT_THRESH) | (eta < -_LOGIT_THRESH), _EPS, ex / (opexp * opexp))


def _dnorm(x: FloatArray) -> FloatArray:
    """R's dnorm(x): for |x| >= 5 x is split so that x^2 / 2 loses no digits."""
    ax = np.abs(x)
    x1 = np.ldexp(np.rint(np.ldexp(ax, 16)), -16)
    x2 = ax - x1
    split = _M_1_SQRT_2PI * (np.exp(-0.5 * x1 * x1) * np.exp((-0.5 * x2 - x1) * x2))
    out = np.where(ax < 5, _M_1_SQRT_2PI * np.exp(-0.5 * ax * ax), split)
    return np.where(ax > _DNORM_ZERO, 0.0, out)  # R's exact 0 where exp underflows (and at +-Inf)


def _probit_linkinv(eta: FloatArray) -> FloatArray:
    return np.asarray(special.ndtr(np.clip(eta, -_PROBIT_THRESH, _PROBIT_THRESH)))


def _probit_mu_eta(eta: FloatArray) -> FloatArray:
    return np.maximum(_dnorm(eta), _EPS)


def _tanpi(x: FloatArray) -> FloatArray:
    """R's tanpi on [0, 1/2]: exact at 0 and 1/4."""
    return np.where(x == 0, 0.0, np.where(x == 0.25, 1.0, np.tan(_M_PI * x)))


def _cauchit_linkfun(mu: FloatArray) -> FloatArray:
    """R's qcauchy(mu): -1 / tanpi(mu), from the nearer tail."""
    upper = mu > 0.5
    p = np.where(upper, 1 - mu, mu)
    val = 1 / _tanpi(p)
    out = np.where(upper, val, -val)
    out = np.where(mu == 0.5, 0.0, out)
    out = np.where(mu == 0, -np.inf, np.where(mu == 1, np.inf, out))
    return np.where((mu < 0) | (mu > 1), np.nan, out)


def _cauchit_linkinv(eta: FloatArray) -> FloatArray:
    """R's pcauchy(clamped eta): atan(1 / x) in the tails, where atan(x) would cancel."""
    x = np.clip(eta, -_CAUCHIT_THRESH, _CAUCHIT_THRESH)
    y = np.arctan(1 / x) / _M_PI
    tails = np.where(x > 0, 0.5 - y + 0.5, -y)
    return np.where(np.abs(x) > 1, tails, 0.5 + np.arctan(x) / _M_PI)


def _cauchit_mu_eta(eta: FloatArray) -> FloatArray:
    return np.maximum(1.0 / (_M_PI * (1.0 + eta * eta)), _EPS)


def _cloglog_linkinv(eta: FloatArray) -> FloatArray:
    return np.maximum(np.minimum(-np.expm1(-np.exp(eta)), 1 - _EPS), _EPS)


def _cloglog_mu_eta(eta: FloatArray) -> FloatArray:
    e = np.minimum(eta, 700.0)
    return np.asarray(np.maximum(np.exp(e) * np.exp(-np.exp(e)), _EPS), dtype=np.float64)


def _log_linkinv(eta: FloatArray) -> FloatArray:
    return np.maximum(np.exp(eta), _EPS)


def _all_finite(eta: FloatArray) -> bool:
    return bool(np.all(np.isfinite(eta)))


class _LinkImpl(NamedTuple):
    linkfun: Callable[[FloatArray], FloatArray]
    linkinv: Callable[[FloatArray], FloatArray]
    mu_eta: Callable[[FloatArray], FloatArray]
    valid_eta: Callable[[FloatArray], bool]


def _always(eta: FloatArray) -> bool:
    return True


_LINK_IMPL: dict[str, _LinkImpl] = {
    "logit": _LinkImpl(_logit_linkfun, _logit_linkinv, _logit_mu_eta, _always),
    "probit": _LinkImpl(lambda mu: np.asarray(special.ndtri(mu)), _probit_linkinv, _probit_mu_eta, _always),
    "cauchit": _LinkImpl(_cauchit_linkfun, _cauchit_linkinv, _cauchit_mu_eta, _always),
    "cloglog": _LinkImpl(lambda mu: np.asarray(np.log(-np.log(1 - mu))), _cloglog_linkinv, _cloglog_mu_eta, _always),
    "identity": _LinkImpl(
        lambda mu: np.array(mu, dtype=np.float64), lambda eta: np.array(eta, dtype=np.float64), np.ones_like, _always
    ),
    "log": _LinkImpl(lambda mu: np.asarray(np.log(mu)), _log_linkinv, _log_linkinv, _always),
    "inverse": _LinkImpl(
        lambda mu: np.asarray(1 / mu),
        lambda eta: np.asarray(1 / eta),
        lambda eta: np.asarray(-1 / (eta * eta)),
        lambda eta: _all_finite(eta) and bool(np.all(eta != 0)),
    ),
    "sqrt": _LinkImpl(
        lambda mu: np.asarray(np.sqrt(mu)),
        lambda eta: np.asarray(eta * eta),
        lambda eta: np.asarray(2 * eta),
        lambda eta: _all_finite(eta) and bool(np.all(eta > 0)),
    ),
    "1/mu^2": _LinkImpl(
        lambda mu: np.asarray(1 / (mu * mu)),
        lambda eta: np.asarray(1 / np.sqrt(eta)),
        lambda eta: np.asarray(-1 / (2 * eta**1.5)),
        lambda eta: _all_finite(eta) and bool(np.all(eta > 0)),
    ),
}


@dataclass(frozen=True, slots=True)
class Link:
    """A GLM link function: R's ``make.link(name)``, with R's clamps.

    Parameters
    ----------
    name : str
        One of ``"logit"``, ``"probit"``, ``"cauchit"``, ``"cloglog"``, ``"identity"``, ``"log"``,
        ``"inverse"``, ``"sqrt"``, ``"1/mu^2"`` (R's names).

    Notes
    -----
    ``linkinv`` and ``mu_eta`` keep R's guards: logit clamps eta to [-30, 30] (beyond it
    ``mu_eta`` is ``.Machine$double.eps``), probit and cauchit clamp eta at
    ``-qnorm(eps)`` / ``-qcauchy(eps)``, cloglog keeps mu in [eps, 1 - eps], log floors
    ``exp(eta)`` at eps; ``mu_eta`` of probit, cauchit, cloglog and log is floored at eps. The
    logit ``linkfun`` raises an `ArgumentError` for mu outside [0, 1] (R stops); the others give
    NaN there, as R does (with a warning). Links compare equal by name and pickle.

    Examples
    --------
    >>> logit = Link("logit")
    >>> logit.linkinv([0.0, 40.0]).tolist()
    [0.5, 0.9999999999999998]
    >>> logit.mu_eta([0.0, 40.0]).tolist()
    [0.25, 2.220446049250313e-16]
    >>> Link("log") == Link("log"), Link("logit") == Link("probit")
    (True, False)
    """

    name: str

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or self.name not in _LINK_IMPL:
            known = ", ".join(repr(k) for k in _LINK_IMPL)
            raise ArgumentError(f"unknown link {self.name!r}; the links are {known}")

    def linkfun(self, mu: npt.ArrayLike) -> FloatArray:
        """The link g(mu) = eta.

        Parameters
        ----------
        mu : array_like
            Means.

        Returns
        -------
        ndarray
            ``eta``, of the shape of ``mu``.

        Examples
        --------
        >>> Link("logit").linkfun([0.5, 0.75]).tolist()
        [0.0, 1.0986122886681098]
        """
        with np.errstate(all="ignore"):
            return np.asarray(_LINK_IMPL[self.name].linkfun(_floats(mu, "mu")), dtype=np.float64)

    def linkinv(self, eta: npt.ArrayLike) -> FloatArray:
        """The inverse link mu = g^-1(eta), with R's clamps.

        Parameters
        ----------
        eta : array_like
            Linear predictor.

        Returns
        -------
        ndarray
            ``mu``, of the shape of ``eta``.

        Examples
        --------
        >>> Link("log").linkinv([0.0, -800.0]).tolist()
        [1.0, 2.220446049250313e-16]
        """
        with np.errstate(all="ignore"):
            return np.asarray(_LINK_IMPL[self.name].linkinv(_floats(eta, "eta")), dtype=np.float64)

    def mu_eta(self, eta: npt.ArrayLike) -> FloatArray:
        """The derivative d mu / d eta, with R's floors at ``.Machine$double.eps``.

        Parameters
        ----------
        eta : array_like
            Linear predictor.

        Returns
        -------
        ndarray
            ``dmu/deta``, of the shape of ``eta``.

        Examples
        --------
        >>> Link("probit").mu_eta([0.0, 10.0]).tolist()
        [0.3989422804014327, 2.220446049250313e-16]
        """
        with np.errstate(all="ignore"):
            return np.asarray(_LINK_IMPL[self.name].mu_eta(_floats(eta, "eta")), dtype=np.float64)

    def valid_eta(self, eta: npt.ArrayLike) -> bool:
        """R's ``valideta``: every eta finite and non-zero (inverse) or positive (sqrt, 1/mu^2);
        always True for the other links.

        Parameters
        ----------
        eta : array_like
            Linear predictor.

        Returns
        -------
        bool

        Examples
        --------
        >>> Link("inverse").valid_eta([1.0, 0.0]), Link("logit").valid_eta([1.0, 0.0])
        (False, True)
        """
        with np.errstate(all="ignore"):
            return bool(_LINK_IMPL[self.name].valid_eta(_floats(eta, "eta")))


def _as_link(link: str | Link, family_name: str, allowed: tuple[str, ...]) -> Link:
    if isinstance(link, Link):
        name = link.name
    elif isinstance(link, str):
        name = link.strip()
    else:
        raise ArgumentError(f"link must be a link name or a Link, got {type(link).__name__}")
    if name not in allowed:
        ok = ", ".join(repr(a) for a in allowed)
        raise ArgumentError(f"link {name!r} not available for the {family_name} family; available links are {ok}")
    return link if isinstance(link, Link) else Link(name)


# ---------------------------------------------------------------------------------------------- densities
# R 4.2's nmath, vectorised: log densities only. Loader's saddle point: stirlerr(n) is the error of
# Stirling's formula and bd0(x, np) = x log(x / np) + np - x, by its Taylor series when x is near np.
# R's functions are chains of ifs; `_Branches` evaluates each branch only on the rows that reach it.


class _Branches:
    """The rows of a piecewise function not yet taken by an earlier branch (R's if-chain order)."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.out = np.full(shape, np.nan)
        self.left = np.ones(shape, dtype=bool)

    def take(self, cond: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
        rows = self.left & cond
        self.left &= ~rows
        return rows


def _stirlerr(n: FloatArray) -> FloatArray:
    out = np.full(n.shape, np.nan)
    small = n <= 15
    if np.any(small):
        ns = n[small]
        twice = ns + ns
        half = (ns >= 0) & (twice == np.floor(twice))
        val = np.empty(ns.shape)
        val[half] = _SFERR_HALVES[twice[half].astype(np.intp)]
        o = ns[~half]
        val[~half] = special.gammaln(o + 1.0) - (o + 0.5) * np.log(o) + o - _M_LN_SQRT_2PI
        out[small] = val
    big = n > 15
    if np.any(big):
        nb = n[big]
        nn = nb * nb
        s500 = (_S0 - _S1 / nn) / nb
        s80 = (_S0 - (_S1 - _S2 / nn) / nn) / nb
        s35 = (_S0 - (_S1 - (_S2 - _S3 / nn) / nn) / nn) / nb
        s15 = (_S0 - (_S1 - (_S2 - (_S3 - _S4 / nn) / nn) / nn) / nn) / nb
        out[big] = np.where(nb > 500, s500, np.where(nb > 80, s80, np.where(nb > 35, s35, s15)))
    return out


def _bd0(x: FloatArray, m: FloatArray) -> FloatArray:
    x, m = np.broadcast_arrays(x, m)
    out = np.asarray(x * np.log(x / m) + m - x, dtype=np.float64)
    near = np.abs(x - m) < 0.1 * (x + m)
    if np.any(near):
        xs, ms = x[near], m[near]
        v = (xs - ms) / (xs + ms)
        s = (xs - ms) * v  # R returns s at once when it underflows
        ej = 2 * xs * v
        v = v * v
        series = s.copy()
        rows = np.flatnonzero(np.abs(s) >= _DBL_MIN)  # the rows still summing, shrinking as they converge
        s, ej, v = s[rows], ej[rows], v[rows]
        for j in range(1, 1000):
            if rows.size == 0:
                break
            ej = ej * v
            s1 = s + ej / (2 * j + 1)
            done = s1 == s
            series[rows[done]] = s1[done]
            going = ~done
            rows, s, ej, v = rows[going], s1[going], ej[going], v[going]
        series[rows] = s
        out[near] = series
    invalid = ~np.isfinite(x) | ~np.isfinite(m) | (m == 0)
    return np.where(invalid, np.nan, out)


def _dpois_raw(x: FloatArray, lam: FloatArray) -> FloatArray:
    """log dpois_raw(x, lambda): x >= 0 need not be an integer (dgamma uses it)."""
    x, lam = np.broadcast_arrays(x, lam)
    b = _Branches(x.shape)
    out = b.out
    r = b.take(lam == 0)
    out[r] = np.where(x[r] == 0, 0.0, -np.inf)
    out[b.take(~np.isfinite(lam) | (x < 0))] = -np.inf
    r = b.take(x <= lam * _DBL_MIN)
    out[r] = -lam[r]
    r = b.take(lam < x * _DBL_MIN)
    xr, lr = x[r], lam[r]
    out[r] = np.where(np.isfinite(xr), -lr + xr * np.log(lr) - special.gammaln(xr + 1), -np.inf)
    r = b.left
    xr, lr = x[r], lam[r]
    half_log = np.where(xr < _X_LARGE, -0.5 * np.log(_M_2PI * xr), -(_M_LN_SQRT_2PI + 0.5 * np.log(xr)))
    out[r] = half_log - _stirlerr(xr) - _bd0(xr, lr)
    return out


def _dpois_log(x: FloatArray, lam: FloatArray) -> FloatArray:
    """R's dpois(x, lambda, log = TRUE); a non-integer x has density 0 (R warns)."""
    x, lam = np.broadcast_arrays(x, lam)
    b = _Branches(x.shape)
    out = b.out
    r = b.take(np.isnan(x) | np.isnan(lam))
    out[r] = x[r] + lam[r]
    b.take(lam < 0)  # NaN
    out[b.take(_nonint(x, 1e-7) | (x < 0) | ~np.isfinite(x))] = -np.inf
    r = b.left
    out[r] = _dpois_raw(np.rint(x[r]), lam[r])
    return out


def _dbinom_log(x: FloatArray, n: FloatArray, p: FloatArray) -> FloatArray:
    """R's dbinom(x, n, p, log = TRUE): dbinom's checks, then dbinom_raw at the rounded x and n."""
    x, n, p = np.broadcast_arrays(x, n, p)
    b = _Branches(x.shape)
    out = b.out
    r = b.take(np.isnan(x) | np.isnan(n) | np.isnan(p))
    out[r] = x[r] + n[r] + p[r]
    b.take((p < 0) | (p > 1) | (n < 0) | _nonint(n, 1e-7))  # NaN
    out[b.take(_nonint(x, 1e-7) | (x < 0) | ~np.isfinite(x))] = -np.inf
    xr, nr, q = np.rint(x), np.rint(n), 1 - p
    r = b.take(p == 0)
    out[r] = np.where(xr[r] == 0, 0.0, -np.inf)
    r = b.take(q == 0)
    out[r] = np.where(xr[r] == nr[r], 0.0, -np.inf)
    out[b.take((xr == 0) & (nr == 0))] = 0.0
    r = b.take((xr == 0) & (p < 0.1))
    out[r] = -_bd0(nr[r], nr[r] * q[r]) - nr[r] * p[r]
    r = b.take(xr == 0)
    out[r] = nr[r] * np.log(q[r])
    r = b.take((xr == nr) & (q < 0.1))
    out[r] = -_bd0(nr[r], nr[r] * p[r]) - nr[r] * q[r]
    r = b.take(xr == nr)
    out[r] = nr[r] * np.log(p[r])
    out[b.take((xr < 0) | (xr > nr))] = -np.inf
    r = b.left
    xs, ns, ps, qs = xr[r], nr[r], p[r], q[r]
    lc = _stirlerr(ns) - _stirlerr(xs) - _stirlerr(ns - xs) - _bd0(xs, ns * ps) - _bd0(ns - xs, ns * qs)
    lf = _M_LN_2PI + np.log(xs) + np.log1p(-xs / ns)
    out[r] = lc - 0.5 * lf
    return out


def _dgamma_log(x: FloatArray, shape: FloatArray, scale: FloatArray) -> FloatArray:
    """R's dgamma(x, shape, scale = scale, log = TRUE)."""
    x, shape, scale = np.broadcast_arrays(x, shape, scale)
    b = _Branches(x.shape)
    out = b.out
    r = b.take(np.isnan(x) | np.isnan(shape) | np.isnan(scale))
    out[r] = x[r] + shape[r] + scale[r]
    b.take((shape < 0) | (scale <= 0))  # NaN
    out[b.take(x < 0)] = -np.inf
    r = b.take(shape == 0)
    out[r] = np.where(x[r] == 0, np.inf, -np.inf)
    r = b.take(x == 0)
    sh = shape[r]
    out[r] = np.where(sh < 1, np.inf, np.where(sh > 1, -np.inf, -np.log(scale[r])))
    r = b.take(shape < 1)
    xs, sh = x[r], shape[r]
    ratio = sh / xs
    log_ratio = np.where(np.isfinite(ratio), np.log(ratio), np.log(sh) - np.log(xs))
    out[r] = _dpois_raw(sh, xs / scale[r]) + log_ratio
    r = b.left
    out[r] = _dpois_raw(shape[r] - 1, x[r] / scale[r]) - np.log(scale[r])
    return out


def _ylogy(y: FloatArray, mu: FloatArray) -> FloatArray:
    return np.where(y != 0, y * np.log(y / mu), 0.0)


# ---------------------------------------------------------------------------------------------- families


class Family(abc.ABC):
    """A GLM family with its link, as R's family objects (``binomial()``, ``poisson()``, ...).

    Build one with `family` or a subclass: `Binomial`, `Poisson`, `Gamma`, `InverseGaussian`,
    `Gaussian`. Instances are immutable, compare equal by family and link, hash and pickle.

    Attributes
    ----------
    name : str
        R's spelling: ``"binomial"``, ``"poisson"``, ``"Gamma"``, ``"inverse.gaussian"``, ``"gaussian"``.
    link : Link
        The link function.
    canonical : bool
        Whether the link is the family's canonical link.
    dispersion_free : bool
        True for binomial and poisson, whose dispersion (lme4's sigma) is fixed at 1.
    allowed_links : tuple of str
        The links R allows for the family (its ``okLinks``).
    canonical_link : str
        The family's canonical (and default) link.

    Examples
    --------
    >>> fam = family("binomial(link = 'probit')")
    >>> fam
    Binomial(link='probit')
    >>> print(fam)
    Family: binomial, link: probit
    >>> fam.name, fam.link.name, fam.canonical, fam.dispersion_free
    ('binomial', 'probit', False, True)
    """

    __slots__ = ("_link",)

    _link: Link
    name: ClassVar[str]
    allowed_links: ClassVar[tuple[str, ...]]
    canonical_link: ClassVar[str]
    dispersion_free: ClassVar[bool]

    def __init__(self, link: str | Link | None = None) -> None:
        chosen = _as_link(self.canonical_link if link is None else link, self.name, self.allowed_links)
        object.__setattr__(self, "_link", chosen)

    # -- identity

    @property
    def link(self) -> Link:
        """The link function.

        Examples
        --------
        >>> Poisson().link
        Link(name='log')
        """
        return self._link

    @property
    def core_parameter(self) -> float:
        """The family's parameter as the C++ PIRLS takes it (``family_parameter``): the negative
        binomial's theta, 0 for the families without one.

        Examples
        --------
        >>> Poisson().core_parameter, NegativeBinomial(2.5).core_parameter
        (0.0, 2.5)
        """
        return 0.0

    @property
    def canonical(self) -> bool:
        """Whether the link is the family's canonical link.

        Examples
        --------
        >>> Gamma().canonical, Gamma(link="log").canonical
        (True, False)
        """
        return self.link.name == self.canonical_link

    def __setattr__(self, key: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} objects are immutable")

    def __delattr__(self, key: str) -> None:
        raise AttributeError(f"{type(self).__name__} objects are immutable")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Family):
            return NotImplemented
        return self.name == other.name and self.link == other.link

    def __hash__(self) -> int:
        return hash((self.name, self.link.name))

    def __reduce__(self) -> tuple[type[Family], tuple[str]]:
        return (type(self), (self.link.name,))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(link={self.link.name!r})"

    def __str__(self) -> str:
        return f"Family: {self.name}, link: {self.link.name}"

    @property
    def label(self) -> str:
        """The family as R's summary prints it (``family$family``): its name, with the negative
        binomial's theta.

        Examples
        --------
        >>> Poisson().label, NegativeBinomial(3.30341).label
        ('poisson', 'Negative Binomial(3.3034)')
        """
        return self.name

    # -- the link, for convenience (R's family$linkfun, ...)

    def linkfun(self, mu: npt.ArrayLike) -> FloatArray:
        """The link's ``linkfun`` (R's ``family$linkfun``).

        Examples
        --------
        >>> Binomial().linkfun([0.5]).tolist()
        [0.0]
        """
        return self.link.linkfun(mu)

    def linkinv(self, eta: npt.ArrayLike) -> FloatArray:
        """The link's ``linkinv`` (R's ``family$linkinv``).

        Examples
        --------
        >>> Poisson().linkinv([0.0]).tolist()
        [1.0]
        """
        return self.link.linkinv(eta)

    def mu_eta(self, eta: npt.ArrayLike) -> FloatArray:
        """The link's ``mu_eta`` (R's ``family$mu.eta``).

        Examples
        --------
        >>> Binomial().mu_eta([0.0]).tolist()
        [0.25]
        """
        return self.link.mu_eta(eta)

    def valid_eta(self, eta: npt.ArrayLike) -> bool:
        """The link's ``valid_eta`` (R's ``family$valideta``).

        Examples
        --------
        >>> Gamma().valid_eta([0.5, 0.0])
        False
        """
        return self.link.valid_eta(eta)

    # -- the family

    @abc.abstractmethod
    def variance(self, mu: npt.ArrayLike) -> FloatArray:
        """The variance function V(mu) (R's ``family$variance``).

        Parameters
        ----------
        mu : array_like
            Means.

        Returns
        -------
        ndarray
            ``mu (1 - mu)`` (binomial), ``mu`` (poisson), ``mu^2`` (Gamma), ``mu^3``
            (inverse.gaussian), ones (gaussian).

        Examples
        --------
        >>> Binomial().variance([0.5, 0.1]).tolist()
        [0.25, 0.09000000000000001]
        """

    @abc.abstractmethod
    def dev_resids(self, y: npt.ArrayLike, mu: npt.ArrayLike, wt: npt.ArrayLike) -> FloatArray:
        """The deviance residuals, already times the prior weights (R's ``family$dev.resids``).

        Their sum is the deviance. ``y log(y / mu)`` is 0 at ``y = 0`` (and ``(1 - y) log(...)``
        at ``y = 1`` for the binomial), as in R.

        Parameters
        ----------
        y, mu, wt : array_like
            Responses, means and prior weights (broadcast together).

        Returns
        -------
        ndarray

        Examples
        --------
        >>> Poisson().dev_resids([0.0, 2.0], [1.0, 2.0], [1.0, 1.0]).tolist()
        [2.0, 0.0]
        """

    @abc.abstractmethod
    def aic(self, y: npt.ArrayLike, n: npt.ArrayLike | None, mu: npt.ArrayLike, wt: npt.ArrayLike, dev: float) -> float:
        """R's ``family$aic(y, n, mu, wt, dev)``: -2 log-likelihood (+ 2 for a family with a
        dispersion parameter estimated from ``dev``); glm adds ``2 * rank``.

        Parameters
        ----------
        y : array_like
            Responses (proportions for the binomial).
        n : array_like or None
            Binomial only: R's ``n`` (ones for a 0/1 or proportion response, the totals for
            ``cbind(s, f)``); None means ones. Ignored by the other families.
        mu : array_like
            Means.
        wt : array_like
            Prior weights (for ``cbind(s, f)``, the totals times any prior weights).
        dev : float
            The deviance, ``sum(dev_resids(y, mu, wt))`` (Gamma, inverse.gaussian, gaussian).

        Returns
        -------
        float
            As R computes it: binomial ``-2 sum (wt / m) dbinom(round(m y), round(m), mu, log)``
            with ``m = n`` if any ``n > 1`` else ``wt``; poisson ``-2 sum wt dpois(y, mu, log)``
            (infinite for a non-integer count, as R's dpois gives density 0); Gamma
            ``-2 sum wt dgamma(y, 1/disp, scale = mu disp, log) + 2`` with ``disp = dev / sum(wt)``;
            inverse.gaussian ``sum(wt) (1 + log(2 pi dev / sum(wt))) + 3 sum wt log(y) + 2``;
            gaussian ``nobs (log(2 pi dev / nobs) + 1) + 2 - sum log(wt)`` (infinite with a zero
            weight, as in R).

        Examples
        --------
        >>> fam = Poisson()
        >>> y, mu, wt = [0.0, 1.0, 3.0], [0.5, 1.0, 2.5], [1.0, 1.0, 1.0]
        >>> round(fam.aic(y, None, mu, wt, float(fam.dev_resids(y, mu, wt).sum())), 6)
        6.085775
        """

    def aic_less_deviance(self, y: npt.ArrayLike, n: npt.ArrayLike | None, wt: npt.ArrayLike) -> float:
        """`aic` less the deviance, for a family without a dispersion parameter: the same at every
        mu (-2 times the saturated model's log-likelihood), here at the family's start. The
        Laplace criterion of a GLMM then needs only the deviance residuals at each evaluation.

        Examples
        --------
        >>> y, wt = np.array([0.0, 2.0, 5.0]), np.ones(3)
        >>> p = Poisson()
        >>> mu = np.array([1.0, 2.5, 4.0])
        >>> dev = float(np.sum(p.dev_resids(y, mu, wt)))
        >>> bool(abs(p.aic_less_deviance(y, None, wt) - (p.aic(y, None, mu, wt, dev) - dev)) < 1e-12)
        True
        """
        mu0 = self.mustart(y, wt)
        dev0 = float(np.sum(self.dev_resids(y, mu0, wt)))
        return float(self.aic(y, n, mu0, wt, dev0)) - dev0

    def loglik_saturated(
        self,
        y: npt.ArrayLike,
        wt: npt.ArrayLike | None = None,
        *,
        n: npt.ArrayLike | None = None,
        dispersion: float | None = None,
    ) -> float:
        """The log-likelihood of the saturated model (mu = y), in the convention of ``aic``.

        lme4's adaptive Gauss-Hermite deviance (nAGQ > 1) is built from the deviance residuals,
        which measure the fit against the saturated model; ``-2 log p(y | mu) =
        sum(dev_resids) / dispersion - 2 loglik_saturated`` turns it into a -2 log-likelihood
        comparable with the Laplace fit's.

        Parameters
        ----------
        y : array_like
            Responses (proportions for the binomial).
        wt : array_like, optional
            Prior weights; ones by default.
        n : array_like, optional
            Binomial only: R's ``n``, as in `aic`.
        dispersion : float, optional
            The dispersion phi (sigma^2 for the gaussian): required by Gamma, inverse.gaussian and
            gaussian, whose saturated likelihood depends on it (an `ArgumentError` without it);
            None or 1 for binomial and poisson.

        Returns
        -------
        float
            binomial: ``sum (wt / m) dbinom(round(m y), round(m), y, log)`` (m as in `aic`, e.g.
            ``dbinom(k, n, k/n)`` for ``cbind`` counts); poisson ``sum wt dpois(y, y, log)``;
            Gamma ``sum wt dgamma(y, 1/phi, scale = y phi, log)``; inverse.gaussian
            ``sum wt (-log(2 pi phi y^3) / 2)``; gaussian ``sum dnorm(y, y, sqrt(phi / wt), log)``
            (weights as precisions, as R's gaussian ``aic``).

        Examples
        --------
        >>> round(Poisson().loglik_saturated([0.0, 1.0, 3.0]), 6)
        -2.495923
        >>> round(Gaussian().loglik_saturated([1.0, 2.0], dispersion=1.0), 6)
        -1.837877
        """
        # families without a dispersion: the family's own likelihood at mu = y (those with one override)
        self._dispersion(dispersion)
        yv = _floats(y, "y")
        w = np.ones_like(yv) if wt is None else _floats(wt, "wt")
        return -self.aic(yv, n, yv, w, 0.0) / 2

    @abc.abstractmethod
    def valid_mu(self, mu: npt.ArrayLike) -> bool:
        """R's ``family$validmu``: binomial 0 < mu < 1, poisson and Gamma mu > 0 (all finite);
        always True for inverse.gaussian and gaussian.

        Parameters
        ----------
        mu : array_like
            Means.

        Returns
        -------
        bool

        Examples
        --------
        >>> Binomial().valid_mu([0.2, 1.0]), Poisson().valid_mu([0.2, 1.0])
        (False, True)
        """

    @abc.abstractmethod
    def mustart(self, y: npt.ArrayLike, wt: npt.ArrayLike | None = None) -> FloatArray:
        """Starting means, as R's ``family$initialize``: binomial ``(wt y + 0.5) / (wt + 1)``
        (y taken as 0 where wt is 0), poisson ``y + 0.1``, Gamma, inverse.gaussian and gaussian
        ``y`` (gaussian: a `DataError` for the inverse link with a zero y or the log link with
        y <= 0, where R cannot find valid starting values either).

        Parameters
        ----------
        y : array_like
            Responses (proportions for the binomial).
        wt : array_like, optional
            Prior weights; ones by default.

        Returns
        -------
        ndarray

        Examples
        --------
        >>> Binomial().mustart([0.0, 1.0], [1.0, 3.0]).tolist()
        [0.25, 0.875]
        """

    def check_response(
        self, y: npt.ArrayLike, wt: npt.ArrayLike | None = None, rows: Iterable[object] | None = None
    ) -> None:
        """Raise a `DataError` naming the offending rows when the response is outside the family's support.

        Checked: non-finite responses; negative or non-finite weights; binomial proportions
        outside [0, 1] (rows of zero weight excepted, as R sets their y to 0) and a number of
        successes ``wt * y`` that is not an integer (to 1e-8 relative; R warns "non-integer
        #successes"); negative poisson counts; Gamma and inverse.gaussian responses <= 0.

        Parameters
        ----------
        y : array_like
            The response, one-dimensional (proportions for the binomial).
        wt : array_like, optional
            Prior weights; ones by default.
        rows : iterable, optional
            Row labels for the message (e.g. a data frame's index); 0-based positions without it.

        Raises
        ------
        DataError
            Naming the first few offending rows of every problem found.

        Examples
        --------
        >>> Poisson().check_response([1.0, -2.0, 3.0], rows=["a", "b", "c"])
        Traceback (most recent call last):
        ...
        mixedmodels.exceptions.DataError: negative values not allowed for the 'Poisson' family: row 'b'
        """
        yv = _vector(y, "y")
        w = _weights(wt, len(yv))
        rows = _check_labels(rows, len(yv))
        with np.errstate(all="ignore"):
            finite = np.isfinite(yv)
            bad_w = ~np.isfinite(w) | (w < 0)
            found = [
                (~finite, "the response must be finite (not NaN or infinite)"),
                (bad_w, "the weights must be finite and non-negative"),
            ]
            found += [(mask & finite & ~bad_w, message) for mask, message in self._support_problems(yv, w)]
        found = [(mask, message) for mask, message in found if np.any(mask)]
        if found:
            labels = _labels(rows, len(yv))
            raise DataError("; ".join(f"{message}: {_rows_text(mask, labels)}" for mask, message in found))

    def _support_problems(self, y: FloatArray, wt: FloatArray) -> list[tuple[npt.NDArray[np.bool_], str]]:
        return []

    def _dispersion(self, dispersion: float | None) -> float:
        if self.dispersion_free:
            if dispersion is not None and dispersion != 1:
                raise ArgumentError(
                    f"the {self.name} family has no dispersion parameter (it is fixed at 1); "
                    f"got dispersion={dispersion!r}"
                )
            return 1.0
        if dispersion is None:
            raise ArgumentError(
                f"the saturated log-likelihood of the {self.name} family depends on its dispersion: "
                "pass dispersion= (R's family$aic uses deviance / sum(weights))"
            )
        try:
            phi = float(dispersion)
        except (TypeError, ValueError):
            raise ArgumentError(f"dispersion must be a number, got {type(dispersion).__name__}") from None
        if not (math.isfinite(phi) and phi > 0):
            raise ArgumentError(f"dispersion must be finite and positive, got {dispersion!r}")
        return phi


class Binomial(Family):
    """The binomial family, R's ``binomial(link)``: links logit (canonical), probit, cloglog,
    cauchit, log.

    The response is a proportion y with prior weights wt (the number of trials); see
    `binomial_response` and `binomial_counts` for R's codings. ``variance = mu (1 - mu)``,
    ``dev_resids = 2 wt (y log(y/mu) + (1-y) log((1-y)/(1-mu)))``; the dispersion is fixed at 1.

    Parameters
    ----------
    link : str or Link, default "logit"

    Examples
    --------
    >>> Binomial(link="probit")
    Binomial(link='probit')
    >>> Binomial().dev_resids([1.0, 0.0], [0.5, 0.5], [1.0, 1.0]).round(6).tolist()
    [1.386294, 1.386294]
    """

    __slots__ = ()
    name = "binomial"
    allowed_links = ("logit", "probit", "cloglog", "cauchit", "log")
    canonical_link = "logit"
    dispersion_free = True

    def __init__(self, link: str | Link = "logit") -> None:
        super().__init__(link)

    def variance(self, mu: npt.ArrayLike) -> FloatArray:
        m = _floats(mu, "mu")
        with np.errstate(all="ignore"):
            return np.asarray(m * (1 - m))

    def dev_resids(self, y: npt.ArrayLike, mu: npt.ArrayLike, wt: npt.ArrayLike) -> FloatArray:
        yv, m, w = _floats(y, "y"), _floats(mu, "mu"), _floats(wt, "wt")
        with np.errstate(all="ignore"):
            return np.asarray(2 * w * (_ylogy(yv, m) + _ylogy(1 - yv, 1 - m)))

    def _trials(self, n: npt.ArrayLike | None, w: FloatArray) -> FloatArray:
        if n is None:
            return w
        nv = _floats(n, "n")
        return np.broadcast_to(nv, w.shape) if np.any(nv > 1) else w

    def aic(self, y: npt.ArrayLike, n: npt.ArrayLike | None, mu: npt.ArrayLike, wt: npt.ArrayLike, dev: float) -> float:
        yv, m, w = np.broadcast_arrays(_floats(y, "y"), _floats(mu, "mu"), _floats(wt, "wt"))
        trials = self._trials(n, w)
        with np.errstate(all="ignore"):
            share = np.where(trials > 0, w / trials, 0.0)
            return float(-2 * np.sum(share * _dbinom_log(np.rint(trials * yv), np.rint(trials), m)))

    def valid_mu(self, mu: npt.ArrayLike) -> bool:
        m = _floats(mu, "mu")
        with np.errstate(all="ignore"):
            return bool(np.all(np.isfinite(m)) and np.all((m > 0) & (m < 1)))

    def aic_less_deviance(self, y: npt.ArrayLike, n: npt.ArrayLike | None, wt: npt.ArrayLike) -> float:
        """`Family.aic_less_deviance` as ``-2 sum (wt / m) log dbinom(k, m, k / m)`` with k = m y
        successes of m trials (the saturated model's term): at p = k / m R's dbinom_raw has no bd0
        terms, so this takes three `_stirlerr` and no series. Where some k or m is not a whole
        number, the family's general rule (aic less the deviance at the start).

        Examples
        --------
        >>> b = Binomial()
        >>> y, n = np.array([0.25, 0.0, 0.5]), np.array([4.0, 3.0, 2.0])
        >>> mu = np.array([0.3, 0.2, 0.6])
        >>> dev = float(np.sum(b.dev_resids(y, mu, n)))
        >>> bool(abs(b.aic_less_deviance(y, n, n) - (b.aic(y, n, mu, n, dev) - dev)) < 1e-12)
        True
        """
        yv, w = np.broadcast_arrays(_floats(y, "y"), _floats(wt, "wt"))
        trials = self._trials(n, w)
        with np.errstate(all="ignore"):
            k = trials * yv
            if not (np.all(k == np.rint(k)) and np.all(trials == np.rint(trials)) and np.all(trials >= 0)):
                return super().aic_less_deviance(y, n, wt)
            share = np.where(trials > 0, w / trials, 0.0)
            inner = (k > 0) & (k < trials)  # k = 0 or k = m: the density at p = k / m is 1
            ki, mi = k[inner], trials[inner]
            lc = _stirlerr(mi) - _stirlerr(ki) - _stirlerr(mi - ki)
            ld = lc - 0.5 * (_M_LN_2PI + np.log(ki) + np.log1p(-ki / mi))
            return float(-2 * np.sum(share[inner] * ld))

    def mustart(self, y: npt.ArrayLike, wt: npt.ArrayLike | None = None) -> FloatArray:
        yv = _floats(y, "y")
        w = np.ones_like(yv) if wt is None else _floats(wt, "wt")
        yz = np.where(w == 0, 0.0, yv)
        with np.errstate(all="ignore"):
            return np.asarray((w * yz + 0.5) / (w + 1))

    def _support_problems(self, y: FloatArray, wt: FloatArray) -> list[tuple[npt.NDArray[np.bool_], str]]:
        outside = ((y < 0) | (y > 1)) & (wt != 0)
        successes = wt * y
        fractional = ~outside & _nonint(successes, _NONINT_TOL)
        return [
            (outside, "y values must be 0 <= y <= 1 (a proportion of successes, the weights counting the trials)"),
            (fractional, "non-integer number of successes (weights * y) in a binomial model"),
        ]


class _Counts(Family):
    """What the count families (`Poisson`, `NegativeBinomial`) share: a mean is valid when finite
    and positive."""

    def valid_mu(self, mu: npt.ArrayLike) -> bool:
        m = _floats(mu, "mu")
        with np.errstate(all="ignore"):
            return bool(np.all(np.isfinite(m)) and np.all(m > 0))


class Poisson(_Counts):
    """The Poisson family, R's ``poisson(link)``: links log (canonical), identity, sqrt.

    ``variance = mu``, ``dev_resids = 2 wt (y log(y/mu) - (y - mu))`` (``2 wt mu`` at y = 0);
    the dispersion is fixed at 1. Non-integer counts are not an error (R fits them), but their
    density, and so ``aic``, is that of R's dpois: zero, an infinite AIC.

    Parameters
    ----------
    link : str or Link, default "log"

    Examples
    --------
    >>> Poisson()
    Poisson(link='log')
    >>> Poisson().variance([2.0]).tolist()
    [2.0]
    """

    __slots__ = ()
    name = "poisson"
    allowed_links = ("log", "identity", "sqrt")
    canonical_link = "log"
    dispersion_free = True

    def __init__(self, link: str | Link = "log") -> None:
        super().__init__(link)

    def variance(self, mu: npt.ArrayLike) -> FloatArray:
        return np.array(_floats(mu, "mu"), dtype=np.float64)

    def dev_resids(self, y: npt.ArrayLike, mu: npt.ArrayLike, wt: npt.ArrayLike) -> FloatArray:
        yv, m, w = np.broadcast_arrays(_floats(y, "y"), _floats(mu, "mu"), _floats(wt, "wt"))
        with np.errstate(all="ignore"):
            r = np.where(yv > 0, w * (yv * np.log(yv / m) - (yv - m)), m * w)
            return np.asarray(2 * r)

    def aic(self, y: npt.ArrayLike, n: npt.ArrayLike | None, mu: npt.ArrayLike, wt: npt.ArrayLike, dev: float) -> float:
        with np.errstate(all="ignore"):
            return float(-2 * np.sum(_dpois_log(_floats(y, "y"), _floats(mu, "mu")) * _floats(wt, "wt")))

    def mustart(self, y: npt.ArrayLike, wt: npt.ArrayLike | None = None) -> FloatArray:
        return np.asarray(_floats(y, "y") + 0.1)

    def _support_problems(self, y: FloatArray, wt: FloatArray) -> list[tuple[npt.NDArray[np.bool_], str]]:
        with np.errstate(all="ignore"):
            r = np.round(y)
            fractional = r != y  # whole counts (the rule): no tolerance to work out
            if fractional.any():
                fractional &= np.abs(y - r) > 1e-8 * np.maximum(np.abs(y), 1.0)
        return [
            (y < 0, "negative values not allowed for the 'Poisson' family"),
            (fractional & (y >= 0), "non-integer counts for the 'Poisson' family (it has no likelihood there)"),
        ]

    def aic_less_deviance(self, y: npt.ArrayLike, n: npt.ArrayLike | None, wt: npt.ArrayLike) -> float:
        """`Family.aic_less_deviance`, once per distinct count with its rows' summed weights: both
        terms are the weights times a function of y alone (R's dpois on a million rows costs a
        third of a second). The distinct counts are summed in increasing order: with whole weights
        (unit ones included) the value does not depend on the order of the rows."""
        yv, w = np.broadcast_arrays(_floats(y, "y"), _floats(wt, "wt"))
        if yv.size and 0.0 <= yv.min() and yv.max() <= max(_BINCOUNT_MAX, 4 * yv.size):
            counts = yv.astype(np.int64)
            if np.array_equal(counts, yv):  # whole counts (the rule): binned by value, no hashing
                present = np.flatnonzero(np.bincount(counts))
                sums = np.bincount(counts, weights=w)[present]
                return super().aic_less_deviance(present.astype(np.float64), None, sums)
        inverse, values = pd.factorize(yv, sort=True)  # in increasing order, as above
        sums = np.bincount(inverse, weights=w, minlength=len(values)).astype(np.float64)
        return super().aic_less_deviance(np.asarray(values, dtype=np.float64), None, sums)


class Gamma(Family):
    """The Gamma family, R's ``Gamma(link)``: links inverse (canonical), identity, log.

    ``variance = mu^2``, ``dev_resids = -2 wt (log(y/mu) - (y - mu)/mu)``; the dispersion phi is
    estimated (R's ``aic`` uses ``deviance / sum(weights)``).

    Parameters
    ----------
    link : str or Link, default "inverse"

    Examples
    --------
    >>> Gamma(link="log")
    Gamma(link='log')
    >>> Gamma().dev_resids([2.0], [2.0], [1.0]).tolist()
    [-0.0]
    """

    __slots__ = ()
    name = "Gamma"
    allowed_links = ("inverse", "log", "identity")
    canonical_link = "inverse"
    dispersion_free = False

    def __init__(self, link: str | Link = "inverse") -> None:
        super().__init__(link)

    def variance(self, mu: npt.ArrayLike) -> FloatArray:
        m = _floats(mu, "mu")
        with np.errstate(all="ignore"):
            return np.asarray(m * m)

    def dev_resids(self, y: npt.ArrayLike, mu: npt.ArrayLike, wt: npt.ArrayLike) -> FloatArray:
        yv, m, w = _floats(y, "y"), _floats(mu, "mu"), _floats(wt, "wt")
        with np.errstate(all="ignore"):
            return np.asarray(-2 * w * (np.log(np.where(yv == 0, 1.0, yv / m)) - (yv - m) / m))

    def aic(self, y: npt.ArrayLike, n: npt.ArrayLike | None, mu: npt.ArrayLike, wt: npt.ArrayLike, dev: float) -> float:
        yv, m, w = _floats(y, "y"), _floats(mu, "mu"), _floats(wt, "wt")
        with np.errstate(all="ignore"):
            disp = np.asarray(dev / np.sum(w), dtype=np.float64)
            return float(-2 * np.sum(_dgamma_log(yv, 1 / disp, m * disp) * w) + 2)

    def loglik_saturated(
        self,
        y: npt.ArrayLike,
        wt: npt.ArrayLike | None = None,
        *,
        n: npt.ArrayLike | None = None,
        dispersion: float | None = None,
    ) -> float:
        phi = self._dispersion(dispersion)
        yv = _floats(y, "y")
        w = np.ones_like(yv) if wt is None else _floats(wt, "wt")
        with np.errstate(all="ignore"):
            shape = np.full(yv.shape, 1 / phi)
            return float(np.sum(w * _dgamma_log(yv, shape, yv * phi)))

    def valid_mu(self, mu: npt.ArrayLike) -> bool:
        m = _floats(mu, "mu")
        with np.errstate(all="ignore"):
            return bool(np.all(np.isfinite(m)) and np.all(m > 0))

    def mustart(self, y: npt.ArrayLike, wt: npt.ArrayLike | None = None) -> FloatArray:
        return np.array(_floats(y, "y"), dtype=np.float64)

    def _support_problems(self, y: FloatArray, wt: FloatArray) -> list[tuple[npt.NDArray[np.bool_], str]]:
        return [(y <= 0, "non-positive values not allowed for the 'Gamma' family")]


class InverseGaussian(Family):
    """The inverse Gaussian family, R's ``inverse.gaussian(link)``: links 1/mu^2 (canonical),
    inverse, identity, log.

    ``variance = mu^3``, ``dev_resids = wt (y - mu)^2 / (y mu^2)``; the dispersion phi is estimated.

    Parameters
    ----------
    link : str or Link, default "1/mu^2"

    Examples
    --------
    >>> InverseGaussian()
    InverseGaussian(link='1/mu^2')
    >>> InverseGaussian().variance([2.0]).tolist()
    [8.0]
    """

    __slots__ = ()
    name = "inverse.gaussian"
    allowed_links = ("inverse", "log", "identity", "1/mu^2")
    canonical_link = "1/mu^2"
    dispersion_free = False

    def __init__(self, link: str | Link = "1/mu^2") -> None:
        super().__init__(link)

    def variance(self, mu: npt.ArrayLike) -> FloatArray:
        with np.errstate(all="ignore"):
            return np.asarray(_floats(mu, "mu") ** 3)

    def dev_resids(self, y: npt.ArrayLike, mu: npt.ArrayLike, wt: npt.ArrayLike) -> FloatArray:
        yv, m, w = _floats(y, "y"), _floats(mu, "mu"), _floats(wt, "wt")
        with np.errstate(all="ignore"):
            d = yv - m
            return np.asarray(w * (d * d) / (yv * (m * m)))

    def aic(self, y: npt.ArrayLike, n: npt.ArrayLike | None, mu: npt.ArrayLike, wt: npt.ArrayLike, dev: float) -> float:
        yv, w = _floats(y, "y"), _floats(wt, "wt")
        with np.errstate(all="ignore"):
            sw = float(np.sum(w))
            return float(sw * (1 + np.log(dev / sw * 2 * _M_PI)) + 3 * np.sum(np.log(yv) * w) + 2)

    def loglik_saturated(
        self,
        y: npt.ArrayLike,
        wt: npt.ArrayLike | None = None,
        *,
        n: npt.ArrayLike | None = None,
        dispersion: float | None = None,
    ) -> float:
        phi = self._dispersion(dispersion)
        yv = _floats(y, "y")
        w = np.ones_like(yv) if wt is None else _floats(wt, "wt")
        with np.errstate(all="ignore"):
            return float(np.sum(w * (-0.5 * np.log(2 * _M_PI * phi * yv**3))))

    def valid_mu(self, mu: npt.ArrayLike) -> bool:
        return True

    def mustart(self, y: npt.ArrayLike, wt: npt.ArrayLike | None = None) -> FloatArray:
        return np.array(_floats(y, "y"), dtype=np.float64)

    def _support_problems(self, y: FloatArray, wt: FloatArray) -> list[tuple[npt.NDArray[np.bool_], str]]:
        return [(y <= 0, "positive values only are allowed for the 'inverse.gaussian' family")]


class NegativeBinomial(_Counts):
    """The negative binomial family with a known theta, MASS's ``negative.binomial(theta, link)``
    (what lme4's ``glmer.nb`` fits with, theta estimated: `mixedmodels.glmer_nb`): links log
    (default), sqrt, identity.

    ``variance = mu + mu^2 / theta``, ``dev_resids = 2 wt (y log(max(1, y) / mu) - (y + theta)
    log((y + theta) / (mu + theta)))``, ``aic = 2 sum wt ((y + theta) log(mu + theta) - y log(mu)
    + lgamma(y + 1) - theta log(theta) + lgamma(theta) - lgamma(theta + y))`` (MASS's, the
    negative binomial density's -2 log); the dispersion is fixed at 1. None of the links is the
    family's canonical one (log(mu / (mu + theta)), which R does not offer), so PIRLS uses the
    expected information, as lme4's.

    Parameters
    ----------
    theta : float
        The shape (size) parameter, finite and > 0; the Poisson is the limit theta -> infinity.
    link : str or Link, default "log"

    Examples
    --------
    >>> fam = NegativeBinomial(2.0)
    >>> fam
    NegativeBinomial(theta=2.0, link='log')
    >>> print(fam)
    Family: Negative Binomial(2), link: log
    >>> fam.variance([2.0]).tolist()
    [4.0]
    >>> round(fam.aic([0.0, 3.0], None, [1.0, 2.0], [1.0, 1.0], 0.0), 6)
    5.780744
    """

    __slots__ = ("_theta",)
    name = "negative.binomial"
    allowed_links = ("log", "sqrt", "identity")
    canonical_link = "log"
    dispersion_free = True

    _theta: float

    def __init__(self, theta: float, link: str | Link = "log") -> None:
        if isinstance(theta, bool) or not isinstance(theta, int | float | np.integer | np.floating):
            raise ArgumentError(f"theta must be a positive number, got {type(theta).__name__}")
        value = float(theta)
        if not (math.isfinite(value) and value > 0):
            raise ArgumentError(f"theta must be finite and positive, got {theta!r}")
        super().__init__(link)
        object.__setattr__(self, "_theta", value)

    @property
    def theta(self) -> float:
        """The negative binomial's theta (MASS's ``theta``, R's ``size``).

        Examples
        --------
        >>> NegativeBinomial(1.5).theta
        1.5
        """
        return self._theta

    @property
    def core_parameter(self) -> float:
        return self._theta

    @property
    def canonical(self) -> bool:
        """False: the family's canonical link, log(mu / (mu + theta)), is not one of R's links.

        Examples
        --------
        >>> NegativeBinomial(1.0).canonical
        False
        """
        return False

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Family):
            return NotImplemented
        return isinstance(other, NegativeBinomial) and other.theta == self.theta and other.link == self.link

    def __hash__(self) -> int:
        return hash((self.name, self.link.name, self.theta))

    def __reduce__(self) -> tuple[type[Family], tuple[float, str]]:  # type: ignore[override]
        return (type(self), (self.theta, self.link.name))

    def __repr__(self) -> str:
        return f"NegativeBinomial(theta={self.theta!r}, link={self.link.name!r})"

    def __str__(self) -> str:
        return f"Family: Negative Binomial({self.theta:.5g}), link: {self.link.name}"

    @property
    def label(self) -> str:
        """MASS's ``Negative Binomial(theta)`` with theta rounded to 4 decimals, as R formats it."""
        return f"Negative Binomial({round(self.theta, 4):.7g})"

    def variance(self, mu: npt.ArrayLike) -> FloatArray:
        m = _floats(mu, "mu")
        return np.asarray(m + m * m / self.theta, dtype=np.float64)

    def dev_resids(self, y: npt.ArrayLike, mu: npt.ArrayLike, wt: npt.ArrayLike) -> FloatArray:
        yv, m, w = np.broadcast_arrays(_floats(y, "y"), _floats(mu, "mu"), _floats(wt, "wt"))
        th = self.theta
        with np.errstate(all="ignore"):
            first = np.where(yv > 0, yv * np.log(np.maximum(1.0, yv) / m), 0.0)
            return np.asarray(2 * w * (first - (yv + th) * np.log((yv + th) / (m + th))))

    def aic(self, y: npt.ArrayLike, n: npt.ArrayLike | None, mu: npt.ArrayLike, wt: npt.ArrayLike, dev: float) -> float:
        yv, m, w = np.broadcast_arrays(_floats(y, "y"), _floats(mu, "mu"), _floats(wt, "wt"))
        th = self.theta
        with np.errstate(all="ignore"):
            ylogmu = np.where(yv > 0, yv * np.log(m), 0.0)
            term = (
                (yv + th) * np.log(m + th)
                - ylogmu
                + special.gammaln(yv + 1)
                - th * math.log(th)
                + special.gammaln(th)
                - special.gammaln(th + yv)
            )
            return float(2 * np.sum(term * w))

    def mustart(self, y: npt.ArrayLike, wt: npt.ArrayLike | None = None) -> FloatArray:
        yv = _floats(y, "y")
        return np.asarray(yv + (yv == 0) / 6)  # MASS's negative.binomial()$initialize

    def _support_problems(self, y: FloatArray, wt: FloatArray) -> list[tuple[npt.NDArray[np.bool_], str]]:
        return [(y < 0, "negative values not allowed for the negative binomial family")]


class Gaussian(Family):
    """The Gaussian family, R's ``gaussian(link)``: links identity (canonical), log, inverse.

    ``variance = 1``, ``dev_resids = wt (y - mu)^2``; the weights are precisions (the variance
    of row i is phi / wt_i). With the identity link lme4's ``glmer`` hands the model to ``lmer``.

    Parameters
    ----------
    link : str or Link, default "identity"

    Examples
    --------
    >>> Gaussian(link="log")
    Gaussian(link='log')
    >>> Gaussian().dev_resids([1.0, 3.0], [2.0, 2.0], [1.0, 2.0]).tolist()
    [1.0, 2.0]
    """

    __slots__ = ()
    name = "gaussian"
    allowed_links = ("inverse", "log", "identity")
    canonical_link = "identity"
    dispersion_free = False

    def __init__(self, link: str | Link = "identity") -> None:
        super().__init__(link)

    def variance(self, mu: npt.ArrayLike) -> FloatArray:
        return np.ones_like(_floats(mu, "mu"))

    def dev_resids(self, y: npt.ArrayLike, mu: npt.ArrayLike, wt: npt.ArrayLike) -> FloatArray:
        yv, m, w = _floats(y, "y"), _floats(mu, "mu"), _floats(wt, "wt")
        with np.errstate(all="ignore"):
            d = yv - m
            return np.asarray(w * (d * d))

    def aic(self, y: npt.ArrayLike, n: npt.ArrayLike | None, mu: npt.ArrayLike, wt: npt.ArrayLike, dev: float) -> float:
        nobs = _floats(y, "y").size
        w = _floats(wt, "wt")
        with np.errstate(all="ignore"):
            return float(nobs * (np.log(dev / nobs * 2 * _M_PI) + 1) + 2 - np.sum(np.log(w)))

    def loglik_saturated(
        self,
        y: npt.ArrayLike,
        wt: npt.ArrayLike | None = None,
        *,
        n: npt.ArrayLike | None = None,
        dispersion: float | None = None,
    ) -> float:
        phi = self._dispersion(dispersion)
        yv = _floats(y, "y")
        w = np.ones_like(yv) if wt is None else _floats(wt, "wt")
        with np.errstate(all="ignore"):
            sd = np.sqrt(phi / np.broadcast_to(w, yv.shape))
            dens = np.where(np.isfinite(sd), -(_M_LN_SQRT_2PI + np.log(sd)), -np.inf)  # R's dnorm(y, y, sd, log)
            return float(np.sum(dens))

    def valid_mu(self, mu: npt.ArrayLike) -> bool:
        return True

    def mustart(self, y: npt.ArrayLike, wt: npt.ArrayLike | None = None) -> FloatArray:
        yv = _floats(y, "y")
        name = self.link.name
        with np.errstate(all="ignore"):
            bad = np.atleast_1d((yv == 0) if name == "inverse" else (yv <= 0) if name == "log" else yv != yv)
        if name in ("inverse", "log") and np.any(bad):
            need = "y != 0" if name == "inverse" else "y > 0"
            raise DataError(
                f"cannot find valid starting values: please specify some (the gaussian family's {name} link "
                f"needs {need}; not at {_rows_text(bad, None)})"
            )
        return np.array(yv, dtype=np.float64)


# ---------------------------------------------------------------------------------------------- family()

_FAMILIES: dict[str, type[Family]] = {
    "binomial": Binomial,
    "poisson": Poisson,
    "gamma": Gamma,
    "inverse.gaussian": InverseGaussian,
    "gaussian": Gaussian,
}
_SPEC = re.compile(
    r"""^\s*(?P<name>[A-Za-z][A-Za-z0-9_.]*)\s*
    (?:\(\s*(?:(?:link\s*=\s*)?(?P<quote>['"]?)(?P<link>[^'"()]*?)(?P=quote))?\s*\))?\s*$""",
    re.VERBOSE,
)


def family(spec: str | Family | type[Family] | None = None, link: str | Link | None = None) -> Family:
    """A GLM family from R's spelling, a `Family` (returned as it is) or a `Family` subclass.

    Parameters
    ----------
    spec : str, Family, Family subclass or None
        ``"binomial"``, ``"poisson"``, ``"Gamma"`` (or ``"gamma"``), ``"inverse.gaussian"`` (or
        ``"inverse_gaussian"``), ``"gaussian"`` (any case), optionally with R's link argument:
        ``"binomial(link = 'probit')"``, ``"binomial(link=probit)"``, ``"poisson('sqrt')"``.
        None is the gaussian family (glm's default).
    link : str or Link, optional
        The link, when ``spec`` names none; an `ArgumentError` with a `Family` instance (it has its
        link) or with a different link in ``spec``.

    Returns
    -------
    Family

    Raises
    ------
    ArgumentError
        An unknown family (quasi families included: lme4 cannot fit them), or a link R does not
        allow for the family (the message lists the allowed ones).

    Examples
    --------
    >>> family("binomial")
    Binomial(link='logit')
    >>> family("Gamma", link="log")
    Gamma(link='log')
    >>> family('inverse.gaussian(link = "1/mu^2")')
    InverseGaussian(link='1/mu^2')
    >>> family("poisson(link = 'logit')")
    Traceback (most recent call last):
    ...
    mixedmodels.exceptions.ArgumentError: link 'logit' not available for the poisson family; available links are ...
    """
    if isinstance(spec, Family):
        if link is not None:
            raise ArgumentError(f"link= cannot be given with a Family ({spec!r} has its link): build Family(link=...)")
        return spec
    if isinstance(spec, type) and issubclass(spec, Family) and spec is not Family:
        return spec(link) if link is not None else spec()
    if spec is None:
        return Gaussian() if link is None else Gaussian(link)
    if not isinstance(spec, str):
        raise ArgumentError(f"family must be a family name (str) or a Family, got {type(spec).__name__}")
    match = _SPEC.match(spec)
    if match is None:
        raise ArgumentError(f"cannot read the family {spec!r}: write e.g. 'binomial' or \"binomial(link = 'probit')\"")
    key = match["name"].lower().replace("_", ".")
    if key.startswith("quasi"):
        raise ArgumentError(f"quasi families cannot be used in glmer (got {spec!r}), as in lme4")
    if key in ("negative.binomial", "negbin", "nb"):
        raise ArgumentError(
            f"the negative binomial family needs its theta: mixedmodels.families.NegativeBinomial(theta) for a known "
            f"theta, or mixedmodels.glmer_nb to estimate it (got {spec!r})"
        )
    cls = _FAMILIES.get("inverse.gaussian" if key == "inversegaussian" else key)
    if cls is None:
        known = ", ".join(c.name for c in _FAMILIES.values())
        raise ArgumentError(f"unknown family {match['name']!r}; the families are {known}")
    written = match["link"].strip() if match["link"] else None
    if written is not None and link is not None:
        given = link.name if isinstance(link, Link) else link
        if given != written:
            raise ArgumentError(f"two links given: {written!r} in {spec!r} and link={given!r}")
    chosen = written if written is not None else link
    return cls() if chosen is None else cls(chosen)


# ---------------------------------------------------------------------------------------------- responses


def _categorical(values: object) -> tuple[npt.NDArray[np.intp], list[object]] | None:
    """(codes, levels) of a pandas Categorical or categorical Series; None for anything else."""
    cat = getattr(values, "cat", None)  # a Series' .cat accessor (an AttributeError unless categorical)
    source = cat if cat is not None and hasattr(cat, "codes") else values
    codes, categories = getattr(source, "codes", None), getattr(source, "categories", None)
    if codes is None or categories is None:
        return None
    return np.asarray(codes, dtype=np.intp), list(categories)


def _missing(v: object) -> bool:
    if v is None:
        return True
    try:
        return bool(v != v)  # NaN, pandas.NA (whose != raises TypeError in bool())
    except TypeError:
        return True


def binomial_counts(
    successes: npt.ArrayLike, failures: npt.ArrayLike, rows: Iterable[object] | None = None
) -> tuple[FloatArray, FloatArray]:
    """The binomial response of R's ``cbind(successes, failures)``: proportions and totals.

    Parameters
    ----------
    successes, failures : array_like
        Counts, one-dimensional, of equal length.
    rows : iterable, optional
        Row labels for error messages; 0-based positions without it.

    Returns
    -------
    y : ndarray
        ``successes / (successes + failures)``; 0 where the total is 0 (as R).
    wt : ndarray
        The totals ``successes + failures`` (the prior weights: 0 where there are no trials).

    Raises
    ------
    DataError
        For negative, non-finite or non-integer counts (R warns "non-integer counts").

    Examples
    --------
    >>> y, wt = binomial_counts([1, 0, 3], [3, 0, 0])
    >>> y.tolist(), wt.tolist()
    ([0.25, 0.0, 1.0], [4.0, 0.0, 3.0])
    """
    s, f = _vector(successes, "successes"), _vector(failures, "failures")
    if s.shape != f.shape:
        raise ArgumentError(f"successes and failures must have the same length, got {len(s)} and {len(f)}")
    rows = _check_labels(rows, len(s))
    problems: list[str] = []
    for what, c in (("successes", s), ("failures", f)):
        with np.errstate(all="ignore"):
            bad = ~np.isfinite(c) | (c < 0) | _nonint(c, _NONINT_TOL)
        if np.any(bad):
            problems.append(f"the {what} must be non-negative integer counts: {_rows_text(bad, _labels(rows, len(s)))}")
    if problems:
        raise DataError("; ".join(problems))
    n = s + f
    with np.errstate(all="ignore"):
        y = np.where(n == 0, 0.0, s / n)
    return np.asarray(y, dtype=np.float64), n


def binomial_response(
    y_values: object, wt: npt.ArrayLike | None = None, rows: Iterable[object] | None = None
) -> tuple[FloatArray, FloatArray]:
    """Code a binomial response as R's ``binomial()$initialize``: proportions y and prior weights.

    Parameters
    ----------
    y_values : array_like, pandas Categorical or Series
        - numbers (0/1, or proportions with ``wt`` the numbers of trials) or booleans: y as floats;
        - a categorical (pandas ``Categorical`` or ``category`` Series) or strings: as R's factor
          response, the first level is failure (0) and every other level success (1). The levels
          are the categories in their order; for strings, the sorted distinct values (R's
          ``factor()`` sorts in the locale's collation, which can order mixed case differently);
        - a two-column array ``[successes, failures]``: R's ``cbind(s, f)`` (see
          `binomial_counts`), the totals multiplying ``wt``.
    wt : array_like, optional
        Prior weights; ones by default.
    rows : iterable, optional
        Row labels for error messages; 0-based positions without it.

    Returns
    -------
    y : ndarray
        The response as proportions (floats).
    wt : ndarray
        The prior weights.

    Raises
    ------
    DataError
        For a missing value in a categorical or string response, or bad counts.
    ArgumentError
        For a response that is neither numeric, boolean nor categorical, or of the wrong shape.

    Examples
    --------
    >>> y, wt = binomial_response(["no", "yes", "yes", "no"])
    >>> y.tolist(), wt.tolist()
    ([0.0, 1.0, 1.0, 0.0], [1.0, 1.0, 1.0, 1.0])
    >>> binomial_response([True, False])[0].tolist()
    [1.0, 0.0]
    >>> binomial_response([0.25, 1.0], wt=[4, 2])[1].tolist()
    [4.0, 2.0]
    """
    coded = _categorical(y_values)
    if coded is not None:
        codes, _levels = coded
        missing = codes < 0
        if np.any(missing):
            raise DataError(f"the response has missing values: {_rows_text(missing, _labels(rows, len(codes)))}")
        y = (codes != 0).astype(np.float64)
        return y, _weights(wt, len(y))
    arr = np.asarray(y_values)
    if arr.ndim == 2 and arr.shape[1] == 2:
        y, totals = binomial_counts(arr[:, 0], arr[:, 1], rows)
        return y, totals * _weights(wt, len(y))
    if arr.ndim != 1:
        raise ArgumentError(
            f"a binomial response must be one-dimensional (or two columns: successes, failures), got shape {arr.shape}"
        )
    if arr.dtype.kind in "OUS":
        values = arr.tolist()
        missing = np.array([_missing(v) for v in values], dtype=bool)
        if np.any(missing):
            raise DataError(f"the response has missing values: {_rows_text(missing, _labels(rows, len(values)))}")
        if values and all(isinstance(v, str | bytes) for v in values):
            first = sorted(set(values))[0]
            y = np.array([v != first for v in values], dtype=np.float64)
            return y, _weights(wt, len(y))
    try:
        y = np.asarray(arr, dtype=np.float64)
    except (TypeError, ValueError):
        raise ArgumentError(
            "a binomial response must be numbers (0/1 or proportions), booleans, a categorical or strings"
        ) from None
    return y, _weights(wt, len(y))
