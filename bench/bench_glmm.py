"""Time glmer end to end (data frame to result) against lme4, mixedlm and statsmodels' Bayesian GLMMs.

    python bench/bench_glmm.py                          # every workload, every tool found
    python bench/bench_glmm.py --tools ours             # mixedmodels only
    python bench/bench_glmm.py --only verbagg --reps 3 --no-r

Workloads (`glmm_workloads.py`): cbpp (binomial, cbind), grouseticks (Poisson, three intercepts),
VerbAgg (binomial, crossed), a simulated 0/1 response with a correlated slope (100,000 rows) and
simulated counts (1,000,000 rows). Tools:

- ours: ``mm.glmer(formula, df, family, nAGQ=1)``;
- lme4: ``glmer(formula, df, family, nAGQ = 1)``, default control, through Rscript, on a data frame
  already in R;
- mixedlm (PyPI, Rust backend): ``mixedlm.glmer``, default control, run by the Python of its own
  environment (``--mixedlm-python``, default $MIXEDLM_PYTHON or /work/venv_mixedlm/bin/python);
- statsmodels: ``BinomialBayesMixedGLM`` / ``PoissonBayesMixedGLM`` ``.fit_vb()``: a variational
  Bayes fit (default priors), not maximum likelihood; variance components only (so the
  correlated slope is fitted uncorrelated), the simulated designs' indicators built sparse.

Each (tool, workload) runs in a fresh process that reads the same CSV (the parent writes each
workload once) before its clock starts; times are medians over ``--reps`` fits, stopped early once
a tool has spent ``--budget`` seconds on a workload (at least one fit); the small workloads get at
least 25 fits after one untimed call. Peak memory is the process's maximum RSS (data included).

Evaluations: ours, ``n_evals`` (both stages; the derivative checks not counted) and, from one
more untimed fit, the PIRLS iterations over all PIRLS calls; lme4, ``feval`` of its two stages
(``optinfo$feval`` is the second's); mixedlm, calls of its two objectives.

logLik: each tool's own, and "at its estimates": -1/2 our Laplace deviance (PIRLS run to
convergence) at the tool's theta and beta, one yardstick for all (for statsmodels, its posterior
means, the sds as exp of the mean log-sd; its start is random, seeded here). "vs best" is that
value minus the best one. statsmodels' evals: ELBO evaluations (and gradients).
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
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

TOOLS = ("ours", "lme4", "mixedlm", "statsmodels")
MIN_SMALL_REPS = 25


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _timed(fit, reps: int, budget: float, warm: bool) -> tuple[list[float], object]:
    """Fit up to `reps` times (after one untimed call if `warm`), stopping once `budget` s are spent.

    A first call of more than a second counts as a timed one (first-call costs are noise there)."""
    times: list[float] = []
    out = None
    if warm:
        t0 = time.perf_counter()
        out = fit()
        if (t := time.perf_counter() - t0) > 1.0:
            times.append(t)
    while len(times) < reps and (not times or sum(times) < budget):
        t0 = time.perf_counter()
        out = fit()
        times.append(time.perf_counter() - t0)
    return times, out


def _summary(times: list[float]) -> dict:
    return {"time_s": statistics.median(times), "times_s": times, "reps": len(times)}


# ------------------------------------------------------------------------------------------ children
def child_ours(name: str, folder: Path, reps: int, budget: float) -> dict:
    import mixedmodels as mm
    from glmm_workloads import WORKLOADS, read

    w = WORKLOADS[name]
    df = read(folder)
    warnings.simplefilter("ignore")
    times, m = _timed(lambda: mm.glmer(w.formula, df, family=w.family, nAGQ=1), reps, budget, w.small)
    peak = _maxrss_mb()
    fit = m.glmm_fit
    # PIRLS calls and iterations, counted in one more (untimed) fit: every PIRLS call of the fit, the
    # final ones and the Hessian's included, those BOBYQA makes from C++ too (`pirls_counts`)
    calls, iterations = mm.glmer(w.formula, df, family=w.family, nAGQ=1).glmm_fit.model.pirls_counts
    layout = fit.model.structure.theta
    return {
        **_summary(times),
        "peak_mb": peak,
        "n_evals": m.n_evals,
        "pirls_iterations": iterations,
        "pirls_calls": calls,
        "loglik": float(m.loglik),
        "converged": bool(m.converged),
        "messages": list(m.messages),
        "theta": dict(zip(layout.names, map(float, fit.theta), strict=True)),
        "beta": dict(zip(fit.model.structure.fixed_names, map(float, fit.beta), strict=True)),
        "version": f"mixedmodels {mm.__version__}, {Path(mm.__file__).resolve().parent}",
    }


def child_mixedlm(name: str, folder: Path, reps: int, budget: float) -> dict:
    import mixedlm
    from mixedlm.estimation import joint_glmm, laplace

    from glmm_workloads import WORKLOADS, read

    w = WORKLOADS[name]
    df = read(folder)
    family = {"binomial": mixedlm.families.Binomial, "poisson": mixedlm.families.Poisson}[w.family]
    warns: list[str] = []
    evals = [0]

    def counted(fn):
        def wrapper(*args, **kwargs):
            evals[0] += 1
            return fn(*args, **kwargs)

        return wrapper

    # objective calls, counted in every fit (a Python call in front of evaluations of milliseconds)
    laplace.GLMMOptimizer.objective = counted(laplace.GLMMOptimizer.objective)
    joint_glmm.JointGLMMObjective.__call__ = counted(joint_glmm.JointGLMMObjective.__call__)

    def fit():
        evals[0] = 0
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            r = mixedlm.glmer(w.mixedlm_formula, df, family=family(), nAGQ=1)
        warns[:] = [str(c.message) for c in caught]
        return r

    times, r = _timed(fit, reps, budget, w.small)
    theta_names = []
    for s in r.matrices.random_structures:  # lme4's names, lower triangle by columns
        cols = list(s.term_names)
        for j in range(len(cols)):
            for i in range(j, len(cols)):
                theta_names.append(f"{s.grouping_factor}.{cols[i]}" + ("" if i == j else f".{cols[j]}"))
    fixef = r.fixef()
    return {
        **_summary(times),
        "peak_mb": _maxrss_mb(),
        "n_evals": evals[0],
        "optimizer_iterations": int(r.n_iter),
        "loglik": float(r.logLik()),
        "converged": bool(r.converged),
        "messages": warns,
        "theta": dict(zip(theta_names, map(float, r.theta), strict=True)),
        "beta": {k: float(v) for k, v in fixef.items()},
        "beta_positional": True,  # its names ("YEAR.1") are not lme4's; same columns, same order
        "version": getattr(mixedlm, "__version__", ""),
    }


def child_statsmodels(name: str, folder: Path, reps: int, budget: float) -> dict:
    import numpy as np
    import scipy.sparse as sp
    import statsmodels
    from statsmodels.genmod.bayes_mixed_glm import BinomialBayesMixedGLM, PoissonBayesMixedGLM

    from glmm_workloads import WORKLOADS, read

    w = WORKLOADS[name]
    df = read(folder)
    cls = {"binomial": BinomialBayesMixedGLM, "poisson": PoissonBayesMixedGLM}[w.family]
    warns: list[str] = []

    def model():
        if w.sm_vc is not None:  # the datasets: patsy formulas
            if name == "cbpp":  # 0/1 rows: incidence ones and size - incidence zeros per herd x period
                k = df["size"].to_numpy()
                d = df.loc[df.index.repeat(k)].reset_index(drop=True)
                within = np.arange(len(d)) - np.repeat(np.cumsum(k) - k, k)
                d["y"] = (within < np.repeat(df["incidence"].to_numpy(), k)).astype(np.float64)
            elif name == "verbagg":
                d = df.assign(y=(df["r2"] == "Y").astype(np.float64))
            else:
                d = df
            return cls.from_formula(w.sm_fixed, w.sm_vc, d)
        # simulated: sparse indicator (and slope) columns
        n = len(df)
        codes = df["g"].cat.codes.to_numpy()
        ng = len(df["g"].cat.categories)
        rows = np.arange(n)
        blocks = [sp.csr_matrix((np.ones(n), (rows, codes)), shape=(n, ng))]
        names = ["g"]
        if "g:x1" in w.sm_theta:
            blocks.append(sp.csr_matrix((df["x1"].to_numpy(), (rows, codes)), shape=(n, ng)))
            names.append("g:x1")
        exog_vc = sp.hstack(blocks, format="csr")
        ident = np.repeat(np.arange(len(blocks)), ng)
        exog = np.column_stack([np.ones(n), df["x1"].to_numpy(), df["x2"].to_numpy()])
        y = df["y"].to_numpy(dtype=np.float64)
        return cls(y, exog, exog_vc, ident, fep_names=["(Intercept)", "x1", "x2"], vcp_names=names)

    evals = [0, 0]

    def fit():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            m = model()
            elbo, grad = m.vb_elbo, m.vb_elbo_grad
            evals[:] = [0, 0]

            def counted_elbo(*args):
                evals[0] += 1
                return elbo(*args)

            def counted_grad(*args):
                evals[1] += 1
                return grad(*args)

            m.vb_elbo, m.vb_elbo_grad = counted_elbo, counted_grad
            # the start of the posterior sds is random: seeded, so that every run fits alike
            res = m.fit_vb(fit_method=w.sm_method, rng=np.random.RandomState(0))
        warns[:] = [str(c.message) for c in caught]
        return m, res

    times, (m, res) = _timed(fit, reps, budget, w.small)
    theta = {w.sm_theta[v]: float(np.exp(s)) for v, s in zip(m.vcp_names, res.vcp_mean, strict=True)}
    beta = {}
    for n_, b in zip(m.fep_names, res.fe_mean, strict=True):
        n_ = "(Intercept)" if n_ == "Intercept" else n_.replace("[T.", "").replace("]", "")
        beta[w.aliases.get(n_, n_)] = float(b)
    return {
        **_summary(times),
        "peak_mb": _maxrss_mb(),
        "n_evals": evals[0],
        "gradient_evals": evals[1],
        "loglik": None,
        "converged": None,
        "messages": warns,
        "theta": theta,
        "beta": beta,
        "version": statsmodels.__version__,
        "note": "variational Bayes (fit_vb), not ML" + (f"; {w.sm_note}" if w.sm_note else ""),
    }


R_SCRIPT = r"""
suppressPackageStartupMessages(library(lme4))
args <- commandArgs(TRUE)
folder <- args[1]; form <- as.formula(args[2]); fam <- get(args[3])
reps <- as.integer(args[4]); warm <- args[5] == "1"; budget <- as.numeric(args[6])
lv <- read.csv(file.path(folder, "levels.csv"), colClasses = "character")
cols <- unique(lv$column)
df <- read.csv(file.path(folder, "data.csv"), colClasses = setNames(rep("character", length(cols)), cols))
for (f in cols) df[[f]] <- factor(df[[f]], levels = lv$level[lv$column == f])
hwm <- function() {
  line <- grep("VmHWM", readLines("/proc/self/status"), value = TRUE)
  as.numeric(sub("[^0-9]*([0-9]+).*", "\\1", line)) / 1024
}
# each stage's evaluations (glmer keeps only the second's in optinfo$feval)
fevals <- integer(0)
suppressMessages(trace("optimizeGlmer", exit = quote(assign("fevals", c(get("fevals", envir = .GlobalEnv),
  as.integer(opt$feval)), envir = .GlobalEnv)), where = asNamespace("lme4"), print = FALSE))
