"""Checks of every TiTiler query parameter we expose, before anything reaches rio-tiler.

Each parameter has one checker in ``QUERY_CHECKS``; a checker parses the raw
values the way FastAPI would (``+100000`` and ``100000.0`` are integers to it),
and raises ``RequestInputError`` (400) naming the parameter, or
``PayloadTooLargeError`` (413) when the value is simply more work than the
limits allow (``services.limits``). Values FastAPI itself cannot parse are left
to its validation (422). Checks that need the raster (band count, data type)
get a ``RasterFacts``.

Coordinates and geometry bodies are checked in ``services.request_geometry``.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numexpr
import numpy as np
from rio_tiler.colormap import parse_color
from rio_tiler.errors import InvalidExpression
from rio_tiler.expression import get_expression_blocks, parse_expression
from rio_tiler.models import ImageData

from services.errors import PayloadTooLargeError, RequestInputError
from services.limits import RequestLimits
from services.request_geometry import request_crs

#: Percentiles run from 0 to 100.
MAX_PERCENTILE = 100
#: Colour components run from 0 to 255; a colour has 3 or 4 of them.
MAX_COLOUR = 255
COLOUR_LENGTHS = (3, 4)
#: Numbers in a ``color_formula`` (``gamma rgb 1.5``, ``sigmoidal rgb 7 0.5``, ``saturation 1.2``).
FORMULA_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|nan|inf(?:inity)?", re.IGNORECASE)
#: Cells per side of the arrays a ``color_formula`` or ``expression`` is tried on.
DRY_RUN_CELLS = 2


@dataclass(frozen=True)
class RasterFacts:
    """What the checks need to know of the raster a request reads.

    Attributes:
        bands: number of bands.
        dtype: numpy data type name of the bands (``uint8``, ``float32``).
        crs: CRS of the raster (areas of polygons are measured in it; projected, metres).
    """

    bands: int
    dtype: str
    crs: str


@dataclass(frozen=True)
class QueryContext:
    """Everything a query checker may look at: the limits, the raster and the request's other values."""

    limits: RequestLimits
    raster: RasterFacts
    query: Mapping[str, list[str]]


Checker = Callable[[str, list[str], QueryContext], None]


def _number(raw: str) -> float | None:
    """``raw`` as a number the way FastAPI parses it (None: FastAPI's validation will refuse it)."""
    try:
        return float(raw.strip())
    except ValueError:
        return None


def _finite(name: str, raw: str) -> float | None:
    value = _number(raw)
    if value is not None and not math.isfinite(value):
        raise RequestInputError(f"{name}={raw}: not a finite number")
    return value


def _integer(name: str, raw: str) -> int | None:
    value = _finite(name, raw)
    if value is None:
        return None
    if value != int(value):
        raise RequestInputError(f"{name}={raw}: not a whole number")
    return int(value)


def _in_range(name: str, raw: str, low: float, high: float, *, too_large: bool = False) -> None:
    value = _finite(name, raw)
    if value is None:
        return
    if value > high and too_large:
        raise PayloadTooLargeError(f"{name}={raw}: at most {high:g}")
    if not low <= value <= high:
        raise RequestInputError(f"{name}={raw}: must lie between {low:g} and {high:g}")


def _at_most(name: str, values: Sequence[object], limit: int) -> None:
    if len(values) > limit:
        raise PayloadTooLargeError(f"{name}: at most {limit} values, got {len(values)}")


def check_image_size(name: str, values: list[str], ctx: QueryContext) -> None:
    """``tilesize``, ``max_size``, ``width``, ``height``: whole pixels, 1 to ``max_image_size``."""
    for raw in values:
        if _integer(name, raw) is not None:
            _in_range(name, raw, 1, ctx.limits.max_image_size, too_large=True)


