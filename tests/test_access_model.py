"""The access model on hand-built cases whose answers are worked out by hand (issue 10, point 6).

Frontage tie, a river crossed by untagged street lines, a real OSM bridge over a ground street,
a facility inside a compound, two network parts, opened walls that do and do not bring a member
within the radius, a missing facilities layer, a category declared without data, connectors that
are implausibly long.
"""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely import LineString, Point, box

from renogis import access as acc
from renogis._errors import InputError
from renogis.network import build_walk_network, frontage_points
from renogis.outputs import gap_tables
from renogis.standards import load_standards

CRS = "EPSG:4548"
STD = load_standards()
KG = ["kindergarten"]


def streets(lines, **cols):
    n = len(lines)
    data = {"street_id": cols.pop("ids", [f"s{i}" for i in range(n)]), "class": ["local"] * n,
            "walkable": [True] * n, "bridge": [False] * n, "tunnel": [False] * n, "layer": [0] * n}
    data.update(cols)
    return gpd.GeoDataFrame(data, geometry=list(lines), crs=CRS)


def compounds(polys, households=None, ids=None):
    n = len(polys)
    return gpd.GeoDataFrame(
        {"compound_id": ids or [chr(ord("A") + i) for i in range(n)],
         "households": households or [100] * n},
        geometry=list(polys), crs=CRS)


def facilities(rows):
    """rows: (facility_id, category, x, y) or (facility_id, category, geometry)."""
    geoms = [r[2] if len(r) == 3 else Point(r[2], r[3]) for r in rows]
    return gpd.GeoDataFrame({"facility_id": [r[0] for r in rows], "category": [r[1] for r in rows],
                             "capacity": [np.nan] * len(rows)}, geometry=geoms, crs=CRS)


def value(table, unit, cat, col):
    rows = table[(table["compound_id"] == unit) & (table["category"] == cat)]
    assert len(rows) == 1
    return rows[col].iat[0]


# ----------------------------------------------------------------------------- frontage tie
STREET = LineString([(-500, 0), (1000, 0)])
SLAB = box(0, 10, 200, 110)  # its south side runs 10 m from the street along its whole length


def test_frontage_tie_is_resolved_towards_the_facility():
    net = build_walk_network(streets([STREET]))
    fac = facilities([("F", "kindergarten", 400, -5)])
    out = acc.compute_access(compounds([SLAB]), fac, network=net, standards=STD, categories=KG)
    # every point of the south side is 10 m from the street (a tie); with a 15 m frontage the
    # best access point is where the 25 m circle around the corner (200, 10) meets the street:
    # x = 200 + sqrt(25^2 - 10^2); cost 25 + walk to (400, 0) + connector 5
    s = math.sqrt(25**2 - 10**2)
    assert out["distance_m"].iat[0] == pytest.approx(25 + (200 - s) + 5, abs=0.01)
    assert out["access_m"].iat[0] == pytest.approx(25.0, abs=0.01)
    assert out["method"].iat[0] == "network"
    # with no frontage margin only the side itself is an access point: its east end is used
    out0 = acc.compute_access(compounds([SLAB]), fac, network=net, standards=STD, categories=KG,
                              frontage_m=0.0)
    assert out0["distance_m"].iat[0] == pytest.approx(10 + 200 + 5, abs=0.01)
    # a facility to the west: the west end, symmetric
    west = facilities([("W", "kindergarten", -200, -5)])
    out_w = acc.compute_access(compounds([SLAB]), west, network=net, standards=STD,
                               categories=KG)
    assert out_w["distance_m"].iat[0] == pytest.approx(25 + (200 - s) + 5, abs=0.01)
    # the centroid alternative joins at the representative point (100, 60): 60 + 300 + 5
    outc = acc.compute_access(compounds([SLAB]), fac, network=net, standards=STD, categories=KG,
                              access="centroid")
    assert outc["distance_m"].iat[0] == pytest.approx(60 + 300 + 5, abs=0.01)
    assert outc["access_m"].iat[0] == pytest.approx(60.0)
    with pytest.raises(InputError, match="unknown access model 'gate'"):
        acc.compute_access(compounds([SLAB]), fac, network=net, standards=STD, access="gate")


