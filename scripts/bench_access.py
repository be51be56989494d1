"""Benchmark: nearest facility per category for every network node, four engines.

Engines, on the same synthetic street grids (renogis.datasets.synthetic.make_street_grid) of about
10k, 100k and 1M nodes, 5 facility categories, cutoff 1000 m:

* ``renogis``  renogis.network.node_distances (exact mid-edge snapping, one bounded
  multi-source Dijkstra per category); the build of the walk network is timed apart;
* ``scipy``    plain scipy.sparse.csgraph.dijkstra(min_only=True, limit=cutoff) on the
  same graph, facilities rounded to their nearest node (the lower bound to beat);
* ``networkx`` nx.multi_source_dijkstra_path_length(cutoff=...) on the same graph;
* ``pandana``  UDST pandana (precompute + nearest_pois), run with the interpreter of
  /tmp/pandana_venv (or $PANDANA_PYTHON) when it can import pandana.

Each engine runs in its own subprocess so that its peak memory (ru_maxrss) is its own.
Wall time is the median of 3 runs for sizes below 1M, one run at 1M.

Usage::

    python scripts/bench_access.py [--sizes 10000 100000 1000000] [--nx-budget-s 300]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

CUTOFF_M = 1000.0
N_CATEGORIES = 5
PANDANA_PYTHON = os.environ.get("PANDANA_PYTHON", "/tmp/pandana_venv/bin/python")


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _repeats(n: int) -> int:
    return 3 if n < 1_000_000 else 1


# ----------------------------------------------------------------------------- prepare
def prepare(n: int, out: Path) -> dict:
    from scipy.spatial import cKDTree

    from renogis.datasets.synthetic import make_street_grid
    from renogis.network import build_walk_network

    streets = make_street_grid(n, seed=0)
    t = time.perf_counter()
    net = build_walk_network(streets)
    build_s = time.perf_counter() - t
    rng = np.random.default_rng(42)
    lo, hi = net.node_xy.min(axis=0), net.node_xy.max(axis=0)
    counts = [max(5, n // k) for k in (2000, 1000, 500, 200, 100)][:N_CATEGORIES]
    fac = {f"cat{i}": rng.uniform(lo, hi, (c, 2)) for i, c in enumerate(counts)}
    tree = cKDTree(net.node_xy)
    fac_node = {k: tree.query(v)[1] for k, v in fac.items()}
    np.savez(
        out,
        node_xy=net.node_xy,
        u=net.edges.u.to_numpy(),
        v=net.edges.v.to_numpy(),
        w=net.edges.length_m.to_numpy(),
        **{f"xy_{k}": v for k, v in fac.items()},
        **{f"node_{k}": v for k, v in fac_node.items()},
    )
    return {
        "nodes": net.n_nodes,
        "edges": len(net.edges),
        "lines": len(streets),
        "build_s": build_s,
        "facilities": counts,
    }


# ----------------------------------------------------------------------------- workers
def _load(path: Path) -> tuple[dict, list[str]]:
    data = dict(np.load(path))
    cats = sorted(k[3:] for k in data if k.startswith("xy_"))
    return data, cats


def run_renogis(n: int, path: Path) -> dict:
    import geopandas as gpd
    import shapely

    from renogis.datasets.synthetic import make_street_grid
    from renogis.network import build_walk_network, node_distances

    data, cats = _load(path)
    streets = make_street_grid(n, seed=0)
    t = time.perf_counter()
    net = build_walk_network(streets)
    build_s = time.perf_counter() - t
    fac = {c: gpd.GeoSeries(shapely.points(data[f"xy_{c}"]), crs=net.crs) for c in cats}
    times = []
    for _ in range(_repeats(n)):
        t = time.perf_counter()
        out = {c: node_distances(net, fac[c], cutoff_m=CUTOFF_M)[0] for c in cats}
        times.append(time.perf_counter() - t)
    reached = float(np.mean([np.isfinite(d).mean() for d in out.values()]))
    return {"time_s": statistics.median(times), "build_s": build_s, "reached": reached}


def _csr(data: dict):
    import scipy.sparse as sp

    n = len(data["node_xy"])
    u, v, w = data["u"], data["v"], data["w"]
    g = sp.coo_matrix((np.r_[w, w], (np.r_[u, v], np.r_[v, u])), shape=(n, n)).tocsr()
    return g  # parallel edges summed: none in a street grid of straight lines


def run_scipy(n: int, path: Path) -> dict:
    from scipy.sparse.csgraph import dijkstra

    data, cats = _load(path)
    g = _csr(data)
    times = []
    for _ in range(_repeats(n)):
        t = time.perf_counter()
        out = {
            c: dijkstra(g, directed=True, indices=np.unique(data[f"node_{c}"]), min_only=True,
                        limit=CUTOFF_M)
            for c in cats
        }
        times.append(time.perf_counter() - t)
    reached = float(np.mean([np.isfinite(d).mean() for d in out.values()]))
    np.savez(path.with_suffix(".scipy.npz"), **out)
    return {"time_s": statistics.median(times), "reached": reached}


def run_networkx(n: int, path: Path) -> dict:
    import networkx as nx

    data, cats = _load(path)
    t = time.perf_counter()
    g = nx.Graph()
    g.add_weighted_edges_from(zip(data["u"].tolist(), data["v"].tolist(), data["w"].tolist(),
                                  strict=True))
    graph_s = time.perf_counter() - t
    times = []
    ref = dict(np.load(path.with_suffix(".scipy.npz")))
    max_diff = 0.0
    for _ in range(_repeats(n)):
        t = time.perf_counter()
        out = {
            c: nx.multi_source_dijkstra_path_length(
                g, set(data[f"node_{c}"].tolist()), cutoff=CUTOFF_M)
            for c in cats
        }
        times.append(time.perf_counter() - t)
    for c in cats:
        d = np.full(len(data["node_xy"]), np.inf)
        d[list(out[c])] = list(out[c].values())
        both = np.isfinite(d) & np.isfinite(ref[c])
        max_diff = max(max_diff, float(np.abs(d[both] - ref[c][both]).max()))
        assert np.array_equal(np.isfinite(d), np.isfinite(ref[c]))
    return {"time_s": statistics.median(times), "graph_s": graph_s, "max_diff_vs_scipy_m": max_diff}


PANDANA_WORKER = r"""
import json, resource, statistics, sys, time
import numpy as np, pandas as pd
import pandana
path, reps, cutoff = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
data = dict(np.load(path))
cats = sorted(k[3:] for k in data if k.startswith("xy_"))
xy = data["node_xy"]
nodes = pd.DataFrame({"x": xy[:, 0], "y": xy[:, 1]})
edges = pd.DataFrame({"from": data["u"], "to": data["v"], "w": data["w"]})
t = time.perf_counter()
net = pandana.Network(nodes.x, nodes.y, edges["from"], edges["to"], edges[["w"]], twoway=True)
net.precompute(cutoff)
prep = time.perf_counter() - t
for c in cats:
    fxy = xy[data["node_" + c]]
    net.set_pois(c, cutoff, 1, pd.Series(fxy[:, 0]), pd.Series(fxy[:, 1]))
