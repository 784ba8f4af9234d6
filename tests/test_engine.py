"""Build engine: publishing, caching by content hash, dependents, exports."""

from __future__ import annotations

import json
from pathlib import Path
from types import MappingProxyType

import geopandas as gpd
import numpy as np
import pytest
import rasterio

import layers.registry as registry
from geo.canonical import LANDCOVER_CODES
from layers import catalog as cat
from layers.base import LayerDef, LayerResult, Output, Param
from layers.config import load_config
from layers.engine import build
from layers.export import export_layer
from tests.conftest import ORIGIN, SIZE_M


def _quiet_build(config: Path, *layers: str, **kw):
    from rich.console import Console

    return build(load_config(config), list(layers) or None, console=Console(quiet=True), **kw)


def test_build_publishes_landcover_and_basemap(small_region: Path) -> None:
    summary = _quiet_build(small_region)
    assert sorted(summary.built) == ["basemap", "housing-opportunities", "landcover"]
    root = small_region.parent / "catalog"
    catalog = json.loads((root / "catalog.json").read_text())
    entry = catalog["layers"]["landcover"]
    for key in (
        "id",
        "title",
        "description",
        "kind",
        "version",
        "built_at",
        "inputs",
        "parameters",
        "bounds",
        "access",
        "style_id",
        "files",
    ):
        assert key in entry
    assert entry["title"]["nl"] == "Bodembedekking" and entry["description"]["en"]
    assert entry["parameters"] == {"raster_resolution_m": 1.0}
    assert entry["bounds"]["EPSG:28992"] == [ORIGIN[0], ORIGIN[1], ORIGIN[0] + SIZE_M, ORIGIN[1] + SIZE_M]
    lon0, lat0, lon1, lat1 = entry["bounds"]["EPSG:4326"]
    # RD (200000, 450000) is at 6.0430 E, 52.0365 N; 200 m is about 0.0029 deg of longitude there.
    assert lon0 == pytest.approx(6.0430, abs=1e-4) and lat0 == pytest.approx(52.0365, abs=1e-4)
    assert lon1 - lon0 == pytest.approx(0.0029, abs=1e-4) and lat1 - lat0 == pytest.approx(0.0018, abs=1e-4)
    formats = {f["format"] for f in entry["files"]}
    assert formats == {"parquet", "pmtiles", "cog"}
    for f in entry["files"]:
        assert (root / f["path"]).stat().st_size == f["bytes"]
    # Each quadrant of 100 x 100 m is 10,000 cells of 1 m2 with its own class code.
    cog = next(f for f in entry["files"] if f["format"] == "cog")
    with rasterio.open(root / cog["path"]) as ds:
        data = ds.read(1)
        assert ds.res == (1.0, 1.0) and data.shape == (200, 200)
        assert ds.colormap(1)[LANDCOVER_CODES["water"]][:3] == (0x4A, 0x90, 0xD9)
    counts = dict(zip(*np.unique(data, return_counts=True), strict=True))
    assert counts == {LANDCOVER_CODES[c]: 10_000 for c in ("building", "road_paved", "green_low", "water")}
    assert data[0, 0] == LANDCOVER_CODES["building"]  # top-left quadrant
    assert data[-1, -1] == LANDCOVER_CODES["water"]  # bottom-right quadrant
    assert (root / "landcover" / entry["version"] / "metadata.json").exists()


def test_second_build_builds_nothing_and_param_change_rebuilds_only_that_layer(small_region: Path) -> None:
    first = _quiet_build(small_region)
    again = _quiet_build(small_region)
    assert again.built == [] and sorted(again.up_to_date) == ["basemap", "housing-opportunities", "landcover"]
    small_region.write_text(
        small_region.read_text().replace("raster_resolution_m: 1.0", "raster_resolution_m: 2.0")
    )
    third = _quiet_build(small_region)
    assert third.built == ["landcover"] and sorted(third.up_to_date) == ["basemap", "housing-opportunities"]
    catalog = cat.read_catalog(small_region.parent / "catalog")
    versions = [v.version for v in catalog.layers["landcover"].versions]
    assert versions == [first.versions["landcover"], third.versions["landcover"]]
    assert all(
        (small_region.parent / "catalog" / v.path).is_dir() for v in catalog.layers["landcover"].versions
    )


def test_changed_source_bytes_rebuild(small_region: Path) -> None:
    _quiet_build(small_region)
    buildings = gpd.read_file(small_region.parent / "buildings.gpkg")
    buildings["status"] = "Pand gesloopt"
    buildings.to_file(small_region.parent / "buildings.gpkg", driver="GPKG")
    summary = _quiet_build(small_region)
    # Only basemap and housing-opportunities (plots without a building) read buildings.
    assert sorted(summary.built) == ["basemap", "housing-opportunities"] and summary.up_to_date == ["landcover"]


