"""The Map Run APIs through ``stepfn serve`` with a real boto3 client: shapes, paginators, errors."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest

ROLE = "arn:aws:iam::123456789012:role/StepFunctionsRole"
DEFINITION = {"StartAt": "Fan", "States": {"Fan": {
    "Type": "Map", "Label": "Items", "MaxConcurrency": 2, "ToleratedFailurePercentage": 50, "End": True,
    "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}, "StartAt": "Check",
                      "States": {"Check": {"Type": "Choice", "Default": "Good", "Choices": [
                                     {"Variable": "$", "NumericEquals": 2, "Next": "Bad"}]},
                                 "Bad": {"Type": "Fail", "Error": "Two"},
                                 "Good": {"Type": "Pass", "End": True}}}}}}


def test_map_runs_through_boto3(serve: Callable[..., str], make_client: Callable[..., Any]) -> None:
    client = make_client("stepfunctions", serve())
    machine = client.create_state_machine(name="fan", definition=json.dumps(DEFINITION), roleArn=ROLE)
    execution = client.start_execution(stateMachineArn=machine["stateMachineArn"], input="[1, 2, 3, 4]")["executionArn"]
    deadline = time.monotonic() + 30
    while client.describe_execution(executionArn=execution)["status"] == "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert client.describe_execution(executionArn=execution)["status"] == "SUCCEEDED"

    pages = list(client.get_paginator("list_map_runs").paginate(executionArn=execution))
    (item,) = [run for page in pages for run in page["mapRuns"]]
    described = client.describe_map_run(mapRunArn=item["mapRunArn"])
    assert (described["status"], described["maxConcurrency"], described["toleratedFailurePercentage"]) == (
        "SUCCEEDED", 2, 50.0)
    assert described["itemCounts"]["succeeded"] == 3 and described["itemCounts"]["failed"] == 1
    assert described["startDate"] <= described["stopDate"]  # timestamps come back as datetimes

    children = [e for page in client.get_paginator("list_executions").paginate(
        mapRunArn=item["mapRunArn"], PaginationConfig={"PageSize": 3}) for e in page["executions"]]
    assert len(children) == 4 and all(c["itemCount"] == 1 for c in children)
    failed = client.list_executions(mapRunArn=item["mapRunArn"], statusFilter="FAILED")["executions"]
    assert client.describe_execution(executionArn=failed[0]["executionArn"])["error"] == "Two"

    with pytest.raises(client.exceptions.ValidationException):
        client.update_map_run(mapRunArn=item["mapRunArn"], maxConcurrency=4)
    with pytest.raises(client.exceptions.ResourceNotFound):
        client.describe_map_run(mapRunArn=item["mapRunArn"][:-4] + "0000")
    with pytest.raises(client.exceptions.InvalidArn):
        client.describe_map_run(mapRunArn="arn:aws:states:us-east-1:123456789012:execution:fan:x")
