"""Processing jobs run for real: inputs staged under a relocated /opt/ml/processing, outputs uploaded."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from test_models import ROLE, SKLEARN_IMAGE, Control, bare, call, check_shape, wait_for_job

from stepfn.errors import StatesError
from stepfn.local.objectstore import ObjectStore
from stepfn.local.sagemaker.images import register_image, unregister_image
from stepfn.local.sagemaker.processing import ProcessingJobs
from stepfn.local.sagemaker.records import RecordStore

SCRIPT = """
import argparse, json, os, sys
parser = argparse.ArgumentParser()
parser.add_argument("--input")
parser.add_argument("--train-ratio", type=float)
args = parser.parse_args()
rows = []
for name in sorted(os.listdir(args.input)):
    with open(os.path.join(args.input, name)) as handle:
        rows += [line for line in handle.read().splitlines() if line]
cut = int(len(rows) * args.train_ratio)
base = os.environ["SAGEMAKER_BASE_DIR"] + "/processing/output"
with open(os.path.join(base, "train", "train.csv"), "w") as handle:
    handle.write("\\n".join(rows[:cut]) + "\\n")
with open(os.path.join(base, "test", "test.csv"), "w") as handle:
    handle.write("\\n".join(rows[cut:]) + "\\n")
config = json.load(open(os.environ["SAGEMAKER_BASE_DIR"] + "/config/processingjobconfig.json"))
print("job", config["ProcessingJobName"], "env", os.environ.get("MODE"), "cwd", os.getcwd())
print("secret", os.environ.get("AWS_SECRET_ACCESS_KEY"))
"""


def _request(name: str, **extra: Any) -> dict[str, Any]:
    request: dict[str, Any] = {
        "ProcessingJobName": name, "RoleArn": ROLE,
        "ProcessingResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large",
                                                  "VolumeSizeInGB": 30}},
        "AppSpecification": {
            "ImageUri": SKLEARN_IMAGE,
            "ContainerEntrypoint": ["python3", "/opt/ml/processing/input/code/preprocess.py"],
            "ContainerArguments": ["--input", "/opt/ml/processing/input/data", "--train-ratio", "0.75"],
        },
        "ProcessingInputs": [
            {"InputName": "data", "S3Input": {"S3Uri": "s3://bucket/raw/", "LocalPath": "/opt/ml/processing/input/data",
                                              "S3DataType": "S3Prefix", "S3InputMode": "File"}},
            {"InputName": "code", "S3Input": {"S3Uri": "s3://bucket/code/preprocess.py",
                                              "LocalPath": "/opt/ml/processing/input/code", "S3DataType": "S3Prefix"}},
        ],
        "ProcessingOutputConfig": {"Outputs": [
            {"OutputName": "train", "S3Output": {"S3Uri": "s3://bucket/processed/train",
                                                  "LocalPath": "/opt/ml/processing/output/train", "S3UploadMode": "EndOfJob"}},
            {"OutputName": "test", "S3Output": {"S3Uri": "s3://bucket/processed/test/",
                                                 "LocalPath": "/opt/ml/processing/output/test", "S3UploadMode": "EndOfJob"}},
        ]},
        "Environment": {"MODE": "local"},
        "StoppingCondition": {"MaxRuntimeInSeconds": 60},
    }
    request.update(extra)
    return request


@pytest.fixture
def store(stepfn_home: Path) -> ObjectStore:
    store = ObjectStore(stepfn_home / "s3")
    store.put_bytes("s3://bucket/raw/a.csv", b"1,2\n3,4\n")
    store.put_bytes("s3://bucket/raw/b.csv", b"5,6\n7,8\n")
    store.put_bytes("s3://bucket/code/preprocess.py", SCRIPT.encode())
    return store


def test_processing_job_runs_script_and_uploads_outputs(stepfn_home: Path, store: ObjectStore,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "do-not-leak")
    result = call(stepfn_home, "createProcessingJob", _request("prep-1"), pattern="sync")
    assert result["ProcessingJobStatus"] == "Completed", result.get("FailureReason")
    assert result["ProcessingJobArn"] == "arn:aws:sagemaker:us-east-1:123456789012:processing-job/prep-1"
    assert result["ProcessingInputs"][0]["S3Input"]["S3DataDistributionType"] == "FullyReplicated"
    check_shape("DescribeProcessingJob", result)
    assert store.get_bytes("s3://bucket/processed/train/train.csv") == b"1,2\n3,4\n5,6\n"
    assert store.get_bytes("s3://bucket/processed/test/test.csv") == b"7,8\n"
    log = (stepfn_home / "sagemaker" / "logs" / "processing-job" / "prep-1.log").read_text()
    # The job starts where the image's working directory `/` is: bubblewrap's private root, else the job's own
    # tree standing in for it (unshare's `/` is the host's; the relocated tree's root without a namespace).
    job_root = stepfn_home / "sagemaker" / "jobs" / "processing-job" / "prep-1"
    assert f"job prep-1 env local cwd {'/' if 'stepfn: isolation bwrap' in log else job_root}" in log
    assert "secret None" in log  # the parent's credentials are not handed to the job
    assert RecordStore(stepfn_home).get("processing-job", "prep-1") == result


def test_request_response_returns_the_arn_and_names_are_unique(stepfn_home: Path, store: ObjectStore) -> None:
    assert bare(call(stepfn_home, "createProcessingJob", _request("prep-2"))) == {
        "ProcessingJobArn": "arn:aws:sagemaker:us-east-1:123456789012:processing-job/prep-2"}
    with pytest.raises(StatesError) as raised:
        call(stepfn_home, "createProcessingJob", _request("prep-2"), pattern="sync")
    assert raised.value.error == "SageMaker.AmazonSageMakerException"
    assert "Job name must be unique" in (raised.value.cause or "")
    assert wait_for_job(stepfn_home, "processing-job", "prep-2")["ProcessingJobStatus"] == "Completed"
    assert store.exists("s3://bucket/processed/train/train.csv")


def test_failing_script_fails_the_task_with_the_describe_record(stepfn_home: Path, store: ObjectStore) -> None:
    store.put_bytes("s3://bucket/code/preprocess.py",
                    b"import os, sys\nopen(os.environ['SAGEMAKER_BASE_DIR'] + '/output/message', 'w').write('bad input')\n"
                    b"sys.exit('the data is broken')\n")
    with pytest.raises(StatesError) as raised:
        call(stepfn_home, "createProcessingJob", _request("prep-3"), pattern="sync")
    assert raised.value.error == "States.TaskFailed"
    described = json.loads(raised.value.cause or "{}")
    assert described["ProcessingJobStatus"] == "Failed"
    assert "the data is broken" in described["FailureReason"] and described["ExitMessage"] == "bad input"
    check_shape("DescribeProcessingJob", described)
    assert store.list("s3://bucket/processed/") == []


def test_max_runtime_and_cancellation_stop_the_process(stepfn_home: Path, store: ObjectStore) -> None:
    store.put_bytes("s3://bucket/code/preprocess.py", b"import time\ntime.sleep(60)\n")
    jobs = ProcessingJobs(stepfn_home, stop_grace_seconds=2)
    record = jobs.run(_request("slow", StoppingCondition={"MaxRuntimeInSeconds": 1}))
    assert record["ProcessingJobStatus"] == "Failed" and "MaxRuntimeExceeded" in record["FailureReason"]
    record = jobs.run(_request("cancelled"), control=Control(cancel_after=3))
    assert record["ProcessingJobStatus"] == "Stopped"
    check_shape("DescribeProcessingJob", record)


def test_registered_image_and_validation_errors(stepfn_home: Path, store: ObjectStore, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STEPFN_JOB_ISOLATION", "none")  # the arguments show the relocated tree
    script = tmp_path / "tool.py"
    script.write_text("import sys, os\nprint('args', sys.argv[1:])\n"
                      "open(os.environ['SAGEMAKER_BASE_DIR'] + '/processing/output/train/x', 'w').write('ok')\n")
    image = "1234.dkr.ecr.us-east-1.amazonaws.com/my-processor:1"
    register_image(image, [sys_python(), str(script)])
    try:
        request = _request("byo", AppSpecification={"ImageUri": image, "ContainerArguments": ["--in", "/opt/ml/processing/input/data"]})
        result = call(stepfn_home, "createProcessingJob", request, pattern="sync")
    finally:
        unregister_image(image)
    assert result["ProcessingJobStatus"] == "Completed", result.get("FailureReason")
    assert store.get_bytes("s3://bucket/processed/train/x") == b"ok"
    log = (stepfn_home / "sagemaker" / "logs" / "processing-job" / "byo.log").read_text()
    relocated = stepfn_home / "sagemaker" / "jobs" / "processing-job" / "byo" / "opt/ml/processing/input/data"
    assert f"args ['--in', '{relocated}']" in log

    with pytest.raises(StatesError) as raised:
        call(stepfn_home, "createProcessingJob", _request("bad-path", ProcessingInputs=[
            {"InputName": "x", "S3Input": {"S3Uri": "s3://bucket/raw/", "LocalPath": "/etc", "S3DataType": "S3Prefix"}}]))
    assert "must be under /opt/ml/processing/" in (raised.value.cause or "")
    result = call(stepfn_home, "createProcessingJob", _request("no-cmd", AppSpecification={
        "ImageUri": "1234.dkr.ecr.us-east-1.amazonaws.com/unknown:1"}), pattern="request_response")
    record = wait_for_job(stepfn_home, "processing-job", "no-cmd")
    assert record["ProcessingJobStatus"] == "Failed"
    assert "register_image" in record["FailureReason"] and result["ProcessingJobArn"].endswith("/no-cmd")


def sys_python() -> str:
    import sys

    return sys.executable


def test_resumed_task_returns_the_finished_job_instead_of_refusing_its_name(stepfn_home: Path, store: ObjectStore) -> None:
    from stepfn.engine.protocol import TaskRequest
    from stepfn.local.sagemaker import serving

    first = call(stepfn_home, "createProcessingJob", _request("prep-r"), pattern="sync")
    store.delete("s3://bucket/processed/train/train.csv")
    request = TaskRequest(resource="arn:aws:states:::sagemaker:createProcessingJob.sync", service="sagemaker",
                          action="createProcessingJob", pattern="sync", parameters=_request("prep-r"),
                          state_name="Step", execution_arn="arn:exec", resumed=True)
    again = serving.handlers(stepfn_home)["sagemaker:createProcessingJob"](request, Control())
    assert again == first
    assert not store.exists("s3://bucket/processed/train/train.csv")  # not run a second time


RUNPROC = """#!/bin/bash
cd /opt/ml/processing/input/code/
tar -xzf sourcedir.tar.gz
set -e
python process.py "$@"
"""


def test_framework_processor_runproc_driver(stepfn_home: Path, store: ObjectStore) -> None:
    from test_training_support import sourcedir

    sourcedir(store, "s3://bucket/fp/code/sourcedir.tar.gz", {"process.py": (
        "import sys, os, sklearn\n"
        "out = os.environ['SAGEMAKER_BASE_DIR'] + '/processing/output/train/args.txt'\n"
        "open(out, 'w').write(' '.join(sys.argv[1:]) + ' ' + os.path.basename(os.getcwd()))\n")})
    store.put_bytes("s3://bucket/fp/entrypoint/runproc.sh", RUNPROC.encode())
    request = _request("fp", AppSpecification={
        "ImageUri": SKLEARN_IMAGE, "ContainerEntrypoint": ["/bin/bash", "/opt/ml/processing/input/entrypoint/runproc.sh"],
        "ContainerArguments": ["--mode", "fast"]})
    request["ProcessingInputs"] = [
        {"InputName": "code", "S3Input": {"S3Uri": "s3://bucket/fp/code/sourcedir.tar.gz", "S3DataType": "S3Prefix",
                                          "LocalPath": "/opt/ml/processing/input/code"}},
        {"InputName": "entrypoint", "S3Input": {"S3Uri": "s3://bucket/fp/entrypoint/runproc.sh", "S3DataType": "S3Prefix",
                                                "LocalPath": "/opt/ml/processing/input/entrypoint"}},
    ]
    result = call(stepfn_home, "createProcessingJob", request, pattern="sync")
    assert result["ProcessingJobStatus"] == "Completed", result.get("FailureReason")
    assert store.get_bytes("s3://bucket/processed/train/args.txt") == b"--mode fast code"


def test_an_unexpected_error_fails_the_job_instead_of_leaving_it_in_progress(
        stepfn_home: Path, store: ObjectStore, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(self: ProcessingJobs, *args: Any) -> Any:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(ProcessingJobs, "_prepare", broken)
    with pytest.raises(StatesError) as raised:
        call(stepfn_home, "createProcessingJob", _request("boom"), pattern="sync")
    described = json.loads(raised.value.cause or "{}")
    assert described["ProcessingJobStatus"] == "Failed"
    assert described["FailureReason"] == "InternalServerError: RuntimeError: disk on fire"
    assert "Traceback" in (stepfn_home / "sagemaker" / "logs" / "processing-job" / "boom.log").read_text()


def test_hard_coded_opt_ml_path_fails_with_the_fix_named_without_namespaces(
        stepfn_home: Path, store: ObjectStore, monkeypatch: pytest.MonkeyPatch) -> None:
    # The SageMaker Processing notebook's scripts open /opt/ml/processing/input/... directly; where jobs cannot
    # have their own mount namespace (forced here) /opt/ml is relocated, and the failure says what to do.
    monkeypatch.setenv("STEPFN_JOB_ISOLATION", "none")
    store.put_bytes("s3://bucket/code/preprocess.py", b"open('/opt/ml/processing/input/data/a.csv').read()\n")
    with pytest.raises(StatesError) as raised:
        call(stepfn_home, "createProcessingJob", _request("prep-hard-coded"), pattern="sync")
    reason = json.loads(raised.value.cause or "{}")["FailureReason"]
    assert reason.startswith("AlgorithmError: the script opens a hard-coded /opt/ml path")
    assert "$SAGEMAKER_BASE_DIR" in reason and "No such file or directory: '/opt/ml/processing/input/data/a.csv'" in reason
