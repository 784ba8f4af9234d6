"""A region of several municipalities: selecting their buurten, and every zone table per municipality.

The CBS wijk- en buurtkaart gives each buurt its gemeente (``gemeentecode``,
``gemeentenaam``); the CBS adapter keeps them on the canonical
``neighbourhoods`` as :data:`MUNICIPALITY_CODE` and :data:`MUNICIPALITY_NAME`,
and a canonical neighbourhoods file may carry the same two columns. A config
lists the municipalities of the region (``region.municipalities: [GM0197, ...]``);
the build then reads only their buurten, and its region is their union.

Every layer's zone table (output ``neighbourhoods``) is aggregated here, in one
place, to a table per municipality (output ``municipalities``) and to the whole
region (``metadata.region_figures``), with one rule per column
(:data:`AGGREGATION`) that is the same for every municipality:

* counts and areas are summed (:class:`Sum`);
* a share is recomputed from its numerator and denominator: the table holds
  the share and its denominator (or what the denominator is made of), so the
  share of the group is ``sum(share * denominator) / sum(denominator)``
  (:class:`Share`), or ``sum(numerator) / sum(denominator)`` where both are
  columns (:class:`Ratio`); shares are never averaged over zones;
* a statistic of a raster (the 95th percentile of ``uhi_max``) is computed
  again from the raster's cells inside the municipality (:class:`RasterStat`),
  with the histogram method of the layer itself (``layers.heat_stats``).

Columns with no rule (yes/no judgements per buurt, for example) are left out
and listed in ``metadata.municipality_aggregation.not_aggregated``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import shapely
from rasterio.windows import Window

from geo.errors import SourceError
from geo.grid import Grid
from geo.raster import Raster
from geo.rasterize import polygon_index
from layers.base import LayerResult
from layers.heat_stats import UHI_BIN_K, UHI_PERCENTILE, hist_percentile

#: Columns of the canonical neighbourhoods naming the buurt's municipality (CBS gemeentecode/gemeentenaam).
MUNICIPALITY_CODE = "municipality_code"
MUNICIPALITY_NAME = "municipality_name"
#: A CBS gemeente code: ``GM`` and four digits.
GEMEENTE_CODE_RE = re.compile(r"^GM\d{4}$")
#: The zone-table output every layer reports per buurt, and the per-municipality output made from it.
ZONE_OUTPUT = "neighbourhoods"
MUNICIPALITY_OUTPUT = "municipalities"
#: Aggregated figures are rounded to this many decimals (as the zone tables).
DECIMALS = 2
#: Rows of a file-based raster read at a time when computing a raster statistic.
_BLOCK_ROWS = 1024


def check_gemeente_code(code: str) -> str:
    """``code`` when it is a CBS gemeente code (``GM0197``); ValueError otherwise (for pydantic)."""
    if not GEMEENTE_CODE_RE.match(code):
        raise ValueError(f"{code!r} is not a CBS gemeente code (GM followed by four digits, e.g. GM0197)")
    return code


def select_municipalities(frame: gpd.GeoDataFrame, codes: Sequence[str], where: str) -> gpd.GeoDataFrame:
    """The buurten of ``frame`` in the municipalities ``codes`` (all of them when ``codes`` is empty).

    Raises:
        SourceError: the buurten carry no municipality code, or a listed municipality has no buurt.
    """
    if not codes:
        return frame
    if MUNICIPALITY_CODE not in frame.columns or frame[MUNICIPALITY_CODE].isna().all():
        raise SourceError(where, f"region.municipalities is set but the buurten carry no {MUNICIPALITY_CODE} "
                                 "(the CBS gemeentecode; add the column to the neighbourhoods file)")
    have = set(frame[MUNICIPALITY_CODE].dropna().astype(str))
    missing = [c for c in codes if c not in have]
    if missing:
        raise SourceError(where, f"region.municipalities: no buurten of {', '.join(missing)} "
                                 f"(the file has {', '.join(sorted(have)) or 'none'})")
    keep = frame[MUNICIPALITY_CODE].astype(str).isin(list(codes)).to_numpy()
    return frame.loc[keep].reset_index(drop=True)


# -- aggregation rules ----------------------------------------------------------------------------

Weight = Callable[[pd.DataFrame], np.ndarray]


@dataclass(frozen=True)
class Sum:
    """A count or an area: the group's value is the sum over its zones."""

    def describe(self) -> str:
        """One line for the metadata."""
        return "sum"


