"""PostGIS in and out, against a real PostgreSQL + PostGIS server started for these tests.

The server is made with ``initdb`` in a temporary folder and listens on a free port
on 127.0.0.1 (as the ``postgres`` OS user when the tests run as root). The tests skip
with a message when the Debian packages ``postgresql`` and ``postgresql-NN-postgis-3``
(or the Python extra ``renogis[postgis]``) are absent, and fail instead under
``RENOGIS_REQUIRE_POSTGIS=1`` (CI).
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest

from renogis.cli import main
from renogis.datasets import sample_path
from renogis.postgis import parse_layer_map, parse_url, redact_url

from .conftest import grid_compounds, write_gpkg

pytestmark = pytest.mark.postgis

SECRET = "pl4nner-s3cret-7f"  # the password of role planner; must never show up anywhere


# --------------------------------------------------------------------------- server
def _missing(reason: str) -> None:
    if os.environ.get("RENOGIS_REQUIRE_POSTGIS") == "1":
        pytest.fail(f"PostgreSQL with PostGIS is required (RENOGIS_REQUIRE_POSTGIS=1) but {reason}")
    pytest.skip(f"{reason}; PostGIS tests skipped (apt-get install postgresql postgresql-15-postgis-3, "
                "pip install 'renogis[postgis]')")


def _bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Server:
    port: int
    root: Path

    def url(self, db: str, schema: str | None = None, user: str = "postgres") -> str:
        return f"postgresql://{user}@127.0.0.1:{self.port}/{db}" + (f"?schema={schema}" if schema else "")

    def connect(self, db: str = "postgres", autocommit: bool = True):  # type: ignore[no-untyped-def]
        import psycopg

        return psycopg.connect(self.url(db), autocommit=autocommit)

    def engine(self, db: str):  # type: ignore[no-untyped-def]
        from sqlalchemy import create_engine

        return create_engine(f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{db}")


@pytest.fixture(scope="module")
def pg() -> Server:
    try:
        import geoalchemy2  # noqa: F401
        import psycopg  # noqa: F401
        import sqlalchemy  # noqa: F401
    except ImportError as exc:
        _missing(f"the Python extra renogis[postgis] is not installed ({exc.name})")
    bindir = _bindir()
    if bindir is None:
        _missing("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    prefix: list[str] = []
    root = Path(tempfile.mkdtemp(prefix="renogis-pg-"))
    if os.geteuid() == 0:  # the server refuses to run as root: run it as the postgres user
        import pwd

        try:
            pw = pwd.getpwnam("postgres")
        except KeyError:
            shutil.rmtree(root)
            _missing("there is no postgres OS user to run the server as")
        os.chown(root, pw.pw_uid, pw.pw_gid)
        runuser = shutil.which("runuser")
        prefix = [runuser, "-u", "postgres", "--"] if runuser else ["su", "postgres", "-s", "/bin/sh", "-c"]
    os.chmod(root, 0o700)

    def as_server(args: list[str]) -> subprocess.CompletedProcess:
        cmd = prefix + ([" ".join(f"'{a}'" for a in args)] if prefix and prefix[0] == "su" else args)
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120)

    data = root / "data"
    r = as_server([str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
                   "--no-locale"])
    if r.returncode:
        shutil.rmtree(root, ignore_errors=True)
        pytest.fail(f"initdb failed: {r.stderr.strip()}")
    # role planner needs a password over TCP; everybody else is trusted (a throwaway local server)
    hba = data / "pg_hba.conf"
    hba.write_text("local all all trust\n"
                   "host all planner 127.0.0.1/32 scram-sha-256\n"
                   "host all all 127.0.0.1/32 trust\n")
    port = _free_port()
    opts = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"
    r = as_server([str(bindir / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(root / "server.log"), "-w",
                   "-t", "60", "start"])
    if r.returncode:
        log = (root / "server.log").read_text(errors="replace") if (root / "server.log").exists() else ""
        shutil.rmtree(root, ignore_errors=True)
        pytest.fail(f"PostgreSQL did not start: {r.stderr.strip()} {log[-500:]}")
    server = Server(port=port, root=root)
    try:
        with server.connect("template1") as conn:
            try:
                conn.execute("CREATE EXTENSION postgis")  # every database made from template1 has it
            except Exception as exc:  # noqa: BLE001
                _missing(f"the PostGIS extension is not installed for this server ({exc})")
            conn.execute(f"CREATE ROLE planner LOGIN PASSWORD '{SECRET}'")
            conn.execute("CREATE ROLE reader LOGIN")
        yield server
    finally:
        as_server([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"])
        shutil.rmtree(root, ignore_errors=True)


_counter = iter(range(1000))


@pytest.fixture
def db(pg: Server) -> str:
    """A fresh database (with PostGIS) for one test; its name."""
    name = f"t{next(_counter)}"
    with pg.connect() as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return name


def _put(pg: Server, db: str, layers: dict[str, gpd.GeoDataFrame], schema: str = "city") -> None:
    """Load layers with geopandas (not with renogis), as a city's own database would hold them."""
    engine = pg.engine(db)
    with engine.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        for name, gdf in layers.items():
            gdf.to_postgis(name, conn, schema=schema, index=False)
    engine.dispose()