warns <- character(0)
fit <- function() {
  fevals <<- integer(0); warns <<- character(0)
  withCallingHandlers(glmer(form, data = df, family = fam, nAGQ = 1L),
    warning = function(w) { warns <<- c(warns, conditionMessage(w)); invokeRestart("muffleWarning") },
    message = function(m) { warns <<- c(warns, conditionMessage(m)); invokeRestart("muffleMessage") })
}
if (warm) invisible(fit())
times <- numeric(0)
while (length(times) < reps && (length(times) == 0 || sum(times) < budget))
  times <- c(times, system.time(m <- fit())[["elapsed"]])
th <- getME(m, "theta")
conv <- m@optinfo$conv$lme4$messages
cat(jsonlite::toJSON(list(
  time_s = median(times), times_s = times, reps = length(times), peak_mb = hwm(),
  n_evals = sum(fevals), feval_stages = fevals, optinfo_feval = m@optinfo$feval,
  loglik = as.numeric(logLik(m)), converged = !any(grepl("failed to converge", c(warns, conv))),
  messages = c(warns, conv),
  theta = as.list(setNames(as.numeric(th), names(th))), beta = as.list(fixef(m)),
  version = paste0("lme4 ", packageVersion("lme4"), ", ", R.version.string)
), auto_unbox = TRUE, digits = NA), "\n")
"""


def child_lme4(name: str, folder: Path, reps: int, budget: float) -> dict:
    from glmm_workloads import WORKLOADS

    w = WORKLOADS[name]
    script = folder / "fit_glmer.R"
    script.write_text(R_SCRIPT)
    cmd = ["Rscript", str(script), str(folder), w.formula, w.family, str(reps), str(int(w.small)), str(budget)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    r = json.loads(out.strip().splitlines()[-1])
    r["messages"] = r["messages"] if isinstance(r["messages"], list) else [r["messages"]]
    r["times_s"] = r["times_s"] if isinstance(r["times_s"], list) else [r["times_s"]]
    return r


CHILDREN = {"ours": child_ours, "lme4": child_lme4, "mixedlm": child_mixedlm, "statsmodels": child_statsmodels}


# ------------------------------------------------------------------------------------------ parent
def lme4_available() -> bool:
    if shutil.which("Rscript") is None:
        return False
    return subprocess.run(["Rscript", "-e", "library(lme4); library(jsonlite)"], capture_output=True).returncode == 0


def mixedlm_python(given: str | None) -> str | None:
    exe = given or os.environ.get("MIXEDLM_PYTHON") or "/work/venv_mixedlm/bin/python"
    if not Path(exe).exists():
        return None
    ok = subprocess.run([exe, "-c", "import mixedlm, pandas"], capture_output=True).returncode == 0
    return exe if ok else None


def busy_cores(interval: float = 2.0) -> float:
    """CPUs kept busy by other processes over `interval` seconds (from /proc/stat; we are idle)."""

    def sample() -> tuple[int, int]:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        return sum(v), v[3] + v[4]  # total, idle + iowait

    try:
        t0, i0 = sample()
        time.sleep(interval)
        t1, i1 = sample()
    except OSError:
        return math.nan
    return (os.cpu_count() or 1) * (1.0 - (i1 - i0) / max(t1 - t0, 1))


def wait_for_quiet(limit: float, max_wait: float) -> float:
    """Wait (up to `max_wait` s) until fewer than `limit` cores are busy; the busy cores seen last."""
    start = time.monotonic()
    busy = busy_cores()
    while busy > limit and time.monotonic() - start < max_wait:
        time.sleep(10)
        busy = busy_cores()
    return busy


def run_child(tool: str, name: str, folder: Path, a: argparse.Namespace, exe: str) -> dict:
    cmd = [exe, str(Path(__file__).resolve()), "--child", tool, name, str(folder)]
    cmd += ["--reps", str(a.reps), "--budget", str(a.budget)]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=a.timeout, check=True).stdout
    except subprocess.TimeoutExpired:
        return {"timeout": a.timeout}
    except subprocess.CalledProcessError as exc:
        return {"error": exc.stderr.strip().splitlines()[-1] if exc.stderr.strip() else str(exc)}
    return json.loads(out.strip().splitlines()[-1])


def loglik_at(name: str, folder: Path, results: dict) -> None:
    """Add `loglik_at`: -1/2 our Laplace deviance at each tool's theta and beta."""
    import numpy as np
    import pandas as pd

    from glmm_workloads import WORKLOADS, read
    from mixedmodels.families import family as as_family
    from mixedmodels.glmm import GeneralizedLinearMixedModel

    w = WORKLOADS[name]
    df = read(folder)
    resp = w.formula.split("~")[0].strip()
    if resp in df.columns and isinstance(df[resp].dtype, pd.CategoricalDtype):  # as glmer: level 1 failure
        df[resp] = (df[resp].cat.codes > 0).astype(np.float64)
    model = GeneralizedLinearMixedModel.from_formula(w.formula, df, as_family(w.family))
    tnames = model.structure.theta.names
    fnames = model.structure.fixed_names
    for r in results.values():
        if "theta" not in r:
            continue
        try:
            theta = np.array([r["theta"].get(t, 0.0) for t in tnames])
            if not set(r["theta"]) <= set(tnames):
                raise KeyError(f"theta names {sorted(r['theta'])} are not the model's {list(tnames)}")
            if r.get("beta_positional"):
                if len(r["beta"]) != len(fnames):
                    raise KeyError(f"{len(r['beta'])} fixed effects for the model's {len(fnames)}")
                beta = np.array(list(r["beta"].values()))
            else:
                beta = np.array([r["beta"][f] for f in fnames])
            res = model.pirls(theta, beta)
            r["loglik_at"] = -0.5 * res.laplace if res.converged else None
        except (KeyError, ValueError) as exc:
            r["loglik_at_error"] = str(exc)


