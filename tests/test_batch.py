"""renogis batch: manifests, a real Dask LocalCluster of 2 process workers, one bad city, --resume."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest

pytest.importorskip("distributed")

from renogis import batch  # noqa: E402
from renogis._errors import InputError  # noqa: E402
from renogis.cli import main  # noqa: E402
from renogis.datasets.synthetic import make_city  # noqa: E402
from renogis.io import write_gpkg  # noqa: E402
from renogis.pipeline import RunConfig  # noqa: E402

# the machine outputs compared byte for byte between a batch city and its single run
TABLES = ("districts.csv", "service_gaps.csv", "service_access.csv", "siting_plan.csv")


def _city_file(folder: Path, name: str, n: int, seed: int) -> Path:
    return write_gpkg(folder / f"{name}.gpkg", make_city(n, seed=seed))


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Three small cities, the middle one bad (no households column), and one batch of them on 2 workers."""
    root = tmp_path_factory.mktemp("batch")
    data = root / "data"
    data.mkdir()
    _city_file(data, "alpha", 30, 1)
    _city_file(data, "gamma", 24, 3)
    bad = make_city(20, seed=2)
    bad["compounds"] = bad["compounds"].drop(columns=["households"])
    write_gpkg(data / "beta.gpkg", bad)
    manifest = data / "cities.csv"
    manifest.write_text(
        "city,input,min_households,max_households\n"
        "alpha,alpha.gpkg,1000,3000\n"
        "beta,beta.gpkg,,\n"
        "gamma,gamma.gpkg,,\n", encoding="utf-8")
    out = root / "out"
    code = main(["batch", str(manifest), "--out", str(out), "--workers", "2", "--quiet", "--tiles", "none"])
    # the same cities, each alone through `renogis run` in this process
    single = root / "single"
    assert main(["run", str(data / "alpha.gpkg"), "--out", str(single / "alpha"), "--tiles", "none",
                 "--min-households", "1000", "--max-households", "3000"]) == 0
    assert main(["run", str(data / "gamma.gpkg"), "--out", str(single / "gamma"), "--tiles", "none"]) == 0
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        assert main(["run", str(data / "beta.gpkg"), "--out", str(single / "beta"), "--tiles", "none"]) == 2
    return {"beta_error": err.getvalue(), "root": root, "data": data, "manifest": manifest, "out": out,
            "code": code, "single": single}


def test_exit_code_says_a_city_failed(world):
    assert world["code"] == batch.EXIT_CITY_FAILED == 3


def test_two_process_workers_ran_it(world):
    record = json.loads((world["out"] / "batch.json").read_text(encoding="utf-8"))
    assert record["cluster"]["workers"] == 2
    assert record["cities_in_manifest"] == ["alpha", "beta", "gamma"]


def test_bad_city_records_its_error_and_the_others_go_on(world):
    s = pd.read_csv(world["out"] / "summary.csv", encoding="utf-8-sig")
    assert s["city"].tolist() == ["alpha", "beta", "gamma"]  # manifest order, not completion order
    assert s["status"].tolist() == ["ok", "failed", "ok"]
    bad = s.set_index("city").loc["beta"]
    assert bad["failure"] == "input_error"
    # the very line `renogis run` prints for that city alone
    assert world["beta_error"] == f"renogis: error: {bad['error']}\n"
    assert bad["error"].startswith("beta.gpkg [compounds] column households: required column missing")
    assert pd.isna(bad["compounds"]) and pd.isna(bad["districts"])
    assert not (world["out"] / "beta").exists()  # a failed city leaves no output folder
    leftovers = [p.name for p in world["out"].iterdir() if p.name.startswith(".")]
    assert leftovers == []


@pytest.mark.parametrize("city", ["alpha", "gamma"])
def test_each_city_equals_its_single_run(world, city):
    got, want = world["out"] / city, world["single"] / city
    for name in TABLES:
        assert (got / name).read_bytes() == (want / name).read_bytes(), name
    for layer in ("districts", "compounds"):
        a = pyogrio.read_dataframe(got / "districts.gpkg", layer=layer)
        b = pyogrio.read_dataframe(want / "districts.gpkg", layer=layer)
        pd.testing.assert_frame_equal(pd.DataFrame(a), pd.DataFrame(b))
    # proposal sheets and documents (Markdown, DOCX, PDF are reproducible), byte for byte
    sheets = sorted(p.name for p in (want / "proposals").iterdir())
    assert sorted(p.name for p in (got / "proposals").iterdir()) == sheets
    for name in sheets:
        assert (got / "proposals" / name).read_bytes() == (want / "proposals" / name).read_bytes(), name


