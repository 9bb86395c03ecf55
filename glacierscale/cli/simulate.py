"""``glacierscale simulate``: write a multi-sensor scene set (COGs + STAC + truth)."""

from __future__ import annotations

import argparse

HELP = "simulate a multi-sensor scene set: COGs, STAC collection.json/items.ndjson per sensor, truth"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("simulate", help=HELP, description=HELP + ". Procedural terrain and glaciers that "
                       "retreat every year; the output folder is a valid `run --catalog`.")
    p.add_argument("--years", default="2021:2023", help="years, e.g. 2016:2020 (default 2021:2023)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--sensors", default="s2,s1,dem", help="comma list of s2, s1, dem (default all)")
    p.add_argument("--seed", type=int, default=7, help="random seed: same seed, same bytes")
    p.add_argument("--size", type=int, default=768, help="region size in 10 m pixels (default 768 = 7.68 km)")
    p.add_argument("--lon", type=float, default=10.78, help="region centre longitude (default Ötztal Alps)")
    p.add_argument("--lat", type=float, default=46.80, help="region centre latitude")
    p.add_argument("--ela", type=float, default=3000.0, help="equilibrium-line altitude in m (default 3000)")
    p.add_argument("--dem", help="real DEM GeoTIFF (comes with the simulator issue)")
    p.add_argument("--outlines", action="append", help="real outlines FILE or YEAR=FILE (comes with the simulator issue)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from glacierscale.config import parse_years
    from glacierscale.errors import ConfigError, NotAvailableError
    from glacierscale.simulate import RegionSpec, simulate
    from glacierscale.simulate.scene import SENSORS

    if args.dem or args.outlines:
        raise NotAvailableError("simulating over a real DEM or real outlines is not available yet "
                                "(issue: physically honest simulator on real terrain); procedural terrain works")
    sensors = tuple(s.strip() for s in args.sensors.split(",") if s.strip())
    unknown = [s for s in sensors if s not in SENSORS]
    if unknown or "s2" not in sensors:
        raise ConfigError(f"--sensors {args.sensors!r}: choose from {', '.join(SENSORS)}; s2 is required")
    try:
        years = tuple(parse_years(args.years))
    except ValueError as err:
        raise ConfigError(f"--years: {err}") from None
    if args.size < 128 or args.size % 2:
        raise ConfigError(f"--size {args.size}: must be an even number of pixels ≥ 128")
    spec = RegionSpec(center_lon=args.lon, center_lat=args.lat, size_px=args.size, years=years, seed=args.seed,
                      ela_m=args.ela)
    scenes = simulate(spec, args.out, sensors)
    print(f"wrote {', '.join(scenes.collections)} for {len(years)} years to {scenes.root}")
    print(f"inventory: {scenes.inventory}\ntruth outlines: {scenes.truth_outlines}")
    return 0
