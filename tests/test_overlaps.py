"""Nested, duplicate and partly overlapping compounds (hand-built nested-AOI city)."""

from __future__ import annotations

import itertools
import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from renogis._errors import InputError
from renogis.adjacency import build_adjacency
from renogis.districting import propose_districts
from renogis.overlaps import find_overlaps, resolve_overlaps

CRS = "EPSG:4548"
X0, Y0 = 527_000.0, 3_853_000.0


def box(x0: float, y0: float, x1: float, y1: float) -> shapely.Polygon:
    return shapely.box(X0 + x0, Y0 + y0, X0 + x1, Y0 + y1)


def nested_city() -> gpd.GeoDataFrame:
    """A city-scale estate E with its phases E7, E9 (97.5% of E); a duplicate K/K2; a large
    estate P with one small phase P1 (12.5% of P); Q and R overlapping by 20 m x 100 m; S, T
    plain neighbours."""
    rows = [
        ("E", "敏捷城", 3000, box(0, 0, 400, 200)),
        ("E7", "敏捷城-7期", 1600, box(0, 0, 200, 200)),
        ("E9", "敏捷城-9期", 1400, box(200, 0, 400, 190)),
        ("K", "康居小区", 800, box(400, 0, 500, 100)),
        ("K2", "康居小区", 800, box(400, 0, 500, 100)),
        ("P", "山水大院", 2500, box(0, 200, 400, 400)),
        ("P1", "山水大院一期", 400, box(0, 200, 100, 300)),
        ("Q", "青年公寓", 900, box(400, 200, 500, 300)),
        ("R", "荣华里", 1000, box(480, 200, 600, 300)),
        ("S", "胜利新村", 700, box(500, 0, 600, 100)),
        ("T", "团结里", 700, box(400, 100, 500, 200)),
    ]
    return gpd.GeoDataFrame(
        {"compound_id": [r[0] for r in rows], "name": [r[1] for r in rows],
         "households": [r[2] for r in rows], "built_year": [1995] * 10 + [None]},
        geometry=[r[3] for r in rows], crs=CRS,
    )  # fmt: skip


def test_find_overlaps_classifies_every_pair() -> None:
    pairs = find_overlaps(nested_city())
    got = {(a, b): r for a, b, r in zip(pairs["compound_id_a"], pairs["compound_id_b"],
                                        pairs["relation"], strict=True)}  # fmt: skip
    assert got == {
        ("E", "E7"): "contains", ("E", "E9"): "contains", ("K", "K2"): "duplicate",
        ("P", "P1"): "contains", ("R", "Q"): "partial",
    }
    q = pairs.set_index(["compound_id_a", "compound_id_b"]).loc[("R", "Q")]
    assert (q["overlap_m2"], q["share_of_a"], q["share_of_b"]) == (2000.0, 0.1667, 0.2)
    assert (q["households_a"], q["households_b"]) == (1000, 900)
    e9 = pairs.set_index(["compound_id_a", "compound_id_b"]).loc[("E", "E9")]
    assert (e9["overlap_m2"], e9["share_of_b"], e9["area_a_m2"]) == (38_000.0, 1.0, 80_000.0)


