"""Tables and run provenance: CSV with BOM (Excel shows Chinese), XLSX, run.json, columns.md.

Two audiences: the CSV is for scripts and always carries the canonical columns and
codes of :mod:`renogis.schema`; the XLSX is for people and follows ``lang``
(headers, codes, flags, units, see :mod:`renogis.outputs.wording`). Every CSV goes through
:func:`write_csv`, the one place that turns a frame into CSV text.
"""

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

from renogis._inert import csv_safe
from renogis.outputs import wording
from renogis.outputs.xlsx import style_of, write_xlsx

logger = logging.getLogger(__name__)

__all__ = ["write_table", "write_csv", "write_xlsx", "file_sha256", "library_versions", "write_run_json",
           "write_columns_md"]


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
        :func:`renogis.outputs.wording.localise_table`).

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
            styles = {label: style_of(col, table[col])
                      for col, label in zip(table.columns, human.columns, strict=True)}
            write_xlsx(human, out, sheet_name=sheet_name, styles=styles)
        else:
            raise ValueError(f"unknown table format {fmt!r}; use 'csv' or 'xlsx'")
        written.append(out)
    logger.info("wrote %d rows to %s", len(table), ", ".join(p.name for p in written))
    return written



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
