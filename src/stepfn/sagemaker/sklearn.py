"""sagemaker v2 ``sagemaker.sklearn`` names, so ported code changes only its imports."""

from __future__ import annotations

from ._frameworks import SKLearn, SKLearnModel, SKLearnProcessor
from .predictor import SKLearnPredictor

__all__ = ["SKLearn", "SKLearnModel", "SKLearnPredictor", "SKLearnProcessor"]
