"""Map images (PNG) of an assessed site for the printable report: one raster layer, the site, its buffer.

A map is drawn with Pillow in the raster's CRS (the site, the buffer and the
bounds are in that CRS too; EPSG:28992 in practice, so a pixel is a fixed number
of metres and grid north is up):

1. the raster, coloured with the project's own style for that layer
   (``styles.raster``: e.g. the fixed uhi_max classes, the canopy height
   classes, the land-cover palette) by nearest cell, over the paper-tone map
   background; cells without data stay background;
2. optional extra vectors, e.g. the new tree crowns or the unpaved polygons of a
   scenario, each in its own colour (translucent fill, solid outline);
3. the buffer outline (thin, dashed) and the site outline (thick, dark purple,
   a colour none of the raster styles uses);
4. a scale bar in metres (bottom left) and a north arrow (top right).

Under the map a legend strip names every colour in text (the raster classes,
the outlines and the extras), so the map reads without telling colours apart.
``before_after_image`` puts two maps side by side ("Huidig", "Scenario") with
one legend; both rasters share one style, so equal colours mean equal values.
"""

from __future__ import annotations

import io
import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
from PIL import Image, ImageDraw
from shapely.geometry import LineString, Point, Polygon
from shapely.geometry.base import BaseGeometry

from geo.raster import Raster
from styles.legend import font as legend_font
from styles.legend import text_for
from styles.palettes import hex_to_rgba
from styles.raster import RasterStyle, registered_style, resolve_raster_style, value_range
from styles.vector import BACKGROUND

#: Longest side of the map area of one map, in pixels.
MAP_SIZE_PX = 900
#: Site outline: dark purple (no raster style uses it), thick.
SITE_OUTLINE = "#3f007d"
#: Buffer outline: dark grey, thinner and dashed.
BUFFER_OUTLINE = "#333333"
#: Line widths as a share of the longest side of the map area (at least ``MIN_LINE_PX``).
SITE_LINE_SHARE = 0.008
BUFFER_LINE_SHARE = 0.003
MIN_LINE_PX = 2
#: Dash and gap of the buffer outline, in multiples of its line width.
DASH, GAP = 5, 3
#: Alpha (0-255) of the fill of extra vectors.
EXTRA_FILL_ALPHA = 120
#: Radius of extra points as a share of the longest side.
POINT_SHARE = 0.006
#: Font size as a share of the longest side, and its floor.
FONT_SHARE = 0.024
MIN_FONT_PX = 10
#: Title font size relative to the other text.
TITLE_FACTOR = 1.2
#: The scale bar is at most this share of the map width.
SCALE_BAR_SHARE = 0.25
#: Margin around the map furniture, as a share of the longest side.
MARGIN_SHARE = 0.02
#: Margin added around the buffer when no bounds are given (share of its larger side).
BOUNDS_MARGIN = 0.08
#: Gap between the two maps of a before/after image, in pixels.
PANEL_GAP_PX = 16
#: Short style ids -> (layer style id, raster output) of ``styles.raster``'s registry.
STYLE_ALIASES: dict[str, tuple[str, str]] = {
    **{o: ("heat-stress", o) for o in ("uhi_max", "uhi_max_100m", "shade_pct_1500", "shade_pct_afternoon")},
    "shade": ("heat-stress", "shade_pct_1500"), "canopy": ("green-paved", "canopy"),
    "landcover": ("landcover", "landcover"),
}
#: Dutch legend labels of extra vector layers named after scenario edits; other names are their own label.
EXTRA_LABELS: dict[str, str] = {
    "plant_trees": "Nieuwe bomen (kroon)", "trees": "Nieuwe bomen (kroon)", "unpave": "Onthard", "unpaved": "Onthard",
    "add_building": "Nieuw gebouw", "remove_building": "Verwijderd gebouw",
}
#: Colours of extra layers, in order: Okabe-Ito (colour-blind safe), blues and purple first because they stand
#: out on the yellow-red heat, green canopy and blue shade ramps alike; yellow left out (too light on paper).
EXTRA_COLOURS = ("#0072b2", "#cc79a7", "#56b4e9", "#009e73", "#d55e00", "#e69f00")
TEXT = (33, 33, 33, 255)
WHITE = (255, 255, 255, 255)
#: Backdrop of the scale bar: white, slightly translucent.
SCALE_BACKDROP = (255, 255, 255, 220)
RGBA = tuple[int, int, int, int]


