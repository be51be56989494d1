"""District proposal sheets (Markdown, Chinese or English) and district output files.

:func:`proposal_sheets` turns a :class:`renogis.districting.DistrictResult`
into one Markdown sheet per district: a summary line with the numbers a planner
quotes (compounds, buildings, households, floor area, walls to open, pooled idle
land), the member table and the reason the district was proposed. Later stages
(service gaps, siting) add lines per district through ``extra_lines``.
:func:`write_district_outputs` writes the districts as GeoPackage, CSV (UTF-8
with BOM), XLSX and the Markdown sheets.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from renogis import config
from renogis._errors import InputError
from renogis._inert import md_escape
from renogis.districting import (
    COMPOUND_IDS,
    FLAGS,
    IDLE_AREA_M2,
    N_COMPOUNDS,
    PARCEL_IDS,
    REASON,
    WALL_COMPOUND_A,
    WALL_COMPOUND_B,
    WALL_M,
    DistrictResult,
)
from renogis.outputs.tables import write_table
from renogis.outputs.wording import district_reason, district_reasons, value_label
from renogis.schema import (
    BUILDINGS,
    BUILT_YEAR,
    COMPOUND_ID,
    DISTRICT_ID,
    FLOOR_AREA_M2,
    HOUSEHOLDS,
    NAME,
    SUBDISTRICT,
)

logger = logging.getLogger(__name__)

__all__ = ["proposal_sheets", "write_district_outputs", "with_reasons", "DISTRICTS_GPKG", "PROPOSALS_DIR"]

#: File and folder names written by :func:`write_district_outputs`.
DISTRICTS_GPKG = "districts.gpkg"
DISTRICTS_TABLE = "districts"
PROPOSALS_DIR = "proposals"
INDEX_MD = "index.md"
#: GeoPackage layer names.
LAYER_DISTRICTS = "districts"
LAYER_COMPOUNDS = "compounds"

_LANGS = config.LANGS


def _missing(v: object) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA


def _int(v: float) -> str:
    return f"{int(round(v)):,}"


def _length(m: float) -> str:
    return f"{m / 1000:.1f} km" if m >= 1000 else f"{m:,.0f} m"


def _floor_area(m2: float, lang: str) -> str:
    if lang == "zh" and m2 >= 10_000:
        return f"{m2 / 10_000:.2f}万 m²"
    return f"{m2:,.0f} m²"


def _summary(row: Mapping[str, object], lang: str) -> str:
    n = int(row[N_COMPOUNDS])  # type: ignore[call-overload]
    h = int(row[HOUSEHOLDS])  # type: ignore[call-overload]
    b, fa = row.get(BUILDINGS), row.get(FLOOR_AREA_M2)
    wall = float(row[WALL_M])  # type: ignore[arg-type]
    pids = [p for p in str(row.get(PARCEL_IDS) or "").split(",") if p]
    idle = float(row.get(IDLE_AREA_M2) or 0.0)  # type: ignore[arg-type]
    if lang == "zh":
        parts = [f"{n} 个小区"]
        if not _missing(b):
            parts.append(f"{_int(b)} 栋楼")  # type: ignore[arg-type]
        parts.append(f"{h:,} 户")
        if not _missing(fa):
            parts.append(f"建筑面积 {_floor_area(fa, lang)}")  # type: ignore[arg-type]
        line = "、".join(parts)
        line += f"；需打通围墙 {_length(wall)}" if wall > 0 else "；无需打通围墙"
        if pids:
            line += f"；统筹闲置地块 {len(pids)} 处（{_int(idle)} m²）"
        return line
    parts = [f"{n} compound{'s' if n != 1 else ''}"]
    if not _missing(b):
        parts.append(f"{_int(b)} buildings")  # type: ignore[arg-type]
    parts.append(f"{h:,} households")
    if not _missing(fa):
        parts.append(f"{_floor_area(fa, lang)} of floor area")  # type: ignore[arg-type]
    line = ", ".join(parts)
    line += f"; {_length(wall)} of walls to open" if wall > 0 else "; no walls to open"
    if pids:
        line += f"; pools {len(pids)} idle parcel{'s' if len(pids) != 1 else ''} ({_int(idle)} m²)"
    return line


def _cell(v: object, *, number: bool = False) -> str:
    if _missing(v):
        return "—"
    if number:
        return _int(float(v))  # type: ignore[arg-type]
    return md_escape(v)


def _member_table(members: pd.DataFrame, lang: str) -> list[str]:
    head = (
        ["小区编号", "名称", "户数", "楼栋", "建筑面积 (m²)", "建成年份"]
        if lang == "zh"
        else ["Compound", "Name", "Households", "Buildings", "Floor area (m²)", "Built"]
    )
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    cols = [COMPOUND_ID, NAME, HOUSEHOLDS, BUILDINGS, FLOOR_AREA_M2, BUILT_YEAR]
    numeric = [False, False, True, True, True, False]
    for rec in members.reindex(columns=cols).itertuples(index=False):
        cells = []
        for v, num, col in zip(rec, numeric, cols, strict=False):
            if col == BUILT_YEAR and not _missing(v):
                cells.append(f"{float(v):.0f}")  # type: ignore[arg-type]
            else:
                cells.append(_cell(v, number=num))
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _wall_table(result: DistrictResult, did: str, lang: str) -> list[str]:
    """Return the walls-to-open table of one district: which two compounds, metres, longest first."""
    w = result.walls
    if w is None or not len(w):
        return []
    w = w[w[DISTRICT_ID].astype(str) == did]
    if not len(w):
        return []
    head = (["## 需打通的围墙", "", "| 小区 | 小区 | 围墙长度 (m) |"] if lang == "zh"
            else ["## Walls to open", "", "| Compound | Compound | Wall (m) |"])
    rows = [f"| {_cell(a)} | {_cell(b)} | {_int(float(m))} |"
            for a, b, m in zip(w[WALL_COMPOUND_A], w[WALL_COMPOUND_B], w[WALL_M], strict=True)]
    return [*head, "|---|---|---|", *rows, ""]


def with_reasons(result: DistrictResult) -> DistrictResult:
    """``result`` with the English ``reason`` column of the district table (before the geometry).

    The canonical tables (CSV, GeoPackage) carry the reason in English; the XLSX and the sheets
    word it in the run's language (:func:`renogis.outputs.wording.district_reason`).
    """
    d = result.districts
    if REASON in d.columns:
        return result
    d = d.copy()
    d.insert(d.columns.get_loc(d.geometry.name) if d.geometry.name in d.columns else len(d.columns),
             REASON, district_reasons(d, result.parameters, "en"))
    return dataclasses.replace(result, districts=d)


def proposal_sheets(
    result: DistrictResult,
    *,
    lang: str = "zh",
    extra_lines: Mapping[str, list[str]] | None = None,
) -> dict[str, str]:
    """Markdown proposal sheet per district.

    Parameters
    ----------
    result : DistrictResult
        Output of :func:`renogis.districting.propose_districts`.
    lang : {"zh", "en"}
        Language of the sheets.
    extra_lines : mapping of str to list of str, optional
        District id -> extra Markdown lines (e.g. service gaps, siting), added
        as a bullet list at the end of the sheet.

    Returns
    -------
    dict of str to str
        District id -> Markdown text, in district order.

    Raises
    ------
    InputError
        Unknown ``lang`` or ``extra_lines`` keys that are not district ids.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from renogis.adjacency import build_adjacency
    >>> from renogis.datasets import sample_path
    >>> from renogis.districting import propose_districts
    >>> c, p, s, b = (gpd.read_file(sample_path(), layer=k)
    ...               for k in ("compounds", "parcels", "streets", "barriers"))
    >>> result = propose_districts(c, build_adjacency(c, parcels=p, streets=s, barriers=b), parcels=p)
    >>> sheets = proposal_sheets(result, lang="en")
    >>> print(sheets["D001"].splitlines()[2])
    7 compounds, 25 buildings, 500 households, 53,470 m² of floor area; 385 m of walls to open
    """
    if lang not in _LANGS:
        raise InputError(f"lang must be one of {', '.join(_LANGS)}, got {lang!r}")
    d = result.districts
    extra = dict(extra_lines or {})
    unknown = sorted(set(extra) - set(d[DISTRICT_ID].astype(str)))
    if unknown:
        raise InputError(f"extra_lines: unknown district ids: {', '.join(unknown)}")
    lo = int(result.parameters.get("min_households", 0))
    hi = int(result.parameters.get("max_households", 0))
    reason_kw = {"min_households": lo, "max_households": hi,
                 "soft_classes": tuple(result.parameters.get("soft_barrier_classes", ()) or ()),
                 "max_span_m": result.parameters.get("max_span_m")}
    comp = result.compounds
    by_district = {
        k: g for k, g in comp[comp[DISTRICT_ID].notna()].groupby(DISTRICT_ID, sort=False)
    }
    sheets: dict[str, str] = {}
    for row in d.drop(columns="geometry").to_dict("records"):
        did = str(row[DISTRICT_ID])
        sd = row.get(SUBDISTRICT)
        if lang == "zh":
            title = f"# 片区 {md_escape(did)}" + (f"（{md_escape(sd)}）" if not _missing(sd) else "")
            reason_head, members_head, extra_head = "## 划定理由", "## 成员小区", "## 补充"
            reason = district_reason(row, lang="zh", **reason_kw)
            flag_text = "标记：" + (str(value_label(FLAGS, row[FLAGS], lang)) if row.get(FLAGS) else "无")
        else:
            title = f"# District {md_escape(did)}" + (f" ({md_escape(sd)})" if not _missing(sd) else "")
            reason_head, members_head, extra_head = (
                "## Reason",
                "## Member compounds",
                "## Further notes",
            )
            reason = district_reason(row, lang="en", **reason_kw)
            flag_text = "Flags: " + (str(value_label(FLAGS, row[FLAGS], lang)) if row.get(FLAGS) else "none")
        order = str(row[COMPOUND_IDS]).split(",")
        members = by_district.get(did)
        if members is None:
            members = pd.DataFrame({COMPOUND_ID: order})
        else:
            members = members.set_index(members[COMPOUND_ID].astype(str)).reindex(order)
        lines = [title, "", _summary(row, lang), "", md_escape(flag_text), "", reason_head, "",
                 md_escape(reason), ""]
        lines += [members_head, "", *_member_table(members, lang), ""]
        lines += _wall_table(result, did, lang)
        if did in extra and extra[did]:
            lines += [extra_head, "", *[f"- {md_escape(x)}" for x in extra[did]], ""]
        sheets[did] = "\n".join(lines)
    return sheets


def _index(result: DistrictResult, lang: str) -> str:
    d = result.districts
    if lang == "zh":
        head = ["片区", "小区数", "户数", "需打通围墙", "闲置地块 (m²)", "标记"]
        title = "# 片区划定建议"
        n_ex = int(result.compounds[DISTRICT_ID].isna().sum())
        intro = f"{len(d)} 个片区，{len(result.compounds) - n_ex} 个小区参与，{n_ex} 个小区被排除。"
    else:
        head = ["District", "Compounds", "Households", "Walls to open", "Idle land (m²)", "Flags"]
        title = "# District proposals"
        n_ex = int(result.compounds[DISTRICT_ID].isna().sum())
        intro = (
            f"{len(d)} districts from {len(result.compounds) - n_ex} compounds; "
            f"{n_ex} compounds excluded."
        )
    lines = [title, "", intro, "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for did, n, h, w, idle, fl in zip(
        d[DISTRICT_ID],
        d[N_COMPOUNDS],
        d[HOUSEHOLDS],
        d[WALL_M],
        d[IDLE_AREA_M2],
        d[FLAGS],
        strict=True,
    ):
        lines.append(
            f"| [{did}]({did}.md) | {int(n)} | {int(h):,} | {_length(float(w))} | "
            f"{_int(float(idle))} | {value_label(FLAGS, fl, lang) if fl else ''} |"
        )
    return "\n".join(lines) + "\n"


def write_district_outputs(
    result: DistrictResult,
    out_dir: str | Path,
    *,
    lang: str = "zh",
    extra_lines: Mapping[str, list[str]] | None = None,
) -> list[Path]:
    """Write districts.gpkg, districts.csv/.xlsx and proposals/<district_id>.md.

    Parameters
    ----------
    result : DistrictResult
        Output of :func:`renogis.districting.propose_districts`.
    out_dir : str or Path
        Output folder (created if missing).
    lang : {"zh", "en"}
        Language of the Markdown sheets and the XLSX (the CSV and GeoPackage keep
        canonical columns and codes).
    extra_lines : mapping of str to list of str, optional
        Passed to :func:`proposal_sheets`.

    Returns
    -------
    list of Path
        Files written: the GeoPackage (layers ``districts`` and ``compounds``),
        the CSV (UTF-8 with BOM) and XLSX tables, one sheet per district and
        ``proposals/index.md``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    result = with_reasons(result)
    sheets = proposal_sheets(result, lang=lang, extra_lines=extra_lines)
    gpkg = out / DISTRICTS_GPKG
    if gpkg.exists():
        gpkg.unlink()
    _gpkg_safe(result.districts).to_file(
        gpkg, layer=LAYER_DISTRICTS, driver="GPKG", engine="pyogrio"
    )
    _gpkg_safe(result.compounds).to_file(
        gpkg, layer=LAYER_COMPOUNDS, driver="GPKG", engine="pyogrio"
    )
    written = [gpkg]
    replace = None
    if lang == "zh" and len(result.districts):
        replace = {REASON: district_reasons(result.districts, result.parameters, "zh")}
    written += write_table(result.districts, out / DISTRICTS_TABLE, sheet_name=DISTRICTS_TABLE, lang=lang,
                           replace=replace)
    pdir = out / PROPOSALS_DIR
    pdir.mkdir(exist_ok=True)
    for did, text in sheets.items():
        p = pdir / f"{did}.md"
        p.write_text(text, encoding="utf-8")
        written.append(p)
    idx = pdir / INDEX_MD
    idx.write_text(_index(result, lang), encoding="utf-8")
    written.append(idx)
    logger.info("wrote %d district files to %s", len(written), out)
    return written


def _gpkg_safe(gdf: pd.DataFrame) -> pd.DataFrame:
    """Copy with object columns of mixed bool/NaN made writable (nullable boolean)."""
    out = gdf.copy()
    for col in out.columns:
        if col == "geometry" or out[col].dtype != object:
            continue
        vals = out[col].dropna()
        if len(vals) and vals.map(lambda v: isinstance(v, (bool, np.bool_))).all():
            out[col] = out[col].astype("boolean")
    return out
