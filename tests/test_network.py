"""Walk network: noding, levels, barriers, components, snapping and distances."""

from __future__ import annotations

import logging

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
import shapely
from shapely import LineString, Point, Polygon, box

from renogis import schema
from renogis._errors import CRSError, InputError
from renogis.network import (
    WalkNetwork,
    build_walk_network,
    distance_matrix,
    nearest_distance,
    node_distances,
    service_area,
    snap,
)

CRS = "EPSG:4548"


def streets(lines, **cols) -> gpd.GeoDataFrame:
    n = len(lines)
    data = {
        schema.STREET_ID: cols.pop("ids", [f"s{i}" for i in range(n)]),
        schema.STREET_CLASS: ["local"] * n,
        schema.WALKABLE: [True] * n,
        schema.BRIDGE: [False] * n,
        schema.TUNNEL: [False] * n,
        schema.LAYER: [0] * n,
    }
    data.update(cols)
    return gpd.GeoDataFrame(data, geometry=list(lines), crs=CRS)


def pts(*xy) -> gpd.GeoSeries:
    return gpd.GeoSeries([Point(p) for p in xy], crs=CRS)


FRAME = LineString([(0, 0), (100, 0), (100, 100), (0, 100), (0, 0)])
H = LineString([(0, 50), (100, 50)])
V = LineString([(50, 0), (50, 100)])


# ----------------------------------------------------------------------------- noding
def test_plus_crossing_gets_a_junction():
    net = build_walk_network(streets([H, V]))
    assert net.n_nodes == 5
    assert len(net.edges) == 4
    assert sorted(net.edges.length_m) == [50.0, 50.0, 50.0, 50.0]
    assert net.report["junctions_skipped"] == 0
    center = np.flatnonzero((net.node_xy == [50, 50]).all(axis=1))
    assert len(center) == 1
    assert net.graph[center[0]].nnz == 4
    assert (net.graph != net.graph.T).nnz == 0
    d, i = nearest_distance(net, pts((10, 50)), pts((50, 90)))
    assert d[0] == pytest.approx(80.0)
    assert i[0] == 0


@pytest.mark.parametrize(
    "cols",
    [
        {"bridge": [False, True, False]},
        {"tunnel": [False, True, False]},
        {"layer": [0, 1, 0]},
        {"layer": [1, 0, 1]},
    ],
)
def test_crossing_on_other_level_is_not_a_junction(cols):
    # H and V cross at (50, 50); their ends lie on the frame, so everything connects there
    net = build_walk_network(streets([H, V, FRAME], **cols))
    assert net.report["junctions_skipped"] == 1
    assert net.report["components"] == 1
    # the path goes around: 10 west, 50 north, 50 east, 10 south
    d, _ = nearest_distance(net, pts((10, 50)), pts((50, 90)))
    assert d[0] == pytest.approx(120.0)


def test_two_bridges_on_the_same_level_join():
    net = build_walk_network(streets([H, V, FRAME], bridge=[True, True, False]))
    d, _ = nearest_distance(net, pts((10, 50)), pts((50, 90)))
    assert d[0] == pytest.approx(80.0)


def test_shared_end_and_t_junction_connect():
    a = LineString([(0, 0), (100, 0)])
    b = LineString([(100, 0), (100, 80)])  # shares an end point with a
    c = LineString([(40, 0), (40, -60)])  # ends on the interior of a (T)
    d_ = LineString([(100, 40), (180, 40)])  # bridge starting on the interior of b
    net = build_walk_network(streets([a, b, c, d_], bridge=[False, False, False, True]))
    assert net.report["components"] == 1
    assert net.n_nodes == 7
    dist, _ = nearest_distance(net, pts((40, -60)), pts((180, 40)))
    assert dist[0] == pytest.approx(60 + 60 + 40 + 80)


