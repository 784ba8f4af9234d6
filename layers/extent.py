"""The one runner of layers: any set of layers, on in-memory inputs, for any extent.

A municipality build, one window of it, one permit site and one site with
edits all run here, so no layer ever has a second implementation. The runner
reads each input a layer declares over the extent grown by the layer's reach
of that input (``layers.base.Reach``) from an :class:`InputProvider` (the
build's registry sources, the catalog's published inputs, or either with a
scenario's edits applied), makes the zones the layer reports on (the CBS
buurten clipped to the extent by default), and calls the layer's pure
``compute``, or for a windowed layer ``compute_window`` per window and
``finish`` once.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any, Protocol

import geopandas as gpd
import shapely

from geo.canonical import RASTER_SOURCES
from geo.errors import LayerError
from geo.raster import Raster, crop
from geo.vector import near
from layers.base import BuildContext, Extent, LayerDef, LayerInputs, LayerResult, RegionContext
from layers.landcover import clip_to_region

Bounds = tuple[float, float, float, float]
#: The source whose polygons are the default zones and the reach ``neighbourhood`` of a layer.
ZONE_SOURCE = "neighbourhoods"
#: Columns of a zone table.
ZONE_COLUMNS = ("code", "name")
#: Sources besides the canonical rasters that are read per window as rasters.
_EXTRA_RASTERS = frozenset({"vegetation"})


class InputProvider(Protocol):
    """Where a run reads its inputs: registry sources, published inputs, or edited copies of either."""

    @property
    def providers(self) -> Mapping[str, str]:
        """Canonical source name -> the adapter that made it."""
        ...

    def available(self) -> set[str]:
        """The canonical sources this provider has."""
        ...

    def load(self, name: str, bounds: Bounds | None = None) -> Any:
        """Source ``name``: rasters over ``bounds``, vectors as the whole features meeting ``bounds``."""
        ...


def is_raster(name: str) -> bool:
    """Whether canonical source ``name`` is a raster (read per window)."""
    return name in RASTER_SOURCES or name in _EXTRA_RASTERS


def used_sources(layer: LayerDef, available: Iterable[str]) -> list[str]:
    """The layer's inputs and optional inputs that are available, in declaration order."""
    have = set(available)
    return [s for s in (*layer.inputs, *layer.optional_inputs) if s in have]


def _grow(bounds: Bounds, metres: float) -> Bounds:
    minx, miny, maxx, maxy = bounds
    return minx - metres, miny - metres, maxx + metres, maxy + metres


def _union_bounds(a: Bounds, b: Bounds) -> Bounds:
    return min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])


def neighbourhood_bounds(provider: InputProvider, extent: Extent) -> Bounds:
    """Bounds of the whole buurten the extent's area touches (the extent's bounds without buurten)."""
    if ZONE_SOURCE not in provider.available():
        return extent.bounds
    frame = provider.load(ZONE_SOURCE, extent.bounds)
    touching = frame[frame.geometry.values.intersects(extent.polygon())]
    if touching.empty:
        return extent.bounds
    return _union_bounds(extent.bounds, tuple(float(v) for v in touching.total_bounds))  # type: ignore[arg-type]


def read_bounds(layer: LayerDef, source: str, params: Mapping[str, Any], extent: Extent,
                provider: InputProvider) -> Bounds:
    """The bounds over which ``layer`` reads ``source`` for ``extent``: the extent grown by the declared reach."""
    reach = layer.reach_of(source)
    metres = float(reach.metres(params))
    base = neighbourhood_bounds(provider, extent) if reach.kind == "neighbourhood" else extent.bounds
    return _grow(base, metres)


def read_inputs(
    layer: LayerDef, params: Mapping[str, Any], provider: InputProvider, extent: Extent, *,
    only: Callable[[str], bool] | None = None,
) -> dict[str, Any]:
    """Every available input of ``layer`` read over ``extent`` grown by its reach.

    Args:
        only: read only the sources for which this is true (e.g. the vectors of a windowed run).
    """
    out: dict[str, Any] = {}
    for source in used_sources(layer, provider.available()):
        if only is not None and not only(source):
            continue
        out[source] = provider.load(source, read_bounds(layer, source, params, extent, provider))
    return out


