"""The one visual style every figure of the package shares: colours, line widths, marker sizes and
font sizes. Only constants live here (no matplotlib import), so that `plots` draws every panel the
same way and a change of style is made once.

Examples
--------
>>> from mixedmodels import plot_style
>>> plot_style.HIGHLIGHT[0], plot_style.POINT_SIZE
('#1f77b4', 6.0)
"""

from __future__ import annotations

__all__ = [
    "BACKGROUND",
    "BAND",
    "FIXED",
    "FONT_LABEL",
    "FONT_TICK",
    "FONT_TITLE",
    "FONT_SUPTITLE",
    "HIGHLIGHT",
    "MARKER_SIZE",
    "POINT",
    "POINT_ALPHA",
    "POINT_SIZE",
    "REFERENCE",
    "SIMULATED",
    "SMOOTH",
    "highlight",
]

# Highlighted real groups, in the order asked for (matplotlib's tab10 without the grey and the red,
# which mean "background" and "smoother" here).
HIGHLIGHT = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#bcbd22", "#17becf")
BACKGROUND = {"color": "0.6", "lw": 0.7, "alpha": 0.5}  # every other group's line
SIMULATED = {"color": "0.25", "lw": 1.4, "ls": (0, (4, 2))}  # simulated new groups: dark grey, dashed
FIXED = {"color": "black", "lw": 2.5, "ls": "--"}  # the fixed effects' (population) line
REFERENCE = {"color": "black", "lw": 0.8, "ls": ":"}  # zero lines, QQ lines
SMOOTH = {"color": "#d62728", "lw": 1.8}  # LOWESS smoothers
BAND = {"color": "0.5", "alpha": 0.2, "lw": 0}  # confidence bands
POINT = "#1f77b4"  # scatter points and conditional modes
POINT_SIZE = 6.0  # scatter marker area (points^2)
POINT_ALPHA = 0.45
MARKER_SIZE = 3.0  # errorbar / line marker size (points)
FONT_TITLE = 10
FONT_SUPTITLE = 12
FONT_LABEL = 9
FONT_TICK = 7


def highlight(k: int) -> str:
    """The colour of the k-th highlighted group (the palette repeats after eight).

    Examples
    --------
    >>> highlight(0) == highlight(8)
    True
    """
    return HIGHLIGHT[k % len(HIGHLIGHT)]