@pytest.mark.parametrize(("city", "lo", "hi"), [("alpha", 1000, 3000), ("gamma", 1500, 4000)])
def test_summary_figures_match_the_city_outputs(world, city, lo, hi):
    s = pd.read_csv(world["out"] / "summary.csv", encoding="utf-8-sig").set_index("city").loc[city]
    inp = gpd.read_file(world["data"] / f"{city}.gpkg", layer="compounds")
    dist = pd.read_csv(world["single"] / city / "districts.csv", encoding="utf-8-sig")
    assert s["compounds"] == len(inp)
    assert s["households"] == inp["households"].sum()
    assert s["districts"] == len(dist)
    in_band = int(dist["households"].between(lo, hi).sum())
    assert s["districts_in_band"] == in_band
    assert s["share_in_band"] == pytest.approx(in_band / len(dist))
    assert s["work_crs"] == "EPSG:4548"
    # coverage share per category: covered households / households over the compound rows of service_gaps
    gaps = pd.read_csv(world["single"] / city / "service_gaps.csv", encoding="utf-8-sig")
    comp = gaps[gaps["level"] == "compound"]
    for cat in ("kindergarten", "clinic"):
        rows = comp[comp["category"] == cat]
        share = rows["covered_households"].sum() / rows["households"].sum()
        assert s[f"coverage_share_{cat}"] == pytest.approx(share, abs=1e-6)


def test_summary_gpkg_holds_every_ok_citys_districts(world):
    g = pyogrio.read_dataframe(world["out"] / "summary.gpkg", layer="districts")
    assert g.crs.to_epsg() == 4548
    assert list(g.columns[:2]) == ["city", "district_id"]
    for city in ("alpha", "gamma"):
        want = pyogrio.read_dataframe(world["single"] / city / "districts.gpkg", layer="districts")
        got = g[g["city"] == city].drop(columns="city").reset_index(drop=True)
        assert got["district_id"].tolist() == want["district_id"].tolist()
        assert got.geometry.geom_equals_exact(want.geometry, tolerance=0).all()
    assert set(g["city"]) == {"alpha", "gamma"}


def test_summary_xlsx_has_chinese_headers(world):
    import zipfile

    with zipfile.ZipFile(world["out"] / "summary.xlsx") as z:
        sheet = z.read("xl/worksheets/sheet1.xml").decode("utf-8")
    assert "城市" in sheet and "户数达标片区占比" in sheet and "覆盖率_幼儿园" in sheet


