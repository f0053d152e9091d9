"""
C++ core of mixedmodels: penalised least squares with a blocked Cholesky factor.
"""

from __future__ import annotations

import collections.abc
import typing

import numpy
import numpy.typing

import mixedmodels.exceptions

__all__: list[str] = [
    "BlasOneThread",
    "BlockInfo",
    "Criterion",
    "CrossProducts",
    "Engine",
    "Estimates",
    "FactorLayout",
    "InvalidInputError",
    "LaplaceStage",
    "Layout",
    "NotPositiveDefiniteError",
    "TooLargeError",
    "WorkingRows",
    "blas_threads",
    "bobyqa",
    "derivative_check",
    "laplace_crossed_rows",
    "laplace_level_sums",
    "laplace_row_terms",
    "load_blas_threads",
    "load_nlopt",
    "string_codes",
    "thread_pool_workers",
]

class BlasOneThread:
    """
    A context manager: inside its with-block BLAS runs on one thread (OpenBLAS's thread count, restored when the last overlapping block ends; nothing without the thread control, see load_blas_threads).
    """
    def __enter__(self) -> BlasOneThread: ...
    def __exit__(self, exc_type: typing.Any, exc_value: typing.Any, traceback: typing.Any) -> bool: ...
    def __init__(self) -> None: ...

class NotPositiveDefiniteError(mixedmodels.exceptions.CoreError):
    pass

class InvalidInputError(mixedmodels.exceptions.CoreError):
    pass

class TooLargeError(mixedmodels.exceptions.CoreError):
    pass

class FactorLayout:
    """
    One grouping factor as the core sees it: its levels, its random-effects columns and the entries (theta_row[e], theta_col[e]) of its lower-triangular factor T that theta[theta_index[e]] fills.
    """
    def __getstate__(
        self,
    ) -> tuple[
        int,
        int,
        numpy.typing.NDArray[numpy.int32],
        numpy.typing.NDArray[numpy.int32],
        numpy.typing.NDArray[numpy.int32],
    ]: ...
    def __init__(
        self,
        nlev: typing.SupportsInt | typing.SupportsIndex,
        k: typing.SupportsInt | typing.SupportsIndex,
        theta_index: typing.Annotated[numpy.typing.ArrayLike, numpy.int32],
        theta_row: typing.Annotated[numpy.typing.ArrayLike, numpy.int32],
        theta_col: typing.Annotated[numpy.typing.ArrayLike, numpy.int32],
    ) -> None: ...
    def __setstate__(self, arg0: tuple) -> None: ...
    @property
    def k(self) -> int: ...
    @property
    def nlev(self) -> int: ...
    @property
    def theta_col(self) -> numpy.typing.NDArray[numpy.int32]: ...
    @property
    def theta_index(self) -> numpy.typing.NDArray[numpy.int32]: ...
    @property
    def theta_row(self) -> numpy.typing.NDArray[numpy.int32]: ...

class Layout:
    """
    The grouping factors (engine order: most levels first) and the number of fixed-effects columns.
    """
    def __getstate__(self) -> tuple[list[FactorLayout], int]: ...
    def __init__(
        self, factors: collections.abc.Sequence[FactorLayout], p: typing.SupportsInt | typing.SupportsIndex
    ) -> None: ...
    def __setstate__(self, arg0: tuple) -> None: ...
    @property
    def factors(self) -> list[FactorLayout]: ...
    @property
    def ntheta(self) -> int: ...
    @property
    def p(self) -> int: ...

