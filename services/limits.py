"""Bounds on the work one request may cause, declared in one place (environment prefix ``KAARTLAAG_LIMIT_``).

A municipal tile server faces the internet behind a geo-portal. Every request
that reads or renders a raster is bounded before any data is read (image sizes,
histogram bins, features and vertices of a polygon, expression length, bands),
and the work that remains runs under a time budget: past it the request is
cancelled at the next read and answered ``503`` with ``Retry-After``. A worker
process also has a memory ceiling: an allocation beyond it fails inside that
request (``503``) instead of growing the process until the kernel kills it.

Every field can be set from the environment, e.g. ``KAARTLAAG_LIMIT_MAX_IMAGE_SIZE=2048``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from geo.site import SiteLimits


class RequestLimits(BaseSettings):
    """Per-request and per-worker bounds of the tile server.

    Attributes:
        max_image_size: largest image side (pixels) of ``tilesize``, ``max_size``, ``width`` and ``height``.
            4096 px is four times a 1024 px retina tile and reads at most 64 MB of float32 per band.
        max_buffer: largest tile buffer (pixels on each side).
        max_padding: largest tile padding (pixels).
        default_feature_size: ``max_size`` of statistics over a polygon when the request gives none:
            polygons up to this many cells across are read at full resolution, larger ones on an overview.
        max_coverage_side: largest side (cells) of the coverage grid of a polygon (image size x ``cover_scale``):
            10240^2 bytes is 100 MB.
        max_histogram_bins: most histogram bins (or bin edges) of a statistics request.
        max_percentiles: most percentiles (``p``) or categories (``c``) of a statistics request.
        max_features: most features in a statistics POST.
        max_vertices: most positions over all features of a statistics POST.
        max_area_km2: largest total area (km2, in the layer's CRS) of the polygons of a statistics POST.
        max_body_bytes: largest request body (bytes).
        max_expression_length: longest band-math ``expression`` (characters).
        max_bands: most bands one request may read or produce (``bidx`` entries, expression blocks).
        max_formula_value: largest absolute number in a ``color_formula`` (gamma, sigmoidal contrast, saturation).
        request_budget_s: wall-clock time (s) a raster request may take; the work is cancelled at the next
            read past it and the answer is ``503`` with ``Retry-After``.
        retry_after_s: the ``Retry-After`` (s) of an answer refused for time or memory.
        assess_budget_s: wall-clock time (s) of one assessment, checked between its layers (``503`` past it).
        worker_memory_mb: memory ceiling (MiB of the data segment, ``RLIMIT_DATA``) of a server worker;
            0 leaves it unbounded. An allocation beyond it fails with ``503`` in the request that made it.
        assess_max_area_m2: largest site of ``POST /assess`` (m2, in the region CRS); larger is ``413``.
        assess_max_vertices: most positions over all polygons of an assessment site.
        assess_max_upload_bytes: largest uploaded site file (GeoPackage or zipped shapefile, bytes).
        assess_max_buffer_m: widest buffer (m) around an assessment site.
        assess_default_buffer_m: buffer (m) around an assessment site when the request gives none.
    """

    model_config = SettingsConfigDict(env_prefix="KAARTLAAG_LIMIT_", extra="forbid")

    max_image_size: int = Field(default=4096, ge=1)
    max_buffer: float = Field(default=64, ge=0)
    max_padding: int = Field(default=64, ge=0)
    default_feature_size: int = Field(default=1024, ge=1)
    max_coverage_side: int = Field(default=10240, ge=1)
    max_histogram_bins: int = Field(default=1024, ge=1)
    max_percentiles: int = Field(default=32, ge=1)
    max_features: int = Field(default=50, ge=1)
    max_vertices: int = Field(default=20_000, ge=4)
    max_area_km2: float = Field(default=100.0, gt=0)
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    max_expression_length: int = Field(default=256, ge=1)
    max_bands: int = Field(default=16, ge=1)
    max_formula_value: float = Field(default=1000.0, gt=0)
    request_budget_s: float = Field(default=10.0, gt=0)
    retry_after_s: int = Field(default=5, ge=1)
    assess_budget_s: float = Field(default=120.0, gt=0, description="wall-clock time (s) one POST /assess may "
                                   "take, checked between the layers it runs")
    worker_memory_mb: int = Field(default=3072, ge=0)
    assess_max_area_m2: float = Field(
        default=4_000_000.0, gt=0, description="largest assessment site (m2, region CRS): 4 km2"
    )
    assess_max_vertices: int = Field(
        default=20_000, ge=4, description="most positions over all polygons of an assessment site"
    )
    assess_max_upload_bytes: int = Field(
        default=5_000_000, ge=1024, description="largest uploaded site file (GeoPackage or zipped shapefile, bytes)"
    )
    assess_max_buffer_m: float = Field(default=1000.0, gt=0, description="widest buffer around a site (m)")
    assess_default_buffer_m: float = Field(
        default=300.0, gt=0, description="buffer around a site (m) when the request gives none"
    )

    @model_validator(mode="after")
    def _default_buffer_within_limit(self) -> RequestLimits:
        if self.assess_default_buffer_m > self.assess_max_buffer_m:
            raise ValueError(
                f"assess_default_buffer_m ({self.assess_default_buffer_m:g}) exceeds "
                f"assess_max_buffer_m ({self.assess_max_buffer_m:g})"
            )
        return self

    def site_limits(self) -> SiteLimits:
        """The bounds of an assessment site (``geo.site.SiteLimits``) from the ``assess_*`` fields."""
        from geo.site import SiteLimits  # geopandas and pyogrio load only where sites are read

        return SiteLimits(
            max_area_m2=self.assess_max_area_m2,
            max_vertices=self.assess_max_vertices,
            max_bytes=self.assess_max_upload_bytes,
            max_buffer_m=self.assess_max_buffer_m,
            default_buffer_m=self.assess_default_buffer_m,
        )
