"""The built-in algorithm emulators, run as real training jobs on their real input formats."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from test_training_support import XGBOOST_IMAGE, Control, read_tar, task_request, training_request

from stepfn.errors import StatesError
from stepfn.local.objectstore import ObjectStore
from stepfn.local.sagemaker.builtins import load_model, predict_records
from stepfn.local.sagemaker.training import TrainingJobs, handlers
from stepfn.sagemaker.recordio import write_dense_records

KMEANS_IMAGE = "382416733822.dkr.ecr.us-east-1.amazonaws.com/kmeans:1"
PCA_IMAGE = "382416733822.dkr.ecr.us-east-1.amazonaws.com/pca:1"
LINEAR_IMAGE = "382416733822.dkr.ecr.us-east-1.amazonaws.com/linear-learner:1"


def _regression(rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(rows, 4))
    return features, features @ np.array([2.0, -1.0, 0.5, 0.0]) + 0.01 * rng.normal(size=rows)


def _csv(features: np.ndarray, labels: np.ndarray | None) -> bytes:
    table = features if labels is None else np.column_stack([labels, features])
    buffer = io.StringIO()
    np.savetxt(buffer, table, delimiter=",", fmt="%.6f")
    return buffer.getvalue().encode()


def _libsvm(features: np.ndarray, labels: np.ndarray) -> bytes:
    lines = [f"{y:.6f} " + " ".join(f"{j}:{v:.6f}" for j, v in enumerate(row) if v) for row, y in zip(features, labels, strict=True)]
    return ("\n".join(lines) + "\n").encode()


def _parquet(features: np.ndarray, labels: np.ndarray) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({"label": labels, **{f"f{i}": features[:, i] for i in range(features.shape[1])}})
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def _with_content_type(request: dict[str, object], content_type: str | None) -> dict[str, object]:
    if content_type:
        for channel in request["InputDataConfig"]:  # type: ignore[union-attr]
            channel["ContentType"] = content_type  # type: ignore[index]
    return request


@pytest.mark.parametrize(("content_type", "encode"), [
    ("text/csv", _csv),
    pytest.param(None, _libsvm, marks=pytest.mark.slow),
    pytest.param("application/x-parquet", _parquet, marks=pytest.mark.slow),
])
def test_xgboost_algorithm_mode(stepfn_home: Path, content_type: str | None, encode: object) -> None:
    store = ObjectStore(stepfn_home / "s3")
    train, validation = _regression(200, 1), _regression(60, 2)
    store.put_bytes("s3://bucket/xgb/train/data.bin", encode(*train))  # type: ignore[operator]
    store.put_bytes("s3://bucket/xgb/train/_SUCCESS", b"ignored: names starting with _ are skipped")
    store.put_bytes("s3://bucket/xgb/validation/data.bin", encode(*validation))  # type: ignore[operator]
    request = _with_content_type(training_request(
        "xgb-job", image=XGBOOST_IMAGE,
        hyperparameters={"num_round": "30", "max_depth": "3", "eta": "0.3", "objective": "reg:squarederror"},
        channels={"train": "s3://bucket/xgb/train", "validation": "s3://bucket/xgb/validation"},
    ), content_type)
    result = handlers(stepfn_home)["sagemaker:createTrainingJob"](task_request(request), Control())
    assert result["TrainingJobStatus"] == "Completed", result.get("FailureReason")
    metrics = {m["MetricName"]: m["Value"] for m in result["FinalMetricDataList"]}
    assert set(metrics) == {"train:rmse", "validation:rmse"} and metrics["validation:rmse"] < 1.0
    archive = read_tar(store.local_path(result["ModelArtifacts"]["S3ModelArtifacts"]))
    assert list(archive) == ["xgboost-model"]
    import xgboost as xgb

    booster = xgb.Booster()
    booster.load_model(bytearray(archive["xgboost-model"]))
    predictions = booster.predict(xgb.DMatrix(validation[0]))
    assert float(np.sqrt(((predictions - validation[1]) ** 2).mean())) == pytest.approx(metrics["validation:rmse"],
                                                                                        rel=1e-3)
    log = TrainingJobs(stepfn_home).log_path("xgb-job").read_text()
    assert "[29]\ttrain-rmse:" in log and "\tvalidation-rmse:" in log


def test_xgboost_without_num_round_fails_with_client_error(stepfn_home: Path) -> None:
    store = ObjectStore(stepfn_home / "s3")
    store.put_bytes("s3://bucket/xgb2/train/d.csv", _csv(*_regression(20, 3)))
    request = _with_content_type(training_request(
        "xgb-bad", image=XGBOOST_IMAGE, channels={"train": "s3://bucket/xgb2/train"}), "text/csv")
    with pytest.raises(StatesError) as info:
        handlers(stepfn_home)["sagemaker:createTrainingJob"](task_request(request), Control())
    cause = json.loads(info.value.cause)
    assert cause["FailureReason"] == ("AlgorithmError: ClientError: Missing required hyperparameter: num_round, "
                                      "exit code: 1")


def _record_set(store: ObjectStore, prefix: str, features: np.ndarray, labels: np.ndarray | None) -> str:
    """What the v2 SDK's ``record_set()`` uploads: .pbr shards plus a ManifestFile."""
    half = len(features) // 2
    shards = []
    for index, rows in enumerate((slice(0, half), slice(half, None))):
        name = f"matrix_{index}.pbr"
        store.put_bytes(f"{prefix}/{name}", write_dense_records(features[rows],
                                                                None if labels is None else labels[rows]))
        shards.append(name)
    store.put_bytes(f"{prefix}/.amazon.manifest", json.dumps([{"prefix": f"{prefix}/"}, *shards]).encode())
    return f"{prefix}/.amazon.manifest"


