"""Nested, duplicate and overlapping compounds: find every pair, resolve them before districting.

Residential AOI data (高德/百度 AOI, OSM ``landuse=residential``) often holds a
city-scale estate *and* its phases (敏捷城 and 敏捷城-7期, 9期), or two copies of
one compound. Left alone, their households are counted twice and their
districts overlap. :func:`find_overlaps` classifies every pair of compounds
whose footprints overlap (by more than ``min_overlap_m2``); :func:`resolve_overlaps`
turns the layer into one without overlaps, reporting every change.

Pair relations
--------------
duplicate
    Each footprint lies at least ``duplicate_share`` (99%) inside the other: two
    copies of one compound. They are merged into one row: the smallest id is
    kept, its missing attributes filled from the copies; households are *not*
    added up.
contains
    The smaller footprint lies at least ``contain_share`` (90%) inside the larger
    (the parent).
partial
    Any other overlap.

Resolution
----------
``nested="keep-children"`` (default: keep the finest units)
    A parent whose area is mostly (``cover_share``, 50%) covered by the
    compounds inside it is dropped; its children stay. A parent that its
    children do not mostly cover stays, and the children inside it are dropped
    (the parent holds them; keeping both would count their households twice).
``nested="keep-parent"``
    Every compound lying inside another is dropped; the outermost parent stays.

Partial overlaps left afterwards are clipped: the overlapping area is taken
off the larger compound of the pair (households unchanged), so that no two
compounds - and hence no two districts - overlap.

Every pair goes to ``overlaps.csv`` (see :meth:`OverlapResult.pairs`), with
what was done; dropped compounds (ids, households) are listed in
``validation.txt`` and ``run.json`` and logged as a warning.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely import STRtree

from renogis import config
from renogis._errors import InputError
from renogis.schema import COMPOUND_ID, HOUSEHOLDS

logger = logging.getLogger(__name__)

__all__ = [
    "OverlapResult",
    "find_overlaps",
    "resolve_overlaps",
    "NESTED_CHOICES",
    "RELATION",
    "REL_DUPLICATE",
    "REL_CONTAINS",
    "REL_PARTIAL",
    "OVERLAPS_FILE",
]

#: Choices of the ``nested`` rule (CLI ``--nested``).
NESTED_CHOICES = config.NESTED

REL_DUPLICATE = "duplicate"
REL_CONTAINS = "contains"
REL_PARTIAL = "partial"

# columns of the pairs table (overlaps.csv); compound_id_a is the larger footprint
ID_A = "compound_id_a"
ID_B = "compound_id_b"
RELATION = "relation"
OVERLAP_M2 = "overlap_m2"
SHARE_A = "share_of_a"  # overlap / area of a
SHARE_B = "share_of_b"  # overlap / area of b
AREA_A = "area_a_m2"
AREA_B = "area_b_m2"
HOUSEHOLDS_A = "households_a"
HOUSEHOLDS_B = "households_b"
ACTION = "action"

# columns of the dropped table
DROPPED_REASON = "reason"
KEPT_ID = "kept_compound_id"

#: File name of the pairs table in a run's output folder (without suffix).
OVERLAPS_FILE = "overlaps"

#: Defaults of :func:`find_overlaps` and :func:`resolve_overlaps` (see there).
CONTAIN_SHARE = 0.9
DUPLICATE_SHARE = 0.99
COVER_SHARE = 0.5
MIN_OVERLAP_M2 = 0.01

_EMPTY_PAIRS = (ID_A, ID_B, RELATION, OVERLAP_M2, SHARE_A, SHARE_B, AREA_A, AREA_B,
                HOUSEHOLDS_A, HOUSEHOLDS_B)  # fmt: skip


@dataclass(frozen=True)
class OverlapResult:
    """Compounds without overlaps, and what was done to get there.

    Attributes
    ----------
    compounds : GeoDataFrame
        The input rows that remain (input order), duplicates merged, partial
        overlaps clipped off the larger compound.
    pairs : DataFrame
        Every overlapping pair: ``compound_id_a`` (the larger), ``compound_id_b``,
        ``relation`` (duplicate, contains, partial), ``overlap_m2``,
        ``share_of_a``, ``share_of_b``, ``area_a_m2``, ``area_b_m2``,
        ``households_a``, ``households_b`` and ``action``.
    dropped : DataFrame
        One row per dropped compound: ``compound_id``, ``households``,
        ``reason`` and ``kept_compound_id`` (the compound that holds it, or its
        copy that was kept; several ids joined by commas for a dropped parent).
    clipped : tuple of str
        Ids of compounds whose footprint lost a partial overlap.
    parameters : dict
        The rule and thresholds used.
    """

    compounds: gpd.GeoDataFrame
    pairs: pd.DataFrame
    dropped: pd.DataFrame
    clipped: tuple[str, ...] = ()
    parameters: dict[str, Any] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        """True when a compound was dropped, merged or clipped."""
        return bool(len(self.dropped) or self.clipped)

    def summary(self) -> dict[str, Any]:
        """Return counts and ids for ``run.json``."""
        rel = self.pairs[RELATION].value_counts() if len(self.pairs) else pd.Series(dtype=int)
        return {
            "nested": self.parameters.get("nested"),
            "pairs": int(len(self.pairs)),
            "duplicate_pairs": int(rel.get(REL_DUPLICATE, 0)),
            "contains_pairs": int(rel.get(REL_CONTAINS, 0)),
            "partial_pairs": int(rel.get(REL_PARTIAL, 0)),
            "dropped": [
                {COMPOUND_ID: str(i), HOUSEHOLDS: int(h), "reason": str(r), "kept": str(k)}
                for i, h, r, k in zip(self.dropped[COMPOUND_ID], self.dropped[HOUSEHOLDS],
                                      self.dropped[DROPPED_REASON], self.dropped[KEPT_ID],
                                      strict=True)
            ],  # fmt: skip
            "dropped_households": int(self.dropped[HOUSEHOLDS].sum()) if len(self.dropped) else 0,
            "clipped": list(self.clipped),
        }

    def report_lines(self) -> list[str]:
        """Lines for ``validation.txt``: every dropped compound with its households, then counts."""
        if not len(self.pairs):
            return []
        s = self.summary()
        lines = [
            f"overlapping compounds: {s['pairs']} pairs ({s['duplicate_pairs']} duplicates, "
            f"{s['contains_pairs']} nested, {s['partial_pairs']} partial; every pair in "
            f"{OVERLAPS_FILE}.csv); rule --nested {s['nested']}"
        ]
        if len(self.dropped):
            lines.append(
                f"  dropped {len(self.dropped)} compounds with {s['dropped_households']:,} households "
                "(not in districts, gaps or siting):"
            )
            lines += [
                f"  - {d[COMPOUND_ID]} ({d[HOUSEHOLDS]:,} households): {d['reason']}"
                for d in s["dropped"]
            ]
        if self.clipped:
            lines.append(
                f"  clipped {len(self.clipped)} compounds (partial overlap taken off the larger one, "
                f"households unchanged): {', '.join(self.clipped)}"
            )
        return lines


def _overlap_pairs(
    geoms: np.ndarray, min_overlap_m2: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Index pairs (i < j) whose footprints overlap by more than ``min_overlap_m2``, and the area."""
    ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    idx = np.flatnonzero(ok)
    if len(idx) < 2:
        e = np.zeros(0, dtype=np.int64)
        return e, e, np.zeros(0)
    left, right = STRtree(geoms[idx]).query(geoms[idx], predicate="intersects")
    keep = left < right
    left, right = idx[left[keep]], idx[right[keep]]
    inter = shapely.area(shapely.intersection(geoms[left], geoms[right]))
    big = inter > min_overlap_m2
    return left[big], right[big], inter[big]


