"""sagemaker v2 ``sagemaker.tensorflow`` names, so ported code changes only its imports."""

from __future__ import annotations

from ._frameworks import TensorFlow, TensorFlowModel, TensorFlowProcessor
from .predictor import TensorFlowPredictor

__all__ = ["TensorFlow", "TensorFlowModel", "TensorFlowPredictor", "TensorFlowProcessor"]