def test_keep_children_drops_covered_parent_and_children_of_kept_parent() -> None:
    c = nested_city()
    before = c.copy()
    res = resolve_overlaps(c)
    assert c.equals(before)  # input untouched
    assert res.compounds["compound_id"].tolist() == ["E7", "E9", "K", "P", "Q", "R", "S", "T"]
    assert res.dropped[["compound_id", "households", "kept_compound_id"]].to_dict("records") == [
        {"compound_id": "E", "households": 3000, "kept_compound_id": "E7,E9"},
        {"compound_id": "K2", "households": 800, "kept_compound_id": "K"},
        {"compound_id": "P1", "households": 400, "kept_compound_id": "P"},
    ]
    assert res.dropped["reason"].tolist() == [
        "parent mostly covered (98%) by the 2 compounds inside it (E7, E9), which are kept",
        "duplicate of K: merged into it",
        "lies inside P (the parent is not mostly covered by the compounds inside it)",
    ]
    # the duplicate's missing attribute is filled from its copy (K2 has no built_year, K has)
    k = res.compounds.set_index("compound_id").loc["K"]
    assert k["built_year"] == 1995 and k["households"] == 800
    # R loses the 2,000 m2 it shares with Q; households unchanged
    r = res.compounds.set_index("compound_id").loc["R"]
    assert round(r.geometry.area, 6) == 10_000.0 and r["households"] == 1000
    assert res.clipped == ("R",)
    s = res.summary()
    assert (s["pairs"], s["duplicate_pairs"], s["contains_pairs"], s["partial_pairs"]) == (5, 1, 3, 1)
    assert s["dropped_households"] == 4200
    assert res.compounds["households"].sum() == 9600
    actions = dict(zip(zip(res.pairs["compound_id_a"], res.pairs["compound_id_b"], strict=True),
                       res.pairs["action"], strict=True))  # fmt: skip
    assert actions[("E", "E7")] == "contains: parent E dropped, E7 kept"
    assert actions[("P", "P1")] == "contains: P1 dropped, parent P kept"
    assert actions[("K", "K2")] == "duplicate: K2 merged into K"
    assert actions[("R", "Q")] == "partial: overlap clipped off R"
    lines = res.report_lines()
    assert lines[0].startswith("overlapping compounds: 5 pairs (1 duplicates, 3 nested, 1 partial")
    assert "  - E (3,000 households): parent mostly covered (98%)" in "\n".join(lines)
    # no two remaining compounds overlap
    g = res.compounds.geometry.to_numpy()
    assert max(shapely.area(shapely.intersection(a, b)) for a, b in itertools.combinations(g, 2)) < 1e-6


def test_keep_parent() -> None:
    res = resolve_overlaps(nested_city(), nested="keep-parent")
    assert res.compounds["compound_id"].tolist() == ["E", "K", "P", "Q", "R", "S", "T"]
    assert dict(zip(res.dropped["compound_id"], res.dropped["households"], strict=True)) == {
        "E7": 1600, "E9": 1400, "K2": 800, "P1": 400,
    }
    assert res.dropped.set_index("compound_id").loc["E7", "reason"] == (
        "lies inside E (parent kept (--nested keep-parent))"
    )


def test_districts_never_overlap_on_nested_aois() -> None:
    c = nested_city()
    # without resolving, the nested AOIs give overlapping districts (the defect of the issue)
    raw = propose_districts(c, build_adjacency(c), min_households=1500, max_households=4000)
    rg = raw.districts.geometry.to_numpy()
    assert max(shapely.area(shapely.intersection(a, b)) for a, b in itertools.combinations(rg, 2)) > 1000
    for rule in ("keep-children", "keep-parent"):
        ov = resolve_overlaps(c, nested=rule)
        res = propose_districts(ov.compounds, build_adjacency(ov.compounds),
                                min_households=1500, max_households=4000)  # fmt: skip
        g = res.districts.geometry.to_numpy()
        inter = [shapely.area(shapely.intersection(a, b)) for a, b in itertools.combinations(g, 2)]
        assert max(inter) < 1e-6, rule
        members = res.districts["compound_ids"].str.split(",").explode().tolist()
        assert sorted(members) == sorted(ov.compounds["compound_id"])
        assert res.districts["households"].sum() == ov.compounds["households"].sum()
    assert res.districts["households"].sum() == 9600  # keep-parent: E, K, P, Q, R, S, T


def test_no_overlaps_is_unchanged_and_errors() -> None:
    c = nested_city()
    plain = c[c["compound_id"].isin(["S", "T", "Q"])]
    res = resolve_overlaps(plain)
    assert not res.changed and len(res.pairs) == 0 and len(res.dropped) == 0
    assert res.compounds.equals(plain)
    with pytest.raises(InputError, match="nested must be one of keep-children, keep-parent"):
        resolve_overlaps(c, nested="keep-both")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="duplicate compound_id values: E"):
        resolve_overlaps(pd.concat([c, c.iloc[:1]]))
    with pytest.raises(InputError, match="has no 'compound_id' column|have no 'compound_id'"):
        resolve_overlaps(c.drop(columns="compound_id"))


