"""PostGIS in and out: read a city's layers from a spatial database, write the results back.

Input is a libpq URL with a ``schema`` parameter,
``postgresql://user@host:5432/db?schema=city``: the layers are the tables or views
of that schema named as in the data contract (``compounds``, ``parcels``, ...; the
Chinese layer aliases too), or mapped with ``--layer-map compounds=my_table``. The
tables are read in one read-only, repeatable-read transaction (one consistent
snapshot), and from then on they go through the same header aliases, validation and
CRS handling as files.

Output (``--out-db postgresql://...?schema=renogis_run``) writes every result layer
and table in ONE transaction: all of it lands or none of it. A table
``renogis_manifest`` in the target schema lists the tables renogis wrote (with their
oids); a re-run replaces exactly those and refuses to touch any other table.

Passwords come only from libpq's own mechanisms (``PGPASSWORD``, ``~/.pgpass``,
``PGSERVICE``/service file): a URL that carries a password is refused, and URLs are
only ever shown and recorded without one.

Needs the optional extra ``renogis[postgis]`` (psycopg 3, SQLAlchemy, GeoAlchemy2);
this module imports them only when a database is used.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import pandas as pd

from renogis import schema
from renogis._errors import CRSError, InputError

logger = logging.getLogger(__name__)

__all__ = [
    "DbTable",
    "DbURL",
    "MANIFEST",
    "RESULT_TABLES",
    "changed_tables",
    "check_out_db",
    "input_hashes",
    "is_postgis_url",
    "parse_layer_map",
    "parse_url",
    "read_layers",
    "redact_url",
    "write_results",
]

_SCHEMES = ("postgresql://", "postgres://")

#: The table in an output schema that lists what renogis wrote there.
MANIFEST = "renogis_manifest"

#: Result tables renogis may write into an output schema, in writing order.
RESULT_TABLES = ("districts", "compounds", "service_access", "service_gaps", "siting_plan", "run")

#: Longest wait (s) for a lock on a table of the previous result (a viewer reading it) before giving up.
LOCK_TIMEOUT_S = 120

#: Column types read as they are; numeric becomes float8, anything else text.
_PLAIN_TYPES = {"int2", "int4", "int8", "float4", "float8", "bool", "text", "varchar", "bpchar", "name",
                "date", "timestamp", "timestamptz"}
_SPATIAL_TYPES = ("geometry", "geography")
_GEOMETRY_NAMES = ("geom", "geometry", "the_geom", "wkb_geometry", "shape", "way")
_APPLICATION_NAME = "renogis"
_PASSWORD_HELP = "give the password with PGPASSWORD, ~/.pgpass or a service file, never in the URL"


# --------------------------------------------------------------------------- URLs
def is_postgis_url(value: object) -> bool:
    """True for a ``postgresql://`` (or ``postgres://``) URL given as text.

    Examples
    --------
    >>> is_postgis_url("postgresql://planner@db:5432/city?schema=city"), is_postgis_url("city.gpkg")
    (True, False)
    """
    return isinstance(value, str) and value.strip().lower().startswith(_SCHEMES)


def _split(url: str) -> tuple[str, str, str, list[tuple[str, str]]]:
    """``scheme, netloc, path, [(raw key, raw param)]`` of a libpq URL, text kept as given.

    (``urllib.parse.urlunsplit`` would fold ``postgresql:///db`` into ``postgresql:/db``.)
    """
    scheme, _, rest = url.strip().partition("://")
    rest = rest.split("#", 1)[0]
    head, _, query = rest.partition("?")
    netloc, slash, path = head.partition("/")
    params = [(unquote(p.split("=", 1)[0]), p) for p in query.split("&") if p]
    return scheme, netloc, slash + path, params


def _join(scheme: str, netloc: str, path: str, params: list[tuple[str, str]]) -> str:
    query = "&".join(p for _, p in params)
    return f"{scheme}://{netloc}{path}" + (f"?{query}" if query else "")


def redact_url(value: Any) -> Any:
    """The URL without any password (in the user part or a ``password`` parameter); other values as given.

    Examples
    --------
    >>> redact_url("postgresql://planner:s3cret@db:5432/city?schema=city&password=x")
    'postgresql://planner@db:5432/city?schema=city'
    >>> redact_url(3)
    3
    """
    if not is_postgis_url(value):
        return value
    scheme, netloc, path, params = _split(value)
    if "@" in netloc:
        user, host = netloc.rsplit("@", 1)
        netloc = f"{user.split(':', 1)[0]}@{host}"
    return _join(scheme, netloc, path, [(k, p) for k, p in params if k.lower() != "password"])


@dataclass(frozen=True)
class DbURL:
    """A parsed database URL: what libpq gets, the schema, and the text shown to people."""

    conninfo: str  # the URL for libpq, without the renogis-only ``schema`` parameter
    schema: str | None
    display: str  # the URL as given, without a password (for messages and run.json)
    database: str


def parse_url(url: str, *, what: str = "input") -> DbURL:
    """Split a renogis database URL; refuse a password in it.

    Parameters
    ----------
    url : str
        ``postgresql://[user@][host][:port]/[database]?schema=NAME[&other libpq parameters]``.
    what : str
        ``"input"`` or ``"--out-db"``, for messages.

    Examples
    --------
    >>> u = parse_url("postgresql://planner@db:5432/city?schema=old_town&sslmode=require")
    >>> u.conninfo, u.schema
    ('postgresql://planner@db:5432/city?sslmode=require', 'old_town')
    """
    text = url.strip()
    display = redact_url(text)
    scheme, netloc, path, params = _split(text)
    if ":" in netloc.rsplit("@", 1)[0] and "@" in netloc or any(k.lower() == "password" for k, _ in params):
        raise InputError(f"{what} {display}: the URL holds a password; remove it and {_PASSWORD_HELP}")
    schemas = [unquote(p.split("=", 1)[1]) if "=" in p else "" for k, p in params if k == "schema"]
    if len(schemas) > 1 or (schemas and not schemas[0].strip()):
        raise InputError(f"{what} {display}: give one schema, e.g. ?schema=city")
    rest = [(k, p) for k, p in params if k != "schema"]
    dbname = [unquote(p.split("=", 1)[1]) for k, p in rest if k == "dbname" and "=" in p]
    database = unquote(path.lstrip("/")) or (dbname[0] if dbname else "") or "(default database)"
    return DbURL(conninfo=_join(scheme, netloc, path, rest), schema=schemas[0].strip() if schemas else None,
                 display=display, database=database)


def parse_layer_map(items: list[str] | None) -> dict[str, str]:
    """Parse ``LAYER=TABLE`` pairs (``--layer-map``) into ``{canonical layer: table}``.

    The layer is a canonical name or a Chinese layer alias; the table may be
    schema-qualified (``other_schema.table``).

    Examples
    --------
    >>> parse_layer_map(["compounds=old_compounds", "设施 = poi_2023"])
    {'compounds': 'old_compounds', 'facilities': 'poi_2023'}
    """
    from renogis.io import LAYER_ALIASES

    out: dict[str, str] = {}
    for item in items or []:
        for part in str(item).split(","):
            if not part.strip():
                continue
            if "=" not in part:
                raise InputError(f"--layer-map {part!r}: expected LAYER=TABLE, e.g. compounds=my_compounds")
            src, dst = (s.strip() for s in part.split("=", 1))
            layer = src.lower() if src.lower() in schema.LAYERS else LAYER_ALIASES.get(src)
            if layer is None or not dst:
                raise InputError(
                    f"--layer-map {part.strip()!r}: "
                    + (f"unknown layer {src!r}; use one of {', '.join(schema.LAYERS)}" if layer is None
                       else "give the table name after '='")
                )
            out[layer] = dst
    return out


# --------------------------------------------------------------------------- connections
def _deps(*, writing: bool = False) -> tuple[Any, Any]:
    try:
        import psycopg
        import sqlalchemy

        if writing:
            import geoalchemy2  # noqa: F401 - the geometry column type of the result tables
    except ImportError as exc:
        raise InputError(
            f"PostGIS needs the optional extra ({exc.name} is not installed): pip install 'renogis[postgis]'"
        ) from None
    return psycopg, sqlalchemy


def _one_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    diag = getattr(orig, "diag", None)
    text = getattr(diag, "message_primary", None) or str(orig)
    return " ".join(str(text).split()).rstrip(".")


@contextmanager
def _connection(url: DbURL, *, what: str, read_only: bool = False) -> Iterator[Any]:
    """A SQLAlchemy connection inside one transaction, committed when the block ends without error.

    libpq reads the password itself (``PGPASSWORD``, ``~/.pgpass``, service file);
    SQLAlchemy only gets a ``creator``, so no URL with credentials exists on this side.
    """
    psycopg, sqlalchemy = _deps()
    from sqlalchemy.pool import NullPool

    def creator() -> Any:
        return psycopg.connect(url.conninfo, application_name=_APPLICATION_NAME, connect_timeout=20)

    engine = sqlalchemy.create_engine("postgresql+psycopg://", creator=creator, poolclass=NullPool)
    try:
        try:
            conn = engine.connect()
        except sqlalchemy.exc.DBAPIError as exc:
            raise InputError(
                f"{what} {url.display}: cannot connect ({_one_line(exc)}); check host, port, database "
                f"and user, and {_PASSWORD_HELP}"
            ) from None
        with conn:
            if read_only:
                conn = conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
            with conn.begin():
                yield conn
    finally:
        engine.dispose()


@contextmanager
def _database_errors(prefix: str) -> Iterator[None]:
    """Turn any other database failure (connection lost, statement cancelled) into one line."""
    _, sqlalchemy = _deps()
    sa_exc = sqlalchemy.exc
    try:
        yield
    except sa_exc.DBAPIError as exc:
        raise InputError(f"{prefix}: the database reported an error ({_one_line(exc)}); check the server "
                         "and your rights, and run again") from None


def _q(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def _scalar(conn: Any, sql: str, **params: Any) -> Any:
    from sqlalchemy import text

    return conn.execute(text(sql), params).scalar()


def _rows(conn: Any, sql: str, **params: Any) -> list[Any]:
    from sqlalchemy import text

    return list(conn.execute(text(sql), params).fetchall())


def _require_postgis(conn: Any, url: DbURL, *, what: str) -> None:
    if _scalar(conn, "SELECT extversion FROM pg_extension WHERE extname = 'postgis'") is None:
        raise InputError(f"{what} {url.display}: database {url.database} has no PostGIS extension; run "
                         "CREATE EXTENSION postgis there (as its owner)")


# --------------------------------------------------------------------------- reading
@dataclass(frozen=True)
class DbTable:
    """Where a layer came from: a table or view of a database (in place of a file path)."""

    url: str  # without password
    schema: str
    table: str
    sha256: str = ""  # of the rows as read, independent of their order

    @property
    def name(self) -> str:
        """``schema.table``, as messages name a file."""
        return f"{self.schema}.{self.table}"

    def __str__(self) -> str:
        return f"{self.url} {self.name}"


def _relations(conn: Any, schema_name: str) -> dict[str, int]:
    rows = _rows(conn, """
        SELECT c.relname, c.oid::bigint FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = :s AND c.relkind IN ('r', 'v', 'm', 'p', 'f') ORDER BY c.relname""", s=schema_name)
    return {str(r[0]): int(r[1]) for r in rows}


def _resolve_tables(conn: Any, url: DbURL, layer_map: Mapping[str, str]) -> dict[str, tuple[str, str, int]]:
    """``{layer: (schema, table, oid)}`` for every layer present; errors name the missing table."""
    from renogis.io import LAYER_ALIASES

    assert url.schema is not None
    cache: dict[str, dict[str, int]] = {}

    def relations(name: str) -> dict[str, int]:
        if name not in cache:
            if _scalar(conn, "SELECT 1 FROM pg_namespace WHERE nspname = :s", s=name) is None:
                raise InputError(f"{url.display}: schema {name} does not exist in database {url.database}; "
                                 "check ?schema= (or the schema in --layer-map)")
            cache[name] = _relations(conn, name)
        return cache[name]

    found: dict[str, tuple[str, str, int]] = {}
    here = relations(url.schema)
    for layer, spec in layer_map.items():
        sch, table = spec.split(".", 1) if "." in spec else (url.schema, spec)
        rels = relations(sch)
        match = table if table in rels else next(
            (n for n in rels if n.lower() == table.lower()), None)
        if match is None:
            shown = ", ".join(list(rels)[:12]) or "none"
            raise InputError(
                f"{url.display}: table {sch}.{table} (--layer-map {layer}={spec}) does not exist; check the "
                f"name (tables and views in {sch}: {shown})")
        found[layer] = (sch, match, rels[match])
    for layer in schema.LAYERS:
        if layer in found:
            continue
        names = [layer] + [k for k, v in LAYER_ALIASES.items() if v == layer]
        hits = [n for key in names for n in here if n.lower() == key.lower()]
        if hits:
            found[layer] = (url.schema, hits[0], here[hits[0]])
            if len(hits) > 1:
                logger.warning("schema %s: several tables for layer %s (%s); using %s", url.schema, layer,
                               ", ".join(hits), hits[0])
    if schema.COMPOUNDS not in found:
        raise InputError(
            f"{url.display}: no compounds table in schema {url.schema} (the only required layer); name it "
            "compounds (or 小区) or give --layer-map compounds=TABLE")
    return {layer: found[layer] for layer in schema.LAYERS if layer in found}


def _crs_of(conn: Any, srid: int, label: str) -> Any:
    row = _rows(conn, "SELECT auth_name, auth_srid, srtext FROM spatial_ref_sys WHERE srid = :s", s=srid)
    if not row:
        raise CRSError(f"{label}: SRID {srid} is not in spatial_ref_sys; set a known SRID on the column")
    auth, code, wkt = row[0]
    if str(auth).upper() == "EPSG" and code:
        return f"EPSG:{int(code)}"
    return wkt


def _fingerprint(attrs: pd.DataFrame, wkb: Any) -> str:
    """SHA-256 of the rows as read (attributes and the WKB bytes), independent of row order."""
    import numpy as np

    try:
        rows = pd.util.hash_pandas_object(attrs, index=False).to_numpy()
    except TypeError:  # values pandas cannot hash as they are
        rows = pd.util.hash_pandas_object(attrs.astype(str), index=False).to_numpy()
    blobs = np.array([b"" if v is None else bytes(v) for v in wkb], dtype=object)
    rows = np.sort(rows * np.uint64(31) ^ pd.util.hash_array(blobs))
    return hashlib.sha256(rows.tobytes() + "|".join(map(str, attrs.columns)).encode()).hexdigest()


def _read_table(conn: Any, url: DbURL, layer: str, sch: str, table: str, oid: int) -> Any:
    import geopandas as gpd
    import shapely
    from sqlalchemy import exc as sa_exc
    from sqlalchemy import text

    label = f"{sch}.{table} [{layer}]"
    user = _scalar(conn, "SELECT current_user")
    usage, select = _rows(conn, "SELECT has_schema_privilege(:s, 'USAGE'), has_table_privilege(:o, 'SELECT')",
                          s=sch, o=oid)[0]
    if not (usage and select):
        raise InputError(
            f"{label}: no permission to read the table as user {user}; ask its owner for "
            + ("" if usage else f"GRANT USAGE ON SCHEMA {_q(sch)} TO {user} and ")
            + f"GRANT SELECT ON {_q(sch)}.{_q(table)} TO {user}")
    attrs = _rows(conn, """
        SELECT a.attname, t.typname,
               CASE WHEN t.typname IN ('geometry', 'geography') AND a.atttypmod > 0
                    THEN postgis_typmod_srid(a.atttypmod) ELSE 0 END
        FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
        WHERE a.attrelid = :o AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum""", o=oid)
    spatial = [(str(n), str(t), int(s)) for n, t, s in attrs if t in _SPATIAL_TYPES]
    if not spatial:
        raise InputError(f"{label}: no geometry column (the layer needs geometries); add a PostGIS geometry "
                         "column, or map a table or view that has one with --layer-map")
    if len(spatial) > 1:
        named = [c for c in spatial if c[0].lower() in _GEOMETRY_NAMES]
        if len(named) != 1:
            raise InputError(
                f"{label}: several geometry columns ({', '.join(c[0] for c in spatial)}); create a view with "
                "one of them and map it with --layer-map")
        spatial = named
    geom, gtype, srid = spatial[0]
    as_geometry = f"{_q(geom)}::geometry" if gtype == "geography" else _q(geom)
    relation = f"{_q(sch)}.{_q(table)}"
    if srid == 0:
        srids = [int(r[0]) for r in _rows(
            conn, f"SELECT DISTINCT ST_SRID({as_geometry}) FROM {relation} WHERE {_q(geom)} IS NOT NULL "
            "ORDER BY 1 LIMIT 6")]
        if len(srids) > 1:
            raise CRSError(
                f"{label} column {geom}: mixed SRIDs ({', '.join(map(str, srids))}) in one column; "
                f"transform them to one (UPDATE {relation} SET {_q(geom)} = ST_Transform({_q(geom)}, "
                f"{srids[-1]})) or map a view that does")
        srid = srids[0] if srids else (4326 if gtype == "geography" else 0)
    crs = _crs_of(conn, srid, label) if srid else None
    columns = [f"ST_AsBinary({as_geometry}) AS {_q(schema.GEOMETRY)}"]
    for name, typ, _ in attrs:
        if typ in _SPATIAL_TYPES or name == schema.GEOMETRY:
            continue
        cast = "" if typ in _PLAIN_TYPES else ("::float8" if typ == "numeric" else "::text")
        columns.append(f"{_q(name)}{cast} AS {_q(name)}")
    sql = f"SELECT {', '.join(columns)} FROM {relation}"
    try:
        frame = pd.read_sql(text(sql), conn)
        # one vectorised WKB parse (geopandas.read_postgis parses row by row: 3x slower on 80k rows)
        wkb = frame.pop(schema.GEOMETRY).to_numpy(dtype=object)
        geoms = shapely.from_wkb(wkb)
        gdf = gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, index=frame.index, crs=crs))
        digest = _fingerprint(frame, wkb)
    except sa_exc.DBAPIError as exc:
        raise InputError(f"{label}: cannot read the table ({_one_line(exc)}); check your permissions on "
                         "it") from None
    others = [c[0] for c in attrs if c[1] in _SPATIAL_TYPES and c[0] != geom]
    notes = [f"read from PostGIS {relation} (geometry column {geom}, SRID {srid})"]
    if others:
        notes.append(f"other geometry columns not read: {', '.join(others)}")
    if not srid and len(gdf):
        notes.append(f"column {geom} has SRID 0 (no CRS): give --input-crs, or set it in the database with "
                     f"SELECT UpdateGeometrySRID('{sch}', '{table}', '{geom}', EPSG_CODE)")
    return gdf, notes, digest


def read_layers(
    url: str,
    *,
    layer_map: Mapping[str, str] | None = None,
    column_map: Mapping[str, str] | None = None,
    source_crs: str | None = None,
) -> dict[str, Any]:
    """Read every renogis layer from a PostGIS schema, as :func:`renogis.io.read_layers` reads files.

    Parameters
    ----------
    url : str
        ``postgresql://user@host:port/db?schema=NAME``; the password comes from libpq
        (``PGPASSWORD``, ``~/.pgpass`` or a service file).
    layer_map : mapping, optional
        ``{layer: table}`` for tables not named as in the data contract (``table`` may
        be ``schema.table``).
    column_map, source_crs
        See :func:`renogis.io.read_layers`.

    Returns
    -------
    dict of str to RawLayer
        Keyed by canonical layer name; ``RawLayer.source`` is a :class:`DbTable`.
    """
    from renogis.crs import from_web_coordinates
    from renogis.io import RawLayer, normalise_columns

    target = parse_url(url)
    if not target.schema:
        raise InputError(f"{target.display}: give the schema that holds the layers, e.g. ?schema=city")
    out: dict[str, Any] = {}
    with _database_errors(f"input {target.display}"), \
            _connection(target, what="input", read_only=True) as conn:
        _require_postgis(conn, target, what="input")
        for layer, (sch, table, oid) in _resolve_tables(conn, target, dict(layer_map or {})).items():
            gdf, notes, digest = _read_table(conn, target, layer, sch, table, oid)
            source = DbTable(url=target.display, schema=sch, table=table, sha256=digest)
            gdf, renames = normalise_columns(gdf, column_map=column_map)
            notes.extend(renames)
            if source_crs:
                if gdf.crs is not None and not gdf.crs.is_geographic:
                    raise CRSError(
                        f"{source.name} [{layer}]: --source-crs {source_crs} needs lon/lat input, but the "
                        f"layer is in {gdf.crs.name}; drop --source-crs or give lon/lat data")
                gdf = from_web_coordinates(gdf.set_crs(4326, allow_override=True), source_crs)
                notes.append(f"converted from {source_crs.upper()} to WGS84")
            out[layer] = RawLayer(name=layer, gdf=gdf, source=source, notes=tuple(notes))  # type: ignore[arg-type]
            logger.info("read %d features from %s", len(gdf), source)
    return out


def input_hashes(sources: Mapping[str, Any]) -> dict[str, str]:
    """``{"URL schema.table": sha256}`` of every table read (for ``run.json``)."""
    return {str(s): s.sha256 for s in sources.values() if isinstance(s, DbTable)}


def changed_tables(url: str, recorded: Mapping[str, str], *, layer_map: Mapping[str, str]) -> list[str]:
    """Tables of ``recorded`` (``run.json`` inputs) that are missing or whose rows differ now.

    Returns ``["URL schema.table (changed)", ...]``; empty when every table is as it was.
    """
    now = input_hashes({k: r.source for k, r in read_layers(url, layer_map=layer_map).items()})
    out = []
    for name, digest in recorded.items():
        if is_postgis_url(name):
            state = "missing" if name not in now else ("changed" if now[name] != digest else "")
            if state:
                out.append(f"{name} ({state})")
    return out


# --------------------------------------------------------------------------- writing
def _db_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy whose object columns hold one SQL type each (lists as text, mixed values as text)."""
    import geopandas as gpd

    out = frame.copy()
    geom = out.geometry.name if isinstance(out, gpd.GeoDataFrame) else None
    for col in out.columns:
        if col == geom or out[col].dtype != object:
            continue
        kind = pd.api.types.infer_dtype(out[col], skipna=True)
        if kind in ("string", "empty", "boolean", "date", "datetime"):
            continue
        if kind in ("integer", "floating", "mixed-integer-float", "decimal"):
            out[col] = pd.to_numeric(out[col])
            continue

        def text(v: Any) -> Any:
            if isinstance(v, (list, tuple, set, frozenset)):
                return ",".join(map(str, v))
            if isinstance(v, dict):
                return json.dumps(v, ensure_ascii=False, default=str)
            return None if v is None or (isinstance(v, float) and v != v) else str(v)

        out[col] = out[col].map(text)
    out.columns = [str(c) for c in out.columns]
    return out


def _copy_rows(table: Any, conn: Any, keys: list[str], data_iter: Any) -> int:
    """Write rows with COPY, as a pandas ``to_sql`` method (4x faster than INSERT on 360k rows)."""
    relation = (f"{_q(table.schema)}." if table.schema else "") + _q(table.name)
    n = 0
    with conn.connection.cursor() as cur, cur.copy(
            f"COPY {relation} ({', '.join(map(_q, keys))}) FROM STDIN") as copy:
        for row in data_iter:
            copy.write_row([None if v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and
                                                                                v != v) else v for v in row])
            n += 1
    return n