def find_overlaps(
    compounds: gpd.GeoDataFrame,
    *,
    contain_share: float = CONTAIN_SHARE,
    duplicate_share: float = DUPLICATE_SHARE,
    min_overlap_m2: float = MIN_OVERLAP_M2,
) -> pd.DataFrame:
    """Every pair of compounds whose footprints overlap, classified.

    Parameters
    ----------
    compounds : GeoDataFrame
        Compounds with ``compound_id`` (and ``households``), projected metric CRS.
    contain_share : float
        A compound lying at least this share inside a larger one is nested in it.
    duplicate_share : float
        Two compounds each lying at least this share inside the other are copies.
    min_overlap_m2 : float
        Overlaps of at most this area (digitising noise) are ignored, m2.

    Returns
    -------
    DataFrame
        See :attr:`OverlapResult.pairs` (without ``action``); ``compound_id_a``
        is the larger footprint (ties: the smaller id). Sorted by a, then b.

    Examples
    --------
    >>> from renogis.datasets import sample_path
    >>> from renogis.validate import load
    >>> len(find_overlaps(load(sample_path()).compounds))
    0
    """
    _check(compounds, contain_share, duplicate_share)
    ids = compounds[COMPOUND_ID].astype(str).to_numpy(dtype=object)
    geoms = np.asarray(compounds.geometry.array, dtype=object)
    hh = _households(compounds)
    i, j, inter = _overlap_pairs(geoms, min_overlap_m2)
    area = shapely.area(geoms)
    # a = the larger footprint (ties: the smaller id)
    swap = (area[j] > area[i]) | ((area[j] == area[i]) & (ids[j] < ids[i]))
    a, b = np.where(swap, j, i), np.where(swap, i, j)
    share_a = inter / np.where(area[a] > 0, area[a], 1.0)
    share_b = inter / np.where(area[b] > 0, area[b], 1.0)
    rel = np.where(
        (share_a >= duplicate_share) & (share_b >= duplicate_share),
        REL_DUPLICATE,
        np.where(share_b >= contain_share, REL_CONTAINS, REL_PARTIAL),
    )
    df = pd.DataFrame(
        {
            ID_A: pd.Series(ids[a], dtype=object),
            ID_B: pd.Series(ids[b], dtype=object),
            RELATION: pd.Series(rel, dtype=object),
            OVERLAP_M2: np.round(inter, 2),
            SHARE_A: np.round(share_a, 4),
            SHARE_B: np.round(share_b, 4),
            AREA_A: np.round(area[a], 2),
            AREA_B: np.round(area[b], 2),
            HOUSEHOLDS_A: hh[a],
            HOUSEHOLDS_B: hh[b],
        },
        columns=list(_EMPTY_PAIRS),
    )
    return df.sort_values([ID_A, ID_B]).reset_index(drop=True)


