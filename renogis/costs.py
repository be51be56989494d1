"""Unit costs, funding shares and the property-management model as data (TOML).

A cost profile lists, per renovation item, its class (基础类 ``basic``, 完善类 ``complete``,
提升类 ``upgrade``), its unit, a low/high range of yuan per unit, a ``source`` and a
``verified`` flag; the funding split by source (shares per class, or per item); and the
property-management staffing model used by :mod:`renogis.viability`. One profile ships with
renogis (package ``renogis.data.costs``): ``renovation_2021``, every number of which is
unverified. A city passes its own file (a path) with the same layout, optionally
``base = "renovation_2021"`` and only the fields that differ.

Examples
--------
>>> prof = load_costs()
>>> prof.items["lift_retrofit"].low, prof.items["lift_retrofit"].unit
(400000.0, 'lift')
>>> prof.shares_for("lift_retrofit")["residents"]
0.6
>>> prof.property.fee_yuan_m2_month
0.5
"""

from __future__ import annotations

import builtins
import logging
import math
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

from renogis import config
from renogis._errors import InputError

logger = logging.getLogger(__name__)

__all__ = [
    "CLASSES",
    "CLASS_NAMES",
    "UNITS",
    "DEFAULT_COSTS",
    "CostItem",
    "FundingSource",
    "PropertyModel",
    "CostProfile",
    "load_costs",
    "list_cost_profiles",
    "parse_funding_shares",
]

#: Renovation classes of 国办发〔2020〕23号, in the order "先民生、后提升".
CLASSES: Final = ("basic", "complete", "upgrade")
CLASS_NAMES: Final[Mapping[str, Mapping[str, str]]] = MappingProxyType(
    {
        "basic": {"zh": "基础类", "en": "basic"},
        "complete": {"zh": "完善类", "en": "complete"},
        "upgrade": {"zh": "提升类", "en": "upgrade"},
    }
)
#: Units a cost item may be priced in, with display names.
UNITS: Final[Mapping[str, Mapping[str, str]]] = MappingProxyType(
    {
        "m2_floor_area": {"zh": "m² 建筑面积", "en": "m² floor area"},
        "m2_facility": {"zh": "m² 设施建筑面积", "en": "m² facility floor area"},
        "m2_land": {"zh": "m² 场地", "en": "m² ground"},
        "lift": {"zh": "部", "en": "lifts"},
        "parking_space": {"zh": "个车位", "en": "spaces"},
        "m_wall": {"zh": "m 围墙", "en": "m of wall"},
        "gate": {"zh": "处出入口", "en": "entrances"},
        "household": {"zh": "户", "en": "households"},
    }
)
DEFAULT_COSTS: Final = config.COSTS
_PACKAGE: Final = "renogis.data.costs"


@dataclass(frozen=True)
class CostItem:
    """One priced renovation item: yuan per ``unit``, low and high."""

    key: str
    cls: str
    name_zh: str
    name_en: str
    unit: str
    low: float
    high: float
    source: str
    verified: bool

    def name(self, lang: str) -> str:
        """Display name in ``lang``."""
        return self.name_zh if lang == "zh" else self.name_en


@dataclass(frozen=True)
class FundingSource:
    """A funding source (who pays)."""

    key: str
    name_zh: str
    name_en: str

    def name(self, lang: str) -> str:
        """Display name in ``lang``."""
        return self.name_zh if lang == "zh" else self.name_en


@dataclass(frozen=True)
class PropertyModel:
    """Property-management viability model (yuan per month).

    cost = ``fixed_yuan_per_site_month`` + ``per_household_yuan_month`` x households
    + ``per_m2_yuan_month`` x floor area; income = floor area x ``fee_yuan_m2_month``
    x ``collection_rate``.
    """

    fee_yuan_m2_month: float
    collection_rate: float
    fixed_yuan_per_site_month: float
    per_household_yuan_month: float
    per_m2_yuan_month: float
    source: str = ""
    fee_source: str = ""
    collection_source: str = ""
    verified: bool = False


