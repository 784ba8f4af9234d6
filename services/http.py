"""Small HTTP helpers shared by the routes: the caller, conditional answers, layer-id parameters."""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Response

from geo.errors import InputError, InputTooLargeError
from layers import catalog as cat
from services.access import Caller
from services.settings import LOOPBACK_HOSTS
from services.store import CatalogStore
from services.tiles import KEY_VARY, Answer, access_headers, cache_headers, content_etag, etag_matches

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
#: Path of a layer, and of one of its kept versions (whose answers never change).
LAYER_PATH = "/layers/{layer_id}"
VERSION_PATH = "/layers/{layer_id}/v/{version}"


def base_url(request: Request) -> str:
    """The base of absolute URLs in answers (TileJSON, styles, WMTS, catalog), without a trailing slash.

    The configured public URL (``KAARTLAAG_PUBLIC_URL``) when set. Otherwise the
    request's scheme and ``Host`` only when that host is trusted (loopback, or listed
    in ``KAARTLAAG_TRUSTED_HOSTS``); any other ``Host`` gives relative URLs
    (``/layers/...``), so a forged header never ends up in a cacheable document.
    """
    settings = request.app.state.settings
    root_path = str(request.scope.get("root_path", "")).rstrip("/")
    if settings.public_url:
        return str(settings.public_url)
    host = request.headers.get("host", "")
    if trusted_host(host, settings.trusted_hosts):
        return f"{request.url.scheme}://{host}{root_path}"
    return root_path


def trusted_host(host: str, trusted: list[str]) -> bool:
    """Whether a ``Host`` header value is trusted: loopback (any port), or listed (``host`` or ``host:port``)."""
    if not host or host in trusted:
        return bool(host)
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    return name in LOOPBACK_HOSTS or name in trusted


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
        access = "internal" if internal else "public"
        headers = {"ETag": etag, **access_headers(access, versioned=False, max_age=max_age)}
        headers["Vary"] = KEY_VARY
    headers.update(extra or {})
    if etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media_type, headers=headers)


def json_bytes(data: Any) -> bytes:
    """Compact UTF-8 JSON (stable key order, so ETags are stable)."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), sort_keys=False).encode("utf-8")


def _with_signature(endpoint: Callable[..., Any], parameters: list[inspect.Parameter]) -> Callable[..., Any]:
    """``endpoint`` behind a function with the given parameters; ``version`` defaults to None."""
    if inspect.iscoroutinefunction(endpoint):

        async def call_async(**kwargs: Any) -> Any:
            return await endpoint(**{"version": None, **kwargs})

        call: Callable[..., Any] = call_async
    else:

        def call_sync(**kwargs: Any) -> Any:
            return endpoint(**{"version": None, **kwargs})

        call = call_sync
    call.__signature__ = inspect.signature(endpoint, eval_str=True).replace(parameters=parameters)  # type: ignore[attr-defined]
    call.__name__ = endpoint.__name__
    call.__doc__ = endpoint.__doc__
    return call


def add_layer_route(
    router: APIRouter, suffix: str, endpoint: Callable[..., Any], *, summary: str, **kwargs: Any
) -> None:
    """Register one handler on ``/layers/{layer_id}{suffix}`` and ``/layers/{layer_id}/v/{version}{suffix}``.

    ``endpoint`` takes a keyword parameter ``version: str | None``: the versioned route
    passes the version from its path (validated as ``Version``), the unversioned route
    passes None. Every other parameter (path, query, dependencies) is declared once,
    on ``endpoint``, and both routes share it.

    Args:
        router: the router to add both routes to.
        suffix: path after the layer (``/tiles/{z}/{x}/{y}.mvt``); may be empty.
        endpoint: the handler (sync or async).
        summary: OpenAPI summary of the unversioned route (the versioned one says so after it).
        **kwargs: further ``APIRouter.add_api_route`` arguments (responses, response_class, ...).
    """
    params = list(inspect.signature(endpoint, eval_str=True).parameters.values())
    unversioned = [p for p in params if p.name != "version"]
    versioned = [
        p.replace(annotation=Version, default=inspect.Parameter.empty) if p.name == "version" else p for p in params
    ]
    if len(unversioned) == len(params):
        raise TypeError(f"{endpoint.__name__}: a layer route handler needs a 'version' parameter")
    router.add_api_route(
        f"{LAYER_PATH}{suffix}", _with_signature(endpoint, unversioned), summary=summary, methods=["GET"], **kwargs
    )
    router.add_api_route(
        f"{VERSION_PATH}{suffix}",
        _with_signature(endpoint, versioned),
        summary=f"{summary}, of a kept version (immutable)",
        methods=["GET"],
        **kwargs,
    )


def parse_json(text: str, where: str) -> Any:
    """``text`` parsed as JSON; an ``InputError`` (400) naming ``where`` and the position when it is not JSON."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{where}: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None


async def json_body(request: Request, max_bytes: int) -> Any:
    """The request body parsed as JSON (400 when it is not, 413 beyond ``max_bytes``)."""
    raw = await request.body()
    if len(raw) > max_bytes:
        raise InputTooLargeError(f"body: larger than {max_bytes} bytes")
    return parse_json(raw.decode("utf-8", errors="replace"), "body")
