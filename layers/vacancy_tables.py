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
    HIDDEN,
    PRIMARY,
    PUBLISHED,
    Publication,
    protect_table,
    safe_count,
    secondary_suppression,
)
from geo.vacancy import ALL_USE_GROUPS, DURATION_CLASSES, LONG, MEDIUM, SHORT, UNKNOWN
from layers.dwellings import zone_index

#: Column suffix of each duration class.
DURATION_KEYS = {SHORT: "lt1y", MEDIUM: "1_3y", LONG: "gt3y", UNKNOWN: "unknown"}
#: Published count columns: all vacant, per use group, per duration class.
USE_COLUMNS = tuple(f"vacant_{g}" for g in ALL_USE_GROUPS)
DURATION_COLUMNS = tuple(f"vacant_{DURATION_KEYS[d]}" for d in DURATION_CLASSES)
COUNT_COLUMNS: tuple[str, ...] = ("vacant", *USE_COLUMNS, *DURATION_COLUMNS)
#: The output of layer ``vacancy`` with the CBS 100 m squares, and its count of vacant dwellings.
GRID_OUTPUT = "grid"
VACANT_DWELLINGS = "vacant_woonfunctie"
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
        "zone": zone, "gx": gx, "gy": gy, "vacant": vacant, "in_use": status["in_use"].to_numpy(dtype=bool),
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
    system = _system(levels, n_pieces, atom_count, piece_use_pop.reshape(-1, n_use))
    cell_vars = system.cell_vars.ravel()
    first = protect_table(
        pd.DataFrame(system.truth[system.cell_vars].astype(int), columns=list(COUNT_COLUMNS)),
        populations=pd.DataFrame(system.populations[system.cell_vars], columns=list(COUNT_COLUMNS)),
        min_count=min_count, base=base,
    )
    n_vars = len(system.truth)
    values = np.full(n_vars, np.nan)
    values[cell_vars] = first.values.to_numpy(dtype=float, na_value=np.nan).ravel()
    var_status = np.full(n_vars, HIDDEN, dtype=object)
    var_status[cell_vars] = first.status.to_numpy().ravel()
    priority = np.full(n_vars, np.inf)
    priority[cell_vars] = system.priority.ravel()
    pub = Publication(system.constraints, values, var_status, system.populations, priority)
    truth, pops = system.truth, system.populations
    possible = (truth >= 1) & ((var_status == PRIMARY) | (pops - truth < min_count))
    counts["cells_primary"] = int((var_status == PRIMARY).sum())
    counts["cells_complement"] = int((var_status == COMPLEMENT).sum())
    counts["cells_secondary"] = secondary_suppression(pub, np.flatnonzero(possible), min_count, base)
    counts["cells_published"] = int((pub.status == PUBLISHED).sum())
    counts["variables_audited"] = int(possible.sum())
    published = pub.values[system.cell_vars]
    in_use_pop = pops[system.cell_vars[:, 0]]
    tables: dict[str, gpd.GeoDataFrame] = {}
    at = 0
    for name, level in levels.items():
        n = len(level.published)
        tables[name] = _table(level, published[at:at + n], in_use_pop[at:at + n], frame, min_count, base, zones.crs)
        at += n
    return VacancyTables(tables, counts)


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


def _column_population(pop: np.ndarray, k: int, n_use: int) -> np.ndarray:
    """Addresses a count column could count, from addresses in use per use group (last axis)."""
    return pop[..., k - 1] if 1 <= k <= n_use else pop.sum(axis=-1)


@dataclass
class _System:
    """The counts as variables (atoms, pieces per column, published cells) and their relations.

    Attributes:
        constraints: +1/-1 rows summing to zero (``geo.disclosure.Publication``).
        truth: true count per variable.
        populations: addresses in use each variable could count.
        cell_vars: ``(cells, columns)`` variable index of each published cell, in table order.
        priority: ``(cells, columns)`` priority of each cell in secondary suppression.
    """

    constraints: sparse.csr_matrix
    truth: np.ndarray
    populations: np.ndarray
    cell_vars: np.ndarray
    priority: np.ndarray


class _Relations:
    """Collects relations ``total = sum(parts)`` as +1/-1 matrix rows."""

    def __init__(self) -> None:
        self.rows: list[np.ndarray] = []
        self.cols: list[np.ndarray] = []
        self.coef: list[np.ndarray] = []
        self.n = 0

    def add(self, totals: np.ndarray, parts: np.ndarray) -> None:
        """One relation per row: ``totals[r] = sum(parts[r, :])`` (variable indices)."""
        k = len(totals)
        ids = self.n + np.arange(k)
        self.rows += [ids, np.repeat(ids, parts.shape[1])]
        self.cols += [totals, parts.ravel()]
        self.coef += [-np.ones(k), np.ones(parts.size)]
        self.n += k

    def add_ragged(self, totals: np.ndarray, members: np.ndarray, group: np.ndarray) -> None:
        """``totals[g] = sum(members[group == g])`` for every g (groups may be empty)."""
        k = len(totals)
        ids = self.n + np.arange(k)
        self.rows += [ids, ids[group]]
        self.cols += [totals, members]
        self.coef += [-np.ones(k), np.ones(len(members))]
        self.n += k

    def matrix(self, n_vars: int) -> sparse.csr_matrix:
        r, c, v = (np.concatenate(x) if x else np.empty(0) for x in (self.rows, self.cols, self.coef))
        return sparse.csr_matrix((v, (r.astype(np.int64), c.astype(np.int64))), shape=(self.n, n_vars))


