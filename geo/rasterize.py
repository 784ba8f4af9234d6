"""Burning polygons into a grid, in chunks that Dask can spread over workers."""

from __future__ import annotations

import uuid
import warnings

import dask
import dask.array as da
import numpy as np
import shapely
from rasterio.errors import NotGeoreferencedWarning
from rasterio.features import rasterize

from geo.grid import Grid

# rasterio 1.4 burns into an in-memory GDAL dataset and warns that *that* dataset has no
# geotransform, although the transform we pass is applied; the warning is noise here.
warnings.filterwarnings("ignore", category=NotGeoreferencedWarning, module="rasterio.features")


def rasterize_values(
    geoms: np.ndarray,
    values: np.ndarray,
    grid: Grid,
    *,
    dtype: str = "uint8",
    fill: int | float = 0,
    chunk_size: int = 2048,
) -> da.Array:
    """Lazily rasterise polygons with one value each onto ``grid``.

    A cell takes the value of the polygon containing its centre (GDAL's
    default, not ``all_touched``), so a planar partition such as BGT maps each
    cell to exactly one class. Each chunk only sees the polygons whose bounds
    intersect it (STRtree query), which keeps chunks independent and cheap to
    ship to a Dask worker.

    Args:
        geoms: shapely geometries in ``grid.crs``.
        values: one value per geometry.
        grid: target grid.
        dtype: output dtype.
        fill: value for cells outside every polygon.
        chunk_size: chunk edge in cells.

    Returns:
        A 2-D dask array of shape ``grid.shape``; call ``.compute()`` under the
        scheduler of your choice.
    """
    geoms = np.asarray(geoms, dtype=object)
    values = np.asarray(values)
    if len(geoms) != len(values):
        raise ValueError(f"{len(geoms)} geometries but {len(values)} values")
    tree = shapely.STRtree(geoms)
    template = da.zeros(grid.shape, dtype=dtype, chunks=chunk_size)

    def _burn(block: np.ndarray, block_info: dict | None = None) -> np.ndarray:
        assert block_info is not None
        (row0, row1), (col0, col1) = block_info[None]["array-location"]
        transform = grid.window_transform(row0, col0)
        res = grid.resolution
        left, top = transform.c, transform.f
        box = shapely.box(left, top - (row1 - row0) * res, left + (col1 - col0) * res, top)
        hits = tree.query(box)
        out = np.full((row1 - row0, col1 - col0), fill, dtype=dtype)
        if len(hits):
            rasterize(
                zip(geoms[hits], values[hits].tolist(), strict=True),
                out=out,
                transform=transform,
            )
        return out

    # A fresh name: dask would otherwise tokenise ``_burn`` by pickling the geometries it closes over.
    return template.map_blocks(_burn, dtype=dtype, name=f"rasterize-{uuid.uuid4().hex}")


def polygon_index(geoms: np.ndarray, grid: Grid, chunk_size: int = 2048) -> np.ndarray:
    """int32 raster on ``grid``: 1 + the index of the polygon holding each cell centre, 0 outside all.

    Computed now, under the active Dask scheduler (see :func:`rasterize_values`).
    """
    geoms = np.asarray(geoms, dtype=object)
    if len(geoms) == 0:
        return np.zeros(grid.shape, dtype=np.int32)
    ids = np.arange(1, len(geoms) + 1, dtype="int32")
    (burnt,) = dask.compute(rasterize_values(geoms, ids, grid, dtype="int32", fill=0, chunk_size=chunk_size))
    return np.asarray(burnt, dtype=np.int32)
