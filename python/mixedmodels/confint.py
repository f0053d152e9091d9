"""Confidence intervals named as lme4's ``confint.merMod`` (.sig01, ..., .sigma, fixed effects):
likelihood profiles, Wald, and the parametric bootstrap."""

from __future__ import annotations

import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pandas as pd
from scipy import optimize as sopt
from scipy import stats

from .exceptions import MixedModelsError
from .fit import fit_design, unit_theta_scale
from .optimize import _bobyqa
from .simulate import refit_parameters, simulate
from .varpar import sdcor_bounds, sdcor_names, sdcor_to_theta, theta_to_sdcor

__all__ = ["confint"]


def _columns(level: float) -> list[str]:
    a = (1 - level) / 2
    return [f"{100 * a:.3g} %", f"{100 * (1 - a):.3g} %"]


def confint(m, method: str = "profile", level: float = 0.95, **kwargs) -> pd.DataFrame:
    """Confidence intervals for every variance parameter and fixed effect (see `LmerResult.confint`)."""
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1, got {level}")
    method = method.lower()
    if method == "wald":
        return _wald(m, level)
    if method == "profile":
        return _profile(m, level)
    if method in ("boot", "bootstrap"):
        return _boot(m, level, **kwargs)
    raise ValueError(f"method must be 'profile', 'wald' or 'boot', not {method!r}")


def _wald(m, level: float) -> pd.DataFrame:
    z = stats.norm.ppf((1 + level) / 2)
    names = sdcor_names(m.design) + list(m.fixef.index)
    lo = [np.nan] * (len(names) - len(m.fixef)) + list(m.fixef - z * m.fixef_se)
    hi = [np.nan] * (len(names) - len(m.fixef)) + list(m.fixef + z * m.fixef_se)
    return pd.DataFrame({c: v for c, v in zip(_columns(level), (lo, hi), strict=True)}, index=names)


# ------------------------------------------------------------------------------------ profile


class _Profiler:
    """ML deviance profiles on lme4's sd/cor/sigma scale and for each fixed effect."""

    def __init__(self, m) -> None:
        d = m.design
        self.design = d
        self.ml = m if not m.reml else fit_design(d, reml=False, start=m.theta)
        self.engine = d.make_engine()
        self.n, self.p = d.nobs, d.p
        self.vhat = theta_to_sdcor(d, self.ml.theta, self.ml.sigma)
        self.lo, self.hi = sdcor_bounds(d)
        self.base = self.ml.objective
        # The optimisations run in unit-scale coordinates: theta times its column's scale (as in
        # fit.working_engines); on the sd/cor scale each sd times its column's scale over sigma's
        # estimate, and sigma over its estimate (correlations as they are).
        self.theta_scale = unit_theta_scale(d, self.engine)
        s = self.ml.sigma if self.ml.sigma > 0 else 1.0
        self.unit = np.append(np.where(d.theta_lower == 0.0, self.theta_scale / s, 1.0), 1.0 / s)

    def dev_sdcor(self, v: np.ndarray) -> float:
        theta = sdcor_to_theta(self.design, v)
        if theta is None or v[-1] <= 0:
            return 1e300
        ldl2, _, pwrss = self.engine.update(theta)
        s2 = v[-1] ** 2
        return ldl2 + pwrss / s2 + self.n * np.log(2 * np.pi * s2)

    def dev_beta(self, theta: np.ndarray, j: int, b: float) -> float:
        ldl2, _, pwrss = self.engine.update(np.asarray(theta, dtype=float))
        beta, _ = self.engine.solve()
        vjj = float(self.engine.rx_inverse_crossprod()[j, j])
        r2 = pwrss + (b - beta[j]) ** 2 / vjj
        return ldl2 + self.n * (1 + np.log(2 * np.pi * r2 / self.n))

    @staticmethod
    def _minimize(f, x0, lo, hi, unit) -> tuple[float, np.ndarray]:
        """Minimise f over lo <= x <= hi from x0, working on x * unit (unit-scale coordinates)."""
        if x0.shape[0] == 0:
            return f(x0), x0
        lo_, hi_ = lo * unit, hi * unit
        start = np.clip(x0 * unit, lo_, hi_)
        xw, fx, _, _ = _bobyqa(
            lambda xw: f(np.asarray(xw) / unit), start, lo_, 1e-9, 1e-10, 0, np.maximum(0.05 * np.abs(start), 1e-3), hi_
        )
        return fx, np.asarray(xw) / unit

    def zeta_var(self, i: int, val: float, warm: dict) -> float:
        """Signed root of the profiled deviance increase. The inner problem is not convex (a
        correlation profile can slide onto a plateau where a SD is zero), so it starts both from
        the previous profile point and from the optimum, and keeps the better."""
        free = np.arange(self.vhat.shape[0]) != i

        def f(x):
            v = self.vhat.copy()
            v[free] = x
            v[i] = val
            return self.dev_sdcor(v)

        best = (np.inf, None)
        for x0 in ([warm[i]] if i in warm else []) + [self.vhat[free]]:
            dev, x = self._minimize(f, x0, self.lo[free], self.hi[free], self.unit[free])
            if dev < best[0]:
                best = (dev, x)
        warm[i] = best[1]
        return np.sign(val - self.vhat[i]) * np.sqrt(max(best[0] - self.base, 0.0))

    def zeta_beta(self, j: int, b: float, warm: dict) -> float:
        d = self.design
        x0 = warm.get(("b", j), self.ml.theta)
        dev, x = self._minimize(
            lambda th: self.dev_beta(th, j, b), x0, d.theta_lower, np.full(x0.shape, np.inf), self.theta_scale
        )
        warm[("b", j)] = x
        return np.sign(b - self.ml.fixef.iloc[j]) * np.sqrt(max(dev - self.base, 0.0))


