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
``[0, population]`` (the attacker cannot tell why it was suppressed). What the attacker can
prove by combining relations is found by interval propagation (:func:`propagate`), and
:func:`secondary_suppression` suppresses cells until nothing is disclosed; :func:`protect_table`
does all four steps for one table with its relations.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

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


def is_disclosive(lower: Any, population: Any, min_count: int = MIN_COUNT) -> Any:
    """Whether proving ``lower`` vacant addresses among ``population`` locates a vacant address.

    It does when at least one is proven vacant and fewer than ``min_count`` of the population can be
    occupied: the vacant one then hides among fewer than ``min_count`` others. Works on numbers and arrays.
    """
    lower, population = np.asarray(lower, dtype=float), np.asarray(population, dtype=float)
    return (lower >= 1) & (population - lower < min_count)


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
    if relations:
        _secondary(counts, rounded, status, pops, relations, cols, min_count, base)
    values = rounded.astype("Int64").where(status == PUBLISHED)
    return ProtectedTable(values=values, status=status)


#: Stands in for an unknown population (no complement rule, no bound an attacker could use).
UNKNOWN_POPULATION = 1e12


def _populations(counts: pd.DataFrame, populations: pd.DataFrame | None) -> pd.DataFrame:
    unknown = pd.DataFrame(UNKNOWN_POPULATION, index=counts.index, columns=counts.columns)
    if populations is None:
        return unknown
    given = populations.reindex(index=counts.index, columns=counts.columns).astype(float)
    return given.fillna(UNKNOWN_POPULATION)


def table_publication(table: ProtectedTable, relations: Sequence[Relation],
                      populations: pd.DataFrame | None = None, rounded: pd.DataFrame | None = None,
                      complement: Sequence[str] | None = None) -> Publication:
    """A protected table and its relations as the attacker's :class:`Publication` (one variable per cell).

    Args:
        table: the cells' statuses (and values, unless ``rounded`` gives them for every cell).
        relations: the table's additive relations.
        populations: per cell the addresses it could count (unknown: :data:`UNKNOWN_POPULATION`).
        rounded: rounded counts of every cell (the published values are taken where published).
        complement: the columns the complement rule applied to (None: all).

    A cell that is the total of more relations gets a higher priority (suppressed later).
    """
    status = table.status
    n_rows, n_cols = status.shape
    row_at = {r: i for i, r in enumerate(status.index)}
    col_at = {c: j for j, c in enumerate(status.columns)}

    def var(cell: Cell) -> int:
        return row_at[cell[0]] * n_cols + col_at[cell[1]]

    r_idx, c_idx, coef = [], [], []
    priority = np.zeros(n_rows * n_cols)
    for k, rel in enumerate(relations):
        r_idx += [k] * (1 + len(rel.parts))
        c_idx += [var(rel.total), *(var(p) for p in rel.parts)]
        coef += [-1.0] + [1.0] * len(rel.parts)
        priority[var(rel.total)] += 1
    constraints = sparse.csr_matrix((coef, (r_idx, c_idx)), shape=(len(relations), n_rows * n_cols))
    flat_status = status.to_numpy().ravel().astype(object)
    source = table.values if rounded is None else rounded
    values = np.where(flat_status == PUBLISHED, source.to_numpy(dtype=float, na_value=np.nan).ravel(), np.nan)
    pops = _populations(status, populations).to_numpy(dtype=float).ravel()
    ruled = None
    if complement is not None:
        ruled = np.tile(np.isin(np.asarray(status.columns, dtype=object), list(complement)), n_rows)
    return Publication(constraints, values, flat_status, pops, priority, ruled)


def _secondary(counts: pd.DataFrame, rounded: pd.DataFrame, status: pd.DataFrame, pops: pd.DataFrame,
               relations: Sequence[Relation], complement: Sequence[str], min_count: int, base: int) -> None:
    """Secondary suppression of a table by the audit (:func:`secondary_suppression`), in place in ``status``."""
    pub = table_publication(ProtectedTable(rounded, status), relations, pops, rounded, complement)
    truth = counts.to_numpy(dtype=float).ravel()
    possible = (truth >= 1) & ((pub.status == PRIMARY) | (pub.populations - truth < min_count))
    secondary_suppression(pub, np.flatnonzero(possible), min_count, base)
    status[:] = pub.status.reshape(status.shape)