def test_long_line_with_many_vertices_and_shared_vertex_junction():
    # an OSM-like crossing at a shared interior vertex, and a collinear overlap
    a = LineString([(0, 0), (30, 0), (60, 0), (100, 0)])
    b = LineString([(60, -50), (60, 0), (60, 50)])
    c = LineString([(20, 0), (40, 0)])  # overlaps a
    net = build_walk_network(streets([a, b, c]))
    # nodes: a ends, b ends, (60,0), c ends (20,0) (40,0), and a's vertex (30,0) inside the overlap
    assert net.n_nodes == 8
    assert net.edges.length_m.sum() == pytest.approx(100 + 100 + 20)
    assert shapely.get_num_coordinates(net.edges.geometry).sum() == 2 * len(net.edges)
    dist, _ = nearest_distance(net, pts((0, 0)), pts((60, 50)))
    assert dist[0] == pytest.approx(110.0)


def test_edges_carry_street_attributes_and_geometry_lengths():
    net = build_walk_network(streets([H, V], ids=["h", "v"], **{"class": ["arterial", "path"]}))
    e = net.edges.sort_values(["street_id", "length_m"])
    assert e.street_id.tolist() == ["h", "h", "v", "v"]
    assert e["class"].tolist() == ["arterial", "arterial", "path", "path"]
    assert np.allclose(e.geometry.length, e.length_m)
    assert e.crs == net.crs
    assert net.edges.edge_id.tolist() == list(range(4))


def test_not_walkable_and_empty_dropped_and_reported():
    s = streets([H, V, LineString()], walkable=[True, False, True])
    net = build_walk_network(s)
    assert net.report["not_walkable"] == 1
    assert net.report["not_walkable_ids"] == ["s1"]
    assert net.report["empty_geometries"] == 1
    assert len(net.edges) == 1
    assert net.edges.street_id.tolist() == ["s0"]


def test_input_not_modified():
    s = streets([H, V])
    before = s.copy()
    build_walk_network(s)
    assert s.equals(before)
    assert list(s.columns) == list(before.columns)


def test_multilinestring_and_missing_columns():
    s = gpd.GeoDataFrame(
        geometry=[shapely.MultiLineString([[(0, 0), (10, 0)], [(10, 0), (10, 10)]])], crs=CRS
    )
    net = build_walk_network(s)
    assert net.n_nodes == 3
    assert net.edges.street_id.tolist() == ["0", "0"]
    assert net.edges["class"].tolist() == ["local", "local"]


# ----------------------------------------------------------------------------- components
def test_every_component_kept_and_reported(caplog):
    island = LineString([(500, 500), (530, 500)])
    s = streets([H, V, island], ids=["h", "v", "island"])
    with caplog.at_level(logging.INFO, logger="renogis.network"):
        net = build_walk_network(s)
    r = net.report
    assert r["components"] == 2
    assert r["dropped_edges"] == 0
    assert r["largest_share"] == pytest.approx(200 / 230)
    assert r["nodes"] == 7 and r["edges"] == 5
    assert r["length_m"] == pytest.approx(230.0)
    assert "island" in set(net.edges.street_id)
    assert "2 connected parts (largest 87.0% of the length)" in caplog.text
    lengths = np.sort(net.component_lengths())
    assert lengths.tolist() == pytest.approx([30.0, 200.0])
    # distances across parts are unreachable, within a part they are exact
    d, i = nearest_distance(net, pts((510, 505), (10, 50)), pts((520, 500)))
    assert d[0] == pytest.approx(15.0)
    assert d[1] == np.inf and i[1] == -1
    # the old behaviour is still available on request
    big = build_walk_network(s, keep_largest=True)
    assert big.report["dropped_edges"] == 1
    assert big.report["dropped_length_m"] == pytest.approx(30.0)
    assert big.report["dropped_street_ids"] == ["island"]
    assert big.report["kept_length_share"] == pytest.approx(200 / 230)
    assert len(big.edges) == 4


