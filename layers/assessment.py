"""The assessment of a permit site from a catalog: published inputs, the published layers' parameters, one run.

``assess_site`` is what ``POST /assess`` and ``kaartlaag assess`` call: it reads
the catalog's published inputs (``layers.inputs_store``) over the reach of the
assessed layers, runs them for the site and its buffer with the parameters the
published versions were built with (``layers.assess``), applies the edits of a
scenario and runs them again, and returns the answer: figures per zone, the
norms (``layers.assess_thresholds``), warnings and the versions used.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import shapely

from geo.edits import EditResult
from geo.edits_model import Edit
from geo.errors import NotFoundError
from geo.fractions import Crowns
from geo.kernel_memo import kernel_memo
from geo.knmi_hourly import WEATHER_HOURLY_SOURCE
from geo.site import Site
from layers import catalog as cat
from layers.assess import (
    ASSESSED_LAYERS,
    BUFFER,
    SITE,
    SiteRun,
    assessed,
    crowns_of,
    delta,
    edited_sources,
    published_params,
    run_sites,
    snapshot,
)
from layers.assess_pet import pet_figures
from layers.assess_published import published_figures
from layers.assess_thresholds import NORMS, judge
from layers.base import BuildContext, Extent, RegionContext
from layers.inputs_store import PublishedInputs
from layers.registry import get_layer

#: Threads the assessed layers run in: they are independent and pure, and parts of each (GDAL, numba,
#: shapely, numpy) release the GIL, so two layers share the machine's two cores.
ASSESS_THREADS = 2


@dataclass
class Assessment:
    """An assessment: the JSON answer and the runs behind it (for the report's maps)."""

    answer: dict[str, Any]
    before: SiteRun
    after: SiteRun | None
    edits: EditResult | None


def published_layers(catalog_dir: Path) -> dict[str, cat.LayerEntry]:
    """The catalog's current entries of the assessed layers (and their dependencies) that are built."""
    catalog = cat.read_catalog(catalog_dir)
    return {i: catalog.layers[i] for i in assessed(ASSESSED_LAYERS) if i in catalog.layers}


def assess_site(
    catalog_dir: Path,
    site: Site,
    edits: Sequence[Edit] = (),
    *,
    raw_edits: Sequence[Any] = (),
    ctx: BuildContext | None = None,
    progress: Callable[[str], None] | None = None,
    threads: int = ASSESS_THREADS,
) -> Assessment:
    """Assess ``site`` (and its buffer) on the catalog's published inputs, with ``edits`` as a scenario.

    Args:
        catalog_dir: the catalog (its current inputs version and layer versions are used).
        site: the parsed site (``geo.site``), in the region CRS.
        edits: parsed edits (``geo.edits_model.parse_edits``); none for the current state.
        raw_edits: the edits as given, echoed in the answer.
        ctx: chunk size and workers of the run.
        progress: called with a step name (Dutch-free ids: ``inputs``, ``before:<layer>``, ...).
        threads: the assessed layers run side by side in this many threads.

    Raises:
        NotFoundError: the catalog has no published inputs, or none of the assessed layers.
    """
    inputs = PublishedInputs(catalog_dir)
    entries = published_layers(catalog_dir)
    if not entries:
        raise NotFoundError("no assessed layer (green-paved, tree-3-30-300, heat-stress, cool-places) is built")
    ids = [i for i in assessed(list(entries)) if i in entries]
    params = {i: published_params(entries[i]) for i in ids}
    context = RegionContext(inputs.name, inputs.crs, inputs.boundary)
    area = shapely.union(site.geometry, site.buffer)
    if progress is not None:
        progress("inputs")
    sources = snapshot(inputs, ids, params, Extent(tuple(float(v) for v in area.bounds), area))  # type: ignore[arg-type]

    result = None
    sets: list[Mapping[str, Any]] = [sources]
    if edits:
        edited, result = edited_sources(sources, edits, site.geometry)
        sets.append(edited)

    def step(k: int, layer_id: str) -> None:
        if progress is not None:
            progress(f"{'before' if k == 0 else 'after'}:{layer_id}")

    # Same grids, edited inputs: the after-run's tiled kernels recompute only the cells the edits reach.
    with kernel_memo() as memo:
        runs = run_sites(sets, inputs.providers, context, site.geometry, site.buffer, params, layer_ids=ids,
                         ctx=ctx, progress=step, threads=threads)
    before, after = runs[0], (runs[1] if len(runs) > 1 else None)
    # Read, not recomputed: an edit changes neither the published vacancy nor the housing plans.
    read, read_versions = published_figures(catalog_dir, {SITE: site.geometry, BUFFER: site.buffer})
    for run in (r for r in (before, after) if r is not None):
        for zone, figures in read.items():
            run.figures[zone].update(figures)
    # PET: the published layer's values; with edits recomputed near the site by the layer's own code.
    scenario = None
    if len(sets) > 1:
        scenario = dict(sets[1])
        if WEATHER_HOURLY_SOURCE in inputs.available() and WEATHER_HOURLY_SOURCE not in scenario:
            scenario[WEATHER_HOURLY_SOURCE] = inputs.load(WEATHER_HOURLY_SOURCE, area.bounds)
    pet_before, pet_after, pet_version = pet_figures(
        catalog_dir, site.geometry, site.buffer, scenario, inputs.providers, context, ctx or BuildContext(), progress)
    if pet_version is not None:
        read_versions["pet"] = pet_version
    before.figures = _merged(before.figures, pet_before)
    if after is not None:
        after.figures = _merged(after.figures, pet_after)
    norms = (*NORMS, *inputs.norms)  # the national norms, then the region's own (each row names its source)
    answer: dict[str, Any] = {
        "version": {"inputs": inputs.version, "layers": {**{i: entries[i].version for i in ids}, **read_versions}},
        "region": {"name": inputs.name, "crs": inputs.crs.to_string()},
        "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "site": before.figures[SITE],
        "buffer": before.figures[BUFFER],
        "buffer_m": site.buffer_m,
        "thresholds": judge(before.figures, norms),
        "warnings": [*site.warnings, *crown_warnings(sources.get("trees"), site.geometry)],
        "edits": list(raw_edits),
        "before": None, "after": None, "delta": None,
        "references": sorted({r for i in ids for r in get_layer(i).references}),
        "sources": sorted({str(entries[i].metadata.get("attribution", "")) for i in ids} - {""}),
    }
    if after is not None and result is not None:
        answer["before"] = before.figures
        answer["after"] = after.figures
        answer["delta"] = delta(before.figures, after.figures)
        answer["thresholds_after"] = judge(after.figures, norms)
        answer["edit_summary"] = result.summary
        answer["recomputed"] = {"kernels_reused": memo.hits, "kernels_patched": memo.partial,
                                "kernels_full": memo.full, "cells_patched": memo.recomputed_cells}
        answer["warnings"] += list(result.warnings)
    return Assessment(plain(answer), before, after, result)


def _merged(figures: dict[str, dict[str, Any]], more: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """``figures`` with the figures of ``more`` added per zone."""
    return {zone: {**values, **more.get(zone, {})} for zone, values in figures.items()}


def plain(value: Any) -> Any:
    """``value`` with numpy scalars and arrays turned into JSON's numbers and lists (NaN becomes None)."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return plain(value.tolist())
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return None if not np.isfinite(value) else float(value)
    return value


def crown_warnings(trees: Any, site: shapely.Geometry) -> list[str]:
    """A Dutch warning when the site overlaps register tree crowns: how many and their area inside the site."""
    if trees is None or len(trees) == 0:
        return []
    points, diameter = crowns_of(trees)
    discs = shapely.buffer(points, diameter / 2)
    hit = shapely.intersects(site, discs) & (diameter > 0)
    if not hit.any():
        return []
    area = float(Crowns.from_points(points[hit], diameter[hit]).area_in(np.array([site], dtype=object))[0])
    return [f"Het plangebied overlapt {int(hit.sum())} boomkronen ({area:.0f} m²)"]
