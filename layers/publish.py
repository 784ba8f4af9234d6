"""Writing a layer's in-memory result as published files, and reading it back.

Vector outputs go to GeoParquet (the exact data, for exports and for
dependent layers) and together into one PMTiles archive (one tile layer per
output, for maps). Raster outputs go to Cloud-Optimized GeoTIFFs.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import rasterio
from affine import Affine

from geo.raster import Raster
from layers.base import LayerDef, LayerResult
from layers.catalog import FileEntry
from styles.palettes import raster_colormap
from styles.raster import raster_style_for
from tiles.cog import write_cog, write_cog_from_file
from tiles.pmtiles import write_pmtiles
from tiles.prerender import prerender_raster

#: Cells a side of the overview read to choose a file-based raster's default style.
_PREVIEW_CELLS = 1024

MEDIA_TYPES = {
    "parquet": "application/vnd.apache.parquet",
    "pmtiles": "application/vnd.pmtiles",
    "cog": "image/tiff; application=geotiff; profile=cloud-optimized",
    "json": "application/json",
}


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _entry(path: Path, root: Path, rel_dir: str, *, output: str, kind: str, fmt: str) -> FileEntry:
    return FileEntry(
        name=path.name,
        output=output,
        kind=kind,  # type: ignore[arg-type]
        format=fmt,
        media_type=MEDIA_TYPES[fmt],
        path=f"{rel_dir}/{path.name}",
        bytes=path.stat().st_size,
        sha256=_sha256(path),
    )


def write_result(
    layer: LayerDef, result: LayerResult, staged: Path, rel_dir: str, attribution: str,
    raster_files: Mapping[str, Path] | None = None,
) -> list[FileEntry]:
    """Write every output of ``result`` into ``staged``; return the file entries.

    Args:
        layer: the layer definition (zooms, style, titles).
        result: the computed outputs.
        staged: private folder that becomes the version folder.
        rel_dir: the version folder's path relative to the catalog root.
        attribution: source attribution written into the tile archive.
        raster_files: raster outputs already on disk as GeoTIFFs (windowed builds);
            each becomes a COG by streaming and the GeoTIFF is removed.
    """
    files: list[FileEntry] = []
    for name, frame in result.vectors.items():
        path = staged / f"{name}.parquet"
        frame.to_parquet(path, index=False, write_covering_bbox=False)
        files.append(_entry(path, staged, rel_dir, output=name, kind="vector", fmt="parquet"))
    if result.vectors:
        path = staged / f"{layer.id}.pmtiles"
        write_pmtiles(
            result.vectors,
            path,
            minzoom=layer.minzoom,
            maxzoom=layer.maxzoom,
            name=layer.title.get("nl", layer.id),
            description=layer.description.get("nl", ""),
            attribution=attribution,
        )
        files.append(_entry(path, staged, rel_dir, output=layer.id, kind="vector", fmt="pmtiles"))
    rasters: list[tuple[str, Raster | Path]] = [*result.rasters.items(), *(raster_files or {}).items()]
    for name, raster in rasters:
        path = staged / f"{name}.tif"
        options: dict[str, Any] = {
            "colormap": raster_colormap(layer.style_id, name), "tags": {"layer": layer.id, "output": name},
        }
        if isinstance(raster, Raster):
            integer = raster.data.dtype.kind in "iu"
            write_cog(raster, path, resampling="nearest" if integer else "average", **options)
            preview = raster
        else:
            with rasterio.open(raster) as ds:
                integer = np.dtype(ds.dtypes[0]).kind in "iu"
            write_cog_from_file(raster, path, resampling="nearest" if integer else "average", **options)
            raster.unlink()
            preview = read_cog(path, max_cells=_PREVIEW_CELLS)
        files.append(_entry(path, staged, rel_dir, output=name, kind="raster", fmt="cog"))
        # Pre-rendered tiles in the default style (stored in their metadata), so the server reads them.
        style = raster_style_for(preview, layer.style_id, name, layer.title.get("nl", layer.id))
        if style is not None:
            title, style_data = layer.title.get("nl", layer.id), json.loads(style.to_json())
            for archive in prerender_raster(path, name, style.colormap(), name=title, style=style_data):
                files.append(_entry(archive, staged, rel_dir, output=name, kind="raster", fmt="pmtiles"))
    return files


def read_result(root: Path, files: list[FileEntry]) -> LayerResult:
    """Load a published version back into memory (for layers that depend on it)."""
    result = LayerResult()
    for f in files:
        path = Path(root) / f.path
        if f.format == "parquet":
            result.vectors[f.output] = gpd.read_parquet(path)
        elif f.format == "cog":
            result.rasters[f.output] = read_cog(path)
    return result


def read_cog(path: Path, max_cells: int | None = None) -> Raster:
    """Read a published COG into a ``Raster`` (band names and units from the file).

    With ``max_cells`` the raster is read decimated to at most about that many cells a
    side (from the COG's overviews): enough to choose the class breaks of a style.
    """
    with rasterio.open(path) as ds:
        step = 1 if max_cells is None else max(1, math.ceil(max(ds.width, ds.height) / max_cells))
        shape = (ds.count, max(1, ds.height // step), max(1, ds.width // step))
        data = ds.read(out_shape=shape)
        transform = ds.transform @ Affine.scale(ds.width / shape[2], ds.height / shape[1])
        names = tuple(d or f"band{i + 1}" for i, d in enumerate(ds.descriptions))
        units = tuple(u or "" for u in ds.units)
        nodata = ds.nodata
        if nodata is not None and np.issubdtype(data.dtype, np.floating) and np.isnan(nodata):
            nodata = float("nan")
        return Raster(data, ds.crs, transform, nodata=nodata, band_names=names, units=units)
