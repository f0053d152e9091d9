"""An ordered categorical column (pandas' ``Categorical(ordered=True)``, R's ordered factor) used as a
term is coded as R codes it, by orthogonal polynomial contrasts (``o.L``, ``o.Q``), where formulaic
gives treatment contrasts; it had been another model than lme4's without a word (a probe's
finding: the REML criterion 81.80 for lme4's 82.90). Against lme4 1.1-31, lmerTest and emmeans
(ordered/ordered.json, written by make_ordered.R in that folder; the tests never run R)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mixedmodels as mm
from mixedmodels.exceptions import DataError

pytestmark = pytest.mark.filterwarnings("ignore::mixedmodels.exceptions.SingularFitWarning")  # the small design

HERE = Path(__file__).parent / "ordered"
REF = json.loads((HERE / "ordered.json").read_text())


def _small() -> pd.DataFrame:
    d = pd.read_csv(HERE / "small.csv", dtype={"g": str, "o": str})
    d["o"] = pd.Categorical(d["o"], ["lo", "mid", "hi"], ordered=True)
    return d


def _cake() -> pd.DataFrame:
    d = mm.datasets.load("cake")
    d["temperature"] = d["temperature"].cat.as_ordered()  # its levels 175 < 185 < ... < 225
    return d


CASES = {
    "small": ("y ~ o + (1 | g)", _small, pd.DataFrame({"o": ["hi", "lo"], "g": ["A", "B"]}), "o"),
    "cake": (
        "angle ~ recipe * temperature + (1 | recipe:replicate)",
        _cake,
        pd.DataFrame({"temperature": ["175", "225"], "recipe": ["A", "C"], "replicate": ["1", "2"]}),
        "temperature",
    ),
}


@pytest.fixture(scope="module", params=sorted(CASES))
def case(request: pytest.FixtureRequest) -> tuple[str, mm.LmerFit, pd.DataFrame, str]:
    formula, data, newdata, spec = CASES[request.param]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return request.param, mm.lmer(formula, data()), newdata, spec


def test_polynomial_contrasts_as_lme4(case: tuple[str, mm.LmerFit, pd.DataFrame, str]) -> None:
    name, m, _, _ = case
    ref = REF[name]
    assert list(m.fixef.index) == list(ref["fixef"])
    np.testing.assert_allclose(m.fixef.to_numpy(), list(ref["fixef"].values()), rtol=1e-6, atol=1e-8)
    assert m.objective == pytest.approx(ref["reml"], rel=1e-9)


def test_tests_means_and_predictions_as_lmertest_and_emmeans(case: tuple[str, mm.LmerFit, pd.DataFrame, str]) -> None:
    name, m, newdata, spec = case
    ref = REF[name]
    a = m.anova(type=3)
    np.testing.assert_allclose(a["F value"].to_numpy(), ref["anova3"]["F"], rtol=1e-5)
    np.testing.assert_allclose(a["DenDF"].to_numpy(), ref["anova3"]["df"], rtol=1e-4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # emmeans' note on a factor inside an interaction
        table = m.emmeans(spec).frame
    np.testing.assert_allclose(table["emmean"].to_numpy(), ref["emmeans"]["emmean"], rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(table["SE"].to_numpy(), ref["emmeans"]["SE"], rtol=1e-5)
    np.testing.assert_allclose(table["df"].to_numpy(), ref["emmeans"]["df"], rtol=1e-4)
    np.testing.assert_allclose(m.predict(newdata).to_numpy(), ref["predict"], rtol=1e-6)


def test_new_rows_replay_the_fits_levels() -> None:
    m = mm.lmer("y ~ o + (1 | g)", _small())
    one = pd.DataFrame({"o": pd.Categorical(["hi"], ["lo", "mid", "hi"], ordered=True), "g": ["A"]})
    assert m.predict(one).iloc[0] == pytest.approx(REF["small"]["predict"][0], rel=1e-6)
    with pytest.raises(DataError, match="'o' has the value 'top'"):
        m.predict(pd.DataFrame({"o": ["top"], "g": ["A"]}))


def test_streamed_chunks_give_the_same_fit() -> None:
    d = _small()
    whole = mm.lmer("y ~ o + (1 | g)", d)
    chunks = mm.lmer("y ~ o + (1 | g)", [d.iloc[:20], d.iloc[20:]])
    np.testing.assert_array_equal(chunks.fixef.to_numpy(), whole.fixef.to_numpy())
    assert list(chunks.fixef.index) == ["(Intercept)", "o.L", "o.Q"]


@pytest.mark.parametrize("name", ["my o", "log", "c", "I", "it's"])
def test_an_ordered_column_of_any_name(name):
    # Q("my o") and Q("log") read the data only: such an ordered column had raised a KeyError
    d = _small()
    base = mm.lmer("y ~ o + (1 | g)", d)
    renamed = d.rename(columns={"o": name})
    term = name if name.isidentifier() else f"`{name}`"
    m = mm.lmer(f"y ~ {term} + (1 | g)", renamed)
    np.testing.assert_array_equal(m.fixef.to_numpy(), base.fixef.to_numpy())
    np.testing.assert_array_equal(m.predict(renamed.head(3)).to_numpy(), base.predict(d.head(3)).to_numpy())


def test_factor_of_an_ordered_column_stays_ordered():
    # R's factor() keeps an ordered factor ordered: factor(o).L, factor(o).Q, the same fit as o
    d = _small()
    m = mm.lmer("y ~ factor(o) + (1 | g)", d)
    assert list(m.fixef.index) == ["(Intercept)", "factor(o).L", "factor(o).Q"]
    np.testing.assert_allclose(m.fixef.to_numpy(), list(REF["small"]["fixef"].values()), rtol=1e-6, atol=1e-8)


def test_an_ordered_column_from_parquet(tmp_path):
    # the prototype's dictionary had been re-encoded unordered: refused ("a chunk encodes the model
    # differently") or, with an interaction, treatment contrasts without a word
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    d = _small()
    d["w"] = np.cos(np.arange(len(d)))
    path = tmp_path / "o.parquet"
    pq.write_table(pa.Table.from_pandas(d), path, row_group_size=10)
    for formula in ("y ~ o + (1 | g)", "y ~ o * w + (1 | g)"):
        whole, streamed = mm.lmer(formula, d), mm.lmer(formula, str(path))
        assert list(streamed.fixef.index) == list(whole.fixef.index)
        np.testing.assert_allclose(streamed.fixef.to_numpy(), whole.fixef.to_numpy(), rtol=1e-9, atol=1e-12)
