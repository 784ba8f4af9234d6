"""Tile routes: vector tiles (MVT from PMTiles), raster tiles (PNG, default style), TileJSON, archives.

Every tile route exists unversioned (short max-age plus ETag) and under
``/layers/{id}/v/{version}/`` (immutable). The hot routes are also answered by
``services.fastpath`` before FastAPI is involved; both call ``services.tiles``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse

from geo.errors import NotFoundError
from layers import catalog as cat
from services.http import (
    CallerDep,
    LayerId,
    StoreDep,
    add_layer_route,
    base_url,
    conditional,
    json_bytes,
    to_response,
)
from services.tiles import Answer, TileService, access_headers
from tiles.tms import TMS_IDS, WEB_MERCATOR_QUAD

#: Deepest zoom accepted in a tile URL (any tile matrix set).
MAX_ZOOM = 24
Z = Annotated[int, Path(ge=0, le=MAX_ZOOM, description="Zoom level (tile matrix identifier).", examples=[16])]
X = Annotated[int, Path(ge=0, description="Column.", examples=[33868])]
Y = Annotated[int, Path(ge=0, description="Row.", examples=[21636])]
TmsId = Annotated[
    str,
    Path(
        pattern=r"^[A-Za-z0-9]{1,64}$",
        description=f"Tile matrix set: {', '.join(TMS_IDS)}.",
        examples=list(TMS_IDS),
    ),
]
OutputQ = Annotated[
    str | None, Query(pattern=r"^[A-Za-z0-9_-]{1,64}$", description="Raster output (default: the first).")
]
PNG: dict[int | str, dict[str, Any]] = {200: {"content": {"image/png": {}}, "description": "PNG tile"}}
MVT: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/vnd.mapbox-vector-tile": {}}, "description": "Mapbox vector tile"},
    204: {"description": "Empty tile"},
}


async def _answer(result: Answer | Any) -> Response:
    if not isinstance(result, Answer):
        result = await run_in_threadpool(result)
    return to_response(result)


def tilejson_document(entry: cat.LayerEntry, base: str, store: Any) -> dict[str, Any]:
    """TileJSON 3.0.0 of a layer: its vector tiles, or (without vector tiles) its default raster tiles.

    Tile URLs name the version, so tiles are immutable and the TileJSON itself is the stable URL.
    """
    root = f"{base}/layers/{entry.id}/v/{entry.version}/tiles"
    doc: dict[str, Any] = {
        "tilejson": "3.0.0",
        "name": entry.title.get("nl", entry.id),
        "description": entry.description.get("nl", ""),
        "version": "1.0.0",
        "attribution": entry.metadata.get("attribution", ""),
        "scheme": "xyz",
        "bounds": entry.bounds["EPSG:4326"],
        "minzoom": entry.minzoom,
        "maxzoom": entry.maxzoom,
    }
    try:
        archive = store.archive(store.vector_archive_file(entry))
    except NotFoundError:
        return raster_tilejson(entry, base, store)
    doc["tiles"] = [f"{root}/{{z}}/{{x}}/{{y}}.mvt"]
    doc["vector_layers"] = archive.metadata.get("vector_layers", [])
    doc["maxzoom"] = archive.maxzoom
    return doc


def raster_tilejson(entry: cat.LayerEntry, base: str, store: Any, output: str | None = None) -> dict[str, Any]:
    """TileJSON 3.0.0 of a layer's default-style PNG tiles in WebMercatorQuad."""
    cog = store.raster_file(entry, output)
    archive = store.prerendered(entry, cog.output, WEB_MERCATOR_QUAD)
    query = "" if output is None else f"?output={output}"
    return {
        "tilejson": "3.0.0",
        "name": entry.title.get("nl", entry.id),
        "description": entry.description.get("nl", ""),
        "version": "1.0.0",
        "attribution": entry.metadata.get("attribution", ""),
        "scheme": "xyz",
        "tiles": [f"{base}/layers/{entry.id}/v/{entry.version}/tiles/{WEB_MERCATOR_QUAD}/{{z}}/{{x}}/{{y}}.png{query}"],
        "bounds": entry.bounds["EPSG:4326"],
        "minzoom": archive.minzoom if archive else entry.minzoom,
        "maxzoom": archive.maxzoom if archive else entry.maxzoom,
    }


