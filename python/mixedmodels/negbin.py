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
   ``minimize_scalar``).

The estimate is therefore the maximum of the GLMM likelihood profiled over theta (the alternation
"theta given the means, then the GLMM given theta" only supplies the start). lme4's default tolerance
on log(theta) is 5e-5 and its PIRLS stops early; here PIRLS converges and the default tolerance is
1e-6, so theta is the optimum's to about 1e-6 relative.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

from .arguments import check_count
from .exceptions import ArgumentError, ConvergenceWarning, CoreError, DataError, MixedModelsError, warn
from .families import NegativeBinomial, Poisson
from .fit import glmer
from .glmer_result import GlmerResult
from .glmm import GeneralizedLinearMixedModel, GlmmFit
from .names import caller_variable_name

__all__ = ["glmer_nb", "theta_ml"]

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
) -> GlmerResult:
    """Fit a negative binomial GLMM with theta estimated (lme4's ``glmer.nb``).

    The counts' variance is mu + mu^2 / theta. theta is the maximum of the Laplace (or quadrature)
    log-likelihood profiled over it, found as lme4 finds it (see the module's docstring): a Poisson
    fit, MASS's ``theta.ml`` on its means for a start, then a Brent minimisation over log(theta) of
    the -2 log-likelihood of glmer fits with the family ``NegativeBinomial(theta)``.

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

    Returns
    -------
    GlmerResult
        Its `family` is ``NegativeBinomial(theta)`` with the estimate (lme4's
        ``getME(m, "glmer.nb.theta")`` is ``m.family.theta``); `update` keeps that theta fixed, as
        lme4's ``update`` of a ``glmer.nb`` fit does.

    Examples
    --------
    >>> import mixedmodels as mm
    >>> m = mm.glmer_nb("TICKS ~ YEAR + (1 | LOCATION)", mm.datasets.load("grouseticks"))
    >>> round(m.family.theta, 2)
    2.05
    """
    if not isinstance(tol, float | int) or isinstance(tol, bool) or not (0 < float(tol) < 1):
        raise ArgumentError(f"tol must be a number between 0 and 1, got {tol!r}")
    maxeval = check_count(maxeval, "maxeval")
    if data_name is None:
        data_name = caller_variable_name(data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the Poisson fit is a start: its warnings are not the model's
        start = glmer(
            formula,
            data,
            family=Poisson(link=link),
            nAGQ=nAGQ,
            weights=weights,
            offset=offset,
            maxeval=maxeval,
            data_name=data_name,
            trusted=trusted,
        )
    assert isinstance(start, GlmerResult)  # glmer returns an LmerResult only for the gaussian family
    base = start.glmm
    th0, _ = theta_ml(base.y, start.glmm_fit.pirls.mu, base.prior_weights, limit=THETA_ML_LIMIT, eps=2 * float(tol))
    if not (math.isfinite(th0) and th0 > 0):
        raise MixedModelsError(
            f"no start for the negative binomial's theta (theta.ml gave {th0!r}): the counts show no overdispersion "
            "beyond the Poisson fit's; fit a Poisson model instead"
        )
    if interval is None:
        lo, hi = math.log(th0) - INTERVAL_HALF_WIDTH, math.log(th0) + INTERVAL_HALF_WIDTH
    else:
        if len(interval) != 2 or not all(math.isfinite(float(v)) for v in interval) or interval[0] >= interval[1]:
            raise ArgumentError(f"interval must be two finite numbers, lower < upper (log theta), got {interval!r}")
        lo, hi = float(interval[0]), float(interval[1])
    fits: dict[float, GlmmFit] = {}
    last: list[GlmmFit] = []

    def deviance(t: float) -> float:
        model = GeneralizedLinearMixedModel(base.structure, base.data, NegativeBinomial(math.exp(t), link=link))
        theta0 = (last[-1] if last else start.glmm_fit).theta
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the search's fits: only the final one's verdict counts
                fit = model.fit(n_agq=int(nAGQ), start=theta0, maxeval=maxeval, data_name=data_name)
        except (DataError, CoreError, MixedModelsError, ArithmeticError):
            return math.inf
        fits[t] = fit
        last.append(fit)
        return fit.objective

    from scipy.optimize import minimize_scalar  # scipy.optimize is heavy: imported on use

    opt = minimize_scalar(deviance, bounds=(lo, hi), method="bounded", options={"xatol": float(tol)})
    if not fits:
        raise MixedModelsError("every negative binomial fit of the search over theta failed")
    t_best = min(fits, key=lambda t: fits[t].objective)
    if abs(t_best - lo) < 10 * tol or abs(t_best - hi) < 10 * tol:
        warn(
            f"the negative binomial's theta ({math.exp(t_best):.4g}) is at an end of the interval searched "
            f"(log theta in [{lo:.3g}, {hi:.3g}]): give a wider interval",
            ConvergenceWarning,
        )
    # the final fit again, with its warnings shown (it is the model's)
    final_model = GeneralizedLinearMixedModel(base.structure, base.data, NegativeBinomial(math.exp(t_best), link=link))
    final_model.call = base.call
    fit = final_model.fit(n_agq=int(nAGQ), start=fits[t_best].theta, maxeval=maxeval, data_name=data_name)
    del opt
    return GlmerResult.of_glmm(fit)
