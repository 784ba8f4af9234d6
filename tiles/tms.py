"""Tile matrix sets kaartlaag publishes in: WebMercatorQuad and NetherlandsRDNewQuad.

``WebMercatorQuad`` (EPSG:3857) is morecantile's copy of the OGC definition and is
what web clients and PMTiles archives use. ``NetherlandsRDNewQuad`` (EPSG:28992)
is the Dutch national tiling scheme served by PDOK and described in Geonovum's
"Praktijkrichtlijn vector tiling": origin (-285401.92, 903401.92) at the top-left,
256 x 256 pixel tiles, a cell size of 3440.64 m at level 0 halving at each level
down to level 16 (5.25 cm). Its OGC TileMatrixSet 2.0 document is the data file
``tiles/tms/NetherlandsRDNewQuad.json`` and is validated with morecantile's
pydantic ``TileMatrixSet`` model when this module is imported.

The registry is a morecantile ``TileMatrixSets`` holding only these two sets (so a
tile service given ``tms_registry`` offers exactly what kaartlaag tests); its
mapping is read-only and ``register`` returns a new registry, refusing an id that
is already known unless ``overwrite=True``.
"""

from __future__ import annotations

from pathlib import Path
from types import MappingProxyType
from typing import cast

import morecantile
from morecantile import TileMatrixSet, TileMatrixSets
from morecantile.errors import InvalidIdentifier

from geo.errors import NotFoundError

#: Folder holding the OGC TileMatrixSet 2.0 JSON documents shipped with kaartlaag.
TMS_DIR = Path(__file__).resolve().parent / "tms"

#: Identifier of the OGC/Google web tiling scheme (EPSG:3857).
WEB_MERCATOR_QUAD = "WebMercatorQuad"
#: Identifier of the Dutch national tiling scheme (EPSG:28992), as PDOK names it.
NETHERLANDS_RD_NEW_QUAD = "NetherlandsRDNewQuad"


def load_tms(path: str | Path) -> TileMatrixSet:
    """Read and validate an OGC TileMatrixSet 2.0 JSON document.

    Args:
        path: the JSON file.

    Returns:
        The validated tile matrix set.

    Raises:
        NotFoundError: when the file does not exist.
        pydantic.ValidationError: when the document is not a valid TileMatrixSet 2.0.
    """
    path = Path(path)
    if not path.is_file():
        raise NotFoundError(f"{path}: tile matrix set document not found")
    return TileMatrixSet.model_validate_json(path.read_text(encoding="utf-8"))


def _build_registry() -> TileMatrixSets:
    sets = {
        WEB_MERCATOR_QUAD: morecantile.tms.get(WEB_MERCATOR_QUAD),
        NETHERLANDS_RD_NEW_QUAD: load_tms(TMS_DIR / f"{NETHERLANDS_RD_NEW_QUAD}.json"),
    }
    # Start from an empty registry so only the sets kaartlaag supports are offered;
    # the read-only mapping keeps a shared module-level registry from being edited in place.
    registry = TileMatrixSets({}).register(sets, overwrite=False)
    # morecantile annotates the holder as dict but only reads it once every entry is a loaded set.
    return TileMatrixSets(cast(dict, MappingProxyType(dict(registry.tilematrixsets))))


#: The tile matrix sets kaartlaag serves, as a morecantile registry (e.g. for TiTiler's ``supported_tms``).
tms_registry: TileMatrixSets = _build_registry()

#: Identifiers of the registered tile matrix sets.
TMS_IDS: tuple[str, ...] = tuple(tms_registry.list())


def get_tms(identifier: str) -> TileMatrixSet:
    """Return the tile matrix set called ``identifier``.

    Args:
        identifier: one of ``TMS_IDS`` (case-sensitive, as in OGC API Tiles URLs).

    Returns:
        A copy of the registered set (callers may not alter the registry's one).

    Raises:
        NotFoundError: naming the known identifiers when ``identifier`` is unknown.
    """
    try:
        return tms_registry.get(identifier)
    except InvalidIdentifier:
        raise NotFoundError(f"unknown tile matrix set {identifier!r}; known: {', '.join(TMS_IDS)}") from None


def tile_at(tms: TileMatrixSet, x: float, y: float, zoom: int) -> morecantile.Tile:
    """Return the tile of ``tms`` at ``zoom`` containing the point (x, y) given in the TMS's own CRS.

    morecantile's public ``TileMatrixSet.tile`` takes geographic coordinates; kaartlaag
    works in the region CRS (metres), so this wraps its CRS-coordinate lookup and
    refuses points outside the matrix rather than clamping them to an edge tile.

    Args:
        tms: the tile matrix set.
        x: easting (first axis) in the TMS CRS.
        y: northing (second axis) in the TMS CRS.
        zoom: tile matrix identifier (level).

    Raises:
        NotFoundError: when ``zoom`` is not a level of ``tms`` or the point lies outside its matrix.
    """
    if not tms.minzoom <= zoom <= tms.maxzoom:
        raise NotFoundError(f"tile matrix set {tms.id}: no level {zoom} (levels {tms.minzoom}-{tms.maxzoom})")
    left, bottom, right, top = tms.xy_bbox
    if not (left <= x < right and bottom < y <= top):
        raise NotFoundError(f"tile matrix set {tms.id}: point ({x}, {y}) is outside its extent")
    return tms._tile(x, y, zoom)
