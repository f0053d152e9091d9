"""From data to a model's parts: a data frame (or arrays, for the embedding API) becomes the model's
structure (`structure.ModelStructure`) and its rows (`data.FrameData`, `data.ArrayData`).

The symbolic terms come from `formula.parse_formula`; formulaic materialises the fixed part and each
term's columns and keeps the specs that replay the same encoding on new data. Rows with a missing
value in a used column are dropped; non-finite values are errors naming the column and row. The
identifiability checks (constant response, aliased columns, too few levels, constant slopes) run
later, once, on the cross-products (`checks`), whatever the data's kind.
"""

from __future__ import annotations

import ast
import copy
import difflib
import functools
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, cast

import formulaic
import numpy as np
import pandas as pd
from formulaic.transforms import TRANSFORMS
from numpy.typing import ArrayLike, NDArray

from . import _core
from .arguments import UNLABELLED_ROWS
from .data import ArrayData, FrameData, Rows
from .exceptions import DataError, FormulaError, MixedModelsWarning, warn
from .expressions import (
    FUNCTIONS,
    INTERNAL_CALLS,
    NUMBER_CALL,
    SafeSpec,
    all_rows,
    call_end,
    called_functions,
    column_name,
    decided_rows,
    expression_names,
    is_logical,
    logical_factor,
    model_matrix,
    ordered_levels,
    r_order,
    variable_rank,
)
from .formula import ParsedFormula, parse_formula
from .names import drop_internal_calls, level_label, make_unique, r_name, r_variable
from .rcoding import coded_otherwise
from .structure import ArrayEncoding, Encoding, FormulaEncoding, LevelKeys, ModelStructure, Term, assemble

__all__ = [
    "GroupTerm",
    "LazySpec",
    "TransformReplay",
    "from_arrays",
    "materialise",
    "plain_terms",
    "sorted_factorize",
    "transform_state",
    "used_columns",
]


# --------------------------------------------------------------------------- grouping factors


def _drop_unused(col: pd.Categorical) -> pd.Categorical:
    """A categorical without its unused categories (a counting pass; pandas' own sorts the codes)."""
    codes = col.codes  # -1: missing
    ncat = len(col.categories)
    used = np.bincount(codes[codes >= 0], minlength=ncat) > 0
    if used.all():
        return col
    return col.set_categories(col.categories[used])  # keeps the order (remove_categories may sort)


ObjectArray = NDArray[np.object_]
Column = Any  # a data frame column's array: numpy, pandas Categorical or another extension array


def _level_labels(values: Iterable[object]) -> ObjectArray:
    """Level labels as R's ``factor()`` prints them, as an object array (integers' and strings' by
    ``str``: 200,000 integer levels in 20 ms, not 150 ms)."""
    vals = values if isinstance(values, list) else list(values)
    if all(type(v) is int or type(v) is str for v in vals):
        return np.array(list(map(str, vals)), dtype=object)
    return np.array([v if type(v) is str else level_label(v) for v in vals], dtype=object)


def sorted_factorize(raw: NDArray[Any] | pd.api.extensions.ExtensionArray) -> tuple[NDArray[Any], NDArray[np.int64]]:
    """``np.unique(raw, return_inverse=True)`` at hash speed: the values are coded by hashing, then
    only the distinct values are sorted (in np.unique's order) and the codes remapped. Strings held
    by Arrow (pandas' string arrays, as read_csv gives them) are hashed by the core from Arrow's
    buffers (`_arrow_codes`: 100,000 rows in ~1 ms), others by pandas' factorize. A million strings
    with 20,000 distinct values take ~10 ms (Arrow's) to 0.1 s (objects) instead of seconds.
    Missing values (which pandas codes -1) take np.unique's path.

    Examples
    --------
    >>> uniq, codes = sorted_factorize(np.array(["b", "a", "c", "a"], dtype=object))
    >>> uniq.tolist(), codes.tolist()
    (['a', 'b', 'c'], [1, 0, 2, 0])
    >>> uniq, codes = sorted_factorize(pd.array(["b", "a", "c", "a"], dtype="string"))
    >>> uniq.tolist(), codes.tolist()
    (['a', 'b', 'c'], [1, 0, 2, 0])
    """
    if not isinstance(raw, np.ndarray):  # a pandas extension array
        arr = _arrow_strings(raw)
        if arr is not None and not arr.null_count:
            return _arrow_codes(arr)
        first, held = raw.factorize()
        if len(first) and first.min() < 0:
            return sorted_factorize(raw.to_numpy(dtype=object))
        distinct = held.to_numpy(dtype=object)
    else:
        first, distinct = pd.factorize(raw, sort=False)
        if len(first) and first.min() < 0:
            uniq, inverse = np.unique(raw, return_inverse=True)
            return uniq, inverse.reshape(-1).astype(np.int64)
        distinct = np.asarray(distinct, dtype=raw.dtype if raw.dtype != object else object)
    order = np.argsort(distinct, kind="stable")
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order), dtype=np.int64)
    return distinct[order], rank[first]


def _arrow_strings(values: pd.api.extensions.ExtensionArray) -> Any:
    """The Arrow array (its chunks combined) behind a pandas array of pyarrow storage and Arrow type
    string or large_string; None for other arrays."""
    if getattr(values.dtype, "storage", None) != "pyarrow":
        return None
    import pyarrow as pa

    arr = pa.array(values)
    if isinstance(arr, pa.ChunkedArray):
        try:
            arr = arr.combine_chunks()
        except pa.ArrowInvalid:  # strings of 2 GiB or more in all: their offsets no longer fit int32
            arr = arr.cast(pa.large_string()).combine_chunks()
    return arr if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type) else None


def _arrow_codes(arr: Any) -> tuple[ObjectArray, NDArray[np.int64]]:
    """`sorted_factorize` of an Arrow string or large_string array with no missing values: the core
    hashes the strings in Arrow's own buffers (`_core.string_codes`: no Python string per row) and
    sorts the distinct ones by their bytes (UTF-8's byte order is the code points' order, np.unique's
    for Python strings)."""
    import pyarrow as pa

    n = len(arr)
    if n == 0:
        return np.array([], dtype=object), np.zeros(0, dtype=np.int64)
    _, offsets_buffer, data_buffer = arr.buffers()
    width = np.int32 if pa.types.is_string(arr.type) else np.int64
    offsets = np.frombuffer(offsets_buffer, dtype=width, count=arr.offset + n + 1)[arr.offset :]
    data = np.zeros(0, dtype=np.uint8) if data_buffer is None else np.frombuffer(data_buffer, dtype=np.uint8)
    codes, first = _core.string_codes(offsets, data)
    return arr.take(first).to_numpy(zero_copy_only=False), codes.astype(np.int64)


def _as_factor(col: Column, name: str) -> tuple[NDArray[np.int64], ObjectArray, ObjectArray]:
    """Codes, level values and level labels of one grouping variable (a column's array: numpy,
    Categorical or other extension array). A Categorical's categories are its levels (`build_design`
    has dropped the unused ones, as R does, unless the levels were fixed beforehand); other values
    are sorted. Labels are R's, but distinct values keep distinct labels (``0.1 + 0.2`` and ``0.3``
    both print ``0.3`` in R: here the first is labelled with all its digits)."""
    if isinstance(col, pd.Categorical):
        values = np.array(col.categories.tolist(), dtype=object)
        codes = col.codes.astype(np.int64)
    else:
        # pandas' string arrays (Arrow's, from read_csv) are hashed as they are: no million-object copy
        strings = not isinstance(col, np.ndarray) and pd.api.types.is_string_dtype(col.dtype)
        raw = col if isinstance(col, np.ndarray) or strings else col.to_numpy()
        try:
            uniq, codes = sorted_factorize(raw)
        except TypeError as exc:
            raise DataError(f"grouping variable {name!r} mixes types that cannot be ordered") from exc
        if strings and (len(uniq) == 0 or type(uniq[0]) is str):
            # a typed string array's distinct values (missing values were dropped): their own labels
            return codes, uniq, uniq
        values = np.array([v.item() if hasattr(v, "item") else v for v in uniq], dtype=object)
    labels = _level_labels(values)
    if len(set(labels.tolist())) < len(labels):
        counts = pd.Series(labels).value_counts()
        labels = np.array(
            [
                repr(v) if counts[lab] > 1 and isinstance(v, float) else lab
                for v, lab in zip(values, labels, strict=True)
            ],
            dtype=object,
        )
    return codes, values, labels


def _unique_labels(labels: list[str], group: str) -> ObjectArray:
    """Level labels made unique (R's ``make.unique``) with a warning when two distinct levels print
    alike (an interaction of ``'x:y'`` and ``'z'`` and one of ``'x'`` and ``'y:z'``)."""
    out = make_unique(labels)
    if out != labels:
        twice = sorted({lab for lab, new in zip(labels, out, strict=True) if lab != new})
        warn(
            f"distinct levels of the grouping factor {group!r} print alike ({', '.join(map(repr, twice[:5]))}); "
            "their labels (in ranef, coef) are made unique with suffixes .1, .2, ...; the levels stay distinct",
            MixedModelsWarning,
        )
    return np.array(out, dtype=object)


def _combine(
    parts: Sequence[tuple[NDArray[np.int64], ObjectArray, ObjectArray]],
    combos: NDArray[np.int64],
    group: str,
) -> tuple[ObjectArray, LevelKeys]:
    """The labels and keys of an interaction grouping's levels ``combos`` (per level, each
    variable's code): the variables' labels joined by ``:`` as R prints them, made unique."""
    labels = [":".join(str(p[2][c]) for p, c in zip(parts, row, strict=True)) for row in combos.tolist()]
    return _unique_labels(labels, group), LevelKeys(tuple(p[1] for p in parts), combos)


