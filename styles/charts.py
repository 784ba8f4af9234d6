"""Small server-side charts (matplotlib, no pyplot state): bars per municipality, a value over versions, a histogram.

Every chart is drawn on its own ``matplotlib.figure.Figure`` (the object API, no
global backend or pyplot state, so charts are safe in server threads) and
returned as SVG text for inline HTML or as PNG bytes for self-contained
reports. Labels are Dutch; numbers use a decimal comma.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: Bar colour (a dark teal that reads on paper and screen) and the colour of the regional line.
BAR_COLOUR = "#2b7a78"
HIGHLIGHT_COLOUR = "#17252a"
REGION_COLOUR = "#d1495b"
#: Figure sizes in inches at 100 dpi.
BAR_SIZE = (6.4, 2.8)
LINE_SIZE = (6.0, 2.6)
HIST_SIZE = (6.0, 2.8)
DPI = 100
#: Histogram bins.
HIST_BINS = 30


def dutch_number(value: float | None, decimals: int = 1) -> str:
    """``12,3`` for 12.34 (decimal comma); an en dash for no value."""
    if value is None or not math.isfinite(value):
        return "–"
    return f"{value:.{decimals}f}".replace(".", ",")


def _figure(size: tuple[float, float]) -> Figure:
    """A new figure of ``size`` inches at ``DPI``. matplotlib is imported on the first chart, not with this
    module: it costs every process that imports the build engine or the server about a second at start."""
    from matplotlib.figure import Figure

    return Figure(figsize=size, dpi=DPI)


def _svg(fig: Figure) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    text = buf.getvalue()
    return text[text.index("<svg"):]  # inline: without the XML declaration and doctype


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight")
    return buf.getvalue()


def bar_chart(
    labels: Sequence[str], values: Sequence[float | None], *, title: str, unit: str,
    reference: float | None = None, reference_label: str = "regio", fmt: str = "svg",
) -> str | bytes:
    """Horizontal bars, one per label, with an optional reference line (the regional value).

    Args:
        labels: bar labels (municipality names).
        values: bar values (None or NaN: no bar, the label says so).
        title: chart title.
        unit: unit shown on the axis (``%``, ``K``).
        reference: value drawn as a dashed vertical line, or None.
        reference_label: legend text of the reference line.
        fmt: ``svg`` (text) or ``png`` (bytes).
    """
    fig = _figure((BAR_SIZE[0], max(1.4, 0.45 * len(labels) + 0.9)))
    ax = fig.add_subplot()
    clean = [v if v is not None and math.isfinite(v) else 0.0 for v in values]
    ys = list(range(len(labels)))[::-1]
    ax.barh(ys, clean, color=BAR_COLOUR, height=0.6)
    for y, v in zip(ys, values, strict=True):
        text = dutch_number(v) if v is not None and math.isfinite(v) else "geen waarde"
        ax.text(v if v is not None and math.isfinite(v) else 0.0, y, f" {text}", va="center", fontsize=8)
    ax.set_yticks(ys, labels, fontsize=9)
    if reference is not None and math.isfinite(reference):
        ax.axvline(reference, color=REGION_COLOUR, linestyle="--", linewidth=1.5,
                   label=f"{reference_label}: {dutch_number(reference)} {unit}")
        ax.legend(loc="lower right", fontsize=8, frameon=False)
    ax.set_xlabel(unit, fontsize=9)
    ax.set_title(title, fontsize=10, loc="left")
    top = max([*clean, reference or 0.0, 1e-9])
    ax.set_xlim(0, top * 1.18)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return _svg(fig) if fmt == "svg" else _png(fig)


def line_chart(
    labels: Sequence[str], series: Mapping[str, Sequence[float | None]], *, title: str, unit: str = "",
    fmt: str = "svg",
) -> str | bytes:
    """One line per series over ``labels`` (versions, oldest first), points marked."""
    fig = _figure(LINE_SIZE)
    ax = fig.add_subplot()
    xs = list(range(len(labels)))
    for name, values in series.items():
        ys = [math.nan if v is None else float(v) for v in values]
        ax.plot(xs, ys, marker="o", linewidth=1.5, label=name)
    ax.set_xticks(xs, labels, rotation=30, ha="right", fontsize=7)
    ax.set_ylabel(unit, fontsize=9)
    ax.set_title(title, fontsize=10, loc="left")
    if series:
        ax.legend(fontsize=7, frameon=False, loc="best")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return _svg(fig) if fmt == "svg" else _png(fig)


def histogram(values: Sequence[float], *, title: str, unit: str = "", fmt: str = "png") -> str | bytes:
    """A histogram of ``values`` (NaN left out) in :data:`HIST_BINS` bins."""
    fig = _figure(HIST_SIZE)
    ax = fig.add_subplot()
    finite = [float(v) for v in values if v is not None and math.isfinite(v)]
    if finite:
        ax.hist(finite, bins=HIST_BINS, color=BAR_COLOUR)
    else:
        ax.text(0.5, 0.5, "geen waarden", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel(unit, fontsize=9)
    ax.set_ylabel("aantal", fontsize=9)
    ax.set_title(title, fontsize=10, loc="left")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return _svg(fig) if fmt == "svg" else _png(fig)


#: Size of a map image (inches at :data:`DPI`) and the sequential colour map of a figure map.
MAP_SIZE = (6.0, 6.0)
MAP_CMAP = "viridis"
#: Largest side (cells) of a raster drawn in a map (larger rasters are decimated).
MAP_MAX_CELLS = 800


def zone_map(frame: Any, column: str, *, title: str, unit: str = "", fmt: str = "png") -> str | bytes:
    """A choropleth of ``column`` over the polygons of ``frame`` (a GeoDataFrame), zones without a value grey."""
    fig = _figure(MAP_SIZE)
    ax = fig.add_subplot()
    frame.plot(ax=ax, column=column, cmap=MAP_CMAP, legend=True, edgecolor="#333333", linewidth=0.4,
               missing_kwds={"color": "#dddddd", "label": "geen waarde"},
               legend_kwds={"label": unit, "shrink": 0.7})
    ax.set_title(title, fontsize=10, loc="left")
    ax.set_axis_off()
    ax.set_aspect("equal")
    return _svg(fig) if fmt == "svg" else _png(fig)


def raster_map(data: Any, bounds: Sequence[float], *, title: str, unit: str = "", fmt: str = "png") -> str | bytes:
    """An image of a 2-D array spanning ``bounds`` (minx, miny, maxx, maxy), NaN transparent, with a colour bar."""
    import numpy as np

    arr = np.asarray(data, dtype=np.float64)
    step = max(1, math.ceil(max(arr.shape) / MAP_MAX_CELLS))
    arr = arr[::step, ::step]
    fig = _figure(MAP_SIZE)
    ax = fig.add_subplot()
    image = ax.imshow(np.ma.masked_invalid(arr), cmap=MAP_CMAP,
                      extent=(bounds[0], bounds[2], bounds[1], bounds[3]), interpolation="nearest")
    fig.colorbar(image, ax=ax, shrink=0.7, label=unit)
    ax.set_title(title, fontsize=10, loc="left")
    ax.set_axis_off()
    return _svg(fig) if fmt == "svg" else _png(fig)
