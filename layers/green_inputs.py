"""Input preparation shared by the ``green-paved`` and ``tree-3-30-300`` layers (and the canopy for others).

Both layers report on the run's zones (:func:`zone_table`), keep only trees
within their reach of the extent (counting the rest for the build log) and give trees without a crown
diameter one: from the AHN canopy around the trunk when AHN is given
(``geo.canopy.crown_diameters``), else the default. :func:`ahn_canopy` is the
one way a layer gets the canopy raster (docs/method-canopy.md): from the
``dsm``, ``dtm`` and, in LAZ mode, ``vegetation`` sources, with buildings
(BGT ``building`` land cover and the ``buildings`` footprints) and water
masked.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.ahn_vegetation import VEGETATION_SOURCE
from geo.canopy import (
    CANOPY_MIN_HEIGHT_M,
    CANOPY_MIN_HEIGHT_SOURCE,
    CROWN_SEARCH_RADIUS_M,
    canopy_mask,
    canopy_raster,
    crown_diameters,
)
from geo.errors import LayerError
from geo.fractions import burn_discs
from geo.raster import Raster
from geo.surface_proxy import SURFACE_PROXY_SOURCE
from layers.base import LayerInputs, Param

#: Crown diameter given to trees without one; a parameter of both layers, declared once so they agree.
DEFAULT_CROWN_DIAMETER_PARAM = Param(
    "default_crown_diameter_m",
    6.0,
    "m",
    "crown diameter of trees whose register gives none",
    "typical crown of a young-to-mid-age street tree (Dutch tree registers, size class 4-6 m)",
    minimum=0.5,
    maximum=40.0,
)


#: Lowest canopy height above the terrain; a parameter of every layer that uses the AHN canopy.
CANOPY_MIN_HEIGHT_PARAM = Param(
    "canopy_min_height_m",
    CANOPY_MIN_HEIGHT_M,
    "m",
    "AHN canopy: cells at least this high above the terrain (and not building, not water) are tree canopy",
    CANOPY_MIN_HEIGHT_SOURCE,
    minimum=0.5,
    maximum=10.0,
)
#: Farthest a crown cell may lie from its tree when crowns come from the canopy.
CROWN_SEARCH_PARAM = Param(
    "crown_search_radius_m",
    CROWN_SEARCH_RADIUS_M,
    "m",
    "AHN canopy: a tree without a crown size takes the canopy of its patch within this radius (Voronoi-split "
    "with neighbouring trees); caps the crown diameter at twice this",
    "project choice: a crown of up to 24 m across covers all but monumental trees",
    minimum=1.0,
    maximum=30.0,
)
#: Sources the AHN canopy is made of (``vegetation`` only in LAZ mode).
CANOPY_SOURCES: tuple[str, ...] = ("dsm", "dtm", VEGETATION_SOURCE)


def ahn_canopy(inputs: LayerInputs, min_height_m: float, notes: list[str]) -> Raster | None:
    """The AHN canopy raster of the inputs (``geo.canopy.canopy_raster``), or None without a DSM and DTM.

    Buildings are the ``building`` land cover and the ``buildings`` footprints (either may be
    absent), water the ``water`` land cover. Heat-stress windows call it with their window's
    sources, so it only reads what ``inputs`` holds.

    Raises:
        LayerError: the DTM or vegetation raster is on another grid than the DSM.
    """
    if "dsm" not in inputs.sources or "dtm" not in inputs.sources:
        notes.append("no AHN dsm + dtm: canopy from the tree register's crowns only")
        return None
    if inputs.providers.get("dsm") == SURFACE_PROXY_SOURCE:
        # The proxy's crowns are the register's trees and the BGT woods: reading them back as "AHN canopy"
        # would find tree tops on its flat wood plateaus and count the register twice.
        notes.append("dsm and dtm from the surface proxy, not AHN: canopy from the tree register's crowns only")
        return None
    blocks = []
    water = None
    if "landcover" in inputs.sources:
        lc = inputs.vector("landcover")
        cls = lc["class"].to_numpy()
        blocks.append(lc.geometry.values[cls == "building"])
        water = lc.geometry.values[cls == "water"]
    if "buildings" in inputs.sources:
        blocks.append(inputs.vector("buildings").geometry.values)
    vegetation = inputs.sources.get(VEGETATION_SOURCE)
    try:
        canopy = canopy_raster(
            inputs.raster("dsm"),
            inputs.raster("dtm"),
            np.concatenate(blocks) if blocks else None,
            water,
            min_height_m=min_height_m,
            vegetation=vegetation,
        )
    except ValueError as exc:
        raise LayerError(str(exc)) from None
    known = np.isfinite(canopy.data[0])
    notes.append(
        f"canopy from AHN (DSM - DTM >= {min_height_m:g} m, buildings and water masked"
        + (", vegetation points of the point cloud" if vegetation is not None else ", no point classes (raster AHN)")
        + f"); {100 * known.mean():.1f} % of the AHN grid known"
    )
    return canopy


def zone_table(inputs: LayerInputs, counts: Counter[str], layer_id: str) -> gpd.GeoDataFrame:
    """The zones a layer reports on (``code``, ``name`` as strings, index 0..n-1), counted in the log.

    Raises:
        LayerError: the run gave no zones (no ``neighbourhoods`` source and no site).
    """
    if inputs.zones is None:
        raise LayerError(f"{layer_id}: needs zones (the neighbourhoods source, or a site and its buffer)")
    frame = inputs.zones[["code", "name", inputs.zones.geometry.name]].copy()
    frame["code"] = frame["code"].astype("string")
    frame["name"] = frame["name"].astype("string")
    counts["zones"] += len(frame)
    return frame.reset_index(drop=True)


def trees_within(
    trees: gpd.GeoDataFrame,
    area: shapely.Geometry,
    default_crown_m: float,
    counts: Counter[str],
    canopy: Raster | None = None,
    search_radius_m: float = CROWN_SEARCH_RADIUS_M,
) -> tuple[np.ndarray, np.ndarray]:
    """Tree points inside ``area`` (the extent grown by the layer's reach of trees) and their crown diameters (m).

    Trees outside ``area`` are ignored and counted (``trees_beyond_reach``);
    a missing or non-positive crown diameter is taken from the ``canopy`` around
    the trunk when given (``geo.canopy.crown_diameters``: its patch within
    ``search_radius_m``, equivalent-circle diameter; ``trees_crown_from_canopy``),
    else, or where the canopy holds no crown there, ``default_crown_m``
    (``trees_default_crown``). Multi-point features count once per point.

    Returns:
        ``(points, crown_diameter_m)``.
    """
    points, owner = shapely.get_parts(trees.geometry.values, return_index=True)
    given = trees["crown_diameter_m"] if "crown_diameter_m" in trees.columns else pd.Series(np.nan, index=trees.index)
    crown = pd.to_numeric(pd.Series(given.to_numpy()[owner]), errors="coerce")
    crown = np.asarray(crown, dtype=float)
    shapely.prepare(area)
    inside = shapely.intersects(area, points)
    counts["trees"] += int(inside.sum())
    counts["trees_beyond_reach"] += int((~inside).sum())
    points, crown = points[inside], crown[inside]
    missing = ~(crown > 0)
    if canopy is not None and missing.any():
        xy = shapely.get_coordinates(points).reshape(-1, 2)
        # Every register tree takes part in the Voronoi split, so neighbours share a crown patch.
        from_canopy = crown_diameters(canopy, xy, search_radius_m=search_radius_m)
        got = missing & np.isfinite(from_canopy)
        crown = np.where(got, from_canopy, crown)
        counts["trees_crown_from_canopy"] += int(got.sum())
        missing &= ~got
    counts["trees_default_crown"] += int(missing.sum())
    crown = np.where(missing, default_crown_m, crown)
    return points, crown


class Laps:
    """Wall-clock seconds of a computation's steps, for the layer metadata (``timings_s``)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._clock = time.perf_counter()

    def __call__(self, step: str) -> None:
        """Record the time since the previous step under ``step``."""
        now = time.perf_counter()
        self.seconds[step] = round(now - self._clock, 3)
        self._clock = now


def log_metadata(counts: Counter[str], notes: list[str]) -> dict[str, Any]:
    """The build-log part of a layer's metadata: counts and notes."""
    return {"log": {"counts": {k: int(v) for k, v in sorted(counts.items())}, "notes": list(notes)}}


def percent(part: np.ndarray | pd.Series, whole: np.ndarray | pd.Series, decimals: int = 2) -> np.ndarray:
    """``part / whole * 100`` rounded; NaN where ``whole`` is 0."""
    part = np.asarray(part, dtype=float)
    whole = np.asarray(whole, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(whole > 0, part / whole * 100.0, np.nan)
    return np.round(out, decimals)


def canopy_with_crowns(canopy: Raster, points: np.ndarray, crown_m: np.ndarray) -> np.ndarray:
    """Canopy cells of the AHN canopy, with the register's crown discs burnt in where AHN is unknown (bool grid).

    Where the AHN grid has a hole (NaN) the register is the only knowledge of trees
    there, so the canopy there is the union of the crown discs (cell-centre rule).
    """
    under = canopy_mask(canopy)
    unknown = ~np.isfinite(canopy.data[0])
    if unknown.any() and len(points):
        xy = shapely.get_coordinates(np.asarray(points, dtype=object)).reshape(-1, 2)
        discs = burn_discs(xy[:, 0], xy[:, 1], np.asarray(crown_m) / 2, canopy.transform, under.shape)
        under = under | (unknown & discs)
    return under
