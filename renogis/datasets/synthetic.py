"""Synthetic old-city worlds for tests, benchmarks and the bundled sample.

:func:`make_city` builds a deterministic, plausible old city district: a grid of
blocks bounded by arterial streets about 400-500 m apart, split in four by
secondary streets, each quarter tiled by compounds (小区) with lanes of 5-25 m
between them or shared walls, idle parcels in compound corners and empty cells,
service facilities (some categories missing altogether), long unsplit street
lines that cross each other without shared vertices (like OpenStreetMap ways),
a river with bridges, and compound gates facing the streets.

:func:`make_street_grid` builds a lattice of long street lines for network
benchmarks (10k to 1M crossing nodes).

Everything is vectorised (shapely 2 array functions); ``make_city(50_000)`` runs
in a few seconds. Magnitudes follow STANDARDS.md section 6 (about 4-5 buildings,
115-200 households and 100 m2 of floor area per household per compound).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely

from renogis import schema as S
from renogis._errors import InputError

logger = logging.getLogger(__name__)

__all__ = ["make_city", "make_street_grid", "HIGHWAY_BY_CLASS", "COMPOUND_COLUMNS", "LAYER_COLUMNS"]

#: OSM ``highway`` value written for each synthetic street class.
HIGHWAY_BY_CLASS: dict[str, str] = {
    "arterial": "primary",
    "secondary": "secondary",
    "local": "residential",
    "path": "footway",
}

#: Columns of the compounds layer, in order (geometry last).
COMPOUND_COLUMNS: tuple[str, ...] = (
    S.COMPOUND_ID,
    S.NAME,
    S.HOUSEHOLDS,
    S.POPULATION,
    S.BUILDINGS,
    S.FLOOR_AREA_M2,
    S.BUILT_YEAR,
    S.SUBDISTRICT,
    S.OWNERS_COMMITTEE,
    S.CONSENT,
    S.PARKING_SPACES,
    S.GEOMETRY,
)

#: Columns of every layer :func:`make_city` returns, in order (geometry last).
LAYER_COLUMNS: dict[str, tuple[str, ...]] = {
    S.COMPOUNDS: COMPOUND_COLUMNS,
    S.PARCELS: (S.PARCEL_ID, S.KIND, S.AREA_M2, S.FLOOR_AREA_M2, S.GEOMETRY),
    S.FACILITIES: (S.FACILITY_ID, S.CATEGORY, S.CAPACITY, S.NAME, S.GEOMETRY),
    S.STREETS: (
        S.STREET_ID,
        S.STREET_CLASS,
        S.WALKABLE,
        S.BRIDGE,
        S.TUNNEL,
        S.LAYER,
        "highway",
        S.GEOMETRY,
    ),
    S.BARRIERS: (S.BARRIER_ID, S.GEOMETRY),
    S.GATES: (S.GATE_ID, S.COMPOUND_ID, S.GEOMETRY),
}

# --------------------------------------------------------------------------- layout constants (m)
_BLOCK_MIN_M = 400.0
_BLOCK_MAX_M = 500.0
_ARTERIAL_SETBACK_M = 20.0  # arterial centre line -> compound edge
_SECONDARY_SETBACK_M = 10.0  # secondary centre line -> compound edge
_RIVER_BAND_M = 110.0  # band between two block rows holding the river and two bank roads
_RIVER_SETBACK_M = 5.0  # band edge -> compound edge
_BANK_ROAD_M = 12.0  # band edge -> bank road centre line
_RIVER_LO_M = 30.0  # band edge -> mean river bank (south)
_RIVER_HI_M = 80.0  # band edge -> mean river bank (north)
_RIVER_WAVE_M = 6.0  # meander amplitude
_BRIDGE_LO_M = 20.0  # band edge -> start of bridge
_BRIDGE_HI_M = 90.0  # band edge -> end of bridge
_STREET_OVERHANG_M = 60.0  # arterials run past the outermost crossings
_GAP_MIN_M = 5.0
_GAP_MAX_M = 25.0
_CELLS_PER_QUARTER = (1, 2, 3)
_CELLS_P = (0.2, 0.55, 0.25)
_BLOCKS_PER_SUBDISTRICT = 3  # subdistricts are groups of 3 x 3 blocks

_NAME_WORDS = (
    "永福", "建设", "光明", "文化", "新华", "幸福", "和平", "东风", "红旗", "胜利",
    "人民", "民生", "安居", "康乐", "富民", "青年", "长安", "泰山", "临山", "龙潭",
    "振兴", "兴华", "华山", "金桥", "丽景", "锦绣", "阳光", "枣园", "榴园", "薛城",
    "奚仲", "常庄", "沙沟", "邹坞", "陶庄", "临城", "巨山", "黄河", "泰和", "嘉和",
    "德润", "瑞丰", "永兴", "宏达", "兴隆", "电业", "铁路", "煤矿", "纺织", "机械",
    "化工", "粮食", "供销", "水利", "交通", "教师", "卫生", "邮电", "林业", "矿务",
)  # fmt: skip
_NAME_SUFFIXES = ("小区", "花园", "家园", "新村", "宿舍", "苑", "公寓")

#: (facilities per compound, capacity low, capacity high); capacity NaN where not meaningful.
_FACILITY_RATES: dict[str, tuple[float, float, float]] = {
    "kindergarten": (1 / 20, 90, 360),  # seats
    "nursery": (1 / 30, 20, 60),  # places
    "elderly_day_care": (1 / 30, 20, 50),  # places
    "elderly_home": (1 / 80, 40, 200),  # beds
    "clinic": (1 / 20, math.nan, math.nan),
    "health_center": (1 / 100, math.nan, math.nan),
    "service_station": (1 / 15, math.nan, math.nan),
    "canteen": (1 / 25, 40, 150),  # seats
    "fitness": (1 / 8, math.nan, math.nan),
    "sports_ground": (1 / 40, math.nan, math.nan),
    "culture_station": (1 / 30, math.nan, math.nan),
    "food_market": (1 / 25, math.nan, math.nan),
    "convenience_store": (1 / 4, math.nan, math.nan),
    "parking": (1 / 10, 30, 300),  # spaces
    "ev_charging": (1 / 15, 4, 20),  # charging points
    "primary_school": (1 / 60, 900, 2160),  # seats
    "middle_school": (1 / 120, 1000, 2400),  # seats
    "public_toilet": (1 / 20, math.nan, math.nan),
}


# --------------------------------------------------------------------------- helpers
def _ids(prefix: str, n: int) -> np.ndarray:
    width = max(4, len(str(n)))
    return np.array([f"{prefix}{i:0{width}d}" for i in range(1, n + 1)], dtype=object)


def _lines_from_coords(x0, y0, x1, y1) -> np.ndarray:
    """Two-point LineStrings from coordinate arrays."""
    coords = np.stack(
        [np.column_stack([x0, y0]), np.column_stack([x1, y1])], axis=1
    )  # (n, 2, 2)
    return shapely.linestrings(coords)


def _street_frame(
    geoms: np.ndarray,
    classes: np.ndarray,
    bridge: np.ndarray,
    crs: str,
    *,
    id_prefix: str = "S",
) -> gpd.GeoDataFrame:
    n = len(geoms)
    classes = np.asarray(classes, dtype=object)
    bridge = np.asarray(bridge, dtype=bool)
    highway = np.array([HIGHWAY_BY_CLASS[c] for c in classes], dtype=object)
    return gpd.GeoDataFrame(
        {
            S.STREET_ID: _ids(id_prefix, n),
            S.STREET_CLASS: classes,
            S.WALKABLE: np.ones(n, dtype=bool),
            S.BRIDGE: bridge,
            S.TUNNEL: np.zeros(n, dtype=bool),
            S.LAYER: bridge.astype(np.int64),
            "highway": highway,
        },
        geometry=gpd.GeoSeries(geoms, crs=crs),
        crs=crs,
    )


def _allocate_cells(n_cells: int, cols: int, rng: np.random.Generator):
    """Draw cells-per-quarter counts row by row until ``n_cells`` cells fit."""
    nx_rows, ny_rows = [], []
    total = 0
    while total < n_cells:
        nx = rng.choice(_CELLS_PER_QUARTER, size=(cols, 4), p=_CELLS_P)
        ny = rng.choice(_CELLS_PER_QUARTER, size=(cols, 4), p=_CELLS_P)
        nx_rows.append(nx)
        ny_rows.append(ny)
        total += int((nx * ny).sum())
    return np.stack(nx_rows), np.stack(ny_rows)  # (rows, cols, 4)


# --------------------------------------------------------------------------- make_city
@dataclass(frozen=True, eq=False)
class _Blocks:
    """The block grid: arterial and secondary street lines, block rows, the river band (m)."""

    rows: int
    cols: int
    river_row: int  # the river band lies below this block row (``rows`` when above them all)
    nx_q: np.ndarray  # cells along x per quarter, (rows, cols, 4)
    ny_q: np.ndarray  # cells along y per quarter, (rows, cols, 4)
    xb: np.ndarray  # north-south arterial x, cols + 1
    y_lo: np.ndarray  # bottom of each block row
    y_hi: np.ndarray  # top of each block row
    band_lo: float  # river band [band_lo, band_hi]
    band_hi: float
    sx: np.ndarray  # mid-block north-south secondary street x, per column
    sy: np.ndarray  # mid-block east-west secondary street y, per row
    street_lo: np.ndarray  # street centre line at the bottom of each block row
    street_hi: np.ndarray  # street centre line at the top of each block row
    setb_lo: np.ndarray  # compound setback from the bottom street of each block row
    setb_hi: np.ndarray  # compound setback from the top street of each block row


@dataclass(frozen=True, eq=False)
class _Quarters:
    """Block quarters, flattened (rows, cols, 4), and the cuts that split them into cells."""

    r_idx: np.ndarray  # block row of each quarter
    c_idx: np.ndarray  # block column of each quarter
    x0: np.ndarray  # compound area of each quarter (inside the street setbacks)
    x1: np.ndarray
    y0: np.ndarray
    y1: np.ndarray
    sx0: np.ndarray  # street centre lines bounding each quarter (lane ends)
    sx1: np.ndarray
    sy0: np.ndarray
    sy1: np.ndarray
    nx: np.ndarray  # cells along x
    ny: np.ndarray  # cells along y
    cut_x: np.ndarray  # (nq, 2): index k is the cut between cell k and k + 1
    lane_x: np.ndarray  # (nq, 2): the cut is a lane (a street), not only a gap
    gap_x: np.ndarray  # (nq, 2, 3): gap width (0: shared wall) per cell of the other axis
    cut_y: np.ndarray
    lane_y: np.ndarray
    gap_y: np.ndarray


@dataclass(frozen=True, eq=False)
class _Cells:
    """The first ``n_cells`` cells of the quarters (compounds and whole-cell parcels)."""

    x0: np.ndarray
    x1: np.ndarray
    y0: np.ndarray
    y1: np.ndarray
    quarter: np.ndarray  # index of the quarter holding each cell
    block_row: np.ndarray
    block_col: np.ndarray
    street_sides: np.ndarray  # (n, 4) left, right, bottom, top side faces a street or lane
    gap_sides: np.ndarray  # (n, 4) the side has a gap (is not a shared wall)


def _check_city_args(
    n_compounds: int, n_parcels: int | None, missing_categories: Sequence[str] | None
) -> None:
    """Raise InputError naming the first bad argument of :func:`make_city`."""
    if int(n_compounds) != n_compounds or n_compounds < 1:
        raise InputError(f"make_city: n_compounds must be an integer >= 1, got {n_compounds!r}")
    if n_parcels is not None and (int(n_parcels) != n_parcels or n_parcels < 0):
        raise InputError(f"make_city: n_parcels must be an integer >= 0, got {n_parcels!r}")
    if missing_categories is not None:
        unknown = sorted(set(missing_categories) - set(S.CATEGORIES))
        if unknown:
            raise InputError(
                f"make_city: unknown facility categories {unknown} in missing_categories; "
                f"use keys of renogis.schema.CATEGORIES"
            )


def _block_grid(n_cells: int, ox: float, oy: float, rng: np.random.Generator) -> _Blocks:
    """Blocks of 400-500 m with a river band between two block rows, enough for ``n_cells``."""
    est_blocks = n_cells / (4 * 2.05**2)
    cols = max(1, math.ceil(math.sqrt(est_blocks)))
    nx_q, ny_q = _allocate_cells(n_cells, cols, rng)
    rows = nx_q.shape[0]
    river_row = rows // 2 if rows >= 2 else 1  # river band below this block row (1: above)

    widths = rng.uniform(_BLOCK_MIN_M, _BLOCK_MAX_M, cols)
    heights = rng.uniform(_BLOCK_MIN_M, _BLOCK_MAX_M, rows)
    xb = ox + np.concatenate([[0.0], np.cumsum(widths)])  # arterial x, cols + 1
    # block row extents with the river band inserted before row `river_row`
    shift = np.where(np.arange(rows) >= river_row, _RIVER_BAND_M, 0.0)
    y_lo = oy + np.concatenate([[0.0], np.cumsum(heights)[:-1]]) + shift
    y_hi = y_lo + heights
    band_lo = oy + heights[:river_row].sum()  # river band [band_lo, band_lo + _RIVER_BAND_M]
    band_hi = band_lo + _RIVER_BAND_M
    # mid-block secondary streets
    sx = xb[:-1] + widths * (0.5 + rng.uniform(-0.08, 0.08, cols))
    sy = y_lo + heights * (0.5 + rng.uniform(-0.08, 0.08, rows))

    # street centre lines and compound setbacks at the bottom/top of each block row
    street_lo = y_lo.copy()
    street_hi = y_hi.copy()
    setb_lo = np.full(rows, _ARTERIAL_SETBACK_M)
    setb_hi = np.full(rows, _ARTERIAL_SETBACK_M)
    if river_row < rows:
        street_lo[river_row] = band_hi - _BANK_ROAD_M
        setb_lo[river_row] = _RIVER_SETBACK_M
    street_hi[river_row - 1] = band_lo + _BANK_ROAD_M
    setb_hi[river_row - 1] = _RIVER_SETBACK_M
    return _Blocks(
        rows=rows,
        cols=cols,
        river_row=river_row,
        nx_q=nx_q,
        ny_q=ny_q,
        xb=xb,
        y_lo=y_lo,
        y_hi=y_hi,
        band_lo=band_lo,
        band_hi=band_hi,
        sx=sx,
        sy=sy,
        street_lo=street_lo,
        street_hi=street_hi,
        setb_lo=setb_lo,
        setb_hi=setb_hi,
    )


def _cuts(
    lo: np.ndarray,
    hi: np.ndarray,
    n: np.ndarray,
    force_first_lane: np.ndarray,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cut positions, lane flags and gap widths along one axis (at most 2 cuts per quarter)."""
    nq = len(n)
    k = np.arange(1, 3)[None, :]
    jitter = rng.uniform(-0.12, 0.12, (nq, 2))
    pos = lo[:, None] + (hi - lo)[:, None] * (k + jitter) / n[:, None]
    lane = rng.random((nq, 2)) < 0.5
    lane[:, 0] |= force_first_lane
    lane_gap = rng.uniform(_GAP_MIN_M, _GAP_MAX_M, (nq, 2))
    mixed = np.where(
        rng.random((nq, 2, 3)) < 0.5, 0.0, rng.uniform(_GAP_MIN_M, _GAP_MAX_M, (nq, 2, 3))
    )
    gap = np.where(lane[:, :, None], lane_gap[:, :, None], mixed)  # (nq, cut, other-axis cell)
    valid = k < n[:, None]
    return pos, lane & valid, gap


