"""glmer_nb with nAGQ > 1 and update of a glmer_nb fit, against R 4.2 / lme4 1.1-31
(reference/glmm_nb_adv/make_glmm_nb_adv.R, on the adversarial pass's data adv_nb.csv: 800 rows, 40
groups, theta 2).

lme4's own ``glmer.nb(nAGQ > 1)`` is not the reference: it minimises the quadrature deviance, which
leaves out the saturated model's term, over theta, although that term depends on theta; its theta
collapses to 0.099 with a random-effect SD of 1e-6 (a full log-likelihood 482 below the maximum).
The reference is the maximum over theta of the full log-likelihood (lme4's logLik plus the
saturated term), found in R with glmer fits at tight controls and optimize() to 1e-9 on
log(theta). lme4's ``update`` of a ``glmer.nb`` fit refits glmer with the old theta; ours estimates
theta again (the reference: glmer.nb's steps by hand, tight), and ``update(family=m.family)`` is
lme4's update (the reference: glmer with negative.binomial at the tight theta).

Tolerances (as test_glmer_nb.py): log-likelihood 1e-6 relative, NB theta 1e-4 relative, fixed effects
1e-4 absolute (|estimates| < 0.5, SEs ~ 0.05), random-effect theta 1e-3 absolute; measured: theta
4e-7, log-likelihood 1.4e-7 (nAGQ = 2), fixed effects 2.3e-6, random-effect theta 2e-6.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mixedmodels as mm
from mixedmodels.families import NegativeBinomial

HERE = Path(__file__).resolve().parent / "glmm_nb_adv"
REF = json.loads((HERE / "glmm_nb_adv.json").read_text())
FORMULA = "y ~ x + (1 | g)"


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return pd.read_csv(HERE / "adv_nb.csv", dtype={"g": str})


@pytest.fixture(scope="module")
def nb_fit(data: pd.DataFrame) -> mm.GlmerResult:
    return mm.glmer_nb(FORMULA, data)


def _close(m: mm.GlmerResult, ref: dict) -> None:
    assert m.converged
    assert m.family.theta == pytest.approx(ref["nb_theta"], rel=1e-4)
    assert m.loglik == pytest.approx(ref["logLik"], rel=1e-6)
    np.testing.assert_allclose(m.fixef.to_numpy(), list(ref["fixef"].values()), rtol=0, atol=1e-4)
    assert list(m.fixef.index) == list(ref["fixef"])
    np.testing.assert_allclose(m.theta, ref["theta"], rtol=0, atol=1e-3)
    assert m.df == ref["logLik_df"]


@pytest.mark.parametrize("nagq", [1, 2, 5])
def test_glmer_nb_maximises_the_full_likelihood_for_every_nagq(data, nagq):
    m = mm.glmer_nb(FORMULA, data, nAGQ=nagq)
    assert m.n_agq == nagq
    ref = REF["full_profile"][f"nAGQ{nagq}"]
    # loglik is in lme4's convention: for nAGQ > 1 without the saturated model's term
    _close(m, ref)
    at_r = NegativeBinomial(ref["nb_theta"]).loglik_saturated(m.glmm.y)  # R's dnbinom at R's theta
    assert at_r == pytest.approx(ref["loglik_saturated"], rel=1e-12)
    sat = m.family.loglik_saturated(m.glmm.y)
    full = m.loglik + (sat if nagq > 1 else 0.0)
    assert full == pytest.approx(ref["logLik_full"], rel=1e-6)
    # the quadrature's full log-likelihood is within a few hundredths of the Laplace one's
    assert full == pytest.approx(REF["full_profile"]["nAGQ1"]["logLik"], abs=0.1)
    if nagq > 1:
        # lme4's glmer.nb at this nAGQ: theta collapsed, the full log-likelihood far lower
        lme4 = REF["default_nagq"][f"nAGQ{nagq}"]
        assert lme4["nb_theta"] < 0.2
        assert float(np.atleast_1d(lme4["theta"])[0]) < 1e-4
        assert lme4["logLik_full"] < full - 400


def test_update_estimates_theta_again(nb_fit, data):
    upd = REF["update"]
    _close(nb_fit, upd["tight_fit"])
    on_half = nb_fit.update(data=data.iloc[:400])
    assert isinstance(on_half, mm.negbin.GlmerNbResult)
    _close(on_half, upd["tight_glmer_nb_data"])
    smaller = nb_fit.update(". ~ . - x")
    assert smaller.formula == "y ~ (1 | g)"
    _close(smaller, upd["tight_glmer_nb_formula"])
    # the same as glmer_nb on the new data or formula
    fresh = mm.glmer_nb(FORMULA, data.iloc[:400])
    assert on_half.family.theta == pytest.approx(fresh.family.theta, rel=1e-6)
    assert on_half.loglik == pytest.approx(fresh.loglik, rel=1e-9)


def test_update_with_the_family_given_is_lme4s_update(nb_fit, data):
    """lme4 1.1-31's update(m, data = d400) refits glmer with negative.binomial(theta) of m."""
    upd = REF["update"]
    assert "negative.binomial(theta = 1.77131682767679)" in upd["lme4_update_data"]["call"]
    assert upd["lme4_update_data"]["nb_theta"] == upd["default_fit"]["nb_theta"]
    kept = nb_fit.update(data=data.iloc[:400], family=nb_fit.family)
    assert kept.family == nb_fit.family
    assert not isinstance(kept, mm.negbin.GlmerNbResult)
    _close(kept, upd["tight_fixed_theta_data"])
    _close(nb_fit.update(". ~ . - x", family=nb_fit.family), upd["tight_fixed_theta_formula"])


