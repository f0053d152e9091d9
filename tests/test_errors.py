"""Arguments of the public entry points (lmer, fit_arrays, predict, refit, simulate, bootstrap,
confint) are checked where they come in: a wrong type or value gets an `ArgumentError` (a
TypeError and a ValueError) or a `DataError` naming it, never an error from an internal function,
pybind11 or formulaic, and never a silent misreading."""

from __future__ import annotations

import inspect
import warnings

import numpy as np
import pandas as pd
import pytest

import mixedmodels as mm
from mixedmodels import optimize
from mixedmodels.arguments import OPTIMIZER_OPTIONS

SLEEP = "Reaction ~ Days + (Days | Subject)"


@pytest.fixture(scope="module")
def sleep():
    return mm.datasets.load("sleepstudy")


@pytest.fixture(scope="module")
def m(sleep):
    return mm.lmer(SLEEP, sleep)


@pytest.fixture(scope="module")
def arrays(sleep):
    n = len(sleep)
    x = np.column_stack([np.ones(n), sleep["Days"].to_numpy(dtype=float)])
    term = mm.GroupTerm("Subject", sleep["Subject"].cat.codes.to_numpy(), x, ("(Intercept)", "Days"))
    return sleep["Reaction"].to_numpy(), x, [term]


def test_argument_error_is_a_type_and_a_value_error():
    assert issubclass(mm.ArgumentError, TypeError)
    assert issubclass(mm.ArgumentError, ValueError)
    assert issubclass(mm.ArgumentError, mm.MixedModelsError)


# ------------------------------------------------------------------ reml, maxeval, optimizer


@pytest.mark.parametrize("reml", ["False", "True", 0, 1, None, 1.0])
def test_reml_must_be_a_bool(sleep, arrays, reml):
    with pytest.raises(mm.ArgumentError, match="reml must be True or False"):
        mm.lmer(SLEEP, sleep, reml=reml)
    with pytest.raises(mm.ArgumentError, match="reml must be True or False"):
        mm.fit_arrays(*arrays, reml=reml)


def test_numpy_bools_are_bools(sleep, m):
    ml = mm.lmer(SLEEP, sleep, reml=np.bool_(False))
    assert not ml.reml
    assert ml.objective == pytest.approx(mm.lmer(SLEEP, sleep, reml=False).objective, rel=1e-12)
    assert mm.lmer(SLEEP, sleep, reml=np.bool_(True)).objective == pytest.approx(m.objective, rel=1e-12)


@pytest.mark.parametrize("maxeval", [0, -5, 10.5, "100", True, None, float("inf")])
def test_maxeval_must_be_a_positive_integer(sleep, arrays, maxeval):
    with pytest.raises(mm.ArgumentError, match="maxeval must be an integer of at least 1"):
        mm.lmer(SLEEP, sleep, maxeval=maxeval)
    with pytest.raises(mm.ArgumentError, match="maxeval must be an integer of at least 1"):
        mm.fit_arrays(*arrays, maxeval=maxeval)


def test_maxeval_fits_a_c_int(sleep):
    with pytest.raises(mm.ArgumentError, match="maxeval must be an integer from 1 to 2147483647, got 1000000000000"):
        mm.lmer(SLEEP, sleep, maxeval=10**12)


def test_maxeval_may_be_a_whole_float(sleep, m):
    assert mm.lmer(SLEEP, sleep, maxeval=1e5).objective == pytest.approx(m.objective, rel=1e-12)
    assert mm.lmer(SLEEP, sleep, maxeval=np.int64(100_000)).converged


def test_unknown_optimizer(sleep):
    with pytest.raises(
        mm.ArgumentError, match="optimizer must be 'auto', 'bobyqa', 'cobyqa', 'lbfgsb' or 'newton'; got 'nelder-mead'"
    ):
        mm.lmer(SLEEP, sleep, optimizer="nelder-mead")
    with pytest.raises(mm.ArgumentError, match="optimizer must be"):
        mm.lmer(SLEEP, sleep, optimizer=None)