def check_cover_scale(name: str, values: list[str], ctx: QueryContext) -> None:
    """``cover_scale``: the coverage grid (image size x scale) stays within ``max_coverage_side``."""
    sizes = [_integer(n, v) for n in ("max_size", "width", "height") for v in ctx.query.get(n, [])]
    side = max([s for s in sizes if s is not None] or [ctx.limits.default_feature_size])
    for raw in values:
        scale = _integer(name, raw)
        if scale is None:
            continue
        if scale < 1:
            raise RequestInputError(f"{name}={raw}: at least 1")
        if side * scale > ctx.limits.max_coverage_side:
            raise PayloadTooLargeError(
                f"{name}={raw} with images of {side} pixels: at most {ctx.limits.max_coverage_side} cells in all"
            )


def check_buffer(name: str, values: list[str], ctx: QueryContext) -> None:
    """``buffer``: 0 to ``max_buffer`` pixels."""
    for raw in values:
        _in_range(name, raw, 0, ctx.limits.max_buffer, too_large=True)


def check_padding(name: str, values: list[str], ctx: QueryContext) -> None:
    """``padding``: whole pixels, 0 to ``max_padding``."""
    for raw in values:
        if _integer(name, raw) is not None:
            _in_range(name, raw, 0, ctx.limits.max_padding, too_large=True)


def check_bidx(name: str, values: list[str], ctx: QueryContext) -> None:
    """``bidx``: band numbers 1 to the raster's band count, at most ``max_bands`` of them."""
    _at_most(name, values, ctx.limits.max_bands)
    for raw in values:
        if _integer(name, raw) is not None:
            _in_range(name, raw, 1, ctx.raster.bands)


def check_expression(name: str, values: list[str], ctx: QueryContext) -> None:
    """``expression``: band math over existing bands (``b1``..), allowed syntax, at most ``max_bands`` blocks.

    The expression is also evaluated once on a tiny array, so anything numexpr would
    refuse is refused here with the parameter named.
    """
    for raw in values:
        if len(raw) > ctx.limits.max_expression_length:
            raise PayloadTooLargeError(f"{name}: at most {ctx.limits.max_expression_length} characters")
        try:
            bands = parse_expression(raw)
        except InvalidExpression as exc:
            raise RequestInputError(f"{name}={raw!r}: {exc}") from None
        missing = sorted(b for b in bands if not 1 <= b <= ctx.raster.bands)
        if missing:
            raise RequestInputError(
                f"{name}={raw!r}: band(s) {', '.join(f'b{b}' for b in missing)} do not exist "
                f"(the layer has {ctx.raster.bands})"
            )
        blocks = get_expression_blocks(raw)
        if not blocks:
            raise RequestInputError(f"{name}={raw!r}: empty expression")
        _at_most(name, blocks, ctx.limits.max_bands)
        cells = np.ones((DRY_RUN_CELLS, DRY_RUN_CELLS), dtype="float64")
        local = {f"b{b}": cells for b in bands}
        for block in blocks:
            try:
                with np.errstate(all="ignore"):
                    numexpr.evaluate(block.strip(), local_dict=local)
            except Exception as exc:  # numexpr documents no exception types (see rio_tiler.expression)
                raise RequestInputError(f"{name}={raw!r}: {block.strip()!r} cannot be evaluated ({exc})") from None


def check_nodata(name: str, values: list[str], ctx: QueryContext) -> None:
    """``nodata``: ``nan`` (float rasters) or a finite value the raster's data type can hold."""
    for raw in values:
        value = _number(raw)
        if value is None:
            continue
        kind = np.dtype(ctx.raster.dtype)
        if math.isnan(value):
            if kind.kind != "f":
                raise RequestInputError(f"{name}={raw}: the layer holds {kind.name} values, which cannot be NaN")
            continue
        if not math.isfinite(value):
            raise RequestInputError(f"{name}={raw}: not a finite number")
        if kind.kind in "iu":
            info = np.iinfo(kind)
            if value != int(value) or not info.min <= value <= info.max:
                raise RequestInputError(f"{name}={raw}: not a {kind.name} value ({info.min} to {info.max})")


