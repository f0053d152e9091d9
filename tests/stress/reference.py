"""A brute-force optimum of a model's profiled criterion, to hold fits against.

`brute_force_optimum` minimises ``model.objective`` from many starts (the fit's theta, lme4's
start, random starts, points on and faces of the boundary) with several local optimisers that
share nothing with the fitter's BOBYQA: SciPy's L-BFGS-B (bounds, central-difference gradient),
Nelder-Mead and Powell on a bounds-free reparameterisation (a diagonal entry of the relative
Cholesky factor is the absolute value of a free variable), and NLopt's Sbplx as a final polish.
Every point evaluated is feasible and the lowest one is kept, so the answer is the lowest
criterion actually evaluated, at a theta given back: the caller can (and the tests do) evaluate
``model.objective`` there again.

It works in unit-scale coordinates u = theta * ``model.theta_scale`` when the model has them (the
coordinates in which a random-effects column of extreme scale does not make theta extreme), and
also starts from lme4's start on theta's own scale.
"""

from __future__ import annotations

import itertools
import math
import warnings
from dataclasses import dataclass, field

import nlopt
import numpy as np
from scipy.optimize import minimize

import mixedmodels as mm

BIG = 1e300  # what the optimisers see where the criterion is not finite
NLOPT = {"nlopt Nelder-Mead": nlopt.LN_NELDERMEAD, "nlopt Sbplx": nlopt.LN_SBPLX, "nlopt L-BFGS": nlopt.LD_LBFGS}


@dataclass(frozen=True)
class Effort:
    """How hard the search tries: random starts, perturbations of the fit, boundary faces
    (subsets of diagonal entries held at 0, all subsets up to ``max_face_size``), how many of
    the best local optima get the other optimisers, the iterations (times the number of
    parameters plus one) of a local run, whether lme4's start is also tried on the unit scale, and
    whether every Nelder-Mead run (not only those from the given starts and lme4's) is followed by
    L-BFGS, and whether the faces are searched from lme4's start as well as from the given ones."""

    n_random: int = 2
    n_perturbed: int = 1
    max_face_size: int = 1
    n_polish: int = 1
    maxiter: int = 100
    lme4_unit_scale: bool = False
    refine_all: bool = False
    faces_from_lme4: bool = False


DEFAULT_EFFORT = Effort()
THOROUGH_EFFORT = Effort(
    n_random=10,
    n_perturbed=6,
    max_face_size=6,
    n_polish=4,
    maxiter=1000,
    lme4_unit_scale=True,
    refine_all=True,
    faces_from_lme4=True,
)


@dataclass(frozen=True)
class Optimum:
    """The lowest criterion found: ``objective`` is ``model.objective(theta)``; ``found_by`` names the
    start and optimiser that reached it; ``n_evals`` counts all evaluations of the search."""

    theta: np.ndarray
    objective: float
    found_by: str
    n_evals: int
    local_optima: list[tuple[float, str]] = field(default_factory=list)


class _Search:
    """The criterion in unit-scale coordinates, counting evaluations and keeping the lowest point."""

    def __init__(self, model: mm.LinearMixedModel) -> None:
        self.model = model
        self.lower = np.asarray(model.structure.theta.lower, dtype=float)
        self.diag = self.lower == 0.0
        self.lo = np.where(self.diag, 0.0, -np.inf)
        scale = np.asarray(getattr(model, "theta_scale", np.ones_like(self.lower)), dtype=float)
        self.scale = np.where(np.isfinite(scale) & (scale > 0), scale, 1.0)
        self.inverse_scale = 1.0 / self.scale
        self.objective = model.objective
        self.n = 0
        self.best_u = np.zeros_like(self.lower)
        self.best_f = np.inf
        self.best_by = "none"
        self.label = "none"
        self.run_best_u = self.best_u
        self.run_best_f = np.inf

    def begin(self) -> None:
        """Start a local run: its lowest point is tracked apart from the overall lowest."""
        self.run_best_f = np.inf

    def theta(self, u: np.ndarray) -> np.ndarray:
        """theta of unit-scale coordinates (diagonal entries clipped at their bound of 0)."""
        return np.maximum(np.asarray(u, dtype=float), self.lo) * self.inverse_scale

    def __call__(self, u: np.ndarray) -> float:
        u = np.maximum(np.asarray(u, dtype=float), self.lo)  # a new array, within the bounds
        self.n += 1
        try:
            v = float(self.objective(u * self.inverse_scale))
        except (mm.MixedModelsError, ArithmeticError, ValueError):
            return BIG
        if not math.isfinite(v):
            return BIG
        if v < self.run_best_f:
            self.run_best_f, self.run_best_u = v, u
        if v < self.best_f:
            self.best_f, self.best_u, self.best_by = v, u, self.label
        return v

    def folded(self, v: np.ndarray) -> float:
        """The criterion of the bounds-free parameterisation: diagonal entries are |v|."""
        return self(np.where(self.diag, np.abs(v), v))

    def gradient(self, u: np.ndarray, fixed: np.ndarray) -> np.ndarray:
        """Central differences (forward ones next to a bound); 0 for entries held fixed."""
        u = np.asarray(u, dtype=float)
        g = np.zeros_like(u)
        f0 = None
        for i in np.flatnonzero(~fixed):
            h = 1e-6 * max(1.0, abs(u[i]))
            up = u.copy()
            up[i] += h
            if self.diag[i] and u[i] - h < 0.0:
                f0 = self(u) if f0 is None else f0
                g[i] = (self(up) - f0) / h
            else:
                dn = u.copy()
                dn[i] -= h
                g[i] = (self(up) - self(dn)) / (2 * h)
        return g


