"""Many cities at once: one :func:`renogis.pipeline.run` per city, as tasks on Dask.

A *manifest* lists the cities: a CSV or TOML file with one row per city (its
name, its input and, optionally, its own options), or a folder of city
GeoPackages (one city per ``*.gpkg``, named after the file). Every city runs the
very pipeline of ``renogis run`` (:func:`renogis.pipeline.run` with a
:class:`~renogis.pipeline.RunConfig`) as one task of a ``dask.distributed``
cluster: a :class:`~distributed.LocalCluster` of process workers on this machine,
or an existing cluster given by its scheduler address. Each city writes
``OUT/<city>/`` atomically (the pipeline's own temporary folder and swap); a city
that fails records a one-line error and the others go on.

The batch folder ``OUT`` holds::

    <city>/          the outputs of renogis run for that city
    summary.csv      one row per city (canonical column names; UTF-8 with BOM)
    summary.xlsx     the same table, headers in --lang
    summary.gpkg     layer ``districts``: every city's district polygons with a ``city`` column
    batch.json       provenance: options, cluster, and the state used by --resume
    warnings.txt     the warnings every city's run logged, prefixed with the city

Results do not depend on the number of workers or on the order in which cities
finish: each task is the single-city pipeline, and the summary lists cities in
manifest order.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import logging
import math
import os
import re
import threading
import time
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from renogis import __version__, config, schema
from renogis._errors import InputError, RenogisError
from renogis.pipeline import RunConfig, run

logger = logging.getLogger(__name__)

__all__ = [
    "City",
    "CityOutcome",
    "BatchResult",
    "read_manifest",
    "run_city",
    "run_batch",
    "city_complete",
    "SUMMARY_COLUMNS",
    "EXIT_OK",
    "EXIT_BAD_INPUT",
    "EXIT_CITY_FAILED",
]

#: Exit codes of ``renogis batch``: every city ok (or already complete with --resume).
EXIT_OK = 0
#: Bad manifest, bad options or an output folder that cannot be used: nothing was run.
EXIT_BAD_INPUT = 2
#: At least one city failed (see the ``status`` and ``error`` columns of summary.csv); the others ran.
EXIT_CITY_FAILED = 3

# --------------------------------------------------------------------------- output names
SUMMARY = "summary"
SUMMARY_GPKG = "summary.gpkg"
SUMMARY_LAYER = "districts"
BATCH_JSON = "batch.json"
WARNINGS_TXT = "warnings.txt"
_RESERVED = {"summary.csv", "summary.xlsx", SUMMARY_GPKG, BATCH_JSON, WARNINGS_TXT}

# --------------------------------------------------------------------------- summary columns
CITY: str = "city"
STATUS: str = "status"  # ok | resumed | failed
FAILURE: str = "failure"  # why a city failed: input_error | internal_error | worker_lost
ERROR: str = "error"  # the one-line error message
COMPOUNDS_COUNT: str = "compounds"
DISTRICTS_COUNT: str = "districts"
DISTRICTS_IN_BAND: str = "districts_in_band"
SHARE_IN_BAND: str = "share_in_band"  # districts with min_households <= households <= max_households
COMPOUNDS_IN_DISTRICTS: str = "compounds_in_districts"
COMPOUNDS_EXCLUDED: str = "compounds_excluded"
SITES: str = "sites"
WARNINGS: str = "warnings"
WORK_CRS: str = "work_crs"
RUN_TIME_S: str = "run_time_s"
COVERAGE_PREFIX: str = "coverage_share_"  # + category: households covered, compounds alone
COVERAGE_MERGED_PREFIX: str = "coverage_share_merged_"  # + category: after merging into districts

#: Fixed columns of summary.csv, in order; one ``coverage_share_<category>`` and one
#: ``coverage_share_merged_<category>`` column per category follow.
SUMMARY_COLUMNS: tuple[str, ...] = (
    CITY, STATUS, FAILURE, ERROR, COMPOUNDS_COUNT, schema.HOUSEHOLDS, DISTRICTS_COUNT, DISTRICTS_IN_BAND,
    SHARE_IN_BAND, COMPOUNDS_IN_DISTRICTS, COMPOUNDS_EXCLUDED, SITES, WARNINGS, WORK_CRS, RUN_TIME_S,
)

_COLUMNS_ZH = {
    CITY: "城市", STATUS: "状态", FAILURE: "失败原因", ERROR: "错误信息", COMPOUNDS_COUNT: "小区数",
    schema.HOUSEHOLDS: "户数", DISTRICTS_COUNT: "片区数", DISTRICTS_IN_BAND: "户数达标片区数",
    SHARE_IN_BAND: "户数达标片区占比", COMPOUNDS_IN_DISTRICTS: "纳入片区小区数",
    COMPOUNDS_EXCLUDED: "排除小区数", SITES: "选址设施数", WARNINGS: "警告数", WORK_CRS: "计算坐标系",
    RUN_TIME_S: "用时(秒)",
}

# --------------------------------------------------------------------------- manifest fields
_NAME_RE = re.compile(r"^[\w][\w\-.]*$")


def _text(value: Any) -> str:
    return str(value).strip()


def _int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("a whole number is expected, not true/false")
    if isinstance(value, int):
        return value
    text = _text(value)
    if not re.fullmatch(r"[+-]?\d+", text):
        raise ValueError(f"{text!r} is not a whole number")
    return int(text)


def _float(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError("a number is expected, not true/false")
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{value!r} is not a number") from None
    if not math.isfinite(v):
        raise ValueError(f"{value!r} is not a finite number")
    return v


def _non_negative_int(value: Any) -> int:
    v = _int(value)
    if v < 0:
        raise ValueError(f"{v} is negative; give 0 or more")
    return v


def _non_negative(value: Any) -> float:
    v = _float(value)
    if v < 0:
        raise ValueError(f"{v} is negative; give 0 or more")
    return v


def _detour(value: Any) -> float:
    v = _float(value)
    if v < 1:
        raise ValueError(f"{v}: a detour factor is 1 or more")
    return v


def _share(value: Any) -> float:
    text = _text(value)
    v = _float(text[:-1]) / 100 if text.endswith("%") else _float(value)
    if not 0.0 <= v <= 1.0:
        raise ValueError(f"{value!r} is outside 0-1; give a share such as 0.67 or 67%")
    return v


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = _text(value).lower()
    if text in ("true", "yes", "1", "是", "y"):
        return True
    if text in ("false", "no", "0", "否", "n"):
        return False
    raise ValueError(f"{value!r} is not true/false")


def _choice(*choices: str) -> Callable[[Any], str]:
    def convert(value: Any) -> str:
        text = _text(value).lower()
        if text not in choices:
            raise ValueError(f"{value!r}: choose from {', '.join(choices)}")
        return text

    return convert


def _items(value: Any, sep: str) -> list[Any]:
    if isinstance(value, list | tuple):
        return list(value)
    return [s for s in (x.strip() for x in _text(value).replace("；", ";").split(sep)) if s]


def _groups(value: Any) -> tuple[tuple[str, ...], ...]:
    """Compound id groups: ``C1,C2;C3,C4`` in CSV, a list of lists in TOML."""
    out = []
    for group in _items(value, ";"):
        parts = group if isinstance(group, list | tuple) else str(group).replace("，", ",").split(",")
        ids = tuple(str(s).strip() for s in parts if str(s).strip())
        if len(ids) < 2:
            raise ValueError(f"group {group!r}: give at least two compound ids separated by commas")
        out.append(ids)
    return tuple(out)


def _barrier_classes(value: Any) -> tuple[str, ...]:
    """Like repeated ``--barrier-class``: added to the default ``arterial``; ``none`` clears it."""
    from renogis.pipeline import barrier_classes

    given = []
    for item in _items(value, ";"):
        text = _text(item)
        if text.lower() in ("none", "无"):
            given.append("none")
            continue
        cls = schema.normalise_street_class(text)
        if cls is None:
            raise ValueError(f"unknown street class {text!r}; choose from "
                             f"{', '.join((*schema.STREET_CLASSES, 'none'))}")
        given.append(cls)
    return barrier_classes(given)


def _classes(value: Any) -> tuple[str, ...]:
    """Street classes (``secondary;path`` in CSV, a list in TOML), e.g. soft barriers."""
    out: list[str] = []
    for item in _items(value, ";"):
        cls = schema.normalise_street_class(_text(item))
        if cls is None:
            raise ValueError(f"unknown street class {_text(item)!r}; choose from "
                             f"{', '.join(schema.STREET_CLASSES)}")
        if cls not in out:
            out.append(cls)
    return tuple(out)


def _positive(value: Any) -> float:
    v = _float(value)
    if v <= 0:
        raise ValueError(f"{v}: give a length above 0 m")
    return v


def _column_map(value: Any) -> dict[str, str]:
    from renogis.io import parse_column_map

    if isinstance(value, Mapping):
        return {str(k): str(v) for k, v in value.items()}
    return parse_column_map([str(s) for s in _items(value, ";")])


#: Manifest columns (CSV header or TOML key) that set a city's own options: RunConfig fields.
OPTION_FIELDS: dict[str, Callable[[Any], Any]] = {
    "column_map": _column_map,
    "encoding": _text,
    "source_crs": _choice("gcj02", "bd09"),
    "input_crs": _text,
    "work_crs": _text,
    "gap_m": _non_negative,
    "barrier_classes": _barrier_classes,
    "min_households": _non_negative_int,
    "max_households": _non_negative_int,
    "keep_together": _groups,
    "keep_apart": _groups,
    "min_consent": _share,
    "require_owners_committee": _bool,
    "built_before": _int,
    "seed": _int,
    "standards": _text,
    "detour_factor": _detour,
    "sites_per_category": _non_negative_int,
    "siting_method": _choice(*config.SITING_METHODS),
    "lang": _choice(*config.LANGS),
    "tiles": _choice(*config.TILES),
    "ledger": _text,
    "nested": _choice(*config.NESTED),
    "max_span_m": _positive,
    "soft_barrier_classes": _classes,
}
_NAME_KEYS = ("city", "name")
_INPUT_KEYS = ("input", "path")


@dataclass(frozen=True)
class City:
    """One city of a batch: its name (the output sub-folder) and the full run configuration."""

    name: str
    config: RunConfig
    #: where it was declared, for messages: ``cities.csv row 3``
    origin: str = ""


# --------------------------------------------------------------------------- reading the manifest
def read_manifest(path: str | Path, *, out: str | Path, defaults: RunConfig | None = None) -> list[City]:
    r"""Read a batch manifest into one :class:`City` per city.

    Parameters
    ----------
    path : str or Path
        A ``.csv`` file (header row; columns ``city`` and ``input``, then any of
        :data:`OPTION_FIELDS`; an empty cell keeps the default), a ``.toml`` file
        (an optional ``[defaults]`` table and one ``[[city]]`` table per city with
        the same keys), or a folder whose ``*.gpkg`` files are the cities (named
        after the file). Relative input and standards paths are read from the
        manifest's folder.
    out : str or Path
        The batch output folder: city ``X`` writes ``out/X``.
    defaults : RunConfig, optional
        Options every city starts from (the command-line options); a city's own
        manifest values override them. Its ``input`` and ``out`` are ignored.

    Returns
    -------
    list of City
        In manifest order.

    Raises
    ------
    InputError
        Every problem found (unknown columns, missing or duplicate names, values
        that do not parse, min above max), one line each, under a first line
        naming the manifest.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "cities.csv").write_text("city,input,min_households\na,a.gpkg,1200\nb,b.gpkg,\n")
    >>> [(c.name, c.config.min_households) for c in read_manifest(d / "cities.csv", out=d / "out")]
    [('a', 1200), ('b', 1500)]
    """
    path = Path(path)
    out = Path(os.path.abspath(out))
    base = defaults if defaults is not None else RunConfig(input=path, out=out)
    if not path.exists():
        raise InputError(f"manifest {path}: not found; give a CSV or TOML manifest or a folder of city "
                         "GeoPackages")
    problems: list[str] = []
    if path.is_dir():
        rows = _folder_rows(path)
        if not rows:
            raise InputError(f"manifest {path}: the folder holds no *.gpkg file; put one GeoPackage per city "
                             "in it, or give a CSV/TOML manifest")
        root = path
    elif path.suffix.lower() == ".csv":
        rows = _csv_rows(path, problems)
        root = path.parent
    elif path.suffix.lower() == ".toml":
        rows = _toml_rows(path, problems)
        root = path.parent
    else:
        raise InputError(f"manifest {path}: unknown kind {path.suffix!r}; give a .csv or .toml file or a "
                         "folder of city GeoPackages")
    cities: list[City] = []
    seen: dict[str, str] = {}
    for origin, raw in rows:
        name = _first(raw, _NAME_KEYS)
        if name is not None:
            key = _text(name).casefold()
            if key in seen:
                problems.append(f"{origin}: city {_text(name)!r} is already declared at {seen[key]}; city "
                                "names name output folders and must be unique (case does not count)")
                continue
            seen[key] = origin
        city = _city(origin, raw, root=root, out=out, base=base, problems=problems)
        if city is not None:
            cities.append(city)
    if not rows and not problems:
        problems.append("no city is listed")
    if problems:
        raise InputError(f"manifest {path}: {len(problems)} problem(s): " + "; ".join(problems),
                         problems=problems)
    logger.info("manifest %s: %d cities", path, len(cities))
    return cities


def _folder_rows(folder: Path) -> list[tuple[str, dict[str, Any]]]:
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() == ".gpkg" and p.is_file()
                   and not p.name.startswith("."))
    return [(f"{folder.name}/{p.name}", {"city": p.stem, "input": str(p)}) for p in files]


def _csv_rows(path: Path, problems: list[str]) -> list[tuple[str, dict[str, Any]]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        text = path.read_text(encoding="gb18030")
    reader = csv.DictReader(text.splitlines())
    header = [h.strip() for h in reader.fieldnames or []]
    reader.fieldnames = header
    _check_keys(header, f"{path.name} header", problems)
    rows = []
    for i, row in enumerate(reader, start=2):
        if not any((v or "").strip() for v in row.values() if isinstance(v, str)):
            continue  # blank line
        if None in row:
            problems.append(f"{path.name} row {i}: more cells than header columns")
        rows.append((f"{path.name} row {i}",
                     {k: v for k, v in row.items() if k is not None and v is not None and v.strip() != ""}))
    return rows


def _toml_rows(path: Path, problems: list[str]) -> list[tuple[str, dict[str, Any]]]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"manifest {path}: not valid TOML ({exc}); fix the syntax") from None
    unknown = sorted(set(data) - {"defaults", "city"})
    if unknown:
        problems.append(f"{path.name}: unknown top-level keys {unknown}; use [defaults] and [[city]] tables")
    defaults = data.get("defaults", {})
    if not isinstance(defaults, dict):
        problems.append(f"{path.name}: 'defaults' must be a table ([defaults])")
        defaults = {}
    _check_keys(list(defaults), f"{path.name} [defaults]", problems, allow_name=False)
    cities = data.get("city", [])
    if not isinstance(cities, list) or not all(isinstance(c, dict) for c in cities):
        problems.append(f"{path.name}: list the cities as [[city]] tables")
        return []
    rows = []
    for i, c in enumerate(cities, start=1):
        _check_keys(list(c), f"{path.name} city {i}", problems)
        rows.append((f"{path.name} city {i}", {**defaults, **c}))
    return rows


def _check_keys(keys: Sequence[str], where: str, problems: list[str], *, allow_name: bool = True) -> None:
    import difflib

    known = [*_NAME_KEYS, *_INPUT_KEYS, *OPTION_FIELDS] if allow_name else list(OPTION_FIELDS)
    for k in keys:
        if k not in known:
            close = difflib.get_close_matches(k, known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            problems.append(f"{where}: unknown column {k!r}{hint}; known: {', '.join(known)}")


def _first(raw: Mapping[str, Any], keys: Sequence[str]) -> Any:
    for k in keys:
        if k in raw and _text(raw[k]) != "":
            return raw[k]
    return None


def _city(origin: str, raw: Mapping[str, Any], *, root: Path, out: Path, base: RunConfig,
          problems: list[str]) -> City | None:
    name = _first(raw, _NAME_KEYS)
    source = _first(raw, _INPUT_KEYS)
    ok = True
    if name is None:
        problems.append(f"{origin}: no city name; fill the 'city' column")
        ok = False
    else:
        name = _text(name)
        if not _NAME_RE.match(name) or name.lower() in _RESERVED:
            problems.append(f"{origin}: city name {name!r} cannot name a folder; use letters, digits, "
                            "'_', '-' and '.' (not first), and none of " + ", ".join(sorted(_RESERVED)))
            ok = False
    if source is None:
        problems.append(f"{origin}: no input; fill the 'input' column with the city's GeoPackage or folder")
        ok = False
    options: dict[str, Any] = {}
    for key, convert in OPTION_FIELDS.items():
        if key not in raw or _text(raw[key]) == "":
            continue
        try:
            options[key] = convert(raw[key])
        except (ValueError, InputError) as exc:
            problems.append(f"{origin}, column {key}: {exc}")
            ok = False
    if "standards" in options:
        std = options["standards"]
        candidate = Path(std).expanduser()
        if not candidate.is_absolute() and (std.lower().endswith(".toml") or "/" in std or "\\" in std):
            options["standards"] = str((root / candidate).resolve())
    if "ledger" in options:
        led = Path(options["ledger"]).expanduser()
        options["ledger"] = Path(os.path.abspath(led if led.is_absolute() else root / led))
    if options.get("sites_per_category") == 0:
        options["sites_per_category"] = None  # as on the command line: 0 = until all covered
    lo = options.get("min_households", base.min_households)
    hi = options.get("max_households", base.max_households)
    if ok and lo > hi:
        problems.append(f"{origin}: min_households {lo} is above max_households {hi}; give a lower bound "
                        "below the upper one")
        ok = False
    if not ok:
        return None
    src = Path(_text(source)).expanduser()
    src = Path(os.path.abspath(root / src if not src.is_absolute() else src))
    config = dataclasses.replace(base, input=src, out=out / name, map_copy=None, **options)
    return City(name=name, config=config, origin=origin)


# --------------------------------------------------------------------------- one city (the task)
@dataclass(frozen=True)
class CityOutcome:
    """What one city's task reports back: its summary row and the warnings its run logged."""

    city: str
    row: dict[str, Any]
    warnings: tuple[str, ...] = ()
    started_utc: str | None = None  # of the committed run.json, to recognise it on --resume


