"""The served catalog: re-read when ``catalog.json`` changes, archives opened once."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from pmtiles.reader import MmapSource, Reader

from geo.errors import NotFoundError
from layers import catalog as cat


class CatalogStore:
    """Thread-safe view of a catalog folder for the web service.

    A build replaces ``catalog.json`` atomically; the store notices the new
    modification time and swaps in the new catalog, so a published version is
    served without a restart. Version folders are immutable, so open readers
    stay valid and are cached by path.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._catalog = cat.Catalog()
        self._readers: dict[Path, tuple[Any, Reader]] = {}

    def catalog(self) -> cat.Catalog:
        """The current catalog (re-read if the file changed)."""
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
        return self._catalog

    def layer(self, layer_id: str) -> cat.LayerEntry:
        """A published layer or ``NotFoundError``."""
        entry = self.catalog().layers.get(layer_id)
        if entry is None:
            raise NotFoundError(f"unknown layer {layer_id!r}")
        return entry

    def file_path(self, entry: cat.FileEntry) -> Path:
        """Absolute path of a catalog file; never outside the catalog root."""
        path = (self.root / entry.path).resolve()
        if not path.is_relative_to(self.root):
            raise NotFoundError(f"file {entry.name!r} not found")
        return path

    def pmtiles(self, entry: cat.FileEntry) -> Reader:
        """A PMTiles reader for a catalog file, opened once per process."""
        path = self.file_path(entry)
        hit = self._readers.get(path)
        if hit is None:
            with self._lock:
                hit = self._readers.get(path)
                if hit is None:
                    fh = open(path, "rb")  # noqa: SIM115 - kept open for the reader's memory map
                    hit = (fh, Reader(MmapSource(fh)))
                    self._readers[path] = hit
        return hit[1]
