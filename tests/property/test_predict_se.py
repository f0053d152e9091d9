"""The standard errors of conditional predictions (`LmerFit.predict(se_fit=True)`) against a dense
numpy computation that does not use the penalised least-squares system at all: the prediction
error variance of x'beta_hat + z'b_hat from the marginal covariance V = Z G Z' + sigma^2 W^-1,

    Var(beta_hat)            = (X'V^-1X)^-1
    Cov(beta_hat, b_hat - b) = -(X'V^-1X)^-1 X'V^-1 Z G
    Var(b_hat - b)           = G - G Z'P Z G,   P = V^-1 - V^-1 X (X'V^-1X)^-1 X'V^-1

(Henderson 1975). The package computes it as sigma^2 times the inverse of the mixed-model equations'
matrix, in the scaled random effects u (predict's notes); the two agree to rounding."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import mixedmodels as mm

CASES = [
    ("Reaction ~ Days + (Days | Subject)", "sleepstudy"),
    ("diameter ~ 1 + (1 | plate) + (1 | sample)", "penicillin"),
    ("strength ~ 1 + (1 | batch/cask)", "pastes"),
    ("Reaction ~ Days + (1 | Subject) + (0 + Days | Subject)", "sleepstudy"),
]


def _dense(m):
    """X, Z (the b ordering: factors in the structure's order, levels by columns), G, V, W^-1."""
    rows = m.model.data.rows("test")
    n = rows.nobs
    zs, gs = [], []
    for fi, f in enumerate(m.structure.factors):
        k = f.k
        z = np.zeros((n, f.nlev * k))
        for j in range(k):
            z[np.arange(n), rows.codes[fi] * k + j] = rows.z[fi][:, j]
        zs.append(z)
        gs.append(np.kron(np.eye(f.nlev), m.cov_re[f.name].to_numpy()))
    z = np.hstack(zs)
    q = z.shape[1]
    g = np.zeros((q, q))
    o = 0
    for b in gs:
        g[o : o + b.shape[0], o : o + b.shape[0]] = b
        o += b.shape[0]
    w = rows.weights if rows.weights is not None else np.ones(n)
    v = z @ g @ z.T + m.sigma**2 * np.diag(1 / w)
    return rows.x, z, g, v


def _pev(m, x_new, d_new):
    """Prediction error variances of x' beta_hat + d' b_hat (d in the b ordering), row by row."""
    x, z, g, v = _dense(m)
    vi = np.linalg.inv(v)
    vb = np.linalg.inv(x.T @ vi @ x)
    np.testing.assert_allclose(vb, m.vcov_array, rtol=1e-7, atol=1e-12)  # the same V as the fit's
    p = vi - vi @ x @ vb @ x.T @ vi
    c_bb = g - g @ z.T @ p @ z @ g
    c_xb = -vb @ x.T @ vi @ z @ g
    return (
        np.einsum("ij,jk,ik->i", x_new, vb, x_new)
        + 2 * np.einsum("ij,jk,ik->i", x_new, c_xb, d_new)
        + np.einsum("ij,jk,ik->i", d_new, c_bb, d_new)
    )


@pytest.fixture(params=CASES, ids=[c[0] for c in CASES], scope="module")
def fitted(request, fits):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mm.MixedModelsWarning)
        return fits.fit(request.param[0], request.param[1])


def test_se_fit_of_the_fitted_rows_is_the_dense_prediction_error_variance(fitted):
    m = fitted
    rows = m.model.data.rows("test")
    _x, z, _g, _v = _dense(m)
    ours = m.predict(se_fit=True)
    want = _pev(m, rows.x, z)
    np.testing.assert_allclose(ours["se_fit"].to_numpy() ** 2, want, rtol=1e-8)
    np.testing.assert_allclose(ours["fit"].to_numpy(), m.fitted().to_numpy(), rtol=1e-12)


