"""The command line: exit codes, one-line errors, no half-written output."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from renogis.cli import main
from renogis.pipeline import RunConfig, run

from .conftest import grid_compounds, write_gpkg


def _bad_gpkg(tmp_path):
    c = grid_compounds()
    c.loc[1, "compound_id"] = "C1"
    c.loc[2, "households"] = -3
    return write_gpkg({"compounds": c}, tmp_path / "bad.gpkg")


def test_validate_ok(tiny_gpkg, capsys):
    assert main(["validate", str(tiny_gpkg)]) == 0
    out = capsys.readouterr().out
    assert "usable: yes" in out


def test_validate_bad_exits_2_and_lists_all(tmp_path, capsys):
    assert main(["validate", str(_bad_gpkg(tmp_path))]) == 2
    out = capsys.readouterr().out
    assert "2 errors:" in out
    assert "bad.gpkg [compounds] column compound_id: 1 duplicate ids (ids: C1)" in out
    assert "bad.gpkg [compounds] column households: 1 values below 0 (ids: C3)" in out
    assert out.strip().endswith("usable: no (fix the errors above)")


def test_run_bad_input_one_line_no_output(tmp_path, capsys):
    out_dir = tmp_path / "out"
    code = main(["run", str(_bad_gpkg(tmp_path)), "--out", str(out_dir)])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert err.startswith("renogis: error: bad.gpkg [compounds] column compound_id: 1 duplicate ids (ids: C1)")
    assert "Traceback" not in err
    assert not out_dir.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["bad.gpkg"]  # no temporary folder left behind


def test_usage_error_exit_2(capsys):
    assert_exit = pytest.raises(SystemExit)
    with assert_exit as info:
        main(["run"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("renogis: usage error:") and len(err.strip().splitlines()) == 1


def test_keep_together_needs_two_ids(tiny_gpkg, tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main(["run", str(tiny_gpkg), "--out", str(tmp_path / "o"), "--keep-together", "C1"])
    assert info.value.code == 2
    assert "give at least two compound ids" in capsys.readouterr().err


def test_refuses_to_overwrite_foreign_folder(tiny_gpkg, tmp_path, capsys):
    out_dir = tmp_path / "mine"
    out_dir.mkdir()
    (out_dir / "thesis.docx").write_text("precious")
    assert main(["run", str(tiny_gpkg), "--out", str(out_dir)]) == 2
    assert "holds files that renogis did not write" in capsys.readouterr().err
    assert (out_dir / "thesis.docx").read_text() == "precious"


def test_load_step_writes_cleaned_and_provenance(tiny_gpkg, tmp_path):
    out_dir = tmp_path / "out"
    res = run(RunConfig(input=tiny_gpkg, out=out_dir, steps=("load",)))
    assert sorted(p.name for p in out_dir.iterdir()) == [
        "cleaned.gpkg", "columns.md", "renogis_manifest.json", "run.json", "validation.txt"]
    rec = json.loads((out_dir / "run.json").read_text(encoding="utf-8"))
    assert rec["work_crs"]["epsg"] == 4548
    assert rec["layers"]["compounds"] == 9
    assert str(tiny_gpkg) in rec["inputs"] and len(rec["inputs"][str(tiny_gpkg)]) == 64
    assert set(rec["versions"]) >= {"renogis", "geopandas", "shapely", "pyproj", "python"}
    assert "load" in rec["timings_s"]
    assert res.summary["work_crs"] == "EPSG:4548"
    # a second run replaces the previous output cleanly
    run(RunConfig(input=tiny_gpkg, out=out_dir, steps=("load",)))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "tiny.gpkg"]


def test_console_script_entry_point(tiny_gpkg):
    proc = subprocess.run([sys.executable, "-m", "renogis", "validate", str(tiny_gpkg)],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "usable: yes" in proc.stdout
