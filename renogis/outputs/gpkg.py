"""``results.gpkg``: the results as GIS layers, styled for QGIS (field aliases in the run's language)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from renogis import schema
from renogis.outputs import wording
from renogis.outputs.xlsx import _escape_text

__all__ = ["write_results_gpkg", "wide_gaps", "RESULT_LAYERS"]

#: Layers of ``results.gpkg`` in order, with their QGIS symbol: (geometry kind, fill RGBA, outline RGBA).
RESULT_LAYERS: dict[str, tuple[str, str, str]] = {
    "districts": ("fill", "31,120,180,50", "31,120,180,255"),
    "compounds": ("fill", "255,255,255,0", "90,90,90,255"),
    "service_areas": ("fill", "51,160,44,40", "51,160,44,200"),
    "sites": ("fill", "227,26,28,160", "227,26,28,255"),
}
_LAYER_TITLES = {
    "districts": ("改造片区", "Renovation districts"),
    "compounds": ("小区（含服务缺口）", "Compounds with service gaps"),
    "service_areas": ("设施服务范围", "Facility service areas"),
    "sites": ("建议选址", "Proposed sites"),
}


def wide_gaps(compounds: pd.DataFrame, access: pd.DataFrame | None, gaps: pd.DataFrame | None,
              categories: Iterable[str] | None = None) -> pd.DataFrame:
    """Add one column per category and field to a copy of ``compounds`` (geometry kept).

    The columns are ``{category}_distance_m``, ``{category}_within_radius`` and
    ``{category}_covered_households``.
    """
    out = compounds.copy()
    if access is None or not len(access):
        return out
    cats = list(categories) if categories is not None else list(dict.fromkeys(access[schema.CATEGORY]))
    ids = out[schema.COMPOUND_ID].astype(str)
    a = access.assign(**{schema.COMPOUND_ID: access[schema.COMPOUND_ID].astype(str)})
    cov = None
    if gaps is not None and len(gaps):
        g = gaps[gaps[schema.LEVEL] == "compound"]
        cov = g.assign(**{schema.UNIT_ID: g[schema.UNIT_ID].astype(str)}).set_index(
            [schema.UNIT_ID, schema.CATEGORY])[schema.HOUSEHOLDS_COVERED]
    for cat in cats:
        sub = a[a[schema.CATEGORY] == cat].set_index(schema.COMPOUND_ID)
        out[f"{cat}_{schema.DISTANCE_M}"] = ids.map(sub[schema.DISTANCE_M]).astype(float).to_numpy()
        within = ids.map(sub[schema.WITHIN_RADIUS])
        out[f"{cat}_{schema.WITHIN_RADIUS}"] = within.astype("boolean").to_numpy()
        if cov is not None:
            c = cov.xs(cat, level=schema.CATEGORY) if cat in cov.index.get_level_values(1) else pd.Series(
                dtype=float)
            out[f"{cat}_{schema.HOUSEHOLDS_COVERED}"] = ids.map(c).astype(float).to_numpy()
    return out


def _qml(layer: str, fields: list[str], lang: str) -> str:
    """A QGIS style (QML): one symbol per layer and field aliases in ``lang``."""
    kind, fill, outline = RESULT_LAYERS[layer]
    aliases = "".join(
        f'<alias field="{_escape_text(f)}" index="{i}" name="{_escape_text(wording.column_label(f, lang))}"/>'
        for i, f in enumerate(fields))
    props = (f'<prop k="color" v="{fill}"/><prop k="style" v="solid"/><prop k="outline_color" v="{outline}"/>'
             '<prop k="outline_style" v="solid"/><prop k="outline_width" v="0.4"/>'
             '<prop k="outline_width_unit" v="MM"/>')
    return (
        "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
        '<qgis version="3.28.0" styleCategories="Symbology|Fields">'
        '<renderer-v2 type="singleSymbol" symbollevels="0" enableorderby="0" forceraster="0">'
        f'<symbols><symbol type="{kind}" name="0" alpha="1" clip_to_extent="1" force_rhr="0">'
        f'<layer class="SimpleFill" pass="0" locked="0" enabled="1">{props}</layer></symbol></symbols>'
        '<rotation/><sizescale/></renderer-v2>'
        f"<aliases>{aliases}</aliases><layerGeometryType>2</layerGeometryType></qgis>"
    )


def write_results_gpkg(
    path: str | Path,
    *,
    districts: pd.DataFrame | None = None,
    compounds: pd.DataFrame | None = None,
    access: pd.DataFrame | None = None,
    gaps: pd.DataFrame | None = None,
    service_areas: pd.DataFrame | None = None,
    sites: pd.DataFrame | None = None,
    categories: Iterable[str] | None = None,
    lang: str = "zh",
) -> Path:
    """Write ``results.gpkg``: the results as GIS layers, styled for QGIS.

    Layers: ``districts``; ``compounds`` with ``district_id`` and the wide gap table
    (per category: walking distance, within radius, covered households, see
    :func:`wide_gaps`); ``service_areas``; ``sites`` (proposed parcels); and the
    ``layer_styles`` table QGIS reads, one default style per layer with field aliases
    in ``lang`` (column names stay canonical).
    """
    import sqlite3
    from datetime import UTC, datetime

    import geopandas as gpd
    import pyogrio

    wording.check_lang(lang)
    out = Path(path)
    if out.exists():
        out.unlink()
    layers: dict[str, gpd.GeoDataFrame] = {}
    if districts is not None:
        layers["districts"] = districts
    if compounds is not None:
        layers["compounds"] = wide_gaps(compounds, access, gaps, categories)
    if service_areas is not None and len(service_areas):
        layers["service_areas"] = service_areas
    if sites is not None and len(sites) and isinstance(sites, gpd.GeoDataFrame):
        layers["sites"] = sites
    styles = []
    now = datetime.now(UTC).replace(microsecond=0, tzinfo=None)
    for name, gdf in layers.items():
        frame = gdf.copy()
        for col in frame.columns:
            if col == frame.geometry.name:
                continue
            vals = frame[col]
            if vals.dtype == object:
                present = vals.dropna()
                if len(present) and present.map(lambda v: isinstance(v, (bool, np.bool_))).all():
                    frame[col] = vals.astype("boolean")
                else:
                    frame[col] = vals.map(lambda v: ",".join(map(str, v)) if isinstance(v, (list, tuple, set))
                                          else v)
        frame.to_file(out, layer=name, driver="GPKG", engine="pyogrio")
        fields = [c for c in frame.columns if c != frame.geometry.name]
        title = _LAYER_TITLES[name][0 if lang == "zh" else 1]
        styles.append({"f_table_catalog": "", "f_table_schema": "", "f_table_name": name,
                       "f_geometry_column": "geom", "styleName": name, "styleQML": _qml(name, fields, lang),
                       "styleSLD": "", "useAsDefault": True, "description": title, "owner": "renogis",
                       "ui": "", "update_time": now})
    if styles:
        table = pd.DataFrame(styles)
        pyogrio.write_dataframe(table, out, layer="layer_styles", driver="GPKG", layer_options={"FID": "id"})
        with sqlite3.connect(out) as con:  # the geometry column name GDAL gave each layer
            geom_cols = dict(con.execute("SELECT table_name, column_name FROM gpkg_geometry_columns"))
            for name in layers:
                con.execute("UPDATE layer_styles SET f_geometry_column = ? WHERE f_table_name = ?",
                            (geom_cols.get(name, "geom"), name))
        con.close()
    return out
