"""Tests of renogis.siting: matrix core (greedy / exact) and the GeoDataFrame adapter."""

from __future__ import annotations

import itertools
import math
import sys

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import Point, box

from renogis import schema
from renogis._errors import CRSError, InputError
from renogis.siting import (
    SITING_PRIORITY,
    CoverResult,
    exact_max_cover,
    greedy_max_cover,
    relative_gap,
    site_capacity_households,
    site_facilities,
    siting_lines,
    write_siting_outputs,
)
from renogis.standards import CategoryRule, Standards

CRS = "EPSG:4548"
X0, Y0 = 500_000.0, 3_800_000.0


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
    with pytest.raises(
        InputError, match=r"weights must be finite and >= 0; bad rows \(first 10\): \[1\]"
    ):
        greedy_max_cover(a, np.array([1.0, -1, 1, 1, 1, 1]), k=1)
    with pytest.raises(InputError, match="k must be a non-negative integer or None"):
        greedy_max_cover(a, np.ones(6), k=-1)
    with pytest.raises(InputError, match="k must be a non-negative integer or None"):
        exact_max_cover(a, np.ones(6), k=1.5)  # type: ignore[arg-type]
    with pytest.raises(
        InputError, match="capacity has 2 entries but coverage has 3 candidate columns"
    ):
        greedy_max_cover(a, np.ones(6), k=1, capacity=np.ones(2))
    with pytest.raises(InputError, match="capacity must be >= 0"):
        greedy_max_cover(a, np.ones(6), k=1, capacity=-1.0)
    with pytest.raises(InputError, match="coverage must be a 2-D matrix"):
        greedy_max_cover(np.ones(3, dtype=bool), np.ones(3), k=1)
    g = greedy_max_cover(a, np.ones(6), k=1)
    s = greedy_max_cover(a, np.ones(6), k=None)
    with pytest.raises(
        InputError, match="cannot compare a 'max_cover' result with a 'set_cover' result"
    ):
        relative_gap(g, s)


def test_exact_without_highspy(monkeypatch):
    monkeypatch.setitem(sys.modules, "highspy", None)
    with pytest.raises(
        ImportError, match=r"needs the optional dependency highspy.*renogis\[exact\]"
    ):
        exact_max_cover(_classic(), np.ones(6), k=1)


def test_cover_result_is_frozen():
    r = greedy_max_cover(_classic(), np.ones(6), k=1)
    assert isinstance(r, CoverResult)
    with pytest.raises(AttributeError):
        r.chosen = ()  # type: ignore[misc]


# --------------------------------------------------------------------------- adapter world
def _rule(
    key: str,
    *,
    b: float = 0.0,
    land: float = 0.0,
    unit: str = "places",
    kind: str = "per_1000_residents",
    amount: float = 4.5,
) -> CategoryRule:
    return CategoryRule(
        key=key,
        name_zh=schema.CATEGORIES[key],
        name_en=key,
        level="5min",
        radius_m=300.0,
        demand_kind=kind,
        demand_amount=amount,
        demand_unit=unit,
        capacity_unit=unit,
        min_building_m2=b,
        min_land_m2=land,
        source="test",
        verified=False,
    )


def _standards() -> Standards:
    cats = {
        "nursery": _rule("nursery"),
        "elderly_day_care": _rule(
            "elderly_day_care", b=350.0, unit="m2", kind="per_100_households", amount=20.0
        ),
        "canteen": _rule("canteen", b=60.0, unit="seats"),
    }
    return Standards(
        name="test",
        source_path="test",
        categories=cats,
        persons_per_household=2.62,
        elderly_share=0.187,
    )


def _sq(x: float, y: float, size: float):
    return box(X0 + x, Y0 + y, X0 + x + size, Y0 + y + size)


