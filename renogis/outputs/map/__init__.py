"""Interactive planning maps: folium / Leaflet, one self-contained HTML file.

This is the only module of renogis that converts to lon/lat. Every input layer
arrives in one projected metric CRS; geometries are simplified there (display
only), reprojected to WGS84 (and shifted to GCJ-02 for Amap tiles), rounded to
about 0.1 m and embedded once as compact GeoJSON. The map layers are built from
that data in the browser, so the gap layers cost nothing until they are switched
on. Streets and barriers (rivers, railways) are drawn as context below the
compounds, which matters with ``tiles="none"``. For a whole city (more than
``CANVAS_MARKER_THRESHOLD`` facilities) facilities become canvas circles.

Made to be read in a meeting: a district label is shown only where it fits (inside
its district's on-screen box, clear of other labels; larger districts first), so
labels appear as one zooms in; the district fills use a palette that shares no
colour with any other layer (``PALETTE`` vs ``OTHER_LAYER_COLORS``); coverage is
drawn over the fill as outlines (covered) and hatching (not covered); street
classes differ in width and shade and hovering a street shows its name; numbers in
popups and tooltips are rounded and carry their unit (households whole, m², m, %);
streets cut off from the walk network can be shown as their own layer.

The Leaflet library and its plugins (MarkerCluster, Fullscreen, Search) are
inlined from ``renogis/outputs/map/_vendor`` (versions and licences in its
``MANIFEST.md``) so the map opens with no network: with ``tiles="none"`` the file
needs nothing but a browser.

Front-end files beside this module, inlined into every map: ``map.js`` (builds the
layers, popups, labels, legend and controls in the browser from the embedded data),
``map.css`` (their styles) and ``text.json`` (the zh/en texts of the map). Python
prepares the data (``build_map`` reads as its phases: check, reproject, layer data,
meta, base map, layer groups); the browser draws it.
"""

from __future__ import annotations

import base64
import functools
import json
import logging
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import Element, MacroElement
from jinja2 import Template
from scipy import sparse

from renogis import config
from renogis import schema as S
from renogis._checks import require_columns
from renogis._errors import CRSError, InputError
from renogis.crs import transform_geometries, wgs84_to_gcj02
from renogis.outputs.wording import category_name

logger = logging.getLogger(__name__)

__all__ = ["build_map", "write_map", "TILES", "district_colors"]

# --------------------------------------------------------------------------- constants
#: Basemaps ``build_map`` accepts.
TILES = config.TILES
#: Display-only simplification tolerance in the metric work CRS (m).
SIMPLIFY_TOLERANCE_M = 0.5
#: Decimals kept in lon/lat (1e-6 degree is about 0.1 m).
COORD_DECIMALS = 6
#: Districts closer than this (m) count as neighbours when colouring: wide enough to reach
#: across an arterial street, so districts facing each other get different colours.
NEIGHBOUR_DISTANCE_M = 250.0
#: Above this many facilities the markers are clustered.
CLUSTER_THRESHOLD = 500
#: Above this many facilities they are drawn as canvas circles (one shared canvas, no
#: clustering, no DOM element per facility) instead of glyph markers in a cluster.
CANVAS_MARKER_THRESHOLD = 5000
#: Font of the district labels. A label is shown only where it fits: its box (measured in the
#: browser in this font) lies within its district's on-screen bounding box and overlaps no label
#: already placed (larger districts first). So a whole city at a low zoom shows few labels, and
#: more appear as one zooms in.
LABEL_FONT = "bold 12px sans-serif"
#: Pixels kept free around each label.
LABEL_MARGIN_PX = 2
#: From this zoom level up, hovering a street shows its name and class.
STREET_HOVER_MIN_ZOOM = 14

# column names of the result tables (defined by the analysis stages)
_ACC_DISTANCE = "distance_m"
_ACC_RADIUS = "radius_m"
_ACC_WITHIN = "within_radius"
_GAP_LEVEL = "level"
_GAP_UNIT = "unit_id"
_GAP_DEMAND_UNIT = "demand_unit"
_SITING_NEW = "newly_covered_households"
_SITING_CUM = "cumulative_coverage"

#: Light fills for districts, from ColorBrewer Set3 and Paired: no colour is shared with any
#: other layer, every one lies at least 20 CIELAB units (Delta E 1976) from every other layer's
#: colour (``OTHER_LAYER_COLORS``) and from each other. Neighbouring districts differ.
PALETTE = (
    "#8DD3C7",
    "#FFFFB3",
    "#FB8072",
    "#FDB462",
    "#AAAA00",
    "#FFAABB",
    "#B2DF8A",
    "#E5C494",
    "#A6D854",
)
#: Okabe-Ito colours, for categories (cycled): facility markers, service areas, proposed sites.
OKABE_ITO = ("#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7")
#: Coverage layers draw over the district fill: covered compounds as a thick outline,
#: compounds not covered hatched, compounds without data with a dotted outline.
COVERED_COLOR = "#0072B2"
UNCOVERED_COLOR = "#D55E00"
NODATA_COLOR = "#BBBBBB"
EXCLUDED_COLOR = "#AAAAAA"
OUTLINE_COLOR = "#222222"
COMPOUND_EDGE_COLOR = "#444444"
PARCEL_COLORS = {"vacant_land": "#8C510A", "idle_building": "#6A3D9A"}
#: Street styles by class (order of ``schema.STREET_CLASSES``): darker and wider for higher
#: classes: colour, width (px), dashes.
STREET_STYLES = (
    {"color": "#555555", "weight": 5.0},
    {"color": "#777777", "weight": 3.5},
    {"color": "#999999", "weight": 2.0},
    {"color": "#999999", "weight": 1.2, "dashArray": "4 3"},
)
#: Parts of the street network not connected to the walk network (nobody reaches them).
NETWORK_PART_STYLE = {"color": "#E7298A", "weight": 4.0, "dashArray": "2 5", "opacity": 0.9}
#: Barrier styles by kind: water (also the default when undescribed), railway, other.
BARRIER_STYLES = (
    {"color": "#3A7BD5", "weight": 2.5, "fillColor": "#D4EAF7", "fillOpacity": 0.9},
    {
        "color": "#333333",
        "weight": 2.5,
        "dashArray": "8 4",
        "fillColor": "#888888",
        "fillOpacity": 0.3,
    },
    {"color": "#555555", "weight": 2.0, "fillColor": "#CCCCCC", "fillOpacity": 0.5},
)
#: Every colour a layer other than the district fill draws with (the palette avoids them all).
OTHER_LAYER_COLORS = tuple(
    dict.fromkeys(
        [
            *OKABE_ITO,
            COVERED_COLOR,
            UNCOVERED_COLOR,
            NODATA_COLOR,
            EXCLUDED_COLOR,
            OUTLINE_COLOR,
            COMPOUND_EDGE_COLOR,
            "#FFFFFF",
            *PARCEL_COLORS.values(),
            *(st["color"] for st in STREET_STYLES),
            *(st[k] for st in BARRIER_STYLES for k in ("color", "fillColor")),
            NETWORK_PART_STYLE["color"],
        ]
    )
)
_DEFAULT_STREET_CLASS = "local"
#: Barrier columns read (if present) to tell railways and water apart.
_BARRIER_TEXT_COLUMNS = ("kind", "type", "class", "railway", "waterway", "barrier", "name")
_RAIL_PATTERN = r"rail|铁路|铁道|轨道"
_WATER_PATTERN = r"river|water|canal|stream|lake|ditch|河|江|湖|渠|水|溪"
_EMPTY_FC = '{"type":"FeatureCollection","features":[]}'

