"""The demo writes a Word and a PDF proposal for every district of the sample, with lifts and viability."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest

from renogis.cli import main
from renogis.datasets import sample_path
from renogis.outputs.documents import find_cjk_font
from renogis.renovation import lift_candidates, read_buildings


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("demo")
    assert main(["demo", "--out", str(tmp / "out"), "--maps-dir", str(tmp / "maps"), "--tiles", "none"]) == 0
    return tmp / "out"


def test_sample_buildings_match_the_compounds():
    comp = gpd.read_file(sample_path(), layer="compounds")
    b, notes = read_buildings(sample_path().with_name("sample_buildings.gpkg"), compounds=comp, explicit=True)
    assert notes == [] and len(b) == 311 == int(comp["buildings"].sum())
    per = b.groupby("compound_id").size()
    assert (per.reindex(comp["compound_id"]).to_numpy() == comp["buildings"].to_numpy()).all()
    assert b.groupby("compound_id")["households"].sum().sum() == 7447
    assert int(lift_candidates(b).sum()) == 277  # scripts/make_sample_buildings.py prints the same


def test_every_district_has_its_documents(demo):
    from docx import Document

    d = pd.read_csv(demo / "districts.csv", encoding="utf-8-sig")
    items = pd.read_csv(demo / "renovation_items.csv", encoding="utf-8-sig")
    for did in d["district_id"]:
        doc = Document(str(demo / "proposals" / f"{did}.docx"))
        assert doc.paragraphs[0].text.startswith(f"片区 {did} 改造方案")
        assert len(doc.inline_shapes) == 1
        assert set(items.loc[items["district_id"] == did, "renovation_class"]) == {
            "basic",
            "complete",
            "upgrade",
        }
        if find_cjk_font() is not None:
            assert (demo / "proposals" / f"{did}.pdf").stat().st_size > 20_000
    assert (demo / "proposals" / "summary.docx").exists()
    r = pd.read_csv(demo / "renovation_districts.csv", encoding="utf-8-sig")
    assert r["lift_candidates"].sum() == 277


def test_guohao_meidu_cluster_viable_only_merged(demo):
    from docx import Document

    g = pd.read_csv(demo / "viability_groups.csv", encoding="utf-8-sig").set_index("area")
    row = g.loc["国浩美都片区"]
    assert row["n_compounds"] == 9 and row["members_viable_alone"] == 0
    assert bool(row["viable_only_merged"]) and row["break_even_fee"] < 0.5 < row["break_even_fee_alone_min"]
    comp = pd.read_csv(demo / "viability_compounds.csv", encoding="utf-8-sig")
    did = comp.loc[comp["compound_id"] == "C0030", "district_id"].iloc[0]
    text = "\n".join(p.text for p in Document(str(demo / "proposals" / f"{did}.docx")).paragraphs)
    assert "规划片区“国浩美都片区”" in text and "只有合并后才能引入专业物业" in text
