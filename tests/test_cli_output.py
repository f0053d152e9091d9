"""The command line's machine-readable output (``--format json|csv``), ``--confint`` and the figure
``--plot`` chooses by itself."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest

import mixedmodels as mm
from mixedmodels.cli import main

SLEEP = "Reaction ~ Days + (Days | Subject)"


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_json_holds_the_fit_statistics_and_estimates(capsys):
    code, out, _ = _run(capsys, "fit", SLEEP, "--data", "sleepstudy", "--format", "json", "--confint", "wald")
    assert code == 0
    doc = json.loads(out)
    m = mm.lmer(SLEEP, mm.datasets.load("sleepstudy"))
    assert doc["model"]["method"] == "REML"
    assert doc["model"]["nobs"] == 180
    assert doc["model"]["ngroups"] == {"Subject": 18}
    assert doc["model"]["reml_criterion"] == pytest.approx(m.objective, rel=1e-12)
    assert doc["model"]["converged"] is True
    fixed = pd.DataFrame(doc["fixed_effects"]).set_index("term")
    assert fixed.loc["Days", "estimate"] == pytest.approx(m.fixef["Days"], rel=1e-12)
    assert fixed.loc["Days", "df"] == pytest.approx(17.0, rel=1e-4)
    rand = pd.DataFrame(doc["random_effects"])
    assert rand["term"].tolist() == ["sd__(Intercept)", "cor__(Intercept).Days", "sd__Days", "sd__Observation"]
    assert doc["confint"][0]["parameter"] == ".sig01"
    assert doc["confint"][0]["2.5 %"] is None  # NaN (Wald has no interval for variances) is null
    ci = pd.DataFrame(doc["confint"]).set_index("parameter")
    assert ci.loc["Days", "97.5 %"] == pytest.approx(13.497, abs=1e-3)


def test_csv_is_one_table_per_section(capsys):
    code, out, _ = _run(capsys, "fit", SLEEP, "--data", "sleepstudy", "--format", "csv")
    assert code == 0
    sections = out.strip().split("\n\n")
    assert len(sections) == 2
    fixed = pd.read_csv(io.StringIO(sections[0]))
    assert set(fixed["table"]) == {"fixed_effects"}
    assert fixed["term"].tolist() == ["(Intercept)", "Days"]
    rand = pd.read_csv(io.StringIO(sections[1]))
    assert set(rand["table"]) == {"random_effects"}


def test_glmer_json_names_family_and_link(capsys):
    formula = "cbind(incidence, size - incidence) ~ period + (1 | herd)"
    code, out, _ = _run(capsys, "fit", formula, "--data", "cbpp", "--family", "binomial", "--format", "json")
    assert code == 0
    doc = json.loads(out)
    assert (doc["model"]["family"], doc["model"]["link"]) == ("binomial", "logit")
    assert doc["model"]["method"] == "glmer"
    assert doc["model"]["reml_criterion"] is None
    assert "df" not in doc["fixed_effects"][0]  # z tests


def test_text_appends_the_analyses(capsys):
    code, out, _ = _run(capsys, "fit", SLEEP, "--data", "sleepstudy", "--confint", "wald")
    assert code == 0
    assert "Linear mixed model fit by REML" in out
    assert "Confint:" in out
    assert "97.5 %" in out


def test_glmer_bootstrap_intervals(capsys):
    formula = "cbind(incidence, size - incidence) ~ period + (1 | herd)"
    args = ("--family", "binomial", "--confint", "boot", "--nsim", "20", "--seed", "1", "--format", "csv")
    code, out, _ = _run(capsys, "fit", formula, "--data", "cbpp", *args)
    assert code == 0
    assert ".sig01" in out
    assert "period4" in out


def test_plot_picks_a_figure_every_model_can_draw(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    target = tmp_path / "fig.png"
    code, out, _ = _run(capsys, "fit", "Reaction ~ Days + (1 | Subject)", "--data", "sleepstudy", "--plot", str(target))
    assert code == 0
    assert target.stat().st_size > 1000
    assert f"wrote the ranef figure to {target}" in out  # no random slope: the caterpillar
    code, out, _ = _run(capsys, "fit", SLEEP, "--data", "sleepstudy", "--plot", str(target))
    assert code == 0
    assert f"wrote the pooling figure to {target}" in out
    code, out, err = _run(capsys, "fit", SLEEP, "--data", "sleepstudy", "--plot", str(target), "--format", "json")
    assert code == 0
    assert json.loads(out)["model"]["nobs"] == 180
    assert "wrote the pooling figure" in err


def test_r2_table(capsys):
    code, out, _ = _run(capsys, "fit", SLEEP, "--data", "sleepstudy", "--format", "json", "--r2")
    assert code == 0
    r2 = {r["statistic"]: r["value"] for r in json.loads(out)["r2"]}
    m = mm.lmer(SLEEP, mm.datasets.load("sleepstudy"))
    assert r2["R2_conditional"] == pytest.approx(m.r2()["R2_conditional"], rel=1e-10)
    assert r2["ICC_adjusted"] == pytest.approx(m.icc()["ICC_adjusted"], rel=1e-10)


def test_anova_and_emmeans_tables(capsys):
    cake = "angle ~ recipe * temperature + (1 | recipe:replicate)"
    code, out, _ = _run(
        capsys, "fit", cake, "--data", "cake", "--format", "json", "--anova", "2", "--emmeans", "~ recipe", "--pairs"
    )
    assert code == 0
    doc = json.loads(out)
    m = mm.lmer(cake, mm.datasets.load("cake"))
    anova = pd.DataFrame(doc["anova"]).set_index("term")
    expected = m.anova(type=2)
    assert anova.index.tolist() == expected.index.tolist()
    np.testing.assert_allclose(anova["F value"], expected["F value"], rtol=1e-10)
    emm = pd.DataFrame(doc["emmeans"])
    np.testing.assert_allclose(emm["emmean"], m.emmeans("~ recipe").frame["emmean"], rtol=1e-12)
    assert len(doc["pairs"]) == 3  # A-B, A-C, B-C


def test_glmer_anova_is_wald_chisq(capsys):
    formula = "cbind(incidence, size - incidence) ~ period + (1 | herd)"
    code, out, _ = _run(capsys, "fit", formula, "--data", "cbpp", "--family", "binomial", "--format", "csv", "--anova")
    assert code == 0
    tables = out.strip().split("\n\n")
    anova = pd.read_csv(io.StringIO(tables[-1]))
    assert anova["table"].iloc[0] == "anova"
    assert "Chisq" in anova.columns


def test_analysis_argument_errors(capsys):
    code, _, err = _run(capsys, "fit", SLEEP, "--data", "sleepstudy", "--pairs")
    assert code == 2
    assert "--pairs goes with --emmeans" in err
    code, _, err = _run(capsys, "fit", SLEEP, "--data", "sleepstudy", "--anova", "--ddf", "asymptotic")
    assert code == 2
    assert "--anova takes --ddf satterthwaite or kenward-roger" in err
    code, _, err = _run(capsys, "fit", SLEEP, "--data", "sleepstudy", "--emmeans", "~ Dayz")
    assert code == 2
    assert "Dayz" in err
