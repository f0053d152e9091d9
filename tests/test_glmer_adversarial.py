"""Adversarial tests of glmer (issue 16), from a review of commit ab6b902 (re-checked on 637a731).

Each test is small (well under 2 s). Tests marked ``xfail(strict=True)`` record a failure of main at
review time, with lme4 1.1.31's behaviour in the reason; the plain tests lock in behaviour found
right (lme4's numbers quoted were computed with R 4.2 / lme4 1.1.31 on the same data). Where lme4's
own logLik is higher than ours only because lme4 stops PIRLS early (``tolPwrss``), the number quoted
is lme4's with ``glmerControl(tolPwrss = 1e-12)``.
"""

from __future__ import annotations

import pickle
import threading
import warnings

import numpy as np
import pandas as pd
import pytest

import mixedmodels as mm

# ---------------------------------------------------------------------------------------------- data


def _binary_groups() -> pd.DataFrame:
    """Bernoulli data where group 0 is all failures and group 1 all successes."""
    rng = np.random.default_rng(101)
    n = 200
    g = rng.integers(0, 10, n)
    x = rng.normal(size=n).round(4)
    y = rng.binomial(1, 0.4, n).astype(float)
    y[g == 0] = 0.0
    y[g == 1] = 1.0
    return pd.DataFrame({"g": g, "x": x, "y": y})


def _poisson_zero_group() -> pd.DataFrame:
    """Poisson counts where every count of group 3 is 0."""
    rng = np.random.default_rng(102)
    n = 300
    g = rng.integers(0, 15, n)
    x = rng.normal(size=n).round(4)
    b = rng.normal(0, 0.7, 15)
    y = rng.poisson(np.exp(0.5 + 0.3 * x + b[g])).astype(float)
    y[g == 3] = 0.0
    return pd.DataFrame({"g": g, "x": x, "y": y})


def _poisson_offset() -> pd.DataFrame:
    rng = np.random.default_rng(103)
    n = 250
    g = rng.integers(0, 15, n)
    x = rng.normal(size=n).round(4)
    e = rng.uniform(1, 5, n).round(3)
    b = rng.normal(0, 0.6, 15)
    c = rng.poisson(e * np.exp(-0.2 + 0.4 * x + b[g])).astype(float)
    return pd.DataFrame({"g": [f"g{v}" for v in g], "x": x, "e": e, "c": c})


def _poisson_slopes() -> pd.DataFrame:
    rng = np.random.default_rng(104)
    n = 300
    g = rng.integers(0, 12, n)
    h = rng.integers(0, 5, n)
    x = rng.normal(size=n).round(4)
    eta = 0.2 + 0.4 * x + rng.normal(0, 0.6, 12)[g] + rng.normal(0, 0.3, 12)[g] * x + rng.normal(0, 0.4, 5)[h]
    c = rng.poisson(np.exp(eta)).astype(float)
    return pd.DataFrame({"g": [f"g{v}" for v in g], "h": [f"h{v}" for v in h], "x": x, "c": c})


def _quasi_separated() -> pd.DataFrame:
    """Bernoulli data where every row with f == 'a' is a success (quasi-complete separation)."""
    rng = np.random.default_rng(105)
    n = 200
    g = rng.integers(0, 10, n)
    f = rng.choice(["a", "b"], n)
    y = rng.binomial(1, 0.4, n).astype(float)
    y[f == "a"] = 1.0
    return pd.DataFrame({"g": g, "f": f, "y": y})