def _sql(pg: Server, db: str, sql: str, params: tuple = ()) -> list[tuple]:
    with pg.connect(db) as conn:
        cur = conn.execute(sql, params)
        return cur.fetchall() if cur.description else []


def _sample_layers() -> dict[str, gpd.GeoDataFrame]:
    import pyogrio

    names = pyogrio.list_layers(sample_path())[:, 0]
    return {str(n): gpd.read_file(sample_path(), layer=str(n)) for n in names}


def _one_line_error(capsys) -> str:  # type: ignore[no-untyped-def]
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert "Traceback" not in err
    return err


def _tables(pg: Server, db: str, schema: str) -> list[str]:
    return [r[0] for r in _sql(pg, db, "SELECT tablename FROM pg_tables WHERE schemaname = %s ORDER BY 1",
                               (schema,))]


# --------------------------------------------------------------------------- no server needed
def test_urls_keep_their_form_and_never_their_password():
    u = parse_url("postgresql:///city_db?host=/var/run/postgresql&schema=old_town&sslmode=disable")
    assert (u.conninfo, u.schema, u.database) == (
        "postgresql:///city_db?host=/var/run/postgresql&sslmode=disable", "old_town", "city_db")
    assert parse_url("postgresql://?service=city&schema=c").conninfo == "postgresql://?service=city"
    assert redact_url("postgresql://planner:x%40y@db:5432/c?schema=s") == "postgresql://planner@db:5432/c?schema=s"
    from renogis._errors import InputError

    for bad in ("postgresql://planner:hunter2@db/c?schema=s", "postgresql://db/c?schema=s&password=hunter2"):
        with pytest.raises(InputError, match="holds a password; remove it and give the password with "
                                             "PGPASSWORD") as info:
            parse_url(bad)
        assert "hunter2" not in str(info.value)


def test_layer_map_parsing():
    assert parse_layer_map(["compounds=old_compounds,设施=poi.poi_2023"]) == {
        "compounds": "old_compounds", "facilities": "poi.poi_2023"}
    from renogis._errors import InputError

    with pytest.raises(InputError, match="unknown layer 'houses'; use one of compounds, parcels"):
        parse_layer_map(["houses=t"])


def test_cli_keeps_the_url_whole(tmp_path, monkeypatch):
    seen = {}

    def fake_run(config, progress=None):  # type: ignore[no-untyped-def]
        seen["config"] = config
        raise KeyboardInterrupt

    monkeypatch.setattr("renogis.pipeline.run", fake_run)
    url = "postgresql://planner@db.example:5432/city?schema=old_town"
    assert main(["run", url, "--out", str(tmp_path / "o"), "--layer-map", "compounds=xiaoqu",
                 "--out-db", url.replace("old_town", "renogis_run")]) == 128 + 2
    cfg = seen["config"]
    assert cfg.input == url and cfg.layer_map == {"compounds": "xiaoqu"}
    assert cfg.out_db == "postgresql://planner@db.example:5432/city?schema=renogis_run"


def test_layer_map_with_a_file_is_an_error(tiny_gpkg, capsys):
    assert main(["validate", str(tiny_gpkg), "--layer-map", "compounds=x"]) == 2
    assert "--layer-map applies to a PostGIS input" in _one_line_error(capsys)


# --------------------------------------------------------------------------- round trip
@pytest.fixture(scope="module")
def sample_db(pg: Server) -> str:
    with pg.connect() as conn:
        conn.execute("CREATE DATABASE sample")
    _put(pg, "sample", _sample_layers())
    return "sample"


@pytest.fixture(scope="module")
def gpkg_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("gpkg_run") / "out"
    assert main(["run", str(sample_path()), "--out", str(out), "--tiles", "none", "--lang", "en"]) == 0
    return out


def _read_csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, encoding="utf-8-sig", keep_default_na=False, na_values=[""])


def _same_table(db_frame: pd.DataFrame, csv: pd.DataFrame, key: list[str]) -> None:
    """Every column of the database table equals the CSV column of the same name, row by row."""
    cols = [c for c in db_frame.columns if c != "geometry"]
    assert set(cols) <= set(csv.columns), set(cols) - set(csv.columns)
    a = pd.DataFrame(db_frame[cols]).sort_values(key).reset_index(drop=True)
    b = csv[cols].sort_values(key).reset_index(drop=True)
    assert len(a) == len(b)
    for c in cols:
        x, y = a[c], b[c]
        if pd.api.types.is_numeric_dtype(x) and not pd.api.types.is_bool_dtype(x):
            assert ((x.astype(float) - y.astype(float)).abs().fillna(0) < 1e-6).all() and (
                x.isna() == y.isna()).all(), c
        else:
            def text(s: pd.Series) -> list:
                return [None if pd.isna(v) else str(v) for v in s]

            assert text(x) == text(y), c


