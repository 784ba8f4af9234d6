"""PET and Tmrt against known answers: pythermalcomfort's PET, a hand-computed radiation budget, the classes."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from geo.errors import ConfigError, LayerError
from geo.pet import (
    PET_CLASSES,
    STRONG_HEAT_STRESS_C,
    pet_class_index,
    pet_exact,
    pet_grid,
    pet_table,
)
from geo.solar import sun_position
from geo.tmrt import TmrtSurface, tmrt_hours
from geo.weather_day import reference_day
from layers.pet import LAYER, wind_at_person

LAT, LON = 52.0, 6.5
SIGMA = 5.67e-8
#: Standing person (SOLWEIG, Lindberg et al. 2008): angular factors up/down, sides, and the cylinder's direct beam.
F_UP, F_SIDE, F_CYL = 0.06, 0.22, 0.28
#: Absorption of shortwave and longwave by the person (SOLWEIG defaults).
A_K, A_L = 0.7, 0.97


@pytest.fixture(scope="module")
def flat_open() -> dict:
    """SOLWEIG on a flat, open asphalt square (60 m), the reference day 09:00-15:00, kept at 15:00."""
    n = 60
    ground = np.full((n, n), 5.0, dtype=np.float32)
    surface = TmrtSurface(ground, ground.copy(), np.zeros((n, n), np.float32), np.full((n, n), 1, np.uint8), 1.0)
    day = reference_day()
    steps = [(h, sun_position(h.when, LAT, LON)) for h in day.hours if 9 <= h.when.hour <= 15]
    moment = steps[-1][0].when
    run = tmrt_hours(surface, steps, [moment], LAT, LON, 50.0, extra=("shadow", "kdown", "kup", "ldown", "lup"))
    return {"run": run, "moment": moment, "hour": steps[-1][0], "sun": steps[-1][1]}


def test_pet_of_an_open_sunny_flat_cell_equals_pythermalcomfort(flat_open: dict) -> None:
    run, moment, hour = flat_open["run"], flat_open["moment"], flat_open["hour"]
    tmrt = float(run.tmrt[moment][30, 30])
    sky = float(run.sky_view[30, 30])
    assert sky > 0.99 and run.extra["shadow"][moment][30, 30] == pytest.approx(1.0)
    params = LAYER.resolve_params({}, "layers.pet")
    wind = float(wind_at_person(hour.wind_m_s, np.array([sky]), params)[0])
    got, clamped = pet_grid(pet_table(hour.ta_c, hour.rh_pct), np.array([tmrt]), np.array([wind]))
    want = float(pet_exact(hour.ta_c, hour.rh_pct, np.array([tmrt]), np.array([wind]))[0])
    assert clamped == 0
    assert float(got[0]) == pytest.approx(want, abs=0.1)
    # A sunny asphalt square at 15:00 on the hot day: Tmrt near 60 degC, PET strong heat stress or worse.
    assert 55.0 < tmrt < 68.0 and want >= STRONG_HEAT_STRESS_C


def test_tmrt_of_a_flat_open_surface_matches_the_hand_radiation_budget(flat_open: dict) -> None:
    """Tmrt = (S_str / (a_L sigma))^(1/4) - 273.15 with S_str of a standing person (Lindberg et al. 2008):
    a_K (I cos(h) F_cyl + (K_down + K_up) F_up + 4 K_side F_side) + a_L ((L_down + L_up) F_up + 4 L_side F_side),
    K_side = (D + K_up) / 2 and L_side = (L_down + L_up) / 2 on open flat ground, with the direct beam I and
    diffuse D of the hour's global radiation (SOLWEIG's split). Tolerance 0.5 degC."""
    import solweig

    run, moment, hour, sun = flat_open["run"], flat_open["moment"], flat_open["hour"], flat_open["sun"]
    f = {name: float(values[moment][30, 30]) for name, values in run.extra.items()}
    weather = solweig.Weather(datetime=hour.when.replace(tzinfo=None), ta=hour.ta_c, rh=hour.rh_pct,
                              global_rad=hour.global_w_m2, precomputed_sun_altitude=sun.elevation_deg,
                              precomputed_sun_azimuth=sun.azimuth_deg)
    weather.compute_derived(solweig.Location(latitude=LAT, longitude=LON, utc_offset=2))
    direct, diffuse = weather.direct_rad, weather.diffuse_rad
    # The horizontal budget itself: all of the global radiation arrives; the sky is cooler, the asphalt warmer
    # than the air.
    assert f["kdown"] == pytest.approx(hour.global_w_m2, rel=0.01)
    assert direct * np.sin(np.radians(sun.elevation_deg)) + diffuse == pytest.approx(hour.global_w_m2, rel=0.01)
    ta_k = hour.ta_c + 273.15
    assert 0.6 * SIGMA * ta_k**4 < f["ldown"] < SIGMA * ta_k**4 < f["lup"]
    k_side = 0.5 * (diffuse + f["kup"])
    l_side = 0.5 * (f["ldown"] + f["lup"])
    s_str = A_K * (direct * np.cos(np.radians(sun.elevation_deg)) * F_CYL + (f["kdown"] + f["kup"]) * F_UP
                   + 4 * k_side * F_SIDE) + A_L * ((f["ldown"] + f["lup"]) * F_UP + 4 * l_side * F_SIDE)
    hand = (s_str / (A_L * SIGMA)) ** 0.25 - 273.15
    assert float(run.tmrt[moment][30, 30]) == pytest.approx(hand, abs=0.5)


def test_the_pet_table_stays_within_a_tenth_of_a_degree_of_the_direct_solution() -> None:
    rng = np.random.default_rng(7)
    for ta, rh in ((29.0, 41.0), (32.5, 33.0)):
        table = pet_table(ta, rh)
        tmrt = rng.uniform(ta - 10, ta + 45, 25)
        wind = rng.uniform(0.5, 6.0, 25)
        got, clamped = pet_grid(table, tmrt, wind)
        assert clamped == 0
        np.testing.assert_allclose(got, pet_exact(ta, rh, tmrt, wind), atol=0.1)


def test_pet_outside_the_table_is_clamped_and_counted_and_nan_stays_nan() -> None:
    table = pet_table(30.0, 40.0)
    got, clamped = pet_grid(table, np.array([200.0, np.nan, 50.0]), np.array([1.0, 1.0, 1.0]))
    assert clamped == 1 and np.isnan(got[1]) and np.isfinite(got[0])


def test_pet_rises_with_tmrt_and_falls_with_wind() -> None:
    table = pet_table(30.0, 40.0)
    low, _ = pet_grid(table, np.array([40.0, 60.0]), np.array([1.0, 1.0]))
    assert low[1] > low[0] + 5
    windy, _ = pet_grid(table, np.array([60.0]), np.array([4.0]))
    assert windy[0] < low[1] - 2


def test_the_heat_stress_classes_of_the_atlas() -> None:
    assert [c.key for c in PET_CLASSES] == ["geen", "licht", "matig", "sterk", "extreem"]
    assert [c.label_nl for c in PET_CLASSES][3] == "sterke hittestress" and STRONG_HEAT_STRESS_C == 35.0
    idx = pet_class_index(np.array([22.99, 23.0, 28.9, 29.0, 35.0, 40.99, 41.0, np.nan]))
    assert idx.tolist() == [0, 1, 1, 2, 3, 3, 4, -1]


def test_the_reference_day_interpolates_between_hours_and_refuses_bad_values() -> None:
    day = reference_day()
    noon = datetime(2015, 7, 1, 12, 30, tzinfo=ZoneInfo("Europe/Amsterdam"))
    at = day.at(noon)
    assert at.ta_c == pytest.approx((29.0 + 30.5) / 2)
    with pytest.raises(ConfigError, match="no value at"):
        day.at(noon.replace(hour=3))
    with pytest.raises(ConfigError, match=r"rh_pct = 140"):
        reference_day(hours={12: (30.0, 140.0, 2.0, 800.0)})


def test_solweig_refuses_uneven_steps_and_unknown_outputs(flat_open: dict) -> None:
    day = reference_day()
    ground = np.zeros((8, 8), np.float32)
    surface = TmrtSurface(ground, ground, ground, np.zeros((8, 8), np.uint8), 1.0)
    hours = [h for h in day.hours if h.when.hour in (9, 10, 12)]
    steps = [(h, sun_position(h.when, LAT, LON)) for h in hours]
    with pytest.raises(LayerError, match="evenly spaced"):
        tmrt_hours(surface, steps, [hours[0].when], LAT, LON, 10.0)
    with pytest.raises(LayerError, match="unknown SOLWEIG output"):
        tmrt_hours(surface, steps[:1], [hours[0].when], LAT, LON, 10.0, extra=("albedo",))


def test_tiles_with_a_halo_give_the_tmrt_of_one_run() -> None:
    """SOLWEIG per tile (geo.tmrt.tmrt_tiled, under the Dask scheduler) against one call on the whole surface:
    a 10 m block near the tiles' corner, tiles of 60 cells read with a 20 m halo (its longest shadow at 12:00)."""
    from geo.tmrt import tmrt_tiled

    n = 120
    ground = np.full((n, n), 5.0, dtype=np.float32)
    dsm = ground.copy()
    dsm[50:70, 50:70] = 15.0
    land = np.full((n, n), 1, np.uint8)
    land[50:70, 50:70] = 2
    surface = TmrtSurface(dsm, ground, np.zeros((n, n), np.float32), land, 1.0)
    day = reference_day()
    steps = [(h, sun_position(h.when, LAT, LON)) for h in day.hours if 11 <= h.when.hour <= 12]
    keep = [steps[-1][0].when]
    whole = tmrt_hours(surface, steps, keep, LAT, LON, 20.0)
    tiled, sky = tmrt_tiled(surface, steps, keep, LAT, LON, 20.0, chunk_size=60)
    # Away from the outer edge (where neither run sees beyond the surface) the tiles agree with the one run.
    inner = (slice(20, -20), slice(20, -20))
    np.testing.assert_allclose(tiled[keep[0]][inner], whole.tmrt[keep[0]][inner], atol=0.1)
    np.testing.assert_allclose(sky[inner], whole.sky_view[inner], atol=0.01)
