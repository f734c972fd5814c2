"""Retry and Catch (states-language.net "Error Handling"), for Task, Parallel and Map.

* The first retrier whose ``ErrorEquals`` matches applies; each retrier counts its own attempts. The
  delay before retry n (0-based) is ``IntervalSeconds * BackoffRate ** n``, capped by ``MaxDelaySeconds``;
  ``JitterStrategy: FULL`` picks uniformly in ``[0, delay]``.
* Catchers are consulted only once no retrier applies any more.
* ``States.ALL`` matches every error except ``States.Runtime``, which AWS makes terminal (a Catch that
  names it does not catch it either); ``States.TaskFailed`` matches everything but ``States.Timeout``.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from stepfn.asl.jsonata import JsonataTemplate, compile_jsonata_template
from stepfn.asl.paths import RESULT_PATH_DEFAULT, Template, apply_result_path
from stepfn.engine.definition import StateNode, evaluate_assign, result_path, template
from stepfn.engine.runtime import Frame
from stepfn.errors import StatesError

__all__ = ["Catcher", "Retriable", "Retrier", "RetryingNode", "compile_catchers", "compile_retriers", "matches",
           "retrying_fields", "run_with_retry"]

RUNTIME = "States.Runtime"


class Retriable(StatesError):
    """TestState only: the error a retrier would retry."""


def matches(error_equals: tuple[str, ...], error: str | None) -> bool:
    if error == RUNTIME:
        return False
    if error is not None and error in error_equals:
        return True
    if "States.ALL" in error_equals:
        return True
    return "States.TaskFailed" in error_equals and error != "States.Timeout"


@dataclass(frozen=True, slots=True)
class Retrier:
    error_equals: tuple[str, ...]
    interval_seconds: float = 1.0
    max_attempts: int = 3
    backoff_rate: float = 2.0
    max_delay_seconds: float | None = None
    jitter: bool = False

    def delay(self, attempt: int) -> float:
        delay = self.interval_seconds * self.backoff_rate ** attempt
        if self.max_delay_seconds is not None:
            delay = min(delay, self.max_delay_seconds)
        if self.jitter:
            delay = random.uniform(0, delay)
        return delay


@dataclass(frozen=True, slots=True)
class Catcher:
    error_equals: tuple[str, ...]
    next: str
    result_path: Any = RESULT_PATH_DEFAULT
    assign: Template | JsonataTemplate | None = None
    output: JsonataTemplate | None = None

    def apply(self, frame: Frame, raw_input: Any, error: StatesError, jsonata: bool) -> tuple[Any, dict[str, Any] | None]:
        """The state's output when this catcher takes the error, and the variables it assigns."""
        error_output: dict[str, Any] = {"Error": error.error}
        if error.cause is not None:
            error_output["Cause"] = error.cause
        if jsonata:
            states = frame.states_binding(raw_input, errorOutput=error_output)
            assigned = evaluate_assign(self.assign, frame, raw_input, states) if self.assign else None
            output = (self.output.evaluate(states, frame.variables.flat(), new_uuid=frame.run.new_uuid)
                      if self.output is not None else error_output)
            return output, assigned
        assigned = evaluate_assign(self.assign, frame, error_output, None) if self.assign else None
        return apply_result_path(raw_input, error_output, self.result_path), assigned


def compile_retriers(spec: dict[str, Any]) -> tuple[Retrier, ...]:
    out = []
    for item in spec.get("Retry") or []:
        out.append(Retrier(
            tuple(item["ErrorEquals"]),
            float(item.get("IntervalSeconds", 1)),
            int(item.get("MaxAttempts", 3)),
            float(item.get("BackoffRate", 2.0)),
            float(item["MaxDelaySeconds"]) if "MaxDelaySeconds" in item else None,
            item.get("JitterStrategy", "NONE") == "FULL",
        ))
    return tuple(out)


