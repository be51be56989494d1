"""Read input layers (every OGR vector format, GeoParquet, CSV/XLSX with WKT or lon/lat); write GPKG.

Input is a multi-layer source (GeoPackage, FileGDB ``.gdb`` folder, SpatiaLite,
KML, ...) holding the layers of :mod:`renogis.schema`, or a folder with one file
per layer (``compounds.gpkg|geojson|shp|fgb|parquet|tab|csv|xlsx``, ...), or a
single file read as the ``compounds`` layer. Headers are mapped to canonical
column names (Chinese aliases included; ``column_map`` for anything else).
Nothing here validates values: see :mod:`renogis.validate`.
"""

from __future__ import annotations

import csv
import logging
import re
import warnings
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

#: File suffixes read as vector layers, in order of preference within a folder. Everything but
#: CSV/XLSX (pandas) and Parquet (GeoParquet via pyarrow) is read by GDAL/OGR through pyogrio.
VECTOR_SUFFIXES = (".gpkg", ".gdb", ".fgb", ".parquet", ".geoparquet", ".geojson", ".json", ".geojsonl",
                   ".shp", ".tab", ".mif", ".kml", ".kmz", ".gml", ".sqlite", ".csv", ".xlsx")
#: Table suffixes (geometry from WKT or lon/lat columns).
TABLE_SUFFIXES = (".csv", ".xlsx")
#: Sources that may hold several layers (matched by layer name like a GeoPackage).
CONTAINER_SUFFIXES = (".gpkg", ".gdb", ".sqlite", ".kml", ".kmz", ".gml")

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
            src, sep, dst = (s.strip() for s in part.partition("="))
            if not sep or not src or not dst:
                raise InputError(
                    f"--column-map {part!r}: expected SOURCE=CANONICAL, e.g. 户数合计=households"
                )
            out[src] = dst
    return out


def _clean_header(name: object) -> str:
    """A header without byte-order mark and surrounding (also full-width) spaces."""
    return str(name).replace("\ufeff", "").strip().strip("\u3000").strip()


def normalise_columns(
    df: pd.DataFrame, *, column_map: Mapping[str, str] | None = None, label: str = "input"
) -> tuple[pd.DataFrame, list[str]]:
    """Rename headers to canonical names: explicit map first, then canonical names, then aliases.

    Returns the renamed frame (a copy) and a list of notes ``"户数 -> households"``.
    A byte-order mark or spaces around a header are dropped.

    Raises
    ------
    InputError
        Two headers mean the same canonical column (e.g. ``户数`` and ``households``):
        renogis would have to pick one silently. ``label`` names the file and layer.
    """
    canonical = {
        getattr(schema, n) for n in dir(schema) if n.isupper() and isinstance(getattr(schema, n), str)
    }
    user = {str(k).strip(): v for k, v in (column_map or {}).items()}
    aliases = {k.lower(): v for k, v in schema.COLUMN_ALIASES.items()}
    renames: dict[str, str] = {}
    notes: list[str] = []
    taken: dict[str, object] = {}
    geom = df.geometry.name if isinstance(df, gpd.GeoDataFrame) else None
    _check_duplicate_headers([str(c) for c in df.columns], label)
    for col in df.columns:
        if col == geom:
            continue
        key = _clean_header(col)
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
            if key != col:
                renames[col] = key
            continue
        other = taken.get(target, target if (target in df.columns and target != col) else None)
        if other is not None:
            raise InputError(
                f"{label}: columns {str(other)!r} and {str(col)!r} both mean {target}; renogis will not "
                f"pick one silently: remove one, or map it to another name (--column-map {col}=other_name)"
            )
        taken[target] = col
        if target != col:
            renames[col] = target
            notes.append(f"{col} -> {target}")
    out = df.rename(columns=renames)
    return out, notes


def _check_duplicate_headers(headers: list[str], label: str) -> None:
    seen: dict[str, str] = {}
    for h in headers:
        key = _clean_header(h).lower()
        if key in seen:
            raise InputError(
                f"{label}: two columns named {seen[key]!r} and {h!r}; renogis will not pick one silently: "
                "remove or rename one of them"
            )
        seen[key] = h


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