class CrossProducts:
    """
    The cross-products A = [Z X y]'[Z X y] of a model's rows, every entry summed in double-double (a value and the exact remainder of its rounding), so that the rounded A does not depend on how the rows were split or ordered (but for sums that cancel almost exactly). Starts empty; add_rows adds rows, add adds another model's cross-products.
    """
    def __add__(self, other: CrossProducts) -> CrossProducts:
        """
        The sum of two sets of cross-products of the same layout, as a new object.
        """
    def __getstate__(self) -> tuple: ...
    def __init__(self, layout: Layout) -> None: ...
    def __setstate__(self, arg0: tuple) -> None: ...
    def __sub__(self, other: CrossProducts) -> CrossProducts:
        """
        The difference of two sets of cross-products of the same layout, as a new object (see subtract); this one may be frozen (a model's).
        """
    def add(self, other: CrossProducts) -> None:
        """
        Add another set of cross-products of the same layout (their patterns merged).
        """
    def add_rows(
        self,
        y: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
        x: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
        codes: collections.abc.Sequence[numpy.ndarray],
        z: collections.abc.Sequence[typing.Annotated[numpy.typing.ArrayLike, numpy.float64]],
        weights: typing.Annotated[numpy.typing.ArrayLike, numpy.float64] | None = None,
        threads: typing.Any = None,
    ) -> None:
        """
        Add rows: y (n,), x (n, p), per factor (engine order) codes int32 (n,) in [0, nlev) and random-effects columns z (n, k); with weights (n,) (finite, >= 0), row i's products are multiplied by weights[i]. The rows are summed on up to `threads` threads (None: os.cpu_count()): one factor's many rows in chunks, several factors' block rows of A in passes of their own; the sums do not depend on the count.
        """
    def column_sumsq(self) -> numpy.typing.NDArray[numpy.float64]:
        """
        Sums of squares of the model's columns (A's diagonal): each factor's random-effects columns (engine order), then X's.
        """
    def constant_within_levels(
        self,
        f: typing.SupportsInt | typing.SupportsIndex,
        intercept: typing.SupportsInt | typing.SupportsIndex,
        col: typing.SupportsInt | typing.SupportsIndex,
        rel_tol: typing.SupportsFloat | typing.SupportsIndex = 1e-10,
    ) -> bool:
        """
        Whether factor f's random-effects column col is constant within every level: its within-level sum of squares (per level, sum of squares less sum^2 / count, count from the intercept column; in double-double) is at most rel_tol times its sum of squares about the overall mean, plus the rounding of the rows' squares.
        """
    def factor_crossprod(self, f: typing.SupportsInt | typing.SupportsIndex) -> numpy.typing.NDArray[numpy.float64]:
        """
        Grouping factor f's k x k block of Z'Z summed over its levels: with an intercept column i, row i holds the columns' sums and the diagonal their sums of squares.
        """
    def fixed_crossprod(self) -> numpy.typing.NDArray[numpy.float64]:
        """
        [X y]'[X y], (p + 1) x (p + 1).
        """
    def freeze(self) -> None:
        """
        Make these cross-products final: add_rows and add raise from now on (a model freezes its own).
        """
    def independent_fixed(self, tol: typing.SupportsFloat | typing.SupportsIndex = 1e-07) -> list[int]:
        """
        Indices of the fixed-effects columns kept when columns aliased by earlier ones are dropped (R's qr rule with tolerance tol: a column goes when its part not explained by the kept earlier columns has relative norm below tol).
        """
    def scaled(
        self,
        zscale: collections.abc.Sequence[collections.abc.Sequence[typing.SupportsFloat | typing.SupportsIndex]],
        xscale: collections.abc.Sequence[typing.SupportsFloat | typing.SupportsIndex],
    ) -> CrossProducts:
        """
        The cross-products of the rows with each factor's random-effects column a divided by zscale[f][a] and fixed-effects column m by xscale[m].
        """
    def select_fixed(self, keep: collections.abc.Sequence[typing.SupportsInt | typing.SupportsIndex]) -> CrossProducts:
        """
        The cross-products with only the fixed-effects columns keep (ascending indices).
        """
    def subtract(self, other: CrossProducts) -> None:
        """
        Subtract the cross-products of some of the rows already added (same layout, at most as many rows), in double-double: what is left is A of the other rows (a level left without rows has zero blocks). nobs and sum_log_weights follow; response_range is not narrowed.
        """
    @property
    def frozen(self) -> bool:
        """
        Whether rows can no longer be added.
        """
    @property
    def layout(self) -> Layout: ...
    @property
    def nobs(self) -> int:
        """
        Number of rows added.
        """
    @property
    def response_range(self) -> tuple[float, float]:
        """
        (smallest, largest) response value added.
        """
    @property
    def sum_log_weights(self) -> float:
        """
        Sum of log(weight) over the rows added with weights (0 without weights), in double-double: the same rounded sum however the rows were split into batches (but for sums that cancel to within ~2^-106 of their terms' size).
        """

