# ruff: noqa: E501
# (the data lines of the KNMI layout are 155 characters wide)
"""KNMI hourly data (geo.knmi_hourly): a hand-written file in KNMI's layout -> a known reference day; bad input named.

The hour instants: HH is the hour ending at HH UT; every value is put at the middle of its hour (HH - 0.5 h UT),
in Dutch civil time (CEST, UT + 2 h, on 1 July).
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from geo.errors import ConfigError, SourceError
from geo.knmi_hourly import WEATHER_HOURLY_SOURCE, read_knmi_hourly, station_hours
from layers.config import parse_config
from layers.sources import SourceSet

AMSTERDAM = ZoneInfo("Europe/Amsterdam")

#: The layout of KNMI's uurgeg_<STN>_<period>.txt / script answer: a '#' header, the column line, padded data lines.
#: Values are made up for the test (not measured data). Hupsel (283) 2015-07-01, all 24 hours; HH 14 (13-14 UT):
#: FH 25 (2.5 m/s), T 331 (33.1 degC), Q 300 J/cm2 (833.3 W/m2), U 35 %. Hupsel has no pressure: P is empty
#: (as are T10N, VV, N, WW). Then three hours of Hupsel on 2 July and three of De Bilt (260) on 1 July, with P.
KNMI_HOURLY_TEXT = """\
# BRON: KONINKLIJK NEDERLANDS METEOROLOGISCH INSTITUUT (KNMI)
# Opmerking: door stationsverplaatsingen en veranderingen in waarneemmethodieken zijn deze tijdreeksen van \
uurwaarden mogelijk inhomogeen!
#
# STN         LON(east)   LAT(north)  ALT(m)      NAME
# 283         6.657       52.069      29.10       Hupsel
# 260         5.180       52.100      1.90        De Bilt
#
# YYYYMMDD = datum (YYYY=jaar,MM=maand,DD=dag) / date (YYYY=year,MM=month,DD=day)
# HH       = tijd (HH=uur, UT.12 UT=13 MET, 14 MEZT. Uurvak 05 loopt van 04.00 UT tot 5.00 UT / time (HH uur/hour, \
UT. 12 UT=13 MET, 14 MEZT. Hourly division 05 runs from 04.00 UT to 5.00 UT
# FH       = Uurgemiddelde windsnelheid (in 0.1 m/s) / Hourly mean wind speed (in 0.1 m/s)
# T        = Temperatuur (in 0.1 graden Celsius) op 1.50 m hoogte tijdens de waarneming / Temperature (in 0.1 \
degrees Celsius) at 1.50 m at the time of observation
# Q        = Globale straling (in J/cm2) per uurvak / Global radiation (in J/cm2) during the hourly division
# P        = Luchtdruk (in 0.1 hPa) herleid naar zeeniveau, tijdens de waarneming / Air pressure (in 0.1 hPa) \
reduced to mean sea level, at the time of observation
# U        = Relatieve vochtigheid (in procenten) op 1.50 m hoogte tijdens de waarneming / Relative atmospheric \
humidity (in percents) at 1.50 m at the time of observation
#
# STN,YYYYMMDD,   HH,   DD,   FH,   FF,   FX,    T,  T10N,   TD,   SQ,    Q,    DR,   RH,    P,    VV,    N,    U,   WW,   IX,    M,    R,    S,    O,    Y
#
  283,20150701,    1,   90,   20,   20,   50,  180,      ,   90,    0,    0,     0,    0,     ,      ,     ,   85,     ,    6,     ,    0,    0,    0,    0
  283,20150701,    2,   90,   20,   20,   50,  172,      ,   82,    0,    0,     0,    0,     ,      ,     ,   87,     ,    6,     ,    0,    0,    0,    0
  283,20150701,    3,   90,   20,   20,   50,  165,      ,   75,    0,    0,     0,    0,     ,      ,     ,   89,     ,    6,     ,    0,    0,    0,    0
  283,20150701,    4,   90,   20,   20,   50,  160,      ,   70,    0,    2,     0,    0,     ,      ,     ,   90,     ,    6,     ,    0,    0,    0,    0
  283,20150701,    5,   90,   20,   20,   50,  165,      ,   75,    0,   15,     0,    0,     ,      ,     ,   88,     ,    6,     ,    0,    0,    0,    0
  283,20150701,    6,   90,   20,   20,   50,  185,      ,   95,    0,   45,     0,    0,     ,      ,     ,   82,     ,    6,     ,    0,    0,    0,    0
  283,20150701,    7,   90,   20,   20,   50,  210,      ,  120,    0,   95,     0,    0,     ,      ,     ,   74,     ,    6,     ,    0,    0,    0,    0
  283,20150701,    8,   90,   30,   30,   60,  235,      ,  145,    0,  150,     0,    0,     ,      ,     ,   66,     ,    6,     ,    0,    0,    0,    0
  283,20150701,    9,   90,   30,   30,   60,  260,      ,  170,   10,  205,     0,    0,     ,      ,     ,   58,     ,    6,     ,    0,    0,    0,    0
  283,20150701,   10,   90,   30,   30,   60,  282,      ,  192,   10,  250,     0,    0,     ,      ,     ,   51,     ,    6,     ,    0,    0,    0,    0
  283,20150701,   11,   90,   30,   30,   60,  300,      ,  210,   10,  283,     0,    0,     ,      ,     ,   45,     ,    6,     ,    0,    0,    0,    0
  283,20150701,   12,   90,   30,   30,   60,  315,      ,  225,   10,  305,     0,    0,     ,      ,     ,   40,     ,    6,     ,    0,    0,    0,    0
  283,20150701,   13,   90,   30,   30,   60,  325,      ,  235,   10,  300,     0,    0,     ,      ,     ,   37,     ,    6,     ,    0,    0,    0,    0
  283,20150701,   14,   90,   25,   25,   55,  331,      ,  241,   10,  300,     0,    0,     ,      ,     ,   35,     ,    6,     ,    0,    0,    0,    0
  283,20150701,   15,   90,   25,   25,   55,  333,      ,  243,   10,  275,     0,    0,     ,      ,     ,   34,     ,    6,     ,    0,    0,    0,    0
  283,20150701,   16,   90,   25,   25,   55,  330,      ,  240,   10,  240,     0,    0,     ,      ,     ,   34,     ,    6,     ,    0,    0,    0,    0
  283,20150701,   17,   90,   25,   25,   55,  322,      ,  232,   10,  190,     0,    0,     ,      ,     ,   35,     ,    6,     ,    0,    0,    0,    0
  283,20150701,   18,   90,   25,   25,   55,  308,      ,  218,    0,  135,     0,    0,     ,      ,     ,   38,     ,    6,     ,    0,    0,    0,    0
  283,20150701,   19,   90,   20,   20,   50,  285,      ,  195,    0,   80,     0,    0,     ,      ,     ,   44,     ,    6,     ,    0,    0,    0,    0
  283,20150701,   20,   90,   20,   20,   50,  260,      ,  170,    0,   30,     0,    0,     ,      ,     ,   52,     ,    6,     ,    0,    0,    0,    0
  283,20150701,   21,   90,   20,   20,   50,  238,      ,  148,    0,    5,     0,    0,     ,      ,     ,   60,     ,    6,     ,    0,    0,    0,    0
  283,20150701,   22,   90,   20,   20,   50,  220,      ,  130,    0,    0,     0,    0,     ,      ,     ,   67,     ,    6,     ,    0,    0,    0,    0
  283,20150701,   23,   90,   20,   20,   50,  205,      ,  115,    0,    0,     0,    0,     ,      ,     ,   72,     ,    6,     ,    0,    0,    0,    0
  283,20150701,   24,   90,   20,   20,   50,  192,      ,  102,    0,    0,     0,    0,     ,      ,     ,   76,     ,    6,     ,    0,    0,    0,    0
  283,20150702,    1,   90,   20,   20,   50,  185,      ,   95,    0,    0,     0,    0,     ,      ,     ,   80,     ,    6,     ,    0,    0,    0,    0
  283,20150702,    2,   90,   20,   20,   50,  180,      ,   90,    0,    0,     0,    0,     ,      ,     ,   81,     ,    6,     ,    0,    0,    0,    0
  283,20150702,    3,   90,   20,   20,   50,  175,      ,   85,    0,    0,     0,    0,     ,      ,     ,   82,     ,    6,     ,    0,    0,    0,    0
  260,20150701,   13,   90,   40,   40,   70,  323,      ,  233,   10,  290,     0,    0,10138,      ,     ,   40,     ,    6,     ,    0,    0,    0,    0
  260,20150701,   14,   90,   35,   35,   65,  329,      ,  239,   10,  290,     0,    0,10137,      ,     ,   38,     ,    6,     ,    0,    0,    0,    0
  260,20150701,   15,   90,   35,   35,   65,  331,      ,  241,   10,  265,     0,    0,10136,      ,     ,   37,     ,    6,     ,    0,    0,    0,    0