@dataclass(frozen=True)
class CostProfile:
    """A loaded cost profile."""

    name: str
    source_path: str
    items: Mapping[str, CostItem]
    facilities: Mapping[str, Mapping[str, Any]]
    funding_sources: Mapping[str, FundingSource]
    funding_shares: Mapping[str, Mapping[str, float]]
    property: PropertyModel
    heating_min_latitude: float
    parking_per_household: float
    title: str = ""
    price_year: int | None = None
    funding_verified: bool = False
    heating_source: str = ""
    parking_source: str = ""

    def __hash__(self) -> int:
        return hash((self.name, self.source_path))

    def shares_for(self, item: str) -> Mapping[str, float]:
        """Funding shares of ``item``: its own table if it has one, else its class's."""
        if item in self.funding_shares:
            return self.funding_shares[item]
        return self.funding_shares[self.items[item].cls]

    @builtins.property
    def all_verified(self) -> bool:
        """True only when every number of the profile was checked."""
        return (
            all(i.verified for i in self.items.values()) and self.property.verified and self.funding_verified
        )

    def with_options(
        self,
        *,
        funding_shares: Iterable[tuple[str, str, float]] = (),
        fee_yuan_m2_month: float | None = None,
        collection_rate: float | None = None,
        parking_per_household: float | None = None,
    ) -> CostProfile:
        """Copy with run options applied.

        Parameters
        ----------
        funding_shares : iterable of (key, source, share)
            ``key`` is a class or an item with its own share table. The given source gets
            ``share``; the other sources of ``key`` are scaled so that the shares still sum to 1.
        fee_yuan_m2_month, collection_rate, parking_per_household : float, optional
            Replace the profile's values.

        Examples
        --------
        >>> p = load_costs().with_options(funding_shares=[("basic", "residents", 0.25)])
        >>> s = p.funding_shares["basic"]
        >>> round(s["residents"], 2), round(sum(s.values()), 9)
        (0.25, 1.0)
        """
        shares = _scaled_shares(self.funding_shares, funding_shares, sources=self.funding_sources)
        prop = _property_options(self.property, fee_yuan_m2_month=fee_yuan_m2_month,
                                 collection_rate=collection_rate)  # fmt: skip
        parking = self.parking_per_household
        parking_source = self.parking_source
        if parking_per_household is not None:
            if parking_per_household < 0:
                raise InputError(f"--parking-per-household {parking_per_household}: give 0 or more")
            parking = float(parking_per_household)
            parking_source = "given by the run (--parking-per-household)"
        return replace(
            self,
            funding_shares=MappingProxyType({k: MappingProxyType(v) for k, v in shares.items()}),
            property=prop,
            parking_per_household=parking,
            parking_source=parking_source,
        )


def _scaled_shares(
    base: Mapping[str, Mapping[str, float]],
    given: Iterable[tuple[str, str, float]],
    *,
    sources: Mapping[str, FundingSource],
) -> dict[str, dict[str, float]]:
    """Funding share tables with the given (key, source, share) set, the other sources scaled to sum to 1."""
    shares = {k: dict(v) for k, v in base.items()}
    for key, src, share in given:
        if key not in shares:
            raise InputError(
                f"--funding-share {key}:{src}={share}: unknown key {key!r}; use a class "
                f"({', '.join(CLASSES)}) or an item with its own share table "
                f"({', '.join(k for k in shares if k not in CLASSES)})"
            )
        if src not in sources:
            raise InputError(
                f"--funding-share {key}:{src}={share}: unknown source {src!r}; use one of "
                f"{', '.join(sources)}"
            )
        if not 0.0 <= share <= 1.0:
            raise InputError(f"--funding-share {key}:{src}={share}: a share lies between 0 and 1")
        table = shares[key]
        rest = sum(v for s, v in table.items() if s != src)
        for s in table:
            if s != src:
                table[s] = table[s] * (1.0 - share) / rest if rest > 0 else 0.0
        if rest <= 0 and share < 1.0:
            raise InputError(
                f"--funding-share {key}:{src}={share}: no other source of {key} has a share to "
                "scale; give the other shares too"
            )
        table[src] = share
    return shares


def _property_options(
    prop: PropertyModel, *, fee_yuan_m2_month: float | None, collection_rate: float | None
) -> PropertyModel:
    """The property model with the run's fee and collection rate, if given."""
    if fee_yuan_m2_month is not None:
        if not fee_yuan_m2_month > 0:
            raise InputError(f"--property-fee {fee_yuan_m2_month}: give a fee above 0 (yuan/m² a month)")
        prop = replace(
            prop,
            fee_yuan_m2_month=float(fee_yuan_m2_month),
            fee_source="given by the run (--property-fee)",
        )
    if collection_rate is not None:
        if not 0 < collection_rate <= 1:
            raise InputError(f"--collection-rate {collection_rate}: give a share in (0, 1]")
        prop = replace(
            prop,
            collection_rate=float(collection_rate),
            collection_source="given by the run (--collection-rate)",
        )
    return prop


def list_cost_profiles() -> tuple[str, ...]:
    """Names of the bundled cost profiles."""
    root = resources.files(_PACKAGE)
    return tuple(sorted(p.name[:-5] for p in root.iterdir() if p.name.endswith(".toml")))


