"""Renovation content per district on a hand-built world: classes, quantities, evidence, cost ranges."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from renogis._errors import InputError
from renogis.costs import load_costs
from renogis.renovation import lift_candidates, plan_renovation, read_buildings
from renogis.standards import load_standards

CRS = "EPSG:4548"
X0, Y0 = 527_000.0, 3_853_000.0  # about 34.8 N: heating region


def box(x0, y0, x1, y1):
    return shapely.box(X0 + x0, Y0 + y0, X0 + x1, Y0 + y1)


def world():
    # C1, C2, C3: 100 m squares with 10 m lanes (district D1); C4 50 m further east (D2)
    comp = gpd.GeoDataFrame(
        {
            "compound_id": ["C1", "C2", "C3", "C4"],
            "name": ["甲", "乙", "丙", "丁"],
            "households": [200, 200, 200, 100],
            "floor_area_m2": [20_000.0, 20_000.0, 20_000.0, 10_000.0],
            "built_year": [1990, 1999, 2003, np.nan],
            "parking_spaces": [100, 50, np.nan, 20],
            "district_id": ["D1", "D1", "D1", "D2"],
        },
        geometry=[box(0, 0, 100, 100), box(110, 0, 210, 100), box(220, 0, 320, 100), box(370, 0, 470, 100)],
        crs=CRS,
    )
    districts = gpd.GeoDataFrame(
        {"district_id": ["D1", "D2"], "wall_m": [200.0, 0.0], "households": [600, 100]},
        geometry=[shapely.union_all(comp.geometry[:3].to_numpy()), comp.geometry[3]],
        crs=CRS,
    )
    buildings = pd.DataFrame(
        {
            "compound_id": ["C1", "C1", "C1", "C2", "C2", "C3"],
            "floors": [6, 6, 3, 4, 5, 7],
            "has_lift": [False, True, False, False, False, False],
        }
    )
    gates = gpd.GeoDataFrame(
        {"gate_id": ["G1", "G2", "G3", "G4"], "compound_id": ["C1", "C1", "C3", "C4"]},
        geometry=[
            shapely.Point(X0 + 50, Y0),
            shapely.Point(X0 + 100, Y0 + 50),
            shapely.Point(X0 + 320, Y0 + 50),
            shapely.Point(X0 + 420, Y0),
        ],
        crs=CRS,
    )
    facilities = gpd.GeoDataFrame(
        {"facility_id": ["F1", "F2"], "category": ["parking", "parking"], "capacity": [30, 500]},
        geometry=[shapely.Point(X0 + 150, Y0 + 50), shapely.Point(X0 + 600, Y0 + 50)],
        crs=CRS,
    )
    gaps = pd.DataFrame(
        {
            "level": ["district", "district"],
            "unit_id": ["D1", "D1"],
            "category": ["elderly_day_care", "kindergarten"],
            "households": [600, 600],
            "uncovered_households": [600, 0],
            "uncovered_households_merged": [600, 0],
        }
    )
    siting = pd.DataFrame(
        {
            "parcel_id": ["P1"],
            "category": ["elderly_day_care"],
            "district_id": ["D1"],
            "kind": ["idle_building"],
            "newly_covered_households": [600.0],
        }
    )
    return comp, districts, buildings, gates, facilities, gaps, siting


@pytest.fixture(scope="module")
def plan():
    comp, districts, buildings, gates, facilities, gaps, siting = world()
    return plan_renovation(
        comp,
        districts,
        costs=load_costs(),
        buildings=buildings,
        gaps=gaps,
        siting=siting,
        gates=gates,
        facilities=facilities,
        standards=load_standards(),
        lang="zh",
    )


def _item(plan, did, item):
    rows = plan.items[(plan.items["district_id"] == did) & (plan.items["item"] == item)]
    assert len(rows) == 1, f"{did} {item}: {len(rows)} rows"
    return rows.iloc[0]


def test_lift_candidates_count():
    _, _, b, *_ = world()
    # C1: one 6-floor building without a lift (the 3-floor one is too low, the other has a lift);
    # C2: 4 and 5 floors without lifts; C3: 7 floors without
    assert lift_candidates(b).to_dict() == {"C1": 1, "C2": 2, "C3": 1}


def test_basic_works_only_for_old_compounds(plan):
    u = _item(plan, "D1", "utilities")
    assert u["renovation_class"] == "basic" and u["phase"] == 1
    assert u["quantity"] == 40_000.0  # C1 (1990) and C2 (1999); C3 (2003) is not old
    assert (u["cost_low_yuan"], u["cost_high_yuan"]) == (6_000_000.0, 12_000_000.0)  # x 150 / 300 yuan/m2
    assert "2/3" in u["evidence"] and "C3（2003）" in u["evidence"] and not u["verified"]
    e = _item(plan, "D1", "energy_retrofit")
    assert "34.8" in e["evidence"] and e["quantity"] == 40_000.0
    # D2's compound has no built year: counted as old, and the evidence says so
    assert _item(plan, "D2", "utilities")["quantity"] == 10_000.0
    assert "建成年代不详" in _item(plan, "D2", "utilities")["evidence"]


def test_complete_items(plan):
    lift = _item(plan, "D1", "lift_retrofit")
    assert lift["quantity"] == 4 and (lift["cost_low_yuan"], lift["cost_high_yuan"]) == (
        1_600_000.0,
        2_800_000.0,
    )
    # parking: need ceil(0.5 x 600) = 300; supply = own 100 + 50 (+ C3 unknown as 0) + public 30 = 180
    p = _item(plan, "D1", "parking")
    assert p["quantity"] == 120 and (p["cost_low_yuan"], p["cost_high_yuan"]) == (1_200_000.0, 7_200_000.0)
    assert "180" in p["evidence"] and "1 个小区无车位数据" in p["evidence"]
    assert _item(plan, "D1", "ev_charging")["quantity"] == 120
    assert _item(plan, "D1", "property_rooms")["quantity"] == 120.0  # 2 per mille of 60,000 m2
    w = _item(plan, "D1", "wall_opening")
    assert (w["quantity"], w["cost_low_yuan"], w["cost_high_yuan"]) == (200.0, 60_000.0, 160_000.0)
    g = _item(plan, "D1", "gate_access")  # G1 and G3 on the outer edge; G2 faces the lane to C2
    assert g["quantity"] == 2 and "内部围墙及巷道上出入口 1 处" in g["evidence"]
    # D2 has no buildings in the buildings layer: lifts listed but not costed
    l2 = _item(plan, "D2", "lift_retrofit")
    assert np.isnan(l2["quantity"]) and np.isnan(l2["cost_low_yuan"])
    assert _item(plan, "D2", "parking")["quantity"] == 30  # ceil(0.5 x 100) - 20


def test_upgrade_facility_on_idle_building(plan):
    f = _item(plan, "D1", "facility_fit_out")
    assert f["renovation_class"] == "upgrade" and f["category"] == "elderly_day_care"
    assert f["quantity"] == 350.0  # GB 50180 minimum building area of a day-care centre
    assert (f["cost_low_yuan"], f["cost_high_yuan"]) == (525_000.0, 875_000.0)
    assert "P1" in f["evidence"] and "闲置用房" in f["evidence"]
    # kindergarten is covered after merging: no item
    assert not (plan.items["category"] == "kindergarten").any()


def test_class_totals_and_funding(plan):
    d = plan.districts.set_index("district_id").loc["D1"]
    assert d["basic_low_yuan"] == pytest.approx(14_000_000.0)
    assert d["basic_high_yuan"] == pytest.approx(28_400_000.0)
    assert d["complete_low_yuan"] == pytest.approx(4_660_000.0)
    assert d["complete_high_yuan"] == pytest.approx(14_780_000.0)
    assert d["upgrade_low_yuan"] == pytest.approx(525_000.0)
    assert d["cost_low_yuan"] == pytest.approx(19_185_000.0)
    assert d["cost_high_yuan"] == pytest.approx(44_055_000.0)
    assert d["lift_candidates"] == 4 and d["parking_shortfall"] == 120 and bool(d["heated_region"])
    f = plan.funding[plan.funding["district_id"] == "D1"]
    assert f["cost_low_yuan"].sum() == pytest.approx(19_185_000.0)
    # residents: 5% of basic, 20% of complete except lifts, 60% of lifts
    res = f.set_index("funding_source").loc["residents", "cost_low_yuan"]
    assert res == pytest.approx(0.05 * 14_000_000 + 0.20 * (4_660_000 - 1_600_000) + 0.60 * 1_600_000)


def test_heating_flag_and_english():
    comp, districts, buildings, gates, facilities, gaps, siting = world()
    p = plan_renovation(comp, districts, costs=load_costs(), heating_region=False, lang="en")
    assert not (p.items["item"] == "energy_retrofit").any()
    assert "no buildings layer" in p.notes[0]
    assert p.items.loc[p.items["item"] == "lift_retrofit", "evidence"].str.contains("not assessed").all()


def test_read_buildings_layer(tmp_path):
    comp, *_ = world()
    gpkg = tmp_path / "city.gpkg"
    comp.to_file(gpkg, layer="compounds")
    b = gpd.GeoDataFrame(
        {"层数": [6, 3, 5], "电梯": ["否", "否", "是"]},
        geometry=[box(10, 10, 30, 30), box(120, 10, 140, 30), box(1000, 1000, 1020, 1020)],
        crs=CRS,
    )
    b.to_file(gpkg, layer="buildings")
    got, notes = read_buildings(gpkg, compounds=comp)
    assert got["compound_id"].tolist() == ["C1", "C2"] and got["floors"].tolist() == [6, 3]
    assert got["has_lift"].tolist() == [False, False]
    assert "1 buildings dropped" in notes[0]
    b.drop(columns="层数").to_file(tmp_path / "bad.gpkg", layer="buildings")
    comp.to_file(tmp_path / "bad.gpkg", layer="compounds")
    with pytest.raises(InputError, match=r"bad.gpkg \[buildings\]: columns \['floors'\] missing"):
        read_buildings(tmp_path / "bad.gpkg", compounds=comp)
    b2 = b.assign(电梯=["否", "也许", "是"])
    b2.to_file(tmp_path / "bad2.gpkg", layer="buildings")
    with pytest.raises(InputError, match="has_lift: 1 buildings with a value that is not yes/no"):
        read_buildings(tmp_path / "bad2.gpkg", compounds=comp)
    assert read_buildings(tmp_path / "nothing", compounds=comp) == (None, [])


def test_no_districts_gives_empty_tables():
    comp, districts, *_ = world()
    comp = comp.assign(district_id=None)
    p = plan_renovation(comp, districts.iloc[:0], costs=load_costs())
    assert p.items.empty and p.districts.empty and "cost_low_yuan" in p.districts.columns
    assert p.funding.empty


def test_without_floor_area_or_year_columns():
    from renogis.viability import assess_viability

    comp, districts, *_ = world()
    comp = comp.drop(columns=["floor_area_m2", "built_year", "parking_spaces"])
    p = plan_renovation(comp, districts, costs=load_costs())
    # no floor areas: no per-m2 items, but walls, parking and (not assessed) lifts are still listed
    assert not (p.items["unit"] == "m2_floor_area").any()
    assert _item(p, "D1", "parking")["quantity"] == 300  # no own spaces known: taken as 0
    v = assess_viability(comp, model=load_costs().property)
    assert v.groups["break_even_fee"].isna().all() and len(v.missing_floor_area) == 4
