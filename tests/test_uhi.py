"""Theeuwes et al. (2017) UHI_max against hand computation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from geo.uhi import kinematic_radiation, uhi_max


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
