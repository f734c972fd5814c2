"""``stepfn show`` of a long execution: the summary and the latest events by default, everything with --all."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from stepfn.workflow.local_client import LocalStepFunctionsClient

MAP = {"StartAt": "Fan out", "States": {"Fan out": {
    "Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 0, "ResultPath": None, "End": True,
    "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "Each",
                      "States": {"Each": {"Type": "Pass", "End": True}}}}}}


def _stepfn(*args: str, home: Path) -> str:
    env = {**os.environ, "STEPFN_HOME": str(home), "COLUMNS": "160"}
    result = subprocess.run([sys.executable, "-m", "stepfn", *args], capture_output=True, text=True, env=env,
                            timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


def _long_execution(home: Path, items: int) -> int:
    """An execution of ``items`` Map iterations (four events each); returns its number of events."""
    client = LocalStepFunctionsClient(home=home)
    try:
        machine = client.create_state_machine(name="fan", definition=json.dumps(MAP),
                                              roleArn="arn:aws:iam::123456789012:role/r")["stateMachineArn"]
        arn = client.start_execution(stateMachineArn=machine, name="long",
                                     input=json.dumps({"items": list(range(items))}))["executionArn"]
        deadline = time.monotonic() + 60
        while client.describe_execution(executionArn=arn)["status"] == "RUNNING" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert client.describe_execution(executionArn=arn)["status"] == "SUCCEEDED"
        events = client.get_execution_history(executionArn=arn, reverseOrder=True, maxResults=1)["events"]
        return int(events[0]["id"])
    finally:
        client.close()


def test_show_prints_the_latest_events_of_a_long_history(stepfn_home: Path) -> None:
    total = _long_execution(stepfn_home, 1000)
    assert total > 2000
    shown = _stepfn("show", "long", home=stepfn_home)
    assert f"history: the last 20 of {total} events" in shown
    assert "ExecutionSucceeded" in shown and str(total) in shown
    assert "ExecutionStarted" not in shown  # event 1 is not among the last 20
    assert f"{total} events: stepfn show --all long" in shown
    assert "… (" in shown and "characters)" in shown  # the 1,000-item input is cut, not pretty-printed
    assert "SUCCEEDED in" in shown

    last_five = _stepfn("show", "long", "--last", "5", home=stepfn_home)
    assert "history: the last 5 of" in last_five

    everything = _stepfn("show", "long", "--all", home=stepfn_home)
    assert "ExecutionStarted" in everything and "ExecutionSucceeded" in everything
    assert "Fan out" in everything and "1000/1000" in everything  # the states table, with the Map's items
    assert "history: the last" not in everything and '"items": [' in everything


def test_show_of_a_short_history_keeps_the_states_table(stepfn_home: Path) -> None:
    total = _long_execution(stepfn_home, 3)
    shown = _stepfn("show", "long", home=stepfn_home)
    assert "Fan out" in shown and "3/3" in shown
    assert total < 20 and "history: the last" not in shown
    assert "ExecutionStarted" in shown and "ExecutionSucceeded" in shown
