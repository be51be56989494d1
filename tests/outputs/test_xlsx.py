"""The XLSX writer: dimensions, Excel's row and cell limits, shared strings."""

from __future__ import annotations

import zipfile

import numpy as np
import openpyxl
import pandas as pd

from renogis.outputs.tables import write_table
from renogis.outputs.xlsx import write_xlsx


def test_xlsx_dimension_element_present(tmp_path):
    write_table(pd.DataFrame({"a": [1, 2]}), tmp_path / "t", formats=("xlsx",))
    with zipfile.ZipFile(tmp_path / "t.xlsx") as zf:
        xml = zf.read("xl/worksheets/sheet1.xml").decode()
    assert '<dimension ref="A1:A3"/>' in xml


def test_xlsx_row_limit_splits_into_sheets(tmp_path, caplog):
    df = pd.DataFrame({"id": [f"C{i}" for i in range(7)], "v": range(7)})
    write_xlsx(df, tmp_path / "t.xlsx", sheet_name="gaps", max_rows=4)  # 3 data rows per sheet
    wb = openpyxl.load_workbook(tmp_path / "t.xlsx")
    assert wb.sheetnames == ["gaps", "gaps (2)", "gaps (3)"]
    got = [[c.value for c in r] for ws in wb for r in ws.iter_rows()]
    assert got == [["id", "v"], ["C0", 0], ["C1", 1], ["C2", 2],
                   ["id", "v"], ["C3", 3], ["C4", 4], ["C5", 5],
                   ["id", "v"], ["C6", 6]]
    assert "7 rows exceed Excel's 3 data rows per sheet: split over sheets gaps, gaps (2), gaps (3)" in (
        caplog.text)


def test_xlsx_cell_limit_cuts_with_warning(tmp_path, caplog):
    long = "长" * 40_000
    df = pd.DataFrame({"name": [long, "x", long]})
    write_xlsx(df, tmp_path / "t.xlsx")
    ws = openpyxl.load_workbook(tmp_path / "t.xlsx").active
    assert len(ws["A2"].value) == 32_767 and ws["A2"].value.endswith("…") and ws["A3"].value == "x"
    assert "column name: 2 cells longer than Excel's 32,767 characters cut (the CSV holds the full text)" in (
        caplog.text)


def test_xlsx_long_repeated_text_stays_small(tmp_path):
    """One 5,000-character text in 50,000 rows: one shared string, no fixed-width copies."""
    import tracemalloc

    df = pd.DataFrame({"note": ["x" * 5000] * 50_000, "n": np.arange(50_000)})
    tracemalloc.start()
    write_xlsx(df, tmp_path / "t.xlsx")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 100 * 2**20  # a fixed-width '<U5000' copy alone would be 1 GB
    with zipfile.ZipFile(tmp_path / "t.xlsx") as zf:
        sst = zf.read("xl/sharedStrings.xml").decode()
    assert sst.count("<si>") == 1
