"""R-style names for formulaic's column names, so results line up with lme4 term by term."""

from __future__ import annotations

import re

_CONTRAST = re.compile(r"([^\s:\[\]]+)\[(?:T\.)?([^\]]*)\]")


def r_name(name: str) -> str:
    """Translate one formulaic column name to R's.

    Examples
    --------
    >>> r_name("Intercept"), r_name("sector[T.Catholic]"), r_name("ses:sector[T.Catholic]"), r_name("f[a]")
    ('(Intercept)', 'sectorCatholic', 'ses:sectorCatholic', 'fa')
    """
    if name == "Intercept":
        return "(Intercept)"
    return _CONTRAST.sub(lambda m: m.group(1) + m.group(2), name)


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
