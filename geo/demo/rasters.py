"""AHN-like elevation: a 0.5 m terrain model (DTM) and surface model (DSM), metres NAP.

The terrain is a gentle Achterhoek slope (about 21 m NAP in the south-west to
32 m in the north-east) with low hills and a shallow valley along the beek,
computed on a 5 m grid and interpolated bilinearly. In the stream the DTM is
the water surface, which falls steadily downstream. The DSM adds flat roofs
at each building's height and a dome per tree: the crown rises from
``CROWN_BASE`` of the tree height at the crown's edge to the full height at
its centre; overlapping crowns and roofs keep the highest surface.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
import shapely
from affine import Affine
from rasterio.features import rasterize
from scipy import ndimage

from geo.crs import RD_NEW
from geo.demo.base import Town

RESOLUTION_M = 0.5
COARSE_M = 5.0
NODATA = -9999.0
#: Terrain: height (m NAP) at the south-west corner and the rise across the square from west to east / south to north.
BASE_NAP = 21.0
RISE_EAST_M = 7.0
RISE_NORTH_M = 4.0
#: Low hills: amplitude (m) and wavelengths (m) of the waves added to the slope.
HILL_M = 0.8
HILL_WAVES_M = (1500.0, 900.0, 600.0)
#: Beek valley: depth (m) and width (m, e-folding); water surface below the valley floor (m).
VALLEY_M = 1.5
VALLEY_WIDTH_M = 150.0
WATER_BELOW_M = 0.8
#: Share of the tree height where the crown starts (the dome's edge).
CROWN_BASE = 0.5
GTIFF = {"driver": "GTiff", "dtype": "float32", "nodata": NODATA, "compress": "deflate", "predictor": 3,
         "zlevel": 3, "tiled": True, "blockxsize": 512, "blockysize": 512, "num_threads": "2"}


def grid(town: Town) -> tuple[int, Affine]:
    """Cells per side and the affine transform of the 0.5 m elevation grid."""
    n = round(town.size / RESOLUTION_M)
    return n, Affine(RESOLUTION_M, 0.0, town.x0, 0.0, -RESOLUTION_M, town.y0 + town.size)


def terrain(town: Town, water: np.ndarray) -> np.ndarray:
    """DTM (float32, rows north to south) with the water surface in the ``water`` polygons."""
    rng = town.rng("terrain")
    n, transform = grid(town)
    nc = round(town.size / COARSE_M)
    coarse_t = Affine(COARSE_M, 0.0, town.x0, 0.0, -COARSE_M, town.y0 + town.size)
    centres = (np.arange(nc) + 0.5) * COARSE_M
    ux, uy = np.meshgrid(centres / town.size, (town.size - centres) / town.size)
    stream = rasterize([(town.zones["stream"], 1)], (nc, nc), transform=coarse_t, all_touched=True, dtype="uint8")
    dist, (ri, ci) = ndimage.distance_transform_edt(stream == 0, return_indices=True)
    near = np.exp(-((dist * COARSE_M / VALLEY_WIDTH_M) ** 2))
    base = BASE_NAP + RISE_EAST_M * ux + RISE_NORTH_M * uy
    hills = np.zeros_like(base)
    for wave in HILL_WAVES_M:
        a = rng.uniform(0, 2 * np.pi)
        k = 2 * np.pi * town.size / wave
        hills += HILL_M * np.sin(k * (ux * np.cos(a) + uy * np.sin(a)) + rng.uniform(0, 2 * np.pi))
    # Hills fade out towards the beek so its banks always stand above the water.
    coarse = base - VALLEY_M * near + hills * (1 - near)
    level = (base - VALLEY_M - WATER_BELOW_M)[ri, ci]
    dtm = ndimage.zoom(coarse.astype(np.float32), n / nc, order=1, grid_mode=True, mode="nearest")
    mask = rasterize([(g, 1) for g in water], (n, n), transform=transform, dtype="uint8").astype(bool)
    rows, cols = np.nonzero(mask)
    scale = RESOLUTION_M / COARSE_M
    at = np.vstack([(rows + 0.5) * scale - 0.5, (cols + 0.5) * scale - 0.5])
    dtm[rows, cols] = ndimage.map_coordinates(level, at, order=1, mode="nearest")
    return dtm


def surface(town: Town, dtm: np.ndarray, buildings: np.ndarray, heights: np.ndarray,
            trees: dict[str, np.ndarray]) -> np.ndarray:
    """DSM: the DTM plus roofs (building height above the terrain) and tree crowns (domes)."""
    n, transform = grid(town)
    dsm = rasterize(zip(buildings, heights, strict=True), (n, n), transform=transform, fill=0.0, dtype="float32")
    np.add(dsm, dtm, out=dsm)
    col = (trees["x"] - town.x0) / RESOLUTION_M
    row = (town.y0 + town.size - trees["y"]) / RESOLUTION_M
    radius = trees["crown"] / 2
    reach = np.ceil(radius / RESOLUTION_M).astype(int)
    flat = dsm.reshape(-1)
    for r in np.unique(reach):
        sel = np.flatnonzero(reach == r)
        dy, dx = np.mgrid[-r:r + 1, -r:r + 1]
        cc = np.floor(col[sel])[:, None].astype(int) + dx.ravel()
        rr = np.floor(row[sel])[:, None].astype(int) + dy.ravel()
        d = np.hypot(cc + 0.5 - col[sel][:, None], rr + 0.5 - row[sel][:, None]) * RESOLUTION_M
        rel = np.clip(1 - (d / radius[sel][:, None]) ** 2, 0, None)
        h = trees["height"][sel][:, None]
        ok = (d <= radius[sel][:, None]) & (cc >= 0) & (cc < n) & (rr >= 0) & (rr < n)
        idx = (rr * n + cc)[ok]
        z = (h * CROWN_BASE + h * (1 - CROWN_BASE) * np.sqrt(rel))[ok]
        np.maximum.at(flat, idx, dtm.reshape(-1)[idx] + z.astype(np.float32))
    return dsm


def write_tif(path: Path, data: np.ndarray, transform: Affine) -> None:
    """A tiled, deflate-compressed float32 GeoTIFF in EPSG:28992."""
    with rasterio.open(path, "w", height=data.shape[0], width=data.shape[1], count=1, crs=RD_NEW,
                       transform=transform, **GTIFF) as ds:
        ds.write(data, 1)


def build_rasters(town: Town, out_dir: Path, buildings: np.ndarray, heights: np.ndarray,
                  water: np.ndarray) -> None:
    """Write ``dtm.tif`` and ``dsm.tif`` into ``out_dir``."""
    _, transform = grid(town)
    water = water[~shapely.is_empty(water)]
    dtm = terrain(town, water)
    write_tif(out_dir / "dtm.tif", dtm, transform)
    dsm = surface(town, dtm, buildings, heights, town.trees)
    del dtm
    write_tif(out_dir / "dsm.tif", dsm, transform)