# ----------------------------------------------------------------------------- barriers
ROAD = LineString([(0, 0), (200, 0)])
BYPASS = LineString([(50, 0), (50, 80), (150, 80), (150, 0)])
RIVER = gpd.GeoDataFrame({"barrier_id": ["r"]}, geometry=[LineString([(100, -50), (100, 100)])],
                         crs=CRS)


def test_barrier_never_cuts_an_untagged_street_line():
    # a street line drawn across a river with no bridge tag is the crossing
    net = build_walk_network(streets([ROAD]), barriers=RIVER)
    assert net.report["barrier_crossings"] == 1
    assert net.report["components"] == 1
    d, i = nearest_distance(net, pts((90, 0)), pts((110, 0)))
    assert d[0] == pytest.approx(20.0)
    assert ((net.node_xy == [100, 0]).all(axis=1)).sum() == 0  # no node at the crossing
    both = build_walk_network(streets([ROAD, BYPASS], bridge=[False, True]), barriers=RIVER)
    assert both.report["barrier_crossings"] == 2  # the road and the bridge each cross once
    d, _ = nearest_distance(both, pts((90, 0)), pts((110, 0)))
    assert d[0] == pytest.approx(20.0)


def test_barrier_touching_a_street_is_no_crossing():
    wall = gpd.GeoDataFrame(geometry=[LineString([(100, 0), (100, 50)])], crs=CRS)
    net = build_walk_network(streets([ROAD]), barriers=wall)
    assert net.report["barrier_crossings"] == 0
    d, _ = nearest_distance(net, pts((90, 0)), pts((110, 0)))
    assert d[0] == pytest.approx(20.0)


def test_polygon_barrier_counts_two_crossings_and_keeps_the_street():
    site = gpd.GeoDataFrame(geometry=[box(90, -10, 110, 10)], crs=CRS)
    net = build_walk_network(streets([ROAD]), barriers=site)
    assert net.report["barrier_crossings"] == 2
    assert net.report["components"] == 1
    assert net.edges.length_m.sum() == pytest.approx(200.0)


def test_connector_never_crosses_a_barrier():
    # a street on each bank of a river, no crossing: a point on the south bank 2 m from the
    # river joins the south street (8 m away), not the north street (4 m away, across)
    south = LineString([(0, -10), (200, -10)])
    north = LineString([(0, 2), (200, 2)])
    river = gpd.GeoDataFrame(geometry=[LineString([(-50, 0), (250, 0)])], crs=CRS)
    net = build_walk_network(streets([south, north]), barriers=river)
    s = snap(net, pts((100, -2)))
    assert s.connector_m[0] == pytest.approx(8.0)
    assert net.edges.street_id[s.edge[0]] == "s0"
    free = build_walk_network(streets([south, north]))
    assert snap(free, pts((100, -2))).connector_m[0] == pytest.approx(4.0)
    # a facility on the north bank is unreachable from the south bank (two parts)
    d, _ = nearest_distance(net, pts((100, -2)), pts((100, 1)))
    assert d[0] == np.inf
    d, _ = nearest_distance(free, pts((100, -2)), pts((100, 1)))
    assert d[0] == pytest.approx(4.0 + 1.0)
    # an oblique street crossing the river: the south-bank point joins it on the south side
    oblique = LineString([(90, -40), (130, 40)])
    net2 = build_walk_network(streets([oblique]), barriers=river)
    s2 = snap(net2, pts((120, -1)))
    # foot of (120, -1) on the line is north of the river; the crossing point (110, 0) is used
    xy = shapely.get_coordinates(s2.point[0])[0]
    assert xy == pytest.approx([110.0, 0.0])
    assert s2.connector_m[0] == pytest.approx(np.hypot(10, 1))


