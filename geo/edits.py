"""What-if edits applied to the canonical inputs of a site (``apply_edits``; the rules: docs/scenarios.md).

Pure: canonical sources in the region CRS (RD New, metres) in, edited copies out; no layer or HTTP
knowledge. ``landcover``, ``buildings``, ``trees`` and ``addresses`` are GeoDataFrames; ``dsm``, ``dtm``
and ``vegetation`` are ``geo.raster.Raster`` (metres NAP, one grid). The edits (``geo.edits_model``) run
in order, each on the result of the one before: ``unpave`` turns paving into green, ``plant_trees`` adds
register trees with flat-topped crowns in the DSM and the vegetation raster (so ``geo.canopy`` sees them),
``add_building`` and ``remove_building`` change footprints, land cover, DSM, vegetation and addresses
together. A cell belongs to a crown or a footprint when its centre lies inside (GDAL's rule, as
everywhere). The result is validated like a source and checked for consistency (:func:`_check`).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from rasterio.features import rasterize
from scipy import ndimage

from geo.ahn_vegetation import VEGETATION_SOURCE
from geo.canonical import validate_canonical
from geo.crs import RD_NEW
from geo.edits_checks import canopy_test, check_overlaps
from geo.edits_model import (
    ADDED_BUILDING_STATUS,
    MIN_BUILDING_HEIGHT_M,
    AddBuilding,
    Edit,
    PlantTrees,
    Polygonal,
    RemoveBuilding,
    Unpave,
    parse_edits,
    place_trees,
    west_cut,
)
from geo.errors import InputError, SourceError
from geo.fractions import AREA_EPSILON_M2, SURFACE_GROUPS, burn_discs, crown_discs
from geo.raster import Raster, known_cells

__all__ = ["AddBuilding", "Edit", "EditResult", "PlantTrees", "RemoveBuilding", "Unpave", "apply_edits",
           "parse_edits"]

#: How far (m) an edit geometry or point may reach outside the site: one AHN cell (0.5 m), the precision of a
#: polygon drawn along the site outline on a web map; the part outside is clipped off.
SITE_TOLERANCE_M = 0.5
#: Overlap (m2) of an added footprint with an existing building that is cut off instead of refused: a 1 m2
#: sliver is what a hand-drawn outline next to a BAG/BGT footprint (decimetre precision) leaves.
BUILDING_OVERLAP_TOLERANCE_M2 = 1.0
#: Area (m2) by which edited land-cover pieces may overlap others (and footprints miss building land cover):
#: the rounding noise of the overlay of decimetre registry coordinates.
LANDCOVER_OVERLAP_TOLERANCE_M2 = 0.01
#: A BGT ``building`` polygon goes with a removed BAG footprint when at least this share of its own area lies
#: in it (BGT and BAG outline the same pand a few decimetres apart; a neighbour's polygon only touches it).
BGT_MATCH_SHARE = 0.5
#: Ring (m) around a removed building whose terrain fills the DTM's hole under it: the pavement or garden strip
#: along a facade, which AHN measures (4 cells of 0.5 m).
TERRAIN_RING_M = 2.0
#: Tolerance (m) of the DSM height check in new footprints: float32 rounding of NAP heights.
HEIGHT_TOLERANCE_M = 1e-3
#: ``landcover.source_class`` prefix of every piece an edit made.
SCENARIO_CLASS_PREFIX = "scenario:"
PAVED_CLASSES: tuple[str, ...] = SURFACE_GROUPS["paved"]
_VECTORS = ("landcover", "buildings", "trees", "addresses")
_SUMMARY_KEYS = ("unpaved_m2", "trees_added", "crown_area_added_m2", "trees_removed", "buildings_added",
                 "building_area_added_m2", "buildings_removed", "building_area_removed_m2", "addresses_removed")
_DRAWN_COLUMNS = {"unpaved": ("edit", "class", "area_m2"), "crowns": ("edit", "id", "crown_diameter_m", "height_m"),
                  "buildings_added": ("edit", "id", "height_m"), "buildings_removed": ("edit", "id"),
                  "trees_removed": ("edit", "id")}
_EDIT_COL = "_edit"  # working column of the land cover: the edit that made a piece ("" for input rows)


@dataclass
class EditResult:
    """The edited inputs and what changed.

    Attributes:
        sources: edited copies of the sources given (``trees`` also when an edit created it); every other
            source is passed through unchanged.
        changed_bounds: (minx, miny, maxx, maxy) of every change (region CRS, m), None when nothing changed.
        summary: ``unpaved_m2``, ``trees_added``, ``crown_area_added_m2`` (union of the new crowns),
            ``trees_removed``, ``buildings_added``, ``building_area_added_m2``, ``buildings_removed``,
            ``building_area_removed_m2``, ``addresses_removed``.
        warnings: for the planner, in Dutch.
        drawn: for the map: ``unpaved`` pieces, new ``crowns`` (discs), ``buildings_added``,
            ``buildings_removed`` and ``trees_removed`` (always all five, possibly empty).
    """

    sources: dict[str, Any]
    changed_bounds: tuple[float, float, float, float] | None
    summary: dict[str, float | int]
    warnings: list[str]
    drawn: dict[str, gpd.GeoDataFrame]


@dataclass
class _Work:
    """Working copies and the record of changes."""

    site: Polygonal
    reach: Polygonal  # the site widened by SITE_TOLERANCE_M
    crs: Any
    frames: dict[str, gpd.GeoDataFrame]
    rasters: dict[str, Raster]
    summary: dict[str, float | int] = field(default_factory=lambda: dict.fromkeys(_SUMMARY_KEYS, 0))
    warnings: list[str] = field(default_factory=list)
    changed: list[shapely.Geometry] = field(default_factory=list)
    drawn: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: {k: [] for k in _DRAWN_COLUMNS})
    new_buildings: dict[str, tuple[str, Polygonal]] = field(default_factory=dict)
    warned: set[str] = field(default_factory=set)

    @property
    def surface(self) -> bool:
        return "dsm" in self.rasters and "dtm" in self.rasters


def apply_edits(edits: Sequence[Edit], sources: Mapping[str, Any], site: Polygonal) -> EditResult:
    """Apply ``edits`` in order to copies of ``sources`` (see the module docstring; inputs are not changed).

    Args:
        edits: parsed edits (``parse_edits``).
        sources: canonical sources in the region CRS (m); any of the vector and raster sources may be absent.
        site: the site polygon (region CRS); every edit must lie inside it (to ``SITE_TOLERANCE_M``).

    Returns:
        The edited copies and the record of the changes.

    Raises:
        InputError: naming the edit (``edits[2]...``) that lies outside the site, plants a tree in a building,
            adds a building over another, removes an unknown building, cannot place its trees, or would leave
            the inputs inconsistent.
        ValueError: the dsm, dtm and vegetation rasters are not on one grid.
    """
    if not isinstance(site, shapely.Polygon | shapely.MultiPolygon) or not site.area > 0 or not site.is_valid:
        raise InputError("site: must be a valid polygon with an area")
    work = _start(sources, site)
    for edit in edits:
        if not work.surface and not isinstance(edit, Unpave):
            _warn_once(work, "surface", "Geen hoogtemodel (AHN dsm en dtm) gegeven: bomen en gebouwen zijn alleen in "
                       "de kaartvectoren verwerkt, het hoogtemodel (schaduw, kroonlaag) is niet aangepast")
        if isinstance(edit, Unpave):
            _unpave(work, edit)
        elif isinstance(edit, PlantTrees):
            _plant_trees(work, edit)
        elif isinstance(edit, AddBuilding):
            _add_building(work, edit)
        elif isinstance(edit, RemoveBuilding):
            _remove_building(work, edit)
        else:
            raise TypeError(f"{edit!r} is not an edit of geo.edits_model")
    _check(work)
    return _result(work, sources)


def _start(sources: Mapping[str, Any], site: Polygonal) -> _Work:
    frames = {n: sources[n].copy() for n in _VECTORS if sources.get(n) is not None}
    rasters = {n: replace(sources[n], data=sources[n].data.copy())
               for n in ("dsm", "dtm", VEGETATION_SOURCE) if sources.get(n) is not None}
    grids = list(rasters.items())
    for name, r in grids[1:]:
        if not r.same_grid(grids[0][1]):
            raise ValueError(f"edits: the {name} raster is on another grid than the {grids[0][0]}")
    crs = next((f.crs for f in frames.values() if f.crs is not None), None)
    crs = crs if crs is not None else next((r.crs for r in rasters.values()), RD_NEW)
    if "landcover" in frames:
        frames["landcover"][_EDIT_COL] = ""
    return _Work(site, site.buffer(SITE_TOLERANCE_M), crs, frames, rasters)


def _warn_once(work: _Work, key: str, text: str) -> None:
    if key not in work.warned:
        work.warned.add(key)
        work.warnings.append(text)


# ----------------------------------------------------------------------------------------------- geometry helpers
def _polygonal(geoms: Any) -> np.ndarray:
    """The polygonal part of each geometry (None where nothing above ``AREA_EPSILON_M2`` is left)."""
    out = np.empty(len(geoms), dtype=object)
    for i, g in enumerate(geoms):
        if g is not None and not g.is_empty and g.geom_type not in ("Polygon", "MultiPolygon"):
            parts = [p for p in shapely.get_parts(g) if p.geom_type in ("Polygon", "MultiPolygon")]
            g = shapely.union_all(parts) if parts else None
        out[i] = g if g is not None and not g.is_empty and g.area > AREA_EPSILON_M2 else None
    return out


def _inside(work: _Work, geom: Polygonal, path: str) -> Polygonal:
    """``geom`` clipped to the site; an error naming ``path`` when it reaches out of the site."""
    if not work.reach.covers(geom):
        outside = geom.difference(work.site).area
        raise InputError(f"{path}: lies outside the site ({outside:.1f} of {geom.area:.1f} m2 outside)")
    clipped = _polygonal([geom.intersection(work.site)])[0]
    if clipped is None:
        raise InputError(f"{path}: has no area inside the site")
    return clipped  # type: ignore[no-any-return]


def _cut(frame: gpd.GeoDataFrame, cutter: Polygonal, rows: np.ndarray | None = None
         ) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Split the rows of ``frame`` (all, or the positions ``rows``) by ``cutter``: (outside kept, inside pieces)."""
    hit = frame.sindex.query(cutter, predicate="intersects")
    hit = np.sort(hit if rows is None else np.intersect1d(hit, rows))
    if not len(hit):
        return frame, frame.iloc[:0]
    geoms = np.array(frame.geometry.values, dtype=object, copy=True)  # np.asarray would be the frame's own array
    part = shapely.make_valid(geoms[hit])
    inside, outside = _polygonal(shapely.intersection(part, cutter)), _polygonal(shapely.difference(part, cutter))
    some = np.array([g is not None for g in inside], dtype=bool)
    pieces = frame.iloc[hit[some]].copy()
    pieces[pieces.geometry.name] = gpd.GeoSeries(list(inside[some]), index=pieces.index, crs=frame.crs)
    geoms[hit] = outside
    kept = frame.copy()
    kept[kept.geometry.name] = gpd.GeoSeries(list(geoms), index=kept.index, crs=frame.crs)
    return kept[~kept.geometry.isna().to_numpy()], pieces


