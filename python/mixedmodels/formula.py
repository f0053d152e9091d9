"""Symbolic side of a mixed-model formula: pull lme4's bar terms out before formulaic sees the rest.

``mAch ~ ses + (1 + ses | school)`` becomes a response ``mAch``, a fixed part ``ses`` (materialised by
formulaic) and one `RandomTerm` with left-hand side ``1 + ses`` on grouping factor ``school``.
Nesting ``(1 | a/b)`` expands to ``(1 | b:a) + (1 | a)`` and ``(x || g)`` to one term per column
group, exactly as lme4 1.1 does. As in R, ``|`` binds more loosely than ``+``: ``y ~ x | g`` is
``y ~ (x | g)`` (an unparenthesised bar makes the whole right-hand side one term); redundant
parentheses ``((1 | g))`` are read through, and terms must be joined by an operator (``(1 | g)(1 | h)``
is an error naming the position).

Every piece is vetted and translated by `expressions.translate` before anything (formulaic's parser
included) reads it: the parts of a `ParsedFormula` are the text formulaic evaluates, and nothing
outside the whitelist of `expressions` gets that far. ``trusted=True`` skips the vetting.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass

import formulaic

from .exceptions import FormulaError
from .expressions import Translation, located_error, translate, unquoted

__all__ = ["ParsedFormula", "RandomTerm", "parse_formula", "update_formula"]


@dataclass(frozen=True)
class RandomTerm:
    """One random-effects term ``(lhs | group)`` after expansion of ``/`` and ``||``.

    Attributes
    ----------
    lhs : str
        The model formula of the term's columns, e.g. ``"1 + ses"`` or ``"0 + Days"`` (as formulaic
        reads it: see `expressions.translate`).
    factors : tuple of str
        The grouping variables; more than one for an interaction grouping ``a:b``.
    source : str
        The bar term as the user wrote it.
    """

    lhs: str
    factors: tuple[str, ...]
    source: str

    @property
    def group(self) -> str:
        """The grouping factor's name as lme4 prints it (``a:b`` for an interaction)."""
        return ":".join(self.factors)


@dataclass(frozen=True)
class ParsedFormula:
    """A formula split into its response, fixed part and random terms.

    Attributes
    ----------
    text : str
        The formula as written.
    response, fixed : str
        The response (a column's name, or an expression as formulaic reads it) and the fixed part.
    random : tuple of RandomTerm
        The random-effects terms after expansion.
    variables : frozenset of str
        Every data column the formula names, inside function calls too (None when ``trusted``:
        formulaic finds them).
    numeric : frozenset of str
        The columns arithmetic or a numeric function sees (computed in double, as R does).
    data_dependent : frozenset of str
        The functions called whose columns depend on all the rows (``scale``, ``center``, ``poly``).
    trusted : bool
        Not vetted: the formula may run arbitrary Python code.
    offsets : tuple of str
        The expressions of the fixed part's ``offset(...)`` terms (taken out of `fixed`; their sum
        enters the linear predictor with coefficient 1).
    counts : tuple of (str, str), or None
        For a response ``cbind(successes, failures)``, the two expressions (binomial counts);
        `response` is then the whole ``cbind(...)`` text.
    """

    text: str
    response: str
    fixed: str
    random: tuple[RandomTerm, ...]
    variables: frozenset[str] | None = None
    numeric: frozenset[str] = frozenset()
    data_dependent: frozenset[str] = frozenset()
    trusted: bool = False
    offsets: tuple[str, ...] = ()
    counts: tuple[str, str] | None = None


_error = located_error


def _matching_paren(text: str, start: int) -> int:
    depth = 0
    for i in range(start, len(text)):
        if text[i] == "(":
            depth += 1
        elif text[i] == ")":
            depth -= 1
            if depth == 0:
                return i
    raise _error(text, start, "unbalanced parenthesis: '(' is never closed")


def _top_level(text: str, start: int, end: int, char: str) -> list[int]:
    """Positions of `char` at parenthesis depth 0 within text[start:end] (outside quotes: `unquoted`)."""
    out, depth = [], 0
    for i, c in unquoted(text, start, end):
        if c in "([":
            depth += 1
        elif c in ")]":
            depth -= 1
        elif c == char and depth == 0:
            out.append(i)
    return out


