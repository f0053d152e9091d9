"""Negative binomial GLMMs against lme4 1.1-31's ``glmer.nb`` and MASS's ``negative.binomial``
(reference/glmm_nb/make_glmm_nb.R): grouseticks ``TICKS ~ YEAR + scale(HEIGHT) + (1 | BROOD) +
(1 | LOCATION)`` and a simulated data set (sim_nb.csv, 600 rows, 40 groups, theta 1.7).

Tolerances (the issue's): -2 log-likelihood within 1e-6 relative of lme4's or below it; fixed
effects within 1e-4 relative (of max(|estimate|, SE), as tests/reference/test_glmer.py); the
random effects' theta within 1e-3. Here PIRLS converges, so the reference is lme4's "tight" run
(glmer.nb's steps with tolPwrss = 1e-12, tight bobyqa and optimize() to 1e-9 on log theta);
measured: NB theta 2e-6 relative, RE theta 2.4e-6, fixed effects 2.3e-5, log-likelihood 1.6e-7
(grouseticks, ours lower by that; on sim_nb ours is 1.2e-6 higher). lme4's defaults (log theta to
5e-5, PIRLS stopped early) move its NB theta by 1.2e-5 / 3e-5 relative from the tight run, so the
default fit is compared at 1e-3.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mixedmodels as mm
from mixedmodels import negbin
from mixedmodels.families import NegativeBinomial

HERE = Path(__file__).resolve().parent / "glmm_nb"
REF = json.loads((HERE / "glmm_nb.json").read_text())
CASES = ("grouseticks", "sim_nb")
_FITS: dict[str, mm.GlmerResult] = {}


def _data(case: str) -> pd.DataFrame:
    if case == "grouseticks":
        return mm.datasets.load("grouseticks")
    return pd.read_csv(HERE / "sim_nb.csv", dtype={"g": str})


def _fit(case: str) -> mm.GlmerResult:
    if case not in _FITS:
        _FITS[case] = mm.glmer_nb(REF[case]["formula"], _data(case))
    return _FITS[case]


def _values(d: dict) -> np.ndarray:
    return np.array(list(d.values()), dtype=float)


def test_family_functions_are_mass():
    c = REF["family_checks"]
    fam = NegativeBinomial(c["theta"])
    np.testing.assert_allclose(fam.variance(c["mu"]), c["variance"], rtol=1e-14)
    np.testing.assert_allclose(fam.dev_resids(c["y"], c["mu"], c["wt"]), c["dev_resids"], rtol=1e-12)
    dev = float(fam.dev_resids(c["y"], c["mu"], c["wt"]).sum())
    assert fam.aic(c["y"], None, c["mu"], c["wt"], dev) == pytest.approx(c["aic"], rel=1e-12)
    th, _ = negbin.theta_ml(c["tml_y"], c["tml_mu"])
    assert th == pytest.approx(c["theta_ml"], rel=1e-8)
    th, _ = negbin.theta_ml(c["tml_y"], c["tml_mu"], c["tml_w"], limit=20, eps=1e-8)
    assert th == pytest.approx(c["theta_ml_weighted"], rel=1e-8)


@pytest.mark.parametrize("case", CASES)
def test_against_the_converged_lme4_fit(case):
    m, t = _fit(case), REF[case]["tight"]
    assert m.family.theta == pytest.approx(t["nb_theta"], rel=1e-4)
    assert list(m.structure.theta.names) == list(t["theta"])
    np.testing.assert_allclose(m.theta, _values(t["theta"]), atol=1e-3, rtol=1e-3)  # issue 16: theta to 1e-3
    np.testing.assert_allclose(m.theta, _values(t["theta"]), atol=1e-4)  # measured 2.4e-6
    fx, se = _values(t["fixef"]), _values(t["fixef_se"])
    assert list(m.fixef.index) == list(t["fixef"])
    assert np.all(np.abs(m.fixef.to_numpy() - fx) <= 1e-4 * np.maximum(np.abs(fx), se))
    np.testing.assert_allclose(m.fixef_se.to_numpy(), se, rtol=1e-3)  # both from finite-difference Hessians
    ll = t["logLik"]
    assert -2 * m.loglik <= -2 * ll + 1e-6 * abs(ll)
    assert m.loglik == pytest.approx(ll, rel=1e-6)
    assert m.df == t["logLik_df"]  # lme4 counts the NB theta
    assert m.aic == pytest.approx(t["AIC"], rel=1e-6)
    assert m.df_resid == t["df_resid"]
    assert m.sigma == 1.0
    np.testing.assert_allclose(m.fitted().to_numpy()[:10], REF[case]["fitted_first10"], rtol=1e-4)
    assert m.converged


@pytest.mark.parametrize("case", CASES)
def test_against_lme4s_default_fit(case):
    m, d = _fit(case), REF[case]["default"]
    assert d["family"].startswith("Negative Binomial(")
    # lme4's default stops its search over log theta at tol = 5e-5 and its PIRLS early (the glmm
    # reference README): the converged fit above is the tight comparison, this one its own accuracy
    assert m.family.theta == pytest.approx(d["nb_theta"], rel=1e-3)
    np.testing.assert_allclose(m.theta, _values(d["theta"]), atol=2e-3)
    np.testing.assert_allclose(m.fixef.to_numpy(), _values(d["fixef"]), atol=2e-3)
    assert -2 * m.loglik <= -2 * d["logLik"] + 1e-6 * abs(d["logLik"])


@pytest.mark.parametrize("case", CASES)
def test_a_fit_with_theta_given(case):
    ref = REF[case]["fixed_theta"]
    m = mm.glmer(REF[case]["formula"], _data(case), family=NegativeBinomial(ref["nb_theta"]))
    info = ref["info"]
    assert m.loglik == pytest.approx(info["logLik"], rel=1e-6)
    assert -2 * m.loglik <= -2 * info["logLik"] + 1e-6 * abs(info["logLik"])
    fx, se = _values(info["fixef"]), _values(info["fixef_se"])
    assert np.all(np.abs(m.fixef.to_numpy() - fx) <= 1e-4 * np.maximum(np.abs(fx), se))
    assert m.df == info["logLik_df"]
