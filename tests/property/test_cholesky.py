"""The blocked Cholesky factor, criterion, solution and conditional covariances against dense numpy
on random small designs: one factor, crossed, nested and partially crossed, vector-valued terms."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mixedmodels import _core
from tests.engine_helpers import block_rows, cross_products_of, engine_of
from tests.property.dense_reference import dense_criterion, dense_gradient, dense_system, dense_z_lambda


def _theta_map(k: int, offset: int, diagonal: bool):
    ti, tr, tc = [], [], []
    n = offset
    for col in range(k):
        for row in range(col, k):
            if diagonal and row != col:
                continue
            ti.append(n)
            tr.append(row)
            tc.append(col)
            n += 1
    return np.array(ti, np.int32), np.array(tr, np.int32), np.array(tc, np.int32), n


@st.composite
def designs(draw):
    n = draw(st.integers(12, 60))
    nf = draw(st.integers(1, 3))
    structure = draw(st.sampled_from(["crossed", "nested", "partial"]))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    factors = []
    ntheta = 0
    parent = None
    levels = sorted(draw(st.lists(st.integers(2, 9), min_size=nf, max_size=nf)), reverse=True)
    for f in range(nf):
        nlev = levels[f]
        if structure == "nested" and parent is not None:
            # coarser factor: a function of the finer one's codes
            codes = (parent % nlev).astype(np.int32)
        elif structure == "partial" and f > 0:
            codes = rng.integers(0, nlev, n).astype(np.int32)
            codes[: n // 2] = 0  # half the rows share a level: partially crossed
        else:
            codes = rng.integers(0, nlev, n).astype(np.int32)
        if not (structure == "nested" and parent is not None):
            codes[:nlev] = np.arange(nlev)  # every level appears
        codes = np.unique(codes, return_inverse=True)[1].astype(np.int32)
        nlev = int(codes.max()) + 1
        k = draw(st.integers(1, 3))
        z = np.column_stack([np.ones(n)] + [rng.normal(size=n) for _ in range(k - 1)])
        diagonal = draw(st.booleans())
        ti, tr, tc, ntheta = _theta_map(k, ntheta, diagonal)
        factors.append((codes, nlev, np.ascontiguousarray(z), ti, tr, tc))
        parent = codes
    p = draw(st.integers(1, 3))
    x = np.column_stack([np.ones(n)] + [rng.normal(size=n) for _ in range(p - 1)])
    y = rng.normal(size=n) + 3 * x[:, -1]
    theta = rng.uniform(0.2, 2.0, ntheta)
    # random signs on off-diagonal entries
    theta *= np.where(rng.random(ntheta) < 0.3, -1.0, 1.0)
    for _codes, _nlev, _z, ti, tr, tc in factors:
        theta[ti[tr == tc]] = np.abs(theta[ti[tr == tc]])
    threshold = draw(st.sampled_from([0.0, 0.1, 1.0]))
    return factors, np.ascontiguousarray(x), y, theta, threshold


SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(designs())
def test_factor_equals_dense_cholesky(d):
    factors, x, y, theta, thr = d
    e = engine_of(y, x, factors, thr)
    e.update(theta)
    a, chol = dense_system(factors, x, y, theta)
    np.testing.assert_allclose(np.tril(e.dense(True)), chol, rtol=1e-9, atol=1e-9 * np.abs(chol).max())


@pytest.mark.parametrize(("n1", "k1"), [(270, 1), (300, 1), (333, 1), (170, 2), (384, 1), (700, 1)])
def test_a_mid_size_dense_block_is_factored_by_panels_on_the_pool(n1, k1):
    """A crossed factor whose diagonal block fills in densely, of order 300-700 (cpp/dense_potrf.cpp:
    panels of 128 columns, the solve and the update in chunks on the pool; 270's last panel of 14
    columns, 384 three whole panels): the factor, the conditional covariances and the gradient are
    numpy's, and the same bits on one, two and three threads."""
    rng = np.random.default_rng(n1 + k1)
    n, n0 = 12 * n1 * k1, 4 * n1
    factors, ntheta = [], 0
    for codes, nlev, k in [
        (np.concatenate([np.arange(n0), rng.integers(0, n0, n - n0)]), n0, 1),
        (np.concatenate([np.arange(n1), rng.integers(0, n1, n - n1)]), n1, k1),
    ]:
        z = np.column_stack([np.ones(n)] + [rng.normal(size=n) for _ in range(k - 1)])
        ti, tr, tc, ntheta = _theta_map(k, ntheta, False)
        factors.append((codes.astype(np.int32), nlev, z, ti, tr, tc))
    x = np.column_stack([np.ones(n), rng.normal(size=n)])
    y = rng.normal(size=n)
    theta = rng.uniform(0.3, 1.5, ntheta) * np.where(rng.random(ntheta) < 0.5, -1.0, 1.0)
    for _codes, _nlev, _z, ti, tr, tc in factors:
        theta[ti[tr == tc]] = np.abs(theta[ti[tr == tc]])
    cp = cross_products_of(y, x, factors)
    bits = []
    for threads in (1, 2, 3):
        e = _core.Engine(cp, threads=threads, reorder=False)  # (the levels in their order: dense panels)
        assert block_rows(e)[1][1] == f"Dense({n1 * k1}x{n1 * k1})"
        assert e.single_threaded_blas
        value, grad = e.gradient(theta, True)
        e.update(theta)
        cov = e.condcov()
        bits.append([e.dense(True).tobytes(), value, grad.tobytes()] + [c.tobytes() for c in cov])
    assert bits[1] == bits[0]
    assert bits[2] == bits[0]
    m, chol = dense_system(factors, x, y, theta)
    got = np.tril(np.frombuffer(bits[0][0]).reshape(chol.shape))
    np.testing.assert_allclose(got, chol, rtol=1e-9, atol=1e-9 * np.abs(chol).max())
    q = n0 + n1 * k1
    inv = np.linalg.inv(m[:q, :q])[n0:, n0:]
    for lev in range(n1):
        s = slice(lev * k1, (lev + 1) * k1)
        np.testing.assert_allclose(cov[1][lev], inv[s, s], rtol=1e-8, atol=1e-10)
    if n1 * k1 <= 340:  # the dense reference's matrices stay small
        want_value, want = dense_gradient(factors, x, y, theta, True)
        assert value == pytest.approx(want_value, rel=1e-10)
        np.testing.assert_allclose(grad, want, rtol=1e-10, atol=1e-10 * np.abs(want).max())
    # where a fill-reducing order of the levels pays, the engine takes it: the same numbers
    r = _core.Engine(cp)
    r_value, r_grad = r.gradient(theta, True)
    assert r_value == pytest.approx(value, rel=1e-12)
    np.testing.assert_allclose(r_grad, grad, rtol=1e-9, atol=1e-9 * np.abs(grad).max())
    for c_r, c in zip(r.condcov(), cov, strict=True):
        np.testing.assert_allclose(c_r, c, rtol=1e-9, atol=1e-12)


