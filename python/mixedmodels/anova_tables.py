"""Tests of the fixed-effect terms of one fit: lmerTest's type I, II and III F tables, car's Wald
chi-square and Kenward-Roger F tables, and lmerTest's ``drop1`` (F tests of the marginal terms).

Which R call each table reproduces:

=====================================================  =============================================
``anova_table(m, type, ddf="satterthwaite")``          ``anova(mt, type = type)`` (lmerTest)
``anova_table(m, type, ddf="kenward-roger")``          ``anova(mt, type = type, ddf = "Kenward-Roger")``
``anova_table(m, type, test="Chisq")`` (type 2 or 3)   ``car::Anova(m, type = type)``
``anova_table(m, type, test="F", method="car")``       ``car::Anova(m, type = type, test.statistic = "F")``
``drop1_f(m, ddf)``                                    ``drop1(mt, ddf = ...)`` (lmerTest)
=====================================================  =============================================

The hypothesis matrices (`hypotheses`) are lmerTest's, built the same way:

* type 1: the rows of the term's columns in t(L), L the unit lower-triangular factor of lmerTest's
  ``doolittle(X'X)`` (entries below 1e-6 set to zero): each term adjusted for the terms before it;
* type 2 (lmerTest's ``get_contrasts_type2_unfolded``): a term contained in no other term is tested
  by the identity rows of its columns; any other term by the type 1 rows of a Doolittle
  decomposition with the columns reordered as (the other terms, the term, the terms containing it);
* type 3: lmerTest's contrast-invariant construction (`_type3_contrasts`), in R's model matrix
  with treatment contrasts, mapped onto the fit's coefficients.

Containment is lmerTest's (``term_contain``): term A is contained in B when B has every variable of
A and more, and the same numeric variables, counting in each term only the variables R codes by
contrasts there (entry 1 of ``attr(terms, "factors")``): in ``a / b`` (``a + a:b``) the term ``a:b``
codes ``a`` by all its indicators, so it does not contain ``a``. A variable is numeric as the fit
coded it (``factor(x)``, ``ordered(x)``, ``C(x, ...)`` are factors). With one coefficient or one
term, types 2 and 3 are type 1, as in lmerTest.

car's tables use the coefficients as coded (treatment contrasts): type 3 tests each term's
coefficients = 0, ``(Intercept)`` included, so it depends on the coding (not contrast-invariant);
type 2 tests the part of a term's coefficients orthogonal, in the metric of the covariance V, to the
coefficients of the terms that contain it (car's ``relatives``: every variable of the term, no
condition on numeric ones). The Wald chi-square is b_L' (L V L')^-1 b_L with V = vcov(m); the F
version takes V = pbkrtest's ``vcovAdj`` for the type 2 construction, and pbkrtest's scaled F and
Kenward-Roger df.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import special

from .exceptions import ArgumentError, MixedModelsError
from .expressions import model_matrix, r_matrix, r_order
from .fitted import LmerFit
from .inference import F_COLUMNS, contest, inference_for, zapsmall
from .names import r_name
from .rcoding import categorical, r_contrasted, r_design_codes

__all__ = [
    "CHISQ_COLUMNS",
    "KR_F_COLUMNS",
    "FixedTerm",
    "anova_table",
    "car_hypotheses",
    "doolittle",
    "drop1_f",
    "fixed_terms",
    "hypotheses",
    "marginal_terms",
]

FloatArray = NDArray[np.float64]

CHISQ_COLUMNS = ["Chisq", "Df", "Pr(>Chisq)"]
KR_F_COLUMNS = ["F", "Df", "Df.res", "Pr(>F)"]


@dataclass(frozen=True)
class FixedTerm:
    """One term of the fixed part: its name as R prints it, its columns of X (positions in
    `fixef`), its variables, which of them are numeric (the rest are factors), which R codes by
    contrasts in it (entry 1 of ``attr(terms, "factors")``; the others, entry 2, by all their
    indicators), its variables in the formula's order, and whether the fit coded it as R does."""

    name: str
    columns: tuple[int, ...]
    variables: frozenset[str]
    numeric: frozenset[str]
    contrasted: frozenset[str] = frozenset()
    factors: tuple[str, ...] = ()
    as_r: bool = True


