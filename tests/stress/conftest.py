"""The stress suite's session cache of outcomes (one fit and one brute-force search per design and
effort) and its summary at the end of the run."""

from __future__ import annotations

from collections import Counter

import pytest

from .designs import Design, degenerate_design, make_design
from .harness import Outcome, false_data_error, run_design
from .reference import DEFAULT_EFFORT, Effort


class OutcomeCache:
    """Outcomes by (kind, seed, effort), computed once per session."""

    def __init__(self) -> None:
        self.outcomes: dict[tuple[str, int, Effort], Outcome] = {}

    def get(self, seed: int, *, degenerate: bool = False, effort: Effort = DEFAULT_EFFORT) -> Outcome:
        """The outcome of the design of ``seed`` (a degenerate one when ``degenerate``)."""
        key = ("degenerate" if degenerate else "design", seed, effort)
        if key not in self.outcomes:
            design: Design = degenerate_design(seed) if degenerate else make_design(seed)
            self.outcomes[key] = run_design(design, effort)
        return self.outcomes[key]


CACHE = OutcomeCache()


@pytest.fixture(scope="session")
def outcomes() -> OutcomeCache:
    """The session's outcome cache."""
    return CACHE


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Counts of the outcomes seen: fits, converged, singular, DataErrors (genuine or not), failures."""
    if not CACHE.outcomes:
        return
    counts: Counter[str] = Counter()
    unique = {(kind, seed): out for (kind, seed, _effort), out in CACHE.outcomes.items()}
    for (kind, _seed), out in unique.items():
        counts[f"{kind}s"] += 1
        if out.error is not None:
            counts[f"{kind} DataError (identifiable design!)" if false_data_error(out) else f"{kind} DataError"] += 1
        elif out.fit is not None:
            counts[f"{kind} converged" if out.fit.converged else f"{kind} not converged (warned)"] += 1
            counts[f"{kind} singular"] += bool(out.fit.is_singular)
            counts[f"{kind} converged above a better point"] += out.claims_convergence_above_optimum
    terminalreporter.write_sep("-", "convergence stress suite")
    for key in sorted(counts):
        terminalreporter.write_line(f"{key}: {counts[key]}")
