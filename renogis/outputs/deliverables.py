"""The proposal step of a run: renovation content, costs, viability, their tables and documents.

Called by :func:`renogis.pipeline.run` after the district tables. Machine tables (CSV) use the
canonical column names of :mod:`renogis.schema`; the XLSX copies and the documents follow ``lang``.

Files written into the run folder:

``renovation_items.csv/.xlsx``
    per district and item: class, phase, quantity, unit, cost low/high, verified, evidence, source
``renovation_districts.csv``
    per district: evidence figures and cost low/high per class
``renovation_compounds.csv``
    per compound: old or not, lift candidates, parking spaces, need and shortfall alone
``funding.csv``
    per district and funding source: amount low/high
``viability_compounds.csv``, ``viability_districts.csv`` (and ``viability_groups.csv``)
    break-even property fees alone and merged
``proposals/<district_id>.docx|.pdf|_map.png``, ``proposals/summary.docx|.pdf``
    the deliverables (see :mod:`renogis.outputs.documents`)
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd

from renogis import schema as S
from renogis.outputs.tables import write_table

logger = logging.getLogger(__name__)

__all__ = ["write_proposal_outputs", "DOCUMENT_MODES", "AUTO_DOCUMENTS_MAX"]

DOCUMENT_MODES = ("auto", "all", "summary", "none")
#: With ``documents="auto"``, per-district documents are written up to this many districts.
AUTO_DOCUMENTS_MAX = 60

_ZH = {
    S.DISTRICT_ID: "片区编号",
    S.RENO_CLASS: "改造类别",
    "phase": "实施期",
    S.ITEM: "项目代码",
    "item_name": "项目",
    S.CATEGORY: "设施类别",
    S.QUANTITY: "数量",
    S.UNIT: "单位",
    S.COST_LOW_YUAN: "估算低值(元)",
    S.COST_HIGH_YUAN: "估算高值(元)",
    S.VERIFIED: "单价已核实",
    S.EVIDENCE: "依据",
    S.SOURCE: "单价来源",
}


def write_proposal_outputs(
    out: Path,
    *,
    config: Any,
    ds: Any,
    district_result: Any,
    access: pd.DataFrame | None,
    gaps: pd.DataFrame | None,
    plan: Any,
    standards: Any,
    extra_lines: dict[str, list[str]],
) -> tuple[list[Path], dict[str, Any], list[str]]:
    """Compute and write the proposal outputs; return (files, summary for run.json, notes).

    ``notes`` are problems to add to validation.txt (e.g. buildings dropped, no CJK font).
    """
    costs = _costs(config)
    compounds = district_result.compounds
    districts = district_result.districts
    buildings, notes = _buildings(config, ds, compounds)
    siting = plan.plan if plan is not None else None
    reno, reno_en = _renovation_plans(
        compounds,
        districts,
        config=config,
        ds=ds,
        costs=costs,
        buildings=buildings,
        gaps=gaps,
        siting=siting,
        standards=standards,
    )
    group_col = config.viability_groups
    viab, gviab = _viabilities(compounds, costs=costs, group_col=group_col)
    files = _write_tables(
        out, reno=reno, reno_en=reno_en, viab=viab, gviab=gviab, group_col=group_col, lang=config.lang
    )
    mode, mode_notes = _document_mode(config.documents, len(reno.districts))
    notes += mode_notes
    doc_warnings: list[str] = []
    if mode != "none":
        doc_files, doc_warnings = _write_documents(
            out / "proposals",
            mode,
            config=config,
            ds=ds,
            compounds=compounds,
            districts=districts,
            reno=reno,
            viab=viab,
            gviab=gviab,
            access=access,
            siting=siting,
            extra_lines=extra_lines,
        )
        files += doc_files
    notes += doc_warnings + list(reno.notes)
    return files, _summary(costs, reno=reno, viab=viab, gviab=gviab, mode=mode, notes=notes), notes


def _costs(config: Any) -> Any:
    """The cost profile of the run with its command-line options (funding shares, fee, parking)."""
    from renogis.costs import load_costs

    return load_costs(config.costs).with_options(
        funding_shares=config.funding_shares,
        fee_yuan_m2_month=config.property_fee,
        collection_rate=config.collection_rate,
        parking_per_household=config.parking_per_household,
    )


def _buildings(config: Any, ds: Any, compounds: pd.DataFrame) -> tuple[Any, list[str]]:
    """The buildings layer (``--buildings`` or a layer of the input) joined to the compounds; its notes."""
    from renogis.renovation import read_buildings

    buildings, notes = read_buildings(
        config.buildings or config.input,
        compounds=compounds,
        column_map=config.column_map,
        encoding=config.encoding,
        explicit=config.buildings is not None,
    )
    if buildings is not None and ds.work_crs is not None:
        logger.info(
            "buildings: %d read, %d lift-retrofit candidates",
            len(buildings),
            int(((buildings[S.FLOORS] >= 4) & ~buildings[S.HAS_LIFT]).sum()),
        )
    return buildings, notes


def _renovation_plans(
    compounds: Any,
    districts: Any,
    *,
    config: Any,
    ds: Any,
    costs: Any,
    buildings: Any,
    gaps: pd.DataFrame | None,
    siting: pd.DataFrame | None,
    standards: Any,
) -> tuple[Any, Any]:
    """The renovation plan in ``--lang`` (sheets, documents) and in English (machine tables)."""
    from renogis.renovation import plan_renovation

    def _plan(lang: str) -> Any:
        return plan_renovation(
            compounds,
            districts,
            costs=costs,
            buildings=buildings,
            gaps=gaps,
            siting=siting,
            gates=ds.get(S.GATES),
            facilities=ds.get(S.FACILITIES),
            standards=standards,
            heating_region=config.heating_region,
            gap_m=config.gap_m,
            lang=lang,
        )

    reno = _plan(config.lang)
    # machine tables (CSV) are the same whatever --lang: their text columns are in English
    reno_en = _plan("en")
    return reno, reno_en


def _viabilities(compounds: Any, *, costs: Any, group_col: str | None) -> tuple[Any, Any]:
    """Property viability per district, and per ``--viability-groups`` column when given (else None)."""
    from renogis.viability import assess_viability

    viab = assess_viability(compounds, model=costs.property)
    gviab = None
    if group_col:
        if group_col not in compounds.columns:
            from renogis._errors import InputError

            raise InputError(
                f"--viability-groups {group_col}: the compounds layer has no column {group_col!r}; "
                f"columns: {', '.join(c for c in compounds.columns if c != 'geometry')}"
            )
        gviab = assess_viability(compounds, model=costs.property, by=group_col)
    return viab, gviab


def _write_tables(
    out: Path, *, reno: Any, reno_en: Any, viab: Any, gviab: Any, group_col: str | None, lang: str
) -> list[Path]:
    """The renovation, funding and viability tables (CSV in English; the items XLSX in ``lang``)."""
    files: list[Path] = []
    files += write_table(
        reno_en.items, out / "renovation_items", sheet_name="renovation_items", formats=("csv",)
    )
    xl = reno.items.rename(columns=_ZH) if lang == "zh" else reno.items
    files += write_table(xl, out / "renovation_items", sheet_name="renovation_items", formats=("xlsx",))
    files += write_table(reno.districts, out / "renovation_districts", formats=("csv",))
    files += write_table(reno.compounds, out / "renovation_compounds", formats=("csv",))
    files += write_table(reno_en.funding, out / "funding", formats=("csv",))
    files += write_table(viab.compounds, out / "viability_compounds", formats=("csv",))
    files += write_table(
        viab.groups.rename(columns={"group": S.DISTRICT_ID}), out / "viability_districts", formats=("csv",)
    )
    if gviab is not None:
        files += write_table(
            gviab.groups.rename(columns={"group": group_col}), out / "viability_groups", formats=("csv",)
        )
    return files


def _document_mode(mode: str, n: int) -> tuple[str, list[str]]:
    """Resolve ``--documents auto`` by the number of districts ``n``; a summary-only fallback says so."""
    notes: list[str] = []
    if mode == "auto":
        mode = "all" if n <= AUTO_DOCUMENTS_MAX else "summary"
        if mode == "summary":
            msg = (
                f"{n} districts: per-district Word/PDF documents not written by default (more than "
                f"{AUTO_DOCUMENTS_MAX}); pass --documents all to write them"
            )
            logger.warning("%s", msg)
            notes.append(msg)
    return mode, notes


def _write_documents(
    folder: Path,
    mode: str,
    *,
    config: Any,
    ds: Any,
    compounds: Any,
    districts: Any,
    reno: Any,
    viab: Any,
    gviab: Any,
    access: pd.DataFrame | None,
    siting: pd.DataFrame | None,
    extra_lines: dict[str, list[str]],
) -> tuple[list[Path], list[str]]:
    """The Word/PDF proposals and their maps (``mode`` "all" or "summary"), with the gap lines as evidence."""
    from renogis.outputs.documents import write_documents

    evidence = {k: list(v) for k, v in extra_lines.items() if k is not None}
    return write_documents(
        folder,
        compounds=compounds,
        districts=districts,
        plan=reno,
        viability=viab,
        group_viability=gviab,
        group_column=config.viability_groups,
        evidence=evidence,
        access=access,
        gates=ds.get(S.GATES),
        facilities=ds.get(S.FACILITIES),
        parcels=ds.get(S.PARCELS),
        siting=siting,
        streets=ds.get(S.STREETS),
        barriers=ds.get(S.BARRIERS),
        lang=config.lang,
        which=mode,
        gap_m=config.gap_m,
    )


def _summary(costs: Any, *, reno: Any, viab: Any, gviab: Any, mode: str, notes: list[str]) -> dict[str, Any]:
    """The ``proposals`` entry of run.json: totals, lift candidates, viability counts, documents, notes."""
    n = len(reno.districts)
    vg = viab.groups
    summary = {
        "cost_profile": costs.source_path,
        "costs_verified": costs.all_verified,
        "cost_low_yuan": float(reno.districts[S.COST_LOW_YUAN].sum()) if n else 0.0,
        "cost_high_yuan": float(reno.districts[S.COST_HIGH_YUAN].sum()) if n else 0.0,
        "lift_candidates": (
            None
            if reno.districts[S.LIFT_CANDIDATES].isna().any() or not n
            else int(reno.districts[S.LIFT_CANDIDATES].sum())
        ),
        "parking_shortfall": float(reno.districts[S.PARKING_SHORTFALL].sum()) if n else 0.0,
        "property_fee": costs.property.fee_yuan_m2_month,
        "districts_viable_merged": int(vg[S.VIABLE_MERGED].fillna(False).sum()),
        "districts_viable_only_merged": int(vg[S.VIABLE_ONLY_MERGED].fillna(False).sum()),
        "documents": mode,
        "notes": notes,
    }
    if gviab is not None:
        summary["groups_viable_only_merged"] = [
            str(g)
            for g in gviab.groups.loc[gviab.groups[S.VIABLE_ONLY_MERGED].fillna(False).astype(bool), "group"]
        ]
    return summary