def _read(source: str | Path, relative_to: Path | None, seen: tuple[str, ...]) -> tuple[dict, str]:
    if isinstance(source, str) and source in list_cost_profiles():
        res: Any = resources.files(_PACKAGE).joinpath(f"{source}.toml")
        display, path = f"{source} (bundled)", None
    else:
        path = Path(source)
        if relative_to is not None and not path.is_absolute():
            path = relative_to / path
        if not path.is_file():
            raise InputError(
                f"cost file {str(source)!r} not found: pass a bundled profile "
                f"({', '.join(list_cost_profiles())}) or the path of a TOML file"
            )
        res, display = path, str(path)
    if display in seen:
        raise InputError(f"cost file {display}: 'base' chain loops back; remove the cycle")
    try:
        with res.open("rb") as fh:
            raw = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"cost file {display}: not valid TOML ({exc}); fix the syntax") from None
    base = raw.get("base")
    if base is None:
        return raw, display
    if not isinstance(base, str):
        raise InputError(f"cost file {display}: 'base' must be a profile name or a path")
    base_raw, _ = _read(base, path.parent if path is not None else None, seen + (display,))
    return _merge(base_raw, raw), display


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in base.items() if k != "base"}
    for key, value in over.items():
        if key == "base":
            continue
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _num(
    table: Mapping[str, Any], key: str, where: str, problems: list[str], *, default: float | None = None
) -> float:
    v = table.get(key, default)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(float(v)):
        problems.append(f"{where}.{key}: expected a number, got {v!r}")
        return float("nan")
    return float(v)


def _str(
    table: Mapping[str, Any], key: str, where: str, problems: list[str], default: str | None = None
) -> str:
    v = table.get(key, default)
    if not isinstance(v, str):
        problems.append(f"{where}.{key}: expected a string, got {v!r}")
        return ""
    return v


def _bool(table: Mapping[str, Any], key: str, where: str, problems: list[str]) -> bool:
    v = table.get(key)
    if not isinstance(v, bool):
        problems.append(f"{where}.{key}: expected true or false, got {v!r} (unchecked numbers: false)")
        return False
    return v


def load_costs(source: str | Path = DEFAULT_COSTS) -> CostProfile:
    """Load a cost profile (bundled name or TOML path) and check every field.

    Raises
    ------
    InputError
        Listing every problem: missing or mistyped fields, an unknown class or unit, low > high,
        negative prices, funding shares that do not sum to 1, unknown sources.
    """
    raw, display = _read(source, None, ())
    problems: list[str] = []
    items = _items(raw.get("items") or {}, problems)
    facilities = _facilities(raw.get("facilities") or {}, items, problems)
    funding = raw.get("funding") or {}
    sources = _funding_sources(funding.get("sources") or {}, problems)
    shares = _funding_shares(funding.get("shares") or {}, items, sources, problems)
    prop = _property(raw.get("property") or {}, problems)
    heating = raw.get("heating") or {}
    parking = raw.get("parking") or {}
    if problems:
        raise InputError(
            f"cost file {display}: "
            + "; ".join(problems[:8])
            + (f" (+{len(problems) - 8} more)" if len(problems) > 8 else "")
        )
    unverified = sum(not i.verified for i in items.values())
    if unverified:
        logger.info("cost profile %s: %d of %d items unverified", display, unverified, len(items))
    return CostProfile(
        name=str(raw.get("name", Path(str(source)).stem)),
        source_path=display,
        items=MappingProxyType(items),
        facilities=MappingProxyType(facilities),
        funding_sources=MappingProxyType(sources),
        funding_shares=MappingProxyType(shares),
        property=prop,
        heating_min_latitude=float(heating.get("min_latitude", 33.0)),
        parking_per_household=float(parking.get("spaces_per_household", 0.5)),
        title=str(raw.get("title", "")),
        price_year=raw.get("price_year"),
        funding_verified=bool(funding.get("verified", False)),
        heating_source=str(heating.get("source", "")),
        parking_source=str(parking.get("source", "")),
    )


def _items(tables: Mapping[str, Any], problems: list[str]) -> dict[str, CostItem]:
    """The ``[items.*]`` tables: class, unit, low/high yuan per unit, names, source, verified."""
    items: dict[str, CostItem] = {}
    for key, t in tables.items():
        w = f"items.{key}"
        if not isinstance(t, dict):
            problems.append(f"{w}: expected a table")
            continue
        cls = _str(t, "class", w, problems)
        if cls and cls not in CLASSES:
            problems.append(f"{w}.class: {cls!r} is not one of {', '.join(CLASSES)}")
        unit = _str(t, "unit", w, problems)
        if unit and unit not in UNITS:
            problems.append(f"{w}.unit: {unit!r} is not one of {', '.join(UNITS)}")
        low, high = _num(t, "low", w, problems), _num(t, "high", w, problems)
        if low < 0 or high < low:
            problems.append(f"{w}: need 0 <= low <= high, got low={low}, high={high}")
        items[key] = CostItem(
            key=key,
            cls=cls,
            name_zh=_str(t, "name_zh", w, problems),
            name_en=_str(t, "name_en", w, problems),
            unit=unit,
            low=low,
            high=high,
            source=_str(t, "source", w, problems),
            verified=_bool(t, "verified", w, problems),
        )
    if not items:
        problems.append("items: no cost items")
    return items


