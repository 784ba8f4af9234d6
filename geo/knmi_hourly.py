"""KNMI hourly station data ("uurgegevens") as the reference day of ``pet`` (``geo.weather_day``).

The file is the one KNMI publishes per station and decade
(``uurgeg_<STN>_<period>.txt`` in the zips of
https://www.knmi.nl/nederland-nu/klimatologie/uurgegevens) or the answer of the
hourly-data script interface (``https://www.daggegevens.knmi.nl/klimatologie/uurgegevens``).
Both have the layout of the daily files (``geo.knmi``, read by the same
:func:`geo.knmi.read_knmi_columns`): a free-text header, one column line
``# STN,YYYYMMDD,   HH,   DD,   FH, ...,    T, ...,    Q, ...,    P, ...,    U, ...``
and data lines ``  283,20150701,    1,  ...``, values right-aligned, an empty
field where the value is missing.

Read here (the rest is ignored):

==========  ==================================================  ================
column      meaning (KNMI)                                      unit in the file
==========  ==================================================  ================
STN         station number (283 Hupsel, 260 De Bilt)            -
YYYYMMDD    date                                                -
HH          hour 1-24: the hour ending at HH UT (HH 5 is        -
            04:00-05:00 UT)
FH          hourly mean wind speed (10 m)                       0.1 m/s
T           temperature at 1.5 m at the observation (HH UT)     0.1 degC
Q           global radiation, sum over the hour                 J/cm2
U           relative humidity at 1.5 m at the observation       %
P           sea-level air pressure at the observation           0.1 hPa
            (optional: NaN where the file has no P column)
==========  ==================================================  ================

Conversion: wind ``FH / 10`` m/s, air temperature ``T / 10`` degC, relative
humidity ``U`` %, global radiation ``Q * 1e4 / 3600`` W/m2 (the hour's mean).

Time: every value of hour HH is put at the middle of its hour, HH - 0.5 h UT
(HH 14 of 1 July: 13:00-14:00 UT, so 13:30 UT = 15:30 CEST), and given in Dutch
civil time (``geo.solar.DUTCH_TIME_ZONE``). That is exact for FH and Q (means
over the hour). T and U are observed at HH UT, so they are placed 30 minutes
before they were measured: on a clear summer morning, with the temperature
rising by 1-2 K an hour, the value at a mid-hour instant is 0.5-1 K too warm
(and too dry) by this choice; around the afternoon maximum the error is small.
A station-day is KNMI's date: HH 1-24, 00-24 UT, so its hours run from 00:30 UT
to 23:30 UT (02:30 CEST on the day to 01:30 CEST on the next in summer).

The module is the ``knmi_hourly`` adapter (``sources.knmi_hourly: {path:
uurgeg_283_2011-2020.txt}``): it fills the source ``weather_hourly`` with the
table of every station-hour in the file; :func:`station_hours` turns one
station-day into a :class:`geo.weather_day.ReferenceDay`.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
from pyproj import CRS

from geo.errors import ConfigError, SourceError
from geo.knmi import TENTHS, read_knmi_columns, station_date_rows, station_table_result
from geo.report import AdapterResult, SourceReport
from geo.solar import DUTCH_TIME_ZONE
from geo.weather_day import ReferenceDay, WeatherHour

#: Name of the source the adapter fills.
WEATHER_HOURLY_SOURCE = "weather_hourly"
#: Columns of the KNMI hourly file this reader needs.
KNMI_HOURLY_COLUMNS: tuple[str, ...] = ("STN", "YYYYMMDD", "HH", "FH", "T", "Q", "U")
#: Columns read when the file has them.
KNMI_HOURLY_OPTIONAL: tuple[str, ...] = ("P",)
#: The fields a reference hour needs.
HOUR_FIELDS: tuple[str, ...] = ("FH", "T", "Q", "U")
#: Hours of a KNMI day (HH = the hour ending at HH UT).
HOURS_PER_DAY = 24
#: Q is a sum over the hour in J/cm2: times 1e4 cm2/m2 over 3600 s gives the hour's mean in W/m2.
J_CM2_PER_HOUR_TO_W_M2 = 1.0e4 / 3_600.0
#: Where in its hour a value is put: the middle (see the module docstring).
MID_HOUR = timedelta(minutes=30)
#: Hours named at most in one message.
_NAMED = 8
#: Reference of the file format and the variables.
KNMI_HOURLY = (
    "KNMI, Uurgegevens van het weer in Nederland (uurgeg_<STN>_<period>.txt; columns STN, YYYYMMDD, HH (hour "
    "ending at HH UT), FH in 0.1 m/s, T in 0.1 degC, Q in J/cm2, U in %), "
    "https://www.knmi.nl/nederland-nu/klimatologie/uurgegevens"
)


def read_knmi_hourly(path: Path) -> pd.DataFrame:
    """Every station-hour of a KNMI hourly-data file, in the file's units (see the module docstring).

    Returns:
        one row per station-hour: ``STN`` and ``YYYYMMDD`` (int), ``HH``, ``FH``, ``T``,
        ``Q``, ``U`` and ``P`` as floats (NaN where the file leaves the field empty; ``P``
        all NaN when the file has no such column); ``attrs["path"]`` is the file.

    Raises:
        SourceError: the file is missing or unreadable, has no column line, lacks one of
            :data:`KNMI_HOURLY_COLUMNS`, or a data line does not fit the columns.
    """
    return read_knmi_columns(path, KNMI_HOURLY_COLUMNS, kind="hourly", optional=KNMI_HOURLY_OPTIONAL)


def _hour_name(hh: int) -> str:
    """``HH 14 (13-14 UT)``."""
    return f"HH {hh} ({hh - 1:02d}-{hh:02d} UT)"


def _listed(items: list[str]) -> str:
    """At most :data:`_NAMED` items, comma separated, with the count of the rest."""
    more = f" and {len(items) - _NAMED} more" if len(items) > _NAMED else ""
    return ", ".join(items[:_NAMED]) + more


def _checked_hours(rows: pd.DataFrame, path: str, where: str) -> pd.DataFrame:
    """The day's rows by hour 1-24, or a SourceError naming bad, repeated or missing hours and empty fields."""
    hh = rows["HH"]
    bad = sorted({f"{v:g}" for v in hh if not (math.isfinite(v) and v == int(v) and 1 <= v <= HOURS_PER_DAY)})
    if bad:
        raise SourceError(path, f"{where}: HH {', '.join(bad)} is not an hour 1-{HOURS_PER_DAY}")
    rows = rows.assign(HH=hh.astype("int64")).sort_values("HH")
    repeated = sorted(set(rows["HH"][rows["HH"].duplicated()]))
    if repeated:
        raise SourceError(path, f"{where}: {_listed([_hour_name(h) for h in repeated])} more than once in the file")
    missing = sorted(set(range(1, HOURS_PER_DAY + 1)) - set(rows["HH"]))
    if missing:
        raise SourceError(path, f"{where}: the file holds {len(rows)} of the {HOURS_PER_DAY} hours; missing "
                                f"{_listed([_hour_name(h) for h in missing])}")
    empty = [f"{field} at {_hour_name(int(row['HH']))}" for _, row in rows.iterrows()
             for field in HOUR_FIELDS if not math.isfinite(float(row[field]))]
    if empty:
        raise SourceError(path, f"{where}: no value (empty in the file) for {_listed(empty)}")
    return rows


