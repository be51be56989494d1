"""A ledger (台账) without geometry joined to footprints by exact, normalised and fuzzy name."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pytest
import shapely

from renogis import InputError
from renogis.cli import main
from renogis.ledger import match_ledger, normalise_name
from renogis.validate import load

from .conftest import CRS, X0, Y0


def _footprints():
    # five footprints stacked north to south, names only (an AOI export): no id, no households
    names = ["幸福里", "阳光花园小区", "红旗新村", "东方家园", "锦绣华庭"]
    geoms = [shapely.box(X0, Y0 + 400 - 100 * k, X0 + 90, Y0 + 490 - 100 * k) for k in range(5)]
    return gpd.GeoDataFrame({"名称": names}, geometry=geoms, crs=CRS)


def _ledger_xlsx(path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["小区名称", "户数", "楼栋数", "建成年代"])
    ws.append(["阳光花园", 300, 6, "1995年"])  # row 2: equal after dropping 小区
    ws.append(["幸福里", 200, 4, 1988])  # row 3: exact
    ws.append(["红旗新村一区", 150, 3, 1990])  # row 4: fuzzy, WRatio = partial 100 x 0.9 = 90
    ws.append(["锦绣华亭", 100, 2, 1992])  # row 5: 3 of 4 characters, ratio 75 < 85: unmatched
    wb.save(path)
    return path


def test_normalise_name():
    assert normalise_name("  阳光花园小区 ") == "阳光花园"
    assert normalise_name("ＸＹＺ·家园（一期）") == "xyz家园一期"
    assert normalise_name("小区") == "小区"  # a name made only of the generic word stays


def test_match_categories_scores_and_ids(tmp_path):
    _footprints().to_file(tmp_path / "aoi.gpkg", layer="compounds")
    ds = load(tmp_path / "aoi.gpkg", ledger=_ledger_xlsx(tmp_path / "台账.xlsx"), strict=False)
    t = ds.ledger_match
    assert list(t.columns) == ["ledger_row", "ledger_name", "compound_id", "footprint_name", "match", "score"]
    assert t["ledger_row"].tolist() == [2, 3, 4, 5]
    assert t["match"].tolist() == ["normalised", "exact", "fuzzy", "unmatched"]
    assert t["score"].tolist()[:3] == [100.0, 100.0, 90.0] and np.isnan(t["score"].iloc[3])
    assert t["footprint_name"].tolist()[:3] == ["阳光花园小区", "幸福里", "红旗新村"]
    # ids made in spatial order among the three matched footprints: 幸福里 is the northernmost
    assert t["compound_id"].tolist()[:3] == ["C0002", "C0001", "C0003"]
    assert t[["footprint_name", "compound_id"]].iloc[3].isna().all()
    c = ds.compounds.set_index("compound_id")
    assert c.loc[["C0001", "C0002", "C0003"], "households"].tolist() == [200, 300, 150]
    assert c.loc[["C0001", "C0002", "C0003"], "name"].tolist() == ["幸福里", "阳光花园", "红旗新村一区"]
    assert c.loc[["C0001", "C0002", "C0003"], "built_year"].tolist() == [1988, 1995, 1990]
    text = ds.report.to_text()
    assert ("台账.xlsx [ledger] column name: 4 ledger rows joined to aoi.gpkg [compounds] by name: 1 exact, "
            "1 after normalising, 1 fuzzy, 0 ambiguous, 1 unmatched; see ledger_match.csv") in text
    assert ("1 ledger rows matched by a similar name (score 0-100) "
            "(ids: row 4 '红旗新村一区' -> '红旗新村' (90.0))") in text
    assert "1 ledger rows without a footprint left out (ids: row 5 '锦绣华亭')" in text
    assert ("aoi.gpkg [compounds] column name: 2 footprints named in no ledger row left out "
            "(ids: '东方家园', '锦绣华庭')") in text
    assert ds.report.ok


def test_lower_min_score_takes_the_fuzzy_match(tmp_path):
    fp = _footprints().rename(columns={"名称": "name"})
    led = pd.DataFrame({"name": ["锦绣华亭"], "households": ["100"]})
    m = match_ledger(fp, led, min_score=70)
    assert m.table[["footprint_name", "match", "score"]].values.tolist() == [["锦绣华庭", "fuzzy", 75.0]]


def test_ambiguous_names(tmp_path):
    fp = gpd.GeoDataFrame({"name": ["新村", "新村"]},
                          geometry=[shapely.box(0, 0, 1, 1), shapely.box(2, 0, 3, 1)], crs=CRS)
    m = match_ledger(fp, pd.DataFrame({"name": ["新村"], "households": ["5"]}))
    assert m.table["match"].tolist() == ["ambiguous"] and len(m.compounds) == 0
    # the subdistrict on both sides tells them apart
    fp["subdistrict"] = ["永安街道", "常庄街道"]
    m = match_ledger(fp, pd.DataFrame({"name": ["新村"], "subdistrict": ["常庄街道"], "households": ["5"]}))
    assert m.table["match"].tolist() == ["exact"] and m.compounds.geometry.iloc[0].bounds[0] == 2


def test_ledger_cli_writes_match_report(tmp_path):
    _footprints().to_file(tmp_path / "aoi.gpkg", layer="compounds")
    out = tmp_path / "out"
    code = main(["districts", str(tmp_path / "aoi.gpkg"), "--ledger", str(_ledger_xlsx(tmp_path / "l.xlsx")),
                 "--out", str(out), "--min-households", "1"])
    assert code == 0
    lines = (out / "ledger_match.csv").read_text(encoding="utf-8-sig").splitlines()
    assert lines == ["ledger_row,ledger_name,compound_id,footprint_name,match,score",
                     "2,阳光花园,C0002,阳光花园小区,normalised,100.0",
                     "3,幸福里,C0001,幸福里,exact,100.0",
                     "4,红旗新村一区,C0003,红旗新村,fuzzy,90.0",
                     "5,锦绣华亭,,,unmatched,"]
    text = (out / "validation.txt").read_text(encoding="utf-8")
    assert "1 ledger rows without a footprint left out" in text
    c = gpd.read_file(out / "cleaned.gpkg", layer="compounds")
    assert sorted(c["compound_id"]) == ["C0001", "C0002", "C0003"]


def test_ledger_without_names_refused(tmp_path):
    _footprints().to_file(tmp_path / "aoi.gpkg", layer="compounds")
    pd.DataFrame({"户数": [1]}).to_csv(tmp_path / "l.csv", index=False)
    with pytest.raises(InputError, match=r"^l.csv \[ledger\] column name: required column missing"):
        load(tmp_path / "aoi.gpkg", ledger=tmp_path / "l.csv")


def test_ledger_in_a_run_file_is_relative_to_it(tmp_path, monkeypatch):
    proj = tmp_path / "proj"
    proj.mkdir()
    _footprints().to_file(proj / "aoi.gpkg", layer="compounds")
    _ledger_xlsx(proj / "台账.xlsx")
    toml = 'input = "aoi.gpkg"\nout = "out"\nledger = "台账.xlsx"\nmin_households = 1\n'
    (proj / "run.toml").write_text(toml, encoding="utf-8")
    monkeypatch.chdir(tmp_path)  # not the run file's folder
    assert main(["districts", "--config", str(proj / "run.toml")]) == 0
    lines = (proj / "out" / "ledger_match.csv").read_text(encoding="utf-8-sig").splitlines()
    assert lines[1:4] == ["2,阳光花园,C0002,阳光花园小区,normalised,100.0",
                          "3,幸福里,C0001,幸福里,exact,100.0",
                          "4,红旗新村一区,C0003,红旗新村,fuzzy,90.0"]
