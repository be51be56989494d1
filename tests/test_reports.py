"""Tables: CSV with BOM and the vectorised XLSX writer read back by openpyxl."""

from __future__ import annotations

import numpy as np
import openpyxl
import pandas as pd
import pytest

from renogis.reports import _number_text, write_table


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
    ws = openpyxl.load_workbook(tmp_path / "t.xlsx").active
    assert ws.title == "gaps" and ws.freeze_panes == "A2" and ws["A1"].font.b
    rows = [[c.value for c in r] for r in ws.iter_rows()]
    assert rows[0] == ["小区名称", "distance_m", "households", "within_radius", "share", "opt"]
    assert rows[1] == ["幸福里", 12.5, 120, True, pytest.approx(0.333333), 1]
    assert rows[2] == ["a<&>b", None, 0, False, -0.25, None]  # control character dropped, text escaped
    assert rows[3] == [None, None, 3000, True, 2, 3]  # inf is not a number Excel can hold: empty


def test_number_text():
    out = _number_text(np.array([1.5, -0.25, 1e-7, -2.000001, 123456.7]))
    assert out.tolist() == ["1.5", "-0.25", "0", "-2.000001", "123456.7"]
    assert _number_text(np.array([1.0, -2.0])).tolist() == ["1", "-2"]
    assert _number_text(np.array([1e300])).tolist() == ["1e+300"]
