"""Command line: ``mixedmodels fit FORMULA --data NAME_OR_PATH [--ml]`` prints the summary."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from . import datasets
from .exceptions import MixedModelsError
from .fit import lmer

__all__ = ["main", "read_data"]


def read_data(source: str) -> tuple[pd.DataFrame, str]:
    """A bundled dataset by name, or a CSV / Parquet file by path; returns (frame, display name)."""
    path = Path(source)
    if path.suffix.lower() in {".csv", ".gz", ".parquet", ".pq", ".tsv"} or path.exists():
        if not path.exists():
            raise FileNotFoundError(f"no such file: {source}")
        suffixes = "".join(path.suffixes).lower()
        if ".parquet" in suffixes or path.suffix.lower() == ".pq":
            try:
                return pd.read_parquet(path), path.name
            except ImportError as exc:
                raise MixedModelsError("reading Parquet needs pyarrow: pip install 'mixedmodels[parquet]'") from exc
        sep = "\t" if ".tsv" in suffixes else ","
        return pd.read_csv(path, sep=sep), path.name
    try:
        return datasets.load(source), source
    except KeyError as exc:
        raise MixedModelsError(
            f"{source!r} is neither a file nor a bundled dataset ({', '.join(datasets.names())})"
        ) from exc


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="mixedmodels", description="Fit linear mixed-effects models (lme4 formulas).")
    sub = p.add_subparsers(dest="command", required=True)
    f = sub.add_parser("fit", help="fit a model and print its summary")
    f.add_argument("formula", help='e.g. "mAch ~ ses + (1 + ses | school)"')
    f.add_argument("--data", required=True, help="bundled dataset name (see `datasets`) or a CSV/Parquet path")
    f.add_argument("--ml", action="store_true", help="maximum likelihood instead of REML")
    f.add_argument("--display", action="store_true", help="compact arm::display-style output")
    f.add_argument("--plot", metavar="PNG", help="write a figure (needs matplotlib): the pooling figure by default")
    f.add_argument(
        "--plot-kind",
        choices=["pooling", "ranef", "shrinkage", "diagnostics"],
        default="pooling",
        help="which figure --plot writes",
    )
    sub.add_parser("datasets", help="list the bundled datasets")
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``mixedmodels`` command.

    Examples
    --------
    >>> main(["fit", "Reaction ~ Days + (Days | Subject)", "--data", "sleepstudy"])  # doctest: +ELLIPSIS
    Linear mixed model fit by REML. t-tests use Satterthwaite's method
    ...
    0
    """
    args = _parser().parse_args(argv)
    if args.command == "datasets":
        for name in datasets.names():
            print(datasets.describe(name).splitlines()[0])
        return 0
    try:
        data, name = read_data(args.data)
        m = lmer(args.formula, data, reml=not args.ml, data_name=name)
    except (MixedModelsError, FileNotFoundError) as exc:
        print(f"mixedmodels: error: {exc}", file=sys.stderr)
        return 2
    print(m.display() if args.display else m.summary())
    if args.plot:
        try:
            import matplotlib

            matplotlib.use("Agg")
            fig = getattr(m, f"plot_{args.plot_kind}")()
            fig.savefig(args.plot, dpi=110)
        except (MixedModelsError, ImportError) as exc:
            print(f"mixedmodels: error: {exc}", file=sys.stderr)
            return 2
        print(f"wrote {args.plot_kind} figure to {args.plot}")
    return 0
