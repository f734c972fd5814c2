"""The rows of the store as frozen dataclasses, and the errors that name a missing or duplicate row."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from stepfn.errors import StoreError


class RecordNotFound(StoreError):
    """No row has this ARN (or name)."""

    def __init__(self, kind: str, key: str) -> None:
        self.kind = kind
        self.key = key
        super().__init__(f"{kind} does not exist: {key!r}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.kind, self.key))


class RecordExists(StoreError):
    """A row with this ARN (or name) already exists; ``existing`` is the ARN of that row."""

    def __init__(self, kind: str, existing: str) -> None:
        self.kind = kind
        self.existing = existing
        super().__init__(f"{kind} already exists: {existing!r}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.kind, self.existing))


class NotRedrivable(StoreError):
    """Only a FAILED, TIMED_OUT or ABORTED execution can be redriven."""

    def __init__(self, arn: str, status: str) -> None:
        self.arn = arn
        self.status = status
        super().__init__(f"execution {arn!r} is {status} and cannot be redriven")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.arn, self.status))


@dataclass(frozen=True)
class StateMachineRecord:
    arn: str
    name: str
    type: str
    definition: str
    role_arn: str
    revision_id: str
    creation_date: datetime
    update_date: datetime | None = None
    description: str | None = None
    logging_configuration: dict[str, Any] | None = None
    tracing_configuration: dict[str, Any] | None = None


@dataclass(frozen=True)
class VersionRecord:
    arn: str
    state_machine_arn: str
    version: int
    type: str
    definition: str
    role_arn: str
    revision_id: str
    creation_date: datetime
    description: str | None = None
    logging_configuration: dict[str, Any] | None = None
    tracing_configuration: dict[str, Any] | None = None


@dataclass(frozen=True)
class AliasRecord:
    arn: str
    state_machine_arn: str
    name: str
    routing_configuration: list[dict[str, Any]]
    creation_date: datetime
    update_date: datetime
    description: str | None = None


@dataclass(frozen=True)
class ExecutionRecord:
    arn: str
    state_machine_arn: str
    name: str
    type: str
    status: str
    start_date: datetime
    definition: str
    """The definition the execution runs: a snapshot, so a later update never changes a running (or resumed) one."""
    input: str | None = None
    output: str | None = None
    error: str | None = None
    cause: str | None = None
    stop_date: datetime | None = None
    role_arn: str | None = None
    version_arn: str | None = None
    alias_arn: str | None = None
    trace_header: str | None = None
    redrive_count: int = 0
    redrive_date: datetime | None = None
    owner: str | None = None
    """The process that runs it (``host:pid:start``), None once it finished."""
    lease_expires: float | None = None
    """Epoch seconds after which another process may take the execution over."""
    map_run_arn: str | None = None
    """The Map Run that started this execution (a distributed Map's child), None for a top-level one."""
    item_count: int | None = None
    """How many items a Map Run child processes (one, or its ItemBatcher batch)."""


@dataclass(frozen=True)
class ExecutionSummary:
    """An execution as a listing shows it: no input, output or definition (they can be megabytes each), and
    ``seq``, its place in start order, which a page's token carries (keyset pagination)."""

    seq: int
    arn: str
    state_machine_arn: str
    name: str
    status: str
    start_date: datetime
    stop_date: datetime | None = None
    version_arn: str | None = None
    alias_arn: str | None = None
    redrive_count: int = 0
    redrive_date: datetime | None = None
    map_run_arn: str | None = None
    item_count: int | None = None


@dataclass(frozen=True)
class MapRunRecord:
    """A distributed Map state's run: its settings (UpdateMapRun changes them) and totals. The counts by
    status come from its child executions (:meth:`Store.map_run_counts`)."""

    arn: str
    execution_arn: str
    state_machine_arn: str
    status: str
    start_date: datetime
    max_concurrency: int = 0
    tolerated_failure_count: int | None = None
    tolerated_failure_percentage: float | None = None
    item_total: int = 0
    execution_total: int = 0
    results_written: bool = False
    stop_date: datetime | None = None
    error: str | None = None
    cause: str | None = None
    redrive_count: int = 0
    redrive_date: datetime | None = None


__all__ = [
    "AliasRecord",
    "ExecutionRecord",
    "ExecutionSummary",
    "MapRunRecord",
    "NotRedrivable",
    "RecordExists",
    "RecordNotFound",
    "StateMachineRecord",
    "VersionRecord",
]