def _check_parens(text: str) -> None:
    depth = 0
    for i, c in unquoted(text, 0, len(text)):
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth < 0:
                raise _error(text, i, "unbalanced parenthesis: ')' without an opening '('")
    if depth > 0:
        raise _error(text, text.rfind("("), "unbalanced parenthesis: '(' is never closed")


_NAME = re.compile(r"^\s*([A-Za-z_.][\w.]*|`[^`]+`)\s*$")


def _group_factors(text: str, expr: str, pos: int) -> list[tuple[str, ...]]:
    """Grouping expression -> one tuple of variable names per expanded term (lme4 order)."""
    if not expr.strip():
        raise _error(text, pos, "empty grouping factor after '|'")
    slash = [s for s in expr.split("/")]
    parts: list[list[str]] = []
    offset = pos
    for s in slash:
        names: list[str] = []
        for piece in s.split(":"):
            m = _NAME.match(piece)
            if not m:
                raise _error(text, offset, f"grouping factor {piece.strip()!r} is not a variable name")
            names.append(m.group(1).strip("`"))
            offset += len(piece) + 1
        parts.append(names)
    if len(parts) == 1:
        return [tuple(parts[0])]
    # a/b/c -> c:b:a, b:a, a  (lme4's makeInteraction: innermost first)
    out = []
    for depth in range(len(parts), 0, -1):
        joined: list[str] = []
        for p in reversed(parts[:depth]):
            joined.extend(p)
        out.append(tuple(joined))
    return out


def _lhs_terms(lhs: str) -> list[str]:
    """For ``||``: the lhs split into formulaic terms, the intercept first (lme4 1.1 semantics)."""
    try:
        terms = [str(t) for t in formulaic.Formula(lhs)]
    except Exception as exc:  # formulaic raises several types for bad syntax
        raise FormulaError(f"cannot parse random-effects terms {lhs!r}: {exc}") from exc
    out = []
    for t in terms:
        out.append("1" if t == "1" else f"0 + {t}")
    return out


def parse_formula(text: str | ParsedFormula, *, trusted: bool = False) -> ParsedFormula:
    """Split an lme4 formula into response, fixed part and random-effects terms, vetting its code.

    Parameters
    ----------
    text : str or ParsedFormula
        A formula such as ``"Reaction ~ Days + (Days | Subject)"`` (a parsed one is returned as it
        is, unless ``trusted`` asks for a trusted one).
    trusted : bool
        Skip the vetting: the formula's code is handed to formulaic as written, and evaluating it
        **runs arbitrary Python code** (``__import__('os')...``). Only for formulas you wrote.

    Returns
    -------
    ParsedFormula

    Examples
    --------
    >>> pf = parse_formula("y ~ x + (1 | a/b) + (x || g)")
    >>> pf.fixed
    'x'
    >>> [(t.lhs, t.group) for t in pf.random]
    [('1', 'b:a'), ('1', 'a'), ('1', 'g'), ('0 + x', 'g')]
    >>> parse_formula("y ~ I(x^2) + log(Informed.liking) + (1 | g)").fixed
    'I(x**2) + log(`Informed.liking`)'
    """
    if isinstance(text, ParsedFormula):
        return text if text.trusted or not trusted else _parse(text.text, True)
    if not isinstance(text, str):
        raise FormulaError(f"the formula must be a string, got {type(text).__name__}")
    return _parse(text, trusted)


_BARE = re.compile(r"^\s*(?:`([^`]+)`|([^\W\d][\w.]*|\.(?![0-9])[\w.]*))\s*$")


