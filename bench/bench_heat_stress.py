"""Time and peak memory of ``kaartlaag build heat-stress`` on demo regions of growing area.

Usage::

    .venv/bin/python bench/bench_heat_stress.py                 # 1, 4 and 9 km2
    .venv/bin/python bench/bench_heat_stress.py --sizes 1000 2000 --workers 2 --window 1000

Each size generates the synthetic demo region (``geo.demo.generate_demo``,
0.5 m DSM) in a temporary folder and runs the CLI build of ``heat-stress``
(1 m output, defaults) in a child process, so the peak resident memory
(``ru_maxrss`` of the child) belongs to that build alone. Each size is built
twice: in windows of ``--window`` cells (the engine's bounded-memory mode)
and as one window over the whole region (the peer: what an in-memory build
costs), so the two peaks stand side by side. A third build of the same
region without its DTM runs the surface view (shade and SVF from the DSM top,
the method before the person's view from the ground): the cost of the
person's view stands beside it. The last line
projects the time of a 100 km2 municipality at 0.5 m on a 16-worker cluster
from the per-km2 time of the largest run: x 4 for the four times as many cells
at 0.5 m, x about 1.3 for the larger halo share of 0.5 m chunks, / (16 / local
workers) for the cluster, assuming the kernels (not the reading and
rasterising on the client) dominate, which the figures here let one check.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from geo.demo import generate_demo

#: Area of the municipality the projection is for (km2) and its cluster.
PROJECT_KM2 = 100.0
CLUSTER_WORKERS = 16
#: Cells per km2 at 0.5 m over cells per km2 at 1 m.
CELLS_FACTOR_HALF_METRE = 4.0
#: Extra work of the 100 m halo on 2048-cell chunks at 0.5 m (1 + 2*200/2048)^2 vs 1 m (1 + 2*100/2048)^2.
HALO_FACTOR = ((1 + 400 / 2048) / (1 + 200 / 2048)) ** 2


#: Window edge (cells) large enough that every size here is one window.
ONE_WINDOW = 100_000
#: Child program: run the CLI, then print its seconds and its own peak resident memory (KiB).
_TIME_PEAK = """
import resource, sys, time
from services.cli import main
sys.argv = {argv!r}
start = time.perf_counter()
try:
    main()
except SystemExit as exc:
    if exc.code:
        raise
print(time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def run(config: Path, workers: int, window: int) -> tuple[float, float]:
    """(seconds, peak MiB) of one forced heat-stress build in a fresh child process."""
    argv = ["kaartlaag", "build", "heat-stress", "--config", str(config), "--workers", str(workers),
            "--window", str(window), "--force"]
    done = subprocess.run(
        [sys.executable, "-c", _TIME_PEAK.format(argv=argv)], check=True, capture_output=True, text=True
    )
    seconds, peak_kib = done.stdout.split()[-2:]
    return float(seconds), float(peak_kib) / 1024


def without_dtm(config: Path) -> Path:
    """A copy of a demo config whose AHN source gives the DSM only (the surface view of the shade layers)."""
    text = config.read_text(encoding="utf-8")
    stripped = text.replace(", dtm: dtm.tif", "")
    if stripped == text:
        raise SystemExit(f"{config}: no 'dtm: dtm.tif' in the ahn source to leave out")
    target = config.with_name("kaartlaag-surface.yaml")
    target.write_text(stripped.replace("catalog: ./catalog", "catalog: ./catalog-surface"), encoding="utf-8")
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=float, nargs="+", default=[1000.0, 2000.0, 3000.0], help="sides in m")
    parser.add_argument("--workers", type=int, default=2, help="local Dask worker threads")
    parser.add_argument("--window", type=int, default=1000, help="window edge in cells of the windowed build")
    args = parser.parse_args()
    print(f"{'area km2':>9} | {'windowed s':>10} {'s/km2':>6} {'peak MiB':>9} | {'one window s':>12} "
          f"{'peak MiB':>9} | {'surface view s':>14} {'peak MiB':>9}")
    last = (0.0, 0.0)
    for size in sorted(args.sizes):
        with tempfile.TemporaryDirectory() as tmp:
            config = generate_demo(Path(tmp) / "demo", size_m=size)
            seconds, peak = run(config, args.workers, args.window)
            one_s, one_peak = run(config, args.workers, ONE_WINDOW)
            surface_s, surface_peak = run(without_dtm(config), args.workers, args.window)
        km2 = (size / 1000.0) ** 2
        last = (seconds, km2)
        print(f"{km2:9.1f} | {seconds:10.1f} {seconds / km2:6.1f} {peak:9.0f} | {one_s:12.1f} {one_peak:9.0f} | "
              f"{surface_s:14.1f} {surface_peak:9.0f}")
    seconds, km2 = last
    projected = seconds / km2 * PROJECT_KM2 * CELLS_FACTOR_HALF_METRE * HALO_FACTOR / (CLUSTER_WORKERS / args.workers)
    print(f"projected {PROJECT_KM2:g} km2 at 0.5 m on {CLUSTER_WORKERS} workers: {projected / 60:.1f} min "
          "(rough: assumes the whole build spreads over the workers; reading, rasterising and publishing "
          "on the client do not, so it is optimistic for those parts)")


if __name__ == "__main__":
    main()
