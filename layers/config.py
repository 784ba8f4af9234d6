"""Region configuration: one validated YAML file per region.

Sources and layers are declared with explicit ids (as in pygeoapi/martin);
every unknown or misspelled key is an error naming its path, for example
``sources.bgt.pth: unknown key``. Relative paths are resolved against the
folder of the config file, so a region folder can be moved as a whole.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pyproj import CRS

from geo.ahn_vegetation import VEGETATION_SOURCE
from geo.canonical import CANONICAL, RASTER_SOURCES
from geo.cbs_landuse import DEFAULT_PARK_CODES
from geo.crs import parse_crs
from geo.errors import ConfigError
from geo.knmi import WEATHER_SOURCE
from geo.knmi_hourly import WEATHER_HOURLY_SOURCE
from geo.surface_proxy import (
    DEFAULT_BUILDING_HEIGHT_M,
    DEFAULT_PROXY_RESOLUTION_M,
    DEFAULT_TREE_HEIGHT_M,
    DEFAULT_WOOD_HEIGHT_M,
    SURFACE_PROXY_INPUTS,
    SURFACE_PROXY_PROVIDES,
    SURFACE_PROXY_SOURCE,
    WOOD_SOURCE_CLASSES,
    ProxyHeights,
)
from layers.assess_thresholds import REGION, Threshold, region_norms
from layers.green_inputs import DEFAULT_CROWN_DIAMETER_PARAM
from layers.municipalities import check_gemeente_code, check_region_municipalities

#: Registry adapters: each fills several canonical sources.
ADAPTERS: dict[str, tuple[str, ...]] = {
    "bgt": ("landcover", "buildings", "trees"),
    "bag": ("buildings", "addresses"),
    "ahn": ("dsm", "dtm", VEGETATION_SOURCE),  # vegetation: LAZ mode only (geo.ahn_vegetation)
    "cbs": ("neighbourhoods",),
    "cbs_landuse": ("parks",),
    "knmi": (WEATHER_SOURCE,),  # a table of station-days, no geometry (geo.knmi)
    "knmi_hourly": (WEATHER_HOURLY_SOURCE,),  # a table of station-hours, no geometry (geo.knmi_hourly)
    # Only when no ahn and no dsm/dtm file is given: a real surface always wins, the two never mix.
    SURFACE_PROXY_SOURCE: SURFACE_PROXY_PROVIDES,
}

DEFAULT_AHN_RESOLUTION_M = 0.5


def _checked_crs(value: str) -> str:
    # pydantic reports ValueError with the key path; ConfigError would escape without it.
    try:
        parse_crs(value)
    except ConfigError:
        raise ValueError(f"not a valid CRS: {value!r}") from None
    return value


CrsStr = Annotated[str, AfterValidator(_checked_crs)]
GemeenteCode = Annotated[str, AfterValidator(check_gemeente_code)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RegionSpec(_Strict):
    """``region:``: name, CRS, optional boundary polygon file and the municipalities of the region.

    Attributes:
        municipalities: CBS gemeente codes (``GM0197``); when given, the build reads only their
            buurten, the region is their union (unless ``boundary`` is given), and every zone table
            is also aggregated per municipality (``layers.municipalities``).
    """

    name: str
    crs: CrsStr = "EPSG:28992"
    boundary: Path | None = None
    municipalities: list[GemeenteCode] = Field(default_factory=list)

    @field_validator("municipalities")
    @classmethod
    def _no_repeats(cls, value: list[str]) -> list[str]:
        check_region_municipalities(value, "municipalities")
        return value


class SourceSpec(_Strict):
    """A canonical source given by file.

    Attributes:
        path: the file (GeoPackage, GeoParquet, GeoJSON, Shapefile, CSV, GeoTIFF).
        layer: layer name inside a multi-layer file.
        columns: canonical column name -> column name in the file.
        crs: CRS of a file that carries none (CSV) or to confirm one.
    """

    path: Path
    layer: str | None = None
    columns: dict[str, str] = Field(default_factory=dict)
    crs: CrsStr | None = None


class BgtSpec(_Strict):
    """``sources.bgt``: a PDOK BGT extract (zip or folder of IMGeo CityGML), or a BGT database.

    A database is a folder of SpatiaLite/SQLite files, one per object type
    (``bgt_pand.sqlite``, as ogr2ogr or NLExtract write them), or a GeoPackage
    with one layer per object type (``geo.bgt_sqlite``).
    """

    path: Path


class BagSpec(_Strict):
    """``sources.bag``: a BAG 2.0 Extract (XML, zip or nested zips) or the PDOK BAG GeoPackage."""

    path: Path
    crs: CrsStr | None = None


class CbsSpec(_Strict):
    """``sources.cbs``: the CBS wijken-en-buurten GeoPackage."""

    path: Path
    layer: str | None = None
    crs: CrsStr | None = None


class CbsLanduseSpec(_Strict):
    """``sources.cbs_landuse``: CBS Bestand Bodemgebruik (GeoPackage/shapefile) -> ``parks``.

    Attributes:
        path: the BBG file.
        layer: layer inside a multi-layer file.
        codes: BBG class codes read as parks (default 40 Park en plantsoen, 43 Dagrecreatief terrein).
        crs: CRS of a file that carries none, or to confirm one.
    """

    path: Path
    layer: str | None = None
    codes: list[int] = Field(default_factory=lambda: list(DEFAULT_PARK_CODES), min_length=1)
    crs: CrsStr | None = None


class KnmiSpec(_Strict):
    """``sources.knmi``: a KNMI daily-data file (``etmgeg_<STN>.txt`` or the script answer) -> ``weather``."""

    path: Path


class KnmiHourlySpec(_Strict):
    """``sources.knmi_hourly``: a KNMI hourly-data file (``uurgeg_<STN>_<period>.txt``) -> ``weather_hourly``."""

    path: Path


class AhnSpec(_Strict):
    """``sources.ahn``: AHN GeoTIFFs (``dsm``/``dtm``) or LAZ point clouds (``laz``)."""

    dsm: Path | None = None
    dtm: Path | None = None
    laz: list[Path] = Field(default_factory=list)
    resolution_m: float = Field(DEFAULT_AHN_RESOLUTION_M, gt=0)
    crs: CrsStr | None = None

    @model_validator(mode="after")
    def _something_given(self) -> AhnSpec:
        if self.dsm is None and self.dtm is None and not self.laz:
            raise ValueError("give dsm and/or dtm GeoTIFFs, or laz: [files]")
        return self


class SurfaceProxySpec(_Strict):
    """``sources.surface_proxy``: a DSM/DTM from the registers where no AHN is given (``geo.surface_proxy``).

    Flat terrain at 0 m, building footprints as blocks, tree points as crown discs and BGT woods as a
    canopy. Used only when neither ``ahn`` nor a ``dsm``/``dtm`` file is configured; every layer built
    from it names it in its build log (docs/sources.md, "The surface proxy").

    Attributes:
        building_height_m: block height of a footprint without ``height_m`` (m).
        tree_height_m: crown height of a tree without ``height_m`` (m).
        crown_diameter_m: crown diameter of a tree without one (m; default the green layers'
            ``default_crown_diameter_m``).
        wood_height_m: canopy height of woods (m).
        wood_source_classes: land-cover source classes that are woods.
        resolution_m: cell size (m).
    """

    building_height_m: float = Field(DEFAULT_BUILDING_HEIGHT_M, gt=0, le=300)
    tree_height_m: float = Field(DEFAULT_TREE_HEIGHT_M, gt=0, le=100)
    crown_diameter_m: float = Field(
        DEFAULT_CROWN_DIAMETER_PARAM.default,
        ge=DEFAULT_CROWN_DIAMETER_PARAM.minimum, le=DEFAULT_CROWN_DIAMETER_PARAM.maximum,
    )
    wood_height_m: float = Field(DEFAULT_WOOD_HEIGHT_M, gt=0, le=100)
    wood_source_classes: list[str] = Field(default_factory=lambda: list(WOOD_SOURCE_CLASSES))
    resolution_m: float = Field(DEFAULT_PROXY_RESOLUTION_M, gt=0, le=10)

    def heights(self) -> ProxyHeights:
        """The assumed sizes as ``geo.surface_proxy`` takes them."""
        return ProxyHeights(
            crown_diameter_m=self.crown_diameter_m, building_height_m=self.building_height_m,
            tree_height_m=self.tree_height_m, wood_height_m=self.wood_height_m,
            wood_source_classes=tuple(self.wood_source_classes),
        )


def _canonical_fields() -> dict[str, Any]:
    return {name: (SourceSpec | None, None) for name in CANONICAL}


class SourcesSpec(_Strict):
    """``sources:``: registry adapters and canonical sources by name."""

    bgt: BgtSpec | None = None
    bag: BagSpec | None = None
    ahn: AhnSpec | None = None
    cbs: CbsSpec | None = None
    cbs_landuse: CbsLanduseSpec | None = None
    knmi: KnmiSpec | None = None
    knmi_hourly: KnmiHourlySpec | None = None
    surface_proxy: SurfaceProxySpec | None = None
    landcover: SourceSpec | None = None
    buildings: SourceSpec | None = None
    addresses: SourceSpec | None = None
    trees: SourceSpec | None = None
    neighbourhoods: SourceSpec | None = None
    streets: SourceSpec | None = None
    parks: SourceSpec | None = None
    amenities: SourceSpec | None = None
    housing_sites: SourceSpec | None = None
    occupancy: SourceSpec | None = None
    projects: SourceSpec | None = None
    dsm: SourceSpec | None = None
    dtm: SourceSpec | None = None
    flood: SourceSpec | None = None


#: Default bound (points) on how far a % figure of one zone may move between two versions before it is flagged.
DEFAULT_CHANGE_BOUND_PCT = 10.0
#: Default age (days) beyond which a source's registry date counts as stale.
DEFAULT_STALE_AFTER_DAYS = 730


class MonitoringSpec(_Strict):
    """``monitoring:``: when a build's change is flagged and when a source counts as stale.

    Attributes:
        change_bound_pct: a % figure of a zone moving more than this many points against the previous
            version is flagged (in the build report and ``kaartlaag layers``).
        change_bounds: figure -> its own bound (in the figure's unit), e.g. ``{canopy_pct: 5, uhi_max_p95_k: 0.5}``.
        stale_after_days: a source whose registry date is older than this many days is stale.
        stale_after: source -> its own limit in days (``{ahn: 2200}``).
    """

    change_bound_pct: float = Field(default=DEFAULT_CHANGE_BOUND_PCT, gt=0)
    change_bounds: dict[str, Annotated[float, Field(gt=0)]] = Field(default_factory=dict)
    stale_after_days: int = Field(default=DEFAULT_STALE_AFTER_DAYS, gt=0)
    stale_after: dict[str, Annotated[int, Field(gt=0)]] = Field(default_factory=dict)

    def bound_for(self, figure: str) -> float | None:
        """The bound of ``figure``: its own, else ``change_bound_pct`` for a % figure, else None."""
        if figure in self.change_bounds:
            return self.change_bounds[figure]
        return self.change_bound_pct if figure.endswith("_pct") or "_pct_" in figure else None


class NormSpec(_Strict):
    """One norm of ``assess.thresholds``: a site's figure judged against the region's own threshold.

    Attributes:
        figure: the assessment figure (``layers.assess_thresholds.FIGURES``).
        zone: ``site`` or ``buffer``.
        threshold: the norm's value, in the figure's unit.
        operator: ``>=`` (at least) or ``<=`` (at most).
        source: the policy that sets it (default: the region config).
    """

    figure: str
    zone: str
    threshold: float
    operator: str
    source: str = REGION

    @model_validator(mode="after")
    def _known(self) -> NormSpec:
        try:
            region_norms([self.model_dump()], "norm")
        except ConfigError as exc:
            raise ValueError(str(exc).removeprefix("norm[0]: ")) from None
        return self


class AssessSpec(_Strict):
    """``assess:``: what the site assessment (``POST /assess``) judges beyond the national norms.

    Attributes:
        thresholds: the region's own norms; each row of the answer names its source.
    """

    thresholds: list[NormSpec] = Field(default_factory=list)

    def norms(self) -> tuple[Threshold, ...]:
        """The norms as ``layers.assess_thresholds.judge`` takes them."""
        return region_norms([n.model_dump() for n in self.thresholds])


class RegionConfig(_Strict):
    """A whole region config file.

    Attributes:
        region: name, CRS and boundary.
        catalog: folder of the published catalog.
        sources: where each input comes from.
        layers: per-layer parameters (``layer-id: {param: value}``); the
            reserved key ``access`` sets ``public`` or ``internal``.
        keep_versions: how many versions per layer to keep (None: all).
        monitoring: change bounds of the build reports and source age limits.
        assess: the region's own norms for the site assessment (published with the inputs).
        base_dir: folder relative paths are resolved against (set on load).
    """

    region: RegionSpec
    catalog: Path = Path("catalog")
    sources: SourcesSpec = Field(default_factory=SourcesSpec)
    layers: dict[str, dict[str, Any]] = Field(default_factory=dict)
    keep_versions: int | None = Field(None, ge=1)
    monitoring: MonitoringSpec = Field(default_factory=MonitoringSpec)
    assess: AssessSpec = Field(default_factory=AssessSpec)
    base_dir: Path = Field(default=Path("."), exclude=True)

    @field_validator("sources", "layers", mode="before")
    @classmethod
    def _null_as_empty(cls, value: Any) -> Any:
        # `layers:` followed only by comments, or `tree-3-30-300:` with nothing after it, parse as None.
        if value is None:
            return {}
        if isinstance(value, dict):
            return (
                {k: ({} if v is None else v) for k, v in value.items()}
                if value and all(not isinstance(v, BaseModel) for v in value.values())
                else value
            )
        return value

    @property
    def crs(self) -> CRS:
        """The region CRS."""
        return parse_crs(self.region.crs, "region.crs")

    def resolve(self, path: Path) -> Path:
        """Resolve a path from the config against the config's folder."""
        return path if path.is_absolute() else (self.base_dir / path)

    @property
    def catalog_dir(self) -> Path:
        """Absolute catalog folder."""
        return self.resolve(self.catalog).resolve()

    def source_providers(self) -> dict[str, str]:
        """Map each available canonical source to what provides it.

        An explicitly given canonical source overrides what an adapter fills;
        adapters listed later in ``ADAPTERS`` override earlier ones for the
        same source (BAG buildings win over BGT's pand footprints). The surface
        proxy provides ``dsm`` and ``dtm`` only when no real surface (``ahn`` or a
        ``dsm``/``dtm`` file) is configured, so the two are never mixed.
        """
        providers: dict[str, str] = {}
        for adapter, names in ADAPTERS.items():
            spec = getattr(self.sources, adapter)
            if spec is None or (adapter == SURFACE_PROXY_SOURCE and self.real_surface_given()):
                continue
            for name in names:
                if adapter == "ahn" and not _ahn_provides(spec, name):
                    continue
                providers[name] = adapter
        for name in CANONICAL:
            if getattr(self.sources, name) is not None:
                providers[name] = name
        return providers


    def real_surface_given(self) -> bool:
        """Whether a measured surface (``ahn``, or a ``dsm``/``dtm`` file) is configured: it beats the proxy."""
        return any(getattr(self.sources, name) is not None for name in ("ahn", *SURFACE_PROXY_PROVIDES))


def _ahn_provides(spec: AhnSpec, name: str) -> bool:
    if name == VEGETATION_SOURCE:  # the vegetation points exist only in a classified point cloud
        return bool(spec.laz)
    return bool(spec.laz) or getattr(spec, name) is not None


def format_validation_error(exc: ValidationError) -> str:
    """Turn pydantic's error list into one line per problem: ``a.b.c: message``."""
    lines = []
    for err in exc.errors():
        loc = [str(p) for p in err["loc"] if not str(p).startswith(("function-after", "function-before"))]
        # pydantic puts the union member type in the location; it is noise for a person.
        loc = [p for p in loc if p not in {"SourceSpec", "none", "dict[str,any]"}]
        path = ".".join(loc) or "(top level)"
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        elif err["type"] == "missing":
            msg = "required key is missing"
        else:
            msg = err["msg"].removeprefix("Value error, ")
        lines.append(f"{path}: {msg}")
    return "\n".join(dict.fromkeys(lines))


def parse_config(data: Any, base_dir: Path, origin: str = "config") -> RegionConfig:
    """Validate a config mapping; raise ``ConfigError`` naming every bad key path."""
    if not isinstance(data, dict):
        raise ConfigError(f"{origin}: expected a mapping at the top level, got {type(data).__name__}")
    try:
        cfg = RegionConfig.model_validate({**data, "base_dir": base_dir})
    except ValidationError as exc:
        raise ConfigError(f"{origin}:\n{format_validation_error(exc)}") from None
    from layers.registry import validate_layer_config  # late: registry imports layer modules

    validate_layer_config(cfg.layers, origin)
    _check_raster_sources(cfg, origin)
    _check_surface_proxy(cfg, origin)
    return cfg


def _check_surface_proxy(cfg: RegionConfig, origin: str) -> None:
    if cfg.sources.surface_proxy is None:
        return
    providers = cfg.source_providers()
    if not any(name in providers for name in SURFACE_PROXY_INPUTS if name != "trees"):
        raise ConfigError(
            f"{origin}:\nsources.surface_proxy: needs building footprints or land cover to build a surface from "
            "(add a bgt or bag source, or buildings/landcover files)"
        )


def _check_raster_sources(cfg: RegionConfig, origin: str) -> None:
    for name in RASTER_SOURCES:
        spec = getattr(cfg.sources, name)
        if spec is not None and (spec.layer or spec.columns):
            raise ConfigError(f"{origin}:\nsources.{name}: a raster source takes only path and crs")


def load_config(path: str | Path) -> RegionConfig:
    """Read and validate a region config file.

    Raises:
        ConfigError: the file is missing, not YAML, or has invalid keys/values.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config ({exc.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    return parse_config(data, path.resolve().parent, str(path))


EXAMPLE_CONFIG = """\
# kaartlaag region config. Relative paths are relative to this file.
# Every key is checked: a misspelled key is an error that names it.
region:
  name: Otterlo                 # shown in the catalog and the web pages
  crs: "EPSG:28992"             # all layers are computed in this CRS (RD New)
  # boundary: grens.gpkg        # optional polygon file: clip the region to it
  # municipalities: [GM0197, GM1859]   # CBS gemeente codes: only their buurten; tables per municipality

catalog: ./catalog              # where published layers and catalog.json go
# keep_versions: 5              # versions kept per layer (default: all)
# monitoring: {change_bound_pct: 10, change_bounds: {canopy_pct: 5}, stale_after_days: 730}

sources:
  # Registry adapters: each fills several canonical sources.
  bgt: {path: ../shared/data/bgt-otterlo/otterlo.zip}   # landcover, buildings, trees
  # bag: {path: bag.zip}                 # buildings and addresses (BAG 2.0 Extract or PDOK GeoPackage)
  # ahn: {dsm: dsm.tif, dtm: dtm.tif}    # or: {laz: [a.laz, b.laz], resolution_m: 0.5}
  # cbs: {path: wijkenbuurten.gpkg}      # neighbourhoods (buurten)
  # cbs_landuse: {path: BBG2017.gpkg}    # parks: CBS Bestand Bodemgebruik classes 40 and 43 (codes: [...])
  # knmi: {path: etmgeg_283.txt}         # KNMI daily data, for layers.heat-stress.weather: {station, date}
  # knmi_hourly: {path: uurgeg_283_2011-2020.txt}   # KNMI hourly data (weather_hourly): a reference day
  # surface_proxy: {building_height_m: 8, tree_height_m: 10, wood_height_m: 15}
  #                                      # dsm/dtm from the registers while no AHN is given (named as a proxy)

  # Canonical sources by name override what an adapter filled:
  # trees: {path: bomen.csv, columns: {crown_diameter_m: kroondiameter, x: X, y: Y}, crs: "EPSG:28992"}
  # streets: {path: streets.gpkg, layer: streets}

# assess:                       # the site assessment's own norms, beside the national ones
#   thresholds:
#     - {figure: paved_pct, zone: site, threshold: 50, operator: "<=", source: "Omgevingsvisie 2040"}

layers:
  # Per-layer parameters; `kaartlaag layers --params` lists them with units.
  # landcover: {raster_resolution_m: 0.5}
  # basemap: {access: public}
"""
