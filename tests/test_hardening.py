"""Issue 9, hostile use: never delete what renogis did not write, inert outputs, checked options, no crash.

Each test names the point of the issue it covers.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from renogis._outdir import MANIFEST
from renogis.cli import main
from renogis.datasets import sample_path
from renogis.pipeline import barrier_classes

from .conftest import CRS, X0, Y0, grid_compounds, write_gpkg


def _tree(root: Path) -> dict[str, str]:
    """Relative path -> SHA-256 of every file under root."""
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if ".tmp-" in p.name or ".old-" in p.name)


def _err_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


# ---------------------------------------------------------------- 1-4: data loss
def test_1_folder_with_a_run_json_is_not_a_previous_output(tiny_gpkg, tmp_path, capsys):
    x = tmp_path / "x"
    (x / "data").mkdir(parents=True)
    (x / "data" / "survey.csv").write_text("a,b\n1,2\n")
    (x / "thesis.docx").write_text("a")
    (x / "run.json").write_text("{}")
    before = _tree(x)
    assert main(["run", str(tiny_gpkg), "--out", str(x), "--tiles", "none"]) == 2
    err = _err_line(capsys)
    assert "renogis did not write" in err and "thesis.docx" in err and "data/survey.csv" in err
    assert _tree(x) == before
    assert _leftovers(tmp_path) == []


def test_2_files_added_to_or_edited_in_a_previous_output_are_kept(tiny_gpkg, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["districts", str(tiny_gpkg), "--out", str(out)]) == 0
    manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    assert set(manifest["files"]) == set(_tree(out)) - {MANIFEST}
    capsys.readouterr()

    # an unedited previous output is replaced
    assert main(["districts", str(tiny_gpkg), "--out", str(out)]) == 0
    capsys.readouterr()

    # a note the planner added
    (out / "notes.txt").write_text("meeting on Monday")
    before = _tree(out)
    assert main(["districts", str(tiny_gpkg), "--out", str(out)]) == 2
    assert "notes.txt" in _err_line(capsys)
    assert _tree(out) == before
    (out / "notes.txt").unlink()

    # a sheet the planner edited
    sheet = out / "districts.csv"
    sheet.write_text(sheet.read_text(encoding="utf-8-sig") + "my comment\n", encoding="utf-8-sig")
    before = _tree(out)
    assert main(["districts", str(tiny_gpkg), "--out", str(out)]) == 2
    err = _err_line(capsys)
    assert "districts.csv" in err and "edited" in err
    assert _tree(out) == before
    assert _leftovers(tmp_path) == []


def test_3_input_inside_the_output_folder_is_refused(tiny_gpkg, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["run", str(tiny_gpkg), "--out", str(out), "--tiles", "none"]) == 0
    capsys.readouterr()
    before = _tree(out)
    assert main(["run", str(out / "cleaned.gpkg"), "--out", str(out)]) == 2
    assert "lies inside the output folder" in _err_line(capsys)
    assert _tree(out) == before


def test_out_is_the_working_directory_or_a_parent(tiny_gpkg, tmp_path, capsys, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    for out in (".", "..", str(work)):
        assert main(["districts", str(tiny_gpkg), "--out", out]) == 2
        assert "current folder" in _err_line(capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.gpkg", "work"]


def _kill_run(out: Path, tmp_path: Path, sig: int, after_s: float) -> subprocess.CompletedProcess:
    """Start `renogis run` on the sample, send ``sig`` after ``after_s`` seconds."""
    proc = subprocess.Popen([sys.executable, "-m", "renogis", "run", str(sample_path()), "--out", str(out),
                             "--tiles", "none"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=tmp_path)
    # wait until the run has begun writing (its temporary folder exists), then let it go on a while
    deadline = time.monotonic() + 60
    while not any(".tmp-" in p.name for p in tmp_path.iterdir()) and proc.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    time.sleep(after_s)
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=120)
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_4_signals_leave_the_old_output_or_the_new_one_whole(tmp_path, sig):
    out = tmp_path / "out"
    assert main(["run", str(sample_path()), "--out", str(out), "--tiles", "none"]) == 0
    old = _tree(out)
    outcomes = set()
    for after_s in (0.0, 0.5, 1.0, 2.0, 3.0):
        proc = _kill_run(out, tmp_path, sig, after_s)
        # -sig: the signal came after renogis had finished, while Python was shutting down
        assert proc.returncode in (0, 128 + sig, -sig), proc.stderr
        assert "Traceback" not in proc.stderr
        assert _leftovers(tmp_path) == [], (after_s, proc.stderr)
        now = _tree(out)
        manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))["files"]
        # whole: every file of the manifest is there with its hash, and nothing else
        assert set(now) == set(manifest) | {MANIFEST}
        assert all(now[k] == v for k, v in manifest.items())
        if proc.returncode in (0, -sig) or "after the output was complete" in proc.stderr:
            outcomes.add("new")
        else:
            assert "is as it was before the run" in proc.stderr
            # results are deterministic: only run.json (times) may differ from the old output
            assert {k for k in now if now[k] != old.get(k)} <= {"run.json", MANIFEST}
            outcomes.add("old")
        old = now  # the folder the next run starts from (a run that completed replaced it)
    assert "old" in outcomes  # at least one signal landed during the run


def test_4_a_killed_run_is_recovered_by_the_next(tiny_gpkg, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["districts", str(tiny_gpkg), "--out", str(out)]) == 0
    capsys.readouterr()
    # what SIGKILL between "move old aside" and "move new in" leaves: the old output aside, a temp folder
    dead = 2 ** 22 + 12345  # above the default pid_max of 4194304: no such process
    out.rename(tmp_path / f".out.old-{dead}-1")
    (tmp_path / f".out.tmp-{dead}-abc").mkdir()
    (tmp_path / f".out.tmp-{dead}-abc" / "cleaned.gpkg").write_text("half")
    assert main(["districts", str(tiny_gpkg), "--out", str(out)]) == 0
    assert _leftovers(tmp_path) == []
    assert (out / "districts.csv").exists()


def test_failed_run_removes_the_parents_it_made_and_modes_follow_umask(tiny_gpkg, tmp_path, capsys):
    bad = write_gpkg({"compounds": grid_compounds().assign(households=-1)}, tmp_path / "bad.gpkg")
    assert main(["run", str(bad), "--out", str(tmp_path / "a" / "b" / "c")]) == 2
    capsys.readouterr()
    assert not (tmp_path / "a").exists()
    old = os.umask(0o002)
    try:
        assert main(["districts", str(tiny_gpkg), "--out", str(tmp_path / "p" / "out")]) == 0
    finally:
        os.umask(old)
    assert (tmp_path / "p" / "out").stat().st_mode & 0o777 == 0o775
    assert (tmp_path / "p" / "out" / "proposals").stat().st_mode & 0o777 == 0o775


def test_unwritable_out_and_maps_dir_that_is_a_file(tiny_gpkg, tmp_path, capsys):
    # /proc refuses new folders even to root
    assert main(["districts", str(tiny_gpkg), "--out", "/proc/renogis-out/x"]) == 2
    err = _err_line(capsys)
    assert err.startswith("renogis: error: --out /proc/renogis-out/x: cannot")
    blocker = tmp_path / "maps"
    blocker.write_text("not a folder")
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--maps-dir", str(blocker), "--tiles", "none"]) == 2
    assert "--maps-dir" in _err_line(capsys)
    assert not out.exists() and blocker.read_text() == "not a folder"


# ---------------------------------------------------------------- 7, 8: options
def test_7_barrier_class_is_checked_and_adds_to_the_default(tiny_gpkg, tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main(["districts", str(tiny_gpkg), "--out", str(tmp_path / "o"), "--barrier-class", "arterail"])
    assert info.value.code == 2
    err = _err_line(capsys)
    assert "unknown street class 'arterail'" in err and "did you mean 'arterial'" in err
    assert not (tmp_path / "o").exists()
    assert barrier_classes(["secondary"]) == ("arterial", "secondary")
    assert barrier_classes(["none"]) == ()
    assert main(["districts", str(tiny_gpkg), "--out", str(tmp_path / "o"), "--barrier-class", "次干路"]) == 0
    rec = json.loads((tmp_path / "o" / "run.json").read_text(encoding="utf-8"))
    assert rec["parameters"]["barrier_classes"] == ["arterial", "secondary"]


@pytest.mark.parametrize("args, message", [
    (["--min-consent", "2"], "outside 0-1"),
    (["--min-consent", "abc"], "is not a number"),
    (["--min-households", "-5"], "negative"),
    (["--detour-factor", "0.5"], "1 or more"),
    (["--gap-m", "nan"], "finite number"),
])
def test_numeric_options_are_checked(tiny_gpkg, tmp_path, capsys, args, message):
    with pytest.raises(SystemExit) as info:
        main(["districts", str(tiny_gpkg), "--out", str(tmp_path / "o"), *args])
    assert info.value.code == 2
    assert message in _err_line(capsys)


def test_min_above_max_households(tiny_gpkg, tmp_path, capsys):
    assert main(["districts", str(tiny_gpkg), "--out", str(tmp_path / "o"), "--min-households", "5000"]) == 2
    assert "is above --max-households 4000" in _err_line(capsys)


@pytest.mark.parametrize("crs, message", [
    ("EPSG:3857", "stretches distances by 21.79%"),
    ("EPSG:2263", "measures in us survey foot, not metres"),
    ("EPSG:4326", "is not a projected metric CRS"),
])
def test_8_work_crs_must_measure_metres_here(tiny_gpkg, tmp_path, capsys, crs, message):
    assert main(["districts", str(tiny_gpkg), "--out", str(tmp_path / "o"), "--work-crs", crs]) == 2
    err = _err_line(capsys)
    assert message in err and "EPSG:4548" in err
    assert not (tmp_path / "o").exists()


def test_8_a_neighbouring_zone_within_tolerance_is_accepted(tiny_gpkg, tmp_path):
    # the tiny world lies at about 117.3 E; CM 120 E is 2.7 degrees away: scale error 0.08% < 0.1%
    assert main(["districts", str(tiny_gpkg), "--out", str(tmp_path / "o"), "--work-crs", "4549"]) == 0


# ---------------------------------------------------------------- 11, 12: inert outputs
# no comma: an id with a comma is refused (it would make the member lists ambiguous, issue 9.9)
HOSTILE = ["=HYPERLINK(\"http://evil\")", "+SUM(A1)", "-1+1", "@cmd", "\t=1", "\r=2"]


def _hostile_world(tmp_path: Path) -> Path:
    c = grid_compounds()
    c["compound_id"] = [*HOSTILE, "C7", "C8", "-12.5"]
    c["name"] = ["=1+1", "<script>alert(1)</script>", "a|b", "line\nbreak", "**bold**", "#h", "n7", "n8", "n9"]
    c["subdistrict"] = "<b>永安</b>|街道"
    facilities = {"facility_id": ["=F1", "@F2"], "category": ["kindergarten", "clinic"],
                  "geometry": [shapely.Point(X0 + 50, Y0 - 15), shapely.Point(X0 + 300, Y0 - 15)]}
    import geopandas as gpd

    streets = gpd.GeoDataFrame(
        {"street_id": ["=S1"], "class": ["local"],
         "geometry": [shapely.LineString([(X0 - 20, Y0 - 5), (X0 + 350, Y0 - 5)])]}, crs=CRS)
    return write_gpkg({"compounds": c, "facilities": gpd.GeoDataFrame(facilities, crs=CRS),
                       "streets": streets}, tmp_path / "hostile.gpkg")


def test_11_no_csv_cell_can_start_a_formula(tmp_path, capsys):
    src = _hostile_world(tmp_path)
    out = tmp_path / "out"
    assert main(["run", str(src), "--out", str(out), "--tiles", "none", "--min-households", "100"]) == 0
    csvs = sorted(out.rglob("*.csv"))
    assert {p.name for p in csvs} >= {"districts.csv", "service_access.csv", "service_gaps.csv"}
    seen_quoted = 0
    numbers = 0
    for path in csvs:
        with open(path, encoding="utf-8-sig", newline="") as f:
            for row in csv.reader(f):
                for cell in row:
                    if cell[:1] in ("=", "+", "@", "\t", "\r") or (
                            cell.startswith("-") and not _is_number(cell)):
                        raise AssertionError(f"{path.name}: formula cell {cell!r}")
                    seen_quoted += cell.startswith("'=") or cell.startswith("'@")
                    numbers += cell == "-12.5"
    assert seen_quoted > 0  # the hostile ids are there, neutralised
    assert numbers > 0  # a plain negative number stays a number


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def test_12_markdown_sheets_escape_user_text(tmp_path, capsys):
    src = _hostile_world(tmp_path)
    out = tmp_path / "out"
    assert main(["districts", str(src), "--out", str(out), "--min-households", "100"]) == 0
    sheets = sorted((out / "proposals").glob("D*.md"))
    assert sheets
    text = "\n".join(p.read_text(encoding="utf-8") for p in sheets)
    assert "<script>" not in text and "<b>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "a\\|b" in text and "\\*\\*bold\\*\\*" in text and "line break" in text
    for p in sheets:
        rows = [ln for ln in p.read_text(encoding="utf-8").splitlines() if ln.startswith("| ")]
        cells = {len(ln.replace("\\|", "").split("|")) for ln in rows}
        assert len(cells) == 1, (p.name, rows)  # every table row has the header's number of cells


# ---------------------------------------------------------------- 14: every compound excluded
def test_14_every_compound_excluded_is_a_result(tiny_gpkg, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["run", str(tiny_gpkg), "--out", str(out), "--built-before", "1900", "--tiles", "none",
                 "--lang", "en"]) == 0
    printed = capsys.readouterr().out
    assert "districts: 0 proposed covering 0 compounds; 9 excluded" in printed
    assert "every compound (9) was excluded" in printed
    assert (out / "districts.csv").read_text(encoding="utf-8-sig").splitlines()[1:] == []


def test_no_python_warning_reaches_the_console(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "renogis", "run", str(sample_path()), "--out",
                           str(tmp_path / "o"), "--tiles", "none"], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "Warning:" not in proc.stderr and "warn(" not in proc.stderr


# ---------------------------------------------------------------- property: junk never crashes
_junk = st.one_of(st.none(), st.text(max_size=12), st.integers(-10**12, 10**12),
                  st.floats(allow_nan=True, allow_infinity=True), st.booleans())


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(households=st.lists(_junk, min_size=4, max_size=4), year=st.lists(_junk, min_size=4, max_size=4),
       consent=st.lists(_junk, min_size=4, max_size=4), names=st.lists(st.text(max_size=20), min_size=4,
                                                                        max_size=4))
def test_random_attribute_junk_never_gives_an_internal_error(tmp_path_factory, households, year, consent,
                                                             names):
    import geopandas as gpd

    c = grid_compounds(n=2)
    c["households"] = [str(v) if v is not None else None for v in households]
    c["built_year"] = [str(v) if v is not None else None for v in year]
    c["consent"] = [str(v) if v is not None else None for v in consent]
    c["name"] = names
    tmp = tmp_path_factory.mktemp("junk")
    src = write_gpkg({"compounds": gpd.GeoDataFrame(c, crs=CRS)}, tmp / "junk.gpkg")
    code = main(["run", str(src), "--out", str(tmp / "o"), "--tiles", "none", "--min-consent", "0.5",
                 "--built-before", "2001"])
    assert code in (0, 2)
    assert _leftovers(tmp) == []


@pytest.mark.parametrize("args, message", [
    (["--keep-together", "C1,C1"], "C1 given twice"),
    (["--keep-apart", "C4,C4"], "C4 given twice"),
    (["--encoding", "nonsense"], "unknown text encoding 'nonsense'"),
])
def test_list_and_text_options_are_checked(tiny_gpkg, tmp_path, capsys, args, message):
    with pytest.raises(SystemExit) as info:
        main(["districts", str(tiny_gpkg), "--out", str(tmp_path / "o"), *args])
    assert info.value.code == 2
    assert message in _err_line(capsys)
    assert not (tmp_path / "o").exists()


def test_column_map_without_a_source_is_refused(tiny_gpkg, tmp_path, capsys):
    assert main(["districts", str(tiny_gpkg), "--out", str(tmp_path / "o"), "--column-map", "=households"]) == 2
    assert "expected SOURCE=CANONICAL" in _err_line(capsys)
    assert not (tmp_path / "o").exists()