GAMMA_G = [
    3,
    2,
    2,
    5,
    2,
    1,
    5,
    0,
    2,
    1,
    0,
    4,
    5,
    4,
    1,
    3,
    5,
    1,
    2,
    5,
    1,
    5,
    4,
    2,
    4,
    2,
    2,
    3,
    5,
    4,
    4,
    3,
    5,
    2,
    4,
    2,
    3,
    3,
    2,
    5,
    1,
    0,
    4,
    0,
    3,
    4,
    1,
    2,
    3,
    4,
    3,
    3,
    3,
    2,
    0,
    5,
    4,
    2,
    2,
    3,
]
GAMMA_X = [
    0.543,
    0.111,
    0.168,
    0.817,
    0.523,
    0.679,
    0.454,
    0.85,
    0.852,
    0.431,
    0.129,
    0.831,
    0.499,
    0.557,
    0.508,
    0.037,
    0.513,
    0.096,
    0.063,
    0.827,
    0.142,
    0.722,
    0.439,
    0.503,
    0.508,
    0.167,
    0.064,
    0.638,
    0.103,
    0.065,
    0.045,
    0.603,
    0.946,
    0.541,
    0.015,
    0.58,
    0.478,
    0.688,
    0.118,
    0.674,
    0.932,
    0.218,
    0.951,
    0.604,
    0.844,
    0.208,
    0.388,
    0.872,
    0.832,
    0.589,
    0.739,
    0.57,
    0.447,
    0.307,
    0.498,
    0.517,
    0.483,
    0.01,
    0.98,
    0.99,
]
GAMMA_Y = [
    0.4256,
    0.1404,
    0.3518,
    0.477,
    0.0481,
    0.1327,
    1.2207,
    4.8418,
    1.1792,
    0.2714,
    0.9796,
    1.0243,
    0.9485,
    1.369,
    0.2838,
    1.5445,
    0.0901,
    0.069,
    0.0298,
    0.3734,
    1.2243,
    1.1697,
    0.6558,
    0.2144,
    1.8165,
    0.2045,
    0.2919,
    0.0406,
    0.684,
    0.4726,
    0.6459,
    1.8493,
    0.9032,
    1.309,
    0.7092,
    0.1321,
    1.3125,
    0.9082,
    0.0415,
    2.3027,
    1.1484,
    1.2385,
    0.3237,
    4.0928,
    1.3648,
    1.3854,
    2.1737,
    1.1034,
    0.877,
    0.6363,
    0.6543,
    0.8191,
    0.6591,
    0.1325,
    2.5907,
    0.1299,
    1.0667,
    0.047,
    1.3117,
    3.2647,
]
INVGAUSS_G = [
    3,
    4,
    6,
    7,
    0,
    1,
    6,
    7,
    1,
    2,
    6,
    3,
    2,
    6,
    2,
    3,
    5,
    4,
    0,
    0,
    6,
    6,
    6,
    4,
    6,
    2,
    3,
    6,
    0,
    2,
    0,
    3,
    7,
    1,
    3,
    3,
    7,
    1,
    4,
    2,
    0,
    6,
    0,
    2,
    3,
    3,
    0,
    7,
    5,
    7,
    0,
    5,
    2,
    4,
    7,
    2,
    5,
    1,
    2,
    7,
    3,
    4,
    2,
    0,
    3,
    4,
    3,
    6,
    2,
    4,
    6,
    7,
    3,
    0,
    5,
    4,
    6,
    3,
    2,
    0,
]
INVGAUSS_X = [
    0.641,
    0.853,
    0.593,
    0.26,
    0.84,
    0.509,
    0.511,
    0.753,
    0.148,
    0.82,
    0.683,
    0.787,
    0.192,
    0.802,
    0.191,
    0.082,
    0.855,
    0.861,
    0.877,
    0.472,
    0.274,
    0.007,
    0.646,
    0.72,
    0.836,
    0.282,
    0.215,
    0.639,
    0.805,
    0.964,
    0.151,
    0.482,
    0.895,
    0.423,
    0.59,
    0.024,
    0.673,
    0.919,
    0.827,
    0.886,
    0.66,
    0.246,
    0.769,
    0.212,
    0.831,
    0.063,
    0.825,
    0.165,
    0.375,
    0.317,
    0.691,
    0.179,
    0.396,
    0.006,
    0.262,
    0.421,
    0.106,
    0.633,
    0.38,
    0.725,
    0.654,
    0.431,
    0.867,
    0.632,
    0.81,
    0.342,
    0.544,
    0.196,
    0.996,
    0.243,
    0.257,
    0.073,
    0.258,
    0.763,
    0.698,
    0.129,
    0.376,
    0.421,
    0.665,
    0.456,
]
INVGAUSS_Y = [
    0.4959,
    1.1368,
    1.6151,
    0.8058,
    4.0513,
    0.7433,
    0.4638,
    0.4054,
    1.4701,
    1.5998,
    0.8544,
    0.4053,
    0.7241,
    0.6393,
    1.2097,
    0.148,
    2.4239,
    1.4716,
    2.347,
    2.5814,
    0.6795,
    0.4758,
    1.0551,
    1.4523,
    0.6864,
    0.328,
    0.4469,
    1.0088,
    0.1935,
    3.1841,
    1.077,
    0.4969,
    0.5059,
    0.2088,
    0.2663,
    0.1039,
    2.3723,
    0.3466,
    2.5791,
    1.2057,
    0.3548,
    0.6223,
    0.9707,
    0.745,
    0.4158,
    0.1168,
    1.7291,
    0.3927,
    1.6956,
    0.539,
    1.0543,
    3.4505,
    0.9432,
    3.7196,
    0.5905,
    0.4767,
    0.6217,
    1.5897,
    1.8352,
    0.7311,
    0.4944,
    1.0785,
    1.1551,
    0.8416,
    0.6393,
    1.2463,
    0.6848,
    0.4839,
    3.0404,
    0.4423,
    0.7316,
    0.3168,
    0.3632,
    0.17,
    1.0603,
    1.1474,
    1.3226,
    0.5997,
    1.4203,
    1.0037,
]