def test_resume_skips_complete_cities_and_reruns_changed_ones(world, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(world["out"], out)  # a moved batch folder resumes too
    data = world["data"]
    _city_file(data, "beta_fixed", 20, 2)
    manifest = data / "cities2.csv"
    manifest.write_text(
        "city,input,min_households,max_households\n"
        "alpha,alpha.gpkg,1000,3000\n"          # unchanged: skipped
        "beta,beta_fixed.gpkg,,\n"              # failed before: runs
        "gamma,gamma.gpkg,1200,\n",             # an option changed: runs again
        encoding="utf-8")
    before = {c: json.loads((out / c / "run.json").read_text("utf-8"))["started_utc"]
              for c in ("alpha", "gamma")}
    alpha_mtime = (out / "alpha" / "run.json").stat().st_mtime_ns
    from distributed import LocalCluster

    # an existing cluster, reached by its address as on a real cluster
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        code = main(["batch", str(manifest), "--out", str(out), "--scheduler", cluster.scheduler_address,
                     "--quiet", "--tiles", "none", "--resume"])
    assert code == batch.EXIT_OK
    s = pd.read_csv(out / "summary.csv", encoding="utf-8-sig").set_index("city")
    assert s["status"].to_dict() == {"alpha": "resumed", "beta": "ok", "gamma": "ok"}
    assert (out / "alpha" / "run.json").stat().st_mtime_ns == alpha_mtime
    assert json.loads((out / "gamma" / "run.json").read_text("utf-8"))["parameters"]["min_households"] == 1200
    assert before["alpha"] == json.loads((out / "alpha" / "run.json").read_text("utf-8"))["started_utc"]
    g = pyogrio.read_dataframe(out / "summary.gpkg", layer="districts", read_geometry=False)
    assert set(g["city"]) == {"alpha", "beta", "gamma"}
    record = json.loads((out / "batch.json").read_text(encoding="utf-8"))
    assert record["cluster"]["scheduler"] == cluster.scheduler_address and record["cluster"]["workers"] == 1


# --------------------------------------------------------------------------- no cluster needed
def test_csv_manifest_options_and_relative_paths(tmp_path):
    (tmp_path / "std").mkdir()
    m = tmp_path / "m.csv"
    m.write_text("city,input,min_households,max_households,standards,source_crs,barrier_classes,keep_apart,"
                 "require_owners_committee,sites_per_category\n"
                 "南京,a.gpkg,1200,3500,std/mine.toml,gcj02,secondary;path,\"C1,C2;C3,C4\",是,0\n"
                 "b,/abs/b.gpkg,,,complete_community,,none,,,\n", encoding="utf-8")
    a, b = batch.read_manifest(m, out=tmp_path / "out")
    assert a.name == "南京"
    assert a.config.input == tmp_path / "a.gpkg"
    assert a.config.out == tmp_path / "out" / "南京"
    assert (a.config.min_households, a.config.max_households) == (1200, 3500)
    assert a.config.standards == str(tmp_path / "std" / "mine.toml")
    assert a.config.source_crs == "gcj02"
    assert a.config.barrier_classes == ("arterial", "secondary", "path")
    assert a.config.keep_apart == (("C1", "C2"), ("C3", "C4"))
    assert a.config.require_owners_committee is True
    assert a.config.sites_per_category is None  # 0 = until all covered, as on the command line
    assert b.config.input == Path("/abs/b.gpkg")
    assert b.config.standards == "complete_community"
    assert b.config.barrier_classes == ()
    assert (b.config.min_households, b.config.max_households) == (1500, 4000)


def test_toml_manifest_defaults_and_command_line_defaults(tmp_path):
    m = tmp_path / "m.toml"
    m.write_text('[defaults]\nmax_households = 3000\n\n[[city]]\ncity = "x"\ninput = "x.gpkg"\n'
                 'keep_together = [["C1", "C2", "C3"]]\nsoft_barrier_classes = ["secondary"]\n'
                 'ledger = "ledgers/x.xlsx"\nmax_span_m = 800\nnested = "keep-parent"\n\n'
                 '[[city]]\ncity = "y"\ninput = "y"\n'
                 'max_households = 5000\n', encoding="utf-8")
    base = RunConfig(input=m, out=tmp_path, min_households=900, lang="en")
    x, y = batch.read_manifest(m, out=tmp_path / "o", defaults=base)
    assert (x.config.min_households, x.config.max_households, x.config.lang) == (900, 3000, "en")
    assert x.config.keep_together == (("C1", "C2", "C3"),)
    assert x.config.soft_barrier_classes == ("secondary",)
    assert x.config.ledger == tmp_path / "ledgers" / "x.xlsx"
    assert (x.config.max_span_m, x.config.nested) == (800.0, "keep-parent")
    assert y.config.max_households == 5000 and y.config.input == tmp_path / "y"


def test_folder_manifest_one_city_per_geopackage(tmp_path):
    for n in ("b", "a"):
        (tmp_path / f"{n}.gpkg").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("x")
    cities = batch.read_manifest(tmp_path, out=tmp_path / "out")
    assert [(c.name, c.config.input.name) for c in cities] == [("a", "a.gpkg"), ("b", "b.gpkg")]


def test_bad_manifest_lists_every_problem(tmp_path):
    m = tmp_path / "m.csv"
    m.write_text("city,input,min_houshold,max_households,seed\n"
                 "a,a.gpkg,,1000,x\n"
                 "A,b.gpkg,,,\n"
                 ",c.gpkg,,,\n"
                 "../up,d.gpkg,,,\n", encoding="utf-8")
    with pytest.raises(InputError) as info:
        batch.read_manifest(m, out=tmp_path / "out")
    p = info.value.problems
    assert p[0] == ("m.csv header: unknown column 'min_houshold' (did you mean 'min_households'?); known: "
                    + ", ".join(["city", "name", "input", "path", *batch.OPTION_FIELDS]))
    assert "m.csv row 2, column seed: 'x' is not a whole number" in p
    assert any(s.startswith("m.csv row 3: city 'A' is already declared at m.csv row 2") for s in p)
    assert "m.csv row 4: no city name; fill the 'city' column" in p
    assert any(s.startswith("m.csv row 5: city name '../up' cannot name a folder") for s in p)
    assert len(p) == 5


def test_min_above_max_in_manifest(tmp_path):
    m = tmp_path / "m.csv"
    m.write_text("city,input,min_households\na,a.gpkg,5000\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"m.csv row 2: min_households 5000 is above max_households 4000"):
        batch.read_manifest(m, out=tmp_path / "out")


def test_cli_bad_manifest_exits_2_with_one_line(tmp_path, capsys):
    m = tmp_path / "m.csv"
    m.write_text("city,input,tiles\na,a.gpkg,google\n", encoding="utf-8")
    assert main(["batch", str(m), "--out", str(tmp_path / "out"), "--quiet"]) == batch.EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "m.csv row 2, column tiles: 'google': choose from osm, cartodb, amap, tianditu, none" in err
    assert not (tmp_path / "out").exists()


def test_foreign_output_folder_is_refused(tmp_path, capsys):
    (tmp_path / "a.gpkg").write_bytes(b"")
    out = tmp_path / "out"
    out.mkdir()
    (out / "mine.txt").write_text("keep me")
    assert main(["batch", str(tmp_path), "--out", str(out), "--quiet"]) == 2
    assert "the folder holds files that renogis batch did not write" in capsys.readouterr().err
    assert (out / "mine.txt").read_text() == "keep me"


def test_city_complete_checks_options_inputs_and_edits(tmp_path):
    src = _city_file(tmp_path, "c", 12, 4)
    city = batch.City("c", RunConfig(input=src, out=tmp_path / "out" / "c", steps=("load", "districts"),
                                     tiles="none"))
    assert not batch.city_complete(city)  # nothing there yet
    outcome = batch.run_city(city)
    assert outcome.row["status"] == "ok" and outcome.row["compounds"] == 12
    assert batch.city_complete(city, started_utc=outcome.started_utc)
    assert not batch.city_complete(city, started_utc="2000-01-01T00:00:00+00:00")  # not the recorded run
    import dataclasses

    other = batch.City("c", dataclasses.replace(city.config, min_households=1000))
    assert not batch.city_complete(other)  # options changed
    (city.config.out / "districts.csv").write_text("edited")
    assert not batch.city_complete(city)  # an output edited since


def test_summary_text_and_exit_code(tmp_path):
    rows = [
        {"city": "a", "status": "ok", "compounds": 10, "households": 1200, "run_time_s": 1.5,
         "coverage_share_clinic": 0.5, "coverage_share_merged_clinic": 0.75},
        {"city": "b", "status": "failed", "failure": "input_error", "error": "b.gpkg: cannot open",
         "run_time_s": 0.1},
        {"city": "c", "status": "resumed", "compounds": 5, "households": 600, "run_time_s": 2.0},
    ]
    summary = batch._summary_frame(rows)
    assert list(summary.columns) == [*batch.SUMMARY_COLUMNS, "coverage_share_clinic",
                                     "coverage_share_merged_clinic"]
    assert summary["compounds"].tolist()[0] == 10 and pd.isna(summary["compounds"].tolist()[1])
    result = batch.BatchResult(out=tmp_path, summary=summary, files=(), wall_time_s=12.34, workers=2,
                               warnings={"a": ("one", "two")})
    assert result.exit_code == batch.EXIT_CITY_FAILED
    assert batch.summary_text(result).splitlines() == [
        "3 cities: 1 ok, 1 already complete (--resume), 1 failed; 12.3 s on 2 workers",
        "  FAILED b (input_error): b.gpkg: cannot open",
        f"2 warnings from 1 cities: see {tmp_path / 'warnings.txt'}",
        f"outputs in {tmp_path}: summary.csv, summary.xlsx, summary.gpkg, <city>/",
    ]
    ok = batch.BatchResult(out=tmp_path, summary=summary.iloc[[0, 2]], files=(), wall_time_s=1, workers=0)
    assert ok.exit_code == batch.EXIT_OK == 0
