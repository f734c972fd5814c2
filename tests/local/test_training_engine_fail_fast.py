"""A Map whose one iteration fails stops its sibling's training job at once (AWS: StopTrainingJob, Stopped).

Two real script-mode jobs run as iterations of one Map: one sleeps ten minutes, the other fails as soon as
the sleeper is training. The engine cancels the sleeper's task; the local SageMaker handler sees
``TaskControl.cancelled()`` and stops the job (SIGTERM to its process group), as StopTrainingJob does.
"""

from __future__ import annotations

import json
from pathlib import Path

from test_training_support import sourcedir, training_request

from stepfn.engine import Engine
from stepfn.local.objectstore import ObjectStore
from stepfn.local.sagemaker.training import TrainingJobs

SLEEP_SECONDS = 600


def test_a_failed_iteration_stops_the_sibling_training_job(stepfn_home: Path) -> None:
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
    definition = {"StartAt": "Trials", "States": {"Trials": {
        "Type": "Map", "ItemsPath": "$.trials", "End": True,
        "ItemProcessor": {"StartAt": "Train", "States": {"Train": {
            "Type": "Task", "Resource": "arn:aws:states:::sagemaker:createTrainingJob.sync",
            "Parameters": parameters, "End": True}}}}}}
    jobs = TrainingJobs(stepfn_home, store=store, stop_grace_seconds=5)
    engine = Engine({"sagemaker:createTrainingJob": jobs.handler})

    result = engine.run(definition, {"trials": [{"name": "sleeper", "code": sleeper},
                                                {"name": "failer", "code": failer}]},
                        execution_arn="arn:aws:states:us-east-1:1:execution:m:fail-fast",
                        state_machine_arn="arn:aws:states:us-east-1:1:stateMachine:m", name="fail-fast")

    assert (result.status, result.error) == ("FAILED", "States.TaskFailed")
    assert json.loads(result.cause or "{}")["TrainingJobName"] == "failer"
    assert jobs.describe("failer")["TrainingJobStatus"] == "Failed"
    assert jobs.describe("sleeper")["TrainingJobStatus"] == "Stopped"
    events = result.events
    kinds = [event["type"] for event in events]
    assert kinds.count("MapIterationFailed") == 1 and kinds.count("MapIterationAborted") == 1
    assert kinds[-2:] == ["MapStateFailed", "ExecutionFailed"]
    # Read from the history, not a stopwatch: the execution lasted nowhere near the sleeper's ten minutes.
    duration = (events[-1]["timestamp"] - events[0]["timestamp"]).total_seconds()
    assert duration < SLEEP_SECONDS / 10
