"""AHN adapter: elevation GeoTIFFs or classified LAZ point clouds -> ``dsm`` and ``dtm``.

AHN (Actueel Hoogtebestand Nederland, https://www.ahn.nl) is delivered by PDOK
as 0.5 m GeoTIFF tiles (DSM and DTM "maaiveld", EPSG:28992, float32, nodata
3.4028235e+38) and as classified LAZ point clouds. Either form gives the
canonical rasters ``dsm`` and ``dtm`` in metres NAP on the region CRS.

Both outputs are :class:`geo.raster.Raster` with one float32 band named
``dsm`` or ``dtm``, unit ``"m"`` and ``nodata = NaN``: every nodata value of
the input (the declared nodata, internal masks, and AHN's float32-max sentinel
even where it is not declared) becomes NaN. Writers that need a numeric
nodata (e.g. a COG for GIS clients) must convert NaN themselves.

GeoTIFF mode keeps the holes of the delivered rasters (AHN's unfilled DTM has
holes under buildings and over water) as NaN; LAZ mode fills every cell (see
:mod:`geo.lidar`). In both modes DSM >= DTM holds wherever both are known:
a DSM cell below the DTM is raised to it and counted (``dsm_clamped_to_dtm``).
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Callable, Sequence
from pathlib import Path

import laspy
import numpy as np
import rasterio
from affine import Affine
from lazrs import LazrsError
from pyproj import CRS, Transformer
from rasterio.crs import CRS as RioCRS
from rasterio.errors import RasterioIOError
from rasterio.transform import array_bounds
from rasterio.warp import Resampling, reproject, transform_bounds
from rasterio.windows import Window

from geo.crs import RD_NEW, check_area_of_use
from geo.errors import ConfigError, CRSError, SourceError
from geo.lidar import SurfaceGridder, snap_bounds
from geo.raster import Raster
from geo.report import AdapterResult, SourceReport

#: Default cell size of gridded point clouds and warped rasters (AHN's finest product).
DEFAULT_RESOLUTION_M = 0.5
#: Values at or above this magnitude are AHN's float32-max nodata sentinel
#: (3.4028235e+38), treated as nodata even when a file does not declare it.
NODATA_SENTINEL_ABS = 1e38
#: Points read per LAZ chunk: bounds memory (~100 MB per chunk) on full AHN tiles.
LAZ_CHUNK_POINTS = 2_000_000
#: Extra source pixels read around a window that is warped, so bilinear
#: resampling at the window edge has its neighbours.
WARP_MARGIN_PX = 2
#: Points sampled along each edge when transforming bounds between CRSs.
_DENSIFY_POINTS = 21
#: Tolerance (in pixels) for treating a computed pixel coordinate as whole.
_PIXEL_EPS = 1e-6

#: What reading a broken (truncated, corrupt, not LAS) point cloud raises; lazrs, the LAZ
#: backend installed with ``laspy[lazrs]``, raises its own ``LazrsError`` (a RuntimeError).
_LAZ_READ_ERRORS: tuple[type[Exception], ...] = (laspy.LaspyException, LazrsError, OSError, ValueError, EOFError)
#: laspy functions that log a read failure at ERROR before raising it or returning fewer points.
_LASPY_FAILURE_LOGGERS = frozenset({"_create_laz_backend", "read_points"})


class _DropLaspyReadErrors(logging.Filter):
    """Drop laspy's ERROR lines about a broken file (a failed LAZ backend, a short read).

    ``_read_laz`` turns both into one ``SourceError`` naming the file, so they would only repeat it.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return record.funcName not in _LASPY_FAILURE_LOGGERS


logging.getLogger("laspy.lasreader").addFilter(_DropLaspyReadErrors())

Bounds = tuple[float, float, float, float]


