"""TestState: run one state on an input and report the data after each stage, as AWS TestState does.

Spec: the TestState API (botocore ``TestState``). The response has ``output``, ``error``, ``cause``,
``nextState``, ``status`` (``SUCCEEDED`` | ``FAILED`` | ``RETRIABLE`` | ``CAUGHT_ERROR``) and, at
``inspectionLevel`` DEBUG or TRACE, ``inspectionData`` (``input``, ``afterInputPath``,
``afterParameters`` / ``afterArguments``, ``result``, ``afterResultSelector``, ``afterResultPath``,
``variables``, ``errorDetails``), every payload as JSON text.

A Task calls its registered handler unless ``mock`` gives ``{"result": "<json>"}`` or
``{"errorOutput": {"error", "cause"}}``; Map and Parallel run only with a mock (their result is the
mocked one), as on AWS. A retrier that would apply gives ``RETRIABLE`` (no retry happens); a catcher
gives ``CAUGHT_ERROR`` with the catcher's output and ``nextState``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from stepfn._partitions import LOCAL_ACCOUNT
from stepfn.asl.definition import root_machine, state_sites
from stepfn.asl.paths import compact_json
from stepfn.engine.definition import Compiler, StateNode, check_runnable
from stepfn.engine.history import History
from stepfn.engine.map import MapNode
from stepfn.engine.parallel import ParallelNode
from stepfn.engine.protocol import TaskControl, TaskHandler, TaskRequest
from stepfn.engine.retry import Retriable
from stepfn.engine.runtime import Frame, Run, Variables
from stepfn.errors import DefinitionError, StatesError

if TYPE_CHECKING:
    from stepfn.engine.engine import Engine

__all__ = ["test_state"]

EXECUTION_ARN = f"arn:aws:states:us-east-1:{LOCAL_ACCOUNT}:execution:TestStateMachine:test-state"
STATE_MACHINE_ARN = f"arn:aws:states:us-east-1:{LOCAL_ACCOUNT}:stateMachine:TestStateMachine"


class _MockAll:
    """Every task attempt of the tested state returns the mocked result or raises the mocked error."""

    def __init__(self, mock: dict[str, Any]) -> None:
        self.mock = mock

    def handler(self, state_name: str, request: TaskRequest) -> TaskHandler | None:
        def mocked(request: TaskRequest, control: TaskControl) -> Any:
            return self.outcome()

        return mocked

    def outcome(self) -> Any:
        if "errorOutput" in self.mock:
            error = self.mock["errorOutput"] or {}
            raise StatesError(str(error.get("error", "")), error.get("cause"))
        result = self.mock.get("result")
        return json.loads(result) if isinstance(result, str) else result


def _parse(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError as exc:
            raise DefinitionError(f"TestState input is not valid JSON: {exc}") from exc
    return value


def _node(definition: dict[str, Any] | str, state_name: str | None) -> StateNode:
    spec = _parse(definition)
    if not isinstance(spec, dict):
        raise DefinitionError("TestState definition must be a JSON object")
    if state_name is not None:
        check_runnable(spec)  # the whole machine must be runnable
        machine = root_machine(spec)
        site = next((site for site in state_sites(machine) if site.name == state_name), None)
        if site is None:
            raise DefinitionError(f"TestState: no state named {state_name!r}")
    else:
        # A lone state: a machine of one, named as AWS's TestState names it; its Next goes nowhere here.
        alone = {"StartAt": "TestState", "States": {"TestState": spec}}
        check_runnable(alone, transitions=False)
        site = next(state_sites(root_machine(alone)))
    result: StateNode = Compiler.builder(site.spec["Type"])(site)
    return result


def test_state(engine: Engine, state_definition: dict[str, Any] | str, input: Any = None, *,
               inspection_level: str = "INFO", mock: dict[str, Any] | None = None,
               variables: dict[str, Any] | str | None = None, context: dict[str, Any] | str | None = None,
               state_name: str | None = None, role_arn: str | None = None) -> dict[str, Any]:
    """Run one state; returns the TestState response shape (see the module docstring)."""
    node = _node(state_definition, state_name)
    value = _parse(input) if input is not None else {}
    if isinstance(node, (MapNode, ParallelNode)) and mock is None:
        raise DefinitionError(f"TestState: a {node.type_name} state can only be tested with a mock")
    history = History(engine.clock)
    run = Run(execution_arn=EXECUTION_ARN, state_machine_arn=STATE_MACHINE_ARN, name="test-state",
              role_arn=role_arn, input=value, clock=engine.clock, history=history, handlers=engine.handlers,
              new_uuid=engine.new_uuid, start_time=engine.clock.now(), tokens=engine.tokens,
              mock=_MockAll(mock) if mock is not None else None)
    if context is not None:
        extra = _parse(context)
        run.execution_context = {**run.execution_context, **extra.get("Execution", {})}
    frame = Frame(run, Variables(initial=_parse(variables) or {}), 0)
    inspection: dict[str, Any] = {"input": value}
    frame.inspect = inspection
    response: dict[str, Any] = {}
    try:
        if isinstance(node, (MapNode, ParallelNode)):
            assert mock is not None
            output, next_state = _mocked_container(frame, node, value, _MockAll(mock))
        else:
            output, next_state = frame.run_state(node, value)
        caught = inspection.pop("caughtError", None)
        response["status"] = "CAUGHT_ERROR" if caught else "SUCCEEDED"
        if caught:
            response["error"], response["cause"] = caught
        response["output"] = compact_json(output)
        if next_state is not None:
            response["nextState"] = next_state
    except Retriable as exc:
        response.update(status="RETRIABLE", error=exc.error, cause=exc.cause)
    except StatesError as exc:
        response.update(status="FAILED", error=exc.error, cause=exc.cause)
    inspection["variables"] = frame.variables.flat()
    if inspection_level in ("DEBUG", "TRACE"):
        response["inspectionData"] = {
            key: (compact_json(item) if key != "errorDetails" else item) for key, item in inspection.items()
        }
    return {k: v for k, v in response.items() if v is not None}


def _mocked_container(frame: Frame, node: MapNode | ParallelNode, value: Any,
                      mock: _MockAll) -> tuple[Any, str | None]:
    """Map/Parallel under TestState: the mocked result stands for the work, through the state's own stages."""
    frame.enter(node, value)

    def mocked(frame: Frame, effective: Any, arguments: Any, states: dict[str, Any] | None, attempt: int) -> Any:
        result = mock.outcome()
        frame.record("result", result)
        return result

    return node.run_stages(frame, value, 0, work=mocked)
