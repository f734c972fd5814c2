"""Port of amazon-sagemaker-examples ``automate_model_retraining_workflow.ipynb``.

The notebook's workflow as written: a Glue ETL step splits the churn CSV, the built-in XGBoost trains on it
(``train_instance_count`` / ``train_instance_type``, sagemaker v1 names that v2 still took), ModelStep saves the
model, a Lambda function reads the training job's final metrics, and a Choice on ``trainingMetrics[0].Value``
either deploys an endpoint or ends in a Fail state.

Local stand-ins, as a user without an AWS account would write them: the Glue job is a Python task handler given to
``LocalStepFunctionsClient(handlers=...)``. The notebook's Lambda function, ``code/query_training_status.py``
(from amazon-sagemaker-examples at commit 0153782ca1edd9d58caf533237abfba6f16cae26, Apache-2.0; not committed
here: ``port_sources.materialize`` copies it as written from a fetched checkout, ``$STEPFN_PORT_SOURCES``, see
``scripts/ported-suites.sh``; without it the test skips), is registered as a local Lambda function; its
``boto3.client('sagemaker')`` reads the training job from ``stepfn serve``, whose printed settings
(``AWS_ENDPOINT_URL``, the token as ``AWS_ACCESS_KEY_ID``) are exported as a user would. The churn CSV goes up
with ``S3Uploader.upload`` as in the notebook.
"""

from __future__ import annotations

import random
import runpy
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from port_sources import materialize, needs

import stepfn.sagemaker as sagemaker
from stepfn import steps
from stepfn.engine import TaskControl, TaskRequest
from stepfn.inputs import ExecutionInput
from stepfn.local.lambdas import register_function, unregister_function
from stepfn.local.objectstore import ObjectStore
from stepfn.local.sagemaker.endpoints import invoke_endpoint, stop_endpoint
from stepfn.local.sagemaker.training import TrainingJobs
from stepfn.sagemaker.inputs import TrainingInput
from stepfn.workflow import ExecutionFailedWarning, Workflow
from stepfn.workflow.local_client import LocalStepFunctionsClient

pytestmark = [pytest.mark.slow, needs("retraining")]

sagemaker_execution_role = "arn:aws:iam::111122223333:role/SageMakerRole"
workflow_execution_role = "arn:aws:iam::111122223333:role/StepFunctionsWorkflowExecutionRole"
bucket = "sagemaker-us-east-1-111122223333"
project_name = "ml_deploy"
function_name = "query-training-status"


def churn_csv(rows: int, noise: float) -> str:
    """Header + label-last rows: customers with many service calls and a high day charge churn."""
    rng = random.Random(7)
    lines = ["account_length,day_charge,service_calls,churn"]
    for _ in range(rows):
        length, charge, calls = rng.randint(1, 200), rng.uniform(5, 60), rng.randint(0, 9)
        churn = int(calls >= 4 and charge > 30)
        if rng.random() < noise:
            churn = 1 - churn
        lines.append(f"{length},{charge:.2f},{calls},{churn}")
    return "\n".join(lines) + "\n"


def glue_etl(request: TaskRequest, control: TaskControl) -> dict[str, Any]:
    """What code/glue_etl.py does: drop the header, put the label first, split 80/20 into the two prefixes."""
    arguments = request.parameters["Arguments"]
    store = ObjectStore()
    rows = store.get_bytes(arguments["--S3_SOURCE"]).decode().splitlines()[1:]
    labelled = [",".join([row.split(",")[-1], *row.split(",")[:-1]]) for row in rows]
    cut = int(len(labelled) * 0.8)
    destination = arguments["--S3_DEST"].replace("s3a://", "s3://")
    store.put_bytes(f"{destination}{arguments['--TRAIN_KEY']}train.csv", "\n".join(labelled[:cut]).encode())
    store.put_bytes(f"{destination}{arguments['--VAL_KEY']}validation.csv", "\n".join(labelled[cut:]).encode())
    return {"JobName": request.parameters["JobName"], "JobRunState": "SUCCEEDED", "Id": f"jr_{uuid.uuid4().hex}"}


