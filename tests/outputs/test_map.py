"""Planning maps without a browser: HTML, layers, embedded GeoJSON, coordinates, errors."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Transformer
from shapely.geometry import Point, box

from renogis._errors import CRSError, InputError
from renogis.crs import wgs84_to_gcj02
from renogis.outputs import map as maps
from renogis.outputs.map import build_map, district_colors, write_map

CRS = "EPSG:4548"
X0, Y0 = 527_000.0, 3_853_000.0


def make_world() -> dict[str, Any]:
    """A 3 x 3 grid of 96 m compounds C{row}{col}, two districts and one excluded compound.

    D1 = C00 C01 C10 C11 (south-west block), D2 = C02 C12 C22 C21 (an L), C20 excluded.
    Households: 100 + 10 * (3 * row + col). Kindergarten at the centre of C00, clinic at the
    centre of C22, elderly day care at the centre of C11. Parcel P2 (an idle building) lies
    inside C12 and is the chosen clinic site. Access is the straight distance
    between centroids; a kindergarten serves 300 m, a clinic 250 m.

    Streets: an arterial 10 m south of the grid ("primary", an OSM value; 建设路), a secondary
    east of it (和平路), two local lanes along x = 100 (幸福巷) and x = 200 (unnamed; each cut in
    two at y = 150, plus a class nobody knows, drawn as local) and a path. Barriers: a river
    polygon north of the grid ("河流") and a railway line ("railway") south of the arterial.
    """
    rows = []
    for r in range(3):
        for c in range(3):
            district = (
                "D1" if (r < 2 and c < 2) else ("D2" if (c == 2 or (r == 2 and c == 1)) else None)
            )
            rows.append(
                {
                    "compound_id": f"C{r}{c}",
                    "name": f"小区{r}{c}",
                    "households": 100 + 10 * (3 * r + c),
                    "buildings": 3,
                    "floor_area_m2": 5000.0,
                    "built_year": 1990 + r,
                    "district_id": district,
                    "excluded_reason": None if district else "同意率不足",
                    "geometry": box(
                        X0 + 100 * c + 2, Y0 + 100 * r + 2, X0 + 100 * c + 98, Y0 + 100 * r + 98
                    ),
                }
            )
    comp = gpd.GeoDataFrame(rows, crs=CRS)
    dis = (
        comp[comp.district_id.notna()]
        .dissolve("district_id", aggfunc={"households": "sum", "compound_id": "count"})
        .reset_index()
        .rename(columns={"compound_id": "n_compounds"})
    )
    dis["buildings"] = 12
    dis["floor_area_m2"] = 20000.0
    dis["idle_area_m2"] = 0.0
    dis["wall_m"] = 300.0
    dis["flags"] = None
    dis["reason"] = "ok"
    fac = gpd.GeoDataFrame(
        {
            "facility_id": ["F1", "F2", "F3"],
            "category": ["kindergarten", "clinic", "elderly_day_care"],
            "name": ["幼儿园A", "卫生站B", "日照C"],
            "capacity": [200.0, np.nan, 50.0],
        },
        geometry=[Point(X0 + 50, Y0 + 50), Point(X0 + 250, Y0 + 250), Point(X0 + 150, Y0 + 150)],
        crs=CRS,
    )
    par = gpd.GeoDataFrame(
        {
            "parcel_id": ["P1", "P2"],
            "kind": ["vacant_land", "idle_building"],
            "area_m2": [400.0, 225.0],
            "floor_area_m2": [np.nan, 450.0],
        },
        geometry=[
            box(X0 + 300, Y0, X0 + 320, Y0 + 20),
            box(X0 + 250, Y0 + 120, X0 + 265, Y0 + 135),
        ],
        crs=CRS,
    )
    cent = comp.geometry.centroid
    acc = []
    for cat, f, rad in (("kindergarten", 0, 300.0), ("clinic", 1, 250.0)):
        d = cent.distance(fac.geometry.iloc[f])
        acc.append(
            pd.DataFrame(
                {
                    "compound_id": comp.compound_id,
                    "category": cat,
                    "distance_m": d.round(1),
                    "radius_m": rad,
                    "within_radius": d <= rad,
                    "method": "euclid",
                }
            )
        )
    access = pd.concat(acc, ignore_index=True)
    g = access.merge(comp[["compound_id", "households", "district_id"]])
    g["cov"] = np.where(g.within_radius, g.households, 0)
    cg = pd.DataFrame(
        {
            "level": "compound",
            "unit_id": g.compound_id,
            "category": g.category,
            "households": g.households,
            "covered_households": g["cov"],
        }
    )
    cg["uncovered_households"] = cg.households - cg.covered_households
    cg["coverage_share"] = cg.covered_households / cg.households
    dg = (
        g[g.district_id.notna()]
        .groupby(["district_id", "category"])
        .agg(households=("households", "sum"), covered_households=("cov", "sum"))
        .reset_index()
    )
    dg = pd.DataFrame(
        {
            "level": "district",
            "unit_id": dg.district_id,
            "category": dg.category,
            "households": dg.households,
            "covered_households": dg.covered_households,
            "uncovered_households": dg.households - dg.covered_households,
            "coverage_share": dg.covered_households / dg.households,
            "demand": np.nan,
            "supply": np.nan,
            "shortfall": np.nan,
        }
    )
    gaps = pd.concat([cg, dg], ignore_index=True)
    sa = gpd.GeoDataFrame(
        {"category": ["kindergarten", "clinic"], "radius_m": [300.0, 250.0]},
        geometry=[fac.geometry.iloc[0].buffer(300), fac.geometry.iloc[1].buffer(250)],
        crs=CRS,
    )
    sit = gpd.GeoDataFrame(
        {
            "parcel_id": ["P2"],
            "category": ["clinic"],
            "newly_covered_households": [150],
            "cumulative_coverage": [0.8],
        },
        geometry=[par.geometry.iloc[1]],
        crs=CRS,
    )
    xs, ys = X0, Y0
    streets = gpd.GeoDataFrame(
        {
            "street_id": ["S1", "S2", "S3", "S4", "S5", "S6", "S7"],
            "class": ["primary", "secondary", "local", "local", "支路", "no-such-class", "path"],
            "name": ["建设路", "和平路", "幸福巷", "幸福巷", None, "", None],
        },
        geometry=[
            shapely.LineString([(xs - 20, ys - 10), (xs + 320, ys - 10)]),
            shapely.LineString([(xs + 310, ys - 10), (xs + 310, ys + 300)]),
            shapely.LineString([(xs + 100, ys), (xs + 100, ys + 150)]),
            shapely.LineString([(xs + 100, ys + 150), (xs + 100, ys + 300)]),
            shapely.LineString([(xs + 200, ys), (xs + 200, ys + 150)]),
            shapely.LineString([(xs + 200, ys + 150), (xs + 200, ys + 300)]),
            shapely.LineString([(xs, ys + 305), (xs + 300, ys + 305)]),
        ],
        crs=CRS,
    )
    barriers = gpd.GeoDataFrame(
        {"barrier_id": ["B1", "B2"], "kind": ["河流", "railway"]},
        geometry=[
            box(xs - 50, ys + 320, xs + 350, ys + 360),
            shapely.LineString([(xs - 50, ys - 40), (xs + 350, ys - 40)]),
        ],
        crs=CRS,
    )
    return {
        "compounds": comp,
        "districts": dis,
        "facilities": fac,
        "parcels": par,
        "access": access,
        "gaps": gaps,
        "service_areas": sa,
        "siting": sit,
        "streets": streets,
        "barriers": barriers,
    }


def embedded_data(html: str) -> dict[str, Any]:
    """The layer data embedded in a map's HTML."""
    found = re.findall(
        r'<script type="application/json" id="renogis-data-[^"]+">(.*?)</script>', html, flags=re.S
    )
    assert len(found) == 1
    return json.loads(found[0])


