"""Write a whole simulated scene set: per-sensor COGs + STAC collections, truth rasters and outlines."""

from __future__ import annotations

import calendar
import json
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from rich.progress import Progress

from glacierscale.simulate import copdem, landsat, sentinel1, sentinel2, stac
from glacierscale.simulate.region import RegionSpec, build_region
from glacierscale.simulate.revisit import SEASON_DAYS, scenes_per_season, season_start, serves
from glacierscale.simulate.truth import INVENTORY_FILE, TRUTH_OUTLINES_FILE, TRUTH_VERSION, write_inventory, write_truth

SENSORS = ("s2", "s1", "dem")  # the default set (what the demo and training use)
ALL_SENSORS = ("s2", "s1", "landsat", "dem")
__all__ = ["ALL_SENSORS", "INVENTORY_FILE", "SENSORS", "TRUTH_OUTLINES_FILE", "SceneSet", "acquisition_dates", "simulate"]


@dataclass(frozen=True)
class SceneSet:
    """Where a written scene set lives and what it holds."""

    root: Path
    collections: dict[str, Path]  # collection id -> folder with collection.json + items.ndjson
    inventory: Path
    truth_outlines: Path
    years: tuple[int, ...]
    epsg: int

    def truth_areas(self) -> pd.DataFrame:
        """Return truth area (km²) per glacier (rows) and year (columns)."""
        import geopandas as gpd

        df = gpd.read_file(self.truth_outlines)
        return df.pivot(index="glacier_id", columns="year", values="area_km2")


def acquisition_dates(year: int, n: int, rng: np.random.Generator, hour: float, *, lat: float = 46.8) -> list[datetime]:
    """Return ``n`` distinct dates at the end of the ablation season of ``year`` in the region's hemisphere.

    North of the equator: 1 Aug - 25 Sep. South of it: 1 Feb - 28 Mar, inside the run's southern season window
    (``season.south_start``/``south_end``, 15 Jan - 31 Mar): the austral late summer, when snow cover is least.
    """
    days = np.sort(rng.choice(np.arange(0, SEASON_DAYS), size=n, replace=False))
    start = datetime.combine(season_start(year, lat), datetime.min.time())
    return [start + timedelta(days=int(d), hours=hour) for d in days]


def fixed_dates(year: int, dates: tuple[str, ...], hour: float) -> list[datetime]:
    """Return the ``MM-DD`` dates of ``year`` at ``hour`` UTC."""
    out = []
    for d in dates:
        try:
            out.append(datetime.strptime(f"{year}-{d.strip()}", "%Y-%m-%d") + timedelta(hours=hour))
        except ValueError:
            from glacierscale.errors import ConfigError

            raise ConfigError(f"dates: {d!r} is not a month-day like 08-15") from None
    return sorted(set(out))


def _plan(spec: RegionSpec, years: tuple[int, ...], sensors: tuple[str, ...], full: bool,
          lat: float | None = None) -> list[tuple[str, datetime]]:
    """Return (sensor, acquisition time) for every scene; the classic order of random draws is kept.

    ``lat`` is the region's latitude (real inputs: the window's centre), which picks the hemisphere's season.
    ``spec.revisit == "real"`` takes each sensor's scene count from the satellites in orbit that season
    (:mod:`glacierscale.simulate.revisit`) and keeps explicit ``dates`` only where one was in service.
    """
    lat = spec.center_lat if lat is None else lat
    real = spec.revisit == "real"
    per_year = {"s2": spec.s2_per_year, "s1": spec.s1_per_year, "landsat": spec.landsat_per_year}

    def dates(sensor: str, year: int, rng: np.random.Generator, hour: float) -> list[datetime]:
        if spec.dates:
            return [d for d in fixed_dates(year, spec.dates, hour) if not real or serves(sensor, d)]
        n = scenes_per_season(sensor, year, lat) if real else per_year[sensor]
        return acquisition_dates(year, n, rng, hour, lat=lat)

    rng = np.random.default_rng(spec.seed + 1)
    plan: list[tuple[str, datetime]] = []
    for year in years:
        if "s2" in sensors:
            plan += [("s2", d) for d in dates("s2", year, rng, 10.5)]
        if "s1" in sensors:
            # full physics alternates descending (morning) and ascending (evening) passes
            plan += [("s1", d + timedelta(hours=11.75) if full and k % 2 else d)
                     for k, d in enumerate(dates("s1", year, rng, 5.5))]
    rng_l = np.random.default_rng(spec.seed + 2)
    for year in years if "landsat" in sensors else ():
        plan += [("landsat", d) for d in dates("landsat", year, rng_l, 10.0)]
    return plan


