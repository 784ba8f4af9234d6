"""OGC WMTS 1.0.0 capabilities (RESTful encoding) for every raster layer the caller may see.

Each layer is offered in both tile matrix sets (``WebMercatorQuad``, EPSG:3857, and
``NetherlandsRDNewQuad``, EPSG:28992) with its layer id as identifier, one default
style with a legend URL, WGS84 and native bounding boxes, and tile matrix set
limits down to the level of the raster's resolution. Tiles are the same PNG
default-style tiles as ``/layers/{id}/tiles/{TileMatrixSet}/{z}/{x}/{y}.png``.

Element order follows the WMTS 1.0.0 schema (OGC 07-057r7, ``wmtsGetCapabilities_response.xsd``);
CRS are given as OGC URNs (``urn:ogc:def:crs:EPSG::28992``), whose axis order for
both sets is easting, northing, as in ``TopLeftCorner``.
"""

from __future__ import annotations

from typing import Any

import morecantile
from fastapi import APIRouter, Request, Response
from lxml import etree
from rasterio.warp import transform_bounds

from layers import catalog as cat
from services.access import Caller
from services.http import CallerDep, StoreDep, base_url, conditional
from services.store import CatalogStore
from tiles.prerender import DENSIFY_POINTS, TILE_MEDIA_TYPE, tile_range
from tiles.tms import TMS_IDS, WEB_MERCATOR_QUAD, get_tms

WMTS_NS = "http://www.opengis.net/wmts/1.0"
OWS_NS = "http://www.opengis.net/ows/1.1"
XLINK_NS = "http://www.w3.org/1999/xlink"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
SCHEMA_LOCATION = f"{WMTS_NS} http://schemas.opengis.net/wmts/1.0/wmtsGetCapabilities_response.xsd"
NSMAP = {None: WMTS_NS, "ows": OWS_NS, "xlink": XLINK_NS, "xsi": XSI_NS}
#: OGC well-known scale set of the web tiling scheme.
WELL_KNOWN_SCALE_SETS = {WEB_MERCATOR_QUAD: "urn:ogc:def:wkss:OGC:1.0:GoogleMapsCompatible"}
XML_MEDIA_TYPE = "application/xml"
DEFAULT_STYLE = "default"
#: Significant digits of coordinates and scales in the document.
COORD_FORMAT = "{:.10g}"


def _ows(tag: str) -> str:
    return f"{{{OWS_NS}}}{tag}"


def _wmts(tag: str) -> str:
    return f"{{{WMTS_NS}}}{tag}"


def _sub(parent: etree._Element, tag: str, text: str | None = None, **attrib: str) -> etree._Element:
    element = etree.SubElement(parent, tag, attrib)
    if text is not None:
        element.text = text
    return element


def _fmt(*values: float) -> str:
    return " ".join(COORD_FORMAT.format(v) for v in values)


def urn(tms: morecantile.TileMatrixSet) -> str:
    """OGC URN of a tile matrix set's CRS (``urn:ogc:def:crs:EPSG::28992``)."""
    epsg = tms.rasterio_crs.to_epsg()
    return f"urn:ogc:def:crs:EPSG::{epsg}"


def _tile_matrix_set(contents: etree._Element, tms_id: str) -> None:
    tms = get_tms(tms_id)
    node = _sub(contents, _wmts("TileMatrixSet"))
    _sub(node, _ows("Title"), tms.title or tms_id)
    _sub(node, _ows("Identifier"), tms_id)
    _sub(node, _ows("SupportedCRS"), urn(tms))
    if tms_id in WELL_KNOWN_SCALE_SETS:
        _sub(node, _wmts("WellKnownScaleSet"), WELL_KNOWN_SCALE_SETS[tms_id])
    for matrix in tms.tileMatrices:
        m = _sub(node, _wmts("TileMatrix"))
        _sub(m, _ows("Identifier"), matrix.id)
        _sub(m, _wmts("ScaleDenominator"), COORD_FORMAT.format(matrix.scaleDenominator))
        _sub(m, _wmts("TopLeftCorner"), _fmt(*matrix.pointOfOrigin))
        _sub(m, _wmts("TileWidth"), str(matrix.tileWidth))
        _sub(m, _wmts("TileHeight"), str(matrix.tileHeight))
        _sub(m, _wmts("MatrixWidth"), str(matrix.matrixWidth))
        _sub(m, _wmts("MatrixHeight"), str(matrix.matrixHeight))


def native_maxzoom(store: CatalogStore, entry: cat.LayerEntry, output: str, tms_id: str) -> int:
    """Deepest level of ``tms_id`` the raster's resolution supports (the pre-rendered maximum)."""
    archive = store.prerendered(entry, output, tms_id)
    if archive is not None:
        return archive.maxzoom
    return int(store.raster_reader(store.raster_file(entry, output), tms_id).maxzoom)


