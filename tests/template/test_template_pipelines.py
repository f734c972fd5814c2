"""TrainingPipeline / InferencePipeline (docs/design/compat.md §8): golden example 10 and the oracle's test_pipeline records."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from stepfn.sagemaker import DebuggerHookConfig, Estimator, Session, SKLearn
from stepfn.steps import Task
from stepfn.template import InferencePipeline, StepId, TrainingPipeline
from stepfn.template.utils import replace_parameters_with_context_object, replace_parameters_with_jsonpath

SESSION = Session(region_name="us-east-1", default_bucket="sagemaker")
SAGEMAKER_ROLE = "execution-role"
PCA_IMAGE = "382416733822.dkr.ecr.us-east-1.amazonaws.com/pca:1"
LINEAR_LEARNER_IMAGE = "382416733822.dkr.ecr.us-east-1.amazonaws.com/linear-learner:1"


@pytest.fixture(autouse=True)
def _region(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_PARTITION", raising=False)
    monkeypatch.delenv("AWS_REGION", raising=False)


class RecordingWorkflow:
    """Stands in for the Workflow, as the original test's MagicMock did, and records execute() calls."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.calls: list[dict[str, Any]] = []

    def execute(self, name: str | None = None, inputs: Any = None) -> str:
        self.calls.append({"inputs": inputs, "name": name})
        return "execution"


def pca_estimator() -> Estimator:
    estimator = Estimator(PCA_IMAGE, role=SAGEMAKER_ROLE, instance_count=1, instance_type="ml.c4.xlarge",
                          output_path="s3://sagemaker/models", sagemaker_session=SESSION)
    estimator.set_hyperparameters(feature_dim=50000, num_components=10, subtract_mean=True,
                                  algorithm_mode="randomized", mini_batch_size=200)
    return estimator


