"""Confidence intervals named as lme4's ``confint.merMod`` (.sig01, ..., .sigma, fixed effects):
likelihood profiles, Wald, and the parametric bootstrap (lme4's ``bootMer``, for lmer fits and, in
`glmm_bootstrap`, for glmer fits)."""

from __future__ import annotations

import functools
import math
import sys
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any, TypeVar

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import special

from . import _core
from .arguments import available_cpus, check_level
from .exceptions import ArgumentError, ConvergenceWarning, CoreError, DataError, MixedModelsError, warn
from .fitted import LmerFit
from .glmm import GeneralizedLinearMixedModel
from .model import LinearMixedModel
from .optimize import BobyqaSettings, bobyqa
from .simulate import Seed, refit_parameters, simulate

__all__ = ["boot_percentiles", "bootstrap", "confint", "glmm_bootstrap", "glmm_profile"]

FloatArray = NDArray[np.float64]


def _columns(level: float) -> list[str]:
    a = (1 - level) / 2
    return [f"{100 * a:.3g} %", f"{100 * (1 - a):.3g} %"]


def confint(m: LmerFit, method: str = "profile", level: float = 0.95, **kwargs: Any) -> pd.DataFrame:
    """Confidence intervals for every variance parameter and fixed effect (see `LmerResult.confint`)."""
    level = check_level(level)
    if not isinstance(method, str):
        raise ArgumentError(f"method must be 'profile', 'wald' or 'boot', got {type(method).__name__}")
    method = method.lower()
    if method == "wald":
        return _wald(m, level)
    if method == "profile":
        return _profile(m, level)
    if method in ("boot", "bootstrap"):
        return _boot(m, level, **kwargs)
    raise ArgumentError(f"method must be 'profile', 'wald' or 'boot', not {method!r}")


def _wald(m: LmerFit, level: float) -> pd.DataFrame:
    z = special.ndtri((1 + level) / 2)
    names = m.structure.theta.sdcor_names + list(m.fixef.index)
    lo = [np.nan] * (len(names) - len(m.fixef)) + list(m.fixef - z * m.fixef_se)
    hi = [np.nan] * (len(names) - len(m.fixef)) + list(m.fixef + z * m.fixef_se)
    return pd.DataFrame({c: v for c, v in zip(_columns(level), (lo, hi), strict=True)}, index=names)


# ------------------------------------------------------------------------------------ profile


