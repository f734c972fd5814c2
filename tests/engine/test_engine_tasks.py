"""Task dispatch, task tokens, stop, and several executions at once."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from engine_helpers import identity, machine, run, types
from test_engine_replay import MemoryJournal

from stepfn.engine import Engine, ScaledClock, SystemClock, TaskControl, TaskRequest, UnknownTaskToken, parse_resource


def test_resource_parsing() -> None:
    sync = parse_resource("arn:aws:states:::sagemaker:createTrainingJob.sync")
    assert (sync.service, sync.action, sync.pattern, sync.event_resource) == (
        "sagemaker", "createTrainingJob", "sync", "createTrainingJob.sync")
    assert parse_resource("arn:aws:states:::states:startExecution.sync:2").pattern == "sync:2"
    token = parse_resource("arn:aws:states:::sqs:sendMessage.waitForTaskToken")
    assert (token.service, token.action, token.pattern) == ("sqs", "sendMessage", "wait_for_task_token")
    fn = parse_resource("arn:aws:lambda:us-east-1:123456789012:function:f")
    assert (fn.kind, fn.service, fn.action) == ("lambda", "lambda", "invoke")
    sdk = parse_resource("arn:aws:states:::aws-sdk:s3:listBuckets")
    assert (sdk.service, sdk.action) == ("aws-sdk:s3", "listBuckets")


def test_handler_lookup_order_and_request_fields() -> None:
    seen: dict[str, Any] = {}

    def exact(request: TaskRequest, control: TaskControl) -> Any:
        seen["exact"] = request
        return "exact"

    handlers = {"sagemaker:createModel": exact, "sagemaker:*": lambda r, c: "service", "*": lambda r, c: "any"}
    definition = {"StartAt": "A", "States": {
        "A": {"Type": "Task", "Resource": "arn:aws:states:::sagemaker:createModel",
              "Parameters": {"ModelName.$": "$.name"}, "ResultPath": "$.a", "Next": "B"},
        "B": {"Type": "Task", "Resource": "arn:aws:states:::sagemaker:createEndpoint", "ResultPath": "$.b",
              "Next": "C"},
        "C": {"Type": "Task", "Resource": "arn:aws:states:::sns:publish", "ResultPath": "$.c", "End": True}}}
    result = run(definition, {"name": "m"}, handlers=handlers)
    assert result.output_value == {"name": "m", "a": "exact", "b": "service", "c": "any"}
    request = seen["exact"]
    assert (request.service, request.action, request.pattern, request.state_name) == (
        "sagemaker", "createModel", "request_response", "A")
    assert request.parameters == {"ModelName": "m"}
    assert request.context["State"]["Name"] == "A" and request.attempt == 0 and not request.resumed


def test_lambda_function_arn_gets_function_name_and_payload_and_returns_the_payload() -> None:
    def invoke(request: TaskRequest, control: TaskControl) -> Any:
        return {"StatusCode": 200, "Payload": {"got": request.parameters}}

    arn = "arn:aws:lambda:us-east-1:123456789012:function:f"
    result = run(machine(T={"Type": "Task", "Resource": arn}), {"x": 1}, handlers={"lambda:invoke": invoke})
    assert result.output_value == {"got": {"FunctionName": arn, "Payload": {"x": 1}}}
    assert types(result)[2:5] == ["LambdaFunctionScheduled", "LambdaFunctionStarted", "LambdaFunctionSucceeded"]


def test_history_event_shapes_match_botocore() -> None:
    result = run(machine(T={"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                            "Parameters": {"FunctionName": "f"}}), handlers={"lambda:invoke": lambda r, c: {"ok": 1}})
    events = result.events
    assert [e["id"] for e in events] == list(range(1, len(events) + 1))
    assert events[0]["previousEventId"] == 0 and all(e["previousEventId"] == e["id"] - 1 for e in events[1:])
    scheduled = events[2]["taskScheduledEventDetails"]
    assert scheduled == {"resourceType": "lambda", "resource": "invoke", "region": "us-east-1",
                         "parameters": '{"FunctionName":"f"}'}
    assert events[4]["taskSucceededEventDetails"]["output"] == '{"ok":1}'
    assert events[-1]["executionSucceededEventDetails"] == {"output": '{"ok":1}', "outputDetails": {"truncated": False}}
    assert all(e["timestamp"].tzinfo is not None for e in events)


def _token_machine() -> dict[str, Any]:
    return machine(T={"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                      "Parameters": {"MessageBody": {"token.$": "$$.Task.Token"}}, "HeartbeatSeconds": 60})


def test_wait_for_task_token_success_failure_heartbeat() -> None:
    sent: list[str] = []
    engine = Engine({"sqs:sendMessage": lambda r, c: sent.append(r.parameters["MessageBody"]["token"]) or {}})
    handle = engine.start(_token_machine(), {}, **identity())
    _wait_for(lambda: sent)
    engine.send_task_heartbeat(sent[0])
    engine.send_task_success(sent[0], '{"answer": 42}')
    assert handle.wait(30).output_value == {"answer": 42}
    with pytest.raises(UnknownTaskToken):
        engine.send_task_success(sent[0], "{}")

    handle = engine.start(_token_machine(), {}, **identity())
    _wait_for(lambda: len(sent) == 2)
    engine.send_task_failure(sent[1], "Custom.Rejected", "no")
    result = handle.wait(30)
    assert (result.status, result.error, result.cause) == ("FAILED", "Custom.Rejected", "no")


def test_wait_for_task_token_times_out_without_heartbeat() -> None:
    engine = Engine({"sqs:sendMessage": lambda r, c: {}}, ScaledClock(1000))
    result = engine.run(_token_machine(), {}, **identity())
    assert (result.status, result.error) == ("FAILED", "States.HeartbeatTimeout")


class _UntilCancelled:
    """A task handler that says when it has started, then runs until the engine cancels it."""

    def __init__(self) -> None:
        self.started = threading.Event()

    def __call__(self, request: TaskRequest, control: TaskControl) -> Any:
        self.started.set()
        while not control.cancelled():
            time.sleep(0.01)
        return "cancelled"


def test_stop_aborts_a_running_execution() -> None:
    blocking = _UntilCancelled()
    engine = Engine({"lambda:invoke": blocking})
    handle = engine.start(machine(T={"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke"}), {}, **identity())
    assert blocking.started.wait(30)
    result = handle.stop("User.Stop", "enough")
    assert (result.status, result.error, result.cause) == ("ABORTED", "User.Stop", "enough")
    assert types(result)[-1] == "ExecutionAborted"
    time.sleep(0.05)
    assert types(handle.wait())[-1] == "ExecutionAborted"  # nothing recorded after the abort


def test_a_stop_before_the_execution_thread_runs_still_follows_its_start(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every history begins with ExecutionStarted (a redrive reads the input from it), even when the stop comes
    before a loaded machine schedules the execution's thread: held back here until the stop has ended it."""
    from stepfn.engine.engine import ExecutionHandle

    stopped = threading.Event()
    execute = ExecutionHandle._execute

    def late(self: ExecutionHandle) -> None:
        assert stopped.wait(30)
        execute(self)

    monkeypatch.setattr(ExecutionHandle, "_execute", late)
    engine, journal, ident = Engine(), MemoryJournal(), identity()
    definition = machine(W={"Type": "Wait", "Seconds": 3600})
    result = engine.start(definition, {"n": 1}, journal=journal, **ident).stop("User.Stop", "at once")
    stopped.set()
    assert types(result) == ["ExecutionStarted", "ExecutionAborted"]
    assert result.events[0]["executionStartedEventDetails"]["input"] == '{"n":1}'
    assert result.events[1]["previousEventId"] == 1
    # A redrive stopped as soon: its ExecutionRedriven is recorded too.
    stopped.clear()
    again = engine.redrive(definition, journal=journal, **ident).stop("User.Stop", "again")
    stopped.set()
    assert [e["type"] for e in journal.events()] == [
        "ExecutionStarted", "ExecutionAborted", "ExecutionRedriven", "ExecutionAborted"]
    assert again.status == "ABORTED"


