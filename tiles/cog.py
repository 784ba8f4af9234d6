"""Cloud Optimized GeoTIFF writer and validator.

The file is written by GDAL's COG driver (through ``rasterio.shutil.copy``) from an
in-memory dataset, not by rio-cogeo's ``cog_translate``: ``cog_translate`` copies
band descriptions but drops band units (``units``), which kaartlaag publishes
(metres NAP, percent, kelvin). The COG driver copies descriptions, units, colour
table, nodata and dataset tags, builds the overviews itself and lays the file out
as a COG (ghost header, IFDs first, tiles ordered by overview). rio-cogeo's
``cog_validate`` checks every file before it replaces the published one.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import rasterio.shutil
from rasterio.errors import RasterioError
from rasterio.io import MemoryFile
from rio_cogeo.cogeo import cog_validate

from geo.errors import PublishError
from geo.raster import Raster

#: GDAL COG driver overview resampling methods (``OVERVIEW_RESAMPLING``).
RESAMPLING_METHODS = frozenset(
    {"nearest", "average", "bilinear", "cubic", "cubicspline", "lanczos", "mode", "rms"}
)
#: Methods that keep class codes intact in overviews of a classified (colour-mapped) raster.
CLASS_RESAMPLING_METHODS = frozenset({"nearest", "mode"})
#: TIFF predictor values: horizontal differencing for integers, floating-point for floats.
PREDICTOR_INTEGER = "2"
PREDICTOR_FLOAT = "3"
PREDICTOR_NONE = "1"
#: Deflate effort (1-9); 6 is zlib's default balance of size and speed.
DEFLATE_LEVEL = 6
#: Data types a colour table can be attached to (GDAL allows palettes on 8- and 16-bit unsigned bands).
COLORMAP_DTYPES = frozenset({np.dtype("uint8"), np.dtype("uint16")})
#: Smallest allowed block size in pixels (TIFF tiles must be multiples of 16).
TIFF_TILE_MULTIPLE = 16


def _predictor(dtype: np.dtype) -> str:
    if np.issubdtype(dtype, np.integer):
        return PREDICTOR_INTEGER
    if np.issubdtype(dtype, np.floating):
        return PREDICTOR_FLOAT
    return PREDICTOR_NONE


def _nodata(raster: Raster) -> float | int | None:
    """Nodata to declare: the raster's, or NaN for a float raster holding NaN cells.

    A float raster with NaN cells but no declared nodata would show NaN as data to
    readers that only mask the declared value, so NaN is declared for them.
    """
    if raster.nodata is not None:
        return raster.nodata
    if np.issubdtype(raster.data.dtype, np.floating) and bool(np.isnan(raster.data).any()):
        return float("nan")
    return None


def _check_options(
    raster: Raster, path: Path, resampling: str, blocksize: int, colormap: Mapping | None
) -> None:
    if resampling not in RESAMPLING_METHODS:
        raise PublishError(
            f"{path}: unknown overview resampling {resampling!r}; "
            f"use one of {', '.join(sorted(RESAMPLING_METHODS))}"
        )
    if blocksize <= 0 or blocksize % TIFF_TILE_MULTIPLE:
        raise PublishError(
            f"{path}: blocksize must be a positive multiple of {TIFF_TILE_MULTIPLE}, got {blocksize}"
        )
    if colormap is None:
        return
    if raster.count != 1 or raster.data.dtype not in COLORMAP_DTYPES:
        raise PublishError(
            f"{path}: a colormap needs a single-band uint8/uint16 raster, "
            f"got {raster.count} band(s) of {raster.data.dtype}"
        )
    if resampling not in CLASS_RESAMPLING_METHODS:
        raise PublishError(
            f"{path}: overviews of a classified raster must use 'nearest' or 'mode', not {resampling!r}"
        )


def write_cog(
    raster: Raster,
    path: str | Path,
    *,
    resampling: str = "nearest",
    blocksize: int = 512,
    colormap: dict[int, tuple[int, int, int, int]] | None = None,
    tags: dict[str, str] | None = None,
) -> Path:
    """Write ``raster`` as a Cloud Optimized GeoTIFF, atomically.

    The COG is internally tiled (``blocksize`` pixels square), deflate-compressed
    with predictor 2 for integer and 3 for float data, and has overviews halving
    the resolution until the smallest is under ``blocksize`` (GDAL COG driver
    default). Nodata is the raster's own, or NaN for float rasters with NaN cells.
    Band descriptions are ``raster.band_names`` and band units ``raster.units``; the
    grid (CRS, transform) is the raster's, so no reprojection happens here.

    The file is written to a hidden temporary file in the same folder, checked with
    rio-cogeo's ``cog_validate`` and only then moved over ``path`` with
    ``os.replace``, so a reader sees either the old file or the complete new one.

    Args:
        raster: the raster to publish.
        path: destination ``.tif`` file; its folder must exist.
        resampling: overview resampling (GDAL name, e.g. ``"nearest"``, ``"average"``,
            ``"mode"``); classified rasters should use ``"nearest"`` or ``"mode"``.
        blocksize: tile size in pixels (multiple of 16).
        colormap: class code -> (r, g, b, a) colour table for a single-band
            uint8/uint16 classified raster.
        tags: dataset metadata items (e.g. layer id, version, source dates).

    Returns:
        The destination path.

    Raises:
        PublishError: when the options do not fit the raster, GDAL fails, or the
            written file is not a valid COG; ``path`` is left untouched.
    """
    path = Path(path)
    _check_options(raster, path, resampling, blocksize, colormap)
    if not path.parent.is_dir():
        raise PublishError(f"{path}: folder {path.parent} does not exist")
    nodata = _nodata(raster)
    profile = {
        "driver": "MEM",
        "width": raster.width,
        "height": raster.height,
        "count": raster.count,
        "dtype": raster.data.dtype.name,
        "crs": raster.crs,
        "transform": raster.transform,
        "nodata": nodata,
    }

    def copy(tmp: Path) -> None:
        with MemoryFile() as memfile, memfile.open(**profile) as mem:
            mem.write(raster.data)
            mem.descriptions = tuple(raster.band_names)
            mem.units = tuple(raster.units)
            _annotate(mem, colormap, tags)
            rasterio.shutil.copy(mem, tmp, driver="COG", **_creation(raster.data.dtype, resampling, blocksize))

    return _write_atomically(path, copy)


def write_cog_from_file(
    source: str | Path,
    path: str | Path,
    *,
    resampling: str = "nearest",
    blocksize: int = 512,
    colormap: dict[int, tuple[int, int, int, int]] | None = None,
    tags: dict[str, str] | None = None,
) -> Path:
    """Write a GeoTIFF on disk as a Cloud Optimized GeoTIFF, atomically, in bounded memory.

    The same COG as :func:`write_cog` (tiling, compression, overviews, atomic
    replace, validation), for rasters too large to hold in memory: GDAL streams
    the source block by block. Band names, units and nodata come from the source.

    Raises:
        PublishError: GDAL fails or the result is not a valid COG; ``path`` is left untouched.
    """
    source, path = Path(source), Path(path)
    if not path.parent.is_dir():
        raise PublishError(f"{path}: folder {path.parent} does not exist")

    def copy(tmp: Path) -> None:
        with rasterio.open(source, "r+") as src:
            _annotate(src, colormap, tags)
        with rasterio.open(source) as src:
            rasterio.shutil.copy(src, tmp, driver="COG", **_creation(np.dtype(src.dtypes[0]), resampling, blocksize))

    return _write_atomically(path, copy)


def _annotate(
    ds: Any, colormap: Mapping[int, tuple[int, int, int, int]] | None, tags: Mapping[str, str] | None
) -> None:
    """Write the colour table (band 1) and the metadata items into an open dataset."""
    if colormap is not None:
        ds.write_colormap(1, dict(colormap))
    if tags:
        ds.update_tags(**{str(k): str(v) for k, v in tags.items()})


def _creation(dtype: np.dtype, resampling: str, blocksize: int) -> dict[str, Any]:
    return {
        "BLOCKSIZE": blocksize,
        "COMPRESS": "DEFLATE",
        "LEVEL": DEFLATE_LEVEL,
        "PREDICTOR": _predictor(dtype),
        "OVERVIEW_RESAMPLING": resampling.upper(),
        "BIGTIFF": "IF_SAFER",
    }


def _write_atomically(path: Path, copy: Callable[[Path], None]) -> Path:
    """Run ``copy`` into a hidden temporary file beside ``path``, validate it, fsync, and rename over ``path``."""
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        try:
            copy(tmp)
        except (RasterioError, TypeError, ValueError) as exc:
            raise PublishError(f"{path}: writing the COG failed: {exc}") from exc
        validate_cog(tmp, name=path)
        with open(tmp, "rb") as handle:
            # Flush to disk before the rename so a crash cannot leave a renamed but empty file.
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return path


def validate_cog(path: str | Path, *, name: str | Path | None = None) -> None:
    """Check that ``path`` is a valid Cloud Optimized GeoTIFF (rio-cogeo ``cog_validate``).

    Warnings count as failures: rio-cogeo warns about a missing overview set or
    blocks that are too large, both of which make the file slow to serve.

    Args:
        path: the GeoTIFF to check.
        name: the name to report instead of ``path`` (e.g. the destination of a
            temporary file).

    Raises:
        PublishError: listing rio-cogeo's errors and warnings.
    """
    shown = path if name is None else name
    try:
        is_valid, errors, warnings = cog_validate(str(path), quiet=True)
    except (RasterioError, OSError) as exc:
        raise PublishError(f"{shown}: cannot be read as a GeoTIFF: {exc}") from exc
    if not is_valid or errors or warnings:
        problems = [f"error: {e}" for e in errors] + [f"warning: {w}" for w in warnings]
        raise PublishError(f"{shown}: not a valid COG: {'; '.join(problems) or 'rejected by rio-cogeo'}")
    _check_not_truncated(Path(path), shown)


def _check_not_truncated(path: Path, shown: str | Path) -> None:
    """Check that the last full-resolution tile of every band lies inside the file.

    rio-cogeo reads only the header and the first tiles, so a file cut short after
    its header (interrupted copy, full disk) would pass. In a COG the full-resolution
    tiles come last, in row order, so the last tile of each band ends the data.
    """
    size = path.stat().st_size
    with rasterio.open(path) as src:
        block_rows, block_cols = src.block_shapes[0]
        last_col = (src.width - 1) // block_cols
        last_row = (src.height - 1) // block_rows
        for band in src.indexes:
            offset = src.get_tag_item(f"BLOCK_OFFSET_{last_col}_{last_row}", "TIFF", bidx=band)
            length = src.get_tag_item(f"BLOCK_SIZE_{last_col}_{last_row}", "TIFF", bidx=band)
            if offset and length and int(offset) + int(length) > size:
                raise PublishError(
                    f"{shown}: not a valid COG: truncated, band {band} ends at byte "
                    f"{int(offset) + int(length)} but the file has {size} bytes"
                )
