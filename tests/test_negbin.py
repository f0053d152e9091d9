"""The negative binomial family (MASS's negative.binomial) and `glmer_nb` without R: the family
object, its Poisson limit, the estimate as the maximum of the profile over theta, and the
post-estimation that carries the estimated theta (update, simulate, bootstrap)."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest

import mixedmodels as mm
from mixedmodels.families import NegativeBinomial, Poisson, family


@pytest.fixture(scope="module")
def counts() -> pd.DataFrame:
    rng = np.random.default_rng(17)
    g = np.repeat(np.arange(30), 12)
    x = rng.standard_normal(g.shape[0])
    mu = np.exp(0.6 + 0.4 * x + 0.5 * rng.standard_normal(30)[g])
    y = rng.negative_binomial(2.0, 2.0 / (2.0 + mu))
    return pd.DataFrame({"y": y, "x": x, "g": [f"g{i:02d}" for i in g]})


@pytest.fixture(scope="module")
def nb_fit(counts: pd.DataFrame) -> mm.GlmerResult:
    return mm.glmer_nb("y ~ x + (1 | g)", counts)


def test_the_family_object():
    fam = NegativeBinomial(2.0, link="sqrt")
    assert fam.theta == 2.0
    assert fam.link.name == "sqrt"
    assert not fam.canonical
    assert fam.dispersion_free
    assert pickle.loads(pickle.dumps(fam)) == fam
    assert fam != NegativeBinomial(2.5, link="sqrt")
    assert fam != NegativeBinomial(2.0)
    assert hash(fam) == hash(NegativeBinomial(2.0, link="sqrt"))
    assert family(fam) is fam
    with pytest.raises(AttributeError):
        fam.theta = 3.0  # type: ignore[misc]
    for bad in (0.0, -1.0, float("inf"), float("nan"), "2", True):
        with pytest.raises(mm.ArgumentError, match="theta must be"):
            NegativeBinomial(bad)  # type: ignore[arg-type]
    with pytest.raises(mm.ArgumentError, match="glmer_nb"):
        family("negative.binomial")
    with pytest.raises(mm.ArgumentError, match="link 'logit' not available"):
        NegativeBinomial(1.0, link="logit")
    with pytest.raises(mm.DataError, match="negative values not allowed for the negative binomial family: row 1"):
        NegativeBinomial(1.0).check_response([1.0, -1.0])


def test_the_poisson_limit():
    y, mu, wt = np.array([0.0, 1.0, 4.0, 9.0]), np.array([0.5, 1.5, 3.0, 10.0]), np.ones(4)
    big, pois = NegativeBinomial(1e9), Poisson()
    np.testing.assert_allclose(big.variance(mu), pois.variance(mu), rtol=1e-8)
    np.testing.assert_allclose(big.dev_resids(y, mu, wt), pois.dev_resids(y, mu, wt), rtol=1e-6, atol=1e-9)
    # MASS's formula cancels terms of size theta log(theta): ~1e-6 of rounding at theta = 1e9
    assert big.aic(y, None, mu, wt, 0.0) == pytest.approx(pois.aic(y, None, mu, wt, 0.0), abs=1e-5)


def test_a_glmer_fit_with_a_large_theta_is_the_poisson_fit(counts):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        nb = mm.glmer("y ~ x + (1 | g)", counts, family=NegativeBinomial(1e8))
        pois = mm.glmer("y ~ x + (1 | g)", counts, family="poisson")
    assert nb.loglik == pytest.approx(pois.loglik, rel=1e-6)
    np.testing.assert_allclose(nb.fixef, pois.fixef, atol=1e-4)
    assert nb.df == pois.df + 1  # lme4 counts the negative binomial's theta


def test_the_estimate_maximises_the_profile(nb_fit, counts):
    th = nb_fit.family.theta
    assert 1.0 < th < 4.0  # simulated with theta = 2
    for factor in (0.97, 1.03):
        other = mm.glmer("y ~ x + (1 | g)", counts, family=NegativeBinomial(th * factor))
        assert other.loglik < nb_fit.loglik
    again = mm.glmer("y ~ x + (1 | g)", counts, family=NegativeBinomial(th))
    assert again.loglik == pytest.approx(nb_fit.loglik, rel=1e-9)
    # a Poisson fit of overdispersed counts is much worse
    pois = mm.glmer("y ~ x + (1 | g)", counts, family="poisson")
    assert nb_fit.loglik > pois.loglik + 10


def test_update_estimates_theta_again_and_simulate_draws_negative_binomial_counts(nb_fit, counts):
    up = nb_fit.update(". ~ . - x")
    assert up.formula == "y ~ (1 | g)"
    assert up.family.theta == pytest.approx(mm.glmer_nb("y ~ 1 + (1 | g)", counts).family.theta, rel=1e-6)
    assert nb_fit.update(". ~ . - x", family=nb_fit.family).family == nb_fit.family  # lme4's update
    sims = nb_fit.simulate(nsim=400, seed=3, use_u=True).to_numpy()
    assert np.all(sims == np.round(sims))
    assert np.all(sims >= 0)
    mu = nb_fit.fitted().to_numpy()
    th = nb_fit.family.theta
    # per row over 400 draws: mean mu and variance mu + mu^2 / theta (pooled, a few % of noise)
    assert sims.mean() == pytest.approx(mu.mean(), rel=0.03)
    assert sims.var(axis=1).mean() == pytest.approx(np.mean(mu + mu**2 / th), rel=0.1)


def test_bootstrap_of_a_negative_binomial_fit(nb_fit):
    draws = nb_fit.bootstrap(nsim=3, seed=1)
    assert draws.columns.tolist() == [".sig01", "(Intercept)", "x"]
    assert draws.attrs["n_failed"] == 0


def test_glmer_nb_arguments(counts):
    with pytest.raises(mm.ArgumentError, match="tol must be"):
        mm.glmer_nb("y ~ x + (1 | g)", counts, tol=0)
    with pytest.raises(mm.ArgumentError, match="interval must be"):
        mm.glmer_nb("y ~ x + (1 | g)", counts, interval=(1.0, 0.0))
    with pytest.raises(mm.DataError, match="negative values"):
        mm.glmer_nb("y ~ x + (1 | g)", counts.assign(y=counts["y"] - 5))
    with pytest.warns(mm.ConvergenceWarning, match="at an end of the interval"):
        m = mm.glmer_nb("y ~ x + (1 | g)", counts, interval=(2.0, 3.0))
    assert m.family.theta == pytest.approx(np.exp(2.0), rel=1e-4)


def test_the_summary_names_theta_and_anova_compares_two_nb_fits(nb_fit, counts):
    """lme4 prints ``Negative Binomial(theta)`` and compares glmer.nb fits whose thetas differ."""
    assert f"Family: Negative Binomial({round(nb_fit.family.theta, 4):.7g})  ( log )" in str(nb_fit.summary())
    small = mm.glmer_nb("y ~ 1 + (1 | g)", counts)
    assert small.family.theta != nb_fit.family.theta
    table = mm.anova(small, nb_fit)
    assert table["Chisq"].iloc[1] == pytest.approx(2 * (nb_fit.loglik - small.loglik), rel=1e-9)