def _read_csv(path: Path, *, encoding: str | None, layer: str) -> pd.DataFrame:
    """A CSV as text columns (UTF-8 with or without BOM, else GB18030); duplicate headers refused."""
    enc = encoding or "utf-8-sig"
    try:
        with open(path, encoding=enc, newline="") as fh:
            header = next(csv.reader(fh), [])
        df = pd.read_csv(path, encoding=enc, dtype=str, keep_default_na=False, na_values=[""])
    except UnicodeDecodeError:
        if encoding:
            raise InputError(
                f"{path.name} [{layer}]: cannot decode as {encoding}; check --encoding"
            ) from None
        with open(path, encoding="gb18030", newline="") as fh:
            header = next(csv.reader(fh), [])
        df = pd.read_csv(path, encoding="gb18030", dtype=str, keep_default_na=False, na_values=[""])
    _check_duplicate_headers(header, f"{path.name} [{layer}]")  # pandas would rename them a, a.1
    df.columns = header if len(header) == len(df.columns) else df.columns
    return df


def _read_xlsx(path: Path, *, layer: str, sheet: str | int = 0) -> pd.DataFrame:
    """The first sheet of an XLSX (a ledger, 台账) as text columns; duplicate headers refused."""
    import openpyxl

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - any reader failure is an input problem
        raise InputError(f"{path.name} [{layer}]: cannot open as XLSX ({exc}); save it as .xlsx") from None
    try:
        ws = wb.worksheets[sheet] if isinstance(sheet, int) else wb[sheet]
        rows = ws.iter_rows(values_only=True)
        header = [("" if h is None else str(h)) for h in next(rows, ())]
        while header and not header[-1]:
            header.pop()
        data = [list(r[: len(header)]) for r in rows if any(v is not None and str(v).strip() for v in r)]
    finally:
        wb.close()
    _check_duplicate_headers([h for h in header if h], f"{path.name} [{layer}]")
    df = pd.DataFrame(data, columns=header, dtype=object)
    df = df.loc[:, [bool(h) for h in header]]
    return df.map(lambda v: None if v is None else (str(v) if not isinstance(v, str) else v))


def table_geometry(df: pd.DataFrame, *, label: str) -> gpd.GeoDataFrame | None:
    """Geometry of a table from a WKT column or lon/lat columns; None when it has neither."""
    lowered = {_clean_header(c).lower(): c for c in df.columns}
    wkt_col = next((lowered[c] for c in _WKT_COLUMNS if c in lowered), None)
    lon_col = next((lowered[c] for c in _LON_COLUMNS if c in lowered), None)
    lat_col = next((lowered[c] for c in _LAT_COLUMNS if c in lowered), None)
    if wkt_col is not None:
        text = df[wkt_col].fillna("")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                geoms = shapely.from_wkt(text.to_numpy(dtype=object), on_invalid="raise")
        except shapely.errors.GEOSException as exc:
            bad = [i for i, t in enumerate(text) if t and shapely.from_wkt(t, on_invalid="ignore") is None]
            rows = ", ".join(str(i + 2) for i in bad[:5])
            raise InputError(
                f"{label} column {wkt_col}: unreadable WKT in rows {rows} ({exc}); fix the geometry text"
            ) from None
        return gpd.GeoDataFrame(df.drop(columns=[wkt_col]), geometry=geoms, crs=None)
    if lon_col is not None and lat_col is not None:
        x = as_numeric(df[lon_col])
        y = as_numeric(df[lat_col])
        bad = df.index[x.isna() | y.isna()]
        if len(bad):
            rows = ", ".join(str(i + 2) for i in bad[:5])
            raise InputError(
                f"{label} columns {lon_col}/{lat_col}: non-numeric or empty coordinates in rows {rows}; "
                "fill them or remove the rows"
            )
        geoms = shapely.points(x.to_numpy(), y.to_numpy())
        return gpd.GeoDataFrame(df.drop(columns=[lon_col, lat_col]), geometry=geoms, crs=4326)
    return None


