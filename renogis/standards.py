"""Planning standards as data: load a TOML profile into frozen dataclasses.

A profile lists, for every facility category of :data:`renogis.schema.CATEGORIES`,
its living-circle level, service radius, demand rule and minimum sizes, each with a
``source`` citation and a ``verified`` flag. Two profiles ship with renogis (package
``renogis.data.standards``):

``gb50180_2018`` (default)
    GB 50180-2018 《城市居住区规划设计标准》.
``complete_community``
    《完整居住社区建设标准(试行)》 (2020), declared as ``base = "gb50180_2018"`` plus
    overrides.

An optional ``[categories.<key>.site]`` table says how a new facility uses an idle
parcel (read by :mod:`renogis.siting`): whether it needs a site of its own
(``independent``), the building and land area per capacity unit (m² per seat, bed,
place or space) and the largest facility; the bundled tables ship ``verified = false``
(derived from the standards' ranges or planning defaults), with their own ``source``.

A city passes its own file (a path) with the same layout; it may also start from a
bundled profile with ``base = "gb50180_2018"`` and override only what differs.
Numbers tagged RECALL in the project's standards notes ship with ``verified = false``.

Examples
--------
>>> std = load_standards()
>>> std.categories["kindergarten"].radius_m
300.0
>>> round(float(std.demand("nursery", [1000], [2620.0])[0]), 2)
11.79
"""

from __future__ import annotations

import difflib
import functools
import logging
import math
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from renogis._errors import StandardsError
from renogis.schema import CATEGORIES, DEFAULT_PERSONS_PER_HOUSEHOLD

logger = logging.getLogger(__name__)

__all__ = [
    "LEVELS",
    "DEMAND_KINDS",
    "DEFAULT_PROFILE",
    "default_standards",
    "CategoryRule",
    "Standards",
    "load_standards",
    "list_profiles",
]

#: Living-circle levels: 5-, 10-, 15-minute circles and the 居住街坊 (block).
LEVELS: Final = ("5min", "10min", "15min", "block")
#: Demand rule kinds and the divisor of the base quantity they scale.
DEMAND_KINDS: Final = (
    "per_1000_residents",
    "per_100_households",
    "per_1000_elderly",
    "per_household",
)
DEFAULT_PROFILE: Final = "gb50180_2018"
_PACKAGE: Final = "renogis.data.standards"

_HEADER_KEYS: Final = {
    "base": str,
    "name": str,
    "title": str,
    "version": str,
    "persons_per_household": float,
    "elderly_share": float,
    "population_source": str,
    "population_verified": bool,
    "categories": dict,
}
_HEADER_REQUIRED: Final = ("name", "persons_per_household", "elderly_share", "categories")
_CATEGORY_KEYS: Final = {
    "name_zh": str,
    "name_en": str,
    "level": str,
    "radius_m": float,
    "demand": dict,
    "capacity_unit": str,
    "min_building_m2": float,
    "min_land_m2": float,
    "source": str,
    "verified": bool,
    "no_data": bool,
    "site": dict,
}
_CATEGORY_REQUIRED: Final = tuple(k for k in _CATEGORY_KEYS if k not in ("site", "no_data"))
_DEMAND_KEYS: Final = {"kind": str, "amount": float, "unit": str}
#: Fields of a category's optional ``site`` table (how a new facility uses a parcel).
_SITE_KEYS: Final = {
    "independent": bool,
    "building_m2_per_unit": float,
    "land_m2_per_unit": float,
    "max_building_m2": float,
    "max_land_m2": float,
    "source": str,
    "verified": bool,
}