def _check(compounds: gpd.GeoDataFrame, contain_share: float, duplicate_share: float) -> None:
    if COMPOUND_ID not in compounds.columns:
        raise InputError(f"compounds have no {COMPOUND_ID!r} column; add a unique id per row")
    if not 0.5 < contain_share <= 1.0 or not contain_share <= duplicate_share <= 1.0:
        raise InputError(
            "overlap shares must satisfy 0.5 < contain_share <= duplicate_share <= 1, got "
            f"{contain_share} and {duplicate_share}"
        )
    ids = compounds[COMPOUND_ID].astype(str)
    if ids.duplicated().any():
        dup = sorted(set(ids[ids.duplicated()]))
        raise InputError(
            f"compounds: duplicate {COMPOUND_ID} values: {', '.join(dup[:10])}; ids must be unique"
        )


def _households(compounds: gpd.GeoDataFrame) -> np.ndarray:
    if HOUSEHOLDS not in compounds.columns:
        return np.zeros(len(compounds), dtype=np.int64)
    return (
        pd.to_numeric(compounds[HOUSEHOLDS], errors="coerce").fillna(0).to_numpy().astype(np.int64)
    )


def resolve_overlaps(
    compounds: gpd.GeoDataFrame,
    *,
    nested: Literal["keep-children", "keep-parent"] = "keep-children",
    contain_share: float = CONTAIN_SHARE,
    duplicate_share: float = DUPLICATE_SHARE,
    cover_share: float = COVER_SHARE,
    min_overlap_m2: float = MIN_OVERLAP_M2,
) -> OverlapResult:
    """Merge duplicates, resolve nesting and clip partial overlaps, reporting every change.

    Parameters
    ----------
    compounds : GeoDataFrame
        Compounds with ``compound_id`` and ``households``, projected metric CRS.
        Not modified.
    nested : {"keep-children", "keep-parent"}
        Which side of a nesting survives (see the module docstring).
    contain_share, duplicate_share, min_overlap_m2
        See :func:`find_overlaps`.
    cover_share : float
        With ``keep-children``, a parent is dropped when the union of the
        compounds inside it covers at least this share of its area.

    Returns
    -------
    OverlapResult

    Raises
    ------
    InputError
        Unknown ``nested`` rule, bad shares, no or duplicate ``compound_id``.

    Examples
    --------
    >>> from renogis.datasets import sample_path
    >>> from renogis.validate import load
    >>> res = resolve_overlaps(load(sample_path()).compounds)
    >>> res.changed, len(res.compounds)
    (False, 65)
    """
    if nested not in NESTED_CHOICES:
        raise InputError(f"nested must be one of {', '.join(NESTED_CHOICES)}, got {nested!r}")
    if not 0.0 < cover_share <= 1.0:
        raise InputError(f"cover_share must be in (0, 1], got {cover_share}")
    pairs = find_overlaps(compounds, contain_share=contain_share,
                          duplicate_share=duplicate_share, min_overlap_m2=min_overlap_m2)  # fmt: skip
    params = {"nested": nested, "contain_share": contain_share,
              "duplicate_share": duplicate_share, "cover_share": cover_share,
              "min_overlap_m2": min_overlap_m2}  # fmt: skip
    if not len(pairs):
        return OverlapResult(compounds=compounds.copy(), pairs=pairs.assign(**{ACTION: ""}),
                             dropped=_no_dropped(), parameters=params)  # fmt: skip

    ix = _PairIndex.of(compounds, pairs)
    fate = _Fate.start(len(ix.ids), len(pairs))
    out = _merge_duplicates(compounds.copy(), ix, fate)
    _resolve_nesting(ix, fate, nested=nested, cover_share=cover_share)
    new_geoms, clipped = _clip_partial(ix, fate, min_overlap_m2=min_overlap_m2)
    out = out.set_geometry(gpd.GeoSeries(new_geoms, index=out.index, crs=compounds.crs))
    out = out.iloc[np.flatnonzero(fate.alive)]
    res = OverlapResult(compounds=out, pairs=pairs.assign(**{ACTION: fate.action}),
                        dropped=_dropped_table(ix.ids, ix.hh, fate), clipped=tuple(clipped),
                        parameters=params)  # fmt: skip
    if res.changed:
        _log_changes(res, nested)
    return res