def _table_layer(df: pd.DataFrame, path: Path, layer: str) -> gpd.GeoDataFrame:
    gdf = table_geometry(df, label=f"{path.name} [{layer}]")
    if gdf is None:
        hint = (" (a ledger without geometry is joined to footprints by name: give it as --ledger)"
                if layer == schema.COMPOUNDS else "")
        raise InputError(
            f"{path.name} [{layer}]: a {path.suffix.lstrip('.').upper()} table needs a WKT column "
            f"(geometry/wkt) or lon/lat columns (lon,lat / 经度,纬度); add one{hint}"
        )
    return gdf


def read_layer_file(
    path: str | Path,
    *,
    layer_name: str,
    gpkg_layer: str | None = None,
    encoding: str | None = None,
) -> tuple[gpd.GeoDataFrame, list[str]]:
    """Read one vector file (or one layer of a multi-layer source) into a GeoDataFrame.

    Every vector format GDAL/OGR reads goes through pyogrio (GeoPackage, FileGDB,
    Shapefile, MapInfo, FlatGeobuf, GeoJSON, KML, GML, ...); GeoParquet through
    pyarrow; CSV and XLSX through pandas/openpyxl with WKT or lon/lat columns.

    Returns the frame (original headers) and notes on how it was read.
    """
    path = Path(path)
    notes: list[str] = []
    suffix = path.suffix.lower()
    label = f"{path.name} [{layer_name}]"
    if suffix == ".shp" and not any(path.with_suffix(s).exists() for s in (".dbf", ".DBF")):
        raise InputError(
            f"{label}: the attribute file {path.with_suffix('.dbf').name} is missing next to the .shp; "
            "copy every part of the Shapefile (.shp, .shx, .dbf, .prj, .cpg) into the same folder"
        )
    try:
        with warnings.catch_warnings():
            # GDAL notes (e.g. undecodable messages) are not the user's business; problems raise
            warnings.simplefilter("ignore", RuntimeWarning)
            warnings.simplefilter("ignore", UserWarning)
            if suffix == ".csv":
                gdf = _table_layer(_read_csv(path, encoding=encoding, layer=layer_name), path, layer_name)
            elif suffix == ".xlsx":
                table = _read_xlsx(path, layer=layer_name, sheet=gpkg_layer or 0)
                gdf = _table_layer(table, path, layer_name)
            elif suffix in (".parquet", ".geoparquet"):
                gdf = _read_parquet(path, label)
            elif suffix == ".shp":
                enc, note = _shapefile_encoding(path, encoding)
                if note:
                    notes.append(note)
                gdf = gpd.read_file(path, engine="pyogrio", encoding=enc)
            else:
                kwargs = {"layer": gpkg_layer} if gpkg_layer else {}
                if encoding and suffix in (".tab", ".mif"):
                    kwargs["encoding"] = encoding
                gdf = gpd.read_file(path, engine="pyogrio", **kwargs)
    except InputError:
        raise
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, OSError,
            UnicodeDecodeError, ValueError, KeyError) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(
            f"{label}: cannot read the file ({msg}); check that it is a valid vector file "
            "(GPKG, FileGDB, Shapefile, GeoJSON, FlatGeobuf, GeoParquet, MapInfo, KML, CSV or XLSX)"
            + (", or give --encoding" if suffix in (".shp", ".csv", ".tab", ".mif") else "")
        ) from None
    if not isinstance(gdf, gpd.GeoDataFrame) or gdf.geometry.name not in gdf.columns:  # a plain table
        raise InputError(f"{label}: no geometry column; the layer needs geometries")
    return gdf, notes


def _read_parquet(path: Path, label: str) -> gpd.GeoDataFrame:
    try:
        import pyarrow.parquet  # noqa: F401
    except ImportError as exc:
        raise InputError(f"{label}: reading GeoParquet needs pyarrow ({str(exc).splitlines()[0]}); install "
                         "renogis[parquet] (recent pyarrow releases need numpy 2), or convert the file to "
                         "GeoPackage") from None
    try:
        return gpd.read_parquet(path)
    except ValueError as exc:
        if "geo" in str(exc).lower() and "metadata" in str(exc).lower():
            raise InputError(f"{label}: a Parquet file without GeoParquet metadata; write it with "
                             "GeoDataFrame.to_parquet or give a WKT column in CSV") from None
        raise


