"""Seeded random small designs for the convergence stress suite (issue 14, item 3).

`make_design(seed)` draws one small linear mixed model problem: a formula, a data frame simulated
from known fixed effects and random-effects covariances, and ML or REML. The families cover
one to three grouping factors (single, crossed, nested, partially crossed), random intercepts,
correlated slopes with and without intercepts, uncorrelated (``||``) terms, covariates and
responses shifted and scaled to extreme values, and true covariances that are ordinary or near
singular (a variance near or at zero, a correlation near or at +-1). Every design has at most 300
rows and at most 6 covariance parameters, so that a brute-force optimum is cheap.

`degenerate_design(seed)` draws data that lme4 refuses or warns about: slopes constant within
groups, extreme scales, random-effects columns near zero, very few levels.

Both are pure functions of the seed: the same seed gives the same design on every machine.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd

SALT = 14_003  # issue 14, item 3: seeds here do not collide with other suites' streams

MAX_ROWS = 300
MAX_THETA = 6


@dataclass(frozen=True)
class Term:
    """A random-effects term: grouping factor, columns ("1" the intercept), correlated or not
    (an uncorrelated term with k columns is k independent scalar terms, written with ``||``)."""

    group: str
    columns: tuple[str, ...]
    correlated: bool = True

    @property
    def ntheta(self) -> int:
        """Number of theta entries the term contributes."""
        k = len(self.columns)
        return k * (k + 1) // 2 if self.correlated else k

    def formula(self) -> str:
        """The term in lme4's syntax."""
        cols = [c for c in self.columns if c != "1"]
        if not self.correlated:
            assert self.columns[0] == "1", "uncorrelated terms are written (x || g): they have an intercept"
            return f"({' + '.join(cols)} || {self.group})"
        lead = "1" if self.columns[0] == "1" else "0"
        return f"({' + '.join([lead, *cols])} | {self.group})"


class Design(NamedTuple):
    """One stress design: fit ``formula`` to ``data`` (by REML when ``reml``); ``description``
    names the family, grouping, covariate and response transformations and the true covariance;
    ``terms`` and ``fixed`` are the formula's random-effects terms and fixed-effects columns (for
    the identifiability check, `unidentifiable_reason`); ``truth`` each term's true covariance
    (relative to the residual variance, on the covariates' scale before ``transforms``: (name,
    factor, shift) per covariate), for `true_theta`."""

    formula: str
    data: pd.DataFrame
    reml: bool
    description: str
    seed: int
    family: str
    terms: tuple[Term, ...]
    fixed: tuple[str, ...]
    truth: tuple[np.ndarray, ...] = ()
    transforms: tuple[tuple[str, float, float], ...] = ()


# family -> random-effects terms, with weights below; "g", "h", "k" are grouping factors
FAMILIES: dict[str, tuple[Term, ...]] = {
    "intercept": (Term("g", ("1",)),),
    "slope": (Term("g", ("1", "x")),),
    "slope2": (Term("g", ("1", "x", "z")),),
    "noint": (Term("g", ("x",)),),
    "noint2": (Term("g", ("z1", "z2")),),
    "uncorr": (Term("g", ("1", "x"), correlated=False),),
    "uncorr2": (Term("g", ("1", "x", "z"), correlated=False),),
    "crossed": (Term("g", ("1",)), Term("h", ("1",))),
    "crossed_slope": (Term("g", ("1", "x")), Term("h", ("1",))),
    "crossed_slopes": (Term("g", ("1", "x")), Term("h", ("1", "x"))),
    "crossed_noint": (Term("g", ("x",)), Term("h", ("1",))),
    "crossed3": (Term("g", ("1",)), Term("h", ("1",)), Term("k", ("1",))),
    "nested": (Term("g", ("1",)), Term("g:h", ("1",))),
    "nested_slope": (Term("g", ("1", "x")), Term("g:h", ("1",))),
    "nested_crossed": (Term("g", ("1",)), Term("g:h", ("1",)), Term("k", ("1",))),
    "two_terms_one_factor": (Term("g", ("1",)), Term("g", ("x", "z"))),
}
WEIGHTS = {
    "intercept": 1.0,
    "slope": 3.0,
    "slope2": 2.0,
    "noint": 1.0,
    "noint2": 1.5,
    "uncorr": 1.0,
    "uncorr2": 0.5,
    "crossed": 1.0,
    "crossed_slope": 1.5,
    "crossed_slopes": 1.0,
    "crossed_noint": 0.5,
    "crossed3": 0.5,
    "nested": 1.0,
    "nested_slope": 1.0,
    "nested_crossed": 0.5,
    "two_terms_one_factor": 0.5,
}
assert all(sum(t.ntheta for t in terms) <= MAX_THETA for terms in FAMILIES.values())

