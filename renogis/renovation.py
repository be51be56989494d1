"""Renovation content per district, by class, with its evidence, quantities, cost ranges and funding.

For every district, :func:`plan_renovation` derives from the data what a street office decides
on, in the three classes of 国办发〔2020〕23号, in the order "先民生、后提升":

基础类 ``basic``
    networks and building repairs, roads and drains of the compounds built before ``old_before``
    (default 2001: "2000年底前建成"); energy retrofit and heating networks when the district lies
    in the heating region (latitude of its centroid, or the run's flag).
完善类 ``complete``
    lifts for buildings of 4 or more floors without one (optional ``buildings`` layer), parking
    spaces to reach the target per household (each compound's own ``parking_spaces`` and the
    public ``parking`` facilities inside the district count as supply), EV charging on the new
    spaces, barrier-free works and greening, property rooms (2‰ of floor area), walls to open
    between member compounds, access control at the entrances on the district boundary.
提升类 ``upgrade``
    the facility categories still missing after merging (service gaps), on the idle parcel the
    siting step chose (an idle building is fitted out, vacant land is built on) or, without a site,
    as a new building to be placed.

Every row carries its evidence (the data it rests on), quantity and unit, a low/high cost from the
cost profile and whether that unit cost was verified. Nothing is costed that the data cannot show:
without a buildings layer, lifts are listed as "not assessed" with no cost.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from renogis import schema as S
from renogis._errors import InputError
from renogis.config import GAP_M
from renogis.costs import CLASSES, CostProfile

logger = logging.getLogger(__name__)

__all__ = [
    "RenovationPlan",
    "plan_renovation",
    "read_buildings",
    "lift_candidates",
    "ITEM_COLUMNS",
    "FUNDING_COLUMNS",
    "DEFAULT_OLD_BEFORE",
    "LIFT_MIN_FLOORS",
]

#: Compounds built before this year are "old" (国办发〔2020〕23号: built before the end of 2000).
DEFAULT_OLD_BEFORE = 2001
#: Buildings of at least this many floors without a lift are lift-retrofit candidates.
LIFT_MIN_FLOORS = 4
#: A gate within this distance (m) of the district outline is an entrance of the district.
GATE_ON_BOUNDARY_M = 5.0
PROPERTY_ROOM_SHARE = 0.002  # GB 50180-2018: property space >= 2 per mille of floor area (RECALL)

ITEM_NAME = "item_name"
PHASE = "phase"
ITEM_COLUMNS = (
    S.DISTRICT_ID,
    S.RENO_CLASS,
    PHASE,
    S.ITEM,
    ITEM_NAME,
    S.CATEGORY,
    S.QUANTITY,
    S.UNIT,
    S.COST_LOW_YUAN,
    S.COST_HIGH_YUAN,
    S.VERIFIED,
    S.EVIDENCE,
    S.SOURCE,
)
FUNDING_SOURCE_NAME = "funding_source_name"
FUNDING_COLUMNS = (S.DISTRICT_ID, S.FUNDING_SOURCE, FUNDING_SOURCE_NAME, S.COST_LOW_YUAN, S.COST_HIGH_YUAN)
OLD = "old"
BUILT_UNKNOWN = "built_year_unknown"
BUILDINGS_ASSESSED = "buildings_assessed"
PARKING_SUPPLY = "parking_supply"
GATES_BOUNDARY = "gates_on_boundary"
GATES_INNER = "gates_inner"
OLD_COMPOUNDS = "old_compounds"
OLD_FLOOR_AREA = "old_floor_area_m2"
LATITUDE = "latitude"
NOT_COSTED = "not_costed_items"
DISTRICT_SUMMARY_COLUMNS = (
    S.DISTRICT_ID, S.N_COMPOUNDS, S.HOUSEHOLDS, S.FLOOR_AREA_M2, OLD_COMPOUNDS, OLD_FLOOR_AREA,
    S.HEATED, S.LIFT_CANDIDATES, BUILDINGS_ASSESSED, S.PARKING_NEED, PARKING_SUPPLY,
    S.PARKING_SHORTFALL, S.WALL_M, GATES_BOUNDARY, GATES_INNER,
)
#: Columns of :attr:`RenovationPlan.compounds`.
COMPOUND_SUMMARY_COLUMNS = (
    S.COMPOUND_ID, S.DISTRICT_ID, S.BUILT_YEAR, OLD, BUILT_UNKNOWN, S.HOUSEHOLDS, S.FLOOR_AREA_M2,
    BUILDINGS_ASSESSED, S.LIFT_CANDIDATES, S.PARKING_SPACES, S.PARKING_NEED, S.PARKING_SHORTFALL,
)


@dataclass(frozen=True)
class RenovationPlan:
    """Result of :func:`plan_renovation`.

    Attributes
    ----------
    items : pandas.DataFrame
        One row per district and item (:data:`ITEM_COLUMNS`), in class order.
    districts : pandas.DataFrame
        One row per district: evidence figures (old compounds, heating, lift candidates, parking
        need/supply/shortfall, gates, walls) and cost low/high per class and in total.
    compounds : pandas.DataFrame
        One row per compound: old or not, lift candidates, parking need, supply and shortfall alone.
    funding : pandas.DataFrame
        One row per district and funding source (:data:`FUNDING_COLUMNS`).
    costs : CostProfile
        The cost profile used (with the run's options).
    notes : tuple of str
        What could not be assessed (e.g. no buildings layer).
    """

    items: pd.DataFrame
    districts: pd.DataFrame
    compounds: pd.DataFrame
    funding: pd.DataFrame
    costs: CostProfile
    notes: tuple[str, ...] = field(default=())


# --------------------------------------------------------------------------- buildings layer
def read_buildings(
    path: str | Path,
    *,
    compounds: gpd.GeoDataFrame,
    column_map: Mapping[str, str] | None = None,
    encoding: str | None = None,
    explicit: bool = False,
) -> tuple[pd.DataFrame | None, list[str]]:
    """Read the optional ``buildings`` layer (楼栋) of an input, if there is one.

    A GeoPackage layer ``buildings`` (or 楼栋), or a file ``buildings.*`` in an input folder; with
    ``explicit=True`` (a file the user named, ``--buildings``) also a single-layer file of any name,
    and its absence is an error.
    Columns: ``floors`` (层数, integer >= 1, required), ``has_lift`` (电梯, yes/no, required),
    ``households`` (optional), ``compound_id`` (optional: else the compound containing the
    building's representative point).

    Returns
    -------
    (DataFrame or None, list of str)
        ``compound_id``, ``floors``, ``has_lift``, ``households`` per building, and notes on
        buildings dropped (outside every compound, unknown compound).

    Raises
    ------
    InputError
        Missing ``floors``/``has_lift`` columns, non-numeric floors or unreadable lift flags (ids named).

    Examples
    --------
    >>> from renogis.datasets import sample_path
    >>> comp = gpd.read_file(sample_path(), layer="compounds")
    >>> b, notes = read_buildings(sample_path().with_name("sample_buildings.gpkg"), compounds=comp,
    ...                           explicit=True)
    >>> len(b), notes
    (311, [])
    """
    path = Path(path)
    file, layer = _buildings_source(path, explicit=explicit)
    if file is None:
        if explicit:
            raise InputError(
                f"--buildings {path}: no buildings layer found; give a GeoPackage with a layer "
                "'buildings' (or 楼栋), or a GeoJSON/Shapefile/CSV of buildings"
            )
        return None, []
    gdf = _read_buildings_layer(file, layer, column_map=column_map, encoding=encoding)
    label = f"{file.name} [{S.BUILDINGS_LAYER}]"
    ids = (
        gdf["building_id"].astype(str)
        if "building_id" in gdf.columns
        else pd.Series([f"#{i + 1}" for i in range(len(gdf))], index=gdf.index)
    )
    floors, lift = _floors_and_lifts(gdf, ids, label)
    cid = _building_compounds(gdf, compounds, label)
    notes: list[str] = []
    known = cid.isin(set(compounds[S.COMPOUND_ID].astype(str)))
    if (~known).any():
        notes.append(
            f"{label}: {int((~known).sum())} buildings dropped: not inside any compound or of an "
            f"unknown compound ({', '.join(ids[~known].head(5))})"
        )
        logger.warning("%s", notes[-1])
    hh = (
        pd.to_numeric(gdf[S.HOUSEHOLDS], errors="coerce")
        if S.HOUSEHOLDS in gdf.columns
        else pd.Series(np.nan, index=gdf.index)
    )
    out = pd.DataFrame(
        {
            "building_id": ids,
            S.COMPOUND_ID: cid,
            S.FLOORS: floors.astype(int),
            S.HAS_LIFT: lift.astype(bool),
            S.HOUSEHOLDS: hh,
        }
    )[known.to_numpy()]
    logger.info("read %d buildings from %s", len(out), label)
    return out.reset_index(drop=True), notes


def _buildings_source(path: Path, *, explicit: bool) -> tuple[Path | None, str | None]:
    """The file (and GeoPackage layer) holding the buildings of input ``path``; (None, None) if none."""
    import pyogrio

    from renogis.io import VECTOR_SUFFIXES

    names = {S.BUILDINGS_LAYER, "楼栋", "建筑", "楼栋信息"}
    if path.is_dir():
        files = sorted(
            p
            for p in path.iterdir()
            if p.is_file()
            and p.suffix.lower() in VECTOR_SUFFIXES
            and (p.stem.lower() in names or p.stem in names)
        )
        return (files[0] if files else None), None
    if path.suffix.lower() == ".gpkg" and path.is_file():
        available = [str(n) for n in pyogrio.list_layers(path)[:, 0]]
        hits = [n for n in available if n.lower() in names or n in names]
        if hits:
            return path, hits[0]
        if explicit and len(available) == 1:
            return path, available[0]
        return None, None
    if explicit and path.is_file() and path.suffix.lower() in VECTOR_SUFFIXES:
        return path, None
    return None, None


def _read_buildings_layer(
    file: Path, layer: str | None, *, column_map: Mapping[str, str] | None, encoding: str | None
) -> gpd.GeoDataFrame:
    """The buildings layer with canonical headers (Chinese aliases and ``column_map`` applied)."""
    from renogis.io import normalise_columns, read_layer_file

    gdf, _ = read_layer_file(file, layer_name=S.BUILDINGS_LAYER, gpkg_layer=layer, encoding=encoding)
    cmap = {**{k: v for k, v in S.BUILDING_ALIASES.items()}, **dict(column_map or {})}
    gdf, _ = normalise_columns(gdf, column_map=cmap)
    return gdf


def _floors_and_lifts(gdf: gpd.GeoDataFrame, ids: pd.Series, label: str) -> tuple[pd.Series, pd.Series]:
    """Floors (numbers >= 1) and lift flags (booleans) per building; InputError naming the bad ids."""
    missing = [c for c in (S.FLOORS, S.HAS_LIFT) if c not in gdf.columns]
    if missing:
        raise InputError(
            f"{label}: columns {missing} missing; give floors (层数) and has_lift (电梯) per "
            "building, or map your headers with --column-map"
        )
    floors = pd.to_numeric(gdf[S.FLOORS], errors="coerce")
    bad = ~(floors >= 1)
    if bad.any():
        raise InputError(
            f"{label}: column floors: {int(bad.sum())} buildings without a floor count >= 1 "
            f"({', '.join(ids[bad].head(5))}); fill in the number of floors"
        )
    lift = _boolean(gdf[S.HAS_LIFT])
    badl = lift.isna()
    if badl.any():
        raise InputError(
            f"{label}: column has_lift: {int(badl.sum())} buildings with a value that is not "
            f"yes/no ({', '.join(ids[badl].head(5))}); write 是/否, yes/no or 1/0"
        )
    return floors, lift


def _building_compounds(gdf: gpd.GeoDataFrame, compounds: gpd.GeoDataFrame, label: str) -> pd.Series:
    """Compound id per building: its ``compound_id``, else the compound holding its representative point."""
    if S.COMPOUND_ID in gdf.columns:
        return gdf[S.COMPOUND_ID].astype(str)
    if gdf.crs is None:
        raise InputError(f"{label}: no CRS and no compound_id column; give either")
    pts = gdf.geometry.to_crs(compounds.crs).representative_point()
    j = gpd.sjoin(
        gpd.GeoDataFrame(geometry=pts.values, crs=compounds.crs),
        compounds[[S.COMPOUND_ID, S.GEOMETRY]],
        predicate="within",
        how="left",
    )
    j = j[~j.index.duplicated()]
    return pd.Series(j[S.COMPOUND_ID].to_numpy(), index=gdf.index)

def _boolean(values: pd.Series) -> pd.Series:
    truthy = {"1", "true", "yes", "y", "t", "是", "有", "√"}
    falsy = {"0", "false", "no", "n", "f", "否", "无", "×"}

    def conv(v: object) -> object:
        if isinstance(v, (bool, np.bool_)):
            return bool(v)
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return None
        s = str(v).strip().lower()
        return True if s in truthy else (False if s in falsy else None)

    return values.map(conv)


def lift_candidates(buildings: pd.DataFrame, *, min_floors: int = LIFT_MIN_FLOORS) -> pd.Series:
    """Lift-retrofit candidates per compound: buildings of >= ``min_floors`` floors without a lift.

    Examples
    --------
    >>> b = pd.DataFrame({"compound_id": ["A", "A", "A", "B"], "floors": [6, 3, 7, 4],
    ...                   "has_lift": [False, False, True, False]})
    >>> lift_candidates(b).to_dict()
    {'A': 1, 'B': 1}
    """
    mask = (buildings[S.FLOORS].to_numpy() >= min_floors) & ~buildings[S.HAS_LIFT].to_numpy(dtype=bool)
    counts = pd.Series(mask.astype(int), index=buildings[S.COMPOUND_ID].astype(str).to_numpy())
    return counts.groupby(level=0).sum()


# --------------------------------------------------------------------------- helpers
def _latitudes(geoms: gpd.GeoSeries) -> np.ndarray:
    if geoms.crs is None:
        return np.full(len(geoms), np.nan)
    return gpd.GeoSeries(geoms.centroid, crs=geoms.crs).to_crs(4326).y.to_numpy()


def _fmt(v: float) -> str:
    return f"{v:,.0f}"


@dataclass(frozen=True)
class _Pricer:
    """Turns (district, item, quantity, evidence) into an item row priced from the cost profile."""

    costs: CostProfile
    lang: str

    @property
    def zh(self) -> bool:
        """Word the evidence in Chinese (the one language switch of this module)."""
        return self.lang == "zh"

    def row(
        self,
        did: str,
        item: str,
        quantity: float,
        evidence: str,
        *,
        category: str | None = None,
        cls: str | None = None,
        name: str | None = None,
    ) -> dict[str, Any]:
        it = self.costs.items[item]
        c = cls or it.cls
        q = float(quantity)
        return {
            S.DISTRICT_ID: did,
            S.RENO_CLASS: c,
            PHASE: CLASSES.index(c) + 1,
            S.ITEM: item,
            ITEM_NAME: name or it.name(self.lang),
            S.CATEGORY: category,
            S.QUANTITY: q,
            S.UNIT: it.unit,
            S.COST_LOW_YUAN: q * it.low if not math.isnan(q) else np.nan,
            S.COST_HIGH_YUAN: q * it.high if not math.isnan(q) else np.nan,
            S.VERIFIED: it.verified,
            S.EVIDENCE: evidence,
            S.SOURCE: it.source,
        }


def closed_outline(geoms: Any, gap_m: float) -> Any:
    """District outlines with the lanes between members (up to ``gap_m`` wide) closed.

    A morphological closing (buffer out by half the gap, then back in): once the walls are opened,
    the lanes between member compounds are inside the district.
    """
    r = gap_m / 2.0 + 0.5
    return shapely.buffer(shapely.buffer(np.asarray(geoms), r, join_style="mitre"), -r, join_style="mitre")


def _gate_split(
    gates: gpd.GeoDataFrame | None, districts: gpd.GeoDataFrame, compounds: gpd.GeoDataFrame, gap_m: float
) -> pd.DataFrame:
    """Per district: gates on its closed outline (entrances) and gates on inner walls and lanes."""
    out = pd.DataFrame({GATES_BOUNDARY: 0, GATES_INNER: 0}, index=districts[S.DISTRICT_ID].astype(str))
    if gates is None or not len(gates):
        return out
    did = (
        gates[S.COMPOUND_ID]
        .astype(str)
        .map(compounds.set_index(compounds[S.COMPOUND_ID].astype(str))[S.DISTRICT_ID])
    )
    g = gates[did.notna().to_numpy()]
    did = did[did.notna()]
    closed = closed_outline(districts.geometry.to_numpy(), gap_m)
    outline = pd.Series(shapely.boundary(closed), index=districts[S.DISTRICT_ID].astype(str).to_numpy())
    lines = outline.reindex(did.to_numpy()).to_numpy()
    d = shapely.distance(g.geometry.to_numpy(), lines)
    on = d <= GATE_ON_BOUNDARY_M
    counts = pd.DataFrame({"d": did.to_numpy(), "on": on})
    out[GATES_BOUNDARY] = counts[counts["on"]].groupby("d").size().reindex(out.index, fill_value=0)
    out[GATES_INNER] = counts[~counts["on"]].groupby("d").size().reindex(out.index, fill_value=0)
    return out


# --------------------------------------------------------------------------- main
def plan_renovation(
    compounds: gpd.GeoDataFrame,
    districts: gpd.GeoDataFrame,
    *,
    costs: CostProfile,
    buildings: pd.DataFrame | None = None,
    gaps: pd.DataFrame | None = None,
    siting: pd.DataFrame | None = None,
    gates: gpd.GeoDataFrame | None = None,
    facilities: gpd.GeoDataFrame | None = None,
    standards: Any = None,
    heating_region: bool | None = None,
    old_before: int = DEFAULT_OLD_BEFORE,
    gap_m: float = GAP_M,
    lang: str = "zh",
) -> RenovationPlan:
    """Renovation items per district with class, evidence, quantity, cost range and funding.

    Parameters
    ----------
    compounds : GeoDataFrame
        Compounds with ``district_id`` (output of :func:`renogis.districting.propose_districts`).
    districts : GeoDataFrame
        Districts (``district_id``, ``wall_m``, geometry) in the same metric CRS.
    costs : CostProfile
        Unit costs, funding shares, heating latitude and parking target.
    buildings : DataFrame, optional
        ``compound_id``, ``floors``, ``has_lift`` per building (:func:`read_buildings`).
    gaps : DataFrame, optional
        Service gaps of :func:`renogis.access.compute_gaps` (district rows are used).
    siting : DataFrame, optional
        The siting plan table (:class:`renogis.siting.SitingPlan` ``.plan``).
    gates, facilities : GeoDataFrame, optional
        Compound gates; facilities (the capacity of ``parking`` facilities inside a district
        counts as parking supply).
    standards : Standards, optional
        For facility sizes (``min_building_m2`` / ``min_land_m2``).
    heating_region : bool, optional
        Force the heating region on or off; default: latitude >= the cost file's ``min_latitude``.
    old_before : int
        Compounds built before this year get the basic works.
    gap_m : float
        Lanes up to this width between members are closed into the district (as in districting);
        gates on them are inner gates, the others are the district's entrances.
    lang : {"zh", "en"}
        Language of item names and evidence.

    Returns
    -------
    RenovationPlan

    Examples
    --------
    The sample's planning areas (column ``area``) taken as districts:

    >>> from renogis.costs import load_costs
    >>> from renogis.datasets import sample_path
    >>> comp = gpd.read_file(sample_path(), layer="compounds").assign(district_id=lambda c: c["area"])
    >>> districts = comp.dissolve("district_id").reset_index()[["district_id", "geometry"]]
    >>> plan = plan_renovation(comp, districts, costs=load_costs(), lang="en")
    >>> d = plan.districts.set_index("district_id").loc["国浩美都片区"]
    >>> int(d["old_compounds"]), int(d["parking_need"]), float(d["parking_shortfall"])
    (8, 880, 418.0)
    >>> plan.notes
    ('no buildings layer: lift retrofit not assessed',)
    """
    if lang not in ("zh", "en"):
        raise InputError(f"lang must be zh or en, got {lang!r}")
    pricer = _Pricer(costs, lang)
    comp, d = _members(compounds, districts)
    comp = _compound_evidence(comp, parking_per_household=costs.parking_per_household, old_before=old_before)
    comp, notes = _lift_evidence(comp, buildings, zh=pricer.zh)
    heated, heat_why = _heating(d, costs=costs, heating_region=heating_region, zh=pricer.zh)
    public = _public_parking(facilities, d)
    gates_split = _gate_split(gates, d.reset_index(drop=True), comp, gap_m)
    uncovered = _uncovered(gaps)
    sites = _sites(siting)

    rows: list[dict[str, Any]] = []
    dist_rows: list[dict[str, Any]] = []
    by_d = {k: v for k, v in comp.groupby(S.DISTRICT_ID, sort=False)}
    for did in d.index:
        m = by_d.get(did)
        if m is None:
            continue
        stock = _stock(m, old_before=old_before, zh=pricer.zh)
        lifts, n_assessed = _lift_figures(m)
        parking = _parking(m, per_household=costs.parking_per_household, public=float(public.get(did, 0.0)))
        wall = float(d.at[did, S.WALL_M]) if S.WALL_M in d.columns else 0.0
        gb = int(gates_split.at[did, GATES_BOUNDARY]) if did in gates_split.index else 0
        gi = int(gates_split.at[did, GATES_INNER]) if did in gates_split.index else 0
        rows += _basic_items(pricer, did, stock, heated=bool(heated[did]), heat_why=heat_why[did])
        rows += _lift_items(pricer, did, m, lifts=lifts, assessed=n_assessed)
        rows += _parking_items(pricer, did, parking)
        rows += _site_items(pricer, did, stock, members=len(m), wall_m=wall, gates=(gb, gi))
        rows += _facility_items(pricer, did, uncovered.get(did, {}), sites.get(did, {}), standards=standards)
        dist_rows.append(
            _district_record(did, len(m), stock, parking, heated=bool(heated[did]), lifts=lifts,
                             assessed=n_assessed, wall_m=wall, gates=(gb, gi))  # fmt: skip
        )

    items = pd.DataFrame(rows, columns=list(ITEM_COLUMNS))
    items = items.sort_values([S.DISTRICT_ID, PHASE], kind="stable").reset_index(drop=True)
    summ = _district_costs(items, pd.DataFrame(dist_rows, columns=list(DISTRICT_SUMMARY_COLUMNS)))
    funding = _funding(items, costs, lang)
    comp_out = pd.DataFrame(comp.reindex(columns=list(COMPOUND_SUMMARY_COLUMNS)))
    logger.info(
        "renovation: %d items in %d districts, %.0f-%.0f yuan",
        len(items),
        len(summ),
        summ[S.COST_LOW_YUAN].sum() if len(summ) else 0,
        summ[S.COST_HIGH_YUAN].sum() if len(summ) else 0,
    )
    return RenovationPlan(
        items=items,
        districts=summ,
        compounds=comp_out.reset_index(drop=True),
        funding=funding,
        costs=costs,
        notes=tuple(notes),
    )


# ---- per compound evidence
def _members(
    compounds: gpd.GeoDataFrame, districts: gpd.GeoDataFrame
) -> tuple[pd.DataFrame, gpd.GeoDataFrame]:
    """Compounds in a district and the districts (indexed by id), ids as strings; inputs untouched."""
    comp = compounds[compounds[S.DISTRICT_ID].notna()].copy()
    comp[S.COMPOUND_ID] = comp[S.COMPOUND_ID].astype(str)
    comp[S.DISTRICT_ID] = comp[S.DISTRICT_ID].astype(str)
    d = districts.copy()
    d[S.DISTRICT_ID] = d[S.DISTRICT_ID].astype(str)
    return comp, d.set_index(S.DISTRICT_ID, drop=False)


def _compound_evidence(comp: pd.DataFrame, *, parking_per_household: float, old_before: int) -> pd.DataFrame:
    """Per compound: built year, old or not, floor area, parking need, own spaces and shortfall alone."""
    comp = comp.copy()
    year = pd.to_numeric(comp.get(S.BUILT_YEAR, pd.Series(np.nan, index=comp.index)), errors="coerce")
    hh = pd.to_numeric(comp[S.HOUSEHOLDS], errors="coerce").fillna(0)
    own = pd.to_numeric(comp.get(S.PARKING_SPACES, pd.Series(np.nan, index=comp.index)), errors="coerce")
    comp[S.FLOOR_AREA_M2] = pd.to_numeric(
        comp.get(S.FLOOR_AREA_M2, pd.Series(np.nan, index=comp.index)), errors="coerce"
    )
    comp[S.BUILT_YEAR] = year
    comp[OLD] = (year < old_before) | year.isna()
    comp[BUILT_UNKNOWN] = year.isna()
    comp[S.PARKING_NEED] = np.ceil(parking_per_household * hh - 1e-9)
    comp[S.PARKING_SPACES] = own
    comp[S.PARKING_SHORTFALL] = np.maximum(comp[S.PARKING_NEED] - own.fillna(0), 0)
    return comp


def _lift_evidence(
    comp: pd.DataFrame, buildings: pd.DataFrame | None, *, zh: bool
) -> tuple[pd.DataFrame, list[str]]:
    """Per compound: lift candidates and buildings assessed (NaN / 0 without a buildings layer), and notes."""
    comp = comp.copy()
    notes: list[str] = []
    if buildings is not None and len(buildings):
        lc = lift_candidates(buildings)
        nb = buildings.groupby(buildings[S.COMPOUND_ID].astype(str)).size()
        comp[S.LIFT_CANDIDATES] = comp[S.COMPOUND_ID].map(lc).fillna(0).astype(int)
        comp[BUILDINGS_ASSESSED] = comp[S.COMPOUND_ID].map(nb).fillna(0).astype(int)
        no_b = comp.loc[comp[BUILDINGS_ASSESSED] == 0, S.COMPOUND_ID].tolist()
        if no_b:
            notes.append(
                (
                    "无楼栋数据的小区（未评估加装电梯）："
                    if zh
                    else "compounds without buildings in the buildings layer (lifts not assessed): "
                )
                + ", ".join(no_b[:10])
                + (" …" if len(no_b) > 10 else "")
            )
    else:
        comp[S.LIFT_CANDIDATES] = np.nan
        comp[BUILDINGS_ASSESSED] = 0
        notes.append(
            "无楼栋图层（buildings）：未评估加装电梯"
            if zh
            else "no buildings layer: lift retrofit not assessed"
        )
    return comp, notes


# ---- per district context: heating, public parking, service gaps and sites
def _heating(
    d: gpd.GeoDataFrame, *, costs: CostProfile, heating_region: bool | None, zh: bool
) -> tuple[pd.Series, dict[str, str]]:
    """Per district: in the heating region or not (by centroid latitude, or as the run says), and why."""
    if heating_region is not None:
        heated = pd.Series(bool(heating_region), index=d.index)
        heat_why = {
            k: ("按运行参数：集中供暖地区" if zh else "heating region as given by the run")
            if heating_region
            else ("按运行参数：非供暖地区" if zh else "not heated, as given by the run")
            for k in d.index
        }
        return heated, heat_why
    lat = _latitudes(d.geometry)
    heated = pd.Series(lat >= costs.heating_min_latitude, index=d.index)
    heat_why = {
        k: (
            f"片区中心纬度 {la:.2f}°N ≥ {costs.heating_min_latitude:.1f}°N（集中供暖地区）"
            if zh
            else f"district centre at {la:.2f} N >= {costs.heating_min_latitude:.1f} N (heating region)"
        )
        if h
        else (
            f"片区中心纬度 {la:.2f}°N，非集中供暖地区"
            if zh
            else f"district centre at {la:.2f} N, outside the heating region"
        )
        for k, la, h in zip(d.index, lat, heated, strict=True)
    }
    return heated, heat_why


def _public_parking(facilities: gpd.GeoDataFrame | None, d: gpd.GeoDataFrame) -> pd.Series:
    """Capacity of the public ``parking`` facilities inside each district (0 where none)."""
    pub = pd.Series(0.0, index=d.index)
    if facilities is None or not len(facilities) or S.CATEGORY not in facilities.columns:
        return pub
    pk = facilities[facilities[S.CATEGORY] == "parking"]
    if not len(pk):
        return pub
    cap = pd.to_numeric(pk.get(S.CAPACITY, pd.Series(np.nan, index=pk.index)), errors="coerce")
    pts = gpd.GeoDataFrame(
        {"cap": cap.fillna(0).to_numpy()},
        geometry=pk.geometry.representative_point().to_numpy(),
        crs=pk.crs,
    )
    j = gpd.sjoin(pts, d[[S.DISTRICT_ID, S.GEOMETRY]].reset_index(drop=True), predicate="within")
    return j.groupby(S.DISTRICT_ID)["cap"].sum().reindex(d.index, fill_value=0.0)


def _uncovered(gaps: pd.DataFrame | None) -> dict[str, dict[str, tuple[float, float, float]]]:
    """Per district and category still uncovered after merging: (uncovered, households, uncovered before)."""
    uncovered: dict[str, dict[str, tuple[float, float, float]]] = {}
    if gaps is None or not len(gaps):
        return uncovered
    g = gaps[(gaps[S.LEVEL] == "district")]
    for rec in g.to_dict("records"):
        unc = rec.get("uncovered_households_merged")
        if unc is not None and not pd.isna(unc) and unc > 0:
            uncovered.setdefault(str(rec[S.UNIT_ID]), {})[rec[S.CATEGORY]] = (
                float(unc),
                float(rec[S.HOUSEHOLDS]),
                float(rec.get(S.HOUSEHOLDS_UNCOVERED) or 0),
            )
    return uncovered


def _sites(siting: pd.DataFrame | None) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """Per district and category, the sites the siting plan chose in it (plan order)."""
    sites: dict[str, dict[str, list[dict[str, Any]]]] = {}
    if siting is None or not len(siting):
        return sites
    for rec in siting.to_dict("records"):
        did = rec.get(S.DISTRICT_ID)
        if did is None or (isinstance(did, float) and math.isnan(did)):
            continue
        sites.setdefault(str(did), {}).setdefault(rec[S.CATEGORY], []).append(rec)
    return sites


# ---- per district figures
@dataclass(frozen=True)
class _Stock:
    """A district's housing stock: old compounds, floor areas (m²) and the evidence of the basic works."""

    n_old: int
    old_floor_area_m2: float
    floor_area_m2: float
    evidence: str


def _stock(m: pd.DataFrame, *, old_before: int, zh: bool) -> _Stock:
    """Old compounds of a district (members ``m``), their floor area and the evidence sentence."""
    old = m[m[OLD]]
    fa_old = float(pd.to_numeric(old[S.FLOOR_AREA_M2], errors="coerce").fillna(0).sum())
    fa_all = float(pd.to_numeric(m[S.FLOOR_AREA_M2], errors="coerce").fillna(0).sum())
    newer = m[~m[OLD]]
    years = pd.to_numeric(old[S.BUILT_YEAR], errors="coerce") if S.BUILT_YEAR in old else pd.Series()
    yr = f"{int(years.min())}–{int(years.max())}" if years.notna().any() else "?"
    unk = int(m[BUILT_UNKNOWN].sum())
    if zh:
        ev_old = f"{len(old)}/{len(m)} 个小区建于 {old_before} 年以前（{yr}），建筑面积 {_fmt(fa_old)} m²"
        if unk:
            ev_old += f"；其中 {unk} 个建成年代不详，按老旧小区计"
        if len(newer):
            ev_old += "；不含 " + "、".join(
                f"{c}（{int(y)}）" for c, y in zip(newer[S.COMPOUND_ID], newer[S.BUILT_YEAR], strict=True)
            )
    else:
        ev_old = (
            f"{len(old)} of {len(m)} compounds built before {old_before} ({yr}), "
            f"{_fmt(fa_old)} m² of floor area"
        )
        if unk:
            ev_old += f"; {unk} of unknown year counted as old"
        if len(newer):
            ev_old += "; excludes " + ", ".join(
                f"{c} ({int(y)})" for c, y in zip(newer[S.COMPOUND_ID], newer[S.BUILT_YEAR], strict=True)
            )
    return _Stock(n_old=len(old), old_floor_area_m2=fa_old, floor_area_m2=fa_all, evidence=ev_old)


def _lift_figures(m: pd.DataFrame) -> tuple[Any, int]:
    """Lift candidates of a district (NaN unless every member was assessed) and buildings assessed."""
    lc = m[S.LIFT_CANDIDATES]
    n_b = int(m[BUILDINGS_ASSESSED].sum())
    return (lc.sum() if lc.notna().all() and n_b > 0 else np.nan), n_b


@dataclass(frozen=True)
class _Parking:
    """A district's parking: need at the target, supply (own + public) and shortfall, in spaces."""

    households: float
    per_household: float
    need: int
    own: float
    own_missing: int  # compounds without a parking count (taken as 0)
    public: float
    supply: float
    shortfall: float


def _parking(m: pd.DataFrame, *, per_household: float, public: float) -> _Parking:
    """Parking of a district (members ``m``) at ``per_household`` spaces, with ``public`` spaces inside it."""
    hh_d = float(m[S.HOUSEHOLDS].sum())
    need = math.ceil(per_household * hh_d - 1e-9)
    own = pd.to_numeric(m[S.PARKING_SPACES], errors="coerce")
    own_d = float(own.fillna(0).sum())
    supply = own_d + public
    return _Parking(
        households=hh_d,
        per_household=per_household,
        need=need,
        own=own_d,
        own_missing=int(own.isna().sum()),
        public=public,
        supply=supply,
        shortfall=max(0.0, need - supply),
    )


def _district_record(
    did: str,
    members: int,
    stock: _Stock,
    parking: _Parking,
    *,
    heated: bool,
    lifts: Any,
    assessed: int,
    wall_m: float,
    gates: tuple[int, int],
) -> dict[str, Any]:
    """A row of the district table (:data:`DISTRICT_SUMMARY_COLUMNS`): the evidence figures."""
    return {
        S.DISTRICT_ID: did,
        S.N_COMPOUNDS: members,
        S.HOUSEHOLDS: parking.households,
        S.FLOOR_AREA_M2: stock.floor_area_m2,
        OLD_COMPOUNDS: stock.n_old,
        OLD_FLOOR_AREA: stock.old_floor_area_m2,
        S.HEATED: heated,
        S.LIFT_CANDIDATES: lifts,
        BUILDINGS_ASSESSED: assessed,
        S.PARKING_NEED: parking.need,
        PARKING_SUPPLY: parking.supply,
        S.PARKING_SHORTFALL: parking.shortfall,
        S.WALL_M: wall_m,
        GATES_BOUNDARY: gates[0],
        GATES_INNER: gates[1],
    }


# ---- items by class: 基础类, 完善类 (lifts, parking, the shared site), 提升类 (missing facilities)
def _basic_items(
    pr: _Pricer, did: str, stock: _Stock, *, heated: bool, heat_why: str
) -> list[dict[str, Any]]:
    """Networks, roads and drains on the old floor area; energy retrofit and heating in the heating region."""
    fa_old, ev_old = stock.old_floor_area_m2, stock.evidence
    if not fa_old > 0:
        return []
    rows = [pr.row(did, "utilities", fa_old, ev_old), pr.row(did, "roads_drainage", fa_old, ev_old)]
    if heated:
        ev_h = f"{heat_why}；{ev_old}" if pr.zh else f"{heat_why}; {ev_old}"
        rows += [pr.row(did, "energy_retrofit", fa_old, ev_h), pr.row(did, "heating_network", fa_old, ev_h)]
    return rows


def _lift_items(pr: _Pricer, did: str, m: pd.DataFrame, *, lifts: Any, assessed: int) -> list[dict[str, Any]]:
    """One lift per candidate building; a "not assessed" row (no cost) without buildings data."""
    zh = pr.zh
    if pd.isna(lifts):
        return [
            pr.row(
                did,
                "lift_retrofit",
                np.nan,
                "无楼栋数据，未评估（需层数与电梯信息）"
                if zh
                else "not assessed: no buildings data (floors and lifts needed)",
            )
        ]
    n_lift = float(lifts)
    lc = m[S.LIFT_CANDIDATES]
    per = ", ".join(f"{c} {int(v)}" for c, v in zip(m[S.COMPOUND_ID], lc, strict=True) if v > 0)
    ev = (
        f"{assessed} 栋楼中 {int(n_lift)} 栋为 {LIFT_MIN_FLOORS} 层及以上且无电梯（每栋至少 1 部）"
        + (f"：{per}" if per else "")
        if zh
        else f"{int(n_lift)} of {assessed} buildings have {LIFT_MIN_FLOORS}+ floors and no lift "
        f"(at least one lift each)" + (f": {per}" if per else "")
    )
    return [pr.row(did, "lift_retrofit", n_lift, ev)] if n_lift > 0 else []


def _parking_items(pr: _Pricer, did: str, p: _Parking) -> list[dict[str, Any]]:
    """New spaces for the shortfall, with chargers on all of them."""
    ratio, hh_d, need, own_d, public, supply, short = (
        p.per_household, p.households, p.need, p.own, p.public, p.supply, p.shortfall
    )  # fmt: skip
    if pr.zh:
        ev_p = (
            f"目标 {ratio:g} 个/户 × {_fmt(hh_d)} 户 = {need:,} 个；现有小区自有车位 {_fmt(own_d)} 个"
            f" + 片区内公共停车场 {_fmt(public)} 个 = {_fmt(supply)} 个；缺口 {_fmt(short)} 个"
        )
        if p.own_missing:
            ev_p += f"（{p.own_missing} 个小区无车位数据，按 0 计）"
    else:
        ev_p = (
            f"target {ratio:g} per household x {_fmt(hh_d)} households = {need:,}; compounds' own "
            f"spaces {_fmt(own_d)} + public car parks in the district {_fmt(public)} = "
            f"{_fmt(supply)}; shortfall {_fmt(short)}"
        )
        if p.own_missing:
            ev_p += f" ({p.own_missing} compounds without a parking count, taken as 0)"
    if not short > 0:
        return []
    ev_c = (
        f"新增 {_fmt(short)} 个车位全部配建充电设施或预留条件"
        if pr.zh
        else f"chargers or their provision on all {_fmt(short)} new spaces"
    )
    return [pr.row(did, "parking", short, ev_p), pr.row(did, "ev_charging", short, ev_c)]


def _site_items(
    pr: _Pricer, did: str, stock: _Stock, *, members: int, wall_m: float, gates: tuple[int, int]
) -> list[dict[str, Any]]:
    """The district as one site: barrier-free works and greening, property rooms, walls, entrances."""
    zh = pr.zh
    fa_old, fa_all, (gb, gi) = stock.old_floor_area_m2, stock.floor_area_m2, gates
    rows = []
    if fa_old > 0:
        rows.append(pr.row(did, "barrier_free_greening", fa_old, stock.evidence))
    if fa_all > 0:
        ev = (
            f"片区合并为一个物业项目：建筑面积 {_fmt(fa_all)} m² × 2‰"
            if zh
            else f"the district as one managed site: {_fmt(fa_all)} m² of floor area x 2 per mille"
        )
        rows.append(pr.row(did, "property_rooms", round(PROPERTY_ROOM_SHARE * fa_all, 1), ev))
    if wall_m > 0:
        ev = (
            f"{members} 个小区间共享围墙 {_fmt(wall_m)} m"
            if zh
            else f"{_fmt(wall_m)} m of walls shared between the {members} member compounds"
        )
        rows.append(pr.row(did, "wall_opening", round(wall_m, 1), ev))
    if gb > 0:
        ev = (
            f"片区外边界上出入口 {gb} 处整合并加装门禁；内部围墙及巷道上出入口 {gi} 处随围墙打通取消"
            if zh
            else f"{gb} entrances on the district's outer edge get access control; {gi} gates on "
            "inner walls and lanes go with the walls"
        )
        rows.append(pr.row(did, "gate_access", gb, ev))
    return rows


def _facility_items(
    pr: _Pricer,
    did: str,
    uncovered: Mapping[str, tuple[float, float, float]],
    sites: Mapping[str, list[dict[str, Any]]],
    *,
    standards: Any,
) -> list[dict[str, Any]]:
    """A missing facility per category still uncovered after merging or sited in the district."""
    rows = []
    for cat in dict.fromkeys(list(uncovered) + list(sites)):
        spec = pr.costs.facilities.get(cat)
        if spec is None:
            continue
        rule = standards.categories.get(cat) if standards is not None else None
        rows.append(_facility_row(pr, did, cat, spec, rule, uncovered.get(cat), sites.get(cat, [])))
    return rows


def _facility_row(
    pr: _Pricer,
    did: str,
    cat: str,
    spec: Mapping[str, Any],
    rule: Any,
    unc: tuple[float, float, float] | None,
    picks: list[dict[str, Any]],
) -> dict[str, Any]:
    """The item of one missing facility: fitted out in an idle building or built, sized by the standard."""
    zh = pr.zh
    item = str(spec["item"])
    outdoor = pr.costs.items[item].unit == "m2_land"
    size = 0.0
    if rule is not None:
        size = float(rule.min_land_m2 if outdoor else rule.min_building_m2) or 0.0
    size = size or float(spec.get("area_m2") or 0.0)
    name_c = (rule.name_zh if zh else rule.name_en) if rule is not None else cat
    if zh:
        ev = (
            f"统筹后仍有 {_fmt(unc[0])}/{_fmt(unc[1])} 户不在服务半径内（统筹前 {_fmt(unc[2])} 户）"
            if unc
            else "片区内选址服务周边片区"
        )
    else:
        ev = (
            f"{_fmt(unc[0])} of {_fmt(unc[1])} households outside the service radius after "
            f"merging (before: {_fmt(unc[2])})"
            if unc
            else "site in this district serves its neighbours"
        )
    if picks:
        p = picks[0]
        kind = p.get(S.KIND)
        if not outdoor and kind == "idle_building":
            item = "facility_fit_out"
        where = (
            f"；选址地块 {p[S.PARCEL_ID]}"
            f"（{'闲置用房' if kind == 'idle_building' else '闲置用地'}），"
            f"新增覆盖 {_fmt(float(p.get(S.NEWLY_COVERED_HOUSEHOLDS) or 0))} 户"
            if zh
            else f"; site: parcel {p[S.PARCEL_ID]} ({str(kind).replace('_', ' ')}), covers "
            f"{_fmt(float(p.get(S.NEWLY_COVERED_HOUSEHOLDS) or 0))} more households"
        )
    else:
        where = "；片区内无可用闲置地块，需另行选址" if zh else "; no idle parcel in the district: site to be found"
    cls = str(spec["class"])
    if size <= 0:
        none = "；标准未给规模，未估算" if zh else "; no size in the standards, not costed"
        return pr.row(did, item, np.nan, ev + where + none, category=cat, cls=cls, name=name_c)
    size_t = f"；规模按标准下限 {_fmt(size)} m²" if zh else f"; size: the standard's minimum {_fmt(size)} m²"
    return pr.row(did, item, size, ev + where + size_t, category=cat, cls=cls, name=name_c)


# ---- totals and funding
def _district_costs(items: pd.DataFrame, summ: pd.DataFrame) -> pd.DataFrame:
    """The district table with cost low/high per class and in total, and the count of items not costed."""
    summ = summ.copy()
    for c in CLASSES:
        sub = items[items[S.RENO_CLASS] == c].groupby(S.DISTRICT_ID)
        summ[f"{c}_low_yuan"] = summ[S.DISTRICT_ID].map(sub[S.COST_LOW_YUAN].sum()).fillna(0.0)
        summ[f"{c}_high_yuan"] = summ[S.DISTRICT_ID].map(sub[S.COST_HIGH_YUAN].sum()).fillna(0.0)
    summ[S.COST_LOW_YUAN] = summ[[f"{c}_low_yuan" for c in CLASSES]].sum(axis=1)
    summ[S.COST_HIGH_YUAN] = summ[[f"{c}_high_yuan" for c in CLASSES]].sum(axis=1)
    summ[NOT_COSTED] = (
        summ[S.DISTRICT_ID]
        .map(items[items[S.QUANTITY].isna()].groupby(S.DISTRICT_ID).size())
        .fillna(0)
        .astype(int)
    )
    return summ


def _funding(items: pd.DataFrame, costs: CostProfile, lang: str) -> pd.DataFrame:
    recs = []
    for rec in items[items[S.QUANTITY].notna()].to_dict("records"):
        shares = (
            costs.funding_shares[rec[S.ITEM]]
            if rec[S.ITEM] in costs.funding_shares
            else costs.funding_shares[rec[S.RENO_CLASS]]
        )
        for src, sh in shares.items():
            if sh > 0:
                recs.append((rec[S.DISTRICT_ID], src, rec[S.COST_LOW_YUAN] * sh, rec[S.COST_HIGH_YUAN] * sh))
    f = pd.DataFrame(recs, columns=[S.DISTRICT_ID, S.FUNDING_SOURCE, S.COST_LOW_YUAN, S.COST_HIGH_YUAN])
    f = f.groupby([S.DISTRICT_ID, S.FUNDING_SOURCE], sort=False, as_index=False).sum()
    order = {k: i for i, k in enumerate(costs.funding_sources)}
    f = f.sort_values(
        [S.DISTRICT_ID, S.FUNDING_SOURCE],
        key=lambda s: s.map(order) if s.name == S.FUNDING_SOURCE else s,
        kind="stable",
    ).reset_index(drop=True)
    f.insert(
        2,
        FUNDING_SOURCE_NAME,
        f[S.FUNDING_SOURCE].map({k: v.name(lang) for k, v in costs.funding_sources.items()}),
    )
    return f[list(FUNDING_COLUMNS)]