def read_ahn(
    *,
    dsm: str | Path | None = None,
    dtm: str | Path | None = None,
    laz: Sequence[str | Path] = (),
    region_crs: CRS = RD_NEW,
    resolution_m: float = DEFAULT_RESOLUTION_M,
    declared_crs: CRS | None = None,
    bounds: Bounds | None = None,
    report: SourceReport | None = None,
    progress: Callable[[int], None] | None = None,
) -> AdapterResult:
    """Read AHN GeoTIFFs or LAZ point clouds into the canonical ``dsm``/``dtm`` rasters.

    GeoTIFF mode (``dsm`` and/or ``dtm``): each file is read (only the window
    covering ``bounds`` when given) and warped with bilinear resampling onto
    a ``resolution_m`` grid in the region CRS when it is in another CRS.
    When both are given on different grids they are brought onto one: grids
    in the same CRS with the same cell size and aligned cell edges are cropped
    to their common extent; otherwise the DSM is cropped to the common extent
    and the DTM resampled onto its grid (bilinear). Only the rasters given are
    returned.

    LAZ mode (``laz``): all files are streamed in chunks into one grid of
    ``resolution_m`` cells over ``bounds`` or, by default, the union of the
    files' header extents, snapped outward to multiples of the resolution.
    DSM = highest non-noise point per cell, DTM = mean ground point per cell,
    holes filled (method in :mod:`geo.lidar`). Both sources are returned.

    Args:
        dsm: AHN DSM GeoTIFF.
        dtm: AHN DTM (maaiveld) GeoTIFF.
        laz: classified LAS/LAZ point clouds (ASPRS classes, AHN conventions).
        region_crs: CRS of the outputs.
        resolution_m: cell size (m) of gridded points and of warped rasters;
            GeoTIFFs already in the region CRS keep their own cells.
        declared_crs: CRS from the config, for files that carry none. Must
            agree with a file's own CRS (horizontal part) when it has one.
        bounds: region extent (minx, miny, maxx, maxy) in the region CRS.
        report: collects counts and notes; a new one is made when omitted.
        progress: LAZ mode only: called after each chunk with the number of
            points read so far over all files.

    Returns:
        ``AdapterResult`` with sources ``{"dsm": Raster, "dtm": Raster}``.

    Raises:
        ConfigError: neither or both of GeoTIFFs and LAZ given.
        CRSError: naming the file when it has no CRS and none is declared,
            when the declared CRS contradicts the file's, or when the CRS used
            (declared or the file's own) puts the file's extent outside its
            area of use or the region CRS's (:func:`geo.crs.check_area_of_use`).
        SourceError: naming the file(s) when a file cannot be read or is
            truncated (fewer points than its header announces), does not
            overlap ``bounds``, the DSM and DTM do not overlap, or a point
            cloud has no ground point.
    """
    report = report if report is not None else SourceReport("ahn")
    if isinstance(laz, str | Path):  # one file given where a list was meant
        laz = [laz]
    if not resolution_m > 0:
        raise ConfigError(f"sources.ahn.resolution_m: must be positive, got {resolution_m}")
    if laz and (dsm is not None or dtm is not None):
        raise ConfigError("sources.ahn: give either dsm/dtm GeoTIFFs or laz point clouds, not both")
    if not laz and dsm is None and dtm is None:
        raise ConfigError("sources.ahn: give dsm and/or dtm GeoTIFFs, or laz: [files]")
    if laz:
        sources = _read_laz([Path(p) for p in laz], region_crs, resolution_m, declared_crs, bounds, report, progress)
        return AdapterResult(sources=sources, report=report)
    rasters: dict[str, Raster] = {}
    paths = {"dsm": dsm, "dtm": dtm}
    for name, path in paths.items():
        if path is not None:
            rasters[name] = _read_geotiff(Path(path), name, region_crs, resolution_m, declared_crs, bounds, report)
    if "dsm" in rasters and "dtm" in rasters:
        rasters["dsm"], rasters["dtm"] = _pair(rasters["dsm"], rasters["dtm"], Path(str(dsm)), Path(str(dtm)), report)
        top, ground = rasters["dsm"].data[0], rasters["dtm"].data[0]
        with np.errstate(invalid="ignore"):
            below = top < ground  # NaN compares False, so holes are left alone
        if below.any():
            top = top.copy()
            top[below] = ground[below]
            rasters["dsm"] = dataclasses.replace(rasters["dsm"], data=top[np.newaxis])
            report.count("dsm_clamped_to_dtm", int(below.sum()))
            report.note(f"raised {int(below.sum())} DSM cell(s) that were below the DTM")
    return AdapterResult(sources=rasters, report=report)


