"""The Step Functions notebooks of the book "Learn Amazon SageMaker", chapter 12, in both editions, executed headless
(nbclient) against ``stepfn serve`` as their readers run them.

The notebooks are not committed here: ``port-sources.toml`` names them (``learn_sagemaker_step_functions``: the first
edition's repository, PacktPublishing/Learn-Amazon-SageMaker, its SageMaker SDK v2 copy of the chapter;
``learn_sagemaker_2e_step_functions``: PacktPublishing/Learn-Amazon-SageMaker-second-edition), and each test copies
its notebook out of a fetched checkout (``$STEPFN_PORT_SOURCES``, see ``scripts/ported-suites.sh``) and skips without
it. ``notebooks/port_notebook.py`` changes their imports and fills the role the reader completes (the first edition's
v2 ends a cell at ``workflow_execution_role = ``, the second edition's cells say ``workflow_execution_role = ''``);
nothing else. The chapter's ``housing.csv``, ``sklearn-boston-housing.py`` and ``lambda.py``, which the notebooks read
from their own folder, are committed beside the second edition's notebooks, and in the first edition's repository in
its SDK v1 copy of the chapter only: they come from there, beside the notebook, as the reader puts them.

The second edition's notebooks differ in what a port meets: scikit-learn ``0.23-1`` (its own environment, Python
3.7), the estimator's sagemaker v1 argument names (``train_instance_count``, ``train_instance_type``) beside v2's
``sagemaker.inputs.TrainingInput``, ``list_events()`` without HTML, and ``render_graph`` / ``render_progress`` left
commented out (JupyterLab could not show them).

* v1: a scikit-learn ``TrainingStep``, ``ModelStep``, ``TransformStep``, ``EndpointConfigStep`` and
  ``EndpointStep`` chained; ``render_graph``, ``render_progress``, ``list_events(html=True)``,
  ``list_executions(html=True)``, ``Workflow.list_workflows(html=True)``;
* v2: the transform and the endpoint in the two branches of a ``Parallel``, the channel given with the v1 name
  ``sagemaker.s3_input``;
* v3: v2 with a ``LambdaStep`` after the endpoint calling the chapter's ``sagemaker-wait-for-endpoint`` function
  (``lambda.py``: a boto3 ``endpoint_in_service`` waiter), deployed with ``create_function`` as the chapter's
  "Create Lambda function" notebook deploys it (that notebook's IAM role and policy calls are not run: stepfn serves
  no IAM).

What they found: ``print(sagemaker.__version__)`` (v1's import cell) failed, stepfn.sagemaker having no
``__version__`` (fixed; ``tests/sagemaker/test_sagemaker_imports.py``).

Each notebook's first cell (``%%sh pip -q install ...``) fails: there is no package index (IPython raises on the
script's status); every other cell must run. The notebooks do not wait for their execution: the test does, then
checks what the reader would look at: the states entered, the transform's predictions (the Boston housing prices,
close to the rows' own), and the endpoint answering a CSV row.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from port_sources import materialize, needs
from test_journey_notebooks import (
    PORT_SCRIPT,
    Serve,
    cell_errors,
    clean_environment,
    deploy_functions,
    entered,
    execute,
    outputs_of,
    wait_for_executions,
)

WORKFLOW_ROLE = "arn:aws:iam::123456789012:role/StepFunctionsWorkflowExecutionRole"



@dataclass(frozen=True)
class Edition:
    source: str  # port-sources.toml's section
    chapter: str  # the notebooks' folder
    files: str  # the folder of the chapter's data, script and function
    role_placeholders: dict[str, str]  # notebook version -> the text the reader completes with the role


EDITIONS = {
    "first": Edition("learn_sagemaker_step_functions", "sdkv2/ch12/step_functions", "sdkv1/ch12/step_functions",
                     {"v2": "workflow_execution_role = "}),
    "second": Edition("learn_sagemaker_2e_step_functions", "Chapter 12/step_functions", "Chapter 12/step_functions",
                      {version: "workflow_execution_role = ''" for version in ("v1", "v2", "v3")}),
}
EDITION_PARAMS = [pytest.param(edition, id=f"{name} edition", marks=needs(edition.source))
                  for name, edition in EDITIONS.items()]
TRAINED = ["Train a Scikit-Learn script on the Boston Housing dataset", "Create the model in SageMaker"]


def check_results(serve: Serve, execution: dict[str, Any], folder: Path) -> None:
    """The transform's predictions and the endpoint's answer: Boston prices close to the rows' own."""
    import csv

    name = json.loads(execution["input"])["JobName"]
    rows = list(csv.DictReader((folder / "housing.csv").open()))
    sagemaker = serve.client("sagemaker")
    job = sagemaker.describe_transform_job(TransformJobName=name)
    assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
    bucket, _, prefix = job["TransformOutput"]["S3OutputPath"].removeprefix("s3://").partition("/")
    output = serve.client("s3").get_object(Bucket=bucket, Key=f"{prefix.rstrip('/')}/test.csv.out")["Body"].read()
    predictions = [float(value) for value in output.decode().replace("[", " ").replace("]", " ").replace(",", " ")
                   .split()]
    assert len(predictions) == len(rows)
    errors = [abs(p - float(row["medv"])) for p, row in zip(predictions, rows, strict=True)]
    assert sum(errors) / len(errors) < 5  # a linear regression of the prices: a few thousand dollars off on average

    deadline = time.monotonic() + 300  # CreateEndpoint answers at once; the endpoint comes up after
    while (status := sagemaker.describe_endpoint(EndpointName=name)["EndpointStatus"]) == "Creating":
        assert time.monotonic() < deadline, "the endpoint is still Creating"
        time.sleep(1)
    assert status == "InService"
    first = ",".join(value for key, value in rows[0].items() if key != "medv")
    answer = serve.client("sagemaker-runtime").invoke_endpoint(EndpointName=name, ContentType="text/csv",
                                                                Body=first.encode())
    assert abs(float(answer["Body"].read().decode().strip("[] \n")) - predictions[0]) < 1e-6
    sagemaker.delete_endpoint(EndpointName=name)


