"""Street grids and plots: residential districts and the business park.

A district is a polygon with its own local frame (see ``base.Frame``). Long
streets run along ``u`` every ``pitch`` metres; each row of blocks between
two long streets gets cross streets every ``spacing`` metres, staggered per
row so most junctions are T-junctions. A block has two rows of plots, one
facing each long street. Plots are built in the local frame as rectangles
(plot, building, driveway, terrace) and mapped to the region in one call;
blocks cut by the district edge keep only plots that still hold their
building and most of their land.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import numpy as np
import shapely

from geo.demo.base import Building, Frame, Town, hlines, rects, vlines

#: A plot clipped by the district edge is kept when at least this share of its land remains.
MIN_CLIPPED_SHARE = 0.6
#: Grid streets shorter than this (m) are dropped; longer runs than PARALLEL_MAX_M along a bounding road are cut.
MIN_STREET_M = 15.0
PARALLEL_MAX_M = 25.0
#: Terraced houses: unit width (m), houses per row, side path at both ends of a row (m).
TERRACED_WIDTH = (5.1, 6.3)
TERRACED_COUNT = (4, 8)
SIDE_PATH_M = 1.2
#: Semi-detached: plot width, house width (m). Detached: plot width, house width (m).
SEMI_PLOT = (8.5, 11.0)
SEMI_HOUSE = (6.0, 7.5)
DETACHED_PLOT = (15.0, 24.0)
DETACHED_HOUSE = (8.5, 12.0)
DRIVEWAY_M = 3.0
#: Plot depth (m) of ribbon houses along the old roads.
ROW_RIBBON_DEPTH = (30.0, 40.0)
#: Per house type: depth (m), front setback (m), terrace depth (m), height (m), floors for floor area.
HOUSE = {
    "terraced": ((8.5, 10.5), (3.0, 6.0), 3.0, (8.0, 9.5), 2.4),
    "semi": ((9.0, 11.0), (4.0, 7.0), 3.5, (8.0, 9.8), 2.4),
    "detached": ((9.0, 12.0), (5.0, 9.0), 4.0, (6.5, 10.0), 1.9),
}
#: Usable share of gross floor area (BAG gebruiksoppervlakte vs. footprint x floors).
USABLE_SHARE = 0.82
#: Business lots: frontage (m), side gap (m), setback (m), hall depth (m), office depth/width (m), heights (m).
LOT_WIDTH = (35.0, 75.0)
LOT_SIDE = (4.0, 8.0)
LOT_SETBACK = (8.0, 14.0)
HALL_DEPTH = (25.0, 45.0)
OFFICE_DEPTH = (8.0, 12.0)
OFFICE_WIDTH = (12.0, 20.0)
HALL_HEIGHT = (8.0, 14.0)
OFFICE_HEIGHT = (7.0, 10.0)
#: Green strip (m) along the front of a business lot.
LOT_GREEN_M = 2.5


@dataclass
class Plots:
    """Plots of one district in local row coordinates before mapping.

    Every list holds one entry per rectangle; ``plot`` indexes the owning plot.
    """

    plot: list[tuple[float, float, float, float]] = field(default_factory=list)
    building: list[tuple[float, float, float, float, int]] = field(default_factory=list)
    paved: list[tuple[float, float, float, float, int]] = field(default_factory=list)
    info: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Grid:
    """The street grid of one district.

    Attributes:
        frame: local frame.
        pitch: distance (m) between long streets.
        spacing: distance (m) between cross streets.
        setback: distance (m) from a street centreline to the plots.
        kind: street kind of the grid streets.
        skip_v0: leave out the long street at ``v = 0`` (an existing road runs there).
    """

    frame: Frame
    pitch: float
    spacing: float
    setback: float
    kind: str
    skip_v0: bool = False


def block_rects(town: Town, zone: Any, grid: Grid, rng: np.random.Generator, green: Any = None,
                band: Any = None) -> list[tuple[float, ...]]:
    """Lay the grid streets of ``zone`` and return its blocks as local ``(u0, u1, v0, v1)``.

    Args:
        green: where grid streets become footpaths (a stream corridor, a park).
        band: strip along the district's bounding roads; a grid street running
            inside it for more than ``PARALLEL_MAX_M`` is cut back so two roads
            never run side by side.
    """
    f = grid.frame
    umin, vmin, umax, vmax = f.local_bounds(zone)
    k0, k1 = int(np.floor(vmin / grid.pitch)), int(np.ceil(vmax / grid.pitch))
    vs = np.arange(k0, k1 + 1) * grid.pitch
    long = hlines(np.full(len(vs), umin - 1), np.full(len(vs), umax + 1), vs, f.lattice)
    keep = ~(grid.skip_v0 & (np.abs(vs) < 1e-6))
    streets = [long[keep]]
    blocks: list[tuple[float, ...]] = []
    for va, vb in pairwise(vs):
        us = umin - rng.uniform(0, grid.spacing) + np.arange(0, umax - umin + 2 * grid.spacing, grid.spacing)
        streets.append(vlines(us, np.full(len(us), va), np.full(len(us), vb)))
        blocks += [(a + grid.setback, b - grid.setback, va + grid.setback, vb - grid.setback)
                   for a, b in pairwise(us)]
    lines = shapely.get_parts(shapely.intersection(f.world(np.concatenate(streets)), zone))
    if band is not None:
        parallel = shapely.length(shapely.intersection(lines, band)) > PARALLEL_MAX_M
        lines = np.concatenate([lines[~parallel], shapely.get_parts(shapely.difference(lines[parallel], band))])
    if green is not None:
        town.add_streets(shapely.intersection(lines, green), "footpath")
        lines = shapely.get_parts(shapely.difference(lines, green))
    town.add_streets(lines[shapely.length(lines) > MIN_STREET_M], grid.kind)
    return blocks


def classify_blocks(blocks: list[tuple[float, ...]], frame: Frame, free: Any) -> tuple[np.ndarray, np.ndarray]:
    """Which blocks lie wholly inside ``free`` (``full``) and which touch it (``partial``)."""
    b = np.array(blocks).reshape(-1, 4)
    world = frame.world(rects(b[:, 0], b[:, 1], b[:, 2], b[:, 3], frame.lattice))
    shapely.prepare(free)
    full = shapely.contains_properly(free, world)
    return full, ~full & shapely.intersects(free, world)


RowFiller = Callable[[Plots, float, float, float, float, float, np.random.Generator, dict[str, Any]], None]


def fill_block(plots: Plots, block: tuple[float, ...], filler: RowFiller, rng: np.random.Generator,
               style: dict[str, Any], rows: tuple[bool, bool] = (True, True), start: float = 0.0) -> None:
    """Fill the two rows of a block (front rows facing the lower and the upper street)."""
    u0, u1, v0, v1 = block
    mid = (v0 + v1) / 2
    if rows[0]:
        filler(plots, u0 + start, u1, v0, mid - v0, 1.0, rng, style)
    if rows[1]:
        filler(plots, u0, u1, v1, v1 - mid, -1.0, rng, style)


def _put(plots: Plots, a0: float, a1: float, d0: float, d1: float, front: float, sign: float,
         target: str, owner: int | None = None) -> None:
    """Add a rectangle given along the row (``a``) and in depth from the street (``d``)."""
    v0, v1 = sorted((front + sign * d0, front + sign * d1))
    if target == "plot":
        plots.plot.append((a0, a1, v0, v1))
    else:
        getattr(plots, target).append((a0, a1, v0, v1, len(plots.plot) - 1 if owner is None else owner))


def house_row(plots: Plots, a: float, end: float, front: float, depth: float, sign: float,
              rng: np.random.Generator, style: dict[str, Any]) -> None:
    """Fill one row with houses of one type (terraced, semi-detached or detached)."""
    kind = rng.choice(list(style["mix"]), p=list(style["mix"].values()))
    year = int(rng.integers(*style["years"]))
    last = None
    while True:
        left = end - a
        w = rng.uniform(*TERRACED_WIDTH)
        n = min(int(rng.integers(TERRACED_COUNT[0], TERRACED_COUNT[1] + 1)), int((left - 2 * SIDE_PATH_M) // w))
        if kind == "terraced" and n >= TERRACED_COUNT[0] - 1:
            widths = [w] * n
            gaps = [SIDE_PATH_M] + [0.0] * (n - 2) + [SIDE_PATH_M]
        elif kind in ("terraced", "semi") and left >= 2 * SEMI_PLOT[0]:
            widths, gaps = [min(rng.uniform(*SEMI_PLOT), left / 2)] * 2, [0.0, 0.0]
        elif left >= DETACHED_PLOT[0]:
            widths, gaps = [min(rng.uniform(*DETACHED_PLOT), left)], [0.0]
        else:
            if last is not None:  # the leftover becomes a wider garden of the last plot
                u0, _, v0, v1 = plots.plot[last]
                plots.plot[last] = (u0, end, v0, v1)
            return
        unit = "terraced" if len(widths) > 2 else ("semi" if len(widths) == 2 else "detached")
        d_rng, sb_rng, terrace, h_rng, floors = HOUSE[unit]
        bd = rng.uniform(*d_rng)
        sb = min(rng.uniform(*sb_rng), max(depth - bd - terrace - 4.0, 1.0))
        height = rng.uniform(*h_rng)
        for i, (w, gap) in enumerate(zip(widths, gaps, strict=True)):
            p0 = a
            p1 = a + w + gap
            if unit == "terraced":
                b0 = p0 + (gap if i == 0 else 0.0)
                b1 = b0 + w
            elif unit == "semi":
                hw = rng.uniform(*SEMI_HOUSE) if i == 0 else b1 - b0
                b0, b1 = (p1 - hw, p1) if i == 0 else (p0, p0 + hw)
            else:
                hw = min(rng.uniform(*DETACHED_HOUSE), w - 2 * DRIVEWAY_M)
                b0 = p0 + rng.uniform(2.0, max(w - hw - DRIVEWAY_M - 1.0, 2.0))
                b1 = b0 + hw
            _put(plots, p0, p1, 0.0, depth, front, sign, "plot")
            _put(plots, b0, b1, sb, sb + bd, front, sign, "building")
            _put(plots, b0, b1, sb + bd, sb + bd + terrace, front, sign, "paved")
            if unit != "terraced":  # driveway on the roomier side, along the house when it fits
                on_left = b0 - p0 >= p1 - b1
                s0 = p0 if on_left else p1 - DRIVEWAY_M
                room = b0 - p0 if on_left else p1 - b1
                _put(plots, s0, s0 + DRIVEWAY_M, 0.0, sb + bd if room >= DRIVEWAY_M else sb, front, sign, "paved")
            area = (b1 - b0) * bd * floors * USABLE_SHARE
            plots.info.append({"kind": unit, "height": height, "year": year, "area": area})
            a = p1
        last = len(plots.plot) - 1


def business_row(plots: Plots, a: float, end: float, front: float, depth: float, sign: float,
                 rng: np.random.Generator, style: dict[str, Any]) -> None:
    """Fill one row with business lots: a hall, an office in front and a paved yard."""
    while end - a >= LOT_WIDTH[0]:
        w = rng.uniform(*LOT_WIDTH)
        w = end - a if end - a - w < LOT_WIDTH[0] else w
        side, sb = rng.uniform(*LOT_SIDE), rng.uniform(*LOT_SETBACK)
        od = rng.uniform(*OFFICE_DEPTH)
        hd = min(rng.uniform(*HALL_DEPTH), depth - sb - od - 5.0)
        if hd < HALL_DEPTH[0] / 2:
            return
        year = int(rng.integers(*style["years"]))
        _put(plots, a, a + w, 0.0, depth, front, sign, "plot")
        owner = len(plots.plot) - 1
        _put(plots, a + side, a + w - side, sb + od, sb + od + hd, front, sign, "building")
        plots.info.append({"kind": "hall", "height": rng.uniform(*HALL_HEIGHT), "year": year,
                           "area": (w - 2 * side) * hd * USABLE_SHARE, "plot": owner})
        ow = min(rng.uniform(*OFFICE_WIDTH), w - 2 * side)
        _put(plots, a + side, a + side + ow, sb, sb + od, front, sign, "building", owner)
        plots.info.append({"kind": "office", "height": rng.uniform(*OFFICE_HEIGHT), "year": year,
                           "area": ow * od * 2 * USABLE_SHARE, "plot": owner})
        _put(plots, a, a + w, LOT_GREEN_M, depth, front, sign, "paved", owner)
        a += w


def place_plots(town: Town, plots: Plots, frame: Frame, free: Any, surfaces: dict[str, tuple[str, str]],
                building: Callable[[Any, dict[str, Any]], Building]) -> np.ndarray:
    """Map plots to the region, clip them to ``free`` and add buildings and land-cover pieces.

    Args:
        surfaces: land-cover ``(class, source_class)`` for ``paved`` and ``rest`` (the garden).
        building: makes a ``Building`` from a footprint and the plot info.

    Returns:
        The kept plot polygons.
    """
    if not plots.plot:
        return np.empty(0, dtype=object)
    # Cut gardens in the local frame, where the rectangles share exact coordinates, then map:
    # cutting after the mapping would leave hair-thin spikes along shared walls.
    lat = frame.lattice
    p, b, q = np.array(plots.plot), np.array(plots.building), np.array(plots.paved).reshape(-1, 5)
    owner_b, owner_q, n = b[:, 4].astype(int), q[:, 4].astype(int), len(p)
    plot = rects(p[:, 0], p[:, 1], p[:, 2], p[:, 3], lat)
    bld = rects(b[:, 0], b[:, 1], b[:, 2], b[:, 3], lat)
    hard = _union_by_owner(bld, owner_b, n)
    paved = shapely.difference(rects(q[:, 0], q[:, 1], q[:, 2], q[:, 3], lat), hard[owner_q])
    rest = shapely.difference(plot, shapely.union(hard, _union_by_owner(paved, owner_q, n)))
    plot, bld, paved, rest = (frame.world(g) for g in (plot, bld, paved, rest))
    shapely.prepare(free)
    inside = shapely.contains_properly(free, plot)
    cut = ~inside
    clipped = plot.copy()
    # One intersection with the (large) free area; the plot's parts are then cut by the small clipped plot.
    clipped[cut] = shapely.intersection(plot[cut], free)
    ok_plot = inside | (shapely.area(clipped) >= MIN_CLIPPED_SHARE * shapely.area(plot))
    ok_b = ok_plot[owner_b] & (inside[owner_b] | shapely.covered_by(bld, clipped[owner_b]))
    ok_plot &= np.bincount(owner_b, weights=ok_b, minlength=n) == np.bincount(owner_b, minlength=n)
    ok_b &= ok_plot[owner_b]
    cut_q = cut[owner_q]
    paved[cut_q] = shapely.intersection(paved[cut_q], clipped[owner_q[cut_q]])
    rest[cut] = shapely.intersection(rest[cut], clipped[cut])
    plot = clipped
    for i in np.flatnonzero(ok_b):
        town.buildings.append(building(bld[i], plots.info[i]))
    town.pieces.add(bld[ok_b], "building", "pand", False, 0, "lot")
    town.pieces.add(shapely.get_parts(paved[ok_plot[owner_q]]), *surfaces["paved"], False, 0, "lot")
    town.pieces.add(shapely.get_parts(rest[ok_plot]), *surfaces["rest"], False, 0, "lot")
    town.zones.setdefault("lots", []).append(plot[ok_plot])
    return plot[ok_plot]


def _union_by_owner(geoms: np.ndarray, owner: np.ndarray, n: int) -> np.ndarray:
    """Union of the geometries of each owner (empty polygon for owners without any)."""
    out = np.array([shapely.Polygon()] * n, dtype=object)
    order = np.argsort(owner, kind="stable")
    owners, starts = np.unique(owner[order], return_index=True)
    for o, group in zip(owners, np.split(geoms[order], starts[1:]), strict=True):
        out[o] = group[0] if len(group) == 1 else shapely.union_all(group)
    return out


def oriented_boxes(px: np.ndarray, py: np.ndarray, tx: np.ndarray, ty: np.ndarray, u0: Any, u1: Any,
                   v0: Any, v1: Any) -> np.ndarray:
    """Rectangles in per-item frames: origin ``(px, py)``, unit ``u`` direction ``(tx, ty)``, ``v`` to its left."""
    us = np.stack([u0, u1, u1, u0], axis=1) * np.ones((len(px), 1))
    vs = np.stack([v0, v0, v1, v1], axis=1) * np.ones((len(px), 1))
    x = px[:, None] + us * tx[:, None] - vs * ty[:, None]
    y = py[:, None] + us * ty[:, None] + vs * tx[:, None]
    return shapely.polygons(np.stack([x, y], axis=2))


def ribbon(town: Town, lines: Any, free: Any, setback: float, rng: np.random.Generator,
           years: tuple[int, int]) -> None:
    """Old ribbon development: detached houses on both sides of roads, where the land is still free.

    Args:
        lines: road centrelines to build along.
        free: where plots may go; plots overlapping earlier lots or parks are skipped.
        setback: distance (m) from the centreline to the plot front.
    """
    lines = np.atleast_1d(np.asarray(lines, dtype=object))
    parts: list[list[np.ndarray]] = [[], [], [], [], []]  # x, y, tx, ty, width
    for line in lines:
        d = np.cumsum(rng.uniform(*DETACHED_PLOT, int(line.length // DETACHED_PLOT[0]) + 1))
        w = np.diff(np.concatenate([[0.0], d]))
        keep = d < line.length
        mid = d[keep] - w[keep] / 2
        p0 = shapely.get_coordinates(shapely.line_interpolate_point(line, mid - 1.0))
        p1 = shapely.get_coordinates(shapely.line_interpolate_point(line, mid + 1.0))
        t = (p1 - p0) / np.maximum(np.hypot(*(p1 - p0).T), 1e-9)[:, None]
        for side in (1.0, -1.0):
            for part, values in zip(parts, ((p0[:, 0] + p1[:, 0]) / 2, (p0[:, 1] + p1[:, 1]) / 2,
                                            t[:, 0] * side, t[:, 1] * side, w[keep]), strict=True):
                part.append(values)
    if not parts[0]:
        return
    x, y, tx, ty, w = (np.concatenate(a) for a in parts)
    n = len(x)
    depth = rng.uniform(*ROW_RIBBON_DEPTH, n)
    plot = oriented_boxes(x, y, tx, ty, -w / 2, w / 2, np.full(n, setback), setback + depth)
    taken = [*town.zones.get("lots", []), np.array([p for p, _ in town.parks], dtype=object)]
    tree = shapely.STRtree(np.concatenate(taken))
    shapely.prepare(free)
    ok = shapely.contains_properly(free, plot)
    ok[tree.query(plot, predicate="intersects")[0]] = False
    # Plots on the inside of a bend may overlap each other: keep the first of each pair.
    a, b = shapely.STRtree(plot).query(plot, predicate="intersects")
    for i, j in zip(a, b, strict=True):
        if i < j and ok[i]:
            ok[j] = False
    plot, x, y, tx, ty, w, depth = (v[ok] for v in (plot, x, y, tx, ty, w, depth))
    n = len(plot)
    hw = np.minimum(rng.uniform(*DETACHED_HOUSE, n), w - 2 * DRIVEWAY_M) / 2
    sb = setback + rng.uniform(4.0, 8.0, n)
    bd = rng.uniform(*HOUSE["detached"][0], n)
    bld = oriented_boxes(x, y, tx, ty, -hw, hw, sb, sb + bd)
    drive = oriented_boxes(x, y, tx, ty, hw, hw + DRIVEWAY_M, np.full(n, setback), sb + bd)
    terrace = oriented_boxes(x, y, tx, ty, -hw, hw, sb + bd, sb + bd + HOUSE["detached"][2])
    paved = shapely.intersection(shapely.union(drive, terrace), plot)
    town.pieces.add(bld, "building", "pand", False, 0, "lot")
    town.pieces.add(paved, "paved_other", "onbegroeidterreindeel:open verharding", False, 0, "lot")
    town.pieces.add(shapely.get_parts(shapely.difference(plot, shapely.union(bld, paved))),
                    "green_low", "begroeidterreindeel:groenvoorziening", False, 0, "lot")
    town.zones.setdefault("lots", []).append(plot)
    years_ = rng.integers(*years, n)
    heights = rng.uniform(*HOUSE["detached"][3], n)
    for i in range(n):
        area = float(4 * hw[i] * bd[i] * HOUSE["detached"][4] * USABLE_SHARE)
        town.buildings.append(Building(bld[i], "detached", float(heights[i]), int(years_[i]),
                                       [("woonfunctie", area)]))
