"""Property-management viability of compounds alone and of merged districts.

One professional property manager runs one site. A compound alone is one site; a merged
district, whose inner walls are opened, is run as one site with one office and one staffed
main entrance. Per site and month (parameters in the cost file, :class:`renogis.costs.PropertyModel`)::

    cost   = fixed_per_site + per_household x households + per_m2 x floor_area_m2
    income = floor_area_m2 x fee x collection_rate
    break-even fee = cost / (floor_area_m2 x collection_rate)      (yuan per m² and month)

A district is ``viable_only_merged`` when its merged break-even fee is at most the fee
residents pay (the option) while at least one member compound alone is above it: merging is
what makes professional management affordable (the Zhengzhou Erqi and Xuecheng finding).

:func:`break_even` is the matrix core (arrays in, arrays out); :func:`assess_viability` is the
GeoDataFrame adapter.

Examples
--------
>>> from renogis.costs import load_costs
>>> m = load_costs().property
>>> round(float(break_even([195], [18500.0], model=m)[0]), 3)
1.169
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from renogis._errors import InputError
from renogis.costs import PropertyModel
from renogis.schema import (
    BREAK_EVEN_FEE,
    COMPOUND_ID,
    COST_YUAN_MONTH,
    DISTRICT_ID,
    FLOOR_AREA_M2,
    HOUSEHOLDS,
    INCOME_YUAN_MONTH,
    N_COMPOUNDS,
    VIABLE_ALONE,
    VIABLE_MERGED,
    VIABLE_ONLY_MERGED,
)

logger = logging.getLogger(__name__)

__all__ = [
    "site_cost",
    "break_even",
    "assess_viability",
    "Viability",
    "COMPOUND_COLUMNS",
    "DISTRICT_COLUMNS",
    "GROUP",
    "BREAK_EVEN_MIN",
    "BREAK_EVEN_MAX",
    "MEMBERS_VIABLE_ALONE",
    "COST_ALONE_YUAN_MONTH",
    "FEE",
    "COLLECTION_RATE",
]

GROUP = "group"
BREAK_EVEN_MIN = "break_even_fee_alone_min"
BREAK_EVEN_MAX = "break_even_fee_alone_max"
MEMBERS_VIABLE_ALONE = "members_viable_alone"
COST_ALONE_YUAN_MONTH = "cost_alone_yuan_month"
FEE = "fee_yuan_m2_month"
COLLECTION_RATE = "collection_rate"

COMPOUND_COLUMNS = (
    COMPOUND_ID,
    DISTRICT_ID,
    HOUSEHOLDS,
    FLOOR_AREA_M2,
    COST_YUAN_MONTH,
    INCOME_YUAN_MONTH,
    BREAK_EVEN_FEE,
    VIABLE_ALONE,
)
DISTRICT_COLUMNS = (
    GROUP,
    N_COMPOUNDS,
    HOUSEHOLDS,
    FLOOR_AREA_M2,
    COST_ALONE_YUAN_MONTH,
    COST_YUAN_MONTH,
    INCOME_YUAN_MONTH,
    BREAK_EVEN_FEE,
    BREAK_EVEN_MIN,
    BREAK_EVEN_MAX,
    MEMBERS_VIABLE_ALONE,
    VIABLE_MERGED,
    VIABLE_ONLY_MERGED,
    FEE,
    COLLECTION_RATE,
)


def site_cost(
    households: npt.ArrayLike, floor_area_m2: npt.ArrayLike, *, model: PropertyModel, sites: npt.ArrayLike = 1
) -> np.ndarray:
    """Monthly cost (yuan) of managing ``sites`` sites with these households and floor area."""
    hh = np.asarray(households, dtype=float)
    fa = np.asarray(floor_area_m2, dtype=float)
    return (
        np.asarray(sites, dtype=float) * model.fixed_yuan_per_site_month
        + model.per_household_yuan_month * hh
        + model.per_m2_yuan_month * fa
    )


def break_even(
    households: npt.ArrayLike, floor_area_m2: npt.ArrayLike, *, model: PropertyModel
) -> np.ndarray:
    """Fee (yuan per m² and month) at which one site's income equals its cost.

    NaN where the floor area is missing or zero.
    """
    fa = np.asarray(floor_area_m2, dtype=float)
    cost = site_cost(households, fa, model=model)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(fa > 0, cost / (fa * model.collection_rate), np.nan)


@dataclass(frozen=True)
class Viability:
    """Result of :func:`assess_viability`.

    Attributes
    ----------
    compounds : pandas.DataFrame
        One row per compound (:data:`COMPOUND_COLUMNS` plus the group column used).
    groups : pandas.DataFrame
        One row per group (district), :data:`DISTRICT_COLUMNS`; ``group`` holds its id.
    model : PropertyModel
        Parameters used.
    missing_floor_area : tuple of str
        Compounds without floor area (their figures are missing, and so are their district's).
    """

    compounds: pd.DataFrame
    groups: pd.DataFrame
    model: PropertyModel
    missing_floor_area: tuple[str, ...] = ()


def assess_viability(compounds: pd.DataFrame, *, model: PropertyModel, by: str = DISTRICT_ID) -> Viability:
    """Break-even property fee of each compound alone and of each group merged.

    Parameters
    ----------
    compounds : DataFrame
        ``compound_id``, ``households``, ``floor_area_m2`` and the column ``by``; rows whose
        ``by`` is missing (excluded compounds) are assessed alone only.
    model : PropertyModel
        Fee, collection rate and staffing model (from the cost file).
    by : str
        Column grouping compounds into sites when merged (default ``district_id``; the sample's
        ``area`` column gives the planning areas, e.g. 国浩美都片区).

    Returns
    -------
    Viability

    Examples
    --------
    >>> import pandas as pd
    >>> from renogis.costs import load_costs
    >>> c = pd.DataFrame({"compound_id": ["A", "B"], "households": [100, 100],
    ...                   "floor_area_m2": [10000.0, 10000.0], "district_id": ["D1", "D1"]})
    >>> v = assess_viability(c, model=load_costs().property)
    >>> v.compounds["break_even_fee"].round(3).tolist(), round(float(v.groups["break_even_fee"][0]), 3)
    ([1.859, 1.859], 1.094)
    """
    if FLOOR_AREA_M2 not in compounds.columns:  # no floor areas at all: every figure is missing
        compounds = compounds.assign(**{FLOOR_AREA_M2: np.nan})
    for col in (COMPOUND_ID, HOUSEHOLDS, by):
        if col not in compounds.columns:
            raise InputError(
                f"compounds: column {col!r} missing; viability needs compound_id, households "
                "and the grouping column"
            )
    c = pd.DataFrame(
        {
            COMPOUND_ID: compounds[COMPOUND_ID].astype(str).to_numpy(),
            GROUP: compounds[by].to_numpy(),
            HOUSEHOLDS: pd.to_numeric(compounds[HOUSEHOLDS], errors="coerce").to_numpy(dtype=float),
            FLOOR_AREA_M2: pd.to_numeric(compounds[FLOOR_AREA_M2], errors="coerce").to_numpy(dtype=float),
        }
    )
    c, missing = _alone(c, model)
    t = _merged(c[c[GROUP].notna()], model)
    out_c = c.rename(columns={GROUP: by})
    cols = [COMPOUND_ID, by] + [x for x in COMPOUND_COLUMNS if x not in (COMPOUND_ID, DISTRICT_ID)]
    n_only = int(t[VIABLE_ONLY_MERGED].fillna(False).sum())
    logger.info(
        "viability at %.2f yuan/m2: %d of %d groups viable merged, %d only when merged",
        model.fee_yuan_m2_month,
        int(t[VIABLE_MERGED].fillna(False).sum()),
        len(t),
        n_only,
    )
    return Viability(compounds=out_c[cols], groups=t, model=model, missing_floor_area=missing)


def _alone(c: pd.DataFrame, model: PropertyModel) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """Each compound as its own site: cost, income, break-even fee, viable; and the ids without floor area."""
    c = c.copy()
    fee, rate = model.fee_yuan_m2_month, model.collection_rate
    bad = ~(c[FLOOR_AREA_M2] > 0)
    missing = tuple(c.loc[bad, COMPOUND_ID])
    if missing:
        logger.warning(
            "viability: %d compounds without floor area (%s); their break-even fee and their "
            "district's are left empty",
            len(missing),
            ", ".join(missing[:5]),
        )
    c[COST_YUAN_MONTH] = site_cost(c[HOUSEHOLDS], c[FLOOR_AREA_M2], model=model)
    c[INCOME_YUAN_MONTH] = c[FLOOR_AREA_M2] * fee * rate
    c[BREAK_EVEN_FEE] = break_even(c[HOUSEHOLDS], c[FLOOR_AREA_M2], model=model)
    c[VIABLE_ALONE] = (c[BREAK_EVEN_FEE] <= fee + 1e-12).where(~bad, pd.NA).astype("boolean")
    c.loc[bad, [COST_YUAN_MONTH, INCOME_YUAN_MONTH]] = np.nan
    return c, missing


def _merged(members: pd.DataFrame, model: PropertyModel) -> pd.DataFrame:
    """Each group as one site (:data:`DISTRICT_COLUMNS`); figures empty where a member lacks floor area."""
    fee, rate = model.fee_yuan_m2_month, model.collection_rate
    g = members.groupby(GROUP, sort=False)
    t = pd.DataFrame(
        {
            N_COMPOUNDS: g.size(),
            HOUSEHOLDS: g[HOUSEHOLDS].sum(),
            FLOOR_AREA_M2: g[FLOOR_AREA_M2].sum(min_count=1),
            COST_ALONE_YUAN_MONTH: g[COST_YUAN_MONTH].sum(min_count=1),
            BREAK_EVEN_MIN: g[BREAK_EVEN_FEE].min(),
            BREAK_EVEN_MAX: g[BREAK_EVEN_FEE].max(),
            MEMBERS_VIABLE_ALONE: g[VIABLE_ALONE].sum(),
        }
    )
    incomplete = g[FLOOR_AREA_M2].apply(lambda s: bool((~(s > 0)).any())).to_numpy(dtype=bool)
    t[COST_YUAN_MONTH] = site_cost(t[HOUSEHOLDS], t[FLOOR_AREA_M2], model=model)
    t[INCOME_YUAN_MONTH] = t[FLOOR_AREA_M2] * fee * rate
    t[BREAK_EVEN_FEE] = break_even(t[HOUSEHOLDS], t[FLOOR_AREA_M2], model=model)
    t.loc[
        incomplete,
        [
            COST_ALONE_YUAN_MONTH,
            COST_YUAN_MONTH,
            INCOME_YUAN_MONTH,
            BREAK_EVEN_FEE,
            BREAK_EVEN_MIN,
            BREAK_EVEN_MAX,
        ],
    ] = np.nan
    merged_ok = t[BREAK_EVEN_FEE] <= fee + 1e-12
    t[VIABLE_MERGED] = merged_ok.where(~incomplete, pd.NA).astype("boolean")
    only = merged_ok & (t[MEMBERS_VIABLE_ALONE] < t[N_COMPOUNDS])
    t[VIABLE_ONLY_MERGED] = only.where(~incomplete, pd.NA).astype("boolean")
    t[FEE] = fee
    t[COLLECTION_RATE] = rate
    return t.rename_axis(GROUP).reset_index()[list(DISTRICT_COLUMNS)]
