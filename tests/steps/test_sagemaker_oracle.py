"""The SageMaker records of ``to_dict_records_sagemaker-2.72.3.jsonl`` (docs/design/compat.md §12.2), byte for byte.

Each test below rebuilds the inputs of one original unit test with stepfn's own SageMaker classes
(``Session(region_name='us-east-1', default_bucket='sagemaker')`` replaces the MagicMock sessions) and compares
``json.dumps(to_dict())`` with every record that test produced. Documented deviations are applied to the
expected text explicitly: §11 #3 (hyperparameters are strings) and the masked tuning job name (§11 #14).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from stepfn.inputs import ExecutionInput, StepInput
from stepfn.sagemaker import (
    CategoricalParameter,
    CollectionConfig,
    DataCaptureConfig,
    DebuggerHookConfig,
    DroppedSettingWarning,
    Estimator,
    HyperparameterTuner,
    IntegerParameter,
    Model,
    ProcessingInput,
    ProcessingOutput,
    Rule,
    Session,
    SKLearnProcessor,
    TensorFlow,
    Transformer,
    rule_configs,
)
from stepfn.steps import (
    EndpointConfigStep,
    EndpointStep,
    ModelStep,
    ProcessingStep,
    TrainingStep,
    TransformStep,
    TuningStep,
)

ROLE = "execution-role"
PCA_IMAGE = "382416733822.dkr.ecr.us-east-1.amazonaws.com/pca:1"
TENSORFLOW_IMAGE = "520713654638.dkr.ecr.us-east-1.amazonaws.com/sagemaker-tensorflow:1.13-gpu-py2"
DEFAULT_TAGS = {"Purpose": "unittests"}
SESSION = Session(region_name="us-east-1", default_bucket="sagemaker")
PCA_HYPERPARAMETERS = {"feature_dim": 50000, "num_components": 10, "subtract_mean": True,
                       "algorithm_mode": "randomized", "mini_batch_size": 200}


@pytest.fixture(autouse=True)
def _region(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_PARTITION", raising=False)
    monkeypatch.delenv("AWS_REGION", raising=False)


@pytest.fixture(scope="module")
def oracle(golden_dir: Path) -> dict[str, list[dict[str, Any]]]:
    records: dict[str, list[dict[str, Any]]] = {}
    for line in (golden_dir / "to_dict_records_sagemaker-2.72.3.jsonl").read_text().splitlines():
        record = json.loads(line)
        records.setdefault(record["test"], []).append(record)
    return records


def check(oracle: dict[str, list[dict[str, Any]]], test: str, steps: list[Any],
          adjust: Callable[[str], str] = lambda text: text) -> None:
    records = oracle[f"tests/unit/test_sagemaker_steps.py::{test}"]
    assert [(r["class"], r["state_id"]) for r in records] == [(type(s).__name__, s.state_id) for s in steps]
    for record, step in zip(records, steps, strict=True):
        assert json.dumps(step.to_dict()) == adjust(record["json"])


def pca_estimator(**kwargs: Any) -> Estimator:
    estimator = Estimator(PCA_IMAGE, role=ROLE, instance_count=1, instance_type="ml.c4.xlarge",
                          output_path="s3://sagemaker/models", sagemaker_session=SESSION, **kwargs)
    estimator.set_hyperparameters(**PCA_HYPERPARAMETERS)
    return estimator


def pca_estimator_with_env() -> Estimator:
    return pca_estimator(environment={"JobName": "job_name", "ModelName": "model_name"})


def tensorflow_estimator() -> TensorFlow:
    estimator = TensorFlow(
        entry_point="tf_train.py", role=ROLE, framework_version="1.13", instance_count=1,
        instance_type="ml.p2.xlarge", output_path="s3://sagemaker/models", source_dir="s3://sagemaker/source",
        image_uri=TENSORFLOW_IMAGE, model_dir=False, sagemaker_session=SESSION,
        hyperparameters={"training_steps": 1000, "evaluation_steps": 100,
                         "checkpoint_path": "s3://sagemaker/models/sagemaker-tensorflow/checkpoints"},
    )
    estimator.debugger_hook_config = DebuggerHookConfig(s3_output_path="s3://sagemaker/models/debug")
    return estimator


def pca_model(**kwargs: Any) -> Model:
    return Model(model_data="s3://sagemaker/models/pca.tar.gz", image_uri=PCA_IMAGE, role=ROLE, name="pca-model",
                 **kwargs)


def pca_transformer() -> Transformer:
    return Transformer(model_name="pca-model", instance_count=1, instance_type="ml.c4.xlarge",
                       output_path="s3://sagemaker/transform-output")


def sklearn_processor() -> SKLearnProcessor:
    return SKLearnProcessor(framework_version="0.20.0", role=ROLE, instance_type="ml.m5.xlarge", instance_count=1,
                            sagemaker_session=SESSION)


EXPERIMENT = {"ExperimentName": "pca_experiment", "TrialName": "pca_trial", "TrialComponentDisplayName": "Training"}


def test_training_step_creation(oracle: dict[str, list[dict[str, Any]]]) -> None:
    step = TrainingStep("Training", estimator=pca_estimator(), job_name="TrainingJob",
                        experiment_config=EXPERIMENT,
                        output_data_config_path="s3://sagemaker-us-east-1-111111111111", tags=DEFAULT_TAGS)
    check(oracle, "test_training_step_creation", [step])


def test_training_step_creation_with_placeholders(oracle: dict[str, list[dict[str, Any]]]) -> None:
    execution_input = ExecutionInput(schema={
        "Data": str, "OutputPath": str, "HyperParameters": str, "ExperimentConfig": str, "Tags": str,
        "InstanceCount": int, "InstanceType": str, "MaxRun": int, "MetricDefinitions": str, "MaxWait": int,
        "CheckpointS3Uri": str, "CheckpointLocalPath": str, "EnableSagemakerMetrics": bool,
        "EnableNetworkIsolation": bool, "Environment": str,
    })
    step_input = StepInput(schema={"JobName": str})
    parameters = {
        "AlgorithmSpecification": {
            "MetricDefinitions": execution_input["MetricDefinitions"],
            "EnableSageMakerMetricsTimeSeries": execution_input["EnableSagemakerMetrics"],
        },
        "CheckpointConfig": {
            "S3Uri": execution_input["CheckpointS3Uri"],
            "LocalPath": execution_input["CheckpointLocalPath"],
        },
        "EnableNetworkIsolation": execution_input["EnableNetworkIsolation"],
        "Environment": execution_input["Environment"],
        "StoppingCondition": {
            "MaxRuntimeInSeconds": execution_input["MaxRun"],
            "MaxWaitTimeInSeconds": execution_input["MaxWait"],
        },
        "ResourceConfig": {
            "InstanceCount": execution_input["InstanceCount"],
            "InstanceType": execution_input["InstanceType"],
        },
    }
    step = TrainingStep("Training", parameters=parameters, estimator=pca_estimator(),
                        job_name=step_input["JobName"], data=execution_input["Data"],
                        output_data_config_path=execution_input["OutputPath"],
                        experiment_config=execution_input["ExperimentConfig"], tags=execution_input["Tags"],
                        mini_batch_size=1000, hyperparameters=execution_input["HyperParameters"])
    check(oracle, "test_training_step_creation_with_placeholders", [step])


def stringified_pca_hyperparameters(text: str) -> str:
    """docs/design/compat.md §11 #3: merged hyperparameters that the original sent as raw ints/bools are strings in stepfn."""
    return (text.replace('"feature_dim": 50000', '"feature_dim": "50000"')
            .replace('"subtract_mean": true', '"subtract_mean": "True"')
            .replace('"mini_batch_size": 200', '"mini_batch_size": "200"'))


