"""Linear mixed-effects models with lme4's formula language and a C++ blocked-Cholesky core.

>>> import mixedmodels as mm
>>> m = mm.lmer("Reaction ~ Days + (Days | Subject)", mm.datasets.load("sleepstudy"))
>>> m.fixef.round(2).tolist()
[251.41, 10.47]
"""

from . import exceptions  # noqa: I001, F401  (first: the core registers its exceptions under it)
from . import _core, datasets, families  # noqa: F401
from .design import GroupTerm
from .exceptions import (
    ArgumentError,
    ConvergenceWarning,
    CoreError,
    DataError,
    FormulaError,
    MixedModelsError,
    MixedModelsWarning,
    SingularFitWarning,
)
from .compare import anova
from .fit import fit_arrays, glmer, lmer
from .glmer_result import GlmerResult
from .lmlist import LmList, lmlist
from .model import LinearMixedModel
from .negbin import glmer_nb
from .results import LmerResult
from .updates import drop1

__version__ = "0.1.0"

__all__ = [
    "ArgumentError",
    "ConvergenceWarning",
    "CoreError",
    "DataError",
    "FormulaError",
    "GlmerResult",
    "GroupTerm",
    "LinearMixedModel",
    "LmList",
    "LmerResult",
    "MixedModelsError",
    "MixedModelsWarning",
    "SingularFitWarning",
    "anova",
    "datasets",
    "drop1",
    "families",
    "fit_arrays",
    "glmer",
    "glmer_nb",
    "lmer",
    "lmlist",
]
