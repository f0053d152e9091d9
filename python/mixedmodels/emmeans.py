"""Estimated marginal means, trends and contrasts of a linear mixed model, with R's emmeans
conventions (Lenth's emmeans 1.8): the reference grid, equal-weight averaging, ``by`` panels, the
contrast families and their multiplicity adjustments (`multiplicity`).

The reference grid holds every level of every factor of the fixed part and each numeric covariate
at its mean over the model's data (a covariate with at most two distinct values keeps both, as
emmeans' ``cov.keep = "2"``); ``at`` replaces either. Each grid row's linear function L of the
fixed effects is the model's own fixed-effects encoding replayed on the grid (the encoding
`fitted.LmerFit.predict` uses), so contrasts, transforms and interactions are those of the fit.
A marginal mean averages the L rows of the cells it covers with equal weights; its estimate is
L beta, its standard error sqrt(L V L') with V the Kenward-Roger adjusted covariance
(``ddf="kenward-roger"``, pbkrtest's ``vcovAdj``) or ``vcov`` (``"satterthwaite"``,
``"asymptotic"``), and its df Kenward-Roger's or Satterthwaite's for that L row (infinite for
``"asymptotic"``: z ratios and normal quantiles, columns ``asymp.LCL``/``asymp.UCL``/``z.ratio``
as emmeans names them). Where a factor of the grid is nested in another by the data (each of its
levels, in the cells with observations, with one level of the other: emmeans' detection) or by the
formula (``c/b``), means average it within its nests and show only the combinations that occur
(`nesting`).
"""

from __future__ import annotations

import html
import itertools
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from .arguments import check_level
from .exceptions import ArgumentError, DataError, MixedModelsError
from .families import Link
from .fitted import LmerFit
from .glmm import GeneralizedLinearMixedModel
from .inference import inference_for
from .multiplicity import ADJUSTMENTS, adjust_critical, adjust_p
from .names import LOGICAL_CALL
from .nesting import averages, displayed, find_nests, formula_nests, nested_specs

__all__ = ["EmmGrid", "emmeans", "emtrends", "ref_grid"]

FloatArray = NDArray[np.float64]

DDF_METHODS = ("kenward-roger", "satterthwaite", "asymptotic")
CONTRASTS = ("pairwise", "revpairwise", "trt.vs.ctrl", "trt.vs.ctrlk", "dunnett", "poly", "eff", "del.eff")
_PARENS = re.compile(r"-|\+|/|\*")


# ---------------------------------------------------------------------------- the reference grid
@dataclass(frozen=True)
class _Variable:
    name: str
    levels: list[Any]
    factor: bool  # a factor (or a covariate kept at its distinct values): weighted as a factor


@dataclass(frozen=True)
class _Grid:
    variables: list[_Variable]
    frame: pd.DataFrame  # one row per cell, the first variable varying fastest
    linfct: FloatArray
    offset: FloatArray | None
    weights: NDArray[np.int64] | None  # observations per cell of the factors (emmeans' .wgt.)
    aliased: FloatArray | None  # the L rows' coefficients of the aliased (dropped) columns, if any


def _check_fit(m: object) -> LmerFit:
    if not isinstance(m, LmerFit):
        raise ArgumentError(f"emmeans needs a fitted model from mm.lmer or mm.glmer, got {type(m).__name__}")
    return m


def _is_glmm(m: LmerFit) -> bool:
    return isinstance(m.model, GeneralizedLinearMixedModel)


def _fit_ddf(m: LmerFit, ddf: object) -> str:
    """The df method: lmer fits default to Kenward-Roger; glmer fits have asymptotic df only (as
    emmeans for glmerMod: z ratios, ``asymp.LCL``)."""
    if not _is_glmm(m):
        return "kenward-roger" if ddf is None else _ddf_key(ddf)
    if ddf is not None and _ddf_key(ddf) != "asymptotic":
        raise ArgumentError(
            f"a glmer fit has asymptotic (z) inference only, as emmeans for glmerMod: ddf='asymptotic' "
            f"(or None), not {ddf!r}"
        )
    return "asymptotic"


def _link_info(m: LmerFit) -> tuple[str | None, str]:
    """emmeans' ``tran`` (the link's name, None for the identity) and ``inv.lbl`` (the name of the
    back-transformed estimate: "prob" for binomial, "rate" for Poisson, "response" otherwise)."""
    if not isinstance(m.model, GeneralizedLinearMixedModel):
        return None, "response"
    fam = m.model.family
    if fam.link.name == "identity":
        return None, "response"
    return fam.link.name, {"binomial": "prob", "poisson": "rate"}.get(fam.name, "response")


def _check_type(type_: object) -> str:
    if type_ not in ("link", "response"):
        raise ArgumentError(f"type must be 'link' or 'response', got {type_!r}")
    return str(type_)


def _variable_order(formula: str, names: set[str]) -> list[str]:
    """The fixed part's variables in the order the formula first names them (as R's all.vars)."""
    rhs = formula.split("~", 1)[-1]

    def first(v: str) -> int:
        hit = re.search(rf"(?<![\w.]){re.escape(v)}(?![\w.])", rhs)
        return hit.start() if hit else len(rhs)

    return sorted(names, key=lambda v: (first(v), v))


def _is_numeric(col: pd.Series) -> bool:
    return (
        pd.api.types.is_numeric_dtype(col.dtype)
        and not pd.api.types.is_bool_dtype(col.dtype)
        and not isinstance(col.dtype, pd.CategoricalDtype)
    )


def _grid_variables(m: LmerFit, at: Mapping[str, Any] | None, what: str) -> tuple[list[_Variable], pd.DataFrame]:
    s = m.structure
    spec = s.encoding.formula(what).fixed
    frame = m.model.data.frame(what)
    required = {str(v) for v in getattr(spec, "required_variables", ())}
    state: dict[str, Any] = dict(getattr(spec, "encoder_state", {}) or {})
    coerced: set[str] = set()
    for key, (kind, _st) in state.items():
        # a variable inside a factor made in the formula (factor(x)) is a factor of the grid, as emmeans
        # coerces it; not one compared in a logical term ((x > 0): R's covariate, at its mean)
        if str(getattr(kind, "value", kind)) == "categorical" and key not in required and LOGICAL_CALL not in key:
            coerced.update(v for v in required if re.search(rf"(?<![\w.]){re.escape(v)}(?![\w.])", key))
    at = dict(at or {})
    unknown = [k for k in at if k not in required]
    if unknown:
        raise ArgumentError(
            f"at names {', '.join(map(repr, unknown))}, not a variable of the fixed part "
            f"(they are {', '.join(map(repr, _variable_order(s.formula, required)))})"
        )
    # variables of offset() terms only are not in the grid: the offset is its mean over the rows
    # (`_grid_offset`, as emmeans)
    out = []
    for name in _variable_order(s.formula, required):
        col = frame[name]
        if name in coerced or not _is_numeric(col):
            if isinstance(col.dtype, pd.CategoricalDtype):
                st = state.get(name)
                cats = list(st[1]["categories"]) if st is not None and "categories" in st[1] else None
                levels = cats if cats is not None else [c for c in col.cat.categories if (col == c).any()]
            else:
                levels = sorted(pd.unique(col.dropna()).tolist())
            if name in at:
                levels = _factor_at(name, at[name], levels)
            out.append(_Variable(name, levels, True))
        else:
            if name in at:
                out.append(_Variable(name, _covariate_at(name, at[name]), False))
                continue
            values = np.sort(np.unique(col.dropna().to_numpy(dtype=float)))
            if len(values) <= 2:
                out.append(_Variable(name, [float(v) for v in values], True))
            else:
                out.append(_Variable(name, [float(np.mean(col.to_numpy(dtype=float)))], False))
    return out, frame


