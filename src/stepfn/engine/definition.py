"""Compile an ASL definition once into frozen state nodes (one ``Type`` dispatch table).

Spec: states-language.net "Common State Fields" and "Input and Output Processing". The base class
holds the fields every state shares and the data-flow stages both query languages use, in AWS order:

* JSONPath: InputPath -> (Parameters -> work -> ResultSelector) -> Assign -> ResultPath -> OutputPath
* JSONata: (Arguments -> work) -> Assign and Output, both against the variables from before the state.

The pipeline is :meth:`StateNode.run_stages`; state types differ in ``work`` (Choice and Fail in
``execute``), and each family lives in its own module (``states``, ``choice``, ``task``, ``parallel``,
``map``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeVar

from stepfn.asl.definition import JSONATA, MachineSite, StateSite, root_machine, state_sites
from stepfn.asl.jsonata import JsonataTemplate, compile_jsonata_template, is_jsonata
from stepfn.asl.paths import (
    RESULT_PATH_DEFAULT,
    CompiledPath,
    PathNotFound,
    PathSyntaxError,
    Template,
    apply_result_path,
    compact_json,
    compile_path,
    compile_reference_path,
    compile_template,
)
from stepfn.asl.validate import unrunnable_problems
from stepfn.errors import DefinitionError, StatesError

if TYPE_CHECKING:
    from stepfn.engine.runtime import Frame

__all__ = ["Graph", "NumberField", "StateNode", "check_runnable", "compile_definition", "compile_graph",
           "number_field"]

IDENTITY = compile_path("$")
RUNTIME = "States.Runtime"
QUERY_EVALUATION_ERROR = "States.QueryEvaluationError"


class _Unset:
    """``finish``'s default target: the state's own Next (None is a real target: the end)."""


_UNSET = _Unset()


@dataclass(frozen=True, slots=True, kw_only=True)
class StateNode:
    """Fields and stages shared by every state type: the state pipeline, in one place.

    :meth:`run_stages` is the pipeline (the template method; LocalStack's ``ExecutionState`` is the model):

    * JSONPath: InputPath -> Parameters -> :meth:`work` -> ResultSelector -> Assign (``$`` = the result) ->
      ResultPath -> OutputPath -> exited event;
    * JSONata: Arguments -> :meth:`work` -> Assign and Output (both against ``$states`` with the result, when
      the state has one, and the variables from before the state) -> exited event.

    A state type supplies :meth:`work` (what it does between the argument and the result stages); the
    stages it does not have are unset fields and cost nothing. Choice and Fail, whose flow differs, override
    :meth:`execute`; Task, Map and Parallel run the pipeline once per attempt under Retry/Catch.
    """

    name: str
    next: str | None
    jsonata: bool
    input_path: CompiledPath | None = IDENTITY
    output_path: CompiledPath | None = IDENTITY
    output: JsonataTemplate | None = None
    assign: Template | JsonataTemplate | None = None
    parameters: Template | JsonataTemplate | None = None
    """Parameters (JSONPath) or Arguments (JSONata). Map keeps its ItemSelector apart."""
    result_selector: Template | None = None
    result_path: Any = RESULT_PATH_DEFAULT

    type_name: ClassVar[str] = ""
    retriable: ClassVar[bool] = False
    failed_event: ClassVar[str | None] = None
    """Recorded once when an error leaves the state (caught or not), never for a retried attempt."""
    binds_result: ClassVar[bool] = False
    """JSONata: the work gives ``$states.result`` to Assign and Output (Task, Map, Parallel)."""
    inspects_work: ClassVar[bool] = False
    begins: ClassVar[bool] = False
    """The state has a :meth:`begin` stage (Task); the hot path skips the call otherwise."""
    """TestState: record the arguments and the result even when the state has no Parameters (Task)."""

    entered_event: ClassVar[str] = ""
    exited_event: ClassVar[str] = ""

    def __init_subclass__(cls) -> None:
        # No super() call: dataclass(slots=True) rebuilds the class, which breaks zero-argument super().
        if cls.type_name and not cls.entered_event.startswith(cls.type_name):
            cls.entered_event = f"{cls.type_name}StateEntered"
            cls.exited_event = f"{cls.type_name}StateExited"

    def execute(self, frame: Frame, value: Any) -> tuple[Any, str | None]:
        return self.run_stages(frame, value, 0)

    # ------------------------------------------------------------------------------- the pipeline
    def run_stages(self, frame: Frame, value: Any, attempt: int,
                   work: Callable[[Frame, Any, Any, dict[str, Any] | None, int], Any] | None = None
                   ) -> tuple[Any, str | None]:
        """One pass through the pipeline; ``work`` replaces :meth:`work` (TestState's mocked Map/Parallel)."""
        if self.begins:
            self.begin(frame, attempt)
        inspect = frame.inspect is not None
        if self.jsonata:
            states = frame.states_binding(value)
            parameters = self.parameters
            arguments = (parameters.evaluate(states, frame.variables.flat(), new_uuid=frame.run.new_uuid)
                         if isinstance(parameters, JsonataTemplate) else value)
            if inspect and (parameters is not None or self.inspects_work):
                frame.record("afterArguments", arguments)
            result = (work or self.work)(frame, value, arguments, states, attempt)
            if inspect and self.inspects_work:
                frame.record("result", result)
            if self.binds_result:
                states = frame.states_binding(value, result=result)
            assigned = self.evaluate_assign(frame, value, states)
            return self.finish(frame, self.evaluate_output(frame, states, result), assigned)
        effective = self.effective_input(frame, value)
        parameters = self.parameters
        arguments = parameters.evaluate(frame.sources(effective)) if isinstance(parameters, Template) else effective
        if inspect and (parameters is not None or self.inspects_work):
            frame.record("afterParameters", arguments)
        result = (work or self.work)(frame, effective, arguments, None, attempt)
        if inspect and self.inspects_work:
            frame.record("result", result)
        if self.result_selector is not None:
            result = self.result_selector.evaluate(frame.sources(result))
            if inspect:
                frame.record("afterResultSelector", result)
        return self.finish_jsonpath(frame, value, result, self.result_path)

    def begin(self, frame: Frame, attempt: int) -> None:
        """Before the arguments are evaluated (a Task's ``$$.Task.Token`` must exist by then)."""

    def work(self, frame: Frame, effective: Any, arguments: Any, states: dict[str, Any] | None,
             attempt: int) -> Any:
        """The state's own work; returns its result. ``effective`` is the input after InputPath (JSONPath)
        or the state's input (JSONata), ``states`` the ``$states`` binding (JSONata only). By default the
        arguments are the result."""
        return arguments

    # ------------------------------------------------------------------------------- JSONPath stages
    def effective_input(self, frame: Frame, value: Any) -> Any:
        effective = _select(self.input_path, frame, value, "InputPath")
        if frame.inspect is not None:
            frame.inspect["afterInputPath"] = effective
        return effective

    def select_output(self, frame: Frame, value: Any) -> Any:
        return _select(self.output_path, frame, value, "OutputPath")

    # ------------------------------------------------------------------------------- both languages
    def evaluate_assign(self, frame: Frame, value: Any, states: dict[str, Any] | None = None) -> dict[str, Any] | None:
        """The new variable values (not yet applied): JSONPath sees ``$`` = ``value``, JSONata ``$states``."""
        if self.assign is None:
            return None
        return evaluate_assign(self.assign, frame, value, states)

    def evaluate_output(self, frame: Frame, states: dict[str, Any], default: Any) -> Any:
        if self.output is None:
            return default
        return self.output.evaluate(states, frame.variables.flat(), new_uuid=frame.run.new_uuid)

    def finish(self, frame: Frame, output: Any, assigned: dict[str, Any] | None,
               next_state: str | _Unset | None = _UNSET) -> tuple[Any, str | None]:
        """The last stage: apply the variables, record the exited event and move on (to ``Next``, or to
        ``next_state``: a Choice rule's or a catcher's target)."""
        if assigned:
            frame.variables.assign(assigned)
        frame.exit(self, output, assigned)
        return output, self.next if isinstance(next_state, _Unset) else next_state

    def finish_jsonpath(self, frame: Frame, raw_input: Any, result: Any,
                        result_path: CompiledPath | Any | None) -> tuple[Any, str | None]:
        """Assign (``$`` = result), ResultPath, OutputPath, then exit."""
        assigned = self.evaluate_assign(frame, result)
        merged = apply_result_path(raw_input, result, result_path)
        if frame.inspect is not None:
            frame.inspect["afterResultPath"] = merged
        return self.finish(frame, self.select_output(frame, merged), assigned)


def evaluate_assign(assign: Template | JsonataTemplate, frame: Frame, value: Any,
                    states: dict[str, Any] | None) -> dict[str, Any]:
    if isinstance(assign, JsonataTemplate):
        assigned = assign.evaluate(states or frame.states_binding(value), frame.variables.flat(),
                                   new_uuid=frame.run.new_uuid)
    else:
        assigned = assign.evaluate(frame.sources(value))
    if not isinstance(assigned, dict):
        raise StatesError("States.QueryEvaluationError", "Assign must evaluate to an object", field="Assign")
    return assigned


def _select(path: CompiledPath | None, frame: Frame, value: Any, field: str) -> Any:
    if path is None:
        return {}
    if path is IDENTITY:
        return value
    try:
        return path.resolve(frame.sources(value))
    except PathNotFound as exc:
        raise StatesError(RUNTIME, f"Invalid path '{path.text}' : {exc.message}", field=field,
                          path=path.text) from None


NumberStyle = Literal["number", "positive", "wait"]
"""How AWS words (and bounds) a number field: any number (Map's fields), a positive integer (a Task's
timers), or a Wait's seconds (zero or more, with its own error texts)."""


@dataclass(frozen=True, slots=True)
class NumberField:
    """A number field given as a literal, a reference path (``<Field>Path``, JSONPath) or a JSONata expression:
    TimeoutSeconds, HeartbeatSeconds, Seconds (Wait), MaxConcurrency, ToleratedFailureCount/Percentage, MaxItems,
    MaxItemsPerBatch, MaxInputBytesPerBatch. Range checks beyond the style's are the state's."""

    field: str
    source: Any
    """The literal, a :class:`CompiledPath` or a :class:`JsonataTemplate`."""
    kind: type[int] | type[float] = int
    style: NumberStyle = "number"

    def resolve(self, frame: Frame, effective: Any, states: dict[str, Any] | None) -> Any:
        """The value for this run: JSONPath paths read ``effective``, JSONata sees ``states``."""
        source, style = self.source, self.style
        if isinstance(source, JsonataTemplate):
            value = source.evaluate(states or frame.states_binding(effective), frame.variables.flat(),
                                    new_uuid=frame.run.new_uuid)
            if not _is_number(value) or (style == "positive" and value <= 0) or (style == "wait" and value < 0):
                wanted = "a number" if style == "number" else "a positive integer"
                raise StatesError(QUERY_EVALUATION_ERROR,
                                  f"The {self.field} field must be {wanted}, but was: {compact_json(value)}",
                                  field=self.field)
            return self.kind(value)
        if isinstance(source, CompiledPath):
            try:
                value = source.resolve(frame.sources(effective))
            except PathNotFound as exc:
                raise StatesError(RUNTIME, f"Invalid path '{source.text}' : {exc.message}") from None
            self._check_path_value(value, source.text)
            return self.kind(value)
        return self.kind(source)

    def _check_path_value(self, value: Any, text: str) -> None:
        integer = isinstance(value, int) and not isinstance(value, bool)
        if self.style == "wait":
            shown = f"{text} == {compact_json(value)}"
            if not integer:
                raise StatesError(RUNTIME, f"The {self.field}Path parameter cannot be parsed as a long value: {shown}")
            if value < 0:
                raise StatesError(RUNTIME, f"The {self.field}Path parameter references a negative value: {shown}")
        elif self.style == "positive":
            if not integer or value <= 0:
                raise StatesError(RUNTIME, f"The {self.field}Path field refers to value {compact_json(value)} "
                                           f"which is not a valid positive integer: {text}")
        elif not (integer if self.kind is int else _is_number(value)):
            shown = value if isinstance(value, str) else compact_json(value)
            raise StatesError(RUNTIME, f'The {self.field}Path field refers to value "{shown}" which is not a '
                                       f"valid {'integer' if self.kind is int else 'float'}: {text}")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def number_field(spec: dict[str, Any], key: str, where: str, jsonata: bool, kind: type[int] | type[float] = int,
                 *, style: NumberStyle = "number") -> NumberField | None:
    """``key`` (a literal, or a ``{% %}`` expression in JSONata) or ``<key>Path`` (JSONPath) of ``spec``."""
    if key in spec:
        value = spec[key]
        source = compile_jsonata_template(value, field=key) if jsonata and is_jsonata(value) else value
        return NumberField(key, source, kind, style)
    if f"{key}Path" in spec and not jsonata:
        path = optional_path(spec[f"{key}Path"], where, f"{key}Path")
        return NumberField(key, path, kind, style) if path is not None else None
    return None


@dataclass(frozen=True, slots=True)
class Graph:
    """A compiled (sub-)state machine: the top level, a Parallel branch or a Map item processor."""

    start_at: str
    states: dict[str, StateNode]
    jsonata: bool
    timeout_seconds: float | None = None
    has_blocking: bool = False
    """True when some state may block (Task, Wait, or a nested Map/Parallel that does): such graphs
    run their Map iterations / branches on a pool; the rest run inline."""
    assigns: bool = True
    """False when no state (nested ones included) assigns variables: iterations then share their
    parent's variable scope instead of each opening one."""


# --------------------------------------------------------------------------------------------- compiler
_Builder = TypeVar("_Builder", bound=Callable[..., StateNode])


class Compiler:
    """Builds nodes; the family modules register a builder per ``Type``."""

    builders: ClassVar[dict[str, Any]] = {}

    @classmethod
    def builder(cls, type_name: Any) -> Any:
        """The builder for a state ``Type`` (None if unknown); loads the family modules on first use."""
        from stepfn.engine import choice, map, parallel, states, task  # noqa: F401  (they register themselves)

        return cls.builders.get(type_name)

    @classmethod
    def register(cls, type_name: str) -> Callable[[_Builder], _Builder]:
        def decorate(builder: _Builder) -> _Builder:
            cls.builders[type_name] = builder
            return builder
        return decorate


def common_fields(site: StateSite) -> dict[str, Any]:
    """The keyword arguments every node takes, compiled from the state at ``site``."""
    spec, where, jsonata = site.spec, site.path, site.jsonata
    fields: dict[str, Any] = {"name": site.name, "next": None if spec.get("End") else spec.get("Next"),
                              "jsonata": jsonata}
    if jsonata:
        if "Output" in spec:
            fields["output"] = compile_jsonata_template(spec["Output"], field="Output")
        if "Assign" in spec:
            fields["assign"] = compile_jsonata_template(spec["Assign"], field="Assign")
        return fields
    if "InputPath" in spec:
        fields["input_path"] = optional_path(spec["InputPath"], where, "InputPath")
    if "OutputPath" in spec:
        fields["output_path"] = optional_path(spec["OutputPath"], where, "OutputPath")
    if "Assign" in spec:
        fields["assign"] = template(spec["Assign"], where, "Assign")
    return fields


def optional_path(text: Any, where: str, field: str) -> CompiledPath | None:
    if text is None:
        return None
    try:
        path = compile_path(text)
    except PathSyntaxError as exc:
        raise DefinitionError(f"{where}.{field}: {exc.reason}") from exc
    return IDENTITY if path.text == "$" else path


def result_path(spec: dict[str, Any], where: str, key: str = "ResultPath") -> CompiledPath | Any | None:
    if key not in spec:
        return RESULT_PATH_DEFAULT
    text = spec[key]
    if text is None:
        return None
    try:
        return compile_reference_path(text)
    except PathSyntaxError as exc:
        raise DefinitionError(f"{where}.{key}: {exc.reason}") from exc


def template(value: Any, where: str, field: str) -> Template:
    try:
        return compile_template(value, field=field)
    except DefinitionError as exc:
        raise DefinitionError(f"{where}.{field}: {exc}") from exc


def compile_graph(machine: MachineSite) -> Graph:
    """Compile a state machine, Parallel branch or Map item processor, walked as the validator walks it
    (:func:`stepfn.asl.definition.state_sites`; nested machines through ``nested_machines``). The definition
    has passed :func:`check_runnable`: its structure is not checked again here."""
    spec = machine.spec
    nodes: dict[str, StateNode] = {}
    blocking = False
    for site in state_sites(machine):
        node: StateNode = Compiler.builder(site.spec["Type"])(site)
        blocking = blocking or getattr(node, "blocking", False)
        nodes[site.name] = node
    return Graph(spec["StartAt"], nodes, machine.language == JSONATA, spec.get("TimeoutSeconds"), blocking,
                 '"Assign"' in json.dumps(spec["States"]))


def check_runnable(spec: dict[str, Any], *, transitions: bool = True) -> None:
    """Refuse, listing every problem, a definition no interpreter can run (``stepfn.asl.validate`` decides,
    for the engine and for CreateStateMachine alike); ``transitions=False`` for one state tested alone."""
    problems = unrunnable_problems(spec, transitions=transitions)
    if problems:
        raise DefinitionError("; ".join(f"{problem.path}: {problem.message}" for problem in problems))


@lru_cache(maxsize=256)
def _compile_text(text: str) -> Graph:
    try:
        spec = json.loads(text)
    except ValueError as exc:
        raise DefinitionError(f"definition is not valid JSON: {exc}") from exc
    if not isinstance(spec, dict):
        raise DefinitionError("a definition must be a JSON object")
    check_runnable(spec)
    return compile_graph(root_machine(spec))


def compile_definition(definition: dict[str, Any] | str) -> Graph:
    """Compile (once per distinct definition text) into a :class:`Graph`. Raises DefinitionError."""
    text = definition if isinstance(definition, str) else json.dumps(definition)
    return _compile_text(text)
