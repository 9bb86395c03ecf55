"""Inference options on this CPU: eager fp32 vs channels-last, torch.compile, bf16 autocast, flips — measured.

    .venv/bin/python benchmarks/infer_options.py [--checkpoint default] [--batch 8] [--patch 128]
        [--rounds 5] [--threads 2] [--json]

Times the model's forward pass alone (torch.inference_mode) on batches of normalised patches shaped as
inference feeds them (a third of the patches with the SAR group missing, as NaN), for each option in turn,
round-robin over ``--rounds`` rounds so that load drift on a shared machine hits all options alike; reports
the median px/s, the ratio to eager fp32 and the largest absolute difference of the logits from eager
fp32. torch.compile's one-off compile time is reported separately (the first call, not timed in px/s).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any

import numpy as np


def options(model: Any) -> dict[str, Any]:
    """Return {name: (callable on a batch, compile seconds)} for the options available on this machine."""
    import copy

    import torch

    out: dict[str, Any] = {"eager fp32": model}
    cl = copy.deepcopy(model).to(memory_format=torch.channels_last)
    out["channels-last"] = lambda x: cl(x.contiguous(memory_format=torch.channels_last))

    def bf16(x: torch.Tensor) -> torch.Tensor:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return model(x).float()

    out["bf16 autocast"] = bf16
    out["torch.compile"] = torch.compile(copy.deepcopy(model))
    comp_cl = torch.compile(copy.deepcopy(model).to(memory_format=torch.channels_last))
    out["torch.compile + channels-last"] = lambda x: comp_cl(x.contiguous(memory_format=torch.channels_last))
    from glacierscale.infer.options import InferOptions, forward_fn

    out["flips (test-time augmentation)"] = forward_fn(model, "cpu", InferOptions(precision="fp32", flips=True))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", default="default")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--patch", type=int, default=128)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--iters", type=int, default=4, help="forward passes per option per round")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    import torch

    from glacierscale.model.bands import GROUPS
    from glacierscale.model.checkpoint import load_checkpoint

    torch.set_num_threads(args.threads)
    ckpt = load_checkpoint(args.checkpoint)
    model = ckpt.model.eval()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((args.batch, len(ckpt.bands), args.patch, args.patch)).astype(np.float32)
    sar = [i for i, b in enumerate(ckpt.bands) if b in GROUPS["sar"]]
    x[: max(1, args.batch // 3), sar] = np.nan  # some patches without SAR, as in a cube with no S1 scene
    xt = torch.from_numpy(x)
    runs = options(model)
    compile_s: dict[str, float] = {}
    with torch.inference_mode():
        ref = model(xt).float()
        diff = {}
        for name, fn in runs.items():
            t0 = time.perf_counter()
            y = fn(xt)  # first call: compiles where it applies
            compile_s[name] = time.perf_counter() - t0
            diff[name] = float((y.float() - ref).abs().max())
        times: dict[str, list[float]] = {k: [] for k in runs}
        for _ in range(args.rounds):
            for name, fn in runs.items():
                t0 = time.perf_counter()
                for _ in range(args.iters):
                    fn(xt)
                times[name].append((time.perf_counter() - t0) / args.iters)
    px = args.batch * args.patch**2
    base = statistics.median(times["eager fp32"])
    rows = {k: {"px_per_s": round(px / statistics.median(v)), "speedup_vs_eager": round(base / statistics.median(v), 3),
                "max_abs_logit_diff": diff[k], "first_call_s": round(compile_s[k], 2)} for k, v in times.items()}
    result = {"checkpoint": str(ckpt.path), "model_hash": ckpt.model_hash, "threads": args.threads,
              "batch": args.batch, "patch": args.patch, "rounds": args.rounds, "torch": torch.__version__,
              "options": rows}
    if args.json:
        print(json.dumps(result, indent=1))
        return
    print(f"checkpoint {ckpt.model_hash}, batch {args.batch} × {args.patch}², {args.threads} threads, torch {torch.__version__}")
    print(f"{'option':32} {'px/s':>10} {'× eager':>8} {'max |Δlogit|':>13} {'first call s':>13}")
    for k, r in rows.items():
        print(f"{k:32} {r['px_per_s']:>10} {r['speedup_vs_eager']:>8.3f} {r['max_abs_logit_diff']:>13.2e} "
              f"{r['first_call_s']:>13.2f}")


if __name__ == "__main__":
    main()
