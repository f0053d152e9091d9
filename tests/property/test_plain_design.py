"""The fixed part built without formulaic (numeric columns and unordered categoricals after an
intercept: `design._plain_terms`) equals formulaic's model matrix, keys and names, on random
frames and formulas; other columns (ordered, logical, float levels) are left to formulaic."""

from __future__ import annotations

import formulaic
import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from mixedmodels.design import _Columns, _materialise
from mixedmodels.names import r_name

KINDS = ("float", "int", "cat_str", "cat_int", "cat_unused")


def _frame(seed: int, n: int, kinds: list[str]) -> pd.DataFrame:
    r = np.random.default_rng(seed)
    cols = {}
    for j, kind in enumerate(kinds):
        nlev = int(r.integers(2, 6))
        if kind == "float":
            cols[f"v{j}"] = r.normal(size=n)
        elif kind == "int":
            cols[f"v{j}"] = r.integers(-3, 9, n)
        elif kind == "cat_str":
            labels = [f"l {k}" if k % 2 else f"L{k}" for k in range(nlev)]
            codes = np.concatenate([np.arange(nlev), r.integers(0, nlev, max(n - nlev, 0))])[:n]
            cols[f"v{j}"] = pd.Categorical.from_codes(codes, categories=labels[::-1])
        elif kind == "cat_int":
            codes = np.concatenate([np.arange(nlev), r.integers(0, nlev, max(n - nlev, 0))])[:n]
            cols[f"v{j}"] = pd.Categorical.from_codes(codes, categories=list(range(10, 10 + 3 * nlev, 3)))
        else:  # a categorical with a level no row has
            cols[f"v{j}"] = pd.Categorical(r.integers(0, 2, n), categories=[0, 1, 7])
    return pd.DataFrame(cols)


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(6, 40),
    kinds=st.lists(st.sampled_from(KINDS), min_size=1, max_size=4),
    intercept=st.sampled_from(["", "1 + ", "0 + "]),
)
def test_the_plain_fixed_part_equals_formulaics(seed, n, kinds, intercept):
    df = _frame(seed, n, kinds)
    text = intercept + " + ".join(df.columns)
    x, keys, names, _ = _materialise(text, _Columns(df), "the fixed part")
    want = formulaic.model_matrix(text, df, na_action="ignore")
    assert keys == tuple(want.model_spec.column_names)
    assert names == tuple(r_name(k) for k in keys)
    np.testing.assert_array_equal(x, want.to_numpy(dtype=np.float64))


def test_other_columns_are_left_to_formulaic():
    df = pd.DataFrame(
        {
            "o": pd.Categorical(["a", "b", "a"], ordered=True),
            "f": pd.Categorical([1.5, 2.5, 1.5]),
            "one": pd.Categorical(["a", "a", "a"]),
        }
    )
    for col in df.columns:
        _, _, _, spec = _materialise(f"1 + {col}", _Columns(df), "the fixed part")
        assert type(spec).__name__ == "SafeSpec", col


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    kinds=st.lists(st.sampled_from(KINDS), min_size=1, max_size=4),
    fixed_pick=st.lists(st.integers(0, 3), min_size=1, max_size=4, unique=True),
    random_pick=st.lists(st.integers(0, 3), min_size=1, max_size=3, unique=True),
    intercepts=st.tuples(st.sampled_from(["", "1 + ", "0 + "]), st.sampled_from(["", "1 + ", "0 + "])),
    extra=st.sampled_from(["", " + I(w * 2)"]),
)
def test_random_columns_taken_from_the_fixed_part_are_its_own(seed, kinds, fixed_pick, random_pick, intercepts, extra):
    """A random-effects term whose columns the fixed part has (``(1 + x | g)`` beside ``y ~ x``, in
    any order, formulaic's fixed part or the plain one) takes them from it: the same keys, names and
    values as built on its own."""
    df = _frame(seed, 30, kinds)
    names = list(df.columns)
    df["w"] = np.linspace(-1.0, 2.0, len(df))  # a numeric column for formulaic's fixed part
    fixed = intercepts[0] + " + ".join(names[i % len(names)] for i in fixed_pick) + extra
    random = intercepts[1] + " + ".join(names[i % len(names)] for i in random_pick)
    data = _Columns(df)
    x, fixed_keys, _, _ = _materialise(fixed, data, "the fixed part")
    alone = _materialise(random, data, "the random part")
    taken = _materialise(random, data, "the random part", built=(x, fixed_keys))
    assert taken[1:3] == alone[1:3]
    np.testing.assert_array_equal(taken[0], alone[0])
    assert taken[0].flags.c_contiguous
    assert not np.shares_memory(taken[0], x)
