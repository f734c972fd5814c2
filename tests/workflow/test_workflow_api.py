"""Workflow / Execution: the calls they send (a recording client) and their behaviour on the local client."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from stepfn.exceptions import MissingRequiredParameter, WorkflowNotFound
from stepfn.inputs import ExecutionInput
from stepfn.steps import Chain, Choice, ChoiceRule, Fail, FrozenGraph, LambdaStep, Pass, Succeed
from stepfn.workflow import EventsList, Execution, ExecutionsList, ExecutionStatus, Workflow, WorkflowList
from stepfn.workflow._local_api import exceptions
from stepfn.workflow.local_client import LocalStepFunctionsClient
from stepfn.workflow.workflow import local_client

ROLE = "arn:aws:iam::123456789012:role/StepFunctionsRole"
START = datetime(2024, 1, 1, tzinfo=UTC)


class RecordingClient:
    """A stand-in with boto3's interface that records each call and answers with canned responses."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.exceptions = exceptions()  # botocore's classes, as a boto3 client has them

    def start_execution(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("start_execution", kwargs))
        name = kwargs.get("name", "generated")
        return {"executionArn": f"arn:aws:states:us-east-1:1:execution:P:{name}", "startDate": START}

    def create_state_machine(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("create_state_machine", kwargs))
        return {"stateMachineArn": f"arn:aws:states:us-east-1:1:stateMachine:{kwargs['name']}", "creationDate": START}

    def get_paginator(self, name: str) -> Any:
        calls = self.calls

        class Paginator:
            def paginate(self, **kwargs: Any) -> list[dict[str, Any]]:
                calls.append((name, kwargs))
                return [{"executions": [{"executionArn": "arn:aws:states:us-east-1:1:execution:P:e", "name": "e",
                                         "stateMachineArn": "arn:aws:states:us-east-1:1:stateMachine:P",
                                         "status": "SUCCEEDED", "startDate": START, "stopDate": START}]}]

        return Paginator()


def placeholder_workflow(client: Any) -> Workflow:
    execution_input = ExecutionInput(schema={"JobName": str, "Nested": {"X": int}})
    lambda1 = LambdaStep("Lambda1", parameters={
        "FunctionName": "f",
        "Payload": {"name": execution_input["JobName"], "x": execution_input["Nested"]["X"], "all": execution_input},
    })
    lambda2 = LambdaStep("Lambda2", parameters={
        "FunctionName": "g", "Payload": {"prev": lambda1.output()["Payload"]["body"], "list": [{"k": lambda1.output()[0]}]},
    })
    check = Choice("Check")
    check.add_choice(ChoiceRule.StringEquals(lambda2.output()["status"], "OK"), Succeed("Done"))
    check.default_choice(Fail("Bad"))
    return Workflow("P", Chain([lambda1, lambda2, check]), ROLE, execution_input=execution_input,
                    state_machine_arn="arn:aws:states:us-east-1:1:stateMachine:P", client=client)


def test_execute_sends_the_golden_call(golden_dir: Path) -> None:
    client = RecordingClient()
    workflow = placeholder_workflow(client)
    execution = workflow.execute(name="e", inputs={"JobName": "j", "Nested": {"X": 1}})
    assert client.calls == [("start_execution", json.loads((golden_dir / "03_placeholders.execute_call.json").read_text()))]
    assert execution.status is ExecutionStatus.Running and execution.start_date == START
    assert execution.execution_arn == "arn:aws:states:us-east-1:1:execution:P:e"


def test_execute_validates_input_including_none() -> None:
    workflow = placeholder_workflow(RecordingClient())
    with pytest.raises(ValueError, match="Expected run input with the schema"):
        workflow.execute(inputs={"JobName": 3})
    with pytest.raises(ValueError, match="Expected run input with the schema"):  # §11 #1: no AttributeError
        workflow.execute()


def test_execute_compact_input_and_missing_arn() -> None:
    client = RecordingClient()
    workflow = Workflow("W", Pass("P"), ROLE, client=client, format_json=False)
    with pytest.raises(WorkflowNotFound):
        workflow.execute(inputs={"a": 1})
    workflow.state_machine_arn = "arn:aws:states:us-east-1:1:stateMachine:W"
    workflow.execute(inputs={"a": [1, 2]})
    assert client.calls[-1] == ("start_execution", {"stateMachineArn": workflow.state_machine_arn,
                                                    "input": '{"a": [1, 2]}'})