@dataclass(frozen=True)
class Share:
    """A share (%) of a denominator the table gives per zone: ``sum(share * den) / sum(den)``.

    That is the share recomputed from numerator and denominator (``share * den`` is the
    numerator). Zones where the share is unknown are left out of both sums.

    Attributes:
        denominator: the denominator per zone (m2, dwellings, ...).
        of: what the denominator is, for the metadata.
    """

    denominator: Weight
    of: str

    def describe(self) -> str:
        """One line for the metadata."""
        return f"share of {self.of}: sum(share x {self.of}) / sum({self.of})"


@dataclass(frozen=True)
class Ratio:
    """A share (%) whose numerator and denominator are columns: ``100 * sum(num) / sum(den)``."""

    numerator: str
    denominator: str

    def describe(self) -> str:
        """One line for the metadata."""
        return f"100 x sum({self.numerator}) / sum({self.denominator})"


@dataclass(frozen=True)
class RasterStat:
    """A statistic of a raster output over the cells whose centre lies in the group's zones.

    Attributes:
        raster: the raster output (``uhi_max``).
        stat: ``mean`` or ``percentile``.
        q: the percentile (0-100).
        bin_width: histogram bin width (units of the raster); the percentile is exact to half of it.
    """

    raster: str
    stat: str
    q: float = 0.0
    bin_width: float = UHI_BIN_K

    def describe(self) -> str:
        """One line for the metadata."""
        what = "mean" if self.stat == "mean" else f"p{self.q:g} (histogram, bin {self.bin_width:g})"
        return f"{what} of raster {self.raster} over the cells in the zones"


Rule = Sum | Share | Ratio | RasterStat


def as_floats(values: pd.Series) -> np.ndarray:
    """A column as float64 with NaN for every missing value (also pandas' nullable ``Int64``/``Float64`` NA)."""
    return pd.to_numeric(values.astype(object).where(values.notna(), np.nan), errors="coerce").to_numpy(
        dtype=np.float64)


def _col(name: str) -> Weight:
    return lambda t: as_floats(t[name])


def _zone_area(t: pd.DataFrame) -> np.ndarray:
    return np.asarray(gpd.GeoSeries(t.geometry).area, dtype=np.float64)


def _mapped(t: pd.DataFrame) -> np.ndarray:
    return _col("area_m2")(t) * _col("mapped_pct")(t) / 100.0


def _public(t: pd.DataFrame) -> np.ndarray:
    return _mapped(t) * _col("public_pct")(t) / 100.0


def _private(t: pd.DataFrame) -> np.ndarray:
    return _mapped(t) * (1.0 - _col("public_pct")(t) / 100.0)


def _green_paved_rules() -> dict[str, Rule]:
    surfaces = ("building", "paved", "green", "water", "bare")
    rules: dict[str, Rule] = {"area_m2": Sum(), "mapped_pct": Share(_col("area_m2"), "area_m2")}
    rules |= {f"{s}_pct": Share(_mapped, "mapped area") for s in surfaces}
    rules["canopy_pct"] = Share(_col("area_m2"), "area_m2")
    rules["public_pct"] = Share(_mapped, "mapped area")
    for side, weight in (("public", _public), ("private", _private)):
        rules |= {f"{s}_pct_{side}": Share(weight, f"{side} land") for s in (*surfaces, "canopy")}
    return rules


