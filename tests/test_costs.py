"""Cost profiles: loading, checks, options."""

from __future__ import annotations

import pytest

from renogis._errors import InputError
from renogis.costs import CLASSES, load_costs, parse_funding_shares


def test_bundled_profile_is_unverified_and_complete():
    p = load_costs()
    assert p.name == "renovation_2021"
    assert not p.all_verified and not any(i.verified for i in p.items.values())
    assert {i.cls for i in p.items.values()} == set(CLASSES)
    for key in CLASSES:
        assert sum(p.funding_shares[key].values()) == pytest.approx(1.0)
    assert all(i.low <= i.high and i.source for i in p.items.values())
    assert p.parking_per_household == 0.5 and p.heating_min_latitude == 33.0


def test_funding_share_option_rescales_the_others():
    p = load_costs().with_options(funding_shares=[("basic", "residents", 0.25)])
    s = p.funding_shares["basic"]
    assert s["residents"] == pytest.approx(0.25)
    # the other 0.95 were scaled to 0.75: central 0.45 -> 0.45 x 0.75 / 0.95
    assert s["central_subsidy"] == pytest.approx(0.45 * 0.75 / 0.95)
    assert sum(s.values()) == pytest.approx(1.0)
    assert load_costs().funding_shares["basic"]["residents"] == pytest.approx(0.05)  # original untouched


@pytest.mark.parametrize(
    "share, match",
    [
        (("nope", "residents", 0.1), "unknown key 'nope'"),
        (("basic", "banks", 0.1), "unknown source 'banks'"),
        (("basic", "residents", 1.5), "between 0 and 1"),
    ],
)
def test_bad_funding_share(share, match):
    with pytest.raises(InputError, match=match):
        load_costs().with_options(funding_shares=[share])


def test_parse_funding_shares():
    assert parse_funding_shares(["complete:residents=30%", "basic:utilities=0.2"]) == (
        ("complete", "residents", 0.3),
        ("basic", "utilities", 0.2),
    )
    with pytest.raises(InputError, match="KEY:SOURCE=SHARE"):
        parse_funding_shares(["residents=0.2"])


def test_city_file_overrides_a_base(tmp_path):
    f = tmp_path / "city.toml"
    f.write_text(
        'base = "renovation_2021"\nname = "city"\n[items.lift_retrofit]\nlow = 300000.0\n'
        'high = 350000.0\nverified = true\nsource = "city price list 2024"\n',
        encoding="utf-8",
    )
    p = load_costs(f)
    assert (
        p.name == "city" and p.items["lift_retrofit"].low == 300_000.0 and p.items["lift_retrofit"].verified
    )
    assert p.items["utilities"].low == 150.0  # from the base


def test_bad_cost_file_lists_problems(tmp_path):
    f = tmp_path / "bad.toml"
    f.write_text(
        'base = "renovation_2021"\n[items.utilities]\nlow = 500.0\nhigh = 100.0\nclass = "luxury"\n'
        "[funding.shares.basic]\nresidents = 0.9\n",
        encoding="utf-8",
    )
    with pytest.raises(
        InputError,
        match=r"bad.toml.*items.utilities.class: 'luxury'.*low <= high.*"
        r"funding.shares.basic: shares must be >= 0 and sum to 1",
    ):
        load_costs(f)
    with pytest.raises(InputError, match="cost file 'missing.toml' not found"):
        load_costs("missing.toml")
