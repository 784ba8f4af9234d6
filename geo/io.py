"""Reading canonical sources given by file (GeoPackage, GeoParquet, GeoJSON, CSV, GeoTIFF)."""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import rasterio
from pyproj import CRS
from rasterio.errors import RasterioIOError, WindowError
from rasterio.windows import Window, from_bounds

from geo.canonical import CANONICAL, id_column, validate_canonical
from geo.crs import check_area_of_use, to_region_crs
from geo.errors import CRSError, SourceError
from geo.raster import Raster
from geo.report import SourceReport
from geo.vector import repair_polygons

#: Column names accepted for point coordinates in a CSV, in order of preference.
_X_COLUMNS = ("x", "X", "x_rd", "X_RD", "lon", "longitude")
_Y_COLUMNS = ("y", "Y", "y_rd", "Y_RD", "lat", "latitude")
_WKT_COLUMNS = ("geometry", "wkt", "WKT", "geom")
_PARQUET = {".parquet", ".geoparquet"}


def read_vector_source(
    name: str,
    path: str | Path,
    region_crs: CRS,
    *,
    layer: str | None = None,
    columns: Mapping[str, str] | None = None,
    declared_crs: CRS | None = None,
    report: SourceReport | None = None,
) -> gpd.GeoDataFrame:
    """Read a canonical vector (or table) source from one file.

    Args:
        name: canonical source name (``trees``, ``streets``, ...).
        path: the file.
        region_crs: CRS to bring the features into.
        layer: layer inside a multi-layer file (GeoPackage).
        columns: canonical column -> column in the file; ``x``/``y`` name the
            coordinate columns of a CSV.
        declared_crs: CRS from the config, for files without one (CSV).
        report: collects counts (features read, polygons repaired).

    Returns:
        A frame validated against the canonical schema (``geo.canonical``).

    Raises:
        SourceError: unreadable or empty file (a CSV without rows), missing
            columns or coordinates, bad geometry.
        CRSError: no CRS and none declared, a contradictory one, or a declared
            one that puts the features outside its area of use or the region
            CRS's (:func:`geo.crs.check_area_of_use`).
    """
    path = Path(path)
    if not path.exists():
        raise SourceError(path, "file not found")
    columns = dict(columns or {})
    spec = CANONICAL[name]
    if path.suffix.lower() == ".csv":
        frame = _read_csv(path, columns, needs_geometry=spec.geometry not in ("table", "any"))
    elif path.suffix.lower() in _PARQUET:
        try:
            frame = gpd.read_parquet(path)
        except (ValueError, OSError) as exc:
            raise SourceError(path, f"cannot read GeoParquet: {exc}") from None
    else:
        try:
            frame = pyogrio.read_dataframe(path, layer=layer)
        except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
            raise SourceError(path, f"cannot read: {exc}") from None
    frame = _rename(frame, columns, path)
    if path.suffix.lower() == ".csv":
        frame = _numeric_fields(frame, path)
    if isinstance(frame, gpd.GeoDataFrame) and frame.geometry.name in frame.columns:
        frame = to_region_crs(frame, region_crs, path, declared_crs)
    report = report if report is not None else SourceReport(name)
    frame = validate_canonical(name, frame, path, report)
    report.count("read", len(frame))
    if spec.geometry == "Polygon":
        frame = repair_polygons(frame, report, path, id_column=id_column(name))
    return frame


#: Canonical fields that hold numbers (a CSV is read as text first).
NUMERIC_FIELDS = ("crown_diameter_m", "height_m", "floor_area_m2", "planned_dwellings", "year")


