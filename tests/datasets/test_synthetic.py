from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from geopandas.testing import assert_geodataframe_equal
from hypothesis import given, settings
from hypothesis import strategies as st

from renogis import schema as S
from renogis._errors import InputError
from renogis.datasets.synthetic import (
    AREA,
    LAYER_COLUMNS,
    SAMPLE_CLUSTER_AREA,
    make_city,
    make_sample,
    make_street_grid,
)

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample.gpkg"


@pytest.fixture(scope="module")
def city() -> dict[str, gpd.GeoDataFrame]:
    return make_city(600, seed=3)


@pytest.fixture(scope="module")
def sample() -> dict[str, gpd.GeoDataFrame]:
    return {name: gpd.read_file(SAMPLE, layer=name) for name in S.LAYERS}


def _geoms(gdf: gpd.GeoDataFrame) -> np.ndarray:
    return np.asarray(gdf.geometry.values, dtype=object)


def _overlap_area(a: np.ndarray, b: np.ndarray | None = None) -> float:
    """Total area of pairwise intersections (within a, or between a and b)."""
    tree = shapely.STRtree(a)
    if b is None:
        i, j = tree.query(a, predicate="intersects")
        keep = i < j
        return float(shapely.area(shapely.intersection(a[i[keep]], a[j[keep]])).sum())
    i, j = tree.query(b, predicate="intersects")
    return float(shapely.area(shapely.intersection(b[i], a[j])).sum())


def _count_crossings(lines: np.ndarray) -> int:
    tree = shapely.STRtree(lines)
    i, j = tree.query(lines, predicate="intersects")
    keep = i < j
    inter = shapely.intersection(lines[i[keep]], lines[j[keep]])
    return int(shapely.get_num_geometries(inter).sum())


# --------------------------------------------------------------------------- make_city
def test_same_seed_identical_other_seed_differs():
    a = make_city(150, seed=11)
    b = make_city(150, seed=11)
    c = make_city(150, seed=12)
    for name in S.LAYERS:
        assert_geodataframe_equal(a[name], b[name])
    assert not a[S.COMPOUNDS].geometry.geom_equals(c[S.COMPOUNDS].geometry).all()


def test_layers_and_columns_per_contract(city):
    assert set(city) == set(S.LAYERS)
    for name, gdf in city.items():
        assert tuple(gdf.columns) == LAYER_COLUMNS[name], name
        assert isinstance(gdf.index, pd.RangeIndex)
        assert gdf.crs.to_epsg() == 4548
        assert gdf.geometry.geom_type.isin(S.GEOMETRY_TYPES[name]).all(), name
        assert gdf[S.ID_COLUMNS[name]].is_unique, name
    comp = city[S.COMPOUNDS]
    for col in (S.HOUSEHOLDS, S.BUILDINGS, S.BUILT_YEAR, S.PARKING_SPACES):
        assert pd.api.types.is_integer_dtype(comp[col]), col
    assert comp[S.OWNERS_COMMITTEE].dtype == bool
    assert city[S.PARCELS][S.KIND].isin(S.PARCEL_KINDS).all()
    assert city[S.FACILITIES][S.CATEGORY].isin(list(S.CATEGORIES)).all()
    streets = city[S.STREETS]
    assert streets[S.STREET_CLASS].isin(S.STREET_CLASSES).all()
    assert set(streets[S.STREET_CLASS]) == set(S.STREET_CLASSES)
    assert streets[S.WALKABLE].all() and not streets[S.TUNNEL].any()
    assert (streets[S.LAYER] == streets[S.BRIDGE].astype(int)).all()
    assert set(city[S.GATES][S.COMPOUND_ID]) == set(comp[S.COMPOUND_ID])


def test_exact_count_and_other_crs():
    out = make_city(37, seed=2, crs="EPSG:32650", origin=(400_000.0, 3_800_000.0))
    assert len(out[S.COMPOUNDS]) == 37
    assert all(g.crs.to_epsg() == 32650 for g in out.values())
    minx, miny = out[S.COMPOUNDS].total_bounds[:2]
    assert 400_000 < minx < 400_100 and 3_800_000 < miny < 3_800_100


