"""Multiplicity adjustments for families of t (or z) tests, as R's emmeans does them: p-values
(``.adj.p.value``) and critical values for simultaneous intervals (``.adj.critval``).

The studentized range is scipy's (`scipy.stats.studentized_range`, R's ``ptukey``); its quantile
is found with R's own ``qtukey`` iteration (Odeh-Evans start, secant steps until they change by
less than 1e-4), and emmeans' approximate Dunnett quantile with R's ``uniroot`` (Brent's method,
``tol = 5e-4``), so that the intervals agree with emmeans' to far better than those tolerances.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import special

from .exceptions import ArgumentError

__all__ = [
    "ADJUSTMENTS",
    "Adjusted",
    "adjust_critical",
    "adjust_p",
    "p_adjust",
    "pdunnx",
    "ptukey",
    "qdunnx",
    "qtukey",
]

FloatArray = NDArray[np.float64]

P_ADJUST = ("holm", "hochberg", "bonferroni", "BH", "BY", "fdr")  # R's p.adjust methods we have
ADJUSTMENTS = ("none", "tukey", "sidak", "dunnettx", "scheffe", *P_ADJUST)


# ---------------------------------------------------------------------------- distributions
def pt_upper(t: FloatArray, df: FloatArray) -> FloatArray:
    """P(T > t) for Student's t with ``df`` degrees of freedom (the normal where df is infinite)."""
    t = np.asarray(t, dtype=float)
    df = np.broadcast_to(np.asarray(df, dtype=float), t.shape)
    out = np.where(np.isinf(df), special.ndtr(-t), special.stdtr(np.where(np.isinf(df), 1.0, df), -t))
    return np.asarray(out, dtype=float)


def qt(p: float, df: FloatArray) -> FloatArray:
    """Quantile p of Student's t (the normal where df is infinite), elementwise in df."""
    df = np.asarray(df, dtype=float)
    out = np.where(np.isinf(df), special.ndtri(p), special.stdtrit(np.where(np.isinf(df), 1.0, df), p))
    return np.asarray(out, dtype=float)


def pf_lower(x: FloatArray, d1: float, d2: FloatArray) -> FloatArray:
    """P(F <= x) for F(d1, d2) (chi-square/d1 where d2 is infinite)."""
    x = np.asarray(x, dtype=float)
    d2 = np.broadcast_to(np.asarray(d2, dtype=float), x.shape)
    finite = special.fdtr(d1, np.where(np.isinf(d2), 1.0, d2), x)
    return np.asarray(np.where(np.isinf(d2), special.chdtr(d1, d1 * x), finite), dtype=float)


def ptukey(q: FloatArray, nmeans: float, df: FloatArray) -> FloatArray:
    """R's ``ptukey(q, nmeans, df)``: the studentized range distribution function (scipy's)."""
    from scipy.stats import studentized_range  # heavy; only the adjustments need it

    q = np.asarray(q, dtype=float)
    df = np.broadcast_to(np.asarray(df, dtype=float), q.shape)
    out = np.empty(q.shape)
    for i, (qi, di) in enumerate(zip(q.ravel(), df.ravel(), strict=True)):
        out.flat[i] = 0.0 if qi <= 0 else float(studentized_range.cdf(qi, nmeans, di))
    return out


def _qtukey_start(p: float, c: float, v: float) -> float:
    """R's ``qinv``: the Odeh-Evans start of ``qtukey``."""
    p0, q0 = 0.322232421088, 0.993484626060e-01
    p1, q1 = -1.0, 0.588581570495
    p2, q2 = -0.342242088547, 0.531103462366
    p3, q3 = -0.204231210125, 0.103537752850
    p4, q4 = -0.453642210148e-04, 0.38560700634e-02
    c1, c2, c3, c4, c5 = 0.8832, 0.2368, 1.214, 1.208, 1.4142
    vmax = 120.0
    ps = 0.5 - 0.5 * p
    yi = math.sqrt(math.log(1.0 / (ps * ps)))
    t = yi + ((((yi * p4 + p3) * yi + p2) * yi + p1) * yi + p0) / ((((yi * q4 + q3) * yi + q2) * yi + q1) * yi + q0)
    if v < vmax:
        t += (t * t * t + t) / v / 4.0
    q = c1 - c2 * t
    if v < vmax:
        q += -c3 / v + c4 * t / v
    return t * (q * math.log(c - 1.0) + c5)


