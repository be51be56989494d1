"""The ``renogis`` command line: thin argument parsing over :mod:`renogis.pipeline`.

Exit codes: 0 success; 2 bad input or usage (one line on stderr, no traceback);
``renogis batch`` also 3 when some city failed (the others ran; see summary.csv).
"""

from __future__ import annotations

import argparse
import difflib
import logging
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

from renogis import __version__
from renogis._errors import RenogisError

__all__ = ["main", "build_parser", "barrier_classes"]

#: Street classes that are barriers to districts unless ``--barrier-class none`` clears them.
DEFAULT_BARRIER_CLASSES = ("arterial",)


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors in one line with exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"renogis: usage error: {message} (see renogis {self.prog.split()[-1]} --help)\n")
        raise SystemExit(2)


def _ids(value: str) -> tuple[str, ...]:
    ids = tuple(s.strip() for s in value.replace("，", ",").split(",") if s.strip())
    if len(ids) < 2:
        raise argparse.ArgumentTypeError(f"{value!r}: give at least two compound ids separated by commas")
    return ids


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


def barrier_classes(given: Sequence[str] | None) -> tuple[str, ...]:
    """The street classes no district crosses: the default ``arterial`` plus those given; ``none`` clears.

    Examples
    --------
    >>> barrier_classes(None), barrier_classes(["secondary"]), barrier_classes(["none", "local"])
    (('arterial',), ('arterial', 'secondary'), ('local',))
    """
    given = list(given or [])
    base = [] if "none" in given else list(DEFAULT_BARRIER_CLASSES)
    for c in given:
        if c != "none" and c not in base:
            base.append(c)
    return tuple(base)


def _add_input_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("input")
    g.add_argument("--column-map", action="append", metavar="SRC=DST",
                   help="map your header to a canonical column, e.g. 户数合计=households (repeatable)")
    g.add_argument("--encoding", help="text encoding of Shapefiles/CSV, e.g. GBK (default: .cpg, UTF-8, GB18030)")
    g.add_argument("--source-crs", choices=("gcj02", "bd09"),
                   help="input lon/lat are Amap/Gaode (gcj02) or Baidu (bd09) coordinates")
    g.add_argument("--input-crs", metavar="EPSG", help="CRS for layers without one (e.g. CSV with WKT)")
    g.add_argument("--work-crs", metavar="EPSG",
                   help="metric CRS for all measuring (default: CGCS2000 3-degree GK zone of the data)")