def test_frontage_points_are_the_stretch_ends_and_facility_snaps():
    net = build_walk_network(streets([STREET]))
    pts = frontage_points(net, gpd.GeoSeries([SLAB], crs=CRS))
    s = math.sqrt(25**2 - 10**2)
    x = np.sort(pts.xy[:, 0])
    # the nearest point (somewhere on the side) and the two ends of the stretch within 25 m
    assert x[0] == pytest.approx(-s, abs=1e-3) and x[-1] == pytest.approx(200 + s, abs=1e-3)
    assert (pts.xy[:, 1] == 0).all()
    assert np.sort(pts.cost_m)[-2:] == pytest.approx([25.0, 25.0], abs=1e-3)
    assert pts.cost_m.min() == pytest.approx(10.0)
    # a facility snapped inside the stretch adds its snap point as an access point
    also = frontage_points(net, gpd.GeoSeries([SLAB], crs=CRS),
                           also_at=(np.array([0]), np.array([500.0 + 80.0])))
    assert 80.0 in np.round(also.xy[:, 0], 6)


def test_gates_take_the_nearest_gate_and_ignore_the_frontage():
    net = build_walk_network(streets([STREET]))
    fac = facilities([("F", "kindergarten", 400, -5)])
    gates = gpd.GeoDataFrame({"gate_id": ["g1", "g2"], "compound_id": ["A", "A"]},
                             geometry=[Point(20, 10), Point(150, 10)], crs=CRS)
    out = acc.compute_access(compounds([SLAB]), fac, network=net, standards=STD, categories=KG,
                             gates=gates)
    assert out["distance_m"].iat[0] == pytest.approx(10 + 250 + 5)
    assert out["access_m"].iat[0] == pytest.approx(10.0)


# ----------------------------------------------------------------------------- river, bridge
RIVER = gpd.GeoDataFrame({"barrier_id": ["river"]},
                         geometry=[LineString([(-500, 200), (1000, 200)])], crs=CRS)


def test_river_crossed_by_untagged_street_lines():
    # two east-west streets on either bank, joined by two untagged north-south lines that cross
    # the river: local data draw a bridge as a plain street line
    south = LineString([(-100, 150), (600, 150)])
    north = LineString([(-100, 250), (600, 250)])
    cross1 = LineString([(0, 150), (0, 250)])
    cross2 = LineString([(500, 150), (500, 250)])
    net = build_walk_network(streets([south, north, cross1, cross2]), barriers=RIVER)
    assert net.report["barrier_crossings"] == 2
    assert net.report["components"] == 1
    comp = compounds([box(180, 100, 220, 140)])  # south bank, 10 m below the south street
    fac = facilities([("F", "kindergarten", 200, 260)])  # north bank, 10 m above the north street
    out = acc.compute_access(comp, fac, network=net, standards=STD, categories=KG,
                             frontage_m=0.0)
    # the south side ties at 10 m; its west end (180, 150) is used: 180 west to x=0, 100
    # across, 200 east, 10 up: the river is crossed on the untagged street line
    assert out["distance_m"].iat[0] == pytest.approx(10 + 180 + 100 + 200 + 10, abs=0.01)
    # the straight line (120 m, across the river) is not used without streets either
    nostreet = acc.compute_access(comp, fac, network=None, standards=STD, categories=KG,
                                  barriers=RIVER)
    assert nostreet["method"].iat[0] == "unreachable"
    assert np.isnan(nostreet["distance_m"].iat[0])
    free = acc.compute_access(comp, fac, network=None, standards=STD, categories=KG)
    assert free["method"].iat[0] == "straight_line"
    assert free["distance_m"].iat[0] == pytest.approx(120 * 1.3)
    # nor does the 2SFCA catchment of the fallback cross it
    cap = fac.assign(capacity=[50.0])
    blocked = acc.compute_gaps(comp, nostreet, facilities=cap, standards=STD)
    open_ = acc.compute_gaps(comp, free, facilities=cap, standards=STD)
    assert blocked["supply"].iat[0] == 0.0
    assert open_["supply"].iat[0] == pytest.approx(50.0)


