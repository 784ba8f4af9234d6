"""TiTiler's tiler factory, mounted so that it opens catalog layers by id only.

Routes under ``/titiler`` offer what the default tiles do not: custom rescaling
and colour maps, point values and statistics over a GeoJSON polygon. The
factory's ``path_dependency`` maps the ``layer`` (and optional ``output``) query
parameter to a COG of the catalog; a path or URL in the request is never opened
(TiTiler's own ``url`` parameter does not exist here). Internal layers need a key
like everywhere else. The reader hands out the store's per-thread rio-tiler
reader instead of opening the file per request.

Without ``colormap``, ``colormap_name``, ``rescale`` or ``color_formula`` a tile is
drawn in the layer's default style.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Query, Request
from morecantile import TileMatrixSet
from rasterio.errors import RasterioError, RasterioIOError
from rio_tiler.colormap import cmap as rio_colormaps
from rio_tiler.errors import PointOutsideBounds, RioTilerError
from rio_tiler.io import Reader
from titiler.core.dependencies import ColorMapParams, PartFeatureParams
from titiler.core.errors import DEFAULT_STATUS_CODES, BadRequestError, add_exception_handlers
from titiler.core.factory import TilerFactory

from layers import catalog as cat
from services.store import CatalogStore
from tiles.tms import WEB_MERCATOR_QUAD, tms_registry

#: Prefix of the TiTiler routes.
PREFIX = "/titiler"
LAYER_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{0,63}$"
OUTPUT_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
#: Query parameters that ask for a rendering other than the default style.
CUSTOM_RENDERING = ("colormap", "colormap_name", "rescale", "color_formula", "expression", "algorithm")
#: Largest image (pixels per side) a request may make TiTiler read or render: a polygon spanning the
#: globe or ``tilesize=100000`` would otherwise allocate terabytes.
MAX_IMAGE_SIZE = 4096
#: Largest tile buffer (pixels) a request may ask for.
MAX_BUFFER = 64
#: Default ``max_size`` of statistics over a polygon: polygons up to 1024 cells across are read at
#: full resolution (512 m at 0.5 m cells), larger ones on a coarser overview.
DEFAULT_FEATURE_SIZE = 1024
#: TiTiler's default coverage oversampling, and the largest side (cells) of the coverage grid
#: (image size x cover_scale) a request may cause (10240^2 bytes = 100 MB).
DEFAULT_COVER_SCALE = 10
MAX_COVERAGE_SIDE = 10240
#: Valid WGS84 coordinates (degrees), and the largest projected coordinate accepted (1e9 m is far
#: beyond any projected CRS's area of use).
MAX_LONGITUDE = 180.0
MAX_LATITUDE = 90.0
MAX_PROJECTED = 1e9
#: Distinct x (and y) values a geometry needs to have a width (height).
MIN_DISTINCT = 2
#: Query parameters holding a zoom level, and the deepest level of any served tile matrix set
#: (TiTiler's tile set routes fail with a server error on levels the set does not have).
ZOOM_PARAMETERS = ("minzoom", "maxzoom")
MAX_TILE_ZOOM = 24
#: Query parameters holding an image size in pixels.
SIZE_PARAMETERS = ("tilesize", "max_size", "width", "height")
#: The rio-tiler colour map names, as an enumeration in the OpenAPI document.
ColormapName = Annotated[  # type: ignore[valid-type]
    Literal[tuple(rio_colormaps.list())] | None,
    Query(description="Name of a rio-tiler colour map"),
]
#: TiTiler's error table, except its catch-all (unexpected errors stay 500 and are logged by Starlette).
TITILER_STATUS_CODES = {
    cls: code
    for cls, code in DEFAULT_STATUS_CODES.items()
    if cls not in (Exception, RasterioError, RasterioIOError, RioTilerError)
} | {PointOutsideBounds: 404}


@dataclass(frozen=True)
class LayerFile:
    """The COG a TiTiler request reads: a layer entry and one raster file of it."""

    entry: cat.LayerEntry
    file: cat.FileEntry


def check_image_sizes(request: Request) -> None:
    """Refuse (400) image sizes and buffers beyond ``MAX_IMAGE_SIZE`` / ``MAX_BUFFER`` before anything is read."""
    for name in SIZE_PARAMETERS:
        value = request.query_params.get(name)
        if value is not None and value.strip().isdigit() and int(value) > MAX_IMAGE_SIZE:
            raise BadRequestError(f"{name}={value}: at most {MAX_IMAGE_SIZE} pixels")
    for name in ZOOM_PARAMETERS:
        try:
            zoom = int(request.query_params.get(name, "0"))
        except ValueError:
            continue  # FastAPI's validation answers this with 422
        if not 0 <= zoom <= MAX_TILE_ZOOM:
            raise BadRequestError(f"{name}={zoom}: zoom levels run from 0 to {MAX_TILE_ZOOM}")
    sizes = [request.query_params.get(n, "") for n in ("max_size", "width", "height")]
    side = max([int(v) for v in sizes if v.strip().isdigit()] or [DEFAULT_FEATURE_SIZE])
    scale = request.query_params.get("cover_scale", "")
    if scale.strip().isdigit() and side * int(scale) > MAX_COVERAGE_SIDE:
        raise BadRequestError(f"cover_scale={scale} with images of {side} pixels: at most {MAX_COVERAGE_SIDE} in all")
    buffer = request.query_params.get("buffer")
    try:
        too_big = buffer is not None and float(buffer) > MAX_BUFFER
    except ValueError:
        too_big = False  # FastAPI's validation answers malformed numbers with 422
    if too_big:
        raise BadRequestError(f"buffer={buffer}: at most {MAX_BUFFER} pixels")
    _check_lon_lat(request)


async def check_geojson_body(request: Request) -> None:
    """Refuse (400) GeoJSON whose coordinates PROJ cannot transform (NaN, infinite, outside the globe).

    Coordinates are WGS84 degrees unless ``coord_crs`` names another CRS; then they
    must be finite and within ``MAX_PROJECTED`` (metres or feet of any projected CRS).
    """
    if request.method != "POST":
        return
    try:
        data = json.loads(await request.body() or b"null")
    except (ValueError, UnicodeDecodeError):
        return  # FastAPI's validation answers malformed JSON with 422
    crs = request.query_params.get("coord_crs", "").strip().upper()
    geographic = crs in ("", "EPSG:4326", "OGC:CRS84")
    positions = list(_positions(data))
    xs, ys = {x for x, _ in positions}, {y for _, y in positions}
    if positions and (len(xs) < MIN_DISTINCT or len(ys) < MIN_DISTINCT):
        # GDAL cannot build a grid over a shape without width or height ("Cannot invert geotransform").
        raise BadRequestError("the geometry has no area (all coordinates on one line or point)")
    for x, y in positions:
        if not (math.isfinite(x) and math.isfinite(y)):
            raise BadRequestError(f"coordinate ({x}, {y}) is not a finite number")
        if geographic and not (-MAX_LONGITUDE <= x <= MAX_LONGITUDE and -MAX_LATITUDE <= y <= MAX_LATITUDE):
            raise BadRequestError(f"coordinate ({x}, {y}) lies outside -180..180, -90..90 degrees")
        if not geographic and max(abs(x), abs(y)) > MAX_PROJECTED:
            raise BadRequestError(f"coordinate ({x}, {y}) lies outside +-{MAX_PROJECTED:g} in {crs}")


def _positions(node: Any) -> Iterator[tuple[float, float]]:
    """Every (x, y) position in a GeoJSON object (any nesting), as floats; other values are skipped."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "coordinates" or isinstance(value, dict | list):
                yield from _positions(value)
    elif isinstance(node, list):
        if len(node) >= 2 and all(isinstance(v, int | float) and not isinstance(v, bool) for v in node[:2]):
            yield float(node[0]), float(node[1])
        else:
            for item in node:
                yield from _positions(item)


