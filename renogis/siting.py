"""Site missing facilities on idle parcels (maximal covering with capacity and co-location).

In the manner of spopt, the module is a thin GeoDataFrame adapter over an optimisation
core on plain matrices, :mod:`renogis.cover`:

* :func:`site_facilities` builds the joint siting problem (:class:`~renogis.cover.SiteOptions`:
  every parcel x category option at once) from the walk network (compounds that are not
  within a category's radius in the access table are its demand, idle parcels large
  enough for the facility its options), solves it with :func:`~renogis.cover.greedy_site`
  (lazy greedy plus deterministic improvement re-runs; the fast default) or
  :func:`~renogis.cover.exact_site` (a mixed-integer programme in HiGHS), and returns a
  :class:`SitingPlan`;
* the cores themselves (:func:`greedy_max_cover`, :func:`exact_max_cover`,
  :func:`greedy_site`, :func:`exact_site` and their results) are importable from here too.

The plan is data: :mod:`renogis.outputs.siting` words it (``siting_lines``) and writes
it (``write_siting_tables``).

Capacity model
--------------
A new facility's capacity follows from the area it takes and the standards
(``[categories.<key>.site]`` in the standards file): ``units = area / m2_per_unit``
(seats, beds, places, spaces, or m² when the demand is in m²; m² of building on an
idle building, of land on vacant land), whole units for seats, beds, places and
spaces; its area lies between the standard's minimum size and the smaller of the
parcel's area and the standard's maximum size. A compound's demand in units is
``standards.demand`` (population when given, else households x persons per household).
A site is credited with the households it serves, never more than its capacity: a
compound's demand may be split between several sites (fractional service), and the
households served are ``units served / demand per household``. A facility is sized to
what it serves (at least its minimum), so the rest of a parcel stays free for others.
The shortfall (demand in units of the households left without a facility within the
radius) is reported before and after each site. A category whose rule gives no area
per unit (a user file without a ``site`` table) is credited without a capacity limit,
with a warning; ``capacity_households=`` overrides the capacity per site.

Parcel eligibility and shared parcels
-------------------------------------
``vacant_land`` parcels are measured by their land area ``area_m2`` against
``min_land_m2`` (falling back to ``min_building_m2`` when the rule gives only a
building size: the building is then assumed to be single-storey). ``idle_building``
parcels are measured by ``floor_area_m2`` (or ``area_m2`` when the floor area is
missing) against ``min_building_m2``; a category with a land minimum but no
building minimum (an outdoor ground) cannot go into an idle building. A rule
without any minimum accepts every parcel (minimum 0 m2). A parcel hosts several
facilities only if the sum of their areas fits in it AND each of them may share:
a category with ``site.independent = true`` (kindergarten, schools, nursing home)
takes a parcel for itself. One parcel hosts at most one facility per category.
All categories are sited together (one problem), so the plan credits the most
households in all; ties are broken by category (:data:`SITING_PRIORITY`) and then
parcel id, never by the input's row order (inputs are sorted by id first).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp

from renogis import schema
from renogis._errors import CRSError, InputError
from renogis.cover import (
    GREEDY_RESTARTS,
    CoverResult,
    SiteOptions,
    SiteSolution,
    exact_max_cover,
    exact_site,
    greedy_max_cover,
    greedy_site,
    relative_gap,
)
from renogis.network import distance_matrix

logger = logging.getLogger(__name__)

__all__ = [
    "CoverResult",
    "SiteOptions",
    "SiteSolution",
    "SitingPlan",
    "SITING_PRIORITY",
    "NOT_SITED_BY_DEFAULT",
    "greedy_max_cover",
    "exact_max_cover",
    "greedy_site",
    "exact_site",
    "GREEDY_RESTARTS",
    "relative_gap",
    "site_capacity_households",
    "site_facilities",
    "summary_record",
]

#: Order in which categories claim parcels: one for the old, one for the young, then
#: the daily services. Categories not listed follow in alphabetical order.
#: Categories left out unless asked for by name: schools are planned by the education
#: authority at the 10-/15-minute level and the standards give them no site size, so any
#: idle parcel would "fit" and the plan would put a school on a 700 m2 corner.
NOT_SITED_BY_DEFAULT: tuple[str, ...] = ("primary_school", "middle_school")

SITING_PRIORITY: tuple[str, ...] = (
    "elderly_day_care",
    "nursery",
    "kindergarten",
    "canteen",
    "service_station",
    "clinic",
    "culture_station",
    "fitness",
    "food_market",
    "convenience_store",
    "public_toilet",
    "sports_ground",
    "health_center",
    "elderly_home",
    "parking",
    "ev_charging",
    "primary_school",
    "middle_school",
)

# output columns
NEWLY_COVERED_HOUSEHOLDS = schema.NEWLY_COVERED_HOUSEHOLDS
CUMULATIVE_COVERAGE = schema.CUMULATIVE_COVERAGE
MIN_AREA_M2 = "min_area_m2"
PARCEL_AREA_M2 = "parcel_area_m2"
PICK = "pick"
CAPACITY = schema.CAPACITY
CAPACITY_UNIT = "capacity_unit"
CAPACITY_HOUSEHOLDS = "capacity_households"
SHORTFALL_BEFORE = "shortfall_before"
SHORTFALL_AFTER = "shortfall_after"
FACILITY_AREA_M2 = "facility_area_m2"
REMAINING_AREA_M2 = "remaining_area_m2"
INDEPENDENT_SITE = "independent_site"
# access table columns (written by renogis.access)
DISTANCE_M = schema.DISTANCE_M
RADIUS_M = schema.RADIUS_M
WITHIN_RADIUS = schema.WITHIN_RADIUS
METHOD = schema.METHOD

VACANT_LAND, IDLE_BUILDING = schema.PARCEL_KINDS

_METHODS = ("greedy", "exact", "both")


#: Columns of the plan table, in order (then the geometry).
_PLAN_COLUMNS = [
    schema.PARCEL_ID,
    schema.CATEGORY,
    PICK,
    schema.DISTRICT_ID,
    NEWLY_COVERED_HOUSEHOLDS,
    CUMULATIVE_COVERAGE,
    CAPACITY,
    CAPACITY_UNIT,
    CAPACITY_HOUSEHOLDS,
    SHORTFALL_BEFORE,
    SHORTFALL_AFTER,
    FACILITY_AREA_M2,
    MIN_AREA_M2,
    PARCEL_AREA_M2,
    REMAINING_AREA_M2,
    INDEPENDENT_SITE,
    schema.KIND,
    METHOD,
]


# --------------------------------------------------------------------------- plan, capacity
@dataclass(frozen=True, eq=False)
class SitingPlan:
    """Proposed facility sites.

    Attributes
    ----------
    plan : geopandas.GeoDataFrame
        One row per (parcel, category) site, by category in :data:`SITING_PRIORITY` order
        and then in the solver's order (greedy: pick order; exact: households credited,
        largest first): ``parcel_id``, ``category``, ``pick`` (1-based rank within the
        category), ``district_id`` (of the parcel when districts were given, else
        missing), ``newly_covered_households`` (households credited to the site, never
        more than its capacity), ``cumulative_coverage`` (share of ALL the category's
        households in the access table covered before or by the sites so far),
        ``capacity`` (in ``capacity_unit``: seats, beds, places, m², spaces, points;
        ``households`` for a ``capacity_households=`` override; missing when
        uncapacitated), ``capacity_households`` (households the site can serve),
        ``shortfall_before`` / ``shortfall_after`` (the category's demand in
        ``capacity_unit`` of the households without a facility within the radius,
        before and after this site), ``facility_area_m2`` (area the facility takes),
        ``min_area_m2`` (the standard's minimum), ``parcel_area_m2`` (the parcel's
        usable area: land for vacant land, floor area for idle buildings),
        ``remaining_area_m2`` (left on the parcel after the whole plan),
        ``independent_site``, ``kind``, ``method``, geometry (parcel).
    summary : pandas.DataFrame
        One row per category considered: radius, household totals before and after
        (``households_uncovered``, ``households_newly_covered``,
        ``households_uncovered_after``), coverage before and after, ``capacity_unit``,
        ``shortfall_before`` / ``shortfall_after``, candidates, sites, total capacity and
        ``capacity_households``, method, status, bound and gap of the joint solve,
        greedy and exact coverage and their gap when both ran, runtime.
    results : Mapping[str, CoverResult]
        Per category: the chosen parcels (row positions in the input ``parcels``) and
        the households credited to each.
    gaps : Mapping[str, float]
        Relative gap greedy vs exact per category and for the whole plan (``"all"``),
        only when ``method="both"``; a category's gap can be negative (the joint optimum
        may give one category less to give others more).
    method : str
        Method requested.
    solution : SiteSolution
        The joint solution behind the plan.
    """

    plan: gpd.GeoDataFrame
    summary: pd.DataFrame
    results: Mapping[str, CoverResult] = field(default_factory=dict)
    gaps: Mapping[str, float] = field(default_factory=dict)
    method: str = "greedy"
    solution: SiteSolution | None = None


def _ordered_categories(keys: Iterable[str]) -> list[str]:
    keys = list(dict.fromkeys(keys))
    rank = {k: i for i, k in enumerate(SITING_PRIORITY)}
    return sorted(keys, key=lambda k: (rank.get(k, len(rank)), k))


def _required_area(rule: Any, kind: str) -> float | None:
    """Area (m2) a facility of ``rule`` takes from a parcel of ``kind``; None = not eligible."""
    b = float(getattr(rule, "min_building_m2", 0.0) or 0.0)
    land = float(getattr(rule, "min_land_m2", 0.0) or 0.0)
    b = 0.0 if math.isnan(b) else b
    land = 0.0 if math.isnan(land) else land
    if kind == VACANT_LAND:
        return land if land > 0 else b
    if b > 0:
        return b
    return None if land > 0 else 0.0


def _m2_per_unit(rule: Any, kind: str) -> float:
    """Area one capacity unit takes on a parcel of ``kind`` (0: not given)."""
    if hasattr(rule, "m2_per_unit"):
        return float(rule.m2_per_unit(kind))
    return 1.0 if getattr(rule, "capacity_unit", None) == "m2" else 0.0


def _max_area(rule: Any, kind: str) -> float:
    """Largest area one facility of ``rule`` takes on a parcel of ``kind`` (inf: none)."""
    if hasattr(rule, "max_area_m2"):
        return float(rule.max_area_m2(kind))
    return math.inf


def site_capacity_households(
    standards: Any,
    category: str,
    area_m2: float | None = None,
    *,
    kind: str = IDLE_BUILDING,
) -> float:
    """Households one new facility of ``category`` on ``area_m2`` of a parcel can serve.

    The facility's capacity follows from its area and the standard: ``units = area /
    m2_per_unit`` (``CategoryRule.m2_per_unit``: m² of building, or of land on vacant
    land, per seat, bed, place or space; whole units except for capacities in m²), the
    area limited to the standard's maximum size; households served ``= units / demand
    per household`` (``standards.demand(category, [1])``, population estimated with
    the profile's persons per household). ``area_m2=None``: the standard's minimum
    size. ``inf`` when the standards give no area per unit (uncapacitated).

    Examples
    --------
    >>> from renogis.standards import load_standards
    >>> std = load_standards()
    >>> site_capacity_households(std, "elderly_day_care")  # 350 m2 at 20 m2 per 100 households
    1750.0
    >>> round(site_capacity_households(std, "elderly_home", 761.0), 1)  # 21 beds
    1071.6
    """
    rule = standards.categories[category]
    m2pu = _m2_per_unit(rule, kind)
    if not m2pu > 0:
        return math.inf
    if area_m2 is None:
        area = _required_area(rule, kind) or 0.0
    else:
        area = min(float(area_m2), _max_area(rule, kind))
    units = area / m2pu
    if getattr(rule, "capacity_unit", None) != "m2":
        units = math.floor(units + 1e-9)
    per_hh = float(np.asarray(standards.demand(category, np.array([1.0])), dtype=float)[0])
    if not per_hh > 0:
        return math.inf
    return units / per_hh


def _require_columns(df: pd.DataFrame, cols: Sequence[str], layer: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise InputError(
            f"{layer}: missing column(s) {', '.join(missing)}; expected {', '.join(cols)}"
        )


def _parcel_districts(parcels: gpd.GeoDataFrame, districts: gpd.GeoDataFrame) -> np.ndarray:
    """District of each parcel: the one containing its representative point, else the nearest."""
    _require_columns(districts, [schema.DISTRICT_ID, schema.GEOMETRY], "districts")
    pts = gpd.GeoDataFrame(
        {"_pos": np.arange(len(parcels))},
        geometry=parcels.geometry.representative_point().values,
        crs=parcels.crs,
    )
    dist = districts[[schema.DISTRICT_ID, schema.GEOMETRY]].reset_index(drop=True)
    joined = gpd.sjoin_nearest(pts, dist, how="left", distance_col="_d")
    # a point inside two touching districts, or equidistant: keep the first (lowest id)
    joined = joined.sort_values(["_pos", "_d", schema.DISTRICT_ID]).drop_duplicates("_pos")
    return joined.sort_values("_pos")[schema.DISTRICT_ID].to_numpy(dtype=object)


# --------------------------------------------------------------------------- the joint problem
@dataclass(frozen=True)
class _Compounds:
    """The compounds sorted by id, as arrays (position = row in the sorted layer)."""

    ids: np.ndarray  # compound_id as text
    pos: pd.Series  # position by compound_id
    households: np.ndarray  # missing: 0
    population: np.ndarray  # NaN when not given
    geometry: np.ndarray
    crs: Any


@dataclass(frozen=True)
class _Parcels:
    """The idle parcels sorted by id, as arrays (position = row in the sorted layer)."""

    ids: np.ndarray  # parcel_id as text
    kinds: np.ndarray
    known_kind: np.ndarray  # bool: vacant land or idle building
    pool_m2: np.ndarray  # usable area: land for vacant land, floor area for idle buildings
    district: np.ndarray  # district_id, or None
    input_row: np.ndarray  # row of each parcel in the caller's layer
    geometry: np.ndarray
    crs: Any


@dataclass(frozen=True)
class _Category:
    """One category's block of the joint problem: demand rows, options and their capacity."""

    category: str
    radius_m: float
    households_total: float  # households of the category's compounds in the access table
    households: np.ndarray  # per demand row: uncovered households (> 0)
    units: np.ndarray  # per demand row: demand in ``unit``
    unit: str
    reach: sp.csr_matrix  # demand rows x options: within the radius
    parcel: np.ndarray  # per option: parcel position
    min_area_m2: np.ndarray
    max_area_m2: np.ndarray
    m2_per_unit: np.ndarray
    max_units: np.ndarray
    independent: bool
    candidates: int  # parcels large enough (before dropping those that reach nobody)
    cap_mode: str  # "area" (from the standards), "given" (households) or "none"

    @property
    def uncovered_households(self) -> float:
        return float(self.households.sum())

    @property
    def units_total(self) -> float:
        return float(self.units.sum())

    @property
    def units_per_household(self) -> float:
        w = self.households
        return float(self.units.sum() / w.sum()) if w.sum() > 0 else math.nan

    @property
    def coverable(self) -> float:
        return float(self.households[np.diff(self.reach.indptr) > 0].sum())


def _check_inputs(
    compounds: gpd.GeoDataFrame,
    parcels: gpd.GeoDataFrame,
    access: pd.DataFrame,
    *,
    method: str,
    k: int | None,
) -> None:
    """Reject an unknown method, a bad budget, missing columns and mismatched CRSs."""
    if method not in _METHODS:
        raise InputError(f"unknown siting method {method!r}; use one of {', '.join(_METHODS)}")
    if k is not None and (isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0):
        raise InputError(
            f"sites_per_category must be a non-negative integer or None (cover all); got {k!r}"
        )
    _require_columns(compounds, [schema.COMPOUND_ID, schema.HOUSEHOLDS], "compounds")
    _require_columns(parcels, [schema.PARCEL_ID, schema.KIND, schema.AREA_M2], "parcels")
    _require_columns(access, [schema.COMPOUND_ID, schema.CATEGORY, WITHIN_RADIUS], "access")
    if compounds.crs is not None and parcels.crs is not None and compounds.crs != parcels.crs:
        raise CRSError(
            f"compounds ({compounds.crs.to_string()}) and parcels ({parcels.crs.to_string()}) "
            "are in different CRSs; reproject both to the work CRS"
        )


def _categories_to_site(
    access: pd.DataFrame, known: Mapping[str, Any], categories: Sequence[str] | None
) -> list[str]:
    """The categories asked for (default: those with uncovered compounds), in siting order."""
    if categories is None:
        open_cats = access.loc[~access[WITHIN_RADIUS].astype(bool), schema.CATEGORY].unique()
        wanted = [c for c in open_cats if c in known and c not in NOT_SITED_BY_DEFAULT]
        skipped = sorted(c for c in open_cats if c in NOT_SITED_BY_DEFAULT)
        if skipped:
            logger.info("siting: %s not sited on idle parcels by default (school sites come from the "
                        "education plan); name them in categories= to site them", ", ".join(skipped))
    else:
        unknown = [c for c in categories if c not in known]
        if unknown:
            raise InputError(
                f"unknown categor{'y' if len(unknown) == 1 else 'ies'} "
                f"{', '.join(map(repr, unknown))}; "
                f"the standards know {', '.join(known)}"
            )
        wanted = list(categories)
    return _ordered_categories(wanted)


def _sorted_by_id(
    compounds: gpd.GeoDataFrame,
    parcels: gpd.GeoDataFrame,
    access: pd.DataFrame,
    gates: gpd.GeoDataFrame | None,
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, np.ndarray, pd.DataFrame, gpd.GeoDataFrame | None]:
    """Copies sorted by id (ties are broken by id, never by row order); parcels' input rows."""
    compounds = compounds.iloc[
        np.argsort(compounds[schema.COMPOUND_ID].astype(str).to_numpy(), kind="stable")
    ]
    input_row = np.argsort(parcels[schema.PARCEL_ID].astype(str).to_numpy(), kind="stable")
    parcels = parcels.iloc[input_row]
    access = access.sort_values(
        [schema.CATEGORY, schema.COMPOUND_ID], key=lambda col: col.astype(str), kind="stable"
    )
    if gates is not None and len(gates):
        _require_columns(gates, [schema.COMPOUND_ID], "gates")
        gate_keys = [c for c in (schema.COMPOUND_ID, schema.GATE_ID) if c in gates.columns]
        gates = gates.sort_values(gate_keys, key=lambda col: col.astype(str), kind="stable")
    return compounds, parcels, input_row, access, gates


def _compound_arrays(compounds: gpd.GeoDataFrame) -> _Compounds:
    """Ids, households and population of the compounds sorted by id."""
    ids = compounds[schema.COMPOUND_ID].astype(str).to_numpy()
    population = (
        pd.to_numeric(compounds[schema.POPULATION], errors="coerce").to_numpy(float)
        if schema.POPULATION in compounds.columns
        else np.full(len(ids), np.nan)
    )
    return _Compounds(
        ids=ids,
        pos=pd.Series(np.arange(len(ids)), index=ids),
        households=pd.to_numeric(compounds[schema.HOUSEHOLDS], errors="coerce").fillna(0).to_numpy(float),
        population=population,
        geometry=compounds.geometry.to_numpy(),
        crs=compounds.crs,
    )


def _access_rows(access: pd.DataFrame, comp: _Compounds, order: Sequence[str]) -> pd.DataFrame:
    """The access rows of the categories to site, with the compound's position and ``_within``."""
    acc = access[access[schema.CATEGORY].isin(order)]
    acc_ids = acc[schema.COMPOUND_ID].astype(str)
    missing = sorted(set(acc_ids) - set(comp.ids))
    if missing:
        raise InputError(
            f"access: {len(missing)} compound_id(s) not in compounds "
            f"(first: {', '.join(missing[:5])}); "
            "compute access on the same compounds layer"
        )
    return acc.assign(_pos=comp.pos.loc[acc_ids].to_numpy(), _within=acc[WITHIN_RADIUS].astype(bool))


def _parcel_arrays(
    parcels: gpd.GeoDataFrame, districts: gpd.GeoDataFrame | None, input_row: np.ndarray
) -> _Parcels:
    """Kind, usable area pool and district of every parcel."""
    kinds = parcels[schema.KIND].astype(str).to_numpy()
    ok_kind = np.isin(kinds, schema.PARCEL_KINDS)
    if (~ok_kind).any():
        logger.warning("%d parcel(s) of unknown kind ignored", int((~ok_kind).sum()))
    land = pd.to_numeric(parcels[schema.AREA_M2], errors="coerce").to_numpy(float)
    land = np.where(np.isnan(land), parcels.geometry.area.to_numpy(float), land)
    if schema.FLOOR_AREA_M2 in parcels.columns:
        floor = pd.to_numeric(parcels[schema.FLOOR_AREA_M2], errors="coerce").to_numpy(float)
    else:
        floor = np.full(len(parcels), np.nan)
    pool = np.where(kinds == IDLE_BUILDING, np.where(np.isnan(floor), land, floor), land)
    district = (
        _parcel_districts(parcels, districts)
        if districts is not None and len(districts)
        else np.full(len(parcels), None, dtype=object)
    )
    return _Parcels(
        ids=parcels[schema.PARCEL_ID].astype(str).to_numpy(),
        kinds=kinds,
        known_kind=ok_kind,
        pool_m2=np.where(ok_kind, pool, 0.0),
        district=district,
        input_row=input_row,
        geometry=parcels.geometry.to_numpy(),
        crs=parcels.crs,
    )


def _radii(acc: pd.DataFrame, order: Sequence[str], rules: Mapping[str, Any]) -> dict[str, float]:
    """Radius (m) per category: the access table's, else the rule's."""
    radius: dict[str, float] = {}
    for cat in order:
        r = np.nan
        if RADIUS_M in acc.columns:
            r = float(
                pd.to_numeric(acc.loc[acc[schema.CATEGORY] == cat, RADIUS_M], errors="coerce").max()
            )
        radius[cat] = r if math.isfinite(r) else float(rules[cat].radius_m)
    return radius


def _origins(
    comp: _Compounds, need: np.ndarray, gates: gpd.GeoDataFrame | None
) -> tuple[np.ndarray, np.ndarray]:
    """Access points of the compounds ``need`` and the compound of each: gates, else polygons."""
    if gates is None or not len(gates):
        return comp.geometry[need], need
    _require_columns(gates, [schema.COMPOUND_ID], "gates")
    g_ids = gates[schema.COMPOUND_ID].astype(str)
    g_known = g_ids.isin(comp.ids).to_numpy()
    g_pos = comp.pos.reindex(g_ids[g_known]).to_numpy(int)
    g_geom = gates.geometry.to_numpy()[g_known]
    sel = np.isin(g_pos, need)
    poly = need[~np.isin(need, np.unique(g_pos))]
    return np.concatenate([g_geom[sel], comp.geometry[poly]]), np.concatenate([g_pos[sel], poly])


def _walk_distances(
    comp: _Compounds,
    par: _Parcels,
    acc: pd.DataFrame,
    gates: gpd.GeoDataFrame | None,
    *,
    network: Any,
    radius: Mapping[str, float],
) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Walking distances from the compounds uncovered in some category to every parcel.

    One matrix (access points x parcels, m, within the largest radius) and the
    aggregation compounds x access points; ``network=None``: straight line x 1.3
    (:func:`renogis.network.distance_matrix`).
    """
    need = np.unique(acc.loc[~acc["_within"], "_pos"].to_numpy(int))
    origin_geoms, owner = _origins(comp, need, gates)
    n_comp = len(comp.ids)
    if not (need.size and len(par.ids) and radius):
        return sp.csr_matrix((owner.size, len(par.ids))), sp.csr_matrix((n_comp, owner.size))
    d = distance_matrix(
        network,
        gpd.GeoSeries(origin_geoms, crs=comp.crs),
        gpd.GeoSeries(par.geometry, crs=par.crs),
        cutoff_m=max(radius.values()),
    )
    agg = sp.csr_matrix(
        (np.ones(owner.size), (owner, np.arange(owner.size))), shape=(n_comp, owner.size)
    )
    return sp.csr_matrix(d), agg


def _category_demand(
    acc: pd.DataFrame, comp: _Compounds, cat: str, standards: Any
) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    """Households in the access table, and the uncovered compounds with their households and units."""
    sub = acc[acc[schema.CATEGORY] == cat].drop_duplicates("_pos")
    total_hh = float(comp.households[sub["_pos"].to_numpy(int)].sum())
    dem = np.sort(sub.loc[~sub["_within"], "_pos"].to_numpy(int))
    dem = dem[comp.households[dem] > 0]
    w = comp.households[dem]
    units = np.asarray(standards.demand(cat, w, comp.population[dem]), dtype=float).reshape(-1)
    return total_hh, dem, w, units


def _category_reach(
    rule: Any,
    par: _Parcels,
    d: sp.csr_matrix,
    agg: sp.csr_matrix,
    *,
    radius_m: float,
    dem: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, sp.csr_matrix, int]:
    """Which parcels may host the category, and which demand rows each reaches.

    Returns the minimum area on every parcel (NaN: not eligible), the options (parcels
    large enough that reach some demand row), their reach (demand rows x options) and
    the number of parcels large enough.
    """
    req = {kd: _required_area(rule, kd) for kd in schema.PARCEL_KINDS}
    req_arr = np.array(
        [
            np.nan if not ok or req[kd] is None else req[kd]
            for kd, ok in zip(par.kinds, par.known_kind, strict=True)
        ],
        dtype=float,
    ).reshape(-1)
    cand = np.flatnonzero(~np.isnan(req_arr) & (par.pool_m2 >= req_arr - 1e-9))
    within = d.copy()
    within.data = (within.data <= radius_m).astype(float)
    within.eliminate_zeros()
    reach = sp.csr_matrix((agg @ within).tocsr()[dem][:, cand] > 0)
    n_eligible = int(cand.size)
    useful = np.diff(reach.tocsc().indptr) > 0  # a parcel that reaches nobody is no option
    return req_arr, cand[useful], reach[:, np.flatnonzero(useful)], n_eligible


def _option_capacity(
    cat: str,
    rule: Any,
    par: _Parcels,
    cand: np.ndarray,
    min_a: np.ndarray,
    *,
    override: float | None,
    n_demand: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """Largest area, m2 per unit and units of each option, and the capacity mode.

    From the option's area and the standard (``"area"``), the caller's override in
    households (``"given"``; ``inf``: ``"none"``), or none when the standard gives no
    area per unit (``"none"``, with a warning).
    """
    m2pu = np.array([_m2_per_unit(rule, kd) for kd in par.kinds[cand]], dtype=float)
    max_size = np.array([_max_area(rule, kd) for kd in par.kinds[cand]], dtype=float)
    max_a = np.maximum(np.minimum(par.pool_m2[cand], max_size), min_a)
    unit = str(getattr(rule, "capacity_unit", ""))
    if override is not None:
        m2pu = np.zeros(cand.size)
        maxu = np.full(cand.size, override if math.isfinite(override) else np.inf)
        return min_a.copy(), m2pu, maxu, "given" if math.isfinite(override) else "none"
    if not np.any(m2pu > 0):
        if cand.size and n_demand:
            logger.warning(
                "siting %s: the standards give no area per unit (%s) in site.building_m2_per_unit: "
                "new sites are credited without a capacity limit",
                cat,
                unit or "unit",
            )
        return min_a.copy(), m2pu, np.full(cand.size, np.inf), "none"
    maxu = np.divide(max_a, m2pu, out=np.full(cand.size, np.inf), where=m2pu > 0)
    if unit != "m2":  # whole seats, beds, places, spaces
        maxu = np.floor(maxu + 1e-9)
    return max_a, m2pu, maxu, "area"


def _category_block(
    cat: str,
    standards: Any,
    comp: _Compounds,
    par: _Parcels,
    acc: pd.DataFrame,
    d: sp.csr_matrix,
    agg: sp.csr_matrix,
    *,
    radius_m: float,
    overrides: Mapping[str, float],
) -> _Category:
    """The demand rows, options and capacities of one category."""
    rule = standards.categories[cat]
    total_hh, dem, w, units = _category_demand(acc, comp, cat, standards)
    req_arr, cand, reach, n_eligible = _category_reach(rule, par, d, agg, radius_m=radius_m, dem=dem)
    min_a = req_arr[cand]
    override = float(overrides[cat]) if cat in overrides else None
    max_a, m2pu, maxu, cap_mode = _option_capacity(
        cat, rule, par, cand, min_a, override=override, n_demand=dem.size
    )
    unit = str(getattr(rule, "capacity_unit", ""))
    if override is not None:  # capacity counted in households
        units, unit = w.copy(), "households"
    return _Category(
        category=cat,
        radius_m=radius_m,
        households_total=total_hh,
        households=w,
        units=units,
        unit=unit,
        reach=reach,
        parcel=cand,
        min_area_m2=min_a,
        max_area_m2=max_a,
        m2_per_unit=m2pu,
        max_units=maxu,
        independent=bool(getattr(rule, "independent_site", False)),
        candidates=n_eligible,
        cap_mode=cap_mode,
    )


def _joint_problem(cats: Sequence[_Category], pool_m2: np.ndarray, k: int | None) -> SiteOptions:
    """Every category's block in one :class:`SiteOptions` (groups in siting order)."""

    def joined(parts: list[np.ndarray], dtype: Any) -> np.ndarray:
        return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype=dtype)

    blocks = [c.reach for c in cats]
    n_rows = sum(b.shape[0] for b in blocks)
    coverage = (
        sp.block_diag(blocks, format="csc").astype(bool)
        if blocks
        else sp.csc_matrix((0, 0), dtype=bool)
    )
    coverage = sp.csc_matrix(coverage.reshape((n_rows, coverage.shape[1])), dtype=bool)
    coverage.sort_indices()
    return SiteOptions(
        coverage=coverage,
        households=np.concatenate([c.households for c in cats]) if cats else np.zeros(0),
        units=np.concatenate([c.units for c in cats]) if cats else np.zeros(0),
        parcel=joined([c.parcel for c in cats], np.int64),
        group=joined([np.full(c.parcel.size, g) for g, c in enumerate(cats)], np.int64),
        min_area_m2=joined([c.min_area_m2 for c in cats], float),
        max_area_m2=joined([c.max_area_m2 for c in cats], float),
        m2_per_unit=joined([c.m2_per_unit for c in cats], float),
        max_units=joined([c.max_units for c in cats], float),
        independent=joined([np.full(c.parcel.size, c.independent) for c in cats], bool),
        parcel_area_m2=pool_m2.astype(float),
        k=None if k is None else int(k),
    )


