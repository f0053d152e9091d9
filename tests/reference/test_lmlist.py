"""lmlist against lme4's lmList where a column is aliased within a group (a factor's level the group
lacks, a column twice over): R's lm keeps the columns in order and gives NA for an aliased one,
estimating the others; the whole group had been NaN (lmlist/lmlist.json, written by make_lmlist.R
in that folder; the tests never run R)."""

from __future__ import annotations

import json
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
    fits = mm.lmlist(case["formula"], d)
    assert list(fits.coef.index) == case["groups"]
    assert list(fits.coef.columns) == case["columns"]
    expected = np.array([[np.nan if v is None else v for v in row] for row in case["coef"]], dtype=float)
    np.testing.assert_allclose(fits.coef.to_numpy(), expected, rtol=1e-9, atol=1e-12)
