"""Nodes, hours and list-price cost of one global glacierscale time step (docs/deploy.md prints this output).

    python deploy/sizing.py            # the markdown tables of docs/deploy.md
    python deploy/sizing.py --cpu-nodes 12 --cube-factor 3

Every input names its source. Measured inputs come from this repository's benchmarks on its 2-core CI
machine; the GPU figure is derived from FLOPs and a datasheet peak, not measured (no GPU was lent); prices are
AWS on-demand list prices (see PRICES).
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass

# --- measured (docs/pipeline.md "Model alone vs the whole run", bench inference, 2026-12-05; the larger run) -------
BENCH_TILE_PX = 384  # 384 px × 20 m tiles, overlap 0: every stage touches 384² pixels per tile-year
CPU_S_PER_BENCH_TILE_YEAR = {"select": 0.058, "cube": 0.96, "infer": 0.60, "reduce": 0.021, "stage": 0.001}
PER_PIXEL = {"cube", "infer", "reduce", "stage"}  # scale with the pixels of a tile; select (a catalog search) does not
# --- measured (docs/pipeline.md "Driver memory and per-item overhead", bench pipeline, 16,384 units) --------------
DRIVER_S_PER_ITEM = 0.024  # 22.3-24.1 ms per item including the publish step (2026-12-05); the larger figure
# --- the world plan (docs/planning.md: 120,733 tiles in 56 CRSs × 9 years = 1,086,597 work units) ------------------
TILES = 120_733
WORLD_TILE_PX, WORLD_OVERLAP_PX = 1024, 32  # the planner's default grid: 10 m, 1024 px, 32 px overlap per side
# --- the model (docs/model.md; glacierscale.model.bench.model_flops_per_pixel: torch's FLOP counter) --------------
MFLOP_PER_PATCH_PX = 0.0894
PATCH, PATCH_OVERLAP = 128, 32  # infer.patch_size, infer.overlap defaults
CUBE_BANDS, BYTES_PER_VALUE = 13, 4  # the shipped checkpoint's 13 bands, float32 cubes (cube/years.py)
# --- not measured: GPU, from its datasheet peak and an assumed achieved fraction ----------------------------------
L4_BF16_DENSE_TFLOPS = 121.0  # NVIDIA L4 datasheet: 242 TFLOPS bf16 with sparsity, 121 dense
GPU_ACHIEVED_FRACTION = 0.30  # assumption; the CPU reaches 0.38-0.43 of its measured matmul peak (docs/model.md)
G6_XLARGE_NETWORK_GBPS = 10.0  # AWS: g6.xlarge "up to 10 Gigabit"; cubes reach the GPU node over the network
# --- AWS on-demand list prices, Linux, us-east-1 = us-west-2, USD per hour (2025 price list, see docs/deploy.md) ---
PRICES = {"c7i.4xlarge": 0.714, "m7i.2xlarge": 0.4032, "g6.xlarge": 0.8048}
CPU_NODE_VCPUS = 16  # c7i.4xlarge
STARTUP_H = 0.25  # assumption: node boot + image pull + first-item latency, not measured


@dataclass(frozen=True)
class Sizing:
    """Per-tile-year costs and the wall time, nodes and cost of one time step."""

    cpu_s: dict[str, float]
    gpu_ms: float
    transfer_ms: float
    cpu_hours: float
    cpu_bound_h: float
    driver_h: float
    gpu_bound_h: float
    wall_h: float
    cost: dict[str, float]


def _network_px(tile_px: int) -> int:
    """Return the pixels the network computes for one tile: overlapping patches cover it (infer/patches.py)."""
    patches = math.ceil((tile_px - PATCH) / (PATCH - PATCH_OVERLAP)) + 1
    return (patches * PATCH) ** 2


def size(cpu_nodes: int = 24, gpu_nodes: int = 2, cube_factor: float = 1.0) -> Sizing:
    """Return the sizing of one global time step (TILES tile-years) on ``cpu_nodes`` c7i.4xlarge and ``gpu_nodes`` g6.xlarge."""
    read_px = WORLD_TILE_PX + 2 * WORLD_OVERLAP_PX
    px_factor = read_px**2 / BENCH_TILE_PX**2
    cpu_s = {k: v * (px_factor if k in PER_PIXEL else 1.0) for k, v in CPU_S_PER_BENCH_TILE_YEAR.items()}
    cpu_s["cube"] *= cube_factor
    net_px = _network_px(read_px)
    cpu_s["infer"] = CPU_S_PER_BENCH_TILE_YEAR["infer"] * net_px / _network_px(BENCH_TILE_PX)  # overlapping patches
    gflop = MFLOP_PER_PATCH_PX * net_px / 1e3
    gpu_ms = gflop / (L4_BF16_DENSE_TFLOPS * GPU_ACHIEVED_FRACTION)  # GFLOP / TFLOPS = ms
    transfer_ms = CUBE_BANDS * read_px**2 * BYTES_PER_VALUE * 8 / (G6_XLARGE_NETWORK_GBPS * 1e9) * 1e3
    on_cpus = sum(v for k, v in cpu_s.items() if k != "infer")  # inference runs on the GPU nodes
    cpu_hours = TILES * on_cpus / 3600
    cpu_bound_h = cpu_hours / (cpu_nodes * CPU_NODE_VCPUS)
    driver_h = TILES * DRIVER_S_PER_ITEM / 3600
    gpu_bound_h = TILES * max(gpu_ms, transfer_ms) / 1e3 / 3600 / gpu_nodes
    wall_h = max(cpu_bound_h, driver_h, gpu_bound_h) + STARTUP_H
    cost = {"CPU workers": cpu_nodes * PRICES["c7i.4xlarge"] * wall_h,
            "GPU workers": gpu_nodes * PRICES["g6.xlarge"] * wall_h,
            "head": PRICES["m7i.2xlarge"] * wall_h}
    return Sizing(cpu_s, gpu_ms, transfer_ms, cpu_hours, cpu_bound_h, driver_h, gpu_bound_h, wall_h, cost)


def markdown(cpu_nodes: int = 24, gpu_nodes: int = 2, cube_factor: float = 1.0) -> str:
    """Return the tables of docs/deploy.md for this configuration."""
    s = size(cpu_nodes, gpu_nodes, cube_factor)
    lines = ["| stage | CPU-s per tile-year (measured, 384² px) | CPU-s per world tile-year (1088² px) |",
             "|---|---:|---:|"]
    for k, v in CPU_S_PER_BENCH_TILE_YEAR.items():
        lines.append(f"| {k} | {v:.3f} | {s.cpu_s[k]:.3f} |")
    lines += ["", "| figure | value |", "|---|---:|",
              f"| vCPU-hours on CPU workers (select + cube + reduce + stage) | {s.cpu_hours:,.0f} |",
              f"| vCPU-hours if inference ran on CPU workers instead (fp32, measured basis) | "
              f"{TILES * s.cpu_s['infer'] / 3600:,.0f} |",
              f"| GPU compute per tile-year (FLOP-based, not measured) | {s.gpu_ms:.1f} ms |",
              f"| cube transfer to a GPU node per tile-year (network) | {s.transfer_ms:.0f} ms |",
              f"| CPU-bound hours on {cpu_nodes} × c7i.4xlarge | {s.cpu_bound_h:.2f} h |",
              f"| driver-bound hours ({DRIVER_S_PER_ITEM * 1e3:.0f} ms per item) | {s.driver_h:.2f} h |",
              f"| GPU-node-bound hours on {gpu_nodes} × g6.xlarge | {s.gpu_bound_h:.2f} h |",
              f"| wall time (the largest bound + {STARTUP_H:.2f} h start-up) | {s.wall_h:.2f} h |"]
    lines += ["", "| item | nodes | USD/h (list) | USD |", "|---|---:|---:|---:|",
              f"| CPU workers c7i.4xlarge | {cpu_nodes} | {PRICES['c7i.4xlarge']:.4f} | {s.cost['CPU workers']:.2f} |",
              f"| GPU workers g6.xlarge | {gpu_nodes} | {PRICES['g6.xlarge']:.4f} | {s.cost['GPU workers']:.2f} |",
              f"| head m7i.2xlarge | 1 | {PRICES['m7i.2xlarge']:.4f} | {s.cost['head']:.2f} |",
              f"| **one global time step** | | | **{sum(s.cost.values()):.2f}** |"]
    return "\n".join(lines)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cpu-nodes", type=int, default=24)
    ap.add_argument("--gpu-nodes", type=int, default=2)
    ap.add_argument("--cube-factor", type=float, default=1.0, help="multiply the measured cube cost (e.g. remote reads)")
    a = ap.parse_args()
    print(markdown(a.cpu_nodes, a.gpu_nodes, a.cube_factor))
