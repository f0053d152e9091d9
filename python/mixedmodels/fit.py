"""The entry points: `lmer` (a formula and data of any kind) and `fit_arrays` (arrays, for packages
that embed the engine). Each builds a `model.LinearMixedModel`, fits it and returns an `LmerResult`."""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from .arguments import (
    MAX_EVALUATIONS,
    check_bool,
    check_count,
    check_data_name,
    check_nagq,
    check_optimizer,
    check_start,
    check_threads,
    refuse_statsmodels_keywords,
    table_as_frame,
)
from .design import GroupTerm, from_arrays
from .exceptions import ArgumentError, DataError, FormulaError, MixedModelsError, MixedModelsWarning, warn
from .families import Family, binomial_response
from .families import family as as_family
from .formula import parse_formula
from .glmer_result import GlmerResult
from .glmm import GeneralizedLinearMixedModel
from .model import LinearMixedModel
from .names import caller_variable_name
from .results import LmerResult
from .stream import model_from_source

__all__ = ["fit_arrays", "glmer", "lmer"]


def lmer(
    formula: str,
    data: Any,
    *,
    reml: bool = True,
    start: Sequence[float] | str | None = None,
    maxeval: int = 100_000,
    data_name: str | None = None,
    optimizer: str = "auto",
    optimizer_options: dict[str, Any] | None = None,
    batch_size: int = 1_000_000,
    progress: bool | Callable[..., None] | None = None,
    trusted: bool = False,
    weights: str | ArrayLike | None = None,
    offset: str | ArrayLike | None = None,
    threads: int | None = None,
    **statsmodels_keywords: Any,
) -> LmerResult:
    """Fit a linear mixed model with lme4's formula language.

    Parameters
    ----------
    formula : str
        ``response ~ fixed terms + (terms | group) ...``. Random terms: ``(1 | g)``,
        ``(1 + x | g)`` (correlated), ``(x || g)`` (uncorrelated), ``(1 | a/b)`` (nested),
        ``(1 | a) + (1 | b)`` (crossed), ``(1 | a:b)``.
    data : pandas.DataFrame, path(s), iterable of DataFrames, or Dask DataFrame
        The data. Rows with a missing value in a used column are dropped. A dict of equal-length
        columns, a numpy structured array, a pyarrow Table or a polars DataFrame is converted to a
        pandas DataFrame first. Besides a DataFrame: a
        Parquet/CSV path, glob or list of paths (read in batches), a re-iterable of DataFrame
        chunks, or a Dask DataFrame (blocks of A formed per partition and summed): the result is
        the same, but the rows are not held (see `mixedmodels.stream`).
    reml : bool
        REML (default) or maximum likelihood.
    start : sequence of float or "lme4", optional
        Starting theta (lme4's parameterisation). Default: moment estimates from the OLS
        residuals, which save a quarter of the evaluations on the reference models;
        ``"lme4"`` starts where lme4 does (1 on the diagonals, 0 elsewhere). A given start where
        the criterion cannot be evaluated or is not finite (theta far too large for the data's
        scale), or from which the search meets such a point, raises `ArgumentError` naming it.
    maxeval : int
        Limit on objective evaluations.
    data_name : str, optional
        Name shown as ``Data:`` in the summary (default: the name the calling code gives the
        data frame, when it is a variable, as R prints it).
    optimizer : {"auto", "bobyqa", "cobyqa", "lbfgsb", "newton"}
        NLopt's BOBYQA (as lme4), SciPy's COBYQA (a derivative-free search that spends 2-5 ms of
        Python per iteration), SciPy's L-BFGS-B with the analytic gradient of the criterion (each
        evaluation also computes the gradient, from the same factorisation), or Newton's method
        with the analytic Hessian (one grouping factor only; each call computes the criterion,
        gradient and Hessian from one factorisation, at about two gradients' cost; bounded by
        projection, damped by a line search; where it gives up, the search "auto" took before,
        BOBYQA or for large designs L-BFGS-B, runs from the start).
        ``"auto"`` (default) takes Newton's method for one grouping factor (4-7 calls where
        BOBYQA takes 34-217 evaluations) and BOBYQA otherwise, stopped at
        ``{"xtol_abs": 1e-6, "ftol_abs": 1e-7}`` when one evaluation of a model with several
        factors is expensive (more than ~1e7 operations, e.g. crossed designs with a large dense
        fill-in block such as InstEval), where the polish below takes the last digits for fewer
        evaluations than BOBYQA's tight defaults. Every other optimiser's end is polished by Newton
        steps on the analytic gradient (a few gradient calls, counted in ``n_evals``), so theta,
        sigma and vcov agree with a tightly converged optimum to about 1e-8 relative; Newton's
        method itself stops where its step is below 1e-11 of the parameters' size (at least 0.1),
        or where a line search fails with the fall it predicts at the criterion's rounding. L-BFGS-B
        stops early where its evaluations stall at the criterion's rounding, and goes on unless
        that polish settles its end.
    optimizer_options : dict, optional
        Stopping rules: BOBYQA's ``{"xtol_abs": 1e-9, "ftol_abs": 1e-10}`` (with ``"auto"``
        on an expensive evaluation, 1e-6 and 1e-7 unless given), COBYQA's
        ``{"initial_tr_radius": 0.03, "final_tr_radius": 3e-6}``, L-BFGS-B's
        ``{"ftol": 1e-13, "gtol": 1e-6}`` by default (Newton's method takes none); tighter values
        reach the optimum more precisely at the cost of more evaluations.
    batch_size, progress
        For data read in batches: rows per batch, and a progress line on stderr (default: when
        stderr is a terminal; or a callable taking the number of rows read). For a data frame,
        ``progress`` reports the optimiser's evaluations (a line on stderr, or a callable taking
        the number of evaluations and the best criterion so far).
    trusted : bool
        False (default): the formula's code is vetted before anything evaluates it and may call
        only the functions of the formula language (README, "Formulas"). True: the formula is
        handed to formulaic as written and **runs arbitrary Python code** (anything a Python
        expression can do, such as deleting files); only for formulas you wrote yourself, and only
        for a data frame.
    weights : str or array, optional
        Prior weights (lme4's ``weights``; a column's name or one positive value per row of the data):
        row i's residual variance is sigma^2 / weights[i], and the log-likelihood gains
        sum(log weights) / 2, as lme4's. For data read in chunks or a Dask DataFrame, a column's name.
    offset : str or array, optional
        A known term of the linear predictor (a column's name or one value per row): the model is
        fitted to y - offset, and fitted values include it. ``offset(...)`` terms in the formula
        do the same (they are also replayed by ``predict(newdata)``; the argument is not, as in lme4).
    threads : int, optional
        Threads the core may use for the large parts of each evaluation (the dense fill-in of
        crossed factors, the per-level work of a factor with many levels, the gradient's selected
        inversion). Default: the CPUs this process may run on (its CPU affinity, else
        ``os.cpu_count()``); 1 keeps every evaluation on
        the calling thread (for fits run side by side, one per core). Small designs stay on one
        thread whatever the count, and the results are bitwise the same for every count.
    **statsmodels_keywords
        None are taken: statsmodels' ``groups=``, ``re_formula=`` and ``vc_formula=`` raise an
        `ArgumentError` that shows the lme4 term to write instead, lme4's ``REML=``, ``control=``,
        ``contrasts=``, ``subset=``, ``verbose=`` and ``family=`` one that says what to write
        instead; any other name is a TypeError.

    Returns
    -------
    LmerResult

    Raises
    ------
    FormulaError
        The formula cannot be parsed or names a column the data lacks.
    DataError
        The data cannot be fitted (no rows, a non-numeric or complex response, non-finite values,
        too few levels, ...).
    ArgumentError
        An argument of the wrong type or value: ``reml`` not a bool, ``maxeval`` not a positive
        integer, an unknown ``optimizer`` or ``optimizer_options`` key (the message lists the keys
        that optimiser takes), a ``start`` with non-finite values or of the wrong length, ``threads``
        not a positive integer.

    Examples
    --------
    >>> import mixedmodels as mm
    >>> m = mm.lmer("mAch ~ ses + (ses | school)", mm.datasets.load("hsb"))
    >>> m.fixef.round(3).tolist()
    [12.665, 2.394]
    >>> round(m.sigma, 2)
    6.07
    """
    refuse_statsmodels_keywords(statsmodels_keywords)
    reml = check_bool(reml, "reml")
    maxeval = check_count(maxeval, "maxeval", maximum=MAX_EVALUATIONS)
    optimizer, optimizer_options = check_optimizer(optimizer, optimizer_options)
    batch_size = check_count(batch_size, "batch_size")
    threads = check_threads(threads)
    data_name = check_data_name(data_name)
    if data_name is None and isinstance(data, pd.DataFrame):
        data_name = caller_variable_name(data)
    data = table_as_frame(data)
    if not (progress is None or isinstance(progress, (bool, np.bool_)) or callable(progress)):
        raise ArgumentError(f"progress must be True, False, None or a callable, got {type(progress).__name__}")
    if isinstance(data, (np.ndarray, Mapping, pd.Series)):
        hint = (
            "for arrays without a formula use fit_arrays"
            if isinstance(data, np.ndarray)
            else "wrap it in pandas.DataFrame()"
        )
        raise DataError(
            "data must be a pandas DataFrame, a CSV/Parquet path, chunks or a Dask DataFrame, "
            f"got {type(data).__name__}; {hint}"
        )
    parsed = parse_formula(formula, trusted=trusted)
    if parsed.counts is not None:
        raise FormulaError(
            f"the response {parsed.response} gives binomial counts: fit it with "
            "mixedmodels.glmer(..., family='binomial'), not a linear mixed model"
        )
    if isinstance(data, pd.DataFrame):
        model = LinearMixedModel.from_formula(parsed, data, reml=reml, weights=weights, offset=offset)
        optimiser_progress = progress
    else:  # files, chunks, Dask: formed chunk by chunk
        if trusted:
            raise MixedModelsError("trusted=True applies to a data frame; streamed data takes vetted formulas only")
        for name, value in (("weights", weights), ("offset", offset)):
            if value is not None and not isinstance(value, str):
                raise ArgumentError(
                    f"{name}= for data read in chunks is a column's name (or write offset(column) in the "
                    f"formula), got {type(value).__name__}"
                )
        check_start(start)  # what can be checked before the data is read
        model = model_from_source(
            formula,
            data,
            reml=reml,
            batch_size=batch_size,
            progress=progress,
            weights=weights if isinstance(weights, str) else None,
            offset=offset if isinstance(offset, str) else None,
        )
        # a callable reports rows read; the optimiser's line follows the same on/off choice
        optimiser_progress = None if callable(progress) else (sys.stderr.isatty() if progress is None else progress)
    theta0 = check_start(start, model.structure.theta.names)  # named by theta, before the optimiser
    model.set_threads(threads)
    fit = model.fit(
        start=theta0,
        maxeval=maxeval,
        optimizer=optimizer,
        optimizer_options=optimizer_options,
        progress=optimiser_progress,
        data_name=data_name,
    )
    return LmerResult.of(fit)


