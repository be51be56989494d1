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
from renogis.config import STEPS, RunConfig, barrier_classes
from renogis.io import write_gpkg
from renogis.outputs.gpkg import write_results_gpkg
from renogis.outputs.tables import (
    file_sha256,
    library_versions,
    write_columns_md,
    write_run_json,
    write_table,
)
from renogis.outputs.wording import gap_lines
from renogis.postgis import is_postgis_url, redact_url
from renogis.validate import Dataset, load

logger = logging.getLogger(__name__)

__all__ = ["RunConfig", "RunResult", "run", "STEPS", "barrier_classes"]

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


@dataclass
class _State:
    """What the stages of one run hand on to each other."""

    config: RunConfig
    tmp: Path
    timer: _Timer
    standards: Any = None
    ds: Any = None
    compounds: Any = None
    district_result: Any = None
    districts: Any = None
    network: Any = None
    network_block: dict[str, Any] | None = None
    access: Any = None
    gaps: Any = None
    coverage: pd.DataFrame | None = None
    service_areas: Any = None
    plan: Any = None
    files: list[Path] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    extra_lines: dict[str, list[str]] = field(default_factory=dict)

    def note(self, text: str) -> None:
        """Append lines to validation.txt (nothing only in the log)."""
        with (self.tmp / "validation.txt").open("a", encoding="utf-8") as fh:
            fh.write(text)

    def add_lines(self, lines: dict[Any, list[str]]) -> None:
        """Lines for the district sheets (compounds outside every district have no sheet)."""
        for did, items in lines.items():
            if isinstance(did, str):
                self.extra_lines.setdefault(did, []).extend(items)


def _stage_load(st: _State) -> None:
    c = st.config
    with st.timer.step("load"):
        st.ds = ds = load(c.input, column_map=c.column_map, encoding=c.encoding, source_crs=c.source_crs,
                          input_crs=c.input_crs, work_crs=c.work_crs,
                          categories=list(st.standards.categories) if st.standards else None,
                          ledger=c.ledger, layer_map=c.layer_map)
        st.files.append(write_gpkg(st.tmp / "cleaned.gpkg", ds.layers))
        if ds.ledger_match is not None:
            st.files.extend(write_table(ds.ledger_match, st.tmp / "ledger_match", formats=("csv",)))
        (st.tmp / "validation.txt").write_text(ds.report.to_text() + "\n", encoding="utf-8")
        st.files.append(st.tmp / "validation.txt")
    st.summary["layers"] = dict(ds.report.counts)
    st.summary["warnings"] = len(ds.report.warnings)
    st.summary["work_crs"] = f"EPSG:{ds.work_crs.to_epsg()}" if ds.work_crs.to_epsg() else ds.work_crs.name
    st.compounds = ds.compounds


def _stage_overlaps(st: _State) -> None:
    from renogis.overlaps import OVERLAPS_FILE, resolve_overlaps

    with st.timer.step("overlaps"):
        overlaps = resolve_overlaps(st.compounds, nested=st.config.nested)  # type: ignore[arg-type]
        st.compounds = overlaps.compounds
        st.files.extend(write_table(overlaps.pairs, st.tmp / OVERLAPS_FILE, formats=("csv",)))
        if overlaps.report_lines():
            st.note("\n".join(overlaps.report_lines()) + "\n")
    st.summary["overlaps"] = overlaps.summary()


def _stage_districts(st: _State) -> None:
    from renogis.adjacency import build_adjacency
    from renogis.districting import propose_districts
    from renogis.outputs.proposals import with_reasons

    c, ds = st.config, st.ds
    with st.timer.step("districts"):
        graph = build_adjacency(st.compounds, parcels=ds.get(schema.PARCELS), streets=ds.get(schema.STREETS),
                                barriers=ds.get(schema.BARRIERS), gap_m=c.gap_m,
                                barrier_classes=c.barrier_classes, soft_barrier_classes=c.soft_barrier_classes)
        st.district_result = propose_districts(
            st.compounds, graph, parcels=ds.get(schema.PARCELS), min_households=c.min_households,
            max_households=c.max_households, keep_together=c.keep_together, keep_apart=c.keep_apart,
            min_consent=c.min_consent, require_owners_committee=c.require_owners_committee,
            built_before=c.built_before, seed=c.seed, max_span_m=c.max_span_m)
        st.district_result = with_reasons(st.district_result)  # the words of the flags, for every output
        st.districts = st.district_result.districts
        st.compounds = st.district_result.compounds
    st.summary["districts"] = int(len(st.districts))
    st.summary["compounds_in_districts"] = int(st.compounds[schema.DISTRICT_ID].notna().sum())
    st.summary["compounds_excluded"] = int(st.compounds[schema.EXCLUDED_REASON].notna().sum())


