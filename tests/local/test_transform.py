"""Batch transform jobs against a real model server process: splitting, batching, filters, joins, .out files."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_models import (
    SKLEARN_IMAGE,
    XGBOOST_IMAGE,
    Control,
    bare,
    call,
    check_shape,
    home,
    make_tar,
    tiny_classification,
    wait_for_job,
    write_arrays,
)

from stepfn.errors import StatesError
from stepfn.local.objectstore import ObjectStore
from stepfn.local.sagemaker.records import RecordStore
from stepfn.local.sagemaker.transform import apply_filter, batches, split_records

__all__ = ["home"]


@pytest.fixture
def sklearn_model(home: Path, tmp_path: Path) -> Any:
    import joblib
    from sklearn.linear_model import LogisticRegression

    features, labels = tiny_classification()
    model = LogisticRegression().fit(features, labels)
    (tmp_path / "model").mkdir()
    joblib.dump(model, tmp_path / "model" / "model.joblib")
    uri = ObjectStore(home / "s3").upload(make_tar(tmp_path / "model", tmp_path / "m.tar.gz"), "s3://bucket/m/model.tar.gz")
    call(home, "createModel", {"ModelName": "sk", "PrimaryContainer": {"Image": SKLEARN_IMAGE, "ModelDataUrl": uri}})
    return model


def _job(name: str, source: str, output: str, **extra: Any) -> dict[str, Any]:
    params: dict[str, Any] = {
        "TransformJobName": name, "ModelName": "sk",
        "TransformInput": {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": source}},
                           "ContentType": "text/csv", "SplitType": "Line"},
        "TransformOutput": {"S3OutputPath": output, "AssembleWith": "Line", "Accept": "text/csv"},
        "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
    }
    for key, value in extra.items():
        if key in ("TransformInput", "TransformOutput"):
            params[key].update(value)
        else:
            params[key] = value
    return params


def _csv(rows: np.ndarray) -> str:
    return "".join(",".join(repr(float(v)) for v in row) + "\n" for row in rows)


def test_line_split_multi_record_writes_out_files(home: Path, sklearn_model: Any) -> None:
    features, _ = tiny_classification()
    store = ObjectStore(home / "s3")
    store.put_bytes("s3://bucket/in/a.csv", _csv(features[:7]).encode())
    store.put_bytes("s3://bucket/in/sub/b.csv", _csv(features[7:10]).encode())
    result = call(home, "createTransformJob", _job("t1", "s3://bucket/in", "s3://bucket/out",
                                                   BatchStrategy="MultiRecord", MaxPayloadInMB=1), pattern="sync")
    assert result["TransformJobStatus"] == "Completed"
    assert result["TransformJobArn"] == "arn:aws:sagemaker:us-east-1:123456789012:transform-job/t1"
    check_shape("DescribeTransformJob", result)
    assert store.list("s3://bucket/out/") == ["s3://bucket/out/a.csv.out", "s3://bucket/out/sub/b.csv.out"]
    expected = sklearn_model.predict(features[:7].astype("float32"))
    assert store.get_bytes("s3://bucket/out/a.csv.out").decode().split("\n")[:-1] == [str(v) for v in expected]
    assert RecordStore(home).get("transform-job", "t1") == result


def test_input_filter_join_and_output_filter_on_csv(home: Path, sklearn_model: Any) -> None:
    features, _ = tiny_classification()
    rows = "".join(f"id{i}," + ",".join(repr(float(v)) for v in row) + "\n" for i, row in enumerate(features[:5]))
    ObjectStore(home / "s3").put_bytes("s3://bucket/ids/data.csv", rows.encode())
    result = call(home, "createTransformJob", _job(
        "joined", "s3://bucket/ids/", "s3://bucket/joined/", BatchStrategy="MultiRecord",
        DataProcessing={"InputFilter": "$[1:]", "JoinSource": "Input", "OutputFilter": "$[0,-1]"}), pattern="sync")
    assert result["DataProcessing"]["JoinSource"] == "Input"
    lines = ObjectStore(home / "s3").get_bytes("s3://bucket/joined/data.csv.out").decode().splitlines()
    expected = sklearn_model.predict(features[:5].astype("float32"))
    assert lines == [f"id{i},{v}" for i, v in enumerate(expected)]


def test_json_records_single_record_join_under_sagemaker_output(home: Path, sklearn_model: Any) -> None:
    features, _ = tiny_classification()
    lines = "".join(json.dumps({"id": i, "features": row.tolist()}) + "\n" for i, row in enumerate(features[:3]))
    ObjectStore(home / "s3").put_bytes("s3://bucket/json/x.jsonl", lines.encode())
    call(home, "createTransformJob", _job(
        "json-job", "s3://bucket/json/", "s3://bucket/json-out",
        TransformInput={"ContentType": "application/json"}, TransformOutput={"Accept": "application/json"},
        BatchStrategy="SingleRecord",
        DataProcessing={"InputFilter": "$.features", "JoinSource": "Input", "OutputFilter": "$['id','SageMakerOutput']"},
    ), pattern="sync")
    out = ObjectStore(home / "s3").get_bytes("s3://bucket/json-out/x.jsonl.out").decode().splitlines()
    expected = sklearn_model.predict(features[:3].astype("float32"))
    assert [json.loads(line) for line in out] == [{"id": i, "SageMakerOutput": [int(v)]} for i, v in enumerate(expected)]


def test_recordio_split_with_xgboost_algorithm_model(home: Path, tmp_path: Path) -> None:
    import xgboost as xgb

    features, labels = tiny_classification()
    booster = xgb.train({"objective": "binary:logistic", "max_depth": 2}, xgb.DMatrix(features, label=labels), 4)
    (tmp_path / "xgb").mkdir()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        booster.save_model(str(tmp_path / "xgb" / "xgboost-model"))
    store = ObjectStore(home / "s3")
    uri = store.upload(make_tar(tmp_path / "xgb", tmp_path / "x.tar.gz"), "s3://bucket/xgb/model.tar.gz")
    call(home, "createModel", {"ModelName": "xgb", "PrimaryContainer": {"Image": XGBOOST_IMAGE, "ModelDataUrl": uri}})
    store.put_bytes("s3://bucket/rio/part.pbr", write_arrays(features[:6].astype("float32")))
    params = _job("rio", "s3://bucket/rio/", "s3://bucket/rio-out",
                  TransformInput={"ContentType": "application/x-recordio-protobuf", "SplitType": "RecordIO"},
                  BatchStrategy="MultiRecord")
    params["ModelName"] = "xgb"
    call(home, "createTransformJob", params, pattern="sync")
    values = [float(v) for v in store.get_bytes("s3://bucket/rio-out/part.pbr.out").decode().split()]
    assert values == pytest.approx(booster.predict(xgb.DMatrix(features[:6].astype("float32"))).tolist(), rel=1e-5)


def test_failures_fail_the_job_and_upload_nothing(home: Path, sklearn_model: Any) -> None:
    store = ObjectStore(home / "s3")
    store.put_bytes("s3://bucket/bad/0-good.csv", b"0.1,0.2,0.3\n")
    store.put_bytes("s3://bucket/bad/1-bad.csv", b"1,2\n")  # two features: the model raises
    with pytest.raises(StatesError) as raised:
        call(home, "createTransformJob", _job("bad", "s3://bucket/bad/", "s3://bucket/bad-out/"), pattern="sync")
    assert raised.value.error == "States.TaskFailed"
    described = json.loads(raised.value.cause or "{}")
    assert described["TransformJobStatus"] == "Failed"
    assert "Bad HTTP status received from algorithm: 500" in described["FailureReason"]
    check_shape("DescribeTransformJob", described)
    assert store.list("s3://bucket/bad-out/") == []

    store.put_bytes("s3://bucket/big/one.csv", b"0.1,0.2,0.3\n" * 100_000)
    result = call(home, "createTransformJob", _job("big", "s3://bucket/big/", "s3://bucket/big-out/",
                                                   TransformInput={"SplitType": "None"}, MaxPayloadInMB=1))
    assert bare(result) == {"TransformJobArn": "arn:aws:sagemaker:us-east-1:123456789012:transform-job/big"}
    record = wait_for_job(home, "transform-job", "big")
    assert record["TransformJobStatus"] == "Failed" and "MaxPayloadInMB" in record["FailureReason"]

    with pytest.raises(StatesError) as raised:
        call(home, "createTransformJob", _job("big", "s3://bucket/big/", "s3://bucket/big-out/"), pattern="sync")
    assert raised.value.error == "SageMaker.AmazonSageMakerException"
    assert "Job name must be unique" in (raised.value.cause or "")


def test_stopped_when_the_execution_is_cancelled(home: Path, sklearn_model: Any) -> None:
    features, _ = tiny_classification()
    ObjectStore(home / "s3").put_bytes("s3://bucket/stop/a.csv", _csv(features[:4]).encode())
    with pytest.raises(StatesError):
        call(home, "createTransformJob", _job("stopped", "s3://bucket/stop/", "s3://bucket/stop-out/",
                                              BatchStrategy="SingleRecord"), pattern="sync", control=Control(cancel_after=1))
    record = RecordStore(home).get("transform-job", "stopped")
    assert record is not None and record["TransformJobStatus"] == "Stopped"


def test_batches_pack_records_under_the_payload_limit() -> None:
    records = [b"x" * 400 + b"\n"] * 5
    assert [len(b) for b in batches(records, "MultiRecord", 1000)] == [2, 2, 1]
    assert [len(b) for b in batches(records, "SingleRecord", 1000)] == [1] * 5
    assert [len(b) for b in batches(records, "MultiRecord", 0)] == [5]
    assert split_records(b"a\nb\n\nc", "Line") == [b"a\n", b"b\n", b"c"]
    assert split_records(b"whole\nfile", "None") == [b"whole\nfile"]


def test_tfrecord_split() -> None:
    import struct

    def record(data: bytes) -> bytes:
        return struct.pack("<Q", len(data)) + b"\0" * 4 + data + b"\0" * 4

    assert split_records(record(b"abc") + record(b""), "TFRecord") == [record(b"abc"), record(b"")]


@pytest.mark.parametrize(("path", "value", "expected"), [
    ("$", [1, 2], [1, 2]),
    ("$[1:]", ["id", 1, 2], [1, 2]),
    ("$[0,-1]", ["id", 1, 2, "p"], ["id", "p"]),
    ("$[-1]", ["id", 1, 2, "p"], "p"),
    ("$.features", {"features": [1, 2]}, [1, 2]),
    ("$.a.b", {"a": {"b": 3}}, 3),
    ("$['id','SageMakerOutput']", {"id": 1, "x": 2, "SageMakerOutput": 3}, {"id": 1, "SageMakerOutput": 3}),
    ("$[*]", {"a": 1, "b": 2}, [1, 2]),
])
def test_filter_jsonpath_subset(path: str, value: Any, expected: Any) -> None:
    assert apply_filter(path, value) == expected


def test_manifest_of_gzipped_objects(home: Path, sklearn_model: Any) -> None:
    import gzip

    features, _ = tiny_classification()
    store = ObjectStore(home / "s3")
    store.put_bytes("s3://bucket/gz/part-a.csv.gz", gzip.compress(_csv(features[:2]).encode()))
    store.put_bytes("s3://bucket/gz/nested/part-b.csv.gz", gzip.compress(_csv(features[2:3]).encode()))
    store.put_bytes("s3://bucket/gz/ignored.csv.gz", gzip.compress(b"1,2\n"))  # not in the manifest
    store.put_bytes("s3://bucket/manifests/input.manifest",
                    json.dumps([{"prefix": "s3://bucket/gz/"}, "part-a.csv.gz", "nested/part-b.csv.gz"]).encode())
    call(home, "createTransformJob", _job(
        "manifest", "s3://bucket/manifests/input.manifest", "s3://bucket/manifest-out",
        TransformInput={"CompressionType": "Gzip", "DataSource": {"S3DataSource": {
            "S3DataType": "ManifestFile", "S3Uri": "s3://bucket/manifests/input.manifest"}}}), pattern="sync")
    assert store.list("s3://bucket/manifest-out/") == [
        "s3://bucket/manifest-out/nested/part-b.csv.gz.out", "s3://bucket/manifest-out/part-a.csv.gz.out"]
    expected = sklearn_model.predict(features[:2].astype("float32"))
    assert store.get_bytes("s3://bucket/manifest-out/part-a.csv.gz.out").decode().split() == [str(v) for v in expected]


def test_line_payloads_are_whole_lines_within_max_payload() -> None:
    from stepfn.local.sagemaker.transform import TransformError, line_payloads

    data = b"".join(f"{i},{'x' * (i % 17)}\n".encode() for i in range(500))
    payloads = line_payloads(data, 1000)
    assert payloads is not None and len(payloads) > 1
    assert b"".join(payloads) == data
    assert all(len(p) <= 1000 and p.endswith(b"\n") for p in payloads)
    # The same requests as packing the split records one by one.
    assert payloads == [b"".join(batch) for batch in batches(split_records(data, "Line"), "MultiRecord", 1000)]
    assert line_payloads(data + b"tail-without-newline", 10_000_000) == [data + b"tail-without-newline"]
    assert line_payloads(b"a\n\nb\n", 100) is None  # blank lines are dropped record by record
    assert line_payloads(b"a\n  \nb\n", 100) is None
    with pytest.raises(TransformError, match="exceeds MaxPayloadInMB"):
        line_payloads(b"short\n" + b"y" * 50 + b"\n", 20)


CONCURRENCY_PROGRAM = """
import os, time

