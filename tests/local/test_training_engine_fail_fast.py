"""A Map (or Parallel) whose one iteration (branch) fails stops its sibling's training job at once (AWS:
StopTrainingJob, status Stopped).

Two real script-mode jobs run as iterations of one Map, or as two branches: one sleeps ten minutes, the other fails as soon as
the sleeper is training. The engine cancels the sleeper's task; the local SageMaker handler sees
``TaskControl.cancelled()`` and stops the job (SIGTERM to its process group), as StopTrainingJob does.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from test_training_support import sourcedir, training_request

from stepfn.engine import Engine
from stepfn.local.objectstore import ObjectStore
from stepfn.local.sagemaker.training import TrainingJobs

SLEEP_SECONDS = 600


def _train(parameters: dict[str, Any], name: str = "Train") -> dict[str, Any]:
    return {"StartAt": name, "States": {name: {
        "Type": "Task", "Resource": "arn:aws:states:::sagemaker:createTrainingJob.sync", "Parameters": parameters,
        "End": True}}}


@pytest.mark.parametrize("kind", ["Map", "Parallel"])
def test_a_failed_iteration_or_branch_stops_the_sibling_training_job(stepfn_home: Path, kind: str) -> None:
    store = ObjectStore(stepfn_home / "s3")
    started = stepfn_home / "sleeper-started"
    sleeper = sourcedir(store, "s3://bucket/code/sleeper.tar.gz", {"train.py": (
        f"import pathlib, time\npathlib.Path({str(started)!r}).touch()\nprint('training', flush=True)\n"
        f"time.sleep({SLEEP_SECONDS})\n")})
    failer = sourcedir(store, "s3://bucket/code/failer.tar.gz", {"train.py": (
        f"import pathlib, time\nwhile not pathlib.Path({str(started)!r}).exists():\n    time.sleep(0.05)\n"
        "raise RuntimeError('diverged')\n")})
    parameters = training_request("unused", hyperparameters={"sagemaker_program": '"train.py"'},
                                  max_runtime=2 * SLEEP_SECONDS)
    del parameters["TrainingJobName"]
    parameters["TrainingJobName.$"] = "$.name"
    parameters["HyperParameters"]["sagemaker_submit_directory.$"] = "$.code"
    if kind == "Map":
        trials: dict[str, Any] = {"Type": "Map", "ItemsPath": "$.trials", "ItemProcessor": _train(parameters)}
    else:  # one branch per trial, each training its own item
        trials = {"Type": "Parallel", "Branches": [
            _train({**parameters, "TrainingJobName.$": f"$.trials[{i}].name",
                    "HyperParameters": {**parameters["HyperParameters"],
                                        "sagemaker_submit_directory.$": f"$.trials[{i}].code"}}, f"Train{i}")
            for i in range(2)]}
    definition = {"StartAt": "Trials", "States": {"Trials": {**trials, "End": True}}}
    jobs = TrainingJobs(stepfn_home, store=store, stop_grace_seconds=5)
    engine = Engine({"sagemaker:createTrainingJob": jobs.handler})

    result = engine.run(definition, {"trials": [{"name": "sleeper", "code": sleeper},
                                                {"name": "failer", "code": failer}]},
                        execution_arn=f"arn:aws:states:us-east-1:1:execution:m:fail-fast-{kind}",
                        state_machine_arn="arn:aws:states:us-east-1:1:stateMachine:m", name=f"fail-fast-{kind}")

    assert (result.status, result.error) == ("FAILED", "States.TaskFailed")
    assert json.loads(result.cause or "{}")["TrainingJobName"] == "failer"
    assert jobs.describe("failer")["TrainingJobStatus"] == "Failed"
    assert jobs.describe("sleeper")["TrainingJobStatus"] == "Stopped"
    events = result.events
    kinds = [event["type"] for event in events]
    if kind == "Map":
        assert kinds.count("MapIterationFailed") == 1 and kinds.count("MapIterationAborted") == 1
    assert kinds[-2:] == [f"{kind}StateFailed", "ExecutionFailed"]
    # Read from the history, not a stopwatch: the execution lasted nowhere near the sleeper's ten minutes.
    duration = (events[-1]["timestamp"] - events[0]["timestamp"]).total_seconds()
    assert duration < SLEEP_SECONDS / 10
