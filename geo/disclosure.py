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

