"""District proposal documents: Word (python-docx) and PDF (reportlab, embedded CJK font), offline maps.

For each district :func:`write_documents` writes ``proposals/<district_id>.docx`` and ``.pdf``
with a static map (matplotlib, no network: members coloured by service gaps, walls to open,
entrances, proposed sites), the members, the renovation content by class with its evidence,
cost ranges, the funding split and property-management viability; plus ``proposals/summary.docx``
and ``.pdf`` for the whole city. Both formats are rendered from one block list
(:func:`district_blocks`), so they carry the same figures.

The PDF embeds a CJK TrueType font: ``$RENOGIS_CJK_FONT`` or the first of :data:`CJK_FONTS` that
exists (Debian: ``fonts-wqy-microhei``). Without one, PDFs are not written and a warning says so
(the DOCX files are written; Word brings its own fonts).
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from renogis import schema as S
from renogis.config import GAP_M
from renogis.costs import CLASS_NAMES, CLASSES, UNITS
from renogis.outputs.wording import category_name
from renogis.renovation import RenovationPlan
from renogis.viability import (
    BREAK_EVEN_MAX,
    BREAK_EVEN_MIN,
    GROUP,
    MEMBERS_VIABLE_ALONE,
    Viability,
)

logger = logging.getLogger(__name__)

__all__ = [
    "CJK_FONTS",
    "find_cjk_font",
    "district_map",
    "city_map",
    "district_blocks",
    "summary_blocks",
    "write_docx",
    "write_pdf",
    "write_documents",
    "Block",
]

#: CJK TrueType fonts tried in order for the PDF (and the map labels).
CJK_FONTS: tuple[str, ...] = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "C:/Windows/Fonts/msyh.ttc",
    "C:/Windows/Fonts/simhei.ttf",
    "/System/Library/Fonts/STHeiti Light.ttc",
)


def find_cjk_font() -> Path | None:
    """Return the CJK font to embed: ``$RENOGIS_CJK_FONT``, else the first of :data:`CJK_FONTS` found."""
    env = os.environ.get("RENOGIS_CJK_FONT")
    if env:
        return Path(env) if Path(env).is_file() else None
    for p in CJK_FONTS:
        if Path(p).is_file():
            return Path(p)
    return None


# --------------------------------------------------------------------------- blocks
@dataclass(frozen=True)
class Block:
    """One piece of a document: kind in {"title", "h1", "h2", "p", "note", "table", "image"}."""

    kind: str
    text: str = ""
    header: tuple[str, ...] = ()
    rows: tuple[tuple[str, ...], ...] = ()
    path: Path | None = None
    widths: tuple[float, ...] = ()


def _T(lang: str, zh: str, en: str) -> str:
    return zh if lang == "zh" else en


def _money(v: float, lang: str) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    return f"{v / 1e4:,.0f}" if lang == "zh" else f"{v / 1e6:,.2f}"


def _range(lo: float, hi: float, lang: str) -> str:
    if lo is None or (isinstance(lo, float) and math.isnan(lo)):
        return _T(lang, "未估算", "not costed")
    return f"{_money(lo, lang)}–{_money(hi, lang)}"


def _money_unit(lang: str) -> str:
    return _T(lang, "万元", "million yuan")


def _num(v: Any, digits: int = 0) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
        return "—"
    return f"{float(v):,.{digits}f}"


def _yes(v: Any, lang: str) -> str:
    if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
        return "—"
    return _T(lang, "是", "yes") if bool(v) else _T(lang, "否", "no")


def _verified_note(plan: RenovationPlan, lang: str) -> Block | None:
    costs = plan.costs
    n_un = sum(not i.verified for i in costs.items.values())
    if costs.all_verified:
        return None
    return Block(
        "note",
        _T(
            lang,
            f"注意：成本文件 {costs.name} 中 {n_un}/{len(costs.items)} 项单价、"
            "资金分担比例和物业成本参数均未经核实"
            "（verified = false），仅为规划量级；引用前请按本地定额与财政文件核实并替换成本文件。",
            f"Note: {n_un} of {len(costs.items)} unit costs in cost file {costs.name}, the funding shares "
            "and the property-management parameters are unverified (verified = false): planning magnitudes "
            "only. Check "
            "them against local price lists and budget documents, and replace the cost file, before citing.",
        ),
    )


def _viability_sentence(g: Mapping[str, Any], model: Any, lang: str, *, name: str) -> str:
    fee = model.fee_yuan_m2_month
    n = int(g[S.N_COMPOUNDS])
    alone = int(g[MEMBERS_VIABLE_ALONE])
    be = g[S.BREAK_EVEN_FEE]
    if be is None or (isinstance(be, float) and math.isnan(be)):
        return _T(lang, f"{name}：缺少建筑面积，无法测算。", f"{name}: floor area missing, not assessed.")
    ok = be <= fee + 1e-12
    if lang == "zh":
        s = (
            f"{name}：按物业费 {fee:.2f} 元/m²·月、收缴率 {model.collection_rate:.0%} 测算，"
            f"{n} 个小区单独管理时保本物业费 {g[BREAK_EVEN_MIN]:.2f}–{g[BREAK_EVEN_MAX]:.2f} 元/m²·月，"
            f"其中 {alone} 个可保本；合并为一个物业项目后保本物业费 {be:.2f} 元/m²·月，"
        )
        s += "可以保本。" if ok else "仍不能保本。"
        if ok and alone < n:
            s += "只有合并后才能引入专业物业。" if alone == 0 else "合并使更多小区获得专业物业服务。"
        return s
    s = (
        f"{name}: at a fee of {fee:.2f} yuan/m² a month and {model.collection_rate:.0%} collection, the "
        f"{n} compounds managed alone break even at {g[BREAK_EVEN_MIN]:.2f}-{g[BREAK_EVEN_MAX]:.2f} "
        f"yuan/m² ({alone} of them at or below the fee); merged into one managed site the break-even fee "
        f"is {be:.2f} yuan/m², "
    )
    s += "which the fee covers." if ok else "which the fee does not cover."
    if ok and alone < n:
        s += (
            " Professional management is viable only when merged."
            if alone == 0
            else " Merging brings professional management to more compounds."
        )
    return s


def district_blocks(
    did: str,
    *,
    district: Mapping[str, Any],
    members: pd.DataFrame,
    plan: RenovationPlan,
    viability: Viability,
    group_viability: Viability | None = None,
    group_column: str | None = None,
    evidence_lines: Sequence[str] = (),
    map_path: Path | None = None,
    lang: str = "zh",
) -> list[Block]:
    """Build the blocks of one district's proposal document (same for DOCX and PDF)."""
    items = plan.items[plan.items[S.DISTRICT_ID] == did]
    summ = plan.districts.set_index(S.DISTRICT_ID).loc[did]
    vg = viability.groups.set_index(GROUP).loc[did] if did in set(viability.groups[GROUP]) else None
    return [
        *_district_overview(
            did, district, summ, vg, plan=plan, viability=viability, map_path=map_path, lang=lang
        ),
        *_members_section(members, plan=plan, viability=viability, lang=lang),
        *_content_section(items, lang=lang),
        *_costs_section(summ, lang=lang),
        *_funding_section(plan.funding[plan.funding[S.DISTRICT_ID] == did], lang=lang),
        *_viability_section(
            vg, members, viability=viability, group_viability=group_viability, group_column=group_column,
            lang=lang,
        ),
        *_evidence_section(items, plan=plan, evidence_lines=evidence_lines, lang=lang),
    ]