def _factor_at(name: str, given: Any, levels: list[Any]) -> list[Any]:
    vals = [given] if isinstance(given, (str, int, float, bool, np.generic)) else list(given)
    by_label = {str(lv): lv for lv in levels}
    chosen = []
    for v in vals:
        if v in levels:
            chosen.append(v)
        elif str(v) in by_label:
            chosen.append(by_label[str(v)])
        else:
            raise ArgumentError(f"at[{name!r}] has {v!r}, which is not a level of {name!r} ({levels})")
    if not chosen:
        raise ArgumentError(f"at[{name!r}] is empty")
    return chosen


def _covariate_at(name: str, given: Any) -> list[float]:
    vals = [given] if np.ndim(given) == 0 else list(np.asarray(given, dtype=object).ravel())
    out = []
    for v in vals:
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating)):
            raise ArgumentError(f"at[{name!r}] must hold numbers ({name!r} is a numeric covariate), got {v!r}")
        out.append(float(v))
    if not out:
        raise ArgumentError(f"at[{name!r}] is empty")
    return out


def _build_grid(m: LmerFit, variables: list[_Variable], frame: pd.DataFrame, shift: tuple[str, float] | None) -> _Grid:
    """The cells (first variable fastest, as R's expand.grid), their L rows and offsets."""
    sizes = [len(v.levels) for v in variables]
    n = int(np.prod(sizes)) if sizes else 1
    idx = np.indices(sizes[::-1]).reshape(len(sizes), -1)[::-1] if sizes else np.zeros((0, 1), dtype=int)
    cols: dict[str, Any] = {}
    for k, v in enumerate(variables):
        vals = [v.levels[i] for i in idx[k]]
        col = frame[v.name]
        if isinstance(col.dtype, pd.CategoricalDtype):
            cols[v.name] = pd.Categorical(vals, categories=col.cat.categories, ordered=col.cat.ordered)
        elif _is_numeric(col):
            cols[v.name] = np.asarray(vals, dtype=float)
        else:
            cols[v.name] = pd.Series(vals, dtype=col.dtype)
    grid = pd.DataFrame(cols, index=pd.RangeIndex(n))
    newdata = grid.copy()
    if shift is not None:
        newdata[shift[0]] = newdata[shift[0]] + shift[1]
    s = m.structure
    x = s.encoding.fixed_matrix(newdata, s.fixed_keys)
    dropped = _dropped_keys(m)
    aliased = s.encoding.fixed_matrix(newdata, dropped) if dropped else None
    offset = _grid_offset(m, newdata, frame)
    # observations per cell, counting the factor-like variables only (emmeans' .wgt.)
    facs = [v for v in variables if v.factor]
    if facs:
        key_rows = pd.MultiIndex.from_frame(frame[[v.name for v in facs]].astype(object))
        counts = pd.Series(1, index=key_rows).groupby(level=list(range(len(facs)))).sum()
        keys = pd.MultiIndex.from_frame(grid[[v.name for v in facs]].astype(object))
        weights: NDArray[np.int64] | None = np.asarray(counts.reindex(keys).fillna(0), dtype=np.int64)
    else:
        weights = None
    return _Grid(variables, grid, np.asarray(x, dtype=float), offset, weights, aliased)


def _dropped_keys(m: LmerFit) -> list[str]:
    """The internal keys of the fixed-effects columns dropped as aliased (none for most fits)."""
    s = m.structure
    spec = getattr(s.encoding, "fixed", None)
    if not s.dropped_fixed or spec is None:
        return []
    kept = set(s.fixed_keys)
    return [str(k) for k in spec.column_names if str(k) not in kept]


def _null_basis(m: LmerFit, frame: pd.DataFrame, dropped: list[str]) -> FloatArray:
    """An orthonormal basis of the null space of the full fixed-effects matrix [X kept, X dropped]
    over the fit's rows (estimability's ``nonest.basis``): L is estimable when L N = 0."""
    s = m.structure
    x = s.encoding.fixed_matrix(frame, [*s.fixed_keys, *dropped])
    r = np.linalg.qr(x, mode="r")
    _u, sv, vt = np.linalg.svd(r)
    small = sv <= 1e-7 * (sv[0] if sv.size else 1.0)
    small = np.concatenate([small, np.ones(vt.shape[0] - sv.size, dtype=bool)])
    basis: FloatArray = np.asarray(vt[small].T, dtype=np.float64)
    return basis


def _grid_offset(m: LmerFit, newdata: pd.DataFrame, frame: pd.DataFrame) -> FloatArray | None:
    """The formula's offset() terms at the grid: evaluated on the grid when it holds their
    variables, otherwise (emmeans' rule, checked against emmeans 1.8 on a Poisson rate model) the
    mean over the model's rows of the offset expression, e.g. mean(log(size))."""
    enc = m.structure.encoding
    try:
        return enc.offset(newdata)
    except DataError:
        whole = enc.offset(frame)
        return None if whole is None else np.full(len(newdata), float(np.mean(whole)))


def _parse_specs(specs: Any, by: Any) -> tuple[list[str], list[str]]:
    """emmeans' specs: "~ a", "~ a | b", "~ a * b", "a:b", "~ 1", or a list of names; plus ``by``."""
    by_list = [by] if isinstance(by, str) else list(by or [])
    if isinstance(specs, str):
        text = specs.strip()
        if "~" in text:
            lhs, text = text.split("~", 1)
            if lhs.strip():
                raise ArgumentError(
                    f"specs {specs!r}: a left-hand side ({lhs.strip()!r}) is not supported; "
                    "call .pairs() or .contrast() on the result"
                )
        if "|" in text:
            text, bytext = text.split("|", 1)
            by_list = [b for b in re.split(r"[*:+]", bytext.replace(" ", "")) if b] + by_list
        names = [n for n in re.split(r"[*:+]", text.replace(" ", "")) if n]
    elif isinstance(specs, Sequence) and all(isinstance(x, str) for x in specs):
        names = list(specs)
    else:
        raise ArgumentError(f"specs must be a formula string such as '~ a | b' or a list of names, got {specs!r}")
    if not names:
        raise ArgumentError(f"specs {specs!r} names no variable (use '~ 1' for the overall mean)")
    names = list(dict.fromkeys(names))
    by_list = [b for b in dict.fromkeys(by_list) if b not in names]
    return names, by_list


def _ddf_key(ddf: object) -> str:
    key = ddf.lower().replace("_", "-") if isinstance(ddf, str) else None
    key = {"kr": "kenward-roger", "z": "asymptotic"}.get(key or "", key)
    if key not in DDF_METHODS:
        raise ArgumentError(f"ddf must be 'kenward-roger', 'satterthwaite' or 'asymptotic', not {ddf!r}")
    return key