class Criterion:
    """
    The parts of the factor L(theta) the criterion needs, and the criterion from them (docs/design.md, section 1): the one place its formula is written.
    """
    def __init__(
        self,
        ldL2: typing.SupportsFloat | typing.SupportsIndex,
        ldRX2: typing.SupportsFloat | typing.SupportsIndex,
        pwrss: typing.SupportsFloat | typing.SupportsIndex,
        n: typing.SupportsInt | typing.SupportsIndex,
        p: typing.SupportsInt | typing.SupportsIndex,
    ) -> None: ...
    def __repr__(self) -> str: ...
    def at_sigma(self, sigma: typing.SupportsFloat | typing.SupportsIndex, reml: bool) -> float:
        """
        The REML criterion or -2 log-likelihood at residual SD sigma, beta profiled out.
        """
    def profiled(self, reml: bool) -> float:
        """
        The REML criterion (reml) or -2 log-likelihood, sigma and beta profiled out.
        """
    def sigma(self, reml: bool) -> float:
        """
        The residual SD at which `profiled` is attained.
        """
    @property
    def ldL2(self) -> float:
        """
        log |L_theta|^2
        """
    @property
    def ldRX2(self) -> float:
        """
        log |R_X|^2
        """
    @property
    def n(self) -> int:
        """
        observations
        """
    @property
    def p(self) -> int:
        """
        fixed-effects columns
        """
    @property
    def pwrss(self) -> float:
        """
        penalised residual sum of squares
        """

class Estimates:
    """
    What a fit reports at theta, from one update of L.
    """
    @property
    def b(self) -> numpy.typing.NDArray[numpy.float64]:
        """
        Random effects b = Lambda(theta) u, per factor (engine order), level by level.
        """
    @property
    def beta(self) -> numpy.typing.NDArray[numpy.float64]:
        """
        Fixed effects.
        """
    @property
    def criterion(self) -> Criterion: ...
    @property
    def rx_inverse_crossprod(self) -> numpy.typing.NDArray[numpy.float64]:
        """
        (R_X'R_X)^{-1}: vcov(beta) / sigma^2.
        """

class BlockInfo:
    """
    The type and size of one block of the Cholesky factor L.
    """
    def __repr__(self) -> str: ...
    def __str__(self) -> str: ...
    @property
    def k(self) -> int:
        """
        size of each block of a block-diagonal block (else 0)
        """
    @property
    def kind(self) -> str:
        """
        'Diagonal', 'BlkDiag', 'Sparse' or 'Dense'
        """
    @property
    def ncol(self) -> int: ...
    @property
    def nlev(self) -> int:
        """
        levels of a block-diagonal block (else 0)
        """
    @property
    def nnz_blocks(self) -> int:
        """
        stored blocks of a sparse block (else 0)
        """
    @property
    def nrow(self) -> int: ...

