"""Fit a stress design, find its brute-force optimum, and describe the outcome: the pieces the
stress tests and the failure report share."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

import mixedmodels as mm
from mixedmodels.model import Fit

from .dense import dense_objective
from .designs import FAMILIES, Design, true_theta, unidentifiable_reason
from .reference import DEFAULT_EFFORT, Effort, Optimum, brute_force_optimum

REL_TOL = 1e-6  # a converged fit may end at most this far (relative, at least absolute) above the best point
CRITERION_TOL = 1e-6  # model.objective and the dense formula agree this well (relative, at least absolute)
BOUNDARY = 1e-4  # a diagonal entry of theta below this (on the unit scale) is on the boundary, as lme4's isSingular


@dataclass
class Outcome:
    """What happened to one design: the model's or fit's `DataError` (``error``) or the fit, the
    warnings it issued (category, message), and the brute-force optimum when there is a fit."""

    design: Design
    model: mm.LinearMixedModel | None = None
    fit: Fit | None = None
    error: Exception | None = None
    warnings: list[tuple[type[Warning], str]] = field(default_factory=list)
    best: Optimum | None = None

    @property
    def excess(self) -> float:
        """How far the fit ends above the best point, relative to max(1, |best|) (0 without a fit)."""
        if self.fit is None or self.best is None:
            return 0.0
        return (self.fit.objective - self.best.objective) / max(1.0, abs(self.best.objective))

    def dense(self, theta: np.ndarray) -> float:
        """The criterion at theta by the dense textbook formula (`dense.dense_objective`)."""
        assert self.model is not None
        return dense_objective(self.design, self.model.structure.theta.names, theta)

    @property
    def dense_excess(self) -> float:
        """`excess` by the dense formula, at the same two points."""
        if self.fit is None or self.best is None:
            return 0.0
        best = self.dense(self.best.theta)
        return (self.dense(self.fit.theta) - best) / max(1.0, abs(best))

    @property
    def claims_convergence_above_optimum(self) -> bool:
        """The failure the suite looks for: converged, yet above a better point by more than REL_TOL
        by the engine's criterion and by the dense formula."""
        if self.fit is None or not self.fit.converged or self.excess <= REL_TOL:
            return False
        return self.dense_excess > REL_TOL

    def criterion_error(self) -> float:
        """The larger relative difference between ``model.objective`` and the dense formula at the
        fit's theta and at the best point (0 without a fit)."""
        if self.fit is None or self.best is None or self.model is None:
            return 0.0
        worst = 0.0
        for theta in (self.fit.theta, self.best.theta):
            d = self.dense(theta)
            worst = max(worst, abs(self.model.objective(theta) - d) / max(1.0, abs(d)))
        return worst

    def warned(self, category: type[Warning]) -> bool:
        """Whether the model or fit issued a warning of this category (or a subclass)."""
        return any(issubclass(c, category) for c, _ in self.warnings)

    def boundary(self, theta: np.ndarray) -> list[str]:
        """Names of the diagonal entries of theta on the boundary (below `BOUNDARY` on the unit scale)."""
        assert self.model is not None
        layout = self.model.structure.theta
        scale = np.asarray(getattr(self.model, "theta_scale", np.ones(len(layout.names))))
        on = (np.asarray(layout.lower) == 0.0) & (np.abs(theta * scale) < BOUNDARY)
        return [layout.names[i] for i in np.flatnonzero(on)]

    def reproducer(self) -> str:
        """A one-line description of the outcome, with a command that reproduces it."""
        d = self.design
        kind = "seed" if d.family in FAMILIES else "degenerate seed"
        head = f"{kind} {d.seed} [{d.description}] `{d.formula}`"
        if self.error is not None:
            return f"{head}: {type(self.error).__name__}: {self.error}"
        assert self.fit is not None
        assert self.best is not None
        fit, best = self.fit, self.best
        theta_fit = np.array2string(fit.theta, precision=6, separator=", ", max_line_width=10_000)
        theta_best = np.array2string(best.theta, precision=6, separator=", ", max_line_width=10_000)
        return (
            f"{head}: fitted {fit.objective:.10g} (converged={fit.converged}, {fit.n_evals} evals) vs best "
            f"{best.objective:.10g}: excess {fit.objective - best.objective:.3g} ({self.excess:.2g} rel); "
            f"theta fit {theta_fit} (boundary: {self.boundary(fit.theta) or 'none'}) vs best {theta_best} "
            f"(boundary: {self.boundary(best.theta) or 'none'}), found by {best.found_by}; "
            f"dense formula: fit {self.dense(fit.theta):.10g} vs best {self.dense(best.theta):.10g}; "
            f"reproduce: {self.command()}"
        )

    def command(self) -> str:
        """A shell command (run from the repository's root) printing the fit's criterion and the
        criterion at the best point found."""
        assert self.best is not None
        d = self.design
        make = "degenerate_design" if d.family not in FAMILIES else "make_design"
        return (
            'PYTHONPATH=python python -c "import numpy as np, mixedmodels as mm; '
            f"from tests.stress.designs import {make}; d = {make}({d.seed}); "
            "m = mm.LinearMixedModel.from_formula(d.formula, d.data, reml=d.reml); "
            f'print(m.fit().objective, m.objective(np.array({self.best.theta.tolist()!r})))"'
        )


def run_design(design: Design, effort: Effort = DEFAULT_EFFORT) -> Outcome:
    """Build and fit the design (recording warnings; only `DataError` is caught), then search for the
    best point from the fit's theta, the true theta and many other starts."""
    out = Outcome(design)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            out.model = mm.LinearMixedModel.from_formula(design.formula, design.data, reml=design.reml)
            out.fit = out.model.fit()
        except mm.DataError as e:
            out.error = e
    out.warnings = [(w.category, str(w.message)) for w in caught]
    if out.fit is not None and out.model is not None:
        starts = {"fit": out.fit.theta}
        if design.truth:
            starts["truth"] = true_theta(design, out.model.structure.theta.names)
        out.best = brute_force_optimum(out.model, starts, seed=design.seed, effort=effort)
    return out


def false_data_error(out: Outcome) -> str | None:
    """The DataError's message when the design is identifiable by lme4's rules (`unidentifiable_reason`)."""
    if out.error is None or unidentifiable_reason(out.design) is not None:
        return None
    return str(out.error)
