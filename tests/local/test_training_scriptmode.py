from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.validate import validate_parameters
from test_training_support import (
    Control,
    read_tar,
    sourcedir,
    task_request,
    training_request,
)

from stepfn.errors import StatesError
from stepfn.local.objectstore import ObjectStore
from stepfn.local.sagemaker.lifecycle import held_elsewhere, lease_path
from stepfn.local.sagemaker.records import to_botocore_shape
from stepfn.local.sagemaker.training import TrainingJobs, handlers

TRAIN_SCRIPT = """
import json, os, sys
print("argv", json.dumps(sys.argv[1:]))
print("epoch 1 loss=0.5")
print("epoch 2 loss=0.25")
print("a warning on stderr", file=sys.stderr)
print("val\\taccuracy:0.875")
print("note=not-a-number")
train = os.environ["SM_CHANNEL_TRAIN"]
files = sorted(os.path.relpath(os.path.join(d, f), train) for d, _, fs in os.walk(train) for f in fs)
with open(os.path.join(os.environ["SM_MODEL_DIR"], "model.json"), "w") as handle:
    json.dump({"files": files, "data": open(os.path.join(train, files[0])).read()}, handle)
with open(os.path.join(os.environ["SM_OUTPUT_DATA_DIR"], "report.txt"), "w") as handle:
    handle.write("done")
"""


@pytest.fixture
def store(stepfn_home: Path) -> ObjectStore:
    store = ObjectStore(stepfn_home / "s3")
    store.put_bytes("s3://bucket/data/train/part-0.csv", b"1,2,3\n")
    store.put_bytes("s3://bucket/data/train/nested/part-1.csv", b"4,5,6\n")
    return store


def _script_job(store: ObjectStore, name: str, script: str = TRAIN_SCRIPT, **extra: object) -> dict[str, object]:
    code = sourcedir(store, f"s3://bucket/code/{name}/sourcedir.tar.gz", {"train.py": script})
    hyperparameters = {"sagemaker_program": '"train.py"', "sagemaker_submit_directory": json.dumps(code),
                       "epochs": "3", "lr": "0.1"}
    hyperparameters.update(extra.pop("hyperparameters", {}))  # type: ignore[arg-type]
    return training_request(name, hyperparameters=hyperparameters, channels={"train": "s3://bucket/data/train"},
                            **extra)  # type: ignore[arg-type]


def test_sync_job_runs_the_script_and_returns_describe_training_job(stepfn_home: Path, store: ObjectStore) -> None:
    request = _script_job(store, "sk-job-1")
    request["AlgorithmSpecification"]["MetricDefinitions"] = [  # type: ignore[index]
        {"Name": "train:loss", "Regex": r"loss=([0-9.]+)"},
        {"Name": "validation:accuracy", "Regex": r"val#011accuracy:(\S+)"},
        {"Name": "note", "Regex": r"note=(\S+)"},
    ]
    control = Control()
    result = handlers(stepfn_home)["sagemaker:createTrainingJob"](task_request(request), control)
    assert result["TrainingJobStatus"] == "Completed" and result["SecondaryStatus"] == "Completed"
    assert result["ModelArtifacts"]["S3ModelArtifacts"] == "s3://bucket/output/sk-job-1/output/model.tar.gz"
    assert [t["Status"] for t in result["SecondaryStatusTransitions"]] == [
        "Starting", "Downloading", "Training", "Uploading", "Completed"]
    metrics = {m["MetricName"]: m["Value"] for m in result["FinalMetricDataList"]}
    assert metrics == {"train:loss": 0.25, "validation:accuracy": 0.875}  # the string capture is dropped
    model = json.loads(read_tar(store.local_path(result["ModelArtifacts"]["S3ModelArtifacts"]))["model.json"])
    assert model == {"files": ["nested/part-1.csv", "part-0.csv"], "data": "4,5,6\n"}
    assert read_tar(store.local_path("s3://bucket/output/sk-job-1/output/output.tar.gz")) == {"report.txt": b"done"}
    log = (stepfn_home / "sagemaker" / "logs" / "training-job" / "sk-job-1.log").read_text()
    assert 'argv ["--epochs", "3", "--lr", "0.1"]' in log and "a warning on stderr" in log
    assert any("epoch 1 loss=0.5" in line for line in control.lines)
    service = botocore.session.get_session().get_service_model("sagemaker")
    validate_parameters(to_botocore_shape(result), service.operation_model("DescribeTrainingJob").output_shape)
    assert json.loads(json.dumps(result)) == result  # JSON all the way down: the engine stores it as output
    assert TrainingJobs(stepfn_home).describe("sk-job-1") == result


