"""``glacierscale train``: train a checkpoint on simulated regions."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

HELP = ("train the ViT-U-Net on simulated regions and/or a catalog + inventory (labels from inventory outlines); "
        "writes a checkpoint")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help=HELP, description=HELP + ". See configs/train-default.yaml, which made "
                       "the shipped checkpoint.")
    p.add_argument("config", nargs="?", help="training config YAML (optional with --catalog, --inventory, --years, "
                   "--out)")
    p.add_argument("--catalog", help="train on this catalog too, as `run --catalog` reads it: catalog folder (e.g. a "
                   "`simulate` output), STAC API URL or provider name (earth-search, planetary-computer)")
    p.add_argument("--inventory", help="glacier outlines labelling the catalog's scenes (GeoPackage, shapefile, "
                   "GeoParquet, RGI zip or folder)")
    p.add_argument("--years", help="years of the catalog's scenes, e.g. 2019:2021 or 2019,2021")
    p.add_argument("--tolerance-years", type=float, help="outlines dated within this of a scene year label every "
                   "pixel; older ones have their edges masked (default 2)")
    p.add_argument("--workdir", help="cube cache folder (default: the config's workdir, else ./train-work)")
    p.add_argument("--steps", type=int, help="override the number of optimisation steps")
    p.add_argument("--out", help="override the checkpoint directory")
    p.add_argument("--init", metavar="CHECKPOINT", help="start from this checkpoint's weights (fine-tuning), e.g. "
                   "glacierscale/checkpoints/default on your own --catalog and --inventory; without a config its "
                   "model width and elevation mode are taken too")
    p.add_argument("--workers", type=int, help="Ray Train workers (override the config's workers; 1 = this process)")
    p.add_argument("--groups", help="comma list of the sensor groups the model reads (override the config's "
                   "groups), e.g. `optical` for the optical-only model `evaluate --versus` compares with")
    p.add_argument("--calibrate-only", action="store_true",
                   help="only fit the calibration temperature of the existing checkpoint on the validation regions")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from glacierscale.training.train import train

    cfg = _config(args)
    if args.calibrate_only:
        from glacierscale.training.evaluate import calibrate
        from glacierscale.training.sources import CatalogSource
        from glacierscale.training.train import RegionEntry, load_samples

        out = args.out or cfg.out
        every: list[RegionEntry | CatalogSource] = [*cfg.regions, *cfg.catalogs]
        held_out = [r for r in every if r.name in cfg.validation]
        result = calibrate(out, [], samples=load_samples(cfg, held_out))
        print(json.dumps(result, indent=1))
        print(f"calibration written to {out}/config.json")
        return 0
    updates: dict[str, object] = {k: v for k, v in (("steps", args.steps), ("out", args.out),
                                                      ("workers", args.workers)) if v is not None}
    if args.out is not None:
        updates["out"] = str(Path(args.out).resolve())
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


def _config(args: argparse.Namespace) -> Any:
    """Return the training config: the YAML's, plus a catalog source from the flags (or that source alone)."""
    from glacierscale.config import build_model
    from glacierscale.errors import ConfigError
    from glacierscale.training.sources import CatalogSource
    from glacierscale.training.train import TrainConfig, load_train_config, resolve_source

    flags = {"--catalog": args.catalog, "--inventory": args.inventory, "--years": args.years}
    given = [k for k, v in flags.items() if v is not None]
    if given and len(given) < len(flags):
        missing = [k for k in flags if k not in given]
        raise ConfigError(f"{', '.join(given)} needs {' and '.join(missing)} as well (a catalog source is a catalog, "
                          "an inventory and years)")
    if not args.config and not given:
        raise ConfigError("give a training config, or --catalog, --inventory, --years and --out")
    if not args.config and not args.out:
        raise ConfigError("--out is needed without a training config: the checkpoint directory to write")
    cfg = load_train_config(args.config) if args.config else None
    if given:
        entry = {"catalog": args.catalog, "inventory": args.inventory, "years": args.years,
                 **({"tolerance_years": args.tolerance_years} if args.tolerance_years is not None else {})}
        index = len(cfg.catalogs) if cfg else 0
        source = resolve_source(build_model(CatalogSource, entry, "command-line flags"), Path.cwd(), index)
        if cfg is None:
            cfg = build_model(TrainConfig, {"out": str(Path(args.out).resolve()), "catalogs": [source.model_dump()]},
                              "command-line flags")
            cfg = cfg.model_copy(update={"workdir": str(Path("train-work").resolve())})
        else:
            cfg = cfg.model_copy(update={"catalogs": [*cfg.catalogs, source]})
    assert cfg is not None  # a config or the flags (checked above)
    if args.workdir:
        cfg = cfg.model_copy(update={"workdir": str(Path(args.workdir).resolve())})
    if args.init:
        init: dict[str, object] = {"init": str(Path(args.init).resolve())}
        if not args.config:  # the flags alone: train the network the checkpoint is
            from glacierscale.model.checkpoint import load_checkpoint

            start = load_checkpoint(args.init)
            init |= {"relative_elevation": start.relative_elevation, "stem_width": start.model.spec.stem_width}
        cfg = cfg.model_copy(update=init)
    return cfg
