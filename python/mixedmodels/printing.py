"""One table model rendered as text (lme4-style summary, arm-style display) and as HTML."""

from __future__ import annotations

import html
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol, cast

import numpy as np
import pandas as pd

from .exceptions import DataError
from .fitted import LmerFit
from .inference import coef_table
from .layout import sd_corr

__all__ = ["GlmerSummary", "Summary", "Table", "block_description", "display_text", "format_column"]


@dataclass(frozen=True)
class Table:
    """A titled table: header cells, rows of cells, and which columns are left-aligned."""

    title: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    left: tuple[int, ...] = (0,)

    def text(self) -> str:
        ncol = len(self.header)
        widths = [
            max(len(self.header[j]), *(len(r[j]) for r in self.rows)) if self.rows else len(self.header[j])
            for j in range(ncol)
        ]

        def line(cells: tuple[str, ...]) -> str:
            out = []
            for j, c in enumerate(cells):
                out.append(c.ljust(widths[j]) if j in self.left else c.rjust(widths[j]))
            return " " + " ".join(out).rstrip()

        lines = [self.title] if self.title else []
        lines.append(line(self.header))
        lines.extend(line(r) for r in self.rows)
        return "\n".join(lines)

    def html(self) -> str:
        head = "".join(f"<th>{html.escape(h)}</th>" for h in self.header)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in self.rows)
        # a caption is as wide as its table: without nowrap a long title over a narrow table (the
        # correlation of two fixed effects) wraps into a column of single words
        style = "caption-side: top; text-align: left; white-space: nowrap; font-weight: bold"
        cap = f'<caption style="{style}">{html.escape(self.title)}</caption>' if self.title else ""
        return f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def format_column(values: Iterable[float], digits: int = 4, max_decimals: int = 8) -> list[str]:
    """Format numbers with one number of decimals, enough for `digits` significant digits in the
    smallest non-zero magnitude (R's ``format`` rule, simplified).

    Examples
    --------
    >>> format_column([251.405, 10.467])
    ['251.41', '10.47']
    """
    vals = [float(v) for v in values]
    finite = [abs(v) for v in vals if math.isfinite(v) and v != 0.0]
    dec = 0
    for a in finite:
        dec = max(dec, digits - 1 - math.floor(math.log10(a)))
    dec = min(max(dec, 0), max_decimals)
    return ["NaN" if math.isnan(v) else (f"{v:.{dec}f}" if math.isfinite(v) else str(v)) for v in vals]


def _re_table(m: LmerFit, digits: int = 4, variance: bool = True, residual: bool = True) -> Table:
    rows = []
    names, vars_, sds, corr_rows = [], [], [], []
    for term, cov in m.term_covariances():
        sd, corr = sd_corr(cov)
        for i, c in enumerate(term.columns):
            names.append((term.name if i == 0 else "", c))
            vars_.append(cov[i, i])
            sds.append(sd[i])
            corr_rows.append([float(corr[i, j]) for j in range(i)])
    if residual:
        names.append(("Residual", ""))
        vars_.append(m.sigma**2)
        sds.append(m.sigma)
        corr_rows.append([])
    fv, fs = format_column(vars_, digits), format_column(sds, digits)
    ncorr = max((len(c) for c in corr_rows), default=0)
    for (g, c), v, s, cr in zip(names, fv, fs, corr_rows, strict=True):
        cells = [g, c] + ([v] if variance else []) + [s]
        cells += [f"{x:.2f}" for x in cr] + [""] * (ncorr - len(cr))
        rows.append(tuple(cells))
    header = ["Groups", "Name"] + (["Variance"] if variance else []) + ["Std.Dev."]
    header += ["Corr"] + [""] * (ncorr - 1) if ncorr else []
    return Table("Random effects:" if variance else "Error terms:", tuple(header), tuple(rows), left=(0, 1))


def _format_p(p: float) -> str:
    return "< 2e-16" if p < 2e-16 else f"{p:.3g}"


def _fixed_table(m: LmerFit, digits: int = 4, ddf: str | None = "satterthwaite") -> Table:
    ct = coef_table(m, ddf) if ddf else None
    est, se = m.fixef.to_numpy(), (ct["Std. Error"] if ct is not None else m.fixef_se).to_numpy()
    t = est / se
    fe, fse, ft = format_column(est, digits), format_column(se, digits), format_column(t, 3, 3)
    if ct is None:
        rows = tuple((n, a, b, c) for n, a, b, c in zip(m.fixef.index, fe, fse, ft, strict=True))
        return Table("Fixed effects:", ("", "Estimate", "Std. Error", "t value"), rows)
    fdf = format_column(ct["df"].to_numpy(), 4, 3)
    fp = [_format_p(p) for p in ct["Pr(>|t|)"]]
    rows = tuple(zip(m.fixef.index, fe, fse, fdf, ft, fp, strict=True))
    return Table("Fixed effects:", ("", "Estimate", "Std. Error", "df", "t value", "Pr(>|t|)"), rows)


