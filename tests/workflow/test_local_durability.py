"""Durability across processes: other processes read running executions; a kill -9 loses nothing and
runs no completed task twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from stepfn.workflow.local_client import LocalStepFunctionsClient

ROLE = "arn:aws:iam::123456789012:role/StepFunctionsRole"

FUNCTIONS = '''
import os, time
LOG = os.environ["RUN_LOG"]

def _append(line):
    with open(LOG, "a") as handle:
        handle.write(line + "\\n")
        handle.flush()
        os.fsync(handle.fileno())

def _count(prefix):
    try:
        with open(LOG) as handle:
            return sum(1 for line in handle if line.startswith(prefix))
    except FileNotFoundError:
        return 0

def one(event):
    _append("one")
    return {"n": event["n"] + 1}

def two(request, control):
    """A task handler (not a Lambda) so that the test sees the resumed flag the engine passes."""
    _append(f"two resumed={request.resumed}")
    if _count("two") == 1:
        time.sleep(60)  # the first process is killed while this runs
    return {"Payload": {"n": request.parameters["Payload"]["n"] * 10}}

def three(event):
    _append("three")
    return {"n": event["n"] + 5}
'''

DEFINITION = {
    "StartAt": "One",
    "States": {
        name: {
            "Type": "Task", "Resource": "arn:aws:states:::durable:work" if fn == "two" else "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": f"durable_fns:{fn}", "Payload.$": "$"}, "OutputPath": "$.Payload",
            **({"Next": nxt} if nxt else {"End": True}),
        }
        for name, fn, nxt in (("One", "one", "Two"), ("Two", "two", "Three"), ("Three", "three", None))
    },
}

STARTER = """
import json, sys, time
from stepfn.workflow.local_client import LocalStepFunctionsClient
import durable_fns
client = LocalStepFunctionsClient(lease_seconds=2, handlers={"durable:work": durable_fns.two})
arn = client.create_state_machine(name="durable", definition=sys.argv[1], roleArn=sys.argv[2])["stateMachineArn"]
started = client.start_execution(stateMachineArn=arn, name="run-1", input='{"n": 1}')
print(started["executionArn"], flush=True)
time.sleep(120)
"""

RESUMER = """
import sys
from stepfn.workflow.local_client import LocalStepFunctionsClient
import durable_fns
client = LocalStepFunctionsClient(handlers={"durable:work": durable_fns.two})
print(",".join(client.resume_orphans() or ["none-left"]), flush=True)
assert client.wait_for_execution(sys.argv[1], timeout=60)
print(client.describe_execution(executionArn=sys.argv[1])["status"], flush=True)
"""


def _env(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "durable_fns.py").write_text(FUNCTIONS)
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]),
        "STEPFN_LAMBDA_PATH": str(tmp_path),  # 'durable_fns:one' names a module in the user's allowed folder
        "RUN_LOG": str(tmp_path / "runs.log"),
    }


def _wait_for_line(path: Path, line: str, timeout: float = 30) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if path.exists() and line in path.read_text().splitlines():
            return
        time.sleep(0.02)
    raise AssertionError(f"{line!r} never appeared in {path}")


def test_kill_9_mid_task_resumes_without_rerunning_completed_tasks(tmp_path: Path) -> None:
    env = _env(tmp_path)
    log = tmp_path / "runs.log"
    starter = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(STARTER), json.dumps(DEFINITION), ROLE],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert starter.stdout is not None
        execution_arn = starter.stdout.readline().strip()
        assert execution_arn.endswith(":execution:durable:run-1"), starter.stderr.read() if starter.stderr else ""
        _wait_for_line(log, "two resumed=False")  # task One finished, task Two is running
        # Another process sees the execution RUNNING and its history so far, while it runs.
        reader = LocalStepFunctionsClient(resume=False)
        try:
            assert reader.describe_execution(executionArn=execution_arn)["status"] == "RUNNING"
            running_types = [e["type"] for e in reader.get_execution_history(executionArn=execution_arn)["events"]]
            assert "TaskSucceeded" in running_types and running_types.count("TaskStarted") == 2
            assert reader.store.find_orphans() == []  # its owner is alive
        finally:
            reader.close()
        os.kill(starter.pid, signal.SIGKILL)
    finally:
        starter.kill()
        starter.wait()
        for stream in (starter.stdout, starter.stderr):
            if stream:
                stream.close()

    resumer = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(RESUMER), execution_arn],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    assert resumer.returncode == 0, resumer.stderr
    # The new client resumed it when it opened the store; the explicit call found nothing left.
    assert resumer.stdout.split() == ["none-left", "SUCCEEDED"]
    # Only the interrupted task ran twice, the second time flagged as resumed.
    assert log.read_text().splitlines() == ["one", "two resumed=False", "two resumed=True", "three"]

    client = LocalStepFunctionsClient(resume=False)
    try:
        described = client.describe_execution(executionArn=execution_arn)
        assert json.loads(described["output"]) == {"n": 25}
        events = client.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]
        assert [e["id"] for e in events] == list(range(1, len(events) + 1))
        types = [e["type"] for e in events]
        assert types.count("ExecutionStarted") == 1 and types[-1] == "ExecutionSucceeded"
        assert types.count("TaskSucceeded") == 3
    finally:
        client.close()


def test_stop_request_reaches_the_owning_process(tmp_path: Path) -> None:
    waiting = json.dumps({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 300, "End": True}}})
    owner_code = STARTER.replace('input=\'{"n": 1}\'', "input='{}'")
    owner = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(owner_code), waiting, ROLE],
        env=_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert owner.stdout is not None
        execution_arn = owner.stdout.readline().strip()
        client = LocalStepFunctionsClient(resume=False)
        try:
            client.stop_execution(executionArn=execution_arn, error="Stopped", cause="from another process")
            deadline = time.time() + 20
            while client.describe_execution(executionArn=execution_arn)["status"] == "RUNNING":
                assert time.time() < deadline, "the owning process never stopped the execution"
                time.sleep(0.05)
            described = client.describe_execution(executionArn=execution_arn)
            assert (described["status"], described["error"]) == ("ABORTED", "Stopped")
            types = [e["type"] for e in client.get_execution_history(executionArn=execution_arn)["events"]]
            assert types[-1] == "ExecutionAborted"
        finally:
            client.close()
    finally:
        owner.kill()
        owner.wait()
        for stream in (owner.stdout, owner.stderr):
            if stream:
                stream.close()


TOKEN_FUNCTIONS = '''
import os

def remember(event):
    with open(os.environ["TOKEN_FILE"], "w") as handle:
        handle.write(event["token"])
'''


def test_task_token_sent_from_another_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import stepfn.workflow._local_base as local_client_module

    (tmp_path / "token_fns.py").write_text(TOKEN_FUNCTIONS)
    token_file = tmp_path / "token.txt"
    env = {**_env(tmp_path), "TOKEN_FILE": str(token_file)}
    definition = json.dumps({"StartAt": "Approve", "States": {"Approve": {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
        "Parameters": {"FunctionName": "token_fns:remember", "Payload": {"token.$": "$$.Task.Token"}},
        "End": True}}})
    owner = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(STARTER), definition, ROLE],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert owner.stdout is not None
        execution_arn = owner.stdout.readline().strip()
        deadline = time.time() + 30
        while not (token_file.exists() and token_file.read_text()):
            assert time.time() < deadline, "the task never received its token"
            time.sleep(0.02)
        client = LocalStepFunctionsClient(resume=False)
        try:
            with monkeypatch.context() as patch, pytest.raises(client.exceptions.TaskDoesNotExist):
                patch.setattr(local_client_module, "CALLBACK_RELAY_SECONDS", 0.5)  # nobody holds it: fail fast
                client.send_task_success(taskToken="no-such-token", output="{}")
            monkeypatch.setattr(local_client_module, "CALLBACK_RELAY_SECONDS", 20.0)  # a loaded machine is slow
            client.send_task_heartbeat(taskToken=token_file.read_text())
            client.send_task_success(taskToken=token_file.read_text(), output='{"approved": "elsewhere"}')
            deadline = time.time() + 20
            while client.describe_execution(executionArn=execution_arn)["status"] == "RUNNING":
                assert time.time() < deadline
                time.sleep(0.05)
            described = client.describe_execution(executionArn=execution_arn)
            assert described["status"] == "SUCCEEDED"
            assert json.loads(described["output"]) == {"approved": "elsewhere"}
        finally:
            client.close()
    finally:
        owner.kill()
        owner.wait()
        for stream in (owner.stdout, owner.stderr):
            if stream:
                stream.close()
