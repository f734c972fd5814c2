"""Ready-made SageMaker workflows (``stepfunctions.template``, docs/design/compat.md §8): TrainingPipeline, InferencePipeline."""

from __future__ import annotations

from stepfn.template.pipeline import InferencePipeline, StepId, TrainingPipeline, WorkflowTemplate

__all__ = ["InferencePipeline", "StepId", "TrainingPipeline", "WorkflowTemplate"]
