"""A failed Map iteration or Parallel branch fails the state at once and stops its running siblings (AWS).

The siblings here block until the engine cancels them (a 10-minute ``control.sleep``, a 10-minute Wait), as
a SageMaker ``.sync`` job does; the tests read how long the execution took from its history timestamps, so
an engine that waited for the siblings would show ten minutes, not a flaky wall-clock bound.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from engine_helpers import run, types

from stepfn.engine import ExecutionResult, TaskControl, TaskHandler, TaskRequest
from stepfn.errors import StatesError

TEN_MINUTES = 600.0


class Siblings:
    """Task handler: ``"fail"`` fails once every ``"block"`` task is running; ``"block"`` sleeps ten minutes
    on the engine's clock unless cancelled, and then fails as a stopped job does."""

    def __init__(self, blockers: int) -> None:
        self.blockers = blockers
        self.running = threading.Semaphore(0)
        self.cancelled: list[str] = []
        self.finished: list[str] = []

    def __call__(self, request: TaskRequest, control: TaskControl) -> Any:
        if request.parameters == "fail":
            for _ in range(self.blockers):
                assert self.running.acquire(timeout=30), "the sibling tasks never started"
            raise StatesError("Item.Failed", "this item is bad")
        self.running.release()
        if control.sleep(TEN_MINUTES):
            self.finished.append(request.state_name)
            return "slept"
        assert control.cancelled()
        self.cancelled.append(request.state_name)
        raise StatesError("States.TaskFailed", '{"TrainingJobStatus": "Stopped"}')


def _handlers(siblings: Siblings) -> dict[str, TaskHandler]:
    return {"lambda:invoke": siblings}


def _duration(result: ExecutionResult) -> float:
    events = result.events
    return (events[-1]["timestamp"] - events[0]["timestamp"]).total_seconds()


def _task(next_state: str | None = None) -> dict[str, Any]:
    state: dict[str, Any] = {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke"}
    state.update({"Next": next_state} if next_state else {"End": True})
    return state


def _routed_map(other: dict[str, Any], **states: dict[str, Any]) -> dict[str, Any]:
    """A Map whose "fail" item fails in task Bad, every other item going to state ``other`` (named Other)."""
    return {"StartAt": "M", "States": {"M": {
        "Type": "Map", "End": True, "ItemSelector": {"v.$": "$$.Map.Item.Value"},
        "ItemProcessor": {"StartAt": "Route", "States": {
            "Route": {"Type": "Choice", "Choices": [{"Variable": "$.v", "StringEquals": "fail", "Next": "Bad"}],
                      "Default": "Other"},
            "Bad": {**_task(), "Parameters": "fail"},
            "Other": other, **states}}}}}


def test_a_failed_iteration_stops_the_running_ones_and_fails_the_map_at_once() -> None:
    siblings = Siblings(blockers=2)
    definition = {"StartAt": "M", "States": {"M": {
        "Type": "Map", "End": True,
        "ItemProcessor": {"StartAt": "T", "States": {"T": _task("After"), "After": {"Type": "Pass", "End": True}}},
    }}}
    result = run(definition, ["block", "fail", "block"], handlers=_handlers(siblings))
    assert (result.status, result.error, result.cause) == ("FAILED", "Item.Failed", "this item is bad")
    assert _duration(result) < TEN_MINUTES / 10
    assert siblings.cancelled == ["T", "T"] and siblings.finished == []
    kinds = types(result)
    # The stopped siblings are aborted with their iteration: no TaskFailed of theirs, no Retry, no Catch.
    assert kinds.count("TaskFailed") == 1 and "PassStateEntered" not in kinds
    assert kinds.count("MapIterationFailed") == 1 and kinds.count("MapIterationAborted") == 2
    assert kinds.index("MapIterationFailed") < kinds.index("MapIterationAborted")
    assert kinds[-2:] == ["MapStateFailed", "ExecutionFailed"]


def test_a_sibling_stopped_by_the_failure_is_not_retried_or_caught() -> None:
    siblings = Siblings(blockers=1)
    blocked = {**_task(), "Parameters": "block",
               "Retry": [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 5, "IntervalSeconds": 0}],
               "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}]}
    definition = _routed_map(blocked, Caught={"Type": "Pass", "End": True})
    result = run(definition, ["block", "fail"], handlers=_handlers(siblings))
    assert (result.status, result.error) == ("FAILED", "Item.Failed")
    assert siblings.cancelled == ["Other"]  # once: the retrier did not run it again
    assert "PassStateEntered" not in types(result)


def test_a_failed_branch_stops_the_running_branches_and_their_waits() -> None:
    siblings = Siblings(blockers=1)
    definition = {"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": True, "Branches": [
        {"StartAt": "Block", "States": {"Block": {**_task(), "Parameters": "block"}}},
        {"StartAt": "Sleep", "States": {"Sleep": {"Type": "Wait", "Seconds": int(TEN_MINUTES), "End": True}}},
        {"StartAt": "Fail", "States": {"Fail": {**_task(), "Parameters": "fail"}}},
    ]}}}
    result = run(definition, {}, handlers=_handlers(siblings))
    assert (result.status, result.error) == ("FAILED", "Item.Failed")
    assert _duration(result) < TEN_MINUTES / 10
    assert siblings.cancelled == ["Block"]
    assert types(result)[-2:] == ["ParallelStateFailed", "ExecutionFailed"]
    assert "WaitStateExited" not in types(result)


