"""Port of aws-samples/amazon-sagemaker-safe-deployment-pipeline ``notebook/workflow.ipynb``.

The notebook (at commit 2b5cc0d, the last whose cells read the stack's Lambda names from the environment and attach
to the workflow the stack created) is not committed here: ``port-sources.toml``'s ``safe_deployment_notebook``
takes it from a fetched checkout (``$STEPFN_PORT_SOURCES``, see ``scripts/ported-suites.sh``); without it the test
skips. Its code cells run in this process, in order, in one namespace (``notebook_cells.py``), with these changes
only:

* imports: ``sagemaker`` -> ``stepfn.sagemaker``, ``stepfunctions`` -> ``stepfn``;
* cell 1 (``pip install`` of the SDKs) is not run; ``%store -r input_data`` (the line that restores what the
  companion mlops notebook stored) is dropped and ``input_data`` is in the namespace: the dict that notebook
  stores, over small synthetic trip-duration data uploaded with ``Session.upload_data``;
* the role and bucket: ``get_execution_role()`` and ``Session().default_bucket()`` are stepfn's local ones;
* what the notebook reads from its surroundings: the environment variables the CloudFormation stack set
  (pipeline, model name, workflow ARN, Lambda names) are set by the test; the workflow the stack created (which
  the notebook attaches to) is created empty first; the two Lambda functions the stack deployed,
  ``custom_resource/sagemaker_create_experiment.py`` and ``sagemaker_query_training.py`` (at commits 6e7668403ea8
  and a6797e4f16ea, MIT-0, also fetched), are registered as local functions; their ``boto3.client("sagemaker")``
  calls (CreateExperiment, CreateTrial, DescribeTrainingJob) go to ``stepfn serve``, whose printed settings
  (``AWS_ENDPOINT_URL``, the token as ``AWS_ACCESS_KEY_ID``) are exported as a user would.

The workflow: a Lambda creates the experiment, then in parallel the Model Monitor analyzer image computes a
baseline (ProcessingStep) while the built-in XGBoost (``retrieve(framework="xgboost", version="latest")``, the
notebook's ``num_round`` of 3) trains, a model is saved, a Lambda queries the training metrics and a Choice checks
RMSE < 10. After the notebook, the test waits for the execution and checks the baseline's constraints and
statistics, the training metric and the experiment's trial.
"""

from __future__ import annotations

import json
import os
import random
import runpy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from notebook_cells import code_cells, run_cell
from port_sources import materialize, needs

from stepfn.local.lambdas import register_function, unregister_function
from stepfn.local.objectstore import ObjectStore

pytestmark = [pytest.mark.slow, needs("safe_deployment_create_experiment", "safe_deployment_query_training",
                                        "safe_deployment_notebook")]


def trip_rows(rows: int, seed: int) -> list[list[float]]:
    """Label first (trip minutes), then distance, hour, passengers: a small stand-in for the NYC taxi data."""
    rng = random.Random(seed)
    out = []
    for _ in range(rows):
        distance, hour, passengers = rng.uniform(0.5, 12), rng.randint(0, 23), rng.randint(1, 4)
        duration = 3 + 2.5 * distance + (4 if 7 <= hour <= 9 or 16 <= hour <= 18 else 0) + rng.gauss(0, 1)
        out.append([round(duration, 2), round(distance, 2), hour, passengers])
    return out


