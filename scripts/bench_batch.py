"""Benchmark renogis batch: 16 synthetic cities of mixed sizes, sequential loop vs Dask with 1 and 2 workers.

Every mode runs in a fresh Python process (clean peak memory): ``seq`` calls
``renogis.pipeline.run`` city after city in one process; ``dask-N`` runs
``renogis.batch.run_batch`` on a LocalCluster of N process workers built as
``renogis batch --workers N`` builds it, and its wall time includes starting and
closing the cluster. Peak memory is ``ru_maxrss`` of the process (seq) or of each
worker process (dask). The modes are interleaved over ``--repeat`` rounds and the
medians printed; the outputs of every mode are compared file by file.

    .venv/bin/python scripts/bench_batch.py [--repeat 3] [--data DIR]

It prints figures; it asserts nothing about times.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# sample-like to 5k compounds: many small cities, a few large ones (as in a province's list)
SIZES = (65, 80, 120, 160, 200, 300, 400, 500, 700, 900, 1200, 1500, 2000, 2500, 3500, 5000)
COMPARED = ("districts.csv", "service_gaps.csv", "service_access.csv", "siting_plan.csv")


def make_data(folder: Path) -> Path:
    from renogis.datasets.synthetic import make_city, make_sample
    from renogis.io import write_gpkg

    folder.mkdir(parents=True, exist_ok=True)
    lines = ["city,input"]
    for i, n in enumerate(SIZES):
        name = f"city{i + 1:02d}_{n}"
        path = folder / f"{name}.gpkg"
        if not path.exists():
            layers = make_sample() if n == 65 else make_city(n, seed=100 + i)
            write_gpkg(path, layers)
        lines.append(f"{name},{path.name}")
    manifest = folder / "cities.csv"
    manifest.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return manifest


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def child(mode: str, manifest: Path, out: Path) -> dict:
    from renogis import batch
    from renogis.pipeline import RunConfig, run

    template = RunConfig(input=manifest, out=out, tiles="none")
    cities = batch.read_manifest(manifest, out=out, defaults=template)
    t0 = time.perf_counter()
    if mode == "seq":
        per_city = {}
        for c in cities:
            t = time.perf_counter()
            run(c.config)
            per_city[c.name] = round(time.perf_counter() - t, 3)
        wall = time.perf_counter() - t0
        return {"mode": mode, "wall_s": round(wall, 2), "peak_mb": [round(_peak_mb())],
                "cpu_s": round(_cpu_s(), 1), "per_city_s": per_city}
    n = int(mode.split("-")[1])
    client, cluster, _ = batch._make_client(n, None, dashboard=False)
    t_started = time.perf_counter() - t0
    result = batch.run_batch(cities, out, client=client)
    t_run = time.perf_counter()
    peaks = client.run(_peak_mb)
    cpu = client.run(_cpu_s)
    client.close()
    cluster.close()
    wall = time.perf_counter() - t0
    failed = result.failed
    return {"mode": mode, "wall_s": round(wall, 2), "cluster_start_s": round(t_started, 2),
            "cluster_close_s": round(time.perf_counter() - t_run, 2),
            "peak_mb": sorted(round(v) for v in peaks.values()), "client_peak_mb": round(_peak_mb()),
            "cpu_s": round(sum(cpu.values()) + _cpu_s(), 1),
            "failed": failed["city"].tolist(),
            "per_city_s": dict(zip(result.summary["city"], result.summary["run_time_s"], strict=True))}


def same_outputs(a: Path, b: Path, names: list[str]) -> list[str]:
    diff = []
    for name in names:
        for f in COMPARED:
            pa, pb = a / name / f, b / name / f
            if not pa.exists() or not pb.exists() or pa.read_bytes() != pb.read_bytes():
                diff.append(f"{name}/{f}")
    return diff


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "renogis-bench-batch")
    ap.add_argument("--modes", default="seq,dask-1,dask-2")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--manifest", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print("RESULT " + json.dumps(child(args.child, args.manifest, args.out)), flush=True)
        return
    manifest = make_data(args.data)
    names = [f"city{i + 1:02d}_{n}" for i, n in enumerate(SIZES)]
    print(f"{len(SIZES)} cities, {sum(SIZES):,} compounds ({min(SIZES)}-{max(SIZES)}); cores available: "
          f"{len(os.sched_getaffinity(0))}; load average at start: {os.getloadavg()[0]:.1f}", flush=True)
    modes = args.modes.split(",")
    results: dict[str, list[dict]] = {m: [] for m in modes}
    outs: dict[str, Path] = {}
    work = Path(tempfile.mkdtemp(prefix="bench-batch-"))
    for r in range(args.repeat):
        for m in modes:
            out = work / f"{m}-{r}"
            load = os.getloadavg()[0]
            proc = subprocess.run([sys.executable, __file__, "--child", m, "--manifest", str(manifest),
                                   "--out", str(out)], capture_output=True, text=True)
            line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
            if line is None:
                sys.exit(f"{m} failed:\n{proc.stderr[-3000:]}")
            res = json.loads(line[7:])
            res["load_before"] = round(load, 1)
            results[m].append(res)
            extra = (f", cluster start {res['cluster_start_s']} s, close {res['cluster_close_s']} s"
                     if "cluster_start_s" in res else "")
            print(f"round {r + 1} {m:7s}: {res['wall_s']:7.1f} s wall, {res['cpu_s']:6.1f} s CPU, "
                  f"peak memory {res['peak_mb']} MB"
                  f"{extra} (load average before {load:.1f})", flush=True)
            if m in outs:
                shutil.rmtree(out)
            else:
                outs[m] = out
    print()
    med = {m: statistics.median(x["wall_s"] for x in results[m]) for m in modes}
    print(f"| mode | wall time (median of {args.repeat}) | all rounds | CPU time (median) | peak memory per "
          "process (median, MB) |")
    print("|---|---|---|---|---|")
    for m in modes:
        peaks = [max(x["peak_mb"]) for x in results[m]]
        print(f"| {m} | {med[m]:.1f} s | {', '.join(str(x['wall_s']) for x in results[m])} | "
              f"{statistics.median(x['cpu_s'] for x in results[m]):.0f} s | {statistics.median(peaks):.0f} |")
    if "seq" in med:
        for m in modes:
            if m != "seq":
                print(f"speed-up of {m} over the sequential loop: {med['seq'] / med[m]:.2f}x (medians)")
    if "seq" in results:
        print("\nper-city run time in the sequential loop (median over rounds):")
        for name, n in zip(names, SIZES, strict=True):
            t = statistics.median(x["per_city_s"][name] for x in results["seq"])
            print(f"  {name}: {n:5d} compounds {t:6.1f} s")
    base = next(iter(outs.values()))
    for m, out in outs.items():
        if out is not base:
            diff = same_outputs(base, out, names)
            verdict = "yes, all 16 cities" if not diff else f"NO: {diff}"
            print(f"outputs of {m} equal to {modes[0]}: {verdict}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