class _Capture(logging.Handler):
    """Collect renogis warnings logged by this thread (a worker may run other tasks meanwhile)."""

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.thread = threading.get_ident()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self.thread:
            self.lines.append(" ".join(record.getMessage().split()))


def _in_dask_worker() -> bool:
    try:
        from distributed import get_worker

        get_worker()
        return True
    except (ImportError, ValueError):
        return False


def run_city(city: City) -> CityOutcome:
    """Run one city exactly as ``renogis run`` would and summarise it; never raises for a city's error.

    This is the task the batch submits. A :class:`~renogis._errors.RenogisError`
    (bad input) is reported with ``failure="input_error"``, anything else with
    ``failure="internal_error"``; the error text is one line.

    Parameters
    ----------
    city : City
        Name and run configuration.

    Returns
    -------
    CityOutcome
    """
    rlog = logging.getLogger("renogis")
    capture = _Capture()
    rlog.addHandler(capture)
    in_worker = _in_dask_worker()
    if in_worker:
        # Workers have no console of their own to speak to: warnings come back with the outcome and
        # go to warnings.txt and the summary; without this, Python's last-resort handler would print
        # them over the progress bar.
        rlog.propagate = False
        logging.captureWarnings(True)
        pyw = logging.getLogger("py.warnings")
        pyw.propagate = False
        if not pyw.handlers:
            pyw.addHandler(logging.NullHandler())
    row: dict[str, Any] = {CITY: city.name}
    started = None
    t0 = time.perf_counter()
    try:
        result = run(city.config)
        row.update(_row_from_result(result, city.config))
        row[STATUS] = "ok"
        started = _started_utc(result.out)
    except RenogisError as exc:
        row.update({STATUS: "failed", FAILURE: "input_error", ERROR: _one_line(str(exc))})
    except Exception as exc:  # a bug in renogis or the machine (memory): the other cities go on
        row.update({STATUS: "failed", FAILURE: "internal_error",
                    ERROR: _one_line(f"{type(exc).__name__}: {exc}")})
    finally:
        rlog.removeHandler(capture)
    row[RUN_TIME_S] = round(time.perf_counter() - t0, 3)
    return CityOutcome(city=city.name, row=row, warnings=tuple(capture.lines), started_utc=started)


