"""Colours and Dutch legend labels of the classified layers.

Land-cover colours follow the conventions of Dutch topographic maps (BGT
visualisation, TOP10NL) so that planners read them without a legend: red-brown
buildings, grey paving, greens for vegetation, blue water. The three greens
differ in lightness as well as hue, so they stay apart for colour-blind
readers and in greyscale print.
"""

from __future__ import annotations

from geo.canonical import LANDCOVER_CODES

#: class -> (hex colour, Dutch label)
LANDCOVER: dict[str, tuple[str, str]] = {
    "building": ("#b5544a", "Gebouw"),
    "road_paved": ("#8c8c8c", "Verharde weg"),
    "road_unpaved": ("#d9c7a3", "Onverharde weg"),
    "paved_other": ("#c8c8c8", "Overige verharding"),
    "green_low": ("#a6d96a", "Gras en laag groen"),
    "green_shrub": ("#5aae61", "Struiken en heesters"),
    "green_trees": ("#1b7837", "Bos en bomen"),
    "agriculture": ("#f1e8a6", "Landbouw"),
    "bare": ("#e8dcc8", "Kaal (zand, onverhard)"),
    "water": ("#4a90d9", "Water"),
}


def hex_to_rgba(value: str, alpha: int = 255) -> tuple[int, int, int, int]:
    """``#rrggbb`` to an RGBA tuple of 0-255 ints."""
    value = value.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16), alpha


def landcover_colormap() -> dict[int, tuple[int, int, int, int]]:
    """GDAL colour table for the classified land-cover raster (code 0 transparent)."""
    cmap = {0: (0, 0, 0, 0)}
    for name, (colour, _label) in LANDCOVER.items():
        cmap[LANDCOVER_CODES[name]] = hex_to_rgba(colour)
    return cmap


#: style id -> output name -> colour table for classified rasters.
RASTER_COLORMAPS = {"landcover": {"landcover": landcover_colormap}}


def raster_colormap(style_id: str, output: str) -> dict[int, tuple[int, int, int, int]] | None:
    """Colour table to embed in a classified COG, or None for continuous rasters."""
    factory = RASTER_COLORMAPS.get(style_id, {}).get(output)
    return None if factory is None else factory()
