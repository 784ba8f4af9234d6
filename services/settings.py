"""Server settings from the environment (prefix ``KAARTLAAG_``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.limits import RequestLimits

#: Hosts whose ``Host`` header is trusted without configuration: the loopback interface, any port.
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")


class ServerSettings(BaseSettings):
    """Settings of the tile server.

    Attributes:
        catalog: catalog folder to serve (``KAARTLAAG_CATALOG``).
        cors_origins: origins allowed to call the API from a browser
            (``KAARTLAAG_CORS_ORIGINS='["https://geo.example.nl"]'``; ``["*"]``: any).
        max_age: Cache-Control max-age in seconds for unversioned URLs of public layers (versioned ones
            are immutable).
        cache_dir: folder for files made on request (GeoPackage exports); default: a fresh
            temporary folder per process.
        licence: licence of the published layers, shown on the overview page (e.g. ``CC BY 4.0``);
            empty: the page points to the sources' licences.
        public_url: the server's public base URL (``KAARTLAAG_PUBLIC_URL=https://geo.example.nl/kaartlaag``);
            absolute URLs in TileJSON, styles, WMTS and the catalog start with it. Without it they are
            built from the request's ``Host`` only when that host is trusted, else they are relative.
        trusted_hosts: ``Host`` header values (``host`` or ``host:port``) that may appear in absolute URLs
            when ``public_url`` is not set; loopback hosts are always trusted.
        limits: bounds on the work of one request (``KAARTLAAG_LIMIT_*``, ``services.limits``).
    """

    model_config = SettingsConfigDict(env_prefix="KAARTLAAG_")

    catalog: Path = Path("catalog")
    cors_origins: list[str] = ["*"]
    max_age: int = 60
    cache_dir: Path | None = None
    licence: str = ""
    public_url: str | None = None
    trusted_hosts: list[str] = []
    limits: RequestLimits = Field(default_factory=lambda: RequestLimits())

    @field_validator("public_url")
    @classmethod
    def _absolute_http_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        if not value.startswith(("http://", "https://")) or "?" in value or "#" in value:
            raise ValueError(f"public_url {value!r}: an http(s) URL without query or fragment")
        return value.rstrip("/")
