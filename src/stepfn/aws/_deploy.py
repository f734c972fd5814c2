"""State machine settings beyond the original SDK: type, logging, tracing, tags, versions, aliases.

``Workflow`` builds its Step Functions calls from these so that the local client and boto3 receive
the same requests. Builders (``build_*``) are pure and validate eagerly, naming the argument at
fault, because Step Functions only reports a bad logging level or a log group without ``:*`` after
the role and definition have been checked. ``publish_version``, ``deploy_alias`` and
``start_sync_execution`` do the I/O with any client that has boto3's stepfunctions interface.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Mapping, Sequence
from typing import Any

from stepfn.errors import StepfnError

STATE_MACHINE_TYPES = ("STANDARD", "EXPRESS")
LOG_LEVELS = ("ALL", "ERROR", "FATAL", "OFF")

TagsArgument = Sequence[Mapping[str, str]] | Mapping[str, str] | None


class DeploymentConfigError(StepfnError, ValueError):
    """A deployment setting (type, logging, tracing, tags, alias routing) is invalid."""


def build_tags(tags: TagsArgument) -> list[dict[str, str]]:
    """Tags in the API's ``[{"key": ..., "value": ...}]`` form from that form or a plain mapping.

    The original SDK passed ``tags`` through untouched; a ``{"team": "ml"}`` dict then failed at the
    API with a type error that named neither the argument nor the expected shape.
    """
    if tags is None:
        return []
    if isinstance(tags, Mapping):
        return [{"key": str(key), "value": str(value)} for key, value in tags.items()]
    result: list[dict[str, str]] = []
    for index, tag in enumerate(tags):
        if not isinstance(tag, Mapping) or "key" not in tag:
            raise DeploymentConfigError(
                f"tags[{index}] must be a mapping {{'key': ..., 'value': ...}}, got {tag!r}"
            )
        result.append({"key": str(tag["key"]), "value": str(tag.get("value", ""))})
    return result


def build_logging_configuration(
    logging: Mapping[str, Any] | str | None = None,
    *,
    log_group_arn: str | None = None,
    include_execution_data: bool = False,
) -> dict[str, Any] | None:
    """``loggingConfiguration`` for CreateStateMachine/UpdateStateMachine.

    ``logging`` is either the API dict itself (validated and passed on) or a level name, with the
    CloudWatch Logs group given by ``log_group_arn``. Step Functions requires the group ARN to end
    in ``:*``; it is added when missing.
    """
    if logging is None:
        return None
    if isinstance(logging, str):
        config: dict[str, Any] = {"level": logging.upper(), "includeExecutionData": include_execution_data}
        if log_group_arn:
            config["destinations"] = [{"cloudWatchLogsLogGroup": {"logGroupArn": log_group_arn}}]
    else:
        config = json.loads(json.dumps(dict(logging)))
    level = config.get("level", "OFF")
    if level not in LOG_LEVELS:
        raise DeploymentConfigError(f"logging level must be one of {', '.join(LOG_LEVELS)}, got {level!r}")
    destinations = config.get("destinations") or []
    if level != "OFF" and not destinations:
        raise DeploymentConfigError(f"logging level {level!r} needs a CloudWatch Logs group: pass log_group_arn=...")
    for destination in destinations:
        group = destination.get("cloudWatchLogsLogGroup", {})
        arn = group.get("logGroupArn", "")
        if not arn.startswith("arn:") or ":log-group:" not in arn:
            raise DeploymentConfigError(f"logGroupArn {arn!r} is not a CloudWatch Logs log group ARN")
        if not arn.endswith(":*"):
            group["logGroupArn"] = f"{arn}:*"
    return config


def build_tracing_configuration(tracing: bool | Mapping[str, Any] | None) -> dict[str, bool] | None:
    """``tracingConfiguration`` (X-Ray) from a bool or the API dict."""
    if tracing is None:
        return None
    if isinstance(tracing, Mapping):
        return {"enabled": bool(tracing.get("enabled", False))}
    return {"enabled": bool(tracing)}


def check_state_machine_type(state_machine_type: str | None) -> str:
    kind = (state_machine_type or "STANDARD").upper()
    if kind not in STATE_MACHINE_TYPES:
        raise DeploymentConfigError(f"state machine type must be STANDARD or EXPRESS, got {state_machine_type!r}")
    return kind


def build_create_state_machine_request(
    *,
    name: str,
    definition: str,
    role_arn: str,
    tags: TagsArgument = None,
    state_machine_type: str | None = None,
    logging: Mapping[str, Any] | str | None = None,
    log_group_arn: str | None = None,
    include_execution_data: bool = False,
    tracing: bool | Mapping[str, Any] | None = None,
    publish: bool = False,
    version_description: str | None = None,
) -> dict[str, Any]:
    """The keyword arguments of ``create_state_machine``, with optional members only when set.

    With no optional setting the request is exactly the original SDK's
    (``name, definition, roleArn, tags``), so golden wire formats do not move.
    """
    request: dict[str, Any] = {"name": name, "definition": definition, "roleArn": role_arn, "tags": build_tags(tags)}
    if state_machine_type is not None:
        request["type"] = check_state_machine_type(state_machine_type)
    return _add_settings(
        request, logging=logging, log_group_arn=log_group_arn, include_execution_data=include_execution_data,
        tracing=tracing, publish=publish, version_description=version_description,
    )


def build_update_state_machine_request(
    *,
    state_machine_arn: str,
    definition: str | None = None,
    role_arn: str | None = None,
    logging: Mapping[str, Any] | str | None = None,
    log_group_arn: str | None = None,
    include_execution_data: bool = False,
    tracing: bool | Mapping[str, Any] | None = None,
    publish: bool = False,
    version_description: str | None = None,
) -> dict[str, Any]:
    """The keyword arguments of ``update_state_machine``; members left unset are not sent (and not changed)."""
    request: dict[str, Any] = {"stateMachineArn": state_machine_arn}
    if definition is not None:
        request["definition"] = definition
    if role_arn is not None:
        request["roleArn"] = role_arn
    return _add_settings(
        request, logging=logging, log_group_arn=log_group_arn, include_execution_data=include_execution_data,
        tracing=tracing, publish=publish, version_description=version_description,
    )


def _add_settings(
    request: dict[str, Any],
    *,
    logging: Mapping[str, Any] | str | None,
    log_group_arn: str | None,
    include_execution_data: bool,
    tracing: bool | Mapping[str, Any] | None,
    publish: bool,
    version_description: str | None,
) -> dict[str, Any]:
    """The members CreateStateMachine and UpdateStateMachine share, added only when set."""
    logging_configuration = build_logging_configuration(
        logging, log_group_arn=log_group_arn, include_execution_data=include_execution_data
    )
    if logging_configuration is not None:
        request["loggingConfiguration"] = logging_configuration
    tracing_configuration = build_tracing_configuration(tracing)
    if tracing_configuration is not None:
        request["tracingConfiguration"] = tracing_configuration
    if publish:
        request["publish"] = True
        if version_description:
            request["versionDescription"] = version_description
    return request


def build_alias_routing(versions: str | Mapping[str, int] | Sequence[tuple[str, int]]) -> list[dict[str, Any]]:
    """``routingConfiguration``: one version ARN (100 %) or up to two ``version ARN -> weight`` pairs summing to 100."""
    if isinstance(versions, str):
        pairs: list[tuple[str, int]] = [(versions, 100)]
    elif isinstance(versions, Mapping):
        pairs = [(str(arn), int(weight)) for arn, weight in versions.items()]
    else:
        pairs = [(str(arn), int(weight)) for arn, weight in versions]
    if not 1 <= len(pairs) <= 2:
        raise DeploymentConfigError(f"an alias routes to one or two versions, got {len(pairs)}")
    if sum(weight for _, weight in pairs) != 100:
        raise DeploymentConfigError(f"alias routing weights must sum to 100, got {[w for _, w in pairs]}")
    for arn, weight in pairs:
        if arn.count(":") != 7 or not arn.rsplit(":", 1)[1].isdigit():
            raise DeploymentConfigError(f"{arn!r} is not a state machine version ARN (…:stateMachine:<name>:<n>)")
        if not 0 <= weight <= 100:
            raise DeploymentConfigError(f"weight {weight} of {arn!r} is outside 0..100")
    return [{"stateMachineVersionArn": arn, "weight": weight} for arn, weight in pairs]


def publish_version(client: Any, state_machine_arn: str, *, description: str | None = None) -> str:
    """Publish the state machine's current revision as a numbered version; returns the version ARN."""
    request: dict[str, Any] = {"stateMachineArn": state_machine_arn}
    if description:
        request["description"] = description
    return str(client.publish_state_machine_version(**request)["stateMachineVersionArn"])


