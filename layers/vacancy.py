"""Layers ``vacancy`` (public aggregates) and ``vacancy-addresses`` (internal, per address).

Method (docs/method-vacancy.md): CBS administrative vacancy on a reference date
(``geo.vacancy``): a BAG verblijfsobject in use with no resident, business or user
registration of the ``occupancy`` source active on that day, with the PBL duration
classes and the use groups woonfunctie, winkelfunctie, kantoorfunctie and overig.

* ``vacancy-addresses`` holds one point per vacant address (use, duration class,
  since-date). It is personal data under the GDPR: the layer is always ``internal``
  (``LayerDef.internal_only``), so the server shows it only to a caller with a key for
  it, and it never enters public tiles, TileJSON, WMTS, the overview page or ``/layers``.
* ``vacancy`` publishes counts and shares per municipality, buurt and CBS 100 m square,
  under the disclosure control of ``geo.disclosure`` (``layers.vacancy_tables``):
  suppression below ``min_count``, complement suppression, rounding to ``rounding_base``
  and secondary suppression against subtraction and grid-versus-buurt differencing.

Both compute the vacancy of the same addresses with the same function, so they agree
for equal parameters. ``reference_date`` defaults to the build date: it is fixed when
the build plans (``Param.default_factory``), so the cache key and the catalog name the
date used, a rebuild on the same day is up to date and one on a later day is redone.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Mapping
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely

from geo.disclosure import BASE, MIN_COUNT
from geo.errors import LayerError
from geo.vacancy import DURATION_CLASSES, vacancy_status
from layers.base import BuildContext, LayerDef, LayerInputs, LayerResult, Output, Param, Reach, fixed
from layers.dwellings import zone_index
from layers.vacancy_tables import COUNT_COLUMNS, GRID_OUTPUT, vacancy_tables

VACANCY_ID = "vacancy"
ADDRESSES_ID = "vacancy-addresses"
METHOD = (
    "Administrative vacancy (CBS): a BAG verblijfsobject with status in use is vacant on the reference date "
    "when no resident, business or user registration of the occupancy source is active on that day "
    "(since <= date < until; an empty until is still registered). Duration from the end of the last "
    "registration: <1 jaar, 1-3 jaar (both ends included), >3 jaar (PBL), onbekend when never registered. "
    "Use groups: woonfunctie, winkelfunctie, kantoorfunctie, overig (in that priority). 'buiten gebruik' is "
    "counted apart (out_of_use)."
)
DISCLOSURE = (
    "Counts below min_count are suppressed (null, their share with them), so are counts where fewer than "
    "min_count addresses in use are not vacant; published counts are rounded to multiples of rounding_base; "
    "further cells are suppressed until no vacant address can be located by subtracting parts from totals, "
    "buurten from their municipality or squares from buurten (interval audit over cell x buurt pieces, "
    "geo.disclosure). Squares with fewer than min_count addresses in use are left out."
)
REFERENCES = (
    "CBS (2021), 'Begin 2021 stond 2,4 procent van de woningen leeg', note 'Administratieve leegstand': no "
    "BRP registration, no WOZ user, no trade-register registration at a BAG verblijfsobject",
    "Duration classes after PBL's retail vacancy: frictional (<1 year), 1-3 years, structural (>3 years)",
    "CBS (2023), Statistische gegevens per vierkant en postcode 2022-2021-2020-2019: 2. Technische gegevens, "
    "3. Codering vierkant",
    "CBS, Toelichting Wijk- en Buurtkaart 2020, 2021 en 2022, 4.1: secrecy and rounding in neighbourhood figures",
)


def _iso_date(value: Any) -> None:
    """Raise ``ValueError`` unless ``value`` is an ISO date (YYYY-MM-DD)."""
    try:
        dt.date.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"{value!r} is not a date (YYYY-MM-DD)") from None


def _optional_iso_date(value: Any) -> None:
    if str(value).strip():
        _iso_date(value)


def build_date() -> str:
    """Today's date in UTC (ISO), the default reference date."""
    return dt.datetime.now(dt.UTC).date().isoformat()


