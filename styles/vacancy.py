"""Dutch labels and colours of the ``vacancy`` and ``vacancy-addresses`` layers.

The public ``vacancy`` layer is drawn as outlines (municipality, buurt) over the CBS
100 m squares in a light fill: its figures are in the table, and a square's colour
must not hint at a suppressed count. The internal ``vacancy-addresses`` points are
coloured by duration class, frictional to structural in a sequential orange-red
(ColorBrewer OrRd), unknown in grey. ``register()`` adds the rules to ``styles.vector``.
"""

from __future__ import annotations

from geo.vacancy import LONG, MEDIUM, SHORT, UNKNOWN
from styles.vector import VectorRule, register_vector_style

#: Point colour and legend label per duration class (``duration_class``).
DURATION_STYLE: dict[str, tuple[str, str]] = {
    SHORT: ("#fdcc8a", "Leeg, korter dan 1 jaar"),
    MEDIUM: ("#fc8d59", "Leeg, 1 tot 3 jaar"),
    LONG: ("#d7301f", "Leeg, langer dan 3 jaar (structureel)"),
    UNKNOWN: ("#969696", "Leeg, duur onbekend"),
}
#: Radius (px) of an address point.
ADDRESS_RADIUS_PX = 3.5


def vacancy_rules() -> list[VectorRule]:
    """Map rules of ``vacancy``: squares, buurt and municipality outlines (figures in the table)."""
    return [
        VectorRule("grid", "fill", "#fee8c8", "100 m-vierkant (zie tabel)", outline="#fdbb84"),
        VectorRule("buurten", "line", "#4d4d4d", "Buurtgrens", width=1.0),
        VectorRule("gemeenten", "line", "#252525", "Gemeentegrens", width=2.0),
    ]


def vacancy_address_rules() -> list[VectorRule]:
    """Map rules of ``vacancy-addresses``: one circle per vacant address, by duration class."""
    return [
        VectorRule("addresses", "circle", colour, label, field="duration_class", value=cls, width=ADDRESS_RADIUS_PX)
        for cls, (colour, label) in DURATION_STYLE.items()
    ]


def register() -> None:
    """Register both styles with ``styles.vector`` (once; later calls do nothing)."""
    for style_id, factory in (("vacancy", vacancy_rules), ("vacancy-addresses", vacancy_address_rules)):
        try:
            register_vector_style(style_id, factory)
        except ValueError:
            continue
