"""Make the figures the README and the tutorial show: python docs/make_figures.py"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import mixedmodels as mm  # noqa: E402

OUT = Path(__file__).parent / "figures"


def main() -> None:
    OUT.mkdir(exist_ok=True)
    hsb = mm.datasets.load("hsb")
    m = mm.lmer("mAch ~ ses + (ses | school)", hsb)
    m.plot_pooling(groups=["1224", "1288", "1296"], seed=3).savefig(OUT / "hsb_pooling.png", dpi=90)
    m.plot_shrinkage().savefig(OUT / "hsb_shrinkage.png", dpi=90)
    six_schools(hsb).savefig(OUT / "hsb_six_schools.png", dpi=80)
    passed = hsb.assign(passed=hsb["mAch"] > 12)
    g1 = mm.glmer("passed ~ ses + (1 + ses | school)", passed, family="binomial")
    g1.plot_group_curves(groups=["1224", "1288", "1296"]).savefig(OUT / "hsb_pass_curves.png", dpi=90)


def six_schools(hsb):
    """The tutorial's first figure: six schools' scatter and least-squares lines."""
    import matplotlib.pyplot as plt
    import numpy as np

    ols = mm.lmlist("mAch ~ ses | school", hsb)
    three = ["1224", "1288", "1296"]
    rng = np.random.default_rng(8)
    six = three + list(rng.choice(ols.coef.index.drop(three), 3, replace=False))
    fig, axes = plt.subplots(1, 6, figsize=(18, 3), sharex=True, sharey=True)
    for ax, s in zip(axes, six, strict=True):
        d = hsb[hsb["school"] == s]
        ax.scatter(d["ses"], d["mAch"], s=6)
        xs = np.array([d["ses"].min(), d["ses"].max()])
        ax.plot(xs, ols.coef.loc[s, "(Intercept)"] + ols.coef.loc[s, "ses"] * xs, color="C1")
        ax.set_title(f"school {s}")
        ax.set_xlabel("ses")
    axes[0].set_ylabel("mAch")
    fig.tight_layout()
    return fig


if __name__ == "__main__":
    main()