def _district_overview(
    did: str,
    district: Mapping[str, Any],
    summ: pd.Series,
    vg: pd.Series | None,
    *,
    plan: RenovationPlan,
    viability: Viability,
    map_path: Path | None,
    lang: str,
) -> list[Block]:
    """Title, the district in one sentence, its viability sentence, the unverified-costs note and the map."""
    sd = district.get(S.SUBDISTRICT)
    sd = None if sd is None or (isinstance(sd, float) and math.isnan(sd)) else sd
    title = _T(
        lang,
        f"片区 {did} 改造方案" + (f"（{sd}）" if sd else ""),
        f"District {did}: renovation proposal" + (f" ({sd})" if sd else ""),
    )
    mu = _money_unit(lang)
    blocks = [Block("title", title)]
    blocks.append(
        Block(
            "p",
            _T(
                lang,
                f"{int(summ[S.N_COMPOUNDS])} 个小区、{_num(summ[S.HOUSEHOLDS])} 户、"
                f"建筑面积 {_num(summ[S.FLOOR_AREA_M2])} m²；需打通围墙 {_num(summ[S.WALL_M])} m；"
                f"估算总投资 {_range(summ[S.COST_LOW_YUAN], summ[S.COST_HIGH_YUAN], lang)} "
                f"{mu}（基础类 {_range(summ['basic_low_yuan'], summ['basic_high_yuan'], lang)}、完善类 "
                f"{_range(summ['complete_low_yuan'], summ['complete_high_yuan'], lang)}、提升类 "
                f"{_range(summ['upgrade_low_yuan'], summ['upgrade_high_yuan'], lang)}）。",
                f"{int(summ[S.N_COMPOUNDS])} compounds, {_num(summ[S.HOUSEHOLDS])} households, "
                f"{_num(summ[S.FLOOR_AREA_M2])} m² of floor area; {_num(summ[S.WALL_M])} m of walls to open; "
                "estimated "
                f"cost {_range(summ[S.COST_LOW_YUAN], summ[S.COST_HIGH_YUAN], lang)} {mu} (basic "
                f"{_range(summ['basic_low_yuan'], summ['basic_high_yuan'], lang)}, complete "
                f"{_range(summ['complete_low_yuan'], summ['complete_high_yuan'], lang)}, upgrade "
                f"{_range(summ['upgrade_low_yuan'], summ['upgrade_high_yuan'], lang)}).",
            ),
        )
    )
    if vg is not None:
        blocks.append(
            Block("p", _viability_sentence(vg, viability.model, lang, name=_T(lang, "物业", "Property")))
        )
    note = _verified_note(plan, lang)
    if note:
        blocks.append(note)
    if map_path is not None:
        blocks.append(Block("image", path=map_path))
    return blocks


def _members_section(
    members: pd.DataFrame, *, plan: RenovationPlan, viability: Viability, lang: str
) -> list[Block]:
    """1. Member compounds: one row per member, in the district's order."""
    blocks: list[Block] = []
    blocks.append(Block("h1", _T(lang, "一、成员小区", "1. Member compounds")))
    vc = viability.compounds.set_index(S.COMPOUND_ID)
    rc = plan.compounds.set_index(S.COMPOUND_ID)
    rows: Any = []
    for m in members.to_dict("records"):
        cid = str(m[S.COMPOUND_ID])
        be = vc[S.BREAK_EVEN_FEE].get(cid, np.nan)
        by = m.get(S.BUILT_YEAR)
        rows.append(
            (
                cid,
                str(m.get(S.NAME) or ""),
                _num(m.get(S.HOUSEHOLDS)),
                _num(m.get(S.FLOOR_AREA_M2)),
                f"{float(by):.0f}" if by is not None and not pd.isna(by) else "—",
                _num(m.get(S.PARKING_SPACES)),
                _num(rc[S.LIFT_CANDIDATES].get(cid, np.nan)),
                _num(be, 2),
            )
        )
    blocks.append(
        Block(
            "table",
            header=tuple(
                _T(lang, h[0], h[1])
                for h in (
                    ("编号", "Id"),
                    ("名称", "Name"),
                    ("户数", "Households"),
                    ("建筑面积 m²", "Floor area m²"),
                    ("建成年份", "Built"),
                    ("车位", "Parking"),
                    ("加梯候选栋数", "Lift candidates"),
                    ("单独保本物业费 元/m²·月", "Break-even fee alone, yuan/m²/month"),
                )
            ),
            rows=tuple(rows),
            widths=(1.4, 2.2, 1.4, 1.8, 1.3, 1.3, 1.6, 2.2),
        )
    )
    return blocks


def _content_section(items: pd.DataFrame, *, lang: str) -> list[Block]:
    """2. Renovation content: one table of items per class (basic, complete, upgrade)."""
    mu = _money_unit(lang)
    blocks: list[Block] = []
    blocks.append(
        Block("h1", _T(lang, "二、改造内容（先民生、后提升）", "2. Renovation content (basic needs first)"))
    )
    for i, c in enumerate(CLASSES, 1):
        sub = items[items[S.RENO_CLASS] == c]
        cname = CLASS_NAMES[c][lang]
        blocks.append(Block("h2", _T(lang, f"第{i}期 {cname}", f"Phase {i}: {cname}")))
        if not len(sub):
            blocks.append(
                Block("p", _T(lang, "数据未显示此类需求。", "The data show no need in this class."))
            )
            continue
        rows = tuple(
            (
                str(r["item_name"]),
                _num(
                    r[S.QUANTITY],
                    0 if r[S.QUANTITY] != r[S.QUANTITY] or float(r[S.QUANTITY]).is_integer() else 1,
                ),
                UNITS[r[S.UNIT]][lang],
                _range(r[S.COST_LOW_YUAN], r[S.COST_HIGH_YUAN], lang),
                str(r[S.EVIDENCE]),
            )
            for r in sub.to_dict("records")
        )
        blocks.append(
            Block(
                "table",
                header=(
                    _T(lang, "项目", "Item"),
                    _T(lang, "数量", "Quantity"),
                    _T(lang, "单位", "Unit"),
                    _T(lang, f"估算（{mu}）", f"Cost ({mu})"),
                    _T(lang, "依据", "Evidence"),
                ),
                rows=rows,
                widths=(3.2, 1.5, 1.7, 2.0, 8.8),
            )
        )
    return blocks


