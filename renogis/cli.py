"""The ``renogis`` command line: thin argument parsing over :mod:`renogis.pipeline`.

Exit codes: 0 success; 2 bad input or usage (one line on stderr, no traceback);
``renogis batch`` also 3 when some city failed (the others ran; see summary.csv).
"""

from __future__ import annotations

import argparse
import difflib
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from renogis import __version__, schema
from renogis import config as C
from renogis._errors import RenogisError

__all__ = ["main", "build_parser"]


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors in one line with exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"renogis: usage error: {message} (see renogis {self.prog.split()[-1]} --help)\n")
        raise SystemExit(2)


def _ids(value: str) -> tuple[str, ...]:
    ids = tuple(s.strip() for s in value.replace("，", ",").split(",") if s.strip())
    if len(ids) < 2:
        raise argparse.ArgumentTypeError(f"{value!r}: give at least two compound ids separated by commas")
    twice = sorted({i for i in ids if ids.count(i) > 1})
    if twice:
        raise argparse.ArgumentTypeError(f"{value!r}: {', '.join(twice)} given twice; list each compound once")
    return ids


def _input(value: str) -> Path | str:
    """A path, or a postgresql:// URL kept as text (a Path would fold its '//')."""
    from renogis.postgis import is_postgis_url

    return value if is_postgis_url(value) else Path(value)


def _encoding(value: str) -> str:
    import codecs

    try:
        return codecs.lookup(value.strip()).name
    except LookupError:
        raise argparse.ArgumentTypeError(f"unknown text encoding {value!r}; use e.g. GBK, GB18030 or UTF-8") from None


