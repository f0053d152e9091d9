"""emmeans / emtrends / pairs / contrast against R's emmeans 1.8.4-1 (tests/reference/postestimation,
see its README): every ``emmeans.results.<df-variant>.<result-id>`` of every model, the reference
grids and the hand checks.

Each R call (field ``call``) is parsed into ours: ``emmeans(m, ~ spec, at = list(v = c(...)),
lmer.df = "...")`` -> ``m.emmeans("~ spec", at={v: [...]}, ddf=...)``; ``pairs(x, adjust = "a")`` ->
``x.pairs(adjust="a")``; ``contrast(x, "method", adjust = "a")`` -> ``x.contrast("method",
adjust="a")``; ``emtrends(m, ~ spec, var = "v", ...)`` -> ``m.emtrends("~ spec", var="v", ...)``.
The plain call on Hsb82 (emmeans' default, asymptotic above 3000 rows) is ``ddf="asymptotic"``.
A test asserts that every result id parses and is compared.

Tolerances (the issue's): estimates, SEs, t ratios and CI bounds 1e-6 relative; KR and
Satterthwaite df 1e-4 relative; p-values 1e-6 relative where above 1e-12, Tukey and Dunnett
p-values 1e-6 absolute.

The comparisons are made with our machinery at lme4's theta (`fit_at` with the README's
``fit_check.theta``, the fit emmeans used): the fixed effects, vcov, the KR adjustment and the
Satterthwaite derivatives all follow from theta, so this tests the procedure itself, and every
number, hsb_ses_sector_interaction's fragile Satterthwaite df of the ``ses`` slope included, meets
the tolerances above there.

`test_result_at_our_optimum` repeats the comparisons with our own fits, whose theta differs from
lme4's within the optimisers' tolerances (lme4 converges to 1e-6..1e-4 in theta; the README's
caveat). Measured worst cases there: estimates 1.5e-5, SEs 6e-5, CI bounds 2.4e-5 relative, df
3.4e-5 except hsb_ses_sector_interaction (4.6e-3: its near-singular fit, correlation 0.99994 and
third theta ~5e-4, makes lmerTest's and our Satterthwaite df of the ``ses`` slope move with theta),
p-values 2.1e-3 relative (they follow the df). Tolerances there: 1e-4 relative for estimates, SEs
and bounds (a bound near zero: 2e-4 of its SE), 1e-3 for df (1e-2 for that one model), 5e-3
relative for p-values (Tukey/Dunnett: that or 1e-6 absolute).
"""

from __future__ import annotations

import json
import math
import re
import warnings
from pathlib import Path

import numpy as np
import pytest

import mixedmodels as mm
from mixedmodels.emmeans import EmmGrid, ref_grid

HERE = Path(__file__).parent / "postestimation"
DATASETS = {
    "cake.csv": "cake",
    "Hsb82.csv": "hsb",
    "sleepstudy.csv": "sleepstudy",
    "Penicillin.csv": "penicillin",
    "Pastes.csv": "pastes",
}
CASES = sorted(p.stem for p in HERE.glob("*.json") if p.stem != "index")

REL, DF_REL, P_ABS = 1e-6, 1e-4, 1e-6


def _load(case: str) -> dict:
    return json.loads((HERE / f"{case}.json").read_text())


def _results() -> list[tuple[str, str, str]]:
    out = []
    for case in CASES:
        for variant, results in _load(case)["emmeans"]["results"].items():
            out.extend((case, variant, rid) for rid in results)
    return out


RESULTS = _results()


# ---------------------------------------------------------------------------- R calls -> ours
def _split_args(text: str) -> list[str]:
    """Top-level comma-separated arguments."""
    parts, depth, cur = [], 0, ""
    for ch in text:
        if ch == "," and depth == 0:
            parts.append(cur.strip())
            cur = ""
            continue
        depth += ch in "(["
        depth -= ch in ")]"
        cur += ch
    if cur.strip():
        parts.append(cur.strip())
    return parts


def _r_value(text: str):
    text = text.strip()
    if text.startswith('"'):
        return text.strip('"')
    if text.startswith("c("):
        return [float(x) for x in _split_args(text[2:-1])]
    if text.startswith("list("):
        return {k.strip(): _r_value(v) for k, v in (a.split("=", 1) for a in _split_args(text[5:-1]))}
    return float(text)