def _one_line(text: str, limit: int = 1000) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _started_utc(out: Path) -> str | None:
    try:
        return json.loads((out / "run.json").read_text(encoding="utf-8")).get("started_utc")
    except (OSError, ValueError):
        return None


def _row_from_result(result: Any, config: RunConfig) -> dict[str, Any]:
    """Summary figures of one finished run, from its summary, coverage and districts.gpkg."""
    import pyogrio

    from renogis.access import CATEGORY, COVERAGE_SHARE, COVERAGE_SHARE_MERGED
    from renogis.outputs.proposals import DISTRICTS_GPKG, LAYER_COMPOUNDS, LAYER_DISTRICTS

    s = result.summary
    gpkg = result.out / DISTRICTS_GPKG
    comp = pyogrio.read_dataframe(gpkg, layer=LAYER_COMPOUNDS, columns=[schema.HOUSEHOLDS],
                                  read_geometry=False)
    dist = pyogrio.read_dataframe(gpkg, layer=LAYER_DISTRICTS, columns=[schema.HOUSEHOLDS],
                                  read_geometry=False)
    hh = pd.to_numeric(dist[schema.HOUSEHOLDS], errors="coerce")
    in_band = int(((hh >= config.min_households) & (hh <= config.max_households)).sum())
    row: dict[str, Any] = {
        COMPOUNDS_COUNT: int(len(comp)),
        schema.HOUSEHOLDS: int(pd.to_numeric(comp[schema.HOUSEHOLDS], errors="coerce").fillna(0).sum()),
        DISTRICTS_COUNT: int(len(dist)),
        DISTRICTS_IN_BAND: in_band,
        SHARE_IN_BAND: round(in_band / len(dist), 6) if len(dist) else None,
        COMPOUNDS_IN_DISTRICTS: s.get("compounds_in_districts"),
        COMPOUNDS_EXCLUDED: s.get("compounds_excluded"),
        SITES: s.get("sites"),
        WARNINGS: s.get("warnings"),
        WORK_CRS: s.get("work_crs"),
    }
    cov = result.coverage
    if cov is not None:
        for r in cov[[CATEGORY, COVERAGE_SHARE, COVERAGE_SHARE_MERGED]].itertuples(index=False):
            row[COVERAGE_PREFIX + r[0]] = None if pd.isna(r[1]) else round(float(r[1]), 6)
            row[COVERAGE_MERGED_PREFIX + r[0]] = None if pd.isna(r[2]) else round(float(r[2]), 6)
    return row


