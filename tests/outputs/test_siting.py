"""Tests of renogis.outputs.siting: the siting plan's proposal-sheet lines and tables."""

from __future__ import annotations

import pandas as pd
import pytest

from renogis import schema
from renogis._errors import InputError
from renogis.outputs.siting import siting_lines, write_siting_tables
from tests.test_siting import _site


def test_siting_lines_and_outputs(tmp_path):
    plan = _site(categories=["nursery"], sites_per_category=None, with_districts=True)
    assert siting_lines(plan, lang="en") == {
        "D1": [
            "Nursery (age 0-3) on parcel P4: covers 550 more households",
            "Nursery (age 0-3) on parcel P1: covers 100 more households",
        ],
        "D2": ["Nursery (age 0-3) on parcel P3: covers 50 more households"],
    }
    assert siting_lines(plan)["D1"][0] == "托儿所 设于地块 P4：新增覆盖 550 户"
    assert siting_lines(_site(categories=["nursery"]), lang="en") == {
        None: ["Nursery (age 0-3) on parcel P4: covers 550 more households"]
    }
    files = write_siting_tables(plan, tmp_path / "out", lang=None)
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


def test_lines_and_outputs_errors():
    with pytest.raises(InputError, match="unknown language 'fr'; use 'zh' or 'en'"):
        siting_lines(pd.DataFrame(), lang="fr")
    with pytest.raises(InputError, match="siting plan: missing column"):
        write_siting_tables(pd.DataFrame({"parcel_id": []}), "/tmp/none")
