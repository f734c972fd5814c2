"""The interpreter's runtime: one :class:`Run` per execution, one :class:`Frame` per graph being walked.

A frame walks a (sub-)state machine: the execution's top level, a Parallel branch or a Map iteration.
It carries the variables in scope, the id of the last event on its thread of control (for
``previousEventId``), and the current state's ``$$.State`` values. Frames run sequentially; Map and
Parallel make one frame per branch/iteration and may run them on a bounded pool.

Every state runs the same pipeline (:meth:`Frame.run_state`): entered event -> the state's own
``execute`` -> exited event. Errors raised by the interpreter itself (``States.Runtime``,
``States.QueryEvaluationError``) get AWS's "An error occurred while executing the state ..." prefix
here, in one place.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from stepfn._partitions import LOCAL_ACCOUNT
from stepfn.asl.paths import Sources, compact_json
from stepfn.engine.history import Assigned, EventRecorder, Payload, as_datetime
from stepfn.errors import StatesError

if TYPE_CHECKING:
    from stepfn.engine.clock import Clock
    from stepfn.engine.definition import Graph, StateNode
    from stepfn.engine.protocol import TaskHandler

__all__ = ["MAX_PAYLOAD_BYTES", "AbortScope", "Aborted", "Frame", "Halt", "Run", "Variables", "check_size",
           "format_timestamp", "run_graph"]

RUNTIME = "States.Runtime"
QUERY_EVALUATION_ERROR = "States.QueryEvaluationError"
# Errors the interpreter raises about the definition/data itself; AWS prefixes their cause with the state.
_PREFIXED = frozenset({RUNTIME, QUERY_EVALUATION_ERROR})


MAX_PAYLOAD_BYTES = 262_144
"""AWS's quota for the input and output of an execution, a state or a task: 256 KiB as UTF-8 JSON."""


def check_size(value: Any, name: str) -> None:
    """States.DataLimitExceeded when ``value`` is over the quota; ``name`` is the state or task at fault."""
    if len(compact_json(value).encode()) > MAX_PAYLOAD_BYTES:
        raise StatesError("States.DataLimitExceeded",
                          f"The state/task '{name}' returned a result with a size exceeding the maximum "
                          "number of bytes service limit.")


class Halt(Exception):
    """The execution was stopped or timed out: unwind without recording anything more."""


class Aborted(Exception):
    """A sibling branch or iteration failed: this one stops; its Map or Parallel records it as aborted."""


class AbortScope:
    """The stop switch of one group of Map iterations (or Parallel branches, or Map Run children).

    AWS fails a Map or Parallel state as soon as an iteration or branch fails (beyond the tolerated failures)
    and stops the others at once, in-flight tasks included: a SageMaker job gets StopTrainingJob semantics.
    :meth:`abort` marks the group; work inside it sees that through :meth:`aborted` (a nested group asks the
    enclosing ones), and every wait registered with :meth:`watch`, in this group or a nested one, is woken, so
    a task handler polling ``TaskControl.cancelled()``, a Wait state or a retry delay ends now, not later.

    A member that does not unwind in time (an in-process function cannot be interrupted) is left behind:
    :meth:`abandon` sets ``gone``, and from then on its frames record nothing into ``history``, the history
    the group's state has already gone on with.
    """

    __slots__ = ("_aborted", "_children", "_lock", "_wakers", "gone", "history", "parent")

    def __init__(self, parent: AbortScope | None = None, history: Any = None) -> None:
        self.parent = parent
        self.history = history
        self._aborted = False
        self.gone: bool = parent.gone if parent is not None else False
        self._lock = threading.Lock()
        self._wakers: set[threading.Event] = set()
        self._children: set[AbortScope] = set()
        if parent is not None:
            with parent._lock:
                parent._children.add(self)

    def aborted(self) -> bool:
        return self._aborted or (self.parent is not None and self.parent.aborted())

    def abort(self) -> None:
        self._aborted = True
        self._wake()

    def _wake(self) -> None:
        with self._lock:
            wakers, children = list(self._wakers), list(self._children)
        for waker in wakers:
            waker.set()
        for child in children:
            child._wake()

    def abandon(self) -> None:
        with self._lock:
            self.gone = True
            children = list(self._children)
        for child in children:
            child.abandon()

    def watch(self, *events: threading.Event) -> None:
        with self._lock:
            self._wakers.update(events)
        if self.aborted():  # aborted while registering: the waker would have been missed
            for event in events:
                event.set()

    def unwatch(self, *events: threading.Event) -> None:
        with self._lock:
            self._wakers.difference_update(events)

    def close(self) -> None:
        """The group is over: the enclosing one stops tracking it."""
        if self.parent is not None:
            with self.parent._lock:
                self.parent._children.discard(self)