def _stage_gaps(st: _State) -> None:
    from renogis import access as access_mod
    from renogis.network import build_walk_network
    from renogis.outputs.gap_tables import summarise_coverage, write_gap_outputs

    c, ds = st.config, st.ds
    with st.timer.step("gaps"):
        streets = ds.get(schema.STREETS)
        if streets is not None:
            st.network = build_walk_network(streets, barriers=ds.get(schema.BARRIERS))
        st.access = access_mod.compute_access(
            st.compounds, ds.get(schema.FACILITIES), network=st.network, standards=st.standards,
            gates=ds.get(schema.GATES), detour_factor=c.detour_factor, access=c.access,
            frontage_m=c.frontage_m, no_data=c.no_data, barriers=ds.get(schema.BARRIERS))
        net_report = access_mod.access_report(st.access)
        st.gaps = access_mod.compute_gaps(st.compounds, st.access, facilities=ds.get(schema.FACILITIES),
                                          standards=st.standards, districts=st.districts, network=st.network,
                                          gates=ds.get(schema.GATES), detour_factor=c.detour_factor)
        st.coverage = summarise_coverage(st.gaps)
        st.files.extend(write_gap_outputs(st.access, st.gaps, st.tmp, lang=c.lang))
        if ds.get(schema.FACILITIES) is not None:
            st.service_areas = access_mod.service_areas(st.network, ds.get(schema.FACILITIES),
                                                        standards=st.standards)
        st.add_lines(gap_lines(st.gaps, standards=st.standards, lang=c.lang))
    st.summary["network"] = "walk network" if st.network is not None else (
        f"no streets: straight line x {c.detour_factor}")
    st.summary["network_warnings"] = list(net_report.get("warnings", []))
    block = {k: v for k, v in net_report.items() if k != "warnings"}
    block["warnings"] = st.summary["network_warnings"]
    block["access_model"] = c.access
    block["frontage_m"] = c.frontage_m
    st.network_block = block
    _append_network_section(st.tmp / "validation.txt", block)


def _stage_siting(st: _State) -> None:
    from renogis import siting as siting_mod
    from renogis.outputs.siting import siting_lines, write_siting_tables

    c = st.config
    with st.timer.step("siting"):
        parcels = st.ds.get(schema.PARCELS)
        if parcels is None:
            st.summary["sites"] = 0
            logger.warning("no parcels layer: nothing to site")
            return
        st.plan = siting_mod.site_facilities(
            st.compounds, parcels, access=st.access, standards=st.standards, network=st.network,
            gates=st.ds.get(schema.GATES), sites_per_category=c.sites_per_category, method=c.siting_method,
            districts=st.districts)
        st.files.extend(write_siting_tables(st.plan, st.tmp, lang=c.lang))
        st.add_lines(siting_lines(st.plan, lang=c.lang))
        st.summary["sites"] = int(len(st.plan.plan))
        st.summary["siting"] = siting_mod.summary_record(st.plan)


def _stage_tables(st: _State) -> None:
    from renogis.outputs.proposals import write_district_outputs

    with st.timer.step("tables"):
        st.files.extend(write_district_outputs(st.district_result, st.tmp, lang=st.config.lang,
                                               extra_lines=st.extra_lines))


def _stage_proposals(st: _State) -> None:
    from renogis.outputs.deliverables import write_proposal_outputs

    with st.timer.step("proposals"):
        pfiles, st.summary["proposals"], pnotes = write_proposal_outputs(
            st.tmp, config=st.config, ds=st.ds, district_result=st.district_result, access=st.access,
            gaps=st.gaps, plan=st.plan, standards=st.standards, extra_lines=st.extra_lines)
        st.files.extend(pfiles)
        if pnotes:
            st.note("".join(f"proposals: {n}\n" for n in pnotes))


def _stage_map(st: _State) -> None:
    from renogis.outputs.map import write_map

    ds = st.ds
    with st.timer.step("map"):
        streets = ds.get(schema.STREETS)
        cut_off = None  # streets with pieces cut off from the walk network
        if st.network is not None and streets is not None and schema.STREET_ID in streets:
            dropped = set(map(str, st.network.report.get("dropped_street_ids", [])
                              or st.network.report.get("outside_largest_street_ids", [])))
            mask = streets[schema.STREET_ID].astype(str).isin(dropped)
            cut_off = streets[mask] if mask.any() else None
        st.files.append(write_map(
            st.tmp / "map.html", st.compounds, districts=st.districts, parcels=ds.get(schema.PARCELS),
            facilities=ds.get(schema.FACILITIES), access=st.access, gaps=st.gaps,
            service_areas=st.service_areas, siting=st.plan.plan if st.plan is not None else None,
            streets=streets, barriers=ds.get(schema.BARRIERS), network_parts=cut_off,
            tiles=st.config.tiles, lang=st.config.lang))


