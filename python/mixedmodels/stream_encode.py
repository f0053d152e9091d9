"""The native streamed pass: a chunk's rows (`data.Rows`) encoded straight from its columns' arrays.

For the common streamed formula -- a plain response, a fixed part of the intercept, numeric
columns, categorical main effects (treatment contrasts) and their interactions (with at most one
numeric column each), random-effects terms of the intercept and numeric columns on one grouping
variable each, weights and offset as columns -- the model matrix of a chunk needs no formulaic:
each column of X is a product of a chunk's column and indicators of levels (or ones), each column
of Z a column (or ones), and each categorical's codes are the positions of its values in the
levels fixed by the first pass (a logical column's values are read as R's labels FALSE, TRUE, its
levels there). `NativePlan` replays that encoding on an Arrow record
batch (numpy views of its buffers; a dictionary column's dictionary is mapped to the levels once,
then its indices are gathered) or on a pandas chunk, giving the very arrays `design.materialise`
gives, so the cross-products are the same bit for bit. Anything else (other column types, infinite
values, a value the first pass did not see) makes `NativePlan.rows` return None and
the chunk takes formulaic's path, which reports the problem as it always does.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from .data import Rows
from .design import plain_terms
from .expressions import LOGICAL_LEVELS, column_name, is_logical, logical_factor
from .formula import ParsedFormula
from .structure import ModelStructure

__all__ = ["NativePlan", "arrow_conversion_errors", "same_rows"]

FloatArray = NDArray[np.float64]

Product = tuple[tuple[str, int], ...]
"""One fixed-effects column: the product of its factors, each (column, -1) for a numeric column's
values or (column, i) for the indicator of the column's i-th level (empty: the intercept)."""


def _fixed_products(spec: Any, levels: Mapping[str, Sequence[Any]]) -> tuple[Product, ...] | None:
    """The fixed-effects columns of formulaic's ModelSpec as products (formulaic's order: terms,
    then within a term the first factor varying fastest), or None when a factor is not a plain
    column, a contrast is not treatment with the first level as base, a term is scaled, or a term
    multiplies more than one numeric column (whose product's rounding depends on the order)."""
    out: list[Product] = []
    try:
        structure = spec.structure
        encoders = spec.encoder_state
    except AttributeError:
        return None
    for term in structure:
        for scoped in term.scoped_terms:
            if getattr(scoped, "scale", 1) != 1:
                return None
            choices: list[list[tuple[str, int]]] = []
            for sf in scoped.factors:
                expr = str(sf.factor.expr)
                kind, state = encoders.get(expr, (None, {}))
                kind = getattr(kind, "value", kind)
                name = column_name(expr)
                if name is None:
                    return None
                if kind == "numerical":
                    choices.append([(name, -1)])
                elif kind == "categorical" and name in levels:
                    contrasts = state.get("contrasts")
                    lv = list(getattr(contrasts, "levels", state.get("categories", ())))
                    c = getattr(contrasts, "contrasts", None)
                    base = getattr(c, "base", None)
                    if type(c).__name__ != "TreatmentContrasts" or lv != list(levels[name]):
                        return None
                    if not (str(base).endswith("UNSET") or (lv and base == lv[0])):
                        return None
                    first = 1 if sf.reduced else 0
                    choices.append([(name, i) for i in range(first, len(lv))])
                else:
                    return None
            if sum(1 for ch in choices if ch[0][1] < 0) > 1:
                return None
            cols: list[Product] = [()]
            for ch in choices:  # the first factor varies fastest
                cols = [prev + (f,) for f in ch for prev in cols]
            out.extend(cols)
    return tuple(out)


def arrow_conversion_errors(pa: Any) -> tuple[type[Exception], ...]:
    """What Arrow's conversions and casts raise on values they cannot take (unsigned ids at and
    above 2**63 beside signed ones raise OverflowError): the native path then declines. ``pa``:
    pyarrow, imported by the caller (an optional extra).

    Examples
    --------
    >>> import pyarrow as pa
    >>> try:
    ...     pa.array([2**64])
    ... except arrow_conversion_errors(pa) as exc:
    ...     type(exc).__name__
    'OverflowError'
    """
    return (pa.ArrowException, TypeError, ValueError, OverflowError)


def _is_arrow(chunk: Any) -> bool:
    return type(chunk).__module__.startswith("pyarrow")


