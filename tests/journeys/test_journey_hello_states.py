"""A first workflow of every basic state, run with the in-process local client under a fast clock.

Pass, Wait, Choice, a Lambda task with Retry and Catch, a Map over a Lambda task, Succeed and Fail, as a newcomer
strings them together: one execution per way through the Choice, the states entered checked in order, the retries
counted in the history, the Catch taking the error to a recovery state, the HTML views a notebook shows, then the
workflow attached again by its ARN, updated with a two-hour Wait, one run stopped while it waits (ABORTED) and the
workflow deleted. ``ScaledClock(1000)`` runs a Wait of two hours in 7.2 seconds (room for a loaded machine to stop it first) and the retry back-off in
milliseconds, so the journey is quick yet the waits are real.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from stepfn import steps
from stepfn.engine import ScaledClock
from stepfn.local.lambdas import register_function, unregister_function
from stepfn.workflow import ExecutionFailedWarning, Workflow
from stepfn.workflow.local_client import LocalStepFunctionsClient

pytestmark = pytest.mark.slow

WORKFLOW_ROLE = "arn:aws:iam::111122223333:role/StepFunctionsWorkflowExecutionRole"
WORK_FUNCTION = "owncover-work"
SQUARE_FUNCTION = "owncover-square"


class Flaky(Exception):
    """The error the work function raises while it is "warming up"; Lambda names the error by the class."""


class _AttemptCounter:
    """Calls of the work function per execution, so each run fails its own first ``fail_times`` calls."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.calls: dict[str, int] = {}

    def work(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        with self._lock:
            self.calls[event["run"]] = self.calls.get(event["run"], 0) + 1
            call = self.calls[event["run"]]
        if call <= event["fail_times"]:
            raise Flaky(f"call {call} of {event['run']} fails on purpose")
        return {"calls": call, "numbers": event["numbers"]}


def square(event: dict[str, Any]) -> dict[str, int]:
    return {"n": event["n"], "square": event["n"] ** 2}


@pytest.fixture
def counter() -> Iterator[_AttemptCounter]:
    attempts = _AttemptCounter()
    register_function(WORK_FUNCTION, attempts.work)
    register_function(SQUARE_FUNCTION, square)
    yield attempts
    unregister_function(WORK_FUNCTION)
    unregister_function(SQUARE_FUNCTION)


def build_definition(wait_seconds: int) -> steps.Chain:
    greet = steps.Pass("Greet", parameters={"greeting": "hello", "mode.$": "$.mode"}, result_path="$.greeting")
    pause = steps.Wait("Pause", seconds=wait_seconds)
    which_way = steps.Choice("Which way")
    refused = steps.Fail("Refused", error="NotToday", cause="the input asked for the failing way")
    work = steps.LambdaStep(
        "Work",
        parameters={"FunctionName": WORK_FUNCTION, "Payload": {
            "run.$": "$$.Execution.Name", "fail_times.$": "$.fail_times", "numbers.$": "$.numbers"}},
        result_selector={"calls.$": "$.Payload.calls", "numbers.$": "$.Payload.numbers"},
        result_path="$.work",
    )
    work.add_retry(steps.Retry(error_equals=["Flaky"], interval_seconds=2, max_attempts=2, backoff_rate=2.0))
    recovered = steps.Pass("Recovered", parameters={"recovered": True, "error.$": "$.failure.Error"},
                           result_path="$.recovery")
    work.add_catch(steps.Catch(error_equals=["States.ALL"], next_step=recovered, result_path="$.failure"))
    recovered.next(steps.Succeed("Handled"))
    squares = steps.Map("Square each", items_path="$.work.numbers", max_concurrency=2,
                        parameters={"n.$": "$$.Map.Item.Value"}, result_path="$.squares")
    squares.attach_iterator(steps.LambdaStep(
        "Square", parameters={"FunctionName": SQUARE_FUNCTION, "Payload.$": "$"}, output_path="$.Payload"))
    work.next(squares)
    squares.next(steps.Succeed("Done"))
    which_way.add_choice(steps.ChoiceRule.StringEquals("$.mode", "fail"), refused)
    which_way.add_choice(steps.ChoiceRule.StringEquals("$.mode", "work"), work)
    which_way.default_choice(steps.Fail("Unknown way", error="UnknownMode"))
    return steps.Chain([greet, pause, which_way])


def entered(execution: Any) -> list[str]:
    return [event["stateEnteredEventDetails"]["name"] for event in execution.list_events(max_items=1000)
            if "stateEnteredEventDetails" in event]


def failed_tasks(execution: Any) -> list[dict[str, Any]]:
    return [event for event in execution.list_events(max_items=1000) if event["type"] == "TaskFailed"]


def test_hello_states_every_basic_state(counter: _AttemptCounter) -> None:
    client = LocalStepFunctionsClient(clock=ScaledClock(1000))
    workflow = Workflow("HelloStates", build_definition(wait_seconds=60), WORKFLOW_ROLE, client=client)
    arn = workflow.create()
    assert arn is not None and arn.endswith(":stateMachine:HelloStates")
    graph = workflow.render_graph()
    assert "<svg" in graph and "Square each" in graph and "Which way" in graph

    # Fails twice, the two retries succeed on the third call: the Map then squares each number.
    started = time.monotonic()
    happy = workflow.execute(name="happy", inputs={"mode": "work", "fail_times": 2, "numbers": [1, 2, 3]})
    output = happy.get_output(wait=True)
    assert time.monotonic() - started < 20, "a Wait of 60 s and back-offs of 2 s and 4 s under a 1000x clock"
    assert happy.describe()["status"] == "SUCCEEDED"
    assert entered(happy) == ["Greet", "Pause", "Which way", "Work", "Square each",
                              "Square", "Square", "Square", "Done"]
    assert output["greeting"] == {"greeting": "hello", "mode": "work"}
    assert output["work"] == {"calls": 3, "numbers": [1, 2, 3]}
    assert output["squares"] == [{"n": 1, "square": 1}, {"n": 2, "square": 4}, {"n": 3, "square": 9}]
    assert [event["taskFailedEventDetails"]["error"] for event in failed_tasks(happy)] == ["Flaky", "Flaky"]
    assert counter.calls["happy"] == 3
    history = happy.list_events(max_items=1000)
    assert sum(event["type"] == "TaskScheduled" for event in history) == 1 + 2 + 3  # Work thrice, Square thrice
    assert history[-1]["type"] == "ExecutionSucceeded"

    progress = happy.render_progress()
    assert "<svg" in progress and "Square each" in progress
    events_html = str(getattr(happy.list_events(html=True), "data", ""))
    assert "<table" in events_html and "TaskFailed" in events_html and "ExecutionSucceeded" in events_html

    # Fails more often than Retry allows: after the first call and two retries the Catch takes over.
    caught = workflow.execute(name="caught", inputs={"mode": "work", "fail_times": 5, "numbers": [4]})
    caught_output = caught.get_output(wait=True)
    assert caught.describe()["status"] == "SUCCEEDED"
    assert entered(caught) == ["Greet", "Pause", "Which way", "Work", "Recovered", "Handled"]
    assert counter.calls["caught"] == 3
    assert len(failed_tasks(caught)) == 3
    assert caught_output["failure"]["Error"] == "Flaky"
    assert "call 3 of caught fails on purpose" in caught_output["failure"]["Cause"]
    assert caught_output["recovery"] == {"recovered": True, "error": "Flaky"}
    assert "work" not in caught_output and "squares" not in caught_output

    # The Choice's failing way and its default.
    refused = workflow.execute(name="refused", inputs={"mode": "fail", "fail_times": 0, "numbers": []})
    with pytest.warns(ExecutionFailedWarning, match="FAILED at state 'Refused': NotToday"):
        assert refused.get_output(wait=True) is None
    assert entered(refused) == ["Greet", "Pause", "Which way", "Refused"]
    described = refused.describe()
    assert described["status"] == "FAILED" and described["cause"] == "the input asked for the failing way"
    assert "refused" not in counter.calls
    lost = workflow.execute(name="lost", inputs={"mode": "sideways", "fail_times": 0, "numbers": []})
    with pytest.warns(ExecutionFailedWarning, match="UnknownMode"):
        lost.get_output(wait=True)
    assert entered(lost)[-1] == "Unknown way"
    assert "Refused" in lost.render_progress()

    # Another session finds the workflow by its ARN and makes the Wait two hours long (7.2 s at 1000x).
    attached = Workflow.attach(arn, client=LocalStepFunctionsClient(clock=ScaledClock(1000)))
    assert attached.name == "HelloStates" and attached.definition.to_dict()["States"]["Pause"]["Seconds"] == 60
    assert [execution.name for execution in attached.list_executions()] == ["lost", "refused", "caught", "happy"]
    attached.update(definition=build_definition(wait_seconds=7200))
    stored = json.loads(client.describe_state_machine(stateMachineArn=arn)["definition"])
    assert stored["States"]["Pause"]["Seconds"] == 7200
    waiting = attached.execute(name="waiting", inputs={"mode": "work", "fail_times": 0, "numbers": [5]})
    deadline = time.monotonic() + 10
    while entered(waiting)[-1:] != ["Pause"]:
        assert time.monotonic() < deadline, entered(waiting)
        time.sleep(0.05)
    waiting.stop(cause="no need to wait any longer", error="UserStopped")
    described = waiting.describe()
    assert described["status"] == "ABORTED"
    assert described["cause"] == "no need to wait any longer" and described["error"] == "UserStopped"
    time.sleep(8)  # past the two hours of the Wait at 1000x: a stopped run must not go on to Which way
    assert entered(waiting) == ["Greet", "Pause"]
    assert "waiting" not in counter.calls
    assert waiting.list_events(max_items=1000)[-1]["type"] == "ExecutionAborted"

    attached.delete()
    with pytest.raises(client.exceptions.StateMachineDoesNotExist):
        client.describe_state_machine(stateMachineArn=arn)