#: One short glyph per category for the facility icons: zh, en.
GLYPHS: Mapping[str, tuple[str, str]] = {
    "kindergarten": ("幼", "K"),
    "nursery": ("托", "N"),
    "elderly_day_care": ("老", "E"),
    "elderly_home": ("养", "EH"),
    "clinic": ("卫", "C"),
    "health_center": ("医", "H"),
    "service_station": ("服", "S"),
    "canteen": ("食", "Ca"),
    "fitness": ("健", "F"),
    "sports_ground": ("运", "Sp"),
    "culture_station": ("文", "Cu"),
    "food_market": ("菜", "M"),
    "convenience_store": ("便", "CS"),
    "parking": ("P", "P"),
    "ev_charging": ("充", "EV"),
    "primary_school": ("小", "PS"),
    "middle_school": ("中", "MS"),
    "public_toilet": ("厕", "WC"),
}

#: User-facing texts of the map by language (layer names, legend, popups, units), from text.json;
#: the map's script reads them from the embedded data (``meta.text``).
_TEXT: Mapping[str, Mapping[str, Any]] = json.loads(
    (resources.files(__name__) / "text.json").read_text(encoding="utf-8")
)

_VENDOR = Path(__file__).parent / "_vendor"
_VENDOR_CSS = (
    "leaflet/leaflet.css",
    "leaflet.markercluster/MarkerCluster.css",
    "leaflet.markercluster/MarkerCluster.Default.css",
    "leaflet.fullscreen/Control.FullScreen.css",
    "leaflet-search/dist/leaflet-search.min.css",
)
_VENDOR_JS = (
    "leaflet/leaflet.js",
    "leaflet.markercluster/leaflet.markercluster.js",
    "leaflet.fullscreen/Control.FullScreen.js",
    "leaflet-search/dist/leaflet-search.min.js",
)
_MIME = {".png": "image/png", ".gif": "image/gif", ".svg": "image/svg+xml"}

_TIANDITU_URL = (
    "https://t{s}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile"
    "&VERSION=1.0.0&LAYER={layer}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles"
    "&TILEMATRIX={{z}}&TILEROW={{y}}&TILECOL={{x}}&tk={key}"
)
_CARTO_URL = "https://{s}.basemaps.cartocdn.com/light_all/{z}/{x}/{y}{r}.png"
_AMAP_URL = (
    "https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1"
    "&style=8&x={x}&y={y}&z={z}"
)


# --------------------------------------------------------------------------- front-end files
@functools.cache
def _front_end(name: str) -> str:
    """``map.js`` or ``map.css`` as inlined: the file beside this module without its header.

    The header is the file's leading comment lines (starting ``//`` or ``/*``); it describes the
    file for its readers and is not copied into every map.
    """
    text = (resources.files(__name__) / name).read_text(encoding="utf-8")
    body = re.sub(r"\A(?:(?://|/\*)[^\n]*\n)+", "", text)
    if re.search(r"\{[{%#]|</script|</style", body, flags=re.IGNORECASE):  # pragma: no cover
        raise RuntimeError(
            f"{name} contains a Jinja delimiter or a closing script/style tag and cannot be inlined"
        )
    return body


# --------------------------------------------------------------------------- vendored assets
@functools.cache
def _vendor_assets() -> str:
    """Leaflet and plugin CSS + JS inlined as one HTML fragment (images as data URIs)."""

    def inline_url(match: re.Match[str], base: Path) -> str:
        ref = match.group(1).strip("'\"")
        target = (base / ref).resolve()
        if ref.startswith(("#", "data:")) or target.suffix not in _MIME or not target.is_file():
            return match.group(0)
        data = base64.b64encode(target.read_bytes()).decode("ascii")
        return f"url(data:{_MIME[target.suffix]};base64,{data})"

    parts = []
    for rel in _VENDOR_CSS:
        path = _VENDOR / rel
        css = re.sub(
            r"url\(([^)]*)\)",
            lambda m, b=path.parent: inline_url(m, b),
            path.read_text(encoding="utf-8"),
        )
        parts.append(f"<style>/* {rel} */\n{css}\n</style>")
    for rel in _VENDOR_JS:
        js = (_VENDOR / rel).read_text(encoding="utf-8")
        if "</script" in js.lower():  # pragma: no cover - vendored files are checked
            raise RuntimeError(f"vendored {rel} contains '</script' and cannot be inlined")
        parts.append(f"<script>/* {rel} */\n{js}\n</script>")
    return "\n".join(parts)


# --------------------------------------------------------------------------- helpers
def _as_work_crs(gdf: gpd.GeoDataFrame | None, crs: Any, layer: str) -> gpd.GeoDataFrame | None:
    """Return ``gdf`` in the compounds' CRS (None or empty stays None)."""
    if gdf is None or len(gdf) == 0:
        return None
    if gdf.crs is None:
        raise CRSError(f"{layer}: layer has no CRS; set one (e.g. gdf.set_crs('EPSG:4548'))")
    if gdf.crs != crs:
        logger.info(
            "maps: reprojecting %s (%d rows) from %s to %s",
            layer,
            len(gdf),
            gdf.crs.to_string(),
            crs.to_string(),
        )
        gdf = gdf.to_crs(crs)
    return gdf


def _display_geometry(gdf: gpd.GeoDataFrame, *, gcj02: bool) -> np.ndarray:
    """Simplify in the metric CRS, convert to lon/lat (GCJ-02 if asked) and round."""
    geoms = shapely.simplify(
        np.asarray(gdf.geometry.values, dtype=object), SIMPLIFY_TOLERANCE_M, preserve_topology=True
    )
    lonlat = gpd.GeoSeries(geoms, crs=gdf.crs).to_crs(4326).values
    arr = np.asarray(lonlat, dtype=object)
    if gcj02:
        arr = transform_geometries(arr, wgs84_to_gcj02)
    return shapely.transform(arr, lambda c: np.round(c, COORD_DECIMALS))


def _json_lines(props: pd.DataFrame) -> pd.Series:
    """One compact JSON object per row (NaN -> null), as a Series of str."""
    if props.shape[1] == 0:
        return pd.Series(["{}"] * len(props), index=props.index, dtype=object)
    text = props.reset_index(drop=True).to_json(
        orient="records", lines=True, force_ascii=False, double_precision=6
    )
    lines = text.rstrip("\n").split("\n") if len(props) else []
    return pd.Series(lines, index=props.index, dtype=object)


def _json_rows(values: np.ndarray, *, decimals: int = 4) -> pd.Series:
    """JSON arrays, one per row of a 2-D float array (NaN -> null)."""
    if values.shape[0] == 0:
        return pd.Series([], dtype=object)
    text = pd.DataFrame(values).to_json(orient="values", double_precision=decimals)
    inner = text[2:-2]
    rows = inner.split("],[") if values.shape[1] else [""] * values.shape[0]
    return pd.Series(["[" + r + "]" for r in rows], dtype=object)


def _feature_collection(
    geoms: np.ndarray, props: pd.DataFrame, extra: Mapping[str, pd.Series] | None = None
) -> str:
    """A GeoJSON FeatureCollection string from lon/lat geometries and a property table."""
    if len(props) == 0:
        return _EMPTY_FC
    obj = _json_lines(props).to_numpy(dtype=object)
    obj = np.array([s[:-1] for s in obj], dtype=object)  # strip the closing brace
    for key, series in (extra or {}).items():
        sep = np.where(obj == "{", "", ",").astype(object)
        obj = obj + sep + f'"{key}":' + series.to_numpy(dtype=object)
    geo = shapely.to_geojson(geoms)
    features = '{"type":"Feature","properties":' + obj + '},"geometry":' + geo.astype(object) + "}"
    return '{"type":"FeatureCollection","features":[' + ",".join(features.tolist()) + "]}"