# -- audit: what an attacker can prove from every published cell at once --------------------------------

#: Status of a variable of a :class:`Publication` that is not a published cell (a piece, an atom).
HIDDEN = "hidden"


@dataclass
class Publication:
    """What an attacker holds: counts as variables, tied by additive relations, some published.

    Variables are the published cells (zone x column), the unpublished pieces they are made of
    (e.g. one 100 m square cut by the buurt borders, per column) and the atoms (piece x use group
    x duration class). Each relation says that a count is the sum of others, e.g. a buurt's
    count is the sum of its pieces' counts and a piece's total the sum of its use groups.

    Attributes:
        constraints: ``(relations, variables)`` matrix of +1/-1; each row sums to zero (a total
            with -1, its parts with +1).
        values: published value per variable (NaN: not published).
        status: per variable ``published``, ``primary``, ``complement``, ``secondary`` or ``hidden``.
        populations: per variable the addresses it could count (public, from the BAG).
        priority: per variable; secondary suppression takes the published cell of the lowest
            priority first (``inf``: never, e.g. hidden variables).
        complement: per variable whether the complement rule applied to it (then a published value
            also tells that at least ``min_count`` of its population are not vacant); None: to all.
    """

    constraints: sparse.csr_matrix
    values: np.ndarray
    status: np.ndarray
    populations: np.ndarray
    priority: np.ndarray
    complement: np.ndarray | None = None


#: Largest number of propagation sweeps (each tightens some bound, or propagation stops).
MAX_SWEEPS = 500
_EPS = 1e-9