def test_facility_across_the_river_joins_its_own_bank():
    # the facility is 4 m south of the river, 14 m from the street on the far bank and 46 m
    # from the street on its own bank: its connector may not cross the river
    south = LineString([(-100, 150), (600, 150)])
    north = LineString([(-100, 210), (600, 210)])
    cross = LineString([(500, 150), (500, 210)])
    net = build_walk_network(streets([south, north, cross]), barriers=RIVER)
    comp = compounds([box(180, 100, 220, 140)])
    fac = facilities([("F", "kindergarten", 200, 196)])
    out = acc.compute_access(comp, fac, network=net, standards=STD, categories=KG,
                             frontage_m=0.0)
    # the facility's snap point (200, 150) lies on the compound's frontage: 10 + 46
    assert out["distance_m"].iat[0] == pytest.approx(10 + 46, abs=0.01)
    no_river = build_walk_network(streets([south, north, cross]))
    out2 = acc.compute_access(comp, fac, network=no_river, standards=STD, categories=KG,
                              frontage_m=0.0)
    # without the river it would join the far street: 10 + 280 + 60 + 300 + 14
    assert out2["distance_m"].iat[0] == pytest.approx(10 + 280 + 60 + 300 + 14, abs=0.01)


def test_real_osm_bridge_over_a_ground_street_is_no_junction():
    ground = LineString([(0, 0), (400, 0)])
    bridge = LineString([(200, -100), (200, 100)])
    ramp_w = LineString([(0, 0), (0, 100), (200, 100)])
    net = build_walk_network(streets([ground, bridge, ramp_w], bridge=[False, True, False]))
    assert net.report["junctions_skipped"] == 1
    comp = compounds([box(190, -60, 210, -40)])  # next to the bridge, south of the street
    fac = facilities([("F", "kindergarten", 250, 0)])
    out = acc.compute_access(comp, fac, network=net, standards=STD, categories=KG,
                             frontage_m=0.0)
    # the compound touches the bridge line (0 m connector) and may not step down onto the
    # street it passes over: north on the bridge to (200, 100), west 200, south 100, east 250
    assert out["distance_m"].iat[0] == pytest.approx(140 + 200 + 100 + 250, abs=0.01)
    tagged_off = build_walk_network(streets([ground, bridge, ramp_w]))
    out2 = acc.compute_access(comp, fac, network=tagged_off, standards=STD, categories=KG,
                              frontage_m=0.0)
    assert out2["distance_m"].iat[0] == pytest.approx(40 + 50, abs=0.01)


# ----------------------------------------------------------------------------- inside
def test_facility_inside_or_touching_a_compound_serves_it_at_zero():
    net = build_walk_network(streets([STREET]))
    comp = compounds([SLAB, box(300, 10, 400, 110)])
    fac = facilities([("K_in", "kindergarten", 50, 60),  # in A's grounds
                      ("C_edge", "clinic", 400, 60),  # on B's east wall
                      ("K_poly", "nursery", box(390, 100, 420, 130))])  # polygon overlapping B
    out = acc.compute_access(comp, fac, network=net, standards=STD,
                             categories=["kindergarten", "clinic", "nursery"], frontage_m=0.0)
    assert value(out, "A", "kindergarten", "distance_m") == 0.0
    assert value(out, "A", "kindergarten", "method") == "inside"
    assert value(out, "A", "kindergarten", "access_m") == 0.0
    assert value(out, "A", "kindergarten", "nearest_facility_id") == "K_in"
    assert value(out, "B", "clinic", "method") == "inside"
    assert value(out, "B", "nursery", "method") == "inside"
    # B reaches A's kindergarten over the street: 10 + 250 + 60 (its connector to the street)
    assert value(out, "B", "kindergarten", "distance_m") == pytest.approx(10 + 250 + 60)
    assert value(out, "B", "kindergarten", "method") == "network"
    # without streets: still 0 inside
    s = acc.compute_access(comp, fac, network=None, standards=STD, categories=["kindergarten"])
    assert value(s, "A", "kindergarten", "method") == "inside"
    assert value(s, "B", "kindergarten", "method") == "straight_line"
    # the 2SFCA catchment counts the inside facility too
    fac_cap = fac.assign(capacity=[90.0, np.nan, np.nan])
    gaps = acc.compute_gaps(comp, out, facilities=fac_cap, standards=STD, network=net)
    kg = gaps[gaps["category"] == "kindergarten"].set_index("unit_id")
    assert kg.loc["A", "supply"] == pytest.approx(90.0)  # B (320 m) is outside the 300 m radius