def test_request_response_starts_in_background(stepfn_home: Path, store: ObjectStore) -> None:
    request = _script_job(store, "bg-job")
    handler = handlers(stepfn_home)["sagemaker:createTrainingJob"]
    result = handler(task_request(request, pattern="request_response"), Control())
    assert result.pop("SdkHttpMetadata")["HttpStatusCode"] == 200 and "RequestId" in result.pop("SdkResponseMetadata")
    assert result == {"TrainingJobArn": "arn:aws:sagemaker:us-east-1:123456789012:training-job/bg-job"}
    final = TrainingJobs(stepfn_home).wait("bg-job")
    assert final["TrainingJobStatus"] == "Completed"


def test_duplicate_name_is_refused_and_resume_attaches(stepfn_home: Path, store: ObjectStore) -> None:
    counter = stepfn_home / "runs.txt"
    script = f"open({str(counter)!r}, 'a').write('run\\n')\n"
    request = _script_job(store, "dup-job", script=script)
    handler = handlers(stepfn_home)["sagemaker:createTrainingJob"]
    first = handler(task_request(request), Control())
    with pytest.raises(StatesError) as info:
        handler(task_request(request), Control())
    assert info.value.error == "SageMaker.AmazonSageMakerException"
    assert "Error Code: ValidationException" in info.value.cause and "already exists" in info.value.cause
    resumed = handler(task_request(request, resumed=True), Control())
    assert resumed == first
    assert counter.read_text() == "run\n"  # attached to the finished job, never ran it again
    # The job's lease and lock went when it ended; attaching to it left none behind.
    assert [path for path in (stepfn_home / "sagemaker" / "leases").rglob("*") if path.is_file()] == []


# The supervisor's lease, as the store leases executions: a dead process on this host, or one on another host
# whose lease ran out, no longer supervises the job; one on another host within its lease still does.
_GONE_SUPERVISORS = {
    "dead-here": {"owner": f"{socket.gethostname()}:{2**22 + 12345}:1", "lease_expires": time.time() + 3600},
    "elsewhere-expired": {"owner": "another-host:4242:77", "lease_expires": time.time() - 1},
}


@pytest.mark.parametrize("supervisor", sorted(_GONE_SUPERVISORS))
def test_resume_reruns_a_job_whose_supervisor_died(supervisor: str, stepfn_home: Path, store: ObjectStore) -> None:
    request = _script_job(store, "orphan-job")
    jobs = TrainingJobs(stepfn_home)
    jobs.create(request)
    record = jobs.records.get("training-job", "orphan-job")
    assert record is not None
    record["SecondaryStatus"] = "Training"  # as left by a process killed mid-training
    jobs.records.put("training-job", "orphan-job", record)
    lease = lease_path(jobs.records, "training-job", "orphan-job")
    lease.write_text(json.dumps(_GONE_SUPERVISORS[supervisor]))
    if supervisor == "elsewhere-expired":  # the same supervisor within its lease still counts as running the job
        lease.write_text(json.dumps({**_GONE_SUPERVISORS[supervisor], "lease_expires": time.time() + 60}))
        assert held_elsewhere(jobs.records, "training-job", "orphan-job")
        lease.write_text(json.dumps(_GONE_SUPERVISORS[supervisor]))
    assert not held_elsewhere(jobs.records, "training-job", "orphan-job")
    result = handlers(stepfn_home)["sagemaker:createTrainingJob"](task_request(request, resumed=True), Control())
    assert result["TrainingJobStatus"] == "Completed"
    assert "Restarting" in json.dumps(result["SecondaryStatusTransitions"])


