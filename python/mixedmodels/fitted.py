"""A fitted model's estimates in lme4's vocabulary: fixef, vcov, ranef, coef, var_corr, fitted values
and predictions. `LmerFit` adds these accessors to a `model.Fit`; `results.LmerResult` adds the
analyses (tests, intervals, simulation, tables, figures), each in its own module.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import Any, Literal, TypeVar, overload

import numpy as np
import pandas as pd
from formulaic.errors import FormulaicError
from numpy.typing import NDArray
from pandas.api.types import is_string_dtype
from scipy import sparse, special
from scipy.sparse import linalg as splinalg

from .arguments import check_bool, check_level, group_list, table_as_frame
from .exceptions import ArgumentError, DataError, MixedModelsError
from .glmm import GeneralizedLinearMixedModel
from .layout import TermSlot, sd_corr, tril_pairs
from .model import Fit
from .names import drop_internal_calls, level_label
from .structure import Factor, FormulaEncoding, ModelStructure

__all__ = ["LmerFit", "RESIDUAL_TYPES"]

RESIDUAL_TYPES = ("deviance", "pearson", "response", "working")  # lme4's residuals(type=)

FloatArray = NDArray[np.float64]
T = TypeVar("T", bound="LmerFit")


class LmerFit(Fit):
    """A fitted linear mixed model with lme4's accessors (in snake_case); never modified.

    Variance components are on the scale of the data. The model (`model`) holds the structure,
    the data and the criterion; everything here follows from it and the estimates.
    """

    @classmethod
    def of(cls: type[T], fit: Fit) -> T:
        """The same estimates as this class (the fields copied as they are: a `Fit` is immutable)."""
        out = cls.__new__(cls)
        out.__dict__.update({name: fit.__dict__[name] for name in _FIELDS})
        return out

    def __getstate__(self) -> dict[str, Any]:
        # the cached sparse LU of predict's standard errors (`_pls_system`) does not pickle; it is
        # formed again when next asked for
        return {k: v for k, v in self.__dict__.items() if k != "_pls_system"}

    @property
    def structure(self) -> ModelStructure:
        """The model's structure (terms, factors, names, theta layout)."""
        return self.model.structure

    # ------------------------------------------------------------------ basic facts
    @cached_property
    def fixef(self) -> pd.Series:
        """Fixed-effect estimates, named as lme4 names them (``ses:sectorCatholic``)."""
        return pd.Series(self.beta, index=list(self.structure.fixed_names), name="Estimate")

    @cached_property
    def vcov(self) -> pd.DataFrame:
        """Covariance matrix of the fixed-effect estimates (sigma^2 (R_X' R_X)^-1)."""
        names = list(self.structure.fixed_names)
        return pd.DataFrame(self.vcov_array, index=names, columns=names)

    @property
    def formula(self) -> str:
        """The formula as given."""
        return self.structure.formula

    @property
    def nobs(self) -> int:
        """Number of observations used (after dropping rows with missing values)."""
        return self.model.nobs

    @property
    def n_dropped(self) -> int:
        """Rows dropped for missing values."""
        return self.model.data.n_dropped

    @property
    def ngroups(self) -> dict[str, int]:
        """Number of levels of each grouping factor, in lme4's order."""
        return {g: self.structure.factor(g).nlev for g in self.structure.group_order}

    @property
    def theta_names(self) -> tuple[str, ...]:
        """lme4's names of the entries of `theta`."""
        return self.structure.theta.names

    @property
    def df(self) -> int:
        """Number of parameters: fixed effects + theta + 1 (sigma), as lme4's ``logLik`` df."""
        return self.structure.p + self.structure.ntheta + 1

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
        return float(self.objective + np.log(self.nobs) * self.df)

    @property
    def fixef_se(self) -> pd.Series:
        """Standard errors of the fixed effects."""
        return pd.Series(np.sqrt(np.diag(self.vcov_array)), index=self.fixef.index, name="Std. Error")

    @property
    def fixef_t(self) -> pd.Series:
        """t statistics of the fixed effects (estimate / standard error)."""
        return pd.Series(self.fixef.to_numpy() / self.fixef_se.to_numpy(), index=self.fixef.index, name="t value")

    # ------------------------------------------------------------------ variance components
    def term_covariances(self) -> list[tuple[TermSlot, FloatArray]]:
        """Each random-effects term (lme4's order) with its covariance matrix, on the data's scale."""
        return self.structure.theta.covariances(self.theta, self.sigma)

    @cached_property
    def cov_re(self) -> dict[str, pd.DataFrame]:
        """Covariance matrix of the random effects of each grouping factor (sigma^2 T T')."""
        out = {}
        for g in self.structure.group_order:
            fi = self.structure.factor_index(g)
            t = self.structure.theta.factor_t(self.theta, fi)
            cols = list(self.structure.factors[fi].columns)
            out[g] = pd.DataFrame(self.sigma**2 * t @ t.T, index=cols, columns=cols)
        return out

    @cached_property
    def var_corr(self) -> pd.DataFrame:
        """Variance components as a tidy table, like R's ``as.data.frame(VarCorr(m))``.

        Columns: ``grp`` (lme4's term name, made unique: ``Subject``, ``Subject.1``), ``var1``,
        ``var2`` (NaN for variances, as R's NA; both are NaN on the residual's row), ``vcov``
        (variance or covariance) and ``sdcor`` (standard deviation or correlation). The last row is
        the residual.

        Examples
        --------
        >>> import mixedmodels as mm
        >>> m = mm.lmer("Reaction ~ Days + (1 | Subject)", mm.datasets.load("sleepstudy"))
        >>> m.var_corr["var2"].isna().all()
        np.True_
        """
        rows: list[tuple[str, str | float, str | float, float, float]] = []
        for term, cov in self.term_covariances():
            sd, corr = sd_corr(cov)
            rows.extend((term.name, c, np.nan, cov[i, i], sd[i]) for i, c in enumerate(term.columns))
            rows.extend(
                (term.name, term.columns[j], term.columns[i], cov[i, j], corr[i, j])
                for i, j in tril_pairs(term.k)
                if i != j
            )
        rows.append(("Residual", np.nan, np.nan, self.sigma**2, self.sigma))
        return pd.DataFrame(rows, columns=["grp", "var1", "var2", "vcov", "sdcor"])

    # ------------------------------------------------------------------ random effects
    @cached_property
    def _condcov(self) -> tuple[FloatArray, ...]:
        """Per factor (engine order): nlev x k x k conditional covariances Cov(b | y). Computed when
        first needed: with a dense fill-in block (crossed designs) it costs more than a few
        evaluations of the criterion."""
        condcov_u = self.model.conditional_covariances(self.theta)
        s2 = self.sigma**2
        out = []
        for fi in range(len(self.structure.factors)):
            t = self.structure.theta.factor_t(self.theta, fi)
            out.append(s2 * np.einsum("ab,lbc,dc->lad", t, condcov_u[fi], t))
        return tuple(out)

    def _levels_index(self, f: Factor) -> pd.Index:
        return pd.Index(f.levels, name=f.name, dtype=object)

    @cached_property
    def ranef(self) -> dict[str, pd.DataFrame]:
        """Conditional modes of the random effects: per grouping factor, levels x terms."""
        out = {}
        for g in self.structure.group_order:
            fi = self.structure.factor_index(g)
            f = self.structure.factors[fi]
            out[g] = pd.DataFrame(self.b[fi], index=self._levels_index(f), columns=list(f.columns))
        return out

    @cached_property
    def ranef_condvar(self) -> dict[str, pd.DataFrame]:
        """Conditional variances of the random effects (the diagonal of lme4's ``postVar``),
        shaped like `ranef`. The full per-level covariance is in `ranef_condcov`."""
        out = {}
        for g in self.structure.group_order:
            fi = self.structure.factor_index(g)
            f = self.structure.factors[fi]
            var = np.diagonal(self._condcov[fi], axis1=1, axis2=2)
            out[g] = pd.DataFrame(var.copy(), index=self._levels_index(f), columns=list(f.columns))
        return out

    @property
    def ranef_condcov(self) -> dict[str, FloatArray]:
        """Full conditional covariance of each level's random effects: per grouping factor an
        array (levels, k, k) in the column order of `ranef`."""
        return {g: self._condcov[self.structure.factor_index(g)].copy() for g in self.structure.group_order}

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
    def _linear_predictor(self, use: list[str], what: str) -> FloatArray:
        rows = self.model.data.rows(what)
        out = rows.x @ self.beta
        if rows.offset is not None:
            out = out + rows.offset
        for fi, f in enumerate(self.structure.factors):
            if f.name in use:
                out = out + np.einsum("ij,ij->i", rows.z[fi], self.b[fi][rows.codes[fi]])
        return out

    @cached_property
    def _fitted(self) -> FloatArray:
        return self._linear_predictor([f.name for f in self.structure.factors], "fitted values and residuals")

    def fitted(self) -> pd.Series:
        """Fitted values (fixed part plus conditional modes) for the rows used in the fit.

        Examples
        --------
        >>> import mixedmodels as mm
        >>> m = mm.lmer("Reaction ~ Days + (Days | Subject)", mm.datasets.load("sleepstudy"))
        >>> round(float(m.fitted().iloc[0]), 3)
        253.664
        """
        return pd.Series(self._fitted, index=self.model.data.rows("fitted values and residuals").index, name="fitted")

    @property
    def df_resid(self) -> int:
        """Residual degrees of freedom, lme4's ``df.residual``: observations less the parameters
        (fixed effects, theta and, for a family with one, the residual SD).

        Examples
        --------
        >>> import mixedmodels as mm
        >>> mm.lmer("Reaction ~ Days + (Days | Subject)", mm.datasets.load("sleepstudy")).df_resid
        174
        """
        return int(self.nobs - self.df)

    def residuals(self, scaled: bool = False, type: str = "response") -> pd.Series:  # noqa: A002  (lme4's name)
        """Residuals as lme4's ``residuals(m, type)`` of a linear mixed model: "response" (default)
        and "working", y - fitted; "pearson" and "deviance", sqrt(w) (y - fitted) with the prior
        weights w (the same as "response" without weights). ``scaled`` divides by sigma.

        Examples
        --------
        >>> import mixedmodels as mm
        >>> m = mm.lmer("Reaction ~ Days + (Days | Subject)", mm.datasets.load("sleepstudy"))
        >>> round(float(m.residuals().iloc[0]), 3)
        -4.104
        """
        scaled = check_bool(scaled, "scaled")
        if type not in RESIDUAL_TYPES:
            raise ArgumentError(f"type must be one of {', '.join(map(repr, RESIDUAL_TYPES))}, got {type!r}")
        rows = self.model.data.rows("fitted values and residuals")
        r = rows.y - self._fitted
        if type in ("pearson", "deviance") and rows.weights is not None:
            r = r * np.sqrt(rows.weights)
        if scaled:
            r = r / self.sigma
        return pd.Series(r, index=rows.index, name="residuals")

    @overload
    def predict(
        self,
        newdata: pd.DataFrame | None = None,
        include_re: bool | str | list[str] = True,
        allow_new_levels: bool = True,
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
        *,
        se_fit: bool = False,
        interval: str | None = None,
        level: float = 0.95,
    ) -> pd.Series | pd.DataFrame:
        """Predictions, conditional on the random effects or at the population level, with their
        standard errors and intervals on request.

        Parameters
        ----------
        newdata : DataFrame (or a dict of columns, structured array, pyarrow or polars table), optional
            New rows; the fixed part's encoding (categories, contrasts, transforms) is replayed on
            them. Default: the rows used in the fit.
        include_re : bool, str or list of str
            True: add each row's group effects for every grouping factor; a name or a list of names:
            only those grouping factors; False: fixed part only (lme4's ``re.form = NA``).
        allow_new_levels : bool
            True (default): a level not seen in the fit contributes 0 (the population value for
            that factor). False: such a level is an error.
        se_fit : bool
            False (default): a Series of predictions, as before. True: a DataFrame with columns
            ``fit`` and ``se_fit`` (and ``lower``, ``upper`` with ``interval``).
        interval : {None, "confidence", "prediction"}
            "confidence": fit -/+ z se_fit; "prediction": fit -/+ z se_pred, an interval for a new
            observation at the row. z is the normal quantile (``level``). Returns a DataFrame
            (fit, lower, upper; with ``se_fit`` also se_fit).
        level : float
            Coverage of the intervals (default 0.95).

        Notes
        -----
        The standard errors treat theta and sigma as known (as lme4's ``condVar`` and the reference
        computations do); V = `vcov` is the unadjusted covariance of the fixed effects.

        - Population level (``include_re=False``): se_fit^2 = x' V x.
        - With group effects: the prediction error variance of x' beta_hat + z' b_hat as an
          estimate of x' beta + z' b, from the joint covariance of (beta_hat, b_hat - b): sigma^2
          times the inverse of the whole penalised least-squares system
          M = [[L'Z'WZL + I, L'Z'WX], [X'WZL, X'WX]] (L = Lambda), so with d = L'z,
          se_fit^2 = sigma^2 d' (L'Z'WZL + I)^-1 d + g' V g, g = x - X'WZL (L'Z'WZL + I)^-1 d.
          The first term alone is lme4's ``condVar`` (Cov(b | y) at beta_hat, which ignores the
          uncertainty of beta_hat); the second adds it, with its covariance with b_hat. Several
          grouping factors (crossed or nested) enter through the same system.
        - A level not seen in the fit (``allow_new_levels``) adds its term's new-level variance
          z' Sigma z to se_fit^2 (the group's effect is unknown: b ~ N(0, Sigma)).
        - se_pred^2 = se_fit^2 + sum of z_k' Sigma_k z_k over the grouping factors left out of the
          prediction (all of them for ``include_re=False``: the variance of a new group's effects
          at the row, as R's reference by hand) + sigma^2 (a new observation of prior weight 1).

        Standard errors need the fit's rows (not a streamed fit) for the conditional part. GLMM
        fits: `GlmerResult.predict` (this method refuses them).

        Examples
        --------
        >>> import mixedmodels as mm
        >>> sleep = mm.datasets.load("sleepstudy")
        >>> m = mm.lmer("Reaction ~ Days + (Days | Subject)", sleep)
        >>> round(float(m.predict(sleep.head(1), include_re=False).iloc[0]), 3)
        251.405
        >>> m.predict(sleep.head(2), include_re=False, se_fit=True, interval="confidence").round(2)
              fit  se_fit   lower   upper
        0  251.41    6.82  238.03  264.78
        1  261.87    6.79  248.57  275.17
        """
        se_fit = check_bool(se_fit, "se_fit")
        if interval is not None and interval not in ("confidence", "prediction"):
            raise ArgumentError(f"interval must be None, 'confidence' or 'prediction', got {interval!r}")
        if newdata is not None:
            newdata = _as_frame(newdata)
            missing = self._missing_rows(newdata, include_re)
            if missing.any():  # those rows' predictions are NaN, the others' as without them
                part = None
                if not missing.all():
                    part = self.predict(
                        newdata[~missing], include_re, allow_new_levels, se_fit=se_fit, interval=interval, level=level
                    )
                return self._fill_missing(part, missing, newdata.index, se_fit, interval)
        fit = self._predict(newdata, include_re, allow_new_levels)
        if not se_fit and interval is None:
            return fit
        level = check_level(level)
        if isinstance(self.model, GeneralizedLinearMixedModel):
            raise MixedModelsError("standard errors and intervals of predictions are for lmer fits only (not glmer)")
        use = group_list(include_re, [f.name for f in self.structure.factors])
        var_fit, var_extra = self._prediction_variances(newdata, use, interval == "prediction")
        out = pd.DataFrame({"fit": fit.to_numpy()}, index=fit.index)
        if se_fit:
            out["se_fit"] = np.sqrt(var_fit)
        if interval is not None:
            se = np.sqrt(var_fit + var_extra) if interval == "prediction" else np.sqrt(var_fit)
            z = float(special.ndtri((1 + level) / 2))
            out["lower"] = out["fit"].to_numpy() - z * se
            out["upper"] = out["fit"].to_numpy() + z * se
        return out

    def _missing_rows(self, newdata: pd.DataFrame, include_re: object) -> NDArray[np.bool_]:
        """The rows of newdata missing a value that the prediction reads (its fixed part, and the
        terms of the factors ``include_re`` names): their predictions are NaN, as numeric missing
        values give anyway (a missing level of a categorical variable had been formulaic's error). A
        missing grouping level is a new level, as in lme4 (`allow_new_levels`). A `DataError` where a
        column is lacking altogether."""
        use = group_list(include_re, [f.name for f in self.structure.factors])
        _require_columns(newdata, self.structure, use)
        # (a grouping variable alone: a missing level is a new level, as lme4's predict takes it)
        read = _read_variables(self.structure, use)
        self._check_kinds(newdata, read, numbers_for_text=True)
        if not read:
            return np.zeros(len(newdata), dtype=bool)
        out: NDArray[np.bool_] = newdata[read].isna().any(axis=1).to_numpy(dtype=bool)
        return out

    def _check_kinds(self, newdata: pd.DataFrame, variables: list[str], *, numbers_for_text: bool) -> None:
        """A `DataError` naming a column of newdata (among ``variables``, not grouping-only ones)
        that holds numbers where the fit's held text (R: "fitted with type factor but type numeric was
        supplied"; formulaic had read them as numbers, a silently wrong prediction), or, with
        ``numbers_for_text=False`` (after formulaic failed), text where the fit's held numbers
        (formulaic had said "generated too many columns"; a variable inside factor() takes text)."""
        try:
            fitted_frame = self.model.data.frame("")
        except MixedModelsError:  # streamed or array data: formulaic's own check only
            return
        for v in variables:
            if v not in newdata.columns or v not in fitted_frame.columns:
                continue
            was, now = fitted_frame[v], newdata[v]
            values = was.cat.categories if isinstance(was.dtype, pd.CategoricalDtype) else was.iloc[:10000].dropna()
            was_text = not pd.api.types.is_numeric_dtype(was.dtype) and any(isinstance(x, str) for x in values)
            if (
                numbers_for_text
                and was_text
                and pd.api.types.is_numeric_dtype(now.dtype)
                and not pd.api.types.is_bool_dtype(now.dtype)
            ):
                raise DataError(
                    f"column {v!r} of newdata holds numbers where the fit's held text (a factor): give its levels "
                    f"as the fit's strings (newdata[{v!r}] = newdata[{v!r}].astype(str))"
                )
            if (
                numbers_for_text
                or not pd.api.types.is_numeric_dtype(was.dtype)
                or pd.api.types.is_bool_dtype(was.dtype)
            ):
                continue
            text = next((x for x in now.dropna() if isinstance(x, str)), None)
            if text is not None:  # (R: "variable 'x' was fitted with type numeric but type character was supplied")
                raise DataError(
                    f"column {v!r} of newdata holds text ({text!r}) where the fit's held numbers: convert it "
                    f"(newdata[{v!r}] = pd.to_numeric(newdata[{v!r}]))"
                )

    @staticmethod
    def _fill_missing(
        part: pd.Series | pd.DataFrame | None,
        missing: NDArray[np.bool_],
        index: pd.Index,
        se_fit: bool,
        interval: str | None,
    ) -> pd.Series | pd.DataFrame:
        """The predictions of the rows not ``missing`` (``part``; None: there are none) among NaN
        for the missing ones, in newdata's order (a Series, or the frame `predict` returns with
        ``se_fit`` or ``interval``)."""
        if not se_fit and interval is None:
            values = np.full(len(index), np.nan)
            if part is not None:
                values[~missing] = part.to_numpy()
            return pd.Series(values, index=index, name="predicted")
        columns = ["fit", *(["se_fit"] if se_fit else []), *(["lower", "upper"] if interval is not None else [])]
        frame = pd.DataFrame(np.nan, index=index, columns=columns)
        if part is not None:
            frame.iloc[np.flatnonzero(~missing)] = part[columns].to_numpy()
        return frame

    def _predict(
        self, newdata: pd.DataFrame | None, include_re: bool | str | list[str], allow_new_levels: bool
    ) -> pd.Series:
        s = self.structure
        use = group_list(include_re, [f.name for f in s.factors])
        allow_new_levels = check_bool(allow_new_levels, "allow_new_levels")
        if newdata is None:
            index = self.model.data.rows("predict() without newdata").index
            return pd.Series(self._linear_predictor(use, "predict() without newdata"), index=index, name="predicted")
        newdata = _as_frame(newdata)
        _require_columns(newdata, s, use)
        try:
            out = _fixed_matrix(newdata, s) @ self.beta
        except DataError:
            self._check_kinds(newdata, _read_variables(s, []), numbers_for_text=False)
            raise
        offset = s.encoding.offset(newdata)  # the formula's offset() terms (not the offset argument, as lme4)
        if offset is not None:
            out = out + offset
        for fi, f in enumerate(s.factors):
            if f.name in use:
                codes = _new_codes(newdata, f)
                ok = codes >= 0
                if not allow_new_levels and not ok.all():
                    bad = newdata[list(f.variables)].iloc[int(np.argmin(ok))].tolist()
                    raise DataError(
                        f"level {':'.join(map(str, bad))!r} of grouping factor {f.name!r} was not in the fit "
                        "(allow_new_levels=True predicts it at the population level)"
                    )
                try:
                    z = _term_columns(newdata, s, f)
                except DataError:
                    self._check_kinds(newdata, _read_variables(s, [f.name]), numbers_for_text=False)
                    raise
                out[ok] += np.einsum("ij,ij->i", z[ok], self.b[fi][codes[ok]])
        return pd.Series(out, index=newdata.index, name="predicted")

    # ------------------------------------------------------------------ prediction uncertainty
    def _u_offsets(self) -> list[int]:
        """Each factor's first position in u (levels by columns, factors in the structure's order)."""
        out, q = [], 0
        for f in self.structure.factors:
            out.append(q)
            q += f.nlev * f.k
        return out

    @cached_property
    def _pls_system(self) -> tuple[Callable[[FloatArray], FloatArray], FloatArray]:
        """The random-effects block of the penalised least-squares system at the estimates, from the
        fit's rows: a solver of (L'Z'WZL + I) y = r (sparse LU; L = Lambda) and X'WZL (p x q)."""
        rows = self.model.data.rows("standard errors of conditional predictions")
        s = self.structure
        n = rows.nobs
        offsets = self._u_offsets()
        q = offsets[-1] + s.factors[-1].nlev * s.factors[-1].k
        ri, ci, vals = [], [], []
        for fi, f in enumerate(s.factors):
            k = f.k
            v = rows.z[fi] @ s.theta.factor_t(self.theta, fi)  # row i of Z Lambda: z_i' T at its level's columns
            ri.append(np.repeat(np.arange(n), k))
            ci.append((rows.codes[fi].astype(np.int64)[:, None] * k + np.arange(k)[None, :] + offsets[fi]).ravel())
            vals.append(v.ravel())
        zl = sparse.csc_matrix((np.concatenate(vals), (np.concatenate(ri), np.concatenate(ci))), shape=(n, q))
        w = self._pls_weights()
        wzl = sparse.csc_matrix(zl.multiply(w[:, None]))
        a_zz = sparse.csc_matrix(zl.T @ wzl + sparse.identity(q, format="csc"))
        a_xz = np.asarray((wzl.T @ rows.x).T)
        lu = splinalg.splu(a_zz)
        return lu.solve, a_xz

    def _pls_weights(self) -> FloatArray:
        """The weights W of the penalised least-squares system: the prior weights (a GLMM: the
        working weights at the modes)."""
        rows = self.model.data.rows("standard errors of conditional predictions")
        return rows.weights if rows.weights is not None else np.ones(rows.nobs)

    def _joint_vcov(self) -> FloatArray:
        """The fixed-effects block of sigma^2 M^-1 (M the whole penalised least-squares system):
        `vcov` for a linear mixed model (a GLMM: sigma^2 (R_X'R_X)^-1 at the modes)."""
        return self.vcov_array

    def _new_level_variance(self, fi: int, z: FloatArray) -> FloatArray:
        """z_i' Sigma_f z_i per row: the variance of a new level's effects of factor fi at the row."""
        cov = self.cov_re[self.structure.factors[fi].name].to_numpy()
        out: FloatArray = np.einsum("ij,jk,ik->i", z, cov, z)
        return out

    def _prediction_variances(
        self, newdata: pd.DataFrame | None, use: list[str], all_factors: bool
    ) -> tuple[FloatArray, FloatArray]:
        """Row by row, se_fit^2 and what a prediction interval adds to it (the left-out factors'
        new-level variances + sigma^2); the formulas are in `predict`'s notes."""
        s = self.structure
        factors = [fi for fi, f in enumerate(s.factors) if f.name in use or all_factors]
        if newdata is None:
            rows = self.model.data.rows("predict() without newdata")
            x = rows.x
            zs = {fi: rows.z[fi] for fi in factors}
            codes = {fi: rows.codes[fi].astype(np.int64) for fi in factors}
        else:
            frame = _as_frame(newdata)
            x = _fixed_matrix(frame, s)
            zs = {fi: _term_columns(frame, s, s.factors[fi]) for fi in factors}
            codes = {fi: _new_codes(frame, s.factors[fi]) for fi in factors if s.factors[fi].name in use}
        m = x.shape[0]
        vcov = self.vcov_array
        extra = np.full(m, self.sigma**2)
        for fi in factors:
            if s.factors[fi].name not in use:
                extra += self._new_level_variance(fi, zs[fi])
        used = [fi for fi in factors if s.factors[fi].name in use]
        if not used:
            return np.einsum("ij,jk,ik->i", x, vcov, x), extra
        solve, a_xz = self._pls_system
        vcov = self._joint_vcov()
        offsets = self._u_offsets()
        q = a_xz.shape[1]
        var = np.zeros(m)
        for fi in used:  # a level not in the fit: its effects are unknown, b ~ N(0, Sigma)
            new = codes[fi] < 0
            var[new] += self._new_level_variance(fi, zs[fi][new])
        s2 = self.sigma**2
        for lo in range(0, m, _CHUNK):
            hi = min(m, lo + _CHUNK)
            d = np.zeros((q, hi - lo))  # columns d_i = Lambda' z_i at the rows' levels
            for fi in used:
                f = s.factors[fi]
                c = codes[fi][lo:hi]
                ok = np.flatnonzero(c >= 0)
                dz = zs[fi][lo:hi][ok] @ s.theta.factor_t(self.theta, fi)  # (T' z_i)' = z_i' T
                pos = c[ok][:, None] * f.k + np.arange(f.k)[None, :] + offsets[fi]
                d[pos, ok[:, None]] += dz
            y = solve(d)
            g = x[lo:hi] - (a_xz @ y).T
            var[lo:hi] += s2 * np.einsum("ij,ij->j", d, y) + np.einsum("ij,jk,ik->i", g, vcov, g)
        return var, extra