# --------------------------------------------------------------------------- resume
def _parameters(record: Mapping[str, Any]) -> dict[str, Any]:
    """Run parameters as JSON holds them, less where the output went (a batch folder may be moved)."""
    from renogis.outputs.tables import _jsonable

    params = json.loads(json.dumps(_jsonable(record), ensure_ascii=False))
    return {k: v for k, v in params.items() if k not in ("out", "map_copy")}


def city_complete(city: City, *, started_utc: str | None = None) -> bool:
    """Whether ``city``'s output folder holds a complete run with the same options and unchanged inputs.

    Complete means: ``run.json`` is present (the pipeline writes it last and moves
    the folder into place in one rename), its parameters equal the city's
    configuration (except the output path), every input file still has the SHA-256 recorded there, no file
    of the output was edited since (the run's manifest), and, when
    ``started_utc`` is given, it is the run the batch recorded.
    """
    from renogis._outdir import foreign_files
    from renogis.outputs.tables import file_sha256

    out = city.config.out
    try:
        record = json.loads((out / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if _parameters(record.get("parameters") or {}) != _parameters(dataclasses.asdict(city.config)):
        return False
    if started_utc is not None and record.get("started_utc") != started_utc:
        return False
    for name, digest in (record.get("inputs") or {}).items():
        try:
            if file_sha256(name) != digest:
                return False
        except OSError:
            return False
    return not foreign_files(out)


# --------------------------------------------------------------------------- the batch
@dataclass(frozen=True)
class BatchResult:
    """What a batch produced: the summary table (manifest order), files written and figures."""

    out: Path
    summary: pd.DataFrame
    files: tuple[Path, ...]
    wall_time_s: float
    workers: int
    dashboard: str | None = None
    warnings: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def failed(self) -> pd.DataFrame:
        """Rows of the cities that failed."""
        return self.summary[self.summary[STATUS] == "failed"]

    @property
    def exit_code(self) -> int:
        """:data:`EXIT_OK` when every city is ok or resumed, else :data:`EXIT_CITY_FAILED`."""
        return EXIT_CITY_FAILED if len(self.failed) else EXIT_OK


def _default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return max(1, os.cpu_count() or 1)


def _check_out(out: Path, cities: Sequence[City]) -> None:
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out}: exists and is not a folder; choose another output folder")
    if out.is_dir() and any(out.iterdir()) and not (out / BATCH_JSON).exists():
        raise InputError(f"--out {out}: the folder holds files that renogis batch did not write; choose an "
                         "empty or new folder (a previous batch output is reused)")
    for c in cities:
        src = Path(os.path.abspath(c.config.input))
        if src == out or out in src.parents:
            raise InputError(f"--out {out}: the input {c.config.input} of city {c.name} lies inside the "
                             "batch output folder; choose another --out")


def _load_state(out: Path) -> dict[str, Any]:
    try:
        state = json.loads((out / BATCH_JSON).read_text(encoding="utf-8"))
        return state if isinstance(state, dict) else {}
    except (OSError, ValueError):
        return {}


def _write_atomic(path: Path, write: Callable[[Path], Any]) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _write_json(path: Path, record: Mapping[str, Any]) -> None:
    from renogis.outputs.tables import _jsonable

    text = json.dumps(_jsonable(record), ensure_ascii=False, indent=1)
    _write_atomic(path, lambda p: p.write_text(text, encoding="utf-8"))


def _make_client(workers: int | None, scheduler: str | None, *, dashboard: bool) -> tuple[Any, Any, int]:
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise InputError("renogis batch needs dask.distributed: install the batch extra, "
                         "pip install 'renogis[batch]'") from None
    if scheduler:
        try:
            client = Client(scheduler, timeout="20s")
        except OSError as exc:
            raise InputError(f"--scheduler {scheduler}: cannot connect ({_one_line(str(exc))}); check the "
                             "address and that the scheduler is running") from None
        return client, None, len(client.nthreads())
    n = workers or _default_workers()
    import importlib.util

    dashboard = dashboard and importlib.util.find_spec("bokeh") is not None
    # Worker processes log on their own stderr: keep them quiet (a city's problems come back in its
    # outcome; a lost worker is reported as that city's failure) unless renogis logs at debug level.
    quiet = logging.getLogger("renogis").getEffectiveLevel() > logging.DEBUG
    # Dask starts workers with MALLOC_TRIM_THRESHOLD_=65536 (give memory back to the OS often); on
    # renogis's many short-lived GEOS and numpy arrays that cost about 12% more CPU per city here
    # (2.97 s against 2.65 s, median of 5). One thread per library stays: a worker is one core.
    import dask

    environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ", default={}) or {})
    environ.pop("MALLOC_TRIM_THRESHOLD_", None)
    # The worker's statistical profiler samples the task's stack every 10 ms and so takes the GIL from
    # it: 2.66 s against 2.98 s CPU per city here. The dashboard's profile page stays empty.
    with dask.config.set({"distributed.nanny.pre-spawn-environ": environ,
                          "distributed.worker.profile.enabled": False}):
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                               dashboard_address=":8787" if dashboard else None,
                               silence_logs=logging.CRITICAL if quiet else logging.WARNING)
    return Client(cluster), cluster, n


