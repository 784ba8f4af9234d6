"""Dutch labels and colours of the ``green-paved`` and ``tree-3-30-300`` layers.

The surface colours are those of the land-cover palette (``styles.palettes``),
so a share reads like the class it sums. The 3-30-300 score runs from red
(no rule met) to dark green (all three), a ColorBrewer RdYlGn ramp that stays
ordered in greyscale; the individual rules are shown as met / not met.
``register()`` adds the vector map rules to ``styles.vector`` (call it where
styles are assembled). The 0.5 m ``canopy`` raster of ``green-paved`` (height of
canopy cells above the terrain) gets a light-to-dark green ramp in height
classes; its style is registered with ``styles.raster`` when this module is
imported (``styles.heat``, which ``styles.raster`` loads, imports it).
"""

from __future__ import annotations

from geo.canopy import CANOPY_MIN_HEIGHT_M
from styles.palettes import LANDCOVER
from styles.raster import RasterClass, RasterStyle, interval_label, register_raster_style
from styles.vector import VectorRule, register_vector_style

#: Column / band -> (Dutch label, colour of 100 %).
SHARES: dict[str, tuple[str, str]] = {
    "building_pct": ("Bebouwd", LANDCOVER["building"][0]),
    "paved_pct": ("Verhard", LANDCOVER["road_paved"][0]),
    "green_pct": ("Groen", LANDCOVER["green_shrub"][0]),
    "water_pct": ("Water", LANDCOVER["water"][0]),
    "bare_pct": ("Onverhard en kaal", LANDCOVER["bare"][0]),
    "canopy_pct": ("Boomkroon", LANDCOVER["green_trees"][0]),
}

#: Suffix of the public/private split columns -> Dutch label.
OWNERSHIP: dict[str, str] = {"public": "openbaar terrein", "private": "particulier terrein"}

#: Columns of the 3-30-300 layer -> Dutch label.
RULES: dict[str, str] = {
    "trees_visible": "Zichtbare bomen binnen 30 m",
    "meets_3": "Ziet 3 bomen",
    "canopy_pct": "Boomkroon in de buurt (%)",
    "meets_30": "30% boomkroon in de buurt",
    "park_distance_m": "Loopafstand tot park (m)",
    "meets_300": "Park binnen 300 m",
    "score": "Aantal regels gehaald (0-3)",
    "meets_all_pct": "Woningen die aan alle drie voldoen (%)",
    "meets_none_pct": "Woningen die aan geen enkele voldoen (%)",
}

#: Score (rules met) -> (colour, Dutch label).
SCORE: dict[int, tuple[str, str]] = {
    0: ("#d7191c", "Geen van de drie"),
    1: ("#fdae61", "Eén van de drie"),
    2: ("#a6d96a", "Twee van de drie"),
    3: ("#1a9641", "Alle drie"),
}

#: Met / not met colours of a single rule.
MET: dict[bool, tuple[str, str]] = {True: ("#1a9641", "Gehaald"), False: ("#d7191c", "Niet gehaald")}


#: Height classes (m above the terrain) of the canopy raster, from the canopy threshold up; the last is open.
CANOPY_BREAKS: tuple[float, ...] = (CANOPY_MIN_HEIGHT_M, 5.0, 10.0, 15.0, 20.0)
#: Light to dark green (ColorBrewer Greens, 5 classes).
CANOPY_COLOURS: tuple[str, ...] = ("#bae4b3", "#74c476", "#31a354", "#006d2c", "#00441b")


def canopy_style() -> RasterStyle:
    """Boomkroon uit AHN: height classes of the canopy cells (m), the last class open upward."""
    bounds = (*CANOPY_BREAKS, None)
    classes = tuple(
        RasterClass(colour=CANOPY_COLOURS[i], label=interval_label(lower, bounds[i + 1], "m"), lower=lower,
                    upper=bounds[i + 1])
        for i, lower in enumerate(CANOPY_BREAKS)
    )
    return RasterStyle(kind="continuous", title="Boomkroon uit AHN (hoogte boven maaiveld)", unit="m",
                       classes=classes, nodata_label="Geen boomkroon of geen gegevens")


def share_label(column: str) -> str:
    """Dutch label of a share column, including the public/private split (``paved_pct_private``)."""
    for suffix, words in OWNERSHIP.items():
        if column.endswith(f"_{suffix}"):
            return f"{SHARES[column.removesuffix(f'_{suffix}')][0]}, {words} (%)"
    return f"{SHARES[column][0]} (%)"


def tree_rule_rules() -> list[VectorRule]:
    """Map rules of ``tree-3-30-300``: parks under dwellings coloured by score."""
    parks = VectorRule("parks", "fill", "#a6d96a", "Park (openbaar groen, min. 0,5 ha)", outline="#1a9641")
    buurten = VectorRule("neighbourhoods", "line", "#4d4d4d", "Buurtgrens", width=1.0)
    homes = [
        VectorRule("dwellings", "circle", colour, f"Woning: {label.lower()}", field="score", value=score, width=3.0)
        for score, (colour, label) in SCORE.items()
    ]
    return [parks, buurten, *homes]


def green_paved_rules() -> list[VectorRule]:
    """Map rule of ``green-paved``: buurt outlines (the shares are in the table and the raster bands)."""
    return [VectorRule("neighbourhoods", "line", "#1a9641", "Buurt (zie tabel voor aandelen)", width=1.5)]


def register() -> None:
    """Register both vector styles with ``styles.vector`` (once; later calls do nothing)."""
    for style_id, factory in (("tree-3-30-300", tree_rule_rules), ("green-paved", green_paved_rules)):
        try:
            register_vector_style(style_id, factory)
        except ValueError:
            continue


def _register_raster() -> None:
    try:
        register_raster_style("green-paved", "canopy", canopy_style)
    except ValueError:
        return


_register_raster()
