"""The Session's boto3 clients as sagemaker v2 notebooks use them, on the local backend and on AWS.

``sagemaker_session.sagemaker_client``, ``sagemaker_runtime_client``, ``s3_client``, ``s3_resource`` and
``boto_session`` on a local session are real boto3 objects answered by the local backends in the same process
(stepfn.server._inprocess); the wire side (tokens, the guard) is tested in tests/server/test_server_in_process.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError, WaiterError
from sagemaker_support import SKLEARN_SCRIPT

from stepfn.local.objectstore import ObjectStore
from stepfn.sagemaker import Session, SKLearn
from stepfn.sagemaker._runtime import LocalRuntime
from stepfn.sagemaker.deserializers import CSVDeserializer
from stepfn.sagemaker.local import LocalSession
from stepfn.sagemaker.predictor import Predictor
from stepfn.sagemaker.serializers import CSVSerializer
from stepfn.sagemaker.session import aws_boto_session, invocation_client

ROLE = "arn:aws:iam::111122223333:role/SageMakerRole"
# A notebook's cells as sagemaker v2 users write them, with `sagemaker` imports changed to `stepfn.sagemaker`.
NOTEBOOK = """\
import json

import botocore.exceptions

from stepfn.sagemaker import Session, SKLearn, get_execution_role
from stepfn.sagemaker.s3 import S3Downloader

sagemaker_session = Session()
bucket = sagemaker_session.default_bucket()
role = get_execution_role()
seen = {"region": sagemaker_session.boto_region_name, "boto_region": sagemaker_session.boto_session.region_name}

# Data in through the session's own boto3 S3, as notebooks upload it.
s3 = sagemaker_session.boto_session.client("s3")
rows = "".join(f"{2 * a + 3 * b},{a},{b}\\n" for a in range(5) for b in range(5))
s3.put_object(Bucket=bucket, Key="nb/train/train.csv", Body=rows.encode())
with open("notes.txt", "w") as notes:
    notes.write("uploaded by the resource")
sagemaker_session.boto_session.resource("s3").Bucket(bucket).upload_file("notes.txt", "nb/notes/notes.txt")
seen["listed"] = [item["Key"] for item in s3.list_objects_v2(Bucket=bucket, Prefix="nb/")["Contents"]]
seen["downloader"] = S3Downloader.read_file(f"s3://{bucket}/nb/notes/notes.txt")
seen["downloader_list"] = S3Downloader.list(f"s3://{bucket}/nb/")

estimator = SKLearn(entry_point="train.py", framework_version="1.2-1", role=role, instance_type="ml.m5.large",
                    instance_count=1, sagemaker_session=sagemaker_session)
estimator.fit({"train": f"s3://{bucket}/nb/train"}, job_name="nb-train-1")

sm = sagemaker_session.sagemaker_client
sm.get_waiter("training_job_completed_or_stopped").wait(TrainingJobName="nb-train-1")
described = sm.describe_training_job(TrainingJobName="nb-train-1")
seen["status"] = described["TrainingJobStatus"]
seen["artifacts"] = described["ModelArtifacts"]["S3ModelArtifacts"]
seen["listed_jobs"] = [job["TrainingJobName"] for job in sm.list_training_jobs()["TrainingJobSummaries"]]
artifact_bucket, _, artifact_key = seen["artifacts"][len("s3://"):].partition("/")
seen["artifact_size"] = sagemaker_session.s3_client.head_object(Bucket=artifact_bucket,
                                                                Key=artifact_key)["ContentLength"]
try:
    sm.describe_training_job(TrainingJobName="no-such-job")
except botocore.exceptions.ClientError as error:
    seen["missing"] = [error.response["Error"]["Code"], error.response["Error"]["Message"]]

estimator.deploy(initial_instance_count=1, instance_type="ml.m5.large", endpoint_name="nb-endpoint")
seen["endpoint"] = sm.describe_endpoint(EndpointName="nb-endpoint")["EndpointStatus"]
response = sagemaker_session.sagemaker_runtime_client.invoke_endpoint(
    EndpointName="nb-endpoint", ContentType="text/csv", Accept="text/csv", Body="1,2")