def _ewkb_frame(gdf: Any) -> tuple[int, pd.DataFrame, dict[str, Any]]:
    """SRID, a plain frame with the geometry as hex EWKB, and the column type (GeoAlchemy2).

    As ``GeoDataFrame.to_postgis`` does, but the rows then go through :func:`_copy_rows`,
    which keeps an empty text apart from NULL (geopandas' CSV COPY makes both NULL).
    GeoAlchemy2 adds the GIST index when the table is created.
    """
    import shapely
    from geoalchemy2 import Geometry

    srid = gdf.crs.to_epsg() or 0
    geom = gdf.geometry.name
    values = gdf.geometry.to_numpy()
    kinds = sorted({t.upper() for t in gdf.geometry.geom_type.dropna().unique()})
    gtype = kinds[0] if len(kinds) == 1 else "GEOMETRY"
    ewkb = shapely.to_wkb(shapely.set_srid(values, srid), hex=True, include_srid=True)
    frame = pd.DataFrame(gdf.drop(columns=geom)).assign(**{geom: ewkb})
    return srid, frame, {geom: Geometry(geometry_type=gtype, srid=srid, spatial_index=True)}


def _target(url: str) -> DbURL:
    target = parse_url(url, what="--out-db")
    if not target.schema:
        raise InputError(f"--out-db {target.display}: give the schema to write into, e.g. "
                         "?schema=renogis_run")
    return target


