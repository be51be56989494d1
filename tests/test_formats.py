"""Every vector format GDAL reads, GeoParquet, XLSX tables; ids made when absent; hostile input."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pyogrio
import pytest
import shapely

from renogis import InputError
from renogis.cli import main
from renogis.validate import load, make_ids

from .conftest import CRS, X0, Y0, grid_compounds


def test_filegdb_all_layers(tiny_world, tmp_path):
    gdb = tmp_path / "city.gdb"
    for name, gdf in tiny_world.items():
        pyogrio.write_dataframe(gdf, gdb, layer=name, driver="OpenFileGDB")
    assert gdb.is_dir()
    ds = load(gdb)
    assert sorted(ds.layers) == ["barriers", "compounds", "facilities", "gates", "parcels", "streets"]
    assert ds.compounds["compound_id"].tolist() == [f"C{i}" for i in range(1, 10)]
    assert ds.compounds.geometry.area.sum() == pytest.approx(9 * 10_000)
    assert ds.layers["parcels"]["area_m2"].iloc[0] == pytest.approx(3600.0)


def test_folder_of_mixed_formats(tiny_world, tmp_path):
    """GeoParquet compounds, FlatGeobuf streets, MapInfo facilities, KML parcels, XLSX lon/lat gates."""
    tiny_world["compounds"].to_parquet(tmp_path / "compounds.parquet")
    tiny_world["streets"].to_file(tmp_path / "streets.fgb", driver="FlatGeobuf")
    tiny_world["facilities"].to_file(tmp_path / "facilities.tab", driver="MapInfo File")
    tiny_world["parcels"].to_crs(4326).to_file(tmp_path / "parcels.kml", driver="KML")
    gates = tiny_world["gates"].to_crs(4326)
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["出入口编号", "小区编号", "经度", "纬度"])
    for gid, cid, p in zip(gates["gate_id"], gates["compound_id"], gates.geometry, strict=False):
        ws.append([gid, cid, p.x, p.y])
    wb.save(tmp_path / "gates.xlsx")
    ds = load(tmp_path)
    assert sorted(ds.layers) == ["compounds", "facilities", "gates", "parcels", "streets"]
    assert len(ds.compounds) == 9 and ds.work_crs.to_epsg() == 4548
    st = ds.layers["streets"]  # FlatGeobuf's spatial index may reorder features
    assert dict(zip(st["street_id"], st["class"], strict=False)) == {"S1": "local", "S2": "arterial"}
    assert ds.layers["facilities"]["category"].tolist() == ["kindergarten", "clinic"]
    assert ds.layers["parcels"]["area_m2"].iloc[0] == pytest.approx(3600.0, abs=0.01)
    back = ds.layers["gates"].geometry
    want = tiny_world["gates"].geometry
    assert np.allclose(np.c_[back.x, back.y], np.c_[want.x, want.y], atol=1e-6)
    assert ds.layers["gates"]["compound_id"].tolist() == tiny_world["gates"]["compound_id"].tolist()


def test_xlsx_compounds_with_wkt(tmp_path):
    c = grid_compounds(1)
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["小区编号", "户数", "wkt"])
    ws.append(["A1", 120, c.geometry.iloc[0].wkt])
    wb.save(tmp_path / "compounds.xlsx")
    ds = load(tmp_path / "compounds.xlsx", input_crs=CRS)
    assert ds.compounds["compound_id"].tolist() == ["A1"] and ds.compounds["households"].tolist() == [120]
    assert ds.compounds.geometry.iloc[0].area == pytest.approx(10_000)


def test_table_without_geometry_points_to_ledger(tmp_path):
    pd.DataFrame({"小区名称": ["幸福里"], "户数": [10]}).to_csv(tmp_path / "compounds.csv", index=False)
    with pytest.raises(InputError, match=r"compounds.csv \[compounds\]: a CSV table needs a WKT column.*"
                       r"give it as --ledger\)$"):
        load(tmp_path / "compounds.csv")


# --------------------------------------------------------------------------- ids
def _gbk_no_id(tmp_path, order=(0, 1, 2, 3)):
    zh = grid_compounds(2).rename(columns={"name": "小区名称", "households": "户数", "buildings": "楼栋数",
                                           "floor_area_m2": "建筑面积", "built_year": "建成年代",
                                           "subdistrict": "街道"})
    zh = zh.drop(columns=["compound_id", "owners_committee", "consent"]).iloc[list(order)]
    shp = tmp_path / "小区.shp"
    zh.to_file(shp, driver="ESRI Shapefile", encoding="GBK")
    shp.with_suffix(".cpg").unlink(missing_ok=True)
    return shp


def test_gbk_shapefile_with_only_chinese_headers_and_no_id_runs(tmp_path):
    shp = _gbk_no_id(tmp_path)
    out = tmp_path / "out"
    assert main(["run", str(shp), "--out", str(out), "--tiles", "none", "--min-households", "100"]) == 0
    # grid_compounds(2): 小区1 SW, 小区2 SE, 小区3 NW, 小区4 NE; ids north to south, then west to east
    want = {"小区3": "C0001", "小区4": "C0002", "小区1": "C0003", "小区2": "C0004"}
    for name in ("cleaned.gpkg", "districts.gpkg", "results.gpkg"):
        c = gpd.read_file(out / name, layer="compounds")
        assert dict(zip(c["name"], c["compound_id"], strict=False)) == want, name
    access = pd.read_csv(out / "service_access.csv", encoding="utf-8-sig")
    assert sorted(set(access["compound_id"])) == ["C0001", "C0002", "C0003", "C0004"]
    text = (out / "validation.txt").read_text(encoding="utf-8")
    assert ("小区.shp [compounds] column compound_id: no compound_id column; ids C0001..C0004 made "
            "in spatial order (north to south, then west to east)") in text
    # the same footprints in another row order get the same ids
    other = tmp_path / "shuffled"
    other.mkdir()
    ds = load(_gbk_no_id(other, order=(3, 1, 0, 2)))
    assert dict(zip(ds.compounds["name"], ds.compounds["compound_id"], strict=False)) == want


def test_make_ids_ties_and_width():
    pts = [shapely.Point(1, 0), shapely.Point(0, 0), shapely.Point(0, 5)]
    assert make_ids(np.array(pts, dtype=object), "F") == ["F0003", "F0002", "F0001"]
    many = np.array([shapely.Point(i, 0) for i in range(10_000)], dtype=object)
    ids = make_ids(many, "P")
    assert ids[0] == "P00001" and ids[-1] == "P10000"


# --------------------------------------------------------------------------- hostile input
def _validate(path, capsys):
    code = main(["validate", str(path)])
    return code, capsys.readouterr()


def test_duplicate_csv_header_is_an_error(tmp_path, capsys):
    path = tmp_path / "compounds.csv"
    path.write_text("compound_id,households,households,wkt\nA,10,20,\"POLYGON((0 0,1 0,1 1,0 0))\"\n",
                    encoding="utf-8")
    code, io = _validate(path, capsys)
    assert code == 2
    assert io.err.strip() == ("renogis: error: compounds.csv [compounds]: two columns named 'households' "
                              "and 'households'; renogis will not pick one silently: remove or rename one "
                              "of them")


def test_alias_and_canonical_header_together_is_an_error(tmp_path):
    c = grid_compounds(1)
    c["户数"] = 5
    c.to_file(tmp_path / "c.gpkg", layer="compounds")
    with pytest.raises(InputError, match=r"^c.gpkg \[compounds\]: columns 'households' and '户数' both mean "
                       "households"):
        load(tmp_path / "c.gpkg")


def test_ids_with_commas_are_an_error(tmp_path):
    c = grid_compounds(2)
    c["compound_id"] = ["A", "B,1", "C", "D,2"]
    c.to_file(tmp_path / "c.gpkg", layer="compounds")
    with pytest.raises(InputError, match=r"^c.gpkg \[compounds\] column compound_id: 2 ids contain a "
                       r"comma, the separator of the id lists in the outputs \(ids: 'B,1', 'D,2'\); "
                       r"remove the commas"):
        load(tmp_path / "c.gpkg")


def test_nan_vertex_in_validate_and_run(tmp_path, capsys):
    c = grid_compounds(2)
    c.loc[3, "geometry"] = shapely.Polygon([(X0, Y0), (np.nan, Y0), (X0 + 50, Y0 + 50)])
    c.to_file(tmp_path / "c.gpkg", layer="compounds")
    code, io = _validate(tmp_path / "c.gpkg", capsys)
    assert code == 2
    assert ("c.gpkg [compounds] column geometry: 1 geometries with NaN or infinite coordinates "
            "(ids: C4); fix or redraw those vertices in a GIS") in io.out
    code = main(["run", str(tmp_path / "c.gpkg"), "--out", str(tmp_path / "out"), "--tiles", "none"])
    assert code == 2 and not (tmp_path / "out").exists()
    assert capsys.readouterr().err.startswith(
        "renogis: error: c.gpkg [compounds] column geometry: 1 geometries with NaN")


def test_zero_area_compound_caught_by_validate(tmp_path, capsys):
    c = grid_compounds(2)
    c.loc[1, "geometry"] = shapely.Polygon([(X0, Y0), (X0 + 50, Y0), (X0 + 100, Y0), (X0, Y0)])
    c.to_file(tmp_path / "c.gpkg", layer="compounds")
    code, io = _validate(tmp_path / "c.gpkg", capsys)
    assert code == 2
    assert ("c.gpkg [compounds] column geometry: 1 polygons with zero area (a line or a point drawn as a "
            "polygon) (ids: C2); redraw the footprints or remove the rows") in io.out


def test_shp_without_dbf(tmp_path, capsys):
    grid_compounds(1).to_file(tmp_path / "compounds.shp")
    (tmp_path / "compounds.dbf").unlink()
    code, io = _validate(tmp_path / "compounds.shp", capsys)
    assert code == 2
    assert io.err.strip() == (
        "renogis: error: compounds.shp [compounds]: the attribute file compounds.dbf is missing next to the "
        ".shp; copy every part of the Shapefile (.shp, .shx, .dbf, .prj, .cpg) into the same folder")


def test_geojson_keys_with_bom(tmp_path):
    """A CSV saved by Excel and converted to GeoJSON keeps the BOM in its first key."""
    fc = {"type": "FeatureCollection", "features": [{
        "type": "Feature", "properties": {"\ufeff小区编号": "A", "户数": 10},
        "geometry": {"type": "Polygon", "coordinates": [[[118.0, 32.0], [118.001, 32.0], [118.001, 32.001],
                                                         [118.0, 32.0]]]}}]}
    path = tmp_path / "compounds.geojson"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(fc, ensure_ascii=False).encode("utf-8"))
    ds = load(path)
    assert ds.compounds["compound_id"].tolist() == ["A"] and ds.compounds["households"].tolist() == [10]
