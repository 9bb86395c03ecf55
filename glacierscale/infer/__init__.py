"""Inference stage: overlapping-patch prediction with blending, on Ray actors."""

from glacierscale.infer.actors import InferenceWorker, TileResult, actor_class
from glacierscale.infer.patches import blend_weights, classify, patch_starts, predict_probabilities

__all__ = ["InferenceWorker", "TileResult", "actor_class", "blend_weights", "classify", "patch_starts",
           "predict_probabilities"]
