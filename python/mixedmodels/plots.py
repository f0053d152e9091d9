"""Pictures of a fit with matplotlib (optional: ``pip install "mixedmodels[plot]"``): each group's
line (partial pooling, no pooling, a simulated population), caterpillar plots of the conditional
modes, shrinkage arrows, and residual diagnostics. Every function returns the matplotlib Figure."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import special

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
]


Figure = Any  # matplotlib.figure.Figure (matplotlib is an optional dependency: not imported here)
Axes = Any  # matplotlib.axes.Axes


def _plt() -> Any:
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - exercised by the no-matplotlib test
        raise MixedModelsError('plots need matplotlib: pip install "mixedmodels[plot]"') from exc
    return plt


def _figure_and_axes(ax: Axes | None) -> tuple[Figure, Axes]:
    """The figure of ``ax``, or a new figure with one axes of the default size."""
    if ax is None:
        fig, ax = _plt().subplots(figsize=(6.4, 4.8))
        return fig, ax
    return ax.figure, ax


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


def _slope(m: LmerFit, group: str | None, covariate: str | None) -> tuple[str, str]:
    """The grouping factor and covariate of a random slope (the first one, unless named)."""
    frame = _frame(m)
    candidates = []
    for g, re in m.ranef.items():
        if group is not None and g != group:
            continue
        for c in re.columns:
            if c in frame.columns and pd.api.types.is_numeric_dtype(frame[c]):
                candidates.append((g, c))
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
        groups drawn from N(fixef, Sigma) (``sample_groups``).
    group, covariate : str, optional
        Which grouping factor and slope (default: the first random slope on a numeric variable).
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = _plt()
    group, cov = _slope(m, group, covariate)
    fig, ax = _figure_and_axes(ax)
    labels, a, b, ranges = _lines(m, kind, group, cov, seed)
    if kind != "population":
        hi = _pick(list(m.coef[group].index), groups, n, seed)
    elif groups is not None or n is not None:
        hi = _pick(labels, None, n or len(groups or []), seed)
    else:
        hi = []
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    where = {lab: i for i, lab in enumerate(labels)}
    for lab, ai, bi, (lo, up) in zip(labels, a, b, ranges, strict=True):
        if lab in hi or not (np.isfinite(ai) and np.isfinite(bi)):
            continue
        xs = np.array([lo, up])
        ax.plot(xs, ai + bi * xs, color="0.55", lw=0.7, alpha=0.55, zorder=1, gid=f"group:{lab}")
    for k, lab in enumerate(hi):  # highlighted groups on top, in the order asked for
        i = where[lab]
        if not (np.isfinite(a[i]) and np.isfinite(b[i])):
            continue
        xs = np.array(ranges[i])
        ax.plot(
            xs, a[i] + b[i] * xs, color=colours[k % len(colours)], lw=2.2, label=str(lab), zorder=3, gid=f"group:{lab}"
        )
    fe = m.fixef
    xs = np.quantile(_frame(m)[cov].to_numpy(dtype=float), [0.0, 1.0])
    ax.plot(
        xs,
        fe["(Intercept)"] + fe[cov] * xs,
        color="black",
        lw=2.5,
        ls="--",
        label="average (fixed effects)",
        zorder=4,
        gid="fixed",
    )
    ax.set_xlabel(cov)
    ax.set_ylabel(m.structure.response)
    ax.set_title(_TITLES[kind].format(g=group, n=len(labels)), fontsize=10)
    ax.legend(fontsize=8, loc="best")
    return fig


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
    """
    plt = _plt()
    group, cov = _slope(m, group, covariate)
    fig, ax = _figure_and_axes(ax)
    frame = _with_group(m, group)
    c = m.coef[group]
    ranges = frame.groupby(group, observed=True)[cov].agg(["min", "max"]).reindex(c.index)
    hi = _pick(list(c.index), groups, n, seed)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    a, b = c["(Intercept)"].to_numpy(), c[cov].to_numpy()
    lo, up = ranges["min"].to_numpy(dtype=float), ranges["max"].to_numpy(dtype=float)
    for i, lab in enumerate(c.index):
        if lab in hi or not np.isfinite(lo[i]):
            continue
        xs = np.linspace(lo[i], up[i], 30)
        ax.plot(xs, inverse_link(a[i] + b[i] * xs), color="0.55", lw=0.7, alpha=0.55, zorder=1, gid=f"group:{lab}")
    where = {lab: i for i, lab in enumerate(c.index)}
    for k, lab in enumerate(hi):
        i = where[lab]
        xs = np.linspace(lo[i], up[i], 30)
        ax.plot(xs, inverse_link(a[i] + b[i] * xs), color=colours[k % len(colours)], lw=2.2, label=str(lab), zorder=3)
    fe = m.fixef
    lo_all, up_all = (float(v) for v in np.quantile(frame[cov].to_numpy(dtype=float), [0.0, 1.0]))
    xs = np.linspace(lo_all, up_all, 60)
    ax.plot(
        xs,
        inverse_link(fe["(Intercept)"] + fe[cov] * xs),
        color="black",
        lw=2.5,
        ls="--",
        label="fixed effects",
        zorder=4,
        gid="fixed",
    )
    ax.set_xlabel(cov)
    ax.set_ylabel(f"{m.structure.response} (mean, response scale)")
    ax.set_title(f"Each {group}'s curve from the mixed model (coef), other covariates at 0", fontsize=10)
    ax.legend(fontsize=8, loc="best")
    return fig


