"""Publishing primitives: COG writer, PMTiles writer/reader, tile matrix sets.

All inputs are small hand-built rasters and frames in EPSG:28992 (RD New) around
Amersfoort, so expected values are known exactly.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import math
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import mapbox_vector_tile
import morecantile
import numpy as np
import pandas as pd
import pyogrio
import pytest
import rasterio
import rasterio.errors
import rasterio.shutil
from affine import Affine
from morecantile.errors import InvalidIdentifier
from pyproj import Transformer
from rio_cogeo.cogeo import cog_validate
from shapely.geometry import Point, box

import tiles.pmtiles as kl_pmtiles
from geo.crs import RD_NEW
from geo.errors import CRSError, NotFoundError, PublishError
from geo.raster import Raster
from tiles.cog import validate_cog, write_cog
from tiles.pmtiles import archive_info, read_tile, write_pmtiles
from tiles.tms import TMS_IDS, get_tms, tile_at, tms_registry

RD = RD_NEW
#: A 1300 x 1100 grid at 0.5 m: larger than one 512 block, so overviews 2 and 4 are needed.
WIDTH, HEIGHT, CELL = 1300, 1100, 0.5
ORIGIN = (155000.0, 464000.0)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def float_raster() -> Raster:
    rng = np.random.default_rng(42)
    data = rng.uniform(-5.0, 40.0, size=(2, HEIGHT, WIDTH)).astype("float32")
    data[:, :7, :9] = np.nan
    return Raster(
        data,
        RD,
        Affine(CELL, 0, ORIGIN[0], 0, -CELL, ORIGIN[1]),
        nodata=None,
        band_names=("dsm", "dtm"),
        units=("m", "m"),
    )


# --------------------------------------------------------------------------- COG


def test_cog_float_round_trip(tmp_path: Path) -> None:
    raster = float_raster()
    out = write_cog(raster, tmp_path / "height.tif", tags={"layer": "height", "version": "3"})

    assert out == tmp_path / "height.tif"
    assert cog_validate(str(out), quiet=True) == (True, [], [])
    with rasterio.open(out) as src:
        np.testing.assert_array_equal(src.read(), raster.data)
        assert math.isnan(src.nodata)  # NaN cells without declared nodata get NaN nodata
        assert src.descriptions == ("dsm", "dtm")
        assert src.units == ("m", "m")
        assert src.crs.to_epsg() == 28992
        assert src.transform == raster.transform
        assert src.tags()["layer"] == "height" and src.tags()["version"] == "3"
        assert src.overviews(1) == [2, 4]  # 1300 / 4 = 325 < 512
        assert src.block_shapes == [(512, 512), (512, 512)]
        structure = src.tags(ns="IMAGE_STRUCTURE")
        assert structure["COMPRESSION"] == "DEFLATE"
        assert structure["PREDICTOR"] == "3"
        assert structure["LAYOUT"] == "COG"
        # The NaN corner stays masked in the dataset mask.
        assert not src.dataset_mask()[:7, :9].any() and src.dataset_mask()[7:, 9:].all()


def test_cog_classified_with_colormap(tmp_path: Path) -> None:
    classes = (np.arange(HEIGHT * WIDTH).reshape(HEIGHT, WIDTH) // 997 % 10).astype("uint8")
    classes[0, :20] = 255
    transform = Affine(CELL, 0, ORIGIN[0], 0, -CELL, ORIGIN[1])
    raster = Raster(classes, RD, transform, nodata=255, band_names=("class",), units=("",))
    colormap = {code: (25 * code, 255 - 25 * code, 100, 255) for code in range(10)}

    out = write_cog(raster, tmp_path / "landcover.tif", resampling="mode", colormap=colormap)

    assert cog_validate(str(out), quiet=True) == (True, [], [])
    with rasterio.open(out) as src:
        np.testing.assert_array_equal(src.read(1), classes)
        assert src.nodata == 255
        assert src.descriptions == ("class",)
        assert src.colormap(1)[3] == (75, 180, 100, 255)
        assert all(src.colormap(1)[code] == colormap[code] for code in range(10))
        assert src.tags(ns="IMAGE_STRUCTURE")["PREDICTOR"] == "2"
        assert src.overviews(1) == [2, 4]
        # Mode resampling keeps overview cells to existing class codes.
        overview = src.read(1, out_shape=(HEIGHT // 4, WIDTH // 4))
        assert set(np.unique(overview)) <= {*range(10), 255}


def test_cog_small_integer_raster_has_no_nodata_and_no_overviews(tmp_path: Path) -> None:
    raster = Raster(np.arange(200, dtype="int16").reshape(10, 20), RD, Affine(1, 0, 155000, 0, -1, 463000))
    out = write_cog(raster, tmp_path / "small.tif")
    with rasterio.open(out) as src:
        assert src.nodata is None
        assert src.overviews(1) == []  # already smaller than one block
        assert src.descriptions == ("band1",)
        np.testing.assert_array_equal(src.read(1), raster.data[0])
    validate_cog(out)


def test_rio_cogeo_cli_validates(tmp_path: Path) -> None:
    out = write_cog(float_raster(), tmp_path / "height.tif")
    rio = Path(sys.executable).parent / "rio"
    result = subprocess.run(
        [str(rio), "cogeo", "validate", str(out)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "is a valid cloud optimized GeoTIFF" in result.stdout
    assert "NOT" not in result.stdout


def test_validate_cog_rejects_plain_striped_geotiff(tmp_path: Path) -> None:
    plain = tmp_path / "plain.tif"
    with rasterio.open(
        plain,
        "w",
        driver="GTiff",
        width=WIDTH,
        height=HEIGHT,
        count=1,
        dtype="uint8",
        crs=RD,
        transform=Affine(CELL, 0, ORIGIN[0], 0, -CELL, ORIGIN[1]),
    ) as dst:
        dst.write(np.ones((1, HEIGHT, WIDTH), dtype="uint8"))
    with pytest.raises(PublishError, match=r"not a valid COG.*not tiled"):
        validate_cog(plain)


def test_cog_failed_write_keeps_previous_file(tmp_path: Path) -> None:
    out = write_cog(float_raster(), tmp_path / "height.tif")
    before = sha256(out)

    # float16 cannot be written by GDAL 3.10: the second write fails inside rasterio.
    bad = Raster(np.ones((1, 10, 10), dtype="float16"), RD, Affine(1, 0, 155000, 0, -1, 463000))
    with pytest.raises(PublishError, match=r"height\.tif: writing the COG failed"):
        write_cog(bad, out)

    assert sha256(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["height.tif"]  # no temporary file left


def test_cog_half_written_file_never_replaces_previous(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = write_cog(float_raster(), tmp_path / "height.tif")
    before = sha256(out)

    def truncated_copy(src, dst, **kwargs):  # simulates GDAL stopping half-way (disk full, kill)
        real_copy(src, dst, **kwargs)
        data = Path(dst).read_bytes()
        Path(dst).write_bytes(data[: len(data) // 2])

    real_copy = rasterio.shutil.copy
    monkeypatch.setattr(rasterio.shutil, "copy", truncated_copy)
    with pytest.raises(PublishError, match=r"height\.tif: not a valid COG: truncated, band 1 ends at byte"):
        write_cog(float_raster(), out)

    def failing_copy(src, dst, **kwargs):  # GDAL reporting an error after writing part of the file
        Path(dst).write_bytes(b"II*\x00partial")
        raise rasterio.errors.RasterioIOError("write failed: No space left on device")

    monkeypatch.setattr(rasterio.shutil, "copy", failing_copy)
    with pytest.raises(PublishError, match=r"height\.tif: writing the COG failed: write failed: No space"):
        write_cog(float_raster(), out)

    assert sha256(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["height.tif"]


def test_cog_option_errors(tmp_path: Path) -> None:
    with pytest.raises(PublishError, match="colormap needs a single-band uint8"):
        write_cog(float_raster(), tmp_path / "x.tif", colormap={1: (0, 0, 0, 255)})
    classes = Raster(np.zeros((1, 10, 10), dtype="uint8"), RD, Affine(1, 0, 0, 0, -1, 0))
    with pytest.raises(PublishError, match="classified raster must use 'nearest' or 'mode'"):
        write_cog(classes, tmp_path / "x.tif", colormap={0: (0, 0, 0, 255)}, resampling="average")
    with pytest.raises(PublishError, match="unknown overview resampling"):
        write_cog(classes, tmp_path / "x.tif", resampling="smooth")
    with pytest.raises(PublishError, match="multiple of 16"):
        write_cog(classes, tmp_path / "x.tif", blocksize=500)
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------- PMTiles

WEB = morecantile.tms.get("WebMercatorQuad")
TO_WGS84 = Transformer.from_crs(RD, "EPSG:4326", always_xy=True)
TO_RD = Transformer.from_crs("EPSG:4326", RD, always_xy=True)


def tile_centre_rd(z: int, x: int, y: int) -> tuple[float, float]:
    b = WEB.bounds(morecantile.Tile(x, y, z))
    return TO_RD.transform((b.left + b.right) / 2, (b.bottom + b.top) / 2)


#: The z16 tile holding a point in Amersfoort; test features sit within 60 m of its
#: centre (the tile is ~375 m wide at this latitude), so all fall inside it.
TILE16 = WEB.tile(*TO_WGS84.transform(155500.0, 463500.0), 16)


def sample_layers() -> dict[str, gpd.GeoDataFrame]:
    cx, cy = tile_centre_rd(TILE16.z, TILE16.x, TILE16.y)
    # A land-cover-like partition: two squares sharing a border, plus a third.
    polygons = gpd.GeoDataFrame(
        {
            "id": ["lc1", "lc2", "lc3"],
            "class": ["water", "green_low", "building"],
            "height_m": [np.nan, 0.25, 9.5],
            "year": pd.array([1990, pd.NA, 2011], dtype="Int64"),
        },
        geometry=[
            box(cx - 60, cy - 60, cx, cy),
            box(cx, cy - 60, cx + 60, cy),
            box(cx - 40, cy + 10, cx + 40, cy + 50),
        ],
        crs=RD,
    )
    points = gpd.GeoDataFrame(
        {
            "id": np.array([101, 102, 103], dtype="int64"),
            "crown_diameter_m": [4.5, np.nan, 12.25],
            "species": ["Quercus robur", None, "Tilia"],
            "planted": [dt.date(1998, 4, 1), None, dt.date(2015, 11, 30)],
            "count": np.array([1, 2, 3], dtype="uint8"),
            "public": pd.array([True, pd.NA, False], dtype="boolean"),
        },
        geometry=[Point(cx - 30, cy - 30), Point(cx + 30, cy - 30), Point(cx, cy + 30)],
        crs=RD,
    )
    empty = polygons.iloc[:0].copy()
    return {"landcover": polygons, "trees": points, "parks": empty}


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pmtiles") / "green.pmtiles"
    return write_pmtiles(
        sample_layers(), out, minzoom=10, maxzoom=16, name="green", description="test", attribution="BGT"
    )


def test_pmtiles_header_and_metadata(archive: Path) -> None:
    info = archive_info(archive)
    assert (info["minzoom"], info["maxzoom"]) == (10, 16)
    assert (info["tile_type"], info["tile_compression"]) == ("mvt", "gzip")
    assert (info["name"], info["description"], info["attribution"]) == ("green", "test", "BGT")
    layers = sample_layers()
    expected = pd.concat([f.to_crs(4326) for f in layers.values()]).total_bounds
    np.testing.assert_allclose(info["bounds"], expected, atol=1e-5)  # ~1 m
    by_id = {layer["id"]: layer for layer in info["vector_layers"]}
    assert set(by_id) == {"landcover", "trees"}  # the empty "parks" layer has no features to tile
    assert by_id["trees"]["fields"] == {
        "id": "Number",
        "crown_diameter_m": "Number",
        "species": "String",
        "planted": "String",
        "count": "Number",
        "public": "Boolean",
    }
    assert by_id["landcover"]["fields"] == {
        "id": "String",
        "class": "String",
        "height_m": "Number",
        "year": "Number",
    }


def test_pmtiles_tile_holds_features_with_attributes(archive: Path) -> None:
    raw = read_tile(archive, TILE16.z, TILE16.x, TILE16.y)
    assert raw is not None
    decoded = mapbox_vector_tile.decode(gzip.decompress(raw))
    assert set(decoded) == {"landcover", "trees"}
    trees = {f["properties"]["id"]: f["properties"] for f in decoded["trees"]["features"]}
    assert trees == {
        101: {
            "id": 101,
            "crown_diameter_m": 4.5,
            "species": "Quercus robur",
            "planted": "1998-04-01",
            "count": 1,
            "public": True,
        },
        102: {"id": 102, "count": 2},  # nulls are left out of MVT features
        103: {
            "id": 103,
            "crown_diameter_m": 12.25,
            "species": "Tilia",
            "planted": "2015-11-30",
            "count": 3,
            "public": False,
        },
    }
    landcover = {f["properties"]["id"]: f["properties"] for f in decoded["landcover"]["features"]}
    assert landcover == {
        "lc1": {"id": "lc1", "class": "water", "year": 1990},
        "lc2": {"id": "lc2", "class": "green_low", "height_m": 0.25},
        "lc3": {"id": "lc3", "class": "building", "height_m": 9.5, "year": 2011},
    }
    assert all(f["geometry"]["type"] == "Polygon" for f in decoded["landcover"]["features"])
    # Points are not thinned by rate at low zooms: the z10 ancestor tile still has all three trees.
    raw10 = read_tile(archive, 10, TILE16.x >> 6, TILE16.y >> 6)
    assert raw10 is not None
    z10 = mapbox_vector_tile.decode(gzip.decompress(raw10))
    assert sorted(f["properties"]["id"] for f in z10["trees"]["features"]) == [101, 102, 103]
    # A tile far away does not exist.
    assert read_tile(archive, 16, 0, 0) is None
    assert read_tile(archive, 16, 2**16, 0) is None


def test_pmtiles_read_by_gdal(archive: Path) -> None:
    names = {name for name, _ in pyogrio.list_layers(archive)}
    assert names == {"landcover", "trees"}
    layers = sample_layers()

    trees = pyogrio.read_dataframe(archive, layer="trees").set_index("id").sort_index()
    source = layers["trees"].set_index("id").sort_index()
    assert list(trees.index) == [101, 102, 103]
    np.testing.assert_array_equal(trees["crown_diameter_m"], source["crown_diameter_m"])
    assert trees["species"].tolist()[0::2] == ["Quercus robur", "Tilia"] and pd.isna(trees["species"].iloc[1])
    assert trees["planted"].tolist()[0::2] == ["1998-04-01", "2015-11-30"]
    assert trees["count"].tolist() == [1, 2, 3]
    # Positions survive to within the z16 grid (~0.1 m at 52° N).
    moved = trees.geometry.to_crs(RD).distance(source.geometry, align=True)
    assert moved.max() < 0.2

    landcover = (
        pyogrio.read_dataframe(archive, layer="landcover").drop_duplicates("id").set_index("id").sort_index()
    )
    assert landcover["class"].tolist() == ["water", "green_low", "building"]
    np.testing.assert_allclose(landcover.to_crs(RD).area, layers["landcover"].area.values, rtol=0.01)


def test_pmtiles_only_empty_layers(tmp_path: Path) -> None:
    empty = sample_layers()["parks"]
    out = write_pmtiles({"parks": empty}, tmp_path / "parks.pmtiles", minzoom=11, maxzoom=15)
    info = archive_info(out)
    assert (info["minzoom"], info["maxzoom"]) == (11, 15)
    assert [layer["id"] for layer in info["vector_layers"]] == ["parks"]
    assert info["vector_layers"][0]["fields"]["year"] == "Number"
    west, south, east, north = info["bounds"]  # RD New's area of use: the Netherlands
    assert 3 < west < east < 8 and 50 < south < north < 56
    assert {name for name, _ in pyogrio.list_layers(out)} == {"parks"}
    assert len(pyogrio.read_dataframe(out, layer="parks")) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["parks.pmtiles"]


def test_pmtiles_reprojects_and_rejects_missing_crs(tmp_path: Path) -> None:
    layers = sample_layers()
    in_3857 = {"trees": layers["trees"].to_crs(3857)}
    out = write_pmtiles(in_3857, tmp_path / "t.pmtiles", minzoom=14, maxzoom=14)
    raw = read_tile(out, 14, TILE16.x // 4, TILE16.y // 4)
    assert raw is not None
    decoded = mapbox_vector_tile.decode(gzip.decompress(raw))
    assert len(decoded["trees"]["features"]) == 3

    with pytest.raises(CRSError, match="layer 'trees' has no CRS"):
        write_pmtiles({"trees": layers["trees"].set_crs(None, allow_override=True)}, tmp_path / "n.pmtiles")
    with pytest.raises(PublishError, match="layer name"):
        write_pmtiles({"bad name": layers["trees"]}, tmp_path / "n.pmtiles")
    with pytest.raises(PublishError, match="minzoom <= maxzoom"):
        write_pmtiles(layers, tmp_path / "n.pmtiles", minzoom=17, maxzoom=16)


def test_pmtiles_tippecanoe_failure_keeps_previous(
    archive: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "green.pmtiles"
    out.write_bytes(archive.read_bytes())
    before = sha256(out)

    fake = tmp_path / "fake-tippecanoe"
    fake.write_text("#!/bin/sh\necho 'boom: bad input' >&2\nexit 3\n")
    fake.chmod(0o755)
    monkeypatch.setattr(kl_pmtiles, "find_tippecanoe", lambda: str(fake))
    with pytest.raises(PublishError, match=r"tippecanoe failed \(exit 3\): boom: bad input"):
        write_pmtiles(sample_layers(), out)

    assert sha256(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fake-tippecanoe", "green.pmtiles"]


def test_pmtiles_refuses_to_drop_features_at_deepest_zoom(
    archive: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "dense.pmtiles"
    out.write_bytes(archive.read_bytes())
    before = sha256(out)
    cx, cy = tile_centre_rd(TILE16.z, TILE16.x, TILE16.y)
    rng = np.random.default_rng(7)
    xy = rng.uniform(-100, 100, size=(3000, 2))
    dense = gpd.GeoDataFrame(
        {"id": np.arange(3000)}, geometry=gpd.points_from_xy(cx + xy[:, 0], cy + xy[:, 1]), crs=RD
    )

    # 3000 points in one tile do not fit in 4 kB, even with one extra zoom.
    monkeypatch.setattr(kl_pmtiles, "MAX_TILE_BYTES", 4000)
    monkeypatch.setattr(kl_pmtiles, "EXTRA_ZOOMS_IF_DROPPING", 1)
    with pytest.raises(PublishError, match="dropped features at the deepest zoom 17"):
        write_pmtiles({"dense": dense}, out, minzoom=14, maxzoom=16)
    assert sha256(out) == before

    # Allowed enough extra zooms, every feature is kept at the deepest one.
    monkeypatch.setattr(kl_pmtiles, "EXTRA_ZOOMS_IF_DROPPING", 4)
    write_pmtiles({"dense": dense}, out, minzoom=14, maxzoom=16)
    info = archive_info(out)
    assert 16 < info["maxzoom"] <= 20
    kept = pyogrio.read_dataframe(out, layer="dense", columns=["id"])
    assert kept["id"].nunique() == 3000


def test_read_tile_errors(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError):
        read_tile(tmp_path / "missing.pmtiles", 0, 0, 0)
    junk = tmp_path / "junk.pmtiles"
    junk.write_bytes(b"not an archive")
    with pytest.raises(PublishError, match="not a PMTiles archive"):
        archive_info(junk)


def test_pmtiles_module_does_not_shadow_the_pmtiles_package() -> None:
    import pmtiles

    assert Path(pmtiles.__file__).parent.name == "pmtiles"
    assert "site-packages" in pmtiles.__file__
    assert kl_pmtiles.__name__ == "tiles.pmtiles"


# ------------------------------------------------------------ tile matrix sets

RD_ORIGIN = (-285401.92, 903401.92)
RD_CELL0 = 3440.64
RD_SPAN0 = RD_CELL0 * 256  # 880803.84 m


def test_rd_new_quad_level_zero() -> None:
    rd = get_tms("NetherlandsRDNewQuad")
    assert rd.crs.to_epsg() == 28992
    assert (rd.minzoom, rd.maxzoom) == (0, 16)
    left, bottom, right, top = rd.xy_bounds(morecantile.Tile(0, 0, 0))
    assert (left, top) == RD_ORIGIN
    assert right == pytest.approx(595401.92, abs=1e-6) and bottom == pytest.approx(22598.08, abs=1e-6)
    assert rd.matrix(0).scaleDenominator == pytest.approx(12_288_000)


def test_rd_new_quad_levels() -> None:
    rd = get_tms("NetherlandsRDNewQuad")
    for level in range(17):
        matrix = rd.matrix(level)
        assert matrix.cellSize == pytest.approx(RD_CELL0 / 2**level, rel=1e-12)
        assert matrix.matrixWidth == matrix.matrixHeight == 2**level
        assert matrix.scaleDenominator == pytest.approx(matrix.cellSize / 0.00028, rel=1e-9)
    assert rd.matrix(16).cellSize == RD_CELL0 / 2**16 == 0.0525


def test_rd_new_quad_tile_lookup() -> None:
    rd = get_tms("NetherlandsRDNewQuad")
    # Zoom 3 tiles are 8 * 256 cells of 430.08 m = 110100.48 m; Amersfoort (155000, 463000)
    # lies exactly 4 tiles right of and below the origin, a corner shared by four tiles.
    span3 = RD_SPAN0 / 8
    assert (155000 - RD_ORIGIN[0]) / span3 == pytest.approx(4.0)
    assert tile_at(rd, 155000 + 1, 463000 - 1, 3) == morecantile.Tile(4, 4, 3)
    assert tile_at(rd, 155000 - 1, 463000 + 1, 3) == morecantile.Tile(3, 3, 3)
    # Utrecht Dom tower (136700, 455900):
    # col floor(422101.92 / 110100.48) = 3, row floor(447501.92 / 110100.48) = 4.
    assert tile_at(rd, 136700, 455900, 3) == morecantile.Tile(3, 4, 3)
    # morecantile's public lookup takes geographic coordinates in the TMS datum (Amersfoort, EPSG:4289);
    # RD New's projection centre 52°09'22.178"N 5°23'15.500"E maps to (155000, 463000).
    assert rd.tile(5.387638889 + 1e-5, 52.156160556 - 1e-5, 3) == morecantile.Tile(4, 4, 3)
    bounds = rd.xy_bounds(morecantile.Tile(4, 4, 3))
    assert bounds.left == pytest.approx(155000.0) and bounds.top == pytest.approx(463000.0)
    with pytest.raises(NotFoundError, match="outside its extent"):
        tile_at(rd, 700000, 463000, 3)
    with pytest.raises(NotFoundError, match="no level 17"):
        tile_at(rd, 155000, 463000, 17)


def test_tms_registry() -> None:
    assert TMS_IDS == ("WebMercatorQuad", "NetherlandsRDNewQuad")
    web = get_tms("WebMercatorQuad")
    assert web.crs.to_epsg() == 3857 and web.xy_bounds(morecantile.Tile(0, 0, 0)).left == pytest.approx(
        -20037508.342789244
    )
    with pytest.raises(NotFoundError, match=r"'nope'.*WebMercatorQuad, NetherlandsRDNewQuad"):
        get_tms("nope")
    with pytest.raises(InvalidIdentifier, match="already a registered TMS"):
        tms_registry.register({"NetherlandsRDNewQuad": get_tms("WebMercatorQuad")})
    replaced = tms_registry.register({"NetherlandsRDNewQuad": get_tms("WebMercatorQuad")}, overwrite=True)
    assert replaced.get("NetherlandsRDNewQuad").crs.to_epsg() == 3857
    # The shared registry is unchanged and cannot be edited in place.
    assert get_tms("NetherlandsRDNewQuad").crs.to_epsg() == 28992
    with pytest.raises(TypeError):
        tms_registry.tilematrixsets["x"] = web
    # get_tms hands out copies.
    assert get_tms("NetherlandsRDNewQuad") is not get_tms("NetherlandsRDNewQuad")