# --------------------------------------------------------------------------- CRS


def _horizontal(crs: CRS) -> CRS:
    """The horizontal part of a compound CRS (AHN's EPSG:7415 = RD New + NAP height)."""
    if crs.is_compound and crs.sub_crs_list:
        return crs.sub_crs_list[0]
    return crs


def _resolve_crs(file_crs: CRS | None, declared_crs: CRS | None, path: Path) -> CRS:
    """The horizontal CRS to use for ``path``; see ``geo.crs.to_region_crs`` for the rules."""
    if file_crs is None:
        if declared_crs is None:
            raise CRSError(
                path,
                'the file has no CRS; add `crs:` (for example "EPSG:28992") to sources.ahn in the config',
            )
        return _horizontal(CRS.from_user_input(declared_crs))
    own = _horizontal(file_crs)
    if declared_crs is not None and not own.equals(
        _horizontal(CRS.from_user_input(declared_crs)), ignore_axis_order=True
    ):
        raise CRSError(
            path,
            f"the config says crs {CRS.from_user_input(declared_crs).to_string()} but the file says {own.to_string()}",
        )
    return own


def _rio(crs: CRS) -> RioCRS:
    return RioCRS.from_wkt(crs.to_wkt())


# ----------------------------------------------------------------------- GeoTIFF


def _read_geotiff(
    path: Path,
    name: str,
    region_crs: CRS,
    resolution_m: float,
    declared_crs: CRS | None,
    bounds: Bounds | None,
    report: SourceReport,
) -> Raster:
    try:
        src = rasterio.open(path)
    except RasterioIOError as exc:
        raise SourceError(path, f"cannot open the {name.upper()} as a raster: {exc}") from None
    with src:
        file_crs = CRS.from_wkt(src.crs.to_wkt()) if src.crs else None
        crs = _resolve_crs(file_crs, declared_crs, path)
        # A wrong CRS (declared, or the file's own) misplaces every cell.
        what = "the declared crs" if file_crs is None else "the file's crs"
        check_area_of_use(tuple(src.bounds), crs, path, region_crs=region_crs, what=what)
        if src.count > 1:
            report.note(f"{name}: {path.name} has {src.count} bands; band 1 is used")
        t = src.transform
        north_up = t.b == 0 and t.d == 0 and t.a > 0 and t.e < 0
        if north_up and crs.equals(region_crs, ignore_axis_order=True):
            window = _window(src, bounds, path)
            data = _read_band(src, window, path)
            transform = src.window_transform(window) if window is not None else t
        else:
            src_bounds = (
                None
                if bounds is None
                else transform_bounds(_rio(region_crs), _rio(crs), *bounds, densify_pts=_DENSIFY_POINTS)
            )
            window = _window(src, src_bounds, path, margin=WARP_MARGIN_PX)
            src_data = _read_band(src, window, path)
            src_transform = src.window_transform(window) if window is not None else t
            data, transform = _warp(src_data, src_transform, crs, region_crs, resolution_m, bounds, path)
            report.count(f"{name}_warped")
            report.note(
                f"{name}: {path.name} warped from {crs.to_string()} to {region_crs.to_string()} "
                f"(bilinear, {resolution_m:g} m cells)"
            )
    nodata = int(np.isnan(data).sum())
    report.count("read", data.size)
    report.count(f"{name}_nodata_cells", nodata)
    if nodata == data.size:
        report.note(f"{name}: {path.name} has no data inside the region")
    return Raster(
        data=data[np.newaxis],
        crs=region_crs,
        transform=transform,
        nodata=float("nan"),
        band_names=(name,),
        units=("m",),
    )