def test_realistic_magnitudes(city):
    comp = city[S.COMPOUNDS]
    assert comp[S.HOUSEHOLDS].between(60, 400).all()
    assert 115 <= comp[S.HOUSEHOLDS].mean() <= 200
    assert 3.5 <= comp[S.BUILDINGS].mean() <= 5.5
    assert comp[S.BUILT_YEAR].between(1975, 2005).all()
    assert comp[S.CONSENT].between(0.4, 1.0).all()
    assert 0.2 <= comp[S.OWNERS_COMMITTEE].mean() <= 0.4
    assert 90 <= comp[S.FLOOR_AREA_M2].sum() / comp[S.HOUSEHOLDS].sum() <= 110
    assert (comp[S.POPULATION] > comp[S.HOUSEHOLDS]).all()
    assert comp[S.SUBDISTRICT].nunique() >= 2
    assert comp[S.NAME].is_unique
    parcels = city[S.PARCELS]
    assert len(parcels) == round(600 / 8)
    assert parcels[S.AREA_M2].between(200, 6000).all()
    np.testing.assert_allclose(parcels[S.AREA_M2], parcels.area, atol=0.05)
    assert parcels[S.FLOOR_AREA_M2].isna().eq(parcels[S.KIND] == "vacant_land").all()


def test_compounds_tile_without_overlap(city):
    comp = _geoms(city[S.COMPOUNDS])
    assert shapely.is_valid(comp).all()
    assert _overlap_area(comp) < 1e-6
    # some neighbours share walls, others are 5-25 m apart across lanes
    tree = shapely.STRtree(comp)
    i, j = tree.query(comp, predicate="dwithin", distance=26.0)
    keep = i < j
    d = shapely.distance(comp[i[keep]], comp[j[keep]])
    assert (d == 0).sum() > 50
    assert ((d >= 5) & (d <= 25)).sum() > 50
    # parcels are valid, inside the city and never overlap compounds or each other
    parcels = _geoms(city[S.PARCELS])
    assert shapely.is_valid(parcels).all()
    assert _overlap_area(comp, parcels) == 0.0
    assert _overlap_area(parcels) == 0.0


def test_facilities_inside_compounds_and_categories_missing():
    out = make_city(200, seed=5, missing_categories=["nursery", "elderly_day_care"])
    fac = out[S.FACILITIES]
    assert not fac[S.CATEGORY].isin(["nursery", "elderly_day_care"]).any()
    assert fac[S.CATEGORY].nunique() == len(S.CATEGORIES) - 2
    assert fac.within(out[S.COMPOUNDS].union_all()).all()
    assert fac.loc[fac[S.CATEGORY] == "kindergarten", S.CAPACITY].between(90, 360).all()
    assert fac.loc[fac[S.CATEGORY] == "clinic", S.CAPACITY].isna().all()
    default = make_city(200, seed=5)[S.FACILITIES]
    assert default[S.CATEGORY].nunique() == len(S.CATEGORIES) - 4


def test_streets_long_unsplit_and_clear_of_compounds(city):
    streets = city[S.STREETS]
    lines = _geoms(streets)
    crossings = _count_crossings(lines)
    assert len(lines) < crossings
    # no line runs through a compound or a parcel
    assert _overlap_area(_geoms(city[S.COMPOUNDS]), lines) == 0.0
    assert not shapely.STRtree(lines).query(_geoms(city[S.COMPOUNDS]), predicate="intersects").size
    # an arterial crosses others at interior points, not at shared vertices
    art = streets[(streets[S.STREET_CLASS] == "arterial") & ~streets[S.BRIDGE]]
    horizontal = art.geometry.bounds.eval("maxy - miny") < 10
    h, v = _geoms(art[horizontal]), _geoms(art[~horizontal])
    assert len(h) >= 2 and len(v) >= 2
    x = shapely.intersection(h[0], v[0])
    assert x.geom_type == "Point"
    vertices = shapely.get_coordinates(np.array([h[0], v[0]]))
    assert np.min(np.hypot(*(vertices - shapely.get_coordinates(x)).T)) > 0.01
    # a north-south arterial spans the whole city
    ymin, ymax = city[S.COMPOUNDS].total_bounds[[1, 3]]
    assert (art[~horizontal].geometry.bounds.miny < ymin).any()


