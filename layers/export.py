"""Exporting a published layer version to a file a GIS user can open."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Literal

import geopandas as gpd
import pyogrio

from geo.errors import NotFoundError
from layers import catalog as cat

ExportFormat = Literal["gpkg", "parquet", "geojson", "tif"]


def _version_files(root: Path, layer_id: str, version: str | None) -> list[cat.FileEntry]:
    catalog = cat.read_catalog(root)
    entry = catalog.layers.get(layer_id)
    if entry is None:
        raise NotFoundError(
            f"layer {layer_id!r} is not published in {root}; published: {', '.join(catalog.layers) or 'none'}"
        )
    if version is None or version == entry.version:
        return entry.files
    kept = {v.version for v in entry.versions}
    if version not in kept:
        raise NotFoundError(f"layer {layer_id} has no version {version!r}; kept: {', '.join(sorted(kept))}")
    meta = cat.LayerEntry.model_validate_json((root / layer_id / version / cat.METADATA_FILE).read_text())
    return meta.files


def export_layer(
    root: Path,
    layer_id: str,
    fmt: ExportFormat,
    out: Path,
    *,
    version: str | None = None,
    output: str | None = None,
) -> Path:
    """Write a published layer (current or a kept version) to ``out``.

    ``gpkg`` holds every vector output as its own GeoPackage layer; ``parquet``
    and ``geojson`` hold one vector output (``output``, default the first; GeoJSON
    in EPSG:4326 as RFC 7946 requires); ``tif`` copies a raster output's COG.

    Raises:
        NotFoundError: unknown layer, version or output.
    """
    root = Path(root)
    files = _version_files(root, layer_id, version)
    kind = "raster" if fmt == "tif" else "vector"
    wanted_format = "cog" if fmt == "tif" else "parquet"
    candidates = [f for f in files if f.kind == kind and f.format == wanted_format]
    if not candidates:
        raise NotFoundError(f"layer {layer_id} has no {kind} output to export as {fmt}")
    if output is not None:
        candidates = [f for f in candidates if f.output == output]
        if not candidates:
            raise NotFoundError(f"layer {layer_id} has no {kind} output {output!r}")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.part")
    if fmt == "tif" or fmt == "parquet":
        shutil.copyfile(root / candidates[0].path, tmp)
    elif fmt == "geojson":
        frame = gpd.read_parquet(root / candidates[0].path).to_crs(4326)
        pyogrio.write_dataframe(frame, tmp, driver="GeoJSON")
    else:
        for f in candidates:
            pyogrio.write_dataframe(
                gpd.read_parquet(root / f.path), tmp, layer=f.output, driver="GPKG", append=tmp.exists()
            )
    tmp.replace(out)
    return out
