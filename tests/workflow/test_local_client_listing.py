"""ListExecutions pages by keyset: correct pages, stable while executions start, rows without inputs or outputs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from stepfn.store import ExecutionRecord, ExecutionSummary, Store
from stepfn.workflow.local_client import LocalStepFunctionsClient

ROLE = "arn:aws:iam::123456789012:role/StepFunctionsRole"
T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
BIG = json.dumps({"payload": "x" * 10_000})


@pytest.fixture
def client(stepfn_home: Path) -> Iterator[LocalStepFunctionsClient]:
    c = LocalStepFunctionsClient(home=stepfn_home)
    yield c
    c.close()


def _machine(client: LocalStepFunctionsClient, name: str = "m") -> str:
    definition = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
    arn: str = client.create_state_machine(name=name, definition=json.dumps(definition), roleArn=ROLE)["stateMachineArn"]
    return arn


def _add(store: Store, machine_arn: str, names: range | list[str], status: str = "SUCCEEDED") -> None:
    """Finished executions written straight to the store (as many as a test needs, in milliseconds)."""
    for index, name in enumerate(names):
        arn = machine_arn.replace(":stateMachine:", ":execution:") + f":{name}"
        store.create_execution(ExecutionRecord(
            arn=arn, state_machine_arn=machine_arn, name=str(name), type="STANDARD", status=status,
            start_date=T0 + timedelta(seconds=index), stop_date=T0 + timedelta(seconds=index + 1),
            definition="{}", input=BIG, output=BIG), owned=False)


def _names(page: dict[str, Any]) -> list[str]:
    return [item["name"] for item in page["executions"]]


def test_pages_are_newest_first_and_complete(client: LocalStepFunctionsClient, stepfn_home: Path) -> None:
    machine = _machine(client)
    store = Store(stepfn_home)
    _add(store, machine, [f"e{i:03d}" for i in range(250)])
    pages = [client.list_executions(stateMachineArn=machine, maxResults=100)]
    while "nextToken" in pages[-1]:
        pages.append(client.list_executions(stateMachineArn=machine, maxResults=100, nextToken=pages[-1]["nextToken"]))
    assert [len(page["executions"]) for page in pages] == [100, 100, 50]
    assert [name for page in pages for name in _names(page)] == [f"e{i:03d}" for i in reversed(range(250))]
    paginated = client.get_paginator("list_executions").paginate(stateMachineArn=machine, PaginationConfig={"PageSize": 60})
    assert [n for page in paginated for n in _names(page)] == [f"e{i:03d}" for i in reversed(range(250))]
    store.close()


def test_executions_started_while_paging_shift_nothing(client: LocalStepFunctionsClient, stepfn_home: Path) -> None:
    machine = _machine(client)
    store = Store(stepfn_home)
    _add(store, machine, [f"old{i:02d}" for i in range(30)])
    first = client.list_executions(stateMachineArn=machine, maxResults=10)
    _add(store, machine, [f"new{i:02d}" for i in range(5)])  # newer than everything listed so far
    seen = _names(first)
    token = first.get("nextToken")
    while token:
        page = client.list_executions(stateMachineArn=machine, maxResults=10, nextToken=token)
        seen += _names(page)
        token = page.get("nextToken")
    assert seen == [f"old{i:02d}" for i in reversed(range(30))]  # no repeats, no gaps
    store.close()


def test_filters_and_tokens_belong_to_their_listing(client: LocalStepFunctionsClient, stepfn_home: Path) -> None:
    machine = _machine(client)
    other = _machine(client, "other")
    store = Store(stepfn_home)
    _add(store, machine, [f"ok{i}" for i in range(5)])
    _add(store, machine, [f"bad{i}" for i in range(4)], status="FAILED")
    _add(store, other, ["elsewhere"])
    failed = client.list_executions(stateMachineArn=machine, statusFilter="FAILED", maxResults=3)
    assert _names(failed) == ["bad3", "bad2", "bad1"]
    rest = client.list_executions(stateMachineArn=machine, statusFilter="FAILED", maxResults=3,
                                  nextToken=failed["nextToken"])
    assert _names(rest) == ["bad0"] and "nextToken" not in rest
    with pytest.raises(ClientError) as raised:
        client.list_executions(stateMachineArn=machine, maxResults=3, nextToken=failed["nextToken"])
    assert raised.value.response["Error"]["Code"] == "InvalidToken"
    assert _names(client.list_executions(stateMachineArn=other)) == ["elsewhere"]
    store.close()


def test_listing_rows_leave_inputs_and_outputs_behind(client: LocalStepFunctionsClient, stepfn_home: Path) -> None:
    machine = _machine(client)
    store = Store(stepfn_home)
    _add(store, machine, ["a", "b"])
    rows = store.list_executions(machine, limit=1)
    assert [type(row) for row in rows] == [ExecutionSummary]
    assert not hasattr(rows[0], "input") and not hasattr(rows[0], "output")
    assert [row.name for row in store.list_executions(machine, before_seq=rows[0].seq)] == ["a"]
    item = client.list_executions(stateMachineArn=machine)["executions"][0]
    assert "input" not in item and "output" not in item
    assert client.describe_execution(executionArn=item["executionArn"])["input"] == BIG
    store.close()