class Profiler:
    """ML deviance profiles on lme4's sd/cor/sigma scale and for each fixed effect."""

    def __init__(self, m: LmerFit) -> None:
        ml = m if not m.reml else m.model.with_reml(False).fit(start=m.theta)
        self.ml = ml
        self.model: LinearMixedModel = ml.model
        self.layout = self.model.structure.theta
        self.vhat = self.layout.to_sdcor(ml.theta, ml.sigma)
        self.lo, self.hi = self.layout.sdcor_bounds()
        self.base = ml.objective
        self.beta_hat = ml.beta
        self.se_hat = np.sqrt(np.diag(ml.vcov_array))
        # The optimisations run in unit-scale coordinates: theta times its column's scale (the
        # model's working scale); on the sd/cor scale each sd times its column's scale over sigma's
        # estimate, and sigma over its estimate (correlations as they are).
        self.theta_scale = self.model.theta_scale
        s = ml.sigma if ml.sigma > 0 else 1.0
        self.unit = np.append(np.where(self.layout.on_diagonal, self.theta_scale / s, 1.0), 1.0 / s)

    def dev_sdcor(self, v: FloatArray) -> float:
        theta = self.layout.from_sdcor(v)
        if theta is None or v[-1] <= 0:
            return 1e300
        # -2 log L as the fit's objective: with prior weights it gains -sum(log w) (lme4's convention)
        return float(self.model.criterion(theta).at_sigma(float(v[-1]), False)) - self.model.log_weights

    def dev_beta(self, theta: FloatArray, j: int, b: float) -> float:
        est = self.model.estimates(np.asarray(theta, dtype=float))
        c = est.criterion
        vjj = float(est.rx_inverse_crossprod[j, j])
        r2 = c.pwrss + (b - est.beta[j]) ** 2 / vjj  # the penalised RSS with beta_j fixed at b
        return float(_core.Criterion(c.ldL2, c.ldRX2, r2, c.n, c.p).profiled(False)) - self.model.log_weights

    @staticmethod
    def _minimize(
        f: Callable[[FloatArray], float], x0: FloatArray, lo: FloatArray, hi: FloatArray, unit: FloatArray
    ) -> tuple[float, FloatArray]:
        """Minimise f over lo <= x <= hi from x0, working on x * unit (unit-scale coordinates)."""
        if x0.shape[0] == 0:
            return f(x0), x0
        lo_, hi_ = lo * unit, hi * unit
        start = np.clip(x0 * unit, lo_, hi_)
        settings = BobyqaSettings(maxeval=0, step=np.maximum(0.05 * np.abs(start), 1e-3))
        xw, fx, _, _ = bobyqa(lambda xw: f(np.asarray(xw) / unit), start, lo_, settings, upper=hi_)
        return fx, np.asarray(xw) / unit

    def zeta_var(self, i: int, val: float, warm: dict[int, FloatArray]) -> float:
        """Signed root of the profiled deviance increase. The inner problem is not convex (a
        correlation profile can slide onto a plateau where a SD is zero), so it starts both from
        the previous profile point and from the optimum, and keeps the better."""
        free = np.arange(self.vhat.shape[0]) != i

        def f(x: FloatArray) -> float:
            v = self.vhat.copy()
            v[free] = x
            v[i] = val
            return self.dev_sdcor(v)

        best_dev, best_x = np.inf, self.vhat[free]
        for x0 in ([warm[i]] if i in warm else []) + [self.vhat[free]]:
            dev, x = self._minimize(f, x0, self.lo[free], self.hi[free], self.unit[free])
            if dev < best_dev:
                best_dev, best_x = dev, x
        warm[i] = best_x
        return float(np.sign(val - self.vhat[i]) * np.sqrt(max(best_dev - self.base, 0.0)))

    def zeta_beta(self, j: int, b: float, warm: dict[int, FloatArray]) -> float:
        x0 = warm.get(j, self.ml.theta)
        lower = self.layout.lower
        dev, x = self._minimize(
            lambda th: self.dev_beta(th, j, b), x0, lower, np.full(x0.shape, np.inf), self.theta_scale
        )
        warm[j] = x
        return float(np.sign(b - self.beta_hat[j]) * np.sqrt(max(dev - self.base, 0.0)))


def _interval(
    zeta: Callable[[float], float], center: float, step: float, lo: float, hi: float, z: float
) -> tuple[float, float]:
    from scipy.optimize import brentq  # scipy.optimize is heavy (~0.3 s, 20 MB): imported on use

    def root(a: float, b: float) -> float:
        # the profile is re-minimised at every point, so a poorly conditioned one (a slope far from
        # zero next to an intercept) need not cross the cutoff between two points that straddle it:
        # that end is NaN, with a warning, rather than scipy's bare ValueError
        try:
            return float(brentq(lambda v: abs(zeta(v)) - z, a, b, xtol=1e-9, rtol=1e-10))
        except ValueError:
            warn(
                f"a profile end between {a:.6g} and {b:.6g} could not be located (the profile is not monotone "
                "there: its minimisation over the other parameters is poorly conditioned); it is NaN",
                ConvergenceWarning,
            )
            return math.nan

    out = []
    for sign, bound in ((-1, lo), (1, hi)):
        prev = center
        k = 0
        found = None
        while k < 60:
            val = center + sign * step * 2 ** (k / 2)
            if (sign < 0 and val <= bound) or (sign > 0 and val >= bound):
                zb = zeta(bound)
                found = bound if abs(zb) < z else root(prev, bound)
                break
            zv = zeta(val)
            if abs(zv) >= z:
                found = root(prev, val)
                break
            prev = val
            k += 1
        out.append(np.nan if found is None else found)
    return out[0], out[1]


