"""History events validate against botocore's GetExecutionHistory model."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import botocore.session
from engine_helpers import run

from stepfn.engine import ScaledClock, TaskControl, TaskRequest
from stepfn.errors import StatesError

MODEL = botocore.session.get_session().get_service_model("stepfunctions")
EVENT = MODEL.shape_for("HistoryEvent")
TYPES = set(MODEL.shape_for("HistoryEventType").enum)


def check(value: Any, shape: Any, where: str) -> None:
    kind = shape.type_name
    if kind == "structure":
        assert isinstance(value, dict), where
        unknown = set(value) - set(shape.members)
        assert not unknown, f"{where}: not in {shape.name}: {unknown}"
        for key, item in value.items():
            check(item, shape.members[key], f"{where}.{key}")
    elif kind == "map":
        assert isinstance(value, dict), where
        for key, item in value.items():
            check(key, shape.key, f"{where}<key>")
            check(item, shape.value, f"{where}[{key}]")
    elif kind == "string":
        assert isinstance(value, str), f"{where}: {value!r} is not a string"
        if shape.enum:
            assert value in shape.enum, where
    elif kind == "long" or kind == "integer":
        assert isinstance(value, int) and not isinstance(value, bool), where
    elif kind == "boolean":
        assert isinstance(value, bool), where
    elif kind == "timestamp":
        assert isinstance(value, datetime) and value.tzinfo is not None, where


def test_every_event_of_a_rich_execution_matches_the_model() -> None:
    def handler(request: TaskRequest, control: TaskControl) -> Any:
        if request.parameters.get("fail"):
            raise StatesError("Custom.Fail", "planned")
        return {"ok": request.parameters}

    definition = {"StartAt": "Setup", "States": {
        "Setup": {"Type": "Pass", "Assign": {"count": 2}, "Result": {"items": [1, 2]}, "Next": "Task"},
        "Task": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"fail": True},
                 # An hour: 3.6 s at 1000x. 60 s was 60 ms of real time, which a loaded machine can stall past:
                 # the attempt then timed out instead of failing, and no TaskFailed was recorded.
                 "Credentials": {"RoleArn": "arn:aws:iam::123456789012:role/r"}, "TimeoutSeconds": 3600,
                 "Retry": [{"ErrorEquals": ["Custom.Fail"], "MaxAttempts": 1, "IntervalSeconds": 1}],
                 "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Legacy"}]},
        "Legacy": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:f",
                   "ResultPath": "$.legacy", "Next": "Map"},
        "Map": {"Type": "Map", "ItemsPath": "$.items", "ResultPath": "$.mapped", "ItemProcessor": {
            "StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 1, "End": True}}}, "Next": "Distributed"},
        "Distributed": {"Type": "Map", "ItemsPath": "$.items", "ResultPath": None, "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED"}, "StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}},
            "Next": "Par"},
        "Par": {"Type": "Parallel", "ResultPath": None, "Branches": [
            {"StartAt": "A", "States": {"A": {"Type": "Succeed"}}}], "Next": "Choose"},
        "Choose": {"Type": "Choice", "Choices": [{"Variable": "$count", "NumericEquals": 2, "Next": "Jsonata"}]},
        "Jsonata": {"Type": "Pass", "QueryLanguage": "JSONata", "Output": "{% $states.input.nothing.at.all %}",
                    "End": True}}}
    result = run(definition, {"in": 1}, handlers={"lambda:invoke": handler}, clock=ScaledClock(1000),
                 role_arn="arn:aws:iam::123456789012:role/exec")
    assert (result.status, result.error) == ("FAILED", "States.QueryEvaluationError")
    seen = set()
    for event in result.events:
        check(event, EVENT, f"event {event['id']} {event['type']}")
        assert event["type"] in TYPES
        seen.add(event["type"])
    assert {"TaskScheduled", "TaskFailed", "LambdaFunctionScheduled", "MapIterationStarted", "MapRunStarted",
            "ParallelStateStarted", "WaitStateExited", "ChoiceStateExited", "EvaluationFailed",
            "ExecutionFailed"} <= seen