def compile_catchers(spec: dict[str, Any], where: str, jsonata: bool) -> tuple[Catcher, ...]:
    out = []
    for i, item in enumerate(spec.get("Catch") or []):
        at = f"{where}.Catch[{i}]"
        if jsonata:
            out.append(Catcher(
                tuple(item["ErrorEquals"]), item["Next"],
                assign=compile_jsonata_template(item["Assign"], field="Assign") if "Assign" in item else None,
                output=compile_jsonata_template(item["Output"], field="Output") if "Output" in item else None,
            ))
        else:
            out.append(Catcher(
                tuple(item["ErrorEquals"]), item["Next"], result_path(item, at),
                assign=template(item["Assign"], at, "Assign") if "Assign" in item else None,
            ))
    return tuple(out)


def run_with_retry(frame: Frame, node: StateNode, value: Any, retriers: tuple[Retrier, ...],
                   catchers: tuple[Catcher, ...], attempt: Callable[[int], tuple[Any, str | None]]) -> tuple[Any, str | None]:
    """Run ``attempt(n)`` until it succeeds, a retrier gives up, or a catcher takes the error."""
    counts = [0] * len(retriers)
    number = 0
    while True:
        try:
            return attempt(number)
        except StatesError as exc:
            failure = frame.failure(node, exc)
            chosen = next((i for i, r in enumerate(retriers) if matches(r.error_equals, failure.error)), None)
            if chosen is not None and counts[chosen] < retriers[chosen].max_attempts:
                delay = retriers[chosen].delay(counts[chosen])
                if frame.inspect is not None:
                    # TestState reports that the error would be retried instead of retrying.
                    frame.inspect["errorDetails"] = {"retryIndex": chosen, "retryBackoffIntervalSeconds": int(delay)}
                    raise Retriable(failure.error, failure.cause, state=node.name) from None
                counts[chosen] += 1
                number += 1
                frame.run.history.checkpoint()
                frame.sleep(delay)
                frame.retry_count = number
                continue
            if node.failed_event and failure.error != RUNTIME:
                frame.emit(node.failed_event)
            index, catcher = next(((i, c) for i, c in enumerate(catchers) if matches(c.error_equals, failure.error)),
                                  (None, None))
            if frame.inspect is not None and index is not None:
                frame.inspect["errorDetails"] = {"catchIndex": index}
                frame.inspect["caughtError"] = (failure.error, failure.cause)
            if catcher is None:
                if failure is exc:
                    raise
                raise failure from None
            output, assigned = catcher.apply(frame, value, failure, node.jsonata)
            return node.finish(frame, output, assigned, catcher.next)


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryingNode(StateNode):
    """Task, Parallel and Map: states whose work has a result, run once per attempt under Retry/Catch."""

    retriers: tuple[Retrier, ...] = ()
    catchers: tuple[Catcher, ...] = ()

    retriable = True
    binds_result = True

    def execute(self, frame: Frame, value: Any) -> tuple[Any, str | None]:
        return run_with_retry(frame, self, value, self.retriers, self.catchers,
                              lambda attempt: self.run_stages(frame, value, attempt))


def retrying_fields(spec: dict[str, Any], where: str, jsonata: bool, *, arguments: bool = True) -> dict[str, Any]:
    """Parameters/Arguments (when ``arguments``), ResultSelector, ResultPath, Retry and Catch of ``spec``."""
    fields: dict[str, Any] = {"retriers": compile_retriers(spec),
                              "catchers": compile_catchers(spec, where, jsonata)}
    if jsonata:
        if arguments and "Arguments" in spec:
            fields["parameters"] = compile_jsonata_template(spec["Arguments"], field="Arguments")
        return fields
    if arguments and "Parameters" in spec:
        fields["parameters"] = template(spec["Parameters"], where, "Parameters")
    if "ResultSelector" in spec:
        fields["result_selector"] = template(spec["ResultSelector"], where, "ResultSelector")
    fields["result_path"] = result_path(spec, where)
    return fields
