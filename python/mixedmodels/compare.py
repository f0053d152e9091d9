"""Likelihood-ratio comparison of nested models, as lme4's ``anova(m0, m1, ...)``."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import special

from .arguments import check_bool
from .exceptions import ArgumentError, DataError, RefitWarning, warn
from .families import Family, NegativeBinomial, Poisson
from .glmer_result import GlmerResult
from .results import LmerResult

__all__ = ["RefitWarning", "anova"]


def _same_response(a: LmerResult | GlmerResult, b: LmerResult | GlmerResult) -> bool:
    """Whether two fits saw the same response: the same observations, range and y'y (from the
    cross-products, so any kind of data compares), and the same values row by row where both hold
    their rows; for GLMMs, the same family, response and prior weights."""
    if isinstance(a, GlmerResult) or isinstance(b, GlmerResult):
        if not (isinstance(a, GlmerResult) and isinstance(b, GlmerResult)):
            return False
        ga, gb = a.glmm, b.glmm
        return (
            _nested_families(ga.family, gb.family)
            and np.array_equal(ga.y, gb.y)
            and np.array_equal(ga.prior_weights, gb.prior_weights)
        )
    ca, cb = a.model.cross_products, b.model.cross_products
    if (ca.nobs, ca.response_range) != (cb.nobs, cb.response_range):
        return False
    if ca.fixed_crossprod()[-1, -1] != cb.fixed_crossprod()[-1, -1]:
        return False
    try:
        ya, yb = a.model.data.rows("anova").y, b.model.data.rows("anova").y
    except DataError:  # a streamed fit holds no rows: the sums above are what there is to compare
        return True
    return bool(np.array_equal(ya, yb))


def _nested_families(fa: Family, fb: Family) -> bool:
    """Whether glmer fits of these families can be compared: the same family, or counts with the
    same link. glmer.nb fits estimate their own theta: lme4 compares them as the same family, and a
    Poisson fit against one (the Poisson model is the negative binomial's limit theta -> inf: the
    usual test of overdispersion, its p-value conservative on that boundary)."""
    counts = isinstance(fa, NegativeBinomial | Poisson) and isinstance(fb, NegativeBinomial | Poisson)
    return fa == fb or (counts and fa.link == fb.link)


def _mismatch(a: LmerResult | GlmerResult, b: LmerResult | GlmerResult) -> str:
    """Why `_same_response` says two fits cannot be compared."""
    if isinstance(a, GlmerResult) != isinstance(b, GlmerResult):
        return "an lmer fit and a glmer fit are not compared: fit both with glmer (family='gaussian') or both with lmer"
    if isinstance(a, GlmerResult) and isinstance(b, GlmerResult):
        fa, fb = a.glmm.family, b.glmm.family
        if not _nested_families(fa, fb):
            return (
                f"models were fitted with different families or links ({fa.name}({fa.link.name}) and "
                f"{fb.name}({fb.link.name})): their likelihoods are not nested"
            )
    return "models were not all fitted to the same data (same response and rows)"


def _logliks(models: tuple[LmerResult | GlmerResult, ...]) -> list[float]:
    """Each fit's `loglik` (lme4's logLik); but when glmer fits' nAGQ > 1 criteria leave out
    different saturated-model terms (negative binomial fits of different thetas, or quadrature next
    to Laplace), which lme4's anova would compare as they are, their full log-likelihoods
    (`GlmerResult.loglik_full`)."""
    glmms = [m for m in models if isinstance(m, GlmerResult)]
    if len(glmms) == len(models) and any(m.n_agq > 1 for m in glmms):
        if len({(m.family, m.n_agq > 1) for m in glmms}) > 1:
            return [m.loglik_full for m in glmms]
    return [m.loglik for m in models]


def anova(*models: LmerResult | GlmerResult, names: list[str] | None = None, refit: bool = True) -> pd.DataFrame:
    """Likelihood-ratio tests between models fitted to the same data (lmer fits, or glmer fits
    of the same family).

    REML fits are refitted by maximum likelihood first (with a `RefitWarning` saying so, as lme4
    says "refitting model(s) with ML"), models are ordered by their number of parameters, and each
    is tested against the one before it. With a single model, its type III table (`m.anova()`).

    glmer fits with ``nAGQ > 1`` report lme4's log-likelihood without the saturated model's term;
    when that term differs between the fits (negative binomial fits of different thetas, or
    quadrature next to Laplace) the table holds their full log-likelihoods instead
    (`GlmerResult.loglik_full`), where lme4's anova would compare numbers with different constants
    left out.

    Returns
    -------
    DataFrame with columns npar, AIC, BIC, logLik, deviance, Chisq, Df, Pr(>Chisq), indexed by the
    models' names (default: their formulas).

    Examples
    --------
    >>> import warnings, mixedmodels as mm
    >>> sleep = mm.datasets.load("sleepstudy")
    >>> m0 = mm.lmer("Reaction ~ Days + (1 | Subject)", sleep, reml=False)
    >>> m1 = mm.lmer("Reaction ~ Days + (Days | Subject)", sleep, reml=False)
    >>> round(float(mm.anova(m0, m1)["Chisq"].iloc[1]), 2)
    42.14
    """
    bad = [type(m).__name__ for m in models if not isinstance(m, (LmerResult, GlmerResult))]
    if bad:
        raise ArgumentError(f"anova compares fitted models (LmerResult, GlmerResult), got {', '.join(bad)}")
    refit = check_bool(refit, "refit")
    if len(models) == 1:
        only = models[0]
        if isinstance(only, GlmerResult):
            raise ArgumentError("anova of one glmer fit: give two or more nested fits for likelihood-ratio tests")
        return only.anova()
    if not models:
        raise ValueError("anova needs at least one model")
    for m in models[1:]:
        if not _same_response(models[0], m):
            raise DataError(_mismatch(models[0], m))
    if names is None:
        names = [m.formula or f"model {i + 1}" for i, m in enumerate(models)]
    if len(names) != len(models):
        raise ValueError("one name per model")
    if refit and any(m.reml for m in models):
        warn("refitting model(s) with ML (instead of REML)", RefitWarning)
        models = tuple(
            LmerResult.of(m.model.with_reml(False).fit(start=m.theta, data_name=m.data_name))
            if m.reml and isinstance(m, LmerResult)
            else m
            for m in models
        )

    order = sorted(range(len(models)), key=lambda i: models[i].df)
    logliks = _logliks(models)
    rows = []
    prev = None
    for i in order:
        m = models[i]
        dev = -2 * logliks[i]
        if prev is None:
            chisq = df = p = np.nan
        else:
            chisq = max(prev[1] - dev, 0.0)
            df = m.df - prev[0]
            p = float(special.chdtrc(df, chisq)) if df > 0 else np.nan
        shift = dev + 2 * m.loglik  # 0 but for full log-likelihoods (`_logliks`)
        aic, bic = m.aic + shift, m.bic + shift
        rows.append((names[i], m.df, aic, bic, logliks[i], dev, chisq, df, p))
        prev = (m.df, dev)
    out = pd.DataFrame(rows, columns=["model", "npar", "AIC", "BIC", "logLik", "deviance", "Chisq", "Df", "Pr(>Chisq)"])
    return out.set_index("model")
