"""Tables and run provenance: CSV with BOM (Excel shows Chinese), XLSX, run.json."""

from __future__ import annotations

import hashlib
import json
import logging
import platform
import re
from collections.abc import Iterable, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from renogis._inert import csv_safe

logger = logging.getLogger(__name__)

__all__ = ["write_table", "file_sha256", "library_versions", "write_run_json"]


def write_table(
    df: pd.DataFrame,
    path: str | Path,
    *,
    formats: Iterable[str] = ("csv", "xlsx"),
    sheet_name: str = "table",
) -> list[Path]:
    """Write ``df`` as ``path.csv`` (UTF-8 with BOM) and/or ``path.xlsx``.

    Geometry columns are dropped: tables carry attributes only.

    Parameters
    ----------
    df : pandas.DataFrame
        The table. A GeoDataFrame loses its geometry column.
    path : str or Path
        Output path without suffix (a suffix, if given, is replaced).
    formats : iterable of {"csv", "xlsx"}
        Which files to write.
    sheet_name : str
        Sheet name in the XLSX file (at most 31 characters).

    Returns
    -------
    list of Path
        The files written.
    """
    base = Path(path)
    if base.suffix in (".csv", ".xlsx"):
        base = base.with_suffix("")
    table = pd.DataFrame(df.drop(columns=[c for c in df.columns if c == "geometry"]))
    written = []
    for fmt in formats:
        out = base.with_suffix(f".{fmt}")
        if fmt == "csv":
            # CSV is the one format a spreadsheet evaluates: no cell may start a formula.
            csv_safe(table).to_csv(out, index=False, encoding="utf-8-sig")
        elif fmt == "xlsx":
            _write_xlsx(table, out, sheet_name=sheet_name)
        else:
            raise ValueError(f"unknown table format {fmt!r}; use 'csv' or 'xlsx'")
        written.append(out)
    logger.info("wrote %d rows to %s", len(table), ", ".join(p.name for p in written))
    return written


_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG = "http://schemas.openxmlformats.org/package/2006/relationships"
_XML = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_XLSX_PARTS = {
    "[Content_Types].xml": _XML + (
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.'
        'spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-'
        'officedocument.spreadsheetml.worksheet+xml"/>'
        '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.'
        'spreadsheetml.styles+xml"/></Types>'),
    "_rels/.rels": _XML + (
        f'<Relationships xmlns="{_PKG}"><Relationship Id="rId1" Type="{_REL}/officeDocument" '
        'Target="xl/workbook.xml"/></Relationships>'),
    "xl/_rels/workbook.xml.rels": _XML + (
        f'<Relationships xmlns="{_PKG}"><Relationship Id="rId1" Type="{_REL}/worksheet" '
        f'Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="{_REL}/styles" '
        'Target="styles.xml"/></Relationships>'),
    "xl/styles.xml": _XML + (
        f'<styleSheet xmlns="{_NS}"><fonts count="2"><font><sz val="11"/><name val="Calibri"/></font>'
        '<font><b/><sz val="11"/><name val="Calibri"/></font></fonts>'
        '<fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill '
        'patternType="gray125"/></fill></fills><borders count="1"><border><left/><right/><top/><bottom/>'
        '<diagonal/></border></borders><cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" '
        'borderId="0"/></cellStyleXfs><cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" '
        'borderId="0" xfId="0"/><xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" '
        'applyFont="1"/></cellXfs></styleSheet>'),
}
_ILLEGAL_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _column_letter(j: int) -> str:
    letters = ""
    j += 1
    while j:
        j, r = divmod(j - 1, 26)
        letters = chr(65 + r) + letters
    return letters


_S = np.dtypes.StringDType()
_add = np.strings.add


def _escape_text(text: str) -> str:
    """XML-escape one string; control characters that XML forbids are dropped."""
    text = _ILLEGAL_XML.sub("", text)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _escape(values: np.ndarray) -> np.ndarray:
    """XML-escape an array of str: each distinct value once (tables repeat ids and names)."""
    uniq, inverse = np.unique(np.asarray(values, dtype=object).astype(str), return_inverse=True)
    return np.array([_escape_text(u) for u in uniq], dtype=_S)[inverse.ravel()]


def _number_text(num: np.ndarray, *, decimals: int = 6) -> np.ndarray:
    """Numbers as text: whole numbers exactly, others to ``decimals`` places (trailing zeros cut).

    numpy's shortest-repr float formatting costs about 2 microseconds a value; fixed-point
    text assembled from integer parts is several times faster. Values too large for that
    fall back to repr.
    """
    scale = 10**decimals
    if len(num) == 0 or np.abs(num).max() >= 2**62 / scale:
        return num.astype(_S)
    if np.array_equal(num, np.round(num)):
        return num.astype(np.int64).astype(_S)
    fixed = np.round(num * scale).astype(np.int64)
    whole, frac = np.divmod(np.abs(fixed), scale)
    sign = np.where(fixed < 0, "-", "").astype(_S)
    text = _add(_add(sign, whole.astype(_S)), _add(".", np.strings.zfill(frac.astype(_S), decimals)))
    return np.strings.rstrip(np.strings.rstrip(text, "0"), ".")


