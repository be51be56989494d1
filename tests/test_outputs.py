"""Two audiences: canonical machine outputs whatever --lang; XLSX and sheets fully in --lang; results.gpkg."""

from __future__ import annotations

import contextlib
import io
import re
import sqlite3
import xml.etree.ElementTree as ET

import geopandas as gpd
import openpyxl
import pyogrio
import pytest

from renogis import schema
from renogis.cli import main
from renogis.datasets import sample_path

_CJK = re.compile(r"[\u4e00-\u9fff]")
_ID = re.compile(r"^[CDPF]\d{3,4}$")
#: every English code renogis writes; none may reach a Chinese XLSX or sheet
_CODES = {"below_min", "above_max", "keep_together", "keep_apart", "compound", "district", "places", "seats",
          "beds", "m2", "spaces", "points", "vacant_land", "idle_building", "network", "greedy", "exact",
          "True", "False", *schema.CATEGORIES}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("lang")
    out = {}
    for lang in ("zh", "en"):
        out[lang] = base / lang
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            code = main(["run", str(sample_path()), "--out", str(out[lang]), "--lang", lang,
                         "--tiles", "none"])
        assert code == 0
        out[f"console_{lang}"] = buf.getvalue()
    return out


def test_console_follows_lang(runs):
    zh = runs["console_zh"].splitlines()
    assert zh[:3] == ["输入：小区 65，闲置地块 9，设施 65，道路 38，障碍 1，出入口 119；"
                      "工作坐标系 EPSG:4548；0 条警告（见 validation.txt）",
                      "片区：划定 5 个，含 65 个小区；0 个小区被排除",
                      "各类设施覆盖的户数比例（路网步行距离）："]
    assert zh[3].split() == ["设施类别", "服务半径", "户数", "覆盖率", "统筹后", "缺口"]
    assert zh[4].split()[:3] == ["幼儿园", "300", "米"]
    en = runs["console_en"].splitlines()
    assert en[0] == ("input: compounds 65, parcels 9, facilities 65, streets 38, barriers 1, gates 119; "
                     "work CRS EPSG:4548; 0 warnings (see validation.txt)")
    assert en[4].split()[:3] == ["Kindergarten", "300", "m"]
    table = "\n".join(zh[4:22])
    assert not re.search(r"[A-Za-z]", table.replace("米", "")), table


def test_csv_identical_under_both_languages(runs):
    csvs = sorted(p.relative_to(runs["zh"]) for p in runs["zh"].rglob("*.csv"))
    assert [str(p) for p in csvs] == [
        "districts.csv", "funding.csv", "overlaps.csv", "renovation_compounds.csv",
        "renovation_districts.csv",
        "renovation_items.csv", "service_access.csv", "service_gaps.csv", "siting_plan.csv",
        "viability_compounds.csv", "viability_districts.csv"]
    for rel in csvs:
        assert (runs["zh"] / rel).read_bytes() == (runs["en"] / rel).read_bytes(), rel
    head = (runs["zh"] / "service_access.csv").read_text(encoding="utf-8-sig").splitlines()[0]
    assert head == "compound_id,category,distance_m,radius_m,within_radius,method,access_m,nearest_facility_id"


def test_chinese_xlsx_has_no_english_header_flag_or_unit(runs):
    for name in ("districts.xlsx", "service_gaps.xlsx", "siting_plan.xlsx"):
        ws = openpyxl.load_workbook(runs["zh"] / name, read_only=True).worksheets[0]
        rows = ws.iter_rows(values_only=True)
        header = next(rows)
        assert all(_CJK.search(h) for h in header), (name, [h for h in header if not _CJK.search(h)])
        for row in rows:
            for v in row:
                if isinstance(v, str):
                    assert v not in _CODES and (_CJK.search(v) or _ID.match(v) or "," in v), (name, v)


def test_english_xlsx_headers(runs):
    ws = openpyxl.load_workbook(runs["en"] / "districts.xlsx", read_only=True).worksheets[0]
    header = next(ws.iter_rows(values_only=True))
    assert header[:4] == ("District", "Compounds", "Member compounds", "Households")


