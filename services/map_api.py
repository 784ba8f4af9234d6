"""What the DIY map (``/map``) needs beyond the tile API: vector layers as PNG tiles, identify, search.

* ``/map/api/tiles/{layer}/{TileMatrixSet}/{z}/{x}/{y}.png`` (and ``/map/api/tiles/{layer}/v/{version}/...``):
  a vector layer's published GeoParquet outputs drawn with its own map rules (``styles.vector``, the rules of
  its vector tiles and legend) into a transparent PNG tile, in ``WebMercatorQuad`` or
  ``NetherlandsRDNewQuad``. OpenLayers cannot reproject vector tiles, and the map's default view is RD New,
  so the map draws vector layers through this route in both tile matrix sets.
* ``/map/api/identify?layers=a,b&x=..&y=..``: raster values (with unit) and the attributes of the features
  under a point (RD New metres), Dutch labels; per layer the row of the buurt under the point where the
  layer publishes a buurt table (``neighbourhoods``).
* ``/map/api/search?q=..``: addresses (postcode + house number), streets and buurten from the published
  inputs (``layers.inputs_store``). Addresses need the optional columns ``postcode``, ``house_number`` and
  ``street`` of the canonical ``addresses`` (BAG nummeraanduiding/openbare ruimte).

Every route answers only for layers the caller may see (``services.access``): an internal layer without a
key is an unknown layer (404), as everywhere.
"""

from __future__ import annotations

import json
import math
import re
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Annotated, Any

import geopandas as gpd
import morecantile
import numpy as np
import pandas as pd
import rasterio
import shapely
from fastapi import APIRouter, Query, Request, Response
from pyproj import Transformer
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from geo.edits import apply_edits
from geo.edits_model import parse_edits
from geo.errors import InputError, InputTooLargeError, NotFoundError
from geo.site import site_from_bag, site_from_file, site_from_geojson
from layers import catalog as cat
from layers.inputs_store import PublishedInputs
from services.access import Caller
from services.http import (
    LAYER_ID_PATTERN,
    CallerDep,
    LayerId,
    StoreDep,
    Version,
    conditional,
    json_body,
    json_bytes,
)
from services.map_labels import attribute_label, format_value, output_label
from services.store import CatalogStore
from services.tiles import cache_headers, content_etag, etag_matches
from styles.preview import draw_rules, png_bytes
from styles.vector import VectorRule, vector_rules
from tiles.tms import TMS_IDS

#: Tile side in pixels.
TILE_PX = 256
#: Published vector outputs held in memory (per file and CRS).
FRAME_CACHE_SIZE = 48
#: Identify tolerance around the click, in screen pixels (times the map resolution the client sends).
IDENTIFY_TOLERANCE_PX = 4.0
#: Largest identify tolerance (m), whatever the client sends.
MAX_TOLERANCE_M = 50.0
#: Results of one search, at most.
MAX_RESULTS = 10
#: Shortest search text.
MIN_QUERY = 2
#: A Dutch postcode (``7001 AB``), optionally followed by a house number and letter/addition.
POSTCODE = re.compile(r"^\s*(\d{4})\s*([A-Za-z]{2})\s*(\d+)?\s*([A-Za-z0-9-]*)\s*$")
#: A street name followed by a house number (``Kerkstraat 12a``).
STREET_NUMBER = re.compile(r"^\s*(.*?\D)\s+(\d+)\s*([A-Za-z0-9-]*)\s*$")
#: Published inputs a scenario edits (``geo.edits``), read over the site window for the map's drawing.
EDITED_SOURCES = ("landcover", "buildings", "trees", "addresses", "dsm", "dtm", "vegetation")
#: Margin (m) of that window around the site: register trees whose crowns reach into the site.
EDIT_MARGIN_M = 30.0
#: The buurt table's output name.
BUURT_OUTPUT = "neighbourhoods"
_RD = "EPSG:28992"
#: Positions within this many units of 0 are read as degrees (an RD New position is never that small).
LONLAT_LIMIT = 180.0
_TO_WGS84 = Transformer.from_crs(_RD, "EPSG:4326", always_xy=True)


