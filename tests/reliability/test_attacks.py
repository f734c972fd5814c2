"""Attacks on ``stepfn serve`` / ``stepfn ui`` started the default way (a real process, its own home), from
where an attacker stands: a web page in the user's browser (DNS rebinding, cross-origin requests), another
program on the machine without the token, and a definition that names code or paths it should not reach.

Each attack tries to create a marker file; the tests assert it does not exist and that the home holds the same
files as before. The positive paths (boto3, the AWS CLI, the console in chromium) use only what the server
printed at start-up.
"""

from __future__ import annotations

import base64
import http.client
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import boto3
import httpx
import pytest
from botocore.config import Config

ROLE = "arn:aws:iam::123456789012:role/StepFunctionsRole"
SKLEARN_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
SFN = {"X-Amz-Target": "AWSStepFunctions.CreateStateMachine", "Content-Type": "application/x-amz-json-1.0"}
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# The dev extra installs the AWS CLI next to this interpreter, which need not be on PATH.
AWS_CLI = str(Path(sys.executable).with_name("aws")) if Path(sys.executable).with_name("aws").exists() \
    else shutil.which("aws")


@dataclass
class Served:
    url: str
    port: int
    home: Path
    lines: list[str]
    process: subprocess.Popen[str]

    @property
    def token(self) -> str:
        """The token as the start-up lines give it (the AWS_ACCESS_KEY_ID to export)."""
        match = re.search(r"AWS_ACCESS_KEY_ID=(\S+)", "\n".join(self.lines))
        assert match, self.lines
        return match.group(1)

    def home_files(self) -> set[str]:
        # SQLite's -wal/-shm files come and go with connections; what matters is nothing new appears.
        return {p.relative_to(self.home).as_posix() for p in self.home.rglob("*")
                if not p.name.endswith(("-wal", "-shm", "-journal"))}

    def sfn(self, key: str | None = None) -> Any:
        return boto3.client("stepfunctions", endpoint_url=self.url, region_name="us-east-1",
                            aws_access_key_id=key or self.token, aws_secret_access_key="anything",
                            config=Config(retries={"max_attempts": 1}, inject_host_prefix=False))


def _server_env(home: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items()
           if key not in ("STEPFN_TOKEN", "STEPFN_LAMBDA_PATH", "STEPFN_IN_PROCESS", "AWS_PROFILE")}
    return {**env, "STEPFN_HOME": str(home)}


def _start(tmp_path: Path, command: str, *args: str) -> Served:
    home = tmp_path / f"home-{command}"
    # The default way: no token or Lambda path from the environment, and executions in the home's control
    # plane (the unit tests' in-process engine is turned off).
    env = _server_env(home)
    # Port 0, read back from the printed URL: a port chosen here and handed over could be taken in between.
    process = subprocess.Popen([sys.executable, "-m", "stepfn", command, "--port", "0", *args], env=env,
                               cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 60
    while not any(line.startswith(("token: ", "WARNING")) for line in lines):  # the last start-up line
        line = process.stdout.readline()
        assert line and time.monotonic() < deadline, f"no start-up lines: {lines}"
        lines.append(line.rstrip("\n"))
    printed = next(line for line in lines if " on http" in line)  # "stepfn API on http://127.0.0.1:PORT (home: …)"
    url = printed.split(" on ", 1)[1].split()[0]
    port = int(url.rsplit(":", 1)[1])
    while True:
        try:
            httpx.get(f"{url}/ping", timeout=2)
            break
        except httpx.TransportError:
            assert process.poll() is None and time.monotonic() < deadline, "the server did not come up"
            time.sleep(0.1)
    return Served(url, port, home, lines, process)


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., Served]]:
    """``start_server(command="serve", *args)``: ``stepfn <command>`` in its own process and home."""
    started: list[Served] = []

    def start(command: str = "serve", *args: str) -> Served:
        started.append(_start(tmp_path, command, *args))
        return started[-1]

    yield start
    for served in started:
        _stop(served)


def _stop(served: Served) -> None:
    served.process.terminate()
    served.process.wait(30)
    if served.process.stdout:
        served.process.stdout.close()
    # The control plane the server started for its home outlives it, as it does for a user.
    subprocess.run([sys.executable, "-m", "stepfn", "down", "--force"], env=_server_env(served.home),
                   capture_output=True, timeout=60, check=False)


def _module_server(factory: pytest.TempPathFactory, command: str) -> Iterator[Served]:
    served = _start(factory.mktemp("attacked"), command)
    yield served
    _stop(served)


@pytest.fixture(scope="module")
def shared_serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """One default ``stepfn serve`` for the attacks that create their own uniquely named machines (starting
    a server and its control plane per case would make this file several times slower)."""
    yield from _module_server(tmp_path_factory, "serve")


@pytest.fixture(scope="module")
def shared_ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """One default ``stepfn ui`` for attacks that must change nothing: each checks its home is unchanged."""
    yield from _module_server(tmp_path_factory, "ui")


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _create_body(definition: dict[str, Any], name: str = "attack") -> str:
    return json.dumps({"name": name, "definition": json.dumps(definition), "roleArn": ROLE})


