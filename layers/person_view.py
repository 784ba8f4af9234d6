"""The view of a person on the ground for the shade layers (``heat-stress``, ``cool-places``).

With a DTM besides the DSM, shade and sky view factor are those of a person
``observer_height_m`` above the terrain (``geo.ground_view``): buildings are
solid, tree crowns (``geo.canopy``: DSM - DTM of at least
``canopy_min_height_m``, not a building, not water) let ``crown_transmissivity``
of the light through, and the ground under a crown is shaded. Building
footprints are roofs: no street value, left out of neighbourhood figures.

Without a DTM the layers fall back to the surface view of the DSM (``geo.shadow``
and ``geo.svf`` from the top of every cell) and say so in their metadata
(:data:`SURFACE_VIEW_NOTE`).

Buildings and water come from the land cover (classes ``building`` and
``water``), the same polygons the layers already read; where a layer also
reads the ``buildings`` footprints and, in LAZ mode, the ``vegetation`` points
(``geo.ahn_vegetation``), :func:`grid_canopy` masks those footprints and keeps
only cells with vegetation points, as ``layers.green_inputs.ahn_canopy`` does.
A layer that needs the canopy over a larger grid than the kernels' (``heat-stress``
for F_veg) computes it once with :func:`grid_canopy` and hands the crop to
:func:`person_view`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import shapely

from geo.ahn_vegetation import VEGETATION_SOURCE
from geo.canopy import canopy_mask, canopy_raster
from geo.errors import LayerError
from geo.grid import Grid
from geo.ground_view import (
    CROWN_TRANSMISSIVITY,
    OBSERVER_HEIGHT_M,
    TRUNK_RATIO,
    GroundView,
    ground_view_raster,
)
from geo.heat import dsm_on_grid
from geo.raster import Raster
from geo.rasterize import polygon_index
from geo.solar import SunPosition
from layers.base import LayerInputs, Param
from layers.green_inputs import CANOPY_MIN_HEIGHT_PARAM

SOLWEIG = (
    "Lindberg, F., Holmer, B., Thorsson, S. (2008): SOLWEIG 1.0 - modelling spatial variations of 3D radiant "
    "fluxes and mean radiant temperature in complex urban settings. Int. J. Biometeorol. 52:697-713; "
    "Lindberg, F., Grimmond, C.S.B. (2011): The influence of vegetation and building morphology on shadow "
    "patterns and mean radiant temperatures in urban areas. Theor. Appl. Climatol. 105:311-323"
)
#: Land-cover classes that are building footprints (roofs) and water (no canopy over it).
BUILDING_CLASS = "building"
WATER_CLASS = "water"
#: What the metadata says when there is no DTM.
SURFACE_VIEW_NOTE = (
    "no dtm: shade and sky view factor are those of the DSM surface (a crown top sees the sky, the ground "
    "under a crown is not shaded); give ahn.dtm for the view of a person on the ground"
)

#: What the metadata says when the DTM came on another grid than the DSM.
DTM_RESAMPLED_NOTE = (
    "the dtm is on another grid than the dsm (origin or cell size): it was put on the output grid by its "
    "highest value, like the dsm, before the view was computed"
)

PARAMS: tuple[Param, ...] = (
    Param("observer_height_m", OBSERVER_HEIGHT_M, "m", "height above the terrain the shade and sky view are "
          "seen from (with a dtm)", "a standing person; the height air temperature is measured at (WMO)",
          minimum=0.0, maximum=10.0),
    Param("crown_transmissivity", CROWN_TRANSMISSIVITY, "", "share of sunlight passing through a tree crown",
          "SOLWEIG default (Lindberg & Grimmond 2011)", minimum=0.0, maximum=1.0),
    Param("crown_trunk_ratio", TRUNK_RATIO, "", "crown base as a share of the canopy height (trunk zone)",
          "SOLWEIG default (Lindberg & Grimmond 2011)", minimum=0.0, maximum=1.0),
    CANOPY_MIN_HEIGHT_PARAM,
)


@dataclass(frozen=True)
class PersonView:
    """Shade (and SVF) of a person on every cell of a kernel grid.

    Attributes:
        view: the ground view on the kernel grid (``GroundView``).
        canopy_cells: cells of the kernel grid under a tree crown.
        canopy: the crown cells of the kernel grid (bool).
        dtm_resampled: whether the DTM came on another grid than the DSM and was resampled
            onto the kernel grid (a documented fallback, named in the metadata).
    """

    view: GroundView
    canopy_cells: int
    canopy: np.ndarray
    dtm_resampled: bool = False


def _buildings_and_water(landcover: gpd.GeoDataFrame) -> tuple[gpd.GeoSeries, gpd.GeoSeries]:
    """The building and the water polygons of the land cover."""
    classes = landcover["class"].to_numpy()
    return landcover.geometry[classes == BUILDING_CLASS], landcover.geometry[classes == WATER_CLASS]


def grid_canopy(
    inputs: LayerInputs, dsm: Raster, dtm: Raster, grid: Grid, landcover: gpd.GeoDataFrame, params: Mapping[str, Any]
) -> np.ndarray:
    """Tree crowns on ``grid`` (``geo.canopy.canopy_raster`` of the DSM and DTM on it): 1, 0, NaN where unknown.

    Buildings are the ``building`` land cover and, when the inputs hold them, the
    ``buildings`` footprints; water the ``water`` land cover; in LAZ mode the
    ``vegetation`` points (put on ``grid`` by their highest point) must back a crown.

    Args:
        inputs: the layer's inputs (``buildings`` and ``vegetation`` optional).
        dsm: the DSM on ``grid`` (``geo.heat.dsm_on_grid``, m NAP).
        dtm: the DTM on ``grid`` (m NAP).
        grid: the grid (region CRS).
        landcover: land-cover polygons around the grid.
        params: ``canopy_min_height_m`` (m).

    Returns:
        float32 array of ``grid``'s shape.
    """
    buildings, water = _buildings_and_water(landcover)
    blocks = buildings.values
    if "buildings" in inputs.sources:
        footprints = inputs.vector("buildings")
        near = footprints.geometry.values[footprints.sindex.query(shapely.box(*grid.bounds))]
        blocks = np.concatenate([np.asarray(blocks, dtype=object), np.asarray(near, dtype=object)])
    vegetation = (dsm_on_grid(inputs.raster(VEGETATION_SOURCE), grid)
                  if VEGETATION_SOURCE in inputs.sources else None)
    canopy = canopy_raster(dsm, dtm, blocks, water.values, min_height_m=params["canopy_min_height_m"],
                           vegetation=vegetation)
    known = np.isfinite(canopy.data[0])
    return np.where(known, canopy_mask(canopy).astype(np.float32), np.float32(np.nan)).astype(np.float32)


def person_view(
    inputs: LayerInputs,
    dsm: Raster,
    grid: Grid,
    landcover: gpd.GeoDataFrame,
    sun_groups: Sequence[Sequence[SunPosition]],
    params: Mapping[str, Any],
    *,
    layer_id: str,
    with_svf: bool,
    max_svf_distance_m: float,
    max_shadow_m: float,
    chunk_size: int,
    canopy: np.ndarray | None = None,
) -> PersonView | None:
    """The ground view on ``grid`` when the inputs hold a DTM; None without one (surface view).

    Args:
        inputs: the layer's inputs (``dtm`` optional).
        dsm: the DSM on ``grid`` (``geo.heat.dsm_on_grid``).
        grid: the kernel grid (the window plus the kernels' reach).
        landcover: land-cover polygons around the grid (buildings and water are taken from it).
        sun_groups: groups of sun positions to average the shade over.
        params: the layer's parameters (:data:`PARAMS` among them).
        layer_id: for messages.
        with_svf: whether to compute the sky view factor too.
        max_svf_distance_m: SVF search distance (m).
        max_shadow_m: longest shadow followed (m).
        chunk_size: tile edge (cells) for the Dask run.
        canopy: the crown cells of ``grid`` (bool) when the layer has them already
            (:func:`grid_canopy` over a larger grid, cropped); None computes them here.

    Raises:
        LayerError: the DTM is in another CRS than the DSM.
    """
    if "dtm" not in inputs.sources:
        return None
    dtm_source = inputs.raster("dtm")
    if not dtm_source.crs.equals(dsm.crs, ignore_axis_order=True):
        raise LayerError(
            f"{layer_id}: the dtm is in {dtm_source.crs.to_string()}, the dsm in {dsm.crs.to_string()}; "
            "give both in the region CRS"
        )
    # Any DTM grid is put on the DSM's grid here (the highest value, like the DSM), so a DTM
    # delivered on another grid (another tile origin or cell size) is resampled, not refused.
    dtm = dsm_on_grid(dtm_source, grid)
    footprint = polygon_index(_buildings_and_water(landcover)[0].values, grid, chunk_size) > 0
    if canopy is None:
        canopy = grid_canopy(inputs, dsm, dtm, grid, landcover, params) > 0
    view = ground_view_raster(
        dsm, dtm, footprint, canopy, sun_groups, with_svf=with_svf, chunk_size=chunk_size,
        observer_height_m=params["observer_height_m"], transmissivity=params["crown_transmissivity"],
        trunk_ratio=params["crown_trunk_ratio"], max_svf_distance_m=max_svf_distance_m, max_shadow_m=max_shadow_m,
    )
    resampled = "dsm" in inputs.sources and not dtm_source.same_grid(inputs.raster("dsm"))
    return PersonView(view=view, canopy_cells=int(canopy.sum()), canopy=canopy, dtm_resampled=resampled)


def view_metadata(person: bool, params: Mapping[str, Any], *, dtm_resampled: bool = False) -> dict[str, Any]:
    """The metadata entry ``view``: which view the shade (and SVF) were computed from.

    Args:
        person: whether the windows computed the person view (they had a DTM).
        params: the layer's parameters.
        dtm_resampled: whether a window's DTM came on another grid than its DSM.
    """
    if not person:
        return {"view": "surface", "notes": [SURFACE_VIEW_NOTE]}
    return {
        "view": {
            "kind": "person on the ground",
            "observer_height_m": params["observer_height_m"],
            "crown_transmissivity": params["crown_transmissivity"],
            "crown_trunk_ratio": params["crown_trunk_ratio"],
            "canopy_min_height_m": params["canopy_min_height_m"],
            "reference": SOLWEIG,
            "roofs": "building footprints have no street value (NaN) and are left out of neighbourhood figures",
        },
        "notes": [DTM_RESAMPLED_NOTE] if dtm_resampled else [],
    }
