"""The shared core of the local client: construction, plumbing, ARNs, validation, paging (see local_client)."""

from __future__ import annotations

import json
import math
import os
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from stepfn._partitions import LOCAL_ACCOUNT
from stepfn.engine.protocol import TaskHandler
from stepfn.store import (
    DEFAULT_LEASE_SECONDS,
    AliasRecord,
    ExecutionRecord,
    MapRunRecord,
    RecordNotFound,
    StateMachineRecord,
    Store,
)
from stepfn.workflow import _local_api as api
from stepfn.workflow._local_runs import ExecutionRunner

DEFAULT_ACCOUNT = LOCAL_ACCOUNT
MAX_PAYLOAD_BYTES = 256 * 1024
REDRIVE_WINDOW = timedelta(days=14)
CALLBACK_RELAY_SECONDS = 3.0
"""How long a task-token call waits for another process to take a token this one does not hold."""
WAIT_POLL_SECONDS = 0.05
DEFAULT_LOGGING = {"level": "OFF", "includeExecutionData": False}
DEFAULT_TRACING = {"enabled": False}


def now_utc() -> datetime:
    return datetime.now(UTC)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"Unrecognized token '{name}': was expecting (JSON String, Number, Array, Object or token "
                     "'null', 'true' or 'false')")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"Numeric value ({text}) out of range of double")
    return value


def parse_json_text(text: str) -> Any:
    """Parse JSON as the service does: strict JSON only (no NaN/Infinity, no numbers beyond a double), text
    that is valid Unicode, and any nesting depth Python can hold. Every refusal is a ValueError."""
    try:
        value = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
        # A lone surrogate escape ("\ud800") parses but is not Unicode text: nothing could store it.
        json.dumps(value, ensure_ascii=False).encode()
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
    return value


def page_request(params: Mapping[str, Any], scope: str, python_name: str, *, default: int = 100,
                 maximum: int = 1000) -> tuple[int, int | None]:
    """The page size ``maxResults`` asks (0 or absent: the default) and the position its ``nextToken`` carries
    (None on the first page); a token of another listing is AWS's InvalidToken."""
    size = min(params.get("maxResults") or default, maximum)
    if not params.get("nextToken"):
        return size, None
    position = api.decode_token(params["nextToken"], scope)
    if position is None:
        raise api.client_error("InvalidToken", f"Invalid Token: '{params['nextToken']}'", python_name)
    return size, position


def build_page(items: list[Any], params: Mapping[str, Any], scope: str, python_name: str, *, default: int = 100,
          maximum: int = 1000) -> tuple[list[Any], str | None]:
    """One page of ``items`` for ``maxResults``/``nextToken`` (0 or absent maxResults: the default page size)."""
    size, position = page_request(params, scope, python_name, default=default, maximum=maximum)
    start = position or 0
    chunk = items[start : start + size]
    return chunk, api.encode_token(start + size, scope) if start + size < len(items) else None


