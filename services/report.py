"""The printable Dutch assessment report: an assessment (the JSON of ``POST /assess``) as HTML and PDF.

``render_report_html`` fills ``templates/report.html`` (jinja2, print CSS for
A4) with the assessment's figures for the site and its buffer, the threshold
rows, the warnings, a scenario's before/after/difference, the method references
and the data sources, and embeds the map images (``styles.report_map``) as
``data:`` URIs. ``render_report_pdf`` lays that HTML out with WeasyPrint.

The report never reaches the network: the page links and loads nothing (fonts
come from the system through fontconfig: DejaVu Sans, Debian
``fonts-dejavu-core``), and WeasyPrint is given a URL fetcher that refuses every
scheme but ``data:``.
"""

from __future__ import annotations

import base64
import contextlib
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jinja2 import Environment, FileSystemLoader, select_autoescape

from styles.assess_labels import NO_VALUE, change_mark, figure, format_value, norm_text, ordered_keys, with_unit
from styles.raster import format_number

TEMPLATES = Path(__file__).resolve().parent / "templates"
_ENV = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))

#: Time zone the report's date is printed in (planners read local time).
LOCAL_TZ = "Europe/Amsterdam"
#: Dutch month names (no locale needed).
MONTHS = ("januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september", "oktober",
          "november", "december")
#: Zone key of the assessment -> Dutch column header (the buffer's gets its width appended).
ZONE_SITE, ZONE_BUFFER = "Plangebied", "Omgeving"
#: Verdict of a threshold row: a text mark and words, so it reads without colour.
VERDICTS: dict[bool | None, tuple[str, str]] = {
    True: ("✓", "voldoet"),
    False: ("✗", "voldoet niet"),
    None: ("?", "onbekend (geen gegevens)"),
}
#: A share (0-1) in percent.
PERCENT = 100.0
#: Dutch names of the scenario edit operations.
EDIT_NAMES: dict[str, str] = {
    "unpave": "Onthard",
    "plant_trees": "Bomen geplant",
    "add_building": "Gebouw toegevoegd",
    "remove_building": "Gebouw verwijderd",
}


def report_date(created: str | None, now: datetime | None = None) -> str:
    """The assessment time in Dutch (``1 december 2026, 13:00``), in local time when the tz database is there.

    Args:
        created: ISO 8601 time of the assessment (``2026-12-01T12:00:00Z``); None or unreadable: ``now``.
        now: the current time (for tests); None: the clock.
    """
    moment = now or datetime.now(UTC)
    if created:
        with contextlib.suppress(ValueError):
            moment = datetime.fromisoformat(created.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        moment, suffix = moment.astimezone(ZoneInfo(LOCAL_TZ)), ""
    except ZoneInfoNotFoundError:
        moment, suffix = moment.astimezone(UTC), " UTC"
    return f"{moment.day} {MONTHS[moment.month - 1]} {moment.year}, {moment:%H:%M}{suffix}"


def buffer_header(buffer_m: object) -> str:
    """``Omgeving (300 m)``; just ``Omgeving`` when the width is unknown."""
    if isinstance(buffer_m, int | float) and not isinstance(buffer_m, bool) and math.isfinite(buffer_m):
        return f"{ZONE_BUFFER} ({format_number(float(buffer_m))} m)"
    return ZONE_BUFFER


def figure_rows(site: Mapping[str, Any] | None, buffer: Mapping[str, Any] | None) -> list[dict[str, str]]:
    """One row per figure: label, unit and the site's and buffer's values (``–`` when missing)."""
    site, buffer = site or {}, buffer or {}
    return [
        {"label": figure(k).label, "unit": figure(k).unit, "site": format_value(k, site.get(k)),
         "buffer": format_value(k, buffer.get(k))}
        for k in ordered_keys(dict(site), dict(buffer))
    ]


def threshold_rows(thresholds: Sequence[Mapping[str, Any]], buffer_label: str) -> list[dict[str, str]]:
    """One row per threshold: figure, zone, value, norm, verdict (mark and words) and source."""
    rows = []
    for t in thresholds:
        key = str(t.get("figure", ""))
        met = t.get("met")
        mark, words = VERDICTS[met if isinstance(met, bool) else None]
        zone = ZONE_SITE if t.get("zone", "site") == "site" else buffer_label
        rows.append({"label": figure(key).label, "zone": zone, "value": with_unit(key, t.get("value")),
                     "norm": norm_text(key, str(t.get("operator", "")), t.get("threshold")),
                     "mark": mark, "verdict": words, "met": "ja" if met is True else "nee" if met is False else "",
                     "source": str(t.get("source") or NO_VALUE)})
    return rows


def _difference(before: object, after: object, given: object) -> object:
    """The given difference, or ``after - before`` when it is missing and both are numbers."""
    if given is not None:
        return given
    numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (before, after))
    return after - before if numbers else None  # type: ignore[operator]