def _quarters(blocks: _Blocks, rng: np.random.Generator) -> _Quarters:
    """Split each block in four by its secondary streets, and each quarter by lane/wall cuts."""
    b = blocks
    r3, c3, q3 = np.meshgrid(np.arange(b.rows), np.arange(b.cols), np.arange(4), indexing="ij")
    r_idx, c_idx, q_idx = r3.ravel(), c3.ravel(), q3.ravel()
    right = (q_idx % 2) == 1
    top = q_idx >= 2
    qx0 = np.where(right, b.sx[c_idx] + _SECONDARY_SETBACK_M, b.xb[c_idx] + _ARTERIAL_SETBACK_M)
    qx1 = np.where(right, b.xb[c_idx + 1] - _ARTERIAL_SETBACK_M, b.sx[c_idx] - _SECONDARY_SETBACK_M)
    qy0 = np.where(top, b.sy[r_idx] + _SECONDARY_SETBACK_M, b.y_lo[r_idx] + b.setb_lo[r_idx])
    qy1 = np.where(top, b.y_hi[r_idx] - b.setb_hi[r_idx], b.sy[r_idx] - _SECONDARY_SETBACK_M)
    nx = b.nx_q.ravel()
    ny = b.ny_q.ravel()
    nq = len(nx)
    # the middle cell of a 3 x 3 quarter would have no street side: its first x-cut is a lane
    cx, lane_x, gx = _cuts(qx0, qx1, nx, (nx == 3) & (ny == 3), rng)
    cy, lane_y, gy = _cuts(qy0, qy1, ny, np.zeros(nq, dtype=bool), rng)
    return _Quarters(
        r_idx=r_idx,
        c_idx=c_idx,
        x0=qx0,
        x1=qx1,
        y0=qy0,
        y1=qy1,
        sx0=np.where(right, b.sx[c_idx], b.xb[c_idx]),
        sx1=np.where(right, b.xb[c_idx + 1], b.sx[c_idx]),
        sy0=np.where(top, b.sy[r_idx], b.street_lo[r_idx]),
        sy1=np.where(top, b.street_hi[r_idx], b.sy[r_idx]),
        nx=nx,
        ny=ny,
        cut_x=cx,
        lane_x=lane_x,
        gap_x=gx,
        cut_y=cy,
        lane_y=lane_y,
        gap_y=gy,
    )


