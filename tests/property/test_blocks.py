"""An engine built from blocks of A summed over chunks of rows equals the one built from the rows:
the primitive for streamed and distributed fits."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mixedmodels as mm
from mixedmodels import _core
from mixedmodels.blocks import add_blocks, engine_from_blocks, partial_blocks
from mixedmodels.design import build_design

FORMULAS = [
    ("Reaction ~ Days + (Days | Subject)", "sleepstudy"),
    ("diameter ~ 1 + (1 | plate) + (1 | sample)", "penicillin"),
    ("strength ~ 1 + (1 | batch/cask)", "pastes"),
    ("mAch ~ ses * sector + (ses | school)", "hsb"),
]


@pytest.mark.parametrize(("formula", "data"), FORMULAS)
@settings(max_examples=10, deadline=None)
@given(cuts=st.lists(st.floats(0.05, 0.95), min_size=0, max_size=4))
def test_chunked_blocks_give_the_same_engine(fits, formula, data, cuts):
    d = build_design(formula, fits.data(data))
    edges = [0] + sorted({int(c * d.nobs) for c in cuts}) + [d.nobs]
    parts = [partial_blocks(d, slice(a, b)) for a, b in zip(edges[:-1], edges[1:], strict=True) if b > a]
    e1 = engine_from_blocks(d, add_blocks(*parts))
    e2 = _core.Engine(d.y, d.x, d.engine_factors())
    assert e1.describe() == e2.describe()
    rng = np.random.default_rng(len(parts))
    for _ in range(3):
        theta = np.where(d.theta_lower == 0, rng.uniform(0.2, 1.5, d.ntheta), rng.normal(0, 0.3, d.ntheta))
        for reml in (True, False):  # the blocks are correctly rounded sums: bit for bit equal
            assert e1.objective(theta, reml) == e2.objective(theta, reml)
        b1, u1 = e1.solve()
        b2, u2 = e2.solve()
        np.testing.assert_allclose(b1, b2, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(u1, u2, rtol=1e-8, atol=1e-10)


def test_bad_blocks_are_refused(fits):
    d = build_design("Reaction ~ Days + (Days | Subject)", fits.data("sleepstudy"))
    b = partial_blocks(d)
    b.diag[0] = (b.diag[0][0][:3], b.diag[0][1][:3])
    with pytest.raises(mm.CoreError, match="shape"):
        engine_from_blocks(d, b)