def _world(p1_area: float = 400.0):
    """Compounds C1..C4 uncovered (100, 200, 350, 50 households), C5 covered (1000).

    Parcels (20 x 20 m, straight-line x 1.3 <= 300 m, i.e. <= 230.8 m):
    P1 vacant between C1 and C2 (covers C1, C2), P2 idle building (floor 300 m2) east of C3
    (covers C3), P3 vacant 150 m east of C4 (covers C4 from its polygon, not from its west
    gate: 250 m x 1.3 = 325 m), P4 vacant of 50 m2 between C2 and C3 (covers C2 and C3).
    """
    comp = gpd.GeoDataFrame(
        {
            schema.COMPOUND_ID: ["C1", "C2", "C3", "C4", "C5"],
            schema.HOUSEHOLDS: [100, 200, 350, 50, 1000],
        },
        geometry=[
            _sq(0, 0, 100),
            _sq(150, 0, 100),
            _sq(600, 0, 100),
            _sq(2000, 0, 100),
            _sq(5000, 0, 100),
        ],
        crs=CRS,
    )
    parcels = gpd.GeoDataFrame(
        {
            schema.PARCEL_ID: ["P1", "P2", "P3", "P4"],
            schema.KIND: ["vacant_land", "idle_building", "vacant_land", "vacant_land"],
            schema.AREA_M2: [p1_area, 400.0, 400.0, 50.0],
            schema.FLOOR_AREA_M2: [np.nan, 300.0, np.nan, np.nan],
        },
        geometry=[_sq(110, 40, 20), _sq(710, 40, 20), _sq(2250, 40, 20), _sq(405, 40, 20)],
        crs=CRS,
    )
    rows = []
    for cat in ("nursery", "elderly_day_care", "canteen"):
        for cid in comp[schema.COMPOUND_ID]:
            rows.append(
                {
                    schema.COMPOUND_ID: cid,
                    schema.CATEGORY: cat,
                    "distance_m": 100.0 if cid == "C5" else np.inf,
                    "radius_m": 300.0,
                    "within_radius": cid == "C5",
                    "method": "straight",
                }
            )
    access = pd.DataFrame(rows)
    gates = gpd.GeoDataFrame(
        {schema.GATE_ID: ["G1"], schema.COMPOUND_ID: ["C4"]},
        geometry=[Point(X0 + 2000, Y0 + 50)],
        crs=CRS,
    )
    districts = gpd.GeoDataFrame(
        {schema.DISTRICT_ID: ["D1", "D2"]},
        geometry=[_sq(-10, -10, 310), _sq(550, -10, 250)],
        crs=CRS,
    )
    return comp, parcels, access, gates, districts


def _site(**kw):
    comp, parcels, access, gates, districts = _world(kw.pop("p1_area", 400.0))
    if kw.pop("with_gates", False):
        kw["gates"] = gates
    if kw.pop("with_districts", False):
        kw["districts"] = districts
    return site_facilities(comp, parcels, access=access, standards=_standards(), network=None, **kw)


def test_adapter_nursery_budget_and_set_cover():
    plan = _site(categories=["nursery"], sites_per_category=2)
    t = plan.plan
    assert t[schema.PARCEL_ID].tolist() == ["P4", "P1"]
    assert t["newly_covered_households"].tolist() == [550.0, 100.0]
    assert t["cumulative_coverage"].tolist() == pytest.approx([1550 / 1700, 1650 / 1700])
    assert t["min_area_m2"].tolist() == [0.0, 0.0]
    assert t["parcel_area_m2"].tolist() == [50.0, 400.0]
    assert t.crs == CRS and t.geometry.iloc[0].equals(_sq(405, 40, 20))
    full = _site(categories=["nursery"], sites_per_category=None)
    assert full.plan[schema.PARCEL_ID].tolist() == ["P4", "P1", "P3"]
    assert full.plan["newly_covered_households"].tolist() == [550.0, 100.0, 50.0]
    assert full.plan["cumulative_coverage"].iloc[-1] == 1.0
    s = full.summary.iloc[0]
    assert (s["households_total"], s["households_uncovered"], s["households_newly_covered"]) == (
        1700.0,
        700.0,
        700.0,
    )
    assert s["coverage_before"] == pytest.approx(1000 / 1700) and s["coverage_after"] == 1.0


def test_adapter_gates_are_the_access_points():
    plan = _site(categories=["nursery"], sites_per_category=None, with_gates=True)
    assert plan.plan[schema.PARCEL_ID].tolist() == ["P4", "P1"]
    assert plan.summary.iloc[0]["households_coverable"] == 650.0


