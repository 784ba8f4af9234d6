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

import numpy as np
from numpy.typing import ArrayLike

#: Exponent of the meteorological term (Theeuwes et al. 2017).
UHI_EXPONENT = 0.25
#: Specific heat of dry air at constant pressure (J kg-1 K-1).
CP_AIR_J_KG_K = 1005.0
#: Density of dry air at 20 degC and 1013.25 hPa (kg m-3), ideal gas law.
RHO_AIR_KG_M3 = 1.204


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