@SETTINGS
@given(designs())
def test_a_equals_dense_crossproduct(d):
    factors, x, y, theta, thr = d
    e = engine_of(y, x, factors, thr)
    z, _ = dense_z_lambda(factors, theta)
    w = np.hstack([z, x, y[:, None]])
    np.testing.assert_allclose(np.tril(e.dense(False)), np.tril(w.T @ w), rtol=1e-12, atol=1e-10)


@SETTINGS
@given(designs(), st.booleans())
def test_criterion_equals_dense(d, reml):
    factors, x, y, theta, thr = d
    e = engine_of(y, x, factors, thr)
    assert e.objective(theta, reml) == pytest.approx(dense_criterion(factors, x, y, theta, reml), rel=1e-10)


@SETTINGS
@given(designs())
def test_solution_and_condcov_equal_dense(d):
    factors, x, y, theta, thr = d
    e = engine_of(y, x, factors, thr)
    e.update(theta)
    beta, u = e.solve()
    m, _ = dense_system(factors, x, y, theta)
    sol = np.linalg.solve(m[:-1, :-1], m[:-1, -1])
    q = u.shape[0]
    np.testing.assert_allclose(u, sol[:q], rtol=1e-8, atol=1e-8 * max(1.0, np.abs(sol).max()))
    np.testing.assert_allclose(beta, sol[q:], rtol=1e-8, atol=1e-8 * max(1.0, np.abs(sol).max()))
    inv = np.linalg.inv(m[:q, :q])
    o = 0
    for (_codes, nlev, z, *_), blocks in zip(factors, e.condcov(), strict=True):
        k = z.shape[1]
        for lev in range(nlev):
            s = slice(o + lev * k, o + (lev + 1) * k)
            np.testing.assert_allclose(blocks[lev], inv[s, s], rtol=1e-8, atol=1e-10)
        o += nlev * k


