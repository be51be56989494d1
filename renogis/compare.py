"""Two runs of the same city side by side: ``renogis compare RUN_A RUN_B --out DIR``.

Reads the output folders of two :func:`renogis.pipeline.run` calls (``run.json``, ``districts.gpkg``,
``service_gaps.csv``, ``siting_plan.csv``, ``renovation_districts.csv``, ``viability_districts.csv``)
and writes:

``compare.csv`` / ``compare.xlsx``
    one row per figure: ``metric``, ``run_a``, ``run_b``, ``difference`` (b - a); canonical names
``compare.md``
    the same table for people, in ``lang``
``compare_map.png``
    the district outlines of both runs on one map (offline)

Figures: districts, compounds in districts, households, share of districts (and of households)
within the household bounds of each run, flagged districts, walls to open, idle land pooled,
coverage after merging per facility category, facilities sited, cost low/high (total and per class),
districts whose property management is viable merged and viable only merged, median break-even fee.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from renogis import schema as S
from renogis._errors import InputError
from renogis.outputs.wording import category_name

logger = logging.getLogger(__name__)

__all__ = [
    "RunOutputs",
    "read_run",
    "compare_runs",
    "write_comparison",
    "METRIC",
    "RUN_A",
    "RUN_B",
    "DIFFERENCE",
]

METRIC, RUN_A, RUN_B, DIFFERENCE = "metric", "run_a", "run_b", "difference"


@dataclass(frozen=True)
class RunOutputs:
    """What :func:`read_run` found in a run folder (missing tables are None)."""

    path: Path
    record: dict[str, Any]
    districts: gpd.GeoDataFrame
    compounds: gpd.GeoDataFrame
    gaps: pd.DataFrame | None
    siting: pd.DataFrame | None
    renovation: pd.DataFrame | None
    viability: pd.DataFrame | None


def _csv(path: Path) -> pd.DataFrame | None:
    return pd.read_csv(path, encoding="utf-8-sig") if path.is_file() else None


def _english_gaps(g: pd.DataFrame) -> pd.DataFrame:
    from renogis.outputs.gap_tables import GAP_COLUMNS_ZH, LEVEL_ZH

    back = {v: k for k, v in GAP_COLUMNS_ZH.items()}
    g = g.rename(columns={c: back.get(c, c) for c in g.columns})
    levels = {v: k for k, v in LEVEL_ZH.items()}
    if S.LEVEL in g:
        g[S.LEVEL] = g[S.LEVEL].map(lambda v: levels.get(v, v))
    return g


def read_run(path: str | Path) -> RunOutputs:
    """Read the outputs of one run folder.

    Raises
    ------
    InputError
        The folder is not a renogis run with districts (no ``run.json`` or ``districts.gpkg``).
    """
    p = Path(path)
    if not (p / "run.json").is_file():
        raise InputError(
            f"{p}: not a renogis run folder (no run.json); give the --out folder of `renogis run`"
        )
    if not (p / "districts.gpkg").is_file():
        raise InputError(
            f"{p}: no districts.gpkg; compare needs runs with the districts step (`renogis run`)"
        )
    record = json.loads((p / "run.json").read_text(encoding="utf-8"))
    districts = gpd.read_file(p / "districts.gpkg", layer="districts", engine="pyogrio")
    compounds = gpd.read_file(p / "districts.gpkg", layer="compounds", engine="pyogrio")
    gaps = _csv(p / "service_gaps.csv")
    return RunOutputs(
        path=p,
        record=record,
        districts=districts,
        compounds=compounds,
        gaps=_english_gaps(gaps) if gaps is not None else None,
        siting=_csv(p / "siting_plan.csv"),
        renovation=_csv(p / "renovation_districts.csv"),
        viability=_csv(p / "viability_districts.csv"),
    )


def _figures(r: RunOutputs) -> dict[str, float]:
    d = r.districts
    params = r.record.get("parameters", {})
    lo, hi = float(params.get("min_households", 0)), float(params.get("max_households", np.inf))
    hh = pd.to_numeric(d[S.HOUSEHOLDS], errors="coerce")
    band = (hh >= lo) & (hh <= hi)
    out: dict[str, float] = {
        "districts": float(len(d)),
        "compounds_in_districts": float(r.compounds[S.DISTRICT_ID].notna().sum()),
        "households_in_districts": float(hh.sum()),
        "in_band_share": float(band.mean()) if len(d) else np.nan,
        "in_band_household_share": float(hh[band].sum() / hh.sum()) if hh.sum() else np.nan,
        "flagged_districts": float(d[S.FLAGS].fillna("").astype(str).str.len().gt(0).sum()),
        "wall_m": float(pd.to_numeric(d[S.WALL_M], errors="coerce").sum()),
        "idle_area_m2": float(
            pd.to_numeric(d.get(S.IDLE_AREA_M2, pd.Series(dtype=float)), errors="coerce").sum()
        ),
    }
    if r.gaps is not None and S.LEVEL in r.gaps:
        c = r.gaps[r.gaps[S.LEVEL] == "compound"]
        sums = c.groupby(S.CATEGORY, sort=True)[[S.HOUSEHOLDS, "covered_households_merged"]].sum()
        for cat, row in sums.iterrows():
            out[f"coverage_merged:{cat}"] = (
                float(row["covered_households_merged"] / row[S.HOUSEHOLDS]) if row[S.HOUSEHOLDS] else np.nan
            )
    out["sites"] = float(len(r.siting)) if r.siting is not None else np.nan
    if r.renovation is not None:
        for col in (
            "basic_low_yuan",
            "basic_high_yuan",
            "complete_low_yuan",
            "complete_high_yuan",
            "upgrade_low_yuan",
            "upgrade_high_yuan",
            S.COST_LOW_YUAN,
            S.COST_HIGH_YUAN,
        ):
            out[col] = float(r.renovation[col].sum())
        out["parking_shortfall"] = float(r.renovation[S.PARKING_SHORTFALL].sum())
    if r.viability is not None:
        v = r.viability
        out["districts_viable_merged"] = float(v[S.VIABLE_MERGED].fillna(False).astype(bool).sum())
        out["districts_viable_only_merged"] = float(v[S.VIABLE_ONLY_MERGED].fillna(False).astype(bool).sum())
        out["median_break_even_fee"] = float(v[S.BREAK_EVEN_FEE].median())
    return out


def compare_runs(a: RunOutputs, b: RunOutputs) -> pd.DataFrame:
    """Table of figures of both runs: ``metric``, ``run_a``, ``run_b``, ``difference``."""
    fa, fb = _figures(a), _figures(b)
    keys = list(dict.fromkeys(list(fa) + list(fb)))
    t = pd.DataFrame(
        {METRIC: keys, RUN_A: [fa.get(k, np.nan) for k in keys], RUN_B: [fb.get(k, np.nan) for k in keys]}
    )
    t[DIFFERENCE] = t[RUN_B] - t[RUN_A]
    return t


_LABELS = {
    "districts": ("片区数", "districts"),
    "compounds_in_districts": ("参与小区数", "compounds in districts"),
    "households_in_districts": ("片区户数", "households in districts"),
    "in_band_share": ("户数在上下限内的片区占比", "share of districts within the household bounds"),
    "in_band_household_share": ("上下限内片区的户数占比", "share of households in districts within bounds"),
    "flagged_districts": ("带标记的片区", "flagged districts"),
    "wall_m": ("需打通围墙 (m)", "walls to open (m)"),
    "idle_area_m2": ("统筹闲置用地 (m²)", "idle land pooled (m²)"),
    "sites": ("选址设施数", "facilities sited"),
    "basic_low_yuan": ("基础类低值 (元)", "basic, low (yuan)"),
    "basic_high_yuan": ("基础类高值 (元)", "basic, high (yuan)"),
    "complete_low_yuan": ("完善类低值 (元)", "complete, low (yuan)"),
    "complete_high_yuan": ("完善类高值 (元)", "complete, high (yuan)"),
    "upgrade_low_yuan": ("提升类低值 (元)", "upgrade, low (yuan)"),
    "upgrade_high_yuan": ("提升类高值 (元)", "upgrade, high (yuan)"),
    S.COST_LOW_YUAN: ("总投资低值 (元)", "total cost, low (yuan)"),
    S.COST_HIGH_YUAN: ("总投资高值 (元)", "total cost, high (yuan)"),
    "parking_shortfall": ("停车缺口 (个)", "parking shortfall (spaces)"),
    "districts_viable_merged": ("合并后物业可保本的片区", "districts viable merged"),
    "districts_viable_only_merged": ("仅合并后可保本的片区", "districts viable only merged"),
    "median_break_even_fee": (
        "合并后保本物业费中位数 (元/m²·月)",
        "median break-even fee merged (yuan/m²/month)",
    ),
}


def _label(metric: str, lang: str) -> str:
    i = 0 if lang == "zh" else 1
    if metric.startswith("coverage_merged:"):
        cat = metric.split(":", 1)[1]
        return (
            f"统筹后覆盖率：{category_name(cat, 'zh')}"
            if lang == "zh"
            else f"coverage after merging: {cat.replace('_', ' ')}"
        )
    return _LABELS.get(metric, (metric, metric))[i]


def _cell(metric: str, v: float) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return "—"
    if "share" in metric or metric.startswith("coverage"):
        return f"{v:+.1%}" if metric == "_diff" else f"{v:.1%}"
    if "fee" in metric:
        return f"{v:.2f}"
    return f"{v:,.0f}"


def write_comparison(
    run_a: str | Path, run_b: str | Path, out: str | Path, *, lang: str = "zh"
) -> tuple[list[Path], pd.DataFrame, list[str]]:
    """Compare two run folders and write the table, a Markdown page and a map into ``out``.

    Returns
    -------
    (list of Path, DataFrame, list of str)
        Files written, the comparison table and warnings (e.g. different inputs).
    """
    from renogis.outputs.documents import city_map, find_cjk_font
    from renogis.outputs.tables import write_table

    a, b = read_run(run_a), read_run(run_b)
    warnings: list[str] = []
    if sorted((a.record.get("inputs") or {}).values()) != sorted((b.record.get("inputs") or {}).values()):
        warnings.append(
            f"the two runs read different input files or versions ({a.path} vs {b.path}); "
            "the comparison assumes the same city"
        )
        logger.warning("%s", warnings[-1])
    table = compare_runs(a, b)
    o = Path(out)
    if o.exists() and not o.is_dir():
        raise InputError(f"--out {o}: exists and is not a folder; choose another path")
    o.mkdir(parents=True, exist_ok=True)
    files = write_table(table, o / "compare", sheet_name="compare")
    head = (
        ("指标", "方案 A", "方案 B", "差值 (B−A)") if lang == "zh" else ("Figure", "Run A", "Run B", "B − A")
    )
    lines = [
        ("# 方案比较" if lang == "zh" else "# Scenario comparison"),
        "",
        f"A: `{a.path}`  ",
        f"B: `{b.path}`",
        "",
    ]
    for pa, name in ((a, "A"), (b, "B")):
        p = pa.record.get("parameters", {})
        lines.append(
            f"- {name}: min_households {p.get('min_households')}, max_households "
            f"{p.get('max_households')}, keep_together {p.get('keep_together')}, keep_apart "
            f"{p.get('keep_apart')}"
        )
    lines += [""] + [f"> {w}" for w in warnings] + ([""] if warnings else [])
    lines += ["| " + " | ".join(head) + " |", "|---|---:|---:|---:|"]
    for r in table.to_dict("records"):
        m = r[METRIC]
        diff = r[DIFFERENCE]
        dtext = (
            "—"
            if diff != diff
            else (
                f"{diff * 100:+.1f} pp"
                if ("share" in m or m.startswith("coverage"))
                else (f"{diff:+.2f}" if "fee" in m else f"{diff:+,.0f}")
            )
        )
        lines.append(f"| {_label(m, lang)} | {_cell(m, r[RUN_A])} | {_cell(m, r[RUN_B])} | {dtext} |")
    md = o / "compare.md"
    lines += ["", "![](compare_map.png)", ""]
    md.write_text("\n".join(lines), encoding="utf-8")
    files.append(md)
    db = b.districts.to_crs(a.districts.crs) if b.districts.crs != a.districts.crs else b.districts
    files.append(
        city_map(
            o / "compare_map.png",
            compounds=a.compounds,
            districts=a.districts,
            outlines_b=db,
            lang=lang,
            font=find_cjk_font(),
            labels=(f"A: {a.path.name}", f"B: {b.path.name}"),
            gap_m=(
                float(a.record.get("parameters", {}).get("gap_m", 30.0)),
                float(b.record.get("parameters", {}).get("gap_m", 30.0)),
            ),
        )
    )
    return files, table, warnings
