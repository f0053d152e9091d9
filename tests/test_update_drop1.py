"""`update` (R's formula shorthand, other data and arguments) and `drop1` (lmerTest's F tests,
lme4's likelihood-ratio tests of ML refits), and the argument checks of the tests of terms."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import mixedmodels as mm
from mixedmodels import anova_tables
from mixedmodels.formula import update_formula

SLEEP = "Reaction ~ Days + (Days | Subject)"
CAKE = "angle ~ recipe * temperature + (1 | recipe:replicate)"


@pytest.mark.parametrize(
    ("old", "new", "want"),
    [
        ("y ~ x + (1 | g)", ". ~ . - x", "y ~ (1 | g)"),
        ("y ~ x + (1 | g)", ". ~ . + z", "y ~ x + (1 | g) + z"),
        ("y ~ x + (1 | g)", "log(.) ~ .", "log(y) ~ x + (1 | g)"),
        ("y ~ x + (1 | g)", "~ . + z", "y ~ x + (1 | g) + z"),
        ("y ~ a * b + (1 | g)", ". ~ . - a:b", "y ~ a + b + (1 | g)"),
        ("y ~ a * b + (1 | g)", ". ~ . - b:a", "y ~ a + b + (1 | g)"),
        ("y ~ a*b*c + (1 | g)", ". ~ . - a:b:c", "y ~ a + b + c + a:b + a:c + b:c + (1 | g)"),
        ("y ~ x + (x | g)", ". ~ . - (x | g) + (1 | g)", "y ~ x + (1 | g)"),
        ("y ~ x + (x|g)", ". ~ . - (x | g)", "y ~ x"),
        ("y ~ x + (1 | g)", ". ~ . - 1", "y ~ 0 + x + (1 | g)"),
        ("y ~ x + (1 | g)", "z ~ w + (1 | h)", "z ~ w + (1 | h)"),
        ("y ~ I(x - 1) + (1 | g)", ". ~ . - I(x - 1)", "y ~ (1 | g)"),
    ],
)
def test_formula_shorthand(old, new, want):
    assert update_formula(old, new) == want


def test_formula_shorthand_errors():
    with pytest.raises(mm.FormulaError, match=r"cannot remove 'w': it is not a term of 'y ~ x \+ \(1 \| g\)'"):
        update_formula("y ~ x + (1 | g)", ". ~ . - w")
    with pytest.raises(mm.FormulaError, match="must have one '~'"):
        update_formula("y ~ x + (1 | g)", ". - x")
    with pytest.raises(mm.FormulaError, match="unbalanced parenthesis"):
        update_formula("y ~ x + (1 | g)", ". ~ . - (x")


@pytest.fixture(scope="module")
def sleep_fit():
    return mm.lmer(SLEEP, mm.datasets.load("sleepstudy"))


def _same_fit(a: mm.LmerResult, b: mm.LmerResult) -> None:
    assert a.formula == b.formula
    assert a.reml == b.reml
    np.testing.assert_allclose(a.theta, b.theta, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(a.beta, b.beta, rtol=1e-8)
    assert a.objective == pytest.approx(b.objective, rel=1e-10)


def test_update_equals_a_fresh_fit(sleep_fit):
    sleep = mm.datasets.load("sleepstudy")
    _same_fit(sleep_fit.update(". ~ . - Days"), mm.lmer("Reaction ~ (Days | Subject)", sleep))
    _same_fit(sleep_fit.update(reml=False), mm.lmer(SLEEP, sleep, reml=False))
    _same_fit(sleep_fit.update("Reaction ~ Days + (1 | Subject)"), mm.lmer("Reaction ~ Days + (1 | Subject)", sleep))
    _same_fit(
        sleep_fit.update("log(.) ~ . - (Days | Subject) + (1 | Subject)"),
        mm.lmer("log(Reaction) ~ Days + (1 | Subject)", sleep),
    )
    assert sleep_fit.update().data_name == sleep_fit.data_name


def test_update_with_other_data_and_weights(sleep_fit):
    sleep = mm.datasets.load("sleepstudy")
    first = sleep[sleep["Days"] < 8]
    _same_fit(sleep_fit.update(data=first), mm.lmer(SLEEP, first))
    w = np.linspace(1, 2, len(sleep))
    weighted = mm.lmer(SLEEP, sleep, weights=w)
    _same_fit(sleep_fit.update(weights=w), weighted)
    _same_fit(weighted.update(". ~ . - Days"), mm.lmer("Reaction ~ (Days | Subject)", sleep, weights=w))
    _same_fit(weighted.update(weights=None), sleep_fit)


def test_update_errors(sleep_fit):
    with pytest.raises(mm.FormulaError, match="cannot remove 'x'"):
        sleep_fit.update(". ~ . - x")
    with pytest.raises(mm.ArgumentError, match="unknown keyword.*REML for update"):
        sleep_fit.update(REML=False)
    with pytest.raises(mm.ArgumentError, match="formula must be a string"):
        sleep_fit.update(3)
    with pytest.raises(mm.ArgumentError, match="reml must be True or False"):
        sleep_fit.update(reml="no")
    sleep = mm.datasets.load("sleepstudy")
    x = np.column_stack([np.ones(len(sleep)), sleep["Days"]])
    term = mm.GroupTerm(
        "Subject",
        sleep["Subject"].cat.codes.to_numpy(),
        x,
        ("(Intercept)", "Days"),
        tuple(sleep["Subject"].cat.categories),
    )
    arrays = mm.fit_arrays(sleep["Reaction"].to_numpy(), x, [term], fixed_names=["(Intercept)", "Days"])
    with pytest.raises(mm.MixedModelsError, match="update needs a fit made by lmer"):
        arrays.update(reml=False)


def test_drop1_lrt_rows_equal_anova_of_the_two_ml_fits():
    cake = mm.datasets.load("cake")
    m = mm.lmer("angle ~ recipe + temperature + (1 | recipe:replicate)", cake)
    with pytest.warns(mm.compare.RefitWarning, match="refitting model"):
        table = mm.drop1(m, test="Chisq")
    assert list(table.index) == ["<none>", "recipe", "temperature"]
    full = m.update(reml=False)
    assert table.loc["<none>", "AIC"] == pytest.approx(full.aic, rel=1e-10)
    for term in ("recipe", "temperature"):
        smaller = m.update(f". ~ . - {term}", reml=False)
        lrt = mm.anova(smaller, full)
        assert table.loc[term, "npar"] == lrt["Df"].iloc[1]
        assert table.loc[term, "AIC"] == pytest.approx(smaller.aic, rel=1e-7)
        assert table.loc[term, "LRT"] == pytest.approx(lrt["Chisq"].iloc[1], rel=1e-5, abs=1e-7)
        assert table.loc[term, "Pr(Chi)"] == pytest.approx(lrt["Pr(>Chisq)"].iloc[1], rel=1e-5)
    # an ML fit is not refitted, and does not warn
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = full.drop1(test="Chisq")
    np.testing.assert_allclose(again["LRT"].iloc[1:], table["LRT"].iloc[1:], rtol=1e-5)


def test_drop1_respects_marginality_and_checks_test():
    m = mm.lmer(CAKE, mm.datasets.load("cake"))
    assert list(m.drop1().index) == ["recipe:temperature"]
    assert list(m.drop1(ddf="kenward-roger").index) == ["recipe:temperature"]
    with pytest.raises(mm.ArgumentError, match="test must be 'F' or 'Chisq', not 'Wald'"):
        mm.drop1(m, test="Wald")
    with pytest.raises(mm.ArgumentError, match="ddf must be 'satterthwaite' or 'kenward-roger', not 'bogus'"):
        mm.drop1(m, ddf="bogus")


def test_anova_checks_its_arguments(sleep_fit):
    with pytest.raises(mm.ArgumentError, match="type must be 1, 2 or 3"):
        sleep_fit.anova(type=4)
    with pytest.raises(mm.ArgumentError, match="test must be 'F' or 'Chisq'"):
        sleep_fit.anova(test="LRT")
    with pytest.raises(mm.ArgumentError, match="car's Anova has types 2 and 3"):
        sleep_fit.anova(type=1, test="Chisq")
    with pytest.raises(mm.ArgumentError, match="car's F tables use Kenward-Roger df"):
        sleep_fit.anova(type=2, method="car", ddf="satterthwaite")
    with pytest.raises(mm.ArgumentError, match="ddf applies to F tests"):
        sleep_fit.anova(type=2, test="Chisq", ddf="kenward-roger")
    with pytest.raises(mm.ArgumentError, match="method must be 'lmerTest' or 'car'"):
        sleep_fit.anova(method="SAS")
    assert list(sleep_fit.anova(type="II").index) == ["Days"]


def test_glmer_fits_get_wald_chisq_tables_and_clear_errors_otherwise():
    cbpp = mm.datasets.load("cbpp")
    g = mm.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp, family="binomial")
    table = anova_tables.anova_table(g, 3, test="Chisq")
    b, v = g.beta[1:], g.vcov_array[1:, 1:]
    assert table.loc["period", "Chisq"] == pytest.approx(float(b @ np.linalg.solve(v, b)), rel=1e-12)
    assert table.loc["period", "Df"] == 3
    assert list(anova_tables.anova_table(g, 2, test="Chisq").index) == ["period"]
    with pytest.raises(mm.MixedModelsError, match="F tests .* are for linear mixed models"):
        anova_tables.anova_table(g, 3)
    # glmer's drop1 LRT refits are checked against lme4 in tests/reference/test_glmm_postestimation.py
    assert list(mm.drop1(g, test="Chisq").index) == ["<none>", "period"]
    with pytest.raises(mm.MixedModelsError, match="drop1 with F tests is for linear mixed models"):
        mm.drop1(g, test="F")
