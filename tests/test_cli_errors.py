"""The command line never shows a traceback for bad input: each error is one line on stderr
(``mixedmodels: error: ...``) with the documented exit status, and warnings are one line each."""

from __future__ import annotations

import os
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest

import mixedmodels as mm
from mixedmodels import cli
from mixedmodels.cli import EXIT_STATUS, main

SLEEP = "Reaction ~ Days + (Days | Subject)"
PYTHON_PATH = str(Path(mm.__file__).resolve().parents[1])


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("mixedmodels: error: "), err
    assert "Traceback" not in err
    return lines[0]


def _files(tmp_path: Path) -> dict[str, Path]:
    rng = random.Random(0)
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    junk = tmp_path / "junk.csv"
    junk.write_bytes(bytes([0x8B, 0x9C]) + bytes(rng.randrange(256) for _ in range(2000)))
    junk_bin = tmp_path / "junk.bin"
    junk_bin.write_bytes(bytes([0xFF, 0xFE, 0x00]) + bytes(rng.randrange(256) for _ in range(500)))
    parquet = tmp_path / "corrupt.parquet"
    parquet.write_bytes(b"PAR1 this is not really parquet")
    gz = tmp_path / "bad.csv.gz"
    gz.write_bytes(b"not gzip at all")
    header = tmp_path / "header.csv"
    header.write_text("Reaction,Days,Subject\n")
    folder = tmp_path / "folder"
    folder.mkdir()
    return {
        "empty": empty,
        "junk": junk,
        "junk_bin": junk_bin,
        "parquet": parquet,
        "gz": gz,
        "header": header,
        "folder": folder,
    }


@pytest.mark.parametrize(
    ("which", "match"),
    [
        ("empty", "cannot read .*empty.csv as CSV: the file is empty"),
        ("junk", "cannot read .*junk.csv as CSV: it is not text"),
        ("junk_bin", "cannot read .*junk.bin as CSV"),
        ("parquet", "cannot read .*corrupt.parquet as Parquet"),
        ("gz", "cannot read .*bad.csv.gz as CSV"),
        ("header", "the data frame has no rows"),
        ("folder", "folder is a directory, not a data file"),
    ],
)
def test_unreadable_data_is_one_line_and_status_2(tmp_path, capsys, which, match):
    if which == "parquet":
        pytest.importorskip("pyarrow")
    path = _files(tmp_path)[which]
    code, out, err = _run(capsys, "fit", SLEEP, "--data", str(path))
    assert code == 2
    assert out == ""
    line = _one_error_line(err)
    assert re.search(match, line), line


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (["fit", SLEEP, "--data", "nosuch/file.csv"], "no such file: nosuch/file.csv"),
        (["fit", SLEEP, "--data", "nosuchdataset"], "'nosuchdataset' is neither a file nor a bundled dataset"),
        (["fit", "Reaction ~ Days", "--data", "sleepstudy"], "has no random-effects term"),
        (["fit", "Reaction ~ Days + (Days | Subjct)", "--data", "sleepstudy"], "did you mean 'Subject'"),
        (["fit", "Reaction ~ Days + (Days |", "--data", "sleepstudy"], "unbalanced parenthesis"),
        (["fit", "Subject ~ Days + (1 | Subject)", "--data", "sleepstudy"], "must be numeric"),
        (["fit", "mAch ~ meanses + (1 + meanses | school)", "--data", "hsb"], "constant within every level"),
    ],
)
def test_usage_formula_and_data_errors_are_status_2(capsys, argv, match):
    code, out, err = _run(capsys, *argv)
    assert code == 2
    assert out == ""
    line = _one_error_line(err)
    assert re.search(match, line), line


def test_plot_into_a_missing_directory_is_refused_before_the_fit(tmp_path, capsys, monkeypatch):
    pytest.importorskip("matplotlib")

    def no_fit(*args, **kwargs):
        raise AssertionError("fitted before checking --plot")

    monkeypatch.setattr(cli, "lmer", no_fit)
    target = tmp_path / "missing" / "figure.png"
    code, out, err = _run(capsys, "fit", SLEEP, "--data", "sleepstudy", "--plot", str(target))
    assert code == 2
    assert "does not exist" in _one_error_line(err)
    code, out, err = _run(capsys, "fit", SLEEP, "--data", "sleepstudy", "--plot", str(tmp_path))
    assert code == 2
    assert "is a directory" in _one_error_line(err)
    code, out, err = _run(capsys, "fit", SLEEP, "--data", "sleepstudy", "--plot", str(tmp_path / "figure.xyz"))
    assert code == 2
    assert "matplotlib cannot write .xyz files; use one of" in _one_error_line(err)


def test_plot_is_written(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    target = tmp_path / "figure.png"
    code, out, err = _run(capsys, "fit", SLEEP, "--data", "sleepstudy", "--plot", str(target), "--plot-kind", "ranef")
    assert code == 0
    assert target.stat().st_size > 0
    assert f"wrote the ranef figure to {target}" in out


def test_a_failed_fit_is_status_1(capsys, monkeypatch):
    def failing(*args, **kwargs):
        raise mm.CoreError("the factorisation failed")

    monkeypatch.setattr(cli, "lmer", failing)
    code, out, err = _run(capsys, "fit", SLEEP, "--data", "sleepstudy")
    assert code == 1
    assert "the fit failed: CoreError: the factorisation failed" in _one_error_line(err)

    def buggy(*args, **kwargs):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(cli, "lmer", buggy)
    code, out, err = _run(capsys, "fit", SLEEP, "--data", "sleepstudy")
    assert code == 1
    assert "ZeroDivisionError" in _one_error_line(err)
    with pytest.raises(ZeroDivisionError):
        main(["fit", SLEEP, "--data", "sleepstudy", "--traceback"])


def test_warnings_are_one_line_without_the_source(capsys):
    code, out, err = _run(capsys, "fit", "mAch ~ ses * sector + (ses | school)", "--data", "hsb")
    assert code == 0
    assert "REML criterion" in out
    lines = err.strip().splitlines()
    assert lines == [
        "mixedmodels: warning: boundary (singular) fit: a variance is zero or a correlation is +-1 at school.ses "
        "(see is_singular)"
    ]


def test_exit_statuses_are_documented(capsys):
    with pytest.raises(SystemExit):
        main(["fit", "--help"])
    out = capsys.readouterr().out
    assert "exit status:" in out
    for code in EXIT_STATUS:
        assert f"  {code} " in out
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    for code in EXIT_STATUS:
        assert f"`{code}`" in readme


def test_subprocess_shows_no_traceback(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    env = {**os.environ, "PYTHONPATH": PYTHON_PATH}
    for data, expect in ((str(empty), "the file is empty"), (str(tmp_path), "is a directory")):
        res = subprocess.run(
            [sys.executable, "-m", "mixedmodels", "fit", SLEEP, "--data", data],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        assert res.returncode == 2
        assert res.stderr.count("\n") == 1, res.stderr
        assert expect in res.stderr
        assert "Traceback" not in res.stderr
    res = subprocess.run(
        [sys.executable, "-m", "mixedmodels", "fit", "mAch ~ ses * sector + (ses | school)", "--data", "hsb"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert res.returncode == 0
    assert res.stderr.startswith("mixedmodels: warning: boundary (singular) fit")
    assert "cli.py" not in res.stderr
    assert "runpy" not in res.stderr
