"""End to end: the demo, and `renogis run` on a city it has never seen (mixed formats, GBK, long lines)."""

from __future__ import annotations

import json

import geopandas as gpd
import networkx as nx
import pandas as pd
import pytest

from renogis.cli import main
from renogis.datasets.synthetic import make_city


@pytest.fixture(scope="module")
def demo_out(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "out"
    maps = tmp_path_factory.mktemp("maps")
    code = main(["demo", "--out", str(out), "--maps-dir", str(maps), "--tiles", "none"])
    assert code == 0
    return out, maps


def test_demo_outputs(demo_out):
    out, maps = demo_out
    names = {p.name for p in out.iterdir()}
    assert names >= {"cleaned.gpkg", "validation.txt", "run.json", "districts.gpkg", "districts.csv",
                     "districts.xlsx", "proposals", "service_access.csv", "service_gaps.csv",
                     "service_gaps.xlsx", "siting_plan.csv", "siting_plan.xlsx", "map.html"}
    assert (maps / "demo_map.html").stat().st_size > 10_000
    d = gpd.read_file(out / "districts.gpkg", layer="districts")
    c = gpd.read_file(out / "districts.gpkg", layer="compounds")
    assert len(c) == 65 and int(c["households"].sum()) == 7447
    # every compound of the sample is in exactly one district (no exclusion rules in the demo)
    assert c["district_id"].notna().all()
    assert int(d["households"].sum()) == 7447
    assert int(d["n_compounds"].sum()) == 65
    access = pd.read_csv(out / "service_access.csv", encoding="utf-8-sig")
    assert len(access) == 65 * 18
    rec = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert rec["work_crs"]["epsg"] == 4548
    assert set(rec["timings_s"]) >= {"load", "districts", "gaps", "siting", "map"}


def test_demo_missing_categories_fully_uncovered(demo_out):
    out, _ = demo_out
    access = pd.read_csv(out / "service_access.csv", encoding="utf-8-sig")
    access = access.rename(columns={"小区编号": "compound_id", "设施类别": "category", "半径内": "within_radius"})
    # the sample has no nursery and no elderly day care at all: nobody is covered
    for cat in ("nursery", "elderly_day_care"):
        rows = access[access["category"] == cat]
        assert len(rows) == 65
        assert not rows["within_radius"].astype(bool).any()


@pytest.fixture(scope="module")
def unseen_city(tmp_path_factory):
    """A city renogis has never seen: GBK shapefile with Chinese headers, long lines, lon/lat CSV."""
    city = make_city(600, seed=2026)
    folder = tmp_path_factory.mktemp("unseen")
    comp = city["compounds"].rename(columns={
        "compound_id": "小区编号", "name": "小区名称", "households": "户数", "buildings": "楼栋数",
        "floor_area_m2": "建筑面积", "built_year": "建成年代", "subdistrict": "街道", "consent": "同意率",
        "owners_committee": "业委会"}).drop(columns=["population", "parking_spaces"])
    comp.to_file(folder / "compounds.shp", driver="ESRI Shapefile", encoding="GBK")
    (folder / "compounds.cpg").unlink(missing_ok=True)
    city["streets"].to_crs(4326).to_file(folder / "streets.geojson", driver="GeoJSON")
    fac = city["facilities"].to_crs(4326)
    pd.DataFrame({"设施编号": fac["facility_id"], "类别": fac["category"].map(
        {"kindergarten": "幼儿园"}).fillna(fac["category"]), "容量": fac["capacity"],
        "经度": fac.geometry.x, "纬度": fac.geometry.y}).to_csv(folder / "facilities.csv", index=False,
                                                               encoding="utf-8-sig")
    city["parcels"].to_file(folder / "parcels.gpkg", layer="parcels")
    city["barriers"].to_file(folder / "barriers.gpkg", layer="barriers")
    city["gates"].to_file(folder / "gates.gpkg", layer="gates")
    return city, folder


def test_run_on_unseen_city(unseen_city, tmp_path):
    city, folder = unseen_city
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    out = tmp_path / "out"
    code = main(["run", str(folder), "--out", str(out), "--tiles", "none", "--min-consent", "0.6"])
    assert code == 0
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before  # inputs untouched
    c = gpd.read_file(out / "districts.gpkg", layer="compounds")
    d = gpd.read_file(out / "districts.gpkg", layer="districts")
    assert len(c) == 600
    # Chinese headers from the GBK shapefile were understood
    assert c["name"].str.len().min() > 0 and int(c["households"].sum()) == int(city["compounds"]["households"].sum())
    low = c["consent"] < 0.6
    assert c.loc[low, "district_id"].isna().all() and c.loc[low, "excluded_reason"].notna().all()
    assert c.loc[~low, "district_id"].notna().all()
    # districts partition the included compounds, one subdistrict each
    members = d["compound_ids"].str.split(",").explode()
    assert sorted(members) == sorted(c.loc[~low, "compound_id"])
    sub = c.set_index("compound_id")["subdistrict"]
    for ids in d["compound_ids"].str.split(","):
        assert sub.loc[ids].nunique() == 1
    ok = d["flags"].fillna("").eq("")
    assert d.loc[ok, "households"].between(1500, 4000).all()
    access = pd.read_csv(out / "service_access.csv", encoding="utf-8-sig")
    assert len(access) == 600 * 18


def test_districts_connected_in_adjacency(unseen_city):
    from pathlib import Path

    from renogis.adjacency import build_adjacency
    from renogis.districting import propose_districts
    from renogis.io import RawLayer
    from renogis.validate import validate_layers

    city, _ = unseen_city
    raw = {k: RawLayer(name=k, gdf=v, source=Path(f"{k}.gpkg")) for k, v in city.items()}
    layers, report, _ = validate_layers(raw)
    assert report.ok
    G = build_adjacency(layers["compounds"], parcels=layers["parcels"], streets=layers["streets"],
                        barriers=layers["barriers"])
    res = propose_districts(layers["compounds"], G, parcels=layers["parcels"])
    for ids in res.districts["compound_ids"].str.split(","):
        assert nx.is_connected(G.subgraph(ids))


def test_demo_siting_plan_respects_size_rules(demo_out):
    from renogis.standards import load_standards

    out, _ = demo_out
    plan = pd.read_csv(out / "siting_plan.csv", encoding="utf-8-sig")
    assert len(plan) > 0
    rules = load_standards().categories
    parcels = gpd.read_file(out / "cleaned.gpkg", layer="parcels").set_index("parcel_id")
    for row in plan.itertuples():
        rule = rules[row.category]
        p = parcels.loc[row.parcel_id]
        if p["kind"] == "vacant_land":
            need = rule.min_land_m2 or rule.min_building_m2
            assert p["area_m2"] >= need
        else:
            floor = p["floor_area_m2"] if p["floor_area_m2"] == p["floor_area_m2"] else p["area_m2"]
            assert floor >= rule.min_building_m2
            assert not (rule.min_building_m2 == 0 and rule.min_land_m2 > 0)  # outdoor uses need land
    # a parcel hosts several facilities only while its area allows the sum of their minimums
    for pid, rows in plan.groupby("parcel_id"):
        assert rows["min_area_m2"].sum() <= rows["parcel_area_m2"].iloc[0] + 1e-6
    # schools are not sited on idle parcels unless asked for
    assert not plan["category"].isin(["primary_school", "middle_school"]).any()
    # the district proposal sheets carry the siting lines
    sheet = (out / "proposals" / f"{plan['district_id'].iloc[0]}.md").read_text(encoding="utf-8")
    first = plan.iloc[0]
    assert f"设于地块 {first['parcel_id']}：新增覆盖 {int(first['newly_covered_households']):,} 户" in sheet
