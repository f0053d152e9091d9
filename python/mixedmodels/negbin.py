"""Negative binomial GLMMs with theta estimated: `glmer_nb`, as lme4's ``glmer.nb``.

lme4 1.1-31's algorithm, step by step:

1. a Poisson glmer fit of the same model (formula, data, weights, offset, nAGQ);
2. a first theta from it by MASS's ``theta.ml``: Fisher scoring on the negative binomial
   log-likelihood of y given the Poisson fit's means (lme4's ``est_theta``: at most 20 steps, to
   2 * tol);
3. glmer fits with the family ``negative.binomial(theta)`` (`families.NegativeBinomial`), each
   started from the previous fit's theta, inside a one-dimensional Brent minimisation of their
   -2 log-likelihood (Laplace or quadrature) over log(theta) on log(theta_0) -/+ 3 (lme4's
   ``optTheta``: R's ``optimize``, which is the same Brent ``fmin`` as SciPy's bounded
   ``minimize_scalar``). For quadrature (nAGQ > 1) the criterion is the full -2 log-likelihood:
   glmer's quadrature value leaves out the saturated model's term, which depends on theta, so it
   is added back (lme4 1.1-31 minimises without it and its theta collapses towards 0).

The estimate is therefore the maximum of the GLMM likelihood profiled over theta (the alternation
"theta given the means, then the GLMM given theta" only supplies the start). lme4's default tolerance
on log(theta) is 5e-5 and its PIRLS stops early; here PIRLS converges and the default tolerance is
1e-6, so theta is the optimum's to about 1e-6 relative.

The result (`GlmerNbResult`) keeps how theta was searched (`NbSettings`), so that its `update`
estimates theta again; lme4 1.1-31's ``update`` of a ``glmer.nb`` fit keeps the old theta, which
``update(family=m.family)`` does here.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import special

from . import updates
from .arguments import MAX_EVALUATIONS, check_count, check_data_name, check_nagq
from .exceptions import ArgumentError, ConvergenceWarning, CoreError, DataError, MixedModelsError, warn
from .families import NegativeBinomial, Poisson
from .fit import glmer
from .glmer_result import GlmerResult
from .glmm import GlmmFit
from .names import caller_variable_name

__all__ = ["GlmerNbResult", "NbSettings", "glmer_nb", "theta_ml"]

FloatArray = NDArray[np.float64]

INTERVAL_HALF_WIDTH = 3.0  # lme4: interval = log(th) + c(-3, 3)
THETA_ML_LIMIT = 20  # lme4's initCtrl$limit


def theta_ml(
    y: ArrayLike, mu: ArrayLike, weights: ArrayLike | None = None, limit: int = 10, eps: float = 1.220703e-4
) -> tuple[float, int]:
    """MASS's ``theta.ml``: the maximum-likelihood theta of a negative binomial with known means, by
    Fisher scoring from the moment estimate n / sum w (y / mu - 1)^2 (n = sum of the weights).

    Parameters
    ----------
    y, mu : array_like
        Counts and their means.
    weights : array_like, optional
        Prior weights (ones by default).
    limit : int
        Iteration limit (MASS's ``limit``; a warning when it is reached, as MASS's).
    eps : float
        Stop when the step is below it (MASS's default ``.Machine$double.eps^0.25``).

    Returns
    -------
    (theta, iterations)

    Examples
    --------
    >>> th, it = theta_ml([0, 0, 5, 1, 14, 0, 3, 8, 0, 2], [2, 1.5, 3, 2, 5, 1, 2.5, 3, 1, 2])
    >>> round(th, 4)  # MASS::theta.ml: 1.296434
    1.2964
    """
    yv = np.asarray(y, dtype=np.float64)
    m = np.asarray(mu, dtype=np.float64)
    w = np.ones_like(yv) if weights is None else np.asarray(weights, dtype=np.float64)
    n = float(w.sum())

    def score(th: float) -> float:
        return float(
            np.sum(
                w
                * (
                    special.digamma(th + yv)
                    - special.digamma(th)
                    + math.log(th)
                    + 1
                    - np.log(th + m)
                    - (yv + th) / (m + th)
                )
            )
        )

    def info(th: float) -> float:
        return float(
            np.sum(
                w
                * (
                    -special.polygamma(1, th + yv)
                    + special.polygamma(1, th)
                    - 1 / th
                    + 2 / (m + th)
                    - (yv + th) / (m + th) ** 2
                )
            )
        )

    t0 = n / float(np.sum(w * (yv / m - 1) ** 2))
    it = 0
    delta = 1.0
    while True:
        it += 1
        if not (it < limit and abs(delta) > eps):
            break
        t0 = abs(t0)
        delta = score(t0) / info(t0)
        t0 += delta
    if t0 < 0:
        warn("theta.ml: estimate truncated at zero", ConvergenceWarning)
        t0 = 0.0
    if it == limit:
        warn("theta.ml: iteration limit reached", ConvergenceWarning)
    return float(t0), it


@dataclass(frozen=True)
class NbSettings:
    """How `glmer_nb` searched for theta, kept by its result so that `GlmerNbResult.update` searches
    again the same way.

    Attributes
    ----------
    link : str
        The link.
    tol : float
        Tolerance of the search over log(theta).
    interval : (float, float) or None
        The interval of log(theta) searched; None: the first estimate's log -/+ 3 (lme4's default).
    maxeval : int
        Limit on evaluations per stage of each glmer fit.

    Examples
    --------
    >>> NbSettings("log", 1e-6, None, 100_000).tol
    1e-06
    """

    link: str
    tol: float
    interval: tuple[float, float] | None
    maxeval: int


class GlmerNbResult(GlmerResult):
    """A `glmer_nb` fit: a `GlmerResult` whose negative binomial theta was estimated (its family is
    ``NegativeBinomial(theta)`` at the estimate); `update` estimates theta again.

    Examples
    --------
    >>> import mixedmodels as mm
    >>> m = mm.glmer_nb("TICKS ~ YEAR + (1 | LOCATION)", mm.datasets.load("grouseticks"))
    >>> isinstance(m, mm.GlmerResult), m.nb_settings.link
    (True, 'log')
    """

    @property
    def nb_settings(self) -> NbSettings:
        """How theta was searched for (`NbSettings`): `update` searches again the same way."""
        return cast(NbSettings, self.__dict__["nb_settings"])

    def update(self, formula: str | None = None, data: pd.DataFrame | None = None, **kwargs: Any) -> GlmerResult:
        """The model refitted by `glmer_nb` with a changed formula, other data or changed arguments:
        theta is estimated again (a `GlmerNbResult`), from a new Poisson fit, with this fit's link,
        ``tol``, ``interval`` and ``maxeval`` unless given.

        lme4 1.1-31's ``update`` of a ``glmer.nb`` fit instead refits ``glmer`` with
        ``negative.binomial(theta)`` at the old estimate (``glmer.nb`` stores that ``glmer`` call):
        ``update(family=m.family)`` does that here, and any ``family`` given makes a plain `glmer`
        fit with that family (`GlmerResult.update`).

        Parameters
        ----------
        formula : str, optional
            A full formula, or R's shorthand with ``.`` for the old sides (``". ~ . - x"``).
        data : DataFrame, optional
            Other data (default: the data frame the fit was given).
        **kwargs
            ``nAGQ``, ``weights``, ``offset`` (default: the fit's; ``None`` removes weights or the
            offset), ``tol``, ``interval``, ``maxeval``, ``data_name`` (default: the fit's), or
            ``family`` (then `GlmerResult.update`'s keywords).

        Examples
        --------
        >>> import mixedmodels as mm
        >>> ticks = mm.datasets.load("grouseticks")
        >>> m = mm.glmer_nb("TICKS ~ YEAR + (1 | LOCATION)", ticks)
        >>> u = m.update(". ~ . - YEAR")
        >>> round(u.family.theta, 4) == round(mm.glmer_nb("TICKS ~ 1 + (1 | LOCATION)", ticks).family.theta, 4)
        True
        >>> m.update(". ~ . - YEAR", family=m.family).family == m.family  # lme4's update: theta kept
        True
        """
        if "family" in kwargs:
            return super().update(formula, data, **kwargs)
        unknown = sorted(set(kwargs) - set(NB_UPDATE_KEYWORDS))
        if unknown:
            raise ArgumentError(
                f"unknown keyword(s) {', '.join(unknown)} for update of a glmer_nb fit; it takes "
                f"{', '.join(NB_UPDATE_KEYWORDS)}, or family= for a glmer fit with that family"
            )
        old = self.nb_settings
        settings = NbSettings(
            link=old.link,
            tol=_check_tol(kwargs.get("tol", old.tol)),
            interval=_check_interval(kwargs.get("interval", old.interval)),
            maxeval=check_count(kwargs.get("maxeval", old.maxeval), "maxeval", maximum=MAX_EVALUATIONS),
        )
        model_kw = {k: kwargs[k] for k in ("weights", "offset") if k in kwargs}
        model = updates.updated_glmm(self, formula, data, family=Poisson(link=old.link), **model_kw)
        n_agq = check_nagq(kwargs.get("nAGQ", self.n_agq))
        data_name = check_data_name(kwargs.get("data_name", self.data_name))
        with _poisson_start():
            start = GlmerResult.of_model(
                model, n_agq=n_agq, fast=False, start=None, maxeval=settings.maxeval, data_name=data_name
            )
        return _estimate(start, settings, n_agq, data_name)


NB_UPDATE_KEYWORDS = ("nAGQ", "weights", "offset", "tol", "interval", "maxeval", "data_name")


def glmer_nb(
    formula: str,
    data: Any,
    *,
    link: str = "log",
    nAGQ: int = 1,  # noqa: N803  (lme4's name)
    weights: str | ArrayLike | None = None,
    offset: str | ArrayLike | None = None,
    tol: float = 1e-6,
    interval: tuple[float, float] | None = None,
    maxeval: int = 100_000,
    data_name: str | None = None,
    trusted: bool = False,
    threads: int | None = None,
) -> GlmerNbResult:
    """Fit a negative binomial GLMM with theta estimated (lme4's ``glmer.nb``).

    The counts' variance is mu + mu^2 / theta. theta is the maximum of the Laplace (or quadrature)
    log-likelihood profiled over it, found as lme4 finds it (see the module's docstring): a Poisson
    fit, MASS's ``theta.ml`` on its means for a start, then a Brent minimisation over log(theta) of
    the -2 log-likelihood of glmer fits with the family ``NegativeBinomial(theta)``.

    With ``nAGQ > 1`` the quadrature's -2 log-likelihood leaves out the saturated model's term, as
    lme4's (`GlmerResult.objective`); that term depends on theta, so the search adds it back
    (`families.Family.loglik_saturated`) and maximises the full log-likelihood. lme4 1.1-31's
    ``glmer.nb`` compares the criteria without it and runs to a tiny theta with a random-effect SD of
    0 (tests/reference/glmm_nb_adv/README.md); the fit's `loglik` is still in lme4's nAGQ > 1
    convention (lme4's ``glmer`` at the estimated theta prints the same number).

    Parameters
    ----------
    formula : str
        As for `glmer`; the response is a count.
    data : pandas.DataFrame (or a dict of columns, pyarrow Table, polars DataFrame)
    link : {"log", "sqrt", "identity"}
        The link (lme4's default: log).
    nAGQ : int
        As for `glmer`.
    weights, offset : str or array, optional
        As for `glmer`.
    tol : float
        Tolerance of the minimisation over log(theta) (lme4's ``tol``, whose default is 5e-5;
        tighter here, as PIRLS here converges).
    interval : (float, float), optional
        The interval of log(theta) searched (default: the first estimate's log -/+ 3, as lme4's).
    maxeval : int
        Limit on evaluations per stage of each glmer fit.
    data_name : str, optional
        Name shown as ``Data:`` in the summary.
    trusted : bool
        As for `lmer`.
    threads : int, optional
        As for `glmer` (every fit of the search uses them).

    Returns
    -------
    GlmerNbResult
        A `GlmerResult` whose `family` is ``NegativeBinomial(theta)`` with the estimate (lme4's
        ``getME(m, "glmer.nb.theta")`` is ``m.family.theta``); its `update` estimates theta again
        (``update(family=m.family)`` keeps it, as lme4's ``update`` does).

    Examples
    --------
    >>> import mixedmodels as mm
    >>> m = mm.glmer_nb("TICKS ~ YEAR + (1 | LOCATION)", mm.datasets.load("grouseticks"))
    >>> round(m.family.theta, 2)
    2.05
    """
    settings = NbSettings(
        link=NegativeBinomial(1.0, link=link).link.name,  # checked against the negative binomial's links
        tol=_check_tol(tol),
        interval=_check_interval(interval),
        maxeval=check_count(maxeval, "maxeval", maximum=MAX_EVALUATIONS),
    )
    n_agq = check_nagq(nAGQ)
    if data_name is None:
        data_name = caller_variable_name(data)
    with _poisson_start():
        start = glmer(
            formula,
            data,
            family=Poisson(link=settings.link),
            nAGQ=n_agq,
            weights=weights,
            offset=offset,
            maxeval=settings.maxeval,
            data_name=data_name,
            trusted=trusted,
            threads=threads,
        )
    assert isinstance(start, GlmerResult)  # glmer returns an LmerResult only for the gaussian family
    return _estimate(start, settings, n_agq, data_name)


@contextlib.contextmanager
def _poisson_start() -> Iterator[None]:
    """Around the Poisson fit that starts the search: its warnings are not the model's (hidden),
    and an error about the Poisson family says that it comes from that fit."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            yield
        except DataError as exc:
            if "Poisson" not in str(exc):
                raise
            raise DataError(f"{exc} (in glmer_nb's first step, a Poisson fit of the same model)") from exc


def _check_tol(tol: object) -> float:
    if not isinstance(tol, float | int) or isinstance(tol, bool) or not (0 < float(tol) < 1):
        raise ArgumentError(f"tol must be a number between 0 and 1, got {tol!r}")
    return float(tol)


def _check_interval(interval: object) -> tuple[float, float] | None:
    if interval is None:
        return None
    bad = ArgumentError(f"interval must be two finite numbers, lower < upper (log theta), got {interval!r}")
    if isinstance(interval, str) or not isinstance(interval, tuple | list | np.ndarray) or len(interval) != 2:
        raise bad
    try:
        lo, hi = (float(v) for v in interval)
    except (TypeError, ValueError):
        raise bad from None
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise bad
    return lo, hi


def _estimate(start: GlmerResult, settings: NbSettings, n_agq: int, data_name: str | None) -> GlmerNbResult:
    """The search over log(theta) from a Poisson fit ``start`` (steps 2 and 3 of the module's
    docstring) and the final fit at the estimate."""
    base = start.glmm
    link = settings.link
    tol = settings.tol
    th0, _ = theta_ml(base.y, start.glmm_fit.pirls.mu, base.prior_weights, limit=THETA_ML_LIMIT, eps=2 * tol)
    if not (math.isfinite(th0) and th0 > 0):
        raise MixedModelsError(
            f"no start for the negative binomial's theta (theta.ml gave {th0!r}): the counts show no overdispersion "
            "beyond the Poisson fit's; fit a Poisson model instead"
        )
    if settings.interval is None:
        lo, hi = math.log(th0) - INTERVAL_HALF_WIDTH, math.log(th0) + INTERVAL_HALF_WIDTH
    else:
        lo, hi = settings.interval
    fits: dict[float, tuple[GlmmFit, float]] = {}
    last: list[GlmmFit] = []

    def deviance(t: float) -> float:
        family = NegativeBinomial(math.exp(t), link=link)
        model = base.with_family(family)
        theta0 = (last[-1] if last else start.glmm_fit).theta
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the search's fits: only the final one's verdict counts
                fit = model.fit(n_agq=n_agq, start=theta0, maxeval=settings.maxeval, data_name=data_name)
        except (DataError, CoreError, MixedModelsError, ArithmeticError):
            return math.inf
        # quadrature's criterion leaves out -2 x the saturated model's log-likelihood, which depends
        # on theta: added back, so that every theta's criterion is the full -2 log-likelihood
        full = fit.objective
        if n_agq > 1:
            full -= 2 * family.loglik_saturated(base.y, base.prior_weights)
        fits[t] = (fit, full)
        last.append(fit)
        return full

    from scipy.optimize import minimize_scalar  # scipy.optimize is heavy: imported on use

    minimize_scalar(deviance, bounds=(lo, hi), method="bounded", options={"xatol": tol})
    if not fits:
        raise MixedModelsError("every negative binomial fit of the search over theta failed")
    t_best = min(fits, key=lambda t: fits[t][1])
    if abs(t_best - lo) < 10 * tol or abs(t_best - hi) < 10 * tol:
        warn(
            f"the negative binomial's theta ({math.exp(t_best):.4g}) is at an end of the interval searched "
            f"(log theta in [{lo:.3g}, {hi:.3g}]): give a wider interval",
            ConvergenceWarning,
        )
    # the final fit again, with its warnings shown (it is the model's)
    final_model = base.with_family(NegativeBinomial(math.exp(t_best), link=link))
    final_model.call = base.call
    fit = final_model.fit(n_agq=n_agq, start=fits[t_best][0].theta, maxeval=settings.maxeval, data_name=data_name)
    out = GlmerNbResult.of_glmm(fit)
    assert isinstance(out, GlmerNbResult)
    out.__dict__["nb_settings"] = settings
    return out
