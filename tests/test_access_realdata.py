"""The access model against an independent networkx implementation of it.

The reference below shares nothing with renogis.access but the edge geometries of the noded
network: it densifies every street at 1 m into a networkx graph, snaps facilities and gates to
the nearest sample whose connector crosses no barrier, takes as a compound's access points every
sample within c + 15 m of its polygon (c: its nearest admissible sample) and runs networkx
Dijkstra from a super source per category. Sampling at 1 m puts it within about 3 m of the exact
model. Compared on the bundled sample (gates, a river with bridges, facilities inside compounds)
and on the real OpenStreetMap extracts in ../shared/realdata (Nanjing, Helsinki) with an
artificial river drawn across them (no bridge tags: every street line crossing it is a crossing).
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
import shapely

from renogis import access as acc
from renogis.datasets import sample_path
from renogis.network import build_walk_network
from renogis.standards import load_standards
from renogis.validate import load
from tests.test_realdata_network import HELSINKI, NANJING, to_contract

STD = load_standards()
STEP_M = 1.0
FRONTAGE_M = 15.0


class Reference:
    """Independent, brute-force implementation of the access model on a 1 m densified network."""

    def __init__(self, edges: gpd.GeoDataFrame, barriers: shapely.Geometry | None) -> None:
        self.barrier = barriers
        g = nx.Graph()
        xy_list, node_list = [], []
        for e, (u, v, geom) in enumerate(zip(edges["u"], edges["v"], edges.geometry, strict=True)):
            length = geom.length
            n = max(int(np.ceil(length / STEP_M)), 1)
            pos = np.linspace(0.0, length, n + 1)
            pts = shapely.get_coordinates(shapely.line_interpolate_point(geom, pos))
            names = [("n", int(u))] + [("s", e, i) for i in range(1, n)] + [("n", int(v))]
            for a, b, da, db in zip(names[:-1], names[1:], pos[:-1], pos[1:], strict=True):
                w = db - da
                if not g.has_edge(a, b) or g[a][b]["weight"] > w:
                    g.add_edge(a, b, weight=w)
            xy_list.append(pts)
            node_list.extend(names)
        self.g = g
        self._cache: dict[bytes, tuple[np.ndarray, np.ndarray]] = {}
        self.xy = np.concatenate(xy_list)
        self.pts = shapely.points(self.xy)
        self.names = node_list
        if self.barrier is not None:
            shapely.prepare(self.barrier)

    def _admissible(self, geom: shapely.Geometry, idx: np.ndarray) -> np.ndarray:
        if self.barrier is None or len(idx) == 0:
            return np.ones(len(idx), dtype=bool)
        lines = shapely.shortest_line(geom, self.pts[idx])
        return ~shapely.crosses(lines, self.barrier)

    def _window(self, geom: shapely.Geometry, r: float) -> np.ndarray:
        x0, y0, x1, y1 = geom.bounds
        m = ((self.xy[:, 0] >= x0 - r) & (self.xy[:, 0] <= x1 + r)
             & (self.xy[:, 1] >= y0 - r) & (self.xy[:, 1] <= y1 + r))
        return np.flatnonzero(m)

    def nearest(self, geom: shapely.Geometry) -> tuple[np.ndarray, np.ndarray]:
        """Admissible samples within c + FRONTAGE_M (polygons) or the nearest one (points)."""
        key = geom.wkb
        if key not in self._cache:
            self._cache[key] = self._nearest(geom)
        return self._cache[key]

    def _nearest(self, geom: shapely.Geometry) -> tuple[np.ndarray, np.ndarray]:
        r = 200.0
        margin = 0.0 if geom.geom_type == "Point" else FRONTAGE_M
        while r < 20_000:
            idx = self._window(geom, r)
            d = shapely.distance(geom, self.pts[idx])
            order = np.argsort(d, kind="stable")
            idx, d = idx[order], d[order]
            # brute force in rings: admissibility of every sample up to c + margin
            lo = 0
            c = np.inf
            keep_i, keep_d = [], []
            while lo < len(d) and d[lo] <= min(c + margin, r):
                hi = int(np.searchsorted(d, min(d[lo] + margin + 1.0, r), side="right"))
                hi = max(hi, lo + 1)
                ok = self._admissible(geom, idx[lo:hi])
                if ok.any():
                    c = min(c, d[lo:hi][ok].min())
                keep_i.append(idx[lo:hi][ok])
                keep_d.append(d[lo:hi][ok])
                lo = hi
            if np.isfinite(c) and c + margin <= r:
                ki, kd = np.concatenate(keep_i), np.concatenate(keep_d)
                sel = kd <= c + margin
                if margin == 0.0:
                    sel = np.flatnonzero(sel)[:1]
                return ki[sel], kd[sel]
            r *= 4
        return np.zeros(0, dtype=int), np.zeros(0)

    def distances(self, compounds, gates, facilities, category, cutoff):
        fac = facilities[facilities["category"] == category]
        out = np.full(len(compounds), np.inf)
        if fac.empty:
            return out
        src = ("src", category)
        for j, geom in enumerate(fac.geometry):
            pt = geom if geom.geom_type == "Point" else geom.representative_point()
            k, d = self.nearest(pt)
            if len(k):
                self.g.add_edge(src, self.names[k[0]], weight=float(d[0]))
        dist = nx.single_source_dijkstra_path_length(self.g, src, cutoff=cutoff)
        self.g.remove_node(src)
        gate_of = {}
        if gates is not None:
            for cid, geom in zip(gates["compound_id"], gates.geometry, strict=True):
                gate_of.setdefault(cid, []).append(geom)
        for i, (cid, poly) in enumerate(zip(compounds["compound_id"], compounds.geometry,
                                            strict=True)):
            if fac.geometry.intersects(poly).any():
                out[i] = 0.0
                continue
            best = np.inf
            for origin in gate_of.get(cid, [poly]):
                k, d = self.nearest(origin)
                for kk, dd in zip(k, d, strict=True):
                    best = min(best, dd + dist.get(self.names[kk], np.inf))
            out[i] = best if best <= cutoff else np.inf
        return out


def compare(compounds, gates, facilities, net, barriers, categories, *, min_pairs):
    ours = acc.compute_access(compounds, facilities, network=net, standards=STD, gates=gates,
                              categories=categories)
    ref = Reference(net.edges, barriers)
    diffs, n_pairs, mismatched_reach = [], 0, 0
    for cat in categories:
        cutoff = max(3 * STD.rule(cat).radius_m, 2000.0)
        r = ref.distances(compounds, gates, facilities, cat, cutoff)
        o = ours.loc[ours["category"] == cat, "distance_m"].to_numpy(dtype=float)
        o = np.where(np.isnan(o), np.inf, o)
        both = np.isfinite(r) & np.isfinite(o) & (r < 2000.0)
        diffs.append(np.abs(o[both] - r[both]) <= np.maximum(5.0, 0.01 * r[both]))
        n_pairs += int(both.sum())
        # reachability agrees (away from the search cutoff, where 1 m sampling may differ)
        clear = (np.minimum(r, o) < cutoff - 10.0) | (np.isinf(r) & np.isinf(o))
        mismatched_reach += int((np.isfinite(r) != np.isfinite(o))[clear].sum())
    ok = np.concatenate(diffs)
    assert n_pairs >= min_pairs
    assert ok.mean() >= 0.99, f"{(~ok).sum()} of {n_pairs} pairs differ by more than 5 m / 1%"
    assert mismatched_reach == 0
    return ours, n_pairs


# ----------------------------------------------------------------------------- the sample
def test_sample_matches_the_reference():
    ds = load(sample_path())
    net = build_walk_network(ds.get("streets"), barriers=ds.get("barriers"))
    barrier = shapely.union_all(shapely.boundary(ds.get("barriers").geometry.values)) \
        if ds.get("barriers").geom_type.isin(["Polygon", "MultiPolygon"]).all() \
        else shapely.union_all(ds.get("barriers").geometry.values)
    cats = [c for c in ("kindergarten", "clinic", "food_market", "parking", "canteen")
            if (ds.get("facilities")["category"] == c).any()]
    ours, n = compare(ds.compounds, ds.get("gates"), ds.get("facilities"), net, barrier, cats,
                      min_pairs=100)
    assert set(ours["method"]) >= {"network"}


# ----------------------------------------------------------------------------- real extracts
AMENITY = {"restaurant": "canteen", "fast_food": "canteen", "cafe": "canteen",
           "parking": "parking", "toilets": "public_toilet", "school": "primary_school",
           "hospital": "clinic", "clinic": "clinic", "doctors": "clinic", "pharmacy": "clinic"}


def real_city(path: Path | None, *, lines_layer, tags, ids, landuse_layer, crs):
    if path is None or not path.exists():
        pytest.skip(f"real data not found: {path} is absent (../shared/realdata)")
    raw = gpd.read_file(path, layer=lines_layer).reset_index(drop=True)
    raw["row_id"] = ids(raw)
    streets = to_contract(raw, tags=tags, ids="row_id", crs=crs)
    land = gpd.read_file(path, layer=landuse_layer).to_crs(crs)
    land = land[land.geom_type.isin(["Polygon", "MultiPolygon"])].reset_index(drop=True)
    land["geometry"] = shapely.make_valid(land.geometry.values)
    land = land[land.geom_type.isin(["Polygon", "MultiPolygon"]) & (land.area > 100)]
    compounds = gpd.GeoDataFrame({"compound_id": [f"L{i}" for i in range(len(land))],
                                  "households": 100}, geometry=land.geometry.values, crs=crs)
    pois = gpd.read_file(path, layer="pois").to_crs(crs)
    pois = pois[pois.geom_type.isin(["Point", "Polygon", "MultiPolygon"])]
    cat = pois["amenity"].map(AMENITY)
    pois = pois[cat.notna()]
    facilities = gpd.GeoDataFrame({"facility_id": [f"F{i}" for i in range(len(pois))],
                                   "category": cat[cat.notna()].to_numpy()},
                                  geometry=pois.geometry.values, crs=crs)
    # an untagged river across the middle of the extract
    x0, y0, x1, y1 = streets.total_bounds
    ym = 0.5 * (y0 + y1)
    river = shapely.LineString([(x0 - 100, ym - 150), (x1 + 100, ym + 150)])
    barriers = gpd.GeoDataFrame({"barrier_id": ["river"]}, geometry=[river], crs=crs)
    return streets, compounds, facilities, barriers, river


@pytest.mark.realdata
@pytest.mark.parametrize("city", ["nanjing", "helsinki"])
def test_real_extract_matches_the_reference(city):
    if city == "nanjing":
        streets, compounds, facilities, barriers, river = real_city(
            NANJING, lines_layer="highways", tags="other_tags",
            ids=lambda r: r["osm_id"].astype(str), landuse_layer="landuse_areas", crs="EPSG:4549")
    else:
        streets, compounds, facilities, barriers, river = real_city(
            HELSINKI, lines_layer="walk_edges", tags="tags",
            ids=lambda r: r["id"].astype(str) + ":" + r["u"].astype(str) + "-" + r["v"].astype(str),
            landuse_layer="landuse", crs="EPSG:32635")
    plain = build_walk_network(streets)
    net = build_walk_network(streets, barriers=barriers)
    # the river cuts nothing: the same parts, nodes and edges as without it
    assert net.report["barrier_crossings"] > 5
    assert (net.report["components"], net.n_nodes, len(net.edges)) == (
        plain.report["components"], plain.n_nodes, len(plain.edges))
    cats = sorted(set(facilities["category"]))
    assert len(cats) >= 3
    compare(compounds, None, facilities, net, river, cats, min_pairs=300)
