"""The siting plan in words and files: proposal-sheet lines (zh/en) and the plan tables.

:func:`renogis.siting.site_facilities` returns the plan as data; this module words it
for the district proposal sheets (:func:`siting_lines`) and writes it
(:func:`write_siting_tables`).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd

from renogis import schema
from renogis._errors import InputError
from renogis.outputs.wording import category_name
from renogis.siting import (
    CAPACITY,
    CAPACITY_UNIT,
    CUMULATIVE_COVERAGE,
    NEWLY_COVERED_HOUSEHOLDS,
    SitingPlan,
)

__all__ = ["siting_lines", "write_siting_tables"]


def _households_text(value: float) -> str:
    # whole households credited, rounded down: a site is never credited beyond its capacity
    return f"{int(math.floor(float(value) + 1e-6)):,}"


#: Capacity units in the proposal sheets: zh, en.
_UNIT_TEXT: dict[str, tuple[str, str]] = {
    "seats": ("个座位", "seats"),
    "beds": ("张床位", "beds"),
    "places": ("个托位", "places"),
    "m2": ("m²", "m²"),
    "spaces": ("个车位", "spaces"),
    "points": ("个充电桩", "charging points"),
    "households": ("户", "households"),
}


def _capacity_text(capacity: Any, unit: Any, lang: str) -> str:
    try:
        cap = float(capacity)
    except (TypeError, ValueError):
        return ""
    if not math.isfinite(cap):
        return ""
    zh, en = _UNIT_TEXT.get(str(unit), (str(unit), str(unit)))
    num = f"{cap:,.0f}"
    return f"（容量 {num} {zh}）" if lang == "zh" else f" (capacity {num} {en})"


def siting_lines(plan: SitingPlan | pd.DataFrame, *, lang: str = "zh") -> dict[Any, list[str]]:
    """Lines for the district proposal sheets, grouped by district.

    Parameters
    ----------
    plan : SitingPlan or DataFrame
        A siting plan (or its ``plan`` table).
    lang : {"zh", "en"}
        Language of the lines.

    Returns
    -------
    dict
        ``district_id -> lines`` in siting order; parcels without a district are
        under the key ``None``.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"parcel_id": ["P012"], "category": ["nursery"], "district_id": ["D1"],
    ...                   "newly_covered_households": [1230.0]})
    >>> siting_lines(t, lang="en")
    {'D1': ['Nursery (age 0-3) on parcel P012: covers 1,230 more households']}
    >>> siting_lines(t)
    {'D1': ['托儿所 设于地块 P012：新增覆盖 1,230 户']}
    """
    if lang not in ("zh", "en"):
        raise InputError(f"unknown language {lang!r}; use 'zh' or 'en'")
    table = plan.plan if isinstance(plan, SitingPlan) else plan
    out: dict[Any, list[str]] = {}
    if len(table) == 0:
        return out
    dist = (
        table[schema.DISTRICT_ID]
        if schema.DISTRICT_ID in table.columns
        else pd.Series([None] * len(table), index=table.index)
    )
    cap = table[CAPACITY] if CAPACITY in table.columns else pd.Series([None] * len(table))
    unit = table[CAPACITY_UNIT] if CAPACITY_UNIT in table.columns else pd.Series([""] * len(table))
    for d, p, c, n, q, u in zip(
        dist,
        table[schema.PARCEL_ID],
        table[schema.CATEGORY],
        table[NEWLY_COVERED_HOUSEHOLDS],
        cap,
        unit,
        strict=True,
    ):
        key = None if d is None or (isinstance(d, float) and math.isnan(d)) else d
        if lang == "zh":
            line = f"{category_name(c, 'zh')} 设于地块 {p}：新增覆盖 {_households_text(n)} 户"
        else:
            line = f"{category_name(c, 'en')} on parcel {p}: covers {_households_text(n)} more households"
        line += _capacity_text(q, u, lang)
        out.setdefault(key, []).append(line)
    return out


def write_siting_tables(plan: SitingPlan | pd.DataFrame, out_dir: str | Path, *,
                        lang: str | None = "zh") -> list[Path]:
    """Write ``siting_plan.csv`` (canonical, UTF-8 with BOM) and ``siting_plan.xlsx`` (worded in ``lang``).

    Columns: ``parcel_id``, ``category``, ``newly_covered_households``,
    ``cumulative_coverage`` first, then the other plan columns (no geometry). ``lang=None``
    keeps the canonical headers in the XLSX too.

    Returns
    -------
    list of Path
        The files written.
    """
    from renogis.outputs.tables import write_table

    table = plan.plan if isinstance(plan, SitingPlan) else plan
    first = [schema.PARCEL_ID, schema.CATEGORY, NEWLY_COVERED_HOUSEHOLDS, CUMULATIVE_COVERAGE]
    missing = [c for c in first if c not in table.columns]
    if missing:
        raise InputError(
            f"siting plan: missing column(s) {', '.join(missing)}; expected {', '.join(first)}"
        )
    cols = first + [c for c in table.columns if c not in first and c != schema.GEOMETRY]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return write_table(pd.DataFrame(table[cols]), out / "siting_plan", sheet_name="siting_plan", lang=lang)
