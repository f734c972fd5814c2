"""sagemaker v2 ``sagemaker.sklearn`` names, so ported code changes only its imports."""

from __future__ import annotations

from ._frameworks import SKLearn, SKLearnModel, SKLearnProcessor

__all__ = ["SKLearn", "SKLearnModel", "SKLearnProcessor"]
