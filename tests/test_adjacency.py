"""Adjacency graph: edges, walls, barriers, subdistricts (hand-built worlds)."""

from __future__ import annotations

import geopandas as gpd
import pytest
import shapely

from renogis._errors import CRSError, InputError
from renogis.adjacency import build_adjacency

CRS = "EPSG:4548"
X0, Y0 = 527_000.0, 3_853_000.0


def box(x0: float, y0: float, x1: float, y1: float) -> shapely.Polygon:
    return shapely.box(X0 + x0, Y0 + y0, X0 + x1, Y0 + y1)


def line(*pts: tuple[float, float]) -> shapely.LineString:
    return shapely.LineString([(X0 + x, Y0 + y) for x, y in pts])


def compounds(geoms: dict[str, shapely.Geometry], **cols: list) -> gpd.GeoDataFrame:
    data = {"compound_id": list(geoms), "households": [100] * len(geoms), **cols}
    return gpd.GeoDataFrame(data, geometry=list(geoms.values()), crs=CRS)


def streets(*rows: tuple[str, shapely.LineString]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"street_id": [f"S{i}" for i in range(len(rows))], "class": [r[0] for r in rows]},
        geometry=[r[1] for r in rows],
        crs=CRS,
    )


def test_touching_squares_wall_100() -> None:
    c = compounds({"A": box(0, 0, 100, 100), "B": box(100, 0, 200, 100)})
    G = build_adjacency(c)
    assert G.edges["A", "B"] == {
        "gap_m": 0.0, "wall_m": 100.0, "facing_m": 100.0, "street_between": False
    }
    assert G.graph["crs"] == c.crs
    assert G.nodes["A"]["kind"] == "compound"
    assert G.nodes["A"]["households"] == 100
    assert G.nodes["A"]["area_m2"] == 10_000.0
    assert G.nodes["A"]["perimeter_m"] == 400.0


def test_corner_touch_wall_zero_and_facing_lane() -> None:
    c = compounds(
        {
            "A": box(0, 0, 100, 100),
            "B": box(100, 100, 200, 200),  # corner only
            "C": box(0, -120, 100, -20),  # 20 m lane south of A
            "D": box(-300, 0, -200, 100),  # 200 m west of A: too far
        }
    )
    s = streets(("local", line((-50, -10), (150, -10))))
    G = build_adjacency(c, streets=s)
    assert G.edges["A", "B"]["wall_m"] == 0.0
    # a public street runs along the lane: 100 m facing, no wall to open
    assert G.edges["A", "C"] == {
        "gap_m": 20.0, "wall_m": 0.0, "facing_m": 100.0, "street_between": True
    }
    assert not G.has_edge("A", "D")
    assert sorted(map(sorted, G.edges)) == [["A", "B"], ["A", "C"]]


def test_wall_excludes_street_frontage() -> None:
    # A (0-100 x 0-100) faces C across a 20 m lane (C: y -120..-20)
    c = compounds({"A": box(0, 0, 100, 100), "C": box(0, -120, 100, -20)})
    # no street line in the lane: a lane inside the block, the whole wall counts
    assert build_adjacency(c).edges["A", "C"] == {
        "gap_m": 20.0, "wall_m": 100.0, "facing_m": 100.0, "street_between": False
    }
    # a footpath from A's gate to C's gate crosses the lane: it separates nothing
    gate_path = streets(("path", line((50, 0), (50, -20))))
    e = build_adjacency(c, streets=gate_path).edges["A", "C"]
    assert (e["wall_m"], e["facing_m"], e["street_between"]) == (100.0, 100.0, False)
    # a dead-end path runs along the lane from the east up to x = 60: 40 m of frontage
    dead_end = streets(("path", line((60, -10), (150, -10))))
    e = build_adjacency(c, streets=dead_end).edges["A", "C"]
    assert (e["wall_m"], e["facing_m"]) == (60.0, 100.0)
    # a secondary street along the whole lane (not a barrier by default): no wall
    e = build_adjacency(c, streets=streets(("secondary", line((-50, -10), (150, -10))))).edges[
        "A", "C"
    ]
    assert (e["wall_m"], e["facing_m"], e["street_between"]) == (0.0, 100.0, True)


def test_street_on_shared_boundary_is_no_wall() -> None:
    # touching AOIs digitised up to a street centre line drawn on their common edge
    c = compounds({"A": box(0, 0, 100, 100), "B": box(100, 0, 200, 100)})
    on_edge = streets(("local", line((100, -50), (100, 150))))
    e = build_adjacency(c, streets=on_edge).edges["A", "B"]
    assert (e["wall_m"], e["facing_m"], e["gap_m"]) == (0.0, 100.0, 0.0)
    # the street covers the southern 30 m only
    part = streets(("local", line((100, -50), (100, 30))))
    assert build_adjacency(c, streets=part).edges["A", "B"]["wall_m"] == 70.0
    # a tunnel under the edge does not separate the compounds at the surface
    tunnel = on_edge.assign(tunnel=[True])
    assert build_adjacency(c, streets=tunnel).edges["A", "B"]["wall_m"] == 100.0


def test_arterial_blocks_and_local_does_not() -> None:
    c = compounds({"A": box(0, 0, 100, 100), "B": box(120, 0, 220, 100)})
    G = build_adjacency(c, streets=streets(("arterial", line((110, -100), (110, 200)))))
    assert G.number_of_edges() == 0
    G = build_adjacency(c, streets=streets(("secondary", line((110, -100), (110, 200)))))
    assert G.edges["A", "B"]["street_between"] is True
    G = build_adjacency(
        c,
        streets=streets(("secondary", line((110, -100), (110, 200)))),
        barrier_classes=("arterial", "secondary"),
    )
    assert G.number_of_edges() == 0


