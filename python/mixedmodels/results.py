"""The fitted model: an immutable result with lme4's accessors (fixef, ranef, coef, var_corr, ...)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from .design import Design
from .exceptions import DataError
from .names import level_label

__all__ = ["LmerResult"]


@dataclass(frozen=True, eq=False)
class LmerResult:
    """A fitted linear mixed model. Built once by `lmer` or `fit_arrays`; never modified.

    The attribute names follow lme4 (in snake_case): `fixef`, `ranef`, `coef`, `var_corr`,
    `theta`, `sigma`, `vcov`, `loglik`, ... Variance components are on the scale of the data.
    """

    design: Design = field(repr=False)
    reml: bool
    theta: np.ndarray
    sigma: float
    beta: np.ndarray  # fixed effects as an array (`fixef` is the named Series)
    vcov_array: np.ndarray
    objective: float
    deviance: float
    ldl2: float
    ldrx2: float
    pwrss: float
    n_evals: int
    converged: bool
    optimizer_message: str
    gradient: np.ndarray
    is_singular: bool
    messages: tuple[str, ...]
    data_name: str | None
    _b: tuple[np.ndarray, ...] = field(repr=False)  # per factor (engine order): nlev x k
    _engine: object = field(repr=False, compare=False, default=None)  # the fit's engine, for _condcov

    def __getstate__(self) -> dict:
        self._condcov  # noqa: B018 (computed now: the engine is not pickled)
        self._blocks  # noqa: B018
        state = self.__dict__.copy()
        state.pop("_inference", None)  # holds a C++ engine; rebuilt on demand
        state["_engine"] = None
        return state

    def _core_engine(self):
        """The fit's engine (formed once from the design if this result came without one)."""
        if self._engine is None:
            object.__setattr__(self, "_engine", self.design.make_engine())
        return self._engine

    @cached_property
    def _blocks(self) -> str:
        """The engine's block layout (``Engine.describe``)."""
        return self._core_engine().describe()

    @cached_property
    def _condcov(self) -> tuple[np.ndarray, ...]:
        """Per factor (engine order): nlev x k x k conditional covariances Cov(b | y). Computed when
        first needed: with a dense fill-in block (crossed designs) it costs more than a few
        evaluations of the criterion."""
        engine = self._core_engine()
        engine.update(np.asarray(self.theta, dtype=float))
        condcov_u = engine.condcov()
        s2 = self.sigma**2
        out = []
        for fi, fac in enumerate(self.design.factors):
            t = fac.t_matrix(self.theta)
            out.append(s2 * np.einsum("ab,lbc,dc->lad", t, condcov_u[fi], t))
        return tuple(out)

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)

    # ------------------------------------------------------------------ basic facts
    @cached_property
    def fixef(self) -> pd.Series:
        """Fixed-effect estimates, named as lme4 names them (``ses:sectorCatholic``)."""
        return pd.Series(self.beta, index=list(self.design.fixed_names), name="Estimate")

    @cached_property
    def vcov(self) -> pd.DataFrame:
        """Covariance matrix of the fixed-effect estimates (sigma^2 (R_X' R_X)^-1)."""
        names = list(self.design.fixed_names)
        return pd.DataFrame(self.vcov_array, index=names, columns=names)

    @property
    def formula(self) -> str:
        """The formula as given."""
        return self.design.formula

    @property
    def nobs(self) -> int:
        """Number of observations used (after dropping rows with missing values)."""
        return self.design.nobs

    @property
    def n_dropped(self) -> int:
        """Rows dropped for missing values."""
        return self.design.n_dropped_na

    @property
    def ngroups(self) -> dict[str, int]:
        """Number of levels of each grouping factor, in lme4's order."""
        return {g: self.design.factor(g).nlev for g in self._group_order}

    @property
    def theta_names(self) -> tuple[str, ...]:
        """lme4's names of the entries of `theta`."""
        return self.design.theta_names

    @property
    def df(self) -> int:
        """Number of parameters: fixed effects + theta + 1 (sigma), as lme4's ``logLik`` df."""
        return self.design.p + self.design.ntheta + 1

    @property
    def loglik(self) -> float:
        """Log-likelihood at the optimum: the REML one for REML fits, the ML one for ML fits."""
        return -0.5 * self.objective

    @property
    def aic(self) -> float:
        """Akaike's criterion from `loglik` (REML-based for REML fits, as lme4's ``AIC``)."""
        return self.objective + 2 * self.df

    @property
    def bic(self) -> float:
        """Bayesian criterion from `loglik` (REML-based for REML fits, as lme4's ``BIC``)."""
        return self.objective + np.log(self.nobs) * self.df

    @property
    def fixef_se(self) -> pd.Series:
        """Standard errors of the fixed effects."""
        return pd.Series(np.sqrt(np.diag(self.vcov.to_numpy())), index=self.fixef.index, name="Std. Error")

    @property
    def fixef_t(self) -> pd.Series:
        """t statistics of the fixed effects (estimate / standard error)."""
        return pd.Series(self.fixef.to_numpy() / self.fixef_se.to_numpy(), index=self.fixef.index, name="t value")

    # ------------------------------------------------------------------ variance components
    @cached_property
    def _group_order(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for t in self.design.terms:
            seen.setdefault(t.group, None)
        return tuple(seen)

    def _factor_index(self, group: str) -> int:
        for i, f in enumerate(self.design.factors):
            if f.name == group:
                return i
        raise KeyError(group)

    def _t_matrix(self, fi: int) -> np.ndarray:
        return self.design.factors[fi].t_matrix(self.theta)

    @cached_property
    def cov_re(self) -> dict[str, pd.DataFrame]:
        """Covariance matrix of the random effects of each grouping factor (sigma^2 T T')."""
        out = {}
        for g in self._group_order:
            fi = self._factor_index(g)
            t = self._t_matrix(fi)
            cols = list(self.design.factors[fi].columns)
            out[g] = pd.DataFrame(self.sigma**2 * t @ t.T, index=cols, columns=cols)
        return out

    @cached_property
    def var_corr(self) -> pd.DataFrame:
        """Variance components as a tidy table, like R's ``as.data.frame(VarCorr(m))``.

        Columns: ``grp`` (lme4's term name, made unique: ``Subject``, ``Subject.1``), ``var1``,
        ``var2`` (None for variances), ``vcov`` (variance or covariance) and ``sdcor`` (standard
        deviation or correlation). The last row is the residual.
        """
        rows = []
        from .varpar import sd_corr

        for name, term, cov in self._term_covs():
            sd, corr = sd_corr(cov)
            for i, c in enumerate(term.columns):
                rows.append((name, c, None, cov[i, i], sd[i]))
            for j in range(term.k):
                for i in range(j + 1, term.k):
                    rows.append((name, term.columns[j], term.columns[i], cov[i, j], corr[i, j]))
        rows.append(("Residual", None, None, self.sigma**2, self.sigma))
        return pd.DataFrame(rows, columns=["grp", "var1", "var2", "vcov", "sdcor"])

    def _term_covs(self) -> list[tuple[str, object, np.ndarray]]:
        """(unique name, term, covariance) for each term in lme4's order."""
        out, counts = [], {}
        offsets = {}
        for fi, f in enumerate(self.design.factors):
            for ti, off in zip(f.terms, f.term_offsets, strict=True):
                offsets[ti] = (fi, off)
        for ti, term in enumerate(self.design.terms):
            n = counts.get(term.group, 0)
            counts[term.group] = n + 1
            name = term.group if n == 0 else f"{term.group}.{n}"
            fi, off = offsets[ti]
            t = self._t_matrix(fi)[off : off + term.k, off : off + term.k]
            out.append((name, term, self.sigma**2 * t @ t.T))
        return out

    # ------------------------------------------------------------------ random effects
    @cached_property
    def ranef(self) -> dict[str, pd.DataFrame]:
        """Conditional modes of the random effects: per grouping factor, levels x terms."""
        out = {}
        for g in self._group_order:
            fi = self._factor_index(g)
            f = self.design.factors[fi]
            out[g] = pd.DataFrame(self._b[fi], index=pd.Index(f.levels, name=g, dtype=object), columns=list(f.columns))
        return out

    @cached_property
    def ranef_condvar(self) -> dict[str, pd.DataFrame]:
        """Conditional variances of the random effects (the diagonal of lme4's ``postVar``),
        shaped like `ranef`. The full per-level covariance is in `ranef_condcov`."""
        out = {}
        for g in self._group_order:
            fi = self._factor_index(g)
            f = self.design.factors[fi]
            var = np.diagonal(self._condcov[fi], axis1=1, axis2=2)
            out[g] = pd.DataFrame(var.copy(), index=pd.Index(f.levels, name=g, dtype=object), columns=list(f.columns))
        return out

    @property
    def ranef_condcov(self) -> dict[str, np.ndarray]:
        """Full conditional covariance of each level's random effects: per grouping factor an
        array (levels, k, k) in the column order of `ranef`."""
        return {g: self._condcov[self._factor_index(g)].copy() for g in self._group_order}

    @cached_property
    def coef(self) -> dict[str, pd.DataFrame]:
        """Per-group coefficients, fixed plus random, as lme4's ``coef()``: each school's own
        intercept and slope. Columns are the fixed effects (then any random-only columns)."""
        out = {}
        for g, re in self.ranef.items():
            df = pd.DataFrame(
                np.tile(self.fixef.to_numpy(), (len(re), 1)), index=re.index, columns=list(self.fixef.index)
            )
            for c in re.columns:
                if c in df.columns:
                    df[c] = df[c] + re[c]
                else:
                    df[c] = re[c]
            out[g] = df
        return out

    # ------------------------------------------------------------------ fitted values and prediction
    @cached_property
    def _fitted(self) -> np.ndarray:
        d = self.design
        d.require_rows("fitted values and residuals")
        out = d.x @ self.fixef.to_numpy()
        for fi, f in enumerate(d.factors):
            out = out + np.einsum("ij,ij->i", f.z, self._b[fi][f.codes])
        return out

    def fitted(self) -> pd.Series:
        """Fitted values (fixed part plus conditional modes) for the rows used in the fit.

        Examples
        --------
        >>> import mixedmodels as mm
        >>> m = mm.lmer("Reaction ~ Days + (Days | Subject)", mm.datasets.load("sleepstudy"))
        >>> round(float(m.fitted().iloc[0]), 3)
        253.664
        """
        return pd.Series(self._fitted, index=self.design.row_index, name="fitted")

    def residuals(self, scaled: bool = False) -> pd.Series:
        """Response residuals y - fitted (divided by sigma when ``scaled``).

        Examples
        --------
        >>> import mixedmodels as mm
        >>> m = mm.lmer("Reaction ~ Days + (Days | Subject)", mm.datasets.load("sleepstudy"))
        >>> round(float(m.residuals().iloc[0]), 3)
        -4.104
        """
        r = self.design.y - self._fitted
        if scaled:
            r = r / self.sigma
        return pd.Series(r, index=self.design.row_index, name="residuals")

    def predict(
        self,
        newdata: pd.DataFrame | None = None,
        include_re: bool | list[str] = True,
        allow_new_levels: bool = True,
    ) -> pd.Series:
        """Predictions, conditional on the random effects or at the population level.

        Parameters
        ----------
        newdata : DataFrame, optional
            New rows; the fixed part's encoding (categories, contrasts, transforms) is replayed on
            them. Default: the rows used in the fit.
        include_re : bool or list of str
            True: add each row's group effects for every grouping factor; a list: only those
            grouping factors; False: fixed part only (lme4's ``re.form = NA``).
        allow_new_levels : bool
            True (default): a level not seen in the fit contributes 0 (the population value for
            that factor). False: such a level is an error.

        Examples
        --------
        >>> import mixedmodels as mm
        >>> sleep = mm.datasets.load("sleepstudy")
        >>> m = mm.lmer("Reaction ~ Days + (Days | Subject)", sleep)
        >>> round(float(m.predict(sleep.head(1), include_re=False).iloc[0]), 3)
        251.405
        """
        d = self.design
        if include_re is True:
            use = [f.name for f in d.factors]
        elif include_re is False or include_re is None:
            use = []
        else:
            use = list(include_re)
            unknown = [g for g in use if g not in [f.name for f in d.factors]]
            if unknown:
                raise DataError(f"no grouping factor {unknown}; the model has {[f.name for f in d.factors]}")
        if newdata is None:
            d.require_rows("predict() without newdata")
            out = d.x @ self.fixef.to_numpy()
            for fi, f in enumerate(d.factors):
                if f.name in use:
                    out = out + np.einsum("ij,ij->i", f.z, self._b[fi][f.codes])
            return pd.Series(out, index=d.row_index, name="predicted")
        if d.fixed_spec is None:
            raise DataError("a model fitted from arrays predicts only its own rows (newdata=None)")
        if not isinstance(newdata, pd.DataFrame):
            raise DataError(f"newdata must be a pandas DataFrame, got {type(newdata).__name__}")
        x = self._new_fixed(newdata)
        out = x @ self.fixef.to_numpy()
        for fi, f in enumerate(d.factors):
            if f.name in use:
                codes = self._new_codes(newdata, f)
                ok = codes >= 0
                if not allow_new_levels and not ok.all():
                    bad = newdata[list(f.variables)].iloc[int(np.argmin(ok))].tolist()
                    raise DataError(
                        f"level {':'.join(map(str, bad))!r} of grouping factor {f.name!r} was not in the fit "
                        "(allow_new_levels=True predicts it at the population level)"
                    )
                z = self._new_z(newdata, fi)
                contrib = np.einsum("ij,ij->i", z[ok], self._b[fi][codes[ok]])
                out[ok] += contrib
        return pd.Series(out, index=newdata.index, name="predicted")

    def _new_fixed(self, newdata: pd.DataFrame) -> np.ndarray:
        import warnings

        from formulaic.transforms.contrasts import DataMismatchWarning  # type: ignore[attr-defined]

        d = self.design
        spec = d.fixed_spec
        with warnings.catch_warnings():
            warnings.simplefilter("error", DataMismatchWarning)
            try:
                mm = spec.get_model_matrix(newdata, na_action="ignore", output="numpy")  # type: ignore[union-attr]
            except DataMismatchWarning as exc:
                raise DataError(f"newdata has a category the model was not fitted with: {exc}") from exc
            except KeyError as exc:
                raise DataError(f"newdata lacks a column the fixed part needs: {exc}") from exc
        from .names import r_name

        names = [r_name(c) for c in spec.column_names]  # type: ignore[union-attr]
        idx = [names.index(n) for n in d.fixed_names]
        return np.asarray(mm, dtype=np.float64)[:, idx]

    def _new_z(self, newdata: pd.DataFrame, fi: int) -> np.ndarray:
        d = self.design
        f = d.factors[fi]
        cols = []
        for ti in f.terms:
            spec = d.terms[ti].spec
            try:
                cols.append(np.asarray(spec.get_model_matrix(newdata, na_action="ignore", output="numpy"), float))
            except KeyError as exc:
                raise DataError(f"newdata lacks a column {d.terms[ti].source} needs: {exc}") from exc
        return np.column_stack(cols)

    @staticmethod
    def _new_codes(newdata: pd.DataFrame, f) -> np.ndarray:
        missing = [v for v in f.variables if v not in newdata.columns]
        if missing:
            raise DataError(f"newdata lacks the grouping column(s) {missing} of {f.name!r}")
        labels = None
        for v in f.variables:
            lab = newdata[v].astype(object).map(lambda x: None if pd.isna(x) else level_label(x))
            labels = (
                lab
                if labels is None
                else labels.combine(lab, lambda a, b: None if a is None or b is None else f"{a}:{b}")
            )
        lookup = {lvl: i for i, lvl in enumerate(f.levels)}
        return np.array([lookup.get(x, -1) if x is not None else -1 for x in labels], dtype=np.int64)

    # ------------------------------------------------------------------ inference
    @cached_property
    def _inference(self):
        from .inference import Inference

        return Inference(self)

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
        from .inference import coef_table

        return coef_table(self, ddf)

    def anova(self, ddf: str = "satterthwaite") -> pd.DataFrame:
        """Type III F tests of the fixed-effect terms (lmerTest's ``anova``), with Satterthwaite
        (or ``ddf="kenward-roger"``) denominator df.

        Examples
        --------
        >>> import mixedmodels as mm
        >>> import warnings
        >>> with warnings.catch_warnings():
        ...     warnings.simplefilter("ignore")  # this fit is singular
        ...     m = mm.lmer("mAch ~ ses * sector + (ses | school)", mm.datasets.load("hsb"))
        >>> list(m.anova().index)
        ['ses', 'sector', 'ses:sector']
        """
        from .inference import anova_type3

        return anova_type3(self, ddf)

    def confint(self, method: str = "profile", level: float = 0.95, **kwargs) -> pd.DataFrame:
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
        from .confint import confint

        return confint(self, method=method, level=level, **kwargs)

    def bootstrap(self, nsim: int = 500, seed=None, n_jobs: int = 1, progress: bool | None = None) -> pd.DataFrame:
        """Parametric bootstrap draws of every parameter (rows = replicates; columns as `confint`).

        Examples
        --------
        >>> import mixedmodels as mm
        >>> m = mm.lmer("Reaction ~ Days + (Days | Subject)", mm.datasets.load("sleepstudy"))
        >>> m.bootstrap(nsim=3, seed=1).shape
        (3, 6)
        """
        from .confint import bootstrap

        return bootstrap(self, nsim=nsim, seed=seed, n_jobs=n_jobs, progress=progress)

    def simulate(self, nsim: int = 1, seed=None, include_re: bool = True, use_u: bool = False) -> pd.DataFrame:
        """New responses from the fitted model, as lme4's ``simulate`` (one column per draw).

        Examples
        --------
        >>> import mixedmodels as mm
        >>> m = mm.lmer("Reaction ~ Days + (Days | Subject)", mm.datasets.load("sleepstudy"))
        >>> m.simulate(nsim=2, seed=42).shape
        (180, 2)
        """
        from .simulate import simulate

        return simulate(self, nsim=nsim, seed=seed, include_re=include_re, use_u=use_u)

    def sample_groups(self, n: int, seed=None, group: str | None = None) -> pd.DataFrame:
        """Coefficients of n new groups drawn from N(fixef, Sigma): a simulated population.

        Examples
        --------
        >>> import mixedmodels as mm
        >>> m = mm.lmer("mAch ~ ses + (ses | school)", mm.datasets.load("hsb"))
        >>> m.sample_groups(160, seed=1).shape
        (160, 2)
        """
        from .simulate import sample_groups

        return sample_groups(self, n, seed=seed, group=group)

    def refit(self, new_y) -> LmerResult:
        """The same model fitted to a new response, reusing the structure (no formula parsing).

        Examples
        --------
        >>> import mixedmodels as mm
        >>> m = mm.lmer("Reaction ~ Days + (Days | Subject)", mm.datasets.load("sleepstudy"))
        >>> m2 = m.refit(m.design.y * 2)
        >>> round(float(m2.fixef["Days"] / m.fixef["Days"]), 6)
        2.0
        """
        from .simulate import refit

        return refit(self, new_y)

    def tidy(self, effects: str = "fixed", ddf: str | None = "satterthwaite") -> pd.DataFrame:
        """broom.mixed-style data frames: ``"fixed"``, ``"ran_pars"`` or ``"ran_vals"``.

        Examples
        --------
        >>> import mixedmodels as mm
        >>> m = mm.lmer("Reaction ~ Days + (Days | Subject)", mm.datasets.load("sleepstudy"))
        >>> m.tidy("ran_pars")["term"].tolist()
        ['sd__(Intercept)', 'sd__Days', 'cor__(Intercept).Days', 'sd__Observation']
        """
        from .tidy import tidy

        return tidy(self, effects=effects, ddf=ddf)

    # ------------------------------------------------------------------ pictures (matplotlib, optional)
    def plot_group_lines(
        self, groups=None, n=None, seed=None, kind: str = "partial", group=None, covariate=None, ax=None
    ):
        """Each group's line against the random slope's covariate: ``kind="partial"`` (the
        model's ``coef``), ``"none"`` (per-group OLS) or ``"population"`` (``sample_groups``).
        Highlight ``groups=[...]`` or ``n`` random ones. Returns the matplotlib Figure.

        Examples
        --------
        >>> import mixedmodels as mm
        >>> m = mm.lmer("mAch ~ ses + (ses | school)", mm.datasets.load("hsb"))
        >>> fig = m.plot_group_lines(n=3, seed=1)  # doctest: +SKIP
        """
        from .plots import plot_group_lines

        return plot_group_lines(self, groups=groups, n=n, seed=seed, kind=kind, group=group, covariate=covariate, ax=ax)

    def plot_pooling(self, groups=None, n=None, seed=None, group=None, covariate=None):
        """No pooling, partial pooling and a simulated population side by side, same axes.

        Examples
        --------
        >>> import mixedmodels as mm
        >>> m = mm.lmer("mAch ~ ses + (ses | school)", mm.datasets.load("hsb"))
        >>> fig = m.plot_pooling(groups=["1224", "1288", "1296"])  # doctest: +SKIP
        """
        from .plots import plot_pooling

        return plot_pooling(self, groups=groups, n=n, seed=seed, group=group, covariate=covariate)

    def plot_ranef(self, group=None, level: float = 0.95):
        """Caterpillar plot of the conditional modes with intervals, levels ordered by value.

        Examples
        --------
        >>> import mixedmodels as mm
        >>> m = mm.lmer("mAch ~ ses + (ses | school)", mm.datasets.load("hsb"))
        >>> fig = m.plot_ranef()  # doctest: +SKIP
        """
        from .plots import plot_ranef

        return plot_ranef(self, group=group, level=level)

    def plot_shrinkage(self, group=None, covariate=None):
        """Per-group OLS estimates joined by arrows to the mixed model's, intercept vs slope.

        Examples
        --------
        >>> import mixedmodels as mm
        >>> m = mm.lmer("mAch ~ ses + (ses | school)", mm.datasets.load("hsb"))
        >>> fig = m.plot_shrinkage()  # doctest: +SKIP
        """
        from .plots import plot_shrinkage

        return plot_shrinkage(self, group=group, covariate=covariate)

    def plot_diagnostics(self):
        """Residuals vs fitted, normal QQ of residuals and random effects, scale-location.

        Examples
        --------
        >>> import mixedmodels as mm
        >>> m = mm.lmer("mAch ~ ses + (ses | school)", mm.datasets.load("hsb"))
        >>> fig = m.plot_diagnostics()  # doctest: +SKIP
        """
        from .plots import plot_diagnostics

        return plot_diagnostics(self)

    # ------------------------------------------------------------------ printing
    def summary(self, ddf: str | None = "satterthwaite"):
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
        from .printing import Summary

        return Summary(self, ddf)

    def display(self, digits: int = 2) -> str:
        """A compact summary in the style of ``arm::display`` (estimates and SEs, error terms).

        Examples
        --------
        >>> import mixedmodels as mm
        >>> m = mm.lmer("Reaction ~ Days + (Days | Subject)", mm.datasets.load("sleepstudy"))
        >>> print(m.display().splitlines()[1])
                    coef.est coef.se
        """
        from .printing import display_text

        return display_text(self, digits)

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
        from .printing import block_description

        return block_description(self)

    def __str__(self) -> str:
        return str(self.summary())

    def __repr__(self) -> str:
        kind = "REML" if self.reml else "ML"
        return f"<LmerResult {self.formula!r} ({kind}), nobs={self.nobs}, objective={self.objective:.4f}>"

    def _repr_html_(self) -> str:
        return self.summary()._repr_html_()
