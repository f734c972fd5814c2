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
from datetime import UTC, datetime
from typing import Any

RUNNING = "RUNNING"
SUCCEEDED = "SUCCEEDED"
FAILED = "FAILED"
CAUGHT = "CAUGHT"
ABORTED = "ABORTED"

_STATE_FAILURE_SUFFIXES = ("Failed", "TimedOut", "Aborted")
_ITERATION_END = {"MapIterationSucceeded": SUCCEEDED, "MapIterationFailed": FAILED, "MapIterationAborted": ABORTED}
# The state a summary shows when a state ran several times (a loop, Map iterations): the run a person needs.
_PRIORITY = {RUNNING: 4, FAILED: 3, ABORTED: 2, CAUGHT: 1, SUCCEEDED: 0}


def _when(value: Any) -> datetime | None:
    """An event's timestamp: a datetime from boto3 and the local clients, ISO text or epoch seconds from JSON."""
    if isinstance(value, datetime) or value is None:
        return value
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    if (start.tzinfo is None) != (end.tzinfo is None):  # a naive clock against an aware one: both are UTC
        start, end = start.replace(tzinfo=None), end.replace(tzinfo=None)
    return max((end - start).total_seconds(), 0.0)


@dataclass
class StateRun:
    """One run of a state: entering it once, at the top level or inside one Map iteration."""

    name: str
    type: str | None = None
    status: str = RUNNING
    entered: datetime | None = None
    exited: datetime | None = None
    entered_event: int = 0
    """The id of its StateEntered event: orders runs entered within one timestamp (histories read through boto3
    carry milliseconds)."""
    input: Any = None
    output: Any = None
    error: str | None = None
    cause: str | None = None
    retries: int = 0
    """How many times a Retry rule ran the task again (each after a failure)."""
    retried_errors: list[str] = field(default_factory=list)
    resources: list[str] = field(default_factory=list)
    jobs: list[tuple[str, str]] = field(default_factory=list)
    """``(kind, name)`` of each SageMaker job this run started (``training-job``, ...)."""
    iteration: Iteration | None = None
    """The Map iteration this run belongs to (None at the top level)."""
    items_total: int | None = None
    iterations: dict[int, Iteration] = field(default_factory=dict)
    """For a Map state: its iterations by index."""
    redriven: bool = False
    """The run belongs to an attempt before a redrive: a later run of the state tells its status."""

    @property
    def path(self) -> str:
        """Where the run happened, as a person names it: ``Sweep[1] > Item``."""
        return f"{self.iteration.label} > {self.name}" if self.iteration else self.name

    def elapsed(self, now: datetime | None = None) -> float | None:
        """Seconds from entering to leaving, or to ``now`` while it runs."""
        return _seconds(self.entered, self.exited or (now if self.status == RUNNING else None))


@dataclass
class Iteration:
    """One Map iteration: its own input, output, error and jobs, from the runs of the states inside it."""

    map_run: StateRun
    index: int
    status: str = RUNNING
    started: datetime | None = None
    ended: datetime | None = None
    runs: list[StateRun] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.map_run.path}[{self.index}]"

    @property
    def input(self) -> Any:
        return self.runs[0].input if self.runs else None

    @property
    def output(self) -> Any:
        return self.runs[-1].output if self.runs and self.status == SUCCEEDED else None

    @property
    def failed_run(self) -> StateRun | None:
        return next((run for run in reversed(self.runs) if run.status in (FAILED, ABORTED)), None)

    @property
    def error(self) -> str | None:
        run = self.failed_run
        return run.error if run else None

    @property
    def cause(self) -> str | None:
        run = self.failed_run
        return run.cause if run else None

    @property
    def jobs(self) -> list[tuple[str, str]]:
        return [job for run in self.runs for job in run.jobs]

    @property
    def retries(self) -> int:
        return sum(run.retries for run in self.runs)

    def elapsed(self, now: datetime | None = None) -> float | None:
        return _seconds(self.started, self.ended or (now if self.status == RUNNING else None))


