"""Read input layers (GPKG, GeoJSON, Shapefile incl. GBK, CSV with WKT or lon/lat); write GPKG.

Input is a GeoPackage holding the layers of :mod:`renogis.schema`, or a folder
with one file per layer (``compounds.gpkg|geojson|json|shp|csv``, ...), or a
single file read as the ``compounds`` layer. Headers are mapped to canonical
column names (Chinese aliases included; ``column_map`` for anything else).
Nothing here validates values: see :mod:`renogis.validate`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import shapely

from renogis import schema
from renogis._errors import CRSError, InputError
from renogis.crs import from_web_coordinates

logger = logging.getLogger(__name__)

__all__ = [
    "RawLayer",
    "read_layers",
    "read_layer_file",
    "normalise_columns",
    "parse_column_map",
    "write_gpkg",
    "VECTOR_SUFFIXES",
]

#: File suffixes read as vector layers, in order of preference within a folder.
VECTOR_SUFFIXES = (".gpkg", ".geojson", ".json", ".shp", ".csv")

#: Layer-name aliases (Chinese) for GeoPackage layers and folder file stems.
LAYER_ALIASES: Mapping[str, str] = {
    "小区": schema.COMPOUNDS,
    "老旧小区": schema.COMPOUNDS,
    "闲置地块": schema.PARCELS,
    "闲置用地": schema.PARCELS,
    "闲置资源": schema.PARCELS,
    "设施": schema.FACILITIES,
    "配套设施": schema.FACILITIES,
    "道路": schema.STREETS,
    "路网": schema.STREETS,
    "障碍": schema.BARRIERS,
    "出入口": schema.GATES,
    "大门": schema.GATES,
}

_WKT_COLUMNS = ("geometry", "wkt", "geom", "the_geom", "几何")
_LON_COLUMNS = ("lon", "lng", "longitude", "x", "经度")
_LAT_COLUMNS = ("lat", "latitude", "y", "纬度")


@dataclass(frozen=True)
class RawLayer:
    """One input layer as read, with canonical column names, before validation."""

    name: str
    gdf: gpd.GeoDataFrame
    source: Path  # the file it came from
    notes: tuple[str, ...] = field(default=())  # what reading did (encoding, column renames, ...)

    @property
    def label(self) -> str:
        """``file [layer]`` for messages."""
        return f"{self.source.name} [{self.name}]"


# --------------------------------------------------------------------------- columns
def parse_column_map(items: list[str] | None) -> dict[str, str]:
    """Parse ``SRC=DST`` pairs (from the CLI) into a header mapping.

    Examples
    --------
    >>> parse_column_map(["小区户数=households", "ID = compound_id"])
    {'小区户数': 'households', 'ID': 'compound_id'}
    """
    out: dict[str, str] = {}
    for item in items or []:
        for part in str(item).split(","):
            if not part.strip():
                continue
            if "=" not in part:
                raise InputError(
                    f"--column-map {part!r}: expected SOURCE=CANONICAL, e.g. 户数合计=households"
                )
            src, dst = (s.strip() for s in part.split("=", 1))
            out[src] = dst
    return out


def normalise_columns(
    df: pd.DataFrame, *, column_map: Mapping[str, str] | None = None
) -> tuple[pd.DataFrame, list[str]]:
    """Rename headers to canonical names: explicit map first, then canonical names, then aliases.

    Returns the renamed frame (a copy) and a list of notes ``"户数 -> households"``.
    A header that would map onto a column already present is left alone and noted.
    """
    canonical = {
        getattr(schema, n) for n in dir(schema) if n.isupper() and isinstance(getattr(schema, n), str)
    }
    user = {str(k).strip(): v for k, v in (column_map or {}).items()}
    aliases = {k.lower(): v for k, v in schema.COLUMN_ALIASES.items()}
    renames: dict[str, str] = {}
    notes: list[str] = []
    taken = set()
    geom = df.geometry.name if isinstance(df, gpd.GeoDataFrame) else None
    for col in df.columns:
        if col == geom:
            continue
        key = str(col).strip()
        target: str | None = None
        if key in user:
            target = user[key]
        elif key.lower() in canonical and key.lower() != "geometry":
            target = key.lower()
        elif key.lower() in aliases:
            target = aliases[key.lower()]
        elif len(key) == 10 and (hits := sorted(c for c in canonical if c.startswith(key.lower()))):
            # a Shapefile cut the name to 10 characters: the shortest completion (compound_id, not
            # compound_ids) when it is the only one of its length
            short = [h for h in hits if len(h) == len(hits[0])]
            target = short[0] if len(short) == 1 else None
        if target is None:
            continue
        if target in taken or (target in df.columns and target != col):
            notes.append(f"column {col!r} not mapped to {target!r}: that column exists already")
            continue
        taken.add(target)
        if target != col:
            renames[col] = target
            notes.append(f"{col} -> {target}")
    out = df.rename(columns=renames)
    return out, notes


# --------------------------------------------------------------------------- reading
def _shapefile_encoding(path: Path, encoding: str | None) -> tuple[str | None, str | None]:
    """Encoding to read a shapefile with, and a note. Order: explicit, .cpg, UTF-8 check, GB18030."""
    if encoding:
        return encoding, f"encoding {encoding} (given)"
    cpg = path.with_suffix(".cpg")
    if not cpg.exists():
        cpg = path.with_suffix(".CPG")
    if cpg.exists():
        enc = cpg.read_text(encoding="ascii", errors="ignore").strip()
        if enc:
            norm = enc.upper().replace("-", "")
            if norm in ("GBK", "GB2312", "CP936", "936"):
                enc = "GB18030"  # superset of GBK and GB2312
            return enc, f"encoding {enc} (from {cpg.name})"
    dbf = path.with_suffix(".dbf")
    if dbf.exists():
        raw = dbf.read_bytes()
        try:
            raw.decode("utf-8")
            return "UTF-8", "encoding UTF-8 (no .cpg; the .dbf decodes as UTF-8)"
        except UnicodeDecodeError:
            return "GB18030", "encoding GB18030 (no .cpg; the .dbf is not UTF-8, read as GBK/GB18030)"
    return None, None


def _read_csv(path: Path, *, encoding: str | None, layer: str) -> gpd.GeoDataFrame:
    enc = encoding or "utf-8-sig"
    try:
        df = pd.read_csv(path, encoding=enc, dtype=str, keep_default_na=False, na_values=[""])
    except UnicodeDecodeError:
        if encoding:
            raise InputError(
                f"{path.name} [{layer}]: cannot decode as {encoding}; check --encoding"
            ) from None
        df = pd.read_csv(path, encoding="gb18030", dtype=str, keep_default_na=False, na_values=[""])
    lowered = {str(c).strip().lower(): c for c in df.columns}
    wkt_col = next((lowered[c] for c in _WKT_COLUMNS if c in lowered), None)
    lon_col = next((lowered[c] for c in _LON_COLUMNS if c in lowered), None)
    lat_col = next((lowered[c] for c in _LAT_COLUMNS if c in lowered), None)
    if wkt_col is not None:
        text = df[wkt_col].fillna("")
        try:
            geoms = shapely.from_wkt(text.to_numpy(dtype=object), on_invalid="raise")
        except shapely.errors.GEOSException as exc:
            bad = [i for i, t in enumerate(text) if t and shapely.from_wkt(t, on_invalid="ignore") is None]
            rows = ", ".join(str(i + 2) for i in bad[:5])
            raise InputError(
                f"{path.name} [{layer}] column {wkt_col}: unreadable WKT in CSV rows {rows} ({exc}); "
                "fix the geometry text"
            ) from None
        gdf = gpd.GeoDataFrame(df.drop(columns=[wkt_col]), geometry=geoms, crs=None)
        return gdf
    if lon_col is not None and lat_col is not None:
        x = pd.to_numeric(df[lon_col], errors="coerce")
        y = pd.to_numeric(df[lat_col], errors="coerce")
        bad = df.index[x.isna() | y.isna()]
        if len(bad):
            rows = ", ".join(str(i + 2) for i in bad[:5])
            raise InputError(
                f"{path.name} [{layer}] columns {lon_col}/{lat_col}: non-numeric or empty coordinates in "
                f"CSV rows {rows}; fill them or remove the rows"
            )
        geoms = shapely.points(x.to_numpy(), y.to_numpy())
        gdf = gpd.GeoDataFrame(df.drop(columns=[lon_col, lat_col]), geometry=geoms, crs=4326)
        return gdf
    raise InputError(
        f"{path.name} [{layer}]: a CSV needs a WKT column (geometry/wkt) or lon/lat columns "
        "(lon,lat / 经度,纬度); add one"
    )


def read_layer_file(
    path: str | Path,
    *,
    layer_name: str,
    gpkg_layer: str | None = None,
    encoding: str | None = None,
) -> tuple[gpd.GeoDataFrame, list[str]]:
    """Read one vector file (or one layer of a GeoPackage) into a GeoDataFrame.

    Returns the frame (original headers) and notes on how it was read.
    """
    path = Path(path)
    notes: list[str] = []
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            gdf = _read_csv(path, encoding=encoding, layer=layer_name)
        elif suffix == ".shp":
            enc, note = _shapefile_encoding(path, encoding)
            if note:
                notes.append(note)
            gdf = gpd.read_file(path, engine="pyogrio", encoding=enc)
        else:
            kwargs = {"layer": gpkg_layer} if gpkg_layer else {}
            gdf = gpd.read_file(path, engine="pyogrio", **kwargs)
    except InputError:
        raise
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, OSError,
            UnicodeDecodeError, ValueError) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(
            f"{path.name} [{layer_name}]: cannot read the file ({msg}); check that it is a valid "
            "GPKG, GeoJSON, Shapefile or CSV"
            + (", or give --encoding" if suffix in (".shp", ".csv") else "")
        ) from None
    if not isinstance(gdf, gpd.GeoDataFrame):  # a non-spatial table
        raise InputError(f"{path.name} [{layer_name}]: no geometry column; the layer needs geometries")
    return gdf, notes


def _find_in_folder(folder: Path) -> dict[str, Path]:
    found: dict[str, Path] = {}
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in VECTOR_SUFFIXES)
    for layer in schema.LAYERS:
        names = {layer} | {k for k, v in LAYER_ALIASES.items() if v == layer}
        candidates = [p for p in files if p.stem.lower() in names or p.stem in names]
        candidates.sort(key=lambda p: VECTOR_SUFFIXES.index(p.suffix.lower()))
        if candidates:
            found[layer] = candidates[0]
            if len(candidates) > 1:
                logger.warning("%s: several files for layer %s; using %s", folder, layer, candidates[0].name)
    return found


def read_layers(
    path: str | Path,
    *,
    column_map: Mapping[str, str] | None = None,
    encoding: str | None = None,
    source_crs: str | None = None,
) -> dict[str, RawLayer]:
    """Read every renogis layer found at ``path`` with canonical column names.

    Parameters
    ----------
    path : str or Path
        A GeoPackage with layers named after :data:`renogis.schema.LAYERS` (or their
        Chinese aliases), a folder with one file per layer, or a single file read as
        the compounds layer.
    column_map : mapping, optional
        Extra header mapping ``{"their header": "canonical name"}``.
    encoding : str, optional
        Text encoding for Shapefiles and CSV (default: the .cpg, else UTF-8, else GB18030).
    source_crs : {"gcj02", "bd09"}, optional
        The input lon/lat are Amap (GCJ-02) or Baidu (BD-09) coordinates; they are
        converted to WGS84 (error under 1 m) before anything else.

    Returns
    -------
    dict of str to RawLayer
        Keyed by canonical layer name; absent optional layers are missing.

    Examples
    --------
    >>> from renogis.datasets import sample_path
    >>> layers = read_layers(sample_path())
    >>> sorted(layers)
    ['barriers', 'compounds', 'facilities', 'gates', 'parcels', 'streets']
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file or folder; give a GeoPackage or a folder of layer files")
    sources: dict[str, tuple[Path, str | None]] = {}
    if path.is_dir():
        for layer, file in _find_in_folder(path).items():
            sources[layer] = (file, None)
        if not sources:
            raise InputError(
                f"{path}: no layer files found; name them compounds.gpkg|geojson|shp|csv, parcels.*, "
                "facilities.*, streets.*, barriers.*, gates.*"
            )
    elif path.suffix.lower() == ".gpkg":
        try:
            available = [str(n) for n in pyogrio.list_layers(path)[:, 0]]
        except Exception as exc:  # noqa: BLE001 - any driver failure is an input problem
            raise InputError(f"{path.name}: cannot open as GeoPackage ({exc}); check the file") from None
        for name in available:
            key = name.lower() if name.lower() in schema.LAYERS else LAYER_ALIASES.get(name)
            if key and key not in sources:
                sources[key] = (path, name)
        if schema.COMPOUNDS not in sources and len(available) == 1:
            sources[schema.COMPOUNDS] = (path, available[0])
        unused = [n for n in available if all(n != s[1] for s in sources.values())]
        if unused:
            logger.info("%s: layers not used by renogis: %s", path.name, ", ".join(unused))
    elif path.suffix.lower() in VECTOR_SUFFIXES:
        stem = path.stem.lower()
        layer = stem if stem in schema.LAYERS else LAYER_ALIASES.get(path.stem, schema.COMPOUNDS)
        sources[layer] = (path, None)
    else:
        raise InputError(
            f"{path.name}: unsupported file type {path.suffix!r}; use .gpkg, .geojson, .shp or .csv"
        )
    if schema.COMPOUNDS not in sources:
        where = "layer" if path.suffix.lower() == ".gpkg" else "file"
        raise InputError(
            f"{path.name}: no compounds {where} found (the only required layer); name it 'compounds' "
            "(or 小区)"
        )

    out: dict[str, RawLayer] = {}
    for layer in schema.LAYERS:
        if layer not in sources:
            continue
        file, gpkg_layer = sources[layer]
        gdf, notes = read_layer_file(file, layer_name=layer, gpkg_layer=gpkg_layer, encoding=encoding)
        gdf, renames = normalise_columns(gdf, column_map=column_map)
        notes.extend(renames)
        if source_crs:
            label = f"{file.name} [{layer}]"
            if gdf.crs is not None and not gdf.crs.is_geographic:
                raise CRSError(
                    f"{label}: --source-crs {source_crs} needs lon/lat input, but the layer is in "
                    f"{gdf.crs.name}; drop --source-crs or give lon/lat data"
                )
            gdf = from_web_coordinates(gdf.set_crs(4326, allow_override=True), source_crs)
            notes.append(f"converted from {source_crs.upper()} to WGS84")
        out[layer] = RawLayer(name=layer, gdf=gdf, source=file, notes=tuple(notes))
        logger.info("read %d features from %s%s", len(gdf), file.name,
                    f" [{gpkg_layer}]" if gpkg_layer else "")
    return out