def _area_stats(inputs, params, ctx) -> LayerResult:
    frame = inputs.layers["landcover"].vectors["landcover"]
    table = frame.dissolve("class").reset_index()[["class", "geometry"]]
    table["share_pct"] = (table.area / table.area.sum() * params["scale"]).round(3)
    return LayerResult(vectors={"stats": table})


STATS = LayerDef(
    id="landcover-stats",
    title={"nl": "Statistiek", "en": "Stats"},
    description={"nl": "test", "en": "test"},
    kind="vector",
    inputs=(),
    depends=("landcover",),
    params=(Param("scale", 100.0, "%", "scale"),),
    outputs=(Output("stats", "vector", "per class"),),
    style_id="landcover",
    code_version="1",
    compute=_area_stats,
)


@pytest.fixture
def with_dependent_layer(monkeypatch: pytest.MonkeyPatch) -> None:
    """Register a layer that reads landcover's outputs (as later layers will)."""
    monkeypatch.setattr(registry, "LAYERS", MappingProxyType({**registry.LAYERS, STATS.id: STATS}))


def test_dependents_follow_their_inputs(small_region: Path, with_dependent_layer: None) -> None:
    first = _quiet_build(small_region)
    assert registry.build_order(["landcover-stats"]) == ["landcover", "landcover-stats"]
    assert sorted(first.built) == ["basemap", "housing-opportunities", "landcover", "landcover-stats"]
    # Changing the dependency rebuilds it and its dependent, not the unrelated basemap.
    small_region.write_text(
        small_region.read_text().replace("raster_resolution_m: 1.0", "raster_resolution_m: 2.0")
    )
    second = _quiet_build(small_region)
    assert second.built == ["landcover", "landcover-stats"]
    assert sorted(second.up_to_date) == ["basemap", "housing-opportunities"]
    # Changing only the dependent's parameter leaves landcover alone; its outputs are read back from the catalog.
    small_region.write_text(small_region.read_text() + "  landcover-stats: {scale: 1.0}\n")
    third = _quiet_build(small_region)
    assert third.built == ["landcover-stats"]
    stats = gpd.read_parquet(
        small_region.parent
        / "catalog"
        / cat.read_catalog(small_region.parent / "catalog")
        .layers["landcover-stats"]
        .file("stats", "vector")
        .path
    )
    assert sorted(stats["share_pct"]) == [0.25] * 4


def test_keep_versions_prunes_old_folders(small_region: Path) -> None:
    small_region.write_text(
        small_region.read_text().replace("catalog: ./catalog", "catalog: ./catalog\nkeep_versions: 1")
    )
    first = _quiet_build(small_region, "landcover")
    _quiet_build(small_region, "landcover", force=True)
    root = small_region.parent / "catalog"
    entry = cat.read_catalog(root).layers["landcover"]
    assert len(entry.versions) == 1
    assert not (root / "landcover" / first.versions["landcover"]).exists()


def test_export_formats(small_region: Path, tmp_path: Path) -> None:
    summary = _quiet_build(small_region)
    root = small_region.parent / "catalog"
    gpkg = export_layer(root, "basemap", "gpkg", tmp_path / "basemap.gpkg")
    import pyogrio

    assert {name for name, _ in pyogrio.list_layers(gpkg)} == {
        "buildings",
        "roads",
        "paved",
        "green",
        "water",
    }
    gj = export_layer(root, "landcover", "geojson", tmp_path / "lc.geojson")
    frame = gpd.read_file(gj)
    assert frame.crs.to_epsg() == 4326 and sorted(frame["class"]) == [
        "building",
        "green_low",
        "road_paved",
        "water",
    ]
    tif = export_layer(root, "landcover", "tif", tmp_path / "lc.tif", version=summary.versions["landcover"])
    with rasterio.open(tif) as ds:
        assert ds.crs.to_epsg() == 28992
    pq = export_layer(root, "basemap", "parquet", tmp_path / "b.parquet", output="buildings")
    assert gpd.read_parquet(pq)["id"].tolist() == ["0000100000000001"]
    from geo.errors import NotFoundError

    with pytest.raises(NotFoundError, match="no version"):
        export_layer(root, "landcover", "tif", tmp_path / "x.tif", version="19990101T000000Z-00000000")
    with pytest.raises(NotFoundError, match="not published"):
        export_layer(root, "nope", "tif", tmp_path / "x.tif")