def test_chinese_sheets_have_no_english_flag_or_unit(runs):
    text = "\n".join(p.read_text(encoding="utf-8") for p in (runs["zh"] / "proposals").glob("*.md"))
    for code in ("below_min", "above_max", "keep_together", "places", "seats", " m2", " beds"):
        assert code not in text, code
    assert "低于户数下限" in text


def test_columns_md_names_every_csv_column(runs):
    md = (runs["zh"] / "columns.md").read_text(encoding="utf-8")
    assert md == (runs["en"] / "columns.md").read_text(encoding="utf-8")
    assert "| `covered_households` | 覆盖户数 | Households covered | households within the radius |" in md
    for rel in ("districts.csv", "service_gaps.csv", "siting_plan.csv", "results.gpkg [compounds]"):
        assert f"## {rel}" in md


def test_results_gpkg_layers_and_wide_gaps(runs):
    path = runs["zh"] / "results.gpkg"
    assert [tuple(x) for x in pyogrio.list_layers(path)] == [
        ("districts", "MultiPolygon"), ("compounds", "Polygon"), ("service_areas", "MultiPolygon"),
        ("sites", "Polygon"), ("layer_styles", None)]
    c = gpd.read_file(path, layer="compounds")
    access = gpd.pd.read_csv(runs["zh"] / "service_access.csv", encoding="utf-8-sig")
    gaps = gpd.pd.read_csv(runs["zh"] / "service_gaps.csv", encoding="utf-8-sig")
    assert len(c) == 65 and c["district_id"].notna().all()
    # the wide columns repeat the long tables exactly: C0001's kindergarten row
    row = c.set_index("compound_id").loc["C0001"]
    a = access[(access["compound_id"] == "C0001") & (access["category"] == "kindergarten")].iloc[0]
    g = gaps[(gaps["unit_id"] == "C0001") & (gaps["category"] == "kindergarten")].iloc[0]
    assert row["kindergarten_distance_m"] == pytest.approx(a["distance_m"])
    assert bool(row["kindergarten_within_radius"]) == bool(a["within_radius"])
    assert row["kindergarten_covered_households"] == g["covered_households"]
    sites = gpd.read_file(path, layer="sites")
    plan = gpd.pd.read_csv(runs["zh"] / "siting_plan.csv", encoding="utf-8-sig")
    assert sites["parcel_id"].tolist() == plan["parcel_id"].tolist() and sites.geometry.notna().all()


def test_layer_styles_table_is_valid_and_names_each_layer(runs):
    for lang, alias in (("zh", "户数"), ("en", "Households")):
        con = sqlite3.connect(runs[lang] / "results.gpkg")
        try:
            assert con.execute("SELECT data_type FROM gpkg_contents WHERE table_name='layer_styles'"
                               ).fetchall() == [("attributes",)]
            cols = [r[1] for r in con.execute("PRAGMA table_info(layer_styles)")]
            assert cols == ["id", "f_table_catalog", "f_table_schema", "f_table_name", "f_geometry_column",
                            "styleName", "styleQML", "styleSLD", "useAsDefault", "description", "owner", "ui",
                            "update_time"]
            rows = con.execute("SELECT f_table_name, f_geometry_column, useAsDefault, styleQML FROM "
                               "layer_styles ORDER BY id").fetchall()
            geom = dict(con.execute("SELECT table_name, column_name FROM gpkg_geometry_columns"))
        finally:
            con.close()
        assert [r[0] for r in rows] == ["districts", "compounds", "service_areas", "sites"]
        aliases = {}
        for name, gcol, default, qml in rows:
            assert gcol == geom[name] and default == 1
            root = ET.fromstring(qml.split("\n", 1)[1])  # valid XML after the DOCTYPE line
            assert root.tag == "qgis" and root.find("renderer-v2").get("type") == "singleSymbol"
            aliases[name] = {a.get("field"): a.get("name") for a in root.iter("alias")}
            fields = [str(f) for f in pyogrio.read_info(runs[lang] / "results.gpkg", layer=name)["fields"]]
            assert list(aliases[name]) == fields  # one alias per field, in order
        assert aliases["districts"]["households"] == alias
        expected = "幼儿园-步行距离(米)" if lang == "zh" else "Kindergarten: walking distance (m)"
        assert aliases["compounds"]["kindergarten_distance_m"] == expected
