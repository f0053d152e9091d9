"""Prediction options, simulation, new groups, refits, no pooling, tidy output, persistence."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest

import mixedmodels as mm


@pytest.fixture(scope="module")
def sleep_fit(fits):
    return fits.fit("Reaction ~ Days + (Days | Subject)", "sleepstudy")


@pytest.fixture(scope="module")
def hsb_fit(fits):
    return fits.fit("mAch ~ ses + (ses | school)", "hsb")


def test_predict_selected_factors(fits):
    pen = fits.data("penicillin")
    m = fits.fit("diameter ~ 1 + (1 | plate) + (1 | sample)", "penicillin")
    both = m.predict(pen)
    plate_only = m.predict(pen, include_re=["plate"])
    none = m.predict(pen, include_re=False)
    b_plate = m.ranef["plate"].loc[pen["plate"].astype(str), "(Intercept)"].to_numpy()
    b_sample = m.ranef["sample"].loc[pen["sample"].astype(str), "(Intercept)"].to_numpy()
    np.testing.assert_allclose(plate_only - none, b_plate)
    np.testing.assert_allclose(both - none, b_plate + b_sample)
    with pytest.raises(mm.DataError, match="no grouping factor"):
        m.predict(pen, include_re=["nope"])


def test_predict_new_levels_policy(sleep_fit, fits):
    new = fits.data("sleepstudy").head(2).astype({"Subject": str})
    new.loc[new.index[0], "Subject"] = "999"
    p = sleep_fit.predict(new)
    assert p.iloc[0] == pytest.approx(sleep_fit.predict(new, include_re=False).iloc[0])
    with pytest.raises(mm.DataError, match="'999'.*not in the fit"):
        sleep_fit.predict(new, allow_new_levels=False)


def test_simulate_is_reproducible_and_has_the_model_moments(hsb_fit):
    a = hsb_fit.simulate(nsim=2, seed=7)
    b = hsb_fit.simulate(nsim=2, seed=7)
    pd.testing.assert_frame_equal(a, b)
    assert not np.allclose(a.iloc[:, 0], a.iloc[:, 1])
    # moments over many draws: mean X beta, variance sigma^2 + z' Sigma z per row
    sims = hsb_fit.simulate(nsim=2000, seed=1).to_numpy()
    d = hsb_fit.model.data.rows("test")
    mu = d.x @ hsb_fit.fixef.to_numpy()
    z = d.z[0]
    var = hsb_fit.sigma**2 + np.einsum("ij,jk,ik->i", z, hsb_fit.cov_re["school"].to_numpy(), z)
    rows = np.arange(0, d.nobs, 97)
    se_mean = np.sqrt(var[rows] / 2000)
    assert np.all(np.abs(sims[rows].mean(axis=1) - mu[rows]) < 5 * se_mean)
    se_var = var[rows] * np.sqrt(2 / 1999)
    assert np.all(np.abs(sims[rows].var(axis=1, ddof=1) - var[rows]) < 5 * se_var)
    # rows of one school share its draw: covariance z_i' Sigma z_j
    i, j = np.flatnonzero(d.codes[0] == d.codes[0][0])[:2]
    cov_ij = z[i] @ hsb_fit.cov_re["school"].to_numpy() @ z[j]
    emp = np.cov(sims[i], sims[j])[0, 1]
    assert abs(emp - cov_ij) < 5 * np.sqrt(var[i] * var[j] / 2000)


def test_simulate_variants(hsb_fit):
    pop = hsb_fit.simulate(nsim=500, seed=3, include_re=False).to_numpy()
    assert pop.var(axis=1).mean() == pytest.approx(hsb_fit.sigma**2, rel=0.05)
    cond = hsb_fit.simulate(nsim=500, seed=3, use_u=True).to_numpy()
    np.testing.assert_allclose(
        cond.mean(axis=1)[:50], hsb_fit.fitted().to_numpy()[:50], atol=5 * hsb_fit.sigma / np.sqrt(500)
    )


def test_sample_groups(hsb_fit):
    g = hsb_fit.sample_groups(20000, seed=2)
    assert list(g.columns) == ["(Intercept)", "ses"]
    np.testing.assert_allclose(g.mean(), hsb_fit.fixef, atol=0.05)
    np.testing.assert_allclose(g.cov().to_numpy(), hsb_fit.cov_re["school"].to_numpy(), rtol=0.05, atol=0.02)
    pd.testing.assert_frame_equal(hsb_fit.sample_groups(5, seed=1), hsb_fit.sample_groups(5, seed=1))


def test_refit_matches_a_new_fit(hsb_fit, fits):
    y2 = hsb_fit.simulate(seed=11).iloc[:, 0].to_numpy()
    r = hsb_fit.refit(y2)
    data = fits.data("hsb").assign(mAch=y2)
    m2 = mm.lmer("mAch ~ ses + (ses | school)", data)
    assert r.objective == pytest.approx(m2.objective, rel=1e-9)
    np.testing.assert_allclose(r.fixef, m2.fixef, rtol=1e-5)
    with pytest.raises(ValueError, match="values"):
        hsb_fit.refit(y2[:-1])


def test_bootstrap_is_seeded(sleep_fit):
    a = sleep_fit.bootstrap(nsim=20, seed=5, progress=False)
    b = sleep_fit.bootstrap(nsim=20, seed=5, progress=False)
    pd.testing.assert_frame_equal(a, b)
    assert list(a.columns) == [".sig01", ".sig02", ".sig03", ".sigma", "(Intercept)", "Days"]
    ci = sleep_fit.confint("boot", nsim=40, seed=5, progress=False)
    assert (ci.iloc[:, 0] < ci.iloc[:, 1]).all()
    assert ci.loc["Days"].iloc[0] < sleep_fit.fixef["Days"] < ci.loc["Days"].iloc[1]


def test_bootstrap_in_processes_equals_serial(sleep_fit):
    a = sleep_fit.bootstrap(nsim=8, seed=9, progress=False)
    b = sleep_fit.bootstrap(nsim=8, seed=9, n_jobs=2, progress=False)
    pd.testing.assert_frame_equal(a, b)


def test_lmlist_equals_per_group_ols(fits):
    sleep = fits.data("sleepstudy")
    ll = mm.lmlist("Reaction ~ Days | Subject", sleep)
    assert list(ll.coef.index) == list(sleep["Subject"].cat.categories)
    sub = sleep[sleep["Subject"] == "308"]
    b = np.polyfit(sub["Days"], sub["Reaction"], 1)[::-1]
    np.testing.assert_allclose(ll.coef.loc["308"], b)
    assert (ll.nobs == 10).all()
    hsb = fits.data("hsb")
    hl = mm.lmlist("mAch ~ ses | school", hsb)
    assert hl.coef.shape == (160, 2)
    with pytest.raises(mm.FormulaError):
        mm.lmlist("mAch ~ ses", hsb)


def test_lmlist_leaves_out_the_rows_where_the_formula_makes_a_nan():
    # R's lmList (na.omit of the model frame): a: (0.62288, 1.35818), b: (-0.71784, 1.62501); the
    # NaN of sqrt(-1) had reached the solver (SVD did not converge)
    d = pd.DataFrame({"g": list("aaaabbbb"), "w": [-1.0, 1, 2, 3, 1, 2, 3, 5], "y": [1.0, 2, 2.5, 3, 1, 1.5, 2, 3]})
    with np.errstate(invalid="ignore"):
        ll = mm.lmlist("y ~ sqrt(w) | g", d)
    np.testing.assert_allclose(ll.coef.to_numpy(), [[0.62288, 1.35818], [-0.71784, 1.62501]], atol=1e-5)
    assert list(ll.nobs) == [3, 4]
    with pytest.raises(mm.FormulaError, match="lmlist does not take offset"):  # it had been a coefficient
        mm.lmlist("y ~ w + offset(w) | g", d)


def test_lmlist_of_a_comparison_with_missing_values(fits):
    # (x > 0) | g had been refused (formulaic's dropping cannot look into a factor made in the
    # formula); the rows with a missing value are left out, as R's lmList leaves them out
    sleep = fits.data("sleepstudy").copy()
    sleep.loc[sleep.index[::7], "Days"] = np.nan
    ll = mm.lmlist("Reaction ~ (Days > 4) | Subject", sleep)
    assert list(ll.coef.columns) == ["(Intercept)", "Days > 4TRUE"]
    sub = sleep[(sleep["Subject"] == "308") & sleep["Days"].notna()]
    late = sub["Reaction"][sub["Days"] > 4].mean() - sub["Reaction"][sub["Days"] <= 4].mean()
    assert ll.coef.loc["308", "Days > 4TRUE"] == pytest.approx(late)
    assert ll.nobs.loc["308"] == len(sub)


def test_tidy(sleep_fit):
    f = sleep_fit.tidy("fixed")
    assert list(f.columns) == [
        "effect",
        "group",
        "term",
        "estimate",
        "std.error",
        "statistic",
        "df",
        "p.value",
    ]
    rp = sleep_fit.tidy("ran_pars")
    assert rp.loc[rp["term"] == "sd__Observation", "estimate"].iloc[0] == pytest.approx(sleep_fit.sigma)
    rv = sleep_fit.tidy("ran_vals")
    assert len(rv) == 36
    assert set(rv.columns) == {"effect", "group", "level", "term", "estimate", "std.error"}
    with pytest.raises(ValueError, match="effects"):
        sleep_fit.tidy("nope")


def test_pickle_keeps_every_answer(hsb_fit):
    hsb_fit.coef_table()  # builds the cached inference (holds a C++ engine)
    m2 = pickle.loads(pickle.dumps(hsb_fit))
    pd.testing.assert_frame_equal(m2.coef_table(), hsb_fit.coef_table())
    pd.testing.assert_frame_equal(m2.simulate(seed=1), hsb_fit.simulate(seed=1))
    pd.testing.assert_series_equal(m2.predict(), hsb_fit.predict())
    assert str(m2.summary()) == str(hsb_fit.summary())


def test_summary_shows_satterthwaite(hsb_fit):
    s = str(hsb_fit.summary())
    assert "df" in s
    assert "Pr(>|t|)" in s
    assert "Satterthwaite" in s


def test_anova_errors(sleep_fit, fits):
    other = fits.fit("mAch ~ ses + (ses | school)", "hsb")
    with pytest.raises(mm.DataError, match="same data"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mm.anova(sleep_fit, other)
    one = mm.anova(sleep_fit)
    assert list(one.index) == ["Days"]