def _previous(conn: Any, sch: str) -> dict[str, int] | None:
    """``{table: oid}`` from the manifest of ``sch``; None when there is no manifest."""
    if _scalar(conn, "SELECT to_regclass(:r)", r=f"{_q(sch)}.{_q(MANIFEST)}") is None:
        return None
    cols = {r[0] for r in _rows(conn, """SELECT column_name FROM information_schema.columns
                                        WHERE table_schema = :s AND table_name = :t""", s=sch, t=MANIFEST)}
    if not {"table_name", "table_oid"} <= cols:
        raise InputError(f"--out-db schema {sch}: table {MANIFEST} exists but was not written by renogis; "
                         "choose another schema")
    return {str(n): int(o) for n, o in _rows(conn, f"SELECT table_name, table_oid::bigint FROM "
                                                   f"{_q(sch)}.{_q(MANIFEST)}")}


def _conflicts(relations: Mapping[str, int], previous: Mapping[str, int], names: list[str]) -> list[str]:
    """Target names held by a table or view that renogis did not write (or that was replaced since)."""
    return [n for n in names if n in relations and previous.get(n) != relations[n]]


def _conflict_error(target: DbURL, bad: list[str]) -> InputError:
    shown = ", ".join(f"{target.schema}.{n}" for n in bad)
    return InputError(
        f"--out-db {target.display}: {shown} exist{'s' if len(bad) == 1 else ''} and renogis did not write "
        f"{'it' if len(bad) == 1 else 'them'}; renogis never replaces such tables: choose another schema "
        "(e.g. ?schema=renogis_run) or drop or rename them yourself")


