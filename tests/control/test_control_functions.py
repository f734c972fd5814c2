"""Functions registered in a user's process run in that process while it lives (issue 15 item 1)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(180)

SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    from stepfn.local.lambdas import register_function
    from stepfn.steps import Chain, LambdaStep, Wait
    from stepfn.workflow import Workflow

    @register_function("double")
    def double(event, context):
        if event.get("n") == 0:
            raise ValueError("zero is not allowed")
        return {"n": event["n"] * 2, "pid": os.getpid(), "function": context.function_name}

    states = [LambdaStep("Double", parameters={"FunctionName": "double", "Payload.$": "$"})]
    if sys.argv[2] == "late":  # long enough for this process to exit first, however slowly a loaded machine lets it
        states.insert(0, Wait("Later", seconds=10))
    workflow = Workflow("functions", Chain(states), role="arn:aws:iam::123456789012:role/x")
    workflow.create_or_update()
    execution = workflow.execute(inputs={"n": int(sys.argv[1])})
    if sys.argv[2] == "wait":
        output = execution.get_output(wait=True)
        print(json.dumps({"pid": os.getpid(), "output": output, "described": execution.describe()["status"],
                          "error": execution.describe().get("error"), "cause": execution.describe().get("cause")}))
    else:
        print(json.dumps({"arn": execution.execution_arn}))
    """
)


def run_script(folder: Path, n: int, mode: str) -> dict[str, object]:
    (folder / "functions_script.py").write_text(SCRIPT)
    done = subprocess.run([sys.executable, "functions_script.py", str(n), mode], cwd=folder, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout.splitlines()[-1]))


def test_the_registering_process_serves_its_functions(user_home: Path, tmp_path: Path) -> None:
    answer = run_script(tmp_path, 21, "wait")
    output = answer["output"]
    assert isinstance(output, dict)
    # Ran in the script's own process (not the control plane's), with Lambda's context.
    assert output["Payload"] == {"n": 42, "pid": answer["pid"], "function": "double"}
    failed = run_script(tmp_path, 0, "wait")
    assert failed["described"] == "FAILED"
    assert failed["error"] == "ValueError", failed  # the function's own exception, as Lambda names it
    assert "zero is not allowed" in str(failed["cause"])


def test_a_function_whose_process_exited_fails_the_task_saying_why(user_home: Path, tmp_path: Path) -> None:
    from control_support import wait_until

    from stepfn.workflow.local_client import LocalStepFunctionsClient

    arn = str(run_script(tmp_path, 1, "late")["arn"])  # the script exits while the Wait state runs
    reader = LocalStepFunctionsClient(user_home, resume=False)
    wait_until(lambda: reader.describe_execution(executionArn=arn)["status"] != "RUNNING", 60, "the end")
    described = reader.describe_execution(executionArn=arn)
    assert described["status"] == "FAILED"
    assert described["error"] == "Lambda.ResourceNotFoundException"
    assert "register_function" in described["cause"] and "has exited" in described["cause"]


# A function as the safe deployment pipeline's custom_resource/ writes them: a module-level boto3 client.
CLIENT_AT_IMPORT = '''import os
import boto3

s3 = boto3.client("s3")


def lambda_handler(event, context):
    s3.put_object(Bucket="results", Key=event["key"], Body=b"written by the function")
    return {"region": os.environ["AWS_REGION"], "keys": [o["Key"] for o in s3.list_objects_v2(Bucket="results")["Contents"]]}
'''


def test_a_created_function_reaches_the_homes_services_whoever_started_the_service(
        user_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``stepfn serve`` started in a fresh shell starts the control plane with no region and no endpoint: a created
    function's boto3 clients still get Lambda's region and this home's services (not AWS)."""
    import base64
    import io
    import zipfile

    from stepfn.local.lambda_functions import create_function
    from stepfn.local.objectstore import ObjectStore
    from stepfn.steps import LambdaStep
    from stepfn.workflow import Workflow

    for name in ("AWS_DEFAULT_REGION", "AWS_REGION", "AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                 "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    store = ObjectStore(user_home / "s3")
    store.put_bytes("s3://results/earlier", b"there before")
    package = io.BytesIO()
    with zipfile.ZipFile(package, "w") as archive:
        archive.writestr("writer.py", CLIENT_AT_IMPORT)
    create_function(user_home, {"FunctionName": "writer", "Handler": "writer.lambda_handler",
                                "Code": {"ZipFile": base64.b64encode(package.getvalue()).decode()}},
                    read_object=lambda bucket, key: b"")
    workflow = Workflow("writes", LambdaStep("Write", parameters={"FunctionName": "writer", "Payload": {"key": "new"}}),
                        role="arn:aws:iam::123456789012:role/x")
    workflow.create_or_update()
    execution = workflow.execute()
    output = execution.get_output(wait=True)
    assert execution.describe()["status"] == "SUCCEEDED", execution.describe()
    assert output["Payload"] == {"region": "us-east-1", "keys": ["earlier", "new"]}
    assert store.get_bytes("s3://results/new") == b"written by the function"
