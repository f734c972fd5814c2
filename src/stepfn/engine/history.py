"""Execution history: events shaped like one botocore ``GetExecutionHistory`` ``events[]`` item.

Every event has ``timestamp`` (aware datetime), ``type``, ``id`` (1-based, in order of recording),
``previousEventId`` (the event before it on the same thread of control: a Map iteration's first event
points at its ``MapIterationStarted``) and at most one ``<camelCase>EventDetails`` member.

Recording is cheap: payloads are kept as Python values and turned into JSON text only when the event
is materialised (``History.events()``), unless a :class:`Journal` needs the event durably at once.

Replay. Given the events of an earlier run (``prior``), the history matches each newly recorded event
against them by type and details, in order of occurrence; a matched event is not recorded again and
keeps its original id and timestamp. That makes resuming after a crash and redrive deterministic re-runs
of the interpreter: only events past the end of the prior history are new.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

from stepfn.asl.paths import compact_json, json_encoder
from stepfn.engine.clock import Clock, SystemClock

__all__ = [
    "DETAILS_KEY", "MAX_HISTORY_EVENTS", "NOT_REPLAYED", "Assigned", "BufferedHistory", "EncodedEvent", "EventRecorder", "History", "Journal", "Payload", "as_datetime",
    "details_member", "redriven_work",
]


# Events are written to the journal in batches of at most this many (and at every checkpoint).
JOURNAL_BATCH = 256
# AWS's hard quota: event 25,000 is ExecutionSucceeded or the execution fails (ExecutionFailed is that event).
MAX_HISTORY_EVENTS = 25_000
_ENDINGS = frozenset({"ExecutionSucceeded", "ExecutionFailed", "ExecutionAborted", "ExecutionTimedOut"})
# Execution-level events of an earlier run that a resumed or redriven execution (a Map Run's child included)
# never records again.
NOT_REPLAYED = frozenset({*_ENDINGS, "ExecutionStarted", "ExecutionRedriven"})


class Journal(Protocol):
    """Durable storage of one execution's events (owned by the store)."""

    def append(self, event: dict[str, Any]) -> None:
        """Persist ``event``; durable before it returns.

        A journal may also offer ``append_many(events)`` (one transaction), or ``append_encoded(rows)``: the
        same for events already encoded as :data:`EncodedEvent` rows, which spares building each event's
        dict only to encode it (a 1,000-item Map writes 4,006 events); the engine uses the first of these
        present, and the Map Run hooks of :class:`stepfn.engine.map.MapRunObserver` (``map_run_started`` ...) to
        report the distributed Map runs of the execution."""
        ...

    def events(self) -> list[dict[str, Any]]:
        ...