def default_zones(provider: InputProvider, extent: Extent, context: RegionContext) -> gpd.GeoDataFrame | None:
    """The CBS buurten clipped to the extent's area and the region boundary, or None without buurten."""
    if ZONE_SOURCE not in provider.available():
        return None
    frame = provider.load(ZONE_SOURCE, extent.bounds)
    area = extent.polygon().intersection(context.boundary)
    clipped = clip_to_region(frame, area)
    return zone_frame(clipped, context)


def zone_frame(frame: gpd.GeoDataFrame, context: RegionContext) -> gpd.GeoDataFrame:
    """A zone table: ``code``, ``name`` and polygons in the region CRS, index 0..n-1, empty zones dropped."""
    keep = ~frame.geometry.values.is_empty
    out = frame.loc[keep, [*ZONE_COLUMNS]].copy()
    out["code"] = out["code"].astype(str)
    return gpd.GeoDataFrame(out, geometry=frame.geometry.values[keep], crs=context.crs).reset_index(drop=True)


def zones_of(named: Mapping[str, shapely.Geometry], context: RegionContext,
             names: Mapping[str, str] | None = None) -> gpd.GeoDataFrame:
    """A zone table of named polygons, e.g. ``{"site": ..., "buffer": ...}`` for a permit site."""
    codes = list(named)
    return gpd.GeoDataFrame(
        {"code": codes, "name": [(names or {}).get(c, c) for c in codes]},
        geometry=[named[c] for c in codes], crs=context.crs,
    )


def run_layer(
    layer: LayerDef,
    params: Mapping[str, Any],
    provider: InputProvider,
    extent: Extent,
    context: RegionContext,
    *,
    zones: gpd.GeoDataFrame | None,
    dependencies: Mapping[str, LayerResult],
    ctx: BuildContext,
) -> LayerResult:
    """Run one layer for ``extent`` in one go (a windowed layer as one window) and return its outputs."""
    inputs = LayerInputs(read_inputs(layer, params, provider, extent), dependencies, extent, context, zones,
                         _providers(layer, provider))
    return layer.compute(inputs, params, ctx)


def run_windows(
    layer: LayerDef,
    params: Mapping[str, Any],
    provider: InputProvider,
    extent: Extent,
    context: RegionContext,
    windows: Iterable[Bounds],
    *,
    zones: gpd.GeoDataFrame | None,
    dependencies: Mapping[str, LayerResult],
    ctx: BuildContext,
    on_window: Callable[[int, LayerResult], None] | None = None,
) -> LayerResult:
    """Run a windowed layer window by window over ``extent``, then ``finish`` it.

    The vector sources are read once, over the whole extent grown by their reach, and handed to
    every window (so the windows name the same rows); the raster sources are read per window,
    over the window grown by their reach.

    Args:
        windows: bounds of the windows (on the layer's grid), covering ``extent.bounds``.
        on_window: called with (index, result) after each window, before its rasters are dropped
            (the engine writes them to disk there); only its partials are kept.

    Returns:
        the finished result: the tables and metadata of ``finish``; rasters only when ``on_window``
        is None (then the last window's rasters; use :func:`run_layer` for one-window runs).
    """
    spec = layer.windowed
    if spec is None:
        raise LayerError(f"layer {layer.id} is not windowed")
    providers = _providers(layer, provider)
    vectors = read_inputs(layer, params, provider, extent, only=lambda s: s not in spec.raster_sources)
    parts: list[LayerResult] = []
    for i, bounds in enumerate(windows):
        window = Extent(bounds, extent.area)
        rasters = read_inputs(layer, params, provider, window, only=lambda s: s in spec.raster_sources)
        inputs = LayerInputs({**vectors, **rasters}, dependencies, window, context, zones, providers)
        part = spec.compute_window(inputs, params, ctx)
        if on_window is not None:
            on_window(i, part)
        parts.append(LayerResult(metadata=part.metadata, partials=part.partials))
        del inputs, rasters, part
    return spec.finish(parts, LayerInputs(vectors, dependencies, extent, context, zones, providers), params)


