"""Endpoints and transform for the locally emulated built-in algorithms, trained here by the local training jobs."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_models import ROLE, call, home, write_arrays

from stepfn.errors import ServiceError
from stepfn.local.objectstore import ObjectStore
from stepfn.local.sagemaker.endpoints import invoke_endpoint
from stepfn.local.sagemaker.training import TrainingJobs

__all__ = ["home"]
pytestmark = pytest.mark.slow  # each test trains a model through a local training job first


def _train(home: Path, name: str, image: str, hyperparameters: dict[str, str], rows: np.ndarray) -> str:
    store = ObjectStore(home / "s3")
    store.put_bytes(f"s3://bucket/{name}/train/data.csv", "".join(",".join(map(str, r)) + "\n" for r in rows).encode())
    record = TrainingJobs(home).run({
        "TrainingJobName": name, "RoleArn": ROLE, "HyperParameters": hyperparameters,
        "AlgorithmSpecification": {"TrainingImage": image, "TrainingInputMode": "File"},
        "InputDataConfig": [{"ChannelName": "train", "ContentType": "text/csv", "DataSource": {"S3DataSource": {
            "S3DataType": "S3Prefix", "S3Uri": f"s3://bucket/{name}/train/"}}}],
        "OutputDataConfig": {"S3OutputPath": "s3://bucket/output"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        "StoppingCondition": {"MaxRuntimeInSeconds": 120},
    })
    assert record["TrainingJobStatus"] == "Completed", record.get("FailureReason")
    artifacts: str = record["ModelArtifacts"]["S3ModelArtifacts"]
    return artifacts


def _endpoint(home: Path, name: str, image: str, artifacts: str) -> None:
    call(home, "createModel", {"ModelName": name, "PrimaryContainer": {"Image": image, "ModelDataUrl": artifacts}})
    call(home, "createEndpointConfig", {"EndpointConfigName": name, "ProductionVariants": [
        {"VariantName": "AllTraffic", "ModelName": name}]})
    call(home, "createEndpoint", {"EndpointName": name, "EndpointConfigName": name})


def test_kmeans_endpoint_answers_in_the_algorithm_format(home: Path) -> None:
    rng = np.random.default_rng(1)
    rows = np.vstack([rng.normal(0, 0.1, size=(20, 2)), rng.normal(5, 0.1, size=(20, 2))])
    image = "382416733822.dkr.ecr.us-east-1.amazonaws.com/kmeans:1"
    artifacts = _train(home, "km", image, {"k": "2", "feature_dim": "2"}, rows)
    _endpoint(home, "km", image, artifacts)

    response = invoke_endpoint("km", "0,0\n5,5\n", "text/csv", "application/json", home=home)
    predictions = json.loads(response["Body"].read())["predictions"]
    assert len(predictions) == 2 and predictions[0]["closest_cluster"] != predictions[1]["closest_cluster"]
    assert predictions[0]["distance_to_cluster"] < 0.5

    body = json.dumps({"instances": [{"features": [0, 0]}, {"features": [5, 5]}]})
    response = invoke_endpoint("km", body, "application/json", "application/jsonlines", home=home)
    lines = [json.loads(line) for line in response["Body"].read().decode().splitlines()]
    assert [line["closest_cluster"] for line in lines] == [p["closest_cluster"] for p in predictions]

    response = invoke_endpoint("km", write_arrays(np.array([[0.0, 0.0]], dtype="float32")),
                               "application/x-recordio-protobuf", "application/json", home=home)
    assert json.loads(response["Body"].read())["predictions"][0]["closest_cluster"] == predictions[0]["closest_cluster"]
    with pytest.raises(ServiceError) as raised:
        invoke_endpoint("km", "0,0", "text/csv", "text/html", home=home)
    assert (raised.value.response or {}).get("OriginalStatusCode") == 406


def test_linear_learner_batch_transform_with_join(home: Path) -> None:
    rng = np.random.default_rng(2)
    features = rng.normal(size=(40, 2))
    labels = (features[:, 0] > 0).astype(int)
    image = "382416733822.dkr.ecr.us-east-1.amazonaws.com/linear-learner:1"
    artifacts = _train(home, "ll", image, {"predictor_type": "binary_classifier", "feature_dim": "2"},
                       np.column_stack([labels, features]))
    call(home, "createModel", {"ModelName": "ll", "PrimaryContainer": {"Image": image, "ModelDataUrl": artifacts}})
    store = ObjectStore(home / "s3")
    store.put_bytes("s3://bucket/ll-in/test.csv", b"3.0,0.0\n-3.0,0.0\n")
    result: dict[str, Any] = call(home, "createTransformJob", {
        "TransformJobName": "ll-batch", "ModelName": "ll",
        "TransformInput": {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://bucket/ll-in/"}},
                           "ContentType": "text/csv", "SplitType": "Line"},
        "TransformOutput": {"S3OutputPath": "s3://bucket/ll-out/", "Accept": "application/jsonlines",
                            "AssembleWith": "Line"},
        "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
    }, pattern="sync")
    assert result["TransformJobStatus"] == "Completed"
    out = [json.loads(line) for line in store.get_bytes("s3://bucket/ll-out/test.csv.out").decode().splitlines()]
    assert [record["predicted_label"] for record in out] == [1.0, 0.0]


def test_xgboost_trained_on_one_based_libsvm_serves_one_based_libsvm(home: Path) -> None:
    # Abalone-style data: indices 1..3. XGBoost reads them zero-based in training and serving alike, so the
    # endpoint accepts the same rows the model was trained on (it used to train on 3 columns and serve 4).
    rng = np.random.default_rng(3)
    features = rng.uniform(size=(80, 3))
    lines = [f"{10 * row[0] + row[2]:.4f} " + " ".join(f"{j + 1}:{v:.4f}" for j, v in enumerate(row)) for row in features]
    store = ObjectStore(home / "s3")
    store.put_bytes("s3://bucket/abalone/train", "\n".join(lines).encode())
    image = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.2-1"
    record = TrainingJobs(home).run({
        "TrainingJobName": "abalone", "RoleArn": ROLE, "HyperParameters": {"num_round": "20", "objective": "reg:squarederror"},
        "AlgorithmSpecification": {"TrainingImage": image, "TrainingInputMode": "File"},
        "InputDataConfig": [{"ChannelName": "train", "ContentType": "libsvm", "DataSource": {"S3DataSource": {
            "S3DataType": "S3Prefix", "S3Uri": "s3://bucket/abalone/train"}}}],
        "OutputDataConfig": {"S3OutputPath": "s3://bucket/output"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        "StoppingCondition": {"MaxRuntimeInSeconds": 120},
    })
    assert record["TrainingJobStatus"] == "Completed", record.get("FailureReason")
    _endpoint(home, "abalone", image, record["ModelArtifacts"]["S3ModelArtifacts"])
    response = invoke_endpoint("abalone", "\n".join(lines[:5]), "text/libsvm", home=home)
    predictions = [float(v) for v in response["Body"].read().decode().split(",")]
    assert predictions == pytest.approx([float(line.split()[0]) for line in lines[:5]], abs=1.5)


def test_pca_endpoint_answers_its_predictor_in_recordio_protobuf(home: Path) -> None:
    """sagemaker v2's PCAPredictor sends RecordIO-protobuf and asks for it back; the algorithm answers one record per
    row, its projection a Float32 tensor in the label map (checked with the toolkit's own protobuf ``Record``)."""
    from sagemaker_training.record_pb2 import Record
    from sagemaker_training.recordio import _read_recordio

    from stepfn.sagemaker import PCAPredictor

    rng = np.random.default_rng(5)
    latent = rng.normal(size=(60, 1))
    rows = np.hstack([latent, 2 * latent, -latent, 0.5 * latent]) + 0.01 * rng.normal(size=(60, 4))
    image = "382416733822.dkr.ecr.us-east-1.amazonaws.com/pca:1"
    artifacts = _train(home, "pca", image, {"num_components": "2", "feature_dim": "4"}, rows)
    _endpoint(home, "pca", image, artifacts)
    expected = json.loads(invoke_endpoint("pca", "1,2,3,4\n2,4,-2,1\n", "text/csv", "application/json",
                                          home=home)["Body"].read())["projections"]

    response = invoke_endpoint("pca", write_arrays(np.array([[1, 2, 3, 4], [2, 4, -2, 1]], dtype="float32")),
                               "application/x-recordio-protobuf", "application/x-recordio-protobuf", home=home)
    assert response["ContentType"] == "application/x-recordio-protobuf"
    parsed = []
    for payload in _read_recordio(io.BytesIO(response["Body"].read())):
        record = Record()
        record.ParseFromString(payload)
        parsed.append(list(record.label["projection"].float32_tensor.values))
    assert np.allclose(parsed, [e["projection"] for e in expected], rtol=1e-5)

    predictor = PCAPredictor("pca")
    assert (predictor.content_type, predictor.accept) == ("application/x-recordio-protobuf",
                                                          ("application/x-recordio-protobuf",))
    (one,) = predictor.predict(np.array([1, 2, 3, 4]))  # a 1-D int array: one record of Int32 features
    assert np.allclose(one.label["projection"].float32_tensor.values, expected[0]["projection"], rtol=1e-5)
    assert one.label["projection"].float64_tensor.values == [] and one.features == {}
    assert len(predictor.predict(np.array([[1.0, 2.0, 3.0, 4.0]] * 3))) == 3


def _blazingtext_job(home: Path, name: str, hyperparameters: dict[str, str]) -> dict[str, Any]:
    store = ObjectStore(home / "s3")
    rng = np.random.default_rng(6)
    good, bad, shared = ["great", "strings", "last", "worth", "love"], ["broke", "week", "bad", "tuning", "cheap"], [
        "the", "it", "a", "guitar", "these"]
    lines = []
    for index in range(250):
        label, words = ("__label__1", good) if index % 2 else ("__label__2", bad)
        lines.append(" ".join([label, *rng.choice(words, 3), *rng.choice(shared, 3)]))
    store.put_bytes(f"s3://bucket/{name}/train/data", "\n".join(lines[:200]).encode())
    store.put_bytes(f"s3://bucket/{name}/validation/data", "\n".join(lines[200:]).encode())
    return TrainingJobs(home).run({
        "TrainingJobName": name, "RoleArn": ROLE, "HyperParameters": hyperparameters,
        "AlgorithmSpecification": {"TrainingImage": BLAZINGTEXT_IMAGE, "TrainingInputMode": "File"},
        "InputDataConfig": [{"ChannelName": channel, "ContentType": "text/plain", "DataSource": {"S3DataSource": {
            "S3DataType": "S3Prefix", "S3Uri": f"s3://bucket/{name}/{channel}/"}}} for channel in ("train", "validation")],
        "OutputDataConfig": {"S3OutputPath": "s3://bucket/output"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        "StoppingCondition": {"MaxRuntimeInSeconds": 120},
    })


BLAZINGTEXT_IMAGE = "811284229777.dkr.ecr.us-east-1.amazonaws.com/blazingtext:1"


def test_blazingtext_supervised_trains_reports_accuracy_and_serves(home: Path) -> None:
    """BlazingText's text classification mode (Udacity's course trains it on review sentences): ``__label__``
    lines in, ``train:accuracy`` / ``validation:accuracy`` out, and an endpoint answering ``{"instances": [...],
    "configuration": {"k": n}}`` with each sentence's labels and probabilities, most likely first."""
    record = _blazingtext_job(home, "bt", {"mode": "supervised", "epochs": "10", "word_ngrams": "2"})
    assert record["TrainingJobStatus"] == "Completed", record.get("FailureReason")
    metrics = {m["MetricName"]: m["Value"] for m in record["FinalMetricDataList"]}
    assert metrics["train:accuracy"] > 0.95 and metrics["validation:accuracy"] > 0.95, metrics
    _endpoint(home, "bt", BLAZINGTEXT_IMAGE, record["ModelArtifacts"]["S3ModelArtifacts"])

    body = json.dumps({"instances": ["great strings worth the guitar", "bad tuning it broke"],
                       "configuration": {"k": 2}})
    answers = json.loads(invoke_endpoint("bt", body, "application/json", "application/json", home=home)["Body"].read())
    assert [answer["label"] for answer in answers] == [["__label__1", "__label__2"], ["__label__2", "__label__1"]]
    assert all(answer["prob"][0] > 0.5 and sum(answer["prob"]) == pytest.approx(1.0) for answer in answers), answers
    lines = invoke_endpoint("bt", '{"source": "love these strings"}\n', "application/jsonlines",
                            "application/jsonlines", home=home)["Body"].read().decode().splitlines()
    assert [json.loads(line)["label"] for line in lines] == [["__label__1"]]

    skipgram = _blazingtext_job(home, "bt-w2v", {"mode": "skipgram"})
    assert skipgram["TrainingJobStatus"] == "Failed"
    assert "mode 'skipgram' is not emulated locally" in skipgram["FailureReason"]
