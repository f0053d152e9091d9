"""The lecture's own code on High School and Beyond in its classic naming (issue 15, item 6):
``mm.datasets.load("hsb_classic")`` and the two formulas as courses write them, against lme4 1.1-31
(hsb_classic/hsb_classic.json, written by make_hsb_classic.R in that folder; the tests never run R).

As in test_lme4.py: at lme4's theta everything that follows from theta equals lme4's to 1e-8 or so
(the engine and the bookkeeping); at our optimum the criterion is lme4's or below it, and the
estimates agree with the optimum lme4's default approaches (``tight_refit``, which lme4's own
default meets for three of the four fits) to 1e-6 relative (fixed effects, sigma) and 1e-4 (theta).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mixedmodels as mm

REF = json.loads((Path(__file__).parent / "hsb_classic" / "hsb_classic.json").read_text())
FITS = REF["fits"]


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return mm.datasets.load("hsb_classic")


_CACHE: dict = {}


def _fit(data, key):
    if key not in _CACHE:
        ref = FITS[key]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", mm.SingularFitWarning)
            _CACHE[key] = mm.lmer(ref["formula"], data, reml=ref["REML"])
    return _CACHE[key]


def test_the_bundled_data_is_the_lecture_version(data):
    assert data.shape == (7185, 11)
    assert data["id"].nunique() == 160
    assert isinstance(data["id"].dtype, pd.CategoricalDtype)
    assert list(data["id"].cat.categories) == sorted(data["id"].cat.categories)
    for c in ("female", "minority", "sector", "himinty"):
        assert set(data[c].unique()) == {0, 1}
    # the same students as hsb (mlmRev::Hsb82), in the same order
    hsb = mm.datasets.load("hsb")
    np.testing.assert_array_equal(data["mathach"], hsb["mAch"])
    np.testing.assert_array_equal(data["ses"], hsb["ses"])
    assert "hsb_classic" in mm.datasets.names()
    assert "mathach" in mm.datasets.describe("hsb_classic")


@pytest.mark.parametrize("key", sorted(FITS))
def test_at_lme4s_theta_everything_is_lme4s(data, key):
    ref = FITS[key]
    m = _fit(data, key)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mm.MixedModelsWarning)
        r = mm.LmerResult.of(m.model.with_reml(ref["REML"]).fit_at(np.array(list(ref["theta"].values()))))
    assert r.objective == pytest.approx(ref["objective"], rel=1e-11)
    assert r.loglik == pytest.approx(ref["logLik"], rel=1e-11)
    assert list(r.fixef.index) == list(ref["fixef"])
    np.testing.assert_allclose(r.fixef, list(ref["fixef"].values()), rtol=1e-9)
    np.testing.assert_allclose(r.fixef_se, list(ref["fixef_se"].values()), rtol=1e-8)
    np.testing.assert_allclose(r.vcov.to_numpy(), ref["vcov"], rtol=1e-7, atol=1e-12)
    assert r.sigma == pytest.approx(ref["sigma"], rel=1e-10)
    np.testing.assert_allclose(r.var_corr["sdcor"], ref["varcorr"]["sdcor"], rtol=1e-7)
    re = r.ranef["id"]
    assert list(re.index) == ref["ranef"]["levels"]
    np.testing.assert_allclose(re["(Intercept)"], ref["ranef"]["intercept"], rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(re["ses"], ref["ranef"]["ses"], rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(r.ranef_condvar["id"]["ses"], ref["ranef"]["condvar_ses"], rtol=1e-6)
    np.testing.assert_allclose(r.fitted(), ref["fitted"], rtol=1e-10)


def _at(m, theta, reml):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mm.MixedModelsWarning)
        return mm.LmerResult.of(m.model.with_reml(reml).fit_at(np.asarray(theta, dtype=float)))


@pytest.mark.parametrize("key", sorted(FITS))
def test_our_optimum_is_lme4s(data, key):
    ref = FITS[key]
    m = _fit(data, key)
    best = ref["tight_refit"]
    assert m.nobs == ref["nobs"]
    assert m.ngroups == ref["ngrps"]
    assert m.objective <= ref["objective"] + 1e-6  # lme4's default or better
    assert m.objective == pytest.approx(best["objective"], abs=1e-6)
    assert list(m.fixef.index) == list(ref["fixef"])
    np.testing.assert_allclose(m.fixef, best["fixef"], rtol=1e-6)
    assert m.sigma == pytest.approx(best["sigma"], rel=1e-6)
    np.testing.assert_allclose(m.theta, best["theta"], rtol=1e-4, atol=1e-5)
    # lme4's default display: within 1e-6 relative, widened by lme4's own distance from the optimum
    # (each quantity at lme4's theta and at the tight refit's, from our engine)
    a, b = _at(m, list(ref["theta"].values()), ref["REML"]), _at(m, best["theta"], ref["REML"])
    for ours, expected, at_a, at_b, rtol in [
        (m.fixef, list(ref["fixef"].values()), a.fixef, b.fixef, 1e-6),
        (m.fixef_se, list(ref["fixef_se"].values()), a.fixef_se, b.fixef_se, 1e-6),
        (m.var_corr["sdcor"], ref["varcorr"]["sdcor"], a.var_corr["sdcor"], b.var_corr["sdcor"], 1e-4),
    ]:
        slack = 2 * np.abs(at_a.to_numpy() - at_b.to_numpy())
        diff = np.abs(np.asarray(ours) - np.asarray(expected))
        assert np.all(diff <= rtol * np.abs(expected) + slack), (list(ours), expected, list(slack))


def test_the_lectures_display(data):
    """What the course shows: 12.67 / 2.39 with SDs 2.20 / 0.64, correlation -0.11 and residual SD
    6.07; then 11.75, 2.96, 2.13, -1.31 with the singular correlation 1.00."""
    m = _fit(data, "slope.REML")
    assert m.fixef.round(2).tolist() == [12.67, 2.39]
    assert m.var_corr["sdcor"].round(2).tolist() == [2.20, 0.64, -0.11, 6.07]
    with pytest.warns(mm.SingularFitWarning):
        m2 = mm.lmer("mathach ~ 1 + ses*sector + (1 + ses | id)", data)
    assert list(m2.fixef.index) == ["(Intercept)", "ses", "sector", "ses:sector"]
    assert m2.fixef.round(2).tolist() == [11.75, 2.96, 2.13, -1.31]
    assert round(float(m2.var_corr["sdcor"].iloc[2]), 2) == 1.00
    assert "1.00" in str(m2)