class _SignallingClock(SystemClock):
    """The wall clock, saying when something first sleeps on it: a stop sent before that would test nothing (and a
    loaded machine may take longer than any fixed pause to get there)."""

    def __init__(self) -> None:
        self.sleeping = threading.Event()

    def sleep(self, seconds: float, cancel_event: threading.Event | None = None) -> bool:
        self.sleeping.set()
        return super().sleep(seconds, cancel_event)


def test_wait_state_is_interrupted_by_stop() -> None:
    clock = _SignallingClock()
    engine = Engine(None, clock)
    handle = engine.start(machine(W={"Type": "Wait", "Seconds": 3600}), {}, **identity())
    assert clock.sleeping.wait(30)
    began = time.monotonic()
    assert handle.stop().status == "ABORTED"
    assert time.monotonic() - began < 60  # the stop ended the hour-long wait instead of waiting it out


def test_concurrent_executions_do_not_interfere() -> None:
    lock = threading.Condition()
    in_flight = [0, 0]  # now, most at once

    def double(request: TaskRequest, control: TaskControl) -> Any:
        with lock:
            in_flight[0] += 1
            in_flight[1] = max(in_flight[1], in_flight[0])
            lock.notify_all()
            # The first waits for a second one beside it, which a loaded machine may start after a fixed pause;
            # executions run one at a time time out here and fail the check below.
            lock.wait_for(lambda: in_flight[1] > 1, timeout=20)
        control.sleep(0.2)
        with lock:
            in_flight[0] -= 1
        return request.parameters["n"] * 2

    engine = Engine({"lambda:invoke": double})
    definition = machine(
        T={"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"n.$": "$.n"},
           "ResultPath": "$.doubled", "TimeoutSeconds": 30},
        A={"Type": "Pass", "Assign": {"seen.$": "$.n"}, "Next": "B"},
        B={"Type": "Pass", "Parameters": {"n.$": "$seen", "doubled.$": "$.doubled"}})
    handles = [engine.start(definition, {"n": n}, **identity()) for n in range(20)]
    results = [h.wait(30) for h in handles]
    assert [r.output_value for r in results] == [{"n": n, "doubled": 2 * n} for n in range(20)]
    assert in_flight[1] > 1  # they ran at the same time