def _is_bool_column(values: pd.Series) -> bool:
    if values.dtype.kind == "b":
        return True
    if values.dtype.kind != "O":
        return False
    present = values.dropna()
    return len(present) > 0 and all(isinstance(v, (bool, np.bool_)) for v in present.unique())


def _xlsx_cells(values: pd.Series, ref: np.ndarray) -> np.ndarray:
    """SpreadsheetML ``<c>`` elements of one column, built with numpy string ufuncs; missing give ""."""
    empty = np.array("", dtype=_S)
    if _is_bool_column(values):
        ok = values.notna().to_numpy()
        text = np.where(values.fillna(False).astype(bool).to_numpy(), "1", "0").astype(_S)
        cells = _add(_add(_add('<c r="', ref), '" t="b"><v>'), _add(text, "</v></c>"))
        return np.where(ok, cells, empty)
    if values.dtype.kind in "iu" and not values.isna().any():
        text = values.to_numpy(dtype=np.int64).astype(_S)
        return _add(_add(_add('<c r="', ref), '"><v>'), _add(text, "</v></c>"))
    if pd.api.types.is_numeric_dtype(values):
        num = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        ok = np.isfinite(num)
        text = _number_text(np.where(ok, num, 0.0))
        cells = _add(_add(_add('<c r="', ref), '"><v>'), _add(text, "</v></c>"))
        return np.where(ok, cells, empty)
    ok = values.notna().to_numpy()
    text = _escape(values.astype(object).where(values.notna(), "").to_numpy())
    cells = _add(_add(_add('<c r="', ref), '" t="inlineStr"><is><t xml:space="preserve">'),
                 _add(text, "</t></is></c>"))
    return np.where(ok, cells, empty)


def _write_xlsx(table: pd.DataFrame, out: Path, *, sheet_name: str) -> None:
    """Write one sheet of SpreadsheetML, its cells built column-wise with numpy string ufuncs.

    A writer going cell by cell in Python (openpyxl, xlsxwriter) needs about a minute
    for the 6 million cells of a 20,000-compound gap table; this needs seconds. The
    header is bold and frozen; numbers stay numbers, booleans booleans, text inline.
    """
    import zipfile

    n = len(table)
    rows = np.arange(2, n + 2).astype(_S)
    columns: list[list[str]] = []
    header = []
    for j, col in enumerate(table.columns):
        letter = _column_letter(j)
        header.append(f'<c r="{letter}1" t="inlineStr" s="1"><is><t>{_escape_text(str(col))}</t></is></c>')
        columns.append(_xlsx_cells(table[col].reset_index(drop=True), _add(letter, rows)).tolist())
    row_open = _add(_add('<row r="', rows), '">').tolist()
    name = _escape_text(sheet_name[:31])
    workbook = _XML + (f'<workbook xmlns="{_NS}" xmlns:r="{_REL}"><sheets><sheet name="{name}" sheetId="1" '
                       'r:id="rId1"/></sheets></workbook>')
    sheet_head = _XML + (
        f'<worksheet xmlns="{_NS}" xmlns:r="{_REL}"><sheetViews><sheetView workbookViewId="0">'
        '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/></sheetView>'
        f'</sheetViews><sheetData><row r="1">{"".join(header)}</row>')
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for part, text in _XLSX_PARTS.items():
            zf.writestr(part, text)
        zf.writestr("xl/workbook.xml", workbook)
        with zf.open("xl/worksheets/sheet1.xml", "w") as fh:
            fh.write(sheet_head.encode("utf-8"))
            chunk = 50_000
            for start in range(0, n, chunk):
                stop = min(start + chunk, n)
                parts = [c[start:stop] for c in columns]
                text = "".join(
                    op + "".join(cells) + "</row>" for op, *cells in zip(row_open[start:stop], *parts)
                )
                fh.write(text.encode("utf-8"))
            fh.write(b"</sheetData></worksheet>")


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
    ``"托儿所 (300 m): 1,200 of 1,759 households uncovered after merging (before: 1,450)"``.

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
        unc_after = rec.get(acc.UNCOVERED_HOUSEHOLDS_MERGED)
        if unc_after is None or pd.isna(unc_after) or unc_after <= 0:
            continue
        cat = rec[acc.CATEGORY]
        rule = standards.categories.get(cat)
        name = (rule.name_zh if lang == "zh" else rule.name_en) if rule is not None else cat
        radius = f"{rule.radius_m:,.0f} m" if rule is not None else ""
        hh = rec[acc.HOUSEHOLDS]
        before = rec.get(acc.UNCOVERED_HOUSEHOLDS)
        short = rec.get(acc.SHORTFALL)
        if lang == "zh":
            line = (f"{name}（{radius}）：{hh:,.0f} 户中 {unc_after:,.0f} 户未覆盖（统筹前 {before:,.0f} 户）")
            if short is not None and not pd.isna(short) and short > 0:
                line += f"，缺口 {short:,.0f} {rec.get(acc.DEMAND_UNIT) or ''}".rstrip()
        else:
            line = (f"{name} ({radius}): {unc_after:,.0f} of {hh:,.0f} households uncovered after merging "
                    f"(before: {before:,.0f})")
            if short is not None and not pd.isna(short) and short > 0:
                line += f", shortfall {short:,.0f} {rec.get(acc.DEMAND_UNIT) or ''}".rstrip()
        out.setdefault(str(rec[acc.UNIT_ID]), []).append(line)
    return out