@dataclass(frozen=True)
class CategoryRule:
    """Planning rule of one facility category.

    Attributes
    ----------
    key : str
        Canonical category key (see :data:`renogis.schema.CATEGORIES`).
    name_zh, name_en : str
        Display names.
    level : {"5min", "10min", "15min", "block"}
        Living-circle level; ``block`` is the 居住街坊.
    radius_m : float
        Service radius in metres (> 0).
    demand_kind : str
        One of :data:`DEMAND_KINDS`.
    demand_amount : float
        Demand units per 1000 residents, 100 households, 1000 elderly or household.
    demand_unit : str
        Unit of the demand (equals ``capacity_unit``).
    capacity_unit : str
        Unit of ``facilities.capacity`` for this category (seats, beds, m2, ...).
    min_building_m2, min_land_m2 : float
        Minimum building floor area / land area of one facility in m² (0: none given).
    source : str
        Citation of every number of the rule.
    verified : bool
        True only when every number was checked against a retrieved source.
    independent_site : bool
        The facility needs a site of its own (独立占地: kindergarten, schools, nursing
        home): a parcel that hosts it hosts nothing else. Other categories may share a
        parcel or building while the sum of their areas fits.
    building_m2_per_unit : float
        Building floor area per capacity unit (m² per seat, bed, place, space; 1 for a
        capacity in m²); 0: not given (sites of the category are uncapacitated).
    land_m2_per_unit : float
        Land area per capacity unit when the facility is built on vacant land
        (0: the building figure, i.e. a single-storey building).
    max_building_m2, max_land_m2 : float
        Largest facility the standard foresees (m²; 0: no maximum).
    site_source : str
        Citation of the ``site`` numbers.
    site_verified : bool
        True only when every ``site`` number was checked against a retrieved source.
    no_data : bool
        The city's facility data do not record this category (``no_data = true`` in
        the standards file, or ``--no-data``): its coverage is reported as no data,
        never as 0%.
    """

    key: str
    name_zh: str
    name_en: str
    level: str
    radius_m: float
    demand_kind: str
    demand_amount: float
    demand_unit: str
    capacity_unit: str
    min_building_m2: float
    min_land_m2: float
    source: str
    verified: bool
    independent_site: bool = False
    building_m2_per_unit: float = 0.0
    land_m2_per_unit: float = 0.0
    max_building_m2: float = 0.0
    max_land_m2: float = 0.0
    site_source: str = ""
    site_verified: bool = False
    no_data: bool = False

    def m2_per_unit(self, kind: str) -> float:
        """Area (m²) one capacity unit takes on a parcel of ``kind`` (0: not given).

        ``vacant_land`` uses ``land_m2_per_unit`` (else the building figure: a
        single-storey building); ``idle_building`` uses ``building_m2_per_unit``.
        A capacity measured in m² takes 1 m² per unit unless the file says otherwise.

        Examples
        --------
        >>> rule = load_standards().categories["elderly_home"]
        >>> rule.m2_per_unit("idle_building"), rule.m2_per_unit("vacant_land")
        (35.0, 18.0)
        """
        b = self.building_m2_per_unit
        if b <= 0 and self.capacity_unit == "m2":
            b = 1.0
        if kind == "vacant_land" and self.land_m2_per_unit > 0:
            return self.land_m2_per_unit
        return b

    def max_area_m2(self, kind: str) -> float:
        """Largest area (m²) one facility takes on a parcel of ``kind`` (inf: no maximum)."""
        if kind == "vacant_land":
            m = self.max_land_m2 if self.max_land_m2 > 0 else self.max_building_m2
        else:
            m = self.max_building_m2
        return m if m > 0 else math.inf

    def demand(
        self,
        households: npt.ArrayLike,
        population: npt.ArrayLike | None = None,
        *,
        persons_per_household: float = DEFAULT_PERSONS_PER_HOUSEHOLD,
        elderly_share: float = 0.187,
    ) -> np.ndarray:
        """Demand of each unit in ``demand_unit``.

        Parameters
        ----------
        households : array-like of float
            Households per unit.
        population : array-like of float, optional
            Residents per unit; missing (None or NaN) values are estimated as
            ``households * persons_per_household``.
        persons_per_household : float
            Persons per household for the estimate.
        elderly_share : float
            Share of residents aged 60+ (for ``per_1000_elderly``).

        Returns
        -------
        numpy.ndarray of float
            Demand per unit.

        Examples
        --------
        >>> rule = load_standards().categories["elderly_home"]
        >>> rule.demand([100], [1000.0], elderly_share=0.2).tolist()
        [8.0]
        """
        hh = np.asarray(households, dtype=float)
        pop = _population(hh, population, persons_per_household)
        if self.demand_kind == "per_1000_residents":
            base = pop / 1000.0
        elif self.demand_kind == "per_100_households":
            base = hh / 100.0
        elif self.demand_kind == "per_1000_elderly":
            base = pop * elderly_share / 1000.0
        else:  # per_household
            base = hh
        return base * self.demand_amount