@pytest.mark.parametrize(
    ("optimizer", "options", "match"),
    [
        ("bobyqa", {"foo": 1e-9}, "unknown key 'foo' for optimizer 'bobyqa'; it takes 'xtol_abs', 'ftol_abs'"),
        ("bobyqa", {"final_tr_radius": 1e-8}, "unknown key 'final_tr_radius' for optimizer 'bobyqa'"),
        ("cobyqa", {"xtol_abs": 1e-9}, "it takes 'initial_tr_radius', 'final_tr_radius'"),
        ("auto", {"maxeval": 10}, "it takes 'xtol_abs', 'ftol_abs', 'initial_tr_radius', 'final_tr_radius'"),
        ("bobyqa", {"xtol_abs": "1e-9"}, "optimizer_options\\['xtol_abs'\\] must be a positive finite number"),
        ("bobyqa", {"ftol_abs": -1.0}, "must be a positive finite number, got -1.0"),
        ("bobyqa", {"ftol_abs": np.nan}, "must be a positive finite number, got nan"),
        ("cobyqa", {"final_tr_radius": True}, "must be a positive finite number, got True"),
        ("bobyqa", [("xtol_abs", 1e-9)], "optimizer_options must be a dict"),
    ],
)
def test_optimizer_options_are_checked(sleep, optimizer, options, match):
    with pytest.raises(mm.ArgumentError, match=match):
        mm.lmer(SLEEP, sleep, optimizer=optimizer, optimizer_options=options)


def test_optimizer_options_are_minimize_thetas_keywords():
    keywords = inspect.signature(optimize.minimize_theta).parameters
    assert set(OPTIMIZER_OPTIONS) == set(optimize.METHODS)
    for names in OPTIMIZER_OPTIONS.values():
        assert all(k in keywords and keywords[k].kind is inspect.Parameter.KEYWORD_ONLY for k in names)


def test_good_optimizer_options_still_work(sleep, m):
    tight = mm.lmer(SLEEP, sleep, optimizer="bobyqa", optimizer_options={"xtol_abs": 1e-10, "ftol_abs": 1e-12})
    assert tight.objective == pytest.approx(m.objective, rel=1e-10)
    either = mm.lmer(SLEEP, sleep, optimizer_options={"xtol_abs": 1e-9, "final_tr_radius": 1e-6})
    assert either.objective == pytest.approx(m.objective, rel=1e-9)


def test_start_is_checked_with_the_theta_names(sleep, m):
    with pytest.raises(mm.ArgumentError, match="start must be finite; it is not at Subject.Days \\(nan\\)"):
        mm.lmer(SLEEP, sleep, start=[1.0, 0.0, np.nan])
    with pytest.raises(mm.ArgumentError, match="start must be 3 numbers"):
        mm.lmer(SLEEP, sleep, start=[1.0, 0.0])
    with pytest.raises(mm.ArgumentError, match="start must be None, 'lme4'"):
        mm.lmer(SLEEP, sleep, start="lme5")
    with pytest.raises(mm.ArgumentError, match="real numbers"):
        mm.lmer(SLEEP, sleep, start=[1.0, 0.0, 1j])
    assert mm.lmer(SLEEP, sleep, start=tuple(m.theta)).objective == pytest.approx(m.objective, rel=1e-10)


@pytest.fixture(scope="module")
def crossed() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    n = 3000
    a, b = rng.integers(0, 600, n), rng.integers(0, 150, n)
    return pd.DataFrame({"y": rng.normal(size=n) + rng.normal(size=150)[b], "a": a, "b": b})


@pytest.mark.parametrize(
    ("start", "match"),
    [
        # the criterion cannot be evaluated at the start: the factor loses every digit there
        ([1e10, 1.0], r"start: the criterion cannot be evaluated at theta = \[10000000000.0, 1.0\] \(the fixed"),
        # inf at the start: it was reported as an exact fit of the data
        ([1e200, 1.0], r"start: the criterion at theta = \[1e\+200, 1.0\] is inf"),
    ],
)
def test_a_start_far_off_is_named_in_the_error(crossed, start, match):
    with pytest.raises(mm.ArgumentError, match=match):
        mm.lmer("y ~ 1 + (1 | a) + (1 | b)", crossed, start=start)


def test_a_search_from_a_given_start_that_meets_a_failed_factor_names_the_start(sleep, monkeypatch):
    """From theta = [1, 1e20] on the crossed design the criterion is finite, and the search then
    steps to [1.0001, 1e20], where it cannot be evaluated: which steps fail depends on rounding, so
    the failure is made here. From a given start it names the start; from the default one the
    core's error stands."""
    from mixedmodels import _core
    from mixedmodels import model as model_module

    def failing(*args, **kwargs):
        raise _core.NotPositiveDefiniteError("the fixed-effects model matrix is rank deficient (column 1)")

    monkeypatch.setattr(model_module, "minimize_theta", failing)
    with pytest.raises(mm.ArgumentError, match=r"start: the search from theta = \[1.0, 0.0, 1.0\] met a point where"):
        mm.lmer(SLEEP, sleep, start=[1.0, 0.0, 1.0])
    with pytest.raises(_core.NotPositiveDefiniteError, match="rank deficient"):
        mm.lmer(SLEEP, sleep)


