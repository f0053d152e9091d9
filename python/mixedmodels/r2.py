"""Nakagawa's R² and the intraclass correlation of a linear mixed model, as the R package
performance (0.10.2, with insight 0.19.0's ``get_variance``) computes them.

The three variance components (insight's names without the dots):

- ``var_fixed``: the sample variance (denominator n - 1) of the fixed part X beta over the rows of
  the fit (offsets left out, as insight does);
- ``var_random``: Johnson's (2014) extension for random slopes, the mean over the rows of
  z_i' Sigma_f z_i summed over the grouping factors f, that is sum_f trace(Sigma_f Z_f'Z_f) / n.
  For a random-intercept-only term this is the intercept variance;
- ``var_residual``: sigma^2; for a binomial GLMM (glmer) Nakagawa's distribution-specific variance,
  pi^2/3 for the logit link and 1 for the probit link (checked against performance:
  tests/reference/r2_glmm); for a Poisson GLMM with the log link, log(1 + 1/lambda) with
  lambda = exp(beta_0) of insight's null model: the response on an intercept and the same
  random-effects terms, refitted by glmer with the same family, weights and offsets (``0.25`` for
  the sqrt link); checked against performance 0.10.2 (tests/reference/glmm_postestimation). Other
  GLMMs raise a `MixedModelsError`. For a GLMM, as insight, a grouping factor with one level per
  observation (an observation-level random effect) is overdispersion: its variance moves from
  ``var_random`` to ``var_dispersion``, and ``var_residual`` = distribution-specific variance +
  ``var_dispersion``.

Then R2_marginal = vf / (vf + vr + s2), R2_conditional = (vf + vr) / (vf + vr + s2),
ICC_adjusted = vr / (vr + s2), ICC_unadjusted = vr / (vf + vr + s2).

One deliberate difference from insight: insight takes Z_f from the *fixed-effects* model matrix,
the columns named like the term's columns, and silently drops a random-effects column that has no
fixed-effects namesake (``(0 + x | g)`` without ``x`` in the fixed part, or a factor's level that
treatment contrasts leave out of X), with its variances and covariances. Here Z_f is the term's
own random-effects model matrix, which is the same column whenever the fixed part has it (every
case in the reference set), and keeps the variance insight drops otherwise.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .exceptions import DataError, MixedModelsError, MixedModelsWarning
from .fitted import LmerFit
from .glmm import GeneralizedLinearMixedModel

__all__ = ["VarianceComponents", "icc", "icc_by_group", "r2", "variance_components"]


@dataclass(frozen=True)
class VarianceComponents:
    """insight's ``get_variance`` of a linear mixed model.

    Attributes
    ----------
    var_fixed : float
        Variance (denominator n - 1) of the fixed part X beta over the fit's rows.
    var_random : float
        Mean over the rows of the random effects' variance at each row (Johnson 2014).
    var_residual : float
        sigma^2 (a binomial GLMM: pi^2/3 for the logit link, 1 for the probit link).
    var_intercept : dict of str to float
        The intercept variance of each grouping factor that has an intercept column.
    var_random_per_factor : dict of str to float
        ``var_random`` split by grouping factor.
    var_dispersion : float
        A GLMM's observation-level random effects' variance (insight's ``var.dispersion``), part
        of ``var_residual``; 0 otherwise.
    """

    var_fixed: float
    var_random: float
    var_residual: float
    var_intercept: dict[str, float]
    var_random_per_factor: dict[str, float]
    var_dispersion: float = 0.0


def _residual_variance(m: LmerFit) -> float:
    """sigma^2 for a linear mixed model; for a GLMM, Nakagawa's distribution-specific variance
    (insight's ``var.distribution``): binomial logit pi^2/3, binomial probit 1, Poisson log
    log(1 + 1/lambda) (lambda from the null model), Poisson sqrt 0.25. Other families and links raise."""
    model = m.model
    if not isinstance(model, GeneralizedLinearMixedModel):
        return float(m.sigma**2)
    fam = model.family
    if fam.name == "binomial" and fam.link.name == "logit":
        return float(np.pi**2 / 3)
    if fam.name == "binomial" and fam.link.name == "probit":
        return 1.0
    if fam.name == "poisson" and fam.link.name == "sqrt":
        return 0.25
    if fam.name == "poisson" and fam.link.name == "log":
        lam = _null_model_mean(m, model)
        if lam < 6:
            warnings.warn(
                f"mu of {lam:.1f} is too close to zero, estimate of the residual variance may be unreliable "
                "(as performance warns)",
                MixedModelsWarning,
                stacklevel=4,
            )
        return float(np.log1p(1.0 / lam))
    raise MixedModelsError(
        f"R² and the ICC of a glmer fit are implemented for the binomial family with the logit or probit link "
        f"and the Poisson family with the log or sqrt link only, not {fam.name} with the {fam.link.name} link"
    )


def _null_model_mean(m: LmerFit, model: GeneralizedLinearMixedModel) -> float:
    """exp(intercept) of insight's null model: the response on an intercept and the model's
    random-effects terms, refitted with the same family, prior weights and offsets."""
    s = model.structure
    if "(Intercept)" not in s.fixed_names:
        raise MixedModelsError(
            "R² and the ICC of a Poisson GLMM need the null model's intercept: fit with an intercept"
        )
    keep = np.array([s.fixed_names.index("(Intercept)")], dtype=np.intp)
    null = GeneralizedLinearMixedModel.build(s.select_fixed(keep), model.data.select_fixed(keep), model.family)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MixedModelsWarning)
        fit = null.fit(start=m.theta)
    return float(np.exp(fit.beta[0]))


def variance_components(m: LmerFit) -> VarianceComponents:
    """The fixed, random and residual variances of Nakagawa's R² (insight's ``get_variance``).

    Needs the fit's rows (not a streamed fit: a `DataError` says so).

    Examples
    --------
    >>> import mixedmodels as mm
    >>> m = mm.lmer("Reaction ~ Days + (Days | Subject)", mm.datasets.load("sleepstudy"))
    >>> round(variance_components(m).var_fixed, 2)
    908.95
    """
    var_residual = _residual_variance(m)
    rows = m.model.rows if isinstance(m.model, GeneralizedLinearMixedModel) else m.model.data.rows("R² and the ICC")
    n = rows.nobs
    if n < 2:
        raise DataError("R² and the ICC need at least two rows")
    fixed = rows.x @ m.beta
    var_fixed = float(np.var(fixed - fixed[0], ddof=1))  # shifted: exactly 0 when X beta is constant, as R's var
    per_factor: dict[str, float] = {}
    intercepts: dict[str, float] = {}
    s = m.structure
    for fi, f in enumerate(s.factors):
        cov = m.cov_re[f.name].to_numpy()
        z = rows.z[fi]
        per_factor[f.name] = float(np.einsum("ij,jk,ik->", z, cov, z) / n)
        if "(Intercept)" in f.columns:
            j = f.columns.index("(Intercept)")
            intercepts[f.name] = float(cov[j, j])
    order = list(s.group_order)
    # insight: in a GLMM a grouping factor with one level per observation is overdispersion
    glmm = isinstance(m.model, GeneralizedLinearMixedModel)
    obs = [f.name for f in s.factors if glmm and f.nlev == n]
    var_dispersion = float(sum(per_factor[g] for g in obs))
    return VarianceComponents(
        var_fixed=var_fixed,
        var_random=float(sum(per_factor[g] for g in order if g not in obs)),
        var_residual=var_residual + var_dispersion,
        var_intercept={g: intercepts[g] for g in order if g in intercepts},
        var_random_per_factor={g: per_factor[g] for g in order},
        var_dispersion=var_dispersion,
    )


def r2(m: LmerFit) -> pd.Series:
    """Nakagawa's marginal and conditional R² (performance's ``r2_nakagawa``), with the variance
    components they come from: R2_marginal, R2_conditional, var_fixed, var_random, var_residual.

    Examples
    --------
    >>> import mixedmodels as mm
    >>> m = mm.lmer("Reaction ~ Days + (Days | Subject)", mm.datasets.load("sleepstudy"))
    >>> r2(m)[["R2_marginal", "R2_conditional"]].round(4).tolist()
    [0.2787, 0.7992]
    """
    v = variance_components(m)
    total = v.var_fixed + v.var_random + v.var_residual
    return pd.Series(
        {
            "R2_marginal": v.var_fixed / total,
            "R2_conditional": (v.var_fixed + v.var_random) / total,
            "var_fixed": v.var_fixed,
            "var_random": v.var_random,
            "var_residual": v.var_residual,
        },
        name="r2",
    )


def icc(m: LmerFit) -> pd.Series:
    """The adjusted and unadjusted intraclass correlations (performance's ``icc``), with the variance
    components: ICC_adjusted = vr / (vr + s2), ICC_unadjusted = vr / (vf + vr + s2).

    Examples
    --------
    >>> import mixedmodels as mm
    >>> m = mm.lmer("Reaction ~ Days + (Days | Subject)", mm.datasets.load("sleepstudy"))
    >>> icc(m)[["ICC_adjusted", "ICC_unadjusted"]].round(4).tolist()
    [0.7217, 0.5206]
    """
    v = variance_components(m)
    return pd.Series(
        {
            "ICC_adjusted": v.var_random / (v.var_random + v.var_residual),
            "ICC_unadjusted": v.var_random / (v.var_fixed + v.var_random + v.var_residual),
            "var_fixed": v.var_fixed,
            "var_random": v.var_random,
            "var_residual": v.var_residual,
        },
        name="icc",
    )


def icc_by_group(m: LmerFit) -> pd.DataFrame:
    """The ICC of each grouping factor (performance's ``icc(by_group = TRUE)``): its intercept
    variance over var_random + var_residual. Columns ``Group`` and ``ICC``, one row per grouping
    factor with an intercept; with random slopes it warns, as performance does, that these are not
    accurate.

    Examples
    --------
    >>> import mixedmodels as mm
    >>> m = mm.lmer("diameter ~ 1 + (1 | plate) + (1 | sample)", mm.datasets.load("penicillin"))
    >>> icc_by_group(m)["Group"].tolist()
    ['plate', 'sample']
    """
    v = variance_components(m)
    if any(c != "(Intercept)" for f in m.structure.factors for c in f.columns):
        warnings.warn(
            "the model has random slopes: the ICC by grouping factor uses only the intercept variances",
            MixedModelsWarning,
            stacklevel=3,
        )
    if not v.var_intercept:
        raise MixedModelsError("no grouping factor has a random intercept: there is no ICC by group")
    denom = v.var_random + v.var_residual
    return pd.DataFrame(
        {"Group": list(v.var_intercept), "ICC": [x / denom for x in v.var_intercept.values()]},
    )