def _costs_section(summ: pd.Series, *, lang: str) -> list[Block]:
    """3. Cost estimate: the range of each class and the total."""
    mu = _money_unit(lang)
    blocks: list[Block] = []
    blocks.append(Block("h1", _T(lang, "三、投资估算", "3. Cost estimate")))
    rows = tuple(
        (CLASS_NAMES[c][lang], _range(summ[f"{c}_low_yuan"], summ[f"{c}_high_yuan"], lang)) for c in CLASSES
    ) + ((_T(lang, "合计", "Total"), _range(summ[S.COST_LOW_YUAN], summ[S.COST_HIGH_YUAN], lang)),)
    blocks.append(
        Block(
            "table",
            header=(_T(lang, "类别", "Class"), _T(lang, f"估算区间（{mu}）", f"Range ({mu})")),
            rows=rows,
            widths=(4.0, 6.0),
        )
    )
    if int(summ.get("not_costed_items", 0)):
        blocks.append(
            Block(
                "p",
                _T(
                    lang,
                    f"另有 {int(summ['not_costed_items'])} 项因缺少数据未估算（见上表）。",
                    f"{int(summ['not_costed_items'])} more items are not costed for lack of data "
                    "(see above).",
                ),
            )
        )
    return blocks


def _funding_section(f: pd.DataFrame, *, lang: str) -> list[Block]:
    """4. Funding: the district's rows of ``plan.funding``, one per source."""
    mu = _money_unit(lang)
    blocks = [Block("h1", _T(lang, "四、资金筹措", "4. Funding"))]
    tot_lo = float(f[S.COST_LOW_YUAN].sum()) or 1.0
    rows = tuple(
        (
            str(r["funding_source_name"]),
            _range(r[S.COST_LOW_YUAN], r[S.COST_HIGH_YUAN], lang),
            f"{r[S.COST_LOW_YUAN] / tot_lo:.0%}",
        )
        for r in f.to_dict("records")
    )
    blocks.append(
        Block(
            "table",
            header=(
                _T(lang, "来源", "Source"),
                _T(lang, f"金额（{mu}）", f"Amount ({mu})"),
                _T(lang, "占比（低值）", "Share (low)"),
            ),
            rows=rows,
            widths=(5.0, 4.0, 2.5),
        )
    )
    blocks.append(
        Block(
            "p",
            _T(
                lang,
                "分担比例为成本文件中的可调参数（--funding-share），不是测算结果。",
                "The shares are options of the cost file (--funding-share), not findings.",
            ),
        )
    )
    return blocks


def _viability_section(
    vg: pd.Series | None,
    members: pd.DataFrame,
    *,
    viability: Viability,
    group_viability: Viability | None,
    group_column: str | None,
    lang: str,
) -> list[Block]:
    """5. Property-management viability: the model, the district's figures, the planning areas inside."""
    blocks: list[Block] = []
    blocks.append(Block("h1", _T(lang, "五、物业管理可持续性", "5. Property-management viability")))
    pm = viability.model
    blocks.append(
        Block(
            "p",
            _T(
                lang,
                f"测算模型：月成本 = {pm.fixed_yuan_per_site_month:,.0f} 元/项目 + "
                f"{pm.per_household_yuan_month:g} 元/户 × 户数 + {pm.per_m2_yuan_month:g} 元/m² × 建筑面积；"
                f"月收入 = 建筑面积 × 物业费 {pm.fee_yuan_m2_month:.2f} 元/m² × 收缴率 "
                f"{pm.collection_rate:.0%}。每个小区单独管理为一个项目；合并后片区为一个项目。",
                f"Model: monthly cost = {pm.fixed_yuan_per_site_month:,.0f} yuan per site + "
                f"{pm.per_household_yuan_month:g} yuan per household + {pm.per_m2_yuan_month:g} yuan "
                f"per m² of floor area; income = floor area x fee {pm.fee_yuan_m2_month:.2f} yuan/m² x "
                f"collection {pm.collection_rate:.0%}. A compound alone is one site; "
                "the merged district is one site.",
            ),
        )
    )
    if vg is not None:
        blocks.append(_viability_figures(vg, lang=lang))
    if group_viability is not None and group_column:
        blocks += _group_sentences(
            members, group_viability=group_viability, group_column=group_column, lang=lang
        )
    blocks.append(
        Block(
            "p",
            _T(
                lang,
                f"参数来源：{pm.source}；物业费：{pm.fee_source}；收缴率：{pm.collection_source}。",
                f"Parameter sources: {pm.source}; fee: {pm.fee_source}; collection: {pm.collection_source}.",
            ),
        )
    )
    return blocks


def _viability_figures(vg: pd.Series, *, lang: str) -> Block:
    """The table of the district's viability figures (alone and merged)."""
    return Block(
        "table",
        header=(_T(lang, "指标", "Figure"), _T(lang, "数值", "Value")),
        rows=(
            (
                _T(lang, "单独管理总成本（元/月）", "Cost managed alone (yuan/month)"),
                _num(vg["cost_alone_yuan_month"]),
            ),
            (
                _T(lang, "合并后成本（元/月）", "Cost merged (yuan/month)"),
                _num(vg[S.COST_YUAN_MONTH]),
            ),
            (
                _T(lang, "合并后收入（元/月）", "Income merged (yuan/month)"),
                _num(vg[S.INCOME_YUAN_MONTH]),
            ),
            (
                _T(lang, "单独保本物业费（元/m²·月）", "Break-even fee alone (yuan/m²/month)"),
                f"{_num(vg[BREAK_EVEN_MIN], 2)}–{_num(vg[BREAK_EVEN_MAX], 2)}",
            ),
            (
                _T(lang, "合并后保本物业费（元/m²·月）", "Break-even fee merged (yuan/m²/month)"),
                _num(vg[S.BREAK_EVEN_FEE], 2),
            ),
            (
                _T(lang, "单独可保本小区数", "Compounds viable alone"),
                f"{int(vg[MEMBERS_VIABLE_ALONE])}/{int(vg[S.N_COMPOUNDS])}",
            ),
            (_T(lang, "合并后可保本", "Viable merged"), _yes(vg[S.VIABLE_MERGED], lang)),
            (_T(lang, "仅合并后可保本", "Viable only merged"), _yes(vg[S.VIABLE_ONLY_MERGED], lang)),
        ),
        widths=(7.0, 4.0),
    )


