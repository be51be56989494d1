"""Coordinate reference systems: the metric work CRS, GCJ-02 / BD-09, lon/lat for maps.

All measuring in renogis happens in one projected metric *work CRS*, chosen from
the data: the CGCS2000 3-degree Gauss-Kruger zone (EPSG:4534-4554, no zone prefix
in the easting) whose central meridian is nearest the data inside China, else the
UTM zone. Chinese web-map coordinates (Amap/Gaode GCJ-02, Baidu BD-09) have no
EPSG code; they are converted to WGS84 first. Lon/lat reaches only the map.

The GCJ-02 transform is the publicly documented "Mars coordinates" obfuscation
polynomial (Krasovsky 1940 ellipsoid). The inverse is solved by fixed-point
iteration to well under a centimetre, far inside the 1 m the contract promises.
"""

from __future__ import annotations

import logging
import math

import geopandas as gpd
import numpy as np
import pyproj
import shapely
from pyproj import CRS

from renogis._errors import CRSError

logger = logging.getLogger(__name__)

__all__ = [
    "CHINA_BOUNDS",
    "SOURCE_CRS_CHOICES",
    "choose_work_crs",
    "cgcs2000_gk_zone",
    "wgs84_to_gcj02",
    "gcj02_to_wgs84",
    "gcj02_to_bd09",
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "wgs84_to_bd09",
    "transform_geometries",
    "to_latlon",
    "parse_crs",
    "check_work_crs",
    "MAX_SCALE_ERROR",
]

#: lon_min, lat_min, lon_max, lat_max of mainland China with margin (for sanity checks).
CHINA_BOUNDS = (73.0, 18.0, 135.5, 54.0)
SOURCE_CRS_CHOICES = ("gcj02", "bd09")

_A = 6378245.0  # Krasovsky 1940 semi-major axis used by GCJ-02
_EE = 0.00669342162296594323  # its first eccentricity squared
_X_PI = math.pi * 3000.0 / 180.0


def parse_crs(value: object, *, what: str = "--work-crs") -> CRS:
    """Parse an EPSG code or any pyproj-readable CRS string, with a clear error."""
    try:
        text = str(value).strip()
        if text.isdigit():
            return CRS.from_epsg(int(text))
        return CRS.from_user_input(text)
    except pyproj.exceptions.CRSError as exc:
        raise CRSError(
            f"{what}: cannot read CRS {value!r} ({exc}); give an EPSG code such as EPSG:4548"
        ) from None


#: Largest scale error |k - 1| a work CRS may have at the data's centre (0.1%).
MAX_SCALE_ERROR = 0.001


def check_work_crs(crs: CRS, lon: float, lat: float, *, what: str = "--work-crs") -> CRS:
    """Check that ``crs`` measures true metres at (``lon``, ``lat``): projected, in metres, scale error < 0.1%.

    The scale factors come from pyproj (``Proj.get_factors``); a conformal projection such as Gauss-Kruger
    or UTM has one scale in every direction, others (Web Mercator far from the equator) fail here.

    Raises
    ------
    CRSError
        Naming the CRS, what is wrong and a CRS that fits the data.

    Examples
    --------
    >>> check_work_crs(CRS.from_epsg(4548), 117.25, 34.8).to_epsg()
    4548
    >>> check_work_crs(CRS.from_epsg(3857), 117.25, 34.8)
    Traceback (most recent call last):
    ...
    renogis._errors.CRSError: --work-crs EPSG:3857: WGS 84 / Pseudo-Mercator stretches distances by 21.78% ...
    """
    good = cgcs2000_gk_zone(lon) if bool(in_china(lon, lat)) else _utm(lon, lat)
    hint = f"give one such as EPSG:{good.to_epsg()} ({good.name}), or leave --work-crs out to choose it"
    label = f"EPSG:{crs.to_epsg()}" if crs.to_epsg() else crs.name
    if not crs.is_projected:
        raise CRSError(f"{what} {label}: {crs.name} is not a projected metric CRS; {hint}")
    units = {(a.unit_name or "").lower() for a in crs.axis_info}
    if not units or not units <= {"metre", "meter"}:
        raise CRSError(f"{what} {label}: {crs.name} measures in {', '.join(sorted(units)) or 'unknown units'}, "
                       f"not metres; {hint}")
    try:
        f = pyproj.Proj(crs).get_factors(lon, lat)
        scales = np.array([f.meridional_scale, f.parallel_scale], dtype=float)
    except Exception:  # noqa: BLE001 - a projection pyproj cannot evaluate here
        scales = np.array([np.nan])
    if not np.all(np.isfinite(scales)):
        raise CRSError(f"{what} {label}: the data's centre (lon {lon:.4f}, lat {lat:.4f}) lies outside "
                       f"the area {crs.name} can measure; {hint}")
    err = float(np.max(np.abs(scales - 1.0)))
    if err >= MAX_SCALE_ERROR:
        raise CRSError(f"{what} {label}: {crs.name} stretches distances by {err:.2%} at the data's centre "
                       f"(lon {lon:.4f}, lat {lat:.4f}; at most {MAX_SCALE_ERROR:.1%} is allowed); {hint}")
    return crs