def _heat_rules() -> dict[str, Rule]:
    rules: dict[str, Rule] = {
        "uhi_max_mean_k": RasterStat("uhi_max", "mean"),
        "uhi_max_p95_k": RasterStat("uhi_max", "percentile", UHI_PERCENTILE),
    }
    for area, prefix in (("walk_area_m2", "walk"), ("walk_main_route_m2", "main_route"),
                         ("walk_neighbourhood_m2", "neighbourhood")):
        rules[area] = Sum()
        rules |= {f"{prefix}_shade_pct_{f}": Share(_col(area), area) for f in ("1500", "afternoon")}
    return rules


#: Layer id -> zone-table column -> rule. A new layer adds its entry here (columns without one
#: fall back to :func:`default_rule`).
AGGREGATION: Mapping[str, Mapping[str, Rule]] = {
    "green-paved": _green_paved_rules(),
    "tree-3-30-300": {
        "dwellings": Sum(),
        **{f"meets_{k}_pct": Share(_col("dwellings"), "dwellings") for k in ("3", "30", "300", "all", "none")},
        "canopy_pct": Share(_zone_area, "zone area"),
    },
    "heat-stress": _heat_rules(),
    "cool-places": {
        "dwellings": Sum(), "dwellings_within_300": Sum(), "share_pct": Ratio("dwellings_within_300", "dwellings"),
    },
}


def default_rule(column: str, values: pd.Series) -> Rule | None:
    """The rule of a column no entry of :data:`AGGREGATION` names: counts and areas sum, the rest has none."""
    if values.dtype == bool:
        return None
    if column.endswith("_m2") or column == "dwellings" or column.startswith("dwellings_"):
        return Sum()
    return None


def rules_for(layer_id: str, table: pd.DataFrame) -> tuple[dict[str, Rule], list[str]]:
    """(column -> rule, columns without a rule) for a zone table of ``layer_id``."""
    given = AGGREGATION.get(layer_id, {})
    rules: dict[str, Rule] = {}
    skipped: list[str] = []
    for col in table.columns:
        if col in ("code", "name", MUNICIPALITY_CODE, MUNICIPALITY_NAME) or col == table.geometry.name:
            continue
        rule = given.get(col) or default_rule(col, table[col])
        if rule is None:
            skipped.append(col)
        else:
            rules[col] = rule
    return rules, skipped


# -- computing --------------------------------------------------------------------------------------

RasterInput = Raster | Path


@dataclass
class _Hist:
    counts: np.ndarray
    total: float = 0.0

    def add(self, other: _Hist) -> None:
        size = max(len(self.counts), len(other.counts))
        self.counts = np.pad(self.counts, (0, size - len(self.counts))) + np.pad(
            other.counts, (0, size - len(other.counts)))
        self.total += other.total

    def value(self, rule: RasterStat) -> float:
        n = int(self.counts.sum())
        if n == 0:
            return math.nan
        if rule.stat == "mean":
            return self.total / n
        return hist_percentile(self.counts, rule.q) * (rule.bin_width / UHI_BIN_K)


def _block_hists(values: np.ndarray, groups: np.ndarray, n_groups: int, bin_width: float) -> list[_Hist]:
    valid = np.isfinite(values) & (groups > 0)
    v, g = values[valid].astype(np.float64), groups[valid] - 1
    bins = np.clip(np.floor(v / bin_width).astype(np.int64), 0, None)
    size = int(bins.max()) + 1 if len(bins) else 1
    flat = np.bincount(g * size + bins, minlength=n_groups * size).reshape(n_groups, size)
    sums = np.bincount(g, weights=v, minlength=n_groups)
    return [_Hist(flat[i], float(sums[i])) for i in range(n_groups)]