"""
#: The file name KNMI gives the decade file of Hupsel.
FILE_NAME = "uurgeg_283_2011-2020.txt"
#: The data line of Hupsel's HH 14 on 2015-07-01 (to edit in the error cases).
HH14 = "  283,20150701,   14,   90,   25,   25,   55,  331,"
HUPSEL_DAY = date(2015, 7, 1)


def write_knmi_hourly(folder: Path, text: str = KNMI_HOURLY_TEXT, name: str = FILE_NAME) -> Path:
    """A KNMI hourly-data file in ``folder`` (latin-1, as KNMI serves it)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="latin-1")
    return path


def test_the_file_reads_every_station_hour_in_the_files_units(tmp_path: Path) -> None:
    table = read_knmi_hourly(write_knmi_hourly(tmp_path))
    assert len(table) == 24 + 3 + 3 and sorted(table["STN"].unique()) == [260, 283]
    assert list(table.columns) == ["STN", "YYYYMMDD", "HH", "FH", "T", "Q", "U", "P"]
    row = table[(table["STN"] == 283) & (table["YYYYMMDD"] == 20150701) & (table["HH"] == 14)].iloc[0]
    assert (row["FH"], row["T"], row["Q"], row["U"]) == (25.0, 331.0, 300.0, 35.0)
    assert math.isnan(row["P"])  # the empty field
    assert table[table["STN"] == 260]["P"].tolist() == [10138.0, 10137.0, 10136.0]
    assert table.attrs["path"].endswith(FILE_NAME)


