"""Contiguous district proposals under household bounds and planner constraints.

:func:`propose_districts` partitions the compounds that pass the planner's
exclusion rules into renovation districts (片区) that are connected in the
adjacency graph (:func:`renogis.adjacency.build_adjacency`) and hold between
``min_households`` and ``max_households`` households (defaults 1,500-4,000:
dwellings of a 5-minute life circle, GB 50180-2018 table 3.0.4; RECALL, not yet
checked against the PDF).

Algorithm (per connected component, all components at once)
-----------------------------------------------------------
1. Contract each ``keep_together`` group into one region; members that are
   not adjacent are joined through the shortest (fewest compounds) path.
2. Greedy agglomeration with a heap and lazy invalidation: a pair of adjacent
   regions is a candidate while at least one of them is below the minimum, the
   merged total stays <= max and no ``keep_apart`` group would be joined. The
   pair with the lowest key ``-wall / min(perimeter) + 0.5 * households / max``
   merges first: long shared walls relative to the smaller region's perimeter
   (compact shapes) and small merged totals (balanced sizes).
3. Rebalancing: a region still below the minimum takes border compounds from an
   adjacent region as long as that region stays connected and >= min and the
   receiver stays <= max (longest wall first).
   Steps 2-3 run first without the edges that cross a soft-barrier street
   (``soft_barrier_classes`` of the graph), then again with them for the regions
   still below the minimum: such a street is crossed only when no in-band
   district is possible otherwise (flag ``soft_barrier``).
4. Split/rebalance: a region still below the minimum is re-cut together with
   its adjacent regions, and a lopsided pair of adjacent regions (one holding at
   least 1.5 times the other's households) together, into k connected parts
   (k = households / mid-band, rounded into the feasible range) by recursive
   bisection of a spanning tree over centroid distances (SKATER-like; jittered
   trees are tried when the first fails). The new parts replace the old regions
   only when fewer are out of band, or the spread of households at least
   halves. A group of 3,600 + 1,800 households becomes 2,700 + 2,700 where the
   compounds allow it.
5. Whatever is still below the minimum stays one district flagged
   ``below_min`` (the tables say why); a single compound above the maximum is its own
   district flagged ``above_max``.

``max_span_m`` bounds every district's extent (the diagonal of its bounding
box) in steps 2-4. Walls to open (``wall_m``) count only boundary with no
street between (:mod:`renogis.adjacency`); the merge order uses the facing
boundary (``facing_m``) for compactness.

Missing values under exclusion rules (a documented choice): when a rule is set,
a compound whose value is unknown is excluded with reason "consent unknown",
"owners committee unknown" or "built year unknown"; planners fill the value to
bring it back.

The result is deterministic for a given input (row order) and ``seed`` (the
seed only permutes the tie-break order of equal keys).
"""

from __future__ import annotations

import heapq
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import shapely
from scipy import sparse
from scipy.sparse import csgraph

from renogis import schema
from renogis._errors import InfeasibleError, InputError
from renogis.adjacency import (
    EDGE_FACING_M,
    EDGE_SOFT_BARRIER,
    EDGE_WALL_M,
    KIND_PARCEL,
    NODE_AREA_M2,
    NODE_KIND,
)
from renogis.config import MAX_HOUSEHOLDS, MIN_HOUSEHOLDS
from renogis.schema import (
    AREA_M2,
    BUILDINGS,
    BUILT_YEAR,
    COMPOUND_ID,
    CONSENT,
    DISTRICT_ID,
    EXCLUDED_REASON,
    FLOOR_AREA_M2,
    HOUSEHOLDS,
    OWNERS_COMMITTEE,
    PARCEL_ID,
    POPULATION,
    SUBDISTRICT,
)

logger = logging.getLogger(__name__)

__all__ = [
    "DistrictResult",
    "propose_districts",
    "N_COMPOUNDS",
    "COMPOUND_IDS",
    "IDLE_AREA_M2",
    "PARCEL_IDS",
    "WALL_M",
    "FLAGS",
    "REASON",
    "GROUP_HOUSEHOLDS",
    "FLAG_BELOW_MIN",
    "FLAG_ABOVE_MAX",
    "FLAG_KEEP_TOGETHER",
    "FLAG_KEEP_APART",
    "FLAG_SOFT_BARRIER",
    "DEFAULT_MIN_HOUSEHOLDS",
    "DEFAULT_MAX_HOUSEHOLDS",
    "WALL_COMPOUND_A",
    "WALL_COMPOUND_B",
]

# ----------------------------------------------------------------- output columns
N_COMPOUNDS = schema.N_COMPOUNDS
COMPOUND_IDS = schema.COMPOUND_IDS
IDLE_AREA_M2 = schema.IDLE_AREA_M2
PARCEL_IDS = schema.PARCEL_IDS
WALL_M = schema.WALL_M  # sum of wall_m over internal edges: walls to open, m
FLAGS = schema.FLAGS
REASON = schema.REASON
GROUP_HOUSEHOLDS = "group_households"  # households of the whole connected group (component)
# columns of DistrictResult.walls: one row per wall to open (district_id, the two compounds, wall_m)
WALL_COMPOUND_A = "compound_id_a"
WALL_COMPOUND_B = "compound_id_b"

FLAG_BELOW_MIN = "below_min"
FLAG_ABOVE_MAX = "above_max"
FLAG_KEEP_TOGETHER = "keep_together"
FLAG_KEEP_APART = "keep_apart"
FLAG_SOFT_BARRIER = "soft_barrier"

#: Dwellings of a 5-minute life circle, GB 50180-2018 table 3.0.4 (RECALL, unverified).
DEFAULT_MIN_HOUSEHOLDS = MIN_HOUSEHOLDS
DEFAULT_MAX_HOUSEHOLDS = MAX_HOUSEHOLDS

_SIZE_WEIGHT = 0.5


@dataclass(frozen=True)
class DistrictResult:
    """District proposals.

    Attributes
    ----------
    districts : GeoDataFrame
        One row per district (see :func:`propose_districts` for the columns).
    compounds : GeoDataFrame
        The input compounds plus ``district_id`` (None when excluded) and
        ``excluded_reason`` (None when included).
    parameters : dict
        The bounds, planner rules and seed used.
    parcels : GeoDataFrame or None
        The input parcels plus ``district_id`` (None when no district touches them).
    walls : DataFrame or None
        One row per wall to open inside a district: ``district_id``,
        ``compound_id_a``, ``compound_id_b`` (a < b) and ``wall_m`` (shared
        boundary with no street between, m; see :mod:`renogis.adjacency`), by
        district, then longest first. Their sum per district is its ``wall_m``.
    """

    districts: gpd.GeoDataFrame
    compounds: gpd.GeoDataFrame
    parameters: dict[str, Any] = field(default_factory=dict)
    parcels: gpd.GeoDataFrame | None = None
    walls: pd.DataFrame | None = None


# ============================================================== input checking
def _groups(groups: Sequence[Sequence[str]], name: str, known: pd.Index) -> list[list[str]]:
    out: list[list[str]] = []
    for g in groups:
        if isinstance(g, str):
            raise InputError(
                f"{name}: each group must be a sequence of compound ids, got the string {g!r}; "
                f"write {name}=[[{g!r}, ...]]"
            )
        out.append([str(x) for x in g])
    unknown = sorted({x for g in out for x in g} - set(known))
    if unknown:
        raise InputError(f"{name}: unknown compound ids: {', '.join(unknown)}")
    return out


