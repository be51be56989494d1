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

:func:`service_areas` gives the walkable catchments for the map. This module writes no
file: :func:`renogis.outputs.gap_tables.write_gap_outputs` writes the tables.

Distances are metres in the work CRS. Without a walk network (``network=None``)
distances are straight lines x ``detour_factor`` and flagged in the ``method`` column.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from dataclasses import field as dc_field
from typing import Any, Final

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely

from renogis import config, schema
from renogis import network as walknet
from renogis._errors import InputError
from renogis._progress import track
from renogis.config import DETOUR_FACTOR
from renogis.schema import (
    CAPACITY,
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
    "ACCESS_M",
    "METHODS",
    "ACCESS_MODELS",
    "access_report",
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
    "LEVEL_COMPOUND",
    "LEVEL_DISTRICT",
    "MIN_SEARCH_M",
    "SEARCH_FACTOR",
    "access_points",
    "compute_access",
    "two_step_fca",
    "compute_gaps",
    "service_areas",
]

# --------------------------------------------------------------------------- columns
DISTANCE_M: Final = schema.DISTANCE_M
RADIUS_M: Final = schema.RADIUS_M
WITHIN_RADIUS: Final = schema.WITHIN_RADIUS
METHOD: Final = schema.METHOD
NEAREST_FACILITY_ID: Final = schema.NEAREST_FACILITY_ID
#: Connector length (m) of the access point a distance starts from.
ACCESS_M: Final = schema.ACCESS_M
METHOD_NETWORK: Final = schema.METHOD_NETWORK
METHOD_INSIDE: Final = schema.METHOD_INSIDE
METHOD_STRAIGHT: Final = schema.METHOD_STRAIGHT
METHOD_UNREACHABLE: Final = schema.METHOD_UNREACHABLE
METHOD_NO_DATA: Final = schema.METHOD_NO_DATA
#: Values of the ``method`` column.
METHODS: Final = schema.METHODS
#: Access models of compounds without gates.
ACCESS_MODELS: Final = config.ACCESS_MODELS
LEVEL: Final = schema.LEVEL
UNIT_ID: Final = schema.UNIT_ID
COVERED_HOUSEHOLDS: Final = schema.HOUSEHOLDS_COVERED
UNCOVERED_HOUSEHOLDS: Final = schema.HOUSEHOLDS_UNCOVERED
COVERAGE_SHARE: Final = schema.COVERAGE_SHARE
COVERED_HOUSEHOLDS_MERGED: Final = schema.COVERED_HOUSEHOLDS_MERGED
UNCOVERED_HOUSEHOLDS_MERGED: Final = schema.UNCOVERED_HOUSEHOLDS_MERGED
COVERAGE_SHARE_MERGED: Final = schema.COVERAGE_SHARE_MERGED
DEMAND: Final = schema.DEMAND
SUPPLY: Final = schema.SUPPLY
SHORTFALL: Final = schema.SHORTFALL
DEMAND_UNIT: Final = schema.DEMAND_UNIT
CATEGORY_NAME: Final = schema.CATEGORY_NAME
UNCOVERED_COMPOUNDS: Final = schema.UNCOVERED_COMPOUNDS
COMPOUNDS_COUNT: Final = schema.COMPOUNDS_COUNT
#: Walking distance after merging (walls between joined members opened), m.
DISTANCE_MERGED_M: Final = schema.DISTANCE_MERGED_M
#: "ok", "absent" (no facility of the category in the layer) or "no_data".
DATA_STATUS: Final = schema.DATA_STATUS
#: A sentence for the planner (no data, category absent from the layer).
NOTE: Final = schema.NOTE
STATUS_OK: Final = schema.STATUS_OK
STATUS_ABSENT: Final = schema.STATUS_ABSENT

LEVEL_COMPOUND: Final = schema.LEVEL_COMPOUND
LEVEL_DISTRICT: Final = schema.LEVEL_DISTRICT

#: Columns of the service_access table.
ACCESS_COLUMNS: Final = (
    COMPOUND_ID,
    CATEGORY,
    DISTANCE_M,
    RADIUS_M,
    WITHIN_RADIUS,
    METHOD,
    ACCESS_M,
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
    DISTANCE_MERGED_M,
    DATA_STATUS,
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
    DATA_STATUS,
    NOTE,
)

#: Search cutoff of the nearest-facility run: max(SEARCH_FACTOR x radius, MIN_SEARCH_M).
#: Beyond it the distance is reported as missing (NaN, an empty cell).
SEARCH_FACTOR: Final = 3.0
MIN_SEARCH_M: Final = 2000.0


# --------------------------------------------------------------------------- helpers
def _rules(standards: Standards, categories: Sequence[str] | None) -> list[CategoryRule]:
    if categories is None:
        return list(standards.categories.values())
    return [standards.rule(c) for c in categories]


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
    if len(owner) > 1 and not (owner[1:] >= owner[:-1]).all():
        order = np.argsort(owner, kind="stable")
        dist, idx, owner = dist[order], idx[order], owner[order]
    starts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
    mins = np.minimum.reduceat(dist, starts)
    group = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, len(owner)]))
    hit = np.flatnonzero(dist == mins[group])
    first = hit[np.r_[True, group[hit][1:] != group[hit][:-1]]]
    best_d[owner[starts]] = mins
    best_j[owner[first]] = idx[first]
    return best_d, best_j


