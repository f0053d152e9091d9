"""Fitting: formula + data (`lmer`) or arrays (`fit_arrays`) -> engine -> optimiser -> `LmerResult`."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from .design import Design, GroupTerm, build_design, design_from_arrays
from .exceptions import ConvergenceWarning, DataError, SingularFitWarning
from .optimize import (
    METHODS,
    EngineCriterion,
    OptimResult,
    choose_method,
    gradient_check,
    initial_step,
    max_scaled_gradient,
    minimize_theta,
    moment_start,
)
from .results import LmerResult

__all__ = ["fit_arrays", "fit_design", "lmer", "result_at"]

SINGULAR_TOL = 1e-4  # lme4's isSingular tolerance
GRADIENT_TOL = 2e-3  # lme4's check.conv.grad tolerance


def lmer(
    formula: str,
    data: pd.DataFrame,
    *,
    reml: bool = True,
    start: Sequence[float] | str | None = None,
    maxeval: int = 100_000,
    data_name: str | None = None,
    optimizer: str = "auto",
    optimizer_options: dict | None = None,
    batch_size: int = 1_000_000,
    progress=None,
) -> LmerResult:
    """Fit a linear mixed model with lme4's formula language.

    Parameters
    ----------
    formula : str
        ``response ~ fixed terms + (terms | group) ...``. Random terms: ``(1 | g)``,
        ``(1 + x | g)`` (correlated), ``(x || g)`` (uncorrelated), ``(1 | a/b)`` (nested),
        ``(1 | a) + (1 | b)`` (crossed), ``(1 | a:b)``.
    data : pandas.DataFrame, path(s), iterable of DataFrames, or Dask DataFrame
        The data. Rows with a missing value in a used column are dropped. Besides a DataFrame: a
        Parquet/CSV path, glob or list of paths (read in batches), a re-iterable of DataFrame
        chunks, or a Dask DataFrame (blocks of A formed per partition and summed): the result is
        the same, but the rows are not held (see `mixedmodels.stream`).
    reml : bool
        REML (default) or maximum likelihood.
    start : sequence of float or "lme4", optional
        Starting theta (lme4's parameterisation). Default: moment estimates from the OLS
        residuals, which save a quarter of the evaluations on the reference models;
        ``"lme4"`` starts where lme4 does (1 on the diagonals, 0 elsewhere).
    maxeval : int
        Limit on objective evaluations.
    data_name : str, optional
        Name shown as ``Data:`` in the summary.
    optimizer : {"auto", "bobyqa", "cobyqa"}
        NLopt's BOBYQA (as lme4) or SciPy's COBYQA, which needs 40-60 % fewer evaluations on
        crossed designs but spends about a millisecond of Python per iteration. ``"auto"`` (default) takes COBYQA when
        one evaluation is expensive (more than ~1e7 floating-point operations, e.g. crossed
        designs with a large dense fill-in block such as InstEval) and BOBYQA otherwise.
    optimizer_options : dict, optional
        Stopping rules: BOBYQA's ``{"xtol_abs": 1e-9, "ftol_abs": 1e-10}``, COBYQA's
        ``{"initial_tr_radius": 0.03, "final_tr_radius": 3e-6}`` by default; tighter values
        reach the optimum more precisely at the cost of more evaluations.
    batch_size, progress
        For data read in batches: rows per batch, and a progress line on stderr (default: when
        stderr is a terminal; or a callable taking the number of rows read).

    Returns
    -------
    LmerResult

    Examples
    --------
    >>> import mixedmodels as mm
    >>> m = mm.lmer("mAch ~ ses + (ses | school)", mm.datasets.load("hsb"))
    >>> m.fixef.round(3).tolist()
    [12.665, 2.394]
    >>> round(m.sigma, 2)
    6.07
    """
    options = {
        "reml": reml,
        "start": start,
        "maxeval": maxeval,
        "data_name": data_name,
        "optimizer": optimizer,
        "optimizer_options": optimizer_options,
        "progress": progress,
    }
    if not isinstance(data, pd.DataFrame):  # files, chunks, Dask: formed chunk by chunk
        from .stream import lmer_stream

        return lmer_stream(formula, data, batch_size=batch_size, **options)
    return fit_design(build_design(formula, data), **options)


def fit_arrays(
    y: np.ndarray,
    x: np.ndarray,
    terms: Sequence[GroupTerm],
    *,
    fixed_names: Sequence[str] | None = None,
    reml: bool = True,
    start: Sequence[float] | str | None = None,
    maxeval: int = 100_000,
) -> LmerResult:
    """Fit from arrays, without formulas: the embedding API for other packages.

    Parameters
    ----------
    y : array (n,)
        Response.
    x : array (n, p)
        Fixed-effects model matrix (include a column of ones for an intercept).
    terms : sequence of GroupTerm
        Random-effects terms: grouping codes plus the term's columns. Terms naming the same group
        share a grouping factor and get separate (uncorrelated) covariance blocks.
    fixed_names : sequence of str, optional
        Names of the columns of x (default ``x0, x1, ...``).
    reml, start, maxeval
        As for `lmer`.

    Returns
    -------
    LmerResult
        The same result object as `lmer` (``predict`` works on the fitted rows only).

    Examples
    --------
    >>> import numpy as np, mixedmodels as mm
    >>> sleep = mm.datasets.load("sleepstudy")
    >>> n = len(sleep)
    >>> X = np.column_stack([np.ones(n), sleep["Days"]])
    >>> term = mm.GroupTerm("Subject", sleep["Subject"].cat.codes.to_numpy(), X,
    ...                     ("(Intercept)", "Days"), tuple(sleep["Subject"].cat.categories))
    >>> m = mm.fit_arrays(sleep["Reaction"].to_numpy(), X, [term], fixed_names=["(Intercept)", "Days"])
    >>> round(m.objective, 4)
    1743.6283
    """
    x = np.asarray(x, dtype=float)
    names = tuple(fixed_names) if fixed_names is not None else tuple(f"x{j}" for j in range(x.shape[1]))
    design = design_from_arrays(y, x, names, list(terms))
    return fit_design(design, reml=reml, start=start, maxeval=maxeval)


def _default_start(design: Design) -> np.ndarray:
    return np.where(design.theta_lower == 0.0, 1.0, 0.0)


def fit_design(
    design: Design,
    *,
    reml: bool = True,
    start: Sequence[float] | str | None = None,
    maxeval: int = 100_000,
    data_name: str | None = None,
    optimizer: str = "auto",
    optimizer_options: dict | None = None,
    progress=None,
) -> LmerResult:
    """Fit a prepared `Design` (what `lmer` and `fit_arrays` call). ``progress``: a line on stderr
    with the evaluations so far, at most twice a second (True), a callable taking (evaluations,
    best criterion), or None/False for none."""
    if optimizer not in ("auto", *METHODS):
        raise ValueError(f"optimizer must be 'auto', {', '.join(map(repr, METHODS))}; got {optimizer!r}")
    if design.nobs - design.p < design.ntheta + 1:
        raise DataError(
            f"{design.nobs} observations leave {design.nobs - design.p} residual degrees of freedom after "
            f"{design.p} fixed effects, fewer than the {design.ntheta + 1} variance parameters to estimate "
            f"({', '.join(design.theta_names)} and the residual SD): they are not identifiable"
        )
    engine, work, work_engine, scale = working_engines(design)
    step = None
    if start is None:
        x0 = moment_start(work, work_engine)
        step = initial_step(x0)
    elif isinstance(start, str) and start == "lme4":
        x0 = _default_start(design)
    else:
        x0 = np.asarray(start, dtype=float)
        if x0.shape != (design.ntheta,):
            raise ValueError(f"start must have {design.ntheta} entries ({', '.join(design.theta_names)})")
        if scale is not None:
            x0 = x0 * scale

    report = _optimiser_progress(progress)
    f = criterion_f = EngineCriterion(work_engine, reml)
    if report is not None:

        def f(theta: np.ndarray) -> float:
            v = work_engine.objective(np.asarray(theta, dtype=float), reml)
            report(v)
            return v

    method = choose_method(work_engine.update_flops()) if optimizer == "auto" else optimizer
    opt = minimize_theta(
        f, x0, design.theta_lower, method=method, maxeval=maxeval, step=step, **(optimizer_options or {})
    )
    if not np.isfinite(opt.fun):
        raise DataError(
            f"the model fits the {design.nobs} observations exactly (no residual variation is left), so its "
            "likelihood is unbounded: use fewer fixed or random effects, or more data"
        )
    grad, hdiag = gradient_check(criterion_f, opt.theta, design.theta_lower, opt.fun)
    theta = opt.theta if scale is None else opt.theta / scale
    return _result(design, engine, theta, opt, grad, hdiag, reml, data_name, theta_scale=scale)


def working_engines(design: Design):
    """(engine, work, work_engine, theta_scale): the engine on the data's scale (for the results),
    and the design and engine the optimiser works on: the same, or, when some columns are of extreme
    scale, those columns scaled to unit size with ``theta_work = theta * theta_scale`` (else
    theta_scale is None). Random-effects columns of extreme scale make theta tiny or huge and
    fixed-effects columns make the factorisation imprecise; the REML criterion only shifts by a
    constant."""
    engine = design.make_engine()
    scales = _scales(design, engine)
    if scales is None:
        return engine, design, engine, None
    work = _scaled_design(design, *scales)
    return engine, work, work.make_engine(), _theta_scale(design, scales[0])


def unit_theta_scale(design: Design, engine) -> np.ndarray:
    """theta_work / theta of `working_engines` for each theta entry (ones where no column is
    rescaled): the unit-scale coordinates in which inference takes numerical steps."""
    scales = _scales(design, engine)
    return np.ones(design.ntheta) if scales is None else _theta_scale(design, scales[0])


def _optimiser_progress(progress):
    """None, or a function of each criterion value that reports (evaluations, best) now and then."""
    if not progress:
        return None
    import sys
    import time

    state = {"n": 0, "best": np.inf, "t": 0.0}

    def report(v: float) -> None:
        state["n"] += 1
        state["best"] = min(state["best"], v)
        now = time.perf_counter()
        if callable(progress):
            progress(state["n"], state["best"])
        elif now - state["t"] > 0.5:
            state["t"] = now
            sys.stderr.write(f"\roptimising: {state['n']} evaluations, criterion {state['best']:.6f}")
            sys.stderr.flush()

    return report


def _scales(design: Design, engine) -> tuple[list[np.ndarray], np.ndarray] | None:
    """Column scales of each factor's Z and of X: a column's root mean square where that is outside
    [1e-2, 1e2], else 1; None when all are 1. From A's diagonal (``Engine.column_sumsq``), the same
    for rows and streamed blocks."""
    rms = np.sqrt(engine.column_sumsq() / design.nobs)
    extreme = (rms > 0) & ((rms < 1e-2) | (rms > 1e2))
    if not extreme.any():
        return None
    s = np.where(extreme, rms, 1.0)
    ends = np.cumsum([f.k for f in design.factors])
    return np.split(s[: ends[-1]], ends[:-1]), s[ends[-1] :]


def _scaled_design(design: Design, zscales: list[np.ndarray], xs: np.ndarray) -> Design:
    """The design with extreme-scale columns of X and of each Z scaled to unit size."""
    import dataclasses

    if design.blocks is not None:
        from .blocks import scale_blocks

        return dataclasses.replace(design, blocks=scale_blocks(design.blocks, zscales, xs))
    factors = tuple(
        dataclasses.replace(f, z=np.ascontiguousarray(f.z / s)) for f, s in zip(design.factors, zscales, strict=True)
    )
    return dataclasses.replace(design, x=np.ascontiguousarray(design.x / xs), factors=factors)


def _theta_scale(design: Design, zscales: list[np.ndarray]) -> np.ndarray:
    """theta_scaled / theta for each theta entry: the scale of its row's column."""
    scale = np.ones(design.ntheta)
    for f, s in zip(design.factors, zscales, strict=True):
        scale[f.theta_index] = s[f.theta_row]
    return scale


def result_at(design: Design, theta: np.ndarray, *, reml: bool = True, data_name: str | None = None) -> LmerResult:
    """The result object at a given theta, without optimising (for profiles and for checking the
    estimates that follow from a theta, e.g. lme4's)."""
    engine = design.make_engine()
    theta = np.asarray(theta, dtype=float)
    opt = OptimResult(theta=theta, fun=np.nan, n_evals=0, message="not optimised", hit_maxeval=False)
    zero = np.zeros_like(theta)
    return _result(design, engine, theta, opt, zero, zero, reml, data_name, check=False)


def criterion(ldl2: float, ldrx2: float, pwrss: float, n: int, p: int, reml: bool) -> float:
    """The REML criterion or -2 log-likelihood from the parts of the factorisation (design.md 1)."""
    m = n - p if reml else n
    scale = 2 * math.pi * pwrss / m
    return (ldl2 + ldrx2 if reml else ldl2) + m * (1 + (math.log(scale) if scale > 0 else -math.inf))


def _result(design, engine, theta, opt, grad, hdiag, reml, data_name, check=True, theta_scale=None) -> LmerResult:
    # L at theta; every estimate follows from it
    ldl2, ldrx2, pwrss, beta, b, rxi = engine.estimates(theta)
    n, p = design.nobs, design.p
    fx = criterion(ldl2, ldrx2, pwrss, n, p, reml)
    sigma = math.sqrt(pwrss / (n - p if reml else n))
    vcov = sigma**2 * rxi
    bs = []
    off = 0
    for fac in design.factors:
        bs.append(b[off : off + fac.nlev * fac.k].reshape(fac.nlev, fac.k))
        off += fac.nlev * fac.k
    deviance = fx if not reml else criterion(ldl2, ldrx2, pwrss, n, p, False)
    # lme4's isSingular on theta, measured on unit-scale columns (so rescaling a covariate does
    # not make a fit singular); identical to lme4's for columns of ordinary scale
    unit = theta if theta_scale is None else theta * theta_scale
    on_diag = design.theta_lower == 0.0
    singular = bool((on_diag & (unit < SINGULAR_TOL)).any())
    messages = []
    max_grad = max_scaled_gradient(grad, hdiag, ~(on_diag & (theta <= 0.0)))
    converged = check and not opt.hit_maxeval and max_grad < GRADIENT_TOL
    if not check:
        pass
    elif opt.hit_maxeval:
        msg = f"optimizer stopped at its limit of {opt.n_evals} evaluations before converging"
        messages.append(msg)
        warnings.warn(msg, ConvergenceWarning, stacklevel=4)
    elif not converged:
        msg = (
            f"model failed to converge: max|grad| = {max_grad:.3g} (tol = {GRADIENT_TOL}); "
            f"gradient {np.array2string(grad, precision=3)}"
        )
        messages.append(msg)
        warnings.warn(msg, ConvergenceWarning, stacklevel=4)
    if singular and check:
        where = [design.theta_names[i] for i in np.flatnonzero(on_diag & (unit < SINGULAR_TOL))]
        msg = (
            "boundary (singular) fit: a variance is zero or a correlation is +-1 at "
            + ", ".join(where)
            + " (see is_singular)"
        )
        messages.append(msg)
        warnings.warn(msg, SingularFitWarning, stacklevel=4)
    return LmerResult(
        design=design,
        reml=reml,
        theta=np.array(theta, dtype=float),
        sigma=sigma,
        beta=np.asarray(beta),
        vcov_array=vcov,
        objective=float(fx),
        deviance=float(deviance),
        ldl2=float(ldl2),
        ldrx2=float(ldrx2),
        pwrss=float(pwrss),
        n_evals=opt.n_evals,
        converged=converged,
        optimizer_message=opt.message,
        gradient=grad,
        is_singular=singular,
        messages=tuple(messages),
        data_name=data_name,
        _b=tuple(bs),
        _engine=engine,
    )
