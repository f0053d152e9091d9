"""The command line and the bundled datasets."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

import mixedmodels as mm
from mixedmodels.cli import main


def test_datasets_have_r_level_order():
    hsb = mm.datasets.load("hsb")
    assert hsb.shape == (7185, 8)
    assert list(hsb["sector"].cat.categories) == ["Public", "Catholic"]
    assert list(hsb["sx"].cat.categories) == ["Male", "Female"]
    assert hsb["school"].cat.categories[0] == "8367"
    assert mm.datasets.load("HSB82").shape == hsb.shape
    assert set(mm.datasets.names()) >= {"hsb", "sleepstudy", "insteval", "penicillin", "pastes"}
    with pytest.raises(KeyError, match="no bundled dataset"):
        mm.datasets.load("nope")


def test_cli_fit_bundled(capsys):
    assert main(["fit", "mAch ~ ses + (1 + ses | school)", "--data", "hsb"]) == 0
    out = capsys.readouterr().out
    assert "REML criterion at convergence: 46640.4" in out


def test_cli_fit_csv_ml_and_display(tmp_path, capsys):
    path = tmp_path / "sleep.csv"
    mm.datasets.load("sleepstudy").to_csv(path, index=False)
    assert main(["fit", "Reaction ~ Days + (Days | Subject)", "--data", str(path), "--ml"]) == 0
    assert "maximum likelihood" in capsys.readouterr().out
    assert main(["fit", "Reaction ~ Days + (Days | Subject)", "--data", str(path), "--display"]) == 0
    assert "coef.est" in capsys.readouterr().out


def test_cli_parquet(tmp_path, capsys):
    pytest.importorskip("pyarrow", reason="Parquet needs the optional pyarrow extra")
    path = tmp_path / "sleep.parquet"
    mm.datasets.load("sleepstudy").to_parquet(path)
    assert main(["fit", "Reaction ~ Days + (Days | Subject)", "--data", str(path)]) == 0
    assert "Subject, 18" in capsys.readouterr().out


def test_cli_errors(capsys, tmp_path):
    assert main(["fit", "Reaction ~ Days + (Days | Subjct)", "--data", "sleepstudy"]) == 2
    assert "did you mean 'Subject'" in capsys.readouterr().err
    assert main(["fit", "y ~ (1|g)", "--data", str(tmp_path / "missing.csv")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["fit", "y ~ (1|g)", "--data", "nosuchdataset"]) == 2
    assert main(["datasets"]) == 0


def test_python_dash_m():
    out = subprocess.run(
        [sys.executable, "-m", "mixedmodels", "fit", "Yield ~ 1 + (1 | Batch)", "--data", "dyestuff"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "Batch, 6" in out
    assert isinstance(pd.__version__, str)
