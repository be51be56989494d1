"""Benchmark the whole service-gap step on a generated city (issue 4 target: 20k compounds, 200k-node
network, under 30 s, peak memory under 3 GB).

The city is renogis.datasets.synthetic.make_city(N); its own streets are densified with a lattice of long
unsplit lines from make_street_grid so that the noded walk network has about --nodes nodes. Timed:
network build (noding, barriers, largest component), access (snapping + one bounded multi-source
Dijkstra per category), gaps (2SFCA supply with distance matrices, district roll-up) and tables
(service_access.csv, service_gaps.csv/.xlsx). Prints figures; asserts nothing.

    python scripts/bench_gaps.py --compounds 20000 --nodes 200000
"""

from __future__ import annotations

import argparse
import math
import resource
import tempfile
import time
from pathlib import Path

import pandas as pd

from renogis import access as acc
from renogis.datasets.synthetic import make_city, make_street_grid
from renogis.io import RawLayer
from renogis.network import build_walk_network
from renogis.outputs import gap_tables
from renogis.standards import load_standards
from renogis.validate import validate_layers


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--compounds", type=int, default=20_000)
    ap.add_argument("--nodes", type=int, default=200_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-gates", action="store_true",
                    help="drop the gates layer: every compound is reached by the frontage model")
    args = ap.parse_args()

    t0 = time.perf_counter()
    city = make_city(args.compounds, seed=args.seed)
    x0, y0, x1, y1 = city["compounds"].total_bounds
    side = max(x1 - x0, y1 - y0)
    k = math.ceil(math.sqrt(args.nodes))
    grid = make_street_grid(args.nodes, seed=args.seed, spacing_m=side / k, origin=(x0, y0),
                            crs=str(city["streets"].crs))
    streets = pd.concat([city["streets"], grid.assign(street_id="G" + grid["street_id"].astype(str))],
                        ignore_index=True)
    city["streets"] = streets
    raw = {name: RawLayer(name=name, gdf=gdf, source=Path(f"{name}.gpkg")) for name, gdf in city.items()}
    layers, report, _ = validate_layers(raw)
    report.raise_if_errors()
    compounds = layers["compounds"]
    # districts by 2 km grid cell stand in for proposals: this benchmark times the gap step only
    c = compounds.geometry.centroid
    compounds = compounds.assign(district_id=("D" + ((c.x - x0) // 2000).astype(int).astype(str) + "_"
                                              + ((c.y - y0) // 2000).astype(int).astype(str)))
    standards = load_standards()
    print(f"city: {len(compounds):,} compounds, {len(layers['facilities']):,} facilities, "
          f"{len(layers['gates']):,} gates, {len(streets):,} street lines; made in "
          f"{time.perf_counter() - t0:.1f} s")

    gates = None if args.no_gates else layers["gates"]
    times: dict[str, float] = {}
    t = time.perf_counter()
    net = build_walk_network(layers["streets"], barriers=layers["barriers"])
    times["network build"] = time.perf_counter() - t
    print(f"walk network: {net.n_nodes:,} nodes, {len(net.edges):,} edges")
    t = time.perf_counter()
    access = acc.compute_access(compounds, layers["facilities"], network=net, standards=standards,
                                gates=gates)
    times["access (snap + 18 x multi-source Dijkstra)" if gates is not None
          else "access (frontage points + 18 x Dijkstra)"] = time.perf_counter() - t
    t = time.perf_counter()
    gaps = acc.compute_gaps(compounds, access, facilities=layers["facilities"], standards=standards,
                            network=net, gates=gates)
    times["gaps (2SFCA + districts)"] = time.perf_counter() - t
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        gap_tables.write_gap_outputs(access, gaps, Path(tmp))
        times["tables (CSV + XLSX)"] = time.perf_counter() - t
    total = sum(times.values())
    for name, secs in times.items():
        print(f"  {name:<45} {secs:7.2f} s")
    print(f"  {'whole gap step':<45} {total:7.2f} s   (target < 30 s)")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory of the process: {peak:,.0f} MB (target < 3,072 MB)")
    print(f"rows: service_access {len(access):,}, service_gaps {len(gaps):,}")


if __name__ == "__main__":
    main()
