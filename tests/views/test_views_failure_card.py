"""The failure card on real failures: a training job's exception line, log tail and the user's file:line;
a Map iteration's failing Lambda."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from views_support import ROLE, TRAIN_RAISE_LINE, Runs

from stepfn.workflow.failure_card import build_failure_card
from stepfn.workflow.progress import read_history


def test_a_training_job_failure_maps_the_job_copy_to_the_users_file(failed_training: tuple[Any, Path],
                                                                    stepfn_home: Path) -> None:
    execution, script = failed_training
    card = build_failure_card("FAILED", read_history(execution.client, execution.execution_arn), stepfn_home)
    assert (card.state, card.iteration, card.job_kind, card.job) == ("Train", None, "training-job", "broken-job")
    assert card.reason == "ValueError: row 2 is not a number: x"
    assert card.source is not None and card.source.ran == "/opt/ml/code/train.py"
    assert card.source.location == f"{script.resolve()}:{TRAIN_RAISE_LINE}"
    assert any("Traceback" in line for line in card.log_tail) and len(card.log_tail) <= 20
    assert card.cause is not None and "TrainingJobArn" in card.cause  # the whole record stays available

    env = {**os.environ, "STEPFN_HOME": str(stepfn_home), "COLUMNS": "200"}
    shown = subprocess.run([sys.executable, "-m", "stepfn", "show", "broken"], capture_output=True, text=True,
                           env=env, timeout=120, check=False).stdout
    assert "failed state: Train" in shown and "cause: ValueError: row 2 is not a number: x" in shown
    assert f"source: {script.resolve()}:{TRAIN_RAISE_LINE}" in shown
    assert "lines of broken-job's log:" in shown and "TrainingJobArn" not in shown

    notebook = execution.render_progress()
    assert "ValueError: row 2 is not a number: x" in notebook
    assert f"{script.resolve()}:{TRAIN_RAISE_LINE}" in notebook and "Whole cause" in notebook


def test_a_map_iteration_failure_names_the_iteration_and_the_lambda_source(runs: Runs) -> None:
    card = build_failure_card("FAILED", read_history(runs.client, runs.mixed), runs.home)
    assert card.where == "Item in Sweep[1]" and card.reason == "item 1 broke" and card.job is None
    assert card.source is not None and card.source.source == str(Path(__file__).with_name("conftest.py"))


def test_a_job_that_was_never_created_is_not_linked(stepfn_home: Path) -> None:
    """SageMaker refused the request (no RoleArn): the history names the job, the console links nothing."""
    from stepfn.server.ui.app import ConsoleApi
    from stepfn.workflow.local_client import LocalStepFunctionsClient

    definition = {"StartAt": "Train", "States": {"Train": {
        "Type": "Task", "Resource": "arn:aws:states:::sagemaker:createTrainingJob.sync", "End": True,
        "Parameters": {"TrainingJobName": "never-made",
                       "AlgorithmSpecification": {"TrainingImage": "example.com/unknown:1", "TrainingInputMode": "File"},
                       "OutputDataConfig": {"S3OutputPath": "s3://bucket/out"},
                       "ResourceConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 5},
                       "StoppingCondition": {"MaxRuntimeInSeconds": 60}}}}}
    client = LocalStepFunctionsClient(home=stepfn_home)
    try:
        machine = client.create_state_machine(name="refused", definition=json.dumps(definition),
                                              roleArn=ROLE)["stateMachineArn"]
        arn = client.start_execution(stateMachineArn=machine, name="refused")["executionArn"]
        client.wait_for_execution(arn)
        view = ConsoleApi(client, stepfn_home)._execution_view(arn)
    finally:
        client.close()
    assert view["execution"]["status"] == "FAILED"
    train = next(state for state in view["states"] if state["name"] == "Train")
    assert train["history"][0]["jobs"] == []
