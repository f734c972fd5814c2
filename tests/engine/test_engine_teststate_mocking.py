"""TestState (one state, inspection data per stage) and Step Functions Local mock configs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from engine_helpers import identity

from stepfn.engine import Engine, ScaledClock, TaskControl, TaskRequest
from stepfn.engine.mocking import MockConfig, parse_state_machine_arn
from stepfn.errors import DefinitionError

TASK = {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": "f", "Payload": {"v.$": "$.a"}},
        "ResultSelector": {"r.$": "$.Payload"}, "ResultPath": "$.out", "Next": "Done"}


def test_test_state_reports_every_stage() -> None:
    engine = Engine({"lambda:invoke": lambda r, c: {"Payload": r.parameters["Payload"]["v"] * 2}})
    response = engine.test_state(TASK, '{"a": 21}', inspection_level="DEBUG")
    assert response["status"] == "SUCCEEDED" and response["nextState"] == "Done"
    assert json.loads(response["output"]) == {"a": 21, "out": {"r": 42}}
    data = {k: json.loads(v) if isinstance(v, str) else v for k, v in response["inspectionData"].items()}
    assert data == {"input": {"a": 21}, "afterInputPath": {"a": 21},
                    "afterParameters": {"FunctionName": "f", "Payload": {"v": 21}}, "result": {"Payload": 42},
                    "afterResultSelector": {"r": 42}, "afterResultPath": {"a": 21, "out": {"r": 42}},
                    "variables": {}}
    assert "inspectionData" not in engine.test_state(TASK, {"a": 1}, mock={"result": '{"Payload": 1}'})


def test_test_state_retriable_caught_and_failed() -> None:
    engine = Engine()
    error = {"errorOutput": {"error": "Svc.Err", "cause": "bad"}}
    retriable = engine.test_state(TASK | {"Retry": [{"ErrorEquals": ["Svc.Err"], "IntervalSeconds": 4}]},
                                  {"a": 1}, mock=error, inspection_level="DEBUG")
    assert retriable["status"] == "RETRIABLE"
    assert retriable["inspectionData"]["errorDetails"] == {"retryIndex": 0, "retryBackoffIntervalSeconds": 4}
    caught = engine.test_state(TASK | {"Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Handler"}]},
                               {"a": 1}, mock=error)
    assert (caught["status"], caught["nextState"], caught["error"]) == ("CAUGHT_ERROR", "Handler", "Svc.Err")
    assert json.loads(caught["output"]) == {"Error": "Svc.Err", "Cause": "bad"}
    failed = engine.test_state(TASK, {"a": 1}, mock=error)
    assert (failed["status"], failed["error"], failed["cause"]) == ("FAILED", "Svc.Err", "bad")


def test_test_state_choice_variables_and_containers() -> None:
    engine = Engine()
    choice = {"Type": "Choice", "Choices": [{"Variable": "$limit", "NumericGreaterThan": 3, "Next": "Big"}],
              "Default": "Small"}
    assert engine.test_state(choice, {}, variables='{"limit": 5}')["nextState"] == "Big"
    with pytest.raises(DefinitionError):
        engine.test_state({"Type": "Map", "ItemProcessor": {"StartAt": "P", "States": {
            "P": {"Type": "Pass", "End": True}}}, "End": True}, [])
    mapped = engine.test_state({"Type": "Map", "ItemProcessor": {"StartAt": "P", "States": {
        "P": {"Type": "Pass", "End": True}}}, "ResultPath": "$.m", "End": True}, {"a": 1}, mock={"result": "[1]"})
    assert json.loads(mapped["output"]) == {"a": 1, "m": [1]}


def test_test_state_picks_a_state_from_a_whole_machine() -> None:
    machine = {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"},
                                          "B": {"Type": "Pass", "Result": "b", "End": True}}}
    assert Engine().test_state(machine, {}, state_name="B")["output"] == '"b"'


def test_mock_config_fixture_happy_retry_and_hybrid_paths(conformance_dir: Path) -> None:
    config = MockConfig.load(conformance_dir / "mock-config" / "mock_config_files" /
                             "lambda_sqs_integration.json5")
    definition = {"StartAt": "LambdaState", "States": {
        "LambdaState": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                        "Parameters": {"FunctionName": "f"},
                        "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1, "MaxAttempts": 3}],
                        "ResultPath": "$.lambda", "Next": "SQSState"},
        "SQSState": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage",
                     "Parameters": {"QueueUrl": "q", "MessageBody": "m"}, "ResultPath": "$.sqs", "End": True}}}
    real_sqs: list[Any] = []

    def sqs(request: TaskRequest, control: TaskControl) -> Any:
        real_sqs.append(request.parameters)
        return {"MessageId": "real"}

    engine = Engine({"sqs:sendMessage": sqs}, ScaledClock(1000))
    happy = engine.run(definition, {}, **identity(), mock=config.handlers("LambdaSQSIntegration", "HappyPath"))
    assert happy.output_value["lambda"]["Payload"]["body"] == "Hello from Lambda!"
    assert happy.output_value["sqs"]["MessageId"] == "3bcb6e8e-8b51-4375-b0bc-1a59812c6e51"
    retry = engine.run(definition, {}, **identity(), mock=config.handlers("LambdaSQSIntegration", "RetryPath"))
    assert retry.status == "SUCCEEDED"
    assert [e["type"] for e in retry.events].count("TaskFailed") == 3
    hybrid = engine.run(definition, {}, **identity(), mock=config.handlers("LambdaSQSIntegration", "HybridPath"))
    assert hybrid.output_value["sqs"] == {"MessageId": "real"} and len(real_sqs) == 1


def test_mock_config_validation_and_arn_test_case() -> None:
    with pytest.raises(DefinitionError):
        MockConfig.load({"MockedResponses": {"R": {"0": {"Throw": {"Error": "E"}}}}})
    with pytest.raises(DefinitionError):
        MockConfig.load({"StateMachines": {"M": {"TestCases": {"T": {"S": "Missing"}}}}, "MockedResponses": {}})
    config = MockConfig.load({"StateMachines": {"M": {"TestCases": {"T": {}}}}, "MockedResponses": {}})
    with pytest.raises(KeyError):
        config.handlers("M", "Nope")
    assert parse_state_machine_arn("arn:aws:states:us-east-1:1:stateMachine:M#T") == (
        "arn:aws:states:us-east-1:1:stateMachine:M", "T")
