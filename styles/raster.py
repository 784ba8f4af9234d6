"""Default styles of raster outputs: classes, colours and Dutch legend labels with units.

A raster style is either *classified* (one colour per integer class code, e.g.
land cover) or *continuous* (value intervals ``[lower, upper)`` each with one
colour, e.g. heights or temperatures). Both turn into a rio-tiler colour map:
a code -> RGBA dict for classified rasters, a list of ``((lower, upper), RGBA)``
intervals for continuous ones, so tiles, legends and QGIS styles come from the
same definition.

Where a style comes from, in order:

1. a style registered for ``(style_id, output)`` (``register_raster_style``);
2. a colour table embedded in the COG (classified rasters; labels ``Klasse N``);
3. a continuous ramp over the data range: "nice" class breaks (1, 2, 2.5 or 5
   times a power of ten, Heckbert, "Nice numbers for graph labels", Graphics
   Gems, 1990) coloured with viridis, which is perceptually uniform and readable
   with the common forms of colour blindness (van der Walt and Smith, 2015).

The resolved style is written next to the COG at publish time (``to_json``), so
the server, the pre-rendered tiles and the legend always agree.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
from rio_tiler.colormap import cmap as rio_colormaps

from geo.canonical import LANDCOVER_CODES
from geo.raster import Raster
from styles.palettes import LANDCOVER, hex_to_rgba, raster_colormap

#: Number of classes aimed for when breaks are derived from the data range.
TARGET_CLASSES = 6
#: Mantissas of "nice" class widths (times a power of ten).
NICE_STEPS = (1.0, 2.0, 2.5, 5.0)
#: Colour-blind-safe sequential ramp used for continuous rasters without a registered style.
DEFAULT_RAMP = "viridis"
#: Entries in a rio-tiler named colour map (0-255).
RAMP_ENTRIES = 256
#: Opaque alpha.
OPAQUE = 255
#: Schema version of the style JSON written next to a COG.
STYLE_SCHEMA = 1

#: Units as shown in Dutch legends (COG band unit -> label).
UNIT_LABELS: dict[str, str] = {
    "m": "m",
    "metre": "m",
    "metres": "m",
    "m NAP": "m NAP",
    "m2": "m²",
    "%": "%",
    "percent": "%",
    "degC": "°C",
    "celsius": "°C",
    "K": "K",
    "kelvin": "K",
    "h": "uur",
    "mm": "mm",
}

Kind = Literal["classified", "continuous"]


def unit_label(unit: str) -> str:
    """The unit as shown in a Dutch legend (``degC`` -> ``°C``, ``m2`` -> ``m²``)."""
    return UNIT_LABELS.get(unit.strip(), unit.strip())


def format_number(value: float) -> str:
    """A number in Dutch notation: decimal comma, thousands point, at most 10 significant digits.

    ``2500.5`` -> ``2.500,5``; ``-0.5`` -> ``-0,5``; ``10000000`` -> ``10.000.000``.
    """
    if float(value).is_integer():
        return f"{int(value):,d}".replace(",", ".")
    text = f"{value:.10g}"
    if "e" in text:
        return text.replace(".", ",")
    sign = "-" if text.startswith("-") else ""
    whole, _, fraction = text.lstrip("-").partition(".")
    return sign + f"{int(whole):,d}".replace(",", ".") + ("," + fraction if fraction else "")


@dataclass(frozen=True)
class RasterClass:
    """One legend entry of a raster style.

    Attributes:
        colour: ``#rrggbb``.
        label: Dutch legend label (with unit for continuous styles).
        value: class code (classified styles).
        lower: lower bound, inclusive, in the raster's unit (continuous; None: no bound).
        upper: upper bound, exclusive (continuous; None: no bound).
    """

    colour: str
    label: str
    value: int | None = None
    lower: float | None = None
    upper: float | None = None


@dataclass(frozen=True)
class RasterStyle:
    """The default style of one raster output.

    Attributes:
        kind: ``classified`` or ``continuous``.
        title: Dutch legend title.
        unit: unit of the values (as in the COG band, e.g. ``m``, ``degC``); empty for classes.
        classes: the legend entries, in legend order.
        nodata_label: Dutch label of cells without data (not drawn).
    """

    kind: Kind
    title: str
    unit: str = ""
    classes: tuple[RasterClass, ...] = ()
    nodata_label: str = "Geen gegevens"
    source: str = field(default="registered", compare=False)

    def colormap(self) -> dict[int, tuple[int, int, int, int]] | list[Any]:
        """The rio-tiler colour map: code -> RGBA, or ``[((lower, upper), RGBA), ...]`` intervals."""
        if self.kind == "classified":
            return {int(c.value): hex_to_rgba(c.colour) for c in self.classes if c.value is not None}
        return [
            (
                (-math.inf if c.lower is None else c.lower, math.inf if c.upper is None else c.upper),
                hex_to_rgba(c.colour),
            )
            for c in self.classes
        ]

    def legend(self) -> dict[str, Any]:
        """Legend as JSON-ready data: title, unit and one item per class (colour, label, values)."""
        items = []
        for c in self.classes:
            item: dict[str, Any] = {"colour": c.colour, "label": c.label}
            if self.kind == "classified":
                item["value"] = c.value
            else:
                item["lower"] = c.lower
                item["upper"] = c.upper
            items.append(item)
        return {"title": self.title, "type": self.kind, "unit": unit_label(self.unit), "items": items}

    def to_json(self) -> str:
        """Serialise (the form written next to a COG at publish time)."""
        return json.dumps(
            {
                "schema": STYLE_SCHEMA,
                "kind": self.kind,
                "title": self.title,
                "unit": self.unit,
                "nodata_label": self.nodata_label,
                "source": self.source,
                "classes": [asdict(c) for c in self.classes],
            },
            ensure_ascii=False,
            indent=1,
        )

    @classmethod
    def from_json(cls, text: str) -> RasterStyle:
        """Read a style written by ``to_json``."""
        data = json.loads(text)
        return cls(
            kind=data["kind"],
            title=data["title"],
            unit=data.get("unit", ""),
            nodata_label=data.get("nodata_label", "Geen gegevens"),
            source=data.get("source", "registered"),
            classes=tuple(RasterClass(**c) for c in data["classes"]),
        )


def landcover_style() -> RasterStyle:
    """Land cover: the ten canonical classes with the colours of ``styles.palettes``."""
    classes = tuple(
        RasterClass(colour=colour, label=label, value=LANDCOVER_CODES[name])
        for name, (colour, label) in LANDCOVER.items()
    )
    return RasterStyle(kind="classified", title="Bodembedekking", classes=classes)


_REGISTRY: dict[tuple[str, str], Callable[[], RasterStyle]] = {("landcover", "landcover"): landcover_style}


def register_raster_style(style_id: str, output: str, factory: Callable[[], RasterStyle]) -> None:
    """Register the default style of raster ``output`` of layers with ``style_id``.

    Raises:
        ValueError: when a style is registered already for that pair.
    """
    if (style_id, output) in _REGISTRY:
        raise ValueError(f"raster style {style_id}/{output} is registered already")
    _REGISTRY[(style_id, output)] = factory


_BUILTIN_LOADED: list[bool] = []


def _load_builtin() -> None:
    """Register the styles of the layer-specific style modules, once (they import this module)."""
    if not _BUILTIN_LOADED:
        _BUILTIN_LOADED.append(True)
        from styles import heat, pet

        heat.register()
        pet.register()


def registered_style(style_id: str, output: str) -> RasterStyle | None:
    """The registered style of ``(style_id, output)`` or None."""
    _load_builtin()
    factory = _REGISTRY.get((style_id, output))
    return None if factory is None else factory()


def nice_breaks(low: float, high: float, target: int = TARGET_CLASSES) -> list[float]:
    """Round class breaks covering ``[low, high]`` in about ``target`` classes.

    The class width is 1, 2, 2.5 or 5 times a power of ten (Heckbert 1990), the
    first break a multiple of it at or below ``low``, the last at or above ``high``.

    Args:
        low: smallest data value.
        high: largest data value.
        target: wanted number of classes (the result has about that many).

    Returns:
        Ascending breaks; ``n`` breaks make ``n - 1`` classes (at least one).
    """
    if not (math.isfinite(low) and math.isfinite(high)):
        raise ValueError(f"data range must be finite, got {low}, {high}")
    if high <= low:
        high = low + 1.0
    raw = (high - low) / max(target, 1)
    power = 10.0 ** math.floor(math.log10(raw))
    step = next((m * power for m in NICE_STEPS if m * power >= raw), 10.0 * power)
    start = math.floor(low / step) * step
    count = max(1, math.ceil((high - start) / step - 1e-9))
    return [round(start + i * step, 10) for i in range(count + 1)]


def ramp_colours(n: int, name: str = DEFAULT_RAMP) -> list[str]:
    """``n`` colours sampled evenly from a rio-tiler named ramp, as ``#rrggbb``."""
    table: dict[int, Any] = rio_colormaps.get(name)  # type: ignore[assignment]
    step = (RAMP_ENTRIES - 1) / max(n - 1, 1)
    positions = [RAMP_ENTRIES // 2] if n == 1 else [round(i * step) for i in range(n)]
    return ["#{:02x}{:02x}{:02x}".format(*(int(v) for v in table[p][:3])) for p in positions]


def interval_label(lower: float | None, upper: float | None, unit: str) -> str:
    """Dutch label of a value interval ``[lower, upper)``: ``0 tot 5 m``, ``onder 5 m``, ``vanaf 25 °C``."""
    suffix = f" {unit_label(unit)}" if unit else ""
    if lower is None and upper is not None:
        return f"onder {format_number(upper)}{suffix}"
    if upper is None and lower is not None:
        return f"vanaf {format_number(lower)}{suffix}"
    if lower is None or upper is None:
        return f"alle waarden{suffix}"
    return f"{format_number(lower)} tot {format_number(upper)}{suffix}"


def continuous_style(
    title: str, unit: str, breaks: Sequence[float], colours: Sequence[str] | None = None, *, source: str
) -> RasterStyle:
    """A continuous style from ascending breaks (``len(breaks) - 1`` classes).

    The first and last classes are closed (values outside ``[breaks[0], breaks[-1]]``
    are not drawn), because the breaks came from the data and nothing lies outside.
    """
    n = len(breaks) - 1
    if n < 1:
        raise ValueError("need at least two breaks")
    colours = list(colours) if colours is not None else ramp_colours(n)
    classes = tuple(
        RasterClass(
            colour=colours[i],
            label=interval_label(breaks[i], breaks[i + 1], unit),
            lower=breaks[i],
            upper=breaks[i + 1],
        )
        for i in range(n)
    )
    return RasterStyle(kind="continuous", title=title, unit=unit, classes=classes, source=source)


def resolve_raster_style(
    style_id: str,
    output: str,
    *,
    title: str,
    unit: str = "",
    embedded_colormap: Mapping[int, Sequence[int]] | None = None,
    value_range: tuple[float, float] | None = None,
) -> RasterStyle:
    """The default style of a raster output (see the module docstring for the order).

    Args:
        style_id: the layer's style id.
        output: the raster output name.
        title: Dutch legend title (the layer title) for styles that are not registered.
        unit: the band unit of the COG (``m``, ``degC``, ...).
        embedded_colormap: the COG's colour table (code -> RGBA), for classified rasters.
        value_range: (min, max) of the data, for continuous rasters.

    Raises:
        ValueError: when nothing fits (no registered style, no colour table, no range).
    """
    registered = registered_style(style_id, output)
    if registered is not None:
        return registered
    if embedded_colormap:
        classes = tuple(
            RasterClass(colour="#{:02x}{:02x}{:02x}".format(*rgba[:3]), label=f"Klasse {code}", value=int(code))
            for code, rgba in sorted(embedded_colormap.items())
            if len(rgba) < 4 or rgba[3] > 0  # transparent entries are nodata
        )
        return RasterStyle(kind="classified", title=title, unit=unit, classes=classes, source="colour table")
    if value_range is None:
        raise ValueError(f"raster {style_id}/{output}: no registered style, colour table or data range")
    full_title = f"{title} ({unit_label(unit)})" if unit else title
    return continuous_style(full_title, unit, nice_breaks(*value_range), source="data range")


def value_range(raster: Raster, band: int = 0) -> tuple[float, float] | None:
    """(min, max) of the valid cells of one band (nodata and NaN left out), or None when there are none."""
    data = raster.data[band]
    valid = np.isfinite(data) if np.issubdtype(data.dtype, np.floating) else np.ones(data.shape, dtype=bool)
    if raster.nodata is not None and not (isinstance(raster.nodata, float) and math.isnan(raster.nodata)):
        valid &= data != raster.nodata
    if not valid.any():
        return None
    return float(data[valid].min()), float(data[valid].max())


def raster_style_for(raster: Raster, style_id: str, output: str, title: str) -> RasterStyle | None:
    """The default style of an in-memory raster output (at publish time), or None when it cannot be drawn.

    Only single-band rasters get a default style; a raster without valid cells
    and without a registered style or colour table has none.
    """
    if raster.count != 1:
        return None
    unit = raster.units[0] if raster.units else ""
    try:
        return resolve_raster_style(
            style_id,
            output,
            title=title,
            unit=unit,
            embedded_colormap=raster_colormap(style_id, output),
            value_range=value_range(raster),
        )
    except ValueError:
        return None