def qtukey(p: float, nmeans: float, df: float) -> float:
    """R's ``qtukey(p, nmeans, df)``, by R's own secant iteration (so as to agree with it to well
    below its 1e-4 stopping step).

    Examples
    --------
    >>> round(qtukey(0.95, 3, 42.0), 6)  # R: 3.435823
    3.435823
    """
    if nmeans < 2 or df < 2:
        raise ArgumentError(f"qtukey needs nmeans >= 2 and df >= 2, got {nmeans} and {df}")

    def f(x: float) -> float:
        return float(ptukey(np.array([x]), nmeans, np.array([df]))[0]) - p

    x0 = _qtukey_start(p, nmeans, df)
    valx0 = f(x0)
    x1 = max(0.0, x0 - 1.0) if valx0 > 0.0 else x0 + 1.0
    valx1 = f(x1)
    ans = x1
    for _ in range(1, 50):
        ans = x1 - (valx1 * (x1 - x0)) / (valx1 - valx0)
        valx0 = valx1
        x0 = x1
        if ans < 0.0:
            ans = 0.0
        valx1 = f(ans)
        x1 = ans
        if abs(x1 - x0) < 0.0001:
            return ans
    return ans


def pdunnx(x: FloatArray, k: float, df: FloatArray) -> FloatArray:
    """emmeans' approximate Dunnett distribution (``.pdunnx``): a mix, weights (k-1)/k and 1/k, of
    the Tukey distribution for the family whose number of pairs is k and the Sidak-corrected t."""
    twt = (k - 1) / k
    fam = (1 + math.sqrt(1 + 8 * k)) / 2
    x = np.asarray(x, dtype=float)
    tuk = ptukey(math.sqrt(2) * x, fam, df)
    sid = pf_lower(x**2, 1.0, df) ** k
    return np.asarray(twt * tuk + (1 - twt) * sid, dtype=float)


def _zeroin(f: Callable[[float], float], a: float, b: float, fa: float, fb: float, tol: float) -> float:
    """R's ``R_zeroin2`` (Brent's root finder, as ``uniroot`` calls it)."""
    eps = np.finfo(float).eps
    c, fc = a, fa
    if fa == 0.0:
        return a
    if fb == 0.0:
        return b
    for _ in range(1001):
        prev_step = b - a
        if abs(fc) < abs(fb):
            a, b, c = b, c, b
            fa, fb, fc = fb, fc, fb
        tol_act = 2 * eps * abs(b) + tol / 2
        new_step = (c - b) / 2
        if abs(new_step) <= tol_act or fb == 0.0:
            return b
        if abs(prev_step) >= tol_act and abs(fa) > abs(fb):
            cb = c - b
            if a == c:
                t1 = fb / fa
                p = cb * t1
                q = 1.0 - t1
            else:
                q = fa / fc
                t1 = fb / fc
                t2 = fb / fa
                p = t2 * (cb * q * (q - t1) - (b - a) * (t1 - 1.0))
                q = (q - 1.0) * (t1 - 1.0) * (t2 - 1.0)
            if p > 0:
                q = -q
            else:
                p = -p
            if p < (0.75 * cb * q - abs(tol_act * q) / 2) and p < abs(prev_step * q / 2):
                new_step = p / q
        if abs(new_step) < tol_act:
            new_step = tol_act if new_step > 0 else -tol_act
        a, fa = b, fb
        b += new_step
        fb = f(b)
        if (fb > 0 and fc > 0) or (fb < 0 and fc < 0):
            c, fc = a, fa
    return b


def qdunnx(p: float, k: float, df: float) -> float:
    """emmeans' approximate Dunnett quantile (``.qdunnx``): the root of pdunnx(x) = p between the
    Tukey and the Sidak quantiles, found as R's ``uniroot(tol = 5e-4)`` finds it.

    Examples
    --------
    >>> round(qdunnx(0.95, 2, 42.0), 3)
    2.301
    """
    if k < 1.005:
        return float(qt(1 - 0.5 * (1 - p), np.array(df)))
    fam = (1 + math.sqrt(1 + 8 * k)) / 2
    xtuk = qtukey(p, fam, df) / math.sqrt(2)
    xsid = math.sqrt(_qf(p ** (1 / k), 1.0, df))
    if abs(xtuk - xsid) < 0.0005:
        return xtuk
    if xtuk >= xsid:  # uniroot refuses lower >= upper; emmeans then keeps the Tukey quantile
        return xtuk

    def fcn(x: float) -> float:
        return float(pdunnx(np.array([x]), k, np.array([df]))[0]) - p

    flo, fhi = fcn(xtuk), fcn(xsid)
    if flo * fhi > 0:
        return xtuk
    return _zeroin(fcn, xtuk, xsid, flo, fhi, 0.0005)


