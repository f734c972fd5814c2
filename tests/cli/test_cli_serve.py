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


def _start(home: Path, *args: str) -> tuple[subprocess.Popen[str], str]:
    """``stepfn <args> --port 0`` and the URL its first line prints (a port chosen here and handed over could
    be taken by another process in between)."""
    env = {**os.environ, "STEPFN_HOME": str(home)}
    env.pop("STEPFN_TOKEN", None)
    process = subprocess.Popen([sys.executable, "-m", "stepfn", *args, "--port", "0"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None
    first = process.stdout.readline()  # "stepfn API on http://127.0.0.1:PORT (home: ...)", once it listens
    if " on http://" not in first:
        process.kill()
        raise AssertionError(first + (process.stderr.read() if process.stderr else ""))
    return process, first.split(" on ", 1)[1].split()[0]


def test_serve_speaks_the_step_functions_api_to_boto3(stepfn_home: Path) -> None:
    process, url = _start(stepfn_home, "serve")
    try:
        # The token `stepfn serve` made in its home is the access key id, as its start-up lines say.
        client = boto3.client("stepfunctions", endpoint_url=url, region_name="us-east-1",
                              aws_access_key_id=read_token(stepfn_home), aws_secret_access_key="local",
                              config=Config(inject_host_prefix=False))
        definition = {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"ok": True}, "End": True}}}
        arn = client.create_state_machine(name="served", definition=json.dumps(definition),
                                          roleArn="arn:aws:iam::123456789012:role/x")["stateMachineArn"]
        execution = client.start_execution(stateMachineArn=arn, name="one")["executionArn"]
        deadline = time.monotonic() + 20
        while client.describe_execution(executionArn=execution)["status"] == "RUNNING":
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert json.loads(client.describe_execution(executionArn=execution)["output"]) == {"ok": True}
    finally:
        process.terminate()
        process.wait(10)


def test_ui_requires_its_token_when_given_one(stepfn_home: Path) -> None:
    process, url = _start(stepfn_home, "ui", "--token", "s3cret")
    try:
        try:
            urllib.request.urlopen(f"{url}/ui/", timeout=30)
            raise AssertionError("the console answered without its token")
        except urllib.error.HTTPError as error:
            assert error.code == 403
        with urllib.request.urlopen(f"{url}/ui/?token=s3cret", timeout=30) as page:
            assert b"stepfn console" in page.read()
    finally:
        process.terminate()
        process.wait(10)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def test_the_console_address_itself_leads_to_the_console(stepfn_home: Path) -> None:
    """Opening http://127.0.0.1:PORT/ (what a person types) reaches the console, not a 405."""
    process, url = _start(stepfn_home, "ui", "--token", "s3cret")
    try:
        plain = urllib.request.build_opener(_NoRedirect)
        try:
            plain.open(f"{url}/?token=s3cret", timeout=30)
            raise AssertionError("GET / answered without a redirect")
        except urllib.error.HTTPError as answer:
            assert answer.code == 302 and answer.headers["Location"] == "/ui/"
            cookie = answer.headers["Set-Cookie"].split(";", 1)[0]  # the token, kept as the console URL does
        # A browser follows the redirect with the cookie it was given.
        request = urllib.request.Request(f"{url}/", headers={"Cookie": cookie})
        with urllib.request.build_opener(urllib.request.HTTPCookieProcessor()).open(request, timeout=30) as page:
            assert page.url == f"{url}/ui/" and b"stepfn console" in page.read()
        try:
            urllib.request.urlopen(f"{url}/", timeout=30)
            raise AssertionError("GET / answered without the token")
        except urllib.error.HTTPError as error:
            assert error.code == 403  # the token check comes first, as on every route
    finally:
        process.terminate()
        process.wait(10)