def _window(src: rasterio.DatasetReader, bounds: Bounds | None, path: Path, margin: int = 0) -> Window | None:
    """Pixel window of ``src`` covering ``bounds`` (in the file's CRS), or None for all of it."""
    if bounds is None:
        return None
    minx, miny, maxx, maxy = bounds
    inverse = ~src.transform
    corners = [inverse @ (x, y) for x in (minx, maxx) for y in (miny, maxy)]
    cols = [c for c, _ in corners]
    rows = [r for _, r in corners]
    col0 = max(math.floor(min(cols) + _PIXEL_EPS) - margin, 0)
    row0 = max(math.floor(min(rows) + _PIXEL_EPS) - margin, 0)
    col1 = min(math.ceil(max(cols) - _PIXEL_EPS) + margin, src.width)
    row1 = min(math.ceil(max(rows) - _PIXEL_EPS) + margin, src.height)
    if col1 <= col0 or row1 <= row0:
        raise SourceError(
            path, f"the raster (extent {_fmt(src.bounds)}) does not overlap the region bounds {_fmt(bounds)}"
        )
    return Window(col0, row0, col1 - col0, row1 - row0)


def _read_band(src: rasterio.DatasetReader, window: Window | None, path: Path) -> np.ndarray:
    """Band 1 as float32 with every nodata cell (declared, masked, or AHN sentinel) as NaN."""
    try:
        band = src.read(1, window=window, masked=True)
    except RasterioIOError as exc:
        raise SourceError(path, f"cannot read the raster (truncated or corrupt?): {exc}") from None
    data = np.ma.filled(band.astype(np.float32), np.nan)
    with np.errstate(invalid="ignore"):
        data[~np.isfinite(data) | (np.abs(data) >= NODATA_SENTINEL_ABS)] = np.nan
    return data


def _warp(
    data: np.ndarray,
    src_transform: Affine,
    src_crs: CRS,
    region_crs: CRS,
    resolution_m: float,
    bounds: Bounds | None,
    path: Path,
) -> tuple[np.ndarray, Affine]:
    """Bilinear warp onto a ``resolution_m`` grid in the region CRS aligned to multiples of it."""
    extent = transform_bounds(
        _rio(src_crs),
        _rio(region_crs),
        *array_bounds(*data.shape, src_transform),
        densify_pts=_DENSIFY_POINTS,
    )
    if bounds is not None:
        extent = (
            max(extent[0], bounds[0]),
            max(extent[1], bounds[1]),
            min(extent[2], bounds[2]),
            min(extent[3], bounds[3]),
        )
        if extent[0] >= extent[2] or extent[1] >= extent[3]:
            raise SourceError(path, f"the raster does not overlap the region bounds {_fmt(bounds)}")
    minx, miny, maxx, maxy = snap_bounds(extent, resolution_m, include_max_edge=False)
    cols = round((maxx - minx) / resolution_m)
    rows = round((maxy - miny) / resolution_m)
    transform = Affine(resolution_m, 0.0, minx, 0.0, -resolution_m, maxy)
    out = np.full((rows, cols), np.nan, dtype=np.float32)
    reproject(
        source=data,
        destination=out,
        src_transform=src_transform,
        src_crs=_rio(src_crs),
        dst_transform=transform,
        dst_crs=_rio(region_crs),
        resampling=Resampling.bilinear,
        src_nodata=np.nan,
        dst_nodata=np.nan,
    )
    return out, transform


def _pair(dsm: Raster, dtm: Raster, dsm_path: Path, dtm_path: Path, report: SourceReport) -> tuple[Raster, Raster]:
    """Bring the DSM and DTM onto one grid (both are already in the region CRS)."""
    if dsm.same_grid(dtm):
        return dsm, dtm
    a, b = dsm.bounds, dtm.bounds
    common = (max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3]))
    if common[0] >= common[2] or common[1] >= common[3]:
        raise SourceError(
            f"{dsm_path} and {dtm_path}",
            f"the DSM (extent {_fmt(a)}) and the DTM (extent {_fmt(b)}) do not overlap",
        )
    if _aligned(dsm, dtm):
        report.note(f"DSM and DTM have different extents; both cropped to the common extent {_fmt(common)}")
        report.count("cropped_to_common_extent")
        return _crop(dsm, common), _crop(dtm, common)
    dsm = _crop(dsm, common)
    out = np.full(dsm.data.shape[1:], np.nan, dtype=np.float32)
    reproject(
        source=dtm.data[0],
        destination=out,
        src_transform=dtm.transform,
        src_crs=_rio(dtm.crs),
        dst_transform=dsm.transform,
        dst_crs=_rio(dsm.crs),
        resampling=Resampling.bilinear,
        src_nodata=np.nan,
        dst_nodata=np.nan,
    )
    report.note(
        f"DSM and DTM are on different grids (cells {dsm.resolution[0]:g} m and {dtm.resolution[0]:g} m); "
        f"the DSM was cropped to {_fmt(common)} and the DTM resampled onto its grid (bilinear)"
    )
    report.count("dtm_resampled_to_dsm")
    return dsm, dataclasses.replace(dtm, data=out[np.newaxis], transform=dsm.transform)