@dataclass(frozen=True)
class Standards:
    """A loaded standards profile.

    Attributes
    ----------
    name : str
        Profile name (e.g. ``gb50180_2018``).
    source_path : str
        File the profile was read from.
    categories : Mapping[str, CategoryRule]
        One rule per category of :data:`renogis.schema.CATEGORIES`, in that order.
    persons_per_household : float
        Persons per household used where population is missing.
    elderly_share : float
        Share of residents aged 60+.
    title, version : str
        Full title and version of the standard.
    population_source : str
        Citation of the two population figures.
    population_verified : bool
        Whether the population figures were checked.
    base : str or None
        Profile (or file) this one extends.
    """

    name: str
    source_path: str
    categories: Mapping[str, CategoryRule]
    persons_per_household: float
    elderly_share: float
    title: str = ""
    version: str = ""
    population_source: str = ""
    population_verified: bool = False
    base: str | None = None

    def __hash__(self) -> int:
        return hash((self.name, self.source_path))

    def category_name(self, key: object, lang: str) -> str:
        """Display name of category ``key`` in ``lang`` ("zh" or "en"), from this profile.

        The one source of category names in tables, sheets, the console and the map;
        a key the profile does not hold comes back unchanged.

        Examples
        --------
        >>> st = load_standards()
        >>> st.category_name("nursery", "zh"), st.category_name("nursery", "en")
        ('托儿所', 'Nursery (age 0-3)')
        >>> st.category_name("bakery", "en")
        'bakery'
        """
        rule = self.categories.get(str(key))
        if rule is None:
            return str(key)
        return rule.name_zh if lang == "zh" else rule.name_en

    def rule(self, category: str) -> CategoryRule:
        """Return the rule of ``category``; raise StandardsError for an unknown key."""
        try:
            return self.categories[category]
        except KeyError:
            raise StandardsError(
                f"standards {self.name!r} ({self.source_path}) has no category {category!r}; "
                f"known categories: {', '.join(self.categories)}"
            ) from None

    def demand(
        self, category: str, households: npt.ArrayLike, population: npt.ArrayLike | None = None
    ) -> np.ndarray:
        """Demand per unit for ``category`` using this profile's population figures.

        Parameters
        ----------
        category : str
            Category key.
        households : array-like of float
            Households per unit.
        population : array-like of float, optional
            Residents per unit (NaN or None: estimated from households).

        Returns
        -------
        numpy.ndarray of float
            Demand in the category's ``demand_unit``.
        """
        return self.rule(category).demand(
            households,
            population,
            persons_per_household=self.persons_per_household,
            elderly_share=self.elderly_share,
        )

    def to_frame(self) -> pd.DataFrame:
        """One row per category with every field of its rule (for reports)."""
        rows = [
            {f: getattr(rule, f) for f in CategoryRule.__dataclass_fields__}
            for rule in self.categories.values()
        ]
        return pd.DataFrame(rows, columns=list(CategoryRule.__dataclass_fields__))


def _population(
    households: np.ndarray, population: npt.ArrayLike | None, persons_per_household: float
) -> np.ndarray:
    estimate = households * persons_per_household
    if population is None:
        return estimate
    pop = np.asarray(population, dtype=float)
    return np.where(np.isnan(pop), estimate, pop)


def list_profiles() -> tuple[str, ...]:
    """Names of the bundled standards profiles."""
    files = resources.files(_PACKAGE)
    return tuple(sorted(p.name[:-5] for p in files.iterdir() if p.name.endswith(".toml")))


# --------------------------------------------------------------------------- loading
def _resolve(source: str | Path, relative_to: Path | None = None) -> tuple[Path | None, str, Any]:
    """Return (path or None for bundled, display name, readable resource)."""
    if isinstance(source, str) and source in list_profiles():
        res = resources.files(_PACKAGE).joinpath(f"{source}.toml")
        return None, f"{source} (bundled: {res})", res
    path = Path(source)
    if relative_to is not None and not path.is_absolute():
        path = relative_to / path
    if not path.is_file():
        raise StandardsError(
            f"standards file {str(source)!r} not found: pass a bundled profile name "
            f"({', '.join(list_profiles())}) or the path of a TOML file"
        )
    return path, str(path), path


def _read_toml(resource: Any, display: str) -> dict[str, Any]:
    try:
        with resource.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise StandardsError(
            f"standards file {display}: not valid TOML ({exc}); fix the syntax"
        ) from exc


