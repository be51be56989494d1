"""`renogis run --config run.toml` and `renogis rerun OUT/run.json` (issue 11, point 6)."""

from __future__ import annotations

import json

import pytest

from renogis.cli import main


def _params(out):
    return json.loads((out / "run.json").read_text(encoding="utf-8"))["parameters"]


def test_config_file_gives_every_option_and_the_command_line_wins(tiny_gpkg, tmp_path, capsys):
    cfg = tmp_path / "run.toml"
    cfg.write_text(
        f'input = "{tiny_gpkg.name}"\nout = "res"\nmin_households = 300\nmax_households = 900\n'
        'barrier_class = ["secondary"]\nkeep_together = [["C4", "C7"]]\nrequire_owners_committee = true\n'
        'tiles = "none"\n', encoding="utf-8")
    assert main(["districts", "--config", str(cfg)]) == 0
    p = _params(tmp_path / "res")  # paths in the file are relative to the file
    assert (p["min_households"], p["max_households"]) == (300, 900)
    assert p["barrier_classes"] == ["arterial", "secondary"]
    assert p["keep_together"] == [["C4", "C7"]]
    assert p["require_owners_committee"] is True
    assert main(["districts", "--config", str(cfg), "--min-households", "400", "--out",
                 str(tmp_path / "res2")]) == 0
    assert _params(tmp_path / "res2")["min_households"] == 400


def test_config_file_errors_are_one_line(tiny_gpkg, tmp_path, capsys):
    cfg = tmp_path / "bad.toml"
    cfg.write_text("min_houshold = 3\n", encoding="utf-8")
    assert main(["run", str(tiny_gpkg), "--out", str(tmp_path / "o"), "--config", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert err.strip() == (f"renogis: error: --config {cfg}: unknown option 'min_houshold'; did you mean "
                           "'min_households'? see renogis run --help")
    cfg.write_text("min_households = [", encoding="utf-8")
    assert main(["run", str(tiny_gpkg), "--out", str(tmp_path / "o"), "--config", str(cfg)]) == 2
    assert "not a valid TOML file" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        main(["run", "--out", str(tmp_path / "o")])
    assert info.value.code == 2
    assert "INPUT required" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_rerun_repeats_a_run_exactly_and_refuses_changed_inputs(tiny_gpkg, tmp_path, capsys):
    first = tmp_path / "first"
    assert main(["run", str(tiny_gpkg), "--out", str(first), "--tiles", "none", "--min-households", "300",
                 "--keep-apart", "C1,C2"]) == 0
    again = tmp_path / "again"
    assert main(["rerun", str(first / "run.json"), "--out", str(again)]) == 0
    for name in ("districts.csv", "service_access.csv", "service_gaps.csv", "siting_plan.csv"):
        assert (again / name).read_bytes() == (first / name).read_bytes(), name
    import geopandas as gpd  # a GeoPackage stamps its write time: compare the layers
    from pandas.testing import assert_frame_equal

    assert_frame_equal(gpd.read_file(again / "districts.gpkg", layer="compounds"),
                       gpd.read_file(first / "districts.gpkg", layer="compounds"))
    p1, p2 = _params(first), _params(again)
    assert {k: v for k, v in p1.items() if k != "out"} == {k: v for k, v in p2.items() if k != "out"}
    capsys.readouterr()
    tiny_gpkg.write_bytes(tiny_gpkg.read_bytes() + b"\0")
    assert main(["rerun", str(first / "run.json"), "--out", str(tmp_path / "third")]) == 2
    assert "the inputs are not those of the original run" in capsys.readouterr().err