def _corr_table(m: LmerFit) -> Table | None:
    p = len(m.fixef)
    if p < 2:
        return None
    v = m.vcov.to_numpy()
    s = np.sqrt(np.diag(v))
    c = v / np.outer(s, s)
    short = [_abbrev(n) for n in m.fixef.index]
    rows = []
    for i in range(1, p):
        rows.append((m.fixef.index[i], *[f"{c[i, j]:.3f}" for j in range(i)], *[""] * (p - 1 - i)))
    return Table("Correlation of Fixed Effects:", ("", *short[: p - 1]), tuple(rows))


def _abbrev(name: str, n: int = 6) -> str:
    """R's ``abbreviate(name, n)``: drop lower-case vowels from the right, then lower-case letters,
    never the first character (``(Intercept)`` -> ``(Intr)``)."""
    chars = list(name)
    for pool in ("aeiou", "abcdefghijklmnopqrstuvwxyz"):
        i = len(chars) - 1
        while len(chars) > n and i > 0:
            if chars[i] in pool:
                del chars[i]
            i -= 1
    return "".join(chars[:n]) if len(chars) > n else "".join(chars)


class Summary:
    """The lme4-style summary of a fit: ``print(m.summary())`` or display it in a notebook.
    The fixed-effects table carries lmerTest's df and p-values (``ddf``: "satterthwaite",
    "kenward-roger" or None for none)."""

    def __init__(self, fit: LmerFit, ddf: str | None = "satterthwaite") -> None:
        self.fit = fit
        self.ddf = ddf

    def _header(self) -> list[str]:
        m = self.fit
        kind = "REML" if m.reml else "maximum likelihood"
        first = f"Linear mixed model fit by {kind}"
        if self.ddf:
            method = "Satterthwaite" if self.ddf.lower().startswith("s") else "Kenward-Roger"
            first += f". t-tests use {method}'s method"
        out = [first, f"Formula: {m.formula}"]
        if m.data_name:
            out.append(f"   Data: {m.data_name}")
        if m.n_dropped:
            out.append(f"   ({m.n_dropped} observation{'s' if m.n_dropped > 1 else ''} deleted due to missingness)")
        return out

    def _criterion(self) -> Table | str:
        m = self.fit
        if m.reml:
            return f"REML criterion at convergence: {m.objective:.1f}"
        vals = [f"{v:.1f}" for v in (m.aic, m.bic, m.loglik, m.deviance)]  # lme4: one decimal
        return Table("", ("AIC", "BIC", "logLik", "deviance", "df.resid"), ((*vals, str(m.nobs - m.df)),), left=())

    def _residuals(self) -> Table | str:
        try:
            r = self.fit.residuals(scaled=True).to_numpy()
        except DataError:
            return "Scaled residuals: not available (fitted from streamed data; the rows are not held)"
        q = np.quantile(r, [0, 0.25, 0.5, 0.75, 1.0])
        return Table("Scaled residuals:", ("Min", "1Q", "Median", "3Q", "Max"), (tuple(format_column(q, 4)),), left=())

    def _groups_line(self) -> str:
        m = self.fit
        g = "; ".join(f"{k}, {v}" for k, v in m.ngroups.items())
        return f"Number of obs: {m.nobs}, groups:  {g}"

    def _parts(self) -> list[Table | str]:
        m = self.fit
        parts: list[Table | str] = [
            "\n".join(self._header()),
            self._criterion(),
            self._residuals(),
            _re_table(m),
            self._groups_line(),
            _fixed_table(m),
        ]
        return parts + self._closing()

    def _closing(self) -> list[Table | str]:
        """What follows the fixed effects: their correlations, dropped columns, the fit's warnings."""
        m = self.fit
        parts: list[Table | str] = []
        ct = _corr_table(m)
        if ct is not None:
            parts.append(ct)
        if m.structure.dropped_fixed:
            parts.append(
                "fixed-effect model matrix is rank deficient so dropping: " + ", ".join(m.structure.dropped_fixed)
            )
        if m.messages:
            parts.append("\n".join(m.messages))
        return parts

    def __str__(self) -> str:
        out = []
        for p in self._parts():
            out.append(p.text() if isinstance(p, Table) else p)
        # the groups line belongs directly under the random-effects table
        text = "\n\n".join(out)
        return text.replace("\n\nNumber of obs:", "\nNumber of obs:")

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        out = ['<div class="mixedmodels-summary">']
        for p in self._parts():
            if isinstance(p, Table):
                out.append(p.html())
            else:
                out.append("<p>" + html.escape(p).replace("\n", "<br>") + "</p>")
        out.append("</div>")
        return "\n".join(out)