@pytest.mark.parametrize("nlev2", [600, 1100])
def test_large_fill_in_block_equals_dense(nlev2):
    """A crossed design whose second factor's diagonal block is dense and larger than the orders
    from which the Cholesky factor works by panels (cpp/dense_potrf.cpp: 600 on the pool, 1,100 on
    BLAS's threads): factor and criterion equal numpy's."""
    rng = np.random.default_rng(nlev2)
    n, nlev1 = 6 * nlev2, 300
    c1 = rng.integers(0, nlev1, n).astype(np.int32)
    c2 = rng.integers(0, nlev2, n).astype(np.int32)
    c1[:nlev1], c2[:nlev2] = np.arange(nlev1), np.arange(nlev2)
    one = np.ones((n, 1))
    ti, tr, tc = np.array([0], np.int32), np.array([0], np.int32), np.array([0], np.int32)
    # the engine keeps the order it is given: the big factor second, so that its block fills in
    factors = [(c1, nlev1, one, ti, tr, tc), (c2, nlev2, one, ti + 1, tr, tc)]
    x = np.column_stack([np.ones(n), rng.normal(size=n)])
    y = rng.normal(size=n) + x[:, 1]
    theta = np.array([0.7, 1.3])
    e = engine_of(y, x, factors, 0.1)
    assert f"Dense({nlev2}x{nlev2})" in block_rows(e)[1]
    e.update(theta)
    _, chol = dense_system(factors, x, y, theta)
    np.testing.assert_allclose(np.tril(e.dense(True)), chol, rtol=1e-9, atol=1e-9 * np.abs(chol).max())
    for reml in (True, False):
        assert e.objective(theta, reml) == pytest.approx(dense_criterion(factors, x, y, theta, reml), rel=1e-10)


@pytest.mark.parametrize(
    ("n1", "bad"), [(40, 30), (300, 5), (300, 200), (270, 269), (700, 128), (700, 650), (1100, 1050)]
)
def test_a_dense_block_that_is_not_finite_names_its_row(n1, bad):
    """A random-effects column whose squares overflow at one level of the factor whose block fills
    in (the checks of `mixedmodels.checks` refuse it before a model is built; the core is given it
    here): the factor names that level's row of the dense block, whichever panel holds it and
    whatever the threads (cpp/dense_potrf.cpp: order 40 whole, 270-700 by panels on the pool, 1,100
    on BLAS's threads). OpenBLAS's dpotrf factors on through a NaN pivot; the row is reference
    LAPACK's (blas.cpp), not a failure later in the fixed-effects block."""
    rng = np.random.default_rng(n1 + bad)
    n, n0 = 12 * n1, 4 * n1
    c0 = np.concatenate([np.arange(n0), rng.integers(0, n0, n - n0)]).astype(np.int32)
    c1 = np.concatenate([np.arange(n1), rng.integers(0, n1, n - n1)]).astype(np.int32)
    z1 = np.ones((n, 1))
    z1[c1 == bad, 0] = 1e160
    one = np.ones((n, 1))
    ti, tr, tc = np.array([0], np.int32), np.array([0], np.int32), np.array([0], np.int32)
    factors = [(c0, n0, one, ti, tr, tc), (c1, n1, z1, ti + 1, tr, tc)]
    x = np.column_stack([np.ones(n), rng.normal(size=n)])
    cp = cross_products_of(rng.normal(size=n), x, factors)
    for threads in (1, 2):
        e = _core.Engine(cp, threads=threads)
        assert block_rows(e)[1][1] == f"Dense({n1}x{n1})"
        want = rf"random-effects block 1, level {bad} is not finite \(row {bad + 1} of its dense block\)"
        with pytest.raises(_core.NotPositiveDefiniteError, match=want):
            e.update(np.array([0.8, 0.5]))