def _system(levels: dict[str, _Level], n_pieces: int, atom_count: np.ndarray, pop_piece: np.ndarray) -> _System:
    """Variables: atoms (piece x use x duration), pieces per column, cells per level zone and column.

    Relations: a piece's use-group count is the sum of its atoms over durations, its duration count
    the sum over use groups, its total the sum of either; a cell is the sum of its pieces; a zone's
    total the sum of its use groups and of its durations; a municipality the sum of its buurten.
    """
    n_use, n_dur, width = len(ALL_USE_GROUPS), len(DURATION_CLASSES), len(COUNT_COLUMNS)
    n_atoms = n_pieces * n_use * n_dur
    atom = np.arange(n_atoms).reshape(n_pieces, n_use, n_dur)
    piece_var = n_atoms + np.arange(n_pieces * width).reshape(n_pieces, width)
    zone_rows = [(name, int(z)) for name, level in levels.items() for z in level.published]
    cell_vars = n_atoms + n_pieces * width + np.arange(len(zone_rows) * width).reshape(-1, width)
    n_vars = int(cell_vars.max()) + 1 if len(zone_rows) else n_atoms + n_pieces * width
    rel = _Relations()
    use_cols, dur_cols = piece_var[:, 1:1 + n_use], piece_var[:, 1 + n_use:]
    rel.add(use_cols.ravel(), atom.reshape(-1, n_dur))
    rel.add(dur_cols.ravel(), atom.transpose(0, 2, 1).reshape(-1, n_use))
    rel.add(piece_var[:, 0], use_cols)
    rel.add(piece_var[:, 0], dur_cols)
    truth = np.zeros(n_vars)
    pops = np.zeros(n_vars)
    counts3 = atom_count.reshape(n_pieces, n_use, n_dur)
    truth[:n_atoms] = atom_count
    pops[:n_atoms] = np.repeat(pop_piece.ravel(), n_dur)
    piece_truth = np.column_stack([counts3.sum(axis=(1, 2)), counts3.sum(axis=2), counts3.sum(axis=1)])
    piece_pop = np.column_stack([_column_population(pop_piece, k, n_use) for k in range(width)])
    truth[piece_var] = piece_truth
    pops[piece_var] = piece_pop
    priority = np.zeros((len(zone_rows), width))
    row_of = {key: r for r, key in enumerate(zone_rows)}
    for name, level in levels.items():
        rows = np.array([row_of[(name, int(z))] for z in level.published], dtype=np.int64)
        if not len(rows):
            continue
        member = level.of_piece
        keep = np.isin(member, level.published)
        slot = np.searchsorted(level.published, member[keep])
        for k in range(width):
            rel.add_ragged(cell_vars[rows, k], piece_var[keep, k], slot)
            truth[cell_vars[rows, k]] = np.bincount(slot, weights=piece_truth[keep, k], minlength=len(rows))
            pops[cell_vars[rows, k]] = np.bincount(slot, weights=piece_pop[keep, k], minlength=len(rows))
        rel.add(cell_vars[rows, 0], cell_vars[rows, 1:1 + n_use])
        rel.add(cell_vars[rows, 0], cell_vars[rows, 1 + n_use:])
        priority[rows] = LEVELS[name]
        priority[rows, 0] += TOTAL_PRIORITY
    # A municipality is the sum of its buurten (redundant with the pieces, but it tightens propagation).
    gm_of_buurt = np.full(len(levels["buurt"].codes), -1, dtype=np.int64)
    gm_of_buurt[levels["buurt"].of_piece] = levels["gemeente"].of_piece
    buurt_rows = np.array([row_of[("buurt", int(z))] for z in levels["buurt"].published], dtype=np.int64)
    gm_rows = np.array([row_of[("gemeente", int(z))] for z in levels["gemeente"].published], dtype=np.int64)
    has = gm_of_buurt[levels["buurt"].published] >= 0
    for k in range(width):
        rel.add_ragged(cell_vars[gm_rows, k], cell_vars[buurt_rows[has], k],
                       np.searchsorted(levels["gemeente"].published, gm_of_buurt[levels["buurt"].published][has]))
    return _System(rel.matrix(n_vars), truth, pops, cell_vars, priority)


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


def published_vacant_dwellings(squares: gpd.GeoDataFrame, zones: np.ndarray) -> np.ndarray:
    """Vacant dwellings per zone, from the published squares of layer ``vacancy`` only.

    The sum of the published (rounded) :data:`VACANT_DWELLINGS` counts of the squares whose centre lies
    inside each zone (polygons, the squares' CRS); suppressed (null) squares count 0, so it is a lower
    bound. Made of published figures only, it discloses nothing they do not: a count of the addresses over
    zones that overlap (sites' discs, a site and its buffer) could be differenced to locate a vacant address.

    Returns:
        int64 per zone.
    """
    counts = np.nan_to_num(pd.to_numeric(squares[VACANT_DWELLINGS], errors="coerce").to_numpy(dtype=float))
    centres = shapely.centroid(np.asarray(squares.geometry.values, dtype=object))
    out: np.ndarray = np.zeros(len(zones))
    if len(centres) and len(zones):
        zone_i, square_i = shapely.STRtree(centres).query(np.asarray(zones, dtype=object), predicate="contains")
        out = np.bincount(zone_i, weights=counts[square_i], minlength=len(zones))
    return np.rint(out).astype(np.int64)