def test_failing_script_fails_the_task_with_describe_as_cause(stepfn_home: Path, store: ObjectStore) -> None:
    script = "import sys\nprint('about to fail')\nraise SystemExit('the data is bad: 3 NaN rows')\n"
    request = _script_job(store, "fail-job", script=script)
    with pytest.raises(StatesError) as info:
        handlers(stepfn_home)["sagemaker:createTrainingJob"](task_request(request), Control())
    assert info.value.error == "States.TaskFailed"
    cause = json.loads(info.value.cause)
    assert cause["TrainingJobStatus"] == "Failed" and cause["SecondaryStatus"] == "Failed"
    assert cause["FailureReason"].startswith("AlgorithmError: ExecuteUserScriptError:\nExitCode 1")
    assert "the data is bad: 3 NaN rows" in cause["FailureReason"]
    assert store.exists("s3://bucket/output/fail-job/output/output.tar.gz")


def test_the_job_log_keeps_stdout_and_stderr_in_the_order_written(stepfn_home: Path, store: ObjectStore) -> None:
    """Lines alternate between stdout and stderr faster than any reader is scheduled; the log (and so the
    console's live log and the failure card) shows them as written, the traceback after the last print."""
    script = ("import sys\n"
              "for i in range(200):\n"
              "    print(f'out {i}')\n"
              "    print(f'err {i}', file=sys.stderr)\n"
              "print('last line before the error')\n"
              "raise ValueError('row 3 is not a number')\n")
    record = TrainingJobs(stepfn_home).run(_script_job(store, "ordered-log", script=script))
    assert record["TrainingJobStatus"] == "Failed"
    log = TrainingJobs(stepfn_home).log_path("ordered-log").read_text().splitlines()
    written = [line for line in log if line.startswith(("out ", "err "))]
    assert written == [f"{kind} {i}" for i in range(200) for kind in ("out", "err")]
    assert log.index("last line before the error") < log.index("Traceback (most recent call last):")
    # The failure reason is the traceback, not the lines printed before it.
    assert "ValueError: row 3 is not a number" in record["FailureReason"]
    assert "out 199" not in record["FailureReason"]


def test_failure_file_is_the_failure_reason(stepfn_home: Path, store: ObjectStore) -> None:
    script = ("import os\nopen(os.path.join(os.environ['SM_OUTPUT_DIR'], 'failure'), 'w')"
              ".write('ClientError: label column missing')\nraise SystemExit(2)\n")
    record = TrainingJobs(stepfn_home).run(_script_job(store, "failure-file", script=script))
    assert record["TrainingJobStatus"] == "Failed"
    assert record["FailureReason"] == "AlgorithmError: ClientError: label column missing, exit code: 2"


def test_max_runtime_sends_sigterm_then_sigkill(stepfn_home: Path, store: ObjectStore) -> None:
    script = """
import os, signal, time
def on_term(signum, frame):
    print("got SIGTERM, saving and ignoring it", flush=True)
    open(os.path.join(os.environ["SM_MODEL_DIR"], "partial.txt"), "w").write("saved")
signal.signal(signal.SIGTERM, on_term)
print("started", flush=True)
time.sleep(60)
"""
    jobs = TrainingJobs(stepfn_home, stop_grace_seconds=0.5)
    started = time.monotonic()
    record = jobs.run(_script_job(store, "slow-job", script=script, max_runtime=1))
    assert time.monotonic() - started < 10
    assert record["TrainingJobStatus"] == "Stopped" and record["SecondaryStatus"] == "MaxRuntimeExceeded"
    log = jobs.log_path("slow-job").read_text()
    assert "got SIGTERM" in log
    assert read_tar(store.local_path(record["ModelArtifacts"]["S3ModelArtifacts"])) == {"partial.txt": b"saved"}


