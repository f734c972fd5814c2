"""Resume from a journal after the running process died, and redrive of a failed execution."""

from __future__ import annotations

import copy
import threading
from typing import Any

from engine_helpers import identity

from stepfn.engine import Engine, ExecutionResult, TaskControl, TaskRequest
from stepfn.errors import StatesError


class MemoryJournal:
    def __init__(self, events: list[dict[str, Any]] | None = None) -> None:
        self._events = list(events or [])
        self.appends = 0

    def append(self, event: dict[str, Any]) -> None:
        self.appends += 1
        self._events.append(copy.deepcopy(event))

    def events(self) -> list[dict[str, Any]]:
        return copy.deepcopy(self._events)


DEFINITION = {"StartAt": "First", "States": {
    "First": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"step": 1},
              "ResultPath": "$.first", "Next": "Loop"},
    "Loop": {"Type": "Map", "ItemsPath": "$.items", "ResultPath": "$.mapped",
             "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}, "Next": "Second"},
    "Second": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"step": 2},
               "ResultPath": "$.second", "Next": "Done"},
    "Done": {"Type": "Pass", "End": True}}}


def _resume_elsewhere(crashed: MemoryJournal, ident: dict[str, str]) -> tuple[ExecutionResult, list[tuple[int, bool]]]:
    """Resume ``crashed`` in a fresh engine, as the next process would; returns the result and its task calls."""
    calls: list[tuple[int, bool]] = []

    def second_process(request: TaskRequest, control: TaskControl) -> Any:
        calls.append((request.parameters["step"], request.resumed))
        return {"done": request.parameters["step"]}

    result = Engine({"lambda:invoke": second_process}).start(
        DEFINITION, None, journal=crashed, resume=True, **ident).wait(30)
    return result, calls


def test_resume_replays_finished_tasks_and_redispatches_the_running_one() -> None:
    calls: list[tuple[int, bool]] = []
    in_second = threading.Event()
    release = threading.Event()

    def first_process(request: TaskRequest, control: TaskControl) -> Any:
        calls.append((request.parameters["step"], request.resumed))
        if request.parameters["step"] == 2:
            in_second.set()
            release.wait(10)  # the process "dies" here: we copy the journal and never let it finish
        return {"done": request.parameters["step"]}

    journal = MemoryJournal()
    ident = identity()
    handle = Engine({"lambda:invoke": first_process}).start(DEFINITION, {"items": [1, 2]}, journal=journal, **ident)
    assert in_second.wait(30)
    crashed = MemoryJournal(journal.events())
    assert [e["type"] for e in crashed.events()][-2:] == ["TaskScheduled", "TaskStarted"]

    result, resumed_calls = _resume_elsewhere(crashed, ident)
    release.set()
    handle.stop()
    assert result.status == "SUCCEEDED"
    assert result.output_value == {"items": [1, 2], "first": {"done": 1}, "mapped": [1, 2],
                                   "second": {"done": 2}}
    assert calls == [(1, False), (2, False)]
    assert resumed_calls == [(2, True)]  # First was not run again; Second was re-dispatched as resumed
    events = crashed.events()
    assert [e["id"] for e in events] == list(range(1, len(events) + 1))
    clean = Engine({"lambda:invoke": lambda r, c: {"done": r.parameters["step"]}}).run(
        DEFINITION, {"items": [1, 2]}, **identity())
    assert [e["type"] for e in events] == [e["type"] for e in clean.events]


def test_resume_of_a_finished_execution_returns_its_result() -> None:
    journal = MemoryJournal()
    ident = identity()
    engine = Engine({"lambda:invoke": lambda r, c: {"ok": True}})
    first = engine.run(DEFINITION, {"items": []}, journal=journal, **ident)
    again = engine.start(DEFINITION, None, journal=journal, resume=True, **ident).wait(30)
    assert (again.status, again.output) == (first.status, first.output)
    assert len(journal.events()) == len(first.events)


