"""Figures render headless and show what they claim: the lines are the model's coef, the OLS
fits, or the simulated population; caterpillars show the conditional modes."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import mixedmodels as mm

matplotlib = pytest.importorskip("matplotlib", reason="plots are an optional extra")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


@pytest.fixture(scope="module")
def hsb_fit(fits):
    return fits.fit("mAch ~ ses + (ses | school)", "hsb")


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def _group_lines(ax):
    return {ln.get_gid()[6:]: ln for ln in ax.get_lines() if (ln.get_gid() or "").startswith("group:")}


def test_partial_pooling_lines_are_coef(hsb_fit):
    fig = hsb_fit.plot_group_lines(groups=["1224", "1288", "1296"])
    ax = fig.axes[0]
    lines = _group_lines(ax)
    assert len(lines) == 160
    assert ax.get_xlabel() == "ses"
    assert ax.get_ylabel() == "mAch"
    assert "Partial pooling" in ax.get_title()
    c = hsb_fit.coef["school"].loc["1224"]
    x, y = lines["1224"].get_data()
    np.testing.assert_allclose(y, c["(Intercept)"] + c["ses"] * np.asarray(x))
    assert [t.get_text() for t in ax.get_legend().get_texts()][:3] == ["1224", "1288", "1296"]


def test_no_pooling_lines_are_lmlist(hsb_fit, fits):
    ll = mm.lmlist("mAch ~ ses | school", fits.data("hsb"))
    ax = hsb_fit.plot_group_lines(kind="none").axes[0]
    x, y = _group_lines(ax)["8367"].get_data()
    c = ll.coef.loc["8367"]
    np.testing.assert_allclose(y, c["(Intercept)"] + c["ses"] * np.asarray(x))


def test_population_lines_are_sample_groups(hsb_fit):
    ax = hsb_fit.plot_group_lines(kind="population", seed=4).axes[0]
    s = hsb_fit.sample_groups(160, seed=4)
    lines = _group_lines(ax)
    assert len(lines) == 160
    x, y = lines["sim 1"].get_data()
    np.testing.assert_allclose(y, s["(Intercept)"].iloc[0] + s["ses"].iloc[0] * np.asarray(x))


def test_pooling_figure_shares_axes(hsb_fit):
    fig = hsb_fit.plot_pooling(n=6, seed=2)
    assert len(fig.axes) == 3
    lims = {ax.get_ylim() for ax in fig.axes}
    assert len(lims) == 1
    assert [ax.get_title().split(":")[0] for ax in fig.axes] == [
        "No pooling",
        "Partial pooling",
        "Simulated population",
    ]
    assert sum(1 for t in fig.axes[1].get_legend().get_texts()) == 7  # 6 groups + the average


def test_caterpillar_values(hsb_fit):
    fig = hsb_fit.plot_ranef()
    assert len(fig.axes) == 2
    re = hsb_fit.ranef["school"]
    order = np.argsort(re["(Intercept)"].to_numpy(), kind="stable")
    for ax, term in zip(fig.axes, ["(Intercept)", "ses"], strict=True):
        pts = ax.get_lines()[0].get_xdata()  # one order for both panels: the intercept's
        np.testing.assert_allclose(pts, re[term].to_numpy()[order])
        assert ax.get_xlabel() == f"conditional mode of {term}"
    notes = [c for c in fig.axes[0].get_children() if getattr(c, "get_gid", lambda: None)() == "extreme-label"]
    assert len(notes) == 16  # 160 levels: the 8 lowest and 8 highest are labelled, each joined to its row
    rows = {n.get_text(): n.xy[1] for n in notes}
    assert rows[str(re.index[order[0]])] == 0
    assert rows[str(re.index[order[-1]])] == 159
    assert 3.0 <= fig.get_figheight() <= 10.0


def test_caterpillar_order_by_and_labels(fits):
    s = fits.fit("Reaction ~ Days + (Days | Subject)", "sleepstudy")
    fig = s.plot_ranef(order_by="Days", level=0.9)
    re = s.ranef["Subject"]
    order = np.argsort(re["Days"].to_numpy(), kind="stable")
    np.testing.assert_allclose(fig.axes[0].get_lines()[0].get_xdata(), re["(Intercept)"].to_numpy()[order])
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == [str(v) for v in re.index[order]]
    assert "90% intervals" in fig.get_suptitle()
    with pytest.raises(mm.MixedModelsError, match="order_by='x' is not a random-effect term"):
        s.plot_ranef(order_by="x")
    with pytest.raises(mm.MixedModelsError, match="no grouping factor 'plate'"):
        s.plot_ranef(group="plate")


def test_figures_are_closed_so_notebooks_show_them_once(hsb_fit):
    before = set(plt.get_fignums())
    figs = [hsb_fit.plot_ranef(), hsb_fit.plot_pooling(n=2, seed=1), hsb_fit.plot_diagnostics()]
    assert set(plt.get_fignums()) == before  # none left registered in pyplot
    assert all(f.axes for f in figs)
    fig, ax = plt.subplots()
    assert hsb_fit.plot_group_lines(ax=ax) is fig  # a figure of the caller's stays open
    assert fig.number in plt.get_fignums()


def test_simulated_groups_never_take_the_highlight_colours(hsb_fit):
    from mixedmodels import plot_style

    fig = hsb_fit.plot_pooling(groups=["1224", "1288"], seed=3)
    sim = fig.axes[2]
    colours = {matplotlib.colors.to_hex(ln.get_color()) for ln in _group_lines(sim).values()}
    assert not colours & {matplotlib.colors.to_hex(c) for c in plot_style.HIGHLIGHT}
    legend = [t.get_text() for t in sim.get_legend().get_texts()]
    assert legend == ["simulated new schools", "average (fixed effects)"]
    real = {matplotlib.colors.to_hex(ln.get_color()) for ln in _group_lines(fig.axes[1]).values()}
    assert matplotlib.colors.to_hex(plot_style.HIGHLIGHT[0]) in real


def test_pooling_with_two_slopes_says_which_it_draws(fits):
    d = fits.data("hsb")
    with pytest.warns(mm.SingularFitWarning):
        m = mm.lmer("mAch ~ ses + meanses + (ses + meanses | school)", d.assign(meanses=d["meanses"] + 0.1 * d["ses"]))
    title = m.plot_pooling(n=2, seed=1).get_suptitle()
    assert "against ses (its first random slope; covariate= draws meanses)" in title
    fig = m.plot_pooling(n=2, seed=1, covariate="meanses")
    assert fig.get_suptitle().endswith("against meanses")
    assert fig.axes[0].get_xlabel() == "meanses"
    assert len({ax.get_ylim() for ax in fig.axes}) == 1


def test_shrinkage_arrows(hsb_fit, fits):
    fig = hsb_fit.plot_shrinkage()
    ax = fig.axes[0]
    own, pooled = ax.collections[0].get_offsets(), ax.collections[1].get_offsets()
    np.testing.assert_allclose(pooled[:, 1], hsb_fit.coef["school"]["ses"].to_numpy())
    ll = mm.lmlist("mAch ~ ses | school", fits.data("hsb")).coef
    np.testing.assert_allclose(own[:, 0], ll["(Intercept)"].to_numpy())
    assert len([c for c in ax.get_children() if type(c).__name__ == "Annotation"]) == 160


def test_diagnostics(hsb_fit):
    fig = hsb_fit.plot_diagnostics()
    titles = [ax.get_title() for ax in fig.axes if ax.get_visible()]
    assert titles == [
        "Residuals vs fitted",
        "Normal QQ: residuals",
        "Scale-location",
        "Normal QQ: school (Intercept)",
        "Normal QQ: school ses",
        "Residuals by school",
    ]
    ax = fig.axes[0]
    gx, gy = mm.plots.smooth(hsb_fit.fitted(), hsb_fit.residuals())
    smooth_line = next(ln for ln in ax.get_lines() if ln.get_gid() == "smooth")
    np.testing.assert_allclose(smooth_line.get_ydata(), gy)
    qq = next(c for c in fig.axes[3].collections if c.get_gid() == "qq")
    np.testing.assert_allclose(np.sort(qq.get_offsets()[:, 1]), np.sort(hsb_fit.ranef["school"]["(Intercept)"]))
    assert len(fig.axes[5].get_xticks()) == 0  # 160 schools: no labels


def test_smoother_is_lowess_without_robustness_iterations():
    lowess = pytest.importorskip("statsmodels.nonparametric.smoothers_lowess").lowess
    rng = np.random.default_rng(5)
    x = rng.uniform(0, 10, 300)
    y = np.sin(x) + rng.normal(scale=0.3, size=300)
    gx, gy = mm.plots.smooth(x, y, frac=0.4, grid=25)
    np.testing.assert_allclose(gy, lowess(y, x, frac=0.4, it=0, delta=0.0, xvals=gx), rtol=1e-8, atol=1e-10)


def test_every_figure_renders_without_warnings(hsb_fit, fits, tmp_path):
    import warnings

    s = fits.fit("Reaction ~ Days + (Days | Subject)", "sleepstudy")
    pen = fits.fit("diameter ~ 1 + (1 | plate) + (1 | sample)", "penicillin")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        figs = [
            s.plot_group_lines(),
            s.plot_pooling(),
            s.plot_ranef(),
            s.plot_shrinkage(),
            s.plot_diagnostics(),
            pen.plot_ranef(),
            pen.plot_diagnostics(),
            hsb_fit.plot_ranef(),
        ]
        for i, f in enumerate(figs):
            f.savefig(tmp_path / f"{i}.png", dpi=50)


def test_sleepstudy_and_crossed(fits):
    s = fits.fit("Reaction ~ Days + (Days | Subject)", "sleepstudy")
    assert len(s.plot_pooling().axes) == 3
    assert s.plot_group_lines().axes[0].get_xlabel() == "Days"
    pen = fits.fit("diameter ~ 1 + (1 | plate) + (1 | sample)", "penicillin")
    with pytest.raises(mm.MixedModelsError, match="no random slope"):
        pen.plot_group_lines()
    with pytest.raises(mm.MixedModelsError, match="no random slope"):
        pen.plot_shrinkage()
    assert len(pen.plot_ranef().axes) == 2
    assert pen.plot_diagnostics() is not None


def test_cli_writes_figures(tmp_path, capsys):
    from mixedmodels.cli import main

    out = tmp_path / "pool.png"
    assert main(["fit", "Reaction ~ Days + (Days | Subject)", "--data", "sleepstudy", "--plot", str(out)]) == 0
    assert out.stat().st_size > 10_000
    out2 = tmp_path / "cat.png"
    assert (
        main(
            [
                "fit",
                "Reaction ~ Days + (Days | Subject)",
                "--data",
                "sleepstudy",
                "--plot",
                str(out2),
                "--plot-kind",
                "ranef",
            ]
        )
        == 0
    )
    assert out2.exists()


def test_package_works_without_matplotlib():
    code = (
        "import sys; sys.modules['matplotlib'] = None; sys.modules['matplotlib.pyplot'] = None\n"
        "import mixedmodels as mm\n"
        "m = mm.lmer('Reaction ~ Days + (Days | Subject)', mm.datasets.load('sleepstudy'))\n"
        "assert 'matplotlib' not in [k for k, v in sys.modules.items() if v is not None]\n"
        "try:\n    m.plot_pooling()\nexcept mm.MixedModelsError as e:\n    print('refused:', e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "refused: plots need matplotlib" in out


def test_importing_does_not_import_matplotlib():
    code = "import sys, mixedmodels; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().endswith("False")


def test_one_panel_figures_draw_into_a_given_axes(fits):
    s = fits.fit("Reaction ~ Days + (Days | Subject)", "sleepstudy")
    fig, axes = plt.subplots(1, 2)
    assert s.plot_shrinkage(ax=axes[0]) is fig
    assert s.plot_group_lines(ax=axes[1]) is fig
    assert axes[0].get_title().startswith("Shrinkage")
    assert fig.number in plt.get_fignums()
