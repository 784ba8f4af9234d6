"""Tile answers, independent of the web framework: vector tiles from PMTiles, raster tiles in the default style.

The same functions serve the FastAPI routes and the thin ASGI fast path in
``services.fastpath``, so both answer identically (status, body, caching headers).

Raster tiles: tiles inside the pre-rendered zoom range are read from the archive
written at publish time (``tiles.prerender``); other zooms (overzoom beyond the
raster's resolution, or very small scales) are rendered with rio-tiler from the
COG in the same style and kept in a bounded in-memory LRU cache. A tile inside
the tile matrix but without data is a transparent PNG; a tile outside the tile
matrix is 404.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from geo.errors import NotFoundError
from layers import catalog as cat
from services.access import Caller
from services.guard import KEY_HEADERS, PRIVATE
from services.store import CatalogStore
from tiles.prerender import TILE_MEDIA_TYPE, render_tile, transparent_png
from tiles.tms import TMS_IDS

MVT_MEDIA_TYPE = "application/vnd.mapbox-vector-tile"
#: Cache-Control of versioned (immutable) URLs.
IMMUTABLE = "max-age=31536000, immutable"
#: ``Vary`` of answers that depend on the caller's key.
KEY_VARY = ", ".join(KEY_HEADERS)
#: Rendered (not pre-rendered) tiles kept in memory per process.
RENDER_CACHE_SIZE = 4096


@dataclass
class Answer:
    """A framework-neutral HTTP answer."""

    status: int
    body: bytes = b""
    media_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


def access_headers(access: str, *, versioned: bool, max_age: int) -> dict[str, str]:
    """Cache-Control (and Vary) of an answer serving a layer with ``access`` (its access now).

    Public layers: immutable for versioned URLs, short max-age otherwise. Internal
    layers: ``private, no-store`` on every URL, versioned or not, so neither a shared
    cache nor the browser's disk keeps them, and ``Vary`` on the key headers.
    """
    if access != "public":
        return {"Cache-Control": PRIVATE, "Vary": KEY_VARY}
    return {"Cache-Control": f"public, {IMMUTABLE if versioned else f'max-age={max_age}'}"}


def cache_headers(entry: cat.LayerEntry, etag: str, *, versioned: bool, max_age: int) -> dict[str, str]:
    """Caching headers of a layer's answer: ``access_headers`` plus the ETag (``entry.access`` is current)."""
    return {"ETag": etag, **access_headers(entry.access, versioned=versioned, max_age=max_age)}


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """Whether an ``If-None-Match`` header names ``etag`` (or ``*``); weak validators compare equal."""
    if not if_none_match:
        return False
    tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
    return "*" in tags or etag in tags


def content_etag(body: bytes) -> str:
    """A strong ETag from the content (for small documents: JSON, XML, styles)."""
    return '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'


def _not_modified(headers: dict[str, str]) -> Answer:
    return Answer(304, b"", None, headers)


def in_matrix(z: int, x: int, y: int, max_zoom: int) -> bool:
    """Whether z/x/y is a tile of a 2^z x 2^z quadtree with levels 0..max_zoom."""
    return 0 <= z <= max_zoom and 0 <= x < (1 << z) and 0 <= y < (1 << z)