class _Frames:
    """Published GeoParquet outputs, read once per file and CRS (bounded LRU), with a spatial index."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cache: OrderedDict[tuple[Path, str], gpd.GeoDataFrame] = OrderedDict()

    def get(self, path: Path, crs: str) -> gpd.GeoDataFrame:
        key = (path, crs)
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit
        frame = gpd.read_parquet(path)
        if frame.crs is not None and frame.crs.to_string() != crs:
            frame = frame.to_crs(crs)
        frame.sindex  # noqa: B018 - build the index once, outside any request's hot loop
        with self._lock:
            self._cache[key] = frame
            while len(self._cache) > FRAME_CACHE_SIZE:
                self._cache.popitem(last=False)
        return frame


def _rules(store: CatalogStore, entry: cat.LayerEntry) -> list[VectorRule]:
    """The map rules of a layer's vector outputs (those of its vector tiles and legend)."""
    archive = store.archive(store.vector_archive_file(entry))
    meta = archive.metadata
    return vector_rules(entry.style_id, meta.get("vector_layers", []), meta.get("tilestats"))


def _vector_files(entry: cat.LayerEntry) -> dict[str, cat.FileEntry]:
    return {f.output: f for f in entry.files if f.kind == "vector" and f.format == "parquet"}


def _clip(frame: gpd.GeoDataFrame, box: shapely.Geometry) -> gpd.GeoDataFrame:
    return frame.iloc[frame.sindex.query(box)]


def render_tile(store: CatalogStore, frames: _Frames, entry: cat.LayerEntry, tms_id: str, z: int, x: int,
                y: int) -> bytes | None:
    """PNG tile of a vector layer in ``tms_id`` (None when nothing lies in the tile)."""
    tms = store.tms(tms_id)
    if not 0 <= z <= tms.maxzoom or not (0 <= x < tms.matrix(z).matrixWidth and 0 <= y < tms.matrix(z).matrixHeight):
        raise NotFoundError(f"tile {z}/{x}/{y} is not in {tms_id}")
    bounds = tms.xy_bounds(morecantile.Tile(x, y, z))
    crs = tms.crs.to_epsg()
    crs_name = f"EPSG:{crs}"
    box = shapely.box(*bounds)
    rules = _rules(store, entry)
    files = _vector_files(entry)
    drawn = {}
    for output in {r.source_layer for r in rules}:
        if output in files:
            part = _clip(frames.get(store.file_path(files[output]), crs_name), box)
            if not part.empty:
                drawn[output] = part
    if not drawn:
        return None
    canvas = draw_rules(drawn, rules, tuple(bounds), (TILE_PX, TILE_PX), background=None)
    if not canvas[..., 3].any():
        return None
    return png_bytes(canvas)


def _raster_rows(store: CatalogStore, entry: cat.LayerEntry, x: float, y: float) -> list[dict[str, Any]]:
    rows = []
    for output in store.raster_outputs(entry):
        cog = store.raster_file(entry, output)
        style = store.raster_style(entry, output)
        with rasterio.open(store.file_path(cog)) as src:
            left, bottom, right, top = src.bounds
            if not (left <= x < right and bottom <= y < top):
                continue
            value = next(src.sample([(x, y)], masked=True))[0]
        label = style.title or output
        row: dict[str, Any] = {"output": output, "label": label, "value": None, "text": style.nodata_label,
                               "unit": style.unit}
        if not np.ma.is_masked(value):
            number = float(value)
            row["value"] = number
            row["text"] = format_value(number, style.unit)
            if style.kind == "classified":
                names = {int(c.value): c.label for c in style.classes if c.value is not None}
                row["text"] = names.get(int(number), row["text"])
        rows.append(row)
    return rows


def _attributes(row: pd.Series) -> list[dict[str, Any]]:
    out = []
    for key, value in row.items():
        if key == "geometry":
            continue
        if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
            continue
        if isinstance(value, np.generic):
            value = value.item()
        label, unit = attribute_label(str(key))
        out.append({"key": str(key), "label": label, "value": value, "text": format_value(value, unit),
                    "unit": unit})
    return out


def identify_layer(store: CatalogStore, frames: _Frames, entry: cat.LayerEntry, x: float, y: float,
                   tolerance_m: float) -> dict[str, Any]:
    """What a click at (x, y) (RD New, m) hits in one layer: raster values, features, the buurt row."""
    point = shapely.Point(x, y)
    near = point.buffer(tolerance_m)
    answer: dict[str, Any] = {"id": entry.id, "title": entry.title.get("nl", entry.id),
                              "values": _raster_rows(store, entry, x, y), "features": [], "buurt": None}
    for output, file in _vector_files(entry).items():
        frame = frames.get(store.file_path(file), _RD)
        hits = _clip(frame, near)
        if hits.empty:
            continue
        if output == BUURT_OUTPUT:
            inside = hits[hits.geometry.contains(point)]
            if not inside.empty:
                answer["buurt"] = {"attributes": _attributes(inside.iloc[0])}
            continue
        polygons = hits.geometry.geom_type.isin(["Polygon", "MultiPolygon"])
        inside = hits[~polygons | hits.geometry.contains(point)]
        if inside.empty:
            continue
        best = inside.iloc[int(np.argmin(inside.geometry.distance(point).to_numpy()))]
        feature: dict[str, Any] = {"output": output, "label": output_label(output), "attributes": _attributes(best)}
        if output == "buildings" and "id" in best:
            feature["bag_id"] = str(best["id"])
        answer["features"].append(feature)
    return answer