def test_list_executions_statuses_are_enums() -> None:
    client = RecordingClient()
    workflow = Workflow("P", Pass("P"), ROLE, client=client, state_machine_arn="arn:aws:states:us-east-1:1:stateMachine:P")
    runs = workflow.list_executions(max_items=5, status_filter=ExecutionStatus.Succeeded)
    assert client.calls[-1] == ("list_executions", {
        "stateMachineArn": "arn:aws:states:us-east-1:1:stateMachine:P",
        "PaginationConfig": {"MaxItems": 5, "PageSize": 1000}, "statusFilter": "SUCCEEDED"})
    assert isinstance(runs, ExecutionsList) and runs[0].status is ExecutionStatus.Succeeded  # §11 #6
    assert runs[0].status == "SUCCEEDED"
    assert "<table" in runs.to_html() and "SUCCEEDED" in runs.to_html()
    assert Workflow("X", Pass("P"), ROLE, client=client).list_executions() == []


def test_tags_default_is_not_shared_and_copied() -> None:
    client = RecordingClient()
    tags = [{"key": "k", "value": "v"}]
    first = Workflow("A", Pass("P"), ROLE, client=client, tags=tags)
    second = Workflow("B", Pass("P"), ROLE, client=client)
    first.tags.append({"key": "x", "value": "y"})
    assert tags == [{"key": "k", "value": "v"}] and second.tags == []  # §11 #15
    second.create()
    assert client.calls[-1][1]["tags"] == []


def test_create_call_and_repr() -> None:
    client = RecordingClient()
    workflow = Workflow("Hello", Pass("P"), ROLE, client=client, comment="c")
    assert repr(workflow) == f"Workflow(name='Hello', role='{ROLE}', state_machine_arn=None)"
    assert workflow._repr_html_() == "Workflow: Does Not Exist."
    arn = workflow.create()
    name, params = client.calls[-1]
    assert name == "create_state_machine"
    assert params == {"name": "Hello", "definition": workflow.definition.to_json(pretty=True), "roleArn": ROLE,
                      "tags": []}
    assert json.loads(params["definition"])["Comment"] == "c"
    assert arn == workflow.state_machine_arn
    assert "#/statemachines/view/" + arn in workflow._repr_html_()


def test_local_lifecycle(caplog: pytest.LogCaptureFixture) -> None:
    workflow = Workflow("Life", Pass("P"), ROLE)
    assert isinstance(workflow.client, LocalStepFunctionsClient)
    assert workflow.client is local_client()  # one client per home and process
    arn = workflow.create()
    assert arn is not None and arn.endswith(":stateMachine:Life")
    again = Workflow("Life", Pass("Other"), ROLE)
    with caplog.at_level(logging.ERROR, logger="stepfn"):
        assert again.create() == arn  # the original's behaviour: log, return the existing ARN
    assert "already exists" in caplog.text
    assert json.loads(workflow.client.describe_state_machine(stateMachineArn=arn)["definition"])["StartAt"] == "P"
    assert again.create_or_update() == arn
    assert json.loads(workflow.client.describe_state_machine(stateMachineArn=arn)["definition"])["StartAt"] == "Other"
    fresh = Workflow("Fresh", Pass("P"), ROLE)
    assert fresh.create_or_update().endswith(":stateMachine:Fresh")

    attached = Workflow.attach(arn)
    assert isinstance(attached.definition, FrozenGraph)
    assert attached.definition.to_dict()["StartAt"] == "Other" and attached.role == ROLE
    # A placeholder instance with an empty Chain, attached by ARN (awslabs/mlmax's training_pipeline_run.py).
    dummy = Workflow(name="training_pipeline_name", definition=Chain([]), role="workflow_execution_role")
    assert dummy.attach(arn).definition.to_dict()["StartAt"] == "Other"
    listed = Workflow.list_workflows()
    assert isinstance(listed, WorkflowList) and sorted(w["name"] for w in listed) == ["Fresh", "Life"]
    assert "Fresh" in listed.to_html()

    with pytest.raises(MissingRequiredParameter):
        workflow.update()
    workflow.update(role="arn:aws:iam::123456789012:role/Other")
    assert workflow.client.describe_state_machine(stateMachineArn=arn)["roleArn"].endswith("role/Other")
    workflow.delete()
    with pytest.raises(ClientError):
        workflow.client.describe_state_machine(stateMachineArn=arn)
    with pytest.raises(WorkflowNotFound):
        Workflow("Nope", Pass("P"), ROLE).update(role=ROLE)


