"""Statistical disclosure control for published counts of persons' data (vacancy).

Rules (docs/method-vacancy.md, after CBS's rules for its neighbourhood figures):

1. *Primary suppression*: a count below ``min_count`` is not published (null).
2. *Complement suppression*: a count whose population (the addresses it could be, known from
   the open BAG) holds fewer than ``min_count`` others is not published either: "5 of the 6
   addresses here are vacant" locates them as well as a count of 1 does.
3. *Rounding*: a published count is rounded to a multiple of ``base`` (half up).
4. *Secondary suppression*: where a total is the sum of parts (all vacant = the sum over use
   groups; a municipality = the sum of its buurten), the published total and parts must not
   let anyone prove that a suppressed part holds a vacant address that hides among fewer than
   ``min_count`` possibly occupied ones, nor that a part suppressed as small is not zero (which
   would recover it). Where they would, the smallest published part is
   suppressed too, and again, until every relation is safe (:func:`protect_table`).

An attacker is modelled by intervals: a published ``v`` means the true count lies in
``[v - base//2, v + base - 1 - base//2]`` (and at least ``min_count``); a suppressed count lies in
``[0, population]`` (the attacker cannot tell why it was suppressed). :func:`unsafe_parts`
gives what such an attacker can prove from one relation.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

#: Default threshold and rounding base (CBS, Kerncijfers wijken en buurten).
MIN_COUNT = 5
BASE = 5
#: Status of a cell in a protected table.
PUBLISHED, PRIMARY, COMPLEMENT, SECONDARY = "published", "primary", "complement", "secondary"

Cell = tuple[Hashable, str]


def round_to_base(n: int, base: int = BASE) -> int:
    """``n`` rounded to the nearest multiple of ``base``, halves up (12 -> 10, 13 -> 15 for base 5)."""
    if base < 1:
        raise ValueError(f"base must be at least 1, got {base}")
    return int((int(n) + base // 2) // base * base)


def safe_count(n: int, min_count: int = MIN_COUNT, base: int = BASE) -> int | None:
    """A count as it may be published: None below ``min_count``, else rounded to a multiple of ``base``.

    Args:
        n: the true count (>= 0).
        min_count: smallest count published.
        base: rounding base (1: no rounding).
    """
    if n < 0:
        raise ValueError(f"a count cannot be negative, got {n}")
    if n < min_count:
        return None
    return round_to_base(n, base)


def published_interval(value: int | None, population: float, min_count: int = MIN_COUNT,
                       base: int = BASE) -> tuple[float, float]:
    """What an attacker knows of the true count behind a published cell.

    Args:
        value: the published value, None when suppressed.
        population: addresses the count could be made of (inf when unknown).
        min_count: the suppression threshold.
        base: the rounding base.

    Returns:
        (lowest, highest) possible true count.
    """
    if value is None:
        return 0.0, float(population)
    lo, hi = float(value - base // 2), float(value + base - 1 - base // 2)
    return max(lo, float(min_count)), min(hi, float(population))


def is_disclosive(lower: float, population: float, min_count: int = MIN_COUNT) -> bool:
    """Whether proving ``lower`` vacant addresses among ``population`` locates a vacant address.

    It does when at least one is proven vacant and fewer than ``min_count`` of the population can be
    occupied: the vacant one then hides among fewer than ``min_count`` others.
    """
    return lower >= 1 and population - lower < min_count


@dataclass(frozen=True)
class Relation:
    """An additive relation between cells of a table: ``total = sum(parts)``.

    Attributes:
        total: (row, column) of the total.
        parts: (row, column) of each part.
    """

    total: Cell
    parts: tuple[Cell, ...]


@dataclass
class ProtectedTable:
    """A table after disclosure control.

    Attributes:
        values: the publishable counts (``Int64``, <NA> where suppressed), same shape as the input.
        status: per cell ``published``, ``primary``, ``complement`` or ``secondary``.
    """

    values: pd.DataFrame
    status: pd.DataFrame


def protect_table(
    counts: pd.DataFrame,
    *,
    populations: pd.DataFrame | None = None,
    relations: Sequence[Relation] = (),
    complement: Sequence[str] | None = None,
    min_count: int = MIN_COUNT,
    base: int = BASE,
) -> ProtectedTable:
    """Primary, complement and secondary suppression plus rounding of a table of counts.

    Args:
        counts: true counts (non-negative integers); rows are zones, columns categories.
        populations: per cell the number of addresses the count could be made of (public, from the
            BAG), same index and columns as ``counts`` (missing cells: unknown, no complement rule).
        relations: additive relations whose cells the secondary suppression keeps safe.
        complement: columns the complement rule applies to (default: every column with a population).
        min_count: counts below this are suppressed.
        base: published counts are rounded to multiples of this.

    Returns:
        the protected values and each cell's status.
    """
    if (counts.to_numpy() < 0).any():
        raise ValueError("counts cannot be negative")
    pops = _populations(counts, populations)
    status = pd.DataFrame(PUBLISHED, index=counts.index, columns=counts.columns, dtype=object)
    status[counts < min_count] = PRIMARY
    cols = list(counts.columns) if complement is None else list(complement)
    for col in cols:
        small = (pops[col] - counts[col] < min_count) & (status[col] == PUBLISHED)
        status.loc[small, col] = COMPLEMENT
    rounded = counts.map(lambda n: round_to_base(int(n), base))
    changed = True
    while changed:
        changed = False
        for rel in relations:
            if _secondary(rel, rounded, status, pops, min_count, base):
                changed = True
    values = rounded.astype("Int64").where(status == PUBLISHED)
    return ProtectedTable(values=values, status=status)


def _populations(counts: pd.DataFrame, populations: pd.DataFrame | None) -> pd.DataFrame:
    inf = pd.DataFrame(np.inf, index=counts.index, columns=counts.columns)
    if populations is None:
        return inf
    return populations.reindex(index=counts.index, columns=counts.columns).astype(float).fillna(np.inf)


def _interval(cell: Cell, rounded: pd.DataFrame, status: pd.DataFrame, pops: pd.DataFrame,
              min_count: int, base: int) -> tuple[float, float]:
    row, col = cell
    value = None if status.at[row, col] != PUBLISHED else int(rounded.at[row, col])
    return published_interval(value, float(pops.at[row, col]), min_count, base)


def _secondary(rel: Relation, rounded: pd.DataFrame, status: pd.DataFrame, pops: pd.DataFrame,
               min_count: int, base: int) -> bool:
    """Suppress cells of ``rel`` until no suppressed part can be proven to locate a vacant address."""
    changed = False
    while unsafe_parts(rel, rounded, status, pops, min_count, base):
        published = [p for p in rel.parts if status.at[p] == PUBLISHED]
        if published:
            smallest = min(published, key=lambda p: (rounded.at[p], str(p)))
            status.at[smallest] = SECONDARY
        elif status.at[rel.total] == PUBLISHED:
            status.at[rel.total] = SECONDARY
        else:  # pragma: no cover - every cell suppressed: nothing left to prove
            break
        changed = True
    return changed


def unsafe_parts(rel: Relation, rounded: pd.DataFrame, status: pd.DataFrame, pops: pd.DataFrame,
                 min_count: int = MIN_COUNT, base: int = BASE) -> list[tuple[Cell, ...]]:
    """The suppressed parts (alone, and all together) of ``rel`` whose vacancy its published cells prove.

    Returns:
        each disclosed group of parts (empty when the relation is safe).
    """
    iv = {c: _interval(c, rounded, status, pops, min_count, base) for c in (rel.total, *rel.parts)}
    hidden = [p for p in rel.parts if status.at[p] != PUBLISHED]
    if not hidden:
        return []
    groups: list[tuple[Cell, ...]] = [(p,) for p in hidden]
    if len(hidden) > 1:
        groups.append(tuple(hidden))
    out = []
    for group in groups:
        others = sum(iv[p][1] for p in rel.parts if p not in group)
        lower = iv[rel.total][0] - others
        population = sum(float(pops.at[p]) for p in group)
        # A lone small count is recovered as soon as it is proven non-zero; any group is unsafe when it
        # locates a vacant address (is_disclosive).
        recovered = len(group) == 1 and status.at[group[0]] == PRIMARY and lower >= 1
        if recovered or is_disclosive(lower, population, min_count):
            out.append(group)
    return out



# -- audit: what an attacker can prove from every published cell at once --------------------------------


@dataclass
class Publication:
    """Published cells as linear constraints over *atoms*, the finest pieces anyone could ask about.

    An atom is, e.g., the vacant addresses of one use group and one duration class in one piece of
    the map (a 100 m square cut by the buurt borders). Each published cell counts the atoms in its row.

    Attributes:
        rows: ``(cells, atoms)`` 0/1 matrix: which atoms each published cell counts.
        values: the published value per cell (NaN where suppressed).
        status: per cell ``published`` / ``primary`` / ``complement`` / ``secondary``.
        populations: per cell the addresses it could count (public, from the BAG).
        suppressible: per cell whether secondary suppression may choose it.
        priority: per cell; secondary suppression picks the cell of the lowest priority first
            (e.g. 0 grid squares, 1 buurten, 2 municipalities).
        atom_populations: per atom the addresses it could count (an attacker knows them).
        known_rows: ``(k, atoms)`` 0/1 matrix of further public facts: the atoms of each row
            count at most ``known_populations`` (e.g. the addresses of one use group in one piece).
        known_populations: the bound of each known row.
    """

    rows: sparse.csr_matrix
    values: np.ndarray
    status: np.ndarray
    populations: np.ndarray
    suppressible: np.ndarray
    priority: np.ndarray
    atom_populations: np.ndarray
    known_rows: sparse.csr_matrix
    known_populations: np.ndarray


@dataclass
class Regions:
    """Regions an attacker may try to prove vacancy in: sets of atoms with their populations.

    Attributes:
        atoms: ``(regions, atoms)`` 0/1 matrix.
        populations: addresses each region holds (public).
        small: whether the region is a cell suppressed as small (recovered once proven non-zero).
        labels: a name per region, for reports.
    """

    atoms: sparse.csr_matrix
    populations: np.ndarray
    small: np.ndarray
    labels: list[str]


#: Largest number of propagation sweeps (each tightens every bound at least once, or it stops).
MAX_SWEEPS = 200
_EPS = 1e-9


def attacker_rows(pub: Publication, min_count: int = MIN_COUNT,
                  base: int = BASE) -> tuple[sparse.csr_matrix, np.ndarray, np.ndarray]:
    """Every constraint an attacker holds: published cells as intervals, then the known rows."""
    published = pub.status == PUBLISHED
    half_lo, half_hi = base // 2, base - 1 - base // 2
    lo = np.where(published, np.maximum(pub.values - half_lo, min_count), 0.0)
    hi = np.where(published, np.minimum(pub.values + half_hi, pub.populations), pub.populations)
    rows = sparse.vstack([pub.rows, pub.known_rows]).tocsr()
    return rows, np.r_[lo, np.zeros(len(pub.known_populations))], np.r_[hi, pub.known_populations]


def propagate(rows: sparse.csr_matrix, lo: np.ndarray, hi: np.ndarray,
              atom_hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bounds on every atom that the constraints ``lo <= rows @ x <= hi``, ``0 <= x <= atom_hi`` imply.

    Interval propagation over integers: each constraint bounds each of its atoms by its limit minus
    the others' opposite bounds, rounded inwards, sweep after sweep until nothing changes. It proves
    less than an exact integer programme could, never more.

    Returns:
        (lowest, highest) count per atom.
    """
    coo = rows.tocoo()
    r, j = coo.row, coo.col
    low = np.zeros(rows.shape[1])
    high = np.asarray(atom_hi, dtype=float).copy()
    for _ in range(MAX_SWEEPS):
        sum_lo, sum_hi = rows @ low, rows @ high
        cand_lo = np.full_like(low, -np.inf)
        cand_hi = np.full_like(high, np.inf)
        np.maximum.at(cand_lo, j, lo[r] - (sum_hi[r] - high[j]))
        np.minimum.at(cand_hi, j, hi[r] - (sum_lo[r] - low[j]))
        new_lo = np.maximum(low, np.ceil(cand_lo - _EPS))
        new_hi = np.minimum(high, np.floor(cand_hi + _EPS))
        if np.array_equal(new_lo, low) and np.array_equal(new_hi, high):
            break
        low, high = new_lo, new_hi
    return low, high


