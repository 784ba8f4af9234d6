"""Dutch labels, units and number formats of the figures of a site assessment (``POST /assess``).

One table (``FIGURES``) says, for every figure key of the assessment's ``site``
and ``buffer`` blocks, how the printable report shows it: the Dutch label, the
unit, the number of decimals and whether a higher value is better (True), worse
(False) or neither (None, e.g. the site area). The last drives the
"beter"/"slechter" mark next to a scenario's difference, so a reader does not
have to know which way each figure should move. Keys that are not in the table
(layers add figures over time) still render: the key is the label, without unit,
with ``DEFAULT_DECIMALS``.

Numbers are in Dutch notation (decimal comma, thousands point); missing values
(None, NaN) render as an en dash.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: What a missing value (None, NaN: no data) renders as.
NO_VALUE = "–"
#: Decimals of figures that are not in ``FIGURES``.
DEFAULT_DECIMALS = 2


@dataclass(frozen=True)
class Figure:
    """How one assessment figure is shown.

    Attributes:
        label: Dutch label.
        unit: unit as printed (``m²``, ``%``, ``K``, ``m``; empty for counts).
        decimals: decimals printed.
        higher_is_better: True when more is better, False when less is better, None when neither.
    """

    label: str
    unit: str = ""
    decimals: int = DEFAULT_DECIMALS
    higher_is_better: bool | None = None


#: Figure key -> how it is shown, in report order.
FIGURES: dict[str, Figure] = {
    "area_m2": Figure("Oppervlakte", "m²", 0),
    "building_pct": Figure("Bebouwd", "%", 1),
    "paved_pct": Figure("Verhard", "%", 1, higher_is_better=False),
    "green_pct": Figure("Groen", "%", 1, higher_is_better=True),
    "water_pct": Figure("Water", "%", 1, higher_is_better=True),
    "canopy_pct": Figure("Boomkroon", "%", 1, higher_is_better=True),
    "uhi_max_mean": Figure("Hitte-eilandeffect, gemiddeld", "K", 1, higher_is_better=False),
    "uhi_max_max": Figure("Hitte-eilandeffect, hoogste", "K", 1, higher_is_better=False),
    "shade_pct": Figure("Schaduw om 15 uur op 1 juli", "%", 1, higher_is_better=True),
    "trees_count": Figure("Bomen", "", 0, higher_is_better=True),
    "crown_area_m2": Figure("Kroonoppervlak van bomen", "m²", 0, higher_is_better=True),
    "dwellings": Figure("Woningen", "", 0),
    "dwellings_meeting_3": Figure("Woningen die 3 bomen zien", "", 0, higher_is_better=True),
    "dwellings_meeting_30": Figure("Woningen met 30 % boomkroon in de buurt", "", 0, higher_is_better=True),
    "dwellings_meeting_300": Figure("Woningen met een park binnen 300 m", "", 0, higher_is_better=True),
    "nearest_park_m": Figure("Afstand tot het dichtstbijzijnde park", "m", 0, higher_is_better=False),
    "nearest_cool_place_m": Figure("Afstand tot de dichtstbijzijnde koele plek", "m", 0, higher_is_better=False),
    "vacant_dwellings": Figure("Leegstaande woningen (openbare 100 m-vakken)", "", 0),
    "housing_sites": Figure("Woningbouwlocaties", "", 0),
    "planned_dwellings": Figure("Geplande woningen op die locaties", "", 0),
    "pet_afternoon_mean": Figure("Gevoelstemperatuur 12-18 uur, gemiddeld", "°C", 1, higher_is_better=False),
    "pet_1500_mean": Figure("Gevoelstemperatuur om 15 uur, gemiddeld", "°C", 1, higher_is_better=False),
    "pet_strong_pct": Figure("Sterke of extreme hittestress (PET vanaf 35 °C)", "%", 1, higher_is_better=False),
}

#: Threshold operators as printed.
OPERATORS: dict[str, str] = {">=": "≥", "<=": "≤", ">": ">", "<": "<", "==": "=", "=": "="}


def figure(key: str) -> Figure:
    """How figure ``key`` is shown; unknown keys get the key as label, no unit and ``DEFAULT_DECIMALS``."""
    return FIGURES.get(key) or Figure(key)


def ordered_keys(*blocks: dict[str, object] | None) -> list[str]:
    """The figure keys of ``blocks`` (e.g. site and buffer): known keys in table order, then the others as met."""
    seen: list[str] = []
    for block in blocks:
        for key in block or {}:
            if key not in seen:
                seen.append(key)
    known = [k for k in FIGURES if k in seen]
    return known + [k for k in seen if k not in FIGURES]


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and not math.isfinite(value))


def dutch_number(value: float, decimals: int, *, signed: bool = False) -> str:
    """``value`` with ``decimals`` decimals in Dutch notation: ``1234.5`` -> ``1.234,5``.

    Args:
        value: the number.
        decimals: decimals printed (rounded half to even, like Python's format).
        signed: prefix ``+`` to positive values (for differences).
    """
    text = f"{value:{'+' if signed else ''},.{decimals}f}"
    if text.lstrip("+-").strip("0,.") == "":  # -0,0 and +0,0 are just 0,0
        text = text.lstrip("+-")
    return text.replace(",", "\0").replace(".", ",").replace("\0", ".")


def format_value(key: str, value: object, *, signed: bool = False) -> str:
    """The value of figure ``key`` as printed, without unit; ``NO_VALUE`` when missing.

    Booleans print as ``ja``/``nee``; text prints as it is.
    """
    if _missing(value):
        return NO_VALUE
    if isinstance(value, bool):
        return "ja" if value else "nee"
    if isinstance(value, int | float):
        return dutch_number(float(value), figure(key).decimals, signed=signed)
    return str(value)


def with_unit(key: str, value: object, *, signed: bool = False) -> str:
    """The value of figure ``key`` with its unit (``60,1 %``); only ``NO_VALUE`` when missing."""
    text = format_value(key, value, signed=signed)
    unit = figure(key).unit
    return text if text == NO_VALUE or not unit else f"{text} {unit}"


def change_mark(key: str, delta: object) -> str:
    """``beter``, ``slechter`` or empty: how a change by ``delta`` of figure ``key`` reads.

    Empty when the figure has no preferred direction, the change is missing or
    rounds to zero at the figure's decimals.
    """
    better = figure(key).higher_is_better
    if better is None or _missing(delta) or not isinstance(delta, int | float) or isinstance(delta, bool):
        return ""
    if round(float(delta), figure(key).decimals) == 0:
        return ""
    return "beter" if (delta > 0) == better else "slechter"


def norm_text(key: str, operator: str, threshold: object) -> str:
    """A threshold as printed: ``≥ 30,0 %``."""
    return f"{OPERATORS.get(operator, operator)} {with_unit(key, threshold)}"