def _wait(sfn: Any, arn: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while (described := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    return dict(described)


# -- start-up ----------------------------------------------------------------------------------------------------


def test_the_token_is_made_once_per_home_kept_private_and_printed_ready_to_use(
        start_server: Callable[..., Served]) -> None:
    served = start_server("ui")
    token_file = served.home / "server-token"
    assert token_file.read_text().strip() == served.token and re.fullmatch(r"[0-9a-f]{32}", served.token)
    assert token_file.stat().st_mode & 0o777 == 0o600
    assert f"console: {served.url}/ui/?token={served.token}" in served.lines
    assert f"  export AWS_ENDPOINT_URL={served.url}" in served.lines
    assert f"  export AWS_ACCESS_KEY_ID={served.token}" in served.lines
    assert f"token: {token_file} (stepfn's own clients read it there)" in served.lines


def test_no_token_says_what_it_disables_and_still_checks_host_and_origin(
        start_server: Callable[..., Served]) -> None:
    served = start_server("serve", "--no-token")
    assert any("WARNING" in line and "--no-token" in line for line in served.lines)
    assert not (served.home / "server-token").exists()
    assert served.sfn("anything").list_state_machines()["stateMachines"] == []
    body = _create_body({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    rebound = httpx.post(served.url, content=body, headers={**SFN, "Host": f"attacker.example:{served.port}"})
    cross = httpx.post(served.url, content=body, headers={**SFN, "Origin": "http://attacker.example"})
    assert (rebound.status_code, cross.status_code) == (403, 403)
    assert served.sfn("anything").list_state_machines()["stateMachines"] == []


# -- a web page in the user's browser ------------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["attacker.example:{port}", "attacker.example", "127.0.0.1.attacker.example:{port}",
                                  "localhost.attacker.example", "", "127.0.0.1:{port}@attacker.example"])
def test_a_foreign_host_is_refused_even_with_the_token(shared_ui: Served, host: str) -> None:
    served = shared_ui
    before = served.home_files()
    marker = served.home.parent / "marker-host"
    definition = {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                                                   "Parameters": {"FunctionName": "os:system",
                                                                  "Payload": f"touch {marker}"}, "End": True}}}
    headers = {**SFN, "Host": host.format(port=served.port), "X-Stepfn-Token": served.token}
    answer = httpx.post(served.url, content=_create_body(definition), headers=headers)
    assert answer.status_code in (400, 403)  # 400: the HTTP layer itself refuses a malformed Host
    page = httpx.get(f"{served.url}/ui/?token={served.token}", headers={"Host": host.format(port=served.port)})
    assert page.status_code in (400, 403) and "set-cookie" not in page.headers
    assert not marker.exists() and served.home_files() == before
    assert served.sfn().list_state_machines()["stateMachines"] == []


def test_loopback_names_and_allowed_hosts_are_served(start_server: Callable[..., Served]) -> None:
    served = start_server("serve", "--allow-host", "devbox.internal")
    headers = {"X-Stepfn-Token": served.token}
    for host in ("localhost", "127.0.0.1", "[::1]", "devbox.internal"):
        for suffix in ("", f":{served.port}"):
            answer = httpx.get(f"{served.url}/ping", headers={**headers, "Host": host + suffix})
            assert answer.status_code == 200, (host, suffix, answer.text)
    assert httpx.get(f"{served.url}/ping", headers={**headers, "Host": "otherbox.internal"}).status_code == 403


def test_listening_on_every_interface_prints_a_url_that_works_and_still_checks_host(
        start_server: Callable[..., Served]) -> None:
    served = start_server("serve", "--host", "0.0.0.0")
    assert served.lines[0].startswith(f"stepfn API on {served.url} ")  # 127.0.0.1, not 0.0.0.0
    assert served.sfn().list_state_machines()["stateMachines"] == []
    # Another machine's request names this one by its address: refused unless given with --allow-host.
    foreign = httpx.get(f"{served.url}/ping", headers={"X-Stepfn-Token": served.token, "Host": "192.0.2.10"})
    assert foreign.status_code == 403


