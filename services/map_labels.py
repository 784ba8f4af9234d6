"""Dutch labels and units of the attributes the DIY map shows on identify (published output columns).

Columns that are not in the table still show: the column name is the label, without unit. Numbers are
printed in Dutch notation with ``styles.assess_labels.dutch_number``.
"""

from __future__ import annotations

import math

from styles.assess_labels import NO_VALUE, dutch_number

#: Column -> (Dutch label, unit).
ATTRIBUTES: dict[str, tuple[str, str]] = {
    "id": ("Id", ""),
    "code": ("Buurtcode", ""),
    "name": ("Naam", ""),
    "class": ("Klasse", ""),
    "source_class": ("Bronklasse", ""),
    "source_id": ("Bron-id", ""),
    "public": ("Openbaar", ""),
    "status": ("Status", ""),
    "year": ("Bouwjaar", ""),
    "area_m2": ("Oppervlakte", "m²"),
    "kind": ("Soort", ""),
    "dwelling_id": ("Woning (verblijfsobject)", ""),
    "building_id": ("Pand", ""),
    "buurt_code": ("Buurtcode", ""),
    "dwellings": ("Woningen", ""),
    "trees_visible": ("Zichtbare bomen", ""),
    "meets_3": ("Ziet 3 bomen", ""),
    "meets_30": ("30 % boomkroon in de buurt", ""),
    "meets_300": ("Park binnen 300 m", ""),
    "score": ("Score 3-30-300", ""),
    "canopy_pct": ("Boomkroon", "%"),
    "park_distance_m": ("Loopafstand tot park", "m"),
    "cool_place_id": ("Koele plek", ""),
    "cool_distance_m": ("Loopafstand tot koele plek", "m"),
    "meets_cool_300": ("Koele plek binnen 300 m", ""),
    "green_pct": ("Groen", "%"),
    "building_pct": ("Bebouwd", "%"),
    "paved_pct": ("Verhard", "%"),
    "water_pct": ("Water", "%"),
    "bare_pct": ("Kaal", "%"),
    "mapped_pct": ("Gekarteerd", "%"),
    "public_pct": ("Openbaar terrein", "%"),
    "uhi_max_mean_k": ("Hitte-eilandeffect, gemiddeld", "K"),
    "uhi_max_p95_k": ("Hitte-eilandeffect, 95e percentiel", "K"),
    "walk_shade_pct_1500": ("Schaduw op looproutes om 15 uur", "%"),
    "walk_shade_pct_afternoon": ("Schaduw op looproutes 12-18 uur", "%"),
    "main_route_shade_pct_1500": ("Schaduw op hoofdroutes om 15 uur", "%"),
    "neighbourhood_shade_pct_1500": ("Schaduw op buurtstraten om 15 uur", "%"),
    "meets_shade_main_route": ("Haalt 40 % schaduw op hoofdroutes", ""),
    "meets_shade_neighbourhood": ("Haalt 30 % schaduw op buurtstraten", ""),
    "meets_3_pct": ("Woningen die 3 bomen zien", "%"),
    "meets_30_pct": ("Woningen met 30 % boomkroon", "%"),
    "meets_300_pct": ("Woningen met park binnen 300 m", "%"),
    "meets_all_pct": ("Woningen die alle drie halen", "%"),
    "meets_none_pct": ("Woningen die geen van drie halen", "%"),
    "dwellings_within_300": ("Woningen binnen 300 m van een koele plek", ""),
    "dwellings_nearest": ("Woningen waarvoor dit de dichtstbijzijnde is", ""),
    "dwellings_within": ("Woningen binnen bereik", ""),
    "share_pct": ("Aandeel", "%"),
    "origin": ("Herkomst", ""),
    "walk_area_m2": ("Oppervlak looproutes", "m²"),
    "walk_main_route_m2": ("Oppervlak hoofdroutes", "m²"),
    "walk_neighbourhood_m2": ("Oppervlak buurtstraten", "m²"),
    "main_route_shade_pct_afternoon": ("Schaduw op hoofdroutes 12-18 uur", "%"),
    "neighbourhood_shade_pct_afternoon": ("Schaduw op buurtstraten 12-18 uur", "%"),
    "source_classes": ("Bronklassen", ""),
    "pet_afternoon_mean": ("Gevoelstemperatuur 12-18 uur buiten, gemiddeld", "°C"),
    "walk_pet_afternoon_mean": ("Gevoelstemperatuur 12-18 uur op looproutes, gemiddeld", "°C"),
    "walk_pet_afternoon_p95": ("Gevoelstemperatuur 12-18 uur op looproutes, 95e percentiel", "°C"),
    "walk_pet_1500_mean": ("Gevoelstemperatuur om 15 uur op looproutes, gemiddeld", "°C"),
    "walk_cells": ("Cellen looproute", ""),
    "outdoor_cells": ("Cellen buiten (geen dak)", ""),
    "walk_pct_geen": ("Looproute zonder hittestress (PET onder 23 °C)", "%"),
    "walk_pct_licht": ("Looproute met lichte hittestress (23-29 °C)", "%"),
    "walk_pct_matig": ("Looproute met matige hittestress (29-35 °C)", "%"),
    "walk_pct_sterk": ("Looproute met sterke hittestress (35-41 °C)", "%"),
    "walk_pct_extreem": ("Looproute met extreme hittestress (vanaf 41 °C)", "%"),
    "pet_afternoon": ("Gevoelstemperatuur 12-18 uur", "°C"),
    "pet_1500": ("Gevoelstemperatuur om 15 uur", "°C"),
}
#: Output (published vector file) -> Dutch name of one of its features, as the identify panel heads it.
OUTPUTS: dict[str, str] = {
    "buildings": "Pand",
    "landcover": "Vlak van de bodembedekking",
    "dwellings": "Woning",
    "parks": "Park",
    "cool-places": "Koele plek",
    "roads": "Weg",
    "paved": "Verharding",
    "green": "Groen",
    "water": "Water",
    "neighbourhoods": "Buurt",
}
#: Decimals of a non-integer number.
DECIMALS = 1


def attribute_label(column: str) -> tuple[str, str]:
    """(Dutch label, unit) of a published column; unknown columns keep their name, without unit."""
    if column in ATTRIBUTES:
        return ATTRIBUTES[column]
    for suffix in ("_public", "_private"):
        if column.endswith(suffix) and column[: -len(suffix)] in ATTRIBUTES:
            label, unit = ATTRIBUTES[column[: -len(suffix)]]
            return f"{label} ({'openbaar' if suffix == '_public' else 'particulier'})", unit
    return column, ""


def output_label(output: str) -> str:
    """Dutch name of a feature of a published vector output (unknown outputs keep their name)."""
    return OUTPUTS.get(output, output)


def format_value(value: object, unit: str = "") -> str:
    """A value as the map prints it: ``ja``/``nee``, Dutch numbers with the unit, text as it is."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return NO_VALUE
    if isinstance(value, bool):
        return "ja" if value else "nee"
    if isinstance(value, int):
        text = str(value)
    elif isinstance(value, float):
        text = dutch_number(value, 0 if value.is_integer() and not unit else DECIMALS)
    else:
        return str(value)
    return f"{text} {unit}" if unit else text
