"""The safe deployment pipeline's build: ``model/run_pipeline.py`` run by the commands of ``model/buildspec.yml``
as CodeBuild runs them, and what its CodePipeline does with the files the script writes.

The source is aws-samples/amazon-sagemaker-safe-deployment-pipeline at its last commit (``port-sources.toml``,
``safe_deployment_build``), not committed here: the test copies it out of a fetched checkout
(``$STEPFN_PORT_SOURCES``, see ``scripts/ported-suites.sh``) into its temporary folder and skips without it. Only
the script's imports change. The script is the Step Functions Data Science SDK as a build step uses it: a Lambda
step, then a Parallel of a Model Monitor baseline ``ProcessingStep`` (``image_uris.retrieve("model-monitor")``,
``DatasetFormat.csv()``) and a chain of an XGBoost ``TrainingStep``, a ``ModelStep`` of its expected model, a Lambda
step querying the metrics and a ``Choice`` on ``ChoiceRule.NumericLessThan``, each with its ``Catch``; it writes
``workflow.definition.to_json(pretty=True)``, ``workflow.get_cloudformation_template()`` and the execution's input.

What CodeBuild and CodePipeline give, as the project's ``pipeline.yml`` configures them, is ours:

* the build: the ``pre_build`` and ``build`` commands of the buildspec, in one ``bash`` (as CodeBuild runs a
  buildspec 0.2), with the project's environment variables and CodeBuild's own (``CODEBUILD_BUILD_ID``,
  ``CODEBUILD_INITIATOR``, the source folders); its ``install`` phase (``pip install``) and ``post_build`` phase
  (``aws cloudformation package`` of the other stacks' templates) are left out;
* CodePipeline's ``GetPipelineState`` and ``GetPipelineExecution``, which the script calls for the build's
  execution id and source revisions: a stand-in on 127.0.0.1 (``AWS_ENDPOINT_URL_CODEPIPELINE``);
* the data source's ``inputData.json`` and the CSVs it names (generated, with the taxi data set's columns);
* the ``CreateWorkflow`` deploy action: the template's state machine created on ``stepfn serve``; the custom
  resource stack: its two Lambda functions (``custom_resource/``) deployed with ``create_function``;
* the ``StartWorkflow`` action: an execution of the ARN ``pipeline.yml`` names, its input the build's
  ``workflow-input.json``.

The execution must succeed: the baseline's ``constraints.json`` describes the baseline CSV's columns, and the
training job's validation RMSE passes the script's Choice.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from port_sources import materialize, needs
from test_journey_notebooks import (
    JsonApiStandIn,
    Serve,
    clean_environment,
    deploy_functions,
    taxi_like_rows,
    trip_csv,
    wait_for_executions,
)

ACCOUNT, REGION = "123456789012", "us-east-1"
PREFIX, MODEL, PROJECT_ID = "mlops", "nyctaxi", "p-abc123"
BUILD_ID = f"{PREFIX}-{MODEL}-{PROJECT_ID}:0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/{PREFIX}-{MODEL}-{PROJECT_ID}-{{}}"


class CodePipeline(JsonApiStandIn):
    """The project's pipeline, mid-run, as the build sees it: its Build stage's action running this build."""

    def __init__(self, pipeline: str, execution_id: str, revisions: dict[str, str]) -> None:
        def answer(target: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
            operation = target.rpartition(".")[2]
            if operation == "GetPipelineState" and body["name"] == pipeline:
                return 200, {"pipelineName": pipeline, "stageStates": [
                    {"stageName": "Source", "latestExecution": {"pipelineExecutionId": execution_id,
                                                                "status": "Succeeded"},
                     "actionStates": [{"actionName": "ModelSource", "latestExecution": {"status": "Succeeded"}}]},
                    {"stageName": "Build", "latestExecution": {"pipelineExecutionId": execution_id,
                                                               "status": "InProgress"},
                     "actionStates": [{"actionName": "BuildTemplates", "latestExecution": {
                         "status": "InProgress", "externalExecutionId": BUILD_ID}}]}]}
            if operation == "GetPipelineExecution" and body == {"pipelineName": pipeline,
                                                                "pipelineExecutionId": execution_id}:
                return 200, {"pipelineExecution": {
                    "pipelineName": pipeline, "pipelineExecutionId": execution_id, "status": "InProgress",
                    "artifactRevisions": [{"name": name, "revisionId": revision}
                                          for name, revision in revisions.items()]}}
            return 400, {"__type": "PipelineNotFoundException", "message": f"{operation} {body}"}

        super().__init__(answer)


def build_commands(buildspec: Path) -> str:
    """The buildspec's ``pre_build`` then ``build`` commands as one script, as CodeBuild runs them."""
    import yaml

    phases = yaml.safe_load(buildspec.read_text())["phases"]
    return "set -e\n" + "\n".join(phases["pre_build"]["commands"] + phases["build"]["commands"]) + "\n"


