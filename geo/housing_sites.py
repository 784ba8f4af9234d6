"""Housing sites as Dutch plan-capacity monitors record them: reading and validation.

The canonical ``housing_sites`` source (``geo.canonical``) carries the fields of
the provincial plan-capacity monitors (Monitor Plancapaciteit of the provinces,
the ABF Research / Primos plan lists; docs/method-housing.md):

* ``id``, ``name``, ``municipality``;
* ``status``: the planning stage, one of :data:`STATUSES` (onherroepelijk:
  an irrevocable zoning plan / omgevingsplan; vastgesteld: adopted, not yet
  irrevocable; in voorbereiding: a draft plan; visie: in a vision or
  structure plan; potentie: a possible location only);
* ``hard``: hard plan capacity (the monitors count onherroepelijk and
  vastgesteld as hard); derived from the status when the file leaves it out;
* ``planned_dwellings``: the net number of dwellings planned (a whole number >= 0);
* dwelling types ``dwellings_grondgebonden`` (ground-bound) and
  ``dwellings_gestapeld`` (apartments), price segments ``sociale_huur``,
  ``middelduur`` and ``duur``: whole numbers >= 0, each group summing to at
  most ``planned_dwellings`` (a monitor may leave part unassigned);
* phasing: dwellings per completion year, as ``phasing`` text
  (``"2027:40; 2028:60"``) or as one column per year (``phase_2027``, the
  wide layout of monitor spreadsheets), summing to at most ``planned_dwellings``;
* ``inside_built_up``: inside the existing built-up area (bestaand stedelijk /
  bebouwd gebied, BSG/BBG, Besluit ruimtelijke ordening art. 1.1.1 and the
  Ladder voor duurzame verstedelijking).

Validation rejects a site with a negative or non-integer dwelling count or an
unknown status with a :class:`~geo.errors.SourceError` that names the file and
the site (id and name).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from pyproj import CRS

from geo.errors import SourceError
from geo.io import read_vector_source
from geo.report import SourceReport

SOURCE = "housing_sites"
#: Planning stages of the plan-capacity monitors, hardest first.
STATUSES: tuple[str, ...] = ("onherroepelijk", "vastgesteld", "in voorbereiding", "visie", "potentie")
#: Stages that count as hard plan capacity.
HARD_STATUSES: tuple[str, ...] = ("onherroepelijk", "vastgesteld")
#: Dwelling-type counts.
TYPE_COLUMNS: tuple[str, ...] = ("dwellings_grondgebonden", "dwellings_gestapeld")
#: Price-segment counts.
SEGMENT_COLUMNS: tuple[str, ...] = ("sociale_huur", "middelduur", "duur")
#: Every dwelling count of a site.
COUNT_COLUMNS: tuple[str, ...] = ("planned_dwellings", *TYPE_COLUMNS, *SEGMENT_COLUMNS)
#: Columns of a validated frame, in order (geometry last).
SITE_COLUMNS: tuple[str, ...] = (
    "id", "name", "municipality", "status", "hard", "planned_dwellings", *TYPE_COLUMNS, *SEGMENT_COLUMNS,
    "phasing", "first_year", "last_year", "inside_built_up",
)
#: A wide phasing column: ``phase_2027`` (also ``fasering_2027``).
PHASE_COLUMN = re.compile(r"^(?:phase|fasering)_(\d{4})$", re.IGNORECASE)
#: One ``year:count`` pair of a phasing text.
_PHASE_PAIR = re.compile(r"^\s*(\d{4})\s*[:=]\s*(\S+)\s*$")
#: Text read as true / false in the boolean fields.
_TRUE = frozenset({"true", "1", "ja", "yes", "j", "y", "waar"})
_FALSE = frozenset({"false", "0", "nee", "no", "n", "onwaar"})
#: Years a phasing may name (a plan list looks ahead a few decades at most).
YEAR_RANGE = (1900, 2200)


def read_housing_sites(
    name: str,
    path: str | Path,
    region_crs: CRS,
    *,
    layer: str | None = None,
    columns: Mapping[str, str] | None = None,
    declared_crs: CRS | None = None,
    report: SourceReport | None = None,
) -> gpd.GeoDataFrame:
    """Read a ``housing_sites`` file (GeoPackage, GeoJSON, ...) and validate it (:func:`validate_housing_sites`).

    Args mirror :func:`geo.io.read_vector_source`; ``name`` must be ``housing_sites``.

    Raises:
        SourceError: what ``read_vector_source`` refuses, and every site rule, naming the file and the site.
    """
    frame = read_vector_source(name, path, region_crs, layer=layer, columns=columns, declared_crs=declared_crs,
                               report=report)
    return validate_housing_sites(frame, path, report)


def validate_housing_sites(
    frame: gpd.GeoDataFrame, path: str | Path, report: SourceReport | None = None
) -> gpd.GeoDataFrame:
    """Check and normalise canonical housing sites.

    Args:
        frame: the sites (canonical columns present, region CRS).
        path: the file, named in every error.
        report: receives counts (hard derived from the status, hard contradicting it).

    Returns:
        :data:`SITE_COLUMNS` plus the geometry: counts as nullable integers, ``status`` lower case,
        ``hard`` and ``inside_built_up`` as nullable booleans, ``phasing`` as ``"2027:40;2028:60"``
        with ``first_year``/``last_year``.

    Raises:
        SourceError: a duplicate id, an unknown status, a count that is missing (``planned_dwellings``),
            negative or not a whole number, types / segments / phasing summing to more than
            ``planned_dwellings``, an unreadable phasing or boolean.
    """
    ids = frame["id"].astype("string")
    names = frame["name"].astype("string").fillna("")
    labels = [f"{i} ({n})" if n else str(i) for i, n in zip(ids.fillna("?"), names, strict=True)]
    if ids.isna().any():
        raise SourceError(path, f"{SOURCE}: a site has no id", feature=labels[int(np.flatnonzero(ids.isna())[0])])
    dup = ids.duplicated()
    if dup.any():
        raise SourceError(path, f"{SOURCE}: id {ids[dup].iloc[0]} is used twice",
                          feature=labels[int(np.flatnonzero(dup.to_numpy())[0])])
    out = pd.DataFrame({"id": ids.to_numpy(), "name": names.to_numpy()}, index=frame.index)
    out["municipality"] = (frame["municipality"] if "municipality" in frame.columns
                           else pd.Series(pd.NA, index=frame.index)).astype("string")
    out["status"] = [_status(v, path, label) for v, label in zip(frame["status"], labels, strict=True)]
    out["status"] = out["status"].astype("string")
    for col in COUNT_COLUMNS:
        values = frame[col] if col in frame.columns else pd.Series(pd.NA, index=frame.index)
        out[col] = pd.array([_count(v, col, path, label, required=col == "planned_dwellings")
                             for v, label in zip(values, labels, strict=True)], dtype="Int64")
    phasing = _phasing(frame, path, labels)
    for group, cols in (("dwelling types", TYPE_COLUMNS), ("price segments", SEGMENT_COLUMNS)):
        _at_most_planned(out[list(cols)].sum(axis=1, min_count=1), out, path, labels, group)
    _at_most_planned(pd.Series([sum(p.values()) if p else pd.NA for p in phasing], index=frame.index,
                               dtype="Int64"), out, path, labels, "the phasing")
    out["phasing"] = pd.array([phasing_text(p) for p in phasing], dtype="string")
    out["first_year"] = pd.array([min(p) if p else pd.NA for p in phasing], dtype="Int64")
    out["last_year"] = pd.array([max(p) if p else pd.NA for p in phasing], dtype="Int64")
    by_status = out["status"].isin(list(HARD_STATUSES)).to_numpy(dtype=bool)
    hard = _booleans(frame, "hard", path, labels)
    given = hard.notna().to_numpy(dtype=bool)
    out["hard"] = pd.array(np.where(given, hard.fillna(False).to_numpy(dtype=bool), by_status), dtype="boolean")
    out["inside_built_up"] = _booleans(frame, "inside_built_up", path, labels)
    if report is not None:
        report.count("hard_from_status", int((~given).sum()))
        report.count("hard_differs_from_status", int((given & (hard.fillna(False).to_numpy(dtype=bool)
                                                                != by_status)).sum()))
    return gpd.GeoDataFrame(out[list(SITE_COLUMNS)], geometry=frame.geometry.values, crs=frame.crs)


def _status(value: Any, path: str | Path, label: str) -> str:
    text = "" if _missing(value) else " ".join(str(value).split()).lower()
    if text not in STATUSES:
        shown = "no status" if not text else f"unknown status {value!r}"
        raise SourceError(path, f"{SOURCE}: {shown}; allowed: {', '.join(STATUSES)}", feature=label)
    return text


def _missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)) or (
        isinstance(value, str) and not value.strip())


def _count(value: Any, column: str, path: str | Path, label: str, *, required: bool) -> int | None:
    """A dwelling count: a whole number >= 0 (``12``, ``12.0``, ``"12"``), or None where allowed."""
    if _missing(value):
        if required:
            raise SourceError(path, f"{SOURCE}: {column} is missing", feature=label)
        return None
    number: float
    if isinstance(value, bool | np.bool_):
        number = math.nan
    elif isinstance(value, int | float | np.integer | np.floating):
        number = float(value)
    else:
        try:
            number = float(str(value).strip())
        except ValueError:
            number = math.nan
    if not math.isfinite(number) or number != math.floor(number):
        raise SourceError(path, f"{SOURCE}: {column} {value!r} is not a whole number of dwellings", feature=label)
    if number < 0:
        raise SourceError(path, f"{SOURCE}: {column} {value!r} is negative", feature=label)
    return int(number)


def _at_most_planned(total: pd.Series, out: pd.DataFrame, path: str | Path, labels: list[str], what: str) -> None:
    over = (total.fillna(0) > out["planned_dwellings"]).to_numpy(dtype=bool)
    if over.any():
        i = int(np.flatnonzero(over)[0])
        raise SourceError(
            path, f"{SOURCE}: {what} add up to {int(total.iloc[i])} dwellings, more than planned_dwellings "
            f"{int(out['planned_dwellings'].iloc[i])}", feature=labels[i],
        )


def parse_phasing(text: Any, where: str = "phasing") -> dict[int, int]:
    """Dwellings per year from ``"2027:40; 2028:60"`` (``,`` or ``;`` between pairs) or a JSON object.

    Raises:
        ValueError: naming ``where``, for anything else, a year outside :data:`YEAR_RANGE`, a year
            given twice, or a count that is not a whole number >= 0.
    """
    if _missing(text):
        return {}
    raw = str(text).strip()
    pairs: list[tuple[str, Any]]
    if raw.startswith("{"):
        try:
            loaded = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{where}: not a JSON object: {exc.msg}") from None
        if not isinstance(loaded, dict):
            raise ValueError(f"{where}: expected an object of year: dwellings")
        pairs = [(str(k), v) for k, v in loaded.items()]
    else:
        pairs = []
        for part in re.split(r"[;,]", raw):
            if not part.strip():
                continue
            m = _PHASE_PAIR.match(part)
            if m is None:
                raise ValueError(f"{where}: {part.strip()!r} is not 'year:dwellings' (e.g. '2027:40; 2028:60')")
            pairs.append((m.group(1), m.group(2)))
    out: dict[int, int] = {}
    for year_text, count in pairs:
        if not year_text.isdigit() or not YEAR_RANGE[0] <= int(year_text) <= YEAR_RANGE[1]:
            raise ValueError(f"{where}: {year_text!r} is not a year")
        year = int(year_text)
        if year in out:
            raise ValueError(f"{where}: year {year} is given twice")
        try:
            number = float(count)
        except (TypeError, ValueError):
            number = math.nan
        if not math.isfinite(number) or number != math.floor(number) or number < 0:
            raise ValueError(f"{where}: {count!r} dwellings in {year} is not a whole number >= 0")
        out[year] = int(number)
    return dict(sorted(out.items()))


def phasing_text(phasing: Mapping[int, int]) -> str | None:
    """``"2027:40;2028:60"`` for ``{2027: 40, 2028: 60}``; None for no phasing."""
    return ";".join(f"{y}:{n}" for y, n in sorted(phasing.items())) or None


def _phasing(frame: pd.DataFrame, path: str | Path, labels: list[str]) -> list[dict[int, int]]:
    """Per site the phasing from the ``phasing`` text and the wide ``phase_YYYY`` columns (not both for a year)."""
    wide = {int(m.group(1)): c for c in frame.columns if (m := PHASE_COLUMN.match(str(c)))}
    text = frame["phasing"] if "phasing" in frame.columns else pd.Series(pd.NA, index=frame.index)
    out: list[dict[int, int]] = []
    for i, label in enumerate(labels):
        try:
            phase = parse_phasing(text.iloc[i])
        except ValueError as exc:
            raise SourceError(path, f"{SOURCE}: {exc}", feature=label) from None
        for year, col in sorted(wide.items()):
            n = _count(frame[col].iloc[i], col, path, label, required=False)
            if n is None:
                continue
            if year in phase:
                raise SourceError(path, f"{SOURCE}: {year} is both in phasing and in {col}", feature=label)
            phase[year] = n
        out.append(dict(sorted(phase.items())))
    return out


def _booleans(frame: pd.DataFrame, column: str, path: str | Path, labels: list[str]) -> pd.Series:
    values = frame[column] if column in frame.columns else pd.Series(pd.NA, index=frame.index)
    out: list[bool | None] = []
    for value, label in zip(values, labels, strict=True):
        if _missing(value):
            out.append(None)
        elif isinstance(value, bool | np.bool_) or (
                isinstance(value, int | float | np.integer | np.floating) and float(value) in (0.0, 1.0)):
            out.append(bool(value))
        elif str(value).strip().lower() in _TRUE | _FALSE:
            out.append(str(value).strip().lower() in _TRUE)
        else:
            raise SourceError(path, f"{SOURCE}: {column} {value!r} is not true or false (ja/nee)", feature=label)
    return pd.Series(pd.array(out, dtype="boolean"), index=frame.index)
