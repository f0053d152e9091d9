"""The result of a fit: `LmerResult`, lme4's accessors (`fitted.LmerFit`) and the analyses after the
fit, each in its own module: tests and degrees of freedom (`inference`), intervals and the bootstrap
(`confint`), simulation (`simulate`), tidy frames (`tidy`), figures (`plots`) and printing
(`printing`). Every analysis reaches the criterion through the fit's `model`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from . import anova_tables, confint, emmeans, inference, plots, printing, r2, simulate, tidy, updates
from .arguments import (
    MAX_EVALUATIONS,
    check_bool,
    check_count,
    check_level,
    check_optimizer,
    check_response,
    check_seed,
    check_simulation_size,
    check_start,
)
from .emmeans import EmmGrid
from .exceptions import ArgumentError
from .fitted import LmerFit
from .influence import GroupInfluence, cooks_distance, group_influence, hatvalues
from .simulate import Seed

__all__ = ["LmerResult"]


class LmerResult(LmerFit):
    """A fitted linear mixed model. Built once by `lmer` or `fit_arrays`; never modified.

    The attribute names follow lme4 (in snake_case): `fixef`, `ranef`, `coef`, `var_corr`,
    `theta`, `sigma`, `vcov`, `loglik`, ... Variance components are on the scale of the data.
    `model` is the `model.LinearMixedModel` it estimates: its structure, data and criterion.
    """

    # ------------------------------------------------------------------ inference
    def coef_table(self, ddf: str | None = "satterthwaite") -> pd.DataFrame:
        """Fixed effects with SEs, denominator df, t and two-sided p (as lmerTest's summary).

        Parameters
        ----------
        ddf : {"satterthwaite", "kenward-roger", None}
            Satterthwaite (default) or Kenward-Roger degrees of freedom (KR also adjusts the SEs);
            None gives estimates, SEs and t only.

        Examples
        --------
        >>> import mixedmodels as mm
        >>> m = mm.lmer("Reaction ~ Days + (Days | Subject)", mm.datasets.load("sleepstudy"))
        >>> round(float(m.coef_table()["df"]["Days"]), 3)
        17.0
        """
        _check_ddf(ddf)
        return inference.coef_table(self, ddf)

    def anova(
        self,
        type: int | str = 3,  # noqa: A002  (R's name)
        ddf: str | None = None,
        test: str = "F",
        method: str | None = None,
    ) -> pd.DataFrame:
        """Tests of the fixed-effect terms: lmerTest's type I, II and III F tables, or car's Wald
        chi-square and Kenward-Roger F tables (`anova_tables` documents the constructions).

        ==============================================  ===============================================
        call                                            R
        ==============================================  ===============================================
        ``m.anova(type=t)``                             ``anova(mt, type = t)`` (lmerTest, Satterthwaite)
        ``m.anova(type=t, ddf="kenward-roger")``        ``anova(mt, type = t, ddf = "Kenward-Roger")``
        ``m.anova(type=t, test="Chisq")`` (t = 2, 3)    ``car::Anova(m, type = t)``
        ``m.anova(type=t, method="car")`` (t = 2, 3)    ``car::Anova(m, type = t, test.statistic = "F")``
        ==============================================  ===============================================

        Parameters
        ----------
        type : {1, 2, 3}
            Sequential (1), lmerTest's type II (2) or contrast-invariant type III (3, default).
            car's type 3 tests the coefficients as coded, ``(Intercept)`` included (not
            contrast-invariant, as car's).
        ddf : {"satterthwaite", "kenward-roger"}, optional
            Denominator df of the F tests (default Satterthwaite for lmerTest's tables;
            car's F tables take Kenward-Roger only).
        test : {"F", "Chisq"}
            F tests, or car's Wald chi-square tests (also for glmer fits).
        method : {"lmerTest", "car"}, optional
            Whose F tables (default lmerTest's); ``"Chisq"`` tables are car's.

        Returns
        -------
        DataFrame indexed by term, with R's columns (``Sum Sq, Mean Sq, NumDF, DenDF, F value,
        Pr(>F)``; ``Chisq, Df, Pr(>Chisq)``; ``F, Df, Df.res, Pr(>F)``). An intercept-only model
        gives an empty table, except car's type 3 (the ``(Intercept)`` row); car's type 2 fails there
        in R, and is empty here.

        Examples
        --------
        >>> import mixedmodels as mm
        >>> import warnings
        >>> with warnings.catch_warnings():
        ...     warnings.simplefilter("ignore")  # this fit is singular
        ...     m = mm.lmer("mAch ~ ses * sector + (ses | school)", mm.datasets.load("hsb"))
        >>> list(m.anova().index)
        ['ses', 'sector', 'ses:sector']
        >>> list(m.anova(type=3, test="Chisq").index)
        ['(Intercept)', 'ses', 'sector', 'ses:sector']
        """
        _check_ddf(ddf)
        return anova_tables.anova_table(self, type, ddf=ddf, test=test, method=method)

    def emmeans(
        self,
        specs: str | Sequence[str],
        by: str | Sequence[str] | None = None,
        at: Mapping[str, Any] | None = None,
        ddf: str = "kenward-roger",
        level: float = 0.95,
    ) -> EmmGrid:
        """Estimated marginal means with emmeans' conventions (`emmeans.emmeans`).

        Parameters
        ----------
        specs : str or list of str
            ``"~ sector"``, ``"~ sector | ses"`` (panels), ``"~ sector * ses"``, ``"~ 1"``, or names.
        by : str or list of str, optional
            Panel variables.
        at : dict, optional
            Values of variables, e.g. ``{"ses": [-1, 0, 1]}``.
        ddf : {"kenward-roger", "satterthwaite", "asymptotic"}
            Degrees-of-freedom method (kenward-roger also adjusts the SEs).
        level : float
            Confidence level.

        Returns
        -------
        EmmGrid
            ``.frame`` (the table), ``.pairs()``, ``.contrast()``, ``.summary()``.

        Examples
        --------
        >>> import mixedmodels as mm
        >>> m = mm.lmer("angle ~ recipe * temperature + (1 | recipe:replicate)", mm.datasets.load("cake"))
        >>> m.emmeans("~ recipe").frame["emmean"].round(3).tolist()
        [33.122, 31.644, 31.6]
        """
        return emmeans.emmeans(self, specs, by=by, at=at, ddf=ddf, level=level)

    def emtrends(
        self,
        specs: str | Sequence[str],
        var: str,
        by: str | Sequence[str] | None = None,
        at: Mapping[str, Any] | None = None,
        ddf: str = "kenward-roger",
        level: float = 0.95,
        delta_var: float | None = None,
    ) -> EmmGrid:
        """Estimated marginal trends: the slope in ``var`` per cell of the specs
        (`emmeans.emtrends`, emmeans' difference quotient).

        Parameters
        ----------
        specs : str or list of str
            As for `emmeans`.
        var : str
            The numeric covariate.
        by, at, ddf, level
            As for `emmeans`.
        delta_var : float, optional
            The difference quotient's step (default 0.001 * range(var)).

        Examples
        --------
        >>> import mixedmodels as mm
        >>> m = mm.lmer("Reaction ~ Days + (Days | Subject)", mm.datasets.load("sleepstudy"))
        >>> round(float(m.emtrends("~ 1", var="Days").frame["Days.trend"].iloc[0]), 3)
        10.467
        """
        return emmeans.emtrends(self, specs, var, by=by, at=at, ddf=ddf, level=level, delta_var=delta_var)

    def confint(self, method: str = "profile", level: float = 0.95, **kwargs: Any) -> pd.DataFrame:
        """Confidence intervals for the variance parameters and fixed effects, named as lme4's
        (``.sig01``, ... for SDs and correlations in term order, ``.sigma``, fixed-effect names).

        Parameters
        ----------
        method : {"profile", "wald", "boot"}
            Likelihood profile (the ML deviance, as lme4), Wald (fixed effects only; NaN for the
            variance parameters), or parametric bootstrap percentiles (keywords ``nsim=500``,
            ``seed``, ``n_jobs``, ``progress``).
        level : float
            Confidence level.

        Examples
        --------
        >>> import mixedmodels as mm
        >>> m = mm.lmer("Reaction ~ Days + (Days | Subject)", mm.datasets.load("sleepstudy"))
        >>> m.confint("wald").loc["Days"].round(3).tolist()
        [7.438, 13.497]
        """
        if not isinstance(method, str):
            raise ArgumentError(f"method must be 'profile', 'wald' or 'boot', got {type(method).__name__}")
        level = check_level(level)
        if method.lower() in ("boot", "bootstrap"):
            unknown = sorted(set(kwargs) - set(_BOOT_KEYWORDS))
            if unknown:
                raise ArgumentError(
                    f"unknown keyword(s) {', '.join(unknown)} for method='boot'; it takes {', '.join(_BOOT_KEYWORDS)}"
                )
            _check_boot_arguments(**kwargs)
        elif kwargs:
            raise ArgumentError(
                f"the keyword(s) {', '.join(sorted(kwargs))} apply to method='boot' only, not method={method!r}"
            )
        return confint.confint(self, method=method, level=level, **kwargs)

    def bootstrap(
        self, nsim: int = 500, seed: Seed = None, n_jobs: int = 1, progress: bool | None = None
    ) -> pd.DataFrame:
        """Parametric bootstrap draws of every parameter (rows = replicates; columns as `confint`).

        Examples
        --------
        >>> import mixedmodels as mm
        >>> m = mm.lmer("Reaction ~ Days + (Days | Subject)", mm.datasets.load("sleepstudy"))
        >>> m.bootstrap(nsim=3, seed=1).shape
        (3, 6)
        """
        _check_boot_arguments(nsim=nsim, seed=seed, n_jobs=n_jobs, progress=progress)
        return confint.bootstrap(self, nsim=nsim, seed=seed, n_jobs=n_jobs, progress=progress)

    def r2(self) -> pd.Series:
        """Nakagawa's marginal and conditional R² with Johnson's extension for random slopes, as the
        R package performance's ``r2_nakagawa`` (see `mixedmodels.r2`): R2_marginal, R2_conditional
        and the variance components var_fixed, var_random, var_residual.

        Examples
        --------
        >>> import mixedmodels as mm
        >>> m = mm.lmer("Reaction ~ Days + (Days | Subject)", mm.datasets.load("sleepstudy"))
        >>> m.r2()[["R2_marginal", "R2_conditional"]].round(4).tolist()
        [0.2787, 0.7992]
        """
        return r2.r2(self)

    def icc(self, by_group: bool = False) -> pd.Series | pd.DataFrame:
        """Intraclass correlation as performance's ``icc``: ICC_adjusted = var_random / (var_random +
        var_residual) and ICC_unadjusted (var_fixed added to the denominator), with the variance
        components; ``by_group=True``: a frame (Group, ICC) of each grouping factor's intercept
        variance over var_random + var_residual.

        Examples
        --------
        >>> import mixedmodels as mm
        >>> m = mm.lmer("Reaction ~ Days + (Days | Subject)", mm.datasets.load("sleepstudy"))
        >>> round(float(m.icc()["ICC_adjusted"]), 4)
        0.7217
        """
        if check_bool(by_group, "by_group"):
            return r2.icc_by_group(self)
        return r2.icc(self)

    def simulate(self, nsim: int = 1, seed: Seed = None, include_re: bool = True, use_u: bool = False) -> pd.DataFrame:
        """New responses from the fitted model, as lme4's ``simulate`` (one column per draw).

        Examples
        --------
        >>> import mixedmodels as mm
        >>> m = mm.lmer("Reaction ~ Days + (Days | Subject)", mm.datasets.load("sleepstudy"))
        >>> m.simulate(nsim=2, seed=42).shape
        (180, 2)
        """
        nsim = check_count(nsim, "nsim")
        check_simulation_size(self.nobs, nsim)
        check_seed(seed)
        include_re = check_bool(include_re, "include_re")
        use_u = check_bool(use_u, "use_u")
        return simulate.simulate(self, nsim=nsim, seed=seed, include_re=include_re, use_u=use_u)

    def sample_groups(self, n: int, seed: Seed = None, group: str | None = None) -> pd.DataFrame:
        """Coefficients of n new groups drawn from N(fixef, Sigma): a simulated population.

        Examples
        --------
        >>> import mixedmodels as mm
        >>> m = mm.lmer("mAch ~ ses + (ses | school)", mm.datasets.load("hsb"))
        >>> m.sample_groups(160, seed=1).shape
        (160, 2)
        """
        n = check_count(n, "n")
        check_seed(seed)
        return simulate.sample_groups(self, n, seed=seed, group=group)

    def refit(self, new_y: ArrayLike) -> LmerResult:
        """The same model fitted to a new response, reusing the structure (no formula parsing).

        ``new_y`` has one real, finite value per row of the fit (in the order of `fitted`), and not
        all the same: a `DataError` names the rows of non-finite values, or says it is constant.

        Examples
        --------
        >>> import mixedmodels as mm
        >>> m = mm.lmer("Reaction ~ Days + (Days | Subject)", mm.datasets.load("sleepstudy"))
        >>> m2 = m.refit((m.fitted() + m.residuals()) * 2)
        >>> round(float(m2.fixef["Days"] / m.fixef["Days"]), 6)
        2.0
        """
        y = check_response(new_y, self.model.data.rows("refit").index)
        return LmerResult.of(self.model.with_response(y).fit(start=self.theta, data_name=self.data_name))

    def drop1(self, test: str = "F", ddf: str = "satterthwaite") -> pd.DataFrame:
        """Tests of dropping each marginal term: lmerTest's F tests (``test="F"``, Satterthwaite or
        Kenward-Roger df) or lme4's likelihood-ratio tests of ML refits (``test="Chisq"``; a REML
        fit is refitted by ML with a `RefitWarning`). See `mixedmodels.drop1`.

        Examples
        --------
        >>> import mixedmodels as mm
        >>> m = mm.lmer("angle ~ recipe * temperature + (1 | recipe:replicate)", mm.datasets.load("cake"))
        >>> m.drop1().index.tolist()
        ['recipe:temperature']
        """
        return updates.drop1(self, test=test, ddf=ddf)

    def update(self, formula: str | None = None, data: pd.DataFrame | None = None, **kwargs: Any) -> LmerResult:
        """The model refitted with a changed formula, other data or changed arguments (R's ``update``).

        Parameters
        ----------
        formula : str, optional
            A full formula, or R's shorthand with ``.`` for the old sides: ``". ~ . - x"``,
            ``". ~ . + z"``, ``"log(.) ~ ."``, ``". ~ . - (x | g) + (1 | g)"``.
        data : DataFrame, optional
            Other data (default: the data frame the fit was given).
        **kwargs
            ``reml``, ``weights``, ``offset`` (default: the fit's), and the optimiser's ``start``,
            ``maxeval``, ``optimizer``, ``optimizer_options``, ``data_name`` (default: `lmer`'s,
            and the fit's ``data_name``).

        Examples
        --------
        >>> import mixedmodels as mm
        >>> m = mm.lmer("Reaction ~ Days + (Days | Subject)", mm.datasets.load("sleepstudy"))
        >>> m.update(". ~ . - (Days | Subject) + (1 | Subject)").formula
        'Reaction ~ Days + (1 | Subject)'
        >>> m.update(reml=False).reml
        False
        """
        unknown = sorted(set(kwargs) - set(_UPDATE_KEYWORDS))
        if unknown:
            raise ArgumentError(
                f"unknown keyword(s) {', '.join(unknown)} for update; it takes {', '.join(_UPDATE_KEYWORDS)}"
            )
        model_kw = {k: kwargs[k] for k in ("reml", "weights", "offset") if k in kwargs}
        model = updates.updated_model(self, formula, data, **model_kw)
        fit_kw = {k: v for k, v in kwargs.items() if k not in model_kw}
        fit_kw.setdefault("data_name", self.data_name)
        start = fit_kw.pop("start", None)
        theta0 = check_start(start, model.structure.theta.names)
        maxeval = check_count(fit_kw.pop("maxeval", 100_000), "maxeval", maximum=MAX_EVALUATIONS)
        optimizer, options = check_optimizer(fit_kw.pop("optimizer", "auto"), fit_kw.pop("optimizer_options", None))
        return LmerResult.of(
            model.fit(start=theta0, maxeval=maxeval, optimizer=optimizer, optimizer_options=options, **fit_kw)
        )

    def tidy(
        self,
        effects: str = "fixed",
        ddf: str | None = "satterthwaite",
        conf_int: bool = False,
        conf_level: float = 0.95,
        conf_method: str = "wald",
        scales: str | None = None,
        **boot_options: Any,
    ) -> pd.DataFrame:
        """broom.mixed-style data frames: ``"fixed"``, ``"ran_pars"`` or ``"ran_vals"``, with
        ``conf_int=True`` broom.mixed's conf.low and conf.high (``conf_method`` "wald", "profile" or
        "boot"; ``boot_options`` nsim, seed, n_jobs, progress for the bootstrap) and
        ``scales="vcov"`` for variances and covariances. See `mixedmodels.tidy.tidy`.

        Examples
        --------
        >>> import mixedmodels as mm
        >>> m = mm.lmer("Reaction ~ Days + (Days | Subject)", mm.datasets.load("sleepstudy"))
        >>> m.tidy("ran_pars")["term"].tolist()
        ['sd__(Intercept)', 'cor__(Intercept).Days', 'sd__Days', 'sd__Observation']
        >>> m.tidy(conf_int=True)[["conf.low", "conf.high"]].round(2).values.tolist()
        [[237.01, 265.8], [7.21, 13.73]]
        """
        _check_ddf(ddf)
        conf_int = check_bool(conf_int, "conf_int")
        conf_level = check_level(conf_level, "conf_level")
        if boot_options:
            unknown = sorted(set(boot_options) - set(_BOOT_KEYWORDS))
            if unknown:
                raise ArgumentError(
                    f"unknown keyword(s) {', '.join(unknown)}; the bootstrap takes {', '.join(_BOOT_KEYWORDS)}"
                )
            _check_boot_arguments(**boot_options)
        return tidy.tidy(
            self,
            effects=effects,
            ddf=ddf,
            conf_int=conf_int,
            conf_level=conf_level,
            conf_method=conf_method,
            scales=scales,
            **boot_options,
        )

    def glance(self) -> pd.DataFrame:
        """broom.mixed's ``glance``: one row with nobs, sigma, logLik, AIC, BIC, REMLcrit (REML fits;
        ``deviance`` for ML fits) and df.residual.

        Examples
        --------
        >>> import mixedmodels as mm
        >>> m = mm.lmer("Reaction ~ Days + (Days | Subject)", mm.datasets.load("sleepstudy"))
        >>> int(m.glance()["df.residual"].iloc[0])
        174
        """
        return tidy.glance(self)

    # ------------------------------------------------------------------ pictures (matplotlib, optional)
    def hatvalues(self) -> pd.Series:
        """lme4's ``hatvalues(m)``: the diagonal of the penalised least-squares hat matrix, one value
        per row (see `mixedmodels.influence.hatvalues`).

        Examples
        --------
        >>> import mixedmodels as mm
        >>> m = mm.lmer("Reaction ~ Days + (Days | Subject)", mm.datasets.load("sleepstudy"))
        >>> round(float(m.hatvalues().sum()), 3)
        29.022
        """
        return hatvalues(self)

    def cooks_distance(self) -> pd.Series:
        """lme4 1.1-31's ``cooks.distance(m)`` of each row (see `mixedmodels.influence.cooks_distance`).

        Examples
        --------
        >>> import mixedmodels as mm
        >>> m = mm.lmer("Reaction ~ Days + (Days | Subject)", mm.datasets.load("sleepstudy"))
        >>> round(float(m.cooks_distance().max()), 4)
        4.3322
        """
        return cooks_distance(self)

    def influence(self, groups: str | ArrayLike, n_jobs: int = 1, maxeval: int = 1000) -> GroupInfluence:
        """Case deletion by group, as lme4's ``influence(m, groups = ...)``: each group's refit from
        the full fit's theta, with Cook's distance, dfbeta and dfbetas per group (see
        `mixedmodels.influence.influence`).

        Examples
        --------
        >>> import mixedmodels as mm
        >>> m = mm.lmer("Reaction ~ Days + (Days | Subject)", mm.datasets.load("sleepstudy"))
        >>> inf = m.influence(groups="Subject")
        >>> inf.cooks_distance.idxmax()
        '309'
        """
        return group_influence(self, groups, n_jobs=n_jobs, maxeval=maxeval)

    def plot_group_lines(
        self,
        groups: Sequence[str] | None = None,
        n: int | None = None,
        seed: Seed = None,
        kind: str = "partial",
        group: str | None = None,
        covariate: str | None = None,
        ax: plots.Axes | None = None,
    ) -> plots.Figure:
        """Each group's line against the random slope's covariate: ``kind="partial"`` (the
        model's ``coef``), ``"none"`` (per-group OLS) or ``"population"`` (``sample_groups``).
        Highlight ``groups=[...]`` or ``n`` random ones. Returns the matplotlib Figure.

        Examples
        --------
        >>> import mixedmodels as mm
        >>> m = mm.lmer("mAch ~ ses + (ses | school)", mm.datasets.load("hsb"))
        >>> fig = m.plot_group_lines(n=3, seed=1)  # doctest: +SKIP
        """
        check_seed(seed)
        if n is not None:
            n = check_count(n, "n")
        return plots.plot_group_lines(
            self, groups=groups, n=n, seed=seed, kind=kind, group=group, covariate=covariate, ax=ax
        )

    def plot_pooling(
        self,
        groups: Sequence[str] | None = None,
        n: int | None = None,
        seed: Seed = None,
        group: str | None = None,
        covariate: str | None = None,
    ) -> plots.Figure:
        """No pooling, partial pooling and a simulated population side by side, same axes.

        Examples
        --------
        >>> import mixedmodels as mm
        >>> m = mm.lmer("mAch ~ ses + (ses | school)", mm.datasets.load("hsb"))
        >>> fig = m.plot_pooling(groups=["1224", "1288", "1296"])  # doctest: +SKIP
        """
        check_seed(seed)
        if n is not None:
            n = check_count(n, "n")
        return plots.plot_pooling(self, groups=groups, n=n, seed=seed, group=group, covariate=covariate)

    def plot_ranef(self, group: str | None = None, level: float = 0.95, order_by: str | None = None) -> plots.Figure:
        """Caterpillar plot of the conditional modes with intervals; all panels of a grouping factor
        share one order of its levels (by ``order_by``, default the factor's first term).

        Examples
        --------
        >>> import mixedmodels as mm
        >>> m = mm.lmer("mAch ~ ses + (ses | school)", mm.datasets.load("hsb"))
        >>> fig = m.plot_ranef()  # doctest: +SKIP
        """
        return plots.plot_ranef(self, group=group, level=check_level(level), order_by=order_by)

    def plot_shrinkage(
        self, group: str | None = None, covariate: str | None = None, ax: plots.Axes | None = None
    ) -> plots.Figure:
        """Per-group OLS estimates joined by arrows to the mixed model's, intercept vs slope (into
        ``ax`` when given).

        Examples
        --------
        >>> import mixedmodels as mm
        >>> m = mm.lmer("mAch ~ ses + (ses | school)", mm.datasets.load("hsb"))
        >>> fig = m.plot_shrinkage()  # doctest: +SKIP
        """
        return plots.plot_shrinkage(self, group=group, covariate=covariate, ax=ax)

    def plot_diagnostics(self) -> plots.Figure:
        """Residuals vs fitted, normal QQ of residuals and random effects, scale-location.

        Examples
        --------
        >>> import mixedmodels as mm
        >>> m = mm.lmer("mAch ~ ses + (ses | school)", mm.datasets.load("hsb"))
        >>> fig = m.plot_diagnostics()  # doctest: +SKIP
        """
        return plots.plot_diagnostics(self)

    # ------------------------------------------------------------------ printing
    def summary(self, ddf: str | None = "satterthwaite") -> printing.Summary:
        """An lme4-style summary (prints as text; renders as HTML in notebooks), with lmerTest's
        Satterthwaite df and p-values in the fixed-effects table (``ddf="kenward-roger"``, or None
        for estimates, SEs and t only).

        Examples
        --------
        >>> import mixedmodels as mm
        >>> m = mm.lmer("Reaction ~ Days + (Days | Subject)", mm.datasets.load("sleepstudy"))
        >>> print(m.summary())  # doctest: +ELLIPSIS
        Linear mixed model fit by REML. t-tests use Satterthwaite's method
        Formula: Reaction ~ Days + (Days | Subject)
        ...
        """
        _check_ddf(ddf)
        return printing.Summary(self, ddf)

    def display(self, digits: int = 2) -> str:
        """A compact summary in the style of ``arm::display`` (estimates and SEs, error terms).

        Examples
        --------
        >>> import mixedmodels as mm
        >>> m = mm.lmer("Reaction ~ Days + (Days | Subject)", mm.datasets.load("sleepstudy"))
        >>> print(m.display().splitlines()[1])
                    coef.est coef.se
        """
        digits = check_count(digits, "digits")
        return printing.display_text(self, digits)

    def block_description(self) -> str:
        """The block layout of the Cholesky factor L: type and size of every block.

        Examples
        --------
        >>> import mixedmodels as mm
        >>> m = mm.lmer("Reaction ~ Days + (Days | Subject)", mm.datasets.load("sleepstudy"))
        >>> print(m.block_description())  # doctest: +NORMALIZE_WHITESPACE
        rows     Subject          fixed
        Subject  BlkDiag(18x2x2)
        fixed    Dense(3x36)      Dense(3x3)
        """
        return printing.block_description(self)

    def __str__(self) -> str:
        return str(self.summary())

    def __repr__(self) -> str:
        kind = "REML" if self.reml else "ML"
        return f"<LmerResult {self.formula!r} ({kind}), nobs={self.nobs}, objective={self.objective:.4f}>"

    def _repr_html_(self) -> str:
        return self.summary()._repr_html_()


_BOOT_KEYWORDS = ("nsim", "seed", "n_jobs", "progress")
_UPDATE_KEYWORDS = ("reml", "weights", "offset", "start", "maxeval", "optimizer", "optimizer_options", "data_name")
_DDF = ("satterthwaite", "kenward-roger", "kr")


def _check_ddf(ddf: object, none: bool = True) -> None:
    """ddf names Satterthwaite's or Kenward-Roger's method (or is None, where estimates alone will do)."""
    if ddf is None and none:
        return
    if not isinstance(ddf, str) or ddf.lower().replace("_", "-") not in (*_DDF, *(("none",) if none else ())):
        allowed = "'satterthwaite', 'kenward-roger'" + (" or None" if none else "")
        raise ArgumentError(f"ddf must be {allowed}, not {ddf!r}")


def _check_boot_arguments(nsim: object = 500, seed: object = None, n_jobs: object = 1, progress: object = None) -> None:
    """The bootstrap's arguments: nsim a positive integer, a seed for numpy, n_jobs a positive
    integer or negative (all cores), progress None or a bool."""
    check_count(nsim, "nsim")
    check_seed(seed)
    if isinstance(n_jobs, (bool, np.bool_)) or not isinstance(n_jobs, (int, np.integer)) or n_jobs == 0:
        raise ArgumentError(f"n_jobs must be a positive integer, or -1 for every core; got {n_jobs!r}")
    if progress is not None:
        check_bool(progress, "progress")