def check_rescale(name: str, values: list[str], ctx: QueryContext) -> None:
    """``rescale``: ``min,max`` pairs of finite numbers with min < max, at most ``max_bands`` of them."""
    _at_most(name, values, ctx.limits.max_bands)
    for raw in values:
        parts = raw.split(",")
        numbers = [_number(p) for p in parts]
        if len(parts) != 2 or any(n is None for n in numbers):
            raise RequestInputError(f"{name}={raw!r}: expected 'min,max'")
        low, high = (float(n) for n in numbers if n is not None)
        if not (math.isfinite(low) and math.isfinite(high)) or low >= high:
            raise RequestInputError(f"{name}={raw!r}: expected finite numbers with min < max")


def _output_bands(ctx: QueryContext) -> int:
    """Bands of the image a tile request renders: expression blocks, else ``bidx`` entries, else the raster's."""
    expression = ctx.query.get("expression")
    if expression:
        return len(get_expression_blocks(expression[0])) or 1
    bidx = ctx.query.get("bidx")
    return len(bidx) if bidx else ctx.raster.bands


def check_color_formula(name: str, values: list[str], ctx: QueryContext) -> None:
    """``color_formula``: rio-color operations with finite numbers of at most ``max_formula_value``.

    The formula is also applied once to a tiny image with the band count the tile will
    have, so an operation the image cannot take (``saturation`` on one band, ``gamma r 0``)
    is refused here with the parameter named.
    """
    for raw in values:
        if len(raw) > ctx.limits.max_expression_length:
            raise PayloadTooLargeError(f"{name}: at most {ctx.limits.max_expression_length} characters")
        for token in FORMULA_NUMBER.findall(raw):
            number = float(token)
            if not math.isfinite(number) or abs(number) > ctx.limits.max_formula_value:
                raise RequestInputError(
                    f"{name}={raw!r}: {token} is not a finite number of at most {ctx.limits.max_formula_value:g}"
                )
        data = np.zeros((_output_bands(ctx), DRY_RUN_CELLS, DRY_RUN_CELLS), dtype="uint8")
        data[:, 0, 0] = MAX_COLOUR
        try:
            with np.errstate(all="ignore"):
                ImageData(np.ma.MaskedArray(data)).apply_color_formula(raw)
        except Exception as exc:  # color-operations raises ValueError, IndexError, KeyError, TypeError
            raise RequestInputError(f"{name}={raw!r}: not a colour formula for this image ({exc})") from None


def check_histogram_bins(name: str, values: list[str], ctx: QueryContext) -> None:
    """``histogram_bins``: a bin count 1 to ``max_histogram_bins``, or increasing finite bin edges."""
    for raw in values:
        parts = raw.split(",")
        if len(parts) == 1:
            if _integer(name, raw) is not None:
                _in_range(name, raw, 1, ctx.limits.max_histogram_bins, too_large=True)
            continue
        _at_most(name, parts, ctx.limits.max_histogram_bins + 1)
        edges = [_finite(name, p) for p in parts]
        if any(e is None for e in edges):
            raise RequestInputError(f"{name}={raw!r}: bin edges must be numbers")
        if any(b <= a for a, b in itertools.pairwise(edges)):  # type: ignore[operator]
            raise RequestInputError(f"{name}={raw!r}: bin edges must increase")


def check_histogram_range(name: str, values: list[str], ctx: QueryContext) -> None:
    """``histogram_range``: ``min,max`` finite with min < max."""
    check_rescale(name, values, ctx)


def check_percentiles(name: str, values: list[str], ctx: QueryContext) -> None:
    """``p``: whole percentiles 0 to 100, at most ``max_percentiles`` of them."""
    _at_most(name, values, ctx.limits.max_percentiles)
    for raw in values:
        if _integer(name, raw) is not None:
            _in_range(name, raw, 0, MAX_PERCENTILE)


def check_categories(name: str, values: list[str], ctx: QueryContext) -> None:
    """``c``: finite category values, at most ``max_percentiles`` of them."""
    _at_most(name, values, ctx.limits.max_percentiles)
    for raw in values:
        _finite(name, raw)


def check_crs_param(name: str, values: list[str], ctx: QueryContext) -> None:
    """``coord_crs``, ``dst_crs``, ``crs``: a CRS PROJ knows."""
    for raw in values:
        request_crs(name, raw)


