"""Fits of data that is not in memory: files read in batches, iterables of chunks, Dask frames.

A fit never reads the rows again after the pass that forms A = [Z X y]'[Z X y], and A is a sum over
rows (docs/design.md, section 3). So: a first cheap pass over the needed columns fixes the factor levels
and the fixed-part encoding, and learns the state of stateful transforms (``poly``, ``scale``,
``center``) and of categoricals made in the formula (``C(x)``) from all rows; a second pass forms
the blocks of A chunk by chunk (per partition for Dask, summed in a tree), replaying that state; the
optimisation then runs on the summed blocks. Memory is bounded by one batch plus A, and the result
equals the in-memory fit (bit for bit, but for a transform's state when its sums are not exact: see
README). Quantities that need the rows (fitted values, residuals, simulate, Kenward-Roger) say so.
"""

from __future__ import annotations

import bz2
import glob
import gzip
import lzma
import sys
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd
from formulaic.materializers.types import FactorValues
from formulaic.utils.stateful_transforms import stateful_transform
from numpy.typing import NDArray
from scipy.linalg import eigh_tridiagonal

from . import _core
from .data import Rows, StreamedData
from .design import LazySpec, TransformReplay, materialise, transform_state, used_columns
from .exceptions import ArgumentError, DataError, FormulaError, MixedModelsError, MixedModelsWarning
from .expressions import expression_names
from .formula import ParsedFormula, parse_formula
from .model import LinearMixedModel, WorkingCopy
from .names import level_label
from .splines import interior_count, spline_knots
from .stream_encode import NativePlan, arrow_conversion_errors, same_rows

__all__ = ["chunk_source", "model_from_source"]

FloatArray = NDArray[np.float64]
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


def _file_batches(path: Path, columns: list[str], batch_size: int, check: bool = True) -> Iterator[Any]:
    """The batches of one file (Parquet: Arrow record batches; CSV: DataFrame chunks); a file that
    cannot be read (empty, not CSV, a corrupt Parquet file, a directory) is a `DataError` naming it,
    as the command line says, not the reader's own exception.

    Where ``check`` (a CSV file's first reading: `_batch_source`), its header is read for the
    columns and each line's fields are counted first (`_check_csv_fields`): a line with more fields
    than the header is refused as `pandas.read_csv` refuses it, naming the line. pandas' ``usecols``
    skips that check and had shifted such a line's values into the wrong columns (a decimal comma,
    ``3.5,1,5,g2`` under ``y,x,g``)."""
    parquet = path.name.lower().endswith((".parquet", ".pq"))
    kind = "Parquet" if parquet else "CSV"
    if path.is_dir():
        raise DataError(f"{path} is a directory, not a data file (give CSV or Parquet files, or a glob of them)")
    try:
        if parquet:
            try:
                import pyarrow.parquet as pq
            except ImportError as exc:
                raise DataError('reading Parquet needs pyarrow: pip install "mixedmodels[parquet]"') from exc
            pf = pq.ParquetFile(path)
            missing = [c for c in columns if c not in pf.schema_arrow.names]
            if missing:
                raise FormulaError(f"{path.name} has no column {missing}")
            yield from pf.iter_batches(batch_size=batch_size, columns=columns)
        else:
            if check:
                header = list(pd.read_csv(path, nrows=0).columns)
                missing = [c for c in columns if c not in header]
                if missing:
                    shown = ", ".join(map(repr, header[:12])) + (", ..." if len(header) > 12 else "")
                    raise DataError(f"cannot read {path} as {kind}: it has no column {missing} (its header: {shown})")
                _check_csv_fields(path, len(header))
            yield from pd.read_csv(path, usecols=columns, chunksize=batch_size)
    except MixedModelsError:
        raise
    except pd.errors.EmptyDataError as exc:
        raise DataError(f"cannot read {path} as {kind}: the file is empty") from exc
    except UnicodeDecodeError as exc:
        raise DataError(f"cannot read {path} as {kind}: it is not text ({exc.reason} at byte {exc.start})") from exc
    except Exception as exc:  # pandas and pyarrow raise many types for a file they cannot parse
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"cannot read {path} as {kind}: {first}") from exc


# bytes of a CSV file read at a time to count its lines' fields (`_check_csv_fields`)
CSV_CHECK_BLOCK = 1 << 24


def _check_csv_fields(path: Path, header: int) -> None:
    r"""A `DataError` naming the first line of a CSV file with more fields than its header has (or,
    where the first row has more, pandas' implicit index columns, than that row), as
    `pandas.read_csv` refuses it, with the data's other columns unread. The commas outside quoted
    values are counted per line in blocks of bytes (`_quotes`); a file with a quote inside
    a field or a lone carriage return is tokenised by pandas in chunks of all its columns (slower,
    in bounded memory).

    Examples
    --------
    >>> import tempfile, os
    >>> p = Path(tempfile.mkdtemp()) / "d.csv"
    >>> _ = p.write_text("y,x,g\n1,2,a\n3.5,1,5,b\n")
    >>> _check_csv_fields(p, 3)
    Traceback (most recent call last):
    ...
    mixedmodels.exceptions.DataError: ... line 3 has 4 fields where the header has 3 ...
    """
    name = path.name.lower()
    opener = _DECOMPRESS.get(name.rsplit(".", 1)[-1]) if "." in name else None
    if opener is None and name.endswith(_PANDAS_COMPRESSED):  # zip, zstd, tar: pandas' tokeniser
        _check_csv_fields_by_pandas(path)
        return
    with (opener or open)(path, "rb") as fh:
        data = fh.read(CSV_CHECK_BLOCK)
        line, expected, carry, seen_header = 0, None, b"", False
        while data:
            more = fh.read(CSV_CHECK_BLOCK)
            block = carry + data if carry else data
            data = more
            if b"\r" in block and block.count(b"\r") != block.count(b"\r\n"):
                _check_csv_fields_by_pandas(path)  # a lone carriage return: pandas' own line ends
                return
            arr = np.frombuffer(block, dtype=np.uint8)
            quotes = _quotes(arr) if b'"' in block else None
            if quotes is False:
                _check_csv_fields_by_pandas(path)
                return
            newlines = np.flatnonzero(arr == 10)
            ends = _outside(newlines, quotes)
            if more:
                if ends.size == 0:  # no whole line yet (a line, or a quoted value, longer than the block)
                    carry = block
                    continue
                cut = int(ends[-1]) + 1  # (a cut outside quotes: the next block starts outside them)
                carry, arr = block[cut:], arr[:cut]
                newlines = newlines[newlines < cut]
            elif arr.size and arr[-1] != 10:
                ends = np.append(ends, arr.size)  # a last line without its newline
            if arr.size == 0:
                continue
            starts = np.concatenate([[0], ends[:-1] + 1])
            commas = _outside(np.flatnonzero(arr == 44), quotes)
            fields = np.searchsorted(commas, ends) - np.searchsorted(commas, starts) + 1
            first = 0
            if expected is None:
                # the first line not blank is the header; the next, where longer, gives pandas' index
                # columns (an implicit index: as many as it has fields more than the header). A line of
                # spaces, tabs or a carriage return alone is blank, as pandas skips it (one that has no
                # comma can never have too many fields)
                for i in range(ends.size):
                    if not block[starts[i] : ends[i]].strip(b" \t\r"):
                        continue
                    if not seen_header:
                        seen_header = True
                        continue
                    expected, first = max(header, int(fields[i])), i
                    break
            wide = np.flatnonzero(fields[first:] > expected) + first if expected is not None else np.empty(0, int)
            if wide.size:
                at = int(wide[0])
                number = line + 1 + int(np.searchsorted(newlines, starts[at]))  # (newlines in quotes too)
                raise DataError(
                    f"cannot read {path} as CSV: line {number} has {int(fields[at])} fields where the "
                    f"header has {expected} (pandas.read_csv refuses it: Expected {expected} fields in line "
                    f"{number}, saw {int(fields[at])}); a decimal comma or an unquoted comma in a value?"
                )
            line += newlines.size


