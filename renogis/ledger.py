"""Join a compound ledger (台账) without geometry to footprints by name.

Street offices and planning bureaus keep their old-compound lists as spreadsheets
(小区名称, 地址, 街道, 户数, 楼栋数, 建成年代 ...) with no geometry; the footprints come
from elsewhere (AOI exports, a cadastre) with a name and little else.
:func:`match_ledger` matches each ledger row to one footprint:

1. ``exact`` - the names are identical (after trimming spaces);
2. ``normalised`` - identical after :func:`normalise_name` (full-width/half-width,
   case, spaces, punctuation, the word 小区, a trailing 社区/生活区/家属院);
3. ``fuzzy`` - the best rapidfuzz ``WRatio`` of the normalised names is at least
   ``min_score`` and no other footprint scores as high;
4. otherwise ``ambiguous`` (several footprints tie) or ``unmatched``.

Each footprint takes at most one ledger row (exact matches are placed first, then
normalised, then fuzzy by falling score). When both sides have a ``subdistrict``,
only footprints of the row's subdistrict are candidates. The matched footprints
take every column of the ledger (households and the rest); footprints no ledger row
names are left out and counted. :func:`match_ledger` returns the joined compounds
and the match table written as ``ledger_match.csv``.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from renogis import schema
from renogis._errors import InputError

logger = logging.getLogger(__name__)

__all__ = ["LedgerMatch", "normalise_name", "read_ledger", "match_ledger", "MATCH_COLUMNS"]

LEDGER_ROW, LEDGER_NAME, FOOTPRINT_NAME = "ledger_row", "ledger_name", "footprint_name"
MATCH, SCORE = "match", "score"
#: Columns of the match table (``ledger_match.csv``).
MATCH_COLUMNS = (LEDGER_ROW, LEDGER_NAME, schema.COMPOUND_ID, FOOTPRINT_NAME, MATCH, SCORE)
#: Default lowest rapidfuzz ``WRatio`` (0-100) accepted as a fuzzy match.
MIN_SCORE = 85.0
EXACT, NORMALISED, FUZZY, AMBIGUOUS, UNMATCHED = "exact", "normalised", "fuzzy", "ambiguous", "unmatched"

_PUNCT = re.compile(r"[\s\-_·•.,，。、/\\()（）\[\]【】'\"“”‘’#＃:：;；]+")
_SUFFIX = re.compile(r"(小区|社区|住宅小区|生活区|家属院|家属区)$")


@dataclass(frozen=True)
class LedgerMatch:
    """The ledger joined to footprints, and how every ledger row was matched."""

    compounds: gpd.GeoDataFrame  # matched footprints with the ledger's columns
    table: pd.DataFrame  # MATCH_COLUMNS, one row per ledger row, in ledger order
    unused_footprints: int  # footprints no ledger row names
    rows: np.ndarray  # for each row of ``compounds``, its row in ``table``
    unused_names: tuple[str, ...] = ()  # names of the footprints no ledger row names

    def with_ids(self, ids: object) -> pd.DataFrame:
        """The match table with ``compound_id`` filled from the final ids of ``compounds`` (same order)."""
        table = self.table.copy()
        table[schema.COMPOUND_ID] = table[schema.COMPOUND_ID].astype(object)
        table.loc[self.rows, schema.COMPOUND_ID] = np.asarray(ids, dtype=object)
        return table

    def counts(self) -> dict[str, int]:
        """Ledger rows per match kind."""
        return {k: int((self.table[MATCH] == k).sum()) for k in (EXACT, NORMALISED, FUZZY, AMBIGUOUS,
                                                                  UNMATCHED)}


def normalise_name(name: object) -> str:
    """A compound name for comparison: NFKC, lower case, no spaces, punctuation or 小区.

    Examples
    --------
    >>> normalise_name(" 幸福里小区（二期） "), normalise_name("ＡＢＣ 花园")
    ('幸福里二期', 'abc花园')
    """
    if name is None or (isinstance(name, float) and np.isnan(name)):
        return ""
    text = unicodedata.normalize("NFKC", str(name)).lower()
    text = _PUNCT.sub("", text)
    stripped = _SUFFIX.sub("", text.replace("住宅小区", "").replace("小区", ""))
    return stripped or text


def read_ledger(path: str | Path, *, column_map: dict[str, str] | None = None,
                encoding: str | None = None) -> pd.DataFrame:
    """Read a ledger (XLSX or CSV) with canonical column names; it needs a ``name`` (小区名称) column."""
    from renogis.io import _read_csv, _read_xlsx, normalise_columns

    path = Path(path)
    if not path.is_file():
        raise InputError(f"--ledger {path}: no such file; give the ledger as .xlsx or .csv")
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        df = _read_xlsx(path, layer="ledger")
    elif suffix == ".csv":
        df = _read_csv(path, encoding=encoding, layer="ledger")
    else:
        raise InputError(f"--ledger {path.name}: unsupported type {path.suffix!r}; give an .xlsx or .csv "
                         "file")
    df, _ = normalise_columns(df, column_map=column_map, label=f"{path.name} [ledger]")
    if schema.NAME not in df.columns:
        raise InputError(f"{path.name} [ledger] column name: required column missing; the ledger needs the "
                         "compound names (小区名称) to match footprints (or map yours with --column-map "
                         "你的列名=name)")
    return df.reset_index(drop=True)


def _candidates(ledger_sd: object, fp_sd: np.ndarray | None) -> np.ndarray | None:
    """Footprints of the ledger row's subdistrict (None: no restriction)."""
    if fp_sd is None or ledger_sd is None or (isinstance(ledger_sd, float) and np.isnan(ledger_sd)):
        return None
    key = normalise_name(ledger_sd)
    return (fp_sd == key) if key else None


