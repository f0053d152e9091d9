"""Time a parametric bootstrap of HSB `mAch ~ ses + (ses | school)`: simulate, refit, collect.

python bench/bench_bootstrap.py [--nsim 1000] [--jobs 1]
"""

from __future__ import annotations

import argparse
import time
import warnings

import mixedmodels as mm


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--nsim", type=int, default=1000)
    p.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    a = p.parse_args()
    warnings.simplefilter("ignore", mm.MixedModelsWarning)
    m = mm.lmer("mAch ~ ses + (ses | school)", mm.datasets.load("hsb"))
    for jobs in a.jobs:
        t0 = time.perf_counter()
        draws = m.bootstrap(nsim=a.nsim, seed=1, n_jobs=jobs, progress=False)
        el = time.perf_counter() - t0
        print(
            f"{a.nsim} refits, {jobs} process(es): {el:.2f} s ({1e3 * el / a.nsim:.2f} ms per refit); "
            f".sig02 95% interval {draws['.sig02'].quantile(0.025):.3f} .. {draws['.sig02'].quantile(0.975):.3f}"
        )


if __name__ == "__main__":
    main()
