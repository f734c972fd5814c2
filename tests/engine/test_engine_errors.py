"""Every ASL error name the engine raises, with AWS's causes, and how Retry/Catch see them."""

from __future__ import annotations

from typing import Any

import pytest
from engine_helpers import machine, run, types

from stepfn.engine import ScaledClock, TaskControl, TaskRequest
from stepfn.errors import StatesError


def fail_with(error: str, cause: str | None = None) -> Any:
    def handler(request: TaskRequest, control: TaskControl) -> Any:
        raise StatesError(error, cause)

    return handler


def test_runtime_error_for_missing_path_is_prefixed() -> None:
    result = run(machine(P={"Type": "Pass", "Parameters": {"v.$": "$.missing"}}), {"a": 1})
    assert result.status == "FAILED"
    assert result.error == "States.Runtime"
    assert result.cause == ("An error occurred while executing the state 'P' (entered at the event id #2). "
                            "The JSONPath '$.missing' specified for the field 'v.$' could not be found in the input "
                            "'{\"a\":1}'")


def test_states_runtime_is_not_caught_even_when_named() -> None:
    definition = {"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "OutputPath": "$.no",
              "Catch": [{"ErrorEquals": ["States.Runtime"], "Next": "C"}], "End": True},
        "C": {"Type": "Succeed"}}}
    result = run(definition, handlers={"lambda:invoke": lambda r, c: {}})
    assert (result.status, result.error) == ("FAILED", "States.Runtime")
    assert "Invalid path '$.no' : Missing property in path $['no']" in (result.cause or "")


def test_no_choice_matched() -> None:
    definition = {"StartAt": "C", "States": {"C": {"Type": "Choice", "Choices": [
        {"Variable": "$.x", "NumericEquals": 1, "Next": "D"}]}, "D": {"Type": "Succeed"}}}
    result = run(definition, {"x": 2})
    assert (result.status, result.error) == ("FAILED", "States.NoChoiceMatched")


def test_result_path_match_failure() -> None:
    result = run(machine(P={"Type": "Pass", "Result": 1, "ResultPath": "$.a.b"}), {"a": "text"})
    assert (result.status, result.error) == ("FAILED", "States.ResultPathMatchFailure")


def test_intrinsic_failure_is_a_runtime_error_as_aws_reports_it() -> None:
    result = run(machine(P={"Type": "Pass", "Parameters": {"v.$": "States.StringToJson($.a)"}}), {"a": "{not json"})
    assert (result.status, result.error) == ("FAILED", "States.Runtime")
    assert (result.cause or "").endswith("Invalid arguments in States.StringToJson")


def test_query_evaluation_error_records_evaluation_failed() -> None:
    definition = {"QueryLanguage": "JSONata", "StartAt": "P",
                  "States": {"P": {"Type": "Pass", "Output": "{% $states.input.a.b() %}", "End": True}}}
    result = run(definition, {"a": 1})
    assert (result.status, result.error) == ("FAILED", "States.QueryEvaluationError")
    assert types(result) == ["ExecutionStarted", "PassStateEntered", "EvaluationFailed", "ExecutionFailed"]
    failed = result.events[2]["evaluationFailedEventDetails"]
    assert failed["state"] == "P" and failed["location"] == "Output"


@pytest.mark.parametrize(
    ("output", "field"),
    [
        ({"value": "{% $states.input.missing %}"}, "Output/value"),
        ({"a": {"b": "{% $states.input.missing %}"}}, "Output/a/b"),
        ({"list": [1, "{% $states.input.missing %}"]}, "Output/list[1]"),
        ("{% $states.input.missing %}", "Output"),
    ],
)
def test_jsonata_nothing_names_the_path_inside_output_as_aws_does(output: Any, field: str) -> None:
    definition = {"QueryLanguage": "JSONata", "StartAt": "E",
                  "States": {"E": {"Type": "Pass", "Output": output, "End": True}}}
    result = run(definition, {"a": 1})
    assert (result.status, result.error) == ("FAILED", "States.QueryEvaluationError")
    assert result.cause == ("An error occurred while executing the state 'E' (entered at the event id #2). "
                            f"The JSONata expression '$states.input.missing' specified for the field '{field}' "
                            "returned nothing (undefined).")


