"""Changed models of a fit: `updated_model` and `updated_glmm` (R's ``update``: another formula,
data or arguments, from the arguments the fit was called with) and `drop1` (lmerTest's F tests of the marginal
terms, or lme4's likelihood-ratio tests with each marginal term dropped and the model refitted by ML).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import special

from .anova_tables import drop1_f, fixed_terms, marginal_terms
from .exceptions import ArgumentError, FormulaError, MixedModelsError, RefitWarning, warn
from .families import Family, binomial_response
from .families import family as as_family
from .fitted import LmerFit
from .formula import ParsedFormula, parse_formula, update_formula
from .glmm import GeneralizedLinearMixedModel
from .model import LinearMixedModel

__all__ = ["KEEP", "LRT_COLUMNS", "drop1", "updated_glmm", "updated_model"]

LRT_COLUMNS = ["npar", "AIC", "LRT", "Pr(Chi)"]


class _Keep:
    """The default of `updated_model`'s weights and offset: the original fit's."""

    def __repr__(self) -> str:
        return "KEEP"


KEEP: Any = _Keep()


def updated_model(
    m: LmerFit,
    formula: str | None = None,
    data: pd.DataFrame | None = None,
    *,
    reml: bool | None = None,
    weights: str | ArrayLike | None = KEEP,
    offset: str | ArrayLike | None = KEEP,
) -> LinearMixedModel:
    """The model of R's ``update(m, formula, data = data, ...)``, not yet fitted.

    ``formula`` is a full formula or R's shorthand (``". ~ . - x"``, ``". ~ . + z"``,
    ``"log(.) ~ ."``; see `formula.update_formula`), vetted as every formula (a fit made with
    ``trusted=True`` stays trusted). Whatever is not given is the original fit's: its formula, its
    data frame (the object it was given, rows with missing values dropped again for the new
    formula), REML or ML, and its ``weights`` and ``offset``.

    Examples
    --------
    >>> import mixedmodels as mm
    >>> m = mm.lmer("Reaction ~ Days + (Days | Subject)", mm.datasets.load("sleepstudy"))
    >>> updated_model(m, ". ~ . - Days", reml=False).structure.fixed_names
    ('(Intercept)',)
    """
    if isinstance(m.model, GeneralizedLinearMixedModel):
        raise MixedModelsError("updated_model is for lmer fits; a glmer fit's changed model is updated_glmm's")
    call = m.model.call
    if call is None:
        raise MixedModelsError(
            "update needs a fit made by lmer from a formula and a data frame in this session (a fit from "
            "arrays, streamed data or unpickled does not keep the data it was given)"
        )
    _check_formula_data(formula, data)
    reml = m.model.reml if reml is None else reml
    if not isinstance(reml, (bool, np.bool_)):
        raise ArgumentError(f"reml must be True or False, got {reml!r}")
    parsed = call.formula
    if formula is not None:
        parsed = parse_formula(update_formula(parsed.text, formula), trusted=parsed.trusted)
    return LinearMixedModel.from_formula(
        parsed,
        call.data if data is None else data,
        reml=bool(reml),
        weights=call.weights if weights is KEEP else weights,
        offset=call.offset if offset is KEEP else offset,
    )


def _check_formula_data(formula: object, data: object) -> None:
    if formula is not None and not isinstance(formula, str):
        raise ArgumentError(f"formula must be a string such as '. ~ . - x', got {type(formula).__name__}")
    if data is not None and not isinstance(data, pd.DataFrame):
        raise ArgumentError(f"data must be a pandas DataFrame, got {type(data).__name__}")


def updated_glmm(
    m: LmerFit,
    formula: str | None = None,
    data: pd.DataFrame | None = None,
    *,
    family: str | Family | None = None,
    weights: str | ArrayLike | None = KEEP,
    offset: str | ArrayLike | None = KEEP,
) -> GeneralizedLinearMixedModel:
    """The model of R's ``update(m, formula, data = data, ...)`` for a glmer fit, not yet fitted.

    As `updated_model`: ``formula`` is a full formula or R's shorthand (``". ~ . - x"``), and
    whatever is not given is the original fit's: its formula, its data frame, its ``family`` and
    link, its ``weights`` and ``offset`` (``None`` removes them). A binomial response given as
    booleans, strings or a categorical is coded as `mixedmodels.glmer` codes it (first level
    failure). The fit's ``nAGQ`` is the fitting call's business (`GlmerResult.update`).

    Examples
    --------
    >>> import mixedmodels as mm
    >>> m = mm.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)",
    ...              mm.datasets.load("cbpp"), family="binomial")
    >>> updated_glmm(m, ". ~ . - period").structure.fixed_names
    ('(Intercept)',)
    >>> updated_glmm(m, "incidence ~ period + offset(log(size)) + (1 | herd)", family="poisson").family
    Poisson(link='log')
    """
    model = m.model
    if not isinstance(model, GeneralizedLinearMixedModel):
        raise MixedModelsError("updated_glmm is for glmer fits; an lmer fit's changed model is updated_model's")
    call = model.call
    if call is None:
        raise MixedModelsError(
            "update needs a fit made by glmer from a formula and a data frame in this session (an unpickled "
            "fit does not keep the data it was given)"
        )
    _check_formula_data(formula, data)
    fam = model.family if family is None else as_family(family)
    parsed = call.formula
    if formula is not None:
        parsed = parse_formula(update_formula(parsed.text, _bare_dot_lhs(formula)), trusted=parsed.trusted)
    if parsed.counts is not None and fam.name != "binomial":
        raise FormulaError(f"cbind(successes, failures) is a binomial response; the family is {fam.name}")
    if fam.name == "gaussian" and fam.link.name == "identity":
        raise ArgumentError(
            "family gaussian with the identity link is a linear mixed model: fit it with mixedmodels.lmer"
        )
    frame = call.data if data is None else data
    return GeneralizedLinearMixedModel.from_formula(
        parsed,
        _binomial_coded(frame, parsed) if fam.name == "binomial" else frame,
        fam,
        weights=call.weights if weights is KEEP else weights,
        offset=call.offset if offset is KEEP else offset,
    )


def _bare_dot_lhs(formula: str) -> str:
    """``". ~ rhs"`` as ``"~ rhs"`` (the old response kept as written): `update_formula` would put a
    response such as ``cbind(k, n - k)`` in parentheses, which no longer reads as binomial counts."""
    lhs, sep, rhs = formula.partition("~")
    return f"~{rhs}" if sep and lhs.strip() == "." else formula


def _binomial_coded(frame: pd.DataFrame, parsed: ParsedFormula) -> pd.DataFrame:
    """The frame with a boolean, string or categorical binomial response column coded 0/1 (first
    level failure, as R's), missing values kept missing (their rows are dropped later)."""
    resp = parsed.response
    if parsed.counts is not None or resp not in frame.columns:
        return frame
    col = frame[resp]
    if pd.api.types.is_numeric_dtype(col.dtype) and not pd.api.types.is_bool_dtype(col.dtype):
        return frame
    held = col.notna().to_numpy()
    y = np.full(len(col), np.nan)
    if held.any():
        y[held] = binomial_response(col[held])[0]
    return frame.assign(**{resp: y})


def drop1(m: LmerFit, test: str = "F", ddf: str = "satterthwaite") -> pd.DataFrame:
    """Tests of dropping each marginal term (R's ``drop.scope``: terms no other term contains).

    Parameters
    ----------
    m : LmerFit
        An lmer fit.
    test : {"F", "Chisq"}
        ``"F"``: lmerTest's ``drop1(mt, ddf=...)``, F tests that the term's coefficients are zero
        (columns ``Sum Sq, Mean Sq, NumDF, DenDF, F value, Pr(>F)``). ``"Chisq"``: lme4's
        ``drop1(m, test = "Chisq")``: the model without the term refitted by maximum likelihood,
        a likelihood-ratio test against the full ML fit (columns ``npar`` = parameters removed,
        ``AIC`` (ML), ``LRT``, ``Pr(Chi)``; first row ``<none>``, the full model). A REML fit is
        refitted by ML first, with a `RefitWarning` (as lme4's ``anova`` says "refitting model(s)
        with ML"); R's ``drop1`` itself would compare REML fits, which lme4 users avoid with
        ``update(m, REML = FALSE)``, the reference's call.
    ddf : {"satterthwaite", "kenward-roger"}
        Denominator df of the F tests.

    Returns
    -------
    DataFrame indexed by term. A model with an intercept only: an empty F table, and for
    ``"Chisq"`` the ``<none>`` row only (lme4 names that row ``1``).

    Examples
    --------
    >>> import warnings, mixedmodels as mm
    >>> m = mm.lmer("angle ~ recipe + temperature + (1 | recipe:replicate)", mm.datasets.load("cake"), reml=False)
    >>> drop1(m, test="Chisq").index.tolist()
    ['<none>', 'recipe', 'temperature']
    """
    if not isinstance(test, str) or test.lower() not in ("f", "chisq", "lrt"):
        raise ArgumentError(f"test must be 'F' or 'Chisq', not {test!r}")
    if test.lower() == "f":
        return drop1_f(m, ddf)
    if isinstance(m.model, GeneralizedLinearMixedModel):
        return _drop1_glmm(m)
    has_intercept, terms = fixed_terms(m, "drop1")
    scope = marginal_terms(m)
    if not has_intercept and sum(1 for t in terms if t.numeric != t.variables) > 1:
        raise MixedModelsError(
            "drop1 with test='Chisq' drops a term's columns; without an intercept, R codes the remaining "
            "factors again when one is dropped: fit the smaller models and compare them with mixedmodels.anova"
        )
    model = m.model
    if model.reml:
        warn("refitting model(s) with ML (instead of REML)", RefitWarning)
        model = model.with_reml(False)
        full_fit = LmerFit.of(model.fit(start=m.theta, data_name=m.data_name))
    else:
        full_fit = m
    rows: list[tuple[str, float, float, float, float]] = [("<none>", np.nan, full_fit.aic, np.nan, np.nan)]
    p = model.structure.p
    for t in terms:
        if t.name not in scope:
            continue
        keep = np.array([c for c in range(p) if c not in t.columns], dtype=np.intp)
        smaller = LinearMixedModel.build(
            model.structure.select_fixed(keep),
            model.data.select_fixed(keep),
            model.cross_products.select_fixed(keep.tolist()),
            reml=False,
        )
        fit = LmerFit.of(smaller.fit(start=full_fit.theta, data_name=m.data_name))
        npar = full_fit.df - fit.df
        lrt = max(-2 * fit.loglik + 2 * full_fit.loglik, 0.0)
        rows.append((t.name, float(npar), fit.aic, lrt, float(special.chdtrc(npar, lrt))))
    out = pd.DataFrame(rows, columns=["term", *LRT_COLUMNS]).set_index("term")
    out.attrs["heading"] = "Single term deletions"
    return out


def _drop1_glmm(m: LmerFit) -> pd.DataFrame:
    """lme4's ``drop1(m, test = "Chisq")`` of a glmer fit: each marginal term's columns dropped, the
    model refitted by glmer (Laplace or the fit's nAGQ), and AIC = -2 logLik + 2 df and the
    likelihood-ratio statistic against the full fit (no REML question for a GLMM)."""
    model = m.model
    assert isinstance(model, GeneralizedLinearMixedModel)
    has_intercept, terms = fixed_terms(m, "drop1")
    scope = marginal_terms(m)
    if not has_intercept and sum(1 for t in terms if t.numeric != t.variables) > 1:
        raise MixedModelsError(
            "drop1 with test='Chisq' drops a term's columns; without an intercept, R codes the remaining "
            "factors again when one is dropped: fit the smaller models and compare them with mixedmodels.anova"
        )
    n_agq = int(getattr(m, "n_agq", 1))
    npar_full = int(m.df)
    loglik_full = float(m.loglik)
    rows: list[tuple[str, float, float, float, float]] = [
        ("<none>", np.nan, -2 * loglik_full + 2 * npar_full, np.nan, np.nan)
    ]
    p = model.structure.p
    for t in terms:
        if t.name not in scope:
            continue
        keep = np.array([c for c in range(p) if c not in t.columns], dtype=np.intp)
        smaller = GeneralizedLinearMixedModel.build(
            model.structure.select_fixed(keep), model.data.select_fixed(keep), model.family
        )
        fit = smaller.fit(n_agq=n_agq, start=m.theta)
        df = npar_full - len(t.columns)
        loglik = -0.5 * fit.objective
        npar = npar_full - df
        lrt = max(-2 * loglik + 2 * loglik_full, 0.0)
        rows.append((t.name, float(npar), -2 * loglik + 2 * df, lrt, float(special.chdtrc(npar, lrt))))
    out = pd.DataFrame(rows, columns=["term", *LRT_COLUMNS]).set_index("term")
    out.attrs["heading"] = "Single term deletions"
    return out
