"""A TrainingStep for every estimator kind and every ``data`` form yields a request botocore accepts.

Each step's Parameters (with the run-time placeholders resolved the way Step Functions resolves them) must pass
botocore's own ``validate_parameters`` for CreateTrainingJob and stepfn's stricter check (enums, patterns,
lengths), which are what SageMaker itself enforces.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import botocore.session
import pytest
from botocore.validate import validate_parameters

from stepfn.inputs import ExecutionInput
from stepfn.sagemaker import (
    KNN,
    LDA,
    NTM,
    PCA,
    Estimator,
    EstimatorBase,
    FactorizationMachines,
    FileSystemInput,
    HuggingFace,
    IPInsights,
    KMeans,
    LinearLearner,
    Object2Vec,
    PyTorch,
    RandomCutForest,
    RecordSet,
    Session,
    SKLearn,
    TensorFlow,
    TrainingInput,
    XGBoost,
    validate_request,
)
from stepfn.steps import TrainingStep

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
SESSION = Session(region_name="us-east-1", default_bucket="my-bucket")
EXECUTION_INPUT = ExecutionInput(schema={"Data": str, "Validation": str})
RUN_INPUT = {"Data": "s3://my-bucket/run/train", "Validation": "s3://my-bucket/run/validation"}


@pytest.fixture(autouse=True)
def _region(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


@pytest.fixture(scope="module")
def create_training_job_shape() -> Any:
    model = botocore.session.get_session().get_service_model("sagemaker")
    return model.operation_model("CreateTrainingJob").input_shape


def common(instance_type: str = "ml.m5.xlarge") -> dict[str, Any]:
    return {"role": ROLE, "instance_count": 1, "instance_type": instance_type,
            "output_path": "s3://my-bucket/output", "sagemaker_session": SESSION}


SCRIPT = {"entry_point": "train.py", "source_dir": "s3://my-bucket/code/sourcedir.tar.gz",
          "hyperparameters": {"epochs": 3, "lr": 0.1, "optimizer": "adam"}}

SCRIPT_ESTIMATORS: dict[str, Callable[[], EstimatorBase]] = {
    "byo": lambda: Estimator("123456789012.dkr.ecr.us-east-1.amazonaws.com/mine:latest",
                             hyperparameters={"epochs": 3, "verbose": True}, **common()),
    "sklearn": lambda: SKLearn(framework_version="1.2-1", **SCRIPT, **common()),
    "pytorch": lambda: PyTorch(framework_version="1.8.0", py_version="py3", **SCRIPT,
                               **common("ml.p3.2xlarge")),
    "xgboost": lambda: XGBoost(framework_version="1.7-1", **SCRIPT, **common()),
    "tensorflow": lambda: TensorFlow(framework_version="2.11", py_version="py39", **SCRIPT, **common()),
    "huggingface": lambda: HuggingFace(py_version="py38", transformers_version="4.11.0",
                                       pytorch_version="1.9.0", **SCRIPT, **common("ml.p3.2xlarge")),
}

DATA_FORMS: dict[str, Any] = {
    "uri": "s3://my-bucket/train",
    "channels": {"train": "s3://my-bucket/train", "validation": "s3://my-bucket/validation"},
    "training_inputs": {
        "train": TrainingInput("s3://my-bucket/train", content_type="text/csv", compression="Gzip",
                               input_mode="Pipe"),
        "validation": TrainingInput("s3://my-bucket/validation.manifest", s3_data_type="ManifestFile",
                                    distribution="ShardedByS3Key"),
    },
    "training_input": TrainingInput("s3://my-bucket/train", content_type="application/x-parquet"),
    "file_system": FileSystemInput("fs-0123456789abcdef0", "EFS", "/data/train"),
    "placeholder": EXECUTION_INPUT["Data"],
    "channel_placeholders": {"train": EXECUTION_INPUT["Data"], "validation": EXECUTION_INPUT["Validation"]},
    "none": None,
}

BUILT_INS: dict[str, Callable[[], EstimatorBase]] = {
    "kmeans": lambda: KMeans(k=3, init_method="kmeans++", eval_metrics=["msd", "ssd"], **common()),
    "pca": lambda: PCA(num_components=2, algorithm_mode="randomized", subtract_mean=True, **common()),
    "linear_learner": lambda: LinearLearner(predictor_type="regressor", epochs=4, **common()),
    "factorization_machines": lambda: FactorizationMachines(num_factors=4, predictor_type="regressor",
                                                            **common()),
    "ntm": lambda: NTM(num_topics=5, encoder_layers=[10, 5], **common()),
    "lda": lambda: LDA(role=ROLE, instance_type="ml.c5.xlarge", num_topics=3, output_path="s3://my-bucket/output",
                       sagemaker_session=SESSION),
    "random_cut_forest": lambda: RandomCutForest(num_trees=50, num_samples_per_tree=256, **common()),
    "knn": lambda: KNN(k=3, sample_size=100, predictor_type="classifier", **common()),
    "ip_insights": lambda: IPInsights(num_entity_vectors=10, vector_dim=8, **common()),
    "object2vec": lambda: Object2Vec(epochs=1, enc0_max_seq_len=10, enc0_vocab_size=100, enc_dim=16, **common()),
}

RECORDS = RecordSet("s3://my-bucket/records/.amazon.manifest", num_records=100, feature_dim=12)
TEST_RECORDS = RecordSet("s3://my-bucket/records-test/", num_records=10, feature_dim=12, s3_data_type="S3Prefix",
                         channel="test")
RECORD_FORMS: dict[str, Any] = {"record_set": RECORDS, "record_sets": [RECORDS, TEST_RECORDS]}
MINI_BATCH = {"random_cut_forest": 1000}


def resolved(parameters: dict[str, Any]) -> dict[str, Any]:
    """The Parameters as Step Functions passes them on: each ``"K.$"`` path replaced by its run-time value."""
    result: dict[str, Any] = {}
    for key, value in parameters.items():
        if key.endswith(".$"):
            name = value.removeprefix("$$.Execution.Input['").removesuffix("']")
            result[key[:-2]] = RUN_INPUT[name]
        elif isinstance(value, dict):
            result[key] = resolved(value)
        elif isinstance(value, list):
            result[key] = [resolved(v) if isinstance(v, dict) else v for v in value]
        else:
            result[key] = value
    return result


def assert_valid(request: dict[str, Any], shape: Any) -> None:
    validate_parameters(request, shape)
    validate_request("CreateTrainingJob", request)
    assert all(isinstance(v, str) for v in request.get("HyperParameters", {}).values())


@pytest.mark.parametrize("data_form", sorted(DATA_FORMS))
@pytest.mark.parametrize("kind", sorted(SCRIPT_ESTIMATORS))
def test_script_and_byo_estimators(kind: str, data_form: str, create_training_job_shape: Any) -> None:
    step = TrainingStep("Train", estimator=SCRIPT_ESTIMATORS[kind](), job_name="my-job-1",
                        data=DATA_FORMS[data_form], hyperparameters={"batch_size": 64},
                        tags={"team": "ml"}, experiment_config={"ExperimentName": "exp"})
    state = step.to_dict()
    assert state["Resource"] == "arn:aws:states:::sagemaker:createTrainingJob.sync"
    request = resolved(state["Parameters"])
    assert_valid(request, create_training_job_shape)
    assert request["HyperParameters"]["batch_size"] == "64"
    if kind != "byo":
        assert request["HyperParameters"]["sagemaker_program"] == '"train.py"'
        assert request["HyperParameters"]["sagemaker_submit_directory"] == '"s3://my-bucket/code/sourcedir.tar.gz"'
        assert request["HyperParameters"]["epochs"] == "3"
        assert request["HyperParameters"]["optimizer"] == '"adam"'
        assert request["DebugHookConfig"] == {"S3OutputPath": "s3://my-bucket/output"}
    if DATA_FORMS[data_form] is None:
        assert "InputDataConfig" not in request
    else:
        assert request["InputDataConfig"][-1]["ChannelName"] in ("training", "validation")


@pytest.mark.parametrize("data_form", sorted(RECORD_FORMS))
@pytest.mark.parametrize("kind", sorted(BUILT_INS))
def test_built_in_algorithms_with_record_sets(kind: str, data_form: str, create_training_job_shape: Any) -> None:
    mini_batch_size = MINI_BATCH.get(kind, 50)
    step = TrainingStep("Train", estimator=BUILT_INS[kind](), job_name="algo-job", data=RECORD_FORMS[data_form],
                        mini_batch_size=mini_batch_size)
    request = step.to_dict()["Parameters"]
    assert_valid(request, create_training_job_shape)
    hyperparameters = request["HyperParameters"]
    assert list(hyperparameters)[-2:] == ["feature_dim", "mini_batch_size"]
    assert hyperparameters["feature_dim"] == "12"
    assert hyperparameters["mini_batch_size"] == str(mini_batch_size)
    channels = request["InputDataConfig"]
    assert channels[0] == {
        "DataSource": {"S3DataSource": {"S3DataType": "ManifestFile",
                                        "S3Uri": "s3://my-bucket/records/.amazon.manifest",
                                        "S3DataDistributionType": "ShardedByS3Key"}},
        "ChannelName": "train",
    }
    assert [c["ChannelName"] for c in channels] == (["train", "test"] if data_form == "record_sets" else ["train"])
    repository = request["AlgorithmSpecification"]["TrainingImage"].split("/")[1]
    assert repository.endswith(":1")


def test_built_in_algorithms_reject_other_data() -> None:
    with pytest.raises(TypeError, match="Training data must be represented in RecordSet or list of RecordSets"):
        TrainingStep("Train", estimator=BUILT_INS["kmeans"](), job_name="j", data="s3://my-bucket/train")


def test_hyperparameters_are_strings_in_every_request(create_training_job_shape: Any) -> None:
    step = TrainingStep("Train", estimator=SCRIPT_ESTIMATORS["byo"](), job_name="j",
                        hyperparameters={"lr": 0.5, "layers": [1, 2], "flag": False, "name": "x"})
    request = step.to_dict()["Parameters"]
    assert request["HyperParameters"] == {"epochs": "3", "verbose": "True", "lr": "0.5", "layers": "[1, 2]",
                                          "flag": "False", "name": "x"}
    framework = TrainingStep("Train", estimator=SCRIPT_ESTIMATORS["sklearn"](), job_name="j",
                             hyperparameters={"lr": 0.5, "flag": False, "name": "x"})
    encoded = framework.to_dict()["Parameters"]["HyperParameters"]
    assert (encoded["lr"], encoded["flag"], encoded["name"]) == ("0.5", "false", "x")
    assert_valid(resolved(framework.to_dict()["Parameters"]), create_training_job_shape)


def test_unresolved_request_reports_problems() -> None:
    """The untouched original-style example is not a valid request; validation names each member."""
    step = TrainingStep("Train", estimator=Estimator("img:1", role="execution-role", instance_count=1,
                                                     instance_type="ml.c4.xlarge", sagemaker_session=SESSION),
                        job_name="bad_name!")
    with pytest.raises(ValueError) as error:
        validate_request("CreateTrainingJob", step.to_dict()["Parameters"])
    text = str(error.value)
    assert "TrainingJobName" in text and "RoleArn" in text
    assert json.dumps(step.to_dict()["Parameters"]["OutputDataConfig"]) == '{"S3OutputPath": "s3://my-bucket/"}'
