"""``bench archive``: commit time as the archive grows, query latency, bytes written by a one-year update.

Stand-in payload (a disc of ice per 64-px tile, one glacier per tile) through the real writer (stage →
checkpoint → publish) into a real icechunk repository on local disk.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

RES = 20.0
YEAR = 2020


def _units(n: int, size_px: int) -> list[Any]:
    from glacierscale.inventory.units import WorkUnit, unit_id

    width = max(1, int(np.ceil(np.sqrt(n))))
    out = []
    for i in range(n):
        col, row = 300 + i % width, 4000 + i // width
        out.append(WorkUnit(unit_id(32632, RES, size_px, col, row), 32632, col, row, RES, size_px, (f"B{i:06d}",)))
    return out


def _product(unit: Any, year: int, rng: np.random.Generator) -> Any:
    import shapely

    from glacierscale.archive.staging import GlacierPart, UnitProduct

    n = unit.size_px
    yy, xx = np.mgrid[0:n, 0:n]
    r = rng.uniform(0.2, 0.4) * n
    d = np.hypot(yy - n / 2, xx - n / 2)
    classes = np.where(d < r, 1, 0).astype(np.uint8)
    classes[(d >= r - 2) & (d < r)] = 2
    prob = np.clip(100 - (d - r) * 8 + rng.normal(0, 3, d.shape), 0, 100).astype(np.uint8)
    px = float((classes > 0).sum())
    km2 = px * RES * RES / 1e6
    minx, miny, maxx, maxy = unit.bounds
    cx, cy = (minx + maxx) / 2, (miny + maxy) / 2
    outline = shapely.to_wkb(shapely.Point(cx, cy).buffer(r * RES, 8))
    part = GlacierPart(unit.glacier_ids[0], km2, float((classes == 2).sum()) * RES * RES / 1e6, km2 * 1.1, km2 * 1.1,
                       perimeter_km=2 * np.pi * r * RES / 1000, soft_area_km2=km2, outline_wkb=outline)
    return UnitProduct(unit, year, "done", f"in-{unit.unit_id}-{year}", "bench", classes, prob, (part,),
                       nodata_share=0.0, sensors=("s2",), scenes={"s2": [f"S2-{unit.unit_id}-{year}"]})


def _du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _payload_bytes(product: Any) -> int:
    """Return the item's own data: its rasters compressed as the archive stores them (zstd 3) + outline WKB."""
    from numcodecs import Zstd

    codec = Zstd(level=3)
    rasters = sum(len(codec.encode(np.ascontiguousarray(a))) for a in (product.classes, product.probability))
    return rasters + sum(len(p.outline_wkb) for p in product.parts)


def _median_ms(fn: Any, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return float(statistics.median(times))


def bench_archive(workdir: Path | None = None, *, sizes: tuple[int, int] = (1000, 10000), batch: int = 1000,
                  size_px: int = 64, repeat: int = 5, progress: Any = None) -> dict[str, Any]:
    """Return commit seconds per 1000 tiles at ``sizes`` tiles archived, query latencies and the update ratio."""
    from glacierscale.archive.query import open_archive
    from glacierscale.archive.repo import quiet_local_storage_warning
    from glacierscale.archive.run import open_run
    from glacierscale.archive.staging import RunPlan

    say = progress or (lambda _msg: None)
    # a scratch archive in a private temp folder: no other writer can exist, and --json needs a clean stdout
    with tempfile.TemporaryDirectory(dir=workdir) as tmp, quiet_local_storage_warning():
        root = Path(tmp)
        arch, staging = root / "archive", str(root / "staging")
        units = _units(sizes[1] + batch, size_px)
        rng = np.random.default_rng(0)
        import pandas as pd

        glaciers = pd.DataFrame({"glacier_id": [u.glacier_ids[0] for u in units]})
        bboxes = [u.bbox_wgs84() for u in units]
        glaciers["lon"] = [(b[0] + b[2]) / 2 for b in bboxes]
        glaciers["lat"] = [(b[1] + b[3]) / 2 for b in bboxes]
        plan = RunPlan("bench-base", units, [YEAR], glaciers)
        writer = open_run(str(arch), "bench-base", plan, staging=staging)
        commit_s: dict[str, float] = {}
        for start in range(0, len(units), batch):
            items = [writer.stage(_product(u, YEAR, rng)) for u in units[start:start + batch]]
            t0 = time.perf_counter()
            writer.checkpoint(items)
            seconds = time.perf_counter() - t0
            if start in sizes:
                commit_s[str(start)] = seconds * 1000 / batch
            say(f"checkpoint {start + len(items)} tiles: {seconds:.2f} s")
        t0 = time.perf_counter()
        writer.publish({})
        publish_s = time.perf_counter() - t0
        say(f"publish {publish_s:.1f} s")

        archive = open_archive(str(arch))
        ids = [u.glacier_ids[0] for u in rng.choice(np.array(units, dtype=object), size=repeat)]
        it = iter(ids * 2)
        glacier_ms = _median_ms(lambda: archive.glacier(next(it)), repeat)
        w, s, e, n = units[len(units) // 2].bbox_wgs84()
        tile_box = (w + 1e-4, s + 1e-4, e - 1e-4, n - 1e-4)
        bbox_ms = _median_ms(lambda: [ds.load() for ds in archive.region(tile_box)], repeat)

        before = _du(arch)
        update = open_run(str(arch), "bench-update", RunPlan("bench-update", units, [YEAR + 1], glaciers), staging=staging)
        payload = 0
        for start in range(0, len(units), batch):
            products = [_product(u, YEAR + 1, rng) for u in units[start:start + batch]]
            payload += sum(_payload_bytes(p) for p in products)
            update.checkpoint([update.stage(p) for p in products])
        update.publish({})
        written = _du(arch) - before
        say(f"update wrote {written / 1e6:.1f} MB for {payload / 1e6:.1f} MB of new-year rasters")
    ratio = commit_s[str(sizes[1])] / commit_s[str(sizes[0])] if commit_s.get(str(sizes[0])) else float("nan")
    return {
        "commit_seconds_per_1000_tiles": commit_s,
        "commit_growth": ratio,
        "glacier_query_ms": glacier_ms,
        "glaciers": len(units),
        "bbox_query_ms": bbox_ms,
        "update_bytes_ratio": written / payload,
        "update_bytes_written": written,
        "update_payload_bytes": payload,
        "publish_seconds": publish_s,
        "tile_px": size_px,
        "batch": batch,
        "goals": {"commit_growth": "<= 1.5", "glacier_query_ms": "<= 200", "bbox_query_ms": "<= 1000",
                  "update_bytes_ratio": "<= 1.1"},
    }