class Engine:
    """
    The blocked Cholesky factor L(theta) of a model's cross-products (taken as they are when the engine is formed).
    """
    def __init__(
        self,
        cross_products: CrossProducts,
        dense_threshold: typing.SupportsFloat | typing.SupportsIndex = 0.1,
        threads: typing.Any = None,
        like: typing.Any = None,
        reorder: bool = True,
    ) -> None:
        """
        threads: the threads the large kernels of an update or gradient may use (None: os.cpu_count()); results are bitwise the same for every count, and small designs stay on one thread. like: an engine of cross-products with the same pattern (a model's second engine), whose choice for each dense block (a fill-reducing order of its levels, or none) this one takes rather than making it again (where its pattern differs, this one makes its own). reorder: False keeps every factor's levels in their own order (level_order empty; for comparisons).
        """
    def condcov(self) -> list:
        """
        Per factor, (nlev, k, k) diagonal blocks of (L_ZZ L_ZZ')^{-1} at the current theta.
        """
    def dense(self, of_l: bool) -> numpy.typing.NDArray[numpy.float64]:
        """
        Lower triangle of L (of_l=True) or A as a dense matrix, a reordered factor's levels at the engine's level positions (level_order); for small designs.
        """
    def describe(self) -> list[list[BlockInfo]]:
        """
        The block types of L: per row of blocks, a BlockInfo per block.
        """
    def estimates(self, theta: typing.Annotated[numpy.typing.ArrayLike, numpy.float64]) -> Estimates:
        """
        Update L at theta and return every estimate a fit reports.
        """
    def gradient(
        self, theta: typing.Annotated[numpy.typing.ArrayLike, numpy.float64], reml: bool
    ) -> tuple[float, numpy.typing.NDArray[numpy.float64]]:
        """
        (criterion, gradient): the REML criterion or -2 log-likelihood at theta and its analytic gradient in theta, from one update of L (docs/design.md, section 3a).
        """
    def gradient_parts(
        self, theta: typing.Annotated[numpy.typing.ArrayLike, numpy.float64], reml: bool
    ) -> tuple[
        Criterion,
        numpy.typing.NDArray[numpy.float64],
        numpy.typing.NDArray[numpy.float64],
        numpy.typing.NDArray[numpy.float64],
    ]:
        """
        (criterion, d log|L|^2, d log|R_X|^2 (0 unless reml), d pwrss): the parts of the criterion at theta and their derivatives in theta, from one update of L (the deviance at a given sigma is ldL2 [+ ldRX2] + pwrss / sigma^2 + dof log(2 pi sigma^2)).
        """
    def hessian(
        self, theta: typing.Annotated[numpy.typing.ArrayLike, numpy.float64], reml: bool
    ) -> tuple[float, numpy.typing.NDArray[numpy.float64], numpy.typing.NDArray[numpy.float64]]:
        """
        (criterion, gradient, Hessian): as gradient (the gradient to rounding: its level sums are chunked otherwise), and the criterion's analytic Hessian in theta (ntheta x ntheta), from one update of L; models with one grouping factor only (has_hessian), else InvalidInput.
        """
    def hold_workspace(self) -> None:
        """
        Keep the gradients' selected inverse (blocks about the size of L's) from call to call until release_workspace(): a fit's optimiser, polish and check call the gradient many times, and allocating a large inverse each time costs up to a fifth of a gradient. Holds nest.
        """
    def inverse_at_rows(self, idx: numpy.ndarray) -> numpy.typing.NDArray[numpy.float64]:
        """
        S = (L_ZZ L_ZZ')^{-1} at each row's random-effects columns: idx (n, r) the columns (engine order of the factors, the model's of their levels; the t-th of every row in one factor), returns (n, r, r). From the selected inversion of the current factor (the GLMM's Laplace gradient with several grouping factors): a pair of columns off the factor's pattern is InvalidInputError (a reordered factor's dense block: off its factor's structure).
        """
    def moment_start(
        self, intercept_col: collections.abc.Sequence[typing.SupportsInt | typing.SupportsIndex]
    ) -> numpy.typing.NDArray[numpy.float64]:
        """
        Starting theta from moments of the OLS residuals, from the blocks of A alone (intercept_col: per factor, the index of its intercept column or -1; docs/design.md, section 6). L is left as it was.
        """
    def objective(self, theta: typing.Annotated[numpy.typing.ArrayLike, numpy.float64], reml: bool) -> float:
        """
        The REML criterion or -2 log-likelihood at theta (updates L).
        """
    def release_workspace(self) -> None:
        """
        End one hold_workspace(); the last one frees an inverse larger than 2**21 values (smaller ones are always kept). Without a hold, only that trim.
        """
    def rx_inverse_crossprod(self) -> numpy.typing.NDArray[numpy.float64]:
        """
        (R_X'R_X)^{-1} (vcov(beta) / sigma^2, p x p) at the current theta.
        """
    def solve(self) -> tuple[numpy.typing.NDArray[numpy.float64], numpy.typing.NDArray[numpy.float64]]:
        """
        (beta, u) at the current theta: fixed effects and spherical random effects (engine order).
        """
    def solve_zz(
        self, rhs: typing.Annotated[numpy.typing.ArrayLike, numpy.float64]
    ) -> numpy.typing.NDArray[numpy.float64]:
        """
        (L_ZZ L_ZZ')^{-1} rhs for rhs (q, m), at the current factor.
        """
    def update(self, theta: typing.Annotated[numpy.typing.ArrayLike, numpy.float64]) -> Criterion:
        """
        Update L at theta (at the last update's theta, bit for bit, L is kept); returns the parts of the criterion.
        """
    def update_flops(self) -> float:
        """
        Rough floating-point work of one update(theta), from the block types (chooses the optimiser).
        """
    @property
    def has_hessian(self) -> bool:
        """
        Whether hessian() covers this model: one grouping factor.
        """
    @property
    def level_order(self) -> list:
        """
        Per factor (engine order), the model's level at each of the engine's level positions where the engine reordered the factor's levels (a dense diagonal block whose factor a fill-reducing order makes sparse), else an empty array. The engine's other methods take and give every factor's levels in the model's order; dense() gives them at the engine's level positions.
        """
    @property
    def nobs(self) -> int:
        """
        Number of observations.
        """
    @property
    def ntheta(self) -> int:
        """
        Number of covariance parameters.
        """
    @property
    def p(self) -> int:
        """
        Number of fixed-effects columns.
        """
    @property
    def single_threaded_blas(self) -> bool:
        """
        Whether updates hold BLAS to one thread: always (large dense blocks are factored and inverted on the core's pool).
        """
    @property
    def threads(self) -> int:
        """
        Threads the large kernels of an update or gradient may use (set None for os.cpu_count()).
        """
    @threads.setter
    def threads(self, arg1: typing.Any) -> None: ...
    @property
    def workspace_values(self) -> int:
        """
        The values the gradients' selected inverse holds now.
        """