@dataclass
class StateProgress:
    """A state's progress over all its runs (a loop, Map iterations), and each run on its own (``history``).

    The summary fields come from one run, never mixed: the one still running, else the last that failed,
    else the last; ``retries`` counts over all runs."""

    name: str
    type: str | None = None
    history: list[StateRun] = field(default_factory=list)

    @property
    def current(self) -> StateRun:
        return max(reversed(self.history), key=lambda run: (not run.redriven, _PRIORITY.get(run.status, 0)))

    @property
    def status(self) -> str:
        return self.current.status

    @property
    def runs(self) -> int:
        return len(self.history)

    @property
    def retries(self) -> int:
        return sum(run.retries for run in self.history)

    @property
    def entered(self) -> datetime | None:
        return self.current.entered

    @property
    def exited(self) -> datetime | None:
        return self.current.exited

    @property
    def input(self) -> Any:
        return self.current.input

    @property
    def output(self) -> Any:
        return self.current.output

    @property
    def error(self) -> str | None:
        return self.current.error

    @property
    def cause(self) -> str | None:
        return self.current.cause

    @property
    def resources(self) -> list[str]:
        return [resource for run in self.history for resource in run.resources]

    @property
    def items_total(self) -> int | None:
        """For a Map state: the number of items of its latest run."""
        return self.history[-1].items_total

    @property
    def items_done(self) -> int:
        """For a Map state: how many iterations of its latest run have ended."""
        return sum(1 for it in self.history[-1].iterations.values() if it.status != RUNNING)

    @property
    def seconds(self) -> float | None:
        current = self.current
        return None if current.exited is None else current.elapsed()

    def elapsed(self, now: datetime | None = None) -> float | None:
        return self.current.elapsed(now)

    def label(self, now: datetime | None = None, *, items: bool = True) -> str:
        """The status as every view prints it: ``SUCCEEDED (retried 1)``, ``CAUGHT States.Timeout``,
        ``RUNNING 12.3s``, and for a Map (unless ``items`` is false) ``3/5 done``."""
        current = self.current
        text = current.status
        if current.status == CAUGHT and current.error:
            text += f" {current.error}"
        if current.status == RUNNING:
            elapsed = current.elapsed(now)
            if elapsed is not None:
                text += f" {elapsed:.1f}s"
        if self.retries:
            text += f" (retried {self.retries})"
        if items and self.items_total is not None:
            text += f" {self.items_done}/{self.items_total} done"
        return text


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


_JOB_NAME_KEYS = (("TrainingJobName", "training-job"), ("ProcessingJobName", "processing-job"),
                  ("TransformJobName", "transform-job"))


def _job_names(parameters: Any) -> list[tuple[str, str]]:
    decoded = _decode(parameters or "{}")
    if not isinstance(decoded, dict):
        return []
    return [(kind, decoded[key]) for key, kind in _JOB_NAME_KEYS if isinstance(decoded.get(key), str)]


def _end_unfinished(runs: list[StateRun], kind: str, details: dict[str, Any]) -> None:
    """An execution that ended while states still ran: the innermost one failed with the execution's error
    (a state that failed in its own stages, a timeout) unless a failed state already explains it; the rest
    were stopped."""
    running = [run for run in runs if run.status == RUNNING]
    blamed = None
    if kind != "ExecutionAborted" and not any(run.status == FAILED and not run.redriven for run in runs):
        blamed = max(running, key=lambda run: (run.entered is not None, run.entered, run.entered_event), default=None)
    for run in running:
        if run is blamed:
            run.status, run.error, run.cause = FAILED, details.get("error"), details.get("cause")
        else:
            run.status = ABORTED
        for iteration in run.iterations.values():
            if iteration.status == RUNNING:
                iteration.status = ABORTED


