"""Distributed Map runs as the engine reports them: the MapRun object, the observer hooks a journal may
offer, child execution histories, the tolerance outcome, and MaxConcurrency changed while the run goes on."""

from __future__ import annotations

import threading
import time
from typing import Any

from engine_helpers import identity

from stepfn.engine import Engine, TaskControl, TaskRequest
from stepfn.engine.map import MapRun

ACCOUNT_PREFIX = "arn:aws:states:us-east-1:123456789012"


class ListJournal:
    """An in-memory journal; with ``children`` it also observes Map Runs, as the local client's does."""

    def __init__(self, children: dict[str, ListJournal] | None = None) -> None:
        self.recorded: list[dict[str, Any]] = []
        self.children = children

    def append(self, event: dict[str, Any]) -> None:
        self.recorded.append(event)

    def events(self) -> list[dict[str, Any]]:
        return list(self.recorded)


class ObservingJournal(ListJournal):
    def __init__(self) -> None:
        super().__init__()
        self.started: list[MapRun] = []
        self.finished: list[tuple[str, str, str | None]] = []
        self.child_info: dict[str, dict[str, Any]] = {}
        self.child_journals: dict[str, ListJournal] = {}
        self.first_started = threading.Event()

    def map_run_started(self, map_run: MapRun) -> None:
        self.started.append(map_run)

    def map_run_child(self, map_run: MapRun, **info: Any) -> ListJournal:
        self.child_info[info["execution_arn"]] = {**info, "map_run_arn": map_run.arn}
        journal = ListJournal()
        self.child_journals[info["execution_arn"]] = journal
        return journal

    def map_run_finished(self, map_run: MapRun) -> None:
        self.finished.append((map_run.arn, map_run.status, map_run.error))


def distributed(processor_states: dict[str, Any], start: str, **map_fields: Any) -> dict[str, Any]:
    return {"StartAt": "Fan", "States": {"Fan": {
        "Type": "Map", "End": True, **map_fields,
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                          "StartAt": start, "States": processor_states}}}}


def fail_on_three() -> dict[str, Any]:
    return {"Check": {"Type": "Choice", "Choices": [{"Variable": "$", "NumericEquals": 3, "Next": "Bad"}],
                      "Default": "Good"},
            "Bad": {"Type": "Fail", "Error": "Three", "Cause": "item three"},
            "Good": {"Type": "Pass", "End": True}}


def test_map_run_is_reported_with_its_children_and_their_histories() -> None:
    journal = ObservingJournal()
    definition = distributed({"P": {"Type": "Pass", "End": True}}, "P", Label="Fan-out", MaxConcurrency=3,
                             ItemBatcher={"MaxItemsPerBatch": 2})
    result = Engine().run(definition, [1, 2, 3, 4, 5], journal=journal, **identity("parent"))
    assert result.status == "SUCCEEDED"
    assert [e["type"] for e in result.events] == [
        "ExecutionStarted", "MapStateEntered", "MapStateStarted", "MapRunStarted", "MapRunSucceeded",
        "MapStateSucceeded", "MapStateExited", "ExecutionSucceeded"]
    (map_run,) = journal.started
    assert map_run.arn.startswith(f"{ACCOUNT_PREFIX}:mapRun:TestMachine/Fan-out:")
    started_event = next(e for e in result.events if e["type"] == "MapRunStarted")
    assert started_event["mapRunStartedEventDetails"] == {"mapRunArn": map_run.arn}
    assert (map_run.execution_arn, map_run.max_concurrency) == (f"{ACCOUNT_PREFIX}:execution:TestMachine:parent", 3)
    assert (map_run.item_total, map_run.execution_total) == (5, 3)
    assert journal.finished == [(map_run.arn, "SUCCEEDED", None)]
    assert map_run.stop_date is not None and map_run.stop_date >= map_run.start_date
    infos = list(journal.child_info.values())
    assert sorted(info["item_count"] for info in infos) == [1, 2, 2]
    for info in infos:
        assert info["execution_arn"] == f"{ACCOUNT_PREFIX}:execution:TestMachine/Fan-out:{info['name']}"
        assert info["state_machine_arn"] == f"{ACCOUNT_PREFIX}:stateMachine:TestMachine/Fan-out"
        assert '"StartAt":"P"' in info["definition"] and "ProcessorConfig" not in info["definition"]
        events = journal.child_journals[info["execution_arn"]].recorded
        assert [e["type"] for e in events] == ["ExecutionStarted", "PassStateEntered", "PassStateExited",
                                               "ExecutionSucceeded"]
        assert [e["previousEventId"] for e in events] == [0, 1, 2, 3]