def test_invalid_base64_fails_the_state_with_states_runtime() -> None:
    result = run(machine(P={"Type": "Pass", "Parameters": {"v.$": "States.Base64Decode($.s)"}}),
                 {"s": "%%%not-base64%%%"})
    assert (result.status, result.error) == ("FAILED", "States.Runtime")
    assert (result.cause or "").endswith("Invalid arguments in States.Base64Decode")


def test_fail_state_error_and_cause_paths() -> None:
    definition = {"StartAt": "F", "States": {"F": {"Type": "Fail", "ErrorPath": "$.e",
                                                   "CausePath": "States.Format('bad {}', $.n)"}}}
    result = run(definition, {"e": "Custom.Error", "n": 3})
    assert (result.status, result.error, result.cause) == ("FAILED", "Custom.Error", "bad 3")
    assert types(result) == ["ExecutionStarted", "FailStateEntered", "ExecutionFailed"]


def test_data_limit_exceeded_for_a_task_result_is_catchable_by_states_all() -> None:
    definition = {"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
              "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "C"}], "End": True},
        "C": {"Type": "Pass", "End": True}}}
    result = run(definition, handlers={"lambda:invoke": lambda r, c: "é" * 150_000})
    assert result.status == "SUCCEEDED"
    assert result.output_value == {
        "Error": "States.DataLimitExceeded",
        "Cause": "The state/task 'lambda' returned a result with a size exceeding the maximum number of bytes "
                 "service limit."}


def test_data_limit_exceeded_for_execution_input() -> None:
    result = run(machine(P={"Type": "Pass"}), {"big": "x" * 262_144})
    assert (result.status, result.error) == ("FAILED", "States.DataLimitExceeded")


def test_task_failed_matches_task_errors_but_not_timeout() -> None:
    definition = {"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
              "Catch": [{"ErrorEquals": ["States.TaskFailed"], "Next": "C"}], "End": True},
        "C": {"Type": "Pass", "End": True}}}
    caught = run(definition, handlers={"lambda:invoke": fail_with("Lambda.Unknown", "boom")})
    assert caught.output_value == {"Error": "Lambda.Unknown", "Cause": "boom"}
    timed_out = run(definition, handlers={"lambda:invoke": fail_with("States.Timeout")})
    assert (timed_out.status, timed_out.error) == ("FAILED", "States.Timeout")


def test_missing_handler_is_a_task_failure() -> None:
    result = run(machine(T={"Type": "Task", "Resource": "arn:aws:states:::sns:publish"}))
    assert (result.status, result.error) == ("FAILED", "States.TaskFailed")
    assert "sns:publish" in (result.cause or "")


def test_handler_exception_becomes_task_failure_named_after_it() -> None:
    def broken(request: TaskRequest, control: TaskControl) -> Any:
        raise ValueError("bad value")

    result = run(machine(T={"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke"}),
                 handlers={"lambda:invoke": broken})
    assert (result.status, result.error, result.cause) == ("FAILED", "ValueError", "bad value")