def test_round_trip_sample_gpkg_postgis_run_postgis(pg, sample_db, gpkg_run, tmp_path, capsys):
    out = tmp_path / "pg_run"
    src = pg.url(sample_db, "city")
    dst = pg.url(sample_db, "renogis_run")
    assert main(["run", src, "--out", str(out), "--out-db", dst, "--tiles", "none", "--lang", "en"]) == 0
    assert ("database: 6 tables written (districts, compounds, service_access, service_gaps, siting_plan, "
            "run)") in capsys.readouterr().out
    # the folder outputs are those of the run on the GeoPackage, byte for byte
    for name in ("districts.csv", "service_gaps.csv", "service_access.csv", "siting_plan.csv"):
        assert (out / name).read_bytes() == (gpkg_run / name).read_bytes(), name
    engine = pg.engine(sample_db)
    districts = gpd.read_postgis("SELECT * FROM renogis_run.districts", engine, geom_col="geometry")
    ref = gpd.read_file(gpkg_run / "districts.gpkg", layer="districts").sort_values("district_id")
    districts = districts.sort_values("district_id")
    assert list(districts["district_id"]) == ["D001", "D002", "D003", "D004", "D005"]
    assert int(districts["households"].sum()) == 7447  # every household of the sample
    assert districts.crs.to_epsg() == 4548
    assert districts.geometry.reset_index(drop=True).geom_equals_exact(
        ref.geometry.reset_index(drop=True), tolerance=1e-6).all()
    # text as written (an empty text stays empty, not NULL), as in the GeoPackage layer
    _same_table(districts, pd.DataFrame(ref.drop(columns="geometry")), ["district_id"])
    assert "" in set(districts["parcel_ids"]) and districts["parcel_ids"].notna().all()
    gaps = pd.read_sql("SELECT * FROM renogis_run.service_gaps", engine)
    _same_table(gaps, _read_csv(gpkg_run / "service_gaps.csv"), ["level", "unit_id", "category"])
    access = pd.read_sql("SELECT * FROM renogis_run.service_access", engine)
    _same_table(access, _read_csv(gpkg_run / "service_access.csv"), ["compound_id", "category"])
    siting = gpd.read_postgis("SELECT * FROM renogis_run.siting_plan", engine, geom_col="geometry")
    _same_table(siting, _read_csv(gpkg_run / "siting_plan.csv"), ["category", "parcel_id"])
    compounds = gpd.read_postgis("SELECT * FROM renogis_run.compounds", engine, geom_col="geometry")
    ref_c = gpd.read_file(gpkg_run / "districts.gpkg", layer="compounds")
    assert dict(zip(compounds.compound_id, compounds.district_id, strict=True)) == dict(
        zip(ref_c.compound_id, ref_c.district_id, strict=True))
    engine.dispose()
    # right SRID, a spatial index on every layer, a manifest of what renogis wrote, the run record
    for layer in ("districts", "compounds", "siting_plan"):
        assert _sql(pg, sample_db, "SELECT Find_SRID('renogis_run', %s, 'geometry')", (layer,)) == [(4548,)]
        assert _sql(pg, sample_db, "SELECT indexdef FROM pg_indexes WHERE schemaname = 'renogis_run' AND "
                    "tablename = %s AND indexdef LIKE '%%USING gist (geometry)%%'", (layer,))
    manifest = dict(_sql(pg, sample_db, "SELECT table_name, rows FROM renogis_run.renogis_manifest"))
    assert manifest == {"districts": 5, "compounds": 65, "service_access": len(access),
                        "service_gaps": len(gaps), "siting_plan": len(siting), "run": 1}
    (record,) = _sql(pg, sample_db, "SELECT record FROM renogis_run.run")[0]
    run_json = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert record == run_json
    assert run_json["parameters"]["input"] == src and run_json["parameters"]["out_db"] == dst
    assert sorted(run_json["inputs"]) == sorted(f"{src} city.{n}" for n in
                                                ("compounds", "parcels", "facilities", "streets", "barriers",
                                                 "gates"))
    assert all(len(h) == 64 for h in run_json["inputs"].values())