def plot_pooling(
    m: LmerFit,
    groups: Sequence[str] | None = None,
    n: int | None = None,
    seed: Seed = None,
    group: str | None = None,
    covariate: str | None = None,
) -> Figure:
    """No pooling, partial pooling and a simulated population side by side on the same axes.

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = _plt()
    fig, axes = plt.subplots(1, 3, figsize=(16, 5), sharex=True, sharey=True)
    for ax, kind in zip(axes, ("none", "partial", "population"), strict=True):
        plot_group_lines(m, groups=groups, n=n, seed=seed, kind=kind, group=group, covariate=covariate, ax=ax)
    for ax in axes[1:]:
        ax.set_ylabel("")
    fig.suptitle(f"{m.formula}: lines per {_slope(m, group, covariate)[0]}", fontsize=12)
    fig.tight_layout()
    return fig


def plot_ranef(m: LmerFit, group: str | None = None, level: float = 0.95) -> Figure:
    """Caterpillar plot: each level's conditional mode with its interval from the conditional
    variance, levels ordered by value, one panel per term.

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = _plt()
    groups = [group] if group else list(m.ranef)
    z = special.ndtri((1 + level) / 2)
    panels = [(g, c) for g in groups for c in m.ranef[g].columns]
    nlev = max(len(m.ranef[g]) for g in groups)
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), max(4.0, min(0.09 * nlev + 1.5, 16))))
    axes = np.atleast_1d(axes)
    for ax, (g, c) in zip(axes, panels, strict=True):
        v = m.ranef[g][c]
        se = np.sqrt(m.ranef_condvar[g][c])
        order = np.argsort(v.to_numpy())
        pos = np.arange(len(v))
        ax.errorbar(v.to_numpy()[order], pos, xerr=z * se.to_numpy()[order], fmt="o", ms=2.5, lw=0.8, color="C0")
        ax.axvline(0, color="black", lw=0.8, ls="--")
        ax.set_xlabel(f"conditional mode of {c}")
        ax.set_ylabel(f"{g} (ordered)")
        if len(v) <= 40:
            ax.set_yticks(pos, [str(x) for x in v.index[order]], fontsize=7)
        else:
            ax.set_yticks([])
        ax.set_title(f"{g}: {c}, {int(level * 100)}% intervals", fontsize=10)
    fig.tight_layout()
    return fig


def plot_shrinkage(m: LmerFit, group: str | None = None, covariate: str | None = None) -> Figure:
    """For each group: its own least-squares estimate (no pooling) joined by an arrow to the mixed
    model's estimate (partial pooling), intercept against slope.

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = _plt()
    group, cov = _slope(m, group, covariate)
    frame = _frame(m) if ":" not in group else _with_group(m, group)
    ll = lmlist(f"{m.structure.response} ~ {cov} | {group}", frame).coef.reindex(m.coef[group].index)
    c = m.coef[group]
    fig, ax = plt.subplots(figsize=(6.4, 5.6))
    ok = ll[["(Intercept)", cov]].notna().all(axis=1).to_numpy()
    x0, y0 = ll["(Intercept)"].to_numpy()[ok], ll[cov].to_numpy()[ok]
    x1, y1 = c["(Intercept)"].to_numpy()[ok], c[cov].to_numpy()[ok]
    ax.scatter(x0, y0, s=12, color="C1", label="no pooling (per-group OLS)", zorder=2)
    ax.scatter(x1, y1, s=12, color="C0", label="partial pooling (mixed model)", zorder=3)
    for a, b, cc, dd in zip(x0, y0, x1, y1, strict=True):
        ax.annotate("", xy=(cc, dd), xytext=(a, b), arrowprops={"arrowstyle": "->", "color": "0.5", "lw": 0.6})
    ax.scatter(
        [m.fixef["(Intercept)"]], [m.fixef[cov]], marker="X", s=90, color="black", label="fixed effects", zorder=4
    )
    ax.set_xlabel(f"intercept ({m.structure.response} at {cov} = 0)")
    ax.set_ylabel(f"slope of {cov}")
    ax.set_title(f"Shrinkage of each {group}'s intercept and slope", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_diagnostics(m: LmerFit) -> Figure:
    """Residuals against fitted values, normal QQ of the residuals and of each random effect,
    and scale-location.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from scipy import stats  # scipy.stats is heavy (~1 s, 20 MB): imported on use

    plt = _plt()
    fit = m.fitted().to_numpy()
    res = m.residuals().to_numpy()
    sres = m.residuals(scaled=True).to_numpy()
    re_panels = [(g, c) for g, r in m.ranef.items() for c in r.columns]
    ncol = 3 + len(re_panels)
    ncols = min(ncol, 3)
    nrows = int(np.ceil(ncol / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.6 * ncols, 4.0 * nrows))
    axes = np.atleast_1d(axes).ravel()
    ax = axes[0]
    ax.scatter(fit, res, s=4, alpha=0.4)
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xlabel("fitted values")
    ax.set_ylabel("residuals")
    ax.set_title("Residuals vs fitted", fontsize=10)
    ax = axes[1]
    stats.probplot(res, dist="norm", plot=ax)
    ax.set_title("Normal QQ: residuals", fontsize=10)
    ax.set_xlabel("theoretical quantiles")
    ax.set_ylabel("residuals")
    ax = axes[2]
    ax.scatter(fit, np.sqrt(np.abs(sres)), s=4, alpha=0.4)
    ax.set_xlabel("fitted values")
    ax.set_ylabel("sqrt(|scaled residuals|)")
    ax.set_title("Scale-location", fontsize=10)
    for ax, (g, c) in zip(axes[3:], re_panels, strict=False):
        stats.probplot(m.ranef[g][c].to_numpy(), dist="norm", plot=ax)
        ax.set_title(f"Normal QQ: {g} {c}", fontsize=10)
        ax.set_xlabel("theoretical quantiles")
        ax.set_ylabel("conditional modes")
    for ax in axes[ncol:]:
        ax.set_visible(False)
    fig.tight_layout()
    return fig