def test_a_station_day_gives_the_known_hours_in_dutch_time(tmp_path: Path) -> None:
    day = station_hours(read_knmi_hourly(write_knmi_hourly(tmp_path)), 283, HUPSEL_DAY)
    assert day.day == HUPSEL_DAY and day.station == 283 and len(day.hours) == 24
    hh14 = day.hours[13]
    # HH 14 is 13:00-14:00 UT; its middle 13:30 UT is 15:30 CEST (UT + 2 h).
    assert hh14.when == datetime(2015, 7, 1, 13, 30, tzinfo=UTC)
    assert hh14.when.utcoffset() == timedelta(hours=2)
    assert (hh14.when.hour, hh14.when.minute, hh14.when.tzinfo) == (15, 30, AMSTERDAM)
    assert hh14.ta_c == pytest.approx(33.1)
    assert hh14.global_w_m2 == pytest.approx(300 * 1e4 / 3600) and hh14.global_w_m2 == pytest.approx(833.33, abs=0.01)
    assert hh14.wind_m_s == pytest.approx(2.5)
    assert hh14.rh_pct == pytest.approx(35.0)
    # The KNMI day runs 00-24 UT: from 02:30 CEST on the day to 01:30 CEST on the next.
    assert day.hours[0].when == datetime(2015, 7, 1, 2, 30, tzinfo=AMSTERDAM)
    assert day.hours[-1].when == datetime(2015, 7, 2, 1, 30, tzinfo=AMSTERDAM)
    assert [h.when for h in day.hours] == sorted(h.when for h in day.hours)
    # Between two hours ReferenceDay.at is linear: 16:00 CEST is halfway between HH 14 and HH 15.
    at_16 = day.at(datetime(2015, 7, 1, 16, 0, tzinfo=AMSTERDAM))
    assert at_16.ta_c == pytest.approx((33.1 + 33.3) / 2)
    assert at_16.global_w_m2 == pytest.approx((300 + 275) / 2 * 1e4 / 3600)
    assert "KNMI" in day.source and "station 283" in day.source and "2015-07-01" in day.source
    assert FILE_NAME in day.source
    described = day.describe()
    assert described["station"] == 283 and described["hours"][13]["time"] == "2015-07-01T15:30:00+02:00"