def _place(label: str, kind: str, geom: shapely.Geometry) -> dict[str, Any]:
    minx, miny, maxx, maxy = geom.bounds
    c = geom.centroid if geom.geom_type != "Point" else geom
    lon, lat = _TO_WGS84.transform(c.x, c.y)
    return {"label": label, "kind": kind, "x": round(c.x, 2), "y": round(c.y, 2), "lon": lon, "lat": lat,
            "bbox": [round(v, 2) for v in (minx, miny, maxx, maxy)]}


def _text(value: object) -> str:
    """A text column's value, empty for a missing one (None, NaN, pd.NA)."""
    return value if isinstance(value, str) else ""


def _address_label(row: pd.Series) -> str:
    """``Kosterstraat 4a-2, 6981CH`` (parts the address lacks are left out)."""
    number = f"{int(row['house_number'])}{_text(row.get('house_letter'))}"
    if _text(row.get("house_number_addition")):
        number += f"-{row['house_number_addition']}"
    street = _text(row.get("street"))
    label = f"{street} {number}".strip()
    postcode = _text(row.get("postcode"))
    return f"{label}, {postcode}" if postcode else label


def _has_address_columns(addresses: pd.DataFrame) -> bool:
    return {"postcode", "house_number"} <= set(addresses.columns) and bool(addresses["postcode"].notna().any())


def _frame(inputs: PublishedInputs, name: str) -> gpd.GeoDataFrame:
    """A published vector input (the search reads only vectors)."""
    frame = inputs.load(name)
    if not isinstance(frame, gpd.GeoDataFrame):
        raise NotFoundError(f"the published input {name!r} is not a vector source")
    return frame


def search_places(inputs: PublishedInputs, query: str) -> dict[str, Any]:
    """Addresses, streets and buurten matching ``query`` (case-insensitive), at most ``MAX_RESULTS``."""
    q = query.strip()
    if len(q) < MIN_QUERY:
        raise InputError(f"q: give at least {MIN_QUERY} characters")
    results: list[dict[str, Any]] = []
    notes: list[str] = []
    available = inputs.available()
    addresses = _frame(inputs, "addresses") if "addresses" in available else None
    if addresses is not None and not _has_address_columns(addresses):
        notes.append("De gepubliceerde adressen hebben geen postcode en huisnummer; zoeken op adres kan niet.")
        addresses = None
    if addresses is not None:
        m = POSTCODE.match(q)
        s = STREET_NUMBER.match(q)
        hit = None
        if m:
            pc = (m.group(1) + m.group(2)).upper()
            codes = addresses["postcode"].astype("string").str.replace(" ", "", regex=False).str.upper()
            hit = addresses[codes == pc]
            if m.group(3):
                hit = hit[hit["house_number"].astype("Int64") == int(m.group(3))]
        elif s and "street" in addresses.columns:
            names = addresses["street"].astype("string").str.lower()
            hit = addresses[(names == s.group(1).strip().lower())
                            & (addresses["house_number"].astype("Int64") == int(s.group(2)))]
        if hit is not None:
            results += [_place(_address_label(r), "adres", r.geometry) for _, r in hit.head(MAX_RESULTS).iterrows()]
        if "street" in addresses.columns and not m:
            names = addresses["street"].astype("string")
            match = addresses[names.str.lower().str.contains(re.escape(q.lower()), na=False)]
            for name, group in list(match.groupby("street"))[:MAX_RESULTS]:
                results.append(_place(f"{name} (straat)", "straat", shapely.MultiPoint(list(group.geometry.values))
                                      .envelope))
    if "neighbourhoods" in available:
        buurten = _frame(inputs, "neighbourhoods")
        match = buurten[buurten["name"].astype("string").str.lower().str.contains(re.escape(q.lower()), na=False)]
        results += [_place(f"{r['name']} (buurt {r['code']})", "buurt", r.geometry) for _, r in match.iterrows()]
    return {"query": q, "results": results[:MAX_RESULTS], "notes": notes}