def _street_class(value: str) -> str:
    """One --barrier-class value: a street class (English, Chinese or OSM highway) or ``none``."""
    from renogis import schema

    key = value.strip().lower()
    if key in ("none", "无"):
        return "none"
    if key in schema.STREET_CLASSES:
        return key
    alias = schema.STREET_CLASS_ALIASES.get(value.strip()) or schema.OSM_HIGHWAY_CLASSES.get(key)
    if alias:
        return alias
    known = (*schema.STREET_CLASSES, "none")
    close = difflib.get_close_matches(key, known, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise argparse.ArgumentTypeError(f"unknown street class {value!r}; {hint}choose from {', '.join(known)}")


def _share(value: str) -> float:
    """A share between 0 and 1, also written as a percentage (``67%``)."""
    text = value.strip()
    try:
        v = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number; give a share such as 0.67 or 67%") from None
    if not 0.0 <= v <= 1.0:
        raise argparse.ArgumentTypeError(f"{value!r} is outside 0-1; give a share such as 0.67 or 67%")
    return v


def _positive_int(value: str) -> int:
    try:
        v = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if v < 0:
        raise argparse.ArgumentTypeError(f"{value!r} is negative; give 0 or more")
    return v


def _non_negative(value: str) -> float:
    try:
        v = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
    if not v >= 0 or v == float("inf"):
        raise argparse.ArgumentTypeError(f"{value!r}: give a finite number of 0 or more")
    return v


def _detour(value: str) -> float:
    v = _non_negative(value)
    if v < 1:
        raise argparse.ArgumentTypeError(f"{value!r}: a detour factor is 1 or more (walking is never shorter "
                                         "than the straight line)")
    return v


def _categories(value: str) -> tuple[str, ...]:
    return tuple(s.strip() for s in value.replace("，", ",").split(",") if s.strip())


def _add_input_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("input")
    g.add_argument("--column-map", action="append", metavar="SRC=DST",
                   help="map your header to a canonical column, e.g. 户数合计=households (repeatable)")
    g.add_argument("--encoding", type=_encoding, help="text encoding of Shapefiles/CSV, e.g. GBK (default: .cpg, UTF-8, GB18030)")
    g.add_argument("--source-crs", choices=("gcj02", "bd09"),
                   help="input lon/lat are Amap/Gaode (gcj02) or Baidu (bd09) coordinates")
    g.add_argument("--input-crs", metavar="EPSG", help="CRS for layers without one (e.g. CSV with WKT)")
    g.add_argument("--work-crs", metavar="EPSG",
                   help="metric CRS for all measuring (default: CGCS2000 3-degree GK zone of the data)")
    g.add_argument("--ledger", type=Path, metavar="LEDGER.xlsx",
                   help="compound ledger (台账, XLSX/CSV without geometry) joined to the compound footprints "
                        "by name; its households and other columns are used (report: ledger_match.csv)")
    g.add_argument("--layer-map", action="append", metavar="LAYER=TABLE",
                   help="PostGIS input: the table or view holding a layer, e.g. compounds=my_table "
                        "(repeatable)")


def _add_run_options(p: argparse.ArgumentParser) -> None:
    d = p.add_argument_group("districts")
    d.add_argument("--min-households", type=_positive_int, default=C.MIN_HOUSEHOLDS, help="lower household bound (default %(default)s)")
    d.add_argument("--max-households", type=_positive_int, default=C.MAX_HOUSEHOLDS, help="upper household bound (default %(default)s)")
    d.add_argument("--gap-m", type=_non_negative, default=C.GAP_M,
                   help="compounds within this distance (m) can merge (default %(default)g: a lane or local street)")
    d.add_argument("--barrier-class", action="append", dest="barrier_classes", metavar="CLASS",
                   type=_street_class,
                   help="street class that no district crosses, added to the default arterial "
                        "(arterial, secondary, local, path; repeatable); 'none' clears the default")
    d.add_argument("--keep-together", action="append", type=_ids, default=[], metavar="ID,ID,...",
                   help="these compounds end up in one district (repeatable)")
    d.add_argument("--keep-apart", action="append", type=_ids, default=[], metavar="ID,ID",
                   help="these compounds never share a district (repeatable)")
    d.add_argument("--min-consent", type=_share,
                   help="exclude compounds whose consent share is below this (0-1 or a percentage)")
    d.add_argument("--require-owners-committee", action="store_true",
                   help="exclude compounds without an owners' committee")
    d.add_argument("--built-before", type=int, metavar="YEAR",
                   help="exclude compounds built in or after YEAR (e.g. 2001: only pre-2001 stock)")
    d.add_argument("--seed", type=int, default=0, help="seed for tie-breaking (default 0)")
    d.add_argument("--max-span-m", type=float, metavar="M",
                   help="no district extends further than this (largest distance between two of its "
                        "compounds' footprints, m); default no limit")
    d.add_argument("--soft-barrier-class", action="append", dest="soft_barrier_classes", metavar="CLASS",
                   default=[], choices=schema.STREET_CLASSES,
                   help="street class crossed only when no in-band district is possible otherwise "
                        "(e.g. secondary; repeatable)")
    d.add_argument("--nested", choices=C.NESTED, default=C.NESTED[0],
                   help="compounds inside another (nested AOIs): keep the inner ones and drop a parent "
                        "they mostly cover (default), or keep the parent; every overlap goes to "
                        "overlaps.csv")
    s = p.add_argument_group("service gaps and siting")
    s.add_argument("--standards", default=C.STANDARDS,
                   help="standards profile (gb50180_2018, complete_community) or a TOML file of your city")
    s.add_argument("--detour-factor", type=_detour, default=C.DETOUR_FACTOR,
                   help="straight-line x factor used when there are no streets (default %(default)s)")
    s.add_argument("--sites-per-category", type=_positive_int, default=1,
                   help="idle parcels to choose per category; 0 = until every coverable household is covered")
    s.add_argument("--siting-method", choices=C.SITING_METHODS, default=C.SITING_METHODS[0],
                   help="greedy (fast) or exact integer programme (HiGHS)")
    s.add_argument("--access", choices=C.ACCESS_MODELS, default=C.ACCESS_MODELS[0],
                   help="how a compound without gates reaches the street: frontage (default; every "
                   "street point within the nearest distance + --frontage-m) or centroid")
    s.add_argument("--frontage-m", type=_non_negative, default=C.FRONTAGE_M,
                   help="frontage model margin in metres (default %(default)g)")
    s.add_argument("--no-data", type=_categories, default=(), metavar="CAT,CAT",
                   help="categories your facility data do not record: reported as no data, not 0%%")
    o = p.add_argument_group("output")
    o.add_argument("--lang", choices=C.LANGS, default=C.LANGS[0], help="table headers and map labels")
    o.add_argument("--tiles", choices=C.TILES, default=C.TILES[0],
                   help="basemap of the HTML map; none = offline")
    o.add_argument("--out-db", metavar="URL",
                   help="also write every result table into PostGIS, in one transaction: "
                        "postgresql://user@host:port/db?schema=renogis_run (password via PGPASSWORD, "
                        "~/.pgpass or a service file)")
    _add_proposal_options(p)


def _add_proposal_options(p: argparse.ArgumentParser) -> None:
    r = p.add_argument_group("proposals (renovation content, cost, funding, property viability, documents)")
    r.add_argument("--costs", default=C.COSTS,
                   help="cost profile (renovation_2021, every number unverified) or a TOML file of your city")
    r.add_argument("--documents", choices=C.DOCUMENTS, default=C.DOCUMENTS[0],
                   help="Word/PDF proposals: all districts, the city summary only, none; auto = all up to 60 "
                        "districts, else summary")
    r.add_argument("--property-fee", type=float, metavar="YUAN",
                   help="property fee residents pay, yuan per m2 and month (default from the cost file: 0.5)")
    r.add_argument("--collection-rate", type=float, metavar="SHARE",
                   help="share of the fee collected (default from the cost file: 0.85)")
    r.add_argument("--parking-per-household", type=float, metavar="N",
                   help="car spaces per household targeted by the renovation (default from the cost file: "
                        "0.5)")
    r.add_argument("--funding-share", action="append", metavar="KEY:SOURCE=SHARE",
                   help="funding share of a source for a class (basic, complete, upgrade) or item, e.g. "
                        "basic:residents=0.1; the other shares are scaled (repeatable)")
    r.add_argument("--heating-region", choices=("auto", "yes", "no"), default="auto",
                   help="in the central-heating region (energy retrofit, heating pipes); auto = by latitude")
    r.add_argument("--viability-groups", metavar="COLUMN",
                   help="also assess property viability for the groups of this compounds column (e.g. area)")
    r.add_argument("--buildings", type=Path, metavar="FILE",
                   help="buildings layer (floors, has_lift, households; lift-retrofit candidates) when it is "
                        "not a layer 'buildings' of the input")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation and tests)."""
    parser = _Parser(prog="renogis", description="District-level renovation planning for old "
                     "residential compounds (老旧小区片区统筹改造).")
    parser.add_argument("--version", action="version", version=f"renogis {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv: debug)")
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="no progress lines or bars on stderr (warnings and errors still show)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("demo", help="run everything on the bundled synthetic sample")
    p.add_argument("--out", type=Path, default=Path("renogis-demo"), help="output folder (default renogis-demo)")
    p.add_argument("--maps-dir", type=Path, default=Path("maps"),
                   help="also copy the map here as demo_map.html (default maps/)")
    p.add_argument("--lang", choices=C.LANGS, default=C.LANGS[0])
    p.add_argument("--tiles", choices=C.TILES, default=C.TILES[0])

    p = sub.add_parser("compare", help="two runs of the same city side by side (table and map)")
    p.add_argument("run_a", type=Path, help="output folder of the first run")
    p.add_argument("run_b", type=Path, help="output folder of the second run")
    p.add_argument("--out", type=Path, required=True,
                   help="output folder for compare.csv/.xlsx/.md and the map")
    p.add_argument("--lang", choices=C.LANGS, default=C.LANGS[0])

    p = sub.add_parser("validate", help="check an input and print every problem found")
    p.add_argument("input", type=_input, help="GeoPackage, folder of layer files, a compounds file, "
                   "or postgresql://user@host:port/db?schema=NAME")
    _add_input_options(p)

    for name, helptext in (("run", "load, propose districts, compute service gaps, site facilities, map"),
                           ("districts", "propose renovation districts only"),
                           ("gaps", "service-circle gaps only"),
                           ("map", "the HTML map (with districts and gaps)")):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("input", type=_input, nargs="?",
                       help="GeoPackage, folder of layer files, a compounds file, or "
                            "postgresql://user@host:port/db?schema=NAME (or `input` in --config)")
        p.add_argument("--out", type=Path, help="output folder (required here or as `out` in --config)")
        p.add_argument("--config", type=Path, metavar="RUN.toml",
                       help="take options from a TOML file (keys are the option names: input, out, "
                            "min_households, barrier_class = [...], ...); command-line options win")
        _add_input_options(p)
        _add_run_options(p)

    p = sub.add_parser("rerun", help="repeat a run exactly from its run.json (same inputs, same options)")
    p.add_argument("run_json", type=Path, metavar="OUT/run.json", help="the run.json of a previous run")
    p.add_argument("--out", type=Path, help="output folder (default: the folder of the original run)")

    p = sub.add_parser("batch", help="many cities at once on Dask: one renogis run per city, plus a summary")
    p.add_argument("manifest", type=Path,
                   help="CSV or TOML manifest (city, input, per-city options) or a folder of city "
                        "GeoPackages")
    p.add_argument("--out", type=Path, required=True, help="batch output folder: <city>/ and summary files")
    _add_input_options(p)
    _add_run_options(p)
    b = p.add_argument_group("batch (options above are every city's defaults; the manifest overrides them)")
    b.add_argument("--workers", type=_positive_int, metavar="N",
                   help="local process workers (default: one per CPU core)")
    b.add_argument("--scheduler", metavar="ADDRESS",
                   help="use an existing Dask cluster, e.g. tcp://host:8786 (workers must see the paths)")
    b.add_argument("--resume", action="store_true",
                   help="skip cities whose output is complete with the same options and unchanged inputs")
    b.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                   help="no progress bar (as renogis -q)")
    return parser


_RUN_COMMANDS = ("run", "districts", "gaps", "map")


def _config_tokens(path: Path, parser: argparse.ArgumentParser, command: str) -> tuple[list[str], dict]:
    """Command-line tokens for the options of a ``--config`` TOML file, and its ``input``/``out`` values."""
    import tomllib

    from renogis._errors import InputError

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"--config {path}: no such file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"--config {path}: not a valid TOML file ({exc}); see the README for an example") from None
    sub = next(a for a in parser._subparsers._group_actions if isinstance(a, argparse._SubParsersAction))
    cmd_parser = sub.choices[command]
    options = {}
    for action in cmd_parser._actions:
        for opt in action.option_strings:
            if opt.startswith("--"):
                options[opt[2:].replace("-", "_")] = (opt, action)
    base = path.resolve().parent
    tokens: list[str] = []
    paths: dict[str, Path] = {}
    for key, value in data.items():
        k = key.replace("-", "_")
        if k in ("input", "out"):
            paths[k] = value if "://" in str(value) else base / str(value)
            continue
        if k in ("barrier_classes", "soft_barrier_classes"):
            k = k[: -len("es")]
        if k not in options or k in ("config", "help"):
            known = sorted(set(options) - {"config", "help"} | {"input", "out"})
            close = difflib.get_close_matches(k, known, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise InputError(f"--config {path}: unknown option {key!r}; {hint}see renogis {command} --help")
        opt, action = options[k]
        if isinstance(action, argparse._StoreTrueAction):
            if value is True:
                tokens.append(opt)
            continue
        values = value if isinstance(value, list) else [value]
        if not isinstance(action, argparse._AppendAction) and len(values) != 1:
            raise InputError(f"--config {path}: option {key!r} takes one value, got {len(values)}")
        for v in values:
            if isinstance(v, list):  # keep_together = [["C1", "C2"], ...]
                v = ",".join(str(x) for x in v)
            if k in ("standards", "ledger") and (base / str(v)).is_file():
                v = base / str(v)
            tokens += [opt, str(v)]
    return tokens, paths


def _parse(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse the command line; merge a ``--config`` file under the options given on the command line."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    if args.command not in _RUN_COMMANDS:
        return args
    if args.config is not None:
        at = argv.index(args.command)
        tokens, paths = _config_tokens(args.config, parser, args.command)
        args = parser.parse_args(argv[: at + 1] + tokens + argv[at + 1:])
        if args.input is None and "input" in paths:
            args.input = paths["input"]
        if args.out is None and "out" in paths:
            args.out = paths["out"]
    if args.input is None or args.out is None:
        missing = " and ".join(n for n, v in (("INPUT", args.input), ("--out", args.out)) if v is None)
        sub = next(a for a in parser._subparsers._group_actions if isinstance(a, argparse._SubParsersAction))
        sub.choices[args.command].error(f"{missing} required (on the command line or in --config)")
    return args


def _rerun_config(path: Path, out: Path | None):  # type: ignore[no-untyped-def]
    """The RunConfig recorded in a run.json, checked against the inputs as they are now."""
    import dataclasses
    import json

    from renogis._errors import InputError
    from renogis.outputs.tables import file_sha256
    from renogis.pipeline import RunConfig

    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        params = dict(record["parameters"])
    except FileNotFoundError:
        raise InputError(f"rerun {path}: no such file") from None
    except (ValueError, KeyError, TypeError):
        raise InputError(f"rerun {path}: not a renogis run.json (no 'parameters'); give OUT/run.json") from None
    fields = {f.name for f in dataclasses.fields(RunConfig)}
    unknown = sorted(set(params) - fields)
    if unknown:
        raise InputError(f"rerun {path}: options {', '.join(unknown)} are unknown to renogis "
                         f"{__version__} (the run was made by renogis {record.get('renogis')}); "
                         "rerun with that version")

    def tuples(v):  # type: ignore[no-untyped-def]
        return tuple(tuples(x) for x in v) if isinstance(v, list) else v

    kwargs = {k: tuples(v) for k, v in params.items()}
    for k in ("input", "out", "map_copy", "ledger", "buildings"):
        if kwargs.get(k) is not None and "://" not in str(kwargs[k]):
            kwargs[k] = Path(kwargs[k])
    for k in ("column_map",):
        if isinstance(kwargs.get(k), tuple):
            kwargs[k] = dict(kwargs[k])
    changed = []
    from renogis.postgis import changed_tables, is_postgis_url

    if is_postgis_url(kwargs.get("input")):  # tables: read them again and compare their SHA-256
        changed += changed_tables(kwargs["input"], record.get("inputs") or {},
                                  layer_map=kwargs.get("layer_map") or {})
    for name, digest in (record.get("inputs") or {}).items():
        if is_postgis_url(name):
            continue
        p = Path(name)
        if not p.is_file():
            changed.append(f"{name} (missing)")
        elif file_sha256(p) != digest:
            changed.append(f"{name} (changed)")
    if changed:
        raise InputError(f"rerun {path}: the inputs are not those of the original run: "
                         f"{', '.join(changed[:5])}; a rerun repeats a run only on the same inputs")
    if out is not None:
        kwargs["out"] = out
    kwargs["map_copy"] = None
    return RunConfig(**kwargs)


_STEPS = {
    "run": ("load", "districts", "gaps", "siting", "map"),
    "districts": ("load", "districts"),
    "gaps": ("load", "districts", "gaps"),
    "map": ("load", "districts", "gaps", "map"),
}


def _config(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from renogis._errors import InputError
    from renogis.costs import parse_funding_shares
    from renogis.io import parse_column_map
    from renogis.pipeline import RunConfig, barrier_classes
    from renogis.postgis import parse_layer_map

    if args.min_households > args.max_households:
        raise InputError(f"--min-households {args.min_households} is above --max-households "
                         f"{args.max_households}; give a lower bound below the upper one")
    return RunConfig(
        input=args.input, out=args.out, steps=_STEPS[args.command],
        column_map=parse_column_map(args.column_map), encoding=args.encoding,
        source_crs=args.source_crs, input_crs=args.input_crs, work_crs=args.work_crs,
        gap_m=args.gap_m, barrier_classes=barrier_classes(args.barrier_classes),
        min_households=args.min_households, max_households=args.max_households,
        keep_together=tuple(args.keep_together), keep_apart=tuple(args.keep_apart),
        min_consent=args.min_consent, require_owners_committee=args.require_owners_committee,
        built_before=args.built_before, seed=args.seed, standards=args.standards,
        detour_factor=args.detour_factor,
        sites_per_category=None if args.sites_per_category == 0 else args.sites_per_category,
        siting_method=args.siting_method, lang=args.lang, tiles=args.tiles,
        nested=args.nested, max_span_m=args.max_span_m,
        soft_barrier_classes=tuple(args.soft_barrier_classes),
        ledger=args.ledger,
        access=args.access, frontage_m=args.frontage_m, no_data=tuple(args.no_data),
        layer_map=parse_layer_map(args.layer_map), out_db=args.out_db,
        costs=args.costs, documents=args.documents, property_fee=args.property_fee,
        collection_rate=args.collection_rate, parking_per_household=args.parking_per_household,
        funding_shares=parse_funding_shares(args.funding_share),
        heating_region=None if args.heating_region == "auto" else args.heating_region == "yes",
        viability_groups=args.viability_groups, buildings=args.buildings,
    )


def _coverage_table(cov, *, lang: str) -> str:  # type: ignore[no-untyped-def]
    """Compact per-category coverage: before merging (compounds alone) and after (districts)."""
    from renogis.outputs.wording import category_name, console, value_label

    rows = [tuple(console("head", lang).split("|"))]
    metre = "米" if lang == "zh" else "m"
    for r in cov.to_dict("records"):
        short = r.get("shortfall")
        unit = value_label("demand_unit", r.get("demand_unit") or "", lang)
        no_data = r.get("data_status") == "no_data"
        rows.append((
            category_name(r["category"], lang),
            f"{r['radius_m']:.0f} {metre}",
            f"{r['households']:,.0f}",
            console("no_data", lang) if no_data else f"{r['coverage_share']:.0%}",
            console("no_data", lang) if no_data else f"{r.get('coverage_share_merged', float('nan')):.0%}",
            "" if short is None or short != short else f"{short:,.0f} {unit}".strip(),
        ))
    widths = [max(_width(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [row[0] + " " * (widths[0] - _width(row[0]))]
        cells += [" " * (widths[i] - _width(row[i])) + row[i] for i in range(1, len(row))]
        lines.append("  " + "  ".join(cells))
    return "\n".join(lines)


def _width(text: str) -> int:
    """Display width: CJK characters take two columns in a terminal."""
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _print_result(result, *, lang: str) -> None:  # type: ignore[no-untyped-def]
    import re

    from renogis.outputs.wording import category_name, console, layer_name

    s = result.summary
    out = sys.stdout
    sep = "，" if lang == "zh" else ", "
    layers = sep.join(f"{layer_name(k, lang)} {v}" for k, v in s.get("layers", {}).items())
    n_warn = s.get("warnings", 0) + len(s.get("network_warnings", []))
    out.write(console("input", lang, layers=layers, crs=s.get("work_crs"), warnings=n_warn) + "\n")
    if "districts" in s:
        out.write(console("districts", lang, n=s["districts"], inside=s["compounds_in_districts"],
                          excluded=s["compounds_excluded"]) + "\n")
    if result.coverage is not None and len(result.coverage):
        net = str(s.get("network", ""))
        m = re.search(r"x ([\d.]+)$", net)
        network = console("straight", lang, f=m.group(1)) if m else console("network", lang)
        out.write(console("coverage", lang, network=network) + "\n")
        out.write(_coverage_table(result.coverage, lang=lang) + "\n")
        status = result.coverage.get("data_status")
        if status is not None:
            nd = result.coverage.loc[status == "no_data", "category"].tolist()
            absent = result.coverage.loc[status == "absent", "category"].tolist()
            names = "、" if lang == "zh" else ", "
            if nd:
                cats = names.join(category_name(c, lang) for c in nd)
                out.write(console("no_data_line", lang, cats=cats) + "\n")
            if absent:
                cats = names.join(category_name(c, lang) for c in absent)
                out.write(console("absent_line", lang, cats=cats) + "\n")
        out.write(console("after_merging", lang) + "\n")
    for w in s.get("network_warnings", []):
        out.write(console("warning", lang, text=w) + "\n")
    if s.get("districts") == 0 and s.get("compounds_excluded"):
        out.write(console("all_excluded", lang, n=s["compounds_excluded"]) + "\n")
    if "sites" in s:
        out.write(console("sites", lang, n=s["sites"]) + "\n")
    if "out_db" in s:
        out.write(console("database", lang, n=len(s["out_db"]), tables=", ".join(s["out_db"])) + "\n")
    if "proposals" in s:
        pr = s["proposals"]
        lo, hi = pr["cost_low_yuan"], pr["cost_high_yuan"]
        if lang == "zh":
            out.write(f"改造方案：估算投资 {lo / 1e4:,.0f}–{hi / 1e4:,.0f} 万元"
                      f"{'' if pr['costs_verified'] else '（单价未经核实）'}；"
                      f"物业费 {pr['property_fee']:.2f} 元/m²·月下"
                      f"合并后可保本片区 {pr['districts_viable_merged']} 个，其中仅合并后可保本 "
                      f"{pr['districts_viable_only_merged']} 个\n")
            if pr.get("groups_viable_only_merged"):
                out.write(f"  仅合并后可保本的分组：{'、'.join(pr['groups_viable_only_merged'])}\n")
        else:
            out.write(f"proposals: cost {lo / 1e6:,.1f}-{hi / 1e6:,.1f} million yuan"
                      f"{'' if pr['costs_verified'] else ' (unit costs unverified)'}; property management at "
                      f"{pr['property_fee']:.2f} yuan/m2: {pr['districts_viable_merged']} districts viable "
                      f"merged, {pr['districts_viable_only_merged']} only when merged\n")
            if pr.get("groups_viable_only_merged"):
                out.write(f"  groups viable only when merged: {', '.join(pr['groups_viable_only_merged'])}\n")
    out.write(console("outputs", lang, out=result.out) + "\n")
    for f in result.files:
        out.write(f"  {f.relative_to(result.out)}\n")


def _batch(args: argparse.Namespace) -> int:
    """``renogis batch``: read the manifest, run every city on Dask, print the summary."""
    from renogis import batch
    from renogis._errors import InputError

    if args.workers == 0:
        raise InputError("--workers 0: give 1 or more workers (or leave it out: one per CPU core)")
    try:
        import distributed  # noqa: F401  (sets up its loggers on import; quiet them below)
    except ImportError:
        pass
    logging.getLogger("distributed").setLevel(
        logging.ERROR if args.verbose == 0 else (logging.WARNING if args.verbose == 1 else logging.INFO))
    template = _config(argparse.Namespace(**{**vars(args), "command": "run", "input": args.manifest}))
    cities = batch.read_manifest(args.manifest, out=args.out, defaults=template)
    show = not args.quiet and sys.stderr.isatty()
    bar = None

    def on_start(n: int, link: str | None) -> None:
        nonlocal bar
        if link:
            sys.stderr.write(f"[renogis] Dask dashboard: {link}\n")
        if show and n:
            from tqdm import tqdm

            bar = tqdm(total=n, unit="city", desc="cities", file=sys.stderr, dynamic_ncols=True)

    def on_done(outcome) -> None:  # type: ignore[no-untyped-def]
        if bar is not None:
            bar.set_postfix_str(f"{outcome.city} {outcome.row.get('status')}", refresh=False)
            bar.update(1)
        elif args.verbose:
            sys.stderr.write(f"[renogis] {outcome.city}: {outcome.row.get('status')}\n")

    options = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    try:
        result = batch.run_batch(cities, args.out, workers=args.workers, scheduler=args.scheduler,
                                 resume=args.resume, lang=args.lang, dashboard=not args.quiet,
                                 on_start=on_start, on_done=on_done, extra_record={"command": options})
    except KeyboardInterrupt as exc:
        signum = getattr(exc, "signum", 2)
        sys.stderr.write(f"renogis: interrupted (signal {signum}); the cities that finished are complete in "
                         f"{args.out}: rerun with --resume to go on\n")
        return 128 + signum
    finally:
        if bar is not None:
            bar.close()
    sys.stdout.write(batch.summary_text(result) + "\n")
    return result.exit_code


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``renogis`` console script. Returns the exit code."""
    from renogis._outdir import handle_signals

    # SIGTERM and SIGHUP end a command as cleanly as Ctrl-C does
    with handle_signals():
        return _main(argv)


