"""glmer's behaviour beyond the lme4 reference cases: responses as users write them, bad input,
and the properties the method must have (a GLM at theta = 0, lmer for the Gaussian family, invariance
to the order of rows and levels)."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest

import mixedmodels as mm


@pytest.fixture(scope="module")
def cbpp() -> pd.DataFrame:
    return mm.datasets.load("cbpp")


@pytest.fixture(scope="module")
def binary() -> pd.DataFrame:
    rng = np.random.default_rng(11)
    n, ng = 600, 30
    g = rng.integers(0, ng, n)
    x = rng.normal(size=n)
    eta = -0.3 + 0.9 * x + rng.normal(0, 0.8, ng)[g]
    y = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(float)
    return pd.DataFrame({"y": y, "x": x, "g": pd.Categorical([f"s{i:02d}" for i in g])})


@pytest.fixture(scope="module")
def binary_fit(binary):
    return mm.glmer("y ~ x + (1 | g)", binary, family="binomial")


def test_boolean_and_two_level_responses_are_binary(binary, binary_fit):
    as_bool = binary.assign(y=binary["y"] > 0)
    as_text = binary.assign(y=pd.Categorical(np.where(binary["y"] > 0, "yes", "no"), categories=["no", "yes"]))
    for d in (as_bool, as_text):
        m = mm.glmer("y ~ x + (1 | g)", d, family="binomial")
        np.testing.assert_allclose(m.fixef.to_numpy(), binary_fit.fixef.to_numpy(), rtol=1e-10)


def test_first_level_is_failure_as_in_r(binary, binary_fit):
    flipped = binary.assign(y=pd.Categorical(np.where(binary["y"] > 0, "yes", "no"), categories=["yes", "no"]))
    m = mm.glmer("y ~ x + (1 | g)", flipped, family="binomial")
    np.testing.assert_allclose(m.fixef.to_numpy(), -binary_fit.fixef.to_numpy(), rtol=1e-6)


def test_cbind_of_an_expression(cbpp):
    a = mm.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp, family="binomial")
    b = mm.glmer("incidence / size ~ period + (1 | herd)", cbpp, family="binomial", weights="size")
    np.testing.assert_allclose(a.fixef.to_numpy(), b.fixef.to_numpy(), rtol=1e-9)


def test_families_by_string_and_object(cbpp):
    f = "cbind(incidence, size - incidence) ~ period + (1 | herd)"
    a = mm.glmer(f, cbpp, family="binomial(link = 'probit')")
    b = mm.glmer(f, cbpp, family=mm.families.Binomial(link="probit"))
    assert a.family == b.family
    assert a.objective == pytest.approx(b.objective, rel=1e-12)


@pytest.mark.parametrize(
    ("y", "message"),
    [
        (np.array([0.0, 1.0, 2.0] * 200), "row"),
        (np.array([0.0, 1.0, -1.0] * 200), "row"),
    ],
)
def test_binary_response_outside_support_names_rows(binary, y, message):
    with pytest.raises(mm.DataError, match=message):
        mm.glmer("y ~ x + (1 | g)", binary.assign(y=y), family="binomial")


def test_negative_counts_name_rows(binary):
    with pytest.raises(mm.DataError, match="row"):
        mm.glmer("y ~ x + (1 | g)", binary.assign(y=binary["y"] - 1), family="poisson")


def test_cbind_is_refused_by_lmer_and_by_other_families(cbpp):
    with pytest.raises(mm.FormulaError, match="glmer"):
        mm.lmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp)
    with pytest.raises(mm.FormulaError, match="binomial"):
        mm.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp, family="poisson")


def test_quadrature_needs_one_scalar_term(binary):
    with pytest.raises(mm.ArgumentError, match="scalar"):
        mm.glmer("y ~ x + (1 + x | g)", binary, family="binomial", nAGQ=5)
    with pytest.raises(mm.ArgumentError, match="nAGQ"):
        mm.glmer("y ~ x + (1 | g)", binary, family="binomial", nAGQ=-1)


def test_unknown_family_lists_the_known(binary):
    with pytest.raises(mm.ArgumentError, match="binomial"):
        mm.glmer("y ~ x + (1 | g)", binary, family="bernoulli")


def test_streamed_data_is_refused(tmp_path, binary):
    path = tmp_path / "b.csv"
    binary.to_csv(path, index=False)
    with pytest.raises(mm.DataError, match="streamed"):
        mm.glmer("y ~ x + (1 | g)", str(path), family="binomial")


def test_pickle_round_trip(binary_fit):
    back = pickle.loads(pickle.dumps(binary_fit))
    np.testing.assert_array_equal(back.fixef.to_numpy(), binary_fit.fixef.to_numpy())
    assert back.loglik == binary_fit.loglik


def test_invariant_to_row_and_level_order(binary, binary_fit):
    rng = np.random.default_rng(5)
    shuffled = binary.iloc[rng.permutation(len(binary))]
    shuffled = shuffled.assign(g=shuffled["g"].cat.reorder_categories(list(binary["g"].cat.categories[::-1])))
    m = mm.glmer("y ~ x + (1 | g)", shuffled, family="binomial")
    assert m.objective == pytest.approx(binary_fit.objective, rel=1e-10)
    np.testing.assert_allclose(m.fixef.to_numpy(), binary_fit.fixef.to_numpy(), rtol=1e-6)
    r = m.ranef["g"].loc[binary_fit.ranef["g"].index]
    np.testing.assert_allclose(r.to_numpy(), binary_fit.ranef["g"].to_numpy(), atol=1e-6)


def test_modes_at_theta_zero_are_a_glm(binary):
    sm = pytest.importorskip("statsmodels.api")
    model = mm.glmer("y ~ x + (1 | g)", binary, family="binomial").glmm
    res = model.pirls(np.zeros(1))
    glm = sm.GLM(binary["y"], sm.add_constant(binary["x"]), family=sm.families.Binomial()).fit(tol=1e-12)
    np.testing.assert_allclose(res.beta, glm.params.to_numpy(), rtol=1e-8)
    assert res.dev_resid == pytest.approx(glm.deviance, rel=1e-10)


def test_accessors(binary_fit, binary):
    m = binary_fit
    assert m.nobs == len(binary)
    assert m.df == 3
    assert list(m.coef_table().columns) == ["Estimate", "Std. Error", "z value", "Pr(>|z|)"]
    p = m.predict(binary.head(4), type="response")
    assert ((p > 0) & (p < 1)).all()
    np.testing.assert_allclose(m.predict(type="response").to_numpy(), m.fitted().to_numpy(), rtol=1e-12)
    for kind in ("deviance", "pearson", "response", "working"):
        assert np.isfinite(m.residuals(type=kind).to_numpy()).all()
    with pytest.raises(mm.ArgumentError, match="type"):
        m.residuals(type="raw")
    assert "Generalized linear mixed model" in str(m)
    assert "<table" in m._repr_html_()


def test_likelihood_ratio_test_between_glmer_fits(binary):
    m0 = mm.glmer("y ~ 1 + (1 | g)", binary, family="binomial")
    m1 = mm.glmer("y ~ x + (1 | g)", binary, family="binomial")
    table = mm.anova(m0, m1)
    assert table["Df"].iloc[1] == 1
    assert table["Chisq"].iloc[1] == pytest.approx(2 * (m1.loglik - m0.loglik))


def test_lmer_weights_must_be_positive():
    sleep = mm.datasets.load("sleepstudy")
    w = np.ones(len(sleep))
    w[3] = 0.0
    with pytest.raises(mm.DataError, match="weights"):
        mm.lmer("Reaction ~ Days + (1 | Subject)", sleep, weights=w)
    with pytest.raises(mm.DataError, match="one value per row"):
        mm.lmer("Reaction ~ Days + (1 | Subject)", sleep, weights=np.ones(3))
    with pytest.raises(mm.DataError, match="no column"):
        mm.lmer("Reaction ~ Days + (1 | Subject)", sleep, offset="nope")


def test_lmer_offset_in_formula_equals_argument_and_predicts():
    sleep = mm.datasets.load("sleepstudy")
    a = mm.lmer("Reaction ~ Days + offset(2 * Days) + (1 | Subject)", sleep)
    b = mm.lmer("Reaction ~ Days + (1 | Subject)", sleep, offset=2 * sleep["Days"].to_numpy())
    c = mm.lmer("Reaction ~ Days + (1 | Subject)", sleep)
    assert a.fixef["Days"] == pytest.approx(c.fixef["Days"] - 2, rel=1e-7)
    np.testing.assert_allclose(a.fitted().to_numpy(), c.fitted().to_numpy(), rtol=1e-7)
    np.testing.assert_allclose(a.predict(sleep.head(5)).to_numpy(), c.predict(sleep.head(5)).to_numpy(), rtol=1e-7)
    np.testing.assert_allclose(a.fixef.to_numpy(), b.fixef.to_numpy(), rtol=1e-12)


def test_wald_intervals(binary_fit):
    ci = binary_fit.confint(level=0.9)
    assert list(ci.columns) == ["5 %", "95 %"]
    np.testing.assert_allclose(
        (ci.iloc[:, 1] - ci.iloc[:, 0]).to_numpy(), 2 * 1.6448536269514722 * binary_fit.fixef_se.to_numpy(), rtol=1e-10
    )
    with pytest.raises(mm.ArgumentError, match="wald"):
        binary_fit.confint("bca")  # (method="boot": tests/test_glmer_bootstrap.py)


def test_command_line_fits_a_glmm(capsys):
    from mixedmodels.cli import main

    code = main(
        ["fit", "cbind(incidence, size - incidence) ~ period + (1 | herd)", "--data", "cbpp", "--family", "binomial"]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "Family: binomial  ( logit )" in out
    assert main(["fit", "incidence ~ period + (1 | herd)", "--data", "cbpp", "--family", "poison"]) == 2
    assert "unknown family" in capsys.readouterr().err


def test_group_curves_figure(binary_fit):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    fig = binary_fit.glmm and binary_fit.plot_ranef()
    assert fig.axes
    hsb = mm.datasets.load("hsb").assign(passed=lambda d: d["mAch"] > 12)
    small = hsb[hsb["school"].isin(hsb["school"].cat.categories[:40])].copy()
    small["school"] = small["school"].cat.remove_unused_categories()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mm.MixedModelsWarning)
        m = mm.glmer("passed ~ ses + (1 + ses | school)", small, family="binomial")
    fig = m.plot_group_curves(groups=[str(small["school"].iloc[0])])
    lines = fig.axes[0].get_lines()
    assert len(lines) == 41  # 40 schools and the fixed effects
    y = np.concatenate([ln.get_ydata() for ln in lines])
    assert ((y > 0) & (y < 1)).all()


def test_complete_separation_warns_by_name_and_is_not_converged():
    rng = np.random.default_rng(1)
    n = 300
    x = rng.normal(size=n)
    d = pd.DataFrame({"y": (x > 0).astype(float), "x": x, "g": pd.Categorical(rng.integers(0, 15, n))})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        m = mm.glmer("y ~ x + (1 | g)", d, family="binomial")
    assert any(
        issubclass(w.category, mm.ConvergenceWarning) and "separation" in str(w.message) and ", x " in str(w.message)
        for w in caught
    )
    assert not m.converged
    assert any("separation" in msg for msg in m.messages)


def test_simulate_at_the_population_level_has_the_fixed_effects_mean(binary_fit, binary):
    sims = binary_fit.simulate(nsim=400, seed=3, include_re=False)
    assert sims.shape == (len(binary), 400)
    assert set(np.unique(sims.to_numpy())) <= {0.0, 1.0}
    expected = binary_fit.predict(include_re=False, type="response").to_numpy()
    np.testing.assert_allclose(sims.mean(axis=1).to_numpy(), expected, atol=0.1)
    np.testing.assert_array_equal(binary_fit.simulate(2, seed=5).to_numpy(), binary_fit.simulate(2, seed=5).to_numpy())


def test_weighted_lmer_simulates_with_the_rows_variances():
    rng = np.random.default_rng(2)
    n = 2000
    g = rng.integers(0, 40, n)
    w = np.where(np.arange(n) % 2 == 0, 1.0, 100.0)
    y = 1.0 + rng.normal(0, 0.5, 40)[g] + rng.normal(size=n) / np.sqrt(w)
    d = pd.DataFrame({"y": y, "g": pd.Categorical(g)})
    m = mm.lmer("y ~ 1 + (1 | g)", d, weights=w)
    sims = m.simulate(nsim=50, seed=1, use_u=True).to_numpy() - m.fitted().to_numpy()[:, None]
    sd_light, sd_heavy = sims[w == 1.0].std(), sims[w == 100.0].std()
    assert sd_light == pytest.approx(m.sigma, rel=0.05)
    assert sd_heavy == pytest.approx(m.sigma / 10, rel=0.05)


def test_predict_takes_any_table(binary_fit, binary):
    head = binary.head(5)
    expected = binary_fit.predict(head, type="response").to_numpy()
    as_dict = {c: head[c].to_numpy() for c in head.columns}
    np.testing.assert_allclose(binary_fit.predict(as_dict, type="response").to_numpy(), expected)
    pa = pytest.importorskip("pyarrow")
    np.testing.assert_allclose(binary_fit.predict(pa.Table.from_pandas(head), type="response").to_numpy(), expected)
    with pytest.raises(mm.DataError, match="dict of columns"):
        binary_fit.predict([1, 2, 3])


def test_tidy_frames(binary_fit):
    fixed = binary_fit.tidy(conf_int=True, conf_level=0.9)
    assert list(fixed.columns) == [
        "effect",
        "group",
        "term",
        "estimate",
        "std.error",
        "statistic",
        "p.value",
        "conf.low",
        "conf.high",
    ]
    np.testing.assert_allclose(fixed["statistic"].to_numpy(), binary_fit.fixef_z.to_numpy())
    pars = binary_fit.tidy("ran_pars")
    assert pars["term"].tolist() == ["sd__(Intercept)"]
    vals = binary_fit.tidy("ran_vals")
    assert len(vals) == len(binary_fit.ranef["g"])
