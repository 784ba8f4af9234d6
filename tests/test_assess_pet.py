"""PET in the site assessment: read off the published layer, recomputed near the edits, held against the full run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
import yaml
from rasterio.features import geometry_mask
from rich.console import Console

from geo.edits_model import parse_edits
from geo.site import SiteLimits, site_from_geojson
from layers import catalog as cat
from layers.assess_pet import EDIT_REACH_M, PET_FIGURES, recompute_window, zone_figures
from layers.assessment import assess_site
from layers.base import BuildContext, Extent, RegionContext
from layers.config import load_config
from layers.engine import build
from layers.extent import MemoryInputs, run_layer
from layers.inputs_store import PublishedInputs
from layers.pet import AFTERNOON, LAYER, MOMENT

#: Half the side of the built box (m): the region is cut to it so the build stays small.
HALF_BOX_M = 180.0
#: Half the side of the assessed site (m) and its buffer (m).
HALF_SITE_M, BUFFER_M = 30.0, 60.0


@pytest.fixture(scope="module")
def region(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from geo.demo import generate_demo

    folder = tmp_path_factory.mktemp("assess-pet")
    config = generate_demo(folder / "demo", size_m=1000)
    boundary = gpd.read_file(config.parent / "boundary.gpkg")
    minx, miny, maxx, maxy = boundary.total_bounds
    cx, cy = (minx + maxx) / 2, (miny + maxy) / 2
    gpd.GeoDataFrame(geometry=[shapely.box(cx - HALF_BOX_M, cy - HALF_BOX_M, cx + HALF_BOX_M, cy + HALF_BOX_M)],
                     crs=boundary.crs).to_file(config.parent / "box.gpkg")
    doc = yaml.safe_load(config.read_text())
    doc["region"]["boundary"] = "box.gpkg"
    config.write_text(yaml.safe_dump(doc, sort_keys=False))
    build(load_config(config), ["green-paved", "pet"], console=Console(quiet=True))
    site_geom = shapely.box(cx - HALF_SITE_M, cy - HALF_SITE_M, cx + HALF_SITE_M, cy + HALF_SITE_M)
    limits = SiteLimits(max_area_m2=1e6, max_vertices=1000, max_bytes=1_000_000, max_buffer_m=500.0)
    site = site_from_geojson(site_geom.__geo_interface__, "EPSG:28992", boundary.crs, limits, BUFFER_M)
    return {"catalog": config.parent / "catalog", "site": site, "crs": boundary.crs}


def _published_site_mean(catalog_dir: Path, output: str, geom: shapely.Geometry) -> float:
    """The mean of a published raster over the cells whose centre lies in ``geom`` (rasterio, independently)."""
    entry = cat.read_catalog(catalog_dir).layers["pet"]
    with rasterio.open(catalog_dir / entry.file(output, "raster").path) as ds:
        data = ds.read(1)
        inside = ~geometry_mask([geom], out_shape=data.shape, transform=ds.transform)
    return float(np.nanmean(np.where(inside, data, np.nan)))


def test_without_edits_the_figures_are_the_published_layer_s(region: dict[str, Any]) -> None:
    got = assess_site(region["catalog"], region["site"]).answer
    site = got["site"]
    assert set(PET_FIGURES) <= set(site) and set(PET_FIGURES) <= set(got["buffer"])
    want = _published_site_mean(region["catalog"], AFTERNOON, region["site"].geometry)
    assert site["pet_afternoon_mean"] == pytest.approx(want, abs=0.01)
    assert site["pet_1500_mean"] == pytest.approx(
        _published_site_mean(region["catalog"], MOMENT, region["site"].geometry), abs=0.01)
    assert 0.0 <= site["pet_strong_pct"] <= 100.0
    assert got["version"]["layers"]["pet"] == cat.read_catalog(region["catalog"]).layers["pet"].version


def test_planting_trees_lowers_pet_and_the_local_run_matches_the_full_computation(region: dict[str, Any]) -> None:
    """Twelve trees of 8 m crown in a 60 m site lower its afternoon PET; the scenario's local run (window = site
    + 30 m, SOLWEIG halo 40 m, published values beyond) is held against the layer's own full run (80 m halo) on
    the same edited inputs: within 0.2 degC on the means and 3 points on the strong-heat share."""
    edits = parse_edits([{"op": "plant_trees", "count": 12, "crown_diameter_m": 8, "height_m": 10}])
    result = assess_site(region["catalog"], region["site"], edits)
    before, after = result.answer["before"]["site"], result.answer["after"]["site"]
    assert after["pet_afternoon_mean"] <= before["pet_afternoon_mean"] - 0.3
    assert after["pet_1500_mean"] < before["pet_1500_mean"]
    assert result.answer["delta"]["site"]["pet_afternoon_mean"] < 0
    # The full computation: the pet layer with its own parameters over the recompute window, edited inputs.
    assert result.after is not None
    crs = region["crs"]
    site = region["site"].geometry
    entry = cat.read_catalog(region["catalog"]).layers["pet"]
    params = LAYER.resolve_params(entry.parameters, "layers.pet")  # the demo builds pet at 2 m
    assert params["resolution_m"] == 2.0
    window = recompute_window(site, params["resolution_m"], crs)
    inputs = PublishedInputs(region["catalog"])
    context = RegionContext(inputs.name, inputs.crs, inputs.boundary)
    full = run_layer(LAYER, params, MemoryInputs(result.after.sources, crs, inputs.providers), Extent(window.bounds),
                     context,
                     zones=None, dependencies={}, ctx=BuildContext())
    rasters = {name: full.rasters[name].data[0] for name in (AFTERNOON, MOMENT)}
    want = zone_figures(rasters, window, {"site": site})["site"]
    for key in ("pet_afternoon_mean", "pet_1500_mean"):
        assert after[key] == pytest.approx(want[key], abs=0.2), key
    assert after["pet_strong_pct"] == pytest.approx(want["pet_strong_pct"], abs=3.0)
    assert 20.0 / np.tan(np.radians(37.0)) <= EDIT_REACH_M  # a 20 m object's shadow at 18:00


def test_a_scenario_solves_no_pet_table_the_published_version_holds(region: dict[str, Any],
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A cold server takes the PET tables from the published metadata (``seed_tables``): solving them would
    cost about 10 s, the whole scenario budget."""
    import geo.pet
    from layers.assess_pet import seed_tables
    from layers.pet import _instants, person, pet_tables, weather_day

    entry = cat.read_catalog(region["catalog"]).layers["pet"]
    params = LAYER.resolve_params(entry.parameters, "layers.pet")
    monkeypatch.setattr(geo.pet, "_TABLES", {})

    def refuse(*_args: Any) -> None:
        raise AssertionError("a PET table was solved")

    monkeypatch.setattr(geo.pet, "_solve_table", refuse)
    assert seed_tables(entry, params) == 7
    day = weather_day(MemoryInputs({}, region["crs"]), params)  # type: ignore[arg-type]
    _, afternoon, _ = _instants(day, params)
    assert len(pet_tables(day, afternoon, person(params))) == 7