def _wait_for(condition: Any, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.005)


def test_stop_wakes_a_handler_sleeping_on_the_engine_clock() -> None:
    sleeping, finished = threading.Event(), threading.Event()

    def sleeper(request: TaskRequest, control: TaskControl) -> Any:
        sleeping.set()  # a stop between this and the sleep still counts: control.sleep looks at cancelled() first
        awake = control.sleep(3600)
        finished.set()
        return {"slept": awake}

    engine = Engine({"lambda:invoke": sleeper})
    handle = engine.start(machine(T={"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke"}), {}, **identity())
    assert sleeping.wait(30)  # a stop before the handler runs would abort without ever calling it
    assert handle.stop().status == "ABORTED"
    assert finished.wait(30)  # at once, but a loaded machine may be slow to schedule the woken thread


def test_an_instant_clock_waits_for_a_task_under_a_timeout() -> None:
    """On an instant clock (time moves only when something sleeps on it) a Task with TimeoutSeconds or a task token
    waits for its handler's real work: the wait for its deadline jumped the clock there at once, so the Task timed
    out unless its handler had returned in the moment the engine took to look."""
    def working(request: TaskRequest, control: TaskControl) -> Any:
        time.sleep(0.05)  # real work, however short, outlasts the engine's first look
        return "done"

    timed = machine(T={"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "TimeoutSeconds": 60,
                       "HeartbeatSeconds": 10})
    result = run(timed, handlers={"lambda:invoke": working}, clock=ScaledClock(float("inf")))
    assert (result.status, result.output_value) == ("SUCCEEDED", "done")

    sent: list[str] = []
    engine = Engine({"sqs:sendMessage": lambda r, c: sent.append(r.parameters["MessageBody"]["token"]) or {}},
                    ScaledClock(float("inf")))
    handle = engine.start(_token_machine(), {}, **identity())
    _wait_for(lambda: sent)
    time.sleep(0.05)  # the answer comes a moment later, from elsewhere
    engine.send_task_success(sent[0], '{"answer": 42}')
    assert handle.wait(30).output_value == {"answer": 42}


def test_an_instant_clock_still_times_a_task_out_when_a_sleep_passes_its_deadline() -> None:
    """A deadline is reached on an instant clock when something sleeps past it: here a Wait in a parallel branch,
    once the Task's handler (which only a timeout or a stop ends) has started."""
    stuck = _UntilCancelled()

    def after_the_task_started(request: TaskRequest, control: TaskControl) -> Any:
        assert stuck.started.wait(30)
        return {}

    branch = {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                                               "TimeoutSeconds": 60, "End": True}}}
    waiting = {"StartAt": "G", "States": {
        "G": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage", "Next": "W"},
        "W": {"Type": "Wait", "Seconds": 3600, "End": True}}}
    result = run(machine(P={"Type": "Parallel", "Branches": [branch, waiting]}),
                 handlers={"lambda:invoke": stuck, "sqs:sendMessage": after_the_task_started},
                 clock=ScaledClock(float("inf")))
    assert (result.status, result.error) == ("FAILED", "States.Timeout")


def test_execution_started_records_role_version_and_alias() -> None:
    version = "arn:aws:states:us-east-1:123456789012:stateMachine:TestMachine:3"
    alias = "arn:aws:states:us-east-1:123456789012:stateMachine:TestMachine:prod"
    result = Engine().start(machine(P={"Type": "Pass"}), {"a": 1}, role_arn="arn:aws:iam::123456789012:role/r",
                            version_arn=version, alias_arn=alias, **identity()).wait(30)
    assert result.events[0]["executionStartedEventDetails"] == {
        "input": '{"a":1}', "inputDetails": {"truncated": False}, "roleArn": "arn:aws:iam::123456789012:role/r",
        "stateMachineAliasArn": alias, "stateMachineVersionArn": version}