def _group_sentences(
    members: pd.DataFrame, *, group_viability: Viability, group_column: str, lang: str
) -> list[Block]:
    """One viability sentence per planning area (``group_column``) with a member in the district."""
    blocks: list[Block] = []
    ids = set(members[S.COMPOUND_ID].astype(str))
    gc = group_viability.compounds
    inside = gc[gc[S.COMPOUND_ID].isin(ids)][group_column].dropna().unique()
    for gname in inside:
        row = group_viability.groups.set_index(GROUP).loc[gname]
        blocks.append(
            Block(
                "p",
                _viability_sentence(
                    row,
                    group_viability.model,
                    lang,
                    name=_T(lang, f"规划片区“{gname}”", f"Planning area {gname}"),
                ),
            )
        )
    return blocks


def _evidence_section(
    items: pd.DataFrame, *, plan: RenovationPlan, evidence_lines: Sequence[str], lang: str
) -> list[Block]:
    """6. Evidence: the service-gap lines, the plan's notes and the unit costs used, with their sources."""
    blocks: list[Block] = []
    blocks.append(Block("h1", _T(lang, "六、依据", "6. Evidence")))
    for line in evidence_lines:
        blocks.append(Block("p", f"• {line}"))
    for n in plan.notes:
        blocks.append(Block("p", f"• {n}"))
    used = items[S.ITEM].unique()
    rows = tuple(
        (
            plan.costs.items[k].name(lang),
            f"{plan.costs.items[k].low:,.0f}–{plan.costs.items[k].high:,.0f}",
            UNITS[plan.costs.items[k].unit][lang],
            _yes(plan.costs.items[k].verified, lang),
            plan.costs.items[k].source,
        )
        for k in used
    )
    blocks.append(
        Block(
            "table",
            header=(
                _T(lang, "单价项目", "Unit cost"),
                _T(lang, "元/单位", "yuan per unit"),
                _T(lang, "单位", "Unit"),
                _T(lang, "已核实", "Verified"),
                _T(lang, "来源", "Source"),
            ),
            rows=rows,
            widths=(3.5, 2.4, 1.8, 1.3, 8.2),
        )
    )
    return blocks


def summary_blocks(
    *,
    plan: RenovationPlan,
    viability: Viability,
    group_viability: Viability | None = None,
    group_column: str | None = None,
    map_path: Path | None = None,
    lang: str = "zh",
    city: str = "",
) -> list[Block]:
    """Blocks of the city-wide summary document."""
    vg = viability.groups.set_index(GROUP)
    blocks = _summary_overview(plan, vg, map_path=map_path, lang=lang, city=city)
    blocks += _districts_table(plan.districts, vg, lang=lang)
    blocks += _summary_funding(plan.funding, lang=lang)
    if group_viability is not None and group_column:
        blocks += _planning_areas(group_viability, group_column=group_column, lang=lang)
    blocks.append(
        Block(
            "p",
            _T(
                lang,
                "各片区的改造内容、依据和地图见 proposals/<片区编号>.docx / .pdf。",
                "Each district's content, evidence and map: proposals/<district_id>.docx / .pdf.",
            ),
        )
    )
    return blocks


def _summary_overview(
    plan: RenovationPlan, vg: pd.DataFrame, *, map_path: Path | None, lang: str, city: str
) -> list[Block]:
    """Title, the city in one sentence, the unverified-costs note and the map."""
    d = plan.districts
    mu = _money_unit(lang)
    blocks = [
        Block(
            "title",
            _T(
                lang,
                f"片区统筹改造方案汇总{('：' + city) if city else ''}",
                f"District renovation proposals: summary{(' - ' + city) if city else ''}",
            ),
        )
    ]
    n_only = int(vg[S.VIABLE_ONLY_MERGED].fillna(False).sum())
    blocks.append(
        Block(
            "p",
            _T(
                lang,
                f"{len(d)} 个片区、{int(d[S.N_COMPOUNDS].sum())} 个小区、"
                f"{_num(d[S.HOUSEHOLDS].sum())} 户；估算总投资 "
                f"{_range(d[S.COST_LOW_YUAN].sum(), d[S.COST_HIGH_YUAN].sum(), lang)} {mu}；"
                f"{int(vg[S.VIABLE_MERGED].fillna(False).sum())} 个片区合并后物业可保本，"
                f"其中 {n_only} 个仅在合并后可保本。",
                f"{len(d)} districts, {int(d[S.N_COMPOUNDS].sum())} compounds, "
                f"{_num(d[S.HOUSEHOLDS].sum())} households; "
                f"estimated cost {_range(d[S.COST_LOW_YUAN].sum(), d[S.COST_HIGH_YUAN].sum(), lang)} {mu}; "
                f"{int(vg[S.VIABLE_MERGED].fillna(False).sum())} districts can keep a professional property "
                "manager "
                f"when merged, {n_only} of them only when merged.",
            ),
        )
    )
    note = _verified_note(plan, lang)
    if note:
        blocks.append(note)
    if map_path is not None:
        blocks.append(Block("image", path=map_path))
    return blocks


def _districts_table(d: pd.DataFrame, vg: pd.DataFrame, *, lang: str) -> list[Block]:
    """Districts: one row per district with its costs by class and its viability."""
    mu = _money_unit(lang)
    blocks: list[Block] = []
    blocks.append(Block("h1", _T(lang, "片区一览", "Districts")))
    rows: Any = []
    for r in d.to_dict("records"):
        v = vg.loc[r[S.DISTRICT_ID]] if r[S.DISTRICT_ID] in vg.index else None
        rows.append(
            (
                r[S.DISTRICT_ID],
                str(r[S.N_COMPOUNDS]),
                _num(r[S.HOUSEHOLDS]),
                _range(r["basic_low_yuan"], r["basic_high_yuan"], lang),
                _range(r["complete_low_yuan"], r["complete_high_yuan"], lang),
                _range(r["upgrade_low_yuan"], r["upgrade_high_yuan"], lang),
                _range(r[S.COST_LOW_YUAN], r[S.COST_HIGH_YUAN], lang),
                _num(v[S.BREAK_EVEN_FEE], 2) if v is not None else "—",
                f"{int(v[MEMBERS_VIABLE_ALONE])}/{int(v[S.N_COMPOUNDS])}" if v is not None else "—",
                _yes(v[S.VIABLE_ONLY_MERGED], lang) if v is not None else "—",
            )
        )
    blocks.append(
        Block(
            "table",
            header=tuple(
                _T(lang, a, b)
                for a, b in (
                    ("片区", "District"),
                    ("小区", "Compounds"),
                    ("户数", "Households"),
                    (f"基础类 {mu}", f"Basic {mu}"),
                    (f"完善类 {mu}", f"Complete {mu}"),
                    (f"提升类 {mu}", f"Upgrade {mu}"),
                    (f"合计 {mu}", f"Total {mu}"),
                    ("合并保本费", "Break-even merged"),
                    ("单独可保本", "Viable alone"),
                    ("仅合并可保本", "Only merged"),
                )
            ),
            rows=tuple(rows),
            widths=(1.3, 1.2, 1.4, 2.0, 2.0, 2.0, 2.0, 1.8, 1.6, 1.6),
        )
    )
    return blocks


