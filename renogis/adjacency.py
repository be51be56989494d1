"""Compound adjacency graph: shared walls, lanes, barriers and subdistrict lines.

The graph is built once (:func:`build_adjacency`) and passed on to the
districting stage. Nodes are compounds and idle parcels keyed by their id
string; an edge joins two of them whose boundaries come within ``gap_m`` and
whose nearest-point link crosses no barrier.

Definitions
-----------
gap_m (edge)
    Shortest distance between the two boundaries, m (0 for touching compounds).
facing_m (edge)
    Length of facing boundary, m, whatever lies between. For each side, the
    length of its boundary lying within ``gap + wall_tolerance_m`` of the other
    side's boundary is measured (exactly, segment by segment, no buffering);
    the two lengths are averaged and ``2 * wall_tolerance_m``
    is subtracted (the two short "tails" where the band meets the perpendicular
    walls at the ends), floored at 0. The result is exact for parallel facing
    walls with right-angled corners (two touching 100 m squares give 100.0, two
    squares touching only at a corner give 0.0) and an estimate otherwise
    (walls diverging by more than the tolerance are under-counted). The
    districting stage uses it for compactness.
wall_m (edge)
    Length of the wall that would be opened (拆墙互通), m: the facing boundary
    with no street of any class (tunnels excepted) between the two sides. Each
    facing piece's strip to the other side is intersected with the streets, and
    the part of the boundary under a street is street frontage, not wall: two
    compounds across a public street (of any class) share no wall, a lane inside
    a block (no street line in it) counts in full, and a footpath crossing the
    lane from gate to gate takes (almost) nothing off. Measured like
    ``facing_m`` (same band, same tails), so ``wall_m <= facing_m``.
street_between (edge)
    True when a street that is not a barrier (class not in ``barrier_classes``,
    or a tunnel) intersects the nearest-point link.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import shapely
from shapely import STRtree

from renogis._checks import unique_ids
from renogis._errors import CRSError, InputError
from renogis.config import GAP_M
from renogis.schema import (
    AREA_M2,
    COMPOUND_ID,
    COMPOUNDS,
    HOUSEHOLDS,
    PARCEL_ID,
    PARCELS,
    STREET_CLASS,
    SUBDISTRICT,
    TUNNEL,
)

logger = logging.getLogger(__name__)

__all__ = [
    "build_adjacency",
    "NODE_KIND",
    "KIND_COMPOUND",
    "KIND_PARCEL",
    "EDGE_GAP_M",
    "EDGE_WALL_M",
    "EDGE_FACING_M",
    "EDGE_SOFT_BARRIER",
    "EDGE_STREET_BETWEEN",
    "NODE_PERIMETER_M",
    "NODE_AREA_M2",
]

#: Node attribute: ``"compound"`` or ``"parcel"``.
NODE_KIND = "kind"
KIND_COMPOUND = "compound"
KIND_PARCEL = "parcel"
#: Node attribute: footprint area (compounds) or land area (parcels), m2.
NODE_AREA_M2 = AREA_M2
#: Node attribute: footprint perimeter, m.
NODE_PERIMETER_M = "perimeter_m"
#: Edge attribute: shortest distance between the two boundaries, m.
EDGE_GAP_M = "gap_m"
#: Edge attribute: length of wall to open, m: facing boundary with no street between (see module docstring).
EDGE_WALL_M = "wall_m"
#: Edge attribute: length of facing boundary whatever lies between, m (see module docstring).
EDGE_FACING_M = "facing_m"
#: Edge attribute: a non-barrier street crosses the nearest-point link.
EDGE_STREET_BETWEEN = "street_between"
#: Edge attribute (only on such edges): a street of a soft-barrier class crosses the link;
#: districting crosses it only when no in-band district is possible otherwise.
EDGE_SOFT_BARRIER = "soft_barrier"


#: Half-width of the strip between two facing walls that is tested against streets, m
#: (so that a street drawn on the shared boundary of two touching compounds is found).
_STRIP_EPS_M = 0.5


def _check_crs(layer: gpd.GeoDataFrame | None, name: str, ref: gpd.GeoDataFrame) -> None:
    if layer is None or layer.empty:
        return
    if layer.crs is None:
        raise CRSError(
            f"layer {name!r} has no CRS; set one (e.g. EPSG:4548) before build_adjacency"
        )
    if ref.crs is not None and not layer.crs.equals(ref.crs):
        raise CRSError(
            f"layer {name!r} is in {layer.crs.to_string()} but compounds are in "
            f"{ref.crs.to_string()}; reproject every layer to one metric CRS first"
        )


def _geoms(layer: gpd.GeoDataFrame | None) -> np.ndarray:
    if layer is None or layer.empty:
        return np.empty(0, dtype=object)
    g = np.asarray(layer.geometry.array, dtype=object)
    return g[~(shapely.is_missing(g) | shapely.is_empty(g))]


def _segments(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Straight boundary segments (start, end, geometry index) of polygons."""
    parts, gidx = shapely.get_parts(geoms, return_index=True)
    rings, pidx = shapely.get_rings(parts, return_index=True)
    ring_geom = gidx[pidx]
    coords, cidx = shapely.get_coordinates(rings, return_index=True)
    ok = cidx[:-1] == cidx[1:]
    p0 = coords[:-1][ok]
    p1 = coords[1:][ok]
    g = ring_geom[cidx[:-1][ok]]
    nz = np.any(p0 != p1, axis=1)
    return p0[nz], p1[nz], g[nz]