def test_task_timeout_and_heartbeat_timeout() -> None:
    def slow(request: TaskRequest, control: TaskControl) -> Any:
        control.sleep(1000)
        return "late"

    clock = ScaledClock(1000)
    timeout = run(machine(T={"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "TimeoutSeconds": 5}),
                  handlers={"lambda:invoke": slow}, clock=clock)
    assert (timeout.status, timeout.error) == ("FAILED", "States.Timeout")
    assert "TaskTimedOut" in types(timeout)
    heartbeat = run(machine(T={"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                               "TimeoutSeconds": 100, "HeartbeatSeconds": 2}),
                    handlers={"lambda:invoke": slow}, clock=clock)
    assert (heartbeat.status, heartbeat.error) == ("FAILED", "States.HeartbeatTimeout")


def test_heartbeats_keep_a_task_alive() -> None:
    def beating(request: TaskRequest, control: TaskControl) -> Any:
        for _ in range(25):
            control.sleep(1)
            control.heartbeat()
        return "done"

    result = run(machine(T={"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                            "HeartbeatSeconds": 20}), handlers={"lambda:invoke": beating},
                 # At 10x a heartbeat gap has 1.9 s of real slack (beats every 0.1 s, HeartbeatSeconds 2 s real),
                 # more than a loaded 2-core CI machine stalls a thread (200 ms of slack did not say so); the work
                 # (25 s, 2.5 s real) still outlasts HeartbeatSeconds.
                 clock=ScaledClock(10))
    assert (result.status, result.output_value) == ("SUCCEEDED", "done")


def test_execution_timeout_gives_timed_out() -> None:
    definition = {"TimeoutSeconds": 10, "StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 100, "End": True}}}
    result = run(definition, clock=ScaledClock(1000))
    assert (result.status, result.error) == ("TIMED_OUT", "States.Timeout")
    assert types(result)[-1] == "ExecutionTimedOut"


@pytest.mark.parametrize(("count", "status", "error"), [
    (None, "FAILED", "Boom"),
    (1, "SUCCEEDED", None),
    (0, "FAILED", "States.ExceedToleratedFailureThreshold"),
])
def test_tolerated_failures_in_distributed_map(count: int | None, status: str, error: str | None) -> None:
    state: dict[str, Any] = {
        "Type": "Map", "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED"}, "StartAt": "C", "States": {
            "C": {"Type": "Choice", "Choices": [{"Variable": "$", "NumericEquals": 2, "Next": "F"}], "Default": "OK"},
            "F": {"Type": "Fail", "Error": "Boom"}, "OK": {"Type": "Succeed"}}}}
    if count is not None:
        state["ToleratedFailureCount"] = count
    result = run(machine(M=state), [1, 2, 3])
    assert (result.status, result.error) == (status, error)
    if status == "SUCCEEDED":
        assert result.output_value == [1, {"Error": "Boom"}, 3]


def test_item_reader_and_result_writer_failures() -> None:
    def failing(request: TaskRequest, control: TaskControl) -> Any:
        raise StatesError("S3.NoSuchKey", "The specified key does not exist.")

    reader = {"Type": "Map", "ItemReader": {"Resource": "arn:aws:states:::s3:getObject",
                                            "ReaderConfig": {"InputType": "JSON"},
                                            "Parameters": {"Bucket": "b", "Key": "k"}},
              "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED"}, "StartAt": "P",
                                "States": {"P": {"Type": "Pass", "End": True}}}}
    result = run(machine(M=reader), handlers={"s3:getObject": failing})
    assert (result.status, result.error) == ("FAILED", "States.ItemReaderFailed")
    writer = {"Type": "Map", "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject",
                                              "Parameters": {"Bucket": "b", "Prefix": "p"}},
              "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED"}, "StartAt": "P",
                                "States": {"P": {"Type": "Pass", "End": True}}}}
    result = run(machine(M=writer), [1], handlers={"s3:putObject": failing})
    assert (result.status, result.error) == ("FAILED", "States.ResultWriterFailed")


def test_branch_failure_propagates_the_branch_error_and_records_parallel_failed() -> None:
    definition = {"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": True, "Branches": [
        {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}},
        {"StartAt": "B", "States": {"B": {"Type": "Fail", "Error": "BranchBoom", "Cause": "b"}}}]}}}
    result = run(definition)
    assert (result.status, result.error, result.cause) == ("FAILED", "BranchBoom", "b")
    assert "ParallelStateFailed" in types(result)


def test_timeout_and_heartbeat_from_paths_and_jsonata() -> None:
    seen: list[tuple[float | None, float | None]] = []

    def record(request: TaskRequest, control: TaskControl) -> Any:
        seen.append((request.timeout_seconds, request.heartbeat_seconds))
        return {}

    handlers = {"lambda:invoke": record}
    by_path = machine(T={"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                         "TimeoutSecondsPath": "$.t", "HeartbeatSecondsPath": "$.h",
                         "Credentials": {"RoleArn.$": "$.role"}})
    result = run(by_path, {"t": 30, "h": 10, "role": "arn:aws:iam::1:role/r"}, handlers=handlers)
    assert result.status == "SUCCEEDED"
    scheduled = result.events[2]["taskScheduledEventDetails"]
    assert (scheduled["timeoutInSeconds"], scheduled["heartbeatInSeconds"]) == (30, 10)
    assert scheduled["taskCredentials"] == {"roleArn": "arn:aws:iam::1:role/r"}
    by_jsonata = {"QueryLanguage": "JSONata", "StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "TimeoutSeconds": "{% $states.input.t * 2 %}",
        "End": True}}}
    assert run(by_jsonata, {"t": 4}, handlers=handlers).status == "SUCCEEDED"
    assert seen == [(30.0, 10.0), (8.0, None)]
    bad = run(by_path, {"t": "soon", "h": 1, "role": "r"}, handlers=handlers)
    assert (bad.status, bad.error) == ("FAILED", "States.Runtime")


