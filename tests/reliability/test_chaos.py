"""bench/chaos.py, small: 10 executions with real tasks, the runner SIGKILLed 3 times; nothing lost, nothing
run twice. Also the two durability points the full run exposed, each checked on its own."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import tarfile
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

from stepfn.engine import Engine, TaskControl, TaskRequest
from stepfn.local.objectstore import ObjectStore
from stepfn.local.sagemaker.training import TrainingJobs

REPO = Path(__file__).resolve().parents[2]
SKLEARN_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"


def test_chaos_small_run_loses_nothing_and_runs_nothing_twice(tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, str(REPO / "bench" / "chaos.py"), "--executions", "10", "--kills", "3", "--seed", "7",
         "--max-effects", "12", "--max-delay", "0.5", "--workdir", str(tmp_path), "--json"],
        capture_output=True, text=True, timeout=150, check=False,
    )
    assert completed.stdout.strip(), completed.stderr[-3000:]
    summary = json.loads(completed.stdout.strip().splitlines()[-1])
    assert summary["kills"] == 3 and summary["lives"] == 4
    assert (summary["completed"], summary["lost"], summary["run_twice"]) == (10, 0, 0), summary
    # 10 executions x (Prepare + 3 Squares + Flaky + Train + Sum) task bodies finished, each exactly once.
    assert summary["tasks_done"] == 70
    assert completed.returncode == 0


class _ListJournal:
    def __init__(self) -> None:
        self.saved: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def append(self, event: dict[str, Any]) -> None:
        with self.lock:
            self.saved.append(event)

    def events(self) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.saved)


def test_a_finished_task_is_journaled_while_its_parallel_sibling_still_runs() -> None:
    release = threading.Event()

    def quick(request: TaskRequest, control: TaskControl) -> Any:
        return {"quick": True}

    def slow(request: TaskRequest, control: TaskControl) -> Any:
        release.wait(20)
        return {"slow": True}

    task = "arn:aws:states:::lambda:invoke"
    definition = {"StartAt": "Both", "States": {"Both": {"Type": "Parallel", "End": True, "Branches": [
        {"StartAt": "Quick", "States": {"Quick": {"Type": "Task", "Resource": task, "End": True,
                                                  "Parameters": {"FunctionName": "quick"}}}},
        {"StartAt": "Slow", "States": {"Slow": {"Type": "Task", "Resource": task, "End": True,
                                                "Parameters": {"FunctionName": "slow"}}}},
    ]}}}

    def route(request: TaskRequest, control: TaskControl) -> Any:
        return quick(request, control) if request.parameters["FunctionName"] == "quick" else slow(request, control)

    journal = _ListJournal()
    handle = Engine(handlers={"lambda:invoke": route}).start(
        definition, {}, execution_arn="arn:aws:states:us-east-1:123456789012:execution:m:e",
        state_machine_arn="arn:aws:states:us-east-1:123456789012:stateMachine:m", name="e", journal=journal,
    )
    try:
        deadline = time.monotonic() + 10
        while not any(e["type"] == "TaskSucceeded" for e in journal.events()):
            assert time.monotonic() < deadline, [e["type"] for e in journal.events()]
            time.sleep(0.02)
    finally:
        release.set()
    assert handle.wait(20).status == "SUCCEEDED"


SUPERVISOR = """
import json, sys
from stepfn.local.sagemaker.training import TrainingJobs
TrainingJobs(sys.argv[1]).run(json.loads(sys.argv[2]))
"""


def _sourcedir(store: ObjectStore, uri: str, script: str) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo("train.py")
        info.size = len(script.encode())
        tar.addfile(info, io.BytesIO(script.encode()))
    store.put_bytes(uri, buffer.getvalue())


def _job(name: str) -> dict[str, Any]:
    return {
        "TrainingJobName": name, "RoleArn": "arn:aws:iam::123456789012:role/SageMakerRole",
        "AlgorithmSpecification": {"TrainingImage": SKLEARN_IMAGE, "TrainingInputMode": "File"},
        "HyperParameters": {"sagemaker_program": '"train.py"',
                            "sagemaker_submit_directory": '"s3://bucket/code/sourcedir.tar.gz"'},
        "OutputDataConfig": {"S3OutputPath": "s3://bucket/output"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
        "StoppingCondition": {"MaxRuntimeInSeconds": 60},
    }


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] in ("Z", "X"))


def test_training_process_dies_with_its_killed_supervisor(stepfn_home: Path, tmp_path: Path) -> None:
    pid_file = tmp_path / "job.pid"
    script = f"import os, time\nopen({str(pid_file)!r}, 'w').write(str(os.getpid()))\ntime.sleep(60)\n"
    _sourcedir(ObjectStore(stepfn_home / "s3"), "s3://bucket/code/sourcedir.tar.gz", script)
    supervisor = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(SUPERVISOR), str(stepfn_home), json.dumps(_job("orphan-check"))],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while not (pid_file.exists() and pid_file.read_text()):
            assert time.monotonic() < deadline and supervisor.poll() is None, "the training script never started"
            time.sleep(0.05)
        job_pid = int(pid_file.read_text())
        assert _alive(job_pid)
        os.kill(supervisor.pid, signal.SIGKILL)
    finally:
        supervisor.kill()
        supervisor.wait()
    deadline = time.monotonic() + 5
    while _alive(job_pid):
        assert time.monotonic() < deadline, "the training script outlived its supervisor"
        time.sleep(0.05)
    # Resuming the job runs it again at once: the dead owner in its lease is final, no grace wait.
    pid_file.write_text("")
    _sourcedir(ObjectStore(stepfn_home / "s3"), "s3://bucket/code/sourcedir.tar.gz", "print('again')\n")
    started = time.monotonic()
    record = TrainingJobs(stepfn_home).wait("orphan-check")
    assert record["TrainingJobStatus"] == "Completed"
    assert time.monotonic() - started < 15


CREATOR = """
import json, os, sys
from stepfn.local.sagemaker.training import TrainingJobs
TrainingJobs(sys.argv[1]).create(json.loads(sys.argv[2]))
os._exit(0)  # dies before it starts the job it created, as a kill -9 right after CreateTrainingJob would
"""


def test_a_job_created_by_a_dead_process_is_run_at_once(stepfn_home: Path) -> None:
    _sourcedir(ObjectStore(stepfn_home / "s3"), "s3://bucket/code/sourcedir.tar.gz", "print('ran')\n")
    subprocess.run([sys.executable, "-c", textwrap.dedent(CREATOR), str(stepfn_home), json.dumps(_job("created"))],
                   check=True, timeout=60)
    jobs = TrainingJobs(stepfn_home)
    assert jobs.describe("created")["SecondaryStatus"] == "Starting"
    started = time.monotonic()
    assert jobs.wait("created")["TrainingJobStatus"] == "Completed"
    assert time.monotonic() - started < 15  # not the 30 s grace for a job whose creator may still start it
