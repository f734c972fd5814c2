"""Static validation of whole definitions (issue 3: "a static validator ... the way Step Functions does")."""

from __future__ import annotations

import copy
import json
import pickle
import re
from pathlib import Path
from typing import Any

import pytest

from stepfn.asl import check_definition, validate_definition
from stepfn.asl.definition import DIAGNOSTIC_CODES, name_problem
from stepfn.errors import Diagnostic, ValidationError

STAND_IN = re.compile(r"^(?:__tbd__|_tbd_|%[A-Z_]*PLACEHOLDER%)$", re.IGNORECASE)
LAMBDA = "arn:aws:lambda:us-east-1:111111111111:function:train"


def _value_at(document: Any, path: str) -> Any:
    """Follow a diagnostic path (``$.States.A.Next``, ``['key']``, ``[0]``) into the definition."""
    node = document
    for match in re.finditer(r"\.([A-Za-z_][A-Za-z0-9_]*)|\['((?:[^'\\]|\\.)*)'\]|\[(\d+)\]", path[1:]):
        name, quoted, index = match.groups()
        if index is not None:
            node = node[int(index)]
        else:
            node = node[name if name is not None else re.sub(r"\\(.)", r"\1", quoted)]
    return node


def test_every_recorded_definition_is_valid(conformance_dir: Path) -> None:
    """AWS accepted all 400 recorded definitions; only the stand-ins the original tests replaced at run time
    (``__tbd__``, ``%...PLACEHOLDER%``) may be reported, and only where they stand."""
    rows = [json.loads(line) for line in (conformance_dir / "aws-recorded.jsonl").read_text().splitlines()]
    assert len(rows) == 400
    unexpected = []
    stand_ins = 0
    for row in rows:
        for diagnostic in validate_definition(json.dumps(row["definition"])):
            value = _value_at(row["definition"], diagnostic.path)
            if isinstance(value, str) and STAND_IN.match(value):
                stand_ins += 1
            else:
                unexpected.append(f"{row['test_id']}: {diagnostic}")
    assert not unexpected, "\n".join(unexpected)
    assert stand_ins > 30  # the Lambda stand-ins are reported as INVALID_RESOURCE


def test_stand_in_resource_is_reported() -> None:
    diagnostics = validate_definition(_machine({"T": {"Type": "Task", "Resource": "__tbd__", "End": True}}))
    assert [(d.code, d.path, d.state, d.field) for d in diagnostics] == [
        ("INVALID_RESOURCE", "$.States.T.Resource", "T", "Resource")
    ]


def _machine(states: dict[str, Any], start: str | None = None, **top: Any) -> dict[str, Any]:
    return {"StartAt": start or next(iter(states)), "States": states, **top}


