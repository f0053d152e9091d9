"""Fits of data that is not in memory: files read in batches, iterables of chunks, Dask frames.

A fit never reads the rows again after the pass that forms A = [Z X y]'[Z X y], and A is a sum over
rows (design.md section 5). So: a first cheap pass over the needed columns fixes the factor levels
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
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from .blocks import Blocks, add_blocks, partial_blocks
from .design import Design, build_design, check_term_size, independent_from_gram, used_columns
from .exceptions import DataError, FormulaError, MixedModelsWarning
from .formula import ParsedFormula, parse_formula
from .names import level_label

__all__ = ["chunk_source", "lmer_stream"]


# ----------------------------------------------------------------------------------- sources


def _paths(source) -> list[Path] | None:
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


def chunk_source(source, columns: list[str], batch_size: int = 1_000_000) -> Callable[[], Iterator[pd.DataFrame]]:
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
        return source
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
    """What the first pass learns: rows, levels of every non-numeric or grouping column,
    interaction levels, and the response's range."""

    n: int = 0
    n_dropped: int = 0
    cats: dict = field(default_factory=dict)  # column -> ordered categories of a categorical
    seen: dict = field(default_factory=dict)  # column -> set of values seen
    combos: dict = field(default_factory=dict)  # interaction group -> set of label tuples
    ymin: float = np.inf
    ymax: float = -np.inf


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
    if pf.response in df.columns and pd.api.types.is_numeric_dtype(df[pf.response]) and st.n:
        y = df[pf.response].to_numpy(dtype=float)
        st.ymin, st.ymax = float(np.min(y)), float(np.max(y))
    return st


def _merge_levels(parts: list[_Levels]) -> _Levels:
    out = _Levels()
    for p in parts:
        out.n += p.n
        out.n_dropped += p.n_dropped
        for c, cats in p.cats.items():
            known = out.cats.setdefault(c, [])
            known.extend(x for x in cats if x not in set(known))
        for c, v in p.seen.items():
            if isinstance(v, np.ndarray):
                out.seen[c] = np.union1d(out.seen[c], v) if c in out.seen else v
            else:
                out.seen.setdefault(c, set()).update(v)
        for g, v in p.combos.items():
            out.combos.setdefault(g, set()).update(v)
        out.ymin, out.ymax = min(out.ymin, p.ymin), max(out.ymax, p.ymax)
    return out


def _level_lists(st: _Levels, pf: ParsedFormula) -> dict:
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


def _chunk_blocks(chunk: pd.DataFrame, pf: ParsedFormula, levels: dict, proto_names: tuple) -> Blocks | None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MixedModelsWarning)
        try:
            d = build_design(pf, chunk, levels=levels, row_checks=False)
        except DataError as exc:
            if "every row has a missing value" in str(exc) or "no rows" in str(exc):
                return None
            raise
    if (d.fixed_names, d.theta_names) != proto_names:
        raise DataError("a chunk encodes the model differently from the first pass (columns or levels changed)")
    return partial_blocks(d)


def _drop_fixed(b: Blocks, keep: np.ndarray, p: int) -> Blocks:
    rows = np.append(keep, p)
    sel = np.ix_(rows, rows)
    return Blocks(
        n=b.n, diag=b.diag, off=b.off, xy=[(h[rows], lo[rows]) for h, lo in b.xy], xx=(b.xx[0][sel], b.xx[1][sel])
    )


def _checks(design: Design, st: _Levels, b: Blocks) -> None:
    """The in-memory checks, from the first pass and the blocks of A."""
    n = st.n
    if st.ymin == st.ymax:
        raise DataError(f"the response {design.response!r} is constant; there is no variation to model")
    for t in design.terms:
        check_term_size(t.group, t.source, design.factor(t.group).nlev, t.k, n)
    for fi, f in enumerate(design.factors):
        cols = list(f.columns)
        if "(Intercept)" not in cols:
            continue
        i0 = cols.index("(Intercept)")
        d = b.rounded("diag", fi)
        cnt = np.maximum(d[:, i0, i0], 1)
        for a, name in enumerate(cols):
            if a == i0:
                continue
            within = d[:, a, a] - d[:, i0, a] ** 2 / cnt
            if np.all(within <= 1e-10 * max(float(d[:, a, a].sum()), 1e-300)):
                raise DataError(
                    f"the random slope on {name!r} is constant within every level of {f.name!r}, so its effect "
                    "cannot vary between levels: keep it in the fixed part and drop it from the random-effects term"
                )


def _progress_printer(progress, what: str):
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


