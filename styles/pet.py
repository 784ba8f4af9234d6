"""Default raster styles of the ``pet`` layer: the heat-stress classes of the Klimaateffectatlas, in Dutch.

Both rasters (``pet_afternoon``, the mean over 12:00-18:00, and ``pet_1500``)
use the five PET classes of ``geo.pet.PET_CLASSES`` (Matzarakis & Mayer 1996,
the classes of the atlas heat map): fixed bounds, so every municipality and
every rebuild reads alike. The colours run from a pale blue-green (no heat
stress) through yellow and orange to dark red (extreme), ColorBrewer's RdYlBu
reversed, readable with the common forms of colour blindness.
"""

from __future__ import annotations

import math

from geo.pet import PET_CLASSES
from styles.raster import RasterClass, RasterStyle, interval_label, register_raster_style

#: One colour per class of ``PET_CLASSES``, coolest first (ColorBrewer RdYlBu, reversed, 5 classes).
PET_COLOURS = ("#abd9e9", "#ffffbf", "#fdae61", "#f46d43", "#a50026")


def _style(title: str) -> RasterStyle:
    classes = []
    for pet_class, colour in zip(PET_CLASSES, PET_COLOURS, strict=True):
        lower = pet_class.lower if math.isfinite(pet_class.lower) else None
        upper = pet_class.upper if math.isfinite(pet_class.upper) else None
        label = f"{pet_class.label_nl} ({interval_label(lower, upper, 'degC')})"
        classes.append(RasterClass(colour=colour, label=label, lower=lower, upper=upper))
    return RasterStyle(kind="continuous", title=title, unit="degC", classes=tuple(classes))


def afternoon_style() -> RasterStyle:
    """Gevoelstemperatuur 12-18 uur: the atlas classes."""
    return _style("Gevoelstemperatuur (PET) 12-18 uur op een hete dag")


def moment_style() -> RasterStyle:
    """Gevoelstemperatuur om 15 uur: the atlas classes."""
    return _style("Gevoelstemperatuur (PET) om 15 uur op een hete dag")


def register() -> None:
    """Register the raster styles (once; ``styles.raster`` calls this when it first looks a style up)."""
    register_raster_style("pet", "pet_afternoon", afternoon_style)
    register_raster_style("pet", "pet_1500", moment_style)
