"""The ``build_*_request`` builders give requests botocore accepts for every SageMaker operation stepfn drives."""

from __future__ import annotations

from typing import Any

import botocore.session
import pytest
from botocore.validate import validate_parameters

from stepfn.sagemaker import (
    CategoricalParameter,
    ContinuousParameter,
    DataCaptureConfig,
    Estimator,
    HyperparameterTuner,
    IntegerParameter,
    Model,
    NetworkConfig,
    PipelineModel,
    ProcessingInput,
    ProcessingOutput,
    Processor,
    RequestValidationError,
    Session,
    SKLearn,
    SKLearnModel,
    SKLearnProcessor,
    Transformer,
    WarmStartConfig,
    WarmStartTypes,
    build_endpoint_config_request,
    build_endpoint_request,
    build_model_request,
    build_processing_job_request,
    build_training_job_request,
    build_transform_job_request,
    build_tuning_job_request,
)
from stepfn.sagemaker.session import local_default_bucket

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
SESSION = Session(region_name="us-west-2", default_bucket="my-bucket")
IMAGE = "123456789012.dkr.ecr.us-west-2.amazonaws.com/mine:1"


@pytest.fixture(scope="module")
def model() -> Any:
    return botocore.session.get_session().get_service_model("sagemaker")


def botocore_accepts(service_model: Any, operation: str, request: dict[str, Any]) -> None:
    validate_parameters(request, service_model.operation_model(operation).input_shape)


def sklearn_estimator() -> SKLearn:
    return SKLearn(entry_point="train.py", framework_version="1.2-1", role=ROLE, instance_count=1,
                   instance_type="ml.m5.large", source_dir="s3://my-bucket/code.tar.gz", sagemaker_session=SESSION,
                   output_path="s3://my-bucket/out", hyperparameters={"alpha": 0.5})


def test_training(model: Any) -> None:
    estimator = Estimator(IMAGE, role=ROLE, instance_count=2, instance_type="ml.m5.large",
                          sagemaker_session=SESSION, subnets=["subnet-1"], security_group_ids=["sg-1"],
                          use_spot_instances=True, max_wait=7200, max_run=3600, tags=[{"Key": "a", "Value": "b"}],
                          metric_definitions=[{"Name": "loss", "Regex": "loss=(\\S+)"}],
                          model_uri="s3://my-bucket/pretrained.tar.gz")
    request = build_training_job_request(estimator, "s3://my-bucket/train", "job-1")
    botocore_accepts(model, "CreateTrainingJob", request)
    assert request["OutputDataConfig"] == {"S3OutputPath": "s3://my-bucket/"}
    assert request["VpcConfig"] == {"Subnets": ["subnet-1"], "SecurityGroupIds": ["sg-1"]}
    assert request["EnableManagedSpotTraining"] is True
    assert request["StoppingCondition"] == {"MaxRuntimeInSeconds": 3600, "MaxWaitTimeInSeconds": 7200}
    assert request["InputDataConfig"][-1] == {
        "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://my-bucket/pretrained.tar.gz",
                                        "S3DataDistributionType": "FullyReplicated"}},
        "ContentType": "application/x-sagemaker-model", "InputMode": "File", "ChannelName": "model",
    }
    with pytest.raises(ValueError, match=r"Duplicate channel model not allowed\."):
        build_training_job_request(estimator, {"model": "s3://my-bucket/x"}, "job-1")
    with pytest.raises(RequestValidationError, match="TrainingJobName"):
        build_training_job_request(estimator, None, "job_1")


def test_models(model: Any) -> None:
    estimator = sklearn_estimator()
    build_training_job_request(estimator, "s3://my-bucket/train", "job-2")
    framework_model = estimator.create_model()
    request = build_model_request(framework_model, "ml.m5.large")
    botocore_accepts(model, "CreateModel", request)
    assert request["PrimaryContainer"]["Image"] == (
        "246618743249.dkr.ecr.us-west-2.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3")
    assert request["PrimaryContainer"]["Environment"] == {
        "SAGEMAKER_PROGRAM": "train.py", "SAGEMAKER_SUBMIT_DIRECTORY": "s3://my-bucket/code.tar.gz",
        "SAGEMAKER_CONTAINER_LOG_LEVEL": "20", "SAGEMAKER_REGION": "us-west-2",
    }
    assert request["PrimaryContainer"]["ModelDataUrl"] == "s3://my-bucket/out/job-2/output/model.tar.gz"
    assert request["ModelName"].startswith("sagemaker-scikit-learn-")
    plain = Model(IMAGE, "s3://my-bucket/m.tar.gz", ROLE, name="plain-1",
                  image_config={"RepositoryAccessMode": "Platform"})
    botocore_accepts(model, "CreateModel", build_model_request(plain))
    pipeline = PipelineModel([plain, SKLearnModel("s3://my-bucket/s.tar.gz", ROLE, "serve.py",
                                                  framework_version="1.2-1", name="sk-1",
                                                  sagemaker_session=SESSION)],
                             role=ROLE, name="pipe-1")
    request = build_model_request(pipeline, "ml.m5.large")
    botocore_accepts(model, "CreateModel", request)
    assert [c["Image"].rsplit("/", 1)[1] for c in request["Containers"]] == [
        "mine:1", "sagemaker-scikit-learn:1.2-1-cpu-py3"]
    assert request["Containers"][1]["Environment"]["SAGEMAKER_SUBMIT_DIRECTORY"] == (
        "s3://my-bucket/sk-1/source/sourcedir.tar.gz")


