"""Every validation message, collected before stopping."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely

from renogis import InputError
from renogis.validate import load

from .conftest import CRS, X0, Y0, grid_compounds, write_gpkg


def _save(tmp_path, compounds, **layers):
    return write_gpkg({"compounds": compounds, **layers}, tmp_path / "city.gpkg")


def _report(path, **kw):
    return load(path, strict=False, **kw).report


def test_clean_data_is_usable(tiny_gpkg):
    ds = load(tiny_gpkg)
    assert ds.report.ok
    assert len(ds.compounds) == 9
    # population estimated from households x 2.62
    assert ds.compounds["population"].iloc[0] == pytest.approx(200 * 2.62)
    assert bool(ds.compounds["population_estimated"].all())


def test_collects_every_problem_before_stopping(tmp_path):
    c = grid_compounds()
    c.loc[1, "compound_id"] = "C1"             # duplicate
    c.loc[2, "households"] = -5                # negative
    c["households"] = c["households"].astype(object)
    c.loc[3, "households"] = "many"            # non-numeric
    c.loc[4, "consent"] = 1.7                  # out of range
    path = _save(tmp_path, c)
    with pytest.raises(InputError) as info:
        load(path)
    problems = info.value.problems
    assert len(problems) == 4
    msg = str(info.value)
    assert "\n" not in msg
    assert "city.gpkg [compounds] column compound_id: 1 duplicate ids (ids: C1)" in problems[0]
    assert any("column households: 1 non-numeric values (e.g. 'many') (ids: C4)" in p for p in problems)
    assert any("column households: 1 values below 0 (ids: C3)" in p for p in problems)
    assert any("column consent: 1 values above 1 (ids: C5)" in p for p in problems)


def test_missing_required_columns(tmp_path):
    c = grid_compounds(1).drop(columns=["households"])
    with pytest.raises(InputError, match=r"\[compounds\] column households: required column missing"):
        load(_save(tmp_path, c))
    # neither id nor name nor households: one line naming the column, no KeyError
    c = grid_compounds(1)[["geometry"]]
    with pytest.raises(InputError, match=r"^city.gpkg \[compounds\] column households: required column "
                       r"missing; add a households column"):
        load(_save(tmp_path, c))


def test_missing_households_values(tmp_path):
    c = grid_compounds(2)
    c["households"] = c["households"].astype(float)
    c.loc[0, "households"] = np.nan
    with pytest.raises(InputError, match=r"column households: 1 missing values \(ids: C1\)"):
        load(_save(tmp_path, c))


def test_empty_and_non_polygon_compounds(tmp_path):
    c = grid_compounds(2)
    c.loc[0, "geometry"] = shapely.Polygon()
    c.loc[1, "geometry"] = shapely.Point(X0, Y0)
    rep = _report(_save(tmp_path, c))
    msgs = [str(p) for p in rep.errors]
    assert any("1 empty geometries (ids: C1)" in m for m in msgs)
    assert any("1 features are Point, expected Polygon or MultiPolygon (ids: C2)" in m for m in msgs)


def test_invalid_geometry_repaired_and_reported(tmp_path):
    c = grid_compounds(2)
    bowtie = shapely.Polygon([(X0, Y0), (X0 + 100, Y0 + 100), (X0 + 100, Y0), (X0, Y0 + 100)])
    c.loc[0, "geometry"] = bowtie
    ds = load(_save(tmp_path, c))
    assert ds.report.ok
    warn = [str(p) for p in ds.report.warnings]
    assert any("1 invalid geometries repaired with make_valid (e.g. Self-intersection" in w and "C1" in w
               for w in warn)
    fixed = ds.compounds.geometry.iloc[0]
    assert fixed.is_valid and fixed.area == pytest.approx(5000)


def test_overlapping_compounds_reported(tmp_path):
    c = grid_compounds(2, gap=-10)  # neighbours overlap by 10 m strips
    ds = load(_save(tmp_path, c))
    assert ds.report.ok
    w = [str(p) for p in ds.report.warnings if "overlap" in p.message]
    assert len(w) == 1
    assert "6 pairs of compounds overlap" in w[0]
    assert "C1/C2 1000 m2" in w[0]


def test_layer_without_crs(tmp_path):
    c = grid_compounds(1).set_crs(None, allow_override=True)
    path = tmp_path / "compounds.geojson"
    c.to_file(path, driver="GeoJSON")
    # GeoJSON always says WGS84; use a CSV with WKT for a CRS-less layer
    c = grid_compounds(1)
    csv = tmp_path / "nocrs" / "compounds.csv"
    csv.parent.mkdir()
    df = c.drop(columns="geometry").assign(wkt=c.geometry.to_wkt())
    df.to_csv(csv, index=False)
    with pytest.raises(InputError, match=r"compounds.csv \[compounds\]: the layer has no CRS; add a .prj"):
        load(csv)


def test_swapped_axes(tmp_path):
    c = grid_compounds(1).to_crs(4326)
    c.geometry = shapely.transform(c.geometry.values, lambda xy: xy[:, ::-1])
    with pytest.raises(InputError, match="inside it with the axes swapped; swap the x/y"):
        load(_save(tmp_path, c))


def test_projected_coordinates_labelled_lonlat(tmp_path):
    c = grid_compounds(1).set_crs(4490, allow_override=True)
    with pytest.raises(InputError, match="is lon/lat but coordinates reach .* mislabelled"):
        load(_save(tmp_path, c))


def test_lonlat_labelled_projected(tmp_path):
    c = grid_compounds(1).to_crs(4326).set_crs(CRS, allow_override=True)
    with pytest.raises(InputError, match="is projected but the coordinates .* look like lon/lat"):
        load(_save(tmp_path, c))


def test_outside_china_is_a_warning(tmp_path):
    c = grid_compounds(1).to_crs(4326)
    c.geometry = c.geometry.translate(-92.3, 25.4)  # to Helsinki
    ds = load(_save(tmp_path, c))
    assert ds.work_crs.to_epsg() == 32635
    assert any("outside China" in p.message for p in ds.report.warnings)


def test_unknown_facility_categories(tmp_path, tiny_world):
    f = tiny_world["facilities"].copy()
    f.loc[1, "category"] = "spaceport"
    with pytest.raises(InputError, match=r"\[facilities\] column category: unknown categories \['spaceport'\]"
                       r" \(ids: F2\); use a key of the standards file"):
        load(_save(tmp_path, tiny_world["compounds"], facilities=f))


def test_gates_must_name_existing_compounds(tmp_path, tiny_world):
    g = tiny_world["gates"].copy()
    g.loc[1, "compound_id"] = "C99"
    with pytest.raises(InputError, match=r"\[gates\] column compound_id: 1 gates name compounds that do not "
                       r"exist \(\['C99'\]\) \(ids: G2\)"):
        load(_save(tmp_path, tiny_world["compounds"], gates=g))


def test_unknown_parcel_kind(tmp_path, tiny_world):
    p = tiny_world["parcels"].copy()
    p["kind"] = "castle"
    with pytest.raises(InputError, match=r"\[parcels\] column kind: unknown kinds \['castle'\]"):
        load(_save(tmp_path, tiny_world["compounds"], parcels=p))


def test_optional_layer_features_dropped_are_reported(tmp_path, tiny_world):
    s = tiny_world["streets"].copy()
    s = gpd.GeoDataFrame(
        {"street_id": ["S1", "S2", "S3"], "highway": ["primary", "footway", "elevator"],
         "geometry": [s.geometry.iloc[0], s.geometry.iloc[1], None]}, crs=CRS)
    ds = load(_save(tmp_path, tiny_world["compounds"], streets=s))
    st = ds.layers["streets"]
    assert list(st["class"]) == ["arterial", "path"]
    warn = " ".join(str(p) for p in ds.report.warnings)
    assert "1 features without geometry dropped (ids: S3)" in warn


def test_osm_highway_and_other_tags(tmp_path, tiny_world):
    lines = tiny_world["streets"].geometry
    s = gpd.GeoDataFrame(
        {"highway": ["motorway", "residential"],
         "other_tags": ['"bridge"=>"yes","layer"=>"1"', '"foot"=>"no"'], "geometry": lines}, crs=CRS)
    ds = load(_save(tmp_path, tiny_world["compounds"], streets=s))
    st = ds.layers["streets"]
    assert list(st["walkable"]) == [False, False]
    assert list(st["bridge"]) == [True, False]
    assert list(st["layer"]) == [1, 0]
    # no street_id: ids in spatial order by midpoint, the vertical street's (Y0 + 150) lies north of
    # the horizontal one's (Y0 - 5)
    assert list(st["street_id"]) == ["S0002", "S0001"]


def test_consent_percent_and_booleans(tmp_path):
    c = grid_compounds(1, households=10)
    c["consent"] = ["85%"]
    c["owners_committee"] = ["是"]
    ds = load(_save(tmp_path, c))
    assert ds.compounds["consent"].iloc[0] == pytest.approx(0.85)
    assert bool(ds.compounds["owners_committee"].iloc[0]) is True


def test_bad_year_and_boolean(tmp_path):
    c = grid_compounds(2)
    c["built_year"] = ["1990年代", "unknown", "1985", None]
    c["owners_committee"] = ["是", "maybe", "0", None]
    rep = _report(_save(tmp_path, c))
    msgs = [str(p) for p in rep.errors]
    assert len(msgs) == 2
    assert "column built_year: 1 values without a year (ids: C2)" in msgs[0]
    assert "column owners_committee: values that are not yes/no (ids: C2)" in msgs[1]


def test_report_text(tiny_gpkg):
    text = load(tiny_gpkg).report.to_text()
    assert text.splitlines()[0] == ("layers: compounds 9, parcels 1, facilities 2, streets 2, barriers 1, "
                                    "gates 2")
    assert text.endswith("usable: yes")