def _capsule_interval(
    p0: np.ndarray, p1: np.ndarray, q0: np.ndarray, q1: np.ndarray, r: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Parameter interval [lo, hi] of segment p0-p1 within r of segment q0-q1 (empty: lo > hi)."""
    d = p1 - p0
    a = np.einsum("ij,ij->i", d, d)
    lo = np.full(len(p0), np.inf)
    hi = np.full(len(p0), -np.inf)
    # end disks
    for q in (q0, q1):
        w = p0 - q
        b = 2.0 * np.einsum("ij,ij->i", d, w)
        c = np.einsum("ij,ij->i", w, w) - r * r
        disc = b * b - 4 * a * c
        ok = disc >= 0
        sq = np.sqrt(np.where(ok, disc, 0.0))
        u1 = (-b - sq) / (2 * a)
        u2 = (-b + sq) / (2 * a)
        u1 = np.maximum(u1, 0.0)
        u2 = np.minimum(u2, 1.0)
        ok &= u1 <= u2
        lo = np.where(ok, np.minimum(lo, u1), lo)
        hi = np.where(ok, np.maximum(hi, u2), hi)
    # strip: |n.(p-q0)| <= r and 0 <= t.(p-q0) <= L
    e = q1 - q0
    L = np.sqrt(np.einsum("ij,ij->i", e, e))
    good = L > 0
    Ls = np.where(good, L, 1.0)
    t = e / Ls[:, None]
    nv = np.c_[-t[:, 1], t[:, 0]]
    w = p0 - q0
    ulo = np.zeros(len(p0))
    uhi = np.ones(len(p0))
    # each constraint: f0 + u*df within [fmin, fmax]
    for f0, df, fmin, fmax in (
        (np.einsum("ij,ij->i", nv, w), np.einsum("ij,ij->i", nv, d), -r, r),
        (np.einsum("ij,ij->i", t, w), np.einsum("ij,ij->i", t, d), 0.0, L),
    ):
        with np.errstate(divide="ignore", invalid="ignore"):
            ua = (fmin - f0) / df
            ub = (fmax - f0) / df
        flat = df == 0
        inside = (f0 >= fmin) & (f0 <= fmax)
        u_lo = np.where(flat, np.where(inside, 0.0, np.inf), np.minimum(ua, ub))
        u_hi = np.where(flat, np.where(inside, 1.0, -np.inf), np.maximum(ua, ub))
        ulo = np.maximum(ulo, u_lo)
        uhi = np.minimum(uhi, u_hi)
    ok = good & (ulo <= uhi)
    lo = np.where(ok, np.minimum(lo, ulo), lo)
    hi = np.where(ok, np.maximum(hi, uhi), hi)
    return lo, hi


def _envelopes(lo_xy: np.ndarray, hi_xy: np.ndarray) -> np.ndarray:
    """Build stand-ins for boxes in STRtree envelope queries: the boxes' diagonals.

    Same envelopes, about twice as fast to build as polygons. Only for queries
    without a predicate.
    """
    return shapely.linestrings(np.stack([lo_xy, hi_xy], axis=1))


def _union_length(key: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per group ``key``: the length of the union of the intervals [lo, hi] (any units).

    Returns the sorted unique keys and the union length of each (vectorised sweep).
    """
    if len(key) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    o = np.lexsort((lo, key))
    key, lo, hi = key[o], lo[o], hi[o]
    start = np.r_[True, key[1:] != key[:-1]]
    gid = np.cumsum(start) - 1
    # offset groups so that one running maximum serves every group (intervals lie in [0, 1])
    off = 2.0 * gid
    hi_o = hi + off
    runmax = np.maximum.accumulate(hi_o)
    prev = np.where(start, -np.inf, np.r_[-np.inf, runmax[:-1]])
    add = np.maximum(0.0, hi_o - np.maximum(lo + off, prev))
    return key[start], np.bincount(gid, weights=add)


def _street_blocked(
    p0: np.ndarray,
    p1: np.ndarray,
    sa: np.ndarray,
    sb: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    streets: np.ndarray,
    *,
    eps: float = _STRIP_EPS_M,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Parts of facing intervals that a street separates from the facing segment.

    For each facing interval (segment ``sa`` over [lo, hi], facing segment ``sb``)
    the strip between the interval and its nearest points on ``sb`` (widened by
    ``eps`` on both sides so that touching walls give a strip too) is intersected
    with the streets; the part of the interval under a street's projection onto
    ``sa`` is street frontage, not wall. A street running along a lane blocks the
    whole lane; a path crossing the lane from one gate to the other blocks
    (almost) nothing.

    Candidate street pieces are found per boundary segment (one envelope around
    all its strips, STRtree), then clipped exactly per interval (numpy,
    Liang-Barsky on the strip's four sides).

    Returns (interval index, blocked lo, blocked hi), parameters on segment ``sa``.
    """
    empty = (np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0))
    if len(streets) == 0 or len(sa) == 0:
        return empty
    strips = _Strips.of(p0, p1, sa, sb, lo, hi, eps=eps)
    # long unsplit street lines (OSM ways) become their straight pieces
    xy, which = shapely.get_coordinates(shapely.get_parts(streets), return_index=True)
    same = which[:-1] == which[1:]
    s0, s1 = xy[:-1][same], xy[1:][same]
    k_idx, s_idx = _street_contacts(strips, sa, s0, s1)
    if len(k_idx) == 0:
        return empty
    return _clip_to_strips(strips, k_idx, s_idx, s0, s1, lo, hi, eps=eps)


@dataclass(frozen=True)
class _Strips:
    """The strip of each facing interval in the local frame of its segment ``sa``.

    ``u`` runs along the segment (its parameter), ``t`` across it (m, towards
    the facing segment ``sb``); the strip's far side runs from ``tq_lo`` at
    ``u = lo`` to ``tq_hi`` at ``u = hi``.
    """

    a0: np.ndarray  # (k, 2) start of segment sa
    d: np.ndarray  # (k, 2) segment sa's vector
    ln: np.ndarray  # (k,) its length, m
    nrm: np.ndarray  # (k, 2) unit normal towards sb
    tq_lo: np.ndarray  # (k,) t of the nearest point on sb at u = lo, m
    tq_hi: np.ndarray  # (k,) the same at u = hi, m
    box_lo: np.ndarray  # (k, 2) envelope of the strip widened by eps
    box_hi: np.ndarray  # (k, 2)

    @classmethod
    def of(
        cls, p0: np.ndarray, p1: np.ndarray, sa: np.ndarray, sb: np.ndarray,
        lo: np.ndarray, hi: np.ndarray, *, eps: float,
    ) -> _Strips:  # fmt: skip
        """Frame the strips of the intervals [lo, hi] of segments ``sa`` facing ``sb``."""
        a0, d = p0[sa], p1[sa] - p0[sa]
        b0, e = p0[sb], p1[sb] - p0[sb]
        dd = np.einsum("ij,ij->i", d, d)
        ee = np.einsum("ij,ij->i", e, e)
        P = np.stack([a0 + lo[:, None] * d, a0 + hi[:, None] * d], axis=1)  # (k, 2, 2)

        def nearest_on_b(pt: np.ndarray) -> np.ndarray:
            t = np.clip(np.einsum("ij,ij->i", pt - b0, e) / np.where(ee > 0, ee, 1.0), 0.0, 1.0)
            return b0 + t[:, None] * e

        Q = np.stack([nearest_on_b(P[:, 0]), nearest_on_b(P[:, 1])], axis=1)
        # local frame of segment sa: u along it (its parameter), t across it (m, towards sb)
        ln = np.sqrt(dd)
        nrm = np.c_[-d[:, 1], d[:, 0]] / np.where(ln > 0, ln, 1.0)[:, None]
        towards = np.einsum("ij,ij->i", Q.mean(axis=1) - P.mean(axis=1), nrm)
        nrm = np.where((towards < 0)[:, None], -nrm, nrm)
        tq_lo = np.maximum(np.einsum("ij,ij->i", Q[:, 0] - a0, nrm), 0.0)
        tq_hi = np.maximum(np.einsum("ij,ij->i", Q[:, 1] - a0, nrm), 0.0)
        # envelope of each strip (tight: a touching pair's strips are 2 * eps wide)
        box_lo = np.minimum(P.min(axis=1), Q.min(axis=1)) - eps
        box_hi = np.maximum(P.max(axis=1), Q.max(axis=1)) + eps
        return cls(a0, d, ln, nrm, tq_lo, tq_hi, box_lo, box_hi)


def _street_contacts(
    strips: _Strips, sa: np.ndarray, s0: np.ndarray, s1: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Candidate (interval, street piece) pairs whose envelopes meet.

    Street pieces are queried against one envelope per boundary segment (around
    all its strips, STRtree), then every interval of a hit segment is kept
    where the piece's envelope meets the interval's strip envelope.
    """
    box_lo, box_hi = strips.box_lo, strips.box_hi
    pieces = shapely.linestrings(np.stack([s0, s1], axis=1))
    order = np.argsort(sa, kind="stable")
    sa_sorted = sa[order]
    head = np.flatnonzero(np.r_[True, sa_sorted[1:] != sa_sorted[:-1]])
    segs = sa_sorted[head]
    seg_lo = np.minimum.reduceat(box_lo[order], head, axis=0)
    seg_hi = np.maximum.reduceat(box_hi[order], head, axis=0)
    # candidate (street piece, segment) pairs, then every interval of that segment
    s_cand, j = STRtree(_envelopes(seg_lo, seg_hi)).query(pieces)
    seg_cand = segs[j]
    first = np.searchsorted(sa_sorted, seg_cand, side="left")
    count = np.searchsorted(sa_sorted, seg_cand, side="right") - first
    rep_pair = np.repeat(np.arange(len(seg_cand)), count)
    within = np.arange(len(rep_pair)) - np.repeat(np.cumsum(count) - count, count)
    k_idx = order[first[rep_pair] + within]
    s_idx = s_cand[rep_pair]
    # cheap envelope test per (interval, piece) before the exact clipping
    pc_lo = np.minimum(s0, s1)
    pc_hi = np.maximum(s0, s1)
    near = (
        (pc_lo[s_idx, 0] <= box_hi[k_idx, 0])
        & (pc_hi[s_idx, 0] >= box_lo[k_idx, 0])
        & (pc_lo[s_idx, 1] <= box_hi[k_idx, 1])
        & (pc_hi[s_idx, 1] >= box_lo[k_idx, 1])
    )
    return k_idx[near], s_idx[near]


def _clip_to_strips(
    strips: _Strips,
    k_idx: np.ndarray,
    s_idx: np.ndarray,
    s0: np.ndarray,
    s1: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    *,
    eps: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Clip street piece ``s_idx`` to the strip of interval ``k_idx``: (interval, blocked lo, hi).

    Liang-Barsky on the strip's four half-planes, in the segment's (u, t) frame;
    the blocked part is the clipped piece's extent along u, within [lo, hi].
    """
    dk = strips.ln[k_idx]
    nk = strips.nrm[k_idx]
    tk = strips.d[k_idx] / np.where(dk > 0, dk, 1.0)[:, None]
    w0 = s0[s_idx] - strips.a0[k_idx]
    w1 = s1[s_idx] - strips.a0[k_idx]
    u0 = np.einsum("ij,ij->i", w0, tk) / np.where(dk > 0, dk, 1.0)
    u1 = np.einsum("ij,ij->i", w1, tk) / np.where(dk > 0, dk, 1.0)
    t0 = np.einsum("ij,ij->i", w0, nk)
    t1 = np.einsum("ij,ij->i", w1, nk)
    lk, hk = lo[k_idx], hi[k_idx]
    tq_lo, tq_hi = strips.tq_lo[k_idx], strips.tq_hi[k_idx]
    span = np.where(hk > lk, hk - lk, 1.0)
    slope = (tq_hi - tq_lo) / span
    # t <= tq_lo + slope * (u - lo) + eps  <=>  t - slope*u - (tq_lo - slope*lo + eps) <= 0
    c_top = tq_lo - slope * lk + eps
    g_lo, g_hi = np.zeros(len(k_idx)), np.ones(len(k_idx))
    for f0, df in (
        (lk - u0, -(u1 - u0)),  # u >= lo
        (u0 - hk, u1 - u0),  # u <= hi
        (-eps - t0, -(t1 - t0)),  # t >= -eps
        (t0 - slope * u0 - c_top, (t1 - t0) - slope * (u1 - u0)),  # t <= top
    ):
        with np.errstate(divide="ignore", invalid="ignore"):
            lam = -f0 / df
        flat = df == 0
        g_lo = np.where(~flat & (df < 0), np.maximum(g_lo, lam), g_lo)
        g_hi = np.where(~flat & (df > 0), np.minimum(g_hi, lam), g_hi)
        g_hi = np.where(flat & (f0 > 0), -1.0, g_hi)
    inside = g_lo <= g_hi
    ua = u0 + g_lo * (u1 - u0)
    ub = u0 + g_hi * (u1 - u0)
    blo = np.clip(np.minimum(ua, ub), lk, hk)
    bhi = np.clip(np.maximum(ua, ub), lk, hk)
    ok = inside & (bhi > blo)
    return k_idx[ok], blo[ok], bhi[ok]


def _wall_lengths(
    geoms: np.ndarray,
    left: np.ndarray,
    right: np.ndarray,
    radius: np.ndarray,
    *,
    streets: np.ndarray | None = None,
    chunk: int = 1_000_000,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Facing boundary and wall (facing minus street frontage) of each pair, both sides, m.

    Returns ``(facing_left, facing_right, wall_left, wall_right)``: the length of
    left's boundary within ``radius`` of right's boundary (and vice versa), and
    the same with the parts a street separates (:func:`_street_blocked`) taken off.

    Overlay-free: boundary segments are paired through an STRtree of their
    envelopes, the parameter interval of each segment inside the capsule of
    radius r around each facing segment is solved in closed form (numpy), and
    the intervals are united per segment.
    """
    n_pairs = len(left)
    if n_pairs == 0:
        z = np.zeros(0)
        return z, z, z, z
    p0, p1, sg = _segments(geoms)
    lines = shapely.linestrings(np.stack([p0, p1], axis=1))
    rmax = float(radius.max())
    env = _envelopes(np.minimum(p0, p1) - rmax, np.maximum(p0, p1) + rmax)
    sa, sb = STRtree(lines).query(env)
    ga, gb = sg[sa], sg[sb]
    keep = ga != gb
    sa, sb, ga, gb = sa[keep], sb[keep], ga[keep], gb[keep]
    N = np.int64(len(geoms))
    ekey = np.concatenate([left * N + right, right * N + left]).astype(np.int64)
    eslot = np.concatenate([np.arange(n_pairs) * 2, np.arange(n_pairs) * 2 + 1])
    o = np.argsort(ekey)
    ekey, eslot = ekey[o], eslot[o]
    key = ga.astype(np.int64) * N + gb
    pos = np.searchsorted(ekey, key)
    pos = np.minimum(pos, len(ekey) - 1)
    hit = ekey[pos] == key
    sa, sb, slot = sa[hit], sb[hit], eslot[pos[hit]]
    seglen = np.hypot(*(p1 - p0).T)
    lo = np.empty(len(sa))
    hi = np.empty(len(sa))
    for s in range(0, len(sa), chunk):
        e = slice(s, s + chunk)
        lo[e], hi[e] = _capsule_interval(
            p0[sa[e]], p1[sa[e]], p0[sb[e]], p1[sb[e]], radius[slot[e] // 2]
        )
    valid = lo <= hi
    sa, sb, slot, lo, hi = sa[valid], sb[valid], slot[valid], lo[valid], hi[valid]
    nseg = np.int64(len(p0))
    gkey = slot.astype(np.int64) * nseg + sa
    ukey, ulen = _union_length(gkey, lo, hi)
    facing = np.bincount(ukey // nseg, weights=ulen * seglen[ukey % nseg], minlength=2 * n_pairs)
    blocked = np.zeros(2 * n_pairs)
    if streets is not None and len(streets):
        k, blo, bhi = _street_blocked(p0, p1, sa, sb, lo, hi, streets)
        bkey, blen = _union_length(gkey[k], blo, bhi)
        blocked = np.bincount(
            bkey // nseg, weights=blen * seglen[bkey % nseg], minlength=2 * n_pairs
        ).astype(float)
    wall = np.maximum(0.0, facing - blocked)
    return facing[0::2], facing[1::2], wall[0::2], wall[1::2]


def build_adjacency(
    compounds: gpd.GeoDataFrame,
    *,
    parcels: gpd.GeoDataFrame | None = None,
    streets: gpd.GeoDataFrame | None = None,
    barriers: gpd.GeoDataFrame | None = None,
    gap_m: float = GAP_M,
    barrier_classes: Iterable[str] = ("arterial",),
    subdistrict_barrier: bool = True,
    wall_tolerance_m: float = 2.0,
    soft_barrier_classes: Iterable[str] = (),
) -> nx.Graph:
    """Build the adjacency graph of compounds and idle parcels.

    Parameters
    ----------
    compounds : GeoDataFrame
        Compound footprints with ``compound_id`` and ``households`` (and
        optionally ``subdistrict``), in a projected metric CRS.
    parcels : GeoDataFrame, optional
        Idle parcels with ``parcel_id`` (and optionally ``area_m2``). They become
        nodes of kind ``"parcel"`` linked to compounds only (no parcel-parcel edges).
    streets : GeoDataFrame, optional
        Street centre lines with ``class`` (and optionally ``tunnel``). Streets of a
        class in ``barrier_classes`` (tunnels excepted) block an edge; others only
        set ``street_between``.
    barriers : GeoDataFrame, optional
        Rivers, railways, walls of closed sites (lines or polygons); they block edges.
    gap_m : float
        Largest boundary-to-boundary distance for an edge, m.
    barrier_classes : iterable of str
        Street classes that separate compounds.
    subdistrict_barrier : bool
        If True, two compounds with different non-null ``subdistrict`` never get an edge.
    wall_tolerance_m : float
        Band width used to measure facing walls, m (see module docstring).
    soft_barrier_classes : iterable of str
        Street classes (not in ``barrier_classes``) that separate compounds only
        softly: an edge whose link crosses one (tunnels excepted) is kept with
        ``soft_barrier=True``; districting crosses it only when no in-band
        district is possible otherwise.

    Returns
    -------
    networkx.Graph
        Node key: the id string. Node attributes: ``kind``, ``households`` (0 for
        parcels), ``area_m2``, ``perimeter_m``, ``subdistrict`` (compounds; None
        if missing). Edge attributes: ``gap_m``, ``wall_m`` (walls to open: no street
        between), ``facing_m`` (facing boundary whatever lies between), ``street_between``.
        ``G.graph`` holds ``crs``, ``gap_m``, ``barrier_classes``,
        ``subdistrict_barrier`` and ``wall_tolerance_m``.

    Raises
    ------
    CRSError
        A layer has no CRS, a geographic CRS, or a CRS other than the compounds'.
    InputError
        Missing id column, duplicate ids, an id shared by a compound and a parcel,
        or a negative ``gap_m``.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from renogis.datasets import sample_path
    >>> compounds, parcels, streets, barriers = (
    ...     gpd.read_file(sample_path(), layer=k)
    ...     for k in ("compounds", "parcels", "streets", "barriers"))
    >>> G = build_adjacency(compounds, parcels=parcels, streets=streets, barriers=barriers)
    >>> G.number_of_nodes(), G.number_of_edges()
    (74, 168)
    >>> G.edges["C0001", "C0002"]
    {'gap_m': 14.981, 'wall_m': 0.0, 'facing_m': 196.347, 'street_between': True}
    """
    _check_layers(compounds, parcels, streets, barriers, gap_m=gap_m,
                  wall_tolerance_m=wall_tolerance_m)  # fmt: skip
    barrier_classes = tuple(barrier_classes)
    soft_barrier_classes = tuple(c for c in soft_barrier_classes if c not in barrier_classes)
    nodes = _node_table(compounds, parcels)
    G = nx.Graph(
        crs=compounds.crs,
        gap_m=float(gap_m),
        barrier_classes=barrier_classes,
        subdistrict_barrier=bool(subdistrict_barrier),
        wall_tolerance_m=float(wall_tolerance_m),
        soft_barrier_classes=soft_barrier_classes,
    )
    _add_nodes(G, nodes)

    left, right, n_sub = _candidate_pairs(nodes, gap_m=gap_m, subdistrict_barrier=subdistrict_barrier)
    ga, gb = nodes.geoms[left], nodes.geoms[right]
    dist = shapely.distance(ga, gb)
    links = shapely.shortest_line(ga, gb)
    kinds = _street_kinds(streets, barriers, barrier_classes, soft_barrier_classes)
    blocked, street_between, soft = _barrier_cuts(links, kinds)
    sel = ~blocked
    left, right, dist = left[sel], right[sel], dist[sel]
    street_between = street_between[sel]
    soft = soft[sel]
    facing, wall = _facing_and_wall(
        nodes.geoms, left, right, dist, tol=float(wall_tolerance_m), streets=kinds.surface
    )
    _add_edges(G, nodes.ids, left, right, dist, wall, facing, street_between, soft)
    logger.info(
        "adjacency: %d compounds, %d parcels, %d edges (%d links blocked by barriers, "
        "%d pairs split by subdistrict)",
        nodes.n_compounds,
        len(nodes.ids) - nodes.n_compounds,
        G.number_of_edges(),
        int(blocked.sum()),
        n_sub,
    )
    return G


# ---------------------------------------------------------------- checks
def _check_layers(
    compounds: gpd.GeoDataFrame,
    parcels: gpd.GeoDataFrame | None,
    streets: gpd.GeoDataFrame | None,
    barriers: gpd.GeoDataFrame | None,
    *,
    gap_m: float,
    wall_tolerance_m: float,
) -> None:
    """Raise CRSError or InputError for a layer's CRS or a distance argument."""
    if compounds.crs is None:
        raise CRSError(
            "layer 'compounds' has no CRS; set one (e.g. EPSG:4548) before build_adjacency"
        )
    if compounds.crs.is_geographic:
        raise CRSError(
            f"layer 'compounds' is in a geographic CRS ({compounds.crs.to_string()}); "
            "reproject to a projected metric CRS (e.g. EPSG:4548) first"
        )
    for layer, name in ((parcels, PARCELS), (streets, "streets"), (barriers, "barriers")):
        _check_crs(layer, name, compounds)
    if not np.isfinite(gap_m) or gap_m < 0:
        raise InputError(f"gap_m must be a finite number >= 0, got {gap_m!r}")
    if wall_tolerance_m <= 0:
        raise InputError(f"wall_tolerance_m must be > 0, got {wall_tolerance_m!r}")


# ---------------------------------------------------------------- nodes
@dataclass(frozen=True)
class _NodeTable:
    """Compounds then parcels: one row per graph node."""

    ids: np.ndarray  # id strings (compounds first)
    geoms: np.ndarray
    is_parcel: np.ndarray
    n_compounds: int
    households: np.ndarray  # int64, 0 for parcels
    area_m2: np.ndarray  # footprint area (compounds) or land area (parcels), m2
    perimeter_m: np.ndarray
    subdistrict: np.ndarray  # compounds' subdistrict value (None if missing)
    sd_code: np.ndarray  # subdistrict code per node (-1: none, and for parcels)


def _node_table(compounds: gpd.GeoDataFrame, parcels: gpd.GeoDataFrame | None) -> _NodeTable:
    """Check ids and geometries of compounds and parcels; gather the node attributes."""
    c_ids = unique_ids(compounds, COMPOUND_ID, COMPOUNDS)
    if HOUSEHOLDS not in compounds.columns:
        raise InputError(f"layer 'compounds' has no {HOUSEHOLDS!r} column")
    c_geom = np.asarray(compounds.geometry.array, dtype=object)
    has_parcels = parcels is not None and not parcels.empty
    if has_parcels:
        assert parcels is not None
        p_ids = unique_ids(parcels, PARCEL_ID, PARCELS)
        p_geom = np.asarray(parcels.geometry.array, dtype=object)
        clash = np.intersect1d(c_ids.astype(str), p_ids.astype(str))
        if len(clash):
            raise InputError(
                f"ids used by both a compound and a parcel: {', '.join(clash[:10])}; "
                "graph node keys must be unique, rename the parcels"
            )
    else:
        p_ids = np.empty(0, dtype=object)
        p_geom = np.empty(0, dtype=object)
    nc, npar = len(c_ids), len(p_ids)
    ids = np.concatenate([c_ids, p_ids])
    geoms = np.concatenate([c_geom, p_geom])
    is_parcel = np.r_[np.zeros(nc, bool), np.ones(npar, bool)]
    bad = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if bad.any():
        raise InputError(f"empty or missing geometry for ids: {', '.join(map(str, ids[bad][:10]))}")

    area = shapely.area(geoms)
    perim = shapely.length(geoms)
    hh = np.zeros(nc + npar, dtype=np.int64)
    hh[:nc] = (
        pd.to_numeric(compounds[HOUSEHOLDS], errors="coerce").fillna(0).to_numpy().astype(np.int64)
    )
    if has_parcels and AREA_M2 in parcels.columns:  # type: ignore[union-attr]
        pa = pd.to_numeric(parcels[AREA_M2], errors="coerce").to_numpy(dtype=float)  # type: ignore[index]
        area[nc:] = np.where(np.isfinite(pa), pa, area[nc:])
    if SUBDISTRICT in compounds.columns:
        sd_vals = compounds[SUBDISTRICT].to_numpy(dtype=object)
        sd_vals[pd.isna(sd_vals)] = None
        sd_codes, _ = pd.factorize(sd_vals, use_na_sentinel=True)
    else:
        sd_codes = np.full(nc, -1)
        sd_vals = np.full(nc, None, dtype=object)
    sd = np.r_[sd_codes, np.full(npar, -1)]
    return _NodeTable(ids, geoms, is_parcel, nc, hh, area, perim, sd_vals, sd)


def _add_nodes(G: nx.Graph, nodes: _NodeTable) -> None:
    """Add one node per compound and parcel, keyed by its id string, with its attributes."""
    kinds = [KIND_PARCEL if x else KIND_COMPOUND for x in nodes.is_parcel]
    G.add_nodes_from(
        (
            str(i),
            {NODE_KIND: k, HOUSEHOLDS: int(h), NODE_AREA_M2: float(a), NODE_PERIMETER_M: float(p)},
        )
        for i, k, h, a, p in zip(
            nodes.ids, kinds, nodes.households, nodes.area_m2, nodes.perimeter_m, strict=False
        )
    )
    for i, s in zip(nodes.ids[: nodes.n_compounds], nodes.subdistrict, strict=False):
        G.nodes[str(i)][SUBDISTRICT] = s


# ---------------------------------------------------------------- candidate pairs
def _candidate_pairs(
    nodes: _NodeTable, *, gap_m: float, subdistrict_barrier: bool
) -> tuple[np.ndarray, np.ndarray, int]:
    """Node pairs (left < right) within ``gap_m``: no parcel-parcel pair, none across subdistricts.

    Returns (left, right, number of pairs dropped for different subdistricts).
    """
    geoms, is_parcel, sd = nodes.geoms, nodes.is_parcel, nodes.sd_code
    tree = STRtree(geoms)
    left, right = tree.query(geoms, predicate="dwithin", distance=gap_m)
    keep = left < right
    keep &= ~(is_parcel[left] & is_parcel[right])
    n_sub = 0
    if subdistrict_barrier:
        across = (sd[left] >= 0) & (sd[right] >= 0) & (sd[left] != sd[right])
        n_sub = int((keep & across).sum())
        keep &= ~across
    return left[keep], right[keep], n_sub


# ---------------------------------------------------------------- barriers
@dataclass(frozen=True)
class _StreetKinds:
    """Barrier and street geometries sorted by the role they play for a link."""

    barriers: np.ndarray  # barrier layer + streets of a barrier class (tunnels excepted)
    other: np.ndarray  # streets that are not barriers (set street_between)
    soft: np.ndarray  # streets of a soft-barrier class (tunnels excepted)
    surface: np.ndarray  # every street but tunnels (for walls, see _street_blocked)


def _street_kinds(
    streets: gpd.GeoDataFrame | None,
    barriers: gpd.GeoDataFrame | None,
    barrier_classes: tuple[str, ...],
    soft_barrier_classes: tuple[str, ...],
) -> _StreetKinds:
    """Sort the barrier layer and the streets (by class and tunnel flag) into their roles."""
    barrier_geoms = [_geoms(barriers)]
    other_streets = np.empty(0, dtype=object)
    surface_streets = np.empty(0, dtype=object)
    soft_streets = np.empty(0, dtype=object)
    if streets is not None and not streets.empty:
        cls = (
            streets[STREET_CLASS].astype("string").fillna("").to_numpy(dtype=object)
            if STREET_CLASS in streets.columns
            else np.full(len(streets), "", dtype=object)
        )
        tun = (
            streets[TUNNEL].fillna(False).astype(bool).to_numpy()
            if TUNNEL in streets.columns
            else np.zeros(len(streets), bool)
        )
        sg = np.asarray(streets.geometry.array, dtype=object)
        ok = ~(shapely.is_missing(sg) | shapely.is_empty(sg))
        is_bar = np.isin(cls, barrier_classes) & ~tun & ok
        barrier_geoms.append(sg[is_bar])
        other_streets = sg[~is_bar & ok]
        soft_streets = sg[np.isin(cls, soft_barrier_classes) & ~tun & ok]
        surface_streets = sg[ok & ~tun]
    return _StreetKinds(np.concatenate(barrier_geoms), other_streets, soft_streets, surface_streets)


def _barrier_cuts(
    links: np.ndarray, kinds: _StreetKinds
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per nearest-point link: (blocked by a barrier, crosses another street, crosses a soft one)."""

    def crossed(geoms: np.ndarray) -> np.ndarray:
        out = np.zeros(len(links), bool)
        if len(geoms) and len(links):
            hit, _ = STRtree(geoms).query(links, predicate="intersects")
            out[hit] = True
        return out

    return crossed(kinds.barriers), crossed(kinds.other), crossed(kinds.soft)


# ---------------------------------------------------------------- walls, edges
def _facing_and_wall(
    geoms: np.ndarray,
    left: np.ndarray,
    right: np.ndarray,
    dist: np.ndarray,
    *,
    tol: float,
    streets: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Facing boundary and wall to open per pair, m, rounded to mm (see the module docstring)."""
    fa, fb, wa, wb = _wall_lengths(geoms, left, right, dist + tol, streets=streets)
    facing = np.round(np.maximum(0.0, (fa + fb) / 2.0 - 2.0 * tol), 3)
    wall = np.minimum(np.round(np.maximum(0.0, (wa + wb) / 2.0 - 2.0 * tol), 3), facing)
    return facing, wall


def _add_edges(
    G: nx.Graph,
    ids: np.ndarray,
    left: np.ndarray,
    right: np.ndarray,
    dist: np.ndarray,
    wall: np.ndarray,
    facing: np.ndarray,
    street_between: np.ndarray,
    soft: np.ndarray,
) -> None:
    """Add one edge per pair with its attributes (``soft_barrier`` only where True)."""
    G.add_edges_from(
        (
            str(ids[a]),
            str(ids[b]),
            {
                EDGE_GAP_M: float(d),
                EDGE_WALL_M: float(w),
                EDGE_FACING_M: float(f),
                EDGE_STREET_BETWEEN: bool(s),
            },
        )
        for a, b, d, w, f, s in zip(
            left, right, np.round(dist, 3), wall, facing, street_between, strict=False
        )
    )
    for a, b in zip(left[soft], right[soft], strict=True):
        G.edges[str(ids[a]), str(ids[b])][EDGE_SOFT_BARRIER] = True