def format_timestamp(stamp: datetime | float) -> str:
    """``2024-01-01T00:00:00.000Z``: the form ``$$`` timestamps take."""
    moment = as_datetime(stamp)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class Variables:
    """Workflow variables of one scope; inner scopes (Map, Parallel) read the outer ones."""

    __slots__ = ("_flat", "local", "parent")

    def __init__(self, parent: Variables | None = None, initial: Mapping[str, Any] | None = None) -> None:
        self.parent = parent
        self.local: dict[str, Any] = dict(initial or {})
        self._flat: dict[str, Any] | None = None

    def __getitem__(self, name: str) -> Any:
        scope: Variables | None = self
        while scope is not None:
            if name in scope.local:
                return scope.local[name]
            scope = scope.parent
        raise KeyError(name)

    def assign(self, values: Mapping[str, Any]) -> None:
        self.local.update(values)
        self._flat = None

    def flat(self) -> dict[str, Any]:
        """Every visible variable (inner values shadow outer ones), for JSONata bindings."""
        if self._flat is None:
            base = self.parent.flat() if self.parent is not None else {}
            self._flat = {**base, **self.local} if base else dict(self.local)
        return self._flat


@dataclass
class Run:
    """One execution: identity, clock, history, handlers and the stop/timeout switch."""

    execution_arn: str
    state_machine_arn: str
    name: str
    role_arn: str | None
    input: Any
    clock: Clock
    history: EventRecorder
    handlers: Mapping[str, TaskHandler]
    new_uuid: Callable[[], str]
    start_time: datetime
    redrive_count: int = 0
    redrive_time: datetime | None = None
    cancel: threading.Event = field(default_factory=threading.Event)
    halt_status: str | None = None
    halt_error: str | None = None
    halt_cause: str | None = None
    tokens: Any = None
    """The engine's task-token registry (``.waitForTaskToken``)."""
    mock: Any = None
    """A mocked-response router (Step Functions Local mock config), consulted before the handlers."""
    wakers: set[threading.Event] = field(default_factory=set)
    """Events of waits in progress (task completion, heartbeats); halting sets them all."""
    logs: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.region = _arn_part(self.execution_arn, 3) or "us-east-1"
        self.partition = _arn_part(self.execution_arn, 1) or "aws"
        self.account = _arn_part(self.execution_arn, 4) or LOCAL_ACCOUNT
        execution: dict[str, Any] = {
            "Id": self.execution_arn,
            "Input": self.input,
            "StartTime": format_timestamp(self.start_time),
            "Name": self.name,
            "RoleArn": self.role_arn,
            "RedriveCount": self.redrive_count,
        }
        if self.redrive_time is not None:
            execution["RedriveTime"] = format_timestamp(self.redrive_time)
        self.execution_context = execution
        self.state_machine_context = {
            "Id": self.state_machine_arn,
            "Name": _arn_part(self.state_machine_arn, 6) or self.state_machine_arn,
        }

    def halt(self, status: str, error: str | None = None, cause: str | None = None) -> bool:
        """Ask the execution to stop; True for the first caller."""
        if self.halt_status is not None:
            return False
        self.halt_status, self.halt_error, self.halt_cause = status, error, cause
        self.cancel.set()
        for waker in list(self.wakers):
            waker.set()
        return True

    def check(self) -> None:
        if self.cancel.is_set():
            raise Halt()


def _arn_part(arn: str, index: int) -> str | None:
    parts = arn.split(":")
    return parts[index] if len(parts) > index and parts[index] else None