def _zeta_sd(pr: Profiler, i: int, u: float, warm: dict[int, FloatArray], w: float) -> float:
    """zeta of variance parameter i at w on its unit scale (w = value * u)."""
    return pr.zeta_var(i, w / u, warm)


def _zeta_fixed(pr: Profiler, j: int, c: float, se: float, warm: dict[int, FloatArray], t: float) -> float:
    """zeta of fixed effect j at c + t standard errors."""
    return pr.zeta_beta(j, c + t * se, warm)


def _profile(m: LmerFit, level: float) -> pd.DataFrame:
    z = special.ndtri((1 + level) / 2)
    pr = Profiler(m)
    rows = {}
    for i, name in enumerate(pr.layout.sdcor_names):
        warm: dict[int, FloatArray] = {}
        u = pr.unit[i]  # profiled on the unit scale: value * u
        c = pr.vhat[i] * u
        is_cor = pr.lo[i] == -1.0
        step = 0.1 if is_cor else max(0.2 * abs(c), 1e-3)
        lo, hi = _interval(functools.partial(_zeta_sd, pr, i, u, warm), c, step, pr.lo[i] * u, pr.hi[i] * u, z)
        rows[name] = (lo / u, hi / u)
    for j, name in enumerate(m.structure.fixed_names):
        warm = {}
        c = float(pr.beta_hat[j])
        se = float(pr.se_hat[j]) or 1.0  # profiled in standard errors from the estimate
        lo, hi = _interval(functools.partial(_zeta_fixed, pr, j, c, se, warm), 0.0, 1.0, -np.inf, np.inf, z)
        rows[name] = (c + lo * se, c + hi * se)
    cols = _columns(level)
    return pd.DataFrame(rows, index=cols).T


# ------------------------------------------------------------------------------- glmer profile


def glmm_profile(m: LmerFit, level: float) -> pd.DataFrame:
    """Profile-likelihood intervals of a glmer fit of a family without a dispersion (binomial,
    Poisson, negative binomial with its theta held), as lme4's ``confint(m, method = "profile")``:
    the SDs and correlations of every term on lme4's sd/cor scale (``.sig01``, ... in lme4's order:
    per term, the lower triangle column by column) and the fixed effects. For each parameter, the
    -2 log-likelihood (Laplace, or quadrature at the fit's ``nAGQ``) is minimised over all the others
    with it held (BOBYQA within the sd >= 0, -1 <= cor <= 1 bounds), and the interval's ends are
    where the signed root of its rise above the optimum reaches the normal quantile (found by
    bracketing and Brent's method). A parameter whose profile stays below the cutoff up to its
    bound gets the bound (0 for an SD, -1 or 1 for a correlation), as lme4 gives.

    lme4 builds its intervals from splines through a profile stopped early (its PIRLS too); the
    ends here are the profile's own, to ~1e-6 in the parameter.
    """
    model = m.model
    if not isinstance(model, GeneralizedLinearMixedModel):
        raise MixedModelsError("glmm_profile is for glmer fits")
    if not model.family.dispersion_free:
        raise MixedModelsError(
            f"profile intervals of a glmer fit of the {model.family.name} family (with a dispersion, lme4's "
            "sigma) are not available: use method='wald' or 'boot'"
        )
    n_agq = int(getattr(m, "n_agq", 1))
    layout = m.structure.theta
    nv = layout.ntheta
    v_hat = layout.to_sdcor(m.theta, 1.0)[:-1]
    lo_v, hi_v = layout.sdcor_bounds()
    beta_hat = np.asarray(m.beta, dtype=np.float64)
    p = beta_hat.shape[0]
    x_hat = np.concatenate([v_hat, beta_hat])
    lower = np.concatenate([lo_v[:-1], np.full(p, -np.inf)])
    upper = np.concatenate([hi_v[:-1], np.full(p, np.inf)])
    se = np.sqrt(np.clip(np.diag(np.asarray(m.vcov_array, dtype=np.float64)), 1e-24, None))
    # unit-scale coordinates for the inner optimiser: SDs in units of (at least 0.05 of) themselves,
    # correlations as they are, fixed effects in standard errors
    is_cor = np.concatenate([~layout.on_diagonal, np.zeros(p, dtype=bool)])
    unit = np.concatenate([np.where(layout.on_diagonal, 1.0 / np.maximum(np.abs(v_hat), 0.05), 1.0), 1.0 / se])
    base = float(m.objective)
    z = float(special.ndtri((1 + level) / 2))

    def criterion(x: FloatArray) -> float:
        theta = layout.from_sdcor(np.append(x[:nv], 1.0))
        if theta is None:
            return 1e300
        value = model.agq(theta, x[nv:], n_agq) if n_agq > 1 else model.laplace(theta, x[nv:])
        return value if np.isfinite(value) else 1e300

    rows = {}
    names = layout.sdcor_names[:-1] + list(m.fixef.index)
    for i, name in enumerate(names):
        warm: dict[int, FloatArray] = {}
        zeta = functools.partial(_glmm_zeta, criterion, x_hat, lower, upper, unit, base, i, warm)
        if i < nv:
            c = float(x_hat[i])
            step = 0.1 if is_cor[i] else max(0.2 * abs(c), 1e-3)
            lo, hi = _interval(zeta, c, step, float(lower[i]), float(upper[i]), z)
        else:
            c = float(x_hat[i])
            lo, hi = _interval(zeta, c, float(se[i - nv]), -np.inf, np.inf, z)
        rows[name] = (lo, hi)
    return pd.DataFrame(rows, index=_columns(level)).T