def _numeric_fields(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    for col in NUMERIC_FIELDS:
        if col not in frame.columns:
            continue
        text = frame[col].str.strip().str.replace(",", ".", regex=False)  # Dutch decimal comma
        values = pd.to_numeric(text, errors="coerce")
        bad = values.isna() & text.notna() & (text != "")
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            fid = frame["id"].iloc[row] if "id" in frame.columns else f"line {row + 2}"
            raise SourceError(path, f"{col}: {frame[col].iloc[row]!r} is not a number", feature=fid)
        frame[col] = values
    return frame


def _rename(frame: pd.DataFrame, columns: Mapping[str, str], path: Path) -> pd.DataFrame:
    mapping = {src: dst for dst, src in columns.items() if dst not in ("x", "y")}
    missing = [src for src in mapping if src not in frame.columns]
    if missing:
        raise SourceError(
            path,
            f"columns {', '.join(missing)} named in the config are not in the file "
            f"(present: {', '.join(map(str, frame.columns))})",
        )
    return frame.rename(columns=mapping)


def _read_csv(path: Path, columns: Mapping[str, str], needs_geometry: bool) -> pd.DataFrame:
    """Read a CSV as text columns; an empty file or one with a header but no rows is an error."""
    try:
        if not path.read_bytes().strip():
            raise SourceError(path, "the CSV is empty (no header, no rows)")
        # Text first: 16-digit BAG ids and codes with leading zeros must not become numbers.
        table = pd.read_csv(path, sep=None, engine="python", dtype=str, keep_default_na=True)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError, csv.Error, OSError) as exc:
        raise SourceError(path, f"cannot read CSV: {exc}") from None
    if table.empty:
        raise SourceError(
            path, f"the CSV has a header ({', '.join(map(str, table.columns))}) but no rows; "
            "leave the source out of the config when there is nothing to read"
        )
    xcol = columns.get("x") or next((c for c in _X_COLUMNS if c in table.columns), None)
    ycol = columns.get("y") or next((c for c in _Y_COLUMNS if c in table.columns), None)
    wkt = next((c for c in _WKT_COLUMNS if c in table.columns), None)
    if xcol in table.columns and ycol in table.columns:
        x = pd.to_numeric(table[xcol], errors="coerce")
        y = pd.to_numeric(table[ycol], errors="coerce")
        bad = x.isna() | y.isna()
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            fid = table["id"].iloc[row] if "id" in table.columns else f"line {row + 2}"
            raise SourceError(path, f"coordinates missing or not numeric in {xcol}/{ycol}", feature=fid)
        geometry = gpd.points_from_xy(x, y)
        return gpd.GeoDataFrame(table.drop(columns=[xcol, ycol]), geometry=geometry, crs=None)
    if wkt is not None:
        try:
            geometry = gpd.GeoSeries.from_wkt(table[wkt])
        except Exception as exc:  # shapely raises a GEOSException subclass per bad string
            raise SourceError(path, f"column {wkt!r} does not hold valid WKT: {exc}") from None
        return gpd.GeoDataFrame(table.drop(columns=[wkt]), geometry=geometry, crs=None)
    if needs_geometry:
        raise SourceError(
            path,
            "CSV has no coordinates: expected columns x and y (or name them with "
            "`columns: {x: ..., y: ...}` in the config) or a WKT column 'geometry'",
        )
    return table


def read_raster_source(
    path: str | Path,
    region_crs: CRS,
    *,
    band_name: str,
    declared_crs: CRS | None = None,
    bounds: tuple[float, float, float, float] | None = None,
) -> Raster:
    """Read a single-band GeoTIFF as a float32 ``Raster`` with NaN nodata.

    With ``bounds`` (region CRS) only the whole cells of the file that cover
    them are read, so a build in windows holds one window of the file at a time.

    A raster without CRS is refused unless the config declares one (which
    must put the raster inside its area of use and the region CRS's, see
    :func:`geo.crs.check_area_of_use`); a raster in another CRS than the
    region is refused too, because resampling heights silently would change
    them: use the ``ahn`` adapter, which warps on purpose.

    Raises:
        SourceError: unreadable file.
        CRSError: missing or different CRS, or a declared one that does not fit the raster.
    """
    path = Path(path)
    try:
        with rasterio.open(path) as ds:
            window = None if bounds is None else _covering_window(ds, bounds, path)
            data = ds.read(1, out_dtype="float32", window=window)
            crs = ds.crs
            transform = ds.transform if window is None else ds.window_transform(window)
            nodata = ds.nodata
            extent = tuple(ds.bounds)
    except RasterioIOError as exc:
        raise SourceError(path, f"cannot read raster: {exc}") from None
    if crs is None:
        if declared_crs is None:
            raise CRSError(path, "the raster has no CRS; add `crs:` to this source in the config")
        check_area_of_use(extent, declared_crs, path, region_crs=region_crs)
        crs = declared_crs
    if not CRS.from_user_input(crs).equals(region_crs, ignore_axis_order=True):
        raise CRSError(
            path,
            f"the raster is in {CRS.from_user_input(crs).to_string()}, the region in {region_crs.to_string()}",
        )
    if nodata is not None:
        data[data == np.float32(nodata)] = np.nan
    return Raster(data, region_crs, transform, nodata=float("nan"), band_names=(band_name,), units=("m",))


def _covering_window(ds: rasterio.io.DatasetReader, bounds: tuple[float, float, float, float], path: Path) -> Window:
    """The window of whole cells of ``ds`` covering ``bounds``, cut to the file's extent."""
    full = Window(0, 0, ds.width, ds.height)
    exact = from_bounds(*bounds, transform=ds.transform)
    col0, row0 = math.floor(exact.col_off), math.floor(exact.row_off)
    col1, row1 = math.ceil(exact.col_off + exact.width), math.ceil(exact.row_off + exact.height)
    wanted = Window(col0, row0, col1 - col0, row1 - row0)
    try:
        return wanted.intersection(full)
    except WindowError:
        raise SourceError(path, f"the raster does not overlap the extent {tuple(round(b) for b in bounds)}") from None