# ----------------------------------------------------------------------------- parts
def test_two_network_parts_unreachable_and_reported():
    main = LineString([(0, 0), (2000, 0)])
    island = LineString([(0, 500), (60, 500)])  # a 60 m lane nobody linked to the rest
    net = build_walk_network(streets([main, island]))
    assert net.report["components"] == 2
    comp = compounds([box(0, 10, 100, 110), box(0, 400, 60, 490)], households=[900, 100])
    fac = facilities([("F", "kindergarten", 50, -5)])
    out = acc.compute_access(comp, fac, network=net, standards=STD, categories=KG,
                             frontage_m=0.0)
    assert value(out, "A", "kindergarten", "method") == "network"
    assert value(out, "B", "kindergarten", "method") == "unreachable"
    assert np.isnan(value(out, "B", "kindergarten", "distance_m"))
    rep = acc.access_report(out)
    assert rep["components"] == 2
    assert rep["compounds_on_parts_without_facility"] == {"kindergarten": 1}
    assert rep["compounds_on_parts_without_facility_ids"] == {"kindergarten": ["B"]}
    # 10% of households sit on a part holding 60 / 2060 = 2.9% of the length: warned
    assert rep["compounds_on_small_parts"] == 1
    assert rep["households_on_small_parts"] == 100
    assert any("10.0% of households" in w for w in rep["warnings"])
    # 0.5% of households there: no warning
    few = compounds([box(0, 10, 100, 110), box(0, 400, 60, 490)], households=[995, 5])
    rep2 = acc.access_report(acc.compute_access(few, fac, network=net, standards=STD,
                                                categories=KG))
    assert not any("of households" in w and "parts" in w for w in rep2["warnings"])


def test_implausibly_long_connectors_warn():
    net = build_walk_network(streets([LineString([(5000, 5000), (6000, 5000)])]))
    comp = compounds([box(0, 0, 100, 100), box(200, 0, 300, 100)])
    fac = facilities([("F", "kindergarten", 5500, 4990)])
    out = acc.compute_access(comp, fac, network=net, standards=STD, categories=KG)
    rep = acc.access_report(out)
    assert rep["connector_median_m"] > 4000
    assert any("implausibly long" in w for w in rep["warnings"])
    near = compounds([box(5000, 5010, 5100, 5100)])
    rep2 = acc.access_report(acc.compute_access(near, fac, network=net, standards=STD,
                                                categories=KG))
    assert rep2["connector_median_m"] == pytest.approx(10.0)
    assert not any("implausibly long" in w for w in rep2["warnings"])


# ----------------------------------------------------------------------------- merging
def merging_world(separating_path: bool = False):
    """A on the south street, B north of A sharing A's north wall, facing its own north street.

    The north street joins the south street only at x = 600. A facility sits on the south street.
    """
    south = LineString([(-100, 0), (600, 0)])
    north = LineString([(-100, 220), (600, 220)])
    link = LineString([(600, 0), (600, 220)])
    lines = [south, north, link]
    if separating_path:
        lines.append(LineString([(0, 110), (100, 110)]))  # a lane along the shared wall
    net = build_walk_network(streets(lines))
    comp = compounds([box(0, 10, 100, 110), box(0, 110, 100, 210)], households=[100, 200])
    comp = comp.assign(district_id=["D1", "D1"])
    return net, comp