def _providers(layer: LayerDef, provider: InputProvider) -> dict[str, str]:
    return {s: provider.providers[s] for s in used_sources(layer, provider.available()) if s in provider.providers}


def run_layers(
    layers: Iterable[LayerDef],
    params: Mapping[str, Mapping[str, Any]],
    provider: InputProvider,
    extent: Extent,
    context: RegionContext,
    *,
    zones: gpd.GeoDataFrame | None,
    ctx: BuildContext,
    done: Mapping[str, LayerResult] | None = None,
    progress: Callable[[str], None] | None = None,
    threads: int = 1,
) -> dict[str, LayerResult]:
    """Run ``layers`` (in dependency order) for ``extent``; each gets the results of those it depends on.

    Args:
        params: layer id -> its resolved parameters.
        done: results already at hand (e.g. read from the catalog) for dependencies not run here.
        progress: called with each layer id before it runs.
        threads: layers whose dependencies are done run side by side in this many threads (layers are
            pure, so the results do not depend on it); 1 runs them one after another.

    Raises:
        LayerError: a dependency is neither run nor given in ``done``.
    """
    step = None if progress is None else (lambda _run, layer_id: progress(layer_id))
    (out,) = run_layer_sets(layers, params, [provider], extent, context, zones=zones, ctx=ctx, done=done,
                            progress=step, threads=threads)
    return out


def run_layer_sets(
    layers: Iterable[LayerDef],
    params: Mapping[str, Mapping[str, Any]],
    providers: Sequence[InputProvider],
    extent: Extent,
    context: RegionContext,
    *,
    zones: gpd.GeoDataFrame | None,
    ctx: BuildContext,
    done: Mapping[str, LayerResult] | None = None,
    progress: Callable[[int, str], None] | None = None,
    threads: int = 1,
) -> list[dict[str, LayerResult]]:
    """Run the same ``layers`` on several input sets (a site before and after edits) for one extent.

    Run ``k`` of a layer starts after run ``k - 1`` of the same layer, so a later run can reuse the
    tiled kernels of an earlier one (``geo.kernel_memo``); otherwise tasks run side by side in
    ``threads`` threads as soon as their dependencies are done.

    Returns:
        per input set, layer id -> result (without the ``done`` ones).

    Raises:
        LayerError: a dependency is neither run nor given in ``done``.
    """
    todo_layers = list(layers)
    ids = {layer.id for layer in todo_layers}
    for layer in todo_layers:
        missing = [d for d in layer.depends if d not in (done or {}) and d not in ids]
        if missing:
            raise LayerError(f"layer {layer.id} needs the result of {', '.join(missing)}")
    results: list[dict[str, LayerResult]] = [dict(done or {}) for _ in providers]
    tasks = [(k, layer) for k in range(len(providers)) for layer in todo_layers]
    finished: set[tuple[int, str]] = {(k, d) for k in range(len(providers)) for d in (done or {})}

    def reads(layer: LayerDef) -> list[str]:  # its depends, and the optional ones that run or are given
        return [*layer.depends, *(d for d in layer.optional_depends if d in ids or d in (done or {}))]

    def ready(k: int, layer: LayerDef) -> bool:
        return all((k, d) in finished for d in reads(layer)) and (k == 0 or (k - 1, layer.id) in finished)

    def one(k: int, layer: LayerDef) -> LayerResult:
        if progress is not None:
            progress(k, layer.id)
        deps = {d: results[k][d] for d in reads(layer)}
        return run_layer(layer, params[layer.id], providers[k], extent, context, zones=zones, dependencies=deps,
                         ctx=ctx)

    if threads <= 1:
        for k, layer in tasks:
            results[k][layer.id] = one(k, layer)
    else:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            running: dict[Future[LayerResult], tuple[int, str]] = {}
            while tasks or running:
                for k, layer in [t for t in tasks if ready(*t)]:
                    tasks.remove((k, layer))
                    # Each thread runs in a copy of this context (the kernel memo of an assessment).
                    running[pool.submit(contextvars.copy_context().run, one, k, layer)] = (k, layer.id)
                if not running:
                    raise LayerError("layer dependencies cannot be met")  # unreachable after the check above
                over, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in over:
                    k, layer_id = running.pop(future)
                    results[k][layer_id] = future.result()
                    finished.add((k, layer_id))
    return [{k: v for k, v in r.items() if done is None or k not in done} for r in results]


