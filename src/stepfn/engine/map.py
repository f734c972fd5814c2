"""The Map state, inline and distributed (states-language.net "Map State"; AWS guide "Distributed Map").

Inline: every iteration is recorded in the execution's history (``MapIterationStarted`` ...).
Distributed: iterations are child workflow executions whose events stay out of the parent history
(``MapRunStarted`` / ``MapRunSucceeded``); items may come from an ItemReader (``s3:getObject`` as JSON,
JSONL, CSV or manifest; ``s3:listObjectsV2``) through the same handlers Task states use, be grouped by an
ItemBatcher, and results go to a ResultWriter (``s3:putObject``). ToleratedFailureCount/Percentage decide
when failed iterations fail the Map (``States.ExceedToleratedFailureThreshold``).

Each distributed run is a :class:`MapRun`. When the execution's journal is also a :class:`MapRunObserver`
(the local client's is), the engine reports the run's start and end to it and records every child
execution's own history (``ExecutionStarted`` ... ``ExecutionSucceeded``) in the journal it gives for
that child: that is what DescribeMapRun, ListMapRuns and ListExecutions(mapRunArn=...) read. The run's
MaxConcurrency and tolerated failures may change while it runs (:meth:`MapRun.update`, UpdateMapRun):
a new MaxConcurrency holds for the child executions not yet started, the tolerance for the outcome.
Redriving the parent redrives the same Map Run (``MapRunRedriven``; AWS guide, "Redriving Map Runs"): the
children that succeeded keep their outputs, the others are redriven under their own ARNs, and the items
never reached get their first child; the results are in item order as before. A Map Run that had
succeeded (the parent failed after it) is replayed as recorded: none of its children runs again.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from stepfn.asl.definition import StateSite, nested_machines
from stepfn.asl.jsonata import JsonataTemplate, compile_jsonata_template, is_jsonata
from stepfn.asl.paths import CompiledPath, PathNotFound, Template, compact_json
from stepfn.engine.definition import (
    Compiler,
    Graph,
    NumberField,
    common_fields,
    compile_graph,
    number_field,
    optional_path,
    template,
)
from stepfn.engine.history import NOT_REPLAYED, History, Journal, Payload
from stepfn.engine.parallel import run_all, run_branch_graph
from stepfn.engine.protocol import TaskRequest
from stepfn.engine.retry import RetryingNode, retrying_fields
from stepfn.engine.runtime import Aborted, AbortScope, Frame, Halt, Variables, format_timestamp
from stepfn.engine.task import _Control, _invoke, _Waiter, find_handler
from stepfn.errors import StatesError

__all__ = ["EarlierMapRun", "MapNode", "MapRun", "MapRunObserver", "PriorChild"]

RUNTIME = "States.Runtime"
QUERY_EVALUATION_ERROR = "States.QueryEvaluationError"
ITEM_READER_FAILED = "States.ItemReaderFailed"
INLINE_MAX_CONCURRENCY = 40


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


class MapRun:
    """One run of a distributed Map state: identity, totals, settings, and how it ended.

    ``max_concurrency`` 0 means no limit; ``tolerated_*`` None means none was given (the first failed child
    fails the run with its own error). :meth:`update` may be called from any thread while it runs."""

    def __init__(self, arn: str, *, execution_arn: str, state_machine_arn: str, label: str, start_date: datetime,
                 max_concurrency: int, tolerated_count: int | None, tolerated_percentage: float | None) -> None:
        self.arn = arn
        self.execution_arn = execution_arn
        self.state_machine_arn = state_machine_arn
        self.label = label
        self.start_date = start_date
        self.max_concurrency = max_concurrency
        self.tolerated_count = tolerated_count
        self.tolerated_percentage = tolerated_percentage
        self.item_total = 0
        self.execution_total = 0
        self.status = "RUNNING"
        self.stop_date: datetime | None = None
        self.error: str | None = None
        self.cause: str | None = None
        self.results_written = False
        # Which attempt this is (the record's redriveCount when it started): an attempt that was stopped may end
        # after its parent was redriven, and must not write its end over the newer attempt's.
        self.redrive_count = 0
        self._slots = threading.Condition()
        self._running = 0
        self._admitted = 0

    def update(self, *, max_concurrency: int | None = None, tolerated_count: int | None = None,
               tolerated_percentage: float | None = None) -> None:
        with self._slots:
            if max_concurrency is not None:
                self.max_concurrency = max_concurrency
            if tolerated_count is not None:
                self.tolerated_count = tolerated_count
            if tolerated_percentage is not None:
                self.tolerated_percentage = tolerated_percentage
            self._slots.notify_all()

    def acquire(self, index: int, cancel: threading.Event, scope: AbortScope,
                admit: Callable[[], None] | None = None) -> None:
        """Wait until child ``index`` may start: children start in item order, at most MaxConcurrency at a
        time (Halt/Aborted when the run must stop instead). ``admit`` runs while no other child can be
        admitted: what it records is in item order (a redrive finds each item's child by that order)."""
        with self._slots:
            while True:
                if cancel.is_set():
                    raise Halt()
                if scope.aborted():
                    raise Aborted()
                if index == self._admitted and not (self.max_concurrency and self._running >= self.max_concurrency):
                    break
                self._slots.wait(0.05)
            if admit is not None:
                admit()
            self._admitted += 1
            self._running += 1
            self._slots.notify_all()

    def release(self) -> None:
        with self._slots:
            self._running -= 1
            self._slots.notify_all()

    def tolerated(self, failed: int) -> bool:
        """True when ``failed`` failed children are within the tolerance."""
        count, percentage = self.tolerated_count, self.tolerated_percentage
        if count is None and percentage is None:
            return failed == 0
        if count is not None and failed <= count:
            return True
        total = self.execution_total
        return percentage is not None and total > 0 and failed * 100.0 / total <= percentage

    def finish(self, status: str, stop_date: datetime, error: str | None = None, cause: str | None = None) -> None:
        self.status, self.stop_date, self.error, self.cause = status, stop_date, error, cause


@dataclass(frozen=True, slots=True)
class PriorChild:
    """A child execution an earlier attempt of a redriven Map Run started (in item order)."""

    execution_arn: str
    name: str
    status: str
    start_date: datetime
    output: Any


@dataclass(frozen=True, slots=True)
class EarlierMapRun:
    """The Map Run an earlier attempt of the parent started, met again when the parent is redriven.

    ``redriven``: it had not succeeded and is now redriven (``redrive_count`` includes this redrive); False:
    it succeeded (the parent failed after the Map, or in a later iteration) and is replayed, unchanged."""

    redrive_count: int
    children: list[PriorChild]
    redriven: bool


class MapRunObserver(Protocol):
    """What a journal offers to have an execution's Map Runs recorded (see the module docstring)."""

    def map_run_started(self, map_run: MapRun) -> None: ...

    def map_run_child(self, map_run: MapRun, *, execution_arn: str, name: str, state_machine_arn: str,
                      definition: str, input: Any, item_count: int, start_date: datetime,
                      role_arn: str | None) -> Journal | None:
        """Record a child execution about to start; returns the journal of its history (or None)."""
        ...

    def map_run_finished(self, map_run: MapRun) -> None: ...

    def map_run_redriven(self, map_run: MapRun, redrive_date: datetime) -> EarlierMapRun | None:
        """The Map Run ``map_run.arn`` of an earlier attempt, reopened when it had not succeeded; None when it
        is neither redrivable nor succeeded (it was running: the parent is being resumed)."""
        ...

    def map_run_child_redriven(self, map_run: MapRun, *, execution_arn: str,
                               redrive_date: datetime) -> Journal | None:
        """Reopen an unsuccessful child for its redrive; returns the journal of its history."""
        ...


def _observer(history: Any) -> MapRunObserver | None:
    journal = getattr(history, "journal", None)
    return journal if hasattr(journal, "map_run_started") else None


@dataclass(frozen=True, slots=True)
class ItemReader:
    resource: str
    service: str
    action: str
    parameters: Template | JsonataTemplate | None
    input_type: str | None
    csv_header_location: str
    csv_headers: tuple[str, ...] | None
    csv_delimiter: str
    max_items: NumberField | None


@dataclass(frozen=True, slots=True)
class ItemBatcher:
    max_items: NumberField | None
    max_bytes: NumberField | None
    batch_input: Template | JsonataTemplate | None


@dataclass(frozen=True, slots=True, kw_only=True)
class MapNode(RetryingNode):
    type_name = "Map"
    failed_event = "MapStateFailed"
    processor: Graph | None = None
    distributed: bool = False
    items_path: CompiledPath | None = None
    items: Any = None
    item_selector: Template | JsonataTemplate | None = None
    max_concurrency: NumberField | None = None
    tolerated_count: NumberField | None = None
    tolerated_percentage: NumberField | None = None
    item_reader: ItemReader | None = None
    batcher: ItemBatcher | None = None
    result_writer: dict[str, Any] | None = None
    label: str | None = None
    blocking: bool = False
    processor_definition: str = "{}"
    """The ItemProcessor as a state machine definition: what a distributed Map's child executions run."""

    def work(self, frame: Frame, effective: Any, arguments: Any, states: dict[str, Any] | None,
             attempt: int) -> Any:
        items = None if self.item_reader is not None else self._items(frame, effective, states)
        max_concurrency = _resolve(self.max_concurrency, frame, effective, states) or 0
        frame.emit("MapStateStarted", {"length": len(items) if items is not None else 0})
        tolerated_count = _resolve(self.tolerated_count, frame, effective, states)
        tolerated_percentage = _resolve(self.tolerated_percentage, frame, effective, states)
        if tolerated_count is not None and tolerated_count < 0:
            raise StatesError(RUNTIME, "ToleratedFailureCount cannot be negative.")
        if tolerated_percentage is not None and not 0 <= tolerated_percentage <= 100:
            raise StatesError(RUNTIME, "ToleratedFailurePercentage must be between 0 and 100.")
        if self.distributed:
            results = self._run_distributed(frame, effective, states, items, max_concurrency, tolerated_count,
                                            tolerated_percentage)
        else:
            assert items is not None
            results = self._run_inline(frame, effective, states, items, max_concurrency)
        frame.emit("MapStateSucceeded")
        return results

    def _items(self, frame: Frame, effective: Any, states: dict[str, Any] | None) -> list[Any]:
        if self.jsonata:
            if isinstance(self.items, JsonataTemplate):
                assert states is not None
                items = self.items.evaluate(states, frame.variables.flat(), new_uuid=frame.run.new_uuid)
                if not isinstance(items, list):
                    expression = self.items.value[2:-2].strip()
                    raise StatesError(
                        QUERY_EVALUATION_ERROR,
                        f"The JSONata expression '{expression}' specified for the field 'Items' returned an "
                        f"unexpected result type. Expected 'array', but was '{_type_name(items)}' for value: "
                        f"{compact_json(items)}",
                        field="Items")
                return items
            if self.items is not None:
                return list(self.items)
            if not isinstance(effective, list):
                raise StatesError(QUERY_EVALUATION_ERROR,
                                  f"Map state input must be an array but was: {compact_json(effective)}",
                                  field="Items")
            return effective
        if self.items_path is None:
            items = effective
        else:
            try:
                items = self.items_path.resolve(frame.sources(effective))
            except PathNotFound as exc:
                raise StatesError(RUNTIME, f"Invalid path '{self.items_path.text}' : {exc.message}") from None
        if not isinstance(items, list):
            raise StatesError(RUNTIME, f"Map state input must be an array but was: {compact_json(items)}",
                              field="ItemsPath")
        return items

    def _item_input(self, frame: Frame, effective: Any, states: dict[str, Any] | None, index: int, item: Any) -> Any:
        if self.item_selector is None:
            return item
        frame.map_item = {"Index": index, "Value": item}
        try:
            if isinstance(self.item_selector, JsonataTemplate):
                binding = frame.states_binding(effective)
                return self.item_selector.evaluate(binding, frame.variables.flat(), new_uuid=frame.run.new_uuid)
            return self.item_selector.evaluate(frame.sources(effective))
        finally:
            frame.map_item = None

    # ----------------------------------------------------------------------------------- inline
    def _run_inline(self, frame: Frame, effective: Any, states: dict[str, Any] | None, items: list[Any],
                    max_concurrency: int) -> list[Any]:
        assert self.processor is not None
        processor = self.processor
        inputs = [self._item_input(frame, effective, states, i, item) for i, item in enumerate(items)]
        start_event = frame.last_event
        name = self.name

        def iteration(i: int, group: AbortScope) -> Any:
            scope = Variables(frame.variables) if processor.assigns else frame.variables
            child = Frame(frame.run, scope, start_event, group)
            child.emit("MapIterationStarted", {"name": name, "index": i})
            try:
                output = run_branch_graph(child, processor, inputs[i])
            except StatesError:
                child.emit("MapIterationFailed", {"name": name, "index": i})
                raise
            except Aborted:
                child.emit("MapIterationAborted", {"name": name, "index": i})
                raise
            child.emit("MapIterationSucceeded", {"name": name, "index": i})
            return output

        limit = INLINE_MAX_CONCURRENCY if max_concurrency == 0 else min(max_concurrency, INLINE_MAX_CONCURRENCY)
        try:
            return run_all(len(items), iteration, blocking=self.blocking, max_concurrency=limit,
                           history=frame.run.history, parent=frame.scope)
        except StatesError as exc:
            raise StatesError(exc.error, exc.cause, state=exc.state or self.name) from None

    # ----------------------------------------------------------------------------------- distributed
    def _run_distributed(self, frame: Frame, effective: Any, states: dict[str, Any] | None,
                         items: list[Any] | None, max_concurrency: int, tolerated_count: int | None,
                         tolerated_percentage: float | None) -> Any:
        run = frame.run
        label = self.label or self.name
        machine = run.state_machine_context["Name"]
        if self.item_reader is not None:
            items = self._read_items(frame, effective, states)
        observer = _observer(run.history)
        # A redriven parent redrives the Map Run its earlier attempt started (AWS guide, "Redriving Map Runs").
        earlier = next((event["mapRunStartedEventDetails"]["mapRunArn"] for event in
                        run.history.children(frame.last_event) if event["type"] == "MapRunStarted"), None)
        assert items is not None
        map_run = MapRun(earlier or "", execution_arn=run.execution_arn, state_machine_arn=run.state_machine_arn,
                         label=label, start_date=run.clock.now(), max_concurrency=max_concurrency,
                         tolerated_count=tolerated_count, tolerated_percentage=tolerated_percentage)
        map_run.item_total = len(items)
        redriven: EarlierMapRun | None = None
        if earlier is not None and observer is not None and hasattr(observer, "map_run_redriven"):
            redriven = observer.map_run_redriven(map_run, run.clock.now())
            if redriven is not None:
                map_run.redrive_count = redriven.redrive_count
        # A Map Run that succeeded before is replayed as it was: its row stays as it is.
        observed = observer if redriven is None or redriven.redriven else None
        if redriven is None:
            # A first run, or an earlier one that cannot be redriven (still RUNNING: the parent is resumed
            # after its process died; or no store recorded its children): a new Map Run.
            map_run.arn = (f"arn:{run.partition}:states:{run.region}:{run.account}:mapRun:"
                           f"{machine}/{label}:{run.new_uuid()}")
        frame.emit("MapRunStarted", {"mapRunArn": map_run.arn})
        if redriven is not None and redriven.redriven:
            frame.emit("MapRunRedriven", {"mapRunArn": map_run.arn, "redriveCount": redriven.redrive_count})
        try:
            inputs = self._batches(frame, effective, states, items)
        except StatesError as exc:
            frame.emit("MapRunFailed", {"error": exc.error, "cause": exc.cause})
            map_run.finish("FAILED", run.clock.now(), exc.error, exc.cause)
            if observed is not None:
                if redriven is None:
                    observed.map_run_started(map_run)
                observed.map_run_finished(map_run)
            raise
        map_run.execution_total = len(inputs)
        if observer is not None and redriven is None:
            observer.map_run_started(map_run)
        try:
            return self._run_children(frame, map_run, inputs, observer, redriven.children if redriven else [])
        finally:
            if map_run.status == "RUNNING":  # stopped, or a sibling of an enclosing iteration failed
                map_run.finish("ABORTED", run.clock.now())
            if observed is not None:
                observed.map_run_finished(map_run)

    def _run_children(self, frame: Frame, map_run: MapRun, inputs: list[Any],
                      observer: MapRunObserver | None, earlier: list[PriorChild]) -> Any:
        """One child execution per input (item or batch); then the run's outcome and the ResultWriter.

        ``earlier``: on a redrive, the children of the earlier attempts in item order. A child that succeeded
        keeps its output and is not run again; one that did not is redriven under its own ARN (its history
        gets ``ExecutionRedriven`` and the work it did not finish); items never reached get new children."""
        assert self.processor is not None
        run = frame.run
        processor = self.processor
        failures: list[StatesError] = []
        records: list[dict[str, Any]] = [{} for _ in inputs]
        lock = threading.Lock()
        prefix = f"arn:{run.partition}:states:{run.region}:{run.account}"
        machine_label = f"{run.state_machine_context['Name']}/{map_run.label}"
        child_machine = f"{prefix}:stateMachine:{machine_label}"

        def child_execution(i: int, group: AbortScope) -> Any:
            begun: list[tuple[str, str, datetime, History]] = []
            map_run.acquire(i, run.cancel, group, admit=lambda: begun.append(begin(i)))
            try:
                return one_child(i, group, *begun[0])
            finally:
                map_run.release()

        def begin(i: int) -> tuple[str, str, datetime, History]:
            """The child's name, ARN, start and history: recorded in the store (in item order) as it starts."""
            if i < len(earlier):
                prior = earlier[i]
                if prior.status == "SUCCEEDED":
                    return prior.execution_arn, prior.name, prior.start_date, History(run.clock)
                journal = None
                if observer is not None:
                    journal = observer.map_run_child_redriven(map_run, execution_arn=prior.execution_arn,
                                                              redrive_date=run.clock.now())
                events = journal.events() if journal is not None else []
                before = int(events[-1]["id"]) + 1 if events else 0
                history = History(run.clock, journal, events, unmatchable=NOT_REPLAYED,
                                  redriven_before=before)
                return prior.execution_arn, prior.name, prior.start_date, history
            name = run.new_uuid()
            arn = f"{prefix}:execution:{machine_label}:{name}"
            start = run.clock.now()
            if observer is not None:
                items = len(inputs[i]["Items"]) if self.batcher is not None else 1
                journal = observer.map_run_child(
                    map_run, execution_arn=arn, name=name, state_machine_arn=child_machine,
                    definition=self.processor_definition, input=inputs[i], item_count=items, start_date=start,
                    role_arn=run.role_arn)
                return arn, name, start, History(run.clock, journal)
            return arn, name, start, History(run.clock)

        def one_child(i: int, group: AbortScope, arn: str, name: str, start: datetime, history: History) -> Any:
            record = records[i]
            record.update(ExecutionArn=arn, Name=name, Input=inputs[i], StartDate=format_timestamp(start))
            if i < len(earlier) and earlier[i].status == "SUCCEEDED":
                # Succeeded in an earlier attempt: a redrive keeps its result and does not run it again.
                record.update(Status="SUCCEEDED", Output=earlier[i].output, StopDate=format_timestamp(start))
                return earlier[i].output
            child_run = dataclasses.replace(run, history=history, execution_arn=arn, name=name, input=inputs[i])
            child = Frame(child_run, Variables(frame.variables), 0, group)
            if history.prior:
                # A redriven child: its earlier events stay; the states replay along their recorded chain.
                started = int(history.prior[0]["id"])
                child.last_event = int(history.prior[-1]["id"])
                redrives = sum(1 for event in history.prior if event["type"] == "ExecutionRedriven") + 1
                child.emit("ExecutionRedriven", {"redriveCount": redrives})
                child.last_event = started
            else:
                child.emit("ExecutionStarted", {"input": Payload(inputs[i]), "roleArn": run.role_arn})
            try:
                output = run_branch_graph(child, processor, inputs[i])
                run.check()  # a task that returned after the execution was stopped does not succeed it
                record.update(Status="SUCCEEDED", Output=output)
                child.emit("ExecutionSucceeded", {"output": Payload(output)})
                return output
            except StatesError as exc:
                with lock:
                    failures.append(exc)
                    over = not map_run.tolerated(len(failures))
                record.update(Status="FAILED", Error=exc.error, Cause=exc.cause)
                child.emit("ExecutionFailed", {"error": exc.error, "cause": exc.cause})
                if over:
                    # Past the tolerance the run has failed: AWS stops the running children and starts no more.
                    group.abort()
                return {"Error": exc.error, **({"Cause": exc.cause} if exc.cause is not None else {})}
            except (Aborted, Halt):
                child.emit("ExecutionAborted")
                raise
            finally:
                record["StopDate"] = format_timestamp(run.clock.now())
                history.close()

        # With an observer, UpdateMapRun may raise MaxConcurrency mid-run: a full pool, gated by the run.
        pool = 0 if observer is not None else map_run.max_concurrency
        results = run_all(len(inputs), child_execution, blocking=self.blocking, max_concurrency=pool,
                          history=run.history, parent=frame.scope)
        failed = len(failures)
        if failed and not map_run.tolerated(failed):
            if map_run.tolerated_count is None and map_run.tolerated_percentage is None:
                error = failures[0]
                frame.emit("MapRunFailed", {"error": error.error, "cause": error.cause})
                map_run.finish("FAILED", run.clock.now(), error.error, error.cause)
                raise StatesError(error.error, error.cause, state=error.state or self.name)
            cause = "The specified tolerance threshold was exceeded"
            frame.emit("MapRunFailed", {"error": "States.ExceedToleratedFailureThreshold", "cause": cause})
            map_run.finish("FAILED", run.clock.now(), "States.ExceedToleratedFailureThreshold", cause)
            raise StatesError("States.ExceedToleratedFailureThreshold", cause, state=self.name)
        frame.emit("MapRunSucceeded")
        map_run.finish("SUCCEEDED", run.clock.now())
        if self.result_writer is None:
            return results
        output = self._write_results(frame, map_run.arn, records)
        map_run.results_written = True
        return output

    def _batches(self, frame: Frame, effective: Any, states: dict[str, Any] | None, items: list[Any]) -> list[Any]:
        inputs = [self._item_input(frame, effective, states, i, item) for i, item in enumerate(items)]
        if self.batcher is None:
            return inputs
        max_items = _resolve(self.batcher.max_items, frame, effective, states)
        max_bytes = _resolve(self.batcher.max_bytes, frame, effective, states)
        batch_input = self.batcher.batch_input
        if isinstance(batch_input, (Template, JsonataTemplate)):
            batch_input = (batch_input.evaluate(states or frame.states_binding(effective), frame.variables.flat())
                           if isinstance(batch_input, JsonataTemplate) else batch_input.evaluate(frame.sources(effective)))
        batches: list[Any] = []
        current: list[Any] = []
        size = 0
        for item in inputs:
            item_size = len(compact_json(item).encode())
            if current and ((max_items and len(current) >= max_items) or (max_bytes and size + item_size > max_bytes)):
                batches.append(current)
                current, size = [], 0
            current.append(item)
            size += item_size
        if current:
            batches.append(current)
        out = []
        for batch in batches:
            entry: dict[str, Any] = {"Items": batch}
            if batch_input is not None:
                entry = {"BatchInput": batch_input, "Items": batch}
            out.append(entry)
        return out

    def _call(self, frame: Frame, service: str, action: str, parameters: Any, error: str) -> Any:
        run = frame.run
        handler = find_handler(run.handlers, service, action)
        if handler is None:
            raise StatesError(error, f"No local handler is registered for '{service}:{action}'.")
        request = TaskRequest(resource=f"arn:{run.partition}:states:::{service}:{action}", service=service,
                              action=action, pattern="request_response", parameters=parameters,
                              state_name=self.name, execution_arn=run.execution_arn, context=frame.context())
        try:
            return _invoke(handler, request, _Control(run, _Waiter(run)))
        except StatesError as exc:
            raise StatesError(error, exc.cause or exc.error) from None

    def _read_items(self, frame: Frame, effective: Any, states: dict[str, Any] | None) -> list[Any]:
        reader = self.item_reader
        assert reader is not None
        if isinstance(reader.parameters, JsonataTemplate):
            parameters = reader.parameters.evaluate(states or frame.states_binding(effective), frame.variables.flat())
        elif isinstance(reader.parameters, Template):
            parameters = reader.parameters.evaluate(frame.sources(effective))
        else:
            parameters = {}
        max_items = _resolve(reader.max_items, frame, effective, states)
        if max_items is not None and max_items < 0:
            frame.emit("MapRunStarted", {"mapRunArn": ""})
            raise self._reader_failure(frame, "field MaxItems must be positive")
        response = self._call(frame, reader.service, reader.action, parameters, ITEM_READER_FAILED)
        if reader.action == "listObjectsV2":
            response = self._list_all(frame, reader, parameters, response)
        try:
            items = self._parse_items(frame, reader, parameters, response)
        except StatesError as exc:
            frame.emit("MapRunStarted", {"mapRunArn": ""})
            raise self._reader_failure(frame, exc.cause or "") from None
        if max_items:
            items = items[:max_items]
        return items

    def _list_all(self, frame: Frame, reader: ItemReader, parameters: Any, response: Any) -> Any:
        """Every page of a listing: ListObjectsV2 answers at most 1,000 keys, and AWS's Map reads them all."""
        if not isinstance(response, dict) or not isinstance(parameters, dict):
            return response
        contents = list(response.get("Contents", []))
        while response.get("IsTruncated") and response.get("NextContinuationToken"):
            page_parameters = {**parameters, "ContinuationToken": response["NextContinuationToken"]}
            response = self._call(frame, reader.service, reader.action, page_parameters, ITEM_READER_FAILED)
            if not isinstance(response, dict):
                break
            contents.extend(response.get("Contents", []))
        return {**response, "Contents": contents}

    @staticmethod
    def _reader_failure(frame: Frame, cause: str) -> StatesError:
        frame.emit("MapRunFailed", {"error": ITEM_READER_FAILED, "cause": cause})
        return StatesError(ITEM_READER_FAILED, cause, state=frame.state.name if frame.state else None)

    def _parse_items(self, frame: Frame, reader: ItemReader, parameters: Any, response: Any) -> list[Any]:
        if reader.action == "listObjectsV2":
            contents = response.get("Contents", []) if isinstance(response, dict) else []
            return [{"Etag": obj.get("ETag", obj.get("Etag")), "LastModified": str(obj.get("LastModified")),
                     "Key": obj.get("Key"), "Size": obj.get("Size"), "StorageClass": obj.get("StorageClass")}
                    for obj in contents]
        body = response.get("Body") if isinstance(response, dict) else response
        if isinstance(body, bytes):
            body = body.decode()
        input_type = (reader.input_type or "").upper()
        if input_type == "" :
            # No ReaderConfig: the object's text is the item, as AWS passes the raw content.
            return [body] if not isinstance(body, list) else body
        if input_type == "JSON":
            data = json.loads(body) if isinstance(body, str) else body
            if not isinstance(data, list):
                raise StatesError(ITEM_READER_FAILED, "Attempting to map over non-iterable node.")
            return data
        if input_type == "JSONL":
            return [json.loads(line) for line in str(body).splitlines() if line.strip()]
        if input_type == "CSV":
            rows = list(csv.reader(io.StringIO(str(body)), delimiter=reader.csv_delimiter))
            if reader.csv_header_location == "GIVEN":
                headers = list(reader.csv_headers or ())
            else:
                if not rows:
                    return []
                headers, rows = rows[0], rows[1:]
            if len(set(headers)) != len(headers):
                raise StatesError(ITEM_READER_FAILED, "CSV headers cannot contain duplicates.")
            return [dict(zip(headers, row, strict=False)) for row in rows]
        if input_type == "MANIFEST":
            return self._inventory_items(frame, reader, parameters, body)
        raise StatesError(ITEM_READER_FAILED, f"Unsupported InputType {reader.input_type!r}.")

    def _inventory_items(self, frame: Frame, reader: ItemReader, parameters: Any, body: Any) -> list[Any]:
        """An S3 Inventory ``manifest.json``: one item per object listed in its (uncompressed CSV) data files,
        keyed by the manifest's ``fileSchema``."""
        manifest = json.loads(body) if isinstance(body, str) else body
        if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), list):
            raise StatesError(ITEM_READER_FAILED, "The manifest file is not a valid S3 Inventory manifest.")
        schema = [column.strip() for column in str(manifest.get("fileSchema", "Bucket, Key")).split(",")]
        items: list[Any] = []
        for entry in manifest["files"]:
            key = entry.get("key") if isinstance(entry, dict) else None
            if not isinstance(key, str) or key.endswith(".gz"):
                raise StatesError(ITEM_READER_FAILED, f"Cannot read inventory data file {key!r} (CSV files only).")
            data = self._call(frame, reader.service, reader.action, {**parameters, "Key": key}, ITEM_READER_FAILED)
            text = data.get("Body", "") if isinstance(data, dict) else data
            items.extend(dict(zip(schema, row, strict=False)) for row in csv.reader(io.StringIO(str(text))) if row)
        return items

    def _write_results(self, frame: Frame, map_run_arn: str, records: list[dict[str, Any]]) -> Any:
        """Write the child executions' results as AWS does: ``<Prefix>/<map run id>/manifest.json`` plus
        ``SUCCEEDED_0.json`` / ``FAILED_0.json``, shaped by ``WriterConfig`` (``OutputType`` JSON|JSONL,
        ``Transformation`` NONE: execution records | COMPACT: ExecutionArn, Input, Output/Error/Cause,
        Status | FLATTEN: the outputs alone)."""
        writer = self.result_writer
        assert writer is not None
        parameters = writer.get("Parameters") or writer.get("Arguments") or {}
        config = writer.get("WriterConfig") or {}
        transformation = config.get("Transformation", "NONE")
        jsonl = config.get("OutputType", "JSON") == "JSONL"
        bucket, prefix = parameters.get("Bucket"), parameters.get("Prefix", "")
        run_id = map_run_arn.rsplit(":", 1)[-1]
        key_prefix = f"{prefix.rstrip('/')}/{run_id}" if prefix else run_id
        extension = "jsonl" if jsonl else "json"
        service, _, action = writer["Resource"].split(":::", 1)[-1].partition(":")
        state_machine_arn = frame.run.state_machine_arn
        files: dict[str, list[dict[str, Any]]] = {"FAILED": [], "PENDING": [], "SUCCEEDED": []}
        writes: list[tuple[str, str]] = []
        for status in ("SUCCEEDED", "FAILED"):
            chosen = [r for r in records if r.get("Status") == status]
            if not chosen:
                continue
            entries = [_result_entry(r, transformation, state_machine_arn) for r in chosen]
            body = "\n".join(compact_json(e) for e in entries) if jsonl else compact_json(entries)
            key = f"{key_prefix}/{status}_0.{extension}"
            files[status].append({"Key": key, "Size": len(body.encode())})
            writes.append((key, body))
        manifest = {"DestinationBucket": bucket, "MapRunArn": map_run_arn, "ResultFiles": files}
        writes.insert(0, (f"{key_prefix}/manifest.json", compact_json(manifest)))
        for key, body in writes:
            self._call(frame, service, action, {"Bucket": bucket, "Key": key, "Body": body},
                       "States.ResultWriterFailed")
        return {"MapRunArn": map_run_arn,
                "ResultWriterDetails": {"Bucket": bucket, "Key": f"{key_prefix}/manifest.json"}}