def test_se_fit_is_more_than_lme4s_condvar_and_less_than_the_sum(fitted):
    """Joint covariance: var(x'beta) and condVar are each below it for the fitted rows (their
    covariance is negative), and it is at most their sum plus twice |covariance|."""
    m = fitted
    rows = m.model.data.rows("test")
    ours = m.predict(se_fit=True)["se_fit"].to_numpy() ** 2
    fixed = m.predict(include_re=False, se_fit=True)["se_fit"].to_numpy() ** 2
    np.testing.assert_allclose(fixed, np.einsum("ij,jk,ik->i", rows.x, m.vcov_array, rows.x), rtol=1e-10)
    condvar = np.zeros(rows.nobs)
    for fi, f in enumerate(m.structure.factors):
        cc = m.ranef_condcov[f.name][rows.codes[fi]]
        condvar += np.einsum("ij,ijk,ik->i", rows.z[fi], cc, rows.z[fi])
    if len(m.structure.factors) == 1:  # one factor: lme4's condVar is the whole b part at beta_hat
        assert np.all(ours >= condvar * (1 - 1e-10))


def test_new_rows_new_levels_and_a_subset_of_factors(fitted, fits):
    """Rows of newdata (covariates moved), a level not in the fit and include_re naming one factor:
    se_fit^2 = the dense PEV of the factors used (+ z' Sigma z for a new level); the prediction
    interval adds the left-out factors' z' Sigma z and sigma^2."""
    m = fitted
    s = m.structure
    data = fits.data(m.data_name)
    rows = m.model.data.rows("test")
    new = data.loc[rows.index[:6]].copy()
    for c in new.columns:
        if pd.api.types.is_float_dtype(new[c]) and c != s.formula.split("~")[0].strip():
            new[c] = new[c] + 0.37
    f0 = s.factors[0]
    if len(f0.variables) == 1:  # a level the fit never saw, in the first factor
        col = f0.variables[0]
        new[col] = new[col].astype(object)
        new.iloc[0, new.columns.get_loc(col)] = "no such level"
    use = [f0.name]
    out = m.predict(new, include_re=use, se_fit=True, interval="prediction", level=0.9)
    # by hand: the dense PEV for the used factor's known levels
    x_new = s.encoding.fixed_matrix(new, s.fixed_keys)
    offsets = np.cumsum([0] + [f.nlev * f.k for f in s.factors])
    q = offsets[-1]
    d = np.zeros((len(new), q))
    extra_new = np.zeros(len(new))
    left_out = np.zeros(len(new))
    for fi, f in enumerate(s.factors):
        zf = np.column_stack([s.encoding.term_matrix(new, ti, s.terms[ti].source) for ti in f.terms])
        sig = m.cov_re[f.name].to_numpy()
        zsz = np.einsum("ij,jk,ik->i", zf, sig, zf)
        if f.name not in use:
            left_out += zsz
            continue
        levels = {lvl: i for i, lvl in enumerate(f.levels)}
        lab = new[list(f.variables)].astype(str).agg(":".join, axis=1)
        for r, key in enumerate(lab):
            if key in levels:
                d[r, offsets[fi] + levels[key] * f.k : offsets[fi] + (levels[key] + 1) * f.k] = zf[r]
            else:
                extra_new[r] += zsz[r]
    want = _pev(m, x_new, d) + extra_new
    np.testing.assert_allclose(out["se_fit"].to_numpy() ** 2, want, rtol=1e-8)
    se_pred = np.sqrt(want + left_out + m.sigma**2)
    zq = 1.6448536269514722
    np.testing.assert_allclose(out["upper"] - out["fit"], zq * se_pred, rtol=1e-8)
    np.testing.assert_allclose(out["fit"] - out["lower"], zq * se_pred, rtol=1e-8)
    pd.testing.assert_series_equal(
        out["fit"], m.predict(new, include_re=use).rename("fit"), check_exact=False, rtol=1e-12
    )
