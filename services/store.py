"""The served catalog: re-read when ``catalog.json`` changes, files opened once per process.

A build replaces ``catalog.json`` atomically; the store notices the new
modification time and swaps in the new catalog, so a published version is
served without a restart. Version folders are immutable, so open archives and
datasets stay valid and are cached by path. When the catalog changes, cached
handles of files that no version in the catalog references any more are
dropped (not closed: a request still using one keeps it alive until it is done,
so a request in flight during a publish never fails).

Raster datasets are opened with rio-tiler once per thread and file: a GDAL
dataset handle must not be used by two threads at once, and the thread pool is
bounded, so this is a fixed number of handles per file.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import OrderedDict
from pathlib import Path

import morecantile
import rasterio
from pydantic import ValidationError
from rio_tiler.io import Reader

from geo.errors import NotFoundError
from layers import catalog as cat
from services.access import Caller, KeyRing
from services.archive import TileArchive
from services.guard import mark_internal
from styles.raster import RasterStyle, resolve_raster_style
from tiles.prerender import PRERENDER_TMS, STYLE_KEY, archive_name, zoom_reader
from tiles.tms import TMS_IDS, get_tms

#: How often (s) the catalog file is checked for a new version: a publish is served within this time.
CHECK_INTERVAL_S = 0.05
#: Kept versions whose metadata is held in memory (for versioned URLs).
VERSION_CACHE_SIZE = 64
#: Overview read to estimate the data range of a COG without a stored style (cells per side, at most).
RANGE_SAMPLE_CELLS = 1024


class CatalogStore:
    """Thread-safe view of a catalog folder for the web service."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()
        self.keys = KeyRing(self.root)
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._catalog = cat.Catalog()
        self._archives: dict[Path, TileArchive] = {}
        # Archive by its catalog-relative path: the hot tile path skips resolving the path on every request.
        self._archives_by_rel: dict[str, TileArchive] = {}
        self._checked_at = -math.inf
        self._tms = {tms_id: get_tms(tms_id) for tms_id in TMS_IDS}
        self._readers: dict[tuple[int, Path, str], Reader] = {}
        self._zoom_readers: dict[tuple[int, Path, str, int], Reader | None] = {}
        self._styles: dict[Path, RasterStyle] = {}
        self._versions: OrderedDict[tuple[str, str], cat.LayerEntry] = OrderedDict()

    # -- catalog -----------------------------------------------------------------------------------

    def catalog(self) -> cat.Catalog:
        """The current catalog (re-read if the file changed; checked at most every ``CHECK_INTERVAL_S``)."""
        now = time.monotonic()
        if now - self._checked_at < CHECK_INTERVAL_S:
            return self._catalog
        path = self.root / cat.CATALOG_FILE
        try:
            st = path.stat()
            stamp = (st.st_mtime_ns, st.st_ino)
        except FileNotFoundError:
            return cat.Catalog()
        if stamp != self._stamp:
            with self._lock:
                if stamp != self._stamp:
                    self._catalog = cat.read_catalog(self.root)
                    self._stamp = stamp
                    self._forget_unreferenced()
        # Marked as checked only once the catalog is read: a request arriving while another one
        # reads it (a worker's first requests) waits for it instead of seeing the empty start value.
        self._checked_at = now
        return self._catalog

    def _forget_unreferenced(self) -> None:
        """Drop cached handles of files in version folders the catalog no longer lists (hold the lock)."""
        live = {(self.root / v.path).resolve() for e in self._catalog.layers.values() for v in e.versions} | {
            (self.root / f.path).resolve().parent for e in self._catalog.layers.values() for f in e.files
        }

        def alive(path: Path) -> bool:
            return path.parent in live

        self._archives = {p: a for p, a in self._archives.items() if alive(p)}
        self._archives_by_rel = {r: a for r, a in self._archives_by_rel.items() if alive(a.path)}
        self._readers = {k: r for k, r in self._readers.items() if alive(k[1])}
        self._zoom_readers = {k: r for k, r in self._zoom_readers.items() if alive(k[1])}
        self._styles = {p: s for p, s in self._styles.items() if alive(p)}
        self._versions = OrderedDict(
            (k, e) for k, e in self._versions.items() if any(v.version == k[1] for v in self._layer_versions(k[0]))
        )

    def _layer_versions(self, layer_id: str) -> list[cat.VersionEntry]:
        entry = self._catalog.layers.get(layer_id)
        return entry.versions if entry else []

    def layers(self, caller: Caller) -> list[cat.LayerEntry]:
        """The layers that exist for ``caller`` (internal ones only with a valid key whose scope has them).

        A list holding an internal layer marks the request as serving one (``services.guard``).
        """
        visible = [e for e in self.catalog().layers.values() if caller.may_see(e.access, e.id)]
        if any(e.access != "public" for e in visible):
            mark_internal()
        return visible

    def layer(self, layer_id: str, caller: Caller | None = None) -> cat.LayerEntry:
        """A published layer visible to ``caller`` (None: no access check), or ``NotFoundError``.

        An internal layer asked for without a valid key (or with a key whose scope leaves
        it out) raises the same error as an unknown one, so its existence does not leak.
        """
        entry = self.catalog().layers.get(layer_id)
        if entry is None or (caller is not None and not caller.may_see(entry.access, entry.id)):
            raise NotFoundError(f"unknown layer {layer_id!r}")
        if entry.access != "public":
            mark_internal()
        return entry

    def layer_version(self, layer_id: str, version: str | None, caller: Caller) -> cat.LayerEntry:
        """The layer as published in ``version`` (None: the current one).

        Access follows the current catalog entry, so hiding a layer hides its old versions too,
        and a kept version is returned with the current access (its caching follows it).

        Raises:
            NotFoundError: unknown or invisible layer, or a version that is not kept.
        """
        current = self.layer(layer_id, caller)
        if version is None or version == current.version:
            return current
        kept = next((v for v in current.versions if v.version == version), None)
        if kept is None:
            raise NotFoundError(f"layer {layer_id} has no version {version!r}")
        key = (layer_id, version)
        hit = self._versions.get(key)
        if hit is not None:
            return self._with_access(hit, current.access)
        meta = (self.root / kept.path / cat.METADATA_FILE).resolve()
        if not meta.is_relative_to(self.root):
            raise NotFoundError(f"layer {layer_id} has no version {version!r}")
        try:
            entry = cat.LayerEntry.model_validate_json(meta.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValidationError):
            raise NotFoundError(f"layer {layer_id} version {version!r} is no longer available") from None
        with self._lock:
            self._versions[key] = entry
            while len(self._versions) > VERSION_CACHE_SIZE:
                self._versions.popitem(last=False)
        return self._with_access(entry, current.access)

    @staticmethod
    def _with_access(entry: cat.LayerEntry, access: str) -> cat.LayerEntry:
        """``entry`` with the access the layer has now (a kept version's metadata holds the access it had)."""
        return entry if entry.access == access else entry.model_copy(update={"access": access})

    # -- files -------------------------------------------------------------------------------------

    def file_path(self, entry: cat.FileEntry) -> Path:
        """Absolute path of a catalog file; never outside the catalog root."""
        path = (self.root / entry.path).resolve()
        if not path.is_relative_to(self.root):
            raise NotFoundError(f"file {entry.name!r} not found")
        return path

    def archive(self, entry: cat.FileEntry) -> TileArchive:
        """A PMTiles archive of the catalog, opened once per process."""
        hit = self._archives_by_rel.get(entry.path)
        if hit is not None:
            return hit
        path = self.file_path(entry)
        hit = self._archives.get(path)
        if hit is None:
            with self._lock:
                hit = self._archives.get(path)
                if hit is None:
                    hit = TileArchive(path)
                    self._archives[path] = hit
                self._archives_by_rel[entry.path] = hit
        return hit

    @staticmethod
    def vector_archive_file(entry: cat.LayerEntry) -> cat.FileEntry:
        """The vector tile archive of a layer (``NotFoundError`` when it has none)."""
        for f in entry.files:
            if f.kind == "vector" and f.format == "pmtiles":
                return f
        raise NotFoundError(f"layer {entry.id} has no vector tiles")

    @staticmethod
    def raster_file(entry: cat.LayerEntry, output: str | None = None) -> cat.FileEntry:
        """The COG of raster ``output`` (None: the first raster output) of a layer."""
        for f in entry.files:
            if f.kind == "raster" and f.format == "cog" and (output is None or f.output == output):
                return f
        what = f"raster output {output!r}" if output else "raster output"
        raise NotFoundError(f"layer {entry.id} has no {what}")

    @staticmethod
    def raster_outputs(entry: cat.LayerEntry) -> list[str]:
        """Names of the raster outputs of a layer that have a COG."""
        return [f.output for f in entry.files if f.kind == "raster" and f.format == "cog"]

    def prerendered(self, entry: cat.LayerEntry, output: str, tms_id: str) -> TileArchive | None:
        """The pre-rendered default-style archive of ``output`` in ``tms_id``, if published."""
        name = archive_name(output, tms_id)
        for f in entry.files:
            if f.name == name and f.kind == "raster" and f.format == "pmtiles":
                return self.archive(f)
        return None

    def raster_reader(self, cog: cat.FileEntry, tms_id: str) -> Reader:
        """A rio-tiler reader of a COG in tile matrix set ``tms_id``, opened once per thread and file."""
        path = self.file_path(cog)
        key = (threading.get_ident(), path, tms_id)
        reader = self._readers.get(key)
        if reader is None:
            reader = Reader(str(path), tms=self.tms(tms_id))
            with self._lock:
                self._readers[key] = reader
        return reader

    def zoom_reader(self, cog: cat.FileEntry, tms_id: str, z: int) -> Reader | None:
        """The COG warped onto the grid of level ``z`` of ``tms_id`` (``tiles.prerender.zoom_reader``).

        Tiles rendered on demand go through it, so they are drawn exactly like the
        pre-rendered ones; opened once per thread, file and level. None when the
        raster does not touch the tile matrix at that level.
        """
        path = self.file_path(cog)
        key = (threading.get_ident(), path, tms_id, z)
        if key in self._zoom_readers:
            return self._zoom_readers[key]
        reader = zoom_reader(path, self.tms(tms_id), z)
        with self._lock:
            self._zoom_readers[key] = reader
        return reader

    def tms(self, tms_id: str) -> morecantile.TileMatrixSet:
        """A registered tile matrix set, shared (do not modify; ``NotFoundError`` naming the known ones)."""
        found = self._tms.get(tms_id)
        return found if found is not None else get_tms(tms_id)

    def raster_style(self, entry: cat.LayerEntry, output: str) -> RasterStyle:
        """The default style of a raster output: the one written at publish time, else derived from the COG."""
        cog = self.raster_file(entry, output)
        path = self.file_path(cog)
        hit = self._styles.get(path)
        if hit is not None:
            return hit
        stored = None
        for tms_id in PRERENDER_TMS:
            archive = self.prerendered(entry, output, tms_id)
            if archive is not None and STYLE_KEY in archive.metadata:
                stored = archive.metadata[STYLE_KEY]
                break
        if stored is not None:
            style = RasterStyle.from_json(json.dumps(stored))
        else:
            style = self._style_from_cog(entry, output, path)
        with self._lock:
            self._styles[path] = style
        return style

    @staticmethod
    def _style_from_cog(entry: cat.LayerEntry, output: str, path: Path) -> RasterStyle:
        """Style of a COG published before styles were stored: colour table, or range of an overview."""
        with rasterio.open(path) as ds:
            unit = ds.units[0] or ""
            try:
                colormap = ds.colormap(1)
            except ValueError:
                colormap = None
            value_range = None
            if not colormap:
                factor = max(1, max(ds.width, ds.height) // RANGE_SAMPLE_CELLS)
                sample = ds.read(1, masked=True, out_shape=(max(1, ds.height // factor), max(1, ds.width // factor)))
                if sample.count():
                    value_range = (float(sample.min()), float(sample.max()))
        return resolve_raster_style(
            entry.style_id,
            output,
            title=entry.title.get("nl", entry.id),
            unit=unit,
            embedded_colormap=colormap,
            value_range=value_range or (0.0, 1.0),
        )