def check_out_db(url: str) -> None:
    """Fail early (before any computing) when ``--out-db`` cannot be written. Writes nothing.

    Checks the connection, the PostGIS extension, the right to create the schema or
    tables in it, and that no table renogis would replace was written by someone else.
    """
    target = _target(url)
    assert target.schema is not None
    with _database_errors(f"--out-db {target.display}"), \
            _connection(target, what="--out-db", read_only=True) as conn:
        _require_postgis(conn, target, what="--out-db")
        user = _scalar(conn, "SELECT current_user")
        if _scalar(conn, "SELECT 1 FROM pg_namespace WHERE nspname = :s", s=target.schema) is None:
            if not _scalar(conn, "SELECT has_database_privilege(current_database(), 'CREATE')"):
                raise InputError(f"--out-db {target.display}: user {user} may not create schema "
                                 f"{target.schema}; create it for them (CREATE SCHEMA {_q(target.schema)} "
                                 f"AUTHORIZATION {user}) or choose an existing schema they may write to")
            return
        if not _scalar(conn, "SELECT has_schema_privilege(:s, 'CREATE') AND "
                             "has_schema_privilege(:s, 'USAGE')", s=target.schema):
            raise InputError(f"--out-db {target.display}: user {user} may not create tables in schema "
                             f"{target.schema}; GRANT USAGE, CREATE ON SCHEMA {_q(target.schema)} TO {user}, "
                             "or choose another schema")
        previous = _previous(conn, target.schema) or {}
        bad = _conflicts(_relations(conn, target.schema), previous, list(RESULT_TABLES) + [MANIFEST])
        bad = [n for n in bad if n != MANIFEST]
        if bad:
            raise _conflict_error(target, bad)


