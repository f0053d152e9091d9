"""Run every python block of a docs source page and write the page with each block's real output
after it:  python docs/build_docs.py   (tests/test_docs.py checks the pages stay true)."""

from __future__ import annotations

import contextlib
import io
import re
import sys
from pathlib import Path

HERE = Path(__file__).parent
PAGES = ["tutorial_random_slopes", "from_lme4_and_statsmodels"]
BLOCK = re.compile(r"```python\n(.*?)```\n", re.S)


def run_blocks(blocks: list[str]) -> list[str]:
    """Execute the blocks in one namespace; return what each printed."""
    ns: dict = {"__name__": "__docs__"}
    outs = []
    for code in blocks:
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            exec(compile(code, "<docs>", "exec"), ns)  # noqa: S102 - our own documentation
        outs.append(buf.getvalue())
    return outs


def build(name: str) -> str:
    src = (HERE / f"{name}.src.md").read_text()
    blocks = BLOCK.findall(src)
    outs = iter(run_blocks(blocks))

    def add_output(m: re.Match) -> str:
        out = next(outs).rstrip("\n")
        return m.group(0) + (f"\n```text\n{out}\n```\n" if out else "")

    return BLOCK.sub(add_output, src)


def main() -> None:
    for name in sys.argv[1:] or PAGES:
        (HERE / f"{name}.md").write_text(build(name))
        print(f"wrote docs/{name}.md")


if __name__ == "__main__":
    main()