_CHUNK = 256  # prediction rows per solve with the random-effects block (q x 256 right-hand sides)


def _as_frame(newdata: object) -> pd.DataFrame:
    table = table_as_frame(newdata)  # a dict of columns, structured array, pyarrow or polars table
    if not isinstance(table, pd.DataFrame):
        raise DataError(
            "newdata must be a pandas DataFrame, a dict of columns, a numpy structured array, a pyarrow "
            f"Table or a polars DataFrame, got {type(table).__name__}"
        )
    if isinstance(table.columns, pd.MultiIndex):
        raise DataError("newdata's columns are a MultiIndex (levels of names): flatten them to the fit's column names")
    text = [
        c
        for c in table.columns
        if isinstance(table[c].dtype, pd.StringDtype)
        or (isinstance(table[c].dtype, pd.ArrowDtype) and is_string_dtype(table[c].dtype))
    ]
    if text:  # pandas' typed strings as Python strings: formulaic reads them as numbers (as `design.materialise`)
        table = table.assign(**{str(c): table[c].to_numpy(dtype=object) for c in text})
    return table


def _fixed_matrix(newdata: pd.DataFrame, s: ModelStructure) -> FloatArray:
    try:
        return s.encoding.fixed_matrix(newdata, s.fixed_keys)
    except FormulaicError as exc:
        raise DataError(f"cannot form the fixed-effects columns for newdata: {drop_internal_calls(str(exc))}") from exc


