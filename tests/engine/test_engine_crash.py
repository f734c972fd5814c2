"""Resume after ``kill -9`` of the process running an execution, with the SQLite journal (stepfn.store)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from stepfn.engine import Engine, TaskControl, TaskRequest

store_module = pytest.importorskip("stepfn.store")

ARN = "arn:aws:states:us-east-1:123456789012:execution:Crash:run-1"
SM_ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:Crash"
DEFINITION = {"StartAt": "First", "States": {
    "First": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"step": 1},
              "ResultPath": "$.first", "Next": "Wait"},
    "Wait": {"Type": "Wait", "Seconds": 0, "Next": "Second"},
    "Second": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"step": 2},
               "ResultPath": "$.second", "End": True}}}

CHILD = """
import json, sys, time
from datetime import UTC, datetime
from pathlib import Path
from stepfn.engine import Engine
from stepfn.store import ExecutionRecord, Store

home, work, arn, sm_arn, definition = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
store = Store(home)
store.create_execution(ExecutionRecord(arn=arn, state_machine_arn=sm_arn, name="run-1", type="STANDARD",
                                       status="RUNNING", start_date=datetime.now(UTC), definition=definition))

def handler(request, control):
    with open(work / "calls.jsonl", "a") as calls:
        calls.write(json.dumps([request.parameters["step"], request.resumed]) + "\\n")
    if request.parameters["step"] == 2:
        (work / "in-second").touch()
        time.sleep(600)
    return {"done": request.parameters["step"]}

Engine({"lambda:invoke": handler}).start(definition, {"n": 1}, execution_arn=arn, state_machine_arn=sm_arn,
                                         name="run-1", journal=store.journal(arn)).wait()
"""


@pytest.mark.slow
def test_resume_after_kill_9_loses_nothing_and_runs_nothing_twice(tmp_path: Path) -> None:
    home, work = tmp_path / "home", tmp_path / "work"
    work.mkdir()
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(home), str(work), ARN, SM_ARN, json.dumps(DEFINITION)])
    try:
        deadline = time.monotonic() + 60
        while not (work / "in-second").exists():
            assert child.poll() is None, "the child process ended early"
            assert time.monotonic() < deadline, "the child never reached the second task"
            time.sleep(0.02)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(10)
    assert child.returncode == -signal.SIGKILL

    store = store_module.Store(home)
    before = store.journal(ARN).events()
    assert [e["type"] for e in before][-2:] == ["TaskScheduled", "TaskStarted"]

    resumed: list[tuple[int, bool]] = []

    def handler(request: TaskRequest, control: TaskControl) -> Any:
        resumed.append((request.parameters["step"], request.resumed))
        return {"done": request.parameters["step"]}

    result = Engine({"lambda:invoke": handler}).start(
        DEFINITION, None, execution_arn=ARN, state_machine_arn=SM_ARN, name="run-1",
        journal=store.journal(ARN), resume=True).wait(30)
    assert result.status == "SUCCEEDED"
    assert result.output_value == {"n": 1, "first": {"done": 1}, "second": {"done": 2}}
    child_calls = [tuple(json.loads(line)) for line in (work / "calls.jsonl").read_text().splitlines()]
    assert child_calls == [(1, False), (2, False)]
    assert resumed == [(2, True)]
    events = store.journal(ARN).events()
    assert [e["id"] for e in events] == list(range(1, len(events) + 1))
    assert [e["type"] for e in events] == [
        "ExecutionStarted", "TaskStateEntered", "TaskScheduled", "TaskStarted", "TaskSucceeded", "TaskStateExited",
        "WaitStateEntered", "WaitStateExited", "TaskStateEntered", "TaskScheduled", "TaskStarted", "TaskSucceeded",
        "TaskStateExited", "ExecutionSucceeded"]
    assert store.get_execution(ARN).status == "SUCCEEDED"
    store.close()
