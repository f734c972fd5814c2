"""Service integrations: patterns, partition resolution, the R port's extra steps (docs/design/compat.md §4, §9)."""

from __future__ import annotations

import logging
import re
from enum import Enum
from pathlib import Path

import pytest

from stepfn.inputs import ContextObject, ExecutionInput
from stepfn.steps import (
    ApiGatewayStep,
    AthenaGetQueryExecutionStep,
    AthenaGetQueryResultsStep,
    AthenaStartQueryExecutionStep,
    AthenaStopQueryExecutionStep,
    CodeBuildBatchDeleteBuildsStep,
    CodeBuildBatchGetReportsStep,
    CodeBuildStartBuildStep,
    CodeBuildStopBuildStep,
    DataBrewStartJobRunStep,
    EksCallStep,
    EksCreateClusterStep,
    EmrOnEksCreateVirtualClusterStep,
    EmrOnEksDeleteVirtualClusterStep,
    EmrOnEksStartJobRunStep,
    GlueDataBrewStartJobRunStep,
    LambdaStep,
    SnsPublishStep,
    StepFunctionsStartExecutionStep,
    StepfunctionsStartExecutionStep,
    utils,
)
from stepfn.steps import integration_resources as resources
from stepfn.steps.integration_resources import IntegrationPattern, get_service_integration_arn
from stepfn.steps.utils import merge_dicts, tags_dict_to_kv_list


def exact(text: str) -> str:
    """A ``match=`` pattern for exactly ``text``."""
    return f"^{re.escape(text)}$"


@pytest.fixture(autouse=True)
def _no_region(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("AWS_PARTITION", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    # The developer's own ~/.aws/config must not decide these tests' partition.
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))


def resource(step: object) -> str:
    return step.to_dict()["Resource"]  # type: ignore[attr-defined]


def test_service_integration_arn_forms() -> None:
    class Api(Enum):
        CreateTrainingJob = "createTrainingJob"

    assert utils.get_service_integration_arn("sagemaker", Api.CreateTrainingJob, IntegrationPattern.WaitForCompletion) == \
        "arn:aws:states:::sagemaker:createTrainingJob.sync"
    assert get_service_integration_arn("sns", "publish") == "arn:aws:states:::sns:publish"
    assert get_service_integration_arn("glue", "startJobRun", IntegrationPattern.WaitForCompletion) == \
        "arn:aws:states:::glue:startJobRun.sync"
    assert get_service_integration_arn("states", "startExecution", IntegrationPattern.WaitForCompletion, 2) == \
        "arn:aws:states:::states:startExecution.sync:2"
    assert get_service_integration_arn("sqs", "sendMessage", IntegrationPattern.WaitForTaskToken, partition="aws-cn") == \
        "arn:aws-cn:states:::sqs:sendMessage.waitForTaskToken"


@pytest.mark.parametrize(("env", "expected"), [
    ({}, "aws"),
    ({"AWS_REGION": "us-east-1"}, "aws"),
    ({"AWS_REGION": "cn-north-1"}, "aws-cn"),
    ({"AWS_DEFAULT_REGION": "us-gov-west-1"}, "aws-us-gov"),
    ({"AWS_REGION": "us-isob-east-1"}, "aws-iso-b"),
    ({"AWS_REGION": "us-iso-east-1"}, "aws-iso"),
    ({"AWS_PARTITION": "aws-cn", "AWS_REGION": "us-east-1"}, "aws-cn"),
])
def test_partition_resolution(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], expected: str) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert resources.get_aws_partition() == expected
    assert resource(LambdaStep("L")) == f"arn:{expected}:states:::lambda:invoke"
    assert resources.get_aws_partition("aws-explicit") == "aws-explicit"


@pytest.mark.parametrize(("config", "profile", "expected"), [
    ("[default]\nregion = cn-north-1\n", None, "aws-cn"),
    ("[default]\nregion = us-east-1\n[profile gov]\nregion = us-gov-west-1\n", "gov", "aws-us-gov"),
    ("[default]\noutput = json\n", None, "aws"),
])
def test_partition_from_the_profile_in_the_config_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                        config: str, profile: str | None, expected: str) -> None:
    """A region set only in ~/.aws/config (as `aws configure` writes it) picks the partition, as botocore does."""
    config_file = tmp_path / "config"
    config_file.write_text(config)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config_file))
    if profile:
        monkeypatch.setenv("AWS_PROFILE", profile)
    assert resource(LambdaStep("L")) == f"arn:{expected}:states:::lambda:invoke"
    assert resource(StepFunctionsStartExecutionStep("S")) == f"arn:{expected}:states:::states:startExecution.sync:2"


def test_no_region_warns_once(caplog: pytest.LogCaptureFixture) -> None:
    resources._warn_no_region.cache_clear()
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            LambdaStep("L")
    assert caplog.text.count("No region detected for the boto3 session. Using default partition: aws") == 1


@pytest.mark.parametrize("step_class", [StepFunctionsStartExecutionStep, EksCreateClusterStep, EksCallStep,
                                        GlueDataBrewStartJobRunStep])
@pytest.mark.parametrize("pattern", [None, "", 0, "WaitForCompletion"])
def test_an_explicit_invalid_integration_pattern_is_a_type_error(step_class: type, pattern: object) -> None:
    """As in the original: only leaving the argument out gives the default; ``None`` is not a pattern."""
    with pytest.raises(TypeError, match=exact("Integration pattern must be of type <enum 'IntegrationPattern'>")):
        step_class("S", integration_pattern=pattern)