def _manifest_channel(name: str, manifest: str) -> dict[str, object]:
    return {"ChannelName": name, "DataSource": {"S3DataSource": {
        "S3DataType": "ManifestFile", "S3Uri": manifest, "S3DataDistributionType": "ShardedByS3Key"}}}


def test_kmeans_on_recordio_record_set(stepfn_home: Path) -> None:
    store = ObjectStore(stepfn_home / "s3")
    rng = np.random.default_rng(0)
    centers = np.array([[0.0, 0.0], [10.0, 10.0], [0.0, 10.0]])
    features = np.vstack([c + rng.normal(scale=0.3, size=(40, 2)) for c in centers]).astype(np.float32)
    manifest = _record_set(store, "s3://bucket/kmeans/train", features, None)
    test_manifest = _record_set(store, "s3://bucket/kmeans/test", features[::3], None)
    request = training_request("kmeans-job", image=KMEANS_IMAGE,
                               hyperparameters={"k": "3", "feature_dim": "2", "mini_batch_size": "50",
                                                "init_method": "kmeans++", "eval_metrics": '["msd","ssd"]'},
                               InputDataConfig=[_manifest_channel("train", manifest),
                                                _manifest_channel("test", test_manifest)])
    record = TrainingJobs(stepfn_home).run(request)
    assert record["TrainingJobStatus"] == "Completed", record.get("FailureReason")
    metrics = {m["MetricName"]: m["Value"] for m in record["FinalMetricDataList"]}
    assert metrics["test:msd"] < 0.5 and metrics["train:ssd"] > metrics["test:ssd"]
    model_dir = stepfn_home / "unpacked"
    model_dir.mkdir()
    (model_dir / "model_algo-1").write_bytes(
        read_tar(store.local_path(record["ModelArtifacts"]["S3ModelArtifacts"]))["model_algo-1"])
    model = load_model(model_dir)
    found = sorted(np.round(model["centers"]).tolist())
    assert found == sorted(centers.tolist())
    answer = predict_records(model, np.array([[10.1, 9.9]]))
    assert answer[0]["distance_to_cluster"] < 1 and set(answer[0]) == {"closest_cluster", "distance_to_cluster"}


