"""Default styles of vector outputs as drawing rules, turned into MapLibre layers, legends and QGIS styles.

A rule draws the features of one tile layer (``source_layer``, the output name),
optionally only those whose attribute ``field`` equals ``value``, as a fill,
line or circle in one colour, with a Dutch legend label. The base map uses
light, low-contrast colours so thematic layers stand out on top of it; land
cover uses the class colours of ``styles.palettes`` (the same as its raster).
Layers without a registered style get one rule per tile layer, by geometry
type, in the Okabe-Ito palette (Okabe and Ito, "Color Universal Design", 2008),
which stays distinguishable for the common forms of colour blindness.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from styles.palettes import LANDCOVER

Geometry = Literal["fill", "line", "circle"]

#: Okabe-Ito colours (black left out: it is kept for outlines and text).
OKABE_ITO = ("#e69f00", "#56b4e9", "#009e73", "#f0e442", "#0072b2", "#d55e00", "#cc79a7")
#: Background of every map (light paper tone).
BACKGROUND = "#f5f3ef"
#: Outline of filled shapes without their own outline colour.
DEFAULT_OUTLINE = "#4d4d4d"
#: tippecanoe ``tilestats`` geometry names -> rule geometry.
TILESTATS_GEOMETRY: dict[str, Geometry] = {"Polygon": "fill", "LineString": "line", "Point": "circle"}


@dataclass(frozen=True)
class VectorRule:
    """How to draw (part of) one tile layer.

    Attributes:
        source_layer: tile layer name (the vector output).
        geometry: ``fill``, ``line`` or ``circle``.
        colour: ``#rrggbb``.
        label: Dutch legend label.
        field: attribute to filter on (None: every feature).
        value: value of ``field`` this rule draws.
        outline: outline colour of fills (None: no outline).
        width: line width or circle radius in pixels.
    """

    source_layer: str
    geometry: Geometry
    colour: str
    label: str
    field: str | None = None
    value: Any = None
    outline: str | None = None
    width: float = 1.0


def landcover_rules() -> list[VectorRule]:
    """Land cover: one fill per canonical class."""
    return [
        VectorRule("landcover", "fill", colour, label, field="class", value=name)
        for name, (colour, label) in LANDCOVER.items()
    ]


def basemap_rules() -> list[VectorRule]:
    """The offline base map: water, green, paving, roads, buildings (drawn in that order)."""
    return [
        VectorRule("water", "fill", "#a9cfe9", "Water"),
        VectorRule("green", "fill", "#d3e8bd", "Groen"),
        VectorRule("paved", "fill", "#e6e2dc", "Verharding"),
        VectorRule("roads", "fill", "#ffffff", "Wegen", outline="#cfc8bd"),
        VectorRule("buildings", "fill", "#dcd2c9", "Gebouwen", outline="#b3a699"),
    ]


def _change_rules() -> list[VectorRule]:
    from styles.change import change_rules  # late: styles.change builds on this module

    return change_rules()


_REGISTRY: dict[str, Callable[[], list[VectorRule]]] = {
    "landcover": landcover_rules, "basemap": basemap_rules, "change": _change_rules,
}


def register_vector_style(style_id: str, factory: Callable[[], list[VectorRule]]) -> None:
    """Register the drawing rules of layers with ``style_id``.

    Raises:
        ValueError: when the style id is registered already.
    """
    if style_id in _REGISTRY:
        raise ValueError(f"vector style {style_id!r} is registered already")
    _REGISTRY[style_id] = factory


def _geometry_of(layer_id: str, tilestats: Mapping[str, Any] | None) -> Geometry:
    for stats in (tilestats or {}).get("layers", []):
        if stats.get("layer") == layer_id:
            return TILESTATS_GEOMETRY.get(str(stats.get("geometry")), "fill")
    return "fill"


def vector_rules(
    style_id: str, vector_layers: Sequence[Mapping[str, Any]], tilestats: Mapping[str, Any] | None = None
) -> list[VectorRule]:
    """The drawing rules of a layer: the registered ones, or one generic rule per tile layer.

    Args:
        style_id: the layer's style id.
        vector_layers: the TileJSON ``vector_layers`` of its archive (``id`` per tile layer).
        tilestats: tippecanoe's ``tilestats`` metadata (geometry type per tile layer), if any.

    Returns:
        Rules for tile layers present in ``vector_layers`` only (an empty output is
        not in the archive, and a MapLibre layer naming it would draw nothing).
    """
    present = [str(v["id"]) for v in vector_layers]
    factory = _REGISTRY.get(style_id)
    if factory is not None:
        return [r for r in factory() if r.source_layer in present]
    rules = []
    for i, layer_id in enumerate(present):
        geometry = _geometry_of(layer_id, tilestats)
        outline = DEFAULT_OUTLINE if geometry == "fill" else None
        width = 2.0 if geometry == "line" else 4.0 if geometry == "circle" else 1.0
        colour = OKABE_ITO[i % len(OKABE_ITO)]
        rules.append(VectorRule(layer_id, geometry, colour, layer_id, outline=outline, width=width))
    return rules


def vector_legend(title: str, rules: Sequence[VectorRule]) -> dict[str, Any]:
    """Legend as JSON-ready data: one item per distinct label, in drawing order."""
    items: list[dict[str, Any]] = []
    seen: set[str] = set()
    for rule in rules:
        if rule.label in seen:
            continue
        seen.add(rule.label)
        item: dict[str, Any] = {"colour": rule.colour, "label": rule.label, "geometry": rule.geometry}
        if rule.outline:
            item["outline"] = rule.outline
        items.append(item)
    return {"title": title, "type": "vector", "unit": "", "items": items}