def _nlopt(
    s: _Search, algorithm: int, u0: np.ndarray, fixed: np.ndarray, maxeval: int, xtol_rel: float = 1e-11
) -> tuple[np.ndarray, float]:
    """An NLopt local optimiser (Nelder-Mead, Sbplx or L-BFGS with the central-difference gradient)
    within the bounds, over the entries not ``fixed`` (held where they start), stopping when theta
    moves less than ``xtol_rel`` (relative) or the criterion less than 1e-13 (or ``xtol_rel``
    below 1e-11: 1e-9); the lowest point of the run (NLopt's L-BFGS gives up with an error on a
    noisy gradient, after useful progress)."""
    free = np.flatnonzero(~fixed)
    base = np.where(s.diag, np.maximum(u0, 0.0), u0)
    s.begin()
    if free.size == 0:
        return base, s(base)

    every = free.size == base.size

    def objective(x: np.ndarray, grad: np.ndarray) -> float:
        if every:
            u = x
        else:
            u = base.copy()
            u[free] = x
        v = s(u)
        if grad.size:
            grad[:] = s.gradient(u, fixed)[free]
        return v

    opt = nlopt.opt(algorithm, free.size)
    opt.set_lower_bounds(np.where(s.diag[free], 0.0, -np.inf).tolist())
    opt.set_min_objective(objective)
    opt.set_xtol_rel(xtol_rel)
    opt.set_ftol_abs(1e-13 if xtol_rel <= 1e-11 else 1e-9)
    opt.set_maxeval(maxeval)
    if algorithm != nlopt.LD_LBFGS:
        opt.set_initial_step(np.maximum(0.2 * np.abs(base[free]), 0.05).tolist())
    try:
        opt.optimize(base[free].tolist())
    except Exception:  # NLopt's failures (roundoff-limited, a generic failure) end the run; its lowest point stands
        pass
    return s.run_best_u.copy(), s.run_best_f


def _lbfgsb(s: _Search, u0: np.ndarray, maxiter: int) -> tuple[np.ndarray, float]:
    """SciPy's L-BFGS-B within the bounds."""
    bounds = [(0.0, None) if d else (None, None) for d in s.diag]
    start = np.where(s.diag, np.maximum(u0, 0.0), u0)
    free = np.zeros(u0.size, dtype=bool)
    s.begin()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        minimize(
            s,
            start,
            jac=lambda u: s.gradient(u, free),
            method="L-BFGS-B",
            bounds=bounds,
            options={"maxiter": maxiter, "ftol": 1e-15, "gtol": 1e-9, "maxls": 40},
        )
    return s.run_best_u.copy(), s.run_best_f


def _simplex(s: _Search, u0: np.ndarray, method: str, maxiter: int) -> tuple[np.ndarray, float]:
    """SciPy's Nelder-Mead (adaptive) or Powell on the folded, bounds-free problem from u0."""
    v0 = np.asarray(u0, dtype=float).copy()
    n = v0.size
    s.begin()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if method == "Nelder-Mead":
            step = np.maximum(0.1 * np.abs(v0), 0.05)
            simplex = np.vstack([v0, v0 + np.diag(step)])
            options = {"initial_simplex": simplex, "xatol": 1e-10, "fatol": 1e-13, "adaptive": True}
            minimize(s.folded, v0, method="Nelder-Mead", options={**options, "maxfev": maxiter * (n + 1)})
        else:
            minimize(s.folded, v0, method="Powell", options={"xtol": 1e-10, "ftol": 1e-15, "maxfev": maxiter * (n + 1)})
    return s.run_best_u.copy(), s.run_best_f


def _faces(ndiag: int, max_size: int) -> list[tuple[int, ...]]:
    """Nonempty subsets of the diagonal entries, smallest first, up to ``max_size`` entries."""
    out: list[tuple[int, ...]] = []
    for r in range(1, min(ndiag, max_size) + 1):
        out.extend(itertools.combinations(range(ndiag), r))
    return out


