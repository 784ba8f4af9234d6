"""Default raster styles of the ``heat-stress`` layer, with Dutch legends.

``uhi_max`` (K) uses fixed class breaks, the same for every municipality and
every rebuild, so maps can be compared side by side and over time (a
data-driven ramp would shift with each region). The breaks cover the range
of Theeuwes et al. (2017)'s diagnostic for Dutch towns on a reference hot
day (0 to about 5 K); the colours are ColorBrewer's YlOrRd, a sequential
ramp readable with the common forms of colour blindness and in greyscale.
``uhi_max_100m`` (the mean over the street cells of each 100 m cell, the
scale the equation was fitted on) has the same classes, so the two maps read
alike.

The two shade rasters share one ramp, from light (sun) to dark blue (shade)
in steps of 20 %: ``shade_pct_1500`` (shade at 15:00 on 1 July, the moment
the Kluck et al. (2020) targets are judged at; 0 or 100 % per cell) and
``shade_pct_afternoon`` (share of 12:00-18:00 in shade, the second figure).
The 30 % and 40 % targets fall on the class edges 20-40 and 40-60.
"""

from __future__ import annotations

from styles.green import MET
from styles.raster import RasterClass, RasterStyle, interval_label, register_raster_style
from styles.vector import VectorRule, register_vector_style

#: Class breaks of uhi_max (K); the last class is open upwards.
UHI_BREAKS = (0.0, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0)
#: ColorBrewer YlOrRd, 8 classes.
UHI_COLOURS = ("#ffffcc", "#ffeda0", "#fed976", "#feb24c", "#fd8d3c", "#fc4e2a", "#e31a1c", "#b10026")
#: Class breaks of the shade rasters (%).
SHADE_BREAKS = (0.0, 20.0, 40.0, 60.0, 80.0, 100.0)
#: ColorBrewer Blues, 5 classes.
SHADE_COLOURS = ("#eff3ff", "#bdd7e7", "#6baed6", "#3182bd", "#08519c")
#: The top class of shade includes 100 % itself (upper bounds are exclusive).
_SHADE_TOP = 100.001


def uhi_style(title: str = "Maximaal hitte-eilandeffect (K)") -> RasterStyle:
    """Hitte-eilandeffect: fixed classes of uhi_max in kelvin, with ``title`` as the legend title."""
    classes = []
    for i, lower in enumerate(UHI_BREAKS):
        upper = UHI_BREAKS[i + 1] if i + 1 < len(UHI_BREAKS) else None
        classes.append(RasterClass(colour=UHI_COLOURS[i], label=interval_label(lower, upper, "K"),
                                   lower=lower, upper=upper))
    return RasterStyle(kind="continuous", title=title, unit="K", classes=tuple(classes))


def uhi_block_style() -> RasterStyle:
    """Hitte-eilandeffect per 100 m: the classes of uhi_max, for its mean over the streets of 100 m cells."""
    return uhi_style("Maximaal hitte-eilandeffect, gemiddeld per 100 m (K)")


def _shade_style(title: str) -> RasterStyle:
    """A shade raster in classes of 20 %, with ``title`` as the legend title."""
    classes = []
    for i, lower in enumerate(SHADE_BREAKS[:-1]):
        upper = SHADE_BREAKS[i + 1]
        classes.append(RasterClass(colour=SHADE_COLOURS[i], label=interval_label(lower, upper, "%"), lower=lower,
                                   upper=_SHADE_TOP if upper == SHADE_BREAKS[-1] else upper))
    return RasterStyle(kind="continuous", title=title, unit="%", classes=tuple(classes))


def shade_moment_style() -> RasterStyle:
    """Schaduw om 15 uur op 1 juli (the moment of the Kluck targets), in classes of 20 %."""
    return _shade_style("Schaduw om 15 uur op 1 juli (%)")


def shade_afternoon_style() -> RasterStyle:
    """Schaduw tussen 12 en 18 uur op 1 juli (the second figure), in classes of 20 %."""
    return _shade_style("Schaduw 12-18 uur op 1 juli (%)")


#: Dutch legend label of a buurt by ``meets_shade_neighbourhood`` (judged on the shade at 15:00).
BUURT_SHADE_LABELS: dict[bool, str] = {
    True: "Buurt haalt 30 % schaduw om 15 uur op buurtstraten",
    False: "Buurt haalt 30 % schaduw om 15 uur op buurtstraten niet",
}


def buurt_rules() -> list[VectorRule]:
    """Map rules of the per-buurt table: met / not met shade target on neighbourhood streets, and outlines."""
    fills = [
        VectorRule("neighbourhoods", "fill", MET[met][0], label, field="meets_shade_neighbourhood", value=met)
        for met, label in BUURT_SHADE_LABELS.items()
    ]
    return [*fills, VectorRule("neighbourhoods", "line", "#4d4d4d", "Buurtgrens", width=1.0)]


def register() -> None:
    """Register the raster styles (once; ``styles.raster`` calls this when it first looks a style up)."""
    register_raster_style("heat-stress", "uhi_max", uhi_style)
    register_raster_style("heat-stress", "uhi_max_100m", uhi_block_style)
    register_raster_style("heat-stress", "shade_pct_1500", shade_moment_style)
    register_raster_style("heat-stress", "shade_pct_afternoon", shade_afternoon_style)


def register_vector() -> None:
    """Register the buurt table's map rules with ``styles.vector`` (once; later calls do nothing)."""
    try:
        register_vector_style("heat-stress", buurt_rules)
    except ValueError:
        return
