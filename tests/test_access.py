"""Service access, 2SFCA supply and gap tables on hand-built worlds."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from renogis import access as acc
from renogis._errors import InputError
from renogis.network import build_walk_network
from renogis.outputs import gap_tables
from renogis.schema import CATEGORIES
from renogis.standards import load_standards

CRS = "EPSG:4548"
STD = load_standards()
N_CAT = len(CATEGORIES)


def street(*coords_list):
    n = len(coords_list)
    return gpd.GeoDataFrame(
        {
            "street_id": [f"s{i}" for i in range(n)],
            "class": ["local"] * n,
            "walkable": [True] * n,
            "bridge": [False] * n,
            "tunnel": [False] * n,
            "layer": [0] * n,
        },
        geometry=[shapely.LineString(c) for c in coords_list],
        crs=CRS,
    )


def diamond(x, y=10.0):
    """A compound whose nearest point to the street y=0 is its bottom vertex (x, y)."""
    return shapely.Polygon([(x, y), (x + 20, y + 20), (x, y + 40), (x - 20, y + 20)])


def compounds(xs, households, population=None, **extra):
    data = {
        "compound_id": [chr(ord("A") + i) for i in range(len(xs))],
        "households": households,
        "population": population if population is not None else [np.nan] * len(xs),
        **extra,
    }
    return gpd.GeoDataFrame(data, geometry=[diamond(x) for x in xs], crs=CRS)


def facilities(rows):
    """rows: (facility_id, category, capacity, x, y)."""
    return gpd.GeoDataFrame(
        {
            "facility_id": [r[0] for r in rows],
            "category": [r[1] for r in rows],
            "capacity": [r[2] for r in rows],
            "name": [r[0] for r in rows],
        },
        geometry=[shapely.Point(r[3], r[4]) for r in rows],
        crs=CRS,
    )


@pytest.fixture(scope="module")
def line_net():
    return build_walk_network(street([(0, 0), (1000, 0)]))


@pytest.fixture(scope="module")
def world(line_net):
    comp = compounds([100, 400, 900], [100, 200, 300])
    fac = facilities(
        [
            ("K1", "kindergarten", 60.0, 150, -5),
            ("N1", "nursery", np.nan, 880, 20),
        ]
    )
    return comp, fac


def access0(*args, **kwargs):
    """compute_access with frontage_m = 0: a diamond is reached at its bottom vertex only."""
    kwargs.setdefault("frontage_m", 0.0)
    return acc.compute_access(*args, **kwargs)


def pick(df, unit, category, column, unit_col="compound_id"):
    rows = df[(df[unit_col] == unit) & (df["category"] == category)]
    assert len(rows) == 1
    return rows[column].item()


# --------------------------------------------------------------------------- access
def test_access_table_shape_and_columns(world, line_net):
    comp, fac = world
    out = access0(comp, fac, network=line_net, standards=STD)
    assert list(out.columns) == list(acc.ACCESS_COLUMNS)
    assert len(out) == 3 * N_CAT
    assert out["compound_id"].tolist()[:N_CAT] == ["A"] * N_CAT
    assert out["category"].tolist()[:N_CAT] == list(CATEGORIES)
    assert set(out["method"]) == {"network", "unreachable"}
    reached = out["category"].isin(["kindergarten", "nursery"])
    assert (out.loc[reached, "method"] == "network").all()
    assert out.loc[~reached, "distance_m"].isna().all()
    assert out["within_radius"].dtype == bool
    # access_m: the connector used (the diamond's bottom vertex is 10 m from the street)
    assert out.loc[reached, "access_m"].tolist() == pytest.approx([10.0] * 6)
    assert out.loc[~reached, "access_m"].isna().all()


def test_access_exact_network_distances(world, line_net):
    comp, fac = world
    out = access0(comp, fac, network=line_net, standards=STD)
    # connector 10 (diamond vertex) + path along y=0 + connector 5 / 20
    expected = {
        ("A", "kindergarten"): 65.0,
        ("B", "kindergarten"): 265.0,
        ("C", "kindergarten"): 765.0,
        ("A", "nursery"): 810.0,
        ("B", "nursery"): 510.0,
        ("C", "nursery"): 50.0,
    }
    for (unit, cat), dist in expected.items():
        assert pick(out, unit, cat, "distance_m") == pytest.approx(dist, abs=0.01)
        assert pick(out, unit, cat, "radius_m") == 300.0
        assert pick(out, unit, cat, "within_radius") == (dist <= 300.0)
        assert pick(out, unit, cat, "nearest_facility_id") == (
            "K1" if cat == "kindergarten" else "N1"
        )


def test_access_gates_take_the_nearest_gate(world, line_net):
    comp, fac = world
    gates = gpd.GeoDataFrame(
        {"gate_id": ["g1", "g2", "g9"], "compound_id": ["B", "B", "Z"]},
        geometry=[shapely.Point(380, 2), shapely.Point(420, 3), shapely.Point(0, 1)],
        crs=CRS,
    )
    out = access0(
        comp, fac, network=line_net, standards=STD, gates=gates, categories=["kindergarten"]
    )
    # B: gate g1 2 + 230 + 5 = 237 (g2 would give 3 + 270 + 5 = 278); A, C still at their polygon
    assert out["distance_m"].tolist() == pytest.approx([65.0, 237.0, 765.0], abs=0.01)


def test_access_category_without_facility_is_empty(world, line_net):
    comp, fac = world
    out = access0(comp, fac, network=line_net, standards=STD, categories=["clinic"])
    assert out["distance_m"].isna().all()
    assert not out["within_radius"].any()
    assert out["nearest_facility_id"].isna().all()


def test_access_search_cutoff(world, line_net):
    comp, fac = world
    out = access0(
        comp, fac, network=line_net, standards=STD, categories=["kindergarten"], search_m=300.0
    )
    assert out["distance_m"].tolist()[:2] == pytest.approx([65.0, 265.0], abs=0.01)
    assert np.isnan(out["distance_m"].iat[2])
    assert out["within_radius"].tolist() == [True, True, False]


def test_access_straight_line_fallback_flagged(world):
    comp, _ = world
    fac = facilities([("K1", "kindergarten", 10.0, 100, -30)])
    out = access0(comp, fac, network=None, standards=STD, categories=["kindergarten"])
    assert set(out["method"]) == {"straight_line"}
    # A's bottom vertex (100, 10) is 40 m from the facility: 40 x 1.3
    assert out["distance_m"].iat[0] == pytest.approx(52.0, abs=0.01)
    out15 = access0(
        comp, fac, network=None, standards=STD, categories=["kindergarten"], detour_factor=1.5
    )
    assert set(out15["method"]) == {"straight_line"}
    assert out15["distance_m"].iat[0] == pytest.approx(60.0, abs=0.01)


def test_access_without_facilities_layer(world, line_net):
    comp, _ = world
    out = access0(comp, None, network=line_net, standards=STD)
    assert len(out) == 3 * N_CAT and out["distance_m"].isna().all()
    assert set(out["method"]) == {"no_data"}
    assert out["within_radius"].isna().all()  # not False: nothing is known


def test_access_does_not_modify_inputs(world, line_net):
    comp, fac = world
    before_c, before_f = comp.copy(), fac.copy()
    access0(comp, fac, network=line_net, standards=STD)
    pd.testing.assert_frame_equal(comp, before_c)
    pd.testing.assert_frame_equal(fac, before_f)


# --------------------------------------------------------------------------- 2SFCA core
def test_two_step_fca_by_hand():
    reach = sp.csr_matrix(np.array([[1, 0], [1, 1], [0, 1]]))
    demand = np.array([30.0, 90.0, 60.0])
    capacity = np.array([60.0, 30.0])
    # F1 serves A+B (demand 120): 0.5 per unit; F2 serves B+C (150): 0.2 per unit
    assert acc.two_step_fca(reach, demand, capacity).tolist() == pytest.approx([15.0, 63.0, 12.0])


def test_two_step_fca_unknown_capacity_and_empty_catchment():
    reach = np.array([[1, 0, 0], [1, 1, 0], [0, 1, 0]])
    out = acc.two_step_fca(reach, np.array([30.0, 90.0, 60.0]), np.array([60.0, np.nan, 5.0]))
    assert out[0] == pytest.approx(15.0)
    assert np.isnan(out[1]) and np.isnan(out[2])
    # a facility nobody reaches gives nothing; zero demand gets nothing
    out = acc.two_step_fca(np.array([[0, 1], [0, 1]]), np.array([0.0, 0.0]), np.array([7.0, 9.0]))
    assert out.tolist() == [0.0, 0.0]


@settings(max_examples=30, deadline=None)
@given(
    st.integers(1, 6),
    st.integers(1, 5),
    st.integers(0, 2**31 - 1),
)
def test_two_step_fca_conserves_capacity(n_units, n_fac, seed):
    rng = np.random.default_rng(seed)
    reach = rng.random((n_units, n_fac)) < 0.5
    demand = rng.uniform(0.5, 50, n_units)
    capacity = rng.uniform(0, 100, n_fac)
    supply = acc.two_step_fca(reach, demand, capacity)
    served = reach.any(axis=0)
    assert supply.sum() == pytest.approx(capacity[served].sum())
    assert (supply >= 0).all()


# --------------------------------------------------------------------------- gaps
@pytest.fixture(scope="module")
def fca_world(line_net):
    comp = compounds([100, 400, 700], [400, 1000, 700], population=[1000.0, 3000.0, 2000.0])
    fac = facilities(
        [
            ("F1", "kindergarten", 60.0, 200, -5),
            ("F2", "kindergarten", 30.0, 600, -5),
        ]
    )
    access = access0(comp, fac, network=line_net, standards=STD)
    return comp, fac, access


def test_gaps_2sfca_by_hand(fca_world, line_net):
    comp, fac, access = fca_world
    # A-F1 115, B-F1 215, B-F2 215, C-F2 115; A-F2 and C-F1 515 > 300
    gaps = acc.compute_gaps(comp, access, facilities=fac, standards=STD, network=line_net)
    assert list(gaps.columns) == list(acc.GAP_COLUMNS)
    assert set(gaps["level"]) == {"compound"}
    kg = gaps[gaps["category"] == "kindergarten"].set_index("unit_id")
    assert kg["demand"].tolist() == pytest.approx([30.0, 90.0, 60.0])  # 30 seats per 1000 residents
    assert kg["supply"].tolist() == pytest.approx([15.0, 63.0, 12.0])
    assert kg["shortfall"].tolist() == pytest.approx([15.0, 27.0, 48.0])
    assert kg["demand_unit"].unique().tolist() == ["seats"]
    assert kg["covered_households"].tolist() == [400, 1000, 700]
    assert kg["coverage_share"].tolist() == [1.0, 1.0, 1.0]


def test_gaps_supply_nan_when_capacity_unknown(fca_world, line_net):
    comp, fac, access = fca_world
    partial = fac.assign(capacity=[60.0, np.nan])
    kg = acc.compute_gaps(comp, access, facilities=partial, standards=STD, network=line_net)
    kg = kg[kg["category"] == "kindergarten"]
    assert kg["supply"].iat[0] == pytest.approx(15.0)
    assert kg["supply"].iloc[1:].isna().all() and kg["shortfall"].iloc[1:].isna().all()
    unknown = fac.assign(capacity=[np.nan, np.nan])
    kg = acc.compute_gaps(comp, access, facilities=unknown, standards=STD, network=line_net)
    assert kg.loc[kg["category"] == "kindergarten", "supply"].isna().all()


def test_gaps_category_without_facility_all_uncovered(fca_world, line_net):
    comp, fac, access = fca_world
    gaps = acc.compute_gaps(comp, access, facilities=fac, standards=STD, network=line_net)
    clinic = gaps[gaps["category"] == "clinic"]
    assert clinic["covered_households"].tolist() == [0, 0, 0]
    assert clinic["uncovered_households"].tolist() == [400, 1000, 700]
    assert clinic["coverage_share"].tolist() == [0.0, 0.0, 0.0]
    assert clinic["distance_m"].isna().all()
    assert clinic["supply"].tolist() == [0.0, 0.0, 0.0]
    # 10 m2 per 1000 residents
    assert clinic["shortfall"].tolist() == pytest.approx([10.0, 30.0, 20.0])


def test_gaps_district_rows_with_2sfca(fca_world, line_net):
    comp, fac, access = fca_world
    gaps = acc.compute_gaps(
        comp,
        access,
        facilities=fac,
        standards=STD,
        network=line_net,
        districts={"A": "D1", "B": "D1", "C": "D2"},
    )
    d = gaps[(gaps["level"] == "district") & (gaps["category"] == "kindergarten")].set_index(
        "unit_id"
    )
    assert d.index.tolist() == ["D1", "D2"]
    assert d["households"].tolist() == [1400, 700]
    assert d["demand"].tolist() == pytest.approx([120.0, 60.0])
    assert d["supply"].tolist() == pytest.approx([78.0, 12.0])
    assert d["shortfall"].tolist() == pytest.approx([42.0, 48.0])
    assert d["distance_m"].tolist() == pytest.approx([115.0, 115.0], abs=0.01)
    comp_rows = gaps[gaps["level"] == "compound"]
    assert comp_rows["district_id"].unique().tolist() == ["D1", "D2"]


def test_district_merge_does_not_cover_members_that_share_no_wall(world, line_net):
    comp, fac = world
    access = access0(comp, fac, network=line_net, standards=STD)
    gaps = acc.compute_gaps(
        comp,
        access,
        facilities=fac,
        standards=STD,
        network=line_net,
        districts=pd.Series({"A": "D1", "B": "D2", "C": "D2"}),
    )
    kg_c = gaps[(gaps["unit_id"] == "C") & (gaps["category"] == "kindergarten")].iloc[0]
    # C is 765 m from K1; its district neighbour B is within 300 m but 460 m away with no
    # shared wall: merging opens nothing, C stays uncovered (the old rule counted it covered)
    assert (kg_c["covered_households"], kg_c["uncovered_households"]) == (0, 300)
    assert (kg_c["covered_households_merged"], kg_c["uncovered_households_merged"]) == (0, 300)
    assert kg_c["distance_merged_m"] == pytest.approx(765.0, abs=0.01)
    d2 = gaps[(gaps["unit_id"] == "D2") & (gaps["level"] == "district")].set_index("category")
    assert d2.loc["kindergarten", "households"] == 500
    assert d2.loc["kindergarten", "covered_households"] == 200
    assert d2.loc["kindergarten", "coverage_share"] == pytest.approx(0.4)
    assert d2.loc["kindergarten", "covered_households_merged"] == 200
    assert d2.loc["nursery", "covered_households"] == 300
    assert d2.loc["nursery", "covered_households_merged"] == 300
    d1 = gaps[(gaps["unit_id"] == "D1") & (gaps["category"] == "nursery")].iloc[0]
    assert (d1["covered_households"], d1["covered_households_merged"]) == (0, 0)
    # nursery capacity unknown -> supply NaN
    assert np.isnan(d2.loc["nursery", "supply"])


def test_gaps_use_compounds_district_id_and_excluded(world, line_net):
    comp, fac = world
    comp = comp.assign(district_id=["D1", None, "D1"])
    access = access0(comp, fac, network=line_net, standards=STD)
    gaps = acc.compute_gaps(comp, access, facilities=fac, standards=STD, network=line_net)
    d = gaps[gaps["level"] == "district"]
    assert d["unit_id"].unique().tolist() == ["D1"]
    kg = d[d["category"] == "kindergarten"].iloc[0]
    # A and C share no wall: merging changes nothing
    assert (kg["households"], kg["covered_households"], kg["covered_households_merged"]) == (
        400,
        100,
        100,
    )
    b = gaps[(gaps["unit_id"] == "B") & (gaps["category"] == "kindergarten")].iloc[0]
    assert b["district_id"] is None or pd.isna(b["district_id"])
    assert b["covered_households_merged"] == b["covered_households"] == 200


def test_gaps_district_dataframe_and_errors(world, line_net):
    comp, fac = world
    access = access0(
        comp, fac, network=line_net, standards=STD, categories=["kindergarten"]
    )
    table = pd.DataFrame({"compound_id": ["A", "B", "C"], "district_id": ["D1", "D1", "D1"]})
    gaps = acc.compute_gaps(
        comp, access, facilities=fac, standards=STD, network=line_net, districts=table
    )
    assert gaps[gaps["level"] == "district"]["covered_households_merged"].tolist() == [300]
    with pytest.raises(InputError, match="compounds have no 'district_id' column"):
        acc.compute_gaps(
            comp,
            access,
            facilities=fac,
            standards=STD,
            network=line_net,
            districts=pd.DataFrame({"district_id": ["D1"]}),
        )
    with pytest.raises(InputError, match="districts must be a DataFrame"):
        acc.compute_gaps(comp, access, facilities=fac, standards=STD, network=line_net, districts=5)


def test_summarise_coverage(world, line_net):
    comp, fac = world
    access = access0(comp, fac, network=line_net, standards=STD)
    gaps = acc.compute_gaps(
        comp,
        access,
        facilities=fac,
        standards=STD,
        network=line_net,
        districts={"A": "D1", "B": "D2", "C": "D2"},
    )
    s = gap_tables.summarise_coverage(gaps).set_index("category")
    assert list(s.reset_index().columns) == list(acc.SUMMARY_COLUMNS)
    assert len(s) == N_CAT
    assert s.loc["kindergarten", "category_name"] == "幼儿园"
    assert s.loc["kindergarten", "households"] == 600
    assert s.loc["kindergarten", "covered_households"] == 300
    assert s.loc["kindergarten", "coverage_share"] == pytest.approx(0.5)
    assert s.loc["kindergarten", "covered_households_merged"] == 300
    assert s.loc["kindergarten", "coverage_share_merged"] == pytest.approx(0.5)
    assert s.loc["kindergarten", "uncovered_compounds"] == 1
    assert s.loc["clinic", "coverage_share"] == 0.0
    assert s.loc["clinic", "data_status"] == "absent"
    assert "holds no facility of this category" in gap_tables.summarise_coverage(gaps, lang="en") \
        .set_index("category").loc["clinic", "note"]
    assert s.loc["kindergarten", "data_status"] == "ok" and pd.isna(s.loc["kindergarten", "note"])
    assert np.isnan(s.loc["nursery", "supply"])
    # kindergarten: K1 (60 seats) reaches A and B; demand 30/1000 x 2.62 persons x households
    assert s.loc["kindergarten", "supply"] == pytest.approx(60.0)
    assert s.loc["kindergarten", "demand"] == pytest.approx(600 * 2.62 * 0.03)
    en = gap_tables.summarise_coverage(gaps, lang="en").set_index("category")
    assert en.loc["elderly_day_care", "category_name"] == "Elderly day-care centre"


# --------------------------------------------------------------------------- map + output
def test_service_areas(world, line_net):
    _, fac = world
    areas = acc.service_areas(line_net, fac, standards=STD)
    assert areas["category"].tolist() == ["kindergarten", "nursery"]
    assert areas["radius_m"].tolist() == [300.0, 300.0]
    assert areas.crs == fac.crs
    # the kindergarten area covers the street from x = 150 - 295 to 150 + 295 (5 m connector)
    kg = areas.geometry.iat[0]
    assert kg.contains(shapely.Point(440, 0)) and not kg.contains(shapely.Point(470, 0))
    fallback = acc.service_areas(None, fac, standards=STD, categories=["kindergarten"])
    assert len(fallback) == 1
    assert acc.service_areas(line_net, None, standards=STD).empty


def test_translate_columns():
    df = pd.DataFrame({"households": [1], "shortfall": [2.0], "other": [3]})
    zh = gap_tables.translate_columns(df, "zh")
    assert list(zh.columns) == ["户数", "缺口", "other"]
    assert list(gap_tables.translate_columns(df, "en").columns) == list(df.columns)
    assert gap_tables.GAP_COLUMNS_ZH["covered_households"] == "覆盖户数"
    assert gap_tables.GAP_COLUMNS_ZH["uncovered_households"] == "未覆盖户数"
    assert gap_tables.GAP_COLUMNS_ZH["coverage_share"] == "覆盖率"
    assert (gap_tables.GAP_COLUMNS_ZH["demand"], gap_tables.GAP_COLUMNS_ZH["supply"]) == ("需求", "供给")
    assert set(acc.GAP_COLUMNS) <= set(gap_tables.GAP_COLUMNS_ZH)
    assert set(acc.ACCESS_COLUMNS) <= set(gap_tables.GAP_COLUMNS_ZH)
    with pytest.raises(
        InputError, match="unknown language 'fr' for table headers; use 'zh' or 'en'"
    ):
        gap_tables.translate_columns(df, "fr")


def test_write_gap_outputs(world, line_net, tmp_path):
    comp, fac = world
    access = access0(comp, fac, network=line_net, standards=STD)
    gaps = acc.compute_gaps(
        comp,
        access,
        facilities=fac,
        standards=STD,
        network=line_net,
        districts={"A": "D1", "B": "D2", "C": "D2"},
    )
    files = gap_tables.write_gap_outputs(access, gaps, tmp_path / "out")
    assert [f.name for f in files] == [
        "service_access.csv",
        "service_gaps.csv",
        "service_gaps.xlsx",
    ]
    text = files[0].read_text(encoding="utf-8-sig")
    # machine outputs: canonical columns and codes whatever the language
    assert text.splitlines()[0] == ",".join(acc.ACCESS_COLUMNS)
    assert "A,clinic,,300.0,False,unreachable,," in text  # no facility: empty cells
    assert "A,kindergarten,65.0,300.0,True,network,10.0,K1" in text
    g = pd.read_csv(files[1], encoding="utf-8-sig")
    assert len(g) == len(gaps) and list(g.columns) == list(gaps.columns)
    assert set(g["level"]) == {"compound", "district"}
    x = pd.read_excel(files[2])  # people: Chinese headers and codes
    assert len(x) == len(gaps)
    assert {"户数", "覆盖户数", "未覆盖户数", "覆盖率", "需求", "供给", "缺口"} <= set(x.columns)
    assert set(x["统计层级"]) == {"小区", "片区"}
    en = gap_tables.write_gap_outputs(access, gaps, tmp_path / "en", lang="en")
    assert en[0].read_bytes() == files[0].read_bytes() and en[1].read_bytes() == files[1].read_bytes()
    with pytest.raises(InputError, match="unknown language"):
        gap_tables.write_gap_outputs(access, gaps, tmp_path / "bad", lang="de")
    assert not (tmp_path / "bad").exists()


# --------------------------------------------------------------------------- synthetic city
def test_synthetic_city_invariants():
    synthetic = pytest.importorskip("renogis.datasets.synthetic")
    city = synthetic.make_city(60, seed=3)
    comp, fac, gates = city["compounds"], city["facilities"], city["gates"]
    net = build_walk_network(city["streets"], barriers=city["barriers"])
    access = acc.compute_access(comp, fac, network=net, standards=STD, gates=gates)
    assert len(access) == len(comp) * N_CAT
    d = access["distance_m"].to_numpy()
    within = access["within_radius"].to_numpy()
    assert (within == (np.nan_to_num(d, nan=np.inf) <= access["radius_m"].to_numpy())).all()
    # a walk is never shorter than the straight line from the nearest access point
    origins, owner = acc.access_points(comp, gates)
    for cat in ("kindergarten", "clinic", "health_center"):
        pts = fac[fac["category"] == cat].geometry
        if pts.empty:
            continue
        straight = np.full(len(comp), np.inf)
        np.minimum.at(
            straight,
            owner,
            shapely.distance(origins.to_numpy()[:, None], pts.to_numpy()[None, :]).min(axis=1),
        )
        sub = access.loc[access["category"] == cat]
        walk = sub["distance_m"].to_numpy()
        inside = (sub["method"] == "inside").to_numpy()
        ok = ~np.isnan(walk) & ~inside
        assert (walk[ok] >= straight[ok] - 1e-6).all()
        # a facility in the compound's own grounds serves it at 0 m
        assert (walk[inside] == 0).all()
        for cid, fid in zip(sub["compound_id"][inside], sub["nearest_facility_id"][inside],
                            strict=True):
            poly = comp.loc[comp["compound_id"] == cid].geometry.iat[0]
            assert poly.intersects(fac.loc[fac["facility_id"] == fid].geometry.iat[0])
    districts = dict(zip(comp["compound_id"], comp["subdistrict"].fillna("none"), strict=True))
    gaps = acc.compute_gaps(
        comp, access, facilities=fac, standards=STD, network=net, gates=gates, districts=districts
    )
    c = gaps[gaps["level"] == "compound"]
    assert (c["covered_households_merged"] >= c["covered_households"]).all()
    dd = gaps[gaps["level"] == "district"]
    assert dd.groupby("category")["households"].sum().eq(comp["households"].sum()).all()
    assert (dd["shortfall"].dropna() >= 0).all()


def test_empty_compounds_give_empty_tables():
    comp = gpd.GeoDataFrame({"compound_id": [], "households": []}, geometry=[], crs=CRS)
    access = access0(comp, None, network=None, standards=STD)
    assert list(access.columns) == list(acc.ACCESS_COLUMNS) and access.empty
    gaps = acc.compute_gaps(comp, access, facilities=None, standards=STD)
    assert list(gaps.columns) == list(acc.GAP_COLUMNS) and gaps.empty
    assert gap_tables.summarise_coverage(gaps).empty


def test_polygon_facility_counts_at_its_representative_point(world, line_net):
    comp, _ = world
    square = shapely.box(140, -20, 160, -10)  # representative point (150, -15): connector 15
    fac = gpd.GeoDataFrame(
        {"facility_id": ["K9"], "category": ["kindergarten"], "capacity": [np.nan]},
        geometry=[square],
        crs=CRS,
    )
    out = access0(
        comp, fac, network=line_net, standards=STD, categories=["kindergarten"]
    )
    assert out["distance_m"].tolist() == pytest.approx([75.0, 275.0, 775.0], abs=0.01)
