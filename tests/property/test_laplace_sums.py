"""The core's two passes of the exact Laplace gradient (`_core.laplace_level_sums`,
`_core.laplace_row_terms`) against dense NumPy sums on random rows; bad codes and shapes are
errors, never writes out of bounds (the codes, checked and copied before the core runs without
the GIL, must be int32: wider or fractional codes are refused, not wrapped or truncated)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mixedmodels import _core


def _rows(seed: int, n: int, k: int, p: int, nlev: int, family: str):
    r = np.random.default_rng(seed)
    codes = r.integers(0, nlev, n).astype(np.int32)
    z = r.normal(size=(n, k))
    x = r.normal(size=(n, p))
    if family == "poisson":
        mu = np.exp(r.normal(size=n))
        y = r.poisson(mu).astype(float)
    else:
        mu = 1.0 / (1.0 + np.exp(-r.normal(size=n)))
        y = (r.random(n) < mu).astype(float)
    prior = r.uniform(0.5, 3.0, n)
    return codes, z, x, mu, y, prior


def _dense(codes, z, x, mu, y, prior, family, nlev, amat):
    var, dvar = (mu, np.ones_like(mu)) if family == "poisson" else (mu * (1 - mu), 1 - 2 * mu)
    w, d = prior * var, -2.0 * prior * (y - mu)
    k, p = z.shape[1], x.shape[1]
    g, c, gmat = np.zeros((nlev, k)), np.zeros((nlev, k, k)), np.zeros((nlev, k, p))
    np.add.at(g, codes, d[:, None] * z)
    np.add.at(c, codes, np.einsum("ia,ib->iab", w[:, None] * z, z))
    np.add.at(gmat, codes, np.einsum("ia,ij->iaj", w[:, None] * z, x))
    h = np.einsum("ia,iab,ib->i", z, amat[codes], z)
    w1h = w * dvar * h
    qv = np.zeros((nlev, k))
    np.add.at(qv, codes, w1h[:, None] * z)
    xsum = x.T @ (d + w1h)
    return g, c, gmat, qv, xsum


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(1, 300),
    k=st.integers(1, 3),
    p=st.integers(0, 4),
    nlev=st.integers(1, 20),
    family=st.sampled_from(["poisson", "binomial"]),
)
def test_the_core_sums_equal_dense_sums(seed, n, k, p, nlev, family):
    codes, z, x, mu, y, prior = _rows(seed, n, k, p, nlev, family)
    r = np.random.default_rng(seed + 1)
    b = r.normal(size=(nlev, k, k))
    amat = np.einsum("lab,lcb->lac", b, b)  # symmetric, as the levels' A_j
    g, c, gmat = _core.laplace_level_sums(codes, z, x, mu, y, prior, family, nlev)
    qv, xsum = _core.laplace_row_terms(codes, z, x, mu, y, prior, family, amat)
    eg, ec, egmat, eqv, exsum = _dense(codes, z, x, mu, y, prior, family, nlev, amat)
    for got, want in [(g, eg), (c, ec), (gmat, egmat), (qv, eqv), (xsum, exsum)]:
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12 * (1.0 + np.abs(want).max(initial=0.0)))


def test_bad_codes_shapes_and_families_are_errors():
    codes, z, x, mu, y, prior = _rows(0, 20, 2, 3, 4, "poisson")
    amat = np.tile(np.eye(2), (4, 1, 1))
    bad = codes.copy()
    bad[7] = 4
    with pytest.raises(_core.InvalidInputError, match="code 4 at row 7 is outside"):
        _core.laplace_level_sums(bad, z, x, mu, y, prior, "poisson", 4)
    bad[7] = -1
    with pytest.raises(_core.InvalidInputError, match="outside"):
        _core.laplace_row_terms(bad, z, x, mu, y, prior, "poisson", amat)
    with pytest.raises(_core.InvalidInputError, match="one value per row"):
        _core.laplace_level_sums(codes, z, x, mu[:-1], y, prior, "poisson", 4)
    with pytest.raises(_core.InvalidInputError, match="not gamma"):
        _core.laplace_level_sums(codes, z, x, mu, y, prior, "gamma", 4)
    with pytest.raises(_core.InvalidInputError, match="shape"):
        _core.laplace_row_terms(codes, z, x, mu, y, prior, "poisson", np.eye(2))
    with pytest.raises(_core.InvalidInputError, match="int32"):  # not wrapped or truncated into range
        _core.laplace_level_sums(np.array([0, 2**32, 1] * 6 + [0, 1], dtype=np.int64), z, x, mu, y, prior, "poisson", 4)
    with pytest.raises(_core.InvalidInputError, match="int32"):
        _core.laplace_row_terms(codes.astype(float) + 0.5, z, x, mu, y, prior, "poisson", amat)
    with pytest.raises(_core.InvalidInputError, match="k = z's columns"):
        _core.laplace_row_terms(codes, z, x, mu, y, prior, "poisson", np.tile(np.eye(3), (4, 1, 1)))


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    n=st.integers(1, 60),
    r=st.integers(1, 4),
    p=st.integers(0, 3),
    ntheta=st.integers(1, 3),
    q=st.integers(1, 12),
)
def test_crossed_rows_match_dense_sums(seed, n, r, p, ntheta, q):
    """`_core.laplace_crossed_rows` (several grouping factors) against the same sums with A, dA_k
    and S as dense matrices: A'(w1 h), A'W X, X'(d1 + w1 h), the scalar terms and A'(w dau) + dA'd1 / 2."""
    g = np.random.default_rng(seed)
    idx = g.integers(0, q, (n, r))
    vals, parts = g.normal(size=(n, r)), g.normal(size=(ntheta, n, r))
    s_full = g.normal(size=(q, q))
    s_full = s_full @ s_full.T + np.eye(q)
    s_rows = s_full[idx[:, :, None], idx[:, None, :]]
    w, w1, d1, x, u = g.uniform(0.1, 2, n), g.normal(size=n), g.normal(size=n), g.normal(size=(n, p)), g.normal(size=q)

    def dense(v):  # (n, q): row i has v[i] at idx[i] (a repeated column adds up)
        out = np.zeros((n, q))
        np.add.at(out, (np.repeat(np.arange(n), r), idx.ravel()), v.ravel())
        return out

    a = dense(vals)
    h = np.einsum("ia,iab,ib->i", vals, s_rows, vals)
    w1h = w1 * h
    atq, awx, xsum, scal, rhs = _core.laplace_crossed_rows(idx, vals, parts, s_rows, w, w1, d1, x, u)
    tol = {"rtol": 1e-10, "atol": 1e-10}
    np.testing.assert_allclose(atq, a.T @ w1h, **tol)
    np.testing.assert_allclose(awx, a.T @ (w[:, None] * x), **tol)
    np.testing.assert_allclose(xsum, x.T @ (d1 + w1h), **tol)
    for k in range(ntheta):
        da = dense(parts[k])
        dau = da @ u
        asd = np.einsum("ia,iab,ib->i", vals, s_rows, parts[k])
        np.testing.assert_allclose(scal[k], d1 @ dau + 2 * w @ asd + w1h @ dau, **tol)
        np.testing.assert_allclose(rhs[:, k], a.T @ (w * dau) + 0.5 * da.T @ d1, **tol)