def test_integration_pattern_errors() -> None:
    with pytest.raises(TypeError, match=exact("Integration pattern must be of type <enum 'IntegrationPattern'>")):
        EksCreateClusterStep("E", integration_pattern="sync")  # type: ignore[arg-type]
    with pytest.raises(ValueError) as info:
        EksCallStep("E", integration_pattern=IntegrationPattern.WaitForCompletion)
    assert str(info.value) == ("Integration Pattern (WaitForCompletion) is not supported for this step - "
                               "Please use one of the following: ['CallAndContinue']")
    with pytest.raises(ValueError, match=r"Please use one of the following: \['WaitForCompletion', 'CallAndContinue'\]"):
        GlueDataBrewStartJobRunStep("D", integration_pattern=IntegrationPattern.WaitForTaskToken)


def test_resource_injected_after_caller_kwargs_and_in_place() -> None:
    step = SnsPublishStep("S", comment="c", parameters={"Message": ContextObject("Task.Token")}, wait_for_callback=True)
    assert list(step.to_dict()) == ["Comment", "Parameters", "Resource", "Type", "End"]
    assert step.to_dict()["Parameters"] == {"Message.$": "$$.Task.Token"}
    overridden = LambdaStep("L", resource="mine", comment="c")
    assert list(overridden.to_dict()) == ["Resource", "Comment", "Type", "End"]
    assert resource(overridden) == "arn:aws:states:::lambda:invoke"


def test_nested_step_functions_patterns() -> None:
    assert resource(StepFunctionsStartExecutionStep("S")) == "arn:aws:states:::states:startExecution.sync:2"
    assert resource(StepFunctionsStartExecutionStep("S", integration_pattern=IntegrationPattern.WaitForTaskToken)) == \
        "arn:aws:states:::states:startExecution.waitForTaskToken"
    assert resource(StepfunctionsStartExecutionStep("S")) == "arn:aws:states:::states:startExecution.sync:2"
    assert resource(StepfunctionsStartExecutionStep("S", wait_for_completion=False)) == \
        "arn:aws:states:::states:startExecution"
    assert resource(StepfunctionsStartExecutionStep("S", wait_for_completion=False, wait_for_callback=True)) == \
        "arn:aws:states:::states:startExecution.waitForTaskToken"
    with pytest.raises(ValueError, match=exact("Both `wait_for_completion` and `wait_for_callback` are set to `True`")):
        StepfunctionsStartExecutionStep("S", wait_for_callback=True)


@pytest.mark.parametrize(("cls", "api", "flag"), [
    (AthenaStartQueryExecutionStep, "athena:startQueryExecution", "wait_for_completion"),
    (AthenaStopQueryExecutionStep, "athena:stopQueryExecution", None),
    (AthenaGetQueryExecutionStep, "athena:getQueryExecution", None),
    (AthenaGetQueryResultsStep, "athena:getQueryResults", None),
    (CodeBuildStartBuildStep, "codebuild:startBuild", "wait_for_completion"),
    (CodeBuildStopBuildStep, "codebuild:stopBuild", None),
    (CodeBuildBatchDeleteBuildsStep, "codebuild:batchDeleteBuilds", None),
    (CodeBuildBatchGetReportsStep, "codebuild:batchGetReports", None),
    (ApiGatewayStep, "apigateway:invoke", "wait_for_callback"),
    (EmrOnEksCreateVirtualClusterStep, "emr-containers:createVirtualCluster", None),
    (EmrOnEksDeleteVirtualClusterStep, "emr-containers:deleteVirtualCluster", "wait_for_completion"),
    (EmrOnEksStartJobRunStep, "emr-containers:startJobRun", "wait_for_completion"),
    (DataBrewStartJobRunStep, "databrew:startJobRun", "wait_for_completion"),
])
def test_r_port_extra_steps(cls: type, api: str, flag: str | None) -> None:
    execution_input = ExecutionInput()
    step = cls("X", parameters={"Name": execution_input["name"]})
    base = f"arn:aws:states:::{api}"
    assert step.to_dict() == {
        "Parameters": {"Name.$": "$$.Execution.Input['name']"},
        "Resource": base + (".sync" if flag == "wait_for_completion" else ""),
        "Type": "Task",
        "End": True,
    }
    if flag == "wait_for_completion":
        assert resource(cls("X", wait_for_completion=False)) == base
    elif flag == "wait_for_callback":
        assert resource(cls("X", wait_for_callback=True)) == base + ".waitForTaskToken"
    else:
        with pytest.raises(TypeError, match="is not supported"):
            cls("X", wait_for_completion=True)


def test_tags_and_merge_dicts() -> None:
    assert tags_dict_to_kv_list({"a": "1", "b": "2"}) == [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}]
    target = {"A": 1, "B": {"C": 1, "D": 2}, "E": [1]}
    merge_dicts(target, {"B": {"D": 3, "F": 4}, "A": 1, "E": [2], "G": 5})
    assert target == {"A": 1, "B": {"C": 1, "D": 3, "F": 4}, "E": [2], "G": 5}
    assert list(target) == ["A", "B", "E", "G"] and list(target["B"]) == ["C", "D", "F"]


def test_three_hundred_steps_build_without_per_step_io(monkeypatch: pytest.MonkeyPatch) -> None:
    """The original spent ~13 s here creating a boto3 Session per step; resolution is now cached and pure."""
    import boto3.session

    def no_session(*args: object, **kwargs: object) -> None:
        raise AssertionError("building steps created a boto3 session")

    monkeypatch.setattr(boto3.session.Session, "__init__", no_session)
    steps = [LambdaStep(f"S{index}", parameters={"FunctionName": "f"}) for index in range(300)]
    from stepfn.steps import Chain, Graph

    definition = Graph(Chain(steps)).to_json()
    assert definition.count('"Resource": "arn:aws:states:::lambda:invoke"') == 300