def layer_names(fmap: folium.Map) -> list[str]:
    return [c.layer_name for c in fmap._children.values() if isinstance(c, folium.FeatureGroup)]


def render(fmap: folium.Map) -> str:
    return fmap.get_root().render()


@pytest.fixture(scope="module")
def world() -> dict[str, Any]:
    return make_world()


def full(world: dict[str, Any], **kw: Any) -> folium.Map:
    w = dict(world)
    comp = w.pop("compounds")
    return build_map(comp, **w, **kw)


@pytest.fixture(scope="module")
def zh_html(world: dict[str, Any]) -> str:
    return render(full(world, tiles="none"))


ZH_LAYERS = [
    "小区(按片区着色)",
    "未纳入片区的小区",
    "覆盖：幼儿园",
    "覆盖：社区卫生服务站",
    "服务范围：幼儿园",
    "服务范围：社区卫生服务站",
    "闲置地块",
    "新增设施选址",
    "片区边界",
    "现状设施",
    "道路",
    "河流与障碍",
]
EN_LAYERS = [
    "Compounds by district",
    "Excluded compounds",
    "Coverage: Kindergarten",
    "Coverage: Community health station",
    "Service area: Kindergarten",
    "Service area: Community health station",
    "Idle parcels",
    "Proposed sites",
    "District outlines",
    "Existing facilities",
    "Streets",
    "Rivers and barriers",
]


# --------------------------------------------------------------------------- HTML and layers
def test_write_map_writes_self_contained_html(world: dict[str, Any], tmp_path: Path) -> None:
    w = dict(world)
    comp = w.pop("compounds")
    out = write_map(tmp_path / "sub" / "map.html", comp, tiles="none", **w)
    assert out == tmp_path / "sub" / "map.html"
    html = out.read_text(encoding="utf-8")
    assert "<script src=" not in html
    assert not re.search(r"<link[^>]+href=\"https?:", html)
    assert "cdn.jsdelivr" not in html and "cdnjs" not in html and "code.jquery" not in html
    assert "L.Control.Search" in html and "L.markerClusterGroup" in html and "FullScreen" in html
    assert "url(images/" not in html and "url(../images/" not in html  # icons inlined
    assert "tile.openstreetmap" not in html  # tiles="none": no tile layer


