"""Street graph and multi-source network distances (geo.network): street grids with hand-computed answers."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from shapely.geometry import LineString, box

from geo.network import StreetNetwork


def grid_lines(n: int = 5, spacing: float = 100.0) -> np.ndarray:
    """Full-length grid lines that cross without shared vertices."""
    size = (n - 1) * spacing
    rows = [LineString([(0, i * spacing), (size, i * spacing)]) for i in range(n)]
    cols = [LineString([(i * spacing, 0), (i * spacing, size)]) for i in range(n)]
    return np.array(rows + cols, dtype=object)


def test_crossing_lines_are_noded_into_a_grid() -> None:
    net = StreetNetwork.from_lines(grid_lines())
    assert len(net.nodes) == 25
    assert len(net.edge_len) == 40
    assert net.edge_len.sum() == pytest.approx(4000.0)
    assert net.components()[0] == 1


def test_distance_to_a_park_on_a_grid() -> None:
    net = StreetNetwork.from_lines(grid_lines())
    park = box(380, 380, 450, 450)  # its 20 m access zone reaches the streets at x = 360 and y = 360
    origins = np.array([[0, 0], [10, 5], [400, 200], [200, 390]])
    dist, which, snap = net.distance_to_targets(origins, np.array([park]), 20.0)
    # (10, 5): 5 m to the street, then 350 m east and 400 m north to (360, 400).
    assert dist == pytest.approx([760.0, 755.0, 160.0, 170.0])
    assert which.tolist() == [0, 0, 0, 0]
    assert snap.distance_m == pytest.approx([0.0, 5.0, 0.0, 0.0])


def test_nearest_of_several_parks_is_labelled() -> None:
    net = StreetNetwork.from_lines(grid_lines())
    parks = np.array([box(-50, -50, -10, -10), box(410, 410, 450, 450)])
    dist, which, _ = net.distance_to_targets(np.array([[100, 0], [400, 300]]), parks, 20.0)
    # The access zone of the first park reaches x = -10 + sqrt(20^2 - 10^2) on the street y = 0
    # (the corner at (-10, -10) is 20 m away); the second one y = 410 - sqrt(...) on x = 400.
    reach = np.sqrt(20**2 - 10**2)
    assert dist == pytest.approx([110 - reach, 110 - reach], abs=0.01)
    assert which.tolist() == [0, 1]


def test_park_stretch_on_the_origins_own_edge() -> None:
    net = StreetNetwork.from_lines(np.array([LineString([(0, 0), (1000, 0)])]))
    park = box(600, 10, 700, 60)  # 10 m north of the street: reachable on x 600-700 with 20 m access
    dist, which, _ = net.distance_to_targets(np.array([[100, 0], [650, 5], [900, 0]]), np.array([park]), 20.0)
    # Along the edge to the stretch [600 - sqrt(20^2 - 10^2), 700 + sqrt(...)] = [582.68, 717.32].
    reach = np.sqrt(20**2 - 10**2)
    # (the access zone's rounded corners are polygons: within 2 mm of the true circle)
    assert dist == pytest.approx([600 - reach - 100, 5.0, 900 - 700 - reach], abs=0.01)
    assert which.tolist() == [0, 0, 0]


def test_line_end_within_tolerance_is_joined_to_the_other_line() -> None:
    main = LineString([(0, 0), (200, 0)])
    # A side street that stops 0.3 m short of the main street (a digitised T-junction).
    side = LineString([(100, 0.3), (100, 100)])
    park = box(-30, -40, -15, 40)
    lines = np.array([main, side])
    joined = StreetNetwork.from_lines(lines, tolerance_m=0.5)
    apart = StreetNetwork.from_lines(lines, tolerance_m=0.1)
    assert joined.components()[0] == 1
    assert apart.components()[0] == 2
    d_joined, _, _ = joined.distance_to_targets(np.array([[100, 100]]), np.array([park]), 20.0)
    d_apart, which, _ = apart.distance_to_targets(np.array([[100, 100]]), np.array([park]), 20.0)
    # 99.7 m down the side street (the 0.3 m gap is bridged), 95 m west to x = 5 (20 m from the park).
    assert d_joined[0] == pytest.approx(99.7 + 100 - 5)
    assert np.isnan(d_apart[0]) and which[0] == -1


def test_crossings_not_noded_when_asked() -> None:
    lines = np.array([LineString([(0, 0), (200, 0)]), LineString([(100, -100), (100, 100)])])
    assert StreetNetwork.from_lines(lines).components()[0] == 1
    assert StreetNetwork.from_lines(lines, node_crossings=False).components()[0] == 2


def test_densely_digitised_curve_does_not_collapse() -> None:
    # Vertices every 0.1 m (closer than the tolerance): only line ends are snapped, so the length stays.
    arc = shapely.segmentize(LineString([(0, 0), (50, 0), (50, 50)]), 0.1)
    net = StreetNetwork.from_lines(np.array([arc]), tolerance_m=0.5)
    assert net.edge_len.sum() == pytest.approx(100.0)
    d, _, _ = net.distance_to_targets(np.array([[0, 0]]), np.array([box(40, 60, 60, 80)]), 15.0)
    assert d[0] == pytest.approx(95.0)


def test_disconnected_part_gives_nan_not_a_crash() -> None:
    lines = np.array([LineString([(0, 0), (100, 0)]), LineString([(0, 500), (100, 500)])])
    net = StreetNetwork.from_lines(lines)
    dist, which, _ = net.distance_to_targets(np.array([[50, 0], [50, 500]]), np.array([box(150, -10, 170, 10)]), 60.0)
    assert net.components()[0] == 2
    assert dist[0] == pytest.approx(40.0)  # the street is within 60 m of the park from x = 90 on
    assert np.isnan(dist[1]) and which.tolist() == [0, -1]


def test_parallel_edges_keep_the_shortest() -> None:
    straight = LineString([(0, 0), (100, 0)])
    detour = LineString([(0, 0), (50, 40), (100, 0)])
    net = StreetNetwork.from_lines(np.array([straight, detour]))
    d, _, _ = net.distance_to_targets(np.array([[0, 0]]), np.array([box(110, -5, 130, 5)]), 10.0)
    assert d[0] == pytest.approx(100.0)


def test_no_targets_gives_nan() -> None:
    net = StreetNetwork.from_lines(grid_lines())
    dist, which, _ = net.distance_to_targets(np.array([[0, 0]]), np.empty(0, dtype=object), 20.0)
    assert np.isnan(dist).all() and (which == -1).all()
