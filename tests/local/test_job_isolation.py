"""Container paths without a container: jobs whose scripts read and write only hard-coded ``/opt/ml`` paths run
unchanged, several at once, each in its own mount namespace (bubblewrap or util-linux ``unshare``), and the job
log says which mode ran; where no namespace is possible (forced here with ``STEPFN_JOB_ISOLATION=none``) the
relocated tree and its message are used."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from test_models import ROLE, SKLEARN_IMAGE, call, wait_for_job
from test_training_support import sourcedir, training_request

from stepfn.errors import StatesError
from stepfn.local.objectstore import ObjectStore
from stepfn.local.sagemaker.images import register_image, unregister_image
from stepfn.local.sagemaker.isolation import (
    ISOLATION_ENV,
    Isolation,
    IsolationError,
    Mount,
    choose_isolation,
    isolate,
)
from stepfn.local.sagemaker.processing import ProcessingJobs
from stepfn.local.sagemaker.training import TrainingJobs

MODES = ("bwrap", "unshare")


def _mode_or_skip(mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ISOLATION_ENV, mode)
    try:
        choose_isolation()
    except IsolationError as exc:
        pytest.skip(str(exc))


@pytest.fixture
def store(stepfn_home: Path) -> ObjectStore:
    return ObjectStore(stepfn_home / "s3")


PROCESS = """\
import os, sys
rows = open('/opt/ml/processing/input/data/rows.csv').read().split()
os.makedirs('/opt/ml/processing/output/out', exist_ok=True)
with open('/opt/ml/processing/output/out/sum.txt', 'w') as handle:
    handle.write(str(sum(int(r) for r in rows)))
assert os.environ['SAGEMAKER_BASE_DIR'] == '/opt/ml'
# the working directory is the image's `/` (or the job's root standing in for it): relative opt/ml is /opt/ml
assert os.path.samefile('opt/ml', '/opt/ml')
assert sys.argv[1:] == ['--input', '/opt/ml/processing/input/data']
"""


def _processing_request(name: str, data: str) -> dict[str, Any]:
    return {
        "ProcessingJobName": name, "RoleArn": ROLE,
        "ProcessingResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large",
                                                  "VolumeSizeInGB": 30}},
        "AppSpecification": {"ImageUri": SKLEARN_IMAGE,
                             "ContainerEntrypoint": ["python3", "/opt/ml/processing/input/code/process.py"],
                             "ContainerArguments": ["--input", "/opt/ml/processing/input/data"]},
        "ProcessingInputs": [
            {"InputName": "data", "S3Input": {"S3Uri": data, "LocalPath": "/opt/ml/processing/input/data",
                                              "S3DataType": "S3Prefix"}},
            {"InputName": "code", "S3Input": {"S3Uri": "s3://bucket/code/process.py", "S3DataType": "S3Prefix",
                                              "LocalPath": "/opt/ml/processing/input/code"}}],
        "ProcessingOutputConfig": {"Outputs": [
            {"OutputName": "out", "S3Output": {"S3Uri": f"s3://bucket/processed/{name}", "S3UploadMode": "EndOfJob",
                                               "LocalPath": "/opt/ml/processing/output/out"}}]},
    }


@pytest.mark.parametrize("mode", MODES)
def test_processing_scripts_with_hard_coded_paths_run_several_at_once(
        mode: str, stepfn_home: Path, store: ObjectStore, monkeypatch: pytest.MonkeyPatch) -> None:
    _mode_or_skip(mode, monkeypatch)
    store.put_bytes("s3://bucket/code/process.py", PROCESS.encode())
    jobs = ProcessingJobs(stepfn_home)
    names = [f"hard-{mode}-{i}" for i in range(3)]
    for i, name in enumerate(names):
        store.put_bytes(f"s3://bucket/rows-{i}/rows.csv", "\n".join(str(i * 10 + k) for k in range(4)).encode())
        jobs.run(_processing_request(name, f"s3://bucket/rows-{i}/"), background=True)
    for i, name in enumerate(names):
        record = wait_for_job(stepfn_home, "processing-job", name)
        assert record["ProcessingJobStatus"] == "Completed", record.get("FailureReason")
        # each job saw its own /opt/ml: its own rows, summed
        assert store.get_bytes(f"s3://bucket/processed/{name}/sum.txt") == str(sum(i * 10 + k for k in range(4))).encode()
        log = (stepfn_home / "sagemaker" / "logs" / "processing-job" / f"{name}.log").read_text()
        assert f"stepfn: isolation {mode}: the job sees its directory as /opt/ml" in log


TRAIN = """\
import json, os, sys
hyperparameters = json.load(open('/opt/ml/input/config/hyperparameters.json'))
rows = open('/opt/ml/input/data/train/rows.csv').read().split()
with open('/opt/ml/model/model.json', 'w') as handle:
    json.dump({'sum': sum(int(r) for r in rows), 'scale': hyperparameters['scale']}, handle)
