"""Publishing the canonical inputs of a build, so one site can be run from the catalog alone.

Every build publishes, as the internal ``inputs`` entry of its catalog, the
canonical sources it read: DSM and DTM (and ``vegetation`` in AHN LAZ mode) as
COGs at the source's own cells over the region bounds, the vector sources as
GeoParquet in the region CRS, the KNMI ``weather`` table as Parquet, and the
region context (name, CRS, boundary) as JSON. The tile server reads a window of
them with :class:`PublishedInputs` without the raw registry files and without
the region config. Layout and reader: ``layers.inputs_store``; the story:
``docs/published-inputs.md``.

Rasters are written block by block (``SourceSet.load_window``) into a tiled
GeoTIFF, which GDAL then streams into a COG, so memory follows the block, not
the region. Like a layer version, an inputs version is written under
``.staging``, renamed into place and only then listed in ``catalog.json``; a
failure leaves the previous version as it was.
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import shapely
from affine import Affine
from pyproj import CRS
from rasterio.errors import RasterioIOError
from rasterio.windows import Window
from rich.console import Console
from shapely.geometry.base import BaseGeometry

from geo.ahn_vegetation import VEGETATION_SOURCE
from geo.errors import PublishError, SourceError
from geo.grid import Grid
from geo.knmi import WEATHER_SOURCE
from geo.knmi_hourly import WEATHER_HOURLY_SOURCE
from geo.raster import Raster
from layers import catalog as cat
from layers.assess_thresholds import norm_rows
from layers.config import RegionConfig
from layers.inputs_store import (
    EDGE_TOLERANCE,
    FORMAT_VERSION,
    INPUTS_ID,
    MANIFEST_FILE,
    REGION_FILE,
    VERSIONS_DIR,
    Bounds,
    PublishedInputs,
    version_path,
    versions_root,
)
from layers.publish import MEDIA_TYPES
from layers.sources import SourceSet
from tiles.cog import write_cog_from_file

__all__ = ["INPUTS_ID", "PublishedInputs", "publish_inputs"]

#: Raster sources published as COG, in the order they are read per block (DSM first: AHN pairs them).
RASTER_INPUTS = ("dsm", "dtm", VEGETATION_SOURCE)
#: Vector sources published as GeoParquet.
VECTOR_INPUTS = ("landcover", "buildings", "trees", "addresses", "streets", "parks", "neighbourhoods")
#: Tables (no geometry) published as Parquet: the weather heat-stress and pet read.
TABLE_INPUTS = (WEATHER_SOURCE, WEATHER_HOURLY_SOURCE)
#: Default block edge (cells) in which rasters are read and written: 2048 x 2048 float32 is 16 MB a source.
DEFAULT_BLOCK_CELLS = 2048
#: Internal tile edge (cells) of the intermediate GeoTIFF and of the COG.
TILE_CELLS = 512
#: ZSTD level of the intermediate GeoTIFF: as small as deflate there, written 4x faster (read once, then deleted).
SCRATCH_ZSTD_LEVEL = 1
#: GDAL block cache while publishing (MB), so written blocks do not pile up in memory.
GDAL_CACHE_MB = 256
#: Rows per Parquet row group: small enough for a site's bbox read to skip most of a large source.
ROW_GROUP_ROWS = 10_000
#: Overview resampling of the height COGs.
OVERVIEW_RESAMPLING = "average"
#: Half the edge (m) of the box read to find a raster's cells when the region's first block has no data.
PROBE_HALF_M = 0.5
#: Cell size (m) assumed to size the first block when the source names none.
FALLBACK_RESOLUTION_M = 1.0


def publish_inputs(
    cfg: RegionConfig, sources: SourceSet, *, console: Console | None = None, block_cells: int = DEFAULT_BLOCK_CELLS,
    only: Iterable[str] | None = None,
) -> tuple[str, bool]:
    """Publish the canonical inputs of ``cfg``'s sources into ``cfg.catalog_dir``.

    Skips (returns the current version, False) when every source digest, the
    region definition and the file layout equal those of the published version.
    Otherwise writes a new version in a staging folder, renames it into place
    and rewrites ``catalog.json`` (keeping ``cfg.keep_versions`` versions), so a
    failure leaves the previous version intact and no half-written files. The
    caller holds ``layers.catalog.catalog_lock``.

    Args:
        cfg: the region config.
        sources: the build's sources (loaded vectors are reused).
        console: where the one result line goes (None: nowhere).
        block_cells: edge (cells) of the blocks in which rasters are read and written;
            peak memory follows it.
        only: publish only these sources (the engine passes those the catalog's layers read, so a
            build of one layer never reads a source no built layer uses); None: every configured one.

    Returns:
        (the inputs version now current, whether it was published by this call).

    Raises:
        KaartlaagError: a source cannot be read (``SourceError``, ``ConfigError``) or
            writing fails (``PublishError``); the previous version stays current.
    """
    if block_cells < 1:
        raise ValueError(f"block_cells must be positive, got {block_cells}")
    root = cfg.catalog_dir
    wanted = sources.available() if only is None else sources.available() & set(only)
    names = [n for n in (*RASTER_INPUTS, *VECTOR_INPUTS, *TABLE_INPUTS) if n in wanted]
    digests = {n: sources.digest(n) for n in names}
    norms = norm_rows(cfg.assess.norms())
    key = _inputs_key(digests, sources.region_digest(), norms)
    current = cat.read_catalog(root).inputs
    _remove_unlisted(root, current)
    if current is not None and current.key == key and (root / current.path).is_dir():
        _say(console, f"[green]up to date[/] inputs {current.version}")
        return current.version, False
    now = datetime.now(UTC)
    version = _new_version(root, now, key)
    rel_dir = version_path(version)
    from layers.engine import ATTRIBUTION  # late: the engine imports this module

    providers = {n: sources.providers[n] for n in names}
    attribution = {n: ATTRIBUTION.get(p, f"{p}: {cfg.region.name}") for n, p in providers.items()}
    with cat.staging_dir(root, INPUTS_ID) as staged, rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB):
        manifest: dict[str, dict[str, Any]] = {
            n: {"provider": providers[n], "digest": digests[n], "attribution": attribution[n]} for n in names
        }
        rasters = [n for n in names if n in RASTER_INPUTS]
        for name, path in _write_rasters(sources, rasters, staged, block_cells, version).items():
            manifest[name].update(kind="raster", file=path.name)
        for name in names:
            if name in VECTOR_INPUTS:
                manifest[name].update(kind="vector", **_write_vector(sources.load(name), staged / f"{name}.parquet"))
            elif name in TABLE_INPUTS:
                path = staged / f"{name}.parquet"
                pd.DataFrame(sources.load(name)).to_parquet(path, index=True)
                manifest[name].update(kind="table", file=path.name)
        built_at = now.strftime("%Y-%m-%dT%H:%M:%SZ")
        boundary, bounds = _region(sources)
        cat.write_json(staged / REGION_FILE, {
            "name": cfg.region.name, "crs": cfg.region.crs, "crs_wkt": sources.crs.to_wkt(),
            "boundary_wkt": shapely.to_wkt(boundary, rounding_precision=-1), "bounds": list(bounds),
            "norms": norms,
        })
        cat.write_json(staged / MANIFEST_FILE, {
            "id": INPUTS_ID, "format": FORMAT_VERSION, "version": version, "built_at": built_at, "key": key,
            "crs": cfg.region.crs, "sources": manifest,
        })
        files = [_file_entry(staged / spec["file"], rel_dir, name, spec["kind"]) for name, spec in manifest.items()]
        files += [_file_entry(staged / f, rel_dir, f.removesuffix(".json"), "metadata") for f in (REGION_FILE,
                                                                                                 MANIFEST_FILE)]
        entry = cat.InputsEntry(
            version=version, built_at=built_at, key=key, path=rel_dir, crs=cfg.region.crs, files=files,
            digests=digests, providers=providers, attribution=attribution,
            versions=[*(current.versions if current else []),
                      cat.VersionEntry(version=version, built_at=built_at, key=key, path=rel_dir)],
        )
        cat.move_into_place(root, staged, f"{INPUTS_ID}/{VERSIONS_DIR}", version)
        dropped = _prune(entry, cfg.keep_versions)
        catalog = cat.read_catalog(root)  # as the layers just published left it
        catalog.region = {"name": cfg.region.name, "crs": cfg.region.crs}
        catalog.inputs = entry
        cat.write_catalog(root, catalog)
    cat.remove_version_dirs(root, dropped)
    _say(console, f"[green]published[/] inputs {version}")
    return version, True


def _say(console: Console | None, line: str) -> None:
    if console is not None:
        console.print(line)


def _inputs_key(digests: dict[str, str], region_digest: str, norms: list[dict[str, Any]]) -> str:
    payload: dict[str, Any] = {"format": FORMAT_VERSION, "digests": digests, "region": region_digest}
    if norms:  # without norms the key is the one of earlier versions (no republishing for nothing)
        payload["norms"] = norms
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _new_version(root: Path, now: datetime, key: str) -> str:
    """``<UTC time>-<key prefix>``, numbered when a version of the same second exists (like layer versions)."""
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    version, n = f"{stamp}-{key[:8]}", 1
    while (versions_root(root) / version).exists():
        n += 1
        version = f"{stamp}-{key[:8]}-{n}"
    return version


def _prune(entry: cat.InputsEntry, keep: int | None) -> list[str]:
    """Drop the oldest versions beyond ``keep`` from ``entry``; return their folders (remove after the catalog)."""
    if keep is None or len(entry.versions) <= keep:
        return []
    dropped, entry.versions = entry.versions[:-keep], entry.versions[-keep:]
    return [v.path for v in dropped]


def _remove_unlisted(root: Path, current: cat.InputsEntry | None) -> None:
    """Remove inputs version folders the catalog does not list (a build killed after the rename; lock held)."""
    folder = versions_root(root)
    if not folder.is_dir():
        return
    listed = set() if current is None else {current.path, *(v.path for v in current.versions)}
    for child in folder.iterdir():
        if child.is_dir() and version_path(child.name) not in listed:
            shutil.rmtree(child, ignore_errors=True)


def _region(sources: SourceSet) -> tuple[BaseGeometry, Bounds]:
    """The region boundary (its rectangle without a boundary file) and bounds, in the region CRS (m)."""
    extent = getattr(sources, "extent", None)
    if extent is not None:  # the extent-aware contract (issue 11, part 1)
        ext = extent()
        boundary, (minx, miny, maxx, maxy) = ext.polygon(), ext.bounds
    else:
        region = sources.region()  # type: ignore[attr-defined, unused-ignore]
        minx, miny, maxx, maxy = region.bounds
        boundary = region.boundary if region.boundary is not None else shapely.box(minx, miny, maxx, maxy)
    return boundary, (float(minx), float(miny), float(maxx), float(maxy))


def _file_entry(path: Path, rel_dir: str, output: str, kind: str) -> cat.FileEntry:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    fmt = {"raster": "cog", "metadata": "json"}.get(kind, "parquet")
    return cat.FileEntry(
        name=path.name, output=output, kind=kind, format=fmt, media_type=MEDIA_TYPES[fmt],  # type: ignore[arg-type]
        path=f"{rel_dir}/{path.name}", bytes=path.stat().st_size, sha256=h.hexdigest(),
    )


# -- vectors -------------------------------------------------------------------


def _write_vector(frame: gpd.GeoDataFrame, path: Path) -> dict[str, Any]:
    """GeoParquet with a bbox covering column and the index stored as a column (labels survive a bbox read)."""
    frame.to_parquet(path, index=True, write_covering_bbox=True, row_group_size=ROW_GROUP_ROWS)
    index = frame.index
    spec: dict[str, Any] = {"file": path.name, "na_columns": [c for c in frame.columns if _all_na(frame[c])]}
    if isinstance(index, pd.RangeIndex):  # stored as a column; a whole read gives back the RangeIndex
        spec["range_index"] = [index.start, index.stop, index.step]
    return spec


def _all_na(column: pd.Series) -> bool:
    """Whether every value is ``pd.NA`` (a canonical optional column the source lacks; Parquet reads it as None)."""
    return column.dtype == object and len(column) > 0 and all(v is pd.NA for v in column)


# -- rasters -------------------------------------------------------------------


def _write_rasters(
    sources: SourceSet, names: list[str], staged: Path, block_cells: int, version: str
) -> dict[str, Path]:
    """Write each raster source as a COG in ``staged``, block by block; return name -> COG path.

    Sources on one grid (the DSM and DTM of an AHN run) are read block by block together,
    so a paired adapter runs once per block.
    """
    if not names:
        return {}
    _, bounds = _region(sources)
    grids: dict[Grid, dict[str, Raster]] = {}
    for name in names:
        grid, probe = _native_grid(sources, name, bounds, block_cells)
        grids.setdefault(grid, {})[name] = probe
    out: dict[str, Path] = {}
    for grid, group in grids.items():
        tiffs = _write_blocks(sources, grid, group, staged, block_cells)
        for name, tiff in tiffs.items():
            out[name] = staged / f"{name}.tif"
            tags = {"source": name, "provider": sources.providers[name], "digest": sources.digest(name),
                    "inputs_version": version}
            write_cog_from_file(tiff, out[name], resampling=OVERVIEW_RESAMPLING, blocksize=TILE_CELLS, tags=tags)
            tiff.unlink()
    return out


def _write_blocks(
    sources: SourceSet, grid: Grid, probes: dict[str, Raster], staged: Path, block_cells: int
) -> dict[str, Path]:
    """Fill one tiled GeoTIFF per source with ``grid``'s blocks (NaN where a source has no cell).

    A block outside the GeoTIFF(s) a source reads is not asked for (the read would fail):
    it stays NaN, as the cells beyond a source's extent do in the blocks that reach it.
    """
    extents = {name: _file_extent(sources, name) for name in probes}
    sinks: dict[str, Any] = {}
    try:
        for name, probe in probes.items():
            sinks[name] = _open_tiff(staged / f".{name}.blocks.tif", grid, probe)
        for row, col, block in _blocks(grid, block_cells):
            for name in probes:
                data = np.full(block.shape, np.nan, dtype=np.float32)
                if _meets(block, extents[name]):
                    _paste(data, sources.load_window(name, block.bounds), block, name)
                sinks[name].write(data, 1, window=Window(col, row, block.width, block.height))
    finally:
        for ds in sinks.values():
            ds.close()
    return {name: Path(ds.name) for name, ds in sinks.items()}


def _meets(block: Grid, extent: Bounds | None) -> bool:
    """Whether ``block`` shares more than a sliver with ``extent`` (None: unknown, so it may)."""
    if extent is None:
        return True
    left, bottom, right, top = block.bounds
    sliver = EDGE_TOLERANCE * block.resolution
    return (min(right, extent[2]) - max(left, extent[0]) > sliver
            and min(top, extent[3]) - max(bottom, extent[1]) > sliver)


def _file_extent(sources: SourceSet, name: str) -> Bounds | None:
    """Extent (region CRS, m) of the GeoTIFF(s) raster source ``name`` reads, from their headers.

    None when it is not known that cheaply: point clouds, the surface proxy, a file in another
    CRS (warped by the adapter), or a file that cannot be opened (the read proper names it).
    The AHN adapter crops a DSM and DTM to their common extent, so that is the extent of both.
    """
    provider = sources.providers[name]
    spec = getattr(sources.cfg.sources, provider)
    if provider == name:
        paths = [spec.path]
    elif provider == "ahn" and not spec.laz:
        paths = [p for p in (spec.dsm, spec.dtm) if p is not None]
    else:
        return None
    boxes = []
    for path in paths:
        try:
            with rasterio.open(sources.cfg.resolve(Path(path))) as ds:
                if ds.crs is None or not CRS.from_user_input(ds.crs).equals(sources.crs, ignore_axis_order=True):
                    return None
                boxes.append(tuple(ds.bounds))
        except RasterioIOError:
            return None
    return (max(b[0] for b in boxes), max(b[1] for b in boxes), min(b[2] for b in boxes), min(b[3] for b in boxes))


def _open_tiff(path: Path, grid: Grid, first: Raster) -> Any:
    profile = {
        "driver": "GTiff", "width": grid.width, "height": grid.height, "count": 1, "dtype": "float32",
        "crs": grid.crs, "transform": grid.transform, "nodata": float("nan"), "tiled": True,
        "blockxsize": TILE_CELLS, "blockysize": TILE_CELLS, "compress": "zstd", "zstd_level": SCRATCH_ZSTD_LEVEL,
        "bigtiff": "if_safer",
    }
    ds = rasterio.open(path, "w", **profile)
    ds.descriptions = (first.band_names[0],)
    ds.units = (first.units[0],)
    return ds


def _blocks(grid: Grid, cells: int) -> Iterator[tuple[int, int, Grid]]:
    """``(row, col, block grid)`` of blocks of at most ``cells`` x ``cells`` covering ``grid``, row by row."""
    res = grid.resolution
    for row in range(0, grid.height, cells):
        for col in range(0, grid.width, cells):
            transform = grid.transform @ Affine.translation(col, row)
            yield row, col, Grid(grid.crs, Affine(res, 0.0, transform.c, 0.0, -res, transform.f),
                                 min(cells, grid.width - col), min(cells, grid.height - row))


def _paste(out: np.ndarray, raster: Raster, block: Grid, name: str) -> None:
    """Put the cells of ``raster`` that fall in ``block`` into ``out`` (the block's array)."""
    res = block.resolution
    t = raster.transform
    if not (math.isclose(abs(t.a), res) and math.isclose(abs(t.e), res)) or t.b or t.d:
        raise PublishError(f"{name}: a block came back with {abs(t.a):g} x {abs(t.e):g} m cells, not {res:g} m")
    col_f = (t.c - block.transform.c) / res
    row_f = (block.transform.f - t.f) / res
    col, row = round(col_f), round(row_f)
    if abs(col_f - col) > EDGE_TOLERANCE or abs(row_f - row) > EDGE_TOLERANCE:
        raise PublishError(f"{name}: a block came back off the source's cell grid")
    r0, c0 = max(row, 0), max(col, 0)
    r1, c1 = min(row + raster.height, block.height), min(col + raster.width, block.width)
    if r1 > r0 and c1 > c0:
        out[r0:r1, c0:c1] = raster.data[0, r0 - row : r1 - row, c0 - col : c1 - col]


def _native_grid(sources: SourceSet, name: str, bounds: Bounds, block_cells: int) -> tuple[Grid, Raster]:
    """The source's own cells (size and alignment) over ``bounds``, snapped outward, and the raster read.

    The cells are learnt from one read: the region's first block on the cells the config
    suggests (which a paired adapter then reuses for the first real block when they agree),
    or, when that block has no data, a small box at the region centre.
    """
    guess = _grid_on(bounds, _resolution_hint(sources, name), (0.0, 0.0), sources.crs)
    first = next(_blocks(guess, block_cells))[2]
    try:
        probe = sources.load_window(name, first.bounds)
    except SourceError:
        cx, cy = (bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2
        probe = sources.load_window(name, (cx - PROBE_HALF_M, cy - PROBE_HALF_M, cx + PROBE_HALF_M, cy + PROBE_HALF_M))
    t = probe.transform
    if t.b or t.d or not math.isclose(abs(t.a), abs(t.e)):
        raise PublishError(f"{name}: only north-up rasters with square cells can be published (got {t})")
    return _grid_on(bounds, abs(t.a), (t.c, t.f), sources.crs), probe


def _grid_on(bounds: Bounds, res: float, anchor: tuple[float, float], crs: Any) -> Grid:
    """The grid of ``res`` cells with an edge through ``anchor`` that covers ``bounds`` (snapped outward)."""
    ax, ay = anchor
    col0 = math.floor((bounds[0] - ax) / res + EDGE_TOLERANCE)
    col1 = math.ceil((bounds[2] - ax) / res - EDGE_TOLERANCE)
    row0 = math.floor((ay - bounds[3]) / res + EDGE_TOLERANCE)
    row1 = math.ceil((ay - bounds[1]) / res - EDGE_TOLERANCE)
    transform = Affine(res, 0.0, ax + col0 * res, 0.0, -res, ay - row0 * res)
    return Grid(crs, transform, max(col1 - col0, 1), max(row1 - row0, 1))


def _resolution_hint(sources: SourceSet, name: str) -> float:
    """The cell size (m) the config suggests for ``name``: the adapter's ``resolution_m`` or the file's own."""
    spec = getattr(sources.cfg.sources, sources.providers[name])
    resolution = getattr(spec, "resolution_m", None)
    if resolution:
        return float(resolution)
    path = getattr(spec, "path", None)
    if path is not None:
        try:
            with rasterio.open(sources.cfg.resolve(Path(path))) as ds:
                return float(abs(ds.transform.a))
        except RasterioIOError:
            pass  # the read proper names the file
    return FALLBACK_RESOLUTION_M
