"""``stepfn.server.run`` in its own process, as ``stepfn serve`` starts it, driven by boto3 over HTTP."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from stepfn.errors import StepfnError
from stepfn.server import create_server_client, run, start_background

REPO = Path(__file__).resolve().parents[2]


def test_run_serves_until_terminated(tmp_path: Path) -> None:
    env = {**os.environ, "STEPFN_HOME": str(tmp_path / "home"), "STEPFN_TOKEN": "t0ken",
           "PYTHONPATH": str(REPO / "src")}
    # Port 0 and the URL run() prints: a port chosen here and handed over could be taken in between.
    process = subprocess.Popen(
        [sys.executable, "-c", "from stepfn.server import run; run(port=0, log_level='warning')"],
        env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert " on http://" in first, first
        url = first.split(" on ", 1)[1].split()[0]
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/ping", headers={"X-Stepfn-Token": "t0ken"}).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None and time.monotonic() < deadline, "the server did not come up"
            time.sleep(0.1)
        assert httpx.get(f"{url}/ping").status_code == 403, "STEPFN_TOKEN is required"
        sfn = create_server_client("stepfunctions", url, token="t0ken")
        definition = {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": 1, "End": True}}}
        arn = sfn.create_state_machine(name="p", definition=json.dumps(definition),
                                       roleArn="arn:aws:iam::123456789012:role/R", type="EXPRESS")["stateMachineArn"]
        result = sfn.start_sync_execution(stateMachineArn=arn)
        assert (result["status"], result["output"]) == ("SUCCEEDED", "1")
        assert (tmp_path / "home" / "stepfn.db").exists(), "the server keeps its state under STEPFN_HOME"
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_run_refuses_other_interfaces_without_a_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STEPFN_TOKEN", raising=False)
    with pytest.raises(StepfnError, match=r"refusing to listen on 0\.0\.0\.0 without a token"):
        run("0.0.0.0", 0, no_token=True)  # refused before anything is bound


@pytest.mark.skipif(shutil.which("aws") is None, reason="the AWS CLI is not installed (it is not a stepfn dependency)")
def test_aws_cli_with_the_token_as_access_key(stepfn_home: Path) -> None:
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "t0ken", "AWS_SECRET_ACCESS_KEY": "unused", "AWS_DEFAULT_REGION": "us-east-1"}
    env.pop("AWS_PROFILE", None)
    definition = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    with start_background(stepfn_home, "t0ken") as server:
        aws = ["aws", "--endpoint-url", server.url, "stepfunctions"]
        created = subprocess.run([*aws, "create-state-machine", "--name", "cli", "--definition", definition,
                                  "--role-arn", "arn:aws:iam::123456789012:role/R"],
                                 env=env, capture_output=True, text=True, timeout=60)
        assert created.returncode == 0, created.stderr
        arn = json.loads(created.stdout)["stateMachineArn"]
        started = subprocess.run([*aws, "start-execution", "--state-machine-arn", arn, "--name", "run"],
                                 env=env, capture_output=True, text=True, timeout=60)
        assert started.returncode == 0, started.stderr
        refused = subprocess.run([*aws, "list-state-machines"], env={**env, "AWS_ACCESS_KEY_ID": "wrong"},
                                 capture_output=True, text=True, timeout=60)
        assert refused.returncode != 0 and "UnrecognizedClientException" in refused.stderr


def test_the_printed_url_accepts_calls_at_once(tmp_path: Path) -> None:
    """A script (or a notebook harness) reads the start-up lines and calls right away: the port listens from the
    moment its URL is printed, so the call waits for the server instead of being refused."""
    env = {**os.environ, "STEPFN_HOME": str(tmp_path / "home"), "PYTHONPATH": str(REPO / "src")}
    process = subprocess.Popen([sys.executable, "-m", "stepfn", "serve", "--port", "0"], env=env, cwd=tmp_path,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        url = first.split(" on ", 1)[1].split()[0]
        host, port = url.removeprefix("http://").rsplit(":", 1)
        socket.create_connection((host, int(port)), timeout=60).close()  # refused if nothing listened yet
        token = (tmp_path / "home" / "server-token").read_text().strip()
        answer = httpx.get(f"{url}/ping", headers={"X-Stepfn-Token": token}, timeout=60)
        assert answer.status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=30)