def test_a_cross_origin_simple_post_is_refused(start_server: Callable[..., Served]) -> None:
    """A form or fetch with Content-Type text/plain needs no preflight; a page on another port of 127.0.0.1
    is even same-site, so the browser sends the console's cookie with it. The Origin check stops it."""
    served = start_server("ui")
    sfn = served.sfn()
    marker = served.home.parent / "marker-simple"
    definition = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
    sfn.create_state_machine(name="victim", definition=json.dumps(definition), roleArn=ROLE)
    before = served.home_files()
    cookie = {f"stepfn-token-{served.port}": served.token}
    for origin in ("http://attacker.example", f"http://127.0.0.1:{served.port + 1}", "null",
                   f"http://localhost:{served.port}"):  # another origin of this very machine is foreign too
        with httpx.Client(cookies=cookie) as browser:
            # What the console's own Start button sends (a body that starts "victim" when the origin is right).
            start = browser.post(f"{served.url}/ui/api/executions", headers={
                "Content-Type": "text/plain", "Origin": origin}, content=json.dumps({
                    "workflow": "victim", "input": {"marker": str(marker)}}))
            api = browser.post(served.url, headers={"Content-Type": "text/plain", "Origin": origin},
                               content=_create_body(definition, "from-a-page"))
        assert (start.status_code, api.status_code) == (403, 403), origin
        assert "access-control-allow-origin" not in start.headers
    assert not marker.exists() and served.home_files() == before
    assert [m["name"] for m in sfn.list_state_machines()["stateMachines"]] == ["victim"]
    victim = sfn.list_state_machines()["stateMachines"][0]["stateMachineArn"]
    assert sfn.list_executions(stateMachineArn=victim)["executions"] == []
    # The same request from the console's own origin starts the run: the refusals above were the Origin's.
    with httpx.Client(cookies=cookie) as browser:
        body = json.dumps({"workflow": "victim", "input": {}})
        # Even from its own origin, the console's API takes only JSON (what no cross-origin form can send).
        plain = browser.post(f"{served.url}/ui/api/executions", content=body,
                             headers={"Content-Type": "text/plain", "Origin": served.url})
        assert plain.status_code == 415
        own = browser.post(f"{served.url}/ui/api/executions", content=body,
                           headers={"Content-Type": "application/json", "Origin": served.url})
    assert own.status_code == 200, own.text
    assert len(sfn.list_executions(stateMachineArn=victim)["executions"]) == 1


