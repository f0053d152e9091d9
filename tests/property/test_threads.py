"""The core's thread pool changes who computes, never what: `Engine.objective`, `Engine.gradient`,
the factor L itself and the cross-products are bitwise the same for threads = 1, 2 and 3 on designs
large enough for every threaded kernel to cut its work into chunks (the dense fill-in of crossed
factors, dense-times-sparse updates, the per-level work of a large factor, the gradient's selected
inversion, the pass over many rows)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from scipy import sparse

from mixedmodels import _core
from tests.engine_helpers import layout_of, theta_map

THREADS = (1, 2, 3)


def _design(kind: str, seed: int = 7):
    """(y, x, factors) of a design whose engine takes the chunked paths of the named kind."""
    rng = np.random.default_rng(seed)
    specs: list[tuple[np.ndarray, int, int]] = []  # (codes, nlev, k)
    if kind == "single":  # one factor with many levels and 2 x 2 blocks: per-level chunks
        n, nlev = 120_000, 30_000
        specs.append((np.concatenate([np.arange(nlev), rng.integers(0, nlev, n - nlev)]), nlev, 2))
    elif kind == "crossed_dense":  # crossed intercepts whose second diagonal block fills in densely
        n, n0, n1 = 150_000, 5_000, 500  # 150,000 rows: the pass over them in chunks too
        specs.append((np.concatenate([np.arange(n0), rng.integers(0, n0, n - n0)]), n0, 1))
        specs.append((rng.integers(0, n1, n), n1, 1))
    elif kind == "crossed_vector":  # a vector term crossed with an intercept: the general fill-in kernel
        n, n0, n1 = 40_000, 1_500, 200
        specs.append((np.concatenate([np.arange(n0), rng.integers(0, n0, n - n0)]), n0, 2))
        specs.append((rng.integers(0, n1, n), n1, 1))
    elif kind == "three":  # a third factor dense against the first: dense-times-sparse updates
        n, n0, n1, n2 = 50_000, 2_000, 300, 40
        specs.append((np.concatenate([np.arange(n0), rng.integers(0, n0, n - n0)]), n0, 1))
        specs.append((rng.integers(0, n1, n), n1, 1))
        specs.append((rng.integers(0, n2, n), n2, 1))
    elif kind == "nested":  # inner levels within outer ones: block-diagonal and sparse blocks only
        n, outer, per = 150_000, 4_000, 5
        inner = outer * per
        codes = np.concatenate([np.arange(inner), rng.integers(0, inner, n - inner)])
        specs.append((codes, inner, 2))
        specs.append((codes // per, outer, 1))
    else:
        raise ValueError(kind)
    x = np.column_stack([np.ones(n), rng.normal(size=n), rng.normal(size=n)])
    y = x @ np.array([1.0, 0.5, -0.3]) + rng.normal(size=n)
    factors, first = [], 0
    for codes, nlev, k in specs:
        z = np.column_stack([np.ones(n)] + [rng.normal(size=n) for _ in range(k - 1)])
        effects = rng.normal(size=(nlev, k))
        y += np.sum(z * effects[codes], axis=1)
        ti, tr, tc = theta_map(k, False, first)
        first += ti.size
        factors.append((codes.astype(np.int32), nlev, z, ti, tr, tc))
    return y, x, factors


def _cross_products(y, x, factors, threads: int) -> _core.CrossProducts:
    cp = _core.CrossProducts(layout_of(x, factors))
    cp.add_rows(y, x, [f[0] for f in factors], [f[2] for f in factors], threads=threads)
    return cp


def _thetas(ntheta: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.uniform(0.2, 1.5, ntheta), rng.uniform(0.01, 0.3, ntheta)]


@pytest.fixture(scope="module", params=["single", "crossed_dense", "crossed_vector", "three", "nested"])
def design(request):
    return request.param, _design(request.param)


def test_objective_gradient_and_factor_bitwise_equal_across_threads(design):
    kind, (y, x, factors) = design
    cp = _cross_products(y, x, factors, 1)
    results = {}
    for threads in THREADS:
        engine = _core.Engine(cp, threads=threads)
        assert engine.threads == threads
        out = []
        for theta in _thetas(engine.ntheta, 3):
            for reml in (True, False):
                value, grad = engine.gradient(theta, reml)
                out.append((engine.objective(theta, reml), value, grad.tobytes()))
            est = engine.estimates(theta)
            out += [est.criterion.ldL2, est.criterion.pwrss, est.beta.tobytes(), est.b.tobytes()]
        results[threads] = out
    assert results[2] == results[1], kind
    assert results[3] == results[1], kind
    assert _core.thread_pool_workers() >= 2  # the pool ran chunks on its workers


def test_cross_products_bitwise_equal_across_threads(design):
    kind, (y, x, factors) = design
    sums = {}
    for threads in THREADS:
        cp = _cross_products(y, x, factors, threads)
        sums[threads] = pickle.dumps(cp)  # every block's values and remainders, the counts
    assert sums[2] == sums[1], kind
    assert sums[3] == sums[1], kind


def test_one_factor_with_too_many_levels_for_chunks_of_rows_is_summed_by_slices_of_levels():
    """200,000 levels of a three-column term: one chunk of rows, its levels cut among the threads
    (each level's additions in row order as on one thread): the same bits for every count."""
    rng = np.random.default_rng(5)
    n, nlev = 250_000, 200_000
    codes = np.concatenate([np.arange(nlev), rng.integers(0, nlev, n - nlev)]).astype(np.int32)
    rng.shuffle(codes)
    z = np.column_stack([np.ones(n), rng.normal(size=n), rng.normal(size=n)])
    x = np.column_stack([np.ones(n), rng.normal(size=n)])
    y = rng.normal(size=n) + 3.0
    factors = [(codes, nlev, z, *theta_map(3))]
    sums = [pickle.dumps(_cross_products(y, x, factors, threads)) for threads in THREADS]
    assert all(s == sums[0] for s in sums[1:])


@pytest.mark.parametrize(("k", "p"), [(2, 1), (4, 6)])  # compiled sizes; sizes at run time
def test_levels_of_very_unequal_sizes_are_sliced_by_rows_with_the_same_bits(k, p):
    """Half the rows in one level, the rest skewed over 20,000 (weighted): the slices of the levels
    are cut by rows (the first slice, which also sums [X y]'[X y], has one level), and every thread
    count gives the same bits as one pass over the rows."""
    rng = np.random.default_rng(8)
    n, nlev = 300_000, 20_000
    codes = np.where(rng.uniform(size=n) < 0.5, 0, np.minimum(rng.geometric(2e-4, n), nlev - 1)).astype(np.int32)
    z = np.column_stack([np.ones(n)] + [rng.normal(size=n) for _ in range(k - 1)])
    x = np.column_stack([np.ones(n)] + [rng.normal(size=n) for _ in range(p - 1)])
    y = rng.normal(size=n) + 3.0
    w = rng.uniform(0.5, 2.0, n)
    factors = [(codes, nlev, z, *theta_map(k))]
    sums = []
    for threads in THREADS:
        cp = _core.CrossProducts(layout_of(x, factors))
        cp.add_rows(y, x, [codes], [z], w, threads=threads)
        sums.append(pickle.dumps(cp))
    assert all(s == sums[0] for s in sums[1:])


def test_the_row_pass_in_chunks_equals_one_pass_to_rounding():
    """Rows cut into chunks sum, in double-double, to the one-pass sums rounded to double."""
    rng = np.random.default_rng(11)
    n = 300_000
    x = np.column_stack([np.ones(n), rng.normal(size=n)])
    codes = rng.integers(0, 50, n).astype(np.int32)
    z = np.ones((n, 1))
    y = rng.normal(size=n) + 1e3
    factors = [(codes, 50, z, *theta_map(1))]
    whole = _core.CrossProducts(layout_of(x, factors))
    for lo in range(0, n, 50_000):  # pieces below the chunk size: each one pass
        hi = min(n, lo + 50_000)
        whole.add_rows(y[lo:hi], x[lo:hi], [codes[lo:hi]], [z[lo:hi]], threads=1)
    chunked = _cross_products(y, x, factors, 2)
    a, b = _core.Engine(whole).dense(False), _core.Engine(chunked).dense(False)
    np.testing.assert_allclose(b, a, rtol=1e-15, atol=0)


@pytest.mark.parametrize("family", ["poisson", "binomial"])
@pytest.mark.parametrize("joint", [True, False])
def test_pirls_is_bitwise_the_same_for_every_thread_count(family, joint):
    """PIRLS' passes over the rows (the linear predictor and deviance, the working weights, the
    one-factor fill of A) run in chunks fixed by the number of rows: 150,000 rows cut into 6-9 chunks,
    the same modes, deviance and log-determinant bit for bit on 1, 2 and 3 threads."""
    import mixedmodels as mm
    from mixedmodels.glmm import GeneralizedLinearMixedModel

    rng = np.random.default_rng(11)
    n, nlev = 150_000, 3_000
    g = rng.integers(0, nlev, n)
    x = rng.normal(size=n)
    eta = -0.3 + 0.4 * x + rng.normal(size=nlev)[g] * 0.8
    y = rng.poisson(np.exp(eta)) if family == "poisson" else (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(int)
    import pandas as pd

    d = pd.DataFrame({"y": y, "x": x, "g": pd.Categorical(g)})
    fam = mm.families.Poisson() if family == "poisson" else mm.families.Binomial()
    model = GeneralizedLinearMixedModel.from_formula("y ~ x + (1 | g)", d, fam)
    theta, beta = np.array([0.8]), np.array([-0.3, 0.4])
    out = []
    for t in THREADS:
        model.set_threads(t)
        res = model.pirls(theta, None if joint else beta)
        out.append((res.u.tobytes(), res.beta.tobytes(), res.mu.tobytes(), res.dev_resid, res.ldl2, res.iterations))
    assert out[1:] == out[:-1]


def test_glmer_takes_threads_and_checks_them():
    import mixedmodels as mm

    cbpp = mm.datasets.load("cbpp")
    formula = "cbind(incidence, size - incidence) ~ period + (1 | herd)"
    one = mm.glmer(formula, cbpp, threads=1)
    two = mm.glmer(formula, cbpp, threads=2)
    assert one.loglik == two.loglik
    with pytest.raises(ValueError, match="threads"):
        mm.glmer(formula, cbpp, threads=0)
    ticks = mm.datasets.load("grouseticks")
    nb = mm.glmer_nb("TICKS ~ YEAR + (1 | LOCATION)", ticks, threads=1)
    assert nb.glmm.threads == 1


@pytest.mark.parametrize("weighted", [False, True])
def test_rows_added_chunk_by_chunk_into_one_sum_equal_new_sums_added(weighted):
    """A stream adds each chunk's rows into the same cross-products (one factor: its level sums'
    memory reused): bitwise the sums of new cross-products per chunk added together, on every
    thread count; frozen, they take no more rows."""
    rng = np.random.default_rng(21)
    n, nlev = 400_000, 60_000
    codes = rng.integers(0, nlev, n).astype(np.int32)
    z = np.column_stack([np.ones(n), rng.normal(size=n), rng.normal(size=n)])
    x = np.column_stack([np.ones(n), rng.normal(size=n)])
    y = rng.normal(size=n) + 5.0
    w = rng.uniform(0.5, 2.0, n) if weighted else None
    factors = [(codes, nlev, z, *theta_map(3))]
    cuts = [0, 150_000, 150_001, 290_000, n]
    parts = _core.CrossProducts(layout_of(x, factors))
    for a, b in zip(cuts[:-1], cuts[1:], strict=True):
        part = _core.CrossProducts(layout_of(x, factors))
        part.add_rows(y[a:b], x[a:b], [codes[a:b]], [z[a:b]], None if w is None else w[a:b], threads=1)
        parts.add(part)
    want = pickle.dumps(parts)
    for threads in THREADS:
        into = _core.CrossProducts(layout_of(x, factors))
        for a, b in zip(cuts[:-1], cuts[1:], strict=True):
            into.add_rows(y[a:b], x[a:b], [codes[a:b]], [z[a:b]], None if w is None else w[a:b], threads=threads)
        assert pickle.dumps(into) == want, threads
        into.freeze()
        with pytest.raises(_core.InvalidInputError, match="final"):
            into.add_rows(y[:10], x[:10], [codes[:10]], [z[:10]], threads=threads)


def test_several_factors_weighted_rows_in_one_pass_per_block_row():
    """With several factors each block row of A (a pair of factors, a factor's own blocks,
    [X y]'s) is summed in its own pass over the rows: bitwise the same on every thread count,
    with weights and a vector term; A equals the dense weighted cross-product to rounding, and
    rows added in batches give it too."""
    rng = np.random.default_rng(5)
    n = 40_000
    specs = [(rng.integers(0, 500, n), 500, 2), (rng.integers(0, 120, n), 120, 1), (rng.integers(0, 15, n), 15, 1)]
    x = np.column_stack([np.ones(n), rng.normal(size=n)])
    y = rng.normal(size=n) + 3.0
    w = rng.uniform(0.2, 5.0, n)
    factors, first = [], 0
    for codes, nlev, k in specs:
        z = np.column_stack([np.ones(n)] + [rng.normal(size=n) for _ in range(k - 1)])
        ti, tr, tc = theta_map(k, False, first)
        first += ti.size
        factors.append((codes.astype(np.int32), nlev, z, ti, tr, tc))
    codes, zs = [f[0] for f in factors], [f[2] for f in factors]
    sums = []
    for threads in THREADS:
        cp = _core.CrossProducts(layout_of(x, factors))
        cp.add_rows(y, x, codes, zs, w, threads=threads)
        sums.append(pickle.dumps(cp))
    assert sums[1] == sums[0]
    assert sums[2] == sums[0]
    batches = _core.CrossProducts(layout_of(x, factors))
    for a, b in ((0, 7), (7, 25_000), (25_000, n)):
        batches.add_rows(y[a:b], x[a:b], [c[a:b] for c in codes], [z[a:b] for z in zs], w[a:b], threads=2)
    got = np.tril(_core.Engine(pickle.loads(sums[0])).dense(False))
    again = np.tril(_core.Engine(batches).dense(False))
    columns = []
    for c, (_, nlev, k), z in zip(codes, specs, zs, strict=True):
        at = (c[:, None] * k + np.arange(k)).ravel()
        columns.append(sparse.csr_matrix((z.ravel(), at, np.arange(0, n * k + 1, k)), shape=(n, nlev * k)))
    m = sparse.hstack([*columns, sparse.csr_matrix(np.column_stack([x, y]))]).tocsr()
    dense = np.tril((m.T @ sparse.diags(w) @ m).toarray())
    scale = np.abs(dense).max()
    np.testing.assert_allclose(got, dense, rtol=0, atol=1e-12 * scale)
    np.testing.assert_allclose(again, got, rtol=0, atol=1e-15 * scale)