def run_batch(
    cities: Sequence[City],
    out: str | Path,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    client: Any = None,
    resume: bool = False,
    lang: str = "zh",
    dashboard: bool = False,
    on_start: Callable[[int, str | None], None] | None = None,
    on_done: Callable[[CityOutcome], None] | None = None,
    extra_record: Mapping[str, Any] | None = None,
) -> BatchResult:
    """Run every city as a Dask task and write the summary files into ``out``.

    Parameters
    ----------
    cities : sequence of City
        From :func:`read_manifest`; every ``city.config.out`` lies in ``out``.
    out : str or Path
        The batch output folder (created if missing; refused if it holds files a
        batch did not write).
    workers : int, optional
        Process workers of the local cluster (one thread each); default: the
        CPUs this process may use.
    scheduler : str, optional
        Address of an existing Dask scheduler (``tcp://host:8786``) instead of a
        local cluster. Its workers must see the input and output paths.
    client : distributed.Client, optional
        Use this client (tests, notebooks); ``workers`` and ``scheduler`` are then ignored.
    resume : bool
        Skip cities whose output is complete (:func:`city_complete`) and that the
        previous batch recorded as ok; their rows are carried over with status ``resumed``.
    lang : {"zh", "en"}
        Headers of summary.xlsx.
    dashboard : bool
        Start the Dask dashboard of the local cluster (needs bokeh).
    on_start : callable, optional
        Called once with the number of cities to run and the dashboard link (or None).
    on_done : callable, optional
        Called with each :class:`CityOutcome` as it completes (progress bars).
    extra_record : mapping, optional
        Added to ``batch.json`` (the command line records its options here).

    Returns
    -------
    BatchResult
    """
    t_start = time.perf_counter()
    started = datetime.now(UTC)
    out = Path(os.path.abspath(out))
    for c in cities:
        if Path(os.path.abspath(c.config.out)).parent != out:
            raise InputError(f"city {c.name}: its output {c.config.out} is not inside the batch folder {out}")
    _check_out(out, cities)
    out.mkdir(parents=True, exist_ok=True)
    outcomes, todo = _carried_over(cities, out, resume=resume)

    record: dict[str, Any] = {
        "renogis": __version__,
        "started_utc": started.isoformat(timespec="seconds"),
        "cities_in_manifest": [c.name for c in cities],
        "options": dict(extra_record or {}),
        "cities": {},
    }

    def save_state() -> None:
        record["cities"] = {
            name: {"row": o.row, "warnings": list(o.warnings), "started_utc": o.started_utc}
            for name, o in outcomes.items()
        }
        _write_json(out / BATCH_JSON, record)

    n_workers, link = _run_on_cluster(
        todo, outcomes, record, save_state=save_state, client=client, workers=workers,
        scheduler=scheduler, dashboard=dashboard, on_start=on_start, on_done=on_done,
    )
    record["finished_utc"] = datetime.now(UTC).isoformat(timespec="seconds")
    record["wall_time_s"] = round(time.perf_counter() - t_start, 3)
    save_state()
    ordered = [outcomes[c.name] for c in cities]
    summary = _summary_frame([o.row for o in ordered])
    files = _write_summary(out, summary, ordered, lang=lang)
    files.append(out / BATCH_JSON)
    wall = round(time.perf_counter() - t_start, 3)
    return BatchResult(out=out, summary=summary, files=tuple(files), wall_time_s=wall, workers=n_workers,
                       dashboard=link, warnings={o.city: o.warnings for o in ordered if o.warnings})


