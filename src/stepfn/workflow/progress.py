"""What each state of an execution is doing, read from its history events.

Shared by everything that watches a run (the terminal progress of ``stepfn run``, the web console and
``Execution.render_progress``), so they agree on what "running" and "failed" mean. The summaries are pure:
events in, a summary out; the events are GetExecutionHistory-shaped dicts from either backend, read whole
by :func:`read_history` through any client with boto3's stepfunctions interface.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

RUNNING = "RUNNING"
SUCCEEDED = "SUCCEEDED"
FAILED = "FAILED"
CAUGHT = "CAUGHT_ERROR"

_STATE_FAILURE_SUFFIXES = ("Failed", "TimedOut", "Aborted")


@dataclass
class StateProgress:
    """One state's progress; a state that runs several times (a loop, Map items) counts each run."""

    name: str
    type: str | None = None
    status: str = RUNNING
    entered: datetime | None = None
    exited: datetime | None = None
    runs: int = 0
    input: Any = None
    output: Any = None
    error: str | None = None
    cause: str | None = None
    resources: list[str] = field(default_factory=list)
    items_total: int | None = None
    """For a Map state: the number of items of its latest run, and how many of them have finished."""
    items_done: int = 0

    @property
    def seconds(self) -> float | None:
        if self.entered is None:
            return None
        end = self.exited
        return None if end is None else (end - self.entered).total_seconds()


def _decode(text: Any) -> Any:
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


def _details(event: dict[str, Any]) -> dict[str, Any]:
    for key, value in event.items():
        if key.endswith("EventDetails") and isinstance(value, dict):
            return value
    return {}


def state_progress(events: list[dict[str, Any]]) -> dict[str, StateProgress]:
    """Summarise ``events`` per state name, in the order states were first entered."""
    states: dict[str, StateProgress] = {}
    # Failures are reported on task/map events that precede the state's exit; remember by state.
    current_by_event: dict[int, str] = {}
    last_entered: str | None = None
    for event in events:
        kind: str = event.get("type", "")
        details = _details(event)
        timestamp = event.get("timestamp")
        if kind.endswith("StateEntered"):
            name = details.get("name", "?")
            progress = states.setdefault(name, StateProgress(name=name, type=kind[: -len("StateEntered")]))
            # A Fail state has no exit event: entering it is failing (the execution's failure names the error).
            progress.status = FAILED if progress.type == "Fail" else RUNNING
            progress.entered = timestamp
            progress.exited = None
            progress.runs += 1
            progress.input = _decode(details.get("input"))
            last_entered = name
            current_by_event[event.get("id", 0)] = name
        elif kind.endswith("StateExited"):
            name = details.get("name", "?")
            progress = states.setdefault(name, StateProgress(name=name))
            progress.exited = timestamp
            progress.output = _decode(details.get("output"))
            if progress.status == RUNNING:
                progress.status = SUCCEEDED
        elif kind == "MapStateStarted" and last_entered in states:
            states[last_entered].items_total = int(details.get("length", 0))
            states[last_entered].items_done = 0
        elif kind in ("MapIterationSucceeded", "MapIterationFailed", "MapIterationAborted") and details.get("name") in states:
            states[details["name"]].items_done += 1
        elif kind == "ExecutionFailed":
            for progress in states.values():
                if progress.type == "Fail" and progress.error is None:
                    progress.error, progress.cause = details.get("error"), details.get("cause")
        elif kind.endswith(_STATE_FAILURE_SUFFIXES) and not kind.startswith("Execution"):
            name = _owner(event, current_by_event) or last_entered
            if name and name in states:
                states[name].status = FAILED
                states[name].error = details.get("error")
                states[name].cause = details.get("cause")
        elif kind == "TaskScheduled":
            name = _owner(event, current_by_event) or last_entered
            if name and name in states and details.get("resource"):
                states[name].resources.append(f"{details.get('resourceType')}:{details['resource']}")
        if event.get("id") is not None and event.get("previousEventId") in current_by_event:
            current_by_event.setdefault(event["id"], current_by_event[event["previousEventId"]])
    return states


_JOB_NAME_KEYS = (("TrainingJobName", "training-job"), ("ProcessingJobName", "processing-job"),
                  ("TransformJobName", "transform-job"))