def test_endpoints(model: Any) -> None:
    capture = DataCaptureConfig(True, sampling_percentage=50, sagemaker_session=SESSION, capture_options=["REQUEST"])
    request = build_endpoint_config_request("config-1", "model-1", 1, "ml.m5.large",
                                            data_capture_config=capture)
    botocore_accepts(model, "CreateEndpointConfig", request)
    assert request["DataCaptureConfig"]["DestinationS3Uri"] == "s3://my-bucket/model-monitor/data-capture"
    assert request["DataCaptureConfig"]["CaptureOptions"] == [{"CaptureMode": "Input"}]
    for update in (False, True):
        endpoint = build_endpoint_request("endpoint-1", "config-1", update=update)
        botocore_accepts(model, "UpdateEndpoint" if update else "CreateEndpoint", endpoint)


def test_transform(model: Any) -> None:
    transformer = Transformer("model-1", 1, "ml.m5.large", strategy="MultiRecord", assemble_with="Line",
                              accept="text/csv", max_payload=6, env={"A": "1"}, sagemaker_session=SESSION,
                              base_transform_job_name="batch")
    request = build_transform_job_request(transformer, "s3://my-bucket/in", content_type="text/csv",
                                          split_type="Line", input_filter="$[1:]", join_source="Input")
    botocore_accepts(model, "CreateTransformJob", request)
    assert request["TransformJobName"].startswith("batch-")
    assert request["TransformOutput"] == {"S3OutputPath": f"s3://my-bucket/{request['TransformJobName']}",
                                         "AssembleWith": "Line", "Accept": "text/csv"}
    from_estimator = sklearn_estimator()
    build_training_job_request(from_estimator, "s3://my-bucket/train", "job-3")
    batch = from_estimator.transformer(1, "ml.m5.large")
    assert (batch.model_name, batch.env) == ("job-3", {})


def test_processing(model: Any) -> None:
    processor = SKLearnProcessor("1.2-1", ROLE, "ml.m5.large", 1, sagemaker_session=SESSION,
                                 network_config=NetworkConfig(True, ["sg-1"], ["subnet-1"], True),
                                 max_runtime_in_seconds=600, env={"MODE": "fast"})
    request = build_processing_job_request(
        processor, job_name="proc-1",
        inputs=[ProcessingInput("s3://my-bucket/raw", "/opt/ml/processing/input", input_name="raw")],
        outputs=[ProcessingOutput("/opt/ml/processing/output", "s3://my-bucket/clean", output_name="clean")],
        container_entrypoint=["python3", "/opt/ml/processing/input/code/run.py"],
    )
    botocore_accepts(model, "CreateProcessingJob", request)
    bare = build_processing_job_request(Processor(ROLE, IMAGE, 1, "ml.m5.large"), job_name="proc-2")
    assert "ProcessingInputs" not in bare and "ProcessingOutputConfig" not in bare
    botocore_accepts(model, "CreateProcessingJob", bare)


def test_tuning(model: Any) -> None:
    tuner = HyperparameterTuner(
        sklearn_estimator(), "validation:rmse",
        {"alpha": ContinuousParameter(0.01, 1.0, "Logarithmic"), "depth": IntegerParameter(2, 8),
         "kernel": CategoricalParameter(["rbf", "linear"])},
        metric_definitions=[{"Name": "validation:rmse", "Regex": "rmse=(\\S+)"}], objective_type="Minimize",
        max_jobs=4, max_parallel_jobs=2, strategy="Random",
        warm_start_config=WarmStartConfig(WarmStartTypes.TRANSFER_LEARNING, ["parent-1"]),
        tags=[{"Key": "a", "Value": "b"}],
    )
    request = build_tuning_job_request(tuner, {"train": "s3://my-bucket/train"}, "tune-1")
    botocore_accepts(model, "CreateHyperParameterTuningJob", request)
    ranges = request["HyperParameterTuningJobConfig"]["ParameterRanges"]
    assert ranges["CategoricalParameterRanges"] == [{"Name": "kernel", "Values": ['"rbf"', '"linear"']}]
    assert ranges["ContinuousParameterRanges"] == [
        {"Name": "alpha", "MinValue": "0.01", "MaxValue": "1.0", "ScalingType": "Logarithmic"}]
    definition = request["TrainingJobDefinition"]
    assert "alpha" not in definition["StaticHyperParameters"]
    assert definition["StaticHyperParameters"]["sagemaker_estimator_module"] == '"sagemaker.sklearn.estimator"'
    assert definition["AlgorithmSpecification"]["MetricDefinitions"][0]["Name"] == "validation:rmse"
    assert request["WarmStartConfig"] == {"WarmStartType": "TransferLearning",
                                          "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName":
                                                                              "parent-1"}]}
    generated = build_tuning_job_request(tuner, "s3://my-bucket/train")
    assert len(generated["HyperParameterTuningJobName"]) <= 32
    with pytest.raises(ValueError, match="Need to specify hyperparameter ranges"):
        HyperparameterTuner(sklearn_estimator(), "m", {})