@dataclass(frozen=True)
class _PairIndex:
    """Compounds by position (ids, footprints, areas, households) and the overlapping pairs as positions."""

    ids: np.ndarray
    geoms: np.ndarray
    area: np.ndarray
    hh: np.ndarray
    a: np.ndarray  # position of compound_id_a (the larger footprint) of each pair
    b: np.ndarray  # position of compound_id_b
    rel: np.ndarray  # relation of each pair

    @classmethod
    def of(cls, compounds: gpd.GeoDataFrame, pairs: pd.DataFrame) -> _PairIndex:
        ids = compounds[COMPOUND_ID].astype(str).to_numpy(dtype=object)
        pos = pd.Index(ids)
        geoms = np.asarray(compounds.geometry.array, dtype=object)
        return cls(
            ids=ids,
            geoms=geoms,
            area=shapely.area(geoms),
            hh=_households(compounds),
            a=pos.get_indexer(pairs[ID_A].to_numpy()),
            b=pos.get_indexer(pairs[ID_B].to_numpy()),
            rel=pairs[RELATION].to_numpy(dtype=object),
        )


@dataclass(frozen=True)
class _Fate:
    """What becomes of each compound (alive, why dropped, which compound holds it) and each pair (action).

    The arrays are filled in by the phases of :func:`resolve_overlaps`, in order.
    """

    alive: np.ndarray
    reason: np.ndarray
    kept_by: np.ndarray
    action: np.ndarray

    @classmethod
    def start(cls, n: int, n_pairs: int) -> _Fate:
        return cls(
            alive=np.ones(n, bool),
            reason=np.full(n, None, dtype=object),
            kept_by=np.full(n, None, dtype=object),
            action=np.full(n_pairs, "", dtype=object),
        )