class MemoryInputs:
    """An :class:`InputProvider` over sources already in memory (hand-made, edited or read once).

    Args:
        sources: canonical source name -> GeoDataFrame or Raster, in ``crs``.
        crs: the region CRS.
        providers: source -> adapter name (``file`` when not given).
    """

    def __init__(self, sources: Mapping[str, Any], crs: Any, providers: Mapping[str, str] | None = None) -> None:
        self.sources = dict(sources)
        self.crs = crs
        self._providers = {s: (providers or {}).get(s, "file") for s in self.sources}

    @property
    def providers(self) -> Mapping[str, str]:
        """Source -> adapter name."""
        return self._providers

    def available(self) -> set[str]:
        """The sources held."""
        return set(self.sources)

    def load(self, name: str, bounds: Bounds | None = None) -> Any:
        """Source ``name``: a raster cropped to ``bounds`` (outward to whole cells), or the features meeting it."""
        if name not in self.sources:
            raise LayerError(f"source {name!r} is not available")
        data = self.sources[name]
        if bounds is None:
            return data
        if isinstance(data, Raster):
            return crop(data, bounds)
        return near(data, bounds) if isinstance(data, gpd.GeoDataFrame) else data  # a table: whole


def memory_inputs(
    layer: LayerDef,
    sources: Mapping[str, Any],
    bounds: Bounds,
    *,
    crs: Any,
    params: Mapping[str, Any],
    name: str = "extent",
    boundary: shapely.Geometry | None = None,
    zones: gpd.GeoDataFrame | None = None,
    dependencies: Mapping[str, LayerResult] | None = None,
    providers: Mapping[str, str] | None = None,
) -> LayerInputs:
    """The inputs the runner gives ``layer`` for ``bounds``, read from in-memory ``sources`` by its reach.

    The region is ``boundary`` (or the bounds' rectangle) and so is the extent's area; zones default to the
    ``neighbourhoods`` in ``sources`` clipped to it.
    """
    provider = MemoryInputs(sources, crs, providers)
    area = boundary if boundary is not None else shapely.box(*bounds)
    extent, context = Extent(bounds, area), RegionContext(name, crs, area)
    return LayerInputs(read_inputs(layer, params, provider, extent), dependencies or {}, extent, context,
                       zones if zones is not None else default_zones(provider, extent, context),
                       _providers(layer, provider))


def run_in_memory(
    layer: LayerDef,
    sources: Mapping[str, Any],
    bounds: Bounds,
    *,
    crs: Any,
    params: Mapping[str, Any] | None = None,
    ctx: BuildContext | None = None,
    **kwargs: Any,
) -> LayerResult:
    """Run ``layer`` on in-memory ``sources`` for ``bounds`` (see :func:`memory_inputs` for ``kwargs``).

    Parameters are the layer's defaults overlaid with ``params``.
    """
    resolved = layer.resolve_params(params or {}, f"layers.{layer.id}")
    inputs = memory_inputs(layer, sources, bounds, crs=crs, params=resolved, **kwargs)
    return layer.compute(inputs, resolved, ctx or BuildContext())
