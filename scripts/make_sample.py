"""Write the bundled SYNTHETIC sample district to data/sample.gpkg.

The sample is modelled on the public 2021 report totals for the Yongfu Zhonglu
area of Xuecheng, Zaozhuang (65 compounds, 311 buildings, 7,447 households,
about 760,000 m2) with the Guohao Meidu cluster (9 compounds, 43 buildings,
1,759 households, 166,500 m2). Geometry and every other attribute are invented.

Usage::

    .venv/bin/python scripts/make_sample.py [--out data/sample.gpkg] [--seed 3]
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from renogis import schema as S
from renogis.datasets.synthetic import AREA, SAMPLE_CLUSTER_AREA, SAMPLE_SEED, make_sample

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "data" / "sample.gpkg"


def write_sample(out: Path, *, seed: int = SAMPLE_SEED) -> dict:
    layers = make_sample(seed=seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.exists():
        out.unlink()
    for name in S.LAYERS:
        layers[name].to_file(out, layer=name, driver="GPKG", engine="pyogrio")
    return layers


def summary(layers: dict, out: Path) -> str:
    comp = layers[S.COMPOUNDS]
    cl = comp[comp[AREA] == SAMPLE_CLUSTER_AREA]
    st = layers[S.STREETS]
    lines = [
        f"wrote {out} ({out.stat().st_size / 1024:.0f} KiB), CRS {comp.crs.to_string()}",
        f"compounds {len(comp)}, buildings {int(comp[S.BUILDINGS].sum())}, "
        f"households {int(comp[S.HOUSEHOLDS].sum())}, "
        f"floor area {comp[S.FLOOR_AREA_M2].sum():,.0f} m2, "
        f"population {comp[S.POPULATION].sum():,.0f}",
        f"{SAMPLE_CLUSTER_AREA}: compounds {len(cl)}, buildings {int(cl[S.BUILDINGS].sum())}, "
        f"households {int(cl[S.HOUSEHOLDS].sum())}, floor area {cl[S.FLOOR_AREA_M2].sum():,.0f} m2",
        "areas: "
        + ", ".join(f"{k} {v}" for k, v in comp[AREA].value_counts().sort_index().items()),
        "subdistricts: "
        + ", ".join(f"{k} {v}" for k, v in comp[S.SUBDISTRICT].value_counts().sort_index().items()),
        f"parcels {len(layers[S.PARCELS])} "
        f"({layers[S.PARCELS][S.KIND].value_counts().sort_index().to_dict()})",
        f"facilities {len(layers[S.FACILITIES])}: "
        + ", ".join(
            f"{k} {v}"
            for k, v in layers[S.FACILITIES][S.CATEGORY].value_counts().sort_index().items()
        ),
        "missing categories: "
        + ", ".join(sorted(set(S.CATEGORIES) - set(layers[S.FACILITIES][S.CATEGORY]))),
        f"streets {len(st)} lines ({st[S.STREET_CLASS].value_counts().sort_index().to_dict()}), "
        f"bridges {int(st[S.BRIDGE].sum())}",
        f"barriers {len(layers[S.BARRIERS])}, gates {len(layers[S.GATES])}",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--seed", type=int, default=SAMPLE_SEED)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    layers = write_sample(args.out, seed=args.seed)
    print(summary(layers, args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
