"""Canonical sources: the one internal schema every registry adapter produces.

Every layer reads only canonical sources, so a municipality with a different
delivery (a BGT extract, a tree register in CSV, an own street network) gets
the same method as every other. The table is documented in ``docs/sources.md``.
All vector sources are in the region CRS, lengths in metres.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.errors import SourceError

#: Canonical land-cover classes (``landcover.class``).
LANDCOVER_CLASSES: tuple[str, ...] = (
    "building",
    "road_paved",
    "road_unpaved",
    "paved_other",
    "green_low",
    "green_shrub",
    "green_trees",
    "agriculture",
    "bare",
    "water",
)

#: Optional ``addresses`` columns of the main address (BAG nummeraanduiding and its openbare ruimte):
#: postcode (``7001AB``), house_number (int), house_letter, house_number_addition, street (naam).
ADDRESS_PARTS: tuple[str, ...] = ("postcode", "house_number", "house_letter", "house_number_addition", "street")

GeomKind = Literal["Polygon", "Point", "LineString", "any", "raster", "table"]


@dataclass(frozen=True)
class CanonicalSpec:
    """Schema of one canonical source.

    Attributes:
        name: source name as used in configs (``landcover``, ``trees``, ...).
        geometry: expected geometry family (multi-part variants are accepted).
        required: columns that must be present.
        optional: columns that may be present; they are added as nulls when absent.
        description: one line for the docs.
        check: ``"module:function"`` of the source's own rules beyond the schema, run by
            :func:`validate_canonical` on every frame of it whatever read it:
            ``function(frame, path, report)`` returns the checked frame or raises ``SourceError``
            naming the file and the feature. Its module counts in the source's content hash.
    """

    name: str
    geometry: GeomKind
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    description: str = ""
    check: str = ""

    def check_module(self) -> str | None:
        """The module of :attr:`check`, or None."""
        return self.check.partition(":")[0] or None


CANONICAL: dict[str, CanonicalSpec] = {
    s.name: s
    for s in (
        CanonicalSpec(
            "landcover",
            "Polygon",
            ("class", "source_class", "source_id"),
            ("public", "function"),
            "surface cover, one canonical class per polygon; function: BGT road function (wegdeel functie)",
        ),
        CanonicalSpec(
            "buildings",
            "Polygon",
            ("id", "status"),
            ("year", "height_m"),
            "building footprints (BAG/BGT pand)",
        ),
        CanonicalSpec(
            "addresses",
            "Point",
            ("id", "building_id", "use", "status"),
            ("floor_area_m2", *ADDRESS_PARTS),
            "address units (BAG verblijfsobject)",
        ),
        CanonicalSpec(
            "trees", "Point", ("id",), ("crown_diameter_m", "height_m", "species"), "individual trees"
        ),
        CanonicalSpec(
            "neighbourhoods", "Polygon", ("code", "name"), ("municipality_code", "municipality_name"),
            "CBS buurten; municipality_code/name: the CBS gemeentecode/gemeentenaam",
        ),
        CanonicalSpec("streets", "LineString", ("id",), (), "walkable street network"),
        CanonicalSpec("parks", "Polygon", ("id",), ("name",), "public green spaces"),
        CanonicalSpec(
            "amenities", "Point", ("id", "type"), ("name",), "facilities (supermarket, school, ...)"
        ),
        CanonicalSpec(
            "housing_sites",
            "Polygon",
            ("id", "name", "status", "planned_dwellings"),
            ("municipality", "hard", "dwellings_grondgebonden", "dwellings_gestapeld", "sociale_huur",
             "middelduur", "duur", "phasing", "inside_built_up"),
            "planned housing locations (plan-capacity monitor fields; checked by geo.housing_sites)",
            "geo.housing_sites:validate_housing_sites",
        ),
        CanonicalSpec(
            "occupancy",
            "any",
            ("address_id", "registration", "since"),
            ("until",),
            "registrations per address (BRP and trade register): resident|business|user, since, until",
            "geo.occupancy:normalise_occupancy",
        ),
        CanonicalSpec("projects", "any", ("id", "name", "kind", "start", "end"), (), "spatial projects",
                      "geo.projects:validate_projects"),
        CanonicalSpec("dsm", "raster", (), (), "digital surface model, metres NAP"),
        CanonicalSpec("dtm", "raster", (), (), "digital terrain model, metres NAP"),
        CanonicalSpec("flood", "raster", (), (), "flood depth of a scenario (m above the ground), e.g. LIWO"),
    )
}

RASTER_SOURCES = frozenset(n for n, s in CANONICAL.items() if s.geometry == "raster")

_FAMILY = {
    "Polygon": {"Polygon", "MultiPolygon"},
    "Point": {"Point", "MultiPoint"},
    "LineString": {"LineString", "MultiLineString"},
}


def validate_canonical(
    name: str, frame: gpd.GeoDataFrame | pd.DataFrame, path: str | Path, report: Any = None
) -> gpd.GeoDataFrame:
    """Check a frame against the canonical schema of ``name`` and normalise it.

    Checks required columns, geometry family, empty geometries and, for
    ``landcover``, the class vocabulary. Optional columns that are missing are
    added as nulls so layers can rely on them existing.

    Args:
        name: canonical source name.
        frame: the frame read (already in the region CRS).
        path: file it came from, named in every error.
        report: a ``geo.report.SourceReport`` the source's own check (``CanonicalSpec.check``) may count in.

    Raises:
        SourceError: naming the file, the column or the feature id.
    """
    spec = CANONICAL.get(name)
    if spec is None:
        raise SourceError(path, f"unknown canonical source {name!r}; known: {', '.join(sorted(CANONICAL))}")
    missing = [c for c in spec.required if c not in frame.columns]
    if missing:
        raise SourceError(
            path,
            f"{name}: missing required column(s) {', '.join(missing)}; "
            f"map them with `columns:` in the config (present: {', '.join(map(str, frame.columns))})",
        )
    frame = frame.copy()
    for col in spec.optional:
        if col not in frame.columns:
            frame[col] = pd.NA
    if spec.geometry in _FAMILY:
        if not isinstance(frame, gpd.GeoDataFrame) or frame.geometry.name not in frame.columns:
            raise SourceError(path, f"{name}: the file has no geometry column")
        geoms = frame.geometry.values
        empty = shapely.is_missing(geoms) | shapely.is_empty(geoms)
        if empty.any():
            bad = _feature_id(frame, spec, int(np.flatnonzero(empty)[0]))
            raise SourceError(path, f"{name}: {int(empty.sum())} feature(s) without geometry", feature=bad)
        types = shapely.get_type_id(geoms)
        allowed_ids = {_TYPE_IDS[t] for t in _FAMILY[spec.geometry]}
        wrong = ~np.isin(types, list(allowed_ids))
        if wrong.any():
            i = int(np.flatnonzero(wrong)[0])
            raise SourceError(
                path,
                f"{name}: expected {spec.geometry} geometries, found {frame.geometry.iloc[i].geom_type}",
                feature=_feature_id(frame, spec, i),
            )
    if name == "landcover":
        unknown = ~frame["class"].isin(LANDCOVER_CLASSES)
        if unknown.any():
            i = int(np.flatnonzero(unknown.to_numpy())[0])
            raise SourceError(
                path,
                f"landcover: unknown class {frame['class'].iloc[i]!r}; allowed: {', '.join(LANDCOVER_CLASSES)}",
                feature=_feature_id(frame, spec, i),
            )
    if spec.check:
        module, _, function = spec.check.partition(":")
        # Imported when used: the check modules read the canonical schema from this one.
        frame = getattr(importlib.import_module(module), function)(frame, path, report)
    return frame  # type: ignore[return-value]


#: Column that identifies a feature in messages, where it is not ``id``.
_ID_COLUMNS = {"landcover": "source_id", "neighbourhoods": "code", "occupancy": "address_id"}


def id_column(name: str) -> str:
    """The column that identifies a feature of canonical source ``name``."""
    return _ID_COLUMNS.get(name, "id")


_TYPE_IDS = {
    "Point": 0,
    "LineString": 1,
    "Polygon": 3,
    "MultiPoint": 4,
    "MultiLineString": 5,
    "MultiPolygon": 6,
}


def _feature_id(frame: pd.DataFrame, spec: CanonicalSpec, row: int) -> str:
    key: str | None = id_column(spec.name)
    if key not in frame.columns:
        key = spec.required[0] if spec.required else None
    if key is not None and key in frame.columns:
        return str(frame[key].iloc[row])
    return f"row {row + 1}"


#: Integer code of each land-cover class in classified rasters (0 is nodata).
LANDCOVER_CODES: dict[str, int] = {name: i + 1 for i, name in enumerate(LANDCOVER_CLASSES)}
LANDCOVER_NODATA = 0