def _solve(
    problem: SiteOptions, method: str, *, time_limit_s: float
) -> tuple[SiteSolution | None, SiteSolution | None]:
    """The greedy and/or the exact solution, as ``method`` asks."""
    g_sol = e_sol = None
    if method in ("greedy", "both"):
        g_sol = greedy_site(problem)
    if method in ("exact", "both"):
        e_sol = exact_site(problem, time_limit_s=time_limit_s)
    return g_sol, e_sol


# --------------------------------------------------------------------------- plan tables
@dataclass(frozen=True)
class _Sites:
    """The chosen sites of one category, in plan order, and what they credit."""

    option: np.ndarray  # option index in the joint problem
    parcel: np.ndarray  # parcel position
    households: np.ndarray  # credited to each site
    units: np.ndarray  # capacity units each site serves
    area_m2: np.ndarray  # area each facility takes
    cumulative: np.ndarray  # share of all the category's households covered so far
    capacity: np.ndarray  # in the category's unit (NaN: uncapacitated)
    capacity_households: np.ndarray
    shortfall_before: np.ndarray
    shortfall_after: np.ndarray


def _per_group(
    problem: SiteOptions, s: SiteSolution | None, n_groups: int
) -> tuple[np.ndarray, np.ndarray]:
    """Households credited and sites per group (category) of a solution (zeros when None)."""
    cov = np.zeros(n_groups)
    sites = np.zeros(n_groups)
    if s is not None and s.chosen:
        grp = problem.group[list(s.chosen)]
        np.add.at(cov, grp, np.asarray(s.households))
        np.add.at(sites, grp, 1)
    return cov, sites


