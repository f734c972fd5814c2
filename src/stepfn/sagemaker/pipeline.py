"""sagemaker v2 ``sagemaker.pipeline`` names (``from sagemaker.pipeline import PipelineModel``)."""

from __future__ import annotations

from .model import PipelineModel

__all__ = ["PipelineModel"]
