"""results.gpkg: the wide gap table of the compounds layer."""

from __future__ import annotations

import numpy as np
import pandas as pd


def test_wide_gaps_one_column_per_category_and_field():
    import geopandas as gpd
    import shapely

    from renogis.outputs.gpkg import wide_gaps

    comp = gpd.GeoDataFrame({"compound_id": ["A", "B"], "households": [100, 50]},
                            geometry=[shapely.box(0, 0, 1, 1), shapely.box(2, 0, 3, 1)], crs=4548)
    access = pd.DataFrame({"compound_id": ["A", "B", "A", "B"],
                           "category": ["nursery", "nursery", "clinic", "clinic"],
                           "distance_m": [120.0, np.nan, 800.0, 250.0],
                           "within_radius": [True, False, False, True]})
    gaps = pd.DataFrame({"level": ["compound"] * 4 + ["district"], "unit_id": ["A", "B", "A", "B", "D1"],
                         "category": ["nursery", "nursery", "clinic", "clinic", "clinic"],
                         "covered_households": [100, 0, 0, 50, 50]})
    out = wide_gaps(comp, access, gaps, categories=["clinic", "nursery"])
    assert list(out.columns) == ["compound_id", "households", "geometry",
                                 "clinic_distance_m", "clinic_within_radius", "clinic_covered_households",
                                 "nursery_distance_m", "nursery_within_radius", "nursery_covered_households"]
    assert out["clinic_distance_m"].tolist() == [800.0, 250.0]
    assert out["clinic_within_radius"].tolist() == [False, True]
    assert out["clinic_covered_households"].tolist() == [0.0, 50.0]
    assert out["nursery_distance_m"].iloc[0] == 120.0 and np.isnan(out["nursery_distance_m"].iloc[1])
    assert out["nursery_covered_households"].tolist() == [100.0, 0.0]
    assert list(comp.columns) == ["compound_id", "households", "geometry"]  # input untouched
