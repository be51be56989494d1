"""Property-management viability: break-even fees alone and merged, on hand-computed cases."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from renogis.costs import PropertyModel, load_costs
from renogis.datasets import sample_path
from renogis.viability import assess_viability, break_even, site_cost

# fixed 10,000 yuan per site, 20 yuan per household, 0.08 yuan per m2 (per month); fee 0.5, 80% collected
MODEL = PropertyModel(
    fee_yuan_m2_month=0.5,
    collection_rate=0.8,
    fixed_yuan_per_site_month=10_000.0,
    per_household_yuan_month=20.0,
    per_m2_yuan_month=0.08,
)


def cluster() -> pd.DataFrame:
    # D1: 8 compounds of 100 households / 10,000 m2 and one of 200 / 20,000 (a 9-compound cluster)
    # D2: one large compound of 500 households / 80,000 m2
    ids = [f"K{i}" for i in range(1, 10)] + ["L1"]
    hh = [100] * 8 + [200, 500]
    fa = [10_000.0] * 8 + [20_000.0, 80_000.0]
    return pd.DataFrame(
        {"compound_id": ids, "households": hh, "floor_area_m2": fa, "district_id": ["D1"] * 9 + ["D2"]}
    )


def test_site_cost_and_break_even_by_hand():
    # 10,000 + 20 x 100 + 0.08 x 10,000 = 12,800 yuan; / (10,000 m2 x 0.8) = 1.6 yuan/m2
    assert site_cost([100], [10_000.0], model=MODEL)[0] == pytest.approx(12_800.0)
    assert break_even([100], [10_000.0], model=MODEL)[0] == pytest.approx(1.6)
    assert np.isnan(break_even([100], [0.0], model=MODEL)[0])


def test_nine_compound_cluster_breaks_even_only_merged():
    v = assess_viability(cluster(), model=MODEL)
    c = v.compounds.set_index("compound_id")
    assert c.loc["K1", "break_even_fee"] == pytest.approx(1.6)
    # 10,000 + 4,000 + 1,600 = 15,600 / 16,000
    assert c.loc["K9", "break_even_fee"] == pytest.approx(0.975)
    assert c.loc["K1", "income_yuan_month"] == pytest.approx(4_000.0)  # 10,000 m2 x 0.5 x 0.8
    assert not c.loc[[f"K{i}" for i in range(1, 10)], "viable_alone"].any()
    g = v.groups.set_index("group")
    d1 = g.loc["D1"]
    # merged: 10,000 + 20 x 1,000 + 0.08 x 100,000 = 38,000 yuan; / (100,000 x 0.8) = 0.475 < 0.5
    assert d1["cost_yuan_month"] == pytest.approx(38_000.0)
    assert d1["cost_alone_yuan_month"] == pytest.approx(8 * 12_800.0 + 15_600.0)
    assert d1["break_even_fee"] == pytest.approx(0.475)
    assert d1["break_even_fee_alone_min"] == pytest.approx(0.975)
    assert d1["break_even_fee_alone_max"] == pytest.approx(1.6)
    assert d1["members_viable_alone"] == 0
    assert bool(d1["viable_merged"]) and bool(d1["viable_only_merged"])
    # D2 alone: 10,000 + 10,000 + 6,400 = 26,400 / 64,000 = 0.4125: viable already, not "only merged"
    d2 = g.loc["D2"]
    assert d2["break_even_fee"] == pytest.approx(0.4125)
    assert bool(d2["viable_merged"]) and not bool(d2["viable_only_merged"])


def test_fee_below_merged_break_even_is_not_viable():
    low = PropertyModel(**{**MODEL.__dict__, "fee_yuan_m2_month": 0.45})
    g = assess_viability(cluster(), model=low).groups.set_index("group")
    assert not bool(g.loc["D1", "viable_merged"]) and not bool(g.loc["D1", "viable_only_merged"])


def test_missing_floor_area_leaves_district_empty(caplog):
    c = cluster()
    c.loc[0, "floor_area_m2"] = np.nan
    v = assess_viability(c, model=MODEL)
    assert v.missing_floor_area == ("K1",)
    g = v.groups.set_index("group")
    assert np.isnan(g.loc["D1", "break_even_fee"]) and pd.isna(g.loc["D1", "viable_merged"])
    assert "without floor area" in caplog.text


def test_sample_guohao_meidu_cluster_breaks_even_only_merged():
    """The bundled cost file's staffing model on the sample's 9-compound Guohao-Meidu-like cluster."""
    comp = gpd.read_file(sample_path(), layer="compounds")
    model = load_costs().property
    v = assess_viability(comp, model=model, by="area")
    g = v.groups.set_index("group").loc["国浩美都片区"]
    assert g["n_compounds"] == 9 and g["households"] == 1759 and g["floor_area_m2"] == 166_500
    # (13,000 + 20 x 1,759 + 0.08 x 166,500) / (166,500 x 0.85) = 61,500 / 141,525
    assert g["break_even_fee"] == pytest.approx(61_500 / 141_525)
    assert g["break_even_fee"] < model.fee_yuan_m2_month < g["break_even_fee_alone_min"]
    assert g["members_viable_alone"] == 0 and bool(g["viable_only_merged"])