def _result_entry(record: dict[str, Any], transformation: str, state_machine_arn: str) -> Any:
    failed = record.get("Status") == "FAILED"
    if transformation == "FLATTEN":
        return {"Error": record.get("Error"), "Cause": record.get("Cause")} if failed else record.get("Output")
    outcome = ({"Error": record.get("Error"), "Cause": record.get("Cause")} if failed
               else {"Output": compact_json(record.get("Output"))})
    if transformation == "COMPACT":
        return {"ExecutionArn": record["ExecutionArn"], "Input": compact_json(record["Input"]), **outcome,
                "Status": record["Status"]}
    details = {} if failed else {"OutputDetails": {"Included": True}}
    return {"ExecutionArn": record["ExecutionArn"], "Input": compact_json(record["Input"]),
            "InputDetails": {"Included": True}, "Name": record["Name"], **outcome, **details,
            "RedriveCount": 0, "RedriveStatus": "NOT_REDRIVABLE", "StartDate": record["StartDate"],
            "StateMachineArn": state_machine_arn, "Status": record["Status"], "StopDate": record["StopDate"]}


def _resolve(field: NumberField | None, frame: Frame, effective: Any, states: dict[str, Any] | None) -> Any:
    return field.resolve(frame, effective, states) if field is not None else None


