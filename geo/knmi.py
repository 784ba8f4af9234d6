"""KNMI daily station data ("daggegevens") as the weather of ``uhi_max`` (Theeuwes et al. 2017).

The file is the one KNMI publishes per station (``etmgeg_<STN>.txt`` in
``https://cdn.knmi.nl/knmi/map/page/klimatologie/gegevens/daggegevens/etmgeg_<STN>.zip``)
or the answer of the daily-data script interface
(``https://www.daggegevens.knmi.nl/klimatologie/daggegevens``, any selection of
stations and variables). Both have the same layout:

* a free-text header (source, the station list ``STN LON(east) LAT(north)
  ALT(m) NAME``, one line per variable ``FG = Etmaalgemiddelde windsnelheid (in
  0.1 m/s)``), its lines starting with ``#`` in the script's answer and partly
  without in the ``etmgeg`` files;
* one column line ``# STN,YYYYMMDD,DDVEC,FHVEC,   FG,  FHX, ...``: comma
  separated, names padded with spaces, the first one prefixed ``# ``;
* data lines ``  283,20190725,  ...``: one station-day each, values
  comma separated and right-aligned with spaces, an empty field where
  the value is missing; integers in the units of the header.

Read here (the rest is ignored):

==========  ==========================================  ================
column      meaning (KNMI)                              unit in the file
==========  ==========================================  ================
STN         station number (283 Hupsel, 260 De Bilt)    -
YYYYMMDD    date; the day runs 00-24 UT                 -
FG          daily mean wind speed (10 m)                0.1 m/s
TN          minimum temperature (1.5 m)                 0.1 degC
TX          maximum temperature (1.5 m)                 0.1 degC
Q           global radiation, daily sum                 J/cm2
==========  ==========================================  ================

Theeuwes et al. (2017) take S as the daily mean incoming shortwave radiation
over rho * c_p, DTR as the daily temperature range and U as the daily mean
10 m wind, all at a rural reference station. Here: S from ``Q * 1e4 / 86400``
(W/m2, the 24 h mean of the daily sum), DTR = ``(TX - TN) / 10`` K and
U = ``FG / 10`` m/s.

The hourly files ("uurgegevens", ``geo.knmi_hourly``) have the same layout and
share the reader :func:`read_knmi_columns`.

The module is the ``knmi`` adapter (``sources.knmi: {path: etmgeg_283.txt}``):
it fills the source ``weather`` with the table of every station-day in the file.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
from pyproj import CRS

from geo.errors import SourceError
from geo.report import AdapterResult, SourceReport

#: Name of the source the adapter fills.
WEATHER_SOURCE = "weather"
#: Columns of the KNMI daily file this reader needs.
KNMI_COLUMNS: tuple[str, ...] = ("STN", "YYYYMMDD", "FG", "TN", "TX", "Q")
#: KNMI stores wind and temperature in tenths (0.1 m/s, 0.1 degC).
TENTHS = 10.0
#: Q is a daily sum in J/cm2: times 1e4 cm2/m2 over 86 400 s gives the 24 h mean in W/m2.
J_CM2_PER_DAY_TO_W_M2 = 1.0e4 / 86_400.0
#: Hupsel (Achterhoek), the KNMI station of the Achterhoek.
HUPSEL = 283
#: Reference of the file format and the variables.
KNMI_DAILY = (
    "KNMI, Daggegevens van het weer in Nederland (etmgeg_<STN>.txt; columns STN, YYYYMMDD, FG in 0.1 m/s, "
    "TN and TX in 0.1 degC, Q in J/cm2), https://www.knmi.nl/nederland-nu/klimatologie/daggegevens"
)


@dataclass(frozen=True)
class StationDay:
    """The weather terms of one KNMI station-day.

    Attributes:
        station: KNMI station number (STN).
        day: the date (YYYYMMDD, 00-24 UT).
        global_radiation_w_m2: 24 h mean global radiation (W/m2), from Q.
        dtr_k: daily temperature range TX - TN (K).
        wind_m_s: daily mean 10 m wind speed (m/s), from FG.
        path: the file it was read from.
    """

    station: int
    day: date
    global_radiation_w_m2: float
    dtr_k: float
    wind_m_s: float
    path: str

    def describe(self) -> dict[str, Any]:
        """For the layer metadata: where the weather comes from and its raw values."""
        return {
            "source": f"KNMI station {self.station}, {self.day.isoformat()} (daily data, 00-24 UT)",
            "file": Path(self.path).name,
            "station": self.station,
            "date": self.day.isoformat(),
            "Q_j_cm2": round(self.global_radiation_w_m2 / J_CM2_PER_DAY_TO_W_M2, 1),
            "global_radiation_w_m2": round(self.global_radiation_w_m2, 2),
            "dtr_k": round(self.dtr_k, 2),
            "wind_m_s": round(self.wind_m_s, 2),
            "reference": KNMI_DAILY,
        }


def _header(line: str) -> list[str] | None:
    """The column names when ``line`` is the column line (``# STN,YYYYMMDD,...``), else None."""
    text = line.lstrip("#").strip()
    names = [name.strip() for name in text.split(",")]
    return names if len(names) > 1 and names[0] == "STN" and names[1] == "YYYYMMDD" else None


def read_knmi_columns(
    path: Path, columns: tuple[str, ...], *, kind: str, optional: tuple[str, ...] = ()
) -> pd.DataFrame:
    """The ``columns`` of a KNMI station-data file (daily or hourly; the layout of the module docstring).

    Args:
        path: the file.
        columns: the columns needed, starting with ``STN`` and ``YYYYMMDD``.
        kind: ``daily`` or ``hourly``, for the messages.
        optional: further columns read when the file has them (all NaN when it has not).

    Returns:
        one row per data line: ``STN`` (int), ``YYYYMMDD`` (int) and the other columns
        as floats in the file's units (NaN where the file leaves the field empty);
        ``attrs["path"]`` is the file.

    Raises:
        SourceError: the file is missing or unreadable, has no column line, lacks
            one of ``columns``, or a data line does not fit the columns.
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="latin-1").splitlines()
    except OSError as exc:
        raise SourceError(path, f"cannot read the KNMI {kind} data ({exc.strerror})") from None
    names: list[str] | None = None
    wanted = (*columns, *optional)
    index: list[int | None] = []
    rows: list[list[float]] = []
    for number, line in enumerate(lines, start=1):
        if names is None:
            names = _header(line)
            if names is not None:
                missing = [c for c in columns if c not in names]
                if missing:
                    raise SourceError(path, f"KNMI {kind} data without column(s) {', '.join(missing)} (line "
                                            f"{number} has {', '.join(names)}); download them with the station")
                index = [names.index(c) if c in names else None for c in wanted]
            continue
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = line.split(",")
        if len(fields) < len(names):
            raise SourceError(path, f"line {number}: {len(fields)} fields where the column line has {len(names)}")
        try:
            rows.append([math.nan if i is None or not fields[i].strip() else float(fields[i]) for i in index])
        except ValueError:
            raise SourceError(path, f"line {number}: not a number in {line.strip()[:60]!r}") from None
    if names is None:
        raise SourceError(path, f"no KNMI column line ('# STN,YYYYMMDD,...'): not a KNMI {kind}-data file")
    table = pd.DataFrame(rows, columns=list(wanted))
    if table[["STN", "YYYYMMDD"]].isna().any().any():
        raise SourceError(path, "a data line without station number or date")
    table = table.astype({"STN": "int64", "YYYYMMDD": "int64"})
    table.attrs["path"] = str(path)
    return table


def read_knmi_daily(path: Path) -> pd.DataFrame:
    """Every station-day of a KNMI daily-data file, in the file's units (see the module docstring).

    Returns:
        one row per station-day: ``STN`` (int), ``YYYYMMDD`` (int) and the other
        :data:`KNMI_COLUMNS` as floats (NaN where the file leaves the field empty);
        ``attrs["path"]`` is the file.

    Raises:
        SourceError: the file is missing or unreadable, has no column line, lacks
            one of :data:`KNMI_COLUMNS`, or a data line does not fit the columns.
    """
    return read_knmi_columns(path, KNMI_COLUMNS, kind="daily")


def date_key(day: date) -> int:
    """``day`` as KNMI's YYYYMMDD integer."""
    return day.year * 10_000 + day.month * 100 + day.day


def station_date_rows(table: pd.DataFrame, station: int, day: date, where: str) -> pd.DataFrame:
    """The rows of ``station`` on ``day`` in a table of :func:`read_knmi_columns`.

    Raises:
        SourceError: naming the file and ``where``: the station is not in the file (listing
            those it holds), or the date is not (giving the station's first and last date).
    """
    path = table.attrs.get("path", "KNMI data")
    at_station = table[table["STN"] == station]
    if at_station.empty:
        held = ", ".join(str(s) for s in sorted(table["STN"].unique())) or "none"
        raise SourceError(path, f"{where}: station {station} is not in the file (it holds station(s) {held})")
    rows = at_station[at_station["YYYYMMDD"] == date_key(day)]
    if rows.empty:
        first, last = int(at_station["YYYYMMDD"].min()), int(at_station["YYYYMMDD"].max())
        raise SourceError(path, f"{where}: the date is not in the file (station {station} runs {first} to {last})")
    return rows


def station_day(table: pd.DataFrame, station: int, day: date) -> StationDay:
    """The weather terms of ``station`` on ``day`` from a table of :func:`read_knmi_daily`.

    Raises:
        SourceError: naming the file, the station and the date: the station or the
            date is not in the file, or the day's FG, TN, TX or Q is missing.
    """
    path = table.attrs.get("path", "KNMI daily data")
    where = f"station {station} on {day.isoformat()}"
    values = station_date_rows(table, station, day, where).iloc[0]
    empty = [c for c in ("FG", "TN", "TX", "Q") if not math.isfinite(float(values[c]))]
    if empty:
        raise SourceError(path, f"{where}: no value for {', '.join(empty)} (empty in the file)")
    tn, tx = float(values["TN"]) / TENTHS, float(values["TX"]) / TENTHS
    wind = float(values["FG"]) / TENTHS
    if wind <= 0:
        raise SourceError(path, f"{where}: FG is {wind:g} m/s; the heat-island formula divides by the wind speed")
    return StationDay(station=int(station), day=day, global_radiation_w_m2=float(values["Q"]) * J_CM2_PER_DAY_TO_W_M2,
                      dtr_k=tx - tn, wind_m_s=wind, path=str(path))


def read_knmi(path: Path, region_crs: CRS | None, report: SourceReport) -> AdapterResult:
    """The ``knmi`` adapter: the source ``weather`` (a table, no geometry; ``region_crs`` is unused).

    Raises:
        SourceError: see :func:`read_knmi_daily`.
    """
    return station_table_result(read_knmi_daily(path), WEATHER_SOURCE, "daily", "station_days", report)


def station_table_result(table: pd.DataFrame, source: str, kind: str, counted: str,
                         report: SourceReport) -> AdapterResult:
    """The adapter result of a KNMI station table: ``source`` filled, its rows counted, stations and dates noted.

    Args:
        table: the rows (``STN`` and ``YYYYMMDD`` columns).
        source: the source it fills (``weather``, ``weather_hourly``).
        kind: ``daily`` or ``hourly``, for the note.
        counted: the report's count name (``station_days``, ``station_hours``).
        report: the adapter's report.
    """
    report.count(counted, len(table))
    report.note(f"KNMI {kind} data: station(s) {', '.join(str(s) for s in sorted(table['STN'].unique()))}, "
                f"{int(table['YYYYMMDD'].min()) if len(table) else '-'} to "
                f"{int(table['YYYYMMDD'].max()) if len(table) else '-'}")
    return AdapterResult(sources={source: table}, report=report)