def _grouping(
    data: _Columns, variables: tuple[str, ...], group: str
) -> tuple[NDArray[np.int32], ObjectArray, LevelKeys]:
    """Codes, level labels and level keys of a grouping factor. An interaction ``a:b``'s levels are
    the combinations of its variables' codes that occur, the first variable varying slowest (as R's
    ``:`` on factors), never joined strings."""
    parts = [_as_factor(data[v], v) for v in variables]
    if len(parts) == 1:
        codes, values, labels = parts[0]
        combos = np.arange(len(values), dtype=np.int64).reshape(-1, 1)
        return codes.astype(np.int32), _unique_labels(labels.tolist(), group), LevelKeys((values,), combos)
    combined = parts[0][0].copy()
    for codes_v, values_v, _ in parts[1:]:
        combined = combined * len(values_v) + codes_v
    uniq, inverse = sorted_factorize(combined)
    combos = np.stack(np.unravel_index(uniq, tuple(len(p[1]) for p in parts)), axis=1).astype(np.int64)
    labels, keys = _combine(parts, combos, group)
    return inverse.reshape(-1).astype(np.int32), labels, keys


def _imposed_grouping(
    data: _Columns, variables: tuple[str, ...], group: str, levels: Mapping[str, Sequence[Any]]
) -> tuple[NDArray[np.int32], ObjectArray, LevelKeys]:
    """`_grouping` of an interaction whose levels were fixed beforehand (streamed data's first
    pass: ``levels[group]`` holds each level's tuple of the variables' values, and each variable's
    column is a categorical of ``levels[variable]``)."""
    parts = [_as_factor(data[v], v) for v in variables]
    where = [{val: i for i, val in enumerate(levels[v])} for v in variables]
    combos = np.array(
        [[w[val] for w, val in zip(where, tup, strict=True)] for tup in levels[group]], dtype=np.int64
    ).reshape(-1, len(variables))
    fit = pd.MultiIndex.from_arrays([combos[:, k] for k in range(len(variables))])
    codes = fit.get_indexer(pd.MultiIndex.from_arrays([p[0] for p in parts]))
    if (codes < 0).any():
        raise DataError(f"a level of {group!r} was not seen in the first pass over the data")
    labels, keys = _combine(parts, combos, group)
    return np.asarray(codes, dtype=np.int32), labels, keys


# --------------------------------------------------------------------------- formulaic helpers


def _materialise(
    spec_text: str,
    data: _Columns,
    what: str,
    numeric: Iterable[str] = (),
    trusted: bool = False,
    replay: TransformReplay | None = None,
    logical: Iterable[str] = (),
    built: tuple[NDArray[np.float64], tuple[str, ...]] | None = None,
) -> tuple[NDArray[np.float64], tuple[str, ...], tuple[str, ...], Any]:
    """The model matrix of one part of the formula: its values, its columns' internal keys
    (formulaic's names, unique), their names as R prints them, and the spec that replays it
    (``logical``: the logical columns coded as R's factors, which it codes so in new data too).
    ``built``: a model matrix of the same rows and its keys (the fixed part's), whose columns a
    plain part takes where it has all of them (``(1 + x | g)`` beside ``y ~ x``: the same values)."""
    plain = _plain_terms(spec_text, data, logical, text=replay is None)
    if plain is not None:  # numeric columns, unordered categoricals and the intercept: formulaic's encoding
        intercept, cols, keys_of = plain
        keys: tuple[str, ...] = ("Intercept",) if intercept else ()
        names: tuple[str, ...] = ("(Intercept)",) if intercept else ()
        for c in cols:
            level_keys = keys_of[c]
            if level_keys is None:
                keys, names = keys + (c,), names + (r_variable(c),)
            else:
                keys, names = keys + level_keys, names + tuple(r_name(k) for k in level_keys)
        if built is not None and keys and set(keys) <= set(built[1]):
            at = {k: j for j, k in enumerate(built[1])}
            source = [at[k] for k in keys]
            if source == list(range(source[0], source[0] + len(source))):  # a copy of a slice: 10x a gather's speed
                x = built[0][:, source[0] : source[0] + len(source)].copy()
            else:
                x = np.empty((data.shape[0], len(keys)))
                for j, k in enumerate(source):
                    x[:, j] = built[0][:, k]
            return x, keys, names, LazySpec(spec_text, data.frame)
        # every column written below but the contrasts' (zeros where a row is not of their level)
        dummies = any(k is not None for k in keys_of.values())
        x = (np.zeros if dummies else np.empty)((data.shape[0], len(keys)))
        if intercept:
            x[:, 0] = 1.0
        j = int(intercept)
        for c in cols:
            level_keys = keys_of[c]
            if level_keys is None:
                x[:, j] = data[c]
                j += 1
                continue
            codes = np.asarray(data[c].codes)
            rows = np.flatnonzero(codes > 0)  # treatment contrasts: the first level is the reference
            x[rows, j + codes[rows] - 1] = 1.0
            j += len(level_keys)
        return x, keys, names, LazySpec(spec_text, data.frame)
    try:  # the text was vetted by parse_formula (unless trusted): formulaic evaluates only the function table
        extra = _stream_arguments(replay)
        functions = extra.pop("context", None)
        mm = model_matrix(
            spec_text, data.frame, numeric, trusted=trusted, functions=functions, na_action="ignore", **extra
        )
    except FormulaError:
        raise
    except Exception as exc:  # formulaic raises many types; name what failed
        raise _evaluation_error(f"the {what} from {drop_internal_calls(spec_text)!r}", exc) from exc
    keys = tuple(mm.model_spec.column_names)
    rank = variable_rank(spec_text)
    spec = SafeSpec(mm.model_spec, numeric, trusted, logical, ordered_levels(data.frame), rank)
    names = _r_interaction_names(mm.model_spec, keys, tuple(r_name(c) for c in keys), rank)
    return np.ascontiguousarray(mm.to_numpy(dtype=np.float64)), keys, names, spec


def _r_interaction_names(
    spec: Any, keys: Sequence[str], names: tuple[str, ...], rank: Mapping[str, int]
) -> tuple[str, ...]:
    """The names of interaction columns with their variables in R's order (`expressions.r_order`:
    as they first appear in the formula), where formulaic keeps each term as written: R names
    ``sector + ses + ses:sector``'s column ``sectorCatholic:ses``, formulaic ``ses:sector[T.Catholic]``.
    A name that does not split at ':' into one part per variable is left as it is."""
    where = {k: j for j, k in enumerate(keys)}
    out = list(names)
    for st in getattr(spec, "structure", None) or ():
        factors = [str(f) for f in st.term.factors]
        perm = r_order(factors, rank)
        if perm == list(range(len(factors))):
            continue
        for col in st.columns:
            j = where.get(col)
            parts = out[j].split(":") if j is not None else []
            if j is not None and len(parts) == len(factors):
                out[j] = ":".join(parts[i] for i in perm)
    return tuple(out)


def _unique_names(names: tuple[str, ...], keys: tuple[str, ...], what: str) -> tuple[str, ...]:
    """Printed column names made unique (R's ``make.unique``) with a warning when two coincide
    (level ``1`` of a categorical ``grp`` and a column ``grp1`` both print ``grp1``)."""
    out = tuple(make_unique(list(names)))
    if out != names:
        alike = [f"{n!r} ({k})" for n, k in zip(names, keys, strict=True) if names.count(n) > 1]
        renamed = [f"{n!r}" for n, o in zip(out, names, strict=True) if n != o]
        warn(
            f"{what} print alike: {', '.join(alike)}; the later ones are named {', '.join(renamed)}",
            MixedModelsWarning,
        )
    return out


# ----------------------------------------------------------------- hooks for streamed data (stream.py)


@dataclass(frozen=True)
class TransformReplay:
    """How `materialise` evaluates the formula's stateful transforms for streamed data (`stream`).

    Attributes
    ----------
    state : mapping
        formulaic's transform state (``ModelSpec.transform_state``: the call's text, e.g.
        ``"poly(Days, 2)"``, to its state), learned over all chunks, replayed instead of being learned
        from the rows at hand. Each formulaic model matrix gets its own deep copy.
    encoders : mapping
        formulaic's encoder state (``ModelSpec.encoder_state``: a factor's text, e.g. ``"C(Days)"``, to
        its kind and categories), learned over all chunks, replayed likewise.
    functions : mapping
        Functions evaluated in place of the formula's own of the same name (formulaic's ``context``):
        the first pass's recorders, which learn what a transform needs from each chunk.
    """

    state: Mapping[str, Any] | None = None
    encoders: Mapping[str, Any] | None = None
    functions: Mapping[str, Callable[..., Any]] | None = None


def _stream_arguments(replay: TransformReplay | None) -> dict[str, Any]:
    """formulaic.model_matrix's extra arguments for `TransformReplay` (none without one)."""
    if replay is None:
        return {}
    out: dict[str, Any] = {}
    if replay.state:
        out["transform_state"] = copy.deepcopy(dict(replay.state))
    if replay.encoders:
        out["encoder_state"] = copy.deepcopy(dict(replay.encoders))
    if replay.functions:
        out["context"] = dict(replay.functions)
    return out


