"""Streamed and Dask fits of a large simulated random-slope design written as Parquet.

    python bench/bench_stream.py --rows 100_000_000 --groups 200_000 --dir /tmp/mm-stream

Writes the Parquet files (once; not committed), then fits `y ~ x1 + x2 + (1 + x1 + x2 | g)` streamed
(batches of --batch rows) and with a Dask LocalCluster (2 workers), reporting time, rows per second
of the data pass, peak memory (max RSS of the process; for Dask, of the client and workers), and
the Parquet decode rate alone for comparison.
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


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--rows", type=int, default=100_000_000)
    p.add_argument("--groups", type=int, default=200_000)
    p.add_argument("--dir", type=Path, default=Path("/tmp/mm-stream"))
    p.add_argument("--batch", type=int, default=2_000_000)
    p.add_argument("--no-dask", action="store_true")
    a = p.parse_args()
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
    formula = "y ~ x1 + x2 + (1 + x1 + x2 | g)"
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
