"""Phases of the adjacency graph on hand-made geometry: pairs, street roles, cuts, street frontage."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely

from renogis.adjacency import (
    _barrier_cuts,
    _candidate_pairs,
    _node_table,
    _street_blocked,
    _street_contacts,
    _street_kinds,
    _Strips,
)

CRS = "EPSG:4548"


def test_candidate_pairs_skip_parcel_pairs_and_subdistrict_lines() -> None:
    c = gpd.GeoDataFrame(
        {"compound_id": ["A", "B", "C"], "households": [1, 2, 3], "subdistrict": ["x", "x", "y"]},
        geometry=[shapely.box(0, 0, 100, 100), shapely.box(110, 0, 210, 100), shapely.box(220, 0, 320, 100)],
        crs=CRS,
    )
    p = gpd.GeoDataFrame(
        {"parcel_id": ["P", "Q"]},
        geometry=[shapely.box(0, 110, 100, 150), shapely.box(110, 110, 210, 150)],
        crs=CRS,
    )
    nodes = _node_table(c, p)
    assert nodes.ids.tolist() == ["A", "B", "C", "P", "Q"]
    assert nodes.sd_code.tolist() == [0, 0, 1, -1, -1]
    assert nodes.households.tolist() == [1, 2, 3, 0, 0]
    # 10 m apart side by side, 14.1 m corner to corner
    left, right, n_sub = _candidate_pairs(nodes, gap_m=12.0, subdistrict_barrier=True)
    pairs = sorted(zip(nodes.ids[left].tolist(), nodes.ids[right].tolist(), strict=True))
    assert pairs == [("A", "B"), ("A", "P"), ("B", "Q")]  # no parcel pair P-Q, no B-C across x|y
    assert n_sub == 1
    left, right, n_sub = _candidate_pairs(nodes, gap_m=12.0, subdistrict_barrier=False)
    assert (len(left), n_sub) == (4, 0)


def test_street_kinds_and_barrier_cuts() -> None:
    streets = gpd.GeoDataFrame(
        {"class": ["arterial", "arterial", "secondary", "local"], "tunnel": [False, True, False, False]},
        geometry=[shapely.LineString([(10, -50), (10, 50)]), shapely.LineString([(20, -50), (20, 50)]),
                  shapely.LineString([(30, -50), (30, 50)]), shapely.LineString([(40, -50), (40, 50)])],
        crs=CRS,
    )  # fmt: skip
    kinds = _street_kinds(streets, None, ("arterial",), ("secondary",))
    assert [len(kinds.barriers), len(kinds.other), len(kinds.soft), len(kinds.surface)] == [1, 3, 1, 3]
    links = np.asarray(
        [shapely.LineString([(x, 0), (x + 8, 0)]) for x in (5, 15, 25, 35, 45)], dtype=object
    )
    blocked, street_between, soft = _barrier_cuts(links, kinds)
    assert blocked.tolist() == [True, False, False, False, False]  # the tunnel does not block
    assert street_between.tolist() == [False, True, True, True, False]
    assert soft.tolist() == [False, False, True, False, False]


# a 10 m lane between two facing 100 m walls: segment 0 (y = 0) faces segment 1 (y = 10)
P0, P1 = np.array([[0.0, 0.0], [0.0, 10.0]]), np.array([[100.0, 0.0], [100.0, 10.0]])
SA, SB, LO, HI = np.array([0]), np.array([1]), np.array([0.0]), np.array([1.0])


def blocked(*pts: tuple[float, float]) -> tuple[list[int], list[float], list[float]]:
    k, lo, hi = _street_blocked(P0, P1, SA, SB, LO, HI, np.asarray([shapely.LineString(pts)]))
    return k.tolist(), lo.round(9).tolist(), hi.round(9).tolist()


def test_street_frontage_on_a_lane() -> None:
    assert blocked((0, 5), (100, 5)) == ([0], [0.0], [1.0])  # a street along the lane: all of it
    assert blocked((20, 5), (60, 5), (60, 50)) == ([0], [0.2], [0.6])  # along 40 m, then out
    assert blocked((50, -5), (50, 15)) == ([], [], [])  # a path crossing from gate to gate
    assert blocked((0, 30), (100, 30)) == ([], [], [])  # beyond the facing wall


def test_strip_frame_and_street_contacts() -> None:
    strips = _Strips.of(P0, P1, SA, SB, LO, HI, eps=0.5)
    assert strips.nrm.tolist() == [[0.0, 1.0]]
    assert (strips.tq_lo.tolist(), strips.tq_hi.tolist()) == ([10.0], [10.0])
    assert (strips.box_lo.tolist(), strips.box_hi.tolist()) == ([[-0.5, -0.5]], [[100.5, 10.5]])
    s0 = np.array([[0.0, 5.0], [0.0, 30.0], [200.0, 5.0]])
    s1 = np.array([[100.0, 5.0], [100.0, 30.0], [300.0, 5.0]])
    k, s = _street_contacts(strips, SA, s0, s1)
    assert (k.tolist(), s.tolist()) == ([0], [0])
