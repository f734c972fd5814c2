"""Distributed Map reading from and writing to the local object store through stepfn.local.s3's handlers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from engine_helpers import machine, run

s3 = pytest.importorskip("stepfn.local.s3")
objectstore = pytest.importorskip("stepfn.local.objectstore")


def _map(reader_config: dict[str, object], key: str, **extra: object) -> dict[str, object]:
    return machine(M={
        "Type": "Map",
        "ItemReader": {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": reader_config,
                       "Parameters": {"Bucket": "data", "Key": key}},
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED"}, "StartAt": "P",
                          "States": {"P": {"Type": "Pass", "Parameters": {"row.$": "$"}, "End": True}}},
        **extra})


def test_csv_json_and_jsonl_readers_and_result_writer(tmp_path: Path) -> None:
    store = objectstore.ObjectStore(tmp_path / "s3")
    store.put_bytes("s3://data/rows.csv", b"name;size\na;1\nb;2\n")
    store.put_bytes("s3://data/rows.json", json.dumps([{"n": 1}, {"n": 2}, {"n": 3}]).encode())
    store.put_bytes("s3://data/rows.jsonl", b'{"n": 1}\n{"n": 2}\n')
    store.put_bytes("s3://results/.keep", b"")
    handlers = s3.handlers(store=store)

    csv_result = run(_map({"InputType": "CSV", "CSVDelimiter": "SEMICOLON"}, "rows.csv"), handlers=handlers)
    assert csv_result.output_value == [{"row": {"name": "a", "size": "1"}}, {"row": {"name": "b", "size": "2"}}]
    json_result = run(_map({"InputType": "JSON", "MaxItems": 2}, "rows.json"), handlers=handlers)
    assert json_result.output_value == [{"row": {"n": 1}}, {"row": {"n": 2}}]
    jsonl_result = run(_map({"InputType": "JSONL"}, "rows.jsonl"), handlers=handlers)
    assert jsonl_result.output_value == [{"row": {"n": 1}}, {"row": {"n": 2}}]

    written = run(_map({"InputType": "JSON"}, "rows.json", ResultWriter={
        "Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": "results", "Prefix": "out"}}),
        handlers=handlers)
    assert written.status == "SUCCEEDED", written.cause
    manifest_key = written.output_value["ResultWriterDetails"]["Key"]
    manifest = json.loads(store.get_bytes(f"s3://results/{manifest_key}"))
    succeeded_key = manifest["ResultFiles"]["SUCCEEDED"][0]["Key"]
    records = json.loads(store.get_bytes(f"s3://results/{succeeded_key}"))
    assert [json.loads(r["Output"]) for r in records] == [{"row": {"n": n}} for n in (1, 2, 3)]
    assert [json.loads(r["Input"]) for r in records] == [{"n": n} for n in (1, 2, 3)]
    assert {r["Status"] for r in records} == {"SUCCEEDED"}
    assert all(r["ExecutionArn"].startswith("arn:aws:states:us-east-1:123456789012:execution:TestMachine/M:")
               for r in records)


def test_list_objects_reader_and_missing_key(tmp_path: Path) -> None:
    store = objectstore.ObjectStore(tmp_path / "s3")
    for name in ("a.txt", "b.txt"):
        store.put_bytes(f"s3://data/in/{name}", b"hello")
    handlers = s3.handlers(store=store)
    listing = machine(M={"Type": "Map", "ItemReader": {"Resource": "arn:aws:states:::s3:listObjectsV2",
                                                       "Parameters": {"Bucket": "data", "Prefix": "in/"}},
                         "ItemSelector": {"key.$": "$$.Map.Item.Value.Key"},
                         "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED"}, "StartAt": "P",
                                           "States": {"P": {"Type": "Pass", "End": True}}}})
    assert run(listing, handlers=handlers).output_value == [{"key": "in/a.txt"}, {"key": "in/b.txt"}]
    missing = run(_map({"InputType": "JSON"}, "nope.json"), handlers=handlers)
    assert (missing.status, missing.error) == ("FAILED", "States.ItemReaderFailed")


def test_manifest_reader_lists_the_objects_of_an_s3_inventory(tmp_path: Path) -> None:
    store = objectstore.ObjectStore(tmp_path / "s3")
    store.put_bytes("s3://inv/data/part-0.csv", b'"src","a.txt","5"\n"src","b.txt","7"\n')
    store.put_bytes("s3://inv/manifest.json", json.dumps({
        "sourceBucket": "src", "fileFormat": "CSV", "fileSchema": "Bucket, Key, Size",
        "files": [{"key": "data/part-0.csv", "size": 40}]}).encode())
    definition = machine(M={"Type": "Map", "ItemReader": {"Resource": "arn:aws:states:::s3:getObject",
                                                          "ReaderConfig": {"InputType": "MANIFEST"},
                                                          "Parameters": {"Bucket": "inv", "Key": "manifest.json"}},
                            "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED"}, "StartAt": "P",
                                              "States": {"P": {"Type": "Pass", "End": True}}}})
    result = run(definition, handlers=s3.handlers(store=store))
    assert result.output_value == [{"Bucket": "src", "Key": "a.txt", "Size": "5"},
                                   {"Bucket": "src", "Key": "b.txt", "Size": "7"}]