# Event type -> its details member, as botocore's HistoryEvent shape names them.
DETAILS_KEY: dict[str, str] = {
    "ExecutionStarted": "executionStartedEventDetails",
    "ExecutionSucceeded": "executionSucceededEventDetails",
    "ExecutionFailed": "executionFailedEventDetails",
    "ExecutionAborted": "executionAbortedEventDetails",
    "ExecutionTimedOut": "executionTimedOutEventDetails",
    "ExecutionRedriven": "executionRedrivenEventDetails",
    "MapStateStarted": "mapStateStartedEventDetails",
    "MapIterationStarted": "mapIterationStartedEventDetails",
    "MapIterationSucceeded": "mapIterationSucceededEventDetails",
    "MapIterationFailed": "mapIterationFailedEventDetails",
    "MapIterationAborted": "mapIterationAbortedEventDetails",
    "MapRunStarted": "mapRunStartedEventDetails",
    "MapRunFailed": "mapRunFailedEventDetails",
    "MapRunRedriven": "mapRunRedrivenEventDetails",
    "TaskScheduled": "taskScheduledEventDetails",
    "TaskStarted": "taskStartedEventDetails",
    "TaskSubmitted": "taskSubmittedEventDetails",
    "TaskSucceeded": "taskSucceededEventDetails",
    "TaskFailed": "taskFailedEventDetails",
    "TaskTimedOut": "taskTimedOutEventDetails",
    "TaskStartFailed": "taskStartFailedEventDetails",
    "TaskSubmitFailed": "taskSubmitFailedEventDetails",
    "LambdaFunctionScheduled": "lambdaFunctionScheduledEventDetails",
    "LambdaFunctionSucceeded": "lambdaFunctionSucceededEventDetails",
    "LambdaFunctionFailed": "lambdaFunctionFailedEventDetails",
    "LambdaFunctionTimedOut": "lambdaFunctionTimedOutEventDetails",
    "LambdaFunctionStartFailed": "lambdaFunctionStartFailedEventDetails",
    "LambdaFunctionScheduleFailed": "lambdaFunctionScheduleFailedEventDetails",
    "ActivityScheduled": "activityScheduledEventDetails",
    "ActivityStarted": "activityStartedEventDetails",
    "ActivitySucceeded": "activitySucceededEventDetails",
    "ActivityFailed": "activityFailedEventDetails",
    "ActivityTimedOut": "activityTimedOutEventDetails",
    "ActivityScheduleFailed": "activityScheduleFailedEventDetails",
    "EvaluationFailed": "evaluationFailedEventDetails",
}


def details_member(event_type: str) -> str | None:
    if event_type in DETAILS_KEY:
        return DETAILS_KEY[event_type]
    if event_type.endswith("StateEntered"):
        return "stateEnteredEventDetails"
    if event_type.endswith("StateExited"):
        return "stateExitedEventDetails"
    return None


# Details keys that carry a JSON payload, and the "...Details" member AWS puts beside each.
_PAYLOAD_KEYS = {"input": "inputDetails", "output": "outputDetails", "parameters": None}


# An event as recorded: (type, id, previousEventId, timestamp, details). A tuple is the cheapest record;
# it becomes the botocore-shaped dict only when someone reads the history.
_Event = tuple[str, int, int, "datetime | float", "dict[str, Any] | None"]

# An event as a journal stores it: (id, type, timestamp, body), where body is the compact JSON text (ASCII
# only) of the event less those three members, ``{"previousEventId":N,"<details member>":{...}}``.
EncodedEvent = tuple[int, str, datetime, str]


def as_datetime(stamp: datetime | float) -> datetime:
    """A recorded timestamp as an aware datetime (wall-clock stamps are recorded as epoch floats)."""
    return stamp if isinstance(stamp, datetime) else datetime.fromtimestamp(stamp, UTC)


# details_member per event type, filled as types are seen (every event is materialised or encoded).
_MEMBERS: dict[str, str | None] = {}


def _member(event_type: str) -> str | None:
    try:
        return _MEMBERS[event_type]
    except KeyError:
        member = _MEMBERS[event_type] = details_member(event_type)
        return member


def _materialise(event: _Event) -> dict[str, Any]:
    event_type, event_id, previous_id, stamp, details = event
    timestamp = stamp if type(stamp) is datetime else as_datetime(stamp)
    record: dict[str, Any] = {"timestamp": timestamp, "type": event_type, "id": event_id,
                              "previousEventId": previous_id}
    member = _member(event_type)
    if member is not None:
        record[member] = _render_details(details) if details else {}
    return record


# No ``default``: a value plain JSON cannot hold raises TypeError, and the batch goes the journal's own way
# (``append_many``), which knows how it stores such values. A body is built here from the engine's details,
# whose payloads are already JSON text, so it cannot be circular.
_encode_body = json_encoder(check_circular=False)


def _encode(event: _Event) -> EncodedEvent:
    event_type, event_id, previous_id, stamp, details = event
    member = _member(event_type)
    body: dict[str, Any] = {"previousEventId": previous_id}
    if member is not None:
        body[member] = _render_details(details) if details else {}
    return event_id, event_type, stamp if type(stamp) is datetime else as_datetime(stamp), _encode_body(body)


