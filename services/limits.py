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

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


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
        worker_memory_mb: memory ceiling (MiB of the data segment, ``RLIMIT_DATA``) of a server worker;
            0 leaves it unbounded. An allocation beyond it fails with ``503`` in the request that made it.
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
    worker_memory_mb: int = Field(default=3072, ge=0)