def _category_sites(c: _Category, problem: SiteOptions, sol: SiteSolution, g_idx: int) -> _Sites:
    """The sites ``sol`` gives category ``c`` (group ``g_idx``), with capacity and shortfall."""
    ch = np.asarray(sol.chosen, dtype=int)
    ch_grp = problem.group[ch] if ch.size else np.zeros(0, dtype=int)
    srt = np.argsort(ch_grp, kind="stable")
    sel = srt[ch_grp[srt] == g_idx]
    o_sel = ch[sel]
    newly = np.asarray(sol.households, dtype=float)[sel]
    units = np.asarray(sol.units, dtype=float)[sel]
    area = np.asarray(sol.area_m2, dtype=float)[sel]
    total_hh = c.households_total
    covered_before = total_hh - c.uncovered_households
    cum = (
        (covered_before + np.cumsum(newly)) / total_hh
        if total_hh > 0
        else np.zeros(newly.size)
    )
    m2pu = problem.m2_per_unit[o_sel]
    if c.cap_mode == "area":
        capacity = np.divide(area, m2pu, out=np.full(sel.size, np.nan), where=m2pu > 0)
    elif c.cap_mode == "given":
        capacity = problem.max_units[o_sel]
    else:
        capacity = np.full(sel.size, np.nan)
    # households one site can serve: its capacity over the demand per household of the
    # households it serves (they differ between compounds when population is given)
    if c.cap_mode == "area":
        avg = c.units_per_household
        uph = np.divide(units, newly, out=np.full(sel.size, avg), where=newly > 0)
    else:
        uph = np.ones(sel.size)
    cap_hh = np.divide(capacity, uph, out=np.full(sel.size, np.nan), where=uph > 0)
    short_after = np.maximum(c.units_total - np.cumsum(units), 0.0)
    return _Sites(
        option=o_sel,
        parcel=problem.parcel[o_sel] if o_sel.size else np.zeros(0, dtype=int),
        households=newly,
        units=units,
        area_m2=area,
        cumulative=cum,
        capacity=capacity,
        capacity_households=cap_hh,
        shortfall_before=np.concatenate([[c.units_total], short_after[:-1]]),
        shortfall_after=short_after,
    )


