"""Profile intervals of lmer fits with prior weights: the profiled deviance carries the fit's
-sum(log w), so the profile starts at 0 at the estimates (before: every interval collapsed to the
estimate). Variance parameters against lme4 1.1-31 (`profile_weights/`); fixed effects by
invariance, because lme4's own fixed-effect profile intervals are wrong with weights (README there)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mixedmodels as mm
from mixedmodels.confint import Profiler

HERE = Path(__file__).parent / "profile_weights"
FORMULA = "Reaction ~ Days + (Days | Subject)"


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return pd.read_csv(HERE / "sleepstudy_weights.csv")


@pytest.fixture(scope="module")
def reference() -> dict:
    return json.loads((HERE / "profile_weights.json").read_text())


def _fit(data: pd.DataFrame, reml: bool, weights: str | None = "w") -> mm.LmerResult:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return mm.lmer(FORMULA, data, weights=weights, reml=reml)


@pytest.mark.parametrize("reml", [True, False])
def test_variance_parameters_match_lme4(data, reference, reml):
    m = _fit(data, reml)
    ref = reference["REML" if reml else "ML"]
    assert m.objective == pytest.approx(ref["objective"], rel=1e-9)
    ci = m.confint("profile")
    for name, lo, hi in zip(ref["names"][:4], ref["lower"][:4], ref["upper"][:4], strict=True):
        # lme4 reads its ends off a spline through the profile: 1e-3 of max(|value|, 1), as in
        # test_inference's profile test (the correlation's lower end differs by 1.2e-4)
        assert ci.loc[name].iloc[0] == pytest.approx(lo, rel=1e-3, abs=1e-3), name
        assert ci.loc[name].iloc[1] == pytest.approx(hi, rel=1e-3, abs=1e-3), name


def test_the_profile_is_zero_at_the_estimates(data):
    pr = Profiler(_fit(data, False))
    assert pr.dev_sdcor(pr.vhat) == pytest.approx(pr.base, abs=1e-8)
    assert pr.dev_beta(pr.ml.theta, 1, float(pr.beta_hat[1])) == pytest.approx(pr.base, abs=1e-8)


def test_equal_weights_give_the_unweighted_intervals(data):
    # weights all 2: the residual SD is sigma / sqrt(2) per row, the same model otherwise
    plain = _fit(data, True, weights=None).confint("profile")
    doubled = _fit(data.assign(two=2.0), True, weights="two").confint("profile")
    scale = pd.Series(1.0, index=plain.index)
    scale[".sigma"] = 1.0 / np.sqrt(2.0)  # the weighted model's sigma is sqrt(2) times the plain one
    scaled = doubled.mul(scale, axis=0)
    pd.testing.assert_frame_equal(scaled, plain, rtol=1e-6, atol=1e-8)


def test_fixed_effect_intervals_are_near_wald(data):
    m = _fit(data, True)
    prof = m.confint("profile").loc[["(Intercept)", "Days"]]
    wald = m.confint("wald").loc[["(Intercept)", "Days"]]
    width = (wald.iloc[:, 1] - wald.iloc[:, 0]).to_numpy()
    assert np.all(np.abs(prof.to_numpy() - wald.to_numpy()) < 0.05 * width[:, None])
