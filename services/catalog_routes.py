"""Catalog routes: the JSON layer list, layer metadata, downloads, health.

Answers name layers by id and files by name; no file-system path ever appears.
"""

from __future__ import annotations

import os
import threading
import uuid
from pathlib import Path as FsPath
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response
from fastapi.responses import FileResponse

from geo.errors import NotFoundError
from layers import catalog as cat
from layers.export import export_layer
from services.http import CallerDep, LayerId, StoreDep, Version, add_layer_route, base_url, conditional, json_bytes
from services.store import CatalogStore
from services.tiles import access_headers
from tiles.tms import NETHERLANDS_RD_NEW_QUAD, TMS_IDS, WEB_MERCATOR_QUAD

FileName = Annotated[str, Path(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", description="A file of the layer.")]


def layer_links(entry: cat.LayerEntry, base: str, store: CatalogStore) -> dict[str, Any]:
    """Copy-paste URLs of a layer: tiles, TileJSON, WMTS, style, legend, QGIS styles, downloads."""
    root = f"{base}/layers/{entry.id}"
    links: dict[str, Any] = {"self": root, "tilejson": f"{root}/tilejson.json", "style": f"{root}/style.json"}
    if any(f.kind == "vector" and f.format == "pmtiles" for f in entry.files):
        links["tiles"] = f"{root}/tiles/{{z}}/{{x}}/{{y}}.mvt"
        links["pmtiles"] = f"{base}/layers/{entry.id}.pmtiles"
    if store.raster_outputs(entry):
        links["raster_tiles"] = {tms: f"{root}/tiles/{tms}/{{z}}/{{x}}/{{y}}.png" for tms in TMS_IDS}
        links["xyz"] = links["raster_tiles"][WEB_MERCATOR_QUAD]
        links["xyz_rd"] = links["raster_tiles"][NETHERLANDS_RD_NEW_QUAD]
        links["wmts"] = f"{base}/wmts/WMTSCapabilities.xml"
        links["titiler"] = f"{base}/titiler/info?layer={entry.id}"
    links["legend_png"] = f"{root}/legend.png"
    links["legend_json"] = f"{root}/legend.json"
    links["qml"] = {f.name: f"{root}/qml/{f.name}" for f in entry.files if f.format in ("parquet", "cog")}
    links["downloads"] = {f.name: f"{root}/download/{f.name}" for f in entry.files}
    if any(f.kind == "vector" and f.format == "parquet" for f in entry.files):
        links["geopackage"] = f"{root}/export.gpkg"
    links["versioned"] = f"{root}/v/{entry.version}"
    if any(f.format == "html" and f.kind == "metadata" for f in entry.files):  # the build report
        links["report"] = f"{root}/report.html"
    return links


def layer_summary(entry: cat.LayerEntry, base: str, store: CatalogStore) -> dict[str, Any]:
    """Public description of a layer: metadata and URLs, no file-system paths."""
    return {
        "id": entry.id,
        "title": entry.title,
        "description": entry.description,
        "kind": entry.kind,
        "version": entry.version,
        "built_at": entry.built_at,
        "access": entry.access,
        "style_id": entry.style_id,
        "bounds": entry.bounds,
        "crs": entry.crs,
        "minzoom": entry.minzoom,
        "maxzoom": entry.maxzoom,
        "parameters": entry.parameters,
        "references": entry.references,
        "attribution": entry.metadata.get("attribution", ""),
        "links": layer_links(entry, base, store),
    }


def layer_details(entry: cat.LayerEntry, base: str, store: CatalogStore) -> dict[str, Any]:
    """Everything ``/layers/{id}`` shows: summary, parameters, method metadata, inputs, kept versions."""
    return {
        **layer_summary(entry, base, store),
        "parameter_info": entry.parameter_info,
        "metadata": entry.metadata,
        "inputs": entry.inputs,
        "files": [f.model_dump(exclude={"path"}) for f in entry.files],
        "versions": [v.model_dump(exclude={"path"}) for v in entry.versions],
    }


def _download(
    store: CatalogStore, entry: cat.LayerEntry, name: str, *, versioned: bool, max_age: int
) -> FileResponse:
    match = next((f for f in entry.files if f.name == name), None)
    if match is None:
        raise NotFoundError(f"layer {entry.id} has no file {name!r}")
    headers = access_headers(entry.access, versioned=versioned, max_age=max_age)
    return FileResponse(
        store.file_path(match),
        media_type=match.media_type,
        filename=f"{entry.id}-{entry.version}-{name}",
        headers=headers,
    )


def geopackage(store: CatalogStore, entry: cat.LayerEntry, cache_dir: FsPath) -> FsPath:
    """The GeoPackage of a layer version (every vector output a GeoPackage layer), made once and cached."""
    target = cache_dir / entry.id / entry.version / f"{entry.id}.gpkg"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        # A unique temporary name, then an atomic rename: concurrent requests (or workers) never see half a file.
        tmp = target.with_name(f".{uuid.uuid4().hex}.gpkg")
        try:
            export_layer(store.root, entry.id, "gpkg", tmp, version=entry.version)
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
    return target


def catalog_router(max_age: int, cache_dir: FsPath) -> APIRouter:
    """Routes for the layer list, layer metadata, downloads, GeoPackage exports and health."""
    router = APIRouter(tags=["Catalogus"])
    export_lock = threading.Lock()

    @router.get("/layers/{layer_id}/export.gpkg", summary="The vector outputs as one GeoPackage")
    def export_gpkg(layer_id: LayerId, caller: CallerDep, store: StoreDep) -> FileResponse:
        entry = store.layer(layer_id, caller)
        with export_lock:
            path = geopackage(store, entry, cache_dir)
        return FileResponse(
            path,
            media_type="application/geopackage+sqlite3",
            filename=f"{entry.id}-{entry.version}.gpkg",
            headers=access_headers(entry.access, versioned=False, max_age=max_age),
        )

    @router.get("/layers", summary="All published layers (that the caller may see)")
    def list_layers(request: Request, caller: CallerDep, store: StoreDep) -> Response:
        base = base_url(request)
        body = json_bytes([layer_summary(e, base, store) for e in store.layers(caller)])
        return conditional(request, body, "application/json", internal=caller.internal, max_age=max_age)

    @router.get("/layers/{layer_id}", summary="Metadata of one layer")
    def get_layer(request: Request, layer_id: LayerId, caller: CallerDep, store: StoreDep) -> Response:
        entry = store.layer(layer_id, caller)
        body = json_bytes(layer_details(entry, base_url(request), store))
        return conditional(request, body, "application/json", entry=entry, max_age=max_age)

    @router.get("/layers/{layer_id}/v/{version}", summary="Metadata of a kept version (immutable)")
    def get_layer_version(
        request: Request, layer_id: LayerId, version: Version, caller: CallerDep, store: StoreDep
    ) -> Response:
        entry = store.layer_version(layer_id, version, caller)
        body = json_bytes(layer_details(entry, base_url(request), store))
        return conditional(request, body, "application/json", entry=entry, versioned=True, max_age=max_age)

    def download(
        layer_id: LayerId, version: str | None, name: FileName, caller: CallerDep, store: StoreDep
    ) -> FileResponse:
        entry = store.layer_version(layer_id, version, caller)
        return _download(store, entry, name, versioned=version is not None, max_age=max_age)

    add_layer_route(router, "/download/{name}", download, summary="Download a published file (range requests)")

    @router.get("/healthz", summary="Liveness and catalog status")
    def healthz(caller: CallerDep, store: StoreDep) -> dict[str, Any]:
        return {"status": "ok", "layers": len(store.layers(caller)), "updated_at": store.catalog().updated_at}

    return router
