"""What-if edits applied to the canonical inputs of a site (``apply_edits``; the rules: docs/scenarios.md).

Pure: canonical sources in the region CRS (RD New, metres) in, edited copies out; no layer or HTTP
knowledge. ``landcover``, ``buildings``, ``trees`` and ``addresses`` are GeoDataFrames; ``dsm``, ``dtm``
and ``vegetation`` are ``geo.raster.Raster`` (metres NAP, one grid). The edits (``geo.edits_model``) run
in order, each on the result of the one before: ``unpave`` turns paving into green, ``plant_trees`` adds
register trees with flat-topped crowns in the DSM and the vegetation raster (so ``geo.canopy`` sees them),
``add_building`` and ``remove_building`` change footprints, land cover, DSM, vegetation and addresses
together. A cell belongs to a crown or a footprint when its centre lies inside (GDAL's rule, as
everywhere). The result is validated like a source and checked for consistency (:func:`_check`). The
working copies and their helpers are ``geo.edits_work``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy import ndimage

from geo.canonical import validate_canonical
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
from geo.edits_work import (
    DRAWN_COLUMNS,
    EDIT_COL,
    Work,
    append_rows,
    cells_in,
    cut,
    empty_frame,
    footprints,
    fresh_ids,
    inside_site,
    landcover_of,
    polygonal,
    set_surface,
    start_work,
    warn_once,
)
from geo.errors import InputError, SourceError
from geo.fractions import AREA_EPSILON_M2, SURFACE_GROUPS, burn_discs, crown_discs
from geo.raster import known_cells

__all__ = ["AddBuilding", "Edit", "EditResult", "PlantTrees", "RemoveBuilding", "Unpave", "apply_edits",
           "parse_edits"]

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


def apply_edits(edits: Sequence[Edit], sources: Mapping[str, Any], site: Polygonal) -> EditResult:
    """Apply ``edits`` in order to copies of ``sources`` (see the module docstring; inputs are not changed).

    Args:
        edits: parsed edits (``parse_edits``).
        sources: canonical sources in the region CRS (m); any of the vector and raster sources may be absent.
        site: the site polygon (region CRS); every edit must lie inside it (to ``geo.edits_work.SITE_TOLERANCE_M``).

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
    work = start_work(sources, site)
    for edit in edits:
        if not work.surface and not isinstance(edit, Unpave):
            warn_once(work, "surface", "Geen hoogtemodel (AHN dsm en dtm) gegeven: bomen en gebouwen zijn alleen in "
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


# ------------------------------------------------------------------------------------------------------ the edits
def _unpave(work: Work, e: Unpave) -> None:
    lc = work.frames.get("landcover")
    if lc is None:
        raise InputError(f"{e.where}: there is no land cover in the inputs to unpave")
    area = work.site if e.geometry is None else inside_site(work, e.geometry, f"{e.where}.geometry")
    paved = np.flatnonzero(lc["class"].isin(PAVED_CLASSES).to_numpy())
    kept, pieces = cut(lc, area, paved)
    total = float(pieces.geometry.area.sum())
    if total <= AREA_EPSILON_M2:
        work.warnings.append(f"Bewerking {e.where}: er ligt geen verharding in het plangebied"
                             + ("" if e.geometry is None else " binnen het getekende vlak") + "; niets veranderd")
        return
    if e.share <= 0:
        return
    if e.share < 1:
        area = area.intersection(west_cut(np.asarray(pieces.geometry.values, dtype=object), e.share * total))
        kept, pieces = cut(lc, area, paved)
    pieces["class"] = e.to
    pieces["source_class"] = f"{SCENARIO_CLASS_PREFIX}{e.op}"
    pieces[EDIT_COL] = e.where
    if "function" in pieces.columns:
        pieces["function"] = None
    work.frames["landcover"] = gpd.GeoDataFrame(pd.concat([kept, pieces], ignore_index=True),
                                                geometry=lc.geometry.name, crs=lc.crs)
    for g in pieces.geometry:
        work.drawn["unpaved"].append({"edit": e.where, "class": e.to, "area_m2": g.area, "geometry": g})
        work.changed.append(g)
    work.summary["unpaved_m2"] += float(pieces.geometry.area.sum())


def _plant_trees(work: Work, e: PlantTrees) -> None:
    if e.points is not None:
        xy = np.asarray(e.points, dtype=float).reshape(-1, 2)
        _check_points(work, e, xy)
    else:
        xy = _place(work, e)
    trees = work.frames.get("trees")
    if trees is None:
        trees = empty_frame(work.crs, ("id", "crown_diameter_m", "height_m", "species"))
    ids = fresh_ids(trees, "scenario-", len(xy))
    points = shapely.points(xy)
    work.frames["trees"] = append_rows(trees, [{"id": i, "crown_diameter_m": e.crown_diameter_m, "height_m": e.height_m,
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
        set_surface(work, cells, e.height_m, e, raise_only=True)


def _check_points(work: Work, e: PlantTrees, xy: np.ndarray) -> None:
    shapely.prepare(work.reach)
    outside = ~shapely.intersects_xy(work.reach, xy[:, 0], xy[:, 1])
    if outside.any():
        i = int(np.flatnonzero(outside)[0])
        raise InputError(f"{e.where}.points[{i}]: ({xy[i, 0]:.2f}, {xy[i, 1]:.2f}) lies outside the site")
    for i, (x, y) in enumerate(xy):
        point = shapely.Point(x, y)
        for ident, _ in footprints(work, point):
            raise InputError(f"{e.where}.points[{i}]: ({x:.2f}, {y:.2f}) lies inside building {ident}")
        if landcover_of(work, "water", point):
            work.warnings.append(f"Bewerking {e.where}: boom {i + 1} ({x:.1f}, {y:.1f}) staat in water")


def _place(work: Work, e: PlantTrees) -> np.ndarray:
    """``e.count`` trunk positions on open ground (``geo.edits_model.place_trees``): the whole crown in the site,
    off buildings and water, preferably not overlapping existing canopy (``geo.edits_checks.canopy_test``)."""
    d, count = e.crown_diameter_m, int(e.count or 0)
    room = work.site.buffer(-d / 2)
    blocked = [g for _, g in footprints(work, work.reach)] + landcover_of(work, "water", work.reach)
    if blocked and not room.is_empty:
        room = room.difference(shapely.union_all(blocked).buffer(d / 2))
    centre = work.site.centroid
    under = canopy_test(work.site, work.rasters if work.surface else {}, work.frames.get("trees"), d / 2)
    xy, shaded = place_trees(room, (centre.x, centre.y), d, count, under, f"{e.where}.count")
    if shaded:
        work.warnings.append(f"Er passen maar {count - shaded} van de {count} bomen op open grond buiten bestaande "
                             f"boomkronen in het plangebied; {shaded} staan onder bestaand bladerdak")
    return xy


def _add_building(work: Work, e: AddBuilding) -> None:
    fp: Polygonal = inside_site(work, e.geometry, f"{e.where}.geometry")
    existing = footprints(work, fp)
    for ident, g in existing:
        overlap = fp.intersection(g).area
        if overlap > BUILDING_OVERLAP_TOLERANCE_M2:
            raise InputError(f"{e.where}.geometry: overlaps the existing building {ident} by {overlap:.1f} m2")
    if existing:
        fp = polygonal([fp.difference(shapely.union_all([g for _, g in existing]))])[0]
        if fp is None:
            raise InputError(f"{e.where}.geometry: lies within existing buildings")
    buildings = work.frames.get("buildings")
    if buildings is None:
        buildings = empty_frame(work.crs, ("id", "status", "year", "height_m"))
    (ident,) = fresh_ids(buildings, "scenario-building-", 1)
    work.frames["buildings"] = append_rows(buildings, [{"id": ident, "status": ADDED_BUILDING_STATUS,
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
        set_surface(work, cells_in(fp, work.rasters["dsm"]), e.height_m, e, raise_only=False)


def _remove_building(work: Work, e: RemoveBuilding) -> None:
    buildings = work.frames.get("buildings")
    match = (buildings["id"].astype(str) == e.id).to_numpy() if buildings is not None else np.zeros(0, dtype=bool)
    if buildings is None or not match.any():
        raise InputError(f"{e.where}.id: there is no building {e.id!r} in the inputs of the site")
    fp = shapely.union_all(buildings.geometry.values[match])
    if not work.reach.covers(fp):
        raise InputError(f"{e.where}.id: building {e.id} lies partly outside the site "
                         f"({fp.difference(work.site).area:.1f} of {fp.area:.1f} m2 outside)")
    zone = [fp] + [g for g in landcover_of(work, "building", fp)
                   if g.intersection(fp).area >= BGT_MATCH_SHARE * g.area]
    ground = polygonal([shapely.union_all(zone).intersection(work.reach)])[0]
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
        cells = cells_in(ground, work.rasters["dsm"])
        _fill_terrain(work, cells, e)
        set_surface(work, cells, None, e, raise_only=False)


def _fill_terrain(work: Work, cells: np.ndarray, e: Edit) -> None:
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


def _replace_ground(work: Work, geom: Polygonal, cls: str, source_id: str, e: Edit) -> None:
    """Land cover: ``geom`` cut out of every polygon and added as one piece of ``cls``."""
    lc = work.frames.get("landcover")
    if lc is None:
        warn_once(work, "landcover", "Geen bodembedekking (landcover) gegeven: de gebouwen zijn daar niet in "
                   "verwerkt")
        return
    kept, _ = cut(lc, geom)
    work.frames["landcover"] = append_rows(kept, [{"class": cls, "source_class": f"{SCENARIO_CLASS_PREFIX}{e.op}",
                                               "source_id": source_id, EDIT_COL: e.where, "geometry": geom}])


# ------------------------------------------------------------------------------------------------ checks, result
def _check(work: Work) -> None:
    """Validate the edited frames and their consistency (module docstring of ``geo.edits``); InputError if not."""
    for name, frame in work.frames.items():
        try:
            validate_canonical(name, frame.drop(columns=[EDIT_COL], errors="ignore"), "edits")
        except SourceError as exc:
            raise InputError(f"edits: the edited {name} is not valid: {exc.problem}") from None
    lc = work.frames.get("landcover")
    for ident, (where, fp) in work.new_buildings.items():
        if lc is not None:
            cover = shapely.union_all(landcover_of(work, "building", fp))
            missing = fp.difference(cover).area
            if missing > LANDCOVER_OVERLAP_TOLERANCE_M2:
                raise InputError(f"{where}: {missing:.2f} m2 of the footprint of {ident} is not building land cover")
        if work.surface:
            dsm, dtm = work.rasters["dsm"], work.rasters["dtm"]
            cells = cells_in(fp, dsm) & known_cells(dtm) & known_cells(dsm)
            rise = work.rasters["dsm"].data[0][cells] - work.rasters["dtm"].data[0][cells]
            if len(rise) and rise.min() < MIN_BUILDING_HEIGHT_M - HEIGHT_TOLERANCE_M:
                raise InputError(f"{where}: the DSM in the footprint of {ident} is only {rise.min():.2f} m above "
                                 f"the terrain (at least {MIN_BUILDING_HEIGHT_M:g} m)")
    if lc is not None and len(lc):
        # Unpaved pieces are parts of input polygons and cannot add overlaps; inserted ground pieces can.
        inserted = lc["source_class"].isin([f"{SCENARIO_CLASS_PREFIX}{op}" for op in (AddBuilding.op,
                                                                                      RemoveBuilding.op)])
        check_overlaps(lc, np.flatnonzero(inserted.to_numpy() & (lc[EDIT_COL].to_numpy() != "")),
                       lc[EDIT_COL].to_numpy(), LANDCOVER_OVERLAP_TOLERANCE_M2)


def _result(work: Work, sources: Mapping[str, Any]) -> EditResult:
    out = dict(sources)
    out.update(work.frames)
    out.update(work.rasters)
    if "landcover" in work.frames:
        out["landcover"] = work.frames["landcover"].drop(columns=[EDIT_COL]).reset_index(drop=True)
    for name in ("buildings", "trees", "addresses"):
        if name in work.frames:
            out[name] = work.frames[name].reset_index(drop=True)
    crowns = [r["geometry"] for r in work.drawn["crowns"]]
    work.summary["crown_area_added_m2"] = float(shapely.union_all(crowns).area) if crowns else 0.0
    bounds = tuple(map(float, shapely.total_bounds(np.asarray(work.changed, dtype=object)))) if work.changed else None
    drawn = {k: gpd.GeoDataFrame(pd.DataFrame(rows, columns=[*cols, "geometry"]), geometry="geometry", crs=work.crs)
             for (k, rows), cols in zip(work.drawn.items(), DRAWN_COLUMNS.values(), strict=True)}
    return EditResult(
        sources=out,
        changed_bounds=bounds,  # type: ignore[arg-type]
        summary={k: (round(float(v), 3) if isinstance(v, float) else int(v)) for k, v in work.summary.items()},
        warnings=work.warnings,
        drawn=drawn,
    )
