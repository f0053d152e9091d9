"""A comparison of a column with missing values read by a stateful transform (``scale(x > 0)``,
``scale((x > 0) * w)``, ``bs(w + (x > 0))``): R's NA > 0 is NA, so the transform learns its state
from the rows where the column is present; pandas compares NaN as False, and the state had been
learnt from those rows too (a review's finding: REML 432.1754 for lme4's 432.0431). Against lme4
1.1-31 (comparisons_na/comparisons_na.json, written by make_comparisons_na.R in that folder; the
tests never run R), in memory and streamed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mixedmodels as mm

HERE = Path(__file__).parent / "comparisons_na"
REF = json.loads((HERE / "comparisons_na.json").read_text())
CASES = {case["formula"]: case for case in REF["cases"]}


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return pd.read_csv(HERE / "comparisons_na.csv", dtype={"g": str})


@pytest.mark.filterwarnings("ignore::mixedmodels.SingularFitWarning")
@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")  # numpy's log(-5) in new rows
@pytest.mark.parametrize("formula", list(CASES))
def test_a_transform_of_a_comparison_learns_from_the_rows_r_does(data, formula):
    case = CASES[formula]
    m = mm.lmer(formula, data)
    assert m.nobs == case["nobs"]
    assert m.objective == pytest.approx(case["reml_criterion"], rel=1e-8)
    assert list(m.fixef.index) == case["fixef_names"]
    np.testing.assert_allclose(m.fixef.to_numpy(), case["fixef"], rtol=1e-5, atol=1e-6)
    streamed = mm.lmer(formula, [data.iloc[:100], data.iloc[100:220], data.iloc[220:]])
    assert streamed.objective == pytest.approx(m.objective, rel=1e-10)
    # new rows (R's na.pass): NA where a compared column is missing or a comparison meets a NaN
    new = data.iloc[:8].copy()
    new.loc[new.index[1], "xna"] = np.nan
    new.loc[new.index[2], "xna"] = -10.0  # log(xna + 5) is NaN
    new["x.b"] = new["xna"]
    expected = np.array([np.nan if v == "NA" else v for v in np.ravel(case["predict"])], dtype=float)
    if "offset(" in formula:  # lme4 learns a transform inside offset() again from the new rows; we keep the fit's
        np.testing.assert_array_equal(np.isnan(m.predict(new).to_numpy()), np.isnan(expected))
    else:
        np.testing.assert_allclose(m.predict(new).to_numpy(), expected, rtol=1e-5, atol=1e-6)


def test_a_transform_of_a_comparison_replays_its_state_on_new_data(data):
    # the state learnt in the fit serves new rows (a name formulaic aliases, x.b, too): a prediction
    # of some rows is that of all rows; rows whose compared column is missing predict NaN
    for formula in ("y ~ scale(xna > 0) + (1 | g)", "y ~ scale(x.b > 0) + w + (1 | g)"):
        m = mm.lmer(formula, data)
        present = data.dropna(subset=["xna"])
        np.testing.assert_allclose(m.predict(present.iloc[[0, 2]]), m.predict(present).to_numpy()[[0, 2]])
        assert np.isnan(m.predict(data[data["xna"].isna()].iloc[:2])).all()


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")  # numpy's log(-1)
@pytest.mark.parametrize(
    ("formula", "error", "match"),
    [
        (
            "y ~ scale(log(w) > 0) + (1 | g)",
            mm.DataError,
            "a comparison \\(>\\) meets 137 missing values that the formula",
        ),
        ("y ~ (log(w) > 0) + (1 | g)", mm.DataError, "R reads each as NA and drops its row"),
        ("y ~ factor(sqrt(w) >= 1) + (1 | g)", mm.DataError, "a comparison \\(>=\\) meets"),
        ("y ~ scale(0 < xna < 1) + (1 | g)", mm.FormulaError, "R cannot read a chained comparison"),
        ("y ~ scale(xna > 0, w > 0) + (1 | g)", mm.DataError, "center and scale must each be TRUE, FALSE or one"),
    ],
)
def test_what_r_refuses_or_reads_as_na_is_refused_by_name(data, formula, error, match):
    # a NaN the formula makes (log of a negative number) compared is NA in R, which drops the row: here
    # an error naming it (it had counted as FALSE, another model than lme4's); R's parser refuses
    # 0 < x < 1, and scale() refuses a column as its centre
    with pytest.raises(error, match=match):
        mm.lmer(formula, data)


def test_emmeans_beside_a_comparison_holds_its_covariate_at_the_mean(data):
    # R's emmeans: xna is a covariate of the grid, at its mean (where xna > 0 is TRUE); it had been a
    # factor of all its values, averaged over (another mean than R's)
    ref = REF["emmeans"]
    em = mm.lmer(ref["formula"], data).emmeans("hna").frame
    assert list(em["hna"]) == ref["levels"]
    np.testing.assert_allclose(em["emmean"], ref["emmean"], rtol=1e-7)
    np.testing.assert_allclose(em["SE"], ref["SE"], rtol=1e-6)
    np.testing.assert_allclose(em["df"], ref["df"], rtol=1e-6)
