"""Port of amazon-sagemaker-examples ``machine_learning_workflow_abalone.ipynb``.

Only the imports changed (``stepfunctions`` -> ``stepfn``, ``sagemaker`` -> ``stepfn.sagemaker``): ``sagemaker.Session()``
as written (a local session), the image from ``get_image_uri(region, 'xgboost')`` (sagemaker v2's deprecated alias,
the legacy ``xgboost:1`` algorithm image), the v1 names sagemaker v2 still took (``train_instance_count``,
``sagemaker.s3_input``) and the hyperparameters (``reg:linear``, the ``gamme`` typo).
The notebook's data helpers upload a libsvm file per channel with boto3's S3 resource directly; here a small
generated regression set goes to the local object store instead (the one stand-in left: a boto3 S3 call). Its S3 locations keep the notebook's ``https://s3-<region>.amazonaws.com/<bucket>`` form. The pipeline trains the built-in XGBoost, saves the model, runs a batch transform and deploys
an endpoint, then the test invokes that endpoint and stops it.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import stepfn.sagemaker as sagemaker
from stepfn import steps
from stepfn.inputs import ExecutionInput
from stepfn.local.objectstore import ObjectStore
from stepfn.local.sagemaker.endpoints import invoke_endpoint, list_endpoints, stop_endpoint
from stepfn.workflow import ExecutionStatus, Workflow

pytestmark = pytest.mark.slow

sagemaker_execution_role = "arn:aws:iam::111122223333:role/SageMakerRole"
workflow_execution_role = "arn:aws:iam::111122223333:role/StepFunctionsWorkflowExecutionRole"


def abalone_like_rows(count: int, seed: int) -> list[str]:
    """libsvm rows like the Abalone set: the age (label) grows with the eight measurements."""
    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        features = [rng.uniform(0.0, 1.0) for _ in range(8)]
        label = 3 + 20 * features[0] + 6 * features[3] + rng.uniform(-0.5, 0.5)
        rows.append(f"{label:.3f} " + " ".join(f"{i + 1}:{value:.4f}" for i, value in enumerate(features)))
    return rows


@pytest.fixture
def endpoints_stopped(stepfn_home: Path) -> Iterator[list[str]]:
    names: list[str] = []
    yield names
    for name in names:
        stop_endpoint(name)


def test_train_transform_deploy_abalone(endpoints_stopped: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    import boto3

    from stepfn.sagemaker.amazon.amazon_estimator import get_image_uri

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")  # the notebook instance's configured region
    session = sagemaker.Session()
    region = boto3.Session().region_name
    bucket = session.default_bucket()
    prefix = "sagemaker/DEMO-xgboost-regression"
    bucket_path = f"https://s3-{region}.amazonaws.com/{bucket}"  # S3's HTTPS form, which SageMaker accepts
    store = ObjectStore()
    # upload_to_s3(bucket, channel, filename) in the notebook: one object per channel, at prefix/channel.
    for channel, count, seed in (("train", 300, 1), ("validation", 60, 2), ("test", 40, 3)):
        store.put_bytes(f"s3://{bucket}/{prefix}/{channel}", "\n".join(abalone_like_rows(count, seed)).encode())
    train_s3_file = bucket_path + "/" + prefix + "/train"
    validation_s3_file = bucket_path + "/" + prefix + "/validation"
    test_s3_file = bucket_path + "/" + prefix + "/test"

    with pytest.warns(DeprecationWarning):
        xgb = sagemaker.estimator.Estimator(
            get_image_uri(region, 'xgboost'),
            sagemaker_execution_role,
            train_instance_count=1,
            train_instance_type="ml.m4.4xlarge",
            train_volume_size=5,
            output_path=bucket_path + "/" + prefix + "/single-xgboost",
            sagemaker_session=session,
        )
    xgb.set_hyperparameters(
        objective="reg:linear",
        num_round=50,
        max_depth=5,
        eta=0.2,
        gamme=4,  # sic: the notebook's typo, which XGBoost ignores
        min_child_weight=6,
        subsample=0.7,
        silent=0,
    )

    execution_input = ExecutionInput(schema={"JobName": str, "ModelName": str, "EndpointName": str})
    with pytest.warns(DeprecationWarning):
        training_step = steps.TrainingStep(
            "Train Step",
            estimator=xgb,
            data={
                "train": sagemaker.s3_input(train_s3_file, content_type="libsvm"),
                "validation": sagemaker.s3_input(validation_s3_file, content_type="libsvm"),
            },
            job_name=execution_input["JobName"],
        )
    model_step = steps.ModelStep(
        "Save model", model=training_step.get_expected_model(), model_name=execution_input["ModelName"]
    )
    transform_step = steps.TransformStep(
        "Transform Input Dataset",
        transformer=xgb.transformer(instance_count=1, instance_type="ml.m5.large"),
        job_name=execution_input["JobName"],
        model_name=execution_input["ModelName"],
        data=test_s3_file,
        content_type="text/libsvm",
    )
    endpoint_config_step = steps.EndpointConfigStep(
        "Create Endpoint Config",
        endpoint_config_name=execution_input["ModelName"],
        model_name=execution_input["ModelName"],
        initial_instance_count=1,
        instance_type="ml.m5.large",
    )
    endpoint_step = steps.EndpointStep(
        "Create Endpoint",
        endpoint_name=execution_input["EndpointName"],
        endpoint_config_name=execution_input["ModelName"],
    )
    workflow_definition = steps.Chain(
        [training_step, model_step, transform_step, endpoint_config_step, endpoint_step]
    )
    workflow = Workflow(
        name="MyTrainTransformDeploy_v1",
        definition=workflow_definition,
        role=workflow_execution_role,
        execution_input=execution_input,
    )
    graph = workflow.render_graph()
    assert "Train Step" in graph.data and "Create Endpoint" in graph.data
    workflow.create()

    names = {
        "JobName": f"regression-{uuid.uuid1().hex}",
        "ModelName": f"regression-{uuid.uuid1().hex}",
        "EndpointName": f"regression-{uuid.uuid1().hex}",
    }
    endpoints_stopped.append(names["EndpointName"])
    execution = workflow.execute(inputs=names)
    output = execution.get_output(wait=True)
    described = execution.describe()
    assert described["status"] == "SUCCEEDED", f"{described.get('error')}: {described.get('cause')}"
    assert output["EndpointArn"].endswith(f":endpoint/{names['EndpointName']}")

    progress = execution.render_progress()
    assert "Create Endpoint (Task): SUCCEEDED" in progress.data
    events = execution.list_events()
    assert events[0]["type"] == "ExecutionStarted" and events[-1]["type"] == "ExecutionSucceeded"
    assert [e["stateEnteredEventDetails"]["name"] for e in events if e["type"] == "TaskStateEntered"] == [
        "Train Step", "Save model", "Transform Input Dataset", "Create Endpoint Config", "Create Endpoint"]
    assert "ExecutionSucceeded" in execution.list_events(html=True).data
    executions = workflow.list_executions()
    assert [(e.execution_arn, e.status) for e in executions] == [(execution.execution_arn, ExecutionStatus.Succeeded)]
    assert "MyTrainTransformDeploy_v1" in Workflow.list_workflows(html=True).data

    # The batch transform wrote one prediction per test row next to the input, as SageMaker names it.
    predictions = store.get_bytes(f"s3://{bucket}/{names['JobName']}/test.out").decode().split()
    assert len(predictions) == 40
    # The endpoint serves the same model: close to the generating formula on fresh rows.
    rows = abalone_like_rows(20, seed=9)
    response = invoke_endpoint(
        EndpointName=names["EndpointName"], Body="\n".join(rows).encode(), ContentType="text/libsvm"
    )
    served = [float(value) for value in response["Body"].read().decode().replace(",", "\n").split()]
    truth = [float(row.split()[0]) for row in rows]
    mean_error = sum(abs(a - b) for a, b in zip(served, truth, strict=True)) / len(truth)
    assert mean_error < 3.0, (served, truth)

    assert stop_endpoint(names["EndpointName"]) is True
    status = {e["EndpointName"]: e["EndpointStatus"] for e in list_endpoints()}
    assert status[names["EndpointName"]] == "OutOfService"