def test_a_preflighted_cross_origin_request_gets_no_cors_grant(shared_ui: Served) -> None:
    served = shared_ui
    before = served.home_files()
    preflight = httpx.options(served.url, headers={
        "Origin": "http://attacker.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "x-amz-target,content-type,x-stepfn-token"})
    assert preflight.status_code == 403
    assert not any(name.startswith("access-control-") for name in preflight.headers)
    # Were the browser to send it anyway (it does not without a grant), the request itself is refused too.
    sent = httpx.post(served.url, content=_create_body({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}),
                      headers={**SFN, "Origin": "http://attacker.example", "X-Stepfn-Token": served.token})
    assert sent.status_code == 403 and served.home_files() == before
    same_origin = httpx.post(served.url, content=json.dumps({}), headers={
        "X-Amz-Target": "AWSStepFunctions.ListStateMachines", "Content-Type": "application/x-amz-json-1.0",
        "Origin": served.url, "X-Stepfn-Token": served.token})
    assert same_origin.status_code == 200  # the console's own page calling its own server


# -- another program without the token ---------------------------------------------------------------------------


@pytest.mark.parametrize("credentials", [
    {}, {"X-Stepfn-Token": "guess"}, {"Authorization": "token guess"}, {"Authorization": "Bearer x"},
    {"Authorization": "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/states/aws4_request, "
                      "SignedHeaders=host, Signature=0"},
], ids=["none", "wrong-header", "wrong-authorization", "wrong-bearer", "wrong-access-key"])
def test_a_missing_or_wrong_token_is_refused_everywhere(shared_ui: Served, credentials: dict[str, str]) -> None:
    served = shared_ui
    before = served.home_files()
    body = _create_body({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    for method, path, extra in (("POST", "/", SFN), ("GET", "/ping", {}), ("GET", "/ui/", {}),
                                ("GET", "/ui/api/workflows", {}), ("POST", "/ui/api/executions", {}),
                                ("POST", "/endpoints/any/invocations", {"Content-Type": "text/csv"}),
                                ("GET", "/ui/static/app.js", {})):
        answer = httpx.request(method, served.url + path, headers={**extra, **credentials},
                               content=body if method == "POST" else None)
        assert answer.status_code == 403, (method, path, answer.status_code)
    assert served.home_files() == before
    with pytest.raises(Exception, match="UnrecognizedClientException"):
        served.sfn("wrong").list_state_machines()


# -- a definition naming code or paths ---------------------------------------------------------------------------


@pytest.mark.parametrize(("function_name", "payload"), [
    ("cProfile:run", "open({marker!r}, 'w').write('ran')"),
    ("os:system", "touch {marker}"),
    ("subprocess:getoutput", "touch {marker}"),
    ("pathlib:Path.touch", "{marker}"),
    ("runpy:run_path", "{script}"),
])
def test_a_standard_library_function_name_runs_nothing(shared_serve: Served, function_name: str,
                                                      payload: str) -> None:
    """Even a client holding the token cannot make the server run code the user did not write."""
    served = shared_serve
    marker = served.home.parent / "marker-lambda"
    script = served.home.parent / "script.py"
    script.write_text(f"open({str(marker)!r}, 'w').write('ran')\n")
    sfn = served.sfn()
    definition = {"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": True,
        "Parameters": {"FunctionName": function_name, "Payload": payload.format(marker=str(marker), script=script)}}}}
    arn = sfn.create_state_machine(name=_unique("attack"), definition=json.dumps(definition),
                                   roleArn=ROLE)["stateMachineArn"]
    described = _wait(sfn, sfn.start_execution(stateMachineArn=arn)["executionArn"])
    assert described["status"] == "FAILED"
    assert described["error"] == "Lambda.ResourceNotFoundException"
    assert "--lambda-path" in described["cause"]
    assert not marker.exists()


def test_a_module_under_lambda_path_runs_and_nothing_else(start_server: Callable[..., Served],
                                                          tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "scoring_fns.py").write_text("def score(event):\n    return {'score': event['x'] * 2}\n")
    served = start_server("serve", "--lambda-path", str(project))
    sfn = served.sfn()
    for name, function_name in (("ok", "scoring_fns:score"), ("refused", "scoring_fns:os.system")):
        definition = {"StartAt": "T", "States": {"T": {
            "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "OutputPath": "$.Payload", "End": True,
            "Parameters": {"FunctionName": function_name, "Payload": {"x": 21}}}}}
        arn = sfn.create_state_machine(name=name, definition=json.dumps(definition), roleArn=ROLE)["stateMachineArn"]
        described = _wait(sfn, sfn.start_execution(stateMachineArn=arn)["executionArn"])
        if name == "ok":
            assert (described["status"], json.loads(described["output"])) == ("SUCCEEDED", {"score": 42})
        else:
            assert (described["status"], described["error"]) == ("FAILED", "Lambda.ResourceNotFoundException")


PIPELINE = """
import os

from stepfn.steps import Chain, LambdaStep

score = LambdaStep("Score", parameters={"FunctionName": "project_handlers:score", "Payload.$": "$"},
                   output_path="$.Payload")
shell = LambdaStep("Shell", parameters={"FunctionName": "os:system", "Payload": "touch MARKER"})
pipeline = Chain([score, shell]) if "STEPFN_TEST_NAME_OS_SYSTEM" in os.environ else Chain([score])
"""


def test_stepfn_run_allows_the_folder_of_its_file_and_nothing_else(tmp_path: Path) -> None:
    """The legitimate use, the default way (the home's control plane runs it): `stepfn run` of a project file
    whose Lambda names a module next to it; the same run naming os:system fails and touches nothing."""
    project, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    project.mkdir()
    elsewhere.mkdir()
    marker = tmp_path / "marker-run"
    (project / "project_handlers.py").write_text("def score(event):\n    return {'score': event['x'] * 2}\n")
    (project / "pipeline.py").write_text(PIPELINE.replace("MARKER", str(marker)))
    env = _server_env(tmp_path / "home")
    try:
        ok = subprocess.run([sys.executable, "-m", "stepfn", "run", str(project / "pipeline.py"), "--input",
                             '{"x": 21}', "--no-progress"], cwd=elsewhere, env=env, capture_output=True, text=True,
                            timeout=300)
        assert ok.returncode == 0, ok.stdout + ok.stderr
        assert '"score": 42' in ok.stdout.replace("\n", "")
        refused = subprocess.run([sys.executable, "-m", "stepfn", "run", str(project / "pipeline.py"), "--input",
                                  '{"x": 1}', "--no-progress"], cwd=elsewhere,
                                 env={**env, "STEPFN_TEST_NAME_OS_SYSTEM": "1"}, capture_output=True, text=True,
                                 timeout=300)
        assert refused.returncode == 1 and "Lambda.ResourceNotFoundException" in refused.stdout, refused.stdout
        assert not marker.exists()
    finally:
        subprocess.run([sys.executable, "-m", "stepfn", "down", "--force"], env=env, capture_output=True,
                       timeout=60, check=False)


@pytest.mark.parametrize("key", ["../escape.txt", "../../escape.txt", "/tmp/stepfn-attack-escape.txt",
                                 "a/../../../escape.txt", "./escape.txt", "a//b"])
def test_object_keys_leaving_the_store_are_refused_over_http(shared_serve: Served, key: str) -> None:
    served = shared_serve
    sfn = served.sfn()
    definition = {"StartAt": "Put", "States": {"Put": {
        "Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:putObject", "End": True,
        "Parameters": {"Bucket": "bucket", "Key": key, "Body": "planted"}}}}
    arn = sfn.create_state_machine(name=_unique("put"), definition=json.dumps(definition), roleArn=ROLE)["stateMachineArn"]
    described = _wait(sfn, sfn.start_execution(stateMachineArn=arn)["executionArn"])
    assert described["status"] == "FAILED"
    planted = [p for p in served.home.parent.rglob("*") if p.is_file() and p.read_bytes() == b"planted"]
    assert planted == [] and not Path("/tmp/stepfn-attack-escape.txt").exists()


@pytest.mark.parametrize(("bucket", "key"), [("bucket", "../../server-token"), ("..", "server-token"),
                                           ("bucket", "/etc/hostname"), ("bucket", "a/../../../server-token")])
def test_a_map_cannot_read_or_write_outside_the_store(shared_serve: Served, bucket: str, key: str) -> None:
    """ItemReader and ResultWriter locations go through the same key checks as S3 tasks: the home's own
    token file, two levels up from a bucket, stays unreadable."""
    served = shared_serve
    sfn = served.sfn()
    processor = {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}, "StartAt": "P",
                 "States": {"P": {"Type": "Pass", "End": True}}}
    reader = {"StartAt": "M", "States": {"M": {"Type": "Map", "End": True, "ItemProcessor": processor,
                                               "ItemReader": {"Resource": "arn:aws:states:::s3:getObject",
                                                              "ReaderConfig": {"InputType": "CSV",
                                                                               "CSVHeaderLocation": "GIVEN",
                                                                               "CSVHeaders": ["line"]},
                                                              "Parameters": {"Bucket": bucket, "Key": key}}}}}
    writer = {"StartAt": "M", "States": {"M": {"Type": "Map", "End": True, "ItemProcessor": processor,
                                               "ItemsPath": "$.items",
                                               "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject",
                                                                "Parameters": {"Bucket": bucket, "Prefix": key}}}}}
    for name, definition in (("reader", reader), ("writer", writer)):
        arn = sfn.create_state_machine(name=_unique(name), definition=json.dumps(definition),
                                       roleArn=ROLE)["stateMachineArn"]
        started = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"items": [{"secret": "planted"}]}))
        described = _wait(sfn, started["executionArn"])
        assert described["status"] == "FAILED", (name, described.get("output"))
        assert described["error"] == {"reader": "States.ItemReaderFailed", "writer": "States.ResultWriterFailed"}[name]
        assert served.token not in json.dumps(described, default=str)
        history = sfn.get_execution_history(executionArn=described["executionArn"], maxResults=1000)
        assert served.token not in json.dumps(history, default=str)
    planted = [p for p in served.home.parent.rglob("*") if p.is_file() and b"planted" in p.read_bytes()
               and "stepfn.db" not in p.name]
    assert planted == []


