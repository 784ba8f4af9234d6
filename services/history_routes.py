"""``GET /layers/{id}/history?zone=BU...``: a zone's values across every kept version, as JSON or a chart."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response

from layers.history import figure_series, zone_history
from services.http import CallerDep, LayerId, StoreDep, conditional, json_bytes
from styles.charts import line_chart

ZoneCode = Annotated[str, Query(pattern=r"^[A-Za-z0-9_.-]{1,64}$",
                                description="A buurt code (BU...) or a municipality code (GM...).")]


def history_router(max_age: int) -> APIRouter:
    """The history route."""
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

    return router
