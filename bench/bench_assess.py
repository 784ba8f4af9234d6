"""Time of one site assessment (1 ha site, 300 m buffer), cold, beside the batch build of the same extent.

Usage: .venv/bin/python bench/bench_assess.py [--workdir DIR] [--size-m 1200]

Generates the demo region and builds the assessed layers once (that build also publishes the inputs).
Then:

* ``POST /assess`` on a freshly started ``kaartlaag serve`` (one worker): first the scenario (unpave
  everything, plant 12 trees; nothing of it computed before: cold), then the site without edits, then the
  PDF report;
* ``kaartlaag assess`` in a fresh process (imports and all), no edits and the scenario;
* the peer: ``kaartlaag build --force`` of the same layers on a copy of the region config whose boundary
  is the site plus its buffer (the batch engine over the very same extent).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import httpx
import shapely
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import measure
from _servers import kaartlaag_command, server

from geo.demo import generate_demo

KAARTLAAG = [sys.executable, "-m", "services.cli"]
LAYERS = ["green-paved", "tree-3-30-300", "heat-stress", "cool-places"]
SITE_HALF_M = 50.0
BUFFER_M = 300.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", type=Path, default=None, help="folder for the demo region (default: temporary)")
    parser.add_argument("--size-m", type=float, default=1200.0, help="side of the demo region (m)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = args.workdir or Path(tmp)
        region = work / "demo"
        config = region / "kaartlaag.yaml"
        only = list(LAYERS)
        generate_demo(region, size_m=args.size_m)
        m = measure([*KAARTLAAG, "build", "-c", str(config), *only])
        print(f"setup: build of the demo ({args.size_m:g} m square): {m.seconds:.1f} s")
        boundary = gpd.read_file(region / "boundary.gpkg")
        c = shapely.union_all(boundary.geometry.values).centroid
        site = shapely.box(c.x - SITE_HALF_M, c.y - SITE_HALF_M, c.x + SITE_HALF_M, c.y + SITE_HALF_M)
        (work / "site.geojson").write_text(json.dumps({"type": "Feature", "properties": {},
                                                       "geometry": shapely.geometry.mapping(site)}))
        (work / "edits.json").write_text(json.dumps([{"op": "unpave"}, {"op": "plant_trees", "count": 12}]))
        peer = region / "peer.yaml"
        gpd.GeoDataFrame(geometry=[site.buffer(BUFFER_M)], crs=boundary.crs).to_file(region / "peer_boundary.gpkg")
        cfg = yaml.safe_load(config.read_text())
        cfg["region"]["boundary"] = "peer_boundary.gpkg"
        cfg["catalog"] = "peer_catalog"
        peer.write_text(yaml.safe_dump(cfg))
        assess = [*KAARTLAAG, "assess", str(work / "site.geojson"), "--buffer-m", str(BUFFER_M), "-c", str(config)]
        phases = [
            ("assess, 1 ha + 300 m, no edits", [*assess, "--out", str(work / "a.json")]),
            ("assess, same, scenario (2 runs)", [*assess, "--out", str(work / "b.json"),
                                                 "--edits", str(work / "edits.json")]),
            ("peer: batch build of the extent", [*KAARTLAAG, "build", "-c", str(peer), "--force", *only]),
        ]
        scenario = json.loads((work / "edits.json").read_text())
        body = {"geometry": shapely.geometry.mapping(site), "buffer_m": BUFFER_M}
        print(f"{'request':40s} {'seconds':>8s}")
        with server(kaartlaag_command(region / "catalog", 1), "/layers", work / "server.log") as (base, _pid):
            for name, path, extra in (("POST /assess, scenario (cold)", "/assess", {"edits": scenario}),
                                      ("POST /assess, no edits", "/assess", {}),
                                      ("POST /assess/report.pdf", "/assess/report.pdf", {})):
                t0 = time.perf_counter()
                answer = httpx.post(base + path, json={**body, **extra}, timeout=600)
                print(f"{name:40s} {time.perf_counter() - t0:8.1f}  ({answer.status_code})", flush=True)
        print(f"\n{'phase':40s} {'seconds':>8s} {'peak MiB':>9s}")
        for name, cmd in phases:
            m = measure(cmd)
            print(f"{name:40s} {m.seconds:8.1f} {m.peak_mib:9.0f}", flush=True)


if __name__ == "__main__":
    main()
