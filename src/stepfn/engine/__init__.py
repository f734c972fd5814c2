"""The local ASL interpreter: compile a definition once, run executions, keep their history.

Contract (see notes/contracts.md §2): :class:`Engine` (start / run / redrive / send_task_* / test_state),
:class:`ExecutionHandle`, :class:`ExecutionResult`, :class:`Clock` and :class:`ScaledClock`, the
:class:`Journal` protocol, and the task-handler seam in :mod:`stepfn.engine.protocol`.
"""

from __future__ import annotations

from stepfn.engine.clock import Clock, ScaledClock, SystemClock
from stepfn.engine.definition import Graph, compile_definition
from stepfn.engine.engine import Engine, ExecutionHandle, ExecutionResult
from stepfn.engine.history import Journal
from stepfn.engine.protocol import IntegrationPattern, TaskControl, TaskHandler, TaskRequest
from stepfn.engine.task import UnknownTaskToken, parse_resource

__all__ = [
    "Clock",
    "Engine",
    "ExecutionHandle",
    "ExecutionResult",
    "Graph",
    "IntegrationPattern",
    "Journal",
    "ScaledClock",
    "SystemClock",
    "TaskControl",
    "TaskHandler",
    "TaskRequest",
    "UnknownTaskToken",
    "compile_definition",
    "parse_resource",
]
