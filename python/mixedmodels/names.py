"""R-style names for formulaic's column names, so results line up with lme4 term by term."""

from __future__ import annotations

import functools
import inspect
import os
import re

#: The call a comparison used as a term is translated to (``y ~ (x > 0)``: R's logical factor, its
#: column named ``x > 0TRUE`` as R names it; `r_name` drops the call from the name).
LOGICAL_CALL = "_logical"
#: The call a response, an offset or a comparison that arithmetic reads is wrapped in to read it as
#: numbers (`expressions._as_number`; `r_name` drops it from the name too).
NUMBER_CALL = "_as_number"
#: The calls a comparison is translated to (``x > 0``: ``_gt(x, 0)``, `expressions._comparison`),
#: whose value is missing where an operand is, as R's NA > 0 is NA; `r_name` writes them as R does.
COMPARE_CALLS = {"_gt": ">", "_ge": ">=", "_lt": "<", "_le": "<=", "_eq": "==", "_ne": "!="}
#: The calls R's logical operators are translated to (``a & b``: ``_and(a, b)``, ``!a``: ``_not(a)``,
#: `expressions._logic`), with R's missing values (NA & FALSE is FALSE); `r_name` writes them as R does.
LOGIC_CALLS = {"_and": "&", "_or": "|", "_not": "!"}
_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep
_CONTRAST = re.compile(r"([^\s:\[\]]+)\[(?:T\.)?([^\]]*)\]")
_BACKTICKED = re.compile(r"`([^`]*)`")
_R_SYNTACTIC = re.compile(r"^(?:[^\W\d_]|\.(?![0-9]))[\w.]*$")


def _unquote(m: re.Match[str]) -> str:
    inner = m.group(1)
    return inner if _R_SYNTACTIC.match(inner) else m.group(0)


@functools.lru_cache(maxsize=1024)
def r_name(name: str) -> str:
    """Translate one formulaic column name to R's: contrasts as R labels them, and the code of a
    formula as R prints it (``^`` for ``**``, ``TRUE``, ``raw = TRUE``, backticks only around
    names R cannot read bare).

    Examples
    --------
    >>> r_name("Intercept"), r_name("sector[T.Catholic]"), r_name("ses:sector[T.Catholic]"), r_name("f[a]")
    ('(Intercept)', 'sectorCatholic', 'ses:sectorCatholic', 'fa')
    >>> r_name("I(x ** 2)"), r_name("log(`Informed.liking`)"), r_name("poly(x, 2, raw=True)[1]")
    ('I(x^2)', 'log(Informed.liking)', 'poly(x, 2, raw = TRUE)1')
    >>> r_name("exp(-x / 2)"), r_name("I(u // 3)"), r_name("as_factor(k)[T.3]"), r_name("I(x ** (-1))")
    ('exp(-x/2)', 'I(u%/%3)', 'as.factor(k)3', 'I(x^-1)')
    >>> r_name("Q('my var')"), r_name("Q('my f')[T.b]"), r_name("x:Q('Intercept')"), r_name("Q('a[1]')")
    ('`my var`', '`my f`b', 'x:Intercept', '`a[1]`')
    >>> r_name("_logical(x > 0)[T.TRUE]"), r_name("w:_logical(h != 'q')[T.FALSE]"), r_name("I(x > 3)[T.TRUE]")
    ('x > 0TRUE', 'w:h != "q"FALSE', 'I(x > 3)TRUE')
    """
    if name == "Intercept":
        return "(Intercept)"
    quoted: list[str] = []  # Q('my var'), a whole column: R prints `my var`

    def hide(m: re.Match[str]) -> str:
        quoted.append(r_variable(m.group(2).replace("\\" + m.group(1), m.group(1))))
        return f"\x00{len(quoted) - 1}\x00"

    out = _QUOTED.sub(hide, name)
    out = _CONTRAST.sub(lambda m: m.group(1) + m.group(2), out)
    if "(" in out or "`" in out:
        out = _r_code(out)
    return _HIDDEN.sub(lambda m: quoted[int(m.group(1))], out) if quoted else out


_SINGLE_QUOTED = re.compile(r"`[^`]*`|'((?:[^'\\]|\\.)*)'")  # (a backticked name as it is)


