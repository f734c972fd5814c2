"""boto3 ``stepfunctions`` clients against ``stepfn serve``: every operation the server speaks and its errors."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from stepfn.local.lambdas import register_function, unregister_function
from stepfn.server import TOKEN_HEADER, read_token

ROLE = "arn:aws:iam::123456789012:role/StepFunctionsRole"
PASS = {"StartAt": "Hello", "States": {"Hello": {"Type": "Pass", "Result": {"greeting": "hi"}, "ResultPath": "$.out", "End": True}}}
WAIT = {"StartAt": "Sleep", "States": {"Sleep": {"Type": "Wait", "Seconds": 600, "End": True}}}
FAIL = {"StartAt": "Boom", "States": {"Boom": {"Type": "Fail", "Error": "Custom.Error", "Cause": "it broke"}}}


def _code(error: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    return error.value.response["Error"]["Code"], error.value.response["ResponseMetadata"]["HTTPStatusCode"]


def _wait(sfn: Any, arn: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        described: dict[str, Any] = sfn.describe_execution(executionArn=arn)
        if described["status"] != "RUNNING" or time.monotonic() > deadline:
            return described
        time.sleep(0.05)


@pytest.fixture
def sfn(serve: Callable[..., str], make_client: Callable[..., Any]) -> Any:
    return make_client("stepfunctions", serve())


def test_state_machine_lifecycle_and_errors(sfn: Any) -> None:
    created = sfn.create_state_machine(name="hello", definition=json.dumps(PASS), roleArn=ROLE,
                                       tags=[{"key": "team", "value": "ml"}])
    arn = created["stateMachineArn"]
    assert arn.endswith(":stateMachine:hello")
    assert isinstance(created["creationDate"], datetime)
    described = sfn.describe_state_machine(stateMachineArn=arn)
    assert json.loads(described["definition"]) == PASS
    assert described["roleArn"] == ROLE and described["type"] == "STANDARD"
    assert sfn.list_tags_for_resource(resourceArn=arn)["tags"] == [{"key": "team", "value": "ml"}]

    with pytest.raises(ClientError) as exists:
        sfn.create_state_machine(name="hello", definition=json.dumps(FAIL), roleArn=ROLE)
    assert _code(exists) == ("StateMachineAlreadyExists", 400)
    assert isinstance(exists.value, sfn.exceptions.StateMachineAlreadyExists)
    with pytest.raises(sfn.exceptions.StateMachineDoesNotExist):
        sfn.describe_state_machine(stateMachineArn=arn.replace("hello", "nope"))
    with pytest.raises(ClientError) as bad_arn:
        sfn.describe_state_machine(stateMachineArn="not-an-arn")
    assert _code(bad_arn) == ("InvalidArn", 400)
    with pytest.raises(sfn.exceptions.InvalidDefinition):
        sfn.create_state_machine(name="broken", definition='{"StartAt": "X", "States": {}}', roleArn=ROLE)
    with pytest.raises(sfn.exceptions.InvalidArn):
        sfn.create_state_machine(name="badrole", definition=json.dumps(PASS), roleArn="not-a-role")

    updated = sfn.update_state_machine(stateMachineArn=arn, definition=json.dumps(FAIL))
    assert isinstance(updated["updateDate"], datetime)
    assert json.loads(sfn.describe_state_machine(stateMachineArn=arn)["definition"]) == FAIL

    for index in range(3):
        sfn.create_state_machine(name=f"extra-{index}", definition=json.dumps(PASS), roleArn=ROLE)
    first = sfn.list_state_machines(maxResults=2)
    assert len(first["stateMachines"]) == 2 and first["nextToken"]
    names = [m["name"] for page in sfn.get_paginator("list_state_machines").paginate(PaginationConfig={"PageSize": 1})
             for m in page["stateMachines"]]
    assert sorted(names) == ["extra-0", "extra-1", "extra-2", "hello"]

    sfn.delete_state_machine(stateMachineArn=arn)
    with pytest.raises(sfn.exceptions.StateMachineDoesNotExist):
        sfn.describe_state_machine(stateMachineArn=arn)


def test_executions_histories_stop_and_errors(sfn: Any) -> None:
    arn = sfn.create_state_machine(name="hello", definition=json.dumps(PASS), roleArn=ROLE)["stateMachineArn"]
    started = sfn.start_execution(stateMachineArn=arn, name="run-1", input=json.dumps({"x": 1}))
    assert started["executionArn"].endswith(":execution:hello:run-1")
    assert isinstance(started["startDate"], datetime)
    described = _wait(sfn, started["executionArn"])
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"]) == {"x": 1, "out": {"greeting": "hi"}}
    assert described["stopDate"] >= described["startDate"]

    history = sfn.get_execution_history(executionArn=started["executionArn"])
    types = [event["type"] for event in history["events"]]
    assert types == ["ExecutionStarted", "PassStateEntered", "PassStateExited", "ExecutionSucceeded"]
    assert all(isinstance(event["timestamp"], datetime) for event in history["events"])
    paged = [event["type"] for page in sfn.get_paginator("get_execution_history").paginate(
        executionArn=started["executionArn"], PaginationConfig={"PageSize": 1}) for event in page["events"]]
    assert paged == types
    newest_first = sfn.get_execution_history(executionArn=started["executionArn"], reverseOrder=True, maxResults=1)
    assert newest_first["events"][0]["type"] == "ExecutionSucceeded" and newest_first["nextToken"]

    with pytest.raises(ClientError) as already:
        sfn.start_execution(stateMachineArn=arn, name="run-1", input=json.dumps({"x": 2}))
    assert _code(already) == ("ExecutionAlreadyExists", 400)
    with pytest.raises(sfn.exceptions.ExecutionDoesNotExist):
        sfn.describe_execution(executionArn=started["executionArn"].replace("run-1", "run-9"))
    with pytest.raises(sfn.exceptions.InvalidExecutionInput):
        sfn.start_execution(stateMachineArn=arn, input="{not json")

    waiting = sfn.create_state_machine(name="waiting", definition=json.dumps(WAIT), roleArn=ROLE)["stateMachineArn"]
    long_run = sfn.start_execution(stateMachineArn=waiting)["executionArn"]
    assert sfn.describe_execution(executionArn=long_run)["status"] == "RUNNING"
    running = sfn.list_executions(stateMachineArn=waiting, statusFilter="RUNNING")["executions"]
    assert [item["executionArn"] for item in running] == [long_run]
    stopped = sfn.stop_execution(executionArn=long_run, error="Manual", cause="test stop")
    assert isinstance(stopped["stopDate"], datetime)
    final = _wait(sfn, long_run)
    assert (final["status"], final.get("error"), final.get("cause")) == ("ABORTED", "Manual", "test stop")
    assert sfn.list_executions(stateMachineArn=waiting, statusFilter="RUNNING")["executions"] == []
    all_runs = [e["executionArn"] for page in sfn.get_paginator("list_executions").paginate(
        stateMachineArn=arn, PaginationConfig={"PageSize": 1}) for e in page["executions"]]
    assert all_runs == [started["executionArn"]]


def test_failed_execution_and_redrive(sfn: Any) -> None:
    arn = sfn.create_state_machine(name="fails", definition=json.dumps(FAIL), roleArn=ROLE)["stateMachineArn"]
    run = sfn.start_execution(stateMachineArn=arn, name="r")["executionArn"]
    described = _wait(sfn, run)
    assert (described["status"], described["error"], described["cause"]) == ("FAILED", "Custom.Error", "it broke")
    assert sfn.get_execution_history(executionArn=run)["events"][-1]["executionFailedEventDetails"] == {
        "error": "Custom.Error", "cause": "it broke"}
    try:
        redriven = sfn.redrive_execution(executionArn=run)
    except ClientError as error:
        # A Fail state is not redrivable on AWS either (ExecutionNotRedrivable).
        assert error.response["Error"]["Code"] == "ExecutionNotRedrivable"
    else:
        assert isinstance(redriven["redriveDate"], datetime)
    with pytest.raises(sfn.exceptions.ExecutionDoesNotExist):
        sfn.redrive_execution(executionArn=run.replace(":r", ":absent"))


def test_express_start_sync_execution(sfn: Any) -> None:
    arn = sfn.create_state_machine(name="quick", definition=json.dumps(PASS), roleArn=ROLE, type="EXPRESS")["stateMachineArn"]
    result = sfn.start_sync_execution(stateMachineArn=arn, input=json.dumps({"x": 5}))
    assert result["status"] == "SUCCEEDED"
    assert json.loads(result["output"]) == {"x": 5, "out": {"greeting": "hi"}}
    assert isinstance(result["stopDate"], datetime)
    standard = sfn.create_state_machine(name="std", definition=json.dumps(PASS), roleArn=ROLE)["stateMachineArn"]
    with pytest.raises(ClientError) as error:
        sfn.start_sync_execution(stateMachineArn=standard)
    assert _code(error) == ("StateMachineTypeNotSupported", 400)


def test_versions_aliases_and_tags(sfn: Any) -> None:
    created = sfn.create_state_machine(name="v", definition=json.dumps(PASS), roleArn=ROLE, publish=True)
    arn, v1 = created["stateMachineArn"], created["stateMachineVersionArn"]
    assert v1 == arn + ":1"
    sfn.update_state_machine(stateMachineArn=arn, definition=json.dumps(FAIL))
    v2 = sfn.publish_state_machine_version(stateMachineArn=arn, description="second")["stateMachineVersionArn"]
    assert v2 == arn + ":2"
    versions = [v["stateMachineVersionArn"] for v in sfn.list_state_machine_versions(stateMachineArn=arn)["stateMachineVersions"]]
    assert sorted(versions) == [v1, v2]
    alias = sfn.create_state_machine_alias(
        name="live", routingConfiguration=[{"stateMachineVersionArn": v1, "weight": 100}])["stateMachineAliasArn"]
    assert alias == arn + ":live"
    assert sfn.describe_state_machine_alias(stateMachineAliasArn=alias)["routingConfiguration"][0]["weight"] == 100
    sfn.update_state_machine_alias(stateMachineAliasArn=alias, routingConfiguration=[{"stateMachineVersionArn": v2, "weight": 100}])
    assert [a["stateMachineAliasArn"] for a in sfn.list_state_machine_aliases(stateMachineArn=arn)["stateMachineAliases"]] == [alias]
    run = sfn.start_execution(stateMachineArn=alias)["executionArn"]
    assert _wait(sfn, run)["status"] == "FAILED", "the alias routes to version 2 (the Fail definition)"
    with pytest.raises(sfn.exceptions.ResourceNotFound):
        sfn.describe_state_machine_alias(stateMachineAliasArn=arn + ":absent")
    sfn.delete_state_machine_alias(stateMachineAliasArn=alias)

    sfn.tag_resource(resourceArn=arn, tags=[{"key": "a", "value": "1"}])
    sfn.untag_resource(resourceArn=arn, tagKeys=["a"])
    assert sfn.list_tags_for_resource(resourceArn=arn)["tags"] == []


@pytest.fixture
def token_catcher() -> Iterator[list[str]]:
    tokens: list[str] = []
    event = threading.Event()

    def catch(payload: dict[str, Any]) -> dict[str, Any]:
        tokens.append(payload["token"])
        event.set()
        return {}

    register_function("catch-token", catch)
    yield tokens
    unregister_function("catch-token")


def _callback_definition() -> str:
    return json.dumps({
        "StartAt": "Callback",
        "States": {"Callback": {
            "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
            "Parameters": {"FunctionName": "catch-token", "Payload": {"token.$": "$$.Task.Token"}},
            "HeartbeatSeconds": 60, "End": True,
        }},
    })


def _await_token(tokens: list[str], count: int) -> str:
    deadline = time.monotonic() + 20
    while len(tokens) < count and time.monotonic() < deadline:
        time.sleep(0.02)
    return tokens[count - 1]


def test_task_tokens(sfn: Any, token_catcher: list[str]) -> None:
    arn = sfn.create_state_machine(name="cb", definition=_callback_definition(), roleArn=ROLE)["stateMachineArn"]
    first = sfn.start_execution(stateMachineArn=arn, name="ok")["executionArn"]
    token = _await_token(token_catcher, 1)
    sfn.send_task_heartbeat(taskToken=token)
    sfn.send_task_success(taskToken=token, output=json.dumps({"approved": True}))
    described = _wait(sfn, first)
    assert described["status"] == "SUCCEEDED" and json.loads(described["output"]) == {"approved": True}
    with pytest.raises(ClientError) as stale:
        sfn.send_task_success(taskToken=token, output="{}")
    assert _code(stale)[0] in ("TaskTimedOut", "TaskDoesNotExist", "InvalidToken")

    second = sfn.start_execution(stateMachineArn=arn, name="no")["executionArn"]
    sfn.send_task_failure(taskToken=_await_token(token_catcher, 2), error="Rejected", cause="by a human")
    failed = _wait(sfn, second)
    assert (failed["status"], failed["error"], failed["cause"]) == ("FAILED", "Rejected", "by a human")
    with pytest.raises(ClientError) as invalid:
        sfn.send_task_success(taskToken="garbage", output="{}")
    assert _code(invalid)[0] in ("InvalidToken", "TaskDoesNotExist")


def test_test_state(sfn: Any) -> None:
    result = sfn.test_state(
        definition=json.dumps({"Type": "Pass", "Parameters": {"doubled.$": "States.MathAdd($.n, $.n)"}, "End": True}),
        input=json.dumps({"n": 4}), inspectionLevel="DEBUG",
    )
    assert result["status"] == "SUCCEEDED"
    assert json.loads(result["output"]) == {"doubled": 8}
    assert "inspectionData" in result
    failed = sfn.test_state(definition=json.dumps({"Type": "Fail", "Error": "E", "Cause": "C"}), input="{}")
    assert (failed["status"], failed["error"], failed["cause"]) == ("FAILED", "E", "C")
    with pytest.raises(ClientError) as bad:
        sfn.test_state(definition="{", input="{}")
    assert _code(bad)[0] in ("InvalidDefinition", "ValidationException")


def test_token_is_required_on_every_request(serve: Callable[..., str], make_client: Callable[..., Any]) -> None:
    url = serve(token="s3cret")
    with pytest.raises(ClientError) as refused:
        make_client("stepfunctions", url).list_state_machines()
    assert _code(refused) == ("UnrecognizedClientException", 403)
    with pytest.raises(ClientError) as wrong:
        make_client("stepfunctions", url, token="guess").list_state_machines()
    assert _code(wrong) == ("UnrecognizedClientException", 403)
    assert make_client("stepfunctions", url, token="s3cret").list_state_machines()["stateMachines"] == []
    assert make_client("sagemaker", url, token="s3cret").list_endpoints()["Endpoints"] == []

    import boto3

    cli_style = boto3.client("stepfunctions", endpoint_url=url, region_name="us-east-1",
                             aws_access_key_id="s3cret", aws_secret_access_key="unused")
    assert cli_style.list_state_machines()["stateMachines"] == []
    assert httpx.get(f"{url}/ping").status_code == 403
    assert httpx.get(f"{url}/ping", headers={"Authorization": "Bearer s3cret"}).text == "ok"
    with httpx.Client() as browser:
        first = browser.get(f"{url}/ping", params={"token": "s3cret"})
        assert first.status_code == 200 and "stepfn-token" in first.headers["set-cookie"]
        assert browser.get(f"{url}/ping").status_code == 200, "the cookie carries the token afterwards"


def test_unknown_operations(sfn: Any, serve: Callable[..., str]) -> None:
    with pytest.raises(ClientError) as unsupported:
        sfn.list_activities()
    assert _code(unsupported) == ("UnknownOperationException", 400)
    url = sfn.meta.endpoint_url
    token = {TOKEN_HEADER: read_token() or ""}
    answer = httpx.post(url, content=b"{}", headers={"X-Amz-Target": "AWSStepFunctions.NoSuchThing", **token})
    assert (answer.status_code, answer.json()["__type"]) == (400, "UnknownOperationException")
    missing = httpx.post(url, content=json.dumps({"name": "x"}),
                         headers={"X-Amz-Target": "AWSStepFunctions.CreateStateMachine", **token})
    assert missing.status_code == 400 and missing.json()["__type"] == "ValidationException"
    assert "definition" in missing.json()["message"] and "roleArn" in missing.json()["message"]
    assert missing.headers["content-type"].startswith("application/x-amz-json-1.0")


def test_wire_format_is_aws_json_1_0(sfn: Any) -> None:
    """Raw bytes as the AWS CLI or another SDK sees them: epoch-second timestamps, the 1.0 content type."""
    created = sfn.create_state_machine(name="wire", definition=json.dumps(PASS), roleArn=ROLE)
    answer = httpx.post(sfn.meta.endpoint_url, content=b"{}",
                        headers={"X-Amz-Target": "AWSStepFunctions.ListStateMachines",
                                 "Content-Type": "application/x-amz-json-1.0", TOKEN_HEADER: read_token() or ""})
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/x-amz-json-1.0")
    assert answer.headers["x-amzn-requestid"]
    item = answer.json()["stateMachines"][0]
    assert isinstance(item["creationDate"], float)
    assert abs(item["creationDate"] - created["creationDate"].timestamp()) < 0.001
    assert "ResponseMetadata" not in answer.json()


def test_console_mounted_behind_the_same_token(serve: Callable[..., str], make_client: Callable[..., Any]) -> None:
    """``stepfn ui``: the console at /ui shares the API's process, client and token (a cookie after ?token=)."""
    url = serve(token="s3cret", ui=True)
    make_client("stepfunctions", url, token="s3cret").create_state_machine(
        name="seen", definition=json.dumps(PASS), roleArn=ROLE)
    assert httpx.get(f"{url}/ui/").status_code == 403
    with httpx.Client() as browser:
        page = browser.get(f"{url}/ui/", params={"token": "s3cret"})
        assert page.status_code == 200 and "<html" in page.text.lower()
        workflows = browser.get(f"{url}/ui/api/workflows")
        assert workflows.status_code == 200
        assert [item["name"] for item in workflows.json()] == ["seen"]