# ---- 1. duplicates: groups of copies -> the smallest id stays, its gaps filled from the copies
def _merge_duplicates(out: gpd.GeoDataFrame, ix: _PairIndex, fate: _Fate) -> gpd.GeoDataFrame:
    """Keep the smallest id of each group of copies, filling its missing attributes from the copies."""
    dup = ix.rel == REL_DUPLICATE
    if not dup.any():
        return out
    from scipy import sparse
    from scipy.sparse import csgraph

    ids, hh, pa, pb, n = ix.ids, ix.hh, ix.a, ix.b, len(ix.ids)
    alive, kept_by = fate.alive, fate.kept_by
    m = sparse.coo_matrix((np.ones(int(dup.sum())), (pa[dup], pb[dup])), shape=(n, n))
    _, grp = csgraph.connected_components(m, directed=False)
    in_dup = np.zeros(n, bool)
    in_dup[pa[dup]] = True
    in_dup[pb[dup]] = True
    rows = np.flatnonzero(in_dup)
    order = rows[np.lexsort((ids[rows], grp[rows]))]
    first = order[np.r_[True, grp[order][1:] != grp[order][:-1]]]
    keeper = dict(zip(grp[first].tolist(), first.tolist(), strict=True))
    attrs = [c for c in out.columns if c != out.geometry.name]
    filled = out.iloc[order][attrs].groupby(grp[order], sort=False).first()
    for g, k in keeper.items():
        row = filled.loc[g]
        for c in attrs:
            if pd.isna(out.iloc[k][c]) and not pd.isna(row[c]):
                out.iloc[k, out.columns.get_loc(c)] = row[c]
    for r in order:
        k = keeper[int(grp[r])]
        if r != k:
            alive[r] = False
            kept_by[r] = ids[k]
            extra = (f"; its copy has {hh[k]:,} households (kept)" if hh[r] != hh[k] else "")
            fate.reason[r] = f"duplicate of {ids[k]}: merged into it{extra}"
    fate.action[dup] = [f"duplicate: {ids[b]} merged into {kept_by[b] or ids[a]}"
                        if not alive[b] else f"duplicate: {ids[a]} merged into {kept_by[a]}"
                        for a, b in zip(pa[dup], pb[dup], strict=True)]  # fmt: skip
    return out


# ---- 2. nesting among the survivors
def _resolve_nesting(ix: _PairIndex, fate: _Fate, *, nested: str, cover_share: float) -> None:
    """Drop parents mostly covered by their children (keep-children), then children of surviving parents."""
    ids, geoms, area, pa, pb, rel = ix.ids, ix.geoms, ix.area, ix.a, ix.b, ix.rel
    alive, reason, kept_by, action = fate.alive, fate.reason, fate.kept_by, fate.action
    con = (rel == REL_CONTAINS) & alive[pa] & alive[pb]
    ca, cb = pa[con], pb[con]  # parent, child
    if len(ca):
        if nested == "keep-children":
            parents = np.unique(ca)
            for p in parents.tolist():
                kids = cb[ca == p]
                cover = shapely.area(shapely.intersection(shapely.union_all(geoms[kids]), geoms[p]))
                share = cover / area[p] if area[p] > 0 else 1.0
                if share >= cover_share:
                    alive[p] = False
                    kids_ids = sorted(str(x) for x in ids[kids])
                    kept_by[p] = ",".join(kids_ids)
                    reason[p] = (f"parent mostly covered ({share:.0%}) by the {len(kids)} compounds "
                                 f"inside it ({', '.join(kids_ids)}), which are kept")  # fmt: skip
        # any child still inside a surviving parent goes (keep-parent: every child)
        for a, b in zip(ca.tolist(), cb.tolist(), strict=True):
            if alive[a] and alive[b]:
                alive[b] = False
                kept_by[b] = ids[a]
                why = ("parent kept (--nested keep-parent)" if nested == "keep-parent" else
                       "the parent is not mostly covered by the compounds inside it")
                reason[b] = f"lies inside {ids[a]} ({why})"
        for k in np.flatnonzero(con).tolist():
            a, b = pa[k], pb[k]
            if not alive[a] and not alive[b]:
                action[k] = f"contains: both dropped ({ids[a]}: {reason[a]}; {ids[b]}: {reason[b]})"
            elif not alive[a]:
                action[k] = f"contains: parent {ids[a]} dropped, {ids[b]} kept"
            elif not alive[b]:
                action[k] = f"contains: {ids[b]} dropped, parent {ids[a]} kept"
    # nested pairs of already-dropped duplicates
    for k in np.flatnonzero((rel == REL_CONTAINS) & ~con).tolist():
        a, b = pa[k], pb[k]
        gone = [str(ids[x]) for x in (a, b) if not alive[x]]
        action[k] = f"contains: {', '.join(gone)} already merged as a duplicate"