def state_progress(events: list[dict[str, Any]]) -> dict[str, StateProgress]:
    """Summarise ``events`` per state name, in the order states were first entered.

    Every event belongs to the state run and Map iteration of the event it follows (``previousEventId``),
    so a retried task, a caught error and each iteration of a Map are told apart even when iterations run
    at once and their events interleave."""
    states: dict[str, StateProgress] = {}
    runs: list[StateRun] = []
    run_of: dict[int, StateRun] = {}
    iteration_of: dict[int, Iteration] = {}
    latest_map: dict[str, StateRun] = {}
    for event in events:
        kind: str = event.get("type", "")
        details = _details(event)
        timestamp = _when(event.get("timestamp"))
        previous = event.get("previousEventId", -1)
        run, iteration = run_of.get(previous), iteration_of.get(previous)
        if kind.endswith("StateEntered"):
            name = details.get("name", "?")
            progress = states.setdefault(name, StateProgress(name=name, type=kind[: -len("StateEntered")]))
            # A Fail state has no exit event: entering it is failing (the execution's failure names the error).
            run = StateRun(name=name, type=progress.type, status=FAILED if progress.type == "Fail" else RUNNING,
                           entered=timestamp, entered_event=int(event.get("id") or 0),
                           input=_decode(details.get("input")), iteration=iteration)
            progress.history.append(run)
            runs.append(run)
            if iteration is not None:
                iteration.runs.append(run)
        elif kind.endswith("StateExited"):
            name = details.get("name", "?")
            if run is None or run.name != name:
                run = states[name].history[-1] if name in states else None
            if run is not None:
                run.exited, run.output = timestamp, _decode(details.get("output"))
                # A state leaves after a failure only through a catcher.
                run.status = CAUGHT if run.status == FAILED else SUCCEEDED
        elif kind == "MapStateStarted" and run is not None:
            run.items_total = int(details.get("length", 0))
            latest_map[run.name] = run
        elif kind == "MapIterationStarted":
            map_run = run if run is not None and run.name == details.get("name") else latest_map.get(details.get("name", ""))
            if map_run is not None:
                iteration = Iteration(map_run=map_run, index=int(details.get("index", 0)), started=timestamp)
                map_run.iterations[iteration.index] = iteration
                run = map_run
        elif kind in _ITERATION_END:
            index = int(details.get("index", -1))
            if iteration is None or iteration.index != index or iteration.map_run.name != details.get("name"):
                map_run = latest_map.get(details.get("name", ""))
                iteration = map_run.iterations.get(index) if map_run else None
            if iteration is not None:
                iteration.status, iteration.ended = _ITERATION_END[kind], timestamp
                run, iteration = iteration.map_run, iteration.map_run.iteration
        elif kind == "TaskScheduled" and run is not None:
            if run.status == FAILED:  # scheduled again after a failure: a Retry rule
                run.retries += 1
                run.retried_errors.append(run.error or "")
                run.status, run.error, run.cause = RUNNING, None, None
            if details.get("resource"):
                run.resources.append(f"{details.get('resourceType')}:{details['resource']}")
            if details.get("resourceType") == "sagemaker":
                run.jobs.extend(_job_names(details.get("parameters")))
        elif kind == "ExecutionRedriven":
            for earlier in runs:
                earlier.redriven = True
        elif kind in ("ExecutionFailed", "ExecutionTimedOut", "ExecutionAborted"):
            for failed in runs:
                if failed.type == "Fail" and failed.error is None:
                    failed.error, failed.cause = details.get("error"), details.get("cause")
            _end_unfinished(runs, kind, details)
        elif kind.endswith(_STATE_FAILURE_SUFFIXES) and not kind.startswith("Execution") and run is not None:
            run.status = ABORTED if kind.endswith("Aborted") else FAILED
            if "error" in details or "cause" in details:
                run.error, run.cause = details.get("error"), details.get("cause")
            else:  # MapStateFailed carries no details: the failed iteration's error is the Map's
                lost = next((it for it in run.iterations.values() if it.status == FAILED), None)
                if lost is not None:
                    run.error, run.cause = lost.error, lost.cause
        if event.get("id") is not None:
            if run is not None:
                run_of[event["id"]] = run
            if iteration is not None:
                iteration_of[event["id"]] = iteration
    return states


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
    iteration: str | None = None
    """The Map iteration the failing state ran in (``Sweep[1]``), if any."""

    def describe(self) -> str:
        where = f" at state {self.state!r}" if self.state else ""
        if self.iteration:
            where += f" in {self.iteration}"
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


def failed_run(events: list[dict[str, Any]]) -> StateRun | None:
    """The run whose failure ended the execution: the innermost failed (or, for a States.Runtime failure in
    a state's own stages, unfinished) run, latest first; a Map or Parallel only when nothing inside failed."""
    runs = [run for progress in state_progress(events).values() for run in progress.history if not run.redriven]
    failed = [run for run in runs if run.status == FAILED] or [run for run in runs if run.status == RUNNING]
    return max(failed, key=lambda run: (not run.iterations, run.entered is not None, run.entered, run.entered_event),
               default=None)


def execution_failure_summary(status: str, events: list[dict[str, Any]]) -> Failure:
    """The failing state (and Map iteration), error and useful cause line of an execution that ended with
    ``status``."""
    error, cause = execution_failure(events)
    last = failed_run(events)
    if last is not None and not cause:
        error, cause = error or last.error, last.cause
    reason, job = failure_reason(cause)
    if job is None and last is not None and last.jobs:
        job = last.jobs[-1][1]
    return Failure(status=status, state=last.name if last else None, error=error, cause=cause, reason=reason,
                   job=job, iteration=last.iteration.label if last and last.iteration else None)


__all__ = [
    "ABORTED", "CAUGHT", "FAILED", "RUNNING", "SUCCEEDED", "Failure", "Iteration", "StateProgress", "StateRun",
    "execution_failure", "execution_failure_summary", "failed_run", "failure_reason", "read_executions", "read_history",
    "read_state_machines", "scheduled_jobs", "state_progress",
]
