"""Model stage: the ViT-U-Net, its checkpoint format and band groups (training lives in glacierscale.training)."""

from glacierscale.model.checkpoint import CLASSES, NODATA_CLASS, Checkpoint, load_checkpoint, save_checkpoint
from glacierscale.model.vitunet import ModelSpec, ViTUNet

__all__ = ["CLASSES", "NODATA_CLASS", "Checkpoint", "ModelSpec", "ViTUNet", "load_checkpoint", "save_checkpoint"]