@dataclass
class _Codes:
    """Maps a grouping column's values to their positions in the first pass's levels (-1: not a
    level): pandas values through a hash index, Arrow values through Arrow's hash lookup
    (``index_in``) against the levels as an Arrow array, integers among integer levels by a table
    of positions or a binary search; for an Arrow dictionary column, the last dictionary seen and
    its map (batches that share a dictionary map it once)."""

    levels: list[Any]
    index: pd.Index | None = None
    arrow: Any = None
    dictionary: Any = None
    mapped: NDArray[np.int64] = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    hints: list[tuple[Any, NDArray[np.int64]]] = field(default_factory=list)  # dictionaries mapped beforehand
    # integer levels in increasing order: (them, the first, a table of positions by value - first or None)
    ints: tuple[NDArray[np.int64], int, NDArray[np.int64] | None] | None | bool = None

    def _integer_levels(self) -> tuple[NDArray[np.int64], int, NDArray[np.int64] | None] | None:
        """The levels as increasing int64 with a table of their positions by value when their span
        is at most 4 values a level (+65,536), else for a binary search; None: other levels."""
        if self.ints is None:
            self.ints = False
            if self.levels and all(type(v) is int for v in self.levels):
                try:
                    lv = np.array(self.levels, dtype=np.int64)
                except OverflowError:
                    lv = None
                if lv is not None and bool(np.all(lv[1:] > lv[:-1])):
                    first, span = int(lv[0]), int(lv[-1]) - int(lv[0]) + 1
                    table = None
                    if span <= 4 * lv.size + 65_536:
                        table = np.full(span, -1, dtype=np.int64)
                        table[lv - first] = np.arange(lv.size)
                    self.ints = (lv, first, table)
        return self.ints if isinstance(self.ints, tuple) else None

    def _of_integers(self, v: NDArray[Any]) -> NDArray[np.int64] | None:
        """Positions of integer values among integer levels (-1: not a level), by table or binary
        search (Arrow's hash lookup rebuilds its set of the levels on every call)."""
        found = self._integer_levels()
        if found is None:
            return None
        lv, first, table = found
        v = v.astype(np.int64, copy=False)  # (before any arithmetic: an int8 id less a negative first level wraps)
        if table is not None and v.size and int(v.min()) >= first and int(v.max()) <= int(lv[-1]):
            return np.take(table, v - first if first else v)  # every value in the table's span: one gather
        out = np.full(v.size, -1, dtype=np.int64)
        if table is not None:
            inside = (v >= first) & (v <= int(lv[-1]))
            out[inside] = table[v[inside] - first]
            return out
        pos = np.minimum(np.searchsorted(lv, v), lv.size - 1)
        hit = lv[pos] == v
        out[hit] = pos[hit]
        return out

    def of_values(self, values: Any) -> NDArray[np.int64]:
        """Positions of a pandas or numpy array's values (by Arrow's lookup when pyarrow is there)."""
        try:
            import pyarrow as pa
        except ImportError:
            pa = None
        if pa is not None:
            try:
                found = self.of_arrow(pa.array(np.asarray(values)))
            except arrow_conversion_errors(pa):
                found = None
            if found is not None:
                return found
        if self.index is None:
            self.index = pd.Index(self.levels)
        return np.asarray(self.index.get_indexer(values), dtype=np.int64)

    def of_arrow(self, values: Any) -> NDArray[np.int64] | None:
        """Positions of an Arrow array's values (None: values of a type the levels cannot take)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        if self.arrow is None:
            try:
                self.arrow = pa.array(self.levels)
            except arrow_conversion_errors(pa):
                self.arrow = False
        if self.arrow is False:
            return None
        if pa.types.is_integer(values.type) and values.type != pa.uint64() and not values.null_count:
            ints = self._of_integers(values.to_numpy(zero_copy_only=False))
            if ints is not None:
                return ints
        if values.type != self.arrow.type:
            try:
                values = values.cast(self.arrow.type)
            except arrow_conversion_errors(pa):
                return None
        found = pc.index_in(values, value_set=self.arrow).fill_null(-1)
        return np.asarray(found.to_numpy(zero_copy_only=False), dtype=np.int64)

    def of_dictionary(self, dictionary: Any) -> NDArray[np.int64] | None:
        """The map of a dictionary's entries to level positions (the last one's again, or one of
        the `hints`, else a lookup)."""
        if self.dictionary is None or not (dictionary is self.dictionary or dictionary.equals(self.dictionary)):
            for known, hinted in self.hints:
                if len(known) == len(dictionary) and known.type == dictionary.type and known.equals(dictionary):
                    self.mapped, self.dictionary = hinted, dictionary
                    return hinted
            looked_up = self.of_arrow(dictionary)
            if looked_up is None:
                return None
            self.mapped, self.dictionary = looked_up, dictionary
        return self.mapped


@dataclass
class NativePlan:
    """The encoding of a chunk's rows fixed by the first pass, replayed without formulaic.

    Attributes
    ----------
    response : str
        The response's column.
    fixed : tuple of Product
        Per fixed-effects column, the product it is (`Product`; empty: the intercept).
    factors : tuple of (str, tuple of (str or None))
        Per grouping factor (engine order): its grouping column and, per random-effects column,
        the data column it is (None: the intercept).
    weights, offset : str or None
        The columns of the prior weights and the offset argument.
    codes : dict
        Per grouping column, its map from values to level positions.
    """

    response: str
    fixed: tuple[Product, ...]
    factors: tuple[tuple[str, tuple[str | None, ...]], ...]
    weights: str | None
    offset: str | None
    codes: dict[str, _Codes]
    # per thread, the arrays its chunks' X and Z are written into (`_scratch`), until `release`
    scratch: dict[int, dict[int, FloatArray]] = field(default_factory=dict, repr=False, compare=False)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["scratch"] = {}  # (a copy sent to a worker starts without them)
        return state

    def _scratch(self, slot: int, m: int, k: int) -> FloatArray:
        """An (m, k) array of this thread's memory for the chunks' slot-th matrix, reused from one
        chunk to the next: a chunk's X and Z in fresh memory cost the kernel's zeroing of every page
        on top of filling them (with 2M-row chunks, beyond the size below which the allocator
        reuses freed memory)."""
        mine = self.scratch.setdefault(threading.get_ident(), {})
        buf = mine.get(slot)
        if buf is None or buf.size < m * k:
            buf = mine[slot] = np.empty(m * k)
        return buf[: m * k].reshape(m, k)

    def release(self) -> None:
        """Free the arrays of every thread (after a pass over the chunks)."""
        self.scratch.clear()

    @cached_property
    def z_is_x(self) -> tuple[bool, ...]:
        """Per grouping factor, whether its Z's columns are X's ((1 + x | g) beside y ~ 1 + x): the
        chunk's Z is then X's array."""
        return tuple(tuple(() if c is None else ((c, -1),) for c in zc) == self.fixed for _, zc in self.factors)

    @property
    def numeric(self) -> list[str]:
        """The columns read as numbers."""
        cols = [self.response, *(c for prod in self.fixed for c, i in prod if i < 0)]
        cols += [c for _, zc in self.factors for c in zc if c]
        cols += [c for c in (self.weights, self.offset) if c]
        return list(dict.fromkeys(cols))

    @staticmethod
    def of(
        pf: ParsedFormula,
        structure: ModelStructure,
        levels: Mapping[str, Sequence[Any]],
        weights: str | None = None,
        offset: str | None = None,
    ) -> NativePlan | None:
        """The plan of a streamed model (its prototype's ``structure``, the first pass's ``levels``),
        or None when its formula needs formulaic (transforms, contrasts other than treatment, a
        factor in a random-effects term, interaction groupings, offset() terms, cbind responses, a
        response that is an expression).

        Examples
        --------
        >>> import mixedmodels as mm
        >>> from mixedmodels.design import materialise
        >>> from mixedmodels.formula import parse_formula
        >>> sleep = mm.datasets.load("sleepstudy")
        >>> pf = parse_formula("Reaction ~ Days + (Days | Subject)")
        >>> levels = {"Subject": sorted(sleep["Subject"].unique())}
        >>> s, held = materialise(pf, sleep, levels=levels)
        >>> plan = NativePlan.of(pf, s, levels)
        >>> plan.fixed, plan.factors
        (((), (('Days', -1),)), (('Subject', (None, 'Days')),))
        >>> same_rows(plan.rows(sleep), held.rows(""))
        True
        """
        if pf.counts is not None or pf.offsets or pf.data_dependent or pf.trusted:
            return None
        if not pf.response.isidentifier():
            return None
        fixed = plain_terms(pf.fixed, quoted=True)
        fixed_cols: tuple[Product, ...] | None
        if fixed is not None and not any(c in levels for c in fixed[1]):  # numeric columns (checked per chunk)
            fixed_cols = ((),) * fixed[0] + tuple(((c, -1),) for c in fixed[1])
        else:  # formulaic's spec says what each column is
            encoding = structure.encoding
            spec = getattr(getattr(encoding, "fixed", None), "spec", None)
            fixed_cols = None if spec is None else _fixed_products(spec, levels)
        if fixed_cols is None or len(fixed_cols) != structure.p:
            return None
        by_source: dict[str, tuple[str | None, ...]] = {}
        for t in pf.random:
            lhs = plain_terms(t.lhs, quoted=True)
            if lhs is None or len(t.factors) != 1 or t.source in by_source:
                return None
            by_source[t.source] = ((None,) if lhs[0] else ()) + lhs[1]
        factors = []
        for f in structure.factors:
            if len(f.variables) != 1 or f.variables[0] not in levels:
                return None
            zc: tuple[str | None, ...] = ()
            for i in f.terms:
                src = structure.terms[i].source
                if src not in by_source:
                    return None
                zc += by_source[src]
            if len(zc) != len(f.columns):
                return None
            factors.append((f.variables[0], zc))
        coded = [g for g, _ in factors] + [c for prod in fixed_cols for c, i in prod if i >= 0]
        codes = {g: _Codes(list(levels[g])) for g in dict.fromkeys(coded)}
        return NativePlan(pf.response, fixed_cols, tuple(factors), weights, offset, codes)

    def rows(self, chunk: Any) -> Rows | None:
        """The complete rows of an Arrow record batch or a pandas chunk, as `design.materialise`
        makes them; None when a column is not of a plain numeric type (or a grouping column of a
        type the plan reads), a value is infinite (in any row: a NaN is a missing value, its row
        dropped), or a level was not seen in the first pass (the chunk then takes formulaic's path).
        A chunk without complete rows gives Rows of none.
        Their x and z are this thread's scratch arrays (`_scratch`): the next call in the same
        thread writes over them, so they are used before it (summed into cross-products)."""
        arrow = _is_arrow(chunk)
        n = chunk.num_rows if arrow else len(chunk)
        dropped: list[NDArray[np.bool_]] = []  # the rows each column with a missing value leaves out
        nums: dict[str, FloatArray] = {}
        for c in self.numeric:
            v = _arrow_numeric(chunk.column(c)) if arrow else _pandas_numeric(chunk[c])
            if v is None:
                return None
            if not np.isfinite(v.sum()):  # (a finite sum: every value finite) NaN (missing), inf, or overflow
                nan = np.isnan(v)
                if not np.isfinite(v[~nan]).all():
                    return None  # an infinite value (perhaps in a row missing elsewhere: formulaic's path drops it)
                if nan.any():
                    dropped.append(nan)
            nums[c] = v
        group_codes: dict[str, NDArray[np.int64]] = {}
        for g in self.codes:
            got = _arrow_codes(chunk.column(g), self.codes[g]) if arrow else _pandas_codes(chunk[g], self.codes[g])
            if got is None:
                return None
            gc, missing = got
            if missing.any():
                dropped.append(missing)
            group_codes[g] = gc
        ok = ~np.logical_or.reduce(dropped) if dropped else None
        every = ok is None or bool(ok.all())
        m = n if ok is None else int(ok.sum())

        def used(a: NDArray[Any]) -> NDArray[Any]:
            return a if every else a[ok]

        y = np.array(used(nums[self.response]), dtype=np.float64)
        if m and any(used(group_codes[c]).min() < 0 for c in self.codes):
            return None  # a value the first pass did not see: formulaic's path says so
        x = self._scratch(0, m, len(self.fixed))
        for j, prod in enumerate(self.fixed):
            col: FloatArray | None = None
            for c, i in prod:  # at most one numeric factor: the product is exact in any order (and finite)
                v = used(nums[c]) if i < 0 else (used(group_codes[c]) == i).astype(np.float64)
                col = v if col is None else col * v
            x[:, j] = 1.0 if col is None else col
        codes, zs = [], []
        for f, (g, zc) in enumerate(self.factors):
            gc = used(group_codes[g])
            codes.append(np.ascontiguousarray(gc, dtype=np.int32))
            if self.z_is_x[f]:
                zs.append(x)  # the same array, read only
                continue
            z = self._scratch(1 + f, m, len(zc))
            for j, zcol in enumerate(zc):
                z[:, j] = 1.0 if zcol is None else used(nums[zcol])
            zs.append(z)
        w = None if self.weights is None else np.ascontiguousarray(used(nums[self.weights]))
        o = None if self.offset is None else np.ascontiguousarray(used(nums[self.offset]))
        if w is not None and (w < 0).any():
            return None
        return Rows(y=y, x=x, codes=tuple(codes), z=tuple(zs), index=pd.RangeIndex(m), weights=w, offset=o)


def _arrow_numeric(arr: Any) -> FloatArray | None:
    """A numeric Arrow column (chunked or not) as float64 with NaN where missing, as pandas
    converts it; None for other types."""
    import pyarrow as pa  # the optional extra: only Arrow chunks reach here

    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    t = arr.type
    if not (pa.types.is_integer(t) or pa.types.is_floating(t)) or pa.types.is_float16(t):
        return None
    out = arr.to_numpy(zero_copy_only=False)  # ints with nulls come as float64 with NaN
    return np.asarray(out, dtype=np.float64)


def _pandas_numeric(col: pd.Series) -> FloatArray | None:
    """A numpy-typed numeric pandas column as float64 (NaN where missing); None for other dtypes
    (booleans, extension types: formulaic decides those)."""
    dt = col.dtype
    if not isinstance(dt, np.dtype) or dt.kind not in "iuf":
        return None
    return np.asarray(col.to_numpy(), dtype=np.float64)


def _arrow_codes(arr: Any, codes: _Codes) -> tuple[NDArray[np.int64], NDArray[np.bool_]] | None:
    """Level positions (and the missing rows) of an Arrow grouping column: a dictionary column's
    indices gathered from its dictionary's map, other columns looked up value by value."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    missing = arr.is_null().to_numpy(zero_copy_only=False)
    t = arr.type
    found: NDArray[np.int64] | None
    if pa.types.is_dictionary(t):
        mapped = codes.of_dictionary(arr.dictionary)
        if mapped is None:
            return None
        found = mapped[arr.indices.fill_null(0).to_numpy(zero_copy_only=False)]
    elif pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_integer(t):
        found = codes.of_arrow(arr)
    elif pa.types.is_boolean(t):  # a logical: its levels are R's labels (`design.materialise`)
        found = codes.of_arrow(pc.if_else(arr, LOGICAL_LEVELS[1], LOGICAL_LEVELS[0]))
    elif pa.types.is_floating(t):
        missing = missing | np.isnan(arr.to_numpy(zero_copy_only=False))
        found = codes.of_arrow(arr)
    else:
        return None
    if found is None:
        return None
    return found, np.asarray(missing, dtype=bool)


def _pandas_codes(col: pd.Series, codes: _Codes) -> tuple[NDArray[np.int64], NDArray[np.bool_]] | None:
    """Level positions (and the missing rows) of a pandas grouping column."""
    missing = col.isna().to_numpy()
    if is_logical(col):  # numpy, nullable, Arrow or object booleans: R's labels (`design.materialise`)
        f = logical_factor(col, all_levels=True)
        mapped = codes.of_values(np.asarray(f.categories, dtype=object))
        return np.where(f.codes < 0, -1, mapped[f.codes]), missing
    if isinstance(col.dtype, pd.CategoricalDtype):
        cat = col.cat
        mapped = codes.of_values(cat.categories)
        raw = cat.codes.to_numpy()
        return np.where(raw < 0, -1, mapped[raw]), missing
    dt = col.dtype
    if isinstance(dt, np.dtype) and dt.kind in "iufO":
        return codes.of_values(col.to_numpy()), missing
    if pd.api.types.is_string_dtype(dt):  # pandas' string dtypes
        return codes.of_values(np.asarray(col.astype(object))), missing
    return None


def same_rows(a: Rows, b: Rows) -> bool:
    """Whether two `Rows` hold the same values bit for bit (index aside).

    Examples
    --------
    >>> r = Rows(np.array([1.0]), np.ones((1, 1)), (), (), pd.RangeIndex(1))
    >>> same_rows(r, r), same_rows(r, r.with_response(np.array([2.0])))
    (True, False)
    """

    def same(u: NDArray[Any] | None, v: NDArray[Any] | None) -> bool:
        if u is None or v is None:
            return u is None and v is None
        return u.shape == v.shape and u.dtype == v.dtype and u.tobytes() == v.tobytes()

    pairs: list[tuple[NDArray[Any] | None, NDArray[Any] | None]] = [
        (a.y, b.y),
        (a.x, b.x),
        (a.weights, b.weights),
        (a.offset, b.offset),
    ]
    if len(a.codes) != len(b.codes) or len(a.z) != len(b.z):
        return False
    pairs += list(zip(a.codes, b.codes, strict=True))
    pairs += list(zip(a.z, b.z, strict=True))
    return all(same(u, v) for u, v in pairs)