def test_training_step_creation_with_hyperparameters_containing_placeholders(
        oracle: dict[str, list[dict[str, Any]]]) -> None:
    execution_input = ExecutionInput(schema={
        "Data": str, "OutputPath": str, "num_components": str, "HyperParamA": str, "HyperParamB": str,
    })
    step_input = StepInput(schema={"JobName": str})
    step = TrainingStep(
        "Training", estimator=pca_estimator(), job_name=step_input["JobName"], data=execution_input["Data"],
        output_data_config_path=execution_input["OutputPath"], experiment_config=EXPERIMENT, tags=DEFAULT_TAGS,
        hyperparameters={"num_components": execution_input["num_components"],
                         "HyperParamA": execution_input["HyperParamA"],
                         "HyperParamB": execution_input["HyperParamB"]},
    )
    check(oracle, "test_training_step_creation_with_hyperparameters_containing_placeholders", [step],
          stringified_pca_hyperparameters)
    assert '"feature_dim": 50000' in oracle[
        "tests/unit/test_sagemaker_steps.py::test_training_step_creation_with_hyperparameters_containing_placeholders"
    ][0]["json"], "the expected diff applies to this record"


def test_training_step_creation_with_debug_hook(oracle: dict[str, list[dict[str, Any]]]) -> None:
    hook = DebuggerHookConfig(s3_output_path="s3://sagemaker/output/debug", hook_parameters={"save_interval": "1"},
                              collection_configs=[CollectionConfig("hyperparameters"), CollectionConfig("metrics")])
    rules = [Rule.sagemaker(rule_configs.confusion(), rule_parameters={
        "category_no": "15", "min_diag": "0.7", "max_off_diag": "0.3", "start_step": "17", "end_step": "19"})]
    step = TrainingStep("Training", estimator=pca_estimator(debugger_hook_config=hook, rules=rules),
                        job_name="TrainingJob")
    check(oracle, "test_training_step_creation_with_debug_hook", [step])


