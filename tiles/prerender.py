"""Pre-rendered default-style raster tiles, written at publish time so the server reads tiles, not renders them.

For every raster output and tile matrix set, tiles are rendered with rio-tiler
from the published COG (the same ``render_tile`` the server uses for tiles it
renders on demand, so both look the same) for the zoom levels the raster's
resolution supports, and stored in one archive per tile matrix set:

* ``<output>.WebMercatorQuad.pmtiles``: a standard PMTiles v3 archive of PNG tiles.
* ``<output>.NetherlandsRDNewQuad.pmtiles``: the same container, addressed by the
  z/x/y of the RD New quadtree (its levels are 2^z x 2^z tiles like the web
  quadtree, so the PMTiles Hilbert tile ids apply unchanged). Its metadata names
  the tile matrix set (``tileMatrixSet``); web-mercator PMTiles viewers must not
  be given this file.

Zoom levels: from the level at which the whole raster fits in about one tile
(or rio-tiler's overview-based minimum zoom, whichever is lower) to rio-tiler's
maximum zoom, the first level whose cell size is finer than the raster's. Tiles
without any data are not stored (the server answers them with a transparent tile).
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import tempfile
import threading
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import morecantile
import numpy as np
import rasterio
from affine import Affine
from PIL import Image
from pmtiles.tile import Compression, TileType, zxy_to_tileid
from pmtiles.writer import write as pmtiles_write
from rasterio.enums import Resampling
from rasterio.errors import NotGeoreferencedWarning
from rasterio.vrt import WarpedVRT
from rasterio.warp import transform_bounds
from rio_tiler.constants import WGS84_CRS
from rio_tiler.errors import TileOutsideBounds
from rio_tiler.io import Reader
from rio_tiler.models import ImageData

from tiles.pmtiles import header_extent
from tiles.tms import NETHERLANDS_RD_NEW_QUAD, WEB_MERCATOR_QUAD, get_tms

# PNG tiles carry no georeferencing by design; rasterio warns about that for every in-memory PNG.
warnings.filterwarnings("ignore", category=NotGeoreferencedWarning, module="rasterio.io")

#: Tile matrix sets pre-rendered for every raster output.
PRERENDER_TMS: tuple[str, ...] = (WEB_MERCATOR_QUAD, NETHERLANDS_RD_NEW_QUAD)
#: Suffix of a pre-rendered archive (after ``<output>.<tms>``).
ARCHIVE_SUFFIX = ".pmtiles"
#: Metadata key of the default style in a pre-rendered archive.
STYLE_KEY = "kaartlaag:style"
#: Media type of raster tiles (indexed PNG).
TILE_MEDIA_TYPE = "image/png"
#: zlib level of tile PNGs: 6 is zlib's balance; palette tiles are small either way.
PNG_COMPRESS_LEVEL = 6
#: Colours of an indexed PNG (one entry is the transparent one).
MAX_PALETTE = 255
#: Densification points when projecting a raster's bounds into a tile matrix set CRS.
DENSIFY_POINTS = 21
#: Number of tiles (per axis) the whole raster may span at the lowest pre-rendered zoom.
FIT_TILES = 1
#: Default number of rendering threads (GDAL releases the GIL while reading).
DEFAULT_WORKERS = 2


def archive_name(output: str, tms_id: str) -> str:
    """File name of the pre-rendered archive of ``output`` in tile matrix set ``tms_id``."""
    return f"{output}.{tms_id}{ARCHIVE_SUFFIX}"


def palette_indices(data: np.ndarray, valid: np.ndarray, colormap: Any) -> tuple[np.ndarray, list[tuple[int, ...]]]:
    """Map one band to palette indices of ``colormap``; index 0 is transparent (nodata, no class).

    Args:
        data: the band (rows, cols).
        valid: True where the band holds data.
        colormap: code -> RGBA dict (classified), or ``[((lower, upper), RGBA), ...]`` intervals
            (continuous; a value belongs to the first interval with lower <= value < upper).

    Returns:
        uint8 indices and the palette (RGBA per index, index 0 first).
    """
    if isinstance(colormap, dict):
        entries = sorted((int(k), tuple(v)) for k, v in colormap.items())
        codes = np.array([k for k, _ in entries])
        colours = [c for _, c in entries]
        flat = data.astype("int64", copy=False)
        position = np.clip(np.searchsorted(codes, flat), 0, len(codes) - 1)
        hit = valid & (codes[position] == flat)
        index = np.where(hit, position + 1, 0)
    else:
        colours = [tuple(colour) for _, colour in colormap]
        index = np.zeros(data.shape, dtype="int64")
        for i, ((lower, upper), _) in reversed(list(enumerate(colormap))):
            index[valid & (data >= lower) & (data < upper)] = i + 1  # reversed: the first interval wins
    if len(colours) > MAX_PALETTE:
        raise ValueError(f"a default style has at most {MAX_PALETTE} colours, this one {len(colours)}")
    return index.astype("uint8"), [(0, 0, 0, 0), *(tuple(int(v) for v in c) + (255,) * (4 - len(c)) for c in colours)]


def encode_palette_png(index: np.ndarray, palette: list[tuple[int, ...]]) -> bytes:
    """An indexed (palette) PNG with per-entry transparency, via Pillow (a few times smaller and faster to
    encode than RGBA)."""
    image = Image.fromarray(index, mode="P")
    image.putpalette([v for rgba in palette for v in rgba[:3]])
    out = io.BytesIO()
    image.save(out, format="PNG", transparency=bytes(rgba[3] for rgba in palette), compress_level=PNG_COMPRESS_LEVEL)
    return out.getvalue()


def render_image(image: ImageData, colormap: Any) -> bytes:
    """Encode a one-band tile as PNG in the default style (colour map applied, nodata transparent)."""
    band = np.asarray(image.array.data[0])
    valid = ~np.ma.getmaskarray(image.array)[0]
    index, palette = palette_indices(band, valid, colormap)
    return encode_palette_png(index, palette)


def render_tile(reader: Reader, z: int, x: int, y: int, colormap: Any) -> bytes | None:
    """Render tile z/x/y of ``reader``'s tile matrix set, or None when it holds no data.

    Args:
        reader: an open rio-tiler reader (its ``tms`` decides the tiling).
        z: zoom level (tile matrix identifier).
        x: column.
        y: row.
        colormap: rio-tiler colour map (code -> RGBA dict or intervals list).
    """
    try:
        image = reader.tile(x, y, z)
    except TileOutsideBounds:
        return None
    if not np.any(image.mask):
        return None
    return render_image(image, colormap)


@functools.cache
def transparent_png(size: int = 256) -> bytes:
    """A fully transparent PNG tile (answer for tiles inside the matrix but without data)."""
    return encode_palette_png(np.zeros((size, size), dtype="uint8"), [(0, 0, 0, 0)])


def xy_bounds(reader: Reader, tms: morecantile.TileMatrixSet) -> tuple[float, float, float, float]:
    """Bounds of the raster in the tile matrix set's CRS."""
    return tuple(  # type: ignore[return-value]
        transform_bounds(reader.crs, tms.rasterio_crs, *reader.bounds, densify_pts=DENSIFY_POINTS)
    )


