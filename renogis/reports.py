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
            table.to_excel(out, index=False, sheet_name=sheet_name[:31], engine="openpyxl")
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
