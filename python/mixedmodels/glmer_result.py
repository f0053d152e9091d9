"""A fitted generalized linear mixed model with lme4's accessors: `GlmerResult`.

The accessors that do not depend on the family (fixef, ranef, coef, var_corr, predict on the link
scale, ...) are the linear model's (`fitted.LmerFit`); this module adds the family's: fitted values
on the response scale, the four kinds of residuals, predictions by ``type``, the log-likelihood,
AIC and BIC of a GLMM, Wald z tests, and the glmer summary.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import Any, Literal, cast, overload

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import special

from . import anova_tables, confint, emmeans, plots, printing, r2, updates
from .arguments import (
    MAX_EVALUATIONS,
    check_bool,
    check_count,
    check_data_name,
    check_level,
    check_nagq,
    check_seed,
    check_simulation_size,
    check_start,
    group_list,
    table_as_frame,
)
from .emmeans import EmmGrid
from .exceptions import ArgumentError, MixedModelsError
from .families import Family, NegativeBinomial
from .fitted import RESIDUAL_TYPES, LmerFit
from .glmm import GeneralizedLinearMixedModel, GlmmFit
from .influence import GroupInfluence, group_influence
from .model import Fit
from .simulate import Seed, linear_predictor_draw, sample_groups
from .tidy import glance as glance_frame
from .tidy import tidy as tidy_frame

__all__ = ["GlmerResult"]

FloatArray = np.ndarray


class GlmerResult(LmerFit):
    """A fitted generalized linear mixed model (`mixedmodels.glmer`); never modified.

    Attributes beyond `LmerFit`'s: `family`, `n_agq`, `vcov_rx` (sigma^2 (R_X'R_X)^-1 at the
    modes, lme4's ``vcov(use.hessian = FALSE)``), `deviance` (lme4's ``deviance()`` of a GLMM: the
    sum of the squared deviance residuals at the modes), `objective` (the optimised -2
    log-likelihood: Laplace for ``nAGQ`` 0 and 1; for ``nAGQ > 1``, quadrature without the
    saturated model's term, as lme4's).
    """

    @classmethod
    def of_model(
        cls,
        model: GeneralizedLinearMixedModel,
        *,
        n_agq: int,
        fast: bool,
        start: object,
        maxeval: int,
        data_name: str | None,
    ) -> GlmerResult:
        """The result of fitting ``model`` (`glmer`'s and `update`'s last step): ``start`` checked
        against its theta's names, then `GeneralizedLinearMixedModel.fit`.

        Examples
        --------
        >>> import mixedmodels as mm
        >>> from mixedmodels.glmm import GeneralizedLinearMixedModel
        >>> model = GeneralizedLinearMixedModel.from_formula(
        ...     "cbind(incidence, size - incidence) ~ period + (1 | herd)", mm.datasets.load("cbpp"),
        ...     mm.families.Binomial())
        >>> m = GlmerResult.of_model(model, n_agq=1, fast=False, start=None, maxeval=1000, data_name="cbpp")
        >>> round(m.loglik, 3)
        -92.026
        """
        theta0 = check_start(start, model.structure.theta.names)
        fit = model.fit(
            n_agq=n_agq,
            fast=fast,
            start=None if isinstance(theta0, str) else theta0,
            maxeval=maxeval,
            data_name=data_name,
        )
        return cls.of_glmm(fit)

    @classmethod
    def of_glmm(cls, fit: GlmmFit) -> GlmerResult:
        """The result of a `glmm.GlmmFit`."""
        out = cls.__new__(cls)
        values: dict[str, Any] = {
            "model": fit.model,
            "theta": fit.theta,
            "sigma": fit.sigma,
            "beta": fit.beta,
            "vcov_array": fit.vcov_array,
            "b": fit.b,
            "objective": fit.objective,
            "deviance": fit.pirls.dev_resid,
            "ldl2": fit.pirls.ldl2,
            "ldrx2": math.nan,
            "pwrss": fit.pirls.ussq,
            "n_evals": fit.n_evals,
            "converged": fit.converged,
            "optimizer_message": fit.optimizer_message,
            "gradient": fit.gradient,
            "is_singular": fit.is_singular,
            "messages": fit.messages,
            "data_name": fit.data_name,
        }
        missing = set(_FIELDS) - set(values)
        assert not missing, missing
        out.__dict__.update(values)
        out.__dict__["glmm_fit"] = fit
        return out

    # ------------------------------------------------------------------ the model
    @property
    def glmm_fit(self) -> GlmmFit:
        """The estimates as the model layer returned them."""
        return cast(GlmmFit, self.__dict__["glmm_fit"])

    @property
    def glmm(self) -> GeneralizedLinearMixedModel:
        """The generalized linear mixed model."""
        return self.glmm_fit.model

    @property
    def family(self) -> Family:
        """The response's family and link."""
        return self.glmm.family

    @property
    def n_agq(self) -> int:
        """Quadrature points per level (0 and 1: Laplace; lme4's ``nAGQ``)."""
        return self.glmm_fit.n_agq

    @property
    def reml(self) -> bool:
        """Always False: GLMMs are fitted by maximum likelihood."""
        return False

    @property
    def df(self) -> int:
        """Number of parameters: fixed effects + theta (+ 1 for a dispersion, + 1 for a negative
        binomial's theta, estimated or given, as lme4 counts it), as lme4's ``logLik`` df."""
        extra = 1 if isinstance(self.family, NegativeBinomial) else 0
        return self.structure.p + self.structure.ntheta + (0 if self.family.dispersion_free else 1) + extra

    @property
    def loglik(self) -> float:
        """Log-likelihood at the optimum (Laplace, or quadrature without the saturated term for nAGQ > 1)."""
        return -0.5 * self.objective

    @property
    def loglik_full(self) -> float:
        """The log-likelihood with the saturated model's term that `loglik` leaves out for
        ``nAGQ > 1`` (lme4's ``logLik`` plus ``sum log p(y | mu = y)``, `families.Family.loglik_saturated`):
        comparable across nAGQ and across negative binomial thetas. `loglik` itself for nAGQ 0 and 1.

        Raises
        ------
        MixedModelsError
            For ``nAGQ > 1`` with a family that has a dispersion (Gamma, inverse.gaussian), whose
            quadrature criterion is lme4's approximation without that term's counterpart.

        Examples
        --------
        >>> import mixedmodels as mm
        >>> m = mm.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)",
        ...              mm.datasets.load("cbpp"), family="binomial", nAGQ=25)
        >>> round(m.loglik, 3), round(m.loglik_full, 3)  # lme4: logLik -50.005, with the term -91.983
        (-50.005, -91.983)
        """
        if self.n_agq <= 1:
            return self.loglik
        fam = self.family
        if not fam.dispersion_free:
            raise MixedModelsError(
                f"the full log-likelihood of a {fam.name} fit with nAGQ = {self.n_agq} is not available (the "
                "quadrature criterion of a family with a dispersion is lme4's approximation); refit with nAGQ = 1"
            )
        g = self.glmm
        return self.loglik + fam.loglik_saturated(g.y, g.prior_weights, n=g.trials)

    @cached_property
    def vcov_rx(self) -> pd.DataFrame:
        """sigma^2 (R_X'R_X)^-1 at the conditional modes (lme4's ``vcov(m, use.hessian = FALSE)``)."""
        names = list(self.structure.fixed_names)
        return pd.DataFrame(self.sigma**2 * self.glmm_fit.vcov_rx, index=names, columns=names)

    @property
    def fixef_z(self) -> pd.Series:
        """Wald statistics of the fixed effects (named "t value" for a family with a dispersion, as
        lme4's summary labels them; their p-values are the normal distribution's either way)."""
        name = "z value" if self.family.dispersion_free else "t value"
        return pd.Series(self.fixef.to_numpy() / self.fixef_se.to_numpy(), index=self.fixef.index, name=name)

    @property
    def fixef_p(self) -> pd.Series:
        """Two-sided p-values of the Wald z tests (normal distribution, as lme4's summary)."""
        from scipy import stats

        return pd.Series(2 * stats.norm.sf(np.abs(self.fixef_z.to_numpy())), index=self.fixef.index, name="Pr(>|z|)")

    def coef_table(self) -> pd.DataFrame:
        """lme4's coefficient table: Estimate, Std. Error, z value (t value for a family with a
        dispersion: Gamma, inverse Gaussian, Gaussian with another link), Pr(>|z|)."""
        stat = self.fixef_z
        return pd.DataFrame(
            {
                "Estimate": self.fixef,
                "Std. Error": self.fixef_se,
                str(stat.name): stat,
                "Pr(>|z|)": self.fixef_p,
            }
        )

    def confint(self, method: str = "wald", level: float = 0.95, **kwargs: Any) -> pd.DataFrame:
        """Confidence intervals as lme4's ``confint`` of a glmer fit.

        Parameters
        ----------
        method : {"wald", "profile", "boot"}
            ``"wald"`` (default here; lme4's default is the profile): the fixed effects,
            ``estimate +- z * SE``, named as lme4's ``confint(m, method = "Wald")`` (whose rows for
            the variance parameters are NA, left out here). ``"profile"``: likelihood-profile
            intervals of the SDs and correlations (``.sig01``, ..., lme4's sd/cor scale, every
            kind of term) and the fixed effects, for binomial, Poisson and negative binomial fits
            (Gamma and inverse Gaussian: refused, as lme4 refuses to profile a GLMM's sigma).
            ``"boot"``: percentile intervals of a parametric bootstrap (`bootstrap`; keywords
            ``nsim=500``, ``seed``, ``n_jobs``, ``progress``), as lme4's ``confint(m, method =
            "boot")``: rows ``.sig01``, ... (and ``.sigma`` for a family with a dispersion) and the
            fixed effects; the frame's ``attrs`` count failed refits (``n_failed``, left out) and
            refits that did not converge (``n_not_converged``).
        level : float
            Confidence level.

        Notes
        -----
        The bootstrap's percentiles are R's ``quantile`` (type 7), as for lmer fits here; lme4's
        ``confint.bootMer`` calls ``boot.ci(type = "perc")``, which interpolates between order
        statistics on the normal scale: the two differ by less than the spacing of neighbouring
        draws.

        Examples
        --------
        >>> import mixedmodels as mm
        >>> m = mm.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)",
        ...              mm.datasets.load("cbpp"), family="binomial")
        >>> m.confint().round(3).iloc[0].tolist()
        [-1.854, -0.943]
        >>> m.confint("boot", nsim=20, seed=1).index.tolist()
        ['.sig01', '(Intercept)', 'period2', 'period3', 'period4']
        """
        from scipy import stats

        if not isinstance(method, str):
            raise ArgumentError(f"method must be 'wald', 'profile' or 'boot', got {type(method).__name__}")
        method = method.lower()
        if method in ("boot", "bootstrap"):
            unknown = sorted(set(kwargs) - set(_BOOT_KEYWORDS))
            if unknown:
                raise ArgumentError(
                    f"unknown keyword(s) {', '.join(unknown)} for method='boot'; it takes {', '.join(_BOOT_KEYWORDS)}"
                )
            level = check_level(level)
            return confint.boot_percentiles(self.bootstrap(**kwargs), level)
        if kwargs:
            raise ArgumentError(
                f"the keyword(s) {', '.join(sorted(kwargs))} apply to method='boot' only, not method={method!r}"
            )
        if method == "profile":
            return self._profile_confint(level)
        if method != "wald":
            raise ArgumentError(f"confint of a glmer fit takes method='wald', 'profile' or 'boot', got {method!r}")
        if not isinstance(level, float | int) or isinstance(level, bool) or not 0.0 < float(level) < 1.0:
            raise ArgumentError(f"level must be a number between 0 and 1, got {level!r}")
        z = float(stats.norm.ppf((1 + float(level)) / 2))
        est, se = self.fixef.to_numpy(), self.fixef_se.to_numpy()
        pct = [f"{100 * (1 - float(level)) / 2:.3g} %", f"{100 * (1 + float(level)) / 2:.3g} %"]
        return pd.DataFrame({pct[0]: est - z * se, pct[1]: est + z * se}, index=self.fixef.index)

    def bootstrap(
        self, nsim: int = 500, seed: Seed = None, n_jobs: int = 1, progress: bool | None = None
    ) -> pd.DataFrame:
        """Parametric bootstrap as lme4's ``bootMer(m, FUN, nsim, seed)`` with ``confint``'s FUN:
        ``nsim`` responses simulated from the fit (`simulate`: new group effects from N(0, Sigma)
        each time, lme4's ``use.u = FALSE``), the model refitted to each from this fit's theta
        (and the fit's ``nAGQ``), and each refit's estimates (rows = replicates; columns
        ``.sig01``, ... on the SD/correlation scale, ``.sigma`` for a family with a dispersion, the
        fixed effects).

        A refit that fails (no valid conditional modes for that response, as under complete
        separation) is not dropped silently: its row is NaN, ``attrs["n_failed"]`` counts them
        (``attrs["failures"]``: the messages by replicate) and a `ConvergenceWarning` says how many
        (lme4: "some bootstrap runs failed"); ``attrs["n_not_converged"]`` counts refits that ended
        without convergence (kept, as lme4 keeps them). The same ``seed`` gives the same draws,
        whatever ``n_jobs`` (processes running the refits).

        Examples
        --------
        >>> import mixedmodels as mm
        >>> m = mm.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)",
        ...              mm.datasets.load("cbpp"), family="binomial")
        >>> b = m.bootstrap(nsim=5, seed=1)
        >>> b.shape, b.attrs["n_failed"]
        ((5, 5), 0)
        """
        nsim = check_count(nsim, "nsim")
        check_seed(seed)
        if isinstance(n_jobs, bool) or not isinstance(n_jobs, int | np.integer) or n_jobs == 0:
            raise ArgumentError(f"n_jobs must be a positive integer, or -1 for every core; got {n_jobs!r}")
        if progress is not None:
            progress = check_bool(progress, "progress")
        ys = self.simulate(nsim=nsim, seed=seed).to_numpy()
        return confint.glmm_bootstrap(self, ys, n_agq=self.n_agq, n_jobs=int(n_jobs), progress=progress)

    def _profile_confint(self, level: float) -> pd.DataFrame:
        """Profile intervals of the SDs and correlations (lme4's ``.sig01``, ...) and fixed effects
        for the families without a dispersion: scalar terms by the model's own profile
        (`glmm.GeneralizedLinearMixedModel.profile_interval`), vector-valued terms on lme4's sd/cor
        scale by `confint.glmm_profile`."""
        s = self.structure
        if not self.family.dispersion_free:
            raise ArgumentError(
                f"profile intervals of a glmer fit need a family without a dispersion (binomial, Poisson, negative "
                f"binomial), not {self.family.name}: as lme4 ('can't (yet) profile GLMMs with non-fixed scale "
                "parameters'); use method='wald' or 'boot'"
            )
        if not isinstance(level, float | int) or isinstance(level, bool) or not 0.0 < float(level) < 1.0:
            raise ArgumentError(f"level must be a number between 0 and 1, got {level!r}")
        if any(t.k != 1 for t in s.theta.terms):
            return confint.glmm_profile(self, float(level))
        nt = s.ntheta
        names = [f".sig{i + 1:02d}" for i in range(nt)] + list(self.fixef.index)
        rows = [self.glmm.profile_interval(self.glmm_fit, i, float(level)) for i in range(len(names))]
        pct = [f"{100 * (1 - float(level)) / 2:.3g} %", f"{100 * (1 + float(level)) / 2:.3g} %"]
        return pd.DataFrame(rows, index=names, columns=pct)

    def emmeans(
        self,
        specs: str | Sequence[str],
        by: str | Sequence[str] | None = None,
        at: Mapping[str, Any] | None = None,
        level: float = 0.95,
        type: str = "link",  # noqa: A002  (emmeans' name)
    ) -> EmmGrid:
        """Estimated marginal means as emmeans for a glmerMod (`emmeans.emmeans`): on the link scale
        with asymptotic inference (z, ``asymp.LCL``) from `vcov`; ``type="response"`` reports them
        back-transformed (``prob``, ``rate``; SE by the delta method, intervals back-transformed
        from the link scale) and makes pairs ratios (``odds.ratio``, ``ratio``).

        Parameters
        ----------
        specs : str or list of str
            ``"~ period"``, ``"~ a | b"``, ``"~ 1"``, or names.
        by : str or list of str, optional
            Panel variables.
        at : dict, optional
            Values of variables, e.g. ``{"x": [0, 1]}``.
        level : float
            Confidence level.
        type : {"link", "response"}
            The scale of the summaries (emmeans' ``type``).

        Examples
        --------
        >>> import mixedmodels as mm
        >>> m = mm.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)",
        ...              mm.datasets.load("cbpp"), family="binomial")
        >>> m.emmeans("~ period", type="response").frame["prob"].round(4).tolist()
        [0.198, 0.0839, 0.074, 0.0484]
        >>> m.emmeans("~ period", type="response").pairs().frame["contrast"].tolist()[:2]
        ['period1 / period2', 'period1 / period3']
        """
        return emmeans.emmeans(self, specs, by=by, at=at, ddf="asymptotic", level=level, type=type)

    def emtrends(
        self,
        specs: str | Sequence[str],
        var: str,
        by: str | Sequence[str] | None = None,
        at: Mapping[str, Any] | None = None,
        level: float = 0.95,
        delta_var: float | None = None,
    ) -> EmmGrid:
        """Estimated marginal trends (`emmeans.emtrends`): slopes of the linear predictor in ``var``
        (link scale), asymptotic inference, as emmeans' ``emtrends`` for a glmerMod.

        Parameters
        ----------
        specs : str or list of str
            As for `emmeans`.
        var : str
            The numeric covariate.
        by, at, level
            As for `emmeans`.
        delta_var : float, optional
            The difference quotient's step (default 0.001 * range(var)).

        Examples
        --------
        >>> import mixedmodels as mm
        >>> m = mm.glmer("TICKS ~ YEAR + HEIGHT + (1 | BROOD)", mm.datasets.load("grouseticks"), family="poisson")
        >>> list(m.emtrends("~ 1", var="HEIGHT").frame.columns)
        ['1', 'HEIGHT.trend', 'SE', 'df', 'asymp.LCL', 'asymp.UCL']
        """
        return emmeans.emtrends(self, specs, var, by=by, at=at, ddf="asymptotic", level=level, delta_var=delta_var)

    def anova(self, type: int | str = 2, test: str = "Chisq") -> pd.DataFrame:  # noqa: A002  (R's name)
        """car's Wald chi-square tests of the fixed-effect terms, ``car::Anova(m, type = type)``
        (`anova_tables.anova_table`): type 2 (default, as car) or 3 (the coefficients as coded,
        ``(Intercept)`` included), with V = `vcov`. F tests are for linear mixed models.

        Examples
        --------
        >>> import mixedmodels as mm
        >>> m = mm.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)",
        ...              mm.datasets.load("cbpp"), family="binomial")
        >>> m.anova().round(3)
                 Chisq  Df  Pr(>Chisq)
        term
        period  24.949   3         0.0
        """
        return anova_tables.anova_table(self, type, test=test)

    def drop1(self, test: str = "Chisq") -> pd.DataFrame:
        """lme4's ``drop1(m, test = "Chisq")``: each marginal term dropped, the model refitted by
        glmer, AIC and the likelihood-ratio test against this fit (columns ``npar``, ``AIC``,
        ``LRT``, ``Pr(Chi)``; first row ``<none>``). See `mixedmodels.drop1`.

        Examples
        --------
        >>> import mixedmodels as mm
        >>> m = mm.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)",
        ...              mm.datasets.load("cbpp"), family="binomial")
        >>> m.drop1().index.tolist()
        ['<none>', 'period']
        """
        if not isinstance(test, str) or test.lower() not in ("chisq", "lrt"):
            raise ArgumentError(f"drop1 of a glmer fit has likelihood-ratio tests only: test='Chisq', not {test!r}")
        return updates.drop1(self, test="Chisq")

    def update(self, formula: str | None = None, data: pd.DataFrame | None = None, **kwargs: Any) -> GlmerResult:
        """The model refitted with a changed formula, other data or changed arguments, as lme4's
        ``update`` of a glmer fit (`updates.updated_glmm`).

        Parameters
        ----------
        formula : str, optional
            A full formula, or R's shorthand with ``.`` for the old sides: ``". ~ . - x"``,
            ``". ~ . + z"``, ``". ~ . + (1 | obs)"``.
        data : DataFrame, optional
            Other data (default: the data frame the fit was given).
        **kwargs
            ``family``, ``nAGQ``, ``weights``, ``offset`` (default: the fit's; ``weights=None`` or
            ``offset=None`` removes them), and `mixedmodels.glmer`'s ``fast`` (default False: lme4
            has no such argument, so a ``fast=True`` fit is refitted in full unless it is given
            again), ``start`` (default: lme4's start), ``maxeval`` and ``data_name`` (default: the
            fit's).

        Examples
        --------
        >>> import mixedmodels as mm
        >>> m = mm.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)",
        ...              mm.datasets.load("cbpp"), family="binomial")
        >>> m.update(". ~ . - period").formula
        'cbind(incidence, size - incidence) ~ (1 | herd)'
        >>> m.update(nAGQ=9).n_agq
        9
        """
        unknown = sorted(set(kwargs) - set(_UPDATE_KEYWORDS))
        if unknown:
            raise ArgumentError(
                f"unknown keyword(s) {', '.join(unknown)} for update; it takes {', '.join(_UPDATE_KEYWORDS)}"
            )
        model_kw = {k: kwargs[k] for k in ("family", "weights", "offset") if k in kwargs}
        model = updates.updated_glmm(self, formula, data, **model_kw)
        return GlmerResult.of_model(
            model,
            n_agq=check_nagq(kwargs.get("nAGQ", self.n_agq)),
            fast=check_bool(kwargs.get("fast", False), "fast"),
            start=kwargs.get("start"),
            maxeval=check_count(kwargs.get("maxeval", 100_000), "maxeval", maximum=MAX_EVALUATIONS),
            data_name=check_data_name(kwargs.get("data_name", self.data_name)),
        )

    def influence(self, groups: str | ArrayLike, n_jobs: int = 1, maxeval: int = 1000) -> GroupInfluence:
        """Case deletion by group, as lme4's ``influence(m, groups = ...)`` for a glmer fit: the model
        refitted by glmer without each group's rows (both stages, from this fit's theta, at its
        ``nAGQ``), with lme4's Cook's distance, dfbeta and dfbetas per group (`GroupInfluence`;
        vcov is the default one of a glmer fit, from the Hessian of the deviance, as lme4's). See
        `mixedmodels.influence.group_influence`.

        Examples
        --------
        >>> import mixedmodels as mm
        >>> m = mm.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)",
        ...              mm.datasets.load("cbpp"), family="binomial")
        >>> inf = m.influence(groups="herd")
        >>> inf.cooks_distance.idxmax(), round(float(inf.cooks_distance.max()), 2)
        ('11', 0.32)
        """
        return group_influence(self, groups, n_jobs=n_jobs, maxeval=maxeval)

    def r2(self) -> pd.Series:
        """Nakagawa's marginal and conditional R² as performance's ``r2_nakagawa`` for a binomial
        GLMM (distribution-specific variance pi²/3 for the logit link, 1 for probit) or a Poisson
        GLMM (log(1 + 1/lambda), lambda from a refitted null model, for the log link; 0.25 for
        sqrt); an observation-level random effect counts as dispersion, as insight's. Other
        families raise a MixedModelsError (see `mixedmodels.r2`).

        Examples
        --------
        >>> import mixedmodels as mm
        >>> m = mm.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)",
        ...              mm.datasets.load("cbpp"), family="binomial")
        >>> m.r2().index[:2].tolist()
        ['R2_marginal', 'R2_conditional']
        """
        return r2.r2(self)

    def icc(self, by_group: bool = False) -> pd.Series | pd.DataFrame:
        """The intraclass correlation as performance's ``icc`` for a binomial or Poisson GLMM (on the
        latent scale, as `r2`); ``by_group=True`` gives each grouping factor's share.

        Examples
        --------
        >>> import mixedmodels as mm
        >>> m = mm.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)",
        ...              mm.datasets.load("cbpp"), family="binomial")
        >>> bool(0 < m.icc()["ICC_adjusted"] < 1)
        True
        """
        if check_bool(by_group, "by_group"):
            return r2.icc_by_group(self)
        return r2.icc(self)

    def glance(self) -> pd.DataFrame:
        """broom.mixed's ``glance`` of a GLMM: nobs, sigma, logLik, AIC, BIC, deviance (lme4's) and
        df.residual.

        Examples
        --------
        >>> import mixedmodels as mm
        >>> m = mm.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)",
        ...              mm.datasets.load("cbpp"), family="binomial")
        >>> m.glance().columns.tolist()
        ['nobs', 'sigma', 'logLik', 'AIC', 'BIC', 'deviance', 'df.residual']
        """
        return glance_frame(self)

    def tidy(self, effects: str = "fixed", conf_int: bool = False, conf_level: float = 0.95) -> pd.DataFrame:
        """broom.mixed's tidy frames: ``"fixed"`` (effect, group, term, estimate, std.error,
        statistic = z, p.value; with ``conf_int`` the Wald conf.low and conf.high), ``"ran_pars"``
        (SDs and correlations; no residual row for binomial and Poisson), ``"ran_vals"`` (modes
        with their conditional SDs).

        Examples
        --------
        >>> import mixedmodels as mm
        >>> m = mm.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)",
        ...              mm.datasets.load("cbpp"), family="binomial")
        >>> m.tidy()["statistic"].round(2).tolist()
        [-6.02, -3.24, -3.46, -3.7]
        """
        conf_int = check_bool(conf_int, "conf_int")
        if effects == "fixed":
            out = pd.DataFrame(
                {
                    "effect": "fixed",
                    "group": None,
                    "term": self.fixef.index,
                    "estimate": self.fixef.to_numpy(),
                    "std.error": self.fixef_se.to_numpy(),
                    "statistic": self.fixef_z.to_numpy(),
                    "p.value": self.fixef_p.to_numpy(),
                }
            )
            if conf_int:
                ci = self.confint(level=conf_level)
                out["conf.low"] = ci.iloc[:, 0].to_numpy()
                out["conf.high"] = ci.iloc[:, 1].to_numpy()
            return out
        frame = tidy_frame(self, effects, ddf=None)
        if effects == "ran_pars" and self.family.dispersion_free:
            frame = frame[frame["group"] != "Residual"].reset_index(drop=True)
        return frame

    @cached_property
    def var_corr(self) -> pd.DataFrame:
        """Variance components as ``as.data.frame(VarCorr(m))``: no residual row for the families
        whose scale is fixed (binomial, Poisson)."""
        out = LmerFit.var_corr.func(self)  # type: ignore[attr-defined]
        frame = cast(pd.DataFrame, out)
        if self.family.dispersion_free:
            frame = frame[frame["grp"] != "Residual"].reset_index(drop=True)
        return frame

    @cached_property
    def _condcov(self) -> tuple[FloatArray, ...]:
        s2 = self.sigma**2
        out = []
        for fi in range(len(self.structure.factors)):
            t = self.structure.theta.factor_t(self.theta, fi)
            out.append(s2 * np.einsum("ab,lbc,dc->lad", t, self.glmm_fit.condcov_u[fi], t))
        return tuple(out)

    # ------------------------------------------------------------------ fitted values, residuals
    def fitted(self) -> pd.Series:
        """Fitted means mu (response scale, with the group effects), as lme4's ``fitted()``.

        Examples
        --------
        >>> import mixedmodels as mm
        >>> m = mm.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)",
        ...              mm.datasets.load("cbpp"), family="binomial")
        >>> round(float(m.fitted().iloc[0]), 4)
        0.3082
        """
        return pd.Series(self.glmm_fit.pirls.mu, index=self.glmm.rows.index, name="fitted")

    def residuals(self, scaled: bool = False, type: str = "deviance") -> pd.Series:  # noqa: A002
        """Residuals as lme4's ``residuals(m, type)``: "deviance" (default), "pearson",
        "response" (y - mu) or "working" ((y - mu) / (dmu/deta)); ``scaled`` divides by sigma.

        Examples
        --------
        >>> import mixedmodels as mm
        >>> m = mm.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)",
        ...              mm.datasets.load("cbpp"), family="binomial")
        >>> round(float(m.residuals(type="pearson").iloc[0]), 4)
        -1.3399
        """
        scaled = check_bool(scaled, "scaled")
        if type not in RESIDUAL_TYPES:
            raise ArgumentError(f"type must be one of {', '.join(map(repr, RESIDUAL_TYPES))}, got {type!r}")
        g = self.glmm
        fam = g.family
        y, mu, wt = g.y, self.glmm_fit.pirls.mu, g.prior_weights
        if type == "deviance":
            d = fam.dev_resids(y, mu, wt)
            r = np.sign(y - mu) * np.sqrt(np.maximum(d, 0.0))
        elif type == "pearson":
            r = (y - mu) * np.sqrt(wt) / np.sqrt(fam.variance(mu))
        elif type == "response":
            r = y - mu
        else:
            r = (y - mu) / fam.link.mu_eta(self.glmm_fit.pirls.eta)
        if scaled:
            r = r / self.sigma
        return pd.Series(r, index=g.rows.index, name="residuals")

    @overload
    def predict(
        self,
        newdata: pd.DataFrame | None = None,
        include_re: bool | str | list[str] = True,
        allow_new_levels: bool = True,
        type: str = "link",  # noqa: A002
        *,
        se_fit: Literal[False] = False,
        interval: None = None,
        level: float = 0.95,
    ) -> pd.Series: ...

    @overload
    def predict(
        self,
        newdata: pd.DataFrame | None = None,
        include_re: bool | str | list[str] = True,
        allow_new_levels: bool = True,
        type: str = "link",  # noqa: A002
        *,
        se_fit: bool = False,
        interval: str | None = None,
        level: float = 0.95,
    ) -> pd.Series | pd.DataFrame: ...

    def predict(
        self,
        newdata: pd.DataFrame | None = None,
        include_re: bool | str | list[str] = True,
        allow_new_levels: bool = True,
        type: str = "link",  # noqa: A002
        *,
        se_fit: bool = False,
        interval: str | None = None,
        level: float = 0.95,
    ) -> pd.Series | pd.DataFrame:
        """Predictions on the link scale (``type="link"``, default, as lme4) or of the mean
        (``type="response"``), with or without the group effects (see `LmerFit.predict`), and on
        request their standard errors and confidence intervals.
        ``offset(...)`` terms of the formula are evaluated on newdata; an ``offset=`` argument is
        not (as lme4's).

        Parameters
        ----------
        newdata, include_re, allow_new_levels
            As for `LmerFit.predict`.
        type : {"link", "response"}
            The scale.
        se_fit : bool
            True: a DataFrame with columns ``fit`` and ``se_fit`` (and ``lower``, ``upper`` with
            ``interval``).
        interval : {None, "confidence"}
            A confidence interval for the fit (``level``). There is no "prediction" interval
            for a non-Gaussian family (a new observation is not fit -/+ z se): it raises.
        level : float
            Coverage of the interval.

        Notes
        -----
        Standard errors treat theta as known. On the link scale:

        - population level (``include_re=False``): se^2 = x' V x with V = `vcov` (lme4's default,
          from the Hessian of the deviance);
        - with group effects: the prediction error variance of x' beta_hat + z' b_hat from the
          joint covariance of (beta_hat, b_hat - b) in the Laplace approximation at the modes,
          sigma^2 times the inverse of the PIRLS system M = [[L'Z'WZL + I, L'Z'WX], [X'WZL, X'WX]]
          (W the working weights at the modes), as `LmerFit.predict` does for a linear model; its
          fixed-effects block is `vcov_rx` (not the Hessian's vcov), so the two are one joint
          covariance. A level not seen in the fit adds z' Sigma z.

        ``type="response"``: fit = linkinv(eta), se_fit = |d mu / d eta| se (delta method), and
        the interval is the link-scale interval back-transformed, linkinv(eta -/+ z se), so it
        stays in the family's range and is not symmetric about the fit.

        Examples
        --------
        >>> import mixedmodels as mm
        >>> cbpp = mm.datasets.load("cbpp")
        >>> m = mm.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp, family="binomial")
        >>> round(float(m.predict(cbpp.head(1), include_re=False, type="response").iloc[0]), 4)
        0.198
        >>> m.predict(cbpp.head(2), include_re=False, type="response", se_fit=True,
        ...           interval="confidence").round(3)
             fit  se_fit  lower  upper
        0  0.198   0.037  0.135  0.280
        1  0.084   0.024  0.047  0.144
        """
        if type not in ("link", "response"):
            raise ArgumentError(f"type must be 'link' or 'response', got {type!r}")
        se_fit = check_bool(se_fit, "se_fit")
        if interval is not None and interval != "confidence":
            if interval == "prediction":
                raise MixedModelsError(
                    f"prediction intervals are for linear mixed models: a new observation of the {self.family.name} "
                    "family is not the fit -/+ z se; use interval='confidence' (or simulate)"
                )
            raise ArgumentError(f"interval must be None or 'confidence', got {interval!r}")
        table = None if newdata is None else table_as_frame(newdata)
        if isinstance(table, pd.DataFrame):
            newdata = table
            missing = self._missing_rows(table, include_re)
            if missing.any():  # NaN there (`LmerFit.predict`)
                part = None
                if not missing.all():
                    part = self.predict(
                        table[~missing],
                        include_re,
                        allow_new_levels,
                        type=type,
                        se_fit=se_fit,
                        interval=interval,
                        level=level,
                    )
                return self._fill_missing(part, missing, table.index, se_fit, interval)
        eta = LmerFit.predict(self, newdata, include_re, allow_new_levels)
        link = self.family.link
        if not se_fit and interval is None:
            if type == "link":
                return eta
            return pd.Series(link.linkinv(eta.to_numpy()), index=eta.index, name="predicted")
        level = check_level(level)
        use = group_list(include_re, [f.name for f in self.structure.factors])
        var, _extra = self._prediction_variances(newdata, use, False)
        se = np.sqrt(var)
        e = eta.to_numpy()
        out = pd.DataFrame({"fit": e if type == "link" else link.linkinv(e)}, index=eta.index)
        if se_fit:
            out["se_fit"] = se if type == "link" else np.abs(link.mu_eta(e)) * se
        if interval is not None:
            z = float(special.ndtri((1 + level) / 2))
            lo, hi = e - z * se, e + z * se
            out["lower"] = lo if type == "link" else link.linkinv(lo)
            out["upper"] = hi if type == "link" else link.linkinv(hi)
        return out

    def _pls_weights(self) -> FloatArray:
        """The working weights at the modes: prior weights * (d mu / d eta)^2 / V(mu)."""
        eta = self.glmm_fit.pirls.eta
        fam = self.family
        mu = self.glmm_fit.pirls.mu
        w: FloatArray = self.glmm.prior_weights * fam.link.mu_eta(eta) ** 2 / fam.variance(mu)
        return w

    def _joint_vcov(self) -> FloatArray:
        """sigma^2 (R_X'R_X)^-1 at the modes: the fixed-effects block of the PIRLS system's inverse."""
        return np.asarray(self.sigma**2 * self.glmm_fit.vcov_rx, dtype=float)

    # ------------------------------------------------------------------ simulation
    def simulate(self, nsim: int = 1, seed: Seed = None, include_re: bool = True, use_u: bool = False) -> pd.DataFrame:
        """New responses from the fitted model, as lme4's ``simulate``: one column per simulation,
        on the scale of the response as fitted (binomial: proportions of the prior weights'
        trials, 0/1 for binary data; counts for Poisson). ``include_re`` draws new group effects
        from N(0, Sigma) (``use_u``: the conditional modes; False: population level).

        Examples
        --------
        >>> import mixedmodels as mm
        >>> m = mm.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)",
        ...              mm.datasets.load("cbpp"), family="binomial")
        >>> m.simulate(nsim=2, seed=1).shape
        (56, 2)
        """
        nsim = check_count(nsim, "nsim")
        check_simulation_size(self.glmm.nobs, nsim)
        check_seed(seed)
        include_re = check_bool(include_re, "include_re")
        use_u = check_bool(use_u, "use_u")
        rng = np.random.default_rng(seed)
        g = self.glmm
        fam = self.family
        wt = g.prior_weights
        out = np.empty((g.nobs, nsim))
        for s in range(nsim):
            mu = fam.link.linkinv(linear_predictor_draw(self, rng, include_re, use_u))
            out[:, s] = _draw(fam, mu, wt, self.sigma**2, rng)
        return pd.DataFrame(out, index=g.rows.index, columns=[f"sim_{i + 1}" for i in range(nsim)])

    def sample_groups(self, n: int, seed: Seed = None, group: str | None = None) -> pd.DataFrame:
        """Coefficients (link scale) of n new groups drawn from N(fixef, Sigma), in the columns of
        ``coef[group]``.

        Examples
        --------
        >>> import mixedmodels as mm
        >>> m = mm.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)",
        ...              mm.datasets.load("cbpp"), family="binomial")
        >>> m.sample_groups(3, seed=1).shape
        (3, 4)
        """
        check_seed(seed)
        return sample_groups(self, check_count(n, "n"), seed=seed, group=group)

    # ------------------------------------------------------------------ figures
    def plot_group_curves(
        self,
        groups: Sequence[str] | None = None,
        n: int | None = None,
        seed: Seed = None,
        group: str | None = None,
        covariate: str | None = None,
        ax: plots.Axes | None = None,
    ) -> plots.Figure:
        """Each group's curve on the response scale (probability for binomial data) against the
        random slope's covariate, the fixed effects' curve dashed; highlight ``groups=[...]`` or
        ``n`` random ones. Returns the matplotlib Figure.

        Examples
        --------
        >>> import mixedmodels as mm
        >>> hsb = mm.datasets.load("hsb").assign(passed=lambda d: d["mAch"] > 12)
        >>> m = mm.glmer("passed ~ ses + (1 + ses | school)", hsb, family="binomial")
        >>> fig = m.plot_group_curves(groups=["1224", "1288"])  # doctest: +SKIP
        """
        check_seed(seed)
        if n is not None:
            n = check_count(n, "n")
        return plots.plot_group_curves(
            self, self.family.link.linkinv, groups=groups, n=n, seed=seed, group=group, covariate=covariate, ax=ax
        )

    def plot_ranef(self, group: str | None = None, level: float = 0.95, order_by: str | None = None) -> plots.Figure:
        """Caterpillar plot of the conditional modes with intervals from the conditional variances;
        all panels of a grouping factor share one order of its levels (``order_by``: a term).

        Examples
        --------
        >>> import mixedmodels as mm
        >>> m = mm.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)",
        ...              mm.datasets.load("cbpp"), family="binomial")
        >>> fig = m.plot_ranef()  # doctest: +SKIP
        """
        return plots.plot_ranef(self, group=group, level=level, order_by=order_by)

    # ------------------------------------------------------------------ printing
    def summary(self) -> printing.GlmerSummary:
        """lme4's glmer summary (family and link, AIC/BIC/logLik/deviance, scaled Pearson
        residuals, random effects, z tests)."""
        return printing.GlmerSummary(self)

    def __str__(self) -> str:
        return str(self.summary())

    def __repr__(self) -> str:
        return (
            f"<GlmerResult {self.formula!r} family={self.family.name}({self.family.link.name}) "
            f"logLik={self.loglik:.4f} converged={self.converged}>"
        )

    def _repr_html_(self) -> str:
        return self.summary()._repr_html_()