def _cells(q: _Quarters, n_cells: int) -> _Cells:
    """Cell rectangles between the cuts, with the sides that face a street or have a gap."""
    nq = len(q.nx)
    cx, gx, cy, gy = q.cut_x, q.gap_x, q.cut_y, q.gap_y
    # cells (nq, j, i): i along x, j along y; flattened row-major within a quarter
    ii = np.arange(3)[None, None, :]
    jj = np.arange(3)[None, :, None]
    qi = np.arange(nq)[:, None, None]
    nx3, ny3 = q.nx[:, None, None], q.ny[:, None, None]
    cell_valid = (ii < nx3) & (jj < ny3)
    im1 = np.clip(ii - 1, 0, 1)
    i0 = np.clip(ii, 0, 1)
    jm1 = np.clip(jj - 1, 0, 1)
    j0 = np.clip(jj, 0, 1)
    left = np.where(ii == 0, q.x0[:, None, None], cx[qi, im1] + gx[qi, im1, jj] / 2)
    rightx = np.where(ii == nx3 - 1, q.x1[:, None, None], cx[qi, i0] - gx[qi, i0, jj] / 2)
    bottom = np.where(jj == 0, q.y0[:, None, None], cy[qi, jm1] + gy[qi, jm1, ii] / 2)
    topy = np.where(jj == ny3 - 1, q.y1[:, None, None], cy[qi, j0] - gy[qi, j0, ii] / 2)
    # sides facing a street (quarter edge or lane cut) and sides with a gap (not a shared wall)
    street_l = (ii == 0) | q.lane_x[qi, im1]
    street_r = (ii == nx3 - 1) | q.lane_x[qi, i0]
    street_b = (jj == 0) | q.lane_y[qi, jm1]
    street_t = (jj == ny3 - 1) | q.lane_y[qi, j0]
    gap_l = (ii == 0) | (gx[qi, im1, jj] > 0)
    gap_r = (ii == nx3 - 1) | (gx[qi, i0, jj] > 0)
    gap_b = (jj == 0) | (gy[qi, jm1, ii] > 0)
    gap_t = (jj == ny3 - 1) | (gy[qi, j0, ii] > 0)

    shape = cell_valid.shape
    flat = cell_valid.ravel()

    def take(a: np.ndarray) -> np.ndarray:
        return np.broadcast_to(a, shape).ravel()[flat][:n_cells]

    q_of_cell = take(np.broadcast_to(qi, shape))
    return _Cells(
        x0=take(left),
        x1=take(rightx),
        y0=take(bottom),
        y1=take(topy),
        quarter=q_of_cell,
        block_row=q.r_idx[q_of_cell],
        block_col=q.c_idx[q_of_cell],
        street_sides=np.column_stack(
            [take(street_l), take(street_r), take(street_b), take(street_t)]
        ),
        gap_sides=np.column_stack([take(gap_l), take(gap_r), take(gap_b), take(gap_t)]),
    )


def _pick_cell_parcels(n_cells: int, n_cell_parcels: int, rng: np.random.Generator) -> np.ndarray:
    """Boolean mask of the cells that are whole-cell idle parcels (the rest are compounds)."""
    is_cell_parcel = np.zeros(n_cells, dtype=bool)
    if n_cell_parcels:
        is_cell_parcel[rng.choice(n_cells, n_cell_parcels, replace=False)] = True
    return is_cell_parcel


