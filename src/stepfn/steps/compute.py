"""Compute steps: Lambda, Glue, Batch, ECS (``stepfunctions.steps.compute``, docs/design/compat.md §4)."""

from __future__ import annotations

from stepfn.steps._integration import CallbackStep, CompletionStep


class LambdaStep(CallbackStep):
    """Invoke a Lambda function (``lambda:invoke``); ``wait_for_callback=True`` waits for a task token.

    Put ``FunctionName`` and ``Payload`` in ``parameters``.
    """

    service = "lambda"
    api = "invoke"


class GlueStartJobRunStep(CompletionStep):
    """Start an AWS Glue job run (``glue:startJobRun``); ``wait_for_completion=False`` only starts it."""

    service = "glue"
    api = "startJobRun"


class BatchSubmitJobStep(CompletionStep):
    """Submit an AWS Batch job (``batch:submitJob``); ``wait_for_completion=False`` only submits it."""

    service = "batch"
    api = "submitJob"


class EcsRunTaskStep(CompletionStep):
    """Run an Amazon ECS task (``ecs:runTask``); ``wait_for_completion=False`` only starts it."""

    service = "ecs"
    api = "runTask"


__all__ = ["BatchSubmitJobStep", "EcsRunTaskStep", "GlueStartJobRunStep", "LambdaStep"]