class LaplaceStage:
    """
    A GLMM's Laplace criterion as one stage of lme4's fit sees it (GeneralizedLinearMixedModel.laplace): stage 1 (x=None) over theta with beta from the joint PIRLS started at eta_start, stage 2 over v with (theta, beta) = shift + scale v and the modes-only PIRLS (X beta added to the offset). Each evaluation starts from the modes of the previous finite one, and from the family's start when that does not converge; +inf where PIRLS finds no valid modes. Call it, or minimise it with bobyqa (NLopt from C++).
    """
    def __call__(self, v: typing.Annotated[numpy.typing.ArrayLike, numpy.float64]) -> float:
        """
        -2 log-likelihood by the Laplace approximation at v (+inf: no valid modes).
        """
    def __init__(
        self,
        rows: typing.Any,
        engine: typing.Any,
        family: str,
        link: str,
        family_parameter: typing.SupportsFloat | typing.SupportsIndex,
        y: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
        prior: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
        offset: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
        x: typing.Annotated[numpy.typing.ArrayLike, numpy.float64] | None,
        eta_start: typing.Annotated[numpy.typing.ArrayLike, numpy.float64] | None,
        ntheta: typing.SupportsInt | typing.SupportsIndex,
        aic_less_deviance: typing.SupportsFloat | typing.SupportsIndex,
        tol: typing.SupportsFloat | typing.SupportsIndex,
        maxit: typing.SupportsInt | typing.SupportsIndex,
        shift: typing.Annotated[numpy.typing.ArrayLike, numpy.float64] | None = None,
        scale: typing.Annotated[numpy.typing.ArrayLike, numpy.float64] | None = None,
    ) -> None: ...
    def bobyqa(
        self,
        x0: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
        lower: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
        *,
        algorithm: typing.SupportsInt | typing.SupportsIndex,
        xtol_abs: typing.SupportsFloat | typing.SupportsIndex,
        ftol_abs: typing.SupportsFloat | typing.SupportsIndex,
        maxeval: typing.SupportsInt | typing.SupportsIndex,
        step: typing.Annotated[numpy.typing.ArrayLike, numpy.float64] | None = None,
    ) -> tuple[numpy.typing.NDArray[numpy.float64], float, int, int]:
        """
        Minimise over v >= lower with NLopt (needs load_nlopt) called from C++: (v, criterion, evaluations, nlopt result code), the best point seen when the optimiser stops somewhere worse.
        """
    @property
    def nparams(self) -> int:
        """
        The length of v.
        """
    @property
    def pirls_calls(self) -> int:
        """
        PIRLS calls so far.
        """
    @property
    def pirls_iterations(self) -> int:
        """
        PIRLS iterations so far, over all calls.
        """
    @property
    def warm_beta(self) -> typing.Any:
        """
        Stage 1: the beta the next evaluation starts from (None: the family's start).
        """
    @warm_beta.setter
    def warm_beta(self, arg1: typing.Annotated[numpy.typing.ArrayLike, numpy.float64] | None) -> None: ...
    @property
    def warm_u(self) -> typing.Any:
        """
        The modes the next evaluation starts from (None: zeros).
        """
    @warm_u.setter
    def warm_u(self, arg1: typing.Annotated[numpy.typing.ArrayLike, numpy.float64] | None) -> None: ...