def _facilities(
    tables: Mapping[str, Any], items: Mapping[str, CostItem], problems: list[str]
) -> dict[str, Mapping[str, Any]]:
    """The ``[facilities.*]`` tables: per facility category, its item, class and default area."""
    facilities: dict[str, Mapping[str, Any]] = {}
    for cat, t in tables.items():
        w = f"facilities.{cat}"
        item = _str(t, "item", w, problems)
        if item and item not in items:
            problems.append(f"{w}.item: unknown item {item!r}")
        cls = _str(t, "class", w, problems)
        if cls and cls not in CLASSES:
            problems.append(f"{w}.class: {cls!r} is not one of {', '.join(CLASSES)}")
        area = _num(t, "area_m2", w, problems, default=0.0)
        facilities[cat] = MappingProxyType({"class": cls, "item": item, "area_m2": area})
    return facilities


def _funding_sources(tables: Mapping[str, Any], problems: list[str]) -> dict[str, FundingSource]:
    """The ``[funding.sources.*]`` tables: who pays, with names."""
    return {
        k: FundingSource(
            k,
            _str(v, "name_zh", f"funding.sources.{k}", problems),
            _str(v, "name_en", f"funding.sources.{k}", problems),
        )
        for k, v in tables.items()
    }


def _funding_shares(
    tables: Mapping[str, Any],
    items: Mapping[str, CostItem],
    sources: Mapping[str, FundingSource],
    problems: list[str],
) -> dict[str, Mapping[str, float]]:
    """The ``[funding.shares.*]`` tables: per class (every class needs one) or item, shares summing to 1."""
    shares: dict[str, Mapping[str, float]] = {}
    for key, t in tables.items():
        w = f"funding.shares.{key}"
        if key not in CLASSES and key not in items:
            problems.append(f"{w}: {key!r} is neither a class nor an item")
        unknown = sorted(set(t) - set(sources))
        if unknown:
            problems.append(f"{w}: unknown sources {unknown}; declare them under funding.sources")
        vals = {s: _num(t, s, w, problems, default=0.0) for s in sources}
        total = sum(vals.values())
        if any(v < 0 for v in vals.values()) or abs(total - 1.0) > 1e-6:
            problems.append(f"{w}: shares must be >= 0 and sum to 1, they sum to {total:g}")
        shares[key] = MappingProxyType(vals)
    for cls in CLASSES:
        if cls not in shares:
            problems.append(f"funding.shares.{cls}: missing (every class needs a funding split)")
    return shares


def _property(p: Mapping[str, Any], problems: list[str]) -> PropertyModel:
    """The ``[property]`` table: the property-management viability model."""
    prop = PropertyModel(
        fee_yuan_m2_month=_num(p, "fee_yuan_m2_month", "property", problems),
        collection_rate=_num(p, "collection_rate", "property", problems),
        fixed_yuan_per_site_month=_num(p, "fixed_yuan_per_site_month", "property", problems),
        per_household_yuan_month=_num(p, "per_household_yuan_month", "property", problems),
        per_m2_yuan_month=_num(p, "per_m2_yuan_month", "property", problems),
        source=_str(p, "source", "property", problems, ""),
        fee_source=_str(p, "fee_source", "property", problems, ""),
        collection_source=_str(p, "collection_source", "property", problems, ""),
        verified=_bool(p, "verified", "property", problems),
    )
    if not 0 < prop.collection_rate <= 1:
        problems.append(f"property.collection_rate: give a share in (0, 1], got {prop.collection_rate}")
    return prop


def parse_funding_shares(items: Iterable[str] | None) -> tuple[tuple[str, str, float], ...]:
    """Parse ``KEY:SOURCE=SHARE`` strings (CLI ``--funding-share``).

    Examples
    --------
    >>> parse_funding_shares(["basic:residents=0.1"])
    (('basic', 'residents', 0.1),)
    """
    out = []
    for text in items or ():
        try:
            left, share = text.split("=", 1)
            key, src = left.split(":", 1)
            value = float(share.strip().rstrip("%")) / (100.0 if share.strip().endswith("%") else 1.0)
        except ValueError:
            raise InputError(
                f"--funding-share {text!r}: write KEY:SOURCE=SHARE, e.g. basic:residents=0.1"
            ) from None
        out.append((key.strip(), src.strip(), value))
    return tuple(out)