def test_render_graph_and_cloudformation(golden_dir: Path) -> None:
    workflow = Workflow("HelloWorld", Chain([Pass("A"), Succeed("B")]), "arn:aws:iam::1234567890:role/R")
    page = workflow.render_graph()
    assert "<svg" in page and 'data-state="A"' in page and 'data-state="B"' in page
    assert page._repr_html_() == str(page)
    template = workflow.get_cloudformation_template()
    assert "AWS::StepFunctions::StateMachine" in template
    assert "StateMachineName: HelloWorld" in template


def test_backend_argument() -> None:
    with pytest.raises(ValueError, match="backend must be"):
        Workflow("W", Pass("P"), ROLE, backend="gcp")
    client = RecordingClient()
    assert Workflow("W", Pass("P"), ROLE, backend=client).client is client


def test_aws_backend_needs_a_region(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from stepfn.aws import AwsConfigurationError

    for var in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    with pytest.raises(AwsConfigurationError, match="region"):
        Workflow("W", Pass("P"), ROLE, backend="aws")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    workflow = Workflow("W", Pass("P"), ROLE, backend="aws")
    assert workflow.client.meta.region_name == "eu-west-1"


def test_execution_repr_and_lists() -> None:
    workflow = Workflow("W", Pass("P"), ROLE, client=RecordingClient())
    execution = Execution(workflow, "arn:aws:states:us-east-1:1:execution:W:e", START, "FAILED", name="e")
    assert execution.status is ExecutionStatus.Failed
    assert repr(execution).startswith("Execution(execution_arn='arn:aws:states:us-east-1:1:execution:W:e', name='e'")
    assert "#/executions/details/arn:aws:states:us-east-1:1:execution:W:e" in execution._repr_html_()
    events = EventsList([{"id": 1, "type": "ExecutionStarted", "timestamp": START,
                          "executionStartedEventDetails": {"input": "{}"}}])
    assert "ExecutionStarted" in events.to_html()
    assert ExecutionStatus("TIMED_OUT") is ExecutionStatus.TimedOut and ExecutionStatus.Aborted == "ABORTED"


def test_widgets_have_the_original_names() -> None:
    from stepfn.workflow.widgets import (
        EventsTableWidget,
        ExecutionGraphWidget,
        ExecutionsTableWidget,
        WorkflowGraphWidget,
        WorkflowsTableWidget,
    )

    definition = json.dumps({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"},
                                                        "B": {"Type": "Fail", "Error": "E"}}})
    assert 'data-state="B"' in WorkflowGraphWidget(definition).show(portrait=True)
    events = [
        {"id": 1, "type": "ExecutionStarted", "timestamp": START, "executionStartedEventDetails": {"input": "{}"}},
        {"id": 2, "type": "PassStateEntered", "previousEventId": 1, "timestamp": START,
         "stateEnteredEventDetails": {"name": "A", "input": "{}"}},
        {"id": 3, "type": "PassStateExited", "previousEventId": 2, "timestamp": START,
         "stateExitedEventDetails": {"name": "A", "output": "{}"}},
    ]
    graph = ExecutionGraphWidget(definition, json.dumps(events, default=str), "arn:aws:states:r:1:execution:m:e")
    assert graph.statuses() == {"A": "SUCCEEDED"}
    assert 'data-state="A" data-status="SUCCEEDED"' in graph.show()
    assert "PassStateEntered" in EventsTableWidget(events).show()
    assert "<table" in ExecutionsTableWidget([]).show()
    assert "wf-name" in WorkflowsTableWidget([{"name": "wf-name", "stateMachineArn": "arn"}]).show()