def _quotes(arr: NDArray[np.uint8]) -> NDArray[np.intp] | bool:
    """The positions of the double quotes in a block of CSV lines that starts outside quotes, where
    each opens a quoted value at a field's start or closes it at a field's end (``""`` inside one is
    a quote: the opening and closing quotes alternate); False where a quote stands elsewhere
    (``ab"c``), whose reading is pandas' tokeniser's to decide."""
    at = np.flatnonzero(arr == 34)
    opening, closing = at[0::2], at[1::2]
    before = arr[opening[opening > 0] - 1]
    after = arr[closing[closing + 1 < arr.size] + 1]
    if not (np.isin(before, (44, 10, 34)).all() and np.isin(after, (44, 10, 13, 34)).all()):
        return False
    return at


def _outside(positions: NDArray[np.intp], quotes: NDArray[np.intp] | bool | None) -> NDArray[np.intp]:
    """Those of ``positions`` (of commas or newlines) outside quoted values: after an even number
    of ``quotes``."""
    if quotes is None or isinstance(quotes, bool):
        return positions
    even: NDArray[np.bool_] = (np.searchsorted(quotes, positions) & 1) == 0
    out: NDArray[np.intp] = positions[even]
    return out


# the compressions pandas infers from a file's name: read through Python's decompressors, or (the
# others) by pandas' tokeniser
_DECOMPRESS: dict[str, Callable[..., Any]] = {"gz": gzip.open, "bz2": bz2.open, "xz": lzma.open}
_PANDAS_COMPRESSED = (".zip", ".zst", ".tar")


def _check_csv_fields_by_pandas(path: Path) -> None:
    """`_check_csv_fields` by pandas' tokeniser: every column, in chunks whose rows are dropped."""
    with pd.read_csv(path, chunksize=10_000, dtype=str, keep_default_na=False) as reader:
        for _ in reader:
            pass


def chunk_source(source: Any, columns: list[str], batch_size: int = 1_000_000) -> Callable[[], Iterator[pd.DataFrame]]:
    """A function returning a fresh iterator of DataFrame chunks (only `columns`) on each call.

    ``source``: a path, glob or list of paths (Parquet read with pyarrow in record batches, CSV with
    pandas in chunks), a re-iterable of DataFrames (a list, or any object whose ``__iter__`` starts
    over), or a callable returning an iterator of DataFrames.
    """
    batches = _batch_source(source, columns, batch_size)

    def frames() -> Iterator[pd.DataFrame]:
        for b in batches():
            yield b if isinstance(b, pd.DataFrame) else b.to_pandas()

    return frames


def _batch_source(source: Any, columns: list[str], batch_size: int) -> Callable[[], Iterator[Any]]:
    """`chunk_source`, but Parquet files give Arrow record batches (the native pass reads their
    buffers; other chunks are DataFrames)."""
    paths = _paths(source)
    if paths is not None:
        checked: set[Path] = set()  # CSV files read once whole: each line's fields counted (`_file_batches`)

        def files() -> Iterator[Any]:
            for p in paths:
                yield from _file_batches(p, columns, batch_size, check=p not in checked)
                checked.add(p)

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
    """What the first pass learns: rows, the kind of every used column, the levels of every
    non-numeric or grouping column, and interaction levels."""

    n: int = 0
    n_dropped: int = 0
    kinds: dict[str, tuple[str, int]] = field(default_factory=dict)  # column -> (kind of values, chunk)
    cats: dict[str, dict[Any, None]] = field(default_factory=dict)  # column -> categories (ordered set)
    plain: set[str] = field(default_factory=set)  # level columns that were not categorical in some chunk
    floats: set[str] = field(default_factory=set)  # numeric grouping columns of a float dtype in some chunk
    seen: dict[str, set[Any]] = field(default_factory=dict)  # column -> values seen in complete rows
    combos: dict[str, set[tuple[Any, ...]]] = field(default_factory=dict)  # interaction group -> value tuples


_KINDS = {
    "string": "text",
    "integer": "numbers",
    "floating": "numbers",
    "mixed-integer-float": "numbers",
    "boolean": "booleans",  # objects that are all booleans (a logical column with missing values)
}


def _kind(col: pd.Series) -> str:
    """What a column holds, as its dtype or (for object columns) its values say: numbers, text, ..."""
    dtype = col.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return _kind(pd.Series(dtype.categories))
    if pd.api.types.is_bool_dtype(dtype):
        return "booleans"
    if pd.api.types.is_numeric_dtype(dtype):
        return "numbers"
    if pd.api.types.is_string_dtype(dtype) and not pd.api.types.is_object_dtype(dtype):
        return "text"
    inferred = str(pd.api.types.infer_dtype(col, skipna=True))
    if inferred in ("mixed", "mixed-integer"):
        return "a mix of text and numbers"
    return _KINDS.get(inferred, inferred)


def _level_stats(chunk: pd.DataFrame, pf: ParsedFormula, cols: list[str], grouping: set[str], i: int = 0) -> _Levels:
    """`_Levels` of one chunk (the ``i``-th, named in errors)."""
    st = _Levels()
    df = chunk[cols]
    ok = df.notna().all(axis=1).to_numpy()
    st.n_dropped = int((~ok).sum())
    df = df[ok]
    st.n = len(df)
    if not st.n:  # no complete row: nothing to learn (its columns may be all-missing floats)
        return st
    for c in cols:
        col = df[c]
        st.kinds[c] = (_kind(col), i)
        if isinstance(col.dtype, pd.CategoricalDtype):
            st.cats[c] = dict.fromkeys(col.cat.categories.tolist())
            st.seen[c] = set(col.unique().tolist())
        elif pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
            if c in grouping:  # numeric grouping variable: its distinct values
                st.seen[c] = set(np.unique(col.to_numpy()).tolist())
                st.plain.add(c)
                if col.dtype.kind == "f":
                    st.floats.add(c)
        else:
            st.seen[c] = set(col.unique().tolist())
            st.plain.add(c)
    for t in pf.random:
        if len(t.factors) > 1:  # the distinct combinations of codes, then of the variables' values
            codes, values = [], []
            for v in t.factors:
                code, uniques = pd.factorize(df[v])
                codes.append(code)
                values.append(np.asarray(uniques, dtype=object).tolist())
            combos = np.unique(np.stack(codes, axis=1), axis=0)
            st.combos[t.group] = {tuple(val[j] for val, j in zip(values, row, strict=True)) for row in combos}
    return st


def _merge_levels(parts: list[_Levels]) -> _Levels:
    """The `_Levels` of all the parts' rows, merged into the first (its sets and dicts grow in
    place): the cost is that of the levels the other parts hold, whatever the first holds."""
    out = parts[0] if parts else _Levels()
    for p in parts[1:]:
        out.n += p.n
        out.n_dropped += p.n_dropped
        for c, (kind, i) in p.kinds.items():
            have = out.kinds.setdefault(c, (kind, i))
            if have[0] != kind:
                first, second = sorted([have, (kind, i)], key=lambda t: t[1])
                raise DataError(
                    f"column {c!r} holds {first[0]} in chunk {first[1]} and {second[0]} in chunk {second[1]} of "
                    "the data (chunks, Parquet files and row groups may each have their own types, and pandas infers "
                    "a CSV file's types batch by batch): give it one type in every chunk, e.g. text with .astype(str)"
                )
        for c, cats in p.cats.items():
            out.cats.setdefault(c, {}).update(cats)  # an ordered set: new categories at the end
        for c, v in p.seen.items():
            out.seen.setdefault(c, set()).update(v)
        out.plain |= p.plain
        out.floats |= p.floats
        for g, combos in p.combos.items():
            out.combos.setdefault(g, set()).update(combos)
    return out


def _arrow_kind(t: Any) -> str | None:
    """`_kind` of an Arrow column's type as pandas would convert it (None: a type left to pandas)."""
    import pyarrow as pa  # only Arrow batches reach here

    if pa.types.is_dictionary(t):
        v = t.value_type
        return (
            "text"
            if pa.types.is_string(v) or pa.types.is_large_string(v)
            else "numbers"
            if pa.types.is_integer(v)
            else None
        )
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "text"
    if pa.types.is_integer(t) or (pa.types.is_floating(t) and not pa.types.is_float16(t)):
        return "numbers"
    if pa.types.is_boolean(t):
        return "booleans"
    return None


