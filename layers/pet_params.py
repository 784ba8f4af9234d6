"""Parameters of the ``pet`` layer, with units and sources (``layers.pet``)."""

from __future__ import annotations

from typing import Any

from geo.knmi import HUPSEL
from geo.pet import HOPPE_1999, STANDARD_PERSON
from geo.weather_day import KOOPMANS_2020, REFERENCE_DAY_SOURCE, REFERENCE_HOURS
from layers.base import Param
from layers.heat_params import WALKING_FUNCTIONS
from layers.person_view import PARAMS as PERSON_VIEW_PARAMS

#: Wind profile used to bring the 10 m wind down to the person (docs/method-pet.md, "Wind").
WIND_PROFILE = (
    "logarithmic wind profile over open grassland, z0 = 0.03 m (WMO-No. 8, Davenport-Wieringa roughness "
    "class 3 'open'), from 10 m to the person's centre of gravity; in streets scaled by the cell's sky view "
    "factor of buildings and crowns (this project's sheltering proxy, docs/method-pet.md)"
)


def _check_hours(value: Any) -> None:
    """``weather_hours``: hour (0-23) -> [ta degC, rh %, wind m/s, global W/m2]."""
    if not isinstance(value, dict) or not value:
        raise ValueError("expected a map hour -> [ta_c, rh_pct, wind_10m_m_s, global_w_m2]")
    for hour, row in value.items():
        if not isinstance(row, list | tuple) or len(row) != len(next(iter(REFERENCE_HOURS.values()))):
            raise ValueError(f"hour {hour}: expected [ta_c, rh_pct, wind_10m_m_s, global_w_m2], got {row!r}")


PARAMS: tuple[Param, ...] = (
    Param("resolution_m", 1.0, "m", "cell size of the PET rasters",
          "1 m, the resolution of the standard heat map (Koopmans et al. 2020)", minimum=0.5, maximum=10.0),
    Param("weather_date", "2015-07-01", "", "date of the reference day (YYYY-MM-DD) of weather_hours",
          KOOPMANS_2020 + ": 1 July 2015, the 1-in-1000 heat day of April-September 2004-2018"),
    Param("weather_hours", {int(h): list(v) for h, v in REFERENCE_HOURS.items()}, "",
          "hourly weather of the reference day, Dutch civil time: hour -> [air temperature degC, relative "
          "humidity %, wind speed at 10 m m/s, global radiation W/m2]; unused with weather",
          REFERENCE_DAY_SOURCE, validate=_check_hours),
    Param("weather", {}, "",
          "a KNMI station-day of hourly data instead of weather_hours: {station: STN, date: YYYY-MM-DD}, read "
          f"from the KNMI hourly file given as sources.knmi_hourly (station {HUPSEL}, Hupsel, for the "
          "Achterhoek; 260 De Bilt with 2015-07-01 for the national map's day); empty: weather_hours",
          "KNMI, Uurgegevens van het weer in Nederland"),
    Param("afternoon_start_hour", 12, "h", "first hour of the afternoon mean pet_afternoon (CEST)",
          KOOPMANS_2020 + ": the map is the mean PET over 12:00-18:00 local time", minimum=0, maximum=23),
    Param("afternoon_end_hour", 18, "h", "last hour of the afternoon mean (CEST), included", KOOPMANS_2020,
          minimum=0, maximum=23),
    Param("moment_hour", 15, "h", "hour of pet_1500 (CEST)",
          "15:00, the moment of the shade targets (layers.sun, Kluck et al. 2020)", minimum=0, maximum=23),
    Param("spinup_hours", 3, "h", "hours SOLWEIG runs before the afternoon to warm the ground and walls",
          "SOLWEIG carries ground and wall temperatures from step to step (Lindberg et al. 2016); three hours "
          "give a 12:00 Tmrt within 0.03 degC of a run from 07:00, one hour within 0.6 degC (measured on a street "
          "with a 15 m block, docs/method-pet.md)",
          minimum=0, maximum=12),
    Param("shadow_max_distance_m", 80.0, "m", "longest shadow SOLWEIG follows, and the halo read around a window",
          "a 30 m building casts 40 m at 18:00 on 1 July (sun 37 degrees); the sky view of a street sees "
          "buildings up to a few times their height away", minimum=10.0, maximum=500.0),
    Param("wind_z0_m", 0.03, "m", "roughness length of the open terrain the 10 m wind is measured over",
          WIND_PROFILE, minimum=0.001, maximum=1.0),
    Param("wind_person_height_m", 1.1, "m", "height of the wind at the person",
          "VDI 3787 Part 2 (2008): PET's wind at 1.1 m, the centre of gravity of a standing person",
          minimum=0.5, maximum=3.0),
    Param("wind_min_m_s", 0.5, "m/s", "lowest wind at the person",
          "sheltered streets are never calm in the afternoon; PET is unreliable near 0 m/s", minimum=0.1,
          maximum=2.0),
    Param("person_age", STANDARD_PERSON.age, "a", "age of the standard person", HOPPE_1999, minimum=1, maximum=100),
    Param("person_weight_kg", STANDARD_PERSON.weight_kg, "kg", "body mass", HOPPE_1999, minimum=20, maximum=200),
    Param("person_height_m", STANDARD_PERSON.height_m, "m", "body height", HOPPE_1999, minimum=1.0, maximum=2.2),
    Param("person_activity_w", STANDARD_PERSON.activity_w, "W", "activity on top of the basal metabolism",
          HOPPE_1999, minimum=0, maximum=400),
    Param("person_clothing_clo", STANDARD_PERSON.clothing_clo, "clo", "clothing insulation",
          HOPPE_1999 + " (PET keeps 0.9 clo by definition)", minimum=0.1, maximum=2.0),
    Param("walking_classes", ["road_paved", "paved_other", "road_unpaved"], "",
          "land-cover classes that can be walking space (as in heat-stress)", "layers.heat_params"),
    Param("walking_excluded_source_classes", ["onbegroeidterreindeel:erf"], "",
          "source classes left out of walking space", "erven are yards and gardens, mostly private"),
    Param("walking_functions", WALKING_FUNCTIONS, "",
          "BGT road functions that are walking space (as in heat-stress)", "layers.heat_params"),
    *PERSON_VIEW_PARAMS,
)