class WorkingRows:
    """
    A GLMM's rows held for PIRLS: fill() re-forms an engine's cross-products for new working weights and response in one pass (the blocks' pattern found once).
    """
    def __init__(
        self,
        layout: Layout,
        x: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
        codes: collections.abc.Sequence[typing.Annotated[numpy.typing.ArrayLike, numpy.int32]],
        z: collections.abc.Sequence[typing.Annotated[numpy.typing.ArrayLike, numpy.float64]],
    ) -> None: ...
    def fill(
        self,
        engine: Engine,
        y: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
        w: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    ) -> None:
        """
        Give the engine A of these rows with response y and weights w (>= 0); call engine.update() next.
        """
    def fill_working(
        self,
        engine: Engine,
        family: str,
        link: str,
        family_parameter: typing.SupportsFloat | typing.SupportsIndex,
        eta: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
        y: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
        prior: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
        offset: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    ) -> bool:
        """
        fill() with PIRLS' working weights and response at the linear predictor eta (the weights of the modes for a factor there); False, the engine untouched, where one is not finite.
        """
    def modes_only(self, layout: Layout) -> WorkingRows:
        """
        The same rows without X, for PIRLS with beta held: layout has these grouping factors and no fixed effects. Shares these rows' codes and random-effects columns and PIRLS' workspace (no copies).
        """
    def pattern(self) -> CrossProducts:
        """
        The unweighted cross-products of the rows (response 0): form the engine from them.
        """
    def pirls(
        self,
        engine: Engine,
        family: str,
        link: str,
        theta: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
        y: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
        prior: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
        offset: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
        eta0: typing.Annotated[numpy.typing.ArrayLike, numpy.float64] | None = None,
        beta0: typing.Annotated[numpy.typing.ArrayLike, numpy.float64] | None = None,
        u0: typing.Annotated[numpy.typing.ArrayLike, numpy.float64] | None = None,
        tol: typing.SupportsFloat | typing.SupportsIndex = 1e-09,
        maxit: typing.SupportsInt | typing.SupportsIndex = 100,
        family_parameter: typing.SupportsFloat | typing.SupportsIndex = 0.0,
        x: typing.Annotated[numpy.typing.ArrayLike, numpy.float64] | None = None,
        beta_fixed: typing.Annotated[numpy.typing.ArrayLike, numpy.float64] | None = None,
    ) -> tuple[
        numpy.typing.NDArray[numpy.float64],
        numpy.typing.NDArray[numpy.float64],
        numpy.typing.NDArray[numpy.float64],
        numpy.typing.NDArray[numpy.float64],
        float,
        float,
        float,
        int,
        bool,
    ]:
        """
        PIRLS at theta to convergence: (beta, u, eta, mu, sum of deviance residuals, |u|^2, log|L|^2, iterations, converged). Starts from eta0 (beta = u = 0), else from beta0 and u0 (zeros when not given). family_parameter: the negative binomial's theta (family 'negative.binomial'). With x (n, p) and beta_fixed (p,), on the modes-only rows: beta held, the offset taken as offset + x beta_fixed.
        """
    @property
    def nobs(self) -> int:
        """
        Number of rows.
        """

def blas_threads() -> tuple[bool, int, int, int]:
    """
    (thread control found, BLAS's thread count now, factorisations run pinned to one thread, the largest thread count seen while pinned).
    """

def bobyqa(
    engine: Engine,
    x0: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    lower: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    reml: bool,
    *,
    algorithm: typing.SupportsInt | typing.SupportsIndex,
    xtol_abs: typing.SupportsFloat | typing.SupportsIndex,
    ftol_abs: typing.SupportsFloat | typing.SupportsIndex,
    maxeval: typing.SupportsInt | typing.SupportsIndex,
    step: typing.Annotated[numpy.typing.ArrayLike, numpy.float64] | None = None,
) -> tuple[numpy.typing.NDArray[numpy.float64], float, int, int]:
    """
    Minimise the engine's criterion over theta >= lower with NLopt (algorithm: an nlopt_algorithm, e.g. nlopt.LN_BOBYQA) called from C++ (needs load_nlopt); returns (theta, criterion, evaluations, nlopt result code). The best point seen is returned when the optimiser stops somewhere worse.
    """