os.makedirs('/opt/ml/output/data', exist_ok=True)
open('/opt/ml/output/data/seen.txt', 'w').write(os.environ['SM_MODEL_DIR'] + ' ' + os.getcwd())
"""


@pytest.mark.parametrize("mode", MODES)
def test_training_scripts_with_hard_coded_paths_run_several_at_once(
        mode: str, stepfn_home: Path, store: ObjectStore, monkeypatch: pytest.MonkeyPatch) -> None:
    _mode_or_skip(mode, monkeypatch)
    code = sourcedir(store, "s3://bucket/code/sourcedir.tar.gz", {"train.py": TRAIN})
    jobs = TrainingJobs(stepfn_home)
    names = [f"train-{mode}-{i}" for i in range(3)]
    for i, name in enumerate(names):
        store.put_bytes(f"s3://bucket/train-{i}/rows.csv", "\n".join(str(i + k) for k in range(5)).encode())
        jobs.start(training_request(name, hyperparameters={
            "sagemaker_program": '"train.py"', "sagemaker_submit_directory": json.dumps(code), "scale": str(i)},
            channels={"train": f"s3://bucket/train-{i}/"}))
    for i, name in enumerate(names):
        record = jobs.wait(name)
        assert record["TrainingJobStatus"] == "Completed", record.get("FailureReason")
        job = jobs.job_dir(name)
        assert json.loads((job.model / "model.json").read_text()) == {"sum": sum(i + k for k in range(5)), "scale": str(i)}
        assert (job.output_data / "seen.txt").read_text() == "/opt/ml/model /opt/ml/code"
        assert f"stepfn: isolation {mode}" in jobs.log_path(name).read_text()


def test_byo_image_program_directory_is_opt_program(
        stepfn_home: Path, store: ObjectStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A bring-your-own container's ``train`` lives in ``/opt/program`` (its WORKDIR, first on PATH)."""
    mode = choose_isolation().mode
    if mode == "none":
        pytest.skip("no mount namespaces on this machine")
    program = tmp_path / "decision_trees"
    program.mkdir()
    train = program / "train"
    train.write_text(f"#!{sys.executable}\nimport os\n"
                     "rows = open('/opt/ml/input/data/training/rows.csv').read().split()\n"
                     "open('/opt/ml/model/where', 'w').write(os.getcwd() + ' ' + str(len(rows)))\n")
    train.chmod(0o755)
    image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/sagemaker-decision-trees:latest"
    register_image(image, program_dir=program)
    try:
        store.put_bytes("s3://bucket/iris/rows.csv", b"1\n2\n3\n")
        record = TrainingJobs(stepfn_home).run(training_request(
            "byo", image=image, channels={"training": "s3://bucket/iris/"}))
    finally:
        unregister_image(image)
    assert record["TrainingJobStatus"] == "Completed", record.get("FailureReason")
    assert (TrainingJobs(stepfn_home).job_dir("byo").model / "where").read_text() == "/opt/program 3"


def test_forced_fallback_relocates_and_names_the_fix(
        stepfn_home: Path, store: ObjectStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ISOLATION_ENV, "none")
    store.put_bytes("s3://bucket/code/process.py", PROCESS.encode())
    store.put_bytes("s3://bucket/rows-0/rows.csv", b"1\n2\n")
    with pytest.raises(StatesError) as raised:
        call(stepfn_home, "createProcessingJob", _processing_request("relocated", "s3://bucket/rows-0/"),
             pattern="sync")
    reason = json.loads(raised.value.cause or "{}")["FailureReason"]
    assert reason.startswith("AlgorithmError: the script opens a hard-coded /opt/ml path")
    log = (stepfn_home / "sagemaker" / "logs" / "processing-job" / "relocated.log").read_text()
    base = stepfn_home / "sagemaker" / "jobs" / "processing-job" / "relocated" / "opt" / "ml"
    assert f"stepfn: isolation none: /opt/ml is relocated to {base}" in log
    assert "STEPFN_JOB_ISOLATION=none" in log


