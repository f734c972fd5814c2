"""Every Workflow / Execution method through the AWS path: a boto3 stepfunctions client, against moto
(in-process, ``execute_state_machine`` on) and against ``stepfn serve`` (a real HTTP endpoint speaking the
API, which implements what moto lacks: StateMachineAlreadyExists, StartSyncExecution, RedriveExecution,
versions, paginated histories)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from stepfn.aws import (
    AwsConfigurationError,
    DeploymentConfigError,
    deploy_alias,
    deploy_workflow,
    prepare_definition_for_aws,
    publish_version,
)
from stepfn.exceptions import WorkflowNotFound
from stepfn.local.lambdas import register_function, unregister_function
from stepfn.server import create_server_client, start_background
from stepfn.steps.states import Chain, Fail, Pass, Task, Wait
from stepfn.workflow import Execution, ExecutionFailedWarning, ExecutionStatus, Workflow

ROLE = "arn:aws:iam::123456789012:role/StepFunctionsRole"


@pytest.fixture(params=["moto", "serve"])
def backend(request: pytest.FixtureRequest, stepfn_home: Path) -> Iterator[tuple[str, Any]]:
    """``(kind, boto3 stepfunctions client)`` for moto or for a ``stepfn serve`` on 127.0.0.1."""
    if request.param == "moto":
        with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
            yield "moto", boto3.client("stepfunctions", region_name="us-east-1")
    else:
        with start_background(stepfn_home) as server:
            yield "serve", create_server_client("stepfunctions", server.url)


def _skip_on_moto(kind: str, why: str) -> None:
    if kind == "moto":
        pytest.skip(f"moto 5.2: {why} (covered by the stepfn serve variant)")


def _hello(name: str = "hello") -> Chain:
    return Chain([
        Pass("Greet", parameters={"greeting.$": "States.Format('hi {}', $.who)", "who.$": "$.who"}),
        Pass("Done", result={"ok": True}, result_path="$.status"),
    ])


def _final(execution: Execution, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        described = execution.describe()
        if described["status"] != "RUNNING" or time.monotonic() > deadline:
            return described
        time.sleep(0.05)


def test_create_execute_and_read_back(backend: tuple[str, Any]) -> None:
    _kind, client = backend
    workflow = Workflow("hello", _hello(), ROLE, client=client, tags=[{"key": "team", "value": "ml"}])
    arn = workflow.create()
    assert arn is not None and arn.endswith(":stateMachine:hello")
    assert workflow.create() == arn, "a second create() keeps the ARN"
    execution = workflow.execute(name="first", inputs={"who": "ada"})
    assert isinstance(execution, Execution) and execution.status == ExecutionStatus.Running
    assert execution.get_output(wait=True) == {"greeting": "hi ada", "who": "ada", "status": {"ok": True}}
    assert execution.get_input() == {"who": "ada"}
    described = execution.describe()
    assert described["status"] == "SUCCEEDED" and execution.status == ExecutionStatus.Succeeded
    events = execution.list_events()
    assert [event["type"] for event in events] == [
        "ExecutionStarted", "PassStateEntered", "PassStateExited", "PassStateEntered", "PassStateExited",
        "ExecutionSucceeded",
    ]
    assert [event["type"] for event in execution.list_events(max_items=2)] == ["ExecutionStarted", "PassStateEntered"]
    progress = execution.render_progress()
    assert "Greet" in progress and "Done" in progress
    runs = workflow.list_executions()
    assert [run.execution_arn for run in runs] == [execution.execution_arn]
    assert runs[0].status is ExecutionStatus.Succeeded
    assert workflow.list_executions(status_filter=ExecutionStatus.Failed) == []
    assert client.list_tags_for_resource(resourceArn=arn)["tags"] == [{"key": "team", "value": "ml"}]


def test_update_attach_list_and_delete(backend: tuple[str, Any]) -> None:
    _, client = backend
    workflow = Workflow("evolving", _hello(), ROLE, client=client)
    arn = workflow.create()
    new_definition = Chain([Pass("Only", result={"version": 2})])
    assert workflow.update(definition=new_definition) == arn
    attached = Workflow.attach(arn, client=client)
    assert attached.name == "evolving" and attached.role == ROLE and attached.state_machine_arn == arn
    assert attached.definition.to_dict() == workflow.definition.to_dict()
    assert attached.execute().get_output(wait=True) == {"version": 2}

    for index in range(3):
        Workflow(f"extra-{index}", _hello(), ROLE, client=client).create()
    names = sorted(item["name"] for item in Workflow.list_workflows(client=client))
    assert names == ["evolving", "extra-0", "extra-1", "extra-2"]
    assert len(Workflow.list_workflows(max_items=2, client=client)) == 2

    # moto hands back the existing machine instead of raising StateMachineAlreadyExists: create_or_update must
    # still notice the changed definition and update it (the original silently kept the old one there).
    again = Workflow("evolving", Chain([Pass("Third", result="v3")]), ROLE, client=client)
    assert again.create_or_update() == arn
    assert json.loads(client.describe_state_machine(stateMachineArn=arn)["definition"])["StartAt"] == "Third"
    assert Workflow.attach(arn, client=client).definition.to_dict() == again.definition.to_dict()
    unchanged = Workflow("evolving", Chain([Pass("Third", result="v3")]), ROLE, client=client)
    assert unchanged.create_or_update() == arn

    workflow.delete()
    with pytest.raises(client.exceptions.StateMachineDoesNotExist):
        client.describe_state_machine(stateMachineArn=arn)


def test_state_machine_already_exists(backend: tuple[str, Any], caplog: pytest.LogCaptureFixture) -> None:
    kind, client = backend
    _skip_on_moto(kind, "CreateStateMachine never raises StateMachineAlreadyExists")
    arn = Workflow("taken", _hello(), ROLE, client=client).create()
    clash = Workflow("taken", Chain([Pass("Other")]), ROLE, client=client)
    assert clash.create() == arn, "the ARN is taken from the StateMachineAlreadyExists error"
    assert "already exists" in caplog.text


def test_missing_arn_and_bad_role(backend: tuple[str, Any]) -> None:
    _kind, client = backend
    never_created = Workflow("ghost", _hello(), ROLE, client=client)
    with pytest.raises(WorkflowNotFound):
        never_created.execute()
    with pytest.raises(WorkflowNotFound):
        never_created.update(definition=_hello())
    assert never_created.list_executions() == []
    with pytest.raises(client.exceptions.StateMachineDoesNotExist):
        Workflow.attach("arn:aws:states:us-east-1:123456789012:stateMachine:ghost", client=client)
    with pytest.raises(ClientError) as bad_role:
        Workflow("badrole", _hello(), "not-a-role", client=client).create()
    assert bad_role.value.response["Error"]["Code"] == "InvalidArn"


def test_stop_a_running_execution(backend: tuple[str, Any]) -> None:
    kind, client = backend
    workflow = Workflow("sleepy", Chain([Wait("Sleep", seconds=600)]), ROLE, client=client)
    workflow.create()
    execution = workflow.execute(name="long")
    assert workflow.list_executions(status_filter="RUNNING")[0].execution_arn == execution.execution_arn
    execution.stop(cause="no longer needed", error="Manual")
    described = _final(execution)
    assert described["status"] == "ABORTED"
    assert execution.list_events()[-1]["type"] == "ExecutionAborted"
    if kind == "serve":  # moto does not keep the error and cause of a stop
        assert (described["error"], described["cause"]) == ("Manual", "no longer needed")


def test_failed_execution_details(backend: tuple[str, Any]) -> None:
    _kind, client = backend
    workflow = Workflow("failing", Chain([Fail("Boom", error="Custom.Error", cause="it broke")]), ROLE, client=client)
    workflow.create()
    execution = workflow.execute(name="boom")  # moto names unnamed executions "None" and lists them without a name
    with pytest.warns(ExecutionFailedWarning, match="FAILED at state 'Boom': Custom.Error: it broke"):
        assert execution.get_output(wait=True) is None
    described = execution.describe()
    assert (described["status"], described["error"], described["cause"]) == ("FAILED", "Custom.Error", "it broke")
    assert [run.status for run in workflow.list_executions()] == [ExecutionStatus.Failed]


@pytest.fixture
def flaky_function() -> Iterator[list[int]]:
    calls: list[int] = []

    def flaky(event: Any) -> dict[str, Any]:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("first call fails")
        return {"attempt": len(calls)}

    register_function("flaky", flaky)
    yield calls
    unregister_function("flaky")


def test_redrive(backend: tuple[str, Any], flaky_function: list[int]) -> None:
    kind, client = backend
    _skip_on_moto(kind, "RedriveExecution is not implemented")
    task = Task("Call", resource="arn:aws:states:::lambda:invoke", parameters={"FunctionName": "flaky", "Payload.$": "$"},
                result_selector={"attempt.$": "$.Payload.attempt"})
    workflow = Workflow("redrivable", Chain([Pass("Start"), task]), ROLE, client=client)
    workflow.create()
    execution = workflow.execute(inputs={})
    with pytest.warns(ExecutionFailedWarning, match="RuntimeError: first call fails"):
        assert execution.get_output(wait=True) is None and execution.describe()["status"] == "FAILED"
    execution.redrive()
    assert execution.status == ExecutionStatus.Running
    assert execution.get_output(wait=True) == {"attempt": 2}
    started = [event["type"] for event in execution.list_events()].count("PassStateEntered")
    assert started == 1, "a redrive resumes at the failed state"


def test_express_execute_sync(backend: tuple[str, Any]) -> None:
    kind, client = backend
    _skip_on_moto(kind, "StartSyncExecution answers 404 Not yet implemented")
    workflow = Workflow("quick", _hello(), ROLE, client=client, state_machine_type="EXPRESS")
    workflow.create()
    assert client.describe_state_machine(stateMachineArn=workflow.state_machine_arn)["type"] == "EXPRESS"
    result = workflow.execute_sync(inputs={"who": "bob"})
    assert result["status"] == "SUCCEEDED"
    assert json.loads(result["output"])["greeting"] == "hi bob"


def test_versions_and_alias(backend: tuple[str, Any]) -> None:
    kind, client = backend
    _skip_on_moto(kind, "PublishStateMachineVersion is not implemented")
    workflow = Workflow("versioned", _hello(), ROLE, client=client)
    arn = workflow.create()
    v1 = publish_version(client, arn, description="first")
    workflow.update(definition=Chain([Pass("Two", result=2)]))
    v2 = publish_version(client, arn)
    alias = deploy_alias(client, arn, "live", {v1: 80, v2: 20})
    routing = client.describe_state_machine_alias(stateMachineAliasArn=alias)["routingConfiguration"]
    assert {item["stateMachineVersionArn"]: item["weight"] for item in routing} == {v1: 80, v2: 20}
    deploy_alias(client, arn, "live", v2)
    run = client.start_execution(stateMachineArn=alias)["executionArn"]
    execution = Execution(workflow, run, None, "RUNNING", client=client)
    assert execution.get_output(wait=True) == 2


@mock_aws
def test_local_code_is_uploaded_when_deploying_to_aws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A framework estimator with a local source_dir: the definition points at sourcedir.tar.gz on (moto) S3."""
    import io
    import tarfile

    from stepfn.sagemaker import Session
    from stepfn.sagemaker.sklearn import SKLearn
    from stepfn.steps.sagemaker import ModelStep, TrainingStep
    from stepfn.steps.states import Graph

    code = tmp_path / "code"
    code.mkdir()
    (code / "train.py").write_text("print('train')\n")
    session = Session(region_name="us-east-1", default_bucket="sagemaker")
    estimator = SKLearn(entry_point="train.py", source_dir=str(code), framework_version="1.2-1", role=ROLE,
                        instance_type="ml.m5.large", instance_count=1, sagemaker_session=session)
    training = TrainingStep("Train", estimator=estimator, data={"train": "s3://sagemaker/train"}, job_name="job")
    chain = Chain([training, ModelStep("Model", model=training.get_expected_model(), model_name="m")])
    local_definition = Graph(chain).to_json(pretty=True)
    assert f'file://{code}' in local_definition

    client = boto3.client("stepfunctions", region_name="us-east-1")
    monkeypatch.setenv("STEPFN_CODE_BUCKET", "code-bucket")
    deployed = prepare_definition_for_aws(local_definition, client=client)
    assert "file://" not in deployed and deployed.startswith("{\n    ")
    states = json.loads(deployed)["States"]
    uri = json.loads(states["Train"]["Parameters"]["HyperParameters"]["sagemaker_submit_directory"])
    assert uri.startswith("s3://code-bucket/stepfn/source/") and uri.endswith("/sourcedir.tar.gz")
    assert states["Model"]["Parameters"]["PrimaryContainer"]["Environment"]["SAGEMAKER_SUBMIT_DIRECTORY"] == uri
    body = boto3.client("s3", region_name="us-east-1").get_object(
        Bucket="code-bucket", Key=uri.removeprefix("s3://code-bucket/"))["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as tar:
        assert tar.getnames() == ["train.py"]
    arn = client.create_state_machine(name="ml", definition=deployed, roleArn=ROLE)["stateMachineArn"]
    assert json.loads(client.describe_state_machine(stateMachineArn=arn)["definition"]) == json.loads(deployed)

    # The SDK's default bucket (sagemaker-<region>-<account>) when none is configured.
    monkeypatch.delenv("STEPFN_CODE_BUCKET")
    default = json.loads(prepare_definition_for_aws(local_definition, client=client))
    assert '"s3://sagemaker-us-east-1-123456789012/stepfn/source/' in json.dumps(default)


def test_nothing_is_uploaded_without_local_code() -> None:
    definition = Workflow("plain", _hello(), ROLE, client=object()).definition.to_json(pretty=True)
    # No client call happens: object() has no AWS methods at all.
    assert prepare_definition_for_aws(definition, client=object()) == definition


def test_deploy_workflow_creates_then_updates(backend: tuple[str, Any]) -> None:
    kind, client = backend
    workflow = Workflow("deployed", _hello(), ROLE, client=client, tags=[{"key": "stage", "value": "dev"}])
    arn = deploy_workflow(workflow)
    assert workflow.state_machine_arn == arn
    assert client.list_tags_for_resource(resourceArn=arn)["tags"] == [{"key": "stage", "value": "dev"}]
    known = Workflow("deployed", Chain([Pass("Second", result={"n": 2})]), ROLE, client=client, state_machine_arn=arn)
    assert deploy_workflow(known) == arn, "an ARN already known is updated in place"
    assert json.loads(client.describe_state_machine(stateMachineArn=arn)["definition"])["StartAt"] == "Second"
    fresh = Workflow("deployed", Chain([Pass("Third")]), ROLE, client=client)
    assert deploy_workflow(fresh) == arn, "a taken name is found and updated (moto: handed back, then updated)"
    assert json.loads(client.describe_state_machine(stateMachineArn=arn)["definition"])["StartAt"] == "Third"
    _skip_on_moto(kind, "PublishStateMachineVersion is not implemented")
    published = Workflow("published", _hello(), ROLE, client=client)
    deploy_workflow(published, publish=True, alias="live")
    alias = client.describe_state_machine_alias(stateMachineAliasArn=published.state_machine_arn + ":live")
    assert alias["routingConfiguration"] == [
        {"stateMachineVersionArn": published.state_machine_arn + ":1", "weight": 100}]
    with pytest.raises(DeploymentConfigError, match="needs publish=True"):
        deploy_workflow(published, alias="live")


def test_deploy_workflow_checks_the_role_first(backend: tuple[str, Any]) -> None:
    _kind, client = backend
    for role in (None, "my-role"):
        with pytest.raises(AwsConfigurationError, match="workflow 'norole'"):
            deploy_workflow(Workflow("norole", _hello(), role, client=client))  # type: ignore[arg-type]
    assert [m["name"] for m in client.list_state_machines()["stateMachines"]] == []


def test_no_upload_for_a_local_endpoint(stepfn_home: Path, tmp_path: Path) -> None:
    """A boto3 client for stepfn serve runs local source directories in place: nothing goes to S3."""
    state = {"Type": "Task", "Resource": "arn:aws:states:::sagemaker:createTrainingJob.sync", "End": True,
             "Parameters": {"HyperParameters": {"sagemaker_submit_directory": json.dumps(f"file://{tmp_path}")}}}
    definition = json.dumps({"StartAt": "Train", "States": {"Train": state}}, indent=4)
    with start_background(stepfn_home) as server:
        client = create_server_client("stepfunctions", server.url)
        assert prepare_definition_for_aws(definition, client=client) == definition
