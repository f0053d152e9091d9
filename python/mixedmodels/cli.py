"""Command line: ``mixedmodels fit FORMULA --data NAME_OR_PATH [--ml]`` prints the summary.

``--format json`` or ``--format csv`` prints the estimates (and any analyses asked for, such as
``--confint``) for a shell pipeline instead of the summary; ``--format text`` (the default) prints
the summary followed by the analyses.

Errors are one line on stderr, ``mixedmodels: error: ...``, and warnings ``mixedmodels: warning:
...``; the exit status says what happened (`EXIT_STATUS`, also in ``mixedmodels --help``).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import textwrap
import warnings
from pathlib import Path
from typing import Any, TextIO, cast

import numpy as np
import pandas as pd

from . import datasets, emmeans, plots
from .exceptions import ArgumentError, DataError, FormulaError, MixedModelsError, MixedModelsWarning
from .fit import glmer, lmer
from .glmer_result import GlmerResult
from .results import LmerResult

__all__ = ["EXIT_STATUS", "FORMATS", "main", "read_data"]

FORMATS = ("text", "json", "csv")

OK, FIT_FAILED, USAGE, INTERRUPTED = 0, 1, 2, 130

EXIT_STATUS = {
    OK: "the model was fitted and its summary printed (warnings, such as a singular fit or a failed "
    "convergence check, go to stderr and do not change the status)",
    FIT_FAILED: "the data and formula were accepted but the fit failed (a numerical failure, an unexpected "
    "error), or the figure could not be written",
    USAGE: "usage error: bad arguments, data that cannot be read (missing file, directory, empty or corrupt "
    "file, unknown dataset name), --plot into a missing directory, a formula error or a data error",
    INTERRUPTED: "interrupted (Ctrl-C)",
}

_FILE_SUFFIXES = {".csv", ".gz", ".parquet", ".pq", ".tsv", ".txt"}


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


def read_data(source: str) -> tuple[pd.DataFrame, str]:
    """A bundled dataset by name, or a CSV / Parquet file by path; returns (frame, display name).

    Raises `FileNotFoundError` for a missing file and `DataError` for a file that cannot be read
    (a directory, an empty, binary or corrupt file), naming the file and why.

    Examples
    --------
    >>> frame, name = read_data("sleepstudy")
    >>> frame.shape, name
    ((180, 3), 'sleepstudy')
    >>> read_data("/nonexistent/data.csv")
    Traceback (most recent call last):
    ...
    FileNotFoundError: no such file: /nonexistent/data.csv
    """
    path = Path(source)
    suffixes = "".join(path.suffixes).lower()
    if path.suffix.lower() in _FILE_SUFFIXES or path.exists() or os.sep in source:
        if not path.exists():
            raise FileNotFoundError(f"no such file: {source}")
        if path.is_dir():
            raise DataError(f"{source} is a directory, not a data file (give a CSV or Parquet file)")
        parquet = ".parquet" in suffixes or path.suffix.lower() == ".pq"
        kind = "Parquet" if parquet else ("TSV" if ".tsv" in suffixes else "CSV")
        try:
            if parquet:
                frame = pd.read_parquet(path)
            else:
                frame = pd.read_csv(path, sep="\t" if ".tsv" in suffixes else ",")
        except ImportError as exc:
            raise MixedModelsError("reading Parquet needs pyarrow: pip install 'mixedmodels[parquet]'") from exc
        except UnicodeDecodeError as exc:
            raise DataError(
                f"cannot read {source} as {kind}: it is not text ({exc.reason} at byte {exc.start})"
            ) from exc
        except pd.errors.EmptyDataError as exc:
            raise DataError(f"cannot read {source} as {kind}: the file is empty") from exc
        except Exception as exc:  # pandas and pyarrow raise many types for a file they cannot parse
            raise DataError(f"cannot read {source} as {kind}: {_first_line(exc)}") from exc
        return frame, path.name
    try:
        return datasets.load(source), source
    except KeyError as exc:
        raise MixedModelsError(
            f"{source!r} is neither a file nor a bundled dataset ({', '.join(datasets.names())})"
        ) from exc


def _parser() -> argparse.ArgumentParser:
    status = "\n".join(
        textwrap.fill(text, width=88, initial_indent=f"  {code:<4} ", subsequent_indent=" " * 7)
        for code, text in EXIT_STATUS.items()
    )
    p = argparse.ArgumentParser(
        prog="mixedmodels",
        description="Fit linear mixed-effects models (lme4 formulas).",
        epilog=f"exit status:\n{status}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = p.add_subparsers(dest="command", required=True)
    f = sub.add_parser(
        "fit",
        help="fit a model and print its summary",
        epilog=f"exit status:\n{status}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    f.add_argument("formula", help='e.g. "mAch ~ ses + (1 + ses | school)"')
    f.add_argument("--data", required=True, help="bundled dataset name (see `datasets`) or a CSV/Parquet path")
    f.add_argument("--ml", action="store_true", help="maximum likelihood instead of REML")
    f.add_argument(
        "--family",
        metavar="FAMILY",
        help="fit a generalized linear mixed model (glmer) of this family: binomial, poisson, Gamma, "
        "inverse.gaussian, or with a link such as \"binomial(link = 'probit')\"",
    )
    f.add_argument("--nagq", type=int, default=1, metavar="N", help="glmer: quadrature points (0, 1 = Laplace, >1)")
    f.add_argument("--display", action="store_true", help="compact arm::display-style output")
    f.add_argument(
        "--format",
        choices=list(FORMATS),
        default="text",
        help="text: the summary and the analyses asked for; json: one object with the fit statistics, "
        "the estimates and the analyses; csv: the tables one after another, each with a first column "
        "'table' naming it and a blank line between them",
    )
    f.add_argument(
        "--confint",
        metavar="METHOD",
        choices=["wald", "profile", "boot"],
        help="confidence intervals: wald, profile or boot (a parametric bootstrap)",
    )
    f.add_argument("--nsim", type=int, default=500, help="simulations of --confint boot (default 500, as lme4's)")
    f.add_argument("--seed", type=int, default=None, help="random seed of --confint boot (default: unseeded)")
    f.add_argument(
        "--anova",
        nargs="?",
        const="3",
        metavar="TYPE",
        choices=["1", "2", "3"],
        help="tests of the fixed-effect terms of type 1, 2 or 3 (default 3): lmerTest's F tests for lmer, "
        "car's Wald chi-square tests for glmer (types 2 and 3)",
    )
    f.add_argument(
        "--emmeans",
        metavar="SPEC",
        help='estimated marginal means, emmeans\' spec such as "~ sector" or "~ sector | ses" (lmer: '
        "Kenward-Roger df unless --ddf; glmer: asymptotic, on the link scale)",
    )
    f.add_argument("--pairs", action="store_true", help="with --emmeans: all pairwise contrasts (Tukey-adjusted)")
    f.add_argument(
        "--ddf",
        choices=["satterthwaite", "kenward-roger", "asymptotic"],
        help="denominator df of --anova (satterthwaite, kenward-roger) and --emmeans (all three); "
        "default: Satterthwaite for --anova, Kenward-Roger for --emmeans",
    )
    f.add_argument(
        "--r2",
        action="store_true",
        help="Nakagawa's marginal and conditional R² and the ICC (as the R package performance; glmer: binomial)",
    )
    f.add_argument(
        "--plot",
        metavar="PNG",
        help="write a figure (needs matplotlib): by default the pooling figure when the model has a "
        "random slope, else the caterpillar of the conditional modes (the command says which)",
    )
    f.add_argument(
        "--plot-kind",
        choices=["auto", "pooling", "ranef", "shrinkage", "diagnostics"],
        default="auto",
        help="which figure --plot writes",
    )
    f.add_argument("--traceback", action="store_true", help="show the full traceback of an unexpected error")
    sub.add_parser("datasets", help="list the bundled datasets")
    return p


def _error(message: str) -> None:
    print(f"mixedmodels: error: {' '.join(message.split())}", file=sys.stderr)


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    """Warnings as one line each, without the source line Python shows under them."""
    print(f"mixedmodels: warning: {' '.join(str(message).split())}", file=file or sys.stderr)


def _plot_target_problem(target: str) -> str | None:
    """Why a figure cannot be written to ``target`` (checked before the fit), or None."""
    if importlib.util.find_spec("matplotlib") is None:
        return "--plot needs matplotlib: pip install 'mixedmodels[plot]'"
    path = Path(target)
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        return f"--plot {target}: is a directory; give a file name such as {path / 'figure.png'}"
    if not parent.is_dir():
        return f"--plot {target}: the directory {parent} does not exist"
    if not os.access(parent, os.W_OK):
        return f"--plot {target}: the directory {parent} is not writable"
    from matplotlib.backend_bases import FigureCanvasBase

    kinds = FigureCanvasBase.get_supported_filetypes()
    suffix = path.suffix.lower().lstrip(".")
    if suffix and suffix not in kinds:
        return f"--plot {target}: matplotlib cannot write .{suffix} files; use one of {', '.join(sorted(kinds))}"
    return None


def _plot_kind(m: LmerResult | GlmerResult, kind: str) -> str:
    """The figure ``--plot`` writes: ``auto`` is the pooling figure when the model has a random slope
    on a numeric covariate (lmer), else the caterpillar of the conditional modes."""
    if kind != "auto":
        return kind
    if not isinstance(m, GlmerResult) and plots.group_line_slope(m) is not None:
        return "pooling"
    return "ranef"


def _tables(m: LmerResult | GlmerResult, args: argparse.Namespace) -> dict[str, pd.DataFrame]:
    """The analyses asked for on the command line, as named tables (the estimates come first)."""
    tables: dict[str, pd.DataFrame] = {}
    if args.format != "text":
        tables["fixed_effects"] = m.tidy("fixed")
        tables["random_effects"] = m.tidy("ran_pars")
    if args.confint:
        ci = (
            m.confint(args.confint, nsim=args.nsim, seed=args.seed)
            if args.confint == "boot"
            else m.confint(args.confint)
        )
        tables["confint"] = ci.rename_axis("parameter").reset_index()
    if args.anova:
        if isinstance(m, GlmerResult):
            table = m.anova(type=int(args.anova))  # car's Wald chi-square tests
        else:
            table = m.anova(type=int(args.anova), ddf=args.ddf)
        tables["anova"] = table.rename_axis("term").reset_index()
    if args.emmeans:
        ddf = args.ddf or ("asymptotic" if isinstance(m, GlmerResult) else "kenward-roger")
        grid = emmeans.emmeans(m, args.emmeans, ddf=ddf)
        tables["emmeans"] = grid.frame
        if args.pairs:
            tables["pairs"] = grid.pairs().frame
    if args.r2:
        r2 = pd.concat([m.r2(), cast(pd.Series, m.icc())[["ICC_adjusted", "ICC_unadjusted"]]])
        tables["r2"] = r2.rename_axis("statistic").reset_index(name="value")
    return tables


def _fit_statistics(m: LmerResult | GlmerResult, name: str) -> dict[str, Any]:
    """The model's description and its fit statistics, for ``--format json``."""
    stats: dict[str, Any] = {
        "formula": m.formula,
        "data": name,
        "method": "glmer" if isinstance(m, GlmerResult) else ("REML" if m.reml else "ML"),
        "nobs": m.nobs,
        "ngroups": m.ngroups,
        "loglik": m.loglik,
        "aic": m.aic,
        "bic": m.bic,
        "deviance": m.deviance,
        "reml_criterion": m.objective if not isinstance(m, GlmerResult) and m.reml else None,
        "df_resid": m.nobs - m.df,
        "sigma": m.sigma,
        "converged": m.converged,
        "is_singular": m.is_singular,
        "n_evals": m.n_evals,
        "warnings": list(m.messages),
    }
    if isinstance(m, GlmerResult):
        stats["family"] = m.family.name
        stats["link"] = m.family.link.name
    return stats