def test_a_file_without_hash_before_the_header_lines_reads_the_same(tmp_path: Path) -> None:
    # The uurgeg files put the free text without '#'; only the column line matters.
    text = "\n".join(line.removeprefix("# ") if not line.startswith("# STN,") else line
                     for line in KNMI_HOURLY_TEXT.splitlines())
    day = station_hours(read_knmi_hourly(write_knmi_hourly(tmp_path, text)), 283, HUPSEL_DAY)
    assert day.hours[13].ta_c == pytest.approx(33.1)


def test_a_file_without_a_pressure_column_reads(tmp_path: Path) -> None:
    lines = [",".join(f for i, f in enumerate(line.split(",")) if i != 14) if line.startswith(("# STN,", "  2"))
             else line for line in KNMI_HOURLY_TEXT.splitlines()]
    assert lines[15].startswith("# STN,") and ",    P," not in lines[15]
    table = read_knmi_hourly(write_knmi_hourly(tmp_path, "\n".join(lines)))
    assert table["P"].isna().all() and table["U"].iloc[13] == 35.0
    assert station_hours(table, 283, HUPSEL_DAY).hours[13].rh_pct == pytest.approx(35.0)


@pytest.mark.parametrize(("station", "day", "words"), [
    (240, HUPSEL_DAY, r"uurgeg_283_2011-2020\.txt: station 240 on 2015-07-01: station 240 is not in the file "
                      r"\(it holds station\(s\) 260, 283\)"),
    (283, date(2015, 8, 1), r"uurgeg_283_2011-2020\.txt: station 283 on 2015-08-01: the date is not in the file "
                            r"\(station 283 runs 20150701 to 20150702\)"),
    (283, date(2015, 7, 2), r"uurgeg_283_2011-2020\.txt: station 283 on 2015-07-02: the file holds 3 of the 24 "
                            r"hours; missing HH 4 \(03-04 UT\), HH 5 \(04-05 UT\), .* and 13 more"),
    (260, HUPSEL_DAY, r"uurgeg_283_2011-2020\.txt: station 260 on 2015-07-01: the file holds 3 of the 24 hours; "
                      r"missing HH 1 \(00-01 UT\)"),
])
def test_a_station_day_not_in_the_file_names_file_station_and_date(
    tmp_path: Path, station: int, day: date, words: str
) -> None:
    table = read_knmi_hourly(write_knmi_hourly(tmp_path))
    with pytest.raises(SourceError, match=words):
        station_hours(table, station, day)


@pytest.mark.parametrize(("edit", "words"), [
    # T of HH 14 empty.
    ((HH14, HH14.replace("  331,", "     ,")), r"station 283 on 2015-07-01: no value \(empty in the file\) for "
                                              r"T at HH 14 \(13-14 UT\)$"),
    # Q of HH 14 empty.
    ((HH14 + "      ,  241,   10,  300,", HH14 + "      ,  241,   10,     ,"), r"for Q at HH 14 \(13-14 UT\)$"),
    # HH 14 twice (HH 15 written as 14).
    (("  283,20150701,   15,", "  283,20150701,   14,"), r"station 283 on 2015-07-01: HH 14 \(13-14 UT\) more than "
                                                        r"once in the file"),
    # An hour that is none.
    (("  283,20150701,   15,", "  283,20150701,   25,"), r"HH 25 is not an hour 1-24"),
    # An impossible temperature (99.9 degC).
    ((HH14, HH14.replace("  331,", "  999,")), r"station 283 on 2015-07-01, HH 14 \(13-14 UT\) at "
                                              r"2015-07-01T15:30:00\+02:00: ta_c = 99\.9 is outside"),
])
def test_a_bad_hour_names_file_station_date_and_hour(tmp_path: Path, edit: tuple[str, str], words: str) -> None:
    old, new = edit
    assert KNMI_HOURLY_TEXT.count(old) == 1
    table = read_knmi_hourly(write_knmi_hourly(tmp_path, KNMI_HOURLY_TEXT.replace(old, new)))
    with pytest.raises(SourceError, match=r"uurgeg_283_2011-2020\.txt: .*" + words):
        station_hours(table, 283, HUPSEL_DAY)