def _summary_funding(funding: pd.DataFrame, *, lang: str) -> list[Block]:
    """Funding: the city total of each source."""
    mu = _money_unit(lang)
    blocks: list[Block] = []
    blocks.append(Block("h1", _T(lang, "资金筹措", "Funding")))
    f = funding.groupby(["funding_source_name"], sort=False)[[S.COST_LOW_YUAN, S.COST_HIGH_YUAN]].sum()
    blocks.append(
        Block(
            "table",
            header=(_T(lang, "来源", "Source"), _T(lang, f"金额（{mu}）", f"Amount ({mu})")),
            rows=tuple(
                (str(k), _range(r[S.COST_LOW_YUAN], r[S.COST_HIGH_YUAN], lang)) for k, r in f.iterrows()
            ),
            widths=(6.0, 5.0),
        )
    )
    return blocks


def _planning_areas(group_viability: Viability, *, group_column: str, lang: str) -> list[Block]:
    """Property-management viability of each planning area (``group_column``), one sentence each."""
    blocks: list[Block] = []
    blocks.append(
        Block(
            "h1",
            _T(
                lang,
                f"按规划片区（{group_column}）的物业可持续性",
                f"Property-management viability by planning area ({group_column})",
            ),
        )
    )
    for r in group_viability.groups.to_dict("records"):
        blocks.append(Block("p", _viability_sentence(r, group_viability.model, lang, name=str(r[GROUP]))))
    return blocks


# --------------------------------------------------------------------------- maps
_MPL_FONT: list[str] = []


def _mpl(font: Path | None) -> Any:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from matplotlib import font_manager

    if font is not None and not _MPL_FONT:
        try:
            font_manager.fontManager.addfont(str(font))
            _MPL_FONT.append(font_manager.FontProperties(fname=str(font)).get_name())
        except Exception as exc:  # noqa: BLE001 - a broken font file: labels fall back to ASCII
            logger.warning("map font %s not usable (%s); map labels in English", font, exc)
    if _MPL_FONT:
        plt.rcParams["font.family"] = [_MPL_FONT[0], "DejaVu Sans"]
    plt.rcParams["axes.unicode_minus"] = False
    return plt


def _plot(ax: Any, geoms: Any, **kw: Any) -> None:
    gs = gpd.GeoSeries(list(geoms))
    if len(gs):
        gs.plot(ax=ax, **kw)


def _scalebar(ax: Any, lang: str) -> None:
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    span = x1 - x0
    length = next(v for v in (50, 100, 200, 500, 1000, 2000, 5000, 10000) if v >= span / 6)
    x, y = x0 + span * 0.04, y0 + (y1 - y0) * 0.04
    ax.plot([x, x + length], [y, y], color="black", linewidth=3)
    ax.text(x + length / 2, y + (y1 - y0) * 0.015, f"{length} m", ha="center", va="bottom", fontsize=7)
    ax.annotate(
        "N",
        xy=(x1 - span * 0.05, y1 - (y1 - y0) * 0.05),
        xytext=(x1 - span * 0.05, y1 - (y1 - y0) * 0.13),
        arrowprops={"arrowstyle": "-|>", "color": "black"},
        ha="center",
        fontsize=9,
    )


def inner_walls(members: gpd.GeoDataFrame, *, gap_m: float = GAP_M) -> Any:
    """Lines of member boundaries that face another member within ``gap_m`` (walls to open).

    Examples
    --------
    >>> import geopandas as gpd
    >>> from renogis.datasets import sample_path
    >>> compounds = gpd.read_file(sample_path(), layer="compounds")
    >>> walls = inner_walls(compounds.iloc[:6], gap_m=30)
    >>> len(walls), round(sum(w.length for w in walls))  # pieces of boundary, metres
    (2, 395)
    """
    geoms = members.geometry.to_numpy()
    out = []
    for i, g in enumerate(geoms):
        others = shapely.union_all(np.delete(geoms, i))
        if others is None or others.is_empty:
            continue
        seg = shapely.intersection(g.boundary, shapely.buffer(others, gap_m / 2 + 0.5))
        if not seg.is_empty:
            out.append(seg)
    return out


def district_map(
    did: str,
    path: Path,
    *,
    compounds: gpd.GeoDataFrame,
    districts: gpd.GeoDataFrame,
    gaps_by_compound: pd.Series | None = None,
    gates: gpd.GeoDataFrame | None = None,
    facilities: gpd.GeoDataFrame | None = None,
    parcels: gpd.GeoDataFrame | None = None,
    siting: pd.DataFrame | None = None,
    streets: gpd.GeoDataFrame | None = None,
    barriers: gpd.GeoDataFrame | None = None,
    lang: str = "zh",
    font: Path | None = None,
    gap_m: float = GAP_M,
) -> Path:
    """Draw a static PNG map of one district (offline): members, walls to open, entrances, gaps, sites."""
    plt = _mpl(font)
    zh = lang == "zh" and bool(_MPL_FONT)
    dist = districts[districts[S.DISTRICT_ID].astype(str) == did]
    members = compounds[compounds[S.DISTRICT_ID].astype(str) == did]
    box = _map_box(dist)
    fig, ax = plt.subplots(figsize=(7.0, 6.0), dpi=150)
    _draw_context(ax, box, did, compounds=compounds, streets=streets, barriers=barriers)
    cmap = plt.get_cmap("YlOrRd")
    _draw_members(ax, members, dist, cmap=cmap, gaps_by_compound=gaps_by_compound, gap_m=gap_m)
    _draw_points(ax, box, members, gates=gates, facilities=facilities)
    has_sites = _draw_sites(ax, did, parcels=parcels, siting=siting, zh=zh)
    ax.set_xlim(box.bounds[0], box.bounds[2])
    ax.set_ylim(box.bounds[1], box.bounds[3])
    _bare_axes(ax, lang)
    handles = _district_legend(cmap, has_sites=has_sites, zh=zh)
    ax.legend(handles=handles, loc="upper left", fontsize=6, framealpha=0.85)
    ax.set_title(f"片区 {did}" if zh else f"District {did}", fontsize=10)
    return _save_figure(plt, fig, path)