@pytest.mark.parametrize("name", ["../../escape", "..", "a/../../escape", "/tmp/stepfn-attack-job"])
def test_resource_names_never_become_paths(shared_serve: Served, shared_ui: Served, name: str) -> None:
    """Job and model names name files under the home: names that are paths are refused, on the API and in the
    console's job-log route (which would otherwise read the home's token)."""
    sagemaker = boto3.client("sagemaker", endpoint_url=shared_serve.url, region_name="us-east-1",
                             aws_access_key_id=shared_serve.token, aws_secret_access_key="anything")
    with pytest.raises(Exception, match="ValidationException"):
        sagemaker.create_training_job(
            TrainingJobName=name, RoleArn=ROLE, AlgorithmSpecification={"TrainingImage": SKLEARN_IMAGE,
                                                                        "TrainingInputMode": "File"},
            OutputDataConfig={"S3OutputPath": "s3://bucket/output"},
            ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
            StoppingCondition={"MaxRuntimeInSeconds": 60})
    with pytest.raises(Exception, match="ValidationException"):
        sagemaker.create_model(ModelName=name, ExecutionRoleArn=ROLE, PrimaryContainer={"Image": SKLEARN_IMAGE})
    assert not list(shared_serve.home.parent.rglob("escape*")) and not Path("/tmp/stepfn-attack-job").exists()
    with httpx.Client(cookies={f"stepfn-token-{shared_ui.port}": shared_ui.token}) as browser:
        for kind, job in (("training-job", name), ("../..", "server-token"), ("training-job", "../../server-token")):
            # Dots percent-encoded too: a client removes a bare ".." segment before sending (RFC 3986), and the
            # attack is the server decoding one into the path.
            encoded_kind, encoded_job = (quote(part, safe="").replace(".", "%2E") for part in (kind, job))
            answer = browser.get(f"{shared_ui.url}/ui/api/jobs/{encoded_kind}/{encoded_job}")
            assert answer.status_code >= 400 and shared_ui.token not in answer.text, (kind, job, answer.text)