def test_journal_writes_are_batched_between_checkpoints() -> None:
    journal = MemoryJournal()
    definition = {"StartAt": "M", "States": {"M": {"Type": "Map", "ItemProcessor": {
        "StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}, "End": True}}}
    result = Engine().run(definition, list(range(300)), journal=journal, **identity())
    assert len(journal.events()) == len(result.events) == 1206
    assert [e["id"] for e in journal.events()] == list(range(1, 1207))


def test_redrive_reruns_only_the_failed_work() -> None:
    attempts: dict[int, int] = {1: 0, 2: 0}

    def flaky_second(request: TaskRequest, control: TaskControl) -> Any:
        step = request.parameters["step"]
        attempts[step] += 1
        if step == 2 and attempts[2] == 1:
            raise StatesError("Service.Down", "try later")
        return {"done": step, "redrives": request.context["Execution"]["RedriveCount"]}

    journal = MemoryJournal()
    ident = identity()
    engine = Engine({"lambda:invoke": flaky_second})
    failed = engine.run(DEFINITION, {"items": [1]}, journal=journal, **ident)
    assert (failed.status, failed.error) == ("FAILED", "Service.Down")
    entered = next(e for e in journal.events() if e["type"] == "TaskStateEntered"
                   and e["stateEnteredEventDetails"]["name"] == "Second")
    redriven = engine.redrive(DEFINITION, journal=journal, **ident).wait(30)
    assert redriven.status == "SUCCEEDED"
    assert redriven.output_value["second"] == {"done": 2, "redrives": 1}
    assert attempts == {1: 1, 2: 2}
    types = [e["type"] for e in journal.events()]
    assert types.count("ExecutionFailed") == 1 and types.count("ExecutionRedriven") == 1
    assert types.index("ExecutionRedriven") == types.index("ExecutionFailed") + 1
    # The failed task is rescheduled: its history after the redrive starts with TaskScheduled, which continues
    # the state the failed attempt entered.
    after = _after_redrive(journal)
    assert [e["type"] for e in after] == ["TaskScheduled", "TaskStarted", "TaskSucceeded", "TaskStateExited",
                                          "PassStateEntered", "PassStateExited", "ExecutionSucceeded"]
    assert after[0]["previousEventId"] == entered["id"]
    assert [e["id"] for e in journal.events()] == list(range(1, len(types) + 1))


def _after_redrive(journal: MemoryJournal, number: int = 1) -> list[dict[str, Any]]:
    """The events recorded after the ``number``-th ExecutionRedriven."""
    events = journal.events()
    marks = [i for i, e in enumerate(events) if e["type"] == "ExecutionRedriven"]
    end = marks[number] if number < len(marks) else len(events)
    return events[marks[number - 1] + 1:end]


MAP_OF_TASKS = {"StartAt": "Trials", "States": {"Trials": {
    "Type": "Map", "End": True,
    "ItemProcessor": {"StartAt": "Prepare", "States": {
        "Prepare": {"Type": "Pass", "Next": "Train"},
        "Train": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": True}}}}}}


def test_a_redriven_map_records_the_iteration_and_map_failures_again_then_succeeds() -> None:
    calls: list[int] = []
    failures = {"left": 2}

    def train(request: TaskRequest, control: TaskControl) -> Any:
        calls.append(request.parameters)
        if request.parameters == 2 and failures["left"]:
            failures["left"] -= 1
            raise StatesError("Trial.Failed", "diverged")
        return request.parameters * 10

    journal = MemoryJournal()
    ident = identity()
    engine = Engine({"lambda:invoke": train})
    assert engine.run(MAP_OF_TASKS, [1, 2], journal=journal, **ident).status == "FAILED"
    again = engine.redrive(MAP_OF_TASKS, journal=journal, **ident).wait(30)
    assert (again.status, again.error) == ("FAILED", "Trial.Failed")
    assert [e["type"] for e in _after_redrive(journal)] == [
        "TaskScheduled", "TaskStarted", "TaskFailed", "MapIterationFailed", "MapStateFailed", "ExecutionFailed"]
    done = engine.redrive(MAP_OF_TASKS, journal=journal, **ident).wait(30)
    assert (done.status, done.output_value) == ("SUCCEEDED", [10, 20])
    assert [e["type"] for e in _after_redrive(journal, 2)] == [
        "TaskScheduled", "TaskStarted", "TaskSucceeded", "TaskStateExited", "MapIterationSucceeded",
        "MapStateSucceeded", "MapStateExited", "ExecutionSucceeded"]
    assert calls.count(1) == 1 and calls.count(2) == 3  # the succeeded iteration never ran again
    assert [e["type"] for e in journal.events()].count("PassStateEntered") == 2  # nor did Prepare


def test_a_redrive_reruns_a_retried_task_from_its_first_attempt() -> None:
    runs: list[int] = []

    def flaky(request: TaskRequest, control: TaskControl) -> Any:
        runs.append(request.context["State"]["RetryCount"])
        if len(runs) <= 2:
            raise StatesError("Service.Down", "try later")
        return "ok"

    definition = {"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": True,
        "Retry": [{"ErrorEquals": ["Service.Down"], "MaxAttempts": 1, "IntervalSeconds": 0}]}}}
    journal = MemoryJournal()
    ident = identity()
    engine = Engine({"lambda:invoke": flaky})
    assert engine.run(definition, {}, journal=journal, **ident).status == "FAILED"
    assert engine.redrive(definition, journal=journal, **ident).wait(30).status == "SUCCEEDED"
    assert runs == [0, 1, 0]
    assert [e["type"] for e in _after_redrive(journal)] == [
        "TaskScheduled", "TaskStarted", "TaskSucceeded", "TaskStateExited", "ExecutionSucceeded"]


def test_a_redrive_keeps_a_caught_failure_and_reruns_only_the_failed_state() -> None:
    calls: list[str] = []

    def work(request: TaskRequest, control: TaskControl) -> Any:
        calls.append(request.state_name)
        if request.state_name == "Risky" or calls.count("Last") == 1:
            raise StatesError("Service.Down", request.state_name)
        return "ok"

    definition = {"StartAt": "Risky", "States": {
        "Risky": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "ResultPath": "$.risky",
                  "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.caught", "Next": "Last"}], "End": True},
        "Last": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "ResultPath": "$.last", "End": True}}}
    journal = MemoryJournal()
    ident = identity()
    engine = Engine({"lambda:invoke": work})
    assert engine.run(definition, {}, journal=journal, **ident).status == "FAILED"
    result = engine.redrive(definition, journal=journal, **ident).wait(30)
    assert result.status == "SUCCEEDED"
    assert result.output_value == {"caught": {"Error": "Service.Down", "Cause": "Risky"}, "last": "ok"}
    assert calls == ["Risky", "Last", "Last"]  # the caught state exited: a redrive does not run it again


def test_resuming_an_interrupted_redrive_attaches_to_the_rerun_task() -> None:
    in_rerun = threading.Event()
    release = threading.Event()

    def fails_then_hangs(request: TaskRequest, control: TaskControl) -> Any:
        if request.parameters["step"] == 2:
            if request.context["Execution"]["RedriveCount"] == 0:
                raise StatesError("Service.Down", "try later")
            in_rerun.set()
            release.wait(10)  # the redriving process "dies" here
        return {"done": request.parameters["step"]}

    journal = MemoryJournal()
    ident = identity()
    engine = Engine({"lambda:invoke": fails_then_hangs})
    assert engine.run(DEFINITION, {"items": []}, journal=journal, **ident).status == "FAILED"
    handle = engine.redrive(DEFINITION, journal=journal, **ident)
    assert in_rerun.wait(30)
    crashed = MemoryJournal(journal.events())
    result, resumed = _resume_elsewhere(crashed, ident)
    release.set()
    handle.stop()
    assert result.status == "SUCCEEDED" and result.output_value["second"] == {"done": 2}
    # The rerun attempt is the one resumed; the failure before the redrive was not replayed as its outcome.
    assert resumed == [(2, True)]
    assert [e["type"] for e in _after_redrive(crashed)][-3:] == ["PassStateEntered", "PassStateExited",
                                                                 "ExecutionSucceeded"]
