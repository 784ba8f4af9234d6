"""The working state of ``geo.edits``: copies of a site's inputs, the record of changes, and helpers.

An edit (``geo.edits``) changes the copies in a :class:`Work` through these helpers: vector frames are cut
and appended to (region CRS, m), rasters set cell by cell (a cell belongs to a geometry when its centre lies
inside, GDAL's rule, as everywhere). Nothing here knows an edit's meaning; that is ``geo.edits``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from rasterio.features import rasterize

from geo.ahn_vegetation import VEGETATION_SOURCE
from geo.crs import RD_NEW
from geo.edits_model import Edit, Polygonal
from geo.errors import InputError
from geo.fractions import AREA_EPSILON_M2
from geo.raster import Raster, known_cells

#: How far (m) an edit geometry or point may reach outside the site: one AHN cell (0.5 m), the precision of a
#: polygon drawn along the site outline on a web map; the part outside is clipped off.
SITE_TOLERANCE_M = 0.5

#: The vector sources an edit may change.
VECTORS = ("landcover", "buildings", "trees", "addresses")
#: The counts of ``EditResult.summary``.
SUMMARY_KEYS = ("unpaved_m2", "trees_added", "crown_area_added_m2", "trees_removed", "buildings_added",
                 "building_area_added_m2", "buildings_removed", "building_area_removed_m2", "addresses_removed")
#: The layers of ``EditResult.drawn`` and their columns.
DRAWN_COLUMNS = {"unpaved": ("edit", "class", "area_m2"), "crowns": ("edit", "id", "crown_diameter_m", "height_m"),
                  "buildings_added": ("edit", "id", "height_m"), "buildings_removed": ("edit", "id"),
                  "trees_removed": ("edit", "id")}
#: Working column of the land cover: the edit that made a piece ("" for input rows).
EDIT_COL = "_edit"


@dataclass
class Work:
    """Working copies and the record of changes."""

    site: Polygonal
    reach: Polygonal  # the site widened by SITE_TOLERANCE_M
    crs: Any
    frames: dict[str, gpd.GeoDataFrame]
    rasters: dict[str, Raster]
    summary: dict[str, float | int] = field(default_factory=lambda: dict.fromkeys(SUMMARY_KEYS, 0))
    warnings: list[str] = field(default_factory=list)
    changed: list[shapely.Geometry] = field(default_factory=list)
    drawn: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: {k: [] for k in DRAWN_COLUMNS})
    new_buildings: dict[str, tuple[str, Polygonal]] = field(default_factory=dict)
    warned: set[str] = field(default_factory=set)

    @property
    def surface(self) -> bool:
        return "dsm" in self.rasters and "dtm" in self.rasters


def start_work(sources: Mapping[str, Any], site: Polygonal) -> Work:
    frames = {n: sources[n].copy() for n in VECTORS if sources.get(n) is not None}
    rasters = {n: replace(sources[n], data=sources[n].data.copy())
               for n in ("dsm", "dtm", VEGETATION_SOURCE) if sources.get(n) is not None}
    grids = list(rasters.items())
    for name, r in grids[1:]:
        if not r.same_grid(grids[0][1]):
            raise ValueError(f"edits: the {name} raster is on another grid than the {grids[0][0]}")
    crs = next((f.crs for f in frames.values() if f.crs is not None), None)
    crs = crs if crs is not None else next((r.crs for r in rasters.values()), RD_NEW)
    if "landcover" in frames:
        frames["landcover"][EDIT_COL] = ""
    return Work(site, site.buffer(SITE_TOLERANCE_M), crs, frames, rasters)


def warn_once(work: Work, key: str, text: str) -> None:
    if key not in work.warned:
        work.warned.add(key)
        work.warnings.append(text)


# ----------------------------------------------------------------------------------------------- geometry helpers
def polygonal(geoms: Any) -> np.ndarray:
    """The polygonal part of each geometry (None where nothing above ``AREA_EPSILON_M2`` is left)."""
    out = np.empty(len(geoms), dtype=object)
    for i, g in enumerate(geoms):
        if g is not None and not g.is_empty and g.geom_type not in ("Polygon", "MultiPolygon"):
            parts = [p for p in shapely.get_parts(g) if p.geom_type in ("Polygon", "MultiPolygon")]
            g = shapely.union_all(parts) if parts else None
        out[i] = g if g is not None and not g.is_empty and g.area > AREA_EPSILON_M2 else None
    return out


def inside_site(work: Work, geom: Polygonal, path: str) -> Polygonal:
    """``geom`` clipped to the site; an error naming ``path`` when it reaches out of the site."""
    if not work.reach.covers(geom):
        outside = geom.difference(work.site).area
        raise InputError(f"{path}: lies outside the site ({outside:.1f} of {geom.area:.1f} m2 outside)")
    clipped = polygonal([geom.intersection(work.site)])[0]
    if clipped is None:
        raise InputError(f"{path}: has no area inside the site")
    return clipped  # type: ignore[no-any-return]


def cut(frame: gpd.GeoDataFrame, cutter: Polygonal, rows: np.ndarray | None = None
         ) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Split the rows of ``frame`` (all, or the positions ``rows``) by ``cutter``: (outside kept, inside pieces)."""
    hit = frame.sindex.query(cutter, predicate="intersects")
    hit = np.sort(hit if rows is None else np.intersect1d(hit, rows))
    if not len(hit):
        return frame, frame.iloc[:0]
    geoms = np.array(frame.geometry.values, dtype=object, copy=True)  # np.asarray would be the frame's own array
    part = shapely.make_valid(geoms[hit])
    inside, outside = polygonal(shapely.intersection(part, cutter)), polygonal(shapely.difference(part, cutter))
    some = np.array([g is not None for g in inside], dtype=bool)
    pieces = frame.iloc[hit[some]].copy()
    pieces[pieces.geometry.name] = gpd.GeoSeries(list(inside[some]), index=pieces.index, crs=frame.crs)
    geoms[hit] = outside
    kept = frame.copy()
    kept[kept.geometry.name] = gpd.GeoSeries(list(geoms), index=kept.index, crs=frame.crs)
    return kept[~kept.geometry.isna().to_numpy()], pieces


