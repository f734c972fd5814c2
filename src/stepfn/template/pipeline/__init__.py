"""Workflow templates (``stepfunctions.template.pipeline``)."""

from __future__ import annotations

from stepfn.template.pipeline.common import StepId, WorkflowTemplate
from stepfn.template.pipeline.inference import InferencePipeline
from stepfn.template.pipeline.train import TrainingPipeline

__all__ = ["InferencePipeline", "StepId", "TrainingPipeline", "WorkflowTemplate"]