def test_opened_wall_brings_a_member_within_the_radius():
    net, comp = merging_world()
    fac = facilities([("F", "kindergarten", 50, -5)])
    out = acc.compute_access(comp, fac, network=net, standards=STD, categories=KG)
    # B alone: its frontage on the north street reaches x = 100 + s (25 m from its corner),
    # then east to 600, south 220, west to 50 and the 5 m connector
    s = math.sqrt(25**2 - 10**2)
    assert value(out, "B", "kindergarten", "distance_m") == pytest.approx(
        25 + (500 - s) + 220 + 550 + 5, abs=0.01)
    assert value(out, "A", "kindergarten", "distance_m") == pytest.approx(15.0, abs=0.01)
    gaps = acc.compute_gaps(comp, out, facilities=fac, standards=STD, network=net)
    b = gaps[(gaps["unit_id"] == "B") & (gaps["category"] == "kindergarten")].iloc[0]
    # after merging B walks through the opened wall and leaves by A's access point (50, 0):
    # straight 110 m from B's polygon, then 0 m along the street and the 5 m connector
    assert b["distance_merged_m"] == pytest.approx(115.0, abs=0.01)
    assert (b["covered_households"], b["covered_households_merged"]) == (0, 200)
    d = gaps[(gaps["level"] == "district") & (gaps["category"] == "kindergarten")].iloc[0]
    assert (d["covered_households"], d["covered_households_merged"]) == (100, 300)


def test_opened_wall_not_enough_for_the_radius():
    net, comp = merging_world()
    fac = facilities([("F", "kindergarten", 350, -5)])
    out = acc.compute_access(comp, fac, network=net, standards=STD, categories=KG)
    s = math.sqrt(25**2 - 10**2)  # A's frontage reaches x = 100 + s on the south street
    assert value(out, "A", "kindergarten", "distance_m") == pytest.approx(
        25 + (250 - s) + 5, abs=0.01)
    gaps = acc.compute_gaps(comp, out, facilities=fac, standards=STD, network=net)
    b = gaps[(gaps["unit_id"] == "B") & (gaps["category"] == "kindergarten")].iloc[0]
    # through A: from A's stretch end (100 + s, 0), straight to B's corner (100, 110)
    expected = math.hypot(s, 110) + (250 - s) + 5
    assert b["distance_merged_m"] == pytest.approx(expected, abs=0.01)
    assert expected > 300
    assert (b["covered_households"], b["covered_households_merged"]) == (0, 0)
    a = gaps[(gaps["unit_id"] == "A") & (gaps["category"] == "kindergarten")].iloc[0]
    assert (a["covered_households"], a["covered_households_merged"]) == (100, 100)


def test_wall_along_a_street_stays_closed():
    net, comp = merging_world(separating_path=True)
    fac = facilities([("F", "kindergarten", 50, -5)])
    out = acc.compute_access(comp, fac, network=net, standards=STD, categories=KG)
    own = value(out, "B", "kindergarten", "distance_m")
    gaps = acc.compute_gaps(comp, out, facilities=fac, standards=STD, network=net)
    b = gaps[(gaps["unit_id"] == "B") & (gaps["category"] == "kindergarten")].iloc[0]
    assert b["distance_merged_m"] == pytest.approx(own)
    assert b["covered_households_merged"] == b["covered_households"] == 0


def test_members_in_different_districts_are_not_joined():
    net, comp = merging_world()
    comp = comp.assign(district_id=["D1", "D2"])
    fac = facilities([("F", "kindergarten", 50, -5)])
    out = acc.compute_access(comp, fac, network=net, standards=STD, categories=KG)
    gaps = acc.compute_gaps(comp, out, facilities=fac, standards=STD, network=net)
    b = gaps[(gaps["unit_id"] == "B") & (gaps["category"] == "kindergarten")].iloc[0]
    assert b["covered_households_merged"] == 0


