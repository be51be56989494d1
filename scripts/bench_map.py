"""Benchmark the planning map on a synthetic city and save the README screenshot.

Usage::

    python scripts/bench_map.py [--compounds 20000] [--out /tmp/bench_map.html] [--no-browser]
                                [--repeat 3] [--load-only /tmp/bench_map.html]
    python scripts/bench_map.py --screenshot maps/demo_screenshot.png [--compounds 400]

Prints HTML size (MB), build time and headless-Chromium load time (until the layers
are drawn; the median of ``--repeat`` fresh browser runs) and the time to switch a gap
layer on. The synthetic city's streets and river are drawn too. Districts come from
``renogis.districting.propose_districts`` when ``--propose`` is given (slower),
otherwise from 400 m grid cells; access is the straight-line distance to the
nearest facility of each category (a stand-in for the walking distances of
``renogis.access``), enough to exercise every map layer at full size.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from renogis import schema as S
from renogis.datasets.synthetic import make_city
from renogis.outputs.map import write_map

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
RADIUS_M = 300.0
CELL_M = 400.0


def grid_districts(compounds: gpd.GeoDataFrame, *, cell_m: float = CELL_M) -> gpd.GeoDataFrame:
    """Assign compounds to square grid cells (a quick stand-in for real districting)."""
    c = shapely.centroid(np.asarray(compounds.geometry.values, dtype=object))
    x, y = shapely.get_x(c), shapely.get_y(c)
    ix = ((x - x.min()) // cell_m).astype(int)
    iy = ((y - y.min()) // cell_m).astype(int)
    out = compounds.copy()
    out[S.DISTRICT_ID] = pd.Series([f"D{a:02d}-{b:02d}" for a, b in zip(ix, iy)], index=out.index)
    # exclude one compound in 50 to exercise the excluded layer
    excluded = np.arange(len(out)) % 50 == 7
    out.loc[excluded, S.DISTRICT_ID] = None
    out[S.EXCLUDED_REASON] = np.where(excluded, "同意率不足", None)
    return out


def straight_access(compounds: gpd.GeoDataFrame, facilities: gpd.GeoDataFrame) -> pd.DataFrame:
    """Straight-line distance from each compound to the nearest facility of each category."""
    cent = shapely.centroid(np.asarray(compounds.geometry.values, dtype=object))
    frames = []
    for cat, fac in facilities.groupby(S.CATEGORY):
        tree = shapely.STRtree(np.asarray(fac.geometry.representative_point().values, dtype=object))
        (_, _), dist = tree.query_nearest(cent, return_distance=True, all_matches=False)
        frames.append(
            pd.DataFrame(
                {
                    S.COMPOUND_ID: compounds[S.COMPOUND_ID].to_numpy(),
                    S.CATEGORY: cat,
                    "distance_m": np.round(dist, 1),
                    "radius_m": RADIUS_M,
                    "within_radius": dist <= RADIUS_M,
                    "method": "euclidean",
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def compound_gaps(compounds: gpd.GeoDataFrame, access: pd.DataFrame) -> pd.DataFrame:
    hh = access[S.COMPOUND_ID].map(compounds.set_index(S.COMPOUND_ID)[S.HOUSEHOLDS])
    covered = np.where(access["within_radius"], hh, 0)
    return pd.DataFrame(
        {
            "level": "compound",
            "unit_id": access[S.COMPOUND_ID],
            S.CATEGORY: access[S.CATEGORY],
            "households": hh,
            "covered_households": covered,
            "uncovered_households": hh - covered,
            "coverage_share": np.where(hh > 0, covered / hh.clip(lower=1), np.nan),
        }
    )


def build_inputs(n: int, *, propose: bool = False) -> dict[str, Any]:
    city = make_city(n, seed=0)
    comp = city[S.COMPOUNDS]
    if propose:
        from renogis.districting import propose_districts  # noqa: PLC0415

        result = propose_districts(comp)  # type: ignore[call-arg]
        comp = getattr(result, "compounds", result)
    else:
        comp = grid_districts(comp)
    fac = city[S.FACILITIES]
    access = straight_access(comp, fac)
    service = fac.assign(radius_m=RADIUS_M)
    service = gpd.GeoDataFrame(
        service[[S.CATEGORY, "radius_m"]],
        geometry=service.geometry.buffer(RADIUS_M, quad_segs=8),
        crs=fac.crs,
    )
    return {
        "compounds": comp,
        "parcels": city[S.PARCELS],
        "facilities": fac,
        "access": access,
        "gaps": compound_gaps(comp, access),
        "service_areas": service,
        "streets": city[S.STREETS],
        "barriers": city[S.BARRIERS],
    }


def make_driver(user_data_dir: str, *, size: tuple[int, int] = (1400, 900)) -> Any:
    """Headless Debian Chromium with the network blocked."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    for arg in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={user_data_dir}",
        f"--window-size={size[0]},{size[1]}",
        "--host-resolver-rules=MAP * ~NOTFOUND",
    ):
        opts.add_argument(arg)
    opts.binary_location = CHROMIUM
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)