class LocalClientBase:
    """A boto3-compatible Step Functions client over the local store and engine.

    ``home``: the stepfn home (default ``$STEPFN_HOME`` or ``./.stepfn``). ``handlers``: task handlers
    added to (and overriding) the local backends' (``stepfn.local.default_handlers``). ``clock``: the
    engine's clock (``stepfn.engine.ScaledClock`` makes Wait states fast). ``resume``: take over the
    executions of dead processes now (``resume_orphans()`` does it on demand). ``mock_config``: an AWS Step
    Functions Local mock config (path, JSON text, dict or ``MockConfig``; default ``$SFN_MOCK_CONFIG``);
    ``start_execution(stateMachineArn="<arn>#<TestCase>")`` then runs with that test case's mocked responses,
    as Step Functions Local does.
    """

    runs_locally = True
    """Marks stepfn's local clients (this one, ControlPlaneClient): Workflow stages local code into ``home``."""

    def __init__(
        self,
        home: Path | str | None = None,
        *,
        region: str | None = None,
        account: str = DEFAULT_ACCOUNT,
        handlers: Mapping[str, TaskHandler] | None = None,
        clock: Any = None,
        resume: bool = True,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        mock_config: Any = None,
    ) -> None:
        self.store = Store(home, lease_seconds=lease_seconds)
        self.home = self.store.home
        self.region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
        self.account = account
        self.partition = "aws"
        self.meta = SimpleNamespace(
            region_name=self.region, partition=self.partition, service_model=api.service_model(),
            endpoint_url=None,
        )
        self._extra_handlers = dict(handlers or {})
        self._mock_config_source = mock_config if mock_config is not None else os.environ.get("SFN_MOCK_CONFIG")
        self._mock_config: Any = None
        self._clock = clock
        self._runner = ExecutionRunner(self.store, self._build_engine)
        self._lock = threading.Lock()
        if resume:
            self.resume_orphans()

    def _build_engine(self) -> Any:
        from stepfn.engine import Engine
        from stepfn.local import default_handlers

        handlers: dict[str, TaskHandler] = {**default_handlers(self.home), **self._extra_handlers}
        return Engine(handlers=handlers, clock=self._clock)

    @property
    def engine(self) -> Any:
        return self._runner.engine

    @property
    def exceptions(self) -> Any:
        return api.exceptions()

    def resume_orphans(self) -> list[str]:
        """Resume the executions whose owning process died; returns their ARNs."""
        return self._runner.resume_orphans()

    def running_executions(self) -> set[str]:
        """The ARNs of the executions this client's engine is running now."""
        return self._runner.running()

    def wait_for_execution(self, execution_arn: str, timeout: float | None = None) -> bool:
        """Block until the execution has ended (True) or ``timeout`` seconds passed (False).

        An execution this client runs is waited for directly; one run elsewhere (another client or process)
        by polling the store.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            if self._runner.handle(execution_arn) is not None:
                if not self._runner.wait(execution_arn, remaining):
                    return False
            elif self.store.get_execution(execution_arn).status != "RUNNING":
                return True
            elif remaining is not None and remaining <= 0:
                return False
            else:
                time.sleep(WAIT_POLL_SECONDS)

    def close(self) -> None:
        """Close the store's connections. Running executions go on until the process exits."""
        self._runner.close()
        self.store.close()

    # -- boto3 client plumbing ------------------------------------------------------------------------------

    def get_paginator(self, operation_name: str) -> Any:
        return api.build_paginator(self, operation_name)

    def can_paginate(self, operation_name: str) -> bool:
        return api.can_paginate(operation_name)

    def _error(self, code: str, message: str, operation: str) -> Exception:
        error: Exception = api.client_error(code, message, operation)
        return error

    @staticmethod
    def _ok(response: dict[str, Any]) -> dict[str, Any]:
        response["ResponseMetadata"] = api.response_metadata()
        return response

    # -- ARNs -----------------------------------------------------------------------------------------------

    def _arn(self, resource: str) -> str:
        return f"arn:{self.partition}:states:{self.region}:{self.account}:{resource}"

    def _check_arn(self, arn: str, kind: str, operation: str) -> list[str]:
        """The ``:``-separated resource parts after ``arn:p:states:r:a:<kind>``; InvalidArn otherwise."""
        parts = arn.split(":")
        if len(parts) < 7 or parts[0] != "arn" or parts[2] != "states" or parts[5] != kind:
            raise self._error("InvalidArn", f"Invalid Arn: 'Resource type not valid in this context: {arn}'",
                              operation)
        return parts[6:]

    def _machine(self, arn: str, operation: str) -> StateMachineRecord:
        if len(self._check_arn(arn, "stateMachine", operation)) != 1:
            raise self._error("InvalidArn", f"Invalid Arn: 'Resource type not valid in this context: {arn}'",
                              operation)
        try:
            return self.store.get_state_machine(arn)
        except RecordNotFound:
            raise self._error("StateMachineDoesNotExist", f"State Machine Does Not Exist: '{arn}'",
                              operation) from None

    def _execution(self, arn: str, operation: str) -> ExecutionRecord:
        parts = arn.split(":")
        if len(parts) != 8 or parts[0] != "arn" or parts[2] != "states" or parts[5] not in ("execution", "express"):
            raise self._error("InvalidArn", f"Invalid Arn: 'Resource type not valid in this context: {arn}'",
                              operation)
        try:
            return self.store.get_execution(arn)
        except RecordNotFound:
            raise self._error("ExecutionDoesNotExist", f"Execution Does Not Exist: '{arn}'", operation) from None

    def _map_run(self, arn: str, operation: str) -> MapRunRecord:
        parts = arn.split(":")
        if len(parts) != 8 or parts[0] != "arn" or parts[2] != "states" or parts[5] != "mapRun" or "/" not in parts[6]:
            raise self._error("InvalidArn", f"Invalid Arn: 'Resource type not valid in this context: {arn}'",
                              operation)
        try:
            return self.store.get_map_run(arn)
        except RecordNotFound:
            raise self._error("ResourceNotFound", f"Resource not found: '{arn}'", operation) from None

    # -- validation -----------------------------------------------------------------------------------------

    def _check_name(self, name: str, operation: str) -> None:
        if not api.is_valid_name(name):
            raise self._error("InvalidName", f"Invalid Name: '{name}'", operation)

    def _check_role(self, role: str, operation: str) -> None:
        if not api.is_valid_role_arn(role):
            raise self._error("InvalidArn", f"Invalid Arn: 'Resource type not valid in this context: {role}'",
                              operation)

    def _check_definition(self, definition: str, operation: str) -> None:
        try:
            parsed = json.loads(definition)
        except ValueError as error:
            raise self._error(
                "InvalidDefinition", f"Invalid State Machine Definition: 'INVALID_JSON_DESCRIPTION: {error}'",
                operation) from None
        del parsed  # JSON syntax gets the JSON error above; the validator re-reads the text itself
        from stepfn.asl.validate import check_definition
        from stepfn.errors import ValidationError

        try:
            # The raw text, so duplicate keys and the 1 MiB definition limit are checked too.
            check_definition(definition)
        except ValidationError as error:
            problems = ", ".join(f"{d.code}: {d.message} at {d.path}" for d in error.diagnostics)
            raise self._error("InvalidDefinition", f"Invalid State Machine Definition: '{problems}'",
                              operation) from None

    def _check_input(self, text: str, operation: str) -> None:
        try:
            size = len(text.encode())
        except UnicodeEncodeError as error:
            raise self._error("InvalidExecutionInput",
                              f"Invalid State Machine Execution Input: '{error}'", operation) from None
        if size > MAX_PAYLOAD_BYTES:
            raise self._error(
                "ValidationException",
                f"1 validation error detected: Value at 'input' failed to satisfy constraint: Member must have "
                f"length less than or equal to {MAX_PAYLOAD_BYTES}", operation)
        try:
            parse_json_text(text)
        except ValueError as error:
            raise self._error("InvalidExecutionInput",
                              f"Invalid State Machine Execution Input: '{error}'", operation) from None

    def _alias(self, arn: str, operation: str) -> AliasRecord:
        if len(self._check_arn(arn, "stateMachine", operation)) != 2:
            raise self._error("InvalidArn", f"Invalid Arn: 'Resource type not valid in this context: {arn}'",
                              operation)
        try:
            return self.store.get_alias(arn)
        except RecordNotFound:
            raise self._error("ResourceNotFound", f"Resource not found: '{arn}'", operation) from None


__all__ = ["CALLBACK_RELAY_SECONDS", "DEFAULT_ACCOUNT", "MAX_PAYLOAD_BYTES", "REDRIVE_WINDOW", "LocalClientBase"]
