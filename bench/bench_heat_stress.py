"""Time and peak memory of ``kaartlaag build heat-stress`` on demo regions of growing area.

Usage::

    .venv/bin/python bench/bench_heat_stress.py                 # 1, 4 and 9 km2
    .venv/bin/python bench/bench_heat_stress.py --sizes 1000 2000 --workers 2

Each size generates the synthetic demo region (``geo.demo.generate_demo``,
0.5 m DSM) in a temporary folder and runs the CLI build of ``heat-stress``
(1 m output, defaults) in a child process, so the peak resident memory
(``ru_maxrss`` of the child) belongs to that build alone. The last column
projects the time of a 100 km2 municipality at 0.5 m on a 16-worker cluster
from the per-km2 time of the largest run: x 4 for the four times as many cells
at 0.5 m, x about 1.3 for the larger halo share of 0.5 m chunks, / (16 / local
workers) for the cluster, assuming the kernels (not the reading and
rasterising on the client) dominate, which the figures here let one check.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from geo.demo import generate_demo

#: Area of the municipality the projection is for (km2) and its cluster.
PROJECT_KM2 = 100.0
CLUSTER_WORKERS = 16
#: Cells per km2 at 0.5 m over cells per km2 at 1 m.
CELLS_FACTOR_HALF_METRE = 4.0
#: Extra work of the 100 m halo on 2048-cell chunks at 0.5 m (1 + 2*200/2048)^2 vs 1 m (1 + 2*100/2048)^2.
HALO_FACTOR = ((1 + 400 / 2048) / (1 + 200 / 2048)) ** 2


def run(size_m: float, workers: int) -> tuple[float, float]:
    """(seconds, peak MiB) of one heat-stress build on a fresh demo region of ``size_m`` x ``size_m``."""
    with tempfile.TemporaryDirectory() as tmp:
        config = generate_demo(Path(tmp) / "demo", size_m=size_m)
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        start = time.perf_counter()
        subprocess.run(
            [str(Path(sys.executable).parent / "kaartlaag"), "build", "heat-stress", "--config", str(config),
             "--workers", str(workers)],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        seconds = time.perf_counter() - start
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        # ru_maxrss of children is the largest child so far (KiB on Linux); sizes run in increasing order.
        return seconds, max(peak, before) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=float, nargs="+", default=[1000.0, 2000.0, 3000.0], help="sides in m")
    parser.add_argument("--workers", type=int, default=2, help="local Dask worker threads")
    args = parser.parse_args()
    print(f"{'area km2':>9} {'seconds':>9} {'s/km2':>7} {'peak MiB':>9}")
    last = (0.0, 0.0)
    for size in sorted(args.sizes):
        seconds, peak = run(size, args.workers)
        km2 = (size / 1000.0) ** 2
        last = (seconds, km2)
        print(f"{km2:9.1f} {seconds:9.1f} {seconds / km2:7.1f} {peak:9.0f}")
    seconds, km2 = last
    projected = seconds / km2 * PROJECT_KM2 * CELLS_FACTOR_HALF_METRE * HALO_FACTOR / (CLUSTER_WORKERS / args.workers)
    print(f"projected {PROJECT_KM2:g} km2 at 0.5 m on {CLUSTER_WORKERS} workers: {projected / 60:.1f} min "
          "(rough: assumes the whole build spreads over the workers; reading, rasterising and publishing "
          "on the client do not, so it is optimistic for those parts)")


if __name__ == "__main__":
    main()