VALID: dict[str, dict[str, Any]] = {
    "all JSONPath fields": _machine({
        "Prepare": {"Type": "Pass", "InputPath": "$.in", "Parameters": {"a.$": "$.x", "b.$": "States.Array($.y, 1)",
                                                                         "c": [{"d.$": "$$.Execution.Id"}]},
                    "ResultPath": "$.prepared", "OutputPath": "$", "Assign": {"count": 0, "name.$": "$.name"},
                    "Next": "Train"},
        "Train": {"Type": "Task", "Resource": "arn:aws:states:::sagemaker:createTrainingJob.sync",
                  "Parameters": {"TrainingJobName.$": "States.Format('job-{}', $$.Execution.Name)"},
                  "ResultSelector": {"arn.$": "$.TrainingJobArn"}, "ResultPath": "$.train",
                  "TimeoutSeconds": 3600, "HeartbeatSeconds": 60,
                  "Credentials": {"RoleArn.$": "States.Format('arn:aws:iam::{}:role/r', $.account)"},
                  "Retry": [{"ErrorEquals": ["SageMaker.AmazonSageMakerException"], "IntervalSeconds": 2,
                             "MaxAttempts": 0, "BackoffRate": 1.5, "MaxDelaySeconds": 30, "JitterStrategy": "FULL"},
                            {"ErrorEquals": ["States.ALL"]}],
                  "Catch": [{"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.error", "Next": "Failed"},
                            {"ErrorEquals": ["States.ALL"], "ResultPath": None, "Next": "Failed"}],
                  "Next": "Check"},
        "Check": {"Type": "Choice", "Choices": [
            {"And": [{"Variable": "$.score", "NumericGreaterThanEquals": 0.9},
                     {"Not": {"Variable": "$.label", "StringMatches": "bad*"}}], "Next": "Wait"},
            {"Variable": "$.when", "TimestampLessThan": "2026-01-01T00:00:00Z", "Next": "Wait"},
            {"Variable": "$$.Execution.Input.force", "BooleanEqualsPath": "$.flag", "Next": "Wait",
             "Assign": {"forced": True}},
            {"Variable": "$count", "IsPresent": True, "Next": "Fanout"},
        ], "Default": "Failed"},
        "Wait": {"Type": "Wait", "SecondsPath": "$.delay", "Next": "Fanout"},
        "Fanout": {"Type": "Parallel", "Branches": [
            _machine({"B1": {"Type": "Succeed"}}),
            _machine({"B2": {"Type": "Wait", "Timestamp": "2026-01-01T00:00:00.5+01:00", "End": True}}),
        ], "ResultSelector": {"first.$": "$[0]"}, "Next": "Each"},
        "Each": {"Type": "Map", "ItemsPath": "$.items", "ItemSelector": {"v.$": "$$.Map.Item.Value"},
                 "MaxConcurrency": 0, "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "One",
                                                         "States": {"One": {"Type": "Pass", "End": True}}},
                 "Next": "Done"},
        "Done": {"Type": "Succeed"},
        "Failed": {"Type": "Fail", "ErrorPath": "$.error.Error", "CausePath": "States.JsonToString($.error)"},
    }, TimeoutSeconds=86400, Version="1.0", Comment="ok"),
    "JSONata machine": _machine({
        "Start": {"Type": "Pass", "Output": {"x": "{% $states.input.x + 1 %}", "lit": " {% not jsonata %} "},
                  "Assign": {"total": "{% $sum($states.input.values) %}", "größe": 1, "_tmp": [{"a": "{% 1 %}"}]},
                  "Next": "Call"},
        "Call": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken", "Arguments": {"Payload": "{% $states.input %}"},
                 "TimeoutSeconds": "{% $states.input.timeout %}",
                 "Catch": [{"ErrorEquals": ["States.ALL"], "Output": "{% $states.errorOutput %}", "Next": "Bad"}],
                 "Next": "Decide"},
        "Decide": {"Type": "Choice", "Choices": [{"Condition": "{% $total > 3 %}", "Next": "Loop",
                                                  "Output": {"t": "{% $total %}"}}], "Default": "Wait"},
        "Loop": {"Type": "Map", "Items": "{% $states.input.items %}", "ItemSelector": {"i": "{% $states.context.Map.Item.Index %}"},
                 "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}, "Next": "Wait"},
        "Wait": {"Type": "Wait", "Seconds": "{% 1 %}", "End": True},
        "Bad": {"Type": "Fail", "Error": "{% 'Boom' %}", "Cause": "literal cause"},
    }, QueryLanguage="JSONata"),
    "every kind of Task resource": _machine({
        f"T{index}": {"Type": "Task", "Resource": resource, **({"Next": f"T{index + 1}"} if index < 6 else {"End": True})}
        for index, resource in enumerate([
            LAMBDA, f"{LAMBDA}:$LATEST", "arn:aws-cn:states:::states:startExecution.sync:2",
            "arn:aws:states:::aws-sdk:sfn:describeExecution", "arn:aws:states:::http:invoke",
            "arn:aws:states:us-east-1:111111111111:activity:approve", "arn:aws:states:::ecs:runTask.waitForTaskToken",
        ])
    }),
    "per-state JSONata in a JSONPath machine": _machine({
        "A": {"Type": "Pass", "QueryLanguage": "JSONata", "Output": "{% $states.input %}", "Next": "B"},
        "B": {"Type": "Pass", "Parameters": {"x.$": "$.y"}, "End": True},
    }),
    "distributed map": _machine({
        "Big": {"Type": "Map", "Label": "Big_Run-1",
                "ItemReader": {"Resource": "arn:aws:states:::s3:getObject",
                               "ReaderConfig": {"InputType": "CSV", "CSVHeaderLocation": "GIVEN",
                                                "CSVHeaders": ["a", "b"], "MaxItems": 10},
                               "Parameters": {"Bucket.$": "$.bucket", "Key": "data.csv"}},
                "ItemBatcher": {"MaxItemsPerBatch": 10, "MaxInputBytesPerBatch": 1024, "BatchInput": {"k.$": "$.k"}},
                "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject",
                                 "Parameters": {"Bucket": "b", "Prefix": "out"},
                                 "WriterConfig": {"OutputType": "JSONL", "Transformation": "FLATTEN"}},
                "ToleratedFailurePercentage": 0, "ToleratedFailureCountPath": "$.tolerated",
                "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
                                  "StartAt": "Work", "States": {"Work": {"Type": "Pass", "End": True}}},
                "End": True},
    }),
    "legacy iterator with a loop": _machine({
        "M": {"Type": "Map", "Iterator": _machine({
            "Inc": {"Type": "Pass", "Next": "Again"},
            "Again": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericLessThan": 3, "Next": "Inc"}],
                      "Default": "Out"},
            "Out": {"Type": "Succeed"},
        }), "Parameters": {"n.$": "$$.Map.Item.Value"}, "End": True},
    }),
    "state names with spaces and punctuation": _machine({
        "Train the model (v2).": {"Type": "Pass", "Next": "x" * 80},
        "x" * 80: {"Type": "Succeed"},
    }),
}


@pytest.mark.parametrize("name", list(VALID))
def test_valid_definitions(name: str) -> None:
    definition = VALID[name]
    assert validate_definition(definition) == []
    assert validate_definition(json.dumps(definition)) == []
    assert check_definition(json.dumps(definition)) == definition