@dataclass(frozen=True)
class LegendItem:
    """One entry of the legend strip: a swatch (``fill``, ``line``, ``dash`` or ``point``) and its label."""

    kind: str
    colour: str
    label: str


def resolve_style(style_id: str | None, rasters: Sequence[Raster | None], title: str = "") -> RasterStyle | None:
    """The style to colour ``rasters`` with (the first band of each).

    Args:
        style_id: ``layer/output`` (``heat-stress/uhi_max``), a short id of ``STYLE_ALIASES``
            (``uhi_max``, ``canopy``, ``landcover``), or None.
        rasters: the rasters the style is for; an unregistered style gets a data-range ramp over all of them.
        title: legend title of a data-range ramp.

    Returns:
        The registered style, a data-range ramp, or None when there is nothing to colour.
    """
    if style_id:
        layer, _, output = style_id.partition("/")
        pair = (layer, output) if output else STYLE_ALIASES.get(style_id, (style_id, style_id))
        registered = registered_style(*pair)
        if registered is not None:
            return registered
    ranges = [r for r in (value_range(x) for x in rasters if x is not None) if r is not None]
    if not ranges:
        return None
    low, high = min(r[0] for r in ranges), max(r[1] for r in ranges)
    first = next(x for x in rasters if x is not None)
    unit = first.units[0] if first.units else ""
    return resolve_raster_style("", "", title=title or first.band_names[0], unit=unit, value_range=(low, high))


def _band(raster: Raster, style_id: str | None) -> np.ndarray:
    """The band to draw: the one named after the style's output when there is one, else the first."""
    output = (style_id or "").rpartition("/")[2]
    output = STYLE_ALIASES.get(output, ("", output))[1]
    return raster.masked(output if output in raster.band_names else None)


def colour_raster(raster: Raster, style: RasterStyle, style_id: str | None = None) -> np.ndarray:
    """RGBA (rows, cols, 4) uint8 of a raster in ``style``; nodata and values outside every class transparent."""
    band = _band(raster, style_id)
    values = np.ma.getdata(band).astype("float64")
    valid = ~np.ma.getmaskarray(band) & np.isfinite(values)
    out = np.zeros((*values.shape, 4), dtype="uint8")
    if style.kind == "classified":
        for c in style.classes:
            if c.value is not None:
                out[valid & (values == c.value)] = hex_to_rgba(c.colour)
        return out
    for c in style.classes:
        inside = valid.copy()
        if c.lower is not None:
            inside &= values >= c.lower
        if c.upper is not None:
            inside &= values < c.upper
        out[inside] = hex_to_rgba(c.colour)
    return out


@dataclass(frozen=True)
class _View:
    """World (minx, maxy, metres per pixel) to pixel mapping of the map area."""

    minx: float
    maxy: float
    pixel: float
    width: int
    height: int

    def xy(self, x: float, y: float) -> tuple[float, float]:
        return (x - self.minx) / self.pixel, (self.maxy - y) / self.pixel


def _view(bounds: Sequence[float], size_px: int) -> _View:
    minx, miny, maxx, maxy = (float(v) for v in bounds)
    if not (maxx > minx and maxy > miny):
        raise ValueError(f"map bounds must have an area, got {tuple(bounds)}")
    pixel = max(maxx - minx, maxy - miny) / size_px
    return _View(minx, maxy, pixel, max(1, round((maxx - minx) / pixel)), max(1, round((maxy - miny) / pixel)))