def _aligned(a: Raster, b: Raster) -> bool:
    """Same CRS and cell size, north-up, and cell edges on one lattice."""
    ta, tb = a.transform, b.transform
    if a.crs != b.crs or any(t.b != 0 or t.d != 0 for t in (ta, tb)):
        return False
    if not (math.isclose(ta.a, tb.a) and math.isclose(ta.e, tb.e)):
        return False
    shift = ((ta.c - tb.c) / ta.a, (ta.f - tb.f) / ta.e)
    return all(abs(s - round(s)) < _PIXEL_EPS for s in shift)


def _crop(r: Raster, bounds: Bounds) -> Raster:
    """The cells of ``r`` covering ``bounds`` (outward to whole cells)."""
    inverse = ~r.transform
    c0, r0 = inverse @ (bounds[0], bounds[3])
    c1, r1 = inverse @ (bounds[2], bounds[1])
    col0, row0 = max(math.floor(c0 + _PIXEL_EPS), 0), max(math.floor(r0 + _PIXEL_EPS), 0)
    col1, row1 = min(math.ceil(c1 - _PIXEL_EPS), r.width), min(math.ceil(r1 - _PIXEL_EPS), r.height)
    data = r.data[:, row0:row1, col0:col1]
    return dataclasses.replace(r, data=data, transform=r.transform @ Affine.translation(col0, row0))


def _fmt(bounds: Sequence[float]) -> str:
    return "(" + ", ".join(f"{v:.1f}" for v in bounds) + ")"


# --------------------------------------------------------------------------- LAZ


