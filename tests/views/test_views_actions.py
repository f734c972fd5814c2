"""The Jobs and Endpoints pages' actions, clicked in Chromium on real work: Stop on a running script-mode
training job (StopTrainingJob through the API's local SageMaker) and Delete on a serving endpoint
(DeleteEndpoint); and the actions take JSON POSTs only."""

from __future__ import annotations

import json
import tarfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from views_support import ROLE, SHOTS

from stepfn.local.objectstore import ObjectStore
from stepfn.local.sagemaker.endpoints import list_endpoints, stop_endpoint
from stepfn.server._sagemaker import LocalSageMakerClient
from stepfn.workflow.local_client import LocalStepFunctionsClient

pytestmark = pytest.mark.browser

IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
SLEEPER = 'import time\nprint("started", flush=True)\ntime.sleep(120)\n'
INFERENCE = textwrap.dedent("""
    import json

    def model_fn(model_dir):
        return 2

    def predict_fn(data, model):
        return [model * x for x in data]
""")


def _until(check: Any, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


@pytest.fixture
def sagemaker(stepfn_home: Path, tmp_path: Path) -> Iterator[LocalSageMakerClient]:
    """A training job whose script sleeps (InProgress, Training) and an InService endpoint."""
    client = LocalSageMakerClient(stepfn_home)
    code = tmp_path / "code"
    code.mkdir()
    (code / "train.py").write_text(SLEEPER)
    client.create_training_job(
        TrainingJobName="sleepy", RoleArn=ROLE,
        AlgorithmSpecification={"TrainingImage": IMAGE, "TrainingInputMode": "File"},
        HyperParameters={"sagemaker_program": '"train.py"', "sagemaker_submit_directory": json.dumps(f"file://{code}")},
        OutputDataConfig={"S3OutputPath": "s3://bucket/out"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        StoppingCondition={"MaxRuntimeInSeconds": 300})

    model = tmp_path / "model"
    (model / "code").mkdir(parents=True)
    (model / "code" / "inference.py").write_text(INFERENCE)
    archive = tmp_path / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(model / "code", arcname="code")
    data = ObjectStore(stepfn_home / "s3").upload(archive, "s3://models/double/model.tar.gz")
    client.create_model(ModelName="double", ExecutionRoleArn=ROLE, PrimaryContainer={
        "Image": IMAGE, "ModelDataUrl": data, "Environment": {"SAGEMAKER_PROGRAM": "inference.py"}})
    client.create_endpoint_config(EndpointConfigName="double", ProductionVariants=[
        {"VariantName": "AllTraffic", "ModelName": "double", "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}])
    client.create_endpoint(EndpointName="double", EndpointConfigName="double")
    _until(lambda: client.describe_endpoint(EndpointName="double")["EndpointStatus"] == "InService", 90)
    _until(lambda: client.describe_training_job(TrainingJobName="sleepy")["SecondaryStatus"] == "Training")
    client.create_processing_job(
        ProcessingJobName="sleepy-processing", RoleArn=ROLE,
        ProcessingResources={"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 1}},
        AppSpecification={"ImageUri": IMAGE, "ContainerEntrypoint": ["python3", "-c", SLEEPER]},
        StoppingCondition={"MaxRuntimeInSeconds": 300})
    _until(lambda: client.describe_processing_job(ProcessingJobName="sleepy-processing")["ProcessingJobStatus"]
           == "InProgress")
    yield client
    for endpoint in list_endpoints(stepfn_home):
        stop_endpoint(endpoint["EndpointName"], stepfn_home)
    if client.describe_training_job(TrainingJobName="sleepy")["TrainingJobStatus"] == "InProgress":
        client.stop_training_job(TrainingJobName="sleepy")
    if client.describe_processing_job(ProcessingJobName="sleepy-processing")["ProcessingJobStatus"] == "InProgress":
        client.stop_processing_job(ProcessingJobName="sleepy-processing")


def test_stop_a_running_job_and_delete_an_endpoint(sagemaker: LocalSageMakerClient, stepfn_home: Path,
                                                   page: Any) -> None:
    from stepfn.server import TOKEN_HEADER, BackgroundServer, create_app, read_token

    client = LocalStepFunctionsClient(home=stepfn_home)
    with BackgroundServer(create_app(stepfn_home, ui=True, stepfunctions_client=client,
                                     sagemaker_client=sagemaker)) as server:
        token = read_token(stepfn_home)
        # Only JSON: a form's (or a no-cors fetch's) text/plain POST is refused before it reaches SageMaker.
        for content_type in ("text/plain", "application/x-www-form-urlencoded"):
            refused = httpx.post(f"{server.url}/ui/api/jobs/training-job/sleepy/stop", content="{}",
                                 headers={TOKEN_HEADER: token, "Content-Type": content_type})
            assert refused.status_code == 415
        unknown = httpx.post(f"{server.url}/ui/api/jobs/training-job/sleepy/delete", json={},
                             headers={TOKEN_HEADER: token})
        assert unknown.status_code == 404
        assert sagemaker.describe_training_job(TrainingJobName="sleepy")["TrainingJobStatus"] == "InProgress"

        page.goto(f"{server.url}/ui/?token={token}#/jobs")
        row = page.locator("#jobs tr[data-name='sleepy']")
        assert row.locator("td.status").inner_text() == "InProgress"
        row.locator("button.stop-job").click()
        page.wait_for_selector("#jobs tr[data-name='sleepy'] td.status.STOPPED", timeout=30_000)
        assert row.locator("button.stop-job").count() == 0
        assert sagemaker.describe_training_job(TrainingJobName="sleepy")["TrainingJobStatus"] == "Stopped"
        page.screenshot(path=str(SHOTS / "views-job-stopped.png"), full_page=True)

        # The job page's own Stop: a processing job (StopProcessingJob); its log stream ends with the status.
        page.goto(f"{server.url}/ui/?token={token}#/job/processing-job/sleepy-processing")
        page.wait_for_selector("#job-status.INPROGRESS")
        page.click("button.stop-job")
        page.wait_for_selector("#job-status.STOPPED", timeout=30_000)
        assert page.locator("button.stop-job").count() == 0
        described = sagemaker.describe_processing_job(ProcessingJobName="sleepy-processing")
        assert described["ProcessingJobStatus"] == "Stopped"

        page.goto(f"{server.url}/ui/?token={token}#/endpoints")
        page.wait_for_selector("#endpoints tr[data-name='double']")
        assert page.inner_text("#endpoints tr[data-name='double'] td.status") == "InService"
        page.once("dialog", lambda dialog: dialog.accept())
        page.click("#endpoints tr[data-name='double'] button.delete-endpoint")
        page.wait_for_selector("#endpoints tr[data-name='double']", state="detached")
        assert "No endpoints." in page.inner_text("#endpoints")
        assert list_endpoints(stepfn_home) == []
        page.screenshot(path=str(SHOTS / "views-endpoint-deleted.png"), full_page=True)
    client.close()
