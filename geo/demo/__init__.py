"""Synthetic demo region "Eschveld": a realistic Achterhoek village as canonical sources.

``generate_demo`` lays out a village of about 3,000 homes and 5,000 trees on a
3 x 3 km square in EPSG:28992 and writes every canonical source kaartlaag
reads (land cover, buildings, addresses, trees, neighbourhoods, streets,
parks, amenities, housing sites, projects, occupancy, a boundary, DSM and DTM) plus a
region config. Everything is drawn from ``numpy`` generators seeded by
``seed``, so a seed always gives the same, byte-identical files.
See ``docs/demo-region.md``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from geo.crs import RD_NEW
from geo.demo import housing, occupancy, rasters, registers, writer
from geo.demo.base import Town
from geo.demo.landcover import Cover, add_roads, finish_network, partition, road_functions
from geo.demo.nature import build_parks, build_trees
from geo.demo.rural import build_rural
from geo.demo.town import balance_dwellings, plan_town

__all__ = ["MIN_SIZE_M", "ORIGIN", "generate_demo"]

#: Lower-left corner of the region (EPSG:28992, m): the Achterhoek between Lochem and Borculo.
ORIGIN = (236_000.0, 441_000.0)
#: Smallest square (m) the layout fits in (centre, ring road, a district or two).
MIN_SIZE_M = 1000.0

Progress = Callable[[str, float], None]


def generate_demo(out_dir: str | Path, seed: int = 2026, size_m: float = 3000.0,
                  progress: Progress | None = None) -> Path:
    """Generate the demo region into ``out_dir`` and return the path of its config.

    Args:
        out_dir: folder to write into (created when missing; existing demo files are replaced).
        seed: seed of every random choice; the same seed gives byte-identical files.
        size_m: side of the square region in metres (whole metres, at least ``MIN_SIZE_M``);
            the village, its districts and the counts of homes and trees scale with the area.
        progress: optional callback ``progress(step, fraction)`` with fraction in [0, 1].

    Returns:
        Path of ``kaartlaag.yaml`` in ``out_dir``.

    Raises:
        ValueError: ``size_m`` is too small or not a whole number of metres, or ``seed`` is negative.
    """
    if size_m < MIN_SIZE_M or float(size_m) != round(size_m):
        raise ValueError(f"size_m must be a whole number of metres >= {MIN_SIZE_M:g}, got {size_m}")
    if int(seed) < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    report = progress or (lambda step, fraction: None)
    report("layout", 0.0)
    town = plan_town(float(size_m), *ORIGIN, seed=int(seed))
    report("countryside", 0.12)
    build_rural(town)
    report("parks", 0.14)
    build_parks(town)
    balance_dwellings(town)
    report("streets", 0.15)
    lines, kinds = finish_network(town)
    add_roads(town, lines, kinds)
    report("land cover", 0.17)
    cover = partition(town)
    report("trees", 0.25)
    build_trees(town, (cover.geoms, cover.cls, cover.public))
    report("registers", 0.28)
    frames = _frames(town, cover, lines, kinds)
    report("writing sources", 0.35)
    with writer.fixed_gdal_date():
        for name, frame in frames.items():
            if isinstance(frame, gpd.GeoDataFrame):
                writer.write_vector(frame, out / f"{name}.gpkg")
            else:
                writer.write_table(frame, out / f"{name}.csv")
    report("elevation", 0.45)
    buildings = frames["buildings"]
    water = cover.geoms[cover.cls == "water"]
    rasters.build_rasters(town, out, buildings.geometry.to_numpy(), buildings["height_m"].to_numpy(), water)
    config = out / "kaartlaag.yaml"
    writer.write_config(config, int(seed), float(size_m), *ORIGIN)
    report("done", 1.0)
    return config


def _frames(town: Town, cover: Cover, lines: np.ndarray, kinds: np.ndarray) -> dict[str, pd.DataFrame]:
    """Every canonical source as a (Geo)DataFrame, keyed by file stem."""
    buildings = registers.buildings_frame(town)
    addresses = registers.addresses_frame(town, buildings)
    trees = town.trees
    n_cover = len(cover.geoms)
    sites = housing.housing_sites_frame(registers.housing_sites_frame(town))
    return {
        "landcover": gpd.GeoDataFrame(
            {"class": cover.cls.astype(str), "source_class": cover.source_class.astype(str),
             "source_id": [f"G{registers.MUNICIPALITY}.demo{i + 1:010d}" for i in range(n_cover)],
             "public": cover.public.astype(bool), "function": road_functions(cover, lines, kinds)},
            geometry=cover.geoms, crs=RD_NEW),
        "buildings": buildings.drop(columns="kind"),
        "addresses": addresses,
        "trees": pd.DataFrame({"id": [f"T{i + 1:06d}" for i in range(len(trees["x"]))], "x": trees["x"],
                               "y": trees["y"], "crown_diameter_m": trees["crown"], "height_m": trees["height"],
                               "species": trees["species"]}),
        "neighbourhoods": registers.neighbourhoods_frame(town),
        "streets": gpd.GeoDataFrame({"id": [f"S{i + 1:05d}" for i in range(len(lines))], "kind": kinds.astype(str)},
                                    geometry=lines, crs=RD_NEW),
        "parks": registers.parks_frame(town),
        "amenities": registers.amenities_frame(town, addresses),
        "housing_sites": sites,
        "projects": housing.projects_frame(sites, lines, kinds),
        "occupancy": occupancy.with_history(town, registers.occupancy_frame(town, addresses, buildings), addresses),
        "boundary": gpd.GeoDataFrame({"name": ["Eschveld"]}, geometry=[town.square()], crs=RD_NEW),
    }
