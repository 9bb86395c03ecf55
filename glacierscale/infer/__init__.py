"""Inference stage: overlapping-patch prediction with blending, on Ray actors."""

from glacierscale.infer.actors import InferenceWorker, TileResult, actor_class
from glacierscale.infer.options import InferOptions, forward_fn
from glacierscale.infer.patches import (
    blend_weights,
    classify,
    patch_starts,
    predict_classes,
    predict_probabilities,
    select_bands,
    valid_pixels,
)

__all__ = ["InferOptions", "InferenceWorker", "TileResult", "actor_class", "blend_weights", "classify", "forward_fn",
           "patch_starts",
           "predict_classes", "predict_probabilities", "select_bands", "valid_pixels"]
