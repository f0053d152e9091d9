"""lmlist against lme4's lmList, which fits lm to each group's rows: a column aliased within a group
(a column twice over) is NA and the others estimated (the whole group had been NaN); a factor has
the group's levels (one lacking the first level has the next as reference; one with a single level
has no fit); scale(x) is the group's (it had been learnt from all rows). lmlist/lmlist.json, written
by make_lmlist.R in that folder; the tests never run R."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mixedmodels as mm

HERE = Path(__file__).parent / "lmlist"
REF = json.loads((HERE / "lmlist.json").read_text())


@pytest.mark.parametrize("case", REF["cases"], ids=[c["formula"] for c in REF["cases"]])
def test_aliased_columns_are_nan_and_the_others_r_s(case):
    d = pd.read_csv(HERE / "lmlist.csv")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mm.MixedModelsWarning)  # (a group with no fit, as R warns)
        fits = mm.lmlist(case["formula"], d)
    assert list(fits.coef.index) == case["groups"]
    assert list(fits.coef.columns) == case["columns"]
    expected = np.array([[np.nan if v is None else v for v in row] for row in case["coef"]], dtype=float)
    np.testing.assert_allclose(fits.coef.to_numpy(), expected, rtol=1e-9, atol=1e-12)
