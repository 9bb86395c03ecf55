"""Zero-shot on a real six-band Landsat 8 SR scene (HLS L30, Athabasca Glacier / Columbia Icefield, 2020-08-16).

    .venv/bin/python benchmarks/real_hls_athabasca.py [--checkpoint DIR] [--json] [--dem-audit] [--rock-spectra]

No fine-tuning: the checkpoint maps the scene as it ships. The six bands (B02-B07 → B02 B03 B04 B08 B11 B12)
and the DEM (ELEV, SLOPE, ASPECT) are resampled bilinearly from 30 m to the checkpoint's 20 m grid; SAR
and thermal are absent (NaN), as in a cube without those sensors. The outline is a 1984 GLIMS polygon and
other ice in the frame is not outlined (PROVENANCE.md), so the scene is scored as the issue asks:

- glacier recall inside the outline above 2,400 m (the icefield and upper glacier, where ice certainly
  remains; the tongue has retreated since 1984);
- false ice on clearly bare rock: pixels 300 m or more outside the outline, not in the topographic-shadow
  mask, with NDSI < 0 and SWIR1 > 0.12 (bare rock or moraine, no snow, no water), and more than 3 km from
  Dome Glacier's inventory point. Dome Glacier, the next valley north-west of the Athabasca, is not outlined
  in the file; it is a 5.7 km long, 5.92 km² outlet valley glacier whose tongue is mostly covered by
  ablation, lateral and medial moraines (2.16 km² of debris cover; 52°12.1' N, 117°18.1' W: Ommanney 2002,
  USGS Professional Paper 1386-J). Its debris-covered tongue passes the rock test (the test cannot tell
  debris-covered ice from rock), so those pixels are scored on their own (``rock_test_on_dome_glacier``:
  the share mapped as glacier there, higher is more likely right; not a goal) and also in
  ``false_ice_on_bare_rock_incl_dome``, the figure this benchmark reported before 2026-12-07;
- only where the six bands and the DEM are all valid (the 30 m → 20 m resampling leaves a one-pixel DEM
  border; a run's cube always carries the DEM, and the "no DEM" row drops it everywhere);
- beside the red/SWIR1 ratio > 2 on the same pixels, and the same figures with the optical bands ×0.7 and
  ×1.3 (the brightness part of the shortcut audit) and without the DEM (its DEM part).

``--dem-audit`` asks which DEM layer the false ice comes through: the same scene with the elevation flat (every
pixel at the scene's median), with the slope at its scene mean, and with the aspect at its mean; each row also
scores the bare rock 400 m or more below the scene's median elevation (the valley floor) on its own.

``--rock-spectra`` prints the median of the scene's bare-rock pixels per band beside the real labelled rock and ice
of ../shared/data/real/aberle-glacier-spectra (the spectra check's classes), and the percentile of that rock class
at which the scene's median falls: how far this scene's rock lies from the rock the simulator is calibrated to.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

REAL = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "real" / "hls-athabasca-l30"
BANDS = ("B02", "B03", "B04", "B05", "B06", "B07")  # HLS L30 names of B02 B03 B04 B08 B11 B12
RES_M = 20.0
DOME_GLACIER = (-117 - 18.1 / 60, 52 + 12.1 / 60)  # lon, lat of its inventory point (Ommanney 2002)
DOME_RADIUS_M = 3000.0  # about half its 5.7 km length plus its 1900-1918 recessional moraines


def load_scene(folder: Path, res: float = RES_M) -> dict[str, np.ndarray]:
    """Return optical (6, y, x), elevation, shadow and the outline mask on a ``res`` grid over the scene."""
    import geopandas as gpd
    import rasterio
    from affine import Affine
    from rasterio import features
    from rasterio.warp import Resampling, reproject

    def read(name: str, nodata: float) -> tuple[np.ndarray, Affine, object]:
        with rasterio.open(folder / name) as src:
            a = src.read(1).astype(np.float64)
            return np.where(a == nodata, np.nan, a), src.transform, src.crs

    first, t30, crs = read(f"athabasca_2020229_{BANDS[0]}_L30.tif", -9999)
    h30, w30 = first.shape
    left, top = t30.c, t30.f
    w, h = int(w30 * t30.a // res), int(h30 * -t30.e // res)
    t20 = Affine(res, 0, left, 0, -res, top)

    def to_grid(a: np.ndarray, method: Resampling = Resampling.bilinear) -> np.ndarray:
        out = np.full((h, w), np.nan)
        reproject(a, out, src_transform=t30, src_crs=crs, dst_transform=t20, dst_crs=crs, resampling=method,
                  src_nodata=np.nan, dst_nodata=np.nan)
        return out

    optical = np.stack([to_grid(read(f"athabasca_2020229_{b}_L30.tif", -9999)[0] * 1e-4) for b in BANDS])
    elev = to_grid(read("athabasca_dem.tif", -32768)[0])
    # SatRbedo's shadow_removal(mask = FALSE) writes cast shadow × hill shade: 0 in topographic shadow, 1 where lit
    lit = to_grid(read("athabasca_shadows.tif", -1)[0], Resampling.nearest) > 0.5
    shadow = ~lit  # (a pixel the mask does not cover counts as shadow: it never enters the bare-rock test)
    outline = gpd.read_file(folder / "athabasca_outline.shp").to_crs(crs)
    inside = features.rasterize(((g, 1) for g in outline.geometry), (h, w), transform=t20).astype(bool)
    far = ~features.rasterize(((g, 1) for g in outline.geometry.buffer(300.0)), (h, w), transform=t20).astype(bool)
    from pyproj import Transformer

    dome_x, dome_y = Transformer.from_crs(4326, crs, always_xy=True).transform(*DOME_GLACIER)
    cols, rows = np.meshgrid(np.arange(w) + 0.5, np.arange(h) + 0.5)
    px, py = t20.c + cols * t20.a, t20.f + rows * t20.e  # a north-up grid
    dome = np.hypot(px - dome_x, py - dome_y) <= DOME_RADIUS_M
    return {"optical": optical.astype(np.float32), "elev": elev.astype(np.float32), "shadow": shadow,
            "inside": inside, "far": far, "dome": dome}


def cube_for(ckpt_bands: list[str], scene: dict[str, np.ndarray], res: float = RES_M) -> np.ndarray:
    """Return the scene as a cube in the cube's band order (SAR and thermal NaN)."""
    from glacierscale.cube.assemble import terrain_layers

    layers = {b: scene["optical"][k] for k, b in enumerate(("B02", "B03", "B04", "B08", "B11", "B12"))}
    slope_aspect = terrain_layers(np.nan_to_num(scene["elev"], nan=float(np.nanmean(scene["elev"]))), res)
    layers.update(ELEV=scene["elev"], SLOPE=slope_aspect[0], ASPECT=slope_aspect[1])
    nan = np.full(scene["elev"].shape, np.nan, np.float32)
    return np.stack([layers.get(b, nan) for b in ckpt_bands]).astype(np.float32)


