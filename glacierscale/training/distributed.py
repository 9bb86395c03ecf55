"""Data-parallel training with Ray Train's TorchTrainer: the same steps on N workers (CPU here, GPUs on a cluster).

Each worker builds the same network (same seed), wraps it with ``ray.train.torch.prepare_model`` (DDP:
gradients averaged every step), draws patches from its own shard of the training region-years with its
own random stream, and runs :func:`glacierscale.training.steps.fit_steps` — the step code of the
single-process loop. The global batch is split across workers, so a config means the same optimisation
whatever the worker count. Rank 0 returns the weights as a Ray Train checkpoint.
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from glacierscale.training.data import Sample
from glacierscale.training.steps import StepSettings

log = logging.getLogger(__name__)
WEIGHTS = "weights.safetensors"


def shard(samples: list[Sample], rank: int, world: int) -> list[Sample]:
    """Return this rank's region-years (every ``world``-th; all of them when there are fewer than workers)."""
    return samples[rank::world] if len(samples) >= world else samples


def _worker_loop(config: dict[str, Any]) -> None:
    import ray
    import ray.train
    import torch
    from ray.train.torch import prepare_model
    from safetensors.torch import save_file

    from glacierscale.model.vitunet import ModelSpec, ViTUNet
    from glacierscale.training.steps import PatchBatches, fit_steps

    ctx = ray.train.get_context()
    rank, world = ctx.get_world_rank(), ctx.get_world_size()
    torch.set_num_threads(config["threads"])
    settings = StepSettings(**config["settings"])
    torch.manual_seed(settings.seed)  # the same initial weights on every worker (DDP also broadcasts rank 0's)
    net = ViTUNet(ModelSpec.from_dict(config["spec"]))
    if config.get("init_state") is not None:  # fine-tuning: every worker starts from the given weights
        net.load_state_dict(ray.get(config["init_state"]))
    model = prepare_model(net)
    samples = shard(ray.get(config["samples"]), rank, world)
    batches = PatchBatches(samples, config["bands"], np.asarray(config["mean"]), np.asarray(config["std"]), settings,
                           np.random.default_rng([settings.seed, rank]))
    every = max(1, settings.steps // 20)

    def on_step(step: int, loss: float) -> None:
        if rank == 0 and (step + 1) % every == 0:
            log.info("step %d/%d loss %.4f", step + 1, settings.steps, loss)

    losses = fit_steps(model, batches, settings, on_step)
    if rank != 0:
        ray.train.report({"losses": losses}, checkpoint=None)
        return
    module = getattr(model, "module", model)
    with tempfile.TemporaryDirectory() as tmp:
        save_file({k: v.detach().contiguous().cpu() for k, v in module.state_dict().items()}, os.path.join(tmp, WEIGHTS))
        ray.train.report({"losses": losses}, checkpoint=ray.train.Checkpoint.from_directory(tmp))


def fit_distributed(spec: Any, samples: list[Sample], bands: list[str], mean: np.ndarray, std: np.ndarray,
                    settings: StepSettings, *, workers: int, threads: int, storage: Path, use_gpu: bool = False,
                    init_state: dict[str, Any] | None = None) -> tuple[dict[str, Any], list[float]]:
    """Train on ``workers`` Ray Train workers; return (state dict of the trained network, loss per step).

    ``settings.batch_size`` is the global batch; each worker draws ``batch_size / workers`` patches a step.
    ``init_state`` (a state dict) is where every worker starts (fine-tuning); None: fresh weights.
    Ray must be initialised (a local Ray or a cluster).
    """
    import ray
    from ray.train import RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer
    from safetensors.torch import load_file

    per_worker = StepSettings(**{**asdict(settings), "batch_size": max(1, settings.batch_size // workers)})
    config = {"spec": spec.to_dict(), "samples": ray.put(samples), "bands": list(bands), "mean": mean.tolist(),
              "std": std.tolist(), "settings": asdict(per_worker), "threads": threads,
              "init_state": ray.put(init_state) if init_state is not None else None}
    cpus = float(ray.cluster_resources().get("CPU", workers))
    trainer = TorchTrainer(
        _worker_loop, train_loop_config=config,
        # on a small node the workers share its CPUs (a 2-CPU laptop runs 2 workers of 1 CPU)
        scaling_config=ScalingConfig(num_workers=workers, use_gpu=use_gpu,
                                     resources_per_worker={"CPU": min(1.0, cpus / workers)}),
        run_config=RunConfig(storage_path=str(Path(storage).resolve()), name="glacierscale-train"),
    )
    result = trainer.fit()
    if result.checkpoint is None:
        raise RuntimeError(f"Ray Train returned no checkpoint: {result.error}")
    with result.checkpoint.as_directory() as folder:
        state = load_file(os.path.join(folder, WEIGHTS))
    return state, [float(v) for v in (result.metrics or {})["losses"]]
