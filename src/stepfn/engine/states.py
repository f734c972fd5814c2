"""The flow states: Pass, Succeed, Fail and Wait (states-language.net "Pass/Succeed/Fail/Wait State")."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from stepfn.asl.definition import StateSite
from stepfn.asl.jsonata import JsonataTemplate, compile_jsonata_template, is_jsonata
from stepfn.asl.paths import (
    RESULT_PATH_DEFAULT,
    CompiledPath,
    PathNotFound,
    compact_json,
    compile_expression,
)
from stepfn.engine.definition import (
    IDENTITY,
    Compiler,
    NumberField,
    StateNode,
    common_fields,
    number_field,
    optional_path,
    result_path,
    template,
)
from stepfn.engine.history import as_datetime
from stepfn.engine.runtime import Frame
from stepfn.errors import DefinitionError, StatesError

__all__ = ["FailNode", "PassNode", "SucceedNode", "WaitNode", "parse_timestamp"]

RUNTIME = "States.Runtime"
QUERY_EVALUATION_ERROR = "States.QueryEvaluationError"
# AWS refuses waits longer than a signed 32-bit number of seconds.
MAX_WAIT_SECONDS = 2**31 - 1


@dataclass(frozen=True, slots=True, kw_only=True)
class PassNode(StateNode):
    type_name = "Pass"
    result: Any = None
    has_result: bool = False
    trivial: bool = False
    """No field changes the data: the output is the input (the common Pass)."""

    def execute(self, frame: Frame, value: Any) -> tuple[Any, str | None]:
        if self.trivial:
            frame.exit(self, value)
            return value, self.next
        return self.run_stages(frame, value, 0)

    def work(self, frame: Frame, effective: Any, arguments: Any, states: dict[str, Any] | None,
             attempt: int) -> Any:
        # Result is the state's result unless Parameters are given (they win, as on AWS).
        return self.result if self.has_result and self.parameters is None else arguments


@Compiler.register("Pass")
def _build_pass(site: StateSite) -> PassNode:
    fields = common_fields(site)
    spec = site.spec
    if not site.jsonata:
        where = site.path
        if "Parameters" in spec:
            fields["parameters"] = template(spec["Parameters"], where, "Parameters")
        if "Result" in spec:
            fields["result"] = spec["Result"]
            fields["has_result"] = True
        fields["result_path"] = result_path(spec, where)
    node = PassNode(**fields)
    trivial = (node.assign is None and node.output is None and node.parameters is None and not node.has_result
               and node.input_path is IDENTITY and node.output_path is IDENTITY
               and node.result_path is RESULT_PATH_DEFAULT)
    return dataclasses.replace(node, trivial=True) if trivial else node


@dataclass(frozen=True, slots=True, kw_only=True)
class SucceedNode(StateNode):
    type_name = "Succeed"


@Compiler.register("Succeed")
def _build_succeed(site: StateSite) -> SucceedNode:
    fields = common_fields(site)
    fields["next"] = None
    return SucceedNode(**fields)


@dataclass(frozen=True, slots=True, kw_only=True)
class FailNode(StateNode):
    type_name = "Fail"
    error: Any = None
    cause: Any = None
    error_path: Any = None
    cause_path: Any = None

    def execute(self, frame: Frame, value: Any) -> tuple[Any, str | None]:
        if self.jsonata:
            states = frame.states_binding(value)
            error = self._jsonata(self.error, frame, states)
            cause = self._jsonata(self.cause, frame, states)
        else:
            error = self._jsonpath(self.error, self.error_path, frame, value)
            cause = self._jsonpath(self.cause, self.cause_path, frame, value)
        # state= marks the failure as the user's own, not an interpreter error to prefix.
        raise StatesError(error, cause, state=self.name)

    @staticmethod
    def _jsonata(value: Any, frame: Frame, states: dict[str, Any]) -> Any:
        if isinstance(value, JsonataTemplate):
            return value.evaluate(states, frame.variables.flat(), new_uuid=frame.run.new_uuid)
        return value

    @staticmethod
    def _jsonpath(literal: Any, path: Any, frame: Frame, value: Any) -> Any:
        if path is None:
            return literal
        result = path(frame.sources(value))
        return result if isinstance(result, str) else compact_json(result)


@Compiler.register("Fail")
def _build_fail(site: StateSite) -> FailNode:
    fields = common_fields(site)
    spec, jsonata = site.spec, site.jsonata
    fields["next"] = None
    fields.pop("assign", None)
    if jsonata:
        for key in ("Error", "Cause"):
            if key in spec:
                fields[key.lower()] = (compile_jsonata_template(spec[key], field=key)
                                       if is_jsonata(spec[key]) else spec[key])
        return FailNode(**fields)
    fields["error"] = spec.get("Error")
    fields["cause"] = spec.get("Cause")
    for key in ("ErrorPath", "CausePath"):
        if key in spec:
            try:
                fields[key[:-4].lower() + "_path"] = compile_expression(spec[key], key)
            except DefinitionError as exc:
                raise DefinitionError(f"{site.path}.{key}: {exc}") from exc
    return FailNode(**fields)


_ISO_OFFSET = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})$"
)


def parse_timestamp(text: Any) -> datetime | None:
    """An ISO-8601 extended offset date-time (``2016-03-14T01:59:00Z``), or None when not one."""
    if not isinstance(text, str):
        return None
    match = _ISO_OFFSET.match(text)
    if not match:
        return None
    normalised = text[:-1] + "+00:00" if text.endswith("Z") else text
    fraction = match.group(7)
    if fraction and len(fraction) > 7:
        normalised = normalised.replace(fraction, fraction[:7])
    try:
        moment = datetime.fromisoformat(normalised)
    except ValueError:
        return None
    return moment.astimezone(UTC)


@dataclass(frozen=True, slots=True, kw_only=True)
class WaitNode(StateNode):
    type_name = "Wait"
    blocking = True
    seconds: NumberField | None = None
    """Seconds or SecondsPath."""
    timestamp: Any = None
    timestamp_path: CompiledPath | None = None

    def work(self, frame: Frame, effective: Any, arguments: Any, states: dict[str, Any] | None,
             attempt: int) -> Any:
        if self.seconds is not None:
            delay = float(self.seconds.resolve(frame, effective, states))
        else:
            delay = self._jsonata_delay(frame, states) if states is not None else self._jsonpath_delay(frame, effective)
        if delay > MAX_WAIT_SECONDS:
            raise StatesError(RUNTIME, "Wait state delay is too long.")
        # A resumed execution re-enters the Wait with its original entered time: only the rest remains.
        delay -= max(0.0, (frame.run.clock.now() - as_datetime(frame.entered_time)).total_seconds())
        if delay > 0:
            frame.run.history.checkpoint()
            frame.sleep(delay)
        return arguments

    def _until(self, frame: Frame, moment: datetime) -> float:
        return (moment - frame.run.clock.now()).total_seconds()

    def _jsonpath_delay(self, frame: Frame, effective: Any) -> float:
        if self.timestamp is not None:
            return self._until(frame, self.timestamp)
        path = self.timestamp_path
        assert path is not None
        try:
            found = path.resolve(frame.sources(effective))
        except PathNotFound as exc:
            raise StatesError(RUNTIME, f"Invalid path '{path.text}' : {exc.message}") from None
        moment = parse_timestamp(found)
        if moment is None:
            raise StatesError(
                RUNTIME,
                "The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time "
                f"format string: {path.text} == {found if isinstance(found, str) else compact_json(found)}",
            )
        return self._until(frame, moment)

    def _jsonata_delay(self, frame: Frame, states: dict[str, Any]) -> float:
        variables = frame.variables.flat()
        stamp = (self.timestamp.evaluate(states, variables, new_uuid=frame.run.new_uuid)
                 if isinstance(self.timestamp, JsonataTemplate) else self.timestamp)
        moment = stamp if isinstance(stamp, datetime) else parse_timestamp(stamp)
        if moment is None:
            raise StatesError(
                QUERY_EVALUATION_ERROR,
                f"The Timestamp field cannot be parsed as an ISO-8601 extended offset date-time format string: {stamp}",
                field="Timestamp",
            )
        return self._until(frame, moment)


@Compiler.register("Wait")
def _build_wait(site: StateSite) -> WaitNode:
    fields = common_fields(site)
    spec, where, jsonata = site.spec, site.path, site.jsonata
    fields["seconds"] = number_field(spec, "Seconds", where, jsonata, float, style="wait")
    if jsonata:
        if "Timestamp" in spec:
            fields["timestamp"] = (compile_jsonata_template(spec["Timestamp"], field="Timestamp")
                                   if is_jsonata(spec["Timestamp"]) else spec["Timestamp"])
        return WaitNode(**fields)
    if fields["seconds"] is None:
        if "Timestamp" in spec:
            moment = parse_timestamp(spec["Timestamp"])
            if moment is None:
                raise DefinitionError(f"{where}.Timestamp: not an ISO-8601 timestamp: {spec['Timestamp']!r}")
            fields["timestamp"] = moment
        elif "TimestampPath" in spec:
            fields["timestamp_path"] = optional_path(spec["TimestampPath"], where, "TimestampPath")
        else:
            raise DefinitionError(f"{where}: a Wait state needs Seconds, Timestamp, SecondsPath or TimestampPath")
    return WaitNode(**fields)
