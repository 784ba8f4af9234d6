"""The FastAPI application: catalog, tiles, WMTS, styles and legends, TiTiler analysis, the HTML overview.

Routes are registered by small factory functions in their own modules; library
errors become HTTP answers through one table (``services.errors``). Layer ids
index the catalog; a request never names a file-system path. Internal layers
exist only for callers with a valid API key (``services.access``).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from geo.warmup import load_kernels
from services.assess_routes import assess_router
from services.benchmark_routes import benchmark_router
from services.catalog_routes import catalog_router
from services.dynamic import mount_titiler
from services.errors import add_exception_handlers
from services.fastpath import FastTilePath
from services.guard import RequestGuard, limit_worker_memory
from services.history_routes import history_router
from services.index_page import index_router
from services.map_api import map_api_router
from services.map_page import map_router
from services.settings import ServerSettings
from services.store import CatalogStore
from services.style_routes import style_router
from services.tile_routes import MAX_ZOOM, tile_router
from services.tiles import TileService
from services.wmts import wmts_router

DESCRIPTION = (
    "Kaartlagen uit de basisregistraties (BGT, BAG, AHN, CBS) voor gemeentelijke geoportalen: "
    "vectortegels, rastertegels in WebMercatorQuad en NetherlandsRDNewQuad, TileJSON, WMTS, "
    "stijlen en legenda's. Interne lagen vragen een API-sleutel (`Authorization: Bearer SLEUTEL` "
    "of `X-API-Key`)."
)


#: Seconds a worker gets to finish its requests on SIGTERM before it is killed.
SHUTDOWN_GRACE_S = 3


def create_worker_app() -> FastTilePath:
    """The application of one server worker process: ``create_app`` with the worker's memory ceiling applied.

    ``kaartlaag serve`` starts workers with this factory; tests and embedding code use
    ``create_app``, which leaves the process's limits alone.
    """
    settings = ServerSettings()
    # The compiled kernels (and their thread pool) load before the ceiling, once: the first assessment then
    # answers as fast as the next, and no allocation of the loader meets the ceiling mid-request.
    load_kernels()
    limit_worker_memory(settings.limits.worker_memory_mb)
    return create_app(settings)


def create_app(settings: ServerSettings | None = None) -> FastTilePath:
    """Build the application for one catalog folder.

    Returns the FastAPI app behind the tile fast path (``services.fastpath``); it
    behaves as the FastAPI app (``state``, ``openapi`` and so on are the app's).
    """
    settings = settings or ServerSettings()
    store = CatalogStore(settings.catalog)
    tiles = TileService(store, max_age=settings.max_age, vector_max_zoom=MAX_ZOOM)
    app = FastAPI(title="kaartlaag", description=DESCRIPTION, version="0.1.0")
    app.state.store = store
    app.state.settings = settings
    app.state.tiles = tiles
    add_exception_handlers(app, settings.limits.retry_after_s)
    app.include_router(index_router(settings.max_age, settings.licence))
    # Tile routes first: `/layers/{id}.pmtiles` must win over `/layers/{id}`.
    app.include_router(tile_router(tiles))
    app.include_router(wmts_router(settings.max_age))
    app.include_router(style_router(settings.max_age))
    cache_dir = settings.cache_dir or Path(tempfile.mkdtemp(prefix="kaartlaag-cache-"))
    app.include_router(catalog_router(settings.max_age, cache_dir))
    app.include_router(assess_router(settings.catalog, settings.limits))
    app.include_router(benchmark_router(settings.max_age))
    app.include_router(history_router(settings.max_age))
    app.include_router(map_router())
    app.include_router(map_api_router(settings.catalog, settings.max_age))
    mount_titiler(app, store, settings.limits)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_methods=["GET", "HEAD", "POST"],
        allow_headers=["Authorization", "X-API-Key", "If-None-Match", "Range", "Content-Type"],
        expose_headers=["ETag", "Content-Length", "Content-Range"],
    )
    guarded = RequestGuard(
        app,
        budget_s=settings.limits.request_budget_s,
        retry_after_s=settings.limits.retry_after_s,
        max_age=settings.max_age,
    )
    return FastTilePath(app, guarded, tiles=tiles, cors_origins=settings.cors_origins)
