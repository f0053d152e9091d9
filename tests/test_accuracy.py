"""The criterion and the estimates are accurate whatever the response's offset, the random slopes'
location and how much of y the fixed effects explain (issue 14, items 3 and 4): the cross-products
are formed from y - X beta_ols when y'y dwarfs the residual sum of squares, and the optimiser
works on a centred copy of slopes far from zero."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import mixedmodels as mm
from mixedmodels.model import LinearMixedModel

SLEEP = "Reaction ~ Days + (Days | Subject)"
LME4_REML = 1743.6282719  # lme4 1.1-31, sleepstudy (its reference JSON: 1743.628271958...)


@pytest.fixture(scope="module")
def sleep(fits):
    return fits.data("sleepstudy")


@pytest.fixture(scope="module")
def plain(sleep):
    return LinearMixedModel.from_formula(SLEEP, sleep).fit()


def _fit(formula: str, data: pd.DataFrame, reml: bool = True) -> mm.model.Fit:
    with warnings.catch_warnings():
        warnings.simplefilter("error", mm.ConvergenceWarning)
        return LinearMixedModel.from_formula(formula, data, reml=reml).fit()


@pytest.mark.parametrize("offset", [1e6, 1e8, 1e9])
@pytest.mark.parametrize("reml", [True, False])
def test_a_response_far_from_zero_gives_the_same_fit(sleep, offset, reml):
    base = _fit(SLEEP, sleep, reml)
    m = _fit(SLEEP, sleep.assign(Reaction=sleep.Reaction + offset), reml)
    assert m.converged
    assert m.objective == pytest.approx(base.objective, rel=1e-11)
    if reml:
        assert m.objective == pytest.approx(LME4_REML, rel=1e-9)
    np.testing.assert_allclose(m.theta, base.theta, rtol=1e-5)  # BOBYQA's tolerance, not the data's
    assert m.sigma == pytest.approx(base.sigma, rel=1e-7)
    # the intercept carries the offset (to the precision of y itself, whose ulp is ~1e-7 at 1e9)
    assert m.beta[0] - offset == pytest.approx(base.beta[0], abs=1e-5)
    assert m.beta[1] == pytest.approx(base.beta[1], rel=1e-8)


def _trend(n_groups: int = 4) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    x = np.arange(1, 10001.0)
    g = np.repeat(np.arange(n_groups), x.size // n_groups)
    y = 1e4 * x + rng.normal(scale=4.4, size=n_groups)[g] + rng.normal(size=x.size)
    return pd.DataFrame({"y": y, "x": x, "g": g.astype(str)})


@pytest.mark.parametrize("reml", [True, False])
def test_a_response_the_fixed_effects_explain_almost_exactly(reml):
    """y = 1e4 x + noise (R^2 = 1 - 1e-13): the criterion is that of y - 1e4 x."""
    d = _trend()
    a = _fit("y ~ x + (1 | g)", d, reml)
    b = _fit("y ~ x + (1 | g)", d.assign(y=d.y - 1e4 * d.x), reml)
    assert a.objective == pytest.approx(b.objective, rel=1e-12)
    np.testing.assert_allclose(a.theta, b.theta, rtol=1e-5)
    assert a.sigma == pytest.approx(b.sigma, rel=1e-8)
    assert a.beta[1] - 1e4 == pytest.approx(b.beta[1], abs=1e-9)


def test_a_crossed_model_of_a_response_far_from_zero(fits):
    pen = fits.data("penicillin")
    f = "diameter ~ 1 + (1 | plate) + (1 | sample)"
    base = _fit(f, pen)
    m = _fit(f, pen.assign(diameter=pen.diameter + 1e9))
    assert m.objective == pytest.approx(base.objective, rel=1e-11)
    np.testing.assert_allclose(m.theta, base.theta, rtol=1e-5)


@pytest.mark.parametrize("offset", [100.0, 1e3, 1e5, 1e7])
def test_a_random_slope_far_from_zero_gives_the_same_model(sleep, plain, offset):
    """Days + offset: the same model (the intercept's meaning moves); lme4 fails to converge here
    and BOBYQA on the raw columns stops on a false boundary (REML 1782.17 at Days + 100)."""
    m = _fit("Reaction ~ Days + (Days | Subject)", sleep.assign(Days=sleep.Days + offset))
    assert m.converged
    assert not m.is_singular
    assert m.objective == pytest.approx(plain.objective, rel=1e-10)
    assert m.sigma == pytest.approx(plain.sigma, rel=1e-7)
    assert m.beta[1] == pytest.approx(plain.beta[1], rel=1e-9)
    # the covariance of (intercept at Days = -offset, slope) is the plain one moved by the offset
    a = np.array([[1.0, -offset], [0.0, 1.0]])
    t_plain = plain.model.structure.theta.terms[0].t_matrix(plain.theta)
    t_m = m.model.structure.theta.terms[0].t_matrix(m.theta)
    cov_plain, cov_m = t_plain @ t_plain.T, t_m @ t_m.T
    np.testing.assert_allclose(cov_m, a @ cov_plain @ a.T, rtol=2e-5)


def test_the_centred_copy_gives_the_same_estimates_as_the_model(sleep):
    """At any theta, the estimates from the centred copy equal those from the model's own columns
    (where those are accurate: a modest offset)."""
    model = LinearMixedModel.from_formula(SLEEP, sleep.assign(Days=sleep.Days + 20.0))
    assert model._centred is not None  # noqa: SLF001 - the test is of this copy
    theta = np.array([3.0, -0.4, 0.25])
    mine = model.estimates(theta)
    plain = model.new_engine().estimates(theta)
    assert mine.criterion.profiled(True) == pytest.approx(plain.criterion.profiled(True), rel=1e-12)
    np.testing.assert_allclose(mine.beta, plain.beta, rtol=1e-10)
    np.testing.assert_allclose(mine.b, plain.b, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(mine.rx_inverse_crossprod, plain.rx_inverse_crossprod, rtol=1e-9)
    cc = model.conditional_covariances(theta)
    engine = model.new_engine()
    engine.update(theta)
    np.testing.assert_allclose(cc[0], engine.condcov()[0], rtol=1e-8, atol=1e-12)


def test_a_slope_far_from_zero_is_not_called_constant(sleep):
    m = _fit("Reaction ~ Days + (Days | Subject)", sleep.assign(Days=sleep.Days + 1e5))
    assert m.converged


def test_a_slope_constant_within_levels_far_from_zero_is_refused(sleep):
    codes = sleep.Subject.astype("category").cat.codes.to_numpy()
    d = sleep.assign(c=codes.astype(float) + 1e5)
    with pytest.raises(mm.DataError, match="constant within every level"):
        LinearMixedModel.from_formula("Reaction ~ Days + (c | Subject)", d)


@pytest.mark.parametrize(
    ("column", "factor", "match"),
    [
        ("Reaction", 1e-160, "the response 'Reaction' has values of size 3.0e-158"),
        ("Reaction", 1e130, "the response 'Reaction' has values of size 3.0e\\+132"),
        # squares that overflow: their sum is inf (or inf - inf), no size to quote
        ("Reaction", 1e160, "the response 'Reaction' has values too large .* squares overflow"),
        ("Days", 1e160, "the fixed-effects column 'Days' has values too large .* squares overflow"),
        # squares that underflow: a sum of 0, but the column is not zero (not aliased: refused)
        ("Days", 1e-170, "the fixed-effects column 'Days' has values too small \\(below ~1e-154\\) to square"),
    ],
)
def test_extreme_scales_are_refused_with_the_column_named(sleep, column, factor, match):
    d = sleep.assign(**{column: sleep[column] * factor})
    with pytest.raises(mm.DataError, match=match):
        LinearMixedModel.from_formula("Reaction ~ Days + (1 | Subject)", d)


@pytest.mark.parametrize(
    ("factor", "match"), [(1e160, "'Days' has values too large"), (1e-170, "'Days' has values too small")]
)
def test_a_glmm_refuses_extreme_fixed_effects_scales(sleep, factor, match):
    d = sleep.assign(Days=sleep.Days * factor, k=np.round(sleep.Reaction / 10))
    with pytest.raises(mm.DataError, match=match):
        mm.glmer("k ~ Days + (1 | Subject)", d, family="poisson")


def test_a_fixed_effects_column_of_zeros_is_still_dropped_as_aliased(sleep):
    with pytest.warns(mm.MixedModelsWarning, match="dropping 1 column: zero"):
        m = LinearMixedModel.from_formula("Reaction ~ Days + zero + (1 | Subject)", sleep.assign(zero=0.0))
    assert m.structure.fixed_names == ("(Intercept)", "Days")


def test_a_random_effects_column_too_small_to_square_is_refused(sleep):
    d = sleep.assign(tiny=sleep.Days * 1e-200)
    with pytest.raises(mm.DataError, match="'tiny' in \\(0 \\+ tiny \\| Subject\\) is zero in every row"):
        LinearMixedModel.from_formula("Reaction ~ Days + (0 + tiny | Subject)", d)


def test_arrays_with_a_vanishing_random_effects_column_are_refused(sleep):
    x = np.column_stack([np.ones(len(sleep)), sleep.Days.to_numpy(float)])
    codes = sleep.Subject.astype("category").cat.codes.to_numpy()
    term = mm.GroupTerm("Subject", codes, np.full((len(sleep), 1), 1e-300), ["(Intercept)"])
    with pytest.raises(mm.DataError, match="zero in every row"):
        mm.fit_arrays(sleep.Reaction.to_numpy(float), x, [term])


def test_an_unbounded_likelihood_is_not_called_converged():
    """y constant within groups plus a covariate: sigma heads to zero; lme4 warns, so do we, and
    say why."""
    rng = np.random.default_rng(7)
    g = np.repeat(np.arange(100), 10)
    d = pd.DataFrame({"y": rng.normal(size=100)[g] * 3 + 10, "x": rng.normal(size=g.size), "g": g.astype(str)})
    with pytest.warns(mm.ConvergenceWarning, match="residual SD .* heading to zero"):
        m = LinearMixedModel.from_formula("y ~ x + (1 | g)", d).fit()
    assert not m.converged


def _chunks(d: pd.DataFrame, size: int) -> list[pd.DataFrame]:
    return [d.iloc[i : i + size] for i in range(0, len(d), size)]


@pytest.mark.parametrize("offset", [1e6, 1e9])
@pytest.mark.parametrize("reml", [True, False])
def test_a_streamed_response_far_from_zero_gives_the_in_memory_fit(sleep, offset, reml):
    """Streamed data holds no rows: when y'y dwarfs the least-squares residual sum of squares, one
    more pass forms A of y - X beta_ols, as the in-memory model does from its rows. Before, y + 1e6
    streamed ended 1% away in theta with converged=True, and y + 1e9 was called an exact fit."""
    base = _fit(SLEEP, sleep, reml)
    m = mm.lmer(SLEEP, _chunks(sleep.assign(Reaction=sleep.Reaction + offset), 50), reml=reml)
    assert m.converged
    assert m.objective == pytest.approx(base.objective, rel=1e-11)
    np.testing.assert_allclose(m.theta, base.theta, rtol=1e-5)
    assert m.beta[0] - offset == pytest.approx(base.beta[0], abs=1e-5)


@pytest.mark.parametrize("reml", [True, False])
def test_a_streamed_response_the_fixed_effects_explain_almost_exactly(reml):
    d = _trend()
    a = mm.lmer("y ~ x + (1 | g)", _chunks(d, 1000), reml=reml)
    b = _fit("y ~ x + (1 | g)", d.assign(y=d.y - 1e4 * d.x), reml)
    assert a.objective == pytest.approx(b.objective, rel=1e-12)
    np.testing.assert_allclose(a.theta, b.theta, rtol=1e-5)
    assert a.sigma == pytest.approx(b.sigma, rel=1e-8)


def test_a_streamed_dask_response_far_from_zero(sleep):
    dd = pytest.importorskip("dask.dataframe")
    base = _fit(SLEEP, sleep, True)
    ddf = dd.from_pandas(sleep.assign(Reaction=sleep.Reaction + 1e9), npartitions=3)
    m = mm.lmer(SLEEP, ddf)
    assert m.converged
    assert m.objective == pytest.approx(base.objective, rel=1e-11)


def test_a_streamed_shift_with_an_aliased_column(sleep):
    """The extra pass encodes the columns the model kept (an aliased one dropped)."""
    d = sleep.assign(Reaction=sleep.Reaction + 1e9, Days2=2 * sleep.Days)
    with pytest.warns(mm.MixedModelsWarning, match="dropping 1 column"):
        m = mm.lmer("Reaction ~ Days + Days2 + (Days | Subject)", _chunks(d, 60))
    base = _fit(SLEEP, sleep, True)
    assert m.objective == pytest.approx(base.objective, rel=1e-11)


def test_a_theta_whose_products_overflow_is_refused_naming_the_random_effects_block():
    """fit_at at a theta so large that Lambda' Z'Z Lambda overflows, on a crossed design whose second
    factor's block fills in densely: the error names theta and that random-effects block (it used to
    pass through OpenBLAS's factor as NaN and be reported as a rank-deficient fixed-effects matrix)."""
    rng = np.random.default_rng(3)
    n = 3000
    a, b = rng.integers(0, 600, n), rng.integers(0, 150, n)
    d = pd.DataFrame({"y": rng.normal(size=n) + rng.normal(size=150)[b], "a": a, "b": b})
    m = LinearMixedModel.from_formula("y ~ 1 + (1 | a) + (1 | b)", d)
    with pytest.raises(
        mm.ArgumentError,
        match=r"at theta = \[1.0, 1e\+160\] cannot be computed: random-effects block 1, level 0 is not finite "
        r"\(row 1 of its dense block\): its entries overflow",
    ):
        m.fit_at([1.0, 1e160])
    assert np.isfinite(m.fit_at([1.0, 1e3]).deviance)


def test_a_theta_whose_criterion_overflows_is_refused(sleep):
    """One factor: the factor's pivots overflow to inf (not NaN), the criterion with them; the
    estimates there were those of no random effects (b = 0), returned without a word."""
    m = LinearMixedModel.from_formula("Reaction ~ Days + (1 | Subject)", sleep)
    with pytest.raises(mm.ArgumentError, match=r"the criterion at theta = \[1e\+155\] is inf"):
        m.fit_at([1e155])
    assert m.fit_at([1e3]).sigma == pytest.approx(29.47, abs=0.01)  # toward the no-pooling fit


def test_a_glmm_at_an_overflowing_theta_is_refused():
    """A crossed Poisson model's fit_at gave a criterion of NaN there, unconverged but with no message."""
    cbpp = mm.datasets.load("cbpp")
    m = mm.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp, family="binomial")
    beta = m.fixef.to_numpy()
    with pytest.raises(mm.ArgumentError, match=r"the criterion at theta = \[1e\+160\], beta = .* is (inf|nan)"):
        m.model.fit_at([1e160], beta)


