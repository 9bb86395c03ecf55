"""How the network runs a batch: precision (bf16 autocast), channels-last memory format, torch.compile.

Chosen in the run config's ``infer`` section (``precision``, ``channels_last``, ``compile``); the defaults
follow what was measured (``benchmarks/infer_options.py``, numbers in docs/model.md): bf16 autocast on a
GPU and fp32 on a CPU (bf16 is 1.49x faster on this CPU but its speed depends on the CPU's bf16 support:
set ``precision: bf16`` where it pays), torch.compile when an actor maps enough tiles to win back its
compile time (1.46x here), contiguous memory (channels-last gained 1.11x: set it where it pays).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from glacierscale.errors import ConfigError

PRECISIONS = ("auto", "fp32", "bf16")
# torch.compile took 17-33 s and then ran the network 1.46x faster on this 2-core CPU (0.5 s saved per
# 1024-px tile): it pays from ~65 tiles an actor; compiling from 200 keeps a wide margin
COMPILE_MIN_TILES = 200


def compile_pays(tiles_per_actor: int) -> bool:
    """Return whether torch.compile's one-off cost is won back by an actor mapping ``tiles_per_actor`` tiles."""
    return tiles_per_actor >= COMPILE_MIN_TILES


@dataclass(frozen=True)
class InferOptions:
    """``precision``: auto (bf16 on CUDA, fp32 elsewhere), fp32 or bf16 (autocast); ``channels_last`` and
    ``compile`` (torch.compile, compiled once per process on the first batch); ``flips``: test-time augmentation,
    the logits averaged over the window as it is and flipped left-right, up-down and both (4 forwards)."""

    precision: str = "auto"
    channels_last: bool = False
    compile: bool = False
    flips: bool = False

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise ConfigError(f"infer.precision: {self.precision!r} is not one of {', '.join(PRECISIONS)}")

    def dtype_on(self, device: str) -> str:
        """Return the precision used on ``device`` ("fp32" or "bf16")."""
        if self.precision == "auto":
            return "bf16" if device.startswith("cuda") else "fp32"
        return self.precision


def forward_fn(model: Any, device: str, options: InferOptions | None = None) -> Callable[[Any], Any]:
    """Return a function mapping a (B, C, H, W) float32 tensor on ``device`` to float32 logits.

    The model is moved to ``device`` (and to channels-last memory when asked) in place.
    """
    import torch

    opts = options or InferOptions()
    model = model.to(device).eval()
    if opts.channels_last:
        model = model.to(memory_format=torch.channels_last)
    net = torch.compile(model) if opts.compile else model
    bf16 = opts.dtype_on(device) == "bf16"
    device_type = device.split(":")[0]

    def once(x: torch.Tensor) -> torch.Tensor:
        if opts.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        if bf16:
            with torch.autocast(device_type=device_type, dtype=torch.bfloat16):
                return net(x).float()
        return net(x).float()

    def flipped(x: torch.Tensor) -> torch.Tensor:  # each view mapped back before the views are averaged
        views = [(), (-1,), (-2,), (-2, -1)]
        return sum((once(x.flip(d)).flip(d) if d else once(x) for d in views), torch.zeros(())) / len(views)

    return flipped if opts.flips else once
