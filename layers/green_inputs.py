"""Input preparation shared by the ``green-paved`` and ``tree-3-30-300`` layers.

Both layers clip neighbourhoods to the region, keep only trees inside the
region (counting the rest for the build log) and give trees without a crown
diameter the default one.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from layers.base import Param, Region
from layers.landcover import clip_to_region

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


def region_area(region: Region) -> shapely.Geometry:
    """The region polygon: its boundary, or the rectangle of its bounds."""
    return region.boundary if region.boundary is not None else shapely.box(*region.bounds)


def zones(neighbourhoods: gpd.GeoDataFrame, region: Region, counts: Counter[str]) -> gpd.GeoDataFrame:
    """Neighbourhoods (``code``, ``name``) clipped to the region; clipped ones are counted.

    A permit site or a partial extract covers only part of a buurt: its figures
    are then those of the part inside the region (``neighbourhoods_clipped``).
    """
    before = neighbourhoods.geometry.area.to_numpy()
    clipped = clip_to_region(neighbourhoods, region)
    counts["neighbourhoods"] += len(clipped)
    counts["neighbourhoods_outside_region"] += len(neighbourhoods) - len(clipped)
    after = clipped.geometry.area.to_numpy()
    was = pd.Series(before, index=neighbourhoods.index).loc[clipped.index].to_numpy()
    counts["neighbourhoods_clipped"] += int((after < was * (1 - 1e-9)).sum())
    frame = clipped[["code", "name", clipped.geometry.name]].copy()
    frame["code"] = frame["code"].astype("string")
    frame["name"] = frame["name"].astype("string")
    return frame.reset_index(drop=True)


def trees_in_region(
    trees: gpd.GeoDataFrame, region: Region, default_crown_m: float, counts: Counter[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Tree points inside the region and their crown diameters (m).

    Trees outside the region are ignored and counted (``trees_outside_region``);
    a missing or non-positive crown diameter takes ``default_crown_m``
    (``trees_default_crown``). Multi-point features count once per point.

    Returns:
        ``(points, crown_diameter_m)``.
    """
    points, owner = shapely.get_parts(trees.geometry.values, return_index=True)
    given = trees["crown_diameter_m"] if "crown_diameter_m" in trees.columns else pd.Series(np.nan, index=trees.index)
    crown = pd.to_numeric(pd.Series(given.to_numpy()[owner]), errors="coerce")
    crown = np.asarray(crown, dtype=float)
    area = region_area(region)
    shapely.prepare(area)
    inside = shapely.intersects(area, points)
    counts["trees"] += int(inside.sum())
    counts["trees_outside_region"] += int((~inside).sum())
    points, crown = points[inside], crown[inside]
    missing = ~(crown > 0)
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
