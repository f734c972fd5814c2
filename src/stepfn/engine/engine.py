"""The engine: start, wait for, stop, resume and redrive executions of compiled definitions.

Each execution runs on its own background thread (``Engine.start``); ``ExecutionHandle.wait`` blocks
for its :class:`ExecutionResult`. Stop and the execution-level ``TimeoutSeconds`` finish the execution
at once (``ExecutionAborted`` / ``ExecutionTimedOut``), whatever its thread is doing; the thread then
unwinds at its next state or wait without recording anything more.

Resume and redrive replay the execution's journal (see :mod:`stepfn.engine.history`): states already
done are re-derived, never re-run; a task recorded as scheduled but unfinished is dispatched again with
``resumed=True``; on redrive, failed tasks run again.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from stepfn.asl.paths import compact_json
from stepfn.engine.clock import Clock, SystemClock, wait_until
from stepfn.engine.definition import Graph, compile_definition
from stepfn.engine.history import MAX_HISTORY_EVENTS, NOT_REPLAYED, History, Journal, Payload
from stepfn.engine.protocol import TaskHandler
from stepfn.engine.runtime import MAX_PAYLOAD_BYTES, Frame, Halt, Run, Variables, run_graph
from stepfn.engine.task import TokenRegistry
from stepfn.errors import StatesError

logger = logging.getLogger(__name__)

__all__ = ["Engine", "ExecutionHandle", "ExecutionResult"]

_TERMINAL = {
    "ExecutionSucceeded": "SUCCEEDED",
    "ExecutionFailed": "FAILED",
    "ExecutionAborted": "ABORTED",
    "ExecutionTimedOut": "TIMED_OUT",
}


@dataclass(frozen=True)
class ExecutionResult:
    """How an execution ended. ``events`` is its whole history (botocore ``GetExecutionHistory`` items)."""

    status: str
    output: str | None
    error: str | None
    cause: str | None
    start_date: datetime
    stop_date: datetime
    history: History = field(repr=False, compare=False)

    @property
    def events(self) -> list[dict[str, Any]]:
        return self.history.events()

    @property
    def output_value(self) -> Any:
        return json.loads(self.output) if self.output is not None else None


class ExecutionHandle:
    """A running (or finished) execution."""

    def __init__(self, run: Run, graph: Graph, history: History) -> None:
        self.run = run
        self.graph = graph
        self.history = history
        """The execution's whole history (``run.history`` is the same object)."""
        self.version_arn: str | None = None
        self.alias_arn: str | None = None
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._result: ExecutionResult | None = None
        self._callbacks: list[Callable[[ExecutionHandle], None]] = []
        self._started_event = 0  # the id of its ExecutionStarted (_begin)
        history.on_limit = self._history_full

    @property
    def execution_arn(self) -> str:
        return self.run.execution_arn

    @property
    def events(self) -> list[dict[str, Any]]:
        return self.history.events()

    @property
    def logs(self) -> list[str]:
        return list(self.run.logs)

    def done(self) -> bool:
        return self._done.is_set()

    def wait(self, timeout: float | None = None) -> ExecutionResult:
        """Block until the execution ends; TimeoutError if it is still running after ``timeout`` seconds."""
        if not self._done.wait(timeout):
            raise TimeoutError(f"execution {self.run.execution_arn} still running after {timeout} s")
        assert self._result is not None
        return self._result

    def add_done_callback(self, callback: Callable[[ExecutionHandle], None]) -> None:
        """Call ``callback(handle)`` once the execution has ended, on the thread that ended it (at once if it
        already has): what a watcher thread per execution would do, without starting one."""
        with self._lock:
            if self._result is None:
                self._callbacks.append(callback)
                return
        callback(self)

    def stop(self, error: str | None = None, cause: str | None = None) -> ExecutionResult:
        """Abort (AWS StopExecution): records ``ExecutionAborted`` unless the execution already ended."""
        self.run.halt("ABORTED", error, cause)
        self._finish("ABORTED", None, error, cause, "ExecutionAborted", {"error": error, "cause": cause})
        return self.wait()

    def _history_full(self) -> None:
        cause = f"The execution reached the maximum number of history events ({MAX_HISTORY_EVENTS})."
        if self.run.halt("FAILED", "States.Runtime", cause):
            self._finish("FAILED", None, "States.Runtime", cause, "ExecutionFailed",
                         {"error": "States.Runtime", "cause": cause})

    def _time_out(self) -> None:
        cause = "The execution exceeded its TimeoutSeconds."
        if self.run.halt("TIMED_OUT", "States.Timeout", cause):
            self._finish("TIMED_OUT", None, "States.Timeout", cause, "ExecutionTimedOut",
                         {"error": "States.Timeout", "cause": cause})

    def _finish(self, status: str, output: Any, error: str | None, cause: str | None, event: str | None,
                details: dict[str, Any] | None, last_event: int | None = None) -> None:
        with self._lock:
            if self._result is not None:
                return
            history = self.history
            if event is not None:
                previous = last_event if last_event is not None else len(history)
                history.replaying = False
                history.add(event, previous, details)
            history.close()
            self._result = ExecutionResult(
                status=status,
                output=compact_json(output) if status == "SUCCEEDED" else None,
                error=error,
                cause=cause,
                start_date=self.run.start_time,
                stop_date=self.run.clock.now(),
                history=history,
            )
            callbacks, self._callbacks = self._callbacks, []
        self._done.set()
        for callback in callbacks:
            try:
                callback(self)
            except Exception:  # a watcher failing must not take the execution's thread down with it
                logger.exception("a done-callback of execution %s failed", self.run.execution_arn)

    def _begin(self, started_previous: int, redriven: int | None) -> None:
        """Record ``ExecutionStarted`` (``ExecutionRedriven`` for a redrive) before the execution's thread runs:
        a stop that comes first (before a loaded machine schedules that thread) must find it, as every history
        begins with it and a redrive reads the input from it."""
        frame = Frame(self.run, Variables(), 0)
        prior = self.run.history.prior
        if prior and prior[0]["type"] == "ExecutionStarted":
            # Resume or redrive: the execution started long ago, however it is being continued now.
            frame.last_event = int(prior[0]["id"])
        else:
            frame.emit("ExecutionStarted", {
                "input": Payload(self.run.input), "roleArn": self.run.role_arn,
                "stateMachineAliasArn": self.alias_arn, "stateMachineVersionArn": self.version_arn})
        self._started_event = frame.last_event
        if redriven is not None:
            frame.last_event = started_previous
            frame.emit("ExecutionRedriven", {"redriveCount": redriven})
            # The states replay along their recorded chain (from ExecutionStarted); the redriven work follows it.

    def _execute(self) -> None:
        run = self.run
        frame = Frame(run, Variables(), 0)
        frame.last_event = self._started_event
        try:
            if len(compact_json(run.input).encode()) > MAX_PAYLOAD_BYTES:
                raise StatesError("States.DataLimitExceeded",
                                  "The execution input exceeds the maximum number of bytes service limit.")
            output = run_graph(frame, self.graph, run.input)
            if len(compact_json(output).encode()) > MAX_PAYLOAD_BYTES:
                raise StatesError("States.DataLimitExceeded",
                                  "The state/task returned a result with a size exceeding the maximum number "
                                  "of bytes service limit.")
            self._finish("SUCCEEDED", output, None, None, "ExecutionSucceeded",
                         {"output": Payload(output)}, frame.last_event)
        except StatesError as exc:
            self._finish("FAILED", None, exc.error, exc.cause, "ExecutionFailed",
                         {"error": exc.error, "cause": exc.cause}, frame.last_event)
        except Halt:
            # stop() or the timeout watchdog already recorded how the execution ended.
            self._done.wait()
        except Exception as exc:  # an engine bug must still end the execution, not hang wait()
            cause = f"Internal engine error: {exc!r}"
            self._finish("FAILED", None, "States.Runtime", cause, "ExecutionFailed",
                         {"error": "States.Runtime", "cause": cause}, frame.last_event)


