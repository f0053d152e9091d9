"""Weighted and offset lmer against lme4 1.1-31 (tests/reference/glmm, the ``lmm_*`` cases): prior
weights scale each row's residual variance (sigma^2 / w_i) and add sum(log w) / 2 to the
log-likelihood; an offset in the formula or as an argument is subtracted from the response. Our
optimum must be lme4's tight refit's (criterion within 1e-8 relative or below; theta, beta, sigma
within 1e-5); lme4's default fit stops up to 1e-5 short of it (SEs within 1e-4 of lme4's default)."""

from __future__ import annotations

import numpy as np
import pytest

import mixedmodels as mm
from tests.reference.glmm_cases import case_ids, data, lmer_fit, reference, values

CASES = case_ids("lmer")


def test_every_case_is_here():
    assert len(CASES) == 10


@pytest.mark.parametrize("case", CASES)
def test_criterion_and_estimates(case):
    m, ref = lmer_fit(case), reference(case)
    tight = ref["tight_refit"]
    assert m.objective <= tight["objective_best"] + 1e-8 * abs(ref["objective"])
    assert m.objective == pytest.approx(ref["objective"], rel=1e-8)
    np.testing.assert_allclose(m.fixef.to_numpy(), values(tight["fixef"]), rtol=1e-5)
    np.testing.assert_allclose(m.fixef_se.to_numpy(), values(ref["fixef_se"]), rtol=1e-4)
    np.testing.assert_allclose(m.theta, values(tight["theta"]), rtol=1e-5, atol=1e-6)
    assert m.sigma == pytest.approx(tight["sigma"], rel=1e-5)
    assert m.loglik == pytest.approx(ref["logLik"], rel=1e-8)


@pytest.mark.parametrize("case", CASES)
def test_fitted_and_predictions(case):
    m, ref = lmer_fit(case), reference(case)
    expected = values(ref["fitted"])  # lme4's default theta is up to 1e-5 off the optimum
    np.testing.assert_allclose(m.fitted().to_numpy(), expected, atol=1e-4 * np.abs(expected).max())
    new = data(ref).head(10)
    # lme4 1.1-31 evaluates the formula's offset() terms in newdata but not an offset= argument
    np.testing.assert_allclose(
        m.predict(new, include_re=False).to_numpy(), values(ref["predict_first10_re_form_NA"]), rtol=1e-5
    )


@pytest.mark.parametrize("case", ["lmm_sim_weights_slope.REML", "lmm_sim_offset_arg.ML"])
def test_streamed_and_dask_fits_take_weight_and_offset_columns(case):
    ref = reference(case)
    d = data(ref)
    kw = {"weights": ref["weights"]} if ref["weights"] else {"offset": ref["offset"]}
    chunks = [d.iloc[: len(d) // 3], d.iloc[len(d) // 3 :]]
    m = mm.lmer(ref["formula"], chunks, reml=ref["REML"], **kw)
    assert m.objective == pytest.approx(lmer_fit(case).objective, rel=1e-12)
    np.testing.assert_allclose(m.fixef.to_numpy(), lmer_fit(case).fixef.to_numpy(), rtol=1e-9)
    dd = pytest.importorskip("dask.dataframe")
    m = mm.lmer(ref["formula"], dd.from_pandas(d, npartitions=3), reml=ref["REML"], **kw)
    assert m.objective == pytest.approx(lmer_fit(case).objective, rel=1e-12)


def test_streamed_weights_are_a_column_name():
    ref = reference("lmm_sim_weights_slope.REML")
    d = data(ref)
    with pytest.raises(mm.ArgumentError, match="column's name"):
        mm.lmer(ref["formula"], [d], weights=d["w"].to_numpy())
