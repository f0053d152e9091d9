"""Aliased fixed-effects columns are dropped as lme4 drops them (issue 15, item 2): the same kept
columns, names and order, a warning naming the dropped ones, and lme4's fit. The reference is
aliasing/aliasing.json (and its data aliasing.csv), written by make_aliasing.R in that folder with
R 4.2 and lme4 1.1-31; the tests never run R.

The cases: a three-way interaction of factors whose baselines are not their first levels in
sorted order, with empty cells; duplicated and linearly dependent covariates (in either order); a
factor and an indicator of one of its levels; aliasing and a zero column that appear only once the
rows with a missing value are dropped; a slope missing in one level of a factor.
"""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mixedmodels as mm

HERE = Path(__file__).parent / "aliasing"
REFERENCE = json.loads((HERE / "aliasing.json").read_text())
CASES = {c["id"]: c for c in REFERENCE["cases"]}


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    d = pd.read_csv(HERE / "aliasing.csv")
    for name, levels in REFERENCE["levels"].items():
        d[name] = pd.Categorical(d[name], categories=levels)
    return d


def _list(v: str | list[str]) -> list[str]:
    return [v] if isinstance(v, str) else list(v)


@pytest.mark.parametrize("case_id", sorted(CASES))
def test_aliased_columns_are_dropped_as_lme4_drops_them(data, case_id):
    case = CASES[case_id]
    dropped = _list(case["dropped"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        m = mm.lmer(case["formula"], data)
    messages = [str(w.message) for w in caught if issubclass(w.category, mm.MixedModelsWarning)]
    rank = [msg for msg in messages if "rank deficient" in msg]
    assert len(rank) == 1, messages
    count = f"{len(dropped)} column{'s' if len(dropped) > 1 else ''}"
    assert rank[0] == f"fixed-effect model matrix is rank deficient so dropping {count}: {', '.join(dropped)}"
    assert re.search(rf"dropping {len(dropped)} column", case["messages"][0])  # lme4 says how many
    assert m.nobs == case["nobs"]
    assert list(m.fixef.index) == _list(case["kept"])
    assert list(m.structure.dropped_fixed) == dropped
    assert list(m.structure.fixed_names) + dropped == sorted(
        _list(case["all_columns"]), key=lambda c: c in dropped
    )  # the kept ones in lme4's order, all of R's columns
    np.testing.assert_allclose(m.fixef, case["fixef"], rtol=1e-5, atol=1e-7)
    assert m.sigma == pytest.approx(case["sigma"], rel=1e-5)
    assert m.objective == pytest.approx(case["REMLcrit"], rel=1e-8)
    np.testing.assert_allclose(m.theta, case["theta"], rtol=1e-4, atol=1e-6)
    # prediction replays the kept columns on new rows
    np.testing.assert_allclose(m.predict(data.dropna(subset=["w"]) if "w" in case["formula"] else data), m.fitted())


@pytest.mark.parametrize("case_id", ["four_way_many_empty_cells", "after_missing_rows", "zero_after_missing_rows"])
def test_streamed_data_drops_the_same_columns(data, case_id):
    """The checks run on the cross-products, so data read in chunks drops the same columns."""
    from mixedmodels.stream import model_from_source

    case = CASES[case_id]
    with pytest.warns(mm.MixedModelsWarning, match="rank deficient") as caught:
        model = model_from_source(case["formula"], [data.iloc[:100], data.iloc[100:200], data.iloc[200:]])
    assert sum("rank deficient" in str(w.message) for w in caught) == 1
    assert list(model.structure.fixed_names) == _list(case["kept"])
    assert list(model.structure.dropped_fixed) == _list(case["dropped"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mm.MixedModelsWarning)
        fit = model.fit()
    assert fit.objective == pytest.approx(case["REMLcrit"], rel=1e-8)