def test_parcels_below_minimum_never_chosen():
    # elderly day care needs 350 m2: P4 (50 m2 land) and P2 (300 m2 floor) are too small
    plan = _site(categories=["elderly_day_care"], sites_per_category=None)
    assert plan.plan[schema.PARCEL_ID].tolist() == ["P1", "P3"]
    assert plan.plan["newly_covered_households"].tolist() == [300.0, 50.0]
    assert plan.plan["min_area_m2"].tolist() == [350.0, 350.0]
    assert plan.summary.iloc[0]["candidates"] == 2
    assert plan.summary.iloc[0]["households_coverable"] == 350.0


def test_parcel_hosts_two_categories_only_if_area_allows_sum_of_minimums():
    # priority: elderly day care (350 m2) claims P1 and P3 first whatever order is passed;
    # the canteen (60 m2) then fits only in P2: 400 - 350 = 50 < 60 left on P1 and P3
    t = _site(categories=["canteen", "elderly_day_care"], sites_per_category=2).plan
    assert t[schema.CATEGORY].tolist() == ["elderly_day_care", "elderly_day_care", "canteen"]
    assert t[schema.PARCEL_ID].tolist() == ["P1", "P3", "P2"]
    assert t["remaining_area_m2"].tolist() == [50.0, 50.0, 240.0]
    # with 410 m2, P1 holds both: 350 + 60 = 410
    t = _site(categories=["canteen", "elderly_day_care"], sites_per_category=2, p1_area=410.0).plan
    assert t[schema.CATEGORY].tolist() == [
        "elderly_day_care",
        "elderly_day_care",
        "canteen",
        "canteen",
    ]
    assert t[schema.PARCEL_ID].tolist() == ["P1", "P3", "P2", "P1"]
    assert t["newly_covered_households"].tolist() == [300.0, 50.0, 350.0, 300.0]
    assert t["min_area_m2"].tolist() == [350.0, 350.0, 60.0, 60.0]
    assert t["remaining_area_m2"].tolist() == [60.0, 50.0, 240.0, 0.0]


def test_capacity_in_adapter():
    std = _standards()
    assert site_capacity_households(std, "elderly_day_care") == 1750.0
    assert site_capacity_households(std, "nursery") == math.inf
    plan = _site(
        categories=["elderly_day_care"],
        sites_per_category=None,
        capacity_households={"elderly_day_care": 250.0},
    )
    assert plan.plan[schema.PARCEL_ID].tolist() == ["P1", "P3"]
    assert plan.plan["newly_covered_households"].tolist() == [250.0, 50.0]
    assert plan.summary.iloc[0]["capacity_households"] == 250.0


def test_adapter_both_methods_and_districts():
    plan = _site(
        categories=["nursery", "elderly_day_care"],
        sites_per_category=2,
        method="both",
        with_districts=True,
    )
    assert dict(plan.gaps) == {"elderly_day_care": 0.0, "nursery": 0.0}
    s = plan.summary.set_index(schema.CATEGORY)
    assert s.loc["nursery", "exact_covered"] == 650.0 == s.loc["nursery", "greedy_covered"]
    assert s.loc["elderly_day_care", "exact_covered"] == 350.0
    t = plan.plan
    assert set(t["method"]) == {"exact"}
    ids = dict(
        zip(t[schema.CATEGORY] + "/" + t[schema.PARCEL_ID], t[schema.DISTRICT_ID], strict=True)
    )
    assert ids["elderly_day_care/P1"] == "D1" and ids["elderly_day_care/P3"] == "D2"


def test_default_categories_and_nothing_to_do():
    comp, parcels, access, _, _ = _world()
    access = access.assign(
        within_radius=access[schema.CATEGORY].eq("canteen") | access["within_radius"]
    )
    plan = site_facilities(comp, parcels, access=access, standards=_standards(), network=None)
    assert plan.summary[schema.CATEGORY].tolist() == ["elderly_day_care", "nursery"]
    none = site_facilities(
        comp,
        parcels,
        access=access.assign(within_radius=True),
        standards=_standards(),
        network=None,
    )
    assert len(none.plan) == 0 and list(none.plan.columns)[:2] == [
        schema.PARCEL_ID,
        schema.CATEGORY,
    ]
    assert SITING_PRIORITY[:3] == ("elderly_day_care", "nursery", "kindergarten")