def test_a_failure_in_an_outer_iteration_reaches_tasks_of_nested_branches() -> None:
    siblings = Siblings(blockers=2)
    inner = {"Type": "Parallel", "End": True, "Branches": [
        {"StartAt": name, "States": {name: {**_task(), "Parameters": "block"}}} for name in ("A", "B")]}
    result = run(_routed_map(inner), ["block", "fail"], handlers=_handlers(siblings))
    assert (result.status, result.error) == ("FAILED", "Item.Failed")
    assert _duration(result) < TEN_MINUTES / 10
    assert sorted(siblings.cancelled) == ["A", "B"]
    # The inner Parallel neither succeeded nor failed: its iteration was aborted from outside.
    assert "ParallelStateSucceeded" not in types(result) and "ParallelStateFailed" not in types(result)


def test_a_map_run_over_its_tolerance_stops_the_running_children() -> None:
    siblings = Siblings(blockers=1)
    definition = {"StartAt": "M", "States": {"M": {
        "Type": "Map", "End": True, "ToleratedFailureCount": 0, "MaxConcurrency": 2,
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                          "StartAt": "T", "States": {"T": _task()}},
    }}}
    # MaxConcurrency 2: the third child waits for a slot, and after the failure it never starts.
    result = run(definition, ["block", "fail", "third"], handlers=_handlers(siblings))
    assert (result.status, result.error) == ("FAILED", "States.ExceedToleratedFailureThreshold")
    assert _duration(result) < TEN_MINUTES / 10
    assert siblings.cancelled == ["T"] and siblings.finished == []
    assert types(result)[-3:] == ["MapRunFailed", "MapStateFailed", "ExecutionFailed"]


def test_a_map_run_within_its_tolerance_lets_the_others_finish() -> None:
    def handler(request: TaskRequest, control: TaskControl) -> Any:
        if request.parameters == "fail":
            raise StatesError("Item.Failed", "tolerated")
        return request.parameters

    definition = {"StartAt": "M", "States": {"M": {
        "Type": "Map", "End": True, "ToleratedFailureCount": 1,
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                          "StartAt": "T", "States": {"T": _task()}},
    }}}
    result = run(definition, ["a", "fail", "b"], handlers={"lambda:invoke": handler})
    assert result.status == "SUCCEEDED"
    assert result.output_value == ["a", {"Error": "Item.Failed", "Cause": "tolerated"}, "b"]


def test_a_sibling_that_cannot_be_interrupted_is_left_behind_and_records_nothing_later() -> None:
    running, release, returned = threading.Event(), threading.Event(), threading.Event()

    def handler(request: TaskRequest, control: TaskControl) -> Any:
        if request.parameters == "fail":
            assert running.wait(30)
            raise StatesError("Item.Failed", "this item is bad")
        if request.parameters == "block":  # an in-process function: it never looks at control.cancelled()
            running.set()
            release.wait(60)
            returned.set()
            return "late"
        release.set()  # the state after the caught Map: let the left-behind sibling finish meanwhile
        assert returned.wait(10)
        time.sleep(0.3)  # and unwind its iteration
        return "after"

    definition = {"StartAt": "M", "States": {
        "M": {"Type": "Map", "ItemProcessor": {"StartAt": "T", "States": {"T": _task()}},
              "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": None, "Next": "After"}], "Next": "After"},
        "After": {**_task(), "Parameters": "after"}}}
    result = run(definition, ["block", "fail"], handlers={"lambda:invoke": handler})
    assert result.status == "SUCCEEDED"
    kinds = types(result)
    failed_at = kinds.index("MapStateFailed")
    assert _duration(result) < 60  # the Map did not wait for the sibling's 60 seconds
    # The sibling returned while the execution went on; its iteration recorded nothing after the Map failed.
    assert kinds[failed_at:] == ["MapStateFailed", "MapStateExited", "TaskStateEntered", "TaskScheduled",
                                 "TaskStarted", "TaskSucceeded", "TaskStateExited", "ExecutionSucceeded"]
    assert kinds.count("MapIterationAborted") == 0