@functools.lru_cache(maxsize=512)
def _parse(text: str, trusted: bool) -> ParsedFormula:
    """`parse_formula` of a string (cached: the result is immutable, and refits parse again)."""
    if not text.strip():
        raise FormulaError("the formula is empty")
    _check_parens(text)
    tildes = _top_level(text, 0, len(text), "~")
    if not tildes:
        raise FormulaError(f"the formula has no '~' separating the response from the terms: {text!r}")
    if len(tildes) > 1:
        raise _error(text, tildes[1], "the formula has more than one '~'")
    t = tildes[0]
    response = text[:t].strip()
    if not response:
        raise _error(text, 0, "the formula has no response on the left of '~'")
    # before anything reads the code: the response (where a comparison may stand bare, y > 1 ~ x, as
    # '~' binds loosest in R) and the right-hand side
    whole = None if trusted else _joined(translate(text, 0, t, terms=False), translate(text, t + 1))

    def piece(a: int, b: int) -> str:  # an offset's expression or cbind's counts: numbers, not terms
        return text[a:b].strip() if whole is None else translate(text, a, b, terms=False).text.strip()

    counts = _counts(text, t, piece)
    if whole is not None and counts is None:
        bare = _BARE.match(response)
        response = (bare.group(1) or bare.group(2)) if bare else translate(text, 0, t, terms=False).text.strip()
    rhs_start = t + 1
    spans: list[tuple[int, int]] = []
    terms: list[RandomTerm] = []
    offsets: list[str] = []
    top = _top_level(text, rhs_start, len(text), "|")
    if top:  # lme4 (R's precedence): an unparenthesised '|' makes the whole right-hand side one term
        spans.append((rhs_start, len(text)))
        source = text[rhs_start:].strip()
        terms.extend(_bar_term(text, rhs_start, len(text), top, trusted, source))
    i = rhs_start if not top else len(text)
    while i < len(text):
        call = _OFFSET.match(text, i)
        if call and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] in "._`")):
            j = _matching_paren(text, call.end() - 1)
            if not text[call.end() : j].strip():
                raise _error(text, i, "offset() needs an expression, as offset(log(exposure))")
            spans.append((i, j + 1))
            offsets.append(piece(call.end(), j))
            i = j + 1
            continue
        if text[i] == "(":
            j = _matching_paren(text, i)
            before = _previous(text, i, rhs_start)
            if before is not None and _ends_name(text, before[0], rhs_start):
                i = j + 1  # a call, e.g. log(x): vetted as code
                continue
            a, b = _unwrap(text, i, j)  # ((1 | g)) is (1 | g)
            bars = _top_level(text, a + 1, b, "|")
            if bars:
                if before is not None and before[1] != "+":  # (1 | g)(1 | h), x (1 | g), 2 (1 | g)
                    raise _error(
                        text, i, "terms must be joined by an operator: a random-effects term is added with '+'"
                    )
                after = _next(text, j + 1)
                if after is not None and text[after] not in "+-":
                    raise _error(text, after, "terms must be joined by an operator such as '+'")
                spans.append((i, j + 1))
                terms.extend(_bar_term(text, a + 1, b, bars, trusted, text[a : b + 1]))
            elif before is not None and before[1] == ")":
                raise _error(text, i, "terms must be joined by an operator such as '+'")
            i = j + 1
        else:
            i += 1
    pieces, last = [], rhs_start
    for a, b in spans:
        pieces.append(text[last:a])
        pieces.append(" ")
        last = b
    pieces.append(text[last:])
    fixed = "".join(pieces)
    fixed = re.sub(r"\+\s*(?=[+)]|-|$)", "", fixed.strip())
    fixed = re.sub(r"^\s*\+", "", fixed).strip()
    fixed = re.sub(r"\s+", " ", fixed)
    if not fixed:
        fixed = "1"
    elif fixed.startswith("-"):
        fixed = "1 " + fixed
    if whole is None:
        return ParsedFormula(
            text=text,
            response=response,
            fixed=fixed,
            random=tuple(terms),
            trusted=True,
            offsets=tuple(offsets),
            counts=counts,
        )
    return ParsedFormula(
        text=text,
        response=response,
        fixed=translate(fixed).text,
        random=tuple(terms),
        variables=whole.variables,
        numeric=whole.numeric,
        data_dependent=whole.data_dependent,
        offsets=tuple(offsets),
        counts=counts,
    )


def _joined(a: Translation, b: Translation) -> Translation:
    """Two pieces of a formula's translation as one (their variables, numeric columns and
    data-dependent calls; the text is a's and b's joined by '~')."""
    return Translation(
        f"{a.text} ~ {b.text}",
        a.variables | b.variables,
        a.numeric | b.numeric,
        a.data_dependent | b.data_dependent,
    )


_OFFSET = re.compile(r"offset\s*\(")
_CBIND = re.compile(r"\s*cbind\s*\(")


