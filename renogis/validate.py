"""Validate input layers: collect every problem, then stop once with all of them.

:func:`load` is the entry point used by the pipeline: read, check, repair what can
be repaired (reported), reproject every layer to one metric work CRS and return a
:class:`Dataset`. Errors make the data unusable; warnings (repaired geometries,
overlaps, dropped features) are reported and the run goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from renogis import schema
from renogis._errors import InputError
from renogis.crs import check_work_crs, choose_work_crs, data_centre_lonlat, in_china, parse_crs
from renogis.io import RawLayer, as_numeric, parse_other_tags, read_layers
from renogis.ledger import MIN_SCORE as LEDGER_MIN_SCORE
from renogis.postgis import is_postgis_url

logger = logging.getLogger(__name__)

__all__ = ["Problem", "ValidationReport", "Dataset", "load", "validate_layers", "make_ids", "spatial_order"]

_MAX_IDS = 5
_OVERLAP_MIN_M2 = 1.0  # overlaps smaller than this are digitising noise


@dataclass(frozen=True)
class Problem:
    """One finding about the input."""

    severity: Literal["error", "warning", "info"]
    file: str
    layer: str
    column: str | None
    message: str
    fix: str = ""
    ids: tuple[str, ...] = ()

    def __str__(self) -> str:
        where = f"{self.file} [{self.layer}]"
        if self.column:
            where += f" column {self.column}"
        ids = ""
        if self.ids:
            shown = ", ".join(self.ids[:_MAX_IDS])
            more = f" and {len(self.ids) - _MAX_IDS} more" if len(self.ids) > _MAX_IDS else ""
            ids = f" (ids: {shown}{more})"
        fix = f"; {self.fix}" if self.fix else ""
        return f"{where}: {self.message}{ids}{fix}"


@dataclass(frozen=True)
class ValidationReport:
    """Every problem found, and the feature counts per layer."""

    problems: tuple[Problem, ...]
    counts: Mapping[str, int]

    @property
    def errors(self) -> list[Problem]:
        """Problems that make the data unusable."""
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        """Problems repaired or tolerated (reported, not fatal)."""
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def ok(self) -> bool:
        """True when the data is usable."""
        return not self.errors

    def to_text(self) -> str:
        """A human-readable multi-line report."""
        lines = ["layers: " + ", ".join(f"{k} {v}" for k, v in self.counts.items())]
        for sev in ("error", "warning", "info"):
            items = [p for p in self.problems if p.severity == sev]
            if items:
                lines.append(f"{len(items)} {sev}{'s' if len(items) != 1 else ''}:")
                lines.extend(f"  - {p}" for p in items)
        lines.append("usable: yes" if self.ok else "usable: no (fix the errors above)")
        return "\n".join(lines)

    def raise_if_errors(self) -> None:
        """Raise one :class:`InputError` listing every error."""
        errs = self.errors
        if not errs:
            return
        head = str(errs[0])
        more = f" (+{len(errs) - 1} more: " + " | ".join(map(str, errs[1:4])) + (
            " | ..." if len(errs) > 4 else "") + ")" if len(errs) > 1 else ""
        raise InputError(head + more, problems=[str(p) for p in errs])


@dataclass(frozen=True)
class Dataset:
    """Validated layers, all in the work CRS, with canonical columns."""

    layers: Mapping[str, gpd.GeoDataFrame]
    work_crs: CRS
    report: ValidationReport
    sources: Mapping[str, Path] = field(default_factory=dict)
    ledger_match: pd.DataFrame | None = None  # how each ledger row was matched (``--ledger``)

    def get(self, name: str) -> gpd.GeoDataFrame | None:
        """A layer, or None when absent or empty."""
        gdf = self.layers.get(name)
        return gdf if gdf is not None and len(gdf) else None

    @property
    def compounds(self) -> gpd.GeoDataFrame:
        """The compounds layer."""
        return self.layers[schema.COMPOUNDS]


# --------------------------------------------------------------------------- helpers
def _ids(gdf: pd.DataFrame, mask: np.ndarray | pd.Series, id_col: str) -> tuple[str, ...]:
    mask = np.asarray(mask, dtype=bool)
    if id_col in gdf.columns:
        vals = gdf.loc[mask, id_col]
        return tuple(str(v) if pd.notna(v) else f"row {i + 1}" for i, v in zip(np.flatnonzero(mask), vals, strict=False))
    return tuple(f"row {i + 1}" for i in np.flatnonzero(mask))


class _Collector:
    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(self, severity: Literal["error", "warning", "info"], raw: RawLayer, column: str | None,
            message: str, fix: str = "", ids: Sequence[str] = ()) -> None:
        self.problems.append(Problem(severity, raw.source.name, raw.name, column, message, fix, tuple(ids)))


def _check_crs(raw: RawLayer, gdf: gpd.GeoDataFrame, col: _Collector, input_crs: CRS | None
               ) -> gpd.GeoDataFrame | None:
    """Check CRS presence and plausibility; return the frame with a CRS or None when unusable."""
    if gdf.crs is None:
        if input_crs is None:
            col.add("error", raw, None, "the layer has no CRS",
                    "add a .prj / define the CRS in the file, or give --input-crs EPSG:xxxx")
            return None
        gdf = gdf.set_crs(input_crs)
        col.add("info", raw, None, f"no CRS in the file; --input-crs {input_crs.to_string()} assigned")
    geoms = gdf.geometry[~(gdf.geometry.isna() | gdf.geometry.is_empty)]
    if geoms.empty:
        return gdf
    x0, y0, x1, y1 = geoms.total_bounds
    if gdf.crs.is_geographic:
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        if not in_china(cx, cy) and in_china(cy, cx):
            col.add("error", raw, None,
                    f"lon/lat centre ({cx:.4f}, {cy:.4f}) is outside China but inside it with the axes "
                    "swapped", "swap the x/y (lon/lat) columns or the axis order in the file")
            return None
        if max(abs(x0), abs(x1)) > 180 or max(abs(y0), abs(y1)) > 90:
            col.add("error", raw, None,
                    f"CRS {gdf.crs.name} is lon/lat but coordinates reach ({x0:.0f}, {y0:.0f})-"
                    f"({x1:.0f}, {y1:.0f}), metres of a projected CRS",
                    "the CRS is mislabelled: set the real projected CRS (e.g. EPSG:4548) in the file or "
                    "with --input-crs")
            return None
        if not in_china(cx, cy):
            col.add("warning", raw, None,
                    f"lon/lat centre ({cx:.4f}, {cy:.4f}) is outside China; China-specific checks and "
                    "GCJ-02 tiles do not apply")
    else:
        centre = gpd.GeoSeries([shapely.Point((x0 + x1) / 2, (y0 + y1) / 2)], crs=gdf.crs).to_crs(4326)
        lon, lat = float(centre.x.iloc[0]), float(centre.y.iloc[0])
        looks_lonlat = max(abs(x0), abs(x1)) <= 180 and max(abs(y0), abs(y1)) <= 90
        if looks_lonlat:
            col.add("error", raw, None,
                    f"CRS {gdf.crs.name} is projected but the coordinates ({x0:.4f}, {y0:.4f}) look like "
                    "lon/lat degrees", "set the CRS to EPSG:4326 (or EPSG:4490) in the file or with "
                    "--input-crs")
            return None
        if not np.isfinite(lon) or not np.isfinite(lat):
            col.add("error", raw, None, f"coordinates do not fit CRS {gdf.crs.name}",
                    "check that the CRS in the file is the one the coordinates were made in")
            return None
        if not in_china(lon, lat):
            col.add("warning", raw, None,
                    f"in {gdf.crs.name} the data lies at lon {lon:.4f}, lat {lat:.4f}, outside China",
                    "if the city is in China the CRS is mislabelled (e.g. a Gauss-Kruger zone with or "
                    "without the zone prefix in the easting)")
    return gdf


def _check_geometry(raw: RawLayer, gdf: gpd.GeoDataFrame, col: _Collector, id_col: str,
                    *, required: bool) -> gpd.GeoDataFrame:
    """Empty, wrong-type and invalid geometries. Required layers: errors; optional: dropped, reported."""
    allowed = schema.GEOMETRY_TYPES[raw.name]
    arr = gdf.geometry.to_numpy()
    coords, where = shapely.get_coordinates(arr, return_index=True)
    nonfinite = np.zeros(len(gdf), dtype=bool)
    nonfinite[where[~np.isfinite(coords).all(axis=1)]] = True
    if nonfinite.any():
        ids = _ids(gdf, nonfinite, id_col)
        if required:
            col.add("error", raw, "geometry", f"{int(nonfinite.sum())} geometries with NaN or infinite "
                    "coordinates", "fix or redraw those vertices in a GIS", ids)
            gdf = gdf.copy()
            gdf.loc[gdf.index[nonfinite], gdf.geometry.name] = None  # checked no further
        else:
            col.add("warning", raw, "geometry", f"{int(nonfinite.sum())} features with NaN or infinite "
                    "coordinates dropped", ids=ids)
            gdf = gdf.loc[~nonfinite]
        nonfinite = nonfinite[~nonfinite] if not required else nonfinite
    geom = gdf.geometry
    empty = (geom.isna() | geom.is_empty).to_numpy()
    if (empty & ~nonfinite).any():  # non-finite ones are reported above, not again as empty
        ids = _ids(gdf, empty & ~nonfinite, id_col)
        if required:
            col.add("error", raw, "geometry", f"{int((empty & ~nonfinite).sum())} empty geometries",
                    "draw them or remove"
                    " the rows", ids)
        else:
            col.add("warning", raw, "geometry", f"{int(empty.sum())} features without geometry dropped",
                    ids=ids)
            gdf = gdf.loc[~empty]
            geom = gdf.geometry
            empty = np.zeros(len(gdf), dtype=bool)
    types = geom.geom_type.to_numpy()
    wrong = ~np.isin(types, allowed) & ~empty
    if raw.name == schema.COMPOUNDS and wrong.any():
        # make_valid may have produced collections; a GeometryCollection of polygons is fine later
        pass
    if wrong.any():
        found = sorted(set(types[wrong]))
        msg = f"{int(wrong.sum())} features are {', '.join(found)}, expected {' or '.join(allowed)}"
        ids = _ids(gdf, wrong, id_col)
        if required:
            col.add("error", raw, "geometry", msg, "give polygon footprints for compounds", ids)
        else:
            col.add("warning", raw, "geometry", msg + "; dropped", ids=ids)
            gdf = gdf.loc[~wrong]
            empty = empty[~wrong]
    valid = shapely.is_valid(gdf.geometry.to_numpy())
    bad = ~valid & ~empty
    if bad.any():
        reasons = shapely.is_valid_reason(gdf.geometry.to_numpy()[bad])
        repaired = shapely.make_valid(gdf.geometry.to_numpy()[bad])
        if any(t in ("Polygon", "MultiPolygon") for t in allowed):
            # keep the polygonal part of what make_valid returns
            repaired = np.array([_polygonal(g) for g in repaired], dtype=object)
        gdf = gdf.copy()
        gdf.loc[gdf.index[bad], gdf.geometry.name] = repaired
        first = str(reasons[0]).split("[")[0]
        col.add("warning", raw, "geometry",
                f"{int(bad.sum())} invalid geometries repaired with make_valid (e.g. {first})",
                ids=_ids(gdf, bad, id_col))
    if allowed[0] == "Polygon":
        # a footprint with no area (a line or a point drawn as a polygon) measures nothing
        g = gdf.geometry.to_numpy()
        polys = np.isin(shapely.get_type_id(g), (3, 6)) | shapely.is_empty(g)
        flat = polys & ~pd.isna(g) & (shapely.area(g) <= 0) & ~empty
        if flat.any():
            ids = _ids(gdf, flat, id_col)
            if required:
                col.add("error", raw, "geometry", f"{int(flat.sum())} polygons with zero area (a line or "
                        "a point drawn as a polygon)", "redraw the footprints or remove the rows", ids)
            else:
                col.add("warning", raw, "geometry", f"{int(flat.sum())} polygons with zero area dropped",
                        ids=ids)
                gdf = gdf.loc[~flat]
    return gdf


def _polygonal(geom: shapely.Geometry) -> shapely.Geometry:
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    parts = [g for g in shapely.get_parts(geom) if g.geom_type in ("Polygon", "MultiPolygon")]
    if not parts:
        return shapely.Polygon()
    return shapely.union_all(parts)


#: Layers whose made-up ids are worth a warning (their ids appear in the outputs).
_ID_WARN_LAYERS = (schema.COMPOUNDS, schema.PARCELS, schema.FACILITIES)
#: Separator of id lists in the outputs (compound_ids, parcel_ids): an id may not contain it.
LIST_SEPARATOR = ","


def spatial_order(geoms: gpd.GeoSeries | np.ndarray) -> np.ndarray:
    """Row order north to south, then west to east, by a representative point (ties by geometry).

    The point is a polygon's ``point_on_surface``, a line's midpoint along its length,
    a point itself (a multipoint: its first point).

    The same geometries give the same order whatever the row order of the file, so
    ids made from it are stable.

    Examples
    --------
    >>> import shapely
    >>> spatial_order(np.array([shapely.Point(0, 0), shapely.Point(5, 9), shapely.Point(1, 9)])).tolist()
    [2, 1, 0]
    """
    arr = np.asarray(geoms, dtype=object)
    pts = shapely.point_on_surface(arr)
    lines = np.isin(shapely.get_type_id(arr), (1, 5))
    if lines.any():
        pts[lines] = shapely.line_interpolate_point(arr[lines], 0.5, normalized=True)
    x = np.round(np.nan_to_num(shapely.get_x(pts), nan=np.inf), 3)
    y = np.round(np.nan_to_num(shapely.get_y(pts), nan=-np.inf), 3)
    wkb = np.array([b"" if g is None else shapely.to_wkb(g, hex=False) for g in arr], dtype=object)
    tie = np.unique(wkb, return_inverse=True)[1].ravel() if len(arr) else np.zeros(0, dtype=np.int64)
    return np.lexsort((tie, x, -y))


def make_ids(geoms: gpd.GeoSeries | np.ndarray, prefix: str) -> list[str]:
    """Stable ids ``prefix0001``... in :func:`spatial_order` (at least four digits).

    Examples
    --------
    >>> import shapely
    >>> make_ids(np.array([shapely.Point(0, 0), shapely.Point(5, 9), shapely.Point(1, 9)]), "C")
    ['C0003', 'C0002', 'C0001']
    """
    order = spatial_order(geoms)
    width = max(4, len(str(len(order))))
    ids = np.empty(len(order), dtype=object)
    ids[order] = [f"{prefix}{i + 1:0{width}d}" for i in range(len(order))]
    return ids.tolist()


def _check_ids(raw: RawLayer, gdf: gpd.GeoDataFrame, col: _Collector, id_col: str,
               *, required: bool, prefix: str) -> gpd.GeoDataFrame:
    """Ids as text; made in spatial order when the column is absent; missing, duplicate, comma: errors."""
    gdf = gdf.copy()
    if id_col not in gdf.columns:
        ids = make_ids(gdf.geometry.to_numpy(), prefix)
        gdf[id_col] = ids
        if len(ids):
            first, last = min(ids), max(ids)
            col.add("warning" if raw.name in _ID_WARN_LAYERS else "info", raw, id_col,
                    f"no {id_col} column; ids {first}..{last} made in spatial order (north to south, then "
                    "west to east) and written to cleaned.gpkg and every output",
                    f"add a {id_col} column (or map yours with --column-map 编号={id_col}) to use your own")
        return gdf
    ids = gdf[id_col]
    missing = ids.isna() | (ids.astype("string").str.strip() == "")
    if missing.any():
        col.add("error", raw, id_col, f"{int(missing.sum())} rows without id",
                "give every row a unique id", [f"row {i + 1}" for i in np.flatnonzero(missing.to_numpy())])
    text = ids.map(_id_text)
    gdf[id_col] = text
    dup = text.duplicated(keep=False) & ~missing
    if dup.any():
        col.add("error", raw, id_col, f"{int(text[dup].nunique())} duplicate ids",
                "make the ids unique", tuple(dict.fromkeys(text[dup].astype(str))))
    comma = text.astype("string").str.contains(LIST_SEPARATOR, regex=False).fillna(False).to_numpy(dtype=bool)
    if comma.any():
        col.add("error", raw, id_col, f"{int(comma.sum())} ids contain a comma, the separator of the id "
                "lists in the outputs", "remove the commas from the ids (e.g. 12,3 -> 12-3)",
                tuple(repr(v) for v in text[comma]))
    return gdf


def _id_text(v: object) -> object:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return None
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v).strip()


def _numeric(raw: RawLayer, gdf: gpd.GeoDataFrame, col: _Collector, column: str, id_col: str, *,
             required: bool = False, minimum: float | None = None, maximum: float | None = None,
             integer: bool = False, fix: str = "") -> gpd.GeoDataFrame:
    if column not in gdf.columns:
        if required:
            col.add("error", raw, column, "required column missing",
                    f"add a {column} column (or map yours with --column-map 你的列名={column})")
        return gdf
    values = as_numeric(gdf[column])
    given = gdf[column].notna() & (gdf[column].astype("string").str.strip() != "")
    nonnum = given & values.isna()
    if nonnum.any():
        col.add("error", raw, column, f"{int(nonnum.sum())} non-numeric values "
                f"(e.g. {gdf.loc[nonnum, column].iloc[0]!r})", fix or "give numbers", _ids(gdf, nonnum, id_col))
    if required:
        miss = ~given
        if miss.any():
            col.add("error", raw, column, f"{int(miss.sum())} missing values", fix or f"fill {column}",
                    _ids(gdf, miss, id_col))
    if minimum is not None:
        low = values < minimum
        if low.any():
            col.add("error", raw, column, f"{int(low.sum())} values below {minimum:g}",
                    fix or f"{column} must be >= {minimum:g}", _ids(gdf, low, id_col))
    if maximum is not None:
        high = values > maximum
        if high.any():
            col.add("error", raw, column, f"{int(high.sum())} values above {maximum:g}",
                    fix or f"{column} must be <= {maximum:g}", _ids(gdf, high, id_col))
    if integer:
        frac = values.notna() & (values != np.round(values))
        if frac.any():
            col.add("error", raw, column, f"{int(frac.sum())} non-integer values", fix or "give whole "
                    "numbers", _ids(gdf, frac, id_col))
    gdf = gdf.copy()
    gdf[column] = values
    return gdf


def _boolean(values: pd.Series) -> pd.Series:
    truthy = {"1", "true", "yes", "y", "t", "是", "有", "已成立", "成立", "√"}
    falsy = {"0", "false", "no", "n", "f", "否", "无", "未成立", "×", ""}

    def conv(v: object) -> object:
        if v is None or (isinstance(v, float) and np.isnan(v)):
            return None
        if isinstance(v, (bool, np.bool_)):
            return bool(v)
        s = str(v).strip().lower()
        if s in truthy:
            return True
        if s in falsy:
            return False
        try:
            return bool(float(s))
        except ValueError:
            return "?"
    return values.map(conv)


# --------------------------------------------------------------------------- per layer
def _compounds(raw: RawLayer, gdf: gpd.GeoDataFrame, col: _Collector, persons_per_household: float
               ) -> gpd.GeoDataFrame:
    idc = schema.COMPOUND_ID
    gdf = _check_ids(raw, gdf, col, idc, required=True, prefix="C")
    gdf = _numeric(raw, gdf, col, schema.HOUSEHOLDS, idc, required=True, minimum=0, integer=True,
                   fix="households must be whole numbers >= 0")
    for name in (schema.BUILDINGS, schema.PARKING_SPACES):
        gdf = _numeric(raw, gdf, col, name, idc, minimum=0)
    gdf = _numeric(raw, gdf, col, schema.FLOOR_AREA_M2, idc, minimum=0)
    gdf = _numeric(raw, gdf, col, schema.POPULATION, idc, minimum=0)
    if schema.BUILT_YEAR in gdf.columns:
        text = gdf[schema.BUILT_YEAR].astype("string").str.extract(r"(\d{4})")[0]
        given = gdf[schema.BUILT_YEAR].notna() & (gdf[schema.BUILT_YEAR].astype("string").str.strip() != "")
        bad = given & text.isna()
        if bad.any():
            col.add("error", raw, schema.BUILT_YEAR, f"{int(bad.sum())} values without a year",
                    "give a four-digit year such as 1995 or 1990年代", _ids(gdf, bad, idc))
        gdf = gdf.copy()
        gdf[schema.BUILT_YEAR] = pd.to_numeric(text, errors="coerce")
        out_of_range = gdf[schema.BUILT_YEAR].notna() & ~gdf[schema.BUILT_YEAR].between(1900, 2100)
        if out_of_range.any():
            col.add("error", raw, schema.BUILT_YEAR, "years outside 1900-2100", "check the years",
                    _ids(gdf, out_of_range, idc))
    if schema.CONSENT in gdf.columns:
        raw_vals = gdf[schema.CONSENT].astype("string").str.strip()
        pct = raw_vals.str.endswith("%", na=False)
        vals = as_numeric(raw_vals.str.rstrip("%"))
        vals = vals.where(~pct, vals / 100.0)
        gdf = gdf.copy()
        # numbers (percentages already scaled) stay numbers; anything else stays text to be reported
        gdf[schema.CONSENT] = vals.astype(object).where(vals.notna(), raw_vals)
        gdf = _numeric(raw, gdf, col, schema.CONSENT, idc, minimum=0, maximum=1,
                       fix="consent is the share of residents agreeing, 0-1 (e.g. 0.85 or 85%)")
    if schema.OWNERS_COMMITTEE in gdf.columns:
        conv = _boolean(gdf[schema.OWNERS_COMMITTEE])
        bad = conv.astype(str) == "?"
        if bad.any():
            col.add("error", raw, schema.OWNERS_COMMITTEE, "values that are not yes/no",
                    "use true/false, 1/0 or 是/否", _ids(gdf, bad, idc))
        gdf = gdf.copy()
        gdf[schema.OWNERS_COMMITTEE] = conv.where(~bad, None)
    gdf = gdf.copy()
    for name in (schema.NAME, schema.SUBDISTRICT):
        if name in gdf.columns:
            gdf[name] = gdf[name].map(lambda v: None if v is None or (isinstance(v, float) and np.isnan(v))
                                      else str(v).strip() or None)
    if schema.NAME not in gdf.columns:
        gdf[schema.NAME] = gdf[idc]
    if schema.HOUSEHOLDS in gdf.columns:
        hh = gdf[schema.HOUSEHOLDS]
        estimated = pd.Series(True, index=gdf.index)
        if schema.POPULATION in gdf.columns:
            estimated = gdf[schema.POPULATION].isna()
            pop = gdf[schema.POPULATION].where(~estimated, hh * persons_per_household)
        else:
            pop = hh * persons_per_household
        gdf[schema.POPULATION] = pop
        gdf[schema.POPULATION_ESTIMATED] = estimated.to_numpy()
        if estimated.any():
            col.add("info", raw, schema.POPULATION,
                    f"population estimated as households x {persons_per_household} for "
                    f"{int(estimated.sum())} compounds")
    return gdf


def _overlaps(raw: RawLayer, gdf: gpd.GeoDataFrame, col: _Collector) -> None:
    geoms = gdf.geometry.to_numpy()
    ok = ~(shapely.is_empty(geoms) | pd.isna(geoms))
    tree = shapely.STRtree(geoms[ok])
    idx = np.flatnonzero(ok)
    left, right = tree.query(geoms[ok], predicate="intersects")
    keep = left < right
    left, right = left[keep], right[keep]
    if not len(left):
        return
    areas = shapely.area(shapely.intersection(geoms[idx[left]], geoms[idx[right]]))
    big = areas > _OVERLAP_MIN_M2
    if big.any():
        ids = gdf[schema.COMPOUND_ID].to_numpy()
        pairs = [f"{ids[idx[a]]}/{ids[idx[b]]} {ar:.0f} m2" for a, b, ar in
                 zip(left[big], right[big], areas[big], strict=False)]
        col.add("warning", raw, "geometry", f"{int(big.sum())} pairs of compounds overlap",
                "check the footprints; overlapping area is counted in both", pairs)


def _parcels(raw: RawLayer, gdf: gpd.GeoDataFrame, col: _Collector) -> gpd.GeoDataFrame:
    gdf = _check_ids(raw, gdf, col, schema.PARCEL_ID, required=False, prefix="P")
    gdf = gdf.copy()
    if schema.KIND in gdf.columns:
        kinds = gdf[schema.KIND].map(lambda v: None if v is None or (isinstance(v, float) and np.isnan(v))
                                     else str(v).strip())
        kinds = kinds.map(lambda v: v if v in schema.PARCEL_KINDS or v is None
                          else schema.PARCEL_KIND_ALIASES.get(v, schema.PARCEL_KIND_ALIASES.get(v.lower(), v)))
        unknown = kinds.notna() & ~kinds.isin(schema.PARCEL_KINDS)
        if unknown.any():
            col.add("error", raw, schema.KIND, f"unknown kinds {sorted(set(kinds[unknown]))}",
                    "use vacant_land or idle_building (闲置用地 / 闲置用房)",
                    _ids(gdf, unknown, schema.PARCEL_ID))
        gdf[schema.KIND] = kinds.fillna("vacant_land")
    else:
        gdf[schema.KIND] = "vacant_land"
        col.add("info", raw, schema.KIND, "no kind column; every parcel taken as vacant_land")
    gdf = _numeric(raw, gdf, col, schema.FLOOR_AREA_M2, schema.PARCEL_ID, minimum=0)
    return gdf


def _facilities(raw: RawLayer, gdf: gpd.GeoDataFrame, col: _Collector,
                categories: Sequence[str] | None) -> gpd.GeoDataFrame:
    gdf = _check_ids(raw, gdf, col, schema.FACILITY_ID, required=False, prefix="F")
    if schema.CATEGORY not in gdf.columns:
        col.add("error", raw, schema.CATEGORY, "required column missing",
                "add a category column (类别) with keys such as kindergarten, nursery, elderly_day_care")
        return gdf
    gdf = gdf.copy()
    keys = gdf[schema.CATEGORY].map(schema.normalise_category)
    known = set(categories) if categories is not None else set(schema.CATEGORIES)
    unknown = keys.isna() | ~keys.isin(known)
    if unknown.any():
        values = sorted({str(v) for v in gdf.loc[unknown, schema.CATEGORY]})
        col.add("error", raw, schema.CATEGORY, f"unknown categories {values[:8]}",
                "use a key of the standards file (e.g. kindergarten, nursery, elderly_day_care, clinic) or "
                "a Chinese name such as 幼儿园",
                _ids(gdf, unknown.to_numpy(), schema.FACILITY_ID))
    gdf[schema.CATEGORY] = keys
    gdf = _numeric(raw, gdf, col, schema.CAPACITY, schema.FACILITY_ID, minimum=0)
    if schema.NAME not in gdf.columns:
        gdf[schema.NAME] = None
    poly = gdf.geometry.geom_type.isin(["Polygon", "MultiPolygon"]).to_numpy()
    if poly.any():
        gdf.loc[gdf.index[poly], gdf.geometry.name] = shapely.point_on_surface(gdf.geometry.to_numpy()[poly])
        col.add("info", raw, "geometry", f"{int(poly.sum())} facility polygons taken at their "
                "representative point")
    multi = gdf.geometry.geom_type.eq("MultiPoint").to_numpy()
    if multi.any():
        gdf.loc[gdf.index[multi], gdf.geometry.name] = shapely.get_geometry(gdf.geometry.to_numpy()[multi], 0)
        col.add("info", raw, "geometry", f"{int(multi.sum())} multipoints taken at their first point")
    return gdf


def _streets(raw: RawLayer, gdf: gpd.GeoDataFrame, col: _Collector) -> gpd.GeoDataFrame:
    gdf = _check_ids(raw, gdf, col, schema.STREET_ID, required=False, prefix="S")
    gdf = gdf.copy()
    tags = parse_other_tags(gdf["other_tags"]) if "other_tags" in gdf.columns else pd.DataFrame(index=gdf.index)
    source = None
    if schema.STREET_CLASS in gdf.columns:
        source = gdf[schema.STREET_CLASS]
    elif "highway" in gdf.columns:
        source = gdf["highway"]
    if source is None:
        gdf[schema.STREET_CLASS] = "local"
        col.add("warning", raw, schema.STREET_CLASS, "no class or highway column; every street taken as "
                "local (no arterial barriers)", "add class: arterial|secondary|local|path or OSM highway")
        classes = gdf[schema.STREET_CLASS]
        not_walkable_type = pd.Series(False, index=gdf.index)
    else:
        classes = source.map(schema.normalise_street_class)
        text = source.astype("string").str.strip().str.lower()
        not_walkable_type = text.isin([k for k, v in schema.OSM_HIGHWAY_CLASSES.items() if v is None])
        unknown = classes.isna() & ~not_walkable_type
        if unknown.any():
            col.add("warning", raw, schema.STREET_CLASS,
                    f"{int(unknown.sum())} streets with unknown class {sorted(set(map(str, source[unknown])))[:6]}"
                    " dropped", "use arterial|secondary|local|path or OSM highway values",
                    _ids(gdf, unknown, schema.STREET_ID))
            gdf = gdf.loc[~unknown]
            classes = classes.loc[~unknown]
            not_walkable_type = not_walkable_type.loc[~unknown]
            tags = tags.loc[~unknown]
        if not_walkable_type.any():
            col.add("info", raw, schema.STREET_CLASS,
                    f"{int(not_walkable_type.sum())} motorways/unbuilt roads kept as barriers, not walkable")
        gdf[schema.STREET_CLASS] = classes.fillna("arterial")
    if "highway" not in gdf.columns:
        gdf["highway"] = None
    walk = _boolean(gdf[schema.WALKABLE]) if schema.WALKABLE in gdf.columns else pd.Series(True, index=gdf.index)
    bad = walk.astype(str) == "?"
    if bad.any():
        col.add("error", raw, schema.WALKABLE, "values that are not true/false", "use true/false or 1/0",
                _ids(gdf, bad, schema.STREET_ID))
    walk = walk.where(walk.isin([True, False]), True).astype(bool)
    if "foot" in tags.columns:
        walk &= ~tags["foot"].isin(["no", "private"]).to_numpy()
    gdf[schema.WALKABLE] = (walk & ~not_walkable_type).astype(bool).to_numpy()
    for flag in (schema.BRIDGE, schema.TUNNEL):
        vals = gdf[flag] if flag in gdf.columns else (tags[flag] if flag in tags.columns else None)
        if vals is None:
            gdf[flag] = False
        else:
            b = _boolean(vals.map(lambda v: None if v is None or (isinstance(v, float) and np.isnan(v))
                                  else ("yes" if str(v).lower() not in ("no", "0", "false", "否", "") else "no")))
            gdf[flag] = b.fillna(False).astype(bool).to_numpy()
    lay = gdf[schema.LAYER] if schema.LAYER in gdf.columns else (tags["layer"] if "layer" in tags.columns else None)
    gdf[schema.LAYER] = (pd.to_numeric(lay, errors="coerce").fillna(0).astype(int).to_numpy()
                         if lay is not None else 0)
    multi = gdf.geometry.geom_type.eq("MultiLineString").to_numpy()
    if multi.any():
        gdf = gdf.explode(index_parts=False, ignore_index=True)
        col.add("info", raw, "geometry", f"{int(multi.sum())} multilines split into their parts")
    return gdf


def _gates(raw: RawLayer, gdf: gpd.GeoDataFrame, col: _Collector, compound_ids: set[str]
           ) -> gpd.GeoDataFrame:
    gdf = _check_ids(raw, gdf, col, schema.GATE_ID, required=False, prefix="G")
    if schema.COMPOUND_ID not in gdf.columns:
        col.add("error", raw, schema.COMPOUND_ID, "required column missing",
                "give each gate the compound_id of its compound")
        return gdf
    gdf = gdf.copy()
    gdf[schema.COMPOUND_ID] = gdf[schema.COMPOUND_ID].map(_id_text)
    unknown = ~gdf[schema.COMPOUND_ID].isin(compound_ids)
    if unknown.any():
        col.add("error", raw, schema.COMPOUND_ID,
                f"{int(unknown.sum())} gates name compounds that do not exist "
                f"({sorted(set(map(str, gdf.loc[unknown, schema.COMPOUND_ID])))[:5]})",
                "fix the compound_id or remove the gates", _ids(gdf, unknown, schema.GATE_ID))
    return gdf


def _barriers(raw: RawLayer, gdf: gpd.GeoDataFrame, col: _Collector) -> gpd.GeoDataFrame:
    return _check_ids(raw, gdf, col, schema.BARRIER_ID, required=False, prefix="B")


# --------------------------------------------------------------------------- public
def validate_layers(
    raw_layers: Mapping[str, RawLayer],
    *,
    input_crs: CRS | str | None = None,
    work_crs: CRS | str | None = None,
    categories: Sequence[str] | None = None,
    persons_per_household: float = schema.DEFAULT_PERSONS_PER_HOUSEHOLD,
) -> tuple[dict[str, gpd.GeoDataFrame], ValidationReport, CRS | None]:
    """Check every layer, collecting all problems; repair and reproject what is usable.

    Returns the cleaned layers (in the work CRS), the report and the work CRS (None
    when the CRS checks failed). Does not raise for data problems: see
    :meth:`ValidationReport.raise_if_errors`.
    """
    col = _Collector()
    in_crs = parse_crs(input_crs, what="--input-crs") if input_crs is not None else None
    cleaned: dict[str, gpd.GeoDataFrame] = {}
    counts: dict[str, int] = {}
    crs_ok = True
    for name, raw in raw_layers.items():
        gdf = raw.gdf
        counts[name] = len(gdf)
        for note in raw.notes:
            col.add("info", raw, None, note)
        if name != schema.COMPOUNDS and len(gdf) == 0:
            continue
        if name == schema.COMPOUNDS and len(gdf) == 0:
            col.add("error", raw, None, "the compounds layer is empty", "give at least one compound")
            continue
        gdf = _check_crs(raw, gdf, col, in_crs)
        if gdf is None:
            crs_ok = False
            continue
        id_col = schema.ID_COLUMNS[name]
        gdf = _check_geometry(raw, gdf, col, id_col, required=(name == schema.COMPOUNDS))
        if name == schema.COMPOUNDS:
            gdf = _compounds(raw, gdf, col, persons_per_household)
        elif name == schema.PARCELS:
            gdf = _parcels(raw, gdf, col)
        elif name == schema.FACILITIES:
            gdf = _facilities(raw, gdf, col, categories)
        elif name == schema.STREETS:
            gdf = _streets(raw, gdf, col)
        elif name == schema.BARRIERS:
            gdf = _barriers(raw, gdf, col)
        cleaned[name] = gdf
    if schema.GATES in cleaned and schema.COMPOUNDS in cleaned and schema.COMPOUND_ID in cleaned[
            schema.COMPOUNDS].columns:
        ids = set(cleaned[schema.COMPOUNDS][schema.COMPOUND_ID].dropna())
        cleaned[schema.GATES] = _gates(raw_layers[schema.GATES], cleaned[schema.GATES], col, ids)

    wcrs: CRS | None = None
    if crs_ok and schema.COMPOUNDS in cleaned:
        if work_crs is not None:
            wcrs = parse_crs(work_crs)
            check_work_crs(wcrs, *data_centre_lonlat(cleaned[schema.COMPOUNDS]))
            logger.info("work CRS %s (given)", wcrs.name)
        else:
            wcrs = choose_work_crs(cleaned[schema.COMPOUNDS])
        for name in list(cleaned):
            gdf = cleaned[name]
            if gdf.crs is not None and not gdf.crs.equals(wcrs):
                logger.info("reprojecting %s from %s to %s", name, gdf.crs.name, wcrs.name)
                gdf = gdf.to_crs(wcrs)
            cleaned[name] = gdf
        comp = cleaned[schema.COMPOUNDS]
        if schema.COMPOUND_ID in comp.columns:
            _overlaps(raw_layers[schema.COMPOUNDS], comp, col)
        if schema.PARCELS in cleaned:
            p = cleaned[schema.PARCELS]
            p = p.copy()
            p[schema.AREA_M2] = p.geometry.area.to_numpy()
            cleaned[schema.PARCELS] = p
    report = ValidationReport(problems=tuple(col.problems), counts=counts)
    for p in report.warnings:
        logger.warning("%s", p)
    return cleaned, report, wcrs


def load(
    path: str | Path,
    *,
    column_map: Mapping[str, str] | None = None,
    encoding: str | None = None,
    source_crs: str | None = None,
    input_crs: CRS | str | None = None,
    work_crs: CRS | str | None = None,
    categories: Sequence[str] | None = None,
    persons_per_household: float = schema.DEFAULT_PERSONS_PER_HOUSEHOLD,
    strict: bool = True,
    ledger: str | Path | None = None,
    ledger_min_score: float = LEDGER_MIN_SCORE,
    layer_map: Mapping[str, str] | None = None,
) -> Dataset:
    """Read, validate and reproject an input; raise one :class:`InputError` listing every error.

    Parameters
    ----------
    path : str or Path
        GeoPackage, folder of layer files, or a single compounds file.
    column_map, encoding, source_crs
        See :func:`renogis.io.read_layers`.
    input_crs : CRS or str, optional
        CRS for layers that have none (e.g. a CSV with WKT).
    work_crs : CRS or str, optional
        Metric CRS for all measuring; default chosen from the data (CGCS2000 3-degree
        Gauss-Kruger zone in China, else UTM).
    categories : sequence of str, optional
        Facility categories accepted (the keys of the standards in use).
    strict : bool
        Raise on errors (default). With False the dataset is returned with its report.
    ledger : str or Path, optional
        A compound ledger (XLSX or CSV, no geometry) joined to the compound footprints
        by name (see :mod:`renogis.ledger`); its columns (households ...) replace the
        footprints'. Footprints no ledger row names are left out (reported).
    ledger_min_score : float
        Lowest fuzzy name score (0-100) accepted as a match.
    layer_map : mapping, optional
        ``{layer: table}`` for a PostGIS input (``path`` a ``postgresql://`` URL); see
        :func:`renogis.postgis.read_layers`.

    Returns
    -------
    Dataset

    Examples
    --------
    >>> from renogis.datasets import sample_path
    >>> ds = load(sample_path())
    >>> ds.work_crs.to_epsg(), len(ds.compounds)
    (4548, 65)
    """
    if is_postgis_url(path):  # PostGIS input: tables instead of files, everything after is the same
        from renogis.postgis import read_layers as read_postgis_layers

        raw = read_postgis_layers(str(path), layer_map=layer_map, column_map=column_map,
                                  source_crs=source_crs)
    elif layer_map:
        raise InputError("--layer-map applies to a PostGIS input (postgresql://...); name files and "
                         "GeoPackage layers compounds, parcels, ... (or 小区, 闲置地块, ...)")
    else:
        raw = read_layers(path, column_map=column_map, encoding=encoding, source_crs=source_crs)
    match = None
    ledger_problems: list[Problem] = []
    if ledger is not None:
        raw, match, ledger_problems = _join_ledger(raw, Path(ledger), column_map=column_map,
                                                   encoding=encoding, min_score=ledger_min_score)
    layers, report, wcrs = validate_layers(raw, input_crs=input_crs, work_crs=work_crs,
                                           categories=categories,
                                           persons_per_household=persons_per_household)
    if ledger_problems:
        report = ValidationReport(problems=tuple(ledger_problems) + report.problems, counts=report.counts)
    if strict:
        report.raise_if_errors()
    sources = {name: r.source for name, r in raw.items()}
    table = None
    if match is not None:
        sources = {**sources, "ledger": Path(ledger)}  # type: ignore[arg-type]
        comp = layers.get(schema.COMPOUNDS)
        ids = comp[schema.COMPOUND_ID] if comp is not None and schema.COMPOUND_ID in comp.columns else (
            [None] * len(match.rows))
        table = match.with_ids(ids)
    return Dataset(layers=layers, work_crs=wcrs if wcrs is not None else CRS.from_epsg(4326),
                   report=report, sources=sources, ledger_match=table)


def _join_ledger(raw: dict[str, RawLayer], path: Path, *, column_map: Mapping[str, str] | None,
                 encoding: str | None, min_score: float
                 ) -> tuple[dict[str, RawLayer], object, list[Problem]]:
    """Replace the compounds layer by the footprints joined to the ledger; problems for the report."""
    from renogis.ledger import AMBIGUOUS, EXACT, FUZZY, NORMALISED, UNMATCHED, match_ledger, read_ledger

    led = read_ledger(path, column_map=dict(column_map or {}), encoding=encoding)
    comp = raw[schema.COMPOUNDS]
    m = match_ledger(comp.gdf, led, min_score=min_score, label=path.name)
    t = m.table
    problems: list[Problem] = []

    def add(sev: Literal["error", "warning", "info"], kind: str, message: str, fix: str = "") -> None:
        rows = t[t["match"] == kind]
        if not len(rows):
            return
        shown = tuple(
            f"row {r.ledger_row} {r.ledger_name!r}" + (f" -> {r.footprint_name!r} ({r.score:.1f})"
                                                      if kind == FUZZY else "")
            for r in rows.itertuples())
        problems.append(Problem(sev, path.name, "ledger", schema.NAME, f"{len(rows)} {message}", fix, shown))

    counts = m.counts()
    problems.append(Problem("info", path.name, "ledger", schema.NAME,
                            f"{len(t)} ledger rows joined to {comp.source.name} [{comp.name}] by name: "
                            f"{counts[EXACT]} exact, {counts[NORMALISED]} after normalising, {counts[FUZZY]} "
                            f"fuzzy, {counts[AMBIGUOUS]} ambiguous, {counts[UNMATCHED]} unmatched; see "
                            "ledger_match.csv"))
    add("warning", FUZZY, "ledger rows matched by a similar name (score 0-100)",
        "check them in ledger_match.csv; rename the footprint or the ledger row to make them exact")
    add("warning", AMBIGUOUS, "ledger rows match several footprints equally well and were left out",
        "make the names unique or add the subdistrict (街道) on both sides")
    add("warning", UNMATCHED, "ledger rows without a footprint left out",
        "fix the names (ledger_match.csv lists them) or draw the footprints")
    if m.unused_footprints:
        problems.append(Problem("info", comp.source.name, comp.name, schema.NAME,
                                f"{m.unused_footprints} footprints named in no ledger row left out",
                                ids=tuple(repr(n) for n in m.unused_names)))
    if not len(m.compounds):
        problems.append(Problem("error", path.name, "ledger", schema.NAME,
                                "no ledger row matches a footprint name",
                                "check that the footprints carry compound names (小区名称) like the ledger"))
    notes = (*comp.notes, f"joined to ledger {path.name}: {len(m.compounds)} of {len(t)} rows matched")
    out = dict(raw)
    out[schema.COMPOUNDS] = RawLayer(name=comp.name, gdf=m.compounds, source=comp.source, notes=notes)
    return out, m, problems
