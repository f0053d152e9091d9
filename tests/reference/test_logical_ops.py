"""R's logical operators & | ! in a formula's calls and terms, against lme4 (logical_ops/):
the REML criterion, fixed effects with R's names, theta, and predictions for new rows."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mixedmodels as mm
from mixedmodels.emmeans import emmeans

HERE = Path(__file__).parent / "logical_ops"
REF = json.loads((HERE / "logical_ops.json").read_text())
EMMEANS = REF.pop("emmeans")
# lme4 stops 3.3e-9 above the criterion's minimum here (at its theta our criterion is 831.5239199538,
# our fit 831.5239199505): its fixed effects agree to 4e-6 relative, its predictions to 5.2e-6
SHORT = {"y ~ factor(!flag) + (1 + (x > 0 & z > 0) | g)": 1e-5}


def _frame(name: str) -> pd.DataFrame:
    d = pd.read_csv(HERE / name)
    return d.assign(flag=d.flag.astype(bool))


@pytest.fixture(scope="module")
def fits() -> dict[str, mm.LmerResult]:
    d = _frame("logical_ops.csv")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mm.SingularFitWarning)
        return {f: mm.lmer(f, d) for f in REF}


@pytest.mark.parametrize("formula", list(REF))
def test_fit_is_lme4s(fits, formula):
    ref, m = REF[formula], fits[formula]
    assert m.objective == pytest.approx(ref["reml"], rel=1e-9)
    assert m.objective <= ref["reml"] + 1e-10 * ref["reml"]
    rtol = SHORT.get(formula, 1e-6)
    np.testing.assert_allclose(m.fixef.to_numpy(), list(ref["fixef"].values()), rtol=rtol, atol=1e-7)
    np.testing.assert_allclose(m.theta, ref["theta"], rtol=10 * rtol, atol=1e-6)
    if ref["r"] == formula:  # (a formula with | is R's De Morgan rewrite, named as rewritten)
        assert list(m.fixef.index) == list(ref["fixef"])


@pytest.mark.parametrize("formula", list(REF))
def test_predictions_are_lme4s(fits, formula):
    ref, m = REF[formula], fits[formula]
    new = _frame("newdata.csv")
    rtol = SHORT.get(formula, 1e-6)
    np.testing.assert_allclose(m.predict(new), ref["predict"], rtol=rtol, atol=rtol / 10 if rtol < 1e-5 else rtol)
    np.testing.assert_allclose(m.predict(new, include_re=False), ref["predict_fixed"], rtol=rtol, atol=1e-7)


def test_a_negation_on_the_right_of_a_comparison_is_named_as_r_deparses_it():
    m = mm.lmer("y ~ I(k == !flag) + (1 | g)", _frame("logical_ops.csv"))
    assert list(m.fixef.index) == ["(Intercept)", "I(k == !flag)TRUE"]


def test_names_of_the_or_formulas():
    d = _frame("logical_ops.csv")
    m = mm.lmer("y ~ I(x > 0 | z > 1) * z + scale(x > 0 & (z > 0 | flag)) + (1 | g)", d)
    assert list(m.fixef.index) == [
        "(Intercept)",
        "I(x > 0 | z > 1)TRUE",
        "z",
        "scale(x > 0 & (z > 0 | flag))",
        "I(x > 0 | z > 1)TRUE:z",
    ]


def test_a_row_that_r_drops_for_another_missing_value_is_not_refused():
    # x missing and flag FALSE (decided), but the row lacks the response, its group or x itself as a
    # term: R drops it as the fit does (lme4: 297 rows, REML 834.8029 and 837.5899)
    d = _frame("logical_ops.csv")
    d.loc[[0, 1, 2], "x"] = np.nan
    d.loc[[0, 1, 2], "flag"] = [False, True, False]
    assert mm.lmer("y ~ x + I(x > 0 & flag) + (1 | g)", d).objective == pytest.approx(834.8029, abs=1e-4)
    no_y = d.assign(y=d.y.where(~d.index.isin([0, 2])))
    assert mm.lmer("y ~ I(x > 0 & flag) + (1 | g)", no_y).objective == pytest.approx(837.5899, abs=1e-4)
    no_g = d.assign(g=d.g.astype(object).where(~d.index.isin([0, 2]), None))
    assert mm.lmer("y ~ I(x > 0 & flag) + (1 | g)", no_g).nobs == 297


def test_a_row_that_r_keeps_by_its_logic_is_refused_not_dropped():
    # x missing, flag FALSE: R's x > 0 & flag is FALSE and its model frame keeps the row; the fit
    # drops every row with a missing value, so it refuses rather than fit other rows than lme4's
    d = _frame("logical_ops.csv")
    d.loc[[0, 1, 2], "x"] = np.nan
    d.loc[[0, 1, 2], "flag"] = [False, True, False]
    with pytest.raises(mm.DataError, match="2 rows have a missing value that R's & or | decides"):
        mm.lmer("y ~ I(x > 0 & flag) + (1 | g)", d)
    # where the logic leaves it missing (NA & TRUE), R drops the row too: fitted on the others
    d.loc[[0, 2], "flag"] = True
    m = mm.lmer("y ~ I(x > 0 & flag) + (1 | g)", d)
    assert m.nobs == 297


@pytest.mark.parametrize(
    ("formula", "message"),
    [
        ("y ~ I(x && z) + (1 | g)", "R's && reads one value"),
        ("y ~ I(x || z) + (1 | g)", "R's || reads one value"),
        ("y ~ I(g & flag) + (1 | g)", "reads logicals and numbers, not text or a factor"),
        ("y ~ I(x and z) + (1 | g)", "cannot read"),
    ],
)
def test_refusals(formula, message):
    with pytest.raises((mm.FormulaError, mm.DataError), match=message):
        mm.lmer(formula, _frame("logical_ops.csv"))


@pytest.mark.parametrize("formula", list(EMMEANS))
def test_emmeans_is_rs(formula):
    ref = EMMEANS[formula]
    t = emmeans(mm.lmer(formula, _frame("logical_ops.csv")), "k").summary()
    np.testing.assert_allclose(t["emmean"], ref["emmean"], rtol=1e-7)
    np.testing.assert_allclose(t["SE"], ref["SE"], rtol=1e-6)
    np.testing.assert_allclose(t["df"], ref["df"], rtol=1e-6)


def test_streamed_rows_follow_the_same_rule():
    # rows 0 and 2: x missing and flag FALSE (decided) but no weight: R drops them, in memory and
    # streamed alike (the stream's first pass, which reads no weights, does not refuse them)
    d = _frame("logical_ops.csv")
    d.loc[[0, 1, 2], "x"] = np.nan
    d.loc[[0, 1, 2], "flag"] = [False, True, False]
    d["w"] = np.where(d.index.isin([0, 2]), np.nan, 1.0 + (d.index % 3))
    formula = "y ~ I(x > 0 & flag) + (1 | g)"
    whole = mm.lmer(formula, d, weights="w")
    streamed = mm.lmer(formula, [d[:150], d[150:]], weights="w")
    assert whole.nobs == streamed.nobs == 297
    assert streamed.objective == pytest.approx(whole.objective, rel=1e-10)
    with pytest.raises(mm.DataError, match="2 rows have a missing value"):
        mm.lmer(formula, [d.assign(w=1.0)[:150], d.assign(w=1.0)[150:]], weights="w")