def _remaining_area(problem: SiteOptions, sol: SiteSolution, pool_m2: np.ndarray) -> np.ndarray:
    """Area left on each parcel after the whole plan (m2)."""
    ch = np.asarray(sol.chosen, dtype=int)
    ch_par = problem.parcel[ch] if ch.size else np.zeros(0, dtype=int)
    used_area = np.bincount(ch_par, weights=np.asarray(sol.area_m2, dtype=float), minlength=len(pool_m2))
    remaining = pool_m2 - used_area
    remaining[np.abs(remaining) < 1e-6] = 0.0  # no "-0.0" from rounding
    return remaining


def _plan_rows(
    c: _Category, s: _Sites, problem: SiteOptions, par: _Parcels, remaining: np.ndarray, method: str
) -> pd.DataFrame:
    """The plan table's rows of one category (``_row``: parcel position, for the geometry)."""
    return pd.DataFrame(
        {
            schema.PARCEL_ID: par.ids[s.parcel],
            schema.CATEGORY: c.category,
            PICK: np.arange(1, s.option.size + 1),
            schema.DISTRICT_ID: par.district[s.parcel],
            NEWLY_COVERED_HOUSEHOLDS: s.households,
            CUMULATIVE_COVERAGE: s.cumulative,
            CAPACITY: s.capacity,
            CAPACITY_UNIT: c.unit,
            CAPACITY_HOUSEHOLDS: s.capacity_households,
            SHORTFALL_BEFORE: s.shortfall_before,
            SHORTFALL_AFTER: s.shortfall_after,
            FACILITY_AREA_M2: s.area_m2,
            MIN_AREA_M2: problem.min_area_m2[s.option],
            PARCEL_AREA_M2: par.pool_m2[s.parcel],
            REMAINING_AREA_M2: remaining[s.parcel],
            INDEPENDENT_SITE: problem.independent[s.option],
            schema.KIND: par.kinds[s.parcel],
            METHOD: method,
            "_row": s.parcel,
        }
    )


