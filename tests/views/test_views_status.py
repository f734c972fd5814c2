"""One status for every view, derived from the history: retried, caught, failed, per Map iteration."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from views_support import Runs

from stepfn.cli.watch import states_table
from stepfn.workflow.local_client import LocalStepFunctionsClient
from stepfn.workflow.progress import (
    CAUGHT,
    FAILED,
    SUCCEEDED,
    execution_failure_summary,
    failed_run,
    read_history,
    state_progress,
)
from stepfn.workflow.widgets import ExecutionGraphWidget


def _stepfn(*args: str, home: Path) -> str:
    env = {**os.environ, "STEPFN_HOME": str(home), "COLUMNS": "200"}
    result = subprocess.run([sys.executable, "-m", "stepfn", *args], capture_output=True, text=True, env=env,
                            timeout=120, check=False)
    return result.stdout + result.stderr


def test_retried_caught_and_each_iteration_have_their_own_status(runs: Runs) -> None:
    progress = state_progress(read_history(runs.client, runs.mixed))
    assert (progress["Flaky"].status, progress["Flaky"].retries) == (SUCCEEDED, 1)
    assert progress["Flaky"].label() == "SUCCEEDED (retried 1)"
    assert progress["Flaky"].history[0].retried_errors == ["ConnectionError"]
    assert (progress["Guarded"].status, progress["Guarded"].error) == (CAUGHT, "RuntimeError")
    assert progress["Guarded"].label() == "CAUGHT RuntimeError"
    sweep = progress["Sweep"]
    # One at a time (MaxConcurrency 1): the failure of the second ends the Map before the third starts.
    assert sweep.status == FAILED and sweep.label() == "FAILED 2/3 done"
    iterations = sweep.history[-1].iterations
    assert {i: it.status for i, it in iterations.items()} == {0: SUCCEEDED, 1: FAILED}
    # Each iteration's data is its own: the failed one has its input and error and no sibling's output.
    assert (iterations[1].input, iterations[1].output, iterations[1].error) == ({"i": 1}, None, "RuntimeError")
    assert (iterations[0].input, iterations[0].output) == ({"i": 0}, {"double": 0})
    item = progress["Item"]
    assert [(run.path, run.status) for run in item.history] == [("Sweep[0] > Item", SUCCEEDED),
                                                                ("Sweep[1] > Item", FAILED)]
    # The summary comes from one run (the failed one), never input of one and output of another.
    assert (item.status, item.input, item.output) == (FAILED, {"i": 1}, None)

    failure = execution_failure_summary("FAILED", read_history(runs.client, runs.mixed))
    assert (failure.state, failure.iteration, failure.reason) == ("Item", "Sweep[1]", "item 1 broke")


def test_a_retried_task_in_a_succeeded_run_shows_succeeded_everywhere(runs: Runs) -> None:
    assert runs.client.describe_execution(executionArn=runs.retried)["status"] == "SUCCEEDED"
    shown = _stepfn("show", "retried", "--all", home=runs.home)
    assert "SUCCEEDED (retried 1)" in shown and "CAUGHT RuntimeError" in shown
    assert "FAILED" not in shown

    events = read_history(runs.client, runs.retried)
    machine = runs.client.describe_execution(executionArn=runs.retried)["stateMachineArn"]
    definition = runs.client.describe_state_machine(stateMachineArn=machine)["definition"]
    page = ExecutionGraphWidget(definition, events, runs.retried).show()
    assert "SUCCEEDED (retried 1)" in page and "CAUGHT RuntimeError" in page
    assert 'data-state="Flaky" data-status="SUCCEEDED"' in page and 'data-state="Guarded" data-status="CAUGHT"' in page


def test_show_lists_the_failed_iteration_with_its_error(runs: Runs) -> None:
    shown = _stepfn("show", "mixed", "--all", home=runs.home)
    line = next(line for line in shown.splitlines() if "Sweep[1]" in line)
    assert "FAILED RuntimeError" in line
    assert "Sweep[0]" not in shown  # succeeded iterations are in the items bar, not one row each
    assert "elapsed" in shown and re.search(r"ExecutionFailed .* \+\d+\.\d{3}s", shown)


def test_a_running_state_shows_its_elapsed_time_in_the_live_table(stepfn_home: Path) -> None:
    # Long enough to be still running when read, however late a loaded machine reads it; stopped at the end.
    definition = {"StartAt": "Pause", "States": {"Pause": {"Type": "Wait", "Seconds": 600, "End": True}}}
    client = LocalStepFunctionsClient(home=stepfn_home)
    try:
        machine = client.create_state_machine(name="pause", definition=json.dumps(definition),
                                              roleArn="arn:aws:iam::123456789012:role/R")["stateMachineArn"]
        arn = client.start_execution(stateMachineArn=machine)["executionArn"]
        deadline = time.monotonic() + 10
        events = read_history(client, arn)
        while not any(e["type"] == "WaitStateEntered" for e in events):
            assert time.monotonic() < deadline
            time.sleep(0.02)
            events = read_history(client, arn)
        entered = next(e["timestamp"] for e in events if e["type"] == "WaitStateEntered")
        console = Console(record=True, width=120)
        console.print(states_table(events, now=entered + timedelta(seconds=1.5)))
        assert "RUNNING 1.5s" in console.export_text()
        client.stop_execution(executionArn=arn)
    finally:
        client.close()


def test_of_two_runs_failing_within_one_timestamp_the_later_entered_is_blamed() -> None:
    """Histories read through boto3 carry milliseconds, so two Parallel branches can enter their Fail states in one
    timestamp: the run entered later (by event id) is the latest, as when the timestamps differ."""
    moment = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)

    def event(id_: int, kind: str, previous: int, **details: Any) -> dict[str, Any]:
        key = kind[0].lower() + kind[1:] + "EventDetails"
        return {"id": id_, "type": kind, "previousEventId": previous, "timestamp": moment,
                **({key: details} if details else {})}

    events = [event(1, "ExecutionStarted", 0, input="{}"),
              event(2, "ParallelStateEntered", 1, name="Both", input="{}"),
              event(3, "ParallelStateStarted", 2),
              event(4, "FailStateEntered", 3, name="First", input="{}"),
              event(5, "FailStateEntered", 3, name="Second", input="{}"),
              event(6, "ExecutionFailed", 5, error="Boom", cause="second")]
    run = failed_run(events)
    assert run is not None and run.name == "Second"