_FIELDS = tuple(Fit.__dataclass_fields__)
_BOOT_KEYWORDS = ("nsim", "seed", "n_jobs", "progress")
_UPDATE_KEYWORDS = ("family", "nAGQ", "weights", "offset", "fast", "start", "maxeval", "data_name")


def _draw(fam: Family, mu: FloatArray, wt: FloatArray, dispersion: float, rng: np.random.Generator) -> FloatArray:
    """One response per row from the family at mean mu (binomial: successes of round(wt) trials over
    the trials; Gamma: shape 1 / dispersion; inverse Gaussian: shape wt / dispersion; negative
    binomial: R's rnbinom(size = theta, mu = mu), prior weights ignored as MASS's simulate does)."""
    family = fam.name
    if isinstance(fam, NegativeBinomial):
        return rng.negative_binomial(fam.theta, fam.theta / (fam.theta + mu)).astype(np.float64)
    if family == "binomial":
        trials = np.round(wt).astype(np.int64)
        k = rng.binomial(np.maximum(trials, 0), np.clip(mu, 0.0, 1.0))
        out: FloatArray = np.divide(k, trials, out=np.zeros_like(mu), where=trials > 0)
        return out
    if family == "poisson":
        return rng.poisson(mu).astype(np.float64)
    if family == "Gamma":
        shape = wt / dispersion
        return rng.gamma(shape, mu / shape)
    if family == "inverse.gaussian":
        return rng.wald(mu, wt / dispersion)
    return mu + np.sqrt(dispersion / wt) * rng.standard_normal(mu.shape[0])