def oracle_records(golden_dir: Path, test: str) -> list[dict[str, Any]]:
    lines = (golden_dir / "to_dict_records_sagemaker-2.72.3.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r["test"] == f"tests/unit/test_pipeline.py::{test}"]


def test_10_training_pipeline_definition_and_execute_inputs(golden_dir: Path) -> None:
    pipeline = TrainingPipeline(pca_estimator(), "StepFunctionsExecutionRole", {"train": "s3://sagemaker/pca/train"},
                                "sagemaker-us-east-1", pipeline_name="golden-pipeline")
    definition = pipeline.get_workflow().definition.to_dict()
    assert json.dumps(definition, indent=4) == (golden_dir / "10_training_pipeline.definition.json").read_text()

    recorder = RecordingWorkflow("golden-pipeline")
    pipeline.workflow = recorder
    assert pipeline.execute(job_name="pca") == "execution"
    expected = (golden_dir / "10_training_pipeline.execute_inputs.json").read_text()
    assert json.dumps(recorder.calls[0], indent=2) == expected


def test_pca_training_pipeline_oracle_records(golden_dir: Path) -> None:
    pipeline = TrainingPipeline(pca_estimator(), "StepFunctionsExecutionRole", {"train": "s3://sagemaker/pca/train"},
                                "sagemaker-us-east-1")
    assert pipeline.pipeline_name.startswith("training-pipeline-")
    steps = pipeline.definition.steps
    records = oracle_records(golden_dir, "test_pca_training_pipeline")
    produced = [json.dumps(step.to_dict()) for step in steps] + [json.dumps(pipeline.workflow.definition.to_dict())]
    assert produced == [record["json"] for record in records]


def test_execute_twice_does_not_leak_between_executions() -> None:
    pipeline = TrainingPipeline(pca_estimator(), "StepFunctionsExecutionRole", {"train": "s3://sagemaker/pca/train"},
                                "bucket", pipeline_name="p")
    recorder = RecordingWorkflow("p")
    pipeline.workflow = recorder
    pipeline.execute(job_name="first", hyperparameters={"num_components": 3, "subtract_mean": False})
    pipeline.execute(job_name="second")
    first, second = (call["inputs"] for call in recorder.calls)
    assert first["Training"]["HyperParameters"] == {"num_components": "3", "subtract_mean": "False"}
    assert second["Training"]["HyperParameters"]["num_components"] == "10"
    assert first["Create Model"]["ModelName"] == "first"
    assert second["Create Model"]["PrimaryContainer"]["ModelDataUrl"] == (
        "s3://bucket/p/models/estimator-second/output/model.tar.gz")
    assert pipeline.input_template["Training"]["TrainingJobName"] == "p/estimator-source"


def sklearn_preprocessor() -> SKLearn:
    return SKLearn(entry_point="sklearn_abalone_featurizer.py", role=SAGEMAKER_ROLE, framework_version="0.20.0",
                   instance_type="ml.c4.xlarge", instance_count=1, source_dir="s3://sagemaker/source",
                   sagemaker_session=SESSION)


def linear_learner(hook: bool = True) -> Estimator:
    estimator = Estimator(LINEAR_LEARNER_IMAGE, SAGEMAKER_ROLE, instance_count=1, instance_type="ml.c4.xlarge",
                          volume_size=20, max_run=3600, input_mode="File", output_path="s3://sagemaker/models",
                          sagemaker_session=SESSION)
    if hook:
        estimator.debugger_hook_config = DebuggerHookConfig(s3_output_path="s3://sagemaker/models/debug")
    estimator.set_hyperparameters(feature_dim=10, predictor_type="regressor", mini_batch_size=32)
    return estimator


def inference_pipeline(hook: bool = True) -> InferencePipeline:
    return InferencePipeline(preprocessor=sklearn_preprocessor(), estimator=linear_learner(hook),
                             inputs={"train": "s3://sagemaker-us-east-1/inference/train"},
                             s3_bucket="sagemaker-us-east-1", role="StepFunctionsExecutionRole",
                             pipeline_name="inference")


def test_inference_pipeline_oracle_records(golden_dir: Path) -> None:
    pipeline = inference_pipeline()
    records = oracle_records(golden_dir, "test_inference_pipeline")
    produced = [json.dumps(step.to_dict()) for step in pipeline.definition.steps]
    produced.append(json.dumps(pipeline.workflow.definition.to_dict()))
    assert produced == [record["json"] for record in records]


def test_inference_pipeline_execute_inputs() -> None:
    pipeline = inference_pipeline()
    recorder = RecordingWorkflow("inference-pipeline")
    pipeline.workflow = recorder
    pipeline.execute(job_name="linear-learner", hyperparameters={"feature_dim": 10, "epochs": 2})
    inputs = recorder.calls[0]["inputs"]
    assert recorder.calls[0]["name"] == "linear-learner"
    models = "s3://sagemaker-us-east-1/inference-pipeline/models"
    pre = inputs["Train Preprocessor"]
    assert pre["TrainingJobName"] == "preprocessor-linear-learner"
    assert pre["OutputDataConfig"] == {"S3OutputPath": models}
    assert pre["DebugHookConfig"] == {"S3OutputPath": f"{models}/debug"}
    assert pre["HyperParameters"]["sagemaker_job_name"] == '"preprocessor-linear-learner"'
    assert pre["HyperParameters"]["sagemaker_submit_directory"] == '"s3://sagemaker/source"'
    pre_model = inputs["Create Preprocessor Model"]
    assert pre_model["ModelName"] == "preprocessor-linear-learner"
    assert pre_model["PrimaryContainer"]["ModelDataUrl"] == (
        f"{models}/preprocessor-linear-learner/output/model.tar.gz")
    assert pre_model["PrimaryContainer"]["Environment"]["SAGEMAKER_PROGRAM"] == "sklearn_abalone_featurizer.py"
    transform_output = "s3://sagemaker-us-east-1/inference-pipeline/preprocessor-transform-linear-learner/transform"
    assert inputs["Transform Input"]["TransformJobName"] == "preprocessor-linear-learner"
    assert inputs["Transform Input"]["TransformOutput"] == {"S3OutputPath": transform_output}
    assert inputs["Transform Input"]["MaxPayloadInMB"] == 20
    training = inputs["Training"]
    assert training["TrainingJobName"] == "estimator-linear-learner"
    assert training["HyperParameters"] == {"feature_dim": "10", "epochs": "2"}
    assert training["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"] == transform_output
    assert training["DebugHookConfig"] == {"S3OutputPath": f"{models}/debug"}
    containers = inputs["Create Pipeline Model"]["Containers"]
    assert [c["ModelDataUrl"] for c in containers] == [
        f"{models}/preprocessor-linear-learner/output/model.tar.gz",
        f"{models}/estimator-linear-learner/output/model.tar.gz",
    ]
    assert inputs["Create Pipeline Model"]["ModelName"] == "linear-learner"
    assert inputs["Configure Endpoint"]["ProductionVariants"][0]["ModelName"] == "linear-learner"
    assert inputs["Deploy"] == {"EndpointConfigName": "linear-learner", "EndpointName": "linear-learner"}


def test_inference_pipeline_without_debugger_hook_executes() -> None:
    pipeline = inference_pipeline(hook=False)
    recorder = RecordingWorkflow("w")
    pipeline.workflow = recorder
    pipeline.execute(job_name="j")
    assert "DebugHookConfig" not in recorder.calls[0]["inputs"]["Training"]


def test_step_ids_and_repr() -> None:
    assert [s.value for s in StepId] == ["Training", "Create Model", "Configure Endpoint", "Deploy",
                                          "Train Preprocessor", "Create Preprocessor Model", "Transform Input",
                                          "Create Pipeline Model"]
    pipeline = TrainingPipeline(pca_estimator(), "role", "s3://b/train", "bucket", pipeline_name="p")
    assert repr(pipeline).startswith("TrainingPipeline(s3_bucket='bucket', workflow=Workflow(")


def test_context_object_replacement() -> None:
    task = Task("LambdaTask", parameters={"InputObject": "Result", "OutputObject": {"Location": "Unknown"}})
    task.update_parameters(replace_parameters_with_context_object(task))
    assert task.parameters == {
        "InputObject.$": "$$.Execution.Input['LambdaTask'].InputObject",
        "OutputObject.$": "$$.Execution.Input['LambdaTask'].OutputObject",
    }


def test_jsonpath_replacement() -> None:
    task = Task("LambdaTask", parameters={
        "InputObject": "Result",
        "OutputObject": {"Location": {"Country": "Unknown", "City": "Unknown"},
                         "Coordinates": {"Latitude": 0, "Longitude": 0}},
    })
    params = replace_parameters_with_jsonpath(task, {
        "InputObject.$": "$.InputObject",
        "OutputObject": {"Location.$": "$.OutputLocation",
                         "Coordinates": {"Latitude.$": "$.Latitude", "Longitude": 0}},
    })
    assert json.dumps(params) == json.dumps({
        "InputObject.$": "$.InputObject",
        "OutputObject": {"Location.$": "$.OutputLocation",
                         "Coordinates": {"Latitude.$": "$.Latitude", "Longitude": 0}},
    })
    assert task.parameters["InputObject"] == "Result", "the step itself is not changed"


def test_training_pipeline_creates_its_state_machine_locally(golden_dir: Path) -> None:
    pipeline = TrainingPipeline(pca_estimator(), "arn:aws:iam::123456789012:role/StepFunctions",
                                {"train": "s3://sagemaker/pca/train"}, "sagemaker-us-east-1",
                                pipeline_name="golden-pipeline")
    arn = pipeline.create()
    described = pipeline.get_workflow().client.describe_state_machine(stateMachineArn=arn)
    assert described["definition"] == (golden_dir / "10_training_pipeline.definition.json").read_text()
    assert described["name"] == "golden-pipeline"


def test_execute_hyperparameters_keep_the_framework_entries() -> None:
    # The original replaced every hyperparameter, so a framework estimator lost sagemaker_program and could
    # not start; the caller's values still win and come first.
    pipeline = TrainingPipeline(sklearn_preprocessor(), "StepFunctionsExecutionRole",
                                {"train": "s3://sagemaker/train"}, "bucket", pipeline_name="sk")
    recorder = RecordingWorkflow("sk")
    pipeline.workflow = recorder
    pipeline.execute(job_name="run", hyperparameters={"alpha": 0.5, "sagemaker_container_log_level": 10})
    given = recorder.calls[0]["inputs"]["Training"]["HyperParameters"]
    assert list(given)[:2] == ["alpha", "sagemaker_container_log_level"]
    assert given["alpha"] == "0.5" and given["sagemaker_container_log_level"] == "10"
    assert given["sagemaker_program"] == '"sklearn_abalone_featurizer.py"'
    assert given["sagemaker_submit_directory"] == '"s3://sagemaker/source"'