def brute_force_optimum(
    model: mm.LinearMixedModel,
    starts: dict[str, np.ndarray] | None = None,
    *,
    seed: int = 0,
    effort: Effort = DEFAULT_EFFORT,
) -> Optimum:
    """The lowest ``model.objective`` found by a multi-start search (see the module docstring).

    ``starts`` are named starting values of theta (a fit's theta, the true theta); the search also
    starts from lme4's start (1 on the diagonals, 0 elsewhere; with ``effort.lme4_unit_scale`` on
    the unit scale too), ``effort.n_random`` random points and ``effort.n_perturbed``
    perturbations of the first given start, each with NLopt's Nelder-Mead (then L-BFGS from the
    given starts and lme4's, or from all with ``effort.refine_all``). Every face of the boundary
    with up to ``effort.max_face_size`` diagonal entries at 0 is searched from the given starts
    projected onto it (and lme4's, with ``effort.faces_from_lme4``). The ``effort.n_polish`` best
    distinct local optima are polished by Powell and Sbplx, and the best point by L-BFGS-B,
    Nelder-Mead and Sbplx.

    Examples
    --------
    >>> m = mm.LinearMixedModel.from_formula("Reaction ~ Days + (Days | Subject)", mm.datasets.load("sleepstudy"))
    >>> round(brute_force_optimum(m).objective, 3)
    1743.628
    """
    s = _Search(model)
    rng = np.random.default_rng([14_003, 2, seed])
    nt = s.lower.size
    free = np.zeros(nt, dtype=bool)
    given = {name: np.asarray(t, dtype=float) * s.scale for name, t in (starts or {}).items()}
    lme4 = np.where(s.diag, 1.0, 0.0)
    named: dict[str, np.ndarray] = {**given, "lme4 start": lme4 * s.scale}
    if effort.lme4_unit_scale:
        named["lme4 start (unit scale)"] = lme4
    anchor = next(iter(given.values()), lme4)
    for i in range(effort.n_perturbed):
        named[f"fit perturbed {i}"] = anchor + rng.normal(size=nt) * np.maximum(0.3 * np.abs(anchor), 0.1)
    for i in range(effort.n_random):
        r = rng.normal(size=nt)
        named[f"random {i}"] = np.where(s.diag, np.exp(2.0 * rng.normal(size=nt)), r * np.exp(rng.normal(size=nt)))

    results: list[tuple[float, str, np.ndarray]] = []
    maxeval = effort.maxiter * (nt + 1)

    def local(label: str, run: str, u0: np.ndarray, fixed: np.ndarray = free) -> np.ndarray:
        """One local run from u0, recorded in ``results``; its lowest point."""
        s.label = f"{label} / {run}"
        if run == "nlopt Nelder-Mead":  # the first descent from a start: the polish comes later
            u, fu = _nlopt(s, NLOPT[run], u0, fixed, maxeval, xtol_rel=1e-8)
        elif run in NLOPT:
            u, fu = _nlopt(s, NLOPT[run], u0, fixed, maxeval)
        elif run == "L-BFGS-B":
            u, fu = _lbfgsb(s, u0, effort.maxiter)
        else:
            u, fu = _simplex(s, u0, run, effort.maxiter)
        results.append((fu, s.label, u))
        return u

    def descend(label: str, u0: np.ndarray, fixed: np.ndarray = free, refine: bool = True) -> None:
        """Nelder-Mead from u0, then (``refine``) L-BFGS from where it stops."""
        s.label = f"{label} (start)"
        s(u0)
        u = local(label, "nlopt Nelder-Mead", u0, fixed)
        if refine or effort.refine_all:
            local(label, "nlopt L-BFGS", u, fixed)

    for name, u0 in named.items():
        descend(name, u0, refine=name in given or name.startswith("lme4"))

    diag_idx = np.flatnonzero(s.diag)
    face_starts = {k: v for k, v in named.items() if k in given or (effort.faces_from_lme4 and k.startswith("lme4"))}
    names = model.structure.theta.names
    for face in _faces(diag_idx.size, effort.max_face_size):
        fixed = np.zeros(nt, dtype=bool)
        fixed[diag_idx[list(face)]] = True
        for name, u0 in face_starts.items():
            label = f"{name} on face {[names[diag_idx[j]] for j in face]}=0"
            descend(label, np.where(fixed, 0.0, u0), fixed, refine=False)

    # polish the best distinct local optima with the other optimisers
    results.sort(key=lambda r: r[0])
    polished: list[np.ndarray] = []
    for fu, label, u in list(results):
        if len(polished) >= effort.n_polish:
            break
        if fu >= BIG or any(np.allclose(u, p, rtol=1e-4, atol=1e-6) for p in polished):
            continue
        polished.append(u)
        base = label.split(" / ")[0]
        for run in ("Powell", "nlopt Sbplx"):
            local(base, run, u)
    base = s.best_by.split(" / ")[0]
    for run in ("L-BFGS-B", "Nelder-Mead", "nlopt Sbplx"):
        local(base + " polished", run, s.best_u.copy())

    theta = s.theta(s.best_u)
    value = float(model.objective(theta))
    optima = sorted({(round(fu, 9), lab) for fu, lab, _ in results})
    return Optimum(theta=theta, objective=value, found_by=s.best_by, n_evals=s.n, local_optima=optima[:10])
