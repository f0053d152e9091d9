"""Post-estimation of glmer fits without R: dense checks of the prediction SEs, the scales, the
errors (tests/reference/test_glmm_postestimation.py compares with R)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import mixedmodels as mm
from mixedmodels.exceptions import ArgumentError, MixedModelsError


@pytest.fixture(scope="module")
def small() -> mm.GlmerResult:
    rng = np.random.default_rng(7)
    n_g, per = 12, 8
    g = np.repeat([f"g{i:02d}" for i in range(n_g)], per)
    x = rng.normal(size=n_g * per)
    b0 = rng.normal(scale=0.8, size=n_g)
    b1 = rng.normal(scale=0.4, size=n_g)
    idx = np.repeat(np.arange(n_g), per)
    eta = -0.3 + 0.9 * x + b0[idx] + b1[idx] * x
    y = rng.binomial(1, 1 / (1 + np.exp(-eta)))
    d = pd.DataFrame({"y": y, "x": x, "g": g})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mm.MixedModelsWarning)
        return mm.glmer("y ~ x + (x | g)", d, family="binomial")


def _dense_joint(m: mm.GlmerResult) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """[Z Lambda, X], and sigma^2 M^-1 of the PIRLS system, formed densely."""
    rows = m.glmm.rows
    s = m.structure
    n = rows.nobs
    blocks = []
    for fi, f in enumerate(s.factors):
        t = s.theta.factor_t(m.theta, fi)
        zl = np.zeros((n, f.nlev * f.k))
        v = rows.z[fi] @ t
        for i in range(n):
            c = int(rows.codes[fi][i])
            zl[i, c * f.k : (c + 1) * f.k] = v[i]
        blocks.append(zl)
    zl = np.hstack(blocks)
    a = np.hstack([zl, rows.x])
    eta = m.glmm_fit.pirls.eta
    mu = m.family.link.linkinv(eta)
    w = m.glmm.prior_weights * m.family.link.mu_eta(eta) ** 2 / m.family.variance(mu)
    mat = a.T @ (w[:, None] * a)
    q = zl.shape[1]
    mat[:q, :q] += np.eye(q)
    return a, m.sigma**2 * np.linalg.inv(mat), w


def test_conditional_se_is_the_dense_joint_inverse(small):
    a, minv, _ = _dense_joint(small)
    se = small.predict(se_fit=True)["se_fit"].to_numpy()
    np.testing.assert_allclose(se, np.sqrt(np.einsum("ij,jk,ik->i", a, minv, a)), rtol=1e-9)
    p = small.structure.p
    np.testing.assert_allclose(minv[-p:, -p:], small.vcov_rx.to_numpy(), rtol=1e-6)


def test_population_se_uses_vcov(small):
    x = small.glmm.rows.x
    se = small.predict(include_re=False, se_fit=True)["se_fit"].to_numpy()
    np.testing.assert_allclose(se, np.sqrt(np.einsum("ij,jk,ik->i", x, small.vcov_array, x)), rtol=1e-12)


def test_response_scale_is_delta_method_and_back_transformed_interval(small):
    link = small.predict(se_fit=True, interval="confidence", level=0.9)
    resp = small.predict(type="response", se_fit=True, interval="confidence", level=0.9)
    eta = link["fit"].to_numpy()
    inv, d = small.family.link.linkinv, small.family.link.mu_eta
    np.testing.assert_allclose(resp["fit"], inv(eta), rtol=1e-14)
    np.testing.assert_allclose(resp["se_fit"], d(eta) * link["se_fit"].to_numpy(), rtol=1e-14)
    np.testing.assert_allclose(resp["lower"], inv(link["lower"].to_numpy()), rtol=1e-14)
    np.testing.assert_allclose(resp["upper"], inv(link["upper"].to_numpy()), rtol=1e-14)
    assert (
        (resp["lower"] > 0) & (resp["upper"] < 1) & (resp["lower"] < resp["fit"]) & (resp["fit"] < resp["upper"])
    ).all()
    z = (link["upper"] - link["fit"]) / link["se_fit"]
    np.testing.assert_allclose(z, 1.6448536269514722, rtol=1e-12)


def test_new_level_adds_its_variance(small):
    nd = pd.DataFrame({"x": [0.5, 0.5], "g": ["g00", "new"]})
    out = small.predict(nd, se_fit=True)
    pop = small.predict(nd, include_re=False, se_fit=True)
    cov = small.cov_re["g"].to_numpy()
    z = np.array([1.0, 0.5])
    # a new level: fixed part's SE from the joint block (vcov_rx) plus z' Sigma z
    xrow = np.array([1.0, 0.5])
    want = xrow @ small.vcov_rx.to_numpy() @ xrow + z @ cov @ z
    assert out["se_fit"].iloc[1] ** 2 == pytest.approx(want, rel=1e-9)
    assert out["fit"].iloc[1] == pytest.approx(pop["fit"].iloc[1])


def test_prediction_interval_and_bad_arguments_are_refused(small):
    with pytest.raises(MixedModelsError, match="prediction intervals are for linear mixed models"):
        small.predict(interval="prediction")
    with pytest.raises(ArgumentError, match="interval must be"):
        small.predict(interval="wide")
    with pytest.raises(ArgumentError, match="type must be"):
        small.predict(type="prob", se_fit=True)
    with pytest.raises(ArgumentError, match="level"):
        small.predict(se_fit=True, level=2)


def test_profile_interval_of_the_only_parameter():
    """With no fixed effects and one theta, the profile has nothing else to optimise: the interval
    is where the Laplace deviance rises by the chi-square quantile (lme4 1.1-31 gives NA here)."""
    from scipy.optimize import brentq
    from scipy.stats import chi2

    r = mm.glmer("TICKS ~ 0 + (1 | LOCATION)", mm.datasets.load("grouseticks"), "poisson")
    model, theta = r.glmm_fit.model, float(r.glmm_fit.theta[0])

    def rise(t: float) -> float:
        return model.laplace(np.array([t]), np.zeros(0), tol=1e-12) - r.glmm_fit.objective - chi2.ppf(0.95, 1)

    ci = r.confint("profile")
    assert ci.shape == (1, 2)
    np.testing.assert_allclose(ci.to_numpy()[0], [brentq(rise, 0.5, theta), brentq(rise, theta, 5.0)], rtol=1e-5)
