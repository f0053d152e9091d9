"""The analytic Hessian of the profiled criterion in theta with one grouping factor
(cpp/hessian_one_factor.cpp): against central differences of the analytic gradient on random
designs (terms of 1-5 columns, 0-6 fixed effects, || terms, prior weights, REML and ML, near the
boundary), bitwise the same for every thread count, and refused for other designs."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mixedmodels import _core
from tests.engine_helpers import layout_of, theta_map


def _design(seed: int, k: int, p: int, diagonal: bool, weighted: bool, nlev: int = 0):
    """An engine of one random factor and a theta inside its bounds."""
    rng = np.random.default_rng(seed)
    nlev = nlev or int(rng.integers(6, 25))
    n = int(nlev * rng.integers(k + 2, k + 8))
    codes = np.concatenate([np.arange(nlev), rng.integers(0, nlev, n - nlev)]).astype(np.int32)
    z = np.column_stack([np.ones(n)] + [rng.normal(size=n) for _ in range(k - 1)])
    x = np.column_stack([np.ones(n)] + [rng.normal(size=n) for _ in range(p - 1)]) if p else np.empty((n, 0))
    ti, rows, cols = theta_map(k, diagonal)
    b = rng.normal(size=(nlev, k))
    y = rng.normal(size=n) + (z * b[codes]).sum(axis=1) + (x.sum(axis=1) if p else 0.0)
    factors = [(codes, nlev, z, ti, rows, cols)]
    cp = _core.CrossProducts(layout_of(x, factors))
    w = rng.uniform(0.3, 3.0, n) if weighted else None
    cp.add_rows(y, x, [codes], [z], w)
    theta = np.where(rows == cols, rng.uniform(0.2, 1.5, rows.size), rng.normal(0.0, 0.4, rows.size))
    return _core.Engine(cp), theta, rows == cols, rng


def _gradient_differences(engine: _core.Engine, theta: np.ndarray, reml: bool) -> np.ndarray:
    nt = theta.size
    out = np.empty((nt, nt))
    for j in range(nt):
        h = 1e-5 * max(abs(theta[j]), 0.1)
        up, down = theta.copy(), theta.copy()
        up[j] += h
        down[j] -= h
        out[:, j] = (engine.gradient(up, reml)[1] - engine.gradient(down, reml)[1]) / (2 * h)
    return out


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    k=st.integers(1, 5),
    p=st.integers(0, 6),
    diagonal=st.booleans(),
    weighted=st.booleans(),
    reml=st.booleans(),
    near_singular=st.booleans(),
)
def test_hessian_matches_differences_of_the_gradient(seed, k, p, diagonal, weighted, reml, near_singular):
    engine, theta, on_diagonal, rng = _design(seed, k, p, diagonal, weighted)
    if near_singular:
        theta[int(rng.choice(np.flatnonzero(on_diagonal)))] = 1e-4
    assert engine.has_hessian
    value, grad, hess = engine.hessian(theta, reml)
    value2, grad2 = engine.gradient(theta, reml)
    assert value == value2
    np.testing.assert_allclose(grad, grad2, rtol=1e-12, atol=1e-12 * max(1.0, float(np.abs(grad2).max())))
    np.testing.assert_array_equal(hess, hess.T)
    fd = _gradient_differences(engine, theta, reml)
    scale = max(1.0, float(np.abs(fd).max()))
    np.testing.assert_allclose(hess, fd, rtol=1e-5, atol=1e-6 * scale)


@pytest.mark.parametrize("k", [1, 3, 5])
def test_hessian_is_the_same_for_every_thread_count(k):
    engine, theta, _diag, _rng = _design(11, k, 3, False, True, nlev=4000)
    engine.threads = 1
    one = engine.hessian(theta, True)
    engine.threads = 2
    two = engine.hessian(theta, True)
    assert one[0] == two[0]
    np.testing.assert_array_equal(one[1], two[1])
    np.testing.assert_array_equal(one[2], two[2])


def test_hessian_only_for_one_grouping_factor():
    rng = np.random.default_rng(0)
    n = 200
    c0, c1 = rng.integers(0, 20, n).astype(np.int32), rng.integers(0, 15, n).astype(np.int32)
    z = np.ones((n, 1))
    one = np.array([0], dtype=np.int32)
    factors = [(c0, 20, z, one, np.zeros(1, np.int32), np.zeros(1, np.int32))]
    factors.append((c1, 15, z, one + 1, np.zeros(1, np.int32), np.zeros(1, np.int32)))
    x = np.ones((n, 1))
    cp = _core.CrossProducts(layout_of(x, factors))
    cp.add_rows(rng.normal(size=n), x, [c0, c1], [z, z])
    engine = _core.Engine(cp)
    assert not engine.has_hessian
    with pytest.raises(_core.InvalidInputError, match="one grouping factor"):
        engine.hessian(np.array([1.0, 1.0]), True)