def fixed_terms(m: LmerFit, what: str = "tests of terms") -> tuple[bool, list[FixedTerm]]:
    """(has an intercept, the fixed part's terms other than the intercept, in the model's order).

    Whether a variable is numeric is what the fit's encoder made of it (formulaic's encoder state:
    numerical or categorical), so ``factor(x)``, ``as.factor(x)``, ``ordered(x)`` and ``C(x, ...)``
    are factors however they are spelled.

    Examples
    --------
    >>> import mixedmodels as mm
    >>> m = mm.lmer("angle ~ recipe * temperature + (1 | recipe:replicate)", mm.datasets.load("cake"))
    >>> intercept, terms = fixed_terms(m)
    >>> intercept, [(t.name, len(t.columns)) for t in terms]
    (True, [('recipe', 2), ('temperature', 5), ('recipe:temperature', 10)])
    >>> m = mm.lmer("angle ~ recipe / factor(temp) + (1 | recipe:replicate)", mm.datasets.load("cake"))
    >>> [(t.name, sorted(t.numeric), sorted(t.contrasted)) for t in fixed_terms(m)[1]]
    [('recipe', [], ['recipe']), ('recipe:factor(temp)', [], ['factor(temp)'])]
    """
    spec, _ = _spec_and_frame(m, what)
    has_intercept, terms, _ = _described_terms(m, spec)
    return has_intercept, terms


def _spec_and_frame(m: LmerFit, what: str) -> tuple[Any, pd.DataFrame]:
    try:
        return m.structure.encoding.formula(what).fixed, m.model.data.frame(what)
    except MixedModelsError as exc:
        raise MixedModelsError(f"{what} need a model fitted from a formula and a data frame") from exc


def _described_terms(m: LmerFit, spec: Any) -> tuple[bool, list[FixedTerm], bool]:
    """(has an intercept column, the terms, the formula has an intercept)."""
    keys = list(m.structure.fixed_keys)
    factor_vars = categorical(spec)
    has_intercept = formula_intercept = False
    rows = []
    for st in spec.structure:
        label = str(st.term)
        cols = tuple(keys.index(c) for c in st.columns if c in keys)
        if label == "1":
            formula_intercept = True
            has_intercept = bool(cols)
            continue
        factors = tuple(str(f) for f in st.term.factors)
        rank = getattr(spec, "variable_rank", None)
        if rank and len(factors) > 1:  # R's label: the variables in the formula's order (`r_order`)
            label = ":".join(factors[i] for i in r_order(factors, rank))
        reduced = [frozenset(str(f.factor) for f in s.factors if f.reduced) for s in st.scoped_terms]
        rows.append((label, cols, factors, reduced))
    factor_lists = [r[2] for r in rows]
    contrasted = r_contrasted(factor_lists)
    design = r_design_codes(factor_lists, contrasted, factor_vars, formula_intercept)
    out = []
    for (label, cols, factors, reduced), coded, used in zip(rows, contrasted, design, strict=True):
        as_r = len(reduced) == 1 and {v for v in reduced[0] if v in factor_vars} == used
        # lmerTest's numeric variables are R's numeric vectors: a matrix (poly, ns, bs, scale) is not one
        numeric = frozenset(v for v in factors if v not in factor_vars and not r_matrix(v))
        out.append(FixedTerm(r_name(label), cols, frozenset(factors), numeric, coded, factors, as_r))
    return has_intercept, out, formula_intercept


def _contains(a: FixedTerm, b: FixedTerm) -> bool:
    """lmerTest's ``term_contain``: b has every variable of a and more, and the same numeric ones,
    counting only the variables coded by contrasts in each (entry 1 of ``attr(terms, "factors")``)."""
    return a.contrasted < b.contrasted and a.contrasted & a.numeric == b.contrasted & b.numeric


def marginal_terms(m: LmerFit) -> list[str]:
    """The terms R's ``drop.scope`` allows dropping: those whose variables no other term has all of.

    Examples
    --------
    >>> import mixedmodels as mm
    >>> m = mm.lmer("angle ~ recipe * temperature + (1 | recipe:replicate)", mm.datasets.load("cake"))
    >>> marginal_terms(m)
    ['recipe:temperature']
    """
    _, terms = fixed_terms(m, "drop1")
    return [a.name for a in terms if not any(a is not b and a.variables <= b.variables for b in terms)]


