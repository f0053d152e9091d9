"""Every example in the package's docstrings runs and prints what it says (on the installed package)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil
import warnings

import pytest

import mixedmodels

MODULES = sorted(
    m.name for m in pkgutil.walk_packages(mixedmodels.__path__, "mixedmodels.") if not m.name.endswith("__main__")
)


@pytest.mark.parametrize("name", ["mixedmodels", *MODULES])
def test_docstring_examples(name):
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mixedmodels.MixedModelsWarning)
        for test in finder.find(module, name):
            runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"


def test_public_functions_have_examples():
    missing = []
    for name in mixedmodels.__all__:
        obj = getattr(mixedmodels, name)
        if callable(obj) and not isinstance(obj, type) and "Examples" not in (obj.__doc__ or ""):
            missing.append(name)
    for meth in ("fitted", "residuals", "predict", "summary", "display", "block_description"):
        if "Examples" not in (getattr(mixedmodels.LmerResult, meth).__doc__ or ""):
            missing.append(f"LmerResult.{meth}")
    assert not missing