def _nullable_int(series: pd.Series) -> pd.Series:
    return pd.to_numeric(series, errors="coerce").round().astype("Int64")


def _text_or_none(series: pd.Series) -> pd.Series:
    out = series.astype(object)
    return out.where(out.notna(), None).map(lambda v: None if v is None else str(v))


def _category_order(*tables: pd.DataFrame | None) -> list[str]:
    found: set[str] = set()
    for table in tables:
        if table is not None and len(table) and S.CATEGORY in table.columns:
            found.update(str(c) for c in table[S.CATEGORY].dropna().unique())
    known = [c for c in S.CATEGORIES if c in found]
    return known + sorted(found - set(known))


def _category_label(key: str, lang: str) -> str:
    return category_name(key, lang)


def district_colors(
    districts: gpd.GeoDataFrame,
    *,
    id_column: str = S.DISTRICT_ID,
    distance_m: float = NEIGHBOUR_DISTANCE_M,
    n_colors: int = len(PALETTE),
) -> pd.Series:
    """Colour index per district: neighbours differ and the palette is used evenly.

    Districts closer than ``distance_m`` are neighbours (the default, 250 m, reaches
    across arterial streets, so districts that face each other across a street
    differ too). Districts are coloured in order of decreasing neighbour count
    (ties by row order); each takes the least-used of the ``n_colors`` palette
    colours that no coloured neighbour has (ties by index). Only when every palette
    colour is taken by a neighbour does a district get an index ``>= n_colors``
    (logged as a warning; the map then repeats colours). Deterministic.

    Parameters
    ----------
    districts : GeoDataFrame
        District polygons in a metric CRS, with ``id_column``.
    id_column : str
        Column holding the district id.
    distance_m : float
        Neighbour distance (m).
    n_colors : int
        Palette size to balance over.

    Returns
    -------
    pandas.Series
        Integer colour index (0, 1, ...) aligned to ``districts.index``.

    Examples
    --------
    Five districts of the bundled sample, separated by arterial streets, get five
    colours: ``district_colors(districts).tolist() == [4, 0, 1, 2, 3]``. Its two
    subdistricts share the palette evenly:

    >>> import geopandas as gpd
    >>> from renogis.datasets import sample_path
    >>> compounds = gpd.read_file(sample_path(), layer="compounds")
    >>> district_colors(compounds.dissolve("subdistrict").reset_index()).tolist()
    [0, 1]
    """
    geoms = np.asarray(districts.geometry.values, dtype=object)
    n = len(geoms)
    if n == 0:
        return pd.Series([], index=districts.index, dtype="int64")
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="dwithin", distance=distance_m)
    keep = left != right
    adj = sparse.csr_matrix(
        (np.ones(int(keep.sum()), dtype=np.int8), (left[keep], right[keep])), shape=(n, n)
    )
    adj.sum_duplicates()
    degree = np.diff(adj.indptr)
    order = np.argsort(-degree, kind="stable")
    colors = np.full(n, -1, dtype=np.int64)
    used = np.zeros(n_colors, dtype=np.int64)
    for node in order:  # sequential by nature; each step is a few array operations
        nbr = colors[adj.indices[adj.indptr[node] : adj.indptr[node + 1]]]
        nbr = nbr[nbr >= 0]
        taken = np.zeros(max(n_colors, int(nbr.max(initial=-1)) + 2), dtype=bool)
        taken[nbr] = True
        free = np.flatnonzero(~taken[:n_colors])
        if len(free):
            colour = int(free[np.argmin(used[free])])  # argmin: first (lowest index) on ties
            used[colour] += 1
        else:
            colour = int(np.flatnonzero(~taken)[0])
        colors[node] = colour
    out = pd.Series(colors, index=districts.index, dtype="int64")
    if out.max() >= n_colors:
        logger.warning(
            "maps: district colouring needs %d colours; the palette has %d, colours repeat",
            int(out.max()) + 1,
            n_colors,
        )
    return out


# --------------------------------------------------------------------------- layer data
def _compound_data(
    compounds: gpd.GeoDataFrame,
    geoms: np.ndarray,
    *,
    categories: list[str],
    district_color: Mapping[str, int],
    access: pd.DataFrame | None,
    gaps: pd.DataFrame | None,
) -> str:
    ids = compounds[S.COMPOUND_ID].astype(str)
    names = (
        _text_or_none(compounds[S.NAME])
        if S.NAME in compounds.columns
        else pd.Series([None] * len(ids), index=compounds.index, dtype=object)
    )
    names = names.where(names.notna() & (names.astype(str).str.len() > 0), ids)
    props = pd.DataFrame(
        {"i": ids, "n": names, "h": _nullable_int(compounds[S.HOUSEHOLDS])},
        index=compounds.index,
    )
    for key, col in (("b", S.BUILDINGS), ("a", S.FLOOR_AREA_M2), ("y", S.BUILT_YEAR)):
        if col in compounds.columns:
            props[key] = _nullable_int(compounds[col])
    if S.DISTRICT_ID in compounds.columns:
        did = _text_or_none(compounds[S.DISTRICT_ID])
        props["d"] = did
        props["c"] = _nullable_int(did.map(district_color))
    if S.EXCLUDED_REASON in compounds.columns:
        props["r"] = _text_or_none(compounds[S.EXCLUDED_REASON])

    extra: dict[str, pd.Series] = {}
    if categories and access is not None and len(access):
        acc = access.drop_duplicates([S.COMPOUND_ID, S.CATEGORY], keep="first").copy()
        acc[S.COMPOUND_ID] = acc[S.COMPOUND_ID].astype(str)
        dist = acc.pivot(index=S.COMPOUND_ID, columns=S.CATEGORY, values=_ACC_DISTANCE).reindex(
            index=ids.to_numpy(), columns=categories
        )
        extra["ds"] = _json_rows(np.round(dist.to_numpy(dtype=float)), decimals=0)
        if _ACC_WITHIN in acc.columns:
            acc["_w"] = acc[_ACC_WITHIN].astype("float")
            within = acc.pivot(index=S.COMPOUND_ID, columns=S.CATEGORY, values="_w").reindex(
                index=ids.to_numpy(), columns=categories
            )
            extra["w"] = _json_rows(within.to_numpy(dtype=float), decimals=0)
    if categories and gaps is not None and len(gaps):
        cg = gaps[gaps[_GAP_LEVEL] == "compound"].drop_duplicates([_GAP_UNIT, S.CATEGORY]).copy()
        if len(cg):
            cg[_GAP_UNIT] = cg[_GAP_UNIT].astype(str)
            unc = cg.pivot(
                index=_GAP_UNIT, columns=S.CATEGORY, values="uncovered_households"
            ).reindex(index=ids.to_numpy(), columns=categories)
            extra["u"] = _json_rows(np.round(unc.to_numpy(dtype=float)), decimals=0)
            if "w" not in extra:  # coverage from the gap table when no access table
                u = unc.to_numpy(dtype=float)
                extra["w"] = _json_rows(
                    np.where(np.isnan(u), np.nan, (u <= 0).astype(float)), decimals=0
                )
    return _feature_collection(geoms, props, extra)


