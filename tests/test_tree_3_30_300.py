"""Layer tree-3-30-300 on a hand-built street grid where every answer is computed by hand."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import CRS
from shapely.geometry import LineString, Point, box

from geo.visibility import SightScene, visible_trees
from layers.base import BuildContext
from layers.config import load_config
from layers.extent import run_in_memory
from layers.tree_3_30_300 import DWELLING_COLUMNS, LAYER

X0, Y0 = 200_000.0, 450_000.0
RD = CRS.from_epsg(28992)
SIZE = 400.0


def at(x: float, y: float) -> tuple[float, float]:
    return X0 + x, Y0 + y


def rect(x0: float, y0: float, x1: float, y1: float) -> shapely.Polygon:
    return box(X0 + x0, Y0 + y0, X0 + x1, Y0 + y1)


def frame(rows: list[dict[str, Any]], geoms: list[Any]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(rows, geometry=geoms, crs=RD)


def lens(r: float, d: float) -> float:
    return 2 * r * r * math.acos(d / (2 * r)) - d / 2 * math.sqrt(4 * r * r - d * d)


def scene() -> dict[str, gpd.GeoDataFrame]:
    """The hand-built village (local coordinates in m, 0-400; see the expectations in the tests).

    * A (and flat A2 at the same point) at (50, 88) in building A: trees 20 m east, north
      and west are seen from its facades; one 20 m south is hidden behind building B from
      every facade point; one 30.01 m east of the east facade is outside the radius.
    * C at (150, 88): its one tree's sight line only grazes the corner of building D.
    * E at (300, 290) has no building (its id is not registered) and lives in a small buurt
      under one big crown (40 m) that holds a small crown inside it.
    * F at (40, 245) lies next to a street piece that is not connected to the grid.
    * M at (150, 288) is a shop with a flat (mixed use); a shop and an unfinished flat are no dwellings.
    """
    streets = [LineString([at(0, v), at(SIZE, v)]) for v in range(0, 401, 100)]
    streets += [LineString([at(v, 0), at(v, SIZE)]) for v in range(0, 401, 100)]
    streets.append(LineString([at(20, 250), at(60, 250)]))  # disconnected
    buildings = {
        "A": rect(45, 83, 55, 93),
        "B": rect(45, 74, 55, 78),
        "C": rect(145, 83, 155, 93),
        "D": rect(160, 93, 165, 98),
        "F": rect(35, 240, 45, 248),
        "M": rect(145, 283, 155, 293),
        "S": rect(245, 45, 255, 65),
    }
    addresses = [
        ("A1", "A", "woonfunctie", "Verblijfsobject in gebruik", (50, 88)),
        ("A2", "A", "woonfunctie", "Verblijfsobject in gebruik (niet ingemeten)", (50, 88)),
        ("C1", "C", "woonfunctie", "Verblijfsobject in gebruik", (150, 88)),
        ("E1", "missing", "woonfunctie", "Verblijfsobject in gebruik", (300, 290)),
        ("F1", "F", "woonfunctie", "Verblijfsobject in gebruik", (40, 245)),
        ("M1", "M", "winkelfunctie,woonfunctie", "Verblijfsobject in gebruik", (150, 288)),
        ("S1", "S", "winkelfunctie", "Verblijfsobject in gebruik", (250, 50)),
        ("S2", "S", "woonfunctie", "Verblijfsobject gevormd", (250, 60)),
    ]
    trees = [
        ("t1", 4.0, (70, 88)),
        ("t2", 4.0, (50, 108)),
        ("t3", 4.0, (30, 88)),
        ("t4-hidden", 4.0, (50, 68)),
        ("t5-far", 4.0, (55.5 + 30.01, 88)),  # 30.01 m east of the east facade (offset 0.5 m)
        ("t-corner", 4.0, (170, 108)),
        ("big1", 10.0, (100, 300)),
        ("big2", 10.0, (106, 300)),
        ("huge", 40.0, (305, 300)),
        ("inside-huge", None, (310, 300)),  # no crown given: default 6 m, inside the huge crown anyway
        ("outside-region", 4.0, (-100, -100)),
    ]
    landcover = [
        ("green_low", True, rect(370, 370, 410, 450)),
        ("green_low", True, rect(410, 370, 450, 450)),
        ("green_trees", False, rect(200, 0, 300, 100)),
        ("green_low", None, rect(0, 300, 90, 400)),
    ]
    return {
        "streets": frame([{"id": f"s{i}"} for i in range(len(streets))], streets),
        "buildings": frame([{"id": k, "status": "Pand in gebruik"} for k in buildings], list(buildings.values())),
        "addresses": frame(
            [{"id": a, "building_id": b, "use": u, "status": s} for a, b, u, s, _ in addresses],
            [Point(at(*p)) for *_, p in addresses],
        ),
        "trees": frame([{"id": i, "crown_diameter_m": d} for i, d, _ in trees], [Point(at(*p)) for *_, p in trees]),
        "neighbourhoods": frame(
            [{"code": "BU01", "name": "West"}, {"code": "BU02", "name": "Oost"}],
            [rect(0, 0, 200, 400), rect(275, 275, 335, 325)],
        ),
        "parks": frame(
            [{"id": "park", "name": "Stadspark"}, {"id": "plantsoen", "name": "Plantsoen"}],
            [rect(370, 370, 450, 450), rect(60, 105, 90, 135)],
        ),
        "landcover": frame(
            [
                {"class": c, "source_class": "test", "source_id": f"lc{i}", "public": p}
                for i, (c, p, _) in enumerate(landcover)
            ],
            [g for *_, g in landcover],
        ),
    }


def run(sources: dict[str, gpd.GeoDataFrame], **params: Any) -> Any:
    given = {p.name: p.default for p in LAYER.params} | params
    return run_in_memory(LAYER, sources, (X0, Y0, X0 + SIZE, Y0 + SIZE), crs=RD, params=given, name="Proefdorp",
                         ctx=BuildContext(workers=1))


@pytest.fixture(scope="module")
def result() -> Any:
    return run(scene())


def row(result: Any, dwelling: str) -> Any:
    table = result.vectors["dwellings"].set_index("dwelling_id")
    return table.loc[dwelling]


def test_columns_and_dwelling_selection(result: Any) -> None:
    table = result.vectors["dwellings"]
    assert list(table.columns) == [*DWELLING_COLUMNS, "geometry"]
    assert sorted(table["dwelling_id"]) == ["A1", "A2", "C1", "E1", "F1", "M1"]
    counts = result.metadata["log"]["counts"]
    assert counts["dwellings_not_in_use"] == 1
    assert counts["dwellings_without_building"] == 1
    assert counts["dwellings_point_outside_building"] == 0


def test_three_visible_one_hidden_one_outside_radius(result: Any) -> None:
    for dwelling in ("A1", "A2"):
        assert row(result, dwelling)["trees_visible"] == 3
        assert bool(row(result, dwelling)["meets_3"])


def test_grazing_a_corner_does_not_block(result: Any) -> None:
    assert row(result, "C1")["trees_visible"] == 1
    assert not bool(row(result, "C1")["meets_3"])


def test_dwelling_without_building_is_measured(result: Any) -> None:
    e = row(result, "E1")
    # No footprint under it: every building may block its view; it still gets all three answers.
    assert e["trees_visible"] == 2 and e["building_id"] == "missing"
    assert not pd.isna(e["canopy_pct"]) and not pd.isna(e["park_distance_m"])


def test_canopy_of_the_buurt_counts_overlaps_once(result: Any) -> None:
    west = 6 * math.pi * 4 + (2 * math.pi * 25 - lens(5.0, 6.0))
    assert row(result, "A1")["canopy_pct"] == pytest.approx(west / 80_000 * 100, abs=0.005)
    # The small crown lies inside the huge one: 400 pi m2 over a 60 x 50 m buurt.
    assert row(result, "E1")["canopy_pct"] == pytest.approx(400 * math.pi / 3000 * 100, abs=0.005)
    assert bool(row(result, "E1")["meets_30"]) and not bool(row(result, "A1")["meets_30"])


def test_park_distance_along_the_street_grid(result: Any) -> None:
    # 12 m to the street y = 100, then 600 m of streets to a point 20 m from the park (x = 350 or y = 350).
    assert row(result, "A1")["park_distance_m"] == pytest.approx(612.0, abs=0.01)
    assert row(result, "C1")["park_distance_m"] == pytest.approx(512.0, abs=0.01)
    assert row(result, "M1")["park_distance_m"] == pytest.approx(312.0, abs=0.01)
    assert row(result, "E1")["park_distance_m"] == pytest.approx(160.0, abs=0.01)
    assert bool(row(result, "E1")["meets_300"]) and not bool(row(result, "M1")["meets_300"])
    assert result.metadata["distance_method"].startswith("network")


def test_disconnected_street_gives_null_and_a_count(result: Any) -> None:
    f = row(result, "F1")
    assert pd.isna(f["park_distance_m"]) and not bool(f["meets_300"])
    assert result.metadata["log"]["counts"]["dwellings_unreachable"] == 1
    assert result.metadata["log"]["counts"]["street_components"] == 2


def test_scores_and_neighbourhood_table(result: Any) -> None:
    scores = result.vectors["dwellings"].set_index("dwelling_id")["score"].to_dict()
    assert scores == {"A1": 1, "A2": 1, "C1": 0, "E1": 2, "F1": 0, "M1": 0}
    per = result.vectors["neighbourhoods"].set_index("code")
    assert per.loc["BU01", "dwellings"] == 5
    assert per.loc[
        "BU01", ["meets_3_pct", "meets_30_pct", "meets_300_pct", "meets_all_pct", "meets_none_pct"]
    ].tolist() == [40.0, 0.0, 0.0, 0.0, 60.0]
    assert per.loc["BU02", ["dwellings", "meets_30_pct", "meets_300_pct", "meets_none_pct"]].tolist() == [
        1,
        100,
        100,
        0,
    ]


def test_parks_used_and_small_park_left_out(result: Any) -> None:
    parks = result.vectors["parks"]
    assert parks["id"].tolist() == ["park"]
    assert parks.loc[0, "dwellings_nearest"] == 5 and parks.loc[0, "dwellings_within"] == 1
    assert result.metadata["log"]["counts"]["parks_too_small"] == 1


def test_tree_beyond_the_reach_is_not_read(result: Any) -> None:
    """The tree 100 m outside the region is beyond the 30 m reach and outside every buurt: never read."""
    counts = result.metadata["log"]["counts"]
    assert counts["trees"] == 10 and counts["trees_beyond_reach"] == 0
    assert counts["trees_default_crown"] == 1


def test_address_point_outside_its_building_is_counted() -> None:
    sources = scene()
    addresses = sources["addresses"]
    addresses.loc[addresses["id"] == "M1", "geometry"] = Point(at(150, 296))  # 3 m north of building M
    out = run(sources)
    assert out.metadata["log"]["counts"]["dwellings_point_outside_building"] == 1


def test_min_crown_area_and_other_thresholds() -> None:
    out = run(scene(), min_crown_area_m2=13.0, min_trees_visible=1, max_park_distance_m=700.0)
    table = out.vectors["dwellings"].set_index("dwelling_id")
    assert table.loc["A1", "trees_visible"] == 0  # its trees have 4 m crowns: 12.57 m2 < 13 m2
    assert table.loc["E1", "trees_visible"] == 2  # 40 m and (default) 6 m crowns
    assert table.loc["A1", "meets_300"] and table.loc["E1", "meets_3"]


def test_canopy_in_a_radius() -> None:
    out = run(scene(), canopy_scope="radius", canopy_radius_m=50.0)
    e = out.vectors["dwellings"].set_index("dwelling_id").loc["E1"]
    # The huge crown lies wholly in the 50 m disc: 400 pi / (2500 pi), counted on a 1 m grid.
    assert e["canopy_pct"] == pytest.approx(16.0, abs=0.25)
    assert not e["meets_30"]


def test_without_streets_distance_is_straight_and_said_so() -> None:
    sources = scene()
    del sources["streets"]
    out = run(sources)
    e = out.vectors["dwellings"].set_index("dwelling_id").loc["E1"]
    assert e["park_distance_m"] == pytest.approx(math.hypot(70, 80), abs=0.05)
    assert "straight line" in out.metadata["distance_method"]
    assert any("no street network" in n for n in out.metadata["log"]["notes"])


def test_parks_derived_from_touching_public_green() -> None:
    sources = scene()
    del sources["parks"]
    out = run(sources, park_public_unknown="exclude")
    parks = out.vectors["parks"]
    # Two touching public strips of 3,200 m2 make one park of 6,400 m2; private green is left out.
    assert parks["area_m2"].tolist() == [6400.0]
    assert out.vectors["dwellings"].set_index("dwelling_id").loc["E1", "park_distance_m"] == pytest.approx(
        160.0, abs=0.01
    )
    counts = out.metadata["log"]["counts"]
    assert counts["green_polygons_public_unknown"] == 1
    # Green whose owner is unknown (90 x 100 m) becomes a park when asked for, and by the BGT proxy (default).
    more = run(sources, park_public_unknown="include").vectors["parks"]
    assert sorted(more["area_m2"].tolist()) == [6400.0, 9000.0]
    assert sorted(run(sources).vectors["parks"]["area_m2"].tolist()) == [6400.0, 9000.0]


def test_visibility_kernel_batches_give_the_same_answer() -> None:
    rng = np.random.default_rng(5)
    xy = rng.uniform(0, 300, (400, 2))
    blds = shapely.buffer(shapely.points(rng.uniform(0, 300, (150, 2))), 4.0, quad_segs=2)
    trees = rng.uniform(0, 300, (600, 2))
    sight = SightScene(trees, blds, np.arange(150))
    own = rng.integers(-1, 150, 400)
    whole = visible_trees(xy, own, sight, 30.0, batch=10_000)
    assert (whole == visible_trees(xy, own, sight, 30.0, batch=37)).all()
    # Against a per-point shapely loop (the obvious method).
    expected = []
    for (px, py), mine in zip(xy, own, strict=True):
        seen = 0
        for tx, ty in trees:
            if math.hypot(tx - px, ty - py) > 30.0:
                continue
            line = LineString([(px, py), (tx, ty)])
            blocked = any(k != mine and line.intersects(b) and not line.touches(b) for k, b in enumerate(blds))
            seen += not blocked
        expected.append(seen)
    assert whole.tolist() == expected


def test_demo_region_builds_both_layers_through_the_engine(demo_catalog: Path) -> None:
    # The session's 1 km demo built both layers through the engine (``tests.demo_catalog``).
    root = load_config(demo_catalog).catalog_dir
    layers = json.loads((root / "catalog.json").read_text())["layers"]
    entry = layers["tree-3-30-300"]
    files = {f["output"]: root / f["path"] for f in entry["files"]}
    dwellings = gpd.read_parquet(files["dwellings"])
    assert list(dwellings.columns) == [*DWELLING_COLUMNS, "geometry"]
    assert len(dwellings) == entry["metadata"]["log"]["counts"]["dwellings"] > 0
    assert (dwellings["score"] == dwellings[["meets_3", "meets_30", "meets_300"]].sum(axis=1)).all()
    assert (dwellings["meets_300"] == (dwellings["park_distance_m"] <= 300)).all()
    per_buurt = gpd.read_parquet(files["neighbourhoods"])
    assert per_buurt["dwellings"].sum() + entry["metadata"]["log"]["counts"]["dwellings_outside_neighbourhoods"] == len(
        dwellings
    )
    assert len(gpd.read_parquet(files["parks"])) >= 1
    assert entry["parameter_info"]["max_park_distance_m"]["unit"] == "m"
    assert entry["parameters"]["min_park_area_m2"] == 5000.0
    refs = " ".join(entry["references"])
    assert "Konijnendijk" in refs and "Browning" in refs and "WHO" in refs
    assert entry["metadata"]["distance_method"].startswith("network")
    paved = layers["green-paved"]
    table = gpd.read_parquet(root / next(f["path"] for f in paved["files"] if f["output"] == "neighbourhoods"))
    five = ["building_pct", "paved_pct", "green_pct", "water_pct", "bare_pct"]
    assert np.allclose(table[five].sum(axis=1), 100.0, atol=0.1)


def test_map_rules_name_real_outputs_and_columns() -> None:
    from styles.green import register, tree_rule_rules
    from styles.vector import vector_rules

    register()
    register()  # a second call is harmless
    outputs = {o.name for o in LAYER.outputs}
    for rule in tree_rule_rules():
        assert rule.source_layer in outputs
        assert rule.field in (None, *DWELLING_COLUMNS)
    drawn = vector_rules("tree-3-30-300", [{"id": "dwellings"}, {"id": "parks"}])
    assert sorted({r.value for r in drawn if r.field == "score"}) == [0, 1, 2, 3]