def scenario_rows(
    before: Mapping[str, Any], after: Mapping[str, Any], delta: Mapping[str, Any], zones: Sequence[str]
) -> list[dict[str, Any]]:
    """One row per figure: label, unit and per zone the before, after, signed difference and better/worse.

    Args:
        before: zone -> figures before the edits.
        after: zone -> figures after the edits.
        delta: zone -> differences (after minus before); missing ones are computed.
        zones: the zone keys, in column order (``site``, ``buffer``).
    """
    blocks = [dict(b.get(z) or {}) for b in (before, after, delta) for z in zones]
    rows = []
    for k in ordered_keys(*blocks):
        cells = []
        for z in zones:
            b, a = (before.get(z) or {}).get(k), (after.get(z) or {}).get(k)
            diff = _difference(b, a, (delta.get(z) or {}).get(k))
            cells.append({"before": format_value(k, b), "after": format_value(k, a),
                          "delta": format_value(k, diff, signed=True), "mark": change_mark(k, diff)})
        rows.append({"label": figure(k).label, "unit": figure(k).unit, "zones": cells})
    return rows


def describe_edit(edit: Mapping[str, Any]) -> str:
    """A scenario edit in Dutch: ``Onthard: 50 % van de verharding``, ``Bomen geplant: 12 (kroon 6 m, 10 m hoog)``."""
    op = str(edit.get("op", ""))
    name = EDIT_NAMES.get(op, op or "Wijziging")

    def metres(key: str) -> str:
        value = edit.get(key)
        return format_number(float(value)) if isinstance(value, int | float) else str(value)

    if op == "unpave":
        share = edit.get("share")
        if isinstance(share, int | float):
            return f"{name}: {format_number(float(share) * PERCENT)} % van de verharding"
        return f"{name}: getekend vlak"
    if op == "plant_trees":
        points = edit.get("points")
        count = len(points) if isinstance(points, list) else edit.get("count")
        details = [f"kroon {metres('crown_diameter_m')} m" if edit.get("crown_diameter_m") is not None else "",
                   f"{metres('height_m')} m hoog" if edit.get("height_m") is not None else ""]
        extra = ", ".join(d for d in details if d)
        return f"{name}: {count if count is not None else NO_VALUE}" + (f" ({extra})" if extra else "")
    if op == "add_building":
        height = f" van {metres('height_m')} m hoog" if edit.get("height_m") is not None else ""
        return f"{name}{height}"
    if op == "remove_building":
        return f"{name}: {edit.get('id', NO_VALUE)}"
    return name


def data_uri(png: bytes) -> str:
    """A PNG as a ``data:`` URI."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def report_context(assessment: Mapping[str, Any], maps: Sequence[tuple[str, bytes]]) -> dict[str, Any]:
    """Everything the template prints, as text (numbers already in Dutch notation)."""
    version = assessment.get("version") or {}
    region = assessment.get("region") or {}
    buffer_label = buffer_header(assessment.get("buffer_m"))
    edits = list(assessment.get("edits") or [])
    before, after, delta = (assessment.get(k) or {} for k in ("before", "after", "delta"))
    scenario = bool(edits) or bool(before or after)
    zones = [("site", ZONE_SITE), ("buffer", buffer_label)]
    return {
        "title": "Beoordeling plangebied",
        "date": report_date(assessment.get("created")),
        "region": region.get("name") or NO_VALUE,
        "crs": region.get("crs") or "",
        "catalog_version": version.get("catalog") or NO_VALUE,
        "inputs_version": version.get("inputs") or "",
        "layer_versions": sorted((version.get("layers") or {}).items()),
        "buffer_label": buffer_label,
        "maps": [{"caption": caption, "src": data_uri(png)} for caption, png in maps],
        "figures": figure_rows(assessment.get("site"), assessment.get("buffer")),
        "thresholds": threshold_rows(assessment.get("thresholds") or [], buffer_label),
        "warnings": [str(w) for w in assessment.get("warnings") or []],
        "scenario": scenario,
        "edits": [describe_edit(e) for e in edits],
        "scenario_zones": [label for _, label in zones],
        "scenario_rows": scenario_rows(before, after, delta, [z for z, _ in zones]) if scenario else [],
        "references": [str(r) for r in assessment.get("references") or []],
        "sources": [str(s) for s in assessment.get("sources") or []],
    }


def render_report_html(assessment: Mapping[str, Any], maps: Sequence[tuple[str, bytes]]) -> str:
    """The report as one self-contained HTML page (maps embedded as ``data:`` URIs, no external URLs).

    Args:
        assessment: the assessment (the JSON of ``POST /assess``); missing parts are left out or print ``–``.
        maps: (Dutch caption, PNG bytes) per map image, in report order.
    """
    return _ENV.get_template("report.html").render(**report_context(assessment, maps))


def offline_url_fetcher() -> Any:
    """A WeasyPrint URL fetcher that serves ``data:`` URIs only (no files, no network)."""
    from weasyprint import urls

    if hasattr(urls, "URLFetcher"):  # WeasyPrint >= 66
        return urls.URLFetcher(allowed_protocols=("data",))

    def fetch(url: str, *args: Any, **kwargs: Any) -> Any:
        if not url.startswith("data:"):
            raise ValueError(f"the report loads nothing but data: URIs, not {url[:40]}")
        return urls.default_url_fetcher(url, *args, **kwargs)

    return fetch


def render_report_pdf(assessment: Mapping[str, Any], maps: Sequence[tuple[str, bytes]]) -> bytes:
    """The report as PDF (A4), laid out by WeasyPrint from ``render_report_html``.

    Args:
        assessment: the assessment (the JSON of ``POST /assess``).
        maps: (Dutch caption, PNG bytes) per map image, in report order.
    """
    from weasyprint import HTML

    html = render_report_html(assessment, maps)
    pdf = HTML(string=html, url_fetcher=offline_url_fetcher()).write_pdf()
    return bytes(pdf)