def _fit(formula: str, data: pd.DataFrame, family: object = "binomial", **kw: object):
    """mm.glmer with every warning recorded (the suite turns warnings into errors)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        m = mm.glmer(formula, data, family=family, **kw)
    return m, [w for w in caught]


def _cbpp() -> pd.DataFrame:
    return mm.datasets.load("cbpp")


CBPP = "cbind(incidence, size - incidence) ~ period + (1 | herd)"


# ------------------------------------------------------------------ failures of main (xfail, strict)


def test_gamma_inverse_link_fits_where_lme4_does():
    data = pd.DataFrame({"g": GAMMA_G, "x": GAMMA_X, "y": GAMMA_Y})
    m, _ = _fit("y ~ x + (1 | g)", data, "Gamma")
    assert m.converged
    assert m.loglik >= -52.46874 - 1e-4  # lme4 with tolPwrss = 1e-12
    np.testing.assert_allclose(m.fixef.to_numpy(), [1.718425, -0.987040], atol=2e-3)


def test_inverse_gaussian_default_link_fits_where_lme4_does():
    data = pd.DataFrame({"g": INVGAUSS_G, "x": INVGAUSS_X, "y": INVGAUSS_Y})
    m, _ = _fit("y ~ x + (1 | g)", data, "inverse.gaussian")
    assert m.converged
    assert m.loglik >= -74.04478 - 1e-4  # lme4 with tolPwrss = 1e-12


def test_quasi_separation_returns_a_flagged_fit():
    m, caught = _fit("y ~ f + (1 | g)", _quasi_separated())
    assert not m.converged
    assert any("separation" in str(w.message) for w in caught)
    assert m.loglik >= -69.1188 - 1e-3


def test_gaussian_identity_is_lmers_fit_as_in_lme4():
    sleep = mm.datasets.load("sleepstudy")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        m = mm.glmer("Reaction ~ Days + (1 | Subject)", sleep, family="gaussian")
    # lme4's glmer hands this family to lmer (REML), with a warning
    assert any("lmer" in str(w.message) for w in caught)
    ref = mm.lmer("Reaction ~ Days + (1 | Subject)", sleep)
    assert m.loglik == pytest.approx(ref.loglik, rel=1e-12)
    assert m.reml


def test_cbind_with_prior_weights_loglik_is_lme4s():
    cbpp = _cbpp()
    w = np.where(np.arange(len(cbpp)) % 3 == 0, 2.0, 1.0)
    m, _ = _fit(CBPP, cbpp, weights=w)
    np.testing.assert_allclose(m.fixef.to_numpy(), [-1.429336, -0.988237, -1.290511, -1.454352], atol=1e-3)
    assert m.loglik == pytest.approx(-119.674595, abs=1e-3)


def test_no_fixed_effects():
    m, _ = _fit("cbind(incidence, size - incidence) ~ 0 + (1 | herd)", _cbpp())
    assert m.loglik == pytest.approx(-118.374955, abs=1e-4)
    assert m.glmm_fit.vcov_array.shape == (0, 0)
    assert "herd" in str(m)


def test_poisson_noninteger_counts_not_reported_converged():
    rng = np.random.default_rng(3)
    n = 120
    data = pd.DataFrame({"g": rng.integers(0, 8, n), "x": rng.normal(size=n), "y": rng.binomial(5, 0.4, n) / 5 + 0.01})
    try:
        m, caught = _fit("y ~ x + (1 | g)", data, "poisson")
    except mm.MixedModelsError:
        return  # refusing non-integer counts is also an answer
    assert not (m.converged and not np.isfinite(m.loglik))
    assert not any(issubclass(w.category, RuntimeWarning) for w in caught)


def test_invalid_mean_error_is_about_the_mean():
    rng = np.random.default_rng(6)
    n = 200
    g = rng.integers(0, 10, n)
    x = rng.uniform(0, 1, n)
    mu = np.maximum(0.05, 0.3 + 2 * x + rng.normal(0, 0.3, 10)[g])
    data = pd.DataFrame({"g": g, "x": x, "y": rng.poisson(mu).astype(float)})
    with pytest.raises(mm.MixedModelsError) as info:
        _fit("y ~ x + (1 | g)", data, "poisson(link = 'identity')")
    assert "working weight" not in str(info.value)


def test_missing_categorical_response_row_is_dropped():
    rng = np.random.default_rng(20)
    n = 100
    data = pd.DataFrame(
        {"g": rng.integers(0, 8, n), "x": rng.normal(size=n), "y": pd.Categorical(rng.choice(["no", "yes"], n))}
    )
    data.loc[3, "y"] = np.nan
    m, _ = _fit("y ~ x + (1 | g)", data)
    assert m.nobs == n - 1


def test_predict_without_offset_column_is_a_data_error():
    data = _poisson_offset()
    m, _ = _fit("c ~ x + offset(log(e)) + (1 | g)", data, "poisson")
    with pytest.raises(mm.DataError, match="'e'"):
        m.predict(data.drop(columns="e").head())


def test_negative_cbind_counts_message_names_the_counts():
    cbpp = _cbpp()
    with pytest.raises(mm.DataError, match="successes|counts"):
        _fit("cbind(incidence - 3, size - incidence) ~ period + (1 | herd)", cbpp)


# ------------------------------------------------------------------ right, and worth keeping


def test_complete_separation_is_not_converged():
    rng = np.random.default_rng(1)
    n = 200
    x = rng.normal(size=n)
    data = pd.DataFrame({"g": rng.integers(0, 10, n), "x": x, "y": (x > 0).astype(float)})
    m, caught = _fit("y ~ x + (1 | g)", data)
    assert not m.converged
    assert any("separation" in str(w.message) for w in caught)


def test_groups_all_zero_and_all_one_match_lme4():
    m, caught = _fit("y ~ x + (1 | g)", _binary_groups())
    assert m.converged
    assert not caught
    assert m.loglik >= -117.08623063 - 1e-4
    np.testing.assert_allclose(m.fixef.to_numpy(), [-0.52841080, 0.07193711], atol=1e-3)
    np.testing.assert_allclose(m.theta, [1.49861378], atol=1e-3)


def test_poisson_group_of_zeros_matches_lme4():
    m, caught = _fit("y ~ x + (1 | g)", _poisson_zero_group(), "poisson")
    assert m.converged
    assert not caught
    assert m.loglik >= -448.74122334 - 1e-4
    np.testing.assert_allclose(m.fixef.to_numpy(), [0.24675689, 0.37659625], atol=1e-3)


def test_correlated_slopes_and_crossed_poisson_match_lme4():
    m, _ = _fit("c ~ x + (1 + x | g) + (1 | h)", _poisson_slopes(), "poisson")
    assert m.loglik >= -317.72442050 - 1e-4
    np.testing.assert_allclose(m.fixef.to_numpy(), [-0.62312370, 0.61962328], atol=1e-3)
    np.testing.assert_allclose(m.theta, [0.61520571, -0.00064947, 0.35643352, 0.60073360], atol=2e-3)


def test_zero_weight_rows_are_dropped_rows():
    cbpp = _cbpp()
    dropped = np.arange(len(cbpp)) % 5 == 0
    with_zero = cbpp.assign(incidence=np.where(dropped, 0, cbpp["incidence"]), size=np.where(dropped, 0, cbpp["size"]))
    a, _ = _fit(CBPP, with_zero)  # cbind rows with no trials
    b, _ = _fit(CBPP, cbpp[~dropped])
    w = (~dropped).astype(float)
    c, _ = _fit("y ~ period + (1 | herd)", cbpp.assign(y=cbpp["incidence"] / cbpp["size"]), weights=w * cbpp["size"])
    for other in (b, c):
        assert a.loglik == pytest.approx(other.loglik, abs=1e-6)
        np.testing.assert_allclose(a.fixef.to_numpy(), other.fixef.to_numpy(), atol=1e-5)


@pytest.mark.parametrize(
    ("n_agq", "loglik"),
    [(0, -92.05429547), (1, -92.02628187), (25, -50.00501527)],
)
def test_cbpp_n_agq_matches_lme4(n_agq, loglik):
    m, _ = _fit(CBPP, _cbpp(), nAGQ=n_agq)
    assert m.loglik >= loglik - 1e-4
    assert m.loglik == pytest.approx(loglik, abs=1e-3)


@pytest.mark.parametrize("bad", [26, -1, 1.5, True])
def test_bad_n_agq_is_an_argument_error(bad):
    with pytest.raises(mm.ArgumentError, match="nAGQ"):
        _fit(CBPP, _cbpp(), nAGQ=bad)


def test_n_agq_needs_one_scalar_term():
    with pytest.raises(mm.ArgumentError, match="single scalar"):
        _fit("c ~ x + (1 + x | g)", _poisson_slopes(), "poisson", nAGQ=3)


def test_quadrature_with_offset_matches_lme4():
    m, _ = _fit("c ~ x + offset(log(e)) + (1 | g)", _poisson_offset(), "poisson", nAGQ=5)
    assert m.loglik >= -176.28141097 - 1e-4
    np.testing.assert_allclose(m.fixef.to_numpy(), [0.09380486, 0.36013465], atol=1e-4)


def test_predict_and_residuals_match_lme4():
    data = _poisson_offset()
    m, _ = _fit("c ~ x + offset(log(e)) + (1 | g)", data, "poisson")
    new = pd.DataFrame({"g": ["g0", "g1", "new"], "x": [0.0, 1.0, 2.0], "e": [1.0, 2.0, 3.0]})
    np.testing.assert_allclose(m.predict(new).to_numpy(), [0.3619356223, 1.6345618284, 1.9127268296], atol=1e-4)
    np.testing.assert_allclose(m.predict(new, type="response").to_numpy(), np.exp(m.predict(new).to_numpy()))
    with pytest.raises(mm.DataError, match="new"):
        m.predict(new, allow_new_levels=False)
    expected = {
        "deviance": [1.2275391311, -1.7153625910, 0.7677388453],
        "pearson": [1.3166638912, -1.2129445203, 0.8022382963],
        "response": [3.585274846, -1.471234409, 2.235434589],
        "working": [0.4835344226, -1.0, 0.2879020873],
    }
    for kind, values in expected.items():
        np.testing.assert_allclose(m.residuals(type=kind).to_numpy()[:3], values, atol=1e-4)
    np.testing.assert_allclose(m.predict(data, type="response").to_numpy(), m.fitted().to_numpy(), rtol=1e-10)


def test_row_order_invariance():
    data = _poisson_slopes()
    a, _ = _fit("c ~ x + (1 + x | g) + (1 | h)", data, "poisson")
    perm = np.random.default_rng(0).permutation(len(data))
    b, _ = _fit("c ~ x + (1 + x | g) + (1 | h)", data.iloc[perm], "poisson")
    assert b.loglik == pytest.approx(a.loglik, abs=1e-7)
    np.testing.assert_allclose(b.fixef.to_numpy(), a.fixef.to_numpy(), atol=1e-4)
    np.testing.assert_allclose(b.fitted().loc[data.index].to_numpy(), a.fitted().to_numpy(), atol=1e-4)


def test_pickle_round_trip_and_refit():
    m, _ = _fit(CBPP, _cbpp())
    back = pickle.loads(pickle.dumps(m))
    assert back.loglik == m.loglik
    assert str(back) == str(m)
    new = _cbpp().head(3)
    np.testing.assert_array_equal(back.predict(new).to_numpy(), m.predict(new).to_numpy())
    assert back.glmm.fit().objective == pytest.approx(m.objective, abs=1e-6)


def test_fits_in_threads_match_sequential_fits():
    frames = [_binary_groups(), _binary_groups().assign(x=lambda d: -d["x"])]
    sequential = [_fit("y ~ x + (1 | g)", d)[0] for d in frames]
    out: list[object] = [None, None]

    def run(i: int) -> None:
        out[i] = _fit("y ~ x + (1 | g)", frames[i])[0]

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for a, b in zip(sequential, out, strict=True):
        assert b.loglik == a.loglik
        np.testing.assert_array_equal(b.theta, a.theta)


def test_bad_inputs_are_data_errors():
    cbpp = _cbpp()
    cases = [
        ("y ~ period + (1 | herd)", cbpp.assign(y=cbpp["incidence"] % 3), {}),  # a response with 3 values
        ("y ~ period + (1 | herd)", cbpp.assign(y=cbpp["incidence"] / cbpp["size"]), {}),  # no trials
        (CBPP, cbpp, {"weights": np.where(np.arange(len(cbpp)) == 2, np.inf, 1.0)}),
        (CBPP, cbpp, {"offset": np.where(np.arange(len(cbpp)) == 2, np.inf, 0.0)}),
        (CBPP, cbpp, {"weights": -np.ones(len(cbpp))}),
        (CBPP, cbpp, {"weights": np.ones(3)}),
    ]
    for formula, data, kw in cases:
        with pytest.raises(mm.DataError):
            _fit(formula, data, **kw)


def test_nan_offset_or_weight_drops_the_row():
    cbpp = _cbpp()
    o = np.zeros(len(cbpp))
    o[4] = np.nan
    m, _ = _fit("cbind(incidence, size - incidence) ~ period + offset(o) + (1 | herd)", cbpp.assign(o=o))
    assert m.nobs == len(cbpp) - 1


def test_factor_string_and_boolean_responses_agree():
    data = _binary_groups()
    a, _ = _fit("y ~ x + (1 | g)", data)
    for y in (
        data["y"] > 0,
        np.where(data["y"] > 0, "yes", "no"),
        pd.Categorical(np.where(data["y"] > 0, "hi", "lo"), categories=["lo", "hi"]),
    ):
        b, _ = _fit("y ~ x + (1 | g)", data.assign(y=y))
        assert b.loglik == pytest.approx(a.loglik, abs=1e-9)


def test_working_weights_that_overflow_mid_search_are_a_point_to_avoid_not_an_error():
    """A Poisson slope on a covariate in 1e4 units: a trial theta of the search overflows the means,
    so the working weights are not finite there. That point's criterion is infinite (the optimiser
    avoids it); the fit had ended with the core's 'working weight inf or response ... is not finite
    (weights must be >= 0)', naming an internal working response and weights nobody gave.
    (lme4 fits it, -496.004761, warning that the predictors are on very different scales.)"""
    rng = np.random.default_rng(1)
    n = 300
    g = np.repeat(np.arange(30), 10)
    x = rng.normal(size=n)
    b0, b1 = rng.normal(0, 0.5, 30), rng.normal(0, 0.3, 30)
    d = pd.DataFrame({"cnt": rng.poisson(np.exp(0.5 + 0.4 * x + b0[g] + b1[g] * x)), "xs": x * 1e4, "g": g})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mm.MixedModelsWarning)
        m = mm.glmer("cnt ~ xs + (1 + xs | g)", d, family="poisson")
        unit = mm.glmer("cnt ~ xs + (1 + xs | g)", d.assign(xs=x), family="poisson")
    assert np.isfinite(m.loglik)
    assert m.loglik <= unit.loglik + 1e-6  # the same model: its maximum is the unit-scale fit's
    assert m.converged or m.messages  # not converged here, and it says so


def test_lme4_argument_names_say_what_to_write():
    cbpp = mm.datasets.load("cbpp")
    formula = "cbind(incidence, size - incidence) ~ period + (1 | herd)"
    with pytest.raises(mm.ArgumentError, match="REML does not apply"):
        mm.glmer(formula, cbpp, "binomial", REML=False)
    with pytest.raises(mm.ArgumentError, match="glmerControl"):
        mm.glmer(formula, cbpp, "binomial", control={})
    with pytest.raises(TypeError, match="unexpected keyword argument 'foo'"):
        mm.glmer(formula, cbpp, "binomial", foo=1)
