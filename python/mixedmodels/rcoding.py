"""How R's ``model.matrix`` codes the factors of each term of a fixed part (``TermCode``), beside how
formulaic coded them: the one place that knows where the two differ (an interaction whose margins
are absent from the formula). `anova_tables` rebuilds R's coding from it; `design` warns of it."""

from __future__ import annotations

from typing import Any

from .names import r_name

__all__ = ["categorical", "coded_otherwise", "r_contrasted", "r_design_codes"]


def categorical(spec: Any) -> frozenset[str]:
    """The variables formulaic's encoder coded as categorical (its encoder state) in a model spec."""
    state = getattr(spec, "encoder_state", {}) or {}
    return frozenset(str(v) for v, (kind, _) in state.items() if getattr(kind, "value", kind) == "categorical")


def r_contrasted(terms: list[tuple[str, ...]]) -> list[frozenset[str]]:
    """The variables R codes by contrasts in each term (entry 1 of ``attr(terms, "factors")``, R's
    ``TermCode``): v is, unless the term without v is non-empty and in no earlier term.

    Examples
    --------
    >>> [sorted(c) for c in r_contrasted([("a",), ("a", "b")])]  # a / b: b by contrasts, a by indicators
    [['a'], ['b']]
    """
    out = []
    for j, term in enumerate(terms):
        seen = [set(t) for t in terms[:j]]
        out.append(frozenset(v for v in term if not (rest := set(term) - {v}) or any(rest <= t for t in seen)))
    return out


def r_design_codes(
    terms: list[tuple[str, ...]], contrasted: list[frozenset[str]], factors: frozenset[str], intercept: bool
) -> list[frozenset[str]]:
    """The factors (of ``factors``, the categorical variables) R's ``model.matrix`` codes by contrasts
    in each term: those of `r_contrasted`, but without an intercept the first factor of the first
    term with one is coded by indicators.

    Examples
    --------
    >>> terms = [("a",), ("a", "b")]
    >>> [sorted(c) for c in r_design_codes(terms, r_contrasted(terms), frozenset("ab"), False)]
    [[], ['b']]
    """
    out = [frozenset(c & factors) for c in contrasted]
    if not intercept:
        order = list(dict.fromkeys(v for t in terms for v in t))
        for j, term in enumerate(terms):
            first = next((v for v in order if v in term and v in factors), None)
            if first is not None:
                out[j] = out[j] - {first}
                break
    return out


def coded_otherwise(spec: Any) -> list[str]:
    """The terms (as R names them) of a formulaic model spec whose factors formulaic coded otherwise
    than R's ``model.matrix`` would: the same column space, but other columns under R's names.

    Examples
    --------
    >>> import formulaic, pandas as pd
    >>> d = pd.DataFrame({"a": list("xyxy"), "b": list("ppqq")})
    >>> coded_otherwise(formulaic.model_matrix("a:b", d).model_spec)
    ['a:b']
    >>> coded_otherwise(formulaic.model_matrix("a * b", d).model_spec)
    []
    """
    cat = categorical(spec)
    rows = []
    intercept = False
    for st in getattr(spec, "structure", ()):
        label = str(st.term)
        if label == "1":
            intercept = True
            continue
        reduced = [frozenset(str(f.factor) for f in s.factors if f.reduced) for s in st.scoped_terms]
        rows.append((label, tuple(str(f) for f in st.term.factors), reduced))
    lists = [r[1] for r in rows]
    codes = r_design_codes(lists, r_contrasted(lists), cat, intercept)
    return [
        r_name(label)
        for (label, _, reduced), used in zip(rows, codes, strict=True)
        if not (len(reduced) == 1 and {v for v in reduced[0] if v in cat} == used)
    ]
