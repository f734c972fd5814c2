"""Create, run and inspect workflows (``stepfunctions.workflow``): on the local engine by default, or on AWS.

``Workflow`` and ``Execution`` talk to a client with boto3's stepfunctions interface: the local one
(:class:`stepfn.workflow.local_client.LocalStepFunctionsClient`) unless ``backend="aws"`` or a boto3
``client`` is given.
"""

from __future__ import annotations

from stepfn.workflow.execution import (
    EventsList,
    Execution,
    ExecutionFailedWarning,
    ExecutionsList,
    ExecutionStatus,
)
from stepfn.workflow.workflow import Workflow, WorkflowList

__all__ = [
    "EventsList", "Execution", "ExecutionFailedWarning", "ExecutionStatus", "ExecutionsList", "Workflow", "WorkflowList",
]
