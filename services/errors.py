"""One table from error classes to HTTP status codes, and the errors only a request can cause.

Library code raises ``geo.errors`` classes; the checks of request input raise the
classes below; TiTiler and rio-tiler raise their own. Every class of
``STATUS_CODES`` becomes a JSON answer ``{"detail": ...}`` with the status of the
first matching class in it; an answer refused for time or memory also carries
``Retry-After``. Other exceptions (rasterio's, rio-tiler's base class, bugs) stay
unhandled: a 500 that Starlette logs.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from rio_tiler.errors import (
    InvalidAssetName,
    InvalidBandName,
    InvalidColorFormat,
    InvalidExpression,
    InvalidFormat,
    MissingAssets,
    MissingBands,
    PointOutsideBounds,
    TileOutsideBounds,
)
from titiler.core.errors import BadRequestError, TileNotFoundError

from geo.errors import (
    ConfigError,
    InputError,
    InputTooLargeError,
    KaartlaagError,
    LayerError,
    NotFoundError,
    PublishError,
    SourceError,
)


class RequestInputError(InputError):
    """A request parameter or body is malformed or out of range; the message names the parameter."""


class PayloadTooLargeError(RequestInputError, InputTooLargeError):
    """A request asks for more work than the server's limits allow (pixels, features, vertices, area, bytes)."""


class RetryLaterError(KaartlaagError):
    """The server could not finish a request within its bounds; the same request may succeed later.

    Args:
        message: what was exceeded.
        retry_after_s: seconds after which the client may try again.
    """

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class BudgetExceededError(RetryLaterError):
    """A request ran past its time budget and was cancelled."""


class OutOfMemoryError(RetryLaterError):
    """A request needed more memory than the worker's ceiling."""


#: The status of every error class the service answers itself; most specific class first.
STATUS_CODES: dict[type[Exception], int] = {
    NotFoundError: 404,
    InputTooLargeError: 413,
    InputError: 400,
    ConfigError: 400,
    LayerError: 422,
    RetryLaterError: 503,
    SourceError: 500,
    PublishError: 503,
    KaartlaagError: 500,
    # TiTiler and rio-tiler: titiler.core.errors.DEFAULT_STATUS_CODES without its 500s (rasterio's
    # errors, RioTilerError, Exception), plus a point outside the raster.
    BadRequestError: 400,
    MissingBands: 400,
    MissingAssets: 400,
    InvalidColorFormat: 400,
    InvalidExpression: 400,
    InvalidFormat: 400,
    TileOutsideBounds: 404,
    TileNotFoundError: 404,
    InvalidAssetName: 404,
    InvalidBandName: 404,
    PointOutsideBounds: 404,
}
#: Status of an exception no class of ``STATUS_CODES`` matches.
INTERNAL_ERROR = 500


def status_for(exc: Exception) -> int:
    """The HTTP status of an error: the first matching class of ``STATUS_CODES`` (else 500)."""
    return next((code for cls, code in STATUS_CODES.items() if isinstance(exc, cls)), INTERNAL_ERROR)


def error_headers(exc: Exception) -> dict[str, str]:
    """Headers of the answer to ``exc``: ``Retry-After`` for errors that may pass on a later try."""
    return {"Retry-After": str(exc.retry_after_s)} if isinstance(exc, RetryLaterError) else {}


def add_exception_handlers(app: FastAPI, retry_after_s: int) -> None:
    """Register handlers: every class of ``STATUS_CODES`` becomes JSON with its status; ``MemoryError`` 503.

    TiTiler's routes (``services.dynamic``) rely on these handlers too.

    Args:
        app: the application.
        retry_after_s: ``Retry-After`` (s) of a request that ran out of memory (the worker's ceiling,
            ``services.guard.limit_worker_memory``).
    """

    async def _handle(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=status_for(exc), headers=error_headers(exc))

    async def _out_of_memory(request: Request, exc: Exception) -> JSONResponse:
        return await _handle(
            request, OutOfMemoryError("the request needed more memory than a worker may use", retry_after_s)
        )

    for cls in STATUS_CODES:
        app.add_exception_handler(cls, _handle)
    app.add_exception_handler(MemoryError, _out_of_memory)
