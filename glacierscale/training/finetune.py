"""Fine-tuning (``init:`` in a training config, ``train --init``): load the starting checkpoint and check that the
data and the network of the config fit it. Every refusal is a ConfigError naming ``init`` and what differs."""

from __future__ import annotations

from typing import Any

from glacierscale.classes import CLASSES
from glacierscale.errors import ConfigError
from glacierscale.model.checkpoint import Checkpoint, load_checkpoint
from glacierscale.training.data import Sample, align_bands


def starting_point(init: str, relative_elevation: bool) -> Checkpoint:
    """Load ``init``, the checkpoint to fine-tune; refuse one whose classes or elevation mode differ."""
    ckpt = load_checkpoint(init)
    problems = []
    if ckpt.classes != list(CLASSES):
        problems.append(f"its classes {ckpt.classes} are not {list(CLASSES)}")
    if ckpt.relative_elevation != relative_elevation:
        problems.append(f"it reads {'relative' if ckpt.relative_elevation else 'absolute'} elevation and this "
                        f"config sets relative_elevation: {str(relative_elevation).lower()}")
    _refuse(init, problems)
    return ckpt


def onto_bands_of(init: str, start: Checkpoint, samples: list[Sample]) -> list[Sample]:
    """Return the samples on the starting checkpoint's bands; refuse data with a band it does not read or
    without one it cannot do without (optical, or a group it was not trained to miss)."""
    from dataclasses import replace

    from glacierscale.catalog.provider import load_provider
    from glacierscale.cube.assemble import cube_bands

    default = tuple(cube_bands(load_provider("local")))
    samples = [s if s.bands else replace(s, bands=default) for s in samples]
    extra = sorted({b for s in samples for b in s.bands} - set(start.bands))
    lacking = sorted({b for s in samples for b in start.absent_bands(list(s.bands))})
    _refuse(init, ([f"the training data has bands {extra} that it does not read"] if extra else [])
            + ([f"the training data lacks {lacking}, which it cannot do without"] if lacking else []))
    return align_bands(samples, to=start.bands)


def check_fits(init: str, start: Checkpoint, spec: Any, stem_width: int) -> None:
    """Refuse a starting checkpoint whose network differs from the one the config trains (the data is already on
    its bands: ``onto_bands_of``)."""
    if start.model.spec.to_dict() != spec.to_dict():
        _refuse(init, [f"its model ({start.model.spec.to_dict()}) is not this config's (stem_width "
                       f"{stem_width}: {spec.to_dict()})"])


def _refuse(init: str, problems: list[str]) -> None:
    if problems:
        raise ConfigError(f"init: {init}: " + "; ".join(problems))
