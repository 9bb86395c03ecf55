"""Loss/gain rasters of a run against the simulator's truth: `export --changes` on a demo (or any simulated) run.

    .venv/bin/glacierscale demo --workdir /tmp/demo-lg --quiet
    .venv/bin/python benchmarks/lossgain_run.py --workdir /tmp/demo-lg

Writes the loss/gain COGs between the first and last year the archive holds (``glacierscale.archive.lossgain``),
resamples the truth class rasters of both years (``WORKDIR/catalog/truth``, 10 m) onto the COG grid by mode,
and prints the lost / gained ice mapped and true on the pixels observed in both years, and the pixel precision
and recall of the mapped loss.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any


def main() -> None:
    import numpy as np
    import rasterio
    from rasterio.warp import Resampling, reproject

    from glacierscale.archive.lossgain import GAIN, LOSS, NODATA, write_changes
    from glacierscale.archive.query import open_archive
    from glacierscale.classes import GLACIER_CLASSES

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", type=Path, default=Path("demo-work"))
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    out: list[dict[str, float | int]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for pair in write_changes(open_archive(str(args.workdir / "archive")), tmp):
            for path in pair.paths:
                with rasterio.open(path) as src:
                    change, tf, crs = src.read(1), src.transform, src.crs

                def truth(year: int, shape: tuple[int, ...], tf: Any, crs: Any) -> np.ndarray:
                    dst = np.full(shape, 255, np.uint8)
                    with rasterio.open(args.workdir / "catalog" / "truth" / f"truth_classes_{year}.tif") as t:
                        reproject(t.read(1), dst, src_transform=t.transform, src_crs=t.crs, dst_transform=tf,
                                  dst_crs=crs, resampling=Resampling.mode, dst_nodata=255)
                    return np.isin(dst, GLACIER_CLASSES)

                a, b = truth(pair.from_year, change.shape, tf, crs), truth(pair.to_year, change.shape, tf, crs)
                observed = change != NODATA
                px_km2 = abs(tf.a * tf.e) / 1e6
                true_loss, mapped_loss = a & ~b & observed, change == LOSS
                hit = int((true_loss & mapped_loss).sum())
                out.append({"from": pair.from_year, "to": pair.to_year, "observed_share": round(float(observed.mean()), 3),
                            "loss_km2": round(float(mapped_loss.sum() * px_km2), 4),
                            "true_loss_km2": round(float(true_loss.sum() * px_km2), 4),
                            "gain_km2": round(float((change == GAIN).sum() * px_km2), 4),
                            "true_gain_km2": round(float((~a & b & observed).sum() * px_km2), 4),
                            "loss_precision": round(hit / max(1, int(mapped_loss.sum())), 3),
                            "loss_recall": round(hit / max(1, int(true_loss.sum())), 3)})
    if args.json:
        print(json.dumps(out, indent=1))
        return
    for r in out:
        print(", ".join(f"{k} {v}" for k, v in r.items()))


if __name__ == "__main__":
    main()