def _district_data(
    districts: gpd.GeoDataFrame,
    geoms: np.ndarray,
    *,
    colors: pd.Series,
    categories: list[str],
    gaps: pd.DataFrame | None,
    siting: gpd.GeoDataFrame | None,
    gcj02: bool,
) -> str:
    ids = districts[S.DISTRICT_ID].astype(str)
    cat_index = {c: i for i, c in enumerate(categories)}
    extra: dict[str, pd.Series] = {"lp": _district_label_points(districts, gcj02=gcj02)}
    if gaps is not None and len(gaps):
        extra["g"] = _district_gap_rows(gaps, ids, cat_index)
    if siting is not None and len(siting):
        extra["st"] = _district_site_rows(siting, districts, ids, cat_index)
    return _feature_collection(geoms, _district_properties(districts, ids, colors), extra)


def _district_properties(
    districts: gpd.GeoDataFrame, ids: pd.Series, colors: pd.Series
) -> pd.DataFrame:
    """Id, colour, area (m²), the district table's counts and its flags/reason as text."""
    props = pd.DataFrame(
        {
            "i": ids,
            "c": colors.astype("Int64"),
            "ar": _nullable_int(pd.Series(districts.geometry.area, index=districts.index)),
        },
        index=districts.index,
    )
    for key, col in (
        ("h", S.HOUSEHOLDS),
        ("n", "n_compounds"),
        ("b", S.BUILDINGS),
        ("a", S.FLOOR_AREA_M2),
        ("ia", "idle_area_m2"),
        ("wm", "wall_m"),
    ):
        if col in districts.columns:
            props[key] = _nullable_int(districts[col])
    for key, col in (("f", "flags"), ("rs", "reason")):
        if col in districts.columns:
            props[key] = districts[col].map(
                lambda v: (
                    None
                    if v is None or (isinstance(v, float) and np.isnan(v))
                    else ("; ".join(map(str, v)) if isinstance(v, (list, tuple, set)) else str(v))
                )
            )
    return props


def _district_label_points(districts: gpd.GeoDataFrame, *, gcj02: bool) -> pd.Series:
    """[lat, lon] of each district's label, as JSON arrays.

    The centroid when it lies in (or within 20 m of) the district, else a point on it.
    """
    metric = np.asarray(districts.geometry.values, dtype=object)
    centroid = shapely.centroid(metric)
    label = np.where(
        shapely.dwithin(metric, centroid, 20.0), centroid, shapely.point_on_surface(metric)
    )
    label_ll = _display_geometry(gpd.GeoDataFrame(geometry=label, crs=districts.crs), gcj02=gcj02)
    xy = shapely.get_coordinates(label_ll)
    return _json_rows(xy[:, ::-1], decimals=COORD_DECIMALS)


def _district_gap_rows(
    gaps: pd.DataFrame, ids: pd.Series, cat_index: Mapping[str, int]
) -> pd.Series:
    """The district-level gap rows of each district (``ids`` order), as JSON arrays.

    Each row: [category index, coverage share (0-1, 3 decimals), uncovered households, demand,
    supply, shortfall (whole units), demand unit].
    """
    dg = gaps[gaps[_GAP_LEVEL] == "district"]
    cols = ["coverage_share", "uncovered_households", "demand", "supply", "shortfall"]
    rows: dict[str, list[Any]] = {}
    for rec in dg.to_dict("records"):  # a few rows per district
        cat = str(rec[S.CATEGORY])
        vals = [
            None if pd.isna(rec.get(c)) else round(float(rec[c]), 3 if j == 0 else None)
            for j, c in enumerate(cols)
        ]
        unit = rec.get(_GAP_DEMAND_UNIT)
        unit = None if unit is None or pd.isna(unit) else str(unit)
        rows.setdefault(str(rec[_GAP_UNIT]), []).append([cat_index.get(cat, -1), *vals, unit])
    return pd.Series([json.dumps(rows.get(i, [])) for i in ids], dtype=object)


def _district_site_rows(
    siting: gpd.GeoDataFrame,
    districts: gpd.GeoDataFrame,
    ids: pd.Series,
    cat_index: Mapping[str, int],
) -> pd.Series:
    """The chosen sites in each district (``ids`` order), as JSON arrays.

    Each row: [parcel id, category index, newly covered households].
    """
    site_district = _site_districts(siting, districts)
    sites: dict[str, list[Any]] = {}
    newly = (
        _nullable_int(siting[_SITING_NEW])
        if _SITING_NEW in siting.columns
        else pd.Series(pd.NA, index=siting.index, dtype="Int64")
    )
    for did, pid, cat, nc in zip(  # one row per chosen site
        site_district, siting[S.PARCEL_ID], siting[S.CATEGORY], newly, strict=True
    ):
        if did is None:
            continue
        sites.setdefault(did, []).append(
            [str(pid), cat_index.get(str(cat), -1), None if pd.isna(nc) else int(nc)]
        )
    return pd.Series([json.dumps(sites.get(i, []), ensure_ascii=False) for i in ids], dtype=object)


def _site_districts(siting: gpd.GeoDataFrame, districts: gpd.GeoDataFrame) -> list[str | None]:
    """District of each chosen site (aligned to ``siting`` rows; None when in none).

    The siting table's own ``district_id`` wins when it has one (the proposal sheets list
    the site there); otherwise the district containing the site's representative point,
    the lowest id when districts overlap (a compound covering others). Only the id and
    geometry columns take part in the join, so no column of ``siting`` (``district_id``
    included) gets suffixed.
    """
    own = (
        siting[S.DISTRICT_ID]
        if S.DISTRICT_ID in siting.columns
        else pd.Series([None] * len(siting), index=siting.index, dtype=object)
    )
    pts = gpd.GeoDataFrame(
        {"_pos": np.arange(len(siting))},
        geometry=siting.geometry.representative_point().to_numpy(),
        crs=siting.crs,
    )
    area = gpd.GeoDataFrame(
        {"_did": districts[S.DISTRICT_ID].astype(str).to_numpy()},
        geometry=districts.geometry.to_numpy(),
        crs=districts.crs,
    )
    joined = gpd.sjoin(pts, area, how="inner", predicate="within")
    first = joined.sort_values(["_pos", "_did"]).drop_duplicates("_pos")
    inside = dict(zip(first["_pos"].tolist(), first["_did"].tolist(), strict=True))
    return [inside.get(i) if pd.isna(o) else str(o) for i, o in enumerate(own.tolist())]


def _simple_data(
    gdf: gpd.GeoDataFrame,
    geoms: np.ndarray,
    columns: Mapping[str, str],
    *,
    categories: list[str] | None = None,
    ints: Sequence[str] = (),
) -> str:
    props = pd.DataFrame(index=gdf.index)
    for key, col in columns.items():
        if col not in gdf.columns:
            continue
        if key in ints:
            props[key] = _nullable_int(gdf[col])
        elif col == S.CATEGORY and categories is not None:
            props[key] = gdf[col].astype(str).map({c: i for i, c in enumerate(categories)})
        elif pd.api.types.is_numeric_dtype(gdf[col]):
            props[key] = pd.to_numeric(gdf[col], errors="coerce").round(3)
        else:
            props[key] = _text_or_none(gdf[col])
    return _feature_collection(geoms, props)


def _parcel_data(parcels: gpd.GeoDataFrame, *, gcj02: bool) -> str:
    """Idle parcels: id, kind, land and floor area (m², whole)."""
    return _simple_data(
        parcels,
        _display_geometry(parcels, gcj02=gcj02),
        {"i": S.PARCEL_ID, "k": S.KIND, "a": S.AREA_M2, "fa": S.FLOOR_AREA_M2},
        ints=("a", "fa"),
    )