def _plain_tar(members: list[tuple[str, bytes]]) -> str:
    """An uncompressed tar as text: every byte of it is ASCII, so it travels as a JSON string Body."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), 0
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue().decode("ascii")


@pytest.mark.parametrize("member", ["../../../escape.py", "/tmp/stepfn-attack-member.py", "code/../../escape.py"])
def test_tar_members_leaving_the_job_are_refused_over_http(shared_serve: Served, member: str) -> None:
    """The whole path over HTTP: an archive planted through an S3 task, then a training job unpacking it."""
    served = shared_serve
    job = _unique("evil")
    sfn = served.sfn()
    archive = _plain_tar([("train.py", b"print('training')\n"), (member, b"print('escaped')\n")])
    plant = {"StartAt": "Put", "States": {"Put": {
        "Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:putObject", "End": True,
        "Parameters": {"Bucket": "bucket", "Key": f"code/{job}.tar", "Body": archive}}}}
    arn = sfn.create_state_machine(name=_unique("plant"), definition=json.dumps(plant), roleArn=ROLE)["stateMachineArn"]
    assert _wait(sfn, sfn.start_execution(stateMachineArn=arn)["executionArn"])["status"] == "SUCCEEDED"
    sagemaker = boto3.client("sagemaker", endpoint_url=served.url, region_name="us-east-1",
                             aws_access_key_id=served.token, aws_secret_access_key="anything")
    sagemaker.create_training_job(
        TrainingJobName=job, RoleArn=ROLE,
        AlgorithmSpecification={"TrainingImage": SKLEARN_IMAGE, "TrainingInputMode": "File"},
        HyperParameters={"sagemaker_program": '"train.py"', "sagemaker_submit_directory": f'"s3://bucket/code/{job}.tar"'},
        OutputDataConfig={"S3OutputPath": "s3://bucket/output"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
        StoppingCondition={"MaxRuntimeInSeconds": 60})
    deadline = time.monotonic() + 60
    while (record := sagemaker.describe_training_job(TrainingJobName=job))["TrainingJobStatus"] == "InProgress":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert record["TrainingJobStatus"] == "Failed"
    assert not list(served.home.parent.rglob("escape.py")) and not Path("/tmp/stepfn-attack-member.py").exists()



def _raw(served: Served, method: str, path: str, service: str, body: bytes = b"",
         headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    """One request with ``path`` sent byte for byte (httpx and browsers drop bare ``..`` segments first),
    signed for ``service`` with the printed token, as boto3 signs."""
    connection = http.client.HTTPConnection("127.0.0.1", served.port, timeout=60)
    try:
        connection.request(method, path, body=body or None, headers={
            "Host": f"127.0.0.1:{served.port}", **(headers or {}),
            "Authorization": f"AWS4-HMAC-SHA256 Credential={served.token}/20260101/us-east-1/{service}/aws4_request, "
                             "SignedHeaders=host, Signature=0"})
        answer = connection.getresponse()
        return answer.status, answer.read()
    finally:
        connection.close()


# "{outside}" is a folder of the test's own beside the home, holding a file "secret": a regression must never be
# able to overwrite or delete a real file of the machine.
S3_ESCAPES = ["/bucket/../../server-token", "/bucket/%2E%2E/%2E%2E/server-token", "/bucket/a%2F..%2F..%2F..%2Fserver-token",
              "/bucket/{outside}/secret", "/../server-token", "/bucket/link/secret", "/bucket/file-link"]


@pytest.mark.parametrize("path", S3_ESCAPES)
def test_the_s3_api_keeps_every_key_inside_the_object_store(shared_serve: Served, path: str) -> None:
    """GET, PUT, CopyObject, DeleteObjects and ListObjects on keys that leave the store (``..``, encoded
    slashes and dots, absolute keys, a symlink a job left in a bucket) answer an S3 error and touch nothing."""
    served = shared_serve
    outside = served.home.parent / "outside"
    outside.mkdir(exist_ok=True)
    (outside / "secret").write_text("outside-secret")
    path = path.replace("{outside}", str(outside))
    bucket = served.home / "s3" / "bucket"
    bucket.mkdir(parents=True, exist_ok=True)
    for link, target in (("link", outside), ("file-link", outside / "secret")):
        if not (bucket / link).is_symlink():
            (bucket / link).symlink_to(target)
    status, body = _raw(served, "GET", path, "s3")
    assert status >= 400 and b"<Error>" in body, (status, body)
    assert served.token.encode() not in body and b"outside-secret" not in body
    status, body = _raw(served, "PUT", path.replace("server-token", "planted.txt"), "s3", b"planted")
    assert status >= 400, (status, body)
    status, body = _raw(served, "PUT", "/bucket/copied", "s3", headers={"x-amz-copy-source": path})
    assert status >= 400 and served.token.encode() not in body, (status, body)
    key = unquote(path[len("/bucket/"):] if path.startswith("/bucket/") else path.lstrip("/"))
    status, body = _raw(served, "POST", "/bucket?delete", "s3",
                        f"<Delete><Object><Key>{key}</Key></Object></Delete>".encode())
    assert status >= 400 and b"<Deleted>" not in body, (status, body)
    status, body = _raw(served, "GET", f"/bucket?list-type=2&prefix={quote(key, safe='')}", "s3")
    assert status >= 400 or b"<Key>" not in body, (status, body)
    assert (served.home / "server-token").exists() and (outside / "secret").read_text() == "outside-secret"
    assert not (bucket / "copied").exists()
    assert not list(served.home.parent.rglob("planted.txt"))


def _zip(members: dict[str, bytes | int]) -> bytes:
    """A deflated zip; a member given as a number is that many zero bytes, streamed (a bomb stays small here)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            if isinstance(data, bytes):
                archive.writestr(name, data)
                continue
            with archive.open(name, "w", force_zip64=True) as member:
                for _ in range(data >> 20):
                    member.write(bytes(1 << 20))
    return buffer.getvalue()


@pytest.mark.parametrize("members", [{"../../escape.py": b"x = 1\n"}, {"/tmp/stepfn-attack-lambda.py": b"x = 1\n"},
                                     {"zeros.bin": 300 << 20}], ids=["dotdot", "absolute", "zip-bomb"])
def test_a_lambda_package_cannot_write_outside_its_folder_or_fill_the_disk(shared_serve: Served,
                                                                          members: dict[str, bytes | int]) -> None:
    served = shared_serve
    name = _unique("pkg")
    package = _zip({"app.py": b"def handler(event, context):\n    return 1\n", **members})
    request = {"FunctionName": name, "Runtime": "python3.12", "Role": ROLE, "Handler": "app.handler",
               "Code": {"ZipFile": base64.b64encode(package).decode()}}
    status, body = _raw(served, "POST", "/2015-03-31/functions", "lambda", json.dumps(request).encode())
    assert status == 400 and (b"outside the package" in body or b"Unzipped size" in body), (status, body)
    assert not list(served.home.parent.rglob("escape.py")) and not Path("/tmp/stepfn-attack-lambda.py").exists()
    assert not list(served.home.rglob("zeros.bin"))
    status, _ = _raw(served, "GET", f"/2015-03-31/functions/{name}", "lambda")
    assert status == 404


