"""Tidy data frames of a fit, with broom.mixed's columns."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .fitted import LmerFit
from .inference import coef_table
from .layout import sd_corr, tril_pairs

__all__ = ["tidy"]


def tidy(m: LmerFit, effects: str = "fixed", ddf: str | None = "satterthwaite") -> pd.DataFrame:
    """``effects="fixed"``: effect, group, term, estimate, std.error, statistic, df, p.value;
    ``"ran_pars"``: effect, group, term (``sd__(Intercept)``, ``cor__(Intercept).ses``,
    ``sd__Observation``), estimate; ``"ran_vals"``: effect, group, level, term, estimate, std.error.

    Examples
    --------
    >>> import mixedmodels as mm
    >>> m = mm.lmer("Reaction ~ Days + (Days | Subject)", mm.datasets.load("sleepstudy"))
    >>> tidy(m, "ran_pars")["term"].tolist()
    ['sd__(Intercept)', 'sd__Days', 'cor__(Intercept).Days', 'sd__Observation']
    """
    if effects == "fixed":
        ct = coef_table(m, ddf=ddf)
        out = pd.DataFrame(
            {
                "effect": "fixed",
                "group": None,
                "term": ct.index,
                "estimate": ct["Estimate"].to_numpy(),
                "std.error": ct["Std. Error"].to_numpy(),
                "statistic": ct["t value"].to_numpy(),
            }
        )
        if "df" in ct:
            out["df"] = ct["df"].to_numpy()
            out["p.value"] = ct["Pr(>|t|)"].to_numpy()
        return out
    if effects == "ran_pars":
        rows: list[tuple[str, str, str, float]] = []
        for term, cov in m.term_covariances():
            sd, corr = sd_corr(cov)
            rows.extend(("ran_pars", term.name, f"sd__{c}", float(sd[i])) for i, c in enumerate(term.columns))
            rows.extend(
                ("ran_pars", term.name, f"cor__{term.columns[j]}.{term.columns[i]}", float(corr[i, j]))
                for i, j in tril_pairs(term.k)
                if i != j
            )
        rows.append(("ran_pars", "Residual", "sd__Observation", m.sigma))
        return pd.DataFrame(rows, columns=["effect", "group", "term", "estimate"])
    if effects == "ran_vals":
        frames = []
        for g, re in m.ranef.items():
            var = m.ranef_condvar[g]
            long = re.stack().reset_index()
            long.columns = pd.Index(["level", "term", "estimate"])
            long["std.error"] = np.sqrt(var.to_numpy()).ravel()  # stack's order: level by level, term by term
            long.insert(0, "group", g)
            long.insert(0, "effect", "ran_vals")
            frames.append(long)
        vals: pd.DataFrame = pd.concat(frames, ignore_index=True)
        return vals
    raise ValueError(f"effects must be 'fixed', 'ran_pars' or 'ran_vals', not {effects!r}")