def _read_laz(
    paths: list[Path],
    region_crs: CRS,
    resolution_m: float,
    declared_crs: CRS | None,
    bounds: Bounds | None,
    report: SourceReport,
    progress: Callable[[int], None] | None,
) -> dict[str, Raster]:
    headers: list[tuple[Path, laspy.LasHeader, Transformer | None]] = []
    for path in paths:
        header = _open_header(path)
        try:
            file_crs = header.parse_crs()
        except Exception as exc:  # laspy raises several types for malformed GeoKeys/WKT VLRs
            raise CRSError(path, f"the CRS record of the file cannot be parsed: {exc}") from None
        crs = _resolve_crs(file_crs, declared_crs, path)
        if header.point_count > 0:  # a wrong CRS (declared or in the header) misplaces every point
            extent = (*header.mins[:2], *header.maxs[:2])
            what = "the declared crs" if file_crs is None else "the file's crs"
            check_area_of_use(extent, crs, path, region_crs=region_crs, what=what)
        transformer = None
        if not crs.equals(region_crs, ignore_axis_order=True):
            transformer = Transformer.from_crs(crs, region_crs, always_xy=True)
            report.note(
                f"{path.name}: points transformed from {crs.to_string()} to {region_crs.to_string()}; "
                "heights are kept as stored"
            )
        headers.append((path, header, transformer))

    extents = [_header_extent(h, t) for _, h, t in headers if h.point_count > 0]
    if not extents:
        raise SourceError(", ".join(map(str, paths)), "the point clouds hold no points")
    union = (
        min(e[0] for e in extents),
        min(e[1] for e in extents),
        max(e[2] for e in extents),
        max(e[3] for e in extents),
    )
    grid = snap_bounds(union, resolution_m, include_max_edge=True)
    if bounds is not None:
        # A window is gridded only where the point clouds are: beyond their extent the gap filling would
        # invent a surface (interpolated terrain, buildings smeared out) where AHN has measured nothing.
        wanted = snap_bounds(bounds, resolution_m, include_max_edge=False)
        grid = (max(grid[0], wanted[0]), max(grid[1], wanted[1]), min(grid[2], wanted[2]), min(grid[3], wanted[3]))
        if grid[0] >= grid[2] or grid[1] >= grid[3]:
            return _no_data(wanted, resolution_m, region_crs, report)
    names = ", ".join(map(str, paths))
    gridder = SurfaceGridder(grid, resolution_m, source=names)

    total = 0
    for path, header, transformer in headers:
        used = 0
        in_file = 0
        try:
            with laspy.open(path) as reader:
                for chunk in reader.chunk_iterator(LAZ_CHUNK_POINTS):
                    x, y = np.asarray(chunk.x), np.asarray(chunk.y)
                    if transformer is not None:
                        x, y = transformer.transform(x, y)
                    used += gridder.add(x, y, np.asarray(chunk.z), np.asarray(chunk.classification))
                    in_file += len(chunk)
                    total += len(chunk)
                    if progress is not None:
                        progress(total)
        except _LAZ_READ_ERRORS as exc:
            raise SourceError(path, f"cannot read the point cloud (truncated or corrupt?): {exc}") from None
        if in_file != header.point_count:
            raise SourceError(
                path, f"truncated: the header announces {header.point_count} points but the file holds {in_file}"
            )
        report.note(f"{path.name}: {header.point_count} points, {used} gridded")
    surface = gridder.finish()
    counts = surface.counts
    report.count("read", total)
    report.count("kept", counts["points_used"])
    for key, n in sorted(counts.items()):
        if key != "points_used":
            report.count(key, n)
    if bounds is None and counts["points_outside"]:
        report.note(f"{counts['points_outside']} point(s) lie outside their file's header extent and were skipped")
    report.note(
        f"gridded {len(paths)} point cloud(s) at {resolution_m:g} m: {surface.dsm.shape[1]} x "
        f"{surface.dsm.shape[0]} cells; DTM filled {counts['dtm_filled']} cells by interpolation; "
        f"DSM filled {counts['dsm_filled_interpolated']} (interpolated) + {counts['dsm_filled_from_dtm']} "
        f"(from DTM); {counts['dsm_clamped_to_dtm']} DSM cell(s) raised to the DTM"
    )
    return {
        name: Raster(
            data=array[np.newaxis],
            crs=region_crs,
            transform=surface.transform,
            nodata=float("nan"),
            band_names=(name,),
            units=("m",),
        )
        for name, array in (("dsm", surface.dsm), ("dtm", surface.dtm))
    }


def _no_data(bounds: Bounds, resolution_m: float, region_crs: CRS, report: SourceReport) -> dict[str, Raster]:
    """DSM and DTM of nodata over ``bounds`` (a window beyond the point clouds' extent)."""
    width = round((bounds[2] - bounds[0]) / resolution_m)
    height = round((bounds[3] - bounds[1]) / resolution_m)
    transform = Affine(resolution_m, 0.0, bounds[0], 0.0, -resolution_m, bounds[3])
    report.note(f"window {_fmt(bounds)} lies outside the point clouds: no DSM or DTM there")
    empty = np.full((1, height, width), np.nan, dtype=np.float32)
    return {
        name: Raster(data=empty.copy(), crs=region_crs, transform=transform, nodata=float("nan"),
                     band_names=(name,), units=("m",))
        for name in ("dsm", "dtm")
    }


def _open_header(path: Path) -> laspy.LasHeader:
    try:
        with laspy.open(path) as reader:
            return reader.header
    except _LAZ_READ_ERRORS as exc:
        raise SourceError(path, f"cannot open as a LAS/LAZ point cloud: {exc}") from None


def _header_extent(header: laspy.LasHeader, transformer: Transformer | None) -> Bounds:
    """(minx, miny, maxx, maxy) of the header, in the region CRS."""
    minx, miny = float(header.mins[0]), float(header.mins[1])
    maxx, maxy = float(header.maxs[0]), float(header.maxs[1])
    if transformer is None:
        return minx, miny, maxx, maxy
    west, south, east, north = transformer.transform_bounds(minx, miny, maxx, maxy, densify_pts=_DENSIFY_POINTS)
    return west, south, east, north