@dataclass
class _Categories1:
    """An Arrow dictionary column's categories so far, in the order pandas would merge them (each
    batch's dictionary in its order, new entries at the end), as an Arrow array, and which of them
    complete rows used; and the last batch's dictionary with its entries' positions."""

    categories: Any
    used: NDArray[np.bool_]
    dictionary: Any
    positions: NDArray[np.int64]


class _IntegerSet:
    """The distinct integers of a column's batches: a presence array over their range while it
    spans at most `MAX_SPAN` values (a batch then costs a scatter, not a hash set of Python ints),
    else each batch's distinct values, merged now and then."""

    MAX_SPAN = 1 << 25

    def __init__(self) -> None:
        self.first = 0
        self.present: NDArray[np.bool_] | None = None
        self.arrays: list[NDArray[np.int64]] = []

    def add(self, v: NDArray[np.int64]) -> None:
        """Add an array's values."""
        if v.size == 0:
            return
        lo, hi = int(v.min()), int(v.max())
        if not self.arrays:
            if self.present is not None:
                lo, hi = min(lo, self.first), max(hi, self.first + self.present.size - 1)
            if hi - lo < self.MAX_SPAN:
                if self.present is None or lo < self.first or hi >= self.first + self.present.size:
                    grown = np.zeros(hi - lo + 1, dtype=bool)
                    if self.present is not None:
                        grown[self.first - lo : self.first - lo + self.present.size] = self.present
                    self.first, self.present = lo, grown
                self.present[v - self.first] = True
                return
            if self.present is not None:  # too wide a range: distinct values from now on
                self.arrays.append(np.flatnonzero(self.present) + self.first)
                self.present = None
        self.arrays.append(np.unique(v))
        if sum(a.size for a in self.arrays) > 4 * max(self.arrays[0].size, 1 << 20):
            self.arrays = [np.unique(np.concatenate(self.arrays))]

    def values(self) -> NDArray[np.int64]:
        """The distinct values, increasing."""
        if self.present is not None:
            return np.flatnonzero(self.present) + self.first
        return np.unique(np.concatenate(self.arrays)) if self.arrays else np.empty(0, dtype=np.int64)


class _ArrowLevels:
    """The first pass over Arrow record batches without converting them to pandas: what
    `_level_stats` learns from the converted batch, the same values. A dictionary column's
    categories are merged in Arrow (a hash lookup of each new dictionary in those known, once per
    distinct dictionary), and the entries complete rows use are counted on the indices; Python
    objects are made once, at the end: a million levels cost their dictionaries, not a set per batch.
    An integer grouping column's values are kept as NumPy arrays (`_IntegerSet`) until the end."""

    def __init__(self, cols: list[str], grouping: set[str]) -> None:
        self.cols = cols
        self.grouping = grouping
        self.known: dict[str, _Categories1] = {}
        self.dictionaries: dict[str, list[tuple[Any, NDArray[np.int64]]]] = {}  # each distinct one's positions
        self.hints: dict[str, tuple[list[Any], list[tuple[Any, NDArray[np.int64]]]]] = {}
        self.integers: dict[str, _IntegerSet] = {}  # integer grouping columns' values (into `seen` at `finish`)

    def _positions(self, c: str, dictionary: Any) -> _Categories1 | None:
        """The known categories of column c with this dictionary's entries' positions among them
        (None: a dictionary with missing or repeated entries, or of a type that cannot join the
        known ones: pandas decides)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        k = self.known.get(c)
        if k is not None and (dictionary is k.dictionary or dictionary.equals(k.dictionary)):
            return k
        if dictionary.null_count:
            return None
        if k is None:
            if len(pc.unique(dictionary)) != len(dictionary):
                return None
            k = _Categories1(dictionary, np.zeros(len(dictionary), dtype=bool), dictionary, np.arange(len(dictionary)))
            self.known[c] = k
            self.dictionaries[c] = [(dictionary, k.positions)]
            return k
        try:
            d = dictionary if dictionary.type == k.categories.type else dictionary.cast(k.categories.type)
        except arrow_conversion_errors(pa):
            return None
        pos = pc.index_in(d, value_set=k.categories).fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
        new = pos < 0
        if new.any():
            added = d.filter(pa.array(new))
            if len(pc.unique(added)) != len(added):  # a repeated entry (old ones find their first)
                return None
            pos[new] = len(k.categories) + np.arange(int(new.sum()))
            k.categories = pa.concat_arrays([k.categories, added])
            k.used = np.concatenate([k.used, np.zeros(int(new.sum()), dtype=bool)])
        k.dictionary, k.positions = dictionary, pos
        self.dictionaries[c].append((dictionary, pos))
        return k

    def stats(self, batch: Any, i: int) -> _Levels | None:
        """`_level_stats` of a record batch (None: a column of a type left to pandas)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        types = {c: batch.schema.field(c).type for c in self.cols}
        kinds = {c: _arrow_kind(t) for c, t in types.items()}
        if None in kinds.values():
            return None
        for c, t in types.items():  # pandas' metadata decides: float64 with NaN, or nullable Int64
            if c in self.grouping and pa.types.is_integer(t) and batch.column(c).null_count:
                return None
        known = {}
        for c, t in types.items():
            if pa.types.is_dictionary(t):
                k = self._positions(c, batch.column(c).dictionary)
                if k is None:
                    return None
                known[c] = k
        n = batch.num_rows
        ok = np.ones(n, dtype=bool)
        for c in self.cols:
            arr = batch.column(c)
            if arr.null_count:
                ok &= arr.is_valid().to_numpy(zero_copy_only=False)
            if pa.types.is_floating(types[c]):
                ok &= ~np.isnan(arr.to_numpy(zero_copy_only=False))
        st = _Levels()
        st.n = int(ok.sum())
        st.n_dropped = n - st.n
        if not st.n:
            return st
        every = st.n == n
        mask = None if every else pa.array(ok)
        for c, k in known.items():  # the entries used by complete rows (their values: `finish`)
            idx = batch.column(c).indices.fill_null(0).to_numpy(zero_copy_only=False)
            if not every:
                idx = idx[ok]
            entries = np.flatnonzero(np.bincount(idx, minlength=len(k.positions)))
            k.used[k.positions[entries]] = True
        for c in self.cols:
            t, arr = types[c], batch.column(c)
            st.kinds[c] = (cast(str, kinds[c]), i)
            if pa.types.is_dictionary(t):
                continue
            if kinds[c] == "numbers" and c not in self.grouping:
                continue
            values = arr if every else arr.filter(mask)
            if kinds[c] == "numbers" and pa.types.is_integer(t) and t != pa.uint64():
                self.integers.setdefault(c, _IntegerSet()).add(
                    values.to_numpy(zero_copy_only=False).astype(np.int64, copy=False)
                )
                st.seen[c] = set()
                st.plain.add(c)
                continue
            distinct = pc.unique(values).to_pylist()
            if kinds[c] == "numbers" and pa.types.is_floating(t):
                st.floats.add(c)
                distinct = [float(v) for v in distinct]
            st.seen[c] = set(distinct)
            st.plain.add(c)
        return st

    def finish(self, st: _Levels) -> None:
        """Put the dictionary columns' categories and the values complete rows used into ``st``."""
        import pyarrow as pa

        for c, k in self.known.items():
            # only the used categories, in their order: `_level_lists` drops the unused ones anyway
            used = k.categories.filter(pa.array(k.used)).to_pylist()
            st.cats.setdefault(c, {}).update(dict.fromkeys(used))
            st.seen.setdefault(c, set()).update(used)
            # each dictionary's entries' positions among the used categories (-1: unused), which
            # are the levels when no pandas chunk added any: the second pass's map (`hint`)
            level_of = np.where(k.used, np.cumsum(k.used) - 1, -1)
            self.hints[c] = (used, [(d, level_of[pos]) for d, pos in self.dictionaries[c]])
        self.known.clear()
        self.dictionaries.clear()
        for c, ints in self.integers.items():
            st.seen.setdefault(c, set()).update(ints.values().tolist())
        self.integers.clear()

    def hint(self, plan: NativePlan, levels: Mapping[str, list[Any]]) -> None:
        """Give the native plan the map of each dictionary of the first pass to the levels (the
        second pass meets the same dictionaries: no lookup then), where the levels are those
        categories in that order."""
        for c, (used, maps) in self.hints.items():
            if c in plan.codes and levels.get(c) == used:
                plan.codes[c].hints = maps
        self.hints.clear()


