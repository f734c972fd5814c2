"""One lifecycle for local jobs: a resumed task attaches to the job of its name as the store's owner and lease
say (waits while its runner lives, starts it over once that runner is gone), and a stop request reaches a job
whichever process runs it. Processing jobs stand for the kinds that share it, a transform job checks it holds
for a job that is no process of its own but a model server's requests."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from test_models import ROLE, SKLEARN_IMAGE, Control, call, make_tar

from stepfn.engine.protocol import TaskRequest
from stepfn.errors import ServiceError
from stepfn.local.objectstore import ObjectStore
from stepfn.local.sagemaker import serving
from stepfn.local.sagemaker.lifecycle import (
    _lease_lock,
    finish_job,
    held_elsewhere,
    lease_path,
    request_stop,
    request_stop_path,
    run_guarded,
)
from stepfn.local.sagemaker.processing import ProcessingJobs
from stepfn.local.sagemaker.records import RecordStore, arn
from stepfn.server._sagemaker import LocalSageMakerClient
from stepfn.store import Owner

KIND = "processing-job"


def _request(name: str, seconds: float) -> dict[str, Any]:
    """A processing job whose script notes each run in ``runs.txt`` (in $SAGEMAKER_BASE_DIR's home) and then
    sleeps ``seconds``."""
    return {
        "ProcessingJobName": name, "RoleArn": ROLE,
        "ProcessingResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large",
                                                  "VolumeSizeInGB": 30}},
        "AppSpecification": {"ImageUri": SKLEARN_IMAGE,
                             "ContainerEntrypoint": ["python3", "/opt/ml/processing/input/code/run.py"]},
        "ProcessingInputs": [{"InputName": "code", "S3Input": {
            "S3Uri": "s3://bucket/code/run.py", "LocalPath": "/opt/ml/processing/input/code",
            "S3DataType": "S3Prefix"}}],
        "Environment": {"SECONDS": str(seconds)},
    }


@pytest.fixture
def runs(stepfn_home: Path) -> Path:
    counter = stepfn_home / "runs.txt"
    script = (f"import os, time\nopen({str(counter)!r}, 'a').write('run\\n')\nprint('up', flush=True)\n"
              "time.sleep(float(os.environ['SECONDS']))\n")
    ObjectStore(stepfn_home / "s3").put_bytes("s3://bucket/code/run.py", script.encode())
    return counter


def _resume(home: Path, params: dict[str, Any], pattern: str = "sync") -> Any:
    suffix = ".sync" if pattern == "sync" else ""
    request = TaskRequest(resource=f"arn:aws:states:::sagemaker:createProcessingJob{suffix}", service="sagemaker",
                          action="createProcessingJob", pattern=pattern,  # type: ignore[arg-type]
                          parameters=params, state_name="Step", execution_arn="arn:exec", resumed=True)
    return serving.handlers(home)["sagemaker:createProcessingJob"](request, Control())


def _leases(home: Path) -> list[str]:
    """What is left under the home's leases folder: files only (the kinds' folders stay)."""
    return sorted(str(path.relative_to(home)) for path in (home / "sagemaker" / "leases").rglob("*") if path.is_file())


def _run_elsewhere(home: Path, params: dict[str, Any], runs: Path) -> subprocess.Popen[str]:
    """Run the job in another process and return once its script runs."""
    runner = ("import json, sys\nfrom stepfn.local.sagemaker.processing import ProcessingJobs\n"
              f"ProcessingJobs({str(home)!r}, stop_grace_seconds=1).run(json.loads(sys.stdin.read()))\n")
    other = subprocess.Popen([sys.executable, "-c", runner], stdin=subprocess.PIPE, text=True)
    assert other.stdin is not None
    other.stdin.write(json.dumps(params))
    other.stdin.close()
    deadline = time.monotonic() + 60
    while not (runs.exists() and runs.read_text()):
        assert time.monotonic() < deadline and other.poll() is None, "the other process never started the job"
        time.sleep(0.05)
    return other


def test_a_resumed_task_waits_for_the_job_another_live_process_runs(stepfn_home: Path, runs: Path) -> None:
    params = _request("elsewhere", seconds=2)
    other = _run_elsewhere(stepfn_home, params, runs)
    try:
        assert held_elsewhere(RecordStore(stepfn_home), KIND, "elsewhere")
        # Request-response: the job is accepted as it stands, not started a second time.
        assert _resume(stepfn_home, params, "request_response")["ProcessingJobArn"] == (
            "arn:aws:sagemaker:us-east-1:123456789012:processing-job/elsewhere")
        result = _resume(stepfn_home, params)
        assert result["ProcessingJobStatus"] == "Completed", result.get("FailureReason")
        assert other.wait(60) == 0
    finally:
        other.kill()
    assert runs.read_text() == "run\n"  # one copy ran: the resumed task waited for the other process's
    assert _leases(stepfn_home) == []  # the runner removed its files at the end, the waiter left none of its own


# The runner's lease: a dead process on this host, or one on another host whose lease ran out, no longer runs
# the job; one on another host within its lease still does.
_GONE = {
    "dead-here": {"owner": f"{socket.gethostname()}:{2**22 + 12345}:1", "lease_expires": time.time() + 3600},
    "elsewhere-expired": {"owner": "another-host:4242:77", "lease_expires": time.time() - 1},
}


@pytest.mark.parametrize("runner", sorted(_GONE))
def test_a_resumed_task_restarts_the_job_whose_runner_is_gone(runner: str, stepfn_home: Path, runs: Path) -> None:
    params = _request("orphan", seconds=0)
    records = RecordStore(stepfn_home)
    records.create(KIND, "orphan", {"ProcessingJobName": "orphan", "ProcessingJobArn": arn(KIND, "orphan"),
                                    "ProcessingJobStatus": "InProgress"})
    lease = lease_path(records, KIND, "orphan")
    lease.parent.mkdir(parents=True)
    if runner == "elsewhere-expired":  # the same runner within its lease still runs the job
        lease.write_text(json.dumps({**_GONE[runner], "lease_expires": time.time() + 60}))
        assert held_elsewhere(records, KIND, "orphan")
        assert _resume(stepfn_home, params, "request_response")["ProcessingJobArn"].endswith("/orphan")
        assert not runs.exists()
    lease.write_text(json.dumps(_GONE[runner]))
    assert not held_elsewhere(records, KIND, "orphan")
    result = _resume(stepfn_home, params)
    assert result["ProcessingJobStatus"] == "Completed", result.get("FailureReason")
    assert runs.read_text() == "run\n"
    record = records.get(KIND, "orphan")
    assert record is not None and record["ProcessingJobStatus"] == "Completed"
    assert _leases(stepfn_home) == []  # the gone runner's lease too, once the job that replaced it ended


def test_stop_reaches_a_job_another_process_runs(stepfn_home: Path, runs: Path) -> None:
    other = _run_elsewhere(stepfn_home, _request("remote-stop", seconds=60), runs)
    try:
        started = time.monotonic()
        LocalSageMakerClient(stepfn_home).stop_processing_job(ProcessingJobName="remote-stop")
        assert other.wait(30) == 0 and time.monotonic() - started < 20
    finally:
        other.kill()
    assert ProcessingJobs(stepfn_home).records.get(KIND, "remote-stop")["ProcessingJobStatus"] == "Stopped"  # type: ignore[index]
    assert _leases(stepfn_home) == []  # lease, lock and the stop request
    # A stop request for a job that has ended leaves nothing behind either.
    request_stop(RecordStore(stepfn_home), KIND, "remote-stop")
    assert _leases(stepfn_home) == []


def test_an_ended_jobs_files_stay_while_a_live_process_holds_its_lease(stepfn_home: Path) -> None:
    """Only files no live runner holds go: a process that took the job over (it found this one gone) keeps its
    lease until it ends; once it is gone, the next look at the ended job removes them."""
    records = RecordStore(stepfn_home)
    records.create(KIND, "taken", {"ProcessingJobName": "taken", "ProcessingJobStatus": "InProgress"})
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        taken_over = json.dumps({"owner": Owner.of_pid(other.pid).token, "lease_expires": time.time() + 60})

        def work() -> dict[str, Any]:
            lease = lease_path(records, KIND, "taken")
            lease.parent.mkdir(parents=True, exist_ok=True)
            lease.write_text(taken_over)
            return finish_job(records, KIND, "taken", "Completed")

        assert run_guarded(records, KIND, "taken", work)["ProcessingJobStatus"] == "Completed"
        assert held_elsewhere(records, KIND, "taken")
        assert _leases(stepfn_home) == ["sagemaker/leases/processing-job/taken.json",
                                        "sagemaker/leases/processing-job/taken.lock"]
    finally:
        other.kill()
        other.wait()
    request_stop(records, KIND, "taken")
    assert _leases(stepfn_home) == [] and not request_stop_path(records, KIND, "taken").exists()


def test_the_lock_is_taken_afresh_when_its_file_was_removed_meanwhile(stepfn_home: Path) -> None:
    """A process waiting on a lock file that the holder removes must not count that file as locked: a third
    process would lock the new file at the path, and both would run the job."""
    records = RecordStore(stepfn_home)
    seen: list[bool] = []

    def second() -> None:
        with _lease_lock(records, KIND, "racy") as path:
            seen.append(path.exists())

    with _lease_lock(records, KIND, "racy") as path:
        waiter = threading.Thread(target=second)
        waiter.start()
        time.sleep(0.3)  # the waiter has opened the file and waits for its lock
        assert not seen
        path.unlink()
    waiter.join(10)
    assert seen == [True]  # it holds the lock of the file at the path, not of the removed one


def test_a_new_job_is_held_from_the_moment_its_record_exists(stepfn_home: Path, runs: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """A reader that finds the job InProgress (a monitoring execution asking whether its processing job's runner
    lives) must find its lease too; the lease was taken just after the record, and a read in between failed the
    monitoring execution for good."""
    held_at_creation: list[bool] = []
    create = RecordStore.create

    def create_and_look(self: RecordStore, kind: str, name: str, record: dict[str, Any], **options: Any) -> Any:
        created = create(self, kind, name, record, **options)
        if kind == KIND:
            held_at_creation.append(held_elsewhere(self, kind, name))  # as another thread reads it
        return created

    monkeypatch.setattr(RecordStore, "create", create_and_look)
    record = ProcessingJobs(stepfn_home).run(_request("watched", 0))
    assert record["ProcessingJobStatus"] == "Completed"
    assert held_at_creation == [True]


def test_a_name_already_taken_leaves_no_lease_behind(stepfn_home: Path, runs: Path) -> None:
    jobs = ProcessingJobs(stepfn_home)
    assert jobs.run(_request("once", 0))["ProcessingJobStatus"] == "Completed"
    with pytest.raises(ServiceError, match="already exists"):
        jobs.run(_request("once", 0))
    assert not held_elsewhere(jobs.records, KIND, "once") and _leases(stepfn_home) == []
    # Nor on a job whose runner died mid-job: the refused caller must not look like its runner.
    records = RecordStore(stepfn_home)
    records.create(KIND, "abandoned", {"ProcessingJobName": "abandoned", "ProcessingJobStatus": "InProgress"})
    with pytest.raises(ServiceError, match="already exists"):
        jobs.run(_request("abandoned", 0))
    assert not held_elsewhere(records, KIND, "abandoned")
    assert not lease_path(records, KIND, "abandoned").exists()


INFERENCE = """
import os, time

