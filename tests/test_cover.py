"""Tests of renogis.cover: the maximal covering core on plain matrices (greedy and exact)."""

from __future__ import annotations

import itertools
import math
import sys

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from renogis._errors import InputError
from renogis.cover import (
    CoverResult,
    SiteOptions,
    exact_max_cover,
    greedy_max_cover,
    relative_gap,
)


# --------------------------------------------------------------------------- core
def _classic() -> sp.csr_matrix:
    """Greedy counterexample: site 2 covers the middle 4 points, sites 0 / 1 the halves."""
    a = np.zeros((6, 3), dtype=bool)
    a[[0, 1, 2], 0] = True
    a[[3, 4, 5], 1] = True
    a[[1, 2, 3, 4], 2] = True
    return sp.csr_matrix(a)


def test_greedy_is_suboptimal_and_exact_finds_optimum():
    a, w = _classic(), np.ones(6)
    g = greedy_max_cover(a, w, k=2)
    e = exact_max_cover(a, w, k=2)
    assert g.chosen == (2, 0)
    assert g.newly_covered == (4.0, 1.0)
    assert g.covered_weight == 5.0
    assert g.method == "greedy" and g.mode == "max_cover" and g.status == "heuristic"
    assert e.chosen == (0, 1)
    assert e.newly_covered == (3.0, 3.0)
    assert e.covered_weight == 6.0
    assert e.objective_bound == 6.0 and e.gap == 0.0 and e.status == "optimal"
    assert relative_gap(g, e) == pytest.approx(1 / 6)
    # the greedy's bound is a valid upper bound on the optimum
    assert g.objective_bound >= e.covered_weight
    assert g.gap == pytest.approx(1 / 6)


def test_weighted_counterexample():
    # greedy takes the heavy middle site (7), then 3 more; optimum takes both sides (5 + 6)
    a = np.array([[1, 0, 0], [1, 0, 1], [0, 1, 1], [0, 1, 0]], dtype=bool)
    w = np.array([2.0, 3.0, 4.0, 2.0])
    g = greedy_max_cover(sp.csr_matrix(a), w, k=2)
    e = exact_max_cover(sp.csr_matrix(a), w, k=2)
    assert g.chosen == (2, 0) and g.covered_weight == 9.0
    assert e.chosen == (1, 0) and e.newly_covered == (6.0, 5.0) and e.covered_weight == 11.0


def test_set_cover_covers_all_coverable_demand():
    a = sp.vstack([_classic(), sp.csr_matrix((1, 3), dtype=bool)]).tocsr()  # row 6 unreachable
    w = np.array([1.0, 1, 1, 1, 1, 1, 10.0])
    g = greedy_max_cover(a, w, k=None)
    e = exact_max_cover(a, w, k=None)
    assert g.mode == e.mode == "set_cover"
    assert g.coverable_weight == e.coverable_weight == 6.0
    assert g.covered_weight == e.covered_weight == 6.0
    assert g.chosen == (2, 0, 1) and g.objective == 3.0
    assert e.chosen == (0, 1) and e.objective == 2.0 and e.objective_bound == 2.0
    assert g.objective_bound == 2.0  # the two largest sites together reach 7 >= 6
    assert relative_gap(g, e) == 0.5


def test_zero_weight_rows_and_k_zero():
    a = _classic()
    w = np.array([0.0, 0, 0, 1, 1, 1])
    g = greedy_max_cover(a, w, k=None)
    assert g.chosen == (1,) and g.covered_weight == 3.0
    assert exact_max_cover(a, w, k=None).chosen == (1,)
    assert greedy_max_cover(a, w, k=0).chosen == ()
    assert exact_max_cover(a, w, k=0).covered_weight == 0.0


def test_dense_input_and_k_larger_than_candidates():
    r = greedy_max_cover(np.eye(3, dtype=bool), np.array([1.0, 2.0, 3.0]), k=10)
    assert r.chosen == (2, 1, 0) and r.covered_weight == 6.0 and r.gap == 0.0


