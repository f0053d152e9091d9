"""Cross-products summed over chunks of rows equal those of all the rows at once, bit for bit: the
primitive for streamed and distributed fits."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mixedmodels as mm
from mixedmodels import _core
from mixedmodels.data import Rows
from mixedmodels.model import LinearMixedModel

FORMULAS = [
    ("Reaction ~ Days + (Days | Subject)", "sleepstudy"),
    ("diameter ~ 1 + (1 | plate) + (1 | sample)", "penicillin"),
    ("strength ~ 1 + (1 | batch/cask)", "pastes"),
    ("mAch ~ ses * sector + (ses | school)", "hsb"),
]


def _rows(rows: Rows, a: int, b: int) -> Rows:
    return Rows(
        rows.y[a:b], rows.x[a:b], tuple(c[a:b] for c in rows.codes), tuple(z[a:b] for z in rows.z), rows.index[a:b]
    )


@pytest.mark.parametrize(("formula", "data"), FORMULAS)
@settings(max_examples=10, deadline=None)
@given(cuts=st.lists(st.floats(0.05, 0.95), min_size=0, max_size=4), tree=st.booleans())
def test_chunked_cross_products_give_the_same_engine(fits, formula, data, cuts, tree):
    model = LinearMixedModel.from_formula(formula, fits.data(data))
    rows = model.data.rows("test")
    n = rows.nobs
    layout = model.structure.core_layout
    edges = [0] + sorted({int(c * n) for c in cuts}) + [n]
    parts = [_rows(rows, a, b).cross_products(layout) for a, b in zip(edges[:-1], edges[1:], strict=True) if b > a]
    if tree:  # summed pairwise as a Dask reduction does, each part pickled as between processes
        parts = [pickle.loads(pickle.dumps(p)) for p in parts]
        while len(parts) > 1:
            parts = [parts[i] + parts[i + 1] if i + 1 < len(parts) else parts[i] for i in range(0, len(parts), 2)]
        total = parts[0]
    else:  # added one by one as a streamed pass does
        total = _core.CrossProducts(layout)
        for p in parts:
            total.add(p)
    assert total.nobs == n
    e1 = _core.Engine(total)
    e2 = model.new_engine()
    assert [[str(b) for b in r] for r in e1.describe()] == [[str(b) for b in r] for r in e2.describe()]
    rng = np.random.default_rng(len(parts))
    lower = model.structure.theta.lower
    for _ in range(3):
        theta = np.where(lower == 0, rng.uniform(0.2, 1.5, len(lower)), rng.normal(0, 0.3, len(lower)))
        for reml in (True, False):  # the blocks are correctly rounded sums: bit for bit equal
            assert e1.objective(theta, reml) == e2.objective(theta, reml)
        b1, u1 = e1.solve()
        b2, u2 = e2.solve()
        np.testing.assert_array_equal(b1, b2)
        np.testing.assert_array_equal(u1, u2)


def test_mismatched_cross_products_are_refused(fits):
    sleep = LinearMixedModel.from_formula("Reaction ~ Days + (Days | Subject)", fits.data("sleepstudy"))
    other = LinearMixedModel.from_formula("Reaction ~ Days + (1 | Subject)", fits.data("sleepstudy"))
    with pytest.raises(mm.CoreError, match="different layouts"):
        _core.CrossProducts(sleep.structure.core_layout).add(other.cross_products)
    state = list(sleep.cross_products.__getstate__())
    blocks = list(state[4])
    kind, hi, lo, colptr, rowlev = blocks[0]
    blocks[0] = (kind, hi[:3], lo[:3], colptr, rowlev)
    state[4] = blocks
    broken = _core.CrossProducts.__new__(_core.CrossProducts)
    with pytest.raises(mm.CoreError, match="does not fit the layout"):
        broken.__setstate__(tuple(state))
