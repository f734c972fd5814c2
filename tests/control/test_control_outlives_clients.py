"""Executions belong to the home's control plane, not to the process that started them (issue 15 item 1)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from control_support import TrainingProject, process_alive, service_pid, wait_until

from stepfn.workflow.local_client import LocalStepFunctionsClient

pytestmark = pytest.mark.timeout(240)

NOTEBOOK = textwrap.dedent(
    """
    import runpy, sys, time
    namespace = runpy.run_path("pipeline.py")
    workflow = namespace["workflow"]
    workflow.create_or_update()
    execution = workflow.execute(name="nb-run", inputs={"JobName": "nb-job"})
    print(type(workflow.client).__name__, flush=True)
    starts = sys.argv[1]
    import pathlib
    deadline = time.time() + 120
    while not pathlib.Path(starts).exists() and time.time() < deadline:
        time.sleep(0.1)
    print("exiting mid-training", flush=True)
    """
)


def read_status(home: Path, name: str) -> str:
    reader = LocalStepFunctionsClient(home, resume=False)
    try:
        arn = f"arn:aws:states:us-east-1:123456789012:execution:training-pipeline:{name}"
        return str(reader.describe_execution(executionArn=arn)["status"])
    finally:
        reader.close()


def test_a_notebook_that_exits_mid_training_leaves_the_job_running_to_completion(
        project: TrainingProject, user_home: Path) -> None:
    client = subprocess.run([sys.executable, "-c", NOTEBOOK, str(project.starts)], cwd=project.root,
                            capture_output=True, text=True, timeout=180)
    assert client.returncode == 0, client.stderr
    assert client.stdout.splitlines() == ["ControlPlaneClient", "exiting mid-training"]
    assert read_status(user_home, "nb-run") == "RUNNING"  # the client is gone, the run is not

    project.release.touch()
    wait_until(lambda: read_status(user_home, "nb-run") != "RUNNING", 120, "the execution to end")
    assert read_status(user_home, "nb-run") == "SUCCEEDED"
    assert project.start_count() == 1  # trained once, never restarted
    log = (user_home / "sagemaker" / "logs" / "training-job" / "nb-job.log")
    if log.exists():
        assert "Restarting" not in log.read_text()


def test_the_next_service_resumes_what_a_killed_one_owned(user_home: Path, tmp_path: Path) -> None:
    from stepfn.steps import Chain, Pass, Wait
    from stepfn.workflow import Workflow

    workflow = Workflow("waits", Chain([Pass("A"), Wait("W", seconds=3), Pass("B")]),
                        role="arn:aws:iam::123456789012:role/x")
    workflow.create()
    execution = workflow.execute(name="survivor", inputs={"n": 1})
    pid = service_pid(user_home)
    assert pid is not None and process_alive(pid)
    import os
    import signal

    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: not process_alive(pid), 10, "the service to die")
    # Any client that needs the control plane starts a new one, which takes the execution over.
    second = workflow.execute(name="second", inputs={"n": 2})
    assert second.get_output(wait=True) == {"n": 2}
    assert execution.get_output(wait=True) == {"n": 1}
    assert execution.describe()["status"] == "SUCCEEDED"
    assert service_pid(user_home) != pid


def test_the_service_socket_is_private_and_idle_services_exit(user_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from stepfn.steps import Chain, Pass, Wait
    from stepfn.workflow import Workflow
    from stepfn.workflow._control import service_running, socket_path

    monkeypatch.setenv("STEPFN_CONTROL_IDLE_SECONDS", "1")
    workflow = Workflow("quick", Chain([Pass("P"), Wait("Hold", seconds=2)]), role="arn:aws:iam::123456789012:role/x")
    workflow.create()
    assert not service_running(user_home)  # defining a workflow needs no service
    execution = workflow.execute(inputs={"x": 1})
    # Read while the run holds the service up: once idle it may exit (and remove the socket) after one second,
    # which a loaded machine can let pass between two lines of this test.
    assert socket_path(user_home).stat().st_mode & 0o777 == 0o600
    assert execution.get_output(wait=True) == {"x": 1}
    wait_until(lambda: not socket_path(user_home).exists(), 30, "the idle service to exit and remove its socket")
    assert not service_running(user_home)


def test_a_request_starts_a_new_service_when_the_one_it_found_has_gone_idle_since(
        user_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An idle service may exit between the ping that found it running and the request that follows (a loaded
    machine can stall a client past a one-second idle timeout): the request then starts a new service instead of
    failing on the removed socket."""
    from stepfn.workflow import _control
    from stepfn.workflow.local_client import ControlPlaneClient

    monkeypatch.setenv("STEPFN_CONTROL_IDLE_SECONDS", "1")
    found = _control.ensure_service
    stalls = [user_home]

    def stalled_once(home: Path, *args: Any, **kwargs: Any) -> Path:
        path = found(home, *args, **kwargs)
        if stalls:  # the first request's client stalls until the service it found has exited
            stalls.pop()
            wait_until(lambda: not _control.service_running(home), 30, "the idle service to exit")
        return path

    monkeypatch.setattr(_control, "ensure_service", stalled_once)
    client = ControlPlaneClient(user_home)
    machine = client.create_state_machine(name="m", definition=json.dumps({"StartAt": "P", "States": {
        "P": {"Type": "Pass", "End": True}}}), roleArn="arn:aws:iam::123456789012:role/x")["stateMachineArn"]
    execution = client.start_execution(stateMachineArn=machine, input="{}")["executionArn"]
    assert not stalls  # the request met a service that had exited
    assert client.wait_for_execution(execution, 60)
    assert client.describe_execution(executionArn=execution)["status"] == "SUCCEEDED"


def test_stepfn_down_refuses_while_executions_run_unless_forced(user_home: Path) -> None:
    from stepfn.steps import Wait
    from stepfn.workflow import Workflow

    workflow = Workflow("long", Wait("W", seconds=15), role="arn:aws:iam::123456789012:role/x")
    workflow.create()
    execution = workflow.execute(name="long-run")
    down = subprocess.run([sys.executable, "-m", "stepfn", "down"], capture_output=True, text=True, timeout=60)
    assert down.returncode == 1
    assert "long-run" in down.stderr and "--force" in down.stderr
    down = subprocess.run([sys.executable, "-m", "stepfn", "down", "--force"], capture_output=True, text=True,
                          timeout=60)
    assert down.returncode == 0, down.stderr
    assert "stopped the control plane" in down.stdout
    # Still RUNNING in the store, owned by nobody: listing says so and changes nothing ...
    assert execution.describe()["status"] == "RUNNING"
    listed = subprocess.run([sys.executable, "-m", "stepfn", "executions"], capture_output=True, text=True,
                            timeout=60)
    assert "not running now" in listed.stdout and "long-run" in listed.stdout
    assert execution.describe()["status"] == "RUNNING"
    # ... and `stepfn attach` starts a control plane, which resumes it, and follows it to the end.
    attached = subprocess.run([sys.executable, "-m", "stepfn", "attach", "long-run", "--no-progress"],
                              capture_output=True, text=True, timeout=120)
    assert attached.returncode == 0, attached.stdout + attached.stderr
    assert "started the control plane" in attached.stdout and "SUCCEEDED" in attached.stdout
    assert json.loads(execution.describe()["input"]) == {}