@pytest.mark.parametrize("w", [1e300, 1e-300])
def test_weights_that_take_the_sums_out_of_range_are_named(sleep, w):
    """Weights of 1e300 blamed the random-effects intercept for values 'of size 1.0e+150'."""
    d = sleep.assign(w=np.full(len(sleep), w))
    with pytest.raises(
        mm.DataError,
        match=r"'\(Intercept\)' in \(1 \| Subject\) has weighted sums of squares out of .* range only by its weights",
    ):
        mm.lmer("Reaction ~ Days + (1 | Subject)", d, weights="w")


def test_a_constant_response_less_the_offset_says_so(sleep):
    """An offset that dwarfs the response: y - offset rounds to a constant."""
    d = sleep.assign(o=np.full(len(sleep), 1e200))
    with pytest.raises(mm.DataError, match="the response 'Reaction' less the offset is constant"):
        mm.lmer("Reaction ~ Days + (1 | Subject)", d, offset="o")
    with pytest.raises(mm.DataError, match="the response 'R' is constant"):
        mm.lmer("R ~ Days + (1 | Subject)", sleep.assign(R=250.0))


@pytest.mark.parametrize("offset", [1e3, 1e4, 1e6])
@pytest.mark.parametrize("term", ["(Days | Subject)", "(1 | Subject)"])
def test_tests_of_a_slope_do_not_move_with_its_covariates_location(sleep, offset, term):
    """The slope's t test (Satterthwaite's and Kenward-Roger's df and SE) on Days + offset is the
    test on Days: both are taken on the optimiser's centred columns (`Inference`, `KenwardRoger`).
    Before, a random slope on x + 1000 (tests/reference/glmm_unit_scale's data, log(1 + cnt)) gave
    Satterthwaite's df 286 for 25 and Kenward-Roger's SE 4.5 times too large, NaN at x + 1e4; and
    (1 | g) on x + 1e6 lost R_X's digits (the criterion 0.024 low, unconverged)."""
    base = mm.lmer(f"Reaction ~ Days + {term}", sleep)
    m = mm.lmer(f"Reaction ~ Days + {term}", sleep.assign(Days=sleep.Days + offset))
    assert m.converged
    assert m.objective == pytest.approx(base.objective, rel=1e-10)
    for ddf in ("satterthwaite", "kenward-roger"):
        got, want = m.coef_table(ddf=ddf).loc["Days"], base.coef_table(ddf=ddf).loc["Days"]
        np.testing.assert_allclose(got.to_numpy(), want.to_numpy(), rtol=1e-5, err_msg=ddf)
