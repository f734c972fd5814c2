"""Shared helpers for the engine tests."""

from __future__ import annotations

import itertools
from typing import Any

from stepfn.engine import Clock, Engine, ExecutionResult, TaskHandler

_COUNTER = itertools.count()
SM_ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:TestMachine"


def identity(name: str | None = None) -> dict[str, str]:
    n = name or f"run-{next(_COUNTER)}"
    return {
        "execution_arn": f"arn:aws:states:us-east-1:123456789012:execution:TestMachine:{n}",
        "state_machine_arn": SM_ARN,
        "name": n,
    }


def run(definition: dict[str, Any], value: Any = None, *, handlers: dict[str, TaskHandler] | None = None,
        clock: Clock | None = None, engine: Engine | None = None, **kwargs: Any) -> ExecutionResult:
    engine = engine or Engine(handlers, clock)
    return engine.run(definition, {} if value is None else value, **identity(), **kwargs)


def types(result: ExecutionResult) -> list[str]:
    return [event["type"] for event in result.events]


def machine(**states: dict[str, Any]) -> dict[str, Any]:
    """A machine whose states run in the order given; the last one ends it unless it says otherwise."""
    names = list(states)
    out: dict[str, Any] = {}
    for i, name in enumerate(names):
        state = dict(states[name])
        if state["Type"] not in ("Choice", "Succeed", "Fail") and "Next" not in state and "End" not in state:
            if i + 1 < len(names):
                state["Next"] = names[i + 1]
            else:
                state["End"] = True
        out[name] = state
    return {"StartAt": names[0], "States": out}