def station_hours(table: pd.DataFrame, station: int, day: date) -> ReferenceDay:
    """The 24 hours of ``station`` on ``day`` (KNMI's date, 00-24 UT) from a table of :func:`read_knmi_hourly`.

    Each hour HH becomes a :class:`geo.weather_day.WeatherHour` at HH - 0.5 h UT in
    Dutch civil time, with ta = T/10 degC, rh = U %, wind = FH/10 m/s at 10 m and
    global = Q * 1e4 / 3600 W/m2 (module docstring).

    Raises:
        SourceError: naming the file, the station and the date: the station is not in
            the file (listing those it holds), the date is not (giving the station's
            range), an hour is missing, repeated or not 1-24, a needed field (FH, T, Q,
            U) of an hour is empty (naming the hour), or a value is out of its plausible range.
    """
    path = str(table.attrs.get("path", "KNMI hourly data"))
    where = f"station {station} on {day.isoformat()}"
    rows = _checked_hours(station_date_rows(table, station, day, where), path, where)
    midnight_ut = datetime(day.year, day.month, day.day, tzinfo=UTC)
    zone = ZoneInfo(DUTCH_TIME_ZONE)
    hours = []
    for _, row in rows.iterrows():
        hh = int(row["HH"])
        item = WeatherHour(
            when=(midnight_ut + timedelta(hours=hh) - MID_HOUR).astimezone(zone),
            ta_c=float(row["T"]) / TENTHS,
            rh_pct=float(row["U"]),
            wind_m_s=float(row["FH"]) / TENTHS,
            global_w_m2=float(row["Q"]) * J_CM2_PER_HOUR_TO_W_M2,
        )
        try:
            item.check(f"{where}, {_hour_name(hh)} at")
        except ConfigError as exc:
            raise SourceError(path, str(exc)) from None
        hours.append(item)
    source = (f"KNMI hourly data (uurgegevens), station {station}, {day.isoformat()} (HH 1-24 = 00-24 UT; every "
              f"value at the middle of its hour), file {Path(path).name}")
    return ReferenceDay(day=day, hours=tuple(hours), source=source, station=int(station))


def read_knmi_hourly_source(path: Path, region_crs: CRS | None, report: SourceReport) -> AdapterResult:
    """The ``knmi_hourly`` adapter: the source ``weather_hourly`` (a table, no geometry; ``region_crs`` is unused).

    Raises:
        SourceError: see :func:`read_knmi_hourly`.
    """
    return station_table_result(read_knmi_hourly(path), WEATHER_HOURLY_SOURCE, "hourly", "station_hours", report)