def _counts(text: str, tilde: int, piece: Callable[[int, int], str]) -> tuple[str, str] | None:
    """The two expressions of a response ``cbind(successes, failures)``, or None for another response."""
    m = _CBIND.match(text)
    if not m:
        return None
    close = _matching_paren(text, m.end() - 1)
    if text[close + 1 : tilde].strip():
        raise _error(text, close + 1, "cbind(successes, failures) must be the whole response")
    commas = _top_level(text, m.end(), close, ",")
    if len(commas) != 1:
        raise _error(text, m.start(), "cbind() takes two columns: cbind(successes, failures)")
    a, b = piece(m.end(), commas[0]), piece(commas[0] + 1, close)
    if not a or not b:
        raise _error(text, m.start(), "cbind() takes two columns: cbind(successes, failures)")
    return a, b


def _previous(text: str, i: int, start: int) -> tuple[int, str] | None:
    """The last character before text[i] that is not a space (None when there is none after ``start``)."""
    k = i - 1
    while k >= start and text[k].isspace():
        k -= 1
    return (k, text[k]) if k >= start else None


def _ends_name(text: str, k: int, start: int) -> bool:
    """text[k] ends a name (a function's, before its parenthesis), not a number."""
    if text[k] == "`":
        return True
    while k >= start and (text[k].isalnum() or text[k] in "._"):
        k -= 1
    return k + 1 < len(text) and (text[k + 1].isalpha() or text[k + 1] in "._")


def _next(text: str, i: int) -> int | None:
    """The position of the first character from text[i] on that is not a space (None at the end)."""
    while i < len(text) and text[i].isspace():
        i += 1
    return i if i < len(text) else None


def _unwrap(text: str, i: int, j: int) -> tuple[int, int]:
    """The innermost of redundant parentheses ``((...))`` around text[i:j+1] (R's findbars reads
    through them)."""
    while True:
        a = _next(text, i + 1)
        if a is None or text[a] != "(":
            return i, j
        b = j - 1
        while b > a and text[b].isspace():
            b -= 1
        if _matching_paren(text, a) != b:
            return i, j
        i, j = a, b


def _bar_term(text: str, start: int, end: int, bars: list[int], trusted: bool, source: str) -> list[RandomTerm]:
    """The random-effects terms of ``lhs | group`` in text[start:end] (``bars``: its top-level '|')."""
    b = bars[0]
    double = b + 1 < end and text[b + 1] == "|"
    if len(bars) > (2 if double else 1):
        raise _error(text, bars[-1], "a random-effects term has more than one '|'")
    lhs = text[start:b].strip()
    gstart = b + 2 if double else b + 1
    if not lhs:
        raise _error(text, start, "empty left-hand side in a random-effects term (write '1' for an intercept)")
    inner = next((i for i, c in unquoted(text, start, b) if c == "|"), None)  # (a backticked `a|b` is a name)
    if inner is not None:
        raise _error(text, inner, "a random-effects term inside another's left-hand side")
    call = _OFFSET.search(text, start, b)
    if call and (call.start() == 0 or not (text[call.start() - 1].isalnum() or text[call.start() - 1] in "._`")):
        # lme4 drops an offset from a term's columns ((offset(x) | g) is (1 | g)) without a word
        raise _error(
            text,
            call.start(),
            "offset() inside a random-effects term: lme4 leaves it out of the term's columns, as if it were not "
            "written ((offset(x) | g) is (1 | g) there); put offset() in the fixed part, or write the term without it",
        )
    if not trusted:
        lhs = translate(text, start, b).text.strip()
    groups = _group_factors(text, text[gstart:end], gstart)
    lhs_list = _lhs_terms(lhs) if double else [lhs]
    out = []
    for g in groups:
        for lhs_i in lhs_list:
            out.append(RandomTerm(lhs=lhs_i, factors=g, source=source))
    return out


