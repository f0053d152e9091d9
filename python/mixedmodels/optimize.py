"""Minimising the profiled criterion over theta: NLopt's BOBYQA, then a derivative check."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import nlopt
import numpy as np

__all__ = ["OptimResult", "gradient_check", "minimize_theta", "scaled_gradient"]

ROUNDOFF_LIMITED = -4  # nlopt's NLOPT_ROUNDOFF_LIMITED

_MESSAGES = {
    ROUNDOFF_LIMITED: "roundoff-limited: the criterion cannot be improved at double precision",
    nlopt.SUCCESS: "success",
    nlopt.STOPVAL_REACHED: "stopval reached",
    nlopt.FTOL_REACHED: "ftol_rel or ftol_abs reached",
    nlopt.XTOL_REACHED: "xtol_rel or xtol_abs reached",
    nlopt.MAXEVAL_REACHED: "maximum number of evaluations reached",
    nlopt.MAXTIME_REACHED: "maximum time reached",
}


@dataclass(frozen=True)
class OptimResult:
    """Where the optimiser stopped and why."""

    theta: np.ndarray
    fun: float
    n_evals: int
    message: str
    hit_maxeval: bool


def _bobyqa(f, x0, lower, xtol, ftol, maxeval, step=None):
    n = x0.shape[0]
    opt = nlopt.opt(nlopt.LN_BOBYQA, n)
    opt.set_lower_bounds(lower.tolist())
    opt.set_xtol_abs(xtol)
    opt.set_ftol_abs(ftol)
    opt.set_maxeval(maxeval)
    if step is not None:
        opt.set_initial_step(step)
    best = {"x": x0.copy(), "f": np.inf, "n": 0}

    def obj(x, grad):
        v = f(x)
        best["n"] += 1
        if v < best["f"]:
            best["f"], best["x"] = v, np.array(x, copy=True)
        return v

    opt.set_min_objective(obj)
    try:
        x = opt.optimize(np.maximum(x0, lower).tolist())
        code = opt.last_optimize_result()
        fx = opt.last_optimum_value()
    except nlopt.RoundoffLimited:  # no further progress possible at double precision: keep the best point
        x, fx, code = best["x"], best["f"], ROUNDOFF_LIMITED
    if best["f"] < fx:  # never report worse than the best point seen
        x, fx = best["x"], best["f"]
    return np.asarray(x), float(fx), best["n"], code


def minimize_theta(
    f: Callable[[np.ndarray], float],
    x0: np.ndarray,
    lower: np.ndarray,
    *,
    xtol_abs: float = 1e-9,
    ftol_abs: float = 1e-10,
    maxeval: int = 100_000,
    step: np.ndarray | None = None,
) -> OptimResult:
    """Minimise f over theta subject to theta >= lower with BOBYQA, then try the boundary.

    The tolerances (absolute 1e-9 on theta, 1e-10 on the criterion) are tighter than lme4's
    ``nloptwrap`` defaults (1e-8 and 1e-8), which leave estimates up to ~1e-5 short of the optimum.

    A parameter that BOBYQA leaves just above its lower bound of 0 (a variance heading to zero, a
    correlation heading to +-1) is tried at exactly 0; if that is no worse the fit restarts from
    there, so near-singular fits reach the boundary optimum that lme4's default settings can miss.

    Examples
    --------
    >>> r = minimize_theta(lambda t: (t[0] - 1) ** 2 + (t[1] + 2) ** 2, np.array([1.0, 0.0]),
    ...                    np.array([0.0, -np.inf]))
    >>> np.round(r.theta, 6).tolist()
    [1.0, -2.0]
    """
    x0 = np.asarray(x0, dtype=float)
    lower = np.asarray(lower, dtype=float)
    x, fx, n, code = _bobyqa(f, x0, lower, xtol_abs, ftol_abs, maxeval, step)
    total = n
    near = np.flatnonzero((lower == 0.0) & (x > 0.0) & (x < 1e-3))
    if near.size and total < maxeval:
        xb = x.copy()
        xb[near] = 0.0
        fb = f(xb)
        total += 1
        if fb <= fx + 1e-10 * max(1.0, abs(fx)):
            step = np.maximum(np.abs(xb) * 0.01, 1e-4)
            x2, f2, n2, code2 = _bobyqa(f, xb, lower, xtol_abs, ftol_abs, maxeval - total, step)
            total += n2
            if f2 <= min(fb, fx):
                x, fx, code = x2, f2, code2
            elif fb <= fx:
                x, fx = xb, fb
    return OptimResult(
        theta=x,
        fun=fx,
        n_evals=total,
        message=_MESSAGES.get(code, f"nlopt result {code}"),
        hit_maxeval=code == nlopt.MAXEVAL_REACHED,
    )


def gradient_check(
    f: Callable[[np.ndarray], float], x: np.ndarray, lower: np.ndarray, fx: float, h: float = 1e-4
) -> tuple[np.ndarray, np.ndarray]:
    """Finite-difference gradient and Hessian diagonal at x, as lme4's derivative check.

    Central differences with step h (lme4's ``deriv12`` uses 1e-4); a parameter at (or within h of)
    its lower bound gets a one-sided difference and, when the criterion increases into the feasible
    region (the optimality condition at a bound), a gradient of 0. Costs 2 evaluations per parameter.

    Returns
    -------
    gradient, hessian_diagonal : ndarray
    """
    g = np.zeros_like(x)
    hd = np.full_like(x, np.nan)
    for i in range(x.shape[0]):
        up = x.copy()
        up[i] += h
        fu = f(up)
        if x[i] - h >= lower[i]:
            dn = x.copy()
            dn[i] -= h
            fd = f(dn)
            g[i] = (fu - fd) / (2 * h)
            hd[i] = (fu - 2 * fx + fd) / (h * h)
        else:
            d = (fu - fx) / h
            g[i] = 0.0 if d >= 0 else d  # at (or within h of) the bound, increasing inwards: optimal
    return g, hd


def scaled_gradient(g: np.ndarray, hess_diag: np.ndarray) -> np.ndarray:
    """lme4's convergence measure per parameter: the smaller of |gradient| and the gradient scaled
    by the curvature (here the Hessian's diagonal)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        sc = np.where(hess_diag > 0, np.abs(g) / np.sqrt(hess_diag), np.abs(g))
    return np.minimum(sc, np.abs(g))


def moment_start(design, diag: list, xy: list, xx: np.ndarray) -> np.ndarray:
    """A starting theta from moments of the OLS residuals, computed from the blocks of A alone
    (``Engine.a_blocks()``), so streamed and in-memory fits start at the same point.

    For each random-effects column z of each grouping factor, the per-level least-squares
    coefficient of the residuals on z estimates that level's effect; the spread of those
    coefficients across levels, less their average sampling variance, estimates the variance
    component, and theta's diagonal entry is its ratio to the residual SD (the within-level
    residual variance of a factor with an intercept column). Off-diagonal entries start at 0.
    Starting near the optimum saves BOBYQA a good share of its evaluations.
    """
    p = design.p
    n = design.nobs
    xtx, xty, yty = xx[:p, :p], xx[:p, p], xx[p, p]
    beta = np.linalg.lstsq(xtx, xty, rcond=None)[0] if p else np.zeros(0)
    ete = max(float(yty - 2 * beta @ xty + beta @ xtx @ beta), 0.0)
    within = []
    sze_all = []
    for f, d, w in zip(design.factors, diag, xy, strict=True):
        k = f.k
        # sum over each level of z_a * e = sum z_a y - sum z_a x' beta
        zw = w.reshape(p + 1, f.nlev, k)
        sze = zw[p] - np.einsum("m,mla->la", beta, zw[:p])
        sze_all.append(sze)
        ones = [a for a in range(k) if f.columns[a] == "(Intercept)"]
        if ones:
            a = ones[0]
            cnt = d[:, a, a]
            dfw = n - f.nlev
            if dfw > 0:
                within.append(max((ete - float((sze[:, a] ** 2 / np.maximum(cnt, 1)).sum())) / dfw, 0.0))
    sigma2 = min(within) if within else ete / max(n - p, 1)
    sigma2 = max(sigma2, 1e-12 * max(ete / max(n, 1), 1e-300))
    theta = np.where(design.theta_lower == 0.0, 1.0, 0.0)
    for f, d, sze in zip(design.factors, diag, sze_all, strict=True):
        for col in range(f.k):
            szz = d[:, col, col]
            ok = szz > 0
            if ok.sum() < 2:
                continue
            coef = sze[ok, col] / szz[ok]
            tau2 = np.var(coef) - np.mean(sigma2 / szz[ok])
            ratio = np.sqrt(max(tau2, 0.0) / sigma2)
            idx = f.theta_index[(f.theta_row == col) & (f.theta_col == col)]
            theta[idx] = min(max(ratio, 0.05), 10.0)
    return theta
