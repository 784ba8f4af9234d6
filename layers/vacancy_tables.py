"""Public vacancy tables per municipality, buurt and CBS 100 m square, under disclosure control.

Shared by the ``vacancy`` layer and whatever reports vacancy per zone. The method is in
``docs/method-vacancy.md``; the rules in ``geo.disclosure``. In short: every address in use is
put in one *piece* of the map (its 100 m CBS square cut by the buurt borders), and its vacancy
in one *atom* (piece x use group x duration class). Each published cell (zone x column) counts
atoms. Cells are suppressed when small, when nearly all their addresses are vacant, and then
until an attacker holding every published cell and the open BAG (addresses in use per piece and
use group) cannot locate a vacant address: the subtraction of parts from totals, of buurten from
their municipality, and of squares from buurten (and back) included.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Transformer
from scipy import sparse

from geo import cbs_grid
from geo.disclosure import (
    COMPLEMENT,
    PRIMARY,
    PUBLISHED,
    Publication,
    Regions,
    protect_table,
    safe_count,
    secondary_suppression,
)
from geo.vacancy import ALL_USE_GROUPS, DURATION_CLASSES, IN_USE_STATUSES, LONG, MEDIUM, SHORT, UNKNOWN
from layers.dwellings import zone_index

#: Column suffix of each duration class.
DURATION_KEYS = {SHORT: "lt1y", MEDIUM: "1_3y", LONG: "gt3y", UNKNOWN: "unknown"}
#: Published count columns: all vacant, per use group, per duration class.
USE_COLUMNS = tuple(f"vacant_{g}" for g in ALL_USE_GROUPS)
DURATION_COLUMNS = tuple(f"vacant_{DURATION_KEYS[d]}" for d in DURATION_CLASSES)
COUNT_COLUMNS: tuple[str, ...] = ("vacant", *USE_COLUMNS, *DURATION_COLUMNS)
#: Levels of the tables, with the priority of their cells in secondary suppression (lowest first).
LEVELS = {"grid": 0, "buurt": 1, "gemeente": 2}
#: A part is suppressed before the total of its zone (priority offset within a level).
TOTAL_PRIORITY = 0.5
#: Shares are given with this many decimals (%).
PCT_DECIMALS = 1
_BUURT_CODE = re.compile(r"^BU(\d{4})\d{4}$")
_RD = CRS.from_epsg(28992)


def municipality_code(buurt_code: str, fallback: str) -> str:
    """CBS municipality code (``GM`` + 4 digits) of a buurt code ``BU`` + gemeente + wijk + buurt."""
    m = _BUURT_CODE.match(str(buurt_code))
    return f"GM{m.group(1)}" if m else fallback


@dataclass
class VacancyTables:
    """The protected tables and what the protection did.

    Attributes:
        tables: level (``gemeente``, ``buurt``, ``grid``) -> polygons with counts and shares.
        counts: cells per status (published, primary, complement, secondary) and addresses outside zones.
    """

    tables: dict[str, gpd.GeoDataFrame]
    counts: Counter[str]


def _grid_corners(points: np.ndarray, crs: CRS, size_m: int) -> tuple[np.ndarray, np.ndarray]:
    """Lower-left corners in RD of the CBS squares holding ``points`` (region CRS)."""
    x, y = shapely.get_coordinates(points).T
    if not CRS(crs).equals(_RD):
        x, y = Transformer.from_crs(crs, _RD, always_xy=True).transform(x, y)
    return cbs_grid.cell_corners(x, y, size_m)


@dataclass
class _Level:
    """One geography: per piece its zone, and per zone code, name and polygon (region CRS)."""

    of_piece: np.ndarray
    codes: list[str]
    names: list[str]
    geometry: np.ndarray
    published: np.ndarray  # zone indices that get a row


def vacancy_tables(
    status: gpd.GeoDataFrame,
    zones: gpd.GeoDataFrame,
    *,
    region_name: str,
    min_count: int,
    base: int,
    grid_m: int = cbs_grid.CELL_M,
) -> VacancyTables:
    """Protected vacancy counts and shares per municipality, buurt and CBS square.

    Args:
        status: ``geo.vacancy.vacancy_status`` of the addresses inside the extent (region CRS).
        zones: the buurten (``code``, ``name``, polygons; index 0..n-1), clipped to the extent.
        region_name: name of the municipality when the buurt codes name none.
        min_count: suppression threshold (``geo.disclosure``).
        base: rounding base (``geo.disclosure``).
        grid_m: edge of the CBS squares (m).

    Returns:
        the three tables (region CRS) and the protection's counts.
    """
    counts: Counter[str] = Counter()
    points = shapely.point_on_surface(status.geometry.values)
    zone = zone_index(shapely.get_coordinates(points), zones, counts, "addresses_outside_neighbourhoods")
    gx, gy = _grid_corners(points, zones.crs, grid_m)
    vacant = status["vacant"].to_numpy(dtype=bool)
    frame = pd.DataFrame({
        "zone": zone, "gx": gx, "gy": gy, "vacant": vacant, "in_use": vacant | _in_use(status),
        "out_of_use": status["out_of_use"].to_numpy(dtype=bool),
        "use": pd.Categorical(status["use_group"], categories=ALL_USE_GROUPS).codes,
        "dur": pd.Categorical(status["duration_class"].where(status["vacant"], None),
                              categories=DURATION_CLASSES).codes,
    })[zone >= 0].reset_index(drop=True)
    frame["piece"] = frame.groupby(["zone", "gx", "gy"], sort=True).ngroup()
    n_pieces = int(frame["piece"].max()) + 1 if len(frame) else 0
    piece_info = frame.groupby("piece")[["zone", "gx", "gy"]].first().reindex(range(n_pieces))
    n_use, n_dur = len(ALL_USE_GROUPS), len(DURATION_CLASSES)
    # atom a = (piece * n_use + use) * n_dur + dur
    vac = frame[frame["vacant"]]
    atom_count = np.bincount((vac["piece"] * n_use + vac["use"]) * n_dur + vac["dur"],
                             minlength=n_pieces * n_use * n_dur).astype(float)
    users = frame[frame["in_use"]]
    piece_use_pop = np.bincount(users["piece"] * n_use + users["use"], minlength=n_pieces * n_use).astype(float)
    levels = _levels(piece_info, zones, region_name, grid_m, min_count, piece_use_pop.reshape(-1, n_use))
    cells, rows, pops, truth = _cells(levels, n_pieces, n_use, n_dur, atom_count, piece_use_pop)
    width = len(COUNT_COLUMNS)
    first = protect_table(
        pd.DataFrame(truth.reshape(-1, width).astype(int), columns=list(COUNT_COLUMNS)),
        populations=pd.DataFrame(pops.reshape(-1, width), columns=list(COUNT_COLUMNS)),
        min_count=min_count, base=base,
    )
    pub = Publication(
        rows=rows, values=first.values.to_numpy(dtype=float, na_value=np.nan).ravel(),
        status=first.status.to_numpy().ravel().astype(object), populations=pops,
        suppressible=np.ones(len(cells), dtype=bool),
        priority=np.array([LEVELS[c[0]] + (TOTAL_PRIORITY if c[2] == "vacant" else 0.0) for c in cells]),
        atom_populations=np.repeat(piece_use_pop, n_dur),
        known_rows=sparse.kron(sparse.identity(n_pieces * n_use, format="csr"), np.ones((1, n_dur))).tocsr(),
        known_populations=piece_use_pop,
    )
    regions = _regions(pub, truth, rows, atom_count, piece_use_pop, n_pieces, n_use, n_dur, min_count)
    counts["cells_primary"] = int((pub.status == PRIMARY).sum())
    counts["cells_complement"] = int((pub.status == COMPLEMENT).sum())
    counts["cells_secondary"] = secondary_suppression(pub, regions, min_count, base)
    counts["cells_published"] = int((pub.status == PUBLISHED).sum())
    counts["regions_audited"] = len(regions.labels)
    values = pub.values.reshape(-1, width)
    tables: dict[str, gpd.GeoDataFrame] = {}
    at = 0
    for name, level in levels.items():
        n = len(level.published)
        tables[name] = _table(level, values[at:at + n], pops.reshape(-1, width)[at:at + n, 0], frame,
                              min_count, base, zones.crs)
        at += n
    return VacancyTables(tables, counts)


def _in_use(status: gpd.GeoDataFrame) -> np.ndarray:
    """Addresses whose status counts as in use (vacant or occupied)."""
    text = status["status"].astype("string").str.strip()
    return text.isin(list(IN_USE_STATUSES)).fillna(False).to_numpy(dtype=bool)


def _levels(piece_info: pd.DataFrame, zones: gpd.GeoDataFrame, region_name: str, grid_m: int, min_count: int,
            piece_use_pop: np.ndarray) -> dict[str, _Level]:
    """Municipalities, buurten and squares, each with the zone of every piece.

    Every municipality and buurt gets a row; a square only with at least ``min_count`` addresses in
    use, as CBS publishes squares only where at least 5 dwellings or residents are.
    """
    fallback = "GM" + (re.sub(r"\W", "", region_name) or "regio")
    gm = np.array([municipality_code(c, fallback) for c in zones["code"]], dtype=object)
    gm_codes = sorted(set(gm))
    zone_gm = np.array([gm_codes.index(g) for g in gm], dtype=np.int64)
    piece_zone = piece_info["zone"].to_numpy(dtype=np.int64)
    gm_geoms = np.array([shapely.union_all(zones.geometry.values[gm == g]) for g in gm_codes], dtype=object)
    corners = list(zip(piece_info["gx"].to_numpy(dtype=np.int64), piece_info["gy"].to_numpy(dtype=np.int64),
                       strict=True))
    grid_of_piece, uniq = pd.factorize(pd.Series(corners, dtype=object)) if corners else (
        np.empty(0, dtype=np.int64), [])
    gx0 = np.array([c[0] for c in uniq], dtype=np.int64)
    gy0 = np.array([c[1] for c in uniq], dtype=np.int64)
    cell_geoms = gpd.GeoSeries(cbs_grid.cell_polygons(gx0, gy0, grid_m), crs=_RD).to_crs(zones.crs).values
    grid_codes = cbs_grid.cell_codes(gx0, gy0)
    grid_pop = np.bincount(grid_of_piece, weights=piece_use_pop.sum(axis=1), minlength=len(uniq))
    single = len(gm_codes) == 1
    return {
        "gemeente": _Level(zone_gm[piece_zone], gm_codes, [region_name if single else c for c in gm_codes],
                           gm_geoms, np.arange(len(gm_codes))),
        "buurt": _Level(piece_zone, [str(c) for c in zones["code"]], [str(n) for n in zones["name"]],
                        zones.geometry.values, np.arange(len(zones))),
        "grid": _Level(np.asarray(grid_of_piece, dtype=np.int64), grid_codes,
                       [cbs_grid.full_name(c, grid_m) for c in grid_codes], np.asarray(cell_geoms),
                       np.flatnonzero(grid_pop >= min_count)),
    }


def _masks(n_pieces: int, n_use: int, n_dur: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """Piece of every atom, and per count column the atoms it counts."""
    atoms = np.arange(n_pieces * n_use * n_dur)
    piece, use, dur = atoms // (n_use * n_dur), (atoms // n_dur) % n_use, atoms % n_dur
    return piece, [np.ones(len(atoms), dtype=bool), *(use == u for u in range(n_use)),
                   *(dur == d for d in range(n_dur))]


def _column_population(pop: np.ndarray, k: int, n_use: int) -> np.ndarray:
    """Addresses a count column could count, from addresses in use per use group (last axis)."""
    return pop[..., k - 1] if 1 <= k <= n_use else pop.sum(axis=-1)


def _cells(levels: dict[str, _Level], n_pieces: int, n_use: int, n_dur: int, atom_count: np.ndarray,
           piece_use_pop: np.ndarray) -> tuple[list[tuple[str, int, str]], sparse.csr_matrix, np.ndarray, np.ndarray]:
    """Every published cell (level, zone, column) in table order: its atoms, population and true count."""
    piece, masks = _masks(n_pieces, n_use, n_dur)
    pop_piece = piece_use_pop.reshape(-1, n_use)
    cells: list[tuple[str, int, str]] = []
    r_idx: list[np.ndarray] = []
    c_idx: list[np.ndarray] = []
    pops: list[float] = []
    for name, level in levels.items():
        member = level.of_piece[piece]
        for z in level.published:
            zpop = pop_piece[level.of_piece == z].sum(axis=0)
            in_zone = member == z
            for k, (col, mask) in enumerate(zip(COUNT_COLUMNS, masks, strict=True)):
                sel = np.flatnonzero(in_zone & mask)
                r_idx.append(np.full(len(sel), len(cells)))
                c_idx.append(sel)
                cells.append((name, int(z), col))
                pops.append(float(_column_population(zpop, k, n_use)))
    r = np.concatenate(r_idx) if r_idx else np.empty(0, dtype=np.int64)
    c = np.concatenate(c_idx) if c_idx else np.empty(0, dtype=np.int64)
    rows = sparse.csr_matrix((np.ones(len(r)), (r, c)), shape=(len(cells), n_pieces * n_use * n_dur))
    return cells, rows, np.array(pops), rows @ atom_count


def _regions(pub: Publication, truth: np.ndarray, rows: sparse.csr_matrix, atom_count: np.ndarray,
             piece_use_pop: np.ndarray, n_pieces: int, n_use: int, n_dur: int, min_count: int) -> Regions:
    """The regions to keep undisclosed, of those whose true counts make a disclosure possible at all.

    An attacker's proven lower bound never exceeds the truth, so only these can be disclosed: cells
    suppressed as small holding a vacant address, and cells, pieces (per column) and atoms in which
    fewer than ``min_count`` addresses are not vacant while at least one is.
    """
    def possible(n: np.ndarray, pop: np.ndarray) -> np.ndarray:
        return (n >= 1) & (pop - n < min_count)

    n_atoms = n_pieces * n_use * n_dur
    primary = pub.status == PRIMARY
    pick = np.flatnonzero((primary & (truth >= 1)) | possible(truth, pub.populations))
    blocks = [rows[pick]]
    populations = [pub.populations[pick]]
    small = [primary[pick]]
    labels = [f"cell {i}" for i in pick]
    piece, masks = _masks(n_pieces, n_use, n_dur)
    pop_piece = piece_use_pop.reshape(-1, n_use)
    for k, mask in enumerate(masks):
        sel = np.flatnonzero(mask)
        block = sparse.csr_matrix((np.ones(len(sel)), (piece[sel], sel)), shape=(n_pieces, n_atoms))
        pop = _column_population(pop_piece, k, n_use)
        pick = np.flatnonzero(possible(block @ atom_count, pop))
        blocks.append(block[pick])
        populations.append(pop[pick])
        small.append(np.zeros(len(pick), dtype=bool))
        labels += [f"piece {p}, {COUNT_COLUMNS[k]}" for p in pick]
    atom_pop = np.repeat(piece_use_pop, n_dur)
    pick = np.flatnonzero(possible(atom_count, atom_pop))
    blocks.append(sparse.csr_matrix((np.ones(len(pick)), (np.arange(len(pick)), pick)), shape=(len(pick), n_atoms)))
    populations.append(atom_pop[pick])
    small.append(np.zeros(len(pick), dtype=bool))
    labels += [f"atom {a}" for a in pick]
    return Regions(sparse.vstack(blocks).tocsr(), np.concatenate(populations), np.concatenate(small), labels)


def _pct(num: np.ndarray, den: np.ndarray) -> pd.Series:
    """``num / den`` in %, null where either is null (NaN) or the denominator is 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(den > 0, num / np.where(den > 0, den, 1) * 100, np.nan)
    return pd.Series(np.round(share, PCT_DECIMALS), dtype="Float64")