def test_river_and_bridges(city):
    river = city[S.BARRIERS].geometry.iloc[0]
    streets = city[S.STREETS]
    bridges = streets[streets[S.BRIDGE]]
    assert len(bridges) >= 1
    assert (bridges[S.LAYER] == 1).all()
    assert bridges.intersects(river).all()
    assert not streets[~streets[S.BRIDGE]].intersects(river).any()
    assert not city[S.COMPOUNDS].intersects(river).any()
    assert not city[S.PARCELS].intersects(river).any()
    # the river crosses the whole city east-west
    minx, _, maxx, _ = city[S.COMPOUNDS].total_bounds
    assert river.bounds[0] < minx and river.bounds[2] > maxx
    # each bridge shares its end vertices with the street before and after it (OSM style)
    ends = shapely.get_coordinates(_geoms(bridges)).round(6)
    other = shapely.get_coordinates(_geoms(streets[~streets[S.BRIDGE]])).round(6)
    assert {tuple(p) for p in ends} <= {tuple(p) for p in other}


def test_gates_on_boundary_facing_streets(city):
    comp = city[S.COMPOUNDS].set_index(S.COMPOUND_ID)
    gates = city[S.GATES]
    counts = gates[S.COMPOUND_ID].value_counts()
    assert counts.between(1, 3).all() and len(counts) == len(comp)
    boundary = shapely.boundary(_geoms(comp.loc[gates[S.COMPOUND_ID]]))
    assert shapely.distance(_geoms(gates), boundary).max() < 1e-6
    d = shapely.STRtree(_geoms(city[S.STREETS])).query_nearest(
        _geoms(gates), return_distance=True
    )[1]
    assert d.max() <= 20.5  # every gate faces a street, lane or bank road


@settings(max_examples=8, deadline=None)
@given(n=st.integers(1, 120), seed=st.integers(0, 10_000))
def test_property_any_size_and_seed(n, seed):
    out = make_city(n, seed=seed)
    comp = _geoms(out[S.COMPOUNDS])
    assert len(comp) == n
    assert shapely.is_valid(comp).all()
    assert _overlap_area(comp) < 1e-6
    assert _overlap_area(comp, _geoms(out[S.PARCELS])) == 0.0
    assert out[S.STREETS][S.BRIDGE].any()
    assert set(out[S.GATES][S.COMPOUND_ID]) == set(out[S.COMPOUNDS][S.COMPOUND_ID])


def test_scales():
    out = make_city(5_000, seed=1)
    assert len(out[S.COMPOUNDS]) == 5_000
    assert out[S.COMPOUNDS][S.SUBDISTRICT].nunique() > 10


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_compounds": 0}, r"n_compounds must be an integer >= 1, got 0"),
        ({"n_compounds": 2.5}, r"n_compounds must be an integer >= 1, got 2\.5"),
        ({"n_compounds": 10, "n_parcels": -1}, r"n_parcels must be an integer >= 0, got -1"),
        (
            {"n_compounds": 10, "missing_categories": ["nursery", "spa"]},
            r"unknown facility categories \['spa'\] in missing_categories",
        ),
    ],
)
def test_make_city_errors(kwargs, match):
    with pytest.raises(InputError, match=match):
        make_city(**kwargs)


def test_zero_parcels():
    assert len(make_city(30, n_parcels=0)[S.PARCELS]) == 0


# --------------------------------------------------------------------------- street grid
def test_street_grid_lattice():
    grid = make_street_grid(100, seed=4)
    assert tuple(grid.columns) == LAYER_COLUMNS[S.STREETS]
    assert len(grid) == 20
    assert grid.crs.to_epsg() == 4548
    assert _count_crossings(_geoms(grid)) == 100
    assert set(grid[S.STREET_CLASS]) == set(S.STREET_CLASSES)
    # no crossing point is a vertex of either line
    lines = _geoms(grid)
    verts = shapely.get_coordinates(lines)
    pts = shapely.get_coordinates(shapely.intersection(lines[0], lines[10]))
    assert np.hypot(*(verts - pts).T).min() > 1.0
    assert len(make_street_grid(1_000_000)) == 2_000
    assert len(make_street_grid(10_001)) == 2 * 101
    assert_geodataframe_equal(make_street_grid(50, seed=1), make_street_grid(50, seed=1))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_nodes": 0}, r"n_nodes must be an integer >= 1, got 0"),
        ({"n_nodes": 10, "spacing_m": 0}, r"spacing_m must be > 0, got 0"),
    ],
)
def test_street_grid_errors(kwargs, match):
    with pytest.raises(InputError, match=match):
        make_street_grid(**kwargs)