# --------------------------------------------------------------------------- OSM helpers
_HSTORE = re.compile(r'"((?:[^"\\]|\\.)*)"=>"((?:[^"\\]|\\.)*)"')


def parse_other_tags(values: pd.Series) -> pd.DataFrame:
    """Parse GDAL's OSM ``other_tags`` hstore strings into a frame of tag columns."""
    rows = [dict(_HSTORE.findall(v)) if isinstance(v, str) else {} for v in values]
    return pd.DataFrame(rows, index=values.index)


# --------------------------------------------------------------------------- writing
def write_gpkg(path: str | Path, layers: Mapping[str, gpd.GeoDataFrame]) -> Path:
    """Write several GeoDataFrames as layers of one GeoPackage (overwriting the file)."""
    path = Path(path)
    if path.exists():
        path.unlink()
    for name, gdf in layers.items():
        if gdf is None:
            continue
        frame = gdf.copy()
        for col in frame.columns:
            if col != frame.geometry.name and frame[col].dtype == object:
                # GPKG has no list/dict type; keep text readable
                frame[col] = frame[col].map(
                    lambda v: ",".join(map(str, v)) if isinstance(v, (list, tuple, set)) else v
                )
        frame.to_file(path, layer=name, driver="GPKG", engine="pyogrio")
    return path


def as_numeric(series: pd.Series) -> pd.Series:
    """Numbers from text that may hold thousands separators or full-width digits."""
    if series.dtype.kind in "biuf":
        return series.astype(float)
    text = series.astype("string").str.strip()
    text = text.str.replace(",", "", regex=False).str.replace("，", "", regex=False)
    text = text.str.translate(str.maketrans("０１２３４５６７８９．－", "0123456789.-"))
    return pd.to_numeric(text, errors="coerce").astype(float)


def empty_layer(crs: object) -> gpd.GeoDataFrame:
    """An empty GeoDataFrame in ``crs``."""
    return gpd.GeoDataFrame({"geometry": gpd.GeoSeries([], crs=crs)}, geometry="geometry", crs=crs)
