"""Write a whole simulated scene set: per-sensor COGs + STAC collections, truth rasters and outlines."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from rich.progress import Progress

from glacierscale.simulate import copdem, sentinel1, sentinel2, stac
from glacierscale.simulate.region import TRUTH_NODATA, Region, RegionSpec, build_region

SENSORS = ("s2", "s1", "dem")
INVENTORY_FILE = "inventory.gpkg"
TRUTH_OUTLINES_FILE = "truth/truth_outlines.gpkg"


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


def acquisition_dates(year: int, n: int, rng: np.random.Generator, hour: float) -> list[datetime]:
    """Return ``n`` distinct dates between 1 Aug and 25 Sep of ``year`` (end of the ablation season)."""
    days = np.sort(rng.choice(np.arange(0, 56), size=n, replace=False))
    start = datetime(year, 8, 1)
    return [start + timedelta(days=int(d), hours=hour) for d in days]


def write_truth(region: Region, out: Path) -> Path:
    """Write truth class rasters per year and the truth outlines; return the outlines path."""
    import geopandas as gpd

    frames = []
    for year in region.spec.years:
        stac.write_cog(out / "truth" / f"truth_classes_{year}.tif", region.truth_classes(year),
                       region.transform, region.crs, TRUTH_NODATA)
        frames.append(region.outline_frame(year))
    outlines = pd.concat(frames, ignore_index=True)
    path = out / TRUTH_OUTLINES_FILE
    gpd.GeoDataFrame(outlines, geometry="geometry", crs=region.crs).to_file(path, driver="GPKG")
    return path


def write_inventory(region: Region, out: Path) -> Path:
    """Write the inventory (the first year's outlines in WGS84, RGI-like columns) and return its path."""
    first = region.outline_frame(region.spec.years[0]).to_crs("EPSG:4326")
    inv = first[["glacier_id", "area_km2", "terminus_type", "geometry"]].copy()
    inv["debris_cover"] = [g.debris_covered for g in region.glaciers]
    inv["src_date"] = f"{region.spec.years[0]}-08-15"
    path = out / INVENTORY_FILE
    inv.to_file(path, driver="GPKG")
    return path


def simulate(spec: RegionSpec, out: Path, sensors: tuple[str, ...] = SENSORS, progress: bool = True) -> SceneSet:
    """Simulate ``spec`` into ``out`` and return the written SceneSet. Same seed, same bytes."""
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    region = build_region(spec)
    rng = np.random.default_rng(spec.seed + 1)
    plan: list[tuple[str, datetime]] = []
    for year in spec.years:
        if "s2" in sensors:
            plan += [("s2", d) for d in acquisition_dates(year, spec.s2_per_year, rng, 10.5)]
        if "s1" in sensors:
            plan += [("s1", d) for d in acquisition_dates(year, spec.s1_per_year, rng, 5.5)]
    items: dict[str, list[dict]] = {}
    writers = {"s2": (sentinel2.COLLECTION, sentinel2.simulate_scene),
               "s1": (sentinel1.COLLECTION, sentinel1.simulate_scene)}
    with Progress(disable=not progress, transient=True) as bar:
        task = bar.add_task(f"simulate {spec.name}", total=len(plan) + 2)
        for sensor, when in plan:
            coll, writer = writers[sensor]
            scene_rng = np.random.default_rng([spec.seed, int(when.timestamp())])
            items.setdefault(coll, []).append(writer(region, when, scene_rng, out / coll))
            bar.advance(task)
        if "dem" in sensors:
            items[copdem.COLLECTION] = [copdem.simulate_dem(region, out / copdem.COLLECTION)]
        truth = write_truth(region, out)
        inventory = write_inventory(region, out)
        bar.advance(task, 2)
    folders: dict[str, Path] = {}
    for coll, its in items.items():
        dates = [datetime.fromisoformat(i["properties"]["datetime"].rstrip("Z")) for i in its]
        bbox = its[0]["bbox"]
        stac.write_collection(out / coll, stac.collection(coll, f"Simulated {coll} ({spec.name})", bbox,
                                                          min(dates), max(dates)), its)
        folders[coll] = out / coll
    (out / "simulation.json").write_text(json.dumps({**asdict(spec), "epsg": region.epsg,
                                                     "bounds": region.bounds}, indent=1))
    return SceneSet(root=out, collections=folders, inventory=inventory, truth_outlines=truth,
                    years=tuple(spec.years), epsg=region.epsg)