def doolittle(x: FloatArray, eps: float = 1e-6) -> FloatArray:
    """lmerTest's ``doolittle(x)$L``: the unit lower-triangular factor of x = L U (no pivoting),
    with multipliers of a pivot below ``eps`` and entries below ``eps`` set to zero.

    Examples
    --------
    >>> doolittle(np.array([[4.0, 2.0], [2.0, 3.0]])).tolist()
    [[1.0, 0.0], [0.5, 1.0]]
    """
    n = x.shape[0]
    lo = np.eye(n)
    up = np.zeros((n, n))
    for i in range(n):
        up[i, :] = x[i, :] - lo[i, :i] @ up[:i, :]
        if i + 1 < n:
            col = x[i + 1 :, i] - lo[i + 1 :, :i] @ up[:i, i]
            lo[i + 1 :, i] = 0.0 if abs(up[i, i]) < eps else col / up[i, i]
    lo[np.abs(lo) < eps] = 0.0
    return lo


def _type1_rows(x: FloatArray) -> FloatArray:
    return np.eye(1) if x.shape[1] == 1 else doolittle(x.T @ x).T


def hypotheses(m: LmerFit, type: int = 3) -> dict[str, pd.DataFrame]:  # noqa: A002  (R's name)
    """lmerTest's hypothesis matrix of each term for ``anova(mt, type=type)`` (its
    ``attr(, "hypotheses")``): rows = contrasts, columns = the coefficients.

    Examples
    --------
    >>> import mixedmodels as mm
    >>> m = mm.lmer("Reaction ~ Days + (Days | Subject)", mm.datasets.load("sleepstudy"))
    >>> hypotheses(m, 1)["Days"].to_numpy().tolist()
    [[0.0, 1.0]]
    """
    names = list(m.structure.fixed_names)
    return {t: pd.DataFrame(lmat, columns=names) for t, lmat in _lmertest_contrasts(m, _check_type(type)).items()}


def _lmertest_contrasts(m: LmerFit, type_: int) -> dict[str, FloatArray]:
    what = f"type {_ROMAN[type_]} tests"
    spec, frame = _spec_and_frame(m, what)
    _, terms, formula_intercept = _described_terms(m, spec)
    x = m.model.data.rows(what).x
    p = x.shape[1]
    if p == 0 or not terms:
        return {}
    if type_ == 3 and p > 1 and len(terms) > 1:
        return _type3_contrasts(m, spec, frame, terms, formula_intercept)
    if all(t.as_r for t in terms):  # lmerTest's model matrix is the fit's
        return _type12_contrasts(x, [list(t.columns) for t in terms], terms, type_)
    # the fit coded a term otherwise than R (an interaction whose margins are absent): lmerTest's
    # tables are those of R's coding, whose coefficients are a linear map of the fit's
    design = _RDesign(m, spec, frame, terms, formula_intercept, treatment=False)
    xr, owner = design.matrix()
    rows = _type12_contrasts(xr, [np.flatnonzero(owner == i).tolist() for i in range(len(terms))], terms, type_)
    onto = np.linalg.lstsq(xr, x, rcond=None)[0]  # the fit's coefficients -> R's
    return {t: lmat @ onto for t, lmat in rows.items()}


def _type12_contrasts(
    x: FloatArray, columns: list[list[int]], terms: list[FixedTerm], type_: int
) -> dict[str, FloatArray]:
    """lmerTest's type 1 or 2 rows of each term in the coefficients of the model matrix x (its
    terms' columns ``columns``; type 3 with one column or one term is type 1, as in lmerTest)."""
    p = x.shape[1]
    if type_ != 2 or p <= 1 or len(terms) <= 1:
        lt = _type1_rows(x)
        return {t.name: lt[cols] for t, cols in zip(terms, columns, strict=True)}
    out = {}
    for i, t in enumerate(terms):
        containing = [j for j, b in enumerate(terms) if _contains(t, b)]
        if not containing:
            out[t.name] = np.eye(p)[columns[i]]
            continue
        tested = columns[i] + [c for j in containing for c in columns[j]]
        order = [c for c in range(p) if c not in tested] + tested
        lt = _type1_rows(x[:, order])
        rows = lt[[order.index(c) for c in columns[i]]]
        back = np.empty_like(rows)
        back[:, order] = rows  # columns back in X's order
        out[t.name] = back
    return out


