"""Parameters of the heat-stress layer, with units and sources (``layers.heat_stress``)."""

from __future__ import annotations

from geo.heat import DEFAULT_FRACTION_CELL_M
from geo.knmi import HUPSEL, KNMI_DAILY
from geo.uhi import REFERENCE_HOT_DAY
from layers.base import Param
from layers.person_view import PARAMS as PERSON_VIEW_PARAMS
from layers.sun import KLUCK_SHADE_GUIDELINE, SHADE_DATE, SHADE_HOUR

#: The shade targets and the moment they are judged at (``layers.sun``).
KLUCK = KLUCK_SHADE_GUIDELINE
#: The afternoon window of the national heat map, kept as the second shade figure.
KOOPMANS = (
    "Koopmans, S., Heusinkveld, B.G., Steeneveld, G.J. (2020): A standardized Physical Equivalent Temperature "
    "urban heat map at 1-m spatial resolution to facilitate climate stress tests in the Netherlands. Building "
    "and Environment 181:106984; the Klimaateffectatlas 'hittekaart gevoelstemperatuur' is its mean over "
    "12:00-18:00 local time on a hot summer day"
)
#: BGT wegdeel functions of walking space: where people walk, cycle and linger. Carriageways (``rijbaan ...``),
#: parking bays, driveways, bus lanes, rails and horse paths are not; pavements beside a carriageway are
#: wegdelen of their own (``voetpad``), so leaving the carriageway out keeps them.
WALKING_FUNCTIONS = ["voetpad", "voetpad op trap", "voetgangersgebied", "woonerf", "fietspad"]

