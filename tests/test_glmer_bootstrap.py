"""The parametric bootstrap of glmer fits (lme4's ``bootMer`` and ``confint(method = "boot")``):
refits compared with lme4's refits of the same simulated responses, exact reproducibility with a
seed, failed refits counted and reported, and the intervals' sanity on cbpp."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mixedmodels as mm
from mixedmodels import confint

HERE = Path(__file__).resolve().parent / "reference" / "glmm_boot"
CBPP = "cbind(incidence, size - incidence) ~ period + (1 | herd)"
NAMES = [".sig01", "(Intercept)", "period2", "period3", "period4"]


def _reference_rows(refits: list[dict]) -> np.ndarray:
    return np.array([[r["sig01"], *r["fixef"].values()] for r in refits])


def test_refits_match_lme4_refits_of_the_same_responses(cbpp_fit, cbpp):
    """bootMer's draws come from R's RNG, so lme4 refitted the responses stored in
    cbpp_simulated_incidence.csv (make_glmm_boot_reference.R). Against its refits with the inner
    PIRLS converged: 1e-4 absolute (the reference README's tolerance for converged refits; measured
    8.6e-6); against refit() with lme4's default tolPwrss: 2e-3 (the README's for default fits;
    measured 1.0e-4)."""
    ref = json.loads((HERE / "glmm_boot_refits.json").read_text())
    assert ref["cbpp_incidence"] == cbpp["incidence"].tolist()
    k = pd.read_csv(HERE / "cbpp_simulated_incidence.csv").to_numpy()
    ys = k / cbpp["size"].to_numpy()[:, None]
    draws = confint.glmm_bootstrap(cbpp_fit, ys)
    assert draws.columns.tolist() == NAMES
    assert draws.attrs["n_failed"] == 0
    assert draws.attrs["n_not_converged"] == 0
    np.testing.assert_allclose(draws.to_numpy(), _reference_rows(ref["refit_tight"]), atol=1e-4)
    np.testing.assert_allclose(draws.to_numpy(), _reference_rows(ref["refit_default"]), atol=2e-3)
    # the stored responses are what simulate gives with the stored seed
    np.testing.assert_array_equal(cbpp_fit.simulate(nsim=20, seed=20261202).to_numpy(), ys)


def test_the_same_seed_gives_the_same_draws(cbpp_fit):
    a = cbpp_fit.bootstrap(nsim=8, seed=11)
    b = cbpp_fit.bootstrap(nsim=8, seed=11)
    pd.testing.assert_frame_equal(a, b)
    c = cbpp_fit.bootstrap(nsim=8, seed=12)
    assert not np.allclose(a.to_numpy(), c.to_numpy())
    parallel = cbpp_fit.bootstrap(nsim=8, seed=11, n_jobs=2)
    np.testing.assert_allclose(parallel.to_numpy(), a.to_numpy(), rtol=1e-12, atol=1e-14)
    ci = cbpp_fit.confint("boot", nsim=8, seed=11)
    np.testing.assert_allclose(ci.to_numpy(), a.quantile([0.025, 0.975]).T.to_numpy())


def test_intervals_bracket_the_estimates_and_agree_with_profile_and_wald(cbpp_fit):
    ci = cbpp_fit.confint("boot", nsim=300, seed=2)
    assert ci.index.tolist() == NAMES
    assert ci.attrs["n_failed"] == 0
    assert ci.attrs["n_used"] == 300
    est = np.concatenate([cbpp_fit.theta, cbpp_fit.beta])
    assert np.all(ci.iloc[:, 0].to_numpy() < est)
    assert np.all(est < ci.iloc[:, 1].to_numpy())
    wald = cbpp_fit.confint()
    prof = cbpp_fit.confint("profile")
    # fixed effects: the percentile intervals' ends are within a quarter of the Wald interval's
    # width of Wald's and the profile's (300 draws: the ends' Monte Carlo SD is ~0.05 here)
    width = (wald.iloc[:, 1] - wald.iloc[:, 0]).to_numpy()
    for other in (wald, prof.loc[wald.index]):
        assert np.all(np.abs(ci.loc[wald.index].to_numpy() - other.to_numpy()) < 0.25 * width[:, None])
    # the SD: the upper ends agree roughly; the lower end goes to 0 in the bootstrap (refits on
    # the boundary), below the profile's
    assert abs(ci.loc[".sig01"].iloc[1] - prof.loc[".sig01"].iloc[1]) < 0.25
    assert ci.loc[".sig01"].iloc[0] <= prof.loc[".sig01"].iloc[0]
    draws = cbpp_fit.bootstrap(nsim=300, seed=2)
    # the draws centre near the estimates (the bootstrap bias of the fixed effects is small)
    assert np.all(np.abs(draws.mean().to_numpy()[1:] - cbpp_fit.beta) < 0.35 * draws.std().to_numpy()[1:])


def test_failed_refits_are_counted_reported_and_left_out(cbpp_fit, cbpp):
    ys = cbpp_fit.simulate(nsim=6, seed=5).to_numpy().copy()
    ys[0, 2] = 1.5  # a proportion above 1: the refit's response check fails
    ys[:, 4] = np.nan
    with pytest.warns(mm.ConvergenceWarning, match=r"some bootstrap refits failed \(2/6"):
        draws = confint.glmm_bootstrap(cbpp_fit, ys)
    assert draws.attrs["n_failed"] == 2
    assert sorted(draws.attrs["failures"]) == [2, 4]
    assert "DataError" in draws.attrs["failures"][2]
    assert draws.iloc[[2, 4]].isna().all().all()
    assert draws.drop(index=[2, 4]).notna().all().all()
    ci = confint.boot_percentiles(draws, 0.9)
    assert ci.attrs["n_used"] == 4
    assert ci.attrs["n_failed"] == 2
    np.testing.assert_allclose(ci.to_numpy(), draws.dropna().quantile([0.05, 0.95]).T.to_numpy())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        nothing = confint.glmm_bootstrap(cbpp_fit, np.full_like(ys, np.nan))
    with pytest.raises(mm.MixedModelsError, match="every bootstrap refit failed"):
        confint.boot_percentiles(nothing, 0.95)


def test_a_dispersion_family_has_sigma():
    rng = np.random.default_rng(7)
    g = np.repeat(np.arange(25), 8)
    x = rng.standard_normal(g.shape[0])
    mu = np.exp(0.5 + 0.3 * x + 0.4 * rng.standard_normal(25)[g])
    d = pd.DataFrame({"y": rng.gamma(4.0, mu / 4.0), "x": x, "g": g.astype(str)})
    m = mm.glmer("y ~ x + (1 | g)", d, family=mm.families.Gamma(link="log"))
    draws = m.bootstrap(nsim=4, seed=1)
    assert draws.columns.tolist() == [".sig01", ".sigma", "(Intercept)", "x"]
    assert draws.notna().all().all()
    # .sig01 is the random effects' SD on the scale of the data (theta * sigma, as lme4's VarCorr)
    assert np.all(draws[".sig01"] >= 0)
    assert np.all(draws[".sigma"] > 0)


def test_a_model_with_a_correlated_term(cbpp):
    rng = np.random.default_rng(9)
    g = np.repeat(np.arange(40), 15)
    x = rng.standard_normal(g.shape[0])
    b0, b1 = rng.standard_normal(40) * 0.8, rng.standard_normal(40) * 0.5
    y = rng.poisson(np.exp(0.3 + 0.5 * x + b0[g] + b1[g] * x))
    m = mm.glmer("y ~ x + (1 + x | g)", pd.DataFrame({"y": y, "x": x, "g": g.astype(str)}), family="poisson")
    ci = m.confint("boot", nsim=10, seed=3)
    assert ci.index.tolist() == [".sig01", ".sig02", ".sig03", "(Intercept)", "x"]
    assert -1 <= ci.loc[".sig02"].iloc[0] <= ci.loc[".sig02"].iloc[1] <= 1


def test_bootstrap_argument_errors(cbpp_fit):
    with pytest.raises(mm.ArgumentError, match="nsim"):
        cbpp_fit.bootstrap(nsim=0)
    with pytest.raises(mm.ArgumentError, match="n_jobs"):
        cbpp_fit.bootstrap(nsim=2, n_jobs=0)
    with pytest.raises(mm.ArgumentError, match="unknown keyword"):
        cbpp_fit.confint("boot", nboot=3)
    with pytest.raises(mm.ArgumentError, match="apply to method='boot' only"):
        cbpp_fit.confint("wald", nsim=3)
    with pytest.raises(mm.ArgumentError, match="'wald', 'profile' or 'boot'"):
        cbpp_fit.confint("bca")
    with pytest.raises(mm.MixedModelsError, match="GlmerResult.bootstrap"):
        confint.bootstrap(cbpp_fit, nsim=2)
