"""Draw every figure of the package from the bundled data and write docs/gallery.md:
python docs/make_gallery.py (needs matplotlib). Each entry shows the code that drew it."""

from __future__ import annotations

import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import mixedmodels as mm  # noqa: E402

HERE = Path(__file__).parent
OUT = HERE / "figures" / "gallery"

SETUP = """import mixedmodels as mm

hsb = mm.datasets.load("hsb")
sleepstudy = mm.datasets.load("sleepstudy")
m = mm.lmer("mAch ~ ses + (ses | school)", hsb)
s = mm.lmer("Reaction ~ Days + (Days | Subject)", sleepstudy)
pen = mm.lmer("diameter ~ 1 + (1 | plate) + (1 | sample)", mm.datasets.load("penicillin"))
g = mm.glmer("passed ~ ses + (1 + ses | school)", hsb.assign(passed=hsb["mAch"] > 12), family="binomial")
herds = mm.datasets.load("cbpp")
cbpp = mm.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", herds, family="binomial")"""

FIGURES = [
    (
        "pooling",
        "m.plot_pooling(groups=['1224', '1288', '1296'], seed=3)",
        "No pooling, partial pooling and a simulated population of new schools, on shared axes. The "
        "highlighted schools keep their colours; simulated schools are grey and dashed.",
    ),
    (
        "group_lines",
        "m.plot_group_lines(groups=['1224', '1288', '1296'])",
        "Each school's line from the mixed model (`coef`), three highlighted, the fixed effects dashed.",
    ),
    (
        "caterpillar_hsb",
        "m.plot_ranef()",
        "Conditional modes with 95% intervals for 160 schools: both panels in the order of the intercepts; "
        "the 8 lowest and highest schools labelled.",
    ),
    (
        "caterpillar_sleepstudy",
        "s.plot_ranef(order_by='Days')",
        "18 subjects, every one labelled, ordered by their Days slope in both panels.",
    ),
    ("caterpillar_crossed", "pen.plot_ranef()", "Two crossed grouping factors, each in its own order."),
    (
        "shrinkage",
        "s.plot_shrinkage()",
        "Each subject's own least-squares intercept and slope, joined by an arrow to the mixed model's.",
    ),
    (
        "diagnostics",
        "m.plot_diagnostics()",
        "Residuals against fitted values and scale-location with LOWESS smoothers, normal QQ plots with "
        "95% bands (residuals and each random-effect term), and the residuals' spread by school.",
    ),
    (
        "glmer_curves",
        "g.plot_group_curves(groups=['1224', '1288', '1296'])",
        "A logistic GLMM's per-school probability curves.",
    ),
    ("glmer_caterpillar", "cbpp.plot_ranef()", "A binomial GLMM's conditional modes (log-odds scale) by herd."),
]


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    ns: dict[str, object] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mm.MixedModelsWarning)
        exec(SETUP, ns)  # noqa: S102 - our own documentation code
        lines = [
            "# Gallery",
            "",
            "Every figure the package draws, made from the bundled data by `python docs/make_gallery.py`.",
            "Each function returns the matplotlib Figure (closed in pyplot, so a notebook shows it once;",
            "save it with `fig.savefig(path)`). All take their look from `mixedmodels.plot_style`.",
            "",
            "The models:",
            "",
            "```python",
            SETUP,
            "```",
            "",
        ]
        for name, code, text in FIGURES:
            fig = eval(code, ns)  # noqa: S307 - our own documentation code
            fig.savefig(OUT / f"{name}.png", dpi=60)
            lines += [f"## `{code}`", "", text, "", f"![{name}](figures/gallery/{name}.png)", ""]
    (HERE / "gallery.md").write_text("\n".join(lines))
    print(f"wrote docs/gallery.md and {len(FIGURES)} figures")


if __name__ == "__main__":
    main()