def _setup_logging(verbose: int) -> None:
    level = logging.WARNING if verbose == 0 else (logging.INFO if verbose == 1 else logging.DEBUG)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    # Library warnings (pyogrio, shapely, pandas) are for developers: shown with -v only. Everything a
    # planner must know is a renogis warning, in validation.txt and run.json as well.
    logging.captureWarnings(True)
    logging.getLogger("py.warnings").setLevel(logging.WARNING if verbose else logging.ERROR)


def _progress(msg: str) -> None:
    sys.stderr.write(f"[renogis] {msg}\n")


def _validate(args: argparse.Namespace) -> int:
    from renogis.io import parse_column_map
    from renogis.postgis import parse_layer_map
    from renogis.validate import load

    ds = load(args.input, column_map=parse_column_map(args.column_map), encoding=args.encoding,
              source_crs=args.source_crs, input_crs=args.input_crs, work_crs=args.work_crs,
              strict=False, ledger=args.ledger, layer_map=parse_layer_map(args.layer_map))
    sys.stdout.write(ds.report.to_text() + "\n")
    return 0 if ds.report.ok else 2


def _compare(args: argparse.Namespace) -> int:
    from renogis.compare import write_comparison

    files, _table, warns = write_comparison(args.run_a, args.run_b, args.out, lang=args.lang)
    for w in warns:
        sys.stderr.write(f"renogis: warning: {w}\n")
    sys.stdout.write(f"comparison in {args.out}:\n" + "".join(f"  {f.name}\n" for f in files))
    return 0