def _map_box(dist: gpd.GeoDataFrame) -> Any:
    """The frame of a district map: the district's bounds padded by 12 % of their larger side + 20 m."""
    minx, miny, maxx, maxy = dist.total_bounds
    pad = max(maxx - minx, maxy - miny) * 0.12 + 20
    return shapely.box(minx - pad, miny - pad, maxx + pad, maxy + pad)


def _draw_context(
    ax: Any,
    box: Any,
    did: str,
    *,
    compounds: gpd.GeoDataFrame,
    streets: gpd.GeoDataFrame | None,
    barriers: gpd.GeoDataFrame | None,
) -> None:
    """Barriers, streets and the other districts' compounds within the frame, in grey under the members."""
    if barriers is not None and len(barriers):
        _plot(ax, barriers.geometry.clip(box), color="#a6cee3", linewidth=2)
    if streets is not None and len(streets):
        _plot(ax, streets.geometry.clip(box), color="#bbbbbb", linewidth=0.8)
    others = compounds[(compounds[S.DISTRICT_ID].astype(str) != did)]
    others = others[others.intersects(box)]
    _plot(ax, others.geometry, color="#eeeeee", edgecolor="#cccccc", linewidth=0.5)


def _draw_members(
    ax: Any,
    members: gpd.GeoDataFrame,
    dist: gpd.GeoDataFrame,
    *,
    cmap: Any,
    gaps_by_compound: pd.Series | None,
    gap_m: float,
) -> None:
    """Members coloured by their number of missing services, the district outline, walls to open, ids."""
    n_gap = (
        gaps_by_compound.reindex(members[S.COMPOUND_ID].astype(str)).fillna(0).to_numpy()
        if gaps_by_compound is not None
        else np.zeros(len(members))
    )
    vmax = max(float(n_gap.max()) if len(n_gap) else 0.0, 1.0)
    members.plot(
        ax=ax, color=[cmap(0.15 + 0.75 * v / vmax) for v in n_gap], edgecolor="#666666", linewidth=0.6
    )
    from renogis.renovation import closed_outline

    _plot(
        ax, shapely.boundary(closed_outline(dist.geometry.to_numpy(), gap_m)), color="#222222", linewidth=2.0
    )
    walls = inner_walls(members, gap_m=gap_m)
    _plot(ax, walls, color="#d62728", linewidth=1.4, linestyle="--")
    for cid, pt in zip(members[S.COMPOUND_ID], members.geometry.representative_point(), strict=True):
        ax.text(pt.x, pt.y, str(cid), fontsize=5.5, ha="center", va="center", color="#222222")


def _draw_points(
    ax: Any,
    box: Any,
    members: gpd.GeoDataFrame,
    *,
    gates: gpd.GeoDataFrame | None,
    facilities: gpd.GeoDataFrame | None,
) -> None:
    """The members' gates and the existing facilities within the frame."""
    if gates is not None and len(gates):
        g = gates[gates[S.COMPOUND_ID].astype(str).isin(set(members[S.COMPOUND_ID].astype(str)))]
        if len(g):
            ax.scatter(g.geometry.x, g.geometry.y, marker="^", s=12, color="black", zorder=5)
    if facilities is not None and len(facilities):
        f = facilities[facilities.geometry.representative_point().within(box)]
        if len(f):
            p = f.geometry.representative_point()
            ax.scatter(p.x, p.y, marker="o", s=10, color="#1f77b4", zorder=5)


def _draw_sites(
    ax: Any, did: str, *, parcels: gpd.GeoDataFrame | None, siting: pd.DataFrame | None, zh: bool
) -> bool:
    """The parcels proposed for the district, each labelled with its categories; True if there are any."""
    if siting is None or not len(siting) or parcels is None:
        return False
    picks = siting[siting[S.DISTRICT_ID].astype(str) == did]
    if not len(picks):
        return False
    par = parcels.set_index(parcels[S.PARCEL_ID].astype(str))
    for pid, sub in picks.groupby(picks[S.PARCEL_ID].astype(str), sort=False):
        if pid not in par.index:
            continue
        geom = par.geometry.loc[pid]
        _plot(ax, [geom], color="#2ca02c", alpha=0.6, edgecolor="#1b5e20")
        cats = [category_name(c, "zh" if zh else "en") for c in sub[S.CATEGORY]]
        pt = geom.representative_point()
        ax.annotate(
            f"{pid}: " + ("、" if zh else ", ").join(cats[:4]) + (" …" if len(cats) > 4 else ""),
            xy=(pt.x, pt.y),
            xytext=(6, 6),
            textcoords="offset points",
            fontsize=5.5,
            color="#1b5e20",
            bbox={"boxstyle": "round,pad=0.2", "fc": "white", "alpha": 0.8},
        )
    return True


