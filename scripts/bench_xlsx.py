"""XLSX writers on a gap-table-shaped frame: renogis's own writer vs openpyxl (write-only mode).

Each writer runs in its own process; prints seconds and the process's peak memory (max RSS,
frame included); asserts nothing. Usage:
    .venv/bin/python scripts/bench_xlsx.py [ROWS]
"""

from __future__ import annotations

import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from renogis.outputs.tables import write_table


def frame(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    cats = np.array(["kindergarten", "nursery", "clinic", "canteen", "fitness", "parking"])
    return pd.DataFrame({
        "level": np.where(rng.random(n) < 0.95, "compound", "district"),
        "unit_id": [f"C{i // 18:06d}" for i in range(n)],
        "district_id": [f"D{i // 500:04d}" for i in range(n)],
        "category": cats[rng.integers(0, len(cats), n)],
        "households": rng.integers(50, 3000, n),
        "covered_households": rng.integers(0, 3000, n),
        "uncovered_households": rng.integers(0, 3000, n),
        "coverage_share": rng.random(n),
        "covered_households_merged": rng.integers(0, 3000, n),
        "uncovered_households_merged": rng.integers(0, 3000, n),
        "coverage_share_merged": rng.random(n),
        "distance_m": np.where(rng.random(n) < 0.1, np.nan, rng.random(n) * 2000),
        "radius_m": rng.choice([300.0, 500.0, 1000.0], n),
        "demand": rng.random(n) * 100,
        "supply": rng.random(n) * 100,
        "shortfall": rng.random(n) * 50,
        "demand_unit": rng.choice(["seats", "places", "m2"], n),
    })


def openpyxl_write(df: pd.DataFrame, path: Path) -> None:
    import openpyxl

    wb = openpyxl.Workbook(write_only=True)
    ws = wb.create_sheet("service_gaps")
    ws.append(list(df.columns))
    for row in df.itertuples(index=False):
        ws.append([None if isinstance(v, float) and v != v else v for v in row])
    wb.save(path)


WRITERS = {
    "renogis (zh, worded)": lambda df, tmp: write_table(df, tmp / "a", formats=("xlsx",), lang="zh"),
    "renogis (canonical)": lambda df, tmp: write_table(df, tmp / "b", formats=("xlsx",)),
    "openpyxl write-only": lambda df, tmp: openpyxl_write(df, tmp / "c.xlsx"),
}


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 360_000
    if len(sys.argv) > 2:  # child: one writer
        df = frame(n)
        tmp = Path(tempfile.mkdtemp())
        t0 = time.perf_counter()
        WRITERS[sys.argv[2]](df, tmp)
        dt = time.perf_counter() - t0
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"{sys.argv[2]:24s} {n:,} rows x {df.shape[1]} columns: {dt:6.1f} s, max RSS {rss:,.0f} MB",
              flush=True)
        return
    for name in WRITERS:
        subprocess.run([sys.executable, __file__, str(n), name], check=True)


if __name__ == "__main__":
    main()