def _level_lists(st: _Levels, pf: ParsedFormula) -> dict[str, list[Any]]:
    """Final level lists: a categorical's categories in order (unused dropped, as in memory; when a
    column is categorical in some chunks only, its values sorted as for the whole data's plain
    column), other columns' values sorted (as numpy/formulaic sort them), a logical column's as R's
    labels (``FALSE`` < ``TRUE``: `design.materialise` codes it as R's factor); interaction levels
    sorted by their variables' level order."""
    levels = {}
    raw = {}  # a logical column's values before they became labels (interaction levels hold them)
    for c, vals in st.seen.items():
        if c in st.cats and c not in st.plain:  # categorical in every chunk: its categories' order
            cats = st.cats[c]  # (which hold every value seen: all used when as many)
            levels[c] = list(cats) if len(cats) == len(vals) else [x for x in cats if x in vals]
            continue
        if c in st.floats:  # as a float column of the whole data would hold them
            vals = {float(v) for v in vals}
        try:
            levels[c] = sorted(vals)
        except TypeError as exc:
            raise DataError(f"column {c!r} mixes values that cannot be ordered (text and numbers?)") from exc
        if st.kinds.get(c, ("",))[0] == "booleans" and all(isinstance(v, (bool, np.bool_)) for v in levels[c]):
            raw[c] = levels[c]
            levels[c] = [level_label(bool(v)) for v in levels[c]]
    for t in pf.random:
        if len(t.factors) > 1:  # each level a tuple of the variables' values (design reads them so)
            pos = [{v: i for i, v in enumerate(raw.get(f, levels[f]))} for f in t.factors]
            coded = {tuple(p[x] for p, x in zip(pos, tup, strict=True)) for tup in st.combos.get(t.group, ())}
            levels[t.group] = [tuple(levels[f][i] for f, i in zip(t.factors, c, strict=True)) for c in sorted(coded)]
    return levels


# ----------------------------------------------------------------------------------- stateful transforms
#
# ``poly(x, 2)``, ``scale(x)``, ``center(x)`` learn from the data they first see (formulaic's transform
# state: the polynomials' recurrence coefficients, the mean and SD). In memory that is every complete
# row; here the first pass evaluates the formula on every chunk with recorders in place of those
# functions (formulaic evaluates the expression inside, e.g. ``np.log(x + 1)``, as usual) and keeps
# what the state needs, and the second pass replays the state computed from all rows.
#
# What the state needs: poly(x, d)'s coefficients are the three-term recurrence of the measure
# "one unit of weight at every row's x", and depend only on its moments up to degree 2d. The
# distinct values and their counts are that measure exactly; past `_EXACT_POINTS` of them, the
# points are compressed to their (d+1)-point Gauss rule (nodes and weights from the
# eigen-decomposition of the Jacobi matrix; Golub and Welsch), which has the same moments up to
# degree 2d+1, and further chunks' values and rules are added to it and compressed again. The
# recurrence of the result is formulaic's own (Stieltjes) on those points: it agrees with the
# in-memory coefficients to ~1e-15 relative, and exactly when the sums over the distinct values are
# exact (small integers). scale and center use the same measure with d = 1 (mean and sum of squares).


_stateful = cast(Callable[[Callable[..., Any]], Callable[..., Any]], stateful_transform)  # typed for mypy
_LEARNED = "mixedmodels.stream"  # key of what a recorder keeps in formulaic's state of one call


