"""Tests of the AHN adapter: LAZ gridding (Delft sample, hand-built clouds) and GeoTIFF reading."""

from __future__ import annotations

import math
from pathlib import Path

import laspy
import numpy as np
import pytest
import rasterio
from affine import Affine
from pyproj import CRS, Transformer

import geo.ahn
from geo.ahn import read_ahn
from geo.crs import RD_NEW
from geo.errors import ConfigError, CRSError, SourceError
from geo.lidar import fill_holes, grid_point_cloud, snap_bounds

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "ahn3-delft"
DELFT = [DATA / "ahn3_cropped_1.laz", DATA / "ahn3_cropped_2.laz"]
RES = 0.5
NOISE = (7, 18)
AHN_NODATA = np.float32(3.4028235e38)
WEB_MERCATOR = CRS.from_epsg(3857)


# ----------------------------------------------------------------- Delft sample


def _delft_points() -> tuple[np.ndarray, ...]:
    parts = [laspy.read(p) for p in DELFT]
    return tuple(
        np.concatenate([np.asarray(getattr(las, dim)) for las in parts]) for dim in ("x", "y", "z", "classification")
    )


@pytest.fixture(scope="module")
def delft():
    result = read_ahn(laz=DELFT, declared_crs=RD_NEW)
    return result, _delft_points()


def test_delft_grid_extent_follows_the_headers(delft):
    result, _ = delft
    headers = [laspy.open(p).header for p in DELFT]
    minx = min(h.mins[0] for h in headers)
    miny = min(h.mins[1] for h in headers)
    maxx = max(h.maxs[0] for h in headers)
    maxy = max(h.maxs[1] for h in headers)
    expected = (
        math.floor(minx / RES) * RES,
        math.floor(miny / RES) * RES,
        (math.floor(maxx / RES) + 1) * RES,
        (math.floor(maxy / RES) + 1) * RES,
    )
    dsm, dtm = result.sources["dsm"], result.sources["dtm"]
    assert dsm.bounds == pytest.approx(expected)
    # Checked by hand against the README extent (x 84,808-85,072, y 447,413-447,641).
    assert expected == pytest.approx((84808.0, 447412.5, 85072.5, 447641.5))
    assert dsm.data.shape == (1, 458, 529)
    assert dsm.same_grid(dtm)
    assert dsm.crs == RD_NEW
    assert (dsm.band_names, dtm.band_names, dsm.units) == (("dsm",), ("dtm",), ("m",))
    assert dsm.data.dtype == np.float32 and dtm.data.dtype == np.float32
    assert math.isnan(dsm.nodata)


def test_delft_counts_match_the_files(delft):
    result, (x, _, _, cls) = delft
    counts = result.report.counts
    assert counts["read"] == len(x) == 640510 + 208432
    assert counts["kept"] == int((~np.isin(cls, NOISE)).sum())
    assert counts["points_ground"] == int((cls == 2).sum())
    assert counts["dsm_clamped_to_dtm"] < counts["cells"] // 1000  # rare: water next to interpolated ground


def test_delft_dsm_max_is_highest_non_noise_point(delft):
    result, (_, _, z, cls) = delft
    assert float(result.sources["dsm"].data.max()) == pytest.approx(z[~np.isin(cls, NOISE)].max(), abs=1e-5)