def _category_result(
    s: _Sites, c: _Category, sol: SiteSolution, par: _Parcels, k: int | None
) -> CoverResult:
    """One category's sites as a :class:`CoverResult` (``chosen``: rows of the input parcels)."""
    covered = float(s.households.sum())
    return CoverResult(
        chosen=tuple(int(par.input_row[p]) for p in s.parcel),
        newly_covered=tuple(float(v) for v in s.households),
        covered_weight=covered,
        coverable_weight=c.coverable,
        objective=covered if k is not None else float(s.option.size),
        objective_bound=sol.objective_bound,
        gap=sol.gap,
        method=sol.method,
        mode="max_cover" if k is not None else "set_cover",
        status=sol.status,
        runtime_s=sol.runtime_s,
    )


def _summary_row(
    c: _Category,
    s: _Sites,
    sol: SiteSolution,
    g_sol: SiteSolution | None,
    e_sol: SiteSolution | None,
    *,
    greedy: tuple[float, float],
    exact: tuple[float, float],
    gap_greedy_vs_exact: float,
) -> dict[str, Any]:
    """The summary row of one category (``greedy``/``exact``: households and sites of each)."""
    total_hh = c.households_total
    covered_before = total_hh - c.uncovered_households
    covered = float(s.households.sum())
    n_sites = s.option.size
    return {
        schema.CATEGORY: c.category,
        RADIUS_M: c.radius_m,
        "households_total": total_hh,
        "households_uncovered": c.uncovered_households,
        "households_coverable": c.coverable,
        "households_newly_covered": covered,
        "households_uncovered_after": c.uncovered_households - covered,
        "coverage_before": covered_before / total_hh if total_hh > 0 else math.nan,
        "coverage_after": (covered_before + covered) / total_hh if total_hh > 0 else math.nan,
        CAPACITY_UNIT: c.unit,
        SHORTFALL_BEFORE: c.units_total,
        SHORTFALL_AFTER: float(s.shortfall_after[-1]) if n_sites else c.units_total,
        "candidates": c.candidates,
        "sites": int(n_sites),
        # total over the category's sites; missing when its sites are uncapacitated
        "capacity": math.nan
        if c.cap_mode == "none"
        else (float(np.nansum(s.capacity)) if n_sites else 0.0),
        CAPACITY_HOUSEHOLDS: math.nan
        if c.cap_mode == "none"
        else (float(np.nansum(s.capacity_households)) if n_sites else 0.0),
        METHOD: sol.method,
        "status": sol.status,
        "objective_bound": sol.objective_bound,
        "gap": sol.gap,
        "greedy_covered": greedy[0] if g_sol is not None else math.nan,
        "exact_covered": exact[0] if e_sol is not None else math.nan,
        "greedy_sites": greedy[1] if g_sol is not None else math.nan,
        "exact_sites": exact[1] if e_sol is not None else math.nan,
        "gap_greedy_vs_exact": gap_greedy_vs_exact,
        "runtime_s": (g_sol.runtime_s if g_sol else 0.0) + (e_sol.runtime_s if e_sol else 0.0),
    }


