"""Exceptions raised by mixedmodels. Every error the package raises derives from `MixedModelsError`."""

from __future__ import annotations


class MixedModelsError(Exception):
    """Base class of every error mixedmodels raises on purpose."""


class FormulaError(MixedModelsError, ValueError):
    """The formula cannot be parsed or names something the data does not have."""


class DataError(MixedModelsError, ValueError):
    """The data cannot be fitted with this formula (missing, constant, too few levels, ...)."""


class CoreError(MixedModelsError, RuntimeError):
    """An error from the C++ core; the specific classes live in `mixedmodels._core`."""


class MixedModelsWarning(UserWarning):
    """Base class of the warnings mixedmodels issues."""


class SingularFitWarning(MixedModelsWarning):
    """The fit is on the boundary: a variance is zero or a correlation is +-1."""


class ConvergenceWarning(MixedModelsWarning):
    """The optimiser stopped short of a verified optimum."""