def cgcs2000_gk_zone(lon: float) -> CRS:
    """CGCS2000 3-degree Gauss-Kruger CRS (EPSG:4534-4554) whose central meridian is nearest ``lon``.

    Examples
    --------
    >>> cgcs2000_gk_zone(117.3).to_epsg()
    4548
    """
    cm = int(round(lon / 3.0)) * 3
    cm = min(max(cm, 75), 135)
    return CRS.from_epsg(4534 + (cm - 75) // 3)


def _utm(lon: float, lat: float) -> CRS:
    zone = int(math.floor((lon + 180.0) / 6.0)) % 60 + 1
    return CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)


def in_china(lon: np.ndarray | float, lat: np.ndarray | float) -> np.ndarray:
    """Boolean mask: lon/lat inside the bounding box of mainland China (with margin)."""
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    x0, y0, x1, y1 = CHINA_BOUNDS
    return (lon >= x0) & (lon <= x1) & (lat >= y0) & (lat <= y1)


def data_centre_lonlat(gdf: gpd.GeoDataFrame) -> tuple[float, float]:
    """Lon/lat (WGS84) of the centre of a layer's bounding box."""
    x0, y0, x1, y1 = gdf.total_bounds
    centre = gpd.GeoSeries([shapely.Point((x0 + x1) / 2, (y0 + y1) / 2)], crs=gdf.crs)
    lonlat = centre.to_crs(4326).iloc[0]
    return float(lonlat.x), float(lonlat.y)


def choose_work_crs(gdf: gpd.GeoDataFrame) -> CRS:
    """Choose the metric work CRS for a layer from the lon/lat of its centre.

    Inside China: the CGCS2000 3-degree Gauss-Kruger zone with the nearest central
    meridian (EPSG:4534-4554). Elsewhere: the UTM zone (WGS84).

    Parameters
    ----------
    gdf : geopandas.GeoDataFrame
        A layer with a CRS (usually the compounds).

    Returns
    -------
    pyproj.CRS
    """
    if gdf.crs is None:
        raise CRSError("cannot choose a work CRS: the layer has no CRS")
    lon, lat = data_centre_lonlat(gdf)
    if bool(in_china(lon, lat)):
        crs = cgcs2000_gk_zone(lon)
    else:
        crs = _utm(lon, lat)
    logger.info("work CRS %s (EPSG:%s) chosen for centre lon %.4f lat %.4f",
                crs.name, crs.to_epsg(), lon, lat)
    return crs