# --------------------------------------------------------------------------- aliases, views, exact values
def test_chinese_table_and_headers_a_view_and_layer_map_exact_values(pg, db, tiny_world, tmp_path):
    w = tiny_world
    compounds = w["compounds"].rename(columns={"compound_id": "小区编号", "households": "户数",
                                                "name": "小区名称"})
    _put(pg, db, {"小区": compounds, "poi_2023": w["facilities"], "streets": w["streets"],
                  "barriers": w["barriers"], "gates": w["gates"], "parcels": w["parcels"]})
    _sql(pg, db, "CREATE VIEW city.v_poi AS SELECT * FROM city.poi_2023")
    # numeric and uuid columns are read as numbers and text
    _sql(pg, db, "ALTER TABLE city.\"小区\" ALTER COLUMN consent TYPE numeric(4, 2)")
    _sql(pg, db, "ALTER TABLE city.\"小区\" ADD COLUMN ref uuid DEFAULT gen_random_uuid()")
    out = tmp_path / "o"
    url = pg.url(db, "city")
    assert main(["districts", url, "--out", str(out), "--layer-map", "facilities=v_poi",
                 "--min-households", "500", "--max-households", "700",
                 "--out-db", pg.url(db, "result")]) == 0
    engine = pg.engine(db)
    c = gpd.read_postgis("SELECT * FROM result.compounds ORDER BY compound_id", engine, geom_col="geometry")
    d = gpd.read_postgis("SELECT * FROM result.districts", engine, geom_col="geometry")
    engine.dispose()
    # the arterial at x = X0 + 105 cuts the first column of the 3 x 3 grid (C1, C4, C7: 600 households)
    # from the other six; 500-700 households per district
    assert list(c["compound_id"]) == [f"C{i}" for i in range(1, 10)] and (c["households"] == 200).all()
    assert c["consent"].tolist() == [0.9] * 9
    first = set(c.loc[c.compound_id.isin(["C1", "C4", "C7"]), "district_id"])
    assert len(first) == 1
    (did,) = first
    assert not set(c.loc[~c.compound_id.isin(["C1", "C4", "C7"]), "district_id"]) & first
    row = d.set_index("district_id").loc[did]
    assert (row["households"], row["n_compounds"]) == (600, 3)
    members = c.loc[c.compound_id.isin(["C1", "C4", "C7"])].geometry
    assert members.within(row.geometry.buffer(0.01)).all()
    assert int(d["households"].sum()) == 1800
    text = (out / "validation.txt").read_text(encoding="utf-8")
    assert "city.小区 [compounds]: 小区编号 -> compound_id" in text
    assert "city.v_poi [facilities]: read from PostGIS" in text


@pytest.mark.parametrize("command, compare", [("gaps", "service_gaps.csv"), ("map", "service_access.csv")])
def test_gaps_and_map_commands_read_postgis_like_files(pg, db, tiny_world, tiny_gpkg, tmp_path, command,
                                                       compare):
    _put(pg, db, tiny_world)
    args = ["--tiles", "none"] if command == "map" else []
    assert main([command, pg.url(db, "city"), "--out", str(tmp_path / "pg"), *args]) == 0
    assert main([command, str(tiny_gpkg), "--out", str(tmp_path / "file"), *args]) == 0
    for name in (compare, "districts.csv"):
        assert (tmp_path / "pg" / name).read_bytes() == (tmp_path / "file" / name).read_bytes(), name
    assert (tmp_path / "pg" / "map.html").exists() == (command == "map")


def test_config_file_and_rerun_of_a_postgis_run(pg, db, tiny_world, tmp_path, capsys):
    _put(pg, db, tiny_world)
    _sql(pg, db, "ALTER TABLE city.compounds RENAME TO xiaoqu")
    url = pg.url(db, "city")
    (tmp_path / "run.toml").write_text(f'input = "{url}"\nout = "a"\nlayer_map = ["compounds=xiaoqu"]\n')
    assert main(["districts", "--config", str(tmp_path / "run.toml")]) == 0
    assert main(["rerun", str(tmp_path / "a" / "run.json"), "--out", str(tmp_path / "b")]) == 0
    assert (tmp_path / "b" / "districts.csv").read_bytes() == (tmp_path / "a" / "districts.csv").read_bytes()
    _sql(pg, db, "UPDATE city.xiaoqu SET households = 201 WHERE compound_id = 'C5'")
    capsys.readouterr()
    assert main(["rerun", str(tmp_path / "a" / "run.json"), "--out", str(tmp_path / "c")]) == 2
    assert _one_line_error(capsys) == (
        f"renogis: error: rerun {tmp_path / 'a' / 'run.json'}: the inputs are not those of the original run: "
        f"{url} city.xiaoqu (changed); a rerun repeats a run only on the same inputs")