def test_other_lmer_arguments(sleep):
    with pytest.raises(mm.ArgumentError, match="data_name must be a string"):
        mm.lmer(SLEEP, sleep, data_name=3)
    with pytest.raises(mm.ArgumentError, match="progress must be"):
        mm.lmer(SLEEP, sleep, progress="yes")
    with pytest.raises(mm.ArgumentError, match="batch_size must be an integer"):
        mm.lmer(SLEEP, [sleep], batch_size=0)
    with pytest.raises(mm.DataError, match="got ndarray; for arrays without a formula use fit_arrays"):
        mm.lmer(SLEEP, sleep.to_numpy())
    with pytest.raises(mm.DataError, match="got Series; wrap it in pandas.DataFrame"):
        mm.lmer(SLEEP, sleep["Reaction"])


# ------------------------------------------------------------------ complex columns


@pytest.mark.parametrize("column", ["Reaction", "Days"])
def test_complex_columns_are_refused(sleep, column):
    df = sleep.assign(**{column: sleep[column] + 0.5j})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no ComplexWarning on the way
        with pytest.raises(mm.DataError, match=f"column '{column}' has complex values"):
            mm.lmer(SLEEP, df)


def test_an_unused_complex_column_does_not_matter(sleep, m):
    df = sleep.assign(other=sleep["Days"] * 1j)
    assert mm.lmer(SLEEP, df).objective == pytest.approx(m.objective, rel=1e-12)


# ------------------------------------------------------------------ predict


def test_predict_names_the_missing_columns(sleep, m):
    with pytest.raises(mm.DataError, match="newdata lacks the column 'Days' \\(used by the fixed effects"):
        m.predict(sleep.drop(columns="Days"))
    with pytest.raises(mm.DataError, match="'Days'.*; 'Subject'"):
        m.predict(sleep.drop(columns=["Days", "Subject"]))
    # without the random effects the grouping column is not needed
    assert len(m.predict(sleep.drop(columns="Subject").head(3), include_re=False)) == 3


def test_predict_wraps_formulaic_errors(sleep, m):
    # text where the fit had numbers: named before formulaic sees it (it had been formulaic's message, wrapped)
    with pytest.raises(mm.DataError, match="column 'Days' of newdata holds text"):
        m.predict(sleep.assign(Days="a").head(2))


def test_include_re_takes_one_name(sleep, m):
    one = m.predict(sleep, include_re="Subject")
    np.testing.assert_array_equal(one, m.predict(sleep, include_re=["Subject"]))
    np.testing.assert_array_equal(one, m.predict(sleep, include_re=("Subject",)))
    with pytest.raises(mm.DataError, match="no grouping factor \\['Subjct'\\]; the model has \\['Subject'\\]"):
        m.predict(sleep, include_re="Subjct")
    with pytest.raises(mm.ArgumentError, match="include_re must be"):
        m.predict(sleep, include_re=3)
    np.testing.assert_array_equal(m.predict(sleep, include_re=np.bool_(False)), m.predict(sleep, include_re=False))


def test_allow_new_levels_must_be_a_bool(sleep, m):
    with pytest.raises(mm.ArgumentError, match="allow_new_levels must be True or False"):
        m.predict(sleep, allow_new_levels="no")
    with pytest.raises(mm.ArgumentError, match="scaled must be True or False"):
        m.residuals(scaled="no")


def test_newdata_must_be_a_table(m):
    assert m.predict({"Days": [1.0], "Subject": ["308"]}).iloc[0] == pytest.approx(
        m.predict(pd.DataFrame({"Days": [1.0], "Subject": ["308"]})).iloc[0]
    )
    with pytest.raises(mm.DataError, match="newdata must be a pandas DataFrame, a dict of columns"):
        m.predict([1.0, 2.0])


# ------------------------------------------------------------------ refit


