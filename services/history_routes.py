"""``GET /layers/{id}/history?zone=BU...`` (a zone's values across every kept version, as JSON or a chart) and
``GET /layers/{id}/report.html`` (the build report of the current or a kept version)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import FileResponse

from geo.errors import NotFoundError
from layers.build_report import REPORT_OUTPUT
from layers.history import figure_series, zone_history
from services.http import CallerDep, LayerId, StoreDep, add_layer_route, conditional, json_bytes
from services.tiles import access_headers
from styles.charts import line_chart

ZoneCode = Annotated[str, Query(pattern=r"^[A-Za-z0-9_.-]{1,64}$",
                                description="A buurt code (BU...) or a municipality code (GM...).")]


def history_router(max_age: int) -> APIRouter:
    """The history and build-report routes."""
    router = APIRouter(tags=["Catalogus"])

    @router.get("/layers/{layer_id}/history", summary="A zone's values across the kept versions (JSON or SVG)")
    def history(
        request: Request, layer_id: LayerId, zone: ZoneCode, caller: CallerDep, store: StoreDep,
        format: Annotated[Literal["json", "svg", "png"], Query(description="json, or a small chart")] = "json",
        figure: Annotated[list[str] | None, Query(description="Figures to chart (default: the shares)")] = None,
    ) -> Response:
        entry = store.layer(layer_id, caller)
        data = zone_history(store.root, entry, zone)
        if format == "json":
            return conditional(request, json_bytes(data), "application/json", entry=entry, max_age=max_age)
        series = figure_series(data, figure)
        labels = [v["version"][:15] for v in data["versions"]]
        title = f"{entry.title.get('nl', entry.id)}: {data['zone']['name'] or zone} ({zone})"
        chart = line_chart(labels, series, title=title, fmt=format)
        body = chart.encode("utf-8") if isinstance(chart, str) else chart
        media = "image/svg+xml" if format == "svg" else "image/png"
        return conditional(request, body, media, entry=entry, max_age=max_age)

    def report(layer_id: LayerId, version: str | None, caller: CallerDep, store: StoreDep) -> FileResponse:
        entry = store.layer_version(layer_id, version, caller)
        file = next((f for f in entry.files if f.output == REPORT_OUTPUT), None)
        if file is None:
            raise NotFoundError(f"layer {layer_id} version {entry.version} has no build report")
        return FileResponse(store.file_path(file), media_type=file.media_type,
                            headers=access_headers(entry.access, versioned=version is not None, max_age=max_age))

    add_layer_route(router, "/report.html", report, summary="The build report of the layer (Dutch HTML)")
    return router
