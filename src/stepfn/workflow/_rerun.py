"""``stepfn rerun EXECUTION --from STATE``: the definition of a new execution that starts at STATE.

A redrive restarts the failed state with the same parameters, so a training step fails again with "Job name
must be unique" (as on AWS). The local way out is a new execution of the same state machine that:

* enters STATE with the input STATE last entered with in the old execution (the recorded outputs of the
  states before it), through a Pass state named ``Rerun from STATE`` placed first, so the history says so and
  ``$$.Execution.Input`` is still the old execution's input;
* runs STATE and everything reachable from it (the states only reachable before it are dropped, since Step
  Functions rejects unreachable states);
* gives every SageMaker job, model and endpoint config it creates a fresh name (the old name plus
  ``-<suffix>``), so the jobs of the first run and their artifacts stay as they were.

Only top-level states can be rerun from: a state inside a Map or Parallel runs with its iteration's or
branch's context, which a new execution cannot recreate. Variables assigned before STATE are not restored.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from stepfn.errors import StepfnError

_NAME_FIELDS = {
    "createTrainingJob": "TrainingJobName",
    "createTransformJob": "TransformJobName",
    "createProcessingJob": "ProcessingJobName",
    "createHyperParameterTuningJob": "HyperParameterTuningJobName",
    "createLabelingJob": "LabelingJobName",
    "createModel": "ModelName",
    "createEndpointConfig": "EndpointConfigName",
}
MAX_JOB_NAME = 63


class RerunError(StepfnError):
    """The execution cannot be rerun from that state (the message says why)."""


def rerun_state_name(state: str) -> str:
    return f"Rerun from {state}"[:80]


def entered_input(events: list[dict[str, Any]], state: str) -> Any:
    """The input ``state`` last entered with, from an execution's history."""
    for event in reversed(events):
        details = event.get("stateEnteredEventDetails")
        if details and details.get("name") == state:
            return json.loads(details.get("input") or "null")
    raise RerunError(f"the execution never entered {state!r}, so there is no recorded input to rerun it with; "
                     "rerun from a state it reached")


def failed_state(events: list[dict[str, Any]], definition: dict[str, Any]) -> str | None:
    """The top-level state the execution was in when it failed (the default ``--from``)."""
    top = set(definition.get("States", {}))
    open_states: list[str] = []
    for event in events:
        details = event.get("stateEnteredEventDetails")
        if details and details.get("name") in top:
            open_states.append(details["name"])
        exited = event.get("stateExitedEventDetails")
        if exited and exited.get("name") in open_states:
            open_states.remove(exited["name"])
    return open_states[-1] if open_states else None


def build_rerun_definition(definition: dict[str, Any], state: str, state_input: Any, suffix: str) -> dict[str, Any]:
    """``definition`` started at ``state`` with ``state_input``, with fresh SageMaker names (module docstring)."""
    states = definition.get("States", {})
    if state not in states:
        inside = _container_of(definition, state)
        where = f"inside {inside!r}" if inside else "not in this state machine"
        raise RerunError(f"{state!r} is {where}; rerun --from takes a top-level state ({', '.join(states)})")
    rerun = copy.deepcopy(definition)
    first = rerun_state_name(state)
    jsonata = definition.get("QueryLanguage") == "JSONata"
    entry: dict[str, Any] = {"Type": "Pass", "Next": state,
                             "Comment": "stepfn rerun: the input this state had in the execution rerun"}
    entry["Output" if jsonata else "Result"] = state_input
    reachable = _reachable(rerun["States"], state)
    rerun["States"] = {first: entry, **{name: body for name, body in rerun["States"].items() if name in reachable}}
    rerun["StartAt"] = first
    for body in rerun["States"].values():
        _rename_jobs(body, suffix, jsonata)
    return rerun


def _container_of(definition: dict[str, Any], state: str) -> str | None:
    for name, body in definition.get("States", {}).items():
        for nested in _nested_definitions(body):
            if state in nested.get("States", {}) or _container_of(nested, state):
                return str(name)
    return None


def _nested_definitions(body: dict[str, Any]) -> list[dict[str, Any]]:
    nested = [body[key] for key in ("ItemProcessor", "Iterator") if isinstance(body.get(key), dict)]
    nested.extend(branch for branch in body.get("Branches", []) if isinstance(branch, dict))
    return nested


def _reachable(states: dict[str, Any], start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        name = todo.pop()
        if name in seen or name not in states:
            continue
        seen.add(name)
        body = states[name]
        todo.extend(body[key] for key in ("Next", "Default") if isinstance(body.get(key), str))
        todo.extend(rule["Next"] for rule in body.get("Choices", []) if isinstance(rule.get("Next"), str))
        todo.extend(catch["Next"] for catch in body.get("Catch", []) if isinstance(catch.get("Next"), str))
    return seen


def _rename_jobs(body: dict[str, Any], suffix: str, jsonata: bool) -> None:
    for nested in _nested_definitions(body):
        nested_jsonata = nested.get("QueryLanguage", "JSONata" if jsonata else "JSONPath") == "JSONata"
        for state in nested.get("States", {}).values():
            _rename_jobs(state, suffix, nested_jsonata)
    resource = body.get("Resource")
    if body.get("Type") != "Task" or not isinstance(resource, str) or ":sagemaker:" not in resource:
        return
    action = resource.rsplit(":", 1)[-1].split(".", 1)[0]
    field = _NAME_FIELDS.get(action)
    if field is None:
        return
    state_jsonata = body.get("QueryLanguage", "JSONata" if jsonata else "JSONPath") == "JSONata"
    arguments = body.get("Arguments" if state_jsonata else "Parameters")
    if not isinstance(arguments, dict):
        return
    tail = f"-{suffix}"
    if isinstance(arguments.get(field), str):
        value = arguments[field]
        if state_jsonata and value.startswith("{%") and value.endswith("%}"):
            arguments[field] = "{% (" + value[2:-2].strip() + f") & '{tail}' %}}"
        else:
            arguments[field] = value[: MAX_JOB_NAME - len(tail)] + tail
    elif isinstance(arguments.get(f"{field}.$"), str):
        arguments[f"{field}.$"] = f"States.Format('{{}}{tail}', {arguments[f'{field}.$']})"


__all__ = ["RerunError", "build_rerun_definition", "entered_input", "failed_state", "rerun_state_name"]