#: The checker of every TiTiler query parameter that needs more than FastAPI's type check.
QUERY_CHECKS: Mapping[str, Checker] = {
    "tilesize": check_image_size,
    "max_size": check_image_size,
    "width": check_image_size,
    "height": check_image_size,
    "cover_scale": check_cover_scale,
    "buffer": check_buffer,
    "padding": check_padding,
    "bidx": check_bidx,
    "expression": check_expression,
    "nodata": check_nodata,
    "rescale": check_rescale,
    "color_formula": check_color_formula,
    "histogram_bins": check_histogram_bins,
    "histogram_range": check_histogram_range,
    "p": check_percentiles,
    "c": check_categories,
    "coord_crs": check_crs_param,
    "dst_crs": check_crs_param,
    "crs": check_crs_param,
}


def check_query(query: Mapping[str, list[str]], raster: RasterFacts, limits: RequestLimits) -> None:
    """Check every parameter of ``query`` that ``QUERY_CHECKS`` knows.

    Raises:
        RequestInputError: a value is malformed or out of range (400).
        PayloadTooLargeError: a value asks for more work than ``limits`` allow (413).
    """
    ctx = QueryContext(limits=limits, raster=raster, query=query)
    for name, check in QUERY_CHECKS.items():
        values = query.get(name)
        if values:
            check(name, values, ctx)


def check_zoom(name: str, raw: str, minzoom: int, maxzoom: int) -> None:
    """A zoom level (``z``, ``minzoom``, ``maxzoom``) of a tile matrix set with levels ``minzoom``..``maxzoom``."""
    if _integer(name, raw) is not None:
        _in_range(name, raw, minzoom, maxzoom)


#: Longest JSON colour map accepted (characters): 256 entries of ``"255":[255,255,255,255]`` fit easily.
MAX_COLORMAP_CHARS = 65_536


def _colour(name: str, value: Any) -> tuple[int, int, int, int]:
    """One colour of a colour map: ``[r, g, b]``, ``[r, g, b, a]`` (0-255) or a hex string."""
    if isinstance(value, list):
        if len(value) not in COLOUR_LENGTHS or not all(
            isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= MAX_COLOUR for v in value
        ):
            raise RequestInputError(f"{name}: colour {value!r} is not 3 or 4 whole numbers from 0 to 255")
    elif not isinstance(value, str):
        raise RequestInputError(f"{name}: colour {value!r} is neither a list nor a hex string")
    try:
        return tuple(int(c) for c in parse_color(value))  # type: ignore[return-value]
    except (ValueError, TypeError, AttributeError, IndexError):
        raise RequestInputError(f"{name}: colour {value!r} is not a colour") from None


def _is_finite_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def parse_colormap(raw: str, name: str = "colormap") -> Any:
    """A JSON colour map as rio-tiler takes it: ``{"value": colour}`` or ``[[[min, max], colour], ...]``.

    Raises:
        RequestInputError: not JSON, not one of the two shapes, a key that is not a whole number, or a colour
            that is not 3 or 4 components of 0-255 (or a hex string).
    """
    if len(raw) > MAX_COLORMAP_CHARS:
        raise PayloadTooLargeError(f"{name}: at most {MAX_COLORMAP_CHARS} characters")
    try:
        data = json.loads(raw)
    except ValueError:
        raise RequestInputError(f"{name}: not valid JSON") from None
    if isinstance(data, dict) and data:
        out: dict[int, tuple[int, int, int, int]] = {}
        for key, colour in data.items():
            try:
                value = int(key)
            except ValueError:
                raise RequestInputError(f"{name}: key {key!r} is not a whole number") from None
            out[value] = _colour(name, colour)
        return out
    if isinstance(data, list) and data:
        intervals = []
        for item in data:
            if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], list) and len(item[0]) == 2):
                raise RequestInputError(f"{name}: interval {item!r} is not [[min, max], colour]")
            low, high = item[0]
            if not all(_is_finite_number(v) for v in (low, high)):
                raise RequestInputError(f"{name}: interval {item[0]!r} needs two finite numbers")
            intervals.append(((float(low), float(high)), _colour(name, item[1])))
        return intervals
    raise RequestInputError(f"{name}: expected a non-empty object of value: colour, or a list of intervals")
