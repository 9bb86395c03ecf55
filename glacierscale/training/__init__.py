"""Training and evaluation: simulated or real data → cubes + labels, the step loop, Ray Train, calibration.

This package may import the pipeline's stages (catalog, cube, infer); :mod:`glacierscale.model` (the network,
the checkpoint format, band groups) never imports it.
"""

from glacierscale.training.randomise import Randomisation, randomise_optical
from glacierscale.training.train import TrainConfig, load_train_config, train

__all__ = ["Randomisation", "TrainConfig", "load_train_config", "randomise_optical", "train"]
