"""Checks of the scenario edits (``geo.edits``): where planted crowns meet existing canopy, overlapping pieces."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy import ndimage

from geo.canopy import CANOPY_MIN_HEIGHT_M
from geo.edits_model import DEFAULT_CROWN_DIAMETER_M, Polygonal
from geo.errors import InputError
from geo.fractions import crown_discs
from geo.raster import Raster, crop, known_cells


def canopy_test(site: Polygonal, rasters: Mapping[str, Raster], trees: gpd.GeoDataFrame | None,
                radius_m: float) -> Callable[[np.ndarray], np.ndarray]:
    """For (k, 2) trunk positions: True where a crown of ``radius_m`` would overlap existing canopy.

    Existing canopy: cells with DSM - DTM >= 2.5 m (``geo.canopy.CANOPY_MIN_HEIGHT_M``; buildings and water are
    excluded from the positions anyway) and the crowns of the register trees (their ``crown_diameter_m``, else
    ``DEFAULT_CROWN_DIAMETER_M``), trees of earlier edits included.
    """
    near = None
    if "dsm" in rasters and "dtm" in rasters:
        # Only the site and a crown radius around it matter: the snapshot may reach kilometres further.
        minx, miny, maxx, maxy = site.bounds
        window = (minx - 2 * radius_m, miny - 2 * radius_m, maxx + 2 * radius_m, maxy + 2 * radius_m)
        dsm, dtm = crop(rasters["dsm"], window), crop(rasters["dtm"], window)
        with np.errstate(invalid="ignore"):
            high = known_cells(dsm) & known_cells(dtm) & (dsm.data[0] - dtm.data[0] >= CANOPY_MIN_HEIGHT_M)
        if high.any():
            near = ndimage.distance_transform_edt(~high) * dsm.resolution[0] < radius_m
    crowns = None
    if trees is not None and len(trees):
        given = trees["crown_diameter_m"] if "crown_diameter_m" in trees.columns else pd.Series(np.nan, trees.index)
        given = pd.to_numeric(given, errors="coerce").astype("Float64").to_numpy(dtype=float, na_value=np.nan)
        diameter = np.where(given > 0, given, DEFAULT_CROWN_DIAMETER_M)
        points, owner = shapely.get_parts(trees.geometry.values, return_index=True)
        crowns = shapely.union_all(crown_discs(points, diameter[owner] + 2 * radius_m))
        shapely.prepare(crowns)

    def under(xy: np.ndarray) -> np.ndarray:
        out = np.zeros(len(xy), dtype=bool)
        if crowns is not None and len(xy):
            out |= shapely.contains_xy(crowns, xy[:, 0], xy[:, 1])
        if near is not None and len(xy):
            t, res = dsm.transform, dsm.resolution[0]
            c = np.floor((xy[:, 0] - t.c) / res).astype(np.int64)
            r = np.floor((t.f - xy[:, 1]) / res).astype(np.int64)
            on = (r >= 0) & (r < near.shape[0]) & (c >= 0) & (c < near.shape[1])
            out[on] |= near[r[on], c[on]]
        return out

    return under


def check_overlaps(landcover: gpd.GeoDataFrame, edited: np.ndarray, labels: np.ndarray, tolerance_m2: float) -> None:
    """Refuse land-cover pieces an edit inserted that overlap other pieces by more than ``tolerance_m2``.

    Args:
        landcover: the edited land cover.
        edited: row positions of the inserted pieces.
        labels: per row, the edit that made it (``edits[2]``), for the message.
        tolerance_m2: overlap allowed (m2): rounding noise of the overlay.

    Raises:
        InputError: naming the edit and the land-cover piece it overlaps.
    """
    geoms = landcover.geometry.values
    own, other = landcover.sindex.query(geoms[edited], predicate="intersects")
    own = edited[own]
    pair = own != other
    own, other = own[pair], other[pair]
    area = shapely.area(shapely.intersection(geoms[own], geoms[other]))
    if len(area) and area.max() > tolerance_m2:
        k = int(np.argmax(area))
        raise InputError(f"{labels[own[k]]}: its land cover overlaps "
                         f"{landcover['source_id'].iloc[other[k]]} by {area[k]:.2f} m2")
