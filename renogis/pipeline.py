"""Run the stages in order: load -> districts -> service gaps -> siting -> map, with provenance.

Every output of a run is written into a temporary folder next to the output
folder and moved into place only when the run succeeds, so a failed run leaves
no half-written output. Inputs are only read.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from renogis import __version__, schema
from renogis._errors import InputError
from renogis._outdir import MANIFEST, OutputFolder, RunInterrupted, handle_signals, raise_pending
from renogis.io import write_gpkg
from renogis.postgis import is_postgis_url, redact_url
from renogis.reports import (
    file_sha256,
    gap_lines,
    library_versions,
    write_columns_md,
    write_results_gpkg,
    write_run_json,
    write_siting_tables,
    write_table,
)
from renogis.validate import Dataset, load

logger = logging.getLogger(__name__)

__all__ = ["RunConfig", "RunResult", "run", "STEPS"]

#: Stages a run can perform, in order.
STEPS = ("load", "districts", "gaps", "siting", "map")


@dataclass(frozen=True)
class RunConfig:
    """Everything a run needs; recorded in ``run.json``."""

    input: Path | str  # a path, or a postgresql:// URL (see renogis.postgis)
    out: Path
    steps: tuple[str, ...] = STEPS
    # reading
    column_map: dict[str, str] = field(default_factory=dict)
    encoding: str | None = None
    source_crs: str | None = None
    input_crs: str | None = None
    work_crs: str | None = None
    # districts
    gap_m: float = 30.0
    barrier_classes: tuple[str, ...] = ("arterial",)
    min_households: int = 1500
    max_households: int = 4000
    keep_together: tuple[tuple[str, ...], ...] = ()
    keep_apart: tuple[tuple[str, ...], ...] = ()
    min_consent: float | None = None
    require_owners_committee: bool = False
    built_before: int | None = None
    seed: int = 0
    # gaps
    standards: str = "gb50180_2018"
    detour_factor: float = 1.3
    # siting
    sites_per_category: int | None = 1
    siting_method: str = "greedy"
    # outputs
    lang: str = "zh"
    tiles: str = "osm"
    map_copy: Path | None = None  # also copy the map here (the demo uses maps/)
    ledger: Path | None = None  # compound ledger (XLSX/CSV, no geometry) joined to footprints by name
    # districts (appended): nested/duplicate compounds, split/rebalance options
    nested: str = "keep-children"  # or "keep-parent" (renogis.overlaps)
    max_span_m: float | None = None  # longest allowed district extent, m
    soft_barrier_classes: tuple[str, ...] = ()  # street classes crossed only when no in-band alternative
    # access model (issue 10)
    access: str = "frontage"  # compounds without gates: "frontage" or "centroid"
    frontage_m: float = 15.0
    no_data: tuple[str, ...] = ()  # categories the facility data do not record
    # PostGIS (renogis.postgis)
    layer_map: dict[str, str] = field(default_factory=dict)  # {layer: table} of a postgresql:// input
    out_db: str | None = None  # also write the results into postgresql://...?schema=NAME, one transaction
    # proposals: renovation content, costs, viability, documents (renogis.deliverables)
    proposals: bool = True
    costs: str = "renovation_2021"
    documents: str = "auto"  # auto | all | summary | none
    property_fee: float | None = None
    collection_rate: float | None = None
    parking_per_household: float | None = None
    funding_shares: tuple[tuple[str, str, float], ...] = ()
    heating_region: bool | None = None
    viability_groups: str | None = None
    buildings: Path | None = None  # buildings layer file, when not a layer of the input


@dataclass(frozen=True)
class RunResult:
    """What a run produced."""

    out: Path
    files: tuple[Path, ...]
    timings_s: dict[str, float]
    summary: dict[str, Any]
    coverage: pd.DataFrame | None = None


class _Timer:
    def __init__(self, progress: Callable[[str], None] | None) -> None:
        self.timings: dict[str, float] = {}
        self.progress = progress

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        if self.progress:
            self.progress(f"{name} ...")
        t0 = time.perf_counter()
        yield
        raise_pending()  # a signal Python could not raise inside the step
        self.timings[name] = round(time.perf_counter() - t0, 3)
        logger.info("step %s took %.2f s", name, self.timings[name])
        if self.progress:
            self.progress(f"{name} done in {self.timings[name]:.1f} s")


def _input_hashes(ds: Dataset, config: RunConfig) -> dict[str, str]:
    if is_postgis_url(config.input):
        from renogis.postgis import input_hashes

        return input_hashes(ds.sources)
    files: dict[str, str] = {}
    for src in sorted({Path(p) for p in ds.sources.values()}):
        members = [src]
        if src.suffix.lower() == ".shp":
            members += [src.with_suffix(s) for s in (".dbf", ".shx", ".prj", ".cpg") if src.with_suffix(s).exists()]
        for m in members:
            files[str(m)] = file_sha256(m)
    if config.buildings is not None and Path(config.buildings).is_file():  # --buildings FILE
        files[str(config.buildings)] = file_sha256(config.buildings)
    return files


def _append_network_section(path: Path, block: dict[str, Any]) -> None:
    """Add the walk network and access diagnostics to validation.txt (nothing only in the log)."""
    lines = ["", "walk network and access"]
    if block.get("nodes") is not None:
        lines.append(
            f"  {block['nodes']:,} nodes, {block['edges']:,} edges, {block['length_m'] / 1000:,.1f} km; "
            f"{block['components']} connected parts, the largest holds {block['largest_share']:.1%} "
            f"of the length; {block.get('barrier_crossings', 0)} places where a street line crosses "
            "a barrier (kept: a street drawn across a river is its crossing)")
        lines.append(f"  {block.get('compounds_on_small_parts', 0)} compounds reach the network on parts "
                     f"holding less than 5% of its length; {block.get('compounds_off_network', 0)} "
                     "reach no street")
        for cat, count in sorted(block.get("compounds_on_parts_without_facility", {}).items()):
            shown = ", ".join(block.get("compounds_on_parts_without_facility_ids", {}).get(cat, [])[:10])
            lines.append(f"  {cat}: {count} compounds on parts of the network holding no such facility "
                         f"({shown})")
    else:
        lines.append("  no streets layer: distances are straight lines x the detour factor")
    if block.get("connector_median_m") is not None:
        lines.append(f"  access connectors (compound or gate to the street): median "
                     f"{block['connector_median_m']:,.0f} m, longest {block['connector_max_m']:,.0f} m")
    lines.append(f"  access model of compounds without gates: {block.get('access_model')} "
                 f"(frontage {block.get('frontage_m')} m)")
    if block.get("no_data_categories"):
        lines.append(f"  no data (not reported as 0%): {', '.join(block['no_data_categories'])}")
    if block.get("absent_categories"):
        lines.append("  no facility of these categories in the facilities layer (reported as 0% covered): "
                     + ", ".join(block["absent_categories"]))
    for w in block.get("warnings", []):
        lines.append(f"  WARNING: {w}")
    with open(path, "a", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")


def run(config: RunConfig, *, progress: Callable[[str], None] | None = None) -> RunResult:
    """Run the requested steps on ``config.input`` and write every output into ``config.out``.

    Parameters
    ----------
    config : RunConfig
        Input, output folder, steps and options.
    progress : callable, optional
        Called with a short text at the start and end of each step (the CLI prints it).

    Returns
    -------
    RunResult

    Examples
    --------
    >>> from renogis.datasets import sample_path
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "out"
    >>> res = run(RunConfig(input=sample_path(), out=out, steps=("load",)))
    >>> sorted(p.name for p in res.files)
    ['cleaned.gpkg', 'columns.md', 'renogis_manifest.json', 'run.json', 'validation.txt']
    """
    unknown = [s for s in config.steps if s not in STEPS]
    if unknown:
        raise InputError(f"unknown steps {unknown}; choose from {', '.join(STEPS)}")
    started = datetime.now(UTC)
    if config.out_db:
        from renogis.postgis import check_out_db

        check_out_db(config.out_db)  # before any computing: connection, rights, foreign tables
    timer = _Timer(progress)
    folder = OutputFolder(config.out, inputs=([] if is_postgis_url(config.input) else [Path(config.input)])
                          + ([Path(config.ledger)] if config.ledger is not None else []))
    if config.map_copy is not None and config.map_copy.exists() and not config.map_copy.is_dir():
        raise InputError(f"--maps-dir {config.map_copy}: exists and is not a folder; choose a folder")
    with handle_signals():
        return _run(config, folder, started, timer)


def _run(config: RunConfig, folder: OutputFolder, started: datetime, timer: _Timer) -> RunResult:
    files: list[Path] = []
    summary: dict[str, Any] = {}
    coverage = None
    tmp = Path()
    try:
        tmp = folder.open()
        standards = None
        categories = None
        if "gaps" in config.steps or "siting" in config.steps or "map" in config.steps:
            from renogis.standards import load_standards

            standards = load_standards(config.standards)
            categories = list(standards.categories)
        with timer.step("load"):
            ds = load(config.input, column_map=config.column_map, encoding=config.encoding,
                      source_crs=config.source_crs, input_crs=config.input_crs,
                      work_crs=config.work_crs, categories=categories, ledger=config.ledger,
                      layer_map=config.layer_map)
            files.append(write_gpkg(tmp / "cleaned.gpkg", ds.layers))
            if ds.ledger_match is not None:
                files.extend(write_table(ds.ledger_match, tmp / "ledger_match", formats=("csv",)))
            (tmp / "validation.txt").write_text(ds.report.to_text() + "\n", encoding="utf-8")
            files.append(tmp / "validation.txt")
        summary["layers"] = dict(ds.report.counts)
        summary["warnings"] = len(ds.report.warnings)
        summary["work_crs"] = f"EPSG:{ds.work_crs.to_epsg()}" if ds.work_crs.to_epsg() else ds.work_crs.name

        compounds = ds.compounds
        if set(config.steps) & {"districts", "gaps", "siting", "map"}:
            from renogis.overlaps import OVERLAPS_FILE, resolve_overlaps

            with timer.step("overlaps"):
                overlaps = resolve_overlaps(compounds, nested=config.nested)  # type: ignore[arg-type]
                compounds = overlaps.compounds
                files.extend(write_table(overlaps.pairs, tmp / OVERLAPS_FILE, formats=("csv",)))
                if overlaps.report_lines():
                    with (tmp / "validation.txt").open("a", encoding="utf-8") as fh:
                        fh.write("\n".join(overlaps.report_lines()) + "\n")
            summary["overlaps"] = overlaps.summary()
        districts = None
        district_result = None
        extra_lines: dict[str, list[str]] = {}
        network = None
        network_block: dict[str, Any] | None = None
        access = gaps = service_areas = None
        plan = None

        if "districts" in config.steps or "gaps" in config.steps or "siting" in config.steps or (
                "map" in config.steps):
            from renogis.adjacency import build_adjacency
            from renogis.districting import propose_districts

            with timer.step("districts"):
                graph = build_adjacency(compounds, parcels=ds.get(schema.PARCELS),
                                        streets=ds.get(schema.STREETS), barriers=ds.get(schema.BARRIERS),
                                        gap_m=config.gap_m, barrier_classes=config.barrier_classes,
                                        soft_barrier_classes=config.soft_barrier_classes)
                district_result = propose_districts(
                    compounds, graph, parcels=ds.get(schema.PARCELS),
                    min_households=config.min_households, max_households=config.max_households,
                    keep_together=config.keep_together, keep_apart=config.keep_apart,
                    min_consent=config.min_consent,
                    require_owners_committee=config.require_owners_committee,
                    built_before=config.built_before, seed=config.seed, max_span_m=config.max_span_m)
                districts = district_result.districts
                compounds = district_result.compounds
            summary["districts"] = int(len(districts))
            summary["compounds_in_districts"] = int(compounds[schema.DISTRICT_ID].notna().sum())
            summary["compounds_excluded"] = int(compounds[schema.EXCLUDED_REASON].notna().sum())

        if ("gaps" in config.steps or "siting" in config.steps or "map" in config.steps) and standards:
            from renogis import access as access_mod
            from renogis.network import build_walk_network

            with timer.step("gaps"):
                streets = ds.get(schema.STREETS)
                if streets is not None:
                    network = build_walk_network(streets, barriers=ds.get(schema.BARRIERS))
                access = access_mod.compute_access(
                    compounds, ds.get(schema.FACILITIES), network=network, standards=standards,
                    gates=ds.get(schema.GATES), detour_factor=config.detour_factor,
                    access=config.access, frontage_m=config.frontage_m, no_data=config.no_data,
                    barriers=ds.get(schema.BARRIERS))
                net_report = access_mod.access_report(access)
                gaps = access_mod.compute_gaps(compounds, access, facilities=ds.get(schema.FACILITIES),
                                               standards=standards, districts=districts, network=network,
                                               gates=ds.get(schema.GATES),
                                               detour_factor=config.detour_factor)
                coverage = access_mod.summarise_coverage(gaps)
                files.extend(access_mod.write_gap_outputs(access, gaps, tmp, lang=config.lang))
                if ds.get(schema.FACILITIES) is not None:
                    service_areas = access_mod.service_areas(network, ds.get(schema.FACILITIES),
                                                             standards=standards)
                for did, lines in gap_lines(gaps, standards=standards, lang=config.lang).items():
                    if isinstance(did, str):  # compounds outside every district have no sheet
                        extra_lines.setdefault(did, []).extend(lines)
            summary["network"] = "walk network" if network is not None else (
                f"no streets: straight line x {config.detour_factor}")
            summary["network_warnings"] = list(net_report.get("warnings", []))
            network_block = {k: v for k, v in net_report.items() if k != "warnings"}
            network_block["warnings"] = summary["network_warnings"]
            network_block["access_model"] = config.access
            network_block["frontage_m"] = config.frontage_m
            _append_network_section(tmp / "validation.txt", network_block)

        if "siting" in config.steps and standards is not None and access is not None:
            from renogis import siting as siting_mod

            with timer.step("siting"):
                parcels = ds.get(schema.PARCELS)
                if parcels is not None:
                    plan = siting_mod.site_facilities(
                        compounds, parcels, access=access, standards=standards, network=network,
                        gates=ds.get(schema.GATES), sites_per_category=config.sites_per_category,
                        method=config.siting_method, districts=districts)
                    files.extend(write_siting_tables(plan.plan, tmp, lang=config.lang))
                    for did, lines in siting_mod.siting_lines(plan, lang=config.lang).items():
                        if isinstance(did, str):
                            extra_lines.setdefault(did, []).extend(lines)
                    summary["sites"] = int(len(plan.plan))
                    summary["siting"] = siting_mod.summary_record(plan)
                else:
                    summary["sites"] = 0
                    logger.warning("no parcels layer: nothing to site")

        if district_result is not None and "districts" in config.steps:
            from renogis.proposals import write_district_outputs

            with timer.step("tables"):
                files.extend(write_district_outputs(district_result, tmp, lang=config.lang,
                                                    extra_lines=extra_lines))

        if district_result is not None and "districts" in config.steps and config.proposals:
            from renogis.outputs.deliverables import write_proposal_outputs

            with timer.step("proposals"):
                pfiles, summary["proposals"], pnotes = write_proposal_outputs(
                    tmp, config=config, ds=ds, district_result=district_result, access=access, gaps=gaps,
                    plan=plan, standards=standards, extra_lines=extra_lines)
                files.extend(pfiles)
                if pnotes:
                    with (tmp / "validation.txt").open("a", encoding="utf-8") as fh:
                        fh.write("".join(f"proposals: {n}\n" for n in pnotes))

        if "map" in config.steps:
            from renogis.maps import write_map

            with timer.step("map"):
                streets = ds.get(schema.STREETS)
                cut_off = None  # streets with pieces cut off from the walk network
                if network is not None and streets is not None and schema.STREET_ID in streets:
                    dropped = set(map(str, network.report.get("dropped_street_ids", [])
                                      or network.report.get("outside_largest_street_ids", [])))
                    mask = streets[schema.STREET_ID].astype(str).isin(dropped)
                    cut_off = streets[mask] if mask.any() else None
                map_path = write_map(
                    tmp / "map.html", compounds, districts=districts, parcels=ds.get(schema.PARCELS),
                    facilities=ds.get(schema.FACILITIES), access=access, gaps=gaps,
                    service_areas=service_areas, siting=plan.plan if plan is not None else None,
                    streets=streets, barriers=ds.get(schema.BARRIERS), network_parts=cut_off,
                    tiles=config.tiles, lang=config.lang)
                files.append(map_path)

        if districts is not None or access is not None:
            with timer.step("results"):
                files.append(write_results_gpkg(
                    tmp / "results.gpkg", districts=districts, compounds=compounds, access=access, gaps=gaps,
                    service_areas=service_areas, sites=plan.plan if plan is not None else None,
                    categories=list(standards.categories) if standards is not None else None,
                    lang=config.lang))
        files.append(write_columns_md(tmp, files))
        record = {
            "renogis": __version__,
            "started_utc": started.isoformat(timespec="seconds"),
            "versions": library_versions(),
            "parameters": {k: redact_url(v) for k, v in asdict(config).items()},
            "work_crs": {"epsg": ds.work_crs.to_epsg(), "name": ds.work_crs.name,
                         "chosen": "given" if config.work_crs else "from the data"},
            "inputs": _input_hashes(ds, config),
            "layers": dict(ds.report.counts),
            "problems": [str(p) for p in ds.report.problems],
            "summary": summary,
            "timings_s": timer.timings,
        }
        if standards is not None:
            record["standards"] = {"name": standards.name, "source": str(standards.source_path)}
        if network_block is not None:
            record["network"] = network_block
        files.append(write_run_json(tmp / "run.json", record))
        if config.out_db:  # the folder is complete: the same results into the database, one transaction
            from renogis.postgis import write_results

            with timer.step("database"):
                summary["out_db"] = write_results(
                    config.out_db, {"districts": districts,
                                    "compounds": compounds if districts is not None else None,
                                    "service_access": access, "service_gaps": gaps,
                                    "siting_plan": plan.plan if plan is not None else None},
                    run_json=(tmp / "run.json").read_text(encoding="utf-8"))
        folder.commit()
    except RunInterrupted as exc:
        if folder.committed:
            raise RunInterrupted(exc.signum, committed=True) from None
        folder.abort()
        raise
    except BaseException:
        folder.abort()
        raise
    out = folder.out
    final = tuple(out / p.relative_to(tmp) for p in files) + (out / MANIFEST,)
    if config.map_copy is not None and "map" in config.steps:
        try:
            config.map_copy.mkdir(parents=True, exist_ok=True)
            shutil.copy2(out / "map.html", config.map_copy / "demo_map.html")
        except OSError as exc:
            logger.warning("could not copy the map to %s (%s); it is in %s", config.map_copy, exc.strerror,
                           out / "map.html")
    return RunResult(out=out, files=final, timings_s=timer.timings, summary=summary, coverage=coverage)
