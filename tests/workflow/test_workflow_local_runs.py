"""Workflow and Execution end to end on the local engine: execute, wait, events, progress, stop, redrive."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from stepfn.engine import ScaledClock
from stepfn.local.lambdas import register_function, unregister_function
from stepfn.steps import Chain, LambdaStep, Pass, Retry, Wait
from stepfn.workflow import EventsList, Execution, ExecutionFailedWarning, ExecutionStatus, Workflow
from stepfn.workflow.local_client import LocalStepFunctionsClient

ROLE = "arn:aws:iam::123456789012:role/StepFunctionsRole"


@pytest.fixture
def gate() -> Any:
    opened = threading.Event()

    def maybe_fail(event: Any) -> Any:
        if not opened.is_set():
            raise ValueError("gate closed")
        return {"through": event["value"]}

    register_function("gate", maybe_fail)
    yield opened
    unregister_function("gate")


def gated_workflow(name: str) -> Workflow:
    step = LambdaStep("Gate", parameters={"FunctionName": "gate", "Payload": {"value.$": "$.value"}},
                      output_path="$.Payload")
    return Workflow(name, Chain([Pass("Start"), step]), ROLE)


def test_execute_wait_output_events_progress(gate: threading.Event) -> None:
    gate.set()
    workflow = gated_workflow("Gated")
    workflow.create()
    execution = workflow.execute(inputs={"value": 7})
    assert execution.name and execution.status is ExecutionStatus.Running
    assert execution.get_output(wait=True) == {"through": 7}
    assert execution.status is ExecutionStatus.Succeeded
    assert execution.get_input() == {"value": 7}
    events = execution.list_events()
    assert isinstance(events, EventsList) and events[0]["type"] == "ExecutionStarted"
    assert [e["id"] for e in execution.list_events(max_items=3, reverse_order=True)] == [
        len(events), len(events) - 1, len(events) - 2]
    progress = execution.render_progress()
    assert 'data-state="Gate" data-status="SUCCEEDED"' in progress
    runs = workflow.list_executions()
    assert [r.execution_arn for r in runs] == [execution.execution_arn]
    assert runs[0].status is ExecutionStatus.Succeeded and runs[0].stop_date is not None


def test_failure_and_redrive_through_execution(gate: threading.Event) -> None:
    workflow = gated_workflow("Redrive")
    workflow.create()
    execution = workflow.execute(name="try", inputs={"value": 1})
    with pytest.warns(ExecutionFailedWarning, match="execution try FAILED at state 'Gate': ValueError: gate closed"):
        assert execution.get_output(wait=True) is None
    assert execution.describe()["error"] == "ValueError"
    assert execution.status is ExecutionStatus.Failed
    assert workflow.list_executions(status_filter=ExecutionStatus.Failed)[0].name == "try"
    progress = execution.render_progress()
    assert 'data-state="Gate" data-status="FAILED"' in progress
    gate.set()
    response = execution.redrive()
    assert "redriveDate" in response and execution.status is ExecutionStatus.Running
    assert execution.get_output(wait=True) == {"through": 1}
    assert execution.describe()["redriveCount"] == 1


def test_stop_a_waiting_execution() -> None:
    workflow = Workflow("Sleepy", Chain([Wait("Nap", seconds=600), Pass("After")]), ROLE)
    workflow.create()
    execution = workflow.execute()
    response = execution.stop(cause="enough", error="Impatient")
    assert "stopDate" in response
    described = execution.describe()
    assert (described["status"], described["error"], described["cause"]) == ("ABORTED", "Impatient", "enough")
    assert execution.status is ExecutionStatus.Aborted


def test_retry_and_many_concurrent_executions() -> None:
    attempts: dict[int, int] = {}
    lock = threading.Lock()

    def flaky(event: Any) -> Any:
        with lock:
            attempts[event["i"]] = attempts.get(event["i"], 0) + 1
            if attempts[event["i"]] == 1:
                raise ConnectionError("first try fails")
        return event["i"] * 2

    register_function("flaky-concurrent", flaky)
    try:
        step = LambdaStep("Flaky", parameters={"FunctionName": "flaky-concurrent", "Payload.$": "$"},
                          output_path="$.Payload")
        step.add_retry(Retry(error_equals=["ConnectionError"], interval_seconds=30, max_attempts=2))
        # A clock 1000x faster: the 30-second retry interval takes 30 ms.
        client = LocalStepFunctionsClient(clock=ScaledClock(1000))
        workflow = Workflow("Concurrent", step, ROLE, client=client)
        workflow.create()
        executions: list[Execution] = [workflow.execute(inputs={"i": i}) for i in range(20)]
        assert [e.get_output(wait=True) for e in executions] == [i * 2 for i in range(20)]
        assert attempts == dict.fromkeys(range(20), 2)
        assert len(workflow.list_executions(status_filter="SUCCEEDED")) == 20
        client.close()
    finally:
        unregister_function("flaky-concurrent")
