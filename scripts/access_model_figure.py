"""Draw the README figure of the access model (docs/access_model.svg) from a computed example.

A compound whose south side runs parallel to a street (a tie: every point of that side is equally
near), a facility down the street and a second compound north of it, in the same district, with
its own street. The access points, distances and the walk after merging are computed by renogis
itself; the script only draws them. Plain SVG, no plotting library.

    python scripts/access_model_figure.py [--out docs/access_model.svg]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

from renogis import access as acc
from renogis.network import build_walk_network, frontage_points
from renogis.standards import load_standards

CRS = "EPSG:4548"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("docs/access_model.svg"))
    args = ap.parse_args()

    lines = [shapely.LineString([(-80, 0), (420, 0)]), shapely.LineString([(-80, 150), (420, 150)]),
             shapely.LineString([(420, 0), (420, 150)])]
    streets = gpd.GeoDataFrame({"street_id": ["south", "north", "east"]}, geometry=lines, crs=CRS)
    net = build_walk_network(streets)
    a = shapely.box(0, 12, 160, 72)
    b = shapely.box(0, 72, 160, 140)
    comps = gpd.GeoDataFrame({"compound_id": ["A", "B"], "households": [300, 200],
                              "district_id": ["D1", "D1"]}, geometry=[a, b], crs=CRS)
    fac = gpd.GeoDataFrame({"facility_id": ["K"], "category": ["kindergarten"], "capacity": [90.0]},
                           geometry=[shapely.Point(330, -14)], crs=CRS)
    std = load_standards()
    table = acc.compute_access(comps, fac, network=net, standards=std, categories=["kindergarten"])
    gaps = acc.compute_gaps(comps, table, facilities=fac, standards=std, network=net)
    d_a = float(table["distance_m"].iat[0])
    d_b = float(table["distance_m"].iat[1])
    d_b_merged = float(gaps.loc[(gaps["unit_id"] == "B") & (gaps["level"] == "compound"),
                                "distance_merged_m"].iat[0])
    pts = frontage_points(net, gpd.GeoSeries([a], crs=CRS))
    xs = pts.xy[:, 0]
    lo, hi = float(xs.min()), float(xs.max())

    # drawing: 1.6 px per metre, y up
    sx, ox, oy = 1.6, 150.0, 290.0

    def p(x: float, y: float) -> str:
        return f"{ox + sx * x:.1f},{oy - sx * y:.1f}"

    def poly(g: shapely.Polygon, fill: str, stroke: str) -> str:
        c = " ".join(p(x, y) for x, y in np.asarray(g.exterior.coords))
        return f'<polygon points="{c}" fill="{fill}" stroke="{stroke}" stroke-width="1.5"/>'

    def line(coords, color: str, width: float = 2, dash: str | None = None) -> str:
        d = " ".join(p(x, y) for x, y in coords)
        extra = f' stroke-dasharray="{dash}"' if dash else ""
        return (f'<polyline points="{d}" fill="none" stroke="{color}" stroke-width="{width}"'
                f'{extra} stroke-linecap="round"/>')

    def text(x: float, y: float, s: str, size: int = 12, anchor: str = "start",
             color: str = "#222") -> str:
        px, py = p(x, y).split(",")
        return (f'<text x="{px}" y="{py}" font-size="{size}" text-anchor="{anchor}" fill="{color}" '
                f'font-family="sans-serif">{s}</text>')

    svg = []
    for g in lines:
        svg.append(line(list(g.coords), "#bbb", 9))
    svg.append(line([(lo, 0), (hi, 0)], "#E69F00", 9))  # the frontage stretch
    svg.append(poly(a, "#cfe3f3", "#0072B2"))
    svg.append(poly(b, "#e8e0f0", "#6a3d9a"))
    svg.append(text(80, 45, "compound A", 13, "middle", "#0072B2"))
    svg.append(text(80, 100, "compound B (same district)", 13, "middle", "#6a3d9a"))
    # c and the 15 m margin
    svg.append(line([(40, 12), (40, 0)], "#444", 1.2, "3,3"))
    svg.append(text(43, 3, "c = 12 m", 11))
    svg.append(line([(160, 12), (hi, 0)], "#444", 1.2, "3,3"))
    svg.append(text(hi + 3, 9, "c + 15 m", 11))
    for x, y in pts.xy:
        px, py = p(x, y).split(",")
        svg.append(f'<circle cx="{px}" cy="{py}" r="4" fill="#D55E00"/>')
    # walk from A's best access point to the facility
    svg.append(line([(hi, 0), (330, 0)], "#009E73", 3))
    svg.append(line([(330, 0), (330, -14)], "#009E73", 2, "4,3"))
    fx, fy = p(330, -14).split(",")
    svg.append(f'<rect x="{float(fx) - 6}" y="{float(fy) - 6}" width="12" height="12" fill="#009E73"/>')
    svg.append(text(338, -20, "kindergarten", 12))
    svg.append(text(250, -30, f"A: {d_a:.0f} m (c + 15 m, then along the street)", 12, "middle",
                    "#009E73"))
    # B alone: by its north street; after merging: through the opened wall to A's access point
    svg.append(line([(160, 140), (hi, 150)], "#6a3d9a", 1.2, "3,3"))
    svg.append(line([(hi, 150), (420, 150), (420, 0), (330, 0)], "#6a3d9a", 1.5, "6,4"))
    svg.append(text(300, 160, f"B alone: {d_b:.0f} m round the block", 12, "middle", "#6a3d9a"))
    svg.append(line([(160, 72), (hi, 0)], "#6a3d9a", 2.5, "2,3"))
    svg.append(text(hi + 6, 55, f"B after merging: {d_b_merged:.0f} m", 12, "start", "#6a3d9a"))
    svg.append(text(hi + 6, 42, "(through the opened wall)", 11, "start", "#6a3d9a"))
    svg.append(text(-70, -52, "orange: street points within c + 15 m of A (its access points: "
                    "red, the stretch ends and the nearest point)", 11))
    width, height = 880, 420
    out = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}"><rect width="100%" height="100%" fill="white"/>'
           + "".join(svg) + "</svg>\n")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(out, encoding="utf-8")
    print(f"wrote {args.out}: A {d_a:.1f} m, B {d_b:.1f} m alone, {d_b_merged:.1f} m after merging")


if __name__ == "__main__":
    main()
