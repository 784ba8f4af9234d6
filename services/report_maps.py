"""The map images of an assessment: the report's (heat island and shade over the site and buffer, before and after a
scenario) and the web map's overlays of what a scenario changes."""

from __future__ import annotations

import base64
import io
from typing import Any

import numpy as np
from PIL import Image

from geo.raster import Raster, crop
from layers.assess import SITE
from layers.assessment import Assessment
from styles.change import change_raster_style, change_step
from styles.report_map import before_after_image, colour_raster, map_image

#: The raster of each map: (layer, output, style id, Dutch title).
MAPS = (
    ("heat-stress", "uhi_max", "heat-stress/uhi_max", "Stedelijk hitte-eiland (uhi_max, K)"),
    ("heat-stress", "shade_pct_1500", "heat-stress/shade_pct_1500", "Schaduw om 15 uur (%)"),
)


def _raster(run: Any, layer: str, output: str) -> Raster | None:
    result = None if run is None else run.results.get(layer)
    return None if result is None else result.rasters.get(output)


def report_maps(assessment: Assessment) -> list[tuple[str, bytes]]:
    """``(title, PNG)`` per map: each layer raster of :data:`MAPS` with the site and buffer outlined.

    With a scenario each map shows the current state beside the scenario, the scenario's changes
    (new crowns, unpaved ground, buildings) drawn on it.
    """
    zones = assessment.before.zones
    site = zones.geometry.values[list(zones["code"]).index(SITE)]
    buffer = zones.geometry.values[1 - list(zones["code"]).index(SITE)]
    drawn = {k: v for k, v in (assessment.edits.drawn if assessment.edits else {}).items() if len(v)}
    out = []
    for layer, output, style, title in MAPS:
        before = _raster(assessment.before, layer, output)
        if before is None:
            continue
        if assessment.after is None:
            png = map_image(before, style, site, buffer, None, title=title)
        else:
            png = before_after_image(before, _raster(assessment.after, layer, output), style, site, buffer, None,
                                     title=title, extra_after=drawn)
        out.append((title, png))
    return out


#: Unit of each map's raster (its legend).
UNITS = {"uhi_max": "K", "shade_pct_1500": "%"}
#: Changes smaller than this (in the raster's unit) are drawn transparent: float noise, not a change.
MIN_CHANGE = 1e-3


def scenario_overlays(assessment: Assessment) -> list[dict[str, Any]]:
    """What a scenario changes in each raster of :data:`MAPS`, as images for a web map.

    Each item: ``output``, Dutch ``title``, ``unit``, ``crs`` (the region CRS), ``bounds`` (of the site
    and its buffer, that CRS), ``image`` (a PNG data URL: after minus before in seven diverging classes,
    ``styles.change``; unchanged cells transparent) and ``legend`` (colour and Dutch label per class).
    Empty without a scenario.
    """
    if assessment.after is None:
        return []
    zones = assessment.before.zones
    window = tuple(float(v) for v in zones.total_bounds)
    out = []
    for layer, output, _style, title in MAPS:
        before, after = _raster(assessment.before, layer, output), _raster(assessment.after, layer, output)
        if before is None or after is None or not before.same_grid(after):
            continue
        delta = crop(Raster((after.data[0] - before.data[0]).astype(np.float32), before.crs, before.transform,
                            nodata=float("nan")), window)  # type: ignore[arg-type]
        values = delta.data[0]
        changed = np.isfinite(values) & (np.abs(values) >= MIN_CHANGE)
        unit = UNITS.get(output, "")
        step = change_step(float(np.abs(values[changed]).max()) if changed.any() else 0.0)
        style = change_raster_style(step, unit, f"Verandering {title}")
        rgba = colour_raster(delta, style)
        rgba[~changed] = 0
        buffer = io.BytesIO()
        Image.fromarray(rgba, "RGBA").save(buffer, format="PNG", optimize=True)
        out.append({
            "output": output, "title": f"Verandering {title}", "unit": unit, "crs": delta.crs.to_string(),
            "bounds": [float(v) for v in delta.bounds],
            "image": "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii"),
            "legend": [{"colour": c.colour, "label": c.label} for c in style.classes],
            "changed_cells": int(changed.sum()),
        })
    return out