def _plan_frame(rows: list[pd.DataFrame], par: _Parcels) -> gpd.GeoDataFrame:
    """The plan as a GeoDataFrame (parcel polygons), columns in :data:`_PLAN_COLUMNS` order."""
    if rows:
        table = pd.concat(rows, ignore_index=True)
        geom = par.geometry[table.pop("_row").to_numpy(int)]
    else:
        table = pd.DataFrame({c: pd.Series(dtype=object) for c in _PLAN_COLUMNS})
        geom = np.zeros(0, dtype=object)
    return gpd.GeoDataFrame(
        table[_PLAN_COLUMNS], geometry=gpd.GeoSeries(geom, crs=par.crs).values, crs=par.crs
    )


def _siting_plan(
    cats: Sequence[_Category],
    problem: SiteOptions,
    par: _Parcels,
    g_sol: SiteSolution | None,
    e_sol: SiteSolution | None,
    *,
    method: str,
    k: int | None,
) -> SitingPlan:
    """Plan rows, summary, per-category results and gaps of the solution (exact if solved)."""
    sol = e_sol if e_sol is not None else g_sol
    assert sol is not None
    g_cov, g_sites = _per_group(problem, g_sol, len(cats))
    e_cov, e_sites = _per_group(problem, e_sol, len(cats))
    remaining = _remaining_area(problem, sol, par.pool_m2)
    plan_rows: list[pd.DataFrame] = []
    summary_rows: list[dict[str, Any]] = []
    results: dict[str, CoverResult] = {}
    gaps: dict[str, float] = {}
    for g_idx, c in enumerate(cats):
        s = _category_sites(c, problem, sol, g_idx)
        if s.option.size:
            plan_rows.append(_plan_rows(c, s, problem, par, remaining, sol.method))
        gap_ge = math.nan
        if g_sol is not None and e_sol is not None:
            ref = e_cov[g_idx]
            gap_ge = 0.0 if ref <= 0 else float((ref - g_cov[g_idx]) / ref)
            gaps[c.category] = gap_ge
        results[c.category] = _category_result(s, c, sol, par, k)
        row = _summary_row(c, s, sol, g_sol, e_sol, greedy=(g_cov[g_idx], g_sites[g_idx]),
                           exact=(e_cov[g_idx], e_sites[g_idx]), gap_greedy_vs_exact=gap_ge)
        summary_rows.append(row)
        logger.info(
            "siting %s: %d site(s) of %d candidate(s) credited with %.0f of %.0f uncovered "
            "households (shortfall %.1f -> %.1f %s)",
            c.category,
            s.option.size,
            c.candidates,
            row["households_newly_covered"],
            c.uncovered_households,
            c.units_total,
            row[SHORTFALL_AFTER],
            c.unit,
        )
    if g_sol is not None and e_sol is not None:
        ref = e_sol.covered_weight
        gaps["all"] = 0.0 if ref <= 0 else float((ref - g_sol.covered_weight) / ref)
    return SitingPlan(
        plan=_plan_frame(plan_rows, par),
        summary=pd.DataFrame(summary_rows),
        results=MappingProxyType(results),
        gaps=MappingProxyType(gaps),
        method=method,
        solution=sol,
    )


