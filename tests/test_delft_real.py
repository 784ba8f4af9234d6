"""Real, co-located registry data: the Delft BGT database and AHN3 LAZ of the TU campus (../shared/data).

Land cover, canopy, heat stress and cool places are built from the real
sources, and held against what the data show: a real tree standing on paving
shades the ground under its crown at 15:00, roofs get no street value, and
shade on walking space is higher from a person's view than from the DSM surface.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from rasterio.warp import Resampling, reproject
from shapely.geometry import box

from geo.canonical import LANDCOVER_CODES
from geo.ground_view import CROWN_TRANSMISSIVITY
from layers import catalog as cat
from tests.conftest import DELFT_CAMPUS, DELFT_HOMES

RD = "EPSG:28992"
#: The part of the AHN3 tiles the BGT database maps (RD m) and four dwellings on it, for the walk to a cool place.
CAMPUS, HOMES = DELFT_CAMPUS, DELFT_HOMES
#: Crowns at least this high over paving are "real trees standing on paving" (lamp posts are lower and thin).
TREE_HEIGHT_M = 5.0
PAVED = ("road_paved", "paved_other")


@pytest.fixture(scope="module")
def delft(delft_catalog: Path) -> Path:
    """The session's Delft catalog: landcover, green-paved, heat-stress, cool-places and pet (``delft_catalog``)."""
    return delft_catalog


def _entry(root: Path, layer: str) -> cat.LayerEntry:
    return cat.read_catalog(root).layers[layer]


def _band(root: Path, layer: str, output: str) -> tuple[np.ndarray, Any]:
    with rasterio.open(root / _entry(root, layer).file(output, "raster").path) as ds:
        return ds.read(1), ds.profile


def _onto(data: np.ndarray, profile: Any, like: Any, resampling: Resampling) -> np.ndarray:
    out = np.full((like["height"], like["width"]), np.nan, dtype=np.float32)
    reproject(data.astype(np.float32), out, src_transform=profile["transform"], src_crs=profile["crs"],
              dst_transform=like["transform"], dst_crs=like["crs"], resampling=resampling,
              src_nodata=profile.get("nodata"), dst_nodata=np.nan)
    return out


def test_a_real_tree_on_paving_shades_the_ground_under_its_crown_at_1500(delft: Path) -> None:
    shade, profile = _band(delft, "heat-stress", "shade_pct_1500")
    canopy, canopy_profile = _band(delft, "green-paved", "canopy")
    classes, class_profile = _band(delft, "landcover", "landcover")
    # Crown cells (0.5 m) over paved land cover, as the 1 m share of the shade grid they fall in.
    paved = np.isin(classes, [LANDCOVER_CODES[c] for c in PAVED])
    paved_1m = _onto(paved.astype(np.float32), class_profile, profile, Resampling.average)
    with np.errstate(invalid="ignore"):
        tall = np.where(np.isfinite(canopy), (canopy >= TREE_HEIGHT_M).astype(np.float32), np.nan)
    crown_1m = _onto(tall, canopy_profile, profile, Resampling.average)
    under = (crown_1m >= 1.0) & (paved_1m >= 1.0) & np.isfinite(shade)
    assert under.sum() > 50, "the campus has trees standing on paving"
    shaded = shade[under] >= 100 * (1 - CROWN_TRANSMISSIVITY) - 1e-3
    assert shaded.mean() > 0.95, shaded.mean()
    meta = _entry(delft, "heat-stress").metadata
    assert meta["view"]["kind"] == "person on the ground" and meta["canopy_cells"] > 0


def test_roofs_have_no_street_value_and_match_the_bgt_footprints(delft: Path) -> None:
    shade, profile = _band(delft, "heat-stress", "shade_pct_1500")
    uhi, _ = _band(delft, "heat-stress", "uhi_max")
    meta = _entry(delft, "heat-stress").metadata
    landcover = gpd.read_parquet(delft / _entry(delft, "landcover").file("landcover", "vector").path)
    footprints_m2 = landcover[landcover["class"] == "building"].area.sum()
    # 1 m roof cells: the BGT pand footprints (all inside the AHN tiles), to within the cells cut by outlines.
    assert meta["roof_cells"] == pytest.approx(footprints_m2, rel=0.02)
    assert np.array_equal(np.isnan(shade), np.isnan(uhi))
    # Beyond the AHN tiles nothing is measured, so nothing is computed (no surface invented by gap filling).
    col, row = ~profile["transform"] * (84_700.0, 447_700.0)
    assert np.isnan(shade[int(row), int(col)])
    known = np.isfinite(shade).sum() + meta["roof_cells"]
    assert known == pytest.approx(264 * 219, rel=0.05)  # the campus part of the AHN tiles, 1 m cells


