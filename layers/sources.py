"""Turning a config's ``sources:`` into in-memory canonical sources, with content hashes.

Each canonical source has one provider: an adapter (``bgt``, ``bag``, ``ahn``,
``cbs``) or an explicit file. Its hash covers the provider's config, the bytes
of every file it reads and the adapter's code, so a layer is rebuilt exactly
when something it reads has changed. Sources are read lazily and at most once
per build.
"""

from __future__ import annotations

import hashlib
import importlib
import json
from pathlib import Path
from typing import Any

import geopandas as gpd
import pyogrio
import shapely

from geo.ahn_vegetation import VEGETATION_SOURCE, grid_vegetation
from geo.canonical import CANONICAL, RASTER_SOURCES
from geo.crs import parse_crs, to_region_crs
from geo.errors import ConfigError, SourceError
from geo.io import read_raster_source, read_vector_source
from geo.raster import Raster
from geo.report import AdapterResult, SourceReport
from geo.surface_proxy import SURFACE_PROXY_INPUTS, SURFACE_PROXY_SOURCE, read_surface_proxy
from geo.vector import near
from layers.base import Extent, RegionContext
from layers.code_key import code_digest
from layers.config import RegionConfig
from layers.municipalities import select_municipalities

_CHUNK = 1 << 20
#: The source holding the buurten (and their municipalities).
_ZONES = "neighbourhoods"
#: Sources whose extent defines the region when no boundary file is given, in order of preference.
_EXTENT_SOURCES = ("landcover", "neighbourhoods", "buildings", "dsm", "dtm")
#: Adapters whose DSM and DTM of one window come from one run (paired there).
_PAIRED_RASTER_ADAPTERS = ("ahn", SURFACE_PROXY_SOURCE)


def file_digest(path: Path) -> str:
    """SHA-256 of a file, or of every file in a folder (names and bytes, sorted)."""
    h = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    if not path.exists():
        raise SourceError(path, "file not found")
    for file in files:
        h.update(str(file.relative_to(path) if path.is_dir() else file.name).encode())
        with open(file, "rb") as fh:
            while chunk := fh.read(_CHUNK):
                h.update(chunk)
    return h.hexdigest()


