"""Write data/sample_buildings.gpkg: SYNTHETIC residential buildings for the bundled sample.

One footprint per building of each sample compound (its ``buildings`` count, 311 in all), laid out
as parallel slabs inside the compound, with a number of floors, a lift flag and households. The
floors follow the stock of the built year (walk-ups of 5-6 floors before 2000, a few high-rises
after); buildings of 8 or more floors have lifts (residential buildings of 7+ floors need lifts in
GB 50096: RECALL), 7-floor ones sometimes, lower ones never. Everything is invented (seeded).

The demo passes this file as the optional buildings layer (``renogis run --buildings FILE``), so
the proposals count lift-retrofit candidates. It is kept out of data/sample.gpkg so that file
stays the six-layer sample described in data/SAMPLE.md.

Usage::

    .venv/bin/python scripts/make_sample_buildings.py [--out data/sample_buildings.gpkg]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

from renogis.datasets import sample_path

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "data" / "sample_buildings.gpkg"
SEED = 14


def make_buildings(compounds: gpd.GeoDataFrame, *, seed: int = SEED) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for rec in compounds.to_dict("records"):
        n = int(rec["buildings"])
        geom = rec["geometry"]
        minx, miny, maxx, maxy = geom.bounds
        wide = (maxx - minx) >= (maxy - miny)
        year = rec["built_year"]
        if year < 1990:
            floors = rng.choice([3, 4, 5, 6, 7], n, p=[0.05, 0.15, 0.35, 0.4, 0.05])
        elif year <= 2000:
            floors = rng.choice([4, 5, 6, 7, 11], n, p=[0.05, 0.3, 0.45, 0.1, 0.1])
        else:
            floors = rng.choice([6, 7, 11, 18], n, p=[0.4, 0.2, 0.25, 0.15])
        lift = (floors >= 8) | ((floors == 7) & (rng.random(n) < 0.3))
        share = floors / floors.sum()
        hh = np.floor(share * rec["households"]).astype(int)
        hh[: rec["households"] - hh.sum()] += 1
        for i in range(n):
            if wide:
                w = (maxx - minx) / n
                cell = shapely.box(
                    minx + i * w + 0.2 * w,
                    miny + 0.15 * (maxy - miny),
                    minx + (i + 1) * w - 0.2 * w,
                    maxy - 0.15 * (maxy - miny),
                )
            else:
                h = (maxy - miny) / n
                cell = shapely.box(
                    minx + 0.15 * (maxx - minx),
                    miny + i * h + 0.2 * h,
                    maxx - 0.15 * (maxx - minx),
                    miny + (i + 1) * h - 0.2 * h,
                )
            part = shapely.intersection(cell, geom)
            if part.is_empty or part.area < 1.0:
                part = shapely.buffer(geom.representative_point(), 3.0 + i)  # odd shapes: a small marker
                part = shapely.intersection(part, geom)
            if part.geom_type != "Polygon":
                part = max(getattr(part, "geoms", [part]), key=lambda g: g.area)
            rows.append(
                {
                    "building_id": f"{rec['compound_id']}-{i + 1}",
                    "compound_id": rec["compound_id"],
                    "floors": int(floors[i]),
                    "has_lift": bool(lift[i]),
                    "households": int(hh[i]),
                    "geometry": part,
                }
            )
    return gpd.GeoDataFrame(rows, crs=compounds.crs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    comp = gpd.read_file(sample_path(), layer="compounds")
    b = make_buildings(comp)
    if args.out.exists():
        args.out.unlink()
    b.to_file(args.out, layer="buildings", driver="GPKG", engine="pyogrio")
    cand = int(((b["floors"] >= 4) & ~b["has_lift"]).sum())
    print(
        f"wrote {args.out}: {len(b)} buildings, {int(b['households'].sum())} households, "
        f"{int(b['has_lift'].sum())} with lifts, {cand} lift-retrofit candidates (>= 4 floors, no lift)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
