"""XLSX writing for people: a small streaming writer (no openpyxl at write time).

Headers bold, numbers formatted by column (percent, whole numbers, decimals, years), widths fitted to
the text (CJK counted double), tables beyond Excel's row limit continued on further sheets.
"""

from __future__ import annotations

import logging
import re
import unicodedata
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from renogis.outputs import wording

logger = logging.getLogger(__name__)

__all__ = ["write_xlsx", "style_of", "XLSX_MAX_ROWS", "XLSX_MAX_CHARS"]

#: Excel's limits: rows per sheet (header included) and characters per cell.
XLSX_MAX_ROWS = 1_048_576
XLSX_MAX_CHARS = 32_767

_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG = "http://schemas.openxmlformats.org/package/2006/relationships"
_CT = "application/vnd.openxmlformats-officedocument.spreadsheetml"
_XML = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
# cell styles (index into cellXfs): 0 general, 1 bold header, 2 "#,##0", 3 "#,##0.00", 4 "0.0%", 5 "0"
_GENERAL, _HEADER, _INT, _DEC, _PCT, _PLAIN = range(6)
_STYLES = _XML + (
    f'<styleSheet xmlns="{_NS}"><numFmts count="1"><numFmt numFmtId="164" formatCode="0.0%"/></numFmts>'
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill '
    'patternType="gray125"/></fill></fills><borders count="1"><border><left/><right/><top/><bottom/>'
    '<diagonal/></border></borders><cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" '
    'borderId="0"/></cellStyleXfs><cellXfs count="6">'
    '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>'
    '<xf numFmtId="3" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="4" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="1" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '</cellXfs><cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    '</styleSheet>')
_ILLEGAL_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def style_of(column: str, values: pd.Series) -> int:
    """Number format for a canonical column: %, plain (years), whole numbers or decimals."""
    if column in wording.PERCENT_COLUMNS:
        return _PCT
    if values.dtype.kind == "b" or not pd.api.types.is_numeric_dtype(values):
        return _GENERAL
    if column in wording.PLAIN_NUMBER_COLUMNS:
        return _PLAIN
    num = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    num = num[np.isfinite(num)]
    return _INT if np.array_equal(num, np.round(num)) else _DEC


def _column_letter(j: int) -> str:
    letters = ""
    j += 1
    while j:
        j, r = divmod(j - 1, 26)
        letters = chr(65 + r) + letters
    return letters


def _escape_text(text: str) -> str:
    """XML-escape one string; control characters that XML forbids are dropped."""
    text = _ILLEGAL_XML.sub("", text)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _display_width(text: str) -> int:
    """Columns a text takes in Excel: CJK characters count twice."""
    if text.isascii():
        return len(text)
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _is_bool_column(values: pd.Series) -> bool:
    if values.dtype.kind == "b" or str(values.dtype) == "boolean":
        return True
    if values.dtype.kind != "O":
        return False
    present = values.dropna()
    return len(present) > 0 and all(isinstance(v, (bool, np.bool_)) for v in present.unique())