def _jacobi(
    u: NDArray[np.float64], w: NDArray[np.float64], m: int, n: float
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """alpha[0..m-1] and norms2[0..m] of the points u with weights w (n in all), by formulaic's
    recurrence."""
    alpha, norms = np.empty(m), np.empty(m + 1)
    prev, p = np.zeros_like(u), np.ones_like(u)
    norms[0] = n
    for k in range(m):
        alpha[k] = np.dot(w * u, p * p) / norms[k]
        nxt = (u - alpha[k]) * p
        if k:
            nxt -= (norms[k] / norms[k - 1]) * prev
        prev, p = p, nxt
        norms[k + 1] = np.dot(w, p * p)
    return alpha, norms


_EXACT_POINTS = 10_000  # distinct values kept as they are (with their counts) before compressing
_GAUSS_POINTS = 64  # Gauss rules kept before they are compressed into one


def _empty() -> NDArray[np.float64]:
    return np.empty(0)


@dataclass
class _Measure:
    """The values of one transform's input as a weighted point set with the same moments up to
    degree 2 * order + 1: the distinct values and their counts while there are at most
    `_EXACT_POINTS` of them (sums over them are the in-memory sums but for the order of the terms,
    and equal them exactly when these are exact, e.g. for integers), then Gauss rules (see above).
    A rule's node is ``center + offset``, two floats, so that its accuracy is relative to the
    values' spread, not to their size."""

    order: int
    values: NDArray[np.float64] = field(default_factory=_empty)  # distinct values
    counts: NDArray[np.float64] = field(default_factory=_empty)
    centers: NDArray[np.float64] = field(default_factory=_empty)  # Gauss nodes: centers + offsets
    offsets: NDArray[np.float64] = field(default_factory=_empty)
    weights: NDArray[np.float64] = field(default_factory=_empty)
    count: int = 0  # the number of values (a rule's weights sum to its count but for rounding)

    def add(self, x: NDArray[np.float64]) -> None:
        """Add the values x (finite)."""
        self.count += x.shape[0]
        self._add_values(x, np.ones(x.shape[0]))

    def merge(self, other: _Measure) -> None:
        """Add another measure's points."""
        self.count += other.count
        self.centers = np.concatenate([self.centers, other.centers])
        self.offsets = np.concatenate([self.offsets, other.offsets])
        self.weights = np.concatenate([self.weights, other.weights])
        self._add_values(other.values, other.counts)
        if len(self.weights) > _GAUSS_POINTS * (self.order + 1):
            self._compress()

    def _add_values(self, x: NDArray[np.float64], w: NDArray[np.float64]) -> None:
        uniq, inv = np.unique(np.concatenate([self.values, x]), return_inverse=True)
        self.values = uniq
        counts = np.bincount(inv.ravel(), weights=np.concatenate([self.counts, w]), minlength=len(uniq))
        self.counts = counts.astype(np.float64)
        if len(uniq) > _EXACT_POINTS:
            self._compress()

    def _points(self, about: float) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """All points less ``about``, and their weights."""
        u = np.concatenate([self.values - about, (self.centers - about) + self.offsets])
        return u, np.concatenate([self.counts, self.weights])

    def _compress(self) -> None:
        """All points into one (order+1)-point Gauss rule, about their mean."""
        m = self.order + 1
        c = self.mean()
        u, w = self._points(c)
        if len(u) <= m:
            return
        alpha, norms = _jacobi(u, w, m, self.n)
        beta = norms[1:m] / norms[: m - 1]
        if not (np.isfinite(alpha).all() and (beta > 0).all()):  # too close to separate: kept as they are
            return
        nodes, vectors = eigh_tridiagonal(alpha, np.sqrt(beta))
        self.values, self.counts = _empty(), _empty()
        self.centers, self.offsets = np.full(m, c), np.asarray(nodes, dtype=np.float64)
        self.weights = norms[0] * np.asarray(vectors[0, :], dtype=np.float64) ** 2

    @property
    def n(self) -> float:
        """The number of values added."""
        return float(self.count)

    def mean(self) -> float:
        """The values' mean."""
        total = np.dot(self.counts, self.values) + np.dot(self.weights, self.centers)
        return float((total + np.dot(self.weights, self.offsets)) / self.n)

    def recurrence(self, degree: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """formulaic poly's alpha[0..degree-1] and norms2[0..degree] of all values added (computed
        about their mean: alpha is shifted back)."""
        c = self.mean()
        alpha, norms = _jacobi(*self._points(c), degree, self.n)
        return alpha + c, norms

    def sum_of_squares(self, about: float) -> float:
        """The sum over the values of (x - about)**2."""
        u, w = self._points(about)
        return float(np.dot(w, u * u))


@dataclass
class _Distinct:
    """A transform's input as its distinct values and their counts: a spline's knots are order
    statistics (quantiles and the range), which these give exactly (memory: one value and count per
    distinct value)."""

    values: NDArray[np.float64] = field(default_factory=_empty)
    counts: NDArray[np.float64] = field(default_factory=_empty)

    def add(self, x: NDArray[np.float64], counts: NDArray[np.float64] | None = None) -> None:
        """Add the values x (finite), each ``counts`` times (once by default)."""
        w = np.ones(x.shape[0]) if counts is None else counts
        uniq, inv = np.unique(np.concatenate([self.values, x]), return_inverse=True)
        self.counts = np.bincount(inv.ravel(), weights=np.concatenate([self.counts, w]), minlength=len(uniq)).astype(
            np.float64
        )
        self.values = uniq

    def merge(self, other: _Distinct) -> None:
        """Add another's values."""
        self.add(other.values, other.counts)

    @property
    def n(self) -> float:
        """The number of values added."""
        return float(self.counts.sum())


@dataclass
class _Learned:
    """What the first pass learns for one stateful call: its kind (``"poly"`` or ``"scale"``), its
    arguments and the measure of its input's values (or why it cannot be streamed)."""

    kind: str
    args: tuple[Any, ...]
    measure: _Measure | _Distinct | None = None
    unstreamable: str = ""

    def merge(self, other: _Learned) -> None:
        if isinstance(self.measure, _Measure) and isinstance(other.measure, _Measure):
            self.measure.merge(other.measure)
        elif isinstance(self.measure, _Distinct) and isinstance(other.measure, _Distinct):
            self.measure.merge(other.measure)

    def state(self, call: str) -> dict[str, Any]:
        """formulaic's state of the transform, from all rows."""
        m = self.measure
        if m is None or not m.n:
            raise DataError(f"{call} saw no values")
        if isinstance(m, _Distinct):  # bs, ns: R's knots from all values
            df, knots, degree, intercept = self.args
            if knots is None:
                inner, boundary = spline_knots(m.values, interior_count(self.kind, df, degree, intercept), m.counts)
            else:
                _, boundary = spline_knots(m.values, 0, m.counts)
                inner = sorted(knots)
            return {"knots": list(inner), "boundary": list(boundary)}
        if self.kind == "poly":
            alpha, norms = m.recurrence(self.args[0])
            return {
                "alpha": {k: np.float64(a) for k, a in enumerate(alpha)},
                "norms2": {k: np.float64(v) for k, v in enumerate(norms)},
            }
        center, scale, ddof = self.args  # formulaic's scale
        n = m.n
        c: Any = np.float64(m.mean()) if center is True else None if center is False else np.array(center)
        s: Any = None
        if scale is True:
            s = np.float64(np.sqrt(m.sum_of_squares(0.0 if c is None else float(c)) / (n - ddof)))
        elif scale is not False:
            s = np.array(scale)
        return {"ddof": ddof, "center": c, "scale": s}


def _values(data: Any, call: str, state: dict[str, Any]) -> NDArray[np.float64] | None:
    """A transform's input as finite floats (None, and the reason kept in ``state``, when it is not
    one numeric column: the in-memory transform decides what that means)."""
    try:
        x = np.asarray(data, dtype=np.float64)
    except (TypeError, ValueError):
        x = None
    if x is None or x.ndim != 1:
        state[_LEARNED] = _Learned(call, (), unstreamable="its input is not one numeric column")
        return None
    return x[np.isfinite(x)]


def _placeholder(data: Any, ncol: int) -> Any:
    """The recorders' output: zeros (nan where the input is not finite, so that the usual check of
    non-finite values applies), with formulaic's column names 1..ncol."""
    try:
        x = np.asarray(data, dtype=np.float64).reshape(len(data), -1)[:, :1]
        out = np.where(np.isfinite(x), 0.0, np.nan) * np.ones((1, ncol))
    except (TypeError, ValueError):
        out = np.zeros((len(data), ncol))
    return FactorValues(out, column_names=tuple(str(i) for i in range(1, ncol + 1)))


@_stateful
def _record_poly(x: Any, degree: int = 1, raw: bool = False, _state: dict[str, Any] | None = None) -> Any:
    if raw:  # raw powers: no state
        return np.stack([np.power(np.asarray(x, dtype=np.float64), k) for k in range(1, degree + 1)], axis=1)
    assert _state is not None
    _learn_once(_state, _values(x, "poly", _state), lambda: _Learned("poly", (int(degree),), _Measure(int(degree))))
    return _placeholder(x, int(degree))


def _learn_once(state: dict[str, Any], values: NDArray[np.float64] | None, make: Callable[[], _Learned]) -> None:
    """A recorder's learning from a chunk's values: once per state. A chunk's state is its own, and
    the same call twice in one part of the formula (``scale(w) + I(scale(w)^2)``) shares it, where
    its rows had been counted twice (the sd 0.14 % off)."""
    if values is not None and _LEARNED not in state:
        state[_LEARNED] = learned = make()
        assert learned.measure is not None
        learned.measure.add(values)


def _record_scaling(data: Any, center: Any, scale: Any, ddof: Any, state: dict[str, Any] | None) -> Any:
    assert state is not None
    _learn_once(state, _values(data, "scale", state), lambda: _Learned("scale", (center, scale, ddof), _Measure(1)))
    return _placeholder(data, 1)


@_stateful
def _record_scale(data: Any, center: Any = True, scale: Any = True, ddof: Any = 1, _state: Any = None) -> Any:
    return _record_scaling(data, center, scale, ddof, _state)


@_stateful
def _record_center(data: Any, _state: Any = None) -> Any:
    return _record_scaling(data, True, False, 1, _state)


@_stateful
def _record_standardize(data: Any, center: Any = True, rescale: Any = True, ddof: Any = 0, _state: Any = None) -> Any:
    return _record_scaling(data, center, rescale, ddof, _state)


def _spline_recorder(kind: str) -> Callable[..., Any]:
    """The first pass's ``bs`` or ``ns``: keeps the distinct values and their counts."""

    def record(x: Any, df: Any, knots: Any, degree: Any, intercept: Any, state: Any) -> Any:
        inner = None if knots is None else tuple(float(k) for k in np.atleast_1d(np.asarray(knots, dtype=float)))
        args = (df, inner, int(degree), bool(intercept))
        _learn_once(state, _values(x, kind, state), lambda: _Learned(kind, args, _Distinct()))
        n_interior = len(inner) if inner is not None else interior_count(kind, df, int(degree), bool(intercept))
        ncol = n_interior + (int(degree) if kind == "bs" else 1) + int(bool(intercept))
        return _placeholder(x, ncol)

    if kind == "bs":

        @_stateful
        def record_bs(
            x: Any, df: Any = None, knots: Any = None, degree: Any = 3, intercept: Any = False, _state: Any = None
        ) -> Any:
            return record(x, df, knots, degree, intercept, _state)

        return record_bs

    @_stateful
    def record_ns(x: Any, df: Any = None, knots: Any = None, intercept: Any = False, _state: Any = None) -> Any:
        return record(x, df, knots, 3, intercept, _state)

    return record_ns


def _unstreamable(name: str, reason: str) -> Callable[..., Any]:
    @_stateful
    def record(data: Any, *args: Any, _state: Any = None, **kwargs: Any) -> Any:
        _state[_LEARNED] = _Learned(name, (), unstreamable=reason)
        return _placeholder(data, 1)

    return record


_SPLINE = "its knots are quantiles or the range of the whole data"
_RECORDERS: dict[str, Callable[..., Any]] = {
    "poly": _record_poly,
    "scale": _record_scale,
    "center": _record_center,
    "standardize": _record_standardize,
    "bs": _spline_recorder("bs"),
    "ns": _spline_recorder("ns"),
    "cr": _unstreamable("cr", _SPLINE),
    "cs": _unstreamable("cs", _SPLINE),
    "cc": _unstreamable("cc", _SPLINE),
    "lag": _unstreamable("lag", "it reads the previous rows, which another chunk may hold"),
}
_RECORD = TransformReplay(functions=_RECORDERS)


def _learned_of(call: str, state: Mapping[str, Any]) -> _Learned | None:
    """What a recorder kept for the call (None when the call kept no state, e.g. ``poly(x, raw=True)``),
    or a `DataError` for a transform that cannot be learned from chunks."""
    if not state:
        return None
    learned = state.get(_LEARNED)
    if not isinstance(learned, _Learned):
        learned = _Learned(call, (), unstreamable="it learns from the data in a way mixedmodels cannot replay")
    if learned.unstreamable:
        raise DataError(
            f"the transform {call} cannot be fitted from data read in chunks ({learned.unstreamable}): "
            "compute the column beforehand (in the data or with a function of your own) and use it in the formula"
        )
    return learned


@dataclass
class _Categories:
    """The categories of a categorical made inside the formula (``C(x)`` of a numeric x, ...): in
    memory they are those of all rows, so they are learned over all chunks too."""

    kind: Any  # formulaic's Factor.Kind
    first: list[Any]
    same: bool = True  # every chunk had the same list (explicit levels, a categorical's categories)
    union: dict[Any, None] = field(default_factory=dict)
    # the labels are numbers' (factor(k) of a numeric k labels 2, 3, 10 as text): R orders them as numbers
    numbers: bool = False

    def merge(self, other: _Categories) -> None:
        self.same = self.same and other.same and other.first == self.first
        self.numbers = self.numbers and other.numbers
        self.union.update(other.union)

    def state(self, expr: str, order: Sequence[Any] | None = None) -> tuple[Any, dict[str, Any]]:
        """formulaic's encoder state: the categories as pandas would find them in all rows (labels of
        numbers in the numbers' order, as `expressions._levels` orders them in one chunk: R's; with
        ``order``, the levels of the one column the expression reads, in theirs, as ``factor(h)``
        orders a factor's levels)."""
        if self.same:
            return self.kind, {"categories": list(self.first)}
        if order is not None:
            at = {str(v): i for i, v in enumerate(order)}
            if all(str(u) in at for u in self.union):
                return self.kind, {"categories": sorted(self.union, key=lambda u: at[str(u)])}
        try:
            if self.numbers:
                return self.kind, {"categories": sorted(self.union, key=float)}
            return self.kind, {"categories": sorted(self.union)}
        except TypeError as exc:
            raise DataError(f"{expr} mixes values that cannot be ordered (text and numbers?)") from exc


@dataclass
class _Learning:
    """What the first pass learns from the rows for the formula's encoding, beyond the levels of
    columns: stateful transforms' inputs by call, and categories made inside the formula by factor."""

    transforms: dict[str, _Learned] = field(default_factory=dict)
    categories: dict[str, _Categories] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.transforms or self.categories)

    def merge(self, other: _Learning) -> _Learning:
        for call, learned in other.transforms.items():
            if call in self.transforms:
                self.transforms[call].merge(learned)
            else:
                self.transforms[call] = learned
        for expr, cats in other.categories.items():
            if expr in self.categories:
                self.categories[expr].merge(cats)
            else:
                self.categories[expr] = cats
        return self

    def replay(self, levels: Mapping[str, Any], cols: list[str]) -> TransformReplay | None:
        """The state computed from all rows (None when there is nothing to replay): every
        categorical made in the formula has the categories of all chunks, also one made of columns
        whose levels are imposed, in the column's order of levels (``factor(g)``, whose levels are
        each chunk's own: those of the prototype's rows alone had left a level absent from them out
        of the model without a word, or refused the chunks that have it; ``factor(g == "z")``,
        whose one level is then refused as in memory)."""
        encoders = {}
        for expr, c in self.categories.items():
            read = expression_names(expr) & set(cols)
            imposed = len(read) == 1 and read <= set(levels)
            encoders[expr] = c.state(expr, levels[next(iter(read))] if imposed else None)
        if not (self.transforms or encoders):
            return None
        return TransformReplay(
            state={call: v.state(call) for call, v in self.transforms.items()} or None,
            encoders=encoders or None,
        )


def _may_learn(pf: ParsedFormula) -> bool:
    """Whether the formula can hold something the first pass learns (a stateful transform or a
    categorical made in it, e.g. ``C(x)``): only a call can, so a formula without one skips the look."""
    return bool(pf.data_dependent) or "(" in pf.fixed or any("(" in t.lhs for t in pf.random)


def _transform_stats(
    chunk: pd.DataFrame, pf: ParsedFormula, cols: list[str], start: int | NDArray[np.int64] | None = None
) -> _Learning:
    """What one chunk teaches (see `_Learning`): the categories made in the formula from its
    complete rows, and the stateful transforms' inputs from all its rows (each transform ignores
    the rows where its own input is missing), as in memory and in R (`design.transform_state`).
    ``start``: the chunk's rows' positions in all the data (`design.materialise`'s ``row_positions``,
    which errors name)."""
    out = _Learning()
    complete = bool(chunk[cols].notna().all(axis=1).any())
    if not complete and not pf.data_dependent:
        return out
    # pandas' string dtypes (Dask's default for text) as objects: formulaic 1.2 takes them for
    # numbers (the second pass imposes the levels, a categorical)
    text = [c for c in cols if pd.api.types.is_string_dtype(chunk[c].dtype) and chunk[c].dtype != object]
    if text:
        chunk = chunk.astype(dict.fromkeys(text, object))
    states: dict[str, Mapping[str, Any]] = {}
    if pf.data_dependent:
        states = transform_state(pf, chunk[cols], _RECORDERS)
    if not complete:
        return _learned_transforms(out, states)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MixedModelsWarning)
        structure, _ = materialise(pf, chunk, transforms=_RECORD, row_positions=start)
    enc = structure.encoding.formula("streaming")
    from_complete: dict[str, Mapping[str, Any]] = {}
    for spec in (enc.fixed, *enc.terms):
        if isinstance(spec, LazySpec):  # plain numeric columns: nothing to learn
            continue
        for call, state in spec.transform_state.items():
            if state:
                from_complete.setdefault(call, state)  # another part of the formula saw the same rows
        for expr, (kind, enc_state) in spec.encoder_state.items():
            # a column's own levels are imposed (first pass), not those of a categorical made from it
            if expr not in cols and getattr(kind, "value", None) == "categorical" and "categories" in enc_state:
                cats = list(enc_state["categories"])
                numbers = _labels_of_numbers(expr, cats, chunk)
                out.categories.setdefault(expr, _Categories(kind, cats, union=dict.fromkeys(cats), numbers=numbers))
    return _learned_transforms(out, states or from_complete)