# --------------------------------------------------------------------------- adapter
def site_facilities(
    compounds: gpd.GeoDataFrame,
    parcels: gpd.GeoDataFrame,
    *,
    access: pd.DataFrame,
    standards: Any,
    network: Any,
    gates: gpd.GeoDataFrame | None = None,
    categories: Sequence[str] | None = None,
    sites_per_category: int | None = 1,
    method: str = "greedy",
    districts: gpd.GeoDataFrame | None = None,
    capacity_households: Mapping[str, float] | None = None,
    time_limit_s: float = 60.0,
) -> SitingPlan:
    """Choose idle parcels to host the facilities each category lacks.

    For every category the demand is the households of the compounds that the access
    table marks as not within the category's radius; the options are the idle parcels
    large enough for the facility (see the module docstring), and a parcel reaches a
    compound when the walking distance from the compound (from its nearest gate when it
    has gates, else from its polygon) to the parcel is within the radius. All
    categories form one problem (:class:`SiteOptions`): each site is credited only up
    to its capacity, which follows from its area and the standards; a parcel hosts
    several facilities only if their areas fit and each may share; at most
    ``sites_per_category`` sites per category (None: as many as add coverage, the
    fewest with ``exact``). Solved by ``method``; inputs are sorted by id first, so
    the plan never depends on row order.

    Parameters
    ----------
    compounds : geopandas.GeoDataFrame
        Compounds (``compound_id``, ``households``, polygon), in the work CRS.
    parcels : geopandas.GeoDataFrame
        Idle parcels (``parcel_id``, ``kind``, ``area_m2``, ``floor_area_m2``, polygon).
        ``area_m2`` missing: the polygon area is used.
    access : pandas.DataFrame
        Access table of :mod:`renogis.access`: ``compound_id``, ``category``,
        ``within_radius`` (bool) and ``radius_m`` (m; else the rule's radius).
    standards : renogis.standards.Standards
        Rules (radius, minimum sizes, demand) per category.
    network : renogis.network.WalkNetwork or None
        Walk network; None: straight-line distance x 1.3.
    gates : geopandas.GeoDataFrame, optional
        Compound gates (``gate_id``, ``compound_id``, point).
    categories : sequence of str, optional
        Categories to site; default every category of ``access`` with uncovered households.
    sites_per_category : int or None
        Budget K per category; None: as many as needed to cover every coverable household.
    method : {"greedy", "exact", "both"}
        Lazy greedy, HiGHS integer programme, or both (the exact plan is used and the
        greedy-vs-exact gap reported).
    districts : geopandas.GeoDataFrame, optional
        District polygons (``district_id``); each parcel gets the district containing it
        (else the nearest one).
    capacity_households : Mapping[str, float], optional
        Override of the per-site capacity (households) by category; ``inf`` disables it.
        The facility then takes its minimum area. Default: from the site's area and the
        standards (:func:`site_capacity_households`).
    time_limit_s : float
        Time limit of each exact solve (s).

    Returns
    -------
    SitingPlan

    Raises
    ------
    InputError
        Unknown method or category, missing columns, compounds of the access table
        missing from ``compounds``, a bad ``sites_per_category``.
    CRSError
        compounds and parcels in different CRSs.

    Examples
    --------
    Straight-line distances x 1.3 (``network=None``) on the bundled sample; the
    pipeline passes the walk network and the gates.

    >>> import geopandas as gpd
    >>> from renogis.access import compute_access
    >>> from renogis.datasets import sample_path
    >>> from renogis.standards import load_standards
    >>> std = load_standards()
    >>> layer = {n: gpd.read_file(sample_path(), layer=n) for n in ("compounds", "parcels", "facilities")}
    >>> acc = compute_access(layer["compounds"], layer["facilities"], network=None, standards=std)
    >>> plan = site_facilities(layer["compounds"], layer["parcels"], access=acc, standards=std,
    ...                        network=None, categories=["elderly_day_care"])
    >>> site = plan.plan.iloc[0]  # one site: 640 m2 of day care for 3,200 households
    >>> site["parcel_id"], float(site["newly_covered_households"]), round(float(site["capacity"]), 1)
    ('P0003', 3200.0, 640.0)
    """
    k = sites_per_category
    _check_inputs(compounds, parcels, access, method=method, k=k)
    order = _categories_to_site(access, standards.categories, categories)
    compounds, parcels, input_row, access, gates = _sorted_by_id(compounds, parcels, access, gates)
    comp = _compound_arrays(compounds)
    acc = _access_rows(access, comp, order)
    par = _parcel_arrays(parcels, districts, input_row)
    radius = _radii(acc, order, standards.categories)
    d, agg = _walk_distances(comp, par, acc, gates, network=network, radius=radius)
    overrides = dict(capacity_households or {})
    cats = [
        _category_block(cat, standards, comp, par, acc, d, agg, radius_m=radius[cat], overrides=overrides)
        for cat in order
    ]
    problem = _joint_problem(cats, par.pool_m2, k)
    g_sol, e_sol = _solve(problem, method, time_limit_s=time_limit_s)
    return _siting_plan(cats, problem, par, g_sol, e_sol, method=method, k=k)


