"""sagemaker v2 ``sagemaker.huggingface`` names, so ported code changes only its imports."""

from __future__ import annotations

from ._frameworks import HuggingFace, HuggingFaceModel
from .predictor import HuggingFacePredictor

__all__ = ["HuggingFace", "HuggingFaceModel", "HuggingFacePredictor"]
