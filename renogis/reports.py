"""Tables and run provenance: CSV with BOM (Excel shows Chinese), XLSX, run.json."""

from __future__ import annotations

import hashlib
import json
import logging
import platform
from collections.abc import Iterable, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

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
            table.to_csv(out, index=False, encoding="utf-8-sig")
        elif fmt == "xlsx":
            _write_xlsx(table, out, sheet_name=sheet_name)
        else:
            raise ValueError(f"unknown table format {fmt!r}; use 'csv' or 'xlsx'")
        written.append(out)
    logger.info("wrote %d rows to %s", len(table), ", ".join(p.name for p in written))
    return written


def _cell(value: Any) -> Any:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float):
        return None if value != value or value in (float("inf"), float("-inf")) else value
    if isinstance(value, (bool, int, str)):
        return value
    if hasattr(value, "item"):  # numpy scalar
        return _cell(value.item())
    return str(value)


def _write_xlsx(table: pd.DataFrame, out: Path, *, sheet_name: str) -> None:
    """Write one sheet with xlsxwriter in constant-memory mode (about 3x faster than openpyxl)."""
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(out), {"constant_memory": True})
    try:
        ws = wb.add_worksheet(sheet_name[:31])
        bold = wb.add_format({"bold": True})
        ws.write_row(0, 0, [str(c) for c in table.columns], bold)
        ws.freeze_panes(1, 0)
        columns = [table[c].to_numpy(dtype=object) for c in table.columns]
        for i, row in enumerate(zip(*columns), start=1):
            ws.write_row(i, 0, [_cell(v) for v in row])
    finally:
        wb.close()


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