def rock_test(scene: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Return the pixels where bands and DEM are valid, and those that pass the bare-rock test (Dome Glacier's too)."""
    opt = scene["optical"]
    with np.errstate(invalid="ignore", divide="ignore"):
        ndsi = (opt[1] - opt[4]) / (opt[1] + opt[4])
    valid = np.isfinite(opt).all(axis=0) & np.isfinite(scene["elev"])  # a run's cube always has the DEM
    return valid, valid & scene["far"] & ~scene["shadow"] & (ndsi < 0) & (opt[4] > 0.12)


def score(ice: np.ndarray, scene: dict[str, np.ndarray]) -> dict[str, float]:
    """Return recall inside the outline above 2,400 m and false ice on clearly bare rock."""
    valid, rocklike = rock_test(scene)
    upper = valid & scene["inside"] & (scene["elev"] > 2400)
    rock = rocklike & ~scene["dome"]
    on_dome = rocklike & scene["dome"]
    low = rock & (scene["elev"] < np.median(scene["elev"][valid]) - 400.0)
    whole = valid & scene["inside"]
    return {"recall_inside_outline_above_2400m": float(ice[upper].mean()), "recall_inside_outline": float(ice[whole].mean()),
            "false_ice_on_bare_rock": float(ice[rock].mean()),
            "false_ice_on_low_bare_rock": float(ice[low].mean()) if low.any() else 0.0,
            "rock_test_on_dome_glacier": float(ice[on_dome].mean()) if on_dome.any() else 0.0,
            "false_ice_on_bare_rock_incl_dome": float(ice[rocklike].mean()),
            "n_upper": int(upper.sum()), "n_rock": int(rock.sum()), "n_low_rock": int(low.sum()),
            "n_dome": int(on_dome.sum())}


def rock_spectra(scene: dict[str, np.ndarray], spectra: Path = REAL.parent / "aberle-glacier-spectra") -> dict[str, list[float]]:
    """Return the median of the scene's bare-rock pixels per band, the real labelled rock's (and ice's) median, and
    the percentile of that real rock class at which the scene's median falls (the spectra check's measure)."""
    from glacierscale.simulate.spectra import real_spectra

    rock = rock_test(scene)[1] & ~scene["dome"]
    here = np.median(scene["optical"][:, rock], axis=1)
    real = real_spectra(spectra)
    return {"scene_rock_median": [round(float(v), 3) for v in here],
            "real_rock_median": [round(float(v), 3) for v in np.median(real["rock"], axis=0)],
            "real_ice_median": [round(float(v), 3) for v in np.median(real["ice"], axis=0)],
            "percentile_in_real_rock": [round(float((real["rock"][:, k] < here[k]).mean() * 100), 1) for k in range(6)]}


def main() -> int:
    from glacierscale.infer.patches import predict_classes
    from glacierscale.model.checkpoint import default_checkpoint_path, load_checkpoint

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", default=str(default_checkpoint_path()))
    ap.add_argument("--real", type=Path, default=REAL)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--dem-audit", action="store_true", help="also score the scene with one DEM layer flattened")
    ap.add_argument("--rock-spectra", action="store_true",
                    help="also print where the scene's bare rock falls among the real labelled rock spectra")
    args = ap.parse_args()
    if not (args.real / "athabasca_dem.tif").is_file():
        print(f"real scene not found at {args.real}", file=sys.stderr)
        return 2
    ckpt = load_checkpoint(args.checkpoint)
    scene = load_scene(args.real)
    opt = scene["optical"]
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = (opt[2] / opt[4]) > 2.0
    rows = {"red/SWIR1 > 2": score(ratio, scene)}
    cube = cube_for(list(ckpt.bands), scene)
    optical = [k for k, b in enumerate(ckpt.bands) if b in ("B02", "B03", "B04", "B08", "B11", "B12")]
    full_glacier = None
    dem = [k for k, b in enumerate(ckpt.bands) if b in ("ELEV", "SLOPE", "ASPECT")]
    runs: list[tuple[str, float | str | None]] = [("model", 1.0), ("model, optical ×0.7", 0.7),
                                                  ("model, optical ×1.3", 1.3), ("model, no DEM", None)]
    if args.dem_audit:
        runs += [(f"model, {b} flat", b) for b in ("ELEV", "SLOPE", "ASPECT") if b in ckpt.bands]
    for name, gain in runs:
        x = cube.copy()
        if gain is None:  # the DEM part of the shortcut audit: the same scene with the DEM group missing
            x[dem] = np.nan
        elif isinstance(gain, str):  # one DEM layer at one value: the median elevation, the mean slope or aspect
            k = ckpt.bands.index(gain)
            x[k] = np.nanmedian(x[k]) if gain == "ELEV" else np.nanmean(x[k])
        else:
            x[optical] *= gain
        classes, _ = predict_classes(ckpt, x)  # windows of the training patch size
        ice = (classes == 1) | (classes == 2)
        rows[name] = score(ice, scene)
        rows[name]["debris_share_of_false_ice"] = float(np.mean(classes[ice & scene["far"]] == 2)) if ice.any() else 0.0
        if full_glacier is None:
            full_glacier = ice
        else:  # agreement with the unscaled map: IoU of the glacier masks
            rows[name]["glacier_iou_vs_unscaled"] = float((ice & full_glacier).sum() / max((ice | full_glacier).sum(), 1))
    extra = {"rock_spectra": rock_spectra(scene)} if args.rock_spectra else {}
    if args.json:
        print(json.dumps({"checkpoint": ckpt.model_hash, "rows": rows, **extra}, indent=1))
    else:
        print(f"checkpoint {ckpt.model_hash}")
        for row, v in rows.items():
            print(f"{row:24s} " + "  ".join(f"{a}={b:.3f}" if isinstance(b, float) else f"{a}={b}" for a, b in v.items()))
        for key, values in extra.get("rock_spectra", {}).items():
            print(f"{key:24s} " + " ".join(f"{v:6.3f}" for v in values) + "   (B02 B03 B04 B08 B11 B12)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
