"""``glacierscale bench inference``: model-only vs end-to-end throughput in one run."""

from __future__ import annotations

import argparse
import json

HELP = ("model-only vs end-to-end throughput on the same actors (model_px_per_s, pipeline_px_per_s, efficiency) "
        "and cold-run CPU-seconds per tile-year per stage")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="benchmarks", description="Benchmarks.")
    bsub = p.add_subparsers(dest="bench_command", required=True, metavar="BENCHMARK")
    i = bsub.add_parser("inference", help=HELP, description=HELP + "; also the model's FLOPs per pixel against "
                        "this machine's measured fp32 matmul FLOP/s.")
    i.add_argument("--workdir", default="bench-work", help="folder to simulate the bench region into or reuse")
    i.add_argument("--threads", type=int, default=1, help="torch threads for the matmul peak (per actor)")
    i.add_argument("--quick", action="store_true", help="a small region (4 tiles of 192 px × 2 years) for a smoke test")
    i.add_argument("--tiles", type=int, default=2, metavar="N", help="a region N × N tiles of 384 px wide, 4 years "
                   "(default 2: 16 unit-years; 4: 36, the tiles that hold glaciers), so start-up, fill and drain "
                   "weigh less")
    i.add_argument("--json", action="store_true", help="print one JSON object")
    i.set_defaults(func=run)
    from glacierscale.cli import bench_archive, bench_pipeline

    bench_pipeline.register(bsub)
    bench_archive.register(bsub)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from glacierscale.archive.repo import quiet_local_storage_warning
    from glacierscale.errors import InputError
    from glacierscale.pipeline.bench_inference import bench_inference

    if not 1 <= args.tiles <= 8:
        raise InputError(f"--tiles {args.tiles}: must be between 1 and 8 (tiles per side of the bench region)")
    with quiet_local_storage_warning():  # icechunk prints it on stdout, where the JSON goes; the bench holds the lock
        r = bench_inference(Path(args.workdir), threads=args.threads, quick=args.quick, tiles=args.tiles)
    if args.json:
        print(json.dumps(r, indent=1))
        return 0
    print(f"model alone    {r['model_px_per_s']:>12,.0f} px/s  ({r['model_seconds']:.1f} s for {r['pixels']:,} px, "
          f"{r['actors']} actors × {r['threads_per_actor']} thread)")
    print(f"whole pipeline {r['pipeline_px_per_s']:>12,.0f} px/s  ({r['pipeline_seconds']:.1f} s from first item "
          f"submitted to last staged, {r['unit_years']} unit-years, cubes stored)")
    print(f"efficiency     {r['efficiency']:.1%} of model-only throughput: a forward takes "
          f"{r['warm_forward_seconds']:.2f} s in the run vs {r['model_forward_seconds']:.2f} s alone; actors busy "
          f"{r['actor_busy_share']:.0%} of the run")
    print("cold run CPU-seconds per tile-year: " + ", ".join(f"{k} {v:.2f}"
                                                             for k, v in r["cold_cpu_seconds_per_tile_year"].items()))
    print(f"model          {r['model_mflop_per_px']:.3f} MFLOP/px; {r['achieved_gflop_per_s']:.1f} GFLOP/s achieved = "
          f"{r['fraction_of_peak']:.0%} of the measured fp32 matmul peak {r['matmul_peak_gflop_per_s']:.1f} GFLOP/s")
    return 0