def _type3_contrasts(
    m: LmerFit, spec: Any, frame: pd.DataFrame, terms: list[FixedTerm], intercept: bool
) -> dict[str, FloatArray]:
    """lmerTest's type III contrasts (``get_contrasts_type3``), in the fit's coefficients.

    lmerTest works in R's model matrix with treatment contrasts (whatever the model's coding):
    L = t(ginv(X) rdX), rdX the over-parameterised design (all indicator columns of every term);
    each term's columns of L are orthogonalised against those of the terms that contain it
    (`_contains`), higher-order terms first; a term's rows are its columns of the rows of L that
    are X's columns; the map ginv(X) X_fit takes them to the fit's coefficients.
    """
    design = _RDesign(m, spec, frame, terms, intercept, treatment=True)
    xt, owner = design.matrix()
    rdx = design.overparameterised()
    # rows: rdX's columns; columns: X's
    lmat = zapsmall(np.asarray(np.linalg.lstsq(xt, rdx, rcond=None)[0].T, dtype=np.float64))
    cols = [np.flatnonzero(owner == i).tolist() for i in range(len(terms))]
    for i in sorted(range(len(terms)), key=lambda i: -len(terms[i].variables)):  # R's order(, decreasing)
        cont = [c for j, b in enumerate(terms) if _contains(terms[i], b) for c in cols[j]]
        if cont and cols[i]:
            xs, ys = lmat[:, cont], lmat[:, cols[i]]
            fitted = xs @ np.linalg.lstsq(xs, ys, rcond=None)[0]
            lmat[:, cols[i]] = zapsmall(np.asarray(ys - fitted, dtype=np.float64))
    lsub = lmat[design.rd_columns]  # the rows of X's columns
    onto = zapsmall(np.asarray(np.linalg.lstsq(xt, m.model.data.rows("type III tests").x, rcond=None)[0]))
    out = {}
    for i, t in enumerate(terms):
        c = lsub[:, cols[i]].T
        out[t.name] = c[np.abs(c).sum(axis=1) > 1e-8] @ onto
    return out


class _RDesign:
    """R's model matrix of the fixed part (``model.matrix``): each term the product of its
    variables' columns (the first varying fastest), a factor coded by contrasts where R's
    ``TermCode`` says so and by all its indicators otherwise; then the columns R's ``qr`` (tolerance
    1e-7) finds aliased by earlier ones dropped, as lme4 drops them. ``treatment``: every factor's
    contrasts are treatment contrasts (lmerTest's remade X for type III), else the fit's.
    """

    def __init__(
        self, m: LmerFit, spec: Any, frame: pd.DataFrame, terms: list[FixedTerm], intercept: bool, treatment: bool
    ) -> None:
        self.terms = terms
        self.intercept = intercept
        self.treatment = treatment
        self.categorical = categorical(spec)
        self.codes = r_design_codes(
            [t.factors for t in terms], [t.contrasted for t in terms], self.categorical, intercept
        )
        self.spec = spec
        doubles: tuple[str, ...] = tuple(getattr(spec, "numeric", ()))
        trusted = bool(getattr(spec, "trusted", False))
        self.blocks: dict[str, FloatArray] = {}
        for t in terms:
            for v in t.factors:
                if v in self.blocks:
                    continue
                try:
                    mm = model_matrix(
                        f"0 + {v}", frame, doubles, trusted=trusted, ensure_full_rank=False, na_action="ignore"
                    )
                except Exception as exc:
                    raise MixedModelsError(
                        f"type {'III' if treatment else 'I/II'} tests: cannot code the variable {v!r} of the "
                        f"term {t.name!r} as R does ({exc})"
                    ) from exc
                self.blocks[v] = mm.to_numpy(dtype=np.float64)
        self.n = next(iter(self.blocks.values())).shape[0] if self.blocks else frame.shape[0]
        self.rd_columns: list[int] = []

    def _coding(self, v: str) -> FloatArray:
        """Factor v's contrasts (levels x columns)."""
        k = self.blocks[v].shape[1]
        state = (getattr(self.spec, "factor_contrasts", {}) or {}).get(v)
        if self.treatment or state is None:
            return np.eye(k)[:, 1:]
        coding = np.asarray(state.get_coding_matrix(reduced_rank=True), dtype=np.float64)
        if coding.shape[0] != k:
            raise MixedModelsError(f"cannot code the factor {v!r} as R does: {coding.shape[0]} levels, {k} columns")
        return coding

    def overparameterised(self) -> FloatArray:
        """lmerTest's ``get_rdX``: the intercept, then every term with all its indicator columns."""
        blocks = [_product([self.blocks[v] for v in t.factors]) for t in self.terms]
        return np.column_stack(([np.ones(self.n)] if self.intercept else []) + blocks)

    def matrix(self) -> tuple[FloatArray, NDArray[np.intp]]:
        """(X, the term of each column: -1 the intercept); sets `rd_columns`, where each column of
        X is in `overparameterised` (treatment contrasts only)."""
        cols: list[FloatArray] = [np.ones((self.n, 1))] if self.intercept else []
        owner = [-1] if self.intercept else []
        rd = [0] if self.intercept else []
        start = len(rd)
        for i, (t, coded) in enumerate(zip(self.terms, self.codes, strict=True)):
            parts, masks = [], []
            for v in t.factors:
                full = self.blocks[v]
                if v in coded:
                    parts.append(full @ self._coding(v))
                    masks.append(np.arange(full.shape[1]) > 0)
                else:
                    parts.append(full)
                    masks.append(np.ones(full.shape[1], dtype=bool))
            block = _product(parts)
            where = np.flatnonzero(_product_mask(masks))
            cols.append(block)
            owner += [i] * block.shape[1]
            rd += (start + where).tolist()
            start += int(np.prod([mk.size for mk in masks]))
        x = np.column_stack(cols) if cols else np.zeros((self.n, 0))
        keep = _r_independent(x)
        self.rd_columns = [rd[j] for j in keep]
        return x[:, keep], np.asarray(owner, dtype=np.intp)[keep]


