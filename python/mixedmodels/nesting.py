"""emmeans' nesting of the factors of a reference grid: which factor is nested in which (its
``.find_nests``, from the cells that hold observations), and marginal means that average a nested
factor only over the levels each of its nests holds (its ``.nested_emm``).

A factor of the grid (a factor, a covariate coerced to one by ``factor(x)``, or one kept at its two
values) is nested in another when, among the cells with observations, each of its levels occurs
with one level of the other: ``x %in% f`` for ``factor(x > 0) * f`` with a continuous x, ``bird
%in% nest`` where each bird belongs to one nest. A mean over such a factor averages, within each
level of its nests, over the levels that occur there, then over the nests; a nested factor named
in the specs brings its nests along, and only the combinations that occur are shown. A formula's
terms say a nesting too (`formula_nests`): ``set/trt`` or ``trt %in% set`` nests trt in set, whose
levels may repeat across the sets.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["Average", "averages", "displayed", "find_nests", "formula_nests", "nested_specs"]

Codes = Mapping[str, NDArray[np.intp]]


def find_nests(
    names: Sequence[str], codes: Codes, weights: NDArray[np.int64], declared: Mapping[str, list[str]] | None = None
) -> dict[str, list[str]]:
    """Each factor nested in others, and those others (emmeans' ``.find_nests`` from the grid):
    ``names`` the grid's factors of more than one level in the grid's order, ``codes`` their level
    codes per cell, ``weights`` the observations per cell; ``declared``, the nesting the formula's
    terms say (`formula_nests`), joins what the cells say.

    Examples
    --------
    >>> codes = {"bird": np.array([0, 1, 2, 3, 0, 1, 2, 3]), "nest": np.array([0, 0, 0, 0, 1, 1, 1, 1])}
    >>> find_nests(["bird", "nest"], codes, np.array([5, 4, 0, 0, 0, 0, 3, 6]))
    {'bird': ['nest']}
    >>> find_nests(["bird", "nest"], codes, np.ones(8, dtype=np.int64))
    {}
    """
    seen = np.asarray(weights) > 0
    result: dict[str, list[str]] = {}
    if len(names) < 2:
        return result
    for nm in names:
        excluded = {other for other, nests in result.items() if nm in nests}
        inside = []
        for other in names:
            if other == nm or other in excluded:
                continue
            pairs = np.unique(np.stack([codes[nm][seen], codes[other][seen]]), axis=1)
            per_level = np.bincount(pairs[0]) if pairs.size else np.zeros(0, dtype=np.int64)
            if per_level.size and int(per_level.max()) == 1:
                inside.append(other)
        if inside:
            result[nm] = inside
    for nm, nests in (declared or {}).items():
        result[nm] = _union(result.get(nm, []), nests)
    for nm in list(result):  # (in order: a later factor sees an earlier one's completed nests)
        result[nm] = _union([n for k in result[nm] for n in result.get(k, [])], result[nm])
    return {nm: nests for nm, nests in result.items() if nm not in nests}


def formula_nests(terms: Sequence[frozenset[str]], names: Sequence[str]) -> dict[str, list[str]]:
    """The nesting a formula's terms say (emmeans' reading of R's ``terms`` factors): a factor of
    ``names`` without a main effect is nested in the factors that its terms (``terms``: each one's
    variables) code by dummies, those whose removal from the term leaves no term of the formula
    (``c/b``, ``b %in% c``: b in c; ``a:b`` alone nests neither, as each would be in the other).

    Examples
    --------
    >>> t = [frozenset({"c"}), frozenset({"c", "b"}), frozenset({"t"})]
    >>> formula_nests(t, ["c", "b", "t"])
    {'b': ['c']}
    >>> formula_nests([frozenset({"a"}), frozenset({"b"}), frozenset({"a", "b"})], ["a", "b"])
    {}
    """
    present = set(terms)
    main = {next(iter(t)) for t in terms if len(t) == 1}
    result: dict[str, list[str]] = {}
    for nm in names:
        if nm in main:
            continue
        mine = [t for t in terms if nm in t]
        coded = [t for t in mine if t - {nm} in present] or mine  # (emmeans: else those coding it by dummies)
        per_term = [[u for u in names if u in t and u != nm and t - {u} not in present] for t in coded]
        nests = _strip_supersets([p for p in per_term if p])
        if nests:
            result[nm] = nests
    return result


def _strip_supersets(sets: list[list[str]]) -> list[str]:
    """emmeans' ``.strip.supersets``: the sets without those containing another, joined."""
    ordered = sorted(sets, key=len)
    kept = [s for i, s in enumerate(ordered) if not any(set(o) <= set(s) for o in ordered[:i])]
    return _union(*kept)


def _union(*parts: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(n for p in parts for n in p))


def nested_specs(
    specs: Sequence[str], by: Sequence[str], nesting: Mapping[str, list[str]]
) -> tuple[list[str], list[str], list[str]]:
    """The variables of a mean under ``nesting``, as emmeans orders them: (the order of the rows'
    combinations, the first fastest; the primary variables; the ``by`` variables). A nested factor
    named in the specs or ``by`` comes first, its nests after it; one in ``by`` brings its nests
    into ``by`` before it.

    Examples
    --------
    >>> nested_specs(["bird"], [], {"bird": ["nest"]})
    (['bird', 'nest'], ['bird', 'nest'], [])
    >>> nested_specs(["h"], ["bird"], {"bird": ["nest"]})
    (['bird', 'nest', 'h'], ['h'], ['nest', 'bird'])
    """
    inner = [v for v in _union(specs, by) if v in nesting]
    order = _union(inner, [n for v in inner for n in nesting[v]], specs, [b for b in by if b not in inner])
    nested_by = [b for b in by if b in nesting]
    by_out = _union([n for b in nested_by for n in nesting[b]], by) if nested_by else list(by)
    return order, [v for v in order if v not in by_out], by_out


@dataclass(frozen=True)
class Average:
    """One marginal mean: its variables' level codes, the grid cells it averages (``cells``) with
    their ``weights`` (summing to 1), and the observations it covers (emmeans' ``.wgt.``)."""

    key: tuple[int, ...]
    cells: NDArray[np.intp]
    weights: NDArray[np.float64]
    observations: int


@dataclass(frozen=True)
class _Row:
    values: dict[str, int]
    cells: NDArray[np.intp]
    weights: NDArray[np.float64]
    observations: int


def averages(
    codes: Codes, observations: NDArray[np.int64], specs: Sequence[str], nesting: Mapping[str, list[str]]
) -> list[Average]:
    """The marginal means over the grid's cells for the combinations of ``specs`` (variables of
    ``codes``) that hold cells, in the order of their codes with the first fastest, as emmeans
    averages them under ``nesting``: each nested factor averaged over (the one with the most nests
    first) is averaged within each combination of its nests (and of the other nested factors
    averaged over) over the levels that hold observations there, equal weights; then those means
    over the rest, the remaining nesting applied again.

    Examples
    --------
    >>> codes = {"bird": np.array([0, 1, 2, 0, 1, 2]), "nest": np.array([0, 0, 0, 1, 1, 1])}
    >>> out = averages(codes, np.array([3, 2, 0, 0, 0, 4]), ["nest"], {"bird": ["nest"]})
    >>> [(a.key, a.cells.tolist(), a.weights.tolist(), a.observations) for a in out]
    [((0,), [0, 1], [0.5, 0.5], 5), ((1,), [5], [1.0], 4)]
    """
    n = len(observations)
    rows = [
        _Row({k: int(v[i]) for k, v in codes.items()}, np.array([i], dtype=np.intp), np.ones(1), int(observations[i]))
        for i in range(n)
    ]
    out = _average(rows, list(specs), dict(nesting))
    result = []
    for r in out:
        cells, inverse = np.unique(r.cells, return_inverse=True)
        weights = np.asarray(np.bincount(inverse, weights=r.weights, minlength=cells.size), dtype=np.float64)
        result.append(Average(tuple(r.values[s] for s in specs), cells, weights, r.observations))
    return result


def _plain(rows: list[_Row], specs: list[str]) -> list[_Row]:
    """Equal-weight means of the rows per combination of specs, in code order (the first fastest)."""
    groups: dict[tuple[int, ...], list[_Row]] = {}
    for r in rows:
        groups.setdefault(tuple(r.values[s] for s in specs), []).append(r)
    out = []
    for key in sorted(groups, key=lambda k: k[::-1]):
        members = groups[key]
        out.append(
            _Row(
                dict(zip(specs, key, strict=True)),
                np.concatenate([m.cells for m in members]),
                np.concatenate([m.weights for m in members]) / len(members),
                sum(m.observations for m in members),
            )
        )
    return out


def _average(rows: list[_Row], specs: list[str], nesting: dict[str, list[str]]) -> list[_Row]:
    present = set(rows[0].values) if rows else set()
    avg = [f for f in nesting if f in present and f not in specs]
    if not avg:
        return _plain(rows, specs)
    sizes = [len(nesting[f]) for f in avg]
    first = max(range(len(avg)), key=lambda i: (sizes[i], i))  # emmeans: the last of the largest
    afac = avg[first]
    others = [f for f in avg if f != afac]
    # (the other nested factors' nests too: emmeans leaves them out and then fails to find them)
    groups = _union(nesting[afac], others, [n for f in others for n in nesting[f]])
    gspecs = _union(specs, groups)
    by_group: dict[tuple[int, ...], list[_Row]] = {}
    for r in rows:
        by_group.setdefault(tuple(r.values[g] for g in groups), []).append(r)
    stacked: list[_Row] = []
    for key in sorted(by_group, key=lambda k: k[::-1]):
        members = by_group[key]
        held = {r.values[afac] for r in members if r.observations > 0}
        stacked += _plain([r for r in members if r.values[afac] in held], gspecs)
    rest = {k: v for k, v in nesting.items() if k in gspecs}
    return _average(stacked, specs, rest)


def displayed(
    codes: Codes, observations: NDArray[np.int64], nested: Sequence[str], nesting: Mapping[str, list[str]]
) -> NDArray[np.bool_]:
    """Which rows of a result to show (emmeans' ``.find.nonempty.nests``): not those whose nested
    factor (of ``nested``) and nests form a combination without observations in every row.

    Examples
    --------
    >>> codes = {"bird": np.array([0, 1, 0, 1]), "nest": np.array([0, 0, 1, 1])}
    >>> displayed(codes, np.array([4, 0, 0, 3]), ["bird"], {"bird": ["nest"]}).tolist()
    [True, False, False, True]
    """
    keep = np.ones(len(observations), dtype=bool)
    obs = np.asarray(observations)
    for x in nested:
        facs = _union([x], nesting[x])
        key = np.stack([codes[f] for f in facs], axis=1)
        _, inverse = np.unique(key, axis=0, return_inverse=True)
        inverse = inverse.ravel()
        total = np.bincount(inverse, weights=obs)
        keep &= total[inverse] > 0
    return keep
