"""AWS's limits, enforced with AWS's errors, through the boto3-compatible local client."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ParamValidationError

from stepfn.local.lambdas import register_function, unregister_function
from stepfn.workflow.local_client import LocalStepFunctionsClient

ROLE = "arn:aws:iam::123456789012:role/StepFunctionsRole"
PASS = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
LIMIT = 256 * 1024


@pytest.fixture
def client(stepfn_home: Path) -> Iterator[LocalStepFunctionsClient]:
    client = LocalStepFunctionsClient(stepfn_home)
    yield client
    client.close()


def _machine(client: LocalStepFunctionsClient, definition: dict[str, Any] | str, name: str = "limits") -> str:
    text = definition if isinstance(definition, str) else json.dumps(definition)
    return str(client.create_state_machine(name=name, definition=text, roleArn=ROLE)["stateMachineArn"])


def _run(client: LocalStepFunctionsClient, machine: str, execution_input: str = "{}") -> dict[str, Any]:
    arn = client.start_execution(stateMachineArn=machine, input=execution_input)["executionArn"]
    assert client.wait_for_execution(arn, timeout=60)
    return dict(client.describe_execution(executionArn=arn))


def _history(client: LocalStepFunctionsClient, arn: str) -> list[dict[str, Any]]:
    pages = client.get_paginator("get_execution_history").paginate(executionArn=arn)
    return [event for page in pages for event in page["events"]]


# -- payload: 256 KiB ------------------------------------------------------------------------------------------


def test_execution_input_over_256_kib_is_refused_and_exactly_256_kib_runs(client: LocalStepFunctionsClient) -> None:
    machine = _machine(client, PASS)
    at_limit = json.dumps({"pad": "x" * (LIMIT - len('{"pad": ""}'))})
    assert len(at_limit.encode()) == LIMIT
    assert _run(client, machine, at_limit)["status"] == "SUCCEEDED"
    over = json.dumps({"pad": "x" * (LIMIT - len('{"pad": ""}') + 1)})
    with pytest.raises(client.exceptions.ValidationException, match="262144"):
        client.start_execution(stateMachineArn=machine, input=over)
    # Multi-byte characters count in bytes, as AWS counts them.
    wide = json.dumps({"pad": "é" * (LIMIT // 2)}, ensure_ascii=False)
    with pytest.raises(client.exceptions.ValidationException):
        client.start_execution(stateMachineArn=machine, input=wide)


def test_a_state_output_over_256_kib_fails_with_data_limit_exceeded(client: LocalStepFunctionsClient) -> None:
    register_function("limits-big", lambda event: "y" * (LIMIT + 1))
    try:
        machine = _machine(client, {"StartAt": "Big", "States": {"Big": {
            "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": True,
            "Parameters": {"FunctionName": "limits-big", "Payload": {}}}}})
        described = _run(client, machine)
    finally:
        unregister_function("limits-big")
    assert (described["status"], described["error"]) == ("FAILED", "States.DataLimitExceeded")


def test_pass_state_merging_past_256_kib_fails_with_data_limit_exceeded(client: LocalStepFunctionsClient) -> None:
    half = "z" * (LIMIT // 2 + 10)
    machine = _machine(client, {"StartAt": "Merge", "States": {"Merge": {
        "Type": "Pass", "Result": half, "ResultPath": "$.second", "End": True}}})
    described = _run(client, machine, json.dumps({"first": half}))
    assert (described["status"], described["error"]) == ("FAILED", "States.DataLimitExceeded")


# -- history: 25,000 events ------------------------------------------------------------------------------------


def test_history_stops_at_25000_events_with_execution_failed(client: LocalStepFunctionsClient) -> None:
    machine = _machine(client, {"StartAt": "Ping", "States": {  # an exit that never comes
        "Ping": {"Type": "Pass", "Next": "Pong"},
        "Pong": {"Type": "Choice", "Choices": [{"Variable": "$.stop", "IsPresent": True, "Next": "Done"}],
                 "Default": "Ping"},
        "Done": {"Type": "Succeed"}}})
    started = time.monotonic()
    described = _run(client, machine)
    assert time.monotonic() - started < 30
    assert (described["status"], described["error"]) == ("FAILED", "States.Runtime")
    assert "25000" in described["cause"]
    started = time.monotonic()
    events = _history(client, described["executionArn"])  # 250 pages of 100, each read on its own
    assert [e["id"] for e in events] == list(range(1, 25_001))
    assert events[-1]["type"] == "ExecutionFailed" and events[-2]["type"] == "PassStateExited"
    pages = client.get_paginator("get_execution_history").paginate(
        executionArn=described["executionArn"], reverseOrder=True, includeExecutionData=False)
    backwards = [event for page in pages for event in page["events"]]
    assert [e["id"] for e in backwards] == list(range(25_000, 0, -1))
    assert "input" not in backwards[-1]["executionStartedEventDetails"]
    assert time.monotonic() - started < 20


def test_an_execution_ending_below_the_limit_is_unaffected(client: LocalStepFunctionsClient) -> None:
    # 1,000 Choice-loop iterations: about 6,000 events.
    machine = _machine(client, {"StartAt": "Init", "States": {
        "Init": {"Type": "Pass", "Result": 0, "ResultPath": "$.i", "Next": "Loop"},
        "Loop": {"Type": "Choice", "Choices": [{"Variable": "$.i", "NumericGreaterThanEquals": 1000, "Next": "Done"}],
                 "Default": "Step"},
        "Step": {"Type": "Pass", "Parameters": {"i.$": "States.MathAdd($.i, 1)"}, "Next": "Loop"},
        "Done": {"Type": "Succeed"},
    }})
    described = _run(client, machine)
    assert described["status"] == "SUCCEEDED" and json.loads(described["output"]) == {"i": 1000}


# -- names -----------------------------------------------------------------------------------------------------

FORBIDDEN = [" ", "\t", "\n", "<", ">", "{", "}", "[", "]", "?", "*", '"', "#", "%", "\\", "^", "|", "~", "`", "$",
             "&", ",", ";", ":", "/", "\x00", "\x1f", "\x7f", "\x9f"]


@pytest.mark.parametrize("character", FORBIDDEN, ids=[f"U+{ord(c):04X}" for c in FORBIDDEN])
def test_forbidden_characters_in_names_are_invalid_name(client: LocalStepFunctionsClient, character: str) -> None:
    with pytest.raises(client.exceptions.InvalidName):
        client.create_state_machine(name=f"bad{character}name", definition=PASS, roleArn=ROLE)
    machine = _machine(client, PASS, name="names")
    with pytest.raises(client.exceptions.InvalidName):
        client.start_execution(stateMachineArn=machine, name=f"bad{character}name")


def test_name_lengths(client: LocalStepFunctionsClient) -> None:
    machine = _machine(client, PASS, name="m" * 80)
    assert machine.endswith(":" + "m" * 80)
    with pytest.raises(client.exceptions.InvalidName):
        client.create_state_machine(name="m" * 81, definition=PASS, roleArn=ROLE)
    assert client.start_execution(stateMachineArn=machine, name="e" * 80)["executionArn"].endswith("e" * 80)
    with pytest.raises(client.exceptions.InvalidName):
        client.start_execution(stateMachineArn=machine, name="e" * 81)
    with pytest.raises(ParamValidationError):  # botocore's client-side min length, as boto3 raises it
        client.start_execution(stateMachineArn=machine, name="")
    # Non-ASCII names are accepted (AWS only advises against them for CloudWatch).
    assert client.start_execution(stateMachineArn=machine, name="exécution-1")["executionArn"].endswith("exécution-1")


# -- Map concurrency -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("max_concurrency", "items", "expected_peak"), [
    (2, 8, 2),
    (0, 60, 40),  # 0 = unbounded, but an inline Map runs at most 40 iterations at once, as on AWS
    (100, 60, 40),
])
def test_map_max_concurrency_bounds_the_items_running_at_once(
        client: LocalStepFunctionsClient, max_concurrency: int, items: int, expected_peak: int) -> None:
    lock = threading.Lock()
    running, peak = [0], [0]
    everyone_started = threading.Event()

    def work(event: Any) -> Any:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
            if running[0] >= expected_peak:
                everyone_started.set()
        # Hold each iteration until as many as allowed are running, long enough for a loaded machine to start 40:
        # with 2 s, a slow start would let the first ones give up and finish, and the peak would fall short.
        everyone_started.wait(20)
        time.sleep(0.02)
        with lock:
            running[0] -= 1
        return event

    register_function("limits-work", work)
    try:
        machine = _machine(client, {"StartAt": "Fan", "States": {"Fan": {
            "Type": "Map", "MaxConcurrency": max_concurrency, "ItemsPath": "$.items", "End": True,
            "ItemProcessor": {"StartAt": "W", "States": {"W": {
                "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "OutputPath": "$.Payload",
                "Parameters": {"FunctionName": "limits-work", "Payload.$": "$"}, "End": True}}}}}})
        described = _run(client, machine, json.dumps({"items": list(range(items))}))
    finally:
        unregister_function("limits-work")
    assert described["status"] == "SUCCEEDED" and json.loads(described["output"]) == list(range(items))
    assert peak[0] == expected_peak


def test_negative_max_concurrency_is_an_invalid_definition(client: LocalStepFunctionsClient) -> None:
    definition = {"StartAt": "Fan", "States": {"Fan": {
        "Type": "Map", "MaxConcurrency": -1, "End": True,
        "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}}}}
    with pytest.raises(client.exceptions.InvalidDefinition):
        _machine(client, definition)


# -- execution timeout -----------------------------------------------------------------------------------------


def test_timeout_seconds_times_the_execution_out(client: LocalStepFunctionsClient) -> None:
    machine = _machine(client, {"TimeoutSeconds": 1, "StartAt": "W", "States": {
        "W": {"Type": "Wait", "Seconds": 30, "End": True}}})
    started = time.monotonic()
    described = _run(client, machine)
    assert time.monotonic() - started < 10
    assert (described["status"], described["error"]) == ("TIMED_OUT", "States.Timeout")
    assert _history(client, described["executionArn"])[-1]["type"] == "ExecutionTimedOut"
