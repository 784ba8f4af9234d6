"""Small HTTP helpers shared by the routes: the caller, conditional answers, layer-id parameters."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import Depends, Path, Request, Response

from layers import catalog as cat
from services.access import Caller
from services.store import CatalogStore
from services.tiles import Answer, cache_headers, content_etag, etag_matches

#: Layer ids as the catalog allows them (also the only thing a URL may name).
LAYER_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{0,63}$"
#: Version names written by the engine (``20261125T183000Z-1a2b3c4d`` with an optional ``-N``).
VERSION_PATTERN = r"^\d{8}T\d{6}Z-[0-9a-f]{8}(-\d+)?$"
#: Output and file names (letters, digits, ``_``, ``-``, ``.``; never a separator).
NAME_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$"

LayerId = Annotated[
    str, Path(pattern=LAYER_ID_PATTERN, description="Layer id from the catalog.", examples=["landcover"])
]
Version = Annotated[str, Path(pattern=VERSION_PATTERN, description="A kept version of the layer (immutable).")]


def base_url(request: Request) -> str:
    """The server's base URL as the client addressed it, without a trailing slash."""
    return str(request.base_url).rstrip("/")


def get_store(request: Request) -> CatalogStore:
    """The catalog store of the app."""
    return request.app.state.store  # type: ignore[no-any-return]


def get_caller(request: Request) -> Caller:
    """Who is asking (a valid API key sees internal layers)."""
    return get_store(request).keys.caller_from_headers(request.headers)


CallerDep = Annotated[Caller, Depends(get_caller)]
StoreDep = Annotated[CatalogStore, Depends(get_store)]


def to_response(answer: Answer) -> Response:
    """A Starlette response from a framework-neutral answer."""
    return Response(answer.body, status_code=answer.status, media_type=answer.media_type, headers=answer.headers)


def conditional(
    request: Request,
    body: bytes,
    media_type: str,
    *,
    entry: cat.LayerEntry | None = None,
    internal: bool = False,
    versioned: bool = False,
    max_age: int,
    extra: dict[str, str] | None = None,
) -> Response:
    """A document with an ETag from its content; 304 when the client's ``If-None-Match`` matches.

    Args:
        request: the request (for ``If-None-Match``).
        body: the document.
        media_type: its media type.
        entry: the layer it belongs to (decides public/private caching), if any.
        internal: whether the document lists internal layers (private caching).
        versioned: whether the URL names a version (immutable).
        max_age: max-age (s) for unversioned URLs.
        extra: further headers (e.g. Content-Disposition).
    """
    etag = content_etag(body)
    if entry is not None:
        headers = cache_headers(entry, etag, versioned=versioned, max_age=max_age)
    else:
        scope = "private" if internal else "public"
        headers = {"ETag": etag, "Cache-Control": f"{scope}, max-age={max_age}"}
        headers["Vary"] = "Authorization, X-API-Key"
    headers.update(extra or {})
    if etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media_type, headers=headers)


def json_bytes(data: Any) -> bytes:
    """Compact UTF-8 JSON (stable key order, so ETags are stable)."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), sort_keys=False).encode("utf-8")
