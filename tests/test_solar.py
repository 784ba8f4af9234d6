"""Solar position against published values."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from geo.solar import local_times, sun_position


def test_matches_nrel_spa_reference_example() -> None:
    # Reda & Andreas (2004), Solar Position Algorithm for Solar Radiation Applications, NREL/TP-560-34302,
    # table A5.1: 17 Oct 2003 12:30:30 at UTC-7, 39.742476 N 105.1786 W -> topocentric zenith 50.11162 deg,
    # azimuth 194.34024 deg (east of north). Parallax (0.002 deg) and the 820 hPa refraction are not modelled.
    when = datetime(2003, 10, 17, 12, 30, 30, tzinfo=timezone(timedelta(hours=-7)))
    sun = sun_position(when, 39.742476, -105.1786)
    assert 90.0 - sun.elevation_deg == pytest.approx(50.11162, abs=0.01)
    assert sun.azimuth_deg == pytest.approx(194.34024, abs=0.01)


def test_summer_solstice_noon_elevation_is_90_minus_latitude_plus_obliquity() -> None:
    day = [
        sun_position(datetime(2024, 6, 20, 11, 0, tzinfo=UTC) + timedelta(minutes=m), 52.0, 0.0, refraction=False)
        for m in range(120)
    ]
    top = max(day, key=lambda s: s.elevation_deg)
    assert top.elevation_deg == pytest.approx(90.0 - 52.0 + 23.44, abs=0.02)
    assert top.azimuth_deg == pytest.approx(180.0, abs=0.5)


def test_refraction_lifts_a_low_sun_by_a_third_of_a_degree() -> None:
    when = datetime(2024, 3, 20, 17, 40, tzinfo=UTC)  # a quarter of an hour before sunset in the Netherlands
    true = sun_position(when, 52.0, 5.0, refraction=False)
    apparent = sun_position(when, 52.0, 5.0)
    assert -1.0 < true.elevation_deg < 2.0
    assert 0.2 < apparent.elevation_deg - true.elevation_deg < 0.6


def test_afternoon_hours_on_1_july_in_dutch_summer_time() -> None:
    moments = local_times(date(2025, 7, 1), 12, 18, 30)
    assert len(moments) == 13
    assert moments[0].astimezone(UTC).hour == 10 and moments[-1].astimezone(UTC).hour == 16
    suns = [sun_position(m, 52.0, 5.9) for m in moments]
    azimuths = [s.azimuth_deg for s in suns]
    assert azimuths == sorted(azimuths) and azimuths[0] < 180 < azimuths[-1]  # east of south to west
    assert all(30 < s.elevation_deg < 62 for s in suns)


def test_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        sun_position(datetime(2025, 7, 1, 12), 52.0, 5.0)
    with pytest.raises(ValueError, match="step_minutes"):
        local_times(date(2025, 7, 1), 12, 18, 0)