@Compiler.register("Map")
def _build_map(site: StateSite) -> MapNode:
    fields = common_fields(site)
    spec, where, jsonata = site.spec, site.path, site.jsonata
    (machine,) = nested_machines(site)
    processor_spec = machine.spec
    config = processor_spec.get("ProcessorConfig") or {}
    processor = compile_graph(machine)
    distributed = config.get("Mode") == "DISTRIBUTED"
    if jsonata:
        if "Items" in spec:
            items = spec["Items"]
            # An array literal may hold expressions too ("Items": ["{% $a %}", 2]).
            fields["items"] = (compile_jsonata_template(items, field="Items") if isinstance(items, list)
                               else compile_jsonata_template(items, field="Items") if is_jsonata(items) else items)
        if "ItemSelector" in spec:
            fields["item_selector"] = compile_jsonata_template(spec["ItemSelector"], field="ItemSelector")
    else:
        if "ItemsPath" in spec:
            fields["items_path"] = optional_path(spec["ItemsPath"], where, "ItemsPath")
        selector = spec.get("ItemSelector", spec.get("Parameters"))
        if selector is not None:
            fields["item_selector"] = template(selector, where, "ItemSelector")
    fields["max_concurrency"] = number_field(spec, "MaxConcurrency", where, jsonata)
    fields["tolerated_count"] = number_field(spec, "ToleratedFailureCount", where, jsonata)
    fields["tolerated_percentage"] = number_field(spec, "ToleratedFailurePercentage", where, jsonata, float)
    reader_spec = spec.get("ItemReader")
    if isinstance(reader_spec, dict):
        reader_config = reader_spec.get("ReaderConfig") or {}
        service_action = reader_spec.get("Resource", "").split(":::", 1)[-1]
        service, _, action = service_action.partition(":")
        raw_parameters = reader_spec.get("Arguments" if jsonata else "Parameters")
        parameters: Template | JsonataTemplate | None = None
        if raw_parameters is not None:
            parameters = (compile_jsonata_template(raw_parameters, field="Arguments") if jsonata
                          else template(raw_parameters, f"{where}.ItemReader", "Parameters"))
        headers = reader_config.get("CSVHeaders")
        fields["item_reader"] = ItemReader(
            resource=reader_spec.get("Resource", ""),
            service=service,
            action=action,
            parameters=parameters,
            input_type=reader_config.get("InputType"),
            csv_header_location=reader_config.get("CSVHeaderLocation", "FIRST_ROW"),
            csv_headers=tuple(headers) if isinstance(headers, list) else None,
            csv_delimiter={"COMMA": ",", "PIPE": "|", "SEMICOLON": ";", "SPACE": " ", "TAB": "\t"}.get(
                reader_config.get("CSVDelimiter", "COMMA"), ","),
            max_items=number_field(reader_config, "MaxItems", f"{where}.ItemReader.ReaderConfig", jsonata),
        )
    batcher = spec.get("ItemBatcher")
    if isinstance(batcher, dict):
        at = f"{where}.ItemBatcher"
        batch_input = batcher.get("BatchInput")
        fields["batcher"] = ItemBatcher(
            max_items=number_field(batcher, "MaxItemsPerBatch", at, jsonata),
            max_bytes=number_field(batcher, "MaxInputBytesPerBatch", at, jsonata),
            batch_input=None if batch_input is None else (
                compile_jsonata_template(batch_input, field="BatchInput") if jsonata
                else template(batch_input, at, "BatchInput")))
    if isinstance(spec.get("ResultWriter"), dict):
        fields["result_writer"] = spec["ResultWriter"]
    child_definition = {key: value for key, value in processor_spec.items() if key != "ProcessorConfig"}
    if jsonata and "QueryLanguage" not in child_definition:
        child_definition["QueryLanguage"] = "JSONata"
    return MapNode(
        processor=processor,
        distributed=distributed,
        processor_definition=json.dumps(child_definition, separators=(",", ":")) if distributed else "{}",
        label=spec.get("Label"),
        blocking=processor.has_blocking,
        **fields,
        **retrying_fields(spec, where, jsonata, arguments=False),
    )
