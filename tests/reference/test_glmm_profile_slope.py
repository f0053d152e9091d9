"""Profile intervals of a glmer fit with a correlated random slope against lme4 1.1-31's
``confint(m, method = "profile")`` (reference/glmm_profile/make_profile_slope.R: a simulated Poisson
``y ~ x + (1 + x | g)``, 60 groups of 15). lme4 interpolates its profile with splines and stops its
PIRLS early, so agreement is to ~1e-4 (measured: 1.3e-4 at most, the intercept's upper end), the
tolerance of the scalar case in test_glmer.py."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

import mixedmodels as mm

HERE = Path(__file__).resolve().parent / "glmm_profile"


def test_profile_intervals_of_a_correlated_slope_are_lme4s():
    ref = json.loads((HERE / "pois_slope_profile.json").read_text())
    d = pd.read_csv(HERE / "sim_pois_slope.csv", dtype={"g": str})
    (formula,), (family,), (loglik,) = ref["formula"], ref["family"], ref["logLik"]  # jsonlite's vectors
    m = mm.glmer(formula, d, family=family)
    assert m.loglik >= loglik - 1e-6 * abs(loglik)
    ci = m.confint("profile")
    assert list(ci.index) == ref["rows"]
    np.testing.assert_allclose(ci.iloc[:, 0].to_numpy(), ref["lower"], atol=2e-4)
    np.testing.assert_allclose(ci.iloc[:, 1].to_numpy(), ref["upper"], atol=2e-4)
    # the estimates (on the sd/cor scale) lie inside their intervals
    est = np.concatenate([m.structure.theta.to_sdcor(m.theta, 1.0)[:-1], m.beta])
    assert np.all(ci.iloc[:, 0].to_numpy() < est)
    assert np.all(est < ci.iloc[:, 1].to_numpy())