def test_siting_lines_and_outputs(tmp_path):
    plan = _site(categories=["nursery"], sites_per_category=None, with_districts=True)
    assert siting_lines(plan, lang="en") == {
        "D1": [
            "nursery on parcel P4: covers 550 more households",
            "nursery on parcel P1: covers 100 more households",
        ],
        "D2": ["nursery on parcel P3: covers 50 more households"],
    }
    assert siting_lines(plan)["D1"][0] == "托儿所 设于地块 P4：新增覆盖 550 户"
    assert siting_lines(_site(categories=["nursery"]), lang="en") == {
        None: ["nursery on parcel P4: covers 550 more households"]
    }
    files = write_siting_outputs(plan, tmp_path / "out")
    assert [f.name for f in files] == ["siting_plan.csv", "siting_plan.xlsx"]
    back = pd.read_csv(files[0], encoding="utf-8-sig")
    assert back.columns.tolist()[:4] == [
        schema.PARCEL_ID,
        schema.CATEGORY,
        "newly_covered_households",
        "cumulative_coverage",
    ]
    assert back[schema.PARCEL_ID].tolist() == ["P4", "P1", "P3"]
    assert "geometry" not in back.columns
    x = pd.read_excel(files[1])
    assert x["newly_covered_households"].tolist() == [550, 100, 50]


def test_adapter_errors():
    comp, parcels, access, _, _ = _world()
    std = _standards()
    kw = dict(access=access, standards=std, network=None)
    with pytest.raises(
        InputError, match="unknown siting method 'magic'; use one of greedy, exact, both"
    ):
        site_facilities(comp, parcels, method="magic", **kw)
    with pytest.raises(InputError, match="unknown category 'library'; the standards know nursery"):
        site_facilities(comp, parcels, categories=["library"], **kw)
    with pytest.raises(
        InputError, match="sites_per_category must be a non-negative integer or None"
    ):
        site_facilities(comp, parcels, sites_per_category=-2, **kw)
    with pytest.raises(InputError, match="parcels: missing column.*kind"):
        site_facilities(comp, parcels.drop(columns=[schema.KIND]), **kw)
    with pytest.raises(InputError, match="access: missing column.*within_radius"):
        site_facilities(
            comp,
            parcels,
            access=access.drop(columns=["within_radius"]),
            standards=std,
            network=None,
        )
    with pytest.raises(
        InputError, match=r"access: 1 compound_id\(s\) not in compounds \(first: C5\)"
    ):
        site_facilities(comp[comp[schema.COMPOUND_ID] != "C5"], parcels, **kw)
    with pytest.raises(CRSError, match="different CRSs"):
        site_facilities(comp, parcels.set_crs("EPSG:4549", allow_override=True), **kw)
    with pytest.raises(InputError, match="unknown language 'fr'; use 'zh' or 'en'"):
        siting_lines(pd.DataFrame(), lang="fr")
    with pytest.raises(InputError, match="siting plan: missing column"):
        write_siting_outputs(pd.DataFrame({"parcel_id": []}), "/tmp/none")


def test_inputs_not_modified():
    comp, parcels, access, gates, districts = _world()
    before = (comp.copy(), parcels.copy(), access.copy())
    site_facilities(
        comp,
        parcels,
        access=access,
        standards=_standards(),
        network=None,
        gates=gates,
        districts=districts,
        method="both",
        sites_per_category=None,
    )
    pd.testing.assert_frame_equal(comp, before[0])
    pd.testing.assert_frame_equal(parcels, before[1])
    pd.testing.assert_frame_equal(access, before[2])


def test_exact_without_solution_raises(monkeypatch):
    import renogis.siting as siting
    from renogis._errors import InfeasibleError

    monkeypatch.setattr(
        siting, "_solve_highs", lambda **kw: ("time_limit", None, math.nan, math.nan)
    )
    with pytest.raises(
        InfeasibleError, match=r"HiGHS found no feasible siting within time_limit_s=0\.5"
    ):
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
