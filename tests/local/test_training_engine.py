"""Training jobs as Task states on the engine: results flow to the next state, failures reach Retry/Catch."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from test_training_support import sourcedir, training_request

from stepfn.engine import Engine
from stepfn.local.objectstore import ObjectStore
from stepfn.local.sagemaker.training import handlers


def _definition(parameters: dict[str, Any]) -> dict[str, Any]:
    return {
        "StartAt": "Train",
        "States": {
            "Train": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sagemaker:createTrainingJob.sync",
                "Parameters": parameters,
                "Retry": [{"ErrorEquals": ["SageMaker.AmazonSageMakerException"], "MaxAttempts": 1,
                           "IntervalSeconds": 0}],
                "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Recovered"}],
                "Next": "Model",
            },
            "Model": {"Type": "Pass", "Parameters": {
                "ModelDataUrl.$": "$.ModelArtifacts.S3ModelArtifacts", "ModelName.$": "$.TrainingJobName",
                "Metrics.$": "$.FinalMetricDataList"}, "End": True},
            "Recovered": {"Type": "Pass", "End": True},
        },
    }


def _run(engine: Engine, parameters: dict[str, Any], execution: str, payload: Any) -> Any:
    result = engine.run(_definition(parameters), payload, execution_arn=f"arn:aws:states:us-east-1:1:execution:m:{execution}",
                        state_machine_arn="arn:aws:states:us-east-1:1:stateMachine:m", name=execution)
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    return json.loads(result.output)


def test_training_step_output_feeds_the_next_state_and_failures_are_caught(stepfn_home: Path) -> None:
    store = ObjectStore(stepfn_home / "s3")
    good = sourcedir(store, "s3://bucket/code/good.tar.gz", {"train.py": "print('score=0.75')\n"})
    bad = sourcedir(store, "s3://bucket/code/bad.tar.gz", {"train.py": "raise RuntimeError('diverged')\n"})
    engine = Engine(handlers(stepfn_home))
    parameters = training_request("unused", hyperparameters={"sagemaker_program": '"train.py"'})
    del parameters["TrainingJobName"]
    parameters["TrainingJobName.$"] = "$.name"
    parameters["HyperParameters"]["sagemaker_submit_directory.$"] = "$.code"
    parameters["AlgorithmSpecification"]["MetricDefinitions"] = [{"Name": "score", "Regex": r"score=(\S+)"}]

    output = _run(engine, parameters, "ok", {"name": "engine-job", "code": good})
    assert output["ModelDataUrl"] == "s3://bucket/output/engine-job/output/model.tar.gz"
    assert output["ModelName"] == "engine-job" and output["Metrics"][0]["Value"] == 0.75
    assert store.exists(output["ModelDataUrl"])

    failed = _run(engine, parameters, "bad", {"name": "engine-bad", "code": bad})
    assert failed["error"]["Error"] == "States.TaskFailed"
    cause = json.loads(failed["error"]["Cause"])
    assert cause["TrainingJobStatus"] == "Failed" and "diverged" in cause["FailureReason"]

    taken = _run(engine, parameters, "dup", {"name": "engine-job", "code": good})  # name in use: retried, caught
    assert taken["error"]["Error"] == "SageMaker.AmazonSageMakerException"
    assert "already exists" in taken["error"]["Cause"]