def test_crossed_rows_refuse_columns_outside_the_modes():
    n, r = 3, 2
    args = [np.zeros((n, r)), np.zeros((1, n, r)), np.zeros((n, r, r)), np.ones(n), np.ones(n), np.ones(n)]
    with pytest.raises(_core.InvalidInputError, match="outside"):
        _core.laplace_crossed_rows(np.array([[0, 1], [1, 5], [0, 0]]), *args, np.zeros((n, 1)), np.zeros(4))
    with pytest.raises(_core.InvalidInputError, match="one row per observation"):
        _core.laplace_crossed_rows(np.zeros((n, r), dtype=np.int64), *args, np.zeros((n + 1, 1)), np.zeros(4))
    with pytest.raises(_core.InvalidInputError, match="signed integers"):
        _core.laplace_crossed_rows(np.zeros((n, r)), *args, np.zeros((n, 1)), np.zeros(4))


@pytest.mark.parametrize(("k", "p", "nlev"), [(1, 3, 500), (2, 2, 40), (3, 0, 7), (4, 5, 300)])
def test_the_chunked_sums_are_the_same_for_every_thread_count(k, p, nlev):
    # 70,000 rows: cut into chunks (each summed in order, the chunks added in order), whatever the
    # thread count; checked against the dense sums too
    family = "poisson" if k % 2 else "binomial"
    codes, z, x, mu, y, prior = _rows(k + p, 70_000, k, p, nlev, family)
    b = np.random.default_rng(3).normal(size=(nlev, k, k))
    amat = np.einsum("lab,lcb->lac", b, b)
    runs = [
        (
            _core.laplace_level_sums(codes, z, x, mu, y, prior, family, nlev, threads),
            _core.laplace_row_terms(codes, z, x, mu, y, prior, family, amat, threads),
        )
        for threads in (1, 2, 3)
    ]
    for sums, terms in runs[1:]:
        for got, want in zip((*sums, *terms), (*runs[0][0], *runs[0][1]), strict=True):
            assert np.array_equal(got, want)
    eg, ec, egmat, eqv, exsum = _dense(codes, z, x, mu, y, prior, family, nlev, amat)
    for got, want in zip((*runs[0][0], *runs[0][1]), (eg, ec, egmat, eqv, exsum), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10 * (1.0 + np.abs(want).max(initial=0.0)))
