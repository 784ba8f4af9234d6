"""Maximum urban heat island intensity, Theeuwes et al. (2017).

Theeuwes, N.E., Steeneveld, G.J., Ronda, R.J. and Holtslag, A.A.M. (2017):
"A diagnostic equation for the daily maximum urban heat island effect for
cities in northwestern Europe", *International Journal of Climatology*
37:443-454, doi:10.1002/joc.4717. Fitted on observations in Dutch and other
northwest-European cities, it gives the largest hourly urban-rural air
temperature difference of a day (08:00 to 08:00) as

    UHI_max = (2 - SVF - F_veg) * (S * DTR^3 / U)^(1/4)

with the local sky view factor ``SVF`` (urban-climate definition, see
``geo.svf``), the vegetation fraction ``F_veg`` within 500 m, and three
weather terms measured at a rural reference station: ``S`` the daily mean
global (incoming shortwave) radiation divided by ``rho * c_p`` (K m/s),
``DTR`` the daily temperature range (K) and ``U`` the mean 10 m wind speed (m/s).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

#: Exponent of the meteorological term (Theeuwes et al. 2017).
UHI_EXPONENT = 0.25
#: Specific heat of dry air at constant pressure (J kg-1 K-1).
CP_AIR_J_KG_K = 1005.0
#: Density of dry air at 20 degC and 1013.25 hPa (kg m-3), ideal gas law.
RHO_AIR_KG_M3 = 1.204
#: Solar constant (MJ m-2 min-1), FAO-56 eq. 21.
SOLAR_CONSTANT_MJ_M2_MIN = 0.0820
FAO56 = (
    "Allen, R.G., Pereira, L.S., Raes, D., Smith, M. (1998): Crop evapotranspiration. FAO Irrigation and "
    "Drainage Paper 56, eqs. 21-25 (extraterrestrial radiation) and 37 (clear-sky radiation)"
)
_SECONDS_PER_DAY = 86_400.0
_MJ = 1.0e6


@dataclass(frozen=True)
class ReferenceDay:
    """The weather of a named reference day for ``uhi_max``: S, DTR and U with where they come from.

    Attributes:
        name: what the day is called in the metadata and the docs.
        global_radiation_w_m2: 24 h mean global radiation (W m-2); S is this over rho * c_p.
        dtr_k: daily temperature range at the rural reference (K).
        wind_m_s: daily mean 10 m wind speed at the rural reference (m s-1).
        source: what the three numbers are based on.
    """

    name: str
    global_radiation_w_m2: float
    dtr_k: float
    wind_m_s: float
    source: str


#: The default weather of ``uhi_max``: an idealised hot clear day, not a measured station-day.
REFERENCE_HOT_DAY = ReferenceDay(
    name="kaartlaag reference hot clear day (idealised, 1 July, 52 N)",
    global_radiation_w_m2=300.0,
    dtr_k=12.0,
    wind_m_s=2.5,
    source=(
        "not a measured KNMI station-day. S: 300 W/m2 as a 24 h mean (2592 J/cm2, KNMI's Q) is 0.84 of the "
        "FAO-56 clear-sky radiation at 52 N on 1 July (31.0 MJ/m2 = 359 W/m2, clear_sky_radiation_w_m2), "
        "a clear day with some haze; DTR 12 K and U 2.5 m/s are project choices for a calm clear summer day, "
        "inside the ranges Theeuwes et al. (2017) fitted on (DTR up to about 20 K, U from about 1 m/s). "
        "For a measured day set layers.heat-stress.weather: {station, date} with a KNMI daily-data file as "
        "sources.knmi"
    ),
)


def clear_sky_radiation_w_m2(lat_deg: float, day_of_year: int, elevation_m: float = 0.0) -> float:
    """24 h mean clear-sky global radiation (W m-2), FAO-56 eqs. 21-25 and 37 (Allen et al. 1998).

    Rso = (0.75 + 2e-5 z) Ra, with Ra the extraterrestrial radiation of the day at latitude ``lat_deg``.

    Args:
        lat_deg: latitude (degrees north, WGS84).
        day_of_year: 1 (1 January) to 366.
        elevation_m: station height above sea level (m).
    """
    phi = math.radians(lat_deg)
    angle = 2.0 * math.pi * day_of_year / 365.0
    inverse_distance = 1.0 + 0.033 * math.cos(angle)
    declination = 0.409 * math.sin(angle - 1.39)
    sunset = math.acos(max(-1.0, min(1.0, -math.tan(phi) * math.tan(declination))))
    ra_mj = (24.0 * 60.0 / math.pi * SOLAR_CONSTANT_MJ_M2_MIN * inverse_distance
             * (sunset * math.sin(phi) * math.sin(declination)
                + math.cos(phi) * math.cos(declination) * math.sin(sunset)))
    return (0.75 + 2.0e-5 * elevation_m) * ra_mj * _MJ / _SECONDS_PER_DAY


def kinematic_radiation(
    global_radiation_w_m2: float, air_density_kg_m3: float = RHO_AIR_KG_M3, cp_j_kg_k: float = CP_AIR_J_KG_K
) -> float:
    """``S`` of Theeuwes et al. (2017): daily mean global radiation (W m-2) over rho * c_p, in K m s-1."""
    if global_radiation_w_m2 < 0:
        raise ValueError(f"global_radiation_w_m2 must not be negative, got {global_radiation_w_m2}")
    if air_density_kg_m3 <= 0 or cp_j_kg_k <= 0:
        raise ValueError("air density and heat capacity must be positive")
    return global_radiation_w_m2 / (air_density_kg_m3 * cp_j_kg_k)


def uhi_max(svf: ArrayLike, f_veg: ArrayLike, S: float, DTR: float, U: float) -> np.ndarray:
    """Daily maximum urban heat island intensity (K), Theeuwes et al. (2017).

    Args:
        svf: sky view factor, 0..1 (urban-climate ``"oke"`` definition); array or scalar.
        f_veg: vegetation fraction within 500 m, 0..1; broadcast against ``svf``.
        S: daily mean global radiation over rho * c_p (K m s-1), see :func:`kinematic_radiation`.
        DTR: daily temperature range at the rural reference (K).
        U: daily mean 10 m wind speed at the rural reference (m s-1).

    Returns:
        float64 array (0-d for scalars) of UHI_max in kelvin; NaN where an input is NaN.
    """
    if S < 0:
        raise ValueError(f"S must not be negative, got {S} K m/s")
    if DTR < 0:
        raise ValueError(f"DTR must not be negative, got {DTR} K")
    if U <= 0:
        raise ValueError(f"U must be positive (the formula divides by the wind speed), got {U} m/s")
    svf_arr = np.asarray(svf, dtype=np.float64)
    veg_arr = np.asarray(f_veg, dtype=np.float64)
    for name, arr in (("svf", svf_arr), ("f_veg", veg_arr)):
        finite = arr[np.isfinite(arr)]
        if finite.size and (finite.min() < 0 or finite.max() > 1):
            raise ValueError(f"{name} must lie within 0..1, got {finite.min()}..{finite.max()}")
    weather = (S * DTR**3 / U) ** UHI_EXPONENT
    return (2.0 - svf_arr - veg_arr) * weather
