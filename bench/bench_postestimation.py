"""Time the post-estimation analyses of issue 17 against R: emmeans with Kenward-Roger df on HSB
``mAch ~ ses * sector + (ses | school)`` and on the cake factorial, and case deletion by school
(``influence``) on HSB ``mAch ~ ses + (ses | school)``.

    python bench/bench_postestimation.py            # ours and R (when Rscript has lme4 and emmeans)
    python bench/bench_postestimation.py --no-r

Each (tool, workload) runs in a fresh process that has read the data before its clock starts;
"end to end" is the fit plus the analysis, "analysis" the analysis alone on the fitted model (for
ours the first call, which builds the Kenward-Roger machinery). Times are medians over ``--reps``.
R: ``lme4::lmer`` then ``emmeans(m, ~ sector, lmer.df = "kenward-roger")`` (``pbkrtest.limit =
10000`` for HSB's 7,185 rows), ``pairs()`` of it, and ``influence(m, groups = "school")`` (lme4's
``influence.merMod``: 160 refits).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WORKLOADS = {
    "emmeans_hsb": ("hsb", "mAch ~ ses * sector + (ses | school)", "emmeans", "sector"),
    "emmeans_cake": ("cake", "angle ~ recipe * temperature + (1 | recipe:replicate)", "emmeans", "recipe"),
    "influence_hsb": ("hsb", "mAch ~ ses + (ses | school)", "influence", "school"),
}

OURS = r"""
import json, statistics, sys, time, warnings
import mixedmodels as mm
name, data, formula, kind, var, reps = sys.argv[1:7]
d = mm.datasets.load(data)
if data == "cake":
    d["temperature"] = d["temperature"].astype(str).astype("category")
warnings.simplefilter("ignore")
def analysis(m):
    if kind == "emmeans":
        e = m.emmeans(f"~ {var}", ddf="kenward-roger")
        return e.frame, e.pairs().frame  # the tables are computed when asked for
    return m.influence(groups=var).cooks_distance
ends, parts, evals = [], [], None
for _ in range(int(reps)):
    t0 = time.perf_counter()
    m = mm.lmer(formula, d)
    t1 = time.perf_counter()
    analysis(m)
    t2 = time.perf_counter()
    ends.append(t2 - t0)
    parts.append(t2 - t1)
    evals = m.n_evals
print(json.dumps({"end_to_end": statistics.median(ends), "analysis": statistics.median(parts), "n_evals": evals}))
"""

R = r"""
args <- commandArgs(TRUE)
suppressMessages({library(lme4); library(emmeans); library(jsonlite)})
data <- args[1]; formula <- as.formula(args[2]); kind <- args[3]; var <- args[4]; reps <- as.integer(args[5])
path <- args[6]
d <- read.csv(path, stringsAsFactors = TRUE)
if (data == "hsb") { d$school <- factor(d$school); d$sector <- factor(d$sector, levels = c("Public", "Catholic")) }
if (data == "cake") { d$temperature <- factor(d$temperature); d$replicate <- factor(d$replicate) }
emm_options(pbkrtest.limit = 10000, lmerTest.limit = 10000)
ends <- c(); parts <- c()
for (i in seq_len(reps)) {
  t0 <- proc.time()[["elapsed"]]
  m <- lmer(formula, data = d, REML = TRUE)
  t1 <- proc.time()[["elapsed"]]
  if (kind == "emmeans") {
    e <- emmeans(m, as.formula(paste("~", var)), lmer.df = "kenward-roger")
    invisible(summary(pairs(e)))
  } else {
    invisible(influence(m, groups = var, data = d))
  }
  t2 <- proc.time()[["elapsed"]]
  ends <- c(ends, t2 - t0); parts <- c(parts, t2 - t1)
}
cat(toJSON(list(end_to_end = median(ends), analysis = median(parts)), auto_unbox = TRUE, digits = 8))
"""


def _run(cmd: list[str]) -> dict[str, float]:
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
    result: dict[str, float] = json.loads(out)
    return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--r-reps", type=int, default=3)
    p.add_argument("--no-r", action="store_true")
    args = p.parse_args()
    have_r = not args.no_r and shutil.which("Rscript") is not None
    data_dir = Path(__file__).resolve().parents[1] / "python" / "mixedmodels" / "datasets" / "data"
    files = {"hsb": data_dir / "Hsb82.csv", "cake": data_dir / "cake.csv"}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        ours = Path(tmp) / "ours.py"
        ours.write_text(OURS)
        rscript = Path(tmp) / "r.R"
        rscript.write_text(R)
        for name, (data, formula, kind, var) in WORKLOADS.items():
            o = _run([sys.executable, str(ours), name, data, formula, kind, var, str(args.reps)])
            r = (
                _run(["Rscript", str(rscript), data, formula, kind, var, str(args.r_reps), str(files[data])])
                if have_r
                else None
            )
            rows.append((name, o, r))
            line = f"{name:15s} ours {o['end_to_end']:8.3f} s (analysis {o['analysis']:7.3f} s, {o['n_evals']} evals)"
            if r is not None:
                line += (
                    f" | R {r['end_to_end']:8.3f} s (analysis {r['analysis']:7.3f} s)"
                    f" | ratio end to end {r['end_to_end'] / o['end_to_end']:6.1f}x,"
                    f" analysis {r['analysis'] / o['analysis']:6.1f}x"
                )
            print(line, flush=True)
    print(time.strftime("%Y-%m-%d %H:%M"), "; reps ours", args.reps, "R", args.r_reps)


if __name__ == "__main__":
    main()