@pytest.mark.slow
@pytest.mark.timeout(1200)  # an XGBoost training job and a Model Monitor baseline on a loaded 2-core machine
@needs("safe_deployment_build")
def test_safe_deployment_build_script(tmp_path: Path) -> None:
    import yaml

    folder, home = tmp_path / "build", tmp_path / "home"  # stepfn serve's folder (its home ./.stepfn), the user's HOME
    folder.mkdir()
    home.mkdir()
    source = materialize("safe_deployment_build", folder / "src")
    pipeline_name, execution_id = f"{MODEL}-{PROJECT_ID}", "3f2c9a10-5b7e-4d21-9c8e-0a1b2c3d4e5f"
    codepipeline = CodePipeline(pipeline_name, execution_id, {"ModelSourceOutput": "8c9f0843198f",
                                                              "DataSourceOutput": "v3.KxAz7Q"})
    bucket = f"sagemaker-{REGION}-{ACCOUNT}"
    serve = Serve(folder, clean_environment(home))
    try:
        environment = clean_environment(home, **serve.settings, AWS_ENDPOINT_URL_CODEPIPELINE=codepipeline.url)
        data = tmp_path / "data-source"
        data.mkdir()
        input_data = {key: f"s3://{bucket}/{PREFIX}-{MODEL}/input/{name}" for key, name in (
            ("TrainingUri", "train.csv"), ("ValidationUri", "validation.csv"), ("BaselineUri", "baseline.csv"))}
        (data / "inputData.json").write_text(json.dumps(input_data))
        rng = random.Random(7)
        for key, rows, header in (
                ("TrainingUri", taxi_like_rows(3000, rng), ""), ("ValidationUri", taxi_like_rows(750, rng), ""),
                ("BaselineUri", taxi_like_rows(500, rng),
                 "total_amount,duration_minutes,passenger_count,trip_distance\n")):
            subprocess.run([sys.executable, "-m", "stepfn", "cp", str(trip_csv(tmp_path / f"{key}.csv", rows, header)),
                            input_data[key]], cwd=folder, env=environment, check=True, capture_output=True)

        build_environment = {  # pipeline.yml's BuildProject variables, then CodeBuild's own
            "SAGEMAKER_PROJECT_NAME": MODEL, "SAGEMAKER_PROJECT_ID": PROJECT_ID, "AWS_REGION": REGION,
            "AWS_ACCOUNT_ID": ACCOUNT, "IMAGE_TAG": "latest", "GIT_BRANCH": "main", "PREFIX": PREFIX,
            "MODEL_NAME": MODEL, "PIPELINE_NAME": pipeline_name, "ARTIFACT_BUCKET": f"{PREFIX}-artifact-{REGION}",
            "KMS_KEY_ID": "0a1b2c3d-aaaa-bbbb-cccc-0123456789ab", "DEPLOY_ROLE_ARN": ROLE.format("deploy"),
            "NOTIFICATION_ARN": f"arn:aws:sns:{REGION}:{ACCOUNT}:{PREFIX}-{MODEL}-notification",
            "SAGEMAKER_ROLE_ARN": ROLE.format("sagemaker"), "SAGEMAKER_BUCKET": bucket,
            "WORKFLOW_ROLE_ARN": ROLE.format("workflow"),
            "CODEBUILD_BUILD_ID": BUILD_ID, "CODEBUILD_INITIATOR": f"codepipeline/{pipeline_name}",
            "CODEBUILD_SRC_DIR": str(source), "CODEBUILD_SRC_DIR_DataSourceOutput": str(data),
            "CODEBUILD_RESOLVED_SOURCE_VERSION": "8c9f0843198f", "AWS_DEFAULT_REGION": REGION,
        }
        build = subprocess.run(["bash", "-c", build_commands(source / "model" / "buildspec.yml")],
                               cwd=source, env={**environment, **build_environment}, capture_output=True, text=True,
                               timeout=300)
        assert build.returncode == 0, build.stdout + build.stderr
        assert f"job id: {execution_id}\ngit commit: 8c9f0843198f\ndata version: v3.KxAz7Q\n" in build.stdout
        assert [target.rpartition(".")[2] for target, _ in codepipeline.requests] == [
            "GetPipelineState", "GetPipelineExecution"]

        assets = source / "assets"
        definition = json.loads((assets / "workflow-graph.json").read_text())
        template = yaml.safe_load((assets / "workflow-graph.yml").read_text())
        (machine,) = template["Resources"].values()
        assert machine["Type"] == "AWS::StepFunctions::StateMachine"
        assert json.loads(machine["Properties"]["DefinitionString"]) == definition
        assert machine["Properties"]["RoleArn"] == ROLE.format("workflow")

        # CreateWorkflow deploys the template; CreateCustomResources, the functions the workflow calls.
        sfn = serve.client("stepfunctions")
        created = sfn.create_state_machine(name=machine["Properties"]["StateMachineName"],
                                           definition=machine["Properties"]["DefinitionString"],
                                           roleArn=machine["Properties"]["RoleArn"])
        deploy_functions(serve, {name: source / "custom_resource" / f"{module}.py" for name, module in (
            ("mlops-create-experiment", "sagemaker_create_experiment"),
            ("mlops-query-training", "sagemaker_query_training"))})
        # StartWorkflow: pipeline.yml's ARN, the build's workflow-input.json.
        arn = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{PREFIX}-{MODEL}"
        assert created["stateMachineArn"] == arn
        sfn.start_execution(stateMachineArn=arn, input=(assets / "workflow-input.json").read_text())

        (execution,) = wait_for_executions(serve, f"{PREFIX}-{MODEL}", timeout=900)
        assert execution["status"] == "SUCCEEDED", (execution.get("error"), execution.get("cause"))
        branches = json.loads(execution["output"])
        metrics = branches[1]["QueryTrainingResults"]["Payload"]["results"]["TrainingMetrics"]
        assert metrics and metrics[0]["Value"] < 10
        baseline = json.loads(execution["input"])["BaselineOutputUri"]
        assert baseline == f"s3://{bucket}/{PREFIX}-{MODEL}/monitoring/baseline/{PREFIX}-{MODEL}-pbl-{execution_id}"
        key = baseline.removeprefix(f"s3://{bucket}/") + "/constraints.json"
        constraints = json.loads(serve.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())
        assert [f["name"] for f in constraints["features"]] == ["total_amount", "duration_minutes", "passenger_count",
                                                                "trip_distance"]
        trial = serve.client("sagemaker").describe_trial(TrialName=f"{PREFIX}-{MODEL}-{execution_id}")
        assert trial["ExperimentName"] == f"{PREFIX}-{MODEL}"
    finally:
        serve.stop()
        codepipeline.stop()