class _Column:
    """One column prepared for writing: its kind, values as Python objects, width, style."""

    def __init__(self, name: str, values: pd.Series, style: int, strings: dict[str, int],
                 notes: list[str]) -> None:
        self.name = name
        self.style = style
        values = values.reset_index(drop=True)
        if _is_bool_column(values):
            self.kind = "b"
            ok = values.notna().to_numpy()
            self.values = np.where(ok, values.fillna(False).astype(bool).to_numpy(), None).tolist()
            self.ok = ok.tolist()
            self.width = 5
        elif pd.api.types.is_numeric_dtype(values):
            self.kind = "n"
            num = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
            ok = np.isfinite(num)
            whole = ok & (num == np.round(num)) & (np.abs(num) < 2**53)
            # whole numbers as integers ("3000", not "3000.0"); others by repr (shortest exact text)
            self.values = [repr(int(v)) if w else repr(float(v))
                           for v, w in zip(num.tolist(), whole.tolist(), strict=True)]
            self.ok = ok.tolist()
            finite = num[ok]
            big = float(np.abs(finite).max()) if len(finite) else 0.0
            digits = len(f"{big:,.0f}") + (0 if style in (_INT, _PLAIN) else 3)
            self.width = digits + (1 if (finite < 0).any() else 0)
        else:
            self.kind = "s"
            values.notna().to_numpy()
            # factorise the column as it is (an Arrow-backed str column is never copied into
            # Python strings row by row): each distinct text is escaped and measured once
            codes, uniques = pd.factorize(values, sort=False, use_na_sentinel=True)
            texts = [str(u) for u in uniques]
            long = [i for i, t in enumerate(texts) if len(t) > XLSX_MAX_CHARS]
            if long:
                n_cells = int(np.isin(codes, long).sum())
                notes.append(f"column {name}: {n_cells} cells longer than Excel's {XLSX_MAX_CHARS:,} "
                             "characters cut (the CSV holds the full text)")
                for i in long:
                    texts[i] = texts[i][: XLSX_MAX_CHARS - 1] + "…"
            # an empty text is an empty cell, as in the CSV
            index = [strings.setdefault(t, len(strings)) if t else -1 for t in texts]
            lookup = np.array(index + [-1], dtype=np.int64)
            self.values = lookup[codes].tolist()  # codes of missing values are -1: the sentinel
            self.ok = (lookup[codes] >= 0).tolist()
            self.width = max((_display_width(t) for t in texts[:5000]), default=0)
        self.width = max(self.width, _display_width(name))

    def cells(self, letter: str, start: int, stop: int, first_row: int) -> list[str]:
        """The ``<c>`` elements of rows ``start:stop`` (sheet rows from ``first_row``); missing give ""."""
        s = f' s="{self.style}"' if self.style else ""
        vals = self.values[start:stop]
        oks = self.ok[start:stop]
        rows = range(first_row, first_row + len(vals))
        if self.kind == "n":
            return [f'<c r="{letter}{r}"{s}><v>{v}</v></c>' if ok else ""
                    for r, v, ok in zip(rows, vals, oks, strict=False)]
        if self.kind == "b":
            return [f'<c r="{letter}{r}" t="b"><v>{int(v)}</v></c>' if ok else ""
                    for r, v, ok in zip(rows, vals, oks, strict=False)]
        return [f'<c r="{letter}{r}" t="s"><v>{v}</v></c>' if ok else ""
                for r, v, ok in zip(rows, vals, oks, strict=False)]


def _sheet_names(name: str, n: int) -> list[str]:
    """``name``, ``name (2)``, ... each at most 31 characters without the characters Excel forbids."""
    base = re.sub(r"[\[\]:*?/\\]", "_", name).strip("'") or "table"
    out = []
    for i in range(n):
        suffix = f" ({i + 1})" if i else ""
        out.append(base[: 31 - len(suffix)] + suffix)
    return out