def _double_quoted(m: re.Match[str]) -> str:
    """A single-quoted string literal in R's double quotes (a backticked name, or a string holding a
    double quote, as it is)."""
    inner = m.group(1)
    return m.group(0) if inner is None or '"' in inner else f'"{inner}"'


_QUOTED = re.compile(r"""\bQ\((['"])((?:\\.|(?!\1).)*)\1\)""")
_HIDDEN = re.compile("\x00(\\d+)\x00")


def _r_code(out: str) -> str:
    """The code of a formula as R prints it (see `r_name`)."""
    out = _BACKTICKED.sub(_unquote, out)
    out = out.replace(" ** ", "^").replace("**", "^").replace(" / ", "/").replace(" // ", "%/%").replace(" % ", "%%")
    out = out.replace("as_factor(", "as.factor(")  # formulaic's parser reads no dotted function name
    out = re.sub(r"\^\(-([\w.]+)\)", r"^-\1", out)  # Python writes x ** (-1), R x^-1
    out = drop_internal_calls(out)
    out = _SINGLE_QUOTED.sub(_double_quoted, out)  # R deparses a string "q"
    out = re.sub(r"\bTrue\b", "TRUE", out)
    out = re.sub(r"\bFalse\b", "FALSE", out)
    return re.sub(r"(\w)=(?=[^=])", r"\1 = ", out)


# a call of the translation's own (`drop_internal_calls`), not the end of a longer name
_INTERNAL_CALL = re.compile(
    rf"(?<![\w.])({'|'.join(map(re.escape, (LOGICAL_CALL, NUMBER_CALL, *COMPARE_CALLS, *LOGIC_CALLS)))})\("
)
# the operands that R's precedence makes parenthesise: beside a comparison any logical operator's
# result or another comparison; beside & an |
_LOWER = {
    **{c: frozenset({*COMPARE_CALLS, *LOGIC_CALLS}) for c in COMPARE_CALLS},
    "_and": frozenset({"_or"}),
    "_or": frozenset(),
}


def drop_internal_calls(out: str) -> str:
    """The translation's own calls written as R writes the code: ``_logical(x > 0)`` (`LOGICAL_CALL`)
    as R labels the comparison, ``x > 0``; ``_as_number(x > 0)`` (`NUMBER_CALL`, a comparison read
    as a number) as written, ``(x > 0)``, or ``x > 0`` where it is a whole argument (``scale(x > 0)``);
    a comparison's call (`COMPARE_CALLS`) ``_gt(x, 0)`` as ``x > 0``, an operand that is itself a
    comparison in parentheses; a logical operator's (`LOGIC_CALLS`) ``_and(a, b)`` as ``a & b``,
    ``_not(a)`` as ``!a`` (``!(x > 0)`` for an operator's result). Also for error messages holding
    translated code.

    Examples
    --------
    >>> drop_internal_calls("scale(_as_number(_gt(x, 0)) * w)"), drop_internal_calls("_logical(_eq(g, 'a, b'))")
    ('scale((x > 0) * w)', "g == 'a, b'")
    >>> drop_internal_calls("scale(_as_number(_gt(x, 0)))"), drop_internal_calls("(_as_number(_gt(x, 0))) * w")
    ('scale(x > 0)', '(x > 0) * w')
    >>> drop_internal_calls("scale(_as_number(_gt((_as_number(_gt(x, 0))) + 1, 1.5)))")
    'scale((x > 0) + 1 > 1.5)'
    >>> drop_internal_calls("_eq(_gt(x, 0), _lt(w, 1))")
    '(x > 0) == (w < 1)'
    >>> drop_internal_calls("_and(_gt(x, 0), _not(_lt(w, 1)), _or(a, b))"), drop_internal_calls("_not(flag)")
    ('x > 0 & !(w < 1) & (a | b)', '!flag')
    """
    pattern = _INTERNAL_CALL
    start = 0
    while (m := pattern.search(out, start)) is not None:
        call, at = m.group(1), m.start()
        depth, j, commas, quote = 0, m.end() - 1, [], ""
        for j in range(m.end() - 1, len(out)):
            ch = out[j]
            if quote:
                quote = "" if ch == quote else quote
            elif ch in "'\"`":
                quote = ch
            elif ch == "," and depth == 1:
                commas.append(j)
            else:
                depth += {"(": 1, ")": -1}.get(ch, 0)
                if depth == 0:
                    break
        args = [a.strip() for a in _split(out, m.end(), j, commas)]
        if call in _LOWER:
            lower = _LOWER[call]
            sides = [f"({a})" if (c := pattern.match(a)) is not None and c.group(1) in lower else a for a in args]
            if call in COMPARE_CALLS and args[-1].startswith("_not("):  # (R's ! on the right takes the rest)
                sides[-1] = args[-1]
            text = f" {COMPARE_CALLS.get(call) or LOGIC_CALLS[call]} ".join(sides)
        elif call == "_not":
            operand = args[0]
            c = pattern.match(operand)
            text = f"!({operand})" if c is not None and c.group(1) in _LOWER["_ne"] - {"_not"} else f"!{operand}"
        else:
            text = args[0]
            # read as a number: its parentheses, but for a whole argument of a function (scale(x > 0))
            before, after = out[:at].rstrip()[-1:], out[j + 1 :].lstrip()[:1]
            whole = before in ("(", ",") and after in (")", ",")
            # (R's ! read by arithmetic as its right operand, 1 + !flag, takes everything after it)
            negated = before in ("+", "-", "*", "/", "^", "%", "=", "<", ">") and args[0].startswith("_not(")
            if call == NUMBER_CALL and not whole and not negated:
                text = f"({text})"
        out = out[:at] + text + out[j + 1 :]
        start = at  # (a call inside it now begins here or later)
    return out