PARAMS: tuple[Param, ...] = (
    Param("resolution_m", 1.0, "m", "cell size of the output raster",
          "fine enough for streets and squares; the 0.5 m AHN DSM is coarsened by its highest value",
          minimum=0.25, maximum=25.0),
    Param("global_radiation_w_m2", REFERENCE_HOT_DAY.global_radiation_w_m2, "W/m2",
          "24 h mean global radiation of the reference day (S = this / (rho * c_p)); unused with weather",
          f"{REFERENCE_HOT_DAY.name}: {REFERENCE_HOT_DAY.source}", minimum=0.0, maximum=500.0),
    Param("dtr_k", REFERENCE_HOT_DAY.dtr_k, "K",
          "daily temperature range at the rural reference on the reference day; unused with weather",
          f"{REFERENCE_HOT_DAY.name} (see global_radiation_w_m2)", minimum=0.0, maximum=30.0),
    Param("wind_m_s", REFERENCE_HOT_DAY.wind_m_s, "m/s",
          "daily mean 10 m wind speed at the rural reference on the reference day; lower wind gives a "
          "stronger heat island; unused with weather",
          f"{REFERENCE_HOT_DAY.name} (see global_radiation_w_m2)", minimum=0.5, maximum=20.0),
    Param("weather", {}, "",
          "a KNMI station-day for S, DTR and U instead of the reference day: {station: STN, date: YYYY-MM-DD}, "
          f"read from the KNMI daily-data file given as sources.knmi (e.g. station {HUPSEL}, Hupsel, for the "
          "Achterhoek); empty: the reference day",
          KNMI_DAILY),
    Param("veg_radius_m", 500.0, "m", "radius within which the vegetation fraction F_veg is taken",
          "Theeuwes et al. 2017", minimum=10.0, maximum=5000.0),
    Param("f_veg_canopy", True, "", "with a dtm, AHN tree canopy (DSM - DTM >= canopy_min_height_m, not "
          "building or water) counts as vegetation in F_veg over any land cover (paving, gardens); the AHN "
          "sources are then read up to the vegetation radius beyond each window",
          "project choice (issue 10, item 6): a crown over a street or a garden is vegetation the land "
          "cover does not show; without a dtm, land cover alone"),
    Param("veg_fraction_cell_m", DEFAULT_FRACTION_CELL_M, "m", "cell size on which F_veg is averaged",
          "a 500 m mean changes by < 2 % over 10 m", minimum=0.5, maximum=100.0),
    Param("vegetation_classes", ["green_low", "green_shrub", "green_trees", "agriculture"], "",
          "land-cover classes counted as vegetation for F_veg", "the green group of docs/sources.md"),
    Param("svf_directions", 16, "", "search azimuths of the sky view factor",
          "RVT default (Zaksek et al. 2011)", minimum=4, maximum=64),
    Param("svf_max_distance_m", 100.0, "m", "horizon search distance of the sky view factor",
          "covers the buildings that close the sky of a street", minimum=5.0, maximum=500.0),
    SHADE_DATE,
    SHADE_HOUR,
    Param("shade_start_hour", 12.0, "h", "first moment of the afternoon window (second figure, "
          "shade_pct_afternoon), Dutch civil (summer) time",
          KOOPMANS, minimum=0.0, maximum=24.0),
    Param("shade_end_hour", 18.0, "h", "last moment of the afternoon window, Dutch civil (summer) time",
          KOOPMANS, minimum=0.0, maximum=24.0),
    Param("shade_step_minutes", 30.0, "min", "time between sun positions of the afternoon window",
          "13 positions from 12:00 to 18:00", minimum=1.0, maximum=360.0),
    Param("shadow_max_distance_m", 100.0, "m", "longest shadow followed",
          "a 50 m building at the lowest sun (33 degrees at 18:00 on 1 July) casts 76 m",
          minimum=5.0, maximum=500.0),
    Param("walking_classes", ["road_paved", "paved_other", "road_unpaved"], "",
          "land-cover classes that can be walking space",
          "footpaths, squares, pedestrian areas and cycle paths are paved; park and forest footpaths are often "
          "half-paved or unpaved (BGT wegdeel 'halfverhard', 'onverhard')"),
    Param("walking_excluded_source_classes", ["onbegroeidterreindeel:erf"], "",
          "source classes left out of walking space", "erven are yards and gardens, mostly private"),
    Param("walking_functions", WALKING_FUNCTIONS, "",
          "BGT road functions (landcover.function, wegdeel functie) that are walking space: footpaths, stairs, "
          "pedestrian areas (most squares), home zones and cycle paths. Carriageways, 'rijbaan lokale weg' "
          "included, are not: add 'rijbaan lokale weg' here only where streets have no pavements and people "
          "walk on the carriageway",
          KLUCK + ": the targets are for where people walk, cycle and linger; carriageways are where cars drive, "
          "and the pavements beside them are wegdelen of their own; in a woonerf pedestrians may use the whole "
          "street (RVV 1990, rules for an erf). Land cover without a function (squares as onbegroeidterreindeel, "
          "other sources) counts by its class alone"),
    Param("main_route_functions", ["voetgangersgebied", "fietspad"], "",
          "BGT road functions that are main walking and cycling routes",
          "pedestrian areas (shopping streets) and cycle paths carry the main slow traffic"),
    Param("main_route_along_functions", ["rijbaan regionale weg"], "",
          "walking space within main_route_along_m of road parts with these functions is a main route",
          "footpaths along the through roads of a town are its main walking routes (Kluck et al. 2020)"),
    Param("main_route_along_m", 15.0, "m", "distance from a through-road carriageway within which walking "
          "space counts as main route", "a pavement and verge beside a carriageway", minimum=0.0, maximum=100.0),
    Param("shade_target_neighbourhood_pct", 30.0, "%", "shade target on walking routes in neighbourhoods",
          KLUCK, minimum=0.0, maximum=100.0),
    Param("shade_target_main_route_pct", 40.0, "%", "shade target on main walking routes", KLUCK,
          minimum=0.0, maximum=100.0),
    *PERSON_VIEW_PARAMS,
)