def _glmm_zeta(
    criterion: Callable[[FloatArray], float],
    x_hat: FloatArray,
    lower: FloatArray,
    upper: FloatArray,
    unit: FloatArray,
    base: float,
    i: int,
    warm: dict[int, FloatArray],
    value: float,
) -> float:
    """The signed root of the rise of the criterion, minimised over every parameter but i held at
    value, above the optimum; started from the previous point of the same profile (and from the
    optimum, keeping the better: the inner problem need not be convex)."""
    free = np.arange(x_hat.shape[0]) != i

    def f(xw: FloatArray) -> float:
        x = x_hat.copy()
        x[free] = np.asarray(xw) / unit[free]
        x[i] = value
        return criterion(x)

    lo_, hi_ = lower[free] * unit[free], upper[free] * unit[free]
    best, best_x = np.inf, x_hat[free]
    for x0 in ([warm[i]] if i in warm else []) + [x_hat[free]]:
        start = np.clip(x0 * unit[free], lo_, hi_)
        settings = BobyqaSettings(maxeval=0, step=np.maximum(0.05 * np.abs(start), 1e-2))
        xw, fx, _, _ = bobyqa(f, start, lo_, settings, upper=hi_)
        if fx < best:
            best, best_x = float(fx), np.asarray(xw) / unit[free]
    warm[i] = best_x
    return float(np.sign(value - x_hat[i]) * np.sqrt(max(best - base, 0.0)))


# ------------------------------------------------------------------------------------ bootstrap


R = TypeVar("R")