def _product(blocks: list[FloatArray]) -> FloatArray:
    """The row-wise products of the columns of blocks, the first block's varying fastest (R's order
    of an interaction's columns)."""
    out = blocks[0]
    for b in blocks[1:]:
        out = (b[:, :, None] * out[:, None, :]).reshape(out.shape[0], -1)
    return out


def _product_mask(masks: list[NDArray[np.bool_]]) -> NDArray[np.bool_]:
    out = masks[0]
    for mk in masks[1:]:
        out = np.logical_and.outer(mk, out).ravel()
    return out


def _r_independent(x: FloatArray, tol: float = 1e-7) -> list[int]:
    """The columns R's ``qr(x, tol)`` keeps (LINPACK's limited pivoting, as lme4's and lmerTest's
    rank checks): a column goes when its part not explained by the kept earlier ones has norm
    below ``tol`` times its own."""
    keep: list[int] = []
    basis = np.empty(x.shape, order="F")  # the kept columns' orthonormal basis, filled in place
    for j in range(x.shape[1]):
        q = basis[:, : len(keep)]
        c = x[:, j]
        r = c - q @ (q.T @ c)
        r = r - q @ (q.T @ r)  # once more, for orthogonality to double precision
        norm = float(np.linalg.norm(c))
        rn = float(np.linalg.norm(r))
        if rn >= tol * (norm if norm > 0 else 1.0) and rn > 0:
            basis[:, len(keep)] = r / rn
            keep.append(j)
    return keep


_ROMAN = {1: "I", 2: "II", 3: "III"}


def _check_type(type_: object) -> int:
    key = type_.upper() if isinstance(type_, str) else type_
    table = {1: 1, 2: 2, 3: 3, "1": 1, "2": 2, "3": 3, "I": 1, "II": 2, "III": 3}
    if isinstance(key, bool) or not isinstance(key, (int, str, np.integer)) or key not in table:
        raise ArgumentError(f"type must be 1, 2 or 3 (or 'I', 'II', 'III'), not {type_!r}")
    return table[key]


def _check_ddf(ddf: object) -> str:
    key = ddf.lower().replace("_", "-") if isinstance(ddf, str) else None
    if key not in ("satterthwaite", "kenward-roger", "kr"):
        raise ArgumentError(f"ddf must be 'satterthwaite' or 'kenward-roger', not {ddf!r}")
    return "kenward-roger" if key == "kr" else str(key)


def _f_table(m: LmerFit, contrasts: dict[str, FloatArray], ddf: str) -> pd.DataFrame:
    rows = [(term, *contest(m, lmat, ddf)) for term, lmat in contrasts.items()]
    out = pd.DataFrame(rows, columns=["term", *F_COLUMNS]).set_index("term")
    out["NumDF"] = out["NumDF"].astype(int)
    return out