def _labels_of_numbers(expr: str, categories: list[Any], chunk: pd.DataFrame) -> bool:
    """Whether a categorical made inside the formula (``factor(k)``, ``ordered(k)``) has text labels
    of numbers: every column its expression reads is numeric (not boolean) in the chunk and every
    label reads as a number. Chunks then merge their labels in the numbers' order (2 < 3 < 10), as
    the labels of all rows are ordered in memory, not as text (10 < 2 < 3).

    Examples
    --------
    >>> chunk = pd.DataFrame({"k": [2, 10], "s": ["2", "10"]})
    >>> _labels_of_numbers("factor(k)", ["2", "10"], chunk), _labels_of_numbers("factor(s)", ["10", "2"], chunk)
    (True, False)
    """
    if not categories or not all(isinstance(c, str) for c in categories):
        return False
    try:
        [float(c) for c in categories]
    except ValueError:
        return False
    read = [n for n in expression_names(expr) if n in chunk.columns]
    return bool(read) and all(
        pd.api.types.is_numeric_dtype(chunk[n].dtype) and not pd.api.types.is_bool_dtype(chunk[n].dtype) for n in read
    )


def _learned_transforms(out: _Learning, states: Mapping[str, Mapping[str, Any]]) -> _Learning:
    """``out`` with what the recorders of each stateful call kept (``states``: call -> state)."""
    for call in states:  # e.g. scale(poly(x, 2)): the recorder of the outer call saw placeholders
        inner = [c for c in states if c != call and c in call]
        if inner:
            raise DataError(
                f"the transform {call} applies to {inner[0]}, whose state is learned from the data too; "
                "from data read in chunks, compute the inner column beforehand and use it in the formula"
            )
    for call, state in states.items():
        learned = _learned_of(call, state)
        if learned is not None:
            out.transforms[call] = learned
    return out