# how a covariate enters the model (the truth is simulated on the covariate before the change)
COVARIATE_TRANSFORMS = {
    "none": (1.0, 0.0),
    "+100": (1.0, 100.0),
    "+1e4": (1.0, 1e4),
    "*1e-3": (1e-3, 0.0),
    "*1e3": (1e3, 0.0),
    "*1e3+1e4": (1e3, 1e4),
}
COVARIATE_WEIGHTS = [6.0, 1.5, 1.5, 1.0, 1.0, 0.5]
RESPONSE_TRANSFORMS = {
    "none": (1.0, 0.0),
    "+1e4": (1.0, 1e4),
    "*1e-3": (1e-3, 0.0),
    "*1e3": (1e3, 0.0),
    "*1e-4+1e3": (1e-4, 1e3),
}
RESPONSE_WEIGHTS = [6.0, 1.0, 1.0, 1.0, 0.5]
TRUTHS = ["ordinary", "zero_variance", "tiny_variance", "corr_near_1", "corr_1", "all_zero", "large"]
TRUTH_WEIGHTS = [3.0, 1.5, 1.0, 1.5, 1.0, 0.5, 0.5]


def _choice(rng: np.random.Generator, options: list[str], weights: list[float]) -> str:
    """One of ``options`` with probabilities proportional to ``weights``."""
    p = np.asarray(weights, dtype=float)
    return options[int(rng.choice(len(options), p=p / p.sum()))]


def _counts(rng: np.random.Generator, nlev: int, lo: int, hi: int, balanced: bool) -> np.ndarray:
    """Rows per level: all equal (``balanced``) or each drawn from lo..hi."""
    if balanced:
        return np.full(nlev, int(rng.integers(lo, hi + 1)))
    return rng.integers(lo, hi + 1, size=nlev)