class SourceSet:
    """Lazy, cached access to the canonical sources of one config."""

    def __init__(self, cfg: RegionConfig) -> None:
        self.cfg = cfg
        self.crs = cfg.crs
        self.providers = cfg.source_providers()
        self.reports: list[SourceReport] = []
        self._loaded: dict[str, Any] = {}
        self._digests: dict[str, str] = {}
        self._region: Extent | None = None
        self._window_run: tuple[tuple[str, tuple[float, ...]], AdapterResult] | None = None
        self._proxy_report: SourceReport | None = None
        if cfg.sources.surface_proxy is not None and cfg.real_surface_given():
            unused = SourceReport(SURFACE_PROXY_SOURCE)
            unused.note("not used: a measured surface (ahn or a dsm/dtm file) is configured and always wins")
            self.reports.append(unused)

    def available(self) -> set[str]:
        """Canonical sources this config provides."""
        return set(self.providers)

    # -- hashing -------------------------------------------------------------
    def digest(self, name: str) -> str:
        """Content hash of canonical source ``name`` (provider config + file bytes + adapter code)."""
        if name not in self._digests:
            provider = self.providers.get(name)
            if provider is None:
                raise ConfigError(f"sources.{name}: not configured (and no adapter provides it)")
            spec = getattr(self.cfg.sources, provider)
            h = hashlib.sha256()
            h.update(
                json.dumps(
                    {"provider": provider, "spec": spec.model_dump(mode="json")}, sort_keys=True
                ).encode()
            )
            for path in self._spec_paths(provider, spec):
                h.update(file_digest(path).encode())
            if provider in _ADAPTER_MODULES:
                h.update(code_digest(_ADAPTER_MODULES[provider]).encode())
            if name == VEGETATION_SOURCE:
                h.update(code_digest("geo.ahn_vegetation").encode())
            check = CANONICAL[name].check_module() if name in CANONICAL else None
            if check is not None:  # the source's own rules normalise what the layers read
                h.update(code_digest(check).encode())
            if provider == SURFACE_PROXY_SOURCE:  # the proxy is made of other sources: their content counts
                for used in self._proxy_inputs():
                    h.update(f"{used}:{self.digest(used)}".encode())
            self._digests[name] = h.hexdigest()
        return self._digests[name]

    def region_digest(self) -> str:
        """Hash of the region definition (name, CRS, boundary file)."""
        h = hashlib.sha256(json.dumps(self.cfg.region.model_dump(mode="json"), sort_keys=True).encode())
        if self.cfg.region.boundary is not None:
            h.update(file_digest(self.cfg.resolve(self.cfg.region.boundary)).encode())
        return h.hexdigest()

    def _spec_paths(self, provider: str, spec: Any) -> list[Path]:
        fields = spec.model_dump()
        paths: list[Path] = []
        for key in ("path", "dsm", "dtm"):
            if fields.get(key) is not None:
                paths.append(self.cfg.resolve(Path(fields[key])))
        paths.extend(self.cfg.resolve(Path(p)) for p in fields.get("laz", []))
        for p in paths:
            if not p.exists():
                raise SourceError(p, f"file not found (sources.{provider})")
        return paths

    # -- loading -------------------------------------------------------------
    def load(self, name: str, bounds: tuple[float, float, float, float] | None = None) -> Any:
        """The canonical source ``name`` in the region CRS (read once, then cached).

        Args:
            name: the canonical source.
            bounds: None for all of it; else a raster is read over ``bounds`` only
                (:meth:`load_window`) and a vector keeps the whole features whose bounding
                box meets ``bounds`` (not clipped; the index labels of the whole frame are kept).
        """
        if bounds is not None:
            if name in RASTER_SOURCES or name == VEGETATION_SOURCE:
                return self.load_window(name, bounds)
            whole = self.load(name)
            return near(whole, bounds) if isinstance(whole, gpd.GeoDataFrame) else whole
        if name in self._loaded:
            return self._loaded[name]
        provider = self.providers.get(name)
        if provider is None:
            raise ConfigError(f"sources.{name}: not configured (and no adapter provides it)")
        spec = getattr(self.cfg.sources, provider)
        if provider in _ADAPTER_MODULES:
            result = self._run_adapter(provider, spec)
            self.reports.append(result.report)
            for key, value in result.sources.items():
                # An explicit canonical source overrides what the adapter filled.
                if self.providers.get(key) == provider:
                    self._loaded[key] = value
            if name not in self._loaded:
                where = getattr(spec, "path", None) or f"sources.{provider}"
                raise SourceError(where, f"the {provider} delivery holds no {name} (it gives "
                                         f"{', '.join(sorted(result.sources)) or 'nothing'}); give {name} "
                                         f"as its own source, or a delivery that has it")
        else:
            declared = parse_crs(spec.crs, f"sources.{name}.crs") if spec.crs else None
            path = self.cfg.resolve(spec.path)
            if name in RASTER_SOURCES:
                self._loaded[name] = read_raster_source(path, self.crs, band_name=name, declared_crs=declared)
            else:
                report = SourceReport(name)
                self._loaded[name] = read_vector_source(
                    name,
                    path,
                    self.crs,
                    layer=spec.layer,
                    columns=spec.columns,
                    declared_crs=declared,
                    report=report,
                )
                self.reports.append(report)
        if name == _ZONES and self.cfg.region.municipalities:  # only the region's municipalities' buurten
            self._loaded[name] = select_municipalities(self._loaded[name], self.cfg.region.municipalities,
                                                       f"sources ({self.providers[name]})")
        return self._loaded[name]

    def load_window(self, name: str, bounds: tuple[float, float, float, float]) -> Raster:
        """The raster source ``name`` read only over ``bounds`` (region CRS), for builds in windows.

        Only the last AHN adapter run is kept, so the DSM and DTM of one window
        (paired by the adapter) are read once; earlier windows' cells are dropped.
        The report of the first window read is kept for the build log.
        """
        provider = self.providers.get(name)
        if provider is None:
            raise ConfigError(f"sources.{name}: not configured (and no adapter provides it)")
        if name not in RASTER_SOURCES and name != VEGETATION_SOURCE:
            raise ConfigError(f"sources.{name}: not a raster source; it cannot be read by window")
        spec = getattr(self.cfg.sources, provider)
        if provider in _PAIRED_RASTER_ADAPTERS:
            # The DSM and DTM of one window come from one adapter run (they are paired there).
            key = (provider, tuple(bounds))
            if self._window_run is None or self._window_run[0] != key:
                self._window_run = (key, self._run_adapter(provider, spec, bounds=bounds))
            result = self._window_run[1]
            if not any(r.source == provider for r in self.reports):
                self.reports.append(result.report)
            raster: Raster = result.sources[name]
            return raster
        declared = parse_crs(spec.crs, f"sources.{name}.crs") if spec.crs else None
        return read_raster_source(
            self.cfg.resolve(spec.path), self.crs, band_name=name, declared_crs=declared, bounds=bounds
        )

    def _run_adapter(
        self, provider: str, spec: Any, bounds: tuple[float, float, float, float] | None = None
    ) -> AdapterResult:
        module = importlib.import_module(_ADAPTER_MODULES[provider])
        report = SourceReport(provider)
        if provider == SURFACE_PROXY_SOURCE:
            return self._run_surface_proxy(spec, bounds)
        declared = parse_crs(spec.crs, f"sources.{provider}.crs") if getattr(spec, "crs", None) else None
        if provider == "bgt":
            return module.read_bgt(self.cfg.resolve(spec.path), self.crs, report)  # type: ignore[no-any-return]
        if provider == "bag":
            return module.read_bag(  # type: ignore[no-any-return]
                self.cfg.resolve(spec.path), self.crs, report, declared_crs=declared
            )
        if provider == "cbs":
            return module.read_cbs(  # type: ignore[no-any-return]
                self.cfg.resolve(spec.path), self.crs, report, layer=spec.layer, declared_crs=declared
            )
        if provider == "knmi":
            return module.read_knmi(self.cfg.resolve(spec.path), self.crs, report)  # type: ignore[no-any-return]
        if provider == "knmi_hourly":
            return module.read_knmi_hourly_source(  # type: ignore[no-any-return]
                self.cfg.resolve(spec.path), self.crs, report
            )
        if provider == "cbs_landuse":
            return module.read_cbs_landuse(  # type: ignore[no-any-return]
                self.cfg.resolve(spec.path), self.crs, report, layer=spec.layer, codes=spec.codes,
                declared_crs=declared,
            )
        result: AdapterResult = module.read_ahn(
            dsm=self.cfg.resolve(spec.dsm) if spec.dsm else None,
            dtm=self.cfg.resolve(spec.dtm) if spec.dtm else None,
            laz=[self.cfg.resolve(p) for p in spec.laz],
            region_crs=self.crs,
            resolution_m=spec.resolution_m,
            declared_crs=declared,
            bounds=bounds or self._boundary_bounds(),
            report=report,
        )
        if spec.laz:  # the vegetation points on the DSM grid, for the canopy (geo.canopy)
            result.sources[VEGETATION_SOURCE] = grid_vegetation(
                [self.cfg.resolve(p) for p in spec.laz], result.sources["dsm"], crs=declared, report=report
            )
        return result

    def _proxy_inputs(self) -> list[str]:
        """The canonical sources the surface proxy is made of, of those configured."""
        return [n for n in SURFACE_PROXY_INPUTS if n in self.providers]

    def _run_surface_proxy(self, spec: Any, bounds: tuple[float, float, float, float] | None) -> AdapterResult:
        """The surface proxy over ``bounds`` (default: the region), from the configured registers.

        One report serves every window (its counts are those of the whole sources), so the build
        log names the proxy once.
        """
        frames = {n: self.load(n) for n in self._proxy_inputs()}
        report = self._proxy_report or SourceReport(SURFACE_PROXY_SOURCE)
        try:
            result = read_surface_proxy(
                bounds or self.extent().bounds, crs=self.crs, buildings=frames.get("buildings"),
                trees=frames.get("trees"), landcover=frames.get("landcover"), heights=spec.heights(),
                resolution_m=spec.resolution_m, report=report,
            )
        except ValueError as exc:
            raise ConfigError(f"sources.{SURFACE_PROXY_SOURCE}: {exc}") from None
        self._proxy_report = report
        return result

    # -- region ----------------------------------------------------------------
    def _boundary_geometry(self) -> shapely.Geometry | None:
        if self.cfg.region.boundary is None:
            if self.cfg.region.municipalities and _ZONES in self.providers:  # the union of their buurten
                return shapely.union_all(self.load(_ZONES).geometry.values)
            return None
        path = self.cfg.resolve(self.cfg.region.boundary)
        try:
            frame = pyogrio.read_dataframe(path)
        except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
            raise SourceError(path, f"cannot read region boundary: {exc}") from None
        frame = to_region_crs(frame, self.crs, path)
        if frame.empty or not frame.geom_type.isin(["Polygon", "MultiPolygon"]).all():
            raise SourceError(path, "region boundary must hold polygon features")
        return shapely.union_all(frame.geometry.values)

    def _boundary_bounds(self) -> tuple[float, float, float, float] | None:
        geom = self._boundary_geometry()
        return None if geom is None else tuple(geom.bounds)  # type: ignore[return-value]

    def context(self) -> RegionContext:
        """The region context: name, CRS and boundary (the rectangle of :meth:`extent` without a boundary file)."""
        extent = self.extent()
        return RegionContext(self.cfg.region.name, self.crs, extent.polygon())

    def extent(self) -> Extent:
        """The extent of a whole-region build: its boundary file, or else the extent of the first available source."""
        if self._region is None:
            geom = self._boundary_geometry()
            if geom is not None:
                bounds = tuple(geom.bounds)
            else:
                name = next((n for n in _EXTENT_SOURCES if n in self.providers), None)
                if name is None:
                    raise ConfigError("region: give region.boundary or a landcover/neighbourhoods source")
                data = self.load(name)
                bounds = (
                    data.bounds
                    if isinstance(data, Raster)
                    else tuple(gpd.GeoSeries(data.geometry).total_bounds)
                )
            self._region = Extent(bounds, geom)  # type: ignore[arg-type]
        return self._region


_ADAPTER_MODULES = {"bgt": "geo.bgt", "bag": "geo.bag", "cbs": "geo.cbs", "ahn": "geo.ahn",
                    "cbs_landuse": "geo.cbs_landuse", SURFACE_PROXY_SOURCE: "geo.surface_proxy",
                    "knmi": "geo.knmi", "knmi_hourly": "geo.knmi_hourly"}
