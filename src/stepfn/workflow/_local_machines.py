"""State machine, version, alias and tag operations of the local client (boto3's method names and shapes)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from stepfn.store import (
    AliasRecord,
    RecordExists,
    RecordNotFound,
    StateMachineRecord,
)
from stepfn.workflow import _local_api as api
from stepfn.workflow._local_base import DEFAULT_LOGGING, DEFAULT_TRACING, LocalClientBase, build_page, now_utc


class MachineOperations(LocalClientBase):
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
        now = now_utc()
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
                "loggingConfiguration": version.logging_configuration or dict(DEFAULT_LOGGING),
                "tracingConfiguration": version.tracing_configuration or dict(DEFAULT_TRACING),
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
            "loggingConfiguration": machine.logging_configuration or dict(DEFAULT_LOGGING),
            "tracingConfiguration": machine.tracing_configuration or dict(DEFAULT_TRACING),
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
        now = now_utc()
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
        page, token = build_page(items, params, "list_state_machines", op)
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
            "loggingConfiguration": dict(DEFAULT_LOGGING), "tracingConfiguration": dict(DEFAULT_TRACING),
        }
        if record.map_run_arn is not None:
            # A Map Run child runs the Map's ItemProcessor, a state machine named <machine>/<label>.
            response.update({"mapRunArn": record.map_run_arn, "label": machine_name.rpartition("/")[2]})
        return self._ok(response)

    # -- versions and aliases -------------------------------------------------------------------------------

    def publish_state_machine_version(self, **params: Any) -> dict[str, Any]:
        op = "publish_state_machine_version"
        api.check_parameters(op, params)
        machine = self._machine(params["stateMachineArn"], op)
        try:
            version = self.store.publish_version(
                machine.arn, creation_date=now_utc(), description=params.get("description"),
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
        page, token = build_page(items, params, f"versions:{machine.arn}", op)
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
        now = now_utc()
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
        changes: dict[str, Any] = {"update_date": now_utc()}
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
        page, token = build_page(items, params, f"aliases:{machine.arn}", op)
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


__all__ = ["MachineOperations"]
