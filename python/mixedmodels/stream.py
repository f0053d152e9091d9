"""Fits of data that is not in memory: files read in batches, iterables of chunks, Dask frames.

A fit never reads the rows again after the pass that forms A = [Z X y]'[Z X y], and A is a sum over
rows (docs/design.md, section 3). So: a first cheap pass over the needed columns fixes the factor levels
and the fixed-part encoding; a second pass forms the blocks of A chunk by chunk (per partition for
Dask, summed in a tree); the optimisation then runs on the summed blocks. Memory is bounded by one
batch plus A, and the result equals the in-memory fit. Quantities that need the rows (fitted
values, residuals, simulate, Kenward-Roger) say so.
"""

from __future__ import annotations

import glob
import sys
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd

from . import _core
from .data import StreamedData
from .design import materialise, used_columns
from .exceptions import DataError, FormulaError, MixedModelsWarning
from .formula import ParsedFormula, parse_formula
from .model import LinearMixedModel
from .names import level_label

__all__ = ["chunk_source", "model_from_source"]

PROTOTYPE_ROWS = 1000


# ----------------------------------------------------------------------------------- sources


def _paths(source: Any) -> list[Path] | None:
    if isinstance(source, (str, Path)):
        items = [source]
    elif isinstance(source, (list, tuple)) and source and all(isinstance(s, (str, Path)) for s in source):
        items = list(source)
    else:
        return None
    out: list[Path] = []
    for s in items:
        matches = sorted(glob.glob(str(s)))
        if not matches:
            raise FileNotFoundError(f"no file matches {str(s)!r}")
        out.extend(Path(m) for m in matches)
    return out


def chunk_source(source: Any, columns: list[str], batch_size: int = 1_000_000) -> Callable[[], Iterator[pd.DataFrame]]:
    """A function returning a fresh iterator of DataFrame chunks (only `columns`) on each call.

    ``source``: a path, glob or list of paths (Parquet read with pyarrow in record batches, CSV with
    pandas in chunks), a re-iterable of DataFrames (a list, or any object whose ``__iter__`` starts
    over), or a callable returning an iterator of DataFrames.
    """
    paths = _paths(source)
    if paths is not None:

        def files() -> Iterator[pd.DataFrame]:
            for p in paths:
                name = p.name.lower()
                if name.endswith((".parquet", ".pq")):
                    try:
                        import pyarrow.parquet as pq
                    except ImportError as exc:
                        raise DataError('reading Parquet needs pyarrow: pip install "mixedmodels[parquet]"') from exc
                    pf = pq.ParquetFile(p)
                    missing = [c for c in columns if c not in pf.schema_arrow.names]
                    if missing:
                        raise FormulaError(f"{p.name} has no column {missing}")
                    for batch in pf.iter_batches(batch_size=batch_size, columns=columns):
                        yield batch.to_pandas()
                else:
                    yield from pd.read_csv(p, usecols=columns, chunksize=batch_size)

        return files
    if callable(source):
        return cast(Callable[[], Iterator[pd.DataFrame]], source)
    if isinstance(source, pd.DataFrame):
        return lambda: iter([source])
    if isinstance(source, Iterable):
        if iter(source) is source:
            raise DataError(
                "a one-shot iterator of chunks can be read only once; a streamed fit reads the data twice "
                "(levels, then the blocks of A): pass a list, a re-iterable object or a function returning an iterator"
            )
        return lambda: iter(source)
    raise DataError(f"cannot read data from a {type(source).__name__}")


# ----------------------------------------------------------------------------------- pass 1


@dataclass
class _Levels:
    """What the first pass learns: rows, levels of every non-numeric or grouping column, and
    interaction levels."""

    n: int = 0
    n_dropped: int = 0
    cats: dict[str, list[Any]] = field(default_factory=dict)  # column -> ordered categories of a categorical
    seen: dict[str, Any] = field(default_factory=dict)  # column -> set (or sorted array) of values seen
    combos: dict[str, set[tuple[str, ...]]] = field(default_factory=dict)  # interaction group -> label tuples


