"""One table from kaartlaag errors to HTTP status codes."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from geo.errors import ConfigError, KaartlaagError, LayerError, NotFoundError, PublishError, SourceError

#: Most specific class first.
STATUS_CODES: dict[type[KaartlaagError], int] = {
    NotFoundError: 404,
    ConfigError: 400,
    LayerError: 422,
    SourceError: 500,
    PublishError: 503,
    KaartlaagError: 500,
}


def status_for(exc: KaartlaagError) -> int:
    """The HTTP status of a kaartlaag error (the first matching class of ``STATUS_CODES``)."""
    return next(code for cls, code in STATUS_CODES.items() if isinstance(exc, cls))


def add_exception_handlers(app: FastAPI) -> None:
    """Register a handler that turns any ``KaartlaagError`` into JSON with its status."""

    async def _handle(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, KaartlaagError)
        return JSONResponse({"detail": str(exc)}, status_code=status_for(exc))

    app.add_exception_handler(KaartlaagError, _handle)