def _with(base: dict[str, Any], path: str, value: Any = None, *, delete: bool = False) -> dict[str, Any]:
    """A copy of ``base`` with ``path`` (dotted, ``[n]`` for indices) set or deleted."""
    result = copy.deepcopy(base)
    keys: list[str | int] = [int(k[1:-1]) if k.startswith("[") else k for k in re.findall(r"\[\d+\]|[^.\[\]]+", path)]
    node: Any = result
    for key in keys[:-1]:
        node = node[key]
    if delete:
        del node[keys[-1]]
    else:
        node[keys[-1]] = value
    return result


SIMPLE = _machine({
    "A": {"Type": "Pass", "Next": "B"},
    "B": {"Type": "Task", "Resource": LAMBDA, "Next": "C"},
    "C": {"Type": "Choice", "Choices": [{"Variable": "$.x", "StringEquals": "y", "Next": "D"}], "Default": "D"},
    "D": {"Type": "Succeed"},
})
JSONATA = {**copy.deepcopy(SIMPLE), "QueryLanguage": "JSONata"}
JSONATA["States"]["C"]["Choices"] = [{"Condition": "{% $states.input.x = 'y' %}", "Next": "D"}]

INVALID: list[tuple[str, dict[str, Any], str, str]] = [
    # (case, definition, expected code, expected path)
    ("missing StartAt", _with(SIMPLE, "StartAt", delete=True), "SCHEMA_VALIDATION_FAILED", "$.StartAt"),
    ("StartAt to nowhere", _with(SIMPLE, "StartAt", "Z"), "MISSING_TRANSITION_TARGET", "$.StartAt"),
    ("no States", _with(SIMPLE, "States", delete=True), "SCHEMA_VALIDATION_FAILED", "$.States"),
    ("unknown top-level field", _with(SIMPLE, "Foo", 1), "SCHEMA_VALIDATION_FAILED", "$.Foo"),
    ("bad Version", _with(SIMPLE, "Version", "2.0"), "SCHEMA_VALIDATION_FAILED", "$.Version"),
    ("bad machine timeout", _with(SIMPLE, "TimeoutSeconds", 0), "SCHEMA_VALIDATION_FAILED", "$.TimeoutSeconds"),
    ("bad QueryLanguage", _with(SIMPLE, "QueryLanguage", "JMESPath"), "SCHEMA_VALIDATION_FAILED", "$.QueryLanguage"),
    ("Next to nowhere", _with(SIMPLE, "States.A.Next", "Z"), "MISSING_TRANSITION_TARGET", "$.States.A.Next"),
    ("Default to nowhere", _with(SIMPLE, "States.C.Default", "Z"), "MISSING_TRANSITION_TARGET",
     "$.States.C.Default"),
    ("choice rule Next to nowhere", _with(SIMPLE, "States.C.Choices[0].Next", "Z"), "MISSING_TRANSITION_TARGET",
     "$.States.C.Choices[0].Next"),
    ("unreachable state", _with(SIMPLE, "States.E", {"Type": "Succeed"}), "UNREACHABLE_STATE", "$.States.E"),
    ("neither Next nor End", _with(SIMPLE, "States.A.Next", delete=True), "SCHEMA_VALIDATION_FAILED", "$.States.A"),
    ("both Next and End", _with(SIMPLE, "States.A.End", True), "SCHEMA_VALIDATION_FAILED", "$.States.A.End"),
    ("End not boolean", _with(_with(SIMPLE, "States.B.Next", delete=True), "States.B.End", "yes"),
     "SCHEMA_VALIDATION_FAILED", "$.States.B.End"),
    ("Next on Succeed", _with(SIMPLE, "States.D.Next", "A"), "SCHEMA_VALIDATION_FAILED", "$.States.D.Next"),
    ("unknown state type", _with(SIMPLE, "States.D.Type", "Sleep"), "SCHEMA_VALIDATION_FAILED", "$.States.D.Type"),
    ("missing Type", _with(SIMPLE, "States.D.Type", delete=True), "SCHEMA_VALIDATION_FAILED", "$.States.D.Type"),
    ("state not an object", _with(SIMPLE, "States.D", "Succeed"), "SCHEMA_VALIDATION_FAILED", "$.States.D"),
    ("Result on a Task", _with(SIMPLE, "States.B.Result", 1), "SCHEMA_VALIDATION_FAILED", "$.States.B.Result"),
    ("Parameters on a Choice", _with(SIMPLE, "States.C.Parameters", {}), "SCHEMA_VALIDATION_FAILED",
     "$.States.C.Parameters"),
    ("InputPath on a Fail", _with(SIMPLE, "States.D", {"Type": "Fail", "InputPath": "$"}), "SCHEMA_VALIDATION_FAILED",
     "$.States.D.InputPath"),
    ("state name too long", _with(_with(SIMPLE, "States." + "n" * 81, {"Type": "Succeed"}), "States.A.Next",
                                  "n" * 81), "INVALID_STATE_NAME", "$.States." + "n" * 81),
    ("control character in state name", _with(_with(SIMPLE, "States.A\tB", {"Type": "Succeed"}), "States.A.Next",
                                              "A\tB"), "INVALID_STATE_NAME", "$.States['A\tB']"),
    ("no terminal state", _machine({"L1": {"Type": "Pass", "Next": "L2"}, "L2": {"Type": "Pass", "Next": "L1"}}),
     "NO_TERMINAL_STATE", "$.States"),
    ("bad InputPath", _with(SIMPLE, "States.A.InputPath", "$.a["), "INVALID_PATH", "$.States.A.InputPath"),
    ("InputPath not a path", _with(SIMPLE, "States.A.InputPath", "a.b"), "INVALID_PATH", "$.States.A.InputPath"),
    ("ResultPath with a wildcard", _with(SIMPLE, "States.A.ResultPath", "$.a[*]"), "INVALID_PATH",
     "$.States.A.ResultPath"),
    ("ResultPath into the context", _with(SIMPLE, "States.A.ResultPath", "$$.Execution"), "INVALID_PATH",
     "$.States.A.ResultPath"),
    ("bad path in Parameters", _with(SIMPLE, "States.B.Parameters", {"x": {"y.$": "$..["}}), "INVALID_PATH",
     "$.States.B.Parameters.x['y.$']"),
    ("non-string .$ value", _with(SIMPLE, "States.B.Parameters", {"y.$": 3}), "SCHEMA_VALIDATION_FAILED",
     "$.States.B.Parameters['y.$']"),
    ("unknown intrinsic", _with(SIMPLE, "States.B.Parameters", {"y.$": "States.Nope($.a)"}), "INVALID_INTRINSIC",
     "$.States.B.Parameters['y.$']"),
    ("malformed intrinsic", _with(SIMPLE, "States.A.Parameters", {"y.$": "States.Format('{}', $.a"}),
     "INVALID_INTRINSIC", "$.States.A.Parameters['y.$']"),
    ("bad path inside an intrinsic", _with(SIMPLE, "States.A.Parameters", {"y.$": "States.Array($.a[)"}),
     "INVALID_INTRINSIC", "$.States.A.Parameters['y.$']"),
    ("intrinsic in InputPath", _with(SIMPLE, "States.A.InputPath", "States.Array($.a)"), "INVALID_PATH",
     "$.States.A.InputPath"),
    ("Parameters not an object", _with(SIMPLE, "States.B.Parameters", [1]), "SCHEMA_VALIDATION_FAILED",
     "$.States.B.Parameters"),
    ("Arguments in JSONPath", _with(SIMPLE, "States.B.Arguments", {}), "QUERY_LANGUAGE_MISMATCH",
     "$.States.B.Arguments"),
    ("Output in JSONPath", _with(SIMPLE, "States.A.Output", {}), "QUERY_LANGUAGE_MISMATCH", "$.States.A.Output"),
    ("Condition in a JSONPath rule", _with(SIMPLE, "States.C.Choices[0].Condition", True), "QUERY_LANGUAGE_MISMATCH",
     "$.States.C.Choices[0].Condition"),
    ("Parameters in JSONata", _with(JSONATA, "States.B.Parameters", {}), "QUERY_LANGUAGE_MISMATCH",
     "$.States.B.Parameters"),
    ("InputPath in JSONata", _with(JSONATA, "States.A.InputPath", "$"), "QUERY_LANGUAGE_MISMATCH",
     "$.States.A.InputPath"),
    ("ResultPath in a JSONata catcher", _with(JSONATA, "States.B.Catch", [{"ErrorEquals": ["States.ALL"],
                                                                           "ResultPath": "$.e", "Next": "D"}]),
     "QUERY_LANGUAGE_MISMATCH", "$.States.B.Catch[0].ResultPath"),
    ("Variable in a JSONata rule", _with(JSONATA, "States.C.Choices[0].Variable", "$.x"), "QUERY_LANGUAGE_MISMATCH",
     "$.States.C.Choices[0].Variable"),
    ("JSONata rule without Condition", _with(JSONATA, "States.C.Choices[0].Condition", delete=True),
     "INVALID_CHOICE_RULE", "$.States.C.Choices[0].Condition"),
    ("JSONata Condition not boolean", _with(JSONATA, "States.C.Choices[0].Condition", "yes"), "INVALID_CHOICE_RULE",
     "$.States.C.Choices[0].Condition"),
    ("downgrade to JSONPath", _with(JSONATA, "States.A.QueryLanguage", "JSONPath"), "QUERY_LANGUAGE_MISMATCH",
     "$.States.A.QueryLanguage"),
    ("bad JSONata", _with(JSONATA, "States.A.Output", {"x": "{% $states.input. %}"}), "INVALID_JSONATA",
     "$.States.A.Output.x"),
    ("bad JSONata in Assign", _with(JSONATA, "States.A.Assign", {"v": "{% ( %}"}), "INVALID_JSONATA",
     "$.States.A.Assign.v"),
    ("intrinsic-looking text is literal in JSONata", _with(JSONATA, "States.B.TimeoutSeconds", "States.Array()"),
     "SCHEMA_VALIDATION_FAILED", "$.States.B.TimeoutSeconds"),
    ("Choice without rules", _with(SIMPLE, "States.C.Choices", []), "INVALID_CHOICE_RULE", "$.States.C.Choices"),
    ("Choice missing Choices", _with(SIMPLE, "States.C.Choices", delete=True), "SCHEMA_VALIDATION_FAILED",
     "$.States.C.Choices"),
    ("rule without operator", _with(SIMPLE, "States.C.Choices[0]", {"Variable": "$.x", "Next": "D"}),
     "INVALID_CHOICE_RULE", "$.States.C.Choices[0]"),
    ("rule with two operators", _with(SIMPLE, "States.C.Choices[0].StringLessThan", "z"), "INVALID_CHOICE_RULE",
     "$.States.C.Choices[0]"),
    ("rule without Variable", _with(SIMPLE, "States.C.Choices[0].Variable", delete=True), "INVALID_CHOICE_RULE",
     "$.States.C.Choices[0].Variable"),
    ("rule without Next", _with(SIMPLE, "States.C.Choices[0].Next", delete=True), "INVALID_CHOICE_RULE",
     "$.States.C.Choices[0].Next"),
    ("nested rule with Next", _with(SIMPLE, "States.C.Choices[0]", {
        "Not": {"Variable": "$.x", "IsNull": True, "Next": "D"}, "Next": "D"}), "SCHEMA_VALIDATION_FAILED",
     "$.States.C.Choices[0].Not.Next"),
    ("empty And", _with(SIMPLE, "States.C.Choices[0]", {"And": [], "Next": "D"}), "INVALID_CHOICE_RULE",
     "$.States.C.Choices[0].And"),
    ("wrong comparison type", _with(SIMPLE, "States.C.Choices[0].StringEquals", 3), "INVALID_CHOICE_RULE",
     "$.States.C.Choices[0].StringEquals"),
    ("bad timestamp", _with(SIMPLE, "States.C.Choices[0]", {"Variable": "$.t", "TimestampEquals": "2016-13-05T21:29:29Z",
                                                            "Next": "D"}), "INVALID_CHOICE_RULE",
     "$.States.C.Choices[0].TimestampEquals"),
    ("bad comparison path", _with(SIMPLE, "States.C.Choices[0]", {"Variable": "$.t", "NumericEqualsPath": "t",
                                                                  "Next": "D"}), "INVALID_PATH",
     "$.States.C.Choices[0].NumericEqualsPath"),
    ("Task without Resource", _with(SIMPLE, "States.B.Resource", delete=True), "SCHEMA_VALIDATION_FAILED",
     "$.States.B.Resource"),
    ("Resource not an ARN", _with(SIMPLE, "States.B.Resource", "my-function"), "INVALID_RESOURCE",
     "$.States.B.Resource"),
    ("Resource of another service", _with(SIMPLE, "States.B.Resource", "arn:aws:s3:::bucket"), "INVALID_RESOURCE",
     "$.States.B.Resource"),
    ("Resource with an unknown pattern", _with(SIMPLE, "States.B.Resource", "arn:aws:states:::lambda:invoke.async"),
     "INVALID_RESOURCE", "$.States.B.Resource"),
    ("ItemReader resource not S3", _with(VALID["distributed map"], "States.Big.ItemReader.Resource",
                                         "arn:aws:states:::s3:putObject"), "INVALID_RESOURCE",
     "$.States.Big.ItemReader.Resource"),
    ("TimeoutSeconds zero", _with(SIMPLE, "States.B.TimeoutSeconds", 0), "SCHEMA_VALIDATION_FAILED",
     "$.States.B.TimeoutSeconds"),
    ("TimeoutSeconds and TimeoutSecondsPath", _with(_with(SIMPLE, "States.B.TimeoutSeconds", 5),
                                                    "States.B.TimeoutSecondsPath", "$.t"),
     "SCHEMA_VALIDATION_FAILED", "$.States.B.TimeoutSecondsPath"),
    ("heartbeat not below timeout", _with(_with(SIMPLE, "States.B.TimeoutSeconds", 5), "States.B.HeartbeatSeconds",
                                          5), "SCHEMA_VALIDATION_FAILED", "$.States.B.HeartbeatSeconds"),
    ("Credentials without RoleArn", _with(SIMPLE, "States.B.Credentials", {}), "SCHEMA_VALIDATION_FAILED",
     "$.States.B.Credentials"),
    ("empty ErrorEquals", _with(SIMPLE, "States.B.Retry", [{"ErrorEquals": []}]), "SCHEMA_VALIDATION_FAILED",
     "$.States.B.Retry[0].ErrorEquals"),
    ("retrier without ErrorEquals", _with(SIMPLE, "States.B.Retry", [{"MaxAttempts": 1}]), "SCHEMA_VALIDATION_FAILED",
     "$.States.B.Retry[0].ErrorEquals"),
    ("States.ALL not alone", _with(SIMPLE, "States.B.Retry", [{"ErrorEquals": ["States.ALL", "X"]}]),
     "INVALID_ERROR_NAME", "$.States.B.Retry[0].ErrorEquals"),
    ("States.ALL not last", _with(SIMPLE, "States.B.Retry", [{"ErrorEquals": ["States.ALL"]}, {"ErrorEquals": ["X"]}]),
     "INVALID_ERROR_NAME", "$.States.B.Retry[0].ErrorEquals"),
    ("unknown States error", _with(SIMPLE, "States.B.Catch", [{"ErrorEquals": ["States.Oops"], "Next": "D"}]),
     "INVALID_ERROR_NAME", "$.States.B.Catch[0].ErrorEquals[0]"),
    ("IntervalSeconds zero", _with(SIMPLE, "States.B.Retry", [{"ErrorEquals": ["X"], "IntervalSeconds": 0}]),
     "SCHEMA_VALIDATION_FAILED", "$.States.B.Retry[0].IntervalSeconds"),
    ("MaxAttempts negative", _with(SIMPLE, "States.B.Retry", [{"ErrorEquals": ["X"], "MaxAttempts": -1}]),
     "SCHEMA_VALIDATION_FAILED", "$.States.B.Retry[0].MaxAttempts"),
    ("BackoffRate below one", _with(SIMPLE, "States.B.Retry", [{"ErrorEquals": ["X"], "BackoffRate": 0.5}]),
     "SCHEMA_VALIDATION_FAILED", "$.States.B.Retry[0].BackoffRate"),
    ("MaxDelaySeconds too large", _with(SIMPLE, "States.B.Retry", [{"ErrorEquals": ["X"], "MaxDelaySeconds": 31622400}]),
     "SCHEMA_VALIDATION_FAILED", "$.States.B.Retry[0].MaxDelaySeconds"),
    ("JSONata in a retrier", _with(JSONATA, "States.B.Retry", [{"ErrorEquals": ["X"], "MaxAttempts": "{% 2 %}"}]),
     "SCHEMA_VALIDATION_FAILED", "$.States.B.Retry[0].MaxAttempts"),
    ("bad JitterStrategy", _with(SIMPLE, "States.B.Retry", [{"ErrorEquals": ["X"], "JitterStrategy": "HALF"}]),
     "SCHEMA_VALIDATION_FAILED", "$.States.B.Retry[0].JitterStrategy"),
    ("unknown retrier field", _with(SIMPLE, "States.B.Retry", [{"ErrorEquals": ["X"], "Backoff": 2}]),
     "SCHEMA_VALIDATION_FAILED", "$.States.B.Retry[0].Backoff"),
    ("catcher without Next", _with(SIMPLE, "States.B.Catch", [{"ErrorEquals": ["X"]}]), "SCHEMA_VALIDATION_FAILED",
     "$.States.B.Catch[0].Next"),
    ("catcher Next to nowhere", _with(SIMPLE, "States.B.Catch", [{"ErrorEquals": ["X"], "Next": "Z"}]),
     "MISSING_TRANSITION_TARGET", "$.States.B.Catch[0].Next"),
    ("Wait without duration", _with(SIMPLE, "States.A", {"Type": "Wait", "Next": "B"}), "SCHEMA_VALIDATION_FAILED",
     "$.States.A"),
    ("Wait with two durations", _with(SIMPLE, "States.A", {"Type": "Wait", "Seconds": 1, "SecondsPath": "$.s",
                                                           "Next": "B"}), "SCHEMA_VALIDATION_FAILED", "$.States.A"),
    ("Wait negative seconds", _with(SIMPLE, "States.A", {"Type": "Wait", "Seconds": -1, "Next": "B"}),
     "SCHEMA_VALIDATION_FAILED", "$.States.A.Seconds"),
    ("Wait bad timestamp", _with(SIMPLE, "States.A", {"Type": "Wait", "Timestamp": "2016-12-05 21:29:29Z",
                                                      "Next": "B"}), "SCHEMA_VALIDATION_FAILED", "$.States.A.Timestamp"),
    ("Fail with Error and ErrorPath", _with(SIMPLE, "States.D", {"Type": "Fail", "Error": "E", "ErrorPath": "$.e"}),
     "SCHEMA_VALIDATION_FAILED", "$.States.D.ErrorPath"),
    ("Fail with a bad CausePath", _with(SIMPLE, "States.D", {"Type": "Fail", "CausePath": "States.Hash("}),
     "INVALID_INTRINSIC", "$.States.D.CausePath"),
    ("Fail with a non-string intrinsic", _with(SIMPLE, "States.D", {"Type": "Fail", "ErrorPath": "States.Array($.e)"}),
     "INVALID_INTRINSIC", "$.States.D.ErrorPath"),
    ("Parallel without branches", _with(SIMPLE, "States.A", {"Type": "Parallel", "Branches": [], "Next": "B"}),
     "SCHEMA_VALIDATION_FAILED", "$.States.A.Branches"),
    ("branch Next leaves the branch", _with(SIMPLE, "States.A", {"Type": "Parallel", "Next": "B", "Branches": [
        _machine({"P1": {"Type": "Pass", "Next": "B"}})]}), "MISSING_TRANSITION_TARGET",
     "$.States.A.Branches[0].States.P1.Next"),
    ("branch that never ends", _with(SIMPLE, "States.A", {"Type": "Parallel", "Next": "B", "Branches": [
        _machine({"P1": {"Type": "Pass", "Next": "P2"}, "P2": {"Type": "Pass", "Next": "P1"}})]}),
     "NO_TERMINAL_STATE", "$.States.A.Branches[0].States"),
    ("duplicate name across branches", _with(SIMPLE, "States.A", {"Type": "Parallel", "Next": "B", "Branches": [
        _machine({"D": {"Type": "Succeed"}})]}), "DUPLICATE_STATE_NAME", "$.States.D"),
    ("Map without processor", _with(SIMPLE, "States.A", {"Type": "Map", "Next": "B"}), "SCHEMA_VALIDATION_FAILED",
     "$.States.A.ItemProcessor"),
    ("Map with both processors", _with(SIMPLE, "States.A", {
        "Type": "Map", "Next": "B", "Iterator": _machine({"I": {"Type": "Succeed"}}),
        "ItemProcessor": _machine({"J": {"Type": "Succeed"}})}), "SCHEMA_VALIDATION_FAILED", "$.States.A.ItemProcessor"),
    ("Map processor without StartAt", _with(SIMPLE, "States.A", {
        "Type": "Map", "Next": "B", "ItemProcessor": {"States": {"I": {"Type": "Succeed"}}}}),
     "SCHEMA_VALIDATION_FAILED", "$.States.A.ItemProcessor.StartAt"),
    ("bad processor mode", _with(SIMPLE, "States.A", {
        "Type": "Map", "Next": "B", "ItemProcessor": {**_machine({"I": {"Type": "Succeed"}}),
                                                      "ProcessorConfig": {"Mode": "REMOTE"}}}),
     "SCHEMA_VALIDATION_FAILED", "$.States.A.ItemProcessor.ProcessorConfig.Mode"),
    ("distributed without ExecutionType", _with(SIMPLE, "States.A", {
        "Type": "Map", "Next": "B", "ItemProcessor": {**_machine({"I": {"Type": "Succeed"}}),
                                                      "ProcessorConfig": {"Mode": "DISTRIBUTED"}}}),
     "SCHEMA_VALIDATION_FAILED", "$.States.A.ItemProcessor.ProcessorConfig.ExecutionType"),
    ("ItemReader on an inline Map", _with(SIMPLE, "States.A", {
        "Type": "Map", "Next": "B", "ItemProcessor": _machine({"I": {"Type": "Succeed"}}),
        "ItemReader": {"Resource": "arn:aws:states:::s3:getObject"}}), "SCHEMA_VALIDATION_FAILED",
     "$.States.A.ItemReader"),
    ("ToleratedFailurePercentage above 100", _with(VALID["distributed map"], "States.Big.ToleratedFailurePercentage",
                                                   100.1), "SCHEMA_VALIDATION_FAILED",
     "$.States.Big.ToleratedFailurePercentage"),
    ("ToleratedFailureCount negative", _with(VALID["distributed map"], "States.Big.ToleratedFailureCount", -1),
     "SCHEMA_VALIDATION_FAILED", "$.States.Big.ToleratedFailureCount"),
    ("ItemBatcher without a limit", _with(VALID["distributed map"], "States.Big.ItemBatcher", {"BatchInput": {}}),
     "SCHEMA_VALIDATION_FAILED", "$.States.Big.ItemBatcher"),
    ("ItemBatcher bytes over 256 KiB", _with(VALID["distributed map"], "States.Big.ItemBatcher.MaxInputBytesPerBatch",
                                             262145), "SCHEMA_VALIDATION_FAILED",
     "$.States.Big.ItemBatcher.MaxInputBytesPerBatch"),
    ("bad reader InputType", _with(VALID["distributed map"], "States.Big.ItemReader.ReaderConfig.InputType", "XML"),
     "SCHEMA_VALIDATION_FAILED", "$.States.Big.ItemReader.ReaderConfig.InputType"),
    ("GIVEN headers missing", _with(VALID["distributed map"], "States.Big.ItemReader.ReaderConfig.CSVHeaders",
                                    delete=True), "SCHEMA_VALIDATION_FAILED",
     "$.States.Big.ItemReader.ReaderConfig.CSVHeaders"),
    ("ItemReader without Resource", _with(VALID["distributed map"], "States.Big.ItemReader.Resource", delete=True),
     "SCHEMA_VALIDATION_FAILED", "$.States.Big.ItemReader.Resource"),
    ("bad writer transformation", _with(VALID["distributed map"],
                                        "States.Big.ResultWriter.WriterConfig.Transformation", "ZIP"),
     "SCHEMA_VALIDATION_FAILED", "$.States.Big.ResultWriter.WriterConfig.Transformation"),
    ("bad Label", _with(VALID["distributed map"], "States.Big.Label", "has space"), "SCHEMA_VALIDATION_FAILED",
     "$.States.Big.Label"),
    ("ItemSelector and Parameters", _with(VALID["legacy iterator with a loop"], "States.M.ItemSelector", {}),
     "SCHEMA_VALIDATION_FAILED", "$.States.M.Parameters"),
    ("MaxConcurrency negative", _with(VALID["legacy iterator with a loop"], "States.M.MaxConcurrency", -1),
     "SCHEMA_VALIDATION_FAILED", "$.States.M.MaxConcurrency"),
    ("Items not an array", _with({**copy.deepcopy(VALID["JSONata machine"])}, "States.Loop.Items", "_tbd_"),
     "SCHEMA_VALIDATION_FAILED", "$.States.Loop.Items"),
    ("bad variable name", _with(SIMPLE, "States.A.Assign", {"1st": 1}), "INVALID_VARIABLE_NAME",
     "$.States.A.Assign['1st']"),
    ("hyphen in a variable name", _with(JSONATA, "States.A.Assign", {"top-level": 1}), "INVALID_VARIABLE_NAME",
     "$.States.A.Assign['top-level']"),
    ("variable name too long", _with(SIMPLE, "States.A.Assign", {"v" * 81: 1}), "INVALID_VARIABLE_NAME",
     "$.States.A.Assign." + "v" * 81),
    ("reserved variable name", _with(JSONATA, "States.A.Assign", {"states": 1}), "INVALID_VARIABLE_NAME",
     "$.States.A.Assign.states"),
    ("Assign not an object", _with(SIMPLE, "States.A.Assign", [1]), "SCHEMA_VALIDATION_FAILED", "$.States.A.Assign"),
    ("Assign on Succeed", _with(SIMPLE, "States.D.Assign", {}), "SCHEMA_VALIDATION_FAILED", "$.States.D.Assign"),
]


