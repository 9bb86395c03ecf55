"""Training data from a catalog + an inventory: the pipeline's scene selection and cubes, labels from outlines.

A :class:`CatalogSource` is what ``glacierscale run`` reads (a STAC API URL, a provider name such as
``earth-search``, or a local catalog folder, e.g. a ``glacierscale simulate`` output served by rustac), an
inventory and years. Its work units are planned from the inventory on the training grid exactly as a run plans
them (:func:`glacierscale.pipeline.context.plan_run`), scenes are selected per unit and year by the run's catalog
code, and cubes are assembled by the run's cube code.

Labels are the inventory's outlines rasterised on each unit's grid, never a simulator's truth:

- inside an outline: :data:`GLACIER_LABEL` (glacier, clean or debris-covered unknown: inventories do not map
  debris per pixel), trained on p(clean) + p(debris) (``training.steps.segmentation_loss``);
- outside every outline: :data:`NOT_GLACIER_LABEL` (background or water: inventories do not map lakes),
  trained on p(background) + p(water); no optical data: nodata;
- **outline age**: an outline whose source date lies within ``tolerance_years`` of the scene year labels every
  pixel. Beyond that, the outline's edge is uncertain (glaciers retreat, some advance or surge), so a band on
  both sides of its boundary is **masked** (nodata, no loss), ``edge_m_per_year`` wider per year past the
  tolerance and at most ``max_edge_m``; an outline without a readable date gets the widest band. Masking, not
  down-weighting: a wrong label at a small weight still pulls the model towards the old margin, and an
  inventory gives no per-pixel confidence to weight by; the interior of an old outline (still ice) and the
  ground far from it (still ice-free) keep their labels.

Inventories rarely outline every piece of ice in a frame (seasonal snow patches, glacierets under a size
threshold): such ice is labelled background, as the run's own maps would be judged against the inventory.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from glacierscale.classes import NODATA_CLASS
from glacierscale.errors import EmptySearchError, InputError
from glacierscale.training.data import Sample

GLACIER_LABEL = 254  # training-only label: inside an inventory outline, clean or debris-covered unknown
NOT_GLACIER_LABEL = 253  # training-only label: outside every outline, background or water unknown
DATE_COLUMNS = ("src_date", "date", "BgnDate", "BGNDATE", "year", "Year", "YEAR")
CACHE_VERSION = 2  # 2: GLACIER_LABEL 254, NOT_GLACIER_LABEL outside outlines (1: 3 and 0)


class CatalogSource(BaseModel):
    """One training source read like ``glacierscale run --catalog C --inventory I --years Y`` reads its input."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field("", description="name in validation lists and the checkpoint record (default: catalog-N)")
    catalog: str = Field(description="STAC API URL, provider name (catalogs/<name>.yaml) or local catalog folder")
    provider: str | None = Field(None, description="asset rules (catalogs/<provider>.yaml); default as `run`")
    inventory: str = Field(description="glacier outlines (GeoPackage, shapefile, GeoParquet, RGI zip or folder)")
    years: list[int]
    regions: list[str] = Field(default_factory=list, description="RGI region codes; empty = every glacier")
    tolerance_years: float = Field(2.0, ge=0, description="outline dates within this of the scene year label all pixels")
    edge_m_per_year: float = Field(30.0, ge=0, description="masked band on each side of an older outline's edge, per year")
    max_edge_m: float = Field(600.0, ge=0, description="widest masked band (also for outlines without a date)")
    max_units: int | None = Field(None, ge=1, description="use only the first N work units (a quick trial)")

    @field_validator("years", mode="before")
    @classmethod
    def _years(cls, v: Any) -> list[int]:
        from glacierscale.config import parse_years

        return parse_years(v)


def outline_years(inventory: Any) -> np.ndarray:
    """Return each outline's source year (NaN where the inventory gives no readable date)."""
    column = next((c for c in DATE_COLUMNS if c in inventory.columns), None)
    if column is None:
        return np.full(len(inventory), np.nan)
    out = []
    for value in inventory[column]:
        m = re.match(r"^\s*(\d{4})", str(value))
        year = int(m.group(1)) if m else 0
        out.append(float(year) if 1900 <= year <= 2100 else np.nan)
    return np.asarray(out, dtype=float)


def edge_width_m(age_years: np.ndarray, source: CatalogSource) -> np.ndarray:
    """Return the masked band (m, each side of the boundary) of outlines ``age_years`` off the scene year."""
    excess = np.clip(np.abs(age_years) - source.tolerance_years, 0, None) * source.edge_m_per_year
    return np.where(np.isfinite(age_years), np.minimum(excess, source.max_edge_m), source.max_edge_m)


def outline_labels(outlines: Any, transform: Any, shape: tuple[int, int], year: int,
                   source: CatalogSource) -> np.ndarray:
    """Return labels (y, x) of one scene year on a unit grid: GLACIER_LABEL inside outlines, NOT_GLACIER_LABEL outside,
    NODATA_CLASS in the uncertain band around outlines older (or newer) than the tolerance.

    ``outlines`` must be in the grid's CRS.
    """
    from rasterio.features import rasterize

    labels = np.full(shape, NOT_GLACIER_LABEL, np.uint8)
    geoms = [g for g in outlines.geometry if g is not None and not g.is_empty]
    if geoms:
        labels = rasterize([(g, GLACIER_LABEL) for g in geoms], out_shape=shape, transform=transform,
                           fill=NOT_GLACIER_LABEL, dtype="uint8")
    widths = edge_width_m(year - outline_years(outlines), source)
    bands = [g.boundary.buffer(w) for g, w in zip(outlines.geometry, widths, strict=True)
             if g is not None and not g.is_empty and w > 0]
    if bands:
        masked = rasterize([(b, 1) for b in bands], out_shape=shape, transform=transform, fill=0, dtype="uint8")
        labels[masked > 0] = NODATA_CLASS
    return labels