def derivative_check(
    engine: Engine,
    x: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    lower: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    fx: typing.SupportsFloat | typing.SupportsIndex,
    reml: bool,
    h: typing.SupportsFloat | typing.SupportsIndex = 0.0001,
) -> tuple[numpy.typing.NDArray[numpy.float64], numpy.typing.NDArray[numpy.float64]]:
    """
    lme4's derivative check at the optimum x (criterion fx), for the Hessian's diagonal only: finite-difference gradient and Hessian diagonal, central with step h, one-sided within h of a lower bound (gradient 0 when the criterion increases inwards; Hessian entry NaN). Leaves the engine's L at the last point evaluated.
    """

def laplace_crossed_rows(
    idx: numpy.ndarray,
    vals: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    parts: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    s_rows: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    w: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    w1: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    d1: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    x: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    u: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
) -> tuple[
    numpy.typing.NDArray[numpy.float64],
    numpy.typing.NDArray[numpy.float64],
    numpy.typing.NDArray[numpy.float64],
    numpy.typing.NDArray[numpy.float64],
    numpy.typing.NDArray[numpy.float64],
]:
    """
    The Laplace gradient's row sums with several grouping factors: row i of A = Z Lambda has the values vals[i] at the columns idx[i], those of Z dLambda/dtheta_k the values parts[k, i], and S = (LL')^-1 at its columns is s_rows[i]. With h_i = a_i'S a_i and dau_i = da_i'u: returns (A'(w1 h) (q,), A'W X (q, p), X'(d1 + w1 h) (p,), per theta entry sum d1 dau + 2 w a'S da + w1 h dau (ntheta,), A'(w dau) + dA'd1 / 2 (q, ntheta)).
    """

def laplace_level_sums(
    codes: numpy.ndarray,
    z: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    x: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    mu: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    y: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    prior: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    family: str,
    nlev: typing.SupportsInt | typing.SupportsIndex,
    threads: typing.Any = None,
) -> tuple[
    numpy.typing.NDArray[numpy.float64], numpy.typing.NDArray[numpy.float64], numpy.typing.NDArray[numpy.float64]
]:
    """
    The Laplace gradient's first pass (one grouping factor, canonical link: family 'poisson' or 'binomial'): per level g_j = sum d_i z_i with d_i = -2 prior_i (y_i - mu_i), C_j = sum w_i z_i z_i' and G_j = sum w_i z_i x_i' with w_i = prior_i V(mu_i); returns (g (nlev, k), C (nlev, k, k), G (nlev, k, p)). threads: the core's threads (None: os.cpu_count()); the sums are the same for every count.
    """

def laplace_row_terms(
    codes: numpy.ndarray,
    z: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    x: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    mu: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    y: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    prior: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    family: str,
    amat: typing.Annotated[numpy.typing.ArrayLike, numpy.float64],
    threads: typing.Any = None,
) -> tuple[numpy.typing.NDArray[numpy.float64], numpy.typing.NDArray[numpy.float64]]:
    """
    The Laplace gradient's second pass: with h_i = z_i'A_j z_i and w1_i = w_i V'(mu_i), per level qv_j = sum w1_i h_i z_i (nlev, k), and sum x_i (d_i + w1_i h_i) (p,). threads: as laplace_level_sums.
    """

def load_blas_threads(path: str) -> str:
    """
    Find OpenBLAS's thread control in the library at path (already loaded by scipy): '' when found, else why not. The core then runs BLAS on one thread while it factors.
    """

def load_nlopt(path: str) -> str:
    """
    Look NLopt's C API up in the shared library at path (the nlopt package's _nlopt extension) so that bobyqa can run; returns '' on success, else the reason it cannot.
    """

def string_codes(
    offsets: numpy.ndarray, bytes: numpy.ndarray
) -> tuple[numpy.typing.NDArray[numpy.int32], numpy.typing.NDArray[numpy.int64]]:
    """
    Codes of n strings held as Arrow holds them (n + 1 offsets, int32 or int64, into a uint8 buffer) by hashing: (codes, first), codes[i] (int32) the rank of string i among the distinct strings in byte order (UTF-8's: code points' order), first[c] (int64) the first row holding the c-th. Raises InvalidInputError for offsets that decrease or leave the buffer.
    """

def thread_pool_workers() -> int:
    """
    Worker threads the core's pool has started so far (it starts them when a large kernel first runs on more than one thread).
    """
