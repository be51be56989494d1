"""Every word a person reads in a table, in Chinese and English: headers, codes, flags, units.

Two audiences, two contracts:

* machine outputs (CSV, GeoPackage, JSON) keep the canonical snake_case column names
  and codes of :mod:`renogis.schema` whatever the language, so a script written
  against one run works on the next;
* human outputs (XLSX, Markdown sheets, console) follow the language completely:
  :func:`localise_table` turns a canonical table into the one a planner reads.

:func:`data_dictionary` writes ``columns.md``, the bridge between the two: every
canonical column with its Chinese and English label, unit and meaning.

Examples
--------
>>> column_label("covered_households", "zh")
'覆盖户数'
>>> value_label("flags", "below_min;keep_together", "zh")
'低于户数下限；含指定合并组'
>>> value_label("demand_unit", "places", "zh")
'个'
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, Final

import numpy as np
import pandas as pd

from renogis import config, schema
from renogis._errors import InputError
from renogis.standards import Standards, default_standards

__all__ = [
    "LANGS",
    "COLUMNS",
    "PERCENT_COLUMNS",
    "check_lang",
    "column_label",
    "value_label",
    "category_name",
    "console",
    "layer_name",
    "localise_table",
    "data_dictionary",
    "WIDE_GAP_FIELDS",
    "gap_lines",
    "district_reason",
    "district_reasons",
]

LANGS: Final = config.LANGS

# --------------------------------------------------------------------------- columns
#: canonical column -> (Chinese label, English label, meaning in English).
COLUMNS: Final[Mapping[str, tuple[str, str, str]]] = MappingProxyType({
    # inputs: compounds
    schema.COMPOUND_ID: ("小区编号", "Compound", "compound id (given, or made by renogis in spatial order)"),
    schema.NAME: ("名称", "Name", "name"),
    schema.HOUSEHOLDS: ("户数", "Households", "households"),
    schema.BUILDINGS: ("楼栋数", "Buildings", "number of residential buildings"),
    schema.FLOOR_AREA_M2: ("建筑面积(平方米)", "Floor area (m²)", "gross floor area, m2"),
    schema.BUILT_YEAR: ("建成年份", "Built", "year built"),
    schema.POPULATION: ("人口", "Population", "residents (given, or households x 2.62)"),
    schema.POPULATION_ESTIMATED: ("人口为估算", "Population estimated",
                                  "true where population was estimated from households"),
    schema.SUBDISTRICT: ("街道", "Subdistrict", "subdistrict (街道); no district spans two"),
    schema.OWNERS_COMMITTEE: ("业委会", "Owners' committee", "an owners' committee exists"),
    schema.CONSENT: ("居民同意率", "Consent", "share of residents agreeing to the renovation, 0-1"),
    schema.PARKING_SPACES: ("停车位", "Parking spaces", "parking spaces"),
    # parcels, facilities
    schema.PARCEL_ID: ("地块编号", "Parcel", "idle parcel id"),
    schema.KIND: ("类型", "Kind", "vacant_land or idle_building"),
    schema.AREA_M2: ("用地面积(平方米)", "Land area (m²)", "land area in the work CRS, m2"),
    schema.FACILITY_ID: ("设施编号", "Facility", "facility id"),
    schema.CATEGORY: ("设施类别", "Category", "facility category (key of the standards file)"),
    schema.CAPACITY: ("容量", "Capacity", "seats, beds, places or m2 by category"),
    # streets, barriers, gates
    schema.STREET_ID: ("道路编号", "Street", "street id"),
    schema.STREET_CLASS: ("道路等级", "Class", "arterial, secondary, local or path"),
    "highway": ("OSM道路类型", "OSM highway", "OpenStreetMap highway value, if given"),
    schema.WALKABLE: ("可步行", "Walkable", "pedestrians may use it"),
    schema.BRIDGE: ("桥梁", "Bridge", "bridge"),
    schema.TUNNEL: ("隧道", "Tunnel", "tunnel"),
    schema.LAYER: ("竖向层", "Layer", "OSM vertical layer; crossings at different layers do not meet"),
    schema.BARRIER_ID: ("障碍编号", "Barrier", "barrier id"),
    schema.GATE_ID: ("出入口编号", "Gate", "gate id"),
    # districts
    schema.DISTRICT_ID: ("片区编号", "District", "proposed renovation district id"),
    schema.EXCLUDED_REASON: ("排除原因", "Excluded because", "why the compound is in no district"),
    schema.N_COMPOUNDS: ("小区数", "Compounds", "number of member compounds"),
    schema.COMPOUND_IDS: ("成员小区", "Member compounds", "member compound ids, comma-separated"),
    schema.IDLE_AREA_M2: ("闲置用地面积(平方米)", "Idle land (m²)",
                          "land area of the pooled idle parcels, m2"),
    schema.PARCEL_IDS: ("统筹闲置地块", "Pooled parcels", "pooled idle parcel ids, comma-separated"),
    schema.WALL_M: ("需打通围墙(米)", "Walls to open (m)", "length of walls to open between members, m"),
    "group_households": ("连通组团户数", "Connected group households",
                         "households of the whole connected group the district belongs to"),
    schema.FLAGS: ("标记", "Flags", "below_min, above_max, keep_together, keep_apart (;-separated)"),
    schema.REASON: ("划定理由", "Reason", "why the district was proposed"),
    # access and gaps
    schema.DISTANCE_M: ("步行距离(米)", "Walking distance (m)",
                        "walking distance to the nearest facility, m"),
    schema.RADIUS_M: ("服务半径(米)", "Service radius (m)", "the standard's service radius, m"),
    schema.WITHIN_RADIUS: ("半径内", "Within radius", "the nearest facility is within the radius"),
    schema.METHOD: ("计算方法", "Method", "network, straight_line_x1.3, greedy or exact"),
    "nearest_facility_id": ("最近设施编号", "Nearest facility", "id of the nearest facility"),
    "access_m": ("接入距离(米)", "Access connector (m)",
                 "length of the connector from the compound (gate, frontage point or centroid) to the network, m"),
    "distance_merged_m": ("统筹后步行距离(米)", "Walking distance after merging (m)",
                          "walking distance with the walls between a district's members opened, m"),
    "data_status": ("数据状态", "Data status",
                    "ok; absent (the facilities layer holds none of the category); no_data (not recorded)"),
    "note": ("说明", "Note", "a note for the planner (no data, category absent from the layer)"),
    schema.LEVEL: ("统计层级", "Level", "compound or district"),
    schema.UNIT_ID: ("单元编号", "Unit", "compound_id or district_id, by level"),
    schema.HOUSEHOLDS_COVERED: ("覆盖户数", "Households covered", "households within the radius"),
    schema.HOUSEHOLDS_UNCOVERED: ("未覆盖户数", "Households uncovered", "households beyond the radius"),
    "coverage_share": ("覆盖率", "Coverage", "share of households covered, 0-1"),
    "covered_households_merged": ("片区统筹后覆盖户数", "Covered after merging",
                                  "households covered when the district shares its members' facilities"),
    "uncovered_households_merged": ("片区统筹后未覆盖户数", "Uncovered after merging",
                                    "households uncovered after merging"),
    "coverage_share_merged": ("片区统筹后覆盖率", "Coverage after merging", "share covered after merging"),
    "demand": ("需求", "Demand", "demand by the standard's rule, in demand_unit"),
    "supply": ("供给", "Supply", "supply reaching the unit (two-step floating catchment)"),
    "shortfall": ("缺口", "Shortfall", "demand minus supply where positive"),
    "demand_unit": ("计量单位", "Unit of demand", "seats, places, beds, m2, spaces or points"),
    "category_name": ("设施名称", "Category name", "category name in the run's language"),
    "compounds": ("小区数", "Compounds", "number of compounds"),
    "uncovered_compounds": ("未覆盖小区数", "Compounds uncovered", "compounds beyond the radius"),
    # siting
    schema.NEWLY_COVERED_HOUSEHOLDS: ("新增覆盖户数", "Newly covered households",
                                      "households the site newly brings within the radius"),
    schema.CUMULATIVE_COVERAGE: ("累计覆盖率", "Cumulative coverage",
                                 "share of the category's households covered after this pick"),
    "pick": ("选址顺序", "Pick", "order of the pick within the category"),
    "min_area_m2": ("最小用地面积(平方米)", "Minimum area (m²)", "land or floor area the facility needs, m2"),
    "parcel_area_m2": ("地块面积(平方米)", "Parcel area (m²)", "area of the parcel, m2"),
    "remaining_area_m2": ("剩余面积(平方米)", "Remaining area (m²)", "parcel area left after the plan, m2"),
    "capacity_unit": ("容量单位", "Capacity unit", "unit of capacity: seats, beds, places, m2, spaces, points, "
                      "households"),
    "capacity_households": ("可服务户数", "Households served", "households the site can serve"),
    "shortfall_before": ("选址前缺口", "Shortfall before", "category's demand without a facility in reach, "
                         "before this site, in capacity_unit"),
    "shortfall_after": ("选址后缺口", "Shortfall after", "the same after this site"),
    "facility_area_m2": ("设施占地面积(平方米)", "Facility area (m²)", "area the facility takes, m2"),
    "independent_site": ("独立占地", "Independent site", "the facility needs its own site"),
    # overlapping compounds (overlaps.csv)
    "compound_id_a": ("小区编号A", "Compound A", "the larger footprint of the pair"),
    "compound_id_b": ("小区编号B", "Compound B", "the smaller footprint of the pair"),
    "relation": ("关系", "Relation", "duplicate, contains or partial"),
    "overlap_m2": ("重叠面积(平方米)", "Overlap (m²)", "overlapping area, m2"),
    "share_of_a": ("占A比例", "Share of A", "overlap / area of A"),
    "share_of_b": ("占B比例", "Share of B", "overlap / area of B"),
    "area_a_m2": ("A面积(平方米)", "Area A (m²)", "area of A, m2"),
    "area_b_m2": ("B面积(平方米)", "Area B (m²)", "area of B, m2"),
    "households_a": ("A户数", "Households A", "households of A"),
    "households_b": ("B户数", "Households B", "households of B"),
    "action": ("处理", "Action", "what renogis did with the pair"),
    "kept_compound_id": ("保留小区编号", "Kept compound", "the compound kept in place of a dropped one"),
    # ledger match report
    "ledger_row": ("台账行号", "Ledger row", "row number in the ledger file (header = 1)"),
    "ledger_name": ("台账小区名称", "Ledger name", "compound name as written in the ledger"),
    "footprint_name": ("图斑名称", "Footprint name", "name of the matched footprint"),
    "match": ("匹配方式", "Match", "exact, normalised, fuzzy, ambiguous or unmatched"),
    "score": ("相似度", "Score", "name similarity 0-100 (rapidfuzz WRatio)"),
})

#: Columns holding shares 0-1 (formatted as % in XLSX).
PERCENT_COLUMNS: Final = frozenset({
    "coverage_share", "coverage_share_merged", schema.CUMULATIVE_COVERAGE, schema.CONSENT, "share_of_a",
    "share_of_b",
})
#: Numeric columns shown without thousands separators (years, ranks).
PLAIN_NUMBER_COLUMNS: Final = frozenset({schema.BUILT_YEAR, "pick", "ledger_row"})

#: Per-category fields of the wide gap layer: suffix -> (zh, en).
WIDE_GAP_FIELDS: Final[Mapping[str, tuple[str, str]]] = MappingProxyType({
    schema.DISTANCE_M: ("步行距离(米)", "walking distance (m)"),
    schema.WITHIN_RADIUS: ("半径内", "within radius"),
    schema.HOUSEHOLDS_COVERED: ("覆盖户数", "households covered"),
})

# --------------------------------------------------------------------------- values
_FLAGS: Final = {
    "below_min": ("低于户数下限", "below minimum households"),
    "above_max": ("超过户数上限", "above maximum households"),
    "keep_together": ("含指定合并组", "keeps a planner's group together"),
    "keep_apart": ("遵守不得同片约束", "keeps a planner's pair apart"),
}
_UNITS: Final = {
    "seats": ("座", "seats"),
    "places": ("个", "places"),
    "beds": ("床", "beds"),
    "m2": ("平方米", "m²"),
    "spaces": ("个车位", "spaces"),
    "points": ("个充电桩", "charging points"),
}
_CODES: Final[Mapping[str, Mapping[str, tuple[str, str]]]] = MappingProxyType({
    schema.LEVEL: {"compound": ("小区", "compound"), "district": ("片区", "district")},
    schema.KIND: {"vacant_land": ("闲置用地", "vacant land"), "idle_building": ("闲置用房", "idle building")},
    schema.METHOD: {"network": ("路网步行距离", "walking network"), "greedy": ("贪心算法", "greedy"),
                    "exact": ("精确求解", "exact"), "inside": ("设施位于小区内", "facility inside"),
                    "unreachable": ("路网不可达", "unreachable"), "no_data": ("无数据", "no data"),
                    "straight_line": ("直线距离", "straight line")},
    "data_status": {"ok": ("正常", "ok"), "absent": ("图层中无此类设施", "none in the layer"),
                    "no_data": ("无数据", "no data")},
    "match": {"exact": ("完全一致", "exact"), "normalised": ("规范化后一致", "normalised"),
              "fuzzy": ("模糊匹配", "fuzzy"), "ambiguous": ("多个候选", "ambiguous"),
              "unmatched": ("未匹配", "unmatched")},
    "demand_unit": _UNITS,
    "capacity_unit": {**_UNITS, "households": ("户", "households")},
    "relation": {"duplicate": ("重复", "duplicate"), "contains": ("包含", "contains"),
                 "partial": ("部分重叠", "partial")},
})
_BOOL: Final = {True: ("是", "yes"), False: ("否", "no")}


# excluded_reason texts of renogis.districting, each with its Chinese pattern
_EXCLUDED_ZH: Final = (
    (re.compile(r"^consent unknown$"), "同意率未知"),
    (re.compile(r"^consent ([\d.]+) < ([\d.]+)$"), r"同意率 \1 低于 \2"),
    (re.compile(r"^owners committee unknown$"), "业委会情况未知"),
    (re.compile(r"^no owners committee$"), "未成立业委会"),
    (re.compile(r"^built year unknown$"), "建成年份未知"),
    (re.compile(r"^built (\d+) >= (\d+)$"), r"建成于 \1 年，不早于 \2 年"),
)
_STRAIGHT = re.compile(r"^straight_line_x([\d.]+)$")


#: Console lines of ``renogis run`` (``str.format`` fields), Chinese and English.
CONSOLE: Final[Mapping[str, tuple[str, str]]] = MappingProxyType({
    "input": ("输入：{layers}；工作坐标系 {crs}；{warnings} 条警告（见 validation.txt）",
              "input: {layers}; work CRS {crs}; {warnings} warnings (see validation.txt)"),
    "districts": ("片区：划定 {n} 个，含 {inside} 个小区；{excluded} 个小区被排除",
                  "districts: {n} proposed covering {inside} compounds; {excluded} excluded"),
    "coverage": ("各类设施覆盖的户数比例（{network}）：",
                 "share of households covered, per category ({network}):"),
    "network": ("路网步行距离", "walk network"),
    "straight": ("无道路：直线距离×{f}", "no streets: straight line x {f}"),
    "all_excluded": ("警告：全部 {n} 个小区均被选项（--built-before、--min-consent、"
                     "--require-owners-committee）排除，未划定片区；排除原因见 districts.gpkg 的 "
                     "excluded_reason 列",
                     "warning: every compound ({n}) was excluded by the options (--built-before, "
                     "--min-consent, --require-owners-committee): no district proposed; see the "
                     "excluded_reason column of districts.gpkg"),
    "sites": ("选址：在闲置地块上布置 {n} 处设施", "siting: {n} facilities placed on idle parcels"),
    "database": ("数据库：写入 {n} 张表（{tables}）", "database: {n} tables written ({tables})"),
    "outputs": ("输出位于 {out}：", "outputs in {out}:"),
    "head": ("设施类别|服务半径|户数|覆盖率|统筹后|缺口",
             "category|radius|households|covered|after merging|shortfall"),
    "layer": ("{name} {n}", "{name} {n}"),
    "no_data": ("无数据", "no data"),
    "no_data_line": ("  无数据：{cats}（缺少设施图层或标记为 --no-data；不给出覆盖率与缺口）",
                     "  no data: {cats} (no facilities layer or marked --no-data; no coverage or shortfall "
                     "given)"),
    "absent_line": ("  注：设施图层中没有 {cats}，按 0% 覆盖计（数据未记录的类别请用 --no-data 标记）",
                    "  note: the facilities layer holds no {cats}: reported as 0% covered (mark categories "
                    "your data do not record with --no-data)"),
    "after_merging": ("  统筹后 = 打通片区内成员小区之间的围墙后步行可达",
                      "  after merging = walking through the opened walls between a district's members"),
    "warning": ("警告：{text}", "warning: {text}"),
    "map_copied": ("地图另存为 {path}", "map also copied to {path}"),
})
_LAYER_ZH: Final = {schema.COMPOUNDS: "小区", schema.PARCELS: "闲置地块", schema.FACILITIES: "设施",
                    schema.STREETS: "道路", schema.BARRIERS: "障碍", schema.GATES: "出入口"}


def console(key: str, lang: str, **fields: object) -> str:
    """One console line of ``renogis run`` in ``lang``.

    Examples
    --------
    >>> console("sites", "zh", n=3)
    '选址：在闲置地块上布置 3 处设施'
    """
    zh, en = CONSOLE[key]
    return (zh if check_lang(lang) == "zh" else en).format(**fields)


def layer_name(layer: str, lang: str) -> str:
    """Name of an input layer in ``lang``."""
    return _LAYER_ZH.get(layer, layer) if lang == "zh" else layer


def check_lang(lang: str) -> str:
    """Return ``lang`` if it is ``"zh"`` or ``"en"``, else raise :class:`InputError`."""
    if lang not in LANGS:
        raise InputError(f"unknown language {lang!r}; use 'zh' or 'en' (--lang)")
    return lang


def _wide_parts(column: str) -> tuple[str, str] | None:
    """``kindergarten_distance_m`` -> (``kindergarten``, ``distance_m``) for a known category."""
    for suffix in WIDE_GAP_FIELDS:
        if column.endswith("_" + suffix):
            cat = column[: -len(suffix) - 1]
            if cat in schema.CATEGORIES:
                return cat, suffix
    return None


def column_label(column: str, lang: str) -> str:
    """The header a person reads for a canonical ``column`` (unknown columns keep their name).

    Examples
    --------
    >>> column_label("distance_m", "en"), column_label("kindergarten_within_radius", "zh")
    ('Walking distance (m)', '幼儿园-半径内')
    """
    check_lang(lang)
    if column in COLUMNS:
        zh, en, _ = COLUMNS[column]
        return zh if lang == "zh" else en
    wide = _wide_parts(column)
    if wide is not None:
        cat, suffix = wide
        zh, en = WIDE_GAP_FIELDS[suffix]
        return f"{category_name(cat, 'zh')}-{zh}" if lang == "zh" else f"{category_name(cat, 'en')}: {en}"
    return column


def category_name(key: object, lang: str, standards: Standards | None = None) -> str:
    """Name of a facility category key in ``lang``, from ``standards`` (default: the bundled profile).

    See :meth:`renogis.standards.Standards.category_name`; unknown keys come back unchanged.
    """
    return (standards or default_standards()).category_name(key, lang)


def value_label(column: str, value: object, lang: str) -> object:
    """A cell of ``column`` as a person reads it in ``lang`` (numbers and free text unchanged)."""
    i = 0 if check_lang(lang) == "zh" else 1
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return value
    if isinstance(value, (bool, np.bool_)):
        return _BOOL[bool(value)][i]
    if column == schema.CATEGORY:
        return category_name(value, lang)
    if column == schema.FLAGS:
        parts = [p for p in str(value).split(";") if p]
        sep = "；" if lang == "zh" else "; "
        return sep.join(_FLAGS.get(p, (p, p))[i] for p in parts)
    if column == schema.METHOD and (m := _STRAIGHT.match(str(value))):
        return f"直线距离×{m.group(1)}" if lang == "zh" else f"straight line x {m.group(1)}"
    if column == schema.EXCLUDED_REASON and lang == "zh":
        out = []
        for part in str(value).split("; "):
            for pattern, repl in _EXCLUDED_ZH:
                if pattern.match(part):
                    part = pattern.sub(repl, part)
                    break
            out.append(part)
        return "；".join(out)
    codes = _CODES.get(column)
    if codes is not None and str(value) in codes:
        return codes[str(value)][i]
    return value


def localise_table(df: pd.DataFrame, lang: str, *, replace: Mapping[str, pd.Series] | None = None
                   ) -> pd.DataFrame:
    """The table a person reads: headers, codes, flags, units and booleans in ``lang``.

    Parameters
    ----------
    df : pandas.DataFrame
        A table with canonical columns (a GeoDataFrame loses its geometry).
    lang : {"zh", "en"}
    replace : mapping of str to Series, optional
        Whole columns already worded by the caller (e.g. the Chinese ``reason``),
        aligned to ``df``.

    Returns
    -------
    pandas.DataFrame
        A copy; numbers stay numbers.
    """
    check_lang(lang)
    out = pd.DataFrame(df.drop(columns=[c for c in df.columns if c == schema.GEOMETRY]))
    for col in out.columns:
        if replace and col in replace:
            out[col] = replace[col].to_numpy()
            continue
        s = out[col]
        present = pd.unique(s.dropna().astype(object)) if s.dtype == object else ()
        is_bool = s.dtype.kind == "b" or str(s.dtype) == "boolean" or (
            len(present) > 0 and all(isinstance(v, (bool, np.bool_)) for v in present))
        if is_bool or col in (schema.CATEGORY, schema.FLAGS, schema.METHOD, schema.EXCLUDED_REASON) or (
                col in _CODES):
            uniq = pd.unique(s.astype(object))
            mapping = {u: value_label(col, u, lang) for u in uniq if not pd.isna(u)}
            # every distinct value is in the mapping: a dict lookup per row, no Python call
            out[col] = s.astype(object).map(mapping).astype(object).where(s.notna().to_numpy(), None)
    out.columns = [column_label(str(c), lang) for c in out.columns]
    return out


def data_dictionary(tables: Mapping[str, Iterable[str]]) -> str:
    """``columns.md``: every column of every machine output with its labels, unit and meaning.

    Parameters
    ----------
    tables : mapping of str to iterable of str
        Output file (or ``file [layer]``) -> its canonical columns.
    """
    lines = [
        "# Columns / 字段说明",
        "",
        "Machine outputs (CSV, GeoPackage, JSON) always use the canonical column names and codes below, "
        "whatever `--lang`; XLSX and Markdown sheets use the Chinese or English label.",
        "",
        "机器读取的输出（CSV、GeoPackage、JSON）无论 `--lang` 如何均使用下表的标准列名和代码；"
        "XLSX 与 Markdown 报表使用中文或英文标签。",
        "",
    ]
    for table, cols in tables.items():
        lines += [f"## {table}", "", "| column 列名 | 中文 | English | meaning 含义 |", "|---|---|---|---|"]
        for c in cols:
            if c == schema.GEOMETRY:
                continue
            zh, en = column_label(c, "zh"), column_label(c, "en")
            meaning = COLUMNS[c][2] if c in COLUMNS else ""
            if not meaning and (wide := _wide_parts(c)) is not None:
                meaning = {schema.DISTANCE_M: "walking distance to the nearest facility of the category, m",
                           schema.WITHIN_RADIUS: "nearest facility within the category's radius",
                           schema.HOUSEHOLDS_COVERED: "households covered (the whole compound or none)"
                           }[wide[1]]
            meaning = meaning or "passed through from the input 输入原样保留"
            lines.append(f"| `{c}` | {zh} | {en} | {meaning} |")
        lines.append("")
    lines += ["## Codes / 代码", "", "| column 列名 | code 代码 | 中文 | English |", "|---|---|---|---|"]
    for col, codes in [(schema.FLAGS, _FLAGS), *_CODES.items()]:
        for code, (zh, en) in codes.items():
            lines.append(f"| `{col}` | `{code}` | {zh} | {en} |")
    for key in schema.CATEGORIES:
        lines.append(f"| `{schema.CATEGORY}` | `{key}` | {category_name(key, 'zh')} | {category_name(key, 'en')} |")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- proposal sheets
def gap_lines(gaps: pd.DataFrame, *, standards: Any, lang: str = "zh") -> dict[str, list[str]]:
    """Per district, one line per category whose households are not all covered after merging.

    Lines for the district proposal sheets, e.g.
    ``"托儿所 (300 m): 1,200 of 1,759 households uncovered after merging (before: 1,450)"``,
    after a first line saying what "after merging" means (walked through the opened walls);
    a category without data gets a "no data" line instead of figures.

    Parameters
    ----------
    gaps : pandas.DataFrame
        The table of :func:`renogis.access.compute_gaps` (canonical column names).
    standards : Standards
        For the category names and radii.
    lang : {"zh", "en"}
    """
    if gaps is None or not len(gaps):
        return {}
    d = gaps[gaps[schema.LEVEL] == schema.LEVEL_DISTRICT]
    out: dict[str, list[str]] = {}
    for row in d.itertuples(index=False):
        rec = row._asdict()
        cat = rec[schema.CATEGORY]
        rule = standards.categories.get(cat)
        name = category_name(cat, lang, standards)
        radius = (f"{rule.radius_m:,.0f} 米" if lang == "zh" else f"{rule.radius_m:,.0f} m") if (
            rule is not None) else ""
        if rec.get(schema.DATA_STATUS) == schema.METHOD_NO_DATA:
            out.setdefault(str(rec[schema.UNIT_ID]), []).append(
                f"{name}（{radius}）：无数据（缺少设施图层或标记为无数据），不计覆盖与缺口" if lang == "zh"
                else f"{name} ({radius}): no data (no facilities layer, or marked as not recorded); "
                "no coverage or shortfall given")
            continue
        unc_after = rec.get(schema.UNCOVERED_HOUSEHOLDS_MERGED)
        if unc_after is None or pd.isna(unc_after) or unc_after <= 0:
            continue
        hh = rec[schema.HOUSEHOLDS]
        before = rec.get(schema.HOUSEHOLDS_UNCOVERED)
        short = rec.get(schema.SHORTFALL)
        if lang == "zh":
            line = (f"{name}（{radius}）：{hh:,.0f} 户中 {unc_after:,.0f} 户统筹后仍未覆盖（统筹前 {before:,.0f} 户）")
            if short is not None and not pd.isna(short) and short > 0:
                unit = value_label(schema.DEMAND_UNIT, rec.get(schema.DEMAND_UNIT) or "", "zh")
                line += f"，缺口 {short:,.0f} {unit}".rstrip()
        else:
            line = (f"{name} ({radius}): {unc_after:,.0f} of {hh:,.0f} households uncovered after merging "
                    f"(before: {before:,.0f})")
            if short is not None and not pd.isna(short) and short > 0:
                unit = value_label(schema.DEMAND_UNIT, rec.get(schema.DEMAND_UNIT) or "", "en")
                line += f", shortfall {short:,.0f} {unit}".rstrip()
        out.setdefault(str(rec[schema.UNIT_ID]), []).append(line)
    note = ("统筹后：打通片区内相邻且未被道路分隔的小区之间的围墙后，按实际步行距离重新计算（不是“片区内任一小区覆盖即全覆盖”）"
            if lang == "zh" else
            "after merging: walking distances recomputed with the walls opened between members that share "
            "a boundary not separated by a street (not 'covered if any member is')")
    return {did: [note, *lines] for did, lines in out.items()}


# --------------------------------------------------------------------------- district reasons
def district_reason(row: Mapping[str, Any], *, min_households: int, max_households: int, lang: str,
                    soft_classes: Sequence[str] = (), max_span_m: float | None = None) -> str:
    """Why a district is as it is, from its flags and figures: the one rule set, in ``lang``.

    ``row`` holds ``n_compounds``, ``households``, ``group_households``, ``wall_m`` and ``flags``
    of a row of :attr:`renogis.districting.DistrictResult.districts`.

    Examples
    --------
    >>> row = {"n_compounds": 3, "households": 900, "group_households": 900, "wall_m": 250.4,
    ...        "flags": "below_min"}
    >>> district_reason(row, min_households=1500, max_households=4000, lang="en")
    '3 adjacent compounds merged along 250 m of shared walls; below_min: 900 households < 1,500; the whole connected group has only 900 households (barriers, subdistrict lines, distance or excluded compounds cut it off)'
    >>> district_reason(row, min_households=1500, max_households=4000, lang="zh")
    '3 个相邻小区沿 250 m 共享围墙合并；户数 900 低于下限 1,500：所在连通组团共仅 900 户（被屏障、街道界线、距离或排除的小区隔开）'
    """
    from renogis.districting import (
        FLAG_ABOVE_MAX,
        FLAG_BELOW_MIN,
        FLAG_KEEP_APART,
        FLAG_KEEP_TOGETHER,
        FLAG_SOFT_BARRIER,
        GROUP_HOUSEHOLDS,
        N_COMPOUNDS,
        WALL_M,
    )

    zh = check_lang(lang) == "zh"
    lo, hi = int(min_households), int(max_households)
    n, h, wall = int(row[N_COMPOUNDS]), int(row[schema.HOUSEHOLDS]), float(row[WALL_M])
    gh = int(row.get(GROUP_HOUSEHOLDS, h))
    flags = set(str(row.get(schema.FLAGS) or "").split(";"))
    if zh:
        length = f"{wall / 1000:.1f} km" if wall >= 1000 else f"{wall:,.0f} m"
        parts = [f"{n} 个相邻小区沿 {length} 共享围墙合并" if n > 1 else "单个小区"]
    else:
        parts = [f"{n} adjacent compounds merged along {wall:,.0f} m of shared walls" if n > 1
                 else "single compound"]
    if FLAG_BELOW_MIN in flags:
        parts.append(_below_min_reason(h, gh, lo, hi, zh, max_span_m))
    elif FLAG_ABOVE_MAX in flags:
        if n == 1:
            parts.append(f"单个小区 {h:,} 户超过上限 {hi:,}，单独成片" if zh else
                         f"above_max: one compound with {h:,} households > {hi:,}; kept on its own")
        else:
            parts.append(f"户数 {h:,} 超过上限 {hi:,}，因规划指定必须合并的小区组" if zh else
                         f"above_max: {h:,} households > {hi:,} because of a keep_together group")
    else:
        parts.append(f"户数 {h:,} 在 {lo:,}–{hi:,} 之间" if zh else f"{h:,} households within {lo:,}-{hi:,}")
    if FLAG_KEEP_TOGETHER in flags:
        parts.append("包含规划指定必须合并的小区组" if zh else "holds a keep_together group (planner rule)")
    if FLAG_KEEP_APART in flags:
        parts.append("已遵守规划指定不得同片的约束" if zh else
                     "holds a keep_apart compound (planner rule respected)")
    if FLAG_SOFT_BARRIER in flags:
        classes = "/".join(_STREET_CLASS_ZH.get(c, c) if zh else c for c in soft_classes)
        parts.append(f"跨越{classes or '软屏障道路'}（软屏障）：不跨越则无法形成户数在区间内的片区" if zh else
                     f"crosses a {classes or 'soft-barrier'} street (soft barrier): no in-band district was "
                     "possible without crossing it")
    return ("；" if zh else "; ").join(parts)


_STREET_CLASS_ZH: Final = {"arterial": "主干路", "secondary": "次干路", "local": "支路", "path": "步行道"}


def _below_min_reason(h: int, gh: int, lo: int, hi: int, zh: bool, max_span_m: float | None) -> str:
    if gh < lo:
        return (f"户数 {h:,} 低于下限 {lo:,}：所在连通组团共仅 {gh:,} 户（被屏障、街道界线、距离或排除的小区隔开）"
                if zh else
                f"below_min: {h:,} households < {lo:,}; the whole connected group has only {gh:,} households "
                "(barriers, subdistrict lines, distance or excluded compounds cut it off)")
    if zh:
        span = f"或跨度超过 {max_span_m:,.0f} 米" if max_span_m is not None else ""
        return f"户数 {h:,} 低于下限 {lo:,}：与相邻片区合并或调整会超过上限 {hi:,}{span}或违反规划约束"
    span = f" or span more than {max_span_m:,.0f} m" if max_span_m is not None else ""
    return (f"below_min: {h:,} households < {lo:,}; every adjacent district would exceed {hi:,} or fall "
            f"below {lo:,}{span} (or break a planner rule) if merged or rebalanced")


def district_reasons(districts: pd.DataFrame, parameters: Mapping[str, Any], lang: str) -> pd.Series:
    """:func:`district_reason` of every row of a district table (index kept)."""
    kw = {"min_households": int(parameters.get("min_households", 0)),
          "max_households": int(parameters.get("max_households", 0)),
          "soft_classes": tuple(parameters.get("soft_barrier_classes", ()) or ()),
          "max_span_m": parameters.get("max_span_m"), "lang": lang}
    rows = districts.drop(columns=[c for c in districts.columns if c == "geometry"]).to_dict("records")
    return pd.Series([district_reason(r, **kw) for r in rows], index=districts.index, dtype=object)