def _fmt_t(v: float) -> str:
    if v < 1e-3:
        return f"{v * 1e3:.2f} ms"
    return f"{v * 1e3:.1f} ms" if v < 1 else f"{v:.2f} s"


def _fmt_d(v: float | None) -> str:
    if v is None:
        return "-"
    if abs(v) < 5e-7:
        return "0"
    return f"{v:+.2g}" if abs(v) < 0.01 else f"{v:+.3f}"


def _row(name: str, tool: str, r: dict, best: float | None, best_own: float | None) -> str:
    label = tool + (" (VB)" if tool == "statsmodels" else "")
    if "timeout" in r:
        return f"| {name} | {label} | > {r['timeout']:.0f} s | | | | | | | |"
    if "skipped" in r or "error" in r:
        return f"| {name} | {label} | {r.get('skipped') or 'error: ' + r['error'][:150]} | | | | | | | |"
    evals = str(r.get("n_evals", "-"))
    if tool == "ours":
        evals += f" ({r['pirls_iterations']} PIRLS its / {r['pirls_calls']} calls)"
    elif tool == "lme4":
        evals += " (" + "+".join(map(str, r.get("feval_stages", []))) + ")"
    elif tool == "mixedlm":
        evals += f" ({r['optimizer_iterations']} its)"
    elif tool == "statsmodels":
        evals += f" ({r['gradient_evals']} gradients)"
    own = r.get("loglik")
    at = r.get("loglik_at")
    d_own = None if own is None or best_own is None else own - best_own
    d_at = None if at is None or best is None else at - best
    own_s = "-" if own is None else f"{own:.4f}"
    flag = "" if r.get("converged", True) in (True, None) else " (not converged)"
    return (
        f"| {name} | {label}{flag} | {_fmt_t(r['time_s'])} | {r['reps']} | {evals} | {own_s} | "
        f"{_fmt_d(d_own)} | {_fmt_d(d_at)} | {r['peak_mb']:.0f} | {r.get('busy_before', math.nan):.1f} |"
    )


