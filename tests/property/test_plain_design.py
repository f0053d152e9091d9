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