def _raster_rgba(raster: Raster, style: RasterStyle, style_id: str | None, view: _View) -> Image.Image:
    """The coloured raster resampled (nearest cell) onto the map area."""
    coloured = colour_raster(raster, style, style_id)
    xs = view.minx + (np.arange(view.width) + 0.5) * view.pixel
    ys = view.maxy - (np.arange(view.height) + 0.5) * view.pixel
    gx, gy = np.meshgrid(xs, ys)
    inv = ~raster.transform
    cols = np.floor(inv.a * gx + inv.b * gy + inv.c).astype("int64")
    rows = np.floor(inv.d * gx + inv.e * gy + inv.f).astype("int64")
    inside = (cols >= 0) & (cols < raster.width) & (rows >= 0) & (rows < raster.height)
    out = np.zeros((view.height, view.width, 4), dtype="uint8")
    out[inside] = coloured[rows[inside], cols[inside]]
    return Image.fromarray(out, "RGBA")


def _rings(geometry: BaseGeometry) -> list[list[tuple[float, float]]]:
    """Every ring or line of a geometry as coordinate lists."""
    if isinstance(geometry, Polygon):
        return [list(geometry.exterior.coords), *(list(r.coords) for r in geometry.interiors)]
    if isinstance(geometry, LineString):
        return [list(geometry.coords)]
    if hasattr(geometry, "geoms"):
        return [ring for part in geometry.geoms for ring in _rings(part)]
    return []


def _dashed(draw: ImageDraw.ImageDraw, points: list[tuple[float, float]], colour: RGBA, width: int) -> None:
    """A dashed polyline: dashes of ``DASH`` and gaps of ``GAP`` line widths, continued across vertices."""
    period, dash = (DASH + GAP) * width, DASH * width
    phase = 0.0
    for (x0, y0), (x1, y1) in itertools.pairwise(points):
        length = math.hypot(x1 - x0, y1 - y0)
        at = 0.0
        while at < length:
            pos = (phase + at) % period
            step = min((dash - pos) if pos < dash else (period - pos), length - at)
            if pos < dash:
                a, b = at / length, (at + step) / length
                draw.line((x0 + (x1 - x0) * a, y0 + (y1 - y0) * a, x0 + (x1 - x0) * b, y0 + (y1 - y0) * b),
                          fill=colour, width=width)
            at += max(step, 1e-6)
        phase = (phase + length) % period


def _outline(image: Image.Image, geometry: BaseGeometry, view: _View, colour: str, width: int, dashed: bool) -> None:
    draw = ImageDraw.Draw(image)
    for ring in _rings(geometry):
        points = [view.xy(x, y) for x, y, *_ in ring]
        if dashed:
            _dashed(draw, points, hex_to_rgba(colour), width)
        else:
            draw.line(points, fill=hex_to_rgba(colour), width=width, joint="curve")


def _draw_extra(image: Image.Image, frame: gpd.GeoDataFrame, view: _View, colour: str, size_px: int) -> None:
    """Features of one extra layer: polygons as translucent fills with outlines, lines, points as dots."""
    overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    solid, fill = hex_to_rgba(colour), hex_to_rgba(colour, EXTRA_FILL_ALPHA)
    width = max(MIN_LINE_PX, round(size_px * BUFFER_LINE_SHARE))
    radius = max(MIN_LINE_PX, round(size_px * POINT_SHARE))
    for geometry in frame.geometry.values:
        if geometry is None or geometry.is_empty:
            continue
        parts = list(geometry.geoms) if hasattr(geometry, "geoms") else [geometry]
        for part in parts:
            if isinstance(part, Polygon):
                draw.polygon([view.xy(x, y) for x, y, *_ in part.exterior.coords], fill=fill)
                for hole in part.interiors:
                    draw.polygon([view.xy(x, y) for x, y, *_ in hole.coords], fill=(0, 0, 0, 0))
                for ring in _rings(part):
                    draw.line([view.xy(x, y) for x, y, *_ in ring], fill=solid, width=width, joint="curve")
            elif isinstance(part, LineString):
                draw.line([view.xy(x, y) for x, y, *_ in part.coords], fill=solid, width=width, joint="curve")
            elif isinstance(part, Point):
                cx, cy = view.xy(part.x, part.y)
                draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), fill=solid, outline=TEXT)
    image.alpha_composite(overlay)


def scale_length(map_width_m: float, share: float = SCALE_BAR_SHARE) -> float:
    """The scale bar length in metres: the largest 1, 2 or 5 times a power of ten within ``share`` of the width."""
    target = map_width_m * share
    power = 10.0 ** math.floor(math.log10(target))
    return max(m * power for m in (1.0, 2.0, 5.0) if m * power <= target)


