"""Helpers for the tests of the local control plane, from the user's side: the default client (no STEPFN_IN_PROCESS),
real service processes, the CLI in subprocesses and in tmux. The fixtures (conftest) stop the services each test started."""

from __future__ import annotations

import os
import signal
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

from stepfn.workflow._control import service_running, stop_service

SRC = Path(__file__).resolve().parents[2] / "src"


def wait_until(predicate: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.1)


def service_pid(home: Path) -> int | None:
    try:
        return int((home / "control.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def shut_down(home: Path) -> None:
    """Stop the home's service (running executions and all) and make sure its process is gone."""
    pid = service_pid(home)
    if service_running(home):
        stop_service(home, force=True)
    if pid is not None:
        deadline = time.monotonic() + 20
        while process_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if process_alive(pid):
            os.kill(pid, signal.SIGKILL)


def python_command() -> list[str]:
    return [sys.executable]


TRAIN_SCRIPT = textwrap.dedent(
    """
    import json, os, pathlib, sys, time
    starts = pathlib.Path({starts!r})
    with starts.open("a") as handle:
        handle.write(f"{{os.getpid()}}\\n")
    release = pathlib.Path({release!r})
    deadline = time.time() + 180
    while not release.exists() and time.time() < deadline:
        time.sleep(0.2)
    {body}
    with open(os.path.join(os.environ["SM_MODEL_DIR"], "model.json"), "w") as handle:
        json.dump({{"ok": True}}, handle)
    print("trained")
    """
)

PIPELINE = textwrap.dedent(
    """
    from stepfn.inputs import ExecutionInput
    from stepfn.sagemaker import Session, SKLearn
    from stepfn.steps import Chain, ModelStep, Pass, TrainingStep
    from stepfn.workflow import Workflow

    ROLE = "arn:aws:iam::123456789012:role/SageMaker"
    inputs = ExecutionInput(schema={{"JobName": str}})
    estimator = SKLearn(entry_point="train.py", source_dir={code!r}, framework_version="1.2-1", role=ROLE,
                        instance_count=1, instance_type="ml.m5.large", output_path="s3://bucket/out",
                        sagemaker_session=Session(region_name="us-east-1", default_bucket="bucket"))
    prepare = Pass("Prepare", parameters={{"prepared": True}})
    train = TrainingStep("Train", estimator=estimator, job_name=inputs["JobName"],
                         data={{"train": "s3://bucket/data"}})
    model = ModelStep("Model", model=train.get_expected_model(), model_name=inputs["JobName"])
    workflow = Workflow("training-pipeline", Chain([prepare, train, model]), role=ROLE, execution_input=inputs)
    """
)


class TrainingProject:
    """A user's folder: ``pipeline.py`` (Prepare -> Train -> Model) and ``code/train.py``, whose every start
    is a line in ``starts.txt`` and which trains once ``release`` exists."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.code = root / "code"
        self.code.mkdir(parents=True)
        self.starts = root / "starts.txt"
        self.release = root / "release"
        self.write_script("")
        (root / "pipeline.py").write_text(PIPELINE.format(code=str(self.code)))
        data = root / "data"
        data.mkdir()
        (data / "part-0.csv").write_text("1,2\n")
        from stepfn.local.objectstore import ObjectStore

        ObjectStore().upload(str(data), "s3://bucket/data")

    def write_script(self, body: str) -> None:
        (self.code / "train.py").write_text(
            TRAIN_SCRIPT.format(starts=str(self.starts), release=str(self.release), body=body))

    def start_count(self) -> int:
        return len(self.starts.read_text().splitlines()) if self.starts.exists() else 0
