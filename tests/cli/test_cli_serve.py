"""``stepfn serve`` and ``stepfn ui`` as real processes, reached over HTTP by boto3 and urllib."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import boto3
from botocore.config import Config

from stepfn.server import read_token


def _start(home: Path, port: int, *args: str) -> tuple[subprocess.Popen[bytes], str]:
    env = {**os.environ, "STEPFN_HOME": str(home)}
    env.pop("STEPFN_TOKEN", None)
    process = subprocess.Popen([sys.executable, "-m", "stepfn", *args, "--port", str(port)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/ping", timeout=1):
                return process, url
        except urllib.error.HTTPError:
            return process, url  # listening (a token may be required)
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise AssertionError(process.stderr.read().decode() if process.stderr else "server did not start")


def test_serve_speaks_the_step_functions_api_to_boto3(stepfn_home: Path, free_port: int) -> None:
    process, url = _start(stepfn_home, free_port, "serve")
    try:
        # The token `stepfn serve` made in its home is the access key id, as its start-up lines say.
        client = boto3.client("stepfunctions", endpoint_url=url, region_name="us-east-1",
                              aws_access_key_id=read_token(stepfn_home), aws_secret_access_key="local",
                              config=Config(inject_host_prefix=False))
        definition = {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"ok": True}, "End": True}}}
        arn = client.create_state_machine(name="served", definition=json.dumps(definition),
                                          roleArn="arn:aws:iam::000000000000:role/x")["stateMachineArn"]
        execution = client.start_execution(stateMachineArn=arn, name="one")["executionArn"]
        deadline = time.monotonic() + 20
        while client.describe_execution(executionArn=execution)["status"] == "RUNNING":
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert json.loads(client.describe_execution(executionArn=execution)["output"]) == {"ok": True}
    finally:
        process.terminate()
        process.wait(10)


def test_ui_requires_its_token_when_given_one(stepfn_home: Path, free_port: int) -> None:
    process, url = _start(stepfn_home, free_port, "ui", "--token", "s3cret")
    try:
        try:
            urllib.request.urlopen(f"{url}/ui/", timeout=5)
            raise AssertionError("the console answered without its token")
        except urllib.error.HTTPError as error:
            assert error.code == 403
        with urllib.request.urlopen(f"{url}/ui/?token=s3cret", timeout=5) as page:
            assert b"stepfn console" in page.read()
    finally:
        process.terminate()
        process.wait(10)
