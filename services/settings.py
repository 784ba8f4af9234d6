"""Server settings from the environment (prefix ``KAARTLAAG_``)."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class ServerSettings(BaseSettings):
    """Settings of the tile server.

    Attributes:
        catalog: catalog folder to serve (``KAARTLAAG_CATALOG``).
        cors_origins: origins allowed to call the API from a browser
            (``KAARTLAAG_CORS_ORIGINS='["https://geo.example.nl"]'``; ``["*"]``: any).
        max_age: Cache-Control max-age in seconds for unversioned URLs (versioned ones are immutable).
        cache_dir: folder for files made on request (GeoPackage exports); default: a fresh
            temporary folder per process.
        licence: licence of the published layers, shown on the overview page (e.g. ``CC BY 4.0``);
            empty: the page points to the sources' licences.
    """

    model_config = SettingsConfigDict(env_prefix="KAARTLAAG_")

    catalog: Path = Path("catalog")
    cors_origins: list[str] = ["*"]
    max_age: int = 60
    cache_dir: Path | None = None
    licence: str = ""
