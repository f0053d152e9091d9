"""emmeans' arguments: clear errors naming the argument and the value; and a few behaviours not
in the R reference (printing, reverse pairs, dict contrasts, the tukey -> sidak rule, glmer)."""

from __future__ import annotations

import numpy as np
import pytest

import mixedmodels as mm
from mixedmodels.emmeans import emmeans
from mixedmodels.exceptions import ArgumentError


@pytest.fixture(scope="module")
def cake(fits):
    return fits.fit("angle ~ recipe * temperature + (1 | recipe:replicate)", "cake")


@pytest.fixture(scope="module")
def sleep(fits):
    return fits.fit("Reaction ~ Days + (Days | Subject)", "sleepstudy")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"specs": "~ flavour"}, "specs names 'flavour'"),
        ({"specs": ["recipe", "oven"]}, "specs names 'oven'"),
        ({"specs": "~ recipe | oven"}, "by names 'oven'"),
        ({"specs": "~ recipe", "by": "oven"}, "by names 'oven'"),
        ({"specs": "~ recipe", "at": {"oven": [1, 2]}}, "at names 'oven'"),
        ({"specs": "~ recipe", "at": {"recipe": ["Z"]}}, "'Z', which is not a level of 'recipe'"),
        ({"specs": "~ recipe", "ddf": "containment"}, "ddf must be .*'containment'"),
        ({"specs": "~ recipe", "ddf": 3}, "ddf must be"),
        ({"specs": "~ recipe", "level": 1.5}, "level must be a number between 0 and 1"),
        ({"specs": "~ recipe", "at": [1, 2]}, "at must be a dict"),
        ({"specs": 3}, "specs must be a formula string"),
        ({"specs": "pairwise ~ recipe"}, "left-hand side"),
        ({"specs": "~ "}, "names no variable"),
    ],
)
def test_argument_errors(cake, kwargs, match):
    with pytest.raises(ArgumentError, match=match):
        cake.emmeans(**kwargs)


def test_non_numeric_at_for_a_covariate(sleep):
    with pytest.raises(ArgumentError, match=r"at\['Days'\] must hold numbers .*'four'"):
        sleep.emmeans("~ Days", at={"Days": ["four"]})
    with pytest.raises(ArgumentError, match=r"at\['Days'\] must hold numbers"):
        sleep.emmeans("~ Days", at={"Days": [True]})


def test_bad_adjust_and_method(cake):
    e = cake.emmeans("~ recipe")
    with pytest.raises(ArgumentError, match="adjust must be one of .*'tukeyy'"):
        e.pairs(adjust="tukeyy")
    with pytest.raises(ArgumentError, match="adjust must be one of"):
        e.summary(adjust="mvt")
    with pytest.raises(ArgumentError, match="method must be one of .*'pairs'"):
        e.contrast("pairs")
    with pytest.raises(ArgumentError, match="has 2 weights; the panels have 3 levels"):
        e.contrast({"A vs B": [1, -1]})
    with pytest.raises(ArgumentError, match="ref 'Z' is not a level"):
        e.contrast("trt.vs.ctrl", ref="Z")
    with pytest.raises(ArgumentError, match="ref must be a level's label or its 1-based position"):
        e.contrast("trt.vs.ctrl", ref=0)
    with pytest.raises(ArgumentError, match="by names"):
        e.contrast("pairwise", by="oven")


def test_emtrends_var_errors(cake, sleep):
    with pytest.raises(ArgumentError, match="var 'recipe' must be a numeric covariate"):
        cake.emtrends("~ 1", var="recipe")
    with pytest.raises(ArgumentError, match="var 'Weeks' must be a numeric covariate"):
        sleep.emtrends("~ 1", var="Weeks")
    with pytest.raises(ArgumentError, match="var must be the name"):
        sleep.emtrends("~ 1", var=3)


def test_reverse_pairs_trt_vs_ctrl_ref_and_dict(cake):
    e = cake.emmeans("~ recipe")
    fwd, rev = e.pairs(), e.pairs(reverse=True)
    assert rev.grid["contrast"].tolist() == ["B - A", "C - A", "C - B"]
    np.testing.assert_allclose(sorted(np.abs(fwd.estimate)), sorted(np.abs(rev.estimate)), rtol=1e-12)
    t = e.contrast("trt.vs.ctrl", ref="C")
    assert t.grid["contrast"].tolist() == ["A - C", "B - C"]
    d = e.contrast({"A vs rest": [1, -0.5, -0.5]})
    assert d.adjust == "none"
    assert d.estimate[0] == pytest.approx(e.estimate[0] - (e.estimate[1] + e.estimate[2]) / 2, rel=1e-12)


def test_tukey_on_means_becomes_sidak_with_a_note(cake):
    s = cake.emmeans("~ recipe").summary(adjust="tukey")
    assert any('"tukey" was changed to "sidak"' in n for n in s.attrs["notes"])
    assert "P value adjustment: sidak method for 3 tests" in s.attrs["messages"]


def test_printing(cake):
    text = str(cake.emmeans("~ recipe | temperature").pairs())
    assert "temperature = 175:" in text
    assert "P value adjustment: tukey method for comparing a family of 3 estimates" in text
    html = cake.emmeans("~ recipe")._repr_html_()
    assert "<table" in html
    assert "Degrees-of-freedom method: kenward-roger" in html


def test_glmer_takes_asymptotic_df_only():
    """glmer fits: asymptotic inference (tests/reference/test_glmm_postestimation.py checks the numbers)."""
    cbpp = mm.datasets.load("cbpp")
    g = mm.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp, family="binomial")
    assert "asymp.LCL" in emmeans(g, "~ period").frame.columns
    with pytest.raises(ArgumentError, match="asymptotic"):
        emmeans(g, "~ period", ddf="kenward-roger")
    with pytest.raises(ArgumentError, match="needs a fitted model from mm.lmer"):
        emmeans(cbpp, "~ period")


def test_emmeans_of_a_model_with_a_backticked_name():
    # x.a is read through formulaic's alias, which had left it out of the spec's variables: the
    # reference grid lacked it (a NameError from formulaic). R's emmeans: the covariate at its mean
    import mixedmodels as mm

    sleep = mm.datasets.load("sleepstudy")
    d = sleep.assign(**{"d.a": sleep["Days"], "f": np.where(sleep["Days"] % 3 == 0, "a", "b")})
    dotted = mm.lmer("Reaction ~ f + d.a + (1 | Subject)", d).emmeans("f")
    plain = mm.lmer("Reaction ~ f + Days + (1 | Subject)", d).emmeans("f")
    np.testing.assert_allclose(dotted.frame["emmean"], plain.frame["emmean"], rtol=1e-10)
