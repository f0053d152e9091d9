"""Linear mixed-effects models with lme4's formula language and a C++ blocked-Cholesky core."""
from . import exceptions  # noqa: I001  (first: the core registers its exceptions under it)
from . import _core
