"""Exceptions raised by mixedmodels. Every error the package raises derives from `MixedModelsError`."""

from __future__ import annotations

import inspect
import os
import warnings

_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep


class MixedModelsError(Exception):
    """Base class of every error mixedmodels raises on purpose."""


class FormulaError(MixedModelsError, ValueError):
    """The formula cannot be parsed or names something the data does not have."""


class DataError(MixedModelsError, ValueError):
    """The data cannot be fitted with this formula (missing, constant, too few levels, ...)."""


class ArgumentError(MixedModelsError, TypeError, ValueError):
    """An argument of a public function has the wrong type or value (``reml="False"``, an unknown
    optimiser option, ``maxeval=0``, a start with NaN, ...). It is both a `TypeError` and a
    `ValueError`, so either ``except`` clause catches it."""


class CoreError(MixedModelsError, RuntimeError):
    """An error from the C++ core; the specific classes live in `mixedmodels._core`."""


class MixedModelsWarning(UserWarning):
    """Base class of the warnings mixedmodels issues."""


class SingularFitWarning(MixedModelsWarning):
    """The fit is on the boundary: a variance is zero or a correlation is +-1."""


class ConvergenceWarning(MixedModelsWarning):
    """The optimiser stopped short of a verified optimum."""


class RefitWarning(MixedModelsWarning):
    """REML fits were refitted by maximum likelihood before a likelihood-ratio test."""


def warn(message: str, category: type[Warning]) -> None:
    """Issue a warning attributed to the first caller outside mixedmodels (the user's line, however
    deep in the package the warning arises), so that filters by module and the location shown point
    at the user's code.

    Examples
    --------
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as w:
    ...     warnings.simplefilter("always")
    ...     warn("a note", MixedModelsWarning)
    >>> w[0].message.args[0], w[0].category.__name__
    ('a note', 'MixedModelsWarning')
    """
    frame = inspect.currentframe()
    caller = frame.f_back if frame is not None else None  # stacklevel 2: warn's caller
    level = 2
    while caller is not None and os.path.abspath(caller.f_code.co_filename).startswith(_PACKAGE):
        caller = caller.f_back
        level += 1
    del frame
    warnings.warn(message, category, stacklevel=level)
