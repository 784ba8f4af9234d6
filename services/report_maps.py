"""The map images of an assessment report: the heat island over the site and buffer, before and after a scenario."""

from __future__ import annotations

from typing import Any

from geo.raster import Raster
from layers.assess import SITE
from layers.assessment import Assessment
from styles.report_map import before_after_image, map_image

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