def _commit(folder: Path) -> str:
    r = subprocess.run(["git", "-C", str(folder), "describe", "--always", "--dirty"], capture_output=True, text=True)
    return r.stdout.strip() or "?"


def _library() -> str:
    """Where mixedmodels is imported from (an editable install: a work tree), and its commit."""
    import importlib.util

    spec = importlib.util.find_spec("mixedmodels")
    if spec is None or spec.origin is None:
        return "nowhere (not installed)"
    folder = Path(spec.origin).resolve().parent
    return f"{folder} ({_commit(folder)})"


def main() -> None:
    from glmm_workloads import WORKLOADS

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", help="workload(s), comma-separated: " + ",".join(WORKLOADS))
    p.add_argument("--tools", default=",".join(TOOLS), help="comma-separated, of " + ",".join(TOOLS))
    p.add_argument("--reps", type=int, default=5, help="fits per (tool, workload); small workloads at least 25")
    p.add_argument("--budget", type=float, default=60.0, help="stop repeating after this many seconds of fits")
    p.add_argument("--no-r", action="store_true", help="leave out lme4")
    p.add_argument("--timeout", type=float, default=900.0, help="seconds per (tool, workload) process")
    p.add_argument("--quiet-cores", type=float, help="before each process, wait until fewer cores are busy")
    p.add_argument("--max-wait", type=float, default=180.0, help="longest wait for --quiet-cores, seconds")
    p.add_argument("--mixedlm-python", help="Python with mixedlm (default $MIXEDLM_PYTHON or /work/venv_mixedlm)")
    p.add_argument("--json", type=Path, help="write all results here")
    p.add_argument("--child", nargs=3, metavar=("TOOL", "WORKLOAD", "FOLDER"), help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.child:
        tool, name, folder = a.child
        reps = max(a.reps, MIN_SMALL_REPS) if WORKLOADS[name].small else a.reps
        print(json.dumps(CHILDREN[tool](name, Path(folder), reps, a.budget)))
        return
    tools = [t.strip() for t in a.tools.split(",") if t.strip()]
    if unknown := set(tools) - set(TOOLS):
        p.error(f"unknown tools {sorted(unknown)}; choose from {','.join(TOOLS)}")
    if a.no_r and "lme4" in tools:
        tools.remove("lme4")
    names = a.only.split(",") if a.only else list(WORKLOADS)
    if unknown := set(names) - set(WORKLOADS):
        p.error(f"unknown workloads {sorted(unknown)}; choose from {','.join(WORKLOADS)}")
    skip = {}
    if "lme4" in tools and not lme4_available():
        skip["lme4"] = "Rscript with lme4 and jsonlite not found"
    exe_mixedlm = mixedlm_python(a.mixedlm_python) if "mixedlm" in tools else None
    if "mixedlm" in tools and exe_mixedlm is None:
        skip["mixedlm"] = "mixedlm not installed (pass --mixedlm-python)"
    print(
        f"# {datetime.datetime.now():%Y-%m-%d %H:%M}, bench at {_commit(HERE)}, mixedmodels from {_library()}, "
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}; tools: {', '.join(tools)}"
        + "".join(f"; {t}: {why}" for t, why in skip.items())
        + "\n",
        flush=True,
    )
    print(
        "| workload | tool | time (median) | fits | evals | logLik (own) | vs best (own) | "
        "vs best (at its estimates) | peak MB | busy cores before |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|", flush=True)
    results: dict = {}
    for name in names:
        res: dict = {}
        with tempfile.TemporaryDirectory(prefix=f"glmm_{name}_") as tmp:
            folder = Path(tmp)
            from glmm_workloads import write

            write(name, folder)
            for tool in tools:
                if tool in skip:
                    res[tool] = {"skipped": skip[tool]}
                    continue
                busy = wait_for_quiet(a.quiet_cores, a.max_wait) if a.quiet_cores else busy_cores()
                load = os.getloadavg()[0]
                exe = exe_mixedlm if tool == "mixedlm" else sys.executable
                r = run_child(tool, name, folder, a, exe)
                r["busy_before"] = busy
                r["loadavg_before"] = load
                res[tool] = r
            try:
                loglik_at(name, folder, res)
            except Exception as exc:  # a benchmark run keeps its timings whatever happens here
                for r in res.values():
                    r["loglik_at_error"] = f"{type(exc).__name__}: {exc}"
        ml = [r["loglik"] for t, r in res.items() if t != "statsmodels" and r.get("loglik") is not None]
        at = [r["loglik_at"] for r in res.values() if r.get("loglik_at") is not None]
        for tool, r in res.items():
            print(_row(name, tool, r, max(at) if at else None, max(ml) if ml else None), flush=True)
        results[name] = res
        if a.json:  # after each workload, so that an interrupted run keeps what it measured
            a.json.write_text(json.dumps(results, indent=1))
    odd = []
    for n, rs in results.items():
        for t, r in rs.items():
            odd += [f"{n}/{t}: {m}" for m in r.get("messages", [])[:3]]
            odd += [f"{n}/{t}: {r['loglik_at_error']}"] if "loglik_at_error" in r else []
    if odd:
        print("\nMessages and warnings:\n" + "\n".join(f"- {x}" for x in odd))


if __name__ == "__main__":
    main()
