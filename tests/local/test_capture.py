"""Data capture's file naming, encodings and buffered writer (stepfn.local.sagemaker.capture)."""

from __future__ import annotations

import base64
import json
import logging
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from stepfn.local.objectstore import ObjectStore
from stepfn.local.sagemaker.capture import CaptureWriter, capture_event, capture_file_uri, encode_payload, sampled

HEADERS = {"CsvContentTypes": ["text/csv"], "JsonContentTypes": ["application/json"]}


def test_capture_file_names_follow_sagemaker_layout() -> None:
    when = datetime(2026, 3, 4, 5, 6, 7, 890123, tzinfo=UTC)
    assert capture_file_uri("s3://b/capture/", "ep", "AllTraffic", when, "u-1") == \
        "s3://b/capture/ep/AllTraffic/2026/03/04/05/06-07-890-u-1.jsonl"
    # The folders are UTC hours, whatever the clock's zone.
    local = when.astimezone(timezone(timedelta(hours=-8)))
    assert capture_file_uri("s3://b/c", "ep", "v", local, "x") == "s3://b/c/ep/v/2026/03/04/05/06-07-890-x.jsonl"


def test_encoding_follows_the_content_type_header() -> None:
    assert encode_payload(b"1,2", "text/csv", HEADERS) == {"data": "1,2", "encoding": "CSV"}
    assert encode_payload(b'{"a":1}', "application/json; charset=utf-8", HEADERS) == {"data": '{"a":1}',
                                                                                      "encoding": "JSON"}
    assert encode_payload(b"1,2", "text/csv", {}) == {"data": base64.b64encode(b"1,2").decode(), "encoding": "BASE64"}
    assert encode_payload(b"\xff\xfe", "text/csv", HEADERS)["encoding"] == "BASE64"  # not UTF-8
    assert encode_payload(b"x", None, HEADERS)["encoding"] == "BASE64"


def test_capture_event_holds_what_capture_options_ask() -> None:
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    config = {"CaptureOptions": [{"CaptureMode": "Input"}], "CaptureContentTypeHeader": HEADERS}
    event = capture_event(config, b"1,2", "text/csv", b"0.5", "text/csv", when, "id-7")
    assert event["captureData"] == {"endpointInput": {"observedContentType": "text/csv", "mode": "INPUT",
                                                      "data": "1,2", "encoding": "CSV"}}
    assert event["eventMetadata"]["inferenceTime"] == "2026-01-02T03:04:05Z"
    assert event["eventMetadata"]["inferenceId"] == "id-7" and event["eventVersion"] == "0"
    both = capture_event({"CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}]}, b"a", "text/csv",
                         b"b", "text/csv", when)
    assert set(both["captureData"]) == {"endpointInput", "endpointOutput"}


def test_sampling_percentage() -> None:
    assert not sampled({"EnableCapture": True, "InitialSamplingPercentage": 0})
    assert sampled({"EnableCapture": True, "InitialSamplingPercentage": 100})
    assert not sampled({"EnableCapture": False, "InitialSamplingPercentage": 100})
    hits = sum(sampled({"InitialSamplingPercentage": 30}) for _ in range(4000))
    assert 900 < hits < 1500


def test_writer_buffers_off_the_caller_and_splits_files_by_hour(tmp_path: Path) -> None:
    store = ObjectStore(tmp_path / "s3")
    # A window no pause of a loaded machine between two add() calls (or before the assert below) outlasts.
    writer = CaptureWriter(flush_seconds=2)
    first = datetime(2026, 5, 6, 7, 59, 59, 999000, tzinfo=UTC)
    for index in range(3):
        writer.add(store, "s3://b/cap", "ep", "v", {"n": index}, first)
    writer.add(store, "s3://b/cap", "ep", "v", {"n": 3}, first + timedelta(seconds=1))
    assert store.list("s3://b/cap/") == []  # add() only buffered
    deadline = time.monotonic() + 30
    while len(store.list("s3://b/cap/")) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    late, early = sorted(store.list("s3://b/cap/"), reverse=True)
    assert early.startswith("s3://b/cap/ep/v/2026/05/06/07/59-59-999-")
    assert late.startswith("s3://b/cap/ep/v/2026/05/06/08/00-00-999-")
    assert [json.loads(line)["n"] for line in store.get_bytes(early).decode().splitlines()] == [0, 1, 2]
    assert [json.loads(line)["n"] for line in store.get_bytes(late).decode().splitlines()] == [3]


def test_flush_writes_at_once(tmp_path: Path) -> None:
    store = ObjectStore(tmp_path / "s3")
    writer = CaptureWriter(flush_seconds=60)
    writer.add(store, "s3://b/cap", "ep", "v", {"n": 1}, datetime.now(UTC))
    writer.flush()
    [written] = store.list("s3://b/cap/")
    assert json.loads(store.get_bytes(written)) == {"n": 1}


def test_a_destination_that_cannot_be_written_loses_its_records_in_the_log_not_silently(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    store = ObjectStore(tmp_path / "s3")
    writer = CaptureWriter(flush_seconds=60)
    writer.add(store, "s3://b/../outside", "ep", "v", {"n": 1}, datetime.now(UTC))
    with caplog.at_level(logging.WARNING, logger="stepfn.local.sagemaker.capture"):
        writer.flush()  # never raises: capture must not fail the calls it records
    assert "data capture of endpoint ep lost 1 records" in caplog.text
    assert not (tmp_path / "outside").exists()


def test_a_process_that_exits_at_once_still_writes_its_captures(tmp_path: Path) -> None:
    """A short-lived caller (``stepfn endpoints invoke``, a script) exits before the writer's moment has passed."""
    import subprocess
    import sys

    code = ("import sys; from datetime import UTC, datetime; from stepfn.local.objectstore import ObjectStore; "
            "from stepfn.local.sagemaker.capture import capture_writer; "
            "capture_writer().add(ObjectStore(sys.argv[1]), 's3://b/cap', 'ep', 'v', {'n': 1}, datetime.now(UTC))")
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "s3")], check=True, timeout=60)
    [written] = ObjectStore(tmp_path / "s3").list("s3://b/cap/")
    assert json.loads(ObjectStore(tmp_path / "s3").get_bytes(written)) == {"n": 1}


