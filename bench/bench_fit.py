"""Time mixedmodels against statsmodels MixedLM, mixedlm-rs (when installed) and lme4 (when Rscript
with lme4 is present).

    python bench/bench_fit.py                      # all workloads
    python bench/bench_fit.py --workloads hsb,sim1m --reps 7 --no-r
    python bench/bench_fit.py --read-csv           # every tool gets the frame as pd.read_csv returns it

Each (tool, workload) runs in a fresh process, so peak memory (max RSS) is that tool's alone;
"peak" is the process's maximum RSS, "+fit" how much the fits raised it above the loaded data.
mixedmodels is timed end to end (data frame to result: formula parsing, model matrices, the pass
that forms A, optimisation, results) and for the fit alone (the pass that forms A, the checks on it,
the engine, optimisation and results, from materialised rows). statsmodels is timed from
`MixedLM.from_formula` to the fitted result, mixedlm-rs (its drop-in replacement, Rust: L-BFGS-B on
an analytic gradient, one grouping factor) the same way, lme4 as `lmer(...)` on a data frame already
in R. With --read-csv each workload's frame goes through a CSV file and `pd.read_csv`, its grouping
columns read as strings (ids as a CSV of real data gives them), for every tool. Times are medians;
ratios are other / mixedmodels end to end.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def load(name: str):  # a pandas frame (pandas is imported in the children only)
    """The workload's frame; after a CSV round trip with the grouping columns as strings when
    $MM_BENCH_READ_CSV is 1 (``--read-csv``)."""
    import io

    import pandas as pd

    from workloads import load as load_workload

    df = load_workload(name)
    if os.environ.get("MM_BENCH_READ_CSV") != "1":
        return df
    text = df.to_csv(index=False)
    return pd.read_csv(io.StringIO(text), dtype={f: str for f in FACTORS[name].split(",")})


def child_mixedmodels(name: str, reps: int) -> dict:
    import mixedmodels as mm
    from mixedmodels.design import materialise
    from mixedmodels.model import LinearMixedModel
    from workloads import WORKLOADS

    w = WORKLOADS[name]
    df = load(name)
    base = _maxrss_mb()
    warnings.simplefilter("ignore", mm.MixedModelsWarning)
    e2e, fit = [], []
    m = None
    if name in SMALL:  # untimed first call (imports, caches), as for the other tools
        mm.lmer(w.formula, df)
    for _ in range(reps):
        t0 = time.perf_counter()
        m = mm.lmer(w.formula, df)
        e2e.append(time.perf_counter() - t0)
    structure, rows = materialise(w.formula, df)
    for _ in range(reps):
        t0 = time.perf_counter()
        mm.LmerResult.of(LinearMixedModel.from_data(structure, rows).fit())
        fit.append(time.perf_counter() - t0)
    return {
        "end_to_end_s": statistics.median(e2e),
        "fit_s": statistics.median(fit),
        "n_evals": m.n_evals,
        "s_per_eval": statistics.median(fit) / max(m.n_evals, 1),
        "objective": m.objective,
        "peak_mb": _maxrss_mb(),
        "fit_mb": _maxrss_mb() - base,
        "blocks": m.block_description(),
    }


def child_statsmodels(name: str, reps: int, rust: bool = False) -> dict:
    if rust:
        try:
            import mixedlm_rs as smf  # statsmodels' API
        except ImportError:
            return {"skipped": "mixedlm-rs is not installed (pip install mixedlm-rs)"}
    else:
        import statsmodels.formula.api as smf

    from workloads import WORKLOADS

    w = WORKLOADS[name]
    if w.statsmodels is None:
        return {"skipped": "MixedLM fits one grouping factor (no crossed random effects)"}
    df = load(name)
    base = _maxrss_mb()
    warnings.simplefilter("ignore")
    times, res = [], None
    for _ in range(reps + (name in SMALL)):
        t0 = time.perf_counter()
        res = smf.mixedlm(
            w.statsmodels["formula"],
            df,
            groups=df[w.statsmodels["groups"]],
            re_formula=w.statsmodels["re_formula"],
        ).fit(reml=True)
        times.append(time.perf_counter() - t0)
    times = times[1:] if name in SMALL else times  # the first call untimed
    return {
        "end_to_end_s": statistics.median(times),
        "objective": -2 * res.llf,
        "converged": bool(res.converged),
        "peak_mb": _maxrss_mb(),
        "fit_mb": _maxrss_mb() - base,
    }


R_SCRIPT = r"""
suppressPackageStartupMessages(library(lme4))
args <- commandArgs(TRUE)
df <- read.csv(args[1], stringsAsFactors = FALSE)
factors <- strsplit(args[3], ",")[[1]]
for (f in factors) df[[f]] <- factor(df[[f]])
hwm <- function() {
  line <- grep("VmHWM", readLines("/proc/self/status"), value = TRUE)
  as.numeric(sub("[^0-9]*([0-9]+).*", "\\1", line)) / 1024
}
base <- hwm()
reps <- as.integer(args[4])
if (args[5] == "1") invisible(lmer(as.formula(args[2]), df))  # untimed first call
times <- numeric(reps)
for (i in seq_len(reps)) times[i] <- system.time(m <- lmer(as.formula(args[2]), df))[["elapsed"]]
cat(sprintf('{"end_to_end_s": %.6f, "objective": %.10f, "peak_mb": %.1f, "fit_mb": %.1f, "n_evals": %d}\n',
            median(times), -2 * as.numeric(logLik(m)), hwm(), hwm() - base, m@optinfo$feval))