# -- the positive paths with the default token -------------------------------------------------------------------


def test_boto3_works_with_the_printed_settings(shared_serve: Served) -> None:
    served = shared_serve
    sfn = served.sfn()
    definition = {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"ok": True}, "End": True}}}
    name = _unique("fine")
    arn = sfn.create_state_machine(name=name, definition=json.dumps(definition), roleArn=ROLE)["stateMachineArn"]
    assert json.loads(_wait(sfn, sfn.start_execution(stateMachineArn=arn)["executionArn"])["output"]) == {"ok": True}
    from stepfn.server import create_server_client

    # stepfn's own client reads the token from the home: nothing to type.
    own = create_server_client("stepfunctions", served.url, home=served.home)
    assert name in [m["name"] for m in own.list_state_machines()["stateMachines"]]


@pytest.mark.skipif(AWS_CLI is None, reason="the AWS CLI is not installed (pip install awscli)")
def test_the_aws_cli_works_with_the_printed_exports(shared_serve: Served) -> None:
    served = shared_serve
    name = _unique("cli")
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    for line in served.lines:  # what a user pastes into their shell
        if line.strip().startswith("export "):
            env.update(dict(item.split("=", 1) for item in line.split()[1:]))
    definition = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    assert AWS_CLI is not None
    created = subprocess.run([AWS_CLI, "stepfunctions", "create-state-machine", "--name", name, "--definition",
                              definition, "--role-arn", ROLE], env=env, capture_output=True, text=True, timeout=120)
    assert created.returncode == 0, created.stderr
    listed = subprocess.run([AWS_CLI, "stepfunctions", "list-state-machines"], env=env, capture_output=True, text=True,
                            timeout=120)
    assert name in [m["name"] for m in json.loads(listed.stdout)["stateMachines"]]
    refused = subprocess.run([AWS_CLI, "stepfunctions", "list-state-machines"],
                             env={**env, "AWS_ACCESS_KEY_ID": "wrong"}, capture_output=True, text=True, timeout=120)
    assert refused.returncode != 0 and "UnrecognizedClientException" in refused.stderr


def test_the_aws_cli_runs_sync_executions_and_test_state_with_the_printed_exports(shared_serve: Served) -> None:
    """StartSyncExecution and TestState need botocore's host-prefix injection off (else the CLI calls
    sync-127.0.0.1 / test-127.0.0.1): the printed exports include the setting that turns it off."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    for line in shared_serve.lines:
        if line.strip().startswith("export "):
            env.update(dict(item.split("=", 1) for item in line.split()[1:]))
    assert env.get("AWS_DISABLE_HOST_PREFIX_INJECTION") == "true"
    name = _unique("express")
    definition = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": {"doubled.$":
                                                                                             "States.MathAdd($.n, $.n)"},
                                                              "End": True}}})
    assert AWS_CLI is not None
    created = subprocess.run([AWS_CLI, "stepfunctions", "create-state-machine", "--name", name, "--type", "EXPRESS",
                              "--definition", definition, "--role-arn", ROLE], env=env, capture_output=True,
                             text=True, timeout=120)
    assert created.returncode == 0, created.stderr
    arn = json.loads(created.stdout)["stateMachineArn"]
    synced = subprocess.run([AWS_CLI, "stepfunctions", "start-sync-execution", "--state-machine-arn", arn,
                             "--input", json.dumps({"n": 21})], env=env, capture_output=True, text=True, timeout=120)
    assert synced.returncode == 0, synced.stderr
    answer = json.loads(synced.stdout)
    assert answer["status"] == "SUCCEEDED" and json.loads(answer["output"]) == {"doubled": 42}
    tested = subprocess.run([AWS_CLI, "stepfunctions", "test-state", "--definition",
                             json.dumps({"Type": "Pass", "Parameters": {"x.$": "$.n"}, "End": True}),
                             "--role-arn", ROLE, "--input", json.dumps({"n": 7})],
                            env=env, capture_output=True, text=True, timeout=120)
    assert tested.returncode == 0, tested.stderr
    assert json.loads(json.loads(tested.stdout)["output"]) == {"x": 7}
    # Without the setting the CLI goes to sync-127.0.0.1, which is not this server: the reason it is printed.
    unset = {key: value for key, value in env.items() if key != "AWS_DISABLE_HOST_PREFIX_INJECTION"}
    failed = subprocess.run([AWS_CLI, "stepfunctions", "start-sync-execution", "--state-machine-arn", arn,
                             "--cli-connect-timeout", "5", "--cli-read-timeout", "5"],
                            env=unset, capture_output=True, text=True, timeout=120)
    assert failed.returncode != 0 and "sync-127.0.0.1" in failed.stderr


@pytest.mark.browser
def test_the_console_opens_in_a_browser_from_the_printed_url(start_server: Callable[..., Served], page: Any) -> None:
    served = start_server("ui")
    sfn = served.sfn()
    definition = {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"from": "browser"}, "End": True}}}
    sfn.create_state_machine(name="clicked", definition=json.dumps(definition), roleArn=ROLE)
    console_url = next(line.split(" ", 1)[1] for line in served.lines if line.startswith("console: "))
    page.goto(console_url)
    page.wait_for_selector("#start-button")
    page.select_option("#start-workflow", "clicked")
    page.click("#start-button")  # a POST from the console's own page: same origin, cookie
    page.wait_for_selector("#execution-status.SUCCEEDED")
    page.screenshot(path=str(Path(__file__).resolve().parents[2] / "build" / "screenshots" / "console-with-token.png"))
    # The cookie keeps the browser in after the token leaves the address bar.
    assert page.goto(f"{served.url}/ui/").status == 200
    other = page.context.browser.new_page()  # another browser context has no cookie: the console refuses it
    assert other.goto(f"{served.url}/ui/").status == 403
    executions = sfn.list_executions(stateMachineArn=sfn.list_state_machines()["stateMachines"][0]["stateMachineArn"])
    assert [e["status"] for e in executions["executions"]] == ["SUCCEEDED"]


ATTACK_PAGE = """<!doctype html><title>cute cats</title><body><form id="form" method="post" enctype="text/plain"
 action="STEPFN/ui/api/executions" target="sink"><input name='{"workflow":"victim","input":{"x":"' value='"}}'>