def test_capacity_respected():
    a, w = _classic(), np.ones(6)
    g = greedy_max_cover(a, w, k=2, capacity=2.0)
    e = exact_max_cover(a, w, k=2, capacity=2.0)
    assert g.covered_weight == 4.0 and max(g.newly_covered) <= 2.0
    assert e.covered_weight == 4.0 and max(e.newly_covered) <= 2.0
    # per-candidate capacity: site 2 may serve 4, the others 1
    cap = np.array([1.0, 1.0, 4.0])
    g2 = greedy_max_cover(a, w, k=2, capacity=cap)
    assert g2.chosen == (2, 0) and g2.newly_covered == (4.0, 1.0)
    e2 = exact_max_cover(a, w, k=3, capacity=cap)
    assert e2.covered_weight == 6.0
    assert sorted(e2.newly_covered) == [1.0, 1.0, 4.0]
    # set cover with capacity: three sites of 2 serve all 6
    e3 = exact_max_cover(a, w, k=None, capacity=2.0)
    assert e3.objective == 3.0 and e3.covered_weight == pytest.approx(6.0)
    g3 = greedy_max_cover(a, w, k=None, capacity=2.0)
    assert g3.objective == 3.0 and g3.covered_weight == 6.0


def test_capacity_splits_a_demand_point():
    a = sp.csr_matrix(np.array([[1, 1]], dtype=bool))
    r = greedy_max_cover(a, np.array([100.0]), k=None, capacity=60.0)
    assert r.chosen == (0, 1) and r.newly_covered == (60.0, 40.0)
    e = exact_max_cover(a, np.array([100.0]), k=1, capacity=60.0)
    assert e.covered_weight == pytest.approx(60.0)


def test_capacity_nan_and_inf_mean_uncapacitated():
    a, w = _classic(), np.ones(6)
    ref = greedy_max_cover(a, w, k=2)
    for cap in (np.inf, np.nan, np.array([np.nan, np.inf, np.inf])):
        r = greedy_max_cover(a, w, k=2, capacity=cap)
        assert (r.chosen, r.newly_covered, r.objective_bound) == (
            ref.chosen,
            ref.newly_covered,
            ref.objective_bound,
        )


def _brute_force(a: np.ndarray, w: np.ndarray, k: int) -> float:
    best = 0.0
    n_c = a.shape[1]
    for r in range(min(k, n_c) + 1):
        for combo in itertools.combinations(range(n_c), r):
            cov = a[:, list(combo)].any(axis=1)
            best = max(best, float(w[cov].sum()))
    return best


@settings(max_examples=25, deadline=None)
@given(
    st.integers(min_value=1, max_value=7),
    st.integers(min_value=1, max_value=6),
    st.integers(min_value=0, max_value=4),
    st.integers(min_value=0, max_value=2**31 - 1),
)
def test_property_exact_is_optimal_greedy_bounded(n_d, n_c, k, seed):
    rng = np.random.default_rng(seed)
    a = rng.random((n_d, n_c)) < 0.4
    w = rng.integers(0, 10, n_d).astype(float)
    opt = _brute_force(a, w, k)
    e = exact_max_cover(sp.csr_matrix(a), w, k=k)
    g = greedy_max_cover(sp.csr_matrix(a), w, k=k)
    assert e.covered_weight == pytest.approx(opt)
    assert g.covered_weight <= opt + 1e-9
    assert g.covered_weight >= (1 - 1 / math.e) * opt - 1e-9
    assert g.objective_bound >= opt - 1e-9
    assert sum(g.newly_covered) == pytest.approx(g.covered_weight)
    assert len(set(g.chosen)) == len(g.chosen) <= k


def test_core_errors():
    a = _classic()
    with pytest.raises(InputError, match="weights has 5 entries but coverage has 6 demand rows"):
        greedy_max_cover(a, np.ones(5), k=1)
    with pytest.raises(InputError, match=r"weights must be finite and >= 0; bad rows \(first 10\): \[1\]"):
        greedy_max_cover(a, np.array([1.0, -1, 1, 1, 1, 1]), k=1)
    with pytest.raises(InputError, match="k must be a non-negative integer or None"):
        greedy_max_cover(a, np.ones(6), k=-1)
    with pytest.raises(InputError, match="k must be a non-negative integer or None"):
        exact_max_cover(a, np.ones(6), k=1.5)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="capacity has 2 entries but coverage has 3 candidate columns"):
        greedy_max_cover(a, np.ones(6), k=1, capacity=np.ones(2))
    with pytest.raises(InputError, match="capacity must be >= 0"):
        greedy_max_cover(a, np.ones(6), k=1, capacity=-1.0)
    with pytest.raises(InputError, match="coverage must be a 2-D matrix"):
        greedy_max_cover(np.ones(3, dtype=bool), np.ones(3), k=1)
    g = greedy_max_cover(a, np.ones(6), k=1)
    s = greedy_max_cover(a, np.ones(6), k=None)
    with pytest.raises(InputError, match="cannot compare a 'max_cover' result with a 'set_cover' result"):
        relative_gap(g, s)