def _run_command(args: argparse.Namespace) -> int:
    """``run``, ``districts``, ``gaps``, ``map``, ``rerun`` and ``demo``: one pipeline run."""
    from renogis._progress import reporting
    from renogis.pipeline import RunConfig, run

    if args.command == "demo":
        from renogis.datasets import sample_path

        config = RunConfig(input=sample_path(), out=args.out, lang=args.lang, tiles=args.tiles,
                           map_copy=args.maps_dir, documents="all", viability_groups="area",
                           buildings=sample_path().with_name("sample_buildings.gpkg"))
    elif args.command == "rerun":
        config = _rerun_config(args.run_json, args.out)
    else:
        config = _config(args)
    show = not args.quiet and (bool(args.verbose) or sys.stderr.isatty())
    with reporting(show and sys.stderr.isatty()):
        result = run(config, progress=_progress if show else None)
    _print_result(result, lang=config.lang)
    if args.command == "demo" and config.map_copy is not None:
        from renogis.outputs.wording import console

        sys.stdout.write(console("map_copied", config.lang, path=config.map_copy / "demo_map.html") + "\n")
    return 0


def _interrupted(args: argparse.Namespace, exc: KeyboardInterrupt) -> int:
    from renogis._outdir import RunInterrupted, last_signal

    # a library may re-raise the interrupt with its own message (reportlab does): take the number we saw
    signum = last_signal() or 2
    out = getattr(args, "out", None)
    if isinstance(exc, RunInterrupted) and exc.committed:
        sys.stderr.write(f"renogis: interrupted (signal {signum}) after the output was complete in {out}\n")
    else:
        where = f"; {out} is as it was before the run" if out is not None else ""
        sys.stderr.write(f"renogis: interrupted (signal {signum}); nothing written{where}\n")
    return 128 + signum


#: Commands that are not a pipeline run.
_COMMANDS = {"validate": _validate, "batch": _batch, "compare": _compare}


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    try:
        args = _parse(parser, argv)
    except RenogisError as exc:
        sys.stderr.write(f"renogis: error: {' '.join(str(exc).split())}\n")
        return 2
    _setup_logging(args.verbose)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return _COMMANDS.get(args.command, _run_command)(args)
    except RenogisError as exc:
        sys.stderr.write(f"renogis: error: {' '.join(str(exc).split())}\n")
        return 2
    except KeyboardInterrupt as exc:
        return _interrupted(args, exc)
    except Exception as exc:  # a bug in renogis, not the user's input
        if args.verbose:
            raise
        sys.stderr.write(f"renogis: internal error: {type(exc).__name__}: {' '.join(str(exc).split())} "
                         "(no output written; rerun with -v for the traceback and please report it)\n")
        return 1


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