def sklearn_isolated() -> None:
    from stepfn.local.sagemaker.isolation import choose_isolation

    if not choose_isolation().isolated:
        pytest.skip("jobs cannot have their own mount namespace here (no bubblewrap, no user namespaces)")


@dataclass
class Run:
    """A notebook run to its execution's end, as the test looks at it."""

    serve: Serve
    document: dict[str, Any]
    execution: dict[str, Any]
    states: list[str]  # the states entered, in order


@contextlib.contextmanager
def notebook_run(edition: Edition, version: str, tmp_path: Path, functions: tuple[str, ...] = ()) -> Iterator[Run]:
    """Notebook ``version`` of ``edition``'s chapter executed headless against ``stepfn serve`` in its own folder,
    beside the chapter's files, after ``functions`` (the chapter's ``lambda.py``, under those names) are deployed; its
    execution waited for. After the caller's checks: the transform's and the endpoint's answers
    (:func:`check_results`)."""
    sklearn_isolated()
    folder, home = tmp_path / "notebook", tmp_path / "home"
    folder.mkdir()
    home.mkdir()
    sources = materialize(edition.source, tmp_path / "sources")
    notebook = folder / f"Scikit-Learn on Boston Housing - {version}.ipynb"
    placeholder = edition.role_placeholders.get(version)
    role = {placeholder: f'workflow_execution_role = "{WORKFLOW_ROLE}"'} if placeholder else {}
    subprocess.run([sys.executable, str(PORT_SCRIPT), str(sources / edition.chapter / notebook.name), str(notebook),
                    json.dumps(role)], check=True)
    for name in ("housing.csv", "sklearn-boston-housing.py", "lambda.py"):
        (folder / name).write_bytes((sources / edition.files / name).read_bytes())
    serve = Serve(folder, clean_environment(home))
    try:
        # As the chapter's "Create Lambda function" notebook deploys its function: the module zipped, create_function.
        deploy_functions(serve, {name: folder / "lambda.py" for name in functions})
        environment = clean_environment(home, **serve.settings,
                                        STEPFN_ENV_DIR=os.environ.get("STEPFN_TEST_ENV_DIR") or str(tmp_path / "envs"))
        document = execute(notebook, environment)
        errors = cell_errors(document)
        assert len(errors) == 1 and "CalledProcessError" in errors[0] and "pip -q install" in errors[0], errors
        graph = [cell for cell in document["cells"] if cell["source"].startswith("workflow.render_graph(")]
        assert all("<svg" in cell["outputs"][0]["data"]["text/html"] for cell in graph)
        progress = [cell for cell in document["cells"] if cell["source"] == "execution.render_progress()"]
        assert all("<stepfn HTML document" in cell["outputs"][0]["data"]["text/plain"] for cell in progress)
        sfn = serve.client("stepfunctions")
        (name,) = [m["name"] for m in sfn.list_state_machines()["stateMachines"]]
        assert name.startswith(f"sklearn-boston-housing-workflow{version[1]}-"), name  # and a timestamp
        (execution,) = wait_for_executions(serve, name, 900)
        assert execution["status"] == "SUCCEEDED", (execution.get("error"), execution.get("cause"))
        history = sfn.get_execution_history(executionArn=execution["executionArn"], maxResults=1000)["events"]
        yield Run(serve, document, execution, entered(history))
        check_results(serve, execution, folder)
    finally:
        serve.stop()