def test_cool_places_from_the_person_view(delft: Path) -> None:
    entry = _entry(delft, "cool-places")
    assert entry.metadata["view"]["kind"] == "person on the ground"
    places = gpd.read_parquet(delft / entry.file("cool-places", "vector").path)
    assert len(places) >= 1 and (places.geometry.area >= 200.0 - 1e-6).all()
    dwellings = gpd.read_parquet(delft / entry.file("dwellings", "vector").path)
    assert len(dwellings) == len(HOMES)


def test_assessment_identity_on_the_real_delft_data(delft: Path) -> None:
    """The campus buurt assessed as a site (on the published inputs) gives the published layers' own figures."""
    from geo.site import SiteLimits, site_from_geojson
    from layers.assessment import assess_site
    from layers.inputs_store import PublishedInputs
    from layers.publish import read_result

    inputs = PublishedInputs(delft)
    limits = SiteLimits(max_area_m2=4e6, max_vertices=20_000, max_bytes=5_000_000, max_buffer_m=1000.0)
    site = site_from_geojson(box(*CAMPUS).__geo_interface__, RD, inputs.crs, limits, 20.0,
                             region_boundary=inputs.boundary)
    got = assess_site(delft, site).answer["site"]
    green = read_result(delft, _entry(delft, "green-paved").files).vectors["neighbourhoods"].iloc[0]
    for key in ("building_pct", "paved_pct", "green_pct", "water_pct", "canopy_pct"):
        assert got[key] == pytest.approx(float(green[key]), abs=0.05), key
    heat = read_result(delft, _entry(delft, "heat-stress").files).vectors["neighbourhoods"].iloc[0]
    assert got["uhi_max_mean"] == pytest.approx(float(heat["uhi_max_mean_k"]), abs=0.02)
    assert got["shade_pct"] == pytest.approx(float(heat["walk_shade_pct_1500"]), abs=0.5)
    places = read_result(delft, _entry(delft, "cool-places").files).vectors["cool-places"]
    assert len(places) > 0 and got["nearest_cool_place_m"] == 0.0  # the campus holds cool places


#: Koopmans et al. (2020): on the reference day the afternoon PET of Dutch towns runs from about 30 degC in deep
#: shade to about 45 degC on open paving; most urban ground lies in the moderate to extreme classes (29-41+).
KOOPMANS_PET_RANGE_C = (28.0, 47.0)


def test_pet_on_the_real_campus_lies_in_the_published_range_and_trees_cool(delft: Path) -> None:
    pet, profile = _band(delft, "pet", "pet_1500")
    afternoon, _ = _band(delft, "pet", "pet_afternoon")
    shade, shade_profile = _band(delft, "heat-stress", "shade_pct_1500")
    assert shade_profile["transform"] == profile["transform"] and shade.shape == pet.shape
    known = np.isfinite(afternoon)
    low, high = np.percentile(afternoon[known], [1, 99])
    assert KOOPMANS_PET_RANGE_C[0] <= low < high <= KOOPMANS_PET_RANGE_C[1], (low, high)
    # Roofs have no PET, as they have no shade figure.
    assert np.array_equal(np.isnan(pet), np.isnan(shade))
    # Paving under a real tall crown against paving in full sun at 15:00 (same land cover, same hour).
    canopy, canopy_profile = _band(delft, "green-paved", "canopy")
    classes, class_profile = _band(delft, "landcover", "landcover")
    paved = _onto(np.isin(classes, [LANDCOVER_CODES[c] for c in PAVED]).astype(np.float32), class_profile, profile,
                  Resampling.average) >= 1.0
    with np.errstate(invalid="ignore"):
        tall = np.where(np.isfinite(canopy), (canopy >= TREE_HEIGHT_M).astype(np.float32), np.nan)
    crown = _onto(tall, canopy_profile, profile, Resampling.average)
    under = paved & (crown >= 1.0) & np.isfinite(pet)
    sunny = paved & (np.nan_to_num(crown) == 0) & (shade == 0) & np.isfinite(pet)
    assert under.sum() > 50 and sunny.sum() > 500
    cooling = float(pet[sunny].mean() - pet[under].mean())
    assert 4.0 <= cooling <= 15.0, cooling
    table = gpd.read_parquet(delft / _entry(delft, "pet").file("neighbourhoods", "vector").path).iloc[0]
    shares = [table[f"walk_pct_{k}"] for k in ("geen", "licht", "matig", "sterk", "extreem")]
    assert sum(shares) == pytest.approx(100.0, abs=0.05)
    assert table["walk_pet_afternoon_p95"] > table["walk_pet_afternoon_mean"] > 30.0