def test_junction_tolerance_survives_a_lon_lat_round_trip():
    # a T junction whose stem ends exactly on the main street; then every end point is moved
    # 1 nm off as a round trip through lon/lat does
    main = LineString([(0, 0), (300, 0)])
    stem = LineString([(120, 150), (120, 0)])
    far = LineString([(300, 0), (300, 150)])
    base = build_walk_network(streets([main, stem, far]))
    assert base.report["components"] == 1
    for dy in (1e-9, -1e-9, 7e-10, 5e-4):
        moved = LineString([(120, 150), (120, dy)])
        net = build_walk_network(streets([main, stem if dy == 0 else moved, far]))
        assert net.report["components"] == 1, dy
        assert net.n_nodes == base.n_nodes
        d, _ = nearest_distance(net, pts((120, 150)), pts((300, 150)))
        assert d[0] == pytest.approx(150 + 180 + 150, abs=1e-3)
    # 2 mm off is beyond the 1 mm tolerance: a separate part
    gap = build_walk_network(streets([main, LineString([(120, 150), (120, 2e-3)]), far]))
    assert gap.report["components"] == 2


def test_real_round_trip_through_lon_lat_keeps_one_part():
    lines = [LineString([(0, 0), (300, 0)]), LineString([(120, 150), (120, 0)]),
             LineString([(300, 0), (300, 150)]), LineString([(0, 0), (0, 80)])]
    s = streets(lines)
    s = s.set_geometry(s.geometry.translate(527_000, 3_853_000))
    back = s.to_crs("EPSG:4326").to_crs(CRS)
    net0 = build_walk_network(s)
    net1 = build_walk_network(back)
    assert net0.report["components"] == net1.report["components"] == 1
    o = pts((527_120, 3_853_150), (527_000, 3_853_080))
    dst = pts((527_300, 3_853_150))
    d0, _ = nearest_distance(net0, o, dst)
    d1, _ = nearest_distance(net1, o, dst)
    assert d1 == pytest.approx(d0, abs=1e-3)
    assert d0.tolist() == pytest.approx([480.0, 80 + 300 + 150])


# ----------------------------------------------------------------------------- snapping
def test_point_snaps_mid_edge_with_exact_split_distance():
    net = build_walk_network(streets([LineString([(0, 0), (100, 0)])]))
    compound = gpd.GeoSeries([Polygon([(70, 5), (75, 10), (70, 15), (65, 10)])], crs=CRS)
    d, i = nearest_distance(net, compound, pts((30, 10)))
    assert d[0] == pytest.approx(5 + 40 + 10)
    assert i[0] == 0
    s = snap(net, compound)
    assert s.connector_m[0] == pytest.approx(5.0)
    assert s.pos_m[0] == pytest.approx(70.0)


def test_origin_and_destination_on_the_same_edge_and_on_nodes():
    net = build_walk_network(streets([H, V]))
    d, i = nearest_distance(net, pts((20, 50), (50, 50), (0, 50)), pts((35, 50), (50, 50)))
    assert d == pytest.approx([15.0, 0.0, 35.0])
    assert i.tolist() == [0, 1, 0]


def test_nearest_picks_the_closest_by_network_not_straight_line():
    # destination 0 is 2 m away straight but 40 + 2 x 30 + 40 by street; destination 1 is 30 m
    a = LineString([(0, 0), (100, 0), (100, 30), (140, 30)])
    b = LineString([(140, 30), (140, 0), (102, 0)])
    net = build_walk_network(streets([a, b]))
    d, i = nearest_distance(net, pts((99, 0)), pts((103, 0), (69, 0)))
    assert i[0] == 1
    assert d[0] == pytest.approx(30.0)


def test_cutoff_and_missing_geometries():
    net = build_walk_network(streets([H, V]))
    o = gpd.GeoSeries([Point(10, 50), None, Point(50, 0)], crs=CRS)
    d, i = nearest_distance(net, o, pts((50, 90)), cutoff_m=80.0)
    assert d[0] == pytest.approx(80.0)
    assert d[1] == np.inf and i[1] == -1
    assert d[2] == np.inf and i[2] == -1  # 90 m > cutoff
    d, i = nearest_distance(net, o, gpd.GeoSeries([], crs=CRS))
    assert np.isinf(d).all() and (i == -1).all()


