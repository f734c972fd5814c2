"""``LocalStepFunctionsClient``: boto3's ``stepfunctions`` client, answered on this machine.

Same method names, keyword arguments (validated by botocore's own validator), response shapes and error
classes (``client.exceptions.StateMachineDoesNotExist`` ... are the ClientError subclasses boto3 builds
from the same service model), so code written for AWS runs unchanged against it and the other way round.
State machines, executions and history live in the SQLite store under ``$STEPFN_HOME``; executions run
on the local engine on background threads of this process, and those a dead process left behind resume
when the next client opens the store (see :mod:`stepfn.workflow._local_runs`).

Differences from the service, by design: no IAM (a role must look like a role ARN but is not assumed),
no activities or Map Run APIs. A task token held by another process is relayed through the store.
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from stepfn.engine.protocol import TaskHandler
from stepfn.errors import StepfnError
from stepfn.store import (
    AliasRecord,
    ExecutionRecord,
    NotRedrivable,
    RecordExists,
    RecordNotFound,
    StateMachineRecord,
    Store,
)
from stepfn.store._store import DEFAULT_LEASE_SECONDS
from stepfn.workflow import _local_api as api
from stepfn.workflow._local_runs import ExecutionRunner

DEFAULT_ACCOUNT = "123456789012"
MAX_PAYLOAD_BYTES = 256 * 1024
REDRIVE_WINDOW = timedelta(days=14)
CALLBACK_RELAY_SECONDS = 3.0
"""How long a task-token call waits for another process to take a token this one does not hold."""
_DEFAULT_LOGGING = {"level": "OFF", "includeExecutionData": False}
_DEFAULT_TRACING = {"enabled": False}


def _now() -> datetime:
    return datetime.now(UTC)


def _page(items: list[Any], params: Mapping[str, Any], scope: str, python_name: str, *, default: int = 100,
          maximum: int = 1000) -> tuple[list[Any], str | None]:
    """One page of ``items`` for ``maxResults``/``nextToken`` (0 or absent maxResults: the default page size)."""
    size = params.get("maxResults") or default
    size = min(size, maximum)
    start = 0
    if params.get("nextToken"):
        position = api.decode_token(params["nextToken"], scope)
        if position is None:
            raise api.client_error("InvalidToken", f"Invalid Token: '{params['nextToken']}'", python_name)
        start = position
    chunk = items[start : start + size]
    return chunk, api.encode_token(start + size, scope) if start + size < len(items) else None


class LocalStepFunctionsClient:
    """A boto3-compatible Step Functions client over the local store and engine.

    ``home``: the stepfn home (default ``$STEPFN_HOME`` or ``./.stepfn``). ``handlers``: task handlers
    added to (and overriding) the local backends' (``stepfn.local.default_handlers``). ``clock``: the
    engine's clock (``stepfn.engine.ScaledClock`` makes Wait states fast). ``resume``: take over the
    executions of dead processes now (``resume_orphans()`` does it on demand). ``mock_config``: an AWS Step
    Functions Local mock config (path, JSON text, dict or ``MockConfig``; default ``$SFN_MOCK_CONFIG``);
    ``start_execution(stateMachineArn="<arn>#<TestCase>")`` then runs with that test case's mocked responses,
    as Step Functions Local does.
    """

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

    def wait_for_execution(self, execution_arn: str, timeout: float | None = None) -> bool:
        """Block until this process's run of the execution has ended (True) or ``timeout`` passed (False)."""
        return self._runner.wait(execution_arn, timeout)

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
        try:
            from stepfn.asl.validate import check_definition
        except ImportError:  # the static validator is optional at this layer; JSON was checked above
            return
        from stepfn.errors import ValidationError

        try:
            check_definition(parsed)
        except ValidationError as error:
            problems = ", ".join(f"{d.code}: {d.message} at {d.path}" for d in error.diagnostics)
            raise self._error("InvalidDefinition", f"Invalid State Machine Definition: '{problems}'",
                              operation) from None

    def _check_input(self, text: str, operation: str) -> None:
        if len(text.encode()) > MAX_PAYLOAD_BYTES:
            raise self._error(
                "ValidationException",
                f"1 validation error detected: Value at 'input' failed to satisfy constraint: Member must have "
                f"length less than or equal to {MAX_PAYLOAD_BYTES}", operation)
        try:
            json.loads(text)
        except ValueError as error:
            raise self._error("InvalidExecutionInput",
                              f"Invalid State Machine Execution Input: '{error}'", operation) from None

    # -- state machines -------------------------------------------------------------------------------------

    def create_state_machine(self, **params: Any) -> dict[str, Any]:
        op = "create_state_machine"
        api.check_parameters(op, params)
        name, definition, role = params["name"], params["definition"], params["roleArn"]
        machine_type = params.get("type", "STANDARD")
        self._check_name(name, op)
        self._check_definition(definition, op)
        self._check_role(role, op)
        logging_configuration = params.get("loggingConfiguration")
        tracing_configuration = params.get("tracingConfiguration")
        now = _now()
        record = StateMachineRecord(
            arn=self._arn(f"stateMachine:{name}"), name=name, type=machine_type, definition=definition,
            role_arn=role, revision_id=str(uuid.uuid4()), creation_date=now,
            logging_configuration=logging_configuration, tracing_configuration=tracing_configuration,
        )
        try:
            self.store.create_state_machine(record)
        except RecordExists as exists:
            existing = self.store.get_state_machine(exists.existing)
            # Idempotent as AWS: same definition, type and configuration return the existing machine.
            same = (existing.definition, existing.type, existing.logging_configuration,
                    existing.tracing_configuration) == (definition, machine_type, logging_configuration,
                                                        tracing_configuration)
            if not same:
                raise self._error("StateMachineAlreadyExists", f"State Machine Already Exists: '{existing.arn}'",
                                  op) from None
            return self._ok({"stateMachineArn": existing.arn, "creationDate": existing.creation_date})
        tags = params.get("tags") or []
        if tags:
            self.store.tag(record.arn, [(t["key"], t["value"]) for t in tags])
        response: dict[str, Any] = {"stateMachineArn": record.arn, "creationDate": now}
        if params.get("publish"):
            version = self.store.publish_version(record.arn, creation_date=now,
                                                 description=params.get("versionDescription"))
            response["stateMachineVersionArn"] = version.arn
        return self._ok(response)

    def describe_state_machine(self, **params: Any) -> dict[str, Any]:
        op = "describe_state_machine"
        api.check_parameters(op, params)
        arn = params["stateMachineArn"]
        parts = self._check_arn(arn, "stateMachine", op)
        if len(parts) == 2:
            try:
                version = self.store.get_version(arn)
            except RecordNotFound:
                raise self._error("StateMachineDoesNotExist", f"State Machine Does Not Exist: '{arn}'", op) from None
            machine = self._machine(version.state_machine_arn, op)
            response: dict[str, Any] = {
                "stateMachineArn": version.arn, "name": machine.name, "status": "ACTIVE",
                "definition": version.definition, "roleArn": version.role_arn, "type": version.type,
                "creationDate": version.creation_date,
                "loggingConfiguration": version.logging_configuration or dict(_DEFAULT_LOGGING),
                "tracingConfiguration": version.tracing_configuration or dict(_DEFAULT_TRACING),
                "revisionId": version.revision_id,
            }
            if version.description:
                response["description"] = version.description
            return self._ok(response)
        machine = self._machine(arn, op)
        return self._ok({
            "stateMachineArn": machine.arn, "name": machine.name, "status": "ACTIVE",
            "definition": machine.definition, "roleArn": machine.role_arn, "type": machine.type,
            "creationDate": machine.creation_date,
            "loggingConfiguration": machine.logging_configuration or dict(_DEFAULT_LOGGING),
            "tracingConfiguration": machine.tracing_configuration or dict(_DEFAULT_TRACING),
            "revisionId": machine.revision_id,
        })

    def update_state_machine(self, **params: Any) -> dict[str, Any]:
        op = "update_state_machine"
        api.check_parameters(op, params)
        machine = self._machine(params["stateMachineArn"], op)
        changes: dict[str, Any] = {}
        if "definition" in params:
            self._check_definition(params["definition"], op)
            changes["definition"] = params["definition"]
        if "roleArn" in params:
            self._check_role(params["roleArn"], op)
            changes["role_arn"] = params["roleArn"]
        if "loggingConfiguration" in params:
            changes["logging_configuration"] = params["loggingConfiguration"]
        if "tracingConfiguration" in params:
            changes["tracing_configuration"] = params["tracingConfiguration"]
        if not changes:
            raise self._error(
                "MissingRequiredParameter",
                "Either the definition, the role ARN, the LoggingConfiguration, or the TracingConfiguration "
                "must be specified", op)
        now = _now()
        updated = self.store.update_state_machine(
            machine.arn, **changes, update_date=now, revision_id=str(uuid.uuid4()))
        response: dict[str, Any] = {"updateDate": now, "revisionId": updated.revision_id}
        if params.get("publish"):
            version = self.store.publish_version(machine.arn, creation_date=now,
                                                 description=params.get("versionDescription"))
            response["stateMachineVersionArn"] = version.arn
        return self._ok(response)

    def delete_state_machine(self, **params: Any) -> dict[str, Any]:
        op = "delete_state_machine"
        api.check_parameters(op, params)
        arn = params["stateMachineArn"]
        parts = self._check_arn(arn, "stateMachine", op)
        if len(parts) == 2:
            # AWS deletes a version or an alias given here too.
            self.store.delete_alias(arn)
            self.store.delete_version(arn)
        else:
            self.store.delete_state_machine(arn)
        return self._ok({})

    def list_state_machines(self, **params: Any) -> dict[str, Any]:
        op = "list_state_machines"
        api.check_parameters(op, params)
        items = [
            {"stateMachineArn": m.arn, "name": m.name, "type": m.type, "creationDate": m.creation_date}
            for m in self.store.list_state_machines()
        ]
        page, token = _page(items, params, "list_state_machines", op)
        response: dict[str, Any] = {"stateMachines": page}
        if token:
            response["nextToken"] = token
        return self._ok(response)

    def describe_state_machine_for_execution(self, **params: Any) -> dict[str, Any]:
        op = "describe_state_machine_for_execution"
        api.check_parameters(op, params)
        record = self._execution(params["executionArn"], op)
        machine_name = record.state_machine_arn.split(":")[6]
        response: dict[str, Any] = {
            "stateMachineArn": record.version_arn or record.state_machine_arn, "name": machine_name,
            "definition": record.definition, "roleArn": record.role_arn, "updateDate": record.start_date,
            "loggingConfiguration": dict(_DEFAULT_LOGGING), "tracingConfiguration": dict(_DEFAULT_TRACING),
        }
        return self._ok(response)

    # -- versions and aliases -------------------------------------------------------------------------------

    def publish_state_machine_version(self, **params: Any) -> dict[str, Any]:
        op = "publish_state_machine_version"
        api.check_parameters(op, params)
        machine = self._machine(params["stateMachineArn"], op)
        try:
            version = self.store.publish_version(
                machine.arn, creation_date=_now(), description=params.get("description"),
                revision_id=params.get("revisionId"))
        except RecordExists as conflict:
            raise self._error(
                "ConflictException",
                f"Failed to publish the State Machine version for revision {params.get('revisionId')}. The current "
                f"State Machine revision is {conflict.existing}.", op) from None
        return self._ok({"creationDate": version.creation_date, "stateMachineVersionArn": version.arn})

    def list_state_machine_versions(self, **params: Any) -> dict[str, Any]:
        op = "list_state_machine_versions"
        api.check_parameters(op, params)
        machine = self._machine(params["stateMachineArn"], op)
        items = [{"stateMachineVersionArn": v.arn, "creationDate": v.creation_date}
                 for v in self.store.list_versions(machine.arn)]
        page, token = _page(items, params, f"versions:{machine.arn}", op)
        response: dict[str, Any] = {"stateMachineVersions": page}
        if token:
            response["nextToken"] = token
        return self._ok(response)

    def delete_state_machine_version(self, **params: Any) -> dict[str, Any]:
        op = "delete_state_machine_version"
        api.check_parameters(op, params)
        arn = params["stateMachineVersionArn"]
        if len(self._check_arn(arn, "stateMachine", op)) != 2:
            raise self._error("ValidationException", f"Invalid version ARN: '{arn}'", op)
        machine_arn = arn.rsplit(":", 1)[0]
        for alias in self.store.list_aliases(machine_arn):
            if any(route["stateMachineVersionArn"] == arn for route in alias.routing_configuration):
                raise self._error(
                    "ConflictException",
                    f"Version to be deleted must not be referenced by an alias. Current list of aliases "
                    f"referencing this version: [{alias.name}]", op)
        self.store.delete_version(arn)
        return self._ok({})

    def _check_routing(self, machine_arn: str, routing: Sequence[Mapping[str, Any]], operation: str) -> None:
        if not 1 <= len(routing) <= 2 or sum(r["weight"] for r in routing) != 100:
            raise self._error(
                "ValidationException",
                "Routing configuration must contain one or two versions whose weights add up to 100", operation)
        for route in routing:
            version_arn = route["stateMachineVersionArn"]
            try:
                version = self.store.get_version(version_arn)
            except RecordNotFound:
                raise self._error("ResourceNotFound", f"Resource not found: '{version_arn}'", operation) from None
            if version.state_machine_arn != machine_arn:
                raise self._error(
                    "ValidationException",
                    f"Version {version_arn} does not belong to state machine {machine_arn}", operation)

    def create_state_machine_alias(self, **params: Any) -> dict[str, Any]:
        op = "create_state_machine_alias"
        api.check_parameters(op, params)
        name = params["name"]
        self._check_name(name, op)
        routing = params["routingConfiguration"]
        if not routing:
            raise self._error("ValidationException", "Routing configuration must not be empty", op)
        machine_arn = routing[0]["stateMachineVersionArn"].rsplit(":", 1)[0]
        self._machine(machine_arn, op)
        self._check_routing(machine_arn, routing, op)
        now = _now()
        record = AliasRecord(
            arn=f"{machine_arn}:{name}", state_machine_arn=machine_arn, name=name,
            routing_configuration=[dict(r) for r in routing], creation_date=now, update_date=now,
            description=params.get("description"),
        )
        try:
            self.store.create_alias(record)
        except RecordExists:
            existing = self.store.get_alias(record.arn)
            if (existing.routing_configuration, existing.description) != (
                    record.routing_configuration, record.description):
                raise self._error(
                    "ConflictException",
                    f"Failed to create alias because an alias with the same name and a different routing "
                    f"configuration already exists: '{record.arn}'", op) from None
            return self._ok({"stateMachineAliasArn": existing.arn, "creationDate": existing.creation_date})
        return self._ok({"stateMachineAliasArn": record.arn, "creationDate": now})

    def _alias(self, arn: str, operation: str) -> AliasRecord:
        if len(self._check_arn(arn, "stateMachine", operation)) != 2:
            raise self._error("InvalidArn", f"Invalid Arn: 'Resource type not valid in this context: {arn}'",
                              operation)
        try:
            return self.store.get_alias(arn)
        except RecordNotFound:
            raise self._error("ResourceNotFound", f"Resource not found: '{arn}'", operation) from None

    def describe_state_machine_alias(self, **params: Any) -> dict[str, Any]:
        op = "describe_state_machine_alias"
        api.check_parameters(op, params)
        alias = self._alias(params["stateMachineAliasArn"], op)
        response: dict[str, Any] = {"stateMachineAliasArn": alias.arn, "name": alias.name}
        if alias.description:
            response["description"] = alias.description
        response.update({
            "routingConfiguration": alias.routing_configuration, "creationDate": alias.creation_date,
            "updateDate": alias.update_date,
        })
        return self._ok(response)

    def update_state_machine_alias(self, **params: Any) -> dict[str, Any]:
        op = "update_state_machine_alias"
        api.check_parameters(op, params)
        alias = self._alias(params["stateMachineAliasArn"], op)
        changes: dict[str, Any] = {"update_date": _now()}
        if "routingConfiguration" in params:
            self._check_routing(alias.state_machine_arn, params["routingConfiguration"], op)
            changes["routing_configuration"] = [dict(r) for r in params["routingConfiguration"]]
        if "description" in params:
            changes["description"] = params["description"]
        updated = self.store.update_alias(alias.arn, **changes)
        return self._ok({"updateDate": updated.update_date})

    def list_state_machine_aliases(self, **params: Any) -> dict[str, Any]:
        op = "list_state_machine_aliases"
        api.check_parameters(op, params)
        machine = self._machine(params["stateMachineArn"], op)
        items = [{"stateMachineAliasArn": a.arn, "creationDate": a.creation_date}
                 for a in self.store.list_aliases(machine.arn)]
        page, token = _page(items, params, f"aliases:{machine.arn}", op)
        response: dict[str, Any] = {"stateMachineAliases": page}
        if token:
            response["nextToken"] = token
        return self._ok(response)

    def delete_state_machine_alias(self, **params: Any) -> dict[str, Any]:
        op = "delete_state_machine_alias"
        api.check_parameters(op, params)
        self._alias(params["stateMachineAliasArn"], op)
        self.store.delete_alias(params["stateMachineAliasArn"])
        return self._ok({})

    # -- tags -----------------------------------------------------------------------------------------------

    def _tagged_resource(self, arn: str, operation: str) -> None:
        lookups: list[Callable[[str], Any]] = [
            self.store.get_state_machine, self.store.get_version, self.store.get_alias]
        for lookup in lookups:
            try:
                lookup(arn)
                return
            except RecordNotFound:
                continue
        raise self._error("ResourceNotFound", f"Resource not found: '{arn}'", operation)

    def tag_resource(self, **params: Any) -> dict[str, Any]:
        op = "tag_resource"
        api.check_parameters(op, params)
        self._tagged_resource(params["resourceArn"], op)
        self.store.tag(params["resourceArn"], [(t["key"], t.get("value", "")) for t in params["tags"]])
        return self._ok({})

    def untag_resource(self, **params: Any) -> dict[str, Any]:
        op = "untag_resource"
        api.check_parameters(op, params)
        self._tagged_resource(params["resourceArn"], op)
        self.store.untag(params["resourceArn"], params["tagKeys"])
        return self._ok({})

    def list_tags_for_resource(self, **params: Any) -> dict[str, Any]:
        op = "list_tags_for_resource"
        api.check_parameters(op, params)
        self._tagged_resource(params["resourceArn"], op)
        return self._ok({"tags": [{"key": k, "value": v} for k, v in self.store.tags(params["resourceArn"])]})

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
            type=machine.type, status="RUNNING", start_date=_now(), definition=definition, input=text,
            role_arn=role, version_arn=version_arn, alias_arn=alias_arn, trace_header=params.get("traceHeader"),
        )
        try:
            self.store.create_execution(record)
        except RecordExists:
            existing = self.store.get_execution(record.arn)
            # StartExecution is idempotent for a RUNNING execution with the same name and input.
            if existing.status == "RUNNING" and existing.input == text:
                return self._ok({"executionArn": existing.arn, "startDate": existing.start_date})
            raise self._error("ExecutionAlreadyExists", f"Execution Already Exists: '{record.arn}'", op) from None
        try:
            self._runner.start(record, mock=mock)
        except StepfnError as error:
            # The engine refused to start it (a definition only the engine can reject): it fails at once.
            self.store.finish_execution(record.arn, status="FAILED", stop_date=_now(), error="States.Runtime",
                                        cause=str(error))
        return self._ok({"executionArn": record.arn, "startDate": record.start_date})

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
        if record.type != "STANDARD":
            return "NOT_REDRIVABLE", "Execution is of type EXPRESS and cannot be redriven"
        if record.status in ("FAILED", "TIMED_OUT", "ABORTED"):
            if record.stop_date is not None and _now() - record.stop_date > REDRIVE_WINDOW:
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
        if "mapRunArn" in params:
            raise self._error("ValidationException", "Map Runs are not listed by the local backend", op)
        if "stateMachineArn" not in params:
            raise self._error("ValidationException", "Must provide a StateMachine ARN or MapRun ARN", op)
        arn = params["stateMachineArn"]
        parts = self._check_arn(arn, "stateMachine", op)
        filters: dict[str, Any] = {"status": params.get("statusFilter")}
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
        if params.get("redriveFilter"):
            filters["redriven"] = params["redriveFilter"] == "REDRIVEN"
        items = []
        for record in self.store.list_executions(filters.pop("state_machine_arn", None), **filters):
            item: dict[str, Any] = {
                "executionArn": record.arn, "stateMachineArn": record.state_machine_arn, "name": record.name,
                "status": record.status, "startDate": record.start_date,
            }
            if record.stop_date is not None:
                item["stopDate"] = record.stop_date
            if record.version_arn:
                item["stateMachineVersionArn"] = record.version_arn
            if record.alias_arn:
                item["stateMachineAliasArn"] = record.alias_arn
            if record.redrive_count:
                item["redriveCount"] = record.redrive_count
            if record.redrive_date is not None:
                item["redriveDate"] = record.redrive_date
            items.append(item)
        page, token = _page(items, params, f"executions:{arn}:{params.get('statusFilter')}", op)
        response: dict[str, Any] = {"executions": page}
        if token:
            response["nextToken"] = token
        return self._ok(response)

    def get_execution_history(self, **params: Any) -> dict[str, Any]:
        op = "get_execution_history"
        api.check_parameters(op, params)
        record = self._execution(params["executionArn"], op)
        reverse = bool(params.get("reverseOrder"))
        events = self.store.events(record.arn, reverse=reverse)
        if params.get("includeExecutionData") is False:
            events = [_without_data(event) for event in events]
        page, token = _page(events, params, f"history:{record.arn}:{reverse}", op)
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
            return self._ok({"stopDate": record.stop_date or _now()})
        if self._runner.stop(record.arn, error, cause):
            self._runner.wait(record.arn, timeout=30)
        else:
            orphan = next((o for o in self.store.find_orphans() if o.arn == record.arn), None)
            if orphan is not None and self.store.claim_execution(record.arn, orphan.owner):
                self._abort_unowned(record.arn, error, cause)
            else:
                # Another live process runs it; it polls the store for this request.
                self.store.request_stop(record.arn, error=error, cause=cause, when=_now())
                return self._ok({"stopDate": _now()})
        final = self.store.get_execution(record.arn)
        return self._ok({"stopDate": final.stop_date or _now()})

    def _abort_unowned(self, arn: str, error: str | None, cause: str | None) -> None:
        """Abort an execution no engine runs (its process died): record ExecutionAborted after its history."""
        last = self.store.events(arn, reverse=True, limit=1)
        last_id = last[0]["id"] if last else 0
        details: dict[str, Any] = {}
        if error is not None:
            details["error"] = error
        if cause is not None:
            details["cause"] = cause
        self.store.append_event(arn, {
            "timestamp": _now(), "type": "ExecutionAborted", "id": last_id + 1, "previousEventId": last_id,
            "executionAbortedEventDetails": details,
        })

    def redrive_execution(self, **params: Any) -> dict[str, Any]:
        op = "redrive_execution"
        api.check_parameters(op, params)
        record = self._execution(params["executionArn"], op)
        status, reason = self._redrive_status(record)
        if status != "REDRIVABLE":
            raise self._error("ExecutionNotRedrivable", f"Execution '{record.arn}' cannot be redriven: {reason}", op)
        try:
            redriven = self.store.start_redrive(record.arn, redrive_date=_now())
        except NotRedrivable as error:
            raise self._error("ExecutionNotRedrivable",
                              f"Execution '{record.arn}' cannot be redriven: it is {error.status}", op) from None
        try:
            self._runner.start(redriven, redrive=True)
        except StepfnError as error:
            self.store.finish_execution(record.arn, status=record.status, stop_date=record.stop_date or _now(),
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
            if code != "TaskDoesNotExist" or not self.store.others_running():
                raise self._error(code, f"{code}: '{token}'", op) from None
            outcome = self._relay(token, kind, payload)
            if outcome != "delivered":
                code = outcome or code
                raise self._error(code, f"{code}: '{token}'", op) from None
        return self._ok({})

    def _relay(self, token: str, kind: str, payload: dict[str, Any]) -> str | None:
        callback_id = self.store.post_callback(token, kind, **payload)
        deadline = time.monotonic() + CALLBACK_RELAY_SECONDS
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
            json.loads(params["output"])
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


__all__ = ["LocalStepFunctionsClient"]

