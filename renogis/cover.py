"""Maximal covering on plain matrices: the optimisation core behind :mod:`renogis.siting`.

As in spopt's ``from_cost_matrix``, nothing here sees a GeoDataFrame, a file or a
language: the inputs are numpy arrays and scipy.sparse matrices, the results frozen
dataclasses. :mod:`renogis.siting` builds the matrices from the compounds, the idle
parcels, the access table and the walk network, and calls these solvers.

* the single-category maximal covering / set cover core :func:`greedy_max_cover` /
  :func:`exact_max_cover` (boolean coverage matrix, weights, budget ``k``, optional
  per-site capacity), returning a :class:`CoverResult`;
* the joint siting problem :class:`SiteOptions` (every parcel x category option at
  once, with areas, capacities, independent sites and budgets), solved by
  :func:`greedy_site` (lazy greedy plus deterministic improvement re-runs; the fast
  default) or :func:`exact_site` (a mixed-integer programme in HiGHS), both returning
  a :class:`SiteSolution`.

Capacity: a capacitated site serves at most its capacity (in the units of the
weights); a demand point's weight may be split between several sites (fractional
service); NaN or inf means uncapacitated. Exact solves use ``highspy`` when installed
(optional extra ``exact``), else the HiGHS bundled with SciPy
(``scipy.optimize.milp``); nothing is printed on stdout.
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
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from renogis._errors import InfeasibleError, InputError

logger = logging.getLogger(__name__)

__all__ = [
    "CoverResult",
    "SiteOptions",
    "SiteSolution",
    "greedy_max_cover",
    "exact_max_cover",
    "greedy_site",
    "exact_site",
    "GREEDY_RESTARTS",
    "relative_gap",
]


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


def _highs_solver(
    highspy: Any, *, n_int: int, n_rows: int, time_limit_s: float, options: Mapping[str, Any] | None
) -> Any:
    """A silent, deterministic ``Highs`` instance with the options of :func:`_solve_highs`."""
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
    elif n_rows > 2000:
        h.setOptionValue("solver", "ipm")
    for name, value in (options or {}).items():
        h.setOptionValue(name, value)
    return h


def _highs_model(
    highspy: Any,
    *,
    cost: np.ndarray,
    col_lo: np.ndarray,
    col_hi: np.ndarray,
    n_int: int,
    rows: sp.csr_matrix,
    row_lo: np.ndarray,
    row_hi: np.ndarray,
    maximize: bool,
) -> Any:
    """The model as a ``HighsLp`` (rowwise matrix; the first ``n_int`` columns integer)."""
    inf = highspy.kHighsInf
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
    return lp


def _highs_outcome(highspy: Any, h: Any, *, n_int: int) -> tuple[str, np.ndarray | None, float, float]:
    """Status, solution (None if none), objective and dual bound of a solved ``Highs``."""
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
    h = _highs_solver(highspy, n_int=n_int, n_rows=rows.shape[0], time_limit_s=time_limit_s,
                      options=options)
    h.passModel(_highs_model(highspy, cost=cost, col_lo=col_lo, col_hi=col_hi, n_int=n_int,
                             rows=rows, row_lo=row_lo, row_hi=row_hi, maximize=maximize))
    if start is not None:
        sol = highspy.HighsSolution()
        sol.col_value = list(map(float, start))
        sol.value_valid = True
        h.setSolution(sol)
    h.run()
    return _highs_outcome(highspy, h, n_int=n_int)


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


def _no_solution(st: str, *, time_limit_s: float, n_candidates: int, n_demand: int) -> InfeasibleError:
    """The error raised when HiGHS returns no feasible cover."""
    return InfeasibleError(
        f"HiGHS found no feasible siting within time_limit_s={time_limit_s} "
        f"({n_candidates} candidates, {n_demand} demand points, status {st}); raise time_limit_s "
        "or use method='greedy'"
    )


def _solve_mclp(
    ar: sp.csr_matrix, wr: np.ndarray, k: int, *, start: np.ndarray | None, time_limit_s: float
) -> tuple[str, np.ndarray | None, float, float]:
    """Uncapacitated MCLP. Columns: y (n_c, binary), z (one per demand row, covered share)."""
    n_r, n_c = ar.shape
    rows = sp.vstack(
        [
            sp.hstack([-ar, sp.identity(n_r, format="csr")]),
            sp.hstack([sp.csr_matrix(np.ones(n_c)), sp.csr_matrix((1, n_r))]),
        ]
    ).tocsr()
    return _solve_highs(
        cost=np.concatenate([np.zeros(n_c), wr]),
        col_lo=np.zeros(n_c + n_r),
        col_hi=np.ones(n_c + n_r),
        n_int=n_c,
        rows=rows,
        row_lo=np.full(n_r + 1, -np.inf),
        row_hi=np.concatenate([np.zeros(n_r), [float(k)]]),
        maximize=True,
        time_limit_s=time_limit_s,
        start=start,
    )


def _solve_set_cover(
    ar: sp.csr_matrix, *, start: np.ndarray | None, time_limit_s: float
) -> tuple[str, np.ndarray | None, float, float]:
    """Uncapacitated set cover: the fewest sites that reach every row of ``ar``."""
    n_r, n_c = ar.shape
    ones_c = np.ones(n_c)
    return _solve_highs(
        cost=ones_c,
        col_lo=np.zeros(n_c),
        col_hi=ones_c,
        n_int=n_c,
        rows=ar,
        row_lo=np.ones(n_r),
        row_hi=np.full(n_r, np.inf),
        maximize=False,
        time_limit_s=time_limit_s,
        start=start,
    )


def _exact_uncapacitated(
    a: sp.csc_matrix,
    w: np.ndarray,
    ar: sp.csr_matrix,
    keep: np.ndarray,
    *,
    k: int | None,
    warm_start: bool,
    time_limit_s: float,
) -> tuple[list[int], list[float], str, float]:
    """Uncapacitated exact cover: picks (greedy order), their new coverage, status, bound."""
    n_r, n_c = ar.shape
    start = None
    if warm_start:
        g_chosen, _, g_res, _ = _greedy(a, w, k, None)
        y0 = np.zeros(n_c)
        y0[g_chosen] = 1.0
        # max cover: the greedy's covered rows as z; set cover: y alone
        start = y0 if k is None else np.concatenate([y0, (g_res[keep] <= 0).astype(float)])
    if k is not None:
        st, x, _, bound = _solve_mclp(ar, w[keep], k, start=start, time_limit_s=time_limit_s)
    else:
        st, x, _, bound = _solve_set_cover(ar, start=start, time_limit_s=time_limit_s)
    if x is None:
        raise _no_solution(st, time_limit_s=time_limit_s, n_candidates=n_c, n_demand=n_r)
    chosen = np.flatnonzero(x[:n_c] > 0.5)
    order, gains = _order_by_greedy(a, w, chosen)
    return order, gains, st, bound


@dataclass(frozen=True)
class _CapacityModel:
    """Rows of the capacitated cover model, without the budget or target row.

    ``sum_j x_ij <= 1`` per demand row, ``x_e <= y_j`` per reachable pair ``e``,
    ``sum_i w_i x_ij <= c_j y_j`` per site of finite capacity. Columns: y (``n_sites``,
    binary), then x (one per pair, in COO order of the reduced coverage matrix).
    """

    rows: sp.csr_matrix
    row_lo: np.ndarray
    row_hi: np.ndarray
    pair_weight: np.ndarray  # weight of each pair's demand row (the cost of x)
    pair_site: np.ndarray  # site (column) of each pair
    n_sites: int


def _capacity_model(ar: sp.csr_matrix, wr: np.ndarray, cap: np.ndarray) -> _CapacityModel:
    """Build the capacitated model of the reduced coverage ``ar`` (rows with weight)."""
    n_r, n_c = ar.shape
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
    served = sp.csr_matrix((wr[e_row], (e_col, e_idx)), shape=(n_c, nnz))[fin]
    capy = sp.csr_matrix((-cap[fin], (np.arange(fin.size), fin)), shape=(fin.size, n_c))
    cap_rows = sp.hstack([capy, served])
    base = sp.vstack([sp.hstack([sp.csr_matrix((n_r, n_c)), demand]), link, cap_rows]).tocsr()
    return _CapacityModel(
        rows=base,
        row_lo=np.full(base.shape[0], -np.inf),
        row_hi=np.concatenate([np.ones(n_r), np.zeros(nnz), np.zeros(fin.size)]),
        pair_weight=wr[e_row],
        pair_site=e_col,
        n_sites=n_c,
    )


def _capacitated_max_cover(
    m: _CapacityModel, k: int, *, time_limit_s: float
) -> tuple[str, np.ndarray | None, float, float]:
    """The most weight served by at most ``k`` open sites."""
    n_c, nnz = m.n_sites, m.pair_weight.size
    rows = sp.vstack(
        [m.rows, sp.hstack([sp.csr_matrix(np.ones(n_c)), sp.csr_matrix((1, nnz))])]
    ).tocsr()
    return _solve_highs(
        cost=np.concatenate([np.zeros(n_c), m.pair_weight]),
        col_lo=np.zeros(n_c + nnz),
        col_hi=np.ones(n_c + nnz),
        n_int=n_c,
        rows=rows,
        row_lo=np.append(m.row_lo, -np.inf),
        row_hi=np.append(m.row_hi, float(k)),
        maximize=True,
        time_limit_s=time_limit_s,
    )


def _capacitated_set_cover(
    m: _CapacityModel, *, time_limit_s: float
) -> tuple[str, np.ndarray | None, float, float]:
    """The fewest sites that serve the most servable weight (an LP, then the MILP)."""
    n_c, nnz = m.n_sites, m.pair_weight.size
    cost_x = np.concatenate([np.zeros(n_c), m.pair_weight])
    # phase 1: the most weight that can be served with every site open (an LP)
    st1, x1, best, _ = _solve_highs(
        cost=cost_x,
        col_lo=np.concatenate([np.ones(n_c), np.zeros(nnz)]),
        col_hi=np.ones(n_c + nnz),
        n_int=0,
        rows=m.rows,
        row_lo=m.row_lo,
        row_hi=m.row_hi,
        maximize=True,
        time_limit_s=time_limit_s,
    )
    if x1 is None:  # pragma: no cover - an LP with a zero solution is always feasible
        raise InfeasibleError(f"HiGHS could not solve the capacity LP (status {st1})")
    target = best * (1.0 - 1e-7)
    rows = sp.vstack(
        [m.rows, sp.hstack([sp.csr_matrix((1, n_c)), sp.csr_matrix(m.pair_weight)])]
    ).tocsr()
    return _solve_highs(
        cost=np.concatenate([np.ones(n_c), np.zeros(nnz)]),
        col_lo=np.zeros(n_c + nnz),
        col_hi=np.ones(n_c + nnz),
        n_int=n_c,
        rows=rows,
        row_lo=np.append(m.row_lo, target),
        row_hi=np.append(m.row_hi, np.inf),
        maximize=False,
        time_limit_s=time_limit_s,
    )


def _capacitated_assignment(
    m: _CapacityModel, chosen: np.ndarray, x: np.ndarray, *, time_limit_s: float
) -> tuple[list[int], list[float]]:
    """Chosen sites by weight served (largest first) and the weight each serves.

    The weights come from a clean assignment: the most weight servable with exactly
    the chosen sites open (an LP); the MILP's own ``x`` when that LP fails.
    """
    n_c, nnz = m.n_sites, m.pair_weight.size
    y_fix = np.zeros(n_c)
    y_fix[chosen] = 1.0
    _, x2, _, _ = _solve_highs(
        cost=np.concatenate([np.zeros(n_c), m.pair_weight]),
        col_lo=np.concatenate([y_fix, np.zeros(nnz)]),
        col_hi=np.concatenate([y_fix, np.ones(nnz)]),
        n_int=0,
        rows=m.rows,
        row_lo=m.row_lo,
        row_hi=m.row_hi,
        maximize=True,
        time_limit_s=time_limit_s,
    )
    if x2 is not None:
        x = x2
    per_site = np.bincount(m.pair_site, weights=x[n_c:] * m.pair_weight, minlength=n_c)[chosen]
    srt = np.lexsort((chosen, -per_site))
    return [int(j) for j in chosen[srt]], [float(g) for g in per_site[srt]]


def _exact_capacitated(
    ar: sp.csr_matrix, wr: np.ndarray, cap: np.ndarray, *, k: int | None, time_limit_s: float
) -> tuple[list[int], list[float], str, float]:
    """Capacitated exact cover: picks (by weight served), the weight each serves, status, bound."""
    m = _capacity_model(ar, wr, cap)
    if k is not None:
        st, x, _, bound = _capacitated_max_cover(m, k, time_limit_s=time_limit_s)
    else:
        st, x, _, bound = _capacitated_set_cover(m, time_limit_s=time_limit_s)
    if x is None:
        raise _no_solution(st, time_limit_s=time_limit_s, n_candidates=ar.shape[1], n_demand=ar.shape[0])
    chosen = np.flatnonzero(x[: m.n_sites] > 0.5)
    order, gains = _capacitated_assignment(m, chosen, x, time_limit_s=time_limit_s)
    return order, gains, st, bound


def _exact_objective(
    mode: str, covered: float, coverable: float, n_sites: int, bound: float
) -> tuple[float, float]:
    """Objective and its bound, clipped to what is coverable (max cover) or whole sites (set cover)."""
    if mode == "max_cover":
        return covered, max(min(bound, coverable), covered)
    objective = float(n_sites)
    return objective, min(max(math.ceil(bound - 1e-6), 0), objective)


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
    n_c = a.shape[1]
    deg = np.diff(a.tocsr().indptr)
    coverable = float(w[deg > 0].sum())
    keep = (deg > 0) & (w > 0)  # only rows that count and that some site reaches
    ar = sp.csr_matrix(a[keep, :] if keep.size else a, dtype=float)
    mode = "max_cover" if k is not None else "set_cover"
    if ar.shape[0] == 0 or n_c == 0 or k == 0:
        return CoverResult(
            (), (), 0.0, coverable, 0.0, 0.0, 0.0, "exact", mode, "optimal", time.perf_counter() - t0
        )
    if cap is None:
        order, gains, st, bound = _exact_uncapacitated(
            a, w, ar, keep, k=k, warm_start=warm_start, time_limit_s=time_limit_s
        )
    else:
        order, gains, st, bound = _exact_capacitated(ar, w[keep], cap, k=k, time_limit_s=time_limit_s)
    covered = float(sum(gains))
    objective, bound = _exact_objective(mode, covered, coverable, len(order), bound)
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


@dataclass(frozen=True)
class _GreedySetup:
    """Per-problem arrays of the greedy, computed once for every run."""

    perm: np.ndarray  # CSC entries in serving order (per option: fewest-options rows first)
    rows_sorted: np.ndarray  # the rows of those entries
    gains0: np.ndarray  # first gain of every option (households)
    bound: float  # upper bound on the households any plan credits


def _greedy_setup(problem: SiteOptions) -> _GreedySetup:
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
    return _GreedySetup(perm=perm, rows_sorted=rows_sorted, gains0=gains0, bound=bound)


def _greedy_run(
    problem: SiteOptions, setup: _GreedySetup, forbidden: frozenset[int] = frozenset()
) -> tuple[list[int], np.ndarray, float]:
    """One lazy-greedy pass; ``forbidden`` options are never opened. Returns chosen, x, covered."""
    a = problem.coverage
    n_o = a.shape[1]
    indptr = a.indptr
    perm, rows_sorted, gains0 = setup.perm, setup.rows_sorted, setup.gains0
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
    return chosen, x, setup.bound


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


@dataclass(frozen=True)
class _SiteModel:
    """The joint MILP: maximise ``cost.x`` s.t. ``row_lo <= rows x <= row_hi``, ``col_lo <= x <= col_hi``.

    Columns: y (``n_o``, binary: option open), a (``n_o``: its area, m²), x (one per
    coverage entry, CSC order: share of the row served by the option).
    """

    rows: sp.csr_matrix
    row_lo: np.ndarray
    row_hi: np.ndarray
    col_lo: np.ndarray
    col_hi: np.ndarray
    cost: np.ndarray
    n_o: int


def _site_model(problem: SiteOptions) -> _SiteModel:
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
    return _SiteModel(rows=rows, row_lo=np.concatenate(lo), row_hi=np.concatenate(hi),
                      col_lo=col_lo, col_hi=col_hi, cost=cost, n_o=n_o)


def _greedy_start(problem: SiteOptions, g_chosen: Sequence[int], g_x: np.ndarray) -> np.ndarray:
    """The greedy plan as a start of the joint MILP (y, a, x)."""
    n_o = problem.coverage.shape[1]
    y0 = np.zeros(n_o)
    y0[g_chosen] = 1.0
    ag = np.zeros(n_o)
    if g_chosen:
        gc = np.asarray(g_chosen)
        col_of = np.repeat(np.arange(n_o), np.diff(problem.coverage.indptr))
        u_o = np.bincount(col_of, weights=g_x * problem.units[problem.coverage.indices],
                          minlength=n_o)
        ag[gc] = _option_area(problem, gc, u_o[gc])
    return np.concatenate([y0, ag, g_x])


def _fewest_sites(
    m: _SiteModel, x: np.ndarray, st: str, *, time_limit_s: float
) -> tuple[np.ndarray, str]:
    """Phase 2 of ``k=None``: the fewest sites that still credit (almost) the total of ``x``."""
    best = float(m.cost @ x)
    rows = sp.vstack([m.rows, sp.csr_matrix(m.cost)]).tocsr()
    st2, x2, _, _ = _solve_highs(
        cost=np.concatenate([np.ones(m.n_o), np.zeros(m.cost.size - m.n_o)]), rows=rows,
        row_lo=np.append(m.row_lo, best * (1 - 1e-7) - 1e-9),
        row_hi=np.append(m.row_hi, np.inf), maximize=False, start=x, col_lo=m.col_lo,
        col_hi=m.col_hi, n_int=m.n_o, time_limit_s=time_limit_s)
    return (x2, st2) if x2 is not None else (x, st)


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
    st, x, obj, bound = _solve_highs(
        cost=m.cost, rows=m.rows, row_lo=m.row_lo, row_hi=m.row_hi, col_lo=m.col_lo,
        col_hi=m.col_hi, n_int=n_o, maximize=True, start=_greedy_start(problem, g_chosen, g_x),
        time_limit_s=time_limit_s)
    if problem.k is None and x is not None:
        x, st = _fewest_sites(m, x, st, time_limit_s=time_limit_s)
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
