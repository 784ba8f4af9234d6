"""BGT (IMGeo 2.1) attribute semantics and the mapping to canonical land-cover classes.

Which objects are current (not ended, not planned, at ground level), which are
trees, the building id and status, and the class of each surface object.

The table below is the single source of the mapping; ``docs/bgt-mapping.md``
lists the same rows for people (a test checks that every row is documented).

A BGT surface object is classified in three steps, first match wins:

1. ``(type, value, plus)`` in :data:`PLUS_RULES`: the IMGeo-plus physical
   appearance refines the BGT value (a *groenvoorziening* planted with
   *heesters* is shrub, not grass).
2. ``(type, value)`` in :data:`VALUE_RULES`; the value ``"*"`` means the object
   type alone decides (every *waterdeel* is water).
3. otherwise the object type default in :data:`TYPE_DEFAULT`; the caller counts
   these as ``unmapped_<type>`` in the source report.

``value`` is the BGT classifying attribute of the type (fysiek voorkomen for
terrain and road parts, ``class``/``bgt-type`` for water and structures), read
from the first attribute of :data:`VALUE_ATTRIBUTES` that the object carries.
``plus`` is the IMGeo-plus physical appearance (``plus-fysiekVoorkomen*``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

#: BGT file object types whose polygons together form the planar partition (landcover).
LANDCOVER_TYPES: tuple[str, ...] = (
    "wegdeel",
    "ondersteunendwegdeel",
    "begroeidterreindeel",
    "onbegroeidterreindeel",
    "waterdeel",
    "ondersteunendwaterdeel",
    "pand",
    "overigbouwwerk",
    "kunstwerkdeel",
    "overbruggingsdeel",
    "tunneldeel",
    "spoor",
)

#: Attributes holding the classifying BGT value, per object type, in order of preference.
#: The CityGML encoding uses ``surfaceMaterial``/``class``/``function`` where a CityGML
#: property exists and ``imgeo:bgt-...`` otherwise; both spellings are accepted.
VALUE_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "wegdeel": ("surfaceMaterial", "bgt-fysiekVoorkomen"),
    "ondersteunendwegdeel": ("surfaceMaterial", "bgt-fysiekVoorkomen"),
    "begroeidterreindeel": ("class", "bgt-fysiekVoorkomen"),
    "onbegroeidterreindeel": ("bgt-fysiekVoorkomen", "class"),
    "waterdeel": ("class", "bgt-type"),
    "ondersteunendwaterdeel": ("class", "bgt-type"),
    "overigbouwwerk": ("bgt-type", "class"),
    "kunstwerkdeel": ("bgt-type", "class"),
    "overbruggingsdeel": ("class", "bgt-typeOverbruggingsdeel"),
    "tunneldeel": ("bgt-type", "class"),
    "spoor": ("function", "bgt-functie"),
    "pand": (),
}

#: Prefix of the IMGeo-plus physical-appearance attribute (``plus-fysiekVoorkomenWegdeel``, ...).
PLUS_PREFIX = "plus-fysiekVoorkomen"

#: Code-list values that say "no value" (IMGeo VoidReasonValue) or "not a BGT value".
VOID_VALUES = frozenset({"", "waardeOnbekend", "geenWaarde", "nietBekend", "niet-bgt"})

#: Wildcard value: the object type decides, whatever the value.
ANY = "*"

# Physical appearances shared by roads, road sides and unvegetated terrain.
_PAVED = ("gesloten verharding", "open verharding")
_UNPAVED = ("half verhard", "onverhard")

#: Class of an object whose value is not in the table (counted as ``unmapped_<type>``).
TYPE_DEFAULT: dict[str, str] = {
    "wegdeel": "road_paved",
    "ondersteunendwegdeel": "green_low",
    "begroeidterreindeel": "green_low",
    "onbegroeidterreindeel": "bare",
    "waterdeel": "water",
    "ondersteunendwaterdeel": "water",
    "pand": "building",
    "overigbouwwerk": "building",
    "kunstwerkdeel": "paved_other",
    "overbruggingsdeel": "paved_other",
    "tunneldeel": "paved_other",
    "spoor": "paved_other",
}

VALUE_RULES: dict[tuple[str, str], str] = {
    **{("wegdeel", v): "road_paved" for v in _PAVED},
    **{("wegdeel", v): "road_unpaved" for v in _UNPAVED},
    # A transition between two appearances; refined by the plus value below when known.
    ("wegdeel", "transitie"): "road_paved",
    ("ondersteunendwegdeel", "groenvoorziening"): "green_low",
    **{("ondersteunendwegdeel", v): "paved_other" for v in _PAVED},
    **{("ondersteunendwegdeel", v): "bare" for v in _UNPAVED},
    ("ondersteunendwegdeel", "transitie"): "green_low",
    **{("begroeidterreindeel", v): "green_trees" for v in ("loofbos", "naaldbos", "gemengd bos", "houtwal")},
    **{("begroeidterreindeel", v): "green_shrub" for v in ("struiken", "heide")},
    **{
        ("begroeidterreindeel", v): "agriculture"
        for v in ("grasland agrarisch", "bouwland", "fruitteelt", "boomteelt")
    },
    **{
        ("begroeidterreindeel", v): "green_low"
        for v in ("grasland overig", "groenvoorziening", "rietland", "moeras", "kwelder", "transitie")
    },
    **{("begroeidterreindeel", v): "bare" for v in ("zand", "duin")},
    **{("onbegroeidterreindeel", v): "paved_other" for v in _PAVED},
    **{("onbegroeidterreindeel", v): "bare" for v in _UNPAVED},
    # Yards around houses and farms: mostly paved in practice, but private gardens are
    # also registered as erf; layers that care can select source_class "onbegroeidterreindeel:erf".
    ("onbegroeidterreindeel", "erf"): "paved_other",
    ("onbegroeidterreindeel", "transitie"): "bare",
    ("waterdeel", ANY): "water",
    ("ondersteunendwaterdeel", ANY): "water",
    ("pand", ANY): "building",
    ("overigbouwwerk", ANY): "building",
    ("kunstwerkdeel", ANY): "paved_other",
    ("overbruggingsdeel", ANY): "paved_other",
    ("tunneldeel", ANY): "paved_other",
    ("spoor", ANY): "paved_other",
}

_GREEN_PLUS_SHRUB = ("heesters", "bodembedekkers")
_ROAD_PLUS_PAVED = (
    "asfalt", "cementbeton", "betonstraatstenen", "gebakken klinkers", "tegels",
    "sierbestrating", "beton element",
)
_ROAD_PLUS_UNPAVED = ("zand", "grind", "gravel", "schelpen", "boomschors", "puin", "grasklinkers")

PLUS_RULES: dict[tuple[str, str, str], str] = {
    **{("begroeidterreindeel", "groenvoorziening", p): "green_shrub" for p in _GREEN_PLUS_SHRUB},
    # Bosplantsoen is a dense planting of trees and shrubs in forest arrangement.
    ("begroeidterreindeel", "groenvoorziening", "bosplantsoen"): "green_trees",
    **{("ondersteunendwegdeel", "groenvoorziening", p): "green_shrub" for p in _GREEN_PLUS_SHRUB},
    **{("wegdeel", "transitie", p): "road_paved" for p in _ROAD_PLUS_PAVED},
    **{("wegdeel", "transitie", p): "road_unpaved" for p in _ROAD_PLUS_UNPAVED},
}


#: Object types read besides the land-cover types.
BUILDING_TYPE = "pand"
TREE_TYPE = "vegetatieobject"
TREE_VALUE = "boom"
#: Attributes that may carry a vegetation object's type (``boom``, ``haag``, ...).
TREE_TYPE_ATTRIBUTES = ("class", "bgt-type", "plus-type")
#: An object with a value in one of these is an ended (historic) version.
ENDED_ATTRIBUTES = ("eindRegistratie", "terminationDate")
#: Attributes holding the object's status (``bestaand``, ``plan``), BGT first.
STATUS_ATTRIBUTES = ("bgt-status", "plus-status")
#: Status of objects that are planned, not built (in ``bgt-status`` or ``plus-status``).
PLAN_STATUS = "plan"
#: Attribute of the relative height level; its ground-level value.
LEVEL_ATTRIBUTE = "relatieveHoogteligging"
GROUND_LEVEL = 0
#: Attribute of the object's own id (``identificatie/lokaalID``) and of a pand's BAG pand id.
LOCAL_ID_ATTRIBUTE = "lokaalID"
BAG_ID_ATTRIBUTE = "identificatieBAGPND"
#: Serial part of the dummy BAG pand id (``<gemeente>10`` + ten 9s) of a pand not (yet) in BAG.
BAG_PLACEHOLDER_SERIAL = "9" * 10
#: Digits of a BAG object id (4 gemeente + 2 object type + 10 serial); databases that store it as
#: an integer drop the leading zero of the gemeentecode, which is put back.
BAG_ID_DIGITS = 16

Attributes = Mapping[str, "str | None"]


def is_ended(attrs: Attributes) -> bool:
    """True for an ended version (history): ``eindRegistratie`` or ``terminationDate`` has a value."""
    return any(attrs.get(a) for a in ENDED_ATTRIBUTES)


def is_plan(attrs: Attributes) -> bool:
    """True for a planned object (``bgt-status`` or ``plus-status`` is ``plan``)."""
    return PLAN_STATUS in (clean(attrs.get(a)) for a in STATUS_ATTRIBUTES)


def is_tree(attrs: Attributes) -> bool:
    """True for a vegetation object of type ``boom``."""
    return TREE_VALUE in (clean(attrs.get(a)) for a in TREE_TYPE_ATTRIBUTES)


def level(attrs: Attributes) -> int:
    """``relatieveHoogteligging`` (0 = ground level, also when absent)."""
    value = (attrs.get(LEVEL_ATTRIBUTE) or "").strip()
    return int(value) if value.lstrip("-").isdigit() else GROUND_LEVEL


def building_id_status(attrs: Attributes, lokaal_id: str) -> tuple[str, str, bool]:
    """``(id, status, placeholder)`` of a pand.

    ``id`` is the BAG pand id, or ``lokaal_id`` when there is none or it is a
    placeholder (``placeholder`` True); ``status`` is ``bgt-status``, else
    ``plus-status``, else ``"onbekend"``.
    """
    status = next((v for a in STATUS_ATTRIBUTES if (v := clean(attrs.get(a)))), None) or "onbekend"
    bag_id = clean(attrs.get(BAG_ID_ATTRIBUTE))
    if bag_id is not None and bag_id.isdigit():
        bag_id = bag_id.zfill(BAG_ID_DIGITS)
    placeholder = bag_id is not None and bag_id.endswith(BAG_PLACEHOLDER_SERIAL)
    return (lokaal_id if bag_id is None or placeholder else bag_id), status, placeholder


def skip_reason(obj_type: str, attrs: Attributes) -> str | None:
    """Why an object of ``obj_type`` is not current ground-level topography, or None when it is kept.

    ``"ended"`` (history), ``"plan"`` (not built), ``"not_tree"`` (a vegetation object other
    than a tree) or ``"level"`` (not at ground level; pand and trees are kept at any level).
    The readers count these as ``ended_excluded``/``plan_excluded``/``not_tree_<type>``/
    ``level_excluded_<type>``.
    """
    if is_ended(attrs):
        return "ended"
    if is_plan(attrs):
        return "plan"
    if obj_type == TREE_TYPE and not is_tree(attrs):
        return "not_tree"
    if obj_type not in (BUILDING_TYPE, TREE_TYPE) and level(attrs) != GROUND_LEVEL:
        return "level"
    return None


def _folded(name: str) -> str:
    return name.replace("-", "").replace("_", "").lower()


def attribute_names() -> frozenset[str]:
    """Every attribute name (CityGML local names) the mapping reads, besides the plus prefix."""
    names = {a for names in VALUE_ATTRIBUTES.values() for a in names}
    names |= {*ENDED_ATTRIBUTES, *STATUS_ATTRIBUTES, *TREE_TYPE_ATTRIBUTES, *FUNCTION_ATTRIBUTES}
    return frozenset(names | {LEVEL_ATTRIBUTE, LOCAL_ID_ATTRIBUTE, BAG_ID_ATTRIBUTE})


def attribute_key(column: str) -> str:
    """The CityGML attribute name of a database column, so one mapping serves every encoding.

    ogr2ogr and NLExtract write the IMGeo attributes in lower case with ``_`` for ``-``
    (``bgt_fysiekvoorkomen``, ``plus_fysiekvoorkomenwegdeel``, ``relatievehoogteligging``,
    ``identificatiebagpnd``); case, ``-`` and ``_`` are ignored when matching. Columns the
    mapping does not read are returned unchanged.
    """
    folded = _folded(column)
    known = _FOLDED_NAMES.get(folded)
    if known is not None:
        return known
    plus = _folded(PLUS_PREFIX)
    if folded.startswith(plus):
        return PLUS_PREFIX + folded[len(plus):]  # classify() reads every attribute with this prefix
    return column


def clean(value: str | None) -> str | None:
    """Return ``value`` stripped, or None when it is absent or a void code."""
    if value is None:
        return None
    value = value.strip()
    return None if value in VOID_VALUES else value


def classify(obj_type: str, attrs: Attributes) -> tuple[str, str, bool]:
    """Canonical land-cover class of one BGT surface object.

    Args:
        obj_type: BGT object type as in the file name (``wegdeel``, ``pand``, ...).
        attrs: the object's simple attributes by local element name.

    Returns:
        ``(class, source_class, mapped)``: ``source_class`` is ``"type:value"``
        (``"type:value/plus"`` when the plus value decided, ``"type:*"`` when the
        object has no classifying value) and ``mapped`` is False when the type
        default was used.
    """
    value = next(
        (v for name in VALUE_ATTRIBUTES.get(obj_type, ()) if (v := clean(attrs.get(name))) is not None), None
    )
    plus = next((clean(v) for k, v in attrs.items() if k.startswith(PLUS_PREFIX) and clean(v)), None)
    shown = value if value is not None else ANY
    if value is not None and plus is not None and (obj_type, value, plus) in PLUS_RULES:
        return PLUS_RULES[(obj_type, value, plus)], f"{obj_type}:{value}/{plus}", True
    if value is not None and (obj_type, value) in VALUE_RULES:
        return VALUE_RULES[(obj_type, value)], f"{obj_type}:{shown}", True
    if (obj_type, ANY) in VALUE_RULES:
        return VALUE_RULES[(obj_type, ANY)], f"{obj_type}:{shown}", True
    return TYPE_DEFAULT[obj_type], f"{obj_type}:{shown}", False


#: Object types whose BGT ``functie`` is kept as ``landcover.function``, and where it is read from
#: (the CityGML ``function`` property, or ``bgt-functie`` in other encodings).
FUNCTION_TYPES: tuple[str, ...] = ("wegdeel", "ondersteunendwegdeel")
FUNCTION_ATTRIBUTES: tuple[str, ...] = ("function", "bgt-functie")


def road_function(obj_type: str, attrs: Attributes) -> str | None:
    """The BGT function of a road part (``voetpad``, ``rijbaan lokale weg``, ...), None for other objects.

    Heat stress uses it to tell walking space from carriageways (docs/sources.md).
    """
    if obj_type not in FUNCTION_TYPES:
        return None
    return next((v for name in FUNCTION_ATTRIBUTES if (v := clean(attrs.get(name))) is not None), None)


def mapping_rows() -> Iterator[tuple[str, str, str, str]]:
    """Every rule as ``(object type, BGT value, plus value or "", class)``, grouped by type.

    The defaults of types without a wildcard rule are yielded with the value ``"(other)"``.
    """
    for obj_type in LANDCOVER_TYPES:
        for (t, value), cls in VALUE_RULES.items():
            if t == obj_type:
                yield obj_type, value, "", cls
        for (t, value, plus), cls in PLUS_RULES.items():
            if t == obj_type:
                yield obj_type, value, plus, cls
        if (obj_type, ANY) not in VALUE_RULES:
            yield obj_type, "(other)", "", TYPE_DEFAULT[obj_type]


_FOLDED_NAMES = {_folded(n): n for n in attribute_names()}
