"""Routes of the benchmark: ``/benchmark`` (Dutch page with a bar chart per figure), ``.json`` and ``.csv``.

The numbers come from ``layers.benchmark``; only the layers the caller may see
are read, so an internal layer never feeds the public benchmark.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from fastapi import APIRouter, Request, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from layers.benchmark import REGION_CODE, benchmark, benchmark_csv, figures_present
from services.http import CallerDep, StoreDep, base_url, conditional, json_bytes
from services.index_page import TEMPLATES
from services.store import CatalogStore
from styles.charts import bar_chart, dutch_number

#: Rendered pages kept (one per distinct benchmark answer and base URL).
PAGE_CACHE_SIZE = 8
_ENV = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))


def _data(store: CatalogStore, caller: Any) -> tuple[dict[str, Any], list[Any]]:
    entries = store.layers(caller)
    region = str(store.catalog().region.get("name", ""))
    return benchmark(store.root, entries, region), figures_present(store.root, entries)


def render_benchmark(data: dict[str, Any], figures: list[Any], base: str) -> str:
    """The Dutch benchmark page: a bar chart per figure with the regional value, and the table."""
    munis = data["municipalities"]
    region = data["region"]
    labels = [m["name"] or m["code"] for m in munis]
    shown = []
    for fig in figures:
        values = [m["figures"].get(fig.key) for m in munis]
        ref = region["figures"].get(fig.key)
        chart = bar_chart(labels, values, title=fig.title, unit=fig.unit, reference=ref, reference_label="regio")
        origin = region["versions"].get(fig.key, {})
        shown.append({"key": fig.key, "title": fig.title, "unit": fig.unit, "chart": chart,
                      "layer": origin.get("layer", fig.layer), "version": origin.get("version", ""),
                      "region_text": dutch_number(ref)})
    rows = [{"code": m["code"], "name": m["name"], "region": False,
             "cells": [dutch_number(m["figures"].get(f.key)) for f in figures]} for m in munis]
    rows.append({"code": REGION_CODE, "name": region["name"] or "Regio", "region": True,
                 "cells": [dutch_number(region["figures"].get(f.key)) for f in figures]})
    return _ENV.get_template("benchmark.html").render(
        region=region["name"], base=base, figures=shown, rows=rows)


@lru_cache(maxsize=PAGE_CACHE_SIZE)
def _cached_page(data: bytes, figures: tuple[Any, ...], base: str) -> str:
    """The page of one benchmark answer (drawing the charts takes a while; the answer changes with a build)."""
    return render_benchmark(json.loads(data), list(figures), base)


def benchmark_router(max_age: int) -> APIRouter:
    """``GET /benchmark``, ``/benchmark.json`` and ``/benchmark.csv``."""
    router = APIRouter(tags=["Benchmark"])

    @router.get("/benchmark.json", summary="The municipalities side by side (JSON)")
    def benchmark_json(request: Request, caller: CallerDep, store: StoreDep) -> Response:
        data, _ = _data(store, caller)
        return conditional(request, json_bytes(data), "application/json", internal=caller.internal,
                           max_age=max_age)

    @router.get("/benchmark.csv", summary="The municipalities side by side (CSV)")
    def benchmark_table(request: Request, caller: CallerDep, store: StoreDep) -> Response:
        data, _ = _data(store, caller)
        return conditional(request, benchmark_csv(data).encode("utf-8"), "text/csv; charset=utf-8",
                           internal=caller.internal, max_age=max_age,
                           extra={"Content-Disposition": 'attachment; filename="benchmark.csv"'})

    @router.get("/benchmark", summary="The municipalities side by side (Dutch page with bar charts)")
    def benchmark_page(request: Request, caller: CallerDep, store: StoreDep) -> Response:
        data, figures = _data(store, caller)
        page = _cached_page(json_bytes(data), tuple(figures), base_url(request))
        return conditional(request, page.encode("utf-8"), "text/html; charset=utf-8", internal=caller.internal,
                           max_age=max_age)

    return router