def test_node_distances():
    net = build_walk_network(streets([H, V]))
    d, i = node_distances(net, pts((50, 60)))
    order = np.lexsort(net.node_xy.T[::-1])  # sort by x then y
    xy = net.node_xy[order]
    assert xy.tolist() == [[0, 50], [50, 0], [50, 50], [50, 100], [100, 50]]
    assert d[order] == pytest.approx([60, 60, 10, 40, 60])
    assert (i == 0).all()


# ----------------------------------------------------------------------------- matrices
def test_distance_matrix_values_cutoff_and_zero():
    net = build_walk_network(streets([H, V]))
    o = pts((10, 50), (50, 50))
    dst = pts((50, 90), (50, 50), (100, 50))
    m = distance_matrix(net, o, dst, cutoff_m=85.0)
    assert m.shape == (2, 3)
    dense = m.toarray()
    assert dense[0].tolist() == pytest.approx([80.0, 40.0, 0.0])  # 90 > cutoff: not stored
    assert dense[1].tolist() == pytest.approx([40.0, 1e-6, 50.0])
    assert m.nnz == 5
    # from the other side (more destinations than origins) gives the transpose
    mt = distance_matrix(net, dst, o, cutoff_m=85.0)
    assert np.allclose(mt.toarray(), dense.T)


def test_straight_line_fallback():
    o = pts((0, 0), (1000, 0))
    dst = pts((30, 40), (0, 100))
    d, i = nearest_distance(None, o, dst)
    assert d.tolist() == pytest.approx([65.0, 1.3 * np.hypot(970, 40)])
    assert i.tolist() == [0, 0]
    d, i = nearest_distance(None, o, dst, cutoff_m=100.0, detour_factor=1.5)
    assert d.tolist() == pytest.approx([75.0, np.inf])
    assert i.tolist() == [0, -1]
    m = distance_matrix(None, o, dst, cutoff_m=200.0)
    assert np.allclose(m.toarray(), [[65.0, 130.0], [0.0, 0.0]])
    assert m.nnz == 2
    area = service_area(None, pts((0, 0)), radius_m=130.0)
    assert area.area == pytest.approx(np.pi * 100**2, rel=1e-2)


# ----------------------------------------------------------------------------- service area
def test_service_area_cuts_partial_edges():
    net = build_walk_network(streets([LineString([(0, 0), (1000, 0)])]))
    area = service_area(net, pts((500, 0)), radius_m=100.0, buffer_m=10.0)
    assert area.bounds == pytest.approx((390.0, -10.0, 610.0, 10.0))
    area = service_area(net, pts((500, 30)), radius_m=100.0, buffer_m=10.0)
    assert area.bounds == pytest.approx((420.0, -10.0, 580.0, 40.0))
    far = service_area(net, pts((500, 300)), radius_m=100.0, buffer_m=10.0)
    assert far.bounds == pytest.approx((490.0, 290.0, 510.0, 310.0))


def test_service_area_follows_the_network():
    a = LineString([(0, 0), (100, 0), (100, 30), (140, 30)])
    b = LineString([(140, 30), (140, 0), (102, 0)])
    net = build_walk_network(streets([a, b]))
    area = service_area(net, pts((90, 0)), radius_m=100.0, buffer_m=1.0)
    assert area.contains(Point(100, 20))
    assert not area.contains(Point(115, 0))  # 2 m straight from the first street, 75 m more walk
    assert area.bounds[0] == pytest.approx(-1.0)