# ----------------------------------------------------------------------------- no data
def test_missing_facilities_layer_is_no_data_everywhere():
    net = build_walk_network(streets([STREET]))
    comp = compounds([SLAB]).assign(district_id=["D1"])
    out = acc.compute_access(comp, None, network=net, standards=STD)
    assert set(out["method"]) == {"no_data"}
    assert out["within_radius"].isna().all()
    gaps = acc.compute_gaps(comp, out, facilities=None, standards=STD, network=net)
    assert set(gaps["data_status"]) == {"no_data"}
    assert gaps["coverage_share"].isna().all() and gaps["coverage_share_merged"].isna().all()
    assert gaps["covered_households"].isna().all() and gaps["uncovered_households"].isna().all()
    assert gaps["shortfall"].isna().all() and gaps["supply"].isna().all()
    assert (gaps["demand"] > 0).any()  # demand is known from households alone
    summ = gap_tables.summarise_coverage(gaps, lang="en")
    assert summ["coverage_share"].isna().all() and summ["shortfall"].isna().all()
    assert summ["note"].str.startswith("no data").all()


def test_declared_no_data_category_and_absent_category():
    net = build_walk_network(streets([STREET]))
    comp = compounds([SLAB])
    fac = facilities([("F", "kindergarten", 100, -5), ("P", "parking", 120, -5)])
    out = acc.compute_access(comp, fac, network=net, standards=STD,
                             categories=["kindergarten", "parking", "canteen"],
                             no_data=["parking"])
    assert value(out, "A", "kindergarten", "method") == "network"
    assert value(out, "A", "parking", "method") == "no_data"
    assert np.isnan(value(out, "A", "parking", "distance_m"))
    assert value(out, "A", "canteen", "method") == "unreachable"  # absent from the layer
    gaps = acc.compute_gaps(comp, out, facilities=fac, standards=STD, network=net)
    s = gap_tables.summarise_coverage(gaps, lang="en").set_index("category")
    assert s.loc["kindergarten", "coverage_share"] == 1.0
    assert np.isnan(s.loc["parking", "coverage_share"]) and np.isnan(s.loc["parking", "shortfall"])
    assert s.loc["canteen", "coverage_share"] == 0.0
    assert "holds no facility of this category" in s.loc["canteen", "note"]
    assert s.loc["parking", "data_status"] == "no_data"
    with pytest.raises(InputError, match="unknown category 'parkng'"):
        acc.compute_access(comp, fac, network=net, standards=STD, no_data=["parkng"])


def test_no_data_flag_in_a_standards_file(tmp_path):
    custom = tmp_path / "city.toml"
    custom.write_text('base = "gb50180_2018"\nname = "city"\npersons_per_household = 2.62\n'
                      'elderly_share = 0.187\n[categories.canteen]\nno_data = true\n',
                      encoding="utf-8")
    std = load_standards(custom)
    assert std.categories["canteen"].no_data
    assert not std.categories["kindergarten"].no_data
    net = build_walk_network(streets([STREET]))
    out = acc.compute_access(compounds([SLAB]), facilities([("F", "kindergarten", 100, -5)]),
                             network=net, standards=std, categories=["kindergarten", "canteen"])
    assert out["method"].tolist() == ["network", "no_data"]


def test_written_tables_carry_method_and_access(tmp_path):
    net = build_walk_network(streets([STREET]))
    fac = facilities([("F", "kindergarten", 400, -5)])
    comp = compounds([SLAB])
    out = acc.compute_access(comp, fac, network=net, standards=STD, categories=KG)
    gaps = acc.compute_gaps(comp, out, facilities=fac, standards=STD, network=net)
    files = gap_tables.write_gap_outputs(out, gaps, tmp_path, lang="en")
    a = pd.read_csv(files[0], encoding="utf-8-sig")
    assert a.loc[0, "method"] == "network"
    assert a.loc[0, "access_m"] == pytest.approx(25.0, abs=0.01)