def _exclusions(
    compounds: pd.DataFrame,
    *,
    min_consent: float | None,
    require_owners_committee: bool,
    built_before: int | None,
) -> pd.Series:
    """Reason per row (None when included), vectorised."""
    reasons = pd.Series("", index=compounds.index, dtype=object)

    def add(mask: pd.Series, text: pd.Series | str) -> None:
        nonlocal reasons
        sep = np.where(reasons.to_numpy() == "", "", "; ")
        txt = text if isinstance(text, pd.Series) else pd.Series(text, index=reasons.index)
        reasons = reasons.where(~mask, reasons + sep + txt)

    if min_consent is not None:
        if CONSENT not in compounds.columns:
            raise InputError(f"min_consent is set but compounds have no {CONSENT!r} column")
        c = pd.to_numeric(compounds[CONSENT], errors="coerce")
        add(c.isna(), "consent unknown")
        low = c < min_consent
        add(low, c.map(lambda v: f"consent {v:.2f} < {min_consent:.2f}" if pd.notna(v) else ""))
    if require_owners_committee:
        if OWNERS_COMMITTEE not in compounds.columns:
            raise InputError(
                f"require_owners_committee is set but compounds have no {OWNERS_COMMITTEE!r} column"
            )
        oc = compounds[OWNERS_COMMITTEE]
        add(oc.isna(), "owners committee unknown")
        add(oc.notna() & ~oc.astype(object).eq(True), "no owners committee")
    if built_before is not None:
        if BUILT_YEAR not in compounds.columns:
            raise InputError(f"built_before is set but compounds have no {BUILT_YEAR!r} column")
        y = pd.to_numeric(compounds[BUILT_YEAR], errors="coerce")
        add(y.isna(), "built year unknown")
        add(
            y >= built_before,
            y.map(lambda v: f"built {v:.0f} >= {built_before}" if pd.notna(v) else ""),
        )
    return reasons.where(reasons != "", None)


# ============================================================== union-find
def _find(parent: list[int], i: int) -> int:
    root = i
    while parent[root] != root:
        root = parent[root]
    while parent[i] != root:
        parent[i], i = root, parent[i]
    return root


# ============================================================== core
def _partition(
    n: int,
    eu: np.ndarray,
    ev: np.ndarray,
    ew: np.ndarray,
    hh: np.ndarray,
    perim: np.ndarray,
    *,
    min_h: int,
    max_h: int,
    kt_groups: list[list[int]],
    ka_groups: list[list[int]],
    rank: np.ndarray,
    ids: np.ndarray,
    soft: np.ndarray | None = None,
    bbox: np.ndarray | None = None,
    cxy: np.ndarray | None = None,
    max_span: float | None = None,
    split: bool = True,
) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """Partition nodes 0..n-1; return (region label per node, kt membership mask, step counts).

    Phases: keep_together contraction (:func:`_contract_keep_together`,
    :func:`_keep_apart_labels`), growth without soft-barrier edges
    (:func:`_grow`: :func:`_agglomerate` then :func:`_rebalance`), growth again
    with them for what is still below the minimum, then the split/rebalance
    step (:func:`_split`).
    """
    soft = np.zeros(len(eu), bool) if soft is None else soft
    if bbox is None:
        bbox = np.zeros((n, 4))
    if cxy is None:
        cxy = np.zeros((n, 2))
    root_of, kt_mask = _contract_keep_together(n, eu, ev, kt_groups, ids)
    ka_label = _keep_apart_labels(n, root_of, ka_groups, ids)

    hard = ~soft
    grow_kw: dict[str, Any] = dict(min_h=min_h, max_h=max_h, rank=rank, ka_label=ka_label,
                                   kt_mask=kt_mask, bbox=bbox, max_span=max_span)  # fmt: skip
    lab, stats = _grow(n, eu[hard], ev[hard], ew[hard], hh, perim, root_of, **grow_kw)
    if soft.any():
        lab, st2 = _grow(n, eu, ev, ew, hh, perim, lab, **grow_kw)
        stats = {k: stats[k] + st2[k] for k in stats}
    stats["splits"] = 0
    if split:
        fixed = kt_mask | np.asarray([x is not None for x in ka_label], dtype=bool)
        lab, stats["splits"] = _split(
            n, eu[hard], ev[hard], hh, lab, min_h=min_h, max_h=max_h, fixed=fixed, bbox=bbox,
            cxy=cxy, max_span=max_span, rank=rank, ew=ew[hard],
        )
    logger.debug("districting: %s", stats)
    return lab, kt_mask, stats