def _level_stats(chunk: pd.DataFrame, pf: ParsedFormula, cols: list[str], grouping: set[str]) -> _Levels:
    st = _Levels()
    df = chunk[cols]
    ok = df.notna().all(axis=1).to_numpy()
    st.n_dropped = int((~ok).sum())
    df = df[ok]
    st.n = len(df)
    for c in cols:
        col = df[c]
        if isinstance(col.dtype, pd.CategoricalDtype):
            st.cats[c] = list(col.cat.categories)
            st.seen[c] = set(col.unique().tolist())
        elif pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
            if c in grouping:  # numeric grouping variable: its sorted distinct values
                st.seen[c] = np.unique(col.to_numpy())
        else:
            st.seen[c] = set(col.unique().tolist())
    for t in pf.random:
        if len(t.factors) > 1:
            labs = [df[v].astype(object).map(level_label).to_numpy() for v in t.factors]
            st.combos[t.group] = set(zip(*labs, strict=True))
    return st


def _merge_levels(parts: list[_Levels]) -> _Levels:
    out = _Levels()
    for p in parts:
        out.n += p.n
        out.n_dropped += p.n_dropped
        for c, cats in p.cats.items():
            known = out.cats.setdefault(c, [])
            have = set(known)  # once per chunk: linear in the number of categories
            known.extend(x for x in cats if x not in have)
        for c, v in p.seen.items():
            if isinstance(v, np.ndarray):
                out.seen[c] = np.union1d(out.seen[c], v) if c in out.seen else v
            else:
                out.seen.setdefault(c, set()).update(v)
        for g, v in p.combos.items():
            out.combos.setdefault(g, set()).update(v)
    return out


def _level_lists(st: _Levels, pf: ParsedFormula) -> dict[str, list[Any]]:
    """Final level lists: a categorical's categories in order (unused dropped, as in memory),
    other columns' values sorted (as numpy/formulaic sort them); interaction levels sorted by
    their variables' level order."""
    levels = {}
    for c, vals in st.seen.items():
        if c in st.cats:
            levels[c] = [x for x in st.cats[c] if x in vals]
        elif isinstance(vals, np.ndarray):
            levels[c] = vals.tolist()
        else:
            try:
                levels[c] = sorted(vals)
            except TypeError as exc:
                raise DataError(f"column {c!r} mixes types that cannot be ordered") from exc
    for t in pf.random:
        if len(t.factors) > 1:
            pos = [{level_label(v): i for i, v in enumerate(levels[f])} for f in t.factors]
            combos = sorted(
                st.combos.get(t.group, ()), key=lambda tup: tuple(p[x] for p, x in zip(pos, tup, strict=True))
            )
            levels[t.group] = [":".join(c) for c in combos]
    return levels


# ----------------------------------------------------------------------------------- pass 2


def _chunk_cross_products(
    chunk: pd.DataFrame,
    pf: ParsedFormula,
    levels: Mapping[str, Any],
    proto_names: tuple[tuple[str, ...], tuple[str, ...]],
    layout: _core.Layout,
) -> _core.CrossProducts | None:
    """The cross-products of one chunk's complete rows (None when it has none)."""
    cols = sorted(used_columns(pf))
    if not chunk[cols].notna().all(axis=1).any():
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MixedModelsWarning)
        structure, held = materialise(pf, chunk, levels=levels)
    if (structure.fixed_names, structure.theta.names) != proto_names:
        raise DataError("a chunk encodes the model differently from the first pass (columns or levels changed)")
    return held.rows("the cross-products").cross_products(layout)


def _progress_printer(progress: bool | Callable[[int], None] | None, what: str) -> Callable[[int], None]:
    if progress is None:
        progress = sys.stderr.isatty()
    if callable(progress):
        return progress
    if not progress:
        return lambda done: None
    t0 = time.perf_counter()

    def report(done: int) -> None:
        sys.stderr.write(f"\r{what}: {done:,} rows, {time.perf_counter() - t0:.1f} s")
        sys.stderr.flush()

    return report


