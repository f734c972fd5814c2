"""A state machine on the local engine: train -> model -> endpoint config -> endpoint -> batch transform, with a
Catch on a failing transform; every step's result has the shape the next state's paths expect on AWS."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from test_models import ROLE, SKLEARN_IMAGE, home, tiny_classification
from test_training_support import sourcedir

from stepfn.engine import Engine
from stepfn.local import default_handlers
from stepfn.local.objectstore import ObjectStore
from stepfn.local.sagemaker.endpoints import invoke_endpoint

__all__ = ["home"]
pytestmark = pytest.mark.slow  # a real training job, two endpoints and two transform jobs

TRAIN = """
import glob, os
import joblib, numpy as np
from sklearn.linear_model import LogisticRegression
data = np.vstack([np.loadtxt(f, delimiter=",", ndmin=2) for f in glob.glob(os.environ["SM_CHANNEL_TRAIN"] + "/*.csv")])
model = LogisticRegression().fit(data[:, 1:], data[:, 0])
joblib.dump(model, os.path.join(os.environ["SM_MODEL_DIR"], "model.joblib"))
print(f"train_accuracy={model.score(data[:, 1:], data[:, 0])}")
"""


def _definition() -> dict[str, object]:
    sync = "arn:aws:states:::sagemaker:{}.sync"
    plain = "arn:aws:states:::sagemaker:{}"
    return {"StartAt": "Train", "States": {
        "Train": {"Type": "Task", "Resource": sync.format("createTrainingJob"), "Parameters": {
            "TrainingJobName.$": "$.job", "RoleArn": ROLE,
            "AlgorithmSpecification": {"TrainingImage": SKLEARN_IMAGE, "TrainingInputMode": "File",
                                       "MetricDefinitions": [{"Name": "train:accuracy", "Regex": "train_accuracy=([0-9.]+)"}]},
            "HyperParameters": {"sagemaker_program": '"train.py"', "sagemaker_submit_directory.$": "$.code"},
            "InputDataConfig": [{"ChannelName": "train", "DataSource": {"S3DataSource": {
                "S3DataType": "S3Prefix", "S3Uri": "s3://bucket/wf/train/"}}}],
            "OutputDataConfig": {"S3OutputPath": "s3://bucket/wf/output"},
            "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
            "StoppingCondition": {"MaxRuntimeInSeconds": 120}},
            "ResultSelector": {"artifacts.$": "$.ModelArtifacts.S3ModelArtifacts", "name.$": "$.TrainingJobName"},
            "ResultPath": "$.train", "Next": "Model"},
        "Model": {"Type": "Task", "Resource": plain.format("createModel"), "Parameters": {
            "ModelName.$": "$.train.name", "ExecutionRoleArn": ROLE,
            "PrimaryContainer": {"Image": SKLEARN_IMAGE, "ModelDataUrl.$": "$.train.artifacts"}},
            "ResultPath": "$.model", "Next": "Config"},
        "Config": {"Type": "Task", "Resource": plain.format("createEndpointConfig"), "Parameters": {
            "EndpointConfigName.$": "$.train.name",
            "ProductionVariants": [{"VariantName": "AllTraffic", "ModelName.$": "$.train.name",
                                    "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}]},
            "ResultPath": "$.config", "Next": "Endpoint"},
        "Endpoint": {"Type": "Task", "Resource": plain.format("createEndpoint"), "Parameters": {
            "EndpointName.$": "$.train.name", "EndpointConfigName.$": "$.train.name"},
            "ResultPath": "$.endpoint", "Next": "Transform"},
        "Transform": {"Type": "Task", "Resource": sync.format("createTransformJob"), "Parameters": {
            "TransformJobName.$": "$.job", "ModelName.$": "$.train.name",
            "TransformInput": {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri.$": "$.test"}},
                               "ContentType": "text/csv", "SplitType": "Line"},
            "TransformOutput": {"S3OutputPath": "s3://bucket/wf/predictions", "AssembleWith": "Line",
                                "Accept": "text/csv"},
            "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1}},
            "ResultSelector": {"status.$": "$.TransformJobStatus"},
            "ResultPath": "$.transform",
            "Catch": [{"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.failure", "Next": "Failed"}],
            "End": True},
        "Failed": {"Type": "Pass", "End": True},
    }}


def _run(home: Path, job: str, test_uri: str) -> dict[str, object]:
    result = Engine(handlers=default_handlers(home)).run(
        _definition(), {"job": job, "code": "s3://bucket/wf/code/sourcedir.tar.gz", "test": test_uri},
        execution_arn=f"arn:aws:states:us-east-1:123456789012:execution:wf:{job}",
        state_machine_arn="arn:aws:states:us-east-1:123456789012:stateMachine:wf", name=job,
    )
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    output: dict[str, object] = json.loads(result.output or "{}")
    return output


def test_train_deploy_and_transform_through_the_engine(home: Path) -> None:
    store = ObjectStore(home / "s3")
    features, labels = tiny_classification()
    store.put_bytes("s3://bucket/wf/train/train.csv",
                    "".join(f"{y}," + ",".join(map(str, x)) + "\n" for x, y in zip(features, labels, strict=True)).encode())
    store.put_bytes("s3://bucket/wf/test/test.csv", "".join(",".join(map(str, x)) + "\n" for x in features[:5]).encode())
    sourcedir(store, "s3://bucket/wf/code/sourcedir.tar.gz", {"train.py": TRAIN})

    output = _run(home, "wf-1", "s3://bucket/wf/test/")
    # The optimized integration's request-response result: the API's response plus the HTTP metadata AWS adds.
    for key, arn in (("model", "arn:aws:sagemaker:us-east-1:123456789012:model/wf-1"),
                     ("endpoint", "arn:aws:sagemaker:us-east-1:123456789012:endpoint/wf-1")):
        result = output[key]
        assert isinstance(result, dict) and result.pop(f"{key.capitalize()}Arn") == arn
        request_id = result["SdkResponseMetadata"]["RequestId"]
        assert result["SdkHttpMetadata"]["HttpStatusCode"] == 200
        assert result["SdkHttpMetadata"]["HttpHeaders"]["x-amzn-RequestId"] == request_id
        assert set(result) == {"SdkHttpMetadata", "SdkResponseMetadata"}
    assert output["transform"] == {"status": "Completed"}
    predictions = store.get_bytes("s3://bucket/wf/predictions/test.csv.out").decode().split()
    response = invoke_endpoint("wf-1", "\n".join(",".join(map(str, x)) for x in features[:5]), "text/csv",
                               "text/csv", home=home)
    assert response["Body"].read().decode().split() == predictions
    assert np.mean([float(p) == y for p, y in zip(predictions, labels[:5], strict=True)]) >= 0.6

    # The same machine with no test data: the transform fails and the Catch sees AWS's States.TaskFailed.
    output = _run(home, "wf-2", "s3://bucket/wf/missing/")
    failure = output["failure"]
    assert isinstance(failure, dict) and failure["Error"] == "States.TaskFailed"
    assert "No S3 objects found" in json.loads(failure["Cause"])["FailureReason"]
