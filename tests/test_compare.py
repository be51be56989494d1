"""`renogis compare` on two runs of the same tiny city, and the proposal outputs of `renogis run`."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from renogis.cli import main


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    from tests.conftest import grid_compounds, write_gpkg

    tmp = tmp_path_factory.mktemp("cmp")
    comp = grid_compounds()
    comp["parking_spaces"] = 40
    gpkg = write_gpkg({"compounds": comp}, tmp / "city.gpkg")
    a, b = tmp / "a", tmp / "b"
    assert (
        main(
            [
                "run",
                str(gpkg),
                "--out",
                str(a),
                "--tiles",
                "none",
                "--documents",
                "none",
                "--min-households",
                "1500",
                "--max-households",
                "4000",
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "run",
                str(gpkg),
                "--out",
                str(b),
                "--tiles",
                "none",
                "--documents",
                "summary",
                "--lang",
                "en",
                "--min-households",
                "300",
                "--max-households",
                "700",
                "--property-fee",
                "0.4",
                "--funding-share",
                "basic:residents=0.1",
            ]
        )
        == 0
    )
    return tmp, a, b


def test_run_writes_proposal_tables(two_runs):
    _, a, b = two_runs
    items = pd.read_csv(a / "renovation_items.csv", encoding="utf-8-sig")
    assert {
        "district_id",
        "renovation_class",
        "item",
        "quantity",
        "cost_low_yuan",
        "verified",
        "evidence",
    } <= set(items.columns)
    # 9 compounds x 200 households, 40 own spaces each: shortfall ceil(0.5 x 200) - 40 = 60 per compound
    d = pd.read_csv(a / "renovation_districts.csv", encoding="utf-8-sig")
    assert d["parking_shortfall"].sum() == 9 * 60
    c = pd.read_csv(a / "renovation_compounds.csv", encoding="utf-8-sig")
    assert len(c) == 9 and (c["parking_need"] == 100).all() and (c["parking_shortfall"] == 60).all()
    assert not (a / "proposals" / "summary.docx").exists()  # --documents none
    assert (b / "proposals" / "summary.docx").exists() and not (b / "proposals" / "D001.docx").exists()
    rec = json.loads((b / "run.json").read_text(encoding="utf-8"))
    assert rec["summary"]["proposals"]["property_fee"] == 0.4
    assert rec["parameters"]["funding_shares"] == [["basic", "residents", 0.1]]
    f = pd.read_csv(b / "funding.csv", encoding="utf-8-sig")
    assert "residents" in set(f["funding_source"])
    assert "no buildings layer" in (b / "validation.txt").read_text(encoding="utf-8")


def test_compare_two_runs(two_runs, capsys):
    tmp, a, b = two_runs
    out = tmp / "cmp"
    assert main(["compare", str(a), str(b), "--out", str(out), "--lang", "en"]) == 0
    t = pd.read_csv(out / "compare.csv", encoding="utf-8-sig").set_index("metric")
    da = pd.read_csv(a / "districts.csv", encoding="utf-8-sig")
    db = pd.read_csv(b / "districts.csv", encoding="utf-8-sig")
    assert t.loc["districts", "run_a"] == len(da) and t.loc["districts", "run_b"] == len(db)
    assert t.loc["districts", "difference"] == len(db) - len(da)
    band_b = ((db["households"] >= 300) & (db["households"] <= 700)).mean()
    assert t.loc["in_band_share", "run_b"] == pytest.approx(band_b)
    assert t.loc["wall_m", "run_a"] == pytest.approx(da["wall_m"].sum())
    ra = pd.read_csv(a / "renovation_districts.csv", encoding="utf-8-sig")
    assert t.loc["cost_low_yuan", "run_a"] == pytest.approx(ra["cost_low_yuan"].sum())
    assert "districts_viable_merged" in t.index
    assert (out / "compare_map.png").stat().st_size > 10_000
    md = (out / "compare.md").read_text(encoding="utf-8")
    assert "| districts |" in md and "different input" not in md


def test_compare_rejects_a_folder_that_is_not_a_run(tmp_path, capsys):
    (tmp_path / "x").mkdir()
    assert main(["compare", str(tmp_path / "x"), str(tmp_path / "x"), "--out", str(tmp_path / "o")]) == 2
    assert "not a renogis run folder (no run.json)" in capsys.readouterr().err


def test_bad_funding_share_is_a_usage_error(tmp_path, capsys):
    from tests.conftest import grid_compounds, write_gpkg

    gpkg = write_gpkg({"compounds": grid_compounds()}, tmp_path / "c.gpkg")
    code = main(
        [
            "run",
            str(gpkg),
            "--out",
            str(tmp_path / "o"),
            "--tiles",
            "none",
            "--funding-share",
            "basic:banks=0.2",
        ]
    )
    assert code == 2
    assert "unknown source 'banks'" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