def update_formula(old: str, new: str) -> str:
    """R's ``update.formula``: ``new`` with ``.`` standing for the corresponding side of ``old``.

    The right-hand side is read as a sum of terms: ``.`` is every term of ``old`` (``a * b``
    expanded into ``a + b + a:b`` when a term of it is removed), ``+ t`` adds ``t`` and ``- t``
    removes it (an interaction matches whatever the order of its variables; ``- 1`` removes the
    intercept, ``- (1 | g)`` a random-effects term written as in ``old``). On the left, ``.`` is
    the old response (``log(.) ~ .``); a missing left-hand side keeps it. A formula without ``.``
    replaces ``old``. The result is text for `parse_formula`, which vets it like any formula.

    Raises
    ------
    FormulaError
        ``new`` has no ``~``, or removes a term ``old`` does not have (the message lists its terms).

    Examples
    --------
    >>> update_formula("y ~ a * b + (1 | g)", ". ~ . - a:b")
    'y ~ a + b + (1 | g)'
    >>> update_formula("y ~ x + (1 | g)", "log(.) ~ . + z")
    'log(y) ~ x + (1 | g) + z'
    >>> update_formula("y ~ x + (x | g)", ". ~ . - (x | g) + (1 | g)")
    'y ~ x + (1 | g)'
    """
    for name, text in (("old", old), ("new", new)):
        if not isinstance(text, str):
            raise FormulaError(f"the {name} formula must be a string, got {type(text).__name__}")
        _check_parens(text)
    old_t, new_t = _top_level(old, 0, len(old), "~"), _top_level(new, 0, len(new), "~")
    if len(old_t) != 1:
        raise FormulaError(f"the formula to update must have one '~': {old!r}")
    if len(new_t) != 1:
        raise FormulaError(f"the new formula must have one '~' (such as '. ~ . - x'): {new!r}")
    old_lhs, old_rhs = old[: old_t[0]].strip(), old[old_t[0] + 1 :]
    new_lhs, new_rhs = new[: new_t[0]].strip(), new[new_t[0] + 1 :]
    lhs = _DOT.sub(_paren(old_lhs), new_lhs) if new_lhs else old_lhs
    terms: list[str] = []
    intercept = ""
    for sign, term in _signed_terms(new_rhs):
        if term == ".":
            terms.extend(t for _s, t in _signed_terms(old_rhs))
        elif sign == "+":
            terms.append(term)
        elif term in ("1", "0"):
            intercept = "0" if term == "1" else ""
        else:
            terms = _remove_term(terms, term, old)
    if intercept:
        terms = [t for t in terms if t not in ("1", "0")]
    rhs = " + ".join(([intercept] if intercept else []) + terms) or "1"
    return f"{lhs} ~ {rhs}"


_DOT = re.compile(r"(?<![\w.])\.(?![\w.])")


def _paren(text: str) -> str:
    return text if _NAME.match(text) else f"({text})"


def _signed_terms(rhs: str) -> list[tuple[str, str]]:
    """The top-level ``+``/``-`` separated terms of a right-hand side, with their signs."""
    out: list[tuple[str, str]] = []
    depth, sign, start = 0, "+", 0
    for i, c in enumerate(rhs + "+"):
        if c in "([":
            depth += 1
        elif c in ")]":
            depth -= 1
        elif c in "+-" and depth == 0:
            piece = rhs[start:i].strip()
            if piece:
                out.append((sign, piece))
            sign, start = c, i + 1
    return out


def _key(term: str) -> str:
    """A term compared without spaces, an interaction's variables in sorted order."""
    compact = re.sub(r"\s+", "", term)
    if "|" in compact or compact.startswith("("):
        return compact
    return ":".join(sorted(_top_level_split(compact, ":")))


def _top_level_split(text: str, char: str) -> list[str]:
    cuts = _top_level(text, 0, len(text), char)
    bounds = [-1, *cuts, len(text)]
    return [text[a + 1 : b] for a, b in zip(bounds, bounds[1:], strict=False)]


def _expand(term: str) -> list[str]:
    """``a * b * c`` as R expands it: main effects, then two-way, ... interactions."""
    factors = [f.strip() for f in _top_level_split(term, "*")]
    if len(factors) == 1:
        return [term]
    out: list[str] = []
    for k in range(1, len(factors) + 1):
        out.extend(":".join(c) for c in itertools.combinations(factors, k))
    return out


def _remove_term(terms: list[str], term: str, old: str) -> list[str]:
    key = _key(term)
    kept = [t for t in terms if _key(t) != key]
    if len(kept) < len(terms):
        return kept
    expanded = [e for t in terms for e in (_expand(t) if "|" not in t else [t])]
    kept = [t for t in expanded if _key(t) != key]
    if len(kept) < len(expanded):
        return list(dict.fromkeys(kept))
    raise FormulaError(f"cannot remove {term!r}: it is not a term of {old!r} (its terms: {', '.join(expanded)})")