def _layer(
    contents: etree._Element, store: CatalogStore, entry: cat.LayerEntry, output: str, identifier: str, base: str
) -> None:
    node = _sub(contents, _wmts("Layer"))
    _sub(node, _ows("Title"), entry.title.get("nl", entry.id))
    _sub(node, _ows("Abstract"), entry.description.get("nl", ""))
    west, south, east, north = entry.bounds["EPSG:4326"]
    wgs = _sub(node, _ows("WGS84BoundingBox"))
    _sub(wgs, _ows("LowerCorner"), _fmt(west, south))
    _sub(wgs, _ows("UpperCorner"), _fmt(east, north))
    _sub(node, _ows("Identifier"), identifier)
    native = entry.bounds.get(entry.crs)
    xy: dict[str, tuple[float, float, float, float]] = {}
    for tms_id in TMS_IDS:
        tms = get_tms(tms_id)
        if native is not None:
            xy[tms_id] = transform_bounds(entry.crs, tms.rasterio_crs, *native, densify_pts=DENSIFY_POINTS)
        else:
            xy[tms_id] = transform_bounds("EPSG:4326", tms.rasterio_crs, west, south, east, north)
        box = _sub(node, _ows("BoundingBox"), crs=urn(tms))
        _sub(box, _ows("LowerCorner"), _fmt(*xy[tms_id][:2]))
        _sub(box, _ows("UpperCorner"), _fmt(*xy[tms_id][2:]))
    style = _sub(node, _wmts("Style"), isDefault="true")
    _sub(style, _ows("Title"), "Standaard")
    _sub(style, _ows("Identifier"), DEFAULT_STYLE)
    query = "" if identifier == entry.id else f"?output={output}"
    _sub(
        style,
        _wmts("LegendURL"),
        format="image/png",
        **{f"{{{XLINK_NS}}}href": f"{base}/layers/{entry.id}/legend.png?output={output}"},
    )
    _sub(node, _wmts("Format"), TILE_MEDIA_TYPE)
    for tms_id in TMS_IDS:
        tms = get_tms(tms_id)
        link = _sub(node, _wmts("TileMatrixSetLink"))
        _sub(link, _wmts("TileMatrixSet"), tms_id)
        limits = _sub(link, _wmts("TileMatrixSetLimits"))
        for z in range(tms.minzoom, native_maxzoom(store, entry, output, tms_id) + 1):
            found = tile_range(tms, xy[tms_id], z)
            if found is None:
                continue
            first_col, last_col, first_row, last_row = found
            lim = _sub(limits, _wmts("TileMatrixLimits"))
            _sub(lim, _wmts("TileMatrix"), str(z))
            _sub(lim, _wmts("MinTileRow"), str(first_row))
            _sub(lim, _wmts("MaxTileRow"), str(last_row))
            _sub(lim, _wmts("MinTileCol"), str(first_col))
            _sub(lim, _wmts("MaxTileCol"), str(last_col))
    template = f"{base}/layers/{entry.id}/tiles/{{TileMatrixSet}}/{{TileMatrix}}/{{TileCol}}/{{TileRow}}.png{query}"
    _sub(node, _wmts("ResourceURL"), format=TILE_MEDIA_TYPE, resourceType="tile", template=template)


def capabilities(store: CatalogStore, caller: Caller, base: str) -> bytes:
    """The capabilities document (UTF-8 XML) for the layers ``caller`` may see."""
    catalog = store.catalog()
    root = etree.Element(_wmts("Capabilities"), nsmap=NSMAP, version="1.0.0")  # type: ignore[arg-type]
    root.set(f"{{{XSI_NS}}}schemaLocation", SCHEMA_LOCATION)
    ident = _sub(root, _ows("ServiceIdentification"))
    region = str(catalog.region.get("name", ""))
    _sub(ident, _ows("Title"), f"kaartlaag {region}".strip())
    _sub(ident, _ows("Abstract"), "Kaartlagen uit de basisregistraties (BGT, BAG, AHN, CBS).")
    _sub(ident, _ows("ServiceType"), "OGC WMTS")
    _sub(ident, _ows("ServiceTypeVersion"), "1.0.0")
    url = f"{base}/wmts/WMTSCapabilities.xml"
    contents = _sub(root, _wmts("Contents"))
    for entry in store.layers(caller):
        outputs = store.raster_outputs(entry)
        for i, output in enumerate(outputs):
            _layer(contents, store, entry, output, entry.id if i == 0 else f"{entry.id}:{output}", base)
    for tms_id in TMS_IDS:
        _tile_matrix_set(contents, tms_id)
    _sub(root, _wmts("ServiceMetadataURL"), **{f"{{{XLINK_NS}}}href": url})
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def wmts_router(max_age: int) -> APIRouter:
    """The WMTS capabilities route."""
    router = APIRouter(tags=["WMTS"])
    responses: dict[int | str, dict[str, Any]] = {200: {"content": {XML_MEDIA_TYPE: {}}}}

    @router.get("/wmts/WMTSCapabilities.xml", summary="OGC WMTS 1.0.0 capabilities (RESTful)", responses=responses)
    def wmts_capabilities(request: Request, caller: CallerDep, store: StoreDep) -> Response:
        body = capabilities(store, caller, base_url(request))
        return conditional(request, body, XML_MEDIA_TYPE, internal=caller.internal, max_age=max_age)

    return router