def simulate(spec: RegionSpec, out: Path, sensors: tuple[str, ...] = SENSORS, progress: bool = True) -> SceneSet:
    """Simulate ``spec`` into ``out`` and return the written SceneSet. Same seed, same bytes.

    ``sensors`` is any of ``s2``, ``s1``, ``landsat``, ``dem``. With ``spec.dem``/``spec.outlines`` the
    region is built from real inputs (bad files raise InputError naming the file).
    """
    unknown = sorted(set(sensors) - set(ALL_SENSORS))
    if unknown or not sensors:
        from glacierscale.errors import ConfigError

        raise ConfigError(f"sensors {', '.join(sensors) or '(none)'}: choose from {', '.join(ALL_SENSORS)}")
    out = Path(out).resolve()
    region = build_region(spec)
    # bad dates fail before anything is written
    plan = _plan(spec, region.years, sensors, region.physics == "full", region.center_lat)
    out.mkdir(parents=True, exist_ok=True)
    items: dict[str, list[dict]] = {}
    writers = {"s2": (sentinel2.COLLECTION, sentinel2.simulate_scene),
               "s1": (sentinel1.COLLECTION, sentinel1.simulate_scene),
               "landsat": (landsat.COLLECTION, landsat.simulate_scene)}
    with Progress(disable=not progress, transient=True) as bar:
        task = bar.add_task(f"simulate {spec.name}", total=len(plan) + 2)
        for sensor, when in plan:
            coll, writer = writers[sensor]
            ts = calendar.timegm(when.timetuple())  # dates before 1970 (replayed old outlines) seed differently
            scene_rng = np.random.default_rng([spec.seed, ts] if ts >= 0 else [spec.seed, 1, -ts])
            items.setdefault(coll, []).append(writer(region, when, scene_rng, out / coll))
            bar.advance(task)
        if "dem" in sensors:
            items[copdem.COLLECTION] = [copdem.simulate_dem(region, out / copdem.COLLECTION)]
        truth = write_truth(region, out, sensors)
        inventory = write_inventory(region, out)
        bar.advance(task, 2)
    folders: dict[str, Path] = {}
    for coll, its in items.items():
        dates = [datetime.fromisoformat(i["properties"]["datetime"].rstrip("Z")) for i in its]
        bbox = its[0]["bbox"]
        stac.write_collection(out / coll, stac.collection(coll, f"Simulated {coll} ({spec.name})", bbox,
                                                          min(dates), max(dates)), its)
        folders[coll] = out / coll
    meta = {**asdict(spec), "years": list(region.years), "epsg": region.epsg, "bounds": region.bounds,
            "sensors": list(sensors), "physics": region.physics, "ela_m_used": round(region.ela_m, 1),
            "truth_version": TRUTH_VERSION}
    (out / "simulation.json").write_text(json.dumps(meta, indent=1))
    return SceneSet(root=out, collections=folders, inventory=inventory, truth_outlines=truth,
                    years=tuple(region.years), epsg=region.epsg)


def refresh_truth(root: Path, spec: RegionSpec | None = None) -> bool:
    """Rewrite the truth of a scene set written by an older truth version; return whether it was rewritten.

    The region is rebuilt from ``spec`` (default: the spec recorded in ``simulation.json``; same seed, same
    region) and only its truth rasters and outlines are written again, so scene sets cached by training and
    benchmarks gain the water class without simulating their scenes again. ``simulation.json`` then records
    the new version (which also invalidates cubes cached from it).
    """
    from dataclasses import fields

    meta_path = Path(root) / "simulation.json"
    meta = json.loads(meta_path.read_text())
    if meta.get("truth_version") == TRUTH_VERSION:
        return False
    if spec is None:
        kwargs = {f.name: meta[f.name] for f in fields(RegionSpec) if f.name in meta}
        for key in ("years", "outlines", "dates", "bbox"):
            if isinstance(kwargs.get(key), list):
                kwargs[key] = tuple(kwargs[key])
        spec = RegionSpec(**kwargs)
    write_truth(build_region(spec), Path(root), tuple(meta.get("sensors", SENSORS)))
    meta["truth_version"] = TRUTH_VERSION
    meta_path.write_text(json.dumps(meta, indent=1))
    return True