# ----------------------------------------------------------------------------- errors
def test_errors():
    with pytest.raises(InputError, match="streets layer is empty"):
        build_walk_network(streets([]))
    with pytest.raises(CRSError, match="is not projected"):
        build_walk_network(streets([H]).to_crs("EPSG:4326"))
    with pytest.raises(CRSError, match="has no CRS"):
        build_walk_network(streets([H]).set_crs(None, allow_override=True))
    bad = gpd.GeoDataFrame({"street_id": ["p1"]}, geometry=[Point(0, 0)], crs=CRS)
    with pytest.raises(InputError, match=r"not LineString/MultiLineString \(street_id p1\)"):
        build_walk_network(bad)
    with pytest.raises(InputError, match="no walkable street"):
        build_walk_network(streets([H], walkable=[False]))
    with pytest.raises(CRSError, match="barriers layer CRS EPSG:4549 differs from streets"):
        build_walk_network(streets([ROAD]), barriers=RIVER.to_crs("EPSG:4549"))
    net = build_walk_network(streets([H]))
    with pytest.raises(CRSError, match="origins CRS EPSG:4549 differs from walk network"):
        nearest_distance(net, pts((0, 0)).to_crs("EPSG:4549"), pts((0, 0)))
    with pytest.raises(InputError, match="cutoff_m must be >= 0"):
        nearest_distance(net, pts((0, 0)), pts((0, 0)), cutoff_m=-1.0)
    with pytest.raises(InputError, match="detour_factor must be a finite number >= 1"):
        nearest_distance(None, pts((0, 0)), pts((0, 0)), detour_factor=0.5)
    with pytest.raises(InputError, match="buffer_m must be >= 0"):
        service_area(net, pts((0, 0)), radius_m=10.0, buffer_m=-1.0)
    with pytest.raises(CRSError, match="destinations CRS EPSG:4549 differs from origins"):
        nearest_distance(None, pts((0, 0)), pts((0, 0)).to_crs("EPSG:4549"))
    with pytest.raises(CRSError, match="origins CRS EPSG:4326 is not projected"):
        distance_matrix(None, pts((0, 0)).to_crs("EPSG:4326"), pts((0, 0)), cutoff_m=1.0)


# ----------------------------------------------------------------------------- networkx oracle
def random_city(n_lines: int, *, seed: int, size: float = 2000.0) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    lines = []
    for _ in range(n_lines):
        k = rng.integers(2, 6)
        start = rng.uniform(0, size, 2)
        steps = rng.normal(0, size / 4, (k - 1, 2))
        lines.append(LineString(np.vstack([start, start + np.cumsum(steps, axis=0)])))
    n = len(lines)
    return streets(
        lines,
        bridge=list(rng.random(n) < 0.1),
        tunnel=[False] * n,
        layer=list(np.where(rng.random(n) < 0.05, 1, 0)),
    )


def nx_oracle(net: WalkNetwork, origins: np.ndarray, dests: np.ndarray):
    """networkx graph of the noded edges plus virtual snap nodes, snapped by brute force."""
    g = nx.Graph()
    for u, v, w in zip(net.edges.u, net.edges.v, net.edges.length_m, strict=True):
        if not g.has_edge(u, v) or g[u][v]["weight"] > w:
            g.add_edge(int(u), int(v), weight=float(w))
    egeom = np.asarray(net.edges.geometry.values)
    splits: dict[int, list[tuple[float, object]]] = {}
    names = []
    for kind, geoms in (("o", origins), ("d", dests)):
        for k, p in enumerate(geoms):
            e = int(np.argmin(shapely.distance(egeom, p)))
            pos = float(shapely.line_locate_point(egeom[e], p))
            conn = float(p.distance(shapely.line_interpolate_point(egeom[e], pos)))
            node = (kind, k)
            splits.setdefault(e, []).append((pos, ("s", kind, k)))
            g.add_edge(node, ("s", kind, k), weight=conn)
            names.append(node)
    eu, ev, el = net.edges.u.to_numpy(), net.edges.v.to_numpy(), net.edges.length_m.to_numpy()
    for e, items in splits.items():
        items.sort(key=lambda t: t[0])
        chain = [(0.0, int(eu[e]))] + items + [(float(el[e]), int(ev[e]))]
        for (p0, n0), (p1, n1) in zip(chain[:-1], chain[1:], strict=True):
            g.add_edge(n0, n1, weight=max(p1 - p0, 0.0))
    return g