def _facility_data(
    facilities: gpd.GeoDataFrame, *, categories: list[str], gcj02: bool
) -> str:
    """Existing facilities as points (representative points): id, category, name, capacity."""
    pts = facilities.copy()
    pts = pts.set_geometry(pts.geometry.representative_point())
    return _simple_data(
        pts,
        _display_geometry(pts, gcj02=gcj02),
        {"i": S.FACILITY_ID, "k": S.CATEGORY, "n": S.NAME, "cap": S.CAPACITY},
        categories=categories,
    )


def _service_area_data(
    service_areas: gpd.GeoDataFrame, *, categories: list[str], gcj02: bool
) -> str:
    """Service areas: one (multi)polygon per category and radius (m).

    Overlapping per-facility areas of one category and radius are merged.
    """
    keys = [S.CATEGORY] + ([_ACC_RADIUS] if _ACC_RADIUS in service_areas.columns else [])
    if service_areas.duplicated(keys).any():
        service_areas = (
            service_areas[[*keys, service_areas.geometry.name]]
            .dissolve(by=keys, sort=False)
            .reset_index()
        )
    return _simple_data(
        service_areas,
        _display_geometry(service_areas, gcj02=gcj02),
        {"k": S.CATEGORY, "r": _ACC_RADIUS},
        categories=categories,
        ints=("r",),
    )


def _siting_data(siting: gpd.GeoDataFrame, *, categories: list[str], gcj02: bool) -> str:
    """Proposed sites: parcel, category, households newly covered, coverage, capacity, shortfall."""
    return _simple_data(
        siting,
        _display_geometry(siting, gcj02=gcj02),
        {
            "i": S.PARCEL_ID,
            "k": S.CATEGORY,
            "nc": _SITING_NEW,
            "cc": _SITING_CUM,
            "cap": "capacity",
            "cu": "capacity_unit",
            "ch": "capacity_households",
            "fa": "facility_area_m2",
            "sa": "shortfall_after",
        },
        categories=categories,
        ints=("nc", "cap", "ch", "fa", "sa"),
    )


def _street_data(streets: gpd.GeoDataFrame, *, gcj02: bool) -> str:
    """Merge the streets into one feature per class and name.

    Properties: ``k`` (index in STREET_CLASSES) and ``n`` (the name, None when unnamed).
    The layer takes no clicks (hovering shows the name and class), so merging keeps the
    HTML small and the canvas fast: no per-way properties, no repeated junction vertices.
    Higher classes come last so they are drawn on top.
    """
    if S.STREET_CLASS in streets.columns:
        raw = streets[S.STREET_CLASS]
        lookup = {v: S.normalise_street_class(v) for v in raw.dropna().unique()}
        cls = raw.map(lookup).fillna(_DEFAULT_STREET_CLASS)
    else:
        cls = pd.Series(_DEFAULT_STREET_CLASS, index=streets.index)
    rank = {name: k for k, name in enumerate(S.STREET_CLASSES)}
    key = cls.map(rank).fillna(rank[_DEFAULT_STREET_CLASS]).astype("int64").to_numpy()
    if S.NAME in streets.columns:
        names = _text_or_none(streets[S.NAME]).to_numpy(dtype=object)
        names = np.array(
            ["" if n is None or pd.isna(n) else str(n).strip() for n in names], dtype=object
        )
    else:
        names = np.full(len(streets), "", dtype=object)
    geoms = np.asarray(streets.geometry.values, dtype=object)
    order = pd.DataFrame({"k": key, "n": names}).groupby(["k", "n"], sort=False).indices
    merged, keys, labels = [], [], []
    for k, name in sorted(order, key=lambda kn: (-int(kn[0]), kn[1])):
        parts = shapely.get_parts(geoms[order[(k, name)]])
        parts = parts[shapely.get_type_id(parts) == 1]  # LineStrings only
        if len(parts):
            merged.append(shapely.line_merge(shapely.multilinestrings(parts)))
            keys.append(int(k))
            labels.append(name or None)
    if not merged:
        return _EMPTY_FC
    frame = gpd.GeoDataFrame({"k": keys, "n": labels}, geometry=merged, crs=streets.crs)
    props = frame[["k", "n"]] if frame["n"].notna().any() else frame[["k"]]
    return _feature_collection(_display_geometry(frame, gcj02=gcj02), props)


def _network_part_data(parts: gpd.GeoDataFrame, *, gcj02: bool) -> str:
    """Cut-off parts of the street network: lines (or areas) with whatever describes them.

    Optional columns: ``street_id`` (or ``part_id``/``component``), ``name``, ``length_m``
    (else measured), ``households`` and ``n_compounds`` (who are stranded there).
    """
    props = pd.DataFrame(index=parts.index)
    for key, cols in (
        ("i", (S.STREET_ID, "part_id", "component")),
        ("n", (S.NAME,)),
    ):
        col = next((c for c in cols if c in parts.columns), None)
        if col is not None:
            props[key] = _text_or_none(parts[col])
    length = (
        parts["length_m"]
        if "length_m" in parts.columns
        else pd.Series(parts.geometry.length, index=parts.index)
    )
    props["l"] = _nullable_int(length)
    for key, col in (("h", S.HOUSEHOLDS), ("nc", "n_compounds")):
        if col in parts.columns:
            props[key] = _nullable_int(parts[col])
    return _feature_collection(_display_geometry(parts, gcj02=gcj02), props)


def _barrier_kinds(barriers: gpd.GeoDataFrame) -> pd.Series:
    """0 water (the default), 1 railway, 2 other (wall, closed site), from descriptive columns."""
    cols = [c for c in _BARRIER_TEXT_COLUMNS if c in barriers.columns]
    kind = pd.Series(0, index=barriers.index, dtype="int64")
    if not cols:
        return kind
    text = pd.Series("", index=barriers.index, dtype=object)
    for col in cols:
        text = text + " " + barriers[col].where(barriers[col].notna(), "").astype(str)
    text = text.str.lower()
    rail = text.str.contains(_RAIL_PATTERN, regex=True)
    water = text.str.contains(_WATER_PATTERN, regex=True)
    described = text.str.strip().str.len() > 0
    kind[described & ~rail & ~water] = 2
    kind[rail] = 1
    return kind


def _barrier_data(barriers: gpd.GeoDataFrame, *, gcj02: bool) -> str:
    props = pd.DataFrame({"k": _barrier_kinds(barriers)}, index=barriers.index)
    return _feature_collection(_display_geometry(barriers, gcj02=gcj02), props)


class _Raw(Element):
    """Literal HTML that bypasses jinja (large data and minified JS are not templates)."""

    def __init__(self, text: str) -> None:
        super().__init__("")
        self._text = text

    def render(self, **kwargs: Any) -> str:
        return self._text


class _RenogisLayers(MacroElement):
    """Embeds the layer data once and builds the Leaflet layers from it in the browser (map.js)."""

    _template = Template(
        "{% macro html(this, kwargs) %}{{ this.style_html }}{% endmacro %}"
        "{% macro script(this, kwargs) %}{{ this.script_js }}{% endmacro %}"
    )

    def __init__(
        self, *, map_name: str, groups: Mapping[str, folium.FeatureGroup], data_json: str
    ) -> None:
        super().__init__()
        self._name = "RenogisLayers"
        self.map_name = map_name
        self.data_id = f"renogis-data-{map_name}"
        self.groups_js = (
            "{" + ",".join(f"{json.dumps(k)}: {fg.get_name()}" for k, fg in groups.items()) + "}"
        )
        self.data_json = data_json
        self.style_html = "\n<style>\n" + _front_end("map.css") + "</style>\n"
        self.script_js = "\n" + (
            _front_end("map.js")
            .replace("RENOGIS_MAP_NAME", map_name)
            .replace("RENOGIS_GROUPS", self.groups_js)
            .replace("RENOGIS_DATA_ID", self.data_id)
        )

    def render(self, **kwargs: Any) -> None:
        figure = self.get_root()
        figure.html.add_child(
            _Raw(f'<script type="application/json" id="{self.data_id}">{self.data_json}</script>'),
            name=f"{self.get_name()}_data",
        )
        super().render(**kwargs)


