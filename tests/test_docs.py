"""The documentation pages run, and every output they show is what the code prints now."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
PAIR = re.compile(r"```python\n(.*?)```\n(?:\n```text\n(.*?)\n```\n)?", re.S)


@pytest.mark.parametrize("page", ["tutorial_random_slopes", "from_lme4_and_statsmodels"])
def test_page_output_is_real(page):
    pytest.importorskip("matplotlib")
    import sys

    sys.path.insert(0, str(DOCS))
    from build_docs import run_blocks

    text = (DOCS / f"{page}.md").read_text()
    pairs = PAIR.findall(text)
    assert pairs, "no code blocks found"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        outs = run_blocks([code for code, _ in pairs])
    for (code, shown), out in zip(pairs, outs, strict=True):
        assert out.rstrip("\n") == shown, f"output of\n{code}\nchanged"
    src = (DOCS / f"{page}.src.md").read_text()
    assert PAIR.sub("", src) == PAIR.sub("", text), f"docs/{page}.md is not built from its source"