def _term_columns(newdata: pd.DataFrame, s: ModelStructure, f: Factor) -> FloatArray:
    """The random-effects columns of grouping factor f for newdata (its terms side by side)."""
    try:
        return np.column_stack([s.encoding.term_matrix(newdata, ti, s.terms[ti].source) for ti in f.terms])
    except FormulaicError as exc:
        raise DataError(
            f"cannot form the random-effects columns of {f.name!r} for newdata: {drop_internal_calls(str(exc))}"
        ) from exc


def _needed_variables(s: ModelStructure, use: list[str]) -> dict[str, list[str]]:
    """The data columns the fixed part and the random-effects terms of the grouping factors in
    ``use`` read, each with what reads it (none for an encoding that cannot say)."""
    needs: dict[str, list[str]] = {}
    if not isinstance(s.encoding, FormulaEncoding):
        return needs

    def need(spec: object, what: str) -> None:
        try:
            variables = getattr(spec, "required_variables", ())
        except Exception:  # a spec that cannot say: formulaic's own error follows
            variables = ()
        for v in sorted(map(str, variables)):
            needs.setdefault(v, []).append(what)

    need(s.encoding.fixed, "the fixed effects")
    for f in s.factors:
        if f.name in use:
            for ti in f.terms:
                need(s.encoding.terms[ti], s.terms[ti].source)
            for v in f.variables:
                needs.setdefault(v, []).append(f"grouping factor {f.name!r}")
    return needs