REFERENCE_DATE = Param(
    "reference_date", "", "date",
    "the day vacancy is measured on (YYYY-MM-DD); left out: the build date, fixed when the build plans",
    "CBS measures vacancy on a reference date (peildatum); the issue's default is the build date",
    default_factory=build_date, validate=_iso_date,
)
HISTORY_START = Param(
    "history_start", "", "date",
    "first day the occupancy extract covers (YYYY-MM-DD); a never-registered vacant address is '>3 jaar' "
    "when this is more than three years before the reference date, else 'onbekend'; empty: unknown",
    "BRP extracts cover registrations from a start date", validate=_optional_iso_date,
)
SHARED_PARAMS = (REFERENCE_DATE, HISTORY_START)
SHARED_REACH = (
    Reach("addresses", fixed(0.0), "each address inside the extent is counted where it lies"),
    Reach("occupancy", fixed(0.0), "a table: read whole, joined on address_id"),
)


def _status(inputs: LayerInputs, params: Mapping[str, Any], counts: Counter[str]) -> gpd.GeoDataFrame:
    """Vacancy of the addresses inside the extent's area on the reference date."""
    reference = dt.date.fromisoformat(str(params["reference_date"]))
    history = str(params["history_start"]).strip()
    addresses = inputs.vector("addresses")
    area = inputs.extent.polygon()
    shapely.prepare(area)
    inside = shapely.intersects(area, shapely.point_on_surface(addresses.geometry.values))
    addresses = addresses[inside]
    occupancy = inputs.sources["occupancy"]
    status = vacancy_status(addresses, occupancy, reference,
                            history_start=dt.date.fromisoformat(history) if history else None)
    known = occupancy["address_id"].astype(str).isin(set(addresses["id"].astype(str)))
    counts["addresses"] = len(addresses)
    counts["occupancy_rows"] = len(occupancy)
    counts["occupancy_rows_other_addresses"] = int((~known).sum())
    return status


def compute_addresses(inputs: LayerInputs, params: Mapping[str, Any], ctx: BuildContext) -> LayerResult:
    """One point per vacant address: id, building, use, use group, duration class, since-date (internal).

    Args:
        inputs: ``addresses`` and ``occupancy``; ``neighbourhoods`` optional (buurt code per address).
        params: ``reference_date``, ``history_start`` (ISO dates; see the module docstring).
        ctx: unused (no raster work).

    Returns:
        vector ``addresses`` (Point, region CRS).
    """
    counts: Counter[str] = Counter()
    status = _status(inputs, params, counts)
    vacant = status[status["vacant"].to_numpy(dtype=bool)]
    out = vacant[["id", "building_id", "use", "use_group", "status", "duration_class"]].copy()
    out["vacant_since"] = [None if pd.isna(v) else v.date().isoformat() for v in vacant["vacant_since"]]
    points = shapely.point_on_surface(vacant.geometry.values)
    if inputs.zones is not None and len(inputs.zones):
        idx = zone_index(shapely.get_coordinates(points), inputs.zones)
        codes = inputs.zones["code"].astype(str).to_numpy()
        out["buurt"] = [codes[i] if i >= 0 else None for i in idx]
    counts["vacant"] = len(out)
    counts["out_of_use"] = int(status["out_of_use"].sum())
    for cls in DURATION_CLASSES:
        counts[f"vacant {cls}"] = int((out["duration_class"] == cls).sum())
    return LayerResult(
        vectors={"addresses": gpd.GeoDataFrame(out.reset_index(drop=True), geometry=points, crs=inputs.crs)},
        metadata={"method": METHOD, "reference_date": _reference(params), "counts": dict(counts),
                  "personal_data": "GDPR: internal only, never published"},
    )


def _reference(params: Mapping[str, Any]) -> str:
    return str(params["reference_date"])