def test_training_step_creation_with_falsy_debug_hook(oracle: dict[str, list[dict[str, Any]]]) -> None:
    step = TrainingStep("Training", estimator=pca_estimator(debugger_hook_config=False), job_name="TrainingJob")
    check(oracle, "test_training_step_creation_with_falsy_debug_hook", [step])


def test_training_step_creation_with_model(oracle: dict[str, list[dict[str, Any]]]) -> None:
    training = TrainingStep("Training", estimator=pca_estimator(), job_name="TrainingJob")
    model = ModelStep("Training - Save Model",
                      training.get_expected_model(model_name=training.output()["TrainingJobName"]))
    training.next(model)
    check(oracle, "test_training_step_creation_with_model", [training, model])


def test_training_step_creation_with_model_with_env(oracle: dict[str, list[dict[str, Any]]]) -> None:
    with pytest.warns(DroppedSettingWarning, match="environment"):
        training = TrainingStep("Training", estimator=pca_estimator_with_env(), job_name="TrainingJob")
    model = ModelStep("Training - Save Model",
                      training.get_expected_model(model_name=training.output()["TrainingJobName"]))
    training.next(model)
    check(oracle, "test_training_step_creation_with_model_with_env", [training, model])


def test_training_step_creation_with_framework(oracle: dict[str, list[dict[str, Any]]]) -> None:
    step = TrainingStep("Training", estimator=tensorflow_estimator(), data={"train": "s3://sagemaker/train"},
                        job_name="tensorflow-job", mini_batch_size=1024, tags=DEFAULT_TAGS)
    check(oracle, "test_training_step_creation_with_framework", [step])


def test_training_step_merges_hyperparameters_from_constructor_and_estimator(
        oracle: dict[str, list[dict[str, Any]]]) -> None:
    step = TrainingStep("Training", estimator=tensorflow_estimator(), data={"train": "s3://sagemaker/train"},
                        job_name="tensorflow-job", mini_batch_size=1024, hyperparameters={"key": "value"})
    check(oracle, "test_training_step_merges_hyperparameters_from_constructor_and_estimator", [step])