def _interval(zeta, center: float, step: float, lo: float, hi: float, z: float) -> tuple[float, float]:
    out = []
    for sign, bound in ((-1, lo), (1, hi)):
        prev = center
        k = 0
        found = None
        while k < 60:
            val = center + sign * step * 2 ** (k / 2)
            if (sign < 0 and val <= bound) or (sign > 0 and val >= bound):
                zb = zeta(bound)
                if abs(zb) < z:
                    found = bound
                else:
                    found = sopt.brentq(lambda v: abs(zeta(v)) - z, prev, bound, xtol=1e-9, rtol=1e-10)
                break
            zv = zeta(val)
            if abs(zv) >= z:
                found = sopt.brentq(lambda v: abs(zeta(v)) - z, prev, val, xtol=1e-9, rtol=1e-10)
                break
            prev = val
            k += 1
        out.append(np.nan if found is None else found)
    return out[0], out[1]


def _profile(m, level: float) -> pd.DataFrame:
    if m.design.fixed_spec is None and m.design.frame is None:
        pass  # profiles need only the engine; array fits work too
    z = stats.norm.ppf((1 + level) / 2)
    pr = _Profiler(m)
    names = sdcor_names(m.design)
    rows = {}
    for i, name in enumerate(names):
        warm: dict = {}
        u = pr.unit[i]  # profiled on the unit scale: value * u
        c = pr.vhat[i] * u
        is_cor = pr.lo[i] == -1.0
        step = 0.1 if is_cor else max(0.2 * abs(c), 1e-3)
        lo, hi = _interval(
            lambda w, i=i, u=u, warm=warm: pr.zeta_var(i, w / u, warm), c, step, pr.lo[i] * u, pr.hi[i] * u, z
        )
        rows[name] = (lo / u, hi / u)
    for j, name in enumerate(pr.ml.fixef.index):
        warm = {}
        c = pr.ml.fixef.iloc[j]
        se = float(pr.ml.fixef_se.iloc[j]) or 1.0  # profiled in standard errors from the estimate
        lo, hi = _interval(
            lambda t, j=j, c=c, se=se, warm=warm: pr.zeta_beta(j, c + t * se, warm), 0.0, 1.0, -np.inf, np.inf, z
        )
        rows[name] = (c + lo * se, c + hi * se)
    cols = _columns(level)
    return pd.DataFrame(rows, index=cols).T


# ------------------------------------------------------------------------------------ bootstrap


def _boot_chunk(design, reml, theta0, ys):
    out = []
    for s in range(ys.shape[1]):
        theta, sigma, beta, _ = refit_parameters(design, ys[:, s], reml, theta0)
        out.append(np.concatenate([theta_to_sdcor(design, theta, sigma), beta]))
    return np.array(out)


def bootstrap(m, nsim: int = 500, seed=None, n_jobs: int = 1, progress: bool | None = None) -> pd.DataFrame:
    """Parametric bootstrap: simulate nsim responses from the fit, refit each, and return the
    estimates (rows = replicates, columns = .sig01, ..., .sigma, fixed effects)."""
    if nsim < 1:
        raise ValueError("nsim must be at least 1")
    if progress is None:
        progress = sys.stderr.isatty()
    ys = simulate(m, nsim=nsim, seed=seed).to_numpy()
    names = sdcor_names(m.design) + list(m.fixef.index)
    chunk = max(1, min(50, nsim // max(1, 4 * n_jobs)))
    pieces = [ys[:, i : i + chunk] for i in range(0, nsim, chunk)]
    results = []
    t0 = time.perf_counter()

    def report(done):
        if progress:
            el = time.perf_counter() - t0
            sys.stderr.write(f"\rbootstrap: {done}/{nsim} refits, {el:.1f} s")
            sys.stderr.flush()

    if n_jobs == 1:
        done = 0
        for piece in pieces:
            results.append(_boot_chunk(m.design, m.reml, m.theta, piece))
            done += piece.shape[1]
            report(done)
    else:
        workers = os.cpu_count() if n_jobs < 0 else n_jobs
        with ProcessPoolExecutor(max_workers=workers) as ex:
            futs = [ex.submit(_boot_chunk, m.design, m.reml, m.theta, piece) for piece in pieces]
            done = 0
            for fut, piece in zip(futs, pieces, strict=True):
                results.append(fut.result())
                done += piece.shape[1]
                report(done)
    if progress:
        sys.stderr.write("\n")
    return pd.DataFrame(np.vstack(results), columns=names)


def _boot(m, level: float, nsim: int = 500, seed=None, n_jobs: int = 1, progress: bool | None = None) -> pd.DataFrame:
    draws = bootstrap(m, nsim=nsim, seed=seed, n_jobs=n_jobs, progress=progress)
    a = (1 - level) / 2
    q = draws.quantile([a, 1 - a]).T
    q.columns = _columns(level)
    if q.isna().any().any():
        raise MixedModelsError("bootstrap produced missing estimates")
    return q
