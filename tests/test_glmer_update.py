"""`GlmerResult.update` as lme4's ``update`` of a glmer fit: R's formula shorthand, other data, and
the family, nAGQ, weights and offset carried over unless given; drop1 and anova of updated fits."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest

import mixedmodels as mm
from mixedmodels import updates

CBPP = "cbind(incidence, size - incidence) ~ period + (1 | herd)"


def _same_fit(a: mm.GlmerResult, b: mm.GlmerResult) -> None:
    assert a.formula == b.formula
    assert a.family == b.family
    assert a.n_agq == b.n_agq
    np.testing.assert_allclose(a.theta, b.theta, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(a.beta, b.beta, rtol=1e-6, atol=1e-8)
    assert a.objective == pytest.approx(b.objective, rel=1e-10)


def test_update_equals_a_fresh_fit(cbpp_fit, cbpp):
    _same_fit(cbpp_fit.update(". ~ . - period"), mm.glmer("cbind(incidence, size - incidence) ~ (1 | herd)", cbpp))
    _same_fit(cbpp_fit.update(), cbpp_fit)
    _same_fit(cbpp_fit.update("~ . - period"), mm.glmer("cbind(incidence, size - incidence) ~ (1 | herd)", cbpp))
    # the response stays binomial counts (not "(cbind(...))", which would no longer read as counts)
    assert cbpp_fit.update(". ~ . - period").formula.startswith("cbind(incidence, size - incidence) ~")
    assert cbpp_fit.update().data_name == cbpp_fit.data_name


def test_update_adds_a_term_from_the_callers_frame(cbpp):
    d = cbpp.assign(obs=[str(i) for i in range(len(cbpp))])
    m = mm.glmer(CBPP, d, family="binomial")
    _same_fit(
        m.update(". ~ . + (1 | obs)"),
        mm.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd) + (1 | obs)", d, family="binomial"),
    )


def test_nagq_and_family_carried_over_unless_given(cbpp_fit, cbpp):
    agq = mm.glmer(CBPP, cbpp, family="binomial", nAGQ=9)
    up = agq.update(". ~ . - period")
    assert up.n_agq == 9
    _same_fit(up, mm.glmer("cbind(incidence, size - incidence) ~ (1 | herd)", cbpp, family="binomial", nAGQ=9))
    _same_fit(agq.update(nAGQ=1), cbpp_fit)
    probit = cbpp_fit.update(family="binomial(link = 'probit')")
    _same_fit(probit, mm.glmer(CBPP, cbpp, family=mm.families.Binomial(link="probit")))
    assert probit.update(". ~ . - period").family.link.name == "probit"


def test_weights_and_offset_carried_over_unless_given(cbpp):
    expo = np.log(cbpp["size"].to_numpy())
    pois = mm.glmer("incidence ~ period + (1 | herd)", cbpp, family="poisson", offset=expo)
    _same_fit(pois.update(". ~ . - period"), mm.glmer("incidence ~ (1 | herd)", cbpp, family="poisson", offset=expo))
    _same_fit(pois.update(offset=None), mm.glmer("incidence ~ period + (1 | herd)", cbpp, family="poisson"))
    # lme4's reference cbpp_fit of the same model (tests/reference/glmm/cbpp_poisson_offset_arg.json): -90.2421
    assert pois.loglik == pytest.approx(-90.2416, abs=1e-3)
    prop = cbpp.assign(p=cbpp["incidence"] / cbpp["size"])
    w = mm.glmer("p ~ period + (1 | herd)", prop, family="binomial", weights="size")
    up = w.update(". ~ . - period")
    _same_fit(up, mm.glmer("p ~ (1 | herd)", prop, family="binomial", weights="size"))
    # changing the family: the same rows as a Poisson count model with an offset term
    other = w.update("incidence ~ period + offset(log(size)) + (1 | herd)", family="poisson", weights=None)
    assert other.loglik == pytest.approx(pois.loglik, rel=1e-9)


def test_update_with_other_data_codes_a_categorical_response():
    rng = np.random.default_rng(3)
    g = np.repeat(np.arange(30), 12)
    x = rng.standard_normal(g.shape[0])
    y = rng.random(g.shape[0]) < 1 / (1 + np.exp(-(0.3 + 0.8 * x + rng.standard_normal(30)[g] * 0.7)))
    d = pd.DataFrame({"y": y, "yes": np.where(y, "Y", "N"), "x": x, "g": g.astype(str)})
    m = mm.glmer("y ~ x + (1 | g)", d, family="binomial")
    _same_fit(m.update("yes ~ ."), m.update("yes ~ x + (1 | g)"))
    np.testing.assert_allclose(m.update("yes ~ .").beta, m.beta, rtol=1e-8)
    half = d.iloc[: len(d) // 2]
    _same_fit(m.update(data=half), mm.glmer("y ~ x + (1 | g)", half, family="binomial"))


def test_drop1_and_anova_of_updated_fits(cbpp_fit, cbpp):
    null = cbpp_fit.update(". ~ . - period")
    table = mm.anova(null, cbpp_fit)
    d1 = cbpp_fit.drop1()
    lrt = float(table["Chisq"].iloc[1])
    assert lrt == pytest.approx(float(d1.loc["period", "LRT"]), rel=1e-6)
    assert lrt == pytest.approx(2 * (cbpp_fit.loglik - null.loglik), rel=1e-9)
    assert null.drop1().index.tolist() == ["<none>"]
    up = cbpp_fit.update(nAGQ=5)
    assert up.drop1().loc["period", "LRT"] == pytest.approx(
        2 * (up.loglik - up.update(". ~ . - period").loglik), rel=1e-5
    )


def test_update_argument_errors(cbpp_fit):
    with pytest.raises(mm.ArgumentError, match="unknown keyword"):
        cbpp_fit.update(reml=False)
    with pytest.raises(mm.ArgumentError, match="nAGQ must be"):
        cbpp_fit.update(nAGQ=-1)
    with pytest.raises(mm.ArgumentError, match="formula must be a string"):
        cbpp_fit.update(3)
    with pytest.raises(mm.ArgumentError, match="data must be a pandas DataFrame"):
        cbpp_fit.update(data=[1, 2])
    with pytest.raises(mm.FormulaError, match="binomial response"):
        cbpp_fit.update(family="poisson")
    with pytest.raises(mm.ArgumentError, match="lmer"):
        cbpp_fit.update("incidence ~ period + (1 | herd)", family="gaussian")
    with pytest.raises(mm.ArgumentError, match="nAGQ = 9"):
        cbpp_fit.update(". ~ . + (1 | period)", nAGQ=9)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        unpickled = pickle.loads(pickle.dumps(cbpp_fit))
    with pytest.raises(mm.MixedModelsError, match="unpickled"):
        unpickled.update(". ~ . - period")


def test_lmer_update_refuses_a_glmer_fit(cbpp_fit):
    with pytest.raises(mm.MixedModelsError, match="updated_glmm"):
        updates.updated_model(cbpp_fit)