@pytest.mark.parametrize(("case", "definition", "code", "path"), INVALID, ids=[case[0] for case in INVALID])
def test_invalid_definitions(case: str, definition: dict[str, Any], code: str, path: str) -> None:
    diagnostics = validate_definition(definition)
    assert (code, path) in [(d.code, d.path) for d in diagnostics], "\n".join(map(str, diagnostics))
    assert {d.code for d in diagnostics} <= set(DIAGNOSTIC_CODES)
    found = next(d for d in diagnostics if (d.code, d.path) == (code, path))
    names = re.findall(r"\.States\.([A-Za-z0-9_]+)", path)
    if names:
        assert found.state == names[-1]
    with pytest.raises(ValidationError) as info:
        check_definition(definition)
    assert found in info.value.diagnostics


def test_check_definition_lists_every_problem() -> None:
    broken = _with(_with(SIMPLE, "States.A.Next", "Z"), "States.B.TimeoutSeconds", -5)
    with pytest.raises(ValidationError) as info:
        check_definition(broken)
    assert {(d.code, d.path) for d in info.value.diagnostics} >= {
        ("MISSING_TRANSITION_TARGET", "$.States.A.Next"),
        ("SCHEMA_VALIDATION_FAILED", "$.States.B.TimeoutSeconds"),
        ("UNREACHABLE_STATE", "$.States.B"),
    }
    assert "$.States.A.Next: Missing 'Next' target: 'Z' [MISSING_TRANSITION_TARGET]" in str(info.value)
    copy_ = pickle.loads(pickle.dumps(info.value))
    assert copy_.diagnostics == info.value.diagnostics