def _read_variables(s: ModelStructure, use: list[str]) -> list[str]:
    """`_needed_variables` less the grouping-only ones (whose values are matched as levels)."""
    needs = _needed_variables(s, use)
    return [v for v, what in needs.items() if not all(w.startswith("grouping factor") for w in what)]


def _require_columns(newdata: pd.DataFrame, s: ModelStructure, use: list[str]) -> None:
    """A `DataError` naming every column that the fixed part or the random-effects terms in ``use``
    need and newdata lacks (formulaic would stop at the first, with its own error)."""
    needs = _needed_variables(s, use)
    missing = [v for v in needs if v not in newdata.columns]
    if missing:
        listed = "; ".join(f"{v!r} (used by {', '.join(dict.fromkeys(needs[v]))})" for v in missing)
        raise DataError(f"newdata lacks the column{'s' if len(missing) > 1 else ''} {listed}")
    complex_cols = [v for v in needs if pd.api.types.is_complex_dtype(newdata[v].dtype)]
    if complex_cols:
        raise DataError(
            f"newdata's column{'s' if len(complex_cols) > 1 else ''} {', '.join(map(repr, complex_cols))} "
            f"{'have' if len(complex_cols) > 1 else 'has'} complex values; the model was fitted to real numbers"
        )


def _new_codes(newdata: pd.DataFrame, f: Factor) -> NDArray[np.int64]:
    """Each new row's level of grouping factor f, -1 where the level was not in the fit."""
    missing = [v for v in f.variables if v not in newdata.columns]
    if missing:
        raise DataError(f"newdata lacks the grouping column(s) {missing} of {f.name!r}")
    if f.keys is not None:  # by the variables' values and codes, not by the printed labels
        return f.keys.codes([newdata[v] for v in f.variables])
    labels = None
    for v in f.variables:
        lab = newdata[v].astype(object).map(lambda x: None if pd.isna(x) else level_label(x))
        labels = (
            lab if labels is None else labels.combine(lab, lambda a, b: None if a is None or b is None else f"{a}:{b}")
        )
    assert labels is not None
    lookup = {lvl: i for i, lvl in enumerate(f.levels)}
    return np.array([lookup.get(x, -1) if x is not None else -1 for x in labels], dtype=np.int64)


_FIELDS = tuple(Fit.__dataclass_fields__)
