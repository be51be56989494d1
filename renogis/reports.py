"""Tables and run provenance: CSV with BOM (Excel shows Chinese), XLSX, run.json.

Two audiences: the CSV is for scripts and always carries the canonical columns and
codes of :mod:`renogis.schema`; the XLSX is for people and follows ``lang``
(headers, codes, flags, units, see :mod:`renogis.wording`). Every CSV goes through
:func:`write_csv`, the one place that turns a frame into CSV text.
"""

from __future__ import annotations

import hashlib
import json
import logging
import platform
import re
import unicodedata
import zipfile
from collections.abc import Iterable, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from renogis import wording
from renogis._inert import csv_safe

logger = logging.getLogger(__name__)

__all__ = ["write_table", "write_csv", "write_xlsx", "file_sha256", "library_versions", "write_run_json",
           "XLSX_MAX_ROWS", "XLSX_MAX_CHARS"]

#: Excel's limits: rows per sheet (header included) and characters per cell.
XLSX_MAX_ROWS = 1_048_576
XLSX_MAX_CHARS = 32_767


def write_csv(df: pd.DataFrame, path: str | Path) -> Path:
    """Write ``df`` as CSV in UTF-8 with BOM (Excel shows Chinese); the one CSV choke point.

    Missing values are empty cells; the geometry column, if any, is dropped.
    """
    out = Path(path)
    table = pd.DataFrame(df.drop(columns=[c for c in df.columns if c == "geometry"]))
    # CSV is the one format a spreadsheet evaluates: no cell may start a formula.
    csv_safe(table).to_csv(out, index=False, encoding="utf-8-sig")
    return out


def write_table(
    df: pd.DataFrame,
    path: str | Path,
    *,
    formats: Iterable[str] = ("csv", "xlsx"),
    sheet_name: str = "table",
    lang: str | None = None,
    replace: Mapping[str, pd.Series] | None = None,
) -> list[Path]:
    """Write ``df`` as ``path.csv`` (canonical, UTF-8 with BOM) and/or ``path.xlsx`` (for people).

    Geometry columns are dropped: tables carry attributes only.

    Parameters
    ----------
    df : pandas.DataFrame
        The table with canonical columns. A GeoDataFrame loses its geometry column.
    path : str or Path
        Output path without suffix (a suffix, if given, is replaced).
    formats : iterable of {"csv", "xlsx"}
        Which files to write.
    sheet_name : str
        Sheet name in the XLSX file (at most 31 characters).
    lang : {"zh", "en"}, optional
        Language of the XLSX (headers, codes, flags, units); None keeps the
        canonical names there too. The CSV is canonical whatever ``lang``.
    replace : mapping of str to Series, optional
        Columns already worded in ``lang`` for the XLSX (see
        :func:`renogis.wording.localise_table`).

    Returns
    -------
    list of Path
        The files written.
    """
    base = Path(path)
    if base.suffix in (".csv", ".xlsx"):
        base = base.with_suffix("")
    if lang is not None:
        wording.check_lang(lang)
    table = pd.DataFrame(df.drop(columns=[c for c in df.columns if c == "geometry"]))
    written = []
    for fmt in formats:
        out = base.with_suffix(f".{fmt}")
        if fmt == "csv":
            write_csv(table, out)
        elif fmt == "xlsx":
            human = table if lang is None else wording.localise_table(table, lang, replace=replace)
            styles = {label: _style_of(col, table[col])
                      for col, label in zip(table.columns, human.columns, strict=True)}
            write_xlsx(human, out, sheet_name=sheet_name, styles=styles)
        else:
            raise ValueError(f"unknown table format {fmt!r}; use 'csv' or 'xlsx'")
        written.append(out)
    logger.info("wrote %d rows to %s", len(table), ", ".join(p.name for p in written))
    return written


# --------------------------------------------------------------------------- XLSX
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


