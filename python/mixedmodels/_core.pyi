"""
C++ core of mixedmodels: penalised least squares with a blocked Cholesky factor.
"""

from __future__ import annotations

import collections.abc
import typing

import numpy
import numpy.typing

import mixedmodels.exceptions

__all__: list[str] = ["Engine", "InvalidInputError", "NotPositiveDefiniteError", "TooLargeError", "load_nlopt"]

class NotPositiveDefiniteError(mixedmodels.exceptions.CoreError):
    pass

class InvalidInputError(mixedmodels.exceptions.CoreError):
    pass

class TooLargeError(mixedmodels.exceptions.CoreError):
    pass

class Engine:
    """
    Blocks of A = [Z X y]'[Z X y] and the blocked Cholesky factor L(theta).
    """
    @staticmethod
    def from_blocks(
        n: typing.SupportsInt | typing.SupportsIndex,
        p: typing.SupportsInt | typing.SupportsIndex,
        meta: list,
        diag: list,
        off: dict,
        xy: list,
        xx: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
        dense_threshold: typing.SupportsFloat | typing.SupportsIndex = 0.1,
    ) -> Engine:
        """
        Engine from blocks of A summed elsewhere (chunks of rows, partitions): meta per factor (nlev, k, theta_index, theta_row, theta_col); diag[f] (nlev, k, k); off[(c, j)] = (row levels, column levels, values (nnz, k_c, k_j)) for c > j; xy[f] (p+1, nlev*k); xx (p+1, p+1).
        """
    def __init__(
        self,
        y: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
        x: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
        factors: list,
        dense_threshold: typing.SupportsFloat | typing.SupportsIndex = 0.1,
        form_only: bool = False,
    ) -> None:
        """
        Form A in one pass over the rows. factors: list of (codes int32[n], nlev, z float64[n, k], theta_index, theta_row, theta_col), largest factor first.
        """
    def a_blocks(self) -> tuple[list, list, numpy.typing.NDArray[numpy.float64]]:
        """
        Copies of A's per-factor diagonal blocks (nlev, k, k), [X y] rows (p+1, nlev*k) and [X y] block.
        """
    def a_parts(
        self,
    ) -> tuple[list, dict, list, tuple[numpy.typing.NDArray[numpy.float64], numpy.typing.NDArray[numpy.float64]]]:
        """
        A's blocks as double-double pairs (hi, lo): diag [(hi, lo) (nlev, k, k)], off {(c, j): (rows, cols, hi, lo)}, xy [(hi, lo) (p+1, nlev*k)], xx (hi, lo); for summing chunks exactly.
        """
    def bobyqa(
        self,
        x0: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
        lower: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
        reml: bool,
        algorithm: typing.SupportsInt | typing.SupportsIndex,
        xtol_abs: typing.SupportsFloat | typing.SupportsIndex,
        ftol_abs: typing.SupportsFloat | typing.SupportsIndex,
        maxeval: typing.SupportsInt | typing.SupportsIndex,
        step: typing.Annotated[numpy.typing.ArrayLike, numpy.float64] | None = None,
    ) -> tuple[numpy.typing.NDArray[numpy.float64], float, int, int]:
        """
        Minimise the criterion over theta >= lower with NLopt (algorithm: an nlopt_algorithm, e.g. nlopt.LN_BOBYQA) called from C++ (needs load_nlopt); returns (theta, criterion, evaluations, nlopt result code). The best point seen is returned when the optimiser stops somewhere worse.
        """
    def column_sumsq(self) -> numpy.typing.NDArray[numpy.float64]:
        """
        Sums of squares of the model's columns, from A's diagonal: each factor's random-effects columns (engine order), then X's.
        """
    def condcov(self) -> list:
        """
        Per factor, (nlev, k, k) diagonal blocks of (L_ZZ L_ZZ')^{-1} at the current theta.
        """
    def dense(self, of_l: bool) -> numpy.typing.NDArray[numpy.float64]:
        """
        Lower triangle of L (of_l=True) or A as a dense matrix; for small designs.
        """
    def derivative_check(
        self,
        x: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
        lower: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
        fx: typing.SupportsFloat | typing.SupportsIndex,
        reml: bool,
        h: typing.SupportsFloat | typing.SupportsIndex = 0.0001,
    ) -> tuple[numpy.typing.NDArray[numpy.float64], numpy.typing.NDArray[numpy.float64]]:
        """
        lme4's derivative check at the optimum x (criterion fx): finite-difference gradient and Hessian diagonal, central with step h, one-sided within h of a lower bound (gradient 0 when the criterion increases inwards; Hessian entry NaN). L is left at the last point evaluated.
        """
    def describe(self) -> str:
        """
        Block types of L, one row of blocks per line.
        """
    def estimates(
        self, theta: typing.Annotated[numpy.typing.ArrayLike, numpy.float64]
    ) -> tuple[
        float,
        float,
        float,
        numpy.typing.NDArray[numpy.float64],
        numpy.typing.NDArray[numpy.float64],
        numpy.typing.NDArray[numpy.float64],
    ]:
        """
        Update L at theta and return (log|L|^2, log|R_X|^2, penalised RSS, beta, b, (R_X'R_X)^{-1}), b = Lambda(theta) u the random effects (engine order, level by level): what a fit reports at its optimum, in one call.
        """
    def lxy(self) -> numpy.typing.NDArray[numpy.float64]:
        """
        The [X y] diagonal block of L, (p+1) x (p+1) lower triangular.
        """
    def moment_start(
        self, intercept_col: collections.abc.Sequence[typing.SupportsInt | typing.SupportsIndex]
    ) -> numpy.typing.NDArray[numpy.float64]:
        """
        Starting theta from moments of the OLS residuals, from the blocks of A alone (intercept_col: per factor, the index of its intercept column or -1). Leaves L at theta = 0.
        """
    def objective(self, theta: typing.Annotated[numpy.typing.ArrayLike, numpy.float64], reml: bool) -> float:
        """
        REML criterion or -2 log-likelihood at theta (updates L).
        """
    def rx_inverse_crossprod(self) -> numpy.typing.NDArray[numpy.float64]:
        """
        (R_X'R_X)^{-1} (vcov(beta) / sigma^2, p x p) at the current theta.
        """
    def solve(self) -> tuple[numpy.typing.NDArray[numpy.float64], numpy.typing.NDArray[numpy.float64]]:
        """
        (beta, u) at the current theta: fixed effects and spherical random effects (engine order).
        """
    def update(self, theta: typing.Annotated[numpy.typing.ArrayLike, numpy.float64]) -> tuple[float, float, float]:
        """
        Update L at theta; returns (log|L|^2, log|R_X|^2, penalised RSS).
        """
    def update_flops(self) -> float:
        """
        Rough floating-point work of one update(theta), from the block types (chooses the optimiser).
        """
    @property
    def k(self) -> list[int]: ...
    @property
    def nlev(self) -> list[int]: ...
    @property
    def nobs(self) -> int: ...
    @property
    def ntheta(self) -> int: ...
    @property
    def p(self) -> int: ...

def load_nlopt(path: str) -> str:
    """
    Look NLopt's C API up in the shared library at path (the nlopt package's _nlopt extension) so that Engine.bobyqa can run; returns '' on success, else the reason it cannot.
    """
