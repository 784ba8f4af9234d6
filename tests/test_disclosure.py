"""Disclosure control (geo.disclosure): suppression, rounding, and the subtraction and difference attacks.

The attacks are checked against an exact attacker: an integer programme (scipy's HiGHS) that
holds every published cell as an interval and the public populations as bounds, and asks for
the fewest vacant addresses a region can hold. The audit of ``geo.disclosure`` (interval
propagation) must never let through what that attacker can prove.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp

from geo.disclosure import (
    COMPLEMENT,
    HIDDEN,
    PRIMARY,
    PUBLISHED,
    SECONDARY,
    Publication,
    Relation,
    attacker_bounds,
    disclosed,
    propagate,
    protect_table,
    round_to_base,
    safe_count,
    secondary_suppression,
    table_publication,
)


def exact_lower(pub: Publication, var: int, min_count: int = 5, base: int = 5) -> int:
    """Fewest vacant addresses an exact integer attacker can prove in variable ``var``."""
    lo, hi = attacker_bounds(pub, min_count, base)
    n = len(lo)
    c = np.zeros(n)
    c[var] = 1.0
    res = milp(c, constraints=[LinearConstraint(pub.constraints.toarray(), 0, 0)], integrality=np.ones(n),
               bounds=Bounds(lo, hi))
    assert res.status == 0, res.message
    return round(res.fun)


# -- safe_count and rounding ------------------------------------------------------------------------


@pytest.mark.parametrize(("n", "expected"), [(0, None), (1, None), (4, None), (5, 5), (7, 5), (8, 10),
                                             (12, 10), (13, 15), (100, 100), (102, 100), (103, 105)])
def test_safe_count_suppresses_below_five_and_rounds_to_fives(n: int, expected: int | None) -> None:
    assert safe_count(n) == expected


def test_safe_count_other_threshold_and_base() -> None:
    assert safe_count(9, min_count=10) is None
    assert safe_count(10, min_count=10, base=10) == 10
    assert safe_count(14, min_count=10, base=10) == 10
    assert safe_count(15, min_count=10, base=10) == 20  # halves go up
    assert safe_count(7, base=1) == 7
    assert round_to_base(2, 4) == 4 and round_to_base(1, 4) == 0
    with pytest.raises(ValueError, match="negative"):
        safe_count(-1)


# -- table rules ------------------------------------------------------------------------------------


def test_primary_and_complement_suppression() -> None:
    counts = pd.DataFrame({"vacant": [3, 5, 6, 40]}, index=["a", "b", "c", "d"])
    pops = pd.DataFrame({"vacant": [100, 100, 8, 44]}, index=counts.index)
    out = protect_table(counts, populations=pops)
    assert list(out.status["vacant"]) == [PRIMARY, PUBLISHED, COMPLEMENT, COMPLEMENT]
    assert out.values["vacant"].tolist() == [pd.NA, 5, pd.NA, pd.NA]


def test_subtraction_from_the_total_is_blocked_by_a_second_suppression() -> None:
    """total 9 (published 10: 8..12), dwellings 7 (published 5: 5..7), shops 2 (suppressed).

    Rounding alone does not protect: 8 - 7 proves at least one vacant shop. The rule suppresses
    the other part too (a part before its total); then nothing about the shops can be proven.
    """
    counts = pd.DataFrame({"total": [9], "woon": [7], "winkel": [2]}, index=["bu"])
    rel = Relation(("bu", "total"), (("bu", "woon"), ("bu", "winkel")))
    unprotected = protect_table(counts)
    assert unprotected.values.loc["bu"].tolist() == [10, 5, pd.NA]
    out = protect_table(counts, relations=[rel])
    assert out.status.loc["bu"].tolist() == [PUBLISHED, SECONDARY, PRIMARY]
    assert out.values.loc["bu"].tolist() == [10, pd.NA, pd.NA]
    # An exact attacker holding the table's one relation: total = dwellings + shops.
    for table, shops_lower in ((unprotected, 1), (out, 0)):
        assert exact_lower(table_publication(table, [rel]), 2) == shops_lower


def test_a_table_with_nested_relations_keeps_its_totals() -> None:
    """Two buurten in a municipality, each split in dwellings and shops: the shop counts stay hidden."""
    counts = pd.DataFrame({"total": [21, 8, 13], "woon": [20, 7, 13], "winkel": [1, 1, 0]},
                          index=["gm", "b1", "b2"])
    rels = [Relation((z, "total"), ((z, "woon"), (z, "winkel"))) for z in counts.index]
    rels += [Relation(("gm", c), (("b1", c), ("b2", c))) for c in counts.columns]
    out = protect_table(counts, relations=rels)
    assert out.values.at["gm", "total"] == 20 and out.values.at["b2", "total"] == 15
    assert out.status.at["b1", "winkel"] == PRIMARY
    pub = table_publication(out, rels)
    for var in np.flatnonzero(pub.status == PRIMARY):
        assert exact_lower(pub, int(var)) == 0  # no shop count is proven non-zero
    without = table_publication(protect_table(counts), rels)
    assert exact_lower(without, 1 * 3 + 2) == 1  # b1's shop, by 8..12 minus 5..7


# -- the audit: atoms, cells, regions ----------------------------------------------------------------


def _publication(cells: list[list[int]], truth: np.ndarray, cell_pops: list[float], atom_pops: np.ndarray,
                 priority: list[float], relations: tuple[tuple[int, list[int]], ...] = (),
                 min_count: int = 5, base: int = 5) -> Publication:
    """Variables: the atoms (hidden), then the cells; each cell is the sum of its atoms.

    ``relations`` adds (total cell, part cells) relations between cells (numbered from 0), as the
    layer adds those of its tables: the audit uses the relations it is given.
    """
    n_atoms, n_cells = len(truth), len(cells)
    r = np.repeat(np.arange(n_cells), [len(c) for c in cells])
    parts = sparse.csr_matrix((np.ones(len(r)), (r, np.concatenate(cells))), shape=(n_cells, n_atoms))
    extra = sparse.lil_matrix((len(relations), n_atoms + n_cells))
    for k, (total, members) in enumerate(relations):
        extra[k, n_atoms + total] = -1
        for m in members:
            extra[k, n_atoms + m] = 1
    constraints = sparse.vstack([sparse.hstack([parts, -sparse.identity(n_cells)]), extra]).tocsr()
    n = parts @ truth
    status = np.array([PRIMARY if v < min_count else (COMPLEMENT if p - v < min_count else PUBLISHED)
                       for v, p in zip(n, cell_pops, strict=True)], dtype=object)
    values = np.array([round_to_base(int(v), base) if s == PUBLISHED else np.nan
                       for v, s in zip(n, status, strict=True)])
    return Publication(
        constraints=constraints, values=np.r_[np.full(n_atoms, np.nan), values],
        status=np.r_[np.full(n_atoms, HIDDEN, dtype=object), status],
        populations=np.r_[atom_pops, cell_pops].astype(float),
        priority=np.r_[np.full(n_atoms, np.inf), priority].astype(float),
    )


def test_grid_versus_buurt_difference_attack() -> None:
    """A buurt = square A (inside it) + a sliver of square B holding one address, which is vacant.

    Buurt: 13 vacant (published 15: 13..17); square A: 12 vacant of 30 (published 10: 8..12).
    The sliver then holds at least 13 - 12 = 1 vacant address, and it has only one address:
    located. Square B itself (1 vacant of 21) is suppressed, which does not help.
    """
    atoms = np.array([12, 1, 0])  # A, sliver (B in the buurt), B outside the buurt
    cells = [[0, 1], [0], [1, 2]]  # buurt, square A, square B -> variables 3, 4, 5
    pub = _publication(cells, atoms, [31, 30, 21], np.array([30, 1, 20]), priority=[1, 0, 0])
    assert list(pub.values[3:5]) == [15, 10] and pub.status[5] == PRIMARY
    sliver = np.array([1])
    assert exact_lower(pub, 1) == 1  # the exact attacker locates it ...
    low, _, _ = propagate(pub.constraints, *attacker_bounds(pub))
    assert list(disclosed(pub, low, sliver)) == [1]  # ... and so does the audit
    assert secondary_suppression(pub, sliver) == 1
    assert pub.status[4] == SECONDARY  # the square, not the buurt, gives way
    assert pub.values[3] == 15
    assert exact_lower(pub, 1) == 0


def test_subtraction_across_geographies_and_columns() -> None:
    """Municipality = two buurten; a total minus its dwellings proves a vacant shop; checked exactly.

    Atoms: (buurt, use) for use in dwelling, shop; truth buurt 1: 7 dwellings + 1 shop vacant,
    buurt 2: 20 + 0. Populations: 50 dwellings, 3 shops per buurt.
    """
    truth = np.array([7, 1, 20, 0])
    cells = [[0, 1, 2, 3], [0, 2], [1, 3],  # municipality: total, dwellings, shops (variables 4, 5, 6)
             [0, 1], [0], [1],              # buurt 1 (7, 8, 9)
             [2, 3], [2], [3]]              # buurt 2 (10, 11, 12)
    pops = [106, 100, 6, 53, 50, 3, 53, 50, 3]
    relations = ((0, [1, 2]), (3, [4, 5]), (6, [7, 8]), (0, [3, 6]), (1, [4, 7]), (2, [5, 8]))
    pub = _publication(cells, truth, pops, np.array([50, 3, 50, 3]), priority=[2.5, 2, 2, 1.5, 1, 1, 1.5, 1, 1],
                       relations=relations)
    small = np.array([1, 6, 9, 12])  # the shop atom of buurt 1 and the cells suppressed as small
    assert exact_lower(pub, 9) == 1 and exact_lower(pub, 6) == 1  # 8..12 minus 5..7: a vacant shop
    assert secondary_suppression(pub, small) >= 1
    for var in range(len(pub.status)):
        assert exact_lower(pub, var) <= np.r_[truth, [sum(truth[c]) for c in cells]][var]
    for var in small:
        assert exact_lower(pub, var) == 0, var
    assert pub.status[7] == PUBLISHED and pub.status[4] == PUBLISHED  # the totals stay; parts give way


def test_propagation_is_a_relaxation_of_the_exact_attacker() -> None:
    """On random small publications the audit's proven bound never exceeds the exact one, nor the truth."""
    rng = np.random.default_rng(7)
    for _ in range(20):
        n_atoms = 6
        truth = rng.integers(0, 9, n_atoms)
        atom_pops = truth + rng.integers(0, 6, n_atoms)
        cells = [sorted(rng.choice(n_atoms, rng.integers(1, n_atoms + 1), replace=False).tolist()) for _ in range(5)]
        pub = _publication(cells, truth, [float(atom_pops[c].sum()) for c in cells], atom_pops, priority=[0] * 5)
        low, high, _ = propagate(pub.constraints, *attacker_bounds(pub))
        full = np.r_[truth, [truth[c].sum() for c in cells]]
        for v in range(len(full)):
            exact = exact_lower(pub, v)
            assert low[v] <= exact <= full[v] <= high[v]