def test_the_analyzer_reads_captured_csv_json_and_base64_records_in_their_window(tmp_path: Path) -> None:
    from stepfn.local.sagemaker.monitor import read_dataset

    config = {"CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
              "CaptureContentTypeHeader": HEADERS}
    noon = datetime(2026, 1, 1, 12, tzinfo=UTC)
    events = [
        capture_event(config, b"1,2\n3,4", "text/csv", b"0.1,0.2", "text/csv", noon),  # a batch: scores on one line
        capture_event(config, b'{"instances": [[5, 6]]}', "application/json", b'{"predictions": [0.3]}',
                      "application/json", noon),
        capture_event(config, b"7,8", "application/x-custom", b"0.4", "application/x-custom", noon),  # BASE64
        capture_event(config, b"9,9", "text/csv", b"0.9", "text/csv", noon + timedelta(hours=1)),  # after the window
    ]
    (tmp_path / "data.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    both = {"sagemakerCaptureJson": {"captureIndexNames": ["endpointInput", "endpointOutput"]}}
    frame = read_dataset(tmp_path, both, (noon - timedelta(hours=1), noon + timedelta(minutes=1)))
    assert frame.values.tolist() == [["0.1", "1", "2"], ["0.2", "3", "4"], ["0.3", "5", "6"], ["0.4", "7", "8"]]
    inputs_only = read_dataset(tmp_path, {"sagemakerCaptureJson": {}})
    assert inputs_only.values.tolist() == [["1", "2"], ["3", "4"], ["5", "6"], ["7", "8"], ["9", "9"]]


def test_a_captured_time_without_a_zone_is_read_as_utc() -> None:
    from stepfn.local.sagemaker.monitor import _in_window

    window = (datetime(2026, 12, 7, 5, 0, tzinfo=UTC), datetime(2026, 12, 7, 6, 0, tzinfo=UTC))
    inside = {"eventMetadata": {"inferenceTime": "2026-12-07T05:30:00"}}
    outside = {"eventMetadata": {"inferenceTime": "2026-12-07T06:30:00.000"}}
    assert _in_window(inside, window) and not _in_window(outside, window)
    assert _in_window({"eventMetadata": {"inferenceTime": "2026-12-07T05:59:59Z"}}, window)
