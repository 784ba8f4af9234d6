"""``POST /assess`` and its report: one permit site, with or without a scenario, from the published catalog.

Thin routes: the request is parsed by ``geo.site`` and ``geo.edits_model`` (their
``InputError`` becomes 400/413 in the one error table), the work is
``layers.assessment.assess_site`` (the layers' own code) run in a worker thread,
one assessment at a time per worker process, and the report is
``services.report``. Bodies are JSON, or multipart with a GeoPackage or zipped
shapefile in the field ``file``.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from geo.edits_model import parse_edits
from geo.errors import InputError, InputTooLargeError
from geo.site import Site, site_from_bag, site_from_file, site_from_geojson
from layers.assessment import Assessment, assess_site
from layers.inputs_store import PublishedInputs
from services.errors import BudgetExceededError, RetryLaterError
from services.http import json_body, parse_json
from services.report import render_report_html, render_report_pdf
from services.report_maps import report_maps, scenario_overlays

#: Keys of a JSON assessment request.
REQUEST_KEYS = frozenset({"geometry", "bag_id", "crs", "buffer_m", "edits", "format", "maps"})
#: Answer formats of ``POST /assess`` (``format``).
FORMATS = ("json", "html", "pdf")
_PDF = "application/pdf"


class _OneAtATime:
    """At most one assessment per worker process: a second one is refused with 503 and ``Retry-After``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def __enter__(self) -> None:
        if not self._lock.acquire(blocking=False):
            raise RetryLaterError("another assessment is running on this worker; try again shortly", 10)

    def __exit__(self, *exc: object) -> None:
        self._lock.release()


def assess_router(catalog_dir: Path, limits: Any) -> APIRouter:
    """The assessment routes for the catalog in ``catalog_dir`` under ``limits`` (``services.limits``)."""
    router = APIRouter(tags=["assessment"])
    gate = _OneAtATime()

    async def _run(request: Request, forced: str | None) -> tuple[Assessment, str, bool]:
        body, upload = await _read(request, limits.assess_max_upload_bytes)
        fmt = forced or str(body.get("format", "json"))
        if fmt not in FORMATS:
            raise InputError(f"format: must be one of {', '.join(FORMATS)}, got {fmt!r}")
        maps = body.get("maps", False)
        if maps not in (True, False, "true", "false"):
            raise InputError(f"maps: must be true or false, got {maps!r}")
        inputs = PublishedInputs(catalog_dir)
        site = _site(body, upload, inputs, limits)
        raw = body.get("edits") or []
        edits = parse_edits(raw, crs=body.get("crs"), region_crs=inputs.crs)
        deadline = time.monotonic() + limits.assess_budget_s

        def check(_step: str) -> None:
            if time.monotonic() > deadline:
                raise BudgetExceededError(f"the assessment took longer than {limits.assess_budget_s:g} s", 30)

        def work() -> Assessment:
            with gate:
                return assess_site(catalog_dir, site, edits, raw_edits=raw, progress=check)

        return await run_in_threadpool(work), fmt, maps in (True, "true")

    async def _answer(request: Request, forced: str | None) -> Response:
        assessment, fmt, with_maps = await _run(request, forced)
        if fmt == "json":
            answer = assessment.answer
            if with_maps:  # what a scenario changes, as images for a web map (services.report_maps)
                answer = {**answer, "maps": await run_in_threadpool(scenario_overlays, assessment)}
            return JSONResponse(answer)
        maps = await run_in_threadpool(report_maps, assessment)
        if fmt == "html":
            return HTMLResponse(render_report_html(assessment.answer, maps))
        pdf = await run_in_threadpool(render_report_pdf, assessment.answer, maps)
        return Response(pdf, media_type=_PDF,
                        headers={"Content-Disposition": 'attachment; filename="beoordeling-plangebied.pdf"'})

    @router.post("/assess", summary="Assess a permit site (and a scenario)")
    async def assess(request: Request) -> Response:
        """Figures of the site and its buffer against their norms; with ``edits`` before, after and delta.

        JSON: ``{"geometry": GeoJSON, "crs": "EPSG:28992", "buffer_m": 300, "edits": [...], "format": "json"}``
        or ``{"bag_id": "..."}``; multipart: a GeoPackage or zipped shapefile in ``file`` plus the same fields.
        ``"maps": true`` adds ``maps``: what a scenario changes in ``uhi_max`` and the shade, as PNG overlays.
        """
        return await _answer(request, None)

    @router.post("/assess/report.pdf", summary="The assessment as a Dutch PDF report")
    async def report_pdf(request: Request) -> Response:
        """The same request as ``POST /assess``; the answer is the printable report (PDF)."""
        return await _answer(request, "pdf")

    @router.post("/assess/report.html", summary="The assessment as a Dutch HTML report")
    async def report_html(request: Request) -> Response:
        """The same request as ``POST /assess``; the answer is the report as one HTML page."""
        return await _answer(request, "html")

    return router


