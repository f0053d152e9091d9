"""`BlockedInverse` (S = M^-1 by eliminating a leading block-diagonal block, as the crossed
Laplace gradient uses it) against the dense inverse, on random M = I + A'WA of random crossed
designs: the solves, S at the rows' columns, and the diagonal blocks of S11, with the block beside the
leading one held dense and sparse."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import sparse

from mixedmodels.blocked_inverse import BlockedInverse


def _crossed(seed: int, n: int, nlev: int, k: int, others: list[tuple[int, int]]):
    """M = I + A'WA for a first factor of nlev levels and k columns and other factors (levels,
    columns); each row's column indices (n, r), the first factor's first."""
    r = np.random.default_rng(seed)
    q1 = nlev * k
    idx = [r.integers(0, nlev, n)[:, None] * k + np.arange(k)[None, :]]
    off = q1
    for lev, kk in others:
        idx.append(off + r.integers(0, lev, n)[:, None] * kk + np.arange(kk)[None, :])
        off += lev * kk
    cols = np.concatenate(idx, axis=1)
    a = np.zeros((n, off))
    vals = r.normal(size=cols.shape)
    np.put_along_axis(a, cols, vals, axis=1)
    w = r.uniform(0.01, 5.0, n)
    m = np.eye(off) + a.T @ (w[:, None] * a)
    return m, cols


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(1, 120),
    nlev=st.integers(1, 15),
    k=st.integers(1, 3),
    others=st.lists(st.tuples(st.integers(1, 6), st.integers(1, 2)), min_size=1, max_size=3),
)
def test_blocked_inverse_equals_the_dense_inverse(seed, n, nlev, k, others):
    m, cols = _crossed(seed, n, nlev, k, others)
    dense = np.linalg.inv(m)
    inv = BlockedInverse.from_dense(m, nlev, k)
    q1 = nlev * k
    lead = np.arange(nlev)[:, None] * k + np.arange(k)[None, :]
    held_sparse = BlockedInverse(m[lead[:, :, None], lead[:, None, :]], sparse.csr_array(m[:q1, q1:]), m[q1:, q1:])
    scale = np.abs(dense).max()
    v = np.random.default_rng(seed + 1).normal(size=(m.shape[0], 3))
    want = dense[cols[:, :, None], cols[:, None, :]]
    for held in (inv, held_sparse):
        np.testing.assert_allclose(held.solve(v), dense @ v, atol=1e-10 * scale * np.abs(v).max())
        np.testing.assert_allclose(held.solve(v[:, 0]), dense @ v[:, 0], atol=1e-10 * scale * np.abs(v).max())
        np.testing.assert_allclose(held.at_rows(cols), want, atol=1e-10 * scale)
        np.testing.assert_allclose(held.s11_diag, dense[lead[:, :, None], lead[:, None, :]], atol=1e-10 * scale)
