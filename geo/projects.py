"""Projects in the public space (civil works, sewer renewal, road reconstruction): reading and validation.

The canonical ``projects`` source has ``id``, ``name``, ``kind`` (free text:
``riolering``, ``reconstructie weg``, ``glasvezel``, ...), ``start`` and ``end``
and a geometry of any kind (a point, a street line, an area). ``start`` and
``end`` are ISO dates (``2027-03-01``) or years (``2027``); a project runs
through the calendar years from its start to its end, which is what the
``projects-map`` layer compares with the phasing years of housing sites.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from geo.errors import SourceError
from geo.housing_sites import YEAR_RANGE
from geo.io import read_vector_source
from geo.report import SourceReport

SOURCE = "projects"
#: Columns of a validated frame, in order (geometry last).
PROJECT_COLUMNS: tuple[str, ...] = ("id", "name", "kind", "start", "end", "start_year", "end_year")
_YEAR = re.compile(r"^\d{4}$")


def read_projects(
    name: str,
    path: str | Path,
    region_crs: CRS,
    *,
    layer: str | None = None,
    columns: Mapping[str, str] | None = None,
    declared_crs: CRS | None = None,
    report: SourceReport | None = None,
) -> gpd.GeoDataFrame:
    """Read a ``projects`` file and validate it (:func:`validate_projects`); args as ``geo.io.read_vector_source``."""
    frame = read_vector_source(name, path, region_crs, layer=layer, columns=columns, declared_crs=declared_crs,
                               report=report)
    return validate_projects(frame, path)


def validate_projects(frame: pd.DataFrame, path: str | Path) -> gpd.GeoDataFrame:
    """Check and normalise canonical projects.

    Returns:
        :data:`PROJECT_COLUMNS` plus the geometry; ``start``/``end`` as given (text), ``start_year`` and
        ``end_year`` as integers.

    Raises:
        SourceError: naming the file and the project (id and name): no geometry, a duplicate id,
            a start or end that is neither an ISO date nor a year, or an end before the start.
    """
    if not isinstance(frame, gpd.GeoDataFrame) or frame.geometry.name not in frame.columns:
        raise SourceError(path, f"{SOURCE}: the file has no geometry (the projects map needs where each project is)")
    ids = frame["id"].astype("string")
    names = frame["name"].astype("string").fillna("")
    labels = [f"{i} ({n})" if n else str(i) for i, n in zip(ids.fillna("?"), names, strict=True)]
    geoms = frame.geometry.values
    empty = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    for bad, problem in ((ids.isna().to_numpy(), "a project has no id"),
                         (ids.duplicated().to_numpy(), "the id is used twice"),
                         (np.asarray(empty, dtype=bool), "the project has no geometry")):
        if bad.any():
            raise SourceError(path, f"{SOURCE}: {problem}", feature=labels[int(np.flatnonzero(bad)[0])])
    starts: list[tuple[date, str]] = []
    ends: list[tuple[date, str]] = []
    for s, e, label in zip(frame["start"], frame["end"], labels, strict=True):
        (d0, t0), (d1, t1) = _date(s, "start", path, label), _date(e, "end", path, label)
        if d1 < d0:
            raise SourceError(path, f"{SOURCE}: end {t1!r} is before start {t0!r}", feature=label)
        starts.append((d0, t0))
        ends.append((d1, t1))
    out = pd.DataFrame({
        "id": ids.to_numpy(), "name": names.to_numpy(), "kind": frame["kind"].astype("string").to_numpy(),
        "start": pd.array([t for _, t in starts], dtype="string"),
        "end": pd.array([t for _, t in ends], dtype="string"),
        "start_year": np.array([d.year for d, _ in starts], dtype=np.int64),
        "end_year": np.array([d.year for d, _ in ends], dtype=np.int64),
    })
    return gpd.GeoDataFrame(out, geometry=geoms, crs=frame.crs)


def _date(value: Any, column: str, path: str | Path, label: str) -> tuple[date, str]:
    """A date from an ISO date, a datetime or a year (a year is its 1 January), and its text (ISO or the year)."""
    if isinstance(value, date):
        day = value.date() if isinstance(value, datetime) else value  # a Timestamp is a datetime
        return day, day.isoformat()
    if isinstance(value, int | float | np.integer | np.floating) and math.isfinite(float(value)) and float(
            value) == int(value):
        text = str(int(value))
    else:
        text = "" if value is None or value is pd.NA else str(value).strip()
    try:
        if _YEAR.match(text):
            year = int(text)
            if not YEAR_RANGE[0] <= year <= YEAR_RANGE[1]:
                raise ValueError
            return date(year, 1, 1), text
        day = date.fromisoformat(text[:10])
        return day, day.isoformat()
    except ValueError:
        raise SourceError(path, f"{SOURCE}: {column} {value!r} is not an ISO date (2027-03-01) or a year",
                          feature=label) from None