def test_cancelled_task_stops_the_job(stepfn_home: Path, store: ObjectStore) -> None:
    script = "import time\nprint('training', flush=True)\ntime.sleep(60)\n"
    control = Control()
    handler = handlers(stepfn_home, stop_grace_seconds=1)["sagemaker:createTrainingJob"]
    threading.Timer(0.8, control.cancel.set).start()
    with pytest.raises(StatesError) as info:
        handler(task_request(_script_job(store, "cancel-job", script=script)), control)
    assert json.loads(info.value.cause)["TrainingJobStatus"] == "Stopped"


def test_stop_training_job_from_another_thread(stepfn_home: Path, store: ObjectStore) -> None:
    jobs = TrainingJobs(stepfn_home, stop_grace_seconds=1)
    jobs.start(_script_job(store, "stop-job", script="import time\nprint('up', flush=True)\ntime.sleep(60)\n"))
    deadline = time.monotonic() + 10
    while jobs.describe("stop-job")["SecondaryStatus"] != "Training" and time.monotonic() < deadline:
        time.sleep(0.05)
    jobs.stop("stop-job")
    assert jobs.wait("stop-job")["SecondaryStatus"] == "Stopped"


def test_training_process_gets_a_clean_environment(
    stepfn_home: Path, store: ObjectStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "parent-secret")
    monkeypatch.setenv("MY_API_TOKEN", "parent-token")
    script = ("import json, os\njson.dump(dict(os.environ), open(os.path.join(os.environ['SM_MODEL_DIR'], "
              "'env.json'), 'w'))\n")
    record = TrainingJobs(stepfn_home).run(_script_job(store, "env-job", script=script,
                                                        Environment={"MY_SETTING": "from-request"}))
    env = json.loads(read_tar(store.local_path(record["ModelArtifacts"]["S3ModelArtifacts"]))["env.json"])
    assert "AWS_SECRET_ACCESS_KEY" not in env and "MY_API_TOKEN" not in env
    assert env["MY_SETTING"] == "from-request" and env["TRAINING_JOB_NAME"] == "env-job"
    assert env["TRAINING_JOB_ARN"].endswith(":training-job/env-job") and env["PATH"] == os.environ["PATH"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"HyperParameters": {"epochs": 3}}, "Invalid type for parameter HyperParameters.epochs"),
        ({"TrainingJobName": "bad_name"}, "regular expression"),
        ({"RoleArn": None}, "RoleArn"),
        ({"AlgorithmSpecification": {"TrainingImage": "1.dkr.ecr.us-east-1.amazonaws.com/mystery:1",
                                     "TrainingInputMode": "File"}}, "register_image"),
        ({"AlgorithmSpecification": {"TrainingImage": "1.dkr.ecr.us-east-1.amazonaws.com/ntm:1",
                                     "TrainingInputMode": "File"}}, "'ntm'"),
        ({"InputDataConfig": [{"ChannelName": "..", "DataSource": {"S3DataSource": {
            "S3DataType": "S3Prefix", "S3Uri": "s3://bucket/data/train"}}}]}, "Channel name '..'"),
        ({"InputDataConfig": [{"ChannelName": "train\n", "DataSource": {"S3DataSource": {
            "S3DataType": "S3Prefix", "S3Uri": "s3://bucket/data/train"}}}]}, "Channel name 'train\\n'"),
        ({"Environment": {"KEY\n": "value"}}, "Environment: at most 100 entries"),
    ],
)
def test_create_errors_are_amazon_sagemaker_exceptions(
    stepfn_home: Path, store: ObjectStore, change: dict[str, object], message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STEPFN_DOCKER", "0")  # an unknown image would run under Docker where there is one
    request = _script_job(store, "bad-job")
    request.update(change)
    request = {k: v for k, v in request.items() if v is not None}
    with pytest.raises(StatesError) as info:
        handlers(stepfn_home)["sagemaker:createTrainingJob"](task_request(request), Control())
    assert info.value.error == "SageMaker.AmazonSageMakerException"
    assert message in info.value.cause


def test_unsafe_sourcedir_fails_the_job(stepfn_home: Path, store: ObjectStore) -> None:
    code = sourcedir(store, "s3://bucket/code/evil.tar.gz", {"train.py": "print(1)", "../../escape.py": "x"})
    request = training_request("evil-job", hyperparameters={
        "sagemaker_program": '"train.py"', "sagemaker_submit_directory": json.dumps(code)})
    record = TrainingJobs(stepfn_home).run(request)
    assert record["TrainingJobStatus"] == "Failed"
    assert "ClientError" in record["FailureReason"] and "outside" in record["FailureReason"]
    assert not (stepfn_home / "sagemaker" / "jobs" / "escape.py").exists()


def _supervise_elsewhere(stepfn_home: Path, request: dict[str, Any], options: str = "") -> subprocess.Popen[str]:
    """Run the job under a TrainingJobs of another process (``options``: its extra keyword arguments) and
    return once that job is Training."""
    runner = ("import json, sys\nfrom stepfn.local.sagemaker.training import TrainingJobs\n"
              f"TrainingJobs({str(stepfn_home)!r}{options}).run(json.loads(sys.stdin.read()))\n")
    other = subprocess.Popen([sys.executable, "-c", runner], stdin=subprocess.PIPE, text=True)
    assert other.stdin is not None
    other.stdin.write(json.dumps(request))
    other.stdin.close()
    records = TrainingJobs(stepfn_home).records
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        record = records.get("training-job", request["TrainingJobName"])
        if record is not None and record["SecondaryStatus"] == "Training":
            break
        time.sleep(0.05)
    return other


def test_resume_waits_for_a_job_supervised_by_another_process(stepfn_home: Path, store: ObjectStore) -> None:
    counter = stepfn_home / "runs.txt"
    script = f"import time\nopen({str(counter)!r}, 'a').write('run\\n')\ntime.sleep(1.5)\n"
    request = _script_job(store, "elsewhere-job", script=script)
    other = _supervise_elsewhere(stepfn_home, request)
    result = handlers(stepfn_home)["sagemaker:createTrainingJob"](task_request(request, resumed=True), Control())
    assert result["TrainingJobStatus"] == "Completed"
    assert other.wait(30) == 0
    assert counter.read_text() == "run\n"


def test_stop_reaches_a_job_supervised_by_another_process(stepfn_home: Path, store: ObjectStore) -> None:
    request = _script_job(store, "remote-stop", script="import time\nprint('up', flush=True)\ntime.sleep(60)\n")
    other = _supervise_elsewhere(stepfn_home, request, ", stop_grace_seconds=1")
    jobs = TrainingJobs(stepfn_home)
    started = time.monotonic()
    jobs.stop("remote-stop")
    assert other.wait(30) == 0 and time.monotonic() - started < 15
    assert jobs.describe("remote-stop")["TrainingJobStatus"] == "Stopped"


def test_hard_coded_opt_ml_path_fails_with_the_fix_named_without_namespaces(
        stepfn_home: Path, store: ObjectStore, monkeypatch: pytest.MonkeyPatch) -> None:
    # The SageMaker Processing notebook's train.py reads /opt/ml/input/data/train directly; without a mount
    # namespace (forced here) /opt/ml is relocated and the failure names the fix.
    monkeypatch.setenv("STEPFN_JOB_ISOLATION", "none")
    record = TrainingJobs(stepfn_home).run(_script_job(
        store, "hard-coded", "import pandas\npandas.read_csv('/opt/ml/input/data/train/train_features.csv')\n"))
    assert record["TrainingJobStatus"] == "Failed"
    assert record["FailureReason"].startswith("AlgorithmError: the script opens a hard-coded /opt/ml path")
    assert "ExecuteUserScriptError" in record["FailureReason"]
