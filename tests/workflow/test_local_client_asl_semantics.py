"""AWS semantics as a user of the local client meets them: intrinsic and JSONata errors, redrive histories.

Written from the user's side (issue 20 items 7 and 8, issue 15 item 4): a state machine created and run
through the boto3-shaped client, read back with DescribeExecution and GetExecutionHistory.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from stepfn.local.lambdas import register_function, unregister_function
from stepfn.workflow.local_client import LocalStepFunctionsClient

ROLE = "arn:aws:iam::123456789012:role/StepFunctionsRole"


@pytest.fixture
def client() -> Any:
    c = LocalStepFunctionsClient()
    yield c
    c.close()


def _run(client: LocalStepFunctionsClient, name: str, definition: dict[str, Any], payload: Any) -> dict[str, Any]:
    arn = client.create_state_machine(name=name, definition=json.dumps(definition), roleArn=ROLE)["stateMachineArn"]
    started = client.start_execution(stateMachineArn=arn, input=json.dumps(payload))
    assert client.wait_for_execution(started["executionArn"], timeout=30)
    return dict(client.describe_execution(executionArn=started["executionArn"]))


def test_base64_decode_of_text_that_is_not_base64_fails_with_states_runtime(client: LocalStepFunctionsClient) -> None:
    definition = {"StartAt": "Decode", "States": {"Decode": {
        "Type": "Pass", "Parameters": {"text.$": "States.Base64Decode($.blob)"}, "End": True}}}
    described = _run(client, "decode", definition, {"blob": "%%%not-base64%%%"})
    assert (described["status"], described["error"]) == ("FAILED", "States.Runtime")
    assert described["cause"].endswith("Invalid arguments in States.Base64Decode")
    assert json.loads(_run(client, "decode-ok", definition, {"blob": "aGVsbG8="})["output"]) == {"text": "hello"}


def test_jsonata_output_that_returns_nothing_names_the_field_inside_output(client: LocalStepFunctionsClient) -> None:
    definition = {"QueryLanguage": "JSONata", "StartAt": "Shape", "States": {"Shape": {
        "Type": "Pass", "Output": {"value": "{% $states.input.missing %}"}, "End": True}}}
    described = _run(client, "shape", definition, {"present": 1})
    assert (described["status"], described["error"]) == ("FAILED", "States.QueryEvaluationError")
    assert "specified for the field 'Output/value' returned nothing (undefined)" in described["cause"]


def test_a_redriven_map_history_records_the_rerun_task(client: LocalStepFunctionsClient) -> None:
    failing = {"on": True}

    def train(event: Any) -> Any:
        if event == 2 and failing["on"]:
            raise RuntimeError("diverged")
        return event * 10

    register_function("redrive-train", train)
    try:
        definition = {"StartAt": "Trials", "States": {"Trials": {
            # One at a time: item 1 has succeeded when item 2 fails (no sibling is aborted mid-task).
            "Type": "Map", "End": True, "MaxConcurrency": 1, "ItemProcessor": {"StartAt": "Train", "States": {"Train": {
                "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "OutputPath": "$.Payload",
                "Parameters": {"FunctionName": "redrive-train", "Payload.$": "$"}, "End": True}}}}}}
        described = _run(client, "trials", definition, [1, 2])
        assert described["status"] == "FAILED"
        failing["on"] = False
        arn = described["executionArn"]
        client.redrive_execution(executionArn=arn)
        assert client.wait_for_execution(arn, timeout=30)
        assert client.describe_execution(executionArn=arn)["status"] == "SUCCEEDED"
        events = client.get_execution_history(executionArn=arn)["events"]
    finally:
        unregister_function("redrive-train")
    kinds = [event["type"] for event in events]
    first = kinds[:kinds.index("ExecutionRedriven")]
    assert first[-3:] == ["MapIterationFailed", "MapStateFailed", "ExecutionFailed"]
    assert kinds[kinds.index("ExecutionRedriven") + 1:] == [
        "TaskScheduled", "TaskStarted", "TaskSucceeded", "TaskStateExited", "MapIterationSucceeded",
        "MapStateSucceeded", "MapStateExited", "ExecutionSucceeded"]
