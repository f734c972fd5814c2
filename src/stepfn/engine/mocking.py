"""Mocked service integrations in the AWS Step Functions Local mock-config format.

Spec: AWS guide "Using mocked service integrations for testing in Step Functions Local"::

    {"StateMachines": {"<machine>": {"TestCases": {"<case>": {"<state>": "<response name>"}}}},
     "MockedResponses": {"<response name>": {"0": {"Return": {...}}, "1-2": {"Throw": {"Error", "Cause"}}}}}

Each Task invocation of a mocked state (retries included) consumes the next 0-based index; ranges
``"a-b"`` are inclusive. ``Return`` is the task result, ``Throw`` fails the attempt with ``Error`` and
``Cause``. States a test case does not name run their real handlers. A mocked ``.waitForTaskToken``
task completes with the mocked response, as Step Functions Local does.

    config = MockConfig.load("MockConfigFile.json")
    engine.start(definition, input, ..., mock=config.handlers("LambdaSQSIntegration", "HappyPath"))
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stepfn.engine.protocol import TaskControl, TaskHandler, TaskRequest
from stepfn.errors import DefinitionError, StatesError

__all__ = ["MockConfig", "MockTestCase", "MockedResponse", "parse_state_machine_arn"]


def _strip_comments(text: str) -> str:
    """Drop ``//`` line comments (the JSON5 fixtures carry a source line) outside strings."""
    out = []
    for line in text.splitlines():
        in_string = False
        escaped = False
        cut = len(line)
        for i, ch in enumerate(line):
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = not in_string
            elif not in_string and line.startswith("//", i):
                cut = i
                break
        out.append(line[:cut])
    return re.sub(r",(\s*[}\]])", r"\1", "\n".join(out))


@dataclass(frozen=True)
class MockedResponse:
    """One named entry of ``MockedResponses``: the step for each invocation index."""

    name: str
    steps: tuple[tuple[int, int, dict[str, Any]], ...]

    @classmethod
    def parse(cls, name: str, spec: Mapping[str, Any]) -> MockedResponse:
        steps = []
        for key, step in spec.items():
            match = re.fullmatch(r"(\d+)(?:-(\d+))?", str(key))
            if not match:
                raise DefinitionError(f"MockedResponses.{name}: invalid invocation index {key!r}")
            first = int(match.group(1))
            last = int(match.group(2)) if match.group(2) else first
            if not isinstance(step, dict) or len(set(step) & {"Return", "Throw"}) != 1:
                raise DefinitionError(f"MockedResponses.{name}.{key}: needs exactly one of Return or Throw")
            if "Throw" in step and not {"Error", "Cause"} <= set(step["Throw"]):
                raise DefinitionError(f"MockedResponses.{name}.{key}.Throw: needs Error and Cause")
            steps.append((first, last, step))
        return cls(name, tuple(sorted(steps, key=lambda s: s[0])))

    def respond(self, invocation: int) -> Any:
        for first, last, step in self.steps:
            if first <= invocation <= last:
                if "Throw" in step:
                    raise StatesError(step["Throw"]["Error"], step["Throw"]["Cause"])
                return step["Return"]
        raise StatesError("States.TaskFailed",
                          f"Mocked response '{self.name}' has no entry for invocation {invocation}.")


@dataclass
class _Router:
    """The mocks of one execution: invocation counters per state."""

    responses: Mapping[str, MockedResponse]
    counts: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handler(self, state_name: str, request: TaskRequest) -> TaskHandler | None:
        response = self.responses.get(state_name)
        if response is None:
            return None
        with self.lock:
            invocation = self.counts.get(state_name, 0)
            self.counts[state_name] = invocation + 1

        def mocked(request: TaskRequest, control: TaskControl) -> Any:
            return response.respond(invocation)

        return mocked


@dataclass(frozen=True)
class MockTestCase:
    """A test case: state name -> mocked response. Pass it as ``Engine.start(..., mock=...)``."""

    state_machine: str
    name: str
    responses: Mapping[str, MockedResponse]

    def start(self) -> _Router:
        """Fresh invocation counters for one execution."""
        return _Router(self.responses)


@dataclass(frozen=True)
class MockConfig:
    state_machines: Mapping[str, Mapping[str, Mapping[str, str]]]
    responses: Mapping[str, MockedResponse]

    @classmethod
    def load(cls, source: str | Path | Mapping[str, Any]) -> MockConfig:
        """From a dict, a JSON (or commented JSON5-style) text, or a file path."""
        if isinstance(source, Mapping):
            data = dict(source)
        else:
            text = str(source)
            if not text.lstrip().startswith("{"):
                text = Path(source).read_text()
            try:
                data = json.loads(_strip_comments(text))
            except ValueError as exc:
                raise DefinitionError(f"mock config is not valid JSON: {exc}") from exc
        responses = {name: MockedResponse.parse(name, spec)
                     for name, spec in (data.get("MockedResponses") or {}).items()}
        machines: dict[str, dict[str, dict[str, str]]] = {}
        for machine, spec in (data.get("StateMachines") or {}).items():
            cases = spec.get("TestCases") or {}
            for case, states in cases.items():
                for state, response in states.items():
                    if response not in responses:
                        raise DefinitionError(f"StateMachines.{machine}.TestCases.{case}.{state}: no mocked "
                                              f"response named {response!r}")
            machines[machine] = cases
        return cls(machines, responses)

    def handlers(self, state_machine: str, test_case: str) -> MockTestCase:
        """The routing for ``state_machine#test_case``; KeyError names what is missing."""
        cases = self.state_machines.get(state_machine)
        if cases is None:
            raise KeyError(f"mock config has no state machine {state_machine!r}")
        states = cases.get(test_case)
        if states is None:
            raise KeyError(f"mock config has no test case {test_case!r} for {state_machine!r}")
        return MockTestCase(state_machine, test_case, {s: self.responses[r] for s, r in states.items()})


def parse_state_machine_arn(arn: str) -> tuple[str, str | None]:
    """``arn:...:stateMachine:Name#TestCase`` -> (the ARN without the test case, the test case or None)."""
    base, _, case = arn.partition("#")
    return base, case or None