class Payload:
    """A JSON value in event details, serialised only when the event is materialised."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


class Assigned:
    """``assignedVariables``: variable name -> value, rendered as name -> JSON text."""

    __slots__ = ("values",)

    def __init__(self, values: Mapping[str, Any]) -> None:
        self.values = values


def _render_details(details: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in details.items():
        if isinstance(value, Assigned):
            out[key] = {name: compact_json(item) for name, item in value.values.items()}
        elif isinstance(value, Payload):
            out[key] = compact_json(value.value)
            companion = _PAYLOAD_KEYS.get(key)
            if companion:
                out[companion] = {"truncated": False}
        elif value is not None:
            out[key] = value
    return out


def _signature(event_type: str, details: dict[str, Any] | None) -> tuple[str, str]:
    rendered = _render_details(details or {}) if details else {}
    return event_type, compact_json(rendered)


def _prior_signature(event: dict[str, Any]) -> tuple[str, str]:
    member = details_member(event["type"])
    details = event.get(member, {}) if member else {}
    return event["type"], compact_json(details or {})


_PROVISIONAL = itertools.count(1)


# A task attempt: its scheduled event, the started one after it, and the event of its success.
_ATTEMPTS = {
    "TaskScheduled": ("TaskStarted", "TaskSucceeded"),
    "LambdaFunctionScheduled": ("LambdaFunctionStarted", "LambdaFunctionSucceeded"),
    "ActivityScheduled": ("ActivityStarted", "ActivitySucceeded"),
}
_UNSUCCESSFUL = ("Failed", "Aborted", "TimedOut")


def redriven_work(events: list[dict[str, Any]], before: int) -> frozenset[int]:
    """Ids of the events (with ids below ``before``) of work a redrive runs again.

    AWS redrives the states that have a ``...StateEntered`` and no ``...StateExited`` (AWS guide, "Redriving
    Map Runs"): inside those, the task attempts are rescheduled (a new ``TaskScheduled`` ... ) and failures
    are recorded anew (``MapIterationFailed``, ``MapStateFailed`` ...); the states themselves, and every state
    that did exit (a caught failure included), are continued as recorded. An event's enclosing states follow
    from ``previousEventId``: an ``Entered`` opens a state for the events after it, an ``Exited`` closes it.
    """
    by_id = {int(event["id"]): event for event in events if int(event["id"]) < before}
    enclosing: dict[int, tuple[int, ...]] = {}
    exited: set[int] = set()
    for event_id in sorted(by_id):
        event = by_id[event_id]
        previous = int(event.get("previousEventId") or 0)
        outer = enclosing.get(previous, ())
        if previous in by_id and by_id[previous]["type"].endswith("StateExited"):
            outer = outer[:-1]
        kind = event["type"]
        if kind.endswith("StateExited") and outer:
            exited.add(outer[-1])
        enclosing[event_id] = (*outer, event_id) if kind.endswith("StateEntered") else outer
    children: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for event in by_id.values():
        children[int(event.get("previousEventId") or 0)].append(event)
    rerun: set[int] = set()
    for event_id, event in by_id.items():
        states = enclosing[event_id]
        if not states or any(state in exited for state in states):
            continue
        kind = event["type"]
        if kind.endswith(_UNSUCCESSFUL):
            rerun.add(event_id)
        elif kind in _ATTEMPTS:
            started, succeeded = _ATTEMPTS[kind]
            starts = [child for child in children[event_id] if child["type"] == started]
            if not any(c["type"] == succeeded for start in starts for c in children[int(start["id"])]):
                rerun.add(event_id)
                rerun.update(int(start["id"]) for start in starts)
    return frozenset(rerun)


class EventRecorder(Protocol):
    """What frames record events into: the execution's :class:`History` or a :class:`BufferedHistory`."""

    replaying: bool
    prior: list[dict[str, Any]]

    def add(self, event_type: str, previous_id: int, details: dict[str, Any] | None = None
            ) -> tuple[int, datetime | float]: ...

    def children(self, event_id: int) -> list[dict[str, Any]]: ...

    def checkpoint(self) -> None: ...

    def concurrently(self) -> contextlib.AbstractContextManager[None]: ...


class BufferedHistory:
    """Events of one inline Parallel branch, held back until :meth:`History.flush` orders them.

    Provisional ids are negative; a branch's first event points at the real ``ParallelStateStarted``."""

    replaying = False

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self.events: list[tuple[int, str, int, dict[str, Any] | None]] = []
        self.prior: list[dict[str, Any]] = []

    def add(self, event_type: str, previous_id: int, details: dict[str, Any] | None = None
            ) -> tuple[int, datetime | float]:
        provisional = -next(_PROVISIONAL)
        self.events.append((provisional, event_type, previous_id, details))
        return provisional, self._clock.now()

    def children(self, event_id: int) -> list[dict[str, Any]]:
        return []

    def checkpoint(self) -> None:
        """Nothing to make durable until the branch's events are flushed into the real history."""

    @contextlib.contextmanager
    def concurrently(self) -> Iterator[None]:
        yield


class History:
    """The recorder of one execution's events (thread-safe)."""

    def __init__(self, clock: Clock, journal: Journal | None = None,
                 prior: Iterable[dict[str, Any]] = (), *, unmatchable: frozenset[str] = frozenset(),
                 redriven_before: int = 0) -> None:
        """``unmatchable``: event types of ``prior`` that new events never replay. ``redriven_before``: the id
        before which the prior events are an earlier attempt that a redrive continues: the work it did not
        finish (see :func:`redriven_work`) runs again and is recorded anew."""
        self._clock = clock
        # Wall-clock events keep a float (cheap) and become datetimes when materialised.
        self._stamp: Callable[[], Any] = time.time if type(clock) is SystemClock else clock.now
        self._threads = 0
        self._journal = journal
        self._lock = threading.Lock()
        self._events: list[_Event] = []
        self._materialised: list[dict[str, Any]] = []
        self._pending: list[_Event] = []
        self.closed = False
        self.prior: list[dict[str, Any]] = list(prior)
        self._unmatched: dict[tuple[str, str], deque[dict[str, Any]]] = defaultdict(deque)
        self._children: dict[int, list[dict[str, Any]]] = defaultdict(list)
        rerun = redriven_work(self.prior, redriven_before) if redriven_before else frozenset()
        for event in self.prior:
            if event["type"] not in unmatchable and int(event["id"]) not in rerun:
                self._unmatched[_prior_signature(event)].append(event)
            self._children[int(event.get("previousEventId") or 0)].append(event)
        self._prior_last = max((int(e["id"]) for e in self.prior), default=0)
        self._ids = itertools.count(self._prior_last + 1)
        self._remaining = sum(len(queue) for queue in self._unmatched.values())
        self.replaying = self._remaining > 0
        # Called (outside the lock) when an event would be the 25,000th; the engine fails the execution.
        self.on_limit: Callable[[], None] | None = None

    def add(self, event_type: str, previous_id: int, details: dict[str, Any] | None = None
            ) -> tuple[int, datetime | float]:
        """Record an event; returns its id and timestamp (those of the prior event it replays, if any)."""
        # An event that follows a new one is new too: prior events only ever follow prior events. (Without
        # this, a rerun task's TaskStarted could take the place of a sibling iteration's, not yet replayed.)
        if self.replaying and previous_id <= self._prior_last:
            signature = _signature(event_type, details)
            with self._lock:
                queue = self._unmatched.get(signature)
                if queue:
                    prior = queue.popleft()
                    self._remaining -= 1
                    # Once every prior event is matched, stop computing signatures.
                    self.replaying = self._remaining > 0
                    return int(prior["id"]), prior["timestamp"]
        if not self._threads and self._journal is None:
            # One thread of control and nothing to write: no lock needed (the hot path of inline Maps).
            now = self._stamp()
            if self.closed:
                return 0, now
            event_id = next(self._ids)
            if event_id >= MAX_HISTORY_EVENTS and event_type not in _ENDINGS:
                return self._over_limit(event_id, now)
            self._events.append((event_type, event_id, previous_id, now, details))
            return event_id, now
        with self._lock:
            # Timestamp and id under one lock, so that ids never go back in time across branches.
            now = self._stamp()
            if self.closed:
                return 0, now
            event_id = next(self._ids)
            full = event_id >= MAX_HISTORY_EVENTS and event_type not in _ENDINGS
            if not full:
                event = (event_type, event_id, previous_id, now, details)
                self._events.append(event)
                if self._journal is not None:
                    self._pending.append(event)
                    if len(self._pending) >= JOURNAL_BATCH:
                        self._flush()
        if full:
            return self._over_limit(event_id, now)
        return event_id, now

    @property
    def journal(self) -> Journal | None:
        return self._journal

    def _over_limit(self, event_id: int, now: Any) -> tuple[int, Any]:
        self._ids = itertools.count(event_id)  # the ExecutionFailed the engine records takes this id
        if self.on_limit is not None:
            self.on_limit()
        return 0, now

    @contextlib.contextmanager
    def concurrently(self) -> Iterator[None]:
        """Around work that records events from several threads at once (a Map or Parallel pool)."""
        with self._lock:
            self._threads += 1
        try:
            yield
        finally:
            with self._lock:
                self._threads -= 1

    def checkpoint(self) -> None:
        """Make every event recorded so far durable in the journal.

        The engine calls this before anything that has effects outside the interpreter or takes time
        (dispatching a task, Wait, a retry delay) and when the execution ends. Events between
        checkpoints belong to pure states: if the process dies, replay derives them again.
        """
        if self._journal is not None:
            with self._lock:
                self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        assert self._journal is not None
        append_encoded = getattr(self._journal, "append_encoded", None)
        if append_encoded is not None:
            try:
                rows = [_encode(event) for event in self._pending]
            except TypeError:  # a value plain JSON cannot hold: the journal encodes it its own way below
                rows = None
            if rows is not None:
                self._pending.clear()
                append_encoded(rows)
                return
        batch = [_materialise(event) for event in self._pending]
        self._pending.clear()
        append_many = getattr(self._journal, "append_many", None)
        if append_many is not None:
            append_many(batch)
        else:
            for event in batch:
                self._journal.append(event)

    def flush(self, buffers: list[BufferedHistory]) -> int:
        """Record the events of inline Parallel branches the way AWS orders them: every branch's
        ``*StateEntered`` events first, then the rest, each group in branch order. Returns the last id."""
        ordered = sorted(
            (event for buffer in buffers for event in buffer.events),
            key=lambda event: 0 if event[1].endswith("Entered") else 1,
        )
        real: dict[int, int] = {}
        last = 0
        for provisional, event_type, previous, details in ordered:
            event_id, _ = self.add(event_type, real.get(previous, previous), details)
            real[provisional] = event_id
            last = event_id
        return last

    def close(self) -> None:
        with self._lock:
            if self._journal is not None:
                self._flush()
            self.closed = True

    def children(self, event_id: int) -> list[dict[str, Any]]:
        """Prior events recorded right after ``event_id`` on the same thread of control."""
        return self._children.get(event_id, [])

    def events(self) -> list[dict[str, Any]]:
        """Every event, prior ones included, as botocore-shaped dicts in id order."""
        with self._lock:
            if len(self._materialised) != len(self._events):
                done = len(self._materialised)
                self._materialised.extend(_materialise(event) for event in self._events[done:])
            return [*self.prior, *self._materialised] if self.prior else list(self._materialised)

    def __len__(self) -> int:
        return len(self._events) + len(self.prior)
