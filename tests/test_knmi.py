"""KNMI daily data (geo.knmi): a hand-written file in KNMI's layout -> known S, DTR, U; bad input named."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from geo.errors import SourceError
from geo.knmi import read_knmi_daily, station_day

#: The layout of KNMI's etmgeg_<STN>.txt / script answer: a '#' header, the column line, padded data lines.
#: Values are made up for the test (not measured data). Hupsel 2019-07-25: FG 21 (2.1 m/s), TN 181, TX 379
#: (19.8 K range), Q 2700 J/cm2 (312.5 W/m2). 26 July has no Q (an empty last field).
KNMI_TEXT = """\
# BRON: KONINKLIJK NEDERLANDS METEOROLOGISCH INSTITUUT (KNMI)
# Opmerking: door stationsverplaatsingen en veranderingen in waarneemmethodieken zijn deze tijdreeksen van \
dagwaarden mogelijk inhomogeen!
#
# STN      LON(east)   LAT(north)     ALT(m)  NAME
# 283:         6.657       52.069      29.10  Hupsel
# 260:         5.180       52.100       1.90  De Bilt
# YYYYMMDD  = Datum (YYYY=jaar MM=maand DD=dag) / Date (YYYY=year MM=month DD=day)
# FG        = Etmaalgemiddelde windsnelheid (in 0.1 m/s) / Daily mean windspeed (in 0.1 m/s)
# TN        = Minimum temperatuur (in 0.1 graden Celsius) / Minimum temperature (in 0.1 degrees Celsius)
# TX        = Maximum temperatuur (in 0.1 graden Celsius) / Maximum temperature (in 0.1 degrees Celsius)
# Q         = Globale straling (in J/cm2) / Global radiation (in J/cm2)
#
# STN,YYYYMMDD,DDVEC,FHVEC,   FG,  FHX,   TG,   TN,  TNH,   TX,  TXH,   SQ,    Q
#
  283,20190724,  110,   25,   28,   50,  265,  160,    5,  357,   15,  140, 2650
  283,20190725,  120,   18,   21,   40,  280,  181,    5,  379,   15,  145, 2700
  283,20190726,  130,   20,   24,   40,  270,  190,    5,  350,   15,  120,
  260,20190725,  100,   20,   25,   45,  290,  200,    5,  375,   15,  140, 2600
"""


def write_knmi(folder: Path, text: str = KNMI_TEXT, name: str = "etmgeg_283.txt") -> Path:
    """A KNMI daily-data file in ``folder`` (latin-1, as KNMI serves it)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="latin-1")
    return path


def test_a_station_day_gives_known_s_dtr_and_u(tmp_path: Path) -> None:
    table = read_knmi_daily(write_knmi(tmp_path))
    assert len(table) == 4 and sorted(table["STN"].unique()) == [260, 283]
    day = station_day(table, 283, date(2019, 7, 25))
    assert day.global_radiation_w_m2 == pytest.approx(2700 * 1e4 / 86_400)  # 312.5 W/m2
    assert day.global_radiation_w_m2 == pytest.approx(312.5)
    assert day.dtr_k == pytest.approx(37.9 - 18.1)
    assert day.wind_m_s == pytest.approx(2.1)
    described = day.describe()
    assert described["station"] == 283 and described["date"] == "2019-07-25" and described["Q_j_cm2"] == 2700.0
    assert described["file"] == "etmgeg_283.txt"
    # Another station in the same file.
    assert station_day(table, 260, date(2019, 7, 25)).dtr_k == pytest.approx(17.5)


def test_a_file_without_hash_before_the_header_lines_reads_the_same(tmp_path: Path) -> None:
    # The etmgeg files put the free text partly without '#'; only the column line matters.
    text = "\n".join(line.removeprefix("# ") if not line.startswith("# STN,") else line
                     for line in KNMI_TEXT.splitlines())
    day = station_day(read_knmi_daily(write_knmi(tmp_path, text)), 283, date(2019, 7, 25))
    assert (day.dtr_k, day.wind_m_s) == pytest.approx((19.8, 2.1))


@pytest.mark.parametrize(("station", "day", "words"), [
    (240, date(2019, 7, 25), r"etmgeg_283\.txt: station 240 on 2019-07-25: station 240 is not in the file "
                             r"\(it holds station\(s\) 260, 283\)"),
    (283, date(2019, 8, 1), r"etmgeg_283\.txt: station 283 on 2019-08-01: the date is not in the file "
                            r"\(station 283 runs 20190724 to 20190726\)"),
    (283, date(2019, 7, 26), r"etmgeg_283\.txt: station 283 on 2019-07-26: no value for Q"),
])
def test_a_station_day_not_in_the_file_names_file_station_and_date(
    tmp_path: Path, station: int, day: date, words: str
) -> None:
    table = read_knmi_daily(write_knmi(tmp_path))
    with pytest.raises(SourceError, match=words):
        station_day(table, station, day)


def test_a_file_without_a_needed_column_names_it(tmp_path: Path) -> None:
    text = KNMI_TEXT.replace(",    Q\n", "\n").replace(", 2650\n", "\n").replace(", 2700\n", "\n")
    with pytest.raises(SourceError, match=r"etmgeg_283\.txt: KNMI daily data without column\(s\) Q"):
        read_knmi_daily(write_knmi(tmp_path, text))


def test_a_file_that_is_no_knmi_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"no KNMI column line"):
        read_knmi_daily(write_knmi(tmp_path, "date,temp\n2019-07-25,37.9\n", "weer.csv"))
    with pytest.raises(SourceError, match=r"cannot read the KNMI daily data"):
        read_knmi_daily(tmp_path / "missing.txt")
