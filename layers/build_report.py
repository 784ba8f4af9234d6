"""One self-contained HTML report per layer and build: does this update look right?

Written by the engine into the version folder (``report.html``, listed in the
version's files and linked from the overview page), in Dutch. It holds:

* summary numbers: per figure of the zone table the regional value (the same
  aggregation as the benchmark, ``metadata.region_figures``), minimum, median
  and maximum over the zones; the layer's own counts;
* a map image (a choropleth of the layer's main figure, or its first raster)
  and a histogram of that figure's values, as inline PNG (no external file);
* the change against the previous version (``layers.diff``): per figure the
  zones that moved most and by how much; a zone moving beyond its bound
  (``monitoring`` in the config: by default 10 points for a % figure) is flagged,
  here and in ``kaartlaag layers`` (``metadata.change_flags``);
* the inputs' versions (content digests, the dependencies' versions, and each
  source's registry date where known) and the build's warnings.
"""

from __future__ import annotations

import base64
import hashlib
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
from jinja2 import Environment, FileSystemLoader, select_autoescape

from layers import catalog as cat
from layers.diff import bound_changes, change_table, largest_changes, numeric_figures
from layers.municipalities import MUNICIPALITY_OUTPUT, ZONE_OUTPUT, as_floats
from layers.publish import read_cog
from styles.charts import dutch_number, histogram, raster_map, zone_map

#: The report's file name in the version folder, and its catalog output name.
REPORT_FILE = "report.html"
REPORT_OUTPUT = "build-report"
#: The template: the build writes it, so it belongs to the layers (services only serve the file).
TEMPLATES = Path(__file__).resolve().parent / "templates"
#: The figure a layer's map and histogram show (default: its first % figure, else its first figure).
MAIN_FIGURE = {
    "green-paved": "green_pct",
    "tree-3-30-300": "meets_all_pct",
    "heat-stress": "uhi_max_p95_k",
    "cool-places": "share_pct",
}
#: Zones listed per figure in the change section.
TOP_ZONES = 5
#: Cells a side a raster is read at for the map.
MAP_CELLS = 800

_ENV = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))


@dataclass
class ReportInputs:
    """What the engine knows about a build, for its report.

    Attributes:
        region: the region's name.
        warnings: notes of the layer and of the sources it read.
        source_dates: source -> registry facts (``geo.freshness``: date, age, stale), where known.
        bound_for: figure -> its change bound (None: never flagged).
    """

    region: str
    warnings: list[str] = field(default_factory=list)
    source_dates: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    bound_for: Callable[[str], float | None] = lambda _f: None


def main_figure(layer_id: str, table: gpd.GeoDataFrame | None) -> str | None:
    """The figure the map and histogram show."""
    if table is None:
        return None
    figures = [f for f in numeric_figures(table) if table[f].dtype != bool]
    if MAIN_FIGURE.get(layer_id) in figures:
        return MAIN_FIGURE[layer_id]
    return next((f for f in figures if f.endswith("_pct")), figures[0] if figures else None)


def _png_uri(data: bytes | str) -> str:
    raw = data if isinstance(data, bytes) else data.encode()
    return "data:image/png;base64," + base64.b64encode(raw).decode("ascii")


def _summary(table: gpd.GeoDataFrame | None, region: Mapping[str, Any]) -> list[dict[str, str]]:
    if table is None:
        return []
    rows = []
    for f in numeric_figures(table):
        values = as_floats(table[f])
        finite = values[np.isfinite(values)]
        rows.append({
            "figure": f,
            "region": dutch_number(region.get(f), 2) if f in region else "–",
            "min": dutch_number(float(finite.min()), 2) if finite.size else "–",
            "median": dutch_number(float(np.median(finite)), 2) if finite.size else "–",
            "max": dutch_number(float(finite.max()), 2) if finite.size else "–",
        })
    return rows