def car_hypotheses(m: LmerFit, type: int = 2, vcov: FloatArray | None = None) -> dict[str, FloatArray]:  # noqa: A002
    """car's hypothesis matrix of each term for ``car::Anova(m, type=type)``.

    Type 3: the identity rows of the term's coefficients, ``(Intercept)`` first. Type 2
    (car's ``Anova.II.mer``): the part of span(term's and relatives' coefficients) orthogonal in
    the metric ``vcov`` (default: the fit's) to span(relatives' coefficients), car's ``ConjComp``.

    Examples
    --------
    >>> import mixedmodels as mm
    >>> m = mm.lmer("Reaction ~ Days + (Days | Subject)", mm.datasets.load("sleepstudy"))
    >>> {k: v.tolist() for k, v in car_hypotheses(m, 3).items()}
    {'(Intercept)': [[1.0, 0.0]], 'Days': [[0.0, 1.0]]}
    """
    type_ = _check_type(type)
    has_intercept, terms = fixed_terms(m, "car's Anova")
    p = m.structure.p
    eye = np.eye(p)
    v = m.vcov_array if vcov is None else vcov
    out: dict[str, FloatArray] = {}
    if type_ == 3:
        if has_intercept:
            icol = [c for c in range(p) if all(c not in t.columns for t in terms)]
            out["(Intercept)"] = eye[icol]
        out.update({t.name: eye[list(t.columns)] for t in terms})
        return out
    if type_ != 2:
        raise ArgumentError(f"car's Anova has types 2 and 3, not {type!r}")
    for t in terms:
        rel = [c for b in terms if b is not t and t.variables <= b.variables for c in b.columns]
        h2 = eye[rel + list(t.columns)]
        if not rel:
            out[t.name] = h2
            continue
        h1 = eye[rel]
        # ConjComp(t(h1), t(h2), V): Z Q[, -(1:rank)], Q from a complete QR of Z' V X
        zvx = h2 @ v @ h1.T
        q, r = np.linalg.qr(zvx, mode="complete")
        rank = int(np.linalg.matrix_rank(zvx))
        hyp = (h2.T @ q[:, rank:]).T
        out[t.name] = hyp[~np.all(hyp == 0, axis=1)]
    return out


def _wald_chisq(m: LmerFit, lmat: FloatArray) -> tuple[float, int, float]:
    lb = lmat @ m.beta
    chisq = float(lb @ np.linalg.solve(lmat @ m.vcov_array @ lmat.T, lb))
    q = lmat.shape[0]
    return chisq, q, float(special.chdtrc(q, chisq))


def _kr_f(m: LmerFit, lmat: FloatArray) -> tuple[float, int, float, float]:
    fu, scaling, q, den = inference_for(m).kenward_roger.f_test(lmat, m.beta)
    f = fu * scaling
    return f, q, den, float(special.fdtrc(q, den, f))