def _load_raw(
    source: str | Path, relative_to: Path | None, seen: tuple[str, ...]
) -> tuple[dict, str]:
    path, display, resource = _resolve(source, relative_to)
    if display in seen:
        raise StandardsError(
            f"standards file {display}: 'base' chain loops back "
            f"({' -> '.join(seen + (display,))}); remove the cycle"
        )
    raw = _read_toml(resource, display)
    base = raw.get("base")
    if base is None:
        return raw, display
    if not isinstance(base, str):
        raise StandardsError(
            f"standards file {display}: field 'base' must be a string (a profile name or a path), "
            f"got {type(base).__name__}"
        )
    base_raw, _ = _load_raw(base, path.parent if path is not None else None, seen + (display,))
    return _merge(base_raw, raw), display


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Overlay ``over`` on ``base``: header keys replace, category tables merge per field."""
    out = {k: v for k, v in base.items() if k != "base"}
    for key, value in over.items():
        if key == "categories" and isinstance(value, dict) and isinstance(out.get(key), dict):
            cats = {k: dict(v) if isinstance(v, dict) else v for k, v in out[key].items()}
            for cat, table in value.items():
                if isinstance(table, dict) and isinstance(cats.get(cat), dict):
                    merged = {**cats[cat], **table}
                    if isinstance(table.get("site"), dict) and isinstance(cats[cat].get("site"), dict):
                        merged["site"] = {**cats[cat]["site"], **table["site"]}
                    cats[cat] = merged
                else:
                    cats[cat] = table
            out[key] = cats
        else:
            out[key] = value
    out["base"] = over.get("base")
    return out


def _type_ok(value: Any, expected: type) -> bool:
    if expected is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, expected)


_TYPE_NAMES: Final = {float: "a number", str: "a string", bool: "true or false", dict: "a table"}


def _check_table(
    table: Mapping[str, Any],
    spec: Mapping[str, type],
    where: str,
    problems: list[str],
    *,
    required: Sequence[str] | None = None,
) -> None:
    for key in table:
        if key not in spec:
            close = difflib.get_close_matches(key, list(spec), n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"allowed: {', '.join(spec)}"
            problems.append(f"{where}: unknown field {key!r}; remove it ({hint})")
    for key in spec if required is None else required:
        if key not in table:
            problems.append(f"{where}: missing field {key!r}; add it ({_TYPE_NAMES[spec[key]]})")
    for key, value in table.items():
        if key in spec and not _type_ok(value, spec[key]):
            problems.append(
                f"{where}: field {key!r} must be {_TYPE_NAMES[spec[key]]}, "
                f"got {value!r} ({type(value).__name__})"
            )


def _check_category(key: str, table: Any, problems: list[str]) -> CategoryRule | None:
    where = f"category {key!r}"
    if not isinstance(table, dict):
        problems.append(f"{where}: must be a table [categories.{key}], got {type(table).__name__}")
        return None
    n_before = len(problems)
    _check_table(table, _CATEGORY_KEYS, where, problems, required=_CATEGORY_REQUIRED)
    demand: Any = table.get("demand")
    if isinstance(demand, dict):
        _check_table(demand, _DEMAND_KEYS, f"{where}, field 'demand'", problems)
    site: Any = table.get("site", {})
    if isinstance(site, dict):
        _check_table(site, _SITE_KEYS, f"{where}, field 'site'", problems, required=())
    if len(problems) > n_before:
        return None
    if table["level"] not in LEVELS:
        problems.append(
            f"{where}, field 'level': {table['level']!r} is not one of {', '.join(LEVELS)}"
        )
    if not table["radius_m"] > 0 or not np.isfinite(table["radius_m"]):
        problems.append(
            f"{where}, field 'radius_m': {table['radius_m']!r} must be a positive number of metres"
        )
    for fld in ("min_building_m2", "min_land_m2"):
        if table[fld] < 0:
            problems.append(f"{where}, field {fld!r}: {table[fld]!r} must be >= 0 (0 = no minimum)")
    if demand["kind"] not in DEMAND_KINDS:
        problems.append(
            f"{where}, field 'demand.kind': {demand['kind']!r} "
            f"is not one of {', '.join(DEMAND_KINDS)}"
        )
    for fld in ("building_m2_per_unit", "land_m2_per_unit", "max_building_m2", "max_land_m2"):
        v = site.get(fld, 0.0)
        if not (v >= 0 and math.isfinite(v)):
            problems.append(f"{where}, field 'site.{fld}': {v!r} must be >= 0 (0 = not given)")
    for lo, hi in (("min_building_m2", "max_building_m2"), ("min_land_m2", "max_land_m2")):
        if 0 < site.get(hi, 0.0) < table[lo]:
            problems.append(
                f"{where}, field 'site.{hi}': {site[hi]!r} is below {lo} {table[lo]!r}; "
                "raise it or set 0 (no maximum)"
            )
    if demand["amount"] < 0:
        problems.append(f"{where}, field 'demand.amount': {demand['amount']!r} must be >= 0")
    if demand["unit"] != table["capacity_unit"]:
        problems.append(
            f"{where}, field 'demand.unit': {demand['unit']!r} differs from capacity_unit "
            f"{table['capacity_unit']!r}; use the same unit so demand and supply compare"
        )
    if len(problems) > n_before:
        return None
    return CategoryRule(
        key=key,
        name_zh=table["name_zh"],
        name_en=table["name_en"],
        level=table["level"],
        radius_m=float(table["radius_m"]),
        demand_kind=demand["kind"],
        demand_amount=float(demand["amount"]),
        demand_unit=demand["unit"],
        capacity_unit=table["capacity_unit"],
        min_building_m2=float(table["min_building_m2"]),
        min_land_m2=float(table["min_land_m2"]),
        source=table["source"],
        verified=table["verified"],
        independent_site=site.get("independent", False),
        building_m2_per_unit=float(site.get("building_m2_per_unit", 0.0)),
        land_m2_per_unit=float(site.get("land_m2_per_unit", 0.0)),
        max_building_m2=float(site.get("max_building_m2", 0.0)),
        max_land_m2=float(site.get("max_land_m2", 0.0)),
        site_source=site.get("source", ""),
        site_verified=site.get("verified", False),
        no_data=bool(table.get("no_data", False)),
    )


@functools.lru_cache(maxsize=1)
def default_standards() -> Standards:
    """The bundled default profile (``gb50180_2018``), loaded once.

    Examples
    --------
    >>> default_standards().name
    'gb50180_2018'
    """
    return load_standards(DEFAULT_PROFILE)


def load_standards(source: str | Path = DEFAULT_PROFILE) -> Standards:
    """Load and validate a standards profile.

    Parameters
    ----------
    source : str or Path
        A bundled profile name (see :func:`list_profiles`, default ``gb50180_2018``) or
        the path of a TOML file with the same layout. A file may declare
        ``base = "<profile or path>"`` and override single fields of categories.

    Returns
    -------
    Standards
        Frozen rules, one per category of :data:`renogis.schema.CATEGORIES`.

    Raises
    ------
    StandardsError
        Unknown or missing fields, wrong types, a non-positive radius, an unknown
        level, demand kind or category, a missing category: every problem found,
        each naming the category and field, under a first line naming the file.

    Examples
    --------
    >>> std = load_standards("complete_community")
    >>> std.base, std.categories["parking"].demand_amount
    ('gb50180_2018', 1.0)
    """
    raw, display = _load_raw(source, None, ())
    problems: list[str] = []
    _check_table(raw, _HEADER_KEYS, "header", problems, required=_HEADER_REQUIRED)
    pph: Any = raw.get("persons_per_household")
    if _type_ok(pph, float) and not pph > 0:
        problems.append(f"header, field 'persons_per_household': {pph!r} must be > 0")
    share: Any = raw.get("elderly_share")
    if _type_ok(share, float) and not 0 <= share <= 1:
        problems.append(f"header, field 'elderly_share': {share!r} must be a share between 0 and 1")
    rules: dict[str, CategoryRule] = {}
    cats = raw.get("categories")
    if isinstance(cats, dict):
        for key, table in cats.items():
            if key not in CATEGORIES:
                close = difflib.get_close_matches(key, list(CATEGORIES), n=1)
                hint = (
                    f"did you mean {close[0]!r}?"
                    if close
                    else f"use one of {', '.join(CATEGORIES)}"
                )
                problems.append(f"category {key!r}: unknown category; rename it ({hint})")
                continue
            rule = _check_category(key, table, problems)
            if rule is not None:
                rules[key] = rule
        missing = [k for k in CATEGORIES if k not in cats]
        if missing:
            problems.append(
                f"categories: missing {', '.join(missing)}; "
                "add a [categories.<key>] table for each "
                f'or declare base = "{DEFAULT_PROFILE}" to inherit them'
            )
    if problems:
        raise StandardsError(
            f"standards file {display}: {len(problems)} problem(s):\n  - "
            + "\n  - ".join(problems),
            problems=problems,
        )
    ordered = MappingProxyType({k: rules[k] for k in CATEGORIES})
    std = Standards(
        name=raw["name"],
        source_path=display,
        categories=ordered,
        persons_per_household=float(raw["persons_per_household"]),
        elderly_share=float(raw["elderly_share"]),
        title=raw.get("title", ""),
        version=raw.get("version", ""),
        population_source=raw.get("population_source", ""),
        population_verified=raw.get("population_verified", False),
        base=raw.get("base"),
    )
    n_unverified = sum(not r.verified for r in ordered.values())
    logger.info(
        "loaded standards %s: %d categories, %d not verified against a retrieved source",
        std.name,
        len(ordered),
        n_unverified,
    )
    return std