</form><iframe name="sink"></iframe><script>
const target = "STEPFN";
const create = JSON.stringify({name: "planted", roleArn: "arn:aws:iam::123456789012:role/R",
  definition: JSON.stringify({StartAt: "P", States: {P: {Type: "Pass", End: true}}})});
const attempts = [
  // simple requests: no preflight, the console's cookie goes along (same site: 127.0.0.1, another port)
  fetch(target + "/ui/api/executions", {method: "POST", mode: "no-cors", credentials: "include",
        headers: {"Content-Type": "text/plain"}, body: JSON.stringify({workflow: "victim", input: {}})}),
  fetch(target + "/", {method: "POST", mode: "no-cors", credentials: "include",
        headers: {"Content-Type": "text/plain"}, body: create}),
  // preflighted: custom headers
  fetch(target + "/", {method: "POST", credentials: "include", body: create,
        headers: {"X-Amz-Target": "AWSStepFunctions.CreateStateMachine",
                  "Content-Type": "application/x-amz-json-1.0"}}),
  fetch(target + "/ui/api/workflows", {credentials: "include"}).then(r => r.text()),
];
document.getElementById("form").submit();
Promise.allSettled(attempts).then(results => {
  window.readable = results.map(r => r.status === "fulfilled" && typeof r.value === "string" ? r.value : null);
  document.title = "done";
});
</script>"""


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (CI installs Debian's chromium)")
def test_a_web_page_in_the_users_browser_cannot_drive_the_server(start_server: Callable[..., Served]) -> None:
    """The whole attack in chromium: the user has the console open (its cookie set); a page from another
    origin of this machine, and a page whose DNS name resolves to 127.0.0.1 (rebinding), try to start a run,
    create a state machine and read the workflow list."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from playwright.sync_api import sync_playwright

    served = start_server("ui")
    sfn = served.sfn()
    definition = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
    victim = sfn.create_state_machine(name="victim", definition=json.dumps(definition), roleArn=ROLE)[
        "stateMachineArn"]
    console_url = next(line.split(" ", 1)[1] for line in served.lines if line.startswith("console: "))

    class AttackerSite(BaseHTTPRequestHandler):
        target = served.url

        def do_GET(self) -> None:
            body = ATTACK_PAGE.replace("STEPFN", self.target).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    site = ThreadingHTTPServer(("127.0.0.1", 0), AttackerSite)
    attacker_port = site.server_address[1]
    threading.Thread(target=site.serve_forever, daemon=True).start()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--host-resolver-rules=MAP rebound.attacker.test 127.0.0.1"])  # the attacker's DNS answer
            try:
                context = browser.new_context()
                page = context.new_page()
                page.set_default_timeout(60_000)
                assert page.goto(console_url).status == 200  # type: ignore[union-attr]  # the user's console
                for attack_url in (f"http://127.0.0.1:{attacker_port}/", f"http://rebound.attacker.test:{attacker_port}/"):
                    AttackerSite.target = served.url
                    attack = context.new_page()
                    attack.goto(attack_url)
                    attack.wait_for_function("document.title === 'done'")
                    assert attack.evaluate("window.readable") == [None, None, None, None]  # nothing readable
                    attack.close()
                # DNS rebinding proper: the attacker's name now points at the server, so the page is same-origin.
                AttackerSite.target = f"http://rebound.attacker.test:{served.port}"
                rebound = context.new_page()
                answer = rebound.goto(f"http://rebound.attacker.test:{served.port}/ui/?token=guessed")
                assert answer is not None and answer.status == 403
                rebound.goto(f"http://rebound.attacker.test:{attacker_port}/")
                rebound.wait_for_function("document.title === 'done'")
                assert all(text is None or "victim" not in text for text in rebound.evaluate("window.readable"))
            finally:
                browser.close()
    finally:
        site.shutdown()
        site.server_close()
    assert sfn.list_executions(stateMachineArn=victim)["executions"] == []
    assert [m["name"] for m in sfn.list_state_machines()["stateMachines"]] == ["victim"]