async def _read(request: Request, max_bytes: int) -> tuple[dict[str, Any], tuple[str, bytes] | None]:
    """The request's fields and, for multipart, the uploaded file ``(name, bytes)``."""
    kind = request.headers.get("content-type", "")
    if kind.startswith("multipart/form-data"):
        form = await request.form()
        body: dict[str, Any] = {}
        upload = None
        for key, value in form.multi_items():
            if key == "file" and isinstance(value, UploadFile):
                data = await value.read(max_bytes + 1)
                if len(data) > max_bytes:
                    raise InputTooLargeError(f"file: larger than {max_bytes} bytes")
                upload = (str(value.filename or "upload"), data)
            elif key in ("edits",):
                body[key] = parse_json(str(value), key)
            else:
                body[key] = str(value)
        _check_keys(body, allowed=REQUEST_KEYS | {"file"})
        return body, upload
    body = await json_body(request, max_bytes)
    if not isinstance(body, dict):
        raise InputError("body: expected a JSON object with geometry or bag_id")
    _check_keys(body, allowed=REQUEST_KEYS)
    return body, None


def _check_keys(body: dict[str, Any], allowed: frozenset[str]) -> None:
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise InputError(f"{', '.join(unknown)}: unknown field(s); known: {', '.join(sorted(allowed))}")


def _buffer(body: dict[str, Any]) -> float | None:
    """``buffer_m`` as metres: a JSON number, or the text of a form field; anything else is refused."""
    value = body.get("buffer_m")
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise InputError(f"buffer_m: expected a number of metres, got {value!r}")
    try:
        return float(value)
    except ValueError:
        raise InputError(f"buffer_m: expected a number of metres, got {value!r}") from None


def _site(body: dict[str, Any], upload: tuple[str, bytes] | None, inputs: PublishedInputs, limits: Any) -> Site:
    """The site from a file, a BAG id or a GeoJSON geometry (exactly one)."""
    given = [k for k in ("geometry", "bag_id") if body.get(k) is not None] + (["file"] if upload else [])
    if len(given) != 1:
        raise InputError("give exactly one of geometry, bag_id or file" + (f" (got {', '.join(given)})" if given
                                                                           else ""))
    common = {"region_boundary": inputs.boundary, "region_name": inputs.name}
    site_limits = limits.site_limits()
    if upload is not None:
        return site_from_file(upload[1], upload[0], inputs.crs, site_limits, _buffer(body), **common)
    if body.get("bag_id") is not None:
        buildings = inputs.load("buildings") if "buildings" in inputs.available() else None
        addresses = inputs.load("addresses") if "addresses" in inputs.available() else None
        if buildings is None:
            raise InputError("bag_id: this catalog publishes no buildings to look the id up in")
        return site_from_bag(str(body["bag_id"]), buildings, addresses, site_limits, _buffer(body), **common)
    return site_from_geojson(body["geometry"], body.get("crs"), inputs.crs, site_limits, _buffer(body), **common)
