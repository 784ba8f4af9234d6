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

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Query, Request
from morecantile import TileMatrixSet
from rio_tiler.colormap import cmap as rio_colormaps
from rio_tiler.io import Reader
from titiler.core.dependencies import PartFeatureParams
from titiler.core.factory import TilerFactory

from layers import catalog as cat
from services.errors import PayloadTooLargeError
from services.guard import check_deadline
from services.limits import RequestLimits
from services.request_checks import RasterFacts, check_query, check_zoom, parse_colormap
from services.request_geometry import check_geojson, check_position
from services.store import CatalogStore
from tiles.tms import WEB_MERCATOR_QUAD, tms_registry

#: Prefix of the TiTiler routes.
PREFIX = "/titiler"
LAYER_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{0,63}$"
OUTPUT_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
#: Query parameters that ask for a rendering other than the default style.
CUSTOM_RENDERING = ("colormap", "colormap_name", "rescale", "color_formula", "expression", "algorithm")
#: Query parameters holding a zoom level of the tile matrix set in the path.
ZOOM_PARAMETERS = ("minzoom", "maxzoom")
#: Reader methods that read the raster: each checks the request's time budget before and after.
READ_METHODS = frozenset({"tile", "part", "feature", "point", "preview", "statistics", "info", "tile_exists"})
#: The rio-tiler colour map names, as an enumeration in the OpenAPI document.
ColormapName = Annotated[  # type: ignore[valid-type]
    Literal[tuple(rio_colormaps.list())] | None,
    Query(description="Name of a rio-tiler colour map"),
]


@dataclass(frozen=True)
class LayerFile:
    """The COG a TiTiler request reads: a layer entry and one raster file of it."""

    entry: cat.LayerEntry
    file: cat.FileEntry


def bounded_part_params(default_size: int) -> type[PartFeatureParams]:
    """TiTiler's part/feature options with a default ``max_size``: a polygon never reads more than that."""

    @dataclass
    class BoundedPartParams(PartFeatureParams):
        def __post_init__(self) -> None:
            super().__post_init__()
            if not (self.width or self.height) and self.max_size is None:
                self.max_size = default_size

    return BoundedPartParams


def no_algorithm() -> None:
    """TiTiler's post-processing algorithms are left out (not needed for catalog layers; and its
    dependency answers 500 to ``algorithm_params`` that are JSON but not an object)."""
    return None


class BudgetedReader:
    """A cached reader lent to TiTiler: not closed afterwards, and every read checks the time budget.

    The checks before and after each read (``services.guard.check_deadline``) cancel a
    request that loops over many reads (statistics over many polygons) at the next read
    past its budget, instead of letting it run on after the client has gone.
    """

    def __init__(self, reader: Reader) -> None:
        self._reader = reader

    def __enter__(self) -> BudgetedReader:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._reader, name)
        if name not in READ_METHODS or not callable(attr):
            return attr

        def read(*args: Any, **kwargs: Any) -> Any:
            check_deadline()
            result = attr(*args, **kwargs)
            check_deadline()
            return result

        return read


def _whole_numbers(*values: Any) -> tuple[int, ...] | None:
    """The path values as integers, or None when one is not an integer."""
    try:
        return tuple(int(v) for v in values)
    except (TypeError, ValueError):
        return None


def _query_lists(request: Request) -> dict[str, list[str]]:
    return {name: request.query_params.getlist(name) for name in request.query_params}


async def _limited_body(request: Request, limit: int) -> bytes:
    """The request body, refused (413) beyond ``limit`` bytes without reading more than that."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLargeError(f"body: at most {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLargeError(f"body: at most {limit} bytes")
        chunks.append(chunk)
    body = b"".join(chunks)
    request._body = body  # Starlette's cache of the body: FastAPI parses it from there
    return body


def mount_titiler(app: FastAPI, store: CatalogStore, limits: RequestLimits) -> TilerFactory:
    """Add the TiTiler routes for catalog layers to ``app`` under ``PREFIX``.

    Every request is checked (``services.request_checks``) against ``limits`` and the
    raster it reads before TiTiler sees it. TiTiler's and rio-tiler's errors are answered by the
    handlers of ``services.errors.add_exception_handlers`` (the one table, ``STATUS_CODES``).
    """
    facts: dict[str, RasterFacts] = {}

    def layer_file(
        request: Request,
        layer: Annotated[str, Query(pattern=LAYER_ID_PATTERN, description="Layer id from the catalog.")],
        output: Annotated[
            str | None, Query(pattern=OUTPUT_PATTERN, description="Raster output (default: the first).")
        ] = None,
    ) -> LayerFile:
        entry = store.layer(layer, store.keys.caller_from_headers(request.headers))
        return LayerFile(entry, store.raster_file(entry, output))

    def raster_facts(source: LayerFile) -> RasterFacts:
        hit = facts.get(source.file.path)
        if hit is None:
            dataset = store.raster_reader(source.file, WEB_MERCATOR_QUAD).dataset
            assert dataset is not None  # a reader opens its dataset when it is made
            hit = RasterFacts(bands=dataset.count, dtype=str(dataset.dtypes[0]), crs=dataset.crs.to_string())
            facts[source.file.path] = hit
        return hit

    async def check_request(request: Request, source: LayerFile = Depends(layer_file)) -> None:  # noqa: B008
        raster = raster_facts(source)
        query = _query_lists(request)
        check_query(query, raster, limits)
        path = request.path_params
        tms_id = path.get("tileMatrixSetId")
        if tms_id is not None:
            tms = store.tms(str(tms_id))
            for name in ZOOM_PARAMETERS:
                for raw in query.get(name, []):
                    check_zoom(name, raw, tms.minzoom, tms.maxzoom)
            address = _whole_numbers(path.get("z"), path.get("x"), path.get("y")) if "z" in path else None
            if address is not None:  # (FastAPI's validation answers unparsable ones with 422)
                request.app.state.tiles.check_tile_address(str(tms_id), *address)
        coord_crs = request.query_params.get("coord_crs")
        if "lon" in path:
            try:
                lon, lat = float(path["lon"]), float(path["lat"])
            except ValueError:
                return  # FastAPI's validation answers this with 422
            check_position(lon, lat, coord_crs, "point")
        if request.method == "POST":
            check_geojson(await _limited_body(request, limits.max_body_bytes), coord_crs, raster.crs, limits)

    def reader(source: LayerFile, tms: TileMatrixSet | None = None, **_: Any) -> BudgetedReader:
        return BudgetedReader(store.raster_reader(source.file, str(tms.id) if tms is not None else WEB_MERCATOR_QUAD))

    # Dependencies as default values: the annotations are strings here, and a local function named
    # inside ``Annotated`` could not be resolved by FastAPI.
    def colormap(
        request: Request,
        source: LayerFile = Depends(layer_file),  # noqa: B008
        colormap_name: ColormapName = None,  # type: ignore[valid-type]
        colormap: Annotated[str | None, Query(description="JSON encoded custom colour map")] = None,
    ) -> Any:
        if colormap_name:
            return rio_colormaps.get(colormap_name)
        if colormap:
            return parse_colormap(colormap)
        if any(name in request.query_params for name in CUSTOM_RENDERING):
            return None
        return store.raster_style(source.entry, source.file.output).colormap()

    factory = TilerFactory(
        reader=reader,  # type: ignore[arg-type]
        path_dependency=layer_file,
        colormap_dependency=colormap,
        img_part_dependency=bounded_part_params(limits.default_feature_size),
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
        dependencies=[Depends(check_request)],
    )
    return factory