def _add_run_options(p: argparse.ArgumentParser) -> None:
    d = p.add_argument_group("districts")
    d.add_argument("--min-households", type=_positive_int, default=1500, help="lower household bound (default 1500)")
    d.add_argument("--max-households", type=_positive_int, default=4000, help="upper household bound (default 4000)")
    d.add_argument("--gap-m", type=_non_negative, default=30.0,
                   help="compounds within this distance (m) can merge (default 30: a lane or local street)")
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
    s = p.add_argument_group("service gaps and siting")
    s.add_argument("--standards", default="gb50180_2018",
                   help="standards profile (gb50180_2018, complete_community) or a TOML file of your city")
    s.add_argument("--detour-factor", type=_detour, default=1.3,
                   help="straight-line x factor used when there are no streets (default 1.3)")
    s.add_argument("--sites-per-category", type=_positive_int, default=1,
                   help="idle parcels to choose per category; 0 = until every coverable household is covered")
    s.add_argument("--siting-method", choices=("greedy", "exact"), default="greedy",
                   help="greedy (fast) or exact integer programme (HiGHS)")
    o = p.add_argument_group("output")
    o.add_argument("--lang", choices=("zh", "en"), default="zh", help="table headers and map labels")
    o.add_argument("--tiles", choices=("osm", "cartodb", "amap", "tianditu", "none"), default="osm",
                   help="basemap of the HTML map; none = offline")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation and tests)."""
    parser = _Parser(prog="renogis", description="District-level renovation planning for old "
                     "residential compounds (老旧小区片区统筹改造).")
    parser.add_argument("--version", action="version", version=f"renogis {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv: debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("demo", help="run everything on the bundled synthetic sample")
    p.add_argument("--out", type=Path, default=Path("renogis-demo"), help="output folder (default renogis-demo)")
    p.add_argument("--maps-dir", type=Path, default=Path("maps"),
                   help="also copy the map here as demo_map.html (default maps/)")
    p.add_argument("--lang", choices=("zh", "en"), default="zh")
    p.add_argument("--tiles", choices=("osm", "cartodb", "amap", "tianditu", "none"), default="osm")

    p = sub.add_parser("validate", help="check an input and print every problem found")
    p.add_argument("input", type=Path, help="GeoPackage, folder of layer files, or a compounds file")
    _add_input_options(p)

    for name, helptext in (("run", "load, propose districts, compute service gaps, site facilities, map"),
                           ("districts", "propose renovation districts only"),
                           ("gaps", "service-circle gaps only"),
                           ("map", "the HTML map (with districts and gaps)")):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("input", type=Path, help="GeoPackage, folder of layer files, or a compounds file")
        p.add_argument("--out", type=Path, required=True, help="output folder")
        _add_input_options(p)
        _add_run_options(p)

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
    b.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


_STEPS = {
    "run": ("load", "districts", "gaps", "siting", "map"),
    "districts": ("load", "districts"),
    "gaps": ("load", "districts", "gaps"),
    "map": ("load", "districts", "gaps", "map"),
}


def _config(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from renogis._errors import InputError
    from renogis.io import parse_column_map
    from renogis.pipeline import RunConfig

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
    )


def _coverage_table(cov, *, lang: str) -> str:  # type: ignore[no-untyped-def]
    """Compact per-category coverage: before merging (compounds alone) and after (districts)."""
    name = "category_name" if "category_name" in cov.columns else "category"
    rows = [("category", "radius", "households", "covered", "after merging", "shortfall")]
    for r in cov.to_dict("records"):
        short = r.get("shortfall")
        rows.append((
            f"{r['category']} {r[name]}" if name != "category" else r["category"],
            f"{r['radius_m']:.0f} m",
            f"{r['households']:,.0f}",
            f"{r['coverage_share']:.0%}",
            f"{r.get('coverage_share_merged', float('nan')):.0%}",
            "" if short is None or short != short else f"{short:,.0f} {r.get('demand_unit') or ''}".strip(),
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
    s = result.summary
    out = sys.stdout
    layers = ", ".join(f"{k} {v}" for k, v in s.get("layers", {}).items())
    out.write(f"input: {layers}; work CRS {s.get('work_crs')}; {s.get('warnings', 0)} warnings "
              f"(see validation.txt)\n")
    if "districts" in s:
        out.write(f"districts: {s['districts']} proposed covering {s['compounds_in_districts']} compounds; "
                  f"{s['compounds_excluded']} excluded\n")
    if result.coverage is not None and len(result.coverage):
        out.write(f"share of households covered, per category ({s.get('network', '')}):\n")
        out.write(_coverage_table(result.coverage, lang=lang) + "\n")
    if s.get("districts") == 0 and s.get("compounds_excluded"):
        out.write(f"warning: every compound ({s['compounds_excluded']}) was excluded by the options "
                  "(--built-before, --min-consent, --require-owners-committee): no district proposed; "
                  "see the excluded_reason column of districts.gpkg\n")
    if "sites" in s:
        out.write(f"siting: {s['sites']} facilities placed on idle parcels\n")
    out.write(f"outputs in {result.out}:\n")
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
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING if args.verbose == 0 else (logging.INFO if args.verbose == 1 else logging.DEBUG)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    # Library warnings (pyogrio, shapely, pandas) are for developers: shown with -v only. Everything a
    # planner must know is a renogis warning, in validation.txt and run.json as well.
    logging.captureWarnings(True)
    logging.getLogger("py.warnings").setLevel(logging.WARNING if args.verbose else logging.ERROR)
    if args.command is None:
        parser.print_help()
        return 2

    def progress(msg: str) -> None:
        sys.stderr.write(f"[renogis] {msg}\n")

    try:
        if args.command == "validate":
            from renogis.io import parse_column_map
            from renogis.validate import load

            ds = load(args.input, column_map=parse_column_map(args.column_map), encoding=args.encoding,
                      source_crs=args.source_crs, input_crs=args.input_crs, work_crs=args.work_crs,
                      strict=False)
            sys.stdout.write(ds.report.to_text() + "\n")
            return 0 if ds.report.ok else 2
        if args.command == "batch":
            return _batch(args)
        from renogis.pipeline import RunConfig, run

        if args.command == "demo":
            from renogis.datasets import sample_path

            config = RunConfig(input=sample_path(), out=args.out, lang=args.lang, tiles=args.tiles,
                               map_copy=args.maps_dir)
        else:
            config = _config(args)
        result = run(config, progress=progress if args.verbose or sys.stderr.isatty() else None)
        _print_result(result, lang=config.lang)
        if args.command == "demo" and config.map_copy is not None:
            sys.stdout.write(f"map also copied to {config.map_copy / 'demo_map.html'}\n")
        return 0
    except RenogisError as exc:
        text = " ".join(str(exc).split())
        sys.stderr.write(f"renogis: error: {text}\n")
        return 2
    except KeyboardInterrupt as exc:
        from renogis._outdir import RunInterrupted

        signum = exc.signum if isinstance(exc, RunInterrupted) else 2
        out = getattr(args, "out", None)
        if isinstance(exc, RunInterrupted) and exc.committed:
            sys.stderr.write(f"renogis: interrupted (signal {signum}) after the output was complete in {out}\n")
        else:
            where = f"; {out} is as it was before the run" if out is not None else ""
            sys.stderr.write(f"renogis: interrupted (signal {signum}); nothing written{where}\n")
        return 128 + signum
    except Exception as exc:  # a bug in renogis, not the user's input
        if args.verbose:
            raise
        sys.stderr.write(f"renogis: internal error: {type(exc).__name__}: {' '.join(str(exc).split())} "
                         "(no output written; rerun with -v for the traceback and please report it)\n")
        return 1


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