def scheduled_jobs(events: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """``(state, kind, job name)`` of every SageMaker job the execution started, from TaskScheduled parameters."""
    jobs: list[tuple[str, str, str]] = []
    state = ""
    for event in events:
        if event.get("type", "").endswith("StateEntered"):
            state = _details(event).get("name", "")
        details = event.get("taskScheduledEventDetails")
        if not details or details.get("resourceType") != "sagemaker":
            continue
        parameters = _decode(details.get("parameters") or "{}")
        if not isinstance(parameters, dict):
            continue
        jobs.extend((state, kind, parameters[key]) for key, kind in _JOB_NAME_KEYS if isinstance(parameters.get(key), str))
    return jobs


def read_history(client: Any, execution_arn: str) -> list[dict[str, Any]]:
    """Every event of an execution, oldest first, through the client's GetExecutionHistory paginator."""
    paginator = client.get_paginator("get_execution_history")
    return [event for page in paginator.paginate(executionArn=execution_arn) for event in page["events"]]


def read_state_machines(client: Any) -> list[dict[str, Any]]:
    """Every state machine's ListStateMachines summary."""
    paginator = client.get_paginator("list_state_machines")
    return [machine for page in paginator.paginate() for machine in page["stateMachines"]]


def read_executions(client: Any, machines: list[dict[str, Any]], status: str | None = None,
                    limit: int | None = None) -> list[dict[str, Any]]:
    """The ListExecutions summaries of ``machines`` (ListStateMachines items), newest first, each with the
    machine's name as ``workflow``; ``status`` filters as ``statusFilter`` does. With ``limit``, only the
    newest ``limit``: each machine's listing stops after that many (pages are newest first), so the cost
    follows the limit, not how many executions there are."""
    paginator = client.get_paginator("list_executions")
    options: dict[str, Any] = {"statusFilter": status} if status else {}
    if limit is not None:
        options["PaginationConfig"] = {"MaxItems": limit, "PageSize": min(max(limit, 1), 1000)}
    rows = [
        {**row, "workflow": machine["name"]}
        for machine in machines
        for page in paginator.paginate(stateMachineArn=machine["stateMachineArn"], **options)
        for row in page["executions"]
    ]
    rows.sort(key=lambda row: row["startDate"], reverse=True)
    return rows if limit is None else rows[:limit]


def _owner(event: dict[str, Any], owners: dict[int, str]) -> str | None:
    return owners.get(event.get("previousEventId", -1))


def execution_failure(events: list[dict[str, Any]]) -> tuple[str | None, str | None]:
    """The error and cause that ended the execution, if it failed, timed out or was aborted."""
    for event in reversed(events):
        if event.get("type") in ("ExecutionFailed", "ExecutionTimedOut", "ExecutionAborted"):
            details = _details(event)
            return details.get("error"), details.get("cause")
    return None, None


# An exception line as Python prints it last in a traceback: "ValueError: bad", "pkg.mod.CustomError: ...".
_EXCEPTION_LINE = re.compile(r"^(?:[A-Za-z_]\w*\.)*[A-Za-z_]\w*(?:Error|Exception|Exit|Interrupt|Fault)(?::.*)?$")
_ERROR_MESSAGE = re.compile(r'^ErrorMessage "(.*?)"\s*$(?:\n^Command |\Z)', re.M | re.S)
_REASON_LIMIT = 300
_JOB_KEYS = ("TrainingJobName", "ProcessingJobName", "TransformJobName", "HyperParameterTuningJobName")


@dataclass(frozen=True)
class Failure:
    """Why an execution did not succeed, in the words a person needs first."""

    status: str
    state: str | None
    """The state whose failure ended the run (None when the run stopped between states)."""
    error: str | None
    cause: str | None
    """The whole cause, as the history holds it (for a SageMaker task, the DescribeTrainingJob record)."""
    reason: str | None
    """The cause's useful line: the exception a script raised, or the first line of a plain message."""
    job: str | None
    """The SageMaker job the failing task ran, whose log holds the rest."""

    def describe(self) -> str:
        where = f" at state {self.state!r}" if self.state else ""
        what = ": ".join(part for part in (self.error, self.reason) if part)
        return f"{self.status}{where}" + (f": {what}" if what else "")


def failure_reason(cause: str | None) -> tuple[str | None, str | None]:
    """``(reason, job)`` from a failure cause: a SageMaker record's FailureReason or a Lambda errorMessage is
    reduced to the last exception line in it (the traceback above it and the JSON around it are noise)."""
    if not cause:
        return None, None
    text, job = cause, None
    decoded = _decode(cause)
    if isinstance(decoded, dict):
        job = next((decoded[key] for key in _JOB_KEYS if isinstance(decoded.get(key), str)), None)
        text = next((decoded[key] for key in ("FailureReason", "errorMessage", "Cause", "message")
                     if isinstance(decoded.get(key), str)), cause)
    # The sagemaker-training toolkit's ExecuteUserScriptError quotes the script's stderr after ErrorMessage.
    quoted = _ERROR_MESSAGE.search(text)
    if quoted:
        text = quoted[1]
    lines = [line.strip().strip('"') for line in text.splitlines() if line.strip().strip('"')]
    exceptions = [line for line in lines if _EXCEPTION_LINE.match(line)]
    reason = exceptions[-1] if exceptions else (lines[0] if lines else None)
    if reason is not None and len(reason) > _REASON_LIMIT:  # e.g. a States.Runtime cause quoting a whole input
        reason = reason[: _REASON_LIMIT - 1] + "…"
    return reason, job


def execution_failure_summary(status: str, events: list[dict[str, Any]]) -> Failure:
    """The failing state, error and useful cause line of an execution that ended with ``status``."""
    error, cause = execution_failure(events)
    states = state_progress(events).values()
    # A state whose task failed is marked FAILED; one that failed in its own stages (a JSONPath that matches
    # nothing: States.Runtime) was entered and never left.
    failed = [progress for progress in states if progress.status == FAILED] or [
        progress for progress in states if progress.status == RUNNING]
    last = max(failed, key=lambda progress: (progress.entered is not None, progress.entered), default=None)
    if last is not None and not cause:
        error, cause = error or last.error, last.cause
    reason, job = failure_reason(cause)
    return Failure(status=status, state=last.name if last else None, error=error, cause=cause, reason=reason,
                   job=job)


__all__ = [
    "CAUGHT", "FAILED", "RUNNING", "SUCCEEDED", "Failure", "StateProgress", "execution_failure",
    "execution_failure_summary", "failure_reason", "read_executions", "read_history",
    "read_state_machines", "scheduled_jobs", "state_progress",
]
