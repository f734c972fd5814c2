"""The "Machine Learning with Amazon SageMaker Cookbook" recipe "Managing ML workflows with AWS Step Functions and the
Data Science SDK" (PacktPublishing/Machine-Learning-with-Amazon-SageMaker-Cookbook, chapter 9), executed headless
(nbclient) against ``stepfn serve`` as its reader runs it.

The notebook is not committed here: ``port-sources.toml``'s ``sagemaker_cookbook_step_functions`` names it, with the
book's ``management_experience_and_salary.csv`` (chapter 1's file, which the recipe downloads with ``wget`` from the
book's GitHub repository): the test copies both out of a fetched checkout (``$STEPFN_PORT_SOURCES``, see
``scripts/ported-suites.sh``) and skips without it. ``notebooks/port_notebook.py`` changes its imports and fills the
two placeholders its reader fills (``<insert S3 bucket name here>``, the ``________________`` account of the execution
role); nothing else.

The recipe: the built-in Linear Learner (``image_uris.retrieve("linear-learner", region, "1")``) trained, its model
created, an endpoint configured and deployed, as a ``TrainingStep`` → ``ModelStep`` → ``EndpointConfigStep`` →
``EndpointStep`` chain; ``list_events()`` read into ``pd.json_normalize``; ``workflow.__dict__``; the definition printed.
What the reader has that the test gives: the bucket the recipe's reader names (created in the local store); the CSV
where ``wget -P tmp`` leaves it (the download itself may fail offline: IPython does not stop on a shell command's
status); the AWS CLI, which the recipe's ``!aws s3 cp`` uses (a SageMaker notebook instance has it), on ``PATH`` with
``stepfn serve``'s settings exported, so it copies into the local store. The ``!pip -q install --upgrade
stepfunctions`` line finds no package index.

After the notebook: the execution succeeds, and the endpoint predicts salaries close to the data's own line.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from port_sources import materialize, needs
from test_journey_notebooks import (
    PORT_SCRIPT,
    Serve,
    cell_errors,
    clean_environment,
    entered,
    execute,
    outputs_of,
    wait_for_executions,
)

NOTEBOOK = "Chapter09/06 - Managing ML workflows with AWS Step Functions and the Data Science SDK.ipynb"
DATA = "Chapter01/files/management_experience_and_salary.csv"
BUCKET = "cookbook-reader-bucket"
ROLE = "arn:aws:iam::123456789012:role/test-002"


@pytest.mark.slow
@pytest.mark.timeout(900)
@needs("sagemaker_cookbook_step_functions")
def test_managing_ml_workflows_with_step_functions_recipe(tmp_path: Path) -> None:
    aws = shutil.which("aws")
    if aws is None:
        pytest.skip("the recipe copies its data with the AWS CLI (aws s3 cp): none is installed here")
    folder, home = tmp_path / "notebook", tmp_path / "home"
    (folder / "tmp").mkdir(parents=True)
    home.mkdir()
    sources = materialize("sagemaker_cookbook_step_functions", tmp_path / "sources")
    notebook = folder / Path(NOTEBOOK).name
    subprocess.run([sys.executable, str(PORT_SCRIPT), str(sources / NOTEBOOK), str(notebook), json.dumps({
        "<insert S3 bucket name here>": BUCKET, "arn:aws:iam::________________:role/test-002": ROLE})], check=True)
    shutil.copy(sources / DATA, folder / "tmp" / Path(DATA).name)
    serve = Serve(folder, clean_environment(home))
    try:
        serve.client("s3").create_bucket(Bucket=BUCKET)
        environment = clean_environment(home, **serve.settings)
        environment["PATH"] += os.pathsep + str(Path(aws).parent)  # after stepfn's Python: only `aws` is wanted
        document = execute(notebook, environment)
        assert cell_errors(document) == []
        pip = "".join(output.get("text", "") for output in outputs_of(document, "pip -q install --upgrade stepfunctions"))
        assert "No matching distribution" in pip or "Could not find a version" in pip
        assert "upload: tmp/training_data.csv to s3://" + BUCKET in "".join(
            output.get("text", "") for output in outputs_of(document, "!aws s3 cp"))

        sfn = serve.client("stepfunctions")
        (machine,) = sfn.list_state_machines()["stateMachines"]
        (execution,) = wait_for_executions(serve, machine["name"], timeout=600)
        assert execution["status"] == "SUCCEEDED", (execution.get("error"), execution.get("cause"))
        history = sfn.get_execution_history(executionArn=execution["executionArn"], maxResults=1000)["events"]
        assert entered(history) == ["Training Step", "Model Step", "Create Endpoint Configuration", "Deploy Endpoint"]

        endpoint = json.loads(execution["input"])["EndpointName"]
        sagemaker = serve.client("sagemaker")
        deadline = time.monotonic() + 300  # CreateEndpoint answers at once; the endpoint comes up after
        while (status := sagemaker.describe_endpoint(EndpointName=endpoint)["EndpointStatus"]) == "Creating":
            assert time.monotonic() < deadline, "the endpoint is still Creating"
            time.sleep(1)
        assert status == "InService"
        rows = [(float(r["management_experience_months"]), float(r["monthly_salary"]))
                for r in csv.DictReader((sources / DATA).open())]
        answer = serve.client("sagemaker-runtime").invoke_endpoint(
            EndpointName=endpoint, ContentType="text/csv", Accept="application/json",
            Body="\n".join(str(months) for months, _ in rows).encode())
        predictions = [p["score"] for p in json.loads(answer["Body"].read())["predictions"]]
        # A line through the data: closer to the salaries than their mean is, and rising with the months.
        mean_salary = sum(salary for _, salary in rows) / len(rows)
        error = sum(abs(p - salary) for p, (_, salary) in zip(predictions, rows, strict=True)) / len(rows)
        assert error < 0.8 * sum(abs(mean_salary - salary) for _, salary in rows) / len(rows), (error, predictions)
        by_months = [p for _, p in sorted(zip((months for months, _ in rows), predictions, strict=True))]
        assert by_months[-1] > by_months[0], predictions
        sagemaker.delete_endpoint(EndpointName=endpoint)
    finally:
        serve.stop()