def test_delft_cells_match_brute_force(delft):
    result, (x, y, z, cls) = delft
    dsm, dtm = result.sources["dsm"], result.sources["dtm"]
    left, top = dsm.transform.c, dsm.transform.f
    # A spread of building (6), vegetation (1) and ground (2) points picks the cells.
    picks = np.flatnonzero(np.isin(cls, (1, 2, 6)))[::40000]
    assert len(picks) >= 15
    for i in picks:
        col = int((x[i] - left) // RES)
        row = int((top - y[i]) // RES)
        x0, y1 = left + col * RES, top - row * RES
        inside = (x >= x0) & (x < x0 + RES) & (y > y1 - RES) & (y <= y1)
        assert dsm.data[0, row, col] == pytest.approx(z[inside].max(), abs=1e-5)
        ground = inside & (cls == 2)
        if ground.any():
            assert dtm.data[0, row, col] == pytest.approx(z[ground].mean(), abs=1e-5)


def test_delft_surfaces_are_filled_and_ordered(delft):
    result, _ = delft
    dsm, dtm = result.sources["dsm"].data[0], result.sources["dtm"].data[0]
    assert not np.isnan(dsm).any() and not np.isnan(dtm).any()
    assert (dtm <= dsm).all()
    # Delft lies around NAP: ground and water points span -0.61 .. 2.30 m (checked with laspy).
    assert dtm.min() > -0.7 and dtm.max() < 2.4
    assert -0.5 < float(np.median(dtm)) < 1.0


def test_delft_chunked_reading_equals_one_pass(delft, monkeypatch):
    monkeypatch.setattr(geo.ahn, "LAZ_CHUNK_POINTS", 100_000)
    seen: list[int] = []
    chunked = read_ahn(laz=DELFT, declared_crs=RD_NEW, progress=seen.append)
    whole, (x, *_) = delft  # read with the default chunk size: one chunk per file
    assert seen == sorted(seen) and seen[-1] == len(x) and len(seen) >= 9
    np.testing.assert_array_equal(chunked.sources["dsm"].data, whole.sources["dsm"].data)
    np.testing.assert_allclose(chunked.sources["dtm"].data, whole.sources["dtm"].data, atol=1e-5)


def test_delft_bounds_window():
    bounds = (84900.0, 447500.0, 84950.2, 447550.0)
    result = read_ahn(laz=DELFT[:1], declared_crs=RD_NEW, bounds=bounds)
    dsm = result.sources["dsm"]
    assert dsm.bounds == pytest.approx((84900.0, 447500.0, 84950.5, 447550.0))
    assert dsm.data.shape == (1, 100, 101)
    las = laspy.read(DELFT[0])
    x, y = np.asarray(las.x), np.asarray(las.y)
    inside = (x >= 84900.0) & (x < 84950.5) & (y >= 447500.0) & (y < 447550.0)
    assert result.report.counts["points_outside"] == int((~inside).sum())
    assert result.report.counts["kept"] == int(inside.sum())


def test_a_window_beyond_the_point_clouds_gets_no_invented_surface():
    whole = read_ahn(laz=DELFT, declared_crs=RD_NEW).sources["dsm"]
    left, bottom, _, top = whole.bounds
    # A window reaching 100 m west of the tiles: gridded only where the points are.
    part = read_ahn(laz=DELFT, declared_crs=RD_NEW, bounds=(left - 100.0, bottom, left + 20.0, top)).sources["dsm"]
    assert part.bounds == pytest.approx((left, bottom, left + 20.0, top))
    # Cells with points are the same; a few gap-filled cells differ, since the filling sees only the window.
    same = part.data[0] == whole.data[0][:, : part.data.shape[2]]
    assert same.mean() > 0.99
    # A window wholly beyond them: nodata over the window, not an interpolated terrain.
    away = read_ahn(laz=DELFT, declared_crs=RD_NEW, bounds=(left - 300.0, bottom, left - 200.0, bottom + 50.0))
    assert away.sources["dsm"].data.shape == (1, 100, 200) and np.isnan(away.sources["dsm"].data).all()
    assert np.isnan(away.sources["dtm"].data).all()


def test_laz_without_crs_is_refused_naming_the_file():
    with pytest.raises(CRSError) as err:
        read_ahn(laz=DELFT)
    assert str(DELFT[0]) in str(err.value)


# ------------------------------------------------------------ hand-built clouds

ORIGIN = (85000.0, 447000.0)
SIDE = 20.0
SPACING = 0.25
SLOPE = 0.1  # ground z = SLOPE * local x


def _scene() -> tuple[np.ndarray, ...]:
    """A 20 x 20 m sloping ground with a 2 x 2 m box, a pond, a gap, a void, a pit and noise."""
    g = np.arange(0.0, SIDE, SPACING)
    gx, gy = (a.ravel() for a in np.meshgrid(g, g))

    def within(x0, x1, y0, y1):
        return (gx >= x0) & (gx < x1) & (gy >= y0) & (gy < y1)

    box = within(4, 6, 4, 6)
    pond = within(12, 16, 12, 16)
    gap = within(2, 2.5, 15, 15.5)  # one cell: a gap in the surface
    void = within(8, 11, 14, 17)  # 36 cells: no return at all
    pit = within(17, 17.5, 2, 2.5)  # one cell with only a low unclassified point
    ground = ~(box | pond | gap | void | pit)
    xs = [gx[ground], gx[box], gx[pond], [17.1], [1.1, 1.2]]
    ys = [gy[ground], gy[box], gy[pond], [2.1], [1.1, 1.2]]
    zs = [SLOPE * gx[ground], np.full(box.sum(), 10.0), np.full(pond.sum(), -0.5), [-3.0], [50.0, 60.0]]
    cs = [np.full(ground.sum(), 2), np.full(box.sum(), 6), np.full(pond.sum(), 9), [1], [7, 18]]
    x, y, z, c = (np.concatenate([np.asarray(p, dtype=float) for p in parts]) for parts in (xs, ys, zs, cs))
    return x + ORIGIN[0], y + ORIGIN[1], z, c.astype(np.uint8)


def _write_las(path: Path, x, y, z, cls, crs: CRS | None = None) -> Path:
    header = laspy.LasHeader(point_format=1, version="1.2")
    header.scales = np.array([0.001, 0.001, 0.001])
    header.offsets = np.array([math.floor(x.min()), math.floor(y.min()), 0.0])
    if crs is not None:
        header.add_crs(crs)
    las = laspy.LasData(header)
    las.x, las.y, las.z = x, y, z
    las.classification = cls
    las.write(path)
    return path


def _cells(x0, x1, y0, y1):
    """Row and column slices of local extent [x0, x1) x [y0, y1) on the 40 x 40 scene grid."""
    rows = int(SIDE / RES)
    return slice(rows - int(y1 / RES), rows - int(y0 / RES)), slice(int(x0 / RES), int(x1 / RES))


def test_hand_built_scene(tmp_path):
    path = _write_las(tmp_path / "scene.laz", *_scene())
    result = read_ahn(laz=[path], declared_crs=RD_NEW)
    dsm, dtm = result.sources["dsm"].data[0], result.sources["dtm"].data[0]
    assert result.sources["dsm"].bounds == pytest.approx((*ORIGIN, ORIGIN[0] + SIDE, ORIGIN[1] + SIDE))
    assert dsm.shape == (40, 40)
    cols = np.arange(40) * RES
    plane_mean = np.broadcast_to(SLOPE * (cols + SPACING / 2), dsm.shape)  # mean of 2 ground columns
    plane_max = np.broadcast_to(SLOPE * (cols + SPACING), dsm.shape)

    box = _cells(4, 6, 4, 6)
    assert (dsm[box] == 10.0).all()
    # Under the box the terrain is interpolated from the ground around it: the plane again.
    np.testing.assert_allclose(dtm[box], plane_mean[box], atol=1e-5)
    pond = _cells(12, 16, 12, 16)
    assert (dtm[pond] == np.float32(-0.5)).all() and (dsm[pond] == np.float32(-0.5)).all()
    gap = _cells(2, 2.5, 15, 15.5)
    np.testing.assert_allclose(dsm[gap], plane_max[gap], atol=1e-5)  # interpolated in the DSM
    void = _cells(8, 11, 14, 17)
    np.testing.assert_allclose(dsm[void], dtm[void])  # large hole: the terrain
    np.testing.assert_allclose(dtm[void], plane_mean[void], atol=1e-5)
    pit = _cells(17, 17.5, 2, 2.5)
    assert dsm[pit] == dtm[pit] == pytest.approx(plane_mean[pit], abs=1e-5)  # raised to the terrain
    open_ground = _cells(0, 3, 0, 3)
    np.testing.assert_allclose(dsm[open_ground], plane_max[open_ground], atol=1e-5)  # noise ignored
    assert (dtm <= dsm).all() and not np.isnan(dsm).any()

    direct = grid_point_cloud(*_scene(), RES)  # the same without a file in between
    np.testing.assert_array_equal(direct.dsm, dsm)
    np.testing.assert_array_equal(direct.dtm, dtm)

    counts = result.report.counts
    assert counts["points_noise"] == 2
    assert counts["dsm_clamped_to_dtm"] == 1
    assert counts["dsm_filled_interpolated"] == 1
    assert counts["dsm_filled_from_dtm"] == 36
    assert counts["dtm_cells_water"] == 64
    assert counts["dtm_filled"] == 16 + 1 + 36 + 1


def test_two_files_merge_into_one_grid(tmp_path):
    x, y, z, c = _scene()
    west = x < ORIGIN[0] + SIDE / 2
    a = _write_las(tmp_path / "a.laz", x[west], y[west], z[west], c[west])
    b = _write_las(tmp_path / "b.laz", x[~west], y[~west], z[~west], c[~west])
    merged = read_ahn(laz=[a, b], declared_crs=RD_NEW)
    whole = read_ahn(laz=[_write_las(tmp_path / "all.laz", x, y, z, c)], declared_crs=RD_NEW)
    np.testing.assert_array_equal(merged.sources["dsm"].data, whole.sources["dsm"].data)
    np.testing.assert_array_equal(merged.sources["dtm"].data, whole.sources["dtm"].data)


def test_laz_crs_from_header(tmp_path):
    rd = _write_las(tmp_path / "rd.laz", *_scene(), crs=CRS.from_epsg(7415))  # RD New + NAP, as AHN4
    result = read_ahn(laz=[rd])
    assert result.sources["dsm"].data.shape == (1, 40, 40)
    with pytest.raises(CRSError, match=r"rd\.laz"):
        read_ahn(laz=[rd], declared_crs=WEB_MERCATOR)


def test_laz_in_other_crs_is_transformed(tmp_path):
    x, y, z, c = _scene()
    utm = CRS.from_epsg(32631)
    ux, uy = Transformer.from_crs(RD_NEW, utm, always_xy=True).transform(x, y)
    path = _write_las(tmp_path / "utm.laz", ux, uy, z, c, crs=utm)
    result = read_ahn(laz=[path])
    dsm = result.sources["dsm"]
    inverse = ~dsm.transform
    col, row = (int(v) for v in inverse @ (ORIGIN[0] + 5.0, ORIGIN[1] + 5.0))  # box centre
    assert dsm.data[0, row, col] == 10.0
    assert any("32631" in n for n in result.report.notes)


def test_no_ground_points_is_an_error(tmp_path):
    path = _write_las(
        tmp_path / "roof.laz",
        np.array([85000.0, 85001.0]),
        np.array([447000.0, 447001.0]),
        np.array([5.0, 6.0]),
        np.array([6, 6], dtype=np.uint8),
    )
    with pytest.raises(SourceError, match="no ground"):
        read_ahn(laz=[path], declared_crs=RD_NEW)


def test_snap_bounds_and_fill_holes():
    assert snap_bounds((0.2, 0.7, 3.0, 4.1), 0.5, include_max_edge=False) == (0.0, 0.5, 3.0, 4.5)
    assert snap_bounds((0.2, 0.7, 3.0, 4.1), 0.5, include_max_edge=True) == (0.0, 0.5, 3.5, 4.5)
    grid = np.add.outer(np.arange(6.0), 2 * np.arange(7.0))  # plane row + 2 col
    holes = np.zeros_like(grid, dtype=bool)
    holes[2:4, 2:5] = True
    holes[0, 0] = True  # a corner outside every triangle: nearest
    damaged = np.where(holes, np.nan, grid)
    filled = fill_holes(damaged, holes)
    np.testing.assert_allclose(filled[2:4, 2:5], grid[2:4, 2:5])
    assert filled[0, 0] in (grid[0, 1], grid[1, 0], grid[1, 1])


# --------------------------------------------------------------------- GeoTIFF


def _write_tif(path: Path, data, transform: Affine, crs: CRS | None = RD_NEW, nodata=None) -> Path:
    data = np.asarray(data, dtype=np.float32)
    profile = {
        "driver": "GTiff",
        "width": data.shape[1],
        "height": data.shape[0],
        "count": 1,
        "dtype": "float32",
        "transform": transform,
        "nodata": nodata,
    }
    if crs is not None:
        profile["crs"] = crs.to_wkt()
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data, 1)
    return path


def _rd_grid(left: float, top: float, res: float = RES) -> Affine:
    return Affine(res, 0.0, left, 0.0, -res, top)


def _field(rows: int, cols: int, base: float) -> np.ndarray:
    return base + np.add.outer(np.arange(rows) * 0.01, np.arange(cols) * 0.1).astype(np.float32)


def test_geotiff_round_trip(tmp_path):
    t = _rd_grid(85000.0, 447100.0)
    dtm_values, dsm_values = _field(8, 10, 0.0), _field(8, 10, 5.0)
    dsm_values[0, 0] = AHN_NODATA
    dsm = _write_tif(tmp_path / "dsm.tif", dsm_values, t, nodata=float(AHN_NODATA))
    dtm = _write_tif(tmp_path / "dtm.tif", dtm_values, t, nodata=float(AHN_NODATA))
    result = read_ahn(dsm=dsm, dtm=dtm)
    out_dsm, out_dtm = result.sources["dsm"], result.sources["dtm"]
    assert out_dsm.transform == t and out_dsm.crs == RD_NEW
    assert out_dsm.band_names == ("dsm",) and out_dtm.units == ("m",)
    assert math.isnan(out_dsm.data[0, 0, 0])  # 3.4e38 became NaN
    np.testing.assert_array_equal(out_dsm.data[0].ravel()[1:], dsm_values.ravel()[1:])
    np.testing.assert_array_equal(out_dtm.data[0], dtm_values)
    assert result.report.counts["dsm_nodata_cells"] == 1
    assert result.report.counts["dsm_clamped_to_dtm"] == 0


def test_undeclared_ahn_sentinel_is_nodata(tmp_path):
    values = _field(4, 4, 1.0)
    values[1, 2] = AHN_NODATA
    path = _write_tif(tmp_path / "dtm.tif", values, _rd_grid(85000.0, 447100.0), nodata=None)
    result = read_ahn(dtm=path)
    assert set(result.sources) == {"dtm"}
    out = result.sources["dtm"].data[0]
    assert np.isnan(out[1, 2]) and np.isnan(out).sum() == 1


def test_geotiff_without_crs(tmp_path):
    path = _write_tif(tmp_path / "nocrs.tif", _field(4, 4, 1.0), _rd_grid(85000.0, 447100.0), crs=None)
    with pytest.raises(CRSError) as err:
        read_ahn(dsm=path)
    assert err.value.path == str(path) and "nocrs.tif" in str(err.value)
    result = read_ahn(dsm=path, declared_crs=RD_NEW)
    assert result.sources["dsm"].crs == RD_NEW
    np.testing.assert_array_equal(result.sources["dsm"].data[0], _field(4, 4, 1.0))


@pytest.mark.parametrize(
    ("declared", "expected"),
    [
        (CRS.from_epsg(4326), r"EPSG:4326 puts the data \(bounds \(85000\.0, 447098\.0, 85002\.0, 447100\.0\)\) "
                              r"outside its area of use"),
        (WEB_MERCATOR, r"EPSG:3857 puts the data .* outside the area of use of the region crs EPSG:28992"),
    ],
)
def test_geotiff_declared_crs_outside_its_area_of_use(tmp_path, declared, expected):
    path = _write_tif(tmp_path / "nocrs.tif", _field(4, 4, 1.0), _rd_grid(85000.0, 447100.0), crs=None)
    with pytest.raises(CRSError, match=expected) as err:
        read_ahn(dsm=path, declared_crs=declared)
    assert err.value.path == str(path)


@pytest.mark.parametrize("declared", [CRS.from_epsg(4326), WEB_MERCATOR])
def test_laz_declared_crs_outside_its_area_of_use(tmp_path, declared):
    path = _write_las(tmp_path / "rd.laz", *_scene())  # RD coordinates, no CRS in the file
    with pytest.raises(CRSError, match=rf"rd\.laz: the declared crs {declared.to_string()} puts the data") as err:
        read_ahn(laz=[path], declared_crs=declared)
    assert "area of use" in err.value.problem and "85000.0, 447000.0" in err.value.problem


def test_truncated_laz_is_a_source_error(tmp_path):
    cut = tmp_path / "cut.laz"
    data = DELFT[1].read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(SourceError, match=r"cut\.laz: cannot read the point cloud \(truncated or corrupt\?\)"):
        read_ahn(laz=[cut], declared_crs=RD_NEW)


def test_short_uncompressed_las_is_truncated(tmp_path):
    full = _write_las(tmp_path / "full.las", *_scene())
    data = full.read_bytes()
    record = laspy.open(full).header.point_format.size
    cut = tmp_path / "cut.las"
    cut.write_bytes(data[: len(data) - 10 * record])  # the last ten points are gone
    with pytest.raises(SourceError, match=r"cut\.las: truncated: the header announces \d+ points but the file holds"):
        read_ahn(laz=[cut], declared_crs=RD_NEW)


def test_geotiff_declared_crs_contradicting_file(tmp_path):
    path = _write_tif(tmp_path / "rd.tif", _field(4, 4, 1.0), _rd_grid(85000.0, 447100.0))
    with pytest.raises(CRSError, match=r"rd\.tif"):
        read_ahn(dsm=path, declared_crs=WEB_MERCATOR)


def test_geotiff_in_web_mercator_is_warped(tmp_path):
    to_merc = Transformer.from_crs(RD_NEW, WEB_MERCATOR, always_xy=True)
    mx0, my0 = to_merc.transform(85000.0, 447100.0)
    size, px = 100, 1.0
    t = Affine(px, 0.0, mx0, 0.0, -px, my0)
    cx, cy = np.meshgrid(mx0 + (np.arange(size) + 0.5) * px, my0 - (np.arange(size) + 0.5) * px)

    def plane(mx, my):
        return 2.0 + 0.01 * (mx - mx0) + 0.02 * (my0 - my)

    path = _write_tif(tmp_path / "merc.tif", plane(cx, cy), t, crs=WEB_MERCATOR)
    result = read_ahn(dsm=path)
    dsm = result.sources["dsm"]
    assert dsm.crs == RD_NEW and dsm.resolution == (RES, RES)
    assert result.report.counts["dsm_warped"] == 1
    # A known RD point inside the raster: the warped value is the plane at its Mercator position.
    ex, ey = 85020.25, 447080.25
    col, row = (int(v) for v in ~dsm.transform @ (ex, ey))
    centre = dsm.transform @ (col + 0.5, row + 0.5)
    expected = plane(*to_merc.transform(*centre))
    assert dsm.data[0, row, col] == pytest.approx(expected, abs=0.01)
    # With region bounds only the window is read and warped, onto the snapped bounds.
    clipped = read_ahn(dsm=path, bounds=(85010.2, 447070.0, 85030.0, 447090.0)).sources["dsm"]
    assert clipped.bounds == pytest.approx((85010.0, 447070.0, 85030.0, 447090.0))
    col2, row2 = (int(v) for v in ~clipped.transform @ (ex, ey))
    assert clipped.data[0, row2, col2] == pytest.approx(dsm.data[0, row, col], abs=1e-4)


def test_different_extents_are_cropped_to_common_extent(tmp_path):
    dsm_values, dtm_values = _field(10, 20, 5.0), _field(10, 20, 0.0)
    dsm = _write_tif(tmp_path / "dsm.tif", dsm_values, _rd_grid(85000.0, 447100.0))
    dtm = _write_tif(tmp_path / "dtm.tif", dtm_values, _rd_grid(85005.0, 447099.0))  # 10 cols, 2 rows on
    result = read_ahn(dsm=dsm, dtm=dtm)
    out_dsm, out_dtm = result.sources["dsm"], result.sources["dtm"]
    assert out_dsm.same_grid(out_dtm)
    assert out_dsm.bounds == pytest.approx((85005.0, 447095.0, 85010.0, 447099.0))
    np.testing.assert_array_equal(out_dsm.data[0], dsm_values[2:, 10:])
    np.testing.assert_array_equal(out_dtm.data[0], dtm_values[:8, :10])
    assert result.report.counts["cropped_to_common_extent"] == 1


def test_dtm_on_another_grid_is_resampled(tmp_path):
    dsm = _write_tif(tmp_path / "dsm.tif", _field(20, 20, 5.0), _rd_grid(85000.0, 447100.0))
    rows, cols = np.mgrid[0:12, 0:12]
    dtm_values = 0.1 * cols + 0.2 * rows  # a plane: bilinear reproduces it exactly
    dtm = _write_tif(tmp_path / "dtm.tif", dtm_values, _rd_grid(84999.0, 447101.0, res=1.0))
    result = read_ahn(dsm=dsm, dtm=dtm)
    out_dsm, out_dtm = result.sources["dsm"], result.sources["dtm"]
    assert out_dsm.same_grid(out_dtm) and out_dsm.bounds == pytest.approx((85000.0, 447090.0, 85010.0, 447100.0))
    x, y = out_dsm.transform @ (5.5, 7.5)  # centre of DSM cell row 7, col 5
    fc, fr = (~_rd_grid(84999.0, 447101.0, res=1.0)) @ (x, y)
    assert out_dtm.data[0, 7, 5] == pytest.approx(0.1 * (fc - 0.5) + 0.2 * (fr - 0.5), abs=1e-5)
    assert result.report.counts["dtm_resampled_to_dsm"] == 1


def test_non_overlapping_dsm_and_dtm(tmp_path):
    dsm = _write_tif(tmp_path / "dsm_a.tif", _field(4, 4, 5.0), _rd_grid(85000.0, 447100.0))
    dtm = _write_tif(tmp_path / "dtm_b.tif", _field(4, 4, 0.0), _rd_grid(86000.0, 447100.0))
    with pytest.raises(SourceError) as err:
        read_ahn(dsm=dsm, dtm=dtm)
    assert "dsm_a.tif" in str(err.value) and "dtm_b.tif" in str(err.value)


def test_geotiff_bounds_reads_a_window(tmp_path):
    values = _field(20, 20, 1.0)
    path = _write_tif(tmp_path / "dsm.tif", values, _rd_grid(85000.0, 447100.0))
    result = read_ahn(dsm=path, bounds=(85001.2, 447095.0, 85003.0, 447097.4))
    out = result.sources["dsm"]
    assert out.bounds == pytest.approx((85001.0, 447095.0, 85003.0, 447097.5))
    np.testing.assert_array_equal(out.data[0], values[5:10, 2:6])
    with pytest.raises(SourceError, match="does not overlap"):
        read_ahn(dsm=path, bounds=(90000.0, 447000.0, 90010.0, 447010.0))


def test_dsm_below_dtm_is_raised(tmp_path):
    t = _rd_grid(85000.0, 447100.0)
    dtm_values = np.ones((3, 3), dtype=np.float32)
    dsm_values = np.full((3, 3), 4.0, dtype=np.float32)
    dsm_values[1, 1] = 0.5
    dsm_values[0, 0] = AHN_NODATA
    dsm = _write_tif(tmp_path / "dsm.tif", dsm_values, t, nodata=float(AHN_NODATA))
    dtm = _write_tif(tmp_path / "dtm.tif", dtm_values, t)
    result = read_ahn(dsm=dsm, dtm=dtm)
    out = result.sources["dsm"].data[0]
    assert out[1, 1] == 1.0 and np.isnan(out[0, 0])
    assert result.report.counts["dsm_clamped_to_dtm"] == 1


def test_config_errors(tmp_path):
    with pytest.raises(ConfigError):
        read_ahn()
    with pytest.raises(ConfigError):
        read_ahn(dsm=tmp_path / "a.tif", laz=DELFT)
    with pytest.raises(ConfigError, match="resolution_m"):
        read_ahn(laz=DELFT, resolution_m=0)
    with pytest.raises(SourceError, match=r"missing\.tif"):
        read_ahn(dsm=tmp_path / "missing.tif")
    with pytest.raises(SourceError, match=r"missing\.laz"):
        read_ahn(laz=[tmp_path / "missing.laz"], declared_crs=RD_NEW)
    not_laz = tmp_path / "text.laz"
    not_laz.write_text("not a point cloud")
    with pytest.raises(SourceError, match=r"text\.laz"):
        read_ahn(laz=not_laz, declared_crs=RD_NEW)  # a single path is accepted too