def deploy_alias(
    client: Any,
    state_machine_arn: str,
    alias_name: str,
    versions: str | Mapping[str, int] | Sequence[tuple[str, int]],
    *,
    description: str | None = None,
) -> str:
    """Point alias ``alias_name`` of a state machine at ``versions``: update it if it exists, else create it."""
    routing = build_alias_routing(versions)
    alias_arn = f"{state_machine_arn}:{alias_name}"
    exists = True
    try:
        client.describe_state_machine_alias(stateMachineAliasArn=alias_arn)
    except client.exceptions.ResourceNotFound:
        exists = False
    if exists:
        update: dict[str, Any] = {"stateMachineAliasArn": alias_arn, "routingConfiguration": routing}
        if description is not None:
            update["description"] = description
        client.update_state_machine_alias(**update)
        return alias_arn
    create: dict[str, Any] = {"name": alias_name, "routingConfiguration": routing}
    if description is not None:
        create["description"] = description
    return str(client.create_state_machine_alias(**create)["stateMachineAliasArn"])


def start_sync_execution(
    client: Any, state_machine_arn: str, *, input: Any = None, name: str | None = None, format_json: bool = True
) -> dict[str, Any]:
    """Run an EXPRESS workflow synchronously (``StartSyncExecution``) and return the response as boto3 gives it.

    ``input`` is encoded as ``Workflow.execute`` encodes it (indented unless ``format_json=False``).
    Step Functions rejects StartSyncExecution for STANDARD state machines with
    ``StateMachineTypeNotSupported``; that error reaches the caller unchanged.
    """
    request: dict[str, Any] = {"stateMachineArn": state_machine_arn}
    if name is not None:
        request["name"] = name
    if input is not None:
        request["input"] = json.dumps(input, indent=4) if format_json else json.dumps(input)
    response = dict(client.start_sync_execution(**request))
    response.pop("ResponseMetadata", None)
    return response