def _qf(p: float, d1: float, d2: float) -> float:
    if math.isinf(d2):
        return float(special.chdtri(d1, 1 - p)) / d1
    return float(special.fdtri(d1, d2, p))


# ---------------------------------------------------------------------------- R's p.adjust
def p_adjust(p: FloatArray, method: str) -> FloatArray:
    """R's ``p.adjust(p, method)`` for holm, hochberg, bonferroni, BH (= fdr), BY and none.

    Examples
    --------
    >>> p_adjust(np.array([0.01, 0.04, 0.03]), "holm").round(3).tolist()
    [0.03, 0.06, 0.06]
    """
    p = np.asarray(p, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    q = p[ok]
    n = q.size
    if n == 0 or method == "none":
        return p.copy()
    if method == "bonferroni":
        r = np.minimum(1.0, n * q)
    elif method == "holm":
        o = np.argsort(q, kind="stable")
        i = np.arange(1, n + 1)
        r = np.empty(n)
        r[o] = np.minimum(1.0, np.maximum.accumulate((n - i + 1) * q[o]))
    elif method in ("hochberg", "BH", "fdr", "BY"):
        o = np.argsort(-q, kind="stable")
        i = np.arange(n, 0, -1)
        if method == "hochberg":
            s = (n + 1 - i) * q[o]
        else:
            s = n / i * q[o] * (float(np.sum(1 / np.arange(1, n + 1))) if method == "BY" else 1.0)
        r = np.empty(n)
        r[o] = np.minimum(1.0, np.minimum.accumulate(s))
    else:
        raise ArgumentError(f"unknown p-value adjustment {method!r}")
    out[ok] = r
    return out


def zapsmall(x: FloatArray, digits: int = 7) -> FloatArray:
    """R's ``zapsmall`` (emmeans rounds the df with it before ``ptukey``)."""
    x = np.asarray(x, dtype=float)
    fin = x[~np.isnan(x)]
    mx = float(np.max(np.abs(fin))) if fin.size else 0.0
    if mx > 0:
        lg = math.ceil(math.log10(mx)) if math.isfinite(mx) else math.inf
        d = max(0, int(digits - lg)) if math.isfinite(lg) else 0
    else:
        d = digits
    return np.round(x, d)


# ---------------------------------------------------------------------------- emmeans' adjustments
@dataclass(frozen=True)
class Adjusted:
    """The adjusted values with emmeans' footer message and the method actually used (emmeans
    changes tukey to sidak for a family that is not one set of pairwise comparisons)."""

    result: FloatArray
    method: str
    message: str | None
    note: str | None


def _changed(old: str, new: str, reason: str) -> str:
    return f'Note: adjust = "{old}" was changed to "{new}"\nbecause "{old}" is {reason}'


def _rank(lf: FloatArray) -> int:
    return int(np.linalg.matrix_rank(lf)) if lf.size else 0


def adjust_p(
    t: FloatArray,
    df: FloatArray,
    method: str,
    fam_size: int,
    by_rows: Sequence[NDArray[np.intp]],
    pairs: bool,
    linfct: FloatArray,
) -> Adjusted:
    """Two-sided p-values for the t ratios ``t``, adjusted within each ``by`` panel as emmeans's
    ``.adj.p.value`` does (``fam_size`` is emmeans' famSize: the levels compared)."""
    n_contr = len(t) // max(len(by_rows), 1)
    note = None
    if n_contr == 1 and method != "scheffe":
        method = "none"
    if method == "tukey" and not pairs:
        note = _changed("tukey", "sidak", "only appropriate for one set of pairwise comparisons")
        method = "sidak"
    ragged = method in P_ADJUST
    groups = list(by_rows) if ragged or method == "scheffe" else [np.arange(len(t))]
    df = np.where(np.isnan(df), np.inf, df)
    punadj = 2 * pt_upper(np.abs(t), df)
    pval = np.empty(len(t))
    fs: float = fam_size
    nc = n_contr
    for rows in groups:
        up, abst, d = punadj[rows], np.abs(t[rows]), df[rows]
        if ragged:
            nc = max(int(np.sum(~np.isnan(up))), 1)
            fs = (1 + math.sqrt(1 + 8 * nc)) / 2
        if method in P_ADJUST:
            pval[rows] = p_adjust(up, method)
        elif method == "none":
            pval[rows] = up
        elif method == "sidak":
            pval[rows] = 1 - (1 - up) ** nc
        elif method == "tukey":
            pval[rows] = 1 - ptukey(math.sqrt(2) * abst, fs, zapsmall(d))
        elif method == "scheffe":
            r = _rank(linfct[rows])
            pval[rows] = 1 - pf_lower(t[rows] ** 2 / r, r, d)
        elif method == "dunnettx":
            pval[rows] = 1 - pdunnx(abst, nc, d)
        else:  # pragma: no cover - checked by the caller
            raise ArgumentError(f"unknown adjustment {method!r}")
    if ragged:
        nc = max(len(r) for r in by_rows)
        fs = (1 + math.sqrt(1 + 8 * nc)) / 2
    chk = {"none": 1, "tukey": 2, "scheffe": 3}.get(method, 99)
    message = None
    if chk > 1 and not (fs < 3 and chk < 10):
        if method == "tukey":
            xtra = f"for comparing a family of {_num(fs)} estimates"
        elif method == "scheffe":
            xtra = f"with rank {_rank(linfct[by_rows[0]])}"
        else:
            xtra = f"for {nc} tests"
        message = f"P value adjustment: {_r_method(method)} method {xtra}"
    return Adjusted(pval, method, message, note)


def adjust_critical(
    df: FloatArray,
    level: float,
    method: str,
    fam_size: int,
    by_rows: Sequence[NDArray[np.intp]],
    pairs: bool,
    linfct: FloatArray,
) -> Adjusted:
    """Two-sided critical values for simultaneous intervals at ``level``, as emmeans'
    ``.adj.critval`` (methods without an interval version, such as holm, give Bonferroni's)."""
    n_contr = len(df) // max(len(by_rows), 1)
    note = None
    if n_contr == 1 and method != "scheffe":
        method = "none"
    if method not in ("sidak", "tukey", "scheffe", "dunnettx", "bonferroni", "none"):
        method = "bonferroni"
    if method == "tukey" and not pairs:
        note = _changed("tukey", "sidak", "only appropriate for one set of pairwise comparisons")
        method = "sidak"
    df = np.where(np.isnan(df), np.inf, df)
    cv = np.empty(len(df))
    groups = [np.arange(len(df))] if len(np.unique(df)) == 1 and method != "scheffe" else list(by_rows)
    for rows in groups:
        d = df[rows]
        if method == "none":
            cv[rows] = -qt((1 - level) / 2, d)
        elif method == "sidak":
            cv[rows] = -qt((1 - level ** (1 / n_contr)) / 2, d)
        elif method == "bonferroni":
            cv[rows] = -qt((1 - level) / n_contr / 2, d)
        elif method == "tukey":
            cv[rows] = [_cached(qtukey, level, float(fam_size), float(di)) / math.sqrt(2) for di in d]
        elif method == "scheffe":
            r = _rank(linfct[rows])
            cv[rows] = [math.sqrt(r * _qf(level, r, float(di))) for di in d]
        else:  # dunnettx
            cv[rows] = [_cached(qdunnx, level, float(n_contr), float(di)) for di in d]
    chk = {"none": 1, "tukey": 2, "scheffe": 3}.get(method, 99)
    message = None
    if chk > 1 and not (fam_size < 3 and chk < 10):
        if method == "tukey":
            xtra = f"for comparing a family of {_num(fam_size)} estimates"
        elif method == "scheffe":
            xtra = f"with rank {_rank(linfct[by_rows[0]])}"
        else:
            xtra = f"for {n_contr} estimates"
        message = f"Conf-level adjustment: {method} method {xtra}"
    return Adjusted(cv, method, message, note)


_QCACHE: dict[tuple[str, float, float, float], float] = {}


def _cached(fn: Callable[[float, float, float], float], p: float, k: float, df: float) -> float:
    key = (fn.__name__, p, k, df)
    if key not in _QCACHE:
        _QCACHE[key] = fn(p, k, df)
    return _QCACHE[key]


def _num(x: float) -> str:
    return format(x, ".15g")


def _r_method(method: str) -> str:
    return {"fdr": "fdr", "BH": "BH", "BY": "BY"}.get(method, method)