def _style_of(column: str, values: pd.Series) -> int:
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
    headers = [str(c) for c in table.columns]
    columns = []
    for j, col in enumerate(table.columns):
        vals = table.iloc[:, j]
        style = (styles or {}).get(str(col))
        if style is None:
            style = _style_of(str(col), vals)
        columns.append(_Column(headers[j], vals, style, strings, notes))
    letters = [_column_letter(j) for j in range(len(columns))]
    if n_sheets > 1:
        notes.append(f"{n:,} rows exceed Excel's {max_rows - 1:,} data rows per sheet: split over sheets "
                     + ", ".join(names))
    for note in notes:
        logger.warning("%s: %s", out.name, note)
    header_cells = "".join(
        f'<c r="{letter}1" t="inlineStr" s="{_HEADER}"><is><t>{_escape_text(h)}</t></is></c>'
        for letter, h in zip(letters, headers, strict=False))
    cols_xml = "".join(f'<col min="{j + 1}" max="{j + 1}" width="{min(max(c.width, 6) + 2, 60)}" '
                       'customWidth="1"/>' for j, c in enumerate(columns))
    last_col = letters[-1] if letters else "A"
    ct = "".join(f'<Override PartName="/xl/worksheets/sheet{i + 1}.xml" ContentType="{_CT}.worksheet+xml"/>'
                 for i in range(n_sheets))
    rels = "".join(f'<Relationship Id="rId{i + 1}" Type="{_REL}/worksheet" '
                   f'Target="worksheets/sheet{i + 1}.xml"/>' for i in range(n_sheets))
    sheets = "".join(f'<sheet name="{_escape_text(nm)}" sheetId="{i + 1}" r:id="rId{i + 1}"/>'
                     for i, nm in enumerate(names))
    k = n_sheets
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
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
        for i in range(n_sheets):
            lo, hi = i * per_sheet, min(n, (i + 1) * per_sheet)
            last_row = max(hi - lo + 1, 1)
            with zf.open(f"xl/worksheets/sheet{i + 1}.xml", "w") as fh:
                fh.write((_XML + (
                    f'<worksheet xmlns="{_NS}" xmlns:r="{_REL}"><dimension ref="A1:{last_col}{last_row}"/>'
                    '<sheetViews><sheetView workbookViewId="0"'
                    + (' tabSelected="1"' if i == 0 else "") +
                    '><pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
                    '<selection pane="bottomLeft"/></sheetView></sheetViews>'
                    '<sheetFormatPr defaultRowHeight="15"/>'
                    + (f"<cols>{cols_xml}</cols>" if cols_xml else "")
                    + f'<sheetData><row r="1">{header_cells}</row>')).encode("utf-8"))
                chunk = 20_000
                for start in range(lo, hi, chunk):
                    stop = min(start + chunk, hi)
                    first = start - lo + 2
                    parts = [c.cells(letter, start, stop, first)
                             for c, letter in zip(columns, letters, strict=True)]
                    text = "".join(
                        f'<row r="{r}">' + "".join(cells) + "</row>"
                        for r, *cells in zip(range(first, first + stop - start), *parts, strict=False))
                    fh.write(text.encode("utf-8"))
                fh.write(b"</sheetData></worksheet>")
        with zf.open("xl/sharedStrings.xml", "w") as fh:
            fh.write((_XML + f'<sst xmlns="{_NS}" count="{len(strings)}" uniqueCount="{len(strings)}">'
                      ).encode("utf-8"))
            items = list(strings)
            for s in range(0, len(items), 50_000):
                fh.write("".join(f'<si><t xml:space="preserve">{_escape_text(t)}</t></si>'
                                 for t in items[s:s + 50_000]).encode("utf-8"))
            fh.write(b"</sst>")
    return out