def _district_legend(cmap: Any, *, has_sites: bool, zh: bool) -> list[Any]:
    """Legend entries of a district map (proposed sites only when the map shows some)."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    L = (lambda a, b: a) if zh else (lambda a, b: b)  # noqa: E731
    handles = [
        Patch(
            facecolor=cmap(0.15),
            edgecolor="#666666",
            label=L(
                "成员小区（颜色越深缺失设施类别越多）", "member compound (darker: more missing services)"
            ),
        ),
        Line2D([], [], color="#222222", linewidth=2, label=L("片区边界", "district outline")),
        Line2D([], [], color="#d62728", linestyle="--", label=L("需打通围墙", "walls to open")),
        Line2D([], [], marker="^", color="black", linestyle="", label=L("出入口", "gates")),
        Line2D([], [], marker="o", color="#1f77b4", linestyle="", label=L("现有设施", "existing facilities")),
    ]
    if has_sites:
        handles.append(Patch(facecolor="#2ca02c", alpha=0.6, label=L("建议设施选址", "proposed sites")))
    return handles


def _bare_axes(ax: Any, lang: str) -> None:
    """Equal aspect, no ticks nor axis labels, a scale bar and a north arrow."""
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel("")
    ax.set_ylabel("")
    _scalebar(ax, lang)


def _save_figure(plt: Any, fig: Any, path: Path) -> Path:
    """Lay out, save to ``path`` (its folder made) and close the figure."""
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def city_map(
    path: Path,
    *,
    compounds: gpd.GeoDataFrame,
    districts: gpd.GeoDataFrame,
    outlines_b: gpd.GeoDataFrame | None = None,
    lang: str = "zh",
    font: Path | None = None,
    labels: tuple[str, str] = ("A", "B"),
    gap_m: tuple[float, float] = (30.0, 30.0),
) -> Path:
    """Draw a static PNG of all districts (and, for a comparison, a second set of outlines).

    Outlines are closed over the lanes between members (``gap_m`` of each run).
    """
    plt = _mpl(font)
    from matplotlib.lines import Line2D

    zh = lang == "zh" and bool(_MPL_FONT)
    fig, ax = plt.subplots(figsize=(7.0, 6.0), dpi=150)
    _plot(ax, compounds.geometry, color="#eeeeee", edgecolor="#bbbbbb", linewidth=0.4)
    from renogis.renovation import closed_outline

    cmap = plt.get_cmap("tab20")
    ds = districts.reset_index(drop=True)
    ds = ds.set_geometry(closed_outline(ds.geometry.to_numpy(), gap_m[0]), crs=districts.crs)
    if outlines_b is not None:
        outlines_b = outlines_b.reset_index(drop=True)
        outlines_b = outlines_b.set_geometry(
            closed_outline(outlines_b.geometry.to_numpy(), gap_m[1]), crs=outlines_b.crs
        )
    if outlines_b is None:
        ds.plot(
            ax=ax,
            color=[cmap(i % 20) for i in range(len(ds))],
            alpha=0.45,
            edgecolor="#222222",
            linewidth=1.2,
        )
    else:
        ds.boundary.plot(ax=ax, color="#1f77b4", linewidth=2.2)
        outlines_b.boundary.plot(ax=ax, color="#d62728", linewidth=1.2, linestyle="--")
        ax.legend(
            handles=[
                Line2D([], [], color="#1f77b4", linewidth=2.2, label=labels[0]),
                Line2D([], [], color="#d62728", linestyle="--", label=labels[1]),
            ],
            loc="upper left",
            fontsize=7,
        )
    for did, pt in zip(ds[S.DISTRICT_ID], ds.geometry.representative_point(), strict=True):
        ax.text(
            pt.x,
            pt.y,
            str(did),
            fontsize=7,
            ha="center",
            va="center",
            color="#1f77b4" if outlines_b is not None else "black",
        )
    if outlines_b is not None:
        for did, pt in zip(
            outlines_b[S.DISTRICT_ID], outlines_b.geometry.representative_point(), strict=True
        ):
            ax.text(pt.x, pt.y, str(did), fontsize=6, ha="left", va="top", color="#d62728")
    _bare_axes(ax, lang)
    ax.set_title("片区划定" if zh else "Districts", fontsize=10)
    return _save_figure(plt, fig, path)


# --------------------------------------------------------------------------- writers
def write_docx(blocks: Sequence[Block], path: Path, *, lang: str = "zh") -> Path:
    """Render blocks to a Word document."""
    from docx import Document
    from docx.enum.section import WD_ORIENT  # noqa: F401  (portrait, A4)
    from docx.oxml.ns import qn
    from docx.shared import Cm, Pt, RGBColor

    doc = Document()
    sec = doc.sections[0]
    sec.page_width, sec.page_height = Cm(21.0), Cm(29.7)
    sec.left_margin = sec.right_margin = Cm(1.8)
    sec.top_margin = sec.bottom_margin = Cm(1.8)
    for name in ("Normal", "Title", "Heading 1", "Heading 2"):
        st = doc.styles[name]
        st.font.name = "Arial"
        rpr = st.element.get_or_add_rPr()
        fonts = rpr.find(qn("w:rFonts"))
        if fonts is None:
            fonts = rpr.makeelement(qn("w:rFonts"), {})
            rpr.append(fonts)
        fonts.set(qn("w:eastAsia"), "SimSun" if lang == "zh" else "Arial")
    doc.styles["Normal"].font.size = Pt(10)
    for b in blocks:
        if b.kind == "title":
            doc.add_heading(b.text, level=0)
        elif b.kind == "h1":
            doc.add_heading(b.text, level=1)
        elif b.kind == "h2":
            doc.add_heading(b.text, level=2)
        elif b.kind == "p":
            doc.add_paragraph(b.text)
        elif b.kind == "note":
            run = doc.add_paragraph().add_run(b.text)
            run.bold = True
            run.font.color.rgb = RGBColor(0xB0, 0x30, 0x00)
        elif b.kind == "image" and b.path is not None:
            doc.add_picture(str(b.path), width=Cm(16.5))
        elif b.kind == "table":
            t = doc.add_table(rows=1, cols=len(b.header))
            t.style = "Table Grid"
            for cell, h in zip(t.rows[0].cells, b.header, strict=True):
                cell.text = h
                for r in cell.paragraphs[0].runs:
                    r.bold = True
                    r.font.size = Pt(8.5)
            for row in b.rows:
                cells = t.add_row().cells
                for cell, v in zip(cells, row, strict=True):
                    cell.text = v
                    for r in cell.paragraphs[0].runs:
                        r.font.size = Pt(8.5)
            if b.widths:
                total = sum(b.widths)
                for j, w in enumerate(b.widths):
                    for row in t.rows:
                        row.cells[j].width = Cm(17.4 * w / total)
    path.parent.mkdir(parents=True, exist_ok=True)
    _save_reproducible(doc, path)
    return path


def _save_reproducible(doc: Any, path: Path) -> None:
    """Save a python-docx document with fixed zip timestamps, so equal content gives equal bytes."""
    import io
    import zipfile

    buf = io.BytesIO()
    doc.save(buf)
    buf.seek(0)
    with zipfile.ZipFile(buf) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(fixed, src.read(info.filename))


_PDF_FONT = "RenogisCJK"


def _register_font(font: Path) -> str:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    if _PDF_FONT not in pdfmetrics.getRegisteredFontNames():
        kw = {"subfontIndex": 0} if font.suffix.lower() == ".ttc" else {}
        pdfmetrics.registerFont(TTFont(_PDF_FONT, str(font), **kw))
    return _PDF_FONT


def write_pdf(blocks: Sequence[Block], path: Path, *, font: Path, title: str = "") -> Path:
    """Render blocks to a PDF (A4) with ``font`` embedded (subset)."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import cm
    from reportlab.platypus import Image, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    fname = _register_font(font)
    base = ParagraphStyle("base", fontName=fname, fontSize=9.5, leading=13.5, wordWrap="CJK")
    styles = {
        "title": ParagraphStyle("t", parent=base, fontSize=16, leading=21, spaceAfter=8),
        "h1": ParagraphStyle("h1", parent=base, fontSize=12.5, leading=17, spaceBefore=8, spaceAfter=4),
        "h2": ParagraphStyle("h2", parent=base, fontSize=10.5, leading=15, spaceBefore=5, spaceAfter=3),
        "p": ParagraphStyle("p", parent=base, spaceAfter=3),
        "note": ParagraphStyle("n", parent=base, textColor=colors.HexColor("#b03000"), spaceAfter=4),
        "cell": ParagraphStyle("c", parent=base, fontSize=7.5, leading=9.5),
        "head": ParagraphStyle("hd", parent=base, fontSize=7.5, leading=9.5, textColor=colors.white),
    }
    width = A4[0] - 3.6 * cm
    story: list[Any] = []
    for b in blocks:
        if b.kind in ("title", "h1", "h2", "p", "note"):
            story.append(Paragraph(escape(b.text), styles[b.kind]))
        elif b.kind == "image" and b.path is not None:
            from reportlab.lib.utils import ImageReader

            iw, ih = ImageReader(str(b.path)).getSize()
            w = min(width, 16.5 * cm)
            story.append(Image(str(b.path), width=w, height=w * ih / iw))
            story.append(Spacer(1, 4))
        elif b.kind == "table":
            data = [[Paragraph(escape(h), styles["head"]) for h in b.header]]
            data += [[Paragraph(escape(v), styles["cell"]) for v in row] for row in b.rows]
            ws = b.widths or tuple(1.0 for _ in b.header)
            col = [width * w / sum(ws) for w in ws]
            t = Table(data, colWidths=col, repeatRows=1)
            t.setStyle(
                TableStyle(
                    [
                        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#37474f")),
                        ("GRID", (0, 0), (-1, -1), 0.3, colors.HexColor("#9e9e9e")),
                        ("VALIGN", (0, 0), (-1, -1), "TOP"),
                        ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.HexColor("#f4f6f7")]),
                    ]
                )
            )
            story.append(t)
            story.append(Spacer(1, 5))
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = SimpleDocTemplate(
        str(path),
        pagesize=A4,
        leftMargin=1.8 * cm,
        rightMargin=1.8 * cm,
        topMargin=1.6 * cm,
        bottomMargin=1.6 * cm,
        title=title,
        author="renogis",
        invariant=1,  # fixed dates and ids: equal content gives equal bytes
    )

    def _page(canvas: Any, d: Any) -> None:
        canvas.saveState()
        canvas.setFont(fname, 7)
        canvas.drawRightString(A4[0] - 1.8 * cm, 1.0 * cm, f"{title}  ·  {d.page}")
        canvas.restoreState()

    doc.build(story, onFirstPage=_page, onLaterPages=_page)
    return path


