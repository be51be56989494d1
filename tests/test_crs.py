"""GCJ-02 / BD-09 conversions against independent reference pairs; work CRS choice."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from pyproj import Geod

from renogis import CRSError, InputError
from renogis.crs import (
    bd09_to_wgs84,
    cgcs2000_gk_zone,
    choose_work_crs,
    gcj02_to_wgs84,
    parse_crs,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)
from renogis.validate import load

from .conftest import grid_compounds

# Reference pairs computed independently of renogis with the public-domain `prcoords` 1.0.2
# library (wgs_gcj / wgs_bd), to 1e-9 degree: (wgs_lon, wgs_lat, gcj_lon, gcj_lat, bd_lon, bd_lat).
REFERENCE = np.array([
    (117.2620, 34.8010, 117.267783955, 34.800110977, 117.274271980, 34.806151739),  # Zaozhuang Xuecheng
    (116.3970, 39.9090, 116.403243506, 39.910403397, 116.409615693, 39.916744222),  # Beijing
    (118.7800, 32.0450, 118.785206922, 32.042949670, 118.791641187, 32.049205167),  # Nanjing
    (121.4737, 31.2304, 121.478223059, 31.228457738, 121.484781469, 31.234310594),  # Shanghai
    (113.2644, 23.1291, 113.269729592, 23.126423340, 113.276150752, 23.132711257),  # Guangzhou
    (104.0665, 30.5723, 104.069004906, 30.569845541, 104.075480941, 30.575856164),  # Chengdu
])
GEOD = Geod(ellps="WGS84")


def _metres(lon1, lat1, lon2, lat2):
    return GEOD.inv(lon1, lat1, lon2, lat2)[2]


def test_wgs84_to_gcj02_matches_reference():
    lon, lat = wgs84_to_gcj02(REFERENCE[:, 0], REFERENCE[:, 1])
    err = _metres(lon, lat, REFERENCE[:, 2], REFERENCE[:, 3])
    assert np.max(err) < 0.01  # centimetre agreement with an independent implementation


def test_wgs84_to_bd09_matches_reference():
    lon, lat = wgs84_to_bd09(REFERENCE[:, 0], REFERENCE[:, 1])
    err = _metres(lon, lat, REFERENCE[:, 4], REFERENCE[:, 5])
    assert np.max(err) < 0.01


def test_inverse_conversions_under_one_metre():
    lon, lat = gcj02_to_wgs84(REFERENCE[:, 2], REFERENCE[:, 3])
    assert np.max(_metres(lon, lat, REFERENCE[:, 0], REFERENCE[:, 1])) < 0.01
    lon, lat = bd09_to_wgs84(REFERENCE[:, 4], REFERENCE[:, 5])
    assert np.max(_metres(lon, lat, REFERENCE[:, 0], REFERENCE[:, 1])) < 0.01


def test_gcj_offset_is_hundreds_of_metres():
    # the shift the conversion removes is real: 300-600 m in these cities
    d = _metres(REFERENCE[:, 0], REFERENCE[:, 1], REFERENCE[:, 2], REFERENCE[:, 3])
    assert np.all((d > 200) & (d < 700))


def test_outside_china_unchanged():
    lon, lat = wgs84_to_gcj02(np.array([24.94]), np.array([60.17]))  # Helsinki
    assert lon[0] == 24.94 and lat[0] == 60.17


@pytest.mark.parametrize("lon,epsg", [(117.26, 4548), (118.78, 4549), (116.4, 4548), (75.0, 4534),
                                      (121.47, 4549), (113.26, 4547)])
def test_gk_zone(lon, epsg):
    assert cgcs2000_gk_zone(lon).to_epsg() == epsg


def test_choose_work_crs_from_lonlat_and_utm():
    pts = gpd.GeoDataFrame(geometry=[shapely.Point(117.26, 34.80)], crs=4490)
    assert choose_work_crs(pts).to_epsg() == 4548
    hel = gpd.GeoDataFrame(geometry=[shapely.Point(24.94, 60.17)], crs=4326)
    assert choose_work_crs(hel).to_epsg() == 32635


def test_source_crs_gcj02_input(tmp_path):
    # a compound digitised on Amap: its GCJ-02 corners convert back to the true WGS84 place
    wgs = grid_compounds(1).to_crs(4326)
    x, y = wgs.geometry.iloc[0].exterior.xy
    gx, gy = wgs84_to_gcj02(np.array(x), np.array(y))
    gcj = wgs.copy()
    gcj.geometry = [shapely.Polygon(zip(gx, gy))]
    path = tmp_path / "compounds.geojson"
    gcj.to_file(path, driver="GeoJSON")
    ds = load(path, source_crs="gcj02")
    back = ds.compounds.to_crs(grid_compounds(1).crs).geometry.iloc[0]
    truth = grid_compounds(1).geometry.iloc[0]
    assert shapely.hausdorff_distance(back, truth) < 0.05
    # without --source-crs the footprint lands hundreds of metres away
    raw = load(path).compounds.to_crs(grid_compounds(1).crs).geometry.iloc[0]
    assert shapely.hausdorff_distance(raw, truth) > 200


def test_source_crs_needs_lonlat(tmp_path):
    path = tmp_path / "compounds.gpkg"
    grid_compounds(1).to_file(path, layer="compounds")
    with pytest.raises(CRSError, match="--source-crs gcj02 needs lon/lat input"):
        load(path, source_crs="gcj02")


def test_work_crs_override_and_errors(tmp_path):
    path = tmp_path / "compounds.gpkg"
    grid_compounds(1).to_file(path, layer="compounds")
    ds = load(path, work_crs="EPSG:32650")
    assert ds.work_crs.to_epsg() == 32650
    assert ds.compounds.crs.to_epsg() == 32650
    assert ds.compounds.geometry.iloc[0].area == pytest.approx(10_000, rel=1e-3)
    with pytest.raises(CRSError, match="not a projected metric CRS"):
        load(path, work_crs="EPSG:4326")
    with pytest.raises(InputError, match="cannot read CRS"):
        parse_crs("EPSG:999999")
