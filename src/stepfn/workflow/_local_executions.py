"""Execution operations of the local client: start (async and sync), describe, list, history, stop, redrive,
task-token callbacks and TestState."""

from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Callable
from typing import Any

from stepfn.errors import StepfnError
from stepfn.store import (
    ExecutionRecord,
    NotRedrivable,
    RecordExists,
    RecordNotFound,
    StateMachineRecord,
)
from stepfn.workflow import _local_api as api
from stepfn.workflow import _local_base as base
from stepfn.workflow._local_base import (
    REDRIVE_WINDOW,
    LocalClientBase,
    build_page,
    now_utc,
    page_request,
    parse_json_text,
)


class ExecutionOperations(LocalClientBase):
    # -- executions -----------------------------------------------------------------------------------------

    def _target(self, arn: str, operation: str) -> tuple[StateMachineRecord, str, str, str | None, str | None]:
        """What StartExecution's ``stateMachineArn`` runs: (machine, definition, role, version ARN, alias ARN)."""
        parts = self._check_arn(arn, "stateMachine", operation)
        if len(parts) == 1:
            machine = self._machine(arn, operation)
            return machine, machine.definition, machine.role_arn, None, None
        alias_arn: str | None = None
        version_arn = arn
        if not parts[1].isdigit():
            alias = self._alias(arn, operation)
            alias_arn = alias.arn
            routes = alias.routing_configuration
            version_arn = random.choices(  # traffic shifting by weight, as aliases do on AWS
                [r["stateMachineVersionArn"] for r in routes], weights=[r["weight"] for r in routes])[0]
        try:
            version = self.store.get_version(version_arn)
        except RecordNotFound:
            raise self._error("StateMachineDoesNotExist", f"State Machine Does Not Exist: '{version_arn}'",
                              operation) from None
        machine = self._machine(version.state_machine_arn, operation)
        return machine, version.definition, version.role_arn, version.arn, alias_arn

    def _mock_test_case(self, machine_name: str, test_case: str, operation: str) -> Any:
        from stepfn.engine.mocking import MockConfig

        if self._mock_config is None:
            if self._mock_config_source is None:
                raise self._error("ValidationException",
                                  f"Test case '{test_case}' given but no mock config (mock_config= or "
                                  "SFN_MOCK_CONFIG) was loaded", operation)
            source = self._mock_config_source
            self._mock_config = source if isinstance(source, MockConfig) else MockConfig.load(source)
        try:
            return self._mock_config.handlers(machine_name, test_case)
        except KeyError as error:
            raise self._error("ValidationException", str(error.args[0]), operation) from None

    def start_execution(self, **params: Any) -> dict[str, Any]:
        op = "start_execution"
        api.check_parameters(op, params)
        target, _, test_case = params["stateMachineArn"].partition("#")
        machine, definition, role, version_arn, alias_arn = self._target(target, op)
        mock = self._mock_test_case(machine.name, test_case, op) if test_case else None
        name = params.get("name") or str(uuid.uuid4())
        self._check_name(name, op)
        text = params.get("input", "{}")
        self._check_input(text, op)
        kind = "express" if machine.type == "EXPRESS" else "execution"
        record = ExecutionRecord(
            arn=self._arn(f"{kind}:{machine.name}:{name}"), state_machine_arn=machine.arn, name=name,
            type=machine.type, status="RUNNING", start_date=now_utc(), definition=definition, input=text,
            role_arn=role, version_arn=version_arn, alias_arn=alias_arn, trace_header=params.get("traceHeader"),
        )
        return self._launch(record, op, mock=mock)

    def _launch(self, record: ExecutionRecord, op: str, *, mock: Any = None) -> dict[str, Any]:
        """Record a new execution and run it on the engine."""
        try:
            self.store.create_execution(record)
        except RecordExists:
            existing = self.store.get_execution(record.arn)
            # StartExecution is idempotent for a RUNNING execution with the same name and input.
            if existing.status == "RUNNING" and existing.input == record.input:
                return self._ok({"executionArn": existing.arn, "startDate": existing.start_date})
            raise self._error("ExecutionAlreadyExists", f"Execution Already Exists: '{record.arn}'", op) from None
        try:
            self._runner.start(record, mock=mock)
        except StepfnError as error:
            # The engine refused to start it (a definition only the engine can reject): it fails at once.
            self.store.finish_execution(record.arn, status="FAILED", stop_date=now_utc(), error="States.Runtime",
                                        cause=str(error))
        return self._ok({"executionArn": record.arn, "startDate": record.start_date})

    def rerun_execution(self, *, executionArn: str, fromState: str | None = None,
                        name: str | None = None) -> dict[str, Any]:
        """stepfn's own operation, with no AWS counterpart: a new execution of the same state machine that
        starts at ``fromState`` (default: the state the execution failed in, else its first) with the input
        that state had, and gives the SageMaker jobs it creates fresh names (:mod:`stepfn.workflow._rerun`).
        Returns ``{"executionArn", "startDate", "fromState"}``."""
        from stepfn.workflow._rerun import RerunError, build_rerun_definition, entered_input, failed_state

        op = "start_execution"
        record = self._execution(executionArn, op)
        if record.status == "RUNNING":
            raise self._error("ValidationException", f"Execution '{record.arn}' is still running: stop it, or "
                              "wait for it to end, before rerunning it", op)
        if record.map_run_arn is not None:
            raise self._error("ValidationException", "Execution is a child of a Map Run: rerun its parent", op)
        events = self.store.events(record.arn)
        definition = json.loads(record.definition)
        state = fromState or failed_state(events, definition) or str(definition["StartAt"])
        suffix = uuid.uuid4().hex[:6]
        try:
            rerun = build_rerun_definition(definition, state, entered_input(events, state), suffix)
        except RerunError as error:
            raise self._error("ValidationException", str(error), op) from None
        name = name or f"{record.name[:66]}-rerun-{suffix}"
        self._check_name(name, op)
        machine = self._machine(record.state_machine_arn, op)
        kind = "express" if machine.type == "EXPRESS" else "execution"
        response = self._launch(ExecutionRecord(
            arn=self._arn(f"{kind}:{machine.name}:{name}"), state_machine_arn=machine.arn, name=name,
            type=record.type, status="RUNNING", start_date=now_utc(), definition=json.dumps(rerun),
            input=record.input, role_arn=record.role_arn, version_arn=record.version_arn,
        ), op)
        response["fromState"] = state
        return response

    def start_sync_execution(self, **params: Any) -> dict[str, Any]:
        op = "start_sync_execution"
        api.check_parameters(op, params)
        machine, definition, role, version_arn, _ = self._target(params["stateMachineArn"], op)
        if machine.type != "EXPRESS":
            raise self._error("StateMachineTypeNotSupported",
                              "This operation is not supported by this type of state machine", op)
        name = params.get("name") or str(uuid.uuid4())
        self._check_name(name, op)
        text = params.get("input", "{}")
        self._check_input(text, op)
        arn = self._arn(f"express:{machine.name}:{name}:{uuid.uuid4()}")
        result = self.engine.run(
            definition, json.loads(text), execution_arn=arn, state_machine_arn=version_arn or machine.arn,
            name=name, role_arn=role,
        )
        elapsed = (result.stop_date - result.start_date).total_seconds()
        response: dict[str, Any] = {
            "executionArn": arn, "stateMachineArn": version_arn or machine.arn, "name": name,
            "startDate": result.start_date, "stopDate": result.stop_date,
            "status": result.status if result.status != "ABORTED" else "FAILED",
        }
        if result.error is not None:
            response["error"] = result.error
        if result.cause is not None:
            response["cause"] = result.cause
        response.update({"input": text, "inputDetails": {"included": True}})
        if result.output is not None:
            response.update({"output": result.output, "outputDetails": {"included": True}})
        if params.get("traceHeader"):
            response["traceHeader"] = params["traceHeader"]
        response["billingDetails"] = {
            "billedMemoryUsedInMB": 64, "billedDurationInMilliseconds": max(100, int(elapsed * 1000 + 99) // 100 * 100),
        }
        return self._ok(response)

    def _redrive_status(self, record: ExecutionRecord) -> tuple[str, str | None]:
        if record.map_run_arn is not None:
            return "NOT_REDRIVABLE", "Execution is a child of a Map Run: redrive its parent execution"
        if record.type != "STANDARD":
            return "NOT_REDRIVABLE", "Execution is of type EXPRESS and cannot be redriven"
        if record.status in ("FAILED", "TIMED_OUT", "ABORTED"):
            if record.stop_date is not None and now_utc() - record.stop_date > REDRIVE_WINDOW:
                return "NOT_REDRIVABLE", "Execution stopped more than 14 days ago and cannot be redriven"
            return "REDRIVABLE", None
        return "NOT_REDRIVABLE", f"Execution is {record.status} and cannot be redriven"

    def describe_execution(self, **params: Any) -> dict[str, Any]:
        op = "describe_execution"
        api.check_parameters(op, params)
        record = self._execution(params["executionArn"], op)
        response: dict[str, Any] = {
            "executionArn": record.arn, "stateMachineArn": record.state_machine_arn, "name": record.name,
            "status": record.status, "startDate": record.start_date,
        }
        if record.stop_date is not None:
            response["stopDate"] = record.stop_date
        if record.input is not None:
            response.update({"input": record.input, "inputDetails": {"included": True}})
        if record.output is not None:
            response.update({"output": record.output, "outputDetails": {"included": True}})
        if record.trace_header:
            response["traceHeader"] = record.trace_header
        if record.map_run_arn is not None:
            response["mapRunArn"] = record.map_run_arn
        if record.error is not None:
            response["error"] = record.error
        if record.cause is not None:
            response["cause"] = record.cause
        if record.version_arn:
            response["stateMachineVersionArn"] = record.version_arn
        if record.alias_arn:
            response["stateMachineAliasArn"] = record.alias_arn
        response["redriveCount"] = record.redrive_count
        if record.redrive_date is not None:
            response["redriveDate"] = record.redrive_date
        status, reason = self._redrive_status(record)
        response["redriveStatus"] = status
        if reason:
            response["redriveStatusReason"] = reason
        return self._ok(response)

    def list_executions(self, **params: Any) -> dict[str, Any]:
        op = "list_executions"
        api.check_parameters(op, params)
        if ("stateMachineArn" in params) == ("mapRunArn" in params):
            raise self._error("ValidationException", "Must provide a StateMachine ARN or MapRun ARN", op)
        filters: dict[str, Any] = {"status": params.get("statusFilter")}
        if "mapRunArn" in params:
            # A Map Run's child executions, each with its Map Run and how many items it processes.
            arn = self._map_run(params["mapRunArn"], op).arn
            filters["map_run_arn"] = arn
        else:
            arn = params["stateMachineArn"]
            self._machine_filter(arn, filters, op)
        if params.get("redriveFilter"):
            filters["redriven"] = params["redriveFilter"] == "REDRIVEN"
        # Keyset pagination: the token carries the last execution's seq, so each page is one indexed read.
        scope = f"executions:{arn}:{params.get('statusFilter')}:{params.get('redriveFilter')}"
        size, before = page_request(params, scope, op)
        records = self.store.list_executions(filters.pop("state_machine_arn", None), **filters,
                                             before_seq=before, limit=size + 1)
        items = []
        for record in records[:size]:
            item: dict[str, Any] = {
                "executionArn": record.arn, "stateMachineArn": record.state_machine_arn, "name": record.name,
                "status": record.status, "startDate": record.start_date,
            }
            if record.stop_date is not None:
                item["stopDate"] = record.stop_date
            if record.map_run_arn is not None:
                item.update({"mapRunArn": record.map_run_arn, "itemCount": record.item_count or 1})
            if record.version_arn:
                item["stateMachineVersionArn"] = record.version_arn
            if record.alias_arn:
                item["stateMachineAliasArn"] = record.alias_arn
            if record.redrive_count:
                item["redriveCount"] = record.redrive_count
            if record.redrive_date is not None:
                item["redriveDate"] = record.redrive_date
            items.append(item)
        response: dict[str, Any] = {"executions": items}
        if len(records) > size:
            response["nextToken"] = api.encode_token(records[size - 1].seq, scope)
        return self._ok(response)

    def _machine_filter(self, arn: str, filters: dict[str, Any], op: str) -> None:
        """ListExecutions of a state machine, a version or an alias: the store filter for ``arn``."""
        parts = self._check_arn(arn, "stateMachine", op)
        if len(parts) == 1:
            machine = self._machine(arn, op)
            filters["state_machine_arn"] = machine.arn
        elif parts[1].isdigit():
            filters["version_arn"] = arn
            machine = self._machine(arn.rsplit(":", 1)[0], op)
        else:
            filters["alias_arn"] = self._alias(arn, op).arn
            machine = self._machine(arn.rsplit(":", 1)[0], op)
        if machine.type == "EXPRESS":
            raise self._error("StateMachineTypeNotSupported",
                              "This operation is not supported by this type of state machine", op)

    def get_execution_history(self, **params: Any) -> dict[str, Any]:
        op = "get_execution_history"
        api.check_parameters(op, params)
        record = self._execution(params["executionArn"], op)
        reverse = bool(params.get("reverseOrder"))
        events = _HistoryView(self.store, record.arn, reverse=reverse,
                              with_data=params.get("includeExecutionData") is not False)
        page, token = build_page(events, params, f"history:{record.arn}:{reverse}", op)  # type: ignore[arg-type]
        response: dict[str, Any] = {"events": page}
        if token:
            response["nextToken"] = token
        return self._ok(response)

    def stop_execution(self, **params: Any) -> dict[str, Any]:
        op = "stop_execution"
        api.check_parameters(op, params)
        record = self._execution(params["executionArn"], op)
        error, cause = params.get("error"), params.get("cause")
        if record.status != "RUNNING":
            return self._ok({"stopDate": record.stop_date or now_utc()})
        if self._runner.stop(record.arn, error, cause):
            self._runner.wait(record.arn, timeout=30)
        else:
            orphan = next((o for o in self.store.find_orphans() if o.arn == record.arn), None)
            if orphan is not None and self.store.claim_execution(record.arn, orphan.owner):
                self.store.abort_after_history(record.arn, when=now_utc(), error=error, cause=cause)
            else:
                # Another live process runs it; it polls the store for this request.
                self.store.request_stop(record.arn, error=error, cause=cause, when=now_utc())
                return self._ok({"stopDate": now_utc()})
        final = self.store.get_execution(record.arn)
        return self._ok({"stopDate": final.stop_date or now_utc()})

    def redrive_execution(self, **params: Any) -> dict[str, Any]:
        op = "redrive_execution"
        api.check_parameters(op, params)
        record = self._execution(params["executionArn"], op)
        status, reason = self._redrive_status(record)
        if status != "REDRIVABLE":
            raise self._error("ExecutionNotRedrivable", f"Execution '{record.arn}' cannot be redriven: {reason}", op)
        try:
            redriven = self.store.start_redrive(record.arn, redrive_date=now_utc())
        except NotRedrivable as error:
            raise self._error("ExecutionNotRedrivable",
                              f"Execution '{record.arn}' cannot be redriven: it is {error.status}", op) from None
        try:
            self._runner.start(redriven, redrive=True)
        except StepfnError as error:
            self.store.finish_execution(record.arn, status=record.status, stop_date=record.stop_date or now_utc(),
                                        error=record.error, cause=record.cause)
            raise self._error("ExecutionNotRedrivable", f"Execution '{record.arn}' cannot be redriven: {error}",
                              op) from None
        assert redriven.redrive_date is not None
        return self._ok({"redriveDate": redriven.redrive_date})

    # -- callbacks and TestState ----------------------------------------------------------------------------

    def _token_call(self, op: str, call: Callable[[], Any], token: str, kind: str, **payload: Any) -> dict[str, Any]:
        from stepfn.engine import UnknownTaskToken

        try:
            call()
        except UnknownTaskToken as error:
            code = error.error if error.error in ("TaskDoesNotExist", "InvalidToken", "TaskTimedOut") else (
                "TaskDoesNotExist")
            # The waiting task may run in another process: post the callback and let its owner deliver it.
            # (another client of this process counts: each client has its own engine).
            if code != "TaskDoesNotExist" or not self.store.running_arns() - self._runner.running():
                raise self._error(code, f"{code}: '{token}'", op) from None
            outcome = self._relay(token, kind, payload)
            if outcome != "delivered":
                code = outcome or code
                raise self._error(code, f"{code}: '{token}'", op) from None
        return self._ok({})

    def _relay(self, token: str, kind: str, payload: dict[str, Any]) -> str | None:
        callback_id = self.store.post_callback(token, kind, **payload)
        deadline = time.monotonic() + base.CALLBACK_RELAY_SECONDS
        while time.monotonic() < deadline:
            outcome = self.store.callback_outcome(callback_id)
            if outcome is not None:
                return outcome
            time.sleep(0.05)
        # Nobody holds the token: withdraw the callback so that it can never be delivered late.
        if self.store.settle_callback(callback_id, "TaskDoesNotExist"):
            return None
        return self.store.callback_outcome(callback_id)

    def send_task_success(self, **params: Any) -> dict[str, Any]:
        op = "send_task_success"
        api.check_parameters(op, params)
        try:
            parse_json_text(params["output"])
        except ValueError as error:
            raise self._error("InvalidOutput", f"Invalid Output: '{error}'", op) from None
        token = params["taskToken"]
        return self._token_call(op, lambda: self.engine.send_task_success(token, params["output"]), token,
                                "success", output=params["output"])

    def send_task_failure(self, **params: Any) -> dict[str, Any]:
        op = "send_task_failure"
        api.check_parameters(op, params)
        token = params["taskToken"]
        return self._token_call(
            op, lambda: self.engine.send_task_failure(token, params.get("error"), params.get("cause")), token,
            "failure", error=params.get("error"), cause=params.get("cause"))

    def send_task_heartbeat(self, **params: Any) -> dict[str, Any]:
        op = "send_task_heartbeat"
        api.check_parameters(op, params)
        token = params["taskToken"]
        return self._token_call(op, lambda: self.engine.send_task_heartbeat(token), token, "heartbeat")

    def test_state(self, **params: Any) -> dict[str, Any]:
        op = "test_state"
        api.check_parameters(op, params)
        try:
            definition = json.loads(params["definition"])
        except ValueError as error:
            raise self._error("InvalidDefinition", f"Invalid State Machine Definition: '{error}'", op) from None
        if isinstance(definition, dict) and "States" in definition:
            state_name = params.get("stateName") or definition.get("StartAt")
            if state_name not in definition["States"]:
                raise self._error("ValidationException", f"State '{state_name}' is not in the definition", op)
            definition = definition["States"][state_name]
        text = params.get("input", "{}")
        self._check_input(text, op)
        options: dict[str, Any] = {"inspection_level": params.get("inspectionLevel", "INFO")}
        for key, option in (("mock", "mock"), ("variables", "variables"), ("context", "context")):
            if key in params:
                value = params[key]
                options[option] = json.loads(value) if isinstance(value, str) else value
        from stepfn.errors import DefinitionError

        try:
            result = self.engine.test_state(definition, json.loads(text), **options)
        except DefinitionError as error:
            raise self._error("InvalidDefinition", f"Invalid State Machine Definition: '{error}'", op) from None
        return self._ok(dict(result))


class _HistoryView:
    """One execution's events as ``build_page`` uses them (``len`` and one slice), read a page at a time.

    Reading the whole history for every page made paging through 25,000 events take minutes. Event ids run
    1..N without gaps, so a position in either order is an id."""

    def __init__(self, store: Any, arn: str, *, reverse: bool, with_data: bool) -> None:
        self._store, self._arn, self._reverse, self._with_data = store, arn, reverse, with_data
        last = store.events(arn, reverse=True, limit=1)
        self._count = int(last[0]["id"]) if last else 0

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, window: slice) -> list[dict[str, Any]]:
        start, stop = window.start or 0, min(window.stop, self._count)
        if start >= stop:
            return []
        after = (self._count + 1 - start if self._reverse else start) if start else None
        events = self._store.events(self._arn, reverse=self._reverse, after_id=after, limit=stop - start)
        return events if self._with_data else [_without_data(event) for event in events]


def _without_data(event: dict[str, Any]) -> dict[str, Any]:
    """An event as ``includeExecutionData=False`` returns it: inputs and outputs left out."""
    stripped = dict(event)
    for key, value in event.items():
        if key.endswith("EventDetails") and isinstance(value, dict):
            details = {k: v for k, v in value.items() if k not in ("input", "output")}
            if "input" in value:
                details["inputDetails"] = {"included": False}
            if "output" in value:
                details["outputDetails"] = {"included": False}
            stripped[key] = details
    return stripped


__all__ = ["ExecutionOperations"]
