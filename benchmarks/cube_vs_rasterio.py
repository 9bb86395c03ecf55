"""Cube assembly (stackstac + harmonise + composite) against rasterio alone reading the same windows.

    .venv/bin/python benchmarks/cube_vs_rasterio.py [--sensors s2,s1,landsat,dem] [--repeat 1] [--workdir DIR]

Simulates a region with the given sensors (once per workdir), then for a 1024 x 1024 px unit at 20 m and
3 years: (a) builds the cube with glacierscale's cube code from the local COGs, (b) reads every asset of
the same selected scenes onto the same grid with rasterio's WarpedVRT (same resampling) and nothing else.
Prints both and their ratio. ``--sensors s2,s1,dem`` gives the 3-sensor benchmark (Landsat then counts as
a missing sensor: NaN band, nothing read).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np


def main() -> None:
    import pystac
    import rasterio
    from affine import Affine
    from rasterio.enums import Resampling
    from rasterio.vrt import WarpedVRT

    from glacierscale.catalog import LocalStacServer
    from glacierscale.catalog.provider import load_provider
    from glacierscale.cube.assemble import build_year
    from glacierscale.cube.build import select_unit_scenes
    from glacierscale.inventory import WorkUnit
    from glacierscale.simulate import RegionSpec, simulate

    p = argparse.ArgumentParser()
    p.add_argument("--sensors", default="s2,s1,landsat,dem", help="sensors to simulate (default all four)")
    p.add_argument("--workdir", help="where the simulated catalog is kept (default /tmp/cube-bench-SENSORS)")
    p.add_argument("--repeat", type=int, default=1, help="rounds; the fastest of each phase counts")
    p.add_argument("--size", type=int, default=2048, help="simulated region in 10 m px (unit = size/2 at 20 m)")
    args = p.parse_args()
    sensors = tuple(s.strip() for s in args.sensors.split(",") if s.strip())
    work = Path(args.workdir or f"/tmp/cube-bench-{'-'.join(sensors)}")
    years = [2021, 2022, 2023]
    span = args.size * 10.0
    meta = work / "simulation.json"
    if not meta.is_file() or json.loads(meta.read_text()).get("sensors") != list(sensors):
        simulate(RegionSpec(size_px=args.size, years=tuple(years), grid_m=span, seed=5), work, sensors=sensors,
                 progress=False)
    minx, miny, _, _ = json.loads((work / "simulation.json").read_text())["bounds"]
    unit = WorkUnit("bench", 32632, int(minx // span), int(miny // span), 20.0, args.size // 2, ())
    provider = load_provider("local")
    with LocalStacServer(work) as server:
        sel = select_unit_scenes(server.url, provider, unit, years, season=("07-15", "09-30"), max_cloud=100,
                                 max_scenes=4)
    chosen = {y: {s: [pystac.Item.from_dict(it.to_dict()) for it in v.items] for s, v in per.items()}
              for y, per in sel.items()}

    minx, miny, _maxx, maxy = unit.bounds
    transform = Affine(unit.resolution, 0, minx, 0, -unit.resolution, maxy)

    def read_with_rasterio(year: int) -> int:
        n = 0
        for sensor, items in chosen[year].items():
            sdef = provider.sensors[sensor]
            keys = [*sdef.bands.values(), *([sdef.mask_asset] if sdef.mask_asset else [])]
            for it in items:
                for key in keys:
                    rs = Resampling.nearest if key == sdef.mask_asset else Resampling[sdef.resampling]
                    with rasterio.open(it.assets[key].href) as src, WarpedVRT(
                            src, crs=f"EPSG:{unit.epsg}", transform=transform, width=unit.size_px,
                            height=unit.size_px, resampling=rs) as vrt:
                        vrt.read(1, out_dtype="float32")
                    n += 1
        return n

    # the two phases alternate year by year, so load from other work on a shared machine hits both alike;
    # with --repeat the fastest round of each phase counts
    # CPU seconds (all threads of this process) are reported beside wall seconds: on a machine shared with
    # other work, wall time charges the cube's 2 reader threads for cores it did not get
    rounds = []
    for _ in range(args.repeat):
        t_cube = t_rio = c_cube = c_rio = 0.0
        for y in years:
            t, c = time.perf_counter(), time.process_time()
            cube = build_year(provider, chosen[y], unit)
            t_cube, c_cube = t_cube + time.perf_counter() - t, c_cube + time.process_time() - c
            t, c = time.perf_counter(), time.process_time()
            n_reads = read_with_rasterio(y)
            t_rio, c_rio = t_rio + time.perf_counter() - t, c_rio + time.process_time() - c
        rounds.append((t_cube, t_rio, c_cube, c_rio))
    t_cube, t_rio, c_cube, c_rio = (min(r[i] for r in rounds) for i in range(4))
    n_reads *= len(years)
    print(json.dumps({"unit_px": unit.size_px, "years": len(years),
                      "sensors": [s for s, v in chosen[years[0]].items() if v],
                      "bands": len(cube.bands), "asset_reads": n_reads, "cube_s": round(t_cube, 2),
                      "rasterio_s": round(t_rio, 2), "ratio": round(t_cube / t_rio, 2), "cube_cpu_s": round(c_cube, 2),
                      "rasterio_cpu_s": round(c_rio, 2), "cpu_ratio": round(c_cube / c_rio, 2), "rounds": len(rounds),
                      "finite_fraction": round(float(np.isfinite(cube.data).mean()), 3)}))


if __name__ == "__main__":
    main()
