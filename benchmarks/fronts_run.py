"""Calving fronts of a run against the simulator's truth: `export --fronts` on a demo (or any simulated) run.

    .venv/bin/glacierscale demo --workdir /tmp/demo-fronts --quiet
    .venv/bin/python benchmarks/fronts_run.py --workdir /tmp/demo-fronts

Reads the run's archive (``WORKDIR/archive``) and the scene set's truth (``WORKDIR/catalog/truth``), exports the
fronts the archive's water class gives (``glacierscale.archive.fronts``) and prints, per glacier and year, the
front length mapped / true, the mean distance between the mapped and the true front (CaFFe's MDE, both sampled
every 5 m) and the retreat mapped / true between years (true retreat: the box method on the truth outlines
rasterised on a 10 m grid, with the true fronts' lengths).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def main() -> None:
    import geopandas as gpd
    import numpy as np

    from glacierscale.archive.fronts import fronts
    from glacierscale.archive.query import open_archive
    from glacierscale.reduce.fronts import mean_distance

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", type=Path, default=Path("demo-work"))
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    archive = open_archive(str(args.workdir / "archive"))
    mapped = fronts(archive)
    truth = gpd.read_file(args.workdir / "catalog" / "truth" / "truth_calving_fronts.gpkg")
    outlines = gpd.read_file(args.workdir / "catalog" / "truth" / "truth_outlines.gpkg")
    crs = outlines.crs
    rows = []
    for _, m in mapped.iterrows():
        t = truth[(truth["glacier_id"] == m["glacier_id"]) & (truth["year"] == m["year"])]
        line = gpd.GeoSeries([m.geometry], crs=4326).to_crs(crs).iloc[0]
        true_line = t.geometry.iloc[0] if len(t) else None
        rows.append({"glacier_id": m["glacier_id"], "year": int(m["year"]), "length_m": round(float(m["length_m"]), 1),
                     "true_length_m": round(float(t["length_m"].iloc[0]), 1) if len(t) else None,
                     "mde_m": round(mean_distance(line, true_line, 5.0), 1) if true_line is not None and m["length_m"] > 0
                     else None,
                     "retreat_m": None if np.isnan(m["retreat_m"]) else round(float(m["retreat_m"]), 1),
                     "retreat_unc_m": None if np.isnan(m["retreat_unc_m"]) else round(float(m["retreat_unc_m"]), 1),
                     "front_nodata_share": round(float(m["front_nodata_share"]), 3)})
    # true retreat: the box method on the truth outlines rasterised on a 10 m grid, with the truth fronts' lengths
    from affine import Affine
    from rasterio.features import rasterize

    from glacierscale.reduce.fronts import Front, box_positions

    for gid in sorted({r["glacier_id"] for r in rows}):
        own = outlines[outlines["glacier_id"] == gid].sort_values("year")
        minx, miny, maxx, maxy = own.total_bounds
        res = 10.0
        shape = (int((maxy - miny) / res) + 4, int((maxx - minx) / res) + 4)
        transform = Affine(res, 0, minx - 2 * res, 0, -res, maxy + 2 * res)
        ice = np.stack([rasterize([(g, 1)], out_shape=shape, transform=transform).astype(bool) for g in own.geometry])
        lines = [Front(truth[(truth["glacier_id"] == gid) & (truth["year"] == y)].geometry.iloc[0],
                       float(truth[(truth["glacier_id"] == gid) & (truth["year"] == y)]["length_m"].iloc[0]))
                 for y in own["year"]]
        pos = dict(zip(own["year"].astype(int), box_positions(ice, lines, res), strict=True))
        for r in rows:
            if r["glacier_id"] == gid and r["year"] - 1 in pos:
                r["true_retreat_m"] = round(float(pos[r["year"] - 1] - pos[r["year"]]), 1)
    if args.json:
        print(json.dumps(rows, indent=1))
        return
    for r in rows:
        print(r)


if __name__ == "__main__":
    main()