def attacker_bounds(pub: Publication, min_count: int = MIN_COUNT, base: int = BASE) -> tuple[np.ndarray, np.ndarray]:
    """What an attacker knows of each variable before combining relations.

    A published value ``v`` means ``[max(v - base//2, min_count), min(v + base - 1 - base//2, population)]``,
    and where the complement rule applied, at most ``population - min_count`` (the attacker knows the
    rules); anything else means ``[0, population]`` (the attacker cannot tell why a cell was suppressed).
    """
    published = pub.status == PUBLISHED
    vals = np.nan_to_num(pub.values, nan=0.0)
    lo = np.where(published, np.maximum(vals - base // 2, min_count), 0.0)
    hi = np.where(published, np.minimum(vals + base - 1 - base // 2, pub.populations), pub.populations)
    ruled = published if pub.complement is None else published & pub.complement
    hi = np.where(ruled, np.minimum(hi, pub.populations - min_count), hi)
    return lo, hi.astype(float)


def propagate(constraints: sparse.csr_matrix, lo: np.ndarray, hi: np.ndarray,
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bounds on every variable that the relations imply, by interval propagation over integers.

    Each relation ``sum(a_j v_j) = 0`` bounds each of its variables by the others' bounds; bounds are
    rounded inwards (counts are integers), sweep after sweep until nothing changes. This proves
    less than an exact integer programme could, never more (tests/test_disclosure.py checks both).

    Returns:
        (lowest, highest) per variable, and ``(2, variables)``: the relation that last raised its
        lower bound and the one that last lowered its upper bound (-1: its own interval).
    """
    coo = constraints.tocoo()
    c, i, a = coo.row, coo.col, coo.data
    low, high = lo.astype(float).copy(), hi.astype(float).copy()
    proof = np.full((2, len(low)), -1, dtype=np.int64)
    n_rel = constraints.shape[0]
    for _ in range(MAX_SWEEPS):
        t_min = np.where(a > 0, a * low[i], a * high[i])
        t_max = np.where(a > 0, a * high[i], a * low[i])
        s_min = np.bincount(c, weights=t_min, minlength=n_rel)
        s_max = np.bincount(c, weights=t_max, minlength=n_rel)
        rest_min, rest_max = s_min[c] - t_min, s_max[c] - t_max
        cand_lo = np.where(a > 0, -rest_max, rest_min)
        cand_hi = np.where(a > 0, -rest_min, rest_max)
        best_lo = np.full(len(low), -np.inf)
        np.maximum.at(best_lo, i, cand_lo)
        best_hi = np.full(len(high), np.inf)
        np.minimum.at(best_hi, i, cand_hi)
        new_lo = np.maximum(low, np.ceil(best_lo - _EPS))
        new_hi = np.minimum(high, np.floor(best_hi + _EPS))
        raised, lowered = new_lo > low, new_hi < high
        if not raised.any() and not lowered.any():
            break
        for k, (changed, cand) in enumerate(((raised, cand_lo), (lowered, -cand_hi))):
            if changed.any():
                order = np.argsort(cand, kind="stable")
                arg = np.full(len(low), -1, dtype=np.int64)
                arg[i[order]] = c[order]  # the last write per variable is its best candidate
                proof[k, changed] = arg[changed]
        low, high = new_lo, new_hi
    return low, high, proof


def disclosed(pub: Publication, low: np.ndarray, candidates: np.ndarray, min_count: int = MIN_COUNT) -> np.ndarray:
    """Which of the ``candidates`` (variable indices) the bounds ``low`` disclose.

    A cell suppressed as small is disclosed once proven non-zero; any variable is disclosed when it
    holds a proven vacant address among fewer than ``min_count`` possibly occupied ones
    (:func:`is_disclosive`).
    """
    lower = low[candidates]
    small = pub.status[candidates] == PRIMARY
    located = is_disclosive(lower, pub.populations[candidates], min_count)
    return candidates[located | (small & (lower >= 1))]


def secondary_suppression(pub: Publication, candidates: np.ndarray, min_count: int = MIN_COUNT,
                          base: int = BASE, max_rounds: int = 10_000) -> int:
    """Suppress published cells (in place) until no candidate variable is disclosed; returns how many.

    For each disclosed variable the proof is followed back (the relation that raised its lower
    bound, then those that raised the bounds it used), and the published cell of the lowest
    priority met on the way, then of the smallest value, is suppressed. Every round suppresses at
    least one cell, so this ends.

    Args:
        candidates: the variables to keep undisclosed (only those whose truth makes a disclosure
            possible need to be given: a proven lower bound never exceeds the truth).

    Raises:
        RuntimeError: when a disclosure cannot be broken (no published cell in its proof).
    """
    done = 0
    for _ in range(max_rounds):
        lo, hi = attacker_bounds(pub, min_count, base)
        low, _, proof = propagate(pub.constraints, lo, hi)
        bad = disclosed(pub, low, candidates, min_count)
        if len(bad) == 0:
            return done
        chosen = {_cell_to_suppress(pub, int(v), proof) for v in bad}
        if None in chosen:
            raise RuntimeError("a disclosure cannot be broken by suppression")
        for cell in chosen:
            pub.status[cell] = SECONDARY
            pub.values[cell] = np.nan
        done += len(chosen)
    raise RuntimeError(f"secondary suppression did not converge in {max_rounds} rounds")


#: How many relations back a proof is followed when choosing the cell to suppress.
PROOF_DEPTH = 6


def _cell_to_suppress(pub: Publication, var: int, proof: np.ndarray) -> int | None:
    """The published cell in the proof of ``var``'s lower bound to suppress (None: none).

    The proof is followed back breadth first through the relations that set the bounds used, up to
    ``PROOF_DEPTH`` relations; of the published cells met, the one of the lowest priority is taken,
    then the one met first, then the smallest value.
    """
    csr = pub.constraints
    depth = {var: 0}
    frontier = [var]
    for d in range(1, PROOF_DEPTH + 1):
        nxt: list[int] = []
        for v in frontier:
            for rel in {int(proof[0, v]), int(proof[1, v])} - {-1}:
                for u in csr.indices[csr.indptr[rel]:csr.indptr[rel + 1]]:
                    if int(u) not in depth:
                        depth[int(u)] = d
                        nxt.append(int(u))
        frontier = nxt
        if not frontier:
            break
    met = np.array([v for v in depth if pub.status[v] == PUBLISHED and np.isfinite(pub.priority[v])],
                   dtype=np.int64)
    if len(met) == 0:
        return None
    key = np.lexsort((pub.values[met], np.array([depth[int(v)] for v in met]), pub.priority[met]))
    return int(met[key[0]])