"""

# Small workloads: timed over at least 25 repetitions after one untimed call, for every tool (a
# fit takes milliseconds there, so first-call costs would otherwise dominate a median of a few).
SMALL = ("hsb", "sleepstudy")

FACTORS = {
    "hsb": "school",
    "sleepstudy": "Subject",
    "sim100k": "g",
    "sim1m": "g",
    "sim100k4": "g",
    "insteval": "s,d,dept,service",
    "insteval_slope": "s,d,dept,service",
    "crossed200k": "f1,f2",
}


def child_mixedlm_rs(name: str, reps: int) -> dict:
    return child_statsmodels(name, reps, rust=True)


def child_lme4(name: str, reps: int) -> dict:
    from workloads import WORKLOADS

    w = WORKLOADS[name]
    df = load(name)
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "data.csv"
        df.to_csv(csv, index=False)
        script = Path(tmp) / "fit.R"
        script.write_text(R_SCRIPT)
        out = subprocess.run(
            ["Rscript", str(script), str(csv), w.formula, FACTORS[name], str(reps), str(int(name in SMALL))],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    return json.loads(out.strip().splitlines()[-1])


def lme4_available() -> bool:
    if shutil.which("Rscript") is None:
        return False
    r = subprocess.run(["Rscript", "-e", "library(lme4)"], capture_output=True)
    return r.returncode == 0


def run_child(tool: str, name: str, reps: int, timeout: float) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", tool, name, "--reps", str(reps)]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=True).stdout
    except subprocess.TimeoutExpired:
        return {"timeout": timeout}
    except subprocess.CalledProcessError as exc:
        return {"error": exc.stderr.strip().splitlines()[-1] if exc.stderr else str(exc)}
    return json.loads(out.strip().splitlines()[-1])


def _fmt_t(r: dict, key: str = "end_to_end_s") -> str:
    if "timeout" in r:
        return f"> {r['timeout']:.0f} s"
    if "skipped" in r:
        return "n/a"
    if "error" in r:
        return "error"
    v = r[key]
    if v < 1e-3:
        return f"{v * 1e3:.2f} ms"
    return f"{v * 1e3:.1f} ms" if v < 1 else f"{v:.2f} s"


def _ratio(other: dict, ours: dict) -> str:
    if "end_to_end_s" not in other:
        return f"> {other['timeout'] / ours['end_to_end_s']:.0f}x" if "timeout" in other else "-"
    return f"{other['end_to_end_s'] / ours['end_to_end_s']:.1f}x"


def main() -> None:
    from workloads import WORKLOADS

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--workloads", default=",".join(WORKLOADS))
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--big-reps", type=int, default=3, help="repetitions for statsmodels/lme4 on big workloads")
    p.add_argument("--no-statsmodels", action="store_true")
    p.add_argument("--no-mixedlm-rs", action="store_true")
    p.add_argument("--no-r", action="store_true")
    p.add_argument("--read-csv", action="store_true", help="frames as pd.read_csv returns them, ids as strings")
    p.add_argument("--timeout", type=float, default=900.0, help="seconds per (tool, workload) process")
    p.add_argument("--json", type=Path, help="write all results here")
    p.add_argument("--child", nargs=2, metavar=("TOOL", "WORKLOAD"), help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.child:
        tool, name = a.child
        fn = {
            "mixedmodels": child_mixedmodels,
            "statsmodels": child_statsmodels,
            "mixedlm_rs": child_mixedlm_rs,
            "lme4": child_lme4,
        }[tool]
        print(json.dumps(fn(name, a.reps)))
        return
    use_r = not a.no_r and lme4_available()
    if a.read_csv:
        os.environ["MM_BENCH_READ_CSV"] = "1"  # the children inherit it
    results = {}
    print(f"# {os.cpu_count()} cores; lme4 {'via Rscript' if use_r else 'not available'}", end="")
    print("; frames from pd.read_csv, ids as strings\n" if a.read_csv else "\n")
    print(
        "| workload | mixedmodels fit | mixedmodels end to end | evals (ms/eval) | statsmodels | mixedlm-rs | lme4 | "
        "statsmodels / ours | mixedlm-rs / ours | lme4 / ours | peak MB ours / sm / rs / lme4 |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name in a.workloads.split(","):
        big = name in ("sim100k", "sim1m", "sim100k4", "insteval", "insteval_slope", "crossed200k")
        reps = max(a.reps, 25) if name in SMALL else a.reps
        ours = run_child("mixedmodels", name, reps, a.timeout)
        sm = (
            {"skipped": True}
            if a.no_statsmodels
            else run_child("statsmodels", name, a.big_reps if big else reps, a.timeout)
        )
        rs = (
            {"skipped": True}
            if a.no_mixedlm_rs
            else run_child("mixedlm_rs", name, a.big_reps if big else reps, a.timeout)
        )
        r = run_child("lme4", name, a.big_reps if big else reps, a.timeout) if use_r else {"skipped": True}
        results[name] = {"mixedmodels": ours, "statsmodels": sm, "mixedlm_rs": rs, "lme4": r}
        if "error" in ours:
            print(f"| {name} | error: {ours['error']} |")
            continue
        mem = " / ".join(f"{x['peak_mb']:.0f}" if "peak_mb" in x else "-" for x in (ours, sm, rs, r))
        print(
            f"| {name} | {_fmt_t(ours, 'fit_s')} | {_fmt_t(ours)} | "
            f"{ours['n_evals']} ({ours['s_per_eval'] * 1e3:.3g}) | "
            f"{_fmt_t(sm)} | {_fmt_t(rs)} | {_fmt_t(r)} | {_ratio(sm, ours)} | {_ratio(rs, ours)} | "
            f"{_ratio(r, ours)} | {mem} |",
            flush=True,
        )
    if a.json:
        a.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
