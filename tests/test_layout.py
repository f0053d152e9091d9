"""The theta layout: lme4's order and names, the map to the engine's blocks, and the sd/cor scale."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mixedmodels.layout import ThetaLayout, tril_pairs


def test_lower_triangle_column_by_column():
    assert tril_pairs(1) == ((0, 0),)
    assert tril_pairs(2) == ((0, 0), (1, 0), (1, 1))
    assert len(tril_pairs(5)) == 15


def test_names_bounds_and_sdcor_names():
    lay = ThetaLayout([("g", ("(Intercept)", "x"), 0, 0), ("g", ("z",), 0, 2), ("h", ("(Intercept)",), 1, 0)], [3, 1])
    assert lay.names == ("g.(Intercept)", "g.x.(Intercept)", "g.x", "g.z", "h.(Intercept)")
    assert lay.lower.tolist() == [0.0, -np.inf, 0.0, 0.0, 0.0]
    assert lay.sdcor_names == [".sig01", ".sig02", ".sig03", ".sig04", ".sig05", ".sigma"]
    assert [t.name for t in lay.terms] == ["g", "g.1", "h"]
    with pytest.raises(ValueError, match="read-only"):
        lay.lower[0] = 1.0


def test_factor_t_is_block_diagonal_over_the_factors_terms():
    lay = ThetaLayout([("g", ("(Intercept)", "x"), 0, 0), ("g", ("z",), 0, 2)], [3])
    t = lay.factor_t(np.array([1.0, 2.0, 3.0, 4.0]), 0)
    np.testing.assert_array_equal(t, [[1.0, 0.0, 0.0], [2.0, 3.0, 0.0], [0.0, 0.0, 4.0]])
    cf = lay.core_factors([7])[0]
    assert (cf.nlev, cf.k) == (7, 3)
    assert cf.theta_index.tolist() == [0, 1, 2, 3]
    assert cf.theta_row.tolist() == [0, 1, 1, 2]
    assert cf.theta_col.tolist() == [0, 0, 1, 2]


@settings(max_examples=100, deadline=None)
@given(
    k=st.integers(1, 4),
    seed=st.integers(0, 10_000),
    sigma=st.floats(0.01, 100.0),
)
def test_sdcor_round_trip(k, seed, sigma):
    lay = ThetaLayout([("g", tuple(f"c{i}" for i in range(k)), 0, 0), ("h", ("(Intercept)",), 1, 0)], [k, 1])
    rng = np.random.default_rng(seed)
    theta = np.where(lay.on_diagonal, rng.uniform(0.1, 2.0, lay.ntheta), rng.normal(0, 1, lay.ntheta))
    v = lay.to_sdcor(theta, sigma)
    back = lay.from_sdcor(v)
    assert back is not None
    np.testing.assert_allclose(back, theta, rtol=1e-8, atol=1e-10)
    lo, hi = lay.sdcor_bounds()
    assert np.all(v >= lo)
    assert np.all(v <= hi)


def test_invalid_correlations_have_no_theta():
    lay = ThetaLayout([("g", ("a", "b", "c"), 0, 0)], [3])
    # pairwise correlations 0.9, -0.9, 0.9: not a valid correlation matrix
    v = np.array([1.0, 0.9, -0.9, 1.0, 0.9, 1.0, 1.0])
    assert lay.from_sdcor(v) is None