# ---- 3. partial overlaps among the survivors: clip the overlap off the larger compound
def _clip_partial(ix: _PairIndex, fate: _Fate, *, min_overlap_m2: float) -> tuple[np.ndarray, list[str]]:
    """Footprints with partial overlaps taken off the larger compound, and the ids of those clipped."""
    ids, geoms, pa, pb = ix.ids, ix.geoms, ix.a, ix.b
    part = (ix.rel != REL_DUPLICATE) & fate.alive[pa] & fate.alive[pb]
    new_geoms = geoms.copy()
    if not part.any():
        return new_geoms, []
    la, lb = pa[part], pb[part]
    order = np.argsort(la, kind="stable")
    la, lb = la[order], lb[order]
    starts = np.flatnonzero(np.r_[True, la[1:] != la[:-1]])
    ends = np.r_[starts[1:], len(la)]
    big = la[starts]
    cutters = np.asarray(
        [shapely.union_all(geoms[lb[s:e]]) for s, e in zip(starts, ends, strict=True)],
        dtype=object,
    )
    new_geoms[big] = shapely.difference(geoms[big], cutters)
    for k in np.flatnonzero(part).tolist():
        fate.action[k] = f"partial: overlap clipped off {ids[pa[k]]}"
    gone = shapely.area(new_geoms[big]) <= min_overlap_m2
    for g in big[gone].tolist():
        fate.alive[g] = False
        fate.reason[g] = "nothing left after clipping the compounds overlapping it"
        fate.kept_by[g] = ""
    return new_geoms, sorted(str(x) for x in ids[big[~gone]])


# ---- the dropped table and the log line
def _no_dropped() -> pd.DataFrame:
    return pd.DataFrame({COMPOUND_ID: pd.Series(dtype=object),
                         HOUSEHOLDS: pd.Series(dtype=np.int64),
                         DROPPED_REASON: pd.Series(dtype=object),
                         KEPT_ID: pd.Series(dtype=object)})  # fmt: skip


def _dropped_table(ids: np.ndarray, hh: np.ndarray, fate: _Fate) -> pd.DataFrame:
    """One row per dropped compound (:attr:`OverlapResult.dropped`)."""
    gone_idx = np.flatnonzero(~fate.alive)
    if not len(gone_idx):
        return _no_dropped()
    return pd.DataFrame({
        COMPOUND_ID: pd.Series(ids[gone_idx], dtype=object),
        HOUSEHOLDS: hh[gone_idx].astype(np.int64),
        DROPPED_REASON: pd.Series(fate.reason[gone_idx], dtype=object),
        KEPT_ID: pd.Series(fate.kept_by[gone_idx], dtype=object),
    })  # fmt: skip


def _log_changes(res: OverlapResult, nested: str) -> None:
    s = res.summary()
    shown = ", ".join(f"{d[COMPOUND_ID]} ({d[HOUSEHOLDS]:,} hh)" for d in s["dropped"][:10])
    more = f" and {len(s['dropped']) - 10} more" if len(s["dropped"]) > 10 else ""
    logger.warning(
        "overlapping compounds: %d pairs; dropped %d compounds with %d households (%s%s); "
        "clipped %d; rule --nested %s; see overlaps.csv and validation.txt",
        s["pairs"], len(s["dropped"]), s["dropped_households"], shown or "none", more,
        len(res.clipped), nested,
    )  # fmt: skip
