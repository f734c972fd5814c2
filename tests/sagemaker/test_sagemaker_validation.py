"""Request validation against botocore's SageMaker model, plus what botocore leaves out (docs/design/sagemaker-contract.md §2.5)."""

from __future__ import annotations

import pickle

import pytest

from stepfn.inputs import ExecutionInput
from stepfn.sagemaker import RequestValidationError, validate_request
from stepfn.sagemaker.validation import request_problems

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"


def training_request(**overrides: object) -> dict[str, object]:
    request: dict[str, object] = {
        "AlgorithmSpecification": {"TrainingImage": "123456789012.dkr.ecr.us-east-1.amazonaws.com/x:1",
                                   "TrainingInputMode": "File"},
        "OutputDataConfig": {"S3OutputPath": "s3://bucket/out"},
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
        "ResourceConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 30},
        "RoleArn": ROLE,
        "HyperParameters": {"epochs": "3"},
        "TrainingJobName": "job-1",
    }
    request.update(overrides)
    return request


def test_valid_request_passes() -> None:
    validate_request("CreateTrainingJob", training_request())


@pytest.mark.parametrize(("overrides", "path", "code"), [
    ({"TrainingJobName": "bad_name!"}, "TrainingJobName", "pattern"),
    ({"TrainingJobName": "x" * 64}, "TrainingJobName", "max"),
    ({"RoleArn": "execution-role"}, "RoleArn", "min"),
    ({"HyperParameters": {"epochs": 3}}, "HyperParameters.epochs", "type"),
    ({"ResourceConfig": {"InstanceCount": 1, "InstanceType": "local", "VolumeSizeInGB": 30}},
     "ResourceConfig.InstanceType", "enum"),
    ({"StoppingCondition": {"MaxRuntimeInSeconds": 0}}, "StoppingCondition.MaxRuntimeInSeconds", "min"),
    ({"EnableManagedSpotTraining": "yes"}, "EnableManagedSpotTraining", "type"),
    ({"Unknown": 1}, "Unknown", "unknown"),
    ({"StoppingCondition": None}, "StoppingCondition", "required"),
])
def test_each_problem_names_the_member(overrides: dict[str, object], path: str, code: str) -> None:
    with pytest.raises(RequestValidationError) as error:
        validate_request("CreateTrainingJob", training_request(**overrides))
    assert (path, code) in [(d.path, d.code) for d in error.value.diagnostics]
    assert path in str(error.value)
    assert isinstance(error.value, ValueError)


def test_errors_name_the_builder_argument() -> None:
    from stepfn.sagemaker import Estimator, Session, build_training_job_request

    estimator = Estimator("123456789012.dkr.ecr.us-east-1.amazonaws.com/x:1", role=ROLE, instance_count=1,
                          instance_type="ml.m5.huge", sagemaker_session=Session(region_name="us-east-1", default_bucket="bucket"),
                          hyperparameters={"lr": 0.1})
    with pytest.raises(RequestValidationError) as error:
        build_training_job_request(estimator, "s3://bucket/train", "job_1")
    assert {(d.path, d.field) for d in error.value.diagnostics} == {
        ("TrainingJobName", "job_name"), ("ResourceConfig.InstanceType", "instance_type")}
    assert "(argument 'instance_type')" in str(error.value)


def test_every_problem_is_listed_at_once() -> None:
    problems = request_problems("CreateTrainingJob", {"TrainingJobName": "a_b"})
    assert {p.path for p in problems} >= {"TrainingJobName", "RoleArn", "OutputDataConfig",
                                          "AlgorithmSpecification", "ResourceConfig", "StoppingCondition"}


def test_placeholders_and_path_members_count_as_present() -> None:
    execution_input = ExecutionInput(schema={"Name": str, "Role": str})
    request = training_request(TrainingJobName=execution_input["Name"])
    del request["RoleArn"]
    request["RoleArn.$"] = "$$.Execution.Input['Role']"
    validate_request("CreateTrainingJob", request)


def test_other_operations() -> None:
    validate_request("CreateModel", {"ModelName": "m-1", "ExecutionRoleArn": ROLE,
                                     "PrimaryContainer": {"Image": "img:1", "Environment": {"A": "b"}}})
    with pytest.raises(RequestValidationError, match="ProductionVariants"):
        validate_request("CreateEndpointConfig", {"EndpointConfigName": "c", "ProductionVariants": []})


def test_error_pickles() -> None:
    with pytest.raises(RequestValidationError) as error:
        validate_request("CreateModel", {"ModelName": "bad name"})
    copy = pickle.loads(pickle.dumps(error.value))
    assert copy.diagnostics == error.value.diagnostics
    assert str(copy) == str(error.value)
