"""Mergeable statistics of the heat-stress layer: per-window partials, merged into per-buurt tables.

A window of the heat-stress raster leaves behind, per buurt it touches and
for the whole region, a histogram of ``uhi_max`` (bins of
:data:`UHI_BIN_K`), its sum and count, and the shade sums and counts on the
two kinds of walking area (main routes and neighbourhood streets), for both
shade figures (:data:`SHADE_FIGURES`: the Kluck moment and the afternoon
mean). Sums,
counts and histograms add up over windows, so the per-buurt mean is exact and
the 95th percentile is exact to half a bin (0.005 K), whatever the window
size: the table of a municipality built in 100 windows equals the table of
one run over the whole region, and no window's cells are kept in memory.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

#: Width (K) of the uhi_max histogram bins; the percentiles are exact to half of it.
UHI_BIN_K = 0.01
#: Percentile of uhi_max reported per buurt and for the region.
UHI_PERCENTILE = 95
#: Figures in the tables are rounded to this many decimals.
DECIMALS = 2
#: Walking-area kinds, in the order of the ``walk_*`` columns of a partial.
ROUTE_KINDS = ("main_route", "neighbourhood")
#: Suffix of the shade figure at the moment (``shade_pct_1500``), named after the default moment of
#: ``layers.sun.SHADE_MOMENT_HOUR``; the Kluck targets are judged on it.
MOMENT = "1500"
#: Suffix of the 12:00-18:00 mean (``shade_pct_afternoon``), the afternoon window of the national heat map.
AFTERNOON = "afternoon"
#: The shade figures, in the order of the last axis of ``walk_shade`` and ``region_shade_sum``.
SHADE_FIGURES = (MOMENT, AFTERNOON)
#: Zone value of cells outside every buurt.
NO_ZONE = 0


def uhi_bins(upper_k: float) -> int:
    """Number of histogram bins covering 0..``upper_k`` K (the largest uhi_max the weather allows)."""
    return math.ceil(upper_k / UHI_BIN_K) + 1


def _bin_of(values: np.ndarray, n_bins: int) -> np.ndarray:
    return np.clip(np.floor(values / UHI_BIN_K).astype(np.int64), 0, n_bins - 1)


@dataclass
class HeatPartial:
    """Statistics of one window, or of several windows merged.

    Attributes:
        codes: buurt codes the arrays are indexed by.
        hist: ``(buurten, bins)`` counts of uhi_max per bin.
        uhi_sum: per buurt sum of uhi_max (K).
        walk_n: ``(buurten, kinds)`` walking cells with a shade value per route kind (:data:`ROUTE_KINDS`).
        walk_shade: ``(buurten, kinds, figures)`` sum of the shade (%) over those cells per figure
            (:data:`SHADE_FIGURES`).
        region_hist: uhi_max histogram of every valid cell of the region.
        region_uhi_sum: sum of uhi_max over those cells (K), for the exact region mean.
        region_shade_sum: ``(figures,)`` sum of the shade (%) over cells with a shade value.
        region_shade_n: number of cells with a shade value.
        nodata: cells without uhi_max.
    """

    codes: list[str]
    hist: np.ndarray
    uhi_sum: np.ndarray
    walk_n: np.ndarray
    walk_shade: np.ndarray
    region_hist: np.ndarray
    region_shade_sum: np.ndarray = field(default_factory=lambda: np.zeros(len(SHADE_FIGURES)))
    region_shade_n: int = 0
    nodata: int = 0
    region_uhi_sum: float = 0.0


def window_partial(
    zone: np.ndarray,
    codes: Sequence[str],
    uhi: np.ndarray,
    shades: Sequence[np.ndarray],
    route: np.ndarray,
    n_bins: int,
) -> HeatPartial:
    """Statistics of one window.

    Args:
        zone: int raster, 1 + index into ``codes`` of each cell's buurt, :data:`NO_ZONE` outside.
        codes: buurt codes of the zones.
        uhi: uhi_max (K), NaN where unknown.
        shades: one shade raster (%) per figure of :data:`SHADE_FIGURES`, NaN where unknown (the same
            cells in each: where the DSM has no data).
        route: int8 raster, -1 for no walking area, else the index into :data:`ROUTE_KINDS`.
        n_bins: histogram bins (:func:`uhi_bins`).
    """
    if len(shades) != len(SHADE_FIGURES):
        raise ValueError(f"expected {len(SHADE_FIGURES)} shade rasters ({SHADE_FIGURES}), got {len(shades)}")
    k = len(codes)
    valid = np.isfinite(uhi)
    bins = _bin_of(np.where(valid, uhi, 0.0), n_bins)
    in_zone = valid & (zone != NO_ZONE)
    z = zone[in_zone] - 1
    hist = np.bincount(z * n_bins + bins[in_zone], minlength=k * n_bins).reshape(k, n_bins)
    uhi_sum = np.bincount(z, weights=uhi[in_zone].astype(np.float64), minlength=k)
    shaded = np.isfinite(shades[0])
    walk_n = np.zeros((k, len(ROUTE_KINDS)), dtype=np.int64)
    walk_shade = np.zeros((k, len(ROUTE_KINDS), len(SHADE_FIGURES)), dtype=np.float64)
    for kind in range(len(ROUTE_KINDS)):
        sel = (route == kind) & (zone != NO_ZONE) & shaded
        walk_n[:, kind] = np.bincount(zone[sel] - 1, minlength=k)
        for f, shade in enumerate(shades):
            walk_shade[:, kind, f] = np.bincount(zone[sel] - 1, weights=shade[sel].astype(np.float64), minlength=k)
    return HeatPartial(
        codes=list(codes),
        hist=hist,
        uhi_sum=uhi_sum,
        walk_n=walk_n,
        walk_shade=walk_shade,
        region_hist=np.bincount(bins[valid], minlength=n_bins),
        region_shade_sum=np.array([float(s[shaded].astype(np.float64).sum()) for s in shades]),
        region_shade_n=int(shaded.sum()),
        nodata=int((~valid).sum()),
        region_uhi_sum=float(uhi[valid].astype(np.float64).sum()),
    )


def merge(partials: Sequence[HeatPartial], codes: Sequence[str]) -> HeatPartial:
    """Add the partials up, indexed by ``codes`` (buurten a window did not touch get zeros)."""
    n_bins = len(partials[0].region_hist)
    index = {c: i for i, c in enumerate(codes)}
    out = HeatPartial(
        codes=list(codes),
        hist=np.zeros((len(codes), n_bins), dtype=np.int64),
        uhi_sum=np.zeros(len(codes)),
        walk_n=np.zeros((len(codes), len(ROUTE_KINDS)), dtype=np.int64),
        walk_shade=np.zeros((len(codes), len(ROUTE_KINDS), len(SHADE_FIGURES))),
        region_hist=np.zeros(n_bins, dtype=np.int64),
    )
    for p in partials:
        rows = np.array([index[c] for c in p.codes], dtype=np.intp)
        np.add.at(out.hist, rows, p.hist)
        np.add.at(out.uhi_sum, rows, p.uhi_sum)
        np.add.at(out.walk_n, rows, p.walk_n)
        np.add.at(out.walk_shade, rows, p.walk_shade)
        out.region_hist += p.region_hist
        out.region_shade_sum += p.region_shade_sum
        out.region_shade_n += p.region_shade_n
        out.nodata += p.nodata
        out.region_uhi_sum += p.region_uhi_sum
    return out


def hist_percentile(hist: np.ndarray, q: float) -> float:
    """The ``q``-th percentile (0-100) of the values counted in ``hist``: the centre of the bin holding it.

    The rank is the one of numpy's default (linear) method, ``q/100 * (n - 1)``;
    the answer lies within half a bin (:data:`UHI_BIN_K` / 2) of ``np.percentile``.
    """
    n = int(hist.sum())
    if n == 0:
        return math.nan
    rank = q / 100.0 * (n - 1)
    b = int(np.searchsorted(np.cumsum(hist), math.floor(rank) + 1))
    return (b + 0.5) * UHI_BIN_K


def _rounded(values: np.ndarray) -> np.ndarray:
    return np.round(values.astype(np.float64), DECIMALS)


def shade_column(prefix: str, figure: str) -> str:
    """Column of a shade figure in the buurt table: ``<prefix>_shade_pct_<figure>``, e.g. ``walk_shade_pct_1500``."""
    return f"{prefix}_shade_pct_{figure}"


def buurt_table(
    buurten: gpd.GeoDataFrame, stats: HeatPartial, resolution_m: float, targets: Mapping[str, float]
) -> gpd.GeoDataFrame:
    """Per buurt: mean and p95 of uhi_max, shade on walking areas per route kind, against the Kluck targets.

    Every shade figure of :data:`SHADE_FIGURES` gets a column per route kind and one over all walking
    space (``walk_shade_pct_1500``, ``main_route_shade_pct_afternoon``, ...); ``meets_shade_<kind>``
    judges the figure at the moment (:data:`MOMENT`) against the target, as the guideline asks.

    Args:
        buurten: ``code``, ``name`` and geometry, in the order of ``stats.codes``.
        stats: merged statistics.
        resolution_m: cell size (m), for walking areas in m2.
        targets: shade target (%) per route kind (:data:`ROUTE_KINDS`).
    """
    counts = stats.hist.sum(axis=1)
    walk_all = stats.walk_n.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(counts > 0, stats.uhi_sum / counts, np.nan)
        kind_n = stats.walk_n[:, :, None]
        shade_kind = np.where(kind_n > 0, stats.walk_shade / kind_n, np.nan)
        shade_all = np.where(walk_all[:, None] > 0, stats.walk_shade.sum(axis=1) / walk_all[:, None], np.nan)
    out = buurten[["code", "name", buurten.geometry.name]].copy()
    out["uhi_max_mean_k"] = _rounded(mean)
    out["uhi_max_p95_k"] = _rounded(np.array([hist_percentile(h, UHI_PERCENTILE) for h in stats.hist]))
    cell_m2 = resolution_m**2
    out["walk_area_m2"] = np.round(walk_all * cell_m2, 1)
    for f, figure in enumerate(SHADE_FIGURES):
        out[shade_column("walk", figure)] = _rounded(shade_all[:, f])
    judged = SHADE_FIGURES.index(MOMENT)
    for i, kind in enumerate(ROUTE_KINDS):
        out[f"walk_{kind}_m2"] = np.round(stats.walk_n[:, i] * cell_m2, 1)
        for f, figure in enumerate(SHADE_FIGURES):
            out[shade_column(kind, figure)] = _rounded(shade_kind[:, i, f])
        # No walking area of this kind in the buurt: the target is neither met nor missed.
        out[f"meets_shade_{kind}"] = pd.array(
            [None if np.isnan(v) else bool(v >= targets[kind]) for v in shade_kind[:, i, judged]], dtype="boolean"
        )
    return out.reset_index(drop=True)


def region_summary(stats: HeatPartial) -> dict[str, Any]:
    """Region-wide mean and p95 of uhi_max, mean shade per figure and nodata cells, for the layer metadata."""
    n = int(stats.region_hist.sum())
    summary: dict[str, Any] = {
        "uhi_max_mean_k": round(stats.region_uhi_sum / n, DECIMALS) if n else None,
        "uhi_max_p95_k": round(hist_percentile(stats.region_hist, UHI_PERCENTILE), DECIMALS) if n else None,
    }
    for f, figure in enumerate(SHADE_FIGURES):
        summary[f"shade_mean_pct_{figure}"] = (
            round(float(stats.region_shade_sum[f]) / stats.region_shade_n, DECIMALS) if stats.region_shade_n else None
        )
    summary["nodata_cells"] = stats.nodata
    return summary