def test_anova_of_a_glmer_nb_fit_and_its_update_is_the_lrt_of_two_glmer_nb_fits(nb_fit):
    upd = REF["update"]
    table = mm.anova(nb_fit.update(". ~ . - x"), nb_fit)
    tight = 2 * (upd["tight_fit"]["logLik"] - upd["tight_glmer_nb_formula"]["logLik"])
    assert table["Chisq"].iloc[1] == pytest.approx(tight, rel=1e-5)
    # lme4's anova(m, glmer.nb(y ~ 1 + (1 | g))) with its default tolerances: 36.4473
    lme4 = upd["anova_glmer_nb_formula"]
    assert table["Chisq"].iloc[1] == pytest.approx(lme4["Chisq"][1], abs=5e-3)
    assert table["npar"].tolist() == lme4["npar"]
    np.testing.assert_allclose(table["logLik"], lme4["logLik"], rtol=1e-5)


def test_anova_of_nagq5_glmer_nb_fits_compares_full_log_likelihoods(data):
    """With nAGQ = 5 the two fits' thetas differ (1.7706, 1.5935), so do the saturated terms their
    logLik leaves out: the likelihood-ratio test is that of the full log-likelihoods (R: the two
    maxima of the full profile, 36.4086); lme4's logLik difference would be off by the terms'."""
    full = REF["full_profile"]
    big = mm.glmer_nb(FORMULA, data, nAGQ=5)
    small = big.update(". ~ . - x")
    assert small.n_agq == 5
    assert small.family.theta == pytest.approx(full["intercept_nAGQ5"]["nb_theta"], rel=1e-4)
    assert small.loglik_full == pytest.approx(full["intercept_nAGQ5"]["logLik_full"], rel=1e-6)
    table = mm.anova(small, big)
    assert table["Chisq"].iloc[1] == pytest.approx(full["lrt_nAGQ5"], rel=1e-5)
    np.testing.assert_allclose(table["logLik"], [small.loglik_full, big.loglik_full], rtol=1e-12)
    np.testing.assert_allclose(table["AIC"], -2 * table["logLik"] + 2 * table["npar"], rtol=1e-12)
    assert abs(2 * (big.loglik - small.loglik) - full["lrt_nAGQ5"]) > 0.1  # what the lme4 convention gives
