"""Theeuwes et al. (2017) UHI_max against hand computation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from geo.uhi import REFERENCE_HOT_DAY, clear_sky_radiation_w_m2, kinematic_radiation, uhi_max


def test_hand_computed_value() -> None:
    # (2 - 0.5 - 0.3) * (0.25 * 12^3 / 3)^(1/4) = 1.2 * 144^(1/4) = 1.2 * sqrt(12)
    assert float(uhi_max(0.5, 0.3, S=0.25, DTR=12.0, U=3.0)) == pytest.approx(1.2 * math.sqrt(12.0), rel=1e-12)


def test_arrays_broadcast_and_nan_stays_nan() -> None:
    svf = np.array([[1.0, 0.4], [np.nan, 0.0]])
    out = uhi_max(svf, 0.5, S=0.25, DTR=12.0, U=3.0)
    weather = 144.0**0.25
    np.testing.assert_allclose(out[0], [0.5 * weather, 1.1 * weather])
    assert np.isnan(out[1, 0]) and out[1, 1] == pytest.approx(1.5 * weather)
    # Open, fully green surroundings: no heat island.
    assert float(uhi_max(1.0, 1.0, 0.25, 12.0, 3.0)) == 0.0


def test_kinematic_radiation() -> None:
    assert kinematic_radiation(241.0, 1.2, 1000.0) == pytest.approx(241.0 / 1200.0)


@pytest.mark.parametrize(
    ("kwargs", "word"),
    [
        ({"U": 0.0}, "U must be positive"),
        ({"S": -1.0}, "S must not be negative"),
        ({"DTR": -2.0}, "DTR"),
        ({"svf": 1.5}, "svf must lie within"),
        ({"f_veg": -0.1}, "f_veg must lie within"),
    ],
)
def test_bad_inputs_name_the_parameter(kwargs: dict, word: str) -> None:
    args = {"svf": 0.5, "f_veg": 0.3, "S": 0.25, "DTR": 12.0, "U": 3.0, **kwargs}
    with pytest.raises(ValueError, match=word):
        uhi_max(**args)


def test_clear_sky_radiation_matches_fao56_example_8() -> None:
    # FAO-56 example 8: Ra at 20 degrees south on 3 September (day 246) is 32.2 MJ m-2 day-1; Rso = 0.75 Ra.
    ra_mj = clear_sky_radiation_w_m2(-20.0, 246) / 0.75 * 86_400 / 1e6
    assert ra_mj == pytest.approx(32.2, abs=0.05)
    assert clear_sky_radiation_w_m2(52.0, 182, elevation_m=1000.0) > clear_sky_radiation_w_m2(52.0, 182)


def test_the_reference_day_is_what_its_source_says() -> None:
    # "300 W/m2 ... is 0.84 of the FAO-56 clear-sky radiation at 52 N on 1 July (31.0 MJ/m2 = 359 W/m2)".
    clear = clear_sky_radiation_w_m2(52.0, 182)
    assert clear == pytest.approx(359.0, abs=0.5) and clear * 86_400 / 1e6 == pytest.approx(31.0, abs=0.05)
    assert REFERENCE_HOT_DAY.global_radiation_w_m2 / clear == pytest.approx(0.84, abs=0.005)
    assert REFERENCE_HOT_DAY.global_radiation_w_m2 * 86_400 / 1e4 == pytest.approx(2592.0)
    assert "0.84" in REFERENCE_HOT_DAY.source and "not a measured" in REFERENCE_HOT_DAY.source