def raster_hists(raster: RasterInput, geoms: Sequence[shapely.Geometry], bin_width: float) -> list[_Hist]:
    """Per polygon of ``geoms``: the histogram and sum of the raster's first band over the cells centred in it.

    A raster on disk (a windowed build's GeoTIFF) is read in blocks of rows, so memory follows one block.
    """
    arr = np.asarray(geoms, dtype=object)
    out = [_Hist(np.zeros(1, dtype=np.int64)) for _ in geoms]

    def add(values: np.ndarray, grid: Grid, nodata: Any) -> None:
        if nodata is not None and not (isinstance(nodata, float) and math.isnan(nodata)):
            values = np.where(values == nodata, np.nan, values)
        groups = polygon_index(arr, grid)
        for h, b in zip(out, _block_hists(values, groups, len(arr), bin_width), strict=True):
            h.add(b)

    if isinstance(raster, Raster):
        add(raster.data[0].astype(np.float64), Grid(raster.crs, raster.transform, raster.width, raster.height),
            raster.nodata)
        return out
    with rasterio.open(raster) as ds:
        for row in range(0, ds.height, _BLOCK_ROWS):
            window = Window(0, row, ds.width, min(_BLOCK_ROWS, ds.height - row))
            data = ds.read(1, window=window).astype(np.float64)
            add(data, Grid(ds.crs, ds.window_transform(window), ds.width, data.shape[0]), ds.nodata)
    return out


def _aggregate_rows(table: pd.DataFrame, rules: Mapping[str, Rule]) -> dict[str, float]:
    """The figures of one group of zones (the rows of ``table``), raster statistics excepted."""
    out: dict[str, float] = {}
    for col, rule in rules.items():
        if isinstance(rule, Sum):
            out[col] = float(np.nansum(as_floats(table[col])))
        elif isinstance(rule, Ratio):
            den = float(np.nansum(as_floats(table[rule.denominator])))
            num = float(np.nansum(as_floats(table[rule.numerator])))
            out[col] = 100.0 * num / den if den > 0 else math.nan
        elif isinstance(rule, Share):
            share = as_floats(table[col])
            weight = np.asarray(rule.denominator(table), dtype=np.float64)
            ok = np.isfinite(share) & np.isfinite(weight)
            den = float(weight[ok].sum())
            out[col] = float((share[ok] * weight[ok]).sum() / den) if den > 0 else math.nan
    return out


def _rounded(value: float) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), DECIMALS)


@dataclass
class Aggregated:
    """A zone table aggregated per municipality and for the region.

    Attributes:
        municipalities: one row per municipality: ``code`` (GM...), ``name``, the figures, the union of its zones.
        region: figure -> value for the whole region (the same rules over every zone).
        rules: figure -> the rule, in words.
        not_aggregated: columns without a rule.
    """

    municipalities: gpd.GeoDataFrame
    region: dict[str, float | None]
    rules: dict[str, str]
    not_aggregated: list[str]


