"""sagemaker v2 ``sagemaker.pytorch`` names, so ported code changes only its imports."""

from __future__ import annotations

from ._frameworks import PyTorch, PyTorchModel, PyTorchProcessor
from .predictor import PyTorchPredictor

__all__ = ["PyTorch", "PyTorchModel", "PyTorchPredictor", "PyTorchProcessor"]
