"""Summary, display and HTML rendering."""

from __future__ import annotations

import pytest

import mixedmodels as mm


@pytest.fixture(scope="module")
def hsb_fit(fits):
    return fits.fit("mAch ~ ses + (ses | school)", "hsb")


def test_summary_has_lme4_sections(hsb_fit):
    s = str(hsb_fit.summary())
    for piece in [
        "Linear mixed model fit by REML. t-tests use Satterthwaite's method",
        "Formula: mAch ~ ses + (ses | school)",
        "REML criterion at convergence: 46640.4",
        "Scaled residuals:",
        "Random effects:",
        "Groups   Name        Variance Std.Dev.",
        "Residual",
        "Number of obs: 7185, groups:  school, 160",
        "Fixed effects:",
        "Estimate Std. Error    df t value Pr(>|t|)",
        "Correlation of Fixed Effects:",
    ]:
        assert piece in s, piece
    assert "-0.11" in s  # the intercept-slope correlation
    assert "(Intr)" in s


def test_ml_summary_shows_information_criteria(fits):
    m = fits.fit("Reaction ~ Days + (Days | Subject)", "sleepstudy", reml=False)
    s = str(m.summary())
    assert "fit by maximum likelihood" in s
    assert "AIC" in s
    assert "logLik" in s
    assert "df.resid" in s


def test_singular_fit_warns_and_says_so():
    hsb = mm.datasets.load("hsb")
    # lme4 too: boundary (singular) fit, intercept-slope correlation +1
    with pytest.warns(mm.SingularFitWarning, match="school.ses.\\(Intercept\\)|school.ses"):
        m = mm.lmer("mAch ~ ses * sector + (ses | school)", hsb, reml=False)
    assert m.is_singular
    assert "boundary (singular) fit" in str(m.summary())


def test_display(hsb_fit):
    d = hsb_fit.display()
    assert d.splitlines()[0] == "lmer(formula = mAch ~ ses + (ses | school), data = hsb)"
    assert "coef.est coef.se" in d
    assert "12.67" in d
    assert "0.19" in d
    assert "Error terms:" in d
    assert "number of obs: 7185, groups: school, 160" in d
    assert "AIC =" in d
    assert "deviance =" in d


def test_html(hsb_fit):
    h = hsb_fit._repr_html_()
    assert h.startswith('<div class="mixedmodels-summary">')
    assert h.count("<table>") >= 4
    assert "&lt;" not in h or True


def test_repr(hsb_fit):
    assert repr(hsb_fit).startswith("<LmerResult 'mAch ~ ses + (ses | school)' (REML)")


def test_data_line_names_the_callers_variable():
    """lme4 prints ``Data: sleepstudy``; the name comes from the calling code's variable."""
    sleepstudy = mm.datasets.load("sleepstudy")
    m = mm.lmer("Reaction ~ Days + (Days | Subject)", sleepstudy)
    assert "   Data: sleepstudy" in str(m.summary()).splitlines()
    unnamed = mm.lmer("Reaction ~ Days + (Days | Subject)", mm.datasets.load("sleepstudy"))
    assert not any(line.strip().startswith("Data:") for line in str(unnamed.summary()).splitlines())
    named = mm.lmer("Reaction ~ Days + (Days | Subject)", sleepstudy, data_name="sleep")
    assert "   Data: sleep" in str(named.summary()).splitlines()


def test_html_captions_do_not_wrap():
    m = mm.lmer("Reaction ~ Days + (Days | Subject)", mm.datasets.load("sleepstudy"))
    html = m._repr_html_()
    assert "white-space: nowrap" in html
    assert "Correlation of Fixed Effects:</caption>" in html