def aggregate_zone_table(
    layer_id: str, table: gpd.GeoDataFrame, membership: pd.DataFrame,
    rasters: Mapping[str, RasterInput] | None = None,
) -> Aggregated | None:
    """Aggregate a layer's zone table per municipality and for the region.

    Args:
        layer_id: the layer (chooses the rules of :data:`AGGREGATION`).
        table: the zone table (``code``, ``name``, figures, polygons in the region CRS).
        membership: ``code`` -> ``municipality_code``, ``municipality_name`` of each buurt.
        rasters: the layer's raster outputs (in memory or GeoTIFF files) for :class:`RasterStat` rules.

    Returns:
        the aggregation, or None when no zone has a municipality.
    """
    known = membership.dropna(subset=[MUNICIPALITY_CODE]).drop_duplicates("code").set_index("code")
    codes = table["code"].astype(str).map(known[MUNICIPALITY_CODE])
    if codes.isna().all():
        return None
    names = known.groupby(MUNICIPALITY_CODE)[MUNICIPALITY_NAME].first()
    rules, skipped = rules_for(layer_id, table)
    groups = sorted(codes.dropna().unique())
    rows: list[dict[str, Any]] = []
    geoms = []
    for g in groups:
        part = table.loc[(codes == g).to_numpy()]
        rows.append({"code": g, "name": names.get(g), **_aggregate_rows(part, rules)})
        geoms.append(shapely.union_all(part.geometry.values))
    region = _aggregate_rows(table.loc[codes.notna().to_numpy()], rules)
    for col, rule in rules.items():
        if not isinstance(rule, RasterStat):
            continue
        source = (rasters or {}).get(rule.raster)
        if source is None:
            skipped.append(col)
            continue
        hists = raster_hists(source, geoms, rule.bin_width)
        whole = _Hist(np.zeros(1, dtype=np.int64))
        for row, h in zip(rows, hists, strict=True):
            row[col] = h.value(rule)
            whole.add(h)
        region[col] = whole.value(rule)
    figures = [c for c in rules if c not in skipped]
    frame = pd.DataFrame(rows, columns=["code", "name", *figures])
    for col in figures:
        frame[col] = frame[col].map(lambda v: np.nan if _rounded(v) is None else _rounded(v))
    out = gpd.GeoDataFrame(frame, geometry=geoms, crs=table.crs)
    return Aggregated(out, {c: _rounded(region[c]) for c in figures},
                      {c: rules[c].describe() for c in figures}, skipped)


def membership_of(neighbourhoods: pd.DataFrame | None) -> pd.DataFrame | None:
    """``code``, ``municipality_code``, ``municipality_name`` of the canonical buurten, or None without them."""
    if neighbourhoods is None or MUNICIPALITY_CODE not in neighbourhoods.columns:
        return None
    frame = pd.DataFrame({
        "code": neighbourhoods["code"].astype(str).to_numpy(),
        MUNICIPALITY_CODE: neighbourhoods[MUNICIPALITY_CODE].astype(object).to_numpy(),
        MUNICIPALITY_NAME: (neighbourhoods[MUNICIPALITY_NAME].astype(object).to_numpy()
                            if MUNICIPALITY_NAME in neighbourhoods.columns else None),
    })
    frame[MUNICIPALITY_CODE] = frame[MUNICIPALITY_CODE].where(frame[MUNICIPALITY_CODE].notna(), None)
    return None if frame[MUNICIPALITY_CODE].isna().all() else frame


def add_municipalities(
    layer_id: str, result: LayerResult, membership: pd.DataFrame | None,
    raster_files: Mapping[str, Path] | None = None,
) -> LayerResult:
    """``result`` with its zone table aggregated: output ``municipalities`` and ``metadata.region_figures``.

    The zone table gains ``municipality_code`` and ``municipality_name``. A result without a
    zone table, or zones without municipalities, is returned unchanged.
    """
    table = result.vectors.get(ZONE_OUTPUT)
    if membership is None or table is None or "code" not in table.columns or MUNICIPALITY_OUTPUT in result.vectors:
        return result
    rasters: dict[str, RasterInput] = {**result.rasters, **(raster_files or {})}
    done = aggregate_zone_table(layer_id, table, membership, rasters)
    if done is None:
        return result
    known = membership.drop_duplicates("code").set_index("code")
    zones = table.copy()
    for col in (MUNICIPALITY_CODE, MUNICIPALITY_NAME):
        zones[col] = zones["code"].astype(str).map(known[col])
    result.vectors[ZONE_OUTPUT] = zones
    result.vectors[MUNICIPALITY_OUTPUT] = done.municipalities
    result.metadata["region_figures"] = done.region
    result.metadata["municipality_aggregation"] = {"rules": done.rules, "not_aggregated": done.not_aggregated}
    return result


def check_region_municipalities(codes: Sequence[str], where: str) -> None:
    """ValueError (for pydantic, which adds the key path) when ``codes`` repeats a municipality."""
    seen: set[str] = set()
    for c in codes:
        if c in seen:
            raise ValueError(f"{c} is listed twice")
        seen.add(c)
