"""Shared fixtures: tiny hand-built worlds and the real-data folder."""

from __future__ import annotations

import os
from pathlib import Path

import geopandas as gpd
import pytest
import shapely

CRS = "EPSG:4548"  # CGCS2000 / 3-degree Gauss-Kruger CM 117E
X0, Y0 = 527_000.0, 3_853_000.0


def _realdata() -> Path | None:
    here = Path(__file__).resolve()
    for cand in (here.parents[2] / "shared" / "realdata", Path("/work/shared/realdata")):
        if cand.is_dir():
            return cand
    return None


@pytest.fixture(scope="session")
def realdata() -> Path:
    path = _realdata()
    if path is None:
        pytest.skip("../shared/realdata (OpenStreetMap extracts) is absent; real-data tests skipped")
    return path


def grid_compounds(n: int = 3, size: float = 100.0, gap: float = 10.0, households: int = 200) -> gpd.GeoDataFrame:
    """An n x n grid of square compounds C1..C(n*n), row-major from the south-west."""
    rows = []
    k = 0
    for j in range(n):
        for i in range(n):
            k += 1
            x = X0 + i * (size + gap)
            y = Y0 + j * (size + gap)
            rows.append({
                "compound_id": f"C{k}", "name": f"小区{k}", "households": households,
                "buildings": 4, "floor_area_m2": households * 100.0, "built_year": 1990,
                "subdistrict": "永安街道", "owners_committee": True, "consent": 0.9,
                "geometry": shapely.box(x, y, x + size, y + size),
            })
    return gpd.GeoDataFrame(rows, crs=CRS)


@pytest.fixture
def tiny_world() -> dict[str, gpd.GeoDataFrame]:
    """A 3 x 3 grid of 100 m compounds, 10 m lanes, a street, two facilities, a parcel, gates."""
    compounds = grid_compounds()
    streets = gpd.GeoDataFrame(
        {"street_id": ["S1", "S2"], "class": ["local", "arterial"],
         "geometry": [shapely.LineString([(X0 - 20, Y0 - 5), (X0 + 350, Y0 - 5)]),
                      shapely.LineString([(X0 + 105, Y0 - 50), (X0 + 105, Y0 + 350)])]},
        crs=CRS)
    facilities = gpd.GeoDataFrame(
        {"facility_id": ["F1", "F2"], "category": ["幼儿园", "clinic"], "capacity": [180, None],
         "geometry": [shapely.Point(X0 + 50, Y0 - 15), shapely.Point(X0 + 300, Y0 - 15)]}, crs=CRS)
    parcels = gpd.GeoDataFrame(
        {"parcel_id": ["P1"], "kind": ["闲置用地"],
         "geometry": [shapely.box(X0 + 340, Y0, X0 + 400, Y0 + 60)]}, crs=CRS)
    gates = gpd.GeoDataFrame(
        {"gate_id": ["G1", "G2"], "compound_id": ["C1", "C2"],
         "geometry": [shapely.Point(X0 + 50, Y0), shapely.Point(X0 + 160, Y0)]}, crs=CRS)
    barriers = gpd.GeoDataFrame(
        {"barrier_id": ["R1"], "geometry": [shapely.LineString([(X0 - 50, Y0 + 330), (X0 + 400, Y0 + 330)])]},
        crs=CRS)
    return {"compounds": compounds, "streets": streets, "facilities": facilities, "parcels": parcels,
            "gates": gates, "barriers": barriers}


def write_gpkg(layers: dict[str, gpd.GeoDataFrame], path: Path) -> Path:
    for name, gdf in layers.items():
        gdf.to_file(path, layer=name, driver="GPKG")
    return path


@pytest.fixture
def tiny_gpkg(tiny_world, tmp_path) -> Path:
    return write_gpkg(tiny_world, tmp_path / "tiny.gpkg")


def require_browser() -> tuple[str, str] | None:
    """Paths of chromium and chromedriver, or None (fails instead under RENOGIS_REQUIRE_BROWSER=1)."""
    import shutil

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if chromium and driver:
        return chromium, driver
    if os.environ.get("RENOGIS_REQUIRE_BROWSER") == "1":
        pytest.fail("headless Chromium is required (RENOGIS_REQUIRE_BROWSER=1) but chromium/chromedriver "
                    "are not installed: apt-get install chromium chromium-driver")
    return None
