"""Benchmark PostGIS in and out on a generated city: reading the layers from PostGIS against reading
the same layers from a GeoPackage, and writing every result table into PostGIS in one transaction.

Needs a PostgreSQL server with PostGIS (e.g. `docker run -d -p 5432:5432 -e POSTGRES_PASSWORD=x
postgis/postgis` and PGPASSWORD=x) and the extra renogis[postgis]. Writes schemas bench_city and
bench_result (replaced on every run). Prints figures; asserts nothing.

    python scripts/bench_postgis.py postgresql://postgres@localhost:5432/postgres --compounds 20000
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine, text

from renogis.datasets.synthetic import make_city
from renogis.io import read_layers, write_gpkg
from renogis.pipeline import RunConfig, run
from renogis.postgis import parse_url
from renogis.postgis import read_layers as read_postgis_layers


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("url", help="postgresql://user@host:port/db (password via PGPASSWORD or ~/.pgpass)")
    ap.add_argument("--compounds", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    base = parse_url(args.url).conninfo
    city = make_city(args.compounds, seed=args.seed)
    counts = ", ".join(f"{k} {len(v):,}" for k, v in city.items())
    print(f"city: {counts}")
    engine = create_engine(base.replace("postgresql://", "postgresql+psycopg://", 1))
    t0 = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS bench_city CASCADE; CREATE SCHEMA bench_city"))
        for name, gdf in city.items():
            gdf.to_postgis(name, conn, schema="bench_city", index=False)
    engine.dispose()
    print(f"loaded into PostGIS with geopandas.to_postgis in {time.perf_counter() - t0:.1f} s")
    src = f"{base}?schema=bench_city"
    with tempfile.TemporaryDirectory() as tmp:
        gpkg = write_gpkg(Path(tmp) / "city.gpkg", city)
        t0 = time.perf_counter()
        read_layers(gpkg)
        t_file = time.perf_counter() - t0
        t0 = time.perf_counter()
        read_postgis_layers(src)
        t_db = time.perf_counter() - t0
        print(f"read all layers: GeoPackage {t_file:.2f} s, PostGIS {t_db:.2f} s")
        res = run(RunConfig(input=src, out=Path(tmp) / "out", steps=("load", "districts", "gaps", "siting"),
                            out_db=f"{base}?schema=bench_result"))
        rows = res.summary["out_db"]
        print(f"run: load {res.timings_s['load']:.1f} s, districts {res.timings_s['districts']:.1f} s, gaps "
              f"{res.timings_s['gaps']:.1f} s; database write {res.timings_s['database']:.1f} s for "
              f"{sum(rows.values()):,} rows ({', '.join(f'{k} {v:,}' for k, v in rows.items())})")


if __name__ == "__main__":
    main()
