"""QGIS layer styles (``.qml``) for the downloads, so GIS staff see the same colours and Dutch labels.

Raster: classified rasters get QGIS's *paletted* renderer (one entry per class
code); continuous rasters a *singleband pseudocolor* renderer with a discrete
colour ramp whose items are the upper class bounds (QGIS draws a value with the
first item whose value is at least the value), clipped to the class range.
Vector (GeoParquet): a *categorized* renderer on the rule field, or a single
symbol. The documents follow the layout QGIS 3 writes (``<qgis>`` root, ``pipe``
for rasters, ``renderer-v2`` for vectors); QGIS loads a ``.qml`` with the same
base name as the data file automatically.
"""

from __future__ import annotations

from collections.abc import Sequence

from lxml import etree

from styles.raster import RasterStyle
from styles.vector import VectorRule

QGIS_VERSION = "3.34.0"
DOCTYPE = "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>"
#: Outline width of fills and width of lines in millimetres (QGIS's default unit).
OUTLINE_MM = "0.26"
LINE_MM = "0.6"
MARKER_MM = "2"


def _rgba(colour: str) -> str:
    value = colour.lstrip("#")
    return f"{int(value[0:2], 16)},{int(value[2:4], 16)},{int(value[4:6], 16)},255"


def _document(root: etree._Element) -> bytes:
    body = etree.tostring(root, encoding="unicode", pretty_print=True)
    return f"{DOCTYPE}\n{body}".encode()


def _option(parent: etree._Element, name: str, value: str) -> None:
    etree.SubElement(parent, "Option", name=name, value=value, type="QString")


def raster_qml(style: RasterStyle, band: int = 1) -> bytes:
    """QML of a raster style."""
    root = etree.Element("qgis", version=QGIS_VERSION, styleCategories="AllStyleCategories")
    pipe = etree.SubElement(root, "pipe")
    if style.kind == "classified":
        renderer = etree.SubElement(
            pipe, "rasterrenderer", type="paletted", band=str(band), opacity="1", alphaBand="-1", nodataColor=""
        )
        etree.SubElement(renderer, "rasterTransparency")
        palette = etree.SubElement(renderer, "colorPalette")
        for c in style.classes:
            etree.SubElement(palette, "paletteEntry", value=str(c.value), color=c.colour, alpha="255", label=c.label)
    else:
        lows = [c.lower for c in style.classes if c.lower is not None]
        highs = [c.upper for c in style.classes if c.upper is not None]
        low, high = (min(lows) if lows else 0.0), (max(highs) if highs else 0.0)
        renderer = etree.SubElement(
            pipe,
            "rasterrenderer",
            type="singlebandpseudocolor",
            band=str(band),
            opacity="1",
            alphaBand="-1",
            classificationMin=repr(low),
            classificationMax=repr(high),
            nodataColor="",
        )
        etree.SubElement(renderer, "rasterTransparency")
        shader = etree.SubElement(etree.SubElement(renderer, "rastershader"), "colorrampshader")
        shader.attrib.update(
            {
                "colorRampType": "DISCRETE",
                "classificationMode": "1",
                "clip": "1",
                "minimumValue": repr(low),
                "maximumValue": repr(high),
            }
        )
        for c in style.classes:
            upper = "inf" if c.upper is None else repr(c.upper)
            etree.SubElement(shader, "item", value=upper, color=c.colour, alpha="255", label=c.label)
    etree.SubElement(pipe, "brightnesscontrast", brightness="0", contrast="0", gamma="1")
    etree.SubElement(pipe, "rasterresampler", maxOversampling="2")
    etree.SubElement(root, "blendMode").text = "0"
    return _document(root)


def _symbol(parent: etree._Element, name: str, rule: VectorRule) -> None:
    kind = {"fill": "fill", "line": "line", "circle": "marker"}[rule.geometry]
    symbol = etree.SubElement(parent, "symbol", type=kind, name=name, alpha="1", clip_to_extent="1", force_rhr="0")
    layer_class = {"fill": "SimpleFill", "line": "SimpleLine", "circle": "SimpleMarker"}[rule.geometry]
    layer = etree.SubElement(symbol, "layer", attrib={"class": layer_class, "enabled": "1", "locked": "0", "pass": "0"})
    options = etree.SubElement(layer, "Option", type="Map")
    if rule.geometry == "fill":
        _option(options, "color", _rgba(rule.colour))
        _option(options, "style", "solid")
        _option(options, "outline_color", _rgba(rule.outline or rule.colour))
        _option(options, "outline_style", "solid" if rule.outline else "no")
        _option(options, "outline_width", OUTLINE_MM)
    elif rule.geometry == "line":
        _option(options, "line_color", _rgba(rule.colour))
        _option(options, "line_width", LINE_MM)
        _option(options, "line_style", "solid")
    else:
        _option(options, "color", _rgba(rule.colour))
        _option(options, "name", "circle")
        _option(options, "size", MARKER_MM)
        _option(options, "outline_color", "255,255,255,255")


def vector_qml(rules: Sequence[VectorRule]) -> bytes:
    """QML of the rules of one tile layer (one GeoParquet output): categorized when they filter on a field."""
    root = etree.Element("qgis", version=QGIS_VERSION, styleCategories="Symbology")
    fields = {r.field for r in rules}
    if len(rules) > 1 and len(fields) == 1 and None not in fields:
        renderer = etree.SubElement(
            root,
            "renderer-v2",
            type="categorizedSymbol",
            attr=str(rules[0].field),
            symbollevels="0",
            enableorderby="0",
            forceraster="0",
        )
        categories = etree.SubElement(renderer, "categories")
        symbols = etree.SubElement(renderer, "symbols")
        for i, rule in enumerate(rules):
            etree.SubElement(
                categories, "category", value=str(rule.value), symbol=str(i), label=rule.label, render="true"
            )
            _symbol(symbols, str(i), rule)
    else:
        renderer = etree.SubElement(
            root, "renderer-v2", type="singleSymbol", symbollevels="0", enableorderby="0", forceraster="0"
        )
        _symbol(etree.SubElement(renderer, "symbols"), "0", rules[0])
    return _document(root)