def test_refit_names_non_finite_rows(m):
    y = (m.fitted() + m.residuals()).to_numpy().copy()
    y[[3, 50]] = [np.nan, np.inf]
    with pytest.raises(mm.DataError, match="the response has 2 non-finite values, at rows 3 \\(nan\\), 50 \\(inf\\)"):
        m.refit(y)


def test_refit_refuses_a_constant_response(m):
    with pytest.raises(mm.DataError, match="the response is constant"):
        m.refit(np.full(m.nobs, 2.5))


def test_refit_refuses_complex_and_non_numeric_responses(m):
    y = (m.fitted() + m.residuals()).to_numpy()
    with pytest.raises(mm.DataError, match="must be real"):
        m.refit(y + 1j)
    with pytest.raises(mm.DataError, match="must be numeric"):
        m.refit(["a"] * m.nobs)
    with pytest.raises(mm.DataError, match="must be numeric"):
        m.refit(np.ones(m.nobs, dtype=bool))
    with pytest.raises(ValueError, match="must have 180 values"):
        m.refit(y[:-1])


def test_refit_refuses_on_arrays_fits_too(arrays):
    fa = mm.fit_arrays(*arrays)
    with pytest.raises(mm.DataError, match="constant"):
        fa.refit(np.zeros(fa.nobs))


# ------------------------------------------------------------------ simulate, bootstrap, confint


@pytest.mark.parametrize("nsim", [0, 2.5, "3", None])
def test_nsim_must_be_a_positive_integer(m, nsim):
    with pytest.raises(mm.ArgumentError, match="nsim must be an integer of at least 1"):
        m.simulate(nsim=nsim)
    with pytest.raises(mm.ArgumentError, match="nsim must be an integer of at least 1"):
        m.bootstrap(nsim=nsim)
    with pytest.raises(mm.ArgumentError, match="nsim must be an integer of at least 1"):
        m.confint("boot", nsim=nsim)


@pytest.mark.parametrize("seed", ["a", 1.5, -1, True])
def test_seed_must_be_a_seed(m, seed):
    with pytest.raises(mm.ArgumentError, match="seed must be None, a non-negative integer"):
        m.simulate(seed=seed)
    with pytest.raises(mm.ArgumentError, match="seed must be"):
        m.bootstrap(nsim=2, seed=seed)
    with pytest.raises(mm.ArgumentError, match="seed must be"):
        m.sample_groups(3, seed=seed)


def test_generators_are_seeds(m):
    a = m.simulate(nsim=2, seed=np.random.default_rng(4))
    b = m.simulate(nsim=2, seed=4)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("level", ["0.9", 0, 1, 95, np.nan, None])
def test_level_must_be_between_0_and_1(m, level):
    with pytest.raises(mm.ArgumentError, match="level must be a number between 0 and 1"):
        m.confint("wald", level=level)


def test_confint_keywords(m):
    with pytest.raises(mm.ArgumentError, match="unknown keyword\\(s\\) nsimm for method='boot'"):
        m.confint("boot", nsimm=3)
    with pytest.raises(mm.ArgumentError, match="apply to method='boot' only"):
        m.confint("wald", nsim=3)
    with pytest.raises(mm.ArgumentError, match="n_jobs must be"):
        m.bootstrap(nsim=2, n_jobs=0)
    with pytest.raises(mm.ArgumentError, match="progress must be True or False"):
        m.bootstrap(nsim=2, progress="no")


def test_simulate_flags_and_sample_groups(m):
    with pytest.raises(mm.ArgumentError, match="include_re must be True or False"):
        m.simulate(include_re="no")
    with pytest.raises(mm.ArgumentError, match="use_u must be True or False"):
        m.simulate(use_u=1)
    with pytest.raises(mm.ArgumentError, match="n must be an integer of at least 1"):
        m.sample_groups(2.5)


def test_summary_ddf_is_checked(m):
    with pytest.raises(mm.ArgumentError, match="ddf must be 'satterthwaite', 'kenward-roger' or None"):
        m.summary("x")
    assert "Kenward-Roger" in str(m.summary("kenward_roger"))


# ------------------------------------------------------------------ other public functions


def test_ddf_is_checked_everywhere(m):
    for call in (m.coef_table, m.summary, lambda ddf: m.tidy("fixed", ddf=ddf)):
        with pytest.raises(mm.ArgumentError, match="ddf must be 'satterthwaite', 'kenward-roger' or None"):
            call(3)
    with pytest.raises(mm.ArgumentError, match="ddf must be 'satterthwaite', 'kenward-roger' or None"):
        m.anova(ddf=3)
    with pytest.raises(mm.ArgumentError, match="type must be 1, 2 or 3"):
        m.anova(None)  # anova's first argument is the type (lmerTest's), ddf is by keyword
    assert list(m.coef_table(None).columns) == ["Estimate", "Std. Error", "t value"]


