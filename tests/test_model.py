"""The model object: one criterion, its working scale, variants that share what they can, pickling."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest

import mixedmodels as mm
from mixedmodels.model import LinearMixedModel

SLEEP = "Reaction ~ Days + (Days | Subject)"


@pytest.fixture(scope="module")
def sleep_model(fits):
    return LinearMixedModel.from_formula(SLEEP, fits.data("sleepstudy"))


def test_objective_is_the_fits_criterion(fits, sleep_model):
    m = fits.fit(SLEEP, "sleepstudy")
    assert sleep_model.objective(m.theta) == m.objective
    crit = sleep_model.criterion(m.theta)
    assert crit.profiled(True) == m.objective
    assert crit.profiled(False) == m.deviance
    assert crit.sigma(True) == m.sigma
    # the criterion at sigma's estimate is the profiled one
    assert crit.at_sigma(crit.sigma(True), True) == pytest.approx(m.objective, rel=1e-14)


def test_with_reml_shares_the_data_and_changes_the_criterion(fits, sleep_model):
    ml = sleep_model.with_reml(False)
    assert ml.cross_products is sleep_model.cross_products
    assert sleep_model.with_reml(True) is sleep_model
    ref = fits.fit(SLEEP, "sleepstudy", reml=False)
    assert ml.fit(start=ref.theta).objective == pytest.approx(ref.objective, rel=1e-12)


def test_with_response_refits_the_same_structure(fits, sleep_model):
    m = fits.fit(SLEEP, "sleepstudy")
    y = m.model.data.rows("test").y
    doubled = sleep_model.with_response(2 * y)
    assert doubled.structure is sleep_model.structure
    f = doubled.fit()
    np.testing.assert_allclose(f.beta, 2 * m.beta, rtol=1e-6)
    np.testing.assert_allclose(f.theta, m.theta, rtol=1e-4, atol=1e-6)
    with pytest.raises(ValueError, match="values"):
        sleep_model.with_response(y[:-1])


def test_fit_at_gives_the_estimates_without_optimising(fits, sleep_model):
    m = fits.fit(SLEEP, "sleepstudy")
    at = sleep_model.fit_at(m.theta)
    assert at.n_evals == 0
    assert not at.converged
    assert at.objective == m.objective
    np.testing.assert_array_equal(at.beta, m.beta)


def test_working_scale_is_unit_for_ordinary_columns_and_rescales_extreme_ones(fits):
    sleep = fits.data("sleepstudy")
    plain = LinearMixedModel.from_formula(SLEEP, sleep)
    assert plain.working_scale.identity
    np.testing.assert_array_equal(plain.theta_scale, np.ones(3))
    scaled = LinearMixedModel.from_formula(SLEEP, sleep.assign(Days=sleep["Days"] * 1e6))
    ws = scaled.working_scale
    assert not ws.identity
    # the slope's column and the fixed Days column are divided by their root mean square
    rms = np.sqrt(np.mean((sleep["Days"].to_numpy() * 1e6) ** 2))
    assert ws.z[0][1] == pytest.approx(rms, rel=1e-12)
    assert ws.x[1] == pytest.approx(rms, rel=1e-12)
    np.testing.assert_allclose(scaled.theta_scale, [1.0, rms, rms], rtol=1e-12)


def test_a_pickled_model_fits_the_same(sleep_model):
    back = pickle.loads(pickle.dumps(sleep_model))
    theta = np.array([0.9, 0.02, 0.2])
    assert back.objective(theta) == sleep_model.objective(theta)
    assert back.fit().objective == sleep_model.fit().objective


def test_a_pickled_streamed_result_keeps_working(fits):
    hsb = fits.data("hsb")
    s = mm.lmer("mAch ~ ses + (ses | school)", [hsb.iloc[:3000], hsb.iloc[3000:]])
    back = pickle.loads(pickle.dumps(s))
    pd_ct = back.coef_table()
    np.testing.assert_allclose(pd_ct["df"], s.coef_table()["df"], rtol=1e-9)
    np.testing.assert_allclose(back.ranef_condvar["school"], s.ranef_condvar["school"], rtol=1e-12)
    with pytest.raises(mm.DataError, match="streamed"):
        back.fitted()


def test_block_layout_is_structured(fits):
    m = fits.fit("diameter ~ 1 + (1 | plate) + (1 | sample)", "penicillin")
    layout = m.model.block_layout
    assert [[b.kind for b in row] for row in layout] == [["Diagonal"], ["Dense", "Dense"], ["Dense", "Dense", "Dense"]]
    assert (layout[1][1].nrow, layout[1][1].ncol) == (6, 6)


def test_the_model_says_which_data_it_holds(fits):
    sleep = fits.data("sleepstudy")
    n = len(sleep)
    x = np.column_stack([np.ones(n), sleep["Days"]])
    term = mm.GroupTerm("Subject", sleep["Subject"].cat.codes.to_numpy(), x, ("(Intercept)", "Days"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        arrays = LinearMixedModel.from_arrays(sleep["Reaction"].to_numpy(), x, [term])
    assert arrays.data.rows("test").nobs == n
    with pytest.raises(mm.DataError, match="type III tests needs a model fitted from a formula"):
        arrays.data.frame("type III tests")


def test_results_are_freed_once_unreferenced(fits):
    """The cache of a fit's inference machinery holds the fit weakly: a result and its model go
    when the last reference does, after its tests have been computed."""
    import gc
    import weakref

    m = mm.lmer(SLEEP, fits.data("sleepstudy"))
    m.coef_table()
    m.summary()
    ref, model_ref = weakref.ref(m), weakref.ref(m.model)
    del m
    gc.collect()
    assert ref() is None
    assert model_ref() is None


def test_a_models_cross_products_are_final(sleep_model):
    cp = sleep_model.cross_products
    assert cp.frozen
    with pytest.raises(mm.CoreError, match="final"):
        cp.add(cp)


def test_start_must_be_finite(fits):
    with pytest.raises(ValueError, match=r"finite.*Subject\.\(Intercept\)"):
        mm.lmer(SLEEP, fits.data("sleepstudy"), start=[np.nan, 0.0, 1.0])


def test_warnings_point_at_the_callers_line(fits):
    sleep = fits.data("sleepstudy")
    with pytest.warns(mm.MixedModelsWarning, match="dropping 1 column") as record:
        mm.lmer("Reaction ~ Days + D2 + (1 | Subject)", sleep.assign(D2=2 * sleep["Days"]))
    assert record[0].filename == __file__
