"""The norms a site's figures are judged against, each with its source.

Only norms that a guideline states as a number are listed; the figures
without a national norm (``uhi_max``, the surface shares) are reported
without a verdict unless the region config gives one (``assess.thresholds``).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from geo.errors import ConfigError

KLUCK = "Kluck et al. 2020, De hittebestendige stad (HvA / Klimaatverbond)"
KONIJNENDIJK = "Konijnendijk 2023, de 3-30-300-regel (J. Forestry Research 34:821-830)"
REGION = "regioconfiguratie"

_OPERATORS: dict[str, Callable[[float, float], bool]] = {">=": operator.ge, "<=": operator.le}
#: The operators a norm may use.
OPERATORS: tuple[str, ...] = tuple(_OPERATORS)
#: The zones a norm may apply to.
ZONES: tuple[str, ...] = ("site", "buffer")
#: Every figure of a zone (``layers.assess.zone_figures``; a test keeps the two equal), in report order.
FIGURES: tuple[str, ...] = (
    "area_m2", "building_pct", "paved_pct", "green_pct", "water_pct", "canopy_pct",
    "uhi_max_mean", "uhi_max_max", "shade_pct", "trees_count", "crown_area_m2",
    "dwellings", "dwellings_meeting_3", "dwellings_meeting_30", "dwellings_meeting_300",
    "nearest_park_m", "nearest_cool_place_m",
    "vacant_dwellings", "housing_sites", "planned_dwellings",  # read off layers vacancy and housing-sites
    "pet_afternoon_mean", "pet_1500_mean", "pet_strong_pct",  # layer pet: published, recomputed near edits
)


@dataclass(frozen=True)
class Threshold:
    """A norm on one figure of one zone.

    Attributes:
        figure: the figure's key (``shade_pct``, ...).
        zone: ``site`` or ``buffer``.
        threshold: the norm's value, in the figure's unit; or the name of another figure of the same zone
            (``dwellings``: every dwelling must meet it).
        operator: ``>=`` or ``<=``.
        source: the guideline, paper or config that gives it.
    """

    figure: str
    zone: str
    threshold: float | str
    operator: str
    source: str


#: The national norms (Kluck et al. 2020 and the 3-30-300 rule).
NORMS: tuple[Threshold, ...] = (
    Threshold("shade_pct", "site", 30.0, ">=", KLUCK + ": 30 % schaduw op looproutes in woonwijken om 15 uur"),
    Threshold("nearest_cool_place_m", "site", 300.0, "<=", KLUCK + ": een koele plek binnen 300 m"),
    Threshold("canopy_pct", "buffer", 30.0, ">=", KONIJNENDIJK + ": 30 % boomkroon in de buurt"),
    Threshold("nearest_park_m", "site", 300.0, "<=", KONIJNENDIJK + ": een park binnen 300 m"),
    Threshold("dwellings_meeting_3", "site", "dwellings", ">=", KONIJNENDIJK + ": elke woning ziet 3 bomen"),
    Threshold("dwellings_meeting_30", "site", "dwellings", ">=", KONIJNENDIJK + ": elke woning 30 % kroon"),
    Threshold("dwellings_meeting_300", "site", "dwellings", ">=",
              KONIJNENDIJK + ": elke woning binnen 300 m van een park"),
)


def region_norms(given: Sequence[Mapping[str, Any]], where: str = "assess.thresholds") -> tuple[Threshold, ...]:
    """Norms of the region config (``assess.thresholds``, as published with the inputs).

    Args:
        given: rows ``{figure, zone, threshold, operator[, source]}``; ``source`` defaults to
            :data:`REGION`.
        where: where the rows come from, for messages.

    Raises:
        ConfigError: an unknown key, figure, zone or operator, or a threshold that is not a number.
    """
    out = []
    for i, row in enumerate(given):
        path = f"{where}[{i}]"
        unknown = set(row) - {"figure", "zone", "threshold", "operator", "source"}
        if unknown:
            raise ConfigError(f"{path}: unknown key(s) {', '.join(sorted(unknown))}")
        if row.get("figure") not in FIGURES:
            raise ConfigError(f"{path}: unknown figure {row.get('figure')!r}; figures: {', '.join(FIGURES)}")
        if row.get("operator") not in _OPERATORS or row.get("zone") not in ZONES:
            raise ConfigError(f"{path}: operator must be >= or <=, zone site or buffer")
        try:
            threshold = float(row["threshold"])
        except (KeyError, TypeError, ValueError):
            raise ConfigError(f"{path}: threshold must be a number, got {row.get('threshold')!r}") from None
        out.append(Threshold(str(row["figure"]), row["zone"], threshold, row["operator"],
                             str(row.get("source") or REGION)))
    return tuple(out)


def norm_rows(norms: Sequence[Threshold]) -> list[dict[str, Any]]:
    """``norms`` as the rows :func:`region_norms` reads (to publish them with the inputs)."""
    return [{"figure": n.figure, "zone": n.zone, "threshold": n.threshold, "operator": n.operator,
             "source": n.source} for n in norms]


def judge(figures: Mapping[str, Mapping[str, Any]], norms: Sequence[Threshold] = NORMS) -> list[dict[str, Any]]:
    """One row per norm: figure, zone, value, threshold, operator, met (None without a value), source.

    A norm on dwellings is left out for a zone without dwellings (nothing to judge).
    """
    rows = []
    for norm in norms:
        zone = figures.get(norm.zone, {})
        value = zone.get(norm.figure)
        limit = zone.get(norm.threshold) if isinstance(norm.threshold, str) else norm.threshold
        if isinstance(norm.threshold, str) and not limit:
            continue
        met = None if value is None or limit is None else bool(_OPERATORS[norm.operator](value, limit))
        rows.append({"figure": norm.figure, "zone": norm.zone, "value": value, "threshold": limit,
                     "operator": norm.operator, "met": met, "source": norm.source})
    return rows
