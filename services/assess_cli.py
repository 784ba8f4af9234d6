"""``kaartlaag assess``: the assessment of ``POST /assess`` from the command line, written as a report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Console

from geo.edits_model import parse_edits
from geo.errors import InputError
from geo.site import Site, site_from_file, site_from_geojson
from layers.assessment import assess_site
from layers.inputs_store import PublishedInputs
from services.limits import RequestLimits
from services.report import render_report_html, render_report_pdf
from services.report_maps import report_maps

#: GeoJSON file suffixes; anything else is read as a GeoPackage or a zipped shapefile.
GEOJSON_SUFFIXES = (".geojson", ".json")
#: Report formats by the suffix of the output file.
OUTPUT_SUFFIXES = (".pdf", ".html", ".json")


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: {what} file not found") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: not a JSON {what} file ({exc})") from None


def read_site(path: Path, inputs: PublishedInputs, buffer_m: float | None, crs: str | None) -> Site:
    """The site of a file: GeoJSON (its legacy ``crs`` member or ``crs``), else GeoPackage / zipped shapefile."""
    limits = RequestLimits().site_limits()
    common: dict[str, Any] = {"region_boundary": inputs.boundary, "region_name": inputs.name}
    if path.suffix.lower() in GEOJSON_SUFFIXES:
        data = _read_json(path, "GeoJSON")
        # Without --crs, geo.site reads the file's legacy crs member, else takes EPSG:28992.
        return site_from_geojson(data, crs, inputs.crs, limits, buffer_m, **common)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: site file not found") from None
    return site_from_file(raw, path.name, inputs.crs, limits, buffer_m, **common)


def run_assess(catalog_dir: Path, site_path: Path, output: Path, *, edits_path: Path | None, buffer_m: float | None,
               crs: str | None, console: Console) -> None:
    """Assess the site of ``site_path`` on ``catalog_dir`` and write the report to ``output`` (.pdf/.html/.json)."""
    suffix = output.suffix.lower()
    if suffix not in OUTPUT_SUFFIXES:
        raise InputError(f"--out: {output.name}: the report is .pdf, .html or .json")
    inputs = PublishedInputs(catalog_dir)
    site = read_site(site_path, inputs, buffer_m, crs)
    raw = _read_json(edits_path, "edits") if edits_path is not None else []
    edits = parse_edits(raw, crs=crs, region_crs=inputs.crs)
    with console.status("beoordelen ...") as status:
        assessment = assess_site(catalog_dir, site, edits, raw_edits=raw,
                                 progress=lambda step: status.update(f"beoordelen: {step}"))
        if suffix == ".json":
            output.write_text(json.dumps(assessment.answer, indent=2, ensure_ascii=False), encoding="utf-8")
            return
        status.update("rapport maken ...")
        maps = report_maps(assessment)
        if suffix == ".html":
            output.write_text(render_report_html(assessment.answer, maps), encoding="utf-8")
        else:
            output.write_bytes(render_report_pdf(assessment.answer, maps))