def parse_call(call: str) -> dict:
    """{'outer': None|'pairs'|'contrast', 'method', 'adjust', 'fun', 'spec', 'at', 'var', 'ddf'}."""
    out: dict = {"outer": None, "method": None, "adjust": None, "at": None, "var": None, "ddf": "asymptotic"}
    m = re.fullmatch(r"(pairs|contrast)\((.*)\)", call.strip())
    if m:
        out["outer"] = m.group(1)
        args = _split_args(m.group(2))
        call = args[0]
        for a in args[1:]:
            if a.startswith("adjust"):
                out["adjust"] = _r_value(a.split("=", 1)[1])
            else:
                out["method"] = _r_value(a)
    m = re.fullmatch(r"(emmeans|emtrends)\((.*)\)", call.strip())
    assert m, call
    out["fun"] = m.group(1)
    args = _split_args(m.group(2))
    assert args[0] == "m"
    out["spec"] = args[1]
    for a in args[2:]:
        k, v = (x.strip() for x in a.split("=", 1))
        if k == "at":
            out["at"] = _r_value(v)
        elif k == "var":
            out["var"] = _r_value(v)
        elif k == "lmer.df":
            out["ddf"] = _r_value(v)
        elif k in ("pbkrtest.limit", "lmerTest.limit"):
            continue
        else:
            raise AssertionError(f"unknown argument {k} in {call}")
    return out


def our_result(m, parsed: dict) -> EmmGrid:
    if parsed["fun"] == "emmeans":
        g = m.emmeans(parsed["spec"], at=parsed["at"], ddf=parsed["ddf"])
    else:
        g = m.emtrends(parsed["spec"], var=parsed["var"], at=parsed["at"], ddf=parsed["ddf"])
    if parsed["outer"] == "pairs":
        g = g.pairs(adjust=parsed["adjust"])
    elif parsed["outer"] == "contrast":
        g = g.contrast(parsed["method"], adjust=parsed["adjust"])
    return g


def _own_fit(fits, case: str):
    d = _load(case)
    return fits.fit(d["formula"], DATASETS[d["dataset"]], reml=True)


_AT_LME4: dict[str, object] = {}


def _fit(fits, case: str):
    """Our fit's machinery at lme4's theta (fit_check.theta, the fit emmeans used): the estimates,
    vcov, KR and Satterthwaite follow from theta, so this tests the procedure itself."""
    if case not in _AT_LME4:
        m = _own_fit(fits, case)
        theta = _load(case)["fit_check"]["theta"]
        assert list(theta) == list(m.theta_names)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", mm.MixedModelsWarning)
            _AT_LME4[case] = mm.LmerResult.of(m.model.fit_at(np.array(list(theta.values()), dtype=float)))
    return _AT_LME4[case]


# ---------------------------------------------------------------------------- comparisons
def _close(ours: np.ndarray, ref: list, rel: float, what: str, absolute: float = 0.0) -> None:
    r = np.array([np.inf if x is None else x for x in ref], dtype=float)
    o = np.asarray(ours, dtype=float)
    assert o.shape == r.shape, what
    both_inf = np.isinf(r) & np.isinf(o)
    tol = rel * np.abs(r) + absolute
    with np.errstate(invalid="ignore"):
        bad = ~both_inf & ~(np.abs(o - r) <= tol)
    assert not bad.any(), f"{what}: ours {o[bad]} vs R {r[bad]}"


def test_every_result_id_is_covered():
    # cake 2 x 12, hsb_ses_slope 3 x 3, hsb_ses_sector_interaction 3 x 8, hsb_contextual 3 x 7,
    # sleepstudy 2 x 3, penicillin and pastes 2 x 1 each
    assert len(RESULTS) == 88
    for case, variant, rid in RESULTS:
        parsed = parse_call(_load(case)["emmeans"]["results"][variant][rid]["call"])
        assert parsed["fun"] in ("emmeans", "emtrends")
        if variant != "default_asymptotic":
            assert parsed["ddf"] == variant


@pytest.mark.parametrize(("case", "variant", "rid"), RESULTS, ids=[f"{c}-{v}-{r}" for c, v, r in RESULTS])
def test_result(fits, case, variant, rid):
    _compare(_fit(fits, case), case, variant, rid, REL, DF_REL, 1e-6, 0.0)


