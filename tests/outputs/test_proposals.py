"""Proposal sheets (zh / en) and district output files."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from renogis._errors import InputError
from renogis.adjacency import build_adjacency
from renogis.districting import DistrictResult, propose_districts
from renogis.outputs.proposals import proposal_sheets, write_district_outputs

CRS = "EPSG:4548"
X0, Y0 = 527_000.0, 3_853_000.0


def box(x0: float, y0: float, x1: float, y1: float) -> shapely.Polygon:
    return shapely.box(X0 + x0, Y0 + y0, X0 + x1, Y0 + y1)


@pytest.fixture(scope="module")
def result() -> DistrictResult:
    # two 1,200 m x 50 m compounds sharing a 1,200 m wall; one 3,400 m2 idle parcel at the east end
    c = gpd.GeoDataFrame(
        {
            "compound_id": ["GH1", "GH2"],
            "name": ["国豪美都一区", "国豪美都二区"],
            "households": [900, 859],
            "buildings": [20, 23],
            "floor_area_m2": [90_000.0, 76_500.0],
            "built_year": [1995, 1998],
            "subdistrict": ["学城街道", "学城街道"],
        },
        geometry=[box(0, 0, 1200, 50), box(0, 50, 1200, 100)],
        crs=CRS,
    )
    p = gpd.GeoDataFrame(
        {"parcel_id": ["P7"], "kind": ["vacant_land"], "area_m2": [3400.0]},
        geometry=[box(1200, 0, 1234, 100)],
        crs=CRS,
    )
    return propose_districts(c, build_adjacency(c, parcels=p), parcels=p)


def test_sheet_zh(result: DistrictResult) -> None:
    sheets = proposal_sheets(result)
    assert list(sheets) == ["D001"]
    assert sheets["D001"] == "\n".join(
        [
            "# 片区 D001（学城街道）",
            "",
            "2 个小区、43 栋楼、1,759 户、建筑面积 16.65万 m²；需打通围墙 1.2 km；统筹闲置地块 1 处（3,400 m²）",  # noqa: E501
            "",
            "标记：无",
            "",
            "## 划定理由",
            "",
            "2 个相邻小区沿 1.2 km 共享围墙合并；户数 1,759 在 1,500–4,000 之间",
            "",
            "## 成员小区",
            "",
            "| 小区编号 | 名称 | 户数 | 楼栋 | 建筑面积 (m²) | 建成年份 |",
            "|---|---|---|---|---|---|",
            "| GH1 | 国豪美都一区 | 900 | 20 | 90,000 | 1995 |",
            "| GH2 | 国豪美都二区 | 859 | 23 | 76,500 | 1998 |",
            "",
            "## 需打通的围墙",
            "",
            "| 小区 | 小区 | 围墙长度 (m) |",
            "|---|---|---|",
            "| GH1 | GH2 | 1,200 |",
            "",
        ]
    )


def test_sheet_en_with_extra_lines(result: DistrictResult) -> None:
    sheets = proposal_sheets(result, lang="en", extra_lines={"D001": ["Missing: nursery (托儿所)"]})
    lines = sheets["D001"].splitlines()
    assert lines[0] == "# District D001 (学城街道)"
    assert lines[2] == (
        "2 compounds, 43 buildings, 1,759 households, 166,500 m² of floor area; "
        "1.2 km of walls to open; pools 1 idle parcel (3,400 m²)"
    )
    assert lines[4] == "Flags: none"
    assert lines[8] == (
        "2 adjacent compounds merged along 1,200 m of shared walls; 1,759 households within 1,500-4,000"  # noqa: E501
    )
    assert lines[-3:] == ["## Further notes", "", "- Missing: nursery (托儿所)"]


def test_sheet_errors(result: DistrictResult) -> None:
    with pytest.raises(InputError, match="lang must be one of zh, en, got 'fr'"):
        proposal_sheets(result, lang="fr")
    with pytest.raises(InputError, match="extra_lines: unknown district ids: D999"):
        proposal_sheets(result, extra_lines={"D999": ["x"]})


def test_below_min_sheet_zh() -> None:
    c = gpd.GeoDataFrame(
        {"compound_id": ["A"], "households": [600]}, geometry=[box(0, 0, 100, 100)], crs=CRS
    )
    res = propose_districts(c, build_adjacency(c))
    text = proposal_sheets(res)["D001"]
    assert text.splitlines()[2] == "1 个小区、600 户；无需打通围墙"
    assert "户数 600 低于下限 1,500：所在连通组团共仅 600 户" in text
    assert "| A | — | 600 | — | — | — |" in text


def test_write_district_outputs(result: DistrictResult, tmp_path) -> None:  # type: ignore[no-untyped-def]
    files = write_district_outputs(result, tmp_path / "out", lang="zh")
    names = sorted(p.relative_to(tmp_path / "out").as_posix() for p in files)
    assert names == [
        "districts.csv",
        "districts.gpkg",
        "districts.xlsx",
        "proposals/D001.md",
        "proposals/index.md",
    ]
    d = gpd.read_file(tmp_path / "out" / "districts.gpkg", layer="districts")
    assert d["district_id"].tolist() == ["D001"]
    assert d["households"].tolist() == [1759]
    assert round(d.geometry.area.iloc[0], 3) == 120_000.0
    comp = gpd.read_file(tmp_path / "out" / "districts.gpkg", layer="compounds")
    assert comp["district_id"].tolist() == ["D001", "D001"]
    raw = (tmp_path / "out" / "districts.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    table = pd.read_csv(tmp_path / "out" / "districts.csv", encoding="utf-8-sig")
    assert table["compound_ids"].tolist() == ["GH1,GH2"]
    assert table["wall_m"].tolist() == [1200.0]
    index = (tmp_path / "out" / "proposals" / "index.md").read_text(encoding="utf-8")
    assert "| [D001](D001.md) | 2 | 1,759 | 1.2 km | 3,400 |  |" in index
    assert index.startswith("# 片区划定建议\n\n1 个片区，2 个小区参与，0 个小区被排除。")