def test_a_file_without_a_needed_column_names_it(tmp_path: Path) -> None:
    text = KNMI_HOURLY_TEXT.replace(",    U,", ",    X,")
    with pytest.raises(SourceError, match=r"uurgeg_283_2011-2020\.txt: KNMI hourly data without column\(s\) U \(line "
                                          r"16 has STN, YYYYMMDD, HH, .*\)"):
        read_knmi_hourly(write_knmi_hourly(tmp_path, text))


def test_a_file_that_is_no_knmi_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"weer\.csv: no KNMI column line .*not a KNMI hourly-data file"):
        read_knmi_hourly(write_knmi_hourly(tmp_path, "date,hour,temp\n2015-07-01,14,33.1\n", "weer.csv"))
    with pytest.raises(SourceError, match=r"missing\.txt: cannot read the KNMI hourly data"):
        read_knmi_hourly(tmp_path / "missing.txt")


def test_the_config_takes_knmi_hourly_and_rejects_unknown_keys(tmp_path: Path) -> None:
    cfg = parse_config({"region": {"name": "Achterhoek"}, "sources": {"knmi_hourly": {"path": FILE_NAME}}},
                       tmp_path, "regio.yaml")
    assert cfg.sources.knmi_hourly is not None and cfg.sources.knmi_hourly.path == Path(FILE_NAME)
    assert cfg.source_providers() == {WEATHER_HOURLY_SOURCE: "knmi_hourly"}
    for bad, words in (({"pth": FILE_NAME}, r"sources\.knmi_hourly\.pth: unknown key"),
                       ({"path": FILE_NAME, "station": 283}, r"sources\.knmi_hourly\.station: unknown key"),
                       ({}, r"sources\.knmi_hourly\.path: required key is missing")):
        with pytest.raises(ConfigError, match=words):
            parse_config({"region": {"name": "Achterhoek"}, "sources": {"knmi_hourly": bad}}, tmp_path, "regio.yaml")


def test_the_sources_loader_yields_the_table(tmp_path: Path) -> None:
    write_knmi_hourly(tmp_path)
    cfg = parse_config({"region": {"name": "Achterhoek"}, "sources": {"knmi_hourly": {"path": FILE_NAME}}},
                       tmp_path, "regio.yaml")
    sources = SourceSet(cfg)
    table = sources.load(WEATHER_HOURLY_SOURCE)
    assert isinstance(table, pd.DataFrame) and len(table) == 30
    assert station_hours(table, 283, HUPSEL_DAY).hours[13].ta_c == pytest.approx(33.1)
    report = next(r for r in sources.reports if r.source == "knmi_hourly")
    assert report.counts["station_hours"] == 30
    assert any("station(s) 260, 283, 20150701 to 20150702" in note for note in report.notes)
    digest = sources.digest(WEATHER_HOURLY_SOURCE)
    # The digest follows the file's bytes.
    write_knmi_hourly(tmp_path, KNMI_HOURLY_TEXT.replace("  331,", "  332,"))
    assert SourceSet(cfg).digest(WEATHER_HOURLY_SOURCE) != digest
    (tmp_path / FILE_NAME).unlink()
    with pytest.raises(SourceError, match=r"uurgeg_283_2011-2020\.txt: cannot read the KNMI hourly data"):
        SourceSet(cfg).load(WEATHER_HOURLY_SOURCE)
