"""Map Runs on LocalStepFunctionsClient: DescribeMapRun, ListMapRuns, UpdateMapRun, ListExecutions(mapRunArn),
child executions, paginators and errors, with botocore's output shapes; the store's in-place upgrade."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.validate import validate_parameters

from stepfn.engine import TaskControl, TaskRequest
from stepfn.local.lambdas import register_function, unregister_function
from stepfn.store import SCHEMA_VERSION, Store
from stepfn.store._db import _MIGRATIONS
from stepfn.workflow import _local_base as local_base
from stepfn.workflow import _local_runs
from stepfn.workflow.local_client import LocalStepFunctionsClient

ROLE = "arn:aws:iam::123456789012:role/StepFunctionsRole"
MODEL = botocore.session.get_session().get_service_model("stepfunctions")
PREFIX = "arn:aws:states:us-east-1:123456789012"


def check_shape(operation: str, response: dict[str, Any]) -> dict[str, Any]:
    body = {k: v for k, v in response.items() if k != "ResponseMetadata"}
    validate_parameters(body, MODEL.operation_model(operation).output_shape)
    return body


class Gate:
    """A ``lambda:invoke`` handler whose calls wait for ``open``; it tracks how many run at once."""

    def __init__(self, unwind_seconds: float = 0.0) -> None:
        self.unwind_seconds = unwind_seconds  # how long a cancelled call takes to return
        self.opened = threading.Event()
        self.lock = threading.Lock()
        self.active = 0
        self.peaks: list[int] = []

    def __call__(self, request: TaskRequest, control: TaskControl) -> Any:
        with self.lock:
            self.active += 1
            self.peaks.append(self.active)
        try:
            while not self.opened.is_set() and not control.cancelled():
                control.sleep(0.02)
            if control.cancelled():
                time.sleep(self.unwind_seconds)
            return request.parameters.get("Payload")
        finally:
            with self.lock:
                self.active -= 1


@pytest.fixture
def gate() -> Gate:
    return Gate()


@pytest.fixture
def client(gate: Gate) -> Iterator[LocalStepFunctionsClient]:
    c = LocalStepFunctionsClient(handlers={"lambda:invoke": gate})
    yield c
    gate.opened.set()
    c.close()


def fan_out(suffix: str = "", *, task: bool = False, variable: str = "$", **fields: Any) -> dict[str, Any]:
    """A distributed Map whose children fail on item 3 (``variable`` picks it), or run a gated task."""
    if task:
        states = {"Work": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                           "Parameters": {"FunctionName": "f", "Payload.$": "$"}, "End": True}}
        start = "Work"
    else:
        states = {f"Check{suffix}": {"Type": "Choice", "Default": f"Good{suffix}", "Choices": [
                      {"Variable": variable, "NumericEquals": 3, "Next": f"Bad{suffix}"}]},
                  f"Bad{suffix}": {"Type": "Fail", "Error": "Three", "Cause": "item three"},
                  f"Good{suffix}": {"Type": "Pass", "End": True}}
        start = f"Check{suffix}"
    return {"Type": "Map", "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                                             "StartAt": start, "States": states}, **fields}


def start(client: LocalStepFunctionsClient, states: dict[str, Any], payload: Any, name: str = "m") -> str:
    first = next(iter(states))
    arn = client.create_state_machine(name=name, definition=json.dumps({"StartAt": first, "States": states}),
                                      roleArn=ROLE)["stateMachineArn"]
    return str(client.start_execution(stateMachineArn=arn, input=json.dumps(payload))["executionArn"])


def wait_until(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_describe_list_and_child_executions(client: LocalStepFunctionsClient) -> None:
    execution = start(client, {"Fan": fan_out(variable="$.Items[0]", Label="Items", MaxConcurrency=2,
                                              ToleratedFailureCount=1,
                                              ItemBatcher={"MaxItemsPerBatch": 2}, End=True)}, [1, 2, 3, 4, 5])
    assert client.wait_for_execution(execution, 30)
    assert client.describe_execution(executionArn=execution)["status"] == "SUCCEEDED"
    (item,) = check_shape("ListMapRuns", client.list_map_runs(executionArn=execution))["mapRuns"]
    map_run_arn = item["mapRunArn"]
    assert map_run_arn.startswith(f"{PREFIX}:mapRun:m/Items:")
    assert (item["executionArn"], item["stateMachineArn"]) == (execution, f"{PREFIX}:stateMachine:m")
    history = client.get_execution_history(executionArn=execution)["events"]
    started = next(e for e in history if e["type"] == "MapRunStarted")
    assert started["mapRunStartedEventDetails"] == {"mapRunArn": map_run_arn}

    described = check_shape("DescribeMapRun", client.describe_map_run(mapRunArn=map_run_arn))
    assert (described["status"], described["executionArn"], described["maxConcurrency"]) == (
        "SUCCEEDED", execution, 2)
    assert (described["toleratedFailureCount"], described["toleratedFailurePercentage"]) == (1, 0.0)
    assert described["stopDate"] >= described["startDate"]
    # Batches [1,2] [3,4] [5]: the [3,4] batch fails on item 3 (one failure, tolerated).
    assert described["executionCounts"] == {"pending": 0, "running": 0, "succeeded": 2, "failed": 1,
                                            "timedOut": 0, "aborted": 0, "total": 3, "resultsWritten": 0,
                                            "failuresNotRedrivable": 0, "pendingRedrive": 0}
    assert described["itemCounts"]["succeeded"] == 3 and described["itemCounts"]["failed"] == 2
    assert described["itemCounts"]["total"] == 5

    children = check_shape("ListExecutions", client.list_executions(mapRunArn=map_run_arn))["executions"]
    assert len(children) == 3 and {c["mapRunArn"] for c in children} == {map_run_arn}
    assert sorted(c["itemCount"] for c in children) == [1, 2, 2]
    assert {c["stateMachineArn"] for c in children} == {f"{PREFIX}:stateMachine:m/Items"}
    failed = check_shape("ListExecutions", client.list_executions(mapRunArn=map_run_arn, statusFilter="FAILED"))
    (bad,) = failed["executions"]
    child = check_shape("DescribeExecution", client.describe_execution(executionArn=bad["executionArn"]))
    assert (child["error"], child["cause"], child["mapRunArn"]) == ("Three", "item three", map_run_arn)
    assert json.loads(child["input"]) == {"Items": [3, 4]}
    assert child["redriveStatus"] == "NOT_REDRIVABLE"
    events = client.get_execution_history(executionArn=bad["executionArn"])["events"]
    assert [e["type"] for e in events] == ["ExecutionStarted", "ChoiceStateEntered", "ChoiceStateExited",
                                           "FailStateEntered", "ExecutionFailed"]
    definition = check_shape("DescribeStateMachineForExecution",
                             client.describe_state_machine_for_execution(executionArn=bad["executionArn"]))
    assert (definition["mapRunArn"], definition["label"]) == (map_run_arn, "Items")
    assert json.loads(definition["definition"])["StartAt"] == "Check"
    # A Map Run's children are not executions of the state machine itself.
    machine = client.describe_execution(executionArn=execution)["stateMachineArn"]
    assert [e["executionArn"] for e in client.list_executions(stateMachineArn=machine)["executions"]] == [execution]


def test_a_run_beyond_its_tolerance_is_failed(client: LocalStepFunctionsClient) -> None:
    execution = start(client, {"Fan": fan_out(End=True)}, [1, 2, 3])
    assert client.wait_for_execution(execution, 30)
    (item,) = client.list_map_runs(executionArn=execution)["mapRuns"]
    described = check_shape("DescribeMapRun", client.describe_map_run(mapRunArn=item["mapRunArn"]))
    assert described["status"] == "FAILED"
    assert described["executionCounts"]["failed"] == 1 and described["executionCounts"]["succeeded"] == 2


def test_paginators_and_listing_order(client: LocalStepFunctionsClient) -> None:
    states = {"A": fan_out("A", Next="B"), "B": fan_out("B", Label="Second", Next="C"),
              "C": fan_out("C", Label="Third", End=True)}
    execution = start(client, states, [1, 2, 4, 5, 6])
    assert client.wait_for_execution(execution, 30)
    pages = list(client.get_paginator("list_map_runs").paginate(executionArn=execution,
                                                                PaginationConfig={"PageSize": 1}))
    assert len(pages) == 3
    labels = [run["mapRunArn"].split(":")[6] for page in pages for run in page["mapRuns"]]
    assert labels == ["m/Third", "m/Second", "m/A"]  # newest first
    map_run_arn = pages[-1]["mapRuns"][0]["mapRunArn"]
    children = [e for page in client.get_paginator("list_executions").paginate(
        mapRunArn=map_run_arn, PaginationConfig={"PageSize": 2}) for e in page["executions"]]
    assert len(children) == 5 and len({c["executionArn"] for c in children}) == 5
    with pytest.raises(client.exceptions.InvalidToken):
        client.list_map_runs(executionArn=execution, nextToken="not-a-token")


def test_errors_as_boto3_raises_them(client: LocalStepFunctionsClient) -> None:
    unknown = f"{PREFIX}:mapRun:m/Fan:00000000-0000-0000-0000-000000000000"
    for call in (lambda: client.describe_map_run(mapRunArn=unknown),
                 lambda: client.update_map_run(mapRunArn=unknown, maxConcurrency=1),
                 lambda: client.list_executions(mapRunArn=unknown)):
        with pytest.raises(client.exceptions.ResourceNotFound) as caught:
            call()
        assert caught.value.response["Error"]["Code"] == "ResourceNotFound"
    for bad in (f"{PREFIX}:execution:m:x", "not-an-arn", f"{PREFIX}:mapRun:no-label:x"):
        with pytest.raises(client.exceptions.InvalidArn):
            client.describe_map_run(mapRunArn=bad)
    with pytest.raises(client.exceptions.ExecutionDoesNotExist):
        client.list_map_runs(executionArn=f"{PREFIX}:execution:m:missing")
    with pytest.raises(client.exceptions.InvalidArn):
        client.list_map_runs(executionArn=unknown)
    with pytest.raises(client.exceptions.ValidationException):
        client.list_executions(mapRunArn=unknown, stateMachineArn=f"{PREFIX}:stateMachine:m")
    with pytest.raises(client.exceptions.ValidationException):
        client.list_executions()


def test_update_map_run_changes_a_running_run_and_refuses_a_finished_one(client: LocalStepFunctionsClient,
                                                                         gate: Gate) -> None:
    execution = start(client, {"Fan": fan_out(task=True, MaxConcurrency=1, End=True)}, list(range(6)))
    wait_until(lambda: client.list_map_runs(executionArn=execution)["mapRuns"] and gate.peaks)
    map_run_arn = client.list_map_runs(executionArn=execution)["mapRuns"][0]["mapRunArn"]
    described = check_shape("DescribeMapRun", client.describe_map_run(mapRunArn=map_run_arn))
    assert described["status"] == "RUNNING" and "stopDate" not in described
    assert (described["executionCounts"]["running"], described["executionCounts"]["pending"]) == (1, 5)
    time.sleep(0.2)
    assert gate.peaks == [1]
    check_shape("UpdateMapRun", client.update_map_run(mapRunArn=map_run_arn, maxConcurrency=3,
                                                      toleratedFailurePercentage=50.0))
    wait_until(lambda: gate.active == 3)
    described = client.describe_map_run(mapRunArn=map_run_arn)
    assert (described["maxConcurrency"], described["toleratedFailurePercentage"]) == (3, 50.0)
    assert described["executionCounts"]["running"] == 3
    with pytest.raises(client.exceptions.ValidationException):
        client.update_map_run(mapRunArn=map_run_arn)
    with pytest.raises(client.exceptions.ValidationException):
        client.update_map_run(mapRunArn=map_run_arn, toleratedFailurePercentage=100.5)
    gate.opened.set()
    assert client.wait_for_execution(execution, 30)
    assert max(gate.peaks) == 3
    assert client.describe_map_run(mapRunArn=map_run_arn)["status"] == "SUCCEEDED"
    with pytest.raises(client.exceptions.ValidationException):
        client.update_map_run(mapRunArn=map_run_arn, maxConcurrency=5)


def test_update_from_another_client_reaches_the_running_process(client: LocalStepFunctionsClient,
                                                               gate: Gate) -> None:
    execution = start(client, {"Fan": fan_out(task=True, MaxConcurrency=1, End=True)}, list(range(4)))
    wait_until(lambda: client.list_map_runs(executionArn=execution)["mapRuns"] and gate.peaks)
    map_run_arn = client.list_map_runs(executionArn=execution)["mapRuns"][0]["mapRunArn"]
    other = LocalStepFunctionsClient(resume=False)
    try:
        other.update_map_run(mapRunArn=map_run_arn, maxConcurrency=2)
    finally:
        other.close()
    wait_until(lambda: gate.active == 2)  # the owner's poller applied it
    gate.opened.set()
    assert client.wait_for_execution(execution, 30)


def stop_two_of_three(client: LocalStepFunctionsClient, gate: Gate) -> tuple[str, str]:
    """Stop a parent while two of its three children run their gated task: (execution, Map Run) ARNs."""
    execution = start(client, {"Fan": fan_out(task=True, MaxConcurrency=2, End=True)}, [1, 2, 3])
    wait_until(lambda: gate.active == 2)
    client.stop_execution(executionArn=execution)
    return execution, client.list_map_runs(executionArn=execution)["mapRuns"][0]["mapRunArn"]


def test_stopping_the_parent_aborts_its_map_run_and_running_children(client: LocalStepFunctionsClient,
                                                                     gate: Gate) -> None:
    _, map_run_arn = stop_two_of_three(client, gate)
    wait_until(lambda: client.describe_map_run(mapRunArn=map_run_arn)["status"] == "ABORTED")
    described = check_shape("DescribeMapRun", client.describe_map_run(mapRunArn=map_run_arn))
    assert described["executionCounts"]["aborted"] == 2 and described["executionCounts"]["pending"] == 1
    statuses = {e["status"] for e in client.list_executions(mapRunArn=map_run_arn)["executions"]}
    assert statuses == {"ABORTED"}


def test_a_version_3_store_is_upgraded_in_place(stepfn_home: Path) -> None:
    path = stepfn_home / "stepfn.db"
    stepfn_home.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path)
    for script in _MIGRATIONS[:3]:
        conn.executescript(script)
    conn.execute("INSERT INTO executions (arn, state_machine_arn, name, type, status, start_date, definition) "
                 "VALUES ('arn:e', 'arn:m', 'e', 'STANDARD', 'SUCCEEDED', '2024-01-01T00:00:00+00:00', '{}')")
    conn.execute("PRAGMA user_version = 3")
    conn.commit()
    conn.close()
    store = Store(stepfn_home)
    try:
        assert SCHEMA_VERSION >= 4
        record = store.get_execution("arn:e")
        assert (record.status, record.map_run_arn, record.item_count) == ("SUCCEEDED", None, None)
        assert [r.arn for r in store.list_executions("arn:m")] == ["arn:e"]
        assert store.list_map_runs("arn:e") == []
    finally:
        store.close()
    with sqlite3.connect(path) as check:
        assert check.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_task_tokens_of_children_and_unknown_tokens_while_they_run(stepfn_home: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    # A relay wait long enough that the bound below (no relay wait) has room for a loaded machine's stalls.
    monkeypatch.setattr(local_base, "CALLBACK_RELAY_SECONDS", 30.0)
    tokens: list[str] = []

    def hand_out(request: TaskRequest, control: TaskControl) -> Any:
        tokens.append(request.parameters["Token"])
        return None

    client = LocalStepFunctionsClient(handlers={"sqs:sendMessage": hand_out})
    try:
        wait_state = {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                      "Parameters": {"QueueUrl": "q", "MessageBody": "m", "Token.$": "$$.Task.Token"}, "End": True}
        fan = {"Type": "Map", "End": True, "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}, "StartAt": "Wait",
            "States": {"Wait": wait_state}}}
        execution = start(client, {"Fan": fan}, [1])
        wait_until(lambda: tokens)
        began = time.monotonic()
        with pytest.raises(client.exceptions.TaskDoesNotExist):
            client.send_task_success(taskToken="no-such-token", output="{}")
        # No relay wait (which would take CALLBACK_RELAY_SECONDS): the child runs in this process's engine.
        assert time.monotonic() - began < local_base.CALLBACK_RELAY_SECONDS
        client.send_task_success(taskToken=tokens[0], output='{"done": true}')
        assert client.wait_for_execution(execution, 30)
        assert json.loads(client.describe_execution(executionArn=execution)["output"]) == [{"done": True}]
    finally:
        client.close()


def test_redriving_the_parent_redrives_its_map_run(tmp_path: Path) -> None:
    """AWS "Redriving Map Runs": the same Map Run, ``MapRunRedriven`` in the parent's history, succeeded children
    kept, the failed child redriven under its own ARN, the items never reached run, results in item order."""
    fixed = tmp_path / "fixed"

    def train(event: Any) -> Any:
        if event == 2 and not fixed.exists():
            raise RuntimeError("diverged")
        return event * 10

    register_function("map-redrive-train", train)
    client = LocalStepFunctionsClient()
    try:
        # One child at a time: item 1 has succeeded and items 3 and 4 are not started when item 2 fails.
        fan = {"Type": "Map", "End": True, "MaxConcurrency": 1, "Label": "Trials", "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}, "StartAt": "Train",
            "States": {"Train": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                                 "OutputPath": "$.Payload", "End": True,
                                 "Parameters": {"FunctionName": "map-redrive-train", "Payload.$": "$"}}}}}
        execution = start(client, {"Fan": fan}, [1, 2, 3, 4], name="trials")
        assert client.wait_for_execution(execution, 30)
        assert client.describe_execution(executionArn=execution)["status"] == "FAILED"
        (run,) = client.list_map_runs(executionArn=execution)["mapRuns"]
        first = client.list_executions(mapRunArn=run["mapRunArn"])["executions"]
        assert sorted(child["status"] for child in first) == ["FAILED", "SUCCEEDED"]
        assert client.describe_map_run(mapRunArn=run["mapRunArn"])["redriveCount"] == 0

        fixed.touch()
        client.redrive_execution(executionArn=execution)
        assert client.wait_for_execution(execution, 30)
        described = client.describe_execution(executionArn=execution)
        assert described["status"] == "SUCCEEDED" and json.loads(described["output"]) == [10, 20, 30, 40]

        rerun = client.list_map_runs(executionArn=execution)["mapRuns"]
        assert [r["mapRunArn"] for r in rerun] == [run["mapRunArn"]]  # no second Map Run
        assert rerun[0]["startDate"] == run["startDate"] and rerun[0]["stopDate"] > run["stopDate"]
        map_run = check_shape("DescribeMapRun", client.describe_map_run(mapRunArn=run["mapRunArn"]))
        assert (map_run["status"], map_run["redriveCount"]) == ("SUCCEEDED", 1)
        assert map_run["redriveDate"] >= map_run["startDate"]
        assert map_run["executionCounts"]["succeeded"] == map_run["executionCounts"]["total"] == 4

        events = client.get_execution_history(executionArn=execution)["events"]
        kinds = [event["type"] for event in events]
        redriven = kinds.index("ExecutionRedriven")
        assert kinds[redriven:] == ["ExecutionRedriven", "MapRunRedriven", "MapRunSucceeded", "MapStateSucceeded",
                                    "MapStateExited", "ExecutionSucceeded"]
        assert events[redriven + 1]["mapRunRedrivenEventDetails"] == {"mapRunArn": run["mapRunArn"],
                                                                      "redriveCount": 1}
        assert kinds.count("MapRunStarted") == 1

        # One child per item; only item 2's child ran its task twice, the others once.
        children = client.list_executions(mapRunArn=run["mapRunArn"])["executions"]
        by_item = {json.loads(client.describe_execution(executionArn=c["executionArn"])["input"]): c
                   for c in children}
        assert sorted(by_item) == [1, 2, 3, 4] and len(children) == 4
        scheduled = {}
        for item, child in by_item.items():
            history = client.get_execution_history(executionArn=child["executionArn"])["events"]
            scheduled[item] = sum(1 for event in history if event["type"] == "TaskScheduled")
        assert scheduled == {1: 1, 2: 2, 3: 1, 4: 1}
        failed_child = next(c for c in first if c["status"] == "FAILED")
        assert failed_child["executionArn"] == by_item[2]["executionArn"]  # redriven in place, not replaced
        child = client.describe_execution(executionArn=failed_child["executionArn"])
        assert (child["status"], child["redriveCount"]) == ("SUCCEEDED", 1)
        child_kinds = [e["type"] for e in client.get_execution_history(executionArn=child["executionArn"])["events"]]
        assert child_kinds[child_kinds.index("ExecutionFailed"):] == [
            "ExecutionFailed", "ExecutionRedriven", "TaskScheduled", "TaskStarted", "TaskSucceeded",
            "TaskStateExited", "ExecutionSucceeded"]
    finally:
        client.close()
        unregister_function("map-redrive-train")


def test_redriving_a_stopped_parent_redrives_its_aborted_map_run(client: LocalStepFunctionsClient,
                                                                 gate: Gate) -> None:
    execution, map_run_arn = stop_two_of_three(client, gate)
    wait_until(lambda: client.describe_execution(executionArn=execution)["status"] == "ABORTED")
    wait_until(lambda: client.describe_map_run(mapRunArn=map_run_arn)["status"] == "ABORTED")
    gate.opened.set()
    client.redrive_execution(executionArn=execution)
    assert client.wait_for_execution(execution, 30)
    described = client.describe_execution(executionArn=execution)
    assert described["status"] == "SUCCEEDED" and json.loads(described["output"]) == [1, 2, 3]
    assert [r["mapRunArn"] for r in client.list_map_runs(executionArn=execution)["mapRuns"]] == [map_run_arn]
    map_run = client.describe_map_run(mapRunArn=map_run_arn)
    assert (map_run["status"], map_run["redriveCount"]) == ("SUCCEEDED", 1)
    children = client.list_executions(mapRunArn=map_run_arn)["executions"]
    # The two aborted children are redriven in place; the third item, never started, gets its first child.
    assert len(children) == 3 and {c["status"] for c in children} == {"SUCCEEDED"}
    assert sorted(client.describe_execution(executionArn=c["executionArn"])["redriveCount"] for c in children) == [
        0, 1, 1]


def redrive_right_after_the_stop(client: LocalStepFunctionsClient, gate: Gate, settle_seconds: float = 0.0) -> str:
    """Stop a parent while two children run, redrive it as soon as its row is ABORTED (its children's threads may
    not have recorded their own end yet), check that the redrive succeeded, and return the Map Run's ARN.
    ``settle_seconds``: how long to wait after the redrive ended, so late writes of the stopped attempt land."""
    execution, map_run_arn = stop_two_of_three(client, gate)
    wait_until(lambda: client.describe_execution(executionArn=execution)["status"] == "ABORTED")
    gate.opened.set()
    client.redrive_execution(executionArn=execution)
    assert client.wait_for_execution(execution, 30)
    time.sleep(settle_seconds)
    described = client.describe_execution(executionArn=execution)
    assert described["status"] == "SUCCEEDED" and json.loads(described["output"]) == [1, 2, 3], described
    return map_run_arn


def test_a_redrive_waits_for_the_stopped_attempts_children_to_record_their_end() -> None:
    """Stopping the parent ends it (and its Map Run) at once; each running child's thread records its own
    ExecutionAborted when its task returns. A redrive started in between must not read a child's history before
    that write (its ExecutionRedriven took the same event id and the execution failed with RecordExists)."""
    gate = Gate(unwind_seconds=0.5)
    client = LocalStepFunctionsClient(handlers={"lambda:invoke": gate})
    try:
        map_run_arn = redrive_right_after_the_stop(client, gate)
        for child in client.list_executions(mapRunArn=map_run_arn)["executions"]:
            kinds = [e["type"] for e in client.get_execution_history(executionArn=child["executionArn"])["events"]]
            if "ExecutionRedriven" in kinds:
                assert kinds[kinds.index("ExecutionRedriven") - 1] == "ExecutionAborted", kinds
            assert kinds[-1] == "ExecutionSucceeded", kinds
    finally:
        gate.opened.set()
        client.close()


def test_a_child_whose_end_never_comes_is_aborted_after_its_history(monkeypatch: pytest.MonkeyPatch) -> None:
    """A child that has not recorded its end within the settle time is taken as having no thread left (its
    process died): the redrive records its ExecutionAborted and goes on. Here its thread is only slow: its late
    write of the same event must not disturb the redriven attempt."""
    monkeypatch.setattr(_local_runs, "CHILD_SETTLE_SECONDS", 0.2)
    gate = Gate(unwind_seconds=1.5)
    client = LocalStepFunctionsClient(handlers={"lambda:invoke": gate})
    try:
        map_run_arn = redrive_right_after_the_stop(client, gate, settle_seconds=1.5)
        redriven = 0
        for child in client.list_executions(mapRunArn=map_run_arn)["executions"]:
            assert child["status"] == "SUCCEEDED"
            kinds = [e["type"] for e in client.get_execution_history(executionArn=child["executionArn"])["events"]]
            if "ExecutionRedriven" in kinds:
                redriven += 1
                assert kinds.count("ExecutionAborted") == 1, kinds
                assert kinds[kinds.index("ExecutionRedriven") - 1] == "ExecutionAborted", kinds
            assert kinds[-1] == "ExecutionSucceeded", kinds
        assert redriven == 2
    finally:
        gate.opened.set()
        client.close()


def test_a_map_run_that_succeeded_before_a_later_failure_is_not_run_again(tmp_path: Path) -> None:
    fixed = tmp_path / "fixed"
    calls: list[Any] = []

    def work(event: Any) -> Any:
        calls.append(event)
        if event == "after" and not fixed.exists():
            raise RuntimeError("not yet")
        return event

    register_function("map-redrive-after", work)
    client = LocalStepFunctionsClient()
    try:
        def task(payload: dict[str, Any]) -> dict[str, Any]:
            return {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "OutputPath": "$.Payload",
                    "End": True, "Parameters": {"FunctionName": "map-redrive-after", **payload}}

        states = {"Fan": {"Type": "Map", "Next": "After", "ItemProcessor": {
                      "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}, "StartAt": "Work",
                      "States": {"Work": task({"Payload.$": "$"})}}},
                  "After": task({"Payload": "after"})}
        execution = start(client, states, [1, 2], name="after")
        assert client.wait_for_execution(execution, 30)
        (run,) = client.list_map_runs(executionArn=execution)["mapRuns"]
        fixed.touch()
        client.redrive_execution(executionArn=execution)
        assert client.wait_for_execution(execution, 30)
        assert client.describe_execution(executionArn=execution)["status"] == "SUCCEEDED"
        assert sorted(calls, key=str) == [1, 2, "after", "after"]  # the Map's items ran once
        assert client.list_map_runs(executionArn=execution)["mapRuns"] == [run]  # the run's row is unchanged
        assert client.describe_map_run(mapRunArn=run["mapRunArn"])["redriveCount"] == 0
        kinds = [event["type"] for event in client.get_execution_history(executionArn=execution)["events"]]
        assert kinds.count("MapRunStarted") == 1 and "MapRunRedriven" not in kinds
        assert kinds[kinds.index("ExecutionRedriven"):] == ["ExecutionRedriven", "TaskScheduled", "TaskStarted",
                                                            "TaskSucceeded", "TaskStateExited", "ExecutionSucceeded"]
    finally:
        client.close()
        unregister_function("map-redrive-after")
