"""Pictures of a fit with matplotlib (optional: ``pip install "mixedmodels[plot]"``): each group's
line (partial pooling, no pooling, a simulated population), caterpillar plots of the conditional
modes, shrinkage arrows, and residual diagnostics.

Every function returns the matplotlib Figure. A figure the function creates is closed in pyplot
before it is returned, so a notebook shows it once (as the cell's value) and a script saves it
with ``fig.savefig(path)`` (``plt.show()`` does not show a closed figure: display it with
``fig.show()`` in an interactive session, or pass ``ax=`` where a function draws one panel to draw
into a figure of your own, which is left open). Every figure takes its colours, line widths and
font sizes from `plot_style`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import special

from . import plot_style as style
from .exceptions import DataError, MixedModelsError
from .fitted import LmerFit
from .lmlist import lmlist
from .simulate import Seed, sample_groups

__all__ = [
    "plot_diagnostics",
    "plot_group_curves",
    "plot_group_lines",
    "plot_pooling",
    "plot_ranef",
    "plot_shrinkage",
    "smooth",
]


Figure = Any  # matplotlib.figure.Figure (matplotlib is an optional dependency: not imported here)
Axes = Any  # matplotlib.axes.Axes
FloatArray = NDArray[np.float64]


def _plt() -> Any:
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - exercised by the no-matplotlib test
        raise MixedModelsError('plots need matplotlib: pip install "mixedmodels[plot]"') from exc
    return plt


def _figure_and_axes(ax: Axes | None) -> tuple[Figure, Axes, bool]:
    """The figure of ``ax``, or a new figure with one axes of the default size; and whether the
    figure is ours (then `_finish` closes it in pyplot)."""
    if ax is None:
        fig, ax = _plt().subplots(figsize=(6.4, 4.8))
        return fig, ax, True
    return ax.figure, ax, False


def _finish(fig: Figure, ours: bool = True) -> Figure:
    """Close a figure this module created in pyplot (a notebook then displays the returned figure
    once, not again when the cell ends) and return it."""
    if ours:
        _plt().close(fig)
    return fig


def _frame(m: LmerFit) -> pd.DataFrame:
    try:
        return m.model.data.frame("group-line plots")
    except DataError as exc:
        raise MixedModelsError(f"group-line plots need a model fitted from a data frame: {exc}") from exc


def group_line_slope(m: LmerFit) -> tuple[str, str] | None:
    """The (grouping factor, covariate) whose per-group lines the pooling figures draw by default,
    or None when the model has no random slope on a numeric covariate with an intercept.

    Examples
    --------
    >>> import mixedmodels as mm
    >>> d = mm.datasets.load("sleepstudy")
    >>> group_line_slope(mm.lmer("Reaction ~ Days + (Days | Subject)", d))
    ('Subject', 'Days')
    >>> group_line_slope(mm.lmer("Reaction ~ Days + (1 | Subject)", d)) is None
    True
    """
    try:
        return _slope(m, None, None)
    except MixedModelsError:
        return None


def _slopes(m: LmerFit, group: str | None) -> list[tuple[str, str]]:
    """Every (grouping factor, covariate) with a random slope on a numeric column of the data."""
    frame = _frame(m)
    candidates = []
    for g, re in m.ranef.items():
        if group is not None and g != group:
            continue
        for c in re.columns:
            if c in frame.columns and pd.api.types.is_numeric_dtype(frame[c]):
                candidates.append((g, c))
    return candidates


def _slope_note(m: LmerFit, group: str, covariate: str | None) -> str:
    """' against x' and, when the group has several random slopes and none was chosen, which one
    is drawn by default."""
    chosen = _slope(m, group, covariate)[1]
    others = [c for g, c in _slopes(m, group) if c != chosen]
    if covariate is None and others:
        return f" against {chosen} (its first random slope; covariate= draws {', '.join(others)})"
    return f" against {chosen}"


def _slope(m: LmerFit, group: str | None, covariate: str | None) -> tuple[str, str]:
    """The grouping factor and covariate of a random slope (the first one, unless named)."""
    candidates = _slopes(m, group)
    if covariate is not None:
        candidates = [gc for gc in candidates if gc[1] == covariate]
    if not candidates:
        what = f"grouping factor {group!r}" if group else "any grouping factor"
        raise MixedModelsError(
            f"this model has no random slope on a numeric covariate for {what} (its random effects are "
            f"{ {g: list(r.columns) for g, r in m.ranef.items()} }); group lines need a term like (1 + x | g)"
        )
    if "(Intercept)" not in m.coef[candidates[0][0]].columns:
        raise MixedModelsError("group lines need an intercept in the model")
    return candidates[0]


def _pick(levels: list[str], groups: Sequence[str] | None, n: int | None, seed: Seed) -> list[str]:
    if groups is not None:
        groups = [str(g) for g in groups]
        missing = [g for g in groups if g not in levels]
        if missing:
            raise MixedModelsError(f"no group {missing} in the model")
        return groups
    if n is not None:
        rng = np.random.default_rng(seed)
        return [str(v) for v in rng.choice(levels, size=min(n, len(levels)), replace=False)]
    return []


def _lines(
    m: LmerFit, kind: str, group: str, cov: str, seed: Seed
) -> tuple[list[str], NDArray[np.float64], NDArray[np.float64], list[tuple[float, float]]]:
    """(labels, intercepts, slopes, x ranges) of each line of one panel."""
    frame = _frame(m)
    y = m.structure.response
    if kind == "partial":
        c = m.coef[group]
        labels = list(c.index)
        a, b = c["(Intercept)"].to_numpy(), c[cov].to_numpy()
    elif kind == "none":
        ll = lmlist(f"{y} ~ {cov} | {group}", frame if ":" not in group else _with_group(m, group))
        c = ll.coef.reindex(m.coef[group].index)
        labels = list(c.index)
        a, b = c["(Intercept)"].to_numpy(), c[cov].to_numpy()
    elif kind == "population":
        s = sample_groups(m, len(m.coef[group]), seed=seed, group=group)
        labels = [f"sim {i + 1}" for i in range(len(s))]
        a, b = s["(Intercept)"].to_numpy(), s[cov].to_numpy()
    else:
        raise ValueError(f"kind must be 'partial', 'none' or 'population', not {kind!r}")
    x = frame[cov].to_numpy(dtype=float)
    if kind == "population":
        lo, hi = np.quantile(x, [0.05, 0.95])
        ranges = [(lo, hi)] * len(labels)
    else:
        codes = m.model.data.rows("group lines").codes[m.structure.factor_index(group)]
        mins = pd.Series(x).groupby(codes).min().to_numpy()
        maxs = pd.Series(x).groupby(codes).max().to_numpy()
        ranges = list(zip(mins, maxs, strict=True))
    return labels, a, b, ranges


def _with_group(m: LmerFit, group: str) -> pd.DataFrame:
    fi = m.structure.factor_index(group)
    codes = m.model.data.rows("group lines").codes[fi]
    return _frame(m).assign(**{group: np.asarray(m.structure.factors[fi].levels)[codes]})


_TITLES = {
    "partial": "Partial pooling: each {g}'s line from the mixed model (coef)",
    "none": "No pooling: a separate least-squares line per {g}",
    "population": "Simulated population: {n} new {g}s drawn from the fitted distribution",
}


def plot_group_lines(
    m: LmerFit,
    groups: Sequence[str] | None = None,
    n: int | None = None,
    seed: Seed = None,
    kind: str = "partial",
    group: str | None = None,
    covariate: str | None = None,
    ax: Axes | None = None,
) -> Figure:
    """Each group's regression line against the random slope's covariate.

    Parameters
    ----------
    groups : list of str, optional
        Levels to highlight (drawn in colour and labelled; the rest in grey).
    n, seed : int, optional
        Or highlight n randomly chosen groups.
    kind : {"partial", "none", "population"}
        The fitted model's per-group lines (``coef``), per-group OLS (``lmlist``), or lines of new
        groups drawn from N(fixef, Sigma) (``sample_groups``). Simulated groups are never drawn in
        the highlight colours: as many of them as groups were asked for are drawn dark grey and
        dashed, under one legend entry, so that they cannot be mistaken for real groups.
    group, covariate : str, optional
        Which grouping factor and slope (default: the first random slope on a numeric variable;
        the title says so when there are others).
    ax : matplotlib Axes, optional
        Draw into this axes (its figure is left open); by default a new figure.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import mixedmodels as mm
    >>> m = mm.lmer("Reaction ~ Days + (Days | Subject)", mm.datasets.load("sleepstudy"))
    >>> fig = m.plot_group_lines(groups=["308", "309"])  # doctest: +SKIP
    >>> fig.savefig("lines.png")  # doctest: +SKIP
    """
    group, cov = _slope(m, group, covariate)
    fig, ax, ours = _figure_and_axes(ax)
    labels, a, b, ranges = _lines(m, kind, group, cov, seed)
    if kind != "population":
        hi = _pick(list(m.coef[group].index), groups, n, seed)
    elif groups is not None or n is not None:
        hi = _pick(labels, None, n or len(groups or []), seed)
    else:
        hi = []
    where = {lab: i for i, lab in enumerate(labels)}
    for lab, ai, bi, (lo, up) in zip(labels, a, b, ranges, strict=True):
        if lab in hi or not (np.isfinite(ai) and np.isfinite(bi)):
            continue
        xs = np.array([lo, up])
        ax.plot(xs, ai + bi * xs, zorder=1, gid=f"group:{lab}", **style.BACKGROUND)
    for k, lab in enumerate(hi):  # highlighted groups on top, in the order asked for
        i = where[lab]
        if not (np.isfinite(a[i]) and np.isfinite(b[i])):
            continue
        xs = np.array(ranges[i])
        if kind == "population":
            ax.plot(
                xs,
                a[i] + b[i] * xs,
                label=f"simulated new {group}s" if k == 0 else None,
                zorder=3,
                gid=f"group:{lab}",
                **style.SIMULATED,
            )
        else:
            ax.plot(
                xs, a[i] + b[i] * xs, color=style.highlight(k), lw=2.2, label=str(lab), zorder=3, gid=f"group:{lab}"
            )
    fe = m.fixef
    xs = np.quantile(_frame(m)[cov].to_numpy(dtype=float), [0.0, 1.0])
    ax.plot(xs, fe["(Intercept)"] + fe[cov] * xs, label="average (fixed effects)", zorder=4, gid="fixed", **style.FIXED)
    ax.set_xlabel(cov, fontsize=style.FONT_LABEL)
    ax.set_ylabel(m.structure.response, fontsize=style.FONT_LABEL)
    ax.set_title(_TITLES[kind].format(g=group, n=len(labels)), fontsize=style.FONT_TITLE)
    ax.legend(fontsize=8, loc="upper left")
    return _finish(fig, ours)


def plot_group_curves(
    m: LmerFit,
    inverse_link: Any,
    groups: Sequence[str] | None = None,
    n: int | None = None,
    seed: Seed = None,
    group: str | None = None,
    covariate: str | None = None,
    ax: Axes | None = None,
) -> Figure:
    """A GLMM's per-group curves on the response scale: for each level, the inverse link of its
    own intercept and slope (``coef``) over the covariate's range in that group, the other
    covariates at 0; the fixed effects' curve dashed on top.

    Parameters
    ----------
    inverse_link : callable
        The family's inverse link (``m.family.link.linkinv``).
    groups, n, seed, group, covariate, ax
        As for `plot_group_lines`.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import mixedmodels as mm
    >>> d = mm.datasets.load("hsb").assign(passed=lambda f: f["mAch"] > 12)
    >>> g = mm.glmer("passed ~ ses + (ses | school)", d, family="binomial")  # doctest: +SKIP
    >>> fig = g.plot_group_curves(n=4, seed=1)  # doctest: +SKIP
    """
    group, cov = _slope(m, group, covariate)
    fig, ax, ours = _figure_and_axes(ax)
    frame = _with_group(m, group)
    c = m.coef[group]
    ranges = frame.groupby(group, observed=True)[cov].agg(["min", "max"]).reindex(c.index)
    hi = _pick(list(c.index), groups, n, seed)
    a, b = c["(Intercept)"].to_numpy(), c[cov].to_numpy()
    lo, up = ranges["min"].to_numpy(dtype=float), ranges["max"].to_numpy(dtype=float)
    for i, lab in enumerate(c.index):
        if lab in hi or not np.isfinite(lo[i]):
            continue
        xs = np.linspace(lo[i], up[i], 30)
        ax.plot(xs, inverse_link(a[i] + b[i] * xs), zorder=1, gid=f"group:{lab}", **style.BACKGROUND)
    where = {lab: i for i, lab in enumerate(c.index)}
    for k, lab in enumerate(hi):
        i = where[lab]
        xs = np.linspace(lo[i], up[i], 30)
        ax.plot(xs, inverse_link(a[i] + b[i] * xs), color=style.highlight(k), lw=2.2, label=str(lab), zorder=3)
    fe = m.fixef
    lo_all, up_all = (float(v) for v in np.quantile(frame[cov].to_numpy(dtype=float), [0.0, 1.0]))
    xs = np.linspace(lo_all, up_all, 60)
    ax.plot(
        xs,
        inverse_link(fe["(Intercept)"] + fe[cov] * xs),
        label="fixed effects",
        zorder=4,
        gid="fixed",
        **style.FIXED,
    )
    ax.set_xlabel(cov, fontsize=style.FONT_LABEL)
    ax.set_ylabel(f"{m.structure.response} (mean, response scale)", fontsize=style.FONT_LABEL)
    ax.set_title(
        f"Each {group}'s curve from the mixed model (coef){_slope_note(m, group, covariate)}, other covariates at 0",
        fontsize=style.FONT_TITLE,
    )
    ax.legend(fontsize=8, loc="upper left")
    return _finish(fig, ours)


def plot_pooling(
    m: LmerFit,
    groups: Sequence[str] | None = None,
    n: int | None = None,
    seed: Seed = None,
    group: str | None = None,
    covariate: str | None = None,
) -> Figure:
    """No pooling, partial pooling and a simulated population side by side, on shared axes.

    The highlighted groups keep their colours in the first two panels; the third panel's
    simulated groups are new groups, drawn dark grey and dashed. With several random slopes the
    first is drawn (``covariate=`` chooses) and the title says which.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import mixedmodels as mm
    >>> m = mm.lmer("mAch ~ ses + (ses | school)", mm.datasets.load("hsb"))
    >>> fig = m.plot_pooling(groups=["1224", "1288", "1296"])  # doctest: +SKIP
    """
    plt = _plt()
    group, cov = _slope(m, group, covariate)
    fig, axes = plt.subplots(1, 3, figsize=(16, 5), sharex=True, sharey=True)
    for ax, kind in zip(axes, ("none", "partial", "population"), strict=True):
        plot_group_lines(m, groups=groups, n=n, seed=seed, kind=kind, group=group, covariate=cov, ax=ax)
    for ax in axes[1:]:
        ax.set_ylabel("")
    fig.suptitle(f"{m.formula}: lines per {group}{_slope_note(m, group, covariate)}", fontsize=style.FONT_SUPTITLE)
    fig.tight_layout()
    return _finish(fig)


CATERPILLAR_LABELLED = 60  # up to this many levels every one is labelled; above, the extremes only
CATERPILLAR_EXTREMES = 8  # levels labelled at each end above CATERPILLAR_LABELLED


def _label_extremes(ax: Axes, labels: NDArray[np.object_], axes_height_in: float) -> None:
    """Label the lowest and highest `CATERPILLAR_EXTREMES` rows of a caterpillar with too many rows
    to label each: the labels are spread apart so they do not overlap, each joined to its row."""
    n = len(labels)
    row_pt = max(axes_height_in, 1.0) * 72 / (n + 1)
    step = max(1, int(np.ceil((style.FONT_TICK + 1.5) / row_pt)))
    k = CATERPILLAR_EXTREMES
    for j in range(k):
        for row, text_y in ((j, j * step), (n - 1 - j, n - 1 - j * step)):
            ax.annotate(
                str(labels[row]),
                xy=(0.0, row),
                xycoords=("axes fraction", "data"),
                xytext=(-0.03, text_y),
                textcoords=("axes fraction", "data"),
                ha="right",
                va="center",
                fontsize=style.FONT_TICK,
                arrowprops={"arrowstyle": "-", "color": "0.6", "lw": 0.5, "shrinkA": 0, "shrinkB": 0},
                annotation_clip=False,
                gid="extreme-label",
            )


def plot_ranef(m: LmerFit, group: str | None = None, level: float = 0.95, order_by: str | None = None) -> Figure:
    """Caterpillar plot: each level's conditional mode with its interval from the conditional
    variance, one panel per term.

    All panels of one grouping factor share one order of its levels (by ``order_by``, a term of
    that factor; by default its first term), so that a level sits on the same row in every
    panel. Up to 60 levels every level is labelled; above that the 8 lowest and 8 highest are.
    The figure's height follows the number of levels within 3 to 10 inches.

    Parameters
    ----------
    group : str, optional
        One grouping factor (default: all).
    level : float
        Coverage of the intervals (normal quantiles of the conditional SDs).
    order_by : str, optional
        The term whose modes order the levels (default: each factor's first term).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import mixedmodels as mm
    >>> m = mm.lmer("Reaction ~ Days + (Days | Subject)", mm.datasets.load("sleepstudy"))
    >>> fig = m.plot_ranef(order_by="Days")  # doctest: +SKIP
    """
    plt = _plt()
    if group is not None and group not in m.ranef:
        raise MixedModelsError(f"no grouping factor {group!r} in the model (it has {', '.join(m.ranef)})")
    groups = [group] if group else list(m.ranef)
    if order_by is not None and not any(order_by in m.ranef[g].columns for g in groups):
        terms = sorted({c for g in groups for c in m.ranef[g].columns})
        raise MixedModelsError(f"order_by={order_by!r} is not a random-effect term (the terms are {', '.join(terms)})")
    z = special.ndtri((1 + level) / 2)
    panels = [(g, c) for g in groups for c in m.ranef[g].columns]
    nlev = max(len(m.ranef[g]) for g in groups)
    height = float(np.clip(0.15 * min(nlev, CATERPILLAR_LABELLED) + 1.3, 3.0, 10.0))
    fig = plt.figure(figsize=(max(5.0, 3.6 * len(panels) + 0.8), height))
    first_axes: dict[str, Axes] = {}
    for k, (g, c) in enumerate(panels):
        re = m.ranef[g]
        key = order_by if order_by is not None and order_by in re.columns else re.columns[0]
        order = np.argsort(re[key].to_numpy(), kind="stable")
        ax = fig.add_subplot(1, len(panels), k + 1, sharey=first_axes.get(g))
        v = re[c].to_numpy()[order]
        se = np.sqrt(m.ranef_condvar[g][c].to_numpy())[order]
        pos = np.arange(len(v))
        ax.errorbar(v, pos, xerr=z * se, fmt="o", ms=style.MARKER_SIZE, lw=0.8, color=style.POINT, gid=f"modes:{g}:{c}")
        ax.axvline(0, **style.REFERENCE)
        ax.set_xlabel(f"conditional mode of {c}", fontsize=style.FONT_LABEL)
        ax.set_title(f"{g}: {c}", fontsize=style.FONT_TITLE)
        ax.tick_params(labelsize=style.FONT_TICK)
        labels = np.asarray([str(x) for x in re.index[order]], dtype=object)
        if g not in first_axes:
            first_axes[g] = ax
            if len(v) <= CATERPILLAR_LABELLED:
                ax.set_yticks(pos, list(labels), fontsize=style.FONT_TICK)
                ax.set_ylabel(f"{g}, ordered by {key}", fontsize=style.FONT_LABEL)
            else:
                ax.set_yticks([])
                _label_extremes(ax, labels, height - 1.3)
                ax.set_ylabel(
                    f"{g} ({len(v)} levels, ordered by {key}; the {CATERPILLAR_EXTREMES} lowest and highest labelled)",
                    fontsize=style.FONT_LABEL,
                    labelpad=34,
                )
            ax.set_ylim(-1, len(v))
        else:
            ax.tick_params(labelleft=False)
    fig.suptitle(f"Conditional modes with {level * 100:g}% intervals", fontsize=style.FONT_SUPTITLE)
    fig.tight_layout()
    return _finish(fig)


def plot_shrinkage(
    m: LmerFit, group: str | None = None, covariate: str | None = None, ax: Axes | None = None
) -> Figure:
    """For each group: its own least-squares estimate (no pooling) joined by an arrow to the mixed
    model's estimate (partial pooling), intercept against slope (into ``ax`` when given).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import mixedmodels as mm
    >>> m = mm.lmer("Reaction ~ Days + (Days | Subject)", mm.datasets.load("sleepstudy"))
    >>> fig = m.plot_shrinkage()  # doctest: +SKIP
    """
    plt = _plt()
    group, cov = _slope(m, group, covariate)
    frame = _frame(m) if ":" not in group else _with_group(m, group)
    ll = lmlist(f"{m.structure.response} ~ {cov} | {group}", frame).coef.reindex(m.coef[group].index)
    c = m.coef[group]
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.4, 5.6))
        ours = True
    else:
        fig, ours = ax.figure, False
    ok = ll[["(Intercept)", cov]].notna().all(axis=1).to_numpy()
    x0, y0 = ll["(Intercept)"].to_numpy()[ok], ll[cov].to_numpy()[ok]
    x1, y1 = c["(Intercept)"].to_numpy()[ok], c[cov].to_numpy()[ok]
    ax.scatter(x0, y0, s=12, color=style.highlight(1), label="no pooling (per-group OLS)", zorder=2)
    ax.scatter(x1, y1, s=12, color=style.highlight(0), label="partial pooling (mixed model)", zorder=3)
    for a, b, cc, dd in zip(x0, y0, x1, y1, strict=True):
        ax.annotate("", xy=(cc, dd), xytext=(a, b), arrowprops={"arrowstyle": "->", "color": "0.5", "lw": 0.6})
    ax.scatter(
        [m.fixef["(Intercept)"]], [m.fixef[cov]], marker="X", s=90, color="black", label="fixed effects", zorder=4
    )
    ax.set_xlabel(f"intercept ({m.structure.response} at {cov} = 0)", fontsize=style.FONT_LABEL)
    ax.set_ylabel(f"slope of {cov}", fontsize=style.FONT_LABEL)
    ax.set_title(f"Shrinkage of each {group}'s intercept and slope", fontsize=style.FONT_TITLE)
    ax.legend(fontsize=8, loc="upper left")
    if ours:
        fig.tight_layout()
    return _finish(fig, ours)


SMOOTH_POINTS = 2000  # the smoother uses at most this many points (an even stride through the sorted x)


def smooth(x: ArrayLike, y: ArrayLike, frac: float = 2 / 3, grid: int = 60) -> tuple[FloatArray, FloatArray]:
    """A LOWESS curve without robustness iterations (statsmodels' ``lowess(y, x, frac, it=0)``,
    R's ``lowess(x, y, f, iter = 0)``): at each of ``grid`` points spread over x's range, the local
    linear least-squares fit to the ``ceil(frac * n)`` nearest points with tricube weights. With
    more than 2,000 points it uses an even stride through them in x's order.

    Returns
    -------
    (grid, curve) : arrays

    Examples
    --------
    >>> import numpy as np
    >>> gx, gy = smooth(np.arange(10.0), 2 * np.arange(10.0) + 1, grid=3)
    >>> np.round(gy, 10).tolist()
    [1.0, 10.0, 19.0]
    """
    xa = np.asarray(x, dtype=float)
    ya = np.asarray(y, dtype=float)
    keep = np.isfinite(xa) & np.isfinite(ya)
    xa, ya = xa[keep], ya[keep]
    order = np.argsort(xa, kind="stable")
    if len(order) > SMOOTH_POINTS:
        order = order[np.linspace(0, len(order) - 1, SMOOTH_POINTS).round().astype(int)]
    xs, ys = xa[order], ya[order]
    n = len(xs)
    if n < 3:
        return np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)
    k = min(n, max(2, int(np.ceil(frac * n))))
    gx = np.linspace(xs[0], xs[-1], grid)
    d = np.abs(xs[None, :] - gx[:, None])
    h = np.partition(d, k - 1, axis=1)[:, k - 1]
    h = np.where(h > 0, h, 1.0)
    u = np.clip(d / h[:, None], 0.0, 1.0)
    w = (1 - u**3) ** 3
    sw = w.sum(axis=1)
    mx = (w * xs).sum(axis=1) / sw
    my = (w * ys).sum(axis=1) / sw
    sxx = (w * (xs - mx[:, None]) ** 2).sum(axis=1)
    sxy = (w * (xs - mx[:, None]) * (ys - my[:, None])).sum(axis=1)
    slope = np.where(sxx > 1e-12 * np.maximum(1.0, (w * xs**2).sum(axis=1)), sxy / np.where(sxx > 0, sxx, 1), 0.0)
    return gx, my + slope * (gx - mx)


def _qq(ax: Axes, values: FloatArray, ylabel: str, title: str, level: float = 0.95) -> None:
    """A normal QQ panel in the package's style: R's ``ppoints`` positions, the line through the
    quartiles (``qqline``), and a pointwise band for the order statistics of a normal sample
    (Beta quantiles of uniform order statistics) around that line."""
    v = np.sort(np.asarray(values, dtype=float)[np.isfinite(values)])
    n = len(v)
    a = 3 / 8 if n <= 10 else 0.5
    i = np.arange(1, n + 1)
    q = special.ndtri((i - a) / (n + 1 - 2 * a))
    q1, q3 = np.quantile(v, [0.25, 0.75])
    slope = (q3 - q1) / (special.ndtri(0.75) - special.ndtri(0.25))
    loc = q1 - slope * special.ndtri(0.25)
    lo = special.ndtri(special.betaincinv(i, n + 1 - i, (1 - level) / 2))
    hi = special.ndtri(special.betaincinv(i, n + 1 - i, (1 + level) / 2))
    ax.fill_between(q, loc + slope * lo, loc + slope * hi, label=f"{level * 100:g}% band", **style.BAND)
    ax.plot(q, loc + slope * q, **style.REFERENCE)
    ax.scatter(q, v, s=style.POINT_SIZE, color=style.POINT, alpha=min(1.0, style.POINT_ALPHA * 2), gid="qq")
    ax.set_xlabel("theoretical quantiles", fontsize=style.FONT_LABEL)
    ax.set_ylabel(ylabel, fontsize=style.FONT_LABEL)
    ax.set_title(title, fontsize=style.FONT_TITLE)


def plot_diagnostics(m: LmerFit) -> Figure:
    """Residuals against fitted values and scale-location (each with a LOWESS smoother, `smooth`),
    normal QQ of the residuals and of each random-effect term (with a 95% pointwise band), and the
    residuals' spread by level of the first grouping factor (boxes ordered by median).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import mixedmodels as mm
    >>> m = mm.lmer("Reaction ~ Days + (Days | Subject)", mm.datasets.load("sleepstudy"))
    >>> fig = m.plot_diagnostics()  # doctest: +SKIP
    """
    plt = _plt()
    fit = m.fitted().to_numpy()
    res = m.residuals().to_numpy()
    sres = m.residuals(scaled=True).to_numpy()
    re_panels = [(g, c) for g, r in m.ranef.items() for c in r.columns]
    npanel = 4 + len(re_panels)
    ncols = min(npanel, 3)
    nrows = int(np.ceil(npanel / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.6 * ncols, 4.0 * nrows))
    axes = np.atleast_1d(axes).ravel()
    for ax, yv, ylabel, title in (
        (axes[0], res, "residuals", "Residuals vs fitted"),
        (axes[2], np.sqrt(np.abs(sres)), "sqrt(|scaled residuals|)", "Scale-location"),
    ):
        ax.scatter(fit, yv, s=style.POINT_SIZE, color=style.POINT, alpha=style.POINT_ALPHA, lw=0)
        gx, gy = smooth(fit, yv)
        ax.plot(gx, gy, label="LOWESS", gid="smooth", **style.SMOOTH)
        if title.startswith("Residuals"):
            ax.axhline(0, **style.REFERENCE)
        ax.set_xlabel("fitted values", fontsize=style.FONT_LABEL)
        ax.set_ylabel(ylabel, fontsize=style.FONT_LABEL)
        ax.set_title(title, fontsize=style.FONT_TITLE)
        ax.legend(fontsize=7, loc="upper right")
    _qq(axes[1], res, "residuals", "Normal QQ: residuals")
    for ax, (g, c) in zip(axes[3:], re_panels, strict=False):
        _qq(ax, m.ranef[g][c].to_numpy(), "conditional modes", f"Normal QQ: {g} {c}")
    ax = axes[3 + len(re_panels)]
    g = m.structure.factors[0].name
    codes = m.model.data.rows("residuals by group").codes[0]
    levels = [str(v) for v in m.ranef[g].index] if g in m.ranef else [str(v) for v in m.structure.factors[0].levels]
    by = pd.Series(res).groupby(codes)
    med = by.median()
    order = med.sort_values(kind="stable").index.to_numpy()
    boxes = [by.get_group(c).to_numpy() for c in order]
    ax.boxplot(
        boxes,
        positions=np.arange(len(boxes)),
        widths=0.6,
        showfliers=len(boxes) <= 40,
        flierprops={"markersize": 2},
        medianprops={"color": style.SMOOTH["color"]},
        boxprops={"color": style.POINT, "lw": 0.8},
        whiskerprops={"color": style.POINT, "lw": 0.8},
        capprops={"color": style.POINT, "lw": 0.8},
    )
    ax.axhline(0, **style.REFERENCE)
    if len(boxes) <= 30:
        ax.set_xticks(np.arange(len(boxes)), [levels[int(c)] for c in order], rotation=90, fontsize=style.FONT_TICK)
    else:
        ax.set_xticks([])
    ax.set_xlabel(f"{g} ({len(boxes)} levels, ordered by median residual)", fontsize=style.FONT_LABEL)
    ax.set_ylabel("residuals", fontsize=style.FONT_LABEL)
    ax.set_title(f"Residuals by {g}", fontsize=style.FONT_TITLE)
    for ax in axes[npanel:]:
        ax.set_visible(False)
    fig.tight_layout()
    return _finish(fig)