def test_a_forced_mode_that_cannot_work_fails_the_job_with_the_reason(
        stepfn_home: Path, store: ObjectStore, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(ISOLATION_ENV, "bwrap")
    monkeypatch.setenv("PATH", str(tmp_path))  # no bwrap on this PATH
    with pytest.raises(IsolationError, match="STEPFN_JOB_ISOLATION=bwrap, but bwrap is not installed"):
        choose_isolation()
    code = sourcedir(store, "s3://bucket/code/sourcedir.tar.gz", {"train.py": TRAIN})
    store.put_bytes("s3://bucket/train-0/rows.csv", b"1\n")
    record = TrainingJobs(stepfn_home).run(training_request("forced", hyperparameters={
        "sagemaker_program": '"train.py"', "sagemaker_submit_directory": json.dumps(code), "scale": "1"},
        channels={"train": "s3://bucket/train-0/"}))
    assert record["TrainingJobStatus"] == "Failed"
    assert "ClientError: STEPFN_JOB_ISOLATION=bwrap, but bwrap is not installed" in record["FailureReason"]
    monkeypatch.setenv(ISOLATION_ENV, "sometimes")
    with pytest.raises(IsolationError, match="use bwrap, unshare, none or auto"):
        choose_isolation()


@pytest.mark.parametrize("mode", MODES)
def test_the_namespace_leaves_the_host_untouched(mode: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Mount points are made in a tmpfs over /opt, never on the host's disk (bwrap run as root would otherwise
    create /opt/ml there); the host's own /opt entries stay visible inside."""
    import subprocess

    _mode_or_skip(mode, monkeypatch)
    before = sorted(os.listdir("/opt")) if os.path.isdir("/opt") else []
    base = tmp_path / "opt" / "ml"
    base.mkdir(parents=True)
    argv = isolate(["/bin/sh", "-c", "ls /opt; pwd; touch /opt/ml/made"], isolation=Isolation(mode, ""),  # type: ignore[arg-type]
                   mounts=[Mount("/opt/ml", base), Mount("/opt/program", tmp_path)], cwd="/opt/ml", scratch=tmp_path)
    result = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 0, result.stderr
    inside = result.stdout.split()
    assert inside[-1] == "/opt/ml" and {"ml", "program", *before} == set(inside[:-1])
    assert (base / "made").exists()
    assert (sorted(os.listdir("/opt")) if os.path.isdir("/opt") else []) == before
    with pytest.raises(ValueError, match="under /opt/"):
        isolate(["true"], isolation=Isolation(mode, ""), mounts=[Mount("/etc/x", base)],  # type: ignore[arg-type]
                cwd="/", scratch=tmp_path)


SAVES_ON_SIGTERM = """\
import signal, sys, time
def save(signum, frame):
    time.sleep(1)  # saving a model takes a while: the grace period is for that
    open('/opt/ml/model/saved-on-sigterm', 'w').write('yes')
    sys.exit(0)
signal.signal(signal.SIGTERM, save)
open('/opt/ml/model/started', 'w').write('yes')
time.sleep(60)
"""


@pytest.mark.parametrize("mode", MODES)
def test_a_stopped_job_gets_sigterm_and_its_grace_inside_the_namespace(
        mode: str, stepfn_home: Path, store: ObjectStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """SageMaker's stop is SIGTERM, then SIGKILL after a grace period in which the job saves its model; the
    namespace's wrapper (bubblewrap's monitor) must not turn it into an immediate SIGKILL."""
    _mode_or_skip(mode, monkeypatch)
    code = sourcedir(store, "s3://bucket/code/sourcedir.tar.gz", {"train.py": SAVES_ON_SIGTERM})
    jobs = TrainingJobs(stepfn_home, stop_grace_seconds=20)
    request = training_request(f"sigterm-{mode}", hyperparameters={
        "sagemaker_program": '"train.py"', "sagemaker_submit_directory": json.dumps(code)}, max_runtime=2)
    record = jobs.run(request)
    assert record["TrainingJobStatus"] == "Stopped" and record["SecondaryStatus"] == "MaxRuntimeExceeded"
    model = jobs.job_dir(f"sigterm-{mode}").model
    assert (model / "started").exists(), jobs.log_path(f"sigterm-{mode}").read_text()
    assert (model / "saved-on-sigterm").read_text() == "yes"