def model_fn(model_dir):
    return None

def input_fn(body, content_type):
    return body

def predict_fn(data, model):
    with open(os.environ["CALLS"], "a") as calls:
        calls.write("call\\n")
    time.sleep(0.3)
    return data

def output_fn(prediction, accept):
    return prediction
"""


def test_a_resumed_transform_task_waits_for_the_job_another_live_process_runs(stepfn_home: Path,
                                                                                tmp_path: Path) -> None:
    calls = stepfn_home / "calls.txt"
    (tmp_path / "model" / "code").mkdir(parents=True)
    (tmp_path / "model" / "code" / "inference.py").write_text(INFERENCE)
    store = ObjectStore(stepfn_home / "s3")
    uri = store.upload(make_tar(tmp_path / "model", tmp_path / "m.tar.gz"), "s3://bucket/m/model.tar.gz")
    call(stepfn_home, "createModel", {"ModelName": "echo", "PrimaryContainer": {
        "Image": SKLEARN_IMAGE, "ModelDataUrl": uri,
        "Environment": {"SAGEMAKER_PROGRAM": "inference.py", "CALLS": str(calls)}}})
    store.put_bytes("s3://bucket/in/rows.csv", b"1\n2\n3\n4\n")
    params = {
        "TransformJobName": "echo-job", "ModelName": "echo", "BatchStrategy": "SingleRecord",
        "TransformInput": {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://bucket/in"}},
                           "ContentType": "text/csv", "SplitType": "Line"},
        "TransformOutput": {"S3OutputPath": "s3://bucket/out", "AssembleWith": "Line", "Accept": "text/csv"},
        "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
    }
    runner = ("import json, sys\nfrom stepfn.local.sagemaker.transform import run_transform_job\n"
              f"run_transform_job({str(stepfn_home)!r}, json.loads(sys.stdin.read()))\n")
    other = subprocess.Popen([sys.executable, "-c", runner], stdin=subprocess.PIPE, text=True)
    try:
        assert other.stdin is not None
        other.stdin.write(json.dumps(params))
        other.stdin.close()
        deadline = time.monotonic() + 120
        while not (calls.exists() and calls.read_text()):
            assert time.monotonic() < deadline and other.poll() is None, "the other process never ran the job"
            time.sleep(0.05)
        request = TaskRequest(resource="arn:aws:states:::sagemaker:createTransformJob.sync", service="sagemaker",
                              action="createTransformJob", pattern="sync", parameters=params, state_name="Step",
                              execution_arn="arn:exec", resumed=True)
        result = serving.handlers(stepfn_home)["sagemaker:createTransformJob"](request, Control())
        assert result["TransformJobStatus"] == "Completed", result.get("FailureReason")
        assert other.wait(60) == 0
    finally:
        other.kill()
    assert calls.read_text() == "call\n" * 4  # each record once: the resumed task ran no second copy
    assert _leases(stepfn_home) == []
    assert store.get_bytes("s3://bucket/out/rows.csv.out").split() == [b"1", b"2", b"3", b"4"]