def _font_px(text_px: int, factor: float = 1.0) -> int:
    """Font size for an image whose longest side is ``text_px``."""
    return max(MIN_FONT_PX, round(text_px * FONT_SHARE * factor))


def _furniture(image: Image.Image, view: _View, size_px: int, text_px: int) -> None:
    """Scale bar (bottom left, two halves black and white, labelled in metres) and north arrow (top right)."""
    draw = ImageDraw.Draw(image)
    font_px = _font_px(text_px)
    font, full = legend_font(font_px)
    margin = max(MIN_LINE_PX, round(size_px * MARGIN_SHARE))
    metres = scale_length(view.width * view.pixel)
    bar_px = metres / view.pixel
    bar_h = max(MIN_LINE_PX * 2, font_px // 2)
    label = text_for(f"{int(metres):,d} m".replace(",", "."), full)
    box = draw.textbbox((0, 0), label, font=font)
    left, bottom = margin, view.height - margin
    top = bottom - bar_h - (box[3] - box[1]) - margin // 2
    right = left + bar_px + (box[2] - box[0]) / 2 + margin / 2
    draw.rectangle((left - margin // 2, top - margin // 2, right, bottom + margin // 4), fill=SCALE_BACKDROP)
    half = bar_px / 2
    draw.rectangle((left, bottom - bar_h, left + half, bottom), fill=TEXT, outline=TEXT)
    draw.rectangle((left + half, bottom - bar_h, left + bar_px, bottom), fill=WHITE, outline=TEXT)
    draw.text((left, top), "0", font=font, fill=TEXT)
    draw.text((left + bar_px - (box[2] - box[0]) / 2, top), label, font=font, fill=TEXT)
    # North arrow: a filled half and an open half of a spear head, "N" above it.
    arrow_h = font_px * 2
    cx, tip = view.width - margin - arrow_h / 3, margin + (box[3] - box[1]) + margin / 2
    base, wing = tip + arrow_h, arrow_h / 3
    draw.polygon([(cx, tip), (cx - wing, base), (cx, base - wing)], fill=TEXT, outline=TEXT)
    draw.polygon([(cx, tip), (cx + wing, base), (cx, base - wing)], fill=WHITE, outline=TEXT)
    n_box = draw.textbbox((0, 0), "N", font=font)
    draw.text((cx - (n_box[2] - n_box[0]) / 2, margin / 2), "N", font=font, fill=TEXT)


def _panel(
    raster: Raster | None,
    style: RasterStyle | None,
    style_id: str | None,
    site: BaseGeometry,
    buffer: BaseGeometry,
    view: _View,
    extra: Mapping[str, gpd.GeoDataFrame],
    colours: Mapping[str, str],
    size_px: int,
    text_px: int,
) -> Image.Image:
    """One map area with everything drawn on it."""
    image = Image.new("RGBA", (view.width, view.height), hex_to_rgba(BACKGROUND))
    if raster is not None and style is not None:
        image.alpha_composite(_raster_rgba(raster, style, style_id, view))
    for name, frame in extra.items():
        if raster is not None and frame.crs is not None and frame.crs != raster.crs:
            frame = frame.to_crs(raster.crs)
        _draw_extra(image, frame, view, colours[name], size_px)
    _outline(image, buffer, view, BUFFER_OUTLINE, max(MIN_LINE_PX, round(size_px * BUFFER_LINE_SHARE)), True)
    _outline(image, site, view, SITE_OUTLINE, max(MIN_LINE_PX, round(size_px * SITE_LINE_SHARE)), False)
    _furniture(image, view, size_px, text_px)
    ImageDraw.Draw(image).rectangle((0, 0, view.width - 1, view.height - 1), outline=TEXT)
    return image


def legend_items(
    style: RasterStyle | None, buffer_label: str, extra_names: Sequence[str], colours: Mapping[str, str]
) -> list[LegendItem]:
    """The legend strip's entries: site and buffer outlines, the extras, then the raster classes."""
    items = [LegendItem("line", SITE_OUTLINE, "Plangebied"), LegendItem("dash", BUFFER_OUTLINE, buffer_label)]
    items += [LegendItem("fill", colours[n], EXTRA_LABELS.get(n, n)) for n in extra_names]
    if style is not None:
        items += [LegendItem("fill", c.colour, c.label) for c in style.classes]
    return items


def _legend_strip(title: str, items: Sequence[LegendItem], width: int, text_px: int) -> Image.Image:
    """Legend entries flowed left to right in rows of ``width`` pixels, under an optional title."""
    font, full = legend_font(_font_px(text_px))
    probe = ImageDraw.Draw(Image.new("RGBA", (1, 1)))
    line_h = math.ceil(probe.textbbox((0, 0), "Hg", font=font)[3])
    swatch_w, swatch_h, gap = line_h * 2, line_h, line_h
    placed: list[tuple[float, float, LegendItem, str]] = []
    x, y = 0.0, float(line_h + gap // 2) if title else 0.0
    for item in items:
        label = text_for(item.label, full)
        w = swatch_w + gap / 2 + probe.textlength(label, font=font)
        if x > 0 and x + w > width:
            x, y = 0.0, y + line_h + gap // 2
        placed.append((x, y, item, label))
        x += w + gap
    height = round(y + line_h + gap // 2)
    strip = Image.new("RGBA", (width, max(1, height)), WHITE)
    draw = ImageDraw.Draw(strip)
    if title:
        draw.text((0, 0), text_for(title, full), font=font, fill=TEXT)
    for x, y, item, label in placed:
        colour, mid = hex_to_rgba(item.colour), y + swatch_h / 2
        if item.kind == "line":
            draw.line((x, mid, x + swatch_w, mid), fill=colour, width=max(MIN_LINE_PX, swatch_h // 3))
        elif item.kind == "dash":
            _dashed(draw, [(x, mid), (x + swatch_w, mid)], colour, MIN_LINE_PX)
        else:
            draw.rectangle((x, y + 1, x + swatch_w, y + swatch_h - 1), fill=colour, outline=TEXT)
        draw.text((x + swatch_w + gap / 2, y), label, font=font, fill=TEXT)
    return strip


def _stack(title: str, panels: Sequence[tuple[str, Image.Image]], legend: Image.Image, text_px: int) -> bytes:
    """Title, the panels side by side (each under its own caption when given) and the legend, as PNG."""
    font, full = legend_font(_font_px(text_px, TITLE_FACTOR))
    margin = max(MIN_LINE_PX, round(text_px * MARGIN_SHARE))
    probe = ImageDraw.Draw(Image.new("RGBA", (1, 1)))
    title_h = math.ceil(probe.textbbox((0, 0), "Hg", font=font)[3]) + margin // 2
    captions = any(c for c, _ in panels)
    width = sum(p.width for _, p in panels) + PANEL_GAP_PX * (len(panels) - 1)
    height = title_h + (title_h if captions else 0) + max(p.height for _, p in panels) + margin + legend.height
    out = Image.new("RGBA", (width + 2 * margin, height + 2 * margin), WHITE)
    draw = ImageDraw.Draw(out)
    draw.text((margin, margin), text_for(title, full), font=font, fill=TEXT)
    x, top = margin, margin + title_h
    for caption, panel in panels:
        if captions:
            draw.text((x, top), text_for(caption, full), font=font, fill=TEXT)
        out.alpha_composite(panel, (x, top + (title_h if captions else 0)))
        x += panel.width + PANEL_GAP_PX
    out.alpha_composite(legend, (margin, height + margin - legend.height))
    buffer = io.BytesIO()
    out.convert("RGB").save(buffer, format="PNG")
    return buffer.getvalue()


def default_bounds(buffer: BaseGeometry, margin: float = BOUNDS_MARGIN) -> tuple[float, float, float, float]:
    """The buffer's bounds with a margin of ``margin`` times its larger side."""
    minx, miny, maxx, maxy = buffer.bounds
    pad = max(maxx - minx, maxy - miny) * margin
    return minx - pad, miny - pad, maxx + pad, maxy + pad


def _buffer_label(site: BaseGeometry, buffer: BaseGeometry) -> str:
    """``Omgeving (300 m)`` from the buffer's reach beyond the site, rounded to whole metres."""
    reach = site.hausdorff_distance(buffer) if not site.is_empty else 0.0
    return f"Omgeving ({round(reach)} m)" if reach > 0 else "Omgeving"


def map_image(
    raster: Raster | None,
    style_id: str | None,
    site: BaseGeometry,
    buffer: BaseGeometry,
    bounds: Sequence[float] | None,
    *,
    title: str,
    extra: Mapping[str, gpd.GeoDataFrame] | None = None,
    size_px: int = MAP_SIZE_PX,
) -> bytes:
    """PNG of the site and its buffer over one raster layer, with scale bar, north arrow and legend strip.

    Args:
        raster: the layer (its first band, or the band named after the style's output), or None for a
            map of the outlines only.
        style_id: the layer's style (see ``resolve_style``); None: a data-range ramp.
        site: the site, in the raster's CRS.
        buffer: the site's buffer, in the raster's CRS.
        bounds: (minx, miny, maxx, maxy) of the map; None: the buffer's with a margin.
        title: Dutch title printed above the map.
        extra: legend name -> features drawn over the raster (names of ``EXTRA_LABELS`` get Dutch labels).
        size_px: longest side of the map area in pixels.

    Returns:
        The PNG bytes.
    """
    extra = dict(extra or {})
    view = _view(bounds if bounds is not None else default_bounds(buffer), size_px)
    style = resolve_style(style_id, [raster], title)
    colours = {n: EXTRA_COLOURS[i % len(EXTRA_COLOURS)] for i, n in enumerate(extra)}
    panel = _panel(raster, style, style_id, site, buffer, view, extra, colours, size_px, size_px)
    items = legend_items(style, _buffer_label(site, buffer), list(extra), colours)
    legend = _legend_strip(style.title if style else "", items, panel.width, size_px)
    return _stack(title, [("", panel)], legend, size_px)


def before_after_image(
    before: Raster | None,
    after: Raster | None,
    style_id: str | None,
    site: BaseGeometry,
    buffer: BaseGeometry,
    bounds: Sequence[float] | None,
    *,
    title: str,
    extra_before: Mapping[str, gpd.GeoDataFrame] | None = None,
    extra_after: Mapping[str, gpd.GeoDataFrame] | None = None,
    captions: tuple[str, str] = ("Huidig", "Scenario"),
    size_px: int = MAP_SIZE_PX,
) -> bytes:
    """PNG of two maps side by side, before and after a scenario, in one style with one legend.

    Args:
        before: the layer before the edits (or None).
        after: the layer after the edits (or None).
        style_id: the layer's style (see ``resolve_style``); a data-range ramp spans both rasters.
        site: the site, in the rasters' CRS.
        buffer: the site's buffer.
        bounds: (minx, miny, maxx, maxy) of both maps; None: the buffer's with a margin.
        title: Dutch title printed above both maps.
        extra_before: features drawn on the left map (e.g. removed buildings).
        extra_after: features drawn on the right map (e.g. new tree crowns, unpaved polygons).
        captions: the captions over the left and right maps.
        size_px: total width of both map areas in pixels.

    Returns:
        The PNG bytes.
    """
    extra_before, extra_after = dict(extra_before or {}), dict(extra_after or {})
    names = list(dict.fromkeys([*extra_before, *extra_after]))
    colours = {n: EXTRA_COLOURS[i % len(EXTRA_COLOURS)] for i, n in enumerate(names)}
    panel_px = max(1, (size_px - PANEL_GAP_PX) // 2)
    view = _view(bounds if bounds is not None else default_bounds(buffer), panel_px)
    style = resolve_style(style_id, [before, after], title)
    left = _panel(before, style, style_id, site, buffer, view, extra_before, colours, panel_px, size_px)
    right = _panel(after, style, style_id, site, buffer, view, extra_after, colours, panel_px, size_px)
    items = legend_items(style, _buffer_label(site, buffer), names, colours)
    legend = _legend_strip(style.title if style else "", items, left.width * 2 + PANEL_GAP_PX, size_px)
    return _stack(title, [(captions[0], left), (captions[1], right)], legend, size_px)