def source_samples(source: CatalogSource, workdir: Path, resolution: float, tile_size: int) -> list[Sample]:
    """Return cube + outline labels per work unit and year of a catalog source (cached in ``workdir/<name>``).

    InputError names an inventory with no glacier to train on; EmptySearchError names a catalog that gives no
    clear optical scene for any unit and year.
    """
    from glacierscale.config import build_run_config
    from glacierscale.pipeline.context import plan_run

    catalog: dict[str, Any] = {"url": source.catalog, **({"provider": source.provider} if source.provider else {})}
    run_cfg = build_run_config({"catalog": catalog, "inventory": source.inventory, "years": source.years,
                                "regions": source.regions, "archive": str(workdir / source.name / "unused-archive"),
                                "grid": {"resolution": resolution, "tile_size": tile_size, "overlap_px": 0}},
                               f"training source {source.name!r}")
    inventory, units = plan_run(run_cfg)
    if not units:
        raise InputError(f"inventory {source.inventory} has no glacier outline to train on"
                         + (f" in regions {','.join(source.regions)}" if source.regions else ""))
    units = units[: source.max_units] if source.max_units else units
    cache = workdir / source.name / f"cubes-{resolution:g}m-{tile_size}px.npz"
    key = _cache_key(source, run_cfg, units)
    if cache.is_file():
        with np.load(cache, allow_pickle=False) as z:
            if str(z["key"]) == key:
                bands = tuple(str(b) for b in z["bands"])
                return [Sample(source.name, int(y), d, lab, bands, str(u))
                        for y, d, lab, u in zip(z["years"], z["data"], z["labels"], z["units"], strict=True)]
    samples = _build(source, run_cfg, inventory, units)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, key=key, bands=np.array(samples[0].bands), years=np.array([s.year for s in samples]),
             units=np.array([s.unit for s in samples]), data=np.stack([s.data for s in samples]),
             labels=np.stack([s.labels for s in samples]))
    return samples


def _build(source: CatalogSource, run_cfg: Any, inventory: Any, units: list[Any]) -> list[Sample]:
    from affine import Affine

    from glacierscale.catalog.provider import load_provider
    from glacierscale.cube.assemble import cube_bands
    from glacierscale.cube.build import assemble_unit, select_unit_scenes
    from glacierscale.model.bands import required_indices
    from glacierscale.pipeline.context import catalog_endpoint

    provider = load_provider(run_cfg.catalog.provider)
    bands = tuple(cube_bands(provider))
    required = required_indices(list(bands))
    s, sel = run_cfg.season, run_cfg.selection
    samples: list[Sample] = []
    reasons: list[str] = []
    projected: dict[int, Any] = {}  # the inventory in each unit CRS, reprojected once
    with catalog_endpoint(run_cfg.catalog.url) as url:
        for unit in units:
            selections = {}
            for year in run_cfg.years:
                try:
                    selections.update(select_unit_scenes(url, provider, unit, [year], season=(s.start, s.end),
                                                         south_season=(s.south_start, s.south_end),
                                                         max_cloud=sel.max_cloud_cover, max_scenes=sel.max_scenes))
                except EmptySearchError as err:
                    reasons.append(f"{unit.unit_id} {year}: {err}")
            if not selections:
                continue
            ds = assemble_unit(provider, unit, {y: {k: v.items for k, v in per.items()}
                                                for y, per in selections.items()})
            minx, _, _, maxy = unit.bounds
            transform = Affine(unit.resolution, 0, minx, 0, -unit.resolution, maxy)
            if unit.epsg not in projected:
                projected[unit.epsg] = inventory.to_crs(f"EPSG:{unit.epsg}")
            outlines = projected[unit.epsg].cx[unit.bounds[0]:unit.bounds[2], unit.bounds[1]:unit.bounds[3]]
            for year in selections:
                data = ds["data"].sel(year=year).values.astype(np.float32)
                labels = outline_labels(outlines, transform, data.shape[1:], year, source)
                labels[~np.isfinite(data[required]).all(axis=0)] = NODATA_CLASS
                samples.append(Sample(source.name, int(year), data, labels, bands, unit.unit_id))
    if not samples:
        raise EmptySearchError(
            f"catalog {source.catalog}: no clear optical scene for any of the {len(units)} work units of inventory "
            f"{source.inventory} in years {', '.join(map(str, run_cfg.years))} (season {s.start} to {s.end})"
            + (f"; e.g. {reasons[0]}" if reasons else ""))
    return samples


def _cache_key(source: CatalogSource, run_cfg: Any, units: list[Any]) -> str:
    inv = Path(source.inventory)
    stamp: list[Any] = [inv.stat().st_size, inv.stat().st_mtime_ns] if inv.is_file() else []
    catalog = Path(run_cfg.catalog.url)
    if catalog.is_dir():  # a local catalog: new or changed items build the cubes again
        stamp += sorted((str(p.relative_to(catalog)), p.stat().st_mtime_ns) for p in catalog.rglob("*.ndjson"))
    text = json.dumps([CACHE_VERSION, source.model_dump(), run_cfg.catalog.model_dump(), stamp,
                       [u.unit_id for u in units]], default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