# --------------------------------------------------------------------------- public API
def build_map(
    compounds: gpd.GeoDataFrame,
    *,
    districts: gpd.GeoDataFrame | None = None,
    parcels: gpd.GeoDataFrame | None = None,
    facilities: gpd.GeoDataFrame | None = None,
    access: pd.DataFrame | None = None,
    gaps: pd.DataFrame | None = None,
    service_areas: gpd.GeoDataFrame | None = None,
    siting: gpd.GeoDataFrame | None = None,
    streets: gpd.GeoDataFrame | None = None,
    barriers: gpd.GeoDataFrame | None = None,
    network_parts: gpd.GeoDataFrame | None = None,
    tiles: str = "osm",
    lang: str = "zh",
    title: str | None = None,
) -> folium.Map:
    """Build an interactive planning map of compounds, districts, facilities and gaps.

    All inputs are in one projected metric CRS; this function simplifies the
    geometry for display (0.5 m), converts to WGS84 lon/lat (GCJ-02 for
    ``tiles="amap"``) and rounds to 6 decimals (about 0.1 m). Leaflet and its
    plugins are inlined, so the saved HTML needs no network except for tiles.

    Parameters
    ----------
    compounds : GeoDataFrame
        ``compound_id``, ``households`` and optionally ``name``, ``buildings``,
        ``floor_area_m2`` (m²), ``built_year``, ``district_id`` (None for
        excluded compounds) and ``excluded_reason``.
    districts : GeoDataFrame, optional
        ``district_id`` and district polygons, with optional ``n_compounds``,
        ``households``, ``buildings``, ``floor_area_m2``, ``idle_area_m2``,
        ``wall_m`` (m), ``flags`` and ``reason``. When None and compounds carry
        ``district_id``, outlines are dissolved from the compounds.
    parcels : GeoDataFrame, optional
        Idle parcels: ``parcel_id``, ``kind``, ``area_m2``, ``floor_area_m2``.
    facilities : GeoDataFrame, optional
        ``facility_id``, ``category``, ``name``, ``capacity``; points.
    access : DataFrame, optional
        Per compound and category: ``distance_m`` (m, walking), ``radius_m``,
        ``within_radius``.
    gaps : DataFrame, optional
        Gap table with ``level`` ('compound' or 'district'), ``unit_id``,
        ``category``, ``uncovered_households``, ``coverage_share``, ``demand``,
        ``supply``, ``shortfall``.
    service_areas : GeoDataFrame, optional
        ``category``, ``radius_m`` and the walkable service-area polygons.
    siting : GeoDataFrame, optional
        Chosen parcels: ``parcel_id``, ``category``,
        ``newly_covered_households``, ``cumulative_coverage`` (0-1), and optional
        ``capacity`` in ``capacity_unit``, ``capacity_households``,
        ``facility_area_m2`` and ``shortfall_after`` (shown rounded, with units).
    streets : GeoDataFrame, optional
        Street centre lines with ``class`` (arterial, secondary, local, path;
        other values are normalised as in ``renogis.schema``, unknown ones drawn
        as local) and optional ``name``. Drawn as context below the compounds,
        wider and darker for higher classes, not clickable (hovering shows the
        name and class from zoom ``STREET_HOVER_MIN_ZOOM`` up); merged into one
        feature per class and name for display.
    barriers : GeoDataFrame, optional
        Rivers, railways, walls: lines or polygons. Drawn below the streets;
        blue (polygons filled light blue) unless a ``kind``/``type``/``railway``/
        ``name`` column says railway (dark dashed) or something else (grey).
    network_parts : GeoDataFrame, optional
        Parts of the street network cut off from the walk network (nobody walking
        from the main network reaches them), e.g. the streets of
        ``WalkNetwork.report["dropped_street_ids"]``: lines or areas, with optional
        ``street_id``/``part_id``/``component``, ``name``, ``length_m`` (else
        measured), ``households`` and ``n_compounds``. Drawn as a magenta dashed
        layer with the length and who is stranded on hover.
    tiles : {"osm", "cartodb", "amap", "tianditu", "none"}
        Basemap. "amap" shifts geometries to GCJ-02; "tianditu" needs the
        ``TIANDITU_KEY`` environment variable; "none" draws no tiles.
    lang : {"zh", "en"}
        Language of layer names, legend and popups.
    title : str, optional
        Map title (a default in ``lang`` otherwise).

    Returns
    -------
    folium.Map
        The map; ``write_map`` saves it.

    Raises
    ------
    InputError
        Unknown ``tiles`` or ``lang``, missing columns, empty compounds, or
        "tianditu" without a key.
    CRSError
        A layer without a CRS, or compounds in a geographic (degree) CRS.

    Examples
    --------
    The bundled sample's compounds and facilities, with no tiles (the file needs no network):

    >>> import geopandas as gpd
    >>> from renogis.datasets import sample_path
    >>> compounds = gpd.read_file(sample_path(), layer="compounds")
    >>> facilities = gpd.read_file(sample_path(), layer="facilities")
    >>> m = build_map(compounds, facilities=facilities, tiles="none", lang="en")
    >>> "<title>Renovation districts of old residential compounds</title>" in m.get_root().render()
    True
    """
    tianditu_key = _check_options(tiles=tiles, lang=lang)
    layers = _work_layers(
        compounds,
        districts=districts,
        parcels=parcels,
        facilities=facilities,
        access=access,
        gaps=gaps,
        service_areas=service_areas,
        siting=siting,
        streets=streets,
        barriers=barriers,
        network_parts=network_parts,
    )
    gcj = tiles == "amap"
    categories = _category_order(
        layers.facilities, layers.access, layers.gaps, layers.service_areas, layers.siting
    )
    gap_categories = _coverage_categories(categories, access=layers.access, gaps=layers.gaps)
    colors = (
        district_colors(layers.districts)
        if layers.districts is not None
        else pd.Series([], dtype="int64")
    )
    comp_lonlat = _display_geometry(layers.compounds, gcj02=gcj)
    bounds = shapely.total_bounds(comp_lonlat)
    parts = _layer_data(layers, comp_lonlat, colors=colors, categories=categories, gcj02=gcj)
    meta = _meta(
        layers,
        bounds=bounds,
        colors=colors,
        categories=categories,
        has_gaps=bool(gap_categories),
        lang=lang,
        title=title,
    )
    data_json = _data_json(meta, parts)
    fmap = _base_map(bounds, title=str(meta["title"]), tiles=tiles, lang=lang, key=tianditu_key)
    groups = _feature_groups(
        fmap, layers, categories=categories, gap_categories=gap_categories, lang=lang
    )
    _RenogisLayers(map_name=fmap.get_name(), groups=groups, data_json=data_json).add_to(fmap)
    folium.LayerControl(collapsed=len(groups) > 12).add_to(fmap)
    logger.info(
        "maps: %d compounds, %d districts, %d facilities, %d streets, %d layers, %.1f MB of data",
        len(layers.compounds),
        0 if layers.districts is None else len(layers.districts),
        0 if layers.facilities is None else len(layers.facilities),
        0 if layers.streets is None else len(layers.streets),
        len(groups),
        len(data_json) / 1e6,
    )
    return fmap