def _split(text: str, start: int, end: int, commas: list[int]) -> list[str]:
    """text[start:end] cut at the given positions (top-level commas)."""
    edges = [start - 1, *commas, end]
    return [text[a + 1 : b] for a, b in zip(edges, edges[1:], strict=False)]


def level_label(value: object) -> str:
    """A level label as R's ``factor()`` prints it (``1`` not ``1.0``).

    Examples
    --------
    >>> level_label(3.0), level_label(2.5), level_label("a"), level_label(True)
    ('3', '2.5', 'a', 'TRUE')
    """
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else format(value, ".15g")
    return str(value)


_R_RESERVED = frozenset(
    "if else repeat while function for next break TRUE FALSE NULL Inf NaN NA NA_integer_ NA_real_ "
    "NA_character_ NA_complex_ in".split()
)


def r_variable(name: str) -> str:
    """A variable's name as R prints it in a model matrix's column names: in backticks when R
    cannot read it bare (``my var``, ``2nd``, ``(Intercept)``).

    Examples
    --------
    >>> r_variable("ses"), r_variable("Informed.liking"), r_variable("my var"), r_variable("(Intercept)")
    ('ses', 'Informed.liking', '`my var`', '`(Intercept)`')
    """
    if _R_SYNTACTIC.match(name) and name not in _R_RESERVED:
        return name
    return f"`{name}`"


def make_unique(names: list[str]) -> list[str]:
    """Names made unique as R's ``make.unique`` does: the second ``a`` becomes ``a.1``, the third
    ``a.2`` (skipping suffixes already taken); unique names are returned as they are.

    Examples
    --------
    >>> make_unique(["grp1", "x", "grp1", "grp1.1", "grp1"])
    ['grp1', 'x', 'grp1.2', 'grp1.1', 'grp1.3']
    """
    if len(set(names)) == len(names):
        return list(names)
    taken = set(names)
    seen: set[str] = set()
    out = []
    for nm in names:
        if nm not in seen:
            seen.add(nm)
            out.append(nm)
            continue
        k = 1
        while f"{nm}.{k}" in taken:
            k += 1
        new = f"{nm}.{k}"
        taken.add(new)
        out.append(new)
    return out


def caller_variable_name(obj: object) -> str | None:
    """The name the user's code binds to ``obj`` (a local, else a global, of the first frame
    outside this package), or None: the summary's ``Data:`` line, as R's
    ``deparse(substitute(data))`` gives it for a variable.

    Examples
    --------
    >>> frame = object()
    >>> caller_variable_name(frame)
    'frame'
    >>> caller_variable_name(object()) is None
    True
    """
    current = inspect.currentframe()
    caller = current.f_back if current is not None else None
    while caller is not None and os.path.abspath(caller.f_code.co_filename).startswith(_PACKAGE):
        caller = caller.f_back
    try:
        if caller is None:
            return None
        for scope in (caller.f_locals, caller.f_globals):
            for name, value in list(scope.items()):
                if value is obj and not name.startswith("_"):
                    return str(name)
        return None
    finally:
        del current, caller