def test_diagnostic_carries_state_and_field() -> None:
    (diagnostic,) = validate_definition(_with(SIMPLE, "States.C.Default", "Nope"))
    assert diagnostic == Diagnostic(path="$.States.C.Default", code="MISSING_TRANSITION_TARGET",
                                    message="Missing 'Default' target: 'Nope'", state="C", field="Default")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "not valid JSON"),
        ("[]", "must be a JSON object"),
        ("null", "must be a JSON object"),
        ('{"StartAt": "A", "States": {}} trailing', "not valid JSON"),
    ],
)
def test_text_that_is_not_a_definition(text: str, message: str) -> None:
    (diagnostic,) = validate_definition(text)
    assert (diagnostic.code, diagnostic.path) == ("INVALID_JSON_DESCRIPTION", "$")
    assert message in diagnostic.message


def test_definition_over_one_mebibyte() -> None:
    big = json.dumps(_with(SIMPLE, "States.A.Result", "x" * (1024 * 1024)))
    (diagnostic,) = validate_definition(big)
    assert diagnostic.code == "INVALID_JSON_DESCRIPTION"
    assert "1 MiB" in diagnostic.message


def test_repeated_keys_in_json_text() -> None:
    text = '{"StartAt": "A", "States": {"A": {"Type": "Succeed"}, "A": {"Type": "Succeed"}}}'
    assert [(d.code, d.path) for d in validate_definition(text)] == [("DUPLICATE_STATE_NAME", "$.States.A")]
    text = '{"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true, "End": true}}}'
    assert [(d.code, d.path) for d in validate_definition(text)] == [("SCHEMA_VALIDATION_FAILED", "$.States.A.End")]


@pytest.mark.parametrize(
    ("name", "ok"),
    [("train-2026_v1", True), ("", False), ("a" * 81, False), ("has space", False), ("a/b", False),
     ("tab\there", False), ("ctl\x7f", False), ("naïve", True), (None, False)],
)
def test_machine_and_execution_names(name: Any, ok: bool) -> None:
    assert (name_problem(name) is None) is ok
