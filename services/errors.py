"""One table from kaartlaag errors to HTTP status codes, and the errors only a request can cause.

Library code raises ``geo.errors`` classes; the checks of request input raise the
classes below. Every one of them becomes a JSON answer ``{"detail": ...}`` with
the status of the first matching class in ``STATUS_CODES``; an answer refused
for time or memory also carries ``Retry-After``.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

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


#: Most specific class first.
STATUS_CODES: dict[type[KaartlaagError], int] = {
    NotFoundError: 404,
    InputTooLargeError: 413,
    InputError: 400,
    ConfigError: 400,
    LayerError: 422,
    RetryLaterError: 503,
    SourceError: 500,
    PublishError: 503,
    KaartlaagError: 500,
}


def status_for(exc: KaartlaagError) -> int:
    """The HTTP status of a kaartlaag error (the first matching class of ``STATUS_CODES``)."""
    return next(code for cls, code in STATUS_CODES.items() if isinstance(exc, cls))


def error_headers(exc: KaartlaagError) -> dict[str, str]:
    """Headers of the answer to ``exc``: ``Retry-After`` for errors that may pass on a later try."""
    return {"Retry-After": str(exc.retry_after_s)} if isinstance(exc, RetryLaterError) else {}


def add_exception_handlers(app: FastAPI, retry_after_s: int) -> None:
    """Register handlers: any ``KaartlaagError`` becomes JSON with its status; ``MemoryError`` becomes 503.

    Args:
        app: the application.
        retry_after_s: ``Retry-After`` (s) of a request that ran out of memory (the worker's ceiling,
            ``services.guard.limit_worker_memory``).
    """

    async def _handle(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, KaartlaagError)
        return JSONResponse({"detail": str(exc)}, status_code=status_for(exc), headers=error_headers(exc))

    async def _out_of_memory(request: Request, exc: Exception) -> JSONResponse:
        return await _handle(
            request, OutOfMemoryError("the request needed more memory than a worker may use", retry_after_s)
        )

    app.add_exception_handler(KaartlaagError, _handle)
    app.add_exception_handler(MemoryError, _out_of_memory)
