"""A walkable street graph from LineStrings, and network distances from many origins to many targets.

Graph construction (``StreetNetwork.from_lines``):

1. Lines are split into straight segments between their vertices; consecutive
   vertices of one line are always connected.
2. Noding: where two segments cross, both are split at the crossing and the
   two halves share a node (``node_crossings``; turn it off for data that models
   bridges and tunnels as crossing lines without a junction). A line end within
   ``tolerance_m`` of another segment's interior is connected to it (the segment
   is split at the foot of the perpendicular): digitised T-junctions rarely end
   exactly on the other line. Line ends within ``tolerance_m`` of each other are
   merged. Only line *ends* are snapped, never inner vertices, so a densely
   digitised curve cannot collapse into one node.
3. Edges carry their Euclidean length in metres; parallel edges keep the shortest.

Distances (``StreetNetwork.distance_to_targets``): every origin point goes
straight to the nearest point on the network (that leg counts), then along the
network to the nearest *target point*: any network point within
``access_m`` of a target polygon. All targets are searched at once with one
Dijkstra run (scipy.sparse.csgraph) from a virtual source linked to every edge
end at the along-edge distance of the nearest target point on that edge,
which is the multi-source shortest path. Origins on a part of the network
that reaches no target get NaN.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import connected_components, dijkstra
from scipy.spatial import cKDTree

#: Segment parameters closer than this to 0 or 1 are treated as the segment's end (no split).
T_EPSILON = 1e-9
#: Segments shorter than this (m) are dropped as digitising noise.
MIN_SEGMENT_M = 1e-6
#: Segments per quarter circle when buffering target polygons by ``access_m``: the rounded
#: corners of the access zone then deviate by at most access_m * (1 - cos(pi / 256)), 1.5 mm at 20 m.
ACCESS_QUAD_SEGS = 64


def _segments(lines: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Straight segments ``(n, 4)`` x0,y0,x1,y1 of all lines, and whether each start / end is a line end."""
    parts = shapely.get_parts(np.asarray(lines, dtype=object))
    parts = parts[shapely.get_type_id(parts) == shapely.GeometryType.LINESTRING]
    # Repeated vertices would give zero-length segments and hide which vertex is a line end.
    parts = shapely.remove_repeated_points(parts, tolerance=MIN_SEGMENT_M)
    coords, idx = shapely.get_coordinates(parts, return_index=True)
    if len(coords) < 2:
        return np.empty((0, 4)), np.empty(0, dtype=bool), np.empty(0, dtype=bool)
    same = idx[1:] == idx[:-1]
    first = np.r_[True, ~same]
    last = np.r_[~same, True]
    segs = np.hstack([coords[:-1][same], coords[1:][same]])
    return segs, first[:-1][same], last[1:][same]