@pytest.fixture
def stack(tmp_path: Path, stepfn_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """What the CloudFormation stack and the mlops notebook leave behind for this notebook."""
    import stepfn.sagemaker as sagemaker
    from stepfn.steps import Chain, Pass
    from stepfn.workflow import Workflow

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    session = sagemaker.session.Session()
    train, validation, baseline = trip_rows(300, 1), trip_rows(80, 2), trip_rows(200, 3)
    for name, rows in (("train.csv", train), ("validation.csv", validation)):
        (tmp_path / name).write_text("\n".join(",".join(map(str, row)) for row in rows) + "\n")
    (tmp_path / "baseline.csv").write_text(
        "duration,distance,hour,passengers\n" + "\n".join(",".join(map(str, row)) for row in baseline) + "\n")
    input_data = {
        "TrainingUri": session.upload_data(str(tmp_path / "train.csv"), key_prefix="nyctaxi/input/training"),
        "ValidationUri": session.upload_data(str(tmp_path / "validation.csv"), key_prefix="nyctaxi/input/validation"),
        "BaselineUri": session.upload_data(str(tmp_path / "baseline.csv"), key_prefix="nyctaxi/input/baseline"),
    }
    placeholder = Workflow("nyctaxi-workflow", Chain([Pass("Placeholder")]),
                           role=sagemaker.get_execution_role())
    placeholder.create()

    # The stack's two Lambda functions, as written; their boto3 SageMaker clients (made when the module loads, as
    # at a Lambda cold start) reach stepfn serve through the settings it prints.
    from stepfn.server import read_token, start_background

    server = start_background(stepfn_home)
    # boto3's default session keeps the credentials it first resolved: a fresh one reads this server's token.
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    for key, value in {"AWS_ENDPOINT_URL": server.url, "AWS_ACCESS_KEY_ID": str(read_token(stepfn_home)),
                       "AWS_SECRET_ACCESS_KEY": "stepfn", "AWS_DISABLE_HOST_PREFIX_INJECTION": "true"}.items():
        monkeypatch.setenv(key, value)
    materialize("safe_deployment_create_experiment", tmp_path / "sources")
    custom_resource = materialize("safe_deployment_query_training", tmp_path / "sources") / "custom_resource"
    create_experiment = runpy.run_path(str(custom_resource / "sagemaker_create_experiment.py"))["lambda_handler"]
    query_training = runpy.run_path(str(custom_resource / "sagemaker_query_training.py"))["lambda_handler"]

    register_function("mlops-create-experiment", create_experiment)
    register_function("mlops-query-training", query_training)
    for key, value in {"PIPELINE_NAME": "nyctaxi", "MODEL_NAME": "nyctaxi",
                       "WORKFLOW_PIPELINE_ARN": placeholder.state_machine_arn,
                       "CREATE_EXPERIMENT_LAMBDA": "mlops-create-experiment",
                       "QUERY_TRAINING_LAMBDA": "mlops-query-training"}.items():
        monkeypatch.setenv(key, value)
    yield input_data
    unregister_function("mlops-create-experiment")
    unregister_function("mlops-query-training")
    server.stop()


def test_training_and_baseline_workflow(stack: dict[str, Any], tmp_path: Path) -> None:
    notebook = materialize("safe_deployment_notebook", tmp_path / "notebook") / "notebook" / "workflow.ipynb"
    cells = code_cells(notebook, {1: "pip install of the SDKs: stepfn is installed"}, {"%store -r input_data": ""})
    assert [index for index, _ in cells] == [2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 32, 34, 36, 37,
                                             39, 41, 43, 45, 47, 49]
    kernel: dict[str, Any] = {"__name__": "__main__", "input_data": stack}  # what %store -r input_data restores
    for index, source in cells:
        run_cell(index, source, kernel, "workflow.ipynb")

    execution, workflow_inputs = kernel["execution"], kernel["workflow_inputs"]
    result = execution.get_output(wait=True)
    events = execution.list_events()
    failures = [e for e in events if e["type"].endswith("Failed")]
    assert execution.describe()["status"] == "SUCCEEDED", failures
    assert isinstance(result, list) and len(result) == 2  # the Parallel's two branch outputs
    store = ObjectStore()
    baseline_uri = workflow_inputs["BaselineOutputUri"]
    constraints = json.loads(store.get_bytes(f"{baseline_uri}/constraints.json"))
    assert [f["name"] for f in constraints["features"]] == ["duration", "distance", "hour", "passengers"]
    statistics = json.loads(store.get_bytes(f"{baseline_uri}/statistics.json"))
    assert statistics["dataset"]["item_count"] == 200
    metrics = result[1]["QueryTrainingResults"]["Payload"]["results"]["TrainingMetrics"]
    assert metrics and metrics[0]["Value"] < 10
    # The create-experiment Lambda made the experiment and its trial through the SageMaker API.
    from stepfn.server import create_server_client

    sagemaker_api = create_server_client("sagemaker", os.environ["AWS_ENDPOINT_URL"])
    trials = sagemaker_api.list_trials(ExperimentName=kernel["experiment_name"])["TrialSummaries"]
    assert [trial["TrialName"] for trial in trials] == [kernel["trial_name"]]
