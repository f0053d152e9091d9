"""Tidy data frames of a fit, with broom.mixed's columns."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .varpar import sd_corr

__all__ = ["tidy"]


def tidy(m, effects: str = "fixed", ddf: str | None = "satterthwaite") -> pd.DataFrame:
    """``effects="fixed"``: effect, group, term, estimate, std.error, statistic, df, p.value;
    ``"ran_pars"``: effect, group, term (``sd__(Intercept)``, ``cor__(Intercept).ses``,
    ``sd__Observation``), estimate; ``"ran_vals"``: effect, group, level, term, estimate, std.error."""
    if effects == "fixed":
        ct = m.coef_table(ddf=ddf)
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
        rows = []
        for name, term, cov in m._term_covs():
            sd, corr = sd_corr(cov)
            for i, c in enumerate(term.columns):
                rows.append(("ran_pars", name, f"sd__{c}", sd[i]))
            for j in range(term.k):
                for i in range(j + 1, term.k):
                    rows.append(("ran_pars", name, f"cor__{term.columns[j]}.{term.columns[i]}", corr[i, j]))
        rows.append(("ran_pars", "Residual", "sd__Observation", m.sigma))
        return pd.DataFrame(rows, columns=["effect", "group", "term", "estimate"])
    if effects == "ran_vals":
        frames = []
        for g, re in m.ranef.items():
            se = np.sqrt(m.ranef_condvar[g])
            long = re.stack().rename("estimate").reset_index()
            long.columns = ["level", "term", "estimate"]
            long["std.error"] = se.stack().to_numpy()
            long.insert(0, "group", g)
            long.insert(0, "effect", "ran_vals")
            frames.append(long)
        return pd.concat(frames, ignore_index=True)
    raise ValueError(f"effects must be 'fixed', 'ran_pars' or 'ran_vals', not {effects!r}")