def test_pca_on_csv(stepfn_home: Path) -> None:
    store = ObjectStore(stepfn_home / "s3")
    rng = np.random.default_rng(4)
    latent = rng.normal(size=(100, 1))
    features = np.hstack([latent, 2 * latent, -latent]) + 0.01 * rng.normal(size=(100, 3))
    store.put_bytes("s3://bucket/pca/train.csv", _csv(features, None))
    request = _with_content_type(training_request(
        "pca-job", image=PCA_IMAGE, hyperparameters={"num_components": "1", "feature_dim": "3"},
        channels={"train": "s3://bucket/pca/train.csv"}), "text/csv")
    record = TrainingJobs(stepfn_home).run(request)
    assert record["TrainingJobStatus"] == "Completed", record.get("FailureReason")
    document = json.loads(read_tar(store.local_path(record["ModelArtifacts"]["S3ModelArtifacts"]))["model_algo-1"])
    direction = np.abs(np.array(document["components"][0]))
    assert np.allclose(direction, np.array([1, 2, 1]) / np.sqrt(6), atol=0.01)
    assert len(predict_records(document, features[:2])[0]["projection"]) == 1


@pytest.mark.parametrize("predictor", [
    "binary_classifier",
    pytest.param("regressor", marks=pytest.mark.slow),
    pytest.param("multiclass_classifier", marks=pytest.mark.slow),
])
def test_linear_learner_on_recordio(stepfn_home: Path, predictor: str) -> None:
    store = ObjectStore(stepfn_home / "s3")
    features, target = _regression(300, 5)
    if predictor == "binary_classifier":
        labels = (target > 0).astype(np.float32)
    elif predictor == "multiclass_classifier":
        labels = np.digitize(target, [-1.0, 1.0]).astype(np.float32)
    else:
        labels = target.astype(np.float32)
    manifest = _record_set(store, "s3://bucket/ll/train", features.astype(np.float32), labels)
    validation = _record_set(store, "s3://bucket/ll/validation", features[:50].astype(np.float32), labels[:50])
    hyperparameters = {"predictor_type": predictor, "feature_dim": "4", "mini_batch_size": "100"}
    if predictor == "multiclass_classifier":
        hyperparameters["num_classes"] = "3"
    request = training_request("ll-job", image=LINEAR_IMAGE, hyperparameters=hyperparameters,
                               InputDataConfig=[_manifest_channel("train", manifest),
                                                _manifest_channel("validation", validation)])
    record = TrainingJobs(stepfn_home).run(request)
    assert record["TrainingJobStatus"] == "Completed", record.get("FailureReason")
    metrics = {m["MetricName"]: m["Value"] for m in record["FinalMetricDataList"]}
    if predictor == "regressor":
        assert metrics["validation:rmse"] < 0.1
    elif predictor == "binary_classifier":
        assert metrics["validation:binary_classification_accuracy"] > 0.9
    else:
        assert metrics["validation:multiclass_accuracy"] > 0.8
    document = json.loads(read_tar(store.local_path(record["ModelArtifacts"]["S3ModelArtifacts"]))["model_algo-1"])
    first = predict_records(document, features[:1])[0]
    assert "score" in first and (predictor == "regressor") == ("predicted_label" not in first)


def test_builtin_pipe_mode_reads_the_fifo(stepfn_home: Path) -> None:
    store = ObjectStore(stepfn_home / "s3")
    features, target = _regression(100, 6)
    store.put_bytes("s3://bucket/pipe/train/part-0.pbr", write_dense_records(features[:50], target[:50]))
    store.put_bytes("s3://bucket/pipe/train/part-1.pbr", write_dense_records(features[50:], target[50:]))
    request = training_request("pipe-job", image=LINEAR_IMAGE, mode="Pipe",
                               hyperparameters={"predictor_type": "regressor", "feature_dim": "4"},
                               channels={"train": "s3://bucket/pipe/train"})
    record = TrainingJobs(stepfn_home).run(request)
    assert record["TrainingJobStatus"] == "Completed", record.get("FailureReason")
    assert {m["MetricName"]: m["Value"] for m in record["FinalMetricDataList"]}["train:rmse"] < 0.1
