"""Tidy data frames of a fit, with broom.mixed's columns: `tidy` (fixed effects, variance
parameters, random effects; with broom.mixed's conf.low and conf.high) and `glance` (one row of
the fit's summary statistics)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from .confint import confint
from .exceptions import ArgumentError, MixedModelsError
from .fitted import LmerFit
from .glmm import GeneralizedLinearMixedModel
from .inference import coef_table
from .layout import sd_corr, tril_pairs

__all__ = ["glance", "tidy"]

CONF_METHODS = ("wald", "profile", "boot")


def tidy(
    m: LmerFit,
    effects: str = "fixed",
    ddf: str | None = "satterthwaite",
    conf_int: bool = False,
    conf_level: float = 0.95,
    conf_method: str = "wald",
    scales: str | None = None,
    **boot_options: Any,
) -> pd.DataFrame:
    """broom.mixed's ``tidy`` of a linear mixed model.

    ``effects="fixed"``: effect, group, term, estimate, std.error, statistic, df, p.value (df and
    p.value with ``ddf``; none with ``ddf=None``, as broom.mixed on an lme4 fit);
    ``"ran_pars"``: effect, group, term, estimate, the variance parameters in lme4's order (each
    term's lower triangle column by column: ``sd__(Intercept)``, ``cor__(Intercept).ses``,
    ``sd__ses``), then ``sd__Observation``; with ``scales="vcov"`` variances and covariances
    (``var__``, ``cov__``, ``var__Observation``); ``"ran_vals"``: effect, group, level, term,
    estimate, std.error (the conditional modes and their conditional SDs).

    With ``conf_int`` the columns conf.low and conf.high at ``conf_level``:

    - ``conf_method="wald"``: fixed effects estimate -/+ q std.error, q = qt(df) with a ``ddf``
      method (broom.mixed on an lmerTest fit; Kenward-Roger also adjusts the SEs), the normal
      quantile with ``ddf=None`` (broom.mixed on an lme4 fit); variance parameters NaN (no Wald
      interval for them, as broom.mixed's NA).
    - ``"profile"`` and ``"boot"``: lme4's likelihood profile or parametric bootstrap percentiles
      (`confint.confint`; ``boot_options`` nsim, seed, n_jobs, progress go to the bootstrap), for
      the fixed effects and the sd/cor scale's variance parameters. Not with ``scales="vcov"``.

    Examples
    --------
    >>> import mixedmodels as mm
    >>> m = mm.lmer("Reaction ~ Days + (Days | Subject)", mm.datasets.load("sleepstudy"))
    >>> tidy(m, "ran_pars")["term"].tolist()
    ['sd__(Intercept)', 'cor__(Intercept).Days', 'sd__Days', 'sd__Observation']
    >>> tidy(m, conf_int=True, ddf=None)[["conf.low", "conf.high"]].round(2).values.tolist()
    [[238.03, 264.78], [7.44, 13.5]]
    """
    if not isinstance(conf_int, (bool, np.bool_)):
        raise ArgumentError(f"conf_int must be True or False, got {conf_int!r}")
    if not isinstance(conf_method, str) or conf_method.lower() not in (*CONF_METHODS, "bootstrap"):
        raise ArgumentError(f"conf_method must be 'wald', 'profile' or 'boot', got {conf_method!r}")
    method = "boot" if conf_method.lower() == "bootstrap" else conf_method.lower()
    if scales not in (None, "sdcor", "vcov"):
        raise ArgumentError(f"scales must be None, 'sdcor' or 'vcov', got {scales!r}")
    if not isinstance(conf_level, (float, int)) or isinstance(conf_level, bool) or not 0 < conf_level < 1:
        raise ArgumentError(f"conf_level must be a number between 0 and 1, got {conf_level!r}")
    if boot_options and not (conf_int and method == "boot"):
        raise ArgumentError(
            f"the keyword(s) {', '.join(sorted(boot_options))} apply to conf_int=True with conf_method='boot' only"
        )
    if effects == "fixed":
        out = _fixed(m, ddf)
        if conf_int:
            if method == "wald":
                se = out["std.error"].to_numpy()
                if "df" in out:
                    q = special.stdtrit(out["df"].to_numpy(), (1 + conf_level) / 2)
                else:
                    q = np.full(len(out), special.ndtri((1 + conf_level) / 2))
                out["conf.low"] = out["estimate"].to_numpy() - q * se
                out["conf.high"] = out["estimate"].to_numpy() + q * se
            else:
                ci = confint(m, method=method, level=conf_level, **boot_options).loc[list(m.fixef.index)]
                out["conf.low"] = ci.iloc[:, 0].to_numpy()
                out["conf.high"] = ci.iloc[:, 1].to_numpy()
        return out
    if effects == "ran_pars":
        vcov_scale = scales == "vcov"
        if vcov_scale and conf_int and method != "wald":
            raise MixedModelsError(
                "profile and bootstrap intervals are on the sd/cor scale: use scales='sdcor' (or None) with conf_int"
            )
        out = _ran_pars(m, vcov_scale)
        if conf_int:
            if method == "wald":
                out["conf.low"] = np.nan
                out["conf.high"] = np.nan
            else:
                ci = confint(m, method=method, level=conf_level, **boot_options)
                names = m.structure.theta.sdcor_names  # .sig01, ... (the order of the rows here), .sigma
                if len(out) == len(names) - 1:  # no residual row (a GLMM's fixed scale)
                    names = names[:-1]
                out["conf.low"] = ci.loc[names].iloc[:, 0].to_numpy()
                out["conf.high"] = ci.loc[names].iloc[:, 1].to_numpy()
        return out
    if effects == "ran_vals":
        if conf_int:
            raise MixedModelsError("conf_int is for effects='fixed' and 'ran_pars'")
        return _ran_vals(m)
    raise ArgumentError(f"effects must be 'fixed', 'ran_pars' or 'ran_vals', not {effects!r}")


def _fixed(m: LmerFit, ddf: str | None) -> pd.DataFrame:
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


def _ran_pars(m: LmerFit, vcov_scale: bool) -> pd.DataFrame:
    rows: list[tuple[str, str, str, float]] = []
    for term, cov in m.term_covariances():
        sd, corr = sd_corr(cov)
        for i, j in tril_pairs(term.k):
            if i == j:
                name, value = ("var", cov[i, i]) if vcov_scale else ("sd", sd[i])
                rows.append(("ran_pars", term.name, f"{name}__{term.columns[i]}", float(value)))
            else:
                name, value = ("cov", cov[i, j]) if vcov_scale else ("cor", corr[i, j])
                rows.append(("ran_pars", term.name, f"{name}__{term.columns[j]}.{term.columns[i]}", float(value)))
    if vcov_scale:
        rows.append(("ran_pars", "Residual", "var__Observation", m.sigma**2))
    else:
        rows.append(("ran_pars", "Residual", "sd__Observation", m.sigma))
    return pd.DataFrame(rows, columns=["effect", "group", "term", "estimate"])


def _ran_vals(m: LmerFit) -> pd.DataFrame:
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


def glance(m: LmerFit) -> pd.DataFrame:
    """broom.mixed's ``glance`` of a linear mixed model: one row with nobs, sigma, logLik, AIC, BIC,
    REMLcrit (a REML fit; ``deviance``, the ML deviance, for an ML fit) and df.residual (nobs less
    the parameters counted by logLik's df). logLik, AIC and BIC are REML-based for a REML fit, as
    lme4's. A glmer fit gives ``deviance`` (lme4's deviance of a GLMM: the sum of the unit
    deviances at the conditional modes plus the penalty and log-determinant) in that place, with
    sigma 1 for families without a dispersion, as broom.mixed.

    Examples
    --------
    >>> import mixedmodels as mm
    >>> m = mm.lmer("Reaction ~ Days + (Days | Subject)", mm.datasets.load("sleepstudy"))
    >>> glance(m).columns.tolist()
    ['nobs', 'sigma', 'logLik', 'AIC', 'BIC', 'REMLcrit', 'df.residual']
    """
    glmm = isinstance(m.model, GeneralizedLinearMixedModel)
    crit = ("REMLcrit", m.objective) if m.reml and not glmm else ("deviance", m.deviance)
    row = {
        "nobs": m.nobs,
        "sigma": m.sigma,
        "logLik": m.loglik,
        "AIC": m.aic,
        "BIC": m.bic,
        crit[0]: crit[1],
        "df.residual": m.nobs - m.df,
    }
    return pd.DataFrame([row])