def _marginal(
    m: LmerFit,
    specs: Any,
    by: Any,
    at: Mapping[str, Any] | None,
    ddf: object,
    level: object,
    trend: str | None,
    delta: float | None,
    type_: str = "link",
) -> EmmGrid:
    key = _fit_ddf(m, ddf)
    type_ = _check_type(type_)
    lvl = check_level(level)
    if at is not None and not isinstance(at, Mapping):
        raise ArgumentError(f"at must be a dict of variable -> values, got {type(at).__name__}")
    facs, by_list = _parse_specs(specs, by)
    what = "emtrends" if trend is not None else "emmeans"
    variables, frame = _grid_variables(m, at, f"the reference grid of {what}")
    names = [v.name for v in variables]
    for f in [*facs, *by_list]:
        if f != "1" and f not in names:
            place = "by" if f in by_list else "specs"
            raise ArgumentError(
                f"{place} names {f!r}, which is not a variable of the fixed part "
                f"(the reference grid has {', '.join(map(repr, names)) or 'no variable'})"
            )
    grid = _build_grid(m, variables, frame, None)
    lf_full = grid.linfct
    al_full = grid.aliased
    offset_full = grid.offset
    est_name = "emmean"
    if trend is not None:
        tv = next((v for v in variables if v.name == trend), None)
        if tv is None or tv.factor and not _is_numeric(frame[trend]):
            raise ArgumentError(f"var {trend!r} must be a numeric covariate of the fixed part (they are {names})")
        col = frame[trend].to_numpy(dtype=float)
        h = 0.001 * float(np.max(col) - np.min(col)) if delta is None else float(delta)
        if h == 0 or not math.isfinite(h):
            raise ArgumentError(f"delta_var must be a nonzero number, got {h}")
        shifted = _build_grid(m, variables, frame, (trend, h))
        lf_full = (shifted.linfct - grid.linfct) / h  # emmeans' forward difference quotient
        if al_full is not None and shifted.aliased is not None:
            al_full = (shifted.aliased - al_full) / h
        offset_full = None
        est_name = f"{trend}.trend"
    codes = {v.name: _level_codes(v.levels, grid.frame[v.name]) for v in variables}
    # emmeans' nesting of the grid's factors (`nesting`): a nested factor in the specs or by brings its nests
    factors = [v.name for v in variables if v.factor and len(v.levels) > 1]
    terms = _term_variables(m)
    nests = find_nests(factors, codes, grid.weights, formula_nests(terms, factors)) if grid.weights is not None else {}
    all_facs = [*facs, *by_list]
    if nests:
        all_facs, facs, by_list = nested_specs(facs, by_list, nests)
    use = [f for f in all_facs if f != "1"]
    sizes = {v.name: len(v.levels) for v in variables}
    avgd = [v.name for v in variables if v.name not in use and sizes[v.name] > 1]
    # one output row per combination of the spec and by variables (the first fastest)
    levels = {f: (["overall"] if f == "1" else next(v.levels for v in variables if v.name == f)) for f in all_facs}
    rows_lf: list[FloatArray] = []
    rows_al: list[FloatArray] = []
    rows_off: list[float] = []
    rows_w: list[int] = []
    labels: dict[str, list[Any]] = {f: [] for f in all_facs}
    for combo, cells, w, observed in _averages(codes, grid, use, [len(levels[f]) for f in use], nests):
        chosen = dict(zip(use, combo, strict=True))
        for f in all_facs:
            labels[f].append(levels[f][chosen.get(f, 0)])
        rows_lf.append(w @ lf_full[cells])
        if al_full is not None:
            rows_al.append(w @ al_full[cells])
        rows_w.append(observed)
        if offset_full is not None:
            rows_off.append(float(w @ offset_full[cells]))
    out_grid = pd.DataFrame({f: _column(labels[f], frame, f) for f in all_facs})
    inner = [f for f in use if f in nests]
    if inner:  # a nested factor's combinations with its nests that hold no observations are not shown
        out_codes = {f: np.array([levels[f].index(x) for x in labels[f]], dtype=np.intp) for f in use}
        keep = displayed(out_codes, np.array(rows_w, dtype=np.int64), inner, nests)
        out_grid = out_grid[keep].reset_index(drop=True)
        rows_lf = [r for r, k in zip(rows_lf, keep, strict=True) if k]
        rows_al = [r for r, k in zip(rows_al, keep, strict=True) if k] if rows_al else rows_al
        rows_off = [r for r, k in zip(rows_off, keep, strict=True) if k] if rows_off else rows_off
        rows_w = [r for r, k in zip(rows_w, keep, strict=True) if k]
    messages = []
    averaged_nested = any(f in nests for f in avgd)
    if not averaged_nested and _involved_in_interactions(terms, [*use, *([trend] if trend else [])]):
        messages.append("NOTE: Results may be misleading due to involvement in interactions")
    lf = np.array(rows_lf)
    tran, inv_lbl = _link_info(m) if trend is None else (None, "response")  # emmeans: trends keep no transform
    return EmmGrid(
        fit=m,
        grid=out_grid,
        lf=lf,
        offset=np.array(rows_off) if offset_full is not None else None,
        pri_vars=facs,
        by_vars=by_list,
        est_name=est_name,
        est_type="prediction",
        fam_size=lf.shape[0],
        adjust="none",
        avgd_over=avgd,
        ddf=key,
        level=lvl,
        infer=(True, False),
        messages=tuple(messages),
        weights=np.array(rows_w, dtype=np.int64) if grid.weights is not None else None,
        tran=tran,
        inv_lbl=inv_lbl,
        type=type_,
        lf_aliased=np.array(rows_al) if al_full is not None else None,
        null_basis=_null_basis(m, frame, _dropped_keys(m)) if al_full is not None else None,
        nested=bool(inner),  # (a nested factor averaged away leaves emmeans' result without the nesting)
    )


def _averages(
    codes: Mapping[str, NDArray[np.intp]],
    grid: _Grid,
    use: list[str],
    sizes: list[int],
    nests: Mapping[str, list[str]],
) -> list[tuple[tuple[int, ...], NDArray[np.intp], FloatArray, int]]:
    """Per output row (the combinations of ``use``, of ``sizes`` levels, the first fastest): its
    codes, the grid cells it averages, their weights and the observations it covers: equal weights
    over the cells of the combination, or, with a nesting, as emmeans averages nested factors
    (`nesting.averages`)."""
    n = len(grid.frame)
    observed = grid.weights if grid.weights is not None else np.zeros(n, dtype=np.int64)
    if nests:
        return [(a.key, a.cells, a.weights, a.observations) for a in averages(codes, observed, use, nests)]
    out = []
    for slowest_first in itertools.product(*[range(k) for k in sizes[::-1]]):
        combo = slowest_first[::-1]
        sel = np.ones(n, dtype=bool)
        for f, c in zip(use, combo, strict=True):
            sel &= codes[f] == c
        cells = np.flatnonzero(sel)
        weights = np.full(cells.size, 1.0 / max(cells.size, 1))
        out.append((tuple(int(c) for c in combo), cells, weights, int(observed[cells].sum())))
    return out


def _level_codes(levels: list[Any], values: Any) -> NDArray[np.intp]:
    """Each grid value's position among the variable's levels (a number's nearest)."""
    at = {lv: i for i, lv in enumerate(levels) if not isinstance(lv, float)}
    out = [_float_index(levels, x) if isinstance(x, float) else at.get(x) for x in values]
    # (a value the table does not find, by type: the list's own comparison, as before)
    return np.array([levels.index(x) if i is None else i for x, i in zip(values, out, strict=True)], dtype=np.intp)


def _float_index(values: list[Any], x: float) -> int:
    return int(np.argmin([abs(float(v) - x) for v in values]))


def _column(values: list[Any], frame: pd.DataFrame, name: str) -> Any:
    if name == "1":
        return values
    col = frame[name]
    if isinstance(col.dtype, pd.CategoricalDtype):
        return pd.Categorical(values, categories=col.cat.categories, ordered=col.cat.ordered)
    return values


