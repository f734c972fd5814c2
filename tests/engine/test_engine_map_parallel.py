"""Map (inline and distributed), Parallel, and variable scoping."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from engine_helpers import machine, run, types

from stepfn.engine import ScaledClock, TaskControl, TaskRequest
from stepfn.errors import StatesError


def test_inline_map_with_item_selector_context_and_result_path() -> None:
    definition = machine(M={
        "Type": "Map", "ItemsPath": "$.items", "ResultPath": "$.out",
        "ItemSelector": {"value.$": "$$.Map.Item.Value", "index.$": "$$.Map.Item.Index", "k.$": "$.k"},
        "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "P",
                          "States": {"P": {"Type": "Pass", "End": True}}}})
    result = run(definition, {"items": ["a", "b"], "k": 7})
    assert result.output_value == {"items": ["a", "b"], "k": 7, "out": [
        {"value": "a", "index": 0, "k": 7}, {"value": "b", "index": 1, "k": 7}]}
    assert types(result).count("MapIterationSucceeded") == 2


def test_inline_map_of_1000_items() -> None:
    # Its speed is measured by bench/engine.py (BENCHMARKS.md), not asserted here.
    definition = machine(M={"Type": "Map", "ItemProcessor": {"StartAt": "P",
                                                             "States": {"P": {"Type": "Pass", "End": True}}}})
    result = run(definition, list(range(1000)))
    assert result.output_value == list(range(1000))
    assert len(result.events) == 4006


def test_map_with_tasks_respects_max_concurrency() -> None:
    lock = threading.Condition()
    active = {"now": 0, "peak": 0}

    def work(request: TaskRequest, control: TaskControl) -> Any:
        with lock:
            active["now"] += 1
            active["peak"] = max(active["peak"], active["now"])
            lock.notify_all()
            # The first waits for a second beside it: tasks overlapping only by chance (20 ms each) may run one
            # after another on a loaded machine. Serial iterations time out here and fail the peak check.
            lock.wait_for(lambda: active["peak"] > 1, timeout=30)
        time.sleep(0.02)
        with lock:
            active["now"] -= 1
        return request.parameters * 10

    definition = machine(M={"Type": "Map", "MaxConcurrency": 3, "ItemProcessor": {
        "StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": True}}}})
    result = run(definition, list(range(9)), handlers={"lambda:invoke": work})
    assert result.output_value == [n * 10 for n in range(9)]
    assert 1 < active["peak"] <= 3


def test_distributed_map_with_item_reader_batcher_and_writer() -> None:
    stored: dict[str, str] = {}

    def get_object(request: TaskRequest, control: TaskControl) -> Any:
        assert request.parameters == {"Bucket": "in", "Key": "rows.csv"}
        return {"Body": "a,b\n1,2\n3,4\n5,6\n"}

    def put_object(request: TaskRequest, control: TaskControl) -> Any:
        stored[request.parameters["Key"]] = request.parameters["Body"]
        return {}

    definition = machine(M={
        "Type": "Map",
        "ItemReader": {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "CSV"},
                       "Parameters": {"Bucket": "in", "Key": "rows.csv"}},
        "ItemBatcher": {"MaxItemsPerBatch": 2, "BatchInput": {"tag": "x"}},
        "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": "out", "Prefix": "res"},
                         "WriterConfig": {"OutputType": "JSONL", "Transformation": "FLATTEN"}},
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED"}, "StartAt": "P",
                          "States": {"P": {"Type": "Pass", "End": True}}}})
    result = run(definition, handlers={"s3:getObject": get_object, "s3:putObject": put_object})
    assert result.status == "SUCCEEDED", result.cause
    output = result.output_value
    assert output["ResultWriterDetails"]["Bucket"] == "out"
    assert output["ResultWriterDetails"]["Key"].startswith("res/") and output["MapRunArn"].count(":mapRun:") == 1
    succeeded = next(v for k, v in stored.items() if k.endswith("SUCCEEDED_0.jsonl"))
    assert [json.loads(line) for line in succeeded.splitlines()] == [
        {"BatchInput": {"tag": "x"}, "Items": [{"a": "1", "b": "2"}, {"a": "3", "b": "4"}]},
        {"BatchInput": {"tag": "x"}, "Items": [{"a": "5", "b": "6"}]}]
    assert types(result)[2:6] == ["MapStateStarted", "MapRunStarted", "MapRunSucceeded", "MapStateSucceeded"]


def test_parallel_branches_with_tasks_run_concurrently() -> None:
    lock = threading.Condition()
    in_flight = [0, 0]  # now, most at once

    def slow(request: TaskRequest, control: TaskControl) -> Any:
        with lock:
            in_flight[0] += 1
            in_flight[1] = max(in_flight[1], in_flight[0])
            lock.notify_all()
            # Each waits for all four to be in: a fixed pause could end before a loaded machine starts the last.
            # Branches run one after another time out here and fail the check below.
            lock.wait_for(lambda: in_flight[1] == 4, timeout=30)
        with lock:
            in_flight[0] -= 1
        return request.parameters

    branch = {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                                               "Parameters": {"b.$": "$.b"}, "End": True}}}
    definition = machine(P={"Type": "Parallel", "Branches": [branch] * 4, "ResultSelector": {"all.$": "$[*].b"}})
    result = run(definition, {"b": 1}, handlers={"lambda:invoke": slow})
    assert result.output_value == {"all": [1, 1, 1, 1]}
    assert in_flight[1] == 4  # all four branches' tasks were running at the same moment


def test_parallel_inline_branches_record_entered_events_first() -> None:
    definition = machine(P={"Type": "Parallel", "Branches": [
        {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}},
        {"StartAt": "B1", "States": {"B1": {"Type": "Pass", "Next": "B2"}, "B2": {"Type": "Pass", "End": True}}}]})
    result = run(definition, {"x": 1})
    assert result.output_value == [{"x": 1}, {"x": 1}]
    assert types(result)[3:8] == ["PassStateEntered"] * 3 + ["PassStateExited"] * 2
    ids = [e["id"] for e in result.events]
    assert ids == sorted(ids) == list(range(1, len(ids) + 1))


def test_variables_scope_into_map_but_not_out() -> None:
    definition = machine(
        Init={"Type": "Pass", "Assign": {"outer": 5}},
        M={"Type": "Map", "ItemsPath": "$.items", "ResultPath": "$.mapped", "ItemProcessor": {
            "StartAt": "Inner", "States": {"Inner": {"Type": "Pass", "Assign": {"inner.$": "$"},
                                                     "Parameters": {"sum.$": "States.MathAdd($outer, $)"},
                                                     "End": True}}}},
        Check={"Type": "Pass", "Parameters": {"outer.$": "$outer", "mapped.$": "$.mapped"}})
    result = run(definition, {"items": [1, 2]})
    assert result.output_value == {"outer": 5, "mapped": [{"sum": 6}, {"sum": 7}]}
    failing = machine(Init={"Type": "Pass", "Assign": {"outer": 5}},
                      M={"Type": "Map", "ItemsPath": "$.items", "ItemProcessor": {
                          "StartAt": "Inner", "States": {"Inner": {"Type": "Pass", "Assign": {"inner": 1},
                                                                   "End": True}}}},
                      Use={"Type": "Pass", "Parameters": {"v.$": "$inner"}})
    assert run(failing, {"items": [1]}).status == "FAILED"


def test_assign_sees_values_from_before_the_state_and_jsonata_mode() -> None:
    definition = {"QueryLanguage": "JSONata", "StartAt": "A", "States": {
        "A": {"Type": "Pass", "Assign": {"x": 1, "y": 2}, "Next": "B"},
        "B": {"Type": "Pass", "Assign": {"x": "{% $y %}", "y": "{% $x %}"}, "Next": "C"},
        "C": {"Type": "Pass", "Output": {"x": "{% $x %}", "y": "{% $y %}", "in": "{% $states.input %}"}, "End": True}}}
    result = run(definition, {"i": 0})
    assert result.output_value == {"x": 2, "y": 1, "in": {"i": 0}}
    exited = [e for e in result.events if e["type"] == "PassStateExited"][1]["stateExitedEventDetails"]
    assert exited["assignedVariables"] == {"x": "2", "y": "1"}


def test_wait_states_on_a_scaled_clock() -> None:
    clock = ScaledClock(10_000)
    definition = machine(W1={"Type": "Wait", "Seconds": 600},
                         W2={"Type": "Wait", "SecondsPath": "$.s"},
                         W3={"Type": "Wait", "Timestamp": "2000-01-01T00:00:00Z"})
    began = time.monotonic()
    start = clock.now()
    result = run(definition, {"s": 300}, clock=clock)
    assert result.status == "SUCCEEDED"
    assert (clock.now() - start).total_seconds() >= 900
    assert time.monotonic() - began < 60  # the 900 clock seconds did not pass in real time


def test_failed_iteration_aborts_the_running_ones() -> None:
    def work(request: TaskRequest, control: TaskControl) -> Any:
        if request.parameters == 0:
            raise StatesError("Item.Failed", "item 0")
        # Until the failure aborts it: a fixed pause could end first on a loaded machine (item 0's failure then
        # lands after this iteration succeeded, and nothing is left to abort).
        control.sleep(60)
        return request.parameters

    definition = machine(M={"Type": "Map", "MaxConcurrency": 2, "ItemProcessor": {"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Next": "After"},
        "After": {"Type": "Pass", "End": True}}}})
    result = run(definition, [0, 1], handlers={"lambda:invoke": work})
    assert (result.status, result.error) == ("FAILED", "Item.Failed")
    assert "MapIterationFailed" in types(result) and "MapIterationAborted" in types(result)
    assert types(result)[-2:] == ["MapStateFailed", "ExecutionFailed"]


def test_jsonata_map_items_array_with_expressions_and_item_selector() -> None:
    definition = {"QueryLanguage": "JSONata", "StartAt": "M", "States": {"M": {
        "Type": "Map", "Items": ["{% $states.input.a %}", 2],
        "ItemSelector": {"v": "{% $states.context.Map.Item.Value %}", "i": "{% $states.context.Map.Item.Index %}"},
        "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}, "End": True}}}
    assert run(definition, {"a": 1}).output_value == [{"v": 1, "i": 0}, {"v": 2, "i": 1}]