@pytest.mark.filterwarnings("ignore:Could not parse CRS from the GeoDataFrame")  # SRID 0, on purpose
def test_crs_from_the_srid_as_for_files(pg, db, tiny_world, tmp_path, capsys):
    c = tiny_world["compounds"]
    _put(pg, db, {"lonlat": c.to_crs(4326), "nosrid": c.set_crs(None, allow_override=True)})
    url = pg.url(db, "city")
    # lon/lat (SRID 4326) is measured in the work CRS chosen from the data, as for a lon/lat file
    assert main(["districts", url, "--layer-map", "compounds=lonlat", "--out", str(tmp_path / "a")]) == 0
    run_json = json.loads((tmp_path / "a" / "run.json").read_text(encoding="utf-8"))
    assert run_json["work_crs"]["epsg"] == 4548
    area = gpd.read_file(tmp_path / "a" / "districts.gpkg", layer="compounds").area
    assert (abs(area - 100 * 100) < 0.5).all()  # the 100 m squares, back in metres
    # SRID 0 is a layer without CRS: an error, unless --input-crs gives it
    assert main(["validate", url, "--layer-map", "compounds=nosrid"]) == 2
    report = capsys.readouterr().out
    assert "city.nosrid [compounds]: the layer has no CRS" in report
    assert ("city.nosrid [compounds]: column geometry has SRID 0 (no CRS): give --input-crs, or set it in "
            "the database with SELECT UpdateGeometrySRID('city', 'nosrid', 'geometry', EPSG_CODE)") in report
    assert main(["validate", url, "--layer-map", "compounds=nosrid", "--input-crs", "EPSG:4548"]) == 0
    # Amap (GCJ-02) lon/lat are converted to WGS84 first, as for files
    assert main(["districts", url, "--layer-map", "compounds=lonlat", "--source-crs", "gcj02",
                 "--out", str(tmp_path / "b")]) == 0
    text = (tmp_path / "b" / "validation.txt").read_text(encoding="utf-8")
    assert "city.lonlat [compounds]: converted from GCJ02 to WGS84" in text


def test_validation_messages_name_the_table_as_for_files(pg, db, tmp_path, capsys):
    c = grid_compounds()
    c.loc[1, "compound_id"] = "C1"
    c.loc[2, "households"] = -3
    write_gpkg({"compounds": c}, tmp_path / "bad.gpkg")
    assert main(["validate", str(tmp_path / "bad.gpkg")]) == 2
    file_report = capsys.readouterr().out
    _put(pg, db, {"compounds": c}, schema="bad")
    assert main(["validate", pg.url(db, "bad")]) == 2
    db_report = capsys.readouterr().out
    assert "bad.compounds [compounds] column compound_id: 1 duplicate ids (ids: C1)" in db_report
    assert "bad.compounds [compounds] column households: 1 values below 0 (ids: C3)" in db_report
    strip = [ln for ln in file_report.splitlines() if "info" not in ln and "read from" not in ln]
    same = [ln.replace("bad.gpkg", "bad.compounds") for ln in strip]
    assert [ln for ln in db_report.splitlines() if "info" not in ln and "read from" not in ln] == same
    assert main(["run", pg.url(db, "bad"), "--out", str(tmp_path / "o")]) == 2
    err = _one_line_error(capsys)
    assert err.startswith("renogis: error: bad.compounds [compounds] column compound_id: 1 duplicate ids")
    assert not (tmp_path / "o").exists()