def _groups(rng: np.random.Generator, family: str, kmax: int) -> tuple[dict[str, np.ndarray], str]:
    """Grouping factors (integer codes per row) for the family and a short description.

    ``kmax`` is the largest number of random-effects columns on one factor, so that levels have
    enough rows for the terms to be identifiable most of the time."""
    lo = max(2, kmax + 1) if kmax > 1 else 2
    balanced = bool(rng.random() < 0.3)
    tag = "bal" if balanced else "unbal"
    if family.startswith("nested"):
        ng = int(rng.integers(3, 13))
        per = rng.integers(2, 6, size=ng)  # h levels within each g
        cells = int(per.sum())
        hi = max(lo, min(8, MAX_ROWS // cells))
        counts = _counts(rng, cells, min(lo, hi), hi, balanced)
        g = np.repeat(np.repeat(np.arange(ng), per), counts)
        h = np.repeat(np.concatenate([np.arange(p) for p in per]), counts)
        out = {"g": g, "h": h}
        desc = f"g {ng} lev / h {cells} cells ({tag}), n={g.size}"
        if family == "nested_crossed":
            nk = int(rng.integers(3, 9))
            out["k"] = rng.integers(0, nk, size=g.size)
            desc += f", k {nk} lev crossed"
        return out, desc
    if family.startswith("crossed"):
        ng, nh = int(rng.integers(3, 31)), int(rng.integers(3, 21))
        n = int(rng.integers(min(MAX_ROWS, max(40, (kmax + 1) * max(ng, nh))), MAX_ROWS + 1))
        g = rng.integers(0, ng, size=n)
        mode = _choice(rng, ["random", "partial", "full"], [2.0, 1.0, 1.0])
        if mode == "partial":  # h mostly determined by g: partially crossed
            h = np.where(rng.random(n) < 0.7, g % nh, rng.integers(0, nh, size=n))
        elif mode == "full":  # every (g, h) cell, replicated
            ng = min(ng, 15)
            nh = min(nh, MAX_ROWS // ng)
            reps = max(1, min(3, MAX_ROWS // (ng * nh)))
            g = np.repeat(np.arange(ng), nh * reps)
            h = np.tile(np.repeat(np.arange(nh), reps), ng)
        else:
            h = rng.integers(0, nh, size=n)
        out = {"g": g, "h": h}
        desc = f"g {ng} x h {nh} {mode} crossed, n={g.size}"
        if family == "crossed3":
            nk = int(rng.integers(3, 11))
            out["k"] = rng.integers(0, nk, size=g.size)
            desc += f", k {nk} lev"
        return out, desc
    nlev = int(rng.integers(3, 61))
    hi = max(lo, min(20, MAX_ROWS // nlev))
    counts = _counts(rng, nlev, min(lo, hi), hi, balanced)
    g = np.repeat(np.arange(nlev), counts)
    return {"g": g}, f"g {nlev} lev ({tag} {counts.min()}-{counts.max()}/lev), n={g.size}"


def _covariate(rng: np.random.Generator, n: int) -> tuple[np.ndarray, str]:
    """A within-group covariate on a unit scale: normal, uniform, Days-like integers or binary."""
    kind = _choice(rng, ["normal", "uniform", "days", "binary"], [3.0, 1.0, 2.0, 1.0])
    if kind == "normal":
        return rng.normal(size=n), kind
    if kind == "uniform":
        return rng.uniform(0.0, 1.0, size=n), kind
    if kind == "days":
        return rng.integers(0, 10, size=n).astype(float), kind
    v = (rng.random(n) < 0.5).astype(float)
    v[:2] = [0.0, 1.0]  # both values present
    return v, kind


def _correlation(rng: np.random.Generator, k: int, truth: str) -> np.ndarray:
    """A k x k correlation matrix: random (|r| mostly below ~0.8), near +-1 (one pair at +-0.99..0.999)
    or exactly +-1 (rank one)."""
    if k == 1:
        return np.ones((1, 1))
    if truth == "corr_1":
        s = rng.choice([-1.0, 1.0], size=k)
        return np.outer(s, s)
    m = np.tril(rng.normal(size=(k, k)))
    m[np.diag_indices(k)] = np.abs(m[np.diag_indices(k)]) + 0.5
    if truth == "corr_near_1":
        i = int(rng.integers(1, k))
        r = rng.choice([-1.0, 1.0]) * rng.uniform(0.99, 0.9995)
        row = r * m[0] / np.linalg.norm(m[0])
        perp = rng.normal(size=k)
        perp[i + 1 :] = 0.0
        perp -= perp @ m[0] / (m[0] @ m[0]) * m[0]
        m[i] = row + np.sqrt(1 - r * r) * perp / np.linalg.norm(perp)
    m /= np.linalg.norm(m, axis=1, keepdims=True)
    return m @ m.T


def _sds(rng: np.random.Generator, k: int, truth: str) -> np.ndarray:
    """Random-effects standard deviations relative to the residual's, by the kind of truth."""
    sd = np.exp(rng.uniform(np.log(0.2), np.log(3.0), size=k))
    if truth == "zero_variance":
        sd[int(rng.integers(0, k))] = 0.0
    elif truth == "tiny_variance":
        sd[int(rng.integers(0, k))] = 10 ** rng.uniform(-4, -2)
    elif truth == "all_zero":
        sd[:] = 0.0
    elif truth == "large":
        sd *= 10 ** rng.uniform(1, 2)
    return sd


def _levels(codes: np.ndarray, prefix: str) -> np.ndarray:
    """String labels for integer codes (unused codes simply do not occur)."""
    return np.char.add(prefix, codes.astype(str))


def make_design(seed: int) -> Design:
    """The stress design of ``seed`` (deterministic).

    Examples
    --------
    >>> d = make_design(3)
    >>> d.formula == make_design(3).formula and d.data.equals(make_design(3).data)
    True
    """
    rng = np.random.default_rng([SALT, seed])
    family = _choice(rng, list(WEIGHTS), list(WEIGHTS.values()))
    terms = FAMILIES[family]
    kmax = max(sum(len(t.columns) for t in terms if t.group == grp) for grp in {t.group for t in terms})
    groups, gdesc = _groups(rng, family, kmax)
    n = next(iter(groups.values())).size

    # covariates on their simulation scale, and how each enters the model
    base: dict[str, np.ndarray] = {}
    cdesc = []
    names = sorted({c for t in terms for c in t.columns if c != "1"})
    if names == ["z1", "z2"] and rng.random() < 0.5:  # cell-means dummies of a two-level condition
        z1 = (rng.random(n) < 0.5).astype(float)
        z1[:2] = [0.0, 1.0]
        base = {"z1": z1, "z2": 1.0 - z1}
        cdesc.append("z1,z2 dummies")
    else:
        for name in names:
            base[name], kind = _covariate(rng, n)
            cdesc.append(f"{name}~{kind}")
    model_cols: dict[str, np.ndarray] = {}
    transforms = []
    for name, v in base.items():
        tr = "none" if name in ("z1", "z2") and "z1,z2 dummies" in cdesc else None
        tr = tr or _choice(rng, list(COVARIATE_TRANSFORMS), COVARIATE_WEIGHTS)
        a, b = COVARIATE_TRANSFORMS[tr]
        model_cols[name] = v * a + b
        transforms.append((name, a, b))
        if tr != "none":
            cdesc.append(f"{name}{tr}")

    # truth: fixed effects, then each term's random effects (sds relative to sigma)
    sigma = 1.0
    y = rng.normal(0.0, 2.0) + sum(rng.normal(0.0, 1.0) * v for v in base.values()) + sigma * rng.normal(size=n)
    truth = _choice(rng, TRUTHS, TRUTH_WEIGHTS)
    tdesc = [truth]
    covs: list[np.ndarray] = []
    for t in terms:
        if t.group == "g:h":
            codes = groups["g"] * 100 + groups["h"]
        else:
            codes = groups[t.group]
        nlev = int(codes.max()) + 1
        k = len(t.columns)
        sd = _sds(rng, k, truth)
        corr = _correlation(rng, k, truth) if t.correlated else np.eye(k)
        cov = np.outer(sd, sd) * corr
        covs.append(cov)
        w, v = np.linalg.eigh(cov)
        b = rng.normal(size=(nlev, k)) @ (v * np.sqrt(np.clip(w, 0.0, None))).T
        cols = np.column_stack([np.ones(n) if c == "1" else base[c] for c in t.columns])
        y += sigma * np.einsum("ij,ij->i", cols, b[codes])
        tdesc.append(f"sd({t.group})={np.array2string(sd, precision=3)}")
        if t.correlated and k > 1:
            tdesc.append(f"cor={np.array2string(corr[np.tril_indices(k, -1)], precision=3)}")
    ytr = _choice(rng, list(RESPONSE_TRANSFORMS), RESPONSE_WEIGHTS)
    a, b0 = RESPONSE_TRANSFORMS[ytr]
    y = y * a + b0

    data = {"y": y, **model_cols}
    for grp, codes in groups.items():
        data[grp] = _levels(codes, grp)
    frame = pd.DataFrame(data).sample(frac=1.0, random_state=int(rng.integers(0, 2**31 - 1))).reset_index(drop=True)

    fixed = ["1"]
    if names == ["z1", "z2"] and "z1,z2 dummies" in cdesc:
        fixed.append("z1")  # z1 + z2 = 1 would alias the intercept
    else:
        fixed.extend(names)
    random_terms = []
    for t in terms:
        # half the nested models are written with lme4's nesting shorthand
        if t.group == "g:h" and "(1 | g)" in random_terms and rng.random() < 0.5:
            random_terms = [r for r in random_terms if r != "(1 | g)"]
            random_terms.append("(1 | g/h)")
        else:
            random_terms.append(t.formula())
    formula = f"y ~ {' + '.join(fixed)} + {' + '.join(random_terms)}"
    reml = bool(rng.random() < 0.5)
    parts = [family, gdesc, ", ".join(cdesc) or "no covariates", "truth " + " ".join(tdesc)]
    if ytr != "none":
        parts.append(f"y{ytr}")
    parts.append("REML" if reml else "ML")
    desc = "; ".join(parts)
    return Design(formula, frame, reml, desc, seed, family, terms, tuple(fixed), tuple(covs), tuple(transforms))


def true_theta(design: Design, names: Sequence[str]) -> np.ndarray:
    """The true covariances as theta in the model's parameterisation (entries named as
    ``model.structure.theta.names``): each term's covariance carried through the covariates'
    shifts and scales (a shifted covariate moves variance into the intercept), then its lower
    Cholesky factor (of the diagonal alone for an uncorrelated term); 0 where a name is not found."""
    shifts = {name: (a, b) for name, a, b in design.transforms}
    values: dict[tuple[str, str, str], float] = {}
    for term, cov in zip(design.terms, design.truth, strict=True):
        k = len(term.columns)
        m = np.eye(k)  # model-scale effects = m @ simulation-scale effects
        for j, c in enumerate(term.columns):
            a, b = shifts.get(c, (1.0, 0.0))
            m[j, j] = 1.0 / a
            if term.columns[0] == "1" and j > 0:
                m[0, j] = -b / a
        c2 = m @ cov @ m.T
        t = _semidefinite_cholesky(c2) if term.correlated else np.diag(np.sqrt(np.diag(c2)))
        cols = ["(Intercept)" if c == "1" else c for c in term.columns]
        group = ":".join(sorted(term.group.split(":")))
        for i in range(k):
            for j in range(i + 1):
                values[(group, cols[i], cols[j])] = float(t[i, j])
    out = np.zeros(len(names))
    for n_i, name in enumerate(names):
        group, *cols = name.split(".")
        row, col = (cols[0], cols[0]) if len(cols) == 1 else (cols[0], cols[1])
        out[n_i] = values.get((":".join(sorted(group.split(":"))), row, col), 0.0)
    return out


def _semidefinite_cholesky(c: np.ndarray) -> np.ndarray:
    """Lower-triangular L with L L' = c for positive semidefinite c (a zero pivot gives a zero column)."""
    k = c.shape[0]
    out = np.zeros_like(c)
    for j in range(k):
        d = c[j, j] - out[j, :j] @ out[j, :j]
        scale = max(c[j, j], 1e-300)
        if d > 1e-12 * scale:
            out[j, j] = np.sqrt(d)
            out[j + 1 :, j] = (c[j + 1 :, j] - out[j + 1 :, :j] @ out[j, :j]) / out[j, j]
    return out


DEGENERATE_KINDS = [
    "slope_constant_within_groups",  # with an intercept: not identifiable (DataError, as lme4's check)
    "noint_slope_constant_within_groups",  # (0 + x | g), x between-group: a scaled random intercept
    "slope_nearly_constant_within_groups",  # x between-group plus 1e-9 noise
    "z_near_zero",  # (0 + x | g) with x ~ 1e-9
    "extreme_covariate_scale",  # x * 1e-8 or * 1e8 in a random slope
    "extreme_response_scale",  # y * 1e-10 or * 1e10
    "response_constant_within_groups",  # no within-group variation: sigma -> 0 unless g's variance
    "two_levels",  # a grouping factor with two levels
    "levels_near_nobs",  # almost one row per level
    "huge_shift",  # x + 1e7 in a correlated slope
]


def degenerate_design(seed: int) -> Design:
    """A degenerate design of ``seed``: data that lme4 refuses or warns about (`DEGENERATE_KINDS`).

    Examples
    --------
    >>> degenerate_design(0).family in DEGENERATE_KINDS
    True
    """
    rng = np.random.default_rng([SALT, 1, seed])
    kind = DEGENERATE_KINDS[seed % len(DEGENERATE_KINDS)]
    nlev = int(rng.integers(4, 30))
    per = int(rng.integers(3, 10))
    if kind == "two_levels":
        nlev, per = 2, int(rng.integers(5, 40))
    if kind == "levels_near_nobs":
        nlev, per = int(rng.integers(10, 60)), 1
    g = np.repeat(np.arange(nlev), per)
    n = g.size
    if kind == "levels_near_nobs":
        g = np.concatenate([g, rng.integers(0, nlev, size=int(rng.integers(1, 4)))])
        n = g.size
    x = rng.normal(size=n)
    if "constant_within_groups" in kind and "slope" in kind:
        x = rng.normal(size=nlev)[g]
        if kind == "slope_nearly_constant_within_groups":
            x = x + 1e-9 * rng.normal(size=n)
    u = rng.normal(size=(nlev, 2)) * [1.0, 0.5]
    y = 1.0 + 0.5 * x + u[g, 0] + u[g, 1] * x + rng.normal(size=n)
    formula = "y ~ x + (1 + x | g)"
    if kind == "noint_slope_constant_within_groups":
        formula = "y ~ x + (0 + x | g)"
    elif kind == "z_near_zero":
        x = x * 1e-9
        formula = "y ~ 1 + (0 + x | g)"
    elif kind == "extreme_covariate_scale":
        x = x * (1e-8 if rng.random() < 0.5 else 1e8)
    elif kind == "extreme_response_scale":
        y = y * (1e-10 if rng.random() < 0.5 else 1e10)
    elif kind == "response_constant_within_groups":
        y = rng.normal(size=nlev)[g] + 3.0  # exactly constant within groups, half the time
        if rng.random() < 0.5:
            y = y + 1e-8 * rng.normal(size=n)  # nearly so: a residual SD 1e-8 of the groups'
        formula = "y ~ 1 + (1 | g)"
    elif kind in ("two_levels", "levels_near_nobs"):
        formula = "y ~ x + (1 | g)"
    elif kind == "huge_shift":
        x = x + 1e7
    frame = pd.DataFrame({"y": y, "x": x, "g": _levels(g, "g")})
    reml = bool(rng.random() < 0.5)
    fixed = ("1",) if formula.startswith("y ~ 1 ") else ("1", "x")
    random_part = formula.split(" + (", 1)[1]
    terms = {
        "1 + x | g)": (Term("g", ("1", "x")),),
        "0 + x | g)": (Term("g", ("x",)),),
        "1 | g)": (Term("g", ("1",)),),
    }[random_part]
    desc = f"{kind}; g {nlev} lev, n={n}; {'REML' if reml else 'ML'}"
    return Design(formula, frame, reml, desc, seed, kind, terms, fixed)


def unidentifiable_reason(design: Design) -> str | None:
    """Why the design cannot be fitted by lme4's rules, checked on the data frame directly (two-pass,
    so a covariate shifted far from 0 is not mistaken for a constant): too few levels or
    observations for a term, fewer residual degrees of freedom than variance parameters, a constant
    response, a slope next to an intercept that is constant within every level, a response that is
    constant within every level of a factor (an exact fit); None when it can be fitted."""
    df = design.data
    y = df["y"].to_numpy()
    n = y.size
    if np.ptp(y) == 0:
        return "constant response"
    ntheta = sum(t.ntheta for t in design.terms)
    if n - len(design.fixed) < ntheta + 1:
        return f"{n} observations, {len(design.fixed)} fixed effects, {ntheta + 1} variance parameters"
    for t in design.terms:
        codes = level_codes(df, t.group)
        nlev = int(codes.max()) + 1
        k = len(t.columns) if t.correlated else 1  # an uncorrelated term is k terms of one column
        if nlev < 2 or nlev >= n or nlev * k >= n:
            return f"{t.formula()}: {nlev} levels x {k} columns for {n} observations"
        if "1" in t.columns and t.correlated:
            for c in t.columns[1:]:
                v = df[c].to_numpy()
                spread = np.zeros(nlev)
                np.maximum.at(spread, codes, np.abs(v - _level_means(v, codes, nlev)[codes]))
                if spread.max() <= 1e-7 * max(np.abs(v - v.mean()).max(), 1e-300):
                    return f"{t.formula()}: {c!r} constant within every level of {t.group!r}"
    for grp in {t.group for t in design.terms}:
        codes = level_codes(df, grp)
        nlev = int(codes.max()) + 1
        resid = np.abs(y - _level_means(y, codes, nlev)[codes])
        if resid.max() <= 1e-9 * np.abs(y - y.mean()).max():
            return f"response constant within every level of {grp!r} (an exact fit)"
    return None


def level_codes(df: pd.DataFrame, group: str) -> np.ndarray:
    """Integer level codes of a grouping factor (``a:b`` is the interaction of a and b)."""
    key = df[group.split(":")[0]].astype(str)
    for part in group.split(":")[1:]:
        key = key + ":" + df[part].astype(str)
    return pd.factorize(key)[0]


def _level_means(v: np.ndarray, codes: np.ndarray, nlev: int) -> np.ndarray:
    """Mean of v within each level."""
    return np.bincount(codes, weights=v, minlength=nlev) / np.bincount(codes, minlength=nlev)