# --------------------------------------------------------------------------- GCJ-02 / BD-09
def _delta(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = lon - 105.0
    y = lat - 35.0
    sq = np.sqrt(np.abs(x))
    dlat = (-100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sq
            + (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
            + (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
            + (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0)
    dlon = (300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sq
            + (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
            + (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
            + (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0)
    radlat = lat / 180.0 * np.pi
    magic = 1.0 - _EE * np.sin(radlat) ** 2
    sqrtmagic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrtmagic) * np.pi)
    dlon = (dlon * 180.0) / (_A / sqrtmagic * np.cos(radlat) * np.pi)
    return dlon, dlat


def wgs84_to_gcj02(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """WGS84 lon/lat (degrees) to GCJ-02 (Amap/Gaode, Tencent). Points outside China are unchanged.

    Examples
    --------
    >>> lon, lat = wgs84_to_gcj02(116.397, 39.909)
    >>> round(float(lon), 6), round(float(lat), 6)
    (116.403244, 39.910403)
    """
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    dlon, dlat = _delta(lon, lat)
    inside = in_china(lon, lat)
    return np.where(inside, lon + dlon, lon), np.where(inside, lat + dlat, lat)


def gcj02_to_wgs84(lon: np.ndarray, lat: np.ndarray, *, tol_deg: float = 1e-10,
                   max_iter: int = 30) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 lon/lat to WGS84, by fixed-point iteration of the forward transform.

    Converges to better than 1e-9 degrees (about 0.1 mm) in a few steps.
    """
    glon = np.asarray(lon, dtype=float)
    glat = np.asarray(lat, dtype=float)
    wlon, wlat = glon.copy(), glat.copy()
    for _ in range(max_iter):
        flon, flat = wgs84_to_gcj02(wlon, wlat)
        elon, elat = flon - glon, flat - glat
        wlon = wlon - elon
        wlat = wlat - elat
        if np.all(np.abs(elon) < tol_deg) and np.all(np.abs(elat) < tol_deg):
            break
    return wlon, wlat


def gcj02_to_bd09(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 lon/lat to Baidu BD-09 lon/lat."""
    x = np.asarray(lon, dtype=float)
    y = np.asarray(lat, dtype=float)
    z = np.sqrt(x * x + y * y) + 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def bd09_to_gcj02(lon: np.ndarray, lat: np.ndarray, *, tol_deg: float = 1e-10,
                  max_iter: int = 30) -> tuple[np.ndarray, np.ndarray]:
    """Baidu BD-09 lon/lat to GCJ-02, inverting :func:`gcj02_to_bd09` by iteration."""
    blon = np.asarray(lon, dtype=float)
    blat = np.asarray(lat, dtype=float)
    # closed-form first guess (the usual published inverse), then refine
    x = blon - 0.0065
    y = blat - 0.006
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    glon, glat = z * np.cos(theta), z * np.sin(theta)
    for _ in range(max_iter):
        flon, flat = gcj02_to_bd09(glon, glat)
        elon, elat = flon - blon, flat - blat
        glon = glon - elon
        glat = glat - elat
        if np.all(np.abs(elon) < tol_deg) and np.all(np.abs(elat) < tol_deg):
            break
    return glon, glat


def bd09_to_wgs84(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Baidu BD-09 lon/lat to WGS84."""
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


def wgs84_to_bd09(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """WGS84 lon/lat to Baidu BD-09."""
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


_TO_WGS84 = {"gcj02": gcj02_to_wgs84, "bd09": bd09_to_wgs84}


def transform_geometries(geoms: np.ndarray | gpd.GeoSeries, func) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Apply a lon/lat -> lon/lat function to every coordinate of an array of geometries."""
    arr = np.asarray(geoms.values if isinstance(geoms, gpd.GeoSeries) else geoms, dtype=object)

    def _xy(coords: np.ndarray) -> np.ndarray:
        x, y = func(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(arr, _xy)


def from_web_coordinates(gdf: gpd.GeoDataFrame, source: str) -> gpd.GeoDataFrame:
    """Convert a layer in GCJ-02 or BD-09 lon/lat to WGS84 (EPSG:4326). Returns a new frame."""
    if source not in _TO_WGS84:
        raise CRSError(f"--source-crs {source!r} is not known; use one of {', '.join(SOURCE_CRS_CHOICES)}")
    out = gdf.copy()
    geoms = transform_geometries(out.geometry, _TO_WGS84[source])
    return gpd.GeoDataFrame(out.drop(columns=out.geometry.name), geometry=gpd.GeoSeries(
        geoms, index=out.index, crs=4326), crs=4326)


def to_latlon(gdf: gpd.GeoDataFrame, *, gcj02: bool = False) -> gpd.GeoDataFrame:
    """Reproject to WGS84 lon/lat for display; with ``gcj02=True`` shift to GCJ-02 for Amap tiles."""
    out = gdf.to_crs(4326)
    if gcj02 and len(out):
        out = out.set_geometry(gpd.GeoSeries(
            transform_geometries(out.geometry, wgs84_to_gcj02), index=out.index, crs=4326))
    return out