def test_failures_within_tolerance_succeed_and_beyond_it_fail_the_run() -> None:
    within = ObservingJournal()
    ok = Engine().run(distributed(fail_on_three(), "Check", ToleratedFailureCount=1), [1, 2, 3],
                      journal=within, **identity())
    assert ok.status == "SUCCEEDED"
    assert within.finished[0][1:] == ("SUCCEEDED", None)
    failed_child = next(arn for arn, j in within.child_journals.items() if j.recorded[-1]["type"] == "ExecutionFailed")
    details = within.child_journals[failed_child].recorded[-1]["executionFailedEventDetails"]
    assert (details["error"], details["cause"]) == ("Three", "item three")

    beyond = ObservingJournal()
    bad = Engine().run(distributed(fail_on_three(), "Check", ToleratedFailurePercentage=10), [1, 2, 3],
                       journal=beyond, **identity())
    assert (bad.status, bad.error) == ("FAILED", "States.ExceedToleratedFailureThreshold")
    assert beyond.finished[0][1:] == ("FAILED", "States.ExceedToleratedFailureThreshold")

    untolerated = ObservingJournal()
    plain = Engine().run(distributed(fail_on_three(), "Check"), [1, 2, 3], journal=untolerated, **identity())
    assert (plain.status, plain.error) == ("FAILED", "Three")
    assert untolerated.finished[0][1:] == ("FAILED", "Three")


def test_max_concurrency_raised_mid_run_applies_to_children_not_yet_started() -> None:
    lock = threading.Lock()
    active = [0]
    peaks: list[int] = []
    release_first = threading.Event()

    def work(request: TaskRequest, control: TaskControl) -> Any:
        with lock:
            active[0] += 1
            peaks.append(active[0])
        if request.parameters["Payload"] == 0:
            release_first.wait(10)
        else:
            time.sleep(0.1)
        with lock:
            active[0] -= 1
        return request.parameters["Payload"]

    journal = ObservingJournal()
    definition = distributed({"Work": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                                       "Parameters": {"FunctionName": "f", "Payload.$": "$"},
                                       "ResultSelector": {"v.$": "$"}, "End": True}}, "Work", MaxConcurrency=1)
    handle = Engine({"lambda:invoke": work}).start(definition, list(range(8)), journal=journal, **identity())
    deadline = time.monotonic() + 10
    while not peaks and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)
    assert peaks == [1]  # MaxConcurrency 1: nothing else started while the first child runs
    journal.started[0].update(max_concurrency=4)
    deadline = time.monotonic() + 10
    while max(peaks) == 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert 1 < max(peaks) <= 4  # the raised limit let waiting children start beside the first
    release_first.set()
    result = handle.wait(30)
    assert result.status == "SUCCEEDED"
    assert result.output_value == [{"v": i} for i in range(8)]
    assert max(peaks) <= 4


def test_stopping_the_execution_aborts_the_map_run_and_its_running_children() -> None:
    calls: list[int] = []
    both_running = threading.Event()

    def block(request: TaskRequest, control: TaskControl) -> Any:
        calls.append(1)
        if len(calls) == 2:
            both_running.set()
        while not control.cancelled():
            control.sleep(0.02)
        return None

    journal = ObservingJournal()
    definition = distributed({"Work": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                                       "Parameters": {"FunctionName": "f"}, "End": True}}, "Work", MaxConcurrency=2)
    handle = Engine({"lambda:invoke": block}).start(definition, [1, 2, 3], journal=journal, **identity())
    assert both_running.wait(10)
    assert handle.stop().status == "ABORTED"
    deadline = time.monotonic() + 10
    while not journal.finished and time.monotonic() < deadline:
        time.sleep(0.02)
    assert journal.finished[0][1] == "ABORTED"
    assert len(journal.child_journals) == 2  # the third child never started
    for child in journal.child_journals.values():
        assert child.recorded[-1]["type"] == "ExecutionAborted"


def test_a_journal_without_hooks_runs_distributed_maps_as_before() -> None:
    journal = ListJournal()
    result = Engine().run(distributed({"P": {"Type": "Pass", "End": True}}, "P"), [1, 2], journal=journal,
                          **identity())
    assert result.status == "SUCCEEDED" and result.output_value == [1, 2]
    assert [e["type"] for e in journal.recorded][-2:] == ["MapStateExited", "ExecutionSucceeded"]
