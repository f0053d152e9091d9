"""Streamed and Dask fits of a large simulated random-slope design written as Parquet.

    python bench/bench_stream.py --rows 100_000_000 --groups 200_000 --dir /tmp/mm-stream

Writes the Parquet files (once; not committed), then fits `y ~ x1 + x2 + (1 + x1 + x2 | g)` streamed
(batches of --batch rows) and with a Dask LocalCluster (2 workers), reporting time, rows per second
of the data pass, peak memory (max RSS of the process; for Dask, of the client and workers), and
the Parquet decode rate alone for comparison.

    python bench/bench_stream.py --dictionary --rows 10_000_000 --groups 20_000 --formula "y ~ x1 + (1 + x1 | g)"
    python bench/bench_stream.py --dictionary --rows 10_000_000 --groups 1_000_000 --formula "y ~ x1 + (1 | g)"

The grouping column stored as an Arrow dictionary of text labels (each file its own dictionary, as
pandas writes a categorical): the streamed fit (native pass), the same with formulaic's path for
every chunk (``native=False``), and the data read into memory (``pd.read_parquet``) and fitted,
each in its own process (so that each peak RSS is its own), with pass 1 and pass 2 timed apart.
"""

from __future__ import annotations

import argparse
import resource
import time
import warnings
from pathlib import Path

import numpy as np


def write(dirpath: Path, rows: int, groups: int, per_file: int = 5_000_000) -> list[Path]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    dirpath.mkdir(parents=True, exist_ok=True)
    files = []
    rng = np.random.default_rng(1)
    cov = np.array([[1.0, 0.3, 0.1], [0.3, 0.5, 0.0], [0.1, 0.0, 0.25]])
    b = rng.multivariate_normal(np.zeros(3), cov, size=groups)
    for i, start in enumerate(range(0, rows, per_file)):
        path = dirpath / f"part{i:03d}.parquet"
        files.append(path)
        if path.exists():
            continue
        n = min(per_file, rows - start)
        g = rng.integers(0, groups, n).astype(np.int32)
        x1, x2 = rng.normal(size=n), rng.normal(size=n)
        y = 1 + 0.5 * x1 - 0.3 * x2 + b[g, 0] + b[g, 1] * x1 + b[g, 2] * x2 + rng.normal(size=n)
        pq.write_table(pa.table({"y": y, "x1": x1, "x2": x2, "g": g}), path)
    return files


