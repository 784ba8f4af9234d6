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

#: Geometry types whose outline a ``line`` rule draws.
_POLYGONAL = frozenset({"Polygon", "MultiPolygon"})
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


def draw_rules(
    frames: dict[str, gpd.GeoDataFrame],
    rules: Sequence[VectorRule],
    bounds: Sequence[float],
    shape: tuple[int, int],
    background: str | None = BACKGROUND,
) -> np.ndarray:
    """RGBA array (rows, cols, 4) of vector outputs drawn with ``rules`` over ``bounds``.

    Args:
        frames: output name -> features, all in the CRS of ``bounds``.
        rules: drawing rules (``source_layer`` = output name), in drawing order.
        bounds: (minx, miny, maxx, maxy) of the image in the frames' CRS.
        shape: (rows, cols) of the image in pixels.
        background: ``#rrggbb`` of the background, or None for a transparent one (map tiles).
    """
    rows, cols = shape
    minx, miny, maxx, maxy = bounds
    pixel = (maxx - minx) / cols
    transform = Affine(pixel, 0, minx, 0, -(maxy - miny) / rows, maxy)
    canvas = np.zeros((rows, cols, 4), dtype="uint8")
    if background is not None:
        canvas[..., :3] = _rgb(background)
        canvas[..., 3] = 255
    for rule in rules:
        frame = frames.get(rule.source_layer)
        if frame is None or frame.empty:
            continue
        if rule.field is not None and rule.field in frame.columns:
            frame = frame[frame[rule.field] == rule.value]
        geoms = [g for g in frame.geometry.values if g is not None and not g.is_empty]
        if not geoms:
            continue
        if rule.geometry == "line":
            # A line rule on polygons draws their outlines (a buurt border), never their area.
            geoms = [g.boundary if g.geom_type in _POLYGONAL else g for g in geoms]
        elif rule.geometry == "circle":
            # A point is drawn as a disc of the rule's radius (pixels), as in the vector tiles.
            geoms = [g.buffer(max(rule.width, 1.0) * pixel) for g in geoms]
        burnt = rasterize(
            ((g, 1) for g in geoms),
            out_shape=(rows, cols),
            transform=transform,
            fill=0,
            dtype="uint8",
            all_touched=rule.geometry == "line",
        )
        canvas[burnt == 1, :3] = _rgb(rule.colour)
        canvas[burnt == 1, 3] = 255
        if rule.geometry == "fill" and rule.outline is not None:
            edges = rasterize(
                ((g.boundary, 1) for g in geoms), out_shape=(rows, cols), transform=transform, fill=0,
                dtype="uint8", all_touched=True,
            )
            canvas[edges == 1, :3] = _rgb(rule.outline)
            canvas[edges == 1, 3] = 255
    return canvas


def png_bytes(canvas: np.ndarray) -> bytes:
    """PNG of an RGBA (or RGB) array."""
    out = io.BytesIO()
    mode = "RGBA" if canvas.shape[-1] == 4 else "RGB"
    Image.fromarray(canvas, mode).save(out, format="PNG", optimize=True)
    return out.getvalue()


def vector_preview(
    frames: dict[str, gpd.GeoDataFrame], rules: Sequence[VectorRule], bounds: Sequence[float], size: int = PREVIEW_SIZE
) -> bytes:
    """PNG of vector outputs drawn with ``rules`` over the map background.

    Args:
        frames: output name -> features, all in the CRS of ``bounds``.
        rules: drawing rules (``source_layer`` = output name).
        bounds: (minx, miny, maxx, maxy) of the view in the frames' CRS.
        size: longest side in pixels.
    """
    canvas = draw_rules(frames, rules, bounds, preview_shape(bounds, size))
    return png_bytes(canvas[..., :3])