def summary_record(plan: SitingPlan) -> dict[str, dict[str, Any]]:
    """Per category: sites, households credited, capacity, shortfall before and after (for run.json).

    Examples
    --------
    >>> import pandas as pd
    >>> s = pd.DataFrame({"category": ["nursery"], "sites": [1], "households_newly_covered": [99.5],
    ...                   "households_uncovered_after": [10.0], "capacity_unit": ["places"],
    ...                   "capacity": [1.17], "shortfall_before": [1.29], "shortfall_after": [0.12]})
    >>> summary_record(SitingPlan(plan=pd.DataFrame(), summary=s))["nursery"]["households_credited"]
    99.5
    """
    def num(value: Any) -> float | None:  # JSON has no NaN: missing instead
        v = float(value)
        return round(v, 1) if math.isfinite(v) else None

    out: dict[str, dict[str, Any]] = {}
    for rec in plan.summary.to_dict("records"):
        out[str(rec[schema.CATEGORY])] = {
            "sites": int(rec["sites"]),
            "households_credited": num(rec["households_newly_covered"]),
            "households_uncovered_after": num(rec["households_uncovered_after"]),
            "capacity": num(rec["capacity"]),
            "capacity_unit": str(rec[CAPACITY_UNIT]),
            "shortfall_before": num(rec[SHORTFALL_BEFORE]),
            "shortfall_after": num(rec[SHORTFALL_AFTER]),
        }
    return out


#: Word and write the plan: moved to :mod:`renogis.outputs.siting`, reachable here until
#: the pipeline imports them from there.