def file_sha256(path: str | Path, *, chunk: int = 1 << 20) -> str:
    """Return the SHA-256 hex digest of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def library_versions() -> dict[str, str]:
    """Versions of renogis, Python and the libraries whose behaviour shapes the results."""
    names = ["renogis", "geopandas", "shapely", "pyproj", "pyogrio", "fiona", "folium",
             "networkx", "numpy", "pandas", "scipy", "highspy"]
    out = {"python": platform.python_version()}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    try:
        import shapely

        out["geos"] = shapely.geos_version_string
    except Exception:  # pragma: no cover - shapely is a hard dependency
        pass
    try:
        import pyproj

        out["proj"] = pyproj.proj_version_str
    except Exception:  # pragma: no cover
        pass
    return out


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item"):  # numpy scalar
        return value.item()
    return value


def write_run_json(path: str | Path, record: Mapping[str, Any]) -> Path:
    """Write the run provenance record as pretty JSON (UTF-8, Chinese kept readable)."""
    out = Path(path)
    out.write_text(json.dumps(_jsonable(record), ensure_ascii=False, indent=2), encoding="utf-8")
    return out


def gap_lines(gaps: pd.DataFrame, *, standards: Any, lang: str = "zh") -> dict[str, list[str]]:
    """Per district, one line per category whose households are not all covered after merging.

    Lines for the district proposal sheets, e.g.
    ``"托儿所 (300 m): 1,200 of 1,759 households uncovered after merging (before: 1,450)"``,
    after a first line saying what "after merging" means (walked through the opened walls);
    a category without data gets a "no data" line instead of figures.

    Parameters
    ----------
    gaps : pandas.DataFrame
        The table of :func:`renogis.access.compute_gaps` (English column names).
    standards : Standards
        For the category names and radii.
    lang : {"zh", "en"}
    """
    from renogis import access as acc

    if gaps is None or not len(gaps):
        return {}
    d = gaps[gaps[acc.LEVEL] == acc.LEVEL_DISTRICT]
    out: dict[str, list[str]] = {}
    for row in d.itertuples(index=False):
        rec = row._asdict()
        cat = rec[acc.CATEGORY]
        rule = standards.categories.get(cat)
        name = (rule.name_zh if lang == "zh" else rule.name_en) if rule is not None else cat
        radius = (f"{rule.radius_m:,.0f} 米" if lang == "zh" else f"{rule.radius_m:,.0f} m") if (
            rule is not None) else ""
        if rec.get(acc.DATA_STATUS) == acc.METHOD_NO_DATA:
            out.setdefault(str(rec[acc.UNIT_ID]), []).append(
                f"{name}（{radius}）：无数据（缺少设施图层或标记为无数据），不计覆盖与缺口" if lang == "zh"
                else f"{name} ({radius}): no data (no facilities layer, or marked as not recorded); "
                "no coverage or shortfall given")
            continue
        unc_after = rec.get(acc.UNCOVERED_HOUSEHOLDS_MERGED)
        if unc_after is None or pd.isna(unc_after) or unc_after <= 0:
            continue
        hh = rec[acc.HOUSEHOLDS]
        before = rec.get(acc.UNCOVERED_HOUSEHOLDS)
        short = rec.get(acc.SHORTFALL)
        if lang == "zh":
            line = (f"{name}（{radius}）：{hh:,.0f} 户中 {unc_after:,.0f} 户统筹后仍未覆盖（统筹前 {before:,.0f} 户）")
            if short is not None and not pd.isna(short) and short > 0:
                unit = wording.value_label(acc.DEMAND_UNIT, rec.get(acc.DEMAND_UNIT) or "", "zh")
                line += f"，缺口 {short:,.0f} {unit}".rstrip()
        else:
            line = (f"{name} ({radius}): {unc_after:,.0f} of {hh:,.0f} households uncovered after merging "
                    f"(before: {before:,.0f})")
            if short is not None and not pd.isna(short) and short > 0:
                unit = wording.value_label(acc.DEMAND_UNIT, rec.get(acc.DEMAND_UNIT) or "", "en")
                line += f", shortfall {short:,.0f} {unit}".rstrip()
        out.setdefault(str(rec[acc.UNIT_ID]), []).append(line)
    note = ("统筹后：打通片区内相邻且未被道路分隔的小区之间的围墙后，按实际步行距离重新计算（不是“片区内任一小区覆盖即全覆盖”）"
            if lang == "zh" else
            "after merging: walking distances recomputed with the walls opened between members that share "
            "a boundary not separated by a street (not 'covered if any member is')")
    return {did: [note, *lines] for did, lines in out.items()}


def write_siting_tables(plan: pd.DataFrame, out_dir: str | Path, *, lang: str = "zh") -> list[Path]:
    """Write ``siting_plan.csv`` (canonical) and ``siting_plan.xlsx`` (worded in ``lang``).

    Columns: ``parcel_id``, ``category``, ``newly_covered_households``,
    ``cumulative_coverage`` first, then the other plan columns (no geometry).
    """
    from renogis import schema

    first = [schema.PARCEL_ID, schema.CATEGORY, schema.NEWLY_COVERED_HOUSEHOLDS, schema.CUMULATIVE_COVERAGE]
    cols = [c for c in first if c in plan.columns]
    cols += [c for c in plan.columns if c not in first and c != schema.GEOMETRY]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return write_table(pd.DataFrame(plan[cols]), out / "siting_plan", sheet_name="siting_plan", lang=lang)


def write_columns_md(out_dir: str | Path, files: Iterable[str | Path]) -> Path:
    """Write ``columns.md``: the columns of every CSV and GeoPackage layer in ``files``, both languages.

    The columns are read back from the files themselves, so the dictionary lists
    exactly what was written.
    """
    import pyogrio

    out = Path(out_dir)
    tables: dict[str, list[str]] = {}
    for f in files:
        p = Path(f)
        if p.suffix == ".csv":
            header = pd.read_csv(p, encoding="utf-8-sig", nrows=0).columns
            tables[p.relative_to(out).as_posix()] = [str(c) for c in header]
        elif p.suffix == ".gpkg":
            for layer in pyogrio.list_layers(p)[:, 0]:
                if layer == "layer_styles":
                    continue
                info = pyogrio.read_info(p, layer=layer)
                tables[f"{p.relative_to(out).as_posix()} [{layer}]"] = [str(c) for c in info["fields"]]
    path = out / "columns.md"
    path.write_text(wording.data_dictionary(tables), encoding="utf-8")
    return path


# --------------------------------------------------------------------------- results.gpkg
#: Layers of ``results.gpkg`` in order, with their QGIS symbol: (geometry kind, fill RGBA, outline RGBA).
RESULT_LAYERS: dict[str, tuple[str, str, str]] = {
    "districts": ("fill", "31,120,180,50", "31,120,180,255"),
    "compounds": ("fill", "255,255,255,0", "90,90,90,255"),
    "service_areas": ("fill", "51,160,44,40", "51,160,44,200"),
    "sites": ("fill", "227,26,28,160", "227,26,28,255"),
}
_LAYER_TITLES = {
    "districts": ("改造片区", "Renovation districts"),
    "compounds": ("小区（含服务缺口）", "Compounds with service gaps"),
    "service_areas": ("设施服务范围", "Facility service areas"),
    "sites": ("建议选址", "Proposed sites"),
}


def wide_gaps(compounds: pd.DataFrame, access: pd.DataFrame | None, gaps: pd.DataFrame | None,
              categories: Iterable[str] | None = None) -> pd.DataFrame:
    """Add one column per category and field to a copy of ``compounds`` (geometry kept).

    The columns are ``{category}_distance_m``, ``{category}_within_radius`` and
    ``{category}_covered_households``.
    """
    from renogis import schema

    out = compounds.copy()
    if access is None or not len(access):
        return out
    cats = list(categories) if categories is not None else list(dict.fromkeys(access[schema.CATEGORY]))
    ids = out[schema.COMPOUND_ID].astype(str)
    a = access.assign(**{schema.COMPOUND_ID: access[schema.COMPOUND_ID].astype(str)})
    cov = None
    if gaps is not None and len(gaps):
        g = gaps[gaps[schema.LEVEL] == "compound"]
        cov = g.assign(**{schema.UNIT_ID: g[schema.UNIT_ID].astype(str)}).set_index(
            [schema.UNIT_ID, schema.CATEGORY])[schema.HOUSEHOLDS_COVERED]
    for cat in cats:
        sub = a[a[schema.CATEGORY] == cat].set_index(schema.COMPOUND_ID)
        out[f"{cat}_{schema.DISTANCE_M}"] = ids.map(sub[schema.DISTANCE_M]).astype(float).to_numpy()
        within = ids.map(sub[schema.WITHIN_RADIUS])
        out[f"{cat}_{schema.WITHIN_RADIUS}"] = within.astype("boolean").to_numpy()
        if cov is not None:
            c = cov.xs(cat, level=schema.CATEGORY) if cat in cov.index.get_level_values(1) else pd.Series(
                dtype=float)
            out[f"{cat}_{schema.HOUSEHOLDS_COVERED}"] = ids.map(c).astype(float).to_numpy()
    return out


def _qml(layer: str, fields: list[str], lang: str) -> str:
    """A QGIS style (QML): one symbol per layer and field aliases in ``lang``."""
    kind, fill, outline = RESULT_LAYERS[layer]
    aliases = "".join(
        f'<alias field="{_escape_text(f)}" index="{i}" name="{_escape_text(wording.column_label(f, lang))}"/>'
        for i, f in enumerate(fields))
    props = (f'<prop k="color" v="{fill}"/><prop k="style" v="solid"/><prop k="outline_color" v="{outline}"/>'
             '<prop k="outline_style" v="solid"/><prop k="outline_width" v="0.4"/>'
             '<prop k="outline_width_unit" v="MM"/>')
    return (
        "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
        '<qgis version="3.28.0" styleCategories="Symbology|Fields">'
        '<renderer-v2 type="singleSymbol" symbollevels="0" enableorderby="0" forceraster="0">'
        f'<symbols><symbol type="{kind}" name="0" alpha="1" clip_to_extent="1" force_rhr="0">'
        f'<layer class="SimpleFill" pass="0" locked="0" enabled="1">{props}</layer></symbol></symbols>'
        '<rotation/><sizescale/></renderer-v2>'
        f"<aliases>{aliases}</aliases><layerGeometryType>2</layerGeometryType></qgis>"
    )


def write_results_gpkg(
    path: str | Path,
    *,
    districts: pd.DataFrame | None = None,
    compounds: pd.DataFrame | None = None,
    access: pd.DataFrame | None = None,
    gaps: pd.DataFrame | None = None,
    service_areas: pd.DataFrame | None = None,
    sites: pd.DataFrame | None = None,
    categories: Iterable[str] | None = None,
    lang: str = "zh",
) -> Path:
    """Write ``results.gpkg``: the results as GIS layers, styled for QGIS.

    Layers: ``districts``; ``compounds`` with ``district_id`` and the wide gap table
    (per category: walking distance, within radius, covered households, see
    :func:`wide_gaps`); ``service_areas``; ``sites`` (proposed parcels); and the
    ``layer_styles`` table QGIS reads, one default style per layer with field aliases
    in ``lang`` (column names stay canonical).
    """
    import sqlite3
    from datetime import UTC, datetime

    import geopandas as gpd
    import pyogrio

    wording.check_lang(lang)
    out = Path(path)
    if out.exists():
        out.unlink()
    layers: dict[str, gpd.GeoDataFrame] = {}
    if districts is not None:
        layers["districts"] = districts
    if compounds is not None:
        layers["compounds"] = wide_gaps(compounds, access, gaps, categories)
    if service_areas is not None and len(service_areas):
        layers["service_areas"] = service_areas
    if sites is not None and len(sites) and isinstance(sites, gpd.GeoDataFrame):
        layers["sites"] = sites
    styles = []
    now = datetime.now(UTC).replace(microsecond=0, tzinfo=None)
    for name, gdf in layers.items():
        frame = gdf.copy()
        for col in frame.columns:
            if col == frame.geometry.name:
                continue
            vals = frame[col]
            if vals.dtype == object:
                present = vals.dropna()
                if len(present) and present.map(lambda v: isinstance(v, (bool, np.bool_))).all():
                    frame[col] = vals.astype("boolean")
                else:
                    frame[col] = vals.map(lambda v: ",".join(map(str, v)) if isinstance(v, (list, tuple, set))
                                          else v)
        frame.to_file(out, layer=name, driver="GPKG", engine="pyogrio")
        fields = [c for c in frame.columns if c != frame.geometry.name]
        title = _LAYER_TITLES[name][0 if lang == "zh" else 1]
        styles.append({"f_table_catalog": "", "f_table_schema": "", "f_table_name": name,
                       "f_geometry_column": "geom", "styleName": name, "styleQML": _qml(name, fields, lang),
                       "styleSLD": "", "useAsDefault": True, "description": title, "owner": "renogis",
                       "ui": "", "update_time": now})
    if styles:
        table = pd.DataFrame(styles)
        pyogrio.write_dataframe(table, out, layer="layer_styles", driver="GPKG", layer_options={"FID": "id"})
        with sqlite3.connect(out) as con:  # the geometry column name GDAL gave each layer
            geom_cols = dict(con.execute("SELECT table_name, column_name FROM gpkg_geometry_columns"))
            for name in layers:
                con.execute("UPDATE layer_styles SET f_geometry_column = ? WHERE f_table_name = ?",
                            (geom_cols.get(name, "geom"), name))
        con.close()
    return out
