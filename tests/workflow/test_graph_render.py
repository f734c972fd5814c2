from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path

from stepfn.workflow.graph import layout, render_html, render_svg
from stepfn.workflow.progress import FAILED, RUNNING, SUCCEEDED, execution_failure, state_progress

SVG = "{http://www.w3.org/2000/svg}"


def _states(svg: str) -> dict[str, str]:
    root = ET.fromstring(svg)
    return {g.get("data-state"): g.get("data-status") for g in root.iter(f"{SVG}g") if g.get("data-state")}


def test_every_state_of_a_nested_definition_is_drawn(golden_dir: Path) -> None:
    definition = json.loads((golden_dir / "02_all_states.definition.json").read_text())
    drawn = _states(render_svg(definition))
    expected = set(definition["States"])
    for state in definition["States"].values():
        for branch in state.get("Branches", []):
            expected |= set(branch["States"])
        if "Iterator" in state:
            expected |= set(state["Iterator"]["States"])
    assert set(drawn) == expected


def test_statuses_colour_states_and_html_is_self_contained() -> None:
    definition = {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Succeed"}}}
    svg = render_svg(definition, {"A": SUCCEEDED, "B": RUNNING})
    assert _states(svg) == {"A": SUCCEEDED, "B": RUNNING}
    page = render_html(definition, title="<x>")
    assert "&lt;x&gt;" in page and "http" not in page.replace("http://www.w3.org/2000/svg", "")


def test_layout_puts_successors_below_and_survives_loops() -> None:
    definition = {
        "StartAt": "A",
        "States": {
            "A": {"Type": "Pass", "Next": "Check"},
            "Check": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericLessThan": 3, "Next": "A"}],
                      "Default": "Done"},
            "Done": {"Type": "Succeed"},
            "Orphan": {"Type": "Pass", "End": True},
        },
    }
    lay = layout(definition)
    assert lay.boxes["A"].y < lay.boxes["Check"].y < lay.boxes["Done"].y
    assert lay.boxes["Orphan"].y > lay.boxes["Check"].y
    assert ("Check", "A", "") in lay.edges and ("Check", "Done", "default") in lay.edges


def _event(i: int, prev: int, kind: str, **details: object) -> dict[str, object]:
    key = kind[0].lower() + kind[1:] + "EventDetails"
    if kind.endswith("StateEntered"):
        key = "stateEnteredEventDetails"
    elif kind.endswith("StateExited"):
        key = "stateExitedEventDetails"
    return {"id": i, "previousEventId": prev, "type": kind,
            "timestamp": datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=i), key: details}


def test_state_progress_from_history() -> None:
    events = [
        _event(1, 0, "ExecutionStarted", input="{}"),
        _event(2, 1, "PassStateEntered", name="A", input="{}"),
        _event(3, 2, "PassStateExited", name="A", output='{"x": 1}'),
        _event(4, 3, "TaskStateEntered", name="Train", input='{"x": 1}'),
        _event(5, 4, "TaskScheduled", resourceType="sagemaker", resource="createTrainingJob.sync"),
        _event(6, 5, "TaskFailed", error="States.TaskFailed", cause="boom"),
        _event(7, 6, "ExecutionFailed", error="States.TaskFailed", cause="boom"),
    ]
    progress = state_progress(events)
    assert list(progress) == ["A", "Train"]
    assert progress["A"].status == SUCCEEDED and progress["A"].output == {"x": 1}
    assert progress["A"].seconds == 1.0
    assert progress["Train"].status == FAILED and progress["Train"].cause == "boom"
    assert progress["Train"].resources == ["sagemaker:createTrainingJob.sync"]
    assert execution_failure(events) == ("States.TaskFailed", "boom")


def test_a_fail_state_shows_failed_with_the_execution_error() -> None:
    # A Fail state records no exit event; it used to stay RUNNING in render_progress after the execution failed.
    events = [
        _event(1, 0, "ExecutionStarted", input="{}"),
        _event(2, 1, "ChoiceStateEntered", name="Good enough?", input="{}"),
        _event(3, 2, "ChoiceStateExited", name="Good enough?", output="{}"),
        _event(4, 3, "FailStateEntered", name="Too inaccurate", input="{}"),
        _event(5, 4, "ExecutionFailed", error="ModelTooInaccurate", cause="rmse 7.2"),
    ]
    progress = state_progress(events)["Too inaccurate"]
    assert (progress.status, progress.error, progress.cause) == (FAILED, "ModelTooInaccurate", "rmse 7.2")


def test_map_items_are_counted_per_run() -> None:
    events = [
        _event(1, 0, "ExecutionStarted", input="{}"),
        _event(2, 1, "MapStateEntered", name="Each", input="{}"),
        _event(3, 2, "MapStateStarted", length=3),
        _event(4, 3, "MapIterationStarted", name="Each", index=0),
        _event(5, 4, "MapIterationSucceeded", name="Each", index=0),
        _event(6, 5, "MapIterationStarted", name="Each", index=1),
        _event(7, 6, "MapIterationFailed", name="Each", index=1),
    ]
    progress = state_progress(events)["Each"]
    assert (progress.items_done, progress.items_total) == (2, 3)