def _refit_pieces(
    refit: Callable[..., R], args: tuple[Any, ...], ys: FloatArray, most: int, n_jobs: int, progress: bool
) -> list[R]:
    """``refit(*args, piece)`` over pieces of the simulated responses' columns (at most ``most``
    each, about four per job), in order, on ``n_jobs`` processes (1: here; negative: every core),
    with a progress line on stderr."""
    nsim = ys.shape[1]
    chunk = max(1, min(most, nsim // max(1, 4 * n_jobs)))
    pieces = [ys[:, i : i + chunk] for i in range(0, nsim, chunk)]
    results: list[R] = []
    t0 = time.perf_counter()
    done = 0

    def report(piece: FloatArray) -> None:
        nonlocal done
        done += piece.shape[1]
        if progress:
            sys.stderr.write(f"\rbootstrap: {done}/{nsim} refits, {time.perf_counter() - t0:.1f} s")
            sys.stderr.flush()

    if n_jobs == 1:
        for piece in pieces:
            results.append(refit(*args, piece))
            report(piece)
    else:
        workers = available_cpus() if n_jobs < 0 else n_jobs
        with ProcessPoolExecutor(max_workers=workers) as ex:
            futs = [ex.submit(refit, *args, piece) for piece in pieces]
            for fut, piece in zip(futs, pieces, strict=True):
                results.append(fut.result())
                report(piece)
    if progress:
        sys.stderr.write("\n")
    return results


def _boot_chunk(model: LinearMixedModel, theta0: FloatArray, ys: FloatArray) -> FloatArray:
    out = []
    for s in range(ys.shape[1]):
        theta, sigma, beta, _ = refit_parameters(model, ys[:, s], theta0)
        out.append(np.concatenate([model.structure.theta.to_sdcor(theta, sigma), beta]))
    return np.array(out)


def bootstrap(
    m: LmerFit,
    nsim: int = 500,
    seed: Seed = None,
    n_jobs: int = 1,
    progress: bool | None = None,
) -> pd.DataFrame:
    """Parametric bootstrap: simulate nsim responses from the fit, refit each, and return the
    estimates (rows = replicates, columns = .sig01, ..., .sigma, fixed effects)."""
    if nsim < 1:
        raise ValueError("nsim must be at least 1")
    if isinstance(m.model, GeneralizedLinearMixedModel):
        raise MixedModelsError("a glmer fit's bootstrap is GlmerResult.bootstrap (confint.glmm_bootstrap)")
    if progress is None:
        progress = sys.stderr.isatty()
    ys = simulate(m, nsim=nsim, seed=seed).to_numpy()
    names = m.structure.theta.sdcor_names + list(m.fixef.index)
    results = _refit_pieces(_boot_chunk, (m.model, m.theta), ys, 50, n_jobs, progress)
    return pd.DataFrame(np.vstack(results), columns=names)


# ------------------------------------------------------------------------------- glmer bootstrap

# what a refit may raise on a simulated response: no valid modes (separation, means out of range),
# a factor that cannot be formed, a response the family refuses, arithmetic that overflowed
_REFIT_FAILURES = (DataError, CoreError, MixedModelsError, np.linalg.LinAlgError, ArithmeticError, ValueError)


def glmm_boot_names(m: LmerFit) -> list[str]:
    """The columns of a glmer bootstrap: .sig01, ... (SDs and correlations), .sigma for families
    with a dispersion, then the fixed effects."""
    model = m.model
    assert isinstance(model, GeneralizedLinearMixedModel)
    names = m.structure.theta.sdcor_names
    if model.family.dispersion_free:
        names = names[:-1]
    return names + list(m.fixef.index)


def _glmm_boot_chunk(
    model: GeneralizedLinearMixedModel, theta0: FloatArray, n_agq: int, ys: FloatArray
) -> tuple[FloatArray, list[bool], list[str]]:
    """Refit the model to each column of ys from theta0: (rows of sd/cor, sigma, beta; NaN for a
    failed refit), whether each refit converged, and each failure's message ("" when none)."""
    layout = model.structure.theta
    width = layout.ntheta + (0 if model.family.dispersion_free else 1) + model.structure.p
    out = np.full((ys.shape[1], width), np.nan)
    converged: list[bool] = []
    failures: list[str] = []
    for s in range(ys.shape[1]):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # a refit's convergence or singularity: counted, not repeated
                refit = GeneralizedLinearMixedModel(model.structure, model.data.with_response(ys[:, s]), model.family)
                fit = refit.fit(n_agq=n_agq, start=theta0)
        except _REFIT_FAILURES as exc:
            converged.append(False)
            failures.append(f"{type(exc).__name__}: {exc}")
            continue
        sdcor = layout.to_sdcor(fit.theta, fit.sigma)
        if model.family.dispersion_free:
            sdcor = sdcor[:-1]
        values = np.concatenate([sdcor, fit.beta])
        if not np.all(np.isfinite(values)):
            converged.append(False)
            failures.append("the refit's estimates are not finite")
            continue
        out[s] = values
        converged.append(bool(fit.converged))
        failures.append("")
    return out, converged, failures


def glmm_bootstrap(
    m: LmerFit,
    ys: FloatArray,
    n_agq: int = 1,
    n_jobs: int = 1,
    progress: bool | None = None,
) -> pd.DataFrame:
    """lme4's ``bootMer`` for a glmer fit, given the simulated responses (one column per replicate,
    from `GlmerResult.simulate`): the model refitted to each from the fit's theta (stage 1 from
    theta, stage 2 from its beta), returning each refit's SDs and correlations (.sig01, ...),
    .sigma for a family with a dispersion, and fixed effects.

    A refit that fails (no valid conditional modes on that response, as under complete
    separation, or non-finite estimates) gives a row of NaN; the frame's ``attrs`` say how many
    (``n_failed``, and ``failures``: their messages) and how many refits ended without
    convergence (``n_not_converged``: kept, as lme4 keeps them), and a `ConvergenceWarning` reports
    failures (lme4's "some bootstrap runs failed"). Refits run on ``n_jobs`` processes; the draws
    do not depend on ``n_jobs``.
    """
    model = m.model
    if not isinstance(model, GeneralizedLinearMixedModel):
        raise MixedModelsError("glmm_bootstrap is for glmer fits; lmer fits use bootstrap")
    if progress is None:
        progress = sys.stderr.isatty()
    nsim = ys.shape[1]
    theta0 = np.asarray(m.theta, dtype=np.float64)
    results = _refit_pieces(_glmm_boot_chunk, (model, theta0, n_agq), ys, 25, n_jobs, progress)
    values = np.vstack([r[0] for r in results])
    converged = [c for r in results for c in r[1]]
    failures = [f for r in results for f in r[2]]
    failed = [i for i, f in enumerate(failures) if f]
    out = pd.DataFrame(values, columns=glmm_boot_names(m))
    out.index.name = "replicate"
    out.attrs["nsim"] = nsim
    out.attrs["n_failed"] = len(failed)
    out.attrs["n_not_converged"] = sum(1 for i, c in enumerate(converged) if not c and not failures[i])
    out.attrs["failures"] = {i: failures[i] for i in failed}
    if failed:
        first = failures[failed[0]]
        warn(
            f"some bootstrap refits failed ({len(failed)}/{nsim}; their rows are NaN and left out of the "
            f"intervals); the first: {first}",
            ConvergenceWarning,
        )
    return out


def boot_percentiles(draws: pd.DataFrame, level: float) -> pd.DataFrame:
    """Percentile intervals of bootstrap draws (rows of NaN, failed refits, left out; quantiles as
    R's ``quantile`` type 7), with the draws' ``attrs`` carried over."""
    kept = draws.dropna(how="any")
    if kept.shape[0] == 0:
        raise MixedModelsError(f"every bootstrap refit failed ({draws.shape[0]}): no interval")
    a = (1 - level) / 2
    q = kept.quantile([a, 1 - a]).T
    q.columns = _columns(level)
    q.attrs.update(draws.attrs)
    q.attrs["n_used"] = int(kept.shape[0])
    return q


def _boot(
    m: LmerFit,
    level: float,
    nsim: int = 500,
    seed: Seed = None,
    n_jobs: int = 1,
    progress: bool | None = None,
) -> pd.DataFrame:
    draws = bootstrap(m, nsim=nsim, seed=seed, n_jobs=n_jobs, progress=progress)
    a = (1 - level) / 2
    q = draws.quantile([a, 1 - a]).T
    q.columns = _columns(level)
    if q.isna().any().any():
        raise MixedModelsError("bootstrap produced missing estimates")
    return q