def test_training_step_uses_constructor_hyperparameters_when_duplicates_supplied_in_estimator(
        oracle: dict[str, list[dict[str, Any]]]) -> None:
    step = TrainingStep("Training", estimator=tensorflow_estimator(), data={"train": "s3://sagemaker/train"},
                        job_name="tensorflow-job", mini_batch_size=1024, hyperparameters={"training_steps": "500"})
    check(oracle, "test_training_step_uses_constructor_hyperparameters_when_duplicates_supplied_in_estimator",
          [step])


def test_transform_step_creation(oracle: dict[str, list[dict[str, Any]]]) -> None:
    step = TransformStep(
        "Inference", transformer=pca_transformer(), data="s3://sagemaker/inference", job_name="transform-job",
        model_name="pca-model",
        experiment_config={"ExperimentName": "pca_experiment", "TrialName": "pca_trial",
                           "TrialComponentDisplayName": "Transform"},
        tags=DEFAULT_TAGS, join_source="Input", output_filter="$[2:]", input_filter="$[1:]",
    )
    check(oracle, "test_transform_step_creation", [step])


def test_transform_step_creation_with_placeholder(oracle: dict[str, list[dict[str, Any]]]) -> None:
    names = ["data", "data_type", "content_type", "compression_type", "split_type", "input_filter",
             "output_filter", "join_source", "job_name", "model_name", "instance_count", "strategy",
             "assemble_with", "output_path", "output_kms_key", "accept", "max_concurrent_transforms",
             "max_payload", "tags", "env", "volume_kms_key", "experiment_config"]
    execution_input = ExecutionInput(schema={name: str for name in names})
    step_input = StepInput(schema={"instance_type": str})
    parameters = {
        "BatchStrategy": execution_input["strategy"],
        "TransformOutput": {
            "Accept": execution_input["accept"],
            "AssembleWith": execution_input["assemble_with"],
            "KmsKeyId": execution_input["output_kms_key"],
            "S3OutputPath": execution_input["output_path"],
        },
        "TransformResources": {
            "InstanceCount": execution_input["instance_count"],
            "InstanceType": step_input["instance_type"],
            "VolumeKmsKeyId": execution_input["volume_kms_key"],
        },
        "Environment": execution_input["env"],
        "MaxConcurrentTransforms": execution_input["max_concurrent_transforms"],
        "MaxPayloadInMB": execution_input["max_payload"],
    }
    step = TransformStep(
        "Inference", parameters=parameters, transformer=pca_transformer(), data=execution_input["data"],
        data_type=execution_input["data_type"], content_type=execution_input["content_type"],
        compression_type=execution_input["compression_type"], split_type=execution_input["split_type"],
        job_name=execution_input["job_name"], model_name=execution_input["model_name"],
        experiment_config=execution_input["experiment_config"], tags=execution_input["tags"],
        join_source=execution_input["join_source"], output_filter=execution_input["output_filter"],
        input_filter=execution_input["input_filter"],
    )
    check(oracle, "test_transform_step_creation_with_placeholder", [step])


def test_get_expected_model(oracle: dict[str, list[dict[str, Any]]]) -> None:
    training = TrainingStep("Training", estimator=pca_estimator(), job_name="TrainingJob")
    step = ModelStep("Create model", model=training.get_expected_model(), model_name="pca-model")
    check(oracle, "test_get_expected_model", [step])


def test_get_expected_model_with_env(oracle: dict[str, list[dict[str, Any]]]) -> None:
    with pytest.warns(DroppedSettingWarning, match="environment"):
        training = TrainingStep("Training", estimator=pca_estimator_with_env(), job_name="TrainingJob")
    step = ModelStep("Create model", model=training.get_expected_model(), model_name="pca-model")
    check(oracle, "test_get_expected_model_with_env", [step])


def test_get_expected_model_with_framework_estimator(oracle: dict[str, list[dict[str, Any]]]) -> None:
    training = TrainingStep("Training", estimator=tensorflow_estimator(), data={"train": "s3://sagemaker/train"},
                            job_name="tensorflow-job", mini_batch_size=1024)
    expected_model = training.get_expected_model()
    expected_model.entry_point = "tf_train.py"  # type: ignore[attr-defined]
    step = ModelStep("Create model", model=expected_model, model_name="tf-model")
    check(oracle, "test_get_expected_model_with_framework_estimator", [step])