class Frame:
    """The walk of one graph: variables, event lane and the current state's ``$$.State`` values."""

    __slots__ = ("entered_id", "entered_time", "inspect", "last_event", "map_item", "retry_count", "run",
                 "scope", "state", "state_input", "task_token", "variables")

    def __init__(self, run: Run, variables: Variables, last_event: int, scope: AbortScope | None = None) -> None:
        self.run = run
        self.variables = variables
        self.last_event = last_event
        self.scope = scope
        """The group of iterations or branches this frame belongs to (None at the top level)."""
        self.state: StateNode | None = None
        self.state_input: Any = None
        self.entered_time: datetime | float = run.start_time
        self.entered_id = 0
        self.retry_count: int | None = None
        self.task_token: str | None = None
        self.map_item: dict[str, Any] | None = None
        self.inspect: dict[str, Any] | None = None
        """TestState only: the data after each stage (``afterInputPath``, ``result``...)."""

    # ---------------------------------------------------------------------------------- events
    def emit(self, event_type: str, details: dict[str, Any] | None = None) -> int:
        scope = self.scope
        if scope is not None and scope.gone and scope.history is self.run.history:
            return self.last_event  # left behind by its Map or Parallel, which has ended without it
        event_id, _ = self.run.history.add(event_type, self.last_event, details)
        self.last_event = event_id
        return event_id

    def child(self, variables: Variables | None = None) -> Frame:
        """A frame for a branch/iteration starting after this frame's last event."""
        return Frame(self.run, variables if variables is not None else Variables(self.variables), self.last_event,
                     self.scope)

    # ---------------------------------------------------------------------------------- stopping
    def aborted(self) -> bool:
        return self.scope is not None and self.scope.aborted()

    def check(self) -> None:
        """Halt when the execution was stopped, Aborted when a sibling iteration or branch failed."""
        self.run.check()
        if self.aborted():
            raise Aborted()

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` on the execution's clock; a stop or a sibling's failure cuts it short (and unwinds)."""
        if self.scope is None:
            if not self.run.clock.sleep(seconds, self.run.cancel):
                raise Halt()
            return
        wake = threading.Event()
        self.run.wakers.add(wake)
        self.scope.watch(wake)
        try:
            if self.run.cancel.is_set():
                wake.set()
            self.run.clock.sleep(seconds, wake)
        finally:
            self.run.wakers.discard(wake)
            self.scope.unwatch(wake)
        self.check()

    # ---------------------------------------------------------------------------------- context
    def context(self) -> dict[str, Any]:
        """The context object ``$$`` as the current state sees it."""
        state: dict[str, Any] = {"EnteredTime": format_timestamp(self.entered_time),
                                 "Name": self.state.name if self.state else None}
        if self.retry_count is not None:
            state["RetryCount"] = self.retry_count
        ctx: dict[str, Any] = {
            "Execution": self.run.execution_context,
            "State": state,
            "StateMachine": self.run.state_machine_context,
        }
        if self.task_token is not None:
            ctx["Task"] = {"Token": self.task_token}
        if self.map_item is not None:
            ctx["Map"] = {"Item": self.map_item}
        return ctx

    def record(self, stage: str, value: Any) -> None:
        if self.inspect is not None:
            self.inspect[stage] = value

    def sources(self, value: Any) -> Sources:
        return Sources(value, self.context, self.variables.__getitem__, self.run.new_uuid)

    def states_binding(self, value: Any, **extra: Any) -> dict[str, Any]:
        """``$states`` for JSONata: input, context and (after the work) result / errorOutput."""
        binding = {"input": value, "context": self.context()}
        binding.update(extra)
        return binding

    # ---------------------------------------------------------------------------------- pipeline
    def enter(self, node: StateNode, value: Any) -> None:
        run = self.run
        if run.cancel.is_set():
            raise Halt()
        self.state = node
        self.state_input = value
        self.task_token = None
        self.retry_count = 0 if node.retriable else None
        if self.scope is not None and self.scope.gone:
            raise Aborted()
        event_id, when = run.history.add(node.entered_event, self.last_event, {"name": node.name,
                                                                               "input": Payload(value)})
        self.last_event = event_id
        self.entered_id = event_id
        self.entered_time = when

    def exit(self, node: StateNode, value: Any, assigned: Mapping[str, Any] | None = None) -> None:
        if value is not self.state_input:
            # An output that is the state's own input was within the quota when it came in.
            check_size(value, node.name)
        details: dict[str, Any] = {"name": node.name, "output": Payload(value)}
        if assigned:
            details["assignedVariables"] = Assigned(assigned)
            details["assignedVariablesDetails"] = {"truncated": False}
        self.emit(node.exited_event, details)

    def failure(self, node: StateNode, exc: StatesError) -> StatesError:
        """Give an interpreter error AWS's cause prefix (and an EvaluationFailed event for JSONata)."""
        if exc.error in _PREFIXED and exc.state is None:
            prefix = (f"An error occurred while executing the state '{node.name}' "
                      f"(entered at the event id #{self.entered_id}).")
            cause = f"{prefix} {exc.cause}" if exc.cause else prefix
            failure = StatesError(exc.error, cause, state=node.name, field=exc.field, path=exc.path)
            if exc.error == QUERY_EVALUATION_ERROR:
                self.emit("EvaluationFailed", {"error": exc.error, "cause": cause,
                                               "location": exc.field, "state": node.name})
            return failure
        return exc

    def run_state(self, node: StateNode, value: Any) -> tuple[Any, str | None]:
        self.enter(node, value)
        try:
            return node.execute(self, value)
        except StatesError as exc:
            failure = self.failure(node, exc)
            if failure is exc:
                raise
            raise failure from None


def run_graph(frame: Frame, graph: Graph, value: Any) -> Any:
    """Walk ``graph`` from its StartAt until a terminal state; returns the output or raises StatesError."""
    name: str | None = graph.start_at
    states = graph.states
    while name is not None:
        value, name = frame.run_state(states[name], value)
    return value


def new_task_token(run: Run, entered_id: int, attempt: int) -> str:
    """Deterministic per (execution, state entry, attempt) so that a replay re-derives the same token."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{run.execution_arn}#{entered_id}#{attempt}"))