# --------------------------------------------------------------------------- bad input: one line each
def test_bad_database_inputs_one_line_naming_the_table(pg, db, tiny_world, tmp_path, capsys):
    _put(pg, db, {"compounds": tiny_world["compounds"]})
    _sql(pg, db, "CREATE TABLE city.plain (compound_id text, households int)")
    _sql(pg, db, "CREATE TABLE city.mixed (compound_id text, households int, geom geometry)")
    _sql(pg, db, "INSERT INTO city.mixed VALUES ('A', 1, ST_SetSRID(ST_MakeEnvelope(527000, 3853000, 527100, "
                 "3853100), 4548)), ('B', 1, ST_SetSRID(ST_MakeEnvelope(117, 34, 117.001, 34.001), 4326))")
    _sql(pg, db, "CREATE SCHEMA empty")
    url = pg.url(db, "city")
    cases = [
        (["--layer-map", "compounds=nope"],
         f"renogis: error: {url}: table city.nope (--layer-map compounds=nope) does not exist; check the "
         "name (tables and views in city: compounds, mixed, plain)"),
        (["--layer-map", "compounds=plain"],
         "renogis: error: city.plain [compounds]: no geometry column (the layer needs geometries); add a "
         "PostGIS geometry column, or map a table or view that has one with --layer-map"),
        (["--layer-map", "compounds=mixed"],
         'renogis: error: city.mixed [compounds] column geom: mixed SRIDs (4326, 4548) in one column; '
         'transform them to one (UPDATE "city"."mixed" SET "geom" = ST_Transform("geom", 4548)) or map a '
         "view that does"),
    ]
    for extra, expected in cases:
        for command in (["validate", url], ["run", url, "--out", str(tmp_path / "o")]):
            assert main(command + extra) == 2
            assert _one_line_error(capsys) == expected
    assert not (tmp_path / "o").exists()
    assert main(["validate", pg.url(db, "empty")]) == 2
    assert _one_line_error(capsys) == (
        f"renogis: error: {pg.url(db, 'empty')}: no compounds table in schema empty (the only required "
        "layer); name it compounds (or 小区) or give --layer-map compounds=TABLE")
    assert main(["validate", pg.url(db, "nowhere")]) == 2
    assert f"schema nowhere does not exist in database {db}" in _one_line_error(capsys)
    # no permission: role reader may log in but was granted nothing
    assert main(["validate", pg.url(db, "city", user="reader")]) == 2
    assert _one_line_error(capsys) == (
        'renogis: error: city.compounds [compounds]: no permission to read the table as user reader; ask its '
        'owner for GRANT USAGE ON SCHEMA "city" TO reader and GRANT SELECT ON "city"."compounds" TO reader')
    _sql(pg, db, "GRANT USAGE ON SCHEMA city TO reader")
    assert main(["validate", pg.url(db, "city", user="reader")]) == 2
    assert _one_line_error(capsys).endswith('ask its owner for GRANT SELECT ON "city"."compounds" TO reader')
    _sql(pg, db, "GRANT SELECT ON city.compounds TO reader")
    assert main(["validate", pg.url(db, "city", user="reader")]) == 0
    capsys.readouterr()
    # any other database failure: a view too slow for the statement_timeout given in the URL
    _sql(pg, db, "CREATE VIEW city.slow AS SELECT c.compound_id, c.households, c.geometry::geometry AS geom "
                 "FROM city.compounds c, (SELECT pg_sleep(2)) s")
    slow = f"{url}&options=-c%20statement_timeout%3D300"
    assert main(["validate", slow, "--layer-map", "compounds=slow"]) == 2
    assert _one_line_error(capsys) == (
        f"renogis: error: input {slow}: the database reported an error (canceling statement due to statement "
        "timeout); check the server and your rights, and run again")
    # no server on that port
    closed = _free_port()
    assert main(["validate", f"postgresql://postgres@127.0.0.1:{closed}/x?schema=city"]) == 2
    err = _one_line_error(capsys)
    assert err.startswith(f"renogis: error: input postgresql://postgres@127.0.0.1:{closed}/x?schema=city: "
                          "cannot connect (")
    assert "Connection refused" in err
    # a database without PostGIS
    with pg.connect() as conn:
        conn.execute(f"CREATE DATABASE {db}_plain TEMPLATE template0")
    assert main(["validate", pg.url(f"{db}_plain", "city")]) == 2
    assert _one_line_error(capsys).endswith(f"database {db}_plain has no PostGIS extension; run CREATE "
                                            "EXTENSION postgis there (as its owner)")


def test_password_only_from_libpq_mechanisms(pg, db, tiny_world, tmp_path, monkeypatch, capsys):
    _put(pg, db, {"compounds": tiny_world["compounds"]})
    _sql(pg, db, "GRANT USAGE, CREATE ON SCHEMA city TO planner")
    _sql(pg, db, "GRANT SELECT ON city.compounds TO planner")
    _sql(pg, db, f"GRANT CREATE ON DATABASE {db} TO planner")
    url = pg.url(db, "city", user="planner")
    for var in ("PGPASSWORD", "PGPASSFILE", "PGSERVICEFILE", "PGSERVICE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "none"))
    assert main(["validate", url]) == 2
    err = _one_line_error(capsys)
    assert "cannot connect (" in err and "PGPASSWORD, ~/.pgpass or a service file" in err
    # a password in the URL is refused and never echoed
    assert main(["validate", url.replace("planner@", f"planner:{SECRET}@")]) == 2
    err = _one_line_error(capsys)
    assert SECRET not in err and "the URL holds a password; remove it" in err
    # 1. PGPASSWORD
    monkeypatch.setenv("PGPASSWORD", SECRET)
    assert main(["validate", url]) == 0
    monkeypatch.delenv("PGPASSWORD")
    # 2. a password file (~/.pgpass, here through PGPASSFILE)
    passfile = tmp_path / "pgpass"
    passfile.write_text(f"127.0.0.1:{pg.port}:{db}:planner:{SECRET}\n")
    passfile.chmod(0o600)
    monkeypatch.setenv("PGPASSFILE", str(passfile))
    assert main(["validate", url]) == 0
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "none"))
    # 3. a service file
    service = tmp_path / "pg_service.conf"
    service.write_text(f"[city]\nhost=127.0.0.1\nport={pg.port}\ndbname={db}\nuser=planner\n"
                       f"password={SECRET}\n")
    monkeypatch.setenv("PGSERVICEFILE", str(service))
    svc = "postgresql://?service=city&schema=city"
    out = tmp_path / "o"
    assert main(["-vv", "districts", svc, "--out", str(out), "--out-db",
                 "postgresql://?service=city&schema=result"]) == 0
    captured = capsys.readouterr()
    assert SECRET not in captured.out + captured.err
    for f in out.rglob("*"):
        if f.is_file():
            assert SECRET.encode() not in f.read_bytes(), f
    run_json = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert run_json["parameters"]["out_db"] == "postgresql://?service=city&schema=result"
    assert _sql(pg, db, "SELECT count(*) FROM result.compounds") == [(9,)]
    assert _sql(pg, db, "SELECT tableowner FROM pg_tables WHERE schemaname = 'result' AND tablename = "
                        "'districts'") == [("planner",)]


