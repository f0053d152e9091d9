"""Identifiability checks of a model, run once, on its cross-products A = [Z X y]'[Z X y] (so they
are the same for rows from a data frame, arrays and streamed chunks): a response with no variation,
fixed-effects columns aliased by earlier ones (dropped, as lme4 does), grouping factors with too few
levels, and random slopes that cannot vary between levels.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from . import _core
from .exceptions import DataError, MixedModelsWarning, warn
from .structure import ModelStructure

__all__ = ["check_random_effects", "check_scales", "check_term_size", "identifiable_fixed"]

# Sums of squares outside these bounds have lost precision to underflow (squares of values below
# ~1e-154 are subnormal or zero) or are near overflow: the column must be rescaled first.
SUMSQ_MIN = 1e-250
SUMSQ_MAX = 1e250


def identifiable_fixed(
    structure: ModelStructure, cross_products: _core.CrossProducts, offset: bool = False
) -> NDArray[np.intp]:
    """The fixed-effects columns to keep, after checking that the response varies (less the offset,
    where ``offset`` says the rows had one: the message says so); warns (as lme4)
    naming the columns dropped because earlier ones alias them (R's qr rule with tolerance 1e-7:
    a column goes when its part not explained by the kept earlier columns has relative norm below
    1e-7; `_core.CrossProducts.independent_fixed`)."""
    lo, hi = cross_products.response_range
    if lo == hi:
        less = " less the offset" if offset else ""  # (the cross-products are of y - offset)
        raise DataError(f"the response {structure.response!r}{less} is constant; there is no variation to model")
    yy = float(cross_products.fixed_crossprod()[-1, -1])
    if not SUMSQ_MIN <= yy <= SUMSQ_MAX:
        raise DataError(_scale_message(f"the response {structure.response!r}", yy, cross_products.nobs))
    p = structure.p
    keep = np.array(cross_products.independent_fixed(1e-7), dtype=np.intp)
    if len(keep) < p:
        kept = set(keep.tolist())
        dropped = [n for j, n in enumerate(structure.fixed_names) if j not in kept]
        warn(
            f"fixed-effect model matrix is rank deficient so dropping {len(dropped)} column"
            f"{'s' if len(dropped) > 1 else ''}: {', '.join(dropped)}",
            MixedModelsWarning,
        )
    return keep


def _scale_message(what: str, sumsq: float, n: int) -> str:
    if not np.isfinite(sumsq):  # the squares overflowed (inf, or inf - inf in the double-double sums)
        return (
            f"{what} has values too large for double-precision sums of squares (the sum of their "
            "squares overflows): rescale it, e.g. to standard units"
        )
    rms = np.sqrt(sumsq / max(n, 1)) if sumsq > 0 else 0.0
    size = "too small" if sumsq < SUMSQ_MIN else "too large"
    return (
        f"{what} has values of size {rms:.1e} (root mean square), {size} for double-precision sums of squares "
        "(below ~1e-125 or above ~1e125 they underflow or overflow): rescale it, e.g. to standard units"
    )


def _nonzero(column: NDArray[np.float64], weights: NDArray[np.float64] | None) -> bool:
    """Whether a column has a non-zero value in a row of positive weight."""
    return bool(np.any(column != 0.0) if weights is None else np.any((column != 0.0) & (weights > 0.0)))


def check_scales(
    structure: ModelStructure,
    cross_products: _core.CrossProducts,
    columns: Callable[[int], NDArray[np.float64]] | None = None,
    weights: NDArray[np.float64] | None = None,
) -> None:
    """Every random-effects column must be non-zero, and every column's sum of squares within what
    double precision holds (`SUMSQ_MIN`, `SUMSQ_MAX`); a fixed-effects column of zeros (in the rows
    of positive weight) is left to `identifiable_fixed` (aliased, dropped). ``columns`` (column j of
    [Z X] as the cross-products order them) and ``weights`` (the prior weights) where the rows are
    held: they tell a fixed-effects column of zeros from one whose values are too small to square
    (below ~1e-154: its sum of squares is 0 too), refused, and a column out of range only by its
    weights from one out of range itself (the message then names the weights); streamed rows are not
    held, and such a fixed-effects column is dropped there as aliased.

    Examples
    --------
    >>> import mixedmodels as mm
    >>> d = mm.datasets.load("sleepstudy")
    >>> mm.LinearMixedModel.from_formula("Reaction ~ Days + (0 + I(Days * 1e-200) | g)", d.assign(g=d.Subject))
    Traceback (most recent call last):
    ...
    mixedmodels.exceptions.DataError: the random-effects column 'I(Days * 1e-200)' in (0 + I(Days * 1e-200) | g) is ...
    """
    sumsq = cross_products.column_sumsq().tolist()
    nz = len(sumsq) - structure.p
    bad = [
        j
        for j, v in enumerate(sumsq)
        if (v == 0.0 and (j < nz or (columns is not None and _nonzero(columns(j), weights))))
        or (v != 0.0 and not SUMSQ_MIN <= v <= SUMSQ_MAX)
    ]
    if not bad:
        return
    names: list[str] = []  # named only when one is wrong
    for f in structure.factors:
        for ti in f.terms:  # a factor's columns are its terms' columns in turn
            term = structure.terms[ti]
            names.extend(f"the random-effects column {c!r} in {term.source}" for c in term.columns)
    names.extend(f"the fixed-effects column {c!r}" for c in structure.fixed_names)
    j = bad[0]
    if sumsq[j] == 0.0:
        raise DataError(
            f"{names[j]} is zero in every row, or its values are too small (below ~1e-154) to square in "
            "double precision"
            if j < nz
            else f"{names[j]} has values too small (below ~1e-154) to square in double precision: rescale it, "
            "e.g. to standard units"
        )
    message = _scale_message(names[j], sumsq[j], cross_products.nobs)
    if weights is not None and columns is not None:
        u = columns(j)
        with np.errstate(over="ignore", under="ignore"):
            plain = float(u @ u)
        if SUMSQ_MIN <= plain <= SUMSQ_MAX:  # in range unweighted: the weights take it out
            pos = weights[weights > 0]
            message = (
                f"{names[j]} has weighted sums of squares out of double precision's range only by its weights "
                f"(from {pos.min():.1e} to {pos.max():.1e}): rescale the weights, e.g. divide them by their mean "
                "(a common factor of the weights moves only sigma)"
            )
    raise DataError(message)


def check_random_effects(structure: ModelStructure, cross_products: _core.CrossProducts, allow_n: bool = False) -> None:
    """lme4's checks of each term's levels against the observations, then: a slope column constant
    within every level of its grouping factor, next to an intercept in the same term, cannot vary
    by level (`_core.CrossProducts.constant_within_levels`: from the factor's diagonal block of A,
    each level's count, sum and sum of squares)."""
    nobs = cross_products.nobs
    for t in structure.terms:
        check_term_size(t.group, t.source, structure.factor(t.group).nlev, t.k, nobs, allow_n)
    _warn_many_parameters(structure)
    for fi, f in enumerate(structure.factors):
        _check_separate_constant_slopes(structure, cross_products, fi)
        for ti, off in zip(f.terms, f.term_offsets, strict=True):
            term = structure.terms[ti]
            if "(Intercept)" not in term.columns:
                continue
            i0 = off + term.columns.index("(Intercept)")
            for j, name in enumerate(term.columns):
                if off + j != i0 and cross_products.constant_within_levels(fi, i0, off + j, 1e-10):
                    raise DataError(
                        f"the random slope on {name!r} in {term.source} is constant within every level of "
                        f"{term.group!r}, so its effect cannot vary between levels: keep {name!r} in the fixed part "
                        "and drop it from the random-effects term"
                    )


# a term with more covariance parameters than this (a correlated slope on a factor of 9 levels: 45)
# makes a derivative-free search over them slow (minutes at 78), and is rarely identifiable
MANY_TERM_PARAMETERS = 36


def _warn_many_parameters(structure: ModelStructure) -> None:
    """A `MixedModelsWarning` for each term with more than `MANY_TERM_PARAMETERS` covariance
    parameters (``(k | g)`` with k a factor of many levels), naming the cheaper models R users fit
    in its place, before the search that could take minutes starts."""
    for t in structure.terms:
        count = t.k * (t.k + 1) // 2
        if count > MANY_TERM_PARAMETERS:
            cheaper = f"(1 | {t.group}) + (1 | {t.group}:<factor>)" + (
                "" if "||" in t.source else " or a term with '||' (independent columns)"
            )
            warn(
                f"{t.source} has a {t.k} x {t.k} covariance matrix, {count} parameters to estimate: the fit may "
                f"take minutes and is rarely identifiable; {cheaper} has far fewer",
                MixedModelsWarning,
            )


def _check_separate_constant_slopes(structure: ModelStructure, cross_products: _core.CrossProducts, fi: int) -> None:
    """A slope column with the same value in every row, in a term without an intercept while another
    term of the factor has one (``(xc || g)`` with xc constant): its random effect is the intercept's
    times a constant, so the two variances cannot be told apart."""
    f = structure.factors[fi]
    where = [
        (off + structure.terms[ti].columns.index("(Intercept)"), structure.terms[ti].source)
        for ti, off in zip(f.terms, f.term_offsets, strict=True)
        if "(Intercept)" in structure.terms[ti].columns
    ]
    if not where:
        return
    i0, intercept_term = where[0]
    a = cross_products.factor_crossprod(fi)
    n = float(a[i0, i0])
    for ti, off in zip(f.terms, f.term_offsets, strict=True):
        term = structure.terms[ti]
        if "(Intercept)" in term.columns:
            continue
        for j, name in enumerate(term.columns):
            c = off + j
            ss, sx = float(a[c, c]), float(a[i0, c])
            # (its spread about the mean below the rounding of its sums: 1e-13 of its sum of squares)
            if n > 0 and ss > 0 and ss - sx * sx / n <= 1e-13 * ss:
                raise DataError(
                    f"the random slope on {name!r} in {term.source} has the same value ({sx / n:.6g}) in every row "
                    "(to the precision of its sums of squares), "
                    f"so its random effect is a constant times the intercept's in {intercept_term} and the two "
                    "variances cannot be told apart: drop one of the terms"
                )


def check_term_size(group: str, source: str, nl: int, k: int, nobs: int, allow_n: bool = False) -> None:
    """lme4's checks of a term's levels and random effects against the number of observations
    (``allow_n``: as many as the observations is allowed, as lme4's glmer allows it: an
    observation-level random effect of a binomial or Poisson model has no residual to confound).

    Examples
    --------
    >>> check_term_size("g", "(1 | g)", 1, 1, 10)
    Traceback (most recent call last):
    ...
    mixedmodels.exceptions.DataError: grouping factor 'g' in (1 | g) has 1 level; a random effect needs at least 2
    """
    if nl < 2:
        raise DataError(f"grouping factor {group!r} in {source} has {nl} level; a random effect needs at least 2")
    if nl > nobs or (nl == nobs and not allow_n):
        raise DataError(
            f"grouping factor {group!r} in {source} has {nl} levels for {nobs} observations; "
            "the number of levels must be less than the number of observations"
        )
    if nl * k > nobs or (nl * k == nobs and not allow_n):
        raise DataError(
            f"the term {source} has {nl * k} random effects ({nl} levels x {k} columns) for {nobs} observations; "
            "they and the residual variance are not identifiable"
        )