def _list_layers(path: Path) -> list[str]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return [str(n) for n in pyogrio.list_layers(path)[:, 0]]
    except Exception as exc:  # noqa: BLE001 - any driver failure is an input problem
        raise InputError(f"{path.name}: cannot open ({str(exc).splitlines()[0] if str(exc) else exc}); "
                         "check the file") from None


def _find_in_folder(folder: Path) -> dict[str, Path]:
    found: dict[str, Path] = {}
    files = sorted(p for p in folder.iterdir() if (p.is_file() or p.suffix.lower() == ".gdb")
                   and p.suffix.lower() in VECTOR_SUFFIXES)
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
    sources = _layer_sources(path)
    out: dict[str, RawLayer] = {}
    for layer in schema.LAYERS:
        if layer in sources:
            file, gpkg_layer = sources[layer]
            out[layer] = _read_raw_layer(file, layer, gpkg_layer, column_map=column_map, encoding=encoding,
                                         source_crs=source_crs)
    return out


def _layer_sources(path: Path) -> dict[str, tuple[Path, str | None]]:
    """Where each layer is: ``{layer: (file, layer inside the file or None)}``; compounds required."""
    sources: dict[str, tuple[Path, str | None]] = {}
    suffix = path.suffix.lower()
    multi = suffix in CONTAINER_SUFFIXES and (path.is_dir() or path.is_file())
    if path.is_dir() and not multi:
        for layer, file in _find_in_folder(path).items():
            sources[layer] = (file, None)
        if not sources:
            raise InputError(
                f"{path}: no layer files found; name them compounds.gpkg|geojson|shp|csv, parcels.*, "
                "facilities.*, streets.*, barriers.*, gates.*"
            )
    elif multi:
        available = _list_layers(path)
        for name in available:
            key = name.lower() if name.lower() in schema.LAYERS else LAYER_ALIASES.get(name)
            if key and key not in sources:
                sources[key] = (path, name)
        if schema.COMPOUNDS not in sources and len(available) == 1:
            sources[schema.COMPOUNDS] = (path, available[0])
        unused = [n for n in available if all(n != s[1] for s in sources.values())]
        if unused:
            logger.info("%s: layers not used by renogis: %s", path.name, ", ".join(unused))
    elif suffix in VECTOR_SUFFIXES:
        stem = path.stem.lower()
        layer = stem if stem in schema.LAYERS else LAYER_ALIASES.get(path.stem, schema.COMPOUNDS)
        sources[layer] = (path, None)
    else:
        raise InputError(
            f"{path.name}: unsupported file type {path.suffix!r}; use a vector file GDAL reads "
            f"({', '.join(VECTOR_SUFFIXES)})"
        )
    if schema.COMPOUNDS not in sources:
        where = "layer" if multi else "file"
        raise InputError(
            f"{path.name}: no compounds {where} found (the only required layer); name it 'compounds' "
            "(or 小区)"
        )
    return sources


def _read_raw_layer(file: Path, layer: str, gpkg_layer: str | None, *, column_map: Mapping[str, str] | None,
                    encoding: str | None, source_crs: str | None) -> RawLayer:
    """One layer read, its headers made canonical and (with ``source_crs``) its lon/lat made WGS84."""
    gdf, notes = read_layer_file(file, layer_name=layer, gpkg_layer=gpkg_layer, encoding=encoding)
    gdf, renames = normalise_columns(gdf, column_map=column_map, label=f"{file.name} [{gpkg_layer or layer}]")
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
    logger.info("read %d features from %s%s", len(gdf), file.name, f" [{gpkg_layer}]" if gpkg_layer else "")
    return RawLayer(name=layer, gdf=gdf, source=file, notes=tuple(notes))


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