# ------------------------------------------------------------------- output: replace, refuse, all-or-none
def test_rerun_replaces_only_what_renogis_wrote(pg, db, tiny_world, tmp_path, capsys):
    _put(pg, db, tiny_world)
    url, dst = pg.url(db, "city"), pg.url(db, "result")
    _sql(pg, db, "CREATE SCHEMA result")
    _sql(pg, db, "CREATE TABLE result.notes (note text)")
    _sql(pg, db, "INSERT INTO result.notes VALUES ('the planners'' own table')")
    assert main(["run", url, "--out", str(tmp_path / "a"), "--tiles", "none", "--out-db", dst]) == 0
    first = _tables(pg, db, "result")
    assert first == ["compounds", "districts", "notes", "renogis_manifest", "run", "service_access",
                     "service_gaps", "siting_plan"]
    old_oid = _sql(pg, db, "SELECT 'result.districts'::regclass::oid::bigint")[0][0]
    # a districts-only run replaces the whole previous result: gap and siting tables go
    assert main(["districts", url, "--out", str(tmp_path / "b"), "--min-households", "500",
                 "--max-households", "700", "--out-db", dst]) == 0
    assert _tables(pg, db, "result") == ["compounds", "districts", "notes", "renogis_manifest", "run"]
    assert _sql(pg, db, "SELECT 'result.districts'::regclass::oid::bigint")[0][0] != old_oid
    assert _sql(pg, db, "SELECT note FROM result.notes") == [("the planners' own table",)]
    assert dict(_sql(pg, db, "SELECT table_name, rows FROM result.renogis_manifest")) == {
        "districts": _sql(pg, db, "SELECT count(*) FROM result.districts")[0][0], "compounds": 9, "run": 1}
    # someone replaces a renogis table by their own: renogis refuses to touch it, and writes nothing
    _sql(pg, db, "DROP TABLE result.districts")
    _sql(pg, db, "CREATE TABLE result.districts (mine integer)")
    before = _tables(pg, db, "result")
    capsys.readouterr()
    assert main(["run", url, "--out", str(tmp_path / "c"), "--tiles", "none", "--out-db", dst]) == 2
    assert _one_line_error(capsys) == (
        f"renogis: error: --out-db {dst}: result.districts exists and renogis did not write it; renogis "
        "never replaces such tables: choose another schema (e.g. ?schema=renogis_run) or drop or rename "
        "them yourself")
    assert _tables(pg, db, "result") == before
    assert _sql(pg, db, "SELECT column_name FROM information_schema.columns WHERE table_schema = 'result' "
                        "AND table_name = 'districts'") == [("mine",)]
    assert not (tmp_path / "c").exists() and sorted(p.name for p in tmp_path.iterdir()) == ["a", "b"]


def test_out_db_needs_a_schema_and_the_right_to_write(pg, db, tiny_world, tmp_path, capsys):
    _put(pg, db, {"compounds": tiny_world["compounds"]})
    _sql(pg, db, "GRANT USAGE ON SCHEMA city TO reader")
    _sql(pg, db, "GRANT SELECT ON city.compounds TO reader")
    url = pg.url(db, "city")
    assert main(["districts", url, "--out", str(tmp_path / "o"), "--out-db", pg.url(db)]) == 2
    assert _one_line_error(capsys).endswith("give the schema to write into, e.g. ?schema=renogis_run")
    assert main(["districts", pg.url(db, "city", user="reader"), "--out", str(tmp_path / "o"),
                 "--out-db", pg.url(db, "result", user="reader")]) == 2
    assert _one_line_error(capsys) == (
        f"renogis: error: --out-db {pg.url(db, 'result', user='reader')}: user reader may not create schema "
        'result; create it for them (CREATE SCHEMA "result" AUTHORIZATION reader) or choose an existing '
        "schema they may write to")
    assert main(["districts", pg.url(db, "city", user="reader"), "--out", str(tmp_path / "o"),
                 "--out-db", pg.url(db, "city", user="reader")]) == 2
    assert "user reader may not create tables in schema city; GRANT USAGE, CREATE ON SCHEMA" in \
        _one_line_error(capsys)
    assert not (tmp_path / "o").exists()
    assert _sql(pg, db, "SELECT nspname FROM pg_namespace WHERE nspname = 'result'") == []