def _check_lon_lat(request: Request) -> None:
    """Refuse (400) longitudes and latitudes outside the globe (PROJ would fail with a server error)."""
    if "coord_crs" in request.query_params:
        return
    for name, limit in (("lon", MAX_LONGITUDE), ("lat", MAX_LATITUDE)):
        try:
            value = float(request.path_params.get(name, "0"))
        except ValueError:
            continue  # FastAPI's validation answers this with 422
        if not -limit <= value <= limit:
            raise BadRequestError(f"{name}={value}: outside -{limit}..{limit} degrees")


@dataclass
class BoundedPartParams(PartFeatureParams):
    """TiTiler's part/feature options with a default ``max_size``: a polygon never reads more than that."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if not (self.width or self.height) and self.max_size is None:
            self.max_size = DEFAULT_FEATURE_SIZE


def no_algorithm() -> None:
    """TiTiler's post-processing algorithms are left out (not needed for catalog layers; and its
    dependency answers 500 to ``algorithm_params`` that are JSON but not an object)."""
    return None


class _Borrowed:
    """Context manager lending a cached reader to TiTiler without closing it afterwards."""

    def __init__(self, reader: Reader) -> None:
        self.reader = reader

    def __enter__(self) -> Reader:
        return self.reader

    def __exit__(self, *exc: object) -> None:
        return None


def mount_titiler(app: FastAPI, store: CatalogStore) -> TilerFactory:
    """Add the TiTiler routes for catalog layers to ``app`` under ``PREFIX``."""

    def layer_file(
        request: Request,
        layer: Annotated[str, Query(pattern=LAYER_ID_PATTERN, description="Layer id from the catalog.")],
        output: Annotated[
            str | None, Query(pattern=OUTPUT_PATTERN, description="Raster output (default: the first).")
        ] = None,
    ) -> LayerFile:
        entry = store.layer(layer, store.keys.caller_from_headers(request.headers))
        return LayerFile(entry, store.raster_file(entry, output))

    def reader(source: LayerFile, tms: TileMatrixSet | None = None, **_: Any) -> _Borrowed:
        return _Borrowed(store.raster_reader(source.file, str(tms.id) if tms is not None else WEB_MERCATOR_QUAD))

    # Dependencies as default values: the annotations are strings here, and a local function named
    # inside ``Annotated`` could not be resolved by FastAPI.
    def colormap(
        request: Request,
        source: LayerFile = Depends(layer_file),  # noqa: B008
        colormap_name: ColormapName = None,  # type: ignore[valid-type]
        colormap: Annotated[str | None, Query(description="JSON encoded custom colour map")] = None,
    ) -> Any:
        try:
            requested = ColorMapParams(colormap_name=colormap_name, colormap=colormap)
        except (TypeError, ValueError, KeyError, IndexError) as exc:
            # TiTiler's parser answers 500 to JSON that is not a colour map (e.g. ``[1]``).
            raise BadRequestError(f"colormap: not a colour map ({exc})") from None
        if requested is not None:
            return requested
        if any(name in request.query_params for name in CUSTOM_RENDERING):
            return None
        return store.raster_style(source.entry, source.file.output).colormap()

    factory = TilerFactory(
        reader=reader,  # type: ignore[arg-type]
        path_dependency=layer_file,
        colormap_dependency=colormap,
        img_part_dependency=BoundedPartParams,
        process_dependency=no_algorithm,
        supported_tms=tms_registry,
        router_prefix=PREFIX,
        add_preview=False,
        add_part=False,
        add_viewer=False,
        add_ogc_maps=False,
    )
    app.include_router(
        factory.router,
        prefix=PREFIX,
        tags=["Eigen weergave en analyse (TiTiler)"],
        dependencies=[Depends(check_image_sizes), Depends(check_geojson_body)],
    )
    add_exception_handlers(app, TITILER_STATUS_CODES)
    return factory