def _carried_over(
    cities: Sequence[City], out: Path, *, resume: bool
) -> tuple[dict[str, CityOutcome], list[City]]:
    """Outcomes of the cities already complete (``resume``: status ``resumed``), and the cities to run."""
    previous = _load_state(out).get("cities", {}) if resume else {}
    outcomes: dict[str, CityOutcome] = {}
    todo: list[City] = []
    for c in cities:
        prev = previous.get(c.name)
        if (resume and isinstance(prev, dict) and prev.get("row", {}).get(STATUS) in ("ok", "resumed")
                and city_complete(c, started_utc=prev.get("started_utc"))):
            row = {**prev["row"], STATUS: "resumed"}
            outcomes[c.name] = CityOutcome(c.name, row, tuple(prev.get("warnings", ())),
                                           prev.get("started_utc"))
        else:
            todo.append(c)
    if resume:
        logger.info("resume: %d of %d cities already complete", len(cities) - len(todo), len(cities))
    return outcomes, todo


def _run_on_cluster(
    todo: Sequence[City],
    outcomes: dict[str, CityOutcome],
    record: dict[str, Any],
    *,
    save_state: Callable[[], None],
    client: Any,
    workers: int | None,
    scheduler: str | None,
    dashboard: bool,
    on_start: Callable[[int, str | None], None] | None,
    on_done: Callable[[CityOutcome], None] | None,
) -> tuple[int, str | None]:
    """Run ``todo`` on the given client or a cluster of our own (closed after), filling ``outcomes``.

    The cluster goes into ``record`` and the state is saved before the first city and after each.
    Returns the number of workers (0 when nothing ran) and the dashboard link (or None).
    """
    own_client = None
    cluster = None
    n_workers = 0
    link = None
    try:
        if todo:
            if client is None:
                own_client, cluster, n_workers = _make_client(workers, scheduler, dashboard=dashboard)
                client = own_client
            else:
                n_workers = len(client.nthreads())
            link = _dashboard(client)
            record["cluster"] = {"scheduler": client.scheduler.address, "workers": n_workers,
                                 "dashboard": link}
        save_state()
        if on_start is not None:
            on_start(len(todo), link)
        if todo:
            _submit_and_collect(client, todo, outcomes, on_done=on_done, save_state=save_state)
    finally:
        if own_client is not None:
            own_client.close()
        if cluster is not None:
            cluster.close()
    return n_workers, link


