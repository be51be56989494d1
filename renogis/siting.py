"""Site missing facilities on idle parcels (maximal covering with capacity and co-location).

The module has two layers, in the manner of spopt:

* optimisation cores on plain matrices:

  - the joint siting problem :class:`SiteOptions` (every parcel x category option at
    once, with areas, capacities, independent sites and budgets), solved by
    :func:`greedy_site` (lazy greedy plus deterministic improvement re-runs; the fast
    default) or :func:`exact_site` (a mixed-integer programme in HiGHS), both
    returning a :class:`SiteSolution`;
  - the single-category maximal covering / set cover core :func:`greedy_max_cover` /
    :func:`exact_max_cover` (boolean coverage matrix, weights, budget ``k``, optional
    per-site capacity), returning a :class:`CoverResult`;

  exact solves use ``highspy`` when installed (optional extra ``exact``), else the
  HiGHS bundled with SciPy (``scipy.optimize.milp``); nothing is printed on stdout;
* a GeoDataFrame adapter, :func:`site_facilities`, which builds the joint problem from
  the walk network (compounds that are not within a category's radius in the access
  table are its demand, idle parcels large enough for the facility its options) and
  returns a :class:`SitingPlan`.

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

import contextlib
import ctypes
import heapq
import logging
import math
import os
import sys
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from renogis import schema
from renogis._errors import InfeasibleError, InputError

if TYPE_CHECKING:  # pragma: no cover
    import geopandas as gpd

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
    "siting_lines",
    "summary_record",
    "write_siting_outputs",
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


# --------------------------------------------------------------------------- results
@dataclass(frozen=True)
class CoverResult:
    """Solution of a maximal-covering (``k`` given) or set-cover (``k=None``) problem.

    Attributes
    ----------
    chosen : tuple of int
        Candidate (column) indices in pick order: for the greedy the order of
        selection, for the exact solver the greedy order among the chosen sites
        (capacitated: by served weight, largest first).
    newly_covered : tuple of float
        Weight newly covered by each pick, same order as ``chosen``.
    covered_weight : float
        Total weight covered (the sum of ``newly_covered``).
    coverable_weight : float
        Weight of the demand points that at least one candidate reaches.
    objective : float
        Covered weight (``mode="max_cover"``) or number of sites (``"set_cover"``).
    objective_bound : float
        Upper bound on the optimal covered weight (max cover) or lower bound on the
        number of sites (set cover). Exact: the solver's dual bound. Greedy: the
        data-dependent submodular bound ``f(S_t) + sum of the k largest marginal
        gains`` minimised over the iterations (uncapacitated), else the sum of the
        k largest single-site gains.
    gap : float
        Relative optimality gap of ``objective`` against ``objective_bound``
        (0 = proven optimal).
    method : str
        ``"greedy"`` or ``"exact"``.
    mode : str
        ``"max_cover"`` or ``"set_cover"``.
    status : str
        ``"optimal"``, ``"heuristic"`` (greedy), ``"time_limit"`` or another
        solver status.
    runtime_s : float
        Wall-clock time (s).
    """

    chosen: tuple[int, ...]
    newly_covered: tuple[float, ...]
    covered_weight: float
    coverable_weight: float
    objective: float
    objective_bound: float
    gap: float
    method: str
    mode: str
    status: str
    runtime_s: float


def relative_gap(greedy: CoverResult, exact: CoverResult) -> float:
    """Relative gap of a heuristic result against the exact one.

    Max cover: ``(exact.covered - greedy.covered) / exact.covered``; set cover:
    ``(greedy.sites - exact.sites) / exact.sites``. 0 when the exact objective is 0.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> a = sp.csr_matrix(np.array([[1, 0], [1, 1], [0, 1]], dtype=bool))
    >>> g = greedy_max_cover(a, np.array([1.0, 1.0, 1.0]), k=1)
    >>> relative_gap(g, g)
    0.0
    """
    if greedy.mode != exact.mode:
        raise InputError(
            f"cannot compare a {greedy.mode!r} result with a {exact.mode!r} result; "
            "solve both with the same k"
        )
    if greedy.mode == "max_cover":
        ref = exact.covered_weight
        return 0.0 if ref <= 0 else float((ref - greedy.covered_weight) / ref)
    ref = float(len(exact.chosen))
    return 0.0 if ref <= 0 else float((len(greedy.chosen) - ref) / ref)


# --------------------------------------------------------------------------- core
def _prepare(
    coverage: Any, weights: Any, k: int | None, capacity: Any
) -> tuple[sp.csc_matrix, np.ndarray, np.ndarray | None]:
    """Validate and normalise the core inputs (never modifies them)."""
    if not sp.issparse(coverage):
        coverage = np.asarray(coverage)
        if coverage.ndim != 2:
            raise InputError(
                "coverage must be a 2-D matrix (demand x candidates); "
                f"got {coverage.ndim} dimension(s)"
            )
    if coverage.ndim != 2:
        raise InputError("coverage must be a 2-D matrix (demand x candidates)")
    a = sp.csc_matrix(coverage, dtype=bool)
    a.eliminate_zeros()
    a.sort_indices()
    n_d, n_c = a.shape
    w = np.asarray(weights, dtype=float).ravel()
    if w.shape[0] != n_d:
        raise InputError(
            f"weights has {w.shape[0]} entries but coverage has {n_d} demand rows; "
            "pass one weight per demand point"
        )
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        bad = np.flatnonzero(~np.isfinite(w) | (w < 0))[:10].tolist()
        raise InputError(f"weights must be finite and >= 0; bad rows (first 10): {bad}")
    if k is not None:
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0:
            raise InputError(f"k must be a non-negative integer or None (set cover); got {k!r}")
    cap: np.ndarray | None = None
    if capacity is not None:
        cap = (
            np.broadcast_to(np.asarray(capacity, dtype=float), (n_c,)).copy()
            if np.ndim(capacity) == 0
            else np.asarray(capacity, dtype=float).ravel().copy()
        )
        if cap.shape[0] != n_c:
            raise InputError(
                f"capacity has {cap.shape[0]} entries but coverage has {n_c} candidate columns; "
                "pass a scalar or one capacity per candidate"
            )
        cap[np.isnan(cap)] = np.inf
        if np.any(cap < 0):
            raise InputError("capacity must be >= 0 (NaN or inf = uncapacitated)")
        if np.all(np.isinf(cap)):
            cap = None
    return a, w, cap


def _eps(w: np.ndarray) -> float:
    return 1e-9 * max(1.0, float(w.max(initial=0.0)))


def _topk_sum(values: np.ndarray, k: int) -> float:
    if k <= 0 or values.size == 0:
        return 0.0
    if k >= values.size:
        return float(values.sum())
    return float(np.partition(values, values.size - k)[values.size - k :].sum())


def _gap(objective: float, bound: float, mode: str) -> float:
    if mode == "max_cover":
        return 0.0 if bound <= 0 else max(0.0, (bound - objective) / bound)
    return 0.0 if objective <= 0 else max(0.0, (objective - bound) / objective)


def _greedy(
    a: sp.csc_matrix, w: np.ndarray, k: int | None, cap: np.ndarray | None
) -> tuple[list[int], list[float], np.ndarray, float]:
    """CELF lazy greedy. Returns chosen, gains, residual weights and Minoux bound."""
    n_d, n_c = a.shape
    indptr = a.indptr
    indices = a.indices
    if cap is not None:
        # inside a capacitated pick, serve the most constrained demand first
        deg = np.diff(a.tocsr().indptr)
        col_of = np.repeat(np.arange(n_c), np.diff(indptr))
        indices = indices[np.lexsort((indices, deg[indices], col_of))]
    r = w.copy()
    eps = _eps(w)
    gains = np.asarray(a.T @ r, dtype=float).ravel()
    if cap is not None:
        gains = np.minimum(gains, cap)
    limit = n_c if k is None else min(k, n_c)
    bound = math.inf
    if k is not None:
        bound = _topk_sum(gains, k)
    heap = [
        (-float(g), int(j), 0)
        for j, g in zip(np.flatnonzero(gains > eps), gains[gains > eps], strict=True)
    ]
    heapq.heapify(heap)
    chosen: list[int] = []
    newly: list[float] = []
    covered = 0.0
    it = 0
    while heap and len(chosen) < limit:
        _, j, stamp = heap[0]
        rows = indices[indptr[j] : indptr[j + 1]]
        if stamp == it:
            heapq.heappop(heap)
            rr = r[rows]
            if cap is None:
                gain = float(rr.sum())
                r[rows] = 0.0
            else:
                before = np.cumsum(rr) - rr
                take = np.clip(cap[j] - before, 0.0, rr)
                gain = float(take.sum())
                r[rows] = np.maximum(rr - take, 0.0)
            chosen.append(j)
            newly.append(gain)
            covered += gain
            it += 1
            if k is not None and cap is None and len(chosen) < limit:
                marg = np.asarray(a.T @ r, dtype=float).ravel()
                marg[chosen] = 0.0
                bound = min(bound, covered + _topk_sum(marg, k))
            continue
        g = float(r[rows].sum())
        if cap is not None:
            g = min(g, float(cap[j]))
        if g > eps:
            heapq.heapreplace(heap, (-g, j, it))
        else:
            heapq.heappop(heap)
    if k is not None and cap is None:
        bound = min(bound, covered + (0.0 if len(chosen) < limit else math.inf))
    return chosen, newly, r, bound


def greedy_max_cover(
    coverage: sp.csr_matrix,
    weights: np.ndarray,
    *,
    k: int | None,
    capacity: float | np.ndarray | None = None,
) -> CoverResult:
    """Maximal covering (or set cover) by the lazy greedy (CELF priority queue).

    Each step picks the candidate with the largest gain in covered weight (ties:
    the lowest column index); stale gains in the queue are upper bounds because
    gains only shrink, so only the top of the queue is re-evaluated.

    Parameters
    ----------
    coverage : scipy.sparse.csr_matrix, shape (n_demand, n_candidates), bool
        ``coverage[i, j]`` is True when candidate ``j`` reaches demand point ``i``.
    weights : numpy.ndarray, shape (n_demand,)
        Demand weight of each point (households), >= 0.
    k : int or None
        Budget of sites. ``None``: keep picking until every coverable point is
        covered (set cover; the greedy is the classic ln(n) approximation).
    capacity : float or numpy.ndarray, optional
        Households-equivalent capacity of each site (scalar or one per candidate;
        NaN / inf = uncapacitated). See the module docstring for the model.

    Returns
    -------
    CoverResult

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> a = sp.csr_matrix(np.array([[1, 0, 0], [1, 1, 0], [0, 1, 1]], dtype=bool))
    >>> r = greedy_max_cover(a, np.array([5.0, 2.0, 4.0]), k=1)
    >>> r.chosen, r.covered_weight
    ((0,), 7.0)
    """
    t0 = time.perf_counter()
    a, w, cap = _prepare(coverage, weights, k, capacity)
    deg = np.diff(a.tocsr().indptr)
    coverable = float(w[deg > 0].sum())
    chosen, newly, _, bound = _greedy(a, w, k, cap)
    covered = float(sum(newly))
    if k is None:
        mode = "set_cover"
        objective = float(len(chosen))
        single = np.asarray(a.T @ w, dtype=float).ravel()
        if cap is not None:
            single = np.minimum(single, cap)
        csum = np.cumsum(np.sort(single)[::-1])
        bound = float(np.searchsorted(csum, covered - _eps(w)) + 1) if covered > 0 else 0.0
    else:
        mode = "max_cover"
        objective = covered
        bound = min(bound, coverable)
    res = CoverResult(
        chosen=tuple(int(j) for j in chosen),
        newly_covered=tuple(float(g) for g in newly),
        covered_weight=covered,
        coverable_weight=coverable,
        objective=objective,
        objective_bound=float(bound),
        gap=_gap(objective, float(bound), mode),
        method="greedy",
        mode=mode,
        status="heuristic",
        runtime_s=time.perf_counter() - t0,
    )
    logger.debug("greedy %s: %d sites, covered %.1f of %.1f", mode, len(chosen), covered, coverable)
    return res


def _import_highspy() -> Any:
    """highspy, or None when it is not installed (the exact method then uses SciPy's HiGHS)."""
    try:
        import highspy
    except ImportError:
        return None
    return highspy


@contextlib.contextmanager
def _stdout_silenced() -> Iterator[None]:
    """Send file descriptor 1 to the null device (C-level prints included) for a moment."""
    try:
        libc: Any = ctypes.CDLL(None)
    except (OSError, TypeError):  # pragma: no cover - Windows
        libc = None
    try:
        sys.stdout.flush()
        saved = os.dup(1)
    except (OSError, ValueError, AttributeError):  # pragma: no cover - no usable stdout
        yield
        return
    if libc is not None:
        libc.fflush(None)
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    try:
        yield
    finally:
        if libc is not None:
            libc.fflush(None)
        os.dup2(saved, 1)
        os.close(saved)
        os.close(null)


def _solve_scipy(
    *,
    cost: np.ndarray,
    col_lo: np.ndarray,
    col_hi: np.ndarray,
    n_int: int,
    rows: sp.csr_matrix,
    row_lo: np.ndarray,
    row_hi: np.ndarray,
    maximize: bool,
    time_limit_s: float,
) -> tuple[str, np.ndarray | None, float, float]:
    """Solve the same model with ``scipy.optimize.milp`` (HiGHS bundled with SciPy, no warm start)."""
    from scipy.optimize import Bounds, LinearConstraint, milp

    n_col = cost.shape[0]
    integrality = np.zeros(n_col)
    integrality[:n_int] = 1
    sign = -1.0 if maximize else 1.0
    cons = (
        [LinearConstraint(sp.csr_matrix(rows, dtype=float), row_lo, row_hi)]
        if rows.shape[0]
        else []
    )
    res = milp(
        sign * cost,
        integrality=integrality,
        bounds=Bounds(col_lo, col_hi),
        constraints=cons,
        options={"disp": False, "time_limit": float(time_limit_s), "mip_rel_gap": 1e-6},
    )
    st = {0: "optimal", 1: "time_limit", 2: "infeasible", 3: "unbounded"}.get(res.status, "error")
    if res.x is None:
        return st, None, math.nan, math.nan
    obj = sign * float(res.fun)
    bound = getattr(res, "mip_dual_bound", None)
    bound = sign * float(bound) if n_int and bound is not None and np.isfinite(bound) else obj
    return st, np.asarray(res.x, dtype=float), obj, bound


def _solve_highs(
    *,
    cost: np.ndarray,
    col_lo: np.ndarray,
    col_hi: np.ndarray,
    n_int: int,
    rows: sp.csr_matrix,
    row_lo: np.ndarray,
    row_hi: np.ndarray,
    maximize: bool,
    time_limit_s: float,
    start: np.ndarray | None = None,
    options: Mapping[str, Any] | None = None,
) -> tuple[str, np.ndarray | None, float, float]:
    """Solve ``opt cost.x  s.t. row_lo <= rows x <= row_hi``; the first ``n_int`` columns binary.

    Returns status, solution (None if none), objective and dual bound. Uses highspy when
    installed (warm start, interior point for the relaxations), else ``scipy.optimize.milp``
    (the HiGHS bundled with SciPy). HiGHS writes nothing to stdout either way.
    """
    highspy = _import_highspy()
    if highspy is None:
        return _solve_scipy(
            cost=cost, col_lo=col_lo, col_hi=col_hi, n_int=n_int, rows=rows, row_lo=row_lo,
            row_hi=row_hi, maximize=maximize, time_limit_s=time_limit_s,
        )
    inf = highspy.kHighsInf
    with _stdout_silenced():  # the first Highs() of a process prints a banner on stdout
        h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", float(time_limit_s))
    h.setOptionValue("threads", 1)
    h.setOptionValue("random_seed", 0)
    h.setOptionValue("mip_rel_gap", 1e-6)
    # interior point for the LPs: on MCLP relaxations with 10^4 rows it is ~20x faster
    # than the default dual simplex (HiGHS >= 1.10; older versions ignore the option)
    if n_int:
        h.setOptionValue("mip_lp_solver", "ipm")
    elif rows.shape[0] > 2000:
        h.setOptionValue("solver", "ipm")
    for name, value in (options or {}).items():
        h.setOptionValue(name, value)
    lp = highspy.HighsLp()
    n_col = cost.shape[0]
    lp.num_col_ = n_col
    lp.num_row_ = rows.shape[0]
    lp.col_cost_ = cost.astype(float)
    lp.col_lower_ = col_lo.astype(float)
    lp.col_upper_ = col_hi.astype(float)
    lp.row_lower_ = np.where(np.isinf(row_lo), -inf, row_lo).astype(float)
    lp.row_upper_ = np.where(np.isinf(row_hi), inf, row_hi).astype(float)
    rows = sp.csr_matrix(rows, dtype=float)
    rows.sort_indices()
    lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
    lp.a_matrix_.num_col_ = n_col
    lp.a_matrix_.num_row_ = rows.shape[0]
    lp.a_matrix_.start_ = rows.indptr.astype(np.int32)
    lp.a_matrix_.index_ = rows.indices.astype(np.int32)
    lp.a_matrix_.value_ = rows.data.astype(float)
    if n_int:
        integ = np.full(n_col, highspy.HighsVarType.kContinuous)
        integ[:n_int] = highspy.HighsVarType.kInteger
        lp.integrality_ = list(integ)
    lp.sense_ = highspy.ObjSense.kMaximize if maximize else highspy.ObjSense.kMinimize
    h.passModel(lp)
    if start is not None:
        sol = highspy.HighsSolution()
        sol.col_value = list(map(float, start))
        sol.value_valid = True
        h.setSolution(sol)
    h.run()
    status = h.getModelStatus()
    info = h.getInfo()
    names = {
        highspy.HighsModelStatus.kOptimal: "optimal",
        highspy.HighsModelStatus.kTimeLimit: "time_limit",
        highspy.HighsModelStatus.kInfeasible: "infeasible",
    }
    st = names.get(status, h.modelStatusToString(status))
    if info.primal_solution_status != highspy.kSolutionStatusFeasible:
        return st, None, math.nan, math.nan
    x = np.asarray(h.getSolution().col_value, dtype=float)
    obj = float(info.objective_function_value)
    if n_int:
        bound = float(info.mip_dual_bound)
    else:
        bound = obj
    if st == "optimal":
        bound = obj if not math.isfinite(bound) else bound
    return st, x, obj, bound


def _order_by_greedy(
    a: sp.csc_matrix, w: np.ndarray, chosen: np.ndarray
) -> tuple[list[int], list[float]]:
    """Order a chosen set greedily (uncapacitated) and give each pick's new coverage."""
    sub = a[:, chosen]
    sub.sort_indices()
    order, gains, _, _ = _greedy(sub, w, None, None)
    picked = set(order)
    rest = [j for j in range(len(chosen)) if j not in picked]
    idx = order + rest
    return [int(chosen[j]) for j in idx], gains + [0.0] * len(rest)


def exact_max_cover(
    coverage: sp.csr_matrix,
    weights: np.ndarray,
    *,
    k: int | None,
    capacity: float | np.ndarray | None = None,
    time_limit_s: float = 60.0,
    warm_start: bool = True,
) -> CoverResult:
    """Maximal covering (or set cover) solved exactly as an integer programme with HiGHS.

    Uncapacitated max cover (MCLP): ``max sum_i w_i z_i`` s.t. ``z_i <= sum_j a_ij y_j``,
    ``sum_j y_j <= k``, ``y`` binary, ``0 <= z <= 1``. Set cover: ``min sum_j y_j`` s.t.
    ``sum_j a_ij y_j >= 1`` for every coverable point with positive weight. Capacitated:
    an assignment ``0 <= x_ij <= y_j`` per reachable pair with ``sum_j x_ij <= 1`` and
    ``sum_i w_i x_ij <= c_j y_j``; in set-cover mode the fewest sites that serve the
    maximum servable weight (found first by an LP with every site open).

    Parameters
    ----------
    coverage, weights, k, capacity
        As in :func:`greedy_max_cover`.
    time_limit_s : float
        HiGHS time limit (s). On timeout the best solution found is returned with
        ``status="time_limit"`` and its gap.
    warm_start : bool
        Seed HiGHS with the greedy solution (uncapacitated only), so the result is
        never worse than the greedy.

    Returns
    -------
    CoverResult

    Raises
    ------
    InfeasibleError
        HiGHS found no feasible solution within the time limit.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> a = sp.csr_matrix(np.array([[1, 0, 0], [1, 1, 0], [0, 1, 1]], dtype=bool))
    >>> exact_max_cover(a, np.array([5.0, 2.0, 4.0]), k=2).covered_weight
    11.0
    """
    t0 = time.perf_counter()
    a, w, cap = _prepare(coverage, weights, k, capacity)
    n_d, n_c = a.shape
    deg = np.diff(a.tocsr().indptr)
    coverable = float(w[deg > 0].sum())
    keep = (deg > 0) & (w > 0)
    ar = sp.csr_matrix(a[keep, :] if keep.size else a, dtype=float)
    wr = w[keep]
    n_r = ar.shape[0]
    mode = "max_cover" if k is not None else "set_cover"
    if n_r == 0 or n_c == 0 or k == 0:
        return CoverResult(
            (),
            (),
            0.0,
            coverable,
            0.0,
            0.0,
            0.0,
            "exact",
            mode,
            "optimal",
            time.perf_counter() - t0,
        )
    ones_c = np.ones(n_c)
    if cap is None:
        greedy_start = None
        if warm_start:
            g_chosen, _, g_res, _ = _greedy(a, w, k, None)
        if k is not None:
            # columns: y (n_c, binary), z (n_r)
            rows = sp.vstack(
                [
                    sp.hstack([-ar, sp.identity(n_r, format="csr")]),
                    sp.hstack([sp.csr_matrix(ones_c), sp.csr_matrix((1, n_r))]),
                ]
            ).tocsr()
            row_lo = np.full(n_r + 1, -np.inf)
            row_hi = np.concatenate([np.zeros(n_r), [float(k)]])
            cost = np.concatenate([np.zeros(n_c), wr])
            if warm_start:
                y0 = np.zeros(n_c)
                y0[g_chosen] = 1.0
                z0 = (g_res[keep] <= 0).astype(float)
                greedy_start = np.concatenate([y0, z0])
            st, x, obj, bound = _solve_highs(
                cost=cost,
                col_lo=np.zeros(n_c + n_r),
                col_hi=np.ones(n_c + n_r),
                n_int=n_c,
                rows=rows,
                row_lo=row_lo,
                row_hi=row_hi,
                maximize=True,
                time_limit_s=time_limit_s,
                start=greedy_start,
            )
        else:
            if warm_start:
                greedy_start = np.zeros(n_c)
                greedy_start[g_chosen] = 1.0
            st, x, obj, bound = _solve_highs(
                cost=ones_c,
                col_lo=np.zeros(n_c),
                col_hi=ones_c,
                n_int=n_c,
                rows=ar,
                row_lo=np.ones(n_r),
                row_hi=np.full(n_r, np.inf),
                maximize=False,
                time_limit_s=time_limit_s,
                start=greedy_start,
            )
        if x is None:
            raise InfeasibleError(
                f"HiGHS found no feasible siting within time_limit_s={time_limit_s} "
                f"({n_c} candidates, {n_r} demand points, status {st}); raise time_limit_s "
                "or use method='greedy'"
            )
        chosen = np.flatnonzero(x[:n_c] > 0.5)
        order, gains = _order_by_greedy(a, w, chosen)
    else:
        coo = ar.tocoo()
        e_row, e_col = coo.row, coo.col
        nnz = e_row.size
        e_idx = np.arange(nnz)
        demand = sp.csr_matrix((np.ones(nnz), (e_row, e_idx)), shape=(n_r, nnz))
        link = sp.hstack(
            [
                sp.csr_matrix((-np.ones(nnz), (e_idx, e_col)), shape=(nnz, n_c)),
                sp.identity(nnz, format="csr"),
            ]
        )
        fin = np.flatnonzero(np.isfinite(cap))
        fpos = np.full(n_c, -1)
        fpos[fin] = np.arange(fin.size)
        served = sp.csr_matrix((wr[e_row], (e_col, e_idx)), shape=(n_c, nnz))[fin]
        capy = sp.csr_matrix((-cap[fin], (np.arange(fin.size), fin)), shape=(fin.size, n_c))
        cap_rows = sp.hstack([capy, served])
        base = sp.vstack([sp.hstack([sp.csr_matrix((n_r, n_c)), demand]), link, cap_rows]).tocsr()
        base_lo = np.full(base.shape[0], -np.inf)
        base_hi = np.concatenate([np.ones(n_r), np.zeros(nnz), np.zeros(fin.size)])
        x_cost = wr[e_row]
        col_lo = np.zeros(n_c + nnz)
        col_hi = np.ones(n_c + nnz)
        if k is not None:
            rows = sp.vstack(
                [base, sp.hstack([sp.csr_matrix(ones_c), sp.csr_matrix((1, nnz))])]
            ).tocsr()
            st, x, obj, bound = _solve_highs(
                cost=np.concatenate([np.zeros(n_c), x_cost]),
                col_lo=col_lo,
                col_hi=col_hi,
                n_int=n_c,
                rows=rows,
                row_lo=np.append(base_lo, -np.inf),
                row_hi=np.append(base_hi, float(k)),
                maximize=True,
                time_limit_s=time_limit_s,
            )
        else:
            # phase 1: the most weight that can be served with every site open (an LP)
            st1, x1, best, _ = _solve_highs(
                cost=np.concatenate([np.zeros(n_c), x_cost]),
                col_lo=np.concatenate([np.ones(n_c), np.zeros(nnz)]),
                col_hi=col_hi,
                n_int=0,
                rows=base,
                row_lo=base_lo,
                row_hi=base_hi,
                maximize=True,
                time_limit_s=time_limit_s,
            )
            if x1 is None:  # pragma: no cover - an LP with a zero solution is always feasible
                raise InfeasibleError(f"HiGHS could not solve the capacity LP (status {st1})")
            target = best * (1.0 - 1e-7)
            rows = sp.vstack(
                [base, sp.hstack([sp.csr_matrix((1, n_c)), sp.csr_matrix(x_cost)])]
            ).tocsr()
            st, x, obj, bound = _solve_highs(
                cost=np.concatenate([ones_c, np.zeros(nnz)]),
                col_lo=col_lo,
                col_hi=col_hi,
                n_int=n_c,
                rows=rows,
                row_lo=np.append(base_lo, target),
                row_hi=np.append(base_hi, np.inf),
                maximize=False,
                time_limit_s=time_limit_s,
            )
        if x is None:
            raise InfeasibleError(
                f"HiGHS found no feasible siting within time_limit_s={time_limit_s} "
                f"({n_c} candidates, {n_r} demand points, status {st}); raise time_limit_s "
                "or use method='greedy'"
            )
        chosen = np.flatnonzero(x[:n_c] > 0.5)
        # clean assignment: max servable weight with exactly the chosen sites open (an LP)
        y_fix = np.zeros(n_c)
        y_fix[chosen] = 1.0
        _, x2, _, _ = _solve_highs(
            cost=np.concatenate([np.zeros(n_c), x_cost]),
            col_lo=np.concatenate([y_fix, np.zeros(nnz)]),
            col_hi=np.concatenate([y_fix, np.ones(nnz)]),
            n_int=0,
            rows=base,
            row_lo=base_lo,
            row_hi=base_hi,
            maximize=True,
            time_limit_s=time_limit_s,
        )
        if x2 is not None:
            x = x2
        per_site = np.bincount(e_col, weights=x[n_c:] * x_cost, minlength=n_c)[chosen]
        srt = np.lexsort((chosen, -per_site))
        order = [int(j) for j in chosen[srt]]
        gains = [float(g) for g in per_site[srt]]
    covered = float(sum(gains))
    if mode == "max_cover":
        objective = covered
        bound = max(min(bound, coverable), covered)
    else:
        objective = float(len(order))
        bound = min(max(math.ceil(bound - 1e-6), 0), objective)
    return CoverResult(
        chosen=tuple(order),
        newly_covered=tuple(gains),
        covered_weight=covered,
        coverable_weight=coverable,
        objective=objective,
        objective_bound=float(bound),
        gap=_gap(objective, float(bound), mode),
        method="exact",
        mode=mode,
        status=st,
        runtime_s=time.perf_counter() - t0,
    )


# --------------------------------------------------------------------------- joint core
@dataclass(frozen=True)
class SiteOptions:
    """The joint siting problem on plain arrays: every (parcel, category) option at once.

    An *option* ``o`` is one facility of category ``group[o]`` on parcel ``parcel[o]``.
    A *demand row* ``r`` is one compound's uncovered demand in one category: it credits
    ``households[r]`` when fully served and needs ``units[r]`` capacity units (seats,
    beds, m², ...; fractional service allowed). ``coverage[r, o]`` says option ``o`` is
    within walking reach of row ``r`` (and of the same category).

    A chosen option takes an area ``a`` of its parcel with ``min_area_m2 <= a <=
    max_area_m2`` and serves at most ``a / m2_per_unit`` and ``max_units`` units
    (``m2_per_unit == 0``: no area-based capacity, the option takes ``min_area_m2``);
    the areas of the options chosen on one parcel sum to at most ``parcel_area_m2``; an
    ``independent`` option shares its parcel with no other chosen option; each group
    (category) has at most ``k`` chosen options (``None``: no budget).

    Attributes
    ----------
    coverage : scipy.sparse.csc_matrix, shape (n_rows, n_options), bool
    households, units : numpy.ndarray, shape (n_rows,)
    parcel, group : numpy.ndarray of int, shape (n_options,)
    min_area_m2, max_area_m2, m2_per_unit, max_units : numpy.ndarray, shape (n_options,)
    independent : numpy.ndarray of bool, shape (n_options,)
    parcel_area_m2 : numpy.ndarray, shape (n_parcels,)
    k : int or None
    """

    coverage: sp.csc_matrix
    households: np.ndarray
    units: np.ndarray
    parcel: np.ndarray
    group: np.ndarray
    min_area_m2: np.ndarray
    max_area_m2: np.ndarray
    m2_per_unit: np.ndarray
    max_units: np.ndarray
    independent: np.ndarray
    parcel_area_m2: np.ndarray
    k: int | None

    def __post_init__(self) -> None:
        n_r, n_o = self.coverage.shape
        problems = [
            f"{name} has {np.shape(getattr(self, name))[0]} entries, expected {n}"
            for name, n in (
                ("households", n_r),
                ("units", n_r),
                ("parcel", n_o),
                ("group", n_o),
                ("min_area_m2", n_o),
                ("max_area_m2", n_o),
                ("m2_per_unit", n_o),
                ("max_units", n_o),
                ("independent", n_o),
            )
            if np.shape(getattr(self, name))[:1] != (n,)
        ]
        if not problems:
            if n_o and (self.parcel.min() < 0 or self.parcel.max() >= len(self.parcel_area_m2)):
                problems.append("parcel holds an index outside parcel_area_m2")
            if np.any(self.min_area_m2 > self.max_area_m2 + 1e-9):
                bad = np.flatnonzero(self.min_area_m2 > self.max_area_m2 + 1e-9)[:5].tolist()
                problems.append(f"min_area_m2 > max_area_m2 for options {bad}")
            for name in ("households", "units", "min_area_m2", "m2_per_unit", "parcel_area_m2"):
                if np.any(~(np.asarray(getattr(self, name), dtype=float) >= 0)):
                    problems.append(f"{name} must be >= 0 (and not NaN)")
        if self.k is not None and (isinstance(self.k, bool) or self.k < 0):
            problems.append(f"k must be a non-negative integer or None, got {self.k!r}")
        if problems:
            raise InputError(
                f"SiteOptions ({n_r} demand rows x {n_o} options): " + "; ".join(problems)
            )


@dataclass(frozen=True)
class SiteSolution:
    """Solution of a :class:`SiteOptions` problem.

    Attributes
    ----------
    chosen : tuple of int
        Chosen options: greedy in pick order; exact by group, then households served
        (largest first), then option index.
    households : tuple of float
        Households credited to each chosen option (never more than its capacity).
    units : tuple of float
        Capacity units each chosen option serves.
    area_m2 : tuple of float
        Area each chosen option takes from its parcel: ``max(min_area_m2, units *
        m2_per_unit)``.
    covered_weight : float
        Households credited in all.
    objective_bound : float
        Upper bound on the best possible ``covered_weight`` (exact: the solver's dual
        bound; greedy: the sum over groups of the k largest single-option gains).
    gap : float
        ``(objective_bound - covered_weight) / objective_bound`` (0: proven optimal).
    method, status : str
    runtime_s : float
    """

    chosen: tuple[int, ...]
    households: tuple[float, ...]
    units: tuple[float, ...]
    area_m2: tuple[float, ...]
    covered_weight: float
    objective_bound: float
    gap: float
    method: str
    status: str
    runtime_s: float


def _option_area(problem: SiteOptions, o: np.ndarray, units: np.ndarray) -> np.ndarray:
    """Area the options ``o`` take when they serve ``units``."""
    need = units * problem.m2_per_unit[o]
    return np.maximum(problem.min_area_m2[o], np.minimum(need, problem.max_area_m2[o]))


def _greedy_setup(problem: SiteOptions) -> dict[str, Any]:
    """Per-problem arrays of the greedy: serving order, first gains (vectorised), bound."""
    a = problem.coverage
    n_r, n_o = a.shape
    indptr = a.indptr
    # inside a pick, serve the most constrained rows first (fewest options), then by row
    deg = np.diff(a.tocsr().indptr)
    col_of = np.repeat(np.arange(n_o), np.diff(indptr))
    perm = np.lexsort((a.indices, deg[a.indices], col_of))
    rows_sorted = a.indices[perm]
    hh = problem.households.astype(float)
    units = problem.units.astype(float)
    m2pu, max_u = problem.m2_per_unit, problem.max_units
    area0 = np.minimum(problem.max_area_m2, problem.parcel_area_m2[problem.parcel])
    cap0 = np.where(
        m2pu > 0,
        np.minimum(max_u, np.divide(area0, m2pu, out=np.zeros(n_o), where=m2pu > 0)),
        max_u,
    )
    # first gains of every option at once: segment-wise cumulative units in serving order
    ru, rh = units[rows_sorted], hh[rows_sorted]
    cs = np.cumsum(ru) - ru
    start = np.repeat(np.append(cs, 0.0)[indptr[:-1]], np.diff(indptr))  # empty: any value
    before = cs - start
    cap_e = cap0[col_of]
    with np.errstate(invalid="ignore"):
        take = np.clip(cap_e - before, 0.0, ru)
    frac = np.where(np.isinf(cap_e), 1.0, np.divide(take, ru, out=np.ones(ru.size), where=ru > 0))
    gains0 = np.bincount(col_of, weights=rh * frac * (rh > 0), minlength=n_o)
    # upper bound: per group, the k largest single-option bounds (reachable households,
    # at most the option's largest capacity x the best households-per-unit of its rows)
    hpu = np.divide(hh, units, out=np.full(n_r, np.inf), where=units > 0)
    reach_h = np.asarray(a.T @ hh, dtype=float).ravel()
    best_hpu = np.zeros(n_o)
    if a.nnz:
        np.maximum.at(best_hpu, col_of, hpu[a.indices])
    with np.errstate(invalid="ignore"):
        ub = np.minimum(reach_h, np.nan_to_num(cap0 * best_hpu, nan=np.inf, posinf=np.inf))
    n_g = int(problem.group.max(initial=-1)) + 1
    bound = 0.0
    for g in range(n_g):
        in_g = problem.group == g
        coverable_g = float(hh[(np.diff(a[:, in_g].tocsr().indptr) > 0)].sum())
        kk = int(in_g.sum()) if problem.k is None else problem.k
        bound += min(coverable_g, _topk_sum(ub[in_g], kk))
    return {"perm": perm, "rows_sorted": rows_sorted, "gains0": gains0, "bound": bound}


def _greedy_run(
    problem: SiteOptions, setup: Mapping[str, Any], forbidden: frozenset[int] = frozenset()
) -> tuple[list[int], np.ndarray, float]:
    """One lazy-greedy pass; ``forbidden`` options are never opened. Returns chosen, x, covered."""
    a = problem.coverage
    n_o = a.shape[1]
    indptr = a.indptr
    perm, rows_sorted, gains0 = setup["perm"], setup["rows_sorted"], setup["gains0"]
    hh = problem.households
    r_h = hh.astype(float).copy()
    r_u = problem.units.astype(float).copy()
    remaining = problem.parcel_area_m2.astype(float).copy()
    n_p = remaining.size
    hosted = np.zeros(n_p, dtype=int)
    blocked = np.zeros(n_p, dtype=bool)  # hosts an independent facility
    used = np.zeros(int(problem.group.max(initial=-1)) + 1, dtype=int)
    budget = math.inf if problem.k is None else problem.k
    eps = 1e-9 * max(1.0, float(hh.max(initial=0.0)))
    m2pu, max_u = problem.m2_per_unit, problem.max_units
    x = np.zeros(a.nnz)

    def evaluate(o: int) -> tuple[float, np.ndarray, np.ndarray]:
        p = problem.parcel[o]
        if (
            used[problem.group[o]] >= budget
            or blocked[p]
            or (problem.independent[o] and hosted[p] > 0)
            or remaining[p] < problem.min_area_m2[o] - 1e-9
        ):
            return -1.0, np.zeros(0), np.zeros(0)
        rows = rows_sorted[indptr[o] : indptr[o + 1]]
        ru, rh = r_u[rows], r_h[rows]
        cap = max_u[o]
        if m2pu[o] > 0:
            cap = min(cap, min(problem.max_area_m2[o], remaining[p]) / m2pu[o])
        if math.isinf(cap):
            frac = (rh > 0).astype(float)
        else:
            before = np.cumsum(ru) - ru
            take = np.clip(cap - before, 0.0, ru)
            frac = np.divide(take, ru, out=(rh > 0).astype(float), where=ru > 0)
        return float((rh * frac).sum()), rows, frac

    heap = [(-float(gains0[o]), o, 0) for o in range(n_o) if gains0[o] > eps and o not in forbidden]
    heapq.heapify(heap)
    chosen: list[int] = []
    covered = 0.0
    it = 0
    while heap:
        _, o, stamp = heap[0]
        gain, rows, frac = evaluate(o)
        if gain <= eps:
            heapq.heappop(heap)
            continue
        if stamp != it:  # stale: re-queue with the current gain
            heapq.heapreplace(heap, (-gain, o, it))
            continue
        heapq.heappop(heap)
        served_u = float((r_u[rows] * frac).sum())
        h_rows = hh[rows]
        share_left = np.divide(r_h[rows], h_rows, out=np.ones(rows.size), where=h_rows > 0)
        x[perm[indptr[o] : indptr[o + 1]]] = frac * share_left
        r_u[rows] -= r_u[rows] * frac
        r_h[rows] -= r_h[rows] * frac
        p = problem.parcel[o]
        remaining[p] -= float(_option_area(problem, np.array([o]), np.array([served_u]))[0])
        hosted[p] += 1
        blocked[p] |= bool(problem.independent[o])
        used[problem.group[o]] += 1
        chosen.append(o)
        covered += gain
        it += 1
    return chosen, x, covered


#: Greedy improvement passes: at most this many re-runs with one more option forbidden.
GREEDY_RESTARTS = 48


def _site_greedy(problem: SiteOptions) -> tuple[list[int], np.ndarray, float]:
    """Lazy greedy, then improvement by re-runs that forbid one chosen option at a time.

    A greedy pick can block better plans (a nursing home on the only parcel large enough
    for a sports ground; a shared building filled by the first facilities). Each re-run
    forbids one more option of the best plan so far (in pick order), and a re-run that
    credits more households becomes the best plan; at most :data:`GREEDY_RESTARTS`
    re-runs, so the result is deterministic. Returns chosen, edge fractions, bound.
    """
    setup = _greedy_setup(problem)
    chosen, x, covered = _greedy_run(problem, setup)
    forbidden: frozenset[int] = frozenset()
    eps = 1e-9 * max(1.0, float(problem.households.max(initial=0.0)))
    runs = 0
    improved = True
    while improved and runs < GREEDY_RESTARTS:
        improved = False
        for o in list(chosen):
            if runs >= GREEDY_RESTARTS:
                break
            runs += 1
            trial = forbidden | {o}
            c2, x2, cov2 = _greedy_run(problem, setup, trial)
            if cov2 > covered + eps:
                chosen, x, covered, forbidden = c2, x2, cov2, trial
                improved = True
                break
    return chosen, x, setup["bound"]


def _site_result(
    problem: SiteOptions,
    chosen: Sequence[int] | np.ndarray,
    x: np.ndarray,
    *,
    method: str,
    status: str,
    bound: float,
    t0: float,
    order: str,
) -> SiteSolution:
    """Compute served households, units and areas of ``chosen`` from edge fractions ``x`` (CSC order)."""
    a = problem.coverage
    n_o = a.shape[1]
    col_of = np.repeat(np.arange(n_o), np.diff(a.indptr))
    u_o = np.bincount(col_of, weights=x * problem.units[a.indices], minlength=n_o)
    # solver tolerances must not credit a site beyond its capacity: scale such sites down
    m2pu = problem.m2_per_unit
    cap_u = np.minimum(
        problem.max_units,
        np.divide(problem.max_area_m2, m2pu, out=np.full(n_o, np.inf), where=m2pu > 0),
    )
    scale = np.divide(cap_u, u_o, out=np.ones(n_o), where=u_o > cap_u)
    x = x * np.minimum(scale, 1.0)[col_of]
    hh_o = np.bincount(col_of, weights=x * problem.households[a.indices], minlength=n_o)
    u_o = np.bincount(col_of, weights=x * problem.units[a.indices], minlength=n_o)
    ch = np.asarray(chosen, dtype=int)
    eps = 1e-9 * max(1.0, float(problem.households.max(initial=0.0)))
    ch = ch[hh_o[ch] > eps]  # an open site that serves nobody is not proposed
    if order == "exact":
        ch = ch[np.lexsort((ch, -hh_o[ch], problem.group[ch]))]
    area = _option_area(problem, ch, u_o[ch]) if ch.size else np.zeros(0)
    # ... nor fill a parcel beyond its area: shrink the facilities sized above their minimum
    used = np.bincount(problem.parcel[ch], weights=area, minlength=problem.parcel_area_m2.size)
    over = used.astype(float) - problem.parcel_area_m2
    for p in np.flatnonzero(over > 0):  # rare (solver tolerance), a few parcels at most
        on_p = np.flatnonzero((problem.parcel[ch] == p) & (m2pu[ch] > 0))
        flex = area[on_p] - problem.min_area_m2[ch[on_p]]
        if not flex.sum() > 0:
            continue
        new_area = area[on_p] - flex * min(1.0, over[p] / flex.sum())
        o_p = ch[on_p]
        keep = np.divide(new_area / m2pu[o_p], u_o[o_p], out=np.ones(on_p.size), where=u_o[o_p] > 0)
        fac = np.ones(n_o)
        fac[o_p] = np.minimum(keep, 1.0)
        x = x * fac[col_of]
        area[on_p] = new_area
    hh_o = np.bincount(col_of, weights=x * problem.households[a.indices], minlength=n_o)
    u_o = np.bincount(col_of, weights=x * problem.units[a.indices], minlength=n_o)
    covered = float(hh_o[ch].sum())
    bound = max(float(bound), covered)
    return SiteSolution(
        chosen=tuple(int(o) for o in ch),
        households=tuple(float(v) for v in hh_o[ch]),
        units=tuple(float(v) for v in u_o[ch]),
        area_m2=tuple(float(v) for v in area),
        covered_weight=covered,
        objective_bound=bound,
        gap=_gap(covered, bound, "max_cover"),
        method=method,
        status=status,
        runtime_s=time.perf_counter() - t0,
    )


def greedy_site(problem: SiteOptions) -> SiteSolution:
    """Solve a :class:`SiteOptions` problem by the lazy greedy.

    Each step opens the feasible option that credits the most households now (ties:
    the lowest option index, i.e. category priority then parcel id in the adapter) and
    serves, within its capacity, the rows reached by the fewest options first. Gains
    only shrink as demand is served and parcels fill, so stale queue entries are upper
    bounds (CELF). The result is always feasible for the exact model.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> pr = SiteOptions(
    ...     coverage=sp.csc_matrix(np.array([[1, 1]], dtype=bool)), households=np.array([100.0]),
    ...     units=np.array([2.0]), parcel=np.array([0, 1]), group=np.array([0, 0]),
    ...     min_area_m2=np.array([0.0, 0.0]), max_area_m2=np.array([35.0, 70.0]),
    ...     m2_per_unit=np.array([35.0, 35.0]), max_units=np.array([1.0, 2.0]),
    ...     independent=np.array([True, True]), parcel_area_m2=np.array([35.0, 70.0]), k=1)
    >>> r = greedy_site(pr)
    >>> r.chosen, r.households, r.area_m2
    ((1,), (100.0,), (70.0,))
    """
    t0 = time.perf_counter()
    chosen, x, bound = _site_greedy(problem)
    total = float(problem.households[np.diff(problem.coverage.tocsr().indptr) > 0].sum())
    return _site_result(
        problem, chosen, x, method="greedy", status="heuristic", bound=min(bound, total),
        t0=t0, order="greedy",
    )


def _site_model(problem: SiteOptions) -> dict[str, Any]:
    """Rows of the joint MILP. Columns: y (n_o, binary), a (n_o), x (nnz, CSC order)."""
    a = problem.coverage
    n_r, n_o = a.shape
    nnz = a.nnz
    e_row = a.indices.astype(np.int64)
    e_col = np.repeat(np.arange(n_o), np.diff(a.indptr))
    e_idx = np.arange(nnz)
    n_col = 2 * n_o + nnz
    X0 = 2 * n_o
    blocks: list[sp.csr_matrix] = []
    lo: list[np.ndarray] = []
    hi: list[np.ndarray] = []

    def add(r: np.ndarray, c: np.ndarray, v: np.ndarray, n: int, lo_v: Any, hi_v: Any) -> None:
        blocks.append(sp.csr_matrix((v, (r, c)), shape=(n, n_col)))
        lo.append(np.broadcast_to(np.asarray(lo_v, dtype=float), (n,)))
        hi.append(np.broadcast_to(np.asarray(hi_v, dtype=float), (n,)))

    # each demand row served at most once
    add(e_row, X0 + e_idx, np.ones(nnz), n_r, -np.inf, 1.0)
    # x_e <= y_o
    add(np.concatenate([e_idx, e_idx]), np.concatenate([X0 + e_idx, e_col]),
        np.concatenate([np.ones(nnz), -np.ones(nnz)]), nnz, -np.inf, 0.0)
    u_e = problem.units[e_row]
    # units served <= a / m2_per_unit
    capd = np.flatnonzero(problem.m2_per_unit > 0)
    if capd.size:
        pos = np.full(n_o, -1)
        pos[capd] = np.arange(capd.size)
        sel = pos[e_col] >= 0
        add(np.concatenate([pos[e_col[sel]], np.arange(capd.size)]),
            np.concatenate([X0 + e_idx[sel], n_o + capd]),
            np.concatenate([u_e[sel], -1.0 / problem.m2_per_unit[capd]]), capd.size, -np.inf, 0.0)
    # units served <= max_units * y
    fin = np.flatnonzero(np.isfinite(problem.max_units))
    if fin.size:
        pos = np.full(n_o, -1)
        pos[fin] = np.arange(fin.size)
        sel = pos[e_col] >= 0
        add(np.concatenate([pos[e_col[sel]], np.arange(fin.size)]),
            np.concatenate([X0 + e_idx[sel], fin]),
            np.concatenate([u_e[sel], -problem.max_units[fin]]), fin.size, -np.inf, 0.0)
    # min_area y <= a <= max_area y
    oi = np.arange(n_o)
    add(np.concatenate([oi, oi]), np.concatenate([n_o + oi, oi]),
        np.concatenate([np.ones(n_o), -problem.max_area_m2]), n_o, -np.inf, 0.0)
    add(np.concatenate([oi, oi]), np.concatenate([n_o + oi, oi]),
        np.concatenate([np.ones(n_o), -problem.min_area_m2]), n_o, 0.0, np.inf)
    # parcel area
    n_p = problem.parcel_area_m2.size
    add(problem.parcel, n_o + oi, np.ones(n_o), n_p, -np.inf, problem.parcel_area_m2)
    # independent option o: sum of the other options' y on its parcel + M y_o <= M
    per_parcel = np.bincount(problem.parcel, minlength=n_p)
    ind = np.flatnonzero(problem.independent & (per_parcel[problem.parcel] > 1))
    if ind.size:
        r_l, c_l, v_l = [], [], []
        order = np.argsort(problem.parcel, kind="stable")
        starts = np.concatenate([[0], np.cumsum(per_parcel)])
        for i, o in enumerate(ind):  # one row per independent option (few)
            p = problem.parcel[o]
            mates = order[starts[p] : starts[p + 1]]
            m = mates.size - 1
            r_l.append(np.full(mates.size, i))
            c_l.append(mates)
            v_l.append(np.where(mates == o, float(m), 1.0))
        add(np.concatenate(r_l), np.concatenate(c_l), np.concatenate(v_l), ind.size,
            -np.inf, (per_parcel[problem.parcel[ind]] - 1).astype(float))
    # budget per group
    if problem.k is not None:
        n_g = int(problem.group.max(initial=-1)) + 1
        add(problem.group, oi, np.ones(n_o), n_g, -np.inf, float(problem.k))
    rows = sp.vstack(blocks).tocsr()
    col_lo = np.zeros(n_col)
    col_hi = np.concatenate([np.ones(n_o), problem.max_area_m2, np.ones(nnz)])
    col_hi[n_o : 2 * n_o] = np.minimum(col_hi[n_o : 2 * n_o], problem.parcel_area_m2[problem.parcel])
    cost = np.concatenate([np.zeros(2 * n_o), problem.households[e_row].astype(float)])
    return {"rows": rows, "row_lo": np.concatenate(lo), "row_hi": np.concatenate(hi),
            "col_lo": col_lo, "col_hi": col_hi, "cost": cost, "n_o": n_o}


def exact_site(problem: SiteOptions, *, time_limit_s: float = 60.0) -> SiteSolution:
    """Solve a :class:`SiteOptions` problem exactly: a mixed-integer programme in HiGHS.

    Variables: ``y_o`` (binary: option open), ``a_o`` (its area, m²), ``x_ro`` (share
    of demand row ``r`` served by ``o``). Maximise the households credited ``sum h_r
    x_ro`` subject to ``sum_o x_ro <= 1``, ``x_ro <= y_o``, ``sum_r u_r x_ro <= a_o /
    m2_per_unit_o`` and ``<= max_units_o y_o``, ``min_area_o y_o <= a_o <= max_area_o
    y_o``, ``sum_{o on p} a_o <= area_p``, for an independent ``o`` on ``p``: ``sum_{o'
    on p, o' != o} y_o' + M y_o <= M`` (``M``: the other options on ``p``), and
    ``sum_{o in g} y_o <= k`` per group. With ``k=None`` the fewest sites that credit
    the most households (two solves). highspy when installed (seeded with the greedy,
    so never worse), else ``scipy.optimize.milp``; nothing is printed.

    Raises
    ------
    InfeasibleError
        The solver found no feasible solution within the time limit.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> pr = SiteOptions(
    ...     coverage=sp.csc_matrix(np.array([[1, 1]], dtype=bool)), households=np.array([100.0]),
    ...     units=np.array([2.0]), parcel=np.array([0, 1]), group=np.array([0, 0]),
    ...     min_area_m2=np.array([0.0, 0.0]), max_area_m2=np.array([35.0, 70.0]),
    ...     m2_per_unit=np.array([35.0, 35.0]), max_units=np.array([1.0, 2.0]),
    ...     independent=np.array([True, True]), parcel_area_m2=np.array([35.0, 70.0]), k=1)
    >>> exact_site(pr).households
    (100.0,)
    """
    t0 = time.perf_counter()
    n_o = problem.coverage.shape[1]
    g_chosen, g_x, g_bound = _site_greedy(problem)
    if n_o == 0 or problem.coverage.nnz == 0 or problem.k == 0:
        return _site_result(problem, [], np.zeros(problem.coverage.nnz), method="exact",
                            status="optimal", bound=0.0, t0=t0, order="exact")
    m = _site_model(problem)
    y0 = np.zeros(n_o)
    y0[g_chosen] = 1.0
    ag = np.zeros(n_o)
    if g_chosen:
        gc = np.asarray(g_chosen)
        col_of = np.repeat(np.arange(n_o), np.diff(problem.coverage.indptr))
        u_o = np.bincount(col_of, weights=g_x * problem.units[problem.coverage.indices],
                          minlength=n_o)
        ag[gc] = _option_area(problem, gc, u_o[gc])
    start = np.concatenate([y0, ag, g_x])
    common = dict(col_lo=m["col_lo"], col_hi=m["col_hi"], n_int=n_o, time_limit_s=time_limit_s)
    st, x, obj, bound = _solve_highs(cost=m["cost"], rows=m["rows"], row_lo=m["row_lo"],
                                     row_hi=m["row_hi"], maximize=True, start=start, **common)
    if problem.k is None and x is not None:
        # phase 2: the fewest sites that still credit (almost) the best total
        best = float(m["cost"] @ x)
        rows = sp.vstack([m["rows"], sp.csr_matrix(m["cost"])]).tocsr()
        st2, x2, _, _ = _solve_highs(
            cost=np.concatenate([np.ones(n_o), np.zeros(m["cost"].size - n_o)]), rows=rows,
            row_lo=np.append(m["row_lo"], best * (1 - 1e-7) - 1e-9),
            row_hi=np.append(m["row_hi"], np.inf), maximize=False, start=x, **common)
        if x2 is not None:
            x, st = x2, st2
    if x is None and g_chosen:  # no solution in time (SciPy has no warm start): the greedy's
        logger.warning(
            "exact siting: no solution within time_limit_s=%s (status %s); using the greedy plan",
            time_limit_s,
            st,
        )
        return _site_result(
            problem, g_chosen, g_x, method="exact", status=st, bound=g_bound, t0=t0, order="exact"
        )
    if x is None:
        raise InfeasibleError(
            f"HiGHS found no feasible siting within time_limit_s={time_limit_s} "
            f"({n_o} parcel/category options, status {st}); raise time_limit_s "
            "or use method='greedy'"
        )
    xe = np.clip(x[2 * n_o :], 0.0, 1.0)
    chosen = np.flatnonzero(x[:n_o] > 0.5)
    res = _site_result(problem, chosen, xe, method="exact", status=st,
                       bound=bound if math.isfinite(bound) else obj, t0=t0, order="exact")
    g_cov = float(g_x @ problem.households[problem.coverage.indices])
    if res.covered_weight < g_cov - 1e-6:  # time limit without the warm start (SciPy)
        g = _site_result(problem, g_chosen, g_x, method="exact", status=st,
                         bound=res.objective_bound, t0=t0, order="exact")
        return g
    return res


# --------------------------------------------------------------------------- adapter
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


def _fallback_distance_matrix(
    origins: Any, destinations: Any, *, cutoff_m: float, detour_factor: float = 1.3
) -> sp.csr_matrix:
    """Straight-line distance x 1.3 within the cutoff (only if renogis.network is absent)."""
    import shapely

    o = np.asarray(origins.values if hasattr(origins, "values") else origins)
    d = np.asarray(destinations.values if hasattr(destinations, "values") else destinations)
    tree = shapely.STRtree(d)
    oi, di = tree.query(o, predicate="dwithin", distance=cutoff_m / detour_factor)
    dist = shapely.distance(o[oi], d[di]) * detour_factor
    keep = dist <= cutoff_m
    dist = np.where(dist[keep] == 0, 1e-6, dist[keep])
    return sp.csr_matrix((dist, (oi[keep], di[keep])), shape=(len(o), len(d)))


def _distance_matrix(
    network: Any, origins: Any, destinations: Any, *, cutoff_m: float
) -> sp.csr_matrix:
    try:
        from renogis.network import distance_matrix
    except ImportError:
        if network is not None:
            raise
        logger.warning("renogis.network is not available: straight-line x 1.3 distances")
        return _fallback_distance_matrix(origins, destinations, cutoff_m=cutoff_m)
    return sp.csr_matrix(distance_matrix(network, origins, destinations, cutoff_m=cutoff_m))


def _require_columns(df: pd.DataFrame, cols: Sequence[str], layer: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise InputError(
            f"{layer}: missing column(s) {', '.join(missing)}; expected {', '.join(cols)}"
        )


def _parcel_districts(parcels: gpd.GeoDataFrame, districts: gpd.GeoDataFrame) -> np.ndarray:
    """District of each parcel: the one containing its representative point, else the nearest."""
    import geopandas as gpd

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
    """
    import geopandas as gpd

    from renogis._errors import CRSError

    if method not in _METHODS:
        raise InputError(f"unknown siting method {method!r}; use one of {', '.join(_METHODS)}")
    k = sites_per_category
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
    cats_std = standards.categories
    if categories is None:
        open_cats = access.loc[~access[WITHIN_RADIUS].astype(bool), schema.CATEGORY].unique()
        wanted = [c for c in open_cats if c in cats_std and c not in NOT_SITED_BY_DEFAULT]
        skipped = sorted(c for c in open_cats if c in NOT_SITED_BY_DEFAULT)
        if skipped:
            logger.info("siting: %s not sited on idle parcels by default (school sites come from the "
                        "education plan); name them in categories= to site them", ", ".join(skipped))
    else:
        unknown = [c for c in categories if c not in cats_std]
        if unknown:
            raise InputError(
                f"unknown categor{'y' if len(unknown) == 1 else 'ies'} "
                f"{', '.join(map(repr, unknown))}; "
                f"the standards know {', '.join(cats_std)}"
            )
        wanted = list(categories)
    order = _ordered_categories(wanted)

    # ties are broken by id, never by input row order: work on copies sorted by id
    compounds = compounds.iloc[
        np.argsort(compounds[schema.COMPOUND_ID].astype(str).to_numpy(), kind="stable")
    ]
    orig_parcel = np.argsort(parcels[schema.PARCEL_ID].astype(str).to_numpy(), kind="stable")
    parcels = parcels.iloc[orig_parcel]
    access = access.sort_values(
        [schema.CATEGORY, schema.COMPOUND_ID], key=lambda col: col.astype(str), kind="stable"
    )
    if gates is not None and len(gates):
        _require_columns(gates, [schema.COMPOUND_ID], "gates")
        gate_keys = [c for c in (schema.COMPOUND_ID, schema.GATE_ID) if c in gates.columns]
        gates = gates.sort_values(gate_keys, key=lambda col: col.astype(str), kind="stable")

    comp_ids = compounds[schema.COMPOUND_ID].astype(str).to_numpy()
    comp_pos = pd.Series(np.arange(len(comp_ids)), index=comp_ids)
    hh_all = pd.to_numeric(compounds[schema.HOUSEHOLDS], errors="coerce").fillna(0).to_numpy(float)
    acc = access[access[schema.CATEGORY].isin(order)]
    acc_ids = acc[schema.COMPOUND_ID].astype(str)
    missing = sorted(set(acc_ids) - set(comp_ids))
    if missing:
        raise InputError(
            f"access: {len(missing)} compound_id(s) not in compounds "
            f"(first: {', '.join(missing[:5])}); "
            "compute access on the same compounds layer"
        )
    acc = acc.assign(_pos=comp_pos.loc[acc_ids].to_numpy(), _within=acc[WITHIN_RADIUS].astype(bool))

    # parcels: usable area pool and kind
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
    pool = np.where(ok_kind, pool, 0.0)
    parcel_district = (
        _parcel_districts(parcels, districts)
        if districts is not None and len(districts)
        else np.full(len(parcels), None, dtype=object)
    )

    # radius per category: the access table's, else the rule's
    radius: dict[str, float] = {}
    for cat in order:
        r = np.nan
        if RADIUS_M in acc.columns:
            r = float(
                pd.to_numeric(acc.loc[acc[schema.CATEGORY] == cat, RADIUS_M], errors="coerce").max()
            )
        radius[cat] = r if math.isfinite(r) else float(cats_std[cat].radius_m)

    # one distance matrix: origins of every compound uncovered in some category -> all parcels
    need = np.unique(acc.loc[~acc["_within"], "_pos"].to_numpy(int))
    owner = np.zeros(0, dtype=int)
    geoms = compounds.geometry.to_numpy()
    if gates is not None and len(gates):
        _require_columns(gates, [schema.COMPOUND_ID], "gates")
        g_ids = gates[schema.COMPOUND_ID].astype(str)
        g_known = g_ids.isin(comp_ids).to_numpy()
        g_pos = comp_pos.reindex(g_ids[g_known]).to_numpy(int)
        g_geom = gates.geometry.to_numpy()[g_known]
        sel = np.isin(g_pos, need)
        with_gate = np.unique(g_pos)
        poly = need[~np.isin(need, with_gate)]
        origin_geoms = np.concatenate([g_geom[sel], geoms[poly]])
        owner = np.concatenate([g_pos[sel], poly])
    else:
        origin_geoms = geoms[need]
        owner = need
    n_comp = len(comp_ids)
    if need.size and len(parcels) and order:
        d = _distance_matrix(
            network,
            gpd.GeoSeries(origin_geoms, crs=compounds.crs),
            gpd.GeoSeries(parcels.geometry.to_numpy(), crs=parcels.crs),
            cutoff_m=max(radius.values()),
        )
        d = sp.csr_matrix(d)
        agg = sp.csr_matrix(
            (np.ones(owner.size), (owner, np.arange(owner.size))), shape=(n_comp, owner.size)
        )
    else:
        d = sp.csr_matrix((owner.size, len(parcels)))
        agg = sp.csr_matrix((n_comp, owner.size))

    pid = parcels[schema.PARCEL_ID].astype(str).to_numpy()
    has_pop = schema.POPULATION in compounds.columns
    pop_all = (
        pd.to_numeric(compounds[schema.POPULATION], errors="coerce").to_numpy(float)
        if has_pop
        else np.full(n_comp, np.nan)
    )
    overrides = dict(capacity_households or {})
    blocks: list[sp.csr_matrix] = []
    row_hh: list[np.ndarray] = []
    row_units: list[np.ndarray] = []
    opt: dict[str, list[Any]] = {
        k_: [] for k_ in ("parcel", "group", "min", "max", "m2pu", "maxu", "indep")
    }
    info: list[dict[str, Any]] = []
    for g_idx, cat in enumerate(order):
        rule = cats_std[cat]
        rad = radius[cat]
        sub = acc[acc[schema.CATEGORY] == cat].drop_duplicates("_pos")
        pos_all = sub["_pos"].to_numpy(int)
        total_hh = float(hh_all[pos_all].sum())
        dem = np.sort(sub.loc[~sub["_within"], "_pos"].to_numpy(int))
        dem = dem[hh_all[dem] > 0]
        w = hh_all[dem]
        units = np.asarray(standards.demand(cat, w, pop_all[dem]), dtype=float).reshape(-1)
        unit = str(getattr(rule, "capacity_unit", ""))
        req = {kd: _required_area(rule, kd) for kd in schema.PARCEL_KINDS}
        req_arr = np.array(
            [
                np.nan if not ok or req[kd] is None else req[kd]
                for kd, ok in zip(kinds, ok_kind, strict=True)
            ],
            dtype=float,
        ).reshape(-1)
        cand = np.flatnonzero(~np.isnan(req_arr) & (pool >= req_arr - 1e-9))
        within = d.copy()
        within.data = (within.data <= rad).astype(float)
        within.eliminate_zeros()
        reach = sp.csr_matrix((agg @ within).tocsr()[dem][:, cand] > 0)
        n_eligible = int(cand.size)
        useful = np.diff(reach.tocsc().indptr) > 0  # a parcel that reaches nobody is no option
        cand, reach = cand[useful], reach[:, np.flatnonzero(useful)]
        blocks.append(reach)
        # capacity of an option: from its area and the standard, or the caller's override
        min_a = req_arr[cand]
        m2pu = np.array([_m2_per_unit(rule, kd) for kd in kinds[cand]], dtype=float)
        max_size = np.array([_max_area(rule, kd) for kd in kinds[cand]], dtype=float)
        max_a = np.maximum(np.minimum(pool[cand], max_size), min_a)
        cap_mode = "area"
        if cat in overrides:
            cap_hh = float(overrides[cat])
            units = w.copy()  # capacity counted in households
            unit = "households"
            m2pu = np.zeros(cand.size)
            max_a = min_a.copy()
            maxu = np.full(cand.size, cap_hh if math.isfinite(cap_hh) else np.inf)
            cap_mode = "given" if math.isfinite(cap_hh) else "none"
        elif not np.any(m2pu > 0):
            max_a = min_a.copy()
            maxu = np.full(cand.size, np.inf)
            cap_mode = "none"
            if cand.size and dem.size:
                logger.warning(
                    "siting %s: the standards give no area per unit (%s) in site.building_m2_per_unit: "
                    "new sites are credited without a capacity limit",
                    cat,
                    unit or "unit",
                )
        else:
            maxu = np.divide(max_a, m2pu, out=np.full(cand.size, np.inf), where=m2pu > 0)
            if unit != "m2":  # whole seats, beds, places, spaces
                maxu = np.floor(maxu + 1e-9)
        row_hh.append(w)
        row_units.append(units)
        opt["parcel"].append(cand)
        opt["group"].append(np.full(cand.size, g_idx))
        opt["min"].append(min_a)
        opt["max"].append(max_a)
        opt["m2pu"].append(m2pu)
        opt["maxu"].append(maxu)
        opt["indep"].append(np.full(cand.size, bool(getattr(rule, "independent_site", False))))
        info.append(
            {
                "cat": cat,
                "rad": rad,
                "total_hh": total_hh,
                "uncovered_hh": float(w.sum()),
                "units": float(units.sum()),
                "unit": unit,
                "units_per_hh": float(units.sum() / w.sum()) if w.sum() > 0 else math.nan,
                "coverable": float(w[np.diff(blocks[-1].indptr) > 0].sum()),
                "cand": n_eligible,
                "cap_mode": cap_mode,
            }
        )

    def cat_arr(key: str, dtype: Any) -> np.ndarray:
        parts = opt[key]
        return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype=dtype)

    n_rows = sum(b.shape[0] for b in blocks)
    coverage = (
        sp.block_diag(blocks, format="csc").astype(bool)
        if blocks
        else sp.csc_matrix((0, 0), dtype=bool)
    )
    coverage = sp.csc_matrix(coverage.reshape((n_rows, coverage.shape[1])), dtype=bool)
    coverage.sort_indices()
    problem = SiteOptions(
        coverage=coverage,
        households=np.concatenate(row_hh) if row_hh else np.zeros(0),
        units=np.concatenate(row_units) if row_units else np.zeros(0),
        parcel=cat_arr("parcel", np.int64),
        group=cat_arr("group", np.int64),
        min_area_m2=cat_arr("min", float),
        max_area_m2=cat_arr("max", float),
        m2_per_unit=cat_arr("m2pu", float),
        max_units=cat_arr("maxu", float),
        independent=cat_arr("indep", bool),
        parcel_area_m2=pool.astype(float),
        k=None if k is None else int(k),
    )
    g_sol = e_sol = None
    if method in ("greedy", "both"):
        g_sol = greedy_site(problem)
    if method in ("exact", "both"):
        e_sol = exact_site(problem, time_limit_s=time_limit_s)
    sol = e_sol if e_sol is not None else g_sol
    assert sol is not None

    def per_group(s: SiteSolution | None) -> tuple[np.ndarray, np.ndarray]:
        cov = np.zeros(len(order))
        sites = np.zeros(len(order))
        if s is not None and s.chosen:
            grp = problem.group[list(s.chosen)]
            np.add.at(cov, grp, np.asarray(s.households))
            np.add.at(sites, grp, 1)
        return cov, sites

    g_cov, g_sites = per_group(g_sol)
    e_cov, e_sites = per_group(e_sol)
    ch = np.asarray(sol.chosen, dtype=int)
    ch_hh = np.asarray(sol.households, dtype=float)
    ch_units = np.asarray(sol.units, dtype=float)
    ch_area = np.asarray(sol.area_m2, dtype=float)
    ch_grp = problem.group[ch] if ch.size else np.zeros(0, dtype=int)
    ch_par = problem.parcel[ch] if ch.size else np.zeros(0, dtype=int)
    used_area = np.bincount(ch_par, weights=ch_area, minlength=len(pool))
    remaining = pool - used_area
    remaining[np.abs(remaining) < 1e-6] = 0.0  # no "-0.0" from rounding
    # plan rows: by category (priority order), then in the solution's order
    srt = np.argsort(ch_grp, kind="stable")
    plan_rows: list[pd.DataFrame] = []
    summary_rows: list[dict[str, Any]] = []
    results: dict[str, CoverResult] = {}
    gaps: dict[str, float] = {}
    for g_idx, inf_ in enumerate(info):
        cat = inf_["cat"]
        sel = srt[ch_grp[srt] == g_idx]
        o_sel = ch[sel]
        newly = ch_hh[sel]
        total_hh = inf_["total_hh"]
        covered_before = total_hh - inf_["uncovered_hh"]
        cum = (
            (covered_before + np.cumsum(newly)) / total_hh
            if total_hh > 0
            else np.zeros(newly.size)
        )
        m2pu = problem.m2_per_unit[o_sel]
        if inf_["cap_mode"] == "area":
            capacity = np.divide(ch_area[sel], m2pu, out=np.full(sel.size, np.nan), where=m2pu > 0)
        elif inf_["cap_mode"] == "given":
            capacity = problem.max_units[o_sel]
        else:
            capacity = np.full(sel.size, np.nan)
        # households one site can serve: its capacity over the demand per household of the
        # households it serves (they differ between compounds when population is given)
        if inf_["cap_mode"] == "area":
            avg = inf_["units_per_hh"]
            uph = np.divide(ch_units[sel], newly, out=np.full(sel.size, avg), where=newly > 0)
        else:
            uph = np.ones(sel.size)
        cap_hh = np.divide(capacity, uph, out=np.full(sel.size, np.nan), where=uph > 0)
        short_after = np.maximum(inf_["units"] - np.cumsum(ch_units[sel]), 0.0)
        short_before = np.concatenate([[inf_["units"]], short_after[:-1]])
        par = ch_par[sel]
        if sel.size:
            plan_rows.append(
                pd.DataFrame(
                    {
                        schema.PARCEL_ID: pid[par],
                        schema.CATEGORY: cat,
                        PICK: np.arange(1, sel.size + 1),
                        schema.DISTRICT_ID: parcel_district[par],
                        NEWLY_COVERED_HOUSEHOLDS: newly,
                        CUMULATIVE_COVERAGE: cum,
                        CAPACITY: capacity,
                        CAPACITY_UNIT: inf_["unit"],
                        CAPACITY_HOUSEHOLDS: cap_hh,
                        SHORTFALL_BEFORE: short_before,
                        SHORTFALL_AFTER: short_after,
                        FACILITY_AREA_M2: ch_area[sel],
                        MIN_AREA_M2: problem.min_area_m2[o_sel],
                        PARCEL_AREA_M2: pool[par],
                        REMAINING_AREA_M2: remaining[par],
                        INDEPENDENT_SITE: problem.independent[o_sel],
                        schema.KIND: kinds[par],
                        METHOD: sol.method,
                        "_row": par,
                    }
                )
            )
        covered = float(newly.sum())
        short_end = float(short_after[-1]) if sel.size else inf_["units"]
        gap_ge = math.nan
        if g_sol is not None and e_sol is not None:
            ref = e_cov[g_idx]
            gap_ge = 0.0 if ref <= 0 else float((ref - g_cov[g_idx]) / ref)
            gaps[cat] = gap_ge
        results[cat] = CoverResult(
            chosen=tuple(int(orig_parcel[p]) for p in par),
            newly_covered=tuple(float(v) for v in newly),
            covered_weight=covered,
            coverable_weight=inf_["coverable"],
            objective=covered if k is not None else float(sel.size),
            objective_bound=sol.objective_bound,
            gap=sol.gap,
            method=sol.method,
            mode="max_cover" if k is not None else "set_cover",
            status=sol.status,
            runtime_s=sol.runtime_s,
        )
        summary_rows.append(
            {
                schema.CATEGORY: cat,
                RADIUS_M: inf_["rad"],
                "households_total": total_hh,
                "households_uncovered": inf_["uncovered_hh"],
                "households_coverable": inf_["coverable"],
                "households_newly_covered": covered,
                "households_uncovered_after": inf_["uncovered_hh"] - covered,
                "coverage_before": covered_before / total_hh if total_hh > 0 else math.nan,
                "coverage_after": (covered_before + covered) / total_hh
                if total_hh > 0
                else math.nan,
                CAPACITY_UNIT: inf_["unit"],
                SHORTFALL_BEFORE: inf_["units"],
                SHORTFALL_AFTER: short_end,
                "candidates": inf_["cand"],
                "sites": int(sel.size),
                # total over the category's sites; missing when its sites are uncapacitated
                "capacity": math.nan
                if inf_["cap_mode"] == "none"
                else (float(np.nansum(capacity)) if sel.size else 0.0),
                CAPACITY_HOUSEHOLDS: math.nan
                if inf_["cap_mode"] == "none"
                else (float(np.nansum(cap_hh)) if sel.size else 0.0),
                METHOD: sol.method,
                "status": sol.status,
                "objective_bound": sol.objective_bound,
                "gap": sol.gap,
                "greedy_covered": g_cov[g_idx] if g_sol is not None else math.nan,
                "exact_covered": e_cov[g_idx] if e_sol is not None else math.nan,
                "greedy_sites": g_sites[g_idx] if g_sol is not None else math.nan,
                "exact_sites": e_sites[g_idx] if e_sol is not None else math.nan,
                "gap_greedy_vs_exact": gap_ge,
                "runtime_s": (g_sol.runtime_s if g_sol else 0.0)
                + (e_sol.runtime_s if e_sol else 0.0),
            }
        )
        logger.info(
            "siting %s: %d site(s) of %d candidate(s) credited with %.0f of %.0f uncovered "
            "households (shortfall %.1f -> %.1f %s)",
            cat,
            sel.size,
            inf_["cand"],
            covered,
            inf_["uncovered_hh"],
            inf_["units"],
            short_end,
            inf_["unit"],
        )
    if g_sol is not None and e_sol is not None:
        ref = e_sol.covered_weight
        gaps["all"] = 0.0 if ref <= 0 else float((ref - g_sol.covered_weight) / ref)
    cols = [
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
    if plan_rows:
        table = pd.concat(plan_rows, ignore_index=True)
        geom = parcels.geometry.to_numpy()[table.pop("_row").to_numpy(int)]
    else:
        table = pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
        geom = np.zeros(0, dtype=object)
    plan = gpd.GeoDataFrame(
        table[cols], geometry=gpd.GeoSeries(geom, crs=parcels.crs).values, crs=parcels.crs
    )
    summary = pd.DataFrame(summary_rows)
    from types import MappingProxyType

    return SitingPlan(
        plan=plan,
        summary=summary,
        results=MappingProxyType(results),
        gaps=MappingProxyType(gaps),
        method=method,
        solution=sol,
    )


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
    {'D1': ['nursery on parcel P012: covers 1,230 more households']}
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
            line = f"{schema.CATEGORIES.get(c, c)} 设于地块 {p}：新增覆盖 {_households_text(n)} 户"
        else:
            name = str(c).replace("_", " ")
            line = f"{name} on parcel {p}: covers {_households_text(n)} more households"
        line += _capacity_text(q, u, lang)
        out.setdefault(key, []).append(line)
    return out


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


def write_siting_outputs(plan: SitingPlan | pd.DataFrame, out_dir: str | Path) -> list[Path]:
    """Write ``siting_plan.csv`` (UTF-8 with BOM) and ``siting_plan.xlsx`` into ``out_dir``.

    Columns: ``parcel_id``, ``category``, ``newly_covered_households``,
    ``cumulative_coverage`` first, then the other plan columns (no geometry).

    Returns
    -------
    list of Path
        The files written.
    """
    from renogis.outputs.tables import write_table

    table = plan.plan if isinstance(plan, SitingPlan) else plan
    first = [schema.PARCEL_ID, schema.CATEGORY, NEWLY_COVERED_HOUSEHOLDS, CUMULATIVE_COVERAGE]
    _require_columns(table, first, "siting plan")
    cols = first + [c for c in table.columns if c not in first and c != schema.GEOMETRY]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return write_table(pd.DataFrame(table[cols]), out / "siting_plan", sheet_name="siting_plan")
