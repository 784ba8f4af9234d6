"""Reading the published inputs of a catalog, without the raw source files and without the config.

Every build publishes the canonical sources it used as an internal entry of the
catalog (``catalog.json`` key ``inputs``, written by ``layers.published_inputs``)::

    CATALOG/inputs/versions/<version>/dsm.tif           COG, native cells, over the region bounds
    CATALOG/inputs/versions/<version>/dtm.tif           (and vegetation.tif in AHN LAZ mode)
    CATALOG/inputs/versions/<version>/<source>.parquet  GeoParquet in the region CRS (bbox covering column)
    CATALOG/inputs/versions/<version>/weather.parquet   the KNMI table, when configured
    CATALOG/inputs/versions/<version>/region.json       name, CRS and boundary (WKT) of the region
    CATALOG/inputs/versions/<version>/inputs.json       per source: file, kind, provider, digest, attribution

The version folders sit one level below ``inputs/`` so the engine's clean-up of
unlisted *layer* version folders never takes them for leftovers. A version
folder is immutable and describes itself, so :class:`PublishedInputs` needs
only the catalog folder (and optionally a kept version).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import shapely
from affine import Affine
from pyproj import CRS
from rasterio.windows import Window
from shapely.geometry.base import BaseGeometry

from geo.errors import ConfigError, InputError, NotFoundError, PublishError
from geo.raster import Raster
from layers.assess_thresholds import Threshold, region_norms
from layers.catalog import InputsEntry, read_catalog

INPUTS_ID = "inputs"
#: Folder under ``CATALOG/inputs`` that holds one folder per version.
VERSIONS_DIR = "versions"
MANIFEST_FILE = "inputs.json"
REGION_FILE = "region.json"
#: Version of the file layout of a published version; part of its key, so a new layout republishes.
FORMAT_VERSION = 1
#: Share of a cell within which a bound counts as lying on a cell edge (floating-point noise).
EDGE_TOLERANCE = 1e-6

Bounds = tuple[float, float, float, float]


def versions_root(root: Path) -> Path:
    """``CATALOG/inputs/versions``: the folder holding one folder per published inputs version."""
    return Path(root) / INPUTS_ID / VERSIONS_DIR


def version_path(version: str) -> str:
    """The folder of ``version`` relative to the catalog root (``inputs/versions/<version>``)."""
    return f"{INPUTS_ID}/{VERSIONS_DIR}/{version}"


def covering_window(transform: Affine, bounds: Bounds) -> Window:
    """The window of whole cells of a north-up grid covering ``bounds`` (snapped outward; may exceed the grid).

    Args:
        transform: the grid's affine transform (top-left corner, square or rectangular cells).
        bounds: (minx, miny, maxx, maxy) in the grid's CRS (m for RD New).
    """
    res_x, res_y = transform.a, -transform.e
    col0 = math.floor((bounds[0] - transform.c) / res_x + EDGE_TOLERANCE)
    col1 = math.ceil((bounds[2] - transform.c) / res_x - EDGE_TOLERANCE)
    row0 = math.floor((transform.f - bounds[3]) / res_y + EDGE_TOLERANCE)
    row1 = math.ceil((transform.f - bounds[1]) / res_y - EDGE_TOLERANCE)
    return Window(col0, row0, max(col1 - col0, 1), max(row1 - row0, 1))


class PublishedInputs:
    """The canonical inputs of one published version, read from the catalog alone.

    Attributes:
        root: the catalog folder.
        version: the inputs version read.
        name: the region name.
        crs: the region CRS (of every raster and vector here).
        boundary: the region boundary polygon (region CRS; the rectangle of the
            source extent when the config gives no boundary file).
        bounds: (minx, miny, maxx, maxy) of the region in its CRS (m); the rasters cover these,
            snapped outward to their cells.
        providers: canonical source -> what filled it (``ahn``, ``bgt``, a file source's own name).
        digests: canonical source -> content digest at publishing (``SourceSet.digest``).
        attribution: canonical source -> attribution line of its provider.
        norms: the region config's own assessment norms (``assess.thresholds``), as published.
    """

    def __init__(self, catalog_dir: Path, version: str | None = None) -> None:
        """Open the current inputs version of ``catalog_dir``, or the kept ``version``.

        Raises:
            NotFoundError: the catalog has no published inputs, or not that version, or its folder is gone.
            PublishError: the catalog or a version's JSON is not valid.
        """
        self.root = Path(catalog_dir)
        entry = read_catalog(self.root).inputs
        if entry is None:
            raise NotFoundError(f"{self.root}: no published inputs (a build publishes them)")
        rel = self._version_folder(entry, version)
        self.version = version or entry.version
        self.folder = self.root / rel
        manifest = self._json(MANIFEST_FILE)
        region = self._json(REGION_FILE)
        self.name: str = region["name"]
        self.crs: CRS = CRS.from_user_input(region["crs"])
        self.boundary: BaseGeometry = shapely.from_wkt(region["boundary_wkt"])
        self.bounds: Bounds = tuple(float(v) for v in region["bounds"])  # type: ignore[assignment]
        try:
            self.norms: tuple[Threshold, ...] = region_norms(region.get("norms", []), str(self.folder / REGION_FILE))
        except ConfigError as exc:
            raise PublishError(str(exc)) from None
        self._sources: dict[str, dict[str, Any]] = manifest["sources"]
        self.providers = {n: str(s["provider"]) for n, s in self._sources.items()}
        self.digests = {n: str(s["digest"]) for n, s in self._sources.items()}
        self.attribution = {n: str(s["attribution"]) for n, s in self._sources.items()}

    @staticmethod
    def _version_folder(entry: InputsEntry, version: str | None) -> str:
        if version is None or version == entry.version:
            return entry.path
        for kept in entry.versions:
            if kept.version == version:
                return kept.path
        known = ", ".join(v.version for v in entry.versions) or entry.version
        raise NotFoundError(f"no published inputs version {version!r}; kept: {known}")

    def _json(self, name: str) -> dict[str, Any]:
        path = self.folder / name
        try:
            data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise NotFoundError(f"{path}: missing; inputs version {self.version} is incomplete or removed") from None
        except json.JSONDecodeError as exc:
            raise PublishError(f"{path}: not valid JSON: {exc}") from None
        return data

    def available(self) -> set[str]:
        """The canonical sources of this version."""
        return set(self._sources)

    def path(self, name: str) -> Path:
        """The file holding source ``name`` (NotFoundError naming the sources there when absent)."""
        return self.folder / self._spec(name)["file"]

    def _spec(self, name: str) -> dict[str, Any]:
        if name not in self._sources:
            raise NotFoundError(
                f"published inputs {self.version} have no {name!r}; they have: {', '.join(sorted(self._sources))}"
            )
        return self._sources[name]

    def load(self, name: str, bounds: Bounds | None = None) -> gpd.GeoDataFrame | pd.DataFrame | Raster:
        """Source ``name`` over ``bounds`` (region CRS, m), as ``SourceSet`` gives it.

        Args:
            name: a canonical source of :meth:`available`.
            bounds: None for all of it. A vector keeps the whole features whose bounding box
                meets ``bounds`` (not clipped; index labels of the whole source kept); a raster is
                the window of ``bounds`` snapped outward to its cells, NaN outside the published
                extent; a table (``weather``) is always whole.

        Returns:
            A GeoDataFrame (vectors), a DataFrame (tables) or a float ``Raster`` with NaN nodata.

        Raises:
            NotFoundError: no such source here.
            InputError: ``bounds`` is not (minx, miny, maxx, maxy) with minx <= maxx and miny <= maxy.
        """
        spec = self._spec(name)
        if bounds is not None:
            bounds = _checked(bounds)
        path = self.folder / spec["file"]
        if spec["kind"] == "raster":
            return self._raster(path, name, bounds)
        if spec["kind"] == "table":
            return pd.read_parquet(path)
        frame = gpd.read_parquet(path, bbox=bounds)
        if bounds is None and spec.get("range_index"):
            frame.index = pd.RangeIndex(*spec["range_index"])
        for column in spec.get("na_columns", []):
            # All-missing columns (canonical optional columns a source lacks) are pd.NA there, None in Parquet.
            frame[column] = pd.Series(pd.NA, index=frame.index, dtype=object)
        return frame

    def _raster(self, path: Path, name: str, bounds: Bounds | None) -> Raster:
        with rasterio.open(path) as ds:
            wanted = Window(0, 0, ds.width, ds.height) if bounds is None else covering_window(ds.transform, bounds)
            col0, row0 = int(wanted.col_off), int(wanted.row_off)
            height, width = int(wanted.height), int(wanted.width)
            data = np.full((height, width), np.nan, dtype=ds.dtypes[0])
            # The part of the window inside the file; the rest stays NaN.
            c0, r0 = max(col0, 0), max(row0, 0)
            c1, r1 = min(col0 + width, ds.width), min(row0 + height, ds.height)
            if c1 > c0 and r1 > r0:
                part = ds.read(1, window=Window(c0, r0, c1 - c0, r1 - r0))
                data[r0 - row0 : r1 - row0, c0 - col0 : c1 - col0] = part
            transform = ds.transform @ Affine.translation(col0, row0)
            band = ds.descriptions[0] or name
            unit = ds.units[0] or ""
        return Raster(data, self.crs, transform, nodata=float("nan"), band_names=(band,), units=(unit,))


def _checked(bounds: Bounds) -> Bounds:
    try:
        minx, miny, maxx, maxy = (float(v) for v in bounds)
    except (TypeError, ValueError):
        raise InputError(f"bounds must be (minx, miny, maxx, maxy) numbers, got {bounds!r}") from None
    if not (minx <= maxx and miny <= maxy) or not all(map(math.isfinite, (minx, miny, maxx, maxy))):
        raise InputError(f"bounds must be finite with minx <= maxx and miny <= maxy, got {bounds!r}")
    return minx, miny, maxx, maxy
