"""Golden examples 04-07 (docs/design/compat.md §12.1): the SageMaker steps reproduce the original's bytes.

Allowed differences are the documented fixes: §11 #3 (hyperparameters are always strings) and the random
``sagemaker_job_name`` of a tuning job (§11 #14), which is masked.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from stepfn.inputs import ExecutionInput
from stepfn.sagemaker import (
    CategoricalParameter,
    DebuggerHookConfig,
    Estimator,
    HyperparameterTuner,
    IntegerParameter,
    Model,
    ProcessingInput,
    ProcessingOutput,
    Session,
    SKLearnProcessor,
    TensorFlow,
    Transformer,
)
from stepfn.steps import (
    Chain,
    EndpointConfigStep,
    EndpointStep,
    Graph,
    ModelStep,
    ProcessingStep,
    TrainingStep,
    TransformStep,
    TuningStep,
)

ROLE = "execution-role"
PCA_IMAGE = "382416733822.dkr.ecr.us-east-1.amazonaws.com/pca:1"
TENSORFLOW_IMAGE = "520713654638.dkr.ecr.us-east-1.amazonaws.com/sagemaker-tensorflow:1.13-gpu-py2"
GOLDEN_TAGS = {"Purpose": "golden"}


@pytest.fixture(autouse=True)
def _region(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_PARTITION", raising=False)
    monkeypatch.delenv("AWS_REGION", raising=False)


@pytest.fixture
def session() -> Session:
    return Session(region_name="us-east-1", default_bucket="sagemaker")


def pca_estimator(session: Session, output_path: str = "s3://sagemaker/models") -> Estimator:
    estimator = Estimator(PCA_IMAGE, role=ROLE, instance_count=1, instance_type="ml.c4.xlarge",
                          output_path=output_path, sagemaker_session=session)
    estimator.set_hyperparameters(feature_dim=50000, num_components=10, subtract_mean=True,
                                  algorithm_mode="randomized", mini_batch_size=200)
    return estimator


def tensorflow_estimator(session: Session) -> TensorFlow:
    estimator = TensorFlow(
        entry_point="tf_train.py", role=ROLE, framework_version="1.13", instance_count=1,
        instance_type="ml.p2.xlarge", output_path="s3://sagemaker/models", source_dir="s3://sagemaker/source",
        image_uri=TENSORFLOW_IMAGE, model_dir=False, sagemaker_session=session,
        hyperparameters={"training_steps": 1000, "evaluation_steps": 100,
                         "checkpoint_path": "s3://sagemaker/models/sagemaker-tensorflow/checkpoints"},
    )
    estimator.debugger_hook_config = DebuggerHookConfig(s3_output_path="s3://sagemaker/models/debug")
    return estimator


def golden_text(golden_dir: Path, name: str) -> str:
    return (golden_dir / name).read_text()


def pretty(value: object) -> str:
    return json.dumps(value, indent=4)


def test_04_training_model_endpoint(golden_dir: Path, session: Session) -> None:
    execution_input = ExecutionInput(schema={"Data": str, "JobName": str, "ModelName": str, "EndpointName": str})
    estimator = pca_estimator(session, output_path="s3://bucket/out")
    train = TrainingStep("Train", estimator=estimator, job_name=execution_input["JobName"],
                         data=execution_input["Data"], hyperparameters={"num_components": 20}, tags=GOLDEN_TAGS)
    save = ModelStep("Save Model", model=train.get_expected_model(), model_name=execution_input["ModelName"])
    config = EndpointConfigStep("Endpoint Config", endpoint_config_name=execution_input["ModelName"],
                                model_name=execution_input["ModelName"], initial_instance_count=1,
                                instance_type="ml.m5.large")
    endpoint = EndpointStep("Endpoint", endpoint_name=execution_input["EndpointName"],
                            endpoint_config_name=execution_input["ModelName"])
    definition = Graph(Chain([train, save, config, endpoint])).to_dict()
    expected = json.loads(golden_text(golden_dir, "04_training_model_endpoint.definition.json"))
    # docs/design/compat.md §11 #3: the original sent the merged hyperparameters unconverted; stepfn sends strings.
    expected["States"]["Train"]["Parameters"]["HyperParameters"] = {
        "feature_dim": "50000", "num_components": "20", "subtract_mean": "True",
        "algorithm_mode": "randomized", "mini_batch_size": "200",
    }
    assert pretty(definition) == pretty(expected)


def test_04b_training_without_wait_and_fixed_name(golden_dir: Path, session: Session) -> None:
    step = TrainingStep("Train", estimator=pca_estimator(session), job_name="fixed-name", mini_batch_size=1000,
                        wait_for_completion=False)
    assert pretty(step.to_dict()) == golden_text(golden_dir, "04b_training_nowait_fixedname.state.json")


def test_04c_training_framework_and_04d_its_model(golden_dir: Path, session: Session) -> None:
    step = TrainingStep("Train", estimator=tensorflow_estimator(session), data={"train": "s3://sagemaker/train"},
                        job_name="tensorflow-job")
    assert pretty(step.to_dict()) == golden_text(golden_dir, "04c_training_framework.state.json")
    model_step = ModelStep("Save Model", model=step.get_expected_model(), model_name="tf-model")
    assert pretty(model_step.to_dict()) == golden_text(golden_dir, "04d_model_from_framework_estimator.state.json")


def test_04e_model_plain(golden_dir: Path) -> None:
    model = Model(model_data="s3://sagemaker/models/pca.tar.gz", image_uri=PCA_IMAGE, role=ROLE, name="pca-model")
    step = ModelStep("Save Model", model=model, model_name="pca-model")
    assert pretty(step.to_dict()) == golden_text(golden_dir, "04e_model_plain.state.json")


def test_04f_endpoint_update(golden_dir: Path) -> None:
    step = EndpointStep("Endpoint", endpoint_name="e", endpoint_config_name="c", tags={"a": "b"}, update=True)
    assert pretty(step.to_dict()) == golden_text(golden_dir, "04f_endpoint_update.state.json")


def pca_transformer() -> Transformer:
    return Transformer(model_name="pca-model", instance_count=1, instance_type="ml.c4.xlarge",
                       output_path="s3://sagemaker/transform-output")


def test_05_transform(golden_dir: Path) -> None:
    step = TransformStep("Transform", transformer=pca_transformer(), job_name="transform-job",
                         model_name="pca-model", data="s3://sagemaker/inference", content_type="text/csv",
                         split_type="Line", experiment_config={"ExperimentName": "e"}, tags=GOLDEN_TAGS,
                         join_source="Input", output_filter="$[2:]", input_filter="$[1:]")
    assert pretty(step.to_dict()) == golden_text(golden_dir, "05_transform.state.json")


def test_05b_transform_placeholders(golden_dir: Path) -> None:
    execution_input = ExecutionInput(schema={"JobName": str, "ModelName": str, "Data": str})
    step = TransformStep("Transform", transformer=pca_transformer(), job_name=execution_input["JobName"],
                         model_name=execution_input["ModelName"], data=execution_input["Data"],
                         wait_for_completion=False)
    assert pretty(step.to_dict()) == golden_text(golden_dir, "05b_transform_placeholder.state.json")


_RANDOM_JOB_NAME = re.compile(r'(\\"sagemaker-tensorflow-)\d{4}(-\d\d){5}-\d{3}(\\")')


def mask_job_name(text: str) -> str:
    return _RANDOM_JOB_NAME.sub(r"\1<ts>\3", text)


def test_06_tuning(golden_dir: Path, session: Session) -> None:
    tuner = HyperparameterTuner(
        estimator=tensorflow_estimator(session), objective_metric_name="test:msd",
        hyperparameter_ranges={"extra_center_factor": IntegerParameter(4, 10),
                               "init_method": CategoricalParameter(["kmeans++", "random"])},
        objective_type="Minimize", max_jobs=2, max_parallel_jobs=2,
    )
    step = TuningStep("Tuning", tuner=tuner, job_name="tune-job", data={"train": "s3://sagemaker/train"},
                      tags=GOLDEN_TAGS)
    produced = pretty(step.to_dict())
    assert _RANDOM_JOB_NAME.search(produced), "the inner job name is generated as sagemaker v2 did"
    assert mask_job_name(produced) == mask_job_name(golden_text(golden_dir, "06_tuning.state.json"))


def sklearn_processor(session: Session) -> SKLearnProcessor:
    return SKLearnProcessor(framework_version="0.20.0", role=ROLE, instance_type="ml.m5.xlarge", instance_count=1,
                            sagemaker_session=session)


def test_07_processing(golden_dir: Path, session: Session) -> None:
    step = ProcessingStep(
        "Processing", sklearn_processor(session), "MyProcessingJob",
        inputs=[ProcessingInput(source="s3://b/dataset.csv", destination="/opt/ml/processing/input",
                                input_name="in")],
        outputs=[ProcessingOutput(source="/opt/ml/processing/output/train", destination="s3://b/out",
                                  output_name="train")],
        experiment_config={"ExperimentName": "e"},
        container_arguments=["--a", "1"],
        container_entrypoint=["python3", "/opt/ml/processing/input/code/p.py"],
        tags=GOLDEN_TAGS,
    )
    assert pretty(step.to_dict()) == golden_text(golden_dir, "07_processing.state.json")


def test_07b_processing_placeholder_job_name(golden_dir: Path, session: Session) -> None:
    execution_input = ExecutionInput(schema={"JobName": str, "ModelName": str})
    step = ProcessingStep("Processing", sklearn_processor(session), execution_input["JobName"],
                          wait_for_completion=False, parameters={"Environment": execution_input["ModelName"]})
    assert pretty(step.to_dict()) == golden_text(golden_dir, "07b_processing_placeholder_jobname.state.json")