def _dashboard(client: Any) -> str | None:
    import importlib.util

    if importlib.util.find_spec("bokeh") is None:  # the scheduler serves no dashboard without bokeh
        return None
    try:
        if "dashboard" in client.scheduler_info().get("services", {}):
            return str(client.dashboard_link)
    except Exception:  # pragma: no cover - the link is a convenience
        return None
    return None


def _input_size(city: City) -> int:
    p = Path(city.config.input)
    try:
        if p.is_dir():
            return sum(f.stat().st_size for f in p.iterdir() if f.is_file())
        return p.stat().st_size
    except OSError:
        return 0


def _submit_and_collect(
    client: Any,
    todo: Sequence[City],
    outcomes: dict[str, CityOutcome],
    *,
    on_done: Callable[[CityOutcome], None] | None,
    save_state: Callable[[], None],
) -> None:
    from distributed import as_completed

    # Largest input first (its size stands for its run time): the long cities do not end up last,
    # alone on one worker while the others idle.
    order = sorted(todo, key=_input_size, reverse=True)
    futures = {}
    for rank, c in enumerate(order):
        fut = client.submit(run_city, c, key=f"renogis-city-{c.name}", pure=False,
                            priority=len(order) - rank)
        futures[fut] = c
    for fut in as_completed(list(futures)):
        c = futures[fut]
        try:
            outcome = fut.result()
        except Exception as exc:  # the task never reported: its worker died (memory) or was lost
            outcome = CityOutcome(c.name, {CITY: c.name, STATUS: "failed", FAILURE: "worker_lost",
                                           ERROR: _one_line(f"{type(exc).__name__}: {exc}")})
        outcomes[c.name] = outcome
        fut.release()
        save_state()
        if on_done is not None:
            on_done(outcome)