def _project(px: np.ndarray, py: np.ndarray, segs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Parameter t in [0, 1] of the foot of each point on its segment, and the distance to it."""
    dx = segs[:, 2] - segs[:, 0]
    dy = segs[:, 3] - segs[:, 1]
    len2 = dx * dx + dy * dy
    t = np.clip(((px - segs[:, 0]) * dx + (py - segs[:, 1]) * dy) / len2, 0.0, 1.0)
    fx, fy = segs[:, 0] + t * dx, segs[:, 1] + t * dy
    return t, np.hypot(px - fx, py - fy)


def _crossings(segs: np.ndarray, geoms: np.ndarray, tree: shapely.STRtree) -> tuple[np.ndarray, ...]:
    """Pairs of crossing segments and the crossing's parameter on each."""
    a, b = tree.query(geoms, predicate="crosses")
    keep = a < b
    a, b = a[keep], b[keep]
    p = segs[a, :2]
    r = segs[a, 2:] - p
    q = segs[b, :2]
    s = segs[b, 2:] - q
    denom = r[:, 0] * s[:, 1] - r[:, 1] * s[:, 0]
    qp = q - p
    ta = (qp[:, 0] * s[:, 1] - qp[:, 1] * s[:, 0]) / denom
    tb = (qp[:, 0] * r[:, 1] - qp[:, 1] * r[:, 0]) / denom
    inner = (ta > T_EPSILON) & (ta < 1 - T_EPSILON) & (tb > T_EPSILON) & (tb < 1 - T_EPSILON)
    return a[inner], b[inner], ta[inner], tb[inner]


@dataclass
class Snap:
    """Where points meet the network: edge, parameter along it (0 at ``edge_u``) and the straight leg (m)."""

    edge: np.ndarray
    t: np.ndarray
    distance_m: np.ndarray


@dataclass
class StreetNetwork:
    """An undirected street graph with straight edges.

    Attributes:
        nodes: ``(n, 2)`` node coordinates (metres CRS).
        edge_u, edge_v: node index at the start / end of each edge.
        edge_xy: ``(m, 4)`` coordinates of each edge's start and end.
        edge_len: edge length (m).
    """

    nodes: np.ndarray
    edge_u: np.ndarray
    edge_v: np.ndarray
    edge_xy: np.ndarray
    edge_len: np.ndarray
    _tree: shapely.STRtree | None = field(default=None, repr=False)

    @classmethod
    def from_lines(cls, lines: np.ndarray, tolerance_m: float = 0.5, node_crossings: bool = True) -> StreetNetwork:
        """Build the graph from (Multi)LineStrings; see the module docstring for the noding rules.

        Args:
            lines: shapely (Multi)LineStrings in a metres CRS.
            tolerance_m: line ends this close to another line end or segment are connected (m).
            node_crossings: split crossing segments and join them in a node.
        """
        segs, start_is_end, stop_is_end = _segments(lines)
        n_seg = len(segs)
        if n_seg == 0:
            return cls(np.empty((0, 2)), *(np.empty(0, dtype=np.intp),) * 2, np.empty((0, 4)), np.empty(0))
        geoms = shapely.linestrings(segs.reshape(-1, 2, 2))
        tree = shapely.STRtree(geoms)
        # Vertex ids: i is the start of segment i, n_seg + i its end; split points get ids from 2 * n_seg.
        end_xy = np.vstack([segs[:, :2], segs[:, 2:]])
        line_end_vid = np.flatnonzero(np.r_[start_is_end, stop_is_end])
        split_seg: list[np.ndarray] = []
        split_t: list[np.ndarray] = []
        split_vid: list[np.ndarray] = []
        merges: list[np.ndarray] = []
        next_vid = 2 * n_seg
        if node_crossings:
            a, b, ta, tb = _crossings(segs, geoms, tree)
            vid = np.arange(next_vid, next_vid + len(a))
            next_vid += len(a)
            split_seg += [a, b]
            split_t += [ta, tb]
            split_vid += [vid, vid]
        # Line ends near another segment's interior: split that segment at the foot and join the two.
        ends = end_xy[line_end_vid]
        ei, si = tree.query(shapely.points(ends), predicate="dwithin", distance=tolerance_m)
        t, _ = _project(ends[ei, 0], ends[ei, 1], segs[si])
        seg_len = np.hypot(segs[si, 2] - segs[si, 0], segs[si, 3] - segs[si, 1])
        inner = (t * seg_len > MIN_SEGMENT_M) & ((1 - t) * seg_len > MIN_SEGMENT_M)
        ei, si, t = ei[inner], si[inner], t[inner]
        foot = np.arange(next_vid, next_vid + len(si))
        next_vid += len(si)
        split_seg.append(si)
        split_t.append(t)
        split_vid.append(foot)
        merges.append(np.c_[line_end_vid[ei], foot])
        # Segment ends at exactly the same coordinates (shared vertices, exactly digitised junctions).
        _, group = np.unique(end_xy, axis=0, return_inverse=True)
        order = np.argsort(group, kind="stable")
        dup = group[order][1:] == group[order][:-1]
        merges.append(np.c_[order[1:][dup], order[:-1][dup]])
        # Line ends within the tolerance of each other.
        close = cKDTree(ends).query_pairs(tolerance_m, output_type="ndarray")
        if len(close):
            merges.append(np.c_[line_end_vid[close[:, 0]], line_end_vid[close[:, 1]]])
        pairs = np.vstack(merges).astype(np.intp)
        union = sp.coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(next_vid, next_vid))
        _, label = connected_components(union, directed=False)
        return cls._assemble(segs, split_seg, split_t, split_vid, label)

    @classmethod
    def _assemble(
        cls, segs: np.ndarray, split_seg: list, split_t: list, split_vid: list, label: np.ndarray
    ) -> StreetNetwork:
        """Cut segments at their split points and turn the pieces into deduplicated edges."""
        n_seg = len(segs)
        seg = np.concatenate([np.arange(n_seg), np.arange(n_seg), *split_seg]).astype(np.intp)
        t = np.concatenate([np.zeros(n_seg), np.ones(n_seg), *split_t])
        vid = np.concatenate([np.arange(n_seg), n_seg + np.arange(n_seg), *split_vid]).astype(np.intp)
        order = np.lexsort((t, seg))
        seg, t, vid = seg[order], t[order], vid[order]
        x = segs[seg, 0] + t * (segs[seg, 2] - segs[seg, 0])
        y = segs[seg, 1] + t * (segs[seg, 3] - segs[seg, 1])
        nxt = seg[1:] == seg[:-1]
        u_lab, v_lab = label[vid[:-1][nxt]], label[vid[1:][nxt]]
        xy = np.c_[x[:-1][nxt], y[:-1][nxt], x[1:][nxt], y[1:][nxt]]
        length = np.hypot(xy[:, 2] - xy[:, 0], xy[:, 3] - xy[:, 1])
        keep = (u_lab != v_lab) & (length > MIN_SEGMENT_M)
        u_lab, v_lab, xy, length = u_lab[keep], v_lab[keep], xy[keep], length[keep]
        # Parallel edges between the same two nodes: keep the shortest.
        lo, hi = np.minimum(u_lab, v_lab), np.maximum(u_lab, v_lab)
        order = np.lexsort((length, hi, lo))
        first = np.r_[True, (lo[order][1:] != lo[order][:-1]) | (hi[order][1:] != hi[order][:-1])]
        pick = order[first]
        used, node_of = np.unique(np.r_[u_lab[pick], v_lab[pick]], return_inverse=True)
        m = len(pick)
        nodes = np.zeros((len(used), 2))
        nodes[node_of[:m]] = xy[pick, :2]
        nodes[node_of[m:]] = xy[pick, 2:]
        return cls(nodes, node_of[:m], node_of[m:], xy[pick], length[pick])

    # -- queries ---------------------------------------------------------------
    @property
    def tree(self) -> shapely.STRtree:
        """STRtree over the edges as LineStrings."""
        if self._tree is None:
            self._tree = shapely.STRtree(shapely.linestrings(self.edge_xy.reshape(-1, 2, 2)))
        return self._tree

    def graph(self, source_nodes: np.ndarray | None = None, source_m: np.ndarray | None = None) -> sp.csr_matrix:
        """Sparse adjacency (one entry per edge, lengths in m).

        With ``source_nodes``, a virtual node (index ``len(nodes)``) is appended and
        linked to them with lengths ``source_m``.
        """
        n = len(self.nodes)
        u, v, w = self.edge_u, self.edge_v, self.edge_len
        if source_nodes is not None and source_m is not None:
            u = np.r_[u, np.full(len(source_nodes), n)]
            v = np.r_[v, source_nodes]
            w = np.r_[w, source_m]
            n += 1
        return sp.csr_matrix((w, (u, v)), shape=(n, n))

    def components(self) -> tuple[int, np.ndarray]:
        """Number of connected parts and the part label of every node."""
        n, labels = connected_components(self.graph(), directed=False)
        return int(n), labels

    def snap(self, xy: np.ndarray) -> Snap:
        """Nearest network point of each ``(x, y)``: edge, parameter and straight distance (m)."""
        xy = np.asarray(xy, dtype=float).reshape(-1, 2)
        if len(self.edge_len) == 0:
            raise ValueError("the street network has no edges")
        pi, ei = self.tree.query_nearest(shapely.points(xy), all_matches=False)
        edge = np.empty(len(xy), dtype=np.intp)
        edge[pi] = ei
        t, dist = _project(xy[:, 0], xy[:, 1], self.edge_xy[edge])
        return Snap(edge, t, dist)

    def target_intervals(self, targets: np.ndarray, access_m: float) -> tuple[np.ndarray, ...]:
        """Stretches of edges within ``access_m`` of each target polygon.

        Returns:
            ``(edge, target, t_lo, t_hi)``: each stretch as a parameter interval on its edge.
        """
        targets = np.asarray(targets, dtype=object)
        zones = shapely.buffer(targets, access_m, quad_segs=ACCESS_QUAD_SEGS) if access_m > 0 else targets
        ti, ei = self.tree.query(zones, predicate="intersects")
        cut = shapely.intersection(self.tree.geometries[ei], zones[ti])
        parts, owner = shapely.get_parts(cut, return_index=True)
        coords, idx = shapely.get_coordinates(parts, return_index=True)
        pair = owner[idx]
        edge = ei[pair]
        t, _ = _project(coords[:, 0], coords[:, 1], self.edge_xy[edge])
        # Each part (a point or a stretch) becomes one interval [min t, max t].
        part_id = idx
        lo = np.full(len(parts), np.inf)
        hi = np.full(len(parts), -np.inf)
        np.minimum.at(lo, part_id, t)
        np.maximum.at(hi, part_id, t)
        ok = np.isfinite(lo)
        return ei[owner][ok], ti[owner][ok], lo[ok], hi[ok]

    def distance_to_targets(
        self, xy: np.ndarray, targets: np.ndarray, access_m: float
    ) -> tuple[np.ndarray, np.ndarray, Snap]:
        """Walking distance (m) from each point to the nearest target; see the module docstring.

        Args:
            xy: ``(k, 2)`` origin coordinates.
            targets: target polygons (parks).
            access_m: a network point within this distance of a target counts as reaching it (m).

        Returns:
            ``(distance_m, target_index, snap)``; NaN and -1 where no target is reachable.
        """
        snap = self.snap(xy)
        n = len(self.nodes)
        edge, tgt, t_lo, t_hi = self.target_intervals(targets, access_m)
        length = self.edge_len[edge]
        # Offsets of the nearest target point from either end of each edge.
        node = np.r_[self.edge_u[edge], self.edge_v[edge]]
        offset = np.r_[t_lo * length, (1 - t_hi) * length]
        label = np.r_[tgt, tgt]
        order = np.lexsort((offset, node))
        first = np.r_[len(node) > 0, node[order][1:] != node[order][:-1]][: len(node)]
        src_node, src_off, src_label = node[order][first], offset[order][first], label[order][first]
        graph = self.graph(src_node, src_off)
        dist, pred = dijkstra(graph, directed=False, indices=n, return_predecessors=True)
        nearest = _root_labels(pred, n, src_node, src_label)
        e = snap.edge
        via_u = snap.t * self.edge_len[e] + dist[self.edge_u[e]]
        via_v = (1 - snap.t) * self.edge_len[e] + dist[self.edge_v[e]]
        best = np.minimum(via_u, via_v)
        who = np.where(via_u <= via_v, nearest[self.edge_u[e]], nearest[self.edge_v[e]])
        # A target stretch on the origin's own edge: walk along the edge directly.
        if len(edge):
            on = _direct(e, snap.t, self.edge_len, edge, tgt, t_lo, t_hi)
            closer = on[0] < best
            best = np.where(closer, on[0], best)
            who = np.where(closer, on[1], who)
        total = snap.distance_m + best
        reachable = np.isfinite(total)
        return np.where(reachable, total, np.nan), np.where(reachable, who, -1), snap


