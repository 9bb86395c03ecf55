"""``glacierscale evaluate``: IoU per class, calibration and sensor ablations on a simulated scene set."""

from __future__ import annotations

import argparse
import json

HELP = "IoU per class, calibration (ECE) and sensor-group ablations of a checkpoint on simulated scenes"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help=HELP, description=HELP + ". SCENES is a folder written by "
                       "`glacierscale simulate` (or a folder of several).")
    p.add_argument("--checkpoint", default="default", help="checkpoint directory (default: the shipped one)")
    p.add_argument("--scenes", required=True, help="scene set folder")
    p.add_argument("--ablation", action="store_true",
                   help="also evaluate with sensor groups withheld (optical only, −SAR, −thermal, −DEM, ...; "
                   "no-optical: SAR + DEM + thermal on every pixel, as under clouds) and with the optical bands "
                   "scaled ×0.7 / ×1.3")
    p.add_argument("--versus", action="append", default=[], metavar="CHECKPOINT",
                   help="also evaluate a separately trained checkpoint on the same pixels, e.g. an optical-only "
                   "model (training config `groups: [optical]`); repeatable")
    p.add_argument("--flips", action="store_true", help="map with test-time augmentation, as `run --flips` "
                   "(each window averaged with its three flips; 4x the network's work)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from rich.console import Console
    from rich.table import Table

    from glacierscale.infer.options import InferOptions
    from glacierscale.training.evaluate import evaluate

    result = evaluate(args.checkpoint, Path(args.scenes), ablation=args.ablation, versus=tuple(args.versus),
                      options=InferOptions(precision="fp32", flips=args.flips))
    if args.json:
        print(json.dumps(result, indent=1))
        return 0
    table = Table(title=f"{result['checkpoint']} (model {result['model_hash']}) on {result['pixels']:,} pixels")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for k, v in result["iou"].items():
        table.add_row(f"IoU {k}", f"{v:.3f}" if v == v else "n/a (neither in the truth nor in the map)")
    if len(result["by_region"]) > 1:
        for region, iou in result["by_region"].items():
            debris = (f"{iou['debris']:.3f}" if result["truth_pixels"][region]["debris"]
                      else "n/a (no debris in the truth)")
            table.add_row(f"{region}", f"glacier {iou['glacier']:.3f} · debris {debris}")
    table.add_row("ECE before calibration", f"{result['ece']['before']:.4f}")
    table.add_row(f"ECE after (T = {result['temperature']:.2f})", f"{result['ece']['after']:.4f}")
    for k, v in result.get("ablation", {}).items():
        table.add_row(f"ablation {k}", f"glacier {v['glacier']:.3f} · debris {v['debris']:.3f}")
    if "under_clouds" in result:
        u = result["under_clouds"]
        table.add_row("no-optical (as under clouds): ECE", f"{u['ece']:.4f}")
        table.add_row("mean confidence: no-optical / all sensors", f"{u['confidence']:.3f} / "
                      f"{u['confidence_all_sensors']:.3f}")
    for k, v in result.get("versus", {}).items():
        table.add_row(f"{k} model ({v['model_hash']})", f"glacier {v['glacier']:.3f} · debris {v['debris']:.3f}")
    Console().print(table)
    return 0