def lmer_stream(
    formula: str,
    source,
    *,
    reml: bool = True,
    batch_size: int = 1_000_000,
    progress=None,
    start=None,
    maxeval: int = 100_000,
    data_name: str | None = None,
    optimizer: str = "auto",
    optimizer_options: dict | None = None,
):
    """Fit from data read in batches (see `chunk_source`) or from a Dask DataFrame."""
    from .fit import fit_design

    pf = parse_formula(formula)
    if not pf.random:
        raise FormulaError(f"the formula {formula!r} has no random-effects term such as (1 | g)")
    cols = sorted(used_columns(pf))
    grouping = {v for t in pf.random for v in t.factors}
    is_dask = type(source).__module__.startswith("dask")
    if is_dask:
        st, blocks_of = _dask_passes(source, pf, cols, grouping)
        first = source[cols].head(1000)
    else:
        chunks = chunk_source(source, cols, batch_size)
        report = _progress_printer(progress, "pass 1 (levels)")
        st = _Levels()
        first = None
        for ch in chunks():
            if first is None:
                first = ch[[c for c in cols if c in ch.columns]]
            missing = [c for c in cols if c not in ch.columns]
            if missing:
                raise FormulaError(f"the data has no column {missing}")
            st = _merge_levels([st, _level_stats(ch, pf, cols, grouping)])  # running merge: bounded memory
            report(st.n + st.n_dropped)
        if first is None:
            raise DataError("the data source yielded no chunks")
    if st.n == 0:
        raise DataError(f"every row has a missing value in at least one of the columns {cols}")
    levels = _level_lists(st, pf)
    proto_src = first.dropna()
    if proto_src.empty:
        proto_src = first
    proto = build_design(pf, proto_src, levels=levels, row_checks=False)
    names = (proto.fixed_names, proto.theta_names)
    if is_dask:
        total = blocks_of(levels, names)
    else:
        report = _progress_printer(progress, "pass 2 (blocks of A)")
        total = None
        done = 0
        for ch in chunks():
            b = _chunk_blocks(ch, pf, levels, names)
            done += len(ch)
            report(done)
            if b is not None:
                total = b if total is None else add_blocks(total, b)
        if progress:
            sys.stderr.write("\n")
    p = proto.p
    keep = independent_from_gram(total.rounded("xx")[:p, :p])
    fixed_names = proto.fixed_names
    if len(keep) < p:
        dropped = [fixed_names[j] for j in range(p) if j not in set(keep)]
        warnings.warn(
            f"fixed-effect model matrix is rank deficient so dropping {len(dropped)} column"
            f"{'s' if len(dropped) > 1 else ''}: {', '.join(dropped)}",
            MixedModelsWarning,
            stacklevel=2,
        )
        total = _drop_fixed(total, keep, p)
        fixed_names = tuple(fixed_names[j] for j in keep)
    else:
        dropped = []
    empty_factors = tuple(replace(f, codes=np.zeros(0, dtype=np.int32), z=np.zeros((0, f.k))) for f in proto.factors)
    design = replace(
        proto,
        y=np.zeros(0),
        x=np.zeros((0, len(fixed_names))),
        fixed_names=fixed_names,
        dropped_fixed=tuple(dropped),
        factors=empty_factors,
        n_dropped_na=st.n_dropped,
        row_index=pd.RangeIndex(0),
        frame=None,
        n_rows=st.n,
        blocks=total,
    )
    _checks(design, st, total)
    return fit_design(
        design,
        reml=reml,
        start=start,
        maxeval=maxeval,
        data_name=data_name,
        optimizer=optimizer,
        optimizer_options=optimizer_options,
        # a callable reports rows read; the optimiser's line follows the same on/off choice
        progress=None if callable(progress) else (sys.stderr.isatty() if progress is None else progress),
    )


# ----------------------------------------------------------------------------------- Dask


def _dask_passes(ddf, pf: ParsedFormula, cols: list[str], grouping: set[str]):
    import dask

    missing = [c for c in cols if c not in ddf.columns]
    if missing:
        raise FormulaError(f"the data has no column {missing}")
    parts = ddf[cols].to_delayed()
    stats = dask.compute(*[dask.delayed(_level_stats)(p, pf, cols, grouping) for p in parts])
    st = _merge_levels(list(stats))

    def blocks_of(levels: dict, names: tuple) -> Blocks:
        items = [dask.delayed(_chunk_blocks)(p, pf, levels, names) for p in parts]
        while len(items) > 1:  # tree reduction
            items = [
                dask.delayed(_add_maybe)(items[i], items[i + 1]) if i + 1 < len(items) else items[i]
                for i in range(0, len(items), 2)
            ]
        return items[0].compute()

    return st, blocks_of


def _add_maybe(a: Blocks | None, b: Blocks | None) -> Blocks | None:
    if a is None:
        return b
    if b is None:
        return a
    return add_blocks(a, b)