def test_pipeline_writes_overlaps_and_reports_dropped(tmp_path, caplog) -> None:  # type: ignore[no-untyped-def]
    from renogis.cli import main

    src = tmp_path / "city.gpkg"
    nested_city().to_file(src, layer="compounds", driver="GPKG")
    out = tmp_path / "out"
    with caplog.at_level("WARNING"):
        assert main(["districts", str(src), "--out", str(out), "--lang", "en"]) == 0
    assert "dropped 3 compounds with 4200 households (E (3,000 hh), K2 (800 hh), P1 (400 hh))" in caplog.text
    csv = pd.read_csv(out / "overlaps.csv", encoding="utf-8-sig")
    assert len(csv) == 5 and set(csv["relation"]) == {"contains", "duplicate", "partial"}
    text = (out / "validation.txt").read_text(encoding="utf-8")
    assert "  - P1 (400 households): lies inside P" in text
    run = json.loads((out / "run.json").read_text(encoding="utf-8"))
    ov = run["summary"]["overlaps"]
    assert [d["compound_id"] for d in ov["dropped"]] == ["E", "K2", "P1"]
    assert ov["dropped_households"] == 4200 and ov["nested"] == "keep-children"
    assert run["parameters"]["nested"] == "keep-children"
    d = gpd.read_file(out / "districts.gpkg", layer="districts")
    g = d.geometry.to_numpy()
    assert all(shapely.area(shapely.intersection(a, b)) < 1e-6 for a, b in itertools.combinations(g, 2))
    out2 = tmp_path / "out2"
    assert main(["districts", str(src), "--out", str(out2), "--nested", "keep-parent"]) == 0
    run2 = json.loads((out2 / "run.json").read_text(encoding="utf-8"))
    assert [d["compound_id"] for d in run2["summary"]["overlaps"]["dropped"]] == ["E7", "E9", "K2", "P1"]
    assert np.isclose(gpd.read_file(out2 / "districts.gpkg", layer="districts")["households"].sum(), 9600)


def test_sample_districts_do_not_overlap_and_walls_are_walls() -> None:
    from renogis.datasets import sample_path
    from renogis.validate import load

    ds = load(sample_path())
    ov = resolve_overlaps(ds.compounds)
    assert not ov.changed and len(ov.compounds) == 65
    G = build_adjacency(ov.compounds, parcels=ds.get("parcels"), streets=ds.get("streets"),
                        barriers=ds.get("barriers"))  # fmt: skip
    res = propose_districts(ov.compounds, G, parcels=ds.get("parcels"))
    g = res.districts.geometry.to_numpy()
    assert all(shapely.area(shapely.intersection(a, b)) < 1e-6 for a, b in itertools.combinations(g, 2))
    assert all(d["wall_m"] <= d["facing_m"] for _, _, d in G.edges(data=True))
    walls = res.walls
    assert walls is not None and len(walls) > 0
    # every listed wall joins two compounds of its district, and the lists add up to wall_m
    did = res.compounds.set_index("compound_id")["district_id"]
    assert (did.loc[walls["compound_id_a"]].to_numpy() == walls["district_id"].to_numpy()).all()
    assert (did.loc[walls["compound_id_b"]].to_numpy() == walls["district_id"].to_numpy()).all()
    total = walls.groupby("district_id")["wall_m"].sum().reindex(res.districts["district_id"]).fillna(0)
    assert np.allclose(total.to_numpy(), res.districts["wall_m"].to_numpy(), atol=0.01)
    # a pair facing each other across a street over its whole length lists no wall
    across = [(u, v) for u, v, d in G.edges(data=True)
              if d["street_between"] and d["wall_m"] == 0 and d["facing_m"] > 0]  # fmt: skip
    listed = set(zip(walls["compound_id_a"], walls["compound_id_b"], strict=True))
    assert across and not any((min(u, v), max(u, v)) in listed for u, v in across)
