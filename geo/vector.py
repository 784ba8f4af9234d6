"""Vector validation helpers: geometry repair with counting."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

from geo.errors import SourceError
from geo.report import SourceReport

_POLYGONAL = {"Polygon", "MultiPolygon"}


def repair_polygons(
    frame: gpd.GeoDataFrame,
    report: SourceReport,
    path: str | Path,
    id_column: str = "id",
) -> gpd.GeoDataFrame:
    """Make invalid polygons valid and keep only their polygonal part.

    ``shapely.make_valid`` splits a self-intersecting ring (a bow-tie) into
    valid parts; lines or points it may emit along collapsed edges are dropped
    since they carry no area. Repairs are counted in ``report`` as ``repaired``.

    Raises:
        SourceError: naming the feature when repair leaves no area at all.
    """
    geoms = frame.geometry.values
    invalid = ~shapely.is_valid(geoms)
    if not invalid.any():
        return frame
    fixed = shapely.make_valid(geoms[invalid])
    fixed = np.array([_polygonal_part(g) for g in fixed], dtype=object)
    for i, g in zip(np.flatnonzero(invalid), fixed, strict=True):
        if g is None or g.is_empty:
            fid = frame[id_column].iloc[i] if id_column in frame.columns else f"row {i + 1}"
            raise SourceError(path, "invalid polygon that cannot be repaired (no area left)", feature=fid)
    frame = frame.copy()
    out = frame.geometry.values.copy()
    out[invalid] = fixed
    frame[frame.geometry.name] = gpd.GeoSeries(out, index=frame.index, crs=frame.crs)
    report.count("repaired", int(invalid.sum()))
    report.note(f"repaired {int(invalid.sum())} invalid polygon(s)")
    return frame


def _polygonal_part(geom: shapely.Geometry) -> shapely.Geometry | None:
    if geom.geom_type in _POLYGONAL:
        return geom
    if geom.geom_type == "GeometryCollection":
        parts = [g for g in shapely.get_parts(geom) if g.geom_type in _POLYGONAL]
        if parts:
            return shapely.union_all(parts)
    return None


def near(frame: gpd.GeoDataFrame, bounds: tuple[float, float, float, float]) -> gpd.GeoDataFrame:
    """The whole features of ``frame`` whose bounding box meets ``bounds`` (spatial index; index labels kept)."""
    hits = frame.sindex.query(shapely.box(*bounds))
    return frame.iloc[np.sort(hits)]