def write_xlsx(
    table: pd.DataFrame,
    out: str | Path,
    *,
    sheet_name: str = "table",
    styles: Mapping[str, int] | None = None,
    max_rows: int = XLSX_MAX_ROWS,
) -> Path:
    """Write ``table`` as an XLSX workbook, SpreadsheetML built directly, one row chunk at a time.

    The header is bold and frozen, columns are sized to their content, numbers keep
    their type with a number format (thousands, decimals, %), booleans stay booleans and
    text goes to the shared-string table. Rows beyond Excel's 1,048,576 per sheet go to
    further sheets ``name (2)``, ``name (3)``, ... (each with the header; logged as a
    warning); text longer than a cell holds (32,767 characters) is cut with a warning.

    Parameters
    ----------
    table : pandas.DataFrame
        The table as people read it (headers already worded).
    out : str or Path
        The ``.xlsx`` file.
    sheet_name : str
        Name of the (first) sheet.
    styles : mapping of str to int, optional
        Header -> cell style (see ``_style_of``); default by dtype.
    max_rows : int
        Rows per sheet including the header (Excel: 1,048,576).

    Returns
    -------
    Path
    """
    out = Path(out)
    n = len(table)
    per_sheet = max_rows - 1
    n_sheets = max(1, -(-n // per_sheet))
    names = _sheet_names(sheet_name, n_sheets)
    strings: dict[str, int] = {}
    notes: list[str] = []
    columns = [_Column(str(col), table.iloc[:, j], _style(styles, str(col), table.iloc[:, j]), strings, notes)
               for j, col in enumerate(table.columns)]
    if n_sheets > 1:
        notes.append(f"{n:,} rows exceed Excel's {max_rows - 1:,} data rows per sheet: split over sheets "
                     + ", ".join(names))
    for note in notes:
        logger.warning("%s: %s", out.name, note)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        _write_workbook_parts(zf, names)
        for i in range(n_sheets):
            with zf.open(f"xl/worksheets/sheet{i + 1}.xml", "w") as fh:
                _write_sheet(fh, columns, i * per_sheet, min(n, (i + 1) * per_sheet), selected=i == 0)
        with zf.open("xl/sharedStrings.xml", "w") as fh:
            fh.write((_XML + f'<sst xmlns="{_NS}" count="{len(strings)}" uniqueCount="{len(strings)}">'
                      ).encode("utf-8"))
            items = list(strings)
            for s in range(0, len(items), 50_000):
                fh.write("".join(f'<si><t xml:space="preserve">{_escape_text(t)}</t></si>'
                                 for t in items[s:s + 50_000]).encode("utf-8"))
            fh.write(b"</sst>")
    return out


def _style(styles: Mapping[str, int] | None, header: str, values: pd.Series) -> int:
    style = (styles or {}).get(header)
    return style_of(header, values) if style is None else style


def _write_workbook_parts(zf: zipfile.ZipFile, names: list[str]) -> None:
    """Content types, relationships, styles and the workbook (its sheet list)."""
    k = len(names)
    ct = "".join(f'<Override PartName="/xl/worksheets/sheet{i + 1}.xml" ContentType="{_CT}.worksheet+xml"/>'
                 for i in range(k))
    rels = "".join(f'<Relationship Id="rId{i + 1}" Type="{_REL}/worksheet" '
                   f'Target="worksheets/sheet{i + 1}.xml"/>' for i in range(k))
    sheets = "".join(f'<sheet name="{_escape_text(nm)}" sheetId="{i + 1}" r:id="rId{i + 1}"/>'
                     for i, nm in enumerate(names))
    zf.writestr("[Content_Types].xml", _XML + (
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" '
        'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        f'<Override PartName="/xl/workbook.xml" ContentType="{_CT}.sheet.main+xml"/>{ct}'
        f'<Override PartName="/xl/styles.xml" ContentType="{_CT}.styles+xml"/>'
        f'<Override PartName="/xl/sharedStrings.xml" ContentType="{_CT}.sharedStrings+xml"/></Types>'))
    zf.writestr("_rels/.rels", _XML + (
        f'<Relationships xmlns="{_PKG}"><Relationship Id="rId1" Type="{_REL}/officeDocument" '
        'Target="xl/workbook.xml"/></Relationships>'))
    zf.writestr("xl/_rels/workbook.xml.rels", _XML + (
        f'<Relationships xmlns="{_PKG}">{rels}<Relationship Id="rId{k + 1}" Type="{_REL}/styles" '
        f'Target="styles.xml"/><Relationship Id="rId{k + 2}" Type="{_REL}/sharedStrings" '
        'Target="sharedStrings.xml"/></Relationships>'))
    zf.writestr("xl/styles.xml", _STYLES)
    zf.writestr("xl/workbook.xml", _XML + (
        f'<workbook xmlns="{_NS}" xmlns:r="{_REL}"><sheets>{sheets}</sheets></workbook>'))


def _write_sheet(fh: Any, columns: list[_Column], lo: int, hi: int, *, selected: bool) -> None:
    """Rows ``lo:hi`` of the table as one worksheet (bold frozen header, sized columns), in chunks."""
    letters = [_column_letter(j) for j in range(len(columns))]
    header_cells = "".join(
        f'<c r="{letter}1" t="inlineStr" s="{_HEADER}"><is><t>{_escape_text(c.name)}</t></is></c>'
        for letter, c in zip(letters, columns, strict=False))
    cols_xml = "".join(f'<col min="{j + 1}" max="{j + 1}" width="{min(max(c.width, 6) + 2, 60)}" '
                       'customWidth="1"/>' for j, c in enumerate(columns))
    last_col = letters[-1] if letters else "A"
    last_row = max(hi - lo + 1, 1)
    fh.write((_XML + (
        f'<worksheet xmlns="{_NS}" xmlns:r="{_REL}"><dimension ref="A1:{last_col}{last_row}"/>'
        '<sheetViews><sheetView workbookViewId="0"'
        + (' tabSelected="1"' if selected else "") +
        '><pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
        '<selection pane="bottomLeft"/></sheetView></sheetViews>'
        '<sheetFormatPr defaultRowHeight="15"/>'
        + (f"<cols>{cols_xml}</cols>" if cols_xml else "")
        + f'<sheetData><row r="1">{header_cells}</row>')).encode("utf-8"))
    chunk = 20_000
    for start in range(lo, hi, chunk):
        stop = min(start + chunk, hi)
        first = start - lo + 2
        parts = [c.cells(letter, start, stop, first) for c, letter in zip(columns, letters, strict=True)]
        text = "".join(
            f'<row r="{r}">' + "".join(cells) + "</row>"
            for r, *cells in zip(range(first, first + stop - start), *parts, strict=False))
        fh.write(text.encode("utf-8"))
    fh.write(b"</sheetData></worksheet>")