def zone_table_output(vectors: Mapping[str, gpd.GeoDataFrame]) -> str | None:
    """The zone table a report is about: ``neighbourhoods``, else the first polygon table with a ``code``
    column that is not the per-municipality one (the vacancy layer's ``buurten``)."""
    if ZONE_OUTPUT in vectors:
        return ZONE_OUTPUT
    for name, frame in vectors.items():
        if name != MUNICIPALITY_OUTPUT and "code" in frame.columns and len(frame) \
                and frame.geom_type.isin(["Polygon", "MultiPolygon"]).all():
            return name
    return None


def _previous_table(root: Path, previous: cat.LayerEntry | None, output: str | None) -> gpd.GeoDataFrame | None:
    if previous is None or output is None:
        return None
    file = next((f for f in previous.files if f.output == output and f.format == "parquet"), None)
    return None if file is None else gpd.read_parquet(Path(root) / file.path)


def _changes(before: gpd.GeoDataFrame | None, after: gpd.GeoDataFrame | None,
             bound_for: Callable[[str], float | None]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(per figure the zones that moved most, the flagged zones) of the zone table."""
    if before is None or after is None:
        return [], []
    table = change_table(before, after)
    moved: list[dict[str, Any]] = []
    figures = [c[: -len("_delta")] for c in table.columns if c.endswith("_delta")]
    for fig in figures:
        top = largest_changes(table, fig, TOP_ZONES)
        top = top[top[fig + "_delta"] != 0]
        if top.empty:
            continue
        moved.append({"figure": fig, "zones": [
            {"code": r["code"], "name": r["name"], "from": dutch_number(r[fig + "_from"], 2),
             "to": dutch_number(r[fig + "_to"], 2), "delta": f"{r[fig + '_delta']:+.2f}".replace(".", ",")}
            for _, r in top.iterrows()]})
    bounds = {f: b for f in figures if (b := bound_for(f)) is not None}
    return moved, bound_changes(table, bounds)


def _map(layer_id: str, title: str, table: gpd.GeoDataFrame | None, figure: str | None,
         rasters: Sequence[Path]) -> tuple[str | None, str | None]:
    """(map PNG data URI, histogram PNG data URI)."""
    if table is not None and figure is not None and len(table):
        table = table.assign(**{figure: as_floats(table[figure])})
        unit = "K" if figure.endswith("_k") else ("%" if "_pct" in figure else "")
        image = zone_map(table, figure, title=f"{title}: {figure} per buurt", unit=unit)
        hist = histogram(table[figure].tolist(),
                         title=f"{figure}: verdeling over de buurten", unit=unit)
        return _png_uri(image), _png_uri(hist)
    if rasters:
        raster = read_cog(rasters[0], max_cells=MAP_CELLS)
        data = np.asarray(np.ma.filled(raster.masked().astype(np.float64), np.nan))
        unit = raster.units[0] if raster.units else ""
        image = raster_map(data, raster.bounds, title=f"{title}: {raster.band_names[0]}", unit=unit)
        finite = data[np.isfinite(data)]
        hist = histogram(finite.tolist(), title=f"{raster.band_names[0]}: verdeling over de cellen", unit=unit)
        return _png_uri(image), _png_uri(hist)
    return None, None


def render_report(root: Path, entry: cat.LayerEntry, previous: cat.LayerEntry | None,
                  table: gpd.GeoDataFrame | None, municipalities: gpd.GeoDataFrame | None,
                  raster_paths: Sequence[Path], facts: ReportInputs,
                  output: str | None = ZONE_OUTPUT) -> tuple[str, list[dict[str, Any]]]:
    """The report's HTML and the flagged zone changes.

    Args:
        root: the catalog folder (for the previous version's files).
        entry: the new version's catalog record.
        previous: the version before it (None for a first build).
        table: the new zone table, if the layer has one.
        municipalities: the new per-municipality table, if any.
        raster_paths: the new version's raster files (for a layer without zone table).
        facts: region, warnings, source dates and change bounds.
        output: the zone table's output name (its previous version is read under that name).
    """
    title = entry.title.get("nl", entry.id)
    figure = main_figure(entry.id, table)
    map_uri, hist_uri = _map(entry.id, title, table, figure, raster_paths)
    moved, flags = _changes(_previous_table(root, previous, output), table, facts.bound_for)
    inputs = [{"source": s, "digest": d[:12], **{k: facts.source_dates.get(s, {}).get(k) for k in
                                                 ("date", "age_days", "stale", "detail")}}
              for s, d in sorted(entry.inputs.items())]
    counts = entry.metadata.get("log", {}).get("counts", {}) if isinstance(entry.metadata.get("log"), dict) else {}
    munis = []
    if municipalities is not None and figure in municipalities.columns:
        munis = [{"code": r["code"], "name": r["name"], "value": dutch_number(r[figure], 2)}
                 for _, r in municipalities.iterrows()]
    html = _ENV.get_template("build_report.html").render(
        title=title, entry=entry, region=facts.region, previous=previous.version if previous else None,
        summary=_summary(table, entry.metadata.get("region_figures", {})), counts=counts, figure=figure,
        map_uri=map_uri, hist_uri=hist_uri, moved=moved, flags=flags, inputs=inputs,
        depends=entry.depends, warnings=facts.warnings, municipalities=munis, zones=0 if table is None else len(table),
        fmt=lambda v: dutch_number(v, 2) if isinstance(v, float) and math.isfinite(v) else v,
    )
    return html, flags


def write_report(staged: Path, rel_dir: str, html: str) -> cat.FileEntry:
    """Write the report into the staging folder; its catalog file entry."""
    path = staged / REPORT_FILE
    path.write_text(html, encoding="utf-8")
    data = path.read_bytes()
    return cat.FileEntry(name=REPORT_FILE, output=REPORT_OUTPUT, kind="metadata", format="html",
                         media_type="text/html; charset=utf-8", path=f"{rel_dir}/{REPORT_FILE}",
                         bytes=len(data), sha256=hashlib.sha256(data).hexdigest())


def add_report(root: Path, staged: Path, entry: cat.LayerEntry, previous: cat.LayerEntry | None,
               vectors: Mapping[str, gpd.GeoDataFrame], facts: ReportInputs) -> None:
    """Render and write the build report of ``entry`` (being published from ``staged``) and record it.

    The report joins ``entry.files``; ``entry.metadata`` gets ``build_report`` (the file name) and
    ``change_flags`` (the zones that moved beyond their bound against ``previous``).
    """
    rel_dir = entry.files[0].path.rsplit("/", 1)[0] if entry.files else f"{entry.id}/{entry.version}"
    rasters = [staged / f.name for f in entry.files if f.format == "cog"]
    output = zone_table_output(vectors)
    html, flags = render_report(root, entry, previous, vectors.get(output) if output else None,
                                vectors.get(MUNICIPALITY_OUTPUT), rasters, facts, output)
    entry.files.append(write_report(staged, rel_dir, html))
    entry.metadata["build_report"] = REPORT_FILE
    entry.metadata["change_flags"] = flags


def report_facts(region: str, entry: cat.LayerEntry, bound_for: Callable[[str], float | None]) -> ReportInputs:
    """The report's facts from the new catalog record: its warnings (the layer's notes, the surface proxy,
    the sources' notes) and source dates (``metadata.source_dates``)."""
    log = entry.metadata.get("log")
    warnings = [str(n) for n in (log.get("notes", []) if isinstance(log, dict) else [])]
    warnings += [f"surface_proxy: {n}" for n in entry.metadata.get("surface_proxy", [])]
    warnings += [f"{r.get('source')}: {n}" for r in entry.build_log for n in r.get("notes", [])]
    dates = entry.metadata.get("source_dates", {})
    warnings += [f"{s}: bron is verouderd ({d.get('date')}, {d.get('age_days')} dagen)"
                 for s, d in dates.items() if d.get("stale")]
    skipped = entry.metadata.get("municipality_aggregation", {}).get("not_aggregated", [])
    if skipped:
        warnings.append(f"niet per gemeente samengevat (geen regel): {', '.join(skipped)}")
    return ReportInputs(region=region, warnings=warnings, source_dates=dates, bound_for=bound_for)