def _root_labels(pred: np.ndarray, source: int, src_node: np.ndarray, src_label: np.ndarray) -> np.ndarray:
    """Label of the first hop from the virtual source on each node's shortest path (pointer jumping)."""
    first = np.zeros(len(pred), dtype=bool)
    first[src_node] = pred[src_node] == source
    hop_label = np.full(len(pred), -1, dtype=np.intp)
    hop_label[src_node] = src_label
    terminal = first | (pred < 0)
    anc = np.where(terminal, np.arange(len(pred)), pred)
    # Each round doubles the jump length, so a path of d edges needs log2(d) rounds.
    while True:
        nxt = anc[anc]
        if np.array_equal(nxt, anc):
            break
        anc = nxt
    return np.where(first[anc], hop_label[anc], -1)


def _direct(
    e: np.ndarray,
    t: np.ndarray,
    edge_len: np.ndarray,
    edge: np.ndarray,
    tgt: np.ndarray,
    t_lo: np.ndarray,
    t_hi: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Along-edge distance from origins to a target stretch on their own edge (inf when none)."""
    best = np.full(len(e), np.inf)
    who = np.full(len(e), -1, dtype=np.intp)
    order = np.argsort(edge, kind="stable")
    sorted_edge = edge[order]
    start = np.searchsorted(sorted_edge, e, side="left")
    stop = np.searchsorted(sorted_edge, e, side="right")
    count = stop - start
    has = np.flatnonzero(count)
    if not len(has):
        return best, who
    origin = np.repeat(has, count[has])
    offsets = np.arange(len(origin)) - np.repeat(np.cumsum(count[has]) - count[has], count[has])
    k = order[np.repeat(start[has], count[has]) + offsets]
    gap = np.maximum.reduce([t_lo[k] - t[origin], t[origin] - t_hi[k], np.zeros(len(k))]) * edge_len[e[origin]]
    sorter = np.lexsort((gap, origin))
    first = np.r_[True, origin[sorter][1:] != origin[sorter][:-1]]
    best[origin[sorter][first]] = gap[sorter][first]
    who[origin[sorter][first]] = tgt[k[sorter][first]]
    return best, who
