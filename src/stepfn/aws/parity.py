"""Run one workflow on two Step Functions endpoints and report how the runs differ.

The local engine is meant to behave as AWS does; :func:`compare_backends` checks that claim for a
given definition and input. Both sides are clients with boto3's stepfunctions interface: the local
one is ``LocalStepFunctionsClient``, the remote one a boto3 client for AWS, moto or any endpoint
speaking the API. Use it with service-free workflows (Pass, Choice, Wait, Parallel, Map, Fail,
intrinsics): a Task calling a real service would make the two runs do different things.

Compared: the final status, the output (as JSON values, so whitespace and key order do not count),
the error and cause of a failure, and the sequence of history event types. Event ids, timestamps
and ARNs always differ and are not compared.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from stepfn._partitions import LOCAL_ACCOUNT

_TERMINAL = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"})
_DEFAULT_ROLE = f"arn:aws:iam::{LOCAL_ACCOUNT}:role/stepfn-parity"


@dataclass(frozen=True)
class BackendRun:
    """What one backend did: the execution's final description and its history's event types.

    ``status`` is ``REJECTED`` when the endpoint refused to create the state machine, ``API_ERROR``
    when it refused to start or describe the execution; the API error code and message are then
    the error and cause.
    """

    status: str
    output: Any
    error: str | None
    cause: str | None
    event_types: tuple[str, ...]
    execution_arn: str


@dataclass(frozen=True)
class ParityReport:
    local: BackendRun
    remote: BackendRun
    differences: tuple[str, ...] = field(default=())

    @property
    def same(self) -> bool:
        return not self.differences

    def __str__(self) -> str:
        if self.same:
            return f"local and remote agree: {self.local.status}, {len(self.local.event_types)} events"
        return "local and remote differ:\n" + "\n".join(f"  - {line}" for line in self.differences)


def compare_backends(
    definition: Mapping[str, Any] | str,
    input: Any = None,
    *,
    local_client: Any,
    remote_client: Any,
    role_arn: str = _DEFAULT_ROLE,
    name: str | None = None,
    state_machine_type: str = "STANDARD",
    timeout: float = 60.0,
    poll_interval: float = 0.05,
    ordered_events: bool = True,
    cleanup: bool = True,
) -> ParityReport:
    """Create, run and compare ``definition`` with ``input`` on both clients.

    ``ordered_events=False`` compares event types as a multiset, for definitions whose Parallel
    branches or Map iterations may interleave differently from run to run.
    """
    text = definition if isinstance(definition, str) else json.dumps(definition)
    base = name or f"parity-{uuid.uuid4().hex[:12]}"
    runs = []
    for client in (local_client, remote_client):
        runs.append(
            _run(client, text, input, role_arn=role_arn, name=base, state_machine_type=state_machine_type,
                 timeout=timeout, poll_interval=poll_interval, cleanup=cleanup)
        )
    local, remote = runs
    return ParityReport(local, remote, tuple(_differences(local, remote, ordered_events=ordered_events)))


def _run(
    client: Any,
    definition: str,
    input: Any,
    *,
    role_arn: str,
    name: str,
    state_machine_type: str,
    timeout: float,
    poll_interval: float,
    cleanup: bool,
) -> BackendRun:
    from botocore.exceptions import ClientError

    try:
        created = client.create_state_machine(name=name, definition=definition, roleArn=role_arn, type=state_machine_type)
    except ClientError as error:
        # One side refusing a definition the other runs is a difference worth reporting, not a crash.
        return _api_error_run("REJECTED", error)
    machine_arn = created["stateMachineArn"]
    try:
        start: dict[str, Any] = {"stateMachineArn": machine_arn, "name": f"{name}-run"}
        if input is not None:
            start["input"] = json.dumps(input)
        execution_arn = client.start_execution(**start)["executionArn"]
        description = _wait(client, execution_arn, timeout=timeout, poll_interval=poll_interval)
        event_types = tuple(
            event["type"]
            for page in client.get_paginator("get_execution_history").paginate(executionArn=execution_arn)
            for event in page["events"]
        )
    except ClientError as error:
        return _api_error_run("API_ERROR", error)
    finally:
        if cleanup:
            client.delete_state_machine(stateMachineArn=machine_arn)
    return BackendRun(
        status=description["status"],
        output=_decode(description.get("output")),
        error=description.get("error"),
        cause=description.get("cause"),
        event_types=event_types,
        execution_arn=execution_arn,
    )


def _api_error_run(status: str, error: Any) -> BackendRun:
    details = error.response.get("Error", {})
    return BackendRun(status, None, details.get("Code"), details.get("Message"), (), "")


def _decode(output: str | None) -> Any:
    """The output as a JSON value; text that is not JSON (an endpoint's bug) is kept as the raw string."""
    if output is None:
        return None
    try:
        return json.loads(output)
    except ValueError:
        return output


def _wait(client: Any, execution_arn: str, *, timeout: float, poll_interval: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        description: dict[str, Any] = client.describe_execution(executionArn=execution_arn)
        if description["status"] in _TERMINAL:
            return description
        if time.monotonic() > deadline:
            raise TimeoutError(f"execution {execution_arn} still {description['status']} after {timeout} s")
        time.sleep(poll_interval)


def _differences(local: BackendRun, remote: BackendRun, *, ordered_events: bool) -> list[str]:
    found: list[str] = []
    if local.status != remote.status:
        found.append(f"status: local {local.status}, remote {remote.status}")
    if local.output != remote.output:
        found.append(f"output: local {json.dumps(local.output)}, remote {json.dumps(remote.output)}")
    if local.error != remote.error:
        found.append(f"error: local {local.error!r}, remote {remote.error!r}")
    if local.cause != remote.cause:
        found.append(f"cause: local {local.cause!r}, remote {remote.cause!r}")
    if ordered_events:
        if local.event_types != remote.event_types:
            found.append(_first_event_difference(local.event_types, remote.event_types))
    else:
        missing = Counter(remote.event_types) - Counter(local.event_types)
        extra = Counter(local.event_types) - Counter(remote.event_types)
        if missing or extra:
            found.append(f"event types: local lacks {dict(missing)}, local has extra {dict(extra)}")
    return found


def _first_event_difference(local: tuple[str, ...], remote: tuple[str, ...]) -> str:
    for index, (mine, theirs) in enumerate(zip(local, remote, strict=False)):
        if mine != theirs:
            return f"event types differ at event {index + 1}: local {mine}, remote {theirs}"
    shorter, longer, which = (local, remote, "remote") if len(local) < len(remote) else (remote, local, "local")
    rest = ", ".join(longer[len(shorter):])
    return f"event types: {which} has {len(longer) - len(shorter)} more event(s) at the end: {rest}"


__all__ = ["BackendRun", "ParityReport", "compare_backends"]