def test_tunnel_arterial_is_not_a_barrier() -> None:
    c = compounds({"A": box(0, 0, 100, 100), "B": box(120, 0, 220, 100)})
    s = streets(("arterial", line((110, -100), (110, 200))))
    s["tunnel"] = [True]
    G = build_adjacency(c, streets=s)
    assert G.edges["A", "B"]["street_between"] is True


def test_river_polygon_and_line_barrier() -> None:
    c = compounds({"A": box(0, 0, 100, 100), "B": box(120, 0, 220, 100)})
    assert build_adjacency(c).edges["A", "B"]["gap_m"] == 20.0
    river = gpd.GeoDataFrame({"barrier_id": ["R"]}, geometry=[box(105, -500, 115, 500)], crs=CRS)
    assert build_adjacency(c, barriers=river).number_of_edges() == 0
    rail = gpd.GeoDataFrame(
        {"barrier_id": ["L"]}, geometry=[line((110, -500), (110, 500))], crs=CRS
    )
    assert build_adjacency(c, barriers=rail).number_of_edges() == 0


def test_subdistrict_line() -> None:
    c = compounds(
        {"A": box(0, 0, 100, 100), "B": box(100, 0, 200, 100), "C": box(200, 0, 300, 100)},
        subdistrict=["甲街道", "乙街道", None],
    )
    G = build_adjacency(c)
    assert sorted(map(sorted, G.edges)) == [["B", "C"]]
    G = build_adjacency(c, subdistrict_barrier=False)
    assert sorted(map(sorted, G.edges)) == [["A", "B"], ["B", "C"]]
    assert G.nodes["A"]["subdistrict"] == "甲街道"
    assert G.nodes["C"]["subdistrict"] is None


def test_parcels_link_to_compounds_only() -> None:
    c = compounds({"A": box(0, 0, 100, 100)})
    p = gpd.GeoDataFrame(
        {
            "parcel_id": ["P1", "P2"],
            "kind": ["vacant_land", "vacant_land"],
            "area_m2": [2500.0, None],
        },
        geometry=[box(100, 0, 150, 50), box(150, 0, 200, 50)],
        crs=CRS,
    )
    G = build_adjacency(c, parcels=p)
    assert sorted(map(sorted, G.edges)) == [["A", "P1"]]
    assert G.edges["A", "P1"]["wall_m"] == 50.0
    assert G.nodes["P1"]["kind"] == "parcel"
    assert G.nodes["P1"]["households"] == 0
    assert G.nodes["P2"]["area_m2"] == 2500.0  # NaN area_m2 falls back to the geometry


def test_multipolygon_wall() -> None:
    mp = shapely.MultiPolygon([box(0, 0, 100, 100), box(0, 200, 100, 300)])
    c = compounds({"A": mp, "B": box(100, 0, 200, 100), "C": box(100, 200, 150, 300)})
    G = build_adjacency(c)
    assert G.edges["A", "B"]["wall_m"] == 100.0
    assert G.edges["A", "C"]["wall_m"] == 100.0
    assert not G.has_edge("B", "C")


def test_errors() -> None:
    c = compounds({"A": box(0, 0, 100, 100), "B": box(100, 0, 200, 100)})
    with pytest.raises(CRSError, match="layer 'compounds' has no CRS"):
        build_adjacency(c.set_crs(None, allow_override=True))
    with pytest.raises(CRSError, match="geographic CRS"):
        build_adjacency(c.to_crs("EPSG:4326"))
    other = streets(("local", line((0, 0), (1, 1)))).to_crs("EPSG:3857")
    with pytest.raises(
        CRSError, match="layer 'streets' is in EPSG:3857 but compounds are in EPSG:4548"
    ):
        build_adjacency(c, streets=other)
    with pytest.raises(InputError, match="gap_m must be a finite number >= 0"):
        build_adjacency(c, gap_m=-1)
    with pytest.raises(InputError, match="wall_tolerance_m must be > 0"):
        build_adjacency(c, wall_tolerance_m=0)
    dup = c.assign(compound_id=["A", "A"])
    with pytest.raises(InputError, match="duplicate compound_id values: A"):
        build_adjacency(dup)
    with pytest.raises(InputError, match="has no 'households' column"):
        build_adjacency(c.drop(columns="households"))
    with pytest.raises(InputError, match="layer 'compounds' has no 'compound_id' column"):
        build_adjacency(c.drop(columns="compound_id"))
    p = gpd.GeoDataFrame({"parcel_id": ["A"]}, geometry=[box(300, 0, 310, 10)], crs=CRS)
    with pytest.raises(InputError, match="ids used by both a compound and a parcel: A"):
        build_adjacency(c, parcels=p)
    empty = c.copy()
    empty.loc[1, "geometry"] = None
    with pytest.raises(InputError, match="empty or missing geometry for ids: B"):
        build_adjacency(empty)


def test_does_not_modify_inputs() -> None:
    c = compounds({"A": box(0, 0, 100, 100), "B": box(100, 0, 200, 100)}, subdistrict=[None, "x"])
    before = c.copy()
    build_adjacency(c)
    assert c.equals(before)