def test_distances_match_networkx_on_random_city():
    s = random_city(60, seed=3)
    net = build_walk_network(s)
    assert net.report["junctions_skipped"] > 0
    rng = np.random.default_rng(7)
    o = gpd.GeoSeries(shapely.points(rng.uniform(0, 2000, (40, 2))), crs=CRS)
    dst = gpd.GeoSeries(shapely.points(rng.uniform(0, 2000, (12, 2))), crs=CRS)
    d, i = nearest_distance(net, o, dst)
    m = distance_matrix(net, o, dst, cutoff_m=np.inf).toarray()
    g = nx_oracle(net, np.asarray(o.values), np.asarray(dst.values))
    ref = np.full((len(o), len(dst)), np.inf)
    for j in range(len(dst)):
        lengths = nx.single_source_dijkstra_path_length(g, ("d", j))
        for k in range(len(o)):
            ref[k, j] = lengths.get(("o", k), np.inf)
    fin = np.isfinite(ref)
    assert fin.sum() > 0.7 * fin.size  # every part is kept: some points snap to small parts
    assert np.abs(m[fin] - ref[fin]).max() < 0.5
    assert (m[~fin] == 0).all()  # unreachable pairs are not stored
    best = ref.min(axis=1)
    reach = np.isfinite(best)
    assert np.array_equal(np.isfinite(d), reach)
    assert np.abs(d[reach] - best[reach]).max() < 0.5
    assert np.allclose(ref[np.flatnonzero(reach), i[reach]], best[reach], atol=0.5)
    assert (i[~reach] == -1).all()
    # bounded matrix keeps exactly the pairs within the cutoff
    mc = distance_matrix(net, o, dst, cutoff_m=1500.0)
    assert mc.nnz == int((ref <= 1500.0).sum())
    dc, _ = nearest_distance(net, o, dst, cutoff_m=500.0)
    best = ref.min(axis=1)
    assert np.array_equal(np.isfinite(dc), best <= 500.0)


def test_graph_matches_edges_and_lengths():
    s = random_city(40, seed=11)
    net = build_walk_network(s)
    assert np.allclose(net.edges.geometry.length, net.edges.length_m)
    # noding preserves total walkable length (largest component share reported)
    total = s.geometry.length.sum()
    kept = net.edges.length_m.sum()
    assert kept == pytest.approx(total * net.report["kept_length_share"])
    # every edge end is at its node
    start = shapely.get_coordinates(shapely.get_point(net.edges.geometry, 0))
    end = shapely.get_coordinates(shapely.get_point(net.edges.geometry, -1))
    assert np.abs(start - net.node_xy[net.edges.u]).max() < 1e-6
    assert np.abs(end - net.node_xy[net.edges.v]).max() < 1e-6
    # no two edges cross in their interiors unless on different levels
    same = net.edges[~net.edges.bridge & (net.edges.layer == 0)]
    geoms = np.asarray(same.geometry.values)
    a, b = shapely.STRtree(geoms).query(geoms, predicate="crosses")
    assert len(a) == 0


def test_numpy_polygon_distance_matches_shapely():
    from renogis.network import _PolygonDistance

    rng = np.random.default_rng(5)
    polys = [box(0, 0, 100, 60), Polygon([(0, 0), (50, 80), (100, 0), (50, 30)]),
             box(0, 0, 100, 100).difference(box(30, 30, 70, 70)),
             shapely.MultiPolygon([box(0, 0, 10, 10), box(50, 50, 60, 60)])]
    g = np.array(polys, dtype=object)
    xy = rng.uniform(-30, 130, (4000, 2))
    owner = rng.integers(0, len(polys), 4000)
    got = _PolygonDistance(g)(xy, owner, chunk=700)
    ref = shapely.distance(g[owner], shapely.points(xy))
    assert np.allclose(got, ref, atol=1e-9)
    assert (got == 0).sum() > 100  # points inside, including in the hole-free parts
