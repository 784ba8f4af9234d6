"""Mergeable statistics of the ``pet`` layer: per-window partials, merged into the per-buurt table.

A window leaves, per buurt it touches and for the region, a histogram of
``pet_afternoon`` on walking space (bins of :data:`PET_BIN_C` from
:data:`PET_LOW_C`), its sum, and the sums and counts of ``pet_1500`` on walking
space and of ``pet_afternoon`` on every outdoor cell. Histograms and sums add up
over windows, so means are exact and the 95th percentile is exact to half a bin
(0.05 degC) whatever the windows; the class bounds of ``geo.pet.PET_CLASSES``
fall on bin edges, so the class shares are exact too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd

from geo.pet import PET_CLASSES

#: Bin width (degC) and range of the PET histograms; values beyond are put in the edge bins.
PET_BIN_C = 0.1
PET_LOW_C = 0.0
PET_HIGH_C = 80.0
N_BINS = round((PET_HIGH_C - PET_LOW_C) / PET_BIN_C)
#: Percentile reported per buurt.
PERCENTILE = 95
DECIMALS = 2
_PERCENT = 100.0
#: Zone value of cells outside every buurt.
NO_ZONE = 0


@dataclass
class PetPartial:
    """Statistics of one window or of merged windows, indexed by the buurt codes (last row: the region).

    Attributes:
        codes: buurt codes.
        hist: ``(buurten + 1, N_BINS)`` walking-space cells per pet_afternoon bin.
        walk_sum: per row, sum of pet_afternoon over walking space (degC).
        moment_sum: per row, sum of pet_1500 over walking space (degC).
        outdoor_n: per row, outdoor cells (not roofs) with PET.
        outdoor_sum: per row, sum of pet_afternoon over them (degC).
    """

    codes: list[str]
    hist: np.ndarray
    walk_sum: np.ndarray
    moment_sum: np.ndarray
    outdoor_n: np.ndarray
    outdoor_sum: np.ndarray


def _bins(values: np.ndarray) -> np.ndarray:
    return np.clip(np.floor((values - PET_LOW_C) / PET_BIN_C + 1e-9).astype(np.int64), 0, N_BINS - 1)


def window_partial(
    zone: np.ndarray, codes: list[str], afternoon: np.ndarray, moment: np.ndarray, walking: np.ndarray
) -> PetPartial:
    """Statistics of one window.

    Args:
        zone: int raster, 1 + index into ``codes``, :data:`NO_ZONE` outside every buurt.
        codes: the buurt codes.
        afternoon: pet_afternoon (degC), NaN on roofs and without data.
        moment: pet_1500 (degC), NaN on the same cells.
        walking: bool raster, walking space.
    """
    k = len(codes)
    rows = np.where(zone == NO_ZONE, k, zone - 1)  # cells outside every buurt count for the region only
    valid = np.isfinite(afternoon)
    walk = valid & walking
    hist = np.zeros((k + 1, N_BINS), dtype=np.int64)
    walk_sum = np.zeros(k + 1)
    moment_sum = np.zeros(k + 1)
    outdoor_n = np.zeros(k + 1, dtype=np.int64)
    outdoor_sum = np.zeros(k + 1)
    for sel, in_zone in ((walk & (zone != NO_ZONE), True), (walk, False)):
        target = rows[sel] if in_zone else np.full(int(sel.sum()), k)
        hist += np.bincount(target * N_BINS + _bins(afternoon[sel]), minlength=(k + 1) * N_BINS).reshape(k + 1, -1)
        walk_sum += np.bincount(target, weights=afternoon[sel].astype(np.float64), minlength=k + 1)
        moment_sum += np.bincount(target, weights=moment[sel].astype(np.float64), minlength=k + 1)
    for sel, in_zone in ((valid & (zone != NO_ZONE), True), (valid, False)):
        target = rows[sel] if in_zone else np.full(int(sel.sum()), k)
        outdoor_n += np.bincount(target, minlength=k + 1)
        outdoor_sum += np.bincount(target, weights=afternoon[sel].astype(np.float64), minlength=k + 1)
    return PetPartial(list(codes), hist, walk_sum, moment_sum, outdoor_n, outdoor_sum)


def merge(parts: list[PetPartial], codes: list[str]) -> PetPartial:
    """Add up the partials of every window onto the buurt codes ``codes`` (the region's zones)."""
    k = len(codes)
    index = {c: i for i, c in enumerate(codes)}
    out = PetPartial(list(codes), np.zeros((k + 1, N_BINS), dtype=np.int64), np.zeros(k + 1), np.zeros(k + 1),
                     np.zeros(k + 1, dtype=np.int64), np.zeros(k + 1))
    for part in parts:
        rows = np.array([index[c] for c in part.codes] + [k], dtype=np.int64)
        for name in ("hist", "walk_sum", "moment_sum", "outdoor_n", "outdoor_sum"):
            np.add.at(getattr(out, name), rows, getattr(part, name))
    return out


def _percentile(hist: np.ndarray, q: float) -> float:
    n = int(hist.sum())
    if n == 0:
        return math.nan
    rank = math.ceil(q / _PERCENT * n)
    b = int(np.searchsorted(np.cumsum(hist), rank))
    return PET_LOW_C + (b + 0.5) * PET_BIN_C


def _class_shares(hist: np.ndarray) -> dict[str, float]:
    n = int(hist.sum())
    out = {}
    for c in PET_CLASSES:
        lo = 0 if not math.isfinite(c.lower) else round((c.lower - PET_LOW_C) / PET_BIN_C)
        hi = N_BINS if not math.isfinite(c.upper) else round((c.upper - PET_LOW_C) / PET_BIN_C)
        out[c.key] = math.nan if n == 0 else round(_PERCENT * float(hist[lo:hi].sum()) / n, DECIMALS)
    return out


def row_figures(stats: PetPartial, row: int) -> dict[str, float]:
    """The figures of one row (a buurt, or ``len(codes)`` for the region)."""
    n_walk = int(stats.hist[row].sum())
    n_out = int(stats.outdoor_n[row])

    def mean(total: float, n: int) -> float:
        return math.nan if n == 0 else round(total / n, DECIMALS)

    figures = {
        "pet_afternoon_mean": mean(float(stats.outdoor_sum[row]), n_out),
        "walk_pet_afternoon_mean": mean(float(stats.walk_sum[row]), n_walk),
        f"walk_pet_afternoon_p{PERCENTILE}": round(_percentile(stats.hist[row], PERCENTILE), DECIMALS),
        "walk_pet_1500_mean": mean(float(stats.moment_sum[row]), n_walk),
        "walk_cells": n_walk,
        "outdoor_cells": n_out,
    }
    figures.update({f"walk_pct_{key}": value for key, value in _class_shares(stats.hist[row]).items()})
    return figures


def buurt_table(buurten: gpd.GeoDataFrame, stats: PetPartial) -> gpd.GeoDataFrame:
    """One row per buurt: code, name when known, geometry and :func:`row_figures`."""
    rows = [row_figures(stats, i) for i in range(len(stats.codes))]
    table = pd.DataFrame(rows, index=buurten.index)
    keep = [c for c in ("code", "name") if c in buurten]
    return gpd.GeoDataFrame(pd.concat([buurten[keep], table], axis=1), geometry=buurten.geometry, crs=buurten.crs)
