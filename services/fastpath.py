"""A thin ASGI layer in front of FastAPI that answers the hot tile URLs directly.

Tile requests are most of a tile server's traffic; FastAPI's per-request work
(middleware, route matching over every route, dependency resolution, parameter
validation) costs several times more than reading a tile from a memory-mapped
archive. This outermost layer matches the two tile URL shapes (vector ``.mvt``
and raster ``.png``, with and without ``/v/{version}``) with one strict regular
expression each and calls the same ``TileService`` the FastAPI routes use,
adding the CORS header itself. Anything else, including a tile URL with a query
string or a zoom beyond the accepted range, goes to FastAPI unchanged, so
validation errors and OpenAPI stay FastAPI's.

The object stands for the FastAPI application towards servers and tests:
attributes it does not have (``state``, ``openapi``, ``routes``) are the app's.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import anyio.to_thread

from geo.errors import KaartlaagError
from services.access import PUBLIC
from services.errors import status_for
from services.tiles import Answer, TileService

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_ID = r"(?P<layer>[a-z0-9][a-z0-9-]{0,63})"
_VERSION = r"(?:v/(?P<version>\d{8}T\d{6}Z-[0-9a-f]{8}(?:-\d+)?)/)?"
_ZXY = r"(?P<z>\d{1,2})/(?P<x>\d{1,9})/(?P<y>\d{1,9})"
VECTOR_URL = re.compile(rf"^/layers/{_ID}/{_VERSION}tiles/{_ZXY}\.mvt$")
RASTER_URL = re.compile(rf"^/layers/{_ID}/{_VERSION}tiles/(?P<tms>[A-Za-z0-9]{{1,64}})/{_ZXY}\.png$")
_METHODS = frozenset({"GET", "HEAD"})
_KEY_HEADERS = frozenset({"authorization", "x-api-key"})
_WANTED = frozenset({b"authorization", b"x-api-key", b"if-none-match", b"origin"})
#: Response headers a browser script may read (as the CORS middleware of the app exposes them).
EXPOSED_HEADERS = "ETag, Content-Length, Content-Range"


class FastTilePath:
    """ASGI application answering tile URLs from a ``TileService`` and passing the rest to FastAPI.

    Args:
        app: the FastAPI application.
        tiles: the tile service shared with the FastAPI routes.
        cors_origins: origins allowed to read tiles from a browser (``*``: any).
    """

    def __init__(self, app: ASGIApp, tiles: TileService, cors_origins: list[str]) -> None:
        self.app = app
        self.tiles = tiles
        self.any_origin = "*" in cors_origins
        self.origins = frozenset(cors_origins)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.app, name)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _METHODS or scope.get("query_string"):
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        vector = VECTOR_URL.match(path) if path.endswith(".mvt") else None
        raster = RASTER_URL.match(path) if vector is None and path.endswith(".png") else None
        match = vector or raster
        if match is None or int(match["z"]) > self.tiles.vector_max_zoom:
            await self.app(scope, receive, send)
            return
        # Only the few headers the answer depends on are decoded.
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"] if k in _WANTED}
        caller = self.tiles.store.keys.caller_from_headers(headers) if _KEY_HEADERS & headers.keys() else PUBLIC
        z, x, y = int(match["z"]), int(match["x"]), int(match["y"])
        inm = headers.get("if-none-match")
        try:
            if vector is not None:
                result: Any = self.tiles.vector_tile(
                    match["layer"], z, x, y, version=match["version"], caller=caller, if_none_match=inm
                )
            else:
                result = self.tiles.raster_tile(
                    match["layer"], match["tms"], z, x, y, version=match["version"], caller=caller, if_none_match=inm
                )
            if not isinstance(result, Answer):
                result = await anyio.to_thread.run_sync(result)
        except KaartlaagError as exc:
            body = json.dumps({"detail": str(exc)}).encode("utf-8")
            result = Answer(status_for(exc), body, "application/json")
        origin = headers.get("origin")
        if origin is not None and (self.any_origin or origin in self.origins):
            result.headers = {**result.headers, "Access-Control-Allow-Origin": "*" if self.any_origin else origin}
            if not self.any_origin:
                result.headers["Vary"] = f"{result.headers['Vary']}, Origin" if "Vary" in result.headers else "Origin"
            result.headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
        await _send(send, result, head=scope["method"] == "HEAD")


async def _send(send: Send, answer: Answer, *, head: bool) -> None:
    raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in answer.headers.items()]
    if answer.media_type and answer.status not in (204, 304):
        raw.append((b"content-type", answer.media_type.encode("latin-1")))
    if answer.status not in (204, 304):
        raw.append((b"content-length", str(len(answer.body)).encode("latin-1")))
    await send({"type": "http.response.start", "status": answer.status, "headers": raw})
    body = b"" if head or answer.status in (204, 304) else answer.body
    await send({"type": "http.response.body", "body": body})
