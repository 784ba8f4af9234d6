"""A PMTiles reader for serving: memory-mapped, header and directories parsed once.

``pmtiles.reader.Reader.get`` parses the header and decompresses the root (and
leaf) directory on every call; a tile server answering thousands of requests a
second would spend most of its time there. This reader keeps the parsed root
directory and a bounded cache of leaf directories, and looks tiles up with the
package's own ``find_tile`` (binary search over the directory entries).
Version folders are immutable, so nothing cached ever goes stale.
"""

from __future__ import annotations

import functools
import gzip
import json
import mmap
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from pmtiles.tile import Compression, Entry, deserialize_directory, deserialize_header, find_tile, zxy_to_tileid

from geo.errors import PublishError

#: PMTiles v3 header length in bytes.
HEADER_BYTES = 127
#: Leaf directories kept parsed per archive (each a few hundred kB at most).
LEAF_CACHE_SIZE = 64
#: Directory levels a PMTiles v3 archive may nest (root plus leaves).
MAX_DEPTH = 4
MAGIC = b"PMTiles"
#: Tile ids kept computed (popular tiles repeat; 100,000 ids take about 10 MB).
TILE_ID_CACHE_SIZE = 100_000


@functools.lru_cache(maxsize=TILE_ID_CACHE_SIZE)
def tile_id_of(z: int, x: int, y: int) -> int:
    """PMTiles tile id (Hilbert index) of z/x/y, cached: ``pmtiles.tile.zxy_to_tileid`` loops in Python."""
    return int(zxy_to_tileid(z, x, y))


class TileArchive:
    """Read-only PMTiles archive opened once per process.

    Attributes:
        path: the archive file.
        header: the parsed header (``pmtiles.tile.deserialize_header``).
        metadata: the JSON metadata.
        gzip_tiles: whether tiles are stored gzip-compressed (sent with ``Content-Encoding: gzip``).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        with open(path, "rb") as fh:
            # The mapping stays valid after the file object is closed (and after the file is unlinked).
            self._map = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        if self._map[: len(MAGIC)] != MAGIC:
            raise PublishError(f"{path.name}: not a PMTiles archive")
        self.header: dict[str, Any] = dict(deserialize_header(self._map[:HEADER_BYTES]))
        self.gzip_tiles = self.header["tile_compression"] == Compression.GZIP
        self._internal_gzip = self.header["internal_compression"] == Compression.GZIP
        self._root = self._directory(self.header["root_offset"], self.header["root_length"])
        raw = self._map[
            self.header["metadata_offset"] : self.header["metadata_offset"] + self.header["metadata_length"]
        ]
        self.metadata: dict[str, Any] = json.loads(gzip.decompress(raw) if self._internal_gzip else raw)
        self._leaves: OrderedDict[int, list[Entry]] = OrderedDict()
        self._lock = threading.Lock()
        self.minzoom = int(self.header["min_zoom"])
        self.maxzoom = int(self.header["max_zoom"])

    def _directory(self, offset: int, length: int) -> list[Entry]:
        # deserialize_directory decompresses gzip itself (the only internal compression tippecanoe
        # and the pmtiles writer use).
        return deserialize_directory(self._map[offset : offset + length])

    def _leaf(self, offset: int, length: int) -> list[Entry]:
        leaf = self._leaves.get(offset)
        if leaf is not None:
            return leaf
        leaf = self._directory(offset, length)
        with self._lock:
            self._leaves[offset] = leaf
            while len(self._leaves) > LEAF_CACHE_SIZE:
                self._leaves.popitem(last=False)
        return leaf

    def get(self, z: int, x: int, y: int) -> bytes | None:
        """The stored bytes of tile z/x/y (as stored: gzip for tippecanoe's MVT), or None if absent."""
        tile_id = tile_id_of(z, x, y)
        directory = self._root
        for _depth in range(MAX_DEPTH):
            entry = find_tile(directory, tile_id)
            if entry is None:
                return None
            if entry.run_length > 0:
                start = self.header["tile_data_offset"] + entry.offset
                return self._map[start : start + entry.length]
            directory = self._leaf(self.header["leaf_directory_offset"] + entry.offset, entry.length)
        return None