def write_documents(
    out_dir: Path,
    *,
    compounds: gpd.GeoDataFrame,
    districts: gpd.GeoDataFrame,
    plan: RenovationPlan,
    viability: Viability,
    group_viability: Viability | None = None,
    group_column: str | None = None,
    evidence: Mapping[str, Sequence[str]] | None = None,
    access: pd.DataFrame | None = None,
    gates: gpd.GeoDataFrame | None = None,
    facilities: gpd.GeoDataFrame | None = None,
    parcels: gpd.GeoDataFrame | None = None,
    siting: pd.DataFrame | None = None,
    streets: gpd.GeoDataFrame | None = None,
    barriers: gpd.GeoDataFrame | None = None,
    lang: str = "zh",
    which: str = "all",
    gap_m: float = GAP_M,
) -> tuple[list[Path], list[str]]:
    """Write the per-district DOCX/PDF (``which="all"``) and the city summary into ``out_dir``.

    Returns
    -------
    (list of Path, list of str)
        Files written and warnings (e.g. no CJK font: no PDF).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    font, warnings = _font_or_warning()
    files: list[Path] = []
    gaps_by_compound = _gaps_by_compound(access)
    comp = compounds.copy()
    comp[S.COMPOUND_ID] = comp[S.COMPOUND_ID].astype(str)
    dist = districts.copy()
    dist[S.DISTRICT_ID] = dist[S.DISTRICT_ID].astype(str)
    if which == "all":
        for rec in dist.drop(columns="geometry").to_dict("records"):
            did = rec[S.DISTRICT_ID]
            if did not in set(plan.districts[S.DISTRICT_ID]):
                continue
            png = district_map(
                did,
                out_dir / f"{did}_map.png",
                compounds=comp,
                districts=dist,
                gaps_by_compound=gaps_by_compound,
                gates=gates,
                facilities=facilities,
                parcels=parcels,
                siting=siting,
                streets=streets,
                barriers=barriers,
                lang=lang,
                font=font,
                gap_m=gap_m,
            )
            blocks = district_blocks(
                did,
                district=rec,
                members=_members_in_order(comp, did, rec),
                plan=plan,
                viability=viability,
                group_viability=group_viability,
                group_column=group_column,
                evidence_lines=(evidence or {}).get(did, ()),
                map_path=png,
                lang=lang,
            )
            files += [png, *_write_docx_pdf(blocks, out_dir / did, font=font, lang=lang)]
    if which in ("all", "summary"):
        png = city_map(out_dir / "summary_map.png", compounds=comp, districts=dist, lang=lang, font=font)
        blocks = summary_blocks(
            plan=plan,
            viability=viability,
            group_viability=group_viability,
            group_column=group_column,
            map_path=png,
            lang=lang,
        )
        files += [png, *_write_docx_pdf(blocks, out_dir / "summary", font=font, lang=lang)]
    logger.info("wrote %d proposal document files to %s", len(files), out_dir)
    return files, warnings


def _font_or_warning() -> tuple[Path | None, list[str]]:
    """The CJK font for PDFs and map labels, or None and the warning that says what is not written."""
    font = find_cjk_font()
    warnings: list[str] = []
    if font is None:
        warnings.append(
            "no CJK TrueType font found (install fonts-wqy-microhei or set RENOGIS_CJK_FONT): "
            "PDF proposals not written, map labels in English; the DOCX files are complete"
        )
        logger.warning("%s", warnings[-1])
    return font, warnings


def _gaps_by_compound(access: pd.DataFrame | None) -> pd.Series | None:
    """Number of categories out of reach per compound id (schools left out), or None without access."""
    if access is None or not len(access):
        return None
    a = access[~access[S.CATEGORY].isin(("primary_school", "middle_school"))]
    return (~a[S.WITHIN_RADIUS].astype(bool)).groupby(a[S.COMPOUND_ID].astype(str)).sum()


def _members_in_order(comp: gpd.GeoDataFrame, did: str, rec: Mapping[str, Any]) -> gpd.GeoDataFrame:
    """The district's compounds, in the order of its ``compound_ids`` when it has one."""
    order = str(rec.get(S.COMPOUND_IDS) or "").split(",")
    members = comp[comp[S.DISTRICT_ID].astype(str) == did]
    if order and order[0]:
        members = members.set_index(S.COMPOUND_ID, drop=False).reindex(order).dropna(subset=[S.COMPOUND_ID])
    return members


def _write_docx_pdf(blocks: Sequence[Block], stem: Path, *, font: Path | None, lang: str) -> list[Path]:
    """Write ``stem``.docx and, with a CJK font, ``stem``.pdf titled by the first block."""
    files = [write_docx(blocks, stem.with_name(stem.name + ".docx"), lang=lang)]
    if font is not None:
        files.append(write_pdf(blocks, stem.with_name(stem.name + ".pdf"), font=font, title=blocks[0].text))
    return files
