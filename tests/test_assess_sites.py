"""Site assessment (layers.assess) on hand-built sites whose figures are known by hand.

Every test runs the real layers through ``run_site`` (the one runner, ``layers.extent``) for a
site and its buffer, with and without what-if edits (``geo.edits``), and checks the figures
against answers computed from the hand-built layout; the last test checks ``judge``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pytest
import shapely
from affine import Affine

from geo.edits import parse_edits
from geo.raster import Raster
from layers.assess import BUFFER, SITE, delta, edited_sources, run_site
from layers.assess_thresholds import NORMS, judge
from layers.base import BuildContext, RegionContext
from layers.registry import get_layer
from tests.test_tree_3_30_300 import RD, SIZE, X0, Y0, scene

#: The hand-built square of the land-cover tests (local metres 0-200 from X0, Y0).
SQUARE = 200.0


def rect(x0: float, y0: float, x1: float, y1: float) -> shapely.Polygon:
    return shapely.box(X0 + x0, Y0 + y0, X0 + x1, Y0 + y1)


def site_and_ring(x0: float, y0: float, x1: float, y1: float, ring: float) -> tuple[shapely.Polygon, Any]:
    """A rectangular site and the square-cornered ring of ``ring`` m around it (the buffer)."""
    site = rect(x0, y0, x1, y1)
    return site, rect(x0 - ring, y0 - ring, x1 + ring, y1 + ring).difference(site)


def landcover(pieces: list[tuple[str, shapely.Polygon]]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"class": [c for c, _ in pieces], "source_class": [f"test:{c}" for c, _ in pieces],
         "source_id": [f"lc{i}" for i in range(len(pieces))], "public": [True] * len(pieces)},
        geometry=[g for _, g in pieces], crs=RD,
    )


def buurt(size: float = SQUARE) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"code": ["BU01"], "name": ["Proef"]}, geometry=[rect(0, 0, size, size)], crs=RD)


def ahn(blocks: list[tuple[float, float, float, float, float]], res: float = 1.0,
        size: float = SQUARE) -> dict[str, Raster]:
    """Flat terrain at 1 m NAP over the square and blocks (x0, y0, x1, y1, height above it) in the DSM."""
    n = round(size / res)
    rows, cols = np.indices((n, n))
    x, y = (cols + 0.5) * res, size - (rows + 0.5) * res
    top = np.zeros(x.shape)
    for x0, y0, x1, y1, h in blocks:
        top[(x >= x0) & (x < x1) & (y >= y0) & (y < y1)] = h
    t = Affine(res, 0, X0, 0, -res, Y0 + size)
    return {name: Raster((1.0 + a).astype(np.float32), RD, t, nodata=float("nan"), band_names=(name,), units=("m",))
            for name, a in (("dsm", top), ("dtm", np.zeros(x.shape)))}


def context(size: float = SQUARE) -> RegionContext:
    return RegionContext("Proefdorp", RD, rect(0, 0, size, size))


def params(ids: list[str], **given: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {i: get_layer(i).resolve_params(given.get(i, {}), i) for i in ids}


def assess(sources: dict[str, Any], site: Any, ring: Any, ids: list[str], size: float = SQUARE,
           **given: dict[str, Any]) -> Any:
    return run_site(sources, {}, context(size), site, ring, params(ids, **given), layer_ids=ids,
                    ctx=BuildContext(workers=1))


# -- 1. one land-cover class under the site, the buffer's shares from the layout -----------------------------
def test_site_over_one_class_and_the_buffer_shares_of_the_layout() -> None:
    # Paving west of x = 100 (with a 10 x 10 m building at 40-50, 40-50), green south-east, water north-east.
    sources = {
        "landcover": landcover([
            ("paved_other", rect(0, 0, 100, SQUARE).difference(rect(40, 40, 50, 50))),
            ("building", rect(40, 40, 50, 50)),
            ("green_low", rect(100, 0, SQUARE, 100)),
            ("water", rect(100, 100, SQUARE, SQUARE)),
        ]),
        "neighbourhoods": buurt(),
    }
    site, ring = site_and_ring(60, 60, 100, 100, 20)  # 40 x 40 m of paving, touching the green and water at x = 100
    run = assess(sources, site, ring, ["green-paved"])
    s, b = run.figures[SITE], run.figures[BUFFER]
    assert s["area_m2"] == 1600.0 and b["area_m2"] == 4800.0
    assert s["paved_pct"] == 100.0
    assert (s["building_pct"], s["green_pct"], s["water_pct"]) == (0.0, 0.0, 0.0)
    # Buffer 40-120 x 40-120 minus the site: paving 3,200 - 100 m2 building, green 20 x 60, water 20 x 20.
    assert b["building_pct"] == pytest.approx(100 / 48, abs=0.006)
    assert b["paved_pct"] == pytest.approx(3100 / 48, abs=0.006)
    assert b["green_pct"] == pytest.approx(1200 / 48, abs=0.006)
    assert b["water_pct"] == pytest.approx(400 / 48, abs=0.006)
    assert s["canopy_pct"] is None and s["trees_count"] == 0  # no tree source, no AHN: no canopy figure

    # The same site over the green: green 100 exactly.
    green_site, green_ring = site_and_ring(120, 20, 160, 60, 10)
    green = assess(sources, green_site, green_ring, ["green-paved"]).figures[SITE]
    assert green["green_pct"] == 100.0 and green["paved_pct"] == 0.0
    assert (green["building_pct"], green["water_pct"]) == (0.0, 0.0)


# -- 2. half the site under a canopy ---------------------------------------------------------------------------
def test_site_half_under_an_ahn_canopy() -> None:
    # A 10 m canopy block over x 60-80, y 40-120: the west half of the 40 x 40 m site and 2 x 20 x 20 m of the ring.
    sources = {
        "landcover": landcover([("paved_other", rect(0, 0, SQUARE, SQUARE))]),
        "neighbourhoods": buurt(),
        **ahn([(60, 40, 80, 120, 10.0)], res=0.5),
    }
    site, ring = site_and_ring(60, 60, 100, 100, 20)
    run = assess(sources, site, ring, ["green-paved"])
    cell = 0.5 * 0.5
    assert run.figures[SITE]["canopy_pct"] == pytest.approx(50.0, abs=40 * cell / 1600 * 100)
    assert run.figures[BUFFER]["canopy_pct"] == pytest.approx(800 / 48, abs=80 * cell / 4800 * 100)
    assert run.figures[SITE]["paved_pct"] == 100.0  # canopy over paving leaves the surface shares alone


# -- 3. three trees planted in view make a dwelling meet the 3 --------------------------------------------------
def test_planting_three_trees_in_view_makes_the_dwelling_meet_the_3() -> None:
    sources = scene()
    # Building C (145-155, 83-93) holds dwelling C1, which sees one tree (t-corner); D (160-165, 93-98) is in the site.
    site, ring = site_and_ring(130, 70, 175, 105, 15)
    ids = ["tree-3-30-300"]
    before = assess(sources, site, ring, ids, size=SIZE)
    c1 = before.results["tree-3-30-300"].vectors["dwellings"].set_index("dwelling_id").loc["C1"]
    assert c1["trees_visible"] == 1 and not bool(c1["meets_3"])
    assert before.figures[SITE]["dwellings"] == 1 and before.figures[SITE]["dwellings_meeting_3"] == 0
    # 7 m south, 7 m west and 7 m north of C's facades, in the open.
    edits = parse_edits([{"op": "plant_trees", "points": [[X0 + 150, Y0 + 76], [X0 + 138, Y0 + 88],
                                                           [X0 + 150, Y0 + 100]]}])
    edited, result = edited_sources(sources, edits, site)
    assert result.summary["trees_added"] == 3
    assert len(sources["trees"]) == 11  # the snapshot is not changed
    after = assess(edited, site, ring, ids, size=SIZE)
    c1 = after.results["tree-3-30-300"].vectors["dwellings"].set_index("dwelling_id").loc["C1"]
    assert c1["trees_visible"] == 4 and bool(c1["meets_3"])
    assert after.figures[SITE]["dwellings"] == 1 and after.figures[SITE]["dwellings_meeting_3"] == 1
    assert after.figures[SITE]["trees_count"] == before.figures[SITE]["trees_count"] + 3
    change = delta(before.figures, after.figures)[SITE]
    assert change["dwellings_meeting_3"] == 1 and change["trees_count"] == 3
    # The dwellings outside the site are not counted in it: A1 and A2 see their three trees either way.
    assert after.figures[BUFFER]["dwellings"] == 0


# -- 4. unpaving the whole site: no paving, less heat island -------------------------------------------------
def test_unpave_all_takes_paving_to_0_and_lowers_the_heat_island() -> None:
    sources = {
        "landcover": landcover([("paved_other", rect(0, 0, SQUARE, SQUARE))]),
        "neighbourhoods": buurt(),
        **ahn([]),
    }
    site, ring = site_and_ring(50, 50, 150, 150, 20)
    ids = ["green-paved", "heat-stress"]
    before = assess(sources, site, ring, ids)
    assert before.figures[SITE]["paved_pct"] == 100.0 and before.figures[SITE]["green_pct"] == 0.0
    edited, result = edited_sources(sources, parse_edits([{"op": "unpave"}]), site)
    assert result.summary["unpaved_m2"] == pytest.approx(10_000.0, abs=0.01)
    after = assess(edited, site, ring, ids)
    s0, s1 = before.figures[SITE], after.figures[SITE]
    assert s1["paved_pct"] == 0.0 and s1["green_pct"] == 100.0
    assert after.figures[BUFFER]["paved_pct"] == 100.0  # the ring is not edited
    assert s0["uhi_max_mean"] is not None and s1["uhi_max_mean"] is not None
    assert s1["uhi_max_mean"] < s0["uhi_max_mean"]
    # Flat ground (SVF 1): uhi_max = (1 - F_veg) (S DTR^3 / U)^(1/4). F_veg is the vegetated share of the mapped
    # land within 500 m, which from every cell is the whole 200 m square: 0 before, 1 ha of 4 ha = 0.25 after.
    assert s0["uhi_max_mean"] == pytest.approx(3.62, abs=0.006)
    assert s1["uhi_max_mean"] == pytest.approx(0.75 * s0["uhi_max_mean"], abs=0.011)
    assert s1["uhi_max_max"] < s0["uhi_max_max"]
    change = delta(before.figures, after.figures)[SITE]
    assert change["paved_pct"] == -100.0 and change["green_pct"] == 100.0
    assert change["uhi_max_mean"] < 0
    assert change["uhi_max_mean"] == pytest.approx(s1["uhi_max_mean"] - s0["uhi_max_mean"], abs=0.006)


# -- 5. judging the figures against the norms ---------------------------------------------------------------
def test_judge_gives_met_per_norm_and_leaves_out_dwelling_norms_without_dwellings() -> None:
    figures: dict[str, dict[str, Any]] = {
        SITE: {"shade_pct": 30.0, "nearest_cool_place_m": 450.0, "nearest_park_m": 120.0,
               "dwellings": 0, "dwellings_meeting_3": 0, "dwellings_meeting_30": 0, "dwellings_meeting_300": 0},
        BUFFER: {"canopy_pct": 12.5},
    }
    rows = {(r["figure"], r["zone"]): r for r in judge(figures)}
    assert set(rows) == {("shade_pct", SITE), ("nearest_cool_place_m", SITE), ("canopy_pct", BUFFER),
                         ("nearest_park_m", SITE)}
    assert rows["shade_pct", SITE]["met"] is True  # 30 % meets ">= 30" exactly
    assert rows["nearest_cool_place_m", SITE]["met"] is False
    assert rows["canopy_pct", BUFFER]["met"] is False
    assert rows["nearest_park_m", SITE]["met"] is True
    assert rows["canopy_pct", BUFFER]["value"] == 12.5 and rows["canopy_pct", BUFFER]["threshold"] == 30.0

    # With dwellings the dwelling norms are judged against their number; a missing value has no verdict.
    figures[SITE].update(shade_pct=29.99, nearest_cool_place_m=300.0, dwellings=4, dwellings_meeting_3=4,
                         dwellings_meeting_30=2, dwellings_meeting_300=None)
    figures[BUFFER]["canopy_pct"] = None
    rows = {(r["figure"], r["zone"]): r for r in judge(figures)}
    assert len(rows) == len(NORMS)
    assert rows["shade_pct", SITE]["met"] is False
    assert rows["nearest_cool_place_m", SITE]["met"] is True
    assert rows["canopy_pct", BUFFER]["met"] is None
    assert rows["dwellings_meeting_3", SITE]["met"] is True and rows["dwellings_meeting_3", SITE]["threshold"] == 4
    assert rows["dwellings_meeting_30", SITE]["met"] is False
    assert rows["dwellings_meeting_300", SITE]["met"] is None


def test_region_norms_are_checked_and_named_in_the_config(tmp_path: Path) -> None:
    from geo.errors import ConfigError
    from layers.config import parse_config

    base = {"region": {"name": "Proefdorp"}}
    good = {"figure": "uhi_max_mean", "zone": "site", "threshold": 1.5, "operator": "<="}
    cfg = parse_config({**base, "assess": {"thresholds": [good]}}, tmp_path, "regio.yaml")
    (norm,) = cfg.assess.norms()
    assert (norm.figure, norm.threshold, norm.source) == ("uhi_max_mean", 1.5, "regioconfiguratie")
    rows = judge({SITE: {"uhi_max_mean": 1.2}, BUFFER: {}}, (norm,))
    assert rows == [{"figure": "uhi_max_mean", "zone": "site", "value": 1.2, "threshold": 1.5, "operator": "<=",
                     "met": True, "source": "regioconfiguratie"}]
    for bad, named in (({**good, "figure": "hitte"}, "hitte"), ({**good, "operator": "<"}, "operator"),
                       ({**good, "zone": "wijk"}, "zone"), ({**good, "kleur": "rood"}, "kleur")):
        with pytest.raises(ConfigError, match=named):
            parse_config({**base, "assess": {"thresholds": [bad]}}, tmp_path, "regio.yaml")