class _Columns:
    """A data frame's columns as arrays (numpy, or pandas' Categorical and other extension arrays),
    each looked up once: building a pandas Series costs ~10-20 us, and a small fit needs a dozen."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame
        self.columns = frame.columns
        self.shape = frame.shape
        self._cache: dict[str, Column] = {}

    def __getitem__(self, name: str) -> Column:
        col = self._cache.get(name)
        if col is None:
            col = self._cache[name] = _column_array(self.frame, name)
        return col

    def recode(self, name: str, col: Column) -> Column:
        """Hold another coding of a column's values (a Categorical of its strings, as formulaic
        reads them) for later lookups; the frame keeps the column as it is."""
        self._cache[name] = col
        return col

    def replace(self, name: str, col: Column) -> None:
        """Swap in a changed column (the frame gets it too)."""
        self.frame = self.frame.assign(**{name: col})
        self._cache[name] = col


def _column_array(frame: pd.DataFrame, name: str) -> Column:
    """The array behind one column (read only: it may be the frame's own memory)."""
    get = getattr(frame, "_get_column_array", None)  # pandas' internal accessor: no Series built
    if get is not None and frame.columns.is_unique:
        return get(frame.columns.get_loc(name))
    col = frame[name]
    return col.array if isinstance(col.dtype, pd.api.extensions.ExtensionDtype) else col.to_numpy()


_COPY_ON_WRITE = int(pd.__version__.split(".")[0]) >= 3 or bool(pd.get_option("mode.copy_on_write") is True)
_TOKEN = re.compile(r"\s*([+-])\s*")


def plain_terms(spec_text: str, quoted: bool = False) -> tuple[bool, tuple[str, ...]] | None:
    """(intercept, names) of a right-hand side made of ``1``/``0``/``-1`` and distinct names only,
    else None: the formulas whose model matrix is the named columns after the intercept, when they
    are numeric (the caller checks the columns). With ``quoted``, a column formulaic is told as
    ``Q('name')`` (`expressions.column_name`: a name such as ``c`` or ``my x``) counts as its name.

    Examples
    --------
    >>> plain_terms("1 + x + z"), plain_terms("0 + x"), plain_terms("x * z")
    ((True, ('x', 'z')), (False, ('x',)), None)
    >>> plain_terms("1 + Q('c')"), plain_terms("1 + Q('c')", quoted=True)
    (None, (True, ('c',)))
    """
    parts = _TOKEN.split(" + " + spec_text.strip())
    if parts[0].strip():
        return None
    intercept, cols = True, []
    for sign, tok in zip(parts[1::2], parts[2::2], strict=True):
        if tok in ("0", "1"):
            intercept = (tok == "1") == (sign == "+")
        elif sign == "+" and (name := column_name(tok) if quoted else tok if tok.isidentifier() else None):
            if name in cols:
                return None
            cols.append(name)
        else:
            return None
    return intercept, tuple(cols)


def _typed_text(col: Column) -> bool:
    """Whether a column holds strings in one of pandas' string arrays (ArrowDtype strings, or its
    StringDtype: what read_csv(dtype_backend=...) and convert_dtypes() give), which formulaic does
    not take as a factor (a Categorical is not one)."""
    dtype = getattr(col, "dtype", None)
    return isinstance(dtype, pd.StringDtype) or (
        isinstance(dtype, pd.ArrowDtype) and pd.api.types.is_string_dtype(dtype)
    )


def _default_text(col: Column) -> bool:
    """Whether a column holds pandas' default strings from 3.0 (``str``: a `pd.StringDtype` whose
    missing value is NaN), which formulaic reads as a factor as it reads Python strings.

    Examples
    --------
    >>> _default_text(pd.array(["a", "b"], dtype=pd.StringDtype(na_value=np.nan)))
    True
    >>> _default_text(pd.array(["a", "b"], dtype="string")), _default_text(np.array(["a"], dtype=object))
    (False, False)
    """
    dtype = getattr(col, "dtype", None)
    return isinstance(dtype, pd.StringDtype) and dtype.na_value is np.nan


def _warn_numbers_as_text(data: _Columns, columns: Iterable[str]) -> None:
    """A `MixedModelsWarning` for each object column of the fixed part or a term whose values are all
    numbers, or numbers and strings of numbers (Decimals, a float column with one "1.5" in it): it
    is read as a factor, as R reads a character column, which is rarely what such a column means
    (a "60 observations leave 0 residual degrees of freedom" error had been the only hint)."""
    for c in columns:
        col = data[c]
        if col.dtype != object:
            continue
        values = pd.unique(pd.Series(col).dropna())
        if len(values) < 3 or any(isinstance(v, (bool, np.bool_)) for v in values):
            continue
        if all(isinstance(v, str) for v in values):  # labels that read as numbers ("308"): text on purpose
            continue
        numbers = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce")
        if numbers.notna().all():
            warn(
                f"column {c!r} holds numbers as Python objects (dtype object): it is read as a factor of "
                f"{len(values)} levels; convert it (data[{c!r}] = pd.to_numeric(data[{c!r}])) to use it as a number",
                MixedModelsWarning,
            )


def _warn_case_order(data: _Columns, columns: Iterable[str]) -> None:
    """A `MixedModelsWarning` for each column of strings (not a Categorical) used as a factor of the
    fixed or random effects whose labels mix case so that their order here (code points, R's with
    ``LC_COLLATE=C``) is not the order R gives them in the usual UTF-8 locales (case ignored, then
    lower case first: ``alpha`` < ``Beta`` < ``Gamma``): the reference level, and with it every
    treatment contrast, would differ from R's without a word."""
    for c in columns:
        col = data[c]
        if not (col.dtype == object or _typed_text(col)):
            continue
        labels = [v for v in pd.unique(pd.Series(col).dropna()) if isinstance(v, str)]
        if len(labels) < 2 or all(v == v.casefold() for v in labels) or all(v == v.upper() for v in labels):
            continue
        here = sorted(labels)
        r_order = sorted(labels, key=lambda v: (v.casefold(), v.swapcase()))
        if here != r_order:
            shown = ", ".join(map(repr, here[:4])) + (", ..." if len(here) > 4 else "")
            warn(
                f"the levels of {c!r} are ordered by code point ({shown}; reference level {here[0]!r}); R in a "
                f"UTF-8 locale orders them ignoring case (reference level {r_order[0]!r}), so the contrasts differ "
                "from R's: pass a pandas Categorical to choose the order",
                MixedModelsWarning,
            )


def _plain_terms(
    spec_text: str, data: _Columns, logical: Iterable[str] = (), text: bool = False
) -> tuple[bool, tuple[str, ...], dict[str, tuple[str, ...] | None]] | None:
    """`plain_terms` when every name is a numeric (non-boolean) column or, after an intercept, an
    unordered categorical of two or more levels labelled by strings or integers (not a logical
    one): formulaic's model matrix is then those columns, and treatment contrasts of the
    categoricals, in the formula's order; with each name's keys of those contrasts
    (`_treatment_keys`; None for a numeric column). Else None (formulaic builds it). ``text``: a
    column of pandas' default strings counts as the Categorical formulaic makes of it (its levels
    those of these rows: not for a streamed chunk, whose levels formulaic replays)."""
    plain = plain_terms(spec_text)
    if plain is None:
        return None
    logical = set(logical)
    keys_of: dict[str, tuple[str, ...] | None] = {}
    for tok in plain[1]:
        if tok not in data.columns:
            return None
        col = data[tok]
        dtype = col.dtype
        if isinstance(dtype, np.dtype) and dtype.kind in "iuf":
            keys_of[tok] = None
            continue
        if text and plain[0] and tok not in logical and _default_text(col):
            # pandas' default strings (read_csv's from pandas 3): formulaic codes them as the
            # Categorical of their sorted distinct values, which is built here at hash speed
            col = data.recode(tok, _text_categorical(col))
        keys = _treatment_keys(tok, col) if plain[0] and tok not in logical else None
        if keys is None:
            return None  # bool, strings, nullable and other extension types: formulaic decides
        keys_of[tok] = keys
    return plain[0], plain[1], keys_of


def _text_categorical(col: Column) -> Column:
    """The Categorical formulaic makes of a column of strings without missing values: its sorted
    distinct values as categories (`sorted_factorize`); the column itself where a value is missing.

    Examples
    --------
    >>> _text_categorical(pd.array(["b", "a", "b"], dtype=pd.StringDtype(na_value=np.nan)))
    ['b', 'a', 'b']
    Categories (2, object): ['a', 'b']
    """
    if bool(pd.isna(col).any()):
        return col
    uniq, codes = sorted_factorize(col)
    return pd.Categorical.from_codes(codes.astype(np.int32), categories=pd.Index(uniq, dtype=object))


def _treatment_keys(name: str, col: Column) -> tuple[str, ...] | None:
    """formulaic's keys (``f[T.b]``) of the treatment contrasts of an unordered categorical with at
    least two levels, all strings or all integers; else None.

    Examples
    --------
    >>> _treatment_keys("f", pd.Categorical(["a", "b", "c"]))
    ('f[T.b]', 'f[T.c]')
    >>> _treatment_keys("f", pd.Categorical([1.5, 2.5])), _treatment_keys("f", np.array([1.0]))
    (None, None)
    """
    if not isinstance(col, pd.Categorical) or col.ordered or len(col.categories) < 2:
        return None
    cats = col.categories
    if cats.dtype.kind in "iu":
        labels = [str(int(v)) for v in cats]
    elif all(type(v) is str for v in cats):
        labels = list(cats)
    else:
        return None
    return tuple(f"{name}[T.{lab}]" for lab in labels[1:])


class LazySpec:
    """formulaic's ModelSpec of a plain right-hand side, built from the data when first needed
    (predictions on new data, type III contrasts): a fit does not need it."""

    def __init__(self, spec_text: str, data: pd.DataFrame) -> None:
        self._text = spec_text
        self._data = data
        self._spec: Any = None

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if self._spec is None:
            self._spec = formulaic.model_matrix(self._text, self._data, na_action="ignore").model_spec
        return getattr(self._spec, name)


@functools.lru_cache(maxsize=256)
def _required(text: str) -> frozenset[str]:
    """The variables formulaic finds in a trusted formula (it parses, evaluates nothing)."""
    try:
        formula = formulaic.Formula(text)
        return frozenset(formula.required_variables) | _read_by_calls(formula)
    except Exception as exc:
        raise FormulaError(f"cannot parse {text!r}: {exc}") from exc


def _read_by_calls(formula: Any) -> frozenset[str]:
    """The names read by Python factors such as ``poly(x, 2)`` or ``scale(x)``: formulaic 1.2's
    ``required_variables`` leaves out everything inside a stateful transform (it evaluates the
    call's arguments without the data, fails and drops the factor), so that ``x`` would be neither
    read from files nor checked for missing values."""
    out: set[str] = set()
    for part in (formula.lhs, formula.rhs) if hasattr(formula, "rhs") else (formula,):
        for term in part:
            for factor in term.factors:
                if factor.eval_method is not factor.EvalMethod.PYTHON:
                    continue
                try:
                    tree = ast.parse(factor.expr, mode="eval")
                except SyntaxError:  # formulaic's own answer stands
                    continue
                called = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
                roots = set()
                for node in ast.walk(tree):
                    if id(node) in called:
                        while isinstance(node, ast.Attribute):
                            node = node.value
                        roots.add(id(node))
                out |= {
                    n.id
                    for n in ast.walk(tree)
                    if isinstance(n, ast.Name) and id(n) not in roots and n.id not in TRANSFORMS
                }
    return frozenset(out)


def used_columns(pf: ParsedFormula) -> set[str]:
    """The data columns a parsed formula needs, inside function calls too (``scale(x)``,
    ``poly(x, 2)``): the vetted formula's names that are not functions.

    Examples
    --------
    >>> sorted(used_columns(parse_formula("y ~ x + log(w) + poly(v, 2) + (1 + z | a/b)")))
    ['a', 'b', 'v', 'w', 'x', 'y', 'z']
    """
    if pf.variables is not None:
        return set(pf.variables)
    used = set(_required(f"{pf.response} ~ {pf.fixed}"))
    for t in pf.random:
        used |= _required(t.lhs)
        used |= set(t.factors)
    return used


@dataclass
class _TermRows:
    """One random-effects term as materialised: its symbolic term, levels, codes, columns and spec."""

    term: Term
    levels: NDArray[np.object_]
    codes: NDArray[np.int32]
    z: NDArray[np.float64]
    spec: Any
    keys: LevelKeys | None = None


def _parts(
    formula: str,
    response: str,
    fixed_names: tuple[str, ...],
    y: NDArray[np.float64],
    x: NDArray[np.float64],
    raw: list[_TermRows],
    index: pd.Index,
    encode: Callable[[tuple[Any, ...]], Encoding],
    fixed_keys: tuple[str, ...] = (),
) -> tuple[ModelStructure, Rows]:
    """The structure (terms in lme4's order, factors) and the rows (per factor codes and columns);
    ``encode`` makes the encoding from the terms' specs in lme4's order."""
    terms, factors, layout, order = assemble([r.term for r in raw], [r.levels for r in raw], [r.keys for r in raw])
    raw = [raw[i] for i in order]
    codes, zs = [], []
    for f in factors:
        parts = [raw[i].z for i in f.terms]
        codes.append(np.ascontiguousarray(raw[f.terms[0]].codes, dtype=np.int32))
        zs.append(np.ascontiguousarray(parts[0] if len(parts) == 1 else np.column_stack(parts), dtype=np.float64))
    rows = Rows(y=y, x=np.ascontiguousarray(x), codes=tuple(codes), z=tuple(zs), index=index)
    structure = ModelStructure(
        formula=formula,
        response=response,
        fixed_names=fixed_names,
        dropped_fixed=(),
        terms=terms,
        factors=factors,
        theta=layout,
        encoding=encode(tuple(r.spec for r in raw)),
        fixed_keys=fixed_keys,
    )
    return structure, rows


def materialise(
    formula: str | ParsedFormula,
    data: pd.DataFrame,
    *,
    levels: Mapping[str, Sequence[Any]] | None = None,
    transforms: TransformReplay | None = None,
    trusted: bool = False,
    weights: str | ArrayLike | None = None,
    offset: str | ArrayLike | None = None,
    row_positions: int | NDArray[np.int64] | None = None,
    chunk: bool = False,
) -> tuple[ModelStructure, FrameData]:
    """A parsed formula on a data frame: the model's structure and its rows.

    ``weights`` and ``offset`` (a column's name or one value per row of ``data``) are lme4's prior
    weights and offset argument; ``offset(...)`` terms of the formula are added to the offset, and
    a response ``cbind(successes, failures)`` becomes the proportion of successes with the number
    of trials as prior weights (times ``weights``), as R's ``glm`` codes it.

    Rows with a missing value in any used column (inside function calls too) are dropped (as R's
    ``na.omit``). ``levels`` fixes the levels of some columns beforehand (streamed data: the levels
    seen in a first pass), unused ones kept. ``transforms`` (streamed data) replays the state of
    stateful transforms such as ``poly(x, 2)`` learned over all chunks, or evaluates them with the
    recorders that learn it.

    A logical column (numpy or pandas ``boolean`` or Arrow booleans) is R's factor with levels
    ``FALSE`` < ``TRUE`` (the column ``bTRUE``), but for the response and where arithmetic or a
    function reads it (``I(b * x)``, ``exp(b)``: 0/1, as in R); one used both ways is an error.

    ``chunk``: ``data`` is one chunk of streamed data, whose categories made in the formula may be
    fewer than all the data's (a factor of one level there is not refused: the stream compares each
    chunk's columns with the prototype's, and names what changed).

    Errors about a row (a non-finite value, a negative weight) name its position in ``data``
    (0-based; with its index label when the index is not the plain ``0, 1, ...``);
    ``row_positions`` (streamed data) gives the first row's position in all the data, or each
    row's (-1: unknown), which they name instead.

    The formula's code is vetted before anything evaluates it (`formula.parse_formula`) and
    evaluated with only the function table of `expressions`. ``trusted=True`` (or a formula parsed
    with it) hands the formula to formulaic as written: evaluating it **runs arbitrary Python code**,
    so use it only for formulas you wrote yourself.

    Examples
    --------
    >>> import mixedmodels as mm
    >>> s, d = materialise("Reaction ~ Days + (Days | Subject)", mm.datasets.load("sleepstudy"))
    >>> s.fixed_names, s.theta.names, d.rows("").nobs
    (('(Intercept)', 'Days'), ('Subject.(Intercept)', 'Subject.Days.(Intercept)', 'Subject.Days'), 180)
    """
    pf = parse_formula(formula, trusted=trusted)
    if not isinstance(data, pd.DataFrame):
        raise DataError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    if data.shape[0] == 0:
        raise DataError("the data frame has no rows")
    if isinstance(data.columns, pd.MultiIndex):
        raise DataError(
            "the data frame's columns are a MultiIndex (levels of names); a formula names single columns: "
            "flatten them first (data.columns = ['_'.join(map(str, c)) for c in data.columns])"
        )
    if not pf.random:
        raise FormulaError(
            f"the formula {pf.text!r} has no random-effects term such as (1 | g); "
            "for a model without random effects use ordinary least squares"
        )
    if levels is not None and transforms is None and pf.data_dependent:  # chunks, no state learned over all
        calls = ", ".join(f"{f}()" for f in sorted(pf.data_dependent))
        raise FormulaError(
            f"{calls} in {pf.text!r} depends on all the rows, which data read in chunks does not "
            "give at once: compute the column beforehand (or use poly(x, d, raw = TRUE))"
        )
    used = used_columns(pf)
    if pf.trusted:  # formulaic's guess at the names of arbitrary code: the columns among them
        used = {v for v in used if v in data.columns}
    called = called_functions(pf.text) if not pf.trusted else frozenset()
    if clash := sorted(called & used):
        raise FormulaError(
            f"the column {clash[0]!r} has the name of the function {clash[0]}() that the formula calls, which it "
            "would hide: rename the column"
        )
    # a column unused, but in the way of a function the formula calls (or of the translation's own calls)
    if hidden := (called | INTERNAL_CALLS) & {c for c in data.columns if isinstance(c, str)}:
        data = data[[c for c in data.columns if c not in hidden or c in (weights, offset)]]
    missing = sorted(v for v in used if v not in data.columns)
    if missing:
        unnamed = [c for c in data.columns if not isinstance(c, str) and str(c) in missing]
        if unnamed:  # (a formula names columns by strings: "did you mean '1'?" had been the hint)
            raise DataError(
                f"the data's column {unnamed[0]!r} has a name of type {type(unnamed[0]).__name__}, not a string: "
                "name the columns by strings (data.columns = data.columns.astype(str))"
            )
        hints = []
        for v in missing:
            close = difflib.get_close_matches(v, [str(c) for c in data.columns], n=3)
            hints.append(f"{v!r}" + (f" (did you mean {', '.join(map(repr, close))}?)" if close else ""))
            if v in FUNCTIONS:
                hints[-1] += f" ({v!r} is a function: call it, e.g. {v}(x))"
        raise FormulaError(f"the data has no column {', '.join(hints)}")
    if data.columns.is_unique:
        cols = sorted(used, key=lambda c: cast(int, data.columns.get_loc(c)))  # in the data's order
    else:
        twice = sorted({str(c) for c in data.columns[data.columns.duplicated()] if c in used})
        if twice:
            raise DataError(f"the data frame has more than one column named {', '.join(map(repr, twice))}")
        cols = [c for c in data.columns if c in used]
    dc = _Columns(data)
    complex_cols = [str(c) for c in cols if getattr(dc[c].dtype, "kind", "") == "c"]
    if complex_cols:  # numpy would drop the imaginary part with no more than a warning
        many = len(complex_cols) > 1
        raise DataError(
            f"column{'s' if many else ''} {', '.join(map(repr, complex_cols))} "
            f"{'have' if many else 'has'} complex values; a linear mixed model needs real "
            "numbers (take .real, .imag or abs() explicitly)"
        )
    own_levels = levels is None  # (streamed data: its first pass chose the levels, and warned)
    # a chunk of streamed data's first pass (its recorders): one chunk may lack levels all rows have
    recording = chunk or (transforms is not None and transforms.functions is not None)
    # streamed data's prototype: only the factors whose levels the first pass saw in all chunks are
    # refused (`_whole_factors`); one made in the formula from the first rows may lack levels later
    # ones have: the chunks' comparison with the prototype says so
    imposed = None
    if levels is not None:
        learned = (transforms.encoders or {}) if transforms is not None else {}
        imposed = _whole_factors(levels, learned, cols)
    try:
        effects = _required(pf.fixed).union(*(_required(t.lhs) for t in pf.random)) if not pf.trusted else frozenset()
    except FormulaError:  # what formulaic cannot read is reported when the model matrix is built
        effects = frozenset()
    if not pf.trusted and not recording:  # (a chunk's own calls would only be silenced)
        if own_levels:  # (streamed data: the first pass warns, from every chunk's levels)
            _warn_case_order(dc, [c for c in cols if c in effects])
        # streamed data: from the prototype's rows
        made = {
            c
            for c in cols
            if re.search(rf"\b(?:factor|as\.factor|ordered|C)\(\s*`?{re.escape(str(c))}`?\s*[,)]", pf.text)
        }
        _warn_numbers_as_text(dc, [c for c in cols if c in effects and c not in made])  # (factor(x): on purpose)
    w_all = _row_values(weights, data, "weights")
    o_all = _row_values(offset, data, "offset")
    complete = _complete_rows(dc, cols)
    for extra_values in (w_all, o_all):
        if extra_values is not None:
            complete &= ~np.isnan(extra_values)
    n_dropped = int((~complete).sum())
    if not complete.any():
        raise DataError(f"every row has a missing value in at least one of the columns {cols}")
    # the rows used; when all are, a shallow copy under pandas' copy-on-write (default from pandas 3)
    # keeps them from later edits of data at no cost
    learning = transforms is not None and transforms.functions is not None  # (a stream's first pass: no weights)
    if n_dropped and not pf.trusted and not learning:
        elsewhere = np.ones(len(data), dtype=bool)
        for extra_values in (w_all, o_all):
            if extra_values is not None:
                elsewhere &= ~np.isnan(extra_values)
        _refuse_decided_rows(pf, data[cols], elsewhere)
    if n_dropped and transforms is None and pf.data_dependent:
        # R evaluates scale(x), poly(x), bs(x), ... on every row (model.frame, before na.omit): their
        # centre, basis and knots come from all the rows where their own inputs have a value
        learned = transform_state(pf, data[cols])
        transforms = TransformReplay(state=learned) if learned else None
    if n_dropped or not _COPY_ON_WRITE:
        dc = _Columns(data.loc[complete, cols])
    else:  # the columns already looked up are those of the copy
        dc.frame = data.copy(deep=False)
    where = _RowNames(data.index, complete if n_dropped else None, row_positions)
    levels = levels or {}
    numeric_levels = {}  # a numeric grouping variable's imposed levels serve its grouping factor only
    logical = _logical_factors(pf, dc, cols)
    as_factors = _used_as_factors(pf) if levels else frozenset()
    for c in cols:
        col = dc[c]
        if c in effects and _typed_text(col) and not _default_text(col):
            # pandas' typed strings (read_csv(dtype_backend=...), convert_dtypes()) as the fixed part or a
            # term's variable: formulaic reads them as numbers (a bare ValueError); as Python strings they
            # are a factor (a grouping variable's stay typed: hashed as they are, `_as_factor`). pandas'
            # default strings from 3.0 (read_csv's) formulaic reads as a factor: the frame keeps them
            col = np.asarray(col.to_numpy(dtype=object))
            dc.replace(c, col)
        if c in logical:  # R's factor of a logical: levels FALSE < TRUE, both kept as R keeps them
            col = logical_factor(col, all_levels=True)
            if c not in levels:
                dc.replace(c, col)
                continue
        elif c in levels and is_logical(col):  # read as 0/1: the imposed levels serve its grouping factor only
            cat = logical_factor(col).set_categories(list(levels[c]))
            if (cat.codes < 0).any():
                raise DataError(f"column {c!r} has a value that the first pass over the data did not see")
            numeric_levels[c] = cat
            continue
        if c in levels:  # levels fixed beforehand (streamed data): impose them, keep unused ones
            if isinstance(col, pd.Categorical):
                cat = col.set_categories(list(levels[c]))
            else:
                cat = pd.Categorical(col, categories=levels[c])
            if (cat.codes < 0).any():
                raise DataError(f"column {c!r} has a value that the first pass over the data did not see")
            if not isinstance(col, pd.Categorical) and _is_number(col):
                numeric_levels[c] = cat  # the fixed part and the terms' columns see the numbers
            elif isinstance(col, pd.Categorical) or c in as_factors:
                dc.replace(c, cat)
            # (text only read in the formula's code, h == h2, stays text as in memory: categoricals of
            # other levels do not compare; a factor made of it has all chunks' levels, `stream`)
        elif isinstance(col, pd.Categorical):
            dropped_cats = _drop_unused(col)
            if dropped_cats is not col:
                dc.replace(c, dropped_cats)

    fixed_spec: Any
    prior = None if w_all is None else np.ascontiguousarray(w_all[complete])
    trials: NDArray[np.float64] | None = None
    if pf.counts is not None:  # cbind(successes, failures): proportions, trials as prior weights
        k = _column(pf.counts[0], dc, "the successes of cbind()", pf, transforms, where)
        rest = _column(pf.counts[1], dc, "the failures of cbind()", pf, transforms, where)
        for values, what in ((k, "successes"), (rest, "failures")):
            if (values < 0).any():
                i = int(np.argmax(values < 0))
                raise DataError(f"cbind({pf.counts[0]}, {pf.counts[1]}): negative {what} ({values[i]}) at {where(i)}")
        trials = k + rest
        y = np.divide(k, trials, out=np.zeros_like(k), where=trials != 0)
        prior = trials if prior is None else prior * trials
        x, fixed_keys, fixed_names, fixed_spec = _materialise(
            pf.fixed, dc, f"fixed-effects model matrix of {pf.text!r}", pf.numeric, pf.trusted, transforms, logical
        )
    elif pf.response in dc.columns:  # a plain column: no need to materialise it
        resp = dc[pf.response]
        dt = resp.dtype
        if not (isinstance(dt, np.dtype) and dt.kind in "iuf") and (
            not pd.api.types.is_numeric_dtype(dt) or pd.api.types.is_bool_dtype(dt)
        ):
            raise DataError(f"the response {pf.response!r} must be numeric, it has dtype {dt}")
        y = np.array(resp, dtype=np.float64)  # our own copy: the column's array may be the frame's memory
        x, fixed_keys, fixed_names, fixed_spec = _materialise(
            pf.fixed, dc, f"fixed-effects model matrix of {pf.text!r}", pf.numeric, pf.trusted, transforms, logical
        )
    else:
        extra = _stream_arguments(transforms)
        functions = extra.pop("context", None)
        try:
            mm = model_matrix(
                f"{NUMBER_CALL}({pf.response}) ~ {pf.fixed}",  # R evaluates the response as an expression
                dc.frame,
                pf.numeric,
                trusted=pf.trusted,
                functions=functions,
                na_action="ignore",
                **extra,
            )
        except FormulaError:
            raise
        except Exception as exc:
            raise _evaluation_error(f"the fixed-effects model matrix of {pf.text!r}", exc) from exc
        ymat = mm.lhs.to_numpy(dtype=np.float64)
        if ymat.ndim != 2 or ymat.shape[1] != 1:
            raise DataError(f"the response {pf.response!r} must be one numeric column")
        y = np.ascontiguousarray(ymat[:, 0])
        x = mm.rhs.to_numpy(dtype=np.float64)
        fixed_keys = tuple(mm.rhs.model_spec.column_names)
        rank = variable_rank(pf.fixed)
        fixed_names = _r_interaction_names(mm.rhs.model_spec, fixed_keys, tuple(r_name(c) for c in fixed_keys), rank)
        fixed_spec = SafeSpec(mm.rhs.model_spec, pf.numeric, pf.trusted, logical, ordered_levels(dc.frame), rank)
    if not recording:
        _refuse_one_level(fixed_spec, "the fixed part", imposed)
    _check_finite(y, pf.response, where)
    _check_finite_columns(x, fixed_names, where)
    fixed_names = _unique_names(fixed_names, fixed_keys, "fixed-effects columns")
    if own_levels and isinstance(fixed_spec, SafeSpec) and (otherwise := coded_otherwise(fixed_spec)):
        many = len(otherwise) > 1
        warn(
            f"the term{'s' if many else ''} {', '.join(otherwise)} lack{'' if many else 's'} "
            "a main effect of a factor in the formula: formulaic codes such a term otherwise than R's model.matrix. "
            "The fit, its predictions and its tests are R's (the same column space), but the coefficients named "
            "as R names them are not lme4's; add the main effects (or compare fitted values) to match R's",
            MixedModelsWarning,
        )
    total_offset = None if o_all is None else np.ascontiguousarray(o_all[complete])
    offset_specs = []
    for expr in pf.offsets:
        o, _, _, spec = _materialise(
            f"0 + {NUMBER_CALL}({expr})", dc, f"offset({expr})", pf.numeric, pf.trusted, transforms
        )
        _check_finite(o[:, 0], f"offset({expr})", where)
        total_offset = o[:, 0].copy() if total_offset is None else total_offset + o[:, 0]
        offset_specs.append(spec)
    if prior is not None:
        _check_finite(prior, "weights", where)
        if (prior < 0).any():
            i = int(np.argmax(prior < 0))
            raise DataError(f"weights must be >= 0 (> 0 for lmer; glmer takes 0): {where(i)} has weight {prior[i]}")
    if total_offset is not None:
        _check_finite(total_offset, "offset", where)

    groups = dc
    if numeric_levels:
        groups = _Columns(dc.frame)
        for c, cat in numeric_levels.items():
            groups.replace(c, cat)
    raw = []
    grouped: dict[str, tuple[NDArray[np.int32], ObjectArray, LevelKeys]] = {}
    for t in pf.random:
        z, keys, names, spec = _materialise(
            t.lhs,
            dc,
            f"random-effects columns of {t.source}",
            pf.numeric,
            pf.trusted,
            transforms,
            logical,
            built=(x, fixed_keys),
        )
        if not recording:
            _refuse_one_level(spec, t.source, imposed)
        if z.shape[1] == 0:
            raise FormulaError(f"the random-effects term {t.source} has no columns")
        _check_finite_columns(z, [f"{nm} in {t.source}" for nm in names], where)
        names = _unique_names(names, keys, f"the columns of {t.source}")
        if t.group not in grouped:
            if t.group in levels and len(t.factors) > 1:  # interaction levels fixed beforehand
                grouped[t.group] = _imposed_grouping(groups, t.factors, t.group, levels)
            else:
                grouped[t.group] = _grouping(groups, t.factors, t.group)
        codes, glevels, level_keys = grouped[t.group]
        raw.append(_TermRows(Term(t.group, t.factors, names, t.source), glevels, codes, z, spec, level_keys))
        if not recording:  # (streamed data: from the prototype)
            _warn_repeated_columns(raw)
    structure, rows = _parts(
        pf.text,
        pf.response,
        fixed_names,
        y,
        x,
        raw,
        dc.frame.index,
        lambda specs: FormulaEncoding(fixed_spec, specs, tuple(offset_specs)),
        fixed_keys,
    )
    rows = replace(rows, weights=prior, offset=total_offset, trials=trials)
    return structure, FrameData(rows, dc.frame, n_dropped)


_ARITHMETIC = {ast.Add: np.add, ast.Sub: np.subtract, ast.Mult: np.multiply, ast.Div: np.divide}


def _arithmetic(expr: str, data: _Columns) -> NDArray[np.float64] | None:
    """The column ``0 + I(expr)`` without formulaic when expr is numeric (non-boolean) columns and
    numbers joined by ``+ - * /`` (``cbind(k, n - k)``): the same values, as formulaic evaluates
    them on the columns in double precision; else None.

    Examples
    --------
    >>> cols = _Columns(pd.DataFrame({"n": [5, 6], "k": [2.0, 3.0]}))
    >>> _arithmetic("n - k", cols).tolist(), _arithmetic("log(n)", cols)
    ([3.0, 3.0], None)
    """
    try:
        tree = ast.parse(expr.strip(), mode="eval").body
    except SyntaxError:
        return None

    def value(node: ast.AST) -> NDArray[np.float64] | float | None:
        if isinstance(node, ast.Name):
            if node.id not in data.columns:
                return None
            dtype = data[node.id].dtype
            if not isinstance(dtype, np.dtype) or dtype.kind not in "iuf":
                return None
            return np.asarray(data[node.id], dtype=np.float64)
        if isinstance(node, ast.Constant) and type(node.value) in (int, float):
            return float(cast(float, node.value))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            inner = value(node.operand)
            return None if inner is None else (-inner if isinstance(node.op, ast.USub) else inner)
        if isinstance(node, ast.BinOp) and type(node.op) in _ARITHMETIC:
            left, right = value(node.left), value(node.right)
            if left is None or right is None:
                return None
            with np.errstate(all="ignore"):  # infinities and NaN are named by the finiteness check
                return cast(NDArray[np.float64] | float, _ARITHMETIC[type(node.op)](left, right))
        return None

    out = value(tree)
    if out is None:
        return None
    return np.ascontiguousarray(np.broadcast_to(np.asarray(out, dtype=np.float64), (data.shape[0],)))


def _column(
    expr: str,
    data: _Columns,
    what: str,
    pf: ParsedFormula,
    transforms: TransformReplay | None,
    where: Callable[[int], str],
) -> NDArray[np.float64]:
    """One numeric column of an expression (``0 + I(expr)``), checked finite."""
    out = _arithmetic(expr, data)
    if out is None:
        v, _, _, _ = _materialise(f"0 + {NUMBER_CALL}({expr})", data, what, pf.numeric, pf.trusted, transforms)
        if v.shape[1] != 1:
            raise FormulaError(f"{what} must be one numeric column")
        out = np.ascontiguousarray(v[:, 0])
    _check_finite(out, what, where)
    return out


def _warn_repeated_columns(raw: Sequence[_TermRows]) -> None:
    """A `MixedModelsWarning` where the last term's column is also a column of an earlier term of
    the same grouping factor (``(1 | g) + (1 | g)``, ``(1 | g) + (1 + x | g)``): only the sum of
    the two variances is identified, so their split is arbitrary (lme4 says only that the model is
    nearly unidentifiable, from its Hessian)."""
    last = raw[-1]
    for earlier in raw[:-1]:
        if earlier.term.group != last.term.group:
            continue
        both = [n for n in last.term.columns if n in earlier.term.columns]
        if both:
            warn(
                f"the column {both[0]!r} of grouping factor {last.term.group!r} is in two random-effects terms, "
                f"{earlier.term.source} and {last.term.source}: only the sum of their variances is identified, "
                "so how it is split between them is arbitrary; write the column in one term",
                MixedModelsWarning,
            )
            return


def _whole_factors(levels: Mapping[str, Any], learned: Mapping[str, Any], cols: Sequence[str]) -> Callable[[str], bool]:
    """Whether a streamed prototype's factor of one level has one in all rows (see
    `_refuse_one_level`): a column whose levels the first pass imposed, a categorical made in the
    formula whose categories the first pass learned over all chunks (``learned``, the replay's
    encoders), or one made of columns with imposed levels alone, each of one level in all rows.

    Examples
    --------
    >>> whole = _whole_factors({"h": ["a"], "s": ["u", "v"]}, {"factor(k)": None}, ["h", "k", "s", "x"])
    >>> whole("h"), whole("C(h)"), whole("factor(k)"), whole("factor(s)"), whole("factor(x)")
    (True, True, True, False, False)
    """

    def whole(expr: str) -> bool:
        if expr in levels or expr in learned:
            return True
        read = expression_names(expr) & set(cols)
        return bool(read) and all(c in levels and len(levels[c]) < 2 for c in read)

    return whole


def _refuse_one_level(spec: Any, where: str, only: Callable[[str], bool] | None = None) -> None:
    """A `DataError` for a factor of one level in the rows used (a column, ``factor(k)``), as R's
    model.matrix refuses it ("contrasts can be applied only to factors with 2 or more levels"):
    under treatment contrasts it has no column, and it had left the model without a word
    (``mAch ~ ses + sector`` on one sector's schools). A logical factor keeps both levels
    (`expressions.logical_factor`), as R's, so it is never refused here. ``only``: which factors to
    check (streamed data's prototype: those whose categories are all the rows', `_whole_factors`)."""
    state = getattr(spec, "encoder_state", None) if isinstance(spec, SafeSpec) else None
    for expr, (kind, enc) in (state or {}).items():
        cats = enc.get("categories") if isinstance(enc, Mapping) else None
        if only is not None and not only(expr):
            continue
        if getattr(kind, "value", None) == "categorical" and cats is not None and len(cats) < 2:
            level = f" ({level_label(cats[0])!r})" if cats else ""
            raise DataError(
                f"the factor {r_name(expr)!r} of {where} has one level in the rows used{level}; a factor needs two "
                "or more (R: contrasts can be applied only to factors with 2 or more levels): leave it out of the "
                "formula, or check which rows were dropped for missing values"
            )


def _row_values(value: str | ArrayLike | None, data: pd.DataFrame, what: str) -> NDArray[np.float64] | None:
    """The ``weights`` or ``offset`` argument as one float per row of ``data`` (NaN where missing):
    a column's name or an array."""
    if value is None:
        return None
    if isinstance(value, str):
        if value not in data.columns:
            raise DataError(f"{what}={value!r}: the data has no column {value!r}")
        value = data[value]
    elif isinstance(value, pd.Series) and not value.index.equals(data.index) and not data.attrs.get(UNLABELLED_ROWS):
        # a Series had been read by position: one whose index is the rows in another order had given
        # each row another row's weight without a word. Against data given without row labels (a dict,
        # an Arrow or polars table) position is all there is; against a frame's own labels it is
        # refused, as aligning by label would be wrong after a reset_index
        raise DataError(
            f"{what} is a pandas Series whose index is not the data's row labels: align it to the rows "
            f"({what}=s.reindex(data.index)) or pass s.to_numpy() to take it by position"
        )
    try:
        out = np.asarray(pd.to_numeric(pd.Series(np.asarray(value).ravel()), errors="raise"), dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{what} must be numbers, one per row of the data: {exc}") from exc
    if np.ndim(value) != 1 or out.shape[0] != data.shape[0]:
        raise DataError(
            f"{what} must have one value per row of the data ({data.shape[0]}), got shape {np.shape(value)}"
        )
    return out


def transform_state(
    formula: ParsedFormula, frame: pd.DataFrame, functions: Mapping[str, Callable[..., Any]] | None = None
) -> dict[str, Any]:
    """formulaic's state of the formula's stateful calls (``scale(x)``, ``poly(x, 2)``, ``bs(x)``:
    their centre, basis, knots) learned from every row of ``frame``, missing values in other columns
    included, as R's ``model.frame`` evaluates them before ``na.omit``; each call ignores the rows
    where its own input is missing. ``functions`` replaces table entries (the recorders of streamed
    data's first pass). Empty when the formula cannot be evaluated on those rows (the fit then
    learns from the complete rows).

    Examples
    --------
    >>> frame = pd.DataFrame({"y": [1.0, 2.0, np.nan, 4.0], "x": [1.0, 2.0, 3.0, 6.0]})
    >>> transform_state(parse_formula("y ~ scale(x) + (1 | g)"), frame)["scale(x)"]["center"]
    np.float64(3.0)
    """
    pf = formula
    states: dict[str, Any] = {}
    for text in _model_frame_texts(pf, frame):
        try:
            with all_rows():  # (a comparison is missing where its operands are, as in R's model frame)
                mm = model_matrix(text, frame, pf.numeric, trusted=pf.trusted, functions=functions, na_action="ignore")
        except Exception:  # noqa: BLE001 (the fit reports the error, if any, on the complete rows)
            return {}
        specs = (mm.lhs.model_spec, mm.rhs.model_spec) if hasattr(mm, "rhs") else (mm.model_spec,)
        for spec in specs:
            for call, state in spec.transform_state.items():
                if state:
                    states.setdefault(call, state)
    return states


def _model_frame_texts(pf: ParsedFormula, frame: pd.DataFrame) -> list[str]:
    """The texts whose model matrices hold what R's model frame evaluates: the response and fixed
    part, each random-effects term's left-hand side, each offset."""
    texts = [pf.fixed if pf.response in frame.columns or pf.counts else f"{NUMBER_CALL}({pf.response}) ~ {pf.fixed}"]
    texts += [t.lhs for t in pf.random]
    texts += [f"0 + {NUMBER_CALL}({expr})" for expr in pf.offsets]  # (offset(scale(x)): R's centre too)
    return texts


def _refuse_decided_rows(pf: ParsedFormula, frame: pd.DataFrame, complete_elsewhere: NDArray[np.bool_]) -> None:
    """A `DataError` where R's ``&`` or ``|`` decides a row whose variable is missing (NA & FALSE is
    FALSE) and that row has every other value R's model frame holds (``complete_elsewhere``: its
    weights and offset; each column that the formula reads outside a logical operator, the response
    and the grouping factors; each term's outermost operator not missing): R keeps that row, where
    the fit drops every row with a missing value."""
    texts = _model_frame_texts(pf, frame)
    if not any("_and(" in t or "_or(" in t for t in texts):
        return
    inside, outside = _logic_spans(" ".join(texts))
    groups = {f for t in pf.random for f in t.factors} | {pf.response}  # (read outside any operator)
    only_inside = [
        c for c in frame.columns if c not in groups and _reads(inside, str(c)) and not _reads(outside, str(c))
    ]
    if not only_inside:
        return
    # rows R keeps and the fit drops: a value missing only where R's operators read it, every other
    # value there, and no term's operator left missing by it
    others = [c for c in frame.columns if c not in only_inside]
    kept = complete_elsewhere & _complete_rows(_Columns(frame), others)
    kept &= ~_complete_rows(_Columns(frame), only_inside)
    for text in texts:
        with all_rows(), decided_rows() as found:
            try:
                model_matrix(text, frame, pf.numeric, trusted=pf.trusted, na_action="ignore")
            except Exception:  # noqa: BLE001 (the fit reports the error, if any, on the complete rows)
                return
        kept &= ~found.missing_results(len(frame))
    n = int(kept.sum())
    if n:
        raise DataError(
            f"{n} rows have a missing value that R's & or | decides (NA & FALSE is FALSE, NA | TRUE is TRUE) and "
            "every other value: R keeps those rows, mixedmodels drops every row with a missing value; fill in or "
            "drop the missing values first"
        )


def _logic_spans(text: str) -> tuple[str, str]:
    """(the text of the calls of R's logical operators in ``text``, the rest)."""
    inside, outside, at = [], [], 0
    for m in re.finditer(r"(?<![\w.])_(?:and|or|not)\(", text):
        if m.start() < at:
            continue  # (inside a call already taken)
        j = call_end(text, m.end() - 1)
        j = len(text) - 1 if j < 0 else j
        outside.append(text[at : m.start()])
        inside.append(text[m.start() : j + 1])
        at = j + 1
    outside.append(text[at:])
    return " ".join(inside), " ".join(outside)


def _reads(text: str, name: str) -> bool:
    """Whether formulaic's ``text`` reads the column ``name`` (bare or backticked)."""
    return re.search(rf"(?<![\w.`]){re.escape(name)}(?![\w.`])|`{re.escape(name)}`", text) is not None


def _is_number(col: Column) -> bool:
    """A column of numbers (not booleans): formulaic makes it a numeric column, not a factor."""
    dtype = col.dtype
    return bool(pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype))


def _position(i: int) -> str:
    """How errors name row i of arrays (`from_arrays`)."""
    return f"row position {i}"


def _sums_finite(a: NDArray[np.float64]) -> bool:
    """Whether a's sum is finite: then so is every value (a NaN or an infinity makes it non-finite,
    as can finite values too large, which the per-value search then passes)."""
    with np.errstate(over="ignore", invalid="ignore"):  # (inf - inf, or finite values whose sum overflows)
        return bool(np.isfinite(np.sum(a)))


def _check_finite_columns(
    x: NDArray[np.float64], names: Sequence[str], where: Callable[[int], str] = _position
) -> None:
    """`_check_finite` for each column of x (one sum over x when all are finite: `_sums_finite`)."""
    if not _sums_finite(x):
        for j, nm in enumerate(names):
            _check_finite(x[:, j], nm, where)


def _check_finite(v: NDArray[np.float64], name: str, where: Callable[[int], str] = _position) -> None:
    """A `DataError` naming the first row (``where``) where v is not finite, if any."""
    if _sums_finite(v):
        return
    bad = ~np.isfinite(v)
    if bad.any():
        i = int(np.argmax(bad))
        # a streamed chunk's count is a lower bound for the data's
        count = f"at least {int(bad.sum())}" if isinstance(where, _RowNames) and where.chunked else str(int(bad.sum()))
        raise DataError(f"{name!r} has {count} non-finite values (first at {where(i)}: {v[i]})")


class _RowNames:
    """How errors name the i-th row used (rows with a missing value dropped) of a data frame: by
    its position in the frame as given (0-based), with its index label unless the index is the plain
    ``0, 1, ...``; for streamed data (``positions``: the frame's first row's position in all the
    data, or each row's, -1 when unknown), by its position counted across all chunks."""

    def __init__(self, index: pd.Index, kept: NDArray[np.bool_] | None, positions: int | NDArray[np.int64] | None):
        self._index = index
        self._kept = kept
        self._positions = positions
        self.chunked = positions is not None  # one chunk of streamed data

    def __call__(self, i: int) -> str:
        p = i if self._kept is None else int(np.flatnonzero(self._kept)[i])
        label = self._index[p]
        label = label.item() if isinstance(label, np.generic) else label
        if self._positions is not None:
            q = self._positions + p if isinstance(self._positions, int) else int(self._positions[p])
            if q >= 0:
                return f"row position {q} of the data (0-based, counted across all chunks)"
            return f"the row with index label {label!r} of the data"
        plain = isinstance(self._index, pd.RangeIndex) and self._index.start == 0 and self._index.step == 1
        return f"row position {p} (0-based" + (")" if plain else f"; index label {label!r})")


def _logical_factors(pf: ParsedFormula, data: _Columns, cols: Sequence[str]) -> frozenset[str]:
    """The logical columns (`expressions.is_logical`) the formula uses as factors: as R's model
    matrix does, all but the response and those that arithmetic or a function reads as numbers
    (``I(b * x)``, ``exp(b)``: 0/1). A column used both bare and as a number is a `FormulaError`:
    R codes the two differently (``bTRUE`` and 0/1), and one frame column cannot be both."""
    candidates = [c for c in cols if c != pf.response and is_logical(data[c])]
    if not candidates:
        return frozenset()
    texts = (pf.fixed, *(t.lhs for t in pf.random))
    bare = set().union(*(_factor_names(t)[0] for t in texts))
    numeric = set(pf.numeric) if not pf.trusted else set().union(*(_factor_names(t)[1] for t in texts))
    both = sorted(c for c in candidates if c in numeric and c in bare)
    if both:
        b = both[0]
        raise FormulaError(
            f"the logical column {b!r} is used both as a term (R's factor: {b}TRUE) and as a number "
            f"(0/1, in arithmetic or a function) in {pf.text!r}: one column cannot be coded both ways here; "
            f"give the data a numeric copy for the arithmetic (e.g. data['{b}01'] = data['{b}'].astype(float)) "
            f"and use it there"
        )
    return frozenset(c for c in candidates if c not in numeric)


def _evaluation_error(what: str, exc: Exception) -> DataError | FormulaError:
    """The error for a model matrix that formulaic could not build: a `DataError` the formula's own
    functions raised (formulaic wraps it), else a `FormulaError` naming ``what`` failed, the
    translation's own calls written as R's code (`names.drop_internal_calls`)."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, DataError):
            return DataError(str(cause))
        cause = cause.__cause__ or cause.__context__
    return FormulaError(f"cannot build {what}: {drop_internal_calls(str(exc))}")


def _used_as_factors(pf: ParsedFormula) -> frozenset[str]:
    """The columns the formula uses as factors themselves: bare in a term (``h``, ``h:x``, formulaic
    looks them up) or in a grouping factor (``(1 | h)``, ``(1 | g/h)``), not only read in code.

    Examples
    --------
    >>> sorted(_used_as_factors(parse_formula("y ~ h + factor(k) + (h2 == 'a') + (1 | g/s)")))
    ['g', 'h', 's']
    """
    texts = (pf.fixed, *(t.lhs for t in pf.random))
    return frozenset().union(*(_factor_names(t)[0] for t in texts), *(t.factors for t in pf.random))


@functools.lru_cache(maxsize=256)
def _factor_names(text: str) -> tuple[frozenset[str], frozenset[str]]:
    """The names a right-hand side uses bare (formulaic looks them up as columns) and those read in
    its code (``I(b * x)``, ``factor(b)``), as formulaic parses it (nothing evaluated)."""
    try:
        formula = formulaic.Formula(text)
    except Exception:  # noqa: BLE001 (the fit reports what is wrong with the formula)
        return frozenset(), frozenset()
    bare: set[str] = set()
    read: set[str] = set()
    for term in formula:
        for factor in term.factors:
            if factor.eval_method is factor.EvalMethod.LOOKUP:
                bare.add(str(factor.expr))
            elif factor.eval_method is factor.EvalMethod.PYTHON:
                try:
                    tree = ast.parse(str(factor.expr), mode="eval")
                except SyntaxError:
                    continue
                read |= {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    return frozenset(bare), frozenset(read)


def _complete_rows(data: _Columns, cols: list[str]) -> np.ndarray:
    """Rows with a value in every one of cols (column by column: cheaper than a frame-wide notna)."""
    ok = np.ones(data.shape[0], dtype=bool)
    for c in cols:
        col = data[c]
        if isinstance(col, np.ndarray):
            if col.dtype.kind == "f":
                ok &= ~np.isnan(col)
            elif col.dtype.kind not in "iub":  # numpy integer and boolean columns hold no missing value
                ok &= ~pd.isna(col)
        elif isinstance(col, pd.Categorical):
            ok &= col.codes >= 0
        else:
            ok &= ~np.asarray(pd.isna(col), dtype=bool)
    return ok


@dataclass(frozen=True)
class GroupTerm:
    """One random-effects term for `fit_arrays`: a grouping factor's codes and the term's columns.

    Parameters
    ----------
    group : str
        Name of the grouping factor. Terms with the same name share the factor, so they must have
        the same codes (and level labels).
    codes : array of int
        Level of each observation: integers from 0 to 2**31 - 1 (floats with whole values are
        taken too). They need not be consecutive: only the codes that occur become levels, in
        increasing order.
    z : array (n, k) or (n,)
        The term's model columns (a column of ones for a random intercept).
    columns : sequence of str
        Names of the k columns (one name may be given as a string).
    levels : sequence of str, optional
        Level labels, indexed by code (default: each code as a string).

    Examples
    --------
    >>> t = GroupTerm("g", np.array([0, 0, 5, 5]), np.ones(4), ("(Intercept)",))
    >>> t.group, t.columns
    ('g', ('(Intercept)',))
    """

    group: str
    codes: np.ndarray
    z: np.ndarray
    columns: tuple[str, ...]
    levels: tuple[str, ...] | None = None


MAX_CODE = 2**31 - 1  # codes are int32 in the core
_COMPLEX_HINT = "a linear mixed model needs real numbers (take .real, .imag or abs() explicitly)"


def _real_array(a: ArrayLike, what: str) -> NDArray[np.float64]:
    """``a`` as float64 (C order): numbers only, complex ones refused (numpy would drop their
    imaginary part with no more than a warning)."""
    arr = np.asarray(a)
    if np.iscomplexobj(arr):
        raise DataError(f"{what} has complex values; {_COMPLEX_HINT}")
    try:
        return np.ascontiguousarray(arr, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{what} must be numeric (dtype {arr.dtype}): {exc}") from exc


def _names(names: Sequence[str] | str) -> tuple[str, ...]:
    """Column names: one name given as a string is one name, not its characters."""
    return (names,) if isinstance(names, str) else tuple(str(nm) for nm in names)


def _dense_codes(codes: NDArray[Any], group: str) -> tuple[NDArray[np.int32], NDArray[np.int64]]:
    """The codes of a term recoded to 0 .. nlevels-1 (the codes that occur, in increasing order) and
    those codes; codes that are missing, negative, not whole numbers or 2**31 or more are refused."""
    kind = codes.dtype.kind
    if kind == "f":
        bad = np.flatnonzero(~np.isfinite(codes))
        if bad.size:
            raise DataError(
                f"codes of {group!r} have {bad.size} missing or non-finite values "
                f"(first at row position {bad[0]}: {codes[bad[0]]}); drop those rows first"
            )
        frac = np.flatnonzero(codes != np.floor(codes))
        if frac.size:
            raise DataError(
                f"codes of {group!r} must be whole numbers; {frac.size} are not "
                f"(first at row position {frac[0]}: {codes[frac[0]]})"
            )
    elif kind not in "iu":
        raise DataError(
            f"codes of {group!r} must be integers, got dtype {codes.dtype} (labels can be coded with pandas.factorize)"
        )
    lo, hi = codes.min(), codes.max()
    if lo < 0:
        i = int(np.argmax(codes < 0))
        raise DataError(f"codes of {group!r} must be non-negative (first negative at row position {i}: {codes[i]})")
    if hi > MAX_CODE:
        i = int(np.argmax(codes > MAX_CODE))
        raise DataError(f"codes of {group!r} must be below 2**31 (first too large at row position {i}: {codes[i]})")
    ints = codes.astype(np.int64, copy=False)
    n = ints.shape[0]
    if hi < 4 * n + 1024:  # a count per possible code is cheap: no sort
        used = np.flatnonzero(np.bincount(ints, minlength=int(hi) + 1))
        if used.shape[0] == int(hi) + 1:
            return ints.astype(np.int32), used
        remap = np.full(int(hi) + 1, -1, dtype=np.int32)
        remap[used] = np.arange(used.shape[0], dtype=np.int32)
        return remap[ints], used
    used, inverse = np.unique(ints, return_inverse=True)  # few codes spread wide: no array per code
    return inverse.reshape(-1).astype(np.int32), used


def _term_levels(t: GroupTerm, used: NDArray[np.int64]) -> ObjectArray:
    """The labels of the codes that occur: the term's own (indexed by code) or the codes as strings."""
    if t.levels is None:
        return np.array([str(c) for c in used.tolist()], dtype=object)
    labels = list(t.levels)
    if len(labels) <= int(used[-1]):
        raise DataError(f"{len(labels)} level labels for codes up to {int(used[-1])} in {t.group!r}")
    out = np.array([labels[c] for c in used.tolist()], dtype=object)
    if len(set(out.tolist())) < len(out):
        raise DataError(f"the level labels of {t.group!r} repeat a label among the codes that occur")
    return out


def from_arrays(
    y: ArrayLike,
    x: ArrayLike,
    terms: Sequence[GroupTerm],
    *,
    fixed_names: Sequence[str] | None = None,
) -> tuple[ModelStructure, ArrayData]:
    """A model's structure and rows from arrays (the embedding API; no formula, no missing values).

    ``x`` may be one-dimensional (one column) or a data frame (its column names are the default
    ``fixed_names``). Every array must have the same number of rows (the error lists each one's),
    and values must be real and finite; see `GroupTerm` for the codes.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> g = np.repeat(np.arange(5), 4)
    >>> s, d = from_arrays(rng.normal(size=20), np.ones((20, 1)), [GroupTerm("g", g, np.ones(20), ("(Intercept)",))])
    >>> s.theta.names, [f.nlev for f in s.factors]
    (('g.(Intercept)',), [5])
    """
    if fixed_names is None and isinstance(x, pd.DataFrame):
        fixed_names = [str(c) for c in x.columns]
    y = _real_array(y, "y")
    if y.ndim != 1:
        raise DataError(f"y must be one-dimensional, got shape {y.shape}")
    x = _real_array(x, "X")
    if x.ndim == 1:  # one column, as statsmodels takes a one-dimensional exog
        x = x.reshape(-1, 1)
    if x.ndim != 2:
        raise DataError(f"X must be two-dimensional (n, p), got shape {x.shape}")
    terms = [terms] if isinstance(terms, GroupTerm) else list(terms)  # a generator is read once
    if not terms:
        raise DataError("at least one random-effects term is needed")
    for t in terms:
        if not isinstance(t, GroupTerm):
            raise DataError(f"terms must be GroupTerm objects, got {type(t).__name__}")
        if not isinstance(t.group, str):
            raise DataError(f"the group of a GroupTerm must be a name (str), got {t.group!r}")
    codes_in = [np.asarray(t.codes) for t in terms]
    zs = []
    for t in terms:
        z = _real_array(t.z, f"z of {t.group!r}")
        zs.append(z.reshape(-1, 1) if z.ndim == 1 else z)
    for t, c, z in zip(terms, codes_in, zs, strict=True):
        if c.ndim != 1:
            raise DataError(f"codes of {t.group!r} must be one-dimensional, got shape {c.shape}")
        if z.ndim != 2:
            raise DataError(f"z of {t.group!r} must be one- or two-dimensional, got shape {z.shape}")
    lengths = [("y", "values", y.shape[0]), ("X", "rows", x.shape[0])]
    for t, c, z in zip(terms, codes_in, zs, strict=True):
        lengths += [(f"codes of {t.group!r}", "values", c.shape[0]), (f"z of {t.group!r}", "rows", z.shape[0])]
    n = y.shape[0]
    if any(length != n for _, _, length in lengths):
        listed = "; ".join(f"{what}: {length} {unit}" for what, unit, length in lengths)
        raise DataError(f"the arrays must have one row per observation, but their lengths differ ({listed})")
    if n == 0:
        raise DataError("y has no observations")
    names = _names(fixed_names) if fixed_names is not None else tuple(f"x{j}" for j in range(x.shape[1]))
    if len(names) != x.shape[1]:
        raise DataError(f"{len(names)} fixed-effect names for {x.shape[1]} columns of X")
    if len(set(names)) < len(names):
        twice = sorted({nm for nm in names if names.count(nm) > 1})
        raise DataError(f"the fixed-effect names repeat {', '.join(map(repr, twice))}")
    _check_finite(y, "y")
    _check_finite_columns(x, names)
    raw = []
    seen: dict[str, tuple[NDArray[np.int32], ObjectArray]] = {}
    for t, c, z in zip(terms, codes_in, zs, strict=True):
        columns = _names(t.columns)
        if len(columns) != z.shape[1]:
            raise DataError(f"{len(columns)} column names for {z.shape[1]} columns of z in {t.group!r}")
        _check_finite_columns(z, [f"{nm} of {t.group}" for nm in columns])
        codes, used = _dense_codes(c, t.group)
        levels = _term_levels(t, used)
        if t.group in seen:  # the terms share one grouping factor: the same grouping
            codes0, levels0 = seen[t.group]
            if not np.array_equal(codes, codes0):
                raise DataError(
                    f"two terms name the group {t.group!r} with different codes; terms with the same group "
                    "share one grouping factor, so give the other grouping its own name"
                )
            if not np.array_equal(levels, levels0):
                raise DataError(f"two terms name the group {t.group!r} with different level labels")
        else:
            seen[t.group] = (codes, levels)
        src = f"({' + '.join(columns)} | {t.group})"
        term = Term(t.group, (t.group,), columns, src)
        raw.append(_TermRows(term, levels, codes, z, None))
    structure, rows = _parts("", "y", names, y, x, raw, pd.RangeIndex(n), lambda _specs: ArrayEncoding())
    return structure, ArrayData(rows)
