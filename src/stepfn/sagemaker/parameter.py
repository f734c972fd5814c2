"""sagemaker v2 ``sagemaker.parameter`` names: the hyperparameter ranges a tuner searches."""

from __future__ import annotations

from .tuner import CategoricalParameter, ContinuousParameter, IntegerParameter

__all__ = ["CategoricalParameter", "ContinuousParameter", "IntegerParameter"]