def already_exists_error(client: Any) -> type[BaseException] | tuple[()]:
    """The client's StateMachineAlreadyExists class, or nothing to catch for a test double (``MagicMock()``)
    whose ``exceptions`` attribute holds no exception class."""
    error = getattr(getattr(client, "exceptions", None), "StateMachineAlreadyExists", None)
    return error if isinstance(error, type) and issubclass(error, BaseException) else ()


def existing_state_machine_arn(client: Any, name: str) -> str:
    """The ARN of the machine a StateMachineAlreadyExists is about, found by listing the machines: the error's
    message is for people (the original SDK parsed it; a wording change would break that)."""
    return _find_state_machine(client, name)


def create_or_update_state_machine(client: Any, create: Mapping[str, Any],
                                   update: Mapping[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
    """CreateStateMachine with the ``create`` request, or, where a machine of that name exists, UpdateStateMachine
    of it with the members in ``update`` (default: ``create``'s definition and role; the machine's ARN is added);
    returns the ARN and the response of the call that made the definition current.

    The one create-then-update path of ``Workflow.create_or_update``, :func:`deploy_workflow` and ``stepfn run``.
    Create comes first, so a new name costs one call and there is no window between a listing and the create:
    a machine another process creates meanwhile is a StateMachineAlreadyExists (a changed definition) or an
    idempotent create that hands back the existing machine, updated when its definition or role differ
    (:func:`differs_from_existing_machine`)."""
    started = datetime.datetime.now(datetime.UTC)
    try:
        created: dict[str, Any] = client.create_state_machine(**create)
    except already_exists_error(client):
        arn = existing_state_machine_arn(client, str(create["name"]))
    else:
        arn = str(created["stateMachineArn"])
        if not differs_from_existing_machine(client, created, started, create["definition"], create["roleArn"]):
            return arn, created
    changes = dict(update) if update is not None else {"definition": create["definition"],
                                                        "roleArn": create["roleArn"]}
    updated: dict[str, Any] = client.update_state_machine(**{**changes, "stateMachineArn": arn})
    return arn, updated


def deploy_workflow(
    workflow: Any,
    *,
    bucket: str | None = None,
    prefix: str = "stepfn",
    include_data: bool = False,
    publish: bool = False,
    version_description: str | None = None,
    alias: str | None = None,
    s3_client: Any = None,
) -> str:
    """Create or update ``workflow`` on AWS with its local code uploaded; returns the state machine ARN.

    ``workflow`` is a :class:`stepfn.workflow.Workflow` whose ``client`` is a boto3 stepfunctions client
    (``backend="aws"``). In order: the role is checked (a clear error before anything is sent), local
    ``source_dir`` code (and data with ``include_data``) is uploaded and the definition pointed at it,
    then CreateStateMachine with the workflow's tags, type, logging and tracing -- or UpdateStateMachine
    when the name is taken. ``publish`` publishes a version; ``alias`` then points that alias at it.
    The workflow's ``state_machine_arn`` is set.
    """
    from stepfn.aws._clients import check_role_arn
    from stepfn.aws._code import prepare_definition_for_aws

    client = workflow.client
    role = check_role_arn(workflow.role, what=f"workflow {workflow.name!r}")
    definition = prepare_definition_for_aws(
        workflow.definition.to_json(pretty=workflow.format_json), client=client, bucket=bucket, prefix=prefix,
        include_data=include_data, s3_client=s3_client,
    )
    settings: dict[str, Any] = {
        "logging": getattr(workflow, "logging_configuration", None),
        "tracing": getattr(workflow, "tracing_configuration", None),
        "publish": publish,
        "version_description": version_description,
    }
    arn = workflow.state_machine_arn
    update = build_update_state_machine_request(state_machine_arn=arn or "", definition=definition, role_arn=role,
                                                **settings)
    if arn is None:
        del update["stateMachineArn"]  # the machine found by the create
        arn, response = create_or_update_state_machine(client, build_create_state_machine_request(
            name=workflow.name, definition=definition, role_arn=role, tags=workflow.tags,
            state_machine_type=getattr(workflow, "state_machine_type", None), **settings,
        ), update)
    else:
        response = client.update_state_machine(**update)
    version_arn = response.get("stateMachineVersionArn")
    workflow.state_machine_arn = arn
    if alias is not None:
        if version_arn is None:
            raise DeploymentConfigError("alias= needs publish=True: an alias routes to a published version")
        deploy_alias(client, arn, alias, version_arn)
    return str(arn)


def differs_from_existing_machine(client: Any, created: Mapping[str, Any], started: datetime.datetime,
                                  definition: str, role: str) -> bool:
    """Whether CreateStateMachine handed back a machine that existed before ``started`` with another definition
    or role, so it still needs an update.

    AWS raises StateMachineAlreadyExists for a changed definition, but emulators users test with (moto) return
    the existing machine whatever the definition. The extra DescribeStateMachine is made only when the returned
    machine is older than the call. No slack for clock skew: only emulators on this machine's clock can get here
    with a changed definition; skew towards AWS costs one describe that finds nothing to update.
    """
    created_at = created.get("creationDate")
    if not isinstance(created_at, datetime.datetime):
        return False
    if created_at.tzinfo is None:
        created_at = created_at.replace(tzinfo=datetime.UTC)
    if created_at >= started:
        return False
    existing = client.describe_state_machine(stateMachineArn=created["stateMachineArn"])
    return bool(existing.get("definition") != definition or existing.get("roleArn") != role)


def _find_state_machine(client: Any, name: str) -> str:
    """The ARN of the state machine called ``name`` (rather than reading it out of an error message)."""
    for page in client.get_paginator("list_state_machines").paginate():
        for machine in page["stateMachines"]:
            if machine["name"] == name:
                return str(machine["stateMachineArn"])
    raise DeploymentConfigError(f"state machine {name!r} exists but is not listed; check states:ListStateMachines")
