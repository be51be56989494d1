"""The ``renogis`` command line: thin argument parsing over :mod:`renogis.pipeline`.

Exit codes: 0 success; 2 bad input or usage (one line on stderr, no traceback).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from renogis import __version__
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
    return ids


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
    d.add_argument("--min-households", type=int, default=1500, help="lower household bound (default 1500)")
    d.add_argument("--max-households", type=int, default=4000, help="upper household bound (default 4000)")
    d.add_argument("--gap-m", type=float, default=30.0,
                   help="compounds within this distance (m) can merge (default 30: a lane or local street)")
    d.add_argument("--barrier-class", action="append", dest="barrier_classes", metavar="CLASS",
                   help="street class that no district crosses (default arterial; repeatable)")
    d.add_argument("--keep-together", action="append", type=_ids, default=[], metavar="ID,ID,...",
                   help="these compounds end up in one district (repeatable)")
    d.add_argument("--keep-apart", action="append", type=_ids, default=[], metavar="ID,ID",
                   help="these compounds never share a district (repeatable)")
    d.add_argument("--min-consent", type=float, help="exclude compounds whose consent share is below this")
    d.add_argument("--require-owners-committee", action="store_true",
                   help="exclude compounds without an owners' committee")
    d.add_argument("--built-before", type=int, metavar="YEAR",
                   help="exclude compounds built in or after YEAR (e.g. 2001: only pre-2001 stock)")
    d.add_argument("--seed", type=int, default=0, help="seed for tie-breaking (default 0)")
    s = p.add_argument_group("service gaps and siting")
    s.add_argument("--standards", default="gb50180_2018",
                   help="standards profile (gb50180_2018, complete_community) or a TOML file of your city")
    s.add_argument("--detour-factor", type=float, default=1.3,
                   help="straight-line x factor used when there are no streets (default 1.3)")
    s.add_argument("--sites-per-category", type=int, default=1,
                   help="idle parcels to choose per category; 0 = until every coverable household is covered")
    s.add_argument("--siting-method", choices=("greedy", "exact"), default="greedy",
                   help="greedy (fast) or exact integer programme (HiGHS)")
    o = p.add_argument_group("output")
    o.add_argument("--lang", choices=("zh", "en"), default="zh", help="table headers and map labels")
    o.add_argument("--tiles", choices=("osm", "cartodb", "amap", "tianditu", "none"), default="osm",
                   help="basemap of the HTML map; none = offline")
    _add_proposal_options(p)


def _add_proposal_options(p: argparse.ArgumentParser) -> None:
    r = p.add_argument_group("proposals (renovation content, cost, funding, property viability, documents)")
    r.add_argument("--costs", default="renovation_2021",
                   help="cost profile (renovation_2021, every number unverified) or a TOML file of your city")
    r.add_argument("--documents", choices=("auto", "all", "summary", "none"), default="auto",
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
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("demo", help="run everything on the bundled synthetic sample")
    p.add_argument("--out", type=Path, default=Path("renogis-demo"), help="output folder (default renogis-demo)")
    p.add_argument("--maps-dir", type=Path, default=Path("maps"),
                   help="also copy the map here as demo_map.html (default maps/)")
    p.add_argument("--lang", choices=("zh", "en"), default="zh")
    p.add_argument("--tiles", choices=("osm", "cartodb", "amap", "tianditu", "none"), default="osm")

    p = sub.add_parser("compare", help="two runs of the same city side by side (table and map)")
    p.add_argument("run_a", type=Path, help="output folder of the first run")
    p.add_argument("run_b", type=Path, help="output folder of the second run")
    p.add_argument("--out", type=Path, required=True,
                   help="output folder for compare.csv/.xlsx/.md and the map")
    p.add_argument("--lang", choices=("zh", "en"), default="zh")

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
    return parser


_STEPS = {
    "run": ("load", "districts", "gaps", "siting", "map"),
    "districts": ("load", "districts"),
    "gaps": ("load", "districts", "gaps"),
    "map": ("load", "districts", "gaps", "map"),
}


def _config(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from renogis.costs import parse_funding_shares
    from renogis.io import parse_column_map
    from renogis.pipeline import RunConfig

    return RunConfig(
        input=args.input, out=args.out, steps=_STEPS[args.command],
        column_map=parse_column_map(args.column_map), encoding=args.encoding,
        source_crs=args.source_crs, input_crs=args.input_crs, work_crs=args.work_crs,
        gap_m=args.gap_m, barrier_classes=tuple(args.barrier_classes or ("arterial",)),
        min_households=args.min_households, max_households=args.max_households,
        keep_together=tuple(args.keep_together), keep_apart=tuple(args.keep_apart),
        min_consent=args.min_consent, require_owners_committee=args.require_owners_committee,
        built_before=args.built_before, seed=args.seed, standards=args.standards,
        detour_factor=args.detour_factor,
        sites_per_category=None if args.sites_per_category == 0 else args.sites_per_category,
        siting_method=args.siting_method, lang=args.lang, tiles=args.tiles,
        costs=args.costs, documents=args.documents, property_fee=args.property_fee,
        collection_rate=args.collection_rate, parking_per_household=args.parking_per_household,
        funding_shares=parse_funding_shares(args.funding_share),
        heating_region=None if args.heating_region == "auto" else args.heating_region == "yes",
        viability_groups=args.viability_groups, buildings=args.buildings,
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
    if "sites" in s:
        out.write(f"siting: {s['sites']} facilities placed on idle parcels\n")
    if "proposals" in s:
        pr = s["proposals"]
        out.write(f"proposals: cost {pr['cost_low_yuan'] / 1e6:,.1f}-{pr['cost_high_yuan'] / 1e6:,.1f} "
                  "million yuan"
                  f"{'' if pr['costs_verified'] else ' (unit costs unverified)'}; property management at "
                  f"{pr['property_fee']:.2f} yuan/m2: {pr['districts_viable_merged']} districts viable "
                  "merged, "
                  f"{pr['districts_viable_only_merged']} only when merged\n")
        if pr.get("groups_viable_only_merged"):
            out.write(f"  groups viable only when merged: {', '.join(pr['groups_viable_only_merged'])}\n")
    out.write(f"outputs in {result.out}:\n")
    for f in result.files:
        out.write(f"  {f.relative_to(result.out)}\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``renogis`` console script. Returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING if args.verbose == 0 else (logging.INFO if args.verbose == 1 else logging.DEBUG)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
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
        if args.command == "compare":
            from renogis.compare import write_comparison

            files, _table, warns = write_comparison(args.run_a, args.run_b, args.out, lang=args.lang)
            for w in warns:
                sys.stderr.write(f"renogis: warning: {w}\n")
            sys.stdout.write(f"comparison in {args.out}:\n" + "".join(f"  {f.name}\n" for f in files))
            return 0
        from renogis.pipeline import RunConfig, run

        if args.command == "demo":
            from renogis.datasets import sample_path

            config = RunConfig(input=sample_path(), out=args.out, lang=args.lang, tiles=args.tiles,
                               map_copy=args.maps_dir, documents="all", viability_groups="area",
                               buildings=sample_path().with_name("sample_buildings.gpkg"))
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
    except KeyboardInterrupt:
        sys.stderr.write("renogis: interrupted; no output written\n")
        return 130
    except Exception as exc:  # a bug in renogis, not the user's input
        if args.verbose:
            raise
        sys.stderr.write(f"renogis: internal error: {type(exc).__name__}: {' '.join(str(exc).split())} "
                         "(no output written; rerun with -v for the traceback and please report it)\n")
        return 1


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