def fit_arrays(
    y: ArrayLike,
    x: ArrayLike,
    terms: Sequence[GroupTerm],
    *,
    fixed_names: Sequence[str] | None = None,
    reml: bool = True,
    start: Sequence[float] | str | None = None,
    maxeval: int = 100_000,
    optimizer: str = "auto",
    optimizer_options: dict[str, Any] | None = None,
    threads: int | None = None,
) -> LmerResult:
    """Fit from arrays, without formulas: the embedding API for other packages.

    Parameters
    ----------
    y : array (n,)
        Response.
    x : array (n, p) or (n,)
        Fixed-effects model matrix (include a column of ones for an intercept); a one-dimensional
        array is one column (as statsmodels takes it).
    terms : sequence of GroupTerm
        Random-effects terms: grouping codes plus the term's columns. Terms naming the same group
        share a grouping factor (they must then have the same codes) and get separate
        (uncorrelated) covariance blocks.
    fixed_names : sequence of str, optional
        Names of the columns of x (default ``x0, x1, ...``).
    reml, start, maxeval, optimizer, optimizer_options, threads
        As for `lmer`.

    Returns
    -------
    LmerResult
        The same result object as `lmer` (``predict`` works on the fitted rows only). As for `lmer`,
        a column of x aliased by earlier ones is dropped with a warning (the result's `fixef` then
        has fewer entries than x has columns).

    Raises
    ------
    DataError
        Arrays of mismatched lengths (the message lists every length), non-finite or complex
        values, codes that are negative, not integral or 2**31 or more.
    ArgumentError
        An argument of the wrong type or value (``reml="False"``, an unknown optimiser option, a
        start with NaN or of the wrong length).

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
    reml = check_bool(reml, "reml")
    maxeval = check_count(maxeval, "maxeval", maximum=MAX_EVALUATIONS)
    optimizer, optimizer_options = check_optimizer(optimizer, optimizer_options)
    threads = check_threads(threads)
    structure, held = from_arrays(y, x, terms, fixed_names=fixed_names)
    theta0 = check_start(start, structure.theta.names)  # before the cross-products are formed
    model = LinearMixedModel.from_data(structure, held, reml=reml)
    model.set_threads(threads)
    fit = model.fit(start=theta0, maxeval=maxeval, optimizer=optimizer, optimizer_options=optimizer_options)
    return LmerResult.of(fit)


def glmer(
    formula: str,
    data: Any,
    family: str | Family = "binomial",
    *,
    nAGQ: int = 1,  # noqa: N803  (lme4's name)
    weights: str | ArrayLike | None = None,
    offset: str | ArrayLike | None = None,
    fast: bool = False,
    start: Sequence[float] | str | None = None,
    maxeval: int = 100_000,
    data_name: str | None = None,
    trusted: bool = False,
    threads: int | None = None,
    **lme4_keywords: object,
) -> GlmerResult | LmerResult:
    """Fit a generalized linear mixed model (lme4's ``glmer``) by maximum likelihood.

    Parameters
    ----------
    formula : str
        As for `lmer`. The response may be 0/1 numbers, booleans or a two-level categorical
        (binomial: the first level is failure, every other level success, as in R), proportions
        with ``weights`` = trials, ``cbind(successes, failures)``, or counts (Poisson).
        ``offset(log(exposure))`` terms add to the linear predictor.
    data : pandas.DataFrame (or a dict of columns, pyarrow Table, polars DataFrame)
        The rows are needed at every iteration, so streamed sources are not taken.
    family : str or Family
        ``"binomial"``, ``"poisson"``, ``"Gamma"``, ``"inverse.gaussian"`` (with their default
        links), an R spelling such as ``"binomial(link = 'probit')"``, or a family object such as
        ``mixedmodels.families.Binomial(link="probit")``.
    nAGQ : int
        1 (default): Laplace approximation; 0: theta optimised with beta from PIRLS (faster,
        approximate; lme4's nAGQ = 0); > 1 (at most 25): adaptive Gauss-Hermite quadrature with
        that many nodes, for a model with one scalar random-effects term (as lme4).
    weights, offset : str or array, optional
        Prior weights (binomial: trials of a proportion response) and an offset, as for `lmer`.
    fast : bool
        Stop after the first stage (beta from PIRLS), as MixedModels.jl's ``fast=true``.
    start : sequence of float or "lme4", optional
        Starting theta (default: lme4's start, 1 on the diagonals). Where the search finds no
        valid modes and the criterion at the given start is not finite, `ArgumentError` names it.
    maxeval : int
        Limit on evaluations per stage.
    data_name : str, optional
        Name shown as ``Data:`` in the summary (default: the name the calling code gives the
        data frame, when it is a variable, as R prints it).
    trusted : bool
        As for `lmer`.
    threads : int, optional
        Threads the core may use (default: the CPUs this process may run on): PIRLS' passes over the rows of a
        model with one grouping factor and at least 32,768 rows, and the factorisations, as for
        `lmer`; the results are bitwise the same for every count.
    **lme4_keywords
        None are taken: lme4's ``REML=``, ``control=``, ``contrasts=``, ``subset=`` and ``verbose=``,
        and statsmodels' ``groups=`` and ``re_formula=``, raise an `ArgumentError` that says what to
        write instead; any other name is a TypeError.

    Returns
    -------
    GlmerResult
        (For ``family="gaussian"`` with the identity link, as lme4: a warning and `lmer`'s fit by
        REML, an `LmerResult`.)

    Examples
    --------
    >>> import mixedmodels as mm
    >>> m = mm.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)",
    ...              mm.datasets.load("cbpp"), family="binomial")
    >>> round(m.loglik, 3), m.fixef.round(3).tolist()
    (-92.026, [-1.399, -0.992, -1.129, -1.58])
    """
    refuse_statsmodels_keywords(lme4_keywords, "glmer")
    fam = as_family(family)
    maxeval = check_count(maxeval, "maxeval", maximum=MAX_EVALUATIONS)
    threads = check_threads(threads)
    nAGQ = check_nagq(nAGQ)
    fast = check_bool(fast, "fast")
    data_name = check_data_name(data_name)
    if data_name is None and isinstance(data, pd.DataFrame):
        data_name = caller_variable_name(data)
    data = table_as_frame(data)
    if not isinstance(data, pd.DataFrame):
        raise DataError(
            f"glmer needs a data frame (or a dict of columns, pyarrow Table, polars DataFrame), got "
            f"{type(data).__name__}: its rows are revisited at every iteration, so streamed sources are not taken"
        )
    parsed = parse_formula(formula, trusted=trusted)
    if parsed.counts is not None and fam.name != "binomial":
        raise FormulaError(f"cbind(successes, failures) is a binomial response; the family is {fam.name}")
    if fam.name == "gaussian" and fam.link.name == "identity":  # as lme4: glmer's shortcut to lmer
        warn(
            "glmer with family gaussian (identity link) is a linear mixed model: fitted by lmer (REML), "
            "as lme4 does; call lmer directly",
            MixedModelsWarning,
        )
        return lmer(
            formula,
            data,
            start=start,
            maxeval=maxeval,
            data_name=data_name,
            trusted=trusted,
            weights=weights,
            offset=offset,
            threads=threads,
        )
    resp = parsed.response
    if fam.name == "binomial" and parsed.counts is None and resp in data.columns:
        col = data[resp]
        if not pd.api.types.is_numeric_dtype(col.dtype) or pd.api.types.is_bool_dtype(col.dtype):
            held = col.notna().to_numpy()
            y = np.full(len(col), np.nan)  # a missing response drops its row, as R's na.omit
            if held.any():
                y[held] = binomial_response(col[held])[0]
            data = data.assign(**{resp: y})
    model = GeneralizedLinearMixedModel.from_formula(parsed, data, fam, weights=weights, offset=offset)
    model.set_threads(threads)
    return GlmerResult.of_model(model, n_agq=nAGQ, fast=fast, start=start, maxeval=maxeval, data_name=data_name)