def compute_vacancy(inputs: LayerInputs, params: Mapping[str, Any], ctx: BuildContext) -> LayerResult:
    """Protected vacancy counts and shares per municipality, buurt and CBS 100 m square (public).

    Args:
        inputs: ``addresses``, ``occupancy`` and ``neighbourhoods`` (the zones: buurten clipped to the extent).
        params: ``reference_date``, ``history_start``, ``min_count``, ``rounding_base``.
        ctx: unused.

    Returns:
        vectors ``gemeenten``, ``buurten`` and ``grid`` (polygons, region CRS) with ``code``, ``name``,
        ``addresses_in_use`` and the counts and shares of ``layers.vacancy_tables``; no address ids.
    """
    if inputs.zones is None:
        raise LayerError(f"layer {VACANCY_ID} needs zones (the neighbourhoods source)")
    counts: Counter[str] = Counter()
    status = _status(inputs, params, counts)
    out = vacancy_tables(status, inputs.zones, region_name=inputs.context.name, min_count=params["min_count"],
                         base=params["rounding_base"])
    # Only what the tables show anyway: how many cells are null, never why (primary, complement or
    # secondary), which would tell an attacker more than "somewhere between 0 and the population".
    shown = {
        "addresses": counts["addresses"],
        "addresses_outside_neighbourhoods": out.counts["addresses_outside_neighbourhoods"],
        "cells_published": out.counts["cells_published"],
        "cells_suppressed": sum(out.counts[k] for k in ("cells_primary", "cells_complement", "cells_secondary")),
    }
    return LayerResult(
        vectors={"gemeenten": out.tables["gemeente"], "buurten": out.tables["buurt"], GRID_OUTPUT: out.tables["grid"]},
        metadata={"method": METHOD, "disclosure_control": DISCLOSURE, "reference_date": _reference(params),
                  "columns": list(COUNT_COLUMNS), "counts": {k: int(v) for k, v in shown.items()}},
    )


ADDRESSES_LAYER = LayerDef(
    id=ADDRESSES_ID,
    title={"nl": "Leegstand per adres (intern)", "en": "Vacancy per address (internal)"},
    description={
        "nl": "Leegstaande verblijfsobjecten op de peildatum met gebruiksdoel, duurklasse en datum sinds wanneer; "
        "persoonsgegevens (AVG): alleen voor geautoriseerde medewerkers, nooit openbaar.",
        "en": "Vacant addresses on the reference date with use, duration class and since-date; personal data "
        "(GDPR): authorised staff only, never published.",
    },
    kind="vector",
    inputs=("addresses", "occupancy"),
    optional_inputs=("neighbourhoods",),
    params=SHARED_PARAMS,
    outputs=(Output("addresses", "vector", "one point per vacant address: id, use, duration_class, vacant_since"),),
    style_id=ADDRESSES_ID,
    code_version="1",
    compute=compute_addresses,
    access="internal",
    internal_only=True,
    references=REFERENCES,
    reach=(*SHARED_REACH, Reach("neighbourhoods", fixed(0.0), "the buurt code of each vacant address")),
    minzoom=12,
    maxzoom=16,
)

LAYER = LayerDef(
    id=VACANCY_ID,
    title={"nl": "Leegstand", "en": "Vacancy"},
    description={
        "nl": "Administratieve leegstand (CBS) per gemeente, buurt en 100 m-vierkant: aantallen en aandelen naar "
        "gebruiksdoel en duur, afgerond op vijftallen en met onthulling van kleine aantallen voorkomen.",
        "en": "Administrative vacancy (CBS) per municipality, buurt and 100 m square: counts and shares by use "
        "and duration, rounded to fives, with small counts protected from disclosure.",
    },
    kind="vector",
    inputs=("addresses", "occupancy", "neighbourhoods"),
    params=(
        *SHARED_PARAMS,
        Param("min_count", MIN_COUNT, "addresses", "counts below this are not published (null)",
              "CBS, Kerncijfers wijken en buurten: fewer than 5 is not published", minimum=1, maximum=100),
        Param("rounding_base", BASE, "addresses", "published counts are rounded to multiples of this",
              "CBS rounds counts in its neighbourhood figures to multiples of 5", minimum=1, maximum=100),
    ),
    outputs=(
        Output("gemeenten", "vector", "per municipality: counts and shares by use group and duration class"),
        Output("buurten", "vector", "per CBS buurt: the same"),
        Output(GRID_OUTPUT, "vector", "per CBS 100 m square (code E....N....): the same"),
    ),
    style_id=VACANCY_ID,
    code_version="1",
    compute=compute_vacancy,
    references=REFERENCES,
    reach=(*SHARED_REACH, Reach("neighbourhoods", fixed(0.0), "the zones, clipped to the extent")),
    minzoom=10,
    maxzoom=15,
)