# --------------------------------------------------------------------------- build_map phases
@dataclass(frozen=True)
class _Layers:
    """The map's inputs, checked and in the compounds' metric CRS (None: absent or empty).

    ``districts`` are dissolved from the compounds' ``district_id`` when none were given.
    """

    compounds: gpd.GeoDataFrame
    districts: gpd.GeoDataFrame | None
    parcels: gpd.GeoDataFrame | None
    facilities: gpd.GeoDataFrame | None
    access: pd.DataFrame | None
    gaps: pd.DataFrame | None
    service_areas: gpd.GeoDataFrame | None
    siting: gpd.GeoDataFrame | None
    streets: gpd.GeoDataFrame | None
    barriers: gpd.GeoDataFrame | None
    network_parts: gpd.GeoDataFrame | None

    @property
    def has_districts(self) -> bool:
        """Whether the compounds carry a ``district_id`` column."""
        return S.DISTRICT_ID in self.compounds.columns


def _check_options(*, tiles: str, lang: str) -> str | None:
    """Check ``tiles`` and ``lang``; return the Tianditu key (None for other tiles)."""
    if tiles not in TILES:
        raise InputError(f"unknown tiles {tiles!r}; use one of {', '.join(TILES)}")
    if lang not in _TEXT:
        raise InputError(f"unknown lang {lang!r}; use 'zh' or 'en'")
    if tiles != "tianditu":
        return None
    key = os.environ.get("TIANDITU_KEY", "").strip()
    if not key:
        raise InputError(
            "tiles='tianditu' needs a Tianditu API key: get one at console.tianditu.gov.cn and "
            "set the environment variable TIANDITU_KEY (e.g. export TIANDITU_KEY=...), "
            "or use tiles='osm', 'cartodb', 'amap' or 'none'"
        )
    return key


def _work_layers(
    compounds: gpd.GeoDataFrame,
    *,
    districts: gpd.GeoDataFrame | None,
    parcels: gpd.GeoDataFrame | None,
    facilities: gpd.GeoDataFrame | None,
    access: pd.DataFrame | None,
    gaps: pd.DataFrame | None,
    service_areas: gpd.GeoDataFrame | None,
    siting: gpd.GeoDataFrame | None,
    streets: gpd.GeoDataFrame | None,
    barriers: gpd.GeoDataFrame | None,
    network_parts: gpd.GeoDataFrame | None,
) -> _Layers:
    """Check the layers, bring them into the compounds' CRS and fill in missing districts."""
    if compounds is None or len(compounds) == 0:
        raise InputError("compounds: layer is empty; there is nothing to map")
    require_columns(compounds, (S.COMPOUND_ID, S.HOUSEHOLDS), S.COMPOUNDS)
    if compounds.crs is None:
        raise CRSError("compounds: layer has no CRS; set the projected work CRS (e.g. EPSG:4548)")
    if not compounds.crs.is_projected:
        raise CRSError(
            f"compounds: CRS {compounds.crs.to_string()} is geographic (degrees); "
            "build_map expects the projected metric work CRS (e.g. EPSG:4548)"
        )
    crs = compounds.crs
    districts = _as_work_crs(districts, crs, "districts")
    parcels = _as_work_crs(parcels, crs, S.PARCELS)
    facilities = _as_work_crs(facilities, crs, S.FACILITIES)
    service_areas = _as_work_crs(service_areas, crs, "service_areas")
    siting = _as_work_crs(siting, crs, "siting")
    streets = _as_work_crs(streets, crs, S.STREETS)
    barriers = _as_work_crs(barriers, crs, S.BARRIERS)
    network_parts = _as_work_crs(network_parts, crs, "network_parts")
    if districts is not None:
        require_columns(districts, (S.DISTRICT_ID,), "districts")
    if facilities is not None:
        require_columns(facilities, (S.CATEGORY,), S.FACILITIES)
    if service_areas is not None:
        require_columns(service_areas, (S.CATEGORY,), "service_areas")
    if siting is not None:
        require_columns(siting, (S.PARCEL_ID, S.CATEGORY), "siting")
    if access is not None and len(access):
        require_columns(access, (S.COMPOUND_ID, S.CATEGORY, _ACC_DISTANCE), "access")
    if gaps is not None and len(gaps):
        require_columns(gaps, (_GAP_LEVEL, _GAP_UNIT, S.CATEGORY), "gaps")
    if districts is None and S.DISTRICT_ID in compounds.columns:
        districts = _dissolved_districts(compounds)
    return _Layers(
        compounds=compounds,
        districts=districts,
        parcels=parcels,
        facilities=facilities,
        access=access,
        gaps=gaps,
        service_areas=service_areas,
        siting=siting,
        streets=streets,
        barriers=barriers,
        network_parts=network_parts,
    )


def _dissolved_districts(compounds: gpd.GeoDataFrame) -> gpd.GeoDataFrame | None:
    """District outlines (with summed households) from the compounds' ``district_id``."""
    assigned = compounds[compounds[S.DISTRICT_ID].notna()]
    if not len(assigned):
        return None
    districts = (
        assigned[[S.DISTRICT_ID, S.HOUSEHOLDS, assigned.geometry.name]]
        .dissolve(by=S.DISTRICT_ID, aggfunc="sum")
        .reset_index()
    )
    districts[S.DISTRICT_ID] = districts[S.DISTRICT_ID].astype(str)
    return districts


def _coverage_categories(
    categories: list[str], *, access: pd.DataFrame | None, gaps: pd.DataFrame | None
) -> list[str]:
    """The categories (in ``categories`` order) whose coverage per compound is known."""
    found: set[str] = set()
    if access is not None and len(access) and _ACC_WITHIN in access.columns:
        found.update(access.loc[access[_ACC_WITHIN].notna(), S.CATEGORY].astype(str))
    if gaps is not None and len(gaps):
        found.update(gaps.loc[gaps[_GAP_LEVEL] == "compound", S.CATEGORY].astype(str))
    return [c for c in categories if c in found]


def _layer_data(
    layers: _Layers,
    comp_lonlat: np.ndarray,
    *,
    colors: pd.Series,
    categories: list[str],
    gcj02: bool,
) -> dict[str, str | None]:
    """GeoJSON text of each layer the map's script reads (None for an absent layer)."""
    districts = layers.districts
    color_of = (
        dict(zip(districts[S.DISTRICT_ID].astype(str), colors.tolist()))
        if districts is not None
        else {}
    )
    return {
        "compounds": _compound_data(
            layers.compounds,
            comp_lonlat,
            categories=categories,
            district_color=color_of,
            access=layers.access,
            gaps=layers.gaps,
        ),
        "districts": (
            _district_data(
                districts,
                _display_geometry(districts, gcj02=gcj02),
                colors=colors,
                categories=categories,
                gaps=layers.gaps,
                siting=layers.siting,
                gcj02=gcj02,
            )
            if districts is not None
            else None
        ),
        "parcels": _optional(_parcel_data, layers.parcels, gcj02=gcj02),
        "facilities": _optional(
            _facility_data, layers.facilities, categories=categories, gcj02=gcj02
        ),
        "service_areas": _optional(
            _service_area_data, layers.service_areas, categories=categories, gcj02=gcj02
        ),
        "siting": _optional(_siting_data, layers.siting, categories=categories, gcj02=gcj02),
        "streets": _optional(_street_data, layers.streets, gcj02=gcj02),
        "barriers": _optional(_barrier_data, layers.barriers, gcj02=gcj02),
        "network_parts": _optional(_network_part_data, layers.network_parts, gcj02=gcj02),
    }


