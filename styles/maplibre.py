"""MapLibre GL style documents (style specification v8) for one layer on top of the offline base map.

A style names only kaartlaag's own sources (TileJSON URLs of vector layers, PNG
tile URLs of raster layers) and has no ``glyphs`` or ``sprite``: it draws no text
or icons, so a map opens without any internet service. The base map layer of the
catalog, when published, is drawn underneath.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from styles.vector import BACKGROUND, VectorRule

#: MapLibre style specification version.
STYLE_VERSION = 8
#: Opacity of thematic fills over the base map.
FILL_OPACITY = 0.85
#: Opacity of raster layers over the base map.
RASTER_OPACITY = 0.85
BASEMAP_SOURCE = "basemap"
RASTER_TILE_SIZE = 256


def rule_layers(source: str, rules: Sequence[VectorRule], prefix: str, opacity: float = 1.0) -> list[dict[str, Any]]:
    """MapLibre layers drawing ``rules`` from vector source ``source``."""
    layers: list[dict[str, Any]] = []
    for i, rule in enumerate(rules):
        base: dict[str, Any] = {
            "id": f"{prefix}-{rule.source_layer}-{i}",
            "source": source,
            "source-layer": rule.source_layer,
        }
        if rule.field is not None:
            base["filter"] = ["==", ["get", rule.field], rule.value]
        if rule.geometry == "fill":
            layers.append({**base, "type": "fill", "paint": {"fill-color": rule.colour, "fill-opacity": opacity}})
            if rule.outline:
                layers.append(
                    {
                        **base,
                        "id": f"{base['id']}-rand",
                        "type": "line",
                        "paint": {"line-color": rule.outline, "line-width": rule.width},
                    }
                )
        elif rule.geometry == "line":
            layers.append({**base, "type": "line", "paint": {"line-color": rule.colour, "line-width": rule.width}})
        else:
            layers.append(
                {
                    **base,
                    "type": "circle",
                    "paint": {
                        "circle-color": rule.colour,
                        "circle-radius": rule.width,
                        "circle-stroke-color": "#ffffff",
                        "circle-stroke-width": 1,
                    },
                }
            )
    return layers


def _frame(name: str, center: Sequence[float], zoom: float, metadata: dict[str, Any]) -> dict[str, Any]:
    return {
        "version": STYLE_VERSION,
        "name": name,
        "metadata": metadata,
        "center": [round(center[0], 7), round(center[1], 7)],
        "zoom": zoom,
        "sources": {},
        "layers": [{"id": "achtergrond", "type": "background", "paint": {"background-color": BACKGROUND}}],
    }


def layer_style(
    *,
    name: str,
    layer_id: str,
    bounds: Sequence[float],
    zoom: float,
    metadata: dict[str, Any],
    vector_tilejson: str | None = None,
    rules: Sequence[VectorRule] = (),
    raster_tiles: str | None = None,
    raster_zooms: tuple[int, int] | None = None,
    attribution: str = "",
    basemap_tilejson: str | None = None,
    basemap_rules: Sequence[VectorRule] = (),
) -> dict[str, Any]:
    """The MapLibre style of one layer.

    Args:
        name: style name (the Dutch layer title).
        layer_id: the layer id (source id and layer id prefix).
        bounds: (west, south, east, north) in degrees, for the initial view.
        zoom: initial zoom.
        metadata: extra ``metadata`` entries (layer id, version).
        vector_tilejson: TileJSON URL of the layer's vector tiles (vector layers).
        rules: drawing rules of the vector tiles.
        raster_tiles: XYZ URL template of the default-style PNG tiles (raster layers).
        raster_zooms: (minzoom, maxzoom) of the raster tiles (clients overzoom beyond).
        attribution: attribution of a raster source.
        basemap_tilejson: TileJSON URL of the base map drawn underneath (None: none).
        basemap_rules: drawing rules of the base map.
    """
    west, south, east, north = bounds
    style = _frame(name, ((west + east) / 2, (south + north) / 2), zoom, metadata)
    if basemap_tilejson is not None:
        style["sources"][BASEMAP_SOURCE] = {"type": "vector", "url": basemap_tilejson}
        style["layers"] += rule_layers(BASEMAP_SOURCE, basemap_rules, "ondergrond")
    if vector_tilejson is not None:
        style["sources"][layer_id] = {"type": "vector", "url": vector_tilejson}
        opacity = 1.0 if basemap_tilejson is None else FILL_OPACITY
        style["layers"] += rule_layers(layer_id, rules, layer_id, opacity)
    elif raster_tiles is not None:
        source: dict[str, Any] = {
            "type": "raster",
            "tiles": [raster_tiles],
            "tileSize": RASTER_TILE_SIZE,
            "bounds": list(bounds),
            "attribution": attribution,
        }
        if raster_zooms is not None:
            source["minzoom"], source["maxzoom"] = raster_zooms
        style["sources"][layer_id] = source
        style["layers"].append(
            {"id": layer_id, "type": "raster", "source": layer_id, "paint": {"raster-opacity": RASTER_OPACITY}}
        )
    return style
