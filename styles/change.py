"""The diverging style of a change layer (``layers.change_layer``): decrease, no change, increase.

Seven classes symmetric around zero in ColorBrewer's PuOr scheme (Brewer 2003;
colour-blind safe): purple for a decrease, near-white for no change, orange for
an increase. The class width is a round step (1, 2, 2.5 or 5 times a power of
ten) of at most a third of the largest change seen, so that change lies in an
outer class (from 2.5 steps); the outer classes are open-ended. The vector tiles carry the class of
each zone in ``change_class`` (0..6), so the MapLibre style, legend and QGIS
style all come from the same rules.
"""

from __future__ import annotations

import math

from styles.raster import RasterClass, RasterStyle, format_number, unit_label
from styles.vector import VectorRule

#: PuOr, 7 classes, from the largest decrease to the largest increase.
DIVERGING = ("#542788", "#998ec3", "#d8daeb", "#f7f7f7", "#fee0b6", "#f1a340", "#b35806")
#: The field of the vector tiles holding the class (0..6), and the tile layer the default style draws
#: (the buurten; the ``municipalities`` tile layer overlaps them and is left to clients that ask for it).
CLASS_FIELD = "change_class"
CHANGE_TILE_LAYERS = ("neighbourhoods",)
#: The largest change is placed this many steps from zero (the start of the outer classes is 2.5 steps).
STEPS_TO_MAX = 3.0
_MIDDLE = len(DIVERGING) // 2


def change_step(max_abs: float) -> float:
    """The class width: the largest round number at most ``max_abs / 3`` (1 when nothing changed).

    So the largest change lies beyond 2.5 steps, in an outer class.
    """
    if not math.isfinite(max_abs) or max_abs <= 0:
        return 1.0
    raw = max_abs / STEPS_TO_MAX
    power = 10 ** math.floor(math.log10(raw))
    return max(m * power for m in (1, 2, 2.5, 5) if m * power <= raw * (1 + 1e-9))


def change_edges(step: float) -> list[float]:
    """The six inner class edges: -2.5, -1.5, -0.5, 0.5, 1.5, 2.5 steps."""
    return [(k - 2.5) * step for k in range(6)]


def change_class(delta: float, step: float) -> int | None:
    """The class (0..6) of a change, or None when unknown."""
    if not math.isfinite(delta):
        return None
    return sum(delta >= e for e in change_edges(step))


def _label(lower: float | None, upper: float | None, unit: str) -> str:
    suffix = f" {unit_label(unit)}" if unit else ""
    if lower is None:
        return f"daling van meer dan {format_number(-upper)}{suffix}" if upper is not None else "alle"
    if upper is None:
        return f"stijging van meer dan {format_number(lower)}{suffix}"
    if lower < 0 < upper:
        return f"vrijwel gelijk ({format_number(lower)} tot {format_number(upper)}{suffix})"
    return f"{format_number(lower)} tot {format_number(upper)}{suffix}"


def change_classes(step: float, unit: str) -> list[tuple[float | None, float | None, str, str]]:
    """(lower, upper, colour, Dutch label) of the seven classes."""
    edges: list[float | None] = [None, *change_edges(step), None]
    return [(edges[i], edges[i + 1], DIVERGING[i], _label(edges[i], edges[i + 1], unit)) for i in range(7)]


def change_raster_style(step: float, unit: str, title: str) -> RasterStyle:
    """The diverging raster style of a difference raster."""
    classes = tuple(RasterClass(colour=c, label=lab, lower=lo, upper=up)
                    for lo, up, c, lab in change_classes(step, unit))
    return RasterStyle(kind="continuous", title=title, unit=unit, classes=classes, source="change")


def change_rules() -> list[VectorRule]:
    """Vector rules of a change layer: one fill per class per tile layer (labels without unit: the legend
    names the figure)."""
    rules = []
    for layer in CHANGE_TILE_LAYERS:
        for i, colour in enumerate(DIVERGING):
            label = ("sterke daling", "daling", "lichte daling", "vrijwel gelijk", "lichte stijging", "stijging",
                     "sterke stijging")[i]
            rules.append(VectorRule(layer, "fill", colour, label, field=CLASS_FIELD, value=i, outline="#4d4d4d"))
    return rules
