"""Dutch labels and colours of the ``cool-places`` layer.

Cool places are drawn in a cool blue-green under the dwellings, which are
green when a cool place lies within the walking distance of the guideline
(Kluck et al. 2020: 300 m) and red when not, the same met / not-met colours
as the 3-30-300 layer (``styles.green.MET``). ``register()`` adds the rules
to ``styles.vector`` (call it where styles are assembled).
"""

from __future__ import annotations

from styles.green import MET
from styles.vector import VectorRule, register_vector_style

#: Fill and outline of a cool place.
COOL_FILL, COOL_OUTLINE = "#80cdc1", "#01665e"
#: Radius (px) of a dwelling point.
DWELLING_RADIUS_PX = 3.0

#: Dwelling legend label per value of ``meets_cool_300``.
DWELLING_LABELS: dict[bool, str] = {
    True: "Woning binnen 300 m van koele plek",
    False: "Woning verder dan 300 m van koele plek",
}


def cool_place_rules() -> list[VectorRule]:
    """Map rules of ``cool-places``: cool places, buurt outlines, dwellings by ``meets_cool_300``."""
    places = VectorRule("cool-places", "fill", COOL_FILL, "Koele plek (schaduw ≥ 200 m²)", outline=COOL_OUTLINE)
    buurten = VectorRule("neighbourhoods", "line", "#4d4d4d", "Buurtgrens", width=1.0)
    homes = [
        VectorRule("dwellings", "circle", MET[met][0], label, field="meets_cool_300", value=met,
                   width=DWELLING_RADIUS_PX)
        for met, label in DWELLING_LABELS.items()
    ]
    return [places, buurten, *homes]


def register() -> None:
    """Register the style with ``styles.vector`` (once; later calls do nothing)."""
    try:
        register_vector_style("cool-places", cool_place_rules)
    except ValueError:
        return