def write_results(
    url: str,
    tables: Mapping[str, pd.DataFrame | None],
    *,
    run_json: str,
) -> dict[str, int]:
    """Write result layers and tables into a PostGIS schema in one transaction.

    Parameters
    ----------
    url : str
        ``postgresql://user@host:port/db?schema=NAME`` (the schema is created if missing).
    tables : mapping of str to DataFrame or None
        Result frames by table name (a name of :data:`RESULT_TABLES`); GeoDataFrames
        become tables with a geometry column in their SRID and a GIST index; None is
        skipped.
    run_json : str
        The run's provenance (``run.json``), stored as one row of table ``run``.

    Returns
    -------
    dict of str to int
        Rows written per table.

    Either every table lands and the manifest lists them, or (on any error, or when
    the process dies before the commit) the schema stays exactly as it was. Tables of
    a previous renogis result in the schema are replaced (those not written again are
    dropped); a table renogis did not write is never touched: the run stops instead.
    """
    from sqlalchemy import exc as sa_exc

    _deps(writing=True)
    target = _target(url)
    sch = target.schema
    assert sch is not None
    record = json.loads(run_json)
    frames = {n: f for n, f in tables.items() if f is not None}
    unknown = [n for n in frames if n not in RESULT_TABLES or n == "run"]
    if unknown:
        raise ValueError(f"not result tables: {unknown}")
    written: dict[str, int] = {}
    try:
        with _connection(target, what="--out-db") as conn:
            _require_postgis(conn, target, what="--out-db")
            _lock_schema(conn, sch)
            previous = _previous(conn, sch) or {}
            names = list(frames) + ["run"]
            bad = _conflicts(_relations(conn, sch), previous, names)
            if bad:
                raise _conflict_error(target, bad)
            entries: list[dict[str, Any]] = []
            for name in RESULT_TABLES:
                if name not in frames and name != "run":
                    continue
                srid, rows = _write_one(conn, sch, name, frames.get(name), record=record, run_json=run_json,
                                        replace=name in previous)
                oid = _scalar(conn, "SELECT to_regclass(:r)::oid::bigint", r=f"{_q(sch)}.{_q(name)}")
                entries.append({"n": name, "o": oid, "k": "layer" if srid else "table", "r": rows, "s": srid,
                                "v": record.get("renogis"), "t": record.get("started_utc")})
                written[name] = rows
            _replace_manifest(conn, sch, entries, stale=[n for n in previous if n not in written])
    except sa_exc.DBAPIError as exc:
        raise _write_failed(exc, target) from None
    logger.info("wrote %d tables into schema %s of %s: %s", len(written), sch, target.display,
                ", ".join(f"{k} {v}" for k, v in written.items()))
    return written