class _Glmer(Protocol):
    """What the glmer summary reads beyond `LmerFit`."""

    @property
    def family(self) -> Any: ...
    @property
    def n_agq(self) -> int: ...
    @property
    def df_resid(self) -> int: ...
    def coef_table(self) -> pd.DataFrame: ...
    def residuals(self, scaled: bool = False, type: str = "deviance") -> pd.Series: ...  # noqa: A002


class GlmerSummary(Summary):
    """lme4's summary of a glmer fit: ``print(m.summary())`` or display it in a notebook."""

    def __init__(self, fit: LmerFit) -> None:
        super().__init__(fit, None)
        self.glmer = cast(_Glmer, fit)

    def _header(self) -> list[str]:
        m, g = self.fit, self.glmer
        how = f"Adaptive Gauss-Hermite Quadrature, nAGQ = {g.n_agq}" if g.n_agq > 1 else "Laplace Approximation"
        out = [
            f"Generalized linear mixed model fit by maximum likelihood ({how})",
            f" Family: {g.family.label}  ( {g.family.link.name} )",
            f"Formula: {m.formula}",
        ]
        if m.data_name:
            out.append(f"   Data: {m.data_name}")
        if m.n_dropped:
            out.append(f"   ({m.n_dropped} observation{'s' if m.n_dropped > 1 else ''} deleted due to missingness)")
        return out

    def _criterion(self) -> Table | str:
        m = self.fit
        vals = [f"{v:.1f}" for v in (m.aic, m.bic, m.loglik, -2 * m.loglik)]
        return Table(
            "", ("AIC", "BIC", "logLik", "deviance", "df.resid"), ((*vals, str(self.glmer.df_resid)),), left=()
        )

    def _residuals(self) -> Table | str:
        r = self.glmer.residuals(scaled=True, type="pearson").to_numpy()
        q = np.quantile(r, [0, 0.25, 0.5, 0.75, 1.0])
        return Table("Scaled residuals:", ("Min", "1Q", "Median", "3Q", "Max"), (tuple(format_column(q, 4)),), left=())

    def _parts(self) -> list[Table | str]:
        m = self.fit
        ct = self.glmer.coef_table()
        stat = str(ct.columns[2])  # "z value", or lme4's "t value" for a family with a dispersion
        est, se, z = ct["Estimate"].to_numpy(), ct["Std. Error"].to_numpy(), ct[stat].to_numpy()
        rows = tuple(
            zip(
                ct.index,
                format_column(est, 4),
                format_column(se, 4),
                [f"{v:.3f}" for v in z],
                [_format_p(p) for p in ct["Pr(>|z|)"]],
                strict=True,
            )
        )
        fixed = Table("Fixed effects:", ("", "Estimate", "Std. Error", stat, "Pr(>|z|)"), rows)
        parts: list[Table | str] = [
            "\n".join(self._header()),
            self._criterion(),
            self._residuals(),
            _re_table(m, residual=not self.glmer.family.dispersion_free),
            self._groups_line(),
            fixed,
        ]
        return parts + self._closing()


def display_text(m: LmerFit, digits: int = 2) -> str:
    """The ``arm::display`` view: estimates and SEs, error-term SDs and correlations, n, AIC."""
    call = f"lmer(formula = {m.formula}" + (f", data = {m.data_name}" if m.data_name else "") + ")"
    est = [f"{v:.{digits}f}" for v in m.fixef.to_numpy()]
    se = [f"{v:.{digits}f}" for v in m.fixef_se.to_numpy()]
    fixed = Table("", ("", "coef.est", "coef.se"), tuple(zip(m.fixef.index, est, se, strict=True)))
    re = _re_table(m, digits=digits + 1, variance=False)
    lines = [call, fixed.text()[1:] if fixed.text().startswith(" ") else fixed.text(), "", re.text(), "---"]
    g = ", ".join(f"{k}, {v}" for k, v in m.ngroups.items())
    lines.append(f"number of obs: {m.nobs}, groups: {g}")
    lines.append(f"AIC = {m.aic:.1f}, deviance = {m.deviance:.1f}")
    return "\n".join(lines)


def block_description(m: LmerFit) -> str:
    """Rows of L's blocks labelled by grouping factor (engine order) and 'fixed'."""
    labels = [f.name for f in m.structure.factors] + ["fixed"]
    rows = [[str(b) for b in row] for row in m.model.block_layout]
    width = max(len(c) for r in rows for c in r) + 2
    lw = max(len(x) for x in labels) + 2
    out = ["rows".ljust(lw) + "".join(x.ljust(width) for x in labels).rstrip()]
    for lab, r in zip(labels, rows, strict=True):
        out.append(lab.ljust(lw) + "".join(c.ljust(width) for c in r).rstrip())
    return "\n".join(out)
