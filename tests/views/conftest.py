"""Real runs the view tests look at: a Lambda task that fails once and succeeds under Retry, a caught error,
and a Map whose second iteration fails. The Lambdas are registered in this process (register_function)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from views_support import ROLE, TRAIN_PY, Runs

from stepfn.local.lambdas import register_function, unregister_function
from stepfn.workflow.local_client import LocalStepFunctionsClient

MIXED = {
    "Comment": "retried, caught and a Map with one failed iteration",
    "StartAt": "Flaky",
    "States": {
        "Flaky": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                  "Parameters": {"FunctionName": "views-flaky", "Payload.$": "$"},
                  "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1, "BackoffRate": 1, "MaxAttempts": 2}],
                  "OutputPath": "$.Payload", "Next": "Guarded"},
        "Guarded": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                    "Parameters": {"FunctionName": "views-item", "Payload": {"i": 1}},
                    "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Sweep", "ResultPath": "$.err"}],
                    "ResultPath": "$.guarded", "Next": "Sweep"},
        "Sweep": {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 1, "ResultSelector": {"n.$": "States.ArrayLength($)"},
                  "Iterator": {"StartAt": "Item", "States": {"Item": {
                      "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                      "Parameters": {"FunctionName": "views-item", "Payload.$": "$"},
                      "OutputPath": "$.Payload", "End": True}}},
                  "End": True},
    },
}


def _run(client: LocalStepFunctionsClient, machine: str, name: str, document: dict[str, Any]) -> str:
    arn = client.start_execution(stateMachineArn=machine, name=name, input=json.dumps(document))["executionArn"]
    client.wait_for_execution(arn)
    return str(arn)


@pytest.fixture
def runs(stepfn_home: Path) -> Iterator[Runs]:
    calls: dict[str, int] = {}

    def flaky(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        # Fails on the first call of each execution (keyed by its input): Retry runs it again.
        key = json.dumps(event, sort_keys=True)
        calls[key] = calls.get(key, 0) + 1
        if calls[key] == 1:
            raise ConnectionError("first call fails")
        return event

    def item(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        if event.get("i") == 1:
            raise RuntimeError(f"item {event['i']} broke")
        return {"double": event["i"] * 2}

    register_function("views-flaky", flaky)
    register_function("views-item", item)
    client = LocalStepFunctionsClient(home=stepfn_home)
    try:
        machine = client.create_state_machine(name="views-mixed", definition=json.dumps(MIXED),
                                              roleArn=ROLE)["stateMachineArn"]
        mixed = _run(client, machine, "mixed", {"items": [{"i": 0}, {"i": 1}, {"i": 2}]})
        retried = _run(client, machine, "retried", {"items": [{"i": 0}, {"i": 2}]})
        yield Runs(client=client, home=stepfn_home, mixed=mixed, retried=retried)
    finally:
        client.close()
        unregister_function("views-flaky")
        unregister_function("views-item")


@pytest.fixture
def console(runs: Runs) -> Iterator[str]:
    """The console as `stepfn ui` serves it (behind the home's token); the URL it prints."""
    from stepfn.server import BackgroundServer, create_app, read_token

    with BackgroundServer(create_app(runs.home, ui=True, stepfunctions_client=runs.client)) as server:
        yield f"{server.url}/ui/?token={read_token(runs.home)}"




@pytest.fixture
def failed_training(stepfn_home: Path, tmp_path: Path) -> Iterator[tuple[Any, Path]]:
    """A SKLearn script-mode job (a lone local entry point, packed by the workflow) that raises on line 6;
    yields the failed Execution and the user's script."""
    from stepfn.local.objectstore import ObjectStore
    from stepfn.sagemaker import Session, SKLearn
    from stepfn.steps import TrainingStep
    from stepfn.workflow import Workflow

    folder = tmp_path / "project"
    folder.mkdir()
    script = folder / "train.py"
    script.write_text(TRAIN_PY)
    ObjectStore(stepfn_home / "s3").put_bytes("s3://bkt/train/data.csv", b"1\nx\n3\n")
    estimator = SKLearn(entry_point=str(script), framework_version="1.2-1", role=ROLE, instance_count=1,
                        instance_type="ml.m5.large", sagemaker_session=Session(default_bucket="bkt"))
    train = TrainingStep("Train", estimator=estimator, job_name="broken-job", data={"train": "s3://bkt/train/"})
    workflow = Workflow("views-training", train, role=ROLE)
    workflow.create_or_update()
    execution = workflow.execute(name="broken")
    with pytest.warns(UserWarning):
        assert execution.get_output(wait=True) is None
    yield execution, script
    workflow.client.close()