def model_fn(model_dir):
    return None

def transform_fn(model, body, content_type, accept):
    started = time.time()
    # Requests held until OVERLAP of them are in (10 s at most): a loaded machine may hand a worker its request
    # later than a fixed pause, and requests that never run at once must still show as one at a time.
    with open(os.environ["SPANS_FILE"] + ".in", "a") as arrivals:
        arrivals.write("x")
    overlap = int(os.environ.get("OVERLAP", "1"))
    with open(os.environ["SPANS_FILE"] + ".in") as arrivals:
        wanted = -(-len(arrivals.read()) // overlap) * overlap
    deadline = time.time() + 10
    while time.time() < deadline:
        with open(os.environ["SPANS_FILE"] + ".in") as arrivals:
            if len(arrivals.read()) >= wanted:
                break
        time.sleep(0.01)
    time.sleep(0.3)
    with open(os.environ["SPANS_FILE"], "a") as spans:
        spans.write("%d %f %f %d\\n" % (os.getpid(), started, time.time(), body.count(b"\\n")))
    return body, "text/csv"
"""


def _own_model(home: Path, tmp_path: Path, program: str, **environment: str) -> None:
    """Model ``sk``: an image of the account's own (no framework defaults) serving ``program``."""
    (tmp_path / "model" / "code").mkdir(parents=True)
    (tmp_path / "model" / "code" / "inference.py").write_text(program)
    uri = ObjectStore(home / "s3").upload(make_tar(tmp_path / "model", tmp_path / "m.tar.gz"), "s3://bucket/own/model.tar.gz")
    call(home, "createModel", {"ModelName": "sk", "PrimaryContainer": {
        "Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/my-own:1", "ModelDataUrl": uri,
        "Environment": {"SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
                        **environment}}})


def _spans_model(home: Path, tmp_path: Path, spans: Path, overlap: int = 1) -> None:
    _own_model(home, tmp_path, CONCURRENCY_PROGRAM, SPANS_FILE=str(spans), OVERLAP=str(overlap))


def _most_at_once(spans: Path) -> tuple[int, int]:
    """(requests, the most that were being answered at one moment) from the server's spans."""
    intervals = [tuple(float(v) for v in line.split()[1:3]) for line in spans.read_text().splitlines()]
    return len(intervals), max(sum(1 for s, e in intervals if s <= start < e) for start, _ in intervals)


@pytest.mark.parametrize("concurrency", [1, 2])
def test_max_concurrent_transforms_requests_in_flight(home: Path, tmp_path: Path, concurrency: int) -> None:
    spans = tmp_path / "spans.txt"
    _spans_model(home, tmp_path, spans, overlap=concurrency)
    ObjectStore(home / "s3").put_bytes("s3://bucket/four/data.csv", b"1\n2\n3\n4\n")
    result = call(home, "createTransformJob", _job("conc", "s3://bucket/four/", "s3://bucket/four-out/",
                                                   BatchStrategy="SingleRecord", MaxConcurrentTransforms=concurrency),
                  pattern="sync")
    assert result["TransformJobStatus"] == "Completed", result.get("FailureReason")
    assert ObjectStore(home / "s3").get_bytes("s3://bucket/four-out/data.csv.out") == b"1\n2\n3\n4\n"
    assert _most_at_once(spans) == (4, concurrency)
    assert len({line.split()[0] for line in spans.read_text().splitlines()}) == concurrency  # one worker each


def test_multi_record_requests_respect_max_payload(home: Path, tmp_path: Path) -> None:
    spans = tmp_path / "spans.txt"
    _spans_model(home, tmp_path, spans)
    row = b"0.123456789," * 20 + b"1\n"
    rows = 30_000  # about 7.4 MB: two requests of at most 6 MB
    ObjectStore(home / "s3").put_bytes("s3://bucket/big/data.csv", row * rows)
    result = call(home, "createTransformJob", _job("payload", "s3://bucket/big/", "s3://bucket/big-out/",
                                                   BatchStrategy="MultiRecord", MaxPayloadInMB=6), pattern="sync")
    assert result["TransformJobStatus"] == "Completed", result.get("FailureReason")
    counts = [int(line.split()[3]) for line in spans.read_text().splitlines()]
    assert sum(counts) == rows and len(counts) == 2
    assert max(counts) * len(row) <= 6 * 1024 * 1024
    assert ObjectStore(home / "s3").get_bytes("s3://bucket/big-out/data.csv.out") == row * rows


def test_single_records_to_stepfns_server_are_pipelined(home: Path, tmp_path: Path) -> None:
    """Many SingleRecord requests go down each connection before the answers are read; each is still one
    request with one record, answered in order, and a refused one is retried on its own."""
    program = """
import os

def model_fn(model_dir):
    return None

def transform_fn(model, body, content_type, accept):
    if body.strip() == b"13" and not os.path.exists(os.environ["SEEN_FILE"]):
        open(os.environ["SEEN_FILE"], "w").close()
        raise RuntimeError("the first try of row 13 fails")
    return b"%d:%s" % (body.count(b"\\n"), body.strip()), "text/csv"
"""
    _own_model(home, tmp_path, program, SEEN_FILE=str(tmp_path / "seen"))
    rows = "".join(f"{i}\n" for i in range(300)).encode()
    ObjectStore(home / "s3").put_bytes("s3://bucket/rows/data.csv", rows)
    result = call(home, "createTransformJob", _job("piped", "s3://bucket/rows/", "s3://bucket/rows-out/",
                                                   BatchStrategy="SingleRecord", MaxConcurrentTransforms=2),
                  pattern="sync")
    assert result["TransformJobStatus"] == "Completed", result.get("FailureReason")
    out = ObjectStore(home / "s3").get_bytes("s3://bucket/rows-out/data.csv.out").decode().splitlines()
    assert out == [f"1:{i}" for i in range(300)]  # one record a request, in input order
    assert (tmp_path / "seen").exists()  # row 13 failed once and was sent again
    log = RecordStore(home).log_path("transform-job", "piped").read_text()
    assert log.count("RuntimeError: the first try of row 13 fails") == 1
