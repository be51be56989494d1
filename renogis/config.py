"""The options of a run and their defaults: the one place they are set.

:class:`RunConfig` is what :func:`renogis.pipeline.run` takes and ``run.json`` records; the command line
(:mod:`renogis.cli`), the batch manifest (:mod:`renogis.batch`) and the library functions take their
defaults and choices from the constants here, so a default changes in one line.

Examples
--------
>>> RunConfig(input="city.gpkg", out="out").min_households, MAX_HOUSEHOLDS
(1500, 4000)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

__all__ = ["RunConfig", "STEPS", "barrier_classes"]

#: Household bounds of a district (GB 50180-2018: a 5-minute life circle holds 1,500-4,000 households).
MIN_HOUSEHOLDS: Final = 1500
MAX_HOUSEHOLDS: Final = 4000
#: Compounds within this distance (m) can merge: a lane or a local street between them.
GAP_M: Final = 30.0
#: Street classes no district crosses unless the planner says otherwise.
BARRIER_CLASSES: Final = ("arterial",)
#: Straight line x this factor where there are no streets.
DETOUR_FACTOR: Final = 1.3
#: Frontage access model: network points within the nearest distance + this margin (m) are access points.
FRONTAGE_M: Final = 15.0
#: Bundled standards and cost profiles used unless another is named.
STANDARDS: Final = "gb50180_2018"
COSTS: Final = "renovation_2021"
#: Choices; the first is the default.
LANGS: Final = ("zh", "en")
TILES: Final = ("osm", "cartodb", "amap", "tianditu", "none")
SITING_METHODS: Final = ("greedy", "exact")
ACCESS_MODELS: Final = ("frontage", "centroid")
NESTED: Final = ("keep-children", "keep-parent")
DOCUMENTS: Final = ("auto", "all", "summary", "none")

#: Stages a run can perform, in order.
STEPS = ("load", "districts", "gaps", "siting", "map")


@dataclass(frozen=True)
class RunConfig:
    """Everything a run needs; recorded in ``run.json``."""

    input: Path | str  # a path, or a postgresql:// URL (see renogis.postgis)
    out: Path
    steps: tuple[str, ...] = STEPS
    # reading
    column_map: dict[str, str] = field(default_factory=dict)
    encoding: str | None = None
    source_crs: str | None = None
    input_crs: str | None = None
    work_crs: str | None = None
    # districts
    gap_m: float = GAP_M
    barrier_classes: tuple[str, ...] = BARRIER_CLASSES
    min_households: int = MIN_HOUSEHOLDS
    max_households: int = MAX_HOUSEHOLDS
    keep_together: tuple[tuple[str, ...], ...] = ()
    keep_apart: tuple[tuple[str, ...], ...] = ()
    min_consent: float | None = None
    require_owners_committee: bool = False
    built_before: int | None = None
    seed: int = 0
    # gaps
    standards: str = STANDARDS
    detour_factor: float = DETOUR_FACTOR
    # siting
    sites_per_category: int | None = 1
    siting_method: str = SITING_METHODS[0]
    # outputs
    lang: str = LANGS[0]
    tiles: str = TILES[0]
    map_copy: Path | None = None  # also copy the map here (the demo uses maps/)
    ledger: Path | None = None  # compound ledger (XLSX/CSV, no geometry) joined to footprints by name
    # districts (appended): nested/duplicate compounds, split/rebalance options
    nested: str = NESTED[0]  # or "keep-parent" (renogis.overlaps)
    max_span_m: float | None = None  # longest allowed district extent, m
    soft_barrier_classes: tuple[str, ...] = ()  # street classes crossed only when no in-band alternative
    # access model (issue 10)
    access: str = ACCESS_MODELS[0]  # compounds without gates: "frontage" or "centroid"
    frontage_m: float = FRONTAGE_M
    no_data: tuple[str, ...] = ()  # categories the facility data do not record
    # PostGIS (renogis.postgis)
    layer_map: dict[str, str] = field(default_factory=dict)  # {layer: table} of a postgresql:// input
    out_db: str | None = None  # also write the results into postgresql://...?schema=NAME, one transaction
    # proposals: renovation content, costs, viability, documents (renogis.outputs.deliverables)
    proposals: bool = True
    costs: str = COSTS
    documents: str = DOCUMENTS[0]  # auto | all | summary | none
    property_fee: float | None = None
    collection_rate: float | None = None
    parking_per_household: float | None = None
    funding_shares: tuple[tuple[str, str, float], ...] = ()
    heating_region: bool | None = None
    viability_groups: str | None = None
    buildings: Path | None = None  # buildings layer file, when not a layer of the input


def barrier_classes(given: Sequence[str] | None) -> tuple[str, ...]:
    """The street classes no district crosses: the default ``arterial`` plus those given; ``none`` clears.

    Examples
    --------
    >>> barrier_classes(None), barrier_classes(["secondary"]), barrier_classes(["none", "local"])
    (('arterial',), ('arterial', 'secondary'), ('local',))
    """
    given = list(given or [])
    base = [] if "none" in given else list(BARRIER_CLASSES)
    for c in given:
        if c != "none" and c not in base:
            base.append(c)
    return tuple(base)