def anova_table(
    m: LmerFit,
    type: int | str = 3,  # noqa: A002  (R's name)
    ddf: str | None = None,
    test: str = "F",
    method: str | None = None,
) -> pd.DataFrame:
    """A table of tests of the fixed-effect terms (see the module's docstring for the R calls).

    Parameters
    ----------
    m : LmerFit
    type : {1, 2, 3}
        The type of the hypotheses (also ``"I"``, ``"II"``, ``"III"``).
    ddf : {"satterthwaite", "kenward-roger"}, optional
        Denominator df of F tests: lmerTest's default Satterthwaite, or Kenward-Roger (the only
        one car's F tables have, and their default).
    test : {"F", "Chisq"}
        F tests, or car's Wald chi-square tests (types 2 and 3).
    method : {"lmerTest", "car"}, optional
        Whose tables: lmerTest's (default for F tests) or car's (the only one for ``"Chisq"``).

    Returns
    -------
    DataFrame indexed by term: lmerTest's ``Sum Sq, Mean Sq, NumDF, DenDF, F value, Pr(>F)``;
    car's ``Chisq, Df, Pr(>Chisq)`` or ``F, Df, Df.res, Pr(>F)``. ``attrs["heading"]`` holds R's heading.
    A model with an intercept only gives an empty table (lmerTest's, and car's type 2, for which
    car itself fails with "invalid subscript type 'list'"); car's type 3 then has the ``(Intercept)`` row.

    Examples
    --------
    >>> import mixedmodels as mm
    >>> m = mm.lmer("Reaction ~ Days + (Days | Subject)", mm.datasets.load("sleepstudy"))
    >>> round(float(anova_table(m, 2, test="Chisq").loc["Days", "Chisq"]), 3)
    45.853
    """
    type_ = _check_type(type)
    if not isinstance(test, str) or test.lower() not in ("f", "chisq"):
        raise ArgumentError(f"test must be 'F' or 'Chisq', not {test!r}")
    chisq = test.lower() == "chisq"
    if method is None:
        method = "car" if chisq else "lmerTest"
    if not isinstance(method, str) or method.lower() not in ("lmertest", "car"):
        raise ArgumentError(f"method must be 'lmerTest' or 'car', not {method!r}")
    car = method.lower() == "car"
    glmm = hasattr(m, "family")
    if chisq and not car:
        raise ArgumentError("test='Chisq' gives car's Wald chi-square tables: method='car' (or None)")
    if car and type_ == 1:
        raise ArgumentError("car's Anova has types 2 and 3, not type 1 (type 1 is lmerTest's, test='F')")
    if glmm and not chisq:
        raise MixedModelsError(
            "F tests (lmerTest's Satterthwaite and Kenward-Roger tables, car's F) are for linear mixed "
            "models; for a glmer fit use test='Chisq' (car's Wald chi-square tables)"
        )
    if chisq:
        if ddf is not None:
            raise ArgumentError(f"ddf applies to F tests, not test='Chisq' (got ddf={ddf!r})")
        rows = [(t, *_wald_chisq(m, lmat)) for t, lmat in car_hypotheses(m, type_).items()]
        out = pd.DataFrame(rows, columns=["term", *CHISQ_COLUMNS]).set_index("term")
        out["Df"] = out["Df"].astype(int)
        out.attrs["heading"] = f"Analysis of Deviance Table (Type {_ROMAN[type_]} Wald chisquare tests)"
        return out
    key = _check_ddf("satterthwaite" if ddf is None and not car else "kenward-roger" if ddf is None else ddf)
    if car:
        if key != "kenward-roger":
            raise ArgumentError(f"car's F tables use Kenward-Roger df: ddf='kenward-roger', not {ddf!r}")
        kr = inference_for(m).kenward_roger
        rows2 = [(t, *_kr_f(m, lmat)) for t, lmat in car_hypotheses(m, type_, vcov=kr.phi_adj).items()]
        out = pd.DataFrame(rows2, columns=["term", *KR_F_COLUMNS]).set_index("term")
        out["Df"] = out["Df"].astype(int)
        out.attrs["heading"] = f"Analysis of Deviance Table (Type {_ROMAN[type_]} Wald F tests with Kenward-Roger df)"
        return out
    out = _f_table(m, _lmertest_contrasts(m, type_), key)
    method_name = "Satterthwaite's" if key == "satterthwaite" else "Kenward-Roger's"
    out.attrs["heading"] = f"Type {_ROMAN[type_]} Analysis of Variance Table with {method_name} method"
    return out


def drop1_f(m: LmerFit, ddf: str = "satterthwaite") -> pd.DataFrame:
    """lmerTest's ``drop1(mt, ddf=...)``: F tests that the coefficients of each marginal term
    (`marginal_terms`) are zero (the identity rows of its columns), Satterthwaite or Kenward-Roger df.

    Examples
    --------
    >>> import mixedmodels as mm
    >>> m = mm.lmer("angle ~ recipe * temperature + (1 | recipe:replicate)", mm.datasets.load("cake"))
    >>> drop1_f(m).index.tolist()
    ['recipe:temperature']
    """
    if hasattr(m, "family"):
        raise MixedModelsError("drop1 with F tests is for linear mixed models; for a glmer fit use test='Chisq'")
    key = _check_ddf(ddf)
    _, terms = fixed_terms(m, "drop1")
    keep = set(marginal_terms(m))
    eye = np.eye(m.structure.p)
    out = _f_table(m, {t.name: eye[list(t.columns)] for t in terms if t.name in keep}, key)
    out.attrs["heading"] = (
        f"Single term deletions using {'Satterthwaite' if key == 'satterthwaite' else 'Kenward-Roger'}'s method"
    )
    return out
