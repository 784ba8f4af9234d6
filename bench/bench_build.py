"""Time and memory of the main job: generate the demo region and build every layer.

Usage: .venv/bin/python bench/bench_build.py [--workdir DIR]

Prints one row per phase: generating the demo region, a full build, a second
build with nothing changed (cache hits only), and a forced rebuild with
1 and 2 worker threads.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import measure

KAARTLAAG = [sys.executable, "-m", "services.cli"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", type=Path, default=None, help="folder for the demo region (default: temporary)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = args.workdir or Path(tmp)
        region = work / "demo"
        config = str(region / "kaartlaag.yaml")
        phases = [
            ("demo-data (generate Eschveld)", [*KAARTLAAG, "demo-data", str(region)]),
            ("build, all layers, 2 workers", [*KAARTLAAG, "build", "-c", config, "--workers", "2"]),
            ("build again, nothing changed", [*KAARTLAAG, "build", "-c", config]),
            ("forced rebuild, 1 worker", [*KAARTLAAG, "build", "-c", config, "--force", "--workers", "1"]),
            ("forced rebuild, 2 workers", [*KAARTLAAG, "build", "-c", config, "--force", "--workers", "2"]),
        ]
        print(f"{'phase':40s} {'seconds':>8s} {'peak MiB':>9s}")
        for name, cmd in phases:
            m = measure(cmd)
            status = "" if m.returncode == 0 else f"  (exit {m.returncode})"
            print(f"{name:40s} {m.seconds:8.1f} {m.peak_mib:9.0f}{status}")


if __name__ == "__main__":
    main()
