"""The FastAPI application: catalog pages, metadata, vector tiles and downloads.

Routes are registered by small factory functions; library errors become HTTP
answers through one table (``services.errors``). Layer ids index the catalog;
a request never names a file-system path.
"""

from __future__ import annotations

import html
from typing import Any

from fastapi import APIRouter, FastAPI, Path, Request, Response
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, HTMLResponse

from geo.errors import NotFoundError
from layers import catalog as cat
from services.errors import add_exception_handlers
from services.settings import ServerSettings
from services.store import CatalogStore

MAX_ZOOM = 24
_PMTILES_GZIP = 2  # pmtiles.tile.Compression.GZIP
LayerId = Path(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$", description="Layer id from the catalog.")


def layer_summary(entry: cat.LayerEntry, base: str) -> dict[str, Any]:
    """Public description of a layer: metadata and URLs, no file-system paths."""
    links: dict[str, Any] = {"self": f"{base}/layers/{entry.id}"}
    if any(f.format == "pmtiles" for f in entry.files):
        links["tilejson"] = f"{base}/layers/{entry.id}/tilejson.json"
        links["tiles"] = f"{base}/layers/{entry.id}/tiles/{{z}}/{{x}}/{{y}}.mvt"
        links["pmtiles"] = f"{base}/layers/{entry.id}.pmtiles"
    links["downloads"] = {f.name: f"{base}/layers/{entry.id}/download/{f.name}" for f in entry.files}
    return {
        "id": entry.id,
        "title": entry.title,
        "description": entry.description,
        "kind": entry.kind,
        "version": entry.version,
        "built_at": entry.built_at,
        "access": entry.access,
        "style_id": entry.style_id,
        "bounds": entry.bounds,
        "crs": entry.crs,
        "minzoom": entry.minzoom,
        "maxzoom": entry.maxzoom,
        "parameters": entry.parameters,
        "references": entry.references,
        "attribution": entry.metadata.get("attribution", ""),
        "links": links,
    }


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def catalog_router(store: CatalogStore) -> APIRouter:
    """Routes for the layer list, layer metadata and downloads."""
    router = APIRouter()

    @router.get("/layers", summary="All published layers")
    def list_layers(request: Request) -> list[dict[str, Any]]:
        base = _base(request)
        return [layer_summary(e, base) for e in store.catalog().layers.values() if e.access == "public"]

    @router.get("/layers/{layer_id}", summary="Metadata of one layer")
    def get_layer(request: Request, layer_id: str = LayerId) -> dict[str, Any]:
        entry = _public(store, layer_id)
        return {
            **layer_summary(entry, _base(request)),
            "parameter_info": entry.parameter_info,
            "metadata": entry.metadata,
            "inputs": entry.inputs,
            "versions": [v.model_dump(exclude={"path"}) for v in entry.versions],
        }

    @router.get("/layers/{layer_id}/download/{name}", summary="Download a published file")
    def download(
        layer_id: str = LayerId, name: str = Path(pattern=r"^[A-Za-z0-9_.-]{1,128}$")
    ) -> FileResponse:
        entry = _public(store, layer_id)
        match = next((f for f in entry.files if f.name == name), None)
        if match is None:
            raise NotFoundError(f"layer {layer_id} has no file {name!r}")
        return FileResponse(
            store.file_path(match), media_type=match.media_type, filename=f"{layer_id}-{entry.version}-{name}"
        )

    return router


def vector_tile_router(store: CatalogStore) -> APIRouter:
    """Routes for vector tiles read from the PMTiles archive of a layer."""
    router = APIRouter()

    @router.get("/layers/{layer_id}.pmtiles", summary="The PMTiles archive (HTTP range requests)")
    def archive(layer_id: str = LayerId) -> FileResponse:
        entry = _public(store, layer_id)
        f = entry.file(entry.id, "vector")
        return FileResponse(store.file_path(f), media_type=f.media_type)

    @router.get("/layers/{layer_id}/tiles/{z}/{x}/{y}.mvt", summary="A Mapbox vector tile")
    def tile(
        layer_id: str = LayerId, z: int = Path(ge=0, le=MAX_ZOOM), x: int = Path(ge=0), y: int = Path(ge=0)
    ) -> Response:
        if x >= 2**z or y >= 2**z:
            raise NotFoundError(f"tile {z}/{x}/{y} is outside the tile matrix")
        entry = _public(store, layer_id)
        reader = store.pmtiles(entry.file(entry.id, "vector"))
        data = reader.get(z, x, y)
        if not data:
            return Response(status_code=204)
        headers = {"Cache-Control": "public, max-age=60"}
        if reader.header()["tile_compression"].value == _PMTILES_GZIP:
            headers["Content-Encoding"] = "gzip"
        return Response(data, media_type="application/vnd.mapbox-vector-tile", headers=headers)

    @router.get("/layers/{layer_id}/tilejson.json", summary="TileJSON 3.0.0")
    def tilejson(request: Request, layer_id: str = LayerId) -> dict[str, Any]:
        entry = _public(store, layer_id)
        meta = store.pmtiles(entry.file(entry.id, "vector")).metadata()
        base = _base(request)
        return {
            "tilejson": "3.0.0",
            "name": entry.title.get("nl", entry.id),
            "description": entry.description.get("nl", ""),
            "version": entry.version,
            "attribution": entry.metadata.get("attribution", ""),
            "scheme": "xyz",
            "tiles": [f"{base}/layers/{entry.id}/tiles/{{z}}/{{x}}/{{y}}.mvt"],
            "minzoom": entry.minzoom,
            "maxzoom": entry.maxzoom,
            "bounds": entry.bounds["EPSG:4326"],
            "vector_layers": meta.get("vector_layers", []),
        }

    return router


def _public(store: CatalogStore, layer_id: str) -> cat.LayerEntry:
    entry = store.layer(layer_id)
    if entry.access != "public":
        # Internal layers do not exist for callers without a key (see the access issue).
        raise NotFoundError(f"unknown layer {layer_id!r}")
    return entry


def index_router(store: CatalogStore) -> APIRouter:
    """The HTML overview for GIS staff (Dutch)."""
    router = APIRouter()

    @router.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index(request: Request) -> str:
        base = _base(request)
        catalog = store.catalog()
        rows = []
        for e in catalog.layers.values():
            if e.access != "public":
                continue
            s = layer_summary(e, base)
            urls = "".join(
                f"<li>{html.escape(k)}: <code>{html.escape(v)}</code></li>"
                for k, v in s["links"].items()
                if isinstance(v, str)
            )
            rows.append(
                f"<section><h2>{html.escape(e.title.get('nl', e.id))} <small>({html.escape(e.id)})</small></h2>"
                f"<p>{html.escape(e.description.get('nl', ''))}</p>"
                f"<p>Versie <b>{html.escape(e.version)}</b>, bijgewerkt {html.escape(e.built_at)}. "
                f"Bron: {html.escape(str(s['attribution']))}</p><ul>{urls}</ul></section>"
            )
        region = html.escape(str(catalog.region.get("name", "")))
        body = "".join(rows) or "<p>Nog geen lagen gepubliceerd. Draai <code>kaartlaag build</code>.</p>"
        return (
            "<!doctype html><html lang='nl'><head><meta charset='utf-8'>"
            f"<title>kaartlaag: {region}</title></head><body><h1>Kaartlagen {region}</h1>{body}"
            "<p><a href='/docs'>API-documentatie</a></p></body></html>"
        )

    @router.get("/healthz", summary="Liveness and catalog status")
    def healthz() -> dict[str, Any]:
        return {"status": "ok", "layers": len(store.catalog().layers)}

    return router


def create_app(settings: ServerSettings | None = None) -> FastAPI:
    """Build the application for one catalog folder."""
    settings = settings or ServerSettings()
    store = CatalogStore(settings.catalog)
    app = FastAPI(title="kaartlaag", description="Kaartlagen uit de basisregistraties", version="0.1.0")
    app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["GET", "HEAD"])
    add_exception_handlers(app)
    app.include_router(index_router(store))
    # Vector routes first: `/layers/{id}.pmtiles` must win over `/layers/{id}`.
    app.include_router(vector_tile_router(store))
    app.include_router(catalog_router(store))
    app.state.store = store
    return app