def _compound_shapes(
    cx0: np.ndarray,
    cy0: np.ndarray,
    cx1: np.ndarray,
    cy1: np.ndarray,
    n_notch_parcels: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Compound polygons (cells less corner notches) and the idle parcels in the notches."""
    n_compounds = len(cx0)
    geoms = shapely.box(cx0, cy0, cx1, cy1)
    cw, ch = cx1 - cx0, cy1 - cy0
    # corner notches holding idle parcels
    n_notch = min(n_notch_parcels, n_compounds)
    notch_idx = (
        np.sort(rng.choice(n_compounds, n_notch, replace=False)) if n_notch else np.array([], int)
    )
    target = np.exp(rng.uniform(np.log(400.0), np.log(6000.0), n_notch))
    aspect = rng.uniform(0.6, 1.6, n_notch)
    nw = np.minimum(np.maximum(np.sqrt(target * aspect), 20.0), 0.5 * cw[notch_idx])
    nh = np.minimum(np.maximum(target / nw, 20.0), 0.5 * ch[notch_idx])
    corner = rng.integers(0, 4, n_notch)
    at_right = corner % 2 == 1
    at_top = corner >= 2
    nx0 = np.where(at_right, cx1[notch_idx] - nw, cx0[notch_idx])
    ny0 = np.where(at_top, cy1[notch_idx] - nh, cy0[notch_idx])
    notch = shapely.box(nx0, ny0, nx0 + nw, ny0 + nh)
    geoms[notch_idx] = shapely.difference(geoms[notch_idx], notch)
    notch_parcels = shapely.box(nx0 + 2, ny0 + 2, nx0 + nw - 2, ny0 + nh - 2)
    return geoms, notch_parcels


def _compound_names(n_compounds: int, rng: np.random.Generator) -> np.ndarray:
    """Distinct compound names (word + suffix), numbered once the combinations run out."""
    words = list(_NAME_WORDS)
    combos = [w + s for s in _NAME_SUFFIXES for w in words]
    order = rng.permutation(len(combos))
    combos = [combos[k] for k in order]
    return np.array(
        [
            combos[i % len(combos)] + (str(i // len(combos) + 1) if i >= len(combos) else "")
            for i in range(n_compounds)
        ],
        dtype=object,
    )


def _subdistrict_names(
    block_row: np.ndarray, block_col: np.ndarray, cols: int, rng: np.random.Generator
) -> np.ndarray:
    """Subdistrict (街道) of each compound: one per group of 3 x 3 blocks."""
    words = list(_NAME_WORDS)
    sd_words = [words[k] for k in rng.permutation(len(words))]
    g_r = block_row // _BLOCKS_PER_SUBDISTRICT
    g_c = block_col // _BLOCKS_PER_SUBDISTRICT
    g = g_r * (cols // _BLOCKS_PER_SUBDISTRICT + 1) + g_c
    _, g_rank = np.unique(g, return_inverse=True)
    sd_names = [
        f"{sd_words[k % len(sd_words)]}{'' if k < len(sd_words) else k // len(sd_words) + 1}街道"
        for k in range(int(g_rank.max()) + 1)
    ]
    return np.array(sd_names, dtype=object)[g_rank]


def _compounds_frame(
    geoms: np.ndarray,
    block_row: np.ndarray,
    block_col: np.ndarray,
    blocks: _Blocks,
    crs: str,
    rng: np.random.Generator,
) -> gpd.GeoDataFrame:
    """The compounds layer: households, buildings, floor area, ... in STANDARDS.md magnitudes."""
    n_compounds = len(geoms)
    land_m2 = shapely.area(geoms)
    far = rng.uniform(1.3, 2.3, n_compounds)
    households = np.clip(np.round(land_m2 * far / 100.0), 60, 400).astype(np.int64)
    buildings = np.maximum(1, np.round(households / rng.uniform(25, 40, n_compounds))).astype(
        np.int64
    )
    floor_area = np.round(households * rng.uniform(85, 115, n_compounds), -1)
    population = np.round(households * rng.uniform(2.3, 2.9, n_compounds), 1)
    block_year = rng.uniform(1978, 2002, (blocks.rows, blocks.cols))
    built_year = np.clip(
        np.round(block_year[block_row, block_col] + rng.normal(0, 3, n_compounds)), 1975, 2005
    ).astype(np.int64)
    consent = np.round(rng.uniform(0.4, 1.0, n_compounds), 2)
    owners_committee = rng.random(n_compounds) < 0.3
    parking = np.round(households * rng.uniform(0.05, 0.4, n_compounds)).astype(np.int64)
    names = _compound_names(n_compounds, rng)
    subdistrict = _subdistrict_names(block_row, block_col, blocks.cols, rng)
    return gpd.GeoDataFrame(
        {
            S.COMPOUND_ID: _ids("C", n_compounds),
            S.NAME: names,
            S.HOUSEHOLDS: households,
            S.POPULATION: population,
            S.BUILDINGS: buildings,
            S.FLOOR_AREA_M2: floor_area,
            S.BUILT_YEAR: built_year,
            S.SUBDISTRICT: subdistrict,
            S.OWNERS_COMMITTEE: owners_committee,
            S.CONSENT: consent,
            S.PARKING_SPACES: parking,
        },
        geometry=gpd.GeoSeries(geoms, crs=crs),
        crs=crs,
    )


def _parcels_frame(
    cells: _Cells,
    is_cell_parcel: np.ndarray,
    notch_parcels: np.ndarray,
    crs: str,
    rng: np.random.Generator,
) -> gpd.GeoDataFrame:
    """The idle parcels layer: the corner-notch parcels and one parcel inside each parcel cell."""
    n_cell_parcels = int(is_cell_parcel.sum())
    px0, px1 = cells.x0[is_cell_parcel], cells.x1[is_cell_parcel]
    py0, py1 = cells.y0[is_cell_parcel], cells.y1[is_cell_parcel]
    ptarget = np.exp(rng.uniform(np.log(1500.0), np.log(6000.0), n_cell_parcels))
    paspect = rng.uniform(0.6, 1.6, n_cell_parcels)
    pw = np.minimum(np.sqrt(ptarget * paspect), px1 - px0 - 4)
    ph = np.minimum(ptarget / pw, py1 - py0 - 4)
    pox = px0 + 2 + rng.random(n_cell_parcels) * (px1 - px0 - 4 - pw)
    poy = py0 + 2 + rng.random(n_cell_parcels) * (py1 - py0 - 4 - ph)
    cell_parcels = shapely.box(pox, poy, pox + pw, poy + ph)
    parcel_geoms = np.concatenate([notch_parcels, cell_parcels])
    order_p = rng.permutation(len(parcel_geoms))
    parcel_geoms = parcel_geoms[order_p]
    n_par_total = len(parcel_geoms)
    parcel_area = np.round(shapely.area(parcel_geoms), 1)
    idle_building = rng.random(n_par_total) < 0.4
    parcel_floor = np.where(
        idle_building, np.round(parcel_area * rng.uniform(0.8, 3.0, n_par_total), -1), np.nan
    )
    return gpd.GeoDataFrame(
        {
            S.PARCEL_ID: _ids("P", n_par_total),
            S.KIND: np.where(idle_building, "idle_building", "vacant_land").astype(object),
            S.AREA_M2: parcel_area,
            S.FLOOR_AREA_M2: parcel_floor,
        },
        geometry=gpd.GeoSeries(parcel_geoms, crs=crs),
        crs=crs,
    )


def _facilities_frame(
    geoms: np.ndarray,
    cx0: np.ndarray,
    cy0: np.ndarray,
    cx1: np.ndarray,
    cy1: np.ndarray,
    missing_categories: Sequence[str] | None,
    crs: str,
    rng: np.random.Generator,
) -> gpd.GeoDataFrame:
    """Service facilities inside random host compounds; the missing categories left out."""
    n_compounds = len(geoms)
    cw, ch = cx1 - cx0, cy1 - cy0
    cats = list(S.CATEGORIES)
    if missing_categories is None:
        missing = set(rng.choice(cats, 4, replace=False).tolist())
    else:
        missing = set(missing_categories)
    fac_cat, fac_cap = [], []
    for cat in cats:
        rate, lo, hi = _FACILITY_RATES.get(cat, (1 / 30, math.nan, math.nan))
        k = max(1, int(rng.poisson(n_compounds * rate)))
        if cat in missing:
            continue
        fac_cat.extend([cat] * k)
        cap = np.round(rng.uniform(lo, hi, k)) if not math.isnan(lo) else np.full(k, np.nan)
        fac_cap.append(cap)
    n_fac = len(fac_cat)
    host = rng.integers(0, n_compounds, n_fac)
    fx = cx0[host] + rng.uniform(0.15, 0.85, n_fac) * cw[host]
    fy = cy0[host] + rng.uniform(0.15, 0.85, n_fac) * ch[host]
    fpts = shapely.points(fx, fy)
    inside = shapely.contains(geoms[host], fpts)
    fpts = np.where(inside, fpts, shapely.point_on_surface(geoms[host]))
    fac_cat_arr = np.array(fac_cat, dtype=object)
    zh = np.array([S.CATEGORIES[c] for c in fac_cat], dtype=object)
    prefix = np.array(list(_NAME_WORDS), dtype=object)[rng.integers(0, len(_NAME_WORDS), n_fac)]
    return gpd.GeoDataFrame(
        {
            S.FACILITY_ID: _ids("F", n_fac),
            S.CATEGORY: fac_cat_arr,
            S.CAPACITY: np.concatenate(fac_cap) if fac_cap else np.array([], float),
            S.NAME: prefix + zh,
        },
        geometry=gpd.GeoSeries(fpts, crs=crs),
        crs=crs,
    )


def _long_vertical(x: np.ndarray, ya: float, yb: float, step: float = 150.0) -> np.ndarray:
    """Long north-south lines with intermediate vertices every ``step`` metres."""
    n_v = max(2, int((yb - ya) / step) + 1)
    t = np.linspace(0.0, 1.0, n_v)
    ys = ya + t * (yb - ya)
    xs = np.broadcast_to(x[:, None], (len(x), n_v))
    return shapely.linestrings(np.stack([xs, np.broadcast_to(ys, xs.shape)], axis=-1))


def _long_horizontal(y: np.ndarray, xa: float, xb_: float, step: float = 150.0) -> np.ndarray:
    """Long east-west lines with intermediate vertices every ``step`` metres."""
    n_v = max(2, int((xb_ - xa) / step) + 1)
    t = np.linspace(0.0, 1.0, n_v)
    xs = xa + t * (xb_ - xa)
    ys = np.broadcast_to(y[:, None], (len(y), n_v))
    return shapely.linestrings(np.stack([np.broadcast_to(xs, ys.shape), ys], axis=-1))


#: A group of street lines of one class: (geometries, class, on a bridge).
_StreetGroup = tuple[np.ndarray, str, bool]


def _through_streets(b: _Blocks) -> list[_StreetGroup]:
    """Arterials, secondary streets (bridged or ending at the bank roads) and the bank roads."""
    x_min, x_max = b.xb[0] - _STREET_OVERHANG_M, b.xb[-1] + _STREET_OVERHANG_M
    y_bottom, y_top = b.y_lo[0], b.y_hi[-1]
    if b.river_row >= b.rows:  # river above the only block rows: streets run past it
        y_top = b.band_hi + _ARTERIAL_SETBACK_M * 2
    y_min, y_max = y_bottom - _STREET_OVERHANG_M, y_top + _STREET_OVERHANG_M
    br_lo, br_hi = b.band_lo + _BRIDGE_LO_M, b.band_lo + _BRIDGE_HI_M
    bank_s, bank_n = b.band_lo + _BANK_ROAD_M, b.band_hi - _BANK_ROAD_M
    xb, sx = b.xb, b.sx
    out: list[_StreetGroup] = []
    # north-south arterials: south part, bridge, north part (sharing end vertices, like OSM)
    out.append((_long_vertical(xb, y_min, br_lo), "arterial", False))
    bridges = _lines_from_coords(xb, np.full_like(xb, br_lo), xb, np.full_like(xb, br_hi))
    out.append((bridges, "arterial", True))
    if y_max > br_hi:
        out.append((_long_vertical(xb, br_hi, y_max), "arterial", False))
    # east-west arterials at block-row boundaries except where the river band is
    y_art = np.concatenate([[b.y_lo[0]], b.y_hi])
    y_art = y_art[(y_art < b.band_lo - 1) | (y_art > b.band_hi + 1)]
    out.append((_long_horizontal(y_art, x_min, x_max), "arterial", False))
    # secondary streets: every second one bridges the river, the others end at the bank roads
    bridged = np.arange(b.cols) % 2 == 0
    y_sec_min, y_sec_max = y_bottom - _ARTERIAL_SETBACK_M, y_top + _ARTERIAL_SETBACK_M
    out.append((_long_vertical(sx[bridged], y_sec_min, br_lo), "secondary", False))
    n_bridged = bridged.sum()
    bridges = _lines_from_coords(
        sx[bridged], np.full(n_bridged, br_lo), sx[bridged], np.full(n_bridged, br_hi)
    )
    out.append((bridges, "secondary", True))
    out.append((_long_vertical(sx[~bridged], y_sec_min, bank_s), "secondary", False))
    if b.river_row < b.rows:
        out.append((_long_vertical(sx[bridged], br_hi, y_sec_max), "secondary", False))
        out.append((_long_vertical(sx[~bridged], bank_n, y_sec_max), "secondary", False))
    sec_x_min, sec_x_max = xb[0] - _ARTERIAL_SETBACK_M, xb[-1] + _ARTERIAL_SETBACK_M
    out.append((_long_horizontal(b.sy, sec_x_min, sec_x_max), "secondary", False))
    # bank roads along the river
    out.append((_long_horizontal(np.array([bank_s, bank_n]), x_min, x_max), "local", False))
    return out


def _lanes(q: _Quarters, quarter_of_cell: np.ndarray) -> list[_StreetGroup]:
    """Lanes on the lane cuts of quarters holding cells (local if >= 12 m wide, else path)."""
    used_q = np.zeros(len(q.nx), dtype=bool)
    used_q[np.unique(quarter_of_cell)] = True
    lx_q, lx_k = np.nonzero(q.lane_x & used_q[:, None])
    ly_q, ly_k = np.nonzero(q.lane_y & used_q[:, None])
    x_lanes = _lines_from_coords(q.cut_x[lx_q, lx_k], q.sy0[lx_q], q.cut_x[lx_q, lx_k], q.sy1[lx_q])
    y_lanes = _lines_from_coords(q.sx0[ly_q], q.cut_y[ly_q, ly_k], q.sx1[ly_q], q.cut_y[ly_q, ly_k])
    out: list[_StreetGroup] = []
    x_gaps, y_gaps = q.gap_x[lx_q, lx_k, 0], q.gap_y[ly_q, ly_k, 0]
    for lane_geoms, lane_gap in ((x_lanes, x_gaps), (y_lanes, y_gaps)):
        wide = lane_gap >= 12.0
        out.append((lane_geoms[wide], "local", False))
        out.append((lane_geoms[~wide], "path", False))
    return out


def _streets_frame(groups: list[_StreetGroup], crs: str) -> gpd.GeoDataFrame:
    """The streets layer from groups of lines, in order."""
    return _street_frame(
        np.concatenate([g for g, _, _ in groups]),
        np.concatenate([np.full(len(g), cls, dtype=object) for g, cls, _ in groups]),
        np.concatenate([np.full(len(g), bridge, dtype=bool) for g, _, bridge in groups]),
        crs,
    )


def _river(b: _Blocks, crs: str, rng: np.random.Generator) -> gpd.GeoDataFrame:
    """The barriers layer: a meandering river polygon across the river band."""
    x_min, x_max = b.xb[0] - _STREET_OVERHANG_M, b.xb[-1] + _STREET_OVERHANG_M
    n_v = max(20, int((x_max - x_min + 400) / 40))
    rx = np.linspace(x_min - 200, x_max + 200, n_v)
    phase = rng.uniform(0, 2 * np.pi)
    wave = _RIVER_WAVE_M * np.sin(2 * np.pi * (rx - rx[0]) / 900.0 + phase)
    south = np.column_stack([rx, b.band_lo + _RIVER_LO_M + wave])
    north = np.column_stack([rx[::-1], b.band_lo + _RIVER_HI_M + wave[::-1]])
    river = shapely.polygons(np.vstack([south, north, south[:1]]))
    return gpd.GeoDataFrame(
        {S.BARRIER_ID: np.array(["B0001"], dtype=object)},
        geometry=gpd.GeoSeries([river], crs=crs),
        crs=crs,
    )


def _gates(
    geoms: np.ndarray,
    compound_ids: np.ndarray,
    cells: _Cells,
    comp: np.ndarray,
    crs: str,
    rng: np.random.Generator,
) -> gpd.GeoDataFrame:
    """The gates layer: 1-3 gates per compound on its boundary, preferring street sides.

    ``comp`` masks the cells that are compounds (``geoms`` are those cells less their notches).
    """
    n_compounds = len(geoms)
    cx0, cx1, cy0, cy1 = cells.x0[comp], cells.x1[comp], cells.y0[comp], cells.y1[comp]
    st = cells.street_sides[comp]
    gp = cells.gap_sides[comp]
    score = rng.random((n_compounds, 4)) + 2.0 * st + 1.0 * gp
    side_order = np.argsort(-score, axis=1)
    n_street = st.sum(axis=1)
    n_gates = np.clip(np.minimum(rng.integers(1, 4, n_compounds), n_street), 1, 3)
    g_comp = np.repeat(np.arange(n_compounds), n_gates)
    g_rank = np.concatenate([np.arange(k) for k in n_gates]) if n_compounds else np.array([], int)
    side = side_order[g_comp, g_rank]
    t = rng.uniform(0.2, 0.8, len(g_comp))
    gx0, gx1, gy0, gy1 = cx0[g_comp], cx1[g_comp], cy0[g_comp], cy1[g_comp]
    gxp = np.select([side == 0, side == 1], [gx0, gx1], gx0 + t * (gx1 - gx0))
    gyp = np.select([side == 2, side == 3], [gy0, gy1], gy0 + t * (gy1 - gy0))
    boundary = shapely.boundary(geoms[g_comp])
    pts = shapely.points(gxp, gyp)
    on_side = shapely.distance(pts, boundary) < 1e-6
    if not on_side.all():  # the point fell into a corner notch: use the rest of that side
        bad = ~on_side
        sx0 = np.where(side[bad] == 1, gx1[bad], gx0[bad])
        sx1 = np.where(side[bad] == 0, gx0[bad], gx1[bad])
        sy0 = np.where(side[bad] == 3, gy1[bad], gy0[bad])
        sy1 = np.where(side[bad] == 2, gy0[bad], gy1[bad])
        rest = shapely.intersection(_lines_from_coords(sx0, sy0, sx1, sy1), geoms[g_comp[bad]])
        pts[bad] = shapely.line_interpolate_point(rest, 0.5, normalized=True)
    gate_pts = shapely.line_interpolate_point(boundary, shapely.line_locate_point(boundary, pts))
    return gpd.GeoDataFrame(
        {S.GATE_ID: _ids("G", len(g_comp)), S.COMPOUND_ID: compound_ids[g_comp]},
        geometry=gpd.GeoSeries(gate_pts, crs=crs),
        crs=crs,
    )


def make_city(
    n_compounds: int,
    *,
    seed: int = 0,
    crs: str = "EPSG:4548",
    origin: tuple[float, float] = (527_000.0, 3_853_000.0),
    n_parcels: int | None = None,
    missing_categories: Sequence[str] | None = None,
) -> dict[str, gpd.GeoDataFrame]:
    """Build a deterministic synthetic old-city district.

    Parameters
    ----------
    n_compounds : int
        Number of compounds (>= 1).
    seed : int
        Seed of the numpy random generator; the same seed gives identical layers.
    crs : str
        Projected metric CRS written on every layer (coordinates are metres).
    origin : tuple of float
        Lower-left corner of the block grid, in metres of ``crs``. The default is
        near Zaozhuang in EPSG:4548 (CGCS2000 / 3-degree Gauss-Kruger CM 117E).
    n_parcels : int, optional
        Number of idle parcels; default about one per 8 compounds.
    missing_categories : sequence of str, optional
        Facility categories (keys of ``renogis.schema.CATEGORIES``) to leave out
        entirely. Default: four categories drawn at random.

    Returns
    -------
    dict of str to geopandas.GeoDataFrame
        Layers ``compounds``, ``parcels``, ``facilities``, ``streets``,
        ``barriers`` and ``gates`` with canonical columns (see
        :data:`LAYER_COLUMNS`), all in ``crs`` with a RangeIndex.

    Raises
    ------
    InputError
        If ``n_compounds`` < 1, ``n_parcels`` < 0 or a missing category is unknown.

    Examples
    --------
    >>> city = make_city(40, seed=1)
    >>> len(city["compounds"])
    40
    """
    _check_city_args(n_compounds, n_parcels, missing_categories)
    n_compounds = int(n_compounds)
    rng = np.random.default_rng(seed)
    ox, oy = float(origin[0]), float(origin[1])

    # parcels budget: a quarter of the idle parcels take a whole cell, the rest a compound corner
    n_par = max(1, round(n_compounds / 8)) if n_parcels is None else int(n_parcels)
    n_cell_parcels = int(round(0.25 * n_par))
    n_notch_parcels = n_par - n_cell_parcels
    n_cells = n_compounds + n_cell_parcels

    # the random draws happen in this order; keep it, or every layer changes
    blocks = _block_grid(n_cells, ox, oy, rng)
    quarters = _quarters(blocks, rng)
    cells = _cells(quarters, n_cells)
    is_cell_parcel = _pick_cell_parcels(n_cells, n_cell_parcels, rng)
    comp = ~is_cell_parcel
    cx0, cx1, cy0, cy1 = cells.x0[comp], cells.x1[comp], cells.y0[comp], cells.y1[comp]
    geoms, notch_parcels = _compound_shapes(cx0, cy0, cx1, cy1, n_notch_parcels, rng)
    compounds = _compounds_frame(
        geoms, cells.block_row[comp], cells.block_col[comp], blocks, crs, rng
    )
    parcels = _parcels_frame(cells, is_cell_parcel, notch_parcels, crs, rng)
    facilities = _facilities_frame(geoms, cx0, cy0, cx1, cy1, missing_categories, crs, rng)
    streets = _streets_frame(_through_streets(blocks) + _lanes(quarters, cells.quarter), crs)
    barriers = _river(blocks, crs, rng)
    gates = _gates(geoms, compounds[S.COMPOUND_ID].to_numpy(), cells, comp, crs, rng)

    logger.info(
        "make_city: %d compounds in %d x %d blocks, %d parcels, %d facilities, "
        "%d street lines, %d gates",
        n_compounds,
        blocks.rows,
        blocks.cols,
        len(parcels),
        len(facilities),
        len(streets),
        len(gates),
    )
    return {
        S.COMPOUNDS: compounds,
        S.PARCELS: parcels,
        S.FACILITIES: facilities,
        S.STREETS: streets,
        S.BARRIERS: barriers,
        S.GATES: gates,
    }


# --------------------------------------------------------------------------- street grid
def make_street_grid(
    n_nodes: int,
    *,
    seed: int = 0,
    crs: str = "EPSG:4548",
    spacing_m: float = 120.0,
    origin: tuple[float, float] = (500_000.0, 3_800_000.0),
) -> gpd.GeoDataFrame:
    """Build a lattice of long unsplit street lines with about ``n_nodes`` crossings.

    ``k = ceil(sqrt(n_nodes))`` north-south and ``k`` east-west two-point lines,
    slightly slanted and about ``spacing_m`` apart, run past the lattice so that
    every crossing is interior to both lines (no shared vertices): ``k**2``
    crossings, ``2 k`` lines. Every 10th line is arterial, every 5th secondary,
    some are paths, the rest local.

    Parameters
    ----------
    n_nodes : int
        Target number of crossings (>= 1).
    seed : int
        Seed of the numpy random generator.
    crs : str
        Projected metric CRS of the result.
    spacing_m : float
        Mean distance between parallel lines, in metres.
    origin : tuple of float
        Lower-left corner of the lattice, in metres of ``crs``.

    Returns
    -------
    geopandas.GeoDataFrame
        Streets layer with canonical columns (see :data:`LAYER_COLUMNS`).

    Raises
    ------
    InputError
        If ``n_nodes`` < 1 or ``spacing_m`` <= 0.

    Examples
    --------
    >>> len(make_street_grid(10_000))
    200
    """
    if int(n_nodes) != n_nodes or n_nodes < 1:
        raise InputError(f"make_street_grid: n_nodes must be an integer >= 1, got {n_nodes!r}")
    if not spacing_m > 0:
        raise InputError(f"make_street_grid: spacing_m must be > 0, got {spacing_m!r}")
    rng = np.random.default_rng(seed)
    k = max(1, math.ceil(math.sqrt(int(n_nodes))))
    jitter = 0.15 * spacing_m
    base = np.arange(k) * spacing_m
    extent = (k - 1) * spacing_m
    over = spacing_m / 2
    ox, oy = origin
    # north-south lines: x at the bottom and top, each jittered (slightly slanted)
    xs0 = ox + base + rng.uniform(-jitter, jitter, k)
    xs1 = ox + base + rng.uniform(-jitter, jitter, k)
    ns = _lines_from_coords(xs0, np.full(k, oy - over), xs1, np.full(k, oy + extent + over))
    ys0 = oy + base + rng.uniform(-jitter, jitter, k)
    ys1 = oy + base + rng.uniform(-jitter, jitter, k)
    ew = _lines_from_coords(np.full(k, ox - over), ys0, np.full(k, ox + extent + over), ys1)
    idx = np.arange(k)
    cls = np.where(
        idx % 10 == 0,
        "arterial",
        np.where(idx % 5 == 0, "secondary", np.where(idx % 7 == 3, "path", "local")),
    ).astype(object)
    geoms = np.concatenate([ns, ew])
    classes = np.concatenate([cls, np.roll(cls, 5)])
    out = _street_frame(geoms, classes, np.zeros(2 * k, dtype=bool), crs)
    logger.info("make_street_grid: %d lines, %d crossings", 2 * k, k * k)
    return out


# --------------------------------------------------------------------------- bundled sample
#: Column naming the planning area (片区) of each compound in the bundled sample.
AREA: str = "area"

#: Public report totals the bundled sample reproduces exactly (STANDARDS.md section 6).
SAMPLE_TOTALS: dict[str, int] = {
    "compounds": 65,
    "buildings": 311,
    "households": 7_447,
    "floor_area_m2": 760_000,
}
#: Totals of the Guohao Meidu cluster (国浩美都片区) inside the sample.
SAMPLE_CLUSTER_TOTALS: dict[str, int] = {
    "compounds": 9,
    "buildings": 43,
    "households": 1_759,
    "floor_area_m2": 166_500,
}
SAMPLE_CLUSTER_AREA = "国浩美都片区"
SAMPLE_MISSING_CATEGORIES = ("nursery", "elderly_day_care", "elderly_home", "canteen")
SAMPLE_ORIGIN = (523_000.0, 3_850_300.0)
SAMPLE_SEED = 3
_SAMPLE_SUBDISTRICTS = ("临城街道", "常庄街道")  # south, north of the river
_SAMPLE_AREAS = ("永福西片", "永福南片", "永福北片", "永福东片")  # SW, SE, NW, NE
_CLUSTER_GAP_M = 30.0


def _allocate(total: int, weights: np.ndarray, minimum: int) -> np.ndarray:
    """Split the integer ``total`` in proportion to ``weights`` (largest remainder)."""
    n = len(weights)
    spare = total - n * minimum
    if spare < 0:
        raise InputError(f"cannot split {total} into {n} parts of at least {minimum}")
    share = weights / weights.sum() * spare
    base = np.floor(share).astype(np.int64)
    rest = spare - int(base.sum())
    order = np.argsort(-(share - base), kind="stable")
    base[order[:rest]] += 1
    return base + minimum


def _grow_cluster(dist: np.ndarray, seed_idx: int, size: int, gap_m: float) -> list[int] | None:
    """Greedily grow a connected group of ``size`` compounds with gaps < ``gap_m``."""
    members = [seed_idx]
    d_min = dist[seed_idx].copy()
    d_min[seed_idx] = np.inf
    while len(members) < size:
        nxt = int(np.argmin(d_min))
        if not d_min[nxt] < gap_m:
            return None
        members.append(nxt)
        d_min = np.minimum(d_min, dist[nxt])
        d_min[members] = np.inf
    return members


def _sample_cluster(geoms: np.ndarray, parcels: np.ndarray) -> list[int]:
    """The Guohao Meidu cluster: 9 compounds, gaps < 30 m, next to as many idle parcels as possible.

    Among the clusters grown from every compound, the one touching most parcels wins, then the
    most compact. Returns the compound positions in the order they joined.
    """
    n = len(geoms)
    size = SAMPLE_CLUSTER_TOTALS["compounds"]
    dist = shapely.distance(geoms[:, None], geoms[None, :])
    near_parcel = shapely.distance(geoms[:, None], parcels[None, :]) < 10.0  # (n, parcels)
    best: tuple[int, float] | None = None
    cluster: list[int] = []
    for s in range(n):
        members = _grow_cluster(dist, s, size, _CLUSTER_GAP_M)
        if members is None:
            continue
        n_par = int(near_parcel[members].any(axis=0).sum())
        spread = float(dist[np.ix_(members, members)].max())
        key = (n_par, -spread)
        if best is None or key > best:
            best, cluster = key, members
    if not cluster:
        raise InputError("make_sample: no 9 adjacent compounds found; try another seed")
    return cluster


def _sample_areas(
    geoms: np.ndarray,
    in_cluster: np.ndarray,
    barriers: gpd.GeoDataFrame,
    streets: gpd.GeoDataFrame,
) -> tuple[np.ndarray, np.ndarray]:
    """Area and subdistrict of each compound, from the river and the middle N-S arterial."""
    river = barriers.geometry.iloc[0]
    cent = shapely.centroid(geoms)
    north = shapely.get_y(cent) > river.centroid.y
    st = streets
    art = st[(st[S.STREET_CLASS] == "arterial") & ~st[S.BRIDGE]]
    b = art.geometry.bounds
    vertical_x = np.unique(np.round(((b.minx + b.maxx) / 2)[(b.maxx - b.minx) < 10].to_numpy()))
    mid_x = vertical_x[len(vertical_x) // 2]
    east = shapely.get_x(cent) > mid_x
    area = np.array(_SAMPLE_AREAS, dtype=object)[north.astype(int) * 2 + east.astype(int)]
    area[in_cluster] = SAMPLE_CLUSTER_AREA
    subdistrict = np.array(_SAMPLE_SUBDISTRICTS, dtype=object)[north.astype(int)]
    return area, subdistrict


def _sample_counts(
    land: np.ndarray, in_cluster: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Households, buildings and floor area (m2) summing exactly to the report totals."""
    n = len(land)
    households = np.zeros(n, dtype=np.int64)
    buildings = np.zeros(n, dtype=np.int64)
    floor_area = np.zeros(n, dtype=float)
    groups = (
        (in_cluster, SAMPLE_CLUSTER_TOTALS),
        (
            ~in_cluster,
            {k: SAMPLE_TOTALS[k] - SAMPLE_CLUSTER_TOTALS[k] for k in SAMPLE_TOTALS},
        ),
    )
    for mask, totals in groups:
        k = int(mask.sum())
        w = land[mask] * rng.uniform(0.8, 1.25, k)
        hh = _allocate(totals["households"], w, 30)
        households[mask] = hh
        buildings[mask] = _allocate(totals["buildings"], hh * rng.uniform(0.85, 1.15, k), 1)
        floor_area[mask] = _allocate(
            totals["floor_area_m2"], hh * rng.uniform(0.9, 1.1, k), 1_000
        ).astype(float)
    return households, buildings, floor_area


def make_sample(*, seed: int = SAMPLE_SEED, crs: str = "EPSG:4548") -> dict[str, gpd.GeoDataFrame]:
    """Build the bundled SYNTHETIC sample district (modelled on Yongfu Zhonglu, Xuecheng).

    Geometry comes from :func:`make_city`; attributes are then set so that the
    public report totals hold exactly: 65 compounds, 311 buildings, 7,447
    households and 760,000 m2 of floor area in five areas (column ``area``), one
    of them the Guohao Meidu cluster (国浩美都片区) of 9 adjacent compounds with
    43 buildings, 1,759 households and 166,500 m2. Two subdistricts (街道), split
    by the river. Nursery, elderly day care, elderly home and canteen are missing.

    Parameters
    ----------
    seed : int
        Seed passed to :func:`make_city`.
    crs : str
        Projected metric CRS; the coordinates are chosen for EPSG:4548.

    Returns
    -------
    dict of str to geopandas.GeoDataFrame
        The six layers; compounds carry the extra column ``area``.

    Examples
    --------
    >>> layers = make_sample()
    >>> int(layers["compounds"]["households"].sum())
    7447
    """
    n = SAMPLE_TOTALS["compounds"]
    city = make_city(
        n,
        seed=seed,
        crs=crs,
        origin=SAMPLE_ORIGIN,
        n_parcels=9,
        missing_categories=SAMPLE_MISSING_CATEGORIES,
    )
    rng = np.random.default_rng(seed + 1)
    comp = city[S.COMPOUNDS].copy()
    geoms = np.asarray(comp.geometry.values, dtype=object)
    parcels = np.asarray(city[S.PARCELS].geometry.values, dtype=object)
    cluster = _sample_cluster(geoms, parcels)
    in_cluster = np.zeros(n, dtype=bool)
    in_cluster[cluster] = True
    area, subdistrict = _sample_areas(geoms, in_cluster, city[S.BARRIERS], city[S.STREETS])
    households, buildings, floor_area = _sample_counts(shapely.area(geoms), in_cluster, rng)

    comp[S.HOUSEHOLDS] = households
    comp[S.BUILDINGS] = buildings
    comp[S.FLOOR_AREA_M2] = floor_area
    comp[S.POPULATION] = np.round(households * rng.uniform(2.4, 2.8, n), 1)
    comp[S.PARKING_SPACES] = np.round(households * rng.uniform(0.05, 0.35, n)).astype(np.int64)
    comp[S.BUILT_YEAR] = np.where(
        in_cluster, rng.integers(1996, 2004, n), comp[S.BUILT_YEAR].to_numpy()
    ).astype(np.int64)
    comp[S.SUBDISTRICT] = subdistrict
    comp.insert(len(comp.columns) - 1, AREA, area)
    names = comp[S.NAME].to_numpy().copy()
    names[sorted(cluster)] = [
        f"国浩美都{i}期" if i else "国浩美都" for i in range(len(cluster))
    ]
    comp[S.NAME] = names
    out = dict(city)
    out[S.COMPOUNDS] = comp
    logger.info(
        "make_sample: %d compounds, %d households, cluster %s", n, households.sum(), cluster
    )
    return out
