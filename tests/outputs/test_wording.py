"""The words of district flags: one rule set, in Chinese and English."""

from renogis.outputs.wording import district_reason

ROW = {"n_compounds": 2, "households": 1200, "group_households": 2600, "wall_m": 1250.0,
       "flags": "below_min;soft_barrier"}
KW = {"min_households": 1500, "max_households": 4000, "soft_classes": ("secondary",), "max_span_m": 300.0}


def test_english_reason_names_span_and_soft_barrier():
    assert district_reason(ROW, lang="en", **KW) == (
        "2 adjacent compounds merged along 1,250 m of shared walls; below_min: 1,200 households < 1,500; "
        "every adjacent district would exceed 4,000 or fall below 1,500 or span more than 300 m (or break a "
        "planner rule) if merged or rebalanced; crosses a secondary street (soft barrier): no in-band "
        "district was possible without crossing it")


def test_chinese_reason_says_the_same():
    # the Chinese sheets used to leave out the span limit and the soft-barrier crossing
    assert district_reason(ROW, lang="zh", **KW) == (
        "2 个相邻小区沿 1.2 km 共享围墙合并；户数 1,200 低于下限 1,500：与相邻片区合并或调整会超过上限 4,000"
        "或跨度超过 300 米或违反规划约束；跨越次干路（软屏障）：不跨越则无法形成户数在区间内的片区")


def test_single_compound_above_max_and_planner_rules():
    row = {"n_compounds": 1, "households": 5000, "wall_m": 0.0, "flags": "above_max;keep_apart"}
    kw = {"min_households": 1500, "max_households": 4000}
    assert district_reason(row, lang="en", **kw) == (
        "single compound; above_max: one compound with 5,000 households > 4,000; kept on its own; "
        "holds a keep_apart compound (planner rule respected)")
    assert district_reason(row, lang="zh", **kw) == (
        "单个小区；单个小区 5,000 户超过上限 4,000，单独成片；已遵守规划指定不得同片的约束")
