"""Standards profiles: bundled TOML files, validation messages, demand rules."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from renogis._errors import InputError, StandardsError
from renogis.schema import CATEGORIES
from renogis.standards import (
    DEMAND_KINDS,
    LEVELS,
    CategoryRule,
    Standards,
    list_profiles,
    load_standards,
)

GOOD_CATEGORY = """
[categories.{key}]
name_zh = "幼儿园"
name_en = "Kindergarten"
level = "5min"
radius_m = 300.0
demand = {{ kind = "per_1000_residents", amount = 30.0, unit = "seats" }}
capacity_unit = "seats"
min_building_m2 = 0.0
min_land_m2 = 0.0
source = "test"
verified = false
"""


def write(tmp_path: Path, text: str, name: str = "city.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def full_file(tmp_path: Path, *, header: str | None = None, **overrides: str) -> Path:
    """A complete standalone file; ``overrides[key]`` replaces the table of a category."""
    head = (
        header
        if header is not None
        else ('name = "city"\npersons_per_household = 2.5\nelderly_share = 0.2\n')
    )
    body = "".join(overrides.get(k, GOOD_CATEGORY.format(key=k)) for k in CATEGORIES)
    return write(tmp_path, head + body)


# --------------------------------------------------------------------------- bundled
def test_bundled_profiles_listed():
    assert list_profiles() == ("complete_community", "gb50180_2018")


def test_default_profile_has_every_category_in_schema_order():
    std = load_standards()
    assert isinstance(std, Standards)
    assert std.name == "gb50180_2018"
    assert tuple(std.categories) == tuple(CATEGORIES)
    assert len(std.categories) == 18
    assert std.persons_per_household == 2.62
    assert std.elderly_share == 0.187
    assert std.population_verified is False
    assert std.base is None
    assert "gb50180_2018.toml" in std.source_path
    for key, rule in std.categories.items():
        assert isinstance(rule, CategoryRule)
        assert rule.key == key
        assert rule.name_zh == CATEGORIES[key]
        assert rule.level in LEVELS
        assert rule.radius_m > 0
        assert rule.demand_kind in DEMAND_KINDS
        assert rule.demand_unit == rule.capacity_unit
        assert rule.source.strip()


def test_recall_rows_are_not_verified():
    std = load_standards()
    # only the nursery rule has every number SEEN (Anhui 300 m, national 4.5 per 1000)
    assert {k for k, r in std.categories.items() if r.verified} == {"nursery"}
    nursery = std.categories["nursery"].source
    assert nursery.count("(SEEN") == 2 and "300米" in nursery and "4.5 places" in nursery
    for key, rule in std.categories.items():
        if key != "nursery" and (
            "RECALL" in rule.source or "planning default" in rule.source or "derived" in rule.source
        ):
            assert rule.verified is False, key


def test_default_profile_values():
    cats = load_standards().categories
    assert (cats["kindergarten"].level, cats["kindergarten"].radius_m) == ("5min", 300.0)
    assert (cats["primary_school"].level, cats["primary_school"].radius_m) == ("10min", 500.0)
    assert (cats["middle_school"].level, cats["middle_school"].radius_m) == ("15min", 1000.0)
    assert (cats["health_center"].min_building_m2, cats["health_center"].min_land_m2) == (
        1700.0,
        1420.0,
    )
    assert (cats["elderly_home"].demand_kind, cats["elderly_home"].demand_amount) == (
        "per_1000_elderly",
        40.0,
    )
    assert (cats["nursery"].demand_amount, cats["nursery"].capacity_unit) == (4.5, "places")
    assert cats["convenience_store"].level == "block"
    assert cats["parking"].demand_kind == "per_household"


def test_complete_community_overrides_base():
    base = load_standards("gb50180_2018")
    cc = load_standards("complete_community")
    assert cc.name == "complete_community"
    assert cc.base == "gb50180_2018"
    assert tuple(cc.categories) == tuple(CATEGORIES)
    assert cc.categories["service_station"].min_building_m2 == 800.0
    assert cc.categories["parking"].demand_amount == 1.0
    assert cc.categories["ev_charging"].demand_amount == 1.0
    assert cc.categories["convenience_store"].min_building_m2 == 300.0
    # untouched fields and categories are inherited
    assert cc.categories["service_station"].radius_m == 300.0
    assert cc.categories["elderly_home"] == base.categories["elderly_home"]
    assert cc.persons_per_household == 2.62


def test_to_frame():
    df = load_standards().to_frame()
    assert len(df) == 18
    assert list(df.columns[:3]) == ["key", "name_zh", "name_en"]
    assert df.loc[df.key == "kindergarten", "radius_m"].item() == 300.0


def test_user_file_with_relative_base_path(tmp_path):
    full_file(tmp_path)  # city.toml
    child = write(
        tmp_path,
        'base = "city.toml"\nname = "child"\n[categories.kindergarten]\nradius_m = 250\n',
        name="child.toml",
    )
    std = load_standards(child)
    assert std.name == "child"
    assert std.categories["kindergarten"].radius_m == 250.0
    assert std.categories["kindergarten"].name_en == "Kindergarten"
    assert std.persons_per_household == 2.5


def test_user_file_based_on_bundled_profile(tmp_path):
    path = write(
        tmp_path,
        'base = "gb50180_2018"\nname = "jinan"\nelderly_share = 0.22\n'
        '[categories.nursery]\ndemand = { kind = "per_1000_residents", amount = 6.0, '
        'unit = "places" }\n',
    )
    std = load_standards(str(path))
    assert std.elderly_share == 0.22
    assert std.categories["nursery"].demand_amount == 6.0
    assert std.categories["nursery"].radius_m == 300.0


# --------------------------------------------------------------------------- demand rules
def test_demand_per_1000_residents_uses_population_or_estimate():
    std = load_standards()
    d = std.demand("kindergarten", [1000, 1000], [2000.0, np.nan])
    assert d.tolist() == pytest.approx([60.0, 30.0 * 2.62])


def test_demand_without_population_estimates_it():
    std = load_standards()
    assert std.demand("nursery", [1000]).tolist() == pytest.approx([4.5 * 2.62])


def test_demand_per_100_households():
    std = load_standards()
    assert std.demand("service_station", [250, 0], [9999.0, 1.0]).tolist() == pytest.approx(
        [75.0, 0.0]
    )
    assert std.demand("elderly_day_care", [250]).tolist() == pytest.approx([50.0])


def test_demand_per_1000_elderly():
    std = load_standards()
    # 40 beds x 1000 residents x 0.187 elderly / 1000
    assert std.demand("elderly_home", [400], [1000.0]).tolist() == pytest.approx([7.48])
    rule = std.categories["elderly_home"]
    assert rule.demand([400], [1000.0], elderly_share=0.25).tolist() == pytest.approx([10.0])


def test_demand_per_household():
    std = load_standards()
    assert std.demand("parking", [120, 7]).tolist() == pytest.approx([60.0, 3.5])
    assert load_standards("complete_community").demand("parking", [120]).tolist() == [120.0]


def test_unknown_category_lookup():
    with pytest.raises(StandardsError, match="has no category 'school'"):
        load_standards().rule("school")


# --------------------------------------------------------------------------- errors
def test_error_is_input_error_and_names_file(tmp_path):
    path = full_file(
        tmp_path,
        kindergarten=GOOD_CATEGORY.format(key="kindergarten").replace(
            "radius_m = 300.0", "radius_m = -5.0"
        ),
    )
    with pytest.raises(InputError) as info:
        load_standards(path)
    assert str(path) in str(info.value)
    assert info.value.problems == [
        "category 'kindergarten', field 'radius_m': -5.0 must be a positive number of metres"
    ]


def test_error_negative_radius(tmp_path):
    path = full_file(
        tmp_path,
        nursery=GOOD_CATEGORY.format(key="nursery").replace("radius_m = 300.0", "radius_m = -1"),
    )
    with pytest.raises(
        StandardsError,
        match=re.escape(
            "category 'nursery', field 'radius_m': -1 must be a positive number of metres"
        ),
    ):
        load_standards(path)


def test_error_unknown_field_with_suggestion(tmp_path):
    path = full_file(
        tmp_path,
        clinic=GOOD_CATEGORY.format(key="clinic").replace(
            "radius_m = 300.0", "radius_m = 300.0\nradius = 300.0"
        ),
    )
    with pytest.raises(
        StandardsError,
        match=re.escape(
            "category 'clinic': unknown field 'radius'; remove it (did you mean 'radius_m'?)"
        ),
    ):
        load_standards(path)


def test_error_missing_field(tmp_path):
    path = full_file(
        tmp_path, canteen=GOOD_CATEGORY.format(key="canteen").replace('source = "test"\n', "")
    )
    with pytest.raises(
        StandardsError,
        match=re.escape("category 'canteen': missing field 'source'; add it (a string)"),
    ):
        load_standards(path)


def test_error_wrong_type(tmp_path):
    path = full_file(
        tmp_path,
        fitness=GOOD_CATEGORY.format(key="fitness").replace("radius_m = 300.0", 'radius_m = "300"'),
    )
    with pytest.raises(
        StandardsError,
        match=re.escape("category 'fitness': field 'radius_m' must be a number, got '300' (str)"),
    ):
        load_standards(path)


def test_error_bool_is_not_a_number(tmp_path):
    path = full_file(
        tmp_path,
        parking=GOOD_CATEGORY.format(key="parking").replace(
            "min_land_m2 = 0.0", "min_land_m2 = true"
        ),
    )
    with pytest.raises(
        StandardsError,
        match=re.escape(
            "category 'parking': field 'min_land_m2' must be a number, got True (bool)"
        ),
    ):
        load_standards(path)


def test_error_verified_must_be_bool(tmp_path):
    path = full_file(
        tmp_path,
        parking=GOOD_CATEGORY.format(key="parking").replace("verified = false", 'verified = "no"'),
    )
    with pytest.raises(
        StandardsError,
        match=re.escape(
            "category 'parking': field 'verified' must be true or false, got 'no' (str)"
        ),
    ):
        load_standards(path)


def test_error_demand_subfield(tmp_path):
    path = full_file(
        tmp_path,
        food_market=GOOD_CATEGORY.format(key="food_market").replace(
            'amount = 30.0, unit = "seats" }', "amount = 30.0 }"
        ),
    )
    with pytest.raises(
        StandardsError,
        match=re.escape(
            "category 'food_market', field 'demand': missing field 'unit'; add it (a string)"
        ),
    ):
        load_standards(path)


def test_error_unknown_level(tmp_path):
    path = full_file(
        tmp_path, kindergarten=GOOD_CATEGORY.format(key="kindergarten").replace('"5min"', '"5-min"')
    )
    with pytest.raises(
        StandardsError,
        match=re.escape(
            "category 'kindergarten', field 'level': '5-min' "
            "is not one of 5min, 10min, 15min, block"
        ),
    ):
        load_standards(path)


def test_error_unknown_demand_kind(tmp_path):
    path = full_file(
        tmp_path,
        kindergarten=GOOD_CATEGORY.format(key="kindergarten").replace(
            "per_1000_residents", "per_person"
        ),
    )
    with pytest.raises(
        StandardsError,
        match=re.escape("field 'demand.kind': 'per_person' is not one of per_1000_residents"),
    ):
        load_standards(path)


def test_error_negative_amount_and_min_area(tmp_path):
    path = full_file(
        tmp_path,
        kindergarten=GOOD_CATEGORY.format(key="kindergarten")
        .replace("amount = 30.0", "amount = -2")
        .replace("min_land_m2 = 0.0", "min_land_m2 = -1"),
    )
    with pytest.raises(StandardsError) as info:
        load_standards(path)
    assert info.value.problems == [
        "category 'kindergarten', field 'min_land_m2': -1 must be >= 0 (0 = no minimum)",
        "category 'kindergarten', field 'demand.amount': -2 must be >= 0",
    ]


def test_error_unit_mismatch(tmp_path):
    path = full_file(
        tmp_path,
        kindergarten=GOOD_CATEGORY.format(key="kindergarten").replace(
            'capacity_unit = "seats"', 'capacity_unit = "m2"'
        ),
    )
    with pytest.raises(
        StandardsError,
        match=re.escape(
            "field 'demand.unit': 'seats' differs from capacity_unit 'm2'; use the same unit"
        ),
    ):
        load_standards(path)


def test_error_unknown_category(tmp_path):
    path = full_file(
        tmp_path,
        header='name = "city"\npersons_per_household = 2.5\n'
        "elderly_share = 0.2\n" + GOOD_CATEGORY.format(key="kindergarden"),
    )
    with pytest.raises(
        StandardsError,
        match=re.escape(
            "category 'kindergarden': unknown category; rename it (did you mean 'kindergarten'?)"
        ),
    ):
        load_standards(path)


def test_error_missing_categories(tmp_path):
    path = write(
        tmp_path,
        'name = "city"\npersons_per_household = 2.5\nelderly_share = 0.2\n'
        + GOOD_CATEGORY.format(key="kindergarten"),
    )
    with pytest.raises(
        StandardsError, match=re.escape("categories: missing nursery, elderly_day_care,")
    ) as info:
        load_standards(path)
    assert 'declare base = "gb50180_2018" to inherit them' in str(info.value)


def test_error_header_missing_and_unknown(tmp_path):
    path = full_file(tmp_path, header='name = "city"\nelderly_share = 0.2\nauthor = "me"\n')
    with pytest.raises(StandardsError) as info:
        load_standards(path)
    assert info.value.problems == [
        "header: unknown field 'author'; remove it (allowed: base, name, title, version, "
        "persons_per_household, elderly_share, population_source, population_verified, categories)",
        "header: missing field 'persons_per_household'; add it (a number)",
    ]


def test_error_elderly_share_range(tmp_path):
    path = full_file(
        tmp_path, header='name = "c"\npersons_per_household = 2.5\nelderly_share = 18.7\n'
    )
    with pytest.raises(
        StandardsError,
        match=re.escape("header, field 'elderly_share': 18.7 must be a share between 0 and 1"),
    ):
        load_standards(path)


def test_error_persons_per_household_positive(tmp_path):
    path = full_file(
        tmp_path, header='name = "c"\npersons_per_household = 0\nelderly_share = 0.2\n'
    )
    with pytest.raises(
        StandardsError, match=re.escape("header, field 'persons_per_household': 0 must be > 0")
    ):
        load_standards(path)


def test_error_invalid_toml(tmp_path):
    path = write(tmp_path, 'name = "city\n')
    with pytest.raises(StandardsError, match=re.escape(f"standards file {path}: not valid TOML (")):
        load_standards(path)


def test_error_file_not_found():
    with pytest.raises(
        StandardsError,
        match=re.escape(
            "standards file 'shanghai' not found: pass a bundled profile name "
            "(complete_community, gb50180_2018) or the path of a TOML file"
        ),
    ):
        load_standards("shanghai")


def test_error_base_cycle(tmp_path):
    write(tmp_path, 'base = "b.toml"\nname = "a"\n', name="a.toml")
    write(tmp_path, 'base = "a.toml"\nname = "b"\n', name="b.toml")
    with pytest.raises(StandardsError, match="'base' chain loops back"):
        load_standards(tmp_path / "a.toml")


def test_error_base_not_a_string(tmp_path):
    path = write(tmp_path, 'base = 3\nname = "a"\n')
    with pytest.raises(
        StandardsError,
        match=re.escape("field 'base' must be a string (a profile name or a path), got int"),
    ):
        load_standards(path)


def test_error_category_not_a_table(tmp_path):
    path = write(tmp_path, 'base = "gb50180_2018"\nname = "a"\ncategories = { clinic = 3 }\n')
    with pytest.raises(
        StandardsError,
        match=re.escape("category 'clinic': must be a table [categories.clinic], got int"),
    ):
        load_standards(path)


def test_every_problem_is_reported(tmp_path):
    path = full_file(
        tmp_path,
        kindergarten=GOOD_CATEGORY.format(key="kindergarten").replace(
            "radius_m = 300.0", "radius_m = 0"
        ),
        nursery=GOOD_CATEGORY.format(key="nursery").replace('level = "5min"', 'level = "20min"'),
    )
    with pytest.raises(StandardsError, match=r"2 problem\(s\)") as info:
        load_standards(path)
    assert len(info.value.problems) == 2


# --------------------------------------------------------------------------- site rules
def test_site_rules_of_the_default_profile():
    cats = load_standards().categories
    independent = {k for k, r in cats.items() if r.independent_site}
    assert independent == {"kindergarten", "elderly_home", "primary_school", "middle_school"}
    for key, rule in cats.items():
        assert rule.site_source.strip(), key
        assert rule.site_verified is False, key  # derived or planning defaults: all unverified
        assert rule.m2_per_unit("idle_building") > 0, key
        if rule.capacity_unit == "m2":
            assert rule.building_m2_per_unit == 1.0, key
        for lo, hi in (("min_building_m2", "max_building_m2"), ("min_land_m2", "max_land_m2")):
            assert getattr(rule, hi) == 0 or getattr(rule, hi) >= getattr(rule, lo), key
    home = cats["elderly_home"]
    # GB 50437: 35 m2 of building, 18 m2 of land per bed (SEEN); 761 m2 -> 21.7 beds
    assert (home.m2_per_unit("idle_building"), home.m2_per_unit("vacant_land")) == (35.0, 18.0)
    assert home.max_area_m2("idle_building") == 17500.0
    assert home.max_area_m2("vacant_land") == 22000.0
    assert cats["nursery"].verified is True and cats["nursery"].site_verified is False
    assert cats["canteen"].m2_per_unit("vacant_land") == 2.5  # no land figure: one storey
    assert cats["nursery"].max_area_m2("idle_building") == float("inf")
    assert cats["kindergarten"].m2_per_unit("vacant_land") == 21.1


def test_site_table_is_optional_and_merges_with_base(tmp_path):
    std = load_standards(full_file(tmp_path))  # no site tables
    rule = std.categories["kindergarten"]
    assert (rule.independent_site, rule.building_m2_per_unit, rule.m2_per_unit("idle_building")) == (
        False,
        0.0,
        0.0,
    )
    path = write(
        tmp_path,
        'base = "gb50180_2018"\nname = "city2"\n'
        "[categories.elderly_home.site]\nbuilding_m2_per_unit = 40.0\n",
        name="city2.toml",
    )
    home = load_standards(path).categories["elderly_home"]
    assert home.building_m2_per_unit == 40.0
    assert home.independent_site is True and home.land_m2_per_unit == 18.0  # from the base
    cc = load_standards("complete_community").categories["convenience_store"]
    assert (cc.min_building_m2, cc.max_building_m2) == (300.0, 0.0)


def test_error_site_fields(tmp_path):
    bad = GOOD_CATEGORY.format(key="kindergarten").replace(
        "min_building_m2 = 0.0", "min_building_m2 = 3150.0"
    ) + (
        "[categories.kindergarten.site]\nindependant = true\nbuilding_m2_per_unit = -1.0\n"
        "max_building_m2 = 3000.0\n"
    )
    with pytest.raises(StandardsError) as info:
        load_standards(full_file(tmp_path, kindergarten=bad))
    assert info.value.problems == [
        "category 'kindergarten', field 'site': unknown field 'independant'; "
        "remove it (did you mean 'independent'?)",
    ]
    bad = bad.replace("independant", "independent")
    with pytest.raises(StandardsError) as info:
        load_standards(full_file(tmp_path, kindergarten=bad))
    assert info.value.problems == [
        "category 'kindergarten', field 'site.building_m2_per_unit': -1.0 must be >= 0 "
        "(0 = not given)",
        "category 'kindergarten', field 'site.max_building_m2': 3000.0 is below "
        "min_building_m2 3150.0; raise it or set 0 (no maximum)",
    ]