@pytest.mark.parametrize(("case", "variant", "rid"), RESULTS, ids=[f"{c}-{v}-{r}" for c, v, r in RESULTS])
def test_result_at_our_optimum(fits, case, variant, rid):
    df_rel = 1e-2 if case == "hsb_ses_sector_interaction" else 1e-3
    _compare(_own_fit(fits, case), case, variant, rid, 1e-4, df_rel, 5e-3, 2e-4)


def _compare(m, case: str, variant: str, rid: str, rel: float, df_rel: float, p_rel: float, bound_se: float) -> None:
    ref = _load(case)["emmeans"]["results"][variant][rid]
    parsed = parse_call(ref["call"])
    g = our_result(m, parsed)
    table = g.summary(infer=(True, True))
    rows = ref["table"]
    assert list(table.columns) == ref["columns"]
    assert len(table) == len(rows)
    # the labels
    est = ref["estName"]
    lo, hi = ref["clNames"]
    labels = [c for c in ref["columns"] if c not in (est, "SE", "df", lo, hi, "t.ratio", "z.ratio", "p.value")]
    for c in labels:
        for ours, theirs in zip(table[c].tolist(), [r[c] for r in rows], strict=True):
            if isinstance(theirs, (int, float)) and c != "1":
                assert math.isclose(float(ours), theirs, rel_tol=1e-12, abs_tol=1e-15), (c, ours, theirs)
            else:
                assert str(ours) == str(theirs), (c, ours, theirs)
    # the linear functions
    lf = ref["linfct"]
    assert list(g.linfct.columns) == lf["columns"]
    np.testing.assert_allclose(g.linfct.to_numpy(), np.array(lf["matrix"], dtype=float), rtol=0, atol=1e-9)
    # the numbers
    col = lambda name: [r[name] for r in rows]  # noqa: E731
    _close(table[est], col(est), rel, "estimate", absolute=1e-10)
    _close(table["SE"], col("SE"), rel, "SE")
    _close(table["df"], col("df"), df_rel, "df")
    # a bound near zero is compared on the scale of its SE (the bound is estimate -/+ q SE)
    se_ref = np.array(col("SE"), dtype=float)
    _close(table[lo], col(lo), rel, lo, absolute=1e-10 + bound_se * se_ref)
    _close(table[hi], col(hi), rel, hi, absolute=1e-10 + bound_se * se_ref)
    tname = "z.ratio" if "z.ratio" in ref["columns"] else "t.ratio"
    _close(table[tname], col(tname), rel, tname, absolute=1e-8)
    p_ref = np.array(col("p.value"), dtype=float)
    p_ours = table["p.value"].to_numpy(dtype=float)
    if ref["adjust"] in ("tukey", "dunnettx"):
        np.testing.assert_allclose(p_ours, p_ref, rtol=0 if p_rel <= 1e-6 else p_rel, atol=P_ABS)
    else:
        big = p_ref > 1e-12
        np.testing.assert_allclose(p_ours[big], p_ref[big], rtol=p_rel)
        assert np.all(p_ours[~big] < 1e-11)
    # emmeans' footer and notes
    assert table.attrs["messages"] == ref["summary_messages"]
    r_notes = [x for x in ref["messages"] if not x.startswith("Note: D.f. calculations have been disabled")]
    assert table.attrs["notes"] == r_notes


@pytest.mark.parametrize("case", CASES)
def test_reference_grid(fits, case):
    d = _load(case)
    ref = d["emmeans"]["reference_grid"]
    m = _fit(fits, case)
    ddf = "asymptotic" if ref["df_method"] == "asymptotic" else "kenward-roger"
    g = ref_grid(m, ddf=ddf)
    assert ref["df_method"] in ("asymptotic", "kenward-roger")
    grid = ref["grid"] if ref["grid"] else []
    names = [k for k in ref["levels"] if k != "1"]
    for v in names:
        assert [str(x) for x in g.grid[v].tolist()] == [str(r[v]) for r in grid] or np.allclose(
            g.grid[v].to_numpy(dtype=float), [r[v] for r in grid], rtol=1e-12
        )
    if names and any(not isinstance(r[v], float) for v in names for r in grid):
        # the observations per cell of the factors (R's .wgt. of a grid without a factor is an
        # artefact of its bookkeeping: 1 for sleepstudy, 2 for pastes; we give None there)
        assert g.weights is not None
        assert g.weights.tolist() == [r[".wgt."] for r in grid]
    pred = ref["prediction"]
    table = g.summary(infer=(False, False))
    _close(table["emmean"], [r["prediction"] for r in pred], REL, "prediction", absolute=1e-10)
    _close(table["SE"], [r["SE"] for r in pred], REL, "SE")
    _close(table["df"], [r["df"] for r in pred], DF_REL, "df")
    np.testing.assert_allclose(g.linfct.to_numpy(), np.array(ref["linfct"]["matrix"], dtype=float), atol=1e-12)
    assert list(g.linfct.columns) == ref["linfct"]["columns"]


