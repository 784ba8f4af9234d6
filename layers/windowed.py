"""Building a windowed raster layer in bounded memory.

The region's output grid is cut into square windows of
``BuildContext.window_cells`` cells. For each window the raster sources are
read over the window plus the layer's halo only (``SourceSet.load_window``),
the layer's ``compute_window`` runs (``layers.extent.run_windows``, the one
runner), the window's rasters are written into a
tiled GeoTIFF on disk at their place, and only the window's mergeable
statistics are kept. At the end the layer's ``finish`` merges those into the
tables, and the GeoTIFF becomes a COG by streaming (``tiles.cog``). Peak
memory thus follows the window and its halo, not the region; the vector
sources are held whole (they are small next to 0.5 m rasters).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import rasterio
from rasterio.windows import Window

from geo.errors import LayerError
from geo.grid import Grid
from geo.raster import Raster
from layers.base import BuildContext, LayerDef, LayerResult
from layers.extent import default_zones, run_windows
from layers.sources import SourceSet

#: A rest of a window under 1/_SLIVER_SHARE of its edge is shared out over the other windows.
_SLIVER_SHARE = 8
#: Internal tile edge (cells) of the intermediate GeoTIFF.
_BLOCK = 512
#: Cells of a window's raster may be off the window grid by this share of a cell (rounding).
_ALIGN_TOLERANCE = 1e-6


@dataclass
class WindowedOutput:
    """What a windowed build leaves: tables and metadata in memory, rasters as GeoTIFF files."""

    result: LayerResult
    raster_files: dict[str, Path] = field(default_factory=dict)


def windows(grid: Grid, cells: int) -> Iterator[tuple[int, int, Grid]]:
    """``(row, col, window grid)`` of windows of about ``cells`` x ``cells`` covering ``grid``.

    Each axis is split into equal windows; a rest under an eighth of a window is
    shared out rather than given a window of its own, because every window costs
    a whole halo.
    """
    if cells < 1:
        raise ValueError(f"window_cells must be positive, got {cells}")
    res = grid.resolution
    row_steps, col_steps = (_splits(grid.height, cells), _splits(grid.width, cells))
    for row, height in row_steps:
        for col, width in col_steps:
            left = grid.transform.c + col * res
            top = grid.transform.f - row * res
            yield row, col, Grid.from_bounds((left, top - height * res, left + width * res, top), res, grid.crs)


def _splits(size: int, cells: int) -> list[tuple[int, int]]:
    """(offset, length) of the windows along one axis of ``size`` cells."""
    count = max(1, math.ceil((size - cells / _SLIVER_SHARE) / cells))
    step = math.ceil(size / count)
    return [(start, min(step, size - start)) for start in range(0, size, step)]


class _GeoTiffSink:
    """Window-by-window writer of one raster output into a tiled, compressed GeoTIFF."""

    def __init__(self, path: Path, grid: Grid, first: Raster) -> None:
        self.path = path
        self.grid = grid
        nodata = first.nodata
        profile = {
            "driver": "GTiff", "width": grid.width, "height": grid.height, "count": first.count,
            "dtype": first.data.dtype.name, "crs": grid.crs, "transform": grid.transform, "nodata": nodata,
            "tiled": True, "blockxsize": _BLOCK, "blockysize": _BLOCK, "compress": "deflate",
            "bigtiff": "if_safer",
        }
        self.ds = rasterio.open(path, "w", **profile)
        self.ds.descriptions = tuple(first.band_names)
        self.ds.units = tuple(first.units)

    def write(self, raster: Raster, row: int, col: int, name: str) -> None:
        res = self.grid.resolution
        expect_x = self.grid.transform.c + col * res
        expect_y = self.grid.transform.f - row * res
        if (abs(raster.transform.c - expect_x) > _ALIGN_TOLERANCE * res
                or abs(raster.transform.f - expect_y) > _ALIGN_TOLERANCE * res
                or not math.isclose(abs(raster.transform.a), res)):
            raise LayerError(f"raster output {name}: the window's grid does not line up with the layer grid")
        self.ds.write(raster.data, window=Window(col, row, raster.width, raster.height))

    def close(self) -> None:
        self.ds.close()


def build_windowed(
    layer: LayerDef,
    params: Mapping[str, Any],
    sources: SourceSet,
    dependencies: Mapping[str, LayerResult],
    ctx: BuildContext,
    workdir: Path,
    progress: Callable[[int, int], None] | None = None,
) -> WindowedOutput:
    """Compute ``layer`` over the whole region window by window (``layers.extent.run_windows``).

    Each window's rasters go into GeoTIFFs in ``workdir`` at their place; only the
    windows' partials stay in memory.

    Args:
        layer: a layer with ``windowed`` set.
        params: its resolved parameters.
        sources: the build's sources.
        dependencies: results of the layers it depends on.
        ctx: window size, chunk size, scheduler.
        workdir: folder for the intermediate GeoTIFFs (the staging folder).
        progress: called with (windows done, windows in all).
    """
    spec = layer.windowed
    if spec is None:
        raise LayerError(f"layer {layer.id} is not windowed")
    extent, context = sources.extent(), sources.context()
    grid = Grid.from_bounds(extent.bounds, spec.resolution_m(params), context.crs)
    plan = [wgrid for _, _, wgrid in windows(grid, ctx.window_cells)]
    places = [(row, col) for row, col, _ in windows(grid, ctx.window_cells)]
    sinks: dict[str, _GeoTiffSink] = {}

    def write(i: int, part: LayerResult) -> None:
        row, col = places[i]
        for name, raster in part.rasters.items():
            if name not in sinks:
                sinks[name] = _GeoTiffSink(workdir / f".{name}.windows.tif", grid, raster)
            sinks[name].write(raster, row, col, name)
        if progress is not None:
            progress(i + 1, len(plan))

    try:
        done = run_windows(layer, params, sources, extent, context, [w.bounds for w in plan],
                           zones=default_zones(sources, extent, context), dependencies=dependencies, ctx=ctx,
                           on_window=write)
    finally:
        for sink in sinks.values():
            sink.close()
    return WindowedOutput(done, {name: sink.path for name, sink in sinks.items()})
