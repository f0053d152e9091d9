"""The formula parser: bar terms, nesting, double bars, errors with positions."""

from __future__ import annotations

import numpy as np
import pytest

from mixedmodels.exceptions import FormulaError
from mixedmodels.formula import parse_formula


def test_simple_slope_model():
    pf = parse_formula("mAch ~ ses + (1 + ses | school)")
    assert pf.response == "mAch"
    assert pf.fixed == "ses"
    assert [(t.lhs, t.factors) for t in pf.random] == [("1 + ses", ("school",))]


@pytest.mark.parametrize(
    ("formula", "fixed"),
    [
        ("y ~ (1 | g)", "1"),
        ("y ~ 0 + x + (1 | g)", "0 + x"),
        ("y ~ x + (1 | g) - 1", "x - 1"),
        ("y ~ x*f + (1 + x | g) + I(x**2)", "x*f + I(x**2)"),
        ("y ~ (1 | g) + np.log(x)", "np.log(x)"),
    ],
)
def test_fixed_part(formula, fixed):
    assert parse_formula(formula).fixed == fixed


def test_nesting_expands_like_lme4():
    pf = parse_formula("strength ~ 1 + (1 | batch/cask)")
    assert [t.group for t in pf.random] == ["cask:batch", "batch"]
    pf3 = parse_formula("y ~ (1 | a/b/c)")
    assert [t.group for t in pf3.random] == ["c:b:a", "b:a", "a"]


def test_double_bar_splits_terms():
    pf = parse_formula("Reaction ~ Days + (Days || Subject)")
    assert [(t.lhs, t.group) for t in pf.random] == [("1", "Subject"), ("0 + Days", "Subject")]
    pf2 = parse_formula("y ~ (0 + x + z || g)")
    assert [t.lhs for t in pf2.random] == ["0 + x", "0 + z"]


@pytest.mark.parametrize(
    ("formula", "fixed", "terms"),
    [  # lme4's findbars/nobars on each (R 4.2, lme4 1.1-31)
        ("y ~ x | g", "1", [("x", "g")]),
        ("y ~ 1 + x | g", "1", [("1 + x", "g")]),
        ("y ~ 0 + x | g", "1", [("0 + x", "g")]),
        ("y ~ x || g", "1", [("1", "g"), ("0 + x", "g")]),
        ("y ~ x | g/h", "1", [("x", "h:g"), ("x", "g")]),
        ("y ~ ((1 | g))", "1", [("1", "g")]),
        ("y ~ x + ((x | g))", "x", [("x", "g")]),
        ("y ~ x + ( (x || g) ) + (1 | h)", "x", [("1", "g"), ("0 + x", "g"), ("1", "h")]),
    ],
)
def test_bar_binds_as_in_lme4_and_redundant_parentheses(formula, fixed, terms):
    """R's '|' binds more loosely than '+' (an unparenthesised bar makes the whole right-hand side
    one random-effects term), and findbars reads through redundant parentheses."""
    pf = parse_formula(formula)
    assert pf.fixed == fixed
    assert [(t.lhs, t.group) for t in pf.random] == terms


def test_unparenthesised_bar_fits_as_the_parenthesised_term():
    import warnings

    import numpy as np

    import mixedmodels as mm

    sleep = mm.datasets.load("sleepstudy")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mm.MixedModelsWarning)
        a = mm.lmer("Reaction ~ Days | Subject", sleep)
        b = mm.lmer("Reaction ~ 1 + (Days | Subject)", sleep)
        c = mm.lmer("Reaction ~ Days + ((Days | Subject))", sleep)
        d = mm.lmer("Reaction ~ Days + (Days | Subject)", sleep)
    assert list(a.fixef.index) == ["(Intercept)"]
    np.testing.assert_allclose(a.theta, b.theta, rtol=1e-10)
    assert a.objective == b.objective
    np.testing.assert_allclose(c.fixef, d.fixef, rtol=1e-12)


def test_interaction_grouping():
    pf = parse_formula("angle ~ recipe * temperature + (1 | recipe:replicate)")
    assert pf.random[0].factors == ("recipe", "replicate")
    assert pf.random[0].group == "recipe:replicate"