MISSING_MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:absent"
MISSING_EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:absent:run"


@pytest.mark.parametrize(
    ("operation", "kwargs", "codes"),
    [
        ("start_execution", {"stateMachineArn": MISSING_MACHINE}, {"StateMachineDoesNotExist"}),
        ("update_state_machine", {"stateMachineArn": MISSING_MACHINE, "definition": json.dumps(PASS)},
         {"StateMachineDoesNotExist"}),
        ("list_executions", {"stateMachineArn": MISSING_MACHINE}, {"StateMachineDoesNotExist"}),
        ("publish_state_machine_version", {"stateMachineArn": MISSING_MACHINE}, {"StateMachineDoesNotExist"}),
        ("describe_execution", {"executionArn": MISSING_EXECUTION}, {"ExecutionDoesNotExist"}),
        ("stop_execution", {"executionArn": MISSING_EXECUTION}, {"ExecutionDoesNotExist"}),
        ("get_execution_history", {"executionArn": MISSING_EXECUTION}, {"ExecutionDoesNotExist"}),
        ("describe_execution", {"executionArn": "arn:aws:states:us-east-1:1:nonsense"}, {"InvalidArn"}),
        ("send_task_heartbeat", {"taskToken": "not-a-token"}, {"InvalidToken", "TaskDoesNotExist"}),
        ("send_task_failure", {"taskToken": "not-a-token"}, {"InvalidToken", "TaskDoesNotExist"}),
        ("create_state_machine", {"name": "bad name!", "definition": json.dumps(PASS), "roleArn": ROLE}, {"InvalidName"}),
        ("create_state_machine", {"name": "typed", "definition": json.dumps(PASS), "roleArn": ROLE, "type": "EXPRESS",
                                  "tracingConfiguration": {"enabled": True}, "loggingConfiguration": {"level": "LOUD"}},
         {"ValidationException"}),
    ],
)
def test_error_codes(sfn: Any, operation: str, kwargs: dict[str, Any], codes: set[str]) -> None:
    with pytest.raises(ClientError) as error:
        getattr(sfn, operation)(**kwargs)
    code, status = _code(error)
    assert code in codes and status == 400, (code, status)
    assert isinstance(error.value, getattr(sfn.exceptions, code)), "boto3 maps the code to its exception class"
