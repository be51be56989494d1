"""The service access and gap tables for people and files: the coverage summary, Chinese headers,
``service_access.csv``, ``service_gaps.csv`` and ``service_gaps.xlsx``.

:mod:`renogis.access` computes the tables and returns them; this module sums them up, words and writes them.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd

from renogis._errors import InputError
from renogis.access import (
    COMPOUNDS_COUNT,
    COVERAGE_SHARE,
    COVERAGE_SHARE_MERGED,
    COVERED_HOUSEHOLDS,
    COVERED_HOUSEHOLDS_MERGED,
    DATA_STATUS,
    DEMAND,
    DEMAND_UNIT,
    DISTANCE_MERGED_M,
    LEVEL,
    LEVEL_COMPOUND,
    LEVEL_DISTRICT,
    METHOD_NO_DATA,
    NOTE,
    RADIUS_M,
    SHORTFALL,
    STATUS_ABSENT,
    STATUS_OK,
    SUMMARY_COLUMNS,
    SUPPLY,
    UNCOVERED_COMPOUNDS,
    UNCOVERED_HOUSEHOLDS,
    UNCOVERED_HOUSEHOLDS_MERGED,
)
from renogis.outputs.tables import write_table
from renogis.outputs.wording import category_name, check_lang
from renogis.schema import (
    ACCESS_M,
    CATEGORY,
    CATEGORY_NAME,
    COMPOUND_ID,
    DISTANCE_M,
    DISTRICT_ID,
    HOUSEHOLDS,
    METHOD,
    NEAREST_FACILITY_ID,
    UNIT_ID,
    WITHIN_RADIUS,
)

__all__ = ["write_gap_outputs", "summarise_coverage", "translate_columns", "GAP_COLUMNS_ZH", "LEVEL_ZH"]

#: Chinese headers of every column the access, gap and summary tables use.
GAP_COLUMNS_ZH: Final[Mapping[str, str]] = {
    COMPOUND_ID: "小区编号",
    CATEGORY: "设施类别",
    CATEGORY_NAME: "设施名称",
    DISTANCE_M: "步行距离(米)",
    RADIUS_M: "服务半径(米)",
    WITHIN_RADIUS: "半径内",
    METHOD: "距离算法",
    ACCESS_M: "接入距离(米)",
    NEAREST_FACILITY_ID: "最近设施编号",
    LEVEL: "统计层级",
    UNIT_ID: "单元编号",
    DISTRICT_ID: "片区编号",
    HOUSEHOLDS: "户数",
    COVERED_HOUSEHOLDS: "覆盖户数",
    UNCOVERED_HOUSEHOLDS: "未覆盖户数",
    COVERAGE_SHARE: "覆盖率",
    COVERED_HOUSEHOLDS_MERGED: "片区统筹后覆盖户数",
    UNCOVERED_HOUSEHOLDS_MERGED: "片区统筹后未覆盖户数",
    COVERAGE_SHARE_MERGED: "片区统筹后覆盖率",
    DEMAND: "需求",
    SUPPLY: "供给",
    SHORTFALL: "缺口",
    DEMAND_UNIT: "计量单位",
    COMPOUNDS_COUNT: "小区数",
    UNCOVERED_COMPOUNDS: "未覆盖小区数",
    DISTANCE_MERGED_M: "片区统筹后步行距离(米)",
    DATA_STATUS: "数据状态",
    NOTE: "说明",
}
LEVEL_ZH: Final = {LEVEL_COMPOUND: "小区", LEVEL_DISTRICT: "片区"}


def write_gap_outputs(
    access: pd.DataFrame, gaps: pd.DataFrame, out_dir: str | Path, *, lang: str = "zh"
) -> list[Path]:
    """Write ``service_access.csv``, ``service_gaps.csv`` and ``service_gaps.xlsx``.

    Parameters
    ----------
    access, gaps : pandas.DataFrame
        Tables of :func:`renogis.access.compute_access` and :func:`renogis.access.compute_gaps`.
    out_dir : str or Path
        Output folder (created if missing).
    lang : {"zh", "en"}
        Language of the XLSX (headers, category names, levels, units); the CSV files
        keep the canonical columns and codes whatever ``lang``. Missing distances are
        written as empty cells.

    Returns
    -------
    list of Path
        The files written.
    """
    check_lang(lang)  # before writing anything
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = write_table(access, out / "service_access", formats=("csv",))
    written += write_table(gaps, out / "service_gaps", formats=("csv", "xlsx"), sheet_name="service_gaps",
                           lang=lang)
    return written


def summarise_coverage(gaps: pd.DataFrame, *, lang: str = "zh") -> pd.DataFrame:
    """One row per category: share of households covered before and after merging.

    Parameters
    ----------
    gaps : pandas.DataFrame
        The table of :func:`renogis.access.compute_gaps` (its compound rows are used).
    lang : {"zh", "en"}
        Language of ``category_name`` and ``note``.

    Returns
    -------
    pandas.DataFrame
        :data:`SUMMARY_COLUMNS`: compounds, uncovered_compounds, households,
        covered_households and coverage_share (as separate compounds),
        covered_households_merged and coverage_share_merged (after merging into
        districts, walked through the opened walls), and demand, supply and shortfall
        summed over compounds (supply NaN when any compound's supply is unknown;
        shortfall is the sum of compound shortfalls, so one compound's surplus does
        not offset another's deficit). ``data_status`` and ``note``: a category
        without data (``no_data``) has no coverage share, supply or shortfall; one
        the facilities layer does not hold (``absent``) is 0% covered, with a note.
    """
    comp = gaps[gaps[LEVEL] == LEVEL_COMPOUND]
    key = comp[CATEGORY]
    grouped = comp.groupby(CATEGORY, sort=False)
    supply_unknown = comp[SUPPLY].isna().groupby(key, sort=False).any()
    status = (
        grouped[DATA_STATUS].first() if DATA_STATUS in comp
        else pd.Series(STATUS_OK, index=supply_unknown.index)
    )
    out = pd.DataFrame(
        {
            RADIUS_M: grouped[RADIUS_M].first(),
            COMPOUNDS_COUNT: grouped.size(),
            UNCOVERED_COMPOUNDS: (comp[UNCOVERED_HOUSEHOLDS].fillna(0) > 0)
            .groupby(key, sort=False).sum(),
            HOUSEHOLDS: grouped[HOUSEHOLDS].sum(),
            COVERED_HOUSEHOLDS: grouped[COVERED_HOUSEHOLDS].sum(),
            COVERED_HOUSEHOLDS_MERGED: grouped[COVERED_HOUSEHOLDS_MERGED].sum(),
            DEMAND: grouped[DEMAND].sum(),
            SUPPLY: grouped[SUPPLY].sum().where(~supply_unknown),
            SHORTFALL: grouped[SHORTFALL].sum().where(~supply_unknown),
            DEMAND_UNIT: grouped[DEMAND_UNIT].first(),
            DATA_STATUS: status,
        }
    )
    out.index.name = CATEGORY
    out = out.reset_index()
    nd = (out[DATA_STATUS] == METHOD_NO_DATA).to_numpy()
    out[COVERED_HOUSEHOLDS] = pd.Series(out[COVERED_HOUSEHOLDS], dtype="Int64").mask(nd)
    out[COVERED_HOUSEHOLDS_MERGED] = pd.Series(out[COVERED_HOUSEHOLDS_MERGED], dtype="Int64").mask(nd)
    out[UNCOVERED_COMPOUNDS] = pd.Series(out[UNCOVERED_COMPOUNDS], dtype="Int64").mask(nd)
    hh = out[HOUSEHOLDS].to_numpy(dtype=float)
    cov = pd.to_numeric(out[COVERED_HOUSEHOLDS]).to_numpy(dtype=float, na_value=np.nan)
    cov_m = pd.to_numeric(out[COVERED_HOUSEHOLDS_MERGED]).to_numpy(dtype=float, na_value=np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        out[COVERAGE_SHARE] = np.where(hh > 0, cov / hh, np.nan)
        out[COVERAGE_SHARE_MERGED] = np.where(hh > 0, cov_m / hh, np.nan)
    out.loc[nd, [SUPPLY, SHORTFALL]] = np.nan
    out[CATEGORY_NAME] = _category_names(out[CATEGORY], lang)
    out[NOTE] = [_note(st, lang) for st in out[DATA_STATUS]]
    return out[list(SUMMARY_COLUMNS)]


def _note(status: str, lang: str) -> str | None:
    if status == METHOD_NO_DATA:
        return ("无数据：缺少设施图层或该类别标记为无数据，不计覆盖率与缺口" if lang == "zh" else
                "no data: no facilities layer, or the category is marked as not recorded; "
                "no coverage or shortfall is given")
    if status == STATUS_ABSENT:
        return ("设施图层中没有该类别的设施：按 0% 覆盖计（若数据未记录该类别，请用 --no-data 标记）"
                if lang == "zh" else
                "the facilities layer holds no facility of this category: 0% covered (if your data "
                "simply do not record it, mark it with --no-data)")
    return None


def _category_names(keys: pd.Series, lang: str) -> pd.Series:
    return keys.map(lambda k: category_name(k, lang))


def translate_columns(df: pd.DataFrame, lang: str) -> pd.DataFrame:
    """Return a copy of ``df`` with Chinese headers (``lang="zh"``) or unchanged ones (``"en"``).

    Columns not in :data:`GAP_COLUMNS_ZH` keep their names.
    """
    if lang == "en":
        return df.copy()
    if lang == "zh":
        return df.rename(columns=dict(GAP_COLUMNS_ZH))
    raise InputError(f"unknown language {lang!r} for table headers; use 'zh' or 'en'")