def test_data_limit_exceeded_for_a_state_output_names_the_state() -> None:
    definition = machine(Grow={"Type": "Pass", "Parameters": {"a.$": "$.big", "b.$": "$.big"}})
    result = run(definition, {"big": "x" * 150_000})
    assert (result.status, result.error) == ("FAILED", "States.DataLimitExceeded")
    assert result.cause == ("The state/task 'Grow' returned a result with a size exceeding the maximum number of "
                            "bytes service limit.")
    assert run(machine(Same={"Type": "Pass"}), {"big": "x" * 200_000}).status == "SUCCEEDED"


_MAP_BODY = {"ItemsPath": "$.items", "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}}
_TASK = {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke"}


@pytest.mark.parametrize(
    ("state", "jsonata", "value", "error", "message"),
    [
        ({**_TASK, "TimeoutSecondsPath": "$.n"}, False, "soon", "States.Runtime",
         'The TimeoutSecondsPath field refers to value "soon" which is not a valid positive integer: $.n'),
        ({**_TASK, "HeartbeatSecondsPath": "$.n"}, False, 0, "States.Runtime",
         "The HeartbeatSecondsPath field refers to value 0 which is not a valid positive integer: $.n"),
        ({**_TASK, "TimeoutSeconds": "{% $states.input.n %}"}, True, -3, "States.QueryEvaluationError",
         "The TimeoutSeconds field must be a positive integer, but was: -3"),
        ({"Type": "Map", "MaxConcurrencyPath": "$.n", **_MAP_BODY}, False, 1.5, "States.Runtime",
         'The MaxConcurrencyPath field refers to value "1.5" which is not a valid integer: $.n'),
        ({"Type": "Map", "ToleratedFailurePercentagePath": "$.n", **_MAP_BODY}, False, "x", "States.Runtime",
         'The ToleratedFailurePercentagePath field refers to value "x" which is not a valid float: $.n'),
        ({"Type": "Map", "MaxConcurrency": "{% $states.input.n %}", "Items": [1],
          "ItemProcessor": _MAP_BODY["ItemProcessor"]}, True, "two",
         "States.QueryEvaluationError", 'The MaxConcurrency field must be a number, but was: "two"'),
        ({"Type": "Map", "MaxConcurrencyPath": "$.missing", **_MAP_BODY}, False, 1, "States.Runtime",
         "Invalid path '$.missing' : "),
        ({"Type": "Wait", "SecondsPath": "$.n"}, False, 1.5, "States.Runtime",
         "The SecondsPath parameter cannot be parsed as a long value: $.n == 1.5"),
        ({"Type": "Wait", "SecondsPath": "$.n"}, False, -1, "States.Runtime",
         "The SecondsPath parameter references a negative value: $.n == -1"),
        ({"Type": "Wait", "Seconds": "{% $states.input.n %}"}, True, -1, "States.QueryEvaluationError",
         "The Seconds field must be a positive integer, but was: -1"),
    ],
)
def test_number_or_path_fields_fail_as_aws_words_it(state: dict[str, Any], jsonata: bool, value: Any, error: str,
                                                    message: str) -> None:
    definition = {"StartAt": "S", "States": {"S": {**state, "End": True}}}
    if jsonata:
        definition["QueryLanguage"] = "JSONata"
    result = run(definition, {"n": value, "items": [1]}, handlers={"lambda:invoke": lambda r, c: {}})
    assert (result.status, result.error) == ("FAILED", error)
    assert message in (result.cause or "")
