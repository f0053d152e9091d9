"""lmerTest's anova tables (types 1/2/3, Satterthwaite and Kenward-Roger) of models whose factors
are made in the formula or whose interactions lack a margin, against lmerTest 3.1-3 (R 4.2.2,
anova_coding/make_anova_coding.R -> anova_coding.json; no R at test time).

* ``factor(temp)``, ``as.factor(temp)``, ``ordered(temp)`` in an interaction: their variable had
  been counted numeric (type III's containment failed; type II for as.factor/ordered), so recipe's
  test was a simple effect (``factor(temp) * recipe``: F 0.3096, DenDF 77.4 against R's 0.2488, 42).
* ``C(recipe, contr.sum) * temperature``, ``ordered(temp) * recipe``, ``recipe:temperature + temp``:
  type III raised a bare ValueError (its contrasts assumed treatment coding of the fit's columns).
* ``recipe / temperature``, ``B + A:B``, ``A * x + B:x``: lmerTest's containment counts only the
  variables a term codes by contrasts (the nested term codes recipe by all its indicators), so
  recipe is tested marginally (``recipe / temperature`` on cake5: F 0.1774, DenDF 80.38).
* ``poly(x, 2) * A``, ``scale(x) * A``, ``ns(x, 3) * A``: R's model frame holds these as matrices,
  which lmerTest's containment does not count with the numeric variables (type II of A had been
  F 22.55 against R's 21.81 on another draw of this design).

Each table is compared at lme4's theta (``fit_at``), so lme4's convergence tolerance does not enter:
F, Sum Sq, Mean Sq and Kenward-Roger's DenDF to 1e-6 relative, NumDF exactly, Satterthwaite's DenDF
(a numerical derivative in lmerTest) to 1e-5 and p to the p of that DenDF. Rows are matched by
their set of variables (both name an interaction by the variables' order in the formula, ``x:B``).
"""

from __future__ import annotations

import json
import warnings
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import special

import mixedmodels as mm

HERE = Path(__file__).resolve().parent / "anova_coding"
REF = json.loads((HERE / "anova_coding.json").read_text())
TABLES = [(t, d) for t in (1, 2, 3) for d in ("satterthwaite", "kenward_roger")]


def _data(name: str) -> pd.DataFrame:
    if name == "anova_coding":
        return pd.read_csv(HERE / "anova_coding.csv")
    cake = mm.datasets.load("cake")
    return cake.iloc[5:] if name == "cake5" else cake


@cache
def at_lme4(case: str) -> mm.LmerResult:
    ref = REF["cases"][case]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mm.MixedModelsWarning)  # no_margins: an aliased column dropped
        m = mm.lmer(ref["formula"], _data(ref["data"]))
    assert m.nobs == ref["nobs"]
    return mm.LmerResult.of(m.model.fit_at(np.atleast_1d(np.array(ref["theta"], dtype=float))))


#: lmerTest's Satterthwaite F of recipe:temperature in the nested model's type 1 table is 8.1919 (Sum
#: Sq 2513.5); its own contestMD of the identity rows of the same term, which span the same
#: hypothesis (the rows are unit upper triangular in the term's columns, ours equal R's to 5e-16),
#: and its Kenward-Roger table give 7.5003 (Sum Sq 2301.3), as ours does: contestMD calls eigen() on
#: L V L' without symmetric = TRUE, and this 15 x 15 product is not symmetric to R's tolerance, so
#: its eigenvectors are not orthogonal and the F is off. Not reproduced: that row's Sum Sq and F
#: are compared with the Kenward-Roger table's (whose adjusted vcov moves them by 5e-5), its other
#: columns with the Satterthwaite table's.
LMERTEST_EIGEN = {("nested", 1, "satterthwaite"): "recipe:temperature"}


def _key(term: str) -> frozenset[str]:
    return frozenset(term.split(":"))


@pytest.mark.parametrize("case", list(REF["cases"]))
@pytest.mark.parametrize(("type_", "ddf"), TABLES)
def test_lmertest_table(case, type_, ddf):
    ref = REF["cases"][case]["anova"][f"type{type_}_{ddf}"]
    want = pd.DataFrame(ref["table"]).set_index("term")
    ours = at_lme4(case).anova(type=type_, ddf=ddf.replace("_", "-"))
    if (case, type_, ddf) in LMERTEST_EIGEN:
        term = LMERTEST_EIGEN[case, type_, ddf]
        kr = pd.DataFrame(REF["cases"][case]["anova"][f"type{type_}_kenward_roger"]["table"]).set_index("term")
        for col in ("Sum Sq", "F value"):
            assert ours.loc[term, col] == pytest.approx(kr.loc[term, col], rel=2e-4), col
        assert ours.loc[term, "DenDF"] == pytest.approx(want.loc[term, "DenDF"], rel=1e-5)
        ours, want = ours.drop(index=term), want.drop(index=term)
    assert ours.attrs["heading"] == ref["heading"]
    assert list(ours.columns) == ref["columns"]
    assert [_key(t) for t in ours.index] == [_key(t) for t in want.index]
    np.testing.assert_array_equal(ours["NumDF"], want["NumDF"])
    for col in ("Sum Sq", "Mean Sq", "F value"):
        np.testing.assert_allclose(ours[col], want[col], rtol=1e-6, err_msg=col)
    satterthwaite = ddf == "satterthwaite"
    np.testing.assert_allclose(ours["DenDF"], want["DenDF"], rtol=1e-5 if satterthwaite else 1e-6, err_msg="DenDF")
    p, q, den, f = (want[c].to_numpy(dtype=float) for c in ("Pr(>F)", "NumDF", "DenDF", "F value"))
    tol = 1e-6 * p
    if satterthwaite:
        tol = np.maximum(tol, np.abs(special.fdtrc(q, den * (1 + 1e-5), f) - p))
    assert np.all(np.abs(ours["Pr(>F)"].to_numpy() - p) <= tol), (ours["Pr(>F)"].tolist(), p.tolist())


def test_the_fits_are_lme4s():
    """The models are R's: the same REML criterion at lme4's theta. no_margins codes its
    interaction otherwise, in the same column space: its criterion differs by a constant (the log
    determinant of the change of coefficients), so the fit (theta) is the same."""
    for case, ref in REF["cases"].items():
        if case == "no_margins":
            continue
        m = at_lme4(case)
        assert -2 * m.loglik == pytest.approx(ref["REMLcrit"], rel=1e-9), case


def test_factors_made_in_the_formula_are_factors():
    _, terms = mm.anova_tables.fixed_terms(at_lme4("as_factor_interaction"))
    assert [sorted(t.numeric) for t in terms] == [[], [], []]
    _, terms = mm.anova_tables.fixed_terms(at_lme4("ax_plus_bx"))
    assert [(t.name, sorted(t.numeric), sorted(t.contrasted)) for t in terms] == [
        ("A", [], ["A"]),
        ("x", ["x"], ["x"]),
        ("A:x", ["x"], ["A", "x"]),
        ("x:B", ["x"], ["B"]),  # R: x by all its values (entry 2), B by contrasts; R's label, x first
    ]
