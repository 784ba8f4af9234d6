"""What changed between two kept versions of a layer: a per-zone change table and difference rasters.

For every zone table of the layer (a vector output with a ``code`` column: the
buurten, the municipalities) the two versions are joined on ``code``; each
numeric figure ``f`` gives ``f_from``, ``f_to`` and ``f_delta = f_to - f_from``
(NaN where a zone is in one version only, or a value is unknown). For every
raster output in both versions the difference ``to - from`` is computed band by
band on the ``to`` grid (the ``from`` raster is resampled onto it, nearest
cell, when the grids differ) and written as a COG (``tiles.cog``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from rasterio.warp import Resampling, reproject

from geo.errors import NotFoundError, PublishError
from geo.raster import Raster
from layers import catalog as cat
from layers.municipalities import as_floats
from layers.publish import read_cog
from tiles.cog import write_cog

#: Suffixes of the columns of a change table.
FROM, TO, DELTA = "_from", "_to", "_delta"
#: Version aliases on the command line: the one before the current, and the current.
PREVIOUS, CURRENT = "previous", "current"


def version_entry(root: Path, entry: cat.LayerEntry, version: str) -> cat.LayerEntry:
    """The catalog record of a kept ``version`` of the layer (its ``metadata.json``).

    ``version`` may be a version name, ``current`` or ``previous``.

    Raises:
        NotFoundError: the version is not kept; the message names it and lists the kept ones.
    """
    names = [v.version for v in entry.versions]
    if version == CURRENT:
        version = entry.version
    elif version == PREVIOUS:
        if entry.version not in names or names.index(entry.version) == 0:
            raise NotFoundError(f"layer {entry.id} has no version before {entry.version}")
        version = names[names.index(entry.version) - 1]
    if version == entry.version:
        return entry
    kept = next((v for v in entry.versions if v.version == version), None)
    if kept is None:
        listing = ", ".join(names) or "none"
        raise NotFoundError(f"layer {entry.id} has no kept version {version!r}; kept: {listing}")
    path = Path(root) / kept.path / cat.METADATA_FILE
    try:
        return cat.LayerEntry.model_validate_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise NotFoundError(f"layer {entry.id} version {version!r}: {path} is missing") from None


def zone_outputs(entry: cat.LayerEntry, root: Path) -> dict[str, Path]:
    """Output name -> GeoParquet path of the zone tables (vector outputs with a ``code`` column)."""
    import pyarrow.parquet as pq

    out: dict[str, Path] = {}
    for f in entry.files:
        if f.kind == "vector" and f.format == "parquet":
            path = Path(root) / f.path
            if "code" in pq.read_schema(path).names:
                out[f.output] = path
    return out


def numeric_figures(frame: pd.DataFrame) -> list[str]:
    """The numeric (and yes/no) figure columns of a zone table, in column order."""
    geom = frame.geometry.name if isinstance(frame, gpd.GeoDataFrame) else None
    return [c for c in frame.columns
            if c not in ("code", geom) and (pd.api.types.is_numeric_dtype(frame[c]) or frame[c].dtype == bool)]


def change_table(before: gpd.GeoDataFrame, after: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """One row per zone in either table: ``code``, ``name`` and ``f_from``, ``f_to``, ``f_delta`` per figure.

    Figures are the numeric columns of either table; yes/no figures count as 0/1. The geometry is the
    ``after`` zone's (the ``before`` one for a zone that is gone).
    """
    figures = list(dict.fromkeys([*numeric_figures(before), *numeric_figures(after)]))
    a = before.drop_duplicates("code").set_index("code")
    b = after.drop_duplicates("code").set_index("code")
    codes = list(dict.fromkeys([*b.index.astype(str), *a.index.astype(str)]))
    a.index, b.index = a.index.astype(str), b.index.astype(str)
    out = pd.DataFrame({"code": codes})
    names_b = b["name"] if "name" in b.columns else pd.Series(dtype=object)
    names_a = a["name"] if "name" in a.columns else pd.Series(dtype=object)
    out["name"] = [names_b.get(c, names_a.get(c)) for c in codes]
    for f in figures:
        va = _numbers(a, f).reindex(codes).to_numpy(dtype=np.float64)
        vb = _numbers(b, f).reindex(codes).to_numpy(dtype=np.float64)
        out[f + FROM], out[f + TO], out[f + DELTA] = va, vb, np.round(vb - va, 6)
    geoms = [b.geometry.get(c) if c in b.index else a.geometry.get(c) for c in codes]
    return gpd.GeoDataFrame(out, geometry=geoms, crs=after.crs or before.crs)


def _numbers(frame: pd.DataFrame, column: str) -> pd.Series:
    if column not in frame.columns:
        return pd.Series(np.nan, index=frame.index, dtype=np.float64)
    return pd.Series(as_floats(frame[column]), index=frame.index)


def largest_changes(table: pd.DataFrame, figure: str, n: int = 10) -> pd.DataFrame:
    """The ``n`` zones whose ``figure`` moved most (by absolute delta), largest first; unknown deltas left out."""
    col = figure + DELTA
    if col not in table.columns:
        return table.iloc[0:0]
    known = table[np.isfinite(table[col].to_numpy(dtype=np.float64))]
    order = np.argsort(-np.abs(known[col].to_numpy(dtype=np.float64)), kind="stable")
    return known.iloc[order[:n]]


def raster_difference(before: Raster, after: Raster) -> Raster:
    """``after - before`` per band on the ``after`` grid (float32; NaN where either is unknown)."""
    if before.count != after.count:
        raise PublishError(f"cannot difference rasters with {before.count} and {after.count} bands")
    a = _masked(after)
    same = before.crs == after.crs and before.transform == after.transform and before.data.shape == after.data.shape
    if same:
        b = _masked(before)
    else:
        b = np.full(a.shape, np.nan, dtype=np.float32)
        reproject(_masked(before), b, src_transform=before.transform, src_crs=before.crs, src_nodata=np.nan,
                  dst_transform=after.transform, dst_crs=after.crs, dst_nodata=np.nan, resampling=Resampling.nearest)
    names = tuple(f"{n}{DELTA}" for n in after.band_names)
    return Raster((a - b).astype(np.float32), after.crs, after.transform, nodata=float("nan"),
                  band_names=names, units=after.units)


def _masked(r: Raster) -> np.ndarray:
    data = r.data.astype(np.float32)
    if r.nodata is not None and not (isinstance(r.nodata, float) and math.isnan(r.nodata)):
        data = np.where(r.data == r.nodata, np.nan, data)
    return data


@dataclass
class LayerDiff:
    """The change between two versions of a layer.

    Attributes:
        layer: the layer id.
        version_from: the older version.
        version_to: the newer version.
        tables: zone-table output -> change table.
        rasters: raster output -> difference raster (in memory; :func:`write_diff` writes them).
        notes: outputs in one version only, and similar.
    """

    layer: str
    version_from: str
    version_to: str
    tables: dict[str, gpd.GeoDataFrame] = field(default_factory=dict)
    rasters: dict[str, Raster] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def diff_versions(root: Path, entry: cat.LayerEntry, version_from: str, version_to: str,
                  rasters: bool = True) -> LayerDiff:
    """The change of layer ``entry`` from ``version_from`` to ``version_to`` (names, ``current``, ``previous``).

    Raises:
        NotFoundError: a version is not kept (the message names it and lists the kept ones).
    """
    old, new = version_entry(root, entry, version_from), version_entry(root, entry, version_to)
    out = LayerDiff(entry.id, old.version, new.version)
    zones_old, zones_new = zone_outputs(old, root), zone_outputs(new, root)
    for name, path in zones_new.items():
        if name not in zones_old:
            out.notes.append(f"zone table {name} is new in {new.version}")
            continue
        out.tables[name] = change_table(gpd.read_parquet(zones_old[name]), gpd.read_parquet(path))
    out.notes += [f"zone table {n} is gone in {new.version}" for n in zones_old if n not in zones_new]
    if rasters:
        cogs_old = {f.output: f for f in old.files if f.format == "cog"}
        for f in (f for f in new.files if f.format == "cog"):
            if f.output not in cogs_old:
                out.notes.append(f"raster {f.output} is new in {new.version}")
                continue
            out.rasters[f.output] = raster_difference(read_cog(Path(root) / cogs_old[f.output].path),
                                                      read_cog(Path(root) / f.path))
    return out


def write_diff(diff: LayerDiff, out_dir: Path) -> list[Path]:
    """Write each change table as CSV and GeoPackage and each difference raster as a COG into ``out_dir``.

    Files: ``<layer>-<output>-change.csv`` / ``.gpkg`` and ``<layer>-<output>-delta.tif``.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name, table in diff.tables.items():
        stem = out_dir / f"{diff.layer}-{name}-change"
        table.drop(columns=table.geometry.name).to_csv(stem.with_suffix(".csv"), index=False)
        gpkg = stem.with_suffix(".gpkg")
        gpkg.unlink(missing_ok=True)
        table.to_file(gpkg, layer=f"{name}_change", driver="GPKG", engine="pyogrio")
        written += [stem.with_suffix(".csv"), gpkg]
    for name, raster in diff.rasters.items():
        path = out_dir / f"{diff.layer}-{name}-delta.tif"
        write_cog(raster, path, resampling="average",
                  tags={"layer": diff.layer, "output": name, "from": diff.version_from, "to": diff.version_to})
        written.append(path)
    return written


