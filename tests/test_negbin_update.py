"""glmer_nb's result (`negbin.GlmerNbResult`): update estimates theta again (a plain glmer fit with
a given NegativeBinomial(theta) keeps it), the full log-likelihood of quadrature fits in anova, and
the messages for a bad link and for weights that are all zero. The R numbers are in
reference/test_glmer_nb_adv.py."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest

import mixedmodels as mm
from mixedmodels.families import NegativeBinomial
from mixedmodels.negbin import GlmerNbResult, NbSettings


@pytest.fixture(scope="module")
def counts() -> pd.DataFrame:
    rng = np.random.default_rng(17)
    g = np.repeat(np.arange(30), 12)
    x = rng.standard_normal(g.shape[0])
    mu = np.exp(0.6 + 0.4 * x + 0.5 * rng.standard_normal(30)[g])
    y = rng.negative_binomial(2.0, 2.0 / (2.0 + mu))
    return pd.DataFrame({"y": y, "x": x, "g": [f"g{i:02d}" for i in g]})


@pytest.fixture(scope="module")
def nb_fit(counts: pd.DataFrame) -> GlmerNbResult:
    return mm.glmer_nb("y ~ x + (1 | g)", counts)


def test_the_result_keeps_how_theta_was_searched(nb_fit):
    assert isinstance(nb_fit, GlmerNbResult)
    assert isinstance(nb_fit, mm.GlmerResult)
    assert nb_fit.nb_settings == NbSettings("log", 1e-6, None, 100_000)
    back = pickle.loads(pickle.dumps(nb_fit))
    assert isinstance(back, GlmerNbResult)
    assert back.nb_settings == nb_fit.nb_settings
    assert back.loglik == nb_fit.loglik


def test_update_estimates_theta_with_the_fits_settings(nb_fit, counts):
    half = counts.iloc[:180]
    up = nb_fit.update(data=half)
    assert isinstance(up, GlmerNbResult)
    fresh = mm.glmer_nb("y ~ x + (1 | g)", half)
    assert up.family.theta == pytest.approx(fresh.family.theta, rel=1e-6)
    assert up.family.theta != pytest.approx(nb_fit.family.theta, rel=1e-3)
    # nAGQ carried over and changed as for glmer's update
    q = nb_fit.update(nAGQ=3)
    assert q.n_agq == 3
    assert isinstance(q, GlmerNbResult)
    assert q.family.theta == pytest.approx(mm.glmer_nb("y ~ x + (1 | g)", counts, nAGQ=3).family.theta, rel=1e-6)
    # interval and tol given to glmer_nb are those of the update's search too
    with pytest.warns(mm.ConvergenceWarning, match="at an end of the interval"):
        narrow = mm.glmer_nb("y ~ x + (1 | g)", counts, interval=(2.0, 3.0), tol=1e-5)
    assert narrow.nb_settings == NbSettings("log", 1e-5, (2.0, 3.0), 100_000)
    with pytest.warns(mm.ConvergenceWarning, match="at an end of the interval"):
        again = narrow.update(data=half)
    assert again.family.theta == pytest.approx(np.exp(2.0), rel=1e-4)
    wide = narrow.update(data=half, interval=None, tol=1e-6)
    assert wide.family.theta == pytest.approx(fresh.family.theta, rel=1e-6)
    assert mm.glmer_nb("y ~ x + (1 | g)", counts, link="sqrt").update(". ~ 1 + (1 | g)").family.link.name == "sqrt"


def test_update_with_a_family_is_a_glmer_fit_with_it(nb_fit):
    kept = nb_fit.update(". ~ . - x", family=nb_fit.family)
    assert type(kept) is mm.GlmerResult
    assert kept.family == nb_fit.family
    pois = nb_fit.update(family="poisson")
    assert pois.family.name == "poisson"


def test_a_glmer_fit_with_a_given_theta_keeps_it_on_update(counts):
    m = mm.glmer("y ~ x + (1 | g)", counts, family=NegativeBinomial(1.25))
    assert type(m) is mm.GlmerResult
    up = m.update(data=counts.iloc[:180])
    assert up.family == NegativeBinomial(1.25)
    assert type(up) is mm.GlmerResult


def test_update_argument_errors(nb_fit):
    with pytest.raises(mm.ArgumentError, match="unknown keyword.*fast.*glmer_nb fit"):
        nb_fit.update(fast=True)
    with pytest.raises(mm.ArgumentError, match="tol must be"):
        nb_fit.update(tol=2.0)
    with pytest.raises(mm.ArgumentError, match="interval must be"):
        nb_fit.update(interval=(1.0, 1.0))
    with pytest.raises(mm.ArgumentError, match="interval must be"):
        nb_fit.update(interval="wide")
    with pytest.raises(mm.ArgumentError, match="nAGQ must be"):
        nb_fit.update(nAGQ=-1)
    with pytest.raises(mm.MixedModelsError, match="update needs a fit made by glmer"):
        pickle.loads(pickle.dumps(nb_fit)).update(data=None)


def test_loglik_full(nb_fit, counts):
    assert nb_fit.loglik_full == nb_fit.loglik  # Laplace: nothing left out
    q = mm.glmer("y ~ x + (1 | g)", counts, family=nb_fit.family, nAGQ=7)
    sat = nb_fit.family.loglik_saturated(counts["y"].to_numpy(dtype=float))
    assert q.loglik_full == pytest.approx(q.loglik + sat, rel=1e-15)
    assert q.loglik_full == pytest.approx(nb_fit.loglik, abs=0.5)  # quadrature against Laplace
    # anova of a Laplace and a quadrature fit of the same model compares full log-likelihoods
    table = mm.anova(nb_fit, q)
    np.testing.assert_allclose(table["logLik"], [nb_fit.loglik, q.loglik_full])
    rng = np.random.default_rng(3)
    gam = counts.assign(z=rng.gamma(2.0, 1.0, len(counts)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = mm.glmer("z ~ x + (1 | g)", gam, family="Gamma", nAGQ=3)
    with pytest.raises(mm.MixedModelsError, match="full log-likelihood of a Gamma fit with nAGQ = 3"):
        _ = g.loglik_full


def test_a_bad_link_names_the_negative_binomial_family(counts):
    with pytest.raises(mm.ArgumentError, match="link 'bogus' not available for the negative.binomial family"):
        mm.glmer_nb("y ~ x + (1 | g)", counts, link="bogus")
    with pytest.raises(mm.ArgumentError, match="link 'logit' not available for the negative.binomial family"):
        mm.glmer_nb("y ~ x + (1 | g)", counts, link="logit")


@pytest.mark.parametrize(
    "fit",
    [
        lambda d, w: mm.glmer_nb("y ~ x + (1 | g)", d, weights=w),
        lambda d, w: mm.glmer("y ~ x + (1 | g)", d, family="poisson", weights=w),
        lambda d, w: mm.glmer("I(y > 0) ~ x + (1 | g)", d, family="binomial", weights=w),
        lambda d, w: mm.lmer("y ~ x + (1 | g)", d, weights=w),
    ],
    ids=["glmer_nb", "poisson", "binomial", "lmer"],
)
def test_weights_all_zero_say_so(counts, fit, request):
    d = counts.assign(w=0.0)
    for w in ("w", np.zeros(len(d))):
        with pytest.raises(mm.DataError, match=r"^weights: no observation has a positive weight \(all 360 are 0\)"):
            fit(d, w)
    if "lmer" in request.node.name:  # lmer wants every weight > 0, as lme4
        return
    # some zero weights are fine for a GLMM
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit(d.assign(w=np.r_[np.zeros(10), np.ones(len(d) - 10)]), "w")


def test_an_error_of_the_poisson_start_says_where_it_comes_from(counts):
    bad = counts.assign(y=counts["y"].astype(float))
    bad.loc[0, "y"] = -1.0
    with pytest.raises(mm.DataError, match=r"negative values .* row 0 \(in glmer_nb's first step, a Poisson fit"):
        mm.glmer_nb("y ~ x + (1 | g)", bad)
    with pytest.raises(mm.DataError, match="no valid conditional modes.*glmer_nb's first step"):
        mm.glmer_nb("y ~ x + (1 | g)", counts.assign(x=counts["x"] * 40), link="identity")


def test_weights_all_zero_say_so_for_a_streamed_lmer(counts, tmp_path):
    d = counts.assign(w=0.0)
    path = tmp_path / "w.csv"
    d.to_csv(path, index=False)
    for source in (str(path), [d.iloc[:200], d.iloc[200:]]):
        with pytest.raises(mm.DataError, match=r"^weights: no observation has a positive weight \(all 360 are 0\)"):
            mm.lmer("y ~ x + (1 | g)", source, weights="w")