# --------------------------------------------------------------------------- bundled sample
def test_sample_file_layers_crs_and_size(sample):
    assert SAMPLE.stat().st_size < 1.5e6
    assert [name for name, _ in pyogrio.list_layers(SAMPLE)] == list(S.LAYERS)
    for name, gdf in sample.items():
        assert gdf.crs.to_epsg() == 4548
        assert shapely.is_valid(_geoms(gdf)).all()
        expected = list(LAYER_COLUMNS[name])
        if name == S.COMPOUNDS:
            expected.insert(-1, AREA)
        assert list(gdf.columns) == expected
    minx, miny, maxx, maxy = sample[S.COMPOUNDS].total_bounds
    assert 522_000 < minx < maxx < 526_000 and 3_849_500 < miny < maxy < 3_852_500


def test_sample_exact_totals(sample):
    comp = sample[S.COMPOUNDS]
    assert len(comp) == 65
    assert comp[S.BUILDINGS].sum() == 311
    assert comp[S.HOUSEHOLDS].sum() == 7_447
    assert comp[S.FLOOR_AREA_M2].sum() == 760_000
    cl = comp[comp[AREA] == SAMPLE_CLUSTER_AREA]
    assert len(cl) == 9
    assert cl[S.BUILDINGS].sum() == 43
    assert cl[S.HOUSEHOLDS].sum() == 1_759
    assert cl[S.FLOOR_AREA_M2].sum() == 166_500
    assert comp[AREA].nunique() == 5
    assert comp[S.SUBDISTRICT].nunique() >= 2
    assert cl[S.SUBDISTRICT].nunique() == 1
    assert (comp[S.BUILDINGS] >= 1).all() and (comp[S.HOUSEHOLDS] >= 30).all()
    assert _overlap_area(_geoms(comp)) < 1e-6


def test_sample_cluster_adjacent_without_arterial(sample):
    comp = sample[S.COMPOUNDS]
    cl = _geoms(comp[comp[AREA] == SAMPLE_CLUSTER_AREA])
    d = shapely.distance(cl[:, None], cl[None, :])
    graph = nx.from_numpy_array((d < 30.0).astype(int))
    assert nx.is_connected(graph)
    joined = shapely.union_all(shapely.buffer(cl, 14.99, join_style="mitre"))
    assert joined.geom_type == "Polygon"
    streets = sample[S.STREETS]
    assert not streets[streets[S.STREET_CLASS] == "arterial"].intersects(joined).any()
    assert not sample[S.BARRIERS].intersects(joined).any()
    # some idle parcels lie in or next to the cluster
    parcels = _geoms(sample[S.PARCELS])
    assert 8 <= len(parcels) <= 10
    assert (shapely.distance(parcels, joined) < 15.0).sum() >= 1


def test_sample_facilities_streets_gates(sample):
    cats = set(sample[S.FACILITIES][S.CATEGORY])
    assert {"nursery", "elderly_day_care"}.isdisjoint(cats)
    assert {"kindergarten", "clinic", "food_market", "convenience_store", "parking"} <= cats
    streets = sample[S.STREETS]
    assert streets[S.BRIDGE].any()
    assert (streets.loc[streets[S.BRIDGE], S.LAYER] == 1).all()
    assert len(streets) < _count_crossings(_geoms(streets))
    assert sample[S.GATES][S.COMPOUND_ID].isin(sample[S.COMPOUNDS][S.COMPOUND_ID]).all()
    assert sample[S.COMPOUNDS][S.NAME].str.contains("国浩美都").sum() == 9


def test_sample_file_matches_generator(sample):
    built = make_sample()
    for name in S.LAYERS:
        got = sample[name]
        exp = built[name]
        pd.testing.assert_frame_equal(
            pd.DataFrame(got.drop(columns="geometry")),
            pd.DataFrame(exp.drop(columns="geometry")),
            check_dtype=False,
        )
        assert got.geometry.geom_equals_exact(exp.geometry, tolerance=1e-6).all(), name