def test_exact_without_highspy_falls_back_to_scipy_milp(monkeypatch):
    monkeypatch.setitem(sys.modules, "highspy", None)
    e = exact_max_cover(_classic(), np.ones(6), k=2)
    assert e.chosen == (0, 1) and e.covered_weight == 6.0 and e.status == "optimal"
    c = exact_max_cover(_classic(), np.ones(6), k=1, capacity=2.0)
    assert c.covered_weight == 2.0
    s = exact_max_cover(_classic(), np.ones(6), k=None)
    assert sorted(s.chosen) == [0, 1]


def test_cover_result_is_frozen():
    r = greedy_max_cover(_classic(), np.ones(6), k=1)
    assert isinstance(r, CoverResult)
    with pytest.raises(AttributeError):
        r.chosen = ()  # type: ignore[misc]


def test_exact_without_solution_raises(monkeypatch):
    import renogis.cover as cover
    from renogis._errors import InfeasibleError

    monkeypatch.setattr(cover, "_solve_highs", lambda **kw: ("time_limit", None, math.nan, math.nan))
    with pytest.raises(InfeasibleError, match=r"HiGHS found no feasible siting within time_limit_s=0\.5"):
        exact_max_cover(_classic(), np.ones(6), k=1, time_limit_s=0.5)
    with pytest.raises(InfeasibleError, match="raise time_limit_s or use method='greedy'"):
        exact_max_cover(_classic(), np.ones(6), k=1, capacity=2.0, time_limit_s=0.5)


@settings(max_examples=15, deadline=None)
@given(st.integers(min_value=0, max_value=2**31 - 1), st.integers(min_value=1, max_value=3))
def test_property_capacitated_exact_not_worse_than_greedy(seed, k):
    rng = np.random.default_rng(seed)
    a = sp.csr_matrix(rng.random((6, 4)) < 0.5)
    w = rng.integers(1, 10, 6).astype(float)
    cap = rng.integers(1, 15, 4).astype(float)
    g = greedy_max_cover(a, w, k=k, capacity=cap)
    e = exact_max_cover(a, w, k=k, capacity=cap)
    assert e.covered_weight >= g.covered_weight - 1e-6
    for res in (g, e):
        assert all(n <= cap[j] + 1e-6 for j, n in zip(res.chosen, res.newly_covered, strict=True))
        assert res.covered_weight <= g.objective_bound + 1e-6


def test_highs_prints_nothing_on_stdout(tmp_path):
    import subprocess

    code = (
        "import numpy as np, scipy.sparse as sp\n"
        "from renogis.cover import exact_max_cover\n"
        "a = sp.csr_matrix(np.eye(3, dtype=bool))\n"
        "r = exact_max_cover(a, np.ones(3), k=2)\n"
        "r2 = exact_max_cover(a, np.ones(3), k=2, capacity=0.5)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path
    )
    assert out.stdout == ""
    assert "HiGHS" not in out.stderr


def test_site_options_checks_its_arrays():
    good = dict(
        coverage=sp.csc_matrix(np.array([[1, 1]], dtype=bool)),
        households=np.array([100.0]),
        units=np.array([2.0]),
        parcel=np.array([0, 1]),
        group=np.array([0, 0]),
        min_area_m2=np.array([0.0, 0.0]),
        max_area_m2=np.array([35.0, 70.0]),
        m2_per_unit=np.array([35.0, 35.0]),
        max_units=np.array([1.0, 2.0]),
        independent=np.array([True, True]),
        parcel_area_m2=np.array([35.0, 70.0]),
        k=1,
    )
    SiteOptions(**good)
    with pytest.raises(
        InputError, match=r"SiteOptions \(1 demand rows x 2 options\): units has 2 entries, expected 1"
    ):
        SiteOptions(**{**good, "units": np.array([1.0, 2.0])})
    with pytest.raises(InputError, match=r"min_area_m2 > max_area_m2 for options \[1\]"):
        SiteOptions(**{**good, "min_area_m2": np.array([0.0, 80.0])})
    with pytest.raises(InputError, match="parcel holds an index outside parcel_area_m2"):
        SiteOptions(**{**good, "parcel": np.array([0, 2])})
    with pytest.raises(InputError, match="households must be >= 0"):
        SiteOptions(**{**good, "households": np.array([np.nan])})
    with pytest.raises(InputError, match="k must be a non-negative integer or None"):
        SiteOptions(**{**good, "k": -1})