def summary(diff: LayerDiff, top: int = 5) -> dict[str, Any]:
    """For each zone table and figure: zones changed and the largest change (for the CLI and reports)."""
    out: dict[str, Any] = {}
    for name, table in diff.tables.items():
        figures: dict[str, Any] = {}
        for col in (c for c in table.columns if c.endswith(DELTA)):
            fig = col[: -len(DELTA)]
            delta = table[col].to_numpy(dtype=np.float64)
            moved = np.isfinite(delta) & (np.abs(delta) > 0)
            biggest = largest_changes(table, fig, top)
            figures[fig] = {
                "zones_changed": int(moved.sum()),
                "largest": [{"code": r["code"], "name": r["name"], "delta": float(r[col])}
                            for _, r in biggest.iterrows() if r[col] != 0],
            }
        out[name] = figures
    for name, raster in diff.rasters.items():
        finite = raster.data[np.isfinite(raster.data)]
        out[f"raster:{name}"] = {
            "cells_changed": int((np.abs(finite) > 0).sum()),
            "max_abs_delta": float(np.abs(finite).max()) if finite.size else None,
        }
    return out


def bound_changes(table: pd.DataFrame, bounds: Mapping[str, float]) -> list[dict[str, Any]]:
    """Zones whose figure moved more than its bound (``{"canopy_pct": 10}``): code, name, figure, delta."""
    flagged = []
    for fig, limit in bounds.items():
        col = fig + DELTA
        if col not in table.columns:
            continue
        for _, row in table.iterrows():
            d = float(row[col])
            if math.isfinite(d) and abs(d) > limit:
                flagged.append({"code": row["code"], "name": row["name"], "figure": fig, "delta": d, "bound": limit})
    return flagged
