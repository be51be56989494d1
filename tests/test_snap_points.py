"""Point snapping through the KD-tree of segment pieces: exact nearest edge, ties to the lowest id."""

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry import LineString, Point

from renogis.network import _nearest_edge_of_points, build_walk_network, snap

CRS = "EPSG:4548"


def _net(lines):
    return build_walk_network(gpd.GeoDataFrame(
        {"street_id": [f"S{i}" for i in range(len(lines))]}, geometry=lines, crs=CRS))


def test_tie_between_parallel_streets_goes_to_lowest_edge_id():
    # two parallel 200 m streets 100 m apart; the point is 50 m from both
    net = _net([LineString([(0, 0), (200, 0)]), LineString([(0, 100), (200, 100)])])
    e = _nearest_edge_of_points(net, np.array([[80.0, 50.0]]))
    assert e.tolist() == [0]
    s = snap(net, gpd.GeoSeries([Point(80, 50)], crs=CRS))
    assert s.edge.tolist() == [0]
    assert s.connector_m.tolist() == [50.0]
    assert s.pos_m.tolist() == [80.0]


def test_long_segment_far_point_and_bent_line():
    # one 1 km segment (cut into pieces by the index) and a short bent street far from it
    net = _net([LineString([(0, 0), (1000, 0)]),
                LineString([(0, 500), (10, 500), (10, 510)])])
    xy = np.array([[500.0, 240.0], [500.0, 260.0], [-300.0, 0.0], [12.0, 520.0]])
    e = _nearest_edge_of_points(net, xy)
    eg = np.asarray(net.edges.geometry.values)
    got = shapely.distance(shapely.points(xy), eg[e])
    # 240 m to the long street, 260 m is nearer to the bend (dist to (10, 500) = sqrt(490^2+240^2)...)
    exact = np.array([min(shapely.distance(Point(*p), g) for g in eg) for p in xy])
    assert np.array_equal(got, exact)
    assert got[0] == 240.0
    assert got[2] == 300.0
    assert round(float(got[3]), 9) == round(float(np.hypot(2.0, 10.0)), 9)


def test_same_distance_as_strtree_on_a_grid():
    from renogis.datasets.synthetic import make_street_grid

    net = build_walk_network(make_street_grid(2000, seed=0))
    rng = np.random.default_rng(7)
    lo, hi = net.node_xy.min(axis=0) - 80, net.node_xy.max(axis=0) + 80
    xy = np.vstack([rng.uniform(lo, hi, (3000, 2)), net.node_xy[:200]])
    pts = shapely.points(xy)
    eg = np.asarray(net.edges.geometry.values)
    _, ref = net.edge_tree().query_nearest(pts, all_matches=False)
    got = _nearest_edge_of_points(net, xy)
    assert np.array_equal(shapely.distance(pts, eg[got]), shapely.distance(pts, eg[ref]))
