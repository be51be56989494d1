"""Phases of districting on hand-made graphs: exact regions, labels and candidates.

Nodes are numbered 0..n-1; a "path" is 0-1-2-3 with 100 m of facing boundary per edge.
"""

from __future__ import annotations

import numpy as np
import pytest

from renogis._errors import InfeasibleError
from renogis.districting import (
    _agglomerate,
    _contract_keep_together,
    _CutGraph,
    _initial_regions,
    _keep_apart_labels,
    _NodeNeighbours,
    _rebalance,
    _recut,
    _RegionView,
    _split,
    _split_candidates,
)

IDS = np.asarray(list("ABCDEF"), dtype=object)
PATH_U, PATH_V, PATH_W = np.array([0, 1, 2]), np.array([1, 2, 3]), np.full(3, 100.0)


def regions(root_of: np.ndarray, hh: np.ndarray, eu=PATH_U, ev=PATH_V):  # type: ignore[no-untyped-def]
    n = len(hh)
    return _initial_regions(n, eu, ev, np.full(len(eu), 100.0), hh, np.full(n, 400.0), root_of,
                            ka_label=[None] * n, bbox=np.zeros((n, 4)), track=False)  # fmt: skip


def test_contract_keep_together_joins_the_path_between_members() -> None:
    root_of, kt_mask = _contract_keep_together(4, PATH_U, PATH_V, [[0, 2]], IDS)
    assert root_of.tolist() == [0, 0, 0, 3]
    assert kt_mask.tolist() == [True, True, True, False]


def test_contract_keep_together_across_components_is_infeasible() -> None:
    with pytest.raises(InfeasibleError, match=r"keep_together group \(A, D\) is not connected.*: A \| D"):
        _contract_keep_together(4, np.array([0]), np.array([1]), [[0, 3]], IDS)


def test_keep_apart_labels_and_conflict() -> None:
    labels = _keep_apart_labels(4, np.array([0, 0, 0, 3]), [[0, 3], [3]], IDS)
    assert labels == [frozenset({0}), None, None, frozenset({0, 1})]
    with pytest.raises(InfeasibleError, match="A and C must end in one district"):
        _keep_apart_labels(4, np.array([0, 0, 0, 3]), [[0, 2]], IDS)


def test_initial_regions_from_roots() -> None:
    reg = regions(np.array([0, 0, 2, 3]), np.array([100.0, 200.0, 300.0, 400.0]))
    assert reg.h == [300, 0, 300, 400]
    assert reg.p == [600.0, 0.0, 400.0, 400.0]  # 2 x 400 m less twice the 100 m between 0 and 1
    assert reg.members == [[0, 1], [], [2], [3]]
    assert reg.alive == [True, False, True, True]
    assert reg.nb == [{2: 100.0}, {}, {0: 100.0, 3: 100.0}, {2: 100.0}]


def test_agglomerate_merges_equal_keys_in_rank_order() -> None:
    reg = regions(np.arange(4), np.full(4, 500.0))
    n = _agglomerate(reg, min_h=1000, max_h=1000, rk=[0, 1, 2, 3], span_max=np.inf)
    # (0, 1) first (lowest ranks), kept under 1 (more neighbours); then (1, 2) is over the max
    assert n == 2
    assert reg.alive == [False, True, True, False]
    assert reg.members == [[], [1, 0], [2, 3], []]
    assert reg.h == [500, 1000, 1000, 500]
    assert reg.p == [400.0, 600.0, 600.0, 400.0]
    assert reg.nb == [{}, {2: 100.0}, {1: 100.0}, {}]