def write_dictionary(dirpath: Path, rows: int, groups: int, per_file: int = 5_000_000) -> list[Path]:
    """The random-slope design with the grouping column as an Arrow dictionary of labels g0000001, ...
    (each file's dictionary the labels of its rows, in order of appearance, as pandas writes one)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    dirpath.mkdir(parents=True, exist_ok=True)
    files = []
    rng = np.random.default_rng(2)
    b = rng.multivariate_normal(np.zeros(3), [[1.0, 0.3, 0.1], [0.3, 0.5, 0.0], [0.1, 0.0, 0.25]], size=groups)
    labels = pa.array([f"g{i:07d}" for i in range(groups)])
    for i, start in enumerate(range(0, rows, per_file)):
        path = dirpath / f"part{i:03d}.parquet"
        files.append(path)
        if path.exists():
            continue
        n = min(per_file, rows - start)
        g = rng.integers(0, groups, n)
        x1, x2 = rng.normal(size=n), rng.normal(size=n)
        y = 1 + 0.5 * x1 - 0.3 * x2 + b[g, 0] + b[g, 1] * x1 + b[g, 2] * x2 + rng.normal(size=n)
        col = pc.dictionary_encode(labels.take(pa.array(g)))
        pq.write_table(pa.table({"y": y, "x1": x1, "x2": x2, "g": col}), path)
    return files


def measure(mode: str, files: list[str], formula: str, batch: int) -> dict[str, float]:
    """One measurement (run in a child process): 'native' or 'formulaic' streamed, or 'memory'."""
    import pandas as pd

    import mixedmodels as mm
    from mixedmodels.stream import model_from_source

    warnings.simplefilter("ignore", mm.MixedModelsWarning)
    out: dict[str, float] = {}
    t0 = time.perf_counter()
    if mode == "memory":
        frame = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
        out["read"] = time.perf_counter() - t0
        fit = mm.lmer(formula, frame)
    else:
        marks: list[tuple[float, int]] = []
        model = model_from_source(
            formula,
            files,
            batch_size=batch,
            native=mode == "native",
            progress=lambda d: marks.append((time.perf_counter(), d)),
        )
        built = time.perf_counter()
        # pass 1's marks count up, then pass 2's start again from the first batch
        cut = next(i for i in range(1, len(marks)) if marks[i][1] <= marks[i - 1][1])
        out["pass1"] = marks[cut - 1][0] - t0
        out["pass2"] = marks[len(marks) - 1 if len(marks) > cut else cut][0] - marks[cut - 1][0]
        out["rows"] = float(model.nobs)
        fit = model.fit()
        out["optimise"] = time.perf_counter() - built
    out["total"] = time.perf_counter() - t0
    out["evals"] = float(fit.n_evals)
    out["objective"] = float(fit.objective)
    out["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def dictionary_main(a: argparse.Namespace) -> None:
    import json
    import os
    import subprocess
    import sys

    t0 = time.perf_counter()
    files = [str(f) for f in write_dictionary(a.dir, a.rows, a.groups)]
    print(
        f"data: {len(files)} Parquet files, {sum(Path(f).stat().st_size for f in files) / 1e9:.2f} GB, "
        f"{a.rows:,} rows, {a.groups:,} levels as a dictionary column "
        f"({time.perf_counter() - t0:.0f} s to write or find)"
    )
    print(f"formula {a.formula!r}, batches of {a.batch:,} rows, load average {os.getloadavg()[0]:.1f}")
    res = {}
    for mode in a.modes.split(","):
        code = (
            "import json, sys; sys.path.insert(0, 'bench'); import bench_stream as b; "
            f"print(json.dumps(b.measure({mode!r}, {files!r}, {a.formula!r}, {a.batch})))"
        )
        run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        r = json.loads(run.stdout.strip().splitlines()[-1])
        res[mode] = r
        if mode == "memory":
            detail = f"read {r['read']:.1f} s + fit {r['total'] - r['read']:.1f} s"
        else:
            detail = (
                f"pass 1 {r['pass1']:.1f} s ({a.rows / r['pass1'] / 1e6:.2f} M rows/s), pass 2 {r['pass2']:.1f} s "
                f"({a.rows / r['pass2'] / 1e6:.2f} M rows/s), optimisation {r['optimise']:.1f} s"
            )
        print(
            f"{mode:>9}: {r['total']:.1f} s ({detail}), {int(r['evals'])} evaluations, "
            f"peak RSS {r['peak_mb']:.0f} MB, objective {r['objective']:.6f}",
            flush=True,
        )
    if "memory" in res:
        for mode in res:
            if mode != "memory":
                print(f"{mode} / memory: {res[mode]['total'] / res['memory']['total']:.2f}x")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--rows", type=int, default=100_000_000)
    p.add_argument("--groups", type=int, default=200_000)
    p.add_argument("--dir", type=Path, default=Path("/tmp/mm-stream"))
    p.add_argument("--batch", type=int, default=2_000_000)
    p.add_argument("--no-dask", action="store_true")
    p.add_argument("--dictionary", action="store_true", help="the grouping column as an Arrow dictionary")
    p.add_argument("--formula", default="y ~ x1 + x2 + (1 + x1 + x2 | g)")
    p.add_argument("--modes", default="native,formulaic,memory", help="--dictionary: which to measure")
    a = p.parse_args()
    if a.dictionary:
        if a.dir == Path("/tmp/mm-stream"):
            a.dir = Path(f"/tmp/mm-stream-dict-{a.rows}-{a.groups}")
        dictionary_main(a)
        return
    import pyarrow.parquet as pq

    import mixedmodels as mm

    warnings.simplefilter("ignore", mm.MixedModelsWarning)
    t0 = time.perf_counter()
    files = write(a.dir, a.rows, a.groups)
    print(
        f"data: {len(files)} Parquet files, {sum(f.stat().st_size for f in files) / 1e9:.2f} GB "
        f"({time.perf_counter() - t0:.0f} s to write or find)"
    )
    big, big2 = np.ones(50_000_000), np.zeros(50_000_000)  # 400 MB each, pages touched
    np.copyto(big2, big)
    t0 = time.perf_counter()
    for _ in range(3):
        np.copyto(big2, big)
    bw = 3 * 2 * big.nbytes / (time.perf_counter() - t0) / 1e9
    del big, big2
    print(f"memory bandwidth (numpy copy, read + write): {bw:.1f} GB/s; a row of (y, x1, x2, g) is 28 bytes")
    t0 = time.perf_counter()
    for f in files:
        for _ in pq.ParquetFile(f).iter_batches(batch_size=a.batch, columns=["y", "x1", "x2", "g"]):
            pass
    dec = time.perf_counter() - t0
    print(f"Parquet decode alone: {dec:.1f} s, {a.rows / dec / 1e6:.1f} M rows/s")
    formula = a.formula
    t0 = time.perf_counter()
    m = mm.lmer(formula, [str(f) for f in files], batch_size=a.batch, progress=False)
    el = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"streamed fit: {el:.1f} s ({2 * a.rows / el / 1e6:.2f} M rows/s over the two passes), "
        f"{m.n_evals} evaluations, peak RSS {peak:.0f} MB; fixef {np.round(m.fixef.to_numpy(), 4)}, "
        f"sigma {m.sigma:.4f}"
    )
    if a.no_dask:
        return
    import dask.dataframe as dd
    import distributed

    with (
        distributed.LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cl,
        distributed.Client(cl) as client,
    ):
        ddf = dd.read_parquet([str(f) for f in files], split_row_groups=True)  # ~1M-row partitions
        t0 = time.perf_counter()
        md = mm.lmer(formula, ddf)
        el = time.perf_counter() - t0
        mem = client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        print(
            f"Dask LocalCluster (2 workers): {el:.1f} s, {md.n_evals} evaluations, worker peak RSS "
            f"{max(mem.values()):.0f} MB; objective difference to streamed {md.objective - m.objective:.2e}"
        )


if __name__ == "__main__":
    main()
