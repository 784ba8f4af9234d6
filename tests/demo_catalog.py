"""The 1 km demo catalog that the tests of whole pages and APIs share (site assessment, map), and the
tests of layers built through the engine on the demo region (tree-3-30-300 with green-paved, cool-places).

Built once per test session (``tests/conftest.py``, fixture ``demo_catalog``), because the build
(heat stress at 0.5 m over a square kilometre) is the slowest part of those modules. What it holds:

* every layer the assessment runs or reads, the layers the map shows, and ``vacancy``;
* one housing site of its own (the 1 km demo has none) and a norm of the region's own
  (``assess.thresholds``), published with the inputs;
* ``cool-places`` internal (the map's API-key test), and two versions of ``landcover`` (its swipe).

The tests only read it: each serves it with its own server.
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import shapely
import yaml

from geo.demo import generate_demo
from layers.config import load_config
from layers.engine import build

#: Side of the demo region (m): the smallest the generator makes.
DEMO_M = 1000.0
#: The assessed layers, and the layers whose published figures the assessment reads as they are.
ASSESSED = ["green-paved", "tree-3-30-300", "heat-stress", "cool-places"]
READ = ["vacancy", "housing-sites"]
#: Everything built.
LAYERS = ["basemap", "landcover", *ASSESSED, *READ]
#: The region config's own norm (``assess.thresholds``).
REGION_NORM = {"figure": "paved_pct", "zone": "site", "threshold": 40.0, "operator": "<=",
               "source": "Omgevingsvisie Proefstad 2040"}
#: The internal layer.
INTERNAL = "cool-places"


def one_housing_site(path: Path) -> None:
    """One planned site of 80 x 60 m in the middle of the demo region, as a plan-capacity monitor lists it."""
    bounds = gpd.read_file(path.parent / "boundary.gpkg").total_bounds
    cx, cy = (bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2
    gpd.GeoDataFrame({"id": ["WL99"], "name": ["Proeflocatie"], "municipality": ["Proefstad"],
                      "status": ["vastgesteld"], "hard": [True], "planned_dwellings": [40]},
                     geometry=[shapely.box(cx - 40, cy - 30, cx + 40, cy + 30)], crs="EPSG:28992").to_file(path)


def build_demo_catalog(folder: Path) -> Path:
    """Generate and build the shared demo in ``folder``; return its config path (the catalog is beside it)."""
    config = generate_demo(folder / "demo", size_m=DEMO_M)
    one_housing_site(config.parent / "housing_sites.gpkg")
    doc = yaml.safe_load(config.read_text())
    doc["layers"] = {**(doc.get("layers") or {}), INTERNAL: {"access": "internal"}}
    doc["assess"] = {"thresholds": [REGION_NORM]}
    config.write_text(yaml.safe_dump(doc, sort_keys=False))
    cfg = load_config(config)
    summary = build(cfg, LAYERS)
    assert sorted(summary.built) == sorted(LAYERS)
    build(cfg, ["landcover"], force=True)  # a second kept version
    assert json.loads((cfg.catalog_dir / "catalog.json").read_text())["layers"][INTERNAL]["access"] == "internal"
    return config