def test_rebalance_takes_a_border_compound() -> None:
    hh = np.array([300.0, 400.0, 400.0, 400.0])
    reg, lab = regions(np.array([0, 1, 1, 1]), hh), [0, 1, 1, 1]
    moved = _rebalance(reg, lab, _NodeNeighbours.of(4, PATH_U, PATH_V, PATH_W), hh, min_h=600,
                       max_h=2000, rk=[0, 1, 2, 3], ka_label=[None] * 4, kt_mask=np.zeros(4, bool),
                       node_bb=[[0.0] * 4] * 4, span_max=np.inf)  # fmt: skip
    assert moved == 1
    assert lab == [0, 0, 1, 1]
    assert reg.h[:2] == [700.0, 800.0]
    assert reg.members[:2] == [[0, 1], [2, 3]]


def test_rebalance_keeps_the_giver_connected() -> None:
    star_u, star_v = np.array([0, 1, 1]), np.array([1, 2, 3])  # 1 is the hub of 1, 2, 3
    hh = np.array([300.0, 400.0, 400.0, 400.0])
    reg, lab = regions(np.array([0, 1, 1, 1]), hh, star_u, star_v), [0, 1, 1, 1]
    moved = _rebalance(reg, lab, _NodeNeighbours.of(4, star_u, star_v, PATH_W), hh, min_h=600,
                       max_h=2000, rk=[0, 1, 2, 3], ka_label=[None] * 4, kt_mask=np.zeros(4, bool),
                       node_bb=[[0.0] * 4] * 4, span_max=np.inf)  # fmt: skip
    assert moved == 0
    assert lab == [0, 1, 1, 1]


def test_split_candidates_small_region_with_its_neighbours() -> None:
    view = _RegionView.of(np.array([0, 0, 1, 2]), PATH_U, PATH_V, np.array([1000.0, 1000.0, 500.0, 3000.0]),
                          np.zeros(4, bool), np.arange(4))  # fmt: skip
    assert view.h.tolist() == [2000.0, 500.0, 3000.0]
    assert [m.tolist() for m in view.members] == [[0, 1], [2], [3]]
    assert _split_candidates(view, min_h=1500, max_h=4000, lopsided=1.5) == [[1, 0, 2]]


# a row of six 100 m squares of 900 households: regions of 3,600 (0-3) and 1,800 (4-5)
ROW_U, ROW_V = np.arange(5), np.arange(1, 6)
ROW_HH = np.full(6, 900.0)
ROW_LAB = np.array([5, 5, 5, 5, 9, 9])
ROW_CXY = np.c_[np.arange(6) * 100.0 + 50.0, np.full(6, 50.0)]
ROW_BBOX = np.c_[np.arange(6) * 100.0, np.zeros(6), np.arange(6) * 100.0 + 100.0, np.full(6, 100.0)]


def test_lopsided_pair_is_recut_into_equal_halves() -> None:
    view = _RegionView.of(ROW_LAB, ROW_U, ROW_V, ROW_HH, np.zeros(6, bool), np.arange(6))
    assert _split_candidates(view, min_h=1500, max_h=4000, lopsided=1.5) == [[0, 1]]
    graph = _CutGraph.of(6, ROW_U, ROW_V, ROW_CXY, np.full(5, 100.0))
    kw = dict(min_h=1500, max_h=4000, max_cut_ratio=1.5, rng=np.random.default_rng(0))
    parts = _recut(np.arange(6), view.h, ROW_LAB, graph, ROW_HH, ROW_BBOX, span_max=np.inf, **kw)
    assert parts is not None
    assert [p.tolist() for p in parts] == [[3, 4, 5], [0, 1, 2]]
    # a 250 m span limit forbids both 300 m parts
    assert _recut(np.arange(6), view.h, ROW_LAB, graph, ROW_HH, ROW_BBOX, span_max=250.0, **kw) is None
    lab, n = _split(6, ROW_U, ROW_V, ROW_HH, ROW_LAB, min_h=1500, max_h=4000,
                    fixed=np.zeros(6, bool), bbox=ROW_BBOX, cxy=ROW_CXY, max_span=None,
                    rank=np.arange(6), ew=np.full(5, 100.0))  # fmt: skip
    assert (lab.tolist(), n) == ([11, 11, 11, 10, 10, 10], 1)
