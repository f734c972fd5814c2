"""sagemaker v2 ``sagemaker.xgboost`` names, so ported code changes only its imports."""

from __future__ import annotations

from ._frameworks import XGBoost, XGBoostModel, XGBoostProcessor
from .predictor import XGBoostPredictor

__all__ = ["XGBoost", "XGBoostModel", "XGBoostPredictor", "XGBoostProcessor"]