def _facilities_of(facilities: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame | None:
    if facilities is None or len(facilities) == 0:
        return None
    return facilities


# --------------------------------------------------------------------------- access
@dataclass
class _Model:
    """What compute_access measured, kept for compute_gaps (merged coverage, diagnostics)."""

    compounds: gpd.GeoDataFrame
    rules: list[CategoryRule]
    network: walknet.WalkNetwork | None
    detour_factor: float
    status: np.ndarray  # per category: "ok", "absent" (no facility in the layer), "no_data"
    dist: np.ndarray  # (n, k) best distance, inf unreachable
    # network mode: access points and the network distance from each to each category
    points: walknet.AccessPoints | None = None
    point_dist: np.ndarray | None = None  # (n_points, k) float32
    # straight-line mode: origin geometries and owners
    origins: np.ndarray | None = None
    owner: np.ndarray | None = None
    # facilities inside compounds: (compound position, category column, facility point)
    inside_comp: np.ndarray | None = None
    inside_cat: np.ndarray | None = None
    inside_pt: np.ndarray | None = None
    inside_fac: np.ndarray | None = None
    connector_m: np.ndarray | None = None  # (n,) shortest access connector, inf none
    barrier_tree: shapely.STRtree | None = None  # straight-line mode only
    fac_snap: walknet.Snap | None = None
    points_snap: walknet.Snap | None = None
    report: dict = dc_field(default_factory=dict)


#: compute_access results by id of the returned table (weak: dropped with the table).
_MODELS: dict[int, tuple[weakref.ref, _Model]] = {}


def _remember(table: pd.DataFrame, model: _Model) -> None:
    for key in [k for k, (ref, _) in _MODELS.items() if ref() is None]:
        del _MODELS[key]
    _MODELS[id(table)] = (weakref.ref(table), model)


def _recall(table: pd.DataFrame) -> _Model | None:
    hit = _MODELS.get(id(table))
    if hit is None or hit[0]() is not table:
        return None
    return hit[1]


def _straight_nearest(
    origins: np.ndarray,
    dest: np.ndarray,
    *,
    cutoff_m: float,
    detour_factor: float,
    barrier_tree: shapely.STRtree | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Straight line x detour to the nearest destination whose straight line crosses no barrier."""
    n = len(origins)
    dist = np.full(n, np.inf)
    near = np.full(n, -1, dtype=np.int64)
    if n == 0 or len(dest) == 0:
        return dist, near
    oi, dj = shapely.STRtree(dest).query(origins, predicate="dwithin",
                                         distance=cutoff_m / detour_factor)
    if len(oi) == 0:
        return dist, near
    d = shapely.distance(origins[oi], dest[dj]) * detour_factor
    if barrier_tree is not None:
        line = shapely.shortest_line(origins[oi], dest[dj])
        li, _ = barrier_tree.query(line, predicate="crosses")
        d[np.unique(li)] = np.inf
    ok = d <= cutoff_m
    oi, dj, d = oi[ok], dj[ok], d[ok]
    order = np.lexsort((dj, d, oi))
    first = order[np.r_[True, oi[order][1:] != oi[order][:-1]]] if len(order) else order
    dist[oi[first]] = d[first]
    near[oi[first]] = dj[first]
    return dist, near


def _gate_table(
    compounds: gpd.GeoDataFrame, gates: gpd.GeoDataFrame | None
) -> tuple[np.ndarray, np.ndarray]:
    """Usable gate geometries and the position of their compound."""
    if gates is None or not len(gates):
        return np.empty(0, dtype=object), np.empty(0, dtype=np.int64)
    ids = pd.Index(compounds[COMPOUND_ID].to_numpy())
    pos = ids.get_indexer(gates[COMPOUND_ID].to_numpy())
    geom = gates.geometry.to_numpy()
    usable = (pos >= 0) & ~(shapely.is_missing(geom) | shapely.is_empty(geom))
    if (~usable).any():
        logger.warning(
            "ignored %d gates with an unknown compound_id or no geometry", int((~usable).sum())
        )
    return geom[usable], pos[usable].astype(np.int64)


def _inside_pairs(
    compounds: gpd.GeoDataFrame, fac: gpd.GeoDataFrame
) -> tuple[np.ndarray, np.ndarray]:
    """(compound position, facility position) of facilities inside or touching a compound."""
    cg = compounds.geometry.to_numpy()
    fg = fac.geometry.to_numpy()
    ok = ~(shapely.is_missing(fg) | shapely.is_empty(fg))
    fi = np.flatnonzero(ok)
    if len(fi) == 0 or len(cg) == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    qf, qc = shapely.STRtree(cg).query(fg[fi], predicate="intersects")
    return qc.astype(np.int64), fi[qf].astype(np.int64)


def compute_access(
    compounds: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame | None,
    *,
    network: walknet.WalkNetwork | None,
    standards: Standards,
    gates: gpd.GeoDataFrame | None = None,
    categories: Sequence[str] | None = None,
    detour_factor: float = DETOUR_FACTOR,
    search_m: float | None = None,
    access: str = config.ACCESS_MODELS[0],
    frontage_m: float = walknet.FRONTAGE_M,
    no_data: Sequence[str] = (),
    barriers: gpd.GeoDataFrame | None = None,
) -> pd.DataFrame:
    """Compute the walking distance from each compound to the nearest facility per category.

    The access model (see the README, "How a compound reaches a facility"):

    * a compound with gates is reached at its gates: each gate joins the network at
      its nearest point (connector length added); the distance is the minimum over
      its gates;
    * without gates, ``access="frontage"`` (default): with c the shortest distance
      from the polygon to the network, every network point p within c + ``frontage_m``
      of the polygon is an access point at cost dist(p, polygon); the distance is the
      minimum over those p of dist(p, polygon) + network distance from p to the
      nearest facility (network sampled at 5 m, see
      :func:`renogis.network.frontage_points`); ``access="centroid"``: the polygon's
      representative point joins the network at its nearest point;
    * a facility joins the network at its nearest point plus that connector; a
      facility inside or touching a compound's polygon serves it at 0 m;
    * no connector crosses a barrier of the network.

    Parameters
    ----------
    compounds : geopandas.GeoDataFrame
        Compounds (``compound_id``, polygon geometry) in the work CRS.
    facilities : geopandas.GeoDataFrame or None
        Facilities (``facility_id``, ``category``, point geometry; polygons count at
        their representative point). None means there is no facilities layer: every
        category is ``no_data``.
    network : WalkNetwork or None
        Walk network; None falls back to straight lines x ``detour_factor`` (that do
        not cross ``barriers``).
    standards : Standards
        Radii per category; a category with ``no_data = true`` is ``no_data``.
    gates : geopandas.GeoDataFrame, optional
        Compound gates; a compound with gates is reached at its gates.
    categories : sequence of str, optional
        Categories to compute (default: every category of ``standards``).
    detour_factor : float
        Straight-line multiplier of the fallback.
    search_m : float, optional
        Search cutoff in metres; default ``max(3 x radius, 2000 m)`` per category.
        Facilities beyond it count as absent (distance NaN, ``unreachable``).
    access : {"frontage", "centroid"}
        Access model of compounds without gates.
    frontage_m : float, default 15
        Frontage model: access points lie within c + ``frontage_m`` of the polygon.
    no_data : sequence of str
        Categories the facility data do not record (reported as ``no_data``).
    barriers : geopandas.GeoDataFrame, optional
        Barriers for the straight-line fallback (with a network, its own barriers
        are used).

    Returns
    -------
    pandas.DataFrame
        :data:`ACCESS_COLUMNS`, one row per compound x category (compound-major,
        categories in standards order): ``distance_m`` (NaN: unreachable or no data),
        ``radius_m``, ``within_radius`` (bool; NaN for ``no_data``), ``method``
        (``network``, ``inside``, ``straight_line``, ``unreachable`` or ``no_data``),
        ``access_m`` (connector length used: the cost of the access point the
        distance starts from, 0 inside; NaN otherwise), ``nearest_facility_id``
        (None when no facility was found).

    Examples
    --------
    >>> import geopandas as gpd
    >>> from renogis.datasets import sample_path
    >>> from renogis.network import build_walk_network
    >>> from renogis.standards import load_standards
    >>> layer = lambda name: gpd.read_file(sample_path(), layer=name)
    >>> net = build_walk_network(layer("streets"), barriers=layer("barriers"))
    >>> access = compute_access(layer("compounds"), layer("facilities"), network=net,
    ...                         standards=load_standards(), categories=["clinic"])
    >>> access[METHOD].value_counts().to_dict(), int(access[WITHIN_RADIUS].sum())
    ({'network': 61, 'inside': 4}, 33)
    >>> round(float(access.loc[2, DISTANCE_M]), 1), access.loc[2, NEAREST_FACILITY_ID]
    (122.6, 'F0004')
    """
    if access not in ACCESS_MODELS:
        raise InputError(
            f"unknown access model {access!r}; use one of {', '.join(ACCESS_MODELS)}"
        )
    rules = _rules(standards, categories)
    unknown = [c for c in no_data if c not in standards.categories]
    if unknown:
        raise InputError(
            f"--no-data: unknown categor{'y' if len(unknown) == 1 else 'ies'} "
            f"{', '.join(map(repr, unknown))}; the standards know {', '.join(standards.categories)}"
        )
    n, k_cat = len(compounds), len(rules)
    status = _category_status(rules, facilities, no_data)
    model = _Model(compounds=compounds, rules=rules, network=network,
                   detour_factor=detour_factor, status=status, dist=np.full((n, k_cat), np.inf))
    gate_geom, gate_owner = _gate_table(compounds, gates)
    has_fac = facilities is not None and len(facilities) > 0 and n > 0
    fac_pts = _facility_points(facilities) if has_fac else None
    if network is not None:
        if fac_pts is not None:
            model.fac_snap = walknet.snap(network, np.asarray(fac_pts.values))
        model.points = _network_access_points(network, compounds, gate_geom, gate_owner, access=access,
                                              frontage_m=frontage_m, fac_snap=model.fac_snap)
        n_points = len(model.points) if model.points is not None else 0
        model.point_dist = np.full((n_points, k_cat), np.inf, dtype=np.float32)
        model.connector_m = np.full(n, np.inf)
        if n_points:
            np.minimum.at(model.connector_m, model.points.owner, model.points.cost_m)
    else:
        model.origins, model.owner = _straight_origins(compounds, gate_geom, gate_owner, access=access)
        model.connector_m = np.full(n, np.nan)
        model.barrier_tree = _barrier_tree(barriers)
    access_m, nearest, method = _measure(model, facilities, fac_pts, search_m=search_m)
    out, n_within = _access_frame(compounds, model, access_m=access_m, nearest=nearest, method=method)
    model.report = _network_report(model, facilities)
    _remember(out, model)
    logger.info(
        "service access: %d compounds x %d categories (%s, %s access), %d pairs within radius, "
        "%d categories without data",
        n, k_cat, "walk network" if network is not None else "straight line", access,
        n_within, int((status == METHOD_NO_DATA).sum()),
    )
    return out


def _category_status(
    rules: list[CategoryRule], facilities: gpd.GeoDataFrame | None, no_data: Sequence[str]
) -> np.ndarray:
    """Per category: ``ok``, ``no_data`` (no layer, or declared without data) or ``absent``."""
    status = np.array([STATUS_OK] * len(rules), dtype=object)
    for k, rule in enumerate(rules):
        if facilities is None or rule.no_data or rule.key in set(no_data):
            status[k] = METHOD_NO_DATA
    fac_cat = (facilities[CATEGORY].to_numpy() if facilities is not None and len(facilities)
               else np.empty(0, dtype=object))
    for k, rule in enumerate(rules):
        if status[k] == STATUS_OK and not (fac_cat == rule.key).any():
            status[k] = STATUS_ABSENT
    return status


def _network_access_points(
    network: walknet.WalkNetwork,
    compounds: gpd.GeoDataFrame,
    gate_geom: np.ndarray,
    gate_owner: np.ndarray,
    *,
    access: str,
    frontage_m: float,
    fac_snap: walknet.Snap | None,
) -> walknet.AccessPoints | None:
    """Where every compound joins the network, sorted by compound (None: no compound at all).

    At its gates when it has some; else by the access model (the frontage points,
    with the facilities' snap points added where they fall on a frontage, or the
    nearest point to the polygon's representative point).
    """
    geoms = compounds.geometry.to_numpy()
    plain = _without_gates(len(compounds), gate_owner)
    parts = []
    if len(gate_geom):
        g = walknet.nearest_points(network, gpd.GeoSeries(gate_geom, crs=compounds.crs))
        parts.append(walknet.AccessPoints(gate_owner[g.owner], g.edge, g.pos_m, g.cost_m, g.xy))
    if len(plain):
        pg = gpd.GeoSeries(geoms[plain], crs=compounds.crs)
        if access == "frontage":
            also = None
            if fac_snap is not None:
                also = (fac_snap.edge[fac_snap.valid], fac_snap.pos_m[fac_snap.valid])
            f = walknet.frontage_points(network, pg, frontage_m=frontage_m, also_at=also)
        else:
            f = walknet.nearest_points(network, pg.representative_point())
        parts.append(walknet.AccessPoints(plain[f.owner], f.edge, f.pos_m, f.cost_m, f.xy))
    if not parts:
        return None
    points = walknet.AccessPoints.concat(parts)
    return points.take(np.argsort(points.owner, kind="stable"))


def _straight_origins(
    compounds: gpd.GeoDataFrame, gate_geom: np.ndarray, gate_owner: np.ndarray, *, access: str
) -> tuple[np.ndarray, np.ndarray]:
    """Origins of the straight-line fallback and their compound: gates, then polygons (or points on them)."""
    geoms = compounds.geometry.to_numpy()
    plain = _without_gates(len(compounds), gate_owner)
    poly_origin = geoms[plain] if access == "frontage" else shapely.point_on_surface(geoms[plain])
    return np.concatenate([gate_geom, poly_origin]), np.concatenate([gate_owner, plain]).astype(np.int64)


def _without_gates(n: int, gate_owner: np.ndarray) -> np.ndarray:
    """Positions of the compounds that have no gate."""
    has_gate = np.zeros(n, dtype=bool)
    has_gate[gate_owner] = True
    return np.flatnonzero(~has_gate)


def _barrier_tree(barriers: gpd.GeoDataFrame | None) -> shapely.STRtree | None:
    """STRtree over the barrier linework (the straight-line fallback does not cross it)."""
    if barriers is None or not len(barriers):
        return None
    blines, _ = walknet._barrier_lines(barriers)
    return shapely.STRtree(blines) if len(blines) else None


def _measure(
    model: _Model,
    fac: gpd.GeoDataFrame | None,
    fac_pts: gpd.GeoSeries | None,
    *,
    search_m: float | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Nearest facility of every category that has data, from every compound.

    Fills ``model.dist`` (and, on a network, ``model.point_dist``) and the facilities
    inside compounds; returns the ``access_m``, ``nearest`` (facility id) and ``method``
    columns as ``(n, k)`` arrays.
    """
    dist = model.dist
    n, k_cat = dist.shape
    access_m = np.full((n, k_cat), np.nan)
    nearest = np.full((n, k_cat), None, dtype=object)
    method = np.full((n, k_cat), METHOD_UNREACHABLE, dtype=object)
    if fac is None or fac_pts is None:
        return access_m, nearest, method
    fac_cat = fac[CATEGORY].to_numpy()
    fac_ids = fac[FACILITY_ID].to_numpy(dtype=object) if FACILITY_ID in fac else np.arange(len(fac))
    _find_inside(model, fac, fac_pts)
    for k, rule in track(list(enumerate(model.rules)), desc="walking distances", unit="category"):
        if model.status[k] != STATUS_OK:
            continue
        idx = np.flatnonzero(fac_cat == rule.key)
        cutoff = search_m if search_m is not None else max(SEARCH_FACTOR * rule.radius_m, MIN_SEARCH_M)
        if model.network is not None:
            if model.points is None or not len(model.points):
                continue
            d, acc, fpos = _nearest_on_network(model, idx, k, cutoff_m=cutoff)
            how = METHOD_NETWORK
        else:
            d, acc, fpos = _nearest_straight(model, np.asarray(fac_pts.values)[idx], cutoff_m=cutoff)
            how = METHOD_STRAIGHT
        found = np.isfinite(d)
        dist[found, k] = d[found]
        access_m[found, k] = acc[found]
        nearest[found, k] = fac_ids[idx[fpos[found]]]
        method[found, k] = how
        # facilities inside or touching the compound: 0 m
        ci, fi = _first_inside(model, k, fac_ids)
        dist[ci, k] = 0.0
        access_m[ci, k] = 0.0
        nearest[ci, k] = fac_ids[fi]
        method[ci, k] = METHOD_INSIDE
    return access_m, nearest, method


def _find_inside(model: _Model, fac: gpd.GeoDataFrame, fac_pts: gpd.GeoSeries) -> None:
    """Facilities inside or touching a compound, of a category with data (sets ``model.inside_*``)."""
    ic, ifac = _inside_pairs(model.compounds, fac)
    cat_col = pd.Index([r.key for r in model.rules]).get_indexer(fac[CATEGORY].to_numpy()[ifac])
    keep = cat_col >= 0
    ic, ifac, cat_col = ic[keep], ifac[keep], cat_col[keep]
    keep = np.isin(model.status[cat_col], [STATUS_OK])
    model.inside_comp, model.inside_cat = ic[keep], cat_col[keep]
    model.inside_pt = np.asarray(fac_pts.values)[ifac[keep]]
    model.inside_fac = ifac[keep]


def _first_inside(model: _Model, k: int, fac_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Compounds holding a facility of category column ``k``, and the first of them by id."""
    assert model.inside_cat is not None and model.inside_comp is not None and model.inside_fac is not None
    sel = model.inside_cat == k
    if not sel.any():
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    ci, fi = model.inside_comp[sel], model.inside_fac[sel]
    order = np.lexsort((fac_ids[fi].astype(str), ci))
    ci, fi = ci[order], fi[order]
    first = np.r_[True, ci[1:] != ci[:-1]]
    return ci[first], fi[first]


def _nearest_on_network(
    model: _Model, idx: np.ndarray, k: int, *, cutoff_m: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Walk from every compound to the nearest facility ``idx`` (one category, column ``k``).

    Fills ``model.point_dist[:, k]``. Returns per compound the distance (inf: none
    within ``cutoff_m``), the cost of the access point it starts from and the
    position in ``idx`` of the facility (-1: none).
    """
    assert model.points is not None and model.fac_snap is not None and model.point_dist is not None
    n = len(model.compounds)
    pts, fs = model.points, model.fac_snap
    sub = walknet.Snap(fs.valid[idx], fs.edge[idx], fs.pos_m[idx], fs.connector_m[idx], fs.point[idx])
    field = walknet.destination_field(model.network, sub, cutoff_m=cutoff_m)
    d_net, j = field.at(pts.edge, pts.pos_m)
    model.point_dist[:, k] = d_net
    total = pts.cost_m + d_net
    total[total > cutoff_m] = np.inf
    best_d, best_i = _min_by_owner(total, np.arange(len(pts)), pts.owner, n)
    found = np.isfinite(best_d)
    acc = np.full(n, np.nan)
    fpos = np.full(n, -1, dtype=np.int64)
    acc[found] = pts.cost_m[best_i[found]]
    fpos[found] = j[best_i[found]]
    return best_d, acc, fpos


def _nearest_straight(
    model: _Model, dest: np.ndarray, *, cutoff_m: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """As :func:`_nearest_on_network`, along straight lines x detour (no access cost: NaN)."""
    n = len(model.compounds)
    d, j = _straight_nearest(model.origins, dest, cutoff_m=cutoff_m,
                             detour_factor=model.detour_factor, barrier_tree=model.barrier_tree)
    best_d, best_i = _min_by_owner(d, np.arange(len(d)), model.owner, n)
    found = np.isfinite(best_d)
    fpos = np.full(n, -1, dtype=np.int64)
    fpos[found] = j[best_i[found]]
    return best_d, np.full(n, np.nan), fpos


def _access_frame(
    compounds: gpd.GeoDataFrame,
    model: _Model,
    *,
    access_m: np.ndarray,
    nearest: np.ndarray,
    method: np.ndarray,
) -> tuple[pd.DataFrame, int]:
    """The service_access table (compound-major) and the number of pairs within the radius."""
    rules, dist = model.rules, model.dist
    n, k_cat = dist.shape
    no_data_col = model.status == METHOD_NO_DATA
    method = method.copy()
    method[:, no_data_col] = METHOD_NO_DATA
    radius = np.array([r.radius_m for r in rules], dtype=float)
    finite = np.isfinite(dist)
    within = finite & (dist <= radius[None, :])
    within_col: Any = within.ravel()
    if no_data_col.any():
        within_col = within.astype(object)
        within_col[:, no_data_col] = np.nan
        within_col = within_col.ravel()
    out = pd.DataFrame(
        {
            COMPOUND_ID: np.repeat(compounds[COMPOUND_ID].to_numpy(dtype=object), k_cat),
            CATEGORY: np.tile(np.array([r.key for r in rules], dtype=object), n),
            DISTANCE_M: np.where(finite, dist, np.nan).ravel(),
            RADIUS_M: np.tile(radius, n),
            WITHIN_RADIUS: within_col,
            METHOD: method.ravel(),
            ACCESS_M: access_m.ravel(),
            NEAREST_FACILITY_ID: nearest.ravel(),
        },
        columns=list(ACCESS_COLUMNS),
    )
    return out, int(within.sum())


#: Connector warning: the median shortest access connector of the compounds above this (m) ...
CONNECTOR_MEDIAN_WARN_M: Final = 250.0
#: ... or more than CONNECTOR_FAR_SHARE of households in compounds whose connector exceeds this (m).
CONNECTOR_FAR_M: Final = 500.0
CONNECTOR_FAR_SHARE: Final = 0.05
#: Network-part warning: more than this share of households on parts holding ...
SMALL_PART_HOUSEHOLDS_SHARE: Final = 0.01
#: ... less than this share of the network length.
SMALL_PART_LENGTH_SHARE: Final = 0.05


def _network_report(model: _Model, fac: gpd.GeoDataFrame | None) -> dict:
    """Network parts, unreachable categories and connector lengths, with warnings."""
    comp = model.compounds
    n = len(comp)
    ids = comp[COMPOUND_ID].astype(str).to_numpy()
    hh = pd.to_numeric(comp[HOUSEHOLDS], errors="coerce").fillna(0).to_numpy(float) \
        if HOUSEHOLDS in comp else np.ones(n)
    total_hh = float(hh.sum())
    rep: dict[str, Any] = {"warnings": []}
    net = model.network
    conn = model.connector_m if model.connector_m is not None else np.full(n, np.nan)
    if net is not None and n:
        r = net.report
        rep.update({k: r.get(k) for k in ("nodes", "edges", "length_m", "components",
                                          "largest_share", "barrier_crossings",
                                          "junctions_skipped", "not_walkable")})
        labels = net.node_components()
        eu = net.edge_arrays()[0]
        lengths = net.component_lengths()
        total_len = float(lengths.sum()) or 1.0
        part = np.full(n, -1, dtype=np.int64)
        pts = model.points
        if pts is not None and len(pts):
            best_d, best_i = _min_by_owner(pts.cost_m, np.arange(len(pts)), pts.owner, n)
            ok = best_i >= 0
            part[ok] = labels[eu[pts.edge[best_i[ok]]]]
        share = np.where(part >= 0, lengths[np.maximum(part, 0)] / total_len, 0.0)
        small = (part >= 0) & (share < SMALL_PART_LENGTH_SHARE)
        rep["compounds_on_small_parts"] = int(small.sum())
        rep["households_on_small_parts"] = float(hh[small].sum())
        rep["compounds_off_network"] = int((part < 0).sum())
        if total_hh and hh[small].sum() > SMALL_PART_HOUSEHOLDS_SHARE * total_hh:
            rep["warnings"].append(
                f"{hh[small].sum() / total_hh:.1%} of households ({int(small.sum())} compounds, e.g. "
                f"{', '.join(ids[small][:5])}) reach the walk network on parts holding less than "
                f"{SMALL_PART_LENGTH_SHARE:.0%} of its length ({r.get('components')} parts; largest "
                f"{r.get('largest_share', 0):.0%}): their facilities are counted only within their "
                "part; check the streets layer for gaps (missing links, wrong levels)")
        # categories whose facilities all lie on other parts of the network
        no_fac: dict[str, list[str]] = {}
        if fac is not None and len(fac):
            fac_cat = fac[CATEGORY].to_numpy()
            snap = model.fac_snap if model.fac_snap is not None else walknet.snap(
                net, np.asarray(_facility_points(fac).values))
            fac_part = np.where(snap.valid, labels[eu[np.maximum(snap.edge, 0)]], -1)
            for k, rule in enumerate(model.rules):
                if model.status[k] != "ok":
                    continue
                parts_k = np.unique(fac_part[(fac_cat == rule.key) & (fac_part >= 0)])
                miss = (part >= 0) & ~np.isin(part, parts_k) & ~np.isfinite(model.dist[:, k])
                if miss.any():
                    no_fac[rule.key] = ids[miss].tolist()
        rep["compounds_on_parts_without_facility"] = {k: len(v) for k, v in no_fac.items()}
        rep["compounds_on_parts_without_facility_ids"] = {k: v[:50] for k, v in no_fac.items()}
    if n and np.isfinite(conn).any():
        c = np.where(np.isfinite(conn), conn, np.nan)
        med = float(np.nanmedian(c))
        far = np.isfinite(conn) & (conn > CONNECTOR_FAR_M)
        rep["connector_median_m"] = round(med, 1)
        rep["connector_max_m"] = round(float(np.nanmax(c)), 1)
        rep["households_far_from_streets"] = float(hh[far].sum())
        if med > CONNECTOR_MEDIAN_WARN_M or (
            total_hh and hh[far].sum() > CONNECTOR_FAR_SHARE * total_hh
        ):
            rep["warnings"].append(
                f"access connectors are implausibly long: median {med:,.0f} m from a compound to "
                f"the nearest street, {int(far.sum())} compounds ({hh[far].sum() / max(total_hh, 1):.0%}"
                f" of households) more than {CONNECTOR_FAR_M:,.0f} m away; is the streets layer "
                "complete and in the right CRS? (rule: warn when the median exceeds "
                f"{CONNECTOR_MEDIAN_WARN_M:,.0f} m or more than {CONNECTOR_FAR_SHARE:.0%} of "
                f"households are over {CONNECTOR_FAR_M:,.0f} m from a street)")
    rep["no_data_categories"] = [r.key for k, r in enumerate(model.rules)
                                 if model.status[k] == METHOD_NO_DATA]
    rep["absent_categories"] = [r.key for k, r in enumerate(model.rules)
                                if model.status[k] == "absent"]
    for w in rep["warnings"]:
        logger.warning(w)
    return rep


def access_report(access: pd.DataFrame) -> dict:
    """Diagnostics of a :func:`compute_access` table: network parts, connectors, warnings.

    Returns a dict with ``nodes``, ``edges``, ``length_m``, ``components``,
    ``largest_share``, ``barrier_crossings``, ``compounds_on_small_parts``,
    ``households_on_small_parts``, ``compounds_on_parts_without_facility`` (per
    category), ``connector_median_m``, ``connector_max_m``, ``no_data_categories``,
    ``absent_categories`` and ``warnings`` (sentences for the console). Empty when
    the table was not made by :func:`compute_access` in this process.
    """
    model = _recall(access)
    return dict(model.report) if model is not None else {}


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
    model: _Model,
    n: int,
    fac: gpd.GeoDataFrame | None,
    fac_pts: gpd.GeoSeries | None,
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
    dest = fac_pts[mask].reset_index(drop=True)
    if model.network is not None:
        pts = model.points
        if pts is None or not len(pts):
            return np.zeros(n)
        if model.points_snap is None:
            model.points_snap = pts.as_snap()  # once for every category
        origins: Any = model.points_snap
        owner = pts.owner
    else:
        origins = gpd.GeoSeries(model.origins, crs=fac_pts.crs)
        owner = model.owner
    m = walknet.distance_matrix(
        model.network, origins, dest, cutoff_m=rule.radius_m,
        detour_factor=model.detour_factor,
    )
    m = sp.csr_matrix(m)
    m.eliminate_zeros()
    if model.network is None and model.barrier_tree is not None and m.nnz:
        # the straight-line fallback does not cross barriers
        r, c = m.nonzero()
        line = shapely.shortest_line(np.asarray(origins.values)[r], np.asarray(dest.values)[c])
        li, _ = model.barrier_tree.query(line, predicate="crosses")
        m = sp.csr_matrix((np.where(np.isin(np.arange(len(r)), li), 0.0, 1.0), (r, c)),
                          shape=m.shape)
        m.eliminate_zeros()
    m.data[:] = 1.0
    gather = sp.csr_matrix(
        (np.ones(len(owner)), (owner, np.arange(len(owner)))), shape=(n, len(owner))
    )
    reach = gather @ m
    if model.inside_fac is not None and len(model.inside_fac):
        # a facility inside or touching a compound serves it at 0 m
        col = np.full(len(mask), -1, dtype=np.int64)
        col[np.flatnonzero(mask)] = np.arange(int(mask.sum()))
        fcol = col[model.inside_fac]
        ok = fcol >= 0
        inside = sp.csr_matrix((np.ones(int(ok.sum())), (model.inside_comp[ok], fcol[ok])),
                               shape=reach.shape)
        reach = reach + inside
    return two_step_fca(reach, demand, cap)


#: Two compounds share a wall when their polygons come within this distance (m) ...
WALL_TOLERANCE_M: Final = 1.0
#: ... along at least this length (m).
WALL_MIN_M: Final = 2.0


def _wall_groups(model: _Model, district: np.ndarray) -> tuple[np.ndarray, dict]:
    """Group label per compound: members of a district joined through opened walls.

    Two compounds of the same district are joined when their polygons share a wall
    (within WALL_TOLERANCE_M along at least WALL_MIN_M) that no street separates (the
    street length along the wall is under half its length). Returns the label (-1 for
    compounds in no district) and counts for the log.
    """
    comp = model.compounds
    n = len(comp)
    geoms = comp.geometry.to_numpy()
    label = np.full(n, -1, dtype=np.int64)
    in_d = np.array([d is not None for d in district], dtype=bool)
    idx = np.flatnonzero(in_d & ~(shapely.is_missing(geoms) | shapely.is_empty(geoms)))
    info = {"wall_pairs": 0, "separated_by_street": 0}
    if len(idx) < 2:
        return label, info
    qa, qb = shapely.STRtree(geoms[idx]).query(geoms[idx], predicate="dwithin",
                                               distance=WALL_TOLERANCE_M)
    a, b = idx[qa], idx[qb]
    keep = (a < b) & (district[a] == district[b])
    a, b = a[keep], b[keep]
    if len(a):
        wall = shapely.intersection(shapely.boundary(geoms[a]),
                                    shapely.buffer(geoms[b], WALL_TOLERANCE_M))
        wlen = shapely.length(wall)
        ok = wlen >= WALL_MIN_M
        a, b, wall, wlen = a[ok], b[ok], wall[ok], wlen[ok]
        if model.network is not None and len(a):
            strip = shapely.buffer(wall, WALL_TOLERANCE_M + 1.0)
            wi, ei = model.network.edge_tree().query(strip, predicate="intersects")
            along = np.zeros(len(a))
            if len(wi):
                eg = np.asarray(model.network.edges.geometry.values)
                np.add.at(along, wi, shapely.length(shapely.intersection(eg[ei], strip[wi])))
            sep = along >= 0.5 * wlen
            info["separated_by_street"] = int(sep.sum())
            a, b = a[~sep], b[~sep]
    info["wall_pairs"] = int(len(a))
    if len(a):
        from scipy.sparse.csgraph import connected_components

        adj = sp.coo_matrix((np.ones(len(a)), (a, b)), shape=(n, n))
        _, lab = connected_components(adj, directed=False)
        member = np.zeros(n, dtype=bool)
        member[a] = member[b] = True
        label[member] = lab[member]
    return label, info


def _merged_distances(model: _Model, district: np.ndarray) -> tuple[np.ndarray, dict]:
    """Distances after merging: walls between a district's members opened (see compute_gaps)."""
    n, k_cat = model.dist.shape
    merged = model.dist.copy()
    group, info = _wall_groups(model, district)
    joined = group >= 0
    if not joined.any():
        return merged, info
    geoms = model.compounds.geometry.to_numpy()
    # members of every group, sorted by group
    members = np.flatnonzero(joined)
    members = members[np.argsort(group[members], kind="stable")]
    g_of = group[members]
    bounds = np.flatnonzero(np.r_[True, g_of[1:] != g_of[:-1]])
    g_ids = g_of[bounds]
    g_start = np.full(int(group.max()) + 1, 0, dtype=np.int64)
    g_size = np.zeros(int(group.max()) + 1, dtype=np.int64)
    g_start[g_ids] = bounds
    g_size[g_ids] = np.diff(np.r_[bounds, len(members)])

    def pairs_with_members(owner: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(item, other member) for every item owned by a joined compound."""
        items = np.flatnonzero(group[owner] >= 0)
        g = group[owner[items]]
        cnt = g_size[g]
        rep_i = np.repeat(items, cnt)
        off = np.arange(int(cnt.sum())) - np.repeat(np.cumsum(cnt) - cnt, cnt)
        other = members[np.repeat(g_start[g], cnt) + off]
        keep = other != owner[rep_i]
        return rep_i[keep], other[keep]

    if model.network is not None and model.points is not None and len(model.points):
        pts = model.points
        pi, a = pairs_with_members(pts.owner)
        if len(pi):
            cost = shapely.distance(geoms[a], shapely.points(pts.xy[pi]))
            for k in range(k_cat):
                total = cost + model.point_dist[pi, k].astype(float)
                np.minimum.at(merged[:, k], a, total)
    elif model.network is None:
        comp_idx = np.arange(n)
        bi, a = pairs_with_members(comp_idx)
        if len(bi):
            gap = shapely.distance(geoms[a], geoms[bi]) * model.detour_factor
            for k in range(k_cat):
                np.minimum.at(merged[:, k], a, model.dist[bi, k] + gap)
    if model.inside_comp is not None and len(model.inside_comp):
        ii, a = pairs_with_members(model.inside_comp)
        if len(ii):
            cost = shapely.distance(geoms[a], model.inside_pt[ii])
            np.minimum.at(merged, (a, model.inside_cat[ii]), cost)
    info["compounds_joined"] = int(joined.sum())
    return merged, info


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
    detour_factor: float = DETOUR_FACTOR,
) -> pd.DataFrame:
    """Coverage, demand, supply and shortfall per compound and per district.

    Parameters
    ----------
    compounds : geopandas.GeoDataFrame
        Compounds with ``compound_id``, ``households``, optional ``population``
        (NaN: households x persons_per_household) and optional ``district_id``.
    access : pandas.DataFrame
        The table of :func:`compute_access` (its categories are the ones reported).
        Its access points are reused; a table made elsewhere is measured again with
        the default access model.
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
        compounds. ``covered_households_merged`` counts them **after merging**:
        merging opens the walls between a district's members that share a boundary
        not separated by a street, so a member may also leave through the access
        points of the members it is joined to (directly or through other members),
        at the straight distance from its own polygon to that access point
        (``distance_merged_m``); it is covered only if that walk is within the
        radius. A district row sums its members. ``demand`` follows the standard's
        rule, ``supply`` is the 2SFCA share of known capacities (0 when the category
        has no facility, NaN when none of its facilities has a capacity or the unit
        reaches one of unknown capacity), ``shortfall = max(demand - supply, 0)``.
        ``data_status`` is ``ok``, ``absent`` (the facilities layer holds no facility
        of the category: 0% covered) or ``no_data`` (no facilities layer, or the
        category is declared without data): then coverage, supply and shortfall are
        empty. Distances of district rows are the minimum over members.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from renogis.datasets import sample_path
    >>> from renogis.network import build_walk_network
    >>> from renogis.standards import load_standards
    >>> layer = lambda name: gpd.read_file(sample_path(), layer=name)
    >>> compounds, facilities = layer("compounds"), layer("facilities")
    >>> net = build_walk_network(layer("streets"), barriers=layer("barriers"))
    >>> std = load_standards()
    >>> access = compute_access(compounds, facilities, network=net, standards=std, categories=["clinic"])
    >>> gaps = compute_gaps(compounds, access, facilities=facilities, standards=std, network=net,
    ...                     districts={"C0001": "D1", "C0002": "D1"})
    >>> gaps.loc[gaps[LEVEL] == LEVEL_DISTRICT, [UNIT_ID, HOUSEHOLDS, COVERED_HOUSEHOLDS]].values.tolist()
    [['D1', 322, 322]]
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
    dist, within = _access_matrix(access, ids, cats)
    district = _district_ids(compounds, districts)
    model = _model_of(access, compounds, facilities, rules=rules, network=network, standards=standards,
                      gates=gates, detour_factor=detour_factor)
    status = model.status
    demand, supply = _demand_supply(rules, model, facilities, standards=standards,
                                    households=households, population=population)
    covered = np.where(within, households[:, None], 0.0)
    cov = _Coverage(households=households, covered=covered, covered_merged=covered.copy(), dist=dist,
                    dist_merged=dist.copy(), demand=demand, supply=supply)
    frames = []
    if district is not None:
        cov = _after_merging(model, district, cov, within=within)
        district_rows = _district_rows(cov, district, rules, status)
        if district_rows is not None:
            frames.append(district_rows)
    dist_merged = cov.dist_merged.copy()
    dist_merged[~np.isfinite(dist_merged)] = np.nan
    comp = _gap_frame(
        LEVEL_COMPOUND,
        ids,
        district if district is not None else np.full(n, None, dtype=object),
        rules,
        households,
        cov.covered,
        cov.covered_merged,
        dist,
        demand,
        supply,
        dist_merged,
        status,
    )
    out = pd.concat([comp, *frames], ignore_index=True) if frames else comp
    logger.info(
        "service gaps: %d compound rows, %d district rows, %d categories (%d without data)",
        len(comp),
        len(out) - len(comp),
        len(cats),
        int((status == METHOD_NO_DATA).sum()),
    )
    return out


@dataclass(frozen=True)
class _Coverage:
    """Per compound (rows) and category (columns): what compute_gaps sums up."""

    households: np.ndarray  # (n,)
    covered: np.ndarray  # households covered as separate compounds
    covered_merged: np.ndarray  # ... after merging into districts
    dist: np.ndarray  # walking distance (m), NaN none
    dist_merged: np.ndarray  # ... after merging
    demand: np.ndarray
    supply: np.ndarray  # NaN unknown


def _access_matrix(
    access: pd.DataFrame, ids: np.ndarray, cats: list[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Distance (NaN: none) and within-radius flag of the access table as ``(compound, category)`` arrays."""
    n = len(ids)
    row = pd.Index(ids).get_indexer(access[COMPOUND_ID].to_numpy())
    col = pd.Index(cats).get_indexer(access[CATEGORY].to_numpy())
    ok = row >= 0
    dist = np.full((n, len(cats)), np.nan)
    within = np.zeros((n, len(cats)), dtype=bool)
    dist[row[ok], col[ok]] = access[DISTANCE_M].to_numpy(dtype=float)[ok]
    within[row[ok], col[ok]] = (
        access[WITHIN_RADIUS].to_numpy(dtype=object)[ok] == True  # noqa: E712 (NaN -> False)
    )
    return dist, within


def _model_of(
    access: pd.DataFrame,
    compounds: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame | None,
    *,
    rules: list[CategoryRule],
    network: walknet.WalkNetwork | None,
    standards: Standards,
    gates: gpd.GeoDataFrame | None,
    detour_factor: float,
) -> _Model:
    """What :func:`compute_access` measured for ``access``; a table made elsewhere is measured again."""
    ids = compounds[COMPOUND_ID].to_numpy(dtype=object)
    cats = [r.key for r in rules]
    model = _recall(access)
    if model is None or len(model.compounds) != len(compounds) or not np.array_equal(
        model.compounds[COMPOUND_ID].to_numpy(dtype=object), ids
    ) or [r.key for r in model.rules] != cats or model.network is not network:
        no_data = []
        if METHOD in access and len(access):
            nd = access.loc[access[METHOD] == METHOD_NO_DATA, CATEGORY]
            no_data = sorted(set(nd) - {r.key for r in rules if r.no_data})
        model = _recall(compute_access(
            compounds, facilities, network=network, standards=standards, gates=gates,
            categories=cats, detour_factor=detour_factor, no_data=no_data))
        assert model is not None
    return model


def _demand_supply(
    rules: list[CategoryRule],
    model: _Model,
    facilities: gpd.GeoDataFrame | None,
    *,
    standards: Standards,
    households: np.ndarray,
    population: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Demand by the standard's rule and 2SFCA supply, ``(compound, category)`` (supply NaN: no data)."""
    n = len(households)
    fac = _facilities_of(facilities)
    fac_pts = _facility_points(fac) if fac is not None else None
    demand = np.zeros((n, len(rules)))
    supply = np.zeros((n, len(rules)))
    for k, rule in enumerate(rules):
        demand[:, k] = standards.demand(rule.key, households, population)
        if model.status[k] == METHOD_NO_DATA:
            supply[:, k] = np.nan
            continue
        supply[:, k] = _supply(rule, demand[:, k], model, n, fac, fac_pts)
    return demand, supply


def _after_merging(
    model: _Model, district: np.ndarray, cov: _Coverage, *, within: np.ndarray
) -> _Coverage:
    """Coverage after merging: walls between a district's members opened (see compute_gaps)."""
    merged, info = _merged_distances(model, district)
    radius = np.array([r.radius_m for r in model.rules], dtype=float)
    in_d = np.array([d is not None for d in district], dtype=bool)
    within_merged = np.isfinite(merged) & (merged <= radius[None, :]) & in_d[:, None]
    within_merged |= within
    logger.info(
        "after merging: %d compounds joined through %d opened walls (%d walls lie along a "
        "street and stay closed); %d compound-category pairs newly within the radius",
        info.get("compounds_joined", 0), info["wall_pairs"], info["separated_by_street"],
        int((within_merged & ~within).sum()),
    )
    return replace(
        cov,
        covered_merged=np.where(within_merged, cov.households[:, None], 0.0),
        dist_merged=np.where(in_d[:, None] & np.isfinite(merged), merged, cov.dist),
    )


def _district_rows(
    cov: _Coverage, district: np.ndarray, rules: list[CategoryRule], status: np.ndarray
) -> pd.DataFrame | None:
    """The district rows: members summed, distances the minimum over members (None: no district)."""
    n = len(district)
    in_d = np.array([d is not None for d in district], dtype=bool)
    codes, uniques = pd.factorize(pd.Series(district[in_d], dtype=object), sort=True)
    nd = len(uniques)
    if not nd:
        return None
    pos = np.flatnonzero(in_d)
    agg = sp.csr_matrix((np.ones(len(pos)), (codes, pos)), shape=(nd, n))
    nan_supply = (agg @ np.isnan(cov.supply).astype(float)) > 0
    d_supply = np.where(nan_supply, np.nan, agg @ np.nan_to_num(cov.supply))
    return _gap_frame(
        LEVEL_DISTRICT,
        np.asarray(uniques, dtype=object),
        np.asarray(uniques, dtype=object),
        rules,
        agg @ cov.households,
        agg @ cov.covered,
        agg @ cov.covered_merged,
        _min_by_code(cov.dist[pos], codes, nd),
        agg @ cov.demand,
        d_supply,
        _min_by_code(cov.dist_merged[pos], codes, nd),
        status,
    )


def _min_by_code(values: np.ndarray, codes: np.ndarray, n_codes: int) -> np.ndarray:
    """Row-wise minimum of ``values`` over the rows of each code (NaN ignored; NaN when none)."""
    out = np.full((n_codes, values.shape[1]), np.inf)
    np.minimum.at(out, codes, np.where(np.isnan(values), np.inf, values))
    out[~np.isfinite(out)] = np.nan
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
    dist_merged: np.ndarray | None = None,
    status: np.ndarray | None = None,
) -> pd.DataFrame:
    nu, nc = len(unit_ids), len(rules)
    if status is None:
        status = np.array(["ok"] * nc, dtype=object)
    if dist_merged is None:
        dist_merged = dist
    no_data = np.tile(status == METHOD_NO_DATA, nu)
    hh = np.repeat(np.rint(households).astype(np.int64), nc)
    covered = np.rint(covered).astype(np.int64).ravel()
    covered_merged = np.rint(covered_merged).astype(np.int64).ravel()
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(hh > 0, covered / hh, np.nan)
        share_m = np.where(hh > 0, covered_merged / hh, np.nan)
    shortfall = np.maximum(demand - supply, 0.0).ravel()  # NaN supply -> NaN

    def counts(values: np.ndarray) -> Any:
        """Household counts; empty (<NA>) for categories without data."""
        if not no_data.any():
            return values
        return pd.Series(values, dtype="Int64").mask(no_data).array

    share[no_data] = np.nan
    share_m[no_data] = np.nan
    shortfall[no_data] = np.nan
    dist_out = dist.ravel().copy()
    dist_m_out = dist_merged.ravel().copy()
    dist_out[no_data] = np.nan
    dist_m_out[no_data] = np.nan
    return pd.DataFrame(
        {
            LEVEL: level,
            UNIT_ID: np.repeat(unit_ids, nc),
            DISTRICT_ID: np.repeat(district, nc),
            CATEGORY: np.tile(np.array([r.key for r in rules], dtype=object), nu),
            HOUSEHOLDS: hh,
            COVERED_HOUSEHOLDS: counts(covered),
            UNCOVERED_HOUSEHOLDS: counts(hh - covered),
            COVERAGE_SHARE: share,
            COVERED_HOUSEHOLDS_MERGED: counts(covered_merged),
            UNCOVERED_HOUSEHOLDS_MERGED: counts(hh - covered_merged),
            COVERAGE_SHARE_MERGED: share_m,
            DISTANCE_M: dist_out,
            RADIUS_M: np.tile(np.array([r.radius_m for r in rules], dtype=float), nu),
            DEMAND: demand.ravel(),
            SUPPLY: supply.ravel(),
            SHORTFALL: shortfall,
            DEMAND_UNIT: np.tile(np.array([r.demand_unit for r in rules], dtype=object), nu),
            DISTANCE_MERGED_M: dist_m_out,
            DATA_STATUS: np.tile(np.asarray(status, dtype=object), nu),
        },
        columns=list(GAP_COLUMNS),
    )


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
        for rule in track(rules, desc="service areas", unit="category"):
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