def append_rows(frame: gpd.GeoDataFrame, rows: list[dict[str, Any]]) -> gpd.GeoDataFrame:
    """``frame`` with ``rows`` (dicts with a ``geometry``) appended; missing columns are null."""
    if not rows:
        return frame
    data = pd.DataFrame([{k: v for k, v in r.items() if k != "geometry"} for r in rows])
    add = gpd.GeoDataFrame(data, geometry=gpd.GeoSeries([r["geometry"] for r in rows], crs=frame.crs))
    add = add.rename_geometry(frame.geometry.name) if frame.geometry.name != "geometry" else add
    extra = [k for k in rows[0] if k != "geometry" and k not in frame.columns]
    frame = frame.assign(**dict.fromkeys(extra, pd.NA)) if extra else frame
    add = add.reindex(columns=frame.columns)
    for col in frame.columns:
        if col != frame.geometry.name:
            with contextlib.suppress(TypeError, ValueError):
                add[col] = add[col].astype(frame[col].dtype)
    return gpd.GeoDataFrame(pd.concat([frame, add], ignore_index=True), geometry=frame.geometry.name,
                            crs=frame.crs)


def empty_frame(crs: Any, columns: Sequence[str]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({c: pd.Series(dtype=object) for c in columns}, geometry=gpd.GeoSeries([], crs=crs))


def fresh_ids(frame: gpd.GeoDataFrame, prefix: str, n: int) -> list[str]:
    """``n`` ids ``<prefix>1``, ``<prefix>2``, ... that ``frame`` does not hold yet."""
    taken, out, k = set(frame["id"].astype(str)), list[str](), 0
    while len(out) < n:
        k += 1
        if f"{prefix}{k}" not in taken:
            out.append(f"{prefix}{k}")
    return out


def footprints(work: Work, near: shapely.Geometry) -> list[tuple[str, shapely.Geometry]]:
    """(id, polygon) of the building footprints and ``building`` land cover that intersect ``near``."""
    out = []
    for name, key, cls in (("buildings", "id", None), ("landcover", "source_id", "building")):
        frame = work.frames.get(name)
        if frame is None or not len(frame):
            continue
        hit = np.sort(frame.sindex.query(near, predicate="intersects"))
        if cls is not None:
            hit = hit[(frame["class"].to_numpy()[hit] == cls)]
        out += [(str(frame[key].iloc[i]), frame.geometry.iloc[i]) for i in hit]
    return out


def landcover_of(work: Work, cls: str, near: shapely.Geometry) -> list[shapely.Geometry]:
    frame = work.frames.get("landcover")
    if frame is None or not len(frame):
        return []
    hit = np.sort(frame.sindex.query(near, predicate="intersects"))
    return list(frame.geometry.values[hit[frame["class"].to_numpy()[hit] == cls]])


# ------------------------------------------------------------------------------------------------ raster helpers
def cells_in(geom: shapely.Geometry, like: Raster) -> np.ndarray:
    """Cells of ``like`` whose centre lies in ``geom`` (GDAL's rule, as the canopy and the land cover)."""
    return rasterize([(geom, 1)], out_shape=(like.height, like.width), transform=like.transform, fill=0,
                     dtype="uint8").astype(bool)


def set_surface(work: Work, cells: np.ndarray, height_m: float | None, e: Edit, *, raise_only: bool) -> None:
    """DSM := DTM + height (or max with it when ``raise_only``) in ``cells``; vegetation likewise or cleared.

    ``height_m`` None lowers the DSM to the DTM (a removed building); vegetation is set to DTM + height where a
    tree is planted (``raise_only``) and cleared otherwise. Cells of unknown terrain are left (with a warning).
    """
    dsm, dtm = work.rasters["dsm"], work.rasters["dtm"]
    unknown = int((cells & ~known_cells(dtm)).sum())
    if unknown:
        work.warnings.append(f"Bewerking {e.where}: in {unknown} cellen is de maaiveldhoogte (AHN dtm) onbekend; "
                             "daar is het hoogtemodel niet aangepast")
    cells = cells & known_cells(dtm)
    top = dtm.data[0][cells].astype(np.float64) + (height_m or 0.0)
    targets = [dsm] + ([work.rasters[VEGETATION_SOURCE]] if VEGETATION_SOURCE in work.rasters else [])
    for r in targets:
        band = r.data[0]
        if raise_only:
            now = np.where(known_cells(r)[cells], band[cells], -np.inf)
            band[cells] = np.maximum(now, top)
        elif r is dsm:
            band[cells] = top
        else:
            band[cells] = np.nan if r.nodata is None else r.nodata