def test_model_step_creation(oracle: dict[str, list[dict[str, Any]]]) -> None:
    step = ModelStep("Create model", model=pca_model(), model_name="pca-model", tags=DEFAULT_TAGS)
    check(oracle, "test_model_step_creation", [step])


def test_model_step_creation_with_placeholders(oracle: dict[str, list[dict[str, Any]]]) -> None:
    execution_input = ExecutionInput(schema={"Environment": dict, "Tags": str})
    step_input = StepInput(schema={"ModelName": str})
    step = ModelStep("Create model", model=pca_model(), model_name=step_input["ModelName"],
                     tags=execution_input["Tags"],
                     parameters={"PrimaryContainer": {"Environment": execution_input["Environment"]}})
    check(oracle, "test_model_step_creation_with_placeholders", [step])


def test_model_step_creation_with_env(oracle: dict[str, list[dict[str, Any]]]) -> None:
    model = pca_model(env={"JobName": "job_name", "ModelName": "model_name"})
    step = ModelStep("Create model", model=model, model_name="pca-model", tags=DEFAULT_TAGS)
    check(oracle, "test_model_step_creation_with_env", [step])


def test_endpoint_config_step_creation(oracle: dict[str, list[dict[str, Any]]]) -> None:
    capture = DataCaptureConfig(enable_capture=True, sampling_percentage=100,
                                destination_s3_uri="s3://sagemaker/datacapture")
    step = EndpointConfigStep("Endpoint Config", endpoint_config_name="MyEndpointConfig", model_name="pca-model",
                              initial_instance_count=1, instance_type="ml.p2.xlarge",
                              data_capture_config=capture, tags=DEFAULT_TAGS)
    check(oracle, "test_endpoint_config_step_creation", [step])


def test_endpoint_step_creation(oracle: dict[str, list[dict[str, Any]]]) -> None:
    create = EndpointStep("Endpoint", endpoint_name="MyEndPoint", endpoint_config_name="MyEndpointConfig",
                          tags=DEFAULT_TAGS)
    update = EndpointStep("Endpoint", endpoint_name="MyEndPoint", endpoint_config_name="MyEndpointConfig",
                          update=True, tags=DEFAULT_TAGS)
    check(oracle, "test_endpoint_step_creation", [create, update])


def processing_io() -> tuple[list[ProcessingInput], list[ProcessingOutput]]:
    inputs = [ProcessingInput(source="dataset.csv", destination="/opt/ml/processing/input")]
    outputs = [ProcessingOutput(source=f"/opt/ml/processing/output/{name}")
               for name in ("train", "validation", "test")]
    return inputs, outputs


def test_processing_step_creation(oracle: dict[str, list[dict[str, Any]]]) -> None:
    inputs, outputs = processing_io()
    step = ProcessingStep("Feature Transformation", sklearn_processor(), "MyProcessingJob", inputs=inputs,
                          outputs=outputs)
    check(oracle, "test_processing_step_creation", [step])


def test_processing_step_creation_with_placeholders(oracle: dict[str, list[dict[str, Any]]]) -> None:
    execution_input = ExecutionInput(schema={
        "image_uri": str, "instance_count": int, "entrypoint": str, "output_kms_key": str, "role": str, "env": str,
        "volume_size_in_gb": int, "volume_kms_key": str, "max_runtime_in_seconds": int, "tags": [{str: str}],
        "container_arguments": [str],
    })
    step_input = StepInput(schema={"instance_type": str})
    parameters = {
        "AppSpecification": {"ContainerEntrypoint": execution_input["entrypoint"],
                             "ImageUri": execution_input["image_uri"]},
        "Environment": execution_input["env"],
        "ProcessingOutputConfig": {"KmsKeyId": execution_input["output_kms_key"]},
        "ProcessingResources": {"ClusterConfig": {
            "InstanceCount": execution_input["instance_count"],
            "InstanceType": step_input["instance_type"],
            "VolumeKmsKeyId": execution_input["volume_kms_key"],
            "VolumeSizeInGB": execution_input["volume_size_in_gb"],
        }},
        "RoleArn": execution_input["role"],
        "StoppingCondition": {"MaxRuntimeInSeconds": execution_input["max_runtime_in_seconds"]},
        "Tags": execution_input["tags"],
    }
    inputs, outputs = processing_io()
    step = ProcessingStep("Feature Transformation", sklearn_processor(), "MyProcessingJob",
                          container_entrypoint=execution_input["entrypoint"],
                          container_arguments=execution_input["container_arguments"],
                          kms_key_id=execution_input["output_kms_key"], inputs=inputs, outputs=outputs,
                          parameters=parameters)
    check(oracle, "test_processing_step_creation_with_placeholders", [step])