def map_api_router(catalog_dir: Path, max_age: int) -> APIRouter:
    """The map's own routes (tiles of vector layers, identify, search)."""
    router = APIRouter(prefix="/map/api", tags=["Kaart"])
    frames = _Frames()

    def tile(request: Request, store: CatalogStore, caller: Caller, layer_id: str, version: str | None,
             tms_id: str, z: int, x: int, y: int) -> Response:
        if tms_id not in TMS_IDS:
            raise NotFoundError(f"unknown tile matrix set {tms_id!r}; known: {', '.join(TMS_IDS)}")
        entry = store.layer_version(layer_id, version, caller)
        body = render_tile(store, frames, entry, tms_id, z, x, y)
        if body is None:
            return Response(status_code=204, headers=cache_headers(entry, '"empty"', versioned=version is not None,
                                                                    max_age=max_age))
        etag = content_etag(body)
        headers = cache_headers(entry, etag, versioned=version is not None, max_age=max_age)
        if etag_matches(request.headers.get("if-none-match"), etag):
            return Response(status_code=304, headers=headers)
        return Response(body, media_type="image/png", headers=headers)

    @router.get("/tiles/{layer_id}/{tms_id}/{z}/{x}/{y}.png", summary="A vector layer drawn as a PNG tile")
    def vector_tile(request: Request, store: StoreDep, caller: CallerDep, layer_id: LayerId, tms_id: str, z: int,
                    x: int, y: int) -> Response:
        return tile(request, store, caller, layer_id, None, tms_id, z, x, y)

    @router.get("/tiles/{layer_id}/v/{version}/{tms_id}/{z}/{x}/{y}.png",
                summary="A vector layer drawn as a PNG tile, of a kept version (immutable)")
    def vector_tile_version(request: Request, store: StoreDep, caller: CallerDep, layer_id: LayerId,
                            version: Version, tms_id: str, z: int, x: int, y: int) -> Response:
        return tile(request, store, caller, layer_id, version, tms_id, z, x, y)

    @router.get("/identify", summary="Values and attributes under a point (RD New)")
    def identify(
        request: Request,
        store: StoreDep,
        caller: CallerDep,
        layers: Annotated[str, Query(description="Comma-separated layer ids (optionally id@version).")],
        x: Annotated[float, Query(description="RD New x (m).")],
        y: Annotated[float, Query(description="RD New y (m).")],
        resolution: Annotated[float, Query(gt=0, description="Map resolution (m per pixel).")] = 1.0,
    ) -> Response:
        tolerance = min(MAX_TOLERANCE_M, IDENTIFY_TOLERANCE_PX * resolution)
        found = []
        for item in [p for p in layers.split(",") if p][:16]:
            layer_id, _, version = item.partition("@")
            if not re.match(LAYER_ID_PATTERN, layer_id):
                raise InputError(f"layers: {layer_id!r} is not a layer id")
            entry = store.layer_version(layer_id, version or None, caller)
            found.append(identify_layer(store, frames, entry, x, y, tolerance))
        lon, lat = _TO_WGS84.transform(x, y)
        body = {"x": x, "y": y, "lon": lon, "lat": lat, "layers": found}
        return conditional(request, json_bytes(body), "application/json", internal=caller.internal, max_age=max_age)

    @router.get("/search", summary="Find an address (postcode + house number), a street or a buurt")
    def search(request: Request, caller: CallerDep,
               q: Annotated[str, Query(max_length=100, description="Search text.")]) -> Response:
        inputs = PublishedInputs(catalog_dir)
        return conditional(request, json_bytes(search_places(inputs, q)), "application/json",
                           internal=caller.internal, max_age=max_age)

    @router.post("/site", summary="The checked site of an upload or a BAG id, as GeoJSON in RD New")
    async def site(request: Request) -> Response:
        """The site ``POST /assess`` would assess, for the map to draw and keep in its link.

        Multipart with a GeoPackage, zipped shapefile or GeoJSON in ``file``, or JSON ``{"bag_id": "..."}``.
        The checks (and their 400 messages) are those of ``POST /assess`` (``geo.site``).
        """
        limits = request.app.state.settings.limits
        inputs = PublishedInputs(catalog_dir)
        common = {"region_boundary": inputs.boundary, "region_name": inputs.name}
        if request.headers.get("content-type", "").startswith("multipart/form-data"):
            form = await request.form()
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise InputError("file: expected a GeoPackage, zipped shapefile or GeoJSON upload")
            data = await upload.read(limits.assess_max_upload_bytes + 1)
            if len(data) > limits.assess_max_upload_bytes:
                raise InputTooLargeError(f"file: larger than {limits.assess_max_upload_bytes} bytes")
            name = str(upload.filename or "upload")
            if name.lower().endswith((".geojson", ".json")):
                geometry, crs = _geojson_text(data, name)
                checked = site_from_geojson(geometry, crs, inputs.crs, limits.site_limits(), None, **common)
            else:
                checked = site_from_file(data, name, inputs.crs, limits.site_limits(), None, **common)
        else:
            body = await json_body(request, limits.assess_max_upload_bytes)
            if not isinstance(body, dict) or not body.get("bag_id"):
                raise InputError("body: expected {\"bag_id\": \"...\"} or a multipart upload in file")
            if "buildings" not in inputs.available():
                raise InputError("bag_id: this catalog publishes no buildings to look the id up in")
            addresses = inputs.load("addresses") if "addresses" in inputs.available() else None
            checked = site_from_bag(str(body["bag_id"]), inputs.load("buildings"), addresses, limits.site_limits(),
                                    None, **common)
        answer = {"type": "Feature", "properties": {"origin": checked.origin, "warnings": list(checked.warnings),
                                                    "area_m2": round(float(checked.geometry.area), 1)},
                  "geometry": shapely.geometry.mapping(checked.geometry), "crs": _RD}
        return Response(json_bytes(answer), media_type="application/json", headers={"Cache-Control": "no-store"})

    @router.post("/edits", summary="What a scenario changes inside the site, as GeoJSON for the map (RD New)")
    async def edits(request: Request) -> Response:
        """``{"geometry": site, "crs": ..., "edits": [...]}``: the drawn changes of ``geo.edits.apply_edits``.

        ``POST /assess`` answers figures only; the map draws the scenario from this: ``unpaved`` pieces, new
        ``crowns``, ``buildings_added``, ``buildings_removed`` and ``trees_removed``, each a FeatureCollection.
        The edits are applied to the published inputs of the site window, as the assessment applies them.
        """
        limits = request.app.state.settings.limits
        body = await json_body(request, limits.assess_max_upload_bytes)
        if not isinstance(body, dict):
            raise InputError("body: expected a JSON object with geometry and edits")
        inputs = PublishedInputs(catalog_dir)
        checked = site_from_geojson(body.get("geometry"), body.get("crs"), inputs.crs, limits.site_limits(), None,
                                    region_boundary=inputs.boundary, region_name=inputs.name)
        parsed = parse_edits(body.get("edits") or [], crs=body.get("crs"), region_crs=inputs.crs)
        minx, miny, maxx, maxy = checked.geometry.bounds
        window = (minx - EDIT_MARGIN_M, miny - EDIT_MARGIN_M, maxx + EDIT_MARGIN_M, maxy + EDIT_MARGIN_M)
        sources = {name: inputs.load(name, window) for name in EDITED_SOURCES if name in inputs.available()}
        result = await run_in_threadpool(apply_edits, parsed, sources, checked.geometry)
        answer = {kind: json.loads(frame.to_crs(_RD).to_json(drop_id=True)) if len(frame) else
                  {"type": "FeatureCollection", "features": []} for kind, frame in result.drawn.items()}
        return Response(json_bytes(answer), media_type="application/json", headers={"Cache-Control": "no-store"})

    return router


def _geojson_text(data: bytes, name: str) -> tuple[Any, str | None]:
    """The JSON of an uploaded GeoJSON file and its CRS.

    The CRS is the legacy ``crs`` member when there is one (None: ``geo.site`` reads it); otherwise RFC 7946
    says WGS 84, unless the first position is clearly not longitude/latitude (an RD New export without the
    member), which is then RD New.
    """
    try:
        obj = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{name}: not a GeoJSON file ({exc})") from None
    if isinstance(obj, dict) and "crs" in obj:
        return obj, None
    first = _first_position(obj)
    if first is not None and abs(first[0]) <= LONLAT_LIMIT and abs(first[1]) <= LONLAT_LIMIT:
        return obj, "EPSG:4326"
    return obj, _RD


def _first_position(obj: Any) -> tuple[float, float] | None:
    """The first coordinate pair anywhere in a GeoJSON object (None if there is none)."""
    if isinstance(obj, dict):
        for key in ("coordinates", "geometry", "features"):
            if key in obj:
                return _first_position(obj[key])
        return None
    if isinstance(obj, list) and obj:
        if len(obj) >= 2 and all(isinstance(v, int | float) for v in obj[:2]):
            return float(obj[0]), float(obj[1])
        return _first_position(obj[0])
    return None