def _stage_results(st: _State) -> None:
    with st.timer.step("results"):
        st.files.append(write_results_gpkg(
            st.tmp / "results.gpkg", districts=st.districts, compounds=st.compounds, access=st.access,
            gaps=st.gaps, service_areas=st.service_areas, sites=st.plan.plan if st.plan is not None else None,
            categories=list(st.standards.categories) if st.standards is not None else None,
            lang=st.config.lang))


def _wants(*steps: str) -> Callable[[_State], bool]:
    return lambda st: bool(set(st.config.steps) & set(steps))


#: The stages of a run in order, each with when it runs (on the steps asked for and what came before).
STAGES: tuple[tuple[str, Callable[[_State], None], Callable[[_State], bool]], ...] = (
    ("load", _stage_load, lambda st: True),
    ("overlaps", _stage_overlaps, _wants("districts", "gaps", "siting", "map")),
    ("districts", _stage_districts, _wants("districts", "gaps", "siting", "map")),
    ("gaps", _stage_gaps, lambda st: _wants("gaps", "siting", "map")(st) and st.standards is not None),
    ("siting", _stage_siting, lambda st: _wants("siting")(st) and st.access is not None),
    ("tables", _stage_tables, lambda st: _wants("districts")(st) and st.district_result is not None),
    ("proposals", _stage_proposals,
     lambda st: _wants("districts")(st) and st.district_result is not None and st.config.proposals),
    ("map", _stage_map, _wants("map")),
    ("results", _stage_results, lambda st: st.districts is not None or st.access is not None),
)


def _run_record(st: _State, started: datetime) -> dict[str, Any]:
    """The provenance record of ``run.json``."""
    c, ds = st.config, st.ds
    record = {
        "renogis": __version__,
        "started_utc": started.isoformat(timespec="seconds"),
        "versions": library_versions(),
        "parameters": {k: redact_url(v) for k, v in asdict(c).items()},
        "work_crs": {"epsg": ds.work_crs.to_epsg(), "name": ds.work_crs.name,
                     "chosen": "given" if c.work_crs else "from the data"},
        "inputs": _input_hashes(ds, c),
        "layers": dict(ds.report.counts),
        "problems": [str(p) for p in ds.report.problems],
        "summary": st.summary,
        "timings_s": st.timer.timings,
    }
    if st.standards is not None:
        record["standards"] = {"name": st.standards.name, "source": str(st.standards.source_path)}
    if st.network_block is not None:
        record["network"] = st.network_block
    return record


def _stage_database(st: _State) -> None:
    """The folder is complete: the same results into the database, in one transaction."""
    from renogis.postgis import write_results

    with st.timer.step("database"):
        st.summary["out_db"] = write_results(
            st.config.out_db, {"districts": st.districts,
                               "compounds": st.compounds if st.districts is not None else None,
                               "service_access": st.access, "service_gaps": st.gaps,
                               "siting_plan": st.plan.plan if st.plan is not None else None},
            run_json=(st.tmp / "run.json").read_text(encoding="utf-8"))


def _run(config: RunConfig, folder: OutputFolder, started: datetime, timer: _Timer) -> RunResult:
    tmp = Path()
    st: _State | None = None
    try:
        tmp = folder.open()
        st = _State(config=config, tmp=tmp, timer=timer)
        if set(config.steps) & {"gaps", "siting", "map"}:
            from renogis.standards import load_standards

            st.standards = load_standards(config.standards)
        for _name, stage, wanted in STAGES:
            if wanted(st):
                stage(st)
        st.files.append(write_columns_md(tmp, st.files))
        st.files.append(write_run_json(tmp / "run.json", _run_record(st, started)))
        if config.out_db:
            _stage_database(st)
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
    final = tuple(out / p.relative_to(tmp) for p in st.files) + (out / MANIFEST,)
    if config.map_copy is not None and "map" in config.steps:
        try:
            config.map_copy.mkdir(parents=True, exist_ok=True)
            shutil.copy2(out / "map.html", config.map_copy / "demo_map.html")
        except OSError as exc:
            logger.warning("could not copy the map to %s (%s); it is in %s", config.map_copy, exc.strerror,
                           out / "map.html")
    return RunResult(out=out, files=final, timings_s=timer.timings, summary=st.summary, coverage=st.coverage)
