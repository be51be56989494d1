"""Canonical layer and column names, Chinese header aliases and category keys.

This module is the data contract of renogis. Every other module refers to
column names through the constants here, never through scattered literals.

Input layers (a GeoPackage with these layer names, or a folder with one file
per layer, e.g. ``compounds.geojson``):

``compounds`` (required)
    Polygon/MultiPolygon footprints of residential compounds (小区).
``parcels``
    Idle land (``vacant_land``) and idle buildings (``idle_building``).
``facilities``
    Service facilities as points (polygons count at their representative point).
``streets``
    Street centre lines, possibly long unsplit OpenStreetMap ways.
``barriers``
    Rivers, railways, closed sites: no district and no walk crosses them.
``gates``
    Compound entrances, points with ``compound_id``.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

# --------------------------------------------------------------------------- layers
COMPOUNDS: Final = "compounds"
PARCELS: Final = "parcels"
FACILITIES: Final = "facilities"
STREETS: Final = "streets"
BARRIERS: Final = "barriers"
GATES: Final = "gates"

LAYERS: Final = (COMPOUNDS, PARCELS, FACILITIES, STREETS, BARRIERS, GATES)
REQUIRED_LAYERS: Final = (COMPOUNDS,)

# --------------------------------------------------------------------------- columns
GEOMETRY: Final = "geometry"

# compounds
COMPOUND_ID: Final = "compound_id"
NAME: Final = "name"
HOUSEHOLDS: Final = "households"
BUILDINGS: Final = "buildings"
FLOOR_AREA_M2: Final = "floor_area_m2"
BUILT_YEAR: Final = "built_year"
POPULATION: Final = "population"
SUBDISTRICT: Final = "subdistrict"
OWNERS_COMMITTEE: Final = "owners_committee"
CONSENT: Final = "consent"
PARKING_SPACES: Final = "parking_spaces"
# derived on load: True where population was estimated from households
POPULATION_ESTIMATED: Final = "population_estimated"

# parcels
PARCEL_ID: Final = "parcel_id"
KIND: Final = "kind"
AREA_M2: Final = "area_m2"  # land area, measured in the work CRS
PARCEL_KINDS: Final = ("vacant_land", "idle_building")

# facilities
FACILITY_ID: Final = "facility_id"
CATEGORY: Final = "category"
CAPACITY: Final = "capacity"

# streets
STREET_ID: Final = "street_id"
STREET_CLASS: Final = "class"
WALKABLE: Final = "walkable"
BRIDGE: Final = "bridge"
TUNNEL: Final = "tunnel"
LAYER: Final = "layer"  # OSM vertical layer; crossings at different layers are not noded
STREET_CLASSES: Final = ("arterial", "secondary", "local", "path")

# barriers
BARRIER_ID: Final = "barrier_id"

# gates
GATE_ID: Final = "gate_id"

# outputs: districts (renogis.districting)
DISTRICT_ID: Final = "district_id"
EXCLUDED_REASON: Final = "excluded_reason"
N_COMPOUNDS: Final = "n_compounds"
COMPOUND_IDS: Final = "compound_ids"  # comma-separated member ids
IDLE_AREA_M2: Final = "idle_area_m2"  # land area of the idle parcels a district pools
PARCEL_IDS: Final = "parcel_ids"  # comma-separated pooled parcel ids
WALL_M: Final = "wall_m"  # length of walls to open between member compounds, m
FLAGS: Final = "flags"  # ";"-joined flags such as below_min
REASON: Final = "reason"  # explanation text

# outputs: service access and gaps (renogis.access)
DISTANCE_M: Final = "distance_m"  # walking distance, m
RADIUS_M: Final = "radius_m"  # the standard's service radius, m
WITHIN_RADIUS: Final = "within_radius"
METHOD: Final = "method"  # one of METHODS
NEAREST_FACILITY_ID: Final = "nearest_facility_id"
ACCESS_M: Final = "access_m"  # connector length (m) of the access point a distance starts from
DISTANCE_MERGED_M: Final = "distance_merged_m"  # walking distance with the district's walls opened, m
METHOD_NETWORK: Final = "network"
METHOD_INSIDE: Final = "inside"  # the facility stands inside or on the compound: 0 m
METHOD_STRAIGHT: Final = "straight_line"  # no streets: straight line x detour factor
METHOD_UNREACHABLE: Final = "unreachable"
METHOD_NO_DATA: Final = "no_data"
METHODS: Final = (METHOD_NETWORK, METHOD_INSIDE, METHOD_STRAIGHT, METHOD_UNREACHABLE, METHOD_NO_DATA)
LEVEL: Final = "level"  # LEVEL_COMPOUND or LEVEL_DISTRICT
LEVEL_COMPOUND: Final = "compound"
LEVEL_DISTRICT: Final = "district"
UNIT_ID: Final = "unit_id"  # compound_id or district_id, by level
HOUSEHOLDS_COVERED: Final = "covered_households"
HOUSEHOLDS_UNCOVERED: Final = "uncovered_households"
COVERAGE_SHARE: Final = "coverage_share"
COVERED_HOUSEHOLDS_MERGED: Final = "covered_households_merged"
UNCOVERED_HOUSEHOLDS_MERGED: Final = "uncovered_households_merged"
COVERAGE_SHARE_MERGED: Final = "coverage_share_merged"
DEMAND: Final = "demand"
SUPPLY: Final = "supply"
SHORTFALL: Final = "shortfall"
DEMAND_UNIT: Final = "demand_unit"
CATEGORY_NAME: Final = "category_name"
UNCOVERED_COMPOUNDS: Final = "uncovered_compounds"
COMPOUNDS_COUNT: Final = "compounds"
DATA_STATUS: Final = "data_status"  # STATUS_OK, STATUS_ABSENT or METHOD_NO_DATA
STATUS_OK: Final = "ok"
STATUS_ABSENT: Final = "absent"  # no facility of the category in the layer
NOTE: Final = "note"  # a sentence for the planner

# outputs: siting (renogis.siting)
NEWLY_COVERED_HOUSEHOLDS: Final = "newly_covered_households"
CUMULATIVE_COVERAGE: Final = "cumulative_coverage"

ID_COLUMNS: Final[Mapping[str, str]] = MappingProxyType(
    {
        COMPOUNDS: COMPOUND_ID,
        PARCELS: PARCEL_ID,
        FACILITIES: FACILITY_ID,
        STREETS: STREET_ID,
        BARRIERS: BARRIER_ID,
        GATES: GATE_ID,
    }
)

REQUIRED_COLUMNS: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {
        COMPOUNDS: (COMPOUND_ID, HOUSEHOLDS),
        PARCELS: (),
        FACILITIES: (CATEGORY,),
        STREETS: (),
        BARRIERS: (),
        GATES: (COMPOUND_ID,),
    }
)

#: Geometry families each layer accepts.
GEOMETRY_TYPES: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {
        COMPOUNDS: ("Polygon", "MultiPolygon"),
        PARCELS: ("Polygon", "MultiPolygon"),
        FACILITIES: ("Point", "MultiPoint", "Polygon", "MultiPolygon"),
        STREETS: ("LineString", "MultiLineString"),
        BARRIERS: ("LineString", "MultiLineString", "Polygon", "MultiPolygon"),
        GATES: ("Point",),
    }
)

#: Persons per household used when ``population`` is missing (China 2020 census: 2.62).
DEFAULT_PERSONS_PER_HOUSEHOLD: Final = 2.62

# --------------------------------------------------------------------------- aliases
#: Common Chinese (and a few English) headers mapped to canonical names.
#: Matching ignores case and surrounding white space.
COLUMN_ALIASES: Final[Mapping[str, str]] = MappingProxyType(
    {
        # compounds
        "小区编号": COMPOUND_ID,
        "小区代码": COMPOUND_ID,
        "小区id": COMPOUND_ID,
        "编号": COMPOUND_ID,
        "小区名称": NAME,
        "小区名": NAME,
        "名称": NAME,
        "户数": HOUSEHOLDS,
        "总户数": HOUSEHOLDS,
        "住户数": HOUSEHOLDS,
        "楼栋数": BUILDINGS,
        "楼栋": BUILDINGS,
        "栋数": BUILDINGS,
        "建筑面积": FLOOR_AREA_M2,
        "总建筑面积": FLOOR_AREA_M2,
        "建成年代": BUILT_YEAR,
        "建成年份": BUILT_YEAR,
        "建设年代": BUILT_YEAR,
        "人口": POPULATION,
        "常住人口": POPULATION,
        "街道": SUBDISTRICT,
        "所属街道": SUBDISTRICT,
        "街道办": SUBDISTRICT,
        "业委会": OWNERS_COMMITTEE,
        "是否成立业委会": OWNERS_COMMITTEE,
        "同意率": CONSENT,
        "改造意愿": CONSENT,
        "居民同意率": CONSENT,
        "停车位": PARKING_SPACES,
        "车位数": PARKING_SPACES,
        # parcels
        "地块编号": PARCEL_ID,
        "地块类型": KIND,
        "类型": KIND,
        # facilities
        "设施编号": FACILITY_ID,
        "类别": CATEGORY,
        "设施类别": CATEGORY,
        "设施类型": CATEGORY,
        "容量": CAPACITY,
        "规模": CAPACITY,
        # streets
        "道路编号": STREET_ID,
        "道路等级": STREET_CLASS,
        "等级": STREET_CLASS,
        "highway": "highway",
        "可步行": WALKABLE,
        # gates
        "出入口编号": GATE_ID,
        "门编号": GATE_ID,
    }
)

#: Values of ``parcels.kind`` in Chinese.
PARCEL_KIND_ALIASES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "闲置用地": "vacant_land",
        "空地": "vacant_land",
        "闲置地块": "vacant_land",
        "vacant": "vacant_land",
        "land": "vacant_land",
        "闲置用房": "idle_building",
        "闲置房屋": "idle_building",
        "闲置建筑": "idle_building",
        "building": "idle_building",
    }
)

# --------------------------------------------------------------------------- categories
#: Facility category keys (the keys of the standards files) with their Chinese names.
CATEGORIES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "kindergarten": "幼儿园",
        "nursery": "托儿所",
        "elderly_day_care": "老年人日间照料中心",
        "elderly_home": "养老院",
        "clinic": "社区卫生服务站",
        "health_center": "社区卫生服务中心",
        "service_station": "社区服务站",
        "canteen": "社区食堂",
        "fitness": "室外综合健身场地",
        "sports_ground": "多功能运动场地",
        "culture_station": "文化活动站",
        "food_market": "菜市场",
        "convenience_store": "便利店",
        "parking": "停车场",
        "ev_charging": "充电桩",
        "primary_school": "小学",
        "middle_school": "初中",
        "public_toilet": "公共厕所",
    }
)

#: Extra aliases for category values (Chinese short forms and OSM tags).
CATEGORY_ALIASES: Final[Mapping[str, str]] = MappingProxyType(
    {
        **{zh: key for key, zh in CATEGORIES.items()},
        "托育": "nursery",
        "托育机构": "nursery",
        "日间照料中心": "elderly_day_care",
        "日间照料": "elderly_day_care",
        "托老所": "elderly_day_care",
        "养老服务站": "elderly_day_care",
        "老年服务站": "elderly_day_care",
        "老年养护院": "elderly_home",
        "敬老院": "elderly_home",
        "卫生服务站": "clinic",
        "卫生室": "clinic",
        "诊所": "clinic",
        "社区医院": "health_center",
        "卫生服务中心": "health_center",
        "服务站": "service_station",
        "社区综合服务站": "service_station",
        "食堂": "canteen",
        "助餐点": "canteen",
        "老年食堂": "canteen",
        "健身场地": "fitness",
        "健身": "fitness",
        "运动场": "sports_ground",
        "运动场地": "sports_ground",
        "文化站": "culture_station",
        "文化活动中心": "culture_station",
        "生鲜超市": "food_market",
        "农贸市场": "food_market",
        "超市": "convenience_store",
        "停车": "parking",
        "停车位": "parking",
        "充电站": "ev_charging",
        "中学": "middle_school",
        "厕所": "public_toilet",
        # OpenStreetMap amenity / social_facility / shop values
        "marketplace": "food_market",
        "school": "primary_school",
        "doctors": "clinic",
        "charging_station": "ev_charging",
        "toilets": "public_toilet",
        "childcare": "nursery",
        "day_care": "elderly_day_care",
        "nursing_home": "elderly_home",
        "community_centre": "service_station",
        "fitness_station": "fitness",
        "pitch": "sports_ground",
        "convenience": "convenience_store",
        "supermarket": "convenience_store",
    }
)

# --------------------------------------------------------------------------- streets
#: OpenStreetMap ``highway`` values mapped to renogis street classes.
#: ``None`` means not walkable (motorways, trunk roads, construction).
OSM_HIGHWAY_CLASSES: Final[Mapping[str, str | None]] = MappingProxyType(
    {
        "motorway": None,
        "motorway_link": None,
        "trunk": "arterial",
        "trunk_link": "arterial",
        "primary": "arterial",
        "primary_link": "arterial",
        "secondary": "secondary",
        "secondary_link": "secondary",
        "tertiary": "secondary",
        "tertiary_link": "secondary",
        "residential": "local",
        "unclassified": "local",
        "living_street": "local",
        "service": "local",
        "road": "local",
        "pedestrian": "path",
        "footway": "path",
        "path": "path",
        "steps": "path",
        "cycleway": "path",
        "track": "path",
        "corridor": "path",
        "construction": None,
        "proposed": None,
        "raceway": None,
        "bus_guideway": None,
    }
)

#: Chinese street-class names.
STREET_CLASS_ALIASES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "主干路": "arterial",
        "快速路": "arterial",
        "主干道": "arterial",
        "次干路": "secondary",
        "次干道": "secondary",
        "支路": "local",
        "巷": "local",
        "街巷": "local",
        "步行道": "path",
        "人行道": "path",
        "小路": "path",
    }
)


def normalise_category(value: object) -> str | None:
    """Return the canonical category key for ``value``, or None if unknown.

    Examples
    --------
    >>> normalise_category("幼儿园")
    'kindergarten'
    >>> normalise_category(" Elderly_Day_Care ")
    'elderly_day_care'
    """
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    low = text.lower()
    if low in CATEGORIES:
        return low
    return CATEGORY_ALIASES.get(text, CATEGORY_ALIASES.get(low))


def normalise_street_class(value: object) -> str | None:
    """Return the renogis street class for a class or OSM ``highway`` value.

    Returns None for a value that is not walkable (``motorway``) or unknown.

    Examples
    --------
    >>> normalise_street_class("primary")
    'arterial'
    >>> normalise_street_class("支路")
    'local'
    """
    if value is None:
        return None
    text = str(value).strip()
    low = text.lower()
    if low in STREET_CLASSES:
        return low
    if low in OSM_HIGHWAY_CLASSES:
        return OSM_HIGHWAY_CLASSES[low]
    return STREET_CLASS_ALIASES.get(text)

# --------------------------------------------------------------------------- proposal outputs
# renovation content, costs and property-management viability (renogis.renovation, .viability)
RENO_CLASS: Final = "renovation_class"  # basic | complete | upgrade
ITEM: Final = "item"  # cost item key
QUANTITY: Final = "quantity"
UNIT: Final = "unit"
EVIDENCE: Final = "evidence"
COST_LOW_YUAN: Final = "cost_low_yuan"
COST_HIGH_YUAN: Final = "cost_high_yuan"
VERIFIED: Final = "verified"
SOURCE: Final = "source"
FUNDING_SOURCE: Final = "funding_source"
SHARE: Final = "share"
LIFT_CANDIDATES: Final = "lift_candidates"  # buildings of >= 4 floors without a lift
PARKING_NEED: Final = "parking_need"
PARKING_SHORTFALL: Final = "parking_shortfall"
HEATED: Final = "heated_region"
COST_YUAN_MONTH: Final = "cost_yuan_month"
INCOME_YUAN_MONTH: Final = "income_yuan_month"
BREAK_EVEN_FEE: Final = "break_even_fee"  # yuan per m2 of floor area and month
VIABLE_ALONE: Final = "viable_alone"
VIABLE_MERGED: Final = "viable_merged"
VIABLE_ONLY_MERGED: Final = "viable_only_merged"
# optional layer ``buildings`` (read by renogis.renovation): one row per residential building
BUILDINGS_LAYER: Final = "buildings"
FLOORS: Final = "floors"
HAS_LIFT: Final = "has_lift"
#: Chinese headers of the buildings layer.
BUILDING_ALIASES: Final[Mapping[str, str]] = MappingProxyType(
    {"楼层数": FLOORS, "层数": FLOORS, "楼层": FLOORS, "电梯": HAS_LIFT, "有无电梯": HAS_LIFT,
     "是否有电梯": HAS_LIFT, "小区编号": COMPOUND_ID, "户数": HOUSEHOLDS, "楼栋编号": "building_id"}
)
