"""Benchmark of the tree-3-30-300 layer on a large synthetic region, with naive peers in the same run.

Usage::

    .venv/bin/python -m bench.bench_3_30_300            # 100,000 dwellings, 200,000 trees, 50 km streets
    .venv/bin/python -m bench.bench_3_30_300 --dwellings 20000 --trees 40000

Prints the time of every step of the layer (as the layer records them), the
whole ``compute``, and the peak resident memory of the process (``getrusage``),
then the same sub-problems solved the obvious way on a subset:

* visible trees with a per-dwelling loop of shapely calls (STRtree per query)
  against the vectorised ``geo.visibility`` on the same dwellings (counts must agree);
* park distances with one Dijkstra per dwelling against the one multi-source run;
* canopy per buurt with a polygon union of crown discs (``shapely.union_all``)
  against the exact circle-union area of ``geo.crowns``.

Targets (issue 3): whole layer < 60 s, peak memory < 4 GB on a 2-core machine.
"""

from __future__ import annotations

import argparse
import resource
import time
from typing import Any

import dask
import numpy as np
import shapely
from scipy.sparse.csgraph import dijkstra

from bench.synthetic_region import CRS_RD, generate
from geo.crowns import canopy_area
from geo.network import StreetNetwork
from geo.visibility import SightScene, visible_trees
from layers.base import BuildContext
from layers.extent import run_in_memory
from layers.tree_3_30_300 import LAYER

TARGET_S = 60.0
TARGET_GB = 4.0