@pytest.mark.parametrize(
    ("formula", "message", "caret_at"),
    [
        ("y ~ x + (1|g", "never closed", 8),
        ("y ~ x) + (1|g)", "without an opening", 5),
        ("y ~ (1|g)(1|h)", "joined by an operator", 9),
        ("y ~ x z + (1|g)", "joined by an operator", 6),
        ("y ~ (x)(1|g)", "joined by an operator", 7),
        ("y ~ (1|g) x", "joined by an operator", 10),
        ("y ~ x + (1|g) | h", "inside another's left-hand side", 10),
        ("~ x + (1|g)", "no response", 0),
        ("y ~ (|g)", "empty left-hand side", 5),
        ("y ~ (1|)", "empty grouping factor", 7),
        ("y ~ (1|g|h)", "more than one '|'", 8),
        ("y ~ x ~ z", "more than one '~'", 6),
        ("y ~ (1 | g + h)", "not a variable name", 8),
    ],
)
def test_errors_point_at_the_problem(formula, message, caret_at):
    with pytest.raises(FormulaError, match=message) as err:
        parse_formula(formula)
    lines = str(err.value).splitlines()
    assert lines[-1].index("^") - 2 == caret_at
    assert lines[-2].strip() == formula


def test_not_a_string():
    with pytest.raises(FormulaError, match="must be a string"):
        parse_formula(3)  # type: ignore[arg-type]
    with pytest.raises(FormulaError, match="no '~'"):
        parse_formula("y x")
    with pytest.raises(FormulaError, match="empty"):
        parse_formula("  ")


def test_in_is_r_s_nesting_term_not_patsy_s():
    """R's ``a %in% b`` is the term ``a:b`` (``recipe + temp %in% recipe`` is ``recipe + recipe:temp``);
    patsy's, which formulaic follows, adds ``b``'s main effect. lme4 1.1-31 on the cake data
    (``REMLcrit(lmer(angle ~ temp %in% recipe + (1 | recipe:replicate), cake))``): 1715.329, and
    1703.267 with ``recipe +`` in front."""
    import warnings

    import mixedmodels as mm

    cake = mm.datasets.load("cake")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mm.MixedModelsWarning)
        alone = mm.lmer("angle ~ temp %in% recipe + (1 | recipe:replicate)", cake)
        nested = mm.lmer("angle ~ recipe + temp %in% recipe + (1 | recipe:replicate)", cake)
        interaction = mm.lmer("angle ~ temp:recipe + (1 | recipe:replicate)", cake)
    assert list(alone.fixef.index) == ["(Intercept)", "temp:recipeA", "temp:recipeB", "temp:recipeC"]
    assert alone.objective == pytest.approx(interaction.objective, rel=1e-12)
    assert alone.objective == pytest.approx(1715.329, abs=1e-3)
    assert nested.objective == pytest.approx(1703.267, abs=1e-3)


@pytest.mark.parametrize("formula", ["y ~ a %in% (b + c) + (1 | g)", "y ~ (a + b) %in% c + (1 | g)"])
def test_in_beside_a_parenthesised_group_is_refused(formula):
    """R makes one term of the group's variables there (``a %in% (b + c)`` is ``a:b:c``), not the
    terms ``a:b + a:c`` that ``:`` would give."""
    with pytest.raises(FormulaError, match="%in% beside a parenthesised group"):
        parse_formula(formula)


def test_offset_inside_a_random_effects_term_is_refused():
    # lme4 leaves it out of the term's columns ((offset(x) | g) is (1 | g)); it had been a slope column here
    with pytest.raises(FormulaError, match="offset\\(\\) inside a random-effects term") as e:
        parse_formula("y ~ x + (1 + offset(z) | g)")
    assert "position 13" in str(e.value)