seen["prediction"] = response["Body"].read().decode()
sagemaker_session.delete_endpoint("nb-endpoint")
print(json.dumps(seen))
"""


def test_a_notebook_uses_the_sessions_boto3_clients_on_a_fresh_machine(tmp_path: Path,
                                                                       user_env: dict[str, str]) -> None:
    # The user's side: their own folder, the default home (./.stepfn), no AWS configuration, region or credentials.
    project = tmp_path / "project"
    project.mkdir()
    (project / "train.py").write_text(SKLEARN_SCRIPT)
    (project / "notebook.py").write_text(NOTEBOOK)
    result = subprocess.run([sys.executable, "notebook.py"], cwd=project, env=user_env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    seen = json.loads(result.stdout.strip().splitlines()[-1])

    bucket = "sagemaker-us-east-1-123456789012"
    assert seen["region"] == seen["boto_region"] == "us-east-1"
    assert seen["listed"] == ["nb/notes/notes.txt", "nb/train/train.csv"]
    assert seen["downloader"] == "uploaded by the resource"
    assert seen["downloader_list"] == [f"s3://{bucket}/nb/notes/notes.txt", f"s3://{bucket}/nb/train/train.csv"]
    assert seen["status"] == "Completed" and seen["listed_jobs"] == ["nb-train-1"]
    assert seen["artifacts"].startswith(f"s3://{bucket}/") and seen["artifact_size"] > 0
    assert seen["missing"] == ["ValidationException", "Requested resource not found."]
    assert seen["endpoint"] == "InService"
    assert float(seen["prediction"].strip()) == pytest.approx(8.0)  # y = 2*1 + 3*2
    # Everything lives in the default home beside the notebook; nothing needed a server token.
    home = project / ".stepfn"
    assert (home / "s3" / bucket / "nb" / "notes" / "notes.txt").read_text() == "uploaded by the resource"
    assert not (home / "server-token").exists()


def _fit(tmp_path: Path, job_name: str, *, wait: bool = True, session: Session | None = None) -> SKLearn:
    (tmp_path / "train.py").write_text(SKLEARN_SCRIPT)
    session = session or Session()
    rows = "".join(f"{2 * a + 3 * b},{a},{b}\n" for a in range(5) for b in range(5))
    train = session.upload_string_as_file_body(rows, session.default_bucket(), "clients/train/train.csv")
    estimator = SKLearn(entry_point=str(tmp_path / "train.py"), framework_version="1.2-1", role=ROLE,
                        instance_type="ml.m5.large", instance_count=1, sagemaker_session=session)
    estimator.fit({"train": train.rsplit("/", 1)[0]}, job_name=job_name, wait=wait)
    return estimator


def test_paginators_and_waiters_are_botocores_over_local_jobs(tmp_path: Path) -> None:
    _fit(tmp_path, "first")
    _fit(tmp_path, "second", wait=False)
    sm = Session().sagemaker_client
    start = time.monotonic()
    # SageMaker's waiter polls every 120 s; a local one every second, with the same overall limit.
    sm.get_waiter("training_job_completed_or_stopped").wait(TrainingJobName="second")
    assert time.monotonic() - start < 60
    assert sm.describe_training_job(TrainingJobName="second")["TrainingJobStatus"] == "Completed"
    waiter_config = sm.get_waiter("training_job_completed_or_stopped").config
    assert (waiter_config.delay, waiter_config.max_attempts) == (1, 120 * 180)

    pages = list(sm.get_paginator("list_training_jobs").paginate(PaginationConfig={"PageSize": 1}))
    assert [[job["TrainingJobName"] for job in page["TrainingJobSummaries"]] for page in pages] == \
        [["first"], ["second"]]
    # A missing job is the waiter's failure state, as SageMaker's ValidationException makes it.
    with pytest.raises(WaiterError, match="ValidationException"):
        sm.get_waiter("training_job_completed_or_stopped").wait(TrainingJobName="missing")
    with pytest.raises(sm.exceptions.ClientError) as raised:
        sm.describe_training_job(TrainingJobName="missing")
    assert raised.value.response["Error"] == {"Code": "ValidationException", "Message": "Requested resource not found."}
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_stepfns_own_calls_use_the_local_backends_directly(tmp_path: Path) -> None:
    # fit(), deploy() and predict() on a local session never go through its boto3 session: no botocore round trip
    # on a Predictor's hot path, and nothing of the session's own API answers itself through the in-process app.
    session = Session()
    estimator = _fit(tmp_path, "direct", session=session)
    predictor = estimator.deploy(1, "ml.m5.large", endpoint_name="direct", serializer=CSVSerializer(),
                                 deserializer=CSVDeserializer())
    assert float(predictor.predict([1, 2])[0][0]) == pytest.approx(8.0)
    assert isinstance(invocation_client(session), LocalRuntime)
    assert session._local_session is None

    # The runtime client is botocore's, and answers from the same endpoint.
    runtime = session.sagemaker_runtime_client
    assert type(runtime).__module__ == "botocore.client" and runtime.meta.service_model.service_name == \
        "sagemaker-runtime"
    response = runtime.invoke_endpoint(EndpointName="direct", ContentType="text/csv", Accept="text/csv", Body="2,1")
    assert float(response["Body"].read()) == pytest.approx(7.0)
    assert response["ContentType"].startswith("text/csv")
    # A runtime client the user assigns is the one predictors use, as sagemaker v2's attribute.
    calls = []

    class Recording:
        def invoke_endpoint(self, **request: object) -> dict[str, object]:
            calls.append(request["EndpointName"])
            return runtime.invoke_endpoint(**request)

    session.sagemaker_runtime_client = Recording()
    assert float(Predictor("direct", session, CSVSerializer(), CSVDeserializer()).predict([0, 1])[0][0]) == \
        pytest.approx(3.0)
    assert calls == ["direct"]
    predictor.delete_endpoint()
    with pytest.raises(ClientError, match="Could not find endpoint"):
        session.sagemaker_client.describe_endpoint(EndpointName="direct")


def test_stepfunctions_and_sts_clients_reach_the_local_engine() -> None:
    boto_session = Session().boto_session
    sfn = boto_session.client("stepfunctions")
    definition = json.dumps({"StartAt": "Hi", "States": {"Hi": {"Type": "Pass", "Result": 7, "End": True}}})
    account = boto_session.client("sts").get_caller_identity()["Account"]
    arn = sfn.create_state_machine(name="through-boto3", definition=definition,
                                   roleArn=f"arn:aws:iam::{account}:role/Runner")["stateMachineArn"]
    run = sfn.start_execution(stateMachineArn=arn, input="{}")["executionArn"]
    deadline = time.monotonic() + 60
    while (described := sfn.describe_execution(executionArn=run))["status"] == "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert (described["status"], described["output"]) == ("SUCCEEDED", "7")
    # botocore sends StartSyncExecution to sync-<host>; in-process there is no host to get wrong.
    express = sfn.create_state_machine(name="express", definition=definition, type="EXPRESS",
                                       roleArn=f"arn:aws:iam::{account}:role/Runner")["stateMachineArn"]
    synced = sfn.start_sync_execution(stateMachineArn=express, input="{}")
    assert (synced["status"], synced["output"]) == ("SUCCEEDED", "7")
    assert account == "123456789012"
    from stepfn.workflow import Workflow

    assert sorted(workflow["name"] for workflow in Workflow.list_workflows()) == ["express", "through-boto3"]


def test_a_local_session_reads_no_aws_configuration(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A user set up for AWS: credentials, a profile that addresses S3 by host, an endpoint with nothing behind it.
    config = tmp_path / "config"
    config.write_text("[default]\nregion = eu-west-3\ns3 =\n    addressing_style = virtual\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAREALUSERKEY00000")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "real-secret")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    session = Session()
    assert session.boto_region_name == "eu-west-3"  # the configured region still names things
    credentials = session.boto_session.get_credentials()
    assert (credentials.access_key, credentials.secret_key) == ("stepfn-local", "stepfn-local")
    session.s3_resource.Bucket("data").put_object(Key="k.txt", Body=b"local")
    assert ObjectStore().get_bytes("s3://data/k.txt") == b"local"
    assert session.s3_client.get_object(Bucket="data", Key="k.txt")["Body"].read() == b"local"
    assert session.account_id() == "123456789012"


def test_local_session_names_the_region_of_the_boto_session_it_was_given() -> None:
    given = boto3.Session(region_name="eu-west-1")
    session = LocalSession(boto_session=given)
    assert session.boto_session is not given and session.boto_session.region_name == "eu-west-1"
    assert session.sagemaker_client.list_endpoints()["Endpoints"] == []


def test_a_session_built_on_boto3_means_aws() -> None:
    moto = pytest.importorskip("moto")
    with moto.mock_aws():
        given = boto3.Session(region_name="eu-west-1")
        session = Session(boto_session=given)
        assert session.boto_session is given
        assert session.sagemaker_client.meta.region_name == "eu-west-1"
        assert session.sagemaker_client.meta.endpoint_url == "https://api.sagemaker.eu-west-1.amazonaws.com"
        assert session.sagemaker_runtime_client.meta.endpoint_url.endswith("sagemaker.eu-west-1.amazonaws.com")
        session.s3_client.create_bucket(Bucket="real", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        session.s3_resource.Bucket("real").put_object(Key="k", Body=b"aws")
        assert boto3.client("s3", region_name="eu-west-1").get_object(Bucket="real", Key="k")["Body"].read() == b"aws"
        assert session.account_id() == "123456789012"  # moto's account, from STS
        with pytest.raises(ClientError):
            session.sagemaker_client.describe_training_job(TrainingJobName="missing")
    assert not ObjectStore().exists("s3://real/k")


def test_session_takes_sagemaker_v2s_arguments_in_v2s_order() -> None:
    aws = boto3.Session(region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="y")
    session = Session(aws)  # sagemaker.Session(boto3.Session()), positional, as notebooks write it
    assert aws_boto_session(session) is aws and session.boto_region_name == "eu-west-1"
    runtime = object()
    given = Session(sagemaker_runtime_client=runtime, default_bucket="my-bucket", region_name="us-west-2")
    assert given.sagemaker_runtime_client is runtime and given.default_bucket() == "my-bucket"
    assert aws_boto_session(given) is None and given.boto_region_name == "us-west-2"
    with pytest.raises(TypeError, match=r"Session\(region_name=\.\.\.\)"):
        Session("us-east-1")  # type: ignore[arg-type]
    with pytest.raises(NotImplementedError, match="default_bucket_prefix"):
        Session(default_bucket_prefix="team-a")
