"""Style routes: MapLibre style per layer, legends (JSON and PNG), QGIS ``.qml`` per downloadable file."""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from typing import Annotated, Any

import geopandas as gpd
from fastapi import APIRouter, Path, Query, Request, Response

from geo.errors import NotFoundError
from layers import catalog as cat
from services.access import Caller
from services.http import CallerDep, LayerId, StoreDep, add_layer_route, base_url, conditional, json_bytes
from services.store import CatalogStore
from styles import cool as cool_styles
from styles import green as green_styles
from styles import heat as heat_styles
from styles import vacancy as vacancy_styles
from styles.legend import legend_png
from styles.maplibre import layer_style
from styles.preview import PREVIEW_SIZE, vector_preview
from styles.qgis import raster_qml, vector_qml
from styles.vector import VectorRule, vector_legend, vector_rules
from tiles.prerender import render_image
from tiles.tms import WEB_MERCATOR_QUAD

# Vector styles of layers defined in their own style modules (registered once, here where styles are assembled).
green_styles.register()
cool_styles.register()
heat_styles.register_vector()
vacancy_styles.register()

#: Id of the catalog layer drawn under every other layer's style.
BASEMAP_LAYER = "basemap"
#: Zoom range of the initial view of a style.
MIN_VIEW_ZOOM, MAX_VIEW_ZOOM = 0, 18
#: Degrees of longitude a web-mercator tile spans at zoom 0.
WORLD_DEGREES = 360.0
OutputQ = Annotated[
    str | None, Query(pattern=r"^[A-Za-z0-9_-]{1,64}$", description="Raster output (default: the layer's legend).")
]
FileName = Annotated[str, Path(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", description="A file of the layer.")]
QML_MEDIA_TYPE = "application/xml"
#: Preview images kept in memory (one per layer version).
PREVIEW_CACHE_SIZE = 64


def _rules(store: CatalogStore, entry: cat.LayerEntry) -> list[VectorRule] | None:
    """Drawing rules of a layer's vector tiles, or None when it has none."""
    try:
        archive = store.archive(store.vector_archive_file(entry))
    except NotFoundError:
        return None
    meta = archive.metadata
    return vector_rules(entry.style_id, meta.get("vector_layers", []), meta.get("tilestats"))


def layer_legend(store: CatalogStore, entry: cat.LayerEntry, output: str | None = None) -> dict[str, Any]:
    """Legend data of a layer: of raster ``output`` when given, else of its main kind (vector tiles or raster)."""
    title = entry.title.get("nl", entry.id)
    if output is None and (entry.kind == "vector" or not store.raster_outputs(entry)):
        rules = _rules(store, entry)
        if rules is not None:
            return vector_legend(title, rules)
    outputs = store.raster_outputs(entry)
    if not outputs or (output is not None and output not in outputs):
        raise NotFoundError(f"layer {entry.id} has no legend for {output or 'its tiles'!r}")
    return store.raster_style(entry, output or outputs[0]).legend()


def _fit_zoom(bounds: list[float]) -> int:
    west, south, east, north = bounds
    span = max(east - west, (north - south) * 2, 1e-9)  # latitude spans count double at Dutch latitudes
    return max(MIN_VIEW_ZOOM, min(MAX_VIEW_ZOOM, math.floor(math.log2(WORLD_DEGREES / span))))


def maplibre_style(
    store: CatalogStore, entry: cat.LayerEntry, caller: Caller, base: str, *, versioned: bool = False
) -> dict[str, Any]:
    """The MapLibre style of a layer over the offline base map (when the catalog has one).

    With ``versioned`` the layer's own sources name its version (``/layers/{id}/v/{version}/...``),
    so the layer in the style of a versioned URL never changes. The base map is referenced
    by its unversioned TileJSON (a stable URL naming the base map's current tiles), so a
    versioned style never points to a base map version that is no longer kept; its base-map
    drawing rules follow the base map's current tile layers.
    """
    bounds = entry.bounds["EPSG:4326"]
    kwargs: dict[str, Any] = {}
    if entry.id != BASEMAP_LAYER:
        try:
            basemap = store.layer(BASEMAP_LAYER, caller)
            base_rules = _rules(store, basemap)
        except NotFoundError:
            base_rules = None
        if base_rules:
            kwargs["basemap_tilejson"] = f"{base}/layers/{BASEMAP_LAYER}/tilejson.json"
            kwargs["basemap_rules"] = base_rules
    rules = _rules(store, entry)
    if rules is not None:
        own = f"{base}/layers/{entry.id}/v/{entry.version}" if versioned else f"{base}/layers/{entry.id}"
        kwargs["vector_tilejson"] = f"{own}/tilejson.json"
        kwargs["rules"] = rules
    else:
        cog = store.raster_file(entry)
        archive = store.prerendered(entry, cog.output, WEB_MERCATOR_QUAD)
        kwargs["raster_tiles"] = (
            f"{base}/layers/{entry.id}/v/{entry.version}/tiles/{WEB_MERCATOR_QUAD}/{{z}}/{{x}}/{{y}}.png"
        )
        kwargs["raster_zooms"] = (0, archive.maxzoom if archive else entry.maxzoom)
        kwargs["attribution"] = entry.metadata.get("attribution", "")
    return layer_style(
        name=entry.title.get("nl", entry.id),
        layer_id=entry.id,
        bounds=bounds,
        zoom=_fit_zoom(bounds),
        metadata={"kaartlaag:layer": entry.id, "kaartlaag:version": entry.version},
        **kwargs,
    )


def file_qml(store: CatalogStore, entry: cat.LayerEntry, name: str) -> bytes:
    """QML for a downloadable data file of a layer (GeoParquet or COG)."""
    match = next((f for f in entry.files if f.name == name and f.format in ("parquet", "cog")), None)
    if match is None:
        raise NotFoundError(f"layer {entry.id} has no data file {name!r} to style")
    if match.format == "cog":
        return raster_qml(store.raster_style(entry, match.output))
    rules = [r for r in (_rules(store, entry) or []) if r.source_layer == match.output]
    if not rules:
        raise NotFoundError(f"layer {entry.id}: output {match.output!r} has no features to style")
    return vector_qml(rules)


def layer_preview(store: CatalogStore, entry: cat.LayerEntry) -> bytes:
    """PNG preview of a layer: its vector outputs drawn with its rules, else its first raster in the default style."""
    rules = _rules(store, entry)
    if rules is not None:
        wanted = {r.source_layer for r in rules}
        frames = {
            f.output: gpd.read_parquet(store.file_path(f))
            for f in entry.files
            if f.format == "parquet" and f.output in wanted
        }
        return vector_preview(frames, rules, entry.bounds[entry.crs])
    cog = store.raster_file(entry)
    reader = store.raster_reader(cog, WEB_MERCATOR_QUAD)
    image = reader.preview(max_size=PREVIEW_SIZE)
    return render_image(image, store.raster_style(entry, cog.output).colormap())


def style_router(max_age: int) -> APIRouter:
    """Routes for styles, legends, previews and QGIS styles (each also under ``/v/{version}``, immutable)."""
    router = APIRouter(tags=["Stijlen en legenda's"])
    previews: OrderedDict[tuple[str, str], bytes] = OrderedDict()
    lock = threading.Lock()
    png: dict[int | str, dict[str, Any]] = {200: {"content": {"image/png": {}}}}

    def preview(
        request: Request, layer_id: LayerId, version: str | None, caller: CallerDep, store: StoreDep
    ) -> Response:
        entry = store.layer_version(layer_id, version, caller)
        key = (entry.id, entry.version)
        body = previews.get(key)
        if body is None:
            body = layer_preview(store, entry)
            with lock:
                previews[key] = body
                while len(previews) > PREVIEW_CACHE_SIZE:
                    previews.popitem(last=False)
        return conditional(request, body, "image/png", entry=entry, versioned=version is not None, max_age=max_age)

    def style(request: Request, layer_id: LayerId, version: str | None, caller: CallerDep, store: StoreDep) -> Response:
        entry = store.layer_version(layer_id, version, caller)
        body = json_bytes(maplibre_style(store, entry, caller, base_url(request), versioned=version is not None))
        return conditional(
            request, body, "application/json", entry=entry, versioned=version is not None, max_age=max_age
        )

    def legend_json(
        request: Request,
        layer_id: LayerId,
        version: str | None,
        caller: CallerDep,
        store: StoreDep,
        output: OutputQ = None,
    ) -> Response:
        entry = store.layer_version(layer_id, version, caller)
        body = json_bytes(layer_legend(store, entry, output))
        return conditional(
            request, body, "application/json", entry=entry, versioned=version is not None, max_age=max_age
        )

    def legend_image(
        request: Request,
        layer_id: LayerId,
        version: str | None,
        caller: CallerDep,
        store: StoreDep,
        output: OutputQ = None,
    ) -> Response:
        entry = store.layer_version(layer_id, version, caller)
        body = legend_png(layer_legend(store, entry, output))
        return conditional(request, body, "image/png", entry=entry, versioned=version is not None, max_age=max_age)

    def qml(
        request: Request, layer_id: LayerId, version: str | None, name: FileName, caller: CallerDep, store: StoreDep
    ) -> Response:
        entry = store.layer_version(layer_id, version, caller)
        stem = name.rsplit(".", 1)[0]
        disposition = {"Content-Disposition": f'attachment; filename="{entry.id}-{entry.version}-{stem}.qml"'}
        return conditional(
            request,
            file_qml(store, entry, name),
            QML_MEDIA_TYPE,
            entry=entry,
            versioned=version is not None,
            max_age=max_age,
            extra=disposition,
        )

    add_layer_route(
        router,
        "/preview.png",
        preview,
        summary="Preview image of the whole layer",
        response_class=Response,
        responses=png,
    )
    add_layer_route(router, "/style.json", style, summary="MapLibre style (works offline: own sources only)")
    add_layer_route(router, "/legend.json", legend_json, summary="Legend (Dutch labels with units)")
    add_layer_route(router, "/legend.png", legend_image, summary="Legend image", response_class=Response, responses=png)
    add_layer_route(
        router,
        "/qml/{name}",
        qml,
        summary="QGIS style (.qml) for a downloadable file",
        response_class=Response,
        responses={200: {"content": {QML_MEDIA_TYPE: {}}}},
    )
    return router
