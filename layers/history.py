"""A zone's values across every kept version of a layer.

For a buurt code (``BU...``) the rows come from the layer's zone table
(output ``neighbourhoods``), for a municipality code (``GM...``) from its
per-municipality table (``municipalities``, ``layers.municipalities``). Every
kept version is read from its own immutable folder, oldest first.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq

from geo.errors import NotFoundError
from layers import catalog as cat
from layers.diff import numeric_figures, version_entry
from layers.municipalities import GEMEENTE_CODE_RE, MUNICIPALITY_OUTPUT, ZONE_OUTPUT


def _value(v: Any) -> float | bool | None:
    if isinstance(v, bool):
        return v
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def zone_history(root: Path, entry: cat.LayerEntry, zone: str) -> dict[str, Any]:
    """The values of ``zone`` in every kept version of the layer, oldest first.

    Returns:
        ``{"layer": id, "zone": {"code", "name"}, "output": table, "versions": [{"version", "built_at",
        "figures": {figure: value}}]}``; a version without the zone is listed with ``figures`` None.

    Raises:
        NotFoundError: no kept version has the zone (the message names it), or the layer has no zone table.
    """
    output = MUNICIPALITY_OUTPUT if GEMEENTE_CODE_RE.match(zone) else ZONE_OUTPUT
    rows: list[dict[str, Any]] = []
    name = None
    found = False
    has_table = False
    for kept in entry.versions:
        version = version_entry(root, entry, kept.version)
        file = next((f for f in version.files if f.output == output and f.format == "parquet"), None)
        record: dict[str, Any] = {"version": version.version, "built_at": version.built_at, "figures": None}
        rows.append(record)
        if file is None:
            continue
        has_table = True
        path = Path(root) / file.path
        names = [c for c in pq.read_schema(path).names if c != "geometry"]
        table = pd.read_parquet(path, columns=names)
        match = table[table["code"].astype(str) == zone]
        if match.empty:
            continue
        found = True
        row = match.iloc[0]
        name = row.get("name", name)
        record["figures"] = {c: _value(row[c]) for c in numeric_figures(table)}
    if not has_table:
        raise NotFoundError(f"layer {entry.id} has no zone table {output!r}")
    if not found:
        raise NotFoundError(f"layer {entry.id}: zone {zone!r} is in none of its {len(rows)} kept version(s)")
    return {"layer": entry.id, "zone": {"code": zone, "name": name}, "output": output, "versions": rows}


def figure_series(history: dict[str, Any], figures: list[str] | None = None) -> dict[str, list[float | None]]:
    """Figure -> its value per version (None where unknown); the ``_pct`` figures unless ``figures`` is given."""
    present = [f for r in history["versions"] if r["figures"] for f in r["figures"]]
    names = list(dict.fromkeys(present))
    chosen = figures if figures else [f for f in names if f.endswith("_pct") and "_pct_" not in f]
    unknown = [f for f in chosen if f not in names]
    if unknown:
        raise NotFoundError(f"layer {history['layer']} has no figure {', '.join(map(repr, unknown))}; "
                            f"figures: {', '.join(names)}")
    return {f: [(r["figures"] or {}).get(f) for r in history["versions"]] for f in chosen}
