"""The DIY map (doe-het-zelf-kaart) at ``/map``: an HTML page, the bundled OpenLayers app, and its settings.

The JavaScript comes from npm at setup (``web/``: OpenLayers, proj4, bundled with esbuild by ``make web``
into ``services/static/map/``); the page loads nothing from elsewhere. Without a bundle ``/map`` answers
503 with a Dutch message saying how to build it.

The page carries what the app needs to start: the two tile matrix sets (origin, resolutions and extent of
``NetherlandsRDNewQuad`` and ``WebMercatorQuad``, read from ``tiles.tms``, the grids the server tiles in),
the region name, the Dutch labels of the assessment figures (``styles.assess_labels``, the report's labels),
and an optional external WMTS base map.

External base map (off by default; a request to another origin then leaves the browser):
``KAARTLAAG_MAP_EXTERNAL_BASEMAP`` = an XYZ/WMTS-REST URL template with ``{z}``, ``{x}``, ``{y}`` in
``NetherlandsRDNewQuad`` (``{TileMatrixSet}`` is replaced by that name), for example PDOK's BRT
Achtergrondkaart; ``KAARTLAAG_MAP_EXTERNAL_BASEMAP_NAME`` its label in the layer panel.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse, HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from geo.errors import NotFoundError
from services.http import CallerDep, StoreDep, base_url
from styles.assess_labels import FIGURES
from tiles.tms import NETHERLANDS_RD_NEW_QUAD, TMS_IDS, get_tms

TEMPLATES = Path(__file__).resolve().parent / "templates"
#: Where ``make web`` writes the bundle (gitignored).
STATIC = Path(__file__).resolve().parent / "static" / "map"
BUNDLE = "map.js"
_ENV = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))
_MEDIA = {".js": "text/javascript", ".css": "text/css", ".map": "application/json"}
#: Environment variables of the optional external base map.
EXTERNAL_BASEMAP_ENV = "KAARTLAAG_MAP_EXTERNAL_BASEMAP"
EXTERNAL_BASEMAP_NAME_ENV = "KAARTLAAG_MAP_EXTERNAL_BASEMAP_NAME"


def tile_grids() -> dict[str, dict[str, Any]]:
    """The tile grids of the server's tile matrix sets, as OpenLayers' ``TileGrid`` takes them (CRS units)."""
    grids = {}
    for tms_id in TMS_IDS:
        tms = get_tms(tms_id)
        matrices = list(tms.tileMatrices)
        first = matrices[0]
        origin = [float(first.pointOfOrigin[0]), float(first.pointOfOrigin[1])]
        if tms._invert_axis:  # morecantile keeps the axis order of the CRS (northing first in RD New)
            origin = origin[::-1]
        bounds = tms.xy_bbox
        grids[tms_id] = {
            "crs": f"EPSG:{tms.crs.to_epsg()}",
            "origin": origin,
            "resolutions": [float(m.cellSize) for m in matrices],
            "tileSize": int(first.tileWidth),
            "extent": [float(bounds.left), float(bounds.bottom), float(bounds.right), float(bounds.top)],
        }
    return grids


def map_config(region: str, base: str) -> dict[str, Any]:
    """What the app needs to start (see the module docstring)."""
    external = os.environ.get(EXTERNAL_BASEMAP_ENV, "").strip()
    return {
        "base": base,
        "region": region,
        "grids": tile_grids(),
        "defaultGrid": NETHERLANDS_RD_NEW_QUAD,
        "figures": {k: {"label": f.label, "unit": f.unit, "decimals": f.decimals, "better": f.higher_is_better}
                    for k, f in FIGURES.items()},
        "externalBasemap": (
            {"url": external.replace("{TileMatrixSet}", NETHERLANDS_RD_NEW_QUAD),
             "name": os.environ.get(EXTERNAL_BASEMAP_NAME_ENV, "Externe achtergrondkaart")}
            if external else None
        ),
    }


NO_BUNDLE = (
    "<!doctype html><html lang='nl'><meta charset='utf-8'><title>Kaart niet gebouwd</title>"
    "<body style='font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto'>"
    "<h1>De kaart is nog niet gebouwd</h1><p>De JavaScript-bundel van de doe-het-zelf-kaart ontbreekt. "
    "Bouw hem met <code>make web</code> (dat draait <code>npm ci</code> en esbuild in <code>web/</code>) "
    "en laad deze pagina opnieuw.</p><p><a href='/'>Naar het overzicht van de kaartlagen</a></p></body></html>"
)


def map_router() -> APIRouter:
    """``/map`` and its static files."""
    router = APIRouter(include_in_schema=False)

    @router.get("/map")
    def page(request: Request, store: StoreDep, caller: CallerDep) -> Response:
        if not (STATIC / BUNDLE).is_file():
            return HTMLResponse(NO_BUNDLE, status_code=503, headers={"Cache-Control": "no-store"})
        region = str(store.catalog().region.get("name", ""))
        config = map_config(region, base_url(request))
        html = _ENV.get_template("map.html").render(
            region=region, config=json.dumps(config, ensure_ascii=False).replace("</", "<\\/"),
            stamp=int((STATIC / BUNDLE).stat().st_mtime),
        )
        return HTMLResponse(html, headers={"Cache-Control": "no-cache"})

    @router.get("/map/static/{name}")
    def static(name: str) -> Response:
        path = (STATIC / name).resolve()
        if path.parent != STATIC.resolve() or not path.is_file() or path.suffix not in _MEDIA:
            raise NotFoundError(f"no map file {name!r}")
        return FileResponse(path, media_type=_MEDIA[path.suffix], headers={"Cache-Control": "no-cache"})

    return router
