"""The fill-reducing order of a dense diagonal block's levels (cpp/level_order.cpp) and its
supernodal factor (cpp/supernodal_potrf.cpp): an engine that reorders gives what one that keeps the
levels in their own order gives, in the model's order, to rounding; and the same bits on every
thread count."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import mixedmodels as mm
from mixedmodels import _core
from mixedmodels.model import LinearMixedModel

Engine = _core.Engine  # (the tests below put subclasses of it in its place)


def banded_crossed(seed: int, n: int = 6000, n1: int = 2000, n2: int = 400, slope: bool = False) -> pd.DataFrame:
    """Two crossed factors whose crossing is local (each level of g1 meets a few neighbouring levels
    of g2): g2's diagonal block fills in dense in its own order, sparse in a fill-reducing one."""
    rng = np.random.default_rng(seed)
    g1 = rng.integers(0, n1, n)
    g2 = (g1 * n2 // n1 + rng.integers(0, 4, n)) % n2
    x = rng.normal(size=n)
    b1, b2 = rng.normal(size=n1), rng.normal(size=(n2, 2))
    y = 1 + 0.5 * x + b1[g1] + b2[g2, 0] + (0.5 * b2[g2, 1] * x if slope else 0) + rng.normal(size=n)
    # labels shuffled against the locality, as real data would have them
    p1, p2 = rng.permutation(n1), rng.permutation(n2)
    return pd.DataFrame({"y": y, "x": x, "g1": [f"a{v}" for v in p1[g1]], "g2": [f"b{v}" for v in p2[g2]]})


FORMULAS = {
    False: "y ~ x + (1 | g1) + (1 | g2)",
    True: "y ~ x + (1 | g1) + (1 + x | g2)",
}


@pytest.fixture(scope="module", params=[(0, False), (1, True)], ids=["intercepts", "slope"])
def engines(request):
    seed, slope = request.param
    frame = banded_crossed(seed, slope=slope)
    model = LinearMixedModel.from_formula(FORMULAS[slope], frame)
    reordered = model.new_engine()
    plain = _core.Engine(model._factored, reorder=False)
    return model, reordered, plain, frame


def theta_of(model: LinearMixedModel, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    lower = model.structure.theta.lower
    return np.where(lower == 0.0, rng.uniform(0.3, 1.5, lower.size), rng.uniform(-0.3, 0.3, lower.size))


def test_dense_block_is_reordered(engines):
    model, reordered, plain, frame = engines
    order = reordered.level_order
    assert [o.size for o in plain.level_order] == [0, 0]
    assert order[0].size == 0
    assert np.array_equal(np.sort(order[1]), np.arange(400))  # a permutation of g2's levels
    assert not np.array_equal(order[1], np.arange(400))
    kinds = [[[str(b) for b in row] for row in e.describe()] for e in (reordered, plain)]
    assert kinds[0] == kinds[1]


@pytest.mark.parametrize("reml", [True, False])
def test_criterion_gradient_and_estimates_match_the_levels_own_order(engines, reml):
    model, reordered, plain, frame = engines
    for seed in range(3):
        theta = theta_of(model, seed)
        assert reordered.objective(theta, reml) == pytest.approx(plain.objective(theta, reml), rel=1e-13)
        v1, g1 = reordered.gradient(theta, reml)
        v2, g2 = plain.gradient(theta, reml)
        assert v1 == pytest.approx(v2, rel=1e-13)
        np.testing.assert_allclose(g1, g2, rtol=1e-9, atol=1e-9 * np.max(np.abs(g2)))
        e1, e2 = reordered.estimates(theta), plain.estimates(theta)
        np.testing.assert_allclose(e1.beta, e2.beta, rtol=1e-11)
        np.testing.assert_allclose(e1.b, e2.b, rtol=1e-9, atol=1e-11)
        np.testing.assert_allclose(e1.rx_inverse_crossprod, e2.rx_inverse_crossprod, rtol=1e-10)
        beta1, u1 = reordered.solve()
        beta2, u2 = plain.solve()
        np.testing.assert_allclose(u1, u2, rtol=1e-9, atol=1e-11)
        for c1, c2 in zip(reordered.condcov(), plain.condcov(), strict=True):
            np.testing.assert_allclose(c1, c2, rtol=1e-9, atol=1e-13)


def updated(engines, seed: int):
    """The fixture's engines updated at a theta, the factors, and each row's levels of g1 and g2."""
    model, reordered, plain, frame = engines
    theta = theta_of(model, seed)
    reordered.update(theta)
    plain.update(theta)
    f1, f2 = model.structure.factors
    l1 = pd.Categorical(frame["g1"], categories=f1.levels).codes
    l2 = pd.Categorical(frame["g2"], categories=f2.levels).codes
    assert l1.min() >= 0
    assert l2.min() >= 0
    return reordered, plain, f1, f2, l1, l2


def test_solves_and_inverse_at_rows_take_the_models_order(engines):
    reordered, plain, f1, f2, l1, l2 = updated(engines, 4)
    q = f1.nlev * f1.k + f2.nlev * f2.k
    rhs = np.random.default_rng(5).normal(size=(q, 3))
    np.testing.assert_allclose(reordered.solve_zz(rhs), plain.solve_zz(rhs), rtol=1e-9, atol=1e-11)
    # each row's columns (model order): its g1 level's, then its g2 level's
    base = f1.nlev * f1.k
    idx = np.column_stack([l1, *[base + l2 * f2.k + a for a in range(f2.k)]])[:200]
    np.testing.assert_allclose(reordered.inverse_at_rows(idx), plain.inverse_at_rows(idx), rtol=1e-9, atol=1e-13)


def test_bitwise_the_same_on_every_thread_count(engines):
    model = engines[0]
    theta = theta_of(model, 7)
    found = []
    for threads in (1, 2, 3):
        e = model.new_engine()
        e.threads = threads
        v, g = e.gradient(theta, True)
        found.append((v, g.tobytes(), e.estimates(theta).b.tobytes()))
    assert found[0] == found[1] == found[2]


def test_second_engine_takes_the_first_ones_order(engines):
    model, reordered = engines[:2]
    twin = model.new_engine(working=True, like=reordered)
    assert all(np.array_equal(a, b) for a, b in zip(twin.level_order, reordered.level_order, strict=True))
    theta = theta_of(model, 8)
    assert twin.objective(theta, True) == reordered.objective(theta, True)


def test_fit_matches_the_fit_in_the_levels_own_order(monkeypatch):
    frame = banded_crossed(2)
    fit = mm.lmer(FORMULAS[False], frame)
    assert fit.converged

    class Plain(Engine):
        def __init__(self, *args, **kwargs):
            kwargs.pop("like", None)
            super().__init__(*args, reorder=False, **kwargs)

    monkeypatch.setattr(_core, "Engine", Plain)
    plain = mm.lmer(FORMULAS[False], frame)
    assert plain.objective == pytest.approx(fit.objective, rel=1e-12)
    np.testing.assert_allclose(fit.theta, plain.theta, rtol=1e-7)
    r1, r2 = fit.ranef, plain.ranef
    for name in ("g1", "g2"):
        np.testing.assert_allclose(r1[name].to_numpy(), r2[name].to_numpy(), rtol=1e-6, atol=1e-9)
        assert list(r1[name].index) == list(r2[name].index)


def test_glmer_matches_the_fit_in_the_levels_own_order(monkeypatch):
    frame = banded_crossed(3, n=5000, n1=1500, n2=300)
    frame["y"] = (frame["y"] > frame["y"].median()).astype(float)
    seen = []

    class Seen(Engine):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            seen.append(self.level_order[1].size)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        monkeypatch.setattr(_core, "Engine", Seen)
        fit = mm.glmer("y ~ x + (1 | g1) + (1 | g2)", frame, family="binomial")
        assert seen
        assert all(size == 300 for size in seen)  # PIRLS' engines reordered g2's levels

        class Plain(Engine):
            def __init__(self, *args, **kwargs):
                kwargs.pop("like", None)
                super().__init__(*args, reorder=False, **kwargs)

        monkeypatch.setattr(_core, "Engine", Plain)
        plain = mm.glmer("y ~ x + (1 | g1) + (1 | g2)", frame, family="binomial")
    assert plain.deviance == pytest.approx(fit.deviance, rel=1e-9)
    np.testing.assert_allclose(fit.theta, plain.theta, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(fit.fixef.to_numpy(), plain.fixef.to_numpy(), rtol=1e-5, atol=1e-7)


def test_like_of_another_pattern_is_not_taken(engines):
    # an engine of another design with the same sizes: its order is not this pattern's, so the
    # new engine finds its own (that of an engine formed without like)
    model, reordered = engines[:2]
    other = LinearMixedModel.from_formula(
        FORMULAS[model.structure.factors[1].k == 2], banded_crossed(11, slope=model.structure.factors[1].k == 2)
    )
    own = other.new_engine()
    taken = other.new_engine(like=reordered)
    assert not np.array_equal(own.level_order[1], reordered.level_order[1])
    assert np.array_equal(taken.level_order[1], own.level_order[1])
    with pytest.raises(TypeError, match="like must be an Engine or None"):
        _core.Engine(other._factored, like=3)


def test_inverse_at_rows_refuses_pairs_off_the_structure(engines):
    # two levels of the reordered factor in one row: on the factor's structure (levels that share a
    # level of g1) the inverse's entries, off it InvalidInputError, never another number
    reordered, plain, f1, f2, l1, l2 = updated(engines, 9)
    base = f1.nlev * f1.k
    pairs = pd.DataFrame({"a": l1, "b": l2}).drop_duplicates()
    shared = pairs.merge(pairs, on="a")
    shared = shared[shared.b_x < shared.b_y].head(300)
    idx = np.column_stack([base + shared.b_x.to_numpy() * f2.k, base + shared.b_y.to_numpy() * f2.k])
    np.testing.assert_allclose(reordered.inverse_at_rows(idx), plain.inverse_at_rows(idx), rtol=1e-9, atol=1e-13)
    rng = np.random.default_rng(10)
    refused = []
    for _ in range(40):
        a, b = rng.integers(0, f2.nlev, 2)
        pair = np.array([[base + a * f2.k, base + b * f2.k]])
        try:
            got = reordered.inverse_at_rows(pair)
        except _core.InvalidInputError as e:
            refused.append(str(e))
            continue
        np.testing.assert_allclose(got, plain.inverse_at_rows(pair), rtol=1e-9, atol=1e-13)
    assert refused
    assert all("not on the factor's pattern" in m for m in refused)


def test_like_passes_on_a_choice_not_to_reorder():
    # an engine that did not reorder (here: told not to) hands that choice to one formed like it
    model = LinearMixedModel.from_formula(FORMULAS[False], banded_crossed(12))
    plain = _core.Engine(model._factored, reorder=False)
    assert model.new_engine().level_order[1].size == 400
    assert model.new_engine(like=plain).level_order[1].size == 0


def minimum_degree_reference(n: int, columns: list[np.ndarray]) -> list[int]:
    """level_order.cpp's order, written out in Python: explicit minimum degree on the graph whose
    cliques are the columns' levels (among the levels of least degree, the one linked last: each
    relinked when its degree changes, in ascending order), postordered along the elimination tree."""
    adj = [set() for _ in range(n)]
    for col in columns:
        for a in col.tolist():
            adj[a].update(col.tolist())
    for v in range(n):
        adj[v].discard(v)
    alive = set(range(n))
    degree = [len(adj[v]) for v in range(n)]
    lists: dict[int, dict[int, None]] = {}  # degree -> levels in the order linked (the last: the head)

    def link(v: int) -> None:
        lists.setdefault(degree[v], {})[v] = None

    for v in range(n):
        link(v)
    md, below = [], {}
    for _ in range(n):
        least = min(d for d, levels in lists.items() if levels)
        v = next(reversed(lists[least]))
        del lists[least][v]
        alive.discard(v)
        nb = sorted(adj[v] & alive)
        md.append(v)
        below[v] = nb
        for u in nb:
            adj[u].update(nb)
            adj[u].discard(u)
            del lists[degree[u]][u]
            degree[u] = len(adj[u] & alive)
            link(u)
    at_step = {v: s for s, v in enumerate(md)}
    children: list[list[int]] = [[] for _ in range(n)]
    roots = []
    for s, v in enumerate(md):
        parents = [at_step[u] for u in below[v]]
        (children[min(parents)] if parents else roots).append(s)
    post: list[int] = []

    def visit(s: int) -> None:
        for c in children[s]:
            visit(c)
        post.append(s)

    for r in roots:
        visit(r)
    return [md[s] for s in post]


@pytest.mark.parametrize("dense", [False, True], ids=["local", "clique"])
def test_order_is_explicit_minimum_degree(dense):
    # the engine's order against the elimination written out in Python: a local crossing (a
    # sparse factor), and a random one whose last levels form a clique (eliminated at once)
    if dense:  # a tenth of the rows crossed at random: the last 187 of the 400 levels form a clique
        rng = np.random.default_rng(11)
        n, n1, n2 = 6000, 2000, 400
        g1 = rng.integers(0, n1, n)
        g2 = (g1 * n2 // n1 + rng.integers(0, 4, n)) % n2
        scattered = rng.random(n) < 0.1
        g2[scattered] = rng.integers(0, n2, int(scattered.sum()))
        frame = pd.DataFrame({"y": rng.normal(size=n), "g1": g1, "g2": g2})
    else:
        frame = banded_crossed(4)
    model = LinearMixedModel.from_formula("y ~ 1 + (1 | g1) + (1 | g2)", frame)
    order = model.new_engine().level_order[1]
    assert order.size > 0
    codes1 = pd.Categorical(frame.g1).codes
    codes2 = pd.Categorical(frame.g2).codes
    n2 = int(codes2.max()) + 1
    pairs = pd.DataFrame({"a": codes1, "b": codes2}).drop_duplicates().sort_values(["a", "b"])
    columns = [grp.to_numpy() for _, grp in pairs.groupby("a")["b"]]
    assert order.tolist() == minimum_degree_reference(n2, columns)
