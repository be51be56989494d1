"""Guards every stage shares: columns present, a projected metric CRS, one CRS, unique ids.

Each builds its message first (naming the layer, the column or the ids, what was expected and how
to fix it) and then raises :class:`~renogis._errors.InputError` or
:class:`~renogis._errors.CRSError`, which the command line turns into one line and exit code 2.

Examples
--------
>>> import geopandas as gpd
>>> from shapely.geometry import Point
>>> gdf = gpd.GeoDataFrame({"compound_id": ["C1", "C1"]}, geometry=[Point(0, 0)] * 2, crs="EPSG:4548")
>>> projected_crs(gdf.crs, what="compounds").to_epsg()
4548
>>> require_columns(gdf, ["compound_id", "households"], "compounds")
Traceback (most recent call last):
...
renogis._errors.InputError: compounds: missing column(s) households; expected at least compound_id, households (canonical names from renogis.schema)
>>> unique_ids(gdf, "compound_id", "compounds")
Traceback (most recent call last):
...
renogis._errors.InputError: layer 'compounds': duplicate compound_id values: C1; ids must be unique
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyproj

from renogis._errors import CRSError, InputError

__all__ = ["require_columns", "projected_crs", "same_crs", "unique_ids"]


def require_columns(df: pd.DataFrame, columns: Sequence[str], layer: str) -> None:
    """Raise InputError naming ``layer`` and every column of ``columns`` that ``df`` lacks."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise InputError(
            f"{layer}: missing column(s) {', '.join(missing)}; expected at least "
            f"{', '.join(columns)} (canonical names from renogis.schema)"
        )


def projected_crs(crs: Any, *, what: str) -> pyproj.CRS:
    """Return ``crs`` as a pyproj CRS; raise CRSError when it is missing or not projected."""
    if crs is None:
        raise CRSError(
            f"{what} has no CRS; set one (e.g. gdf.set_crs('EPSG:4548')) and reproject to a "
            "projected metric CRS"
        )
    out = pyproj.CRS.from_user_input(crs)
    if not out.is_projected:
        raise CRSError(
            f"{what} CRS {out.to_string()} is not projected; reproject to a metric work CRS "
            "(e.g. EPSG:4548, CGCS2000 3-degree Gauss-Kruger CM 117E) before measuring distances"
        )
    return out


def same_crs(crs: Any, other: Any, *, what: str, ref: str) -> None:
    """Raise CRSError when ``other`` (the CRS of ``what``) is missing or differs from ``crs`` (of ``ref``)."""
    crs = pyproj.CRS.from_user_input(crs)
    if other is None:
        raise CRSError(f"{what} has no CRS; expected {ref} CRS {crs.to_string()}")
    if pyproj.CRS.from_user_input(other) != crs:
        raise CRSError(
            f"{what} CRS {pyproj.CRS.from_user_input(other).to_string()} differs from {ref} CRS "
            f"{crs.to_string()}; reproject with .to_crs() first"
        )


def unique_ids(layer: pd.DataFrame, column: str, name: str) -> np.ndarray:
    """The ids of ``layer[column]`` as strings; raise InputError when absent or repeated (first 10 named)."""
    if column not in layer.columns:
        raise InputError(f"layer {name!r} has no {column!r} column; add a unique id per row")
    ids = layer[column].astype(str).to_numpy(dtype=object)
    index = pd.Index(ids)
    dup = index[index.duplicated()].unique()
    if len(dup):
        raise InputError(
            f"layer {name!r}: duplicate {column} values: {', '.join(map(str, dup[:10]))}; "
            "ids must be unique"
        )
    return ids
