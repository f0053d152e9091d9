"""Formulas are code: hostile ones are refused before anything evaluates them, with a FormulaError
naming the offending text and its position, and with no side effect (issue 14, item 2)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mixedmodels as mm
from mixedmodels.design import materialise
from mixedmodels.exceptions import FormulaError
from mixedmodels.expressions import model_matrix, translate
from mixedmodels.formula import parse_formula


@pytest.fixture
def frame():
    rng = np.random.default_rng(0)
    n = 40
    return pd.DataFrame(
        {
            "y": rng.normal(size=n),
            "x": rng.uniform(1, 4, size=n),
            "g": np.repeat(list("abcdefgh"), 5),
        }
    )


def _hostile(path: str) -> list[tuple[str, str]]:
    """(formula, the text the error must point at): each would write `path` if evaluated."""
    w = f"open({path!r}, 'w').write('x')"
    sh = f"__import__('os').system('touch {path}')"
    return [
        (f"y ~ I({sh}) + (1 | g)", "__import__"),
        (f"y ~ I({sh}.bit_length()) + (1 | g)", "__import__"),
        (f"y ~ x + {w} + (1 | g)", "open"),
        (f"y ~ I({w}) + (1 | g)", "open"),
        (f'y ~ I(eval("{w}")) + (1 | g)', "eval"),
        (f'y ~ I(exec("{w}")) + (1 | g)', "exec"),
        ("y ~ I(getattr(x, 'real')) + (1 | g)", "getattr"),
        ("y ~ I(globals()) + (1 | g)", "globals"),
        ("y ~ I(vars()) + (1 | g)", "vars"),
        ("y ~ I(x.__class__.__mro__[1].__subclasses__()) + (1 | g)", "x.__class__"),
        ("y ~ I(().__class__.__base__.__subclasses__()) + (1 | g)", "."),
        ("y ~ I((lambda: 1)()) + (1 | g)", "lambda"),
        (f"y ~ I((lambda: {w})()) + (1 | g)", "lambda"),
        ("y ~ I([v for v in x]) + (1 | g)", "["),
        ("y ~ I(sum(v for v in x)) + (1 | g)", "sum"),
        ("y ~ I({v: 1 for v in x}) + (1 | g)", "{"),
        ("y ~ I((z := x)) + (1 | g)", "z"),
        ('y ~ I(f"{x}") + (1 | g)', "f"),
        ('y ~ I("{0.__class__}".format(x)) + (1 | g)', ".format"),
        ('y ~ I("%s" % x) + (1 | g)', '"%s"'),
        ("y ~ I(I(I(__import__('os')))) + (1 | g)", "__import__"),
        ("y ~ log(x, base=__import__('os')) + (1 | g)", "__import__"),
        ("y ~ log(*x) + (1 | g)", "*"),
        ("y ~ log(x, **{'base': 2}) + (1 | g)", "{"),
        ("y ~ I(x[0]) + (1 | g)", "x"),
        ("y ~ np.os.system('id') + (1 | g)", "np.os.system"),
        ("y ~ np.log.__call__(x) + (1 | g)", "np.log.__call__"),
        ("y ~ I(x if x else x) + (1 | g)", "x"),
        ("y ~ I(x and x) + (1 | g)", "x"),
        ("y ~ breakpoint() + (1 | g)", "breakpoint"),
        ("y ~ strata(x) + (1 | g)", "strata"),
        ("y ~ c(1, 2) + (1 | g)", "c"),
        ("y ~ bs(x, knots = c(x, 2)) + (1 | g)", "c"),
        ("y ~ {x} + (1 | g)", "{"),
        ("y ~ x + [1] + (1 | g)", "["),
        (f"y ~ x + (I({sh}) | g)", "__import__"),
        (f"y ~ x + (0 + I({w}) || g)", "open"),
        (f"I({sh}) ~ x + (1 | g)", "__import__"),
        (f"log(y + {w}) ~ x + (1 | g)", "open"),
        (f"y ~ x + (1 | {sh})", "__import__"),
        (f"y ~ x + (1 | g/{sh})", "__import__"),
        (f"y ~ x + (1 | g:{w})", "open"),
        ("y ~ x + (1 | `__import__`)", "`__import__`"),
        ("y ~ Q('__class__') + (1 | g)", "Q"),
    ]


def test_the_list_covers_the_hostile_kinds():
    kinds = " ".join(f for f, _ in _hostile("p"))
    for needle in ("__import__", "__mro__", "lambda", " for ", ":=", 'f"', ".format", "open(", "eval(", "getattr"):
        assert needle in kinds
    for where in ("(I(", "~ x + (1 | __", "I(__import__('os').system('touch p')) ~"):
        assert where in kinds


@pytest.mark.parametrize(("index"), range(len(_hostile("p"))))
def test_hostile_formula_is_refused_without_side_effect(tmp_path, frame, index):
    path = str(tmp_path / "pwned")
    formula, at = _hostile(path)[index]
    with pytest.raises(FormulaError) as info:
        mm.lmer(formula, frame)
    message = str(info.value)
    m = re.search(r"at position (\d+) of the formula", message)
    assert m is not None, message
    assert formula[int(m.group(1)) :].startswith(at) or formula[int(m.group(1)) :].startswith(".write"), message
    assert formula in message
    assert not os.path.exists(path)
    assert os.listdir(tmp_path) == []
    with pytest.raises(FormulaError):  # the parser alone refuses (nothing later has to)
        materialise(formula, frame)
    assert not os.path.exists(path)


@pytest.mark.parametrize(("index"), range(len(_hostile("p"))))
def test_hostile_formula_is_refused_by_the_streamed_source(tmp_path, frame, index):
    path = str(tmp_path / "pwned")
    formula, _ = _hostile(path)[index]
    with pytest.raises(FormulaError):
        mm.lmer(formula, [frame.iloc[:20], frame.iloc[20:]])
    assert not os.path.exists(path)


def test_hostile_formula_is_refused_by_the_command_line(tmp_path, frame):
    path = tmp_path / "pwned"
    data = tmp_path / "d.csv"
    frame.to_csv(data, index=False)
    formula = f"y ~ I(__import__('os').system('touch {path}')) + (1 | g)"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    out = subprocess.run(
        [sys.executable, "-m", "mixedmodels", "fit", formula, "--data", str(data)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert out.returncode != 0
    assert "double underscore" in out.stderr + out.stdout
    assert not path.exists()


def test_errors_name_the_text_and_position():
    with pytest.raises(FormulaError, match=r"unknown function 'open'.* at position 8 ") as info:
        parse_formula("y ~ x + open('f') + (1 | g)")
    assert "\n  y ~ x + open('f') + (1 | g)\n          ^" in str(info.value)
    with pytest.raises(FormulaError, match="attribute access"):
        parse_formula("y ~ I((x).real) + (1 | g)")
    with pytest.raises(FormulaError, match="a lambda"):
        parse_formula("y ~ I((lambda: 1)()) + (1 | g)")
    with pytest.raises(FormulaError, match="comprehension"):
        parse_formula("y ~ I([v for v in x]) + (1 | g)")
    with pytest.raises(FormulaError, match="f-string"):
        parse_formula('y ~ I(f"{x}") + (1 | g)')
    with pytest.raises(FormulaError, match=r"offset\(\) needs an argument"):
        parse_formula("y ~ x + offset() + (1 | g)")
    with pytest.raises(FormulaError, match=r"cbind\(\) takes two columns"):
        parse_formula("cbind(a) ~ x + (1 | g)")
    with pytest.raises(FormulaError, match="whole response"):
        parse_formula("cbind(a, b) + 1 ~ x + (1 | g)")
    with pytest.raises(FormulaError, match=r"log\(\) has no argument 'out'"):
        parse_formula("y ~ log(x, out=x) + (1 | g)")


def test_names_that_are_neither_columns_nor_functions_get_the_column_error(frame):
    with pytest.raises(FormulaError, match=r"the data has no column 'xx' \(did you mean 'x'\?\)"):
        mm.lmer("y ~ log(xx) + (1 | g)", frame)
    with pytest.raises(FormulaError, match="no column 'open'"):
        mm.lmer("y ~ I(open + 1) + (1 | g)", frame)


def test_evaluation_sees_no_builtins(frame):
    """Even text that skipped the vetting could not reach Python's builtins: each is shadowed in
    the namespace formulaic evaluates in."""
    import formulaic

    from mixedmodels.expressions import _context

    for code in ("0 + I(len(x))", "0 + I(__import__('os'))", "0 + I(open('f'))"):
        with pytest.raises(Exception, match="not available in a formula"):
            formulaic.model_matrix(code, frame, context=dict(_context(False)))
    with pytest.raises(FormulaError, match="unknown function 'len'"):  # and the vetting comes first
        model_matrix("0 + I(len(x))", frame)


def test_predictions_replay_the_vetted_spec_only(frame):
    m = mm.lmer("y ~ log(x, 2) + I(x^2) + (1 | g)", frame)
    new = frame.iloc[:5].copy()
    assert np.allclose(m.predict(new), m.predict()[:5])
    spec = m.model.structure.encoding.formula("predict").fixed
    assert "Intercept" in spec.column_names


def test_trusted_runs_python_as_written(tmp_path, frame):
    path = tmp_path / "trusted"
    formula = f"y ~ I(__import__('pathlib').Path({str(path)!r}).touch() or x) + (1 | g)"
    with pytest.raises(FormulaError):
        mm.lmer(formula, frame)
    assert not path.exists()
    m = mm.lmer(formula, frame, trusted=True)  # documented: arbitrary code
    assert path.exists()
    assert len(m.fixef) == 2
    with pytest.raises(mm.MixedModelsError, match="data frame"):
        mm.lmer("y ~ x + (1 | g)", [frame], trusted=True)


def test_translate_is_pure():
    t = translate("y ~ I(x^2) + log(`a b`, base = 10) + poly(Informed.liking, 2, raw = TRUE)")
    assert t.text == "y ~ I(x**2) + log(`a b`, base = 10) + poly(`Informed.liking`, 2, raw = True)"
    assert t.variables == {"y", "x", "a b", "Informed.liking"}
    assert t.numeric == {"x", "a b", "Informed.liking"}


def test_lmlist_and_type3_tests_evaluate_vetted_code_only(tmp_path, frame):
    path = tmp_path / "pwned"
    with pytest.raises(FormulaError, match="double underscore"):
        mm.lmlist(f"y ~ I(__import__('os').system('touch {path}')) | g", frame)
    assert not path.exists()
    fits = mm.lmlist("y ~ log(x, 2) | g", frame)
    assert list(fits.coef.columns) == ["(Intercept)", "log(x, 2)"]
    m = mm.lmer("y ~ factor(g == 'a') + log(x, 2) + I(x^3) + (1 | g)", frame)
    assert list(m.anova().index) == ['factor(g == "a")', "log(x, 2)", "I(x^3)"]  # R's labels


@pytest.mark.parametrize(
    "formula", ["y ~ I(9^9^9^9) + (1 | g)", "y ~ I(x^(2^5000)) + (1 | g)", "y ~ I((9^9^9) * x) + (1 | g)"]
)
def test_powers_of_constants_that_would_never_finish_are_refused(formula):
    with pytest.raises(FormulaError, match="too large"):
        parse_formula(formula)


def test_poly_degree_is_checked(frame):
    with pytest.raises(FormulaError, match="unique points"):
        mm.lmer("y ~ poly(x, 100000) + (1 | g)", frame)
    with pytest.raises(FormulaError, match="between 1 and 50"):
        mm.lmer("y ~ poly(x, 10**6, raw = TRUE) + (1 | g)", frame)


@pytest.mark.filterwarnings("ignore::mixedmodels.SingularFitWarning")
@pytest.mark.parametrize("call", ["scale(x)", "center(x)", "poly(x, 2)"])
def test_streamed_data_learns_transforms_of_all_rows(frame, call):
    """The table's scale(), center() and poly() learn their state over all chunks (`stream`), so
    each chunk is not transformed on its own rows."""
    whole = mm.lmer(f"y ~ {call} + (1 | g)", frame)
    chunked = mm.lmer(f"y ~ {call} + (1 | g)", [frame.iloc[:20], frame.iloc[20:]])
    assert chunked.objective == pytest.approx(whole.objective, rel=1e-10)
    np.testing.assert_allclose(chunked.fixef, whole.fixef, rtol=1e-6)


def test_chunks_without_learned_state_refuse_transforms_of_all_rows(frame):
    """materialise with fixed levels but no learned state (a caller other than `stream`) refuses
    them rather than transforming each chunk on its own rows."""
    from mixedmodels.design import materialise

    with pytest.raises(FormulaError, match="depends on all the rows"):
        materialise("y ~ scale(x) + (1 | g)", frame.iloc[:20], levels={"g": sorted(frame.g.unique())})


@pytest.mark.filterwarnings("ignore::mixedmodels.SingularFitWarning")
def test_streamed_data_takes_row_wise_transforms(frame):
    formula = "y ~ log(x, 2) + I(x^3) + poly(x, 2, raw = TRUE) + (1 | g)"
    whole = mm.lmer(formula, frame)
    chunked = mm.lmer(formula, [frame.iloc[:20], frame.iloc[20:]])
    np.testing.assert_allclose(chunked.fixef, whole.fixef, rtol=1e-6)


def test_columns_named_like_python_keywords_are_columns(frame):
    d = frame.assign(**{"class": frame.x * 2, "import": frame.x + 1})
    s, _ = materialise("y ~ class + import + (1 | g)", d)
    assert s.fixed_names == ("(Intercept)", "class", "import")
    with pytest.raises(FormulaError, match="cannot build"):  # formulaic cannot read them inside a call
        materialise("y ~ log(import) + (1 | g)", d)


_SOUP = st.lists(
    st.sampled_from(
        [
            "y", "x", "g", "~", "(", ")", "|", "+", "*", "^", "**", ".", ",", "'os'", '"s"', "[", "]", "{", "}",
            ":", "=", ":=", "lambda", "for", "in", "if", "`", "__import__", "__class__", "open", "eval", "I", "log",
            "factor", "np.log", "f", "0", "1", "2.5", "TRUE", "%%", "@", "!", "-", "/", "#", ";", "\\", " ",
        ]
    ),
    max_size=16,
).map("".join)  # fmt: skip


@settings(max_examples=400, deadline=None, derandomize=True)
@given(_SOUP)
def test_any_text_parses_or_raises_a_formula_error(text):
    """The parser never evaluates anything and raises nothing but FormulaError."""
    try:
        pf = parse_formula(text)
    except FormulaError:
        return
    for piece in (pf.response, pf.fixed, *(t.lhs for t in pf.random)):
        assert "__" not in piece


def test_a_hand_made_parsed_formula_is_vetted_where_it_is_evaluated(tmp_path, frame):
    from mixedmodels.formula import ParsedFormula, RandomTerm

    hostile = "I(().__class__.__base__.__subclasses__())"
    pf = ParsedFormula("hand made", "y", hostile, (RandomTerm("1", ("g",), "(1 | g)"),), frozenset({"y", "g"}))
    with pytest.raises(FormulaError, match="is not allowed in a formula"):
        materialise(pf, frame)
    with pytest.raises(FormulaError, match="is not allowed in a formula"):
        model_matrix(hostile, frame)


def test_a_dot_for_every_other_column_is_refused_by_name():
    import mixedmodels as mm

    sleep = mm.datasets.load("sleepstudy")
    with pytest.raises(mm.FormulaError, match=r"'\.' \(R's 'every other column'\) is not supported"):
        mm.lmer("Reaction ~ . + (1 | Subject)", sleep)
    quoted = mm.lmer("Reaction ~ `.` + (1 | Subject)", sleep.rename(columns={"Days": "."}))  # a column so named
    assert list(quoted.fixef.index) == ["(Intercept)", "."]


def test_columns_named_like_functions():
    """R reads log(c) with a column c as the column (it had been refused: "'c' is a function"); a
    column named like a function the formula calls (log beside log(Days + 1), C beside C(A, ...))
    had hidden the function ("'Series' object is not callable"): unused, it is left out, in the fit
    and in predict's newdata; used (bs(c, knots = c(2, 5))), the error names it."""
    import mixedmodels as mm

    sleep = mm.datasets.load("sleepstudy")
    d = sleep.assign(c=sleep["Days"] + 1, log=0.5 * sleep["Days"], A=np.where(sleep["Days"] % 2 == 0, "a", "b"))
    d["C"] = d["A"]
    m = mm.lmer("Reaction ~ log(c) + (1 | Subject)", d)
    assert m.objective == pytest.approx(mm.lmer("Reaction ~ log(Days + 1) + (1 | Subject)", sleep).objective, rel=1e-12)
    mm.lmer("Reaction ~ log(Days + 1) + C(A, contr.sum) + (1 | Subject)", d)
    np.testing.assert_array_equal(m.predict(d.head(4)), m.predict(d.head(4).drop(columns=["log", "C"])))
    with pytest.raises(mm.FormulaError, match=r"the column 'c' has the name of the function c\(\)"):
        mm.lmer("Reaction ~ bs(c, knots = c(2, 5)) + (1 | Subject)", d)
    with pytest.raises(mm.FormulaError, match=r"no column 'c' \('c' is a function: call it"):
        mm.lmer("Reaction ~ log(c) + (1 | Subject)", sleep)
    with pytest.raises(mm.FormulaError, match=r"no column 'Q' \('Q' is a function"):  # nothing evaluated
        mm.lmer("Reaction ~ I(Q) + (1 | Subject)", sleep)


def test_c_with_a_number_for_contrasts_says_what_c_takes():
    # formulaic had said "tuple index out of range"
    import mixedmodels as mm

    with pytest.raises(mm.FormulaError, match="C\\(\\)'s second argument must be contrasts"):
        mm.lmer("angle ~ C(recipe, 5) + (1 | replicate)", mm.datasets.load("cake"))
