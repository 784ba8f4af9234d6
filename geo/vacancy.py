"""Administrative vacancy per address (CBS definition), with duration class and use group.

Method (docs/method-vacancy.md): an address (BAG verblijfsobject) whose status is
in use is *vacant* on the reference date when no registration of the
``occupancy`` source (resident, business or user) is active on that date. A
registration is active on day ``d`` when ``since <= d`` and (``until`` is empty
or ``d < until``): ``until`` is the first day without the registration (the day
of moving out), and a registration starting after the reference date does not
count. This is CBS's administrative vacancy ("leegstand": a verblijfsobject in
use without anyone registered at it), from the BRP and the trade register.

The duration runs from the end of the last registration (``vacant_since``) to
the reference date, in calendar years (PBL classes for retail vacancy):

* ``"<1 jaar"``: vacant_since after the date one year before the reference date;
* ``"1-3 jaar"``: vacant_since from three years up to one year before (both ends included);
* ``">3 jaar"``: vacant_since more than three years before the reference date;
* ``"onbekend"``: never registered in the extract, so the start is unknown; with
  ``history_start`` (the first day the extract covers) more than three years before
  the reference date such an address is ``">3 jaar"``.

"One year before" 29 February is 28 February. ``use_group`` groups the BAG
gebruiksdoelen; an address with several takes the first of woonfunctie (CBS: a
dwelling is a verblijfsobject with at least a woonfunctie), winkelfunctie,
kantoorfunctie, else ``"overig"``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import geopandas as gpd
import numpy as np
import pandas as pd

from geo.occupancy import normalise_occupancy

#: BAG statuses of a verblijfsobject in use (BAG 2.0 catalogus).
IN_USE_STATUSES: tuple[str, ...] = ("Verblijfsobject in gebruik", "Verblijfsobject in gebruik (niet ingemeten)")
#: BAG status of a verblijfsobject out of use; the short form ``buiten gebruik`` is accepted too.
OUT_OF_USE_STATUSES: tuple[str, ...] = ("Verblijfsobject buiten gebruik", "buiten gebruik")
#: Use groups, in priority order for an address with several gebruiksdoelen; the rest is OTHER_USE.
USE_GROUPS: tuple[str, ...] = ("woonfunctie", "winkelfunctie", "kantoorfunctie")
OTHER_USE = "overig"
ALL_USE_GROUPS: tuple[str, ...] = (*USE_GROUPS, OTHER_USE)
#: Duration classes (PBL, retail vacancy) and the class of a never-registered address.
SHORT, MEDIUM, LONG, UNKNOWN = "<1 jaar", "1-3 jaar", ">3 jaar", "onbekend"
DURATION_CLASSES: tuple[str, ...] = (SHORT, MEDIUM, LONG, UNKNOWN)
#: Class boundaries in calendar years: below SHORT_YEARS is SHORT; above LONG_YEARS is LONG.
SHORT_YEARS, LONG_YEARS = 1, 3


def use_group(use: object, groups: Sequence[str] = USE_GROUPS) -> str:
    """The use group of a BAG ``use`` value (comma-separated gebruiksdoelen)."""
    if use is None or (not isinstance(use, str) and pd.isna(use)):  # type: ignore[call-overload]
        return OTHER_USE
    parts = {p.strip().lower() for p in str(use).split(",")}
    return next((g for g in groups if g in parts), OTHER_USE)


def _years_before(day: dt.date, years: int) -> pd.Timestamp:
    """``day`` minus whole calendar years (29 February -> 28 February)."""
    try:
        return pd.Timestamp(day.replace(year=day.year - years))
    except ValueError:
        return pd.Timestamp(day.replace(year=day.year - years, day=28))


def duration_class(since: pd.Series, reference_date: dt.date,
                   history_start: dt.date | None = None) -> pd.Series:
    """The PBL duration class of vacancies that started on ``since`` (NaT: never registered).

    Args:
        since: ``datetime64`` dates (end of the last registration), NaT where never registered.
        reference_date: the day vacancy is measured.
        history_start: first day the occupancy extract covers, when known.

    Returns:
        ``"<1 jaar"``, ``"1-3 jaar"``, ``">3 jaar"`` or ``"onbekend"`` per row (object dtype).
    """
    one, three = _years_before(reference_date, SHORT_YEARS), _years_before(reference_date, LONG_YEARS)
    values = pd.to_datetime(since)
    out = np.where(values > one, SHORT, np.where(values >= three, MEDIUM, LONG)).astype(object)
    never = values.isna().to_numpy()
    long_unknown = history_start is not None and pd.Timestamp(history_start) < three
    out[never] = LONG if long_unknown else UNKNOWN
    return pd.Series(out, index=since.index, dtype=object)


def vacancy_status(
    addresses: gpd.GeoDataFrame,
    occupancy: pd.DataFrame,
    reference_date: dt.date,
    *,
    in_use_statuses: Sequence[str] = IN_USE_STATUSES,
    out_of_use_statuses: Sequence[str] = OUT_OF_USE_STATUSES,
    history_start: dt.date | None = None,
    source: str = "occupancy",
) -> gpd.GeoDataFrame:
    """Vacancy of every address on ``reference_date``.

    Args:
        addresses: canonical ``addresses`` (id, building_id, use, status, ...; region CRS).
        occupancy: canonical ``occupancy`` (address_id, registration, since, until); dates as
            ``datetime64`` or ISO text (checked by :func:`geo.occupancy.normalise_occupancy`).
        reference_date: the day ("peildatum") vacancy is measured on.
        in_use_statuses: BAG statuses that count as in use.
        out_of_use_statuses: BAG statuses counted in ``out_of_use`` (compared case-insensitively).
        history_start: first day the extract covers; see :func:`duration_class`.
        source: name used in errors about ``occupancy`` (its file).

    Returns:
        ``addresses`` (same rows, order, index and CRS) with ``in_use`` (bool: status in use),
        ``vacant`` (bool), ``out_of_use`` (bool),
        ``vacant_since`` (``datetime64``: end of the last registration before the reference date;
        NaT when not vacant or never registered), ``duration_class`` (None when not vacant) and
        ``use_group``. Registrations of unknown addresses are ignored.

    Raises:
        SourceError: a malformed occupancy row (naming ``source`` and the row).
    """
    occ = normalise_occupancy(occupancy, source)
    ref = pd.Timestamp(reference_date)
    started = occ["since"] <= ref
    active = started & (occ["until"].isna() | (ref < occ["until"]))
    occupied = set(occ.loc[active, "address_id"])
    ended = occ[started & ~active]
    last_end = ended.groupby("address_id")["until"].max()
    ids = addresses["id"].astype(str)
    status = addresses["status"].astype("string").str.strip()
    in_use = status.isin(list(in_use_statuses)).fillna(False).to_numpy(dtype=bool)
    wanted_out = {s.lower() for s in out_of_use_statuses}
    out_of_use = status.str.lower().isin(wanted_out).fillna(False).to_numpy(dtype=bool)
    vacant = in_use & ~ids.isin(occupied).to_numpy()
    last_end.index = last_end.index.astype(str)
    since = pd.Series(last_end.reindex(ids.to_numpy()).to_numpy(dtype="datetime64[ns]"), index=addresses.index)
    since = since.where(vacant)
    classes = duration_class(since, reference_date, history_start).where(vacant, None)
    out = addresses.copy()
    out["in_use"] = in_use
    out["vacant"] = vacant
    out["out_of_use"] = out_of_use
    out["vacant_since"] = since
    out["duration_class"] = classes.astype(object)
    out["use_group"] = [use_group(u) for u in addresses["use"]]
    return out
