"""The result object: accessors, prediction, the embedding API, immutability."""

from __future__ import annotations

import dataclasses
import pickle

import numpy as np
import pandas as pd
import pytest

import mixedmodels as mm


@pytest.fixture(scope="module")
def hsb_fit(fits):
    return fits.fit("mAch ~ ses + (ses | school)", "hsb")


def test_seed_numbers(hsb_fit):
    m = hsb_fit
    assert m.fixef.round(3).tolist() == [12.665, 2.394]
    assert m.fixef_se.round(2).tolist() == [0.19, 0.12]
    sd = m.var_corr[m.var_corr["var2"].isna()].set_index(["grp", "var1"])["sdcor"]
    assert round(sd[("school", "(Intercept)")], 2) == 2.20
    assert round(sd[("school", "ses")], 2) == 0.64
    corr = m.var_corr.dropna(subset=["var2"])["sdcor"].iloc[0]
    assert round(corr, 2) == -0.11
    assert round(m.sigma, 2) == 6.07
    assert m.reml
    assert m.converged
    assert not m.is_singular
    assert m.ngroups == {"school": 160}
    assert m.n_evals > 0


def test_cov_re_and_var_corr_agree(hsb_fit):
    cov = hsb_fit.cov_re["school"]
    vc = hsb_fit.var_corr
    assert cov.loc["ses", "(Intercept)"] == pytest.approx(vc.dropna(subset=["var2"])["vcov"].iloc[0])
    assert list(vc.columns) == ["grp", "var1", "var2", "vcov", "sdcor"]
    assert vc.iloc[-1]["grp"] == "Residual"


def test_coef_is_fixef_plus_ranef(hsb_fit):
    c, r = hsb_fit.coef["school"], hsb_fit.ranef["school"]
    np.testing.assert_allclose(c["ses"], hsb_fit.fixef["ses"] + r["ses"])
    assert c.shape == (160, 2)
    assert hsb_fit.ranef_condcov["school"].shape == (160, 2, 2)
    np.testing.assert_allclose(
        np.diagonal(hsb_fit.ranef_condcov["school"], axis1=1, axis2=2), hsb_fit.ranef_condvar["school"]
    )


def test_fitted_plus_residuals_is_y(hsb_fit):
    m = hsb_fit
    np.testing.assert_allclose(m.fitted() + m.residuals(), m.model.data.rows("test").y)
    assert m.residuals(scaled=True).iloc[0] == pytest.approx(m.residuals().iloc[0] / m.sigma)


def test_predict_new_levels_get_population(hsb_fit, fits):
    hsb = fits.data("hsb")
    new = hsb.iloc[:3].copy()
    new["school"] = new["school"].astype(str)
    new.loc[new.index[0], "school"] = "no-such-school"
    pop = hsb_fit.predict(new, include_re=False)
    cond = hsb_fit.predict(new)
    assert cond.iloc[0] == pytest.approx(pop.iloc[0])
    assert cond.iloc[1] != pytest.approx(pop.iloc[1])
    np.testing.assert_allclose(cond.iloc[1:], hsb_fit.fitted().iloc[1:3])


def test_predict_replays_categories(fits):
    m = fits.fit("mAch ~ ses * sector + (ses | school)", "hsb")
    hsb = fits.data("hsb")
    new = pd.DataFrame({"ses": [0.0, 0.0], "sector": ["Catholic", "Public"], "school": ["1224", "1224"]})
    p = m.predict(new, include_re=False)
    assert p.iloc[0] - p.iloc[1] == pytest.approx(m.fixef["sectorCatholic"])
    bad = new.assign(sector=["Private", "Public"])
    with pytest.raises(mm.DataError, match="level the model was not fitted with in column .sector.: .Private."):
        m.predict(bad)
    with pytest.raises(mm.DataError, match="lacks"):
        m.predict(new.drop(columns="school"))
    assert len(m.predict(hsb.head(5))) == 5


def test_result_is_immutable_and_pickles(hsb_fit):
    with pytest.raises(dataclasses.FrozenInstanceError):
        hsb_fit.sigma = 1.0  # type: ignore[misc]
    m2 = pickle.loads(pickle.dumps(hsb_fit))
    assert m2.objective == hsb_fit.objective
    pd.testing.assert_series_equal(m2.fixef, hsb_fit.fixef)
    assert m2.predict(None).iloc[0] == pytest.approx(hsb_fit.predict(None).iloc[0])


def test_ml_fit_and_information_criteria(fits):
    m = fits.fit("Reaction ~ Days + (Days | Subject)", "sleepstudy", reml=False)
    assert not m.reml
    assert m.deviance == pytest.approx(m.objective)
    assert m.aic == pytest.approx(-2 * m.loglik + 2 * m.df)
    assert m.bic == pytest.approx(-2 * m.loglik + np.log(m.nobs) * m.df)