_RANDOM_JOB_NAME = re.compile(r'(\\"sagemaker-tensorflow-)\d{4}(-\d\d){5}-\d{3}(\\")')


def masked(text: str) -> str:
    return _RANDOM_JOB_NAME.sub(r"\1<ts>\3", text)


def tuner_ranges() -> dict[str, Any]:
    return {"extra_center_factor": IntegerParameter(4, 10),
            "init_method": CategoricalParameter(["kmeans++", "random"]),
            "epochs": IntegerParameter(1, 2)}


def test_tuning_step_creation_with_framework_estimator(oracle: dict[str, list[dict[str, Any]]]) -> None:
    tuner = HyperparameterTuner(estimator=tensorflow_estimator(), objective_metric_name="test:msd",
                                hyperparameter_ranges=tuner_ranges(), objective_type="Minimize", max_jobs=2,
                                max_parallel_jobs=2)
    step = TuningStep("Tuning", tuner=tuner, job_name="tensorflow-job", data={"train": "s3://sagemaker/train"},
                      tags=DEFAULT_TAGS)
    produced = json.dumps(step.to_dict())
    assert _RANDOM_JOB_NAME.search(produced)
    record = oracle["tests/unit/test_sagemaker_steps.py::test_tuning_step_creation_with_framework_estimator"][0]
    assert masked(produced) == masked(record["json"])


def test_tuning_step_creation_with_placeholders(oracle: dict[str, list[dict[str, Any]]]) -> None:
    execution_input = ExecutionInput(schema={
        "data_input": str, "tags": dict, "objective_metric_name": str, "hyperparameter_ranges": str,
        "objective_type": str, "max_jobs": int, "max_parallel_jobs": int, "early_stopping_type": str,
        "strategy": str,
    })
    step_input = StepInput(schema={"job_name": str})
    tuner = HyperparameterTuner(
        estimator=tensorflow_estimator(), objective_metric_name=execution_input["objective_metric_name"],
        hyperparameter_ranges=tuner_ranges(), objective_type=execution_input["objective_type"],
        max_jobs=execution_input["max_jobs"], max_parallel_jobs=execution_input["max_parallel_jobs"],
        early_stopping_type=execution_input["early_stopping_type"], strategy=execution_input["strategy"],
    )
    parameters = {"TrainingJobDefinition": {"HyperParameterRanges": execution_input["hyperparameter_ranges"]}}
    step = TuningStep("Tuning", parameters=parameters, tuner=tuner, job_name=step_input["job_name"],
                      data=execution_input["data_input"], tags=execution_input["tags"])
    produced = json.dumps(step.to_dict())
    record = oracle["tests/unit/test_sagemaker_steps.py::test_tuning_step_creation_with_placeholders"][0]
    assert masked(produced) == masked(record["json"])


def test_every_sagemaker_record_is_covered(oracle: dict[str, list[dict[str, Any]]]) -> None:
    covered = {name.removeprefix("test_") for name in globals() if name.startswith("test_")}
    for test in oracle:
        if test.startswith("tests/unit/test_sagemaker_steps.py::"):
            assert test.split("::")[1].removeprefix("test_") in covered, test