def test_a_parenthesised_comparison_is_a_logical_term():
    # R's y ~ (x > 0): R's logical factor, lme4's "x > 0TRUE" (it had been "unexpected '>'", then one
    # 0/1 column named I(x > 0), which without an intercept was another model than lme4's)
    import mixedmodels as mm

    d = mm.datasets.load("sleepstudy")
    m = mm.lmer("Reaction ~ (Days > 4) + (1 | Subject)", d)
    assert list(m.fixef.index) == ["(Intercept)", "Days > 4TRUE"]
    assert m.objective == pytest.approx(1813.8266, abs=1e-4)  # lme4 1.1-31: REMLcrit 1813.8266
    # lme4 1.1-31: fixef 271.6302, 325.3856 (Days > 4FALSE, Days > 4TRUE)
    m0 = mm.lmer("Reaction ~ 0 + (Days > 4) + (1 | Subject)", d)
    assert list(m0.fixef.index) == ["Days > 4FALSE", "Days > 4TRUE"]
    np.testing.assert_allclose(m0.fixef.to_numpy(), [271.6302, 325.3856], atol=1e-4)
    assert m0.objective == pytest.approx(m.objective, rel=1e-12)
    # new rows of one level only: the fit's levels
    np.testing.assert_allclose(m0.predict(d[d.Days < 2], include_re=False), 271.6302, atol=1e-4)
    np.testing.assert_allclose(m0.predict(d[d.Days > 7], include_re=False), 325.3856, atol=1e-4)
    assert m.anova().index.tolist() == ["Days > 4"]  # R's label of the term
    assert "(Days + 1)" not in str(parse_formula("y ~ (x + 1) + (1 | g)").fixed)  # a plain group stays one


@pytest.mark.parametrize("expr", ["I(" + "+".join(["x"] * 1000) + ")", "I(" + "-" * 10000 + "x)"])
def test_an_expression_too_long_to_read_is_a_formula_error(expr):
    # Python's parser and the vetting walk recurse: a bare RecursionError or MemoryError before
    with pytest.raises(FormulaError, match="too long or nested too deeply"):
        parse_formula(f"y ~ {expr} + (1 | g)")


def test_a_comparison_as_the_response_is_0_or_1():
    # R reads a logical response as 0/1 (glmer: success); I(y > c) now gives a logical factor as a term
    import mixedmodels as mm

    d = mm.datasets.load("sleepstudy")
    a = mm.glmer("I(Reaction > 300) ~ Days + (1 | Subject)", d, family="binomial")
    b = mm.glmer("(Reaction > 300) ~ Days + (1 | Subject)", d, family="binomial")
    c = mm.glmer("high ~ Days + (1 | Subject)", d.assign(high=(d.Reaction > 300).astype(float)), family="binomial")
    assert a.loglik == pytest.approx(c.loglik, rel=1e-12)
    assert b.loglik == pytest.approx(c.loglik, rel=1e-12)
    o = mm.lmer("Reaction ~ Days + offset(I(Days > 4)) + (1 | Subject)", d)
    p = mm.lmer("Reaction ~ Days + (1 | Subject)", d, offset=(d.Days > 4).astype(float))
    assert o.objective == pytest.approx(p.objective, rel=1e-12)


def test_backtick_names_may_hold_bars_and_tildes():
    # lme4 reads (1 | `a|b`) and `y~x` ~ ...; the splitters had cut at the quoted '|' and '~'
    import mixedmodels as mm

    d = mm.datasets.load("sleepstudy").rename(columns={"Subject": "a|b", "Reaction": "y~x"})
    m = mm.lmer("`y~x` ~ Days + (1 | `a|b`)", d)
    assert m.structure.group_order == ("a|b",)
    assert m.objective == pytest.approx(
        mm.lmer("Reaction ~ Days + (1 | Subject)", mm.datasets.load("sleepstudy")).objective
    )


def test_a_comparison_as_a_random_terms_left_hand_side():
    # R's precedence: (Days > 4 | Subject) is the term of the comparison; lme4 1.1-31: REMLcrit 1749.7035
    import mixedmodels as mm

    d = mm.datasets.load("sleepstudy")
    m = mm.lmer("Reaction ~ Days + (Days > 4 | Subject)", d)
    assert m.objective == pytest.approx(1749.7035, abs=1e-4)
    assert m.structure.theta.names[-1] == "Subject.Days > 4TRUE"


