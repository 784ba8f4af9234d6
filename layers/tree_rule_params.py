"""Parameters and references of the ``tree-3-30-300`` layer (kept apart to keep the layer module short).

Every threshold of the rule is a parameter, so a municipality can report
"3-30-300 with a 25 m view radius" and still use the same code; the output
column names (``meets_3`` ...) stay the same whatever the thresholds.
"""

from __future__ import annotations

from geo.facades import FACADE_OFFSET_M, FACADE_SPACING_M
from geo.parks import (
    DEFAULT_MERGE_GAP_M,
    DEFAULT_MIN_PARK_AREA_M2,
    PUBLIC_PROXY,
    PUBLIC_UNKNOWN_CHOICES,
    PUBLIC_UNKNOWN_SOURCE,
)
from layers.base import Param
from layers.green_inputs import CANOPY_MIN_HEIGHT_PARAM, CROWN_SEARCH_PARAM, DEFAULT_CROWN_DIAMETER_PARAM

KONIJNENDIJK_2023 = (
    "Konijnendijk, C.C. (2023). Evidence-based guidelines for greener, healthier, more resilient "
    "neighbourhoods: Introducing the 3-30-300 rule. Journal of Forestry Research 34, 821-830. "
    "doi:10.1007/s11676-022-01523-z"
)
BROWNING_2024 = (
    "Browning, M.H.E.M., Locke, D.H., Konijnendijk, C. et al. (2024). Measuring the 3-30-300 rule to help "
    "cities meet nature access thresholds. Science of the Total Environment 907, 167739. "
    "doi:10.1016/j.scitotenv.2023.167739"
)
WHO_2017 = (
    "WHO Regional Office for Europe (2017). Urban green spaces: a brief for action. Copenhagen "
    "(green space of at least 0.5-1 ha within 300 m of every home)"
)
REFERENCES: tuple[str, ...] = (KONIJNENDIJK_2023, BROWNING_2024, WHO_2017)

#: Smallest crown (m2, seen from above) of a tree that counts for the 3: a crown of about 3.6 m across.
MIN_CROWN_AREA_M2 = 10.0
MIN_CROWN_AREA_SOURCE = (
    "Konijnendijk 2023 counts 'well-established trees of a decent size' without a number; 10 m2 (3.6 m across) "
    "is a project choice above a newly planted Dutch street tree (crown about 1.5-2 m, 2-3 m2) and below an "
    "established one (4-6 m, 13-28 m2; cf. the 6 m default crown); at 0.5 m AHN cells it is 40 cells"
)
#: Statuses of a BAG verblijfsobject that is lived in.
IN_USE_STATUSES = ["Verblijfsobject in gebruik", "Verblijfsobject in gebruik (niet ingemeten)"]

PARAMS: tuple[Param, ...] = (
    Param("dwelling_use", "woonfunctie", "", "BAG gebruiksdoel that makes an address a dwelling", "BAG 2.0"),
    Param(
        "dwelling_statuses",
        IN_USE_STATUSES,
        "",
        "BAG statuses of dwellings that are counted",
        "BAG 2.0 status list: only dwellings in use",
    ),
    Param("min_trees_visible", 3, "trees", "trees to see from the dwelling ('3')", KONIJNENDIJK_2023, minimum=0),
    Param(
        "tree_radius_m",
        30.0,
        "m",
        "trees within this distance of the address point can count as seen",
        "Browning et al. 2024: tree inventories within a buffer around the home; 30 m as in most studies",
        minimum=1.0,
        maximum=500.0,
    ),
    Param(
        "min_crown_area_m2",
        MIN_CROWN_AREA_M2,
        "m2",
        "trees with a smaller crown (seen from above) do not count for the 3",
        MIN_CROWN_AREA_SOURCE,
        minimum=0.0,
        maximum=1000.0,
    ),
    Param(
        "facade_spacing_m",
        FACADE_SPACING_M,
        "m",
        "the 3 is seen from points this far apart along the facades of the dwelling's building",
        "project choice: about one window bay of a Dutch terraced house (2-3 windows on a 5-6 m front)",
        minimum=0.5,
        maximum=20.0,
    ),
    Param(
        "facade_offset_m",
        FACADE_OFFSET_M,
        "m",
        "facade points lie this far outside the footprint outline",
        "project choice: off the wall (footprints are drawn to about 0.1-0.3 m), inside the front garden",
        minimum=0.05,
        maximum=5.0,
    ),
    Param(
        "ahn_tree_tops",
        True,
        "",
        "with AHN, tree tops of canopy patches that hold no register tree count as trees",
        "issue 10; tops by a variable-window local maximum filter (Popescu & Wynne 2004)",
    ),
    DEFAULT_CROWN_DIAMETER_PARAM,
    CANOPY_MIN_HEIGHT_PARAM,
    CROWN_SEARCH_PARAM,
    Param("min_canopy_pct", 30.0, "%", "tree canopy of the neighbourhood ('30')", KONIJNENDIJK_2023, 0.0, 100.0),
    Param(
        "canopy_scope",
        "buurt",
        "",
        "neighbourhood of the '30': the dwelling's CBS buurt, or a disc around the address",
        "Konijnendijk 2023 leaves 'neighbourhood' open; the CBS buurt is the unit Dutch councils report on",
        choices=("buurt", "radius"),
    ),
    Param(
        "canopy_radius_m",
        250.0,
        "m",
        "radius of the disc for canopy_scope: radius",
        "project choice: a 3-5 minute walk; Browning et al. 2024 note buffer sizes vary between studies",
        minimum=10.0,
        maximum=2000.0,
    ),
    Param("max_park_distance_m", 300.0, "m", "walking distance to a park ('300')", KONIJNENDIJK_2023, 0.0, 5000.0),
    Param(
        "min_park_area_m2",
        DEFAULT_MIN_PARK_AREA_M2,
        "m2",
        "smallest public green space that counts as a park",
        WHO_2017 + ": 0.5 ha",
        minimum=0.0,
    ),
    Param(
        "park_access_m",
        20.0,
        "m",
        "a street point this close to a park counts as reaching it (entrances are not registered)",
        "project choice: about one street width plus a pavement",
        minimum=0.0,
        maximum=200.0,
    ),
    Param(
        "park_public_unknown",
        PUBLIC_PROXY,
        "",
        "derived parks: green land cover whose 'public' is unknown counts as public by the BGT proxy (not erf, "
        "not farmland), never (exclude) or always (include)",
        PUBLIC_UNKNOWN_SOURCE,
        choices=PUBLIC_UNKNOWN_CHOICES,
    ),
    Param(
        "park_merge_gap_m",
        DEFAULT_MERGE_GAP_M,
        "m",
        "derived parks: green polygons closer than this form one park, closed across the gap (paths, ditches "
        "inside it count as park; 0 = only touching ones, no closing)",
        "issue 10: wider than a 3 m park path; a two-way cycle path is 2.5-4 m (CROW Ontwerpwijzer fietsverkeer "
        "2016); morphological closing, Serra 1982",
        minimum=0.0,
        maximum=50.0,
    ),
    Param(
        "network_tolerance_m",
        0.5,
        "m",
        "street line ends this close to another line are connected",
        "digitising tolerance of municipal street networks (sub-metre)",
        minimum=0.0,
        maximum=10.0,
    ),
    Param(
        "network_node_crossings",
        True,
        "",
        "crossing street lines form a junction (turn off when bridges are drawn as crossing lines)",
        "most walking networks are drawn without separate levels",
    ),
)