def test_fit_arrays_equals_lmer(fits):
    sleep = fits.data("sleepstudy")
    m1 = fits.fit("Reaction ~ Days + (Days | Subject)", "sleepstudy")
    n = len(sleep)
    x = np.column_stack([np.ones(n), sleep["Days"]])
    term = mm.GroupTerm(
        "Subject",
        sleep["Subject"].cat.codes.to_numpy(),
        x,
        ("(Intercept)", "Days"),
        tuple(sleep["Subject"].cat.categories),
    )
    m2 = mm.fit_arrays(sleep["Reaction"].to_numpy(), x, [term], fixed_names=["(Intercept)", "Days"])
    assert m2.objective == pytest.approx(m1.objective, rel=1e-12)
    np.testing.assert_allclose(m2.fixef, m1.fixef, rtol=1e-8)
    pd.testing.assert_frame_equal(m2.ranef["Subject"], m1.ranef["Subject"], rtol=1e-6)
    with pytest.raises(mm.DataError, match="arrays"):
        m2.predict(sleep)


def test_fit_arrays_uncorrelated_terms(fits):
    sleep = fits.data("sleepstudy")
    n = len(sleep)
    codes = sleep["Subject"].cat.codes.to_numpy()
    x = np.column_stack([np.ones(n), sleep["Days"]])
    terms = [
        mm.GroupTerm("Subject", codes, x[:, :1], ("(Intercept)",)),
        mm.GroupTerm("Subject", codes, x[:, 1:], ("Days",)),
    ]
    m = mm.fit_arrays(sleep["Reaction"].to_numpy(), x, terms, fixed_names=["(Intercept)", "Days"])
    ref = fits.fit("Reaction ~ Days + (Days || Subject)", "sleepstudy")
    assert m.objective == pytest.approx(ref.objective, rel=1e-10)


def test_fit_arrays_errors():
    y = np.arange(10.0)
    x = np.ones((10, 1))
    with pytest.raises(mm.DataError, match="X: 9 rows"):
        mm.fit_arrays(y, np.ones((9, 1)), [mm.GroupTerm("g", np.zeros(10, int), np.ones(10), ("(Intercept)",))])
    with pytest.raises(mm.DataError, match="whole numbers"):
        mm.fit_arrays(y, x, [mm.GroupTerm("g", np.full(10, 0.5), np.ones(10), ("(Intercept)",))])
    with pytest.raises(mm.DataError, match="at least one"):
        mm.fit_arrays(y, x, [])


def test_sample_groups_from_a_singular_covariance(fits):
    """A correlation of +-1 makes Sigma singular: new groups are drawn on its support, not refused."""
    d = fits.data("hsb")
    with pytest.warns(mm.SingularFitWarning):
        m = mm.lmer("mAch ~ ses + meanses + (ses + meanses | school)", d.assign(meanses=d["meanses"] + 0.1 * d["ses"]))
    s = mm.simulate.sample_groups(m, 4000, seed=1)
    cov = m.cov_re["school"].to_numpy()
    draws = s[list(m.cov_re["school"].columns)].to_numpy() - m.fixef.to_numpy()
    w, v = np.linalg.eigh(cov)
    null = v[:, w < 1e-9 * w.max()]
    assert null.shape[1] >= 1
    assert np.abs(draws @ null).max() < 1e-6 * np.sqrt(w.max())  # on the support of Sigma
    np.testing.assert_allclose(draws.var(axis=0), np.diag(cov), rtol=0.1)


def test_lmer_residual_types_with_prior_weights():
    # lme4 1.1-31, sleepstudy with w ~ U(0.5, 2) (set.seed(1); runif): residuals(m, type = "pearson") is
    # sqrt(w) (y - fitted), -7.829453 at row 1 where "response" is -8.260944 (lme4's optimum is 6e-5 off ours)
    d = mm.datasets.load("sleepstudy")
    w = np.random.default_rng(1).uniform(0.5, 2.0, len(d))
    m = mm.lmer("Reaction ~ Days + (Days | Subject)", d.assign(w=w), weights="w")
    response = m.residuals()
    np.testing.assert_allclose(m.residuals(type="working"), response)
    np.testing.assert_allclose(m.residuals(type="pearson"), np.sqrt(w) * response)
    np.testing.assert_allclose(m.residuals(type="deviance"), np.sqrt(w) * response)
    np.testing.assert_allclose(m.residuals(type="pearson", scaled=True), np.sqrt(w) * response / m.sigma)
    with pytest.raises(mm.ArgumentError, match="type must be one of"):
        m.residuals(type="partial")


def test_df_resid_is_lme4s(fits):
    # lme4: df.residual(lmer(Reaction ~ Days + (Days | Subject), sleepstudy)) is 174
    m = mm.lmer("Reaction ~ Days + (Days | Subject)", mm.datasets.load("sleepstudy"))
    assert m.df_resid == 174


def test_a_family_with_a_dispersion_labels_its_statistic_t_as_lme4():
    # lme4's summary of a Gamma glmer: "Estimate Std. Error t value Pr(>|z|)"
    rng = np.random.default_rng(1)
    g = np.repeat(np.arange(20), 10)
    x = rng.normal(size=g.size)
    y = rng.gamma(5.0, np.exp(0.5 + 0.3 * x + rng.normal(0, 0.3, 20)[g]) / 5.0)
    m = mm.glmer("y ~ x + (1 | g)", pd.DataFrame({"y": y, "x": x, "g": g}), family=mm.families.Gamma(link="log"))
    assert list(m.coef_table().columns) == ["Estimate", "Std. Error", "t value", "Pr(>|z|)"]
    assert "t value" in str(m.summary())