def _append(frame: gpd.GeoDataFrame, rows: list[dict[str, Any]]) -> gpd.GeoDataFrame:
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


def _empty(crs: Any, columns: Sequence[str]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({c: pd.Series(dtype=object) for c in columns}, geometry=gpd.GeoSeries([], crs=crs))


def _fresh_ids(frame: gpd.GeoDataFrame, prefix: str, n: int) -> list[str]:
    """``n`` ids ``<prefix>1``, ``<prefix>2``, ... that ``frame`` does not hold yet."""
    taken, out, k = set(frame["id"].astype(str)), list[str](), 0
    while len(out) < n:
        k += 1
        if f"{prefix}{k}" not in taken:
            out.append(f"{prefix}{k}")
    return out


def _footprints(work: _Work, near: shapely.Geometry) -> list[tuple[str, shapely.Geometry]]:
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


def _landcover_of(work: _Work, cls: str, near: shapely.Geometry) -> list[shapely.Geometry]:
    frame = work.frames.get("landcover")
    if frame is None or not len(frame):
        return []
    hit = np.sort(frame.sindex.query(near, predicate="intersects"))
    return list(frame.geometry.values[hit[frame["class"].to_numpy()[hit] == cls]])


# ------------------------------------------------------------------------------------------------ raster helpers
def _cells(geom: shapely.Geometry, like: Raster) -> np.ndarray:
    """Cells of ``like`` whose centre lies in ``geom`` (GDAL's rule, as the canopy and the land cover)."""
    return rasterize([(geom, 1)], out_shape=(like.height, like.width), transform=like.transform, fill=0,
                     dtype="uint8").astype(bool)


def _set_surface(work: _Work, cells: np.ndarray, height_m: float | None, e: Edit, *, raise_only: bool) -> None:
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


# ------------------------------------------------------------------------------------------------------ the edits
def _unpave(work: _Work, e: Unpave) -> None:
    lc = work.frames.get("landcover")
    if lc is None:
        raise InputError(f"{e.where}: there is no land cover in the inputs to unpave")
    area = work.site if e.geometry is None else _inside(work, e.geometry, f"{e.where}.geometry")
    paved = np.flatnonzero(lc["class"].isin(PAVED_CLASSES).to_numpy())
    kept, pieces = _cut(lc, area, paved)
    total = float(pieces.geometry.area.sum())
    if total <= AREA_EPSILON_M2:
        work.warnings.append(f"Bewerking {e.where}: er ligt geen verharding in het plangebied"
                             + ("" if e.geometry is None else " binnen het getekende vlak") + "; niets veranderd")
        return
    if e.share <= 0:
        return
    if e.share < 1:
        area = area.intersection(west_cut(np.asarray(pieces.geometry.values, dtype=object), e.share * total))
        kept, pieces = _cut(lc, area, paved)
    pieces["class"] = e.to
    pieces["source_class"] = f"{SCENARIO_CLASS_PREFIX}{e.op}"
    pieces[_EDIT_COL] = e.where
    if "function" in pieces.columns:
        pieces["function"] = None
    work.frames["landcover"] = gpd.GeoDataFrame(pd.concat([kept, pieces], ignore_index=True),
                                                geometry=lc.geometry.name, crs=lc.crs)
    for g in pieces.geometry:
        work.drawn["unpaved"].append({"edit": e.where, "class": e.to, "area_m2": g.area, "geometry": g})
        work.changed.append(g)
    work.summary["unpaved_m2"] += float(pieces.geometry.area.sum())


def _plant_trees(work: _Work, e: PlantTrees) -> None:
    if e.points is not None:
        xy = np.asarray(e.points, dtype=float).reshape(-1, 2)
        _check_points(work, e, xy)
    else:
        xy = _place(work, e)
    trees = work.frames.get("trees")
    if trees is None:
        trees = _empty(work.crs, ("id", "crown_diameter_m", "height_m", "species"))
    ids = _fresh_ids(trees, "scenario-", len(xy))
    points = shapely.points(xy)
    work.frames["trees"] = _append(trees, [{"id": i, "crown_diameter_m": e.crown_diameter_m, "height_m": e.height_m,
                                            "geometry": p} for i, p in zip(ids, points, strict=True)])
    discs = crown_discs(points, np.full(len(xy), e.crown_diameter_m))
    for i, disc in zip(ids, discs, strict=True):
        work.drawn["crowns"].append({"edit": e.where, "id": i, "crown_diameter_m": e.crown_diameter_m,
                                     "height_m": e.height_m, "geometry": disc})
        work.changed.append(disc)
    work.summary["trees_added"] += len(xy)
    if work.surface:
        dsm = work.rasters["dsm"]
        cells = burn_discs(xy[:, 0], xy[:, 1], np.full(len(xy), e.crown_diameter_m / 2), dsm.transform,
                           (dsm.height, dsm.width))
        _set_surface(work, cells, e.height_m, e, raise_only=True)


def _check_points(work: _Work, e: PlantTrees, xy: np.ndarray) -> None:
    shapely.prepare(work.reach)
    outside = ~shapely.intersects_xy(work.reach, xy[:, 0], xy[:, 1])
    if outside.any():
        i = int(np.flatnonzero(outside)[0])
        raise InputError(f"{e.where}.points[{i}]: ({xy[i, 0]:.2f}, {xy[i, 1]:.2f}) lies outside the site")
    for i, (x, y) in enumerate(xy):
        point = shapely.Point(x, y)
        for ident, _ in _footprints(work, point):
            raise InputError(f"{e.where}.points[{i}]: ({x:.2f}, {y:.2f}) lies inside building {ident}")
        if _landcover_of(work, "water", point):
            work.warnings.append(f"Bewerking {e.where}: boom {i + 1} ({x:.1f}, {y:.1f}) staat in water")


def _place(work: _Work, e: PlantTrees) -> np.ndarray:
    """``e.count`` trunk positions on open ground (``geo.edits_model.place_trees``): the whole crown in the site,
    off buildings and water, preferably not overlapping existing canopy (``geo.edits_checks.canopy_test``)."""
    d, count = e.crown_diameter_m, int(e.count or 0)
    room = work.site.buffer(-d / 2)
    blocked = [g for _, g in _footprints(work, work.reach)] + _landcover_of(work, "water", work.reach)
    if blocked and not room.is_empty:
        room = room.difference(shapely.union_all(blocked).buffer(d / 2))
    centre = work.site.centroid
    under = canopy_test(work.site, work.rasters if work.surface else {}, work.frames.get("trees"), d / 2)
    xy, shaded = place_trees(room, (centre.x, centre.y), d, count, under, f"{e.where}.count")
    if shaded:
        work.warnings.append(f"Er passen maar {count - shaded} van de {count} bomen op open grond buiten bestaande "
                             f"boomkronen in het plangebied; {shaded} staan onder bestaand bladerdak")
    return xy


def _add_building(work: _Work, e: AddBuilding) -> None:
    fp: Polygonal = _inside(work, e.geometry, f"{e.where}.geometry")
    existing = _footprints(work, fp)
    for ident, g in existing:
        overlap = fp.intersection(g).area
        if overlap > BUILDING_OVERLAP_TOLERANCE_M2:
            raise InputError(f"{e.where}.geometry: overlaps the existing building {ident} by {overlap:.1f} m2")
    if existing:
        fp = _polygonal([fp.difference(shapely.union_all([g for _, g in existing]))])[0]
        if fp is None:
            raise InputError(f"{e.where}.geometry: lies within existing buildings")
    buildings = work.frames.get("buildings")
    if buildings is None:
        buildings = _empty(work.crs, ("id", "status", "year", "height_m"))
    (ident,) = _fresh_ids(buildings, "scenario-building-", 1)
    work.frames["buildings"] = _append(buildings, [{"id": ident, "status": ADDED_BUILDING_STATUS,
                                                    "height_m": e.height_m, "geometry": fp}])
    work.new_buildings[ident] = (e.where, fp)
    _replace_ground(work, fp, "building", ident, e)
    trees = work.frames.get("trees")
    if trees is not None and len(trees):
        felled = np.zeros(len(trees), dtype=bool)
        felled[trees.sindex.query(fp, predicate="intersects")] = True
        for i in np.flatnonzero(felled):
            work.drawn["trees_removed"].append({"edit": e.where, "id": str(trees["id"].iloc[i]),
                                                "geometry": trees.geometry.iloc[i]})
        if felled.any():
            work.frames["trees"] = trees[~felled]
            work.summary["trees_removed"] += int(felled.sum())
            work.warnings.append(f"Bewerking {e.where}: {int(felled.sum())} bestaande bomen staan op de plek van het "
                                 "nieuwe gebouw en zijn verwijderd")
    work.drawn["buildings_added"].append({"edit": e.where, "id": ident, "height_m": e.height_m, "geometry": fp})
    work.changed.append(fp)
    work.summary["buildings_added"] += 1
    work.summary["building_area_added_m2"] += fp.area
    if work.surface:
        _set_surface(work, _cells(fp, work.rasters["dsm"]), e.height_m, e, raise_only=False)


def _remove_building(work: _Work, e: RemoveBuilding) -> None:
    buildings = work.frames.get("buildings")
    match = (buildings["id"].astype(str) == e.id).to_numpy() if buildings is not None else np.zeros(0, dtype=bool)
    if buildings is None or not match.any():
        raise InputError(f"{e.where}.id: there is no building {e.id!r} in the inputs of the site")
    fp = shapely.union_all(buildings.geometry.values[match])
    if not work.reach.covers(fp):
        raise InputError(f"{e.where}.id: building {e.id} lies partly outside the site "
                         f"({fp.difference(work.site).area:.1f} of {fp.area:.1f} m2 outside)")
    zone = [fp] + [g for g in _landcover_of(work, "building", fp)
                   if g.intersection(fp).area >= BGT_MATCH_SHARE * g.area]
    ground = _polygonal([shapely.union_all(zone).intersection(work.reach)])[0]
    work.frames["buildings"] = buildings[~match]
    work.new_buildings.pop(e.id, None)
    if ground is not None:
        _replace_ground(work, ground, e.to, e.id, e)
    addresses = work.frames.get("addresses")
    if addresses is not None:
        gone = (addresses["building_id"].astype(str) == e.id).to_numpy()
        work.frames["addresses"] = addresses[~gone]
        work.summary["addresses_removed"] += int(gone.sum())
    work.drawn["buildings_removed"].append({"edit": e.where, "id": e.id, "geometry": fp})
    work.changed.append(fp if ground is None else ground)
    work.summary["buildings_removed"] += 1
    work.summary["building_area_removed_m2"] += fp.area
    if work.surface and ground is not None:
        cells = _cells(ground, work.rasters["dsm"])
        _fill_terrain(work, cells, e)
        _set_surface(work, cells, None, e, raise_only=False)


def _fill_terrain(work: _Work, cells: np.ndarray, e: Edit) -> None:
    """Fill DTM holes in ``cells`` (AHN's unfilled DTM has none under buildings) from the ring around them.

    The fill is the median of the known DTM cells within ``TERRAIN_RING_M`` outside ``cells``; without any,
    the holes stay (``_set_surface`` then leaves the DSM there and warns).
    """
    dtm = work.rasters["dtm"]
    holes = cells & ~known_cells(dtm)
    if not holes.any():
        return
    ring = ndimage.binary_dilation(cells, iterations=math.ceil(TERRAIN_RING_M / dtm.resolution[0])) & ~cells
    around = dtm.data[0][ring & known_cells(dtm)]
    if len(around):
        dtm.data[0][holes] = np.median(around)


def _replace_ground(work: _Work, geom: Polygonal, cls: str, source_id: str, e: Edit) -> None:
    """Land cover: ``geom`` cut out of every polygon and added as one piece of ``cls``."""
    lc = work.frames.get("landcover")
    if lc is None:
        _warn_once(work, "landcover", "Geen bodembedekking (landcover) gegeven: de gebouwen zijn daar niet in "
                   "verwerkt")
        return
    kept, _ = _cut(lc, geom)
    work.frames["landcover"] = _append(kept, [{"class": cls, "source_class": f"{SCENARIO_CLASS_PREFIX}{e.op}",
                                               "source_id": source_id, _EDIT_COL: e.where, "geometry": geom}])


# ------------------------------------------------------------------------------------------------ checks, result
def _check(work: _Work) -> None:
    """Validate the edited frames and their consistency (module docstring of ``geo.edits``); InputError if not."""
    for name, frame in work.frames.items():
        try:
            validate_canonical(name, frame.drop(columns=[_EDIT_COL], errors="ignore"), "edits")
        except SourceError as exc:
            raise InputError(f"edits: the edited {name} is not valid: {exc.problem}") from None
    lc = work.frames.get("landcover")
    for ident, (where, fp) in work.new_buildings.items():
        if lc is not None:
            cover = shapely.union_all(_landcover_of(work, "building", fp))
            missing = fp.difference(cover).area
            if missing > LANDCOVER_OVERLAP_TOLERANCE_M2:
                raise InputError(f"{where}: {missing:.2f} m2 of the footprint of {ident} is not building land cover")
        if work.surface:
            dsm, dtm = work.rasters["dsm"], work.rasters["dtm"]
            cells = _cells(fp, dsm) & known_cells(dtm) & known_cells(dsm)
            rise = work.rasters["dsm"].data[0][cells] - work.rasters["dtm"].data[0][cells]
            if len(rise) and rise.min() < MIN_BUILDING_HEIGHT_M - HEIGHT_TOLERANCE_M:
                raise InputError(f"{where}: the DSM in the footprint of {ident} is only {rise.min():.2f} m above "
                                 f"the terrain (at least {MIN_BUILDING_HEIGHT_M:g} m)")
    if lc is not None and len(lc):
        # Unpaved pieces are parts of input polygons and cannot add overlaps; inserted ground pieces can.
        inserted = lc["source_class"].isin([f"{SCENARIO_CLASS_PREFIX}{op}" for op in (AddBuilding.op,
                                                                                      RemoveBuilding.op)])
        check_overlaps(lc, np.flatnonzero(inserted.to_numpy() & (lc[_EDIT_COL].to_numpy() != "")),
                       lc[_EDIT_COL].to_numpy(), LANDCOVER_OVERLAP_TOLERANCE_M2)


def _result(work: _Work, sources: Mapping[str, Any]) -> EditResult:
    out = dict(sources)
    out.update(work.frames)
    out.update(work.rasters)
    if "landcover" in work.frames:
        out["landcover"] = work.frames["landcover"].drop(columns=[_EDIT_COL]).reset_index(drop=True)
    for name in ("buildings", "trees", "addresses"):
        if name in work.frames:
            out[name] = work.frames[name].reset_index(drop=True)
    crowns = [r["geometry"] for r in work.drawn["crowns"]]
    work.summary["crown_area_added_m2"] = float(shapely.union_all(crowns).area) if crowns else 0.0
    bounds = tuple(map(float, shapely.total_bounds(np.asarray(work.changed, dtype=object)))) if work.changed else None
    drawn = {k: gpd.GeoDataFrame(pd.DataFrame(rows, columns=[*cols, "geometry"]), geometry="geometry", crs=work.crs)
             for (k, rows), cols in zip(work.drawn.items(), _DRAWN_COLUMNS.values(), strict=True)}
    return EditResult(
        sources=out,
        changed_bounds=bounds,  # type: ignore[arg-type]
        summary={k: (round(float(v), 3) if isinstance(v, float) else int(v)) for k, v in work.summary.items()},
        warnings=work.warnings,
        drawn=drawn,
    )
