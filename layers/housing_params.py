"""Parameters and the multi-criteria suitability score of ``housing-sites`` (kept apart to keep the layer short).

The score is a weighted linear combination (WLC) of normalised criteria
(Voogd 1983; Malczewski 1999, ch. 6; Eastman 1999): each criterion value
``v`` is turned into a score ``x`` in [0, 1] by a linear value function between
two thresholds, ``bad`` (x = 0) and ``good`` (x = 1), clipped outside them; the
suitability is ``100 * sum(w_i * x_i) / sum(w_i)`` over the criteria whose
value is known (a criterion whose input is missing, such as ``flood`` without a
flood raster, drops out and the weights of the others are renormalised; the
layer lists which criteria it used). A distance that is unknown because no
facility lies within ``amenity_max_distance_m`` scores 0. Weights and
thresholds are parameters (``layers.housing-sites.weight_<criterion>``,
``<criterion>_good``, ``<criterion>_bad``), and every criterion value and its
score are columns of their own, so the score never hides them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from geo.errors import LayerError
from geo.parks import PUBLIC_PROXY, PUBLIC_UNKNOWN_CHOICES, PUBLIC_UNKNOWN_SOURCE
from layers.base import Param
from layers.tree_rule_params import PARAMS as TREE_RULE_PARAMS
from layers.tree_rule_params import WHO_2017

VOOGD_1983 = "Voogd, H. (1983). Multicriteria Evaluation for Urban and Regional Planning. Pion, London"
MALCZEWSKI_1999 = (
    "Malczewski, J. (1999). GIS and Multicriteria Decision Analysis. Wiley, New York (ch. 6: weighted "
    "linear combination with value functions)"
)
EASTMAN_1999 = (
    "Eastman, J.R. (1999). Multi-criteria evaluation and GIS. In: Longley et al. (eds.), Geographical "
    "Information Systems, Wiley, 493-502 (standardised factors, weighted linear combination)"
)
CROW_OV = (
    "CROW (2014), Ontwerpwijzer bushaltes / Kennisplatform CROW: a bus stop within 400-500 m of homes in "
    "built-up areas"
)
ABF_BEREIKBAARHEID = (
    "CBS StatLine 'Nabijheid voorzieningen; afstand locatie' (the Dutch mean distance by road to the nearest "
    "supermarket is about 1 km, to a primary school about 0.7 km, to a GP about 1.1 km)"
)
KLUCK_HEAT = (
    "Kluck et al. (2020) De hittebestendige stad; Theeuwes et al. (2017): a maximum urban heat island of "
    "2-3 K is a hot Dutch neighbourhood, below 1 K a cool one"
)
LIWO = (
    "LIWO (Landelijk Informatiesysteem Water en Overstromingen), Rijkswaterstaat: flood depth classes "
    "0-0.2 m (limited damage), 0.2-0.8 m, 0.8-2 m, > 2 m"
)


@dataclass(frozen=True)
class Criterion:
    """One criterion of the suitability score.

    Attributes:
        name: criterion id (``weight_<name>``, ``<name>_good``, ``<name>_bad`` are its parameters).
        column: the site column holding its value.
        unit: unit of the value and thresholds.
        good: value scoring 1 (default).
        bad: value scoring 0 (default); ``good < bad`` means lower is better.
        weight: default weight.
        missing_is_bad: an unknown value scores 0 (a distance beyond the search radius) instead of
            dropping the criterion for that site.
        description: what it measures.
        source: where the thresholds come from.
    """

    name: str
    column: str
    unit: str
    good: float
    bad: float
    weight: float
    missing_is_bad: bool
    description: str
    source: str


CRITERIA: tuple[Criterion, ...] = (
    Criterion("heat", "uhi_max_mean", "K", 1.0, 3.0, 2.0, False, "mean maximum urban heat island on the site",
              KLUCK_HEAT),
    Criterion("green", "green_pct_300m", "%", 40.0, 10.0, 1.0, False, "green share within 300 m of the site",
              "project choice after the '30' of 3-30-300 (Konijnendijk 2023), read as a share of the surroundings"),
    Criterion("park", "park_walk_share_pct", "%", 100.0, 0.0, 1.0, False,
              "share of the site within a 300 m walk of a park", WHO_2017),
    Criterion("supermarket", "dist_supermarket_m", "m", 500.0, 1500.0, 1.0, True,
              "walking distance to the nearest supermarket", ABF_BEREIKBAARHEID),
    Criterion("primary_school", "dist_primary_school_m", "m", 500.0, 1500.0, 1.0, True,
              "walking distance to the nearest primary school", ABF_BEREIKBAARHEID),
    Criterion("gp", "dist_gp_m", "m", 1000.0, 2000.0, 1.0, True, "walking distance to the nearest GP",
              ABF_BEREIKBAARHEID),
    Criterion("pt_stop", "dist_pt_stop_m", "m", 400.0, 1000.0, 1.0, True,
              "walking distance to the nearest public-transport stop", CROW_OV),
    Criterion("flood", "flood_depth_max_m", "m", 0.0, 0.8, 2.0, False,
              "largest flood depth on the site (flood raster)", LIWO),
    Criterion("vacancy", "vacant_dwellings_500m", "dwellings", 0.0, 50.0, 0.0, False,
              "vacant dwellings within 500 m (disclosure-controlled count; weight 0: shown, not scored by default)",
              "project choice: many vacant homes nearby can mean weak demand or a transformation chance"),
)
#: The amenity types whose distance is a column (``dist_<type>_m``), in order.
AMENITY_TYPES: tuple[str, ...] = ("supermarket", "primary_school", "gp", "pt_stop")


def _criterion_params(c: Criterion) -> tuple[Param, ...]:
    return (
        Param(f"weight_{c.name}", c.weight, "", f"weight of '{c.description}' in the suitability score",
              MALCZEWSKI_1999, minimum=0.0, maximum=100.0),
        Param(f"{c.name}_good", c.good, c.unit, f"{c.description}: value that scores 1", c.source),
        Param(f"{c.name}_bad", c.bad, c.unit, f"{c.description}: value that scores 0", c.source),
    )


def _iso_date_or_empty(value: Any) -> None:
    """Raise ``ValueError`` unless ``value`` is empty or an ISO date (YYYY-MM-DD)."""
    if str(value).strip():
        try:
            dt.date.fromisoformat(str(value).strip())
        except ValueError:
            raise ValueError(f"{value!r} is not a date (YYYY-MM-DD)") from None


def _tree_param(name: str) -> Param:
    """A parameter shared with ``tree-3-30-300`` (parks and the street network), same default."""
    return next(p for p in TREE_RULE_PARAMS if p.name == name)


PARAMS: tuple[Param, ...] = (
    Param("site_margin_m", 1000.0, "m", "a site may stick out of the extent by this much; every input is read "
          "this much farther (a site sticking out farther is noted in the build log)",
          "project choice: larger than the plan sites of a village or town (a 50 ha extension is ~700 m across)",
          minimum=0.0, maximum=10000.0),
    Param("green_radius_m", 300.0, "m", "green share around the site: within this distance of its edge",
          "issue 13: green % within 300 m", minimum=0.0, maximum=2000.0),
    _tree_param("max_park_distance_m"),
    _tree_param("min_park_area_m2"),
    _tree_param("park_access_m"),
    Param("park_public_unknown", PUBLIC_PROXY, "", "derived parks: green land cover whose 'public' is unknown "
          "counts as public by the BGT proxy, never (exclude) or always (include)", PUBLIC_UNKNOWN_SOURCE,
          choices=PUBLIC_UNKNOWN_CHOICES),
    _tree_param("park_merge_gap_m"),
    Param("sample_spacing_m", 10.0, "m", "the park walk is measured from points this far apart on the site",
          "project choice: a plot width; the share's error is about one row of points", minimum=1.0,
          maximum=100.0),
    Param("amenity_access_m", 20.0, "m", "a street point this close to the site is where a walk from it starts",
          "as park_access_m: about one street width plus a pavement", minimum=0.0, maximum=200.0),
    Param("amenity_max_distance_m", 3000.0, "m", "facilities are looked for within this walk; beyond it the "
          "distance is null (and scores 0)", "project choice: beyond 3 km a facility is not a walking "
          "destination", minimum=100.0, maximum=20000.0),
    _tree_param("network_tolerance_m"),
    _tree_param("network_node_crossings"),
    Param("vacancy_radius_m", 500.0, "m", "vacant dwellings (layer vacancy's 100 m squares, by their centre) are "
          "counted within this distance of the site",
          "issue 13", minimum=0.0, maximum=5000.0),
    Param("flood_nodata_is_dry", True, "", "flood raster cells without a value inside its extent are dry (0 m)",
          LIWO + ": the maps leave dry cells empty"),
    *(p for c in CRITERIA for p in _criterion_params(c)),
)


def criterion_scores(values: np.ndarray, c: Criterion, params: Mapping[str, Any]) -> np.ndarray:
    """Score in [0, 1] per site: linear from ``<name>_bad`` (0) to ``<name>_good`` (1), clipped; NaN unknown.

    An unknown value scores 0 when the criterion says so (``missing_is_bad``), else stays NaN.
    """
    good, bad = float(params[f"{c.name}_good"]), float(params[f"{c.name}_bad"])
    values = np.asarray(values, dtype=float)
    if good == bad:
        raise LayerError(f"layers.housing-sites: {c.name}_good and {c.name}_bad are both {good:g} {c.unit}; "
                         "the value function needs two different thresholds".rstrip())
    score = np.clip((values - bad) / (good - bad), 0.0, 1.0)
    score = np.where(np.isnan(values), 0.0 if c.missing_is_bad else np.nan, score)
    return np.asarray(score, dtype=float)


def suitability(scores: Mapping[str, np.ndarray], params: Mapping[str, Any]) -> tuple[np.ndarray, list[str]]:
    """Weighted linear combination (0-100) of the criterion scores, weights renormalised over known ones.

    Args:
        scores: criterion name -> score per site (NaN: not known for that site).
        params: the weights (``weight_<name>``).

    Returns:
        the suitability per site (NaN where no weighted criterion is known) and, per site, the
        criteria that counted, as ``"heat,green,..."``.
    """
    names = [n for n in scores if params[f"weight_{n}"] > 0]
    if not names:
        n = len(next(iter(scores.values()))) if scores else 0
        return np.full(n, np.nan), [""] * n
    s = np.vstack([scores[n] for n in names])
    w = np.array([float(params[f"weight_{n}"]) for n in names])[:, None]
    known = np.isfinite(s)
    total = (np.where(known, s, 0.0) * w).sum(axis=0)
    weight = (known * w).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(weight > 0, 100.0 * total / weight, np.nan)
    used = [",".join(n for n, k in zip(names, col, strict=True) if k) for col in known.T]
    return out, used
