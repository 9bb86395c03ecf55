"""Real-imagery check: fine-tune a 3-band ViT-U-Net on real Sentinel-2 clips of one Swiss glacier, test on another.

    .venv/bin/python benchmarks/real_s2_finetune.py [--train flachensteinfirn|silvrettagletscher] [--both]
        [--steps 300] [--patch 96] [--threads 2] [--out train-work/real-s2/results.json]

Data (read from ../shared/data/real, never copied): the SnowIceSen clips (3-band uint16 reflectance × 10000
at 10 m on a glacier-centred transverse Mercator grid; band order B02, B8A, B08 per the author's export
script, unverified; 0 outside the crop footprint and 65535 = nodata) of Flachensteinfirn (SGI A51f-23,
11 dates) and Silvrettagletscher (SGI A10g-05, 7 dates). Label: the SGI 2010 outline of the glacier
rasterised onto each clip grid (1 = glacier, 0 = background, 255 = outside the footprint / nodata).

Models: a 3-band variant of the project's ViT-U-Net built from the shipped default checkpoint's
architecture (``ModelSpec`` / ``ViTUNet``), (1) initialised from the checkpoint where bands map (stem input
weights B02 → B02, B08 → B8A and B08 at half weight each, rescaled to the new normalisation; every other
tensor of matching shape copied) and (2) from scratch; both fine-tuned identically on every date of the
training glacier (normalisation from that glacier). Baselines: "blue > t" with t chosen on the training
glacier, "all glacier" (every valid pixel predicted glacier) and "edge > k px" (background within k px of
the footprint's edge, k chosen on the training glacier: the clips are cut to a larger, older outline, so
this positional shortcut is the bar a model must clear to show it reads the imagery). Evaluated per date on the other glacier:
IoU of glacier and of background over valid pixels. Prints a table and writes the JSON results.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"
CLIPS = "snowicesen-s2-clips"
SGI2010 = "glamos-sgi/sgi2010/SGI_2010.shp"
GLACIERS = {  # name: (SGI 2010 id, clip folder)
    "flachensteinfirn": ("A51f-23", "RGI50-11.A51F23_flachensteinfirn"),
    "silvrettagletscher": ("A10g-05", "RGI50-11.A10G05_silvrettagletscher"),
}
CLIP_BANDS = ("B02", "B8A", "B08")  # the author's export order; not stored in the files
# checkpoint band whose stem input weights each clip band takes, and the share of them
TRANSFER = {"B02": ("B02", 1.0), "B8A": ("B08", 0.5), "B08": ("B08", 0.5)}
LATE_SUMMER = (7, 8, 9, 10)  # months (Jul–Oct) when the glacier is least snow-covered
NODATA = 255


@dataclass
class Clip:
    """One date of one glacier: reflectance (band, y, x) with NaN at nodata, and the SGI 2010 label."""

    glacier: str
    date: str
    data: np.ndarray  # float32 reflectance, NaN outside the footprint / at nodata
    labels: np.ndarray  # uint8: 1 glacier, 0 background, 255 nodata
    pixel_area_m2: float

    @property
    def late_summer(self) -> bool:
        return int(self.date[4:6]) in LATE_SUMMER


def read_clip(path: Path) -> tuple[np.ndarray, Any]:
    """Return (reflectance (3, y, x) float32 with NaN at nodata, the open dataset's profile)."""
    import rasterio

    with rasterio.open(path) as ds:
        raw = ds.read()
        profile = {"crs": ds.crs, "transform": ds.transform, "shape": ds.shape, "res": ds.res}
    bad = ((raw == 0) | (raw == 65535)).any(axis=0)  # 0 = outside the crop footprint, 65535 = declared nodata
    data = raw.astype(np.float32) / 10000.0
    data[:, bad] = np.nan
    return data, profile


def sgi_outline(sgi_id: str, root: Path = REAL) -> Any:
    """Return the SGI 2010 polygons of one glacier (GeoDataFrame in the file's compound LV95 + LN02 CRS)."""
    import geopandas as gpd

    gdf = gpd.read_file(root / SGI2010)
    sel = gdf[gdf["SGI"] == sgi_id]
    if sel.empty:
        raise SystemExit(f"{sgi_id} is not in {root / SGI2010}")
    return sel


def rasterise(outline: Any, profile: dict[str, Any]) -> np.ndarray:
    """Return a uint8 mask (1 inside the outline) on a clip grid; pixel centres decide."""
    from rasterio import features

    geoms = [(g, 1) for g in outline.to_crs(profile["crs"]).geometry]
    return features.rasterize(geoms, out_shape=profile["shape"], transform=profile["transform"], fill=0,
                              dtype="uint8")


def load_glacier(name: str, root: Path = REAL) -> list[Clip]:
    """Return every dated clip of a glacier with its SGI 2010 label."""
    sgi_id, folder = GLACIERS[name]
    outline = sgi_outline(sgi_id, root)
    clips = []
    for path in sorted((root / CLIPS / folder).glob("*.tif")):
        date = re.search(r"_(\d{8})\.tif$", path.name)
        if not date:
            continue
        data, profile = read_clip(path)
        labels = rasterise(outline, profile)
        labels[~np.isfinite(data).all(axis=0)] = NODATA
        clips.append(Clip(name, date.group(1), data, labels, float(profile["res"][0] * profile["res"][1])))
    if not clips:
        raise SystemExit(f"no clips under {root / CLIPS / folder}")
    return clips


# ---------------------------------------------------------------- metrics and the threshold baseline


def iou(pred: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """IoU of glacier and background over valid pixels (pred: bool glacier)."""
    valid = labels != NODATA
    truth, pred = labels[valid] == 1, pred[valid]
    out = {}
    for name, t, p in (("glacier", truth, pred), ("background", ~truth, ~pred)):
        union = int((t | p).sum())
        out[name] = float((t & p).sum() / union) if union else float("nan")
    return out


def fit_threshold(clips: list[Clip], band: int = 0) -> float:
    """Return t maximising the pooled mean IoU (glacier, background) of ``band > t`` on ``clips``."""
    x = np.concatenate([c.data[band][c.labels != NODATA] for c in clips])
    y = np.concatenate([c.labels[c.labels != NODATA] for c in clips]) == 1
    best = (-1.0, 0.0)
    for t in np.arange(0.0, 1.5, 0.005):
        m = iou(x > t, y.astype(np.uint8))
        best = max(best, ((m["glacier"] + m["background"]) / 2, float(t)))
    return best[1]


def edge_distance(clip: Clip) -> np.ndarray:
    """Return each pixel's distance (px) to the nearest pixel outside the clip's valid footprint."""
    from scipy import ndimage

    return np.asarray(ndimage.distance_transform_edt(np.pad(clip.labels != NODATA, 1))[1:-1, 1:-1])


def fit_edge(clips: list[Clip]) -> int:
    """Return k maximising the pooled mean IoU of "glacier = more than k px inside the footprint".

    A positional shortcut, not a glacier mapper: the clips are cut to an older, larger outline, so ice lost
    since then lies along the footprint's edge. A model that does no better than this has learned the crop.
    """
    d = np.concatenate([edge_distance(c)[c.labels != NODATA] for c in clips])
    y = np.concatenate([c.labels[c.labels != NODATA] for c in clips]).astype(np.uint8)
    scores = [(np.mean(list(iou(d > k, y).values())), k) for k in range(0, 30)]
    return int(max(scores)[1])


# ---------------------------------------------------------------- model: build, transfer, train, predict


def build_variant(checkpoint: str, n_bands: int = len(CLIP_BANDS)) -> tuple[Any, Any, dict[str, Any]]:
    """Return (3-band ViTUNet spec, loaded checkpoint, description) from the checkpoint's architecture.

    A checkpoint with per-sensor-group stems gives a variant with one optical stem over the three clip
    bands; one with a shared stem gives a shared 3-band stem.
    """
    from glacierscale.model import ModelSpec, load_checkpoint

    ckpt = load_checkpoint(checkpoint)
    spec = ckpt.model.spec
    groups = (("optical", tuple(range(n_bands))),) if spec.groups else ()
    variant = dataclasses.replace(spec, in_channels=n_bands, groups=groups)
    assert isinstance(variant, ModelSpec)
    return variant, ckpt, {"checkpoint": str(ckpt.path), "model_hash": ckpt.model_hash,
                           "checkpoint_groups": [g for g, _ in spec.groups] or "shared stem"}


def transfer(model: Any, ckpt: Any, mean: np.ndarray, std: np.ndarray, bands: tuple[str, ...] = CLIP_BANDS,
             mapping: dict[str, tuple[str, float]] | None = None) -> dict[str, Any]:
    """Copy the checkpoint's weights into the 3-band ``model`` where they map; return what was done.

    Stem input convolution: the weights of the checkpoint band ``mapping`` (default TRANSFER) names for each
    of ``bands``, times its
    share, times std_new / std_checkpoint (so a reflectance step excites the filter as it did in training).
    Fusion stems: the optical stem and its slice of the 1×1 fusion convolution. Everything else of equal
    shape is copied; the rest stays randomly initialised.
    """
    import torch

    mapping = mapping or TRANSFER
    old = {k: v for k, v in ckpt.model.state_dict().items()}
    spec = ckpt.model.spec
    prefix_map: dict[str, str] = {}
    in_bands = list(ckpt.bands)  # bands seen by the stem's first convolution, in order
    first_conv = "enc1.0.weight"
    fuse_key = ""
    if spec.groups:
        names = [g for g, _ in spec.groups]
        if "optical" not in names:
            raise SystemExit("the checkpoint has no optical stem to transfer from")
        k = names.index("optical")
        in_bands = [ckpt.bands[i] for i in dict(spec.groups)["optical"]]
        prefix_map["enc1.stems.0."] = f"enc1.stems.{k}."
        first_conv = "enc1.stems.0.0.weight"
        fuse_key = "enc1.fuse.0.weight"
        n_groups, width = len(names), spec.stem_width
    new = model.state_dict()
    report: dict[str, Any] = {"copied": [], "adapted": {}, "random": []}
    with torch.no_grad():
        for key, target in new.items():
            src = key
            for a, b in prefix_map.items():
                if key.startswith(a):
                    src = b + key[len(a):]
            if src not in old:
                report["random"].append(key)
                continue
            w = old[src]
            if key == first_conv:
                cols = []
                for j, band in enumerate(bands):
                    from_band, share = mapping[band]
                    i = in_bands.index(from_band)
                    scale = share * float(std[j]) / float(ckpt.std[ckpt.bands.index(from_band)])
                    cols.append(w[:, i] * scale)
                target.copy_(torch.stack(cols, dim=1))
                report["adapted"][key] = {b: f"{mapping[b][1]:g} × {mapping[b][0]} × std ratio" for b in bands}
            elif key == fuse_key:  # features of every group, then one presence channel per group
                sl = torch.cat([w[:, k * width:(k + 1) * width], w[:, n_groups * width + k:n_groups * width + k + 1]],
                               dim=1)
                target.copy_(sl)
                report["adapted"][key] = f"optical slice of {tuple(w.shape)}"
            elif w.shape == target.shape:
                target.copy_(w)
                report["copied"].append(key)
            else:
                report["random"].append(key)
    model.load_state_dict(new)
    n = {k: sum(new[x].numel() for x in v) for k, v in (("copied", report["copied"]), ("random", report["random"]))}
    n["adapted"] = sum(new[x].numel() for x in report["adapted"])
    report["elements"] = n
    return report


class Patches:
    """Random patches of the training clips: half centred near background pixels, flips/rotations, brightness."""

    def __init__(self, clips: list[Clip], mean: np.ndarray, std: np.ndarray, size: int, rng: np.random.Generator):
        self.clips, self.size, self.rng = clips, size, rng
        self.mean, self.std = mean[:, None, None], std[:, None, None]
        self.where = [{c: np.argwhere(x.labels == c) for c in (0, 1)} for x in clips]

    def patch(self) -> tuple[np.ndarray, np.ndarray]:
        rng, size = self.rng, self.size
        k = int(rng.integers(len(self.clips)))
        clip = self.clips[k]
        h, w = clip.labels.shape
        cand = self.where[k][0 if rng.random() < 0.5 else 1]
        cy, cx = cand[rng.integers(len(cand))] if len(cand) else (h // 2, w // 2)
        r = int(np.clip(cy - size // 2 + rng.integers(-size // 4, size // 4 + 1), 0, h - size))
        c = int(np.clip(cx - size // 2 + rng.integers(-size // 4, size // 4 + 1), 0, w - size))
        x, y = clip.data[:, r:r + size, c:c + size], clip.labels[r:r + size, c:c + size]
        rot = int(rng.integers(4))
        x, y = np.rot90(x, rot, axes=(1, 2)), np.rot90(y, rot)
        if rng.random() < 0.5:
            x, y = x[:, :, ::-1], y[:, ::-1]
        x = x * np.float32(rng.uniform(0.85, 1.15))  # illumination spread, all bands alike
        return ((x - self.mean) / self.std).astype(np.float32), y.astype(np.int64)

    def batch(self, n: int) -> tuple[Any, Any]:
        import torch

        xs, ys = zip(*(self.patch() for _ in range(n)), strict=True)
        return torch.from_numpy(np.stack(xs)), torch.from_numpy(np.stack(ys))


def loss_fn(logits: Any, target: Any) -> Any:
    """Cross-entropy + soft Dice over background and glacier (nodata ignored)."""
    import torch
    import torch.nn.functional as F

    ce = F.cross_entropy(logits, target, ignore_index=NODATA)
    probs = torch.softmax(logits, dim=1)[:, :2]
    valid = (target != NODATA).unsqueeze(1)
    onehot = F.one_hot(target.clamp(max=1), 2).permute(0, 3, 1, 2) * valid
    probs = probs * valid
    inter = (probs * onehot).sum(dim=(0, 2, 3))
    denom = probs.sum(dim=(0, 2, 3)) + onehot.sum(dim=(0, 2, 3))
    return ce + 1 - ((2 * inter + 1) / (denom + 1)).mean()


def fit(model: Any, patches: Patches, steps: int, batch: int, lr: float) -> list[float]:
    import torch

    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.1)
    model.train()
    losses = []
    for _ in range(steps):
        xb, yb = patches.batch(batch)
        loss = loss_fn(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
    model.eval()
    return losses


def predict(model: Any, clip: Clip, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """Return the glacier mask (any non-background class wins the argmax) of a whole clip."""
    import torch

    _, h, w = clip.data.shape
    ph, pw = -h % 8, -w % 8
    x = (clip.data - mean[:, None, None]) / std[:, None, None]
    x = np.pad(x, ((0, 0), (0, ph), (0, pw)), constant_values=np.nan).astype(np.float32)
    with torch.no_grad():
        logits = model(torch.from_numpy(x)[None])[0, :, :h, :w]
    return (logits.argmax(0) != 0).numpy()


# ---------------------------------------------------------------- the experiment


def run_direction(train_name: str, test_name: str, args: argparse.Namespace, root: Path) -> dict[str, Any]:
    import torch

    from glacierscale.model import ViTUNet

    train_clips, test_clips = load_glacier(train_name, root), load_glacier(test_name, root)
    stack = np.concatenate([c.data.reshape(3, -1) for c in train_clips], axis=1)
    mean, std = np.nanmean(stack, axis=1).astype(np.float32), np.nanstd(stack, axis=1).astype(np.float32)
    t_blue = fit_threshold(train_clips)
    variant, ckpt, described = build_variant(args.checkpoint)
    preds: dict[str, list[np.ndarray]] = {
        "all glacier": [np.ones(c.labels.shape, bool) for c in test_clips],
        f"blue > {t_blue:.3f}": [c.data[0] > t_blue for c in test_clips],
    }
    k_edge = fit_edge(train_clips)
    preds[f"edge > {k_edge} px"] = [edge_distance(c) > k_edge for c in test_clips]
    runs: dict[str, Any] = {}
    for init in ("fine-tuned", "from scratch"):
        torch.manual_seed(args.seed)
        model = ViTUNet(variant)
        report = transfer(model, ckpt, mean, std) if init == "fine-tuned" else None
        patches = Patches(train_clips, mean, std, args.patch, np.random.default_rng(args.seed))
        t0 = time.perf_counter()
        losses = fit(model, patches, args.steps, args.batch, args.lr)
        seconds = time.perf_counter() - t0
        preds[init] = [predict(model, c, mean, std) for c in test_clips]
        train_iou = [iou(predict(model, c, mean, std), c.labels) for c in train_clips]
        runs[init] = {"train_seconds": round(seconds, 1), "loss_first_last": [round(losses[0], 4), round(losses[-1], 4)],
                      "train_glacier_iou_mean": round(float(np.mean([m["glacier"] for m in train_iou])), 4),
                      "train_background_iou_mean": round(float(np.mean([m["background"] for m in train_iou])), 4),
                      **({"transfer": report} if report else {})}
    rows = []
    for i, c in enumerate(test_clips):
        valid = c.labels != NODATA
        row: dict[str, Any] = {"date": c.date, "late_summer": c.late_summer, "valid_px": int(valid.sum()),
                               "label_glacier_share": round(float((c.labels[valid] == 1).mean()), 4)}
        for method, p in preds.items():
            row[method] = {k: round(v, 4) for k, v in iou(p[i], c.labels).items()}
        rows.append(row)
    summary: dict[str, Any] = {}
    for method in preds:
        for subset, sel in (("all dates", rows), ("late summer (Jul-Oct)", [r for r in rows if r["late_summer"]])):
            summary.setdefault(method, {})[subset] = {
                k: round(float(np.mean([r[method][k] for r in sel])), 4) for k in ("glacier", "background")}
    return {"train": train_name, "test": test_name, "train_dates": [c.date for c in train_clips],
            "normalisation": {"bands": list(CLIP_BANDS), "mean": mean.round(5).tolist(), "std": std.round(5).tolist()},
            "blue_threshold": t_blue, "edge_px": k_edge, "model": {"spec": variant.to_dict(), **described}, "runs": runs,
            "per_date": rows, "summary": summary}


def print_table(res: dict[str, Any]) -> None:
    methods = list(res["summary"])
    print(f"\ntrain {res['train']} ({len(res['train_dates'])} dates) → test {res['test']}; "
          f"IoU glacier / background per date")
    print(f"{'date':10} {'glac%':>6} " + " ".join(f"{m:>17}" for m in methods))
    for r in res["per_date"]:
        cells = " ".join(f"{r[m]['glacier']:8.3f}/{r[m]['background']:<8.3f}" for m in methods)
        print(f"{r['date']:10}{'*' if r['late_summer'] else ' '}{100 * r['label_glacier_share']:5.1f} {cells}")
    for subset in ("all dates", "late summer (Jul-Oct)"):
        cells = " ".join(f"{res['summary'][m][subset]['glacier']:8.3f}/{res['summary'][m][subset]['background']:<8.3f}"
                         for m in methods)
        print(f"{'mean' if subset == 'all dates' else 'mean *':16} {cells}")
    for init, run in res["runs"].items():
        print(f"{init}: {run['train_seconds']} s, loss {run['loss_first_last'][0]} → {run['loss_first_last'][1]}, "
              f"training-glacier IoU glacier {run['train_glacier_iou_mean']} / background "
              f"{run['train_background_iou_mean']}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train", choices=sorted(GLACIERS), default="flachensteinfirn",
                    help="glacier whose dates train the model (the other one is the test set)")
    ap.add_argument("--both", action="store_true", help="also run the reverse direction")
    ap.add_argument("--checkpoint", default="default", help="checkpoint to initialise from")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--patch", type=int, default=96, help="patch size in px (a multiple of 8)")
    ap.add_argument("--lr", type=float, default=1e-3, help="one-cycle max learning rate (both models)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--data", type=Path, default=REAL, help="the shared real-data folder")
    ap.add_argument("--out", type=Path, default=Path("train-work/real-s2/results.json"))
    args = ap.parse_args()
    if args.patch % 8:
        ap.error("--patch must be a multiple of 8")
    import torch

    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    other = {a: b for a, b in zip(sorted(GLACIERS), sorted(GLACIERS)[::-1], strict=True)}
    directions = [(args.train, other[args.train])] + ([(other[args.train], args.train)] if args.both else [])
    results = []
    for train_name, test_name in directions:
        results.append(run_direction(train_name, test_name, args, args.data))
        print_table(results[-1])
    out = {"settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
           "clip_bands_assumed": list(CLIP_BANDS), "seconds": round(time.perf_counter() - t0, 1), "results": results}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1))
    print(f"\n{out['seconds']} s in all; results in {args.out}")


if __name__ == "__main__":
    main()