@pytest.fixture
def query_training_status(stepfn_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The notebook's Lambda function as written, its boto3 SageMaker client on ``stepfn serve``."""
    from stepfn.server import read_token, start_background

    server = start_background(stepfn_home)
    # boto3's default session keeps the credentials it first resolved: a fresh one reads this server's token.
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    for key, value in {"AWS_ENDPOINT_URL": server.url, "AWS_ACCESS_KEY_ID": str(read_token(stepfn_home)),
                       "AWS_SECRET_ACCESS_KEY": "stepfn", "AWS_DEFAULT_REGION": "us-east-1",
                       "AWS_DISABLE_HOST_PREFIX_INJECTION": "true"}.items():
        monkeypatch.setenv(key, value)
    # Loaded after the settings: the module makes its boto3 client when imported, as Lambda does at cold start.
    sources = materialize("retraining", tmp_path / "sources")
    function = runpy.run_path(str(sources / "step-functions-data-science-sdk" / "automate_model_retraining_workflow"
                                  / "code" / "query_training_status.py"))
    register_function(function_name, function["lambda_handler"])
    yield
    unregister_function(function_name)
    server.stop()


def build_workflow(data_source: str, id: str) -> Workflow:
    train_prefix = "train"
    val_prefix = "validation"
    train_data = f"s3://{bucket}/{project_name}/{train_prefix}/"
    validation_data = f"s3://{bucket}/{project_name}/{val_prefix}/"
    region = "us-east-1"
    container = sagemaker.image_uris.retrieve("xgboost", region, "1.2-1")
    with pytest.warns(DeprecationWarning):
        xgb = sagemaker.estimator.Estimator(
            container,
            sagemaker_execution_role,
            train_instance_count=1,
            train_instance_type="ml.m4.xlarge",
            output_path=f"s3://{bucket}/{project_name}/output",
        )
    xgb.set_hyperparameters(max_depth=5, eta=0.2, gamma=4, min_child_weight=6, subsample=0.8,
                            objective="binary:logistic", eval_metric="error", num_round=100)

    execution_input = ExecutionInput(schema={
        "TrainingJobName": str, "GlueJobName": str, "ModelName": str, "EndpointName": str, "LambdaFunctionName": str,
    })
    etl_step = steps.GlueStartJobRunStep(
        "Extract, Transform, Load",
        parameters={
            "JobName": execution_input["GlueJobName"],
            "Arguments": {
                "--S3_SOURCE": data_source,
                "--S3_DEST": f"s3a://{bucket}/{project_name}/",
                "--TRAIN_KEY": train_prefix + "/",
                "--VAL_KEY": val_prefix + "/",
            },
        },
    )
    training_step = steps.TrainingStep(
        "Model Training",
        estimator=xgb,
        data={
            "train": TrainingInput(train_data, content_type="text/csv"),
            "validation": TrainingInput(validation_data, content_type="text/csv"),
        },
        job_name=execution_input["TrainingJobName"],
        wait_for_completion=True,
    )
    model_step = steps.ModelStep(
        "Save Model",
        model=training_step.get_expected_model(),
        model_name=execution_input["ModelName"],
        result_path="$.ModelStepResults",
    )
    lambda_step = steps.compute.LambdaStep(
        "Query Training Results",
        parameters={
            "FunctionName": execution_input["LambdaFunctionName"],
            "Payload": {"TrainingJobName.$": "$.TrainingJobName"},
        },
    )
    check_accuracy_step = steps.states.Choice("Accuracy > 90%")
    endpoint_config_step = steps.EndpointConfigStep(
        "Create Model Endpoint Config",
        endpoint_config_name=execution_input["ModelName"],
        model_name=execution_input["ModelName"],
        initial_instance_count=1,
        instance_type="ml.m4.xlarge",
    )
    endpoint_step = steps.EndpointStep(
        "Update Model Endpoint",
        endpoint_name=execution_input["EndpointName"],
        endpoint_config_name=execution_input["ModelName"],
        update=False,
    )
    fail_step = steps.states.Fail("Model Accuracy Too Low", comment="Validation accuracy lower than threshold")
    threshold_rule = steps.choice_rule.ChoiceRule.NumericLessThan(
        variable=lambda_step.output()["Payload"]["trainingMetrics"][0]["Value"], value=0.1
    )
    check_accuracy_step.add_choice(rule=threshold_rule, next_step=endpoint_config_step)
    check_accuracy_step.default_choice(next_step=fail_step)
    endpoint_config_step.next(endpoint_step)
    workflow_definition = steps.Chain([etl_step, training_step, model_step, lambda_step, check_accuracy_step])

    glue = {"glue:startJobRun": glue_etl}
    return Workflow(
        name=f"MyInferenceRoutine_{id}",
        definition=workflow_definition,
        role=workflow_execution_role,
        execution_input=execution_input,
        client=LocalStepFunctionsClient(handlers=glue),
    )


def run(workflow: Workflow, id: str, endpoint: str) -> Any:
    execution = workflow.execute(inputs={
        "TrainingJobName": f"regression-{id}",
        "GlueJobName": "glue-customer-churn-etl",
        "ModelName": f"CustomerChurn-{id}",
        "EndpointName": endpoint,
        "LambdaFunctionName": function_name,
    })
    execution.get_output(wait=True)
    return execution


def test_retraining_deploys_a_good_model_and_stops_at_a_bad_one(query_training_status: None, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from stepfn.sagemaker.s3 import S3Uploader

    monkeypatch.chdir(tmp_path)
    Path("data").mkdir()
    Path("data/customer-churn.csv").write_text(churn_csv(500, noise=0.0))
    session = sagemaker.Session(default_bucket=bucket)
    good, noisy = uuid.uuid4().hex[:8], uuid.uuid4().hex[:8]
    endpoint = f"CustomerChurn-{good}"
    data_source = S3Uploader.upload(
        local_path="./data/customer-churn.csv",
        desired_s3_uri=f"s3://{bucket}/{project_name}",
        sagemaker_session=session,
    )
    assert data_source == f"s3://{bucket}/{project_name}/customer-churn.csv"
    workflow = build_workflow(data_source, good)
    assert "Accuracy &gt; 90%" in workflow.render_graph().data or "Accuracy > 90%" in workflow.render_graph().data
    workflow.create()
    try:
        execution = run(workflow, good, endpoint)
        described = execution.describe()
        assert described["status"] == "SUCCEEDED", f"{described.get('error')}: {described.get('cause')}"
        entered = [e["stateEnteredEventDetails"]["name"] for e in execution.list_events() if e["type"].endswith("StateEntered")]
        assert entered[-3:] == ["Accuracy > 90%", "Create Model Endpoint Config", "Update Model Endpoint"]
        rows = "1,10.0,0\n1,55.0,8\n"  # a loyal customer, then a likely churner (label column left out)
        scores = [float(v) for v in invoke_endpoint(EndpointName=endpoint, Body=rows, ContentType="text/csv")
                  ["Body"].read().decode().split(",")]
        assert scores[0] < 0.5 < scores[1]
    finally:
        stop_endpoint(endpoint)

    # Retrain on data whose labels are a third noise: the metric misses the bar and nothing is deployed.
    Path("data/customer-churn.csv").write_text(churn_csv(500, noise=0.35))
    S3Uploader.upload(local_path="./data/customer-churn.csv", desired_s3_uri=f"s3://{bucket}/{project_name}",
                      sagemaker_session=session)
    with pytest.warns(ExecutionFailedWarning, match="FAILED at state 'Model Accuracy Too Low'"):
        execution = run(workflow, noisy, f"CustomerChurn-{noisy}")
    described = execution.describe()
    assert described["status"] == "FAILED"
    entered = [e["stateEnteredEventDetails"]["name"] for e in execution.list_events() if e["type"].endswith("StateEntered")]
    assert entered[-2:] == ["Accuracy > 90%", "Model Accuracy Too Low"]
    assert "Model Accuracy Too Low (Fail): FAILED" in execution.render_progress().data
    metrics = TrainingJobs().describe(f"regression-{noisy}")["FinalMetricDataList"]
    assert metrics[0]["Value"] >= 0.1
    assert [e.status for e in workflow.list_executions()] == ["FAILED", "SUCCEEDED"]