times = []
for _ in range(reps):
    t = time.perf_counter()
    out = {c: net.nearest_pois(cutoff, c, num_pois=1)[1].to_numpy() for c in cats}
    times.append(time.perf_counter() - t)
ref = dict(np.load(path.replace(".npz", ".scipy.npz")))
diff = 0.0
for c in cats:
    d = out[c].astype(float)
    ok = np.isfinite(ref[c]) & (d < cutoff)
    diff = max(diff, float(np.abs(d[ok] - ref[c][ok]).max()))
print("RESULT " + json.dumps({"time_s": statistics.median(times), "network_and_precompute_s": prep,
                  "max_diff_vs_scipy_m": diff, "version": pandana.__version__,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0}))
"""


def pandana_status() -> tuple[bool, str]:
    if not Path(PANDANA_PYTHON).exists():
        return False, f"no interpreter at {PANDANA_PYTHON} (python -m venv /tmp/pandana_venv && " \
                      "/tmp/pandana_venv/bin/pip install pandana)"
    proc = subprocess.run([PANDANA_PYTHON, "-c", "import pandana; print(pandana.__version__)"],
                          capture_output=True, text=True)
    if proc.returncode:
        return False, (proc.stderr.strip().splitlines() or ["import failed"])[-1]
    return True, proc.stdout.strip()


# ----------------------------------------------------------------------------- driver
def _worker(engine: str, n: int, path: Path, timeout_s: float | None) -> dict:
    if engine == "pandana":
        cmd = [PANDANA_PYTHON, "-c", PANDANA_WORKER, str(path), str(_repeats(n)), str(CUTOFF_M)]
    else:
        cmd = [sys.executable, __file__, "--worker", engine, "--n", str(n), "--path", str(path)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return {"skipped": f"over the time budget of {timeout_s:.0f} s"}
    if proc.returncode:
        return {"error": (proc.stderr.strip().splitlines() or ["failed"])[-1]}
    lines = [x[x.index("RESULT "):] for x in proc.stdout.splitlines() if "RESULT " in x]
    if not lines:
        return {"error": "no result: " + proc.stdout.strip()[-200:]}
    return json.loads(lines[-1][len("RESULT "):])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--nx-budget-s", type=float, default=240.0,
                    help="networkx / pandana time budget per size (seconds); over it the run "
                         "is skipped (pandana's contraction hierarchies take ~40 s at 10k nodes)")
    ap.add_argument("--worker", choices=["prepare", "renogis", "scipy", "networkx"])
    ap.add_argument("--n", type=int)
    ap.add_argument("--path", type=Path)
    args = ap.parse_args(argv)
    if args.worker:
        func = {"prepare": prepare, "renogis": run_renogis, "scipy": run_scipy,
                "networkx": run_networkx}[args.worker]
        result = func(args.n, args.path)
        result["peak_mb"] = _peak_mb()
        print("RESULT " + json.dumps(result))
        return 0

    has_pandana, why = pandana_status()
    print(f"pandana: {'version ' + why if has_pandana else 'not installable here (' + why + ')'}")
    print(f"cutoff {CUTOFF_M:.0f} m, {N_CATEGORIES} categories; time = all categories, "
          "median of 3 below 1M nodes")
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            path = Path(tmp) / f"grid_{n}.npz"
            info = _worker("prepare", n, path, None)
            print(f"\n== grid {n:,}: {info['lines']} lines, {info['nodes']:,} nodes, "
                  f"{info['edges']:,} edges; facilities {info['facilities']}; "
                  f"build_walk_network {info['build_s']:.2f} s, peak {info['peak_mb']:.0f} MB")
            engines = ["scipy", "renogis", "networkx"] + (["pandana"] if has_pandana else [])
            base = None
            for engine in engines:
                budget = args.nx_budget_s if engine in ("networkx", "pandana") else None
                r = _worker(engine, n, path, budget)
                if "time_s" not in r:
                    print(f"  {engine:9s} {r.get('skipped') or r.get('error')}")
                    continue
                base = r["time_s"] if engine == "scipy" else base
                extra = {k: v for k, v in r.items() if k not in ("time_s", "peak_mb")}
                ratio = f"{r['time_s'] / base:5.2f}x scipy" if base else ""
                print(f"  {engine:9s} {r['time_s']:8.3f} s  {ratio}  peak {r['peak_mb']:6.0f} MB  "
                      + "  ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
                                  for k, v in extra.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
