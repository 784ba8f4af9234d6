"""Small preview images of layers for the overview page: vector rules or a raster style drawn into a PNG.

Vector outputs are burnt with ``rasterio.features.rasterize`` (cell centres inside a
shape take its colour; lines and points with ``all_touched`` so they stay visible)
rule by rule, in drawing order, over the map background. Raster previews are
rio-tiler ``preview`` images (read from the COG's overviews) in the default style.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import geopandas as gpd
import numpy as np
from affine import Affine
from PIL import Image
from rasterio.features import rasterize

from styles.vector import BACKGROUND, VectorRule

#: Longest side of a preview image in pixels.
PREVIEW_SIZE = 320


def _rgb(colour: str) -> tuple[int, int, int]:
    value = colour.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def preview_shape(bounds: Sequence[float], size: int = PREVIEW_SIZE) -> tuple[int, int]:
    """(rows, cols) of a preview of ``bounds`` (minx, miny, maxx, maxy, in a projected CRS) at most ``size`` wide."""
    minx, miny, maxx, maxy = bounds
    width, height = max(maxx - minx, 1e-9), max(maxy - miny, 1e-9)
    scale = size / max(width, height)
    return max(1, round(height * scale)), max(1, round(width * scale))


def vector_preview(
    frames: dict[str, gpd.GeoDataFrame], rules: Sequence[VectorRule], bounds: Sequence[float], size: int = PREVIEW_SIZE
) -> bytes:
    """PNG of vector outputs drawn with ``rules``.

    Args:
        frames: output name -> features, all in the CRS of ``bounds``.
        rules: drawing rules (``source_layer`` = output name).
        bounds: (minx, miny, maxx, maxy) of the view in the frames' CRS.
        size: longest side in pixels.
    """
    rows, cols = preview_shape(bounds, size)
    minx, miny, maxx, maxy = bounds
    transform = Affine((maxx - minx) / cols, 0, minx, 0, -(maxy - miny) / rows, maxy)
    canvas = np.empty((rows, cols, 3), dtype="uint8")
    canvas[...] = _rgb(BACKGROUND)
    for rule in rules:
        frame = frames.get(rule.source_layer)
        if frame is None or frame.empty:
            continue
        if rule.field is not None and rule.field in frame.columns:
            frame = frame[frame[rule.field] == rule.value]
        geoms = [g for g in frame.geometry.values if g is not None and not g.is_empty]
        if not geoms:
            continue
        burnt = rasterize(
            ((g, 1) for g in geoms),
            out_shape=(rows, cols),
            transform=transform,
            fill=0,
            dtype="uint8",
            all_touched=rule.geometry != "fill",
        )
        canvas[burnt == 1] = _rgb(rule.colour)
    out = io.BytesIO()
    Image.fromarray(canvas, "RGB").save(out, format="PNG", optimize=True)
    return out.getvalue()
