"""The access model through `renogis run`: no data, warnings, the network block of run.json."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from renogis.cli import main
from tests.conftest import write_gpkg


def _run(args, capsys):
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _access(out):
    return pd.read_csv(out / "service_access.csv", encoding="utf-8-sig")


def test_missing_facilities_layer_reads_no_data(tiny_world, tmp_path, capsys):
    layers = {k: v for k, v in tiny_world.items() if k != "facilities"}
    src = write_gpkg(layers, tmp_path / "nofac.gpkg")
    out = tmp_path / "out"
    code, stdout, _ = _run(["gaps", str(src), "--out", str(out), "--lang", "en"], capsys)
    assert code == 0
    assert "no data" in stdout
    assert "%" not in stdout.split("share of households covered")[1].split("no data:")[0].replace(
        "no data", "")
    acc = _access(out)
    assert set(acc["method"]) == {"no_data"}
    gaps = pd.read_csv(out / "service_gaps.csv", encoding="utf-8-sig")
    assert gaps["coverage_share"].isna().all() and gaps["shortfall"].isna().all()
    rec = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert len(rec["network"]["no_data_categories"]) == 18
    assert rec["network"]["components"] == 1
    assert "no data (not reported as 0%)" in (out / "validation.txt").read_text(encoding="utf-8")


def test_no_data_option_and_absent_category_note(tiny_gpkg, tmp_path, capsys):
    out = tmp_path / "out"
    code, stdout, _ = _run(["gaps", str(tiny_gpkg), "--out", str(out), "--lang", "en",
                            "--no-data", "clinic,parking"], capsys)
    assert code == 0
    acc = _access(out)
    assert set(acc.loc[acc["category"].isin(["clinic", "parking"]), "method"]) == {"no_data"}
    assert set(acc.loc[acc["category"] == "kindergarten", "method"]) <= {"network", "inside"}
    assert (acc.loc[acc["category"] == "canteen", "method"] == "unreachable").all()
    from renogis.outputs.wording import category_name

    assert f"no data: {category_name('clinic', 'en')}, {category_name('parking', 'en')}" in stdout
    assert "the facilities layer holds no" in stdout and category_name("canteen", "en") in stdout
    rec = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert rec["parameters"]["no_data"] == ["clinic", "parking"]
    assert rec["network"]["no_data_categories"] == ["clinic", "parking"]
    code, _, err = _run(["gaps", str(tiny_gpkg), "--out", str(tmp_path / "bad"), "--no-data",
                         "parkng"], capsys)
    assert code == 2 and "unknown category 'parkng'" in err


def test_far_streets_warn_in_console_validation_and_run_json(tiny_world, tmp_path, capsys):
    layers = dict(tiny_world)
    layers["streets"] = tiny_world["streets"].set_geometry(
        tiny_world["streets"].geometry.translate(5000, 5000))
    src = write_gpkg(layers, tmp_path / "far.gpkg")
    out = tmp_path / "out"
    code, stdout, _ = _run(["gaps", str(src), "--out", str(out), "--lang", "en"], capsys)
    assert code == 0
    assert "warning: access connectors are implausibly long" in stdout
    assert "0 warnings" not in stdout
    assert "WARNING: access connectors are implausibly long" in (out / "validation.txt").read_text(
        encoding="utf-8")
    rec = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert rec["network"]["connector_median_m"] > 5000
    assert any("implausibly long" in w for w in rec["network"]["warnings"])


def test_access_options(tiny_gpkg, tmp_path, capsys):
    out = tmp_path / "out"
    code, _, _ = _run(["gaps", str(tiny_gpkg), "--out", str(out), "--access", "centroid",
                       "--frontage-m", "5"], capsys)
    assert code == 0
    rec = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert rec["parameters"]["access"] == "centroid" and rec["parameters"]["frontage_m"] == 5.0
    assert rec["network"]["access_model"] == "centroid"
    with pytest.raises(SystemExit) as exc:
        main(["gaps", str(tiny_gpkg), "--out", str(tmp_path / "x"), "--access", "gate"])
    assert exc.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_run_json_network_block(tiny_gpkg, tmp_path, capsys, lang):
    out = tmp_path / "out"
    code, _, _ = _run(["gaps", str(tiny_gpkg), "--out", str(out), "--lang", lang], capsys)
    assert code == 0
    net = json.loads((out / "run.json").read_text(encoding="utf-8"))["network"]
    for key in ("nodes", "edges", "length_m", "components", "largest_share", "barrier_crossings",
                "compounds_on_parts_without_facility", "warnings"):
        assert key in net
    # the tiny world's river crosses the north-south street: counted, not cut
    assert net["barrier_crossings"] == 1 and net["components"] == 1


def test_gap_lines_explain_merging_and_no_data():
    import geopandas as gpd
    import shapely

    from renogis import access as acc
    from renogis.network import build_walk_network
    from renogis.outputs.wording import gap_lines
    from renogis.standards import load_standards

    std = load_standards()
    crs = "EPSG:4548"
    streets = gpd.GeoDataFrame({"street_id": ["s"]},
                               geometry=[shapely.LineString([(-100, 0), (1000, 0)])], crs=crs)
    net = build_walk_network(streets)
    comp = gpd.GeoDataFrame({"compound_id": ["A"], "households": [100], "district_id": ["D1"]},
                            geometry=[shapely.box(0, 10, 100, 110)], crs=crs)
    fac = gpd.GeoDataFrame({"facility_id": ["F"], "category": ["kindergarten"]},
                           geometry=[shapely.Point(900, -5)], crs=crs)
    a = acc.compute_access(comp, fac, network=net, standards=std,
                           categories=["kindergarten", "clinic"], no_data=["clinic"])
    g = acc.compute_gaps(comp, a, facilities=fac, standards=std, network=net)
    lines = gap_lines(g, standards=std, lang="en")["D1"]
    assert lines[0].startswith("after merging: walking distances recomputed")
    assert any(line.startswith("Kindergarten (300 m): 100 of 100 households uncovered") for line in lines)
    assert any("no data" in line and line.startswith("Community health station") for line in lines)
    zh = gap_lines(g, standards=std, lang="zh")["D1"]
    assert zh[0].startswith("统筹后") and any("无数据" in line for line in zh)