def _json_value(v: object) -> object:
    """A cell as JSON: numpy scalars as Python numbers, NaN and infinities as null."""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not np.isfinite(v):
        return None
    return v


def _records(frame: pd.DataFrame) -> list[dict[str, object]]:
    return [{str(k): _json_value(v) for k, v in row.items()} for row in frame.to_dict(orient="records")]


def _emit(m: LmerResult | GlmerResult, args: argparse.Namespace, name: str, summary: str) -> None:
    tables = _tables(m, args)
    if args.format == "json":
        out: dict[str, Any] = {"model": {k: _json_value(v) for k, v in _fit_statistics(m, name).items()}}
        out.update({key: _records(t) for key, t in tables.items()})
        print(json.dumps(out, indent=2))
    elif args.format == "csv":
        parts = [t.assign(**{"table": key})[["table", *t.columns]].to_csv(index=False) for key, t in tables.items()]
        print("\n".join(parts), end="")
    else:
        print(summary)
        for key, t in tables.items():
            print(f"\n{key.replace('_', ' ').capitalize()}:")
            print(t.to_string(index=False))


def _fit(args: argparse.Namespace) -> int:
    if args.plot:
        problem = _plot_target_problem(args.plot)
        if problem:
            _error(problem)
            return USAGE
    try:
        data, name = read_data(args.data)
    except (MixedModelsError, OSError) as exc:
        _error(str(exc))
        return USAGE
    m: LmerResult | GlmerResult
    try:
        if args.family:
            if args.ml or args.display:
                raise ArgumentError("--ml and --display are for linear mixed models (glmer fits by ML)")
            if args.plot and args.plot_kind not in ("auto", "ranef"):
                raise ArgumentError("with --family, --plot writes the caterpillar figure (--plot-kind ranef)")
            if args.pairs and not args.emmeans:
                raise ArgumentError("--pairs goes with --emmeans SPEC")
            m = glmer(args.formula, data, family=args.family, nAGQ=args.nagq, data_name=name)
            text = str(m.summary())
        else:
            if args.pairs and not args.emmeans:
                raise ArgumentError("--pairs goes with --emmeans SPEC")
            if args.anova and args.ddf == "asymptotic":
                raise ArgumentError("--anova takes --ddf satterthwaite or kenward-roger")
            m = lmer(args.formula, data, reml=not args.ml, data_name=name)
            text = str(m.display() if args.display else m.summary())
        _emit(m, args, name, text)
    except (FormulaError, DataError, ArgumentError) as exc:
        _error(str(exc))
        return USAGE
    except MemoryError:
        _error("out of memory while fitting the model")
        return FIT_FAILED
    except Exception as exc:
        if args.traceback:
            raise
        _error(f"the fit failed: {type(exc).__name__}: {_first_line(exc)} (--traceback shows where)")
        return FIT_FAILED
    if args.plot:
        kind = _plot_kind(m, args.plot_kind)
        try:
            import matplotlib

            matplotlib.use("Agg")
            fig = getattr(m, f"plot_{kind}")()
            fig.savefig(args.plot, dpi=110)
        except Exception as exc:
            if args.traceback:
                raise
            _error(f"cannot write the {kind} figure to {args.plot}: {_first_line(exc)}")
            return FIT_FAILED
        print(f"wrote the {kind} figure to {args.plot}", file=sys.stderr if args.format != "text" else sys.stdout)
    return OK


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``mixedmodels`` command; returns the exit status (`EXIT_STATUS`).

    Examples
    --------
    >>> main(["fit", "Reaction ~ Days + (Days | Subject)", "--data", "sleepstudy"])  # doctest: +ELLIPSIS
    Linear mixed model fit by REML. t-tests use Satterthwaite's method
    ...
    0
    >>> import contextlib, io
    >>> err = io.StringIO()
    >>> with contextlib.redirect_stderr(err):
    ...     main(["fit", "Reaction ~ Days + (Days | Subjct)", "--data", "sleepstudy"])
    2
    >>> print(err.getvalue().strip())
    mixedmodels: error: the data has no column 'Subjct' (did you mean 'Subject'?)
    """
    args = _parser().parse_args(argv)
    if args.command == "datasets":
        for name in datasets.names():
            print(datasets.describe(name).splitlines()[0])
        return OK
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        warnings.filterwarnings("default", category=MixedModelsWarning)  # the package's are shown, not raised
        try:
            return _fit(args)
        except KeyboardInterrupt:
            _error("interrupted")
            return INTERRUPTED
