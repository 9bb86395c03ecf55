"""Glacier recall by surface slope on the held-out test regions: where a checkpoint misses steep ice.

    .venv/bin/python benchmarks/steep_recall.py [--checkpoint default] [--workdir train-work/heldout]
        [--regions chhota-shigri,grindelwald,...] [--json]

Reads the scenes `benchmarks/model_heldout.py` simulated into the workdir (it simulates the missing ones
the same way), maps each season cube with the checkpoint (`predict_probabilities`, the evaluation grid:
20 m, 384 px) and counts, per slope class of the cube's SLOPE band (< 25°, 25–35°, ≥ 35°), the share of the
true glacier (clean + debris-covered) in that class, the recall there and the false glacier pixels there,
over the three years and the pixels the model can map.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from glacierscale.model.checkpoint import Checkpoint

sys.path.insert(0, str(Path(__file__).resolve().parent))

CLASSES = (("<25", 0.0, 25.0), ("25-35", 25.0, 35.0), (">=35", 35.0, 90.1))


def steep_recall(ck: Checkpoint, folder: Path) -> dict[str, dict[str, float]]:
    """Return {slope class: {share, recall, false_px}} for one simulated region folder."""
    from glacierscale.catalog.provider import load_provider
    from glacierscale.classes import is_glacier
    from glacierscale.cube.assemble import cube_bands
    from glacierscale.infer.patches import classify, predict_probabilities, select_bands, valid_pixels
    from glacierscale.training.data import scene_samples

    names = cube_bands(load_provider("local"))
    slope_band = names.index("SLOPE")
    years = json.loads((folder / "simulation.json").read_text())["years"]
    counts = {name: [0, 0, 0] for name, _, _ in CLASSES}
    for s in scene_samples(folder, years, 20.0, 384):
        data = select_bands(ck, s.data, names)
        valid = valid_pixels(ck, data)
        glacier = is_glacier(classify(predict_probabilities(ck, data), valid)) & valid
        truth = is_glacier(s.labels) & valid
        slope = s.data[slope_band]
        for name, lo, hi in CLASSES:
            inside = (slope >= lo) & (slope < hi)
            c = counts[name]
            c[0] += int((truth & inside).sum())
            c[1] += int((truth & glacier & inside).sum())
            c[2] += int((glacier & ~truth & inside).sum())
    total = max(sum(c[0] for c in counts.values()), 1)
    return {name: {"share": c[0] / total, "recall": c[1] / max(c[0], 1), "false_px": float(c[2])}
            for name, c in counts.items()}


def main() -> None:
    from model_heldout import REGIONS, simulate

    from glacierscale.model.checkpoint import load_checkpoint, resolve_checkpoint

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", default="default", help="checkpoint directory, or `default` (the shipped one)")
    ap.add_argument("--workdir", type=Path, default=Path("train-work/heldout"))
    ap.add_argument("--regions", default="chhota-shigri,grindelwald,baltoro-t,coxe",
                    help=f"comma list of {', '.join(REGIONS)}")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args()
    ck = load_checkpoint(resolve_checkpoint(args.checkpoint))
    out: dict[str, dict[str, dict[str, float]]] = {}
    for region in args.regions.split(","):
        if region not in REGIONS:
            sys.exit(f"error: --regions: unknown region {region!r}; known: {', '.join(REGIONS)}")
        folder = args.workdir / region
        simulate(region, folder)
        out[region] = steep_recall(ck, folder)
        if not args.json:
            print(region, "  ".join(f"{k}: share {v['share']:.3f} recall {v['recall']:.3f} false {int(v['false_px'])}"
                                    for k, v in out[region].items()), flush=True)
    if args.json:
        print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