def _optional(
    make: Callable[..., str], gdf: gpd.GeoDataFrame | None, **kwargs: Any
) -> str | None:
    """``make(gdf, **kwargs)``, or None when the layer is absent."""
    return None if gdf is None else make(gdf, **kwargs)


def _meta(
    layers: _Layers,
    *,
    bounds: np.ndarray,
    colors: pd.Series,
    categories: list[str],
    has_gaps: bool,
    lang: str,
    title: str | None,
) -> dict[str, Any]:
    """What the map's script needs besides the layers: texts, colours, styles, switches."""
    text = _TEXT[lang]
    minx, miny, maxx, maxy = bounds
    facilities = layers.facilities
    fac_cats = set(facilities[S.CATEGORY].astype(str)) if facilities is not None else set()
    return {
        "text": dict(text),
        "title": title or text["title"],
        "lang": lang,
        "bounds": [[float(miny), float(minx)], [float(maxy), float(maxx)]],
        "palette": list(PALETTE),
        "neutral": PALETTE[0],
        "excluded": EXCLUDED_COLOR,
        "outline": OUTLINE_COLOR,
        "compound_edge": COMPOUND_EDGE_COLOR,
        "covered": COVERED_COLOR,
        "uncovered": UNCOVERED_COLOR,
        "nodata": NODATA_COLOR,
        "parcel_colors": PARCEL_COLORS,
        "has_districts": layers.has_districts,
        "has_gaps": has_gaps,
        "n_colors": int(colors.max()) + 1 if len(colors) else 0,
        "cluster": facilities is not None
        and CLUSTER_THRESHOLD < len(facilities) <= CANVAS_MARKER_THRESHOLD,
        "canvas_markers": facilities is not None and len(facilities) > CANVAS_MARKER_THRESHOLD,
        "label_font": LABEL_FONT,
        "label_margin": LABEL_MARGIN_PX,
        "street_hover_zoom": STREET_HOVER_MIN_ZOOM,
        "street_styles": list(STREET_STYLES),
        "network_style": NETWORK_PART_STYLE,
        "barrier_styles": list(BARRIER_STYLES),
        "categories": [
            {
                "key": c,
                "label": _category_label(c, lang),
                "glyph": GLYPHS.get(c, (c[:1], c[:2].upper()))[0 if lang == "zh" else 1],
                "color": OKABE_ITO[i % len(OKABE_ITO)],
                "facilities": c in fac_cats,
            }
            for i, c in enumerate(categories)
        ],
    }


def _data_json(meta: Mapping[str, Any], parts: Mapping[str, str | None]) -> str:
    """The one JSON document the map embeds: ``meta`` and every layer, safe inside <script>."""
    data_json = (
        '{"meta":'
        + json.dumps(meta, ensure_ascii=False)
        + ","
        + ",".join(f'"{k}":' + (v if v is not None else _EMPTY_FC) for k, v in parts.items())
        + "}"
    )
    return data_json.replace("</", "<\\/")


def _base_map(
    bounds: np.ndarray, *, title: str, tiles: str, lang: str, key: str | None
) -> folium.Map:
    """The empty Leaflet map: inlined libraries, page title and basemap tiles."""
    minx, miny, maxx, maxy = bounds
    fmap = folium.Map(
        location=[(miny + maxy) / 2, (minx + maxx) / 2],
        zoom_start=15,
        tiles=None,
        control_scale=True,
        prefer_canvas=True,
        max_zoom=20,
    )
    fmap.default_js = []
    fmap.default_css = []
    root = fmap.get_root()
    root.header.add_child(_Raw(_vendor_assets()), name="renogis_vendor")
    root.header.add_child(_Raw(f"<title>{_html_escape(title)}</title>"), name="renogis_title")
    _add_tiles(fmap, tiles, _TEXT[lang], key)
    return fmap


def _feature_groups(
    fmap: folium.Map,
    layers: _Layers,
    *,
    categories: list[str],
    gap_categories: list[str],
    lang: str,
) -> dict[str, folium.FeatureGroup]:
    """One named, switchable group per layer present, in the order of the layer control.

    The map's script fills them; gap and service-area layers start hidden.
    """
    text = _TEXT[lang]
    groups: dict[str, folium.FeatureGroup] = {}

    def group(key: str, name: str, *, show: bool = True) -> None:
        groups[key] = folium.FeatureGroup(name=name, show=show).add_to(fmap)

    compounds = layers.compounds
    n_excluded = int(compounds[S.DISTRICT_ID].isna().sum()) if layers.has_districts else 0
    if not layers.has_districts or n_excluded < len(compounds):
        group("compounds", text["compounds"])
    if n_excluded:
        group("excluded", text["excluded"])
    for c in gap_categories:
        group(f"gap:{c}", text["gap"] + _category_label(c, lang), show=False)
    if layers.service_areas is not None:
        present = set(layers.service_areas[S.CATEGORY].astype(str))
        for c in categories:
            if c in present:
                group(f"service:{c}", text["service"] + _category_label(c, lang), show=False)
    for key, layer in (
        ("parcels", layers.parcels),
        ("siting", layers.siting),
        ("districts", layers.districts),
        ("facilities", layers.facilities),
        ("streets", layers.streets),
        ("barriers", layers.barriers),
        ("network_parts", layers.network_parts),
    ):
        if layer is not None:
            group(key, text[key])
    return groups


def _html_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _add_tiles(fmap: folium.Map, tiles: str, text: Mapping[str, str], key: str | None) -> None:
    if tiles == "osm":
        folium.TileLayer("OpenStreetMap", name=text["osm"], max_zoom=19).add_to(fmap)
    elif tiles == "cartodb":
        folium.TileLayer(
            _CARTO_URL,
            name=text["cartodb"],
            subdomains="abcd",
            max_zoom=20,
            attr='&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a>'
            ' contributors &copy; <a href="https://carto.com/attributions">CARTO</a>',
        ).add_to(fmap)
    elif tiles == "amap":
        folium.TileLayer(
            _AMAP_URL,
            name=text["amap"],
            attr="&copy; 高德地图 AutoNavi",
            subdomains="1234",
            max_zoom=18,
        ).add_to(fmap)
    elif tiles == "tianditu":
        attr = "&copy; 天地图 Tianditu"
        folium.TileLayer(
            _TIANDITU_URL.format(layer="vec", key=key, s="{s}"),
            name=text["tianditu"],
            attr=attr,
            subdomains="01234567",
            max_zoom=18,
        ).add_to(fmap)
        folium.TileLayer(
            _TIANDITU_URL.format(layer="cva", key=key, s="{s}"),
            name=text["tianditu_label"],
            attr=attr,
            subdomains="01234567",
            max_zoom=18,
            overlay=True,
            control=False,
        ).add_to(fmap)


def write_map(path: str | Path, compounds: gpd.GeoDataFrame, **kwargs: Any) -> Path:
    """Build the map (see :func:`build_map`) and save it as one self-contained HTML file.

    Parameters
    ----------
    path : str or Path
        Output ``.html`` file; parent folders are created.
    compounds : GeoDataFrame
        As for :func:`build_map`.
    **kwargs
        Keyword options of :func:`build_map`.

    Returns
    -------
    Path
        The file written.
    """
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fmap = build_map(compounds, **kwargs)
    fmap.save(str(out))
    logger.info("maps: wrote %s (%.1f MB)", out, out.stat().st_size / 1e6)
    return out