@pytest.mark.slow
@pytest.mark.timeout(1200)  # room for building scikit-learn 0.20.0's or 0.23-1's environment on a fresh machine
@pytest.mark.parametrize("edition", EDITION_PARAMS)
def test_v1_chain_of_training_model_transform_and_endpoint(edition: Edition, tmp_path: Path) -> None:
    with notebook_run(edition, "v1", tmp_path) as run:
        events = outputs_of(run.document, "execution.list_events(")[0]["data"]
        assert "TaskStateEntered" in (events.get("text/html") or events["text/plain"])
        assert run.states == [*TRAINED, "Transform the dataset in batch mode",
                              "Create an endpoint configuration for the model", "Create an endpoint hosting the model"]


@pytest.mark.slow
@pytest.mark.timeout(1200)
@pytest.mark.parametrize("edition", EDITION_PARAMS)
def test_v2_transform_and_endpoint_in_parallel(edition: Edition, tmp_path: Path) -> None:
    with notebook_run(edition, "v2", tmp_path) as run:
        assert run.states[:3] == [*TRAINED, "Parallel execution"]
        assert sorted(run.states[3:]) == sorted(["Transform the dataset in batch mode",
                                                 "Create an endpoint configuration for the model",
                                                 "Create an endpoint hosting the model"])
        branches = json.loads(run.execution["output"])
        assert branches[0]["TransformJobStatus"] == "Completed" and "EndpointArn" in branches[1]


@pytest.mark.slow
@pytest.mark.timeout(1200)
@pytest.mark.parametrize("edition", EDITION_PARAMS)
def test_v3_a_lambda_function_waits_for_the_endpoint(edition: Edition, tmp_path: Path) -> None:
    with notebook_run(edition, "v3", tmp_path, functions=("sagemaker-wait-for-endpoint",)) as run:
        assert run.states[:3] == [*TRAINED, "Parellel execution"]
        assert run.states.index("Wait for endpoint to be in service") > run.states.index(
            "Create an endpoint hosting the model")
        name = json.loads(run.execution["input"])["EndpointName"]
        # The function returned once the endpoint was InService: the branch's output is its answer.
        assert json.loads(run.execution["output"])[1]["Payload"] == {"statusCode": 200, "body": name}
        assert run.serve.client("sagemaker").describe_endpoint(EndpointName=name)["EndpointStatus"] == "InService"
