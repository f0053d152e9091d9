"""Adversarial checks of the post-estimation layer (issue 17) on lmer fits: each test is a finding
that failed before its fix. R's numbers (lme4 1.1-31, emmeans 1.8.4-1, pbkrtest 0.5.2) come from
tests/reference/postestimation_adversarial/make_adversarial.R and its JSON output."""

from __future__ import annotations

import json
import pickle
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import mixedmodels as mm
from mixedmodels.inference import inference_for


@pytest.fixture(scope="module")
def sleep() -> pd.DataFrame:
    return mm.datasets.load("sleepstudy")


def _lmer(formula: str, data: pd.DataFrame, **kwargs: object) -> mm.LmerResult:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return mm.lmer(formula, data, **kwargs)


# ------------------------------------------------------------------ pickling after predict(se_fit=True)
def test_pickle_after_prediction_standard_errors(sleep: pd.DataFrame) -> None:
    # the cached sparse LU of the conditional standard errors made the fit unpicklable
    m = _lmer("Reaction ~ Days + (Days | Subject)", sleep)
    before = m.predict(sleep.head(4), se_fit=True)
    back = pickle.loads(pickle.dumps(m))
    after = back.predict(sleep.head(4), se_fit=True)
    np.testing.assert_allclose(after.to_numpy(), before.to_numpy(), rtol=1e-12)


# ------------------------------------------------------------------ R's numbers
REF_DIR = Path(__file__).parent / "reference" / "postestimation_adversarial"


@pytest.fixture(scope="module")
def ref() -> dict[str, Any]:
    out: dict[str, Any] = json.loads((REF_DIR / "adversarial.json").read_text())
    return out


@pytest.fixture(scope="module")
def extra() -> pd.DataFrame:
    d = pd.read_csv(REF_DIR / "sleep_extra.csv")
    d["Subject"] = d["Subject"].astype(str)
    return d


def _r_column(table: list[dict[str, Any]], col: str) -> np.ndarray:
    return np.array([np.nan if r[col] is None else r[col] for r in table], dtype=float)


# ------------------------------------------------------------------ Kenward-Roger with prior weights
def test_kenward_roger_with_prior_weights_is_pbkrtests(extra: pd.DataFrame, ref: dict[str, Any]) -> None:
    # pbkrtest's vcovAdj starts from Phi = vcov(m); the weighted fit's (X' Sigma^-1 X)^-1 with
    # pbkrtest's unweighted Sigma gave SEs 2% too large (9.63 against R's 9.44)
    m = _lmer("Reaction ~ Days + g + (1 | Subject)", extra, weights="w")
    r = ref["weights"]
    np.testing.assert_allclose(inference_for(m).kenward_roger.phi_adj, np.array(r["vcovAdj"]), rtol=1e-5)
    t = m.emmeans("~ g").frame
    for ours, theirs in [("emmean", "emmean"), ("SE", "SE"), ("df", "df"), ("lower.CL", "lower.CL")]:
        np.testing.assert_allclose(t[ours].to_numpy(), _r_column(r["emmeans_g"], theirs), rtol=1e-5)


# ------------------------------------------------------------------ offset() terms in emmeans
def test_emmeans_holds_an_offset_variable_at_its_mean(extra: pd.DataFrame, ref: dict[str, Any]) -> None:
    # the reference grid had no column for offset(off): emmeans raised a DataError
    m = _lmer("Reaction ~ Days + g + offset(off) + (1 | Subject)", extra)
    t = m.emmeans("~ g").frame
    r = ref["offset"]["emmeans_g"]
    for col in ("emmean", "SE", "df", "upper.CL"):
        np.testing.assert_allclose(t[col].to_numpy(), _r_column(r, col), rtol=1e-5)


# ------------------------------------------------------------------ empty cells: non-estimable means
@pytest.mark.parametrize(
    ("key", "make"),
    [
        ("emmeans_recipe", lambda m: m.emmeans("~ recipe")),
        ("emmeans_recipe_by_temperature", lambda m: m.emmeans("~ recipe | temperature")),
        ("pairs_recipe", lambda m: m.emmeans("~ recipe").pairs()),
        ("pairs_recipe_by_temperature", lambda m: m.emmeans("~ recipe | temperature").pairs()),
    ],
)
def test_empty_cell_means_are_not_estimable(key: str, make: Any, ref: dict[str, Any]) -> None:
    # with recipe C missing at 175 lme4 drops an aliased column; emmeans reports C's mean (and the
    # contrasts with it) as nonEst, where the dropped column had silently been taken as 0
    cake = mm.datasets.load("cake")
    empty = cake[~((cake["recipe"] == "C") & (cake["temperature"].astype(str) == "175"))]
    m = _lmer("angle ~ recipe * temperature + (1 | recipe:replicate)", empty)
    table = make(m).summary()
    r = ref["empty_cell"][key]
    est = "emmean" if "emmean" in r[0] else "estimate"
    for col in (est, "SE", "df", "lower.CL", "upper.CL", "t.ratio", "p.value"):
        np.testing.assert_allclose(
            table[col].to_numpy(dtype=float), _r_column(r, col), rtol=1e-5, atol=1e-8, err_msg=col
        )
    assert "nan" in str(make(m)).lower()  # printing copes with the NaN rows