@pytest.mark.parametrize("case", CASES)
def test_kenward_roger_vcov(fits, case):
    from mixedmodels.inference import inference_for

    ref = _load(case)["emmeans"]["hand_checks"]["vcov_kenward_roger"]
    m = _fit(fits, case)
    np.testing.assert_allclose(inference_for(m).kenward_roger.phi_adj, np.array(ref["matrix"]), rtol=1e-5, atol=1e-10)


def test_hand_check_cake_recipe_a(fits):
    hc = _load("cake_split_plot")["emmeans"]["hand_checks"]["cake_recipeA"]
    m = _fit(fits, "cake_split_plot")
    kr = m.emmeans("~ recipe")
    sat = m.emmeans("~ recipe", ddf="satterthwaite")
    np.testing.assert_allclose(kr.linfct.iloc[0].to_numpy(), [hc["l"][c] for c in kr.linfct.columns], atol=1e-15)
    assert math.isclose(kr.estimate[0], hc["emmean_by_hand"], rel_tol=1e-9)
    assert math.isclose(kr.se[0], hc["SE_sqrt_lVl_vcovAdj"], rel_tol=REL)
    assert math.isclose(sat.se[0], hc["SE_sqrt_lVl_vcov"], rel_tol=REL)
    assert math.isclose(kr.df[0], hc["df_contest1D_kenward_roger"], rel_tol=DF_REL)
    assert math.isclose(sat.df[0], hc["df_contest1D_satterthwaite"], rel_tol=DF_REL)
    assert math.isclose(kr.pairs().estimate[0], hc["pair_AB_by_hand"], rel_tol=1e-9)
    # the mean of predictions over the 6 temperatures, as R's hand check
    import pandas as pd

    temps = m.model.data.frame("test")["temperature"].cat.categories
    new = pd.DataFrame(
        {
            "recipe": pd.Categorical(["A"] * 6, categories=["A", "B", "C"]),
            "temperature": pd.Categorical(list(temps), categories=temps),
        }
    )
    assert math.isclose(float(m.predict(new, include_re=False).mean()), kr.estimate[0], rel_tol=1e-12)


def test_hand_check_hsb_sector(fits):
    d = _load("hsb_ses_sector_interaction")
    hc = d["emmeans"]["hand_checks"]["hsb_sector"]
    m = _fit(fits, "hsb_ses_sector_interaction")
    b = m.fixef
    mean_ses = d["covariate_means"]["ses"]
    e = m.emmeans("~ sector", ddf="asymptotic").estimate
    assert math.isclose(e[0], b["(Intercept)"] + b["ses"] * mean_ses, rel_tol=1e-12)
    assert math.isclose(
        e[1], b["(Intercept)"] + b["sectorCatholic"] + (b["ses"] + b["ses:sectorCatholic"]) * mean_ses, rel_tol=1e-12
    )
    t = m.emtrends("~ sector", var="ses", ddf="asymptotic").estimate
    assert math.isclose(t[1], b["ses"] + b["ses:sectorCatholic"], rel_tol=1e-9)
    for key, value in hc.items():
        if isinstance(value, (int, float)) and "Catholic" in key and "trend" in key:
            assert math.isclose(t[1], value, rel_tol=REL)


@pytest.mark.parametrize(
    "case", [c for c in CASES if "default_equals_kenward_roger" in _load(c)["emmeans"]["hand_checks"]]
)
def test_default_is_kenward_roger(fits, case):
    call = _load(case)["emmeans"]["hand_checks"]["default_equals_kenward_roger"]["call"]
    parsed = parse_call(call)
    m = _fit(fits, case)
    plain = m.emmeans(parsed["spec"])  # our default ddf is kenward-roger whatever the size
    kr = m.emmeans(parsed["spec"], ddf="kenward-roger")
    assert plain.ddf == "kenward-roger"
    np.testing.assert_array_equal(plain.summary().to_numpy(), kr.summary().to_numpy())
