"""Resume from a journal after the running process died, and redrive of a failed execution."""

from __future__ import annotations

import copy
import threading
from typing import Any

from engine_helpers import identity

from stepfn.engine import Engine, TaskControl, TaskRequest
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
    assert in_second.wait(5)
    crashed = MemoryJournal(journal.events())
    assert [e["type"] for e in crashed.events()][-2:] == ["TaskScheduled", "TaskStarted"]

    resumed_calls: list[tuple[int, bool]] = []

    def second_process(request: TaskRequest, control: TaskControl) -> Any:
        resumed_calls.append((request.parameters["step"], request.resumed))
        return {"done": request.parameters["step"]}

    result = Engine({"lambda:invoke": second_process}).start(
        DEFINITION, None, journal=crashed, resume=True, **ident).wait(5)
    release.set()
    handle.stop()
    assert result.status == "SUCCEEDED"
    assert result.output_value == {"items": [1, 2], "first": {"done": 1}, "mapped": [1, 2],
                                   "second": {"done": 2}}
    assert calls == [(1, False), (2, False)]
    assert resumed_calls == [(2, True)]  # First was not run again; Second was re-dispatched as resumed
    events = crashed.events()
    assert [e["id"] for e in events] == list(range(1, len(events) + 1))
    clean = Engine({"lambda:invoke": second_process}).run(DEFINITION, {"items": [1, 2]}, **identity())
    assert [e["type"] for e in events] == [e["type"] for e in clean.events]


def test_resume_of_a_finished_execution_returns_its_result() -> None:
    journal = MemoryJournal()
    ident = identity()
    engine = Engine({"lambda:invoke": lambda r, c: {"ok": True}})
    first = engine.run(DEFINITION, {"items": []}, journal=journal, **ident)
    again = engine.start(DEFINITION, None, journal=journal, resume=True, **ident).wait(5)
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
    redriven = engine.redrive(DEFINITION, journal=journal, **ident).wait(5)
    assert redriven.status == "SUCCEEDED"
    assert redriven.output_value["second"] == {"done": 2, "redrives": 1}
    assert attempts == {1: 1, 2: 2}
    types = [e["type"] for e in journal.events()]
    assert types.count("ExecutionFailed") == 1 and types.count("ExecutionRedriven") == 1
    assert types.index("ExecutionRedriven") == types.index("ExecutionFailed") + 1
    assert types[-1] == "ExecutionSucceeded"