def _term_variables(m: LmerFit) -> list[frozenset[str]]:
    """The variables of each fixed-part term (the intercept's: none)."""
    spec = m.structure.encoding.formula("emmeans").fixed
    required = {str(v) for v in getattr(spec, "required_variables", ())}
    out = []
    for st in getattr(spec, "structure", ()):
        text = " ".join(str(f) for f in st.term.factors)
        out.append(frozenset(v for v in required if re.search(rf"(?<![\w.]){re.escape(v)}(?![\w.])", text)))
    return out


def _involved_in_interactions(terms: list[frozenset[str]], facs: list[str]) -> bool:
    """emmeans' note: some fixed-part term (``terms``: `_term_variables`) involves every one of
    ``facs`` and more variables."""
    return bool(facs) and any(set(facs) <= used and len(used) > len(facs) for used in terms)


# ---------------------------------------------------------------------------- the result
@dataclass(frozen=True, eq=False)
class EmmGrid:
    """Estimated marginal means (or trends, or contrasts of them), as emmeans' ``emmGrid``.

    Attributes
    ----------
    grid : DataFrame
        One row per estimate: the spec's and ``by`` variables' values (or a ``contrast`` column).
    linfct : DataFrame
        The linear functions of the fixed effects (rows as `grid`, columns the fixef names):
        estimate = linfct @ fixef.
    pri_vars, by_vars : list of str
        The primary variables and the ``by`` variables (panels).
    ddf : str
        "kenward-roger", "satterthwaite" or "asymptotic".
    level : float
        Confidence level of the intervals.
    adjust : str
        The default multiplicity adjustment (emmeans': none for means, tukey for pairs, dunnettx
        for trt.vs.ctrl, ...).
    messages : tuple of str
        emmeans' notes when the result was made (such as its warning that a variable is
        involved in interactions).
    tran : str or None
        The scale of the estimates (emmeans' ``tran``): a glmer fit's link ("logit", "log", ...)
        for means; "log" for ratios (contrasts of means on the log or logit scale); None for the
        identity (lmer fits, trends, regridded estimates, contrasts on other links).
    inv_lbl : str
        The name of a back-transformed estimate: "prob" (binomial), "rate" (Poisson), "ratio",
        "odds.ratio", "response".
    type : {"link", "response"}
        The scale `frame` and `summary` report by default (emmeans' ``type``).
    """

    fit: LmerFit
    grid: pd.DataFrame
    lf: FloatArray
    offset: FloatArray | None
    pri_vars: list[str]
    by_vars: list[str]
    est_name: str
    est_type: str
    fam_size: int
    adjust: str
    avgd_over: list[str]
    ddf: str
    level: float
    infer: tuple[bool, bool]
    messages: tuple[str, ...] = ()
    weights: NDArray[np.int64] | None = None
    description: str = ""
    tran: str | None = None
    inv_lbl: str = "response"
    type: str = "link"
    values: FloatArray | None = None  # regridded estimates (then lf is their gradient in beta)
    lf_aliased: FloatArray | None = None  # coefficients of the aliased columns (a rank-deficient fit)
    null_basis: FloatArray | None = None  # null space of the full X: estimability's nonest.basis
    nested: bool = False  # means that hold a nested factor (`nesting`): emmeans contrasts them otherwise
    pooled: bool = False  # contrasts of such means' by panels, one family as emmeans binds them (`_family`)

    # ------------------------------------------------------------ numbers
    @property
    def linfct(self) -> pd.DataFrame:
        """The linear functions (rows) of the fixed effects (columns, lme4's names)."""
        return pd.DataFrame(self.lf, columns=list(self.fit.fixef.index))

    @cached_property
    def _vcov(self) -> FloatArray:
        if self.ddf == "kenward-roger":
            return np.asarray(inference_for(self.fit).kenward_roger.phi_adj, dtype=float)
        return np.asarray(self.fit.vcov_array, dtype=float)

    @cached_property
    def estimable(self) -> NDArray[np.bool_]:
        """Whether each row is estimable (emmeans' ``nonEst`` rows are not): with aliased columns
        dropped, a row whose full L (kept and dropped columns) leaves the row space of X is not,
        and its estimate, SE and df are NaN (estimability's ``is.estimable``, tolerance 1e-8)."""
        if self.lf_aliased is None or self.null_basis is None:
            return np.ones(len(self.lf), dtype=bool)
        full = np.hstack([self.lf, self.lf_aliased])
        ss = np.einsum("ij,ij->i", full, full)
        proj = full @ self.null_basis
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.einsum("ij,ij->i", proj, proj) / ss
        return np.asarray((ss == 0) | (ratio < 1e-8), dtype=bool)

    @cached_property
    def estimate(self) -> FloatArray:
        """L beta (plus the formula's offset, for means); after `regrid`, the estimates on the
        response scale (linear combinations of them for contrasts); NaN where not `estimable`."""
        if self.values is not None:
            return np.where(self.estimable, self.values, np.nan)
        est = self.lf @ self.fit.beta
        est = est + self.offset if self.offset is not None else est
        return np.where(self.estimable, est, np.nan)

    @cached_property
    def se(self) -> FloatArray:
        """sqrt(diag(L V L')), V the KR-adjusted covariance for kenward-roger, vcov otherwise."""
        var = np.einsum("ij,jk,ik->i", self.lf, self._vcov, self.lf)
        return np.where(self.estimable, np.sqrt(np.maximum(var, 0.0)), np.nan)

    @cached_property
    def df(self) -> FloatArray:
        """Degrees of freedom of each row (inf for asymptotic)."""
        if self.ddf == "asymptotic":
            return np.full(len(self.lf), np.inf)
        out = np.full(len(self.lf), np.nan)
        if self.ddf == "kenward-roger":
            kr = inference_for(self.fit).kenward_roger
            for i, row in enumerate(self.lf):
                if np.any(row != 0) and self.estimable[i]:
                    out[i] = kr.ddf(row[None, :])
        else:
            inf = inference_for(self.fit)
            for i, row in enumerate(self.lf):
                if np.any(row != 0) and self.estimable[i]:
                    out[i] = inf.satterthwaite_1d(row)[1]
        return out

    def _by_rows(self, by: list[str] | None = None) -> list[NDArray[np.intp]]:
        by = self.by_vars if by is None else by
        if not by:
            return [np.arange(len(self.grid))]
        keys = [tuple(str(x) for x in r) for r in self.grid[by].itertuples(index=False)]
        order: dict[tuple[str, ...], list[int]] = {}
        for i, k in enumerate(keys):
            order.setdefault(k, []).append(i)
        return [np.array(v, dtype=np.intp) for v in order.values()]

    # ------------------------------------------------------------ tables
    @property
    def frame(self) -> pd.DataFrame:
        """The summary with emmeans' default inference: intervals for means and trends, tests
        for contrasts (use `summary` for both)."""
        return self.summary(infer=self.infer)

    def summary(
        self,
        infer: tuple[bool, bool] | bool = (True, True),
        adjust: str | None = None,
        level: float | None = None,
        by: str | list[str] | None = None,
        type: str | None = None,  # noqa: A002  (emmeans' name)
    ) -> pd.DataFrame:
        """The table: the grid's columns, the estimate, SE, df, then intervals and/or tests.

        Parameters
        ----------
        infer : (bool, bool) or bool
            Intervals, tests (emmeans' ``infer``); one bool sets both.
        adjust : str, optional
            Multiplicity adjustment within each ``by`` panel: "none", "tukey", "sidak",
            "bonferroni", "holm", "hochberg", "BH" (= "fdr"), "BY", "dunnettx" or "scheffe".
            Default: this result's own (`adjust`). As emmeans, tukey becomes sidak for a family
            that is not one set of pairwise comparisons (a note in the messages), intervals for
            p-value-only methods (holm, ...) are Bonferroni's, and a panel of one estimate is
            not adjusted.
        level : float, optional
            Confidence level (default: the result's, 0.95).
        by : str or list of str, optional
            Panels for the adjustment (default: the result's ``by`` variables).
        type : {"link", "response"}, optional
            The scale (default: the result's `type`). ``"response"`` back-transforms estimates
            that have a transformation (`tran`, a glmer fit's link) as emmeans does: the estimate
            is the inverse link of the link-scale estimate (named `inv_lbl`: ``prob``, ``rate``,
            ``ratio``, ``odds.ratio``), SE = |d mu / d eta| SE (delta method), the interval's ends
            are those of the link-scale interval back-transformed, and tests stay on the link
            scale (z ratio of the link-scale estimate) with a ``null`` column, the null value
            back-transformed.

        Returns
        -------
        DataFrame
            Columns as emmeans prints them: ``lower.CL``/``upper.CL`` and ``t.ratio`` with
            finite df, ``asymp.LCL``/``asymp.UCL`` and ``z.ratio`` when asymptotic; the footer
            lines (df method, averaging, confidence level, adjustments) are in
            ``.attrs["messages"]`` and emmeans' notes in ``.attrs["notes"]``.

        Examples
        --------
        >>> import mixedmodels as mm
        >>> m = mm.lmer("angle ~ recipe * temperature + (1 | recipe:replicate)", mm.datasets.load("cake"))
        >>> t = m.emmeans("~ recipe").pairs().summary()
        >>> t[["contrast", "estimate", "p.value"]].round(4)
          contrast  estimate  p.value
        0    A - B    1.4778   0.8200
        1    A - C    1.5222   0.8102
        2    B - C    0.0444   0.9998
        """
        ci, tests = (infer, infer) if isinstance(infer, bool) else (bool(infer[0]), bool(infer[1]))
        method = self.adjust if adjust is None else adjust
        if not isinstance(method, str) or method.lower() not in {a.lower() for a in ADJUSTMENTS}:
            raise ArgumentError(f"adjust must be one of {', '.join(ADJUSTMENTS)}, not {method!r}")
        method = next(a for a in ADJUSTMENTS if a.lower() == method.lower())
        lvl = self.level if level is None else check_level(level)
        by_list = self.by_vars if by is None else ([by] if isinstance(by, str) else list(by))
        bad = [b for b in by_list if b not in self.grid.columns]
        if bad:
            raise ArgumentError(f"by names {bad}, not a column of the grid ({list(self.grid.columns)})")
        by_rows = self._by_rows(by_list)
        back = _check_type(self.type if type is None else type) == "response" and self.tran is not None
        out = self.grid.copy()
        for b in by_list:  # emmeans lists the primary columns, then the by columns
            out[b] = out.pop(b)
        est, se, df = self.estimate, self.se, self.df
        out[self.est_name] = est
        out["SE"] = se
        out["df"] = df
        asym = bool(np.all(np.isinf(df)))
        messages = [f"Degrees-of-freedom method: {self.ddf}"]
        notes = list(self.messages)
        pairs = self.est_type == "pairs"
        family = self._family(by_list, by_rows)
        if ci:
            crit = adjust_critical(df, lvl, method, self.fam_size, by_rows, pairs, self.lf, **family)
            lo, hi = ("asymp.LCL", "asymp.UCL") if asym else ("lower.CL", "upper.CL")
            out[lo] = est - crit.result * se
            out[hi] = est + crit.result * se
            messages.append(f"Confidence level used: {format(lvl, '.15g')}")
            if crit.message:
                messages.append(crit.message)
            if crit.note:
                notes.append(crit.note)
        if tests:
            with np.errstate(divide="ignore", invalid="ignore"):
                t = est / se
            out["z.ratio" if asym else "t.ratio"] = t
            padj = adjust_p(t, df, method, self.fam_size, by_rows, pairs, self.lf, **family)
            out["p.value"] = padj.result
            if padj.message:
                messages.append(padj.message)
            if padj.note and padj.note not in notes:
                notes.append(padj.note)
        if back:
            out = self._back_transformed(out, ci, tests, messages)
        if self.avgd_over:
            messages.insert(0, f"Results are averaged over the levels of: {', '.join(self.avgd_over)}")
        out.attrs["messages"] = messages
        out.attrs["notes"] = notes
        return out

    def _family(self, by_list: list[str], by_rows: list[NDArray[np.intp]]) -> dict[str, Any]:
        """For `pooled` contrasts, the family emmeans' summary gives their adjustment: the number of
        contrasts per panel as it counts them, all rows over the product of each ``by`` variable's
        levels (not 1 where each of several nests holds one contrast, so that Tukey's adjustment
        stays), and, where the panels (``by_rows``, of ``by_list``) differ in size, each panel its own
        family (its "(varies)")."""
        if not self.pooled:
            return {}
        sizes = {len(r) for r in by_rows}
        if by_list and len(sizes) > 1:
            return {"varies": True}
        count = float(len(self.grid))
        for b in by_list:
            count /= len(pd.unique(self.grid[b]))
        return {"n_contr": count}

    def _scale_name(self) -> str:
        if self.inv_lbl == "odds.ratio":
            return "log odds ratio"
        return str(self.tran)

    def _back_transformed(self, out: pd.DataFrame, ci: bool, tests: bool, messages: list[str]) -> pd.DataFrame:
        """The summary's link-scale columns on the response scale (emmeans' ``type = "response"``)."""
        link = Link(str(self.tran))
        est = out[self.est_name].to_numpy(dtype=float)
        out = out.rename(columns={self.est_name: self.inv_lbl})
        out[self.inv_lbl] = link.linkinv(est)
        out["SE"] = np.abs(link.mu_eta(est)) * out["SE"].to_numpy(dtype=float)
        for c in ("asymp.LCL", "asymp.UCL", "lower.CL", "upper.CL"):
            if c in out.columns:
                out[c] = link.linkinv(out[c].to_numpy(dtype=float))
        scale = self._scale_name()
        if tests:
            stat = "z.ratio" if "z.ratio" in out.columns else "t.ratio"
            out.insert(list(out.columns).index(stat), "null", float(link.linkinv(np.zeros(1))[0]))
            messages.append(f"Tests are performed on the {scale} scale")
        if ci:
            messages.append(f"Intervals are back-transformed from the {scale} scale")
        return out

    def regrid(self) -> EmmGrid:
        """The estimates moved to the response scale (emmeans' ``regrid``): each becomes the inverse
        link of its link-scale estimate, with the delta method's gradient (d mu / d eta) L as its
        linear function of the fixed effects, so that intervals are symmetric on the response
        scale and contrasts are differences of probabilities (rates, ...), not ratios. An estimate
        without a transformation is returned unchanged.

        Examples
        --------
        >>> import mixedmodels as mm
        >>> m = mm.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)",
        ...              mm.datasets.load("cbpp"), family="binomial")
        >>> m.emmeans("~ period").regrid().pairs().frame["estimate"].round(3).tolist()[:3]
        [0.114, 0.124, 0.15]
        """
        if self.tran is None:
            return self
        link = Link(self.tran)
        eta = self.estimate
        d = np.asarray(link.mu_eta(eta), dtype=float)
        return replace(
            self,
            lf=d[:, None] * self.lf,
            offset=None,
            values=np.asarray(link.linkinv(eta), dtype=float),
            est_name=self.inv_lbl,
            tran=None,
            type="link",
        )

    # ------------------------------------------------------------ contrasts
    def contrast(
        self,
        method: str | Mapping[str, Sequence[float]] = "eff",
        by: str | list[str] | None = None,
        adjust: str | None = None,
        ref: int | str = 1,
        reverse: bool = False,
        name: str = "contrast",
    ) -> EmmGrid:
        """Contrasts of the estimates within each ``by`` panel (emmeans' ``contrast``).

        Parameters
        ----------
        method : str or dict
            "pairwise", "revpairwise", "trt.vs.ctrl" (each level minus the ``ref`` level;
            "trt.vs.ctrlk" and "dunnett" as emmeans), "poly" (orthogonal polynomials scaled to
            integers), "eff" (each level minus the mean), "del.eff", or a dict
            {name: weights} with one weight per level of a panel.
        by : str or list of str, optional
            Panels (default: this result's ``by`` variables; ``[]`` for none).
        adjust : str, optional
            The contrasts' adjustment (default: the family's: tukey for pairs, dunnettx for
            trt.vs.ctrl, fdr for eff, none for poly and for a dict).
        ref : int or str
            trt.vs.ctrl's control: a 1-based position (as emmeans) or a level's label.
        reverse : bool
            pairwise and trt.vs.ctrl: the other direction (control minus treatment).
        name : str
            Name of the contrast column.

        Examples
        --------
        >>> import mixedmodels as mm
        >>> m = mm.lmer("angle ~ recipe * temperature + (1 | recipe:replicate)", mm.datasets.load("cake"))
        >>> c = m.emmeans("~ temperature").contrast("poly")
        >>> c.frame[["contrast", "estimate"]].round(3).head(2)
            contrast  estimate
        0     linear    55.311
        1  quadratic    -3.533
        """
        by_list = self.by_vars if by is None else ([by] if isinstance(by, str) else list(by))
        bad = [b for b in by_list if b not in self.grid.columns]
        if bad:
            raise ArgumentError(f"by names {bad}, not a column of the grid ({list(self.grid.columns)})")
        by_rows = self._by_rows(by_list)
        sizes = {len(r) for r in by_rows}
        if len(sizes) != 1 and not self.nested:
            raise MixedModelsError("by panels of unequal sizes are not supported")
        lonely = self.nested and any(len(r) < 2 for r in by_rows)  # (a panel that compares nothing)
        if self.nested and len(sizes) != 1:
            by_rows = [r for r in by_rows if len(r) > 1] or by_rows[:1]
        pri = [c for c in self.grid.columns if c not in by_list]
        # emmeans' enhance.levels: a variable whose levels all read as numbers is named in them
        shown = {c: [_fmt_value(v) for v in self.grid[c]] for c in pri}
        for c in pri:
            if c != "1" and all(_reads_as_number(v) for v in shown[c]):
                shown[c] = [f"{c}{v}" for v in shown[c]]
        labels_all = [_level_label([shown[c][i] for c in pri]) for i in range(len(self.grid))]
        levs = [labels_all[i] for i in by_rows[0]]
        cmat, cnames, default_adjust, est_type, fam = _contrast_matrix(method, levs, ref, reverse)
        tran, inv_lbl, ratio = self._contrast_scale(cmat)
        if adjust is not None and (
            not isinstance(adjust, str) or adjust.lower() not in {a.lower() for a in ADJUSTMENTS}
        ):
            raise ArgumentError(f"adjust must be one of {', '.join(ADJUSTMENTS)}, not {adjust!r}")
        # emmeans contrasts the by panels of means that hold a nested factor one by one and binds them
        # (its .nested_contrast, rbind): one family of all their rows (`_pooled_family`)
        pooled = self.nested and len(by_rows) > 1
        adjusted = (adjust if adjust is not None else default_adjust).lower() != "none"
        if pooled and lonely and adjusted:
            raise ArgumentError(
                "a by panel here has one level, which emmeans shows as a row '(nothing)' that counts in its "
                "adjustment; not supported: give adjust='none' (emmeans' unadjusted values), or other by"
            )
        lf_rows, off_rows, al_rows, grid_rows, val_rows = [], [], [], [], []
        for rows in by_rows:
            panel_levels = [labels_all[i] for i in rows]
            panel = cmat
            if panel_levels != levs:  # a panel with its levels in another order or others: its own
                panel, names_here, *_r = _contrast_matrix(method, panel_levels, ref, reverse)
            else:
                names_here = cnames
            if ratio:  # emmeans' labels of ratios: "A / B"
                names_here = [n.replace(" - ", " / ") for n in names_here]
            lf_rows.append(panel.T @ self.lf[rows])
            if self.values is not None:
                val_rows.append(panel.T @ self.values[rows])
            if self.lf_aliased is not None:
                al_rows.append(panel.T @ self.lf_aliased[rows])
            if self.offset is not None:
                off_rows.append(panel.T @ self.offset[rows])
            for nm in names_here:
                g = {name: nm}
                for b in by_list:
                    g[b] = self.grid.loc[rows[0], b]
                grid_rows.append(g)
        grid = pd.DataFrame(grid_rows, columns=[name, *by_list])
        for b in by_list:
            col = self.grid[b]
            if isinstance(col.dtype, pd.CategoricalDtype):
                grid[b] = pd.Categorical(grid[b], categories=col.cat.categories, ordered=col.cat.ordered)
        return EmmGrid(
            fit=self.fit,
            grid=grid,
            lf=np.vstack(lf_rows),
            offset=np.concatenate(off_rows) if self.offset is not None else None,
            pri_vars=[name],
            by_vars=by_list,
            est_name="estimate",
            est_type=est_type,
            fam_size=len(grid_rows) if pooled else fam if fam is not None else len(by_rows[0]),
            adjust=default_adjust if adjust is None else next(a for a in ADJUSTMENTS if a.lower() == adjust.lower()),
            avgd_over=self.avgd_over,
            ddf=self.ddf,
            level=self.level,
            infer=(False, True),
            messages=self.messages,
            description=str(method) if isinstance(method, str) else "custom contrasts",
            tran=tran,
            inv_lbl=inv_lbl,
            type=self.type,
            values=np.concatenate(val_rows) if self.values is not None else None,
            lf_aliased=np.vstack(al_rows) if self.lf_aliased is not None else None,
            null_basis=self.null_basis,
            pooled=pooled,
        )

    def _contrast_scale(self, cmat: FloatArray) -> tuple[str | None, str, bool]:
        """emmeans' transformation of contrasts: of means on the log or logit scale, contrasts
        (weights summing to 0) are log ratios (odds ratios), back-transformed by exp and labelled
        "A / B" when the means were on the response scale (``type="response"``); on other links
        they stay on the link scale, without a transformation."""
        if self.tran in ("log", "logit") and cmat.size and bool(np.all(np.abs(cmat.sum(axis=0)) < 1e-3)):
            inv_lbl = "odds.ratio" if "odds.ratio" in (self.inv_lbl,) or self.tran == "logit" else "ratio"
            return "log", inv_lbl, self.type == "response"
        return None, "response", False

    def pairs(self, adjust: str | None = None, reverse: bool = False, by: str | list[str] | None = None) -> EmmGrid:
        """All pairwise differences within each ``by`` panel (emmeans' ``pairs``): "A - B", ...
        (``reverse=True``: "B - A", ..., emmeans' revpairwise), Tukey-adjusted by default.

        Examples
        --------
        >>> import mixedmodels as mm
        >>> m = mm.lmer("angle ~ recipe * temperature + (1 | recipe:replicate)", mm.datasets.load("cake"))
        >>> p = m.emmeans("~ recipe").pairs(adjust="bonferroni")
        >>> p.frame["p.value"].round(3).tolist()
        [1.0, 1.0, 1.0]
        """
        return self.contrast("revpairwise" if reverse else "pairwise", by=by, adjust=adjust)

    def with_ddf(self, ddf: str) -> EmmGrid:
        """The same estimates with another df method ("kenward-roger", "satterthwaite",
        "asymptotic").

        Examples
        --------
        >>> import mixedmodels as mm
        >>> m = mm.lmer("Reaction ~ Days + (Days | Subject)", mm.datasets.load("sleepstudy"))
        >>> e = m.emmeans("~ Days").with_ddf("asymptotic")
        >>> list(e.frame.columns)
        ['Days', 'emmean', 'SE', 'df', 'asymp.LCL', 'asymp.UCL']
        """
        return replace(self, ddf=_fit_ddf(self.fit, ddf))

    # ------------------------------------------------------------ printing
    def _panels(self, table: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
        if not self.by_vars:
            return [("", table)]
        out = []
        for rows in self._by_rows():
            head = ", ".join(f"{b} = {_fmt_value(self.grid.loc[rows[0], b])}" for b in self.by_vars)
            out.append((head + ":", table.iloc[rows].drop(columns=self.by_vars)))
        return out

    def __str__(self) -> str:
        table = self.frame
        lines: list[str] = []
        for head, part in self._panels(table):
            if head:
                lines.append(head)
            lines.extend(_format_table(part, self.est_name).splitlines())
            lines.append("")
        lines.extend(table.attrs["messages"])
        lines.extend(table.attrs["notes"])
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.__str__()

    def _repr_html_(self) -> str:
        table = self.frame
        parts = []
        for head, part in self._panels(table):
            if head:
                parts.append(f"<p><b>{html.escape(head)}</b></p>")
            shown = _formatted(part, self.est_name)
            parts.append(shown.to_html(index=False, escape=True))
        foot = "<br>".join(html.escape(x) for x in [*table.attrs["messages"], *table.attrs["notes"]])
        return "<div>" + "".join(parts) + f"<p><small>{foot}</small></p></div>"


# ---------------------------------------------------------------------------- contrast families
def _level_label(values: list[Any]) -> str:
    label = " ".join(_fmt_value(v) for v in values)
    return f"({label})" if _PARENS.search(label) else label


def _reads_as_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _fmt_value(v: Any) -> str:
    if isinstance(v, (float, np.floating)):
        return format(float(v), ".15g")
    return str(v)


def _poly(k: int) -> tuple[FloatArray, list[str]]:
    """emmeans' poly.emmc: R's orthogonal polynomials on 1..k, each scaled to integers."""
    deg = min(6, k - 1)
    x = np.arange(1, k + 1, dtype=float) - (k + 1) / 2
    basis = np.vander(x, deg + 1, increasing=True)
    q, r = np.linalg.qr(basis)
    q = q * np.sign(np.diag(r))  # leading coefficient positive, as R's poly
    cols = []
    for j in range(1, deg + 1):
        con = q[:, j].copy()
        con = con / np.min(con[con > 0.01])
        z = float(np.max(np.abs(con - np.round(con))))
        while z > 0.05:
            con = con / z
            z = float(np.max(np.abs(con - np.round(con))))
        cols.append(np.round(con))
    names = ["linear", "quadratic", "cubic", "quartic"] + [f"degree {d}" for d in range(5, 21)]
    return np.column_stack(cols) if cols else np.zeros((k, 0)), names[:deg]


def _contrast_matrix(
    method: str | Mapping[str, Sequence[float]], levs: list[str], ref: int | str, reverse: bool
) -> tuple[FloatArray, list[str], str, str, int | None]:
    """(levels x contrasts matrix, names, default adjustment, estType, famSize or None)."""
    k = len(levs)
    if isinstance(method, Mapping):
        names = [str(n) for n in method]
        cols = []
        for n, weights in method.items():
            arr = np.asarray(weights, dtype=float).ravel()
            if arr.size != k:
                raise ArgumentError(f"contrast {n!r} has {arr.size} weights; the panels have {k} levels ({levs})")
            cols.append(arr)
        cmat = np.column_stack(cols) if cols else np.zeros((k, 0))
        is_con = bool(np.all(np.abs(cmat.sum(axis=0)) < 0.001))
        return cmat, names, "none", "contrast" if is_con else "prediction", None
    if not isinstance(method, str) or method not in CONTRASTS:
        raise ArgumentError(f"method must be one of {', '.join(CONTRASTS)} or a dict of weights, not {method!r}")
    cols, names = [], []
    if method in ("pairwise", "revpairwise"):
        pairs = (
            [(i, j) for i in range(k - 1) for j in range(i + 1, k)]
            if method == "pairwise"
            else [(i, j) for i in range(1, k) for j in range(i)]
        )
        for i, j in pairs:
            con = np.zeros(k)
            con[i], con[j] = 1.0, -1.0
            cols.append(con)
            names.append(f"{levs[i]} - {levs[j]}")
        return _stack(cols, k), names, "tukey", "pairs", k
    if method in ("trt.vs.ctrl", "trt.vs.ctrlk", "dunnett"):
        if method == "trt.vs.ctrlk" and ref == 1:
            ref = k
        r = _ref_index(ref, levs)
        for i in range(k):
            if i == r:
                continue
            con = np.zeros(k)
            con[r], con[i] = -1.0, 1.0
            names.append(f"{levs[r]} - {levs[i]}" if reverse else f"{levs[i]} - {levs[r]}")
            cols.append(-con if reverse else con)
        cmat = _stack(cols, k)
        return cmat, names, "dunnettx", "contrast", None
    if method == "poly":
        cmat, names = _poly(k)
        return cmat, names, "none", "contrast", None
    # eff, del.eff
    w = np.full(k, 1.0 / k)
    for i in range(k):
        con = -w.copy()
        con[i] += 1
        if method == "del.eff":
            con = con / con[i]
        cols.append(con)
        names.append(f"{levs[i]} effect")
    return _stack(cols, k), names, "fdr", "contrast", None


def _stack(cols: list[FloatArray], k: int) -> FloatArray:
    return np.column_stack(cols) if cols else np.zeros((k, 0))


def _ref_index(ref: int | str, levs: list[str]) -> int:
    if isinstance(ref, str):
        if ref not in levs:
            raise ArgumentError(f"ref {ref!r} is not a level ({levs})")
        return levs.index(ref)
    if isinstance(ref, (bool, np.bool_)) or not isinstance(ref, (int, np.integer)) or not 1 <= int(ref) <= len(levs):
        raise ArgumentError(f"ref must be a level's label or its 1-based position (1..{len(levs)}), not {ref!r}")
    return int(ref) - 1


# ---------------------------------------------------------------------------- formatting
def _formatted(table: pd.DataFrame, est_name: str) -> pd.DataFrame:
    out = table.copy()
    se = table["SE"].to_numpy(dtype=float) if "SE" in table else np.array([1.0])
    finite_se = se[np.isfinite(se) & (se > 0)]
    digits = max(0, 2 - int(math.floor(math.log10(float(np.min(finite_se)))))) if finite_se.size else 4
    for c in out.columns:
        col = table[c]
        if c == "p.value":
            out[c] = [("<.0001" if p < 0.0001 else f"{p:.4f}") if np.isfinite(p) else "NA" for p in col]
        elif c == "df":
            out[c] = [
                (
                    "Inf"
                    if np.isinf(d)
                    else ("NA" if np.isnan(d) else (f"{d:.0f}" if abs(d - round(d)) < 1e-6 else f"{d:.1f}"))
                )
                for d in col
            ]
        elif c in ("t.ratio", "z.ratio"):
            out[c] = [f"{v:.3f}" for v in col]
        elif c in ("SE",):
            out[c] = [f"{v:.{digits}f}" for v in col]
        elif c in (est_name, "lower.CL", "upper.CL", "asymp.LCL", "asymp.UCL"):
            out[c] = [f"{v:.{max(digits - 1, 0)}f}" for v in col]
        else:
            out[c] = [_fmt_value(v) for v in col]
    return out


def _format_table(table: pd.DataFrame, est_name: str) -> str:
    shown = _formatted(table, est_name)
    cols = list(shown.columns)
    text = [[str(c) for c in cols]] + [[str(v) for v in row] for row in shown.itertuples(index=False)]
    widths = [max(len(r[j]) for r in text) for j in range(len(cols))]
    numeric = [
        c not in table.columns
        or c
        in (est_name, "SE", "df", "lower.CL", "upper.CL", "asymp.LCL", "asymp.UCL", "t.ratio", "z.ratio", "p.value")
        for c in cols
    ]
    lines = []
    for r in text:
        cells = [r[j].rjust(widths[j]) if numeric[j] else r[j].ljust(widths[j]) for j in range(len(cols))]
        lines.append(" " + " ".join(cells))
    return "\n".join(line.rstrip() for line in lines)


# ---------------------------------------------------------------------------- entry points
def ref_grid(
    m: LmerFit,
    at: Mapping[str, Any] | None = None,
    ddf: str | None = None,
    level: float = 0.95,
    type: str = "link",  # noqa: A002  (emmeans' name)
) -> EmmGrid:
    """The reference grid itself (emmeans' ``ref_grid``): one row per cell, its prediction.

    Parameters
    ----------
    m : LmerResult or GlmerResult
        An lmer or glmer fit.
    at : dict, optional
        Values of variables replacing their defaults (every factor level; a covariate's mean).
    ddf : {"kenward-roger", "satterthwaite", "asymptotic"}, optional
        Degrees-of-freedom method (default: kenward-roger for lmer fits; glmer fits have
        asymptotic inference only).
    level : float
        Confidence level.
    type : {"link", "response"}
        The scale of the summaries of a glmer fit (see `emmeans`).

    Returns
    -------
    EmmGrid
        Its `weights` are the observations per cell (emmeans' ``.wgt.``).

    Examples
    --------
    >>> import mixedmodels as mm
    >>> m = mm.lmer("angle ~ recipe * temperature + (1 | recipe:replicate)", mm.datasets.load("cake"))
    >>> ref_grid(m).grid.shape
    (18, 2)
    """
    fit = _check_fit(m)
    variables, _frame = _grid_variables(fit, at, "the reference grid")
    names = [v.name for v in variables] or ["1"]
    return _marginal(fit, names, None, at, ddf, level, None, None, type)


def emmeans(
    m: LmerFit,
    specs: str | Sequence[str],
    by: str | Sequence[str] | None = None,
    at: Mapping[str, Any] | None = None,
    ddf: str | None = None,
    level: float = 0.95,
    type: str = "link",  # noqa: A002  (emmeans' name)
) -> EmmGrid:
    """Estimated marginal means (R's ``emmeans(m, specs, by, at, lmer.df = ddf, type = type)``).

    Parameters
    ----------
    m : LmerResult or GlmerResult
        An lmer or glmer fit. For a glmer fit, as emmeans for glmerMod: the means are on the link
        scale, with asymptotic inference (z ratios, ``asymp.LCL``/``asymp.UCL``) from ``vcov``.
    specs : str or list of str
        As emmeans writes them: ``"~ sector"``, ``"~ sector | ses"`` (``ses`` panels),
        ``"~ sector * ses"``, ``"~ 1"`` (the overall mean), or a list of variable names.
    by : str or list of str, optional
        Panel variables (added to those after ``|``).
    at : dict, optional
        Values of variables: ``{"ses": [-1, 0, 1]}`` (a covariate's values replace its mean;
        a factor's levels restrict it). A covariate given several values and not in the specs
        is averaged over them.
    ddf : {"kenward-roger", "satterthwaite", "asymptotic"}, optional
        Degrees of freedom (and, for kenward-roger, the adjusted covariance for the SEs).
        Default: kenward-roger for lmer fits, asymptotic (the only one) for glmer fits.
        emmeans switches to asymptotic above 3000 observations unless told otherwise; here
        the method asked for is used.
    level : float
        Confidence level of the intervals.
    type : {"link", "response"}
        ``"response"``: the summaries back-transform a glmer fit's means (``prob`` for binomial,
        ``rate`` for Poisson; SE by the delta method; the link-scale interval back-transformed),
        and its pairs become ratios (``odds.ratio`` for the logit link, ``ratio`` for the log link,
        labelled "A / B"), as emmeans' ``type = "response"``; see `EmmGrid.summary` and
        `EmmGrid.regrid`. No effect for lmer fits.
    Returns
    -------
    EmmGrid
        ``.frame`` is the table; ``.pairs()``, ``.contrast()``, ``.summary()``.

    Examples
    --------
    >>> import mixedmodels as mm
    >>> m = mm.lmer("angle ~ recipe * temperature + (1 | recipe:replicate)", mm.datasets.load("cake"))
    >>> e = emmeans(m, "~ recipe")
    >>> e.frame[["recipe", "emmean", "SE", "df"]].round(4)
      recipe   emmean      SE    df
    0      A  33.1222  1.7368  42.0
    1      B  31.6444  1.7368  42.0
    2      C  31.6000  1.7368  42.0
    """
    return _marginal(_check_fit(m), specs, by, at, ddf, level, None, None, type)


def emtrends(
    m: LmerFit,
    specs: str | Sequence[str],
    var: str,
    by: str | Sequence[str] | None = None,
    at: Mapping[str, Any] | None = None,
    ddf: str | None = None,
    level: float = 0.95,
    delta_var: float | None = None,
) -> EmmGrid:
    """Estimated marginal trends: the slope of the linear predictor in ``var`` per cell of the
    specs (R's ``emtrends``), averaged as `emmeans` averages means.

    The slope is emmeans' forward difference quotient (L(var + h) - L(var)) / h with
    h = 0.001 * range(var) over the model's data (``delta_var`` overrides h): for a model linear
    in ``var`` this is the exact derivative up to rounding (~1e-12); for ``poly(var, 2)`` or
    ``I(var**2)`` terms it is emmeans' approximation.

    Parameters
    ----------
    m : LmerResult or GlmerResult
        An lmer or glmer fit (a glmer fit's trends are slopes of the linear predictor, on the
        link scale, with asymptotic inference, as emmeans' ``emtrends`` for glmerMod).
    specs : str or list of str
        As for `emmeans`: ``"~ sector"``, ``"~ 1"``, ...
    var : str
        The numeric covariate.
    by, at, ddf, level
        As for `emmeans`.
    delta_var : float, optional
        The step h.

    Examples
    --------
    >>> import mixedmodels as mm
    >>> m = mm.lmer("Reaction ~ Days + (Days | Subject)", mm.datasets.load("sleepstudy"))
    >>> t = emtrends(m, "~ 1", var="Days").frame
    >>> round(float(t["Days.trend"].iloc[0]), 4), round(float(t["df"].iloc[0]), 3)
    (10.4673, 17.0)
    """
    if not isinstance(var, str):
        raise ArgumentError(f"var must be the name of a numeric covariate, got {var!r}")
    return _marginal(_check_fit(m), specs, by, at, ddf, level, var, delta_var)
