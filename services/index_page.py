"""The HTML overview for GIS staff (Dutch): every visible layer with preview, legend and copy-paste URLs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from layers import catalog as cat
from layers.source_ages import ages_now, oldest
from services.catalog_routes import layer_summary
from services.http import CallerDep, StoreDep, base_url, conditional
from services.store import CatalogStore

#: The base map under every layer the overview opens in the map, and the layer's opacity there (%).
BASEMAP_LAYER = "basemap"
MAP_OPACITY_PCT = 80
TEMPLATES = Path(__file__).resolve().parent / "templates"
_ENV = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))


def layer_urls(summary: dict[str, Any]) -> list[tuple[str, str]]:
    """The copy-paste URLs of a layer summary, with Dutch labels, in the order GIS staff need them."""
    links = summary["links"]
    urls: list[tuple[str, str]] = []
    if "xyz" in links:
        urls.append(("XYZ-tegels (PNG)", links["xyz"]))
        urls.append(("Tegels RD New (PNG)", links["xyz_rd"]))
        urls.append(("WMTS", links["wmts"]))
    if "tiles" in links:
        urls.append(("Vectortegels (MVT)", links["tiles"]))
    urls.append(("TileJSON", links["tilejson"]))
    urls.append(("MapLibre-stijl", links["style"]))
    if "pmtiles" in links:
        urls.append(("PMTiles", links["pmtiles"]))
    if "geopackage" in links:
        urls.append(("GeoPackage", links["geopackage"]))
    labels = {"parquet": "GeoParquet", "tif": "COG (GeoTIFF)"}
    for name, url in links["downloads"].items():
        suffix = name.rsplit(".", 1)[-1]
        if suffix in labels:
            urls.append((f"{labels[suffix]}: {name}", url))
    for name, url in links["qml"].items():
        urls.append((f"QGIS-stijl: {name}", url))
    return urls


def render_index(store: CatalogStore, entries: list[cat.LayerEntry], base: str, licence: str) -> str:
    """The overview page for ``entries``."""
    layers = []
    for entry in entries:
        summary = layer_summary(entry, base, store)
        summary["parameter_info"] = entry.parameter_info
        summary["urls"] = layer_urls(summary)
        # Each source's age today (registry dates stored at build time) and the oldest one.
        summary["source_ages"] = ages_now(entry.metadata.get("source_dates", {}))
        summary["oldest_source"] = oldest(summary["source_ages"])
        layers.append(summary)
    region = str(store.catalog().region.get("name", ""))
    map_links = {e.id: map_link(base, e.id) for e in entries}
    return _ENV.get_template("index.html").render(layers=layers, region=region, base=base, licence=licence,
                                                  map_links=map_links)


def map_link(base: str, layer_id: str) -> str:
    """The DIY map (``/map``) with the base map and ``layer_id`` on (the map's URL state, ``web/src/main.js``)."""
    on = [BASEMAP_LAYER] if layer_id == BASEMAP_LAYER else [BASEMAP_LAYER, layer_id]
    return f"{base}/map#l=" + "|".join(f"{i}~{100 if i == BASEMAP_LAYER else MAP_OPACITY_PCT}" for i in on)


def index_router(max_age: int, licence: str) -> APIRouter:
    """The overview page route."""
    router = APIRouter()

    @router.get("/", include_in_schema=False)
    def index(request: Request, caller: CallerDep, store: StoreDep) -> Response:
        page = render_index(store, store.layers(caller), base_url(request), licence)
        return conditional(
            request, page.encode("utf-8"), "text/html; charset=utf-8", internal=caller.internal, max_age=max_age
        )

    return router
