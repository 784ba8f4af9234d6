"""Figures of a site read off other published layers as they are published: vacancy nearby and housing plans.

The assessment recomputes the climate and green layers for the site (``layers.assess``); these
figures it only reads, because a what-if edit does not change them and because vacancy must
never be recomputed from addresses outside its own layer:

* ``vacant_dwellings``: the sum of layer ``vacancy``'s published ``vacant_woonfunctie`` counts of
  the CBS 100 m squares whose centre lies in the zone, the rule layer ``housing-sites`` uses. The
  squares are published after that layer's disclosure control (``geo.disclosure``), so the sum
  discloses nothing they do not; suppressed squares count 0 (a lower bound). None when the layer
  is not built or not public.
* ``housing_sites`` and ``planned_dwellings``: the housing sites of layer ``housing-sites`` that
  overlap the zone, and their planned dwellings (whole sites). None when the layer is not built or
  not public.

Only public layers are read: an assessment is answered to anyone who may call ``/assess``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from layers import catalog as cat
from layers.vacancy_tables import GRID_OUTPUT, VACANT_DWELLINGS, published_vacant_dwellings

#: The layers read, their outputs and the columns summed.
VACANCY_LAYER = "vacancy"
HOUSING_LAYER, HOUSING_OUTPUT, PLANNED = "housing-sites", "housing-sites", "planned_dwellings"
#: The figures this module adds to each zone (``layers.assess_thresholds.FIGURES`` lists them too).
PUBLISHED_FIGURES: tuple[str, ...] = ("vacant_dwellings", "housing_sites", "planned_dwellings")


def _frame(catalog_dir: Path, catalog: cat.Catalog, layer_id: str, output: str) -> gpd.GeoDataFrame | None:
    """The published output ``output`` of public layer ``layer_id``, or None."""
    entry = catalog.layers.get(layer_id)
    if entry is None or entry.access != "public":
        return None
    files = [f for f in entry.files if f.output == output and f.format == "parquet"]
    return gpd.read_parquet(Path(catalog_dir) / files[0].path) if files else None


def published_figures(catalog_dir: Path, zones: Mapping[str, shapely.Geometry]
                      ) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """The :data:`PUBLISHED_FIGURES` of each zone (region CRS), and the versions of the layers read.

    Args:
        catalog_dir: the catalog.
        zones: zone name (``site``, ``buffer``) -> polygon, in the region CRS.

    Returns:
        zone -> figure -> value (None where the layer is not there), and layer id -> version read.
    """
    catalog = cat.read_catalog(catalog_dir)
    out: dict[str, dict[str, Any]] = {z: dict.fromkeys(PUBLISHED_FIGURES) for z in zones}
    versions: dict[str, str] = {}
    squares = _frame(catalog_dir, catalog, VACANCY_LAYER, GRID_OUTPUT)
    if squares is not None and VACANT_DWELLINGS in squares.columns:
        versions[VACANCY_LAYER] = catalog.layers[VACANCY_LAYER].version
        vacant = published_vacant_dwellings(squares, np.array(list(zones.values()), dtype=object))
        for zone, n in zip(zones, vacant, strict=True):
            out[zone]["vacant_dwellings"] = int(n)
    sites = _frame(catalog_dir, catalog, HOUSING_LAYER, HOUSING_OUTPUT)
    if sites is not None:
        versions[HOUSING_LAYER] = catalog.layers[HOUSING_LAYER].version
        planned = pd.to_numeric(sites.get(PLANNED, pd.Series(0, index=sites.index)), errors="coerce")
        polygons = np.asarray(sites.geometry.values, dtype=object)
        for zone, geom in zones.items():
            hit = shapely.area(shapely.intersection(geom, polygons)) > 0  # overlapping, not only touching
            out[zone]["housing_sites"] = int(hit.sum())
            out[zone]["planned_dwellings"] = int(np.nan_to_num(planned.to_numpy(dtype=float)[hit]).sum())
    return out, versions