def _table(level: _Level, values: np.ndarray, in_use: np.ndarray, frame: pd.DataFrame, min_count: int,
           base: int, crs: CRS) -> gpd.GeoDataFrame:
    """The published table of one level: code, name, addresses in use, counts, shares, out of use."""
    zones = level.published
    out = pd.DataFrame({"code": [level.codes[z] for z in zones], "name": [level.names[z] for z in zones]})
    out["addresses_in_use"] = in_use.astype(np.int64)
    use_pop = np.zeros((len(zones), len(ALL_USE_GROUPS)))
    users = frame[frame["in_use"]]
    piece_zone = level.of_piece[users["piece"].to_numpy()] if len(users) else np.empty(0, dtype=np.int64)
    for u in range(len(ALL_USE_GROUPS)):
        per = np.bincount(piece_zone[users["use"].to_numpy() == u], minlength=len(level.codes))
        use_pop[:, u] = per[zones]
    for k, col in enumerate(COUNT_COLUMNS):
        out[col] = pd.array([None if np.isnan(v) else int(v) for v in values[:, k]], dtype="Int64")
    out["vacant_pct"] = _pct(values[:, 0], in_use)
    for u, col in enumerate(USE_COLUMNS):
        out[f"{col}_pct"] = _pct(values[:, 1 + u], use_pop[:, u])
    for d, col in enumerate(DURATION_COLUMNS):
        out[f"{col}_pct"] = _pct(values[:, 1 + len(USE_COLUMNS) + d], values[:, 0])
    gone = frame[frame["out_of_use"]]
    n_out = np.bincount(level.of_piece[gone["piece"].to_numpy()], minlength=len(level.codes))[zones] if len(gone) \
        else np.zeros(len(zones), dtype=np.int64)
    out["out_of_use"] = pd.array([safe_count(int(n), min_count, base) for n in n_out], dtype="Int64")
    return gpd.GeoDataFrame(out, geometry=list(level.geometry[zones]), crs=crs)