# ---------------------------------------------------------------- keep_together, keep_apart
def _contract_keep_together(
    n: int, eu: np.ndarray, ev: np.ndarray, kt_groups: list[list[int]], ids: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Contract each keep_together group into one region with its shortest connecting paths.

    Members that are not adjacent are joined through the fewest compounds
    (breadth-first paths from the group's first member); every compound on such
    a path joins the group. Returns (region root per node, kt membership mask).

    Raises InfeasibleError when a group spans two connected components.
    """
    adj = sparse.csr_matrix((np.ones(2 * len(eu)), (np.r_[eu, ev], np.r_[ev, eu])), shape=(n, n))
    _, comp = csgraph.connected_components(adj, directed=False)
    parent = list(range(n))
    kt_mask = np.zeros(n, bool)
    for g in kt_groups:
        gi = sorted(set(g))
        comps = {int(comp[i]) for i in gi}
        if len(comps) > 1:
            by: dict[int, list[str]] = {}
            for i in gi:
                by.setdefault(int(comp[i]), []).append(str(ids[i]))
            parts = " | ".join(", ".join(v) for v in by.values())
            raise InfeasibleError(
                f"keep_together group ({', '.join(str(ids[i]) for i in gi)}) "
                "is not connected in the "
                f"adjacency graph (separated by barriers, subdistrict lines, distance or excluded "
                f"compounds): {parts}"
            )
        root0 = gi[0]
        _, pred = csgraph.breadth_first_order(adj, root0, directed=False, return_predecessors=True)
        for i in gi[1:]:
            j = i
            while j != root0 and j >= 0:
                kt_mask[j] = True
                parent[_find(parent, j)] = _find(parent, root0)
                j = int(pred[j])
        kt_mask[root0] = True
    root_of = np.fromiter((_find(parent, i) for i in range(n)), dtype=np.int64, count=n)
    return root_of, kt_mask


def _keep_apart_labels(
    n: int, root_of: np.ndarray, ka_groups: list[list[int]], ids: np.ndarray
) -> list[frozenset[int] | None]:
    """Keep_apart group numbers per node (None: in no group).

    Raises InfeasibleError when two members of one group share a keep_together region.
    """
    ka_label: list[frozenset[int] | None] = [None] * n
    for k, g in enumerate(ka_groups):
        gi = sorted(set(g))
        roots: dict[int, int] = {}
        for i in gi:
            r = int(root_of[i])
            if r in roots:
                raise InfeasibleError(
                    f"keep_apart group ({', '.join(str(ids[x]) for x in gi)}) conflicts with "
                    f"keep_together: {ids[roots[r]]} and {ids[i]} must end in one district"
                )
            roots[r] = i
            ka_label[i] = (ka_label[i] or frozenset()) | {k}
    return ka_label


# ---------------------------------------------------------------- growth
def _span(bb: Sequence[float]) -> float:
    """Diagonal of a bounding box (xmin, ymin, xmax, ymax), m."""
    return float(np.hypot(bb[2] - bb[0], bb[3] - bb[1]))


def _bb_union(a: Sequence[float], b: Sequence[float]) -> list[float]:
    return [min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])]


def _grow(
    n: int,
    eu: np.ndarray,
    ev: np.ndarray,
    ew: np.ndarray,
    hh: np.ndarray,
    perim: np.ndarray,
    root_of: np.ndarray,
    *,
    min_h: int,
    max_h: int,
    rank: np.ndarray,
    ka_label: list[frozenset[int] | None],
    kt_mask: np.ndarray,
    bbox: np.ndarray,
    max_span: float | None,
) -> tuple[np.ndarray, dict[str, int]]:
    """Greedy agglomeration then border moves, from the regions ``root_of`` (a node id per region)."""
    regions = _initial_regions(n, eu, ev, ew, hh, perim, root_of, ka_label=ka_label, bbox=bbox,
                               track=max_span is not None)  # fmt: skip
    rk = rank.tolist()
    span_max = float(max_span) if max_span is not None else np.inf
    n_merge = _agglomerate(regions, min_h=min_h, max_h=max_h, rk=rk, span_max=span_max)
    lab_arr = np.empty(n, dtype=np.int64)
    for r in range(n):
        if regions.alive[r]:
            lab_arr[regions.members[r]] = r
    lab_l: list[int] = lab_arr.tolist()
    n_moved = _rebalance(
        regions, lab_l, _NodeNeighbours.of(n, eu, ev, ew), hh, min_h=min_h, max_h=max_h, rk=rk,
        ka_label=ka_label, kt_mask=kt_mask, node_bb=bbox.tolist(), span_max=span_max,
    )  # fmt: skip
    return np.asarray(lab_l, dtype=np.int64), {"merges": n_merge, "moves": n_moved}


@dataclass
class _Regions:
    """Working state of the growth phases, indexed by region id (the node id of its root).

    Plain lists (the hot loops index them); :func:`_agglomerate` and
    :func:`_rebalance` update them in place.
    """

    h: list[int]  # households
    p: list[float]  # perimeter minus twice the internal facing boundary, m
    bb: list[list[float]]  # bounding box (xmin, ymin, xmax, ymax), kept only when ``track``
    members: list[list[int]]  # node ids
    apart: list[frozenset[int]]  # keep_apart groups held
    alive: list[bool]
    nb: list[dict[int, float]]  # adjacent region -> facing boundary between them, m
    track: bool  # bounding boxes are kept (only under a span limit)


@dataclass(frozen=True)
class _NodeNeighbours:
    """Node adjacency as CSR lists: neighbours of node x are ``nbr[indptr[x]:indptr[x + 1]]``."""

    indptr: list[int]
    nbr: list[int]
    nbw: list[float]  # facing boundary, m
    comp: np.ndarray  # connected component per node

    @classmethod
    def of(cls, n: int, eu: np.ndarray, ev: np.ndarray, ew: np.ndarray) -> _NodeNeighbours:
        """Build from the edge arrays (both directions, sorted by node then neighbour)."""
        src = np.concatenate([eu, ev])
        dst = np.concatenate([ev, eu])
        wts = np.concatenate([ew, ew])
        order = np.lexsort((dst, src))
        src, dst, wts = src[order], dst[order], wts[order]
        adj = sparse.csr_matrix((np.ones(len(src)), (src, dst)), shape=(n, n))
        _, comp = csgraph.connected_components(adj, directed=False)
        return cls(np.searchsorted(src, np.arange(n + 1)).tolist(), dst.tolist(), wts.tolist(), comp)


def _initial_regions(
    n: int,
    eu: np.ndarray,
    ev: np.ndarray,
    ew: np.ndarray,
    hh: np.ndarray,
    perim: np.ndarray,
    root_of: np.ndarray,
    *,
    ka_label: list[frozenset[int] | None],
    bbox: np.ndarray,
    track: bool,
) -> _Regions:
    """Regions of ``root_of`` with their households, perimeter, boxes, members and neighbours."""
    reg_bb: list[list[float]] = [[np.inf, np.inf, -np.inf, -np.inf] for _ in range(n)]
    node_bb = bbox.tolist()
    if track:
        for i, r in enumerate(root_of.tolist()):
            reg_bb[r] = _bb_union(reg_bb[r], node_bb[i])
    reg_h = np.bincount(root_of, weights=hh, minlength=n).astype(np.int64).tolist()
    internal = root_of[eu] == root_of[ev]
    p = np.bincount(root_of, weights=perim, minlength=n).astype(float)
    p = p - 2.0 * np.bincount(root_of[eu[internal]], weights=ew[internal], minlength=n)
    alive = [False] * n
    for r in set(root_of.tolist()):
        alive[r] = True
    members: list[list[int]] = [[] for _ in range(n)]
    for i, r in enumerate(root_of.tolist()):
        members[r].append(i)
    apart: list[frozenset[int]] = [frozenset()] * n
    for i, ka_set in enumerate(ka_label):
        if ka_set:
            r = int(root_of[i])
            apart[r] = apart[r] | ka_set
    nb: list[dict[int, float]] = [{} for _ in range(n)]
    ru, rv = root_of[eu], root_of[ev]
    ext = ru != rv
    for a, b, w in zip(ru[ext].tolist(), rv[ext].tolist(), ew[ext].tolist(), strict=False):
        nb[a][b] = nb[a].get(b, 0.0) + w
        nb[b][a] = nb[b].get(a, 0.0) + w
    return _Regions(reg_h, p.tolist(), reg_bb, members, apart, alive, nb, track)


# ---------------------------------------------------------------- agglomeration
def _agglomerate(
    regions: _Regions, *, min_h: int, max_h: int, rk: list[int], span_max: float
) -> int:
    """Merge adjacent regions greedily (heap with lazy invalidation); return the merge count.

    A pair is a candidate while one of the two is below ``min_h``, the merged
    total stays <= ``max_h``, no keep_apart group would be joined and the merged
    box spans at most ``span_max``; the lowest key
    ``-facing / min(perimeter) + 0.5 * households / max`` merges first (ties: ``rk``).
    """
    reg_h, reg_p, reg_bb = regions.h, regions.p, regions.bb
    members, apart, alive, nb, track = (
        regions.members, regions.apart, regions.alive, regions.nb, regions.track
    )  # fmt: skip
    n = len(reg_h)
    ver = [0] * n

    def key(r: int, s: int, w: float) -> float:
        pm = min(reg_p[r], reg_p[s])
        shared = w / pm if pm > 0 else 0.0
        return -shared + _SIZE_WEIGHT * (reg_h[r] + reg_h[s]) / max(max_h, 1)

    def eligible(r: int, s: int) -> bool:
        hr, hs = reg_h[r], reg_h[s]
        return (
            (hr < min_h or hs < min_h)
            and hr + hs <= max_h
            and not (apart[r] & apart[s])
            and (not track or _span(_bb_union(reg_bb[r], reg_bb[s])) <= span_max)
        )

    heap: list[tuple[float, int, int, int, int, int, int]] = []
    for r in range(n):
        if not alive[r]:
            continue
        for s, w in nb[r].items():
            if r < s and eligible(r, s):
                a, b = (r, s) if rk[r] < rk[s] else (s, r)
                heap.append((key(r, s, w), rk[a], rk[b], r, s, 0, 0))
    heapq.heapify(heap)
    n_merge = 0
    while heap:
        _, _, _, r, s, vr, vs = heapq.heappop(heap)
        if not (alive[r] and alive[s]) or ver[r] != vr or ver[s] != vs:
            continue
        if not eligible(r, s):
            continue
        w_rs = nb[r][s]
        keep, other = (r, s) if len(nb[r]) >= len(nb[s]) else (s, r)
        reg_h[keep] += reg_h[other]
        if track:
            reg_bb[keep] = _bb_union(reg_bb[keep], reg_bb[other])
        reg_p[keep] = reg_p[keep] + reg_p[other] - 2.0 * w_rs
        members[keep].extend(members[other])
        members[other] = []
        apart[keep] = apart[keep] | apart[other]
        alive[other] = False
        nk = nb[keep]
        del nk[other]
        for t, wt in nb[other].items():
            if t == keep:
                continue
            nt = nb[t]
            del nt[other]
            val = nk.get(t, 0.0) + wt
            nk[t] = val
            nt[keep] = val
        nb[other] = {}
        ver[keep] += 1
        n_merge += 1
        vk = ver[keep]
        for t, wt in nk.items():
            if eligible(keep, t):
                a, b = (keep, t) if rk[keep] < rk[t] else (t, keep)
                heapq.heappush(heap, (key(keep, t, wt), rk[a], rk[b], keep, t, vk, ver[t]))
    return n_merge


# ---------------------------------------------------------------- rebalancing
def _rebalance(
    regions: _Regions,
    lab_l: list[int],
    nodes: _NodeNeighbours,
    hh: np.ndarray,
    *,
    min_h: int,
    max_h: int,
    rk: list[int],
    ka_label: list[frozenset[int] | None],
    kt_mask: np.ndarray,
    node_bb: list[list[float]],
    span_max: float,
) -> int:
    """Regions below ``min_h`` take border compounds from adjacent regions; return the move count.

    Smallest region first (in a connected group of at least ``min_h``); it takes
    the neighbour node with the longest facing boundary first, as long as the
    giver stays connected and >= ``min_h`` and the receiver stays <= ``max_h``,
    within ``span_max``, and the rules (keep_together members stay, keep_apart
    groups are not joined). Updates ``regions`` and ``lab_l`` in place.
    """
    reg_h, reg_bb, members, apart, alive, track = (
        regions.h, regions.bb, regions.members, regions.apart, regions.alive, regions.track
    )  # fmt: skip
    indptr, nbr, nbw = nodes.indptr, nodes.nbr, nodes.nbw
    comp = nodes.comp
    comp_h = np.bincount(comp, weights=hh)
    small = sorted(
        (
            r
            for r in range(len(reg_h))
            if alive[r] and reg_h[r] < min_h and comp_h[comp[members[r][0]]] >= min_h
        ),
        key=lambda r: (reg_h[r], rk[r]),
    )
    hh_l = hh.tolist()
    n_moved = 0
    for r in small:
        while reg_h[r] < min_h:
            cw: dict[int, float] = {}
            for m in members[r]:
                for k in range(indptr[m], indptr[m + 1]):
                    j = nbr[k]
                    if lab_l[j] != r:
                        cw[j] = cw.get(j, 0.0) + nbw[k]
            moved = False
            for j in sorted(cw, key=lambda x: (-cw[x], rk[x])):
                s = lab_l[j]
                if kt_mask[j] or reg_h[r] + hh_l[j] > max_h or reg_h[s] - hh_l[j] < min_h:
                    continue
                if track and _span(_bb_union(reg_bb[r], node_bb[j])) > span_max:
                    continue
                kj = ka_label[j]
                if kj is not None and (kj & apart[r]):
                    continue
                if not _still_connected(members[s], s, j, lab_l, nodes):
                    continue
                members[s].remove(j)
                members[r].append(j)
                lab_l[j] = r
                reg_h[s] -= hh_l[j]
                reg_h[r] += hh_l[j]
                if track:
                    reg_bb[r] = _bb_union(reg_bb[r], node_bb[j])
                apart[r] = apart[r] | (ka_label[j] or frozenset())
                apart[s] = frozenset().union(*(ka_label[x] or frozenset() for x in members[s]))
                moved = True
                n_moved += 1
                break
            if not moved:
                break
    return n_moved


def _still_connected(
    mem: list[int], region: int, drop: int, lab_l: list[int], nodes: _NodeNeighbours
) -> bool:
    """Whether ``region`` (members ``mem``) stays connected without node ``drop``."""
    if len(mem) <= 1:
        return False
    indptr, nbr = nodes.indptr, nodes.nbr
    start = mem[0] if mem[0] != drop else mem[1]
    seen = {start}
    stack = [start]
    while stack:
        x = stack.pop()
        for k in range(indptr[x], indptr[x + 1]):
            y = nbr[k]
            if y != drop and y not in seen and lab_l[y] == region:
                seen.add(y)
                stack.append(y)
    return len(seen) == len(mem) - 1


# ---------------------------------------------------------------- split/rebalance
def _tree_split(
    nodes: np.ndarray,
    k: int,
    local: tuple[np.ndarray, np.ndarray, np.ndarray],
    hh: np.ndarray,
    *,
    min_h: int,
    max_h: int,
    rng: np.random.Generator,
    tries: int = 6,
) -> list[np.ndarray] | None:
    """Split connected ``nodes`` into ``k`` connected parts within [min_h, max_h] households.

    Recursive bisection of a spanning tree (SKATER-like): the minimum spanning
    tree over centroid distances (compact parts) is cut at the edge whose side
    is closest to a whole number of equal shares; other spanning trees (the
    distances jittered, seeded) are tried when that fails. ``local`` holds the
    edges among ``nodes`` (local index a < b, distance m; see :func:`_local_edges`).
    Returns the parts (global node ids) or None.
    """
    m = len(nodes)
    a, b, d = local
    h = hh[nodes].astype(float).tolist()
    for t in range(tries):
        w = d if t == 0 else d * rng.uniform(0.5, 1.5, len(d))
        order = np.argsort(w, kind="stable")
        parent = list(range(m))
        adj: list[list[int]] = [[] for _ in range(m)]
        n_tree = 0
        for x, y in zip(a[order].tolist(), b[order].tolist(), strict=True):
            rx, ry = _find(parent, x), _find(parent, y)
            if rx != ry:
                parent[rx] = ry
                adj[x].append(y)
                adj[y].append(x)
                n_tree += 1
                if n_tree == m - 1:
                    break
        if n_tree != m - 1:
            return None
        parts = _bisect(list(range(m)), k, adj, h, min_h=min_h, max_h=max_h)
        if parts is not None:
            return [nodes[np.asarray(p, dtype=np.int64)] for p in parts]
    return None


def _local_edges(
    nodes: np.ndarray, indptr: np.ndarray, indices: np.ndarray, scratch: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Edges among ``nodes`` of a CSR adjacency: (local a, local b, CSR position), a < b.

    ``scratch`` is an all -1 array of length n, left as it was found.
    """
    m = len(nodes)
    starts, counts = indptr[nodes], indptr[nodes + 1] - indptr[nodes]
    rows = np.repeat(np.arange(m), counts)
    pos = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
    ptr = np.repeat(starts, counts) + pos
    scratch[nodes] = np.arange(m)
    loc = scratch[indices[ptr]]
    scratch[nodes] = -1
    keep = loc > rows
    return rows[keep], loc[keep], ptr[keep]


def _bisect(
    idx: list[int], k: int, adj: list[list[int]], h: list[float], *, min_h: int, max_h: int
) -> list[list[int]] | None:
    """Cut the subtree spanned by ``idx`` into ``k`` in-band parts (None when no cut works)."""
    H = float(sum(h[i] for i in idx))
    if k == 1:
        return [idx] if min_h <= H <= max_h else None
    allowed = set(idx)
    root = idx[0]
    order = [root]
    pred = {root: -1}
    for u in order:  # breadth-first, the list grows while it is read
        for v in adj[u]:
            if v in allowed and v not in pred:
                pred[v] = u
                order.append(v)
    if len(order) != len(idx):
        return None
    w = {u: h[u] for u in order}
    for v in reversed(order[1:]):
        w[pred[v]] += w[v]
    share = H / k
    best, best_dev, best_k = -1, np.inf, 0
    for v in order[1:]:
        sv = w[v]
        k1 = min(max(round(sv / share), 1), k - 1)
        k2 = k - k1
        if k1 * min_h <= sv <= k1 * max_h and k2 * min_h <= H - sv <= k2 * max_h:
            dev = abs(sv - k1 * share)
            if dev < best_dev:
                best, best_dev, best_k = v, dev, k1
    if best < 0:
        return None
    inside = {best}
    for u in order:
        if pred[u] in inside:
            inside.add(u)
    left = _bisect([u for u in order if u in inside], best_k, adj, h, min_h=min_h, max_h=max_h)
    if left is None:
        return None
    right = _bisect([u for u in order if u not in inside], k - best_k, adj, h,
                    min_h=min_h, max_h=max_h)  # fmt: skip
    if right is None:
        return None
    return left + right


def _split(
    n: int,
    eu: np.ndarray,
    ev: np.ndarray,
    hh: np.ndarray,
    lab: np.ndarray,
    *,
    min_h: int,
    max_h: int,
    fixed: np.ndarray,
    bbox: np.ndarray,
    cxy: np.ndarray,
    max_span: float | None,
    rank: np.ndarray,
    ew: np.ndarray | None = None,
    lopsided: float = 1.5,
    max_cut_ratio: float = 1.5,
    passes: int = 2,
) -> tuple[np.ndarray, int]:
    """Split/rebalance step: re-cut out-of-band districts and lopsided pairs with their neighbours.

    A district out of band is re-partitioned together with its neighbours, and a
    lopsided pair of adjacent districts together, when that gives more in-band
    or better balanced districts.

    Candidates, in order: each district below the minimum (smallest first) with
    all its adjacent districts; then each pair of adjacent in-band districts
    whose larger holds at least ``lopsided`` times the households of the
    smaller (most lopsided first). The union (households H) is re-cut into k
    connected parts, k = H / mid-band rounded into [H / max, H / min], by
    :func:`_tree_split`. The new parts replace the old districts only when fewer
    of them are out of band, or as many (none) and the spread of households
    (largest - smallest) at least halves, and for a lopsided pair only when the
    facing boundary cut between the new parts is at most ``max_cut_ratio`` times
    the old one (compact parts); every part must stay within ``max_span``.
    Districts holding planner-rule compounds (``fixed``) are left as they are.
    """
    lab = lab.copy()
    if max_h <= 0 or n == 0:
        return lab, 0
    rng = np.random.default_rng(0)
    cut_graph = _CutGraph.of(n, eu, ev, cxy, ew)
    span_max = float(max_span) if max_span is not None else np.inf
    n_split = 0
    next_label = int(lab.max()) + 1 if n else 0
    for _ in range(passes):
        view = _RegionView.of(lab, eu, ev, hh, fixed, rank)
        touched = np.zeros(len(view.h), bool)
        changed = 0
        for group in _split_candidates(view, min_h=min_h, max_h=max_h, lopsided=lopsided):
            if len(group) < 2 or touched[group].any():
                continue
            nodes = np.concatenate([view.members[r] for r in group])
            parts = _recut(
                nodes, view.h[group], lab, cut_graph, hh, bbox, min_h=min_h, max_h=max_h,
                span_max=span_max, max_cut_ratio=max_cut_ratio, rng=rng,
            )  # fmt: skip
            if parts is None:
                continue
            for p in parts:
                lab[p] = next_label
                next_label += 1
            touched[group] = True
            changed += 1
        n_split += changed
        if not changed:
            break
    return lab, n_split


@dataclass(frozen=True)
class _CutGraph:
    """Node adjacency for re-cutting: CSR whose entries point back to the edge number."""

    indptr: np.ndarray
    indices: np.ndarray
    edge_of: np.ndarray  # edge number per CSR entry
    centroid_m: np.ndarray  # centroid distance per edge, m (never 0: kept by csgraph)
    facing_m: np.ndarray  # facing boundary per edge, m (1 per edge without ``ew``)
    scratch: np.ndarray  # all -1, length n (see :func:`_local_edges`)

    @classmethod
    def of(
        cls, n: int, eu: np.ndarray, ev: np.ndarray, cxy: np.ndarray, ew: np.ndarray | None
    ) -> _CutGraph:
        """Build from the edge arrays and node centroids ``cxy``."""
        cd = np.hypot(*(cxy[eu] - cxy[ev]).T) + 1e-3
        fw = np.ones(len(eu)) if ew is None else np.asarray(ew, dtype=float)
        # one CSR adjacency whose data is the edge number + 1 (distances and facing looked up by it)
        eid = np.arange(1, len(eu) + 1, dtype=np.float64)
        adj = sparse.csr_matrix((np.r_[eid, eid], (np.r_[eu, ev], np.r_[ev, eu])), shape=(n, n))
        return cls(
            adj.indptr.astype(np.int64), adj.indices.astype(np.int64),
            adj.data.astype(np.int64) - 1, cd, fw, np.full(n, -1, dtype=np.int64),
        )  # fmt: skip


@dataclass(frozen=True)
class _RegionView:
    """Regions of a labelling, numbered 0..nr-1 in label order, with their adjacent pairs."""

    h: np.ndarray  # households per region
    fixed: np.ndarray  # region holds a planner-rule compound
    pa: np.ndarray  # adjacent pairs (pa < pb), each once, sorted
    pb: np.ndarray
    nbrs: list[set[int]]  # adjacent regions
    members: list[np.ndarray]  # node ids per region
    rank: np.ndarray  # tie-break rank of each region's first node

    @classmethod
    def of(
        cls, lab: np.ndarray, eu: np.ndarray, ev: np.ndarray, hh: np.ndarray,
        fixed: np.ndarray, rank: np.ndarray,
    ) -> _RegionView:  # fmt: skip
        """Summarise the regions of ``lab``."""
        regions, inv = np.unique(lab, return_inverse=True)
        nr = len(regions)
        rh = np.bincount(inv, weights=hh, minlength=nr)
        rfixed = np.bincount(inv, weights=fixed.astype(float), minlength=nr) > 0
        cross = inv[eu] != inv[ev]
        ra, rb = inv[eu][cross], inv[ev][cross]
        key = np.unique(np.minimum(ra, rb).astype(np.int64) * nr + np.maximum(ra, rb))
        pa, pb = key // nr, key % nr
        nbrs: list[set[int]] = [set() for _ in range(nr)]
        for x, y in zip(pa.tolist(), pb.tolist(), strict=True):
            nbrs[x].add(y)
            nbrs[y].add(x)
        order_nodes = np.argsort(inv, kind="stable")
        bounds = np.searchsorted(inv[order_nodes], np.arange(nr + 1))
        mem = [order_nodes[bounds[r]:bounds[r + 1]] for r in range(nr)]
        rrank = np.asarray([int(rank[m[0]]) for m in mem]) if nr else np.zeros(0, int)
        return cls(rh, rfixed, pa, pb, nbrs, mem, rrank)


def _split_candidates(
    view: _RegionView, *, min_h: int, max_h: int, lopsided: float
) -> list[list[int]]:
    """Region groups to re-cut, in order: small regions with their neighbours, then lopsided pairs."""
    rh, rfixed, nbrs, rrank, pa, pb = view.h, view.fixed, view.nbrs, view.rank, view.pa, view.pb
    cands: list[list[int]] = []
    small = [r for r in range(len(rh)) if rh[r] < min_h and not rfixed[r] and nbrs[r]]
    small.sort(key=lambda r: (rh[r], rrank[r]))
    for r in small:
        cands.append([r, *sorted(x for x in nbrs[r] if not rfixed[x])])
    inb = (rh >= min_h) & (rh <= max_h) & ~rfixed
    lop = inb[pa] & inb[pb] & (np.maximum(rh[pa], rh[pb]) >= lopsided * np.minimum(rh[pa], rh[pb]))
    ratio = np.maximum(rh[pa], rh[pb]) / np.maximum(np.minimum(rh[pa], rh[pb]), 1.0)
    for j in np.lexsort((rrank[pa], -ratio))[: int(lop.sum())] if lop.any() else []:
        if lop[j]:
            cands.append([int(pa[j]), int(pb[j])])
    return cands


def _recut(
    nodes: np.ndarray,
    old_h: np.ndarray,
    lab: np.ndarray,
    graph: _CutGraph,
    hh: np.ndarray,
    bbox: np.ndarray,
    *,
    min_h: int,
    max_h: int,
    span_max: float,
    max_cut_ratio: float,
    rng: np.random.Generator,
) -> list[np.ndarray] | None:
    """Re-cut the union ``nodes`` of regions holding ``old_h``; None when the parts are not better.

    See :func:`_split` for the number of parts and when they replace the old regions.
    """
    H = float(hh[nodes].sum())
    kmin, kmax = int(np.ceil(H / max_h)), int(np.floor(H / min_h)) if min_h > 0 else len(nodes)
    if kmin > kmax or kmin > len(nodes):
        return None
    mid = (min_h + max_h) / 2.0
    k = int(min(max(round(H / mid), kmin), kmax, len(nodes)))
    old_oob = int(((old_h < min_h) | (old_h > max_h)).sum())
    # an out-of-band district is worth several spanning trees; a lopsided pair one
    la, lb, lp = _local_edges(nodes, graph.indptr, graph.indices, graph.scratch)
    le = graph.edge_of[lp]
    parts = _tree_split(nodes, k, (la, lb, graph.centroid_m[le]), hh, min_h=min_h, max_h=max_h,
                        rng=rng, tries=6 if old_oob else 1)  # fmt: skip
    if parts is None:
        return None
    new_h = np.asarray([hh[p].sum() for p in parts])
    spans = [
        _span([bbox[p, 0].min(), bbox[p, 1].min(), bbox[p, 2].max(), bbox[p, 3].max()])
        for p in parts
    ]
    if max(spans) > span_max:
        return None
    better = old_oob > 0 or (np.ptp(new_h) <= 0.5 * np.ptp(old_h))
    if not better:
        return None
    if old_oob == 0:
        part_of = np.empty(len(lab), dtype=np.int64)
        for i, part in enumerate(parts):
            part_of[part] = i
        ga, gb = nodes[la], nodes[lb]
        fw = graph.facing_m[le]
        cut_old = fw[lab[ga] != lab[gb]].sum()
        cut_new = fw[part_of[ga] != part_of[gb]].sum()
        if cut_new > max_cut_ratio * cut_old + 1e-9:
            return None
    return parts


def propose_districts(
    compounds: gpd.GeoDataFrame,
    graph: nx.Graph,
    *,
    parcels: gpd.GeoDataFrame | None = None,
    min_households: int = DEFAULT_MIN_HOUSEHOLDS,
    max_households: int = DEFAULT_MAX_HOUSEHOLDS,
    keep_together: Sequence[Sequence[str]] = (),
    keep_apart: Sequence[Sequence[str]] = (),
    min_consent: float | None = None,
    require_owners_committee: bool = False,
    built_before: int | None = None,
    seed: int = 0,
    max_span_m: float | None = None,
    split: bool = True,
) -> DistrictResult:
    """Propose renovation districts of adjacent compounds.

    Parameters
    ----------
    compounds : GeoDataFrame
        Canonical compounds layer (``compound_id``, ``households``, optional
        ``buildings``, ``floor_area_m2``, ``population``, ``subdistrict``,
        ``consent``, ``owners_committee``, ``built_year``), projected metric CRS.
    graph : networkx.Graph
        Adjacency graph from :func:`renogis.adjacency.build_adjacency` built on
        the same compounds (and parcels).
    parcels : GeoDataFrame, optional
        Idle parcels; each joins the district of the adjacent included compound
        with the longest wall (ties: smallest compound id). Without it, parcel
        nodes of the graph are used with their ``area_m2`` node attribute.
    min_households, max_households : int
        Household bounds per district (defaults 1,500-4,000: 5-minute life
        circle, GB 50180-2018 table 3.0.4, RECALL).
    keep_together : sequence of sequences of str
        Groups of compound ids that must end in one district.
    keep_apart : sequence of sequences of str
        Groups of compound ids no two of which may share a district.
    min_consent : float, optional
        Exclude compounds whose residents' consent share (0-1) is below this;
        unknown consent is excluded ("consent unknown").
    require_owners_committee : bool
        Exclude compounds whose ``owners_committee`` is not True.
    built_before : int, optional
        Exclude compounds with ``built_year >= built_before`` (or unknown).
    seed : int
        Seed for the tie-break order of equal merge keys.
    max_span_m : float, optional
        Largest district extent (diagonal of its bounding box), m; default no limit.
    split : bool
        Run the split/rebalance step (default True; False gives the growth
        result alone, for comparison).

    Returns
    -------
    DistrictResult
        ``districts`` columns: ``district_id`` ("D001", ordered north to south,
        then west to east by centroid), geometry (union of member compounds),
        ``n_compounds``, ``compound_ids``, ``households``, ``buildings``,
        ``floor_area_m2``, ``population``, ``idle_area_m2`` (m2), ``parcel_ids``,
        ``wall_m`` (m of walls to open), ``subdistrict``, ``group_households``,
        ``flags`` (codes; :func:`renogis.outputs.wording.district_reasons` turns
        them and the figures into the ``reason`` sentence of the tables, in zh or en).

    Raises
    ------
    InputError
        Bad bounds, unknown ids in planner rules, compounds missing from the
        graph, or a rule set without its column.
    InfeasibleError
        A keep_together group that is not connected, has an excluded member or
        contradicts keep_apart.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from renogis.adjacency import build_adjacency
    >>> from renogis.datasets import sample_path
    >>> compounds, parcels, streets = (
    ...     gpd.read_file(sample_path(), layer=k) for k in ("compounds", "parcels", "streets"))
    >>> G = build_adjacency(compounds, parcels=parcels, streets=streets)
    >>> res = propose_districts(compounds, G, parcels=parcels, min_consent=0.67)
    >>> res.districts[["district_id", "n_compounds", "households"]].head(3)
      district_id  n_compounds  households
    0        D001            4         294
    1        D002            9        1063
    2        D003           14        1879
    >>> res.districts["flags"].tolist()
    ['below_min', 'below_min', '', 'below_min', 'below_min']
    """
    ids, kt, ka = _checked_inputs(
        compounds, graph, min_households=min_households, max_households=max_households,
        keep_together=keep_together, keep_apart=keep_apart, max_span_m=max_span_m,
    )  # fmt: skip
    reasons = _exclusions(compounds, min_consent=min_consent, built_before=built_before,
                          require_owners_committee=require_owners_committee)  # fmt: skip
    excluded = reasons.notna().to_numpy()
    _check_keep_together_included(kt, pd.Index(ids), excluded, reasons)

    inc = _included_nodes(compounds, ids, excluded)
    n, inc_index = len(inc.pos), pd.Index(inc.ids)
    edges = _included_edges(graph, inc_index)
    rng = np.random.default_rng(seed)
    rank = rng.permutation(n) if seed else np.arange(n)
    kt_local = [[int(inc_index.get_loc(x)) for x in g] for g in kt]
    ka_local = [[int(inc_index.get_loc(x)) for x in g if x in inc_index] for g in ka]
    lab, kt_mask, stats = _partition(
        n, edges.u, edges.v, edges.facing_m, inc.households, shapely.length(inc.geoms),
        min_h=int(min_households), max_h=int(max_households),
        kt_groups=kt_local, ka_groups=ka_local, rank=rank, ids=inc.ids,
        soft=edges.soft, bbox=inc.bbox, cxy=inc.cxy, max_span=max_span_m, split=split,
    )  # fmt: skip

    numbering = _Numbering.of(inc.geoms, lab)
    p_ids, p_area, p_to_region = _assign_parcels(graph, parcels, inc_index, lab, numbering.dl)
    districts, walls = _district_table(
        compounds.iloc[inc.pos], inc.ids, inc.households, edges, lab, numbering, kt_mask=kt_mask,
        ka_local=ka_local, parcel_totals=_parcel_totals(p_ids, p_area, p_to_region, numbering.nd),
        min_households=min_households, max_households=max_households, crs=compounds.crs,
    )  # fmt: skip
    out_c = _compounds_out(compounds, inc.pos, numbering.node_did, reasons)
    out_p = None if parcels is None else _parcels_out(parcels, p_ids, p_to_region, numbering)

    params: dict[str, Any] = {
        "min_households": int(min_households),
        "max_households": int(max_households),
        "keep_together": [list(g) for g in kt],
        "keep_apart": [list(g) for g in ka],
        "min_consent": min_consent,
        "require_owners_committee": bool(require_owners_committee),
        "built_before": built_before,
        "seed": int(seed),
        "max_span_m": max_span_m,
        "soft_barrier_classes": list(graph.graph.get("soft_barrier_classes", ())),
        "split": bool(split),
        "steps": stats,
        "gap_m": graph.graph.get("gap_m"),
        "n_compounds": len(ids),
        "n_excluded": int(excluded.sum()),
        "n_districts": numbering.nd,
    }
    d_h = districts[HOUSEHOLDS].to_numpy()
    logger.info(
        "districting: %d compounds (%d excluded) -> %d districts (%d below_min, %d above_max)",
        len(ids), int(excluded.sum()), numbering.nd, int((d_h < min_households).sum()),
        int((d_h > max_households).sum()),
    )  # fmt: skip
    return DistrictResult(
        districts=districts, compounds=out_c, parameters=params, parcels=out_p, walls=walls
    )


# ---------------------------------------------------------------- inputs
def _checked_inputs(
    compounds: gpd.GeoDataFrame,
    graph: nx.Graph,
    *,
    min_households: int,
    max_households: int,
    keep_together: Sequence[Sequence[str]],
    keep_apart: Sequence[Sequence[str]],
    max_span_m: float | None,
) -> tuple[np.ndarray, list[list[str]], list[list[str]]]:
    """Check bounds, ids, planner rules and the graph; return (ids, keep_together, keep_apart)."""
    if max_span_m is not None and not (np.isfinite(max_span_m) and max_span_m > 0):
        raise InputError(f"max_span_m must be a number > 0 (m), got {max_span_m!r}")
    if min_households < 0 or max_households < min_households:
        raise InputError(
            f"household bounds must satisfy 0 <= min_households <= max_households, "
            f"got {min_households} and {max_households}"
        )
    for col in (COMPOUND_ID, HOUSEHOLDS):
        if col not in compounds.columns:
            raise InputError(f"compounds have no {col!r} column")
    ids = compounds[COMPOUND_ID].astype(str).to_numpy(dtype=object)
    id_index = pd.Index(ids)
    if id_index.has_duplicates:
        dup = id_index[id_index.duplicated()].unique()
        raise InputError(f"compounds: duplicate compound_id values: {', '.join(dup[:10])}")
    kt = _groups(keep_together, "keep_together", id_index)
    ka = _groups(keep_apart, "keep_apart", id_index)
    missing = [i for i in ids if i not in graph]
    if missing:
        raise InputError(
            f"compounds not in the adjacency graph: {', '.join(missing[:10])}"
            f"{' ...' if len(missing) > 10 else ''}; build the graph from the same compounds"
        )
    return ids, kt, ka


def _check_keep_together_included(
    kt: list[list[str]], id_index: pd.Index, excluded: np.ndarray, reasons: pd.Series
) -> None:
    """Raise InfeasibleError when a keep_together group has an excluded member."""
    for g in kt:
        bad = [x for x in g if excluded[id_index.get_loc(x)]]
        if bad:
            why = "; ".join(f"{x} ({reasons.iloc[id_index.get_loc(x)]})" for x in bad)
            raise InfeasibleError(
                f"keep_together group ({', '.join(g)}) has excluded members: {why}; "
                "drop them from the group or relax the exclusion rule"
            )


@dataclass(frozen=True)
class _Nodes:
    """The included compounds (not excluded by a rule), as node positions 0..n-1."""

    pos: np.ndarray  # row position in the compounds layer
    ids: np.ndarray  # compound ids
    households: np.ndarray  # float
    geoms: np.ndarray
    bbox: np.ndarray  # (n, 4) bounds, m
    cxy: np.ndarray  # (n, 2) centroids, m


def _included_nodes(compounds: gpd.GeoDataFrame, ids: np.ndarray, excluded: np.ndarray) -> _Nodes:
    """Positions, ids, households, geometries, boxes and centroids of the included compounds."""
    inc_pos = np.flatnonzero(~excluded)
    n = len(inc_pos)
    hh = (
        pd.to_numeric(compounds[HOUSEHOLDS], errors="coerce")
        .fillna(0)
        .to_numpy()[inc_pos]
        .astype(float)
    )
    inc_geoms = np.asarray(compounds.geometry.array, dtype=object)[inc_pos]
    bbox = shapely.bounds(inc_geoms).reshape(-1, 4) if n else np.zeros((0, 4))
    cent = shapely.centroid(inc_geoms)
    cxy = np.c_[shapely.get_x(cent), shapely.get_y(cent)] if n else np.zeros((0, 2))
    return _Nodes(inc_pos, ids[inc_pos], hh, inc_geoms, bbox, cxy)


@dataclass(frozen=True)
class _Edges:
    """Graph edges among the included compounds, as node positions 0..n-1."""

    u: np.ndarray
    v: np.ndarray
    facing_m: np.ndarray  # facing boundary (the merge order's compactness), m
    wall_m: np.ndarray  # walls to open (no street between), m
    soft: np.ndarray  # the link crosses a soft-barrier street


def _included_edges(graph: nx.Graph, inc_index: pd.Index) -> _Edges:
    """Edges of ``graph`` whose two ends are included compounds (parcel links drop out)."""
    # the merge order uses the facing boundary (compactness), the district's walls to open only
    # the walls (no street between)
    edges = list(graph.edges(data=True))
    e_u = np.asarray([e[0] for e in edges], dtype=object)
    e_v = np.asarray([e[1] for e in edges], dtype=object)
    e_wall = np.asarray([float(e[2].get(EDGE_WALL_M, 0.0)) for e in edges], dtype=float)
    e_soft = np.asarray([bool(e[2].get(EDGE_SOFT_BARRIER, False)) for e in edges], dtype=bool)
    e_face = np.asarray(
        [float(e[2].get(EDGE_FACING_M, e[2].get(EDGE_WALL_M, 0.0))) for e in edges], dtype=float
    )
    iu = inc_index.get_indexer(e_u)
    iv = inc_index.get_indexer(e_v)
    cc = (iu >= 0) & (iv >= 0)
    return _Edges(
        iu[cc].astype(np.int64), iv[cc].astype(np.int64), e_face[cc], e_wall[cc], e_soft[cc]
    )


# ---------------------------------------------------------------- districts table
@dataclass(frozen=True)
class _Numbering:
    """District geometry and ids: "D001"... north to south, then west to east, by centroid."""

    dl: np.ndarray  # district position (0..nd-1, in label order) per included compound
    geom: np.ndarray  # union of member compounds per position
    order: np.ndarray  # positions in output (id) order
    pos_of: np.ndarray  # output rank per position
    ids: np.ndarray  # district id per output rank

    @property
    def nd(self) -> int:
        """Number of districts."""
        return len(self.geom)

    @property
    def node_did(self) -> np.ndarray:
        """District id per included compound."""
        return self.ids[self.pos_of[self.dl]]

    @classmethod
    def of(cls, geoms: np.ndarray, lab: np.ndarray) -> _Numbering:
        """Union the member geometries of each label and number the districts."""
        regions, dl = np.unique(lab, return_inverse=True)
        nd = len(regions)
        d_geom = np.asarray([None] * nd if nd == 0 else _union_by(geoms, dl, nd), dtype=object)
        cent = shapely.centroid(d_geom) if nd else np.empty(0, dtype=object)
        cx, cy = shapely.get_x(cent), shapely.get_y(cent)
        order = np.lexsort((np.round(cx, 3), -np.round(cy, 3)))
        pos_of = np.empty(nd, dtype=np.int64)
        pos_of[order] = np.arange(nd)
        width = max(3, len(str(nd)))
        d_ids = np.asarray([f"D{k + 1:0{width}d}" for k in range(nd)], dtype=object)
        return cls(dl, d_geom, order, pos_of, d_ids)


def _district_table(
    inc: pd.DataFrame,
    inc_ids: np.ndarray,
    hh: np.ndarray,
    edges: _Edges,
    lab: np.ndarray,
    numbering: _Numbering,
    *,
    kt_mask: np.ndarray,
    ka_local: list[list[int]],
    parcel_totals: tuple[np.ndarray, list[str]],
    min_households: int,
    max_households: int,
    crs: Any,
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """One row per district in id order (see :func:`propose_districts`), and the walls to open."""
    dl, nd, eu, ev = numbering.dl, numbering.nd, edges.u, edges.v
    d_h = np.bincount(dl, weights=hh, minlength=nd).astype(np.int64)
    d_n = np.bincount(dl, minlength=nd)
    same = lab[eu] == lab[ev]
    d_wall = np.bincount(dl[eu[same]], weights=edges.wall_m[same], minlength=nd)
    walls = _walls_table(
        inc_ids, eu[same], ev[same], edges.wall_m[same], numbering.node_did[eu[same]]
    )
    d_gh = _group_households(len(hh), edges, hh, dl)
    member_ids = pd.Series(inc_ids).groupby(dl).agg(",".join).reindex(range(nd)).to_numpy()
    kt_any = np.bincount(dl, weights=kt_mask.astype(float), minlength=nd) > 0
    ka_nodes = np.zeros(len(hh), bool)
    for g_loc in ka_local:
        if len(g_loc) > 1:
            ka_nodes[g_loc] = True
    ka_any = np.bincount(dl, weights=ka_nodes.astype(float), minlength=nd) > 0
    soft_in = edges.soft & same
    soft_any = np.bincount(dl[eu[soft_in]], minlength=nd) > 0 if nd else np.zeros(0, bool)
    d_idle, d_pids = parcel_totals
    flags = _flags(d_h, kt_any, ka_any, soft_any, min_households, max_households)
    districts = gpd.GeoDataFrame(
        {
            DISTRICT_ID: numbering.ids[numbering.pos_of],
            N_COMPOUNDS: d_n,
            COMPOUND_IDS: member_ids,
            HOUSEHOLDS: d_h,
            BUILDINGS: _sum_by(inc, BUILDINGS, dl, nd),
            FLOOR_AREA_M2: _sum_by(inc, FLOOR_AREA_M2, dl, nd),
            POPULATION: _sum_by(inc, POPULATION, dl, nd),
            IDLE_AREA_M2: d_idle,
            PARCEL_IDS: [",".join(sorted(p)) for p in d_pids],
            WALL_M: np.round(d_wall, 3),
            SUBDISTRICT: _subdistricts(inc, dl, nd),
            GROUP_HOUSEHOLDS: np.asarray(d_gh, dtype=np.int64),
            FLAGS: flags,
        },
        geometry=gpd.GeoSeries(numbering.geom, crs=crs),
        crs=crs,
    )
    return districts.iloc[numbering.order].reset_index(drop=True), walls


def _group_households(n: int, edges: _Edges, hh: np.ndarray, dl: np.ndarray) -> np.ndarray:
    """Households of the connected group (component of the included graph) of each district."""
    adj = sparse.csr_matrix((np.ones(len(edges.u)), (edges.u, edges.v)), shape=(n, n))
    _, comp = csgraph.connected_components(adj, directed=False)
    comp_h = np.bincount(comp, weights=hh, minlength=int(comp.max()) + 1 if n else 0)
    return comp_h[comp[np.unique(dl, return_index=True)[1]]] if n else np.empty(0)


def _sum_by(inc: pd.DataFrame, col: str, dl: np.ndarray, nd: int) -> np.ndarray:
    """Sum of a numeric column per district (NaN where no member has a value)."""
    if col not in inc.columns:
        return np.full(nd, np.nan)
    v = pd.to_numeric(inc[col], errors="coerce").to_numpy(dtype=float)
    s = np.bincount(dl, weights=np.nan_to_num(v), minlength=nd)
    any_ = np.bincount(dl, weights=np.isfinite(v).astype(float), minlength=nd) > 0
    return np.where(any_, s, np.nan)


def _subdistricts(inc: pd.DataFrame, dl: np.ndarray, nd: int) -> np.ndarray:
    """Comma-joined sorted subdistricts per district (None when no member has one)."""
    if SUBDISTRICT not in inc.columns:
        return np.full(nd, None, dtype=object)
    sd = inc[SUBDISTRICT].to_numpy(dtype=object)
    sd[pd.isna(sd)] = None
    return (
        pd.Series(sd, dtype=object).groupby(dl)
        .agg(lambda s: ",".join(sorted({str(x) for x in s if x is not None})))
        .reindex(range(nd)).replace("", None).to_numpy()
    )  # fmt: skip


# ---------------------------------------------------------------- parcels
def _parcel_totals(
    p_ids: list[str], p_area: list[float], p_to_region: list[int], nd: int
) -> tuple[np.ndarray, list[list[str]]]:
    """Idle area (m2) and parcel ids per district position."""
    d_idle = np.zeros(nd)
    d_pids: list[list[str]] = [[] for _ in range(nd)]
    for pid, area, r in zip(p_ids, p_area, p_to_region, strict=False):
        if r >= 0:
            d_idle[r] += area
            d_pids[r].append(pid)
    return d_idle, d_pids


# ---------------------------------------------------------------- outputs
def _compounds_out(
    compounds: gpd.GeoDataFrame, inc_pos: np.ndarray, node_did: np.ndarray, reasons: pd.Series
) -> gpd.GeoDataFrame:
    """Copy the compounds, adding ``district_id`` (None when excluded) and ``excluded_reason``."""
    out_c = compounds.copy()
    did = np.full(len(compounds), None, dtype=object)
    did[inc_pos] = node_did
    out_c[DISTRICT_ID] = pd.Series(did, index=out_c.index, dtype=object)
    out_c[EXCLUDED_REASON] = pd.Series(
        reasons.to_numpy(dtype=object), index=out_c.index, dtype=object
    )
    return out_c


def _parcels_out(
    parcels: gpd.GeoDataFrame, p_ids: list[str], p_to_region: list[int], numbering: _Numbering
) -> gpd.GeoDataFrame:
    """Copy the parcels, adding ``district_id`` (None when no district touches them)."""
    out_p = parcels.copy()
    p_did = [numbering.ids[numbering.pos_of[r]] if r >= 0 else None for r in p_to_region]
    pmap = dict(zip(p_ids, p_did, strict=True))
    out_p[DISTRICT_ID] = pd.Series(
        [pmap.get(str(x)) for x in parcels[PARCEL_ID].astype(str)],
        index=out_p.index,
        dtype=object,
    )
    return out_p


def _walls_table(
    ids: np.ndarray, eu: np.ndarray, ev: np.ndarray, wall_m: np.ndarray, did: np.ndarray
) -> pd.DataFrame:
    """One row per wall to open (wall_m > 0) between two compounds of one district."""
    a = ids[eu].astype(str) if len(eu) else np.empty(0, dtype=object)
    b = ids[ev].astype(str) if len(ev) else np.empty(0, dtype=object)
    swap = a > b
    a, b = np.where(swap, b, a), np.where(swap, a, b)
    df = pd.DataFrame(
        {
            DISTRICT_ID: pd.Series(did, dtype=object),
            WALL_COMPOUND_A: pd.Series(a, dtype=object),
            WALL_COMPOUND_B: pd.Series(b, dtype=object),
            WALL_M: np.round(np.asarray(wall_m, dtype=float), 3),
        }
    )
    df = df[df[WALL_M] > 0]
    df = df.sort_values(
        [DISTRICT_ID, WALL_M, WALL_COMPOUND_A, WALL_COMPOUND_B], ascending=[True, False, True, True]
    )
    return df.reset_index(drop=True)


def _union_by(geoms: np.ndarray, labels: np.ndarray, n: int) -> list[Any]:
    """Union of geometries per label 0..n-1 (sorted once, one union_all per group)."""
    order = np.argsort(labels, kind="stable")
    bounds = np.searchsorted(labels[order], np.arange(n + 1))
    g = geoms[order]
    out = []
    for k in range(n):
        a, b = bounds[k], bounds[k + 1]
        out.append(g[a] if b - a == 1 else shapely.union_all(g[a:b]))
    return out


def _assign_parcels(
    graph: nx.Graph,
    parcels: gpd.GeoDataFrame | None,
    inc_index: pd.Index,
    lab: np.ndarray,
    dl: np.ndarray,
) -> tuple[list[str], list[float], list[int]]:
    """Parcel ids, areas (m2) and district position (-1: none) per parcel."""
    if parcels is not None and not parcels.empty:
        if PARCEL_ID not in parcels.columns:
            raise InputError(f"parcels have no {PARCEL_ID!r} column")
        pids = parcels[PARCEL_ID].astype(str).tolist()
        if AREA_M2 in parcels.columns:
            area = pd.to_numeric(parcels[AREA_M2], errors="coerce").to_numpy(dtype=float)
            area = np.where(np.isfinite(area), area, shapely.area(parcels.geometry.array))
        else:
            area = shapely.area(np.asarray(parcels.geometry.array, dtype=object))
        area_l = area.tolist()
    elif parcels is None:
        pids = [k for k, d in graph.nodes(data=NODE_KIND) if d == KIND_PARCEL]
        area_l = [float(graph.nodes[k].get(NODE_AREA_M2, 0.0)) for k in pids]
    else:
        return [], [], []
    pos = dict(zip(inc_index, range(len(inc_index)), strict=False))
    rows = []
    for pid in pids:
        if pid not in graph:
            continue
        for nbr, w in graph.adj[pid].items():
            j = pos.get(nbr, -1)
            if j >= 0:
                rows.append((pid, nbr, float(w.get(EDGE_WALL_M, 0.0)), j))
    best: dict[str, int] = {}
    if rows:
        df = pd.DataFrame(rows, columns=["p", "c", "w", "j"])
        df = df.sort_values(["p", "w", "c"], ascending=[True, False, True]).drop_duplicates("p")
        best = dict(zip(df["p"], df["j"].astype(int), strict=False))
    to_region = [int(dl[best[p]]) if p in best else -1 for p in pids]
    return pids, area_l, to_region


# ---------------------------------------------------------------- flags
def _flags(
    d_h: np.ndarray,
    kt_any: np.ndarray,
    ka_any: np.ndarray,
    soft_any: np.ndarray,
    min_h: int,
    max_h: int,
) -> list[str]:
    """The flag codes of every district (";"-joined); their words are in renogis.outputs.wording."""
    flags: list[str] = []
    for h, kt, ka, soft in zip(d_h.tolist(), kt_any, ka_any, soft_any.tolist(), strict=False):
        f: list[str] = []
        if h < min_h:
            f.append(FLAG_BELOW_MIN)
        elif h > max_h:
            f.append(FLAG_ABOVE_MAX)
        if kt:
            f.append(FLAG_KEEP_TOGETHER)
        if ka:
            f.append(FLAG_KEEP_APART)
        if soft:
            f.append(FLAG_SOFT_BARRIER)
        flags.append(";".join(f))
    return flags