def _lock_schema(conn: Any, sch: str) -> None:
    """Create the schema and its manifest table if missing, and take the one-writer-per-schema lock."""
    from sqlalchemy import text

    conn.execute(text(f"SET LOCAL lock_timeout = '{int(LOCK_TIMEOUT_S * 1000)}ms'"))
    conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {_q(sch)}"))
    conn.execute(text(
        f"CREATE TABLE IF NOT EXISTS {_q(sch)}.{_q(MANIFEST)} (table_name text PRIMARY KEY, "
        "table_oid oid NOT NULL, kind text NOT NULL, rows bigint NOT NULL, srid integer, "
        "renogis_version text, run_started_utc timestamptz, written_utc timestamptz DEFAULT now())"))
    # one renogis writer per schema at a time; readers of the old result are not blocked
    conn.execute(text(f"LOCK TABLE {_q(sch)}.{_q(MANIFEST)} IN SHARE ROW EXCLUSIVE MODE"))


def _write_one(
    conn: Any, sch: str, name: str, frame: pd.DataFrame | None, *, record: Mapping[str, Any], run_json: str,
    replace: bool,
) -> tuple[int | None, int]:
    """Write table ``name`` (``run``: one row of provenance; else ``frame``); return its SRID and rows."""
    import geopandas as gpd
    from sqlalchemy import text

    relation = f"{_q(sch)}.{_q(name)}"
    if replace:
        conn.execute(text(f"DROP TABLE IF EXISTS {relation}"))
    srid = None
    if name == "run":
        conn.execute(text(f"CREATE TABLE {relation} (started_utc timestamptz, "
                          "renogis_version text, input text, work_crs text, record jsonb)"))
        epsg = (record.get("work_crs") or {}).get("epsg")
        conn.execute(text(f"INSERT INTO {relation} VALUES (:t, :v, :i, :w, CAST(:r AS jsonb))"),
                     {"t": record.get("started_utc"), "v": record.get("renogis"),
                      "i": str((record.get("parameters") or {}).get("input")),
                      "w": f"EPSG:{epsg}" if epsg else None, "r": run_json})
        return srid, 1
    assert frame is not None
    frame = _db_safe(frame)
    dtype = None
    if isinstance(frame, gpd.GeoDataFrame) and frame.crs is not None:
        srid, frame, dtype = _ewkb_frame(frame)
    pd.DataFrame(frame).to_sql(name, conn, schema=sch, if_exists="fail", index=False,
                               dtype=dtype, method=_copy_rows)
    return srid, len(frame)


