"""The benchmark: the municipalities of the region side by side, one uniform method for all.

Every figure is read from a layer's per-municipality table (output
``municipalities``, made from its zone table by ``layers.municipalities`` with
the same rules for every municipality), and the regional value from the same
layer version's ``metadata.region_figures`` (the same rules over every zone of
the region: a share over the whole region, not a mean of the municipalities'
shares). Each figure names the layer version it came from. Only the layers the
caller may see are read, so an internal layer never feeds a public benchmark.

The shape (``/benchmark.json``)::

    {"municipalities": [{"code": "GM0197", "name": "Aalten",
                         "figures": {"green_pct": 41.2, ...},
                         "versions": {"green_pct": {"layer": "green-paved", "version": "2026..."}, ...}}],
     "region": {"name": "Achterhoek", "figures": {...}, "versions": {...}}}

Figure keys are the zone-table columns, except ``cool_300_pct``: the
``share_pct`` of ``cool-places`` (a name too general to stand alone). The
vacancy rate (``vacant_pct``) comes from the vacancy layer's own per-municipality
table ``gemeenten``, which is under disclosure control: it is read as published
(never recomputed from buurten), and the region's value is the ratio of the
published counts only when none of them is suppressed.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq

from layers.catalog import LayerEntry
from layers.municipalities import MUNICIPALITY_OUTPUT


@dataclass(frozen=True)
class BenchmarkFigure:
    """One figure of the benchmark.

    Attributes:
        key: key in ``figures`` (the zone-table column, unless it needs a clearer name).
        layer: the layer it comes from.
        column: its column in the layer's ``municipalities`` table.
        title: Dutch title for the page.
        unit: unit (``%``, ``K``).
        output: the layer's per-municipality table (default ``municipalities``, made by
            ``layers.municipalities``; the vacancy layer publishes its own, disclosure-controlled
            ``gemeenten``, which is read as it is).
        region_ratio: (numerator, denominator) columns: the region's value is ``100 x sum / sum`` over
            the municipalities' published counts, and None when any of them is suppressed (null); None:
            the region's value is ``metadata.region_figures`` of the layer.
    """

    key: str
    layer: str
    column: str
    title: str
    unit: str
    output: str = MUNICIPALITY_OUTPUT
    region_ratio: tuple[str, str] | None = None


#: The figures, in page order. A figure whose layer (or column) is not in the catalog is left out.
FIGURES: tuple[BenchmarkFigure, ...] = (
    BenchmarkFigure("green_pct", "green-paved", "green_pct", "Groen", "%"),
    BenchmarkFigure("paved_pct", "green-paved", "paved_pct", "Verhard", "%"),
    BenchmarkFigure("canopy_pct", "green-paved", "canopy_pct", "Boomkroonbedekking", "%"),
    BenchmarkFigure("meets_3_pct", "tree-3-30-300", "meets_3_pct", "Woningen met 3 bomen in zicht", "%"),
    BenchmarkFigure("meets_30_pct", "tree-3-30-300", "meets_30_pct", "Woningen in een buurt met 30% kroon", "%"),
    BenchmarkFigure("meets_300_pct", "tree-3-30-300", "meets_300_pct", "Woningen binnen 300 m van een park", "%"),
    BenchmarkFigure("meets_all_pct", "tree-3-30-300", "meets_all_pct", "Woningen die aan 3-30-300 voldoen", "%"),
    BenchmarkFigure("uhi_max_p95_k", "heat-stress", "uhi_max_p95_k", "Hitte-eilandeffect (95e percentiel)", "K"),
    BenchmarkFigure("cool_300_pct", "cool-places", "share_pct", "Woningen binnen 300 m van een koele plek", "%"),
    BenchmarkFigure("vacant_pct", "vacancy", "vacant_pct", "Leegstand (administratief)", "%", output="gemeenten",
                    region_ratio=("vacant", "addresses_in_use")),
)
#: Code of the region's row in the CSV.
REGION_CODE = "regio"


@lru_cache(maxsize=64)
def _table(path: str, columns: tuple[str, ...]) -> pd.DataFrame:
    """A municipalities table (a published version's file never changes, so it is read once)."""
    return pd.read_parquet(path, columns=list(columns))


def _value(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def figures_present(root: Path, entries: Sequence[LayerEntry]) -> list[BenchmarkFigure]:
    """The figures of :data:`FIGURES` that the given layers publish per municipality."""
    return [f for f, _ in _sources(root, entries)]


def _sources(root: Path, entries: Sequence[LayerEntry]) -> list[tuple[BenchmarkFigure, tuple[LayerEntry, Path]]]:
    by_id = {e.id: e for e in entries}
    out = []
    for fig in FIGURES:
        entry = by_id.get(fig.layer)
        if entry is None:
            continue
        file = next((f for f in entry.files if f.output == fig.output and f.format == "parquet"), None)
        if file is None:
            continue
        path = Path(root) / file.path
        if fig.column not in _columns(str(path)):
            continue
        out.append((fig, (entry, path)))
    return out


@lru_cache(maxsize=64)
def _columns(path: str) -> tuple[str, ...]:
    return tuple(pq.read_schema(path).names)


def _region_value(fig: BenchmarkFigure, entry: LayerEntry, path: Path) -> float | None:
    """The region's value of ``fig``: from the layer's ``region_figures``, or the ratio of the summed counts."""
    if fig.region_ratio is None:
        return _value(entry.metadata.get("region_figures", {}).get(fig.column))
    num, den = fig.region_ratio
    if num not in _columns(str(path)) or den not in _columns(str(path)):
        return None
    table = _table(str(path), (num, den))
    if table[num].isna().any() or table[den].isna().any():
        return None  # a suppressed count: the region's total is not known from what is published
    total = float(table[den].sum())
    return round(100.0 * float(table[num].sum()) / total, 2) if total > 0 else None


def benchmark(root: Path, entries: Sequence[LayerEntry], region_name: str = "") -> dict[str, Any]:
    """The benchmark of the municipalities in the given layers (those the caller may see).

    Args:
        root: the catalog folder.
        entries: the visible layers' catalog entries.
        region_name: the region's name (``catalog.region.name``).

    Returns:
        ``{"municipalities": [...], "region": {...}}`` as described in the module docstring;
        municipalities sorted by code, a figure a municipality lacks is None.
    """
    sources = _sources(root, entries)
    munis: dict[str, dict[str, Any]] = {}
    region: dict[str, Any] = {"name": region_name, "figures": {}, "versions": {}}
    for fig, (entry, path) in sources:
        table = _table(str(path), ("code", "name", fig.column))
        origin = {"layer": entry.id, "version": entry.version}
        for code, name, value in zip(table["code"], table["name"], table[fig.column], strict=True):
            row = munis.setdefault(str(code), {"code": str(code), "name": name, "figures": {}, "versions": {}})
            row["name"] = row["name"] or name
            row["figures"][fig.key] = _value(value)
            row["versions"][fig.key] = origin
        region["figures"][fig.key] = _region_value(fig, entry, path)
        region["versions"][fig.key] = origin
    keys = [f.key for f, _ in sources]
    for row in munis.values():
        row["figures"] = {k: row["figures"].get(k) for k in keys}
        row["versions"] = {k: row["versions"][k] for k in keys if k in row["versions"]}
    return {"municipalities": [munis[c] for c in sorted(munis)], "region": region}


def benchmark_csv(data: dict[str, Any]) -> str:
    """The benchmark as CSV: one row per municipality and one for the region (code ``regio``).

    Columns: ``code``, ``name``, one per figure, then ``<figure>_version`` (``layer@version``).
    """
    keys = list(data["region"]["figures"])
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["code", "name", *keys, *(f"{k}_version" for k in keys)])
    rows = [*data["municipalities"], {**data["region"], "code": REGION_CODE}]
    for row in rows:
        versions = [f"{v['layer']}@{v['version']}" if (v := row["versions"].get(k)) else "" for k in keys]
        values = ["" if row["figures"].get(k) is None else row["figures"][k] for k in keys]
        writer.writerow([row["code"], row["name"], *values, *versions])
    return buf.getvalue()
