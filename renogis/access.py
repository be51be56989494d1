"""Service access and service-gap tables against a standards profile.

Three steps, each a function returning a table:

1. :func:`compute_access` - walking distance from every compound to the nearest
   facility of every category (one bounded multi-source network run per category),
   compared with the category's service radius: the ``service_access`` table.
2. :func:`compute_gaps` - households covered / uncovered, demand by the standard's
   rule, supply by a two-step floating catchment (2SFCA) where capacities are known,
   and the shortfall, per compound and per renovation district; the district rows
   show the "before / after merging" view (a district shares its members' facilities).
3. :func:`summarise_coverage` - one row per category for the command line.

:func:`service_areas` gives the walkable catchments for the map and
:func:`write_gap_outputs` writes the tables (CSV with BOM + XLSX, Chinese headers).

Distances are metres in the work CRS. Without a walk network (``network=None``)
distances are straight lines x ``detour_factor`` and flagged in the ``method`` column.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely

from renogis import network as walknet
from renogis import schema
from renogis._errors import InputError
from renogis.reports import write_table
from renogis.schema import (
    CAPACITY,
    CATEGORIES,
    CATEGORY,
    COMPOUND_ID,
    DISTRICT_ID,
    FACILITY_ID,
    GEOMETRY,
    HOUSEHOLDS,
    POPULATION,
)
from renogis.standards import CategoryRule, Standards

logger = logging.getLogger(__name__)

__all__ = [
    "DISTANCE_M",
    "RADIUS_M",
    "WITHIN_RADIUS",
    "METHOD",
    "NEAREST_FACILITY_ID",
    "LEVEL",
    "UNIT_ID",
    "COVERED_HOUSEHOLDS",
    "UNCOVERED_HOUSEHOLDS",
    "COVERAGE_SHARE",
    "COVERED_HOUSEHOLDS_MERGED",
    "UNCOVERED_HOUSEHOLDS_MERGED",
    "COVERAGE_SHARE_MERGED",
    "DEMAND",
    "SUPPLY",
    "SHORTFALL",
    "DEMAND_UNIT",
    "CATEGORY_NAME",
    "UNCOVERED_COMPOUNDS",
    "ACCESS_COLUMNS",
    "GAP_COLUMNS",
    "SUMMARY_COLUMNS",
    "GAP_COLUMNS_ZH",
    "LEVEL_COMPOUND",
    "LEVEL_DISTRICT",
    "MIN_SEARCH_M",
    "SEARCH_FACTOR",
    "access_points",
    "compute_access",
    "two_step_fca",
    "compute_gaps",
    "summarise_coverage",
    "service_areas",
    "translate_columns",
    "write_gap_outputs",
]

# --------------------------------------------------------------------------- columns
DISTANCE_M: Final = schema.DISTANCE_M
RADIUS_M: Final = schema.RADIUS_M
WITHIN_RADIUS: Final = schema.WITHIN_RADIUS
METHOD: Final = schema.METHOD
NEAREST_FACILITY_ID: Final = "nearest_facility_id"
LEVEL: Final = schema.LEVEL
UNIT_ID: Final = schema.UNIT_ID
COVERED_HOUSEHOLDS: Final = schema.HOUSEHOLDS_COVERED
UNCOVERED_HOUSEHOLDS: Final = schema.HOUSEHOLDS_UNCOVERED
COVERAGE_SHARE: Final = "coverage_share"
COVERED_HOUSEHOLDS_MERGED: Final = "covered_households_merged"
UNCOVERED_HOUSEHOLDS_MERGED: Final = "uncovered_households_merged"
COVERAGE_SHARE_MERGED: Final = "coverage_share_merged"
DEMAND: Final = "demand"
SUPPLY: Final = "supply"
SHORTFALL: Final = "shortfall"
DEMAND_UNIT: Final = "demand_unit"
CATEGORY_NAME: Final = "category_name"
UNCOVERED_COMPOUNDS: Final = "uncovered_compounds"
COMPOUNDS_COUNT: Final = "compounds"

LEVEL_COMPOUND: Final = "compound"
LEVEL_DISTRICT: Final = "district"

#: Columns of the service_access table.
ACCESS_COLUMNS: Final = (
    COMPOUND_ID,
    CATEGORY,
    DISTANCE_M,
    RADIUS_M,
    WITHIN_RADIUS,
    METHOD,
    NEAREST_FACILITY_ID,
)
#: Columns of the service_gaps table.
GAP_COLUMNS: Final = (
    LEVEL,
    UNIT_ID,
    DISTRICT_ID,
    CATEGORY,
    HOUSEHOLDS,
    COVERED_HOUSEHOLDS,
    UNCOVERED_HOUSEHOLDS,
    COVERAGE_SHARE,
    COVERED_HOUSEHOLDS_MERGED,
    UNCOVERED_HOUSEHOLDS_MERGED,
    COVERAGE_SHARE_MERGED,
    DISTANCE_M,
    RADIUS_M,
    DEMAND,
    SUPPLY,
    SHORTFALL,
    DEMAND_UNIT,
)
#: Columns of the per-category coverage summary.
SUMMARY_COLUMNS: Final = (
    CATEGORY,
    CATEGORY_NAME,
    RADIUS_M,
    COMPOUNDS_COUNT,
    UNCOVERED_COMPOUNDS,
    HOUSEHOLDS,
    COVERED_HOUSEHOLDS,
    COVERAGE_SHARE,
    COVERED_HOUSEHOLDS_MERGED,
    COVERAGE_SHARE_MERGED,
    DEMAND,
    SUPPLY,
    SHORTFALL,
    DEMAND_UNIT,
)

#: Chinese headers of every column the access, gap and summary tables use.
GAP_COLUMNS_ZH: Final[Mapping[str, str]] = {
    COMPOUND_ID: "小区编号",
    CATEGORY: "设施类别",
    CATEGORY_NAME: "设施名称",
    DISTANCE_M: "步行距离(米)",
    RADIUS_M: "服务半径(米)",
    WITHIN_RADIUS: "半径内",
    METHOD: "距离算法",
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
}
_LEVEL_ZH: Final = {LEVEL_COMPOUND: "小区", LEVEL_DISTRICT: "片区"}

#: Search cutoff of the nearest-facility run: max(SEARCH_FACTOR x radius, MIN_SEARCH_M).
#: Beyond it the distance is reported as missing (NaN, an empty cell).
SEARCH_FACTOR: Final = 3.0
MIN_SEARCH_M: Final = 2000.0


# --------------------------------------------------------------------------- helpers
def _rules(standards: Standards, categories: Sequence[str] | None) -> list[CategoryRule]:
    if categories is None:
        return list(standards.categories.values())
    return [standards.rule(c) for c in categories]


def _method(network: Any, detour_factor: float) -> str:
    return "network" if network is not None else f"straight_line_x{detour_factor:g}"


def access_points(
    compounds: gpd.GeoDataFrame, gates: gpd.GeoDataFrame | None = None
) -> tuple[gpd.GeoSeries, np.ndarray]:
    """Points (or polygons) at which each compound is reached.

    A compound with gates is reached at its gates, one origin per gate; a compound
    without gates at its polygon (the network code snaps it at the network point
    nearest to the polygon).

    Parameters
    ----------
    compounds : geopandas.GeoDataFrame
        Compounds with ``compound_id``.
    gates : geopandas.GeoDataFrame, optional
        Gates with ``compound_id``; gates of unknown compounds are ignored (logged).

    Returns
    -------
    origins : geopandas.GeoSeries
        Origin geometries (RangeIndex), gates first, then polygons.
    owner : numpy.ndarray of int
        Positional index into ``compounds`` of each origin.
    """
    ids = pd.Index(compounds[COMPOUND_ID].to_numpy())
    geoms = compounds.geometry.to_numpy()
    has_gate = np.zeros(len(compounds), dtype=bool)
    gate_geoms = np.empty(0, dtype=object)
    gate_owner = np.empty(0, dtype=np.int64)
    if gates is not None and len(gates):
        pos = ids.get_indexer(gates[COMPOUND_ID].to_numpy())
        usable = (pos >= 0) & ~(
            gates.geometry.isna().to_numpy() | gates.geometry.is_empty.to_numpy()
        )
        if (~usable).any():
            logger.info(
                "ignored %d gates with an unknown compound_id or no geometry", int((~usable).sum())
            )
        gate_geoms = gates.geometry.to_numpy()[usable]
        gate_owner = pos[usable].astype(np.int64)
        has_gate[gate_owner] = True
    poly_owner = np.flatnonzero(~has_gate)
    origins = gpd.GeoSeries(
        np.concatenate([gate_geoms, geoms[poly_owner]]), crs=compounds.crs
    ).reset_index(drop=True)
    owner = np.concatenate([gate_owner, poly_owner]).astype(np.int64)
    return origins, owner


def _facility_points(facilities: gpd.GeoDataFrame) -> gpd.GeoSeries:
    """Facility geometries as points (polygons count at their representative point)."""
    geoms = facilities.geometry.to_numpy()
    is_point = shapely.get_type_id(geoms) == 0
    pts = np.where(is_point, geoms, shapely.point_on_surface(geoms))
    return gpd.GeoSeries(pts, crs=facilities.crs).reset_index(drop=True)


def _min_by_owner(
    dist: np.ndarray, idx: np.ndarray, owner: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """Minimum distance (and its destination index) over the origins of each unit."""
    best_d = np.full(n, np.inf)
    best_j = np.full(n, -1, dtype=np.int64)
    if len(dist) == 0:
        return best_d, best_j
    order = np.lexsort((dist, owner))
    own = owner[order]
    first = np.r_[True, own[1:] != own[:-1]]
    sel = order[first]
    best_d[owner[sel]] = dist[sel]
    best_j[owner[sel]] = idx[sel]
    return best_d, best_j


def _facilities_of(facilities: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame | None:
    if facilities is None or len(facilities) == 0:
        return None
    return facilities


# --------------------------------------------------------------------------- access
def compute_access(
    compounds: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame | None,
    *,
    network: walknet.WalkNetwork | None,
    standards: Standards,
    gates: gpd.GeoDataFrame | None = None,
    categories: Sequence[str] | None = None,
    detour_factor: float = 1.3,
    search_m: float | None = None,
) -> pd.DataFrame:
    """Compute the walking distance from each compound to the nearest facility per category.

    Parameters
    ----------
    compounds : geopandas.GeoDataFrame
        Compounds (``compound_id``, polygon geometry) in the work CRS.
    facilities : geopandas.GeoDataFrame or None
        Facilities (``facility_id``, ``category``, point geometry; polygons count at
        their representative point).
    network : WalkNetwork or None
        Walk network; None falls back to straight lines x ``detour_factor``.
    standards : Standards
        Radii per category.
    gates : geopandas.GeoDataFrame, optional
        Compound gates; a compound with gates is reached at its nearest gate.
    categories : sequence of str, optional
        Categories to compute (default: every category of ``standards``).
    detour_factor : float
        Straight-line multiplier of the fallback.
    search_m : float, optional
        Search cutoff in metres; default ``max(3 x radius, 2000 m)`` per category.
        Facilities beyond it count as absent (distance NaN).

    Returns
    -------
    pandas.DataFrame
        :data:`ACCESS_COLUMNS`, one row per compound x category (compound-major,
        categories in standards order): ``distance_m`` (NaN: no facility within the
        cutoff or none at all), ``radius_m``, ``within_radius`` (bool), ``method``
        (``"network"`` or ``"straight_line_x1.3"``), ``nearest_facility_id``
        (None when no facility was found).
    """
    rules = _rules(standards, categories)
    n = len(compounds)
    fac = _facilities_of(facilities)
    origins, owner = access_points(compounds, gates)
    if network is not None and len(origins):
        origins = walknet.snap(network, origins)  # once, for every category
    dist = np.full((n, len(rules)), np.inf)
    nearest = np.full((n, len(rules)), None, dtype=object)
    if fac is not None:
        fac_pts = _facility_points(fac)
        fac_cat = fac[CATEGORY].to_numpy()
        fac_ids = (
            fac[FACILITY_ID].to_numpy(dtype=object) if FACILITY_ID in fac else np.arange(len(fac))
        )
    for k, rule in enumerate(rules):
        if fac is None or n == 0:
            continue
        mask = fac_cat == rule.key
        if not mask.any():
            continue
        cutoff = (
            search_m if search_m is not None else max(SEARCH_FACTOR * rule.radius_m, MIN_SEARCH_M)
        )
        d, j = walknet.nearest_distance(
            network,
            origins,
            fac_pts[mask].reset_index(drop=True),
            cutoff_m=cutoff,
            detour_factor=detour_factor,
        )
        d = np.asarray(d, dtype=float)
        j = np.asarray(j, dtype=np.int64)
        d = np.where(j >= 0, d, np.inf)
        best_d, best_j = _min_by_owner(d, j, owner, n)
        dist[:, k] = best_d
        found = best_j >= 0
        nearest[found, k] = fac_ids[mask][best_j[found]]
    radius = np.array([r.radius_m for r in rules], dtype=float)
    finite = np.isfinite(dist)
    within = finite & (dist <= radius[None, :])
    out = pd.DataFrame(
        {
            COMPOUND_ID: np.repeat(compounds[COMPOUND_ID].to_numpy(dtype=object), len(rules)),
            CATEGORY: np.tile(np.array([r.key for r in rules], dtype=object), n),
            DISTANCE_M: np.where(finite, dist, np.nan).ravel(),
            RADIUS_M: np.tile(radius, n),
            WITHIN_RADIUS: within.ravel(),
            METHOD: _method(network, detour_factor),
            NEAREST_FACILITY_ID: nearest.ravel(),
        },
        columns=list(ACCESS_COLUMNS),
    )
    logger.info(
        "service access: %d compounds x %d categories (%s), %d pairs within radius",
        n,
        len(rules),
        out[METHOD].iat[0] if len(out) else _method(network, detour_factor),
        int(within.sum()),
    )
    return out


# --------------------------------------------------------------------------- 2SFCA
def two_step_fca(
    reach: sp.spmatrix | np.ndarray, demand: np.ndarray, capacity: np.ndarray
) -> np.ndarray:
    """Two-step floating catchment: each facility's capacity shared by demand.

    Step 1: facility j serves the units within its radius (``reach[:, j]``); its
    capacity is divided among them in proportion to their demand,
    ``share_ij = capacity_j * demand_i / sum_k(reach_kj * demand_k)``.
    Step 2: a unit's supply is the sum of its shares. A facility whose catchment has
    no demand gives nothing. A unit that reaches a facility of unknown (NaN)
    capacity gets NaN supply.

    Parameters
    ----------
    reach : scipy.sparse matrix or ndarray, shape (n_units, n_facilities)
        Non-zero where the unit lies within the facility's radius.
    demand : ndarray, shape (n_units,)
        Demand of each unit (>= 0).
    capacity : ndarray, shape (n_facilities,)
        Capacity in the same unit as demand; NaN = unknown.

    Returns
    -------
    ndarray, shape (n_units,)
        Supply per unit.

    Examples
    --------
    >>> import numpy as np
    >>> reach = np.array([[1, 0], [1, 1], [0, 1]])
    >>> two_step_fca(reach, np.array([10.0, 30.0, 20.0]), np.array([20.0, 10.0])).tolist()
    [5.0, 21.0, 4.0]
    """
    r = sp.csr_matrix(reach, dtype=float)
    r.data[:] = 1.0
    dem = np.asarray(demand, dtype=float)
    cap = np.asarray(capacity, dtype=float)
    unknown = np.isnan(cap)
    catchment = r.T @ dem
    ratio = np.divide(
        np.where(unknown, 0.0, cap), catchment, out=np.zeros_like(cap), where=catchment > 0
    )
    supply = dem * (r @ ratio)
    if unknown.any():
        supply[(r @ unknown.astype(float)) > 0] = np.nan
    return supply


def _district_ids(compounds: gpd.GeoDataFrame, districts: Any) -> np.ndarray | None:
    """District id of each compound (None where excluded), or None for no districts."""
    ids = compounds[COMPOUND_ID]
    mapping: Mapping[Any, Any] | pd.Series | None = None
    if districts is None or isinstance(districts, pd.DataFrame) and COMPOUND_ID not in districts:
        if DISTRICT_ID not in compounds:
            if districts is not None:
                raise InputError(
                    "compute_gaps: districts were given but the compounds have no "
                    f"{DISTRICT_ID!r} column and districts has no {COMPOUND_ID!r} column; "
                    "pass the compounds returned by the districting step or a "
                    "compound_id -> district_id mapping"
                )
            return None
        values = compounds[DISTRICT_ID]
    else:
        if isinstance(districts, pd.DataFrame):
            mapping = pd.Series(
                districts[DISTRICT_ID].to_numpy(), index=districts[COMPOUND_ID].to_numpy()
            )
        elif isinstance(districts, pd.Series):
            mapping = districts
        elif isinstance(districts, Mapping):
            mapping = pd.Series(dict(districts), dtype=object)
        else:
            raise InputError(
                "compute_gaps: districts must be a DataFrame with compound_id and district_id, "
                f"a Series or a mapping compound_id -> district_id, got {type(districts).__name__}"
            )
        values = ids.map(mapping)
    out = values.astype(object).to_numpy(copy=True)
    out[pd.isna(out)] = None
    return out


def _supply(
    rule: CategoryRule,
    demand: np.ndarray,
    origins: gpd.GeoSeries,
    owner: np.ndarray,
    n: int,
    fac: gpd.GeoDataFrame | None,
    fac_pts: gpd.GeoSeries | None,
    network: Any,
    detour_factor: float,
) -> np.ndarray:
    if fac is None or n == 0:
        return np.zeros(n)
    mask = fac[CATEGORY].to_numpy() == rule.key
    if not mask.any():
        return np.zeros(n)  # no facility at all: zero supply, shortfall = demand
    if CAPACITY not in fac:
        return np.full(n, np.nan)
    cap = pd.to_numeric(fac[CAPACITY], errors="coerce").to_numpy(dtype=float)[mask]
    if np.isnan(cap).all():
        return np.full(n, np.nan)
    assert fac_pts is not None
    m = walknet.distance_matrix(
        network,
        origins,
        fac_pts[mask].reset_index(drop=True),
        cutoff_m=rule.radius_m,
        detour_factor=detour_factor,
    )
    m = sp.csr_matrix(m)
    m.eliminate_zeros()
    m.data[:] = 1.0
    gather = sp.csr_matrix(
        (np.ones(len(owner)), (owner, np.arange(len(owner)))), shape=(n, len(owner))
    )
    reach = gather @ m
    return two_step_fca(reach, demand, cap)


# --------------------------------------------------------------------------- gaps
def compute_gaps(
    compounds: gpd.GeoDataFrame,
    access: pd.DataFrame,
    *,
    facilities: gpd.GeoDataFrame | None,
    standards: Standards,
    districts: Any = None,
    network: walknet.WalkNetwork | None = None,
    gates: gpd.GeoDataFrame | None = None,
    detour_factor: float = 1.3,
) -> pd.DataFrame:
    """Coverage, demand, supply and shortfall per compound and per district.

    Parameters
    ----------
    compounds : geopandas.GeoDataFrame
        Compounds with ``compound_id``, ``households``, optional ``population``
        (NaN: households x persons_per_household) and optional ``district_id``.
    access : pandas.DataFrame
        The table of :func:`compute_access` (its categories are the ones reported).
    facilities : geopandas.GeoDataFrame or None
        Facilities with ``category`` and ``capacity`` (NaN = unknown).
    standards : Standards
        Demand rules and radii.
    districts : DataFrame, Series or mapping, optional
        compound_id -> district_id (a DataFrame with both columns, a Series indexed by
        compound_id, or a dict). Default: ``compounds.district_id`` when present;
        without either there are no district rows.
    network : WalkNetwork, optional
        Walk network for the 2SFCA catchments (None: straight line x detour_factor).
    gates : geopandas.GeoDataFrame, optional
        Gates; catchments are reached at gates as in :func:`compute_access`.
    detour_factor : float
        Straight-line multiplier of the fallback.

    Returns
    -------
    pandas.DataFrame
        :data:`GAP_COLUMNS`. Rows with ``level="compound"`` (``unit_id`` =
        compound_id) and ``level="district"`` (``unit_id`` = district_id), each per
        category. ``covered_households`` counts households covered as separate
        compounds; ``covered_households_merged`` counts them after merging, where a
        district is covered when any member reaches a facility within the radius
        (on compound rows: the compound's district status, or its own status when it
        is in no district). ``demand`` follows the standard's rule, ``supply`` is the
        2SFCA share of known capacities (0 when the category has no facility, NaN when
        none of its facilities has a capacity or the unit reaches one of unknown
        capacity), ``shortfall = max(demand - supply, 0)``. District supply and demand
        are sums over members. Distances are the minimum over members.
    """
    ids = compounds[COMPOUND_ID].to_numpy(dtype=object)
    n = len(compounds)
    cats = list(dict.fromkeys(access[CATEGORY].tolist())) if len(access) else []
    rules = [standards.rule(c) for c in cats]
    households = (
        pd.to_numeric(compounds[HOUSEHOLDS], errors="coerce").fillna(0).to_numpy(dtype=float)
    )
    population = (
        pd.to_numeric(compounds[POPULATION], errors="coerce").to_numpy(dtype=float)
        if POPULATION in compounds
        else None
    )
    # distances aligned to (compound, category)
    row = pd.Index(ids).get_indexer(access[COMPOUND_ID].to_numpy())
    col = pd.Index(cats).get_indexer(access[CATEGORY].to_numpy())
    ok = row >= 0
    dist = np.full((n, len(cats)), np.nan)
    within = np.zeros((n, len(cats)), dtype=bool)
    dist[row[ok], col[ok]] = access[DISTANCE_M].to_numpy(dtype=float)[ok]
    within[row[ok], col[ok]] = access[WITHIN_RADIUS].to_numpy(dtype=bool)[ok]
    district = _district_ids(compounds, districts)

    fac = _facilities_of(facilities)
    fac_pts = _facility_points(fac) if fac is not None else None
    origins, owner = access_points(compounds, gates)
    if network is not None and len(origins):
        origins = walknet.snap(network, origins)  # once, for every category
    demand = np.zeros((n, len(cats)))
    supply = np.zeros((n, len(cats)))
    for k, rule in enumerate(rules):
        demand[:, k] = standards.demand(rule.key, households, population)
        supply[:, k] = _supply(
            rule, demand[:, k], origins, owner, n, fac, fac_pts, network, detour_factor
        )

    covered = np.where(within, households[:, None], 0.0)
    covered_merged = covered.copy()
    frames = []
    if district is not None:
        in_d = np.array([d is not None for d in district], dtype=bool)
        codes, uniques = pd.factorize(pd.Series(district[in_d], dtype=object), sort=True)
        nd = len(uniques)
        if nd:
            pos = np.flatnonzero(in_d)
            agg = sp.csr_matrix((np.ones(len(pos)), (codes, pos)), shape=(nd, n))
            d_households = agg @ households
            d_covered = agg @ covered
            d_any = (agg @ within.astype(float)) > 0
            d_covered_merged = np.where(d_any, d_households[:, None], 0.0)
            covered_merged[pos] = np.where(d_any[codes], households[pos, None], 0.0)
            d_demand = agg @ demand
            nan_supply = (agg @ np.isnan(supply).astype(float)) > 0
            d_supply = np.where(nan_supply, np.nan, agg @ np.nan_to_num(supply))
            d_dist = np.full((nd, len(cats)), np.inf)
            np.minimum.at(d_dist, codes, np.where(np.isnan(dist[pos]), np.inf, dist[pos]))
            d_dist[~np.isfinite(d_dist)] = np.nan
            frames.append(
                _gap_frame(
                    LEVEL_DISTRICT,
                    np.asarray(uniques, dtype=object),
                    np.asarray(uniques, dtype=object),
                    rules,
                    d_households,
                    d_covered,
                    d_covered_merged,
                    d_dist,
                    d_demand,
                    d_supply,
                )
            )
    comp = _gap_frame(
        LEVEL_COMPOUND,
        ids,
        district if district is not None else np.full(n, None, dtype=object),
        rules,
        households,
        covered,
        covered_merged,
        dist,
        demand,
        supply,
    )
    out = pd.concat([comp, *frames], ignore_index=True) if frames else comp
    logger.info(
        "service gaps: %d compound rows, %d district rows, %d categories",
        len(comp),
        len(out) - len(comp),
        len(cats),
    )
    return out


def _gap_frame(
    level: str,
    unit_ids: np.ndarray,
    district: np.ndarray,
    rules: list[CategoryRule],
    households: np.ndarray,
    covered: np.ndarray,
    covered_merged: np.ndarray,
    dist: np.ndarray,
    demand: np.ndarray,
    supply: np.ndarray,
) -> pd.DataFrame:
    nu, nc = len(unit_ids), len(rules)
    hh = np.repeat(np.rint(households).astype(np.int64), nc)
    covered = np.rint(covered).astype(np.int64)
    covered_merged = np.rint(covered_merged).astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(hh > 0, covered.ravel() / hh, np.nan)
        share_m = np.where(hh > 0, covered_merged.ravel() / hh, np.nan)
    shortfall = np.maximum(demand - supply, 0.0)  # NaN supply -> NaN
    return pd.DataFrame(
        {
            LEVEL: level,
            UNIT_ID: np.repeat(unit_ids, nc),
            DISTRICT_ID: np.repeat(district, nc),
            CATEGORY: np.tile(np.array([r.key for r in rules], dtype=object), nu),
            HOUSEHOLDS: hh,
            COVERED_HOUSEHOLDS: covered.ravel(),
            UNCOVERED_HOUSEHOLDS: hh - covered.ravel(),
            COVERAGE_SHARE: share,
            COVERED_HOUSEHOLDS_MERGED: covered_merged.ravel(),
            UNCOVERED_HOUSEHOLDS_MERGED: hh - covered_merged.ravel(),
            COVERAGE_SHARE_MERGED: share_m,
            DISTANCE_M: dist.ravel(),
            RADIUS_M: np.tile(np.array([r.radius_m for r in rules], dtype=float), nu),
            DEMAND: demand.ravel(),
            SUPPLY: supply.ravel(),
            SHORTFALL: shortfall.ravel(),
            DEMAND_UNIT: np.tile(np.array([r.demand_unit for r in rules], dtype=object), nu),
        },
        columns=list(GAP_COLUMNS),
    )


def summarise_coverage(gaps: pd.DataFrame, *, lang: str = "zh") -> pd.DataFrame:
    """One row per category: share of households covered before and after merging.

    Parameters
    ----------
    gaps : pandas.DataFrame
        The table of :func:`compute_gaps` (its compound rows are used).
    lang : {"zh", "en"}
        Language of ``category_name``.

    Returns
    -------
    pandas.DataFrame
        :data:`SUMMARY_COLUMNS`: compounds, uncovered_compounds, households,
        covered_households and coverage_share (as separate compounds),
        covered_households_merged and coverage_share_merged (after merging into
        districts), and demand, supply and shortfall summed over compounds (supply NaN
        when any compound's supply is unknown; shortfall is the sum of compound
        shortfalls, so one compound's surplus does not offset another's deficit).
    """
    comp = gaps[gaps[LEVEL] == LEVEL_COMPOUND]
    key = comp[CATEGORY]
    grouped = comp.groupby(CATEGORY, sort=False)
    supply_unknown = comp[SUPPLY].isna().groupby(key, sort=False).any()
    out = pd.DataFrame(
        {
            RADIUS_M: grouped[RADIUS_M].first(),
            COMPOUNDS_COUNT: grouped.size(),
            UNCOVERED_COMPOUNDS: (comp[UNCOVERED_HOUSEHOLDS] > 0).groupby(key, sort=False).sum(),
            HOUSEHOLDS: grouped[HOUSEHOLDS].sum(),
            COVERED_HOUSEHOLDS: grouped[COVERED_HOUSEHOLDS].sum(),
            COVERED_HOUSEHOLDS_MERGED: grouped[COVERED_HOUSEHOLDS_MERGED].sum(),
            DEMAND: grouped[DEMAND].sum(),
            SUPPLY: grouped[SUPPLY].sum().where(~supply_unknown),
            SHORTFALL: grouped[SHORTFALL].sum().where(~supply_unknown),
            DEMAND_UNIT: grouped[DEMAND_UNIT].first(),
        }
    )
    out.index.name = CATEGORY
    out = out.reset_index()
    hh = out[HOUSEHOLDS].to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        out[COVERAGE_SHARE] = np.where(hh > 0, out[COVERED_HOUSEHOLDS] / hh, np.nan)
        out[COVERAGE_SHARE_MERGED] = np.where(hh > 0, out[COVERED_HOUSEHOLDS_MERGED] / hh, np.nan)
    out[CATEGORY_NAME] = _category_names(out[CATEGORY], lang)
    return out[list(SUMMARY_COLUMNS)]


def _category_names(keys: pd.Series, lang: str) -> pd.Series:
    if lang == "zh":
        return keys.map(CATEGORIES)
    return keys.map(lambda k: str(k).replace("_", " "))


# --------------------------------------------------------------------------- map layer
def service_areas(
    network: walknet.WalkNetwork | None,
    facilities: gpd.GeoDataFrame | None,
    *,
    standards: Standards,
    categories: Sequence[str] | None = None,
) -> gpd.GeoDataFrame:
    """Walkable catchment of each category's facilities, for the map.

    Parameters
    ----------
    network : WalkNetwork or None
        Walk network (None: circles of radius / detour factor).
    facilities : geopandas.GeoDataFrame or None
        Facilities with ``category``.
    standards : Standards
        Radii.
    categories : sequence of str, optional
        Categories to draw (default: all); categories without a facility are skipped.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``category``, ``radius_m``, ``geometry`` (the area within the radius
        of any facility of the category), in the facilities' CRS.
    """
    rules = _rules(standards, categories)
    fac = _facilities_of(facilities)
    rows: list[dict[str, Any]] = []
    crs = (
        facilities.crs if facilities is not None else (network.crs if network is not None else None)
    )
    if fac is not None:
        pts = _facility_points(fac)
        cat = fac[CATEGORY].to_numpy()
        for rule in rules:
            mask = cat == rule.key
            if not mask.any():
                continue
            geom = walknet.service_area(
                network, pts[mask].reset_index(drop=True), radius_m=rule.radius_m
            )
            rows.append({CATEGORY: rule.key, RADIUS_M: rule.radius_m, GEOMETRY: geom})
    return gpd.GeoDataFrame(
        rows or {CATEGORY: [], RADIUS_M: [], GEOMETRY: []}, geometry=GEOMETRY, crs=crs
    )


# --------------------------------------------------------------------------- output
def translate_columns(df: pd.DataFrame, lang: str) -> pd.DataFrame:
    """Return a copy of ``df`` with Chinese headers (``lang="zh"``) or unchanged ones (``"en"``).

    Columns not in :data:`GAP_COLUMNS_ZH` keep their names.
    """
    if lang == "en":
        return df.copy()
    if lang == "zh":
        return df.rename(columns=dict(GAP_COLUMNS_ZH))
    raise InputError(f"unknown language {lang!r} for table headers; use 'zh' or 'en'")


def _with_names(df: pd.DataFrame, lang: str) -> pd.DataFrame:
    out = df.copy()
    if CATEGORY in out and CATEGORY_NAME not in out:
        out.insert(
            out.columns.get_loc(CATEGORY) + 1, CATEGORY_NAME, _category_names(out[CATEGORY], lang)
        )
    if lang == "zh" and LEVEL in out:
        out[LEVEL] = out[LEVEL].map(lambda v: _LEVEL_ZH.get(v, v))
    return out


def write_gap_outputs(
    access: pd.DataFrame, gaps: pd.DataFrame, out_dir: str | Path, *, lang: str = "zh"
) -> list[Path]:
    """Write ``service_access.csv``, ``service_gaps.csv`` and ``service_gaps.xlsx``.

    Parameters
    ----------
    access, gaps : pandas.DataFrame
        Tables of :func:`compute_access` and :func:`compute_gaps`.
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
    from renogis.wording import check_lang

    check_lang(lang)  # before writing anything
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = write_table(access, out / "service_access", formats=("csv",))
    written += write_table(gaps, out / "service_gaps", formats=("csv", "xlsx"), sheet_name="service_gaps",
                           lang=lang)
    return written
