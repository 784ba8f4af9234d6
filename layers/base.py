"""What a layer is: a pure computation plus its declared contract.

A layer declares its inputs (canonical sources and other layers), parameters
(with units, defaults and sources), outputs and style id. Its ``compute``
takes in-memory inputs for any extent and returns in-memory outputs; the build
engine does reading, hashing, chunking and publishing around it. The same
``compute`` serves a whole municipality, one permit site, or a what-if
scenario on edited inputs, so no layer ever needs a second implementation.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import geopandas as gpd
import shapely
from pyproj import CRS
from shapely.geometry.base import BaseGeometry

from geo.errors import ConfigError, LayerError
from geo.raster import Raster

Access = Literal["public", "internal"]
Kind = Literal["vector", "raster"]


@dataclass(frozen=True)
class Param:
    """A layer parameter.

    Attributes:
        name: key in the config (``layers.<id>.<name>``).
        default: value when the config is silent.
        unit: unit of the value (``"m"``, ``"m2"``, ``"%"``, ``""`` for none).
        description: what it does, for ``kaartlaag layers --params`` and metadata.
        source: where the default comes from (guideline, paper).
        minimum: smallest allowed value for numbers.
        maximum: largest allowed value for numbers.
        choices: allowed values for strings.
        default_factory: when set, the value the config is silent about is computed when the build
            plans (e.g. the build date), so it enters the cache key and the catalog as a fixed value;
            ``default`` is then what ``kaartlaag layers --params`` shows.
        validate: further check of a value; raises ``ValueError`` with the reason.
    """

    name: str
    default: Any
    unit: str
    description: str
    source: str = ""
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[Any, ...] | None = None
    default_factory: Callable[[], Any] | None = None
    validate: Callable[[Any], None] | None = None

    def check(self, value: Any, where: str) -> Any:
        """Coerce ``value`` to the default's type and check its bounds."""
        kind = type(self.default)
        try:
            if kind is bool:
                if not isinstance(value, bool):
                    raise TypeError
                coerced: Any = value
            elif kind is float:
                if isinstance(value, bool):
                    raise TypeError
                coerced = float(value)
            elif kind is int:
                if isinstance(value, bool) or float(value) != int(value):
                    raise TypeError
                coerced = int(value)
            elif kind in (list, tuple):
                coerced = list(value)
            else:
                coerced = kind(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: expected {kind.__name__}, got {value!r}") from None
        if self.minimum is not None and coerced < self.minimum:
            raise ConfigError(f"{where}: {coerced} is below the minimum {self.minimum} {self.unit}".rstrip())
        if self.maximum is not None and coerced > self.maximum:
            raise ConfigError(f"{where}: {coerced} is above the maximum {self.maximum} {self.unit}".rstrip())
        if self.choices is not None and coerced not in self.choices:
            raise ConfigError(f"{where}: {coerced!r} is not one of {', '.join(map(repr, self.choices))}")
        if self.validate is not None:
            try:
                self.validate(coerced)
            except ValueError as exc:
                raise ConfigError(f"{where}: {exc}") from None
        return coerced

    def default_value(self) -> Any:
        """The value used when the config is silent: ``default_factory()`` when given, else ``default``."""
        return self.default_factory() if self.default_factory is not None else self.default

    def describe(self) -> dict[str, Any]:
        """JSON-friendly description for the catalog metadata."""
        return {
            "default": self.default,
            "unit": self.unit,
            "description": self.description,
            "source": self.source,
        }


@dataclass(frozen=True)
class Output:
    """A declared output: a vector table or a raster."""

    name: str
    kind: Kind
    description: str


@dataclass(frozen=True)
class RegionContext:
    """Region-wide facts every run of a layer shares, whatever its extent.

    A municipality build, one of its windows, a permit site and a site with
    edits all see the same context, so region-wide choices agree between them.

    Attributes:
        name: region name.
        crs: CRS of every input and output (projected, metres).
        boundary: polygon of the region (region CRS); the sun reference is the
            centre of its bounds, so every run of a region sees the same sun.
    """

    name: str
    crs: CRS
    boundary: BaseGeometry

    @property
    def sun_reference(self) -> tuple[float, float]:
        """(x, y) in the region CRS where sun positions are computed: the centre of the boundary's bounds."""
        minx, miny, maxx, maxy = self.boundary.bounds
        return (minx + maxx) / 2, (miny + maxy) / 2


@dataclass(frozen=True)
class Extent:
    """Where a run computes and reports outputs.

    Attributes:
        bounds: (minx, miny, maxx, maxy) in the region CRS; rasters cover exactly these bounds
            (snapped to their resolution).
        area: the polygon inside ``bounds`` whose features are reported (dwellings counted, land cover
            clipped), or None for the rectangle of ``bounds``. A municipality build passes the region
            boundary; a window of it and a permit site pass their own polygon.
    """

    bounds: tuple[float, float, float, float]
    area: BaseGeometry | None = None

    def polygon(self) -> BaseGeometry:
        """The reported area: ``area``, or the rectangle of ``bounds``."""
        return self.area if self.area is not None else shapely.box(*self.bounds)

    def grown(self, metres: float) -> tuple[float, float, float, float]:
        """``bounds`` grown by ``metres`` on every side."""
        minx, miny, maxx, maxy = self.bounds
        return minx - metres, miny - metres, maxx + metres, maxy + metres


ReachKind = Literal["distance", "network", "neighbourhood"]


@dataclass(frozen=True)
class Reach:
    """How far beyond the extent a layer reads one of its inputs.

    Attributes:
        source: the canonical source (or ``layer:<id>`` for a dependency's output).
        metres: metres beyond the extent, for the given parameters.
        why: what the reach is for (shown by ``kaartlaag layers --params`` and in docs).
        kind: ``distance`` (straight-line reach: kernels, radii), ``network`` (a walk along the
            street network of at most ``metres``, which never leaves a disc of that radius, so it is
            read as a distance), or ``neighbourhood`` (the whole CBS buurten that the extent touches,
            plus ``metres``: the '30' of 3-30-300 is a buurt figure, not one of the run's extent).
    """

    source: str
    metres: Callable[[Mapping[str, Any]], float]
    why: str
    kind: ReachKind = "distance"


def fixed(metres: float) -> Callable[[Mapping[str, Any]], float]:
    """A reach that does not depend on the parameters."""
    return lambda _params: float(metres)


def param_reach(*names: str, plus: float = 0.0) -> Callable[[Mapping[str, Any]], float]:
    """A reach equal to the largest of the named parameters (metres), plus ``plus``."""
    return lambda params: float(max(params[n] for n in names)) + plus


@dataclass
class LayerInputs:
    """In-memory inputs handed to ``compute``.

    Attributes:
        sources: canonical source name -> GeoDataFrame / DataFrame / Raster, read over the extent
            grown by the layer's declared reach of that source (see :class:`Reach`).
        layers: dependency layer id -> its ``LayerResult``.
        extent: where outputs are computed and reported.
        context: the region every run shares (name, CRS, boundary, sun reference).
        zones: the zones the layer reports its tables on (``code``, ``name``, polygons in the
            region CRS): by default the CBS buurten clipped to the extent's area; for a permit site
            the site and its buffer. None: no zone tables.
        providers: canonical source name -> the adapter that filled it (``ahn``, ``bgt``,
            ``surface_proxy``, ``file``); empty when the caller does not know (hand-made inputs).
    """

    sources: Mapping[str, Any]
    layers: Mapping[str, LayerResult]
    extent: Extent
    context: RegionContext
    zones: gpd.GeoDataFrame | None = None
    providers: Mapping[str, str] = field(default_factory=dict)

    @property
    def crs(self) -> CRS:
        """The region CRS (of every input and output)."""
        return self.context.crs

    def vector(self, name: str) -> gpd.GeoDataFrame:
        """A canonical vector source (KeyError naming it when absent)."""
        if name not in self.sources:
            raise KeyError(f"source {name!r} is not available")
        return self.sources[name]

    def raster(self, name: str) -> Raster:
        """A canonical raster source."""
        if name not in self.sources:
            raise KeyError(f"source {name!r} is not available")
        return self.sources[name]


@dataclass
class LayerResult:
    """In-memory outputs of a layer.

    Attributes:
        vectors: output name -> GeoDataFrame in the region CRS.
        rasters: output name -> Raster.
        metadata: extra facts for the catalog (method, counts, notes).
        partials: mergeable statistics of one window of a windowed layer
            (see :class:`Windowed`); empty for a finished result.
    """

    vectors: dict[str, gpd.GeoDataFrame] = field(default_factory=dict)
    rasters: dict[str, Raster] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    partials: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class BuildContext:
    """Execution settings the engine hands to ``compute``.

    Attributes:
        workers: number of local worker threads for chunked raster work.
        scheduler: address of a Dask scheduler (``tcp://host:8786``) or None for local.
        chunk_size: raster chunk edge in cells.
        window_cells: edge in cells of the windows in which the engine builds
            windowed layers; peak memory follows the window plus its halo,
            not the region.
        gdal_cache_mb: GDAL's block cache during a build (MB). GDAL's default,
            5 % of the machine's memory, would hold written windows far longer
            than needed.
    """

    workers: int = 2
    scheduler: str | None = None
    chunk_size: int = 2048
    window_cells: int = 2048
    gdal_cache_mb: int = 256


ComputeFn = Callable[[LayerInputs, Mapping[str, Any], BuildContext], LayerResult]
FinishFn = Callable[[list[LayerResult], LayerInputs, Mapping[str, Any]], LayerResult]


@dataclass(frozen=True)
class Windowed:
    """A raster layer whose computation the engine may run window by window.

    Memory then stays bounded by the window, whatever the area: the engine
    reads the sources for one window plus its halo, calls ``compute_window``,
    writes the window's rasters to disk and keeps only its ``partials``; at
    the end ``finish`` turns all partials into the tables and metadata. The
    same two functions make the layer's one-call ``compute`` (one window equal
    to the region), so a permit site, a what-if scenario and a municipality run
    the very same code.

    Attributes:
        compute_window: computes the rasters of ``inputs.extent.bounds`` exactly
            (grid snapped to the resolution) and the window's partial
            statistics. Its raster sources reach the layer's declared reach
            beyond the window; its vector sources are those of the whole run
            (the extent of all windows grown by their reach; the layer selects
            what it needs by bounding box, so every window names the same rows).
        finish: merges the partials of every window into vectors and metadata;
            it gets the vector sources of the whole run and its zones.
        resolution_m: cell size (m) of the layer's rasters for the given
            parameters; windows are whole numbers of cells.
        raster_sources: the raster inputs, which the runner reads per window.
    """

    compute_window: ComputeFn
    finish: FinishFn
    resolution_m: Callable[[Mapping[str, Any]], float]
    raster_sources: tuple[str, ...]

    def compute(self, inputs: LayerInputs, params: Mapping[str, Any], ctx: BuildContext) -> LayerResult:
        """The whole region as one window: rasters, tables and metadata in memory."""
        part = self.compute_window(inputs, params, ctx)
        done = self.finish([part], inputs, params)
        return LayerResult(
            vectors={**part.vectors, **done.vectors},
            rasters={**part.rasters, **done.rasters},
            metadata={**part.metadata, **done.metadata},
        )


@dataclass(frozen=True)
class LayerDef:
    """Declaration of a derived layer.

    Attributes:
        id: stable id used in configs, URLs and the catalog.
        title: {"nl": ..., "en": ...}.
        description: {"nl": ..., "en": ...}.
        kind: primary kind shown to clients (a vector layer may also ship a raster).
        inputs: canonical sources that must be available.
        optional_inputs: canonical sources used when available.
        depends: ids of layers whose outputs this layer reads.
        optional_depends: ids of layers whose outputs this layer reads when they can be built (a region
            without their sources builds this layer without them, and its metadata says so); built before
            it like ``depends``.
        params: declared parameters.
        outputs: declared outputs.
        style_id: id of the style in ``styles/``.
        code_version: bump when the method changes: cached builds are then redone.
        compute: the pure computation.
        access: default access (``public`` or ``internal``).
        internal_only: the layer holds personal data: it is ``internal`` whatever the config says
            (a config asking ``access: public`` is an error), so every route hides it from callers
            without a key for it.
        references: literature / guidelines the method follows.
        minzoom: lowest zoom for vector tiles.
        maxzoom: highest zoom for vector tiles.
        windowed: set when the engine may compute the layer window by window
            (large rasters in bounded memory); ``compute`` is then
            ``windowed.compute``.
        reach: how far beyond the extent each input is read (:class:`Reach`); every input and
            optional input has one (``layers.registry`` checks it), so one runner can read any
            extent's inputs: a municipality, a window, a permit site.
    """

    id: str
    title: Mapping[str, str]
    description: Mapping[str, str]
    kind: Kind
    inputs: tuple[str, ...]
    params: tuple[Param, ...]
    outputs: tuple[Output, ...]
    style_id: str
    code_version: str
    compute: ComputeFn
    optional_inputs: tuple[str, ...] = ()
    depends: tuple[str, ...] = ()
    optional_depends: tuple[str, ...] = ()
    access: Access = "public"
    internal_only: bool = False
    references: tuple[str, ...] = ()
    minzoom: int = 10
    maxzoom: int = 16
    windowed: Windowed | None = None
    reach: tuple[Reach, ...] = ()

    @property
    def all_depends(self) -> tuple[str, ...]:
        """The layers built before this one: ``depends`` then ``optional_depends``."""
        return (*self.depends, *self.optional_depends)

    def reach_of(self, source: str) -> Reach:
        """The declared reach of ``source`` (``LayerError`` naming it when the layer declares none)."""
        for r in self.reach:
            if r.source == source:
                return r
        raise LayerError(f"layer {self.id} declares no reach for its input {source!r}")

    def reach_m(self, source: str, params: Mapping[str, Any]) -> float:
        """Metres beyond the extent the layer reads ``source``, for ``params``."""
        return float(self.reach_of(source).metres(params))

    def resolve_params(self, given: Mapping[str, Any], where: str) -> dict[str, Any]:
        """Defaults overlaid with ``given``; unknown keys are errors naming their path."""
        known = {p.name: p for p in self.params}
        for key in given:
            if key not in known and key != "access":
                hint = f"; known: {', '.join(sorted(known))}" if known else "; this layer has no parameters"
                raise ConfigError(f"{where}.{key}: unknown parameter{hint}")
        return {
            name: (p.check(given[name], f"{where}.{name}") if name in given else p.default_value())
            for name, p in known.items()
        }

    def resolve_access(self, given: Mapping[str, Any], where: str) -> Access:
        """Access from the config (``access: internal``) or the layer default."""
        value = given.get("access", self.access)
        if value not in ("public", "internal"):
            raise ConfigError(f"{where}.access: must be 'public' or 'internal', got {value!r}")
        if self.internal_only and value != "internal":
            raise ConfigError(f"{where}.access: layer {self.id} holds personal data and is always internal")
        return value  # type: ignore[no-any-return]
