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


if __name__ == "__main__":
    main()
