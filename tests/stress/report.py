"""The stress suite's failure list as Markdown: ``python -m tests.stress.report [--seeds A:B]
[--degenerate N] [--thorough] [--out FILE]`` (from the repository's root, with the package on the
path). Failures are grouped by pattern: where the fit and the best point lie relative to the
boundary, and the DataErrors raised on identifiable designs."""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict

import numpy as np

from .designs import FAMILIES, degenerate_design, make_design
from .harness import CRITERION_TOL, REL_TOL, Outcome, false_data_error, run_design
from .reference import DEFAULT_EFFORT, THOROUGH_EFFORT


def pattern(out: Outcome) -> str:
    """A failure's pattern: the fit on a face of the boundary that the optimum is not on (a diagonal
    entry it set to 0 is positive at the optimum); else an optimum at a much larger theta (a
    shifted covariate moves variance into the intercept); else a stop short of a nearby optimum."""
    assert out.fit is not None
    assert out.best is not None
    at_fit, at_best = out.boundary(out.fit.theta), out.boundary(out.best.theta)
    if set(at_fit) - set(at_best):
        return "A. fit on a boundary face the optimum is not on (a diagonal set to 0 is positive at the optimum)"
    if np.max(np.abs(out.best.theta)) >= 10 * np.max(np.abs(out.fit.theta)):
        return "B. optimum at a far larger theta (>= 10x the fit's largest entry); the fit stops near its start"
    if out.excess < 1e-4:
        return "C. fit stops short of a nearby optimum (excess below 1e-4 relative)"
    return "D. fit stops short of a nearby optimum (excess above 1e-4 relative)"


def tags(out: Outcome) -> list[str]:
    """Features of a design for the failure rates: family, covariate and response changes, truth, ML/REML."""
    d = out.design
    desc = d.description
    found = [f"family {d.family}", "REML" if d.reml else "ML"]
    for _name, a, b in d.transforms:
        if b:
            found.append(f"covariate shifted (+{b:g})")
        if a != 1.0:
            found.append(f"covariate scaled (*{a:g})")
    if "; y" in desc:
        found.append("response " + desc.split("; y")[1].split(";")[0])
    if "truth " in desc:
        found.append("truth " + desc.split("truth ")[1].split(" ")[0])
    return sorted(set(found))


def _rates(outs: list[Outcome], fails: list[Outcome]) -> list[str]:
    """A Markdown table of failures per feature (`tags`) against designs with the feature."""
    total: dict[str, int] = defaultdict(int)
    failed: dict[str, int] = defaultdict(int)
    seeds = {o.design.seed for o in fails}
    for o in outs:
        if o.design.family in FAMILIES:
            for t in tags(o):
                total[t] += 1
                failed[t] += o.design.seed in seeds
    lines = ["| feature | designs | failures | rate |", "|---|---:|---:|---:|"]
    for t in sorted(total, key=lambda t: (-failed[t] / total[t], t)):
        lines.append(f"| {t} | {total[t]} | {failed[t]} | {failed[t] / total[t]:.1%} |")
    return lines


def _seed(out: Outcome) -> str:
    """A design's seed, ``d`` before a degenerate design's."""
    return f"{'' if out.design.family in FAMILIES else 'd'}{out.design.seed}"


def _parse_range(text: str) -> range:
    """``A:B`` -> range(A, B)."""
    a, b = text.split(":")
    return range(int(a), int(b))


def main(argv: list[str] | None = None) -> int:
    """Run the designs, print progress to stderr and write the Markdown report."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seeds", type=_parse_range, default=range(300))
    ap.add_argument("--degenerate", type=int, default=40)
    ap.add_argument("--thorough", action="store_true", help="the slow tier's thorough search for every design")
    ap.add_argument("--out", default="-")
    args = ap.parse_args(argv)
    effort = THOROUGH_EFFORT if args.thorough else DEFAULT_EFFORT
    t0 = time.perf_counter()
    outs = [run_design(make_design(s), effort) for s in args.seeds]
    outs += [run_design(degenerate_design(s), effort) for s in range(args.degenerate)]
    elapsed = time.perf_counter() - t0

    fails = [o for o in outs if o.claims_convergence_above_optimum]
    # the thorough search from the failures, for the best numbers to report
    if not args.thorough:
        fails = [run_design(o.design, THOROUGH_EFFORT) for o in fails]
    false_errors = [o for o in outs if false_data_error(o)]
    imprecise = [o for o in outs if o.criterion_error() > CRITERION_TOL]
    unconfirmed = [
        o for o in outs if o.fit is not None and o.fit.converged and o.excess > REL_TOL and o.dense_excess <= REL_TOL
    ]
    groups: dict[str, list[Outcome]] = defaultdict(list)
    for o in fails:
        groups[pattern(o)].append(o)
    fitted = [o for o in outs if o.fit is not None]
    lines = [
        "# Convergence stress suite: failures of today's fitter",
        "",
        f"Designs: seeds {args.seeds.start}..{args.seeds.stop - 1} of `make_design` and "
        f"{args.degenerate} of `degenerate_design`; search effort "
        f"{'thorough' if args.thorough else 'default'}; {elapsed:.0f} s.",
        "",
        f"- fitted: {len(fitted)}; converged: {sum(o.fit.converged for o in fitted if o.fit)}; "
        f"not converged (warned): {sum(not o.fit.converged for o in fitted if o.fit)}; "
        f"singular: {sum(o.fit.is_singular for o in fitted if o.fit)}",
        f"- DataError: {sum(o.error is not None for o in outs)}, of which on identifiable designs: {len(false_errors)}",
        f"- **converged above a better point (excess > {REL_TOL:g} relative): {len(fails)}**",
        f"- model.objective off the dense formula by > {CRITERION_TOL:g} relative: {len(imprecise)}; "
        f"converged above a point better by model.objective only (not by the dense formula): {len(unconfirmed)}",
        "",
    ]
    lines += ["Failures by pattern:", ""]
    lines += [
        f"- {name}: {len(group)} (seeds {', '.join(_seed(o) for o in group)})" for name, group in sorted(groups.items())
    ]
    lines += ["", "## Failure rates by feature (make_design only)", "", *_rates(outs, fails), ""]
    for name, group in sorted(groups.items()):
        group.sort(key=lambda o: -o.excess)
        lines += [f"## {name}: {len(group)}", ""]
        lines += [f"- {o.reproducer()}" for o in group]
        lines.append("")
    if false_errors:
        lines += [f"## DataError on an identifiable design: {len(false_errors)}", ""]
        lines += [f"- {o.reproducer()}" for o in false_errors]
        lines.append("")
    if imprecise:
        imprecise.sort(key=lambda o: -o.criterion_error())
        lines += [f"## model.objective off the dense formula by > {CRITERION_TOL:g} relative: {len(imprecise)}", ""]
        lines += [f"- off by {o.criterion_error():.2g}: {o.reproducer()}" for o in imprecise]
        lines.append("")
    text = "\n".join(lines)
    if args.out == "-":
        sys.stdout.write(text)
    else:
        with open(args.out, "w") as fh:
            fh.write(text)
    print(f"{len(outs)} designs in {elapsed:.1f} s: {len(fails)} failures", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
