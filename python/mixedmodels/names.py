"""R-style names for formulaic's column names, so results line up with lme4 term by term."""

from __future__ import annotations

import functools
import re

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
    """
    if name == "Intercept":
        return "(Intercept)"
    out = _CONTRAST.sub(lambda m: m.group(1) + m.group(2), name)
    if "(" not in out and "`" not in out:
        return out
    out = _BACKTICKED.sub(_unquote, out)
    out = out.replace(" ** ", "^").replace("**", "^").replace(" / ", "/").replace(" // ", "%/%").replace(" % ", "%%")
    out = out.replace("as_factor(", "as.factor(")  # formulaic's parser reads no dotted function name
    out = re.sub(r"\^\(-([\w.]+)\)", r"^-\1", out)  # Python writes x ** (-1), R x^-1
    out = re.sub(r"\bTrue\b", "TRUE", out)
    out = re.sub(r"\bFalse\b", "FALSE", out)
    return re.sub(r"(\w)=(?=[^=])", r"\1 = ", out)


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
