from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from stepfn.engine.protocol import TaskRequest
from stepfn.errors import StatesError
from stepfn.local.objectstore import ObjectStore
from stepfn.local.s3 import handlers


class Control:
    def cancelled(self) -> bool:
        return False

    def heartbeat(self) -> None:
        pass

    def sleep(self, seconds: float) -> bool:
        return True

    def log(self, message: str) -> None:
        pass


def call(home: Path, action: str, parameters: dict[str, Any]) -> Any:
    request = TaskRequest(resource=f"arn:aws:states:::aws-sdk:s3:{action}", service="s3", action=action,
                          pattern="request_response", parameters=parameters, state_name="S", execution_arn="e")
    return handlers(home)[f"s3:{action}"](request, Control())


def test_put_then_get_object(tmp_path: Path) -> None:
    put = call(tmp_path, "putObject", {"Bucket": "b", "Key": "dir/items.json", "Body": [{"a": 1}]})
    assert put["ETag"].startswith('"') and len(put["ETag"]) == 34
    got = call(tmp_path, "getObject", {"Bucket": "b", "Key": "dir/items.json"})
    assert json.loads(got["Body"]) == [{"a": 1}]
    assert got["ContentLength"] == len(got["Body"]) and got["ETag"] == put["ETag"]
    assert got["LastModified"].endswith("Z")
    assert ObjectStore(tmp_path / "s3").get_bytes("s3://b/dir/items.json") == b'[{"a":1}]'
    head = call(tmp_path, "headObject", {"Bucket": "b", "Key": "dir/items.json"})
    assert "Body" not in head and head["ContentLength"] == got["ContentLength"]


def test_missing_key_and_bucket_errors(tmp_path: Path) -> None:
    with pytest.raises(StatesError) as info:
        call(tmp_path, "getObject", {"Bucket": "b", "Key": "nope"})
    assert info.value.error == "S3.NoSuchKeyException" and "Status Code: 404" in info.value.cause
    with pytest.raises(StatesError) as bucket:
        call(tmp_path, "listObjectsV2", {"Bucket": "nobucket"})
    assert bucket.value.error == "S3.NoSuchBucketException"
    with pytest.raises(StatesError) as escape:
        call(tmp_path, "putObject", {"Bucket": "b", "Key": "../../etc/x", "Body": "x"})
    assert escape.value.error == "S3.S3Exception"


def test_list_objects_v2_pages_and_delimiter(tmp_path: Path) -> None:
    store = ObjectStore(tmp_path / "s3")
    for key in ["a/1.csv", "a/2.csv", "a/sub/3.csv", "a/sub/4.csv", "b/5.csv"]:
        store.put_bytes(f"s3://bkt/{key}", b"x")
    first = call(tmp_path, "listObjectsV2", {"Bucket": "bkt", "Prefix": "a/", "MaxKeys": 2})
    assert [c["Key"] for c in first["Contents"]] == ["a/1.csv", "a/2.csv"]
    assert first["IsTruncated"] and first["KeyCount"] == 2
    second = call(tmp_path, "listObjectsV2", {"Bucket": "bkt", "Prefix": "a/", "MaxKeys": 2,
                                              "ContinuationToken": first["NextContinuationToken"]})
    assert [c["Key"] for c in second["Contents"]] == ["a/sub/3.csv", "a/sub/4.csv"]
    assert not second["IsTruncated"] and "NextContinuationToken" not in second
    rolled = call(tmp_path, "listObjectsV2", {"Bucket": "bkt", "Prefix": "a/", "Delimiter": "/"})
    assert [c["Key"] for c in rolled["Contents"]] == ["a/1.csv", "a/2.csv"]
    assert rolled["CommonPrefixes"] == [{"Prefix": "a/sub/"}] and rolled["KeyCount"] == 3
    top = call(tmp_path, "listObjectsV2", {"Bucket": "bkt", "Delimiter": "/"})
    assert "Contents" not in top and top["CommonPrefixes"] == [{"Prefix": "a/"}, {"Prefix": "b/"}]
    assert call(tmp_path, "deleteObject", {"Bucket": "bkt", "Key": "b/5.csv"}) == {}
    assert not store.exists("s3://bkt/b/5.csv")


def test_map_item_reader_and_result_writer_use_the_object_store(tmp_path: Path) -> None:
    from stepfn.engine import Engine

    store = ObjectStore(tmp_path / "s3")
    store.put_bytes("s3://bkt/in/items.json", json.dumps([{"n": 1}, {"n": 2}, {"n": 3}]).encode())
    store.put_bytes("s3://bkt/in/rows.csv", b"n,word\n4,four\n5,five\n")
    definition = {
        "StartAt": "Each",
        "States": {"Each": {
            "Type": "Map",
            "ItemReader": {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "JSON"},
                           "Parameters": {"Bucket": "bkt", "Key": "in/items.json"}},
            "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                              "StartAt": "Double", "States": {"Double": {
                                  "Type": "Pass", "Parameters": {"twice.$": "States.MathAdd($.n, $.n)"}, "End": True}}},
            "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject",
                             "Parameters": {"Bucket": "bkt", "Prefix": "results"}},
            "End": True,
        }},
    }
    result = Engine(handlers(tmp_path)).run(
        definition, {}, execution_arn="arn:aws:states:us-east-1:1:execution:m:e1",
        state_machine_arn="arn:aws:states:us-east-1:1:stateMachine:m", name="e1")
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    manifest_key = json.loads(result.output)["ResultWriterDetails"]["Key"]
    manifest = json.loads(store.get_bytes(f"s3://bkt/{manifest_key}"))
    succeeded = manifest["ResultFiles"]["SUCCEEDED"][0]["Key"]
    outputs = [json.loads(r["Output"]) if isinstance(r, dict) and "Output" in r else r
               for r in json.loads(store.get_bytes(f"s3://bkt/{succeeded}"))]
    assert sorted(o["twice"] for o in outputs) == [2, 4, 6]


def test_aws_sdk_task_states_reach_the_same_handlers(tmp_path: Path) -> None:
    from stepfn.engine import Engine

    definition = {"StartAt": "Put", "States": {
        "Put": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:putObject",
                "Parameters": {"Bucket": "bkt", "Key": "note.txt", "Body.$": "$.text"}, "ResultPath": None,
                "Next": "Get"},
        "Get": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
                "Parameters": {"Bucket": "bkt", "Key": "note.txt"}, "ResultSelector": {"Body.$": "$.Body"},
                "Next": "Missing"},
        "Missing": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
                    "Parameters": {"Bucket": "bkt", "Key": "absent"}, "ResultPath": "$.missing",
                    "Catch": [{"ErrorEquals": ["S3.NoSuchKeyException"], "ResultPath": "$.caught",
                               "Next": "Done"}], "End": True},
        "Done": {"Type": "Succeed"}}}
    result = Engine(handlers(tmp_path)).run(
        definition, {"text": "hello"}, execution_arn="arn:aws:states:us-east-1:1:execution:m:sdk",
        state_machine_arn="arn:aws:states:us-east-1:1:stateMachine:m", name="sdk")
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    output = json.loads(result.output)
    assert output["Body"] == "hello" and output["caught"]["Error"] == "S3.NoSuchKeyException"