def browser_times(path: Path) -> dict[str, float]:
    """Seconds until the map's layers are drawn, and to switch the first gap layer on."""
    with tempfile.TemporaryDirectory() as profile:
        drv = make_driver(profile)
        try:
            t0 = time.perf_counter()
            drv.get(path.as_uri())  # returns after the load event: inline scripts have run
            while not drv.execute_script(
                "return !!(window.renogis && Object.keys(window.renogis).length)"
            ):
                time.sleep(0.05)
            # wait for a paint after the layers were added
            drv.execute_async_script(
                "var done = arguments[arguments.length - 1];"
                "requestAnimationFrame(function () { setTimeout(done, 0); });"
            )
            load_s = time.perf_counter() - t0
            severe = [e for e in drv.get_log("browser") if e["level"] == "SEVERE"]
            labels = drv.execute_script(
                "var r = window.renogis[Object.keys(window.renogis)[0]];"
                "return [r.map.getZoom(), r.labelsShown || 0, (r.labels || []).length];"
            )
            toggle_s = drv.execute_async_script("""
                var done = arguments[arguments.length - 1];
                var r = window.renogis[Object.keys(window.renogis)[0]];
                var key = Object.keys(r.groups).filter(function (k) { return k.indexOf('gap:') === 0; })[0];
                if (!key) { done(-1); return; }
                var t = performance.now();
                r.map.addLayer(r.groups[key]);
                requestAnimationFrame(function () { setTimeout(function () { done((performance.now() - t) / 1000); }, 0); });
            """)
            return {
                "zoom": float(labels[0]),
                "labels_shown": float(labels[1]),
                "labels": float(labels[2]),
                "load_s": load_s,
                "gap_toggle_s": float(toggle_s),
                "severe_console_entries": len(severe),
            }
        finally:
            drv.quit()


def save_demo_screenshot(
    out: str | Path = "maps/demo_screenshot.png", *, n_compounds: int = 400, lang: str = "zh"
) -> Path:
    """Render a synthetic city with ``tiles="none"`` and save a headless-Chromium screenshot (PNG)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    inputs = build_inputs(n_compounds)
    comp = inputs.pop("compounds")
    with tempfile.TemporaryDirectory() as tmp:
        html = write_map(Path(tmp) / "demo.html", comp, tiles="none", lang=lang, **inputs)
        with tempfile.TemporaryDirectory() as profile:
            drv = make_driver(profile)
            try:
                drv.get(html.as_uri())
                time.sleep(1.0)
                drv.save_screenshot(str(out))
            finally:
                drv.quit()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--compounds", type=int, default=20_000)
    ap.add_argument("--out", default="/tmp/bench_map.html")
    ap.add_argument("--tiles", default="none")
    ap.add_argument(
        "--propose", action="store_true", help="use renogis.districting.propose_districts"
    )
    ap.add_argument("--no-browser", action="store_true")
    ap.add_argument("--screenshot", help="save a demo screenshot PNG here and exit")
    ap.add_argument("--repeat", type=int, default=3, help="browser runs (median reported)")
    ap.add_argument("--load-only", metavar="HTML", help="only time loading this map file")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.screenshot:
        print(
            f"screenshot: {save_demo_screenshot(args.screenshot, n_compounds=min(args.compounds, 2000))}"
        )
        return
    if args.load_only:
        print_browser_times(Path(args.load_only), repeat=args.repeat, n_compounds=None)
        return
    t0 = time.perf_counter()
    inputs = build_inputs(args.compounds, propose=args.propose)
    comp = inputs.pop("compounds")
    t1 = time.perf_counter()
    path = write_map(args.out, comp, tiles=args.tiles, **inputs)
    t2 = time.perf_counter()
    n_dist = comp[S.DISTRICT_ID].nunique()
    print(
        f"compounds: {len(comp)}  districts: {n_dist}  facilities: {len(inputs['facilities'])}  "
        f"parcels: {len(inputs['parcels'])}  categories: {inputs['access'][S.CATEGORY].nunique()}"
    )
    print(f"inputs (synthetic city + stand-in analysis): {t1 - t0:.1f} s")
    print(f"build_map + save: {t2 - t1:.1f} s")
    print(f"HTML size: {path.stat().st_size / 1e6:.1f} MB ({path})")
    if not args.no_browser:
        print_browser_times(path, repeat=args.repeat, n_compounds=len(comp))


def print_browser_times(path: Path, *, repeat: int, n_compounds: int | None) -> None:
    """Load ``path`` ``repeat`` times in a fresh headless Chromium and print the medians."""
    runs = [browser_times(path) for _ in range(max(1, repeat))]
    load = [r["load_s"] for r in runs]
    toggle = [r["gap_toggle_s"] for r in runs]
    print(
        f"Chromium load until layers drawn: median {np.median(load):.1f} s "
        f"(runs: {', '.join(f'{t:.1f}' for t in load)})"
    )
    what = f"{n_compounds} polygons" if n_compounds else "all compounds"
    print(f"switch on one gap layer ({what}): median {np.median(toggle):.2f} s")
    print(f"SEVERE console entries: {max(r['severe_console_entries'] for r in runs):.0f}")
    r0 = runs[0]
    print(
        f"district labels shown at the initial zoom {r0['zoom']:.0f}: "
        f"{r0['labels_shown']:.0f} of {r0['labels']:.0f} (only those that fit)"
    )


if __name__ == "__main__":
    main()