class TileService:
    """Answers tile requests from a ``CatalogStore``.

    Args:
        store: the served catalog.
        max_age: Cache-Control max-age (s) of unversioned URLs.
        vector_max_zoom: deepest web-mercator zoom accepted for vector tiles.
    """

    def __init__(self, store: CatalogStore, max_age: int, vector_max_zoom: int) -> None:
        self.store = store
        self.max_age = max_age
        self.vector_max_zoom = vector_max_zoom
        # Matrix sizes per tile matrix set and level, so tile addresses are checked without pydantic models.
        self._matrices: dict[str, tuple[int, list[tuple[int, int]]]] = {}
        for tms_id in TMS_IDS:
            tms = store.tms(tms_id)
            self._matrices[tms_id] = (tms.minzoom, [(m.matrixWidth, m.matrixHeight) for m in tms.tileMatrices])
        self._rendered: OrderedDict[tuple[str, str, str, int, int, int], bytes] = OrderedDict()
        self._lock = threading.Lock()

    def vector_tile(
        self, layer_id: str, z: int, x: int, y: int, *, version: str | None, caller: Caller, if_none_match: str | None
    ) -> Answer:
        """A Mapbox vector tile (gzip passed through with ``Content-Encoding``), 204 when empty."""
        if not in_matrix(z, x, y, self.vector_max_zoom):
            raise NotFoundError(f"tile {z}/{x}/{y} is outside the tile matrix")
        entry = self.store.layer_version(layer_id, version, caller)
        archive = self.store.archive(self.store.vector_archive_file(entry))
        etag = f'"{entry.version}-mvt-{z}-{x}-{y}"'
        headers = cache_headers(entry, etag, versioned=version is not None, max_age=self.max_age)
        if etag_matches(if_none_match, etag):
            return _not_modified(headers)
        data = archive.get(z, x, y)
        if not data:
            return Answer(204, b"", None, headers)
        if archive.gzip_tiles:
            headers["Content-Encoding"] = "gzip"
        return Answer(200, data, MVT_MEDIA_TYPE, headers)

    def check_tile_address(self, tms_id: str, z: int, x: int, y: int) -> None:
        """A tile of ``tms_id``: a level the set has, and a column and row inside that level's matrix.

        Raises:
            NotFoundError: unknown tile matrix set, or a tile outside its matrix (404 everywhere).
        """
        known = self._matrices.get(tms_id)
        if known is None:
            self.store.tms(tms_id)  # raises NotFoundError naming the known sets
            raise NotFoundError(f"unknown tile matrix set {tms_id!r}")
        minzoom, sizes = known
        if not minzoom <= z < minzoom + len(sizes):
            raise NotFoundError(
                f"tile matrix set {tms_id} has no level {z} (levels {minzoom}-{minzoom + len(sizes) - 1})"
            )
        width, height = sizes[z - minzoom]
        if not (0 <= x < width and 0 <= y < height):
            raise NotFoundError(f"tile {z}/{x}/{y} is outside the tile matrix of {tms_id}")

    def raster_tile(
        self,
        layer_id: str,
        tms_id: str,
        z: int,
        x: int,
        y: int,
        *,
        version: str | None,
        caller: Caller,
        if_none_match: str | None,
        output: str | None = None,
    ) -> Answer | Callable[[], Answer]:
        """A PNG tile in the default style, or a function rendering it (to run in a worker thread).

        Raises:
            NotFoundError: unknown layer, version, output or tile matrix set, or a
                tile outside the tile matrix.
        """
        self.check_tile_address(tms_id, z, x, y)
        entry = self.store.layer_version(layer_id, version, caller)
        cog = self.store.raster_file(entry, output)
        etag = f'"{entry.version}-{cog.output}-{tms_id}-{z}-{x}-{y}"'
        headers = cache_headers(entry, etag, versioned=version is not None, max_age=self.max_age)
        if etag_matches(if_none_match, etag):
            return _not_modified(headers)
        archive = self.store.prerendered(entry, cog.output, tms_id)
        if archive is not None and archive.minzoom <= z <= archive.maxzoom:
            return Answer(200, bytes(archive.get(z, x, y) or transparent_png()), TILE_MEDIA_TYPE, headers)
        key = (str(self.store.file_path(cog)), cog.output, tms_id, z, x, y)
        hit = self._rendered.get(key)
        if hit is not None:
            return Answer(200, hit, TILE_MEDIA_TYPE, headers)

        def render() -> Answer:
            reader = self.store.zoom_reader(cog, tms_id, z)
            style = self.store.raster_style(entry, cog.output)
            data = (None if reader is None else render_tile(reader, z, x, y, style.colormap())) or transparent_png()
            with self._lock:
                self._rendered[key] = data
                while len(self._rendered) > RENDER_CACHE_SIZE:
                    self._rendered.popitem(last=False)
            return Answer(200, data, TILE_MEDIA_TYPE, headers)

        return render
