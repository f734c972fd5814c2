"""LocalStepFunctionsClient executions on the real engine and store: shapes, errors, stop, redrive, tokens."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.validate import validate_parameters

from stepfn.local.lambdas import register_function, unregister_function
from stepfn.workflow.local_client import LocalStepFunctionsClient

ROLE = "arn:aws:iam::123456789012:role/StepFunctionsRole"
MODEL = botocore.session.get_session().get_service_model("stepfunctions")


def check_shape(operation: str, response: dict[str, Any]) -> dict[str, Any]:
    body = {k: v for k, v in response.items() if k != "ResponseMetadata"}
    validate_parameters(body, MODEL.operation_model(operation).output_shape)
    return body


def lambda_task(function: str, *, end: bool = True, **extra: Any) -> dict[str, Any]:
    state = {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
             "Parameters": {"FunctionName": function, "Payload.$": "$"}, "OutputPath": "$.Payload", **extra}
    state["End" if end else "Next"] = True if end else extra.pop("Next")
    return state


@pytest.fixture
def client() -> LocalStepFunctionsClient:
    c = LocalStepFunctionsClient()
    yield c
    c.close()


@pytest.fixture
def functions() -> Any:
    names: list[str] = []

    def add(name: str, fn: Any) -> None:
        register_function(name, fn)
        names.append(name)

    yield add
    for name in names:
        unregister_function(name)


def machine(client: LocalStepFunctionsClient, definition: dict[str, Any], name: str = "m", **kw: Any) -> str:
    return str(client.create_state_machine(name=name, definition=json.dumps(definition), roleArn=ROLE, **kw)[
        "stateMachineArn"])


def run(client: LocalStepFunctionsClient, arn: str, payload: Any = None, **kw: Any) -> dict[str, Any]:
    started = check_shape("StartExecution", client.start_execution(
        stateMachineArn=arn, input=json.dumps(payload if payload is not None else {}), **kw))
    assert client.wait_for_execution(started["executionArn"], timeout=30)
    return check_shape("DescribeExecution", client.describe_execution(executionArn=started["executionArn"]))


def test_success_describe_history_and_listing(client: LocalStepFunctionsClient, functions: Any) -> None:
    functions("double", lambda event: {"x": event["x"] * 2})
    arn = machine(client, {"StartAt": "T", "States": {"T": lambda_task("double")}})
    described = run(client, arn, {"x": 21}, name="first")
    assert described["status"] == "SUCCEEDED" and json.loads(described["output"]) == {"x": 42}
    assert described["executionArn"] == "arn:aws:states:us-east-1:123456789012:execution:m:first"
    assert described["redriveStatus"] == "NOT_REDRIVABLE" and described["redriveCount"] == 0
    assert described["stopDate"] >= described["startDate"]
    history = check_shape("GetExecutionHistory", client.get_execution_history(executionArn=described["executionArn"]))
    types = [e["type"] for e in history["events"]]
    assert types == ["ExecutionStarted", "TaskStateEntered", "TaskScheduled", "TaskStarted", "TaskSucceeded",
                     "TaskStateExited", "ExecutionSucceeded"]
    reverse = client.get_execution_history(executionArn=described["executionArn"], reverseOrder=True, maxResults=2)
    assert [e["id"] for e in reverse["events"]] == [7, 6] and "nextToken" in reverse
    rest = client.get_execution_history(executionArn=described["executionArn"], reverseOrder=True,
                                        nextToken=reverse["nextToken"])
    assert [e["id"] for e in rest["events"]] == [5, 4, 3, 2, 1]
    no_data = client.get_execution_history(executionArn=described["executionArn"], includeExecutionData=False)
    assert "input" not in no_data["events"][0]["executionStartedEventDetails"]
    for i in range(3):
        run(client, arn, {"x": i}, name=f"later-{i}")
    listed = check_shape("ListExecutions", client.list_executions(stateMachineArn=arn, maxResults=2))
    assert [e["name"] for e in listed["executions"]] == ["later-2", "later-1"]
    pages = client.get_paginator("list_executions").paginate(stateMachineArn=arn, statusFilter="SUCCEEDED")
    assert [e["name"] for p in pages for e in p["executions"]] == ["later-2", "later-1", "later-0", "first"]
    assert client.list_executions(stateMachineArn=arn, statusFilter="FAILED")["executions"] == []
    for_execution = check_shape("DescribeStateMachineForExecution", client.describe_state_machine_for_execution(
        executionArn=described["executionArn"]))
    assert for_execution["name"] == "m"


def test_names_inputs_and_idempotency(client: LocalStepFunctionsClient) -> None:
    arn = machine(client, {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 30, "End": True}}})
    first = client.start_execution(stateMachineArn=arn, name="same", input='{"a": 1}')
    # A RUNNING execution with the same name and input: the same execution, as AWS answers.
    again = client.start_execution(stateMachineArn=arn, name="same", input='{"a": 1}')
    assert (again["executionArn"], again["startDate"]) == (first["executionArn"], first["startDate"])
    with pytest.raises(client.exceptions.ExecutionAlreadyExists):
        client.start_execution(stateMachineArn=arn, name="same", input='{"a": 2}')
    with pytest.raises(client.exceptions.InvalidExecutionInput):
        client.start_execution(stateMachineArn=arn, input="{nope")
    with pytest.raises(client.exceptions.InvalidName):
        client.start_execution(stateMachineArn=arn, name="has space")
    with pytest.raises(client.exceptions.ValidationException):
        client.start_execution(stateMachineArn=arn, input=json.dumps({"big": "x" * 300_000}))
    with pytest.raises(client.exceptions.StateMachineDoesNotExist):
        client.start_execution(stateMachineArn=arn + "nope")
    generated = client.start_execution(stateMachineArn=arn)["executionArn"]
    assert len(generated.rsplit(":", 1)[1]) == 36  # a UUID name
    stopped = check_shape("StopExecution", client.stop_execution(executionArn=first["executionArn"],
                                                                  error="Why", cause="Because"))
    described = client.describe_execution(executionArn=first["executionArn"])
    assert (described["status"], described["error"], described["cause"]) == ("ABORTED", "Why", "Because")
    assert described["stopDate"] == stopped["stopDate"]
    assert described["redriveStatus"] == "REDRIVABLE"
    client.stop_execution(executionArn=generated)


def test_failure_then_redrive_runs_only_the_failed_work(client: LocalStepFunctionsClient, functions: Any) -> None:
    calls: list[str] = []
    broken = threading.Event()
    broken.set()

    def first(event: Any) -> Any:
        calls.append("first")
        return event

    def flaky(event: Any) -> Any:
        calls.append("flaky")
        if broken.is_set():
            raise RuntimeError("not yet")
        return {"done": True}

    functions("first", first)
    functions("flaky", flaky)
    arn = machine(client, {"StartAt": "A", "States": {"A": lambda_task("first", end=False, Next="B"),
                                                       "B": lambda_task("flaky")}})
    described = run(client, arn, {"v": 1})
    assert described["status"] == "FAILED" and described["error"] == "RuntimeError"
    assert json.loads(described["cause"])["errorMessage"] == "not yet"
    assert described["redriveStatus"] == "REDRIVABLE"
    broken.clear()
    redriven = check_shape("RedriveExecution", client.redrive_execution(executionArn=described["executionArn"]))
    assert client.wait_for_execution(described["executionArn"], timeout=30)
    after = client.describe_execution(executionArn=described["executionArn"])
    assert after["status"] == "SUCCEEDED" and json.loads(after["output"]) == {"done": True}
    assert after["redriveCount"] == 1 and after["redriveDate"] == redriven["redriveDate"]
    assert calls == ["first", "flaky", "flaky"]  # the succeeded task is not run again
    types = [e["type"] for e in client.get_execution_history(executionArn=after["executionArn"])["events"]]
    assert "ExecutionRedriven" in types and types[-1] == "ExecutionSucceeded"
    with pytest.raises(client.exceptions.ExecutionNotRedrivable):
        client.redrive_execution(executionArn=after["executionArn"])
    redriven_list = client.list_executions(stateMachineArn=arn, redriveFilter="REDRIVEN")["executions"]
    assert [e["executionArn"] for e in redriven_list] == [after["executionArn"]]


def test_task_token_callbacks(client: LocalStepFunctionsClient, functions: Any) -> None:
    # The two executions run concurrently: key each token by its execution, not by arrival order.
    by_execution: dict[str, str] = {}
    functions("remember", lambda event: by_execution.__setitem__(event["execution"], event["token"]))
    definition = {"StartAt": "Wait", "States": {"Wait": {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
        "Parameters": {"FunctionName": "remember",
                       "Payload": {"token.$": "$$.Task.Token", "execution.$": "$$.Execution.Name"}}, "End": True}}}
    arn = machine(client, definition)
    ok = client.start_execution(stateMachineArn=arn, name="ok")["executionArn"]
    bad = client.start_execution(stateMachineArn=arn, name="bad")["executionArn"]
    deadline = time.time() + 10
    while len(by_execution) < 2 and time.time() < deadline:
        time.sleep(0.01)
    assert set(by_execution) == {"ok", "bad"}
    tokens = [by_execution["ok"], by_execution["bad"]]
    with pytest.raises(client.exceptions.InvalidOutput):
        client.send_task_success(taskToken=tokens[0], output="{nope")
    check_shape("SendTaskHeartbeat", client.send_task_heartbeat(taskToken=tokens[0]))
    client.send_task_success(taskToken=tokens[0], output='{"approved": true}')
    client.send_task_failure(taskToken=tokens[1], error="Rejected", cause="no")
    for arn_ in (ok, bad):
        assert client.wait_for_execution(arn_, timeout=10)
    assert json.loads(client.describe_execution(executionArn=ok)["output"]) == {"approved": True}
    assert client.describe_execution(executionArn=bad)["error"] == "Rejected"
    with pytest.raises(client.exceptions.TaskDoesNotExist):
        client.send_task_success(taskToken=tokens[0], output="{}")


def test_express_sync_execution(client: LocalStepFunctionsClient) -> None:
    definition = {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"ok": 1}, "End": True}}}
    express = machine(client, definition, name="fast", type="EXPRESS")
    result = check_shape("StartSyncExecution", client.start_sync_execution(stateMachineArn=express, input="{}"))
    assert result["status"] == "SUCCEEDED" and json.loads(result["output"]) == {"ok": 1}
    assert ":express:fast:" in result["executionArn"]
    standard = machine(client, definition, name="slow")
    with pytest.raises(client.exceptions.StateMachineTypeNotSupported):
        client.start_sync_execution(stateMachineArn=standard)
    with pytest.raises(client.exceptions.StateMachineTypeNotSupported):
        client.list_executions(stateMachineArn=express)
    failing = machine(client, {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "E", "Cause": "C"}}},
                      name="failing", type="EXPRESS")
    result = client.start_sync_execution(stateMachineArn=failing)
    assert (result["status"], result["error"], result["cause"]) == ("FAILED", "E", "C")


def test_versions_and_aliases_run_their_own_definition(client: LocalStepFunctionsClient) -> None:
    def passing(value: int) -> dict[str, Any]:
        return {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": value, "End": True}}}

    created = client.create_state_machine(name="v", definition=json.dumps(passing(1)), roleArn=ROLE, publish=True)
    arn, v1 = created["stateMachineArn"], created["stateMachineVersionArn"]
    client.update_state_machine(stateMachineArn=arn, definition=json.dumps(passing(2)), publish=True)
    alias = client.create_state_machine_alias(
        name="stable", routingConfiguration=[{"stateMachineVersionArn": v1, "weight": 100}])["stateMachineAliasArn"]
    assert json.loads(run(client, arn)["output"]) == 2
    by_version = run(client, v1)
    assert json.loads(by_version["output"]) == 1 and by_version["stateMachineVersionArn"] == v1
    by_alias = run(client, alias)
    assert json.loads(by_alias["output"]) == 1 and by_alias["stateMachineAliasArn"] == alias
    assert [e["executionArn"] for e in client.list_executions(stateMachineArn=alias)["executions"]] == [
        by_alias["executionArn"]]


def test_test_state_delegates_to_the_engine(client: LocalStepFunctionsClient) -> None:
    pytest.importorskip("stepfn.engine.teststate")
    state = {"Type": "Pass", "Parameters": {"v.$": "$.x"}, "ResultPath": "$.out", "Next": "N"}
    result = check_shape("TestState", client.test_state(definition=json.dumps(state), roleArn=ROLE,
                                                        input='{"x": 5}', inspectionLevel="DEBUG"))
    assert json.loads(result["output"]) == {"x": 5, "out": {"v": 5}}
    assert result["nextState"] == "N" and result["status"] == "SUCCEEDED"
    with pytest.raises(client.exceptions.InvalidDefinition):
        client.test_state(definition="{nope", roleArn=ROLE)


def test_mock_config_test_cases_as_step_functions_local(conformance_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = conformance_dir / "mock-config" / "mock_config_files" / "lambda_sqs_integration.json5"
    monkeypatch.setenv("SFN_MOCK_CONFIG", str(config))
    client = LocalStepFunctionsClient()
    try:
        definition = {"StartAt": "LambdaState", "States": {
            "LambdaState": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                            "Parameters": {"FunctionName": "nowhere", "Payload.$": "$"}, "Next": "SQSState"},
            "SQSState": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage",
                         "Parameters": {"QueueUrl": "https://sqs/q", "MessageBody.$": "$.Payload.body"}, "End": True},
        }}
        arn = machine(client, definition, name="LambdaSQSIntegration")
        started = client.start_execution(stateMachineArn=arn + "#HappyPath", name="happy")
        assert started["executionArn"].endswith(":execution:LambdaSQSIntegration:happy")
        assert client.wait_for_execution(started["executionArn"], timeout=30)
        described = client.describe_execution(executionArn=started["executionArn"])
        assert described["status"] == "SUCCEEDED", described
        assert json.loads(described["output"])["MessageId"] == "3bcb6e8e-8b51-4375-b0bc-1a59812c6e51"
        with pytest.raises(client.exceptions.ValidationException, match="NoSuchCase"):
            client.start_execution(stateMachineArn=arn + "#NoSuchCase")
    finally:
        client.close()


def test_two_clients_in_one_process_share_stop_wait_and_tokens(functions: Any) -> None:
    tokens: list[str] = []
    functions("remember-token", lambda event: tokens.append(event["token"]))
    runner, other = LocalStepFunctionsClient(), LocalStepFunctionsClient()
    try:
        waiting = machine(runner, {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 300, "End": True}}})
        callback = machine(runner, {"StartAt": "T", "States": {"T": {
            "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
            "Parameters": {"FunctionName": "remember-token", "Payload": {"token.$": "$$.Task.Token"}},
            "End": True}}}, name="callback")
        sleeping = runner.start_execution(stateMachineArn=waiting)["executionArn"]
        assert not other.wait_for_execution(sleeping, timeout=0.2)  # still running, seen through the store
        other.stop_execution(executionArn=sleeping, error="Bored")
        assert other.wait_for_execution(sleeping, timeout=10)
        assert runner.describe_execution(executionArn=sleeping)["status"] == "ABORTED"

        pending = runner.start_execution(stateMachineArn=callback)["executionArn"]
        deadline = time.time() + 10
        while not tokens:
            assert time.time() < deadline
            time.sleep(0.01)
        other.send_task_success(taskToken=tokens[0], output='{"from": "other client"}')
        assert other.wait_for_execution(pending, timeout=10)
        assert json.loads(other.describe_execution(executionArn=pending)["output"]) == {"from": "other client"}
    finally:
        runner.close()
        other.close()


@pytest.mark.parametrize("text", ["NaN", "[Infinity]", '{"a": -Infinity}', '{"a": 1e999}', '"\\ud800"',
                                  "[" * 100_000 + "]" * 100_000, "{nope"])
def test_inputs_that_are_not_strict_json_are_refused(client: LocalStepFunctionsClient, text: str) -> None:
    arn = machine(client, {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    with pytest.raises(client.exceptions.InvalidExecutionInput):
        client.start_execution(stateMachineArn=arn, input=text)
    assert client.list_executions(stateMachineArn=arn)["executions"] == []
