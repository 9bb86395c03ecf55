"""``glacierscale plan``: inventory → work units (GeoParquet + summary)."""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from glacierscale.cli._common import parse_bbox

if TYPE_CHECKING:  # heavy imports stay inside the command so `--help` is fast
    from rich.console import Console

    from glacierscale.inventory.plan import Plan, PlanSpec

HELP = "cut an inventory into work units on a fixed grid; print a summary and write GeoParquet"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("plan", help=HELP, description=HELP + ". Flags override the config; with --inventory "
                       "no config is needed (then 10 m pixels, 1024 px tiles, 1 km margin, years 2016 to last year).")
    p.add_argument("config", nargs="?", help="run config YAML")
    p.add_argument("--inventory", help="outlines: file (shp, gpkg, parquet, geojson), RGI region zip, or a folder "
                                       "of them (RGI 7.0/6.0, GLIMS, national inventories; any CRS)")
    p.add_argument("--regions", help="RGI region codes, first or second order, e.g. 01,11 or 11-01")
    p.add_argument("--ids", help="glacier ids, comma-separated, or @FILE with one id per line")
    p.add_argument("--bbox", type=parse_bbox, help="W,S,E,N in degrees (W > E crosses the antimeridian)")
    p.add_argument("--min-area", type=float, default=0.0, metavar="KM2", help="keep glaciers at least this large")
    p.add_argument("--columns", help="column mapping when names differ, e.g. glacier_id=SGI,o1region=REGION")
    p.add_argument("--years", help="time windows, e.g. 2016:2024 or 2018,2020 (overrides the config)")
    p.add_argument("--resolution", type=float, help="pixel size in metres (default 10, or the config's grid)")
    p.add_argument("--tile-size", type=int, help="tile size in pixels (default 1024, or the config's grid)")
    p.add_argument("--margin", type=float, help="context margin around glaciers in metres (default 1000)")
    p.add_argument("--overlap", type=int, help="tile overlap in pixels for blending (default 32)")
    p.add_argument("--out", default="plan.parquet", help="GeoParquet to write (default plan.parquet)")
    p.set_defaults(func=run)


def _ids(text: str | None) -> tuple[str, ...]:
    from glacierscale.errors import ConfigError

    if not text:
        return ()
    if text.startswith("@"):
        path = Path(text[1:])
        if not path.is_file():
            raise ConfigError(f"--ids file {path} does not exist")
        return tuple(line.strip() for line in path.read_text().splitlines() if line.strip())
    return tuple(t.strip() for t in text.split(",") if t.strip())


def _spec(args: argparse.Namespace) -> tuple[str, PlanSpec, tuple[str, ...]]:
    """Return (inventory, grid/years/seasons, the config's regions) from the config and flags."""
    from glacierscale.config import load_run_config, parse_years
    from glacierscale.errors import ConfigError
    from glacierscale.inventory.plan import PlanSpec, default_years

    if args.config:
        cfg = load_run_config(args.config, {"inventory": args.inventory, "years": args.years})
        spec = PlanSpec(resolution=cfg.grid.resolution, tile_size=cfg.grid.tile_size, margin_m=cfg.grid.margin_m,
                        years=tuple(cfg.years), season=(cfg.season.start, cfg.season.end),
                        south_season=(cfg.season.south_start, cfg.season.south_end), overlap_px=cfg.grid.overlap_px)
        inventory, regions = cfg.inventory, tuple(cfg.regions)
    elif args.inventory:
        try:
            years = tuple(parse_years(args.years)) if args.years else default_years()
        except ValueError as err:
            raise ConfigError(f"--years: {err}") from None
        spec, inventory, regions = PlanSpec(years=years), args.inventory, ()
    else:
        raise ConfigError("plan needs a CONFIG or --inventory FILE")
    checks = (("--resolution", args.resolution, "resolution", 0.0, False), ("--tile-size", args.tile_size, "tile_size", 0, False),
              ("--margin", args.margin, "margin_m", 0.0, True), ("--overlap", args.overlap, "overlap_px", 0, True))
    changes: dict[str, Any] = {}
    for flag, value, name, low, may_be_zero in checks:
        if value is None:
            continue
        if value < low or (value == low and not may_be_zero):
            raise ConfigError(f"{flag} must be {'at least 0' if may_be_zero else 'positive'}, got {value:g}")
        changes[name] = value
    return inventory, replace(spec, **changes), regions


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from glacierscale.inventory.plan import make_plan, write_plan
    from glacierscale.inventory.readers import parse_column_map
    from glacierscale.inventory.regions import Selection, parse_region_codes

    inventory, spec, config_regions = _spec(args)
    regions = parse_region_codes(args.regions) if args.regions else config_regions
    selection = Selection(regions=regions, ids=_ids(args.ids), bbox=args.bbox,
                          min_area_km2=args.min_area)
    plan = make_plan(inventory, spec, selection, columns=parse_column_map(args.columns))
    out = write_plan(plan, args.out)
    print_summary(plan, out, Console())
    return 0


def print_summary(plan: Plan, out: Path, console: Console) -> None:
    """Print units per region and per CRS, glacier counts, areas, repairs."""
    from rich.table import Table

    from glacierscale.inventory.plan import years_label

    s = plan.summary()
    spec = plan.spec
    regions = Table(title="work units per RGI region", padding=(0, 1))
    for name, justify in (("region", "left"), ("name", "left"), ("glaciers", "right"), ("area km²", "right"),
                          ("tiles", "right"), ("work units", "right")):
        regions.add_column(name, justify=justify)  # type: ignore[arg-type]
    for r in s.by_region.itertuples(index=False):
        regions.add_row(str(r.region), str(r.name), f"{r.glaciers:,}", f"{r.area_km2:,.1f}", f"{r.tiles:,}",
                        f"{r.work_units:,}")
    crs = Table(title="tiles per CRS", padding=(0, 1))
    for name in ("EPSG", "kind", "tiles", "work units", "glacier listings"):
        crs.add_column(name, justify="left" if name in ("EPSG", "kind") else "right")
    for r in s.by_crs.itertuples(index=False):
        crs.add_row(str(r.epsg), str(r.crs_kind), f"{r.tiles:,}", f"{r.work_units:,}", f"{r.glaciers:,}")
    console.print(regions)
    console.print(crs)
    console.print(f"{plan.source}: {plan.n_read:,} outlines read, {s.glaciers:,} glaciers selected "
                  f"({plan.selection.describe()}), {s.area_km2:,.1f} km² of ice")
    console.print(f"{s.tiles:,} tiles of {spec.tile_size} px at {spec.resolution:g} m "
                  f"({spec.tile_size * spec.resolution / 1000:g} km, margin {spec.margin_m:g} m, overlap "
                  f"{spec.overlap_px} px) covering {s.tile_area_km2:,.0f} km² × {years_label(spec.years)} "
                  f"= {s.work_units:,} work units; written to {out}")
    if plan.repairs:
        fixed = [r for r in plan.repairs if r.action == "repaired"]
        dropped = [r for r in plan.repairs if r.action != "repaired"]
        console.print(f"[yellow]repaired {len(fixed)} invalid outlines, dropped {len(dropped)}:[/yellow] "
                      + "; ".join(f"{r.glacier_id} {r.action} ({r.problem})" for r in plan.repairs[:8])
                      + (f"; … {len(plan.repairs) - 8} more" if len(plan.repairs) > 8 else ""),
                      highlight=False)