def _summary_frame(rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    cov: list[str] = []
    merged: list[str] = []
    for r in rows:
        for k in r:
            if k.startswith(COVERAGE_MERGED_PREFIX):
                if k not in merged:
                    merged.append(k)
            elif k.startswith(COVERAGE_PREFIX) and k not in cov:
                cov.append(k)
    columns = [*SUMMARY_COLUMNS, *cov, *merged]
    df = pd.DataFrame([{k: r.get(k) for k in columns} for r in rows], columns=columns)
    for col in (COMPOUNDS_COUNT, schema.HOUSEHOLDS, DISTRICTS_COUNT, DISTRICTS_IN_BAND,
                COMPOUNDS_IN_DISTRICTS, COMPOUNDS_EXCLUDED, SITES, WARNINGS):
        df[col] = pd.array(df[col].tolist(), dtype="Int64")
    for col in (SHARE_IN_BAND, RUN_TIME_S, *cov, *merged):
        df[col] = pd.to_numeric(df[col], errors="coerce").astype(float)
    return df


def _headers_zh(df: pd.DataFrame) -> pd.DataFrame:
    from renogis.outputs.wording import category_name

    names = {}
    for c in df.columns:
        if c in _COLUMNS_ZH:
            names[c] = _COLUMNS_ZH[c]
        elif c.startswith(COVERAGE_MERGED_PREFIX):
            key = c[len(COVERAGE_MERGED_PREFIX):]
            names[c] = f"合并后覆盖率_{category_name(key, 'zh')}"
        elif c.startswith(COVERAGE_PREFIX):
            key = c[len(COVERAGE_PREFIX):]
            names[c] = f"覆盖率_{category_name(key, 'zh')}"
    return df.rename(columns=names)


def _write_summary(out: Path, summary: pd.DataFrame, outcomes: Sequence[CityOutcome], *,
                   lang: str) -> list[Path]:
    csv_path, xlsx_path = out / "summary.csv", out / "summary.xlsx"
    _write_table_to(summary, csv_path, "csv")
    _write_table_to(_headers_zh(summary) if lang == "zh" else summary, xlsx_path, "xlsx")
    files = [csv_path, xlsx_path]
    gpkg = _write_summary_gpkg(out, [o.city for o in outcomes if o.row.get(STATUS) in ("ok", "resumed")])
    if gpkg is not None:
        files.append(gpkg)
    lines = [f"{o.city}: {w}" for o in outcomes for w in o.warnings]
    warn_path = out / WARNINGS_TXT
    _write_atomic(warn_path, lambda p: p.write_text("".join(f"{ln}\n" for ln in lines), encoding="utf-8"))
    files.append(warn_path)
    return files


def _write_table_to(df: pd.DataFrame, target: Path, fmt: str) -> None:
    """write_table into an exact file name (it names files by suffix; the temporary name has none)."""
    import tempfile

    from renogis.outputs.tables import write_table

    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".summary-") as d:
        written = write_table(df, Path(d) / "summary", formats=(fmt,), sheet_name="summary")
        os.replace(written[0], target)


def _write_summary_gpkg(out: Path, names: Iterable[str]) -> Path | None:
    """summary.gpkg: every ok city's district polygons, with ``city`` first and one CRS for all."""
    import geopandas as gpd
    import pyogrio

    from renogis.outputs.proposals import DISTRICTS_GPKG, LAYER_DISTRICTS

    frames = []
    for name in names:
        gdf = pyogrio.read_dataframe(out / name / DISTRICTS_GPKG, layer=LAYER_DISTRICTS)
        gdf.insert(0, CITY, name)
        frames.append(gdf)
    path = out / SUMMARY_GPKG
    if not frames:
        if path.exists():
            path.unlink()
        return None
    crss = {f.crs.to_string() if f.crs is not None else None for f in frames}
    if len(crss) == 1:
        crs = frames[0].crs
    else:
        # Cities in different work CRSs (e.g. Gauss-Kruger zones) cannot share one metric layer: the
        # polygons go to lon/lat (CGCS2000 inside China is within a metre of WGS84); their measured
        # columns were computed in each city's own work CRS, named in the work_crs column.
        crs = "EPSG:4326"
        logger.warning("summary.gpkg: the cities use %d different work CRSs; district polygons written in "
                       "EPSG:4326 (lon/lat), each city's work CRS in the work_crs column", len(crss))
        frames = [f.assign(**{WORK_CRS: f.crs.to_string()}).to_crs(crs) for f in frames]
    gdf = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry="geometry", crs=crs)
    tmp_dir = out / f".summary-gpkg.tmp-{os.getpid()}"
    tmp_dir.mkdir(exist_ok=True)
    try:
        tmp = tmp_dir / SUMMARY_GPKG
        pyogrio.write_dataframe(gdf, tmp, layer=SUMMARY_LAYER, driver="GPKG")
        os.replace(tmp, path)
    finally:
        for p in tmp_dir.glob("*"):
            p.unlink()
        tmp_dir.rmdir()
    return path


def summary_text(result: BatchResult) -> str:
    """Return the console report of a batch: counts, failed cities with their error, the outputs."""
    s = result.summary
    n_ok = int((s[STATUS] == "ok").sum())
    n_res = int((s[STATUS] == "resumed").sum())
    failed = result.failed
    lines = [f"{len(s)} cities: {n_ok} ok" + (f", {n_res} already complete (--resume)" if n_res else "")
             + f", {len(failed)} failed; {result.wall_time_s:.1f} s"
             + (f" on {result.workers} workers" if result.workers else "")]
    for r in failed.itertuples(index=False):
        row = r._asdict()
        lines.append(f"  FAILED {row[CITY]} ({row[FAILURE]}): {row[ERROR]}")
    n_warn = sum(len(w) for w in result.warnings.values())
    if n_warn:
        lines.append(f"{n_warn} warnings from {len(result.warnings)} cities: see {result.out / WARNINGS_TXT}")
    lines.append(f"outputs in {result.out}: summary.csv, summary.xlsx, summary.gpkg, <city>/")
    return "\n".join(lines)
