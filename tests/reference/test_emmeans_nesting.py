"""emmeans under a nesting it detects from the data (`mixedmodels.nesting`), against R's emmeans
(emmeans_nesting/): a nested factor averaged within its nests, its nests brought along when it is
named, only the combinations that occur shown, and pairs of those."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mixedmodels as mm
from mixedmodels.emmeans import emmeans, emtrends

HERE = Path(__file__).parent / "emmeans_nesting"
REF = json.loads((HERE / "emmeans_nesting.json").read_text())
MODELS = {
    "m1": ("resp ~ nest + bird * x + (1 | g)", "birds.csv"),
    "m2": ("resp ~ nest + bird + h + (1 | g)", "birds.csv"),
    "m3": ("y ~ factor(x > 0) * f + (1 | g)", "covariate_nested.csv"),
    "m4": ("y ~ factor(x > 0) + f + (1 | g)", "covariate_nested.csv"),
    "m5": ("y ~ c + b + f + e + t + (1 | g)", "two_nestings.csv"),
    "m6": ("y ~ c/b2 + t + (1 | g)", "formula_nested.csv"),
    "m7": ("y ~ c + b2 %in% c + t + (1 | g)", "formula_nested.csv"),
    "m8": ("y ~ c/b2 + t + f + (1 | g)", "formula_nested.csv"),
    "m9": ("y ~ c + b + a + t + x + (1 | g)", "formula_nested.csv"),
    "m10": ("y ~ c + b3 + t + (1 | g)", "formula_nested.csv"),
}
CALLS = {
    "m1 nest": lambda m: emmeans(m, "nest"),
    "m1 bird": lambda m: emmeans(m, "bird"),
    "m1 pairs nest": lambda m: emmeans(m, "nest").pairs(),
    "m1 pairs bird": lambda m: emmeans(m, "bird").pairs(),
    "m2 h": lambda m: emmeans(m, "h"),
    "m2 nest": lambda m: emmeans(m, "nest"),
    "m2 bird h": lambda m: emmeans(m, ["bird", "h"]),
    "m2 h by bird": lambda m: emmeans(m, "h", by="bird"),
    "m2 1": lambda m: emmeans(m, "~ 1"),
    "m2 pairs bird by nest": lambda m: emmeans(m, "bird").pairs(by="nest", adjust="none"),
    "m3 f": lambda m: emmeans(m, "f"),
    "m4 f": lambda m: emmeans(m, "f"),
    "m3 pairs f": lambda m: emmeans(m, "f").pairs(),
    "m1 trend nest": lambda m: emtrends(m, "nest", var="x"),
    "m1 trend bird": lambda m: emtrends(m, "bird", var="x"),
    # (b in c and e in f: emmeans fails to average over both; R's value is with b in c given)
    "m5 t": lambda m: emmeans(m, "t"),
    # b2's labels repeat in each c: the formula says the nesting
    "m6 b2": lambda m: emmeans(m, "b2"),
    "m6 c": lambda m: emmeans(m, "c"),
    "m7 b2": lambda m: emmeans(m, "b2"),
    "m8 pairs t by f": lambda m: emmeans(m, "t", by="f").pairs(),
    # by panels of means that hold a nested factor: emmeans adjusts them as one family
    "m9 pairs t by b": lambda m: emmeans(m, "t", by="b").pairs(),
    "m9 pairs a by b": lambda m: emmeans(m, "a", by="b").pairs(),
    "m9 pairs t by a": lambda m: emmeans(m, "t", by="a").pairs(),
    "m9 pairs a by c": lambda m: emmeans(m, "a", by="c").pairs(),
    "m9 pairs a by c holm": lambda m: emmeans(m, "a", by="c").pairs(adjust="holm"),
    "m10 pairs b3 by c": lambda m: emmeans(m, "b3", by="c").pairs(),
}


@pytest.fixture(scope="module")
def fits() -> dict[str, mm.LmerResult]:
    out = {}
    for name, (formula, data) in MODELS.items():
        d = pd.read_csv(HERE / data)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            d = d.assign(g=d.g.astype(str), **({"b2": d.b2.astype(str)} if "b2" in d else {}))
            out[name] = mm.lmer(formula, d)
    return out


def _shown(ref: dict[str, list[object]]) -> list[bool]:
    return [c != "(nothing)" for c in ref.get("contrast", [""] * len(next(iter(ref.values()))))]


@pytest.mark.parametrize("call", list(REF))
def test_emmeans_is_rs(fits, call):
    # (R's "(nothing)" row of a panel with one level to compare is not shown)
    ref = {k: [v for v, keep in zip(vs, _shown(REF[call]), strict=True) if keep] for k, vs in REF[call].items()}
    got = CALLS[call](fits[call.split()[0]]).summary(infer=(False, True) if "pairs" in call else (True, False))
    values = ("emmean", "estimate", "x.trend", "SE", "df", "p.value")
    keys = [c for c in ref if c not in values]
    assert sorted(c for c in got.columns if c in keys or c in ref) == sorted(c for c in ref if c in got.columns)
    assert len(got) == len(ref[keys[0]])
    theirs = pd.DataFrame(ref)
    for k in keys:
        got[k] = got[k].astype(str)
    merged = theirs.merge(got, on=keys, suffixes=("_r", ""), validate="one_to_one")
    assert len(merged) == len(theirs)
    est = next(c for c in values if c in ref)
    np.testing.assert_allclose(merged[est], merged[f"{est}_r"], rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(merged["SE"], merged["SE_r"], rtol=1e-6)
    np.testing.assert_allclose(merged["df"], merged["df_r"], rtol=1e-6)
    if "p.value" in ref:
        np.testing.assert_allclose(merged["p.value"], merged["p.value_r"], rtol=1e-5, atol=1e-9)
    # the rows in R's order
    ours = [tuple(r) for r in got[keys].itertuples(index=False)]
    assert ours == [tuple(r) for r in theirs[keys].itertuples(index=False)]


def test_pairs_over_a_panel_with_one_level_are_refused_unless_unadjusted(fits):
    # nest C holds one bird: emmeans shows a "(nothing)" row, which counts in its family
    e = emmeans(fits["m2"], "bird", by="nest")
    with pytest.raises(mm.ArgumentError, match="one level"):
        e.pairs()
    assert len(e.pairs(adjust="none").summary()) == 4