def test_quoted_names_in_comparisons_and_bars():
    # a backticked name holding an apostrophe or a bar, in a comparison term and as a term's left-hand side
    import mixedmodels as mm

    d = mm.datasets.load("sleepstudy").rename(columns={"Days": "a'b", "Subject": "p|q"})
    m = mm.lmer("Reaction ~ `a'b` + (`a'b` > 4 | `p|q`)", d)
    assert m.objective == pytest.approx(1749.7035, abs=1e-4)
    d2 = mm.datasets.load("sleepstudy").rename(columns={"Days": "p|q"})
    assert mm.lmer("Reaction ~ `p|q` + (`p|q` | Subject)", d2).objective == pytest.approx(1743.6283, abs=1e-4)


def test_arithmetic_on_comparisons_is_a_number():
    # R: I((x > 0) * (w > 0)) is numeric (numpy keeps bool * bool a bool: it had become a factor),
    # and offset(2 * (x > 0)) is arithmetic on 0/1. lme4 1.1-31: REML 1957.3992, 1874.95788883, 1786.244
    import mixedmodels as mm

    d = mm.datasets.load("sleepstudy")
    d["w"] = np.cos(np.arange(len(d)))
    m = mm.lmer("Reaction ~ 0 + I((Days > 4) * (w > 0)) + (1 | Subject)", d)
    assert list(m.fixef.index) == ["I((Days > 4) * (w > 0))"]
    assert m.objective == pytest.approx(1957.3992, abs=1e-4)
    r = mm.lmer("Reaction ~ Days + (0 + I((Days > 4) * (w > 0)) | Subject)", d)
    assert r.objective == pytest.approx(1874.95788883, abs=1e-6)
    o = mm.lmer("Reaction ~ Days + offset(2 * (Days > 4)) + (1 | Subject)", d)
    assert o.objective == pytest.approx(1786.2444, abs=1e-4)


def test_the_translations_own_call_names_are_reserved():
    import mixedmodels as mm

    d = mm.datasets.load("sleepstudy")
    d["w"] = np.cos(np.arange(len(d)))
    # an unused column of such a name is left out of the way; one named in the formula is refused
    shadowed = mm.lmer("Reaction ~ Days + offset(w) + (1 | Subject)", d.assign(_as_number=d.w))
    assert shadowed.objective == pytest.approx(mm.lmer("Reaction ~ Days + offset(w) + (1 | Subject)", d).objective)
    with pytest.raises(FormulaError, match="'_logical' is reserved"):
        mm.lmer("Reaction ~ _logical + (1 | Subject)", d.assign(_logical=d.w))


def test_names_keep_backticked_quotes():
    from mixedmodels.names import r_name

    assert r_name("I(`a'b'c` + 1)") == "I(`a'b'c` + 1)"
    assert r_name("_logical(h != 'q')[T.TRUE]") == 'h != "q"TRUE'


def test_comparisons_as_a_binomial_response():
    # R: '~' binds loosest, so y > 300 ~ x is (y > 300) ~ x; cbind's comparisons had failed to read
    # (" cnt <= 4": unexpected indent). lme4 1.1-31: logLik -87.1631 for all three
    import mixedmodels as mm

    d = mm.datasets.load("sleepstudy")
    d["cnt"] = (d["Reaction"] // 60).astype(int)
    for formula in (
        "Reaction > 300 ~ Days + (1 | Subject)",
        "(Reaction > 300) ~ Days + (1 | Subject)",
        "cbind(cnt > 4, cnt <= 4) ~ Days + (1 | Subject)",
    ):
        assert mm.glmer(formula, d, family="binomial").loglik == pytest.approx(-87.1631, abs=1e-4)


def test_arithmetic_on_comparisons_after_text_beyond_ascii():
    # ast counts UTF-8 bytes, the token map characters: the wrapper had gone into the middle of a name
    import mixedmodels as mm

    d = mm.datasets.load("sleepstudy")
    d["cé"] = np.cos(np.arange(len(d)))
    m = mm.lmer("Reaction ~ I(`cé` + (Days > 4)) + (1 | Subject)", d)
    assert list(m.fixef.index) == ["(Intercept)", "I(cé + (Days > 4))"]
    plain = mm.lmer("Reaction ~ I(c + (Days > 4)) + (1 | Subject)", d.rename(columns={"cé": "c"}))
    assert m.objective == pytest.approx(plain.objective, rel=1e-12)