def region_lower(rows: sparse.csr_matrix, lo: np.ndarray, regions: sparse.csr_matrix, low: np.ndarray,
                 high: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lowest count an attacker can prove in each region, and the constraint that proves it.

    A region's count is at least the sum of its atoms' lower bounds, and for every constraint that
    holds the whole region, that constraint's lower limit minus the highest count of its other atoms.

    Returns:
        (lower bound per region, index of the proving row or -1 where the atoms' own bounds prove it).
    """
    lower = regions @ low
    binding = np.full(regions.shape[0], -1, dtype=np.int64)
    size = np.asarray(regions.sum(axis=1)).ravel()
    overlap = (rows @ regions.T).tocoo()
    contains = overlap.data >= size[overlap.col] - _EPS
    rr, qq = overlap.row[contains], overlap.col[contains]
    bound = lo[rr] - ((rows @ high)[rr] - (regions @ high)[qq])
    order = np.argsort(bound, kind="stable")
    best = np.full(regions.shape[0], -np.inf)
    best_row = np.full(regions.shape[0], -1, dtype=np.int64)
    best[qq[order]] = bound[order]  # the last write per region is its largest bound
    best_row[qq[order]] = rr[order]
    better = best > lower + _EPS
    lower = np.where(better, best, lower)
    binding[better] = best_row[better]
    return np.ceil(lower - _EPS), binding


def unsafe_regions(pub: Publication, regions: Regions, min_count: int = MIN_COUNT,
                   base: int = BASE) -> tuple[np.ndarray, np.ndarray]:
    """The regions whose vacancy the publication discloses, and the row proving each.

    A region is disclosed when it was suppressed as small and is proven non-zero, or when it holds
    a proven vacant address among fewer than ``min_count`` possibly occupied ones (:func:`is_disclosive`).

    Returns:
        (indices of the disclosed regions, the proving row of each: see :func:`region_lower`).
    """
    rows, lo, hi = attacker_rows(pub, min_count, base)
    low, high = propagate(rows, lo, hi, pub.atom_populations)
    lower, binding = region_lower(rows, lo, regions.atoms, low, high)
    located = (lower >= 1) & (regions.populations - lower < min_count)
    bad = np.flatnonzero(located | (regions.small & (lower >= 1)))
    return bad, binding[bad]


def secondary_suppression(pub: Publication, regions: Regions, min_count: int = MIN_COUNT,
                          base: int = BASE, max_rounds: int = 1000) -> int:
    """Suppress published cells (in place) until no region is disclosed; returns how many.

    For each disclosed region the row that proves it is looked at: where it may be suppressed and
    has the lowest priority of the candidates it is suppressed; otherwise the published cell of
    lowest priority (then the smallest value) among those counting the proving row's other atoms,
    whose highs made the proof possible. Every round suppresses at least one cell, so this ends.

    Raises:
        RuntimeError: when a disclosure cannot be broken (nothing left to suppress).
    """
    done = 0
    for _ in range(max_rounds):
        bad, binding = unsafe_regions(pub, regions, min_count, base)
        if len(bad) == 0:
            return done
        chosen: set[int] = set()
        for q, row in zip(bad, binding, strict=True):
            pick = _cell_to_suppress(pub, regions.atoms[q], int(row))
            if pick is None:
                raise RuntimeError(f"disclosure of {regions.labels[q]} cannot be broken by suppression")
            chosen.add(pick)
        for cell in chosen:
            pub.status[cell] = SECONDARY
            pub.values[cell] = np.nan
        done += len(chosen)
    raise RuntimeError(f"secondary suppression did not converge in {max_rounds} rounds")


def _cell_to_suppress(pub: Publication, region: sparse.csr_matrix, row: int) -> int | None:
    """The published cell to suppress so that ``row`` no longer proves vacancy in ``region``."""
    n_cells = len(pub.status)
    open_cells = (pub.status == PUBLISHED) & pub.suppressible
    region_atoms = region.toarray().ravel() > 0
    own = 0 <= row < n_cells
    # Proven by the atoms' own bounds (or a known row): every cell counting the region's atoms may help.
    others = (pub.rows[row].toarray().ravel() > 0) & ~region_atoms if own else region_atoms
    touching = np.asarray(pub.rows[:, np.flatnonzero(others)].sum(axis=1)).ravel() > 0
    candidates = np.flatnonzero(open_cells & (touching | (np.arange(n_cells) == row)))
    if len(candidates) == 0:
        return None
    # Lowest priority first; at equal priority the proving row itself, then the smallest value.
    key = np.lexsort((pub.values[candidates], candidates != row, pub.priority[candidates]))
    return int(candidates[key[0]])
