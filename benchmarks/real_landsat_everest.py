"""Real-imagery check on a whole Landsat 7 scene: Everest/Khumbu, RGI 6 labels, train on one half, test on the other.

    .venv/bin/python benchmarks/real_landsat_everest.py [--steps 300] [--patch 96] [--out FILE.json]

Unlike the SnowIceSen clips (cropped to a glacier footprint, see real_s2_finetune.py), this scene is not cut
to the glaciers: 24 km × 20 km of Landsat 7 ETM+ (2000-10-30, 30 m, uint8 DN: true-colour composite and
band 4 NIR, saturated over snow) with the RGI 6 outlines of the same autumn as labels — clean ice, the
debris-covered Khumbu, Lhotse and Nuptse tongues, moraine, rock and seasonal snow. Read from
../shared/data/real/geoutils-data-everest (never copied).

The scene is split into a west and an east half. In each direction a 4-band (blue, green, red, NIR)
variant of the shipped architecture is fine-tuned on one half — initialised from the shipped checkpoint
(stem weights of B02, B03, B04, B08; DN / 255 is not reflectance, so the normalisation is the half's own)
and from scratch — and tested on the other. Baselines, fitted on the training half: "NIR > t" (bright
snow and ice) and "all glacier". Reported: IoU of glacier and background, and the recall of *dark glacier*
(glacier pixels whose NIR is below the baseline's threshold: mostly debris-covered ice), the case optical
data alone finds hard.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import real_s2_finetune as rs2  # the model helpers of the Sentinel-2 check

DATA = rs2.REAL / "geoutils-data-everest"
BANDS = ("L7-B1", "L7-B2", "L7-B3", "L7-B4")  # blue, green, red, NIR (the RGB file is red, green, blue)
MAPPING = {"L7-B1": ("B02", 1.0), "L7-B2": ("B03", 1.0), "L7-B3": ("B04", 1.0), "L7-B4": ("B08", 1.0)}


def load_scene(root: Path = DATA) -> tuple[np.ndarray, np.ndarray]:
    """Return (DN / 255 as (4, y, x) float32 in BANDS order, RGI 6 glacier mask uint8) on the scene grid."""
    import geopandas as gpd
    import rasterio
    from rasterio import features

    with rasterio.open(root / "LE71400412000304SGS00_RGB.tif") as rgb, \
            rasterio.open(root / "LE71400412000304SGS00_B4.tif") as nir:
        if (rgb.transform, rgb.shape, rgb.crs) != (nir.transform, nir.shape, nir.crs):
            raise SystemExit("the RGB and B4 files are not on one grid")
        red, green, blue = rgb.read().astype(np.float32)
        data = np.stack([blue, green, red, nir.read(1).astype(np.float32)]) / 255.0
        outlines = gpd.read_file(root / "15_rgi60_glacier_outlines.gpkg").to_crs(rgb.crs)
        labels = features.rasterize(((g, 1) for g in outlines.geometry), out_shape=rgb.shape,
                                    transform=rgb.transform, fill=0, dtype="uint8")
    return data, labels


def halves(data: np.ndarray, labels: np.ndarray) -> dict[str, rs2.Clip]:
    w = labels.shape[1] // 2
    return {name: rs2.Clip(name, "20001030", np.ascontiguousarray(data[:, :, sl]), np.ascontiguousarray(labels[:, sl]),
                           900.0) for name, sl in (("west", slice(0, w)), ("east", slice(w, None)))}


def fit_nir(clip: rs2.Clip) -> float:
    """Return t maximising the mean IoU (glacier, background) of "NIR > t" on a clip."""
    scores = [(np.mean(list(rs2.iou(clip.data[3] > t, clip.labels).values())), float(t))
              for t in np.arange(0.05, 1.0, 0.01)]
    return max(scores)[1]


def run_direction(train: rs2.Clip, test: rs2.Clip, args: argparse.Namespace) -> dict[str, Any]:
    import torch

    from glacierscale.model import ViTUNet

    flat = train.data.reshape(len(BANDS), -1)
    mean, std = flat.mean(axis=1).astype(np.float32), flat.std(axis=1).astype(np.float32)
    t = fit_nir(train)
    dark = (test.labels == 1) & (test.data[3] <= t)  # glacier the NIR threshold misses: mostly debris cover
    preds: dict[str, np.ndarray] = {"all glacier": np.ones(test.labels.shape, bool), f"NIR > {t:.2f}": test.data[3] > t}
    runs: dict[str, Any] = {}
    variant, ckpt, described = rs2.build_variant(args.checkpoint, n_bands=len(BANDS))
    for init in ("fine-tuned", "from scratch"):
        torch.manual_seed(args.seed)
        model = ViTUNet(variant)
        if init == "fine-tuned":
            rs2.transfer(model, ckpt, mean, std, bands=BANDS, mapping=MAPPING)
        t0 = time.perf_counter()
        losses = rs2.fit(model, rs2.Patches([train], mean, std, args.patch, np.random.default_rng(args.seed)),
                         args.steps, args.batch, args.lr)
        preds[init] = rs2.predict(model, test, mean, std)
        runs[init] = {"train_seconds": round(time.perf_counter() - t0, 1),
                      "loss_first_last": [round(losses[0], 4), round(losses[-1], 4)]}
    rows = {m: {**{k: round(v, 4) for k, v in rs2.iou(p, test.labels).items()},
                "dark_glacier_recall": round(float(p[dark].mean()), 4)} for m, p in preds.items()}
    return {"train": train.glacier, "test": test.glacier, "nir_threshold": t, "dark_glacier_px": int(dark.sum()),
            "test_glacier_share": round(float(test.labels.mean()), 4), "model": described, "runs": runs,
            "results": rows}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", default="default")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--patch", type=int, default=96)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, default=Path("train-work/real-landsat/results.json"))
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    parts = halves(*load_scene())
    results = [run_direction(parts["west"], parts["east"], args), run_direction(parts["east"], parts["west"], args)]
    for r in results:
        print(f"\ntrain {r['train']} half → test {r['test']} half (glacier {100 * r['test_glacier_share']:.1f} % of it; "
              f"{r['dark_glacier_px']} dark glacier px)")
        print(f"{'method':14} {'glacier IoU':>11} {'background IoU':>14} {'dark glacier recall':>20}")
        for m, v in r["results"].items():
            print(f"{m:14} {v['glacier']:11.3f} {v['background']:14.3f} {v['dark_glacier_recall']:20.3f}")
    out = {"settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
           "seconds": round(time.perf_counter() - t0, 1), "results": results}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1))
    print(f"\n{out['seconds']} s in all; results in {args.out}")


if __name__ == "__main__":
    main()
