"""glmer on random-effects columns of extreme scale (`GeneralizedLinearMixedModel._unit_scale`).

A random slope on a covariate in other units is the same model: the log-likelihood, the fitted
means and the convergence verdict must not change, and theta, beta and the conditional modes of the
slope scale by 1/k. Before glmer fitted on unit-scale columns, Poisson and binary slopes on x * 1e3
or 1e4 ended unconverged (x * 1e4 at a log-likelihood 0.32 lower), and the binary slope on x * 1e-4
at a log-likelihood 0.61 lower, reported unconverged.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mixedmodels as mm

REFERENCE = Path(__file__).parent / "reference" / "glmm_unit_scale"


def _lme4() -> dict[str, tuple[float, list[float]]]:
    """lme4's log-likelihood and standard errors per model (reference/glmm_unit_scale: scale.R's output)."""
    out = {}
    for line in (REFERENCE / "lme4_output.txt").read_text().splitlines():
        if line.startswith(("poisson", "binomial")):
            label, numbers = line.split(")", 1)
            values = [float(v) for v in numbers.split()]
            out[label + ")"] = (values[0], values[1:])
    return out


def _counts() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    g = np.repeat(np.arange(30), 10)
    x = rng.normal(size=g.size)
    b0, b1 = rng.normal(0, 0.5, 30), rng.normal(0, 0.3, 30)
    cnt = rng.poisson(np.exp(0.5 + 0.4 * x + b0[g] + b1[g] * x))
    return pd.DataFrame({"cnt": cnt, "bin": (cnt > 1).astype(int), "x": x, "g": [f"g{i}" for i in g]})


def _fit(d: pd.DataFrame, response: str, family: str, k: float) -> mm.GlmerResult:
    d = d.assign(xs=d.x * k)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # neither unconverged nor singular
        return mm.glmer(f"{response} ~ xs + (1 + xs | g)", d, family=family)


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return _counts()


@pytest.mark.parametrize(("response", "family"), [("cnt", "poisson"), ("bin", "binomial")])
@pytest.mark.parametrize("k", [1e-4, 1e-2 / 3, 1e3, 1e4, 1e6])
def test_slope_in_other_units_is_the_same_fit(data: pd.DataFrame, response: str, family: str, k: float) -> None:
    ref = _fit(data, response, family, 1.0)
    m = _fit(data, response, family, k)
    assert m.converged
    assert not m.is_singular
    assert m.loglik == pytest.approx(ref.loglik, rel=1e-9, abs=1e-7)
    # theta = (intercept SD, its covariance with the slope, the slope's remaining SD): rows 2 and 3 scale by 1/k
    # two fits of one model on other columns, each to its optimiser's tolerance: theta within 8e-5 relative,
    # the conditional modes of the slope within 6e-6 absolute (some are near 0), measured on these designs
    np.testing.assert_allclose(m.theta * np.array([1.0, k, k]), ref.theta, rtol=1e-4, atol=2e-6)
    np.testing.assert_allclose(m.fixef.to_numpy() * np.array([1.0, k]), ref.fixef.to_numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(m.fitted().to_numpy(), ref.fitted().to_numpy(), rtol=1e-4, atol=1e-5)
    slope_k = m.ranef["g"]["xs"].to_numpy() * k
    np.testing.assert_allclose(slope_k, ref.ranef["g"]["xs"].to_numpy(), rtol=1e-4, atol=1e-5)


def test_start_is_given_in_the_data_units(data: pd.DataFrame) -> None:
    ref = _fit(data, "cnt", "poisson", 1.0)
    d = data.assign(xs=data.x * 1e4)
    m = mm.glmer("cnt ~ xs + (1 + xs | g)", d, family="poisson", start=ref.theta / np.array([1.0, 1e4, 1e4]))
    assert m.converged
    assert m.loglik == pytest.approx(ref.loglik, rel=1e-9)


def test_profile_interval_of_a_slope_scales(data: pd.DataFrame) -> None:
    ref = _fit(data, "cnt", "poisson", 1.0)
    m = _fit(data, "cnt", "poisson", 1e3)
    ci_ref = ref.confint(method="profile")
    ci = m.confint(method="profile")
    # the slope's fixed effect and its SD (.sig03) move by 1/k; the intercept's SD does not
    np.testing.assert_allclose(ci.loc["xs"].to_numpy() * 1e3, ci_ref.loc["xs"].to_numpy(), rtol=1e-5)
    np.testing.assert_allclose(ci.loc[".sig01"].to_numpy(), ci_ref.loc[".sig01"].to_numpy(), rtol=1e-5)
    np.testing.assert_allclose(ci.loc[".sig03"].to_numpy() * 1e3, ci_ref.loc[".sig03"].to_numpy(), rtol=1e-5)


@pytest.mark.parametrize("offset", [300.0, -800.0, 1e4])
def test_constant_offset_moves_only_the_intercept(offset: float) -> None:
    # the derivative check steps each beta by 1e-3 of its standard error around the estimate: relative
    # to beta / se, an intercept at -300 had been stepped by standard errors and the check failed
    rng = np.random.default_rng(5)
    g = np.repeat(np.arange(20), 6)
    x = rng.normal(size=g.size)
    y = rng.poisson(np.exp(0.3 + 0.5 * x + rng.normal(0, 0.5, 20)[g]))
    d = pd.DataFrame({"y": y, "x": x, "g": g})
    ref = mm.glmer("y ~ x + (1 | g)", d, family="poisson")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = mm.glmer("y ~ x + offset(o) + (1 | g)", d.assign(o=offset), family="poisson")
    assert m.converged
    assert m.loglik == pytest.approx(ref.loglik, rel=1e-12)
    assert m.fixef["(Intercept)"] == pytest.approx(ref.fixef["(Intercept)"] - offset, abs=1e-6)
    np.testing.assert_allclose(np.diag(m.vcov), np.diag(ref.vcov), rtol=1e-4)


def test_the_data_is_the_reference_data(data: pd.DataFrame) -> None:
    ref = pd.read_csv(REFERENCE / "counts.csv")
    np.testing.assert_array_equal(ref["cnt"].to_numpy(), data["cnt"].to_numpy())
    np.testing.assert_allclose(ref["x"].to_numpy(), data["x"].to_numpy(), rtol=0, atol=0)


@pytest.mark.parametrize(("response", "family"), [("cnt", "poisson"), ("bin", "binomial")])
@pytest.mark.parametrize("term", ["(1 + x | g)", "(1 | g)"])
def test_unit_scale_fits_are_lme4s(data: pd.DataFrame, response: str, family: str, term: str) -> None:
    loglik, se = _lme4()[f"{family} {term}"]
    m = mm.glmer(f"{response} ~ x + {term}", data, family=family)
    assert m.converged
    assert -2e-9 < m.loglik - loglik < 1e-7  # as high as lme4's or higher (lme4 stops 3e-9 to 7e-9 short)
    np.testing.assert_allclose(m.fixef_se.to_numpy(), se, rtol=2e-5)


@pytest.mark.parametrize(("response", "family"), [("cnt", "poisson"), ("bin", "binomial")])
@pytest.mark.parametrize(("a", "b"), [(1.0, 100.0), (1.0, 1000.0), (3.0, 2000.0), (1.0, 1e4), (1e-3, 5.0), (1e3, 1e6)])
@pytest.mark.parametrize("term", ["(1 + xs | g)", "(1 | g)"])
def test_covariate_far_from_zero_is_the_same_fit(
    data: pd.DataFrame, response: str, family: str, a: float, b: float, term: str
) -> None:
    # x + 1000 (a year, say): the slope's fixed and random columns are centred in the optimiser's copy.
    # Before, the binary (1 | g) model on x + 1000 reported converged with the slope's standard error
    # 0.0035 (44 times too small; lme4 0.0106), and the Poisson slope model ended 3.3 below, unconverged
    ref = mm.glmer(f"{response} ~ x + {term.replace('xs', 'x')}", data, family=family)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = mm.glmer(f"{response} ~ xs + {term}", data.assign(xs=data.x * a + b), family=family)
    assert m.converged
    assert m.loglik == pytest.approx(ref.loglik, rel=1e-9, abs=1e-7)
    assert m.fixef["xs"] * a == pytest.approx(ref.fixef["x"], rel=1e-4, abs=1e-6)
    assert m.fixef_se["xs"] * a == pytest.approx(ref.fixef_se["x"], rel=1e-4)
    # the intercept is the line at xs = 0: its value and SE follow from the slope's
    assert m.fixef["(Intercept)"] + m.fixef["xs"] * b == pytest.approx(ref.fixef["(Intercept)"], rel=1e-4, abs=1e-5)
    np.testing.assert_allclose(m.fitted().to_numpy(), ref.fitted().to_numpy(), rtol=1e-4, atol=1e-5)


def test_profile_intervals_with_a_fixed_covariate_far_from_zero():
    # cbpp with the period as a year: the slope's profile interval is the period's, the intercept's is that
    # of the line at year 0; the profile on the centred copy had been handed the data's beta (an SD
    # interval of [-2.9e12, 1.0e14]), found by an adversarial review
    c = mm.datasets.load("cbpp")
    c = c.assign(p=c.period.astype(int), yr=c.period.astype(int) + 2000)
    f = "cbind(incidence, size - incidence) ~ {} + (1 | herd)"
    ref = mm.glmer(f.format("p"), c, family="binomial").confint("profile")
    got = mm.glmer(f.format("yr"), c, family="binomial").confint("profile")
    np.testing.assert_allclose(got.loc[".sig01"].to_numpy(), ref.loc[".sig01"].to_numpy(), rtol=1e-4)
    np.testing.assert_allclose(got.loc["yr"].to_numpy(), ref.loc["p"].to_numpy(), rtol=1e-4)
    lo, hi = got.loc["(Intercept)"].to_numpy()
    assert 600 < lo < 700  # (-0.95 - 2000 * (-0.56)) -/+ 1.96 * 2000 * 0.124
    assert 1550 < hi < 1650


@pytest.mark.parametrize("n_agq", [0, 5])
def test_other_stages_on_a_covariate_far_from_zero(data: pd.DataFrame, n_agq: int) -> None:
    # nAGQ = 0 and quadrature: the copy's beta mapped back, not beta refitted on the data's columns
    ref = mm.glmer("cnt ~ x + (1 | g)", data, family="poisson", nAGQ=n_agq)
    m = mm.glmer("cnt ~ xs + (1 | g)", data.assign(xs=data.x + 1e6), family="poisson", nAGQ=n_agq)
    assert m.loglik == pytest.approx(ref.loglik, rel=1e-10)
    assert m.fixef["xs"] == pytest.approx(ref.fixef["x"], rel=1e-7)