def _replace_manifest(conn: Any, sch: str, entries: list[dict[str, Any]], *, stale: list[str]) -> None:
    """Drop the previous result's tables this run does not produce, and list this run's tables."""
    from sqlalchemy import text

    for name in stale:  # a table of the previous result this run does not produce
        conn.execute(text(f"DROP TABLE IF EXISTS {_q(sch)}.{_q(name)}"))
    conn.execute(text(f"DELETE FROM {_q(sch)}.{_q(MANIFEST)}"))
    conn.execute(text(f"INSERT INTO {_q(sch)}.{_q(MANIFEST)} (table_name, table_oid, kind, rows, "
                      "srid, renogis_version, run_started_utc) VALUES (:n, :o, :k, :r, :s, :v, :t)"),
                 entries)


def _write_failed(exc: Exception, target: DbURL) -> InputError:
    """The error of a failed write: nothing was written; a lock timeout names its likely cause."""
    psycopg, _ = _deps()
    sch = target.schema
    hint = ""
    if isinstance(getattr(exc, "orig", None), psycopg.errors.LockNotAvailable):
        hint = (f"; another session kept a table of schema {sch} locked for over {LOCK_TIMEOUT_S:g} s: "
                "close what reads it (e.g. a QGIS layer) and run again")
    return InputError(f"--out-db {target.display}: writing the results failed ({_one_line(exc)}); nothing "
                      f"was written, schema {sch} is as it was{hint}")
