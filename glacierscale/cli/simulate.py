"""``glacierscale simulate``: write a multi-sensor scene set (COGs + STAC + truth)."""

from __future__ import annotations

import argparse

HELP = "simulate a multi-sensor scene set: COGs, STAC collection.json/items.ndjson per sensor, truth"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("simulate", help=HELP, description=HELP + ". Procedural terrain and glaciers that "
                       "retreat every year, or a real DEM and/or real outlines (RGI 6/7, GLIMS, SGI ...); "
                       "the output folder is a valid `run --catalog`. Physics and numbers: docs/simulator.md.")
    p.add_argument("--years", help="years, e.g. 2016:2020 (default 2021:2023; replayed outlines: every year they hold)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--sensors", default="s2,s1,landsat,dem", help="comma list of s2, s1, landsat, dem (default all)")
    p.add_argument("--seed", type=int, default=7, help="random seed: same seed, same bytes")
    p.add_argument("--size", type=int, help="region size in 10 m pixels (default 768 = 7.68 km; with real inputs "
                   "a window of this size around --lon/--lat)")
    p.add_argument("--lon", type=float, help="region centre longitude (default 10.78, Ötztal Alps)")
    p.add_argument("--lat", type=float, help="region centre latitude (default 46.80)")
    p.add_argument("--bbox", help="W,S,E,N window in degrees over real inputs (default: the outlines + 1 km)")
    p.add_argument("--grid-m", type=float, help="snap the region to a tile grid of this span in m, e.g. 7680 for "
                   "the 768 px × 10 m tiles of a run config, so that it fills whole tiles (default: 20 m)")
    p.add_argument("--ela", type=float, help="equilibrium-line altitude in m (default 3000; with real outlines "
                   "their area-median elevation)")
    p.add_argument("--dem", help="real DEM raster (GeoTIFF, any CRS)")
    p.add_argument("--outlines", action="append", metavar="FILE|YEAR=FILE",
                   help="real outlines (shapefile, GeoPackage, GeoParquet, zipped RGI region ...): one inventory "
                   "that the retreat model shrinks, one multi-date file (e.g. GLIMS) or YEAR=FILE repeated to replay")
    p.add_argument("--dates", help="acquisition dates MM-DD,MM-DD used every year by every sensor "
                   "(default: random dates 1 Aug - 25 Sep)")
    p.add_argument("--revisit", choices=("fixed", "real"), default="fixed",
                   help="scenes a season: fixed (default: 4 Sentinel-2, 2 Sentinel-1, 2 Landsat a year) or real: "
                   "what the satellites in orbit that year deliver, e.g. at 46.8° N 8 Sentinel-2 in 2016 (2A "
                   "only), 17 from 2017, Sentinel-1 5 (1A alone) or 9 (two), none of either before 2015; with "
                   "--dates, only the dates a satellite was in service (docs/simulator.md)")
    p.add_argument("--cloud-climate", choices=("mountain", "maritime", "continental", "auto"), default="mountain",
                   help="per-scene cloud fraction of the Sentinel-2 and Landsat scenes: mountain (default: mean 45 %%, "
                   "40-70 %% typical), maritime (mean 62 %%, 15 %% of scenes near-clear: Patagonia, SE Alaska, "
                   "Norway, Iceland, Svalbard), continental (mean 21 %%, 30 %% near-clear: Karakoram, Kunlun, dry "
                   "Andes) or auto: chosen from --lon/--lat (full physics only; sources in docs/simulator.md)")
    p.add_argument("--physics", choices=("full", "classic"), default="full",
                   help="full (default) or classic: the procedural scenes the shipped checkpoint was trained on")
    p.add_argument("--s2-naming", choices=("earth-search", "planetary-computer"), default="earth-search",
                   help="Sentinel-2 asset keys: blue ... scl (Earth Search) or B02 ... SCL (Planetary Computer)")
    p.add_argument("--debris-share", type=float, default=0.3,
                   help="share of a large, flat tongue's ablation area under debris (default 0.3)")
    p.add_argument("--debris-probability", type=float, default=1.0, metavar="P",
                   help="share of the large, flat tongues that carry debris, drawn per glacier (default 1: all)")
    p.add_argument("--forefield-m", type=float, default=0.0, metavar="M",
                   help="full physics: bare, unvegetated moraines and outwash this far around each glacier (the "
                   "ground left since the Little Ice Age; default 0: vegetation wherever the climate allows it)")
    p.add_argument("--marine", action="store_true",
                   help="full physics, procedural: the lowest glacier calves into a fjord (terrain and ELA are "
                   "lowered until its terminus stands at the sea; docs/simulator.md)")
    p.add_argument("--headwalls", action="store_true",
                   help="terrain fitted to outlines (--outlines without --dem): the head of each valley glacier climbs "
                   "a steep headwall, up to 150 m within 250 m of the outline (ice caps get none; default: an even "
                   "fall along each glacier; docs/simulator.md)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def _floats(text: str, n: int, flag: str) -> tuple[float, ...]:
    from glacierscale.errors import ConfigError

    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != n:
        raise ConfigError(f"{flag} {text!r}: expected {n} comma-separated numbers")
    return values


def run(args: argparse.Namespace) -> int:
    from glacierscale.config import parse_years
    from glacierscale.errors import ConfigError
    from glacierscale.simulate import RegionSpec, simulate
    from glacierscale.simulate.region import CLASSIC_DEBRIS, ignores_debris_probability
    from glacierscale.simulate.scene import ALL_SENSORS

    sensors = tuple(s.strip() for s in args.sensors.split(",") if s.strip())
    unknown = [s for s in sensors if s not in ALL_SENSORS]
    if unknown or not sensors:
        raise ConfigError(f"--sensors {args.sensors!r}: choose from {', '.join(ALL_SENSORS)}")
    real = bool(args.dem or args.outlines)
    try:
        years = tuple(parse_years(args.years)) if args.years else (() if real else (2021, 2022, 2023))
    except ValueError as err:
        raise ConfigError(f"--years: {err}") from None
    size = args.size or 768
    if size < 128 or size % 2:
        raise ConfigError(f"--size {size}: must be an even number of pixels ≥ 128")
    if args.grid_m is not None and args.grid_m < 20:
        raise ConfigError(f"--grid-m {args.grid_m}: must be at least 20 m")
    if not 0 <= args.debris_share <= 1:
        raise ConfigError(f"--debris-share {args.debris_share}: must be between 0 and 1")
    if not 0.0 <= args.debris_probability <= 1.0:
        raise ConfigError(f"--debris-probability {args.debris_probability:g}: must be between 0 and 1")
    if args.forefield_m < 0:
        raise ConfigError(f"--forefield-m {args.forefield_m}: must be ≥ 0 metres")
    if args.physics == "classic" and args.forefield_m > 0 and not real:
        raise ConfigError(f"--forefield-m {args.forefield_m:g} needs --physics full: classic scenes paint no vegetation "
                          "zones")
    if ignores_debris_probability(args.physics, args.debris_probability, real):
        raise ConfigError(f"--debris-probability {args.debris_probability:g} needs --physics full: {CLASSIC_DEBRIS}")
    if args.physics == "classic" and args.cloud_climate != "mountain":
        raise ConfigError(f"--cloud-climate {args.cloud_climate} needs --physics full: classic physics keeps the "
                          "clouds the shipped checkpoint was trained on")
    if args.marine and (real or args.physics != "full"):
        raise ConfigError("--marine needs --physics full and a procedural region (no --dem/--outlines: a real "
                          "region's terminus types come from its outlines)")
    if real and args.physics == "classic":
        raise ConfigError("--physics classic is for procedural regions only; real inputs use full physics")
    lon = args.lon if args.lon is not None else 10.78
    lat = args.lat if args.lat is not None else 46.80
    bbox, window = None, None
    if args.bbox:
        w, s, e, n = _floats(args.bbox, 4, "--bbox")
        if not (w < e and s < n):
            raise ConfigError(f"--bbox {args.bbox!r}: must be W,S,E,N with W < E and S < N")
        bbox = (w, s, e, n)
    elif real and args.lon is not None and args.lat is not None:
        window = size * 10.0
    dates = tuple(d.strip() for d in args.dates.split(",") if d.strip()) if args.dates else ()
    spec = RegionSpec(
        center_lon=lon, center_lat=lat, size_px=size, years=years, seed=args.seed,
        ela_m=args.ela if args.ela is not None else 3000.0, ela_from_inputs=args.ela is None,
        physics="full" if real else args.physics, dem=args.dem, outlines=tuple(args.outlines or ()), bbox=bbox, window_m=window,
        dates=dates, s2_naming=args.s2_naming, debris_share=args.debris_share, grid_m=args.grid_m,
        revisit=args.revisit, cloud_climate=args.cloud_climate, forefield_m=args.forefield_m,
        debris_probability=args.debris_probability, marine=args.marine, headwalls=args.headwalls,
    )
    scenes = simulate(spec, args.out, sensors, progress=not args.quiet)
    print(f"wrote {', '.join(scenes.collections)} for {len(scenes.years)} years "
          f"({', '.join(map(str, scenes.years))}) to {scenes.root}")
    print(f"inventory: {scenes.inventory}\ntruth outlines: {scenes.truth_outlines}")
    return 0
