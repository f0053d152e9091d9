"""A fitted model's estimates in lme4's vocabulary: fixef, vcov, ranef, coef, var_corr, fitted values
and predictions. `LmerFit` adds these accessors to a `model.Fit`; `results.LmerResult` adds the
analyses (tests, intervals, simulation, tables, figures), each in its own module.
"""

from __future__ import annotations

from functools import cached_property
from typing import TypeVar

import numpy as np
import pandas as pd
from formulaic.errors import FormulaicError
from numpy.typing import NDArray

from .arguments import check_bool, group_list, table_as_frame
from .exceptions import DataError
from .layout import TermSlot, sd_corr, tril_pairs
from .model import Fit
from .names import level_label
from .structure import Factor, FormulaEncoding, ModelStructure

__all__ = ["LmerFit"]

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

    def residuals(self, scaled: bool = False) -> pd.Series:
        """Response residuals y - fitted (divided by sigma when ``scaled``).

        Examples
        --------
        >>> import mixedmodels as mm
        >>> m = mm.lmer("Reaction ~ Days + (Days | Subject)", mm.datasets.load("sleepstudy"))
        >>> round(float(m.residuals().iloc[0]), 3)
        -4.104
        """
        scaled = check_bool(scaled, "scaled")
        rows = self.model.data.rows("fitted values and residuals")
        r = rows.y - self._fitted
        if scaled:
            r = r / self.sigma
        return pd.Series(r, index=rows.index, name="residuals")

    def predict(
        self,
        newdata: pd.DataFrame | None = None,
        include_re: bool | list[str] | None = True,
        allow_new_levels: bool = True,
    ) -> pd.Series:
        """Predictions, conditional on the random effects or at the population level.

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

        Examples
        --------
        >>> import mixedmodels as mm
        >>> sleep = mm.datasets.load("sleepstudy")
        >>> m = mm.lmer("Reaction ~ Days + (Days | Subject)", sleep)
        >>> round(float(m.predict(sleep.head(1), include_re=False).iloc[0]), 3)
        251.405
        """
        s = self.structure
        use = group_list(include_re, [f.name for f in s.factors])
        allow_new_levels = check_bool(allow_new_levels, "allow_new_levels")
        if newdata is None:
            index = self.model.data.rows("predict() without newdata").index
            return pd.Series(self._linear_predictor(use, "predict() without newdata"), index=index, name="predicted")
        table = table_as_frame(newdata)  # a dict of columns, structured array, pyarrow or polars table
        if not isinstance(table, pd.DataFrame):
            raise DataError(
                "newdata must be a pandas DataFrame, a dict of columns, a numpy structured array, a pyarrow "
                f"Table or a polars DataFrame, got {type(table).__name__}"
            )
        newdata = table
        _require_columns(newdata, s, use)
        try:
            out = s.encoding.fixed_matrix(newdata, s.fixed_keys) @ self.beta
        except FormulaicError as exc:
            raise DataError(f"cannot form the fixed-effects columns for newdata: {exc}") from exc
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
                    z = np.column_stack([s.encoding.term_matrix(newdata, ti, s.terms[ti].source) for ti in f.terms])
                except FormulaicError as exc:
                    raise DataError(f"cannot form the random-effects columns of {f.name!r} for newdata: {exc}") from exc
                out[ok] += np.einsum("ij,ij->i", z[ok], self.b[fi][codes[ok]])
        return pd.Series(out, index=newdata.index, name="predicted")


def _require_columns(newdata: pd.DataFrame, s: ModelStructure, use: list[str]) -> None:
    """A `DataError` naming every column that the fixed part or the random-effects terms in ``use``
    need and newdata lacks (formulaic would stop at the first, with its own error)."""
    if not isinstance(s.encoding, FormulaEncoding):
        return
    needs: dict[str, list[str]] = {}

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