def peak_rss_gb() -> float:
    """Peak resident set size of this process so far (GB; Linux reports kB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6


def naive_visible(xy: np.ndarray, own: np.ndarray, tree_xy: np.ndarray, blds: np.ndarray, codes: np.ndarray) -> list:
    """Per dwelling, per tree: a LineString and a building query (the obvious loop)."""
    tree_index = shapely.STRtree(shapely.points(tree_xy))
    bld_index = shapely.STRtree(blds)
    out = []
    for (px, py), mine in zip(xy, own, strict=True):
        seen = 0
        for t in tree_index.query(shapely.Point(px, py).buffer(30.0)):
            tx, ty = tree_xy[t]
            if np.hypot(tx - px, ty - py) > 30.0:
                continue
            line = shapely.LineString([(px, py), (tx, ty)])
            blocked = False
            for b in bld_index.query(line):
                if codes[b] != mine and line.intersects(blds[b]) and not line.touches(blds[b]):
                    blocked = True
                    break
            seen += not blocked
        out.append(seen)
    return out


def naive_distances(net: StreetNetwork, xy: np.ndarray, parks: np.ndarray, access_m: float) -> np.ndarray:
    """One Dijkstra per dwelling from both ends of its street edge, then the nearest park point (or its own edge)."""
    snap = net.snap(xy)
    edge, _, t_lo, t_hi = net.target_intervals(parks, access_m)
    node = np.r_[net.edge_u[edge], net.edge_v[edge]]
    offset = np.r_[t_lo * net.edge_len[edge], (1 - t_hi) * net.edge_len[edge]]
    graph = net.graph()
    out = np.full(len(xy), np.nan)
    for k in range(len(xy)):
        e = snap.edge[k]
        d = dijkstra(graph, directed=False, indices=[net.edge_u[e], net.edge_v[e]])
        lead = np.array([snap.t[k], 1 - snap.t[k]]) * net.edge_len[e]
        best = np.min(d[:, node] + offset[None, :] + lead[:, None]) if len(node) else np.inf
        # A park stretch on the dwelling's own edge is reached along the edge.
        on = edge == e
        if on.any():
            gap = np.maximum.reduce([t_lo[on] - snap.t[k], snap.t[k] - t_hi[on], np.zeros(int(on.sum()))])
            best = min(best, float(gap.min() * net.edge_len[e]))
        out[k] = snap.distance_m[k] + best if np.isfinite(best) else np.nan
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dwellings", type=int, default=100_000)
    ap.add_argument("--trees", type=int, default=200_000)
    ap.add_argument("--street-km", type=float, default=50.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--subset", type=int, default=2_000, help="dwellings for the naive peers")
    ap.add_argument("--union-trees", type=int, default=50_000, help="trees for the polygon-union peer")
    ap.add_argument("--no-peers", action="store_true")
    args = ap.parse_args()

    t0 = time.perf_counter()
    region = generate(args.dwellings, args.trees, args.street_km)
    src = region.sources
    print(
        f"region: {len(src['addresses']):,} dwellings, {len(src['trees']):,} trees, "
        f"{shapely.length(src['streets'].geometry.values).sum() / 1000:.1f} km streets, "
        f"{len(src['buildings']):,} buildings, {len(src['neighbourhoods'])} buurten, "
        f"{(region.bounds[2] - region.bounds[0]) / 1000:.0f} km square "
        f"(generated in {time.perf_counter() - t0:.1f} s, peak RSS {peak_rss_gb():.2f} GB)"
    )
    params: dict[str, Any] = {p.name: p.default for p in LAYER.params}
    ctx = BuildContext(workers=args.workers)
    with dask.config.set(scheduler="threads", num_workers=args.workers):
        t0 = time.perf_counter()
        result = run_in_memory(LAYER, src, region.bounds, crs=CRS_RD, params=params, name="Bench", ctx=ctx)
        total = time.perf_counter() - t0
    print(f"\ntree-3-30-300 compute, {args.workers} worker thread(s):")
    for step, seconds in result.metadata["timings_s"].items():
        print(f"  {step:<16} {seconds:8.2f} s")
    peak = peak_rss_gb()
    print(f"  {'total':<16} {total:8.2f} s   (target < {TARGET_S:.0f} s: {'met' if total < TARGET_S else 'MISSED'})")
    print(
        f"  peak RSS {peak:.2f} GB (whole process)   "
        f"(target < {TARGET_GB:.0f} GB: {'met' if peak < TARGET_GB else 'MISSED'})"
    )
    print(f"  summary: {result.metadata['summary']}")
    counts = result.metadata["log"]["counts"]
    print(
        f"  street graph: {counts['street_nodes']:,} nodes, {counts['street_edges']:,} edges, "
        f"{counts['street_components']} parts; unreachable dwellings: {counts['dwellings_unreachable']}"
    )
    if args.no_peers:
        return
    _peers(src, params, args, result)


def _peers(src: dict, params: dict[str, Any], args: argparse.Namespace, result: Any) -> None:
    rng = np.random.default_rng(0)
    pick = np.sort(rng.choice(len(src["addresses"]), min(args.subset, len(src["addresses"])), replace=False))
    xy = shapely.get_coordinates(src["addresses"].geometry.values[pick])
    blds = src["buildings"].geometry.values
    codes = np.arange(len(blds))
    own = src["addresses"]["building_id"].str[1:].astype(int).to_numpy()[pick]
    tree_xy = shapely.get_coordinates(src["trees"].geometry.values)
    print(f"\npeers on {len(pick):,} dwellings (same run):")
    t0 = time.perf_counter()
    scene = SightScene(tree_xy, blds, codes)
    fast = visible_trees(xy, own, scene, params["tree_radius_m"])
    t_fast = time.perf_counter() - t0
    t0 = time.perf_counter()
    slow = naive_visible(xy, own, tree_xy, blds.copy(), codes)
    t_slow = time.perf_counter() - t0
    agree = int((fast == np.array(slow)).sum())
    print(
        f"  visible trees  vectorised {t_fast:6.2f} s (incl. indexes) | per-dwelling loop {t_slow:6.2f} s | "
        f"x{t_slow / t_fast:.0f} | counts agree {agree}/{len(pick)}"
    )
    net = StreetNetwork.from_lines(src["streets"].geometry.values, params["network_tolerance_m"])
    parks = result.vectors["parks"].geometry.values
    t0 = time.perf_counter()
    multi, _, _ = net.distance_to_targets(xy, parks, params["park_access_m"])
    t_multi = time.perf_counter() - t0
    t0 = time.perf_counter()
    single = naive_distances(net, xy, parks, params["park_access_m"])
    t_single = time.perf_counter() - t0
    both = np.isfinite(multi) & np.isfinite(single)
    print(
        f"  park distance  multi-source {t_multi:6.2f} s | one Dijkstra per dwelling {t_single:6.2f} s | "
        f"x{t_single / t_multi:.0f} | max |diff| {np.abs(multi[both] - single[both]).max():.3f} m "
        f"(same reachability: {bool((np.isfinite(multi) == np.isfinite(single)).all())})"
    )
    n = min(args.union_trees, len(tree_xy))
    crown = np.nan_to_num(
        src["trees"]["crown_diameter_m"].to_numpy(dtype=float), nan=params["default_crown_diameter_m"]
    )
    zones = src["neighbourhoods"].geometry.values
    t0 = time.perf_counter()
    exact = canopy_area(tree_xy[:n, 0], tree_xy[:n, 1], crown[:n], zones)
    t_exact = time.perf_counter() - t0
    t0 = time.perf_counter()
    union = shapely.union_all(shapely.buffer(shapely.points(tree_xy[:n]), crown[:n] / 2, quad_segs=16))
    polygon = shapely.area(shapely.intersection(zones, union))
    t_union = time.perf_counter() - t0
    print(
        f"  canopy/buurt   circle union {t_exact:6.2f} s | shapely.union_all of 64-gons {t_union:6.2f} s | "
        f"x{t_union / t_exact:.0f} | {n:,} trees, areas differ by {np.abs(exact - polygon).sum() / exact.sum():.2e} "
        "(the 64-gon falls short of the circle)"
    )


if __name__ == "__main__":
    main()