def test_a_table_in_use_too_long_stops_the_write_cleanly(pg, db, tiny_world, tmp_path, monkeypatch,
                                                        capsys):
    _put(pg, db, tiny_world)
    url, dst = pg.url(db, "city"), pg.url(db, "result")
    assert main(["districts", url, "--out", str(tmp_path / "a"), "--out-db", dst]) == 0
    before = (_tables(pg, db, "result"), _sql(pg, db, "SELECT * FROM result.renogis_manifest ORDER BY 1"))
    monkeypatch.setattr("renogis.postgis.LOCK_TIMEOUT_S", 0.5)
    capsys.readouterr()
    with pg.connect(db, autocommit=False) as viewer:
        viewer.execute("SELECT count(*) FROM result.compounds")  # a viewer with its transaction open
        assert main(["districts", url, "--out", str(tmp_path / "b"), "--out-db", dst]) == 2
        viewer.rollback()
    assert _one_line_error(capsys) == (
        f"renogis: error: --out-db {dst}: writing the results failed (canceling statement due to lock "
        "timeout); nothing was written, schema result is as it was; another session kept a table of schema "
        "result locked for over 0.5 s: close what reads it (e.g. a QGIS layer) and run again")
    assert (_tables(pg, db, "result"), _sql(pg, db, "SELECT * FROM result.renogis_manifest ORDER BY 1")) \
        == before
    assert not (tmp_path / "b").exists()


def _wait(predicate, timeout: float = 90.0, what: str = "") -> None:  # type: ignore[no-untyped-def]
    t0 = time.monotonic()
    while not predicate():
        if time.monotonic() - t0 > timeout:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_killed_during_the_write_leaves_the_previous_result(pg, db, tiny_world, tmp_path, sig):
    _put(pg, db, tiny_world)
    url, dst = pg.url(db, "city"), pg.url(db, "result")
    assert main(["run", url, "--out", str(tmp_path / "a"), "--tiles", "none", "--out-db", dst]) == 0

    def snapshot() -> tuple:
        return (_tables(pg, db, "result"),
                _sql(pg, db, "SELECT table_name, table_oid::bigint, rows FROM result.renogis_manifest "
                             "ORDER BY 1"),
                _sql(pg, db, "SELECT district_id, households, ST_AsText(geometry) FROM result.districts "
                             "ORDER BY 1"),
                _sql(pg, db, "SELECT * FROM result.service_gaps ORDER BY 1, 2, 4"))

    before = snapshot()
    blocker = pg.connect(db, autocommit=False)
    # hold a lock on the 5th table renogis replaces: the new districts, compounds, service_access and
    # service_gaps are written in its transaction when it has to wait here
    blocker.execute("LOCK TABLE result.siting_plan IN ACCESS SHARE MODE")
    proc = subprocess.Popen(
        [sys.executable, "-m", "renogis", "run", url, "--out", str(tmp_path / "b"), "--tiles", "none",
         "--min-households", "500", "--max-households", "700", "--out-db", dst],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        def waiting() -> bool:
            assert proc.poll() is None, proc.communicate()
            return bool(_sql(pg, db, "SELECT 1 FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE NOT "
                                     "l.granted AND a.application_name = 'renogis' AND l.relation = "
                                     "'result.siting_plan'::regclass"))

        _wait(waiting, what="renogis to block on the lock during its write")
        backend = _sql(pg, db, "SELECT pid FROM pg_stat_activity WHERE application_name = 'renogis'")[0][0]
        written = _sql(pg, db, "SELECT count(*) FROM pg_locks WHERE pid = %s AND locktype = 'relation' "
                               "AND mode = 'AccessExclusiveLock'", (backend,))[0][0]
        assert written >= 8  # old and new districts, compounds, service_access, service_gaps (and more)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
        if sig == signal.SIGTERM:  # handled: the query is cancelled, the transaction rolled back
            assert proc.returncode == 128 + signal.SIGTERM
            assert err.strip().endswith(f"renogis: interrupted (signal {int(signal.SIGTERM)}); nothing "
                                        f"written; {tmp_path / 'b'} is as it was before the run")
        else:
            assert proc.returncode == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
        blocker.rollback()
        blocker.close()
    _wait(lambda: not _sql(pg, db, "SELECT 1 FROM pg_stat_activity WHERE pid = %s", (backend,)),
          what="the killed run's server process to end")
    assert snapshot() == before
    assert not (tmp_path / "b").exists()
    if sig == signal.SIGTERM:  # no temporary folder left either
        assert sorted(p.name for p in tmp_path.iterdir()) == ["a"]
