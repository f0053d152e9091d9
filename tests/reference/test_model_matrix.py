"""Model matrices of R formulas against R's and lme4's (tests/reference/model_matrix, written by its
make_model_matrix.R with R 4.2 and lme4 1.1; the tests read the JSON and never run R).

Each case is lme4's ``lFormula``: rows with a missing value dropped (inside transforms too), the
fixed-effects matrix (names where our naming follows lme4's, and values), each random-effects
term's columns, and the response; for some (splines, poly, scale), also the fixed-effects matrix
of new rows, some beyond the boundary knots, which the fit's encoding must replay as R does.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mixedmodels as mm
from mixedmodels.design import materialise

HERE = Path(__file__).parent / "model_matrix"
REFERENCE = json.loads((HERE / "model_matrix.json").read_text())
CASES = {c["id"]: c for c in REFERENCE["cases"]}
RTOL = 1e-9


def _synthetic() -> pd.DataFrame:
    d = pd.read_csv(HERE / "synthetic.csv")
    d["u"] = d["u"].astype(np.uint8)  # R's integers; small unsigned ones in Python must not wrap
    d["b"] = d["b"].astype(bool)
    for c in ("g", "h"):
        d[c] = pd.Categorical(d[c])
    return d


_FRAMES: dict[str, pd.DataFrame] = {}


def _frame(name: str) -> pd.DataFrame:
    if name not in _FRAMES:
        _FRAMES[name] = _synthetic() if name == "synthetic" else mm.datasets.load(name)
    return _FRAMES[name]


def _close(ours: np.ndarray, head: list, totals: dict, what: str) -> None:
    ours = np.asarray(ours, dtype=float)
    totals = {k: np.atleast_1d(np.asarray(v, dtype=float)) for k, v in totals.items()}
    head_ours = ours[: len(head[0])] if ours.ndim == 2 and head else ours
    expected = np.column_stack([np.asarray(c, dtype=float) for c in head]) if head else np.empty((0, 0))
    np.testing.assert_allclose(head_ours, expected, rtol=RTOL, atol=1e-10, err_msg=what)
    scale = np.maximum(totals["sumsq"], 1.0)
    np.testing.assert_allclose(ours.sum(axis=0), totals["sum"], rtol=0, atol=1e-8 * scale.max(), err_msg=what)
    np.testing.assert_allclose((ours**2).sum(axis=0), totals["sumsq"], rtol=1e-9, err_msg=what)


def _list(v: str | list[str]) -> list[str]:
    """R's JSON writes a one-element vector as a scalar."""
    return [v] if isinstance(v, str) else list(v)


def test_enough_cases_from_r():
    assert len(CASES) >= 30
    assert REFERENCE["lme4"].startswith("1.1")


@pytest.mark.parametrize("case_id", sorted(CASES))
def test_model_matrix_matches_lme4(case_id):
    case = CASES[case_id]
    structure, data = materialise(case["ours"], _frame(case["data"]))
    rows = data.rows("test")
    assert rows.nobs == case["nobs"]
    if case["names"]:
        assert list(structure.fixed_names) == _list(case["x_names"])
    else:
        assert len(structure.fixed_names) == len(_list(case["x_names"]))
    _close(rows.x, case["x_head"], case["x_totals"], f"{case_id}: X")
    np.testing.assert_allclose(rows.y[: case["rows"]], case["y_head"], rtol=RTOL, err_msg=f"{case_id}: y")
    assert len(structure.terms) == len(case["random"])
    for t, expected in enumerate(case["random"]):
        term = structure.terms[t]
        assert term.group == expected["group"]
        if case["names"]:
            assert list(term.columns) == _list(expected["columns"])
        fi = next(i for i, f in enumerate(structure.factors) if t in f.terms)
        factor = structure.factors[fi]
        offset = factor.term_offsets[factor.terms.index(t)]
        z = rows.z[fi][:, offset : offset + term.k]
        _close(z, expected["head"], expected["totals"], f"{case_id}: random term {t}")


PREDICT = sorted(c for c, case in CASES.items() if case.get("new_x"))


def _new_rows(d: pd.DataFrame) -> pd.DataFrame:
    """make_model_matrix.R's new rows: the first 8, every numeric column c as 1.7 c + 0.3."""
    nd = d.iloc[:8].copy()
    for c in nd.columns:
        if pd.api.types.is_numeric_dtype(nd[c].dtype) and not pd.api.types.is_bool_dtype(nd[c].dtype):
            nd[c] = 1.7 * nd[c].astype(float) + 0.3
    return nd


def test_cases_with_new_rows():
    assert {"ns_df", "bs_df", "bs_knots", "ns_knots", "hsb_bs", "sleep_ns"} <= set(PREDICT)


@pytest.mark.parametrize("case_id", PREDICT)
def test_new_rows_replay_the_fit_as_r_does(case_id):
    """R's makepredictcall: new rows (some beyond the boundary knots, where bs extrapolates the
    boundary polynomials and ns straight lines) get the fit's knots, centre and polynomial basis."""
    case = CASES[case_id]
    structure, _ = materialise(case["ours"], _frame(case["data"]))
    new = _new_rows(_frame(case["data"]))
    ours = structure.encoding.fixed_matrix(new, structure.fixed_keys)
    expected = np.column_stack([np.asarray(c, dtype=float) for c in case["new_x"]])
    np.testing.assert_allclose(ours, expected, rtol=1e-9, atol=1e-10 * max(1.0, np.abs(expected).max()))


@pytest.mark.filterwarnings("ignore::mixedmodels.SingularFitWarning")
def test_predictions_replay_r_semantics_on_new_rows():
    """A fit's stateful transforms (scale, poly) and the double arithmetic replay on new data."""
    d = _synthetic()
    m = mm.lmer("y ~ poly(x, 2) + scale(w) + I(u - 5) + factor(k) + (1 | g)", d)
    new = d.iloc[[4, 9, 30]].copy()
    np.testing.assert_allclose(m.predict(new), m.predict()[[4, 9, 30]], rtol=1e-12)
