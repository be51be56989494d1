"""Tables: canonical CSV with BOM, worded XLSX read back by openpyxl, Excel's limits."""

from __future__ import annotations

import numpy as np
import openpyxl
import pandas as pd
import pytest

from renogis.outputs.tables import write_table


def test_xlsx_and_csv_round_trip(tmp_path):
    df = pd.DataFrame({
        "小区名称": ["幸福里", "a<&>b\x01", None],
        "distance_m": [12.5, np.nan, np.inf],
        "households": [120, 0, 3_000],
        "within_radius": [True, False, True],
        "share": [1 / 3, -0.25, 2.0],
        "opt": pd.array([1, None, 3], dtype="Int64"),
    })
    files = write_table(df, tmp_path / "t.csv", sheet_name="gaps")
    assert [p.name for p in files] == ["t.csv", "t.xlsx"]
    assert (tmp_path / "t.csv").read_bytes().startswith(b"\xef\xbb\xbf")  # BOM: Excel shows Chinese
    wb = openpyxl.load_workbook(tmp_path / "t.xlsx")
    ws = wb.active
    assert ws.title == "gaps" and ws.freeze_panes == "A2" and ws["A1"].font.b
    rows = [[c.value for c in r] for r in ws.iter_rows()]
    assert rows[0] == ["小区名称", "distance_m", "households", "within_radius", "share", "opt"]
    assert rows[1] == ["幸福里", 12.5, 120, True, 1 / 3, 1]
    assert rows[2] == ["a<&>b", None, 0, False, -0.25, None]  # control character dropped, text escaped
    assert rows[3] == [None, None, 3000, True, 2, 3]  # inf is not a number Excel can hold: empty
    assert ws.dimensions == "A1:F4"
    # number formats: whole numbers with thousands separators, decimals with two places
    assert ws["C2"].number_format == "#,##0" and ws["B2"].number_format == "#,##0.00"
    # widths: CJK counts double; header width at least
    assert ws.column_dimensions["A"].width == 10  # "小区名称" = 8 columns (CJK double), +2
    assert ws.column_dimensions["C"].width == 12  # "households" = 10, +2


def test_csv_canonical_and_xlsx_worded_under_both_languages(tmp_path):
    df = pd.DataFrame({
        "district_id": ["D001", "D002"],
        "households": [1200, 4100],
        "flags": ["below_min", "above_max;keep_together"],
        "category": ["nursery", "kindergarten"],
        "demand_unit": ["places", "m2"],
        "coverage_share": [0.5, 0.25],
        "within_radius": [True, False],
        "level": ["compound", "district"],
    })
    for lang in ("zh", "en"):
        write_table(df, tmp_path / lang / "t", lang=lang) if (tmp_path / lang).mkdir() is None else None
    zh_csv = (tmp_path / "zh" / "t.csv").read_bytes()
    assert zh_csv == (tmp_path / "en" / "t.csv").read_bytes()
    assert zh_csv.decode("utf-8-sig").splitlines()[0] == (
        "district_id,households,flags,category,demand_unit,coverage_share,within_radius,level")
    ws = openpyxl.load_workbook(tmp_path / "zh" / "t.xlsx").active
    rows = [[c.value for c in r] for r in ws.iter_rows()]
    assert rows == [
        ["片区编号", "户数", "标记", "设施类别", "计量单位", "覆盖率", "半径内", "统计层级"],
        ["D001", 1200, "低于户数下限", "托儿所", "个", 0.5, "是", "小区"],
        ["D002", 4100, "超过户数上限；含指定合并组", "幼儿园", "平方米", 0.25, "否", "片区"],
    ]
    assert ws["F2"].number_format == "0.0%"
    en = [[c.value for c in r] for r in openpyxl.load_workbook(tmp_path / "en" / "t.xlsx").active.iter_rows()]
    assert en[0] == ["District", "Households", "Flags", "Category", "Unit of demand", "Coverage",
                     "Within radius", "Level"]
    assert en[2] == ["D002", 4100, "above maximum households; keeps a planner's group together",
                     "Kindergarten", "m²", 0.25, "no", "district"]


def test_unknown_lang_refused(tmp_path):
    from renogis._errors import InputError

    with pytest.raises(InputError, match="unknown language 'fr'; use 'zh' or 'en'"):
        write_table(pd.DataFrame({"a": [1]}), tmp_path / "t", lang="fr")
    assert not list(tmp_path.iterdir())