def _default_uuid() -> str:
    return str(uuid.uuid4())


class Engine:
    """Runs ASL definitions. ``handlers`` maps ``"<service>:<action>"`` (or ``"<service>:*"``, ``"*"``) to
    task handlers; ``clock`` defaults to wall-clock time; ``new_uuid`` feeds ``States.UUID``/``$uuid()``."""

    def __init__(self, handlers: Mapping[str, TaskHandler] | None = None, clock: Clock | None = None, *,
                 new_uuid: Callable[[], str] | None = None) -> None:
        self.handlers: dict[str, TaskHandler] = dict(handlers or {})
        self.clock: Clock = clock or SystemClock()
        self.new_uuid = new_uuid or _default_uuid
        self.tokens = TokenRegistry()
        self._lock = threading.Lock()
        self._running: dict[str, ExecutionHandle] = {}

    # ------------------------------------------------------------------------------------------ start
    def start(
        self,
        definition: dict[str, Any] | str,
        input: Any = None,
        *,
        execution_arn: str,
        state_machine_arn: str,
        name: str,
        role_arn: str | None = None,
        journal: Journal | None = None,
        resume: bool = False,
        mock: Any = None,
        version_arn: str | None = None,
        alias_arn: str | None = None,
    ) -> ExecutionHandle:
        """Start an execution on a background thread. With ``resume``, replay ``journal`` and carry on.

        ``mock``: a :class:`~stepfn.engine.mocking.MockTestCase`; ``version_arn`` / ``alias_arn``: what the
        execution was started through, recorded in ``ExecutionStarted`` as AWS does."""
        graph = compile_definition(definition)
        prior = journal.events() if (resume and journal is not None) else []
        if prior:
            started = prior[0]
            start_time = started["timestamp"]
            details = started.get("executionStartedEventDetails", {})
            if "input" in details:
                input = json.loads(details["input"])
            terminal = _terminal(prior)
            if terminal is not None:
                return self._finished(graph, prior, terminal, execution_arn, state_machine_arn, name, role_arn,
                                      input, start_time)
        else:
            start_time = self.clock.now()
        # Resuming a redriven execution keeps its redrive count, and the work the redrive reran runs again.
        redriven = [event for event in prior if event["type"] == "ExecutionRedriven"]
        history = History(self.clock, journal, prior, unmatchable=NOT_REPLAYED,
                          redriven_before=int(redriven[-1]["id"]) if redriven else 0)
        redrives = (len(redriven), redriven[-1]["timestamp"] if redriven else None)
        run = self._run(graph, history, execution_arn, state_machine_arn, name, role_arn, input, start_time, mock,
                        redrives=redrives)
        handle = self._launch(run, graph, history, 0, None, (version_arn, alias_arn))
        return handle

    def redrive(
        self,
        definition: dict[str, Any] | str,
        *,
        journal: Journal,
        execution_arn: str,
        state_machine_arn: str,
        name: str,
        role_arn: str | None = None,
        mock: Any = None,
    ) -> ExecutionHandle:
        """Redrive a FAILED/TIMED_OUT/ABORTED execution from its journal (AWS RedriveExecution): the
        prior events stay, ``ExecutionRedriven`` is appended and unsuccessful work runs again."""
        graph = compile_definition(definition)
        prior = journal.events()
        if not prior or _terminal(prior) in (None, "SUCCEEDED"):
            raise StatesError("ExecutionNotRedrivable", f"execution {execution_arn} has not failed")
        details = prior[0].get("executionStartedEventDetails", {})
        input = json.loads(details["input"]) if "input" in details else None
        count = sum(1 for e in prior if e["type"] == "ExecutionRedriven") + 1
        # Terminal execution events of the earlier run never match new ones, nor does the work it left undone.
        history = History(self.clock, journal, prior, unmatchable=NOT_REPLAYED,
                          redriven_before=int(prior[-1]["id"]) + 1)
        run = self._run(graph, history, execution_arn, state_machine_arn, name, role_arn, input,
                        prior[0]["timestamp"], mock, redrives=(count, self.clock.now()))
        return self._launch(run, graph, history, int(prior[-1]["id"]), count)

    def run(self, definition: dict[str, Any] | str, input: Any = None, **kwargs: Any) -> ExecutionResult:
        """``start`` then ``wait``."""
        return self.start(definition, input, **kwargs).wait()

    def handle(self, execution_arn: str) -> ExecutionHandle | None:
        with self._lock:
            return self._running.get(execution_arn)

    # ------------------------------------------------------------------------------------------ tokens
    def send_task_success(self, task_token: str, output: str) -> None:
        self.tokens.succeed(task_token, output)

    def send_task_failure(self, task_token: str, error: str | None = None, cause: str | None = None) -> None:
        self.tokens.fail(task_token, error, cause)

    def send_task_heartbeat(self, task_token: str) -> None:
        self.tokens.heartbeat(task_token)

    # ------------------------------------------------------------------------------------------ TestState
    def test_state(self, state_definition: dict[str, Any], input: Any = None, **kwargs: Any) -> dict[str, Any]:
        """Run one state as AWS TestState does; see :mod:`stepfn.engine.teststate`."""
        from stepfn.engine.teststate import test_state

        return test_state(self, state_definition, input, **kwargs)

    # ------------------------------------------------------------------------------------------ internals
    def _run(self, graph: Graph, history: History, execution_arn: str, state_machine_arn: str, name: str,
             role_arn: str | None, input: Any, start_time: datetime, mock: Any,
             redrives: tuple[int, datetime | None] = (0, None)) -> Run:
        """``redrives``: how many times the execution was redriven and when last."""
        return Run(
            execution_arn=execution_arn,
            state_machine_arn=state_machine_arn,
            name=name,
            role_arn=role_arn,
            input=input,
            clock=self.clock,
            history=history,
            handlers=self.handlers,
            new_uuid=self.new_uuid,
            start_time=start_time,
            tokens=self.tokens,
            mock=mock.start() if hasattr(mock, "start") else mock,
            redrive_count=redrives[0],
            redrive_time=redrives[1],
        )

    def _launch(self, run: Run, graph: Graph, history: History, started_previous: int,
                redriven: int | None, started_via: tuple[str | None, str | None] = (None, None)) -> ExecutionHandle:
        handle = ExecutionHandle(run, graph, history)
        handle.version_arn, handle.alias_arn = started_via
        handle._begin(started_previous, redriven)
        with self._lock:
            self._running[run.execution_arn] = handle
        thread = threading.Thread(target=self._main, args=(handle,),
                                  name=f"stepfn-exec-{run.name}", daemon=True)
        thread.start()
        if graph.timeout_seconds:
            threading.Thread(target=self._watch, args=(handle, float(graph.timeout_seconds)),
                             name=f"stepfn-timeout-{run.name}", daemon=True).start()
        return handle

    def _main(self, handle: ExecutionHandle) -> None:
        try:
            handle._execute()
        finally:
            with self._lock:
                self._running.pop(handle.run.execution_arn, None)

    def _watch(self, handle: ExecutionHandle, timeout: float) -> None:
        deadline = handle.run.start_time + timedelta(seconds=timeout)
        ended = threading.Event()
        handle.add_done_callback(lambda _: ended.set())
        while not handle.done():
            if self.clock.now() >= deadline:
                handle._time_out()
                return
            wait_until(self.clock, deadline, ended)

    def _finished(self, graph: Graph, prior: list[dict[str, Any]], status: str, execution_arn: str,
                  state_machine_arn: str, name: str, role_arn: str | None, input: Any,
                  start_time: datetime) -> ExecutionHandle:
        history = History(self.clock, None, prior)
        run = self._run(graph, history, execution_arn, state_machine_arn, name, role_arn, input, start_time, None)
        handle = ExecutionHandle(run, graph, history)
        last = prior[-1]
        details: dict[str, Any] = next((v for k, v in last.items() if k.endswith("EventDetails")), {})
        output = json.loads(details["output"]) if "output" in details else None
        handle._finish(status, output, details.get("error"), details.get("cause"), None, None)
        return handle


def _terminal(events: list[dict[str, Any]]) -> str | None:
    for event in reversed(events):
        status = _TERMINAL.get(event["type"])
        if status is not None:
            redriven_after = any(e["type"] == "ExecutionRedriven" and e["id"] > event["id"] for e in events)
            return None if redriven_after else status
    return None