def test_front_end_files_inlined(zh_html: str) -> None:
    """map.css and map.js reach the page whole, without their headers, placeholders filled."""
    css, js = maps._front_end("map.css"), maps._front_end("map.js")
    assert css.startswith(".renogis-fac") and "\n<style>\n" + css + "</style>" in zh_html
    assert js.startswith("(function () {") and "inlines this file" not in zh_html
    for token in ("RENOGIS_MAP_NAME", "RENOGIS_GROUPS", "RENOGIS_DATA_ID"):
        assert token in js and token not in zh_html
    assert js.split("RENOGIS_DATA_ID", 1)[1].split("RENOGIS_MAP_NAME", 1)[1] in zh_html
    map_name = re.search(r'id="renogis-data-(map_[0-9a-f]+)"', zh_html).group(1)
    assert f'var map = {map_name};\n  var G = {{"compounds": feature_group_' in zh_html
    assert set(maps._TEXT) == {"zh", "en"} and maps._TEXT["zh"].keys() == maps._TEXT["en"].keys()


def test_map_js_parses() -> None:
    """map.js is plain JavaScript (its placeholders are identifiers and strings)."""
    import shutil
    import subprocess

    node = shutil.which("node")
    if node is None:
        pytest.skip("node not installed")
    path = Path(maps.__file__).with_name("map.js")
    done = subprocess.run([node, "--check", str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_layer_names_zh(world: dict[str, Any], zh_html: str) -> None:
    fmap = full(world, tiles="none")
    assert layer_names(fmap) == ZH_LAYERS
    for name in ZH_LAYERS:
        assert json.dumps(name)[1:-1] in zh_html or name in zh_html
    assert embedded_data(zh_html)["meta"]["title"] == "老旧小区片区统筹改造规划图"


def test_layer_names_en(world: dict[str, Any]) -> None:
    fmap = full(world, tiles="none", lang="en", title="Demo plan")
    assert layer_names(fmap) == EN_LAYERS
    meta = embedded_data(render(fmap))["meta"]
    assert meta["title"] == "Demo plan"
    assert meta["text"]["households"] == "Households"
    assert [c["label"] for c in meta["categories"]] == [
        "Kindergarten",
        "Elderly day-care centre",
        "Community health station",
    ]
    assert [c["glyph"] for c in meta["categories"]] == ["K", "E", "C"]


def test_shown_layers(world: dict[str, Any]) -> None:
    fmap = full(world, tiles="none")
    shown = {
        c.layer_name: c.show for c in fmap._children.values() if isinstance(c, folium.FeatureGroup)
    }
    assert [k for k, v in shown.items() if not v] == ZH_LAYERS[2:6]


def test_feature_counts_equal_inputs(zh_html: str) -> None:
    data = embedded_data(zh_html)
    counts = {k: len(v["features"]) for k, v in data.items() if k != "meta"}
    assert counts == {
        "compounds": 9,
        "districts": 2,
        "parcels": 2,
        "facilities": 3,
        "service_areas": 2,
        "siting": 1,
        "streets": 5,  # one feature per street class and name
        "barriers": 2,
        "network_parts": 0,
    }
    comp = data["compounds"]["features"]
    assert sum(f["properties"]["d"] is not None for f in comp) == 8
    assert [f["properties"]["i"] for f in comp if f["properties"]["d"] is None] == ["C20"]


def test_compound_properties(zh_html: str) -> None:
    props = {
        f["properties"]["i"]: f["properties"]
        for f in embedded_data(zh_html)["compounds"]["features"]
    }
    c00 = props["C00"]
    assert (c00["n"], c00["h"], c00["b"], c00["a"], c00["y"], c00["d"]) == (
        "小区00",
        100,
        3,
        5000,
        1990,
        "D1",
    )
    # categories in schema order: kindergarten, elderly_day_care, clinic
    assert c00["ds"] == [0, None, 283]  # clinic: hypot(200, 200) = 282.8 m
    assert c00["w"] == [1, None, 0]
    assert c00["u"] == [0, None, 100]
    assert props["C22"]["ds"] == [283, None, 0] and props["C22"]["w"] == [1, None, 1]
    assert props["C20"]["r"] == "同意率不足" and props["C20"]["d"] is None
    assert "r" not in props["C11"] or props["C11"]["r"] is None


def test_district_properties(zh_html: str) -> None:
    dist = {
        f["properties"]["i"]: f["properties"]
        for f in embedded_data(zh_html)["districts"]["features"]
    }
    assert dist["D1"]["h"] == 100 + 110 + 130 + 140
    assert dist["D2"]["h"] == 120 + 150 + 170 + 180
    assert dist["D1"]["n"] == 4
    assert {dist["D1"]["c"], dist["D2"]["c"]} == {0, 1}  # touching districts differ
    # clinic in D1: C00 is 283 m away (> 250 m); C01 and C10 224 m, C11 141 m are covered
    # rows [category index, coverage share, uncovered households, demand, supply, shortfall]
    # shares to 3 decimals, households whole, no demand unit in this gap table
    assert dist["D1"]["g"] == [
        [2, 0.792, 100, None, None, None, None],
        [0, 1.0, 0, None, None, None, None],
    ]
    # district areas in whole m²: 4 compounds of 96 m x 96 m
    assert dist["D1"]["ar"] == dist["D2"]["ar"] == 4 * 96 * 96
    assert dist["D2"]["st"] == [["P2", 2, 150]]  # P2 lies inside C12, in D2
    assert dist["D1"]["st"] == []


def test_siting_and_parcels(zh_html: str) -> None:
    data = embedded_data(zh_html)
    assert data["siting"]["features"][0]["properties"] == {"i": "P2", "k": 2, "nc": 150, "cc": 0.8}
    assert [f["properties"]["k"] for f in data["parcels"]["features"]] == [
        "vacant_land",
        "idle_building",
    ]
    assert data["parcels"]["features"][1]["properties"]["fa"] == 450
    assert [f["properties"]["k"] for f in data["facilities"]["features"]] == [0, 2, 1]
    assert [f["properties"]["r"] for f in data["service_areas"]["features"]] == [300, 250]


# --------------------------------------------------------------------------- coordinates
def _coords(fc: dict[str, Any]) -> np.ndarray:
    geoms = shapely.from_geojson([json.dumps(f["geometry"]) for f in fc["features"]])
    return shapely.get_coordinates(geoms)


def test_coordinates_rounded_and_in_wgs84(world: dict[str, Any], zh_html: str) -> None:
    data = embedded_data(zh_html)
    for key in (
        "compounds",
        "districts",
        "parcels",
        "facilities",
        "service_areas",
        "siting",
        "streets",
        "barriers",
    ):
        xy = _coords(data[key])
        np.testing.assert_array_equal(xy, np.round(xy, 6))
    first = data["compounds"]["features"][0]["geometry"]["coordinates"][0]
    tr = Transformer.from_crs(CRS, 4326, always_xy=True)
    expected = {
        tuple(np.round(tr.transform(x, y), 6))
        for x, y in shapely.get_coordinates(world["compounds"].geometry.iloc[0])
    }
    assert {tuple(p) for p in first} == expected
    lon, lat = first[0]
    assert 117.2 < lon < 117.4 and 34.7 < lat < 34.9  # CM 117E, 3853 km north


def test_amap_tiles_shift_to_gcj02(world: dict[str, Any]) -> None:
    html = render(full(world, tiles="amap"))
    assert "webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8" in html.replace(
        "\\u0026", "&"
    )
    shifted = _coords(embedded_data(html)["compounds"])
    plain = _coords(embedded_data(render(full(world, tiles="none")))["compounds"])
    glon, glat = wgs84_to_gcj02(plain[:, 0], plain[:, 1])
    np.testing.assert_allclose(shifted, np.column_stack([glon, glat]), atol=1.5e-6)
    assert np.abs(shifted - plain).max() > 1e-3  # GCJ-02 moves points by hundreds of metres
    for key in ("streets", "barriers"):
        shifted = _coords(embedded_data(html)[key])
        plain = _coords(embedded_data(render(full(world, tiles="none")))[key])
        glon, glat = wgs84_to_gcj02(plain[:, 0], plain[:, 1])
        np.testing.assert_allclose(shifted, np.column_stack([glon, glat]), atol=1.5e-6)


@pytest.mark.parametrize(
    ("tiles", "needle"), [("osm", "tile.openstreetmap.org"), ("cartodb", "basemaps.cartocdn.com")]
)
def test_tile_layers(world: dict[str, Any], tiles: str, needle: str) -> None:
    assert needle in render(full(world, tiles=tiles))


def test_tianditu_needs_key(world: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TIANDITU_KEY", raising=False)
    with pytest.raises(InputError, match="TIANDITU_KEY"):
        full(world, tiles="tianditu")
    monkeypatch.setenv("TIANDITU_KEY", "abc123")
    html = render(full(world, tiles="tianditu"))
    assert "tianditu.gov.cn/vec_w/wmts" in html and "tk=abc123" in html and "cva_w" in html


def test_simplification_keeps_shape(world: dict[str, Any]) -> None:
    comp = world["compounds"].copy()
    # a vertex 0.2 m off a straight edge disappears; a 5 m notch stays
    comp.loc[0, "geometry"] = shapely.Polygon(
        [
            (X0, Y0),
            (X0 + 50, Y0 + 0.2),
            (X0 + 100, Y0),
            (X0 + 100, Y0 + 100),
            (X0 + 50, Y0 + 95),
            (X0, Y0 + 100),
        ]
    )
    data = embedded_data(render(build_map(comp, tiles="none")))
    ring = data["compounds"]["features"][0]["geometry"]["coordinates"][0]
    assert len(ring) == 6  # 5 vertices + closing point


# --------------------------------------------------------------------------- colours, inputs
def _row_of_boxes(gap_m: float, n: int) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"district_id": [f"D{i}" for i in range(n)]},
        geometry=[box(i * (100 + gap_m), 0, i * (100 + gap_m) + 100, 100) for i in range(n)],
        crs=CRS,
    )


def test_district_colors_row_across_streets() -> None:
    # 4 districts 100 m apart in a row: each is a neighbour of the next (100 m < 250 m) only.
    # Largest first (D1, D2 have 2 neighbours): D1 0, D2 1; D0 (next to D1) takes the least used
    # free colour 2, D3 (next to D2) then 3: all distinct, not 0 1 0 1.
    assert maps.NEIGHBOUR_DISTANCE_M == 250.0
    assert district_colors(_row_of_boxes(100.0, 4)).tolist() == [2, 0, 1, 3]


def test_district_colors_touching_and_far() -> None:
    assert district_colors(_row_of_boxes(0.0, 2)).tolist() == [0, 1]  # touching
    # 300 m apart: not neighbours, but balancing still spreads the palette
    assert district_colors(_row_of_boxes(300.0, 2)).tolist() == [0, 1]
    # three touching in a row, only touching counts, palette of 2: the ends share a colour
    assert district_colors(_row_of_boxes(0.0, 3), n_colors=2, distance_m=1.0).tolist() == [1, 0, 1]
    # at 250 m the ends (200 m apart) are neighbours too: a third colour, with a warning
    assert district_colors(_row_of_boxes(0.0, 3), n_colors=2).tolist() == [0, 1, 2]
    assert district_colors(_row_of_boxes(0.0, 2), distance_m=10).tolist() == [0, 1]
    empty = _row_of_boxes(0.0, 0)
    assert district_colors(empty).tolist() == []


def test_district_colors_more_than_palette(caplog: pytest.LogCaptureFixture) -> None:
    # 3 x 3 touching districts: the centre touches all 8 others; with 3 colours one more is needed
    g = gpd.GeoDataFrame(
        {"district_id": [f"D{i}" for i in range(9)]},
        geometry=[
            box(100 * c, 100 * r, 100 * c + 100, 100 * r + 100) for r in range(3) for c in range(3)
        ],
        crs=CRS,
    )
    colors = district_colors(g, n_colors=3, distance_m=1.0).to_numpy()
    touching = shapely.STRtree(g.geometry.values).query(
        g.geometry.values, predicate="dwithin", distance=1.0
    )
    pairs = touching[:, touching[0] != touching[1]]
    assert (colors[pairs[0]] != colors[pairs[1]]).all()
    assert colors.max() >= 3 and "palette has 3, colours repeat" in caplog.text


def test_district_colors_sample_all_distinct() -> None:
    from renogis.adjacency import build_adjacency
    from renogis.datasets.synthetic import make_sample
    from renogis.districting import propose_districts

    s = make_sample()
    graph = build_adjacency(
        s["compounds"], parcels=s["parcels"], streets=s["streets"], barriers=s["barriers"]
    )
    districts = propose_districts(
        s["compounds"], graph, parcels=s["parcels"], min_households=1500, max_households=4000
    ).districts
    assert len(districts) == 5
    # D001 is 40 m from D002 and 205 m from D003; D002, D003 are 120-126 m from D004, D005
    assert district_colors(districts).tolist() == [4, 0, 1, 2, 3]
    # the old 30 m rule saw no neighbours across the arterials: now 5 districts, 5 colours
    assert district_colors(districts, distance_m=30.0).tolist() == [0, 1, 2, 3, 4]


# --------------------------------------------------------------------------- streets, barriers
def test_street_data_merged_per_class_and_name(zh_html: str) -> None:
    feats = embedded_data(zh_html)["streets"]["features"]
    # drawn path first, arterial last (on top); local (incl. 支路 and an unknown class) split by
    # name: the unnamed S5+S6 (an empty name is no name) and 幸福巷 S3+S4
    assert [f["properties"] for f in feats] == [
        {"k": 3, "n": None},
        {"k": 2, "n": None},
        {"k": 2, "n": "幸福巷"},
        {"k": 1, "n": "和平路"},
        {"k": 0, "n": "建设路"},
    ]
    # S3+S4 and S5+S6 each merge into one 2-point line (the cut at y = 150 m is collinear)
    assert [f["geometry"]["type"] for f in feats] == ["LineString"] * 5
    assert [len(f["geometry"]["coordinates"]) for f in feats] == [2, 2, 2, 2, 2]
    tr = Transformer.from_crs(CRS, 4326, always_xy=True)
    assert feats[4]["geometry"]["coordinates"][0] == list(
        np.round(tr.transform(X0 - 20, Y0 - 10), 6)
    )
    assert feats[2]["geometry"]["coordinates"][0] == list(np.round(tr.transform(X0 + 100, Y0), 6))


def test_street_data_without_class(world: dict[str, Any]) -> None:
    streets = world["streets"].drop(columns="class")
    data = embedded_data(render(build_map(world["compounds"], streets=streets, tiles="none")))
    # all local, one feature per name (sorted by code point), unnamed first
    assert [f["properties"] for f in data["streets"]["features"]] == [
        {"k": 2, "n": None},
        {"k": 2, "n": "和平路"},
        {"k": 2, "n": "幸福巷"},
        {"k": 2, "n": "建设路"},
    ]
    unnamed = world["streets"].drop(columns=["class", "name"])
    data = embedded_data(render(build_map(world["compounds"], streets=unnamed, tiles="none")))
    assert [f["properties"] for f in data["streets"]["features"]] == [{"k": 2}]
    assert data["barriers"]["features"] == []


def test_barrier_kinds(zh_html: str, world: dict[str, Any]) -> None:
    feats = embedded_data(zh_html)["barriers"]["features"]
    assert [f["properties"]["k"] for f in feats] == [0, 1]  # river, railway
    assert [f["geometry"]["type"] for f in feats] == ["Polygon", "LineString"]
    b = world["barriers"]
    kinds = maps._barrier_kinds(
        b.assign(kind=["围墙 wall", None], name=[None, "京沪铁路"])  # other; railway by name
    )
    assert kinds.tolist() == [2, 1]
    assert maps._barrier_kinds(b.drop(columns="kind")).tolist() == [0, 0]  # undescribed: water


def test_streets_layers_drawn_in_context_panes(zh_html: str) -> None:
    assert 'contextRenderer("renogis-streets", 350)' in zh_html
    assert 'contextRenderer("renogis-barriers", 340)' in zh_html
    meta = embedded_data(zh_html)["meta"]
    # wider and darker for higher classes
    assert [(st["weight"], st["color"]) for st in meta["street_styles"]] == [
        (5.0, "#555555"),
        (3.5, "#777777"),
        (2.0, "#999999"),
        (1.2, "#999999"),
    ]
    assert meta["barrier_styles"][1]["dashArray"] == "8 4"


def test_districts_dissolved_when_missing(world: dict[str, Any]) -> None:
    data = embedded_data(render(build_map(world["compounds"], tiles="none")))
    dist = {f["properties"]["i"]: f["properties"] for f in data["districts"]["features"]}
    assert sorted(dist) == ["D1", "D2"] and dist["D1"]["h"] == 480
    assert layer_names(build_map(world["compounds"], tiles="none")) == [
        "小区(按片区着色)",
        "未纳入片区的小区",
        "片区边界",
    ]


def test_compounds_only_minimal_columns(world: dict[str, Any]) -> None:
    comp = world["compounds"][["compound_id", "households", "geometry"]]
    fmap = build_map(comp, tiles="none")
    assert layer_names(fmap) == ["小区(按片区着色)"]
    props = embedded_data(render(fmap))["compounds"]["features"][0]["properties"]
    assert props == {"i": "C00", "n": "C00", "h": 100}


def test_script_breaking_names_are_escaped(world: dict[str, Any]) -> None:
    comp = world["compounds"].copy()
    comp.loc[0, "name"] = "</script><b>x"
    html = render(build_map(comp, tiles="none"))
    assert embedded_data(html)["compounds"]["features"][0]["properties"]["n"] == "</script><b>x"


def test_inputs_not_modified(world: dict[str, Any]) -> None:
    before = {k: v.copy() for k, v in world.items()}
    full(world, tiles="amap")
    for k, v in world.items():
        pd.testing.assert_frame_equal(pd.DataFrame(v), pd.DataFrame(before[k]))


def test_other_crs_reprojected(world: dict[str, Any]) -> None:
    fac = world["facilities"].to_crs(3857)
    a = embedded_data(render(build_map(world["compounds"], facilities=fac, tiles="none")))
    b = embedded_data(
        render(build_map(world["compounds"], facilities=world["facilities"], tiles="none"))
    )
    np.testing.assert_allclose(_coords(a["facilities"]), _coords(b["facilities"]), atol=2e-6)


def test_cluster_above_threshold(world: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    meta = embedded_data(render(full(world, tiles="none")))["meta"]
    assert (meta["cluster"], meta["canvas_markers"]) == (False, False)
    assert (meta["label_font"], meta["label_margin"]) == ("bold 12px sans-serif", 2)
    monkeypatch.setattr(maps, "CLUSTER_THRESHOLD", 2)
    meta = embedded_data(render(full(world, tiles="none")))["meta"]
    assert (meta["cluster"], meta["canvas_markers"]) == (True, False)


def test_canvas_markers_for_a_city(world: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(maps, "CLUSTER_THRESHOLD", 1)
    monkeypatch.setattr(maps, "CANVAS_MARKER_THRESHOLD", 2)  # 3 facilities: canvas circles
    meta = embedded_data(render(full(world, tiles="none")))["meta"]
    assert (meta["cluster"], meta["canvas_markers"]) == (False, True)


# --------------------------------------------------------------------------- errors
def test_error_unknown_tiles(world: dict[str, Any]) -> None:
    with pytest.raises(InputError, match="unknown tiles 'google'; use one of osm, cartodb, amap"):
        build_map(world["compounds"], tiles="google")


def test_error_unknown_lang(world: dict[str, Any]) -> None:
    with pytest.raises(InputError, match="unknown lang 'fr'; use 'zh' or 'en'"):
        build_map(world["compounds"], lang="fr")


def test_error_empty_compounds(world: dict[str, Any]) -> None:
    with pytest.raises(InputError, match="compounds: layer is empty"):
        build_map(world["compounds"].iloc[:0])


def test_error_missing_column(world: dict[str, Any]) -> None:
    with pytest.raises(InputError, match="compounds: missing column\\(s\\) households"):
        build_map(world["compounds"].drop(columns="households"))
    with pytest.raises(InputError, match="facilities: missing column\\(s\\) category"):
        build_map(world["compounds"], facilities=world["facilities"].drop(columns="category"))
    with pytest.raises(InputError, match="gaps: missing column\\(s\\) level"):
        build_map(world["compounds"], gaps=world["gaps"].drop(columns="level"))


def test_error_crs(world: dict[str, Any]) -> None:
    with pytest.raises(CRSError, match="compounds: layer has no CRS"):
        build_map(world["compounds"].set_crs(None, allow_override=True))
    with pytest.raises(CRSError, match="is geographic \\(degrees\\)"):
        build_map(world["compounds"].to_crs(4326))
    with pytest.raises(CRSError, match="parcels: layer has no CRS"):
        build_map(world["compounds"], parcels=world["parcels"].set_crs(None, allow_override=True))
    with pytest.raises(CRSError, match="streets: layer has no CRS"):
        build_map(world["compounds"], streets=world["streets"].set_crs(None, allow_override=True))
    with pytest.raises(CRSError, match="barriers: layer has no CRS"):
        build_map(world["compounds"], barriers=world["barriers"].set_crs(None, allow_override=True))


def test_district_label_points(zh_html: str) -> None:
    dist = {
        f["properties"]["i"]: f["properties"]
        for f in embedded_data(zh_html)["districts"]["features"]
    }
    tr = Transformer.from_crs(CRS, 4326, always_xy=True)
    lon, lat = tr.transform(
        X0 + 100, Y0 + 100
    )  # D1's centroid is the corner shared by its 4 compounds
    assert dist["D1"]["lp"] == [round(lat, 6), round(lon, 6)]
    # D2 is an L (C02 C12 C22 C21): its centroid (225, 175) lies inside C12
    lon2, lat2 = tr.transform(X0 + 225, Y0 + 175)
    assert dist["D2"]["lp"] == [round(lat2, 6), round(lon2, 6)]


# --------------------------------------------------------------------------- issue 9.13: sites in districts
def _district_sites(html: str) -> dict[str, Any]:
    return {
        f["properties"]["i"]: f["properties"]["st"]
        for f in embedded_data(html)["districts"]["features"]
    }


def test_idle_buildings_inside_compounds_with_district_column(world: dict[str, Any]) -> None:
    # The siting table carries its own district_id (as renogis.siting writes it): the join with
    # the districts used to suffix that column and crash with KeyError: 'district_id'.
    w = dict(world)
    p3 = box(X0 + 40, Y0 + 40, X0 + 60, Y0 + 60)  # an idle building inside C00 (D1)
    w["parcels"] = pd.concat(
        [
            world["parcels"],
            gpd.GeoDataFrame(
                {"parcel_id": ["P3"], "kind": ["idle_building"], "area_m2": [400.0]},
                geometry=[p3],
                crs=CRS,
            ),
        ],
        ignore_index=True,
    )
    w["siting"] = gpd.GeoDataFrame(
        {
            "parcel_id": ["P2", "P3", "P3"],
            "category": ["clinic", "kindergarten", "elderly_day_care"],
            "newly_covered_households": [150, 40.4, np.nan],
            "cumulative_coverage": [0.8, 0.9, 0.5],
            "district_id": ["D2", None, "D1"],  # P3's first row: the map finds D1 itself
        },
        geometry=[world["parcels"].geometry.iloc[1], p3, p3],
        crs=CRS,
    )
    comp = w.pop("compounds")
    html = render(build_map(comp, tiles="none", **w))
    data = embedded_data(html)
    assert {k: len(v["features"]) for k, v in data.items() if k != "meta"} == {
        "compounds": 9,
        "districts": 2,
        "parcels": 3,
        "facilities": 3,
        "service_areas": 2,
        "siting": 3,
        "streets": 5,
        "barriers": 2,
        "network_parts": 0,
    }
    # categories: kindergarten 0, elderly day care 1, clinic 2; households whole
    assert _district_sites(html) == {"D1": [["P3", 0, 40], ["P3", 1, None]], "D2": [["P2", 2, 150]]}


def test_compound_covering_all_others(world: dict[str, Any]) -> None:
    # One compound (its own district D3) covers the whole grid: every site lies in two districts.
    comp = pd.concat(
        [
            world["compounds"],
            gpd.GeoDataFrame(
                {"compound_id": ["CBIG"], "households": [500], "district_id": ["D3"]},
                geometry=[box(X0 - 5, Y0 - 5, X0 + 305, Y0 + 305)],
                crs=CRS,
            ),
        ],
        ignore_index=True,
    )
    w = {k: v for k, v in world.items() if k not in ("compounds", "districts")}
    html = render(build_map(comp, tiles="none", **w))  # districts dissolved from the compounds
    data = embedded_data(html)
    assert len(data["compounds"]["features"]) == 10 and len(data["districts"]["features"]) == 3
    # P2 lies in D2 and in D3: listed once, under the lowest id
    assert _district_sites(html) == {"D1": [], "D2": [["P2", 2, 150]], "D3": []}
    # the siting table's own district wins
    w["siting"] = world["siting"].assign(district_id=["D3"])
    assert _district_sites(render(build_map(comp, tiles="none", **w))) == {
        "D1": [],
        "D2": [],
        "D3": [["P2", 2, 150]],
    }


def test_pipeline_map_with_idle_buildings_inside_compounds(tmp_path: Path) -> None:
    # the crash of issue 9 (13) end to end: idle buildings inside five compound footprints
    from renogis.datasets.synthetic import make_sample
    from renogis.io import write_gpkg
    from renogis.pipeline import RunConfig, run

    s = make_sample()
    comp = s["compounds"]
    inside = gpd.GeoDataFrame(
        {
            "parcel_id": [f"PX{i}" for i in range(5)],
            "kind": "idle_building",
            "floor_area_m2": 800.0,
        },
        geometry=comp.geometry.iloc[:5].centroid.buffer(8, cap_style=3).to_numpy(),
        crs=comp.crs,
    )
    s["parcels"] = pd.concat([s["parcels"], inside], ignore_index=True)
    # and a lane that touches no other street: cut off from the walk network
    x1, y1 = s["streets"].total_bounds[2:]
    lane = s["streets"].iloc[[0]].assign(street_id="SX1", **{"class": "local"})
    lane = lane.set_geometry([shapely.LineString([(x1 + 200, y1), (x1 + 200, y1 - 150)])])
    s["streets"] = pd.concat([s["streets"], lane], ignore_index=True)
    src = tmp_path / "city.gpkg"
    write_gpkg(src, s)
    result = run(RunConfig(input=src, out=tmp_path / "out", tiles="none"))
    data = embedded_data((result.out / "map.html").read_text(encoding="utf-8"))
    plan = pd.read_csv(result.out / "siting_plan.csv", encoding="utf-8-sig", dtype=str)
    assert len(data["parcels"]["features"]) == len(s["parcels"]) == 14
    assert len(data["siting"]["features"]) == len(plan) > 0
    listed = sorted(
        (f["properties"]["i"], site[0])
        for f in data["districts"]["features"]
        for site in f["properties"]["st"]
    )
    assert listed == sorted(zip(plan["district_id"], plan["parcel_id"], strict=True))
    # the cut-off lane is the map's only network part, 150 m long
    assert [f["properties"] for f in data["network_parts"]["features"]] == [{"i": "SX1", "l": 150}]


def test_palette_constants_disjoint() -> None:
    from tests.outputs.test_map_browser import _delta_e

    assert len(maps.PALETTE) == len(set(maps.PALETTE)) == 9
    assert set(maps.PALETTE).isdisjoint(maps.OTHER_LAYER_COLORS)
    # CIELAB distance >= 20 to every other layer's colour and between palette colours
    assert min(_delta_e(a, b) for a in maps.PALETTE for b in maps.OTHER_LAYER_COLORS) >= 20
    pairs = [(a, b) for i, a in enumerate(maps.PALETTE) for b in maps.PALETTE[i + 1 :]]
    assert min(_delta_e(a, b) for a, b in pairs) >= 20
    assert {"#0072B2", "#D55E00", "#8C510A", "#6A3D9A", "#E7298A", "#555555"} <= set(
        maps.OTHER_LAYER_COLORS
    )