# ----------------------------------------------------------------------------------- pass 2


def _chunk_cross_products(
    chunk: pd.DataFrame,
    pf: ParsedFormula,
    levels: Mapping[str, Any],
    proto_names: tuple[tuple[str, ...], tuple[str, ...]],
    layout: _core.Layout,
    replay: TransformReplay | None = None,
    weights: str | None = None,
    offset: str | None = None,
    copy: WorkingCopy | None = None,
    keep: NDArray[np.intp] | None = None,
    plan: NativePlan | None = None,
    start: int | None = None,
    into: _core.CrossProducts | None = None,
) -> _core.CrossProducts | None:
    """The cross-products of one chunk's complete rows (None when it has none), or with ``into``
    those added to ``into`` (returned; a stream's chunks then reuse its memory), weighted by the
    column ``weights`` and less the column ``offset`` when given; with ``keep``, of the fixed-effects
    columns kept by the model, and with ``copy``, of the rows it makes (y - X shift, centred
    columns: `WorkingCopy`, as the in-memory model forms them). The chunk is a DataFrame or an
    Arrow record batch; with a ``plan``, its rows are encoded natively (`stream_encode`) unless the
    plan declines the chunk, which then takes formulaic's path. ``start``: the position of the
    chunk's first row in all the data (errors about a row name its position there)."""
    rows = None if plan is None else plan.rows(chunk)
    if rows is not None and rows.nobs == 0:
        return None
    if rows is None:
        if not isinstance(chunk, pd.DataFrame):
            chunk = chunk.to_pandas()
        cols = sorted(used_columns(pf) | {c for c in (weights, offset) if c is not None})
        if not chunk[cols].notna().all(axis=1).any():
            return None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MixedModelsWarning)
            structure, held = materialise(
                pf,
                chunk,
                levels=levels,
                transforms=replay,
                weights=weights,
                offset=offset,
                row_positions=start,
                chunk=True,
            )
        if (structure.fixed_names, structure.theta.names) != proto_names:
            got = set(structure.fixed_names) | set(structure.theta.names)
            want = set(proto_names[0]) | set(proto_names[1])
            raise DataError(
                "a chunk encodes the model differently from the first pass (columns or levels changed: "
                f"{sorted(got - want)[:5]} instead of {sorted(want - got)[:5]}); a column made in the formula "
                "from one chunk's values alone cannot be streamed: compute it beforehand"
            )
        rows = held.rows("the cross-products")
    if keep is not None:
        rows = rows.select_fixed(keep)
    if copy is not None:
        rows = copy(rows)
    if into is None:
        return rows.cross_products(layout)
    rows.add_to(into)
    return into


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
    weights: str | None = None,
    offset: str | None = None,
    native: bool = True,
) -> LinearMixedModel:
    """The model of data read in batches (see `chunk_source`) or of a Dask DataFrame: two passes
    (levels, encoding and the state of stateful transforms such as ``poly(x, 2)``, learned from all
    rows; then the cross-products, summed in C++), then the model's checks on them.

    Transforms whose state cannot be learned chunk by chunk (splines with knots at quantiles,
    ``lag``, a stateful transform of another) and columns holding different kinds of values in
    different chunks are a `DataError`; so is a source that gives fewer rows the second time.

    Parquet files are read as Arrow record batches: the first pass reads their columns (a
    dictionary column's dictionary once per file), and for formulas of numeric columns and plain
    grouping variables the second pass encodes each batch (or DataFrame chunk) natively from its
    arrays (`stream_encode.NativePlan`: the same rows as formulaic's path, bit for bit; checked on
    the prototype rows). ``native=False`` takes formulaic's path for every chunk.

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
    for name, value in (("weights", weights), ("offset", offset)):
        if value is not None and not isinstance(value, str):
            raise ArgumentError(
                f"{name}= for data read in chunks is a column's name (the values come with the chunks), "
                f"got {type(value).__name__}"
            )
    cols = sorted(used_columns(pf) | {c for c in (weights, offset) if c is not None})
    grouping = {v for t in pf.random for v in t.factors}
    is_dask = type(source).__module__.startswith("dask")
    if is_dask and type(source).__name__ != "DataFrame":  # a Dask Series or Array: dask's own error had been raised
        raise DataError(
            "data must be a Dask DataFrame (or a pandas DataFrame, paths or chunks), "
            f"got Dask's {type(source).__name__}"
        )
    arrow: _ArrowLevels | None = None  # the first pass over Arrow batches (Parquet files)
    learned = _Learning()  # what stateful transforms and categories made in the formula learn
    # the prototype: up to PROTOTYPE_ROWS complete rows, from which the encoding for new data is
    # built (with the levels and the transform state of the whole data imposed); the model keeps it,
    # and no other rows
    if is_dask:
        first = source[cols].dropna().head(PROTOTYPE_ROWS, npartitions=-1)
        first_at = np.full(len(first), -1, dtype=np.int64)  # positions unknown: errors name index labels
        learn = not first.empty and _may_learn(pf) and bool(_transform_stats(first, pf, cols, first_at))
        st, learned, sum_partitions = _dask_passes(source, pf, cols, grouping, learn, weights, offset)
    else:
        chunks = _batch_source(source, cols, batch_size)
        report = _progress_printer(progress, "pass 1 (levels)")
        st = _Levels()
        first = None
        first_at = np.empty(0, dtype=np.int64)  # the prototype rows' positions in all the data
        learn = False
        any_chunk = False
        before = 0  # the rows of the chunks before this one
        arrow = _ArrowLevels(cols, grouping) if native and all(len(t.factors) == 1 for t in pf.random) else None
        for i, ch in enumerate(chunks()):
            any_chunk = True
            start, before = before, before + _nrows(ch)
            if _nrows(ch) == 0:  # an empty chunk (of whatever columns) has nothing to say
                continue
            _check_columns(ch, cols, i)
            if first is None or first.empty:
                first, at = _prototype(ch, cols)
                first_at = at + start
                # stateful transforms? (a cheap look at the prototype's rows decides; a chunk before the first
                # complete row learns whatever the formula may learn: scale(w) had missed its rows' w)
                learn = _may_learn(pf) and (first.empty or bool(_transform_stats(first, pf, cols, first_at)))
            part = None
            if not isinstance(ch, pd.DataFrame):
                if arrow is not None and not learn:
                    part = arrow.stats(ch, i)
                if part is None:
                    ch = ch.to_pandas()
            if part is None:
                part = _level_stats(ch, pf, cols, grouping, i)
            st = _merge_levels([st, part])  # running merge: bounded memory
            if learn:
                learned.merge(_transform_stats(ch, pf, cols, start))
            report(st.n + st.n_dropped)
        if arrow is not None:
            arrow.finish(st)
        if not any_chunk:
            raise DataError("the data source yielded no chunks")
    if st.n == 0 or first is None or first.empty:
        raise DataError(f"every row has a missing value in at least one of the columns {cols}")
    levels = _level_lists(st, pf)
    replay = learned.replay(levels, cols)
    proto, proto_rows = materialise(
        pf, first.copy(), levels=levels, transforms=replay, weights=weights, offset=offset, row_positions=first_at
    )
    names = (proto.fixed_names, proto.theta.names)
    layout = proto.core_layout
    plan = _native_plan(pf, proto, levels, first, proto_rows.rows("the prototype"), weights, offset) if native else None
    if plan is not None and arrow is not None:
        arrow.hint(plan, levels)
    if is_dask:
        total = sum_partitions(levels, names, layout, replay, plan=plan)

        def sums(copy: WorkingCopy, lay: _core.Layout, keep: NDArray[np.intp] | None) -> _core.CrossProducts:
            out = sum_partitions(levels, names, lay, replay, copy, keep, plan)
            if out.nobs != st.n:
                raise DataError(f"the data source gave {out.nobs:,} complete rows in another pass, not {st.n:,}")
            out.freeze()
            return out

    else:

        def sum_chunks(
            lay: _core.Layout,
            copy: WorkingCopy | None = None,
            keep: NDArray[np.intp] | None = None,
            report: Callable[[int], None] | None = None,
        ) -> _core.CrossProducts:
            """A pass over the chunks summing their cross-products (of the rows ``copy`` makes, and of
            the kept fixed-effects columns, when given)."""
            out = _core.CrossProducts(lay)
            done = 0
            try:
                for i, ch in enumerate(chunks()):
                    n = _nrows(ch)
                    if n == 0:
                        continue
                    _check_columns(ch, cols, i)
                    _chunk_cross_products(
                        ch, pf, levels, names, lay, replay, weights, offset, copy, keep, plan, start=done, into=out
                    )
                    done += n
                    if report is not None:
                        report(done)
            finally:
                if plan is not None:
                    plan.release()  # the chunks' scratch arrays
            return out

        total = sum_chunks(layout, report=_progress_printer(progress, "pass 2 (blocks of A)"))
        if progress:
            sys.stderr.write("\n")

        def sums(copy: WorkingCopy, lay: _core.Layout, keep: NDArray[np.intp] | None) -> _core.CrossProducts:
            """A of the rows' working copy (y - X shift, centred slopes): one more pass, taken only
            for a response far from zero or explained almost exactly by the fixed effects (the
            model's `_residual_cross_products`) and for random slopes far from zero (`CentredColumns`)."""
            out = sum_chunks(lay, copy, keep)
            if out.nobs != st.n:
                raise DataError(f"the data source gave {out.nobs:,} complete rows in another pass, not {st.n:,}")
            out.freeze()
            return out

    if total.nobs != st.n:
        raise DataError(
            f"the data source gave {st.n:,} complete rows in the first pass and {total.nobs:,} in the second: "
            "a streamed fit reads the data twice, so the source must give the same chunks each time it is "
            "iterated (a path or glob, a list of DataFrames, or a function returning a new iterator on each "
            "call), not a generator or an iterator that is exhausted after one pass"
        )
    return LinearMixedModel.build(proto, StreamedData(st.n_dropped), total, reml=reml, sums=sums)


def _nrows(chunk: Any) -> int:
    """Rows of a DataFrame or an Arrow record batch (or of anything else: `_check_columns` names it)."""
    n = getattr(chunk, "num_rows", None)
    if isinstance(n, int) and not isinstance(chunk, pd.DataFrame):
        return n
    try:
        return len(chunk)
    except TypeError:
        return 1


def _prototype(chunk: Any, cols: list[str]) -> tuple[pd.DataFrame, NDArray[np.int64]]:
    """Up to `PROTOTYPE_ROWS` complete rows of a chunk, as a DataFrame (of an Arrow batch, its first
    rows converted, or all of them when those have too few complete rows), and their positions in
    the chunk."""
    if isinstance(chunk, pd.DataFrame):
        part = chunk[cols]
        at = np.flatnonzero(part.notna().all(axis=1).to_numpy())[:PROTOTYPE_ROWS]
        return part.iloc[at], at.astype(np.int64)
    head: pd.DataFrame = _small_pandas(chunk.slice(0, 10 * PROTOTYPE_ROWS))[cols].dropna()
    if len(head) < PROTOTYPE_ROWS and chunk.num_rows > 10 * PROTOTYPE_ROWS:
        head = _small_pandas(chunk)[cols].dropna()
    head = head.head(PROTOTYPE_ROWS)
    return head, np.asarray(head.index, dtype=np.int64)  # a RangeIndex from the batch's first row


def _small_pandas(batch: Any) -> pd.DataFrame:
    """A record batch as a DataFrame, its dictionary columns with only the entries the rows use
    (a slice keeps the whole dictionary: a million categories for a thousand rows). The levels are
    imposed on the prototype, so its categories' order does not matter; an ordered one stays ordered."""
    import pyarrow as pa

    arrays = []
    for a in batch.columns:
        if pa.types.is_dictionary(a.type):
            small = a.dictionary_decode().dictionary_encode()
            if a.type.ordered:  # an ordered factor stays one (its levels, imposed, give the order)
                small = pa.DictionaryArray.from_arrays(small.indices, small.dictionary, ordered=True)
            a = small
        arrays.append(a)
    out: pd.DataFrame = pa.RecordBatch.from_arrays(arrays, names=batch.schema.names).to_pandas()
    return out


def _native_plan(
    pf: ParsedFormula,
    proto: Any,
    levels: Mapping[str, Any],
    first: pd.DataFrame,
    held: Rows,
    weights: str | None,
    offset: str | None,
) -> NativePlan | None:
    """The native encoding of the chunks (`stream_encode.NativePlan`), kept only when it gives the
    prototype rows ``first`` exactly as formulaic's path does (``held``; None: formulaic's path for
    every chunk)."""
    plan = NativePlan.of(pf, proto, levels, weights, offset)
    if plan is None:
        return None
    mine = plan.rows(first)
    agree = mine is not None and same_rows(mine, held)
    plan.release()
    if not agree:
        return None
    return plan


def _check_columns(chunk: Any, cols: list[str], i: int) -> None:
    if not isinstance(chunk, pd.DataFrame) and not _is_arrow_batch(chunk):
        raise DataError(f"chunk {i} of the data is a {type(chunk).__name__}, not a pandas DataFrame")
    names = chunk.columns if isinstance(chunk, pd.DataFrame) else chunk.schema.names
    missing = [c for c in cols if c not in names]
    if missing:
        raise FormulaError(f"the data has no column {missing}" + (f" (chunk {i})" if i else ""))


def _is_arrow_batch(chunk: Any) -> bool:
    """An Arrow record batch (Parquet files give them; a source may too)."""
    return type(chunk).__module__.startswith("pyarrow") and type(chunk).__name__ == "RecordBatch"


# ----------------------------------------------------------------------------------- Dask


def _dask_passes(
    ddf: Any,
    pf: ParsedFormula,
    cols: list[str],
    grouping: set[str],
    learn: bool,
    weights: str | None = None,
    offset: str | None = None,
) -> tuple[_Levels, _Learning, Callable[..., _core.CrossProducts]]:
    import dask  # the optional extra: imported only for a Dask source

    missing = [c for c in cols if c not in ddf.columns]
    if missing:
        raise FormulaError(f"the data has no column {missing}")
    parts = ddf[cols].to_delayed()
    stats = dask.compute(*[dask.delayed(_level_stats)(p, pf, cols, grouping, i) for i, p in enumerate(parts)])
    sizes = [s.n + s.n_dropped for s in stats]  # before the merge, which adds them up in the first
    starts = [int(v) for v in np.cumsum([0, *sizes[:-1]])]  # each partition's first row in all the data
    st = _merge_levels(list(stats))
    learned = _Learning()
    if learn:
        for part in dask.compute(
            *[dask.delayed(_transform_stats)(p, pf, cols, at) for p, at in zip(parts, starts, strict=True)]
        ):
            learned.merge(part)

    def sum_partitions(
        levels: Mapping[str, Any],
        names: tuple[tuple[str, ...], tuple[str, ...]],
        layout: _core.Layout,
        replay: TransformReplay | None,
        copy: WorkingCopy | None = None,
        keep: NDArray[np.intp] | None = None,
        plan: NativePlan | None = None,
    ) -> _core.CrossProducts:
        items = [
            dask.delayed(_chunk_cross_products)(
                p, pf, levels, names, layout, replay, weights, offset, copy, keep, plan, at
            )
            for p, at in zip(parts, starts, strict=True)
        ]
        while len(items) > 1:  # tree reduction
            items = [
                dask.delayed(_add_maybe)(items[i], items[i + 1]) if i + 1 < len(items) else items[i]
                for i in range(0, len(items), 2)
            ]
        try:
            total = items[0].compute()
        finally:
            if plan is not None:
                plan.release()  # the scratch arrays of the threads that encoded the chunks
        return total if total is not None else _core.CrossProducts(layout)

    return st, learned, sum_partitions


def _add_maybe(a: _core.CrossProducts | None, b: _core.CrossProducts | None) -> _core.CrossProducts | None:
    """a + b as a new object (a task's inputs are not modified), either may be None."""
    if a is None:
        return b
    if b is None:
        return a
    return a + b