def model_from_source(
    formula: str,
    source: Any,
    *,
    reml: bool = True,
    batch_size: int = 1_000_000,
    progress: bool | Callable[[int], None] | None = None,
) -> LinearMixedModel:
    """The model of data read in batches (see `chunk_source`) or of a Dask DataFrame: two passes
    (levels and encoding, then the cross-products, summed in C++), then the model's checks on them.

    Examples
    --------
    >>> import mixedmodels as mm
    >>> sleep = mm.datasets.load("sleepstudy")
    >>> model = model_from_source("Reaction ~ Days + (Days | Subject)", [sleep.iloc[:90], sleep.iloc[90:]])
    >>> model.nobs, round(model.fit().objective, 4)
    (180, 1743.6283)
    """
    pf = parse_formula(formula)
    if not pf.random:
        raise FormulaError(f"the formula {formula!r} has no random-effects term such as (1 | g)")
    cols = sorted(used_columns(pf))
    grouping = {v for t in pf.random for v in t.factors}
    is_dask = type(source).__module__.startswith("dask")
    # the prototype: up to PROTOTYPE_ROWS complete rows, from which the encoding for new data is
    # built (with the levels of the whole data imposed); the model keeps it, and no other rows
    if is_dask:
        st, sum_partitions = _dask_passes(source, pf, cols, grouping)
        first = source[cols].dropna().head(PROTOTYPE_ROWS, npartitions=-1)
    else:
        chunks = chunk_source(source, cols, batch_size)
        report = _progress_printer(progress, "pass 1 (levels)")
        st = _Levels()
        first = None
        any_chunk = False
        for ch in chunks():
            any_chunk = True
            missing = [c for c in cols if c not in ch.columns]
            if missing:
                raise FormulaError(f"the data has no column {missing}")
            if first is None or first.empty:
                first = ch[cols].dropna().head(PROTOTYPE_ROWS)
            st = _merge_levels([st, _level_stats(ch, pf, cols, grouping)])  # running merge: bounded memory
            report(st.n + st.n_dropped)
        if not any_chunk:
            raise DataError("the data source yielded no chunks")
    if st.n == 0 or first is None or first.empty:
        raise DataError(f"every row has a missing value in at least one of the columns {cols}")
    levels = _level_lists(st, pf)
    proto, _ = materialise(pf, first.copy(), levels=levels)
    names = (proto.fixed_names, proto.theta.names)
    layout = proto.core_layout
    if is_dask:
        total = sum_partitions(levels, names, layout)
    else:
        report = _progress_printer(progress, "pass 2 (blocks of A)")
        total = _core.CrossProducts(layout)
        done = 0
        for ch in chunks():
            part = _chunk_cross_products(ch, pf, levels, names, layout)
            done += len(ch)
            report(done)
            if part is not None:
                total.add(part)
        if progress:
            sys.stderr.write("\n")
    return LinearMixedModel.build(proto, StreamedData(st.n_dropped), total, reml=reml)


# ----------------------------------------------------------------------------------- Dask


def _dask_passes(
    ddf: Any, pf: ParsedFormula, cols: list[str], grouping: set[str]
) -> tuple[
    _Levels, Callable[[Mapping[str, Any], tuple[tuple[str, ...], tuple[str, ...]], _core.Layout], _core.CrossProducts]
]:
    import dask  # the optional extra: imported only for a Dask source

    missing = [c for c in cols if c not in ddf.columns]
    if missing:
        raise FormulaError(f"the data has no column {missing}")
    parts = ddf[cols].to_delayed()
    stats = dask.compute(*[dask.delayed(_level_stats)(p, pf, cols, grouping) for p in parts])
    st = _merge_levels(list(stats))

    def sum_partitions(
        levels: Mapping[str, Any], names: tuple[tuple[str, ...], tuple[str, ...]], layout: _core.Layout
    ) -> _core.CrossProducts:
        items = [dask.delayed(_chunk_cross_products)(p, pf, levels, names, layout) for p in parts]
        while len(items) > 1:  # tree reduction
            items = [
                dask.delayed(_add_maybe)(items[i], items[i + 1]) if i + 1 < len(items) else items[i]
                for i in range(0, len(items), 2)
            ]
        total = items[0].compute()
        return total if total is not None else _core.CrossProducts(layout)

    return st, sum_partitions


def _add_maybe(a: _core.CrossProducts | None, b: _core.CrossProducts | None) -> _core.CrossProducts | None:
    """a + b as a new object (a task's inputs are not modified), either may be None."""
    if a is None:
        return b
    if b is None:
        return a
    return a + b
