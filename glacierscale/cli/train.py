"""``glacierscale train``: train a checkpoint on simulated regions."""

from __future__ import annotations

import argparse
import json

HELP = "train the ViT-U-Net on simulated regions (labels from inventory outlines); writes a checkpoint"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help=HELP, description=HELP + ". See configs/train-default.yaml, which made "
                       "the shipped checkpoint.")
    p.add_argument("config", help="training config YAML")
    p.add_argument("--steps", type=int, help="override the number of optimisation steps")
    p.add_argument("--out", help="override the checkpoint directory")
    p.add_argument("--workers", type=int, help="Ray Train workers (override the config's workers; 1 = this process)")
    p.add_argument("--groups", help="comma list of the sensor groups the model reads (override the config's "
                   "groups), e.g. `optical` for the optical-only model `evaluate --versus` compares with")
    p.add_argument("--calibrate-only", action="store_true",
                   help="only fit the calibration temperature of the existing checkpoint on the validation regions")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from glacierscale.training.train import load_train_config, train

    cfg = load_train_config(args.config)
    if args.calibrate_only:
        from glacierscale.training.evaluate import calibrate
        from glacierscale.training.train import load_samples

        out = args.out or cfg.out
        held_out = [r for r in cfg.regions if r.name in cfg.validation]
        result = calibrate(out, [], samples=load_samples(cfg, held_out))
        print(json.dumps(result, indent=1))
        print(f"calibration written to {out}/config.json")
        return 0
    updates: dict[str, object] = {k: v for k, v in (("steps", args.steps), ("out", args.out),
                                                      ("workers", args.workers)) if v is not None}
    if args.groups is not None:
        from glacierscale.errors import ConfigError
        from glacierscale.training.train import group_problem

        groups = [g.strip() for g in args.groups.split(",") if g.strip()]
        problem = group_problem(groups)
        if problem:
            raise ConfigError(f"--{problem}")
        updates["groups"] = groups
    summary = train(cfg.model_copy(update=updates))
    print(json.dumps(summary, indent=1))
    print(f"checkpoint written to {updates.get('out', cfg.out)}")
    return 0
