"""The build engine: dependency graph, content-hash caching and atomic publishing.

``build`` resolves the layers asked for plus their dependencies, computes a
key per layer from its code, parameters, region and the content hashes of its
inputs (and the keys of the layers it reads), skips layers whose key equals
the published one, and publishes the rest atomically (see ``layers.catalog``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import shutil
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dask
import numpy as np
import rasterio
from pyproj import Transformer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn

from geo.crs import WGS84
from geo.errors import ConfigError, KaartlaagError
from geo.surface_proxy import SURFACE_PROXY_SOURCE
from layers import catalog as cat
from layers.base import BuildContext, LayerDef, LayerResult
from layers.build_report import add_report, report_facts
from layers.code_key import code_digest
from layers.config import RegionConfig
from layers.extent import ZONE_SOURCE, default_zones, run_layer
from layers.municipalities import ZONE_OUTPUT, add_municipalities, membership_of
from layers.publish import read_result, write_result
from layers.published_inputs import publish_inputs
from layers.registry import build_order, get_layer
from layers.source_ages import freshness_metadata
from layers.sources import SourceSet
from layers.windowed import build_windowed

_VERSION_RE = re.compile(r"^\d{8}T\d{6}Z-[0-9a-f]{8}(-\d+)?$")

#: Attribution per provider, written into tile archives and metadata.
ATTRIBUTION = {
    "bgt": "BGT: Kadaster / PDOK (CC0)",
    "bag": "BAG: Kadaster / PDOK (CC0)",
    "ahn": "AHN: Rijkswaterstaat en waterschappen (CC0)",
    "cbs": "Wijk- en buurtkaart: CBS (CC BY 4.0)",
    "cbs_landuse": "Bestand Bodemgebruik: CBS (CC BY 4.0)",
    "knmi": "Daggegevens van het weer: KNMI (CC BY 4.0)",
    "knmi_hourly": "Uurgegevens van het weer: KNMI (CC BY 4.0)",
    SURFACE_PROXY_SOURCE: "DSM/DTM: kaartlaag surface_proxy uit BGT/BAG, geen AHN (aangenomen hoogtes)",
}


@dataclass
class LayerPlan:
    """What the engine decided for one layer."""

    layer: LayerDef
    params: dict[str, Any]
    access: str
    inputs: dict[str, str]
    key: str = ""
    action: str = "build"  # build | up-to-date | skipped
    reason: str = ""


@dataclass
class BuildSummary:
    """Result of a build run: what was built, skipped or up to date."""

    built: list[str] = field(default_factory=list)
    up_to_date: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    inputs_version: str = ""
    inputs_published: bool = False


def plan_build(
    cfg: RegionConfig, sources: SourceSet, selected: Sequence[str] | None, force: bool
) -> list[LayerPlan]:
    """Decide per layer: build, up to date, or skipped (missing inputs)."""
    catalog = cat.read_catalog(cfg.catalog_dir)
    explicit = {get_layer(i).id for i in selected or ()}
    order = build_order(selected)
    plans: dict[str, LayerPlan] = {}
    available = sources.available()
    region_digest = sources.region_digest()
    for layer_id in order:
        layer = get_layer(layer_id)
        given = cfg.layers.get(layer_id, {})
        plan = LayerPlan(
            layer,
            layer.resolve_params(given, f"layers.{layer_id}"),
            layer.resolve_access(given, f"layers.{layer_id}"),
            {},
        )
        plans[layer_id] = plan
        missing = [s for s in layer.inputs if s not in available]
        blocked = [d for d in layer.depends if plans[d].action == "skipped"]
        if missing or blocked:
            why = (
                f"missing source(s) {', '.join(missing)}"
                if missing
                else f"needs skipped layer(s) {', '.join(blocked)}"
            )
            if layer_id in explicit:
                raise ConfigError(f"layer {layer_id} cannot be built: {why} (add them under sources:)")
            plan.action, plan.reason = "skipped", why
            continue
        used = [s for s in (*layer.inputs, *layer.optional_inputs) if s in available]
        plan.inputs = {s: sources.digest(s) for s in used}
        plan.key = _layer_key(plan, region_digest, {d: plans[d].key for d in _built_depends(layer, plans)})
        current = catalog.layers.get(layer_id)
        if not force and current is not None and current.key == plan.key:
            plan.action = "up-to-date"
    return [plans[i] for i in order]


def _built_depends(layer: LayerDef, plans: Mapping[str, LayerPlan]) -> list[str]:
    """The layers ``layer`` reads: its ``depends`` and the ``optional_depends`` that are not skipped."""
    return [*layer.depends, *(d for d in layer.optional_depends if d in plans and plans[d].action != "skipped")]


def _layer_key(plan: LayerPlan, region_digest: str, dep_keys: dict[str, str]) -> str:
    layer = plan.layer
    payload = {
        "id": layer.id,
        "code_version": layer.code_version,
        "code": code_digest(layer.compute.__module__),
        "params": plan.params,
        "access": plan.access,
        "region": region_digest,
        "inputs": plan.inputs,
        "depends": dep_keys,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


@contextlib.contextmanager
def dask_scheduler(ctx: BuildContext) -> Iterator[None]:
    """Run Dask work on the cluster at ``ctx.scheduler``, or on local threads."""
    if ctx.scheduler:
        from distributed import Client

        try:
            client = Client(ctx.scheduler, timeout="15s")
        except (OSError, TimeoutError) as exc:
            raise KaartlaagError(f"cannot reach the Dask scheduler at {ctx.scheduler}: {exc}") from None
        with client:
            yield
    else:
        with dask.config.set(scheduler="threads", num_workers=ctx.workers):
            yield


def build(
    cfg: RegionConfig,
    selected: Sequence[str] | None = None,
    *,
    ctx: BuildContext | None = None,
    force: bool = False,
    console: Console | None = None,
) -> BuildSummary:
    """Build and publish layers.

    Args:
        cfg: the region config.
        selected: layer ids (default: every layer whose inputs are available).
        ctx: workers, Dask scheduler, chunk size.
        force: rebuild even when the inputs are unchanged.
        console: where progress goes (default: stderr).

    Raises:
        KaartlaagError: config, source or publish problems; nothing already
            published is changed then, and the failed layer's staging folder
            is removed.
    """
    ctx = ctx or BuildContext()
    console = console or Console(stderr=True)
    root = cfg.catalog_dir
    summary = BuildSummary()
    with cat.catalog_lock(root):
        _clean_leftovers(root)
        sources = SourceSet(cfg)
        plans = plan_build(cfg, sources, selected, force)
        results: dict[str, LayerResult] = {}
        todo = [p for p in plans if p.action == "build"]
        by_id = {p.layer.id: p for p in plans}
        for p in plans:
            if p.action == "skipped":
                summary.skipped[p.layer.id] = p.reason
                console.print(f"[yellow]skip[/] {p.layer.id}: {p.reason}")
            elif p.action == "up-to-date":
                summary.up_to_date.append(p.layer.id)
                console.print(f"[green]up to date[/] {p.layer.id}")
        columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn())
        with (
            Progress(*columns, console=console, transient=False) as progress,
            dask_scheduler(ctx),
            rasterio.Env(GDAL_CACHEMAX=ctx.gdal_cache_mb),
        ):
            overall = progress.add_task("layers", total=len(todo))
            for plan in todo:
                layer = plan.layer
                progress.update(overall, description=f"{layer.id}: reading sources")
                deps = {d: _dependency(root, d, results) for d in _built_depends(layer, by_id)}
                if layer.windowed is not None:
                    version = _build_windowed(cfg, plan, sources, deps, ctx, progress, overall)
                else:
                    progress.update(overall, description=f"{layer.id}: computing")
                    extent, context = sources.extent(), sources.context()
                    result = run_layer(layer, plan.params, sources, extent, context,
                                       zones=default_zones(sources, extent, context), dependencies=deps, ctx=ctx)
                    # Kept for the layers that read it; a windowed layer's rasters are read back from the catalog.
                    results[layer.id] = result
                    progress.update(overall, description=f"{layer.id}: publishing")
                    version = _publish(cfg, plan, result, sources)
                summary.built.append(layer.id)
                summary.versions[layer.id] = version
                progress.advance(overall)
            progress.update(overall, description="done")
        # The sources the catalog's layers read (with what this build planned), no more: a build of one
        # layer never reads a source that no built layer uses.
        read = {s for p in plans if p.action != "skipped" for s in p.inputs}
        read |= {s for e in cat.read_catalog(root).layers.values() for s in e.inputs}
        summary.inputs_version, summary.inputs_published = publish_inputs(cfg, sources, console=console, only=read)
    return summary


def _build_windowed(
    cfg: RegionConfig, plan: LayerPlan, sources: SourceSet, deps: dict[str, LayerResult], ctx: BuildContext,
    progress: Progress, task: TaskID,
) -> str:
    """Compute a windowed layer into the staging folder window by window, then publish it.

    The staging folder is removed when any window or the publishing fails.
    """
    layer = plan.layer

    def step(done: int, total: int) -> None:
        progress.update(task, description=f"{layer.id}: window {done}/{total}")

    with cat.staging_dir(cfg.catalog_dir, layer.id) as staged:
        out = build_windowed(layer, plan.params, sources, deps, ctx, staged, step)
        progress.update(task, description=f"{layer.id}: publishing")
        return _publish(cfg, plan, out.result, sources, staged=staged, raster_files=out.raster_files)


def _dependency(root: Path, layer_id: str, results: dict[str, LayerResult]) -> LayerResult:
    if layer_id in results:
        return results[layer_id]
    entry = cat.read_catalog(root).layers[layer_id]
    return read_result(root, entry.files)


def _clean_leftovers(root: Path) -> None:
    """Remove staging folders and unlisted version folders left by killed builds (lock held)."""
    cat.clean_staging(root)
    catalog = cat.read_catalog(root)
    listed = {v.path for e in catalog.layers.values() for v in e.versions}
    for layer_dir in root.iterdir():
        if not layer_dir.is_dir() or layer_dir.name.startswith("."):
            continue
        for version_dir in layer_dir.iterdir():
            rel = f"{layer_dir.name}/{version_dir.name}"
            if version_dir.is_dir() and _VERSION_RE.match(version_dir.name) and rel not in listed:
                shutil.rmtree(version_dir, ignore_errors=True)


def _bounds(
    result: LayerResult, cfg: RegionConfig, fallback: tuple[float, ...], raster_files: dict[str, Path] | None = None
) -> dict[str, list[float]]:
    boxes = [f.total_bounds for f in result.vectors.values() if len(f)]
    boxes += [np.array(r.bounds) for r in result.rasters.values()]
    for path in (raster_files or {}).values():
        with rasterio.open(path) as ds:
            boxes.append(np.array(tuple(ds.bounds)))
    if boxes:
        arr = np.vstack(boxes)
        native = [
            float(arr[:, 0].min()),
            float(arr[:, 1].min()),
            float(arr[:, 2].max()),
            float(arr[:, 3].max()),
        ]
    else:
        native = [float(v) for v in fallback]
    to_wgs84 = Transformer.from_crs(cfg.crs, WGS84, always_xy=True)
    left, bottom, right, top = native
    wgs = list(to_wgs84.transform_bounds(left, bottom, right, top, densify_pts=21))
    return {cfg.region.crs: [round(v, 3) for v in native], "EPSG:4326": [round(v, 7) for v in wgs]}


def _proxy_metadata(providers: set[str], sources: SourceSet) -> dict[str, Any]:
    """A layer built on the surface proxy says so in its metadata (``surface_proxy``: what it assumed)."""
    if SURFACE_PROXY_SOURCE not in providers:
        return {}
    notes = [n for r in sources.reports if r.source == SURFACE_PROXY_SOURCE for n in r.notes]
    return {"surface_proxy": notes or ["dsm and dtm from the surface proxy of the registers, not AHN"]}


def _publish(
    cfg: RegionConfig, plan: LayerPlan, result: LayerResult, sources: SourceSet, *,
    staged: Path | None = None, raster_files: dict[str, Path] | None = None,
) -> str:
    """Write ``result`` into a staging folder and publish it as a new version; returns the version.

    Without ``staged`` a staging folder is made here and removed if publishing
    fails; the caller that passes one removes it (see ``catalog.staging_dir``).
    """
    if staged is None:
        with cat.staging_dir(cfg.catalog_dir, plan.layer.id) as own:
            return _publish(cfg, plan, result, sources, staged=own, raster_files=raster_files)
    root = cfg.catalog_dir
    layer = plan.layer
    now = datetime.now(UTC)
    version = f"{now.strftime('%Y%m%dT%H%M%SZ')}-{plan.key[:8]}"
    # A forced rebuild within the same second gets the same name: number it.
    n = 1
    while (root / layer.id / version).exists():
        n += 1
        version = f"{now.strftime('%Y%m%dT%H%M%SZ')}-{plan.key[:8]}-{n}"
    rel_dir = f"{layer.id}/{version}"
    providers = {sources.providers[s] for s in plan.inputs}
    attribution = "; ".join(sorted(ATTRIBUTION.get(p, f"{p}: {cfg.region.name}") for p in providers))
    bounds = _bounds(result, cfg, sources.extent().bounds, raster_files)
    if ZONE_OUTPUT in result.vectors and ZONE_SOURCE in sources.available():  # the zone table per municipality
        result = add_municipalities(layer.id, result, membership_of(sources.load(ZONE_SOURCE)), raster_files)
    files = write_result(layer, result, staged, rel_dir, attribution, raster_files=raster_files)
    catalog = cat.read_catalog(root)
    previous = catalog.layers.get(layer.id)
    entry = cat.LayerEntry(
        id=layer.id,
        title=dict(layer.title),
        description=dict(layer.description),
        kind=layer.kind,
        version=version,
        built_at=now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        key=plan.key,
        code_version=layer.code_version,
        inputs=plan.inputs,
        depends={d: catalog.layers[d].version for d in layer.all_depends if d in catalog.layers},
        parameters=plan.params,
        parameter_info={p.name: p.describe() for p in layer.params},
        bounds=bounds,
        crs=cfg.region.crs,
        access=plan.access,  # type: ignore[arg-type]
        style_id=layer.style_id,
        minzoom=layer.minzoom,
        maxzoom=layer.maxzoom,
        references=list(layer.references),
        files=files,
        metadata={**result.metadata, "attribution": attribution, **_proxy_metadata(providers, sources),
                  **freshness_metadata(cfg, plan.inputs)},
        build_log=[r.as_dict() for r in sources.reports if r.source in providers],
        versions=[
            *(previous.versions if previous else []),
            cat.VersionEntry(
                version=version, built_at=now.strftime("%Y-%m-%dT%H:%M:%SZ"), key=plan.key, path=rel_dir
            ),
        ],
    )
    # The build report (report.html in the version folder, with the change against the previous version).
    add_report(root, staged, entry, previous, result.vectors,
               report_facts(cfg.region.name, entry, cfg.monitoring.bound_for))
    cat.write_json(staged / cat.METADATA_FILE, entry.model_dump(mode="json", exclude={"versions"}))
    cat.move_into_place(root, staged, layer.id, version)
    dropped = cat.prune_versions(root, entry, cfg.keep_versions)
    catalog.region = {"name": cfg.region.name, "crs": cfg.region.crs}
    catalog.layers[layer.id] = entry
    cat.write_catalog(root, catalog)
    cat.remove_version_dirs(root, dropped)
    return version