def _no_aws_configuration(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    for name in ("AWS_DEFAULT_REGION", "AWS_REGION", "AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                 "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def test_a_local_session_needs_no_region_and_no_account(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    _no_aws_configuration(monkeypatch, tmp_path)
    framework = SKLearn(entry_point="train.py", framework_version="1.2-1", role=ROLE, instance_count=1,
                        instance_type="ml.m5.large")
    request = build_training_job_request(framework, "s3://b/train", "job-1")
    assert ".dkr.ecr.us-east-1.amazonaws.com/" in request["AlgorithmSpecification"]["TrainingImage"]
    # The default bucket is named as SageMaker names it, with the local account: no STS call (no credentials here).
    assert request["OutputDataConfig"]["S3OutputPath"] == "s3://sagemaker-us-east-1-123456789012/"
    assert Session().default_bucket() == local_default_bucket("us-east-1") == "sagemaker-us-east-1-123456789012"

    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")  # the configured region wins over the default
    assert Session().boto_region_name == "eu-west-1"
    assert Session().default_bucket() == "sagemaker-eu-west-1-123456789012"
    monkeypatch.setenv("AWS_REGION", "ap-south-1")
    assert Session().boto_region_name == "ap-south-1"
    assert Session(region_name="us-west-2", default_bucket="mine").default_bucket() == "mine"


def test_an_aws_session_still_needs_a_region(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    import boto3

    _no_aws_configuration(monkeypatch, tmp_path)
    framework = SKLearn(entry_point="train.py", framework_version="1.2-1", role=ROLE, instance_count=1,
                        instance_type="ml.m5.large", sagemaker_session=Session(boto_session=boto3.Session()))
    with pytest.raises(ValueError, match=r"Must setup local AWS configuration with a region supported by SageMaker\."):
        build_training_job_request(framework, "s3://b/train", "job-1")
def test_v1_argument_names_still_work_with_a_deprecation_warning() -> None:
    # sagemaker v2 kept train_instance_type & co. (renamed_kwargs); v1-era notebooks pass them to SKLearn.
    session = Session(region_name="us-east-1", default_bucket="bucket")
    with pytest.warns(DeprecationWarning) as caught:
        estimator = SKLearn(entry_point="train.py", train_instance_type="ml.m5.xlarge", train_instance_count=1,
                            train_volume_size=5, train_max_run=600, role="arn:aws:iam::111122223333:role/r",
                            framework_version="1.2-1", py_version="py3", sagemaker_session=session)
    assert {str(w.message).split()[0] for w in caught} == {"train_instance_type", "train_instance_count",
                                                             "train_volume_size", "train_max_run"}
    assert all(w.filename == __file__ for w in caught)
    request = build_training_job_request(estimator, {"train": "s3://bucket/train"}, job_name="v1-names")
    assert request["ResourceConfig"] == {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 5}
    assert request["StoppingCondition"] == {"MaxRuntimeInSeconds": 600}
    with pytest.raises(TypeError, match="unexpected keyword argument 'train_instance_typo'"):
        Estimator("image", "role", train_instance_typo="ml.m5.xlarge")


def test_default_bucket_without_credentials_names_the_fix(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    import boto3

    _no_aws_configuration(monkeypatch, tmp_path)
    session = Session(boto_session=boto3.Session(region_name="us-east-1"))  # an AWS session asks STS, as v2's
    estimator = SKLearn(entry_point="train.py", framework_version="1.2-1", role="arn:aws:iam::111122223333:role/r",
                        instance_count=1, instance_type="ml.m5.large", sagemaker_session=session)
    with pytest.raises(ValueError, match=r"Session\(region_name=\.\.\., default_bucket=\.\.\.\)") as raised:
        build_training_job_request(estimator, "s3://data/train", job_name="no-bucket")
    assert "Unable to locate credentials" in str(raised.value)


def test_s3_input_is_training_input_with_a_deprecation_warning() -> None:
    import stepfn.sagemaker as sagemaker

    with pytest.warns(DeprecationWarning) as caught:
        channel = sagemaker.s3_input("s3://bucket/train", content_type="libsvm")
    assert "sagemaker.session.s3_input has been renamed" in str(caught[0].message) and caught[0].filename == __file__
    assert isinstance(channel, sagemaker.TrainingInput)
    assert channel.config == sagemaker.TrainingInput("s3://bucket/train", content_type="libsvm").config