def tile_router(tiles: TileService) -> APIRouter:
    """Routes for tiles, TileJSON and archives (each tile and TileJSON route also under ``/v/{version}``)."""
    router = APIRouter(tags=["Tegels"])
    max_age = tiles.max_age

    async def vector_tile(
        request: Request, layer_id: LayerId, version: str | None, z: Z, x: X, y: Y, caller: CallerDep
    ) -> Response:
        inm = request.headers.get("if-none-match")
        return await _answer(tiles.vector_tile(layer_id, z, x, y, version=version, caller=caller, if_none_match=inm))

    async def raster_tile(
        request: Request,
        layer_id: LayerId,
        version: str | None,
        tileMatrixSetId: TmsId,
        z: Z,
        x: X,
        y: Y,
        caller: CallerDep,
        output: OutputQ = None,
    ) -> Response:
        inm = request.headers.get("if-none-match")
        return await _answer(
            tiles.raster_tile(
                layer_id, tileMatrixSetId, z, x, y, version=version, caller=caller, if_none_match=inm, output=output
            )
        )

    def tilejson(
        request: Request, layer_id: LayerId, version: str | None, caller: CallerDep, store: StoreDep
    ) -> Response:
        entry = store.layer_version(layer_id, version, caller)
        body = json_bytes(tilejson_document(entry, base_url(request), store))
        return conditional(
            request, body, "application/json", entry=entry, versioned=version is not None, max_age=max_age
        )

    def raster_tilejson_route(
        request: Request,
        layer_id: LayerId,
        version: str | None,
        tileMatrixSetId: TmsId,
        caller: CallerDep,
        store: StoreDep,
        output: OutputQ = None,
    ) -> Response:
        if tileMatrixSetId != WEB_MERCATOR_QUAD:
            raise NotFoundError(
                f"TileJSON describes {WEB_MERCATOR_QUAD} tiles only; "
                f"use /wmts/WMTSCapabilities.xml for {tileMatrixSetId}"
            )
        entry = store.layer_version(layer_id, version, caller)
        body = json_bytes(raster_tilejson(entry, base_url(request), store, output))
        return conditional(
            request, body, "application/json", entry=entry, versioned=version is not None, max_age=max_age
        )

    add_layer_route(router, "/tiles/{z}/{x}/{y}.mvt", vector_tile, summary="Vector tile (MVT)", responses=MVT)
    add_layer_route(
        router,
        "/tiles/{tileMatrixSetId}/{z}/{x}/{y}.png",
        raster_tile,
        summary="Raster tile in the default style (WebMercatorQuad or NetherlandsRDNewQuad)",
        responses=PNG,
        response_class=Response,
    )
    add_layer_route(router, "/tilejson.json", tilejson, summary="TileJSON 3.0.0")
    add_layer_route(
        router,
        "/tiles/{tileMatrixSetId}/tilejson.json",
        raster_tilejson_route,
        summary="TileJSON 3.0.0 of the default raster tiles (WebMercatorQuad only)",
    )

    @router.get("/layers/{layer_id}.pmtiles", summary="The vector PMTiles archive (HTTP range requests)")
    def archive(layer_id: LayerId, caller: CallerDep, store: StoreDep) -> FileResponse:
        entry = store.layer(layer_id, caller)
        f = store.vector_archive_file(entry)
        headers = access_headers(entry.access, versioned=False, max_age=max_age)
        return FileResponse(store.file_path(f), media_type=f.media_type, headers=headers)

    return router
