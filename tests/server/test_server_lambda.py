"""boto3's Lambda client against ``stepfn serve``: the model retraining notebook's deployment of its function
(zip, upload to S3, ``create_function``), then a workflow's LambdaStep and ``Invoke`` calling it."""

from __future__ import annotations

import base64
import io
import json
import os
import signal
import time
import zipfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from stepfn.local import lambda_functions
from stepfn.local.objectstore import ObjectStore
from stepfn.steps import Chain, LambdaStep
from stepfn.workflow import Workflow
from stepfn.workflow.execution import ExecutionFailedWarning

ROLE = "arn:aws:iam::123456789012:role/LambdaRole"
# The shape of the retraining notebook's code/query_training_status.py: a module-level client, a helper module.
HANDLER = '''import json
import helper

calls = []


def lambda_handler(event, context):
    calls.append(event)
    if "TrainingJobName" not in event:
        raise KeyError("TrainingJobName key not found in function input! The input received was: {}."
                       .format(json.dumps(event)))
    return {"statusCode": 200, "job": event["TrainingJobName"], "answer": helper.answer(),
            "function": context.function_name}
'''


def package(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def test_a_function_deployed_from_s3_runs_in_a_lambda_step_and_on_invoke(
        serve: Callable[..., str], make_client: Callable[..., Any], stepfn_home: Path) -> None:
    ObjectStore(stepfn_home / "s3").put_bytes(
        "s3://sagemaker-us-east-1-123456789012/ml_deploy/query_training_status.zip",
        package({"query_training_status.py": HANDLER, "helper.py": "def answer():\n    return 42\n"}))
    client = make_client("lambda", serve())
    created = client.create_function(
        FunctionName="query-training-status-1", Runtime="python3.7", Role=ROLE,
        Handler="query_training_status.lambda_handler",
        Code={"S3Bucket": "sagemaker-us-east-1-123456789012", "S3Key": "ml_deploy/query_training_status.zip"},
        Description="Queries a SageMaker training job and return the results.", Timeout=15, MemorySize=128)
    assert created["FunctionArn"] == "arn:aws:lambda:us-east-1:123456789012:function:query-training-status-1"
    assert (created["Handler"], created["Timeout"], created["State"]) == (
        "query_training_status.lambda_handler", 15, "Active")
    assert client.get_function(FunctionName="query-training-status-1")["Configuration"]["Runtime"] == "python3.7"
    assert [f["FunctionName"] for f in client.list_functions()["Functions"]] == ["query-training-status-1"]
    with pytest.raises(ClientError) as again:
        client.create_function(FunctionName="query-training-status-1", Runtime="python3.7", Role=ROLE,
                               Handler="query_training_status.lambda_handler", Code={"ZipFile": package({})})
    assert again.value.response["Error"]["Code"] == "ResourceConflictException"

    answer = client.invoke(FunctionName="query-training-status-1", Payload=json.dumps({"TrainingJobName": "j1"}))
    assert "FunctionError" not in answer
    assert json.loads(answer["Payload"].read()) == {"statusCode": 200, "job": "j1", "answer": 42,
                                                    "function": "query-training-status-1"}
    failed = client.invoke(FunctionName="query-training-status-1", Payload=b"{}")
    assert failed["FunctionError"] == "Unhandled"
    assert json.loads(failed["Payload"].read())["errorType"] == "KeyError"

    # The notebook's LambdaStep names the function by the name it created.
    step = LambdaStep("Query Training Results", parameters={
        "FunctionName": "query-training-status-1", "Payload": {"TrainingJobName.$": "$.TrainingJobName"}})
    workflow = Workflow("retraining-lambda", Chain([step]), role=ROLE)
    workflow.create()
    execution = workflow.execute(inputs={"TrainingJobName": "regression-1"})
    output = execution.get_output(wait=True)
    assert output["Payload"] == {"statusCode": 200, "job": "regression-1", "answer": 42,
                                 "function": "query-training-status-1"}

    client.delete_function(FunctionName="query-training-status-1")
    with pytest.raises(ClientError) as gone:
        client.invoke(FunctionName="query-training-status-1", Payload=b"{}")
    assert gone.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_new_code_under_the_same_name_runs_and_packages_stay_inside(
        serve: Callable[..., str], make_client: Callable[..., Any], stepfn_home: Path) -> None:
    client = make_client("lambda", serve())
    for version in (1, 2):
        client.create_function(FunctionName="echo", Runtime="python3.12", Role=ROLE, Handler="app.handler",
                               Code={"ZipFile": package({"app.py": f"def handler(event, context):\n"
                                                                  f"    return {{'version': {version}}}\n"})})
        assert json.loads(client.invoke(FunctionName="echo")["Payload"].read()) == {"version": version}
        client.delete_function(FunctionName="echo")
    escaping = io.BytesIO()
    with zipfile.ZipFile(escaping, "w") as archive:
        archive.writestr("../../outside.py", "x = 1\n")
    with pytest.raises(ClientError) as refused:
        client.create_function(FunctionName="slip", Runtime="python3.12", Role=ROLE, Handler="outside.x",
                               Code={"ZipFile": escaping.getvalue()})
    assert refused.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert not list(stepfn_home.rglob("outside.py"))
    with pytest.raises(ClientError) as missing_code:
        client.create_function(FunctionName="nocode", Runtime="python3.12", Role=ROLE, Handler="app.handler",
                               Code={"S3Bucket": "bucket", "S3Key": "absent.zip"})
    assert "NoSuchKey" in str(missing_code.value)


def test_a_package_bigger_unzipped_than_lambda_allows_is_refused_before_anything_is_written(
        serve: Callable[..., str], make_client: Callable[..., Any], stepfn_home: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A small zip of zeros would otherwise fill the disk; Lambda's own quota (250 MB unzipped) bounds it. The
    quota is lowered here so the bomb stays small (the server runs in this process)."""
    monkeypatch.setattr(lambda_functions, "UNZIPPED_LIMIT", 1 << 20)
    client = make_client("lambda", serve())
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return 1\n")
        archive.writestr("zeros.bin", b"\0" * (2 << 20))
    assert len(bomb.getvalue()) < (1 << 20) // 10
    with pytest.raises(ClientError) as refused:
        client.create_function(FunctionName="bomb", Runtime="python3.12", Role=ROLE, Handler="app.handler",
                               Code={"ZipFile": bomb.getvalue()})
    assert refused.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert "Unzipped size must be smaller than 1048576 bytes" in str(refused.value)
    assert not list(stepfn_home.rglob("zeros.bin"))
    assert client.list_functions()["Functions"] == []


def test_malformed_lambda_requests_get_lambdas_400s_not_a_server_error(
        serve: Callable[..., str], make_client: Callable[..., Any], stepfn_home: Path) -> None:
    url = serve()
    token = (stepfn_home / "server-token").read_text().strip()
    headers = {"Authorization": f"AWS4-HMAC-SHA256 Credential={token}/20260101/us-east-1/lambda/aws4_request, "
                                "SignedHeaders=host, Signature=0"}
    functions = f"{url}/2015-03-31/functions"
    cases = [(b"not json", "InvalidRequestContentException"), (b"[1]", "InvalidRequestContentException"),
             (json.dumps({"FunctionName": "f", "Handler": "app.handler", "Code": {"ZipFile": "!!"}}).encode(),
              "InvalidParameterValueException"),
             (json.dumps({"FunctionName": "f", "Handler": "app.handler", "Code": "zip"}).encode(),
              "InvalidParameterValueException"),
             (json.dumps({"FunctionName": "f", "Handler": "app.handler", "Timeout": "soon", "Code": {
                 "ZipFile": base64.b64encode(package({"app.py": "def handler(e, c):\n    return 1\n"})).decode()}}
             ).encode(), "InvalidParameterValueException")]
    for body, code in cases:
        answer = httpx.post(functions, headers=headers, content=body)
        assert (answer.status_code, answer.headers.get("x-amzn-ErrorType")) == (400, code), (body, answer.text)
    client = make_client("lambda", url)
    client.create_function(FunctionName="f", Runtime="python3.12", Role=ROLE, Handler="app.handler",
                           Code={"ZipFile": package({"app.py": "def handler(event, context):\n    return event\n"})})
    answer = httpx.post(f"{functions}/f/invocations", headers=headers, content=b"{not json")
    assert (answer.status_code, answer.headers.get("x-amzn-ErrorType")) == (400, "InvalidRequestContentException")


def test_concurrent_creates_of_one_name_make_one_function_and_listings_never_fail(
        serve: Callable[..., str], make_client: Callable[..., Any]) -> None:
    url = serve()
    # Many members: each create spends a while unpacking, when another create of the name could disturb it.
    code = package({"app.py": "def handler(event, context):\n    return 1\n",
                    **{f"data/{n}.txt": "x" * 1000 for n in range(300)}})

    def create(index: int) -> str:
        client = make_client("lambda", url)
        try:
            client.create_function(FunctionName=f"same-{index // 4}", Runtime="python3.12", Role=ROLE,
                                   Handler="app.handler", Code={"ZipFile": code})
        except ClientError as error:
            return str(error.response["Error"]["Code"])
        return "created"

    def list_all(_: int) -> list[str]:
        client = make_client("lambda", url)
        return [f["FunctionName"] for _ in range(40) for f in client.list_functions()["Functions"]]

    with ThreadPoolExecutor(8) as pool:
        listings = pool.map(list_all, range(2))
        outcomes = list(pool.map(create, range(12)))
        assert all(name.startswith("same-") for listing in listings for name in listing)
    assert sorted(set(outcomes)) == ["ResourceConflictException", "created"] and outcomes.count("created") == 3
    client = make_client("lambda", url)
    assert [f["FunctionName"] for f in client.list_functions()["Functions"]] == ["same-0", "same-1", "same-2"]
    assert all(json.loads(client.invoke(FunctionName=f"same-{n}")["Payload"].read()) == 1 for n in range(3))


def test_concurrent_deletes_of_one_function_delete_it_once(serve: Callable[..., str],
                                                             make_client: Callable[..., Any],
                                                             stepfn_home: Path) -> None:
    url = serve()
    token = (stepfn_home / "server-token").read_text().strip()
    make_client("lambda", url).create_function(
        FunctionName="doomed", Runtime="python3.12", Role=ROLE, Handler="app.handler",
        Code={"ZipFile": package({"app.py": "def handler(event, context):\n    return 1\n",
                                  **{f"data/{n}.txt": "x" for n in range(300)}})})

    def delete(_: int) -> str:
        try:
            # No retries: a 500 retried would hide behind the ResourceNotFoundException of the retry.
            boto3.client("lambda", endpoint_url=url, region_name="us-east-1", aws_access_key_id=token,
                         aws_secret_access_key="x", config=Config(retries={"total_max_attempts": 1})
                         ).delete_function(FunctionName="doomed")
        except ClientError as error:
            return str(error.response["Error"]["Code"])
        return "deleted"

    with ThreadPoolExecutor(4) as pool:
        outcomes = list(pool.map(delete, range(4)))
    assert sorted(outcomes) == ["ResourceNotFoundException"] * 3 + ["deleted"]


# -- each invocation in an execution environment of its own ---------------------------------------------------------

ENVIRONMENT_HANDLER = '''import os
import sys

import helper


def handler(event, context):
    print("looking up", os.environ["ENDPOINT_NAME"])
    return {"endpoint": os.environ["ENDPOINT_NAME"], "helper": helper.NAME, "cwd": os.getcwd(),
            "path0": sys.path[0], "parent_only": os.environ.get("STEPFN_TEST_PARENT_ONLY"),
            "reserved": {key: os.environ.get(key) for key in (
                "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_VERSION", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
                "AWS_REGION", "AWS_DEFAULT_REGION", "LAMBDA_TASK_ROOT", "_HANDLER", "AWS_EXECUTION_ENV", "TZ",
                "AWS_LAMBDA_LOG_GROUP_NAME")},
            "context": {"function_name": context.function_name, "memory": context.memory_limit_in_mb,
                        "arn": context.invoked_function_arn, "request_id": context.aws_request_id,
                        "remaining": context.get_remaining_time_in_millis(), "group": context.log_group_name,
                        "stream": context.log_stream_name},
            "pid": os.getpid()}
'''


def create(client: Any, name: str, files: dict[str, str], **options: Any) -> None:
    client.create_function(FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="app.handler",
                           Code={"ZipFile": package(files)}, **options)


def test_a_lambda_step_reads_the_functions_environment_and_each_function_its_own_helper(
        serve: Callable[..., str], make_client: Callable[..., Any], stepfn_home: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The notebooks' functions read settings from ``os.environ``; two functions that each ship a ``helper.py`` get
    their own; nothing of the process that runs the execution reaches the function."""
    monkeypatch.setenv("STEPFN_TEST_PARENT_ONLY", "the runner's own")
    client = make_client("lambda", serve())
    for name, endpoint in (("first", "endpoint-a"), ("second", "endpoint-b")):
        create(client, name, {"app.py": ENVIRONMENT_HANDLER, "helper.py": f"NAME = {name!r}\n"}, Timeout=20,
               MemorySize=256, Environment={"Variables": {"ENDPOINT_NAME": endpoint}})
    steps = [LambdaStep(name, parameters={"FunctionName": name, "Payload": {}}, result_path=f"$.{name}")
             for name in ("first", "second", "first")]
    steps[2] = LambdaStep("first again", parameters={"FunctionName": "first", "Payload": {}}, result_path="$.again")
    workflow = Workflow("environments", Chain(steps), role=ROLE)
    workflow.create()
    execution = workflow.execute(inputs={})
    output = execution.get_output(wait=True)
    assert execution.describe()["status"] == "SUCCEEDED", execution.describe()
    first, second, again = (output[key]["Payload"] for key in ("first", "second", "again"))
    assert (first["endpoint"], first["helper"]) == ("endpoint-a", "first")
    assert (second["endpoint"], second["helper"]) == ("endpoint-b", "second")
    assert (again["endpoint"], again["helper"]) == ("endpoint-a", "first")
    code = str((stepfn_home / "lambda" / "functions" / "first" / "code").resolve())
    assert first["cwd"] == first["path0"] == code
    assert first["parent_only"] is None
    assert first["pid"] != os.getpid() and len({first["pid"], second["pid"], again["pid"]}) == 3
    assert first["reserved"] == {
        "AWS_LAMBDA_FUNCTION_NAME": "first", "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256", "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1",
        "LAMBDA_TASK_ROOT": code, "_HANDLER": "app.handler", "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
        "TZ": ":UTC", "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/first"}
    context = first["context"]
    assert (context["function_name"], context["memory"], context["group"]) == ("first", "256", "/aws/lambda/first")
    assert context["arn"] == "arn:aws:lambda:us-east-1:123456789012:function:first"
    assert 10_000 < context["remaining"] <= 20_000
    # The function's print is its log, in the stream its context names.
    log = stepfn_home / "lambda" / "logs" / "first" / f"{context['stream']}.log"
    text = log.read_text()
    assert text.startswith(f"START RequestId: {context['request_id']} Version: $LATEST\n")
    assert "looking up endpoint-a\n" in text and f"REPORT RequestId: {context['request_id']}\tDuration: " in text


def failed_lambda_step(workflow_name: str, state: str, parameters: dict[str, Any]) -> dict[str, Any]:
    """Run a one-LambdaStep workflow that is expected to fail; its execution, described."""
    workflow = Workflow(workflow_name, LambdaStep(state, parameters=parameters), role=ROLE)
    workflow.create()
    execution = workflow.execute(inputs={})
    with pytest.warns(ExecutionFailedWarning):
        execution.get_output(wait=True)
    described: dict[str, Any] = execution.describe()
    return described


def test_a_function_past_its_timeout_is_stopped_with_lambdas_error(
        serve: Callable[..., str], make_client: Callable[..., Any]) -> None:
    client = make_client("lambda", serve())
    create(client, "slow", {"app.py": "import time\n\n\ndef handler(event, context):\n    print('started')\n"
                                      "    time.sleep(60)\n    return 'late'\n"}, Timeout=1)
    started = time.monotonic()
    answer = client.invoke(FunctionName="slow", LogType="Tail")
    assert time.monotonic() - started < 20
    assert answer["FunctionError"] == "Unhandled"
    document = json.loads(answer["Payload"].read())
    request_id = answer["ResponseMetadata"]["RequestId"]
    assert document == {"errorType": "Sandbox.Timedout",
                        "errorMessage": f"RequestId: {request_id} Error: Task timed out after 1.00 seconds"}
    log = base64.b64decode(answer["LogResult"]).decode()
    assert "started\n" in log and f"Z {request_id} Task timed out after 1.00 seconds\n" in log
    assert log.rstrip().splitlines()[-1].startswith(f"REPORT RequestId: {request_id}")

    described = failed_lambda_step("times-out", "Slow", {"FunctionName": "slow", "Payload": {}})
    assert (described["status"], described["error"]) == ("FAILED", "Sandbox.Timedout"), described
    assert json.loads(described["cause"])["errorMessage"].endswith("Error: Task timed out after 1.00 seconds")


def test_a_handler_that_raises_gives_lambdas_error_document_and_its_log(
        serve: Callable[..., str], make_client: Callable[..., Any]) -> None:
    client = make_client("lambda", serve())
    create(client, "raises", {"app.py": "def handler(event, context):\n    print('about to fail')\n"
                                        "    raise ValueError('no model named ' + event['model'])\n"})
    answer = client.invoke(FunctionName="raises", Payload=json.dumps({"model": "m1"}), LogType="Tail")
    assert answer["FunctionError"] == "Unhandled"
    document = json.loads(answer["Payload"].read())
    assert (document["errorType"], document["errorMessage"]) == ("ValueError", "no model named m1")
    assert document["requestId"] == answer["ResponseMetadata"]["RequestId"]
    (frame,) = document["stackTrace"]  # the user's code only, not the bootstrap's
    assert 'app.py", line 3, in handler' in frame
    assert "about to fail" in base64.b64decode(answer["LogResult"]).decode()

    described = failed_lambda_step("raises", "Raise", {"FunctionName": "raises", "Payload": {"model": "m2"}})
    assert (described["status"], described["error"]) == ("FAILED", "ValueError"), described
    assert json.loads(described["cause"])["errorMessage"] == "no model named m2"

    for files, error_type in (({"other.py": "x = 1\n"}, "Runtime.ImportModuleError"),
                              ({"app.py": "def other(event, context):\n    return 1\n"}, "Runtime.HandlerNotFound"),
                              ({"app.py": "def handler(event, context):\n    raise SystemExit(3)\n"},
                               "Runtime.ExitError"),
                              ({"app.py": "def handler(event, context):\n    return 'x' * (7 << 20)\n"},
                               "Function.ResponseSizeTooLarge")):
        name = error_type.split(".")[1]
        create(client, name, files)
        failed = client.invoke(FunctionName=name)
        assert failed["FunctionError"] == "Unhandled"
        document = json.loads(failed["Payload"].read())
        assert document["errorType"] == error_type, name
        if error_type == "Runtime.ExitError":
            assert document["errorMessage"] == (f"RequestId: {failed['ResponseMetadata']['RequestId']} Error: "
                                                "Runtime exited with error: exit status 3")


def test_create_function_refuses_reserved_variables_and_runtimes_stepfn_cannot_run(
        serve: Callable[..., str], make_client: Callable[..., Any]) -> None:
    client = make_client("lambda", serve())
    files = {"app.py": "def handler(event, context):\n    return 1\n"}
    with pytest.raises(ClientError) as reserved:
        create(client, "reserved", files, Environment={"Variables": {"AWS_REGION": "eu-west-1", "MINE": "1"}})
    assert reserved.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert "Reserved keys used in this request: AWS_REGION" in str(reserved.value)
    with pytest.raises(ClientError) as runtime:
        client.create_function(FunctionName="node", Runtime="nodejs20.x", Role=ROLE, Handler="index.handler",
                               Code={"ZipFile": package({"index.js": "exports.handler = async () => 1;\n"})})
    assert runtime.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert client.list_functions()["Functions"] == []


def _pid_written(pid_file: Path) -> int:
    """The pid a function wrote (it has started), waiting as long as a loaded machine may need."""
    deadline = time.monotonic() + 60
    while not (pid_file.is_file() and pid_file.read_text()) and time.monotonic() < deadline:
        time.sleep(0.1)
    return int(pid_file.read_text())


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _gone(pid: int) -> bool:
    """Whether process ``pid`` ends within 60 s; one that does not is killed, so no failing test leaves it behind."""
    deadline = time.monotonic() + 60
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)
        return False
    return True


def test_stopping_the_execution_ends_the_functions_process(
        serve: Callable[..., str], make_client: Callable[..., Any], tmp_path: Path) -> None:
    client = make_client("lambda", serve())
    create(client, "sleeper", {"app.py": "import os, pathlib, time\n\n\ndef handler(event, context):\n"
                                         "    pathlib.Path(event['pid_file']).write_text(str(os.getpid()))\n"
                                         "    time.sleep(300)\n"}, Timeout=600)
    pid_file = tmp_path / "pid"
    workflow = Workflow("stopped", LambdaStep("Sleep", parameters={"FunctionName": "sleeper",
                                                                   "Payload": {"pid_file": str(pid_file)}}), role=ROLE)
    workflow.create()
    execution = workflow.execute(inputs={})
    pid = _pid_written(pid_file)
    execution.stop(error="Stopped", cause="by the test")

    assert _gone(pid)
    assert execution.describe()["status"] == "ABORTED"


RUN_ONE = '''import json, sys
from pathlib import Path
from stepfn.local.lambda_functions import created_function

created_function(Path(sys.argv[1]), "sleeper").invoke({"pid_file": sys.argv[2]})
'''


def test_a_functions_process_ends_when_the_process_running_it_dies(tmp_path: Path) -> None:
    """A control plane killed mid-invocation leaves no function running on unwatched (its Timeout unenforced)."""
    import subprocess
    import sys

    home = tmp_path / "home"
    lambda_functions.create_function(home, {
        "FunctionName": "sleeper", "Handler": "app.handler", "Timeout": 600,
        "Code": {"ZipFile": base64.b64encode(package({"app.py": "import os, pathlib, time\n\n\n"
                                                                "def handler(event, context):\n"
                                                                "    pathlib.Path(event['pid_file']).write_text("
                                                                "str(os.getpid()))\n    time.sleep(300)\n"})).decode()}},
        lambda bucket, key: b"")
    (tmp_path / "run_one.py").write_text(RUN_ONE)
    pid_file = tmp_path / "pid"
    runner = subprocess.Popen([sys.executable, str(tmp_path / "run_one.py"), str(home), str(pid_file)],
                              env={**os.environ, "STEPFN_IN_PROCESS": "1"})
    try:
        pid = _pid_written(pid_file)
    finally:
        runner.send_signal(signal.SIGKILL)
        runner.wait()

    assert _gone(pid)
