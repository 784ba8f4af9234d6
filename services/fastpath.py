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

Finished answers (status, headers and body as the ASGI messages) of callers
without an API key or ``If-None-Match`` are kept in a bounded in-memory cache,
keyed by method, path and ``Origin`` and tied to the catalog they were made
from: when a new catalog is published every kept answer is dropped, so an
unversioned URL never outlives its version. Answers for key holders are never
kept (their visibility depends on the key).

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
#: Bytes of tile bodies kept as finished answers per process (vector tiles are a few kB each).
ANSWER_CACHE_BYTES = 64 * 1024 * 1024
#: Statuses whose answers are kept (not errors: a scan of unknown URLs must not evict real tiles).
CACHED_STATUSES = frozenset({200, 204})


class FastTilePath:
    """ASGI application answering tile URLs from a ``TileService`` and passing the rest to FastAPI.

    Args:
        app: the FastAPI application (its attributes are this object's).
        downstream: what answers every other request: the FastAPI application behind its guard
            (``services.guard.RequestGuard``).
        tiles: the tile service shared with the FastAPI routes.
        cors_origins: origins allowed to read tiles from a browser (``*``: any).
    """

    def __init__(self, app: ASGIApp, downstream: ASGIApp, tiles: TileService, cors_origins: list[str]) -> None:
        self.app = app
        self.downstream = downstream
        self.tiles = tiles
        self.any_origin = "*" in cors_origins
        self.origins = frozenset(cors_origins)
        # (method, path, origin) -> finished ASGI messages; valid while the catalog object is the same.
        self._answers: dict[tuple[str, str, str | None], tuple[Message, Message]] = {}
        self._answers_catalog: object = None
        self._answers_bytes = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.app, name)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _METHODS or scope.get("query_string"):
            await self.downstream(scope, receive, send)
            return
        path: str = scope["path"]
        if not path.endswith((".mvt", ".png")):
            await self.downstream(scope, receive, send)
            return
        # Only the few headers the answer depends on are decoded.
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"] if k in _WANTED}
        cache_key, catalog = None, None
        if not (_KEY_HEADERS & headers.keys() or "if-none-match" in headers):
            catalog = self.tiles.store.catalog()
            if catalog is not self._answers_catalog:
                self._answers, self._answers_catalog, self._answers_bytes = {}, catalog, 0
            cache_key = (scope["method"], path, headers.get("origin"))
            kept = self._answers.get(cache_key)
            if kept is not None:  # only tile URLs the expressions below accepted are kept
                await send(kept[0])
                await send(kept[1])
                return
        vector = VECTOR_URL.match(path) if path.endswith(".mvt") else None
        raster = RASTER_URL.match(path) if vector is None and path.endswith(".png") else None
        match = vector or raster
        if match is None or int(match["z"]) > self.tiles.vector_max_zoom:
            await self.downstream(scope, receive, send)
            return
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
        start, end = _messages(result, head=scope["method"] == "HEAD")
        # Kept only if no new catalog arrived while the answer was made (a render runs in a thread).
        if cache_key is not None and result.status in CACHED_STATUSES and self._answers_catalog is catalog:
            self._keep(cache_key, start, end)
        await send(start)
        await send(end)

    def _keep(self, key: tuple[str, str, str | None], start: Message, body: Message) -> None:
        """Keep a finished answer, dropping the oldest ones beyond ``ANSWER_CACHE_BYTES``."""
        size = len(body["body"])
        if key in self._answers or size > ANSWER_CACHE_BYTES:
            return
        self._answers[key] = (start, body)
        self._answers_bytes += size
        while self._answers_bytes > ANSWER_CACHE_BYTES:
            oldest = next(iter(self._answers))
            self._answers_bytes -= len(self._answers.pop(oldest)[1]["body"])


def _messages(answer: Answer, *, head: bool) -> tuple[Message, Message]:
    """The ``http.response.start`` and ``http.response.body`` messages of an answer."""
    raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in answer.headers.items()]
    if answer.media_type and answer.status not in (204, 304):
        raw.append((b"content-type", answer.media_type.encode("latin-1")))
    if answer.status not in (204, 304):
        raw.append((b"content-length", str(len(answer.body)).encode("latin-1")))
    body = b"" if head or answer.status in (204, 304) else bytes(answer.body)
    return {"type": "http.response.start", "status": answer.status, "headers": raw}, {
        "type": "http.response.body",
        "body": body,
    }