def test_complex_newdata_is_refused(sleep, m):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(mm.DataError, match="newdata's column 'Days' has complex values"):
            m.predict(sleep.assign(Days=sleep["Days"] + 1j).head(3))


def test_anova_and_lmlist_check_their_arguments(sleep, m):
    with pytest.raises(mm.ArgumentError, match=r"anova compares fitted models \(LmerResult, GlmerResult\), got int"):
        mm.anova(m, 3)
    with pytest.raises(mm.ArgumentError, match="refit must be True or False"):
        mm.anova(m, m, refit="no")
    with pytest.raises(mm.FormulaError, match="the formula must be a string"):
        mm.lmlist(3, sleep)
    with pytest.raises(mm.DataError, match="data must be a pandas DataFrame, got ndarray"):
        mm.lmlist("Reaction ~ Days | Subject", sleep.to_numpy())


def test_plot_arguments_are_checked_before_drawing(m):
    with pytest.raises(mm.ArgumentError, match="seed must be"):
        m.plot_group_lines(n=2, seed="a")
    with pytest.raises(mm.ArgumentError, match="n must be an integer of at least 1"):
        m.plot_pooling(n=2.5)
    with pytest.raises(mm.ArgumentError, match="level must be a number between 0 and 1"):
        m.plot_ranef(level=95)


def test_a_glmm_start_far_off_is_named_in_the_error():
    """glmer from theta = 1e10 on cbpp: the Laplace criterion is inf there and the search finds no
    modes; the error was that the predictors separate the outcomes or the means left the family's range."""
    cbpp = mm.datasets.load("cbpp")
    with pytest.raises(mm.ArgumentError, match=r"start: the criterion at theta = \[10000000000.0\] is not finite"):
        mm.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp, family="binomial", start=[1e10])


def test_weights_as_a_series_by_label_or_position(sleep):
    # a Series had been read by position whatever its index: one in another row order gave each row another
    # row's weight. Now: the data's own index -> used; data without row labels (a dict, an Arrow table) ->
    # by position; other labels against a frame's -> refused (aligning by label is wrong after a reset_index)
    d = sleep[sleep.Days > 1].sample(frac=1.0, random_state=3)
    w = pd.Series(np.linspace(1.0, 2.0, len(d)), index=d.index)
    base = mm.lmer("Reaction ~ Days + (1 | Subject)", d, weights=w).objective
    as_dict = {k: d[k].to_numpy() for k in d}
    assert mm.lmer("Reaction ~ Days + (1 | Subject)", as_dict, weights=w).objective == pytest.approx(base, rel=1e-12)
    for data, weights in ((d, w.sort_index()), (d.reset_index(drop=True), w), (d, pd.Series(w.to_numpy()))):
        with pytest.raises(mm.DataError, match="index is not the data's row labels"):
            mm.lmer("Reaction ~ Days + (1 | Subject)", data, weights=weights)


def test_wrong_method_and_effects_and_huge_nsim_are_argument_errors(m):
    with pytest.raises(mm.ArgumentError, match="method must be"):
        m.confint("foo")
    with pytest.raises(mm.ArgumentError, match="effects must be"):
        m.tidy("foo")
    with pytest.raises(mm.ArgumentError, match="simulate in batches"):
        m.simulate(nsim=10**12)


def test_a_term_with_very_many_parameters_warns_before_the_search():
    # (k | g) with k a factor of 12 levels: 78 parameters, a fit of minutes (reported by a fuzz review)
    from mixedmodels.checks import MANY_TERM_PARAMETERS
    from mixedmodels.model import LinearMixedModel

    rng = np.random.default_rng(2)
    n = 2000
    d = pd.DataFrame({"y": rng.normal(size=n), "k": rng.integers(0, 12, n).astype(str), "g": rng.integers(0, 20, n)})
    with pytest.warns(mm.MixedModelsWarning, match="78 parameters"):
        LinearMixedModel.from_formula("y ~ k + (k | g)", d)  # built, not fitted
    assert 12 * 13 // 2 > MANY_TERM_PARAMETERS
