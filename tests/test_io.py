"""Reading every input format, header aliases, encodings."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from renogis import InputError
from renogis.io import normalise_columns, parse_column_map, read_layers
from renogis.validate import load

from .conftest import CRS, X0, Y0, grid_compounds


def test_gpkg_all_layers(tiny_gpkg):
    layers = read_layers(tiny_gpkg)
    assert sorted(layers) == ["barriers", "compounds", "facilities", "gates", "parcels", "streets"]
    assert len(layers["compounds"].gdf) == 9
    assert layers["compounds"].gdf.crs.to_epsg() == 4548


def test_folder_of_geojson(tiny_world, tmp_path):
    for name, gdf in tiny_world.items():
        gdf.to_file(tmp_path / f"{name}.geojson", driver="GeoJSON")
    ds = load(tmp_path)
    assert len(ds.compounds) == 9
    assert ds.work_crs.to_epsg() == 4548
    # category alias 幼儿园 -> kindergarten; parcel kind alias 闲置用地 -> vacant_land
    assert list(ds.layers["facilities"]["category"]) == ["kindergarten", "clinic"]
    assert list(ds.layers["parcels"]["kind"]) == ["vacant_land"]
    assert ds.layers["parcels"]["area_m2"].iloc[0] == pytest.approx(3600.0)


def test_chinese_headers_gbk_shapefile(tmp_path):
    gdf = grid_compounds(2)
    zh = gdf.rename(columns={"compound_id": "小区编号", "name": "小区名称", "households": "户数",
                             "buildings": "楼栋数", "floor_area_m2": "建筑面积", "built_year": "建成年代",
                             "subdistrict": "街道"})
    zh = zh.drop(columns=["owners_committee", "consent"])
    shp = tmp_path / "compounds.shp"
    zh.to_file(shp, driver="ESRI Shapefile", encoding="GBK")
    (tmp_path / "compounds.cpg").unlink(missing_ok=True)  # no .cpg: must be detected as GBK
    raw = shp.with_suffix(".dbf").read_bytes()
    assert "永安街道".encode("gbk") in raw  # really GBK on disk
    ds = load(shp)
    c = ds.compounds
    assert list(c["name"]) == ["小区1", "小区2", "小区3", "小区4"]
    assert set(c["subdistrict"]) == {"永安街道"}
    assert list(c["households"]) == [200, 200, 200, 200]
    assert c["floor_area_m2"].sum() == pytest.approx(80_000)


def test_gbk_shapefile_with_cpg_and_explicit_encoding(tmp_path):
    gdf = grid_compounds(1).rename(columns={"name": "小区名称"})
    shp = tmp_path / "c.shp"
    gdf.to_file(shp, driver="ESRI Shapefile", encoding="GBK")
    shp.with_suffix(".cpg").write_text("GBK")
    assert list(load(shp).compounds["name"]) == ["小区1"]
    shp.with_suffix(".cpg").unlink()
    assert list(load(shp, encoding="GB18030").compounds["name"]) == ["小区1"]


def test_csv_with_wkt_needs_crs(tmp_path):
    gdf = grid_compounds(1)
    df = pd.DataFrame(gdf.drop(columns="geometry"))
    df["wkt"] = gdf.geometry.to_wkt()
    path = tmp_path / "compounds.csv"
    df.to_csv(path, index=False, encoding="utf-8-sig")
    with pytest.raises(InputError, match=r"compounds.csv \[compounds\]: the layer has no CRS.*--input-crs"):
        load(path)
    ds = load(path, input_crs="EPSG:4548")
    assert ds.compounds.geometry.iloc[0].area == pytest.approx(10_000)


def test_csv_lonlat_facilities(tiny_world, tmp_path):
    tiny_world["compounds"].to_file(tmp_path / "compounds.gpkg", layer="compounds")
    pts = gpd.GeoSeries([shapely.Point(X0 + 50, Y0 - 15)], crs=CRS).to_crs(4326)
    pd.DataFrame({"设施编号": ["F9"], "类别": ["托儿所"], "经度": [pts.x[0]], "纬度": [pts.y[0]]}).to_csv(
        tmp_path / "facilities.csv", index=False, encoding="utf-8-sig")
    ds = load(tmp_path)
    f = ds.layers["facilities"]
    assert list(f["facility_id"]) == ["F9"] and list(f["category"]) == ["nursery"]
    assert f.geometry.iloc[0].x == pytest.approx(X0 + 50, abs=0.01)
    assert f.geometry.iloc[0].y == pytest.approx(Y0 - 15, abs=0.01)


def test_csv_gbk_encoding_fallback(tmp_path):
    gdf = grid_compounds(1)
    df = pd.DataFrame({"小区编号": ["A"], "户数": [10], "小区名称": ["幸福里"], "geometry": gdf.geometry.to_wkt()})
    path = tmp_path / "compounds.csv"
    df.to_csv(path, index=False, encoding="gbk")
    ds = load(path, input_crs=4548)
    assert list(ds.compounds["name"]) == ["幸福里"]


def test_column_map_option(tmp_path):
    gdf = grid_compounds(1).rename(columns={"households": "住户合计"})
    path = tmp_path / "c.gpkg"
    gdf.to_file(path, layer="compounds")
    with pytest.raises(InputError, match=r"c.gpkg \[compounds\] column households: required column missing"):
        load(path)
    ds = load(path, column_map=parse_column_map(["住户合计=households"]))
    assert list(ds.compounds["households"]) == [200]


def test_normalise_columns_reports_renames():
    df = pd.DataFrame({"小区名称": ["a"], "\ufeff户数 ": [1]})
    out, notes = normalise_columns(df)
    assert list(out.columns) == ["name", "households"]  # BOM and spaces dropped
    assert notes == ["小区名称 -> name", "\ufeff户数  -> households"]
    # two headers for one canonical column: an error naming both, never a silent pick
    df = pd.DataFrame({"小区名称": ["a"], "户数": [1], "Households ": [2]})
    with pytest.raises(InputError, match=r"^c.csv \[compounds\]: columns '户数' and 'Households ' both mean "
                       r"households; renogis will not pick one silently: remove one, or map it to another "
                       r"name \(--column-map Households =other_name\)$"):
        normalise_columns(df, label="c.csv [compounds]")


def test_parse_column_map_error():
    with pytest.raises(InputError, match="expected SOURCE=CANONICAL"):
        parse_column_map(["households"])


def test_missing_path_and_unsupported(tmp_path):
    with pytest.raises(InputError, match="no such file or folder"):
        read_layers(tmp_path / "nope.gpkg")
    bad = tmp_path / "x.txt"
    bad.write_text("hi")
    with pytest.raises(InputError, match="unsupported file type"):
        read_layers(bad)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="no layer files found"):
        read_layers(empty)


def test_gpkg_without_compounds(tmp_path, tiny_world):
    path = tmp_path / "x.gpkg"
    tiny_world["streets"].to_file(path, layer="streets")
    tiny_world["parcels"].to_file(path, layer="parcels")
    with pytest.raises(InputError, match="no compounds layer found"):
        read_layers(path)


def test_corrupt_file(tmp_path):
    bad = tmp_path / "compounds.geojson"
    bad.write_text("{not json")
    with pytest.raises(InputError, match=r"compounds.geojson \[compounds\]: cannot read the file"):
        read_layers(bad)


def test_inputs_not_modified(tiny_gpkg):
    before = Path(tiny_gpkg).read_bytes()
    load(tiny_gpkg)
    assert Path(tiny_gpkg).read_bytes() == before
