"""Layer ``basemap``: a light topographic base map built from the registers.

So that every map works offline (no internet base map), the base map is made
from the same sources as the layers: buildings, roads, water, green and
paved areas, one vector tile layer each.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import geopandas as gpd
import pandas as pd

from layers.base import BuildContext, LayerDef, LayerInputs, LayerResult, Output, Reach, fixed
from layers.landcover import clip_to_region

#: Base-map theme of each canonical land-cover class (buildings come from ``buildings`` when given).
THEMES: dict[str, tuple[str, ...]] = {
    "roads": ("road_paved", "road_unpaved"),
    "paved": ("paved_other", "bare"),
    "green": ("green_low", "green_shrub", "green_trees", "agriculture"),
    "water": ("water",),
}


def compute(inputs: LayerInputs, params: Mapping[str, Any], ctx: BuildContext) -> LayerResult:
    """Split land cover into base-map themes and add building footprints.

    Returns:
        vectors ``buildings``, ``roads``, ``paved``, ``green`` and ``water``
        (columns ``class`` and, for buildings, ``id`` and ``status``).
    """
    landcover = clip_to_region(inputs.vector("landcover"), inputs.extent.polygon())
    out: dict[str, gpd.GeoDataFrame] = {}
    for theme, classes in THEMES.items():
        part = landcover[landcover["class"].isin(classes)]
        out[theme] = part[["class", part.geometry.name]].reset_index(drop=True)
    if "buildings" in inputs.sources:
        buildings = clip_to_region(inputs.vector("buildings"), inputs.extent.polygon())
        cols = [c for c in ("id", "status", "year") if c in buildings.columns]
        frame = buildings[[*cols, buildings.geometry.name]].copy()
        if "year" in frame.columns:
            frame["year"] = pd.to_numeric(frame["year"], errors="coerce").astype("Int64")
        out["buildings"] = frame.reset_index(drop=True)
    else:
        part = landcover[landcover["class"] == "building"]
        out["buildings"] = part[["source_id", part.geometry.name]].rename(columns={"source_id": "id"})
    return LayerResult(vectors=out, metadata={"features": {k: len(v) for k, v in out.items()}})


LAYER = LayerDef(
    id="basemap",
    title={"nl": "Basiskaart", "en": "Base map"},
    description={
        "nl": "Eenvoudige ondergrond uit BGT en BAG: gebouwen, wegen, verharding, groen en water.",
        "en": "Plain base map from BGT and BAG: buildings, roads, paving, green and water.",
    },
    kind="vector",
    inputs=("landcover",),
    optional_inputs=("buildings",),
    params=(),
    outputs=tuple(Output(t, "vector", f"base-map theme {t}") for t in ("buildings", *THEMES)),
    style_id="basemap",
    code_version="1",
    compute=compute,
    references=("BGT IMGeo 2.1 (Geonovum)", "BAG 2.0 (Kadaster)"),
    reach=(Reach("landcover", fixed(0.0), "clipped to the extent"),
           Reach("buildings", fixed(0.0), "clipped to the extent")),
    minzoom=10,
    maxzoom=16,
)