def zoom_range(reader: Reader) -> tuple[int, int]:
    """Zoom levels to pre-render for ``reader`` (see the module docstring)."""
    tms = reader.tms
    left, bottom, right, top = xy_bounds(reader, tms)
    span = max(right - left, top - bottom)
    fit = tms.minzoom
    for z in range(tms.minzoom, tms.maxzoom + 1):
        matrix = tms.matrix(z)
        if matrix.cellSize * matrix.tileWidth * FIT_TILES >= span:
            fit = z
    maxzoom = min(max(reader.maxzoom, tms.minzoom), tms.maxzoom)
    minzoom = max(tms.minzoom, min(fit, reader.minzoom, maxzoom))
    return minzoom, maxzoom


def tile_range(
    tms: morecantile.TileMatrixSet, bounds: tuple[float, float, float, float], z: int
) -> tuple[int, int, int, int] | None:
    """Columns and rows of the tiles of ``tms`` at level ``z`` that intersect ``bounds`` (in the TMS CRS).

    Returns:
        (first column, last column, first row, last row), inclusive, or None when
        the bounds lie outside the tile matrix.
    """
    left, bottom, right, top = bounds
    tl_left, tl_bottom, tl_right, tl_top = tms.xy_bbox
    # Clamp to the matrix so rasters at its edge still get their tiles.
    left, right = max(left, tl_left), min(right, tl_right)
    bottom, top = max(bottom, tl_bottom), min(top, tl_top)
    if left >= right or bottom >= top:
        return None
    matrix = tms.matrix(z)
    size_x = matrix.cellSize * matrix.tileWidth
    size_y = matrix.cellSize * matrix.tileHeight
    ox, oy = matrix.pointOfOrigin
    first_col = max(0, int((left - ox) // size_x))
    last_col = min(matrix.matrixWidth - 1, int((right - ox) // size_x))
    first_row = max(0, int((oy - top) // size_y))
    last_row = min(matrix.matrixHeight - 1, int((oy - bottom) // size_y))
    return first_col, last_col, first_row, last_row


def tiles_covering(reader: Reader, zooms: range) -> Iterator[morecantile.Tile]:
    """Every tile of ``reader.tms`` at ``zooms`` that intersects the raster's bounds."""
    bounds = xy_bounds(reader, reader.tms)
    for z in zooms:
        found = tile_range(reader.tms, bounds, z)
        if found is None:
            continue
        first_col, last_col, first_row, last_row = found
        for row in range(first_row, last_row + 1):
            for col in range(first_col, last_col + 1):
                yield morecantile.Tile(col, row, z)


def _close_reader(reader: Reader | None) -> None:
    """Close a reader of :func:`zoom_reader`: its warped dataset and the COG under it (twice is harmless)."""
    if reader is None:
        return
    vrt = reader.dataset
    src = getattr(vrt, "src_dataset", None)
    if vrt is not None:
        vrt.close()
    if src is not None:
        src.close()


def zoom_reader(cog: Path, tms: morecantile.TileMatrixSet, z: int) -> Reader | None:
    """A rio-tiler reader whose dataset is the COG warped once onto the pixel grid of level ``z``.

    rio-tiler reprojects every tile separately, and creating the coordinate operation from
    RD New to web mercator costs PROJ about 25 ms, more than reading and encoding a tile.
    Warping onto the level's grid (origin at a tile corner, cell size of the level,
    nearest neighbour, as rio-tiler does per tile) makes each tile a plain window read.
    Not thread-safe: use one per thread.

    Returns:
        The reader, or None when the raster does not touch the tile matrix at this level.
    """
    src = rasterio.open(cog)
    bounds = transform_bounds(src.crs, tms.rasterio_crs, *src.bounds, densify_pts=DENSIFY_POINTS)
    found = tile_range(tms, bounds, z)
    if found is None:
        src.close()
        return None
    first_col, last_col, first_row, last_row = found
    matrix = tms.matrix(z)
    ox, oy = matrix.pointOfOrigin
    left = ox + first_col * matrix.cellSize * matrix.tileWidth
    top = oy - first_row * matrix.cellSize * matrix.tileHeight
    options: dict[str, Any] = {
        "crs": tms.rasterio_crs,
        "transform": Affine(matrix.cellSize, 0, left, 0, -matrix.cellSize, top),
        "width": (last_col - first_col + 1) * matrix.tileWidth,
        "height": (last_row - first_row + 1) * matrix.tileHeight,
        "resampling": Resampling.nearest,
    }
    if src.nodata is None:
        options["add_alpha"] = True  # cells outside the source must stay transparent
    vrt = WarpedVRT(src, **options)
    return Reader(None, dataset=vrt, tms=tms)


def prerender_archive(
    cog: Path,
    target: Path,
    tms_id: str,
    colormap: Any,
    *,
    name: str = "",
    workers: int = DEFAULT_WORKERS,
    extra_metadata: dict[str, Any] | None = None,
) -> tuple[int, int, int] | None:
    """Render the default-style tiles of ``cog`` in ``tms_id`` into the archive ``target``, atomically.

    Args:
        cog: the published COG.
        target: destination archive (``.pmtiles``); its folder must exist.
        tms_id: tile matrix set identifier (``tiles.tms.TMS_IDS``).
        colormap: rio-tiler colour map of the default style.
        name: tileset name for the archive metadata.
        workers: rendering threads.
        extra_metadata: more entries for the archive's JSON metadata (e.g. the style).

    Returns:
        (minzoom, maxzoom, number of tiles stored), or None when no tile holds data
        (then no archive is written and the server renders on demand).
    """
    tms = get_tms(tms_id)
    with Reader(str(cog), tms=tms) as main:
        minzoom, maxzoom = zoom_range(main)
        tiles = list(tiles_covering(main, range(minzoom, maxzoom + 1)))
        west, south, east, north = main.get_geographic_bounds(WGS84_CRS)
        tms_bounds = xy_bounds(main, tms)
    local = threading.local()
    opened: list[Reader] = []
    lock = threading.Lock()

    def job(tile: morecantile.Tile) -> tuple[int, bytes | None]:
        # One warped reader per thread and level (GDAL handles are not shared between threads).
        readers: dict[int, Reader | None] = local.__dict__.setdefault("readers", {})
        if tile.z not in readers:
            # Tiles come level by level: the previous level's warped dataset is done with.
            for old in readers.values():
                _close_reader(old)
            readers.clear()
            readers[tile.z] = zoom_reader(cog, tms, tile.z)
            if readers[tile.z] is not None:
                with lock:
                    opened.append(readers[tile.z])  # type: ignore[arg-type]
        reader = readers[tile.z]
        data = None if reader is None else render_tile(reader, tile.z, tile.x, tile.y, colormap)
        return zxy_to_tileid(tile.z, tile.x, tile.y), data

    try:
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            rendered = [(tid, data) for tid, data in pool.map(job, tiles) if data is not None]
    finally:
        for reader in opened:
            _close_reader(reader)
    if not rendered:
        return None
    rendered.sort(key=lambda item: item[0])
    header = {
        "tile_type": TileType.PNG,
        "tile_compression": Compression.NONE,
        **header_extent((west, south, east, north), minzoom),
    }
    metadata = {
        "name": name or cog.stem,
        "format": "png",
        "type": "overlay",
        "tileMatrixSet": tms_id,
        "crs": tms.rasterio_crs.to_string(),
        "bounds_tms_crs": [round(v, 3) for v in tms_bounds],
        "minzoom": minzoom,
        "maxzoom": maxzoom,
        **(extra_metadata or {}),
    }
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        with pmtiles_write(tmp_name) as writer:
            for tile_id, data in rendered:
                writer.write_tile(tile_id, data)
            writer.finalize(header, metadata)
        with open(tmp_name, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp_name, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
    return minzoom, maxzoom, len(rendered)


def prerender_raster(
    cog: Path,
    output: str,
    colormap: Any,
    *,
    name: str = "",
    workers: int = DEFAULT_WORKERS,
    style: dict[str, Any] | None = None,
) -> list[Path]:
    """Pre-render ``cog`` with ``colormap`` in every tile matrix set of ``PRERENDER_TMS`` next to it.

    Args:
        cog: the published COG.
        output: the raster output name (archive names).
        colormap: rio-tiler colour map of the default style.
        name: tileset name.
        workers: rendering threads.
        style: the default style as JSON-ready data, stored in each archive's metadata
            (``STYLE_KEY``) so the server, its legends and tiles rendered on demand use
            exactly the style of these tiles.

    Returns:
        The archives written (none for a raster without data).
    """
    extra = {STYLE_KEY: style} if style is not None else None
    paths = []
    for tms_id in PRERENDER_TMS:
        target = cog.parent / archive_name(output, tms_id)
        done = prerender_archive(cog, target, tms_id, colormap, name=name, workers=workers, extra_metadata=extra)
        if done is not None:
            paths.append(target)
    return paths