def match_ledger(footprints: gpd.GeoDataFrame, ledger: pd.DataFrame, *, min_score: float = MIN_SCORE,
                 label: str = "ledger") -> LedgerMatch:
    """Match ledger rows to footprints by name; return the joined compounds and the match table.

    Parameters
    ----------
    footprints : GeoDataFrame
        Compound footprints with a ``name`` column (canonical headers).
    ledger : DataFrame
        The ledger with canonical headers, from :func:`read_ledger`.
    min_score : float
        Lowest rapidfuzz ``WRatio`` (0-100) of the normalised names accepted as a fuzzy match.
    label : str
        File name for messages.

    Returns
    -------
    LedgerMatch

    Examples
    --------
    >>> import shapely
    >>> fp = gpd.GeoDataFrame({"name": ["幸福里", "阳光花园小区"]},
    ...                       geometry=[shapely.box(0, 0, 1, 1), shapely.box(2, 0, 3, 1)], crs=4548)
    >>> m = match_ledger(fp, pd.DataFrame({"name": ["阳光花园", "幸福里"], "households": ["120", "80"]}))
    >>> m.table[["ledger_name", "footprint_name", "match", "score"]].values.tolist()
    [['阳光花园', '阳光花园小区', 'normalised', 100.0], ['幸福里', '幸福里', 'exact', 100.0]]
    """
    if schema.NAME not in footprints.columns:
        raise InputError(f"{label}: the footprints have no name column (小区名称/名称) to match the ledger "
                         "against; add one or map it with --column-map 你的列名=name")
    fp_names = _names(footprints[schema.NAME])
    fp_norm = np.array([normalise_name(n) for n in fp_names], dtype=object)
    fp_sd = (np.array([normalise_name(v) for v in footprints[schema.SUBDISTRICT]], dtype=object)
             if schema.SUBDISTRICT in footprints.columns and schema.SUBDISTRICT in ledger.columns else None)
    n_led = len(ledger)
    led_names = _names(ledger[schema.NAME])
    led_norm = [normalise_name(n) for n in led_names]
    masks = [_candidates(ledger[schema.SUBDISTRICT].iat[i], fp_sd) if fp_sd is not None else None
             for i in range(n_led)]
    m = _Matching.start(n_led, len(footprints), masks)
    # the same name twice in the ledger cannot be told apart: both ambiguous
    dup_led = pd.Series(led_norm).duplicated(keep=False).to_numpy() & (np.array(led_norm, dtype=object) != "")
    m.kind[dup_led] = AMBIGUOUS
    _match_equal(m, EXACT, fp_names, led_names)
    _match_equal(m, NORMALISED, fp_norm, led_norm)
    _match_fuzzy(m, fp_norm, led_norm, min_score=min_score)
    table = pd.DataFrame({
        LEDGER_ROW: np.arange(n_led) + 2,  # spreadsheet row (the header is row 1)
        LEDGER_NAME: led_names,
        schema.COMPOUND_ID: [None] * n_led,
        FOOTPRINT_NAME: [fp_names[t] if t >= 0 else None for t in m.target],
        MATCH: m.kind,
        SCORE: m.score,
    })
    matched = m.target >= 0
    joined = _join(footprints, ledger, m.target)
    if schema.COMPOUND_ID in joined.columns:
        ids = joined[schema.COMPOUND_ID].to_numpy(dtype=object)
        table.loc[np.flatnonzero(matched), schema.COMPOUND_ID] = ids
    unused = int((~m.taken).sum())
    result = LedgerMatch(compounds=joined, table=table, unused_footprints=unused,
                         rows=np.flatnonzero(matched), unused_names=tuple(str(n) for n in fp_names[~m.taken]))
    logger.info("ledger %s: %s; %d footprints not in the ledger", label, result.counts(), unused)
    return result


