"""Layer ``landcover``: the canonical surface classes as vector tiles and a classified raster.

Method: the canonical ``landcover`` source (for BGT: the planar partition of
wegdeel, begroeid/onbegroeid terreindeel, waterdeel, pand, ... mapped to ten
classes, see docs/bgt-mapping.md) is clipped to the region and published as
is. The raster burns each polygon's class code at cell centres on a grid
snapped to ``raster_resolution_m`` (default 0.5 m, the AHN cell size, so
rasters of all layers align).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dask
import geopandas as gpd
import numpy as np
import shapely

from geo.canonical import LANDCOVER_CODES, LANDCOVER_NODATA
from geo.grid import Grid
from geo.raster import Raster
from geo.rasterize import rasterize_values
from layers.base import BuildContext, LayerDef, LayerInputs, LayerResult, Output, Param, Reach, fixed

_COLUMNS = ["class", "source_class", "source_id", "public"]


def clip_to_region(frame: gpd.GeoDataFrame, area: shapely.Geometry) -> gpd.GeoDataFrame:
    """Keep the parts of ``frame`` inside ``area`` (a run's extent polygon, region CRS)."""
    inside = frame.geometry.values.covered_by(area)
    if inside.all():
        return frame
    part = frame[frame.geometry.values.intersects(area)].copy()
    clipped = part.geometry.values.intersection(area)
    part[part.geometry.name] = gpd.GeoSeries(clipped, index=part.index, crs=frame.crs)
    keep = ~part.geometry.values.is_empty & np.isin(
        shapely.get_type_id(part.geometry.values),
        [shapely.GeometryType.POLYGON, shapely.GeometryType.MULTIPOLYGON],
    )
    # A polygon cut at the edge can come back as a collection; keep only its area.
    mixed = shapely.get_type_id(part.geometry.values) == shapely.GeometryType.GEOMETRYCOLLECTION
    if mixed.any():
        fixed = [
            shapely.union_all([g for g in shapely.get_parts(c) if g.area > 0])
            for c in part.geometry.values[mixed]
        ]
        part.loc[mixed, part.geometry.name] = fixed
        keep |= mixed
    return part[keep]


def compute(inputs: LayerInputs, params: Mapping[str, Any], ctx: BuildContext) -> LayerResult:
    """Clip landcover to the region and rasterise its classes.

    Args:
        inputs: needs the canonical ``landcover`` source (region CRS).
        params: ``raster_resolution_m`` (m).
        ctx: chunk size and Dask scheduler for the raster.

    Returns:
        vectors ``landcover`` (class, source_class, source_id, public, area_m2)
        and raster ``landcover`` (uint8 class codes, 0 = no data).
    """
    frame = clip_to_region(inputs.vector("landcover"), inputs.extent.polygon())
    frame = frame[[*_COLUMNS, frame.geometry.name]].copy()
    frame["area_m2"] = frame.geometry.area.round(2)
    grid = Grid.from_bounds(inputs.extent.bounds, params["raster_resolution_m"], inputs.crs)
    codes = frame["class"].map(LANDCOVER_CODES).to_numpy(dtype="uint8")
    lazy = rasterize_values(
        frame.geometry.values, codes, grid, dtype="uint8", fill=LANDCOVER_NODATA, chunk_size=ctx.chunk_size
    )
    (classes,) = dask.compute(lazy)
    raster = Raster(
        classes,
        grid.crs,
        grid.transform,
        nodata=LANDCOVER_NODATA,
        band_names=("class",),
        units=("",),
    )
    counts = frame.groupby("class")["area_m2"].sum().round(1).to_dict()
    return LayerResult(
        vectors={"landcover": frame.reset_index(drop=True)},
        rasters={"landcover": raster},
        metadata={"area_m2_per_class": counts, "class_codes": LANDCOVER_CODES},
    )


LAYER = LayerDef(
    id="landcover",
    title={"nl": "Bodembedekking", "en": "Land cover"},
    description={
        "nl": "Wat er op de grond ligt: gebouw, verharding, groen, water, landbouw; uit de BGT, "
        "in tien klassen die voor alle gemeenten gelijk zijn.",
        "en": "What covers the ground: building, paving, green, water, farmland; from the BGT, "
        "in ten classes shared by all municipalities.",
    },
    kind="vector",
    inputs=("landcover",),
    params=(
        Param(
            "raster_resolution_m",
            0.5,
            "m",
            "cell size of the classified raster",
            "AHN cell size, so the raster aligns with the elevation data",
            minimum=0.1,
            maximum=100.0,
        ),
    ),
    outputs=(
        Output("landcover", "vector", "land-cover polygons with canonical class"),
        Output("landcover", "raster", "classified raster, uint8 class codes"),
    ),
    style_id="landcover",
    code_version="1",
    compute=compute,
    references=("BGT IMGeo 2.1 (Geonovum)",),
    reach=(Reach("landcover", fixed(0.0), "clipped to the extent"),),
    minzoom=12,
    maxzoom=16,
)
