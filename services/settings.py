"""Server settings from the environment (prefix ``KAARTLAAG_``)."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class ServerSettings(BaseSettings):
    """Settings of the tile server.

    Attributes:
        catalog: catalog folder to serve (``KAARTLAAG_CATALOG``).
        cors_origins: origins allowed to call the API from a browser
            (``KAARTLAAG_CORS_ORIGINS='["https://geo.example.nl"]'``).
        max_age: Cache-Control max-age in seconds for unversioned URLs.
    """

    model_config = SettingsConfigDict(env_prefix="KAARTLAAG_")

    catalog: Path = Path("catalog")
    cors_origins: list[str] = ["*"]
    max_age: int = 60
