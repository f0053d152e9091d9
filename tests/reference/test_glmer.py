"""glmer against lme4 1.1-31 (tests/reference/glmm; ../shared/reference/glmm/README.md).

PIRLS here is converged at every evaluation, so the optimum is compared with lme4's refits whose
inner iteration was converged too (`tight_refit_converged_pirls`): lme4's default ``tolPwrss``
leaves its Laplace deviance up to 8e-3 above the converged one (README, item 1). Tolerances:

* -2 log-likelihood: at or below lme4's converged optimum (+1e-6 relative);
* theta within 1e-3 relative (absolute below 1e-3), fixed effects within 1e-4 of max(|estimate|, SE);
* standard errors within 5e-3 relative: lme4's own come from a finite-difference Hessian and carry
  its error (README, item 4: refit-to-refit differences up to 4.5e-4, and 2.2e-3 between lme4's
  and the converged Hessian on sim_poisson_offset_*, where glmmTMB agrees with ours);
* at lme4's own estimates (`fit_at`): the R_X standard errors within 2e-4, fixed-part predictions
  within 1e-9, conditional modes, conditional variances, conditional predictions, residuals and
  lme4's deviance within 1e-3 to 2e-3 (all follow lme4's modes, those of its unconverged PIRLS,
  which stops up to 8e-3 of deviance early).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import mixedmodels as mm
from tests.reference.glmm_cases import case_ids, data, glmer_fit, reference, values

CASES = case_ids("glmer")
LAPLACE = CASES


def _tight(case: str) -> dict:
    return reference(case)["tight_refit_converged_pirls"]


@pytest.mark.parametrize("case", LAPLACE)
def test_deviance_at_or_below_lme4_converged_optimum(case):
    m, ref = glmer_fit(case), reference(case)
    best = _tight(case)["objective_best"]
    assert m.objective <= best + 1e-6 * abs(best), (m.objective, best)
    if ref["family"] != "Gamma":  # lme4's Gamma optimum moves up when PIRLS converges (README, item 5)
        assert m.objective <= ref["objective"] + 1e-6 * abs(best)
    assert m.converged
    assert m.sigma == pytest.approx(_tight(case)["sigma"], rel=1e-5)


@pytest.mark.parametrize("case", LAPLACE)
def test_theta_and_fixef(case):
    m, t = glmer_fit(case), _tight(case)
    th = values(t["theta"])
    np.testing.assert_allclose(m.theta, th, rtol=1e-3, atol=1e-3)
    fx, se = values(t["fixef"]), values(t["fixef_se"])
    tol = 1e-4 * np.maximum(np.abs(fx), se)
    if any("nearly unidentifiable" in w for w in reference(case)["fit_warnings"]):
        # lme4 warns that the model is nearly unidentifiable (age next to I(age^2)): the optimum is
        # flat along their combination, and ours (no higher than lme4's) sits up to 1e-3 SE from it
        tol = np.maximum(tol, 2e-3 * se)
    assert np.all(np.abs(m.fixef.to_numpy() - fx) <= tol), (m.fixef.to_numpy(), fx)
    assert list(m.fixef.index) == list(t["fixef"])


@pytest.mark.parametrize("case", LAPLACE)
def test_standard_errors(case):
    m, t = glmer_fit(case), _tight(case)
    np.testing.assert_allclose(m.fixef_se.to_numpy(), values(t["fixef_se"]), rtol=5e-3)


@pytest.mark.parametrize("case", LAPLACE)
def test_counts_and_information_criteria(case):
    m, ref = glmer_fit(case), reference(case)
    assert m.nobs == ref["nobs"]
    assert m.df == ref["logLik_df"]
    assert m.df_resid == ref["df.resid"]
    assert m.ngroups == {k: int(v) for k, v in ref["ngrps"].items()}
    assert m.aic == pytest.approx(-2 * m.loglik + 2 * m.df)
    assert m.bic == pytest.approx(-2 * m.loglik + np.log(m.nobs) * m.df)
    assert m.is_singular == bool(ref["isSingular"])


@pytest.fixture(scope="module")
def at_lme4():
    cache: dict = {}

    def get(case):
        if case not in cache:
            m, ref = glmer_fit(case), reference(case)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", mm.MixedModelsWarning)
                fit = m.glmm.fit_at(values(ref["theta"]), values(ref["fixef"]), n_agq=ref["nAGQ"])
            cache[case] = mm.GlmerResult.of_glmm(fit)
        return cache[case]

    return get


@pytest.mark.parametrize("case", LAPLACE)
def test_rx_standard_errors_at_lme4_estimates(case, at_lme4):
    m, ref = at_lme4(case), reference(case)
    se = np.sqrt(np.diag(m.vcov_rx.to_numpy()))
    # the weights are those of the modes, which lme4 leaves unconverged (tolPwrss): 3e-5 on cbpp
    np.testing.assert_allclose(se, values(ref["fixef_se_RX"]), rtol=2e-4)


@pytest.mark.parametrize("case", LAPLACE)
def test_modes_and_predictions_at_lme4_estimates(case, at_lme4):
    m, ref = at_lme4(case), reference(case)
    for g, r in ref["ranef"].items():
        ours = m.ranef[g]
        assert [str(v) for v in ours.index] == [str(v) for v in r["levels"]]
        assert list(ours.columns) == list(r["terms"])
        for term in r["terms"]:
            expected = values(r["values"][term])
            scale = max(np.abs(expected).max(), 1e-2)
            np.testing.assert_allclose(ours[term].to_numpy(), expected, atol=1e-3 * scale)
            np.testing.assert_allclose(m.ranef_condvar[g][term].to_numpy(), values(r["condvar"][term]), rtol=2e-3)
    new = data(ref).head(10)
    fixed_only = m.predict(new, include_re=False).to_numpy()
    np.testing.assert_allclose(fixed_only, values(ref["predict_first10_re_form_NA_link"]), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(
        m.predict(new, include_re=False, type="response").to_numpy(),
        values(ref["predict_first10_re_form_NA_response"]),
        rtol=1e-9,
    )
    np.testing.assert_allclose(m.predict(new).to_numpy(), values(ref["predict_first10_re_form_NULL_link"]), atol=1e-3)
    if ref.get("fitted_link") is not None:
        np.testing.assert_allclose(m.predict().to_numpy(), values(ref["fitted_link"]), atol=1e-3)
        np.testing.assert_allclose(m.fitted().to_numpy(), values(ref["fitted_response"]), atol=1e-3)


@pytest.mark.parametrize("case", LAPLACE)
def test_residuals_at_lme4_estimates(case, at_lme4):
    m, ref = at_lme4(case), reference(case)
    got = ref["residuals_first20"]
    rows = np.asarray(ref["fitted_first20_rows_1based"], dtype=int) - 1
    for kind in ("deviance", "pearson", "response", "working"):
        ours = m.residuals(type=kind).to_numpy()[rows]
        np.testing.assert_allclose(ours, values(got[kind]), atol=2e-3 * max(1.0, np.abs(values(got[kind])).max()))
    np.testing.assert_allclose(m.deviance, ref["deviance"], rtol=1e-3)


def test_proportion_with_weights_is_cbind():
    a, b = glmer_fit("cbpp_binomial"), glmer_fit("cbpp_proportion_weights")
    np.testing.assert_allclose(a.fixef.to_numpy(), b.fixef.to_numpy(), rtol=1e-10)
    assert a.objective == pytest.approx(b.objective, rel=1e-12)


def test_offset_in_formula_is_offset_argument_but_predict_replays_only_the_formula():
    a, b = glmer_fit("sim_poisson_offset_formula"), glmer_fit("sim_poisson_offset_arg")
    np.testing.assert_allclose(a.fixef.to_numpy(), b.fixef.to_numpy(), rtol=1e-10)
    np.testing.assert_allclose(a.fitted().to_numpy(), b.fitted().to_numpy(), rtol=1e-10)
    new = data(reference("sim_poisson_offset_arg")).head(5)
    diff = a.predict(new, include_re=False).to_numpy() - b.predict(new, include_re=False).to_numpy()
    np.testing.assert_allclose(diff, np.log(new["expo"].to_numpy()), rtol=1e-12)


def test_agq_value_is_without_saturated_term():
    m, ref = glmer_fit("cbpp_binomial_agq25"), reference("cbpp_binomial_agq25")
    assert m.loglik == pytest.approx(ref["logLik"], abs=1e-7)
    assert "Adaptive Gauss-Hermite Quadrature, nAGQ = 25" in str(m.summary())


def test_summary_is_lme4s_layout():
    text = str(glmer_fit("cbpp_binomial").summary())
    for piece in ("Family: binomial  ( logit )", "AIC", "df.resid", "Scaled residuals:", "z value", "Pr(>|z|)"):
        assert piece in text
    assert "Residual" not in text
    v = glmer_fit("cbpp_binomial").var_corr
    assert list(v["grp"]) == ["herd"]
    assert isinstance(v, pd.DataFrame)


def test_profile_intervals_are_lme4s():
    """confint(m, method = "profile") of lme4 1.1-31 (tests/reference/glmm_profile, R script beside):
    lme4 interpolates its profile with splines and stops PIRLS early, so agreement is to ~1e-4."""
    import json
    from pathlib import Path

    ref = json.loads((Path(__file__).parent / "glmm_profile" / "cbpp_profile.json").read_text())
    ci = glmer_fit("cbpp_binomial").confint("profile")
    assert list(ci.index) == [".sig01", "(Intercept)", "period2", "period3", "period4"]
    np.testing.assert_allclose(ci.iloc[:, 0].to_numpy(), ref["lower"], atol=2e-4)
    np.testing.assert_allclose(ci.iloc[:, 1].to_numpy(), ref["upper"], atol=2e-4)
    # (vector-valued terms: tests/reference/test_glmm_profile_slope.py)
    with pytest.raises(mm.ArgumentError, match="without a dispersion"):
        glmer_fit("sim_gamma_log").confint("profile")