def _names(values: pd.Series) -> np.ndarray:
    """Names trimmed of white space; "" for a missing name."""
    return values.map(lambda v: "" if v is None or (isinstance(v, float) and np.isnan(v))
                      else str(v).strip()).to_numpy(dtype=object)


@dataclass(frozen=True)
class _Matching:
    """The state of the matching, filled in stage by stage: per ledger row its kind, footprint and score."""

    kind: np.ndarray  # EXACT ... UNMATCHED per ledger row
    target: np.ndarray  # footprint position per ledger row, -1 for none
    score: np.ndarray  # 0-100 per ledger row, NaN for none
    taken: np.ndarray  # per footprint: already matched to a ledger row
    masks: list[np.ndarray | None]  # per ledger row: the footprints of its subdistrict (None: all)

    @classmethod
    def start(cls, n_led: int, n_fp: int, masks: list[np.ndarray | None]) -> _Matching:
        return cls(
            kind=np.array([UNMATCHED] * n_led, dtype=object),
            target=np.full(n_led, -1, dtype=np.int64),
            score=np.full(n_led, np.nan),
            taken=np.zeros(n_fp, dtype=bool),
            masks=masks,
        )

    def allowed(self, i: int) -> np.ndarray:
        """Footprints ledger row ``i`` may still take."""
        m = ~self.taken
        return m if self.masks[i] is None else m & self.masks[i]


def _match_equal(m: _Matching, stage: str, keys_fp: np.ndarray, keys_led: Sequence[str]) -> None:
    """Open ledger rows whose key equals that of exactly one free footprint (several: ambiguous)."""
    for i in range(len(keys_led)):
        if m.kind[i] != UNMATCHED or not keys_led[i]:
            continue
        hits = np.flatnonzero(m.allowed(i) & (keys_fp == keys_led[i]))
        if len(hits) == 1:
            m.kind[i], m.target[i], m.score[i] = stage, hits[0], 100.0
            m.taken[hits[0]] = True
        elif len(hits) > 1:
            m.kind[i] = AMBIGUOUS


def _match_fuzzy(m: _Matching, fp_norm: np.ndarray, led_norm: Sequence[str], *, min_score: float) -> None:
    """Best candidates of every open row, placed by falling score (a tie between footprints: ambiguous)."""
    from rapidfuzz import fuzz, process

    proposals = []
    for i in range(len(led_norm)):
        if m.kind[i] != UNMATCHED or not led_norm[i]:
            continue
        cand = np.flatnonzero(m.allowed(i) & (fp_norm != ""))
        if not len(cand):
            continue
        scores = process.cdist([led_norm[i]], fp_norm[cand].tolist(), scorer=fuzz.WRatio)[0]
        best = float(scores.max())
        if best < min_score:
            continue
        top = cand[scores == best]
        proposals.append((-best, i, top))
    for neg, i, top in sorted(proposals, key=lambda t: (t[0], t[1])):
        free = top[~m.taken[top]]
        if len(top) > 1:
            m.kind[i], m.score[i] = AMBIGUOUS, -neg
        elif len(free) == 1:
            m.kind[i], m.target[i], m.score[i] = FUZZY, free[0], round(-neg, 1)
            m.taken[free[0]] = True


def _join(footprints: gpd.GeoDataFrame, ledger: pd.DataFrame, target: np.ndarray) -> gpd.GeoDataFrame:
    """The matched footprints (in ledger order) with every column of their ledger row."""
    matched = target >= 0
    fp = footprints.iloc[target[matched]].reset_index(drop=True)
    led = ledger.loc[matched].reset_index(drop=True)
    joined = fp.drop(columns=[c for c in led.columns if c in fp.columns and c != fp.geometry.name])
    for c in led.columns:
        if c != fp.geometry.name:
            joined[c] = led[c].to_numpy()
    if schema.NAME not in led.columns or joined[schema.NAME].isna().all():
        joined[schema.NAME] = fp[schema.NAME].to_numpy()
    return gpd.GeoDataFrame(joined, geometry=fp.geometry.name, crs=footprints.crs)
